"""Stable ids and name normalization."""

from __future__ import annotations

import re
import unicodedata
import uuid

NAMESPACE = uuid.UUID("5f0b8f2e-6a8e-4d0c-9d0e-7265d0000001")  # REM's uuid5 namespace


def stable_id(kind: str, *parts: object) -> str:
    """A deterministic UUID (v5) from a kind and the source's identity."""
    text = "\x1f".join([kind, *(str(p) for p in parts)])
    return str(uuid.uuid5(NAMESPACE, text))


_SYMBOLS = {"+": " plus ", "#": " sharp ", "&": " and ", "@": " at "}
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def normalize_key(name: str) -> str:
    """One key per real-world name: accents folded, case folded, separators
    removed. ``"DiskANN"``, ``"diskann"`` and ``" disk-ann "`` give ``"diskann"``;
    ``"C++"`` and ``"C#"`` stay distinct (``"cplusplus"``, ``"csharp"``).
    Names made only of other scripts keep their letters (NFKC, casefolded)."""
    folded = unicodedata.normalize("NFKD", name)
    folded = "".join(ch for ch in folded if not unicodedata.combining(ch)).casefold()
    for sym, word in _SYMBOLS.items():
        folded = folded.replace(sym, word)
    key = _NON_ALNUM.sub("", folded)
    if key:
        return key
    # non-Latin names: keep word characters of any script
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", name).casefold())
