//! The one error a request body can fail with; every decode failure is the caller's 400.

use blazar_model::ErrorKind;

/// Why a request body could not be decoded; shown as `"FIELD: what was wrong"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct DecodeError {
    field: String,
    reason: String,
}

impl DecodeError {
    /// Builds an error about `field` (a path such as `resourceSpans[0].scopeSpans`).
    pub(crate) fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// Returns the error with `parent` prepended to its field path; `[i]` segments attach
    /// without a dot, so callers build paths bottom-up only when something failed.
    pub(crate) fn under(mut self, parent: &str) -> Self {
        if self.field.is_empty() {
            self.field = parent.to_string();
        } else if self.field.starts_with('[') {
            self.field = format!("{parent}{}", self.field);
        } else {
            self.field = format!("{parent}.{}", self.field);
        }
        self
    }

    /// Returns the path of the offending field (`body` for the body as a whole).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Returns what was wrong with it.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// Returns the error category: always invalid input (HTTP 400, gRPC `INVALID_ARGUMENT`).
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}
