"""Ingestion sources. Each is idempotent (stable ids from the source's
identity) and transactional per input (a malformed input writes nothing and
the error names the file, line or record, and field)."""

from pathlib import Path

from ..store import Store
from .chat import ingest_chat
from .chatgpt import ingest_chatgpt
from .common import Batch, IngestReport, write
from .git import ingest_git
from .jsonl import ingest_jsonl
from .notes import ingest_notes
from .slack import ingest_slack

__all__ = ["Batch", "IngestReport", "write", "ingest_jsonl", "ingest_notes", "ingest_git",
           "ingest_chatgpt", "ingest_chat", "ingest_slack", "ingest_demo"]


def ingest_demo(store: Store, folder: Path) -> list[str]:
    """Ingest every source of a folder written by :func:`rem.demo.generate`;
    one summary line per source."""
    folder = Path(folder)
    return [
        "notes:     " + ingest_notes(store, folder / "notes").line(),
        "git:       " + ingest_git(store, folder / "repo").line(),
        "chat:      " + ingest_chat(store, folder / "chat.jsonl").line(),
        "chatgpt:   " + ingest_chatgpt(store, folder / "chatgpt" / "conversations.json").line(),
        "documents: " + ingest_jsonl(store, folder / "documents.jsonl", "resources").line(),
    ]
