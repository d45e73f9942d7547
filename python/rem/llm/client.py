"""One code path to every provider: the ``openai`` client wrapped by
``instructor``, against any OpenAI-compatible endpoint.

Transport retries (429, 5xx, timeouts, dropped connections) are the openai
client's, with exponential backoff; validation retries (an answer that does
not fit the schema is sent back with the error) are instructor's. The
instructor mode is a provider setting: ``tools`` (default; works with the
llama.cpp server, Ollama, vLLM), ``json_schema`` (OpenAI strict structured
output) or ``json``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from pydantic import BaseModel

from ..config import LLMSettings
from ..exceptions import LLMError
from ..redact import scrub
from .spool import AnswerSpool

log = logging.getLogger("rem.llm")
T = TypeVar("T", bound=BaseModel)

@cache
def _prepared(model: type[T]) -> type[T]:
    """The response model as instructor wraps it for a request, wrapped once. Instructor (1.16–1.17) builds a new
    Pydantic class for every request it is given a plain model for — ~2 ms and ~20 KiB that are never freed, per
    request (567-labs/instructor#2603: on a day of 4,633 chunks, ~90 MB and ~10 s); a model that is already
    wrapped is used as it is, and its JSON schema comes from instructor's own cache. Older instructors that do
    not wrap get the model itself."""
    try:
        from instructor.v2.core.function_calls import ResponseSchema, response_schema
    except ImportError:
        return model
    return model if issubclass(model, ResponseSchema) else response_schema(model)


def _find_openai_error(e: BaseException) -> BaseException | None:
    """The openai transport error behind an instructor exception, if any."""
    import openai

    seen: set[int] = set()
    stack: list[BaseException | None] = [e]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, openai.APITimeoutError | openai.APIStatusError | openai.APIConnectionError):
            return x
        stack += [x.__cause__, x.__context__, getattr(x, "last_exception", None)]
        for att in getattr(x, "failed_attempts", None) or []:
            stack.append(getattr(att, "exception", None))
    return None


def _is_incomplete(e: BaseException) -> bool:
    """instructor's IncompleteOutputException (finish_reason=length), however wrapped."""
    seen: set[int] = set()
    x: BaseException | None = e
    stack = [x]
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if type(x).__name__ == "IncompleteOutputException":
            return True
        stack += [x.__cause__, x.__context__, getattr(x, "last_exception", None)]
    return False


@dataclass
class Usage:
    tokens_in: int = 0
    tokens_out: int = 0

    def add(self, other: Usage) -> None:
        self.tokens_in += other.tokens_in
        self.tokens_out += other.tokens_out


@dataclass
class Reply:
    value: Any
    usage: Usage
    raw: str


class LLM:
    """An instructor-wrapped OpenAI client for one endpoint."""

    def __init__(self, settings: LLMSettings, base_url: str, model: str, *, timeout_s: float = 120.0,
                 transport_retries: int = 3, validation_retries: int = 2, spool: AnswerSpool | None = None) -> None:
        import instructor
        import openai

        self.spool = spool  # answers kept until the dream persists (see rem.llm.spool)
        self.settings = settings
        self.model = model
        self.base_url = base_url
        self.validation_retries = validation_retries
        from .gate import http_client

        paced = http_client()  # the shared rate limit of `rem fleet`, when one is installed
        self._openai = openai.OpenAI(base_url=base_url, api_key=settings.api_key or "not-needed",
                                     timeout=timeout_s, max_retries=transport_retries,
                                     **({"http_client": paced} if paced is not None else {}))
        mode = {"tools": instructor.Mode.TOOLS, "json_schema": instructor.Mode.JSON_SCHEMA,
                "json": instructor.Mode.JSON}[settings.mode]
        self.client = instructor.from_openai(self._openai, mode=mode)

    def _spooled(self, how: str, response_model: type[T], messages: list[dict[str, str]], temperature: float,
                 max_tokens: int) -> tuple[str | None, Reply | None]:
        """(spool key, the kept answer to this exact request if there is one)."""
        if self.spool is None:
            return None, None
        # the configured endpoint (the embedded server's port changes with every start)
        endpoint = self.settings.base_url or f"embedded:{self.settings.local_model or ''}"
        key = self.spool.key(how=how, endpoint=endpoint, model=self.model, schema=response_model.__name__,
                             messages=messages, temperature=temperature, max_tokens=max_tokens)
        kept = self.spool.get(key)
        if kept is None:
            return key, None
        try:
            value = response_model.model_validate_json(kept["answer"])
        except ValueError:
            return key, None
        log.info("reusing a kept answer (%s): asked before, not persisted then", key[:12])
        return key, Reply(value, Usage(), kept["answer"])

    def _keep(self, key: str | None, reply: Reply) -> Reply:
        if self.spool is not None and key is not None and isinstance(reply.value, BaseModel):
            self.spool.put(key, reply.value.model_dump_json(), reply.usage.tokens_in, reply.usage.tokens_out)
        return reply

    def structured(self, response_model: type[T], messages: list[dict[str, str]], *, temperature: float,
                   max_tokens: int) -> Reply:
        """One structured call. Raises :class:`LLMError` with a clear, scrubbed message."""
        key, kept = self._spooled("structured", response_model, messages, temperature, max_tokens)
        if kept is not None:
            return kept
        return self._keep(key, self._structured(response_model, messages, temperature=temperature, max_tokens=max_tokens))

    def _structured(self, response_model: type[T], messages: list[dict[str, str]], *, temperature: float,
                    max_tokens: int) -> Reply:
        import openai

        try:
            for attempt in range(self.validation_retries + 1):
                try:
                    value, completion = self.client.chat.completions.create_with_completion(
                        model=self.model, response_model=_prepared(response_model), messages=messages,  # type: ignore[arg-type]
                        temperature=temperature, max_tokens=max_tokens, max_retries=self.validation_retries,
                    )
                    break
                except Exception as e:
                    # an answer cut off at max_tokens is not retried by instructor: ask again
                    if not _is_incomplete(e) or attempt == self.validation_retries:
                        raise
                    log.warning("the model's answer was cut off at max_tokens=%d; asking again (%d/%d)",
                                max_tokens, attempt + 1, self.validation_retries)
        except Exception as e:  # openai's transport errors arrive wrapped by instructor's retry layer
            root = _find_openai_error(e)
            key = self.settings.api_key
            if isinstance(root, openai.APITimeoutError):
                raise LLMError(f"the model endpoint {self.base_url} timed out (after retries)") from None
            if isinstance(root, openai.APIStatusError):
                raise LLMError(scrub(f"the model endpoint {self.base_url} answered HTTP {root.status_code}: {root.message}", key)) from None
            if isinstance(root, openai.APIConnectionError):
                raise LLMError(scrub(f"cannot reach the model endpoint {self.base_url}: {root}", key)) from None
            msg = str(e)
            if _is_incomplete(e):
                raise LLMError(f"the model's answer was cut off at max_tokens={max_tokens} every time "
                               f"({self.validation_retries + 1} tries); raise [llm] max_output_tokens or lower "
                               "--max-input-tokens so each chunk asks for less") from None
            last = getattr(e, "last_exception", None)
            if last is not None and str(last) not in msg:
                msg += f" ({last})"
            raise LLMError(scrub(f"the model's answer was unusable after retries: {msg[:800]}", key)) from None
        usage = Usage()
        raw = ""
        try:
            if completion.usage is not None:
                usage = Usage(int(completion.usage.prompt_tokens or 0), int(completion.usage.completion_tokens or 0))
            choice = completion.choices[0].message
            if getattr(choice, "tool_calls", None):
                raw = choice.tool_calls[0].function.arguments or ""
            else:
                raw = choice.content or ""
        except (AttributeError, IndexError, TypeError) as e:
            log.debug("the completion carries no usage or raw text (%s)", e)
        if type(value) is not response_model:  # instructor's wrapper class: hand back the caller's own
            value = response_model.model_construct(_fields_set=value.model_fields_set, **dict(value))  # validated
        return Reply(value, usage, raw)

    def constrained(self, response_model: type[T], messages: list[dict[str, str]], *, temperature: float,
                    max_tokens: int) -> Reply:
        """One small JSON answer whose shape the server enforces while it
        decodes (llama.cpp turns the JSON Schema into a grammar), so a small
        model cannot ramble past the object nor break its syntax; validated
        with pydantic. Endpoints without that feature go through :meth:`structured`."""
        if not self.settings.embedded:
            return self.structured(response_model, messages, temperature=temperature, max_tokens=max_tokens)
        key, kept = self._spooled("constrained", response_model, messages, temperature, max_tokens)
        if kept is not None:
            return kept
        return self._keep(key, self._constrained(response_model, messages, temperature=temperature, max_tokens=max_tokens))

    def _constrained(self, response_model: type[T], messages: list[dict[str, str]], *, temperature: float,
                     max_tokens: int) -> Reply:
        import openai
        from pydantic import ValidationError

        schema = response_model.model_json_schema()
        try:
            # llama.cpp's schema-constrained JSON (not the OpenAI json_schema shape): sent as is
            completion = self._openai.chat.completions.create(
                model=self.model, messages=messages, temperature=temperature, max_tokens=max_tokens,  # type: ignore[arg-type]
                extra_body={"response_format": {"type": "json_object", "schema": schema}})
        except openai.APITimeoutError:
            raise LLMError(f"the model endpoint {self.base_url} timed out (after retries)") from None
        except openai.OpenAIError as e:
            raise LLMError(scrub(f"the model endpoint {self.base_url} failed: {e}", self.settings.api_key)) from None
        raw = (completion.choices[0].message.content or "") if completion.choices else ""
        usage = Usage(int(completion.usage.prompt_tokens or 0), int(completion.usage.completion_tokens or 0)) if completion.usage else Usage()
        try:
            # a small model writes raw line breaks inside strings (the grammar allows them): JSON
            # forbids them, so parse leniently and fold the whitespace
            data = json.loads(raw, strict=False)
            if isinstance(data, dict):
                data = {k: " ".join(v.split()) if isinstance(v, str) else v for k, v in data.items()}
            value = response_model.model_validate(data)
        except (ValueError, ValidationError) as e:
            raise LLMError(f"the model's answer does not fit {response_model.__name__}: {str(e)[:300]}") from None
        return Reply(value, usage, raw)

    def check(self) -> list[str]:
        """The endpoint's model ids (raises LLMError when unreachable)."""
        import openai

        try:
            return [m.id for m in self._openai.models.list().data]
        except openai.OpenAIError as e:
            raise LLMError(scrub(f"cannot reach the model endpoint {self.base_url}: {e}", self.settings.api_key)) from None
