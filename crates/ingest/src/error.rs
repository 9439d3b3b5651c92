//! Input errors: always name the field (`metrics[2].value`) and what was expected.

use blazar_model::ErrorKind;

/// A rejected input; `field` is a JSON path or a protocol field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InputError {
    pub field: String,
    pub message: String,
}

impl InputError {
    /// Builds an error for `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Returns the same error with `prefix` put before its field (`metrics[3]` + `.value`).
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_string()
        } else if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }

    /// Input errors are always the caller's fault.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}
