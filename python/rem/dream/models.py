"""The moment generator's output schema as pydantic models.

Lenient on purpose: small models answer with extra fields, a string where a
list was asked, upper-case tags or overlong names. What can be coerced is;
anything outside the schema is ignored, never written. Refs are checked
later against the packed ref table (unknown ones are dropped and counted).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

EDGE_TYPES = ("related_to", "derived_from", "follows", "similar_to")


def _as_list(v: Any) -> list[Any]:
    if v is None:
        return []
    if isinstance(v, str):
        return [p for p in re.split(r"[,;]\s*|\s+and\s+", v) if p.strip()]
    if isinstance(v, list | tuple):
        return list(v)
    return [v]


def _clip(s: Any, n: int) -> str:
    s = " ".join(str(s or "").split())
    return s if len(s) <= n else s[: n - 1] + "…"


class MomentDraft(BaseModel):
    """One moment as the model proposes it."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(description="Short, specific title of the episode.")
    summary: str = Field(default="", description="1–3 sentences: what happened.")
    moment_type: str = Field(default="work_session", description="work_session, deep_work, learning, meeting, conversation, support, debugging, writing, planning, review, communication, research, break or other.")
    tags: list[str] = Field(default_factory=list, description="3–10 topic tags, lower case.")
    emotion_tags: list[str] = Field(default_factory=list, description="Emotions/tone, lower case.")
    people: list[str] = Field(default_factory=list, description="People involved, as written in the activity.")
    outcome: str = Field(default="", description="What was accomplished.")
    place: str = Field(default="", description="Where it happened, if the activity names a place; else empty.")
    refs: list[str] = Field(default_factory=list, description="Segment refs (G1) and/or item refs (R1, S1, M1) this moment covers.")

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, v: Any) -> str:
        return _clip(v, 160) or "Untitled moment"

    @field_validator("summary", "outcome", "place", mode="before")
    @classmethod
    def _text(cls, v: Any) -> str:
        return _clip(v, 1200)

    @field_validator("moment_type", mode="before")
    @classmethod
    def _type(cls, v: Any) -> str:
        t = re.sub(r"[^a-z_]+", "_", str(v or "").strip().lower()).strip("_")
        return t[:40] or "work_session"

    @field_validator("tags", "emotion_tags", mode="before")
    @classmethod
    def _tags(cls, v: Any) -> list[str]:
        out: list[str] = []
        for t in _as_list(v):
            t = _clip(t, 60).lower().strip(" #")
            if t and t not in out:
                out.append(t)
        return out[:10]

    @field_validator("people", mode="before")
    @classmethod
    def _people(cls, v: Any) -> list[str]:
        out: list[str] = []
        for p in _as_list(v):
            p = _clip(p, 80).strip(" @")
            if p and p not in out:
                out.append(p)
        return out[:20]

    @field_validator("refs", mode="before")
    @classmethod
    def _refs(cls, v: Any) -> list[str]:
        out: list[str] = []
        for r in _as_list(v):
            r = str(r).strip().strip("[]()<>.,").upper()
            if r and r not in out:
                out.append(r[:16])
        return out[:2000]


class EdgeDraft(BaseModel):
    """An extra graph edge between two item refs."""

    model_config = ConfigDict(extra="ignore")
    source: str = Field(description="Item ref, e.g. R3.")
    target: str = Field(description="Item ref, e.g. M12.")
    edge_type: Literal["related_to", "derived_from", "follows", "similar_to"] = "related_to"
    reason: str = Field(default="", description="Why, in a few words.")

    @field_validator("source", "target", mode="before")
    @classmethod
    def _ref(cls, v: Any) -> str:
        return str(v or "").strip().strip("[]()<>.,").upper()[:16]

    @field_validator("edge_type", mode="before")
    @classmethod
    def _etype(cls, v: Any) -> str:
        t = re.sub(r"[^a-z_]+", "_", str(v or "").strip().lower()).strip("_")
        return t if t in EDGE_TYPES else "related_to"

    @field_validator("reason", mode="before")
    @classmethod
    def _reason(cls, v: Any) -> str:
        return _clip(v, 300)


class ChunkAnswer(BaseModel):
    """What the moment generator returns for one chunk of activity."""

    model_config = ConfigDict(extra="ignore")
    moments: list[MomentDraft] = Field(default_factory=list, description="The moments of this activity.")
    edges: list[EdgeDraft] = Field(default_factory=list, description="Extra edges between related items.")
    summary: str = Field(default="", description="2–5 sentences summarizing the whole period.")

    @field_validator("moments", "edges", mode="before")
    @classmethod
    def _lists(cls, v: Any) -> list[Any]:
        return _as_list(v)[:200]

    @field_validator("summary", mode="before")
    @classmethod
    def _summary(cls, v: Any) -> str:
        return _clip(v, 4000)


class PeriodSummary(BaseModel):
    """The reduce step: one summary of the whole period."""

    model_config = ConfigDict(extra="ignore")
    summary: str = Field(description="2–5 sentences summarizing the period.")

    @field_validator("summary", mode="before")
    @classmethod
    def _summary(cls, v: Any) -> str:
        return _clip(v, 4000)


class SegmentNote(BaseModel):
    """The moment-namer's answer for one segment (a small model's small
    question): a name and a summary. The type is not asked: measured on the
    quality harness, small models chose it worse than the extraction."""

    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=8, max_length=90, description="3 to 8 words: what was done, on what.")
    summary: str = Field(min_length=20, max_length=300, description="One sentence, past tense.")

    @field_validator("name", mode="before")
    @classmethod
    def _name(cls, v: Any) -> str:
        return _clip(v, 90)

    @field_validator("summary", mode="before")
    @classmethod
    def _summary(cls, v: Any) -> str:
        return _clip(v, 300)
