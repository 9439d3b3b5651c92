//! The categories every error maps to; HTTP status and retryability are decided from these once.

/// What kind of failure an error is, independent of the transport that reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The caller sent something wrong; retrying the same request cannot help.
    InvalidInput,
    /// The thing named does not exist.
    NotFound,
    /// The request conflicts with current state (e.g. a span finished twice).
    Conflict,
    /// A budget or queue is full; retry later.
    Overloaded,
    /// A component is down or shutting down; retry later.
    Unavailable,
    /// A bug or an I/O failure on our side.
    Internal,
}

impl ErrorKind {
    /// Returns the stable code used in `{"error":{"code":..}}`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "invalid_input",
            Self::NotFound => "not_found",
            Self::Conflict => "conflict",
            Self::Overloaded => "overloaded",
            Self::Unavailable => "unavailable",
            Self::Internal => "internal",
        }
    }

    /// Returns whether a client should retry the same request later.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Overloaded | Self::Unavailable)
    }
}
