//! Errors and input: a core error raised as the `rem.exceptions` class of its kind, and a pyarrow
//! RecordBatch imported zero-copy, validated by the core once the GIL is released.

use arrow::pyarrow::{FromPyArrowUnchecked, PyArrowType};
use arrow::record_batch::RecordBatch;
use pyo3::prelude::*;

use rem_core::{CoreError, ErrorKind};

pyo3::import_exception!(rem.exceptions, NativeOptionError);
pyo3::import_exception!(rem.exceptions, NativeValueError);
pyo3::import_exception!(rem.exceptions, NativeDataError);
pyo3::import_exception!(rem.exceptions, NativeInternalError);

/// The binding crate's one error type: a core error, raised as the
/// `rem.exceptions` class of its kind (all subclasses of `NativeError`).
#[derive(Debug)]
pub(crate) struct BindError(pub(crate) CoreError);

impl From<CoreError> for BindError {
    fn from(e: CoreError) -> Self {
        BindError(e)
    }
}

impl From<BindError> for PyErr {
    fn from(e: BindError) -> PyErr {
        let msg = e.0.to_string();
        match e.0.kind() {
            ErrorKind::Option => NativeOptionError::new_err(msg),
            ErrorKind::Value => NativeValueError::new_err(msg),
            ErrorKind::Data => NativeDataError::new_err(msg),
            ErrorKind::Internal => NativeInternalError::new_err(msg),
        }
    }
}

pub(crate) type Batch = PyArrowType<RecordBatch>;

/// A pyarrow RecordBatch imported zero-copy and not yet validated: the core's
/// fast check (structure + one UTF-8 pass per string column, instead of
/// arrow's per-value `validate_full`) runs after the GIL is released.
pub(crate) struct Unchecked(RecordBatch, &'static str);

pub(crate) fn import(value: &Bound<'_, PyAny>, table: &'static str) -> PyResult<Unchecked> {
    // SAFETY: no value is read before `Unchecked::validated` has checked the batch.
    let batch = unsafe { RecordBatch::from_pyarrow_bound_unchecked(value)? };
    Ok(Unchecked(batch, table))
}

impl Unchecked {
    pub(crate) fn validated(&self) -> Result<&RecordBatch, CoreError> {
        rem_core::columns::validate_batch(&self.0, self.1)?;
        Ok(&self.0)
    }
}

