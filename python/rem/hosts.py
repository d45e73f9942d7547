"""Which ``Host`` a local server answers: the one rule of ``rem serve`` and ``rem mcp --http``.

A page on the web can point its own name at 127.0.0.1 (DNS rebinding) and
then read a loopback server as if it were its own. The browser still sends
the page's name in ``Host``, so a server on loopback answers only the names
of loopback (``127.0.0.1``, ``localhost``, ``[::1]``), the address it is
bound to, and the names the user allows (``--allowed-host``). A server bound
to every address (``--host 0.0.0.0``, which needs a token) answers any name,
unless names are given. Anything else gets ``421 Misdirected Request``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_WILDCARD = ("0.0.0.0", "::", "")


def _bracket(name: str) -> str:
    return f"[{name}]" if ":" in name and not name.startswith("[") else name


def allowed_hosts(bind: str, extra: Sequence[str] = ()) -> list[str] | None:
    """The host names a server bound to ``bind`` answers (no port), or None for any."""
    names = [_bracket(h.strip().lower()) for h in extra if h.strip()]
    if bind in _WILDCARD and not names:
        return None
    out = ["127.0.0.1", "localhost", "[::1]", *names]
    if bind not in _WILDCARD and bind not in LOOPBACK:
        out.append(_bracket(bind.lower()))
    return list(dict.fromkeys(out))


def host_name(header: str) -> str:
    """``Host`` without its port, lower case (``[::1]:8080`` → ``[::1]``)."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[: h.find("]") + 1] if "]" in h else h
    return h.rsplit(":", 1)[0] if h.count(":") == 1 else h


def host_ok(header: str | None, allowed: list[str] | None) -> bool:
    """May a request with this ``Host`` be answered?"""
    if allowed is None:
        return True
    return bool(header) and host_name(header or "") in allowed


def mcp_security(bind: str, extra: Sequence[str] = ()) -> Any:
    """The MCP SDK's transport security for the same rule (its DNS-rebinding protection, Host and Origin)."""
    from mcp.server.transport_security import TransportSecuritySettings

    allowed = allowed_hosts(bind, extra)
    if allowed is None:
        return TransportSecuritySettings(enable_dns_rebinding_protection=False)
    return TransportSecuritySettings(enable_dns_rebinding_protection=True,
                                     allowed_hosts=[*allowed, *(f"{h}:*" for h in allowed)],
                                     allowed_origins=[f"{s}://{h}{p}" for h in allowed for s in ("http", "https")
                                                      for p in ("", ":*")])
