//! Series identity: a metric name plus a sorted, de-duplicated set of labels.

use std::fmt;

/// The label that carries the metric name, as in Prometheus.
pub const METRIC_NAME_LABEL: &str = "__name__";

/// Size limits applied to every series at ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest metric name, in bytes.
    pub max_name_len: usize,
    /// Most labels on one series, name included.
    pub max_labels: usize,
    /// Longest label name, in bytes.
    pub max_label_name_len: usize,
    /// Longest label value, in bytes.
    pub max_label_value_len: usize,
    /// Most metric series held at once; new series past it are refused (existing ones keep
    /// their samples flowing).
    pub max_series: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_name_len: 256,
            max_labels: 32,
            max_label_name_len: 128,
            max_label_value_len: 1024,
            max_series: 1_000_000,
        }
    }
}

/// Why a set of labels was rejected; the message names the offending label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabelsError {
    #[error("name: must not be empty")]
    EmptyName,
    #[error("name: {len} bytes is longer than the limit of {max}")]
    NameTooLong { len: usize, max: usize },
    #[error("name: {name:?} has a character outside [a-zA-Z0-9_.:-]")]
    BadName { name: String },
    #[error("tags: {count} labels is more than the limit of {max}")]
    TooMany { count: usize, max: usize },
    #[error("tags.{name}: label name is longer than the limit of {max} bytes")]
    LabelNameTooLong { name: String, max: usize },
    #[error("tags: label name {name:?} must be non-empty and match [a-zA-Z_][a-zA-Z0-9_.]*")]
    BadLabelName { name: String },
    #[error("tags.{name}: value of {len} bytes is longer than the limit of {max}")]
    ValueTooLong {
        name: String,
        len: usize,
        max: usize,
    },
    #[error("tags.{name}: label given twice")]
    Duplicate { name: String },
}

/// A series identity: label pairs sorted by name, `__name__` among them. Cheap to hash and compare.
#[derive(
    Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "Vec<(String, String)>", into = "Vec<(String, String)>")]
pub struct Labels(Vec<(String, String)>);

impl TryFrom<Vec<(String, String)>> for Labels {
    type Error = LabelsError;
    fn try_from(v: Vec<(String, String)>) -> Result<Self, LabelsError> {
        Self::try_from_pairs(v)
    }
}

impl From<Labels> for Vec<(String, String)> {
    fn from(l: Labels) -> Self {
        l.0
    }
}

impl Labels {
    /// Builds labels from pairs, sorting them; empty values are dropped (Prometheus semantics).
    ///
    /// # Errors
    /// A label given twice.
    pub fn try_from_pairs<I, K, V>(pairs: I) -> Result<Self, LabelsError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let mut v: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        for w in v.windows(2) {
            if let [a, b] = w {
                if a.0 == b.0 {
                    return Err(LabelsError::Duplicate { name: a.0.clone() });
                }
            }
        }
        Ok(Self(v))
    }

    /// Builds labels for metric `name` with `tags`, checking every limit.
    ///
    /// # Errors
    /// Any limit exceeded or an invalid name; the error names the field.
    pub fn for_metric<'a, I>(name: &str, tags: I, limits: &Limits) -> Result<Self, LabelsError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        validate_metric_name(name, limits)?;
        let mut pairs = vec![(METRIC_NAME_LABEL.to_string(), name.to_string())];
        for (k, v) in tags {
            if k == METRIC_NAME_LABEL {
                return Err(LabelsError::BadLabelName {
                    name: k.to_string(),
                });
            }
            pairs.push((k.to_string(), v.to_string()));
        }
        let labels = Self::try_from_pairs(pairs)?;
        labels.validate(limits)?;
        Ok(labels)
    }

    /// Checks label count, name syntax and lengths.
    ///
    /// # Errors
    /// The first limit exceeded, naming the label.
    pub fn validate(&self, limits: &Limits) -> Result<(), LabelsError> {
        validate_pairs(self.iter(), self.0.len(), limits)
    }

    /// Returns the metric name, or "" if the series has none.
    pub fn name(&self) -> &str {
        self.get(METRIC_NAME_LABEL).unwrap_or("")
    }

    /// Returns the value of label `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .and_then(|i| self.0.get(i))
            .map(|(_, v)| v.as_str())
    }

    /// Returns the pairs, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Returns the labels other than `__name__`.
    pub fn tags(&self) -> impl Iterator<Item = (&str, &str)> {
        self.iter().filter(|(k, _)| *k != METRIC_NAME_LABEL)
    }

    /// Returns a copy with `name` replaced by `new_name` and `extra` added (e.g. `le`).
    pub fn with_name_and(&self, new_name: &str, extra: Option<(&str, &str)>) -> Self {
        let mut v: Vec<(String, String)> = self
            .0
            .iter()
            .filter(|(k, _)| k != METRIC_NAME_LABEL && Some(k.as_str()) != extra.map(|e| e.0))
            .cloned()
            .collect();
        v.push((METRIC_NAME_LABEL.to_string(), new_name.to_string()));
        if let Some((k, val)) = extra {
            v.push((k.to_string(), val.to_string()));
        }
        v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Self(v)
    }

    /// Returns the number of label pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Returns whether there are no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Returns the approximate heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.0.capacity() * std::mem::size_of::<(String, String)>()
            + self
                .0
                .iter()
                .map(|(k, v)| k.capacity() + v.capacity())
                .sum::<usize>()
    }
}

