use thiserror::Error;

/// The one error type of the core crate. The binding crate maps it to
/// `rem.exceptions` classes with a single `From<CoreError> for PyErr`.
#[derive(Debug, Error)]
pub enum CoreError {
    /// A required column is absent from an input batch.
    #[error("input '{table}' has no column '{column}'")]
    MissingColumn { table: String, column: String },
    /// A column exists but has a type the kernel cannot read.
    #[error("input '{table}' column '{column}' has type {found}, expected {expected}")]
    ColumnType {
        table: String,
        column: String,
        found: String,
        expected: String,
    },
    /// A value is null where the kernel needs one.
    #[error("input '{table}' column '{column}' is null at row {row}")]
    NullValue {
        table: String,
        column: String,
        row: usize,
    },
    /// Options that cannot work (e.g. a token budget too small for one line).
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// An error raised by arrow-rs while building output.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

pub type Result<T> = std::result::Result<T, CoreError>;
