"""LLM access: one OpenAI-compatible code path (openai + instructor), and the
embedded llama.cpp server REM starts for the default model."""