fn truncate(s: &str) -> String {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("").to_string()
}

fn validate_metric_name(name: &str, limits: &Limits) -> Result<(), LabelsError> {
    if name.is_empty() {
        return Err(LabelsError::EmptyName);
    }
    if name.len() > limits.max_name_len {
        return Err(LabelsError::NameTooLong {
            len: name.len(),
            max: limits.max_name_len,
        });
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'))
    {
        return Err(LabelsError::BadName {
            name: truncate(name),
        });
    }
    Ok(())
}

/// Checks `count` label pairs (sorted, unique) against the limits without building `Labels`;
/// the borrowed remote_write path validates this way before allocating anything.
///
/// # Errors
/// The first limit exceeded, naming the label.
pub fn validate_pairs<'a>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
    count: usize,
    limits: &Limits,
) -> Result<(), LabelsError> {
    if count > limits.max_labels {
        return Err(LabelsError::TooMany {
            count,
            max: limits.max_labels,
        });
    }
    for (k, v) in pairs {
        if k.len() > limits.max_label_name_len {
            return Err(LabelsError::LabelNameTooLong {
                name: truncate(k),
                max: limits.max_label_name_len,
            });
        }
        if k != METRIC_NAME_LABEL && !is_label_name(k) {
            return Err(LabelsError::BadLabelName { name: truncate(k) });
        }
        let max = if k == METRIC_NAME_LABEL {
            limits.max_name_len
        } else {
            limits.max_label_value_len
        };
        if v.len() > max {
            return Err(LabelsError::ValueTooLong {
                name: truncate(k),
                len: v.len(),
                max,
            });
        }
    }
    Ok(())
}

fn is_label_name(k: &str) -> bool {
    let mut bytes = k.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.')
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())?;
        f.write_str("{")?;
        for (i, (k, v)) in self.tags().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{k}={v:?}")?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_sorted_and_name_is_found() {
        let l = Labels::for_metric(
            "plugin.x.requests",
            [("b", "2"), ("a", "1")],
            &Limits::default(),
        )
        .unwrap();
        let keys: Vec<_> = l.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["__name__", "a", "b"]);
        assert_eq!(l.name(), "plugin.x.requests");
        assert_eq!(l.get("b"), Some("2"));
    }

    #[test]
    fn too_long_value_names_the_tag() {
        let long = "x".repeat(2000);
        let err =
            Labels::for_metric("m", [("host", long.as_str())], &Limits::default()).unwrap_err();
        assert!(err.to_string().starts_with("tags.host:"), "{err}");
    }

    #[test]
    fn too_many_labels_is_rejected() {
        let tags: Vec<(String, String)> = (0..40)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        let err = Labels::for_metric(
            "m",
            tags.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            &Limits::default(),
        )
        .unwrap_err();
        assert!(matches!(err, LabelsError::TooMany { .. }));
    }

    #[test]
    fn duplicate_label_is_rejected() {
        assert!(Labels::try_from_pairs([("a", "1"), ("a", "2")]).is_err());
    }

    #[test]
    fn with_name_and_adds_le() {
        let l = Labels::for_metric("lat", [("svc", "a")], &Limits::default()).unwrap();
        let b = l.with_name_and("lat_bucket", Some(("le", "0.5")));
        assert_eq!(b.to_string(), "lat_bucket{le=\"0.5\", svc=\"a\"}");
    }
}
