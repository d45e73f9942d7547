"""Redaction of activity text before it is sent to a model that is not local.

On by default for remote endpoints (any host other than loopback), off for
the embedded model and servers on 127.0.0.1/localhost; configurable::

    [privacy]
    redact = "remote"        # "remote" (default) | "always" | "never"
    extra_patterns = ['ACME-\\d{6}']   # more regular expressions to mask

What is masked (each match becomes ``[redacted:<kind>]``):

* ``email``: e-mail addresses;
* ``key``: API-key-like strings — OpenAI/Anthropic ``sk-…``, GitHub
  ``ghp_``/``gho_``/``ghs_``/``github_pat_…``, Slack ``xox?-…``, AWS access
  key ids ``AKIA…``, Google ``AIza…``, ``Bearer …`` tokens, JWTs;
* ``secret``: ``password=…``, ``token: …``, ``secret=…``, ``api_key=…``
  assignments (the value is masked, the name kept);
* ``url-credentials``: ``user:password@`` in URLs;
* ``private-key``: PEM private key blocks;
* ``card``: 13–19 digit card-like numbers;
* the configured API key and any environment value whose name ends in
  ``_KEY``, ``_TOKEN``, ``_SECRET`` or ``_PASSWORD`` — always, even locally.

Refs (``R4``, ``M17``…) and times are never touched, so answers still resolve.
"""

from __future__ import annotations

import ipaddress
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from .exceptions import ConfigError

PATTERNS: list[tuple[str, str]] = [
    ("private-key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)"),
    ("url-credentials", r"(?<=://)[^\s/:@]+:[^\s/@]+(?=@)"),
    ("email", r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"),
    ("key", r"\b(?:sk|rk|pk)-(?:[A-Za-z0-9]+-)*[A-Za-z0-9_\-]{16,}"),
    ("key", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}"),
    ("key", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"),
    ("key", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    ("key", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
    ("key", r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}"),
    ("key", r"(?i)(?<=bearer )[A-Za-z0-9._\-+/=]{12,}"),
    ("secret", r"(?i)(?<![A-Za-z0-9])(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|client[_-]?secret)"
               r"[\"']?\s*[:=]\s*[\"']?\K[^\s\"',;]{4,}"),
    ("card", r"\b(?:\d[ -]?){12,18}\d\b"),
]

_SECRET_ENV = re.compile(r".*(_KEY|_TOKEN|_SECRET|_PASSWORD)$")
_KEYLIKE = re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}|(?i:bearer)\s+[A-Za-z0-9._\-]{8,}")
SECRET_TOKEN = "[redacted:secret]"
KEY_TOKEN = "[redacted:key]"


def mask_literals(text: str, secrets: Iterable[str | None], min_len: int = 4) -> tuple[str, int]:
    """Replace every occurrence of each secret (longest first) by
    :data:`SECRET_TOKEN`; returns the text and how many were masked."""
    n = 0
    for s in sorted({s for s in secrets if s and len(s) >= min_len}, key=len, reverse=True):
        if s in text:
            n += text.count(s)
            text = text.replace(s, SECRET_TOKEN)
    return text, n


def scrub(text: str, *secrets: str | None) -> str:
    """The one masker for text meant for a log line, an error message or the
    terminal: the given secrets, the configured ones (:func:`secret_values`)
    and anything key-like (``sk-…``, ``Bearer …``) are masked."""
    text, _ = mask_literals(text, [*secrets, *secret_values()])
    return _KEYLIKE.sub(KEY_TOKEN, text)


def secret_values(env: dict[str, str] | None = None) -> list[str]:
    """Values of environment variables that hold secrets (``*_KEY``,
    ``*_TOKEN``, ``*_SECRET``, ``*_PASSWORD``) and the configured API key."""
    env = dict(os.environ) if env is None else env
    vals = [v for k, v in env.items() if _SECRET_ENV.match(k.upper()) and len(v) >= 8]
    return vals + sorted(_CONFIGURED)


_CONFIGURED: set[str] = set()  # secrets of the settings this process loaded (rem.config.Settings.load)


def remember_secret(value: Any) -> None:
    """A secret from the settings (the configured API key): masked everywhere from now on."""
    if isinstance(value, str) and len(value) >= 8:
        _CONFIGURED.add(value)


def is_local(base_url: str | None) -> bool:
    """The embedded server, loopback addresses and ``localhost`` are local."""
    if base_url is None:
        return True
    host = (urlparse(base_url).hostname or "").lower()
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _compile(kind: str, pattern: str) -> tuple[str, re.Pattern[str], bool]:
    # `\K` (keep the prefix) is emulated: the part before it becomes a group kept as is
    flags = 0
    if pattern.startswith("(?i)"):
        pattern, flags = pattern[4:], re.IGNORECASE
    if "\\K" in pattern:
        before, after = pattern.split("\\K", 1)
        return kind, re.compile(f"({before})({after})", flags), True
    return kind, re.compile(pattern, flags), False


@dataclass
class Redactor:
    enabled: bool
    literals: list[str] = field(default_factory=list)  # exact secrets, masked always
    extra: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rules = [_compile(k, p) for k, p in PATTERNS]
        for p in self.extra:
            try:
                self._rules.append(_compile("custom", p))
            except re.error as e:
                raise ConfigError(f"[privacy] extra_patterns: {p!r} is not a valid regular expression: {e}") from e
        self.literals = sorted({s for s in self.literals if s and len(s) >= 6}, key=len, reverse=True)

    @classmethod
    def for_endpoint(cls, base_url: str | None, cfg: dict[str, Any], secrets: Iterable[str | None] = (),
                     env: dict[str, str] | None = None) -> Redactor:
        pc = cfg.get("privacy", {}) if isinstance(cfg.get("privacy", {}), dict) else {}
        mode = str(pc.get("redact", "remote")).lower()
        if mode not in ("remote", "always", "never"):
            raise ConfigError(f"[privacy] redact = {mode!r}: use \"remote\", \"always\" or \"never\"")
        enabled = mode == "always" or (mode == "remote" and not is_local(base_url))
        lits = [s for s in secrets if s] + secret_values(env)
        return cls(enabled, lits, [str(p) for p in pc.get("extra_patterns", [])])

    def __call__(self, text: str) -> str:
        text, n = mask_literals(text, self.literals, min_len=6)
        if n:
            with self._lock:
                self.counts["configured-secret"] = self.counts.get("configured-secret", 0) + n
        if not self.enabled:
            return text
        for kind, rx, keep in self._rules:
            def sub(m: re.Match[str], kind: str = kind, keep: bool = keep) -> str:
                if kind == "card" and not _luhn(m.group(0)):
                    return m.group(0)
                with self._lock:
                    self.counts[kind] = self.counts.get(kind, 0) + 1
                return (m.group(1) if keep else "") + f"[redacted:{kind}]"

            text = rx.sub(sub, text)
        return text


def _luhn(text: str) -> bool:
    digits = [int(c) for c in text if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
