//! Config errors: each names the key path (and the line, when it came from a file).

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading the file failed.
    #[error("reading config file {path}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The YAML did not parse or did not fit the schema (unknown key, wrong type); the message
    /// from the parser carries the line and column.
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    /// A value parsed but is not allowed.
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
    /// A value in a file that is not allowed, with where it is.
    #[error("{origin}: line {line}: {key}: {message}")]
    InvalidAt {
        origin: String,
        line: usize,
        key: String,
        message: String,
    },
    /// An environment override names no known key or has a bad value.
    #[error("environment variable {var}: {message}")]
    Env { var: String, message: String },
}

impl ConfigError {
    pub(crate) fn invalid(key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.to_string(),
            message: message.into(),
        }
    }
}
