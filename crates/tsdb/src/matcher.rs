//! Label matchers with Prometheus semantics: a missing label has the value `""`, and
//! regexes are fully anchored. Selection over the index lives in `head::index`.

use std::fmt;

/// Why a matcher could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatcherError {
    /// The regex does not compile.
    #[error("matcher {name}: invalid regex {pattern:?}: {reason}")]
    BadRegex {
        /// The label name.
        name: String,
        /// The pattern given.
        pattern: String,
        /// The compiler's message.
        reason: String,
    },
}

impl MatcherError {
    /// Returns the category of this error.
    pub fn kind(&self) -> blazar_model::ErrorKind {
        blazar_model::ErrorKind::InvalidInput
    }
}

/// A compiled, fully anchored regex (`^(?s:pattern)$`, as Prometheus compiles them).
#[derive(Clone)]
pub struct LabelRegex {
    pattern: String,
    re: regex::Regex,
}

impl LabelRegex {
    /// Compiles `pattern` anchored at both ends.
    ///
    /// # Errors
    /// [`MatcherError::BadRegex`] if it does not compile; `name` is for the message.
    pub fn new(name: &str, pattern: &str) -> Result<Self, MatcherError> {
        let re = regex::Regex::new(&format!("^(?s:{pattern})$")).map_err(|e| {
            MatcherError::BadRegex {
                name: name.to_string(),
                pattern: pattern.to_string(),
                reason: e.to_string(),
            }
        })?;
        Ok(Self {
            pattern: pattern.to_string(),
            re,
        })
    }

    /// Returns the pattern as given (without the anchors).
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Returns whether the whole of `value` matches.
    pub fn is_match(&self, value: &str) -> bool {
        self.re.is_match(value)
    }
}

impl fmt::Debug for LabelRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.pattern)
    }
}

impl PartialEq for LabelRegex {
    fn eq(&self, other: &Self) -> bool {
        self.pattern == other.pattern
    }
}

/// Selects series by one label; a series without the label is matched as if its value were `""`.
#[derive(Debug, Clone, PartialEq)]
pub enum Matcher {
    /// `name="value"`; `name=""` selects series without the label.
    Equal {
        /// Label name.
        name: String,
        /// Value to equal.
        value: String,
    },
    /// `name!="value"`; `name!=""` selects series that have the label.
    NotEqual {
        /// Label name.
        name: String,
        /// Value to differ from.
        value: String,
    },
    /// `name=~"regex"`, fully anchored.
    Regex {
        /// Label name.
        name: String,
        /// The compiled regex.
        regex: LabelRegex,
    },
    /// `name!~"regex"`, fully anchored.
    NotRegex {
        /// Label name.
        name: String,
        /// The compiled regex.
        regex: LabelRegex,
    },
}

impl Matcher {
    /// Returns `name="value"`.
    pub fn equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::Equal {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Returns `name!="value"`.
    pub fn not_equal(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self::NotEqual {
            name: name.into(),
            value: value.into(),
        }
    }

    /// Returns `name=~"pattern"`.
    ///
    /// # Errors
    /// [`MatcherError::BadRegex`] if the pattern does not compile.
    pub fn regex(name: impl Into<String>, pattern: &str) -> Result<Self, MatcherError> {
        let name = name.into();
        let regex = LabelRegex::new(&name, pattern)?;
        Ok(Self::Regex { name, regex })
    }

    /// Returns `name!~"pattern"`.
    ///
    /// # Errors
    /// [`MatcherError::BadRegex`] if the pattern does not compile.
    pub fn not_regex(name: impl Into<String>, pattern: &str) -> Result<Self, MatcherError> {
        let name = name.into();
        let regex = LabelRegex::new(&name, pattern)?;
        Ok(Self::NotRegex { name, regex })
    }

    /// Returns the label name this matcher tests.
    pub fn name(&self) -> &str {
        match self {
            Self::Equal { name, .. } | Self::NotEqual { name, .. } => name,
            Self::Regex { name, .. } | Self::NotRegex { name, .. } => name,
        }
    }

    /// Returns whether a label value matches (`""` for a missing label).
    pub fn matches(&self, value: &str) -> bool {
        match self {
            Self::Equal { value: v, .. } => value == v,
            Self::NotEqual { value: v, .. } => value != v,
            Self::Regex { regex, .. } => regex.is_match(value),
            Self::NotRegex { regex, .. } => !regex.is_match(value),
        }
    }
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Equal { name, value } => write!(f, "{name}={value:?}"),
            Self::NotEqual { name, value } => write!(f, "{name}!={value:?}"),
            Self::Regex { name, regex } => write!(f, "{name}=~{:?}", regex.as_str()),
            Self::NotRegex { name, regex } => write!(f, "{name}!~{:?}", regex.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_is_fully_anchored() {
        let m = Matcher::regex("job", "no.e").unwrap();
        assert!(m.matches("node"));
        assert!(!m.matches("node2"));
        assert!(!m.matches("a_node"));
        assert!(Matcher::regex("job", "a|b").unwrap().matches("b"));
    }

    #[test]
    fn bad_regex_names_the_label() {
        let err = Matcher::regex("job", "(").unwrap_err();
        assert!(
            err.to_string().starts_with("matcher job: invalid regex"),
            "{err}"
        );
    }
}
