"""Load the moment-generator agentlet shipped in ``rem/agentlets``."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml


@cache
def load(name: str = "moment-generator") -> dict[str, Any]:
    text = resources.files("rem").joinpath("agentlets").joinpath(f"{name}.yaml").read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict) or "system_prompt" not in doc:
        raise ValueError(f"agentlet {name} is malformed: no system_prompt")
    return doc
