"""Stubs of REM's native module (Rust, via pyo3). Checked by mypy.stubtest."""

import pyarrow as pa

__all__ = ["pack_activity", "estimate_tokens", "__version__"]

__version__: str

def pack_activity(
    resources: pa.RecordBatch,
    sessions: pa.RecordBatch,
    messages: pa.RecordBatch,
    *,
    gap_minutes: float = 30.0,
    max_input_tokens: int = 6000,
    max_item_chars: int = 1200,
    tool_max_chars: int = 60,
) -> tuple[pa.RecordBatch, pa.RecordBatch, pa.RecordBatch]: ...
def estimate_tokens(text: str) -> int: ...
