//! What can go wrong opening, appending to or reading the audit log.

use std::path::PathBuf;

use blazar_model::ErrorKind;

/// A failed audit-log operation; each variant names the file and what was being done.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// The log's directory could not be created.
    #[error("creating audit directory {}", dir.display())]
    CreateDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A log file could not be opened.
    #[error("opening audit log {}", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A log file could not be read.
    #[error("reading audit log {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A record could not be written (the file is cut back to its last complete line).
    #[error("writing audit log {}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `fdatasync` failed.
    #[error("syncing audit log {}", path.display())]
    Sync {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Moving the full file aside to `audit.jsonl.1` failed.
    #[error("rotating audit log {}", path.display())]
    Rotate {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The last complete record does not verify, so the chain cannot be continued from it.
    #[error("audit log {} is corrupt: {reason}", path.display())]
    Corrupt { path: PathBuf, reason: String },
    /// A caller-chosen kind name is not a snake_case identifier.
    #[error("kind: expected a snake_case name of at most 64 bytes, got {kind:?}")]
    InvalidKind { kind: String },
    /// A record could not be serialized (not expected: every part is JSON already).
    #[error("encoding an audit record")]
    Encode(#[source] serde_json::Error),
}

impl AuditError {
    /// Returns the error's category (which decides the HTTP status).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::InvalidKind { .. } => ErrorKind::InvalidInput,
            Self::CreateDir { .. }
            | Self::Open { .. }
            | Self::Read { .. }
            | Self::Write { .. }
            | Self::Sync { .. }
            | Self::Rotate { .. } => ErrorKind::Unavailable,
            Self::Corrupt { .. } | Self::Encode(_) => ErrorKind::Internal,
        }
    }
}
