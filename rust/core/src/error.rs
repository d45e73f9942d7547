use thiserror::Error;

/// The one error type of the core crate. Every variant says which of the
/// caller's inputs was wrong — an option, a value, or the Arrow data — or
/// that the kernel itself failed; the binding crate maps each [`ErrorKind`]
/// to its own `rem.exceptions` class.
#[derive(Debug, Error)]
pub enum CoreError {
    /// A required column is absent from an input batch.
    #[error("input '{table}' has no column '{column}'")]
    MissingColumn { table: String, column: String },
    /// A column exists but has a type the kernel cannot read, or its buffers are invalid.
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
    /// A value the kernel cannot use (a key out of range, a negative increment, …).
    #[error("input '{table}' column '{column}' row {row}: {message}")]
    InvalidValue {
        table: String,
        column: String,
        row: usize,
        message: String,
    },
    /// Options that cannot work (a token budget too small for one line, an
    /// unknown direction, a negative gap, more rows than the kernel can index).
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// A worker thread of the kernel panicked: the result would be wrong, so there is none.
    #[error("internal error: a worker thread of {0} failed; please report this")]
    WorkerPanicked(&'static str),
    /// A model's files could not be loaded or run (embeddings).
    #[error("embedding model: {0}")]
    Model(String),
    /// An error raised by arrow-rs while building output.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// What kind of input a [`CoreError`] blames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// An option given to the kernel.
    Option,
    /// A value inside otherwise well-formed data.
    Value,
    /// The shape of the Arrow data: a missing, mistyped or null column.
    Data,
    /// The kernel itself.
    Internal,
}

impl CoreError {
    /// Which input the error blames.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CoreError::MissingColumn { .. } | CoreError::ColumnType { .. } | CoreError::NullValue { .. } => ErrorKind::Data,
            CoreError::InvalidValue { .. } | CoreError::Model(_) => ErrorKind::Value,
            CoreError::InvalidOption(_) => ErrorKind::Option,
            CoreError::WorkerPanicked(_) | CoreError::Arrow(_) => ErrorKind::Internal,
        }
    }
}

pub type Result<T> = std::result::Result<T, CoreError>;
