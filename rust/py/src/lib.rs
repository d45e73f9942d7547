//! Thin pyo3 bindings for `rem-core`.
//!
//! Each function converts its Arrow inputs (zero-copy, through the Arrow C
//! Data Interface of arrow's `pyarrow` feature), releases the GIL, calls the
//! core and converts the Arrow output back. No logic lives here.

use arrow::pyarrow::{FromPyArrowUnchecked, PyArrowType};
use arrow::record_batch::RecordBatch;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyType;

use rem_core::pack::{pack, PackOptions};
use rem_core::CoreError;

/// The binding crate's one error type, mapped to `rem.exceptions.NativeError`.
#[derive(Debug)]
struct BindError(CoreError);

impl From<CoreError> for BindError {
    fn from(e: CoreError) -> Self {
        BindError(e)
    }
}

impl From<BindError> for PyErr {
    fn from(e: BindError) -> PyErr {
        let msg = e.0.to_string();
        Python::attach(|py| {
            let cls = py
                .import("rem.exceptions")
                .and_then(|m| m.getattr("NativeError"))
                .and_then(|c| c.cast_into::<PyType>().map_err(PyErr::from));
            match cls {
                Ok(ty) => PyErr::from_type(ty, msg),
                Err(_) => PyValueError::new_err(msg),
            }
        })
    }
}

type Batch = PyArrowType<RecordBatch>;

/// Import a pyarrow RecordBatch zero-copy, then validate it with the core's
/// fast check (structure + one UTF-8 pass per string column) instead of
/// arrow's per-value `validate_full`.
fn import(value: &Bound<'_, PyAny>, table: &str) -> PyResult<RecordBatch> {
    // SAFETY: the batch is validated by `validate_batch` before any value is read.
    let batch = unsafe { RecordBatch::from_pyarrow_bound_unchecked(value)? };
    rem_core::columns::validate_batch(&batch, table).map_err(BindError::from)?;
    Ok(batch)
}

/// Segment and pack activity into chunks under a token budget.
///
/// :param resources: RecordBatch with ``id``, ``ts`` (int64 µs) and optional
///     ``name``, ``resource_type``, ``content``.
/// :param sessions: RecordBatch with ``id`` and optional ``name``.
/// :param messages: RecordBatch with ``id``, ``session_id``, ``ts`` and
///     optional ``role``, ``content``, ``tool_calls``.
/// :param gap_minutes: idle gap that ends a run or a segment.
/// :param max_input_tokens: token budget of one chunk (offline estimate).
/// :param max_item_chars: characters kept of one item's content.
/// :param tool_max_chars: characters kept of a tool output or tool-call arguments.
/// :returns: ``(chunks, items, segments)`` as pyarrow RecordBatches.
/// :raises rem.exceptions.NativeError: on a missing or mistyped column, a null
///     id or time, or a budget too small for one item.
#[pyfunction]
#[pyo3(signature = (resources, sessions, messages, *, gap_minutes=30.0, max_input_tokens=6000, max_item_chars=1200, tool_max_chars=60))]
#[allow(clippy::too_many_arguments)]
fn pack_activity(
    py: Python<'_>,
    resources: &Bound<'_, PyAny>,
    sessions: &Bound<'_, PyAny>,
    messages: &Bound<'_, PyAny>,
    gap_minutes: f64,
    max_input_tokens: usize,
    max_item_chars: usize,
    tool_max_chars: usize,
) -> PyResult<(Batch, Batch, Batch)> {
    if !gap_minutes.is_finite() || gap_minutes < 0.0 {
        return Err(PyValueError::new_err("gap_minutes must be a non-negative number"));
    }
    let opts = PackOptions {
        gap_us: (gap_minutes * 60_000_000.0) as i64,
        max_input_tokens,
        max_item_chars,
        tool_max_chars,
    };
    let (r, s, m) = (import(resources, "resources")?, import(sessions, "sessions")?, import(messages, "messages")?);
    let out = py
        .detach(|| pack(&r, &s, &m, &opts))
        .map_err(BindError::from)?;
    Ok((PyArrowType(out.chunks), PyArrowType(out.items), PyArrowType(out.segments)))
}

/// Estimated tokens of a string (see ``rem_core::tokens``: one per four ASCII
/// bytes plus one per non-ASCII character; an estimate, no vocabulary).
///
/// :param text: any string.
/// :returns: the estimate.
#[pyfunction]
fn estimate_tokens(text: &str) -> usize {
    rem_core::tokens::estimate(text)
}

#[pymodule]
fn _rem(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(pack_activity, m)?)?;
    m.add_function(wrap_pyfunction!(estimate_tokens, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
