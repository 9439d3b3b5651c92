//! Store errors, each mapped to an `ErrorKind` once.

use blazar_model::ErrorKind;

/// Why a write or query failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input is wrong; names the field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The thing named does not exist.
    #[error("{field}: {message}")]
    NotFound { field: String, message: String },
    /// The request conflicts with stored state.
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    /// A budget is full.
    #[error("{0}")]
    Overloaded(String),
    /// The WAL could not be written; nothing of the request was applied.
    #[error("writing the write-ahead log")]
    Wal(#[source] blazar_wal::WalError),
    /// Opening or replaying failed.
    #[error("opening the store at {path}")]
    Open {
        path: String,
        #[source]
        source: blazar_wal::WalError,
    },
}

impl StoreError {
    /// Returns the error's category.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Invalid { .. } => ErrorKind::InvalidInput,
            Self::NotFound { .. } => ErrorKind::NotFound,
            Self::Conflict { .. } => ErrorKind::Conflict,
            Self::Overloaded(_) => ErrorKind::Overloaded,
            Self::Wal(_) | Self::Open { .. } => ErrorKind::Unavailable,
        }
    }

    pub(crate) fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
