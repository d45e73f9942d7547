"""Ingestion sources. Each is idempotent (stable ids from the source's
identity) and transactional per input (a malformed input writes nothing and
the error names the file, line or record, and field)."""

from .chat import ingest_chat
from .chatgpt import ingest_chatgpt
from .common import Batch, IngestReport, write
from .git import ingest_git
from .jsonl import ingest_jsonl
from .notes import ingest_notes

__all__ = ["Batch", "IngestReport", "write", "ingest_jsonl", "ingest_notes", "ingest_git",
           "ingest_chatgpt", "ingest_chat"]
