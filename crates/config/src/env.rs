//! `BLAZAR_*` environment overrides: `BLAZAR_STORAGE__FSYNC=always` sets `storage.fsync`,
//! `BLAZAR_SAMPLING_RATE=0.5` the flat seed key. `__` separates sections; values are YAML scalars.

use serde_yaml_ng::{Mapping, Value};

use crate::ConfigError;

/// Variables the CLI reads itself; they are not config keys.
const NOT_KEYS: &[&str] = &["BLAZAR_URL", "BLAZAR_LOG", "BLAZAR_CONFIG", "BLAZAR_TOKEN"];

/// Returns the overrides present in `vars` as (variable, key path, value).
pub(crate) fn overrides(
    vars: impl Iterator<Item = (String, String)>,
) -> Vec<(String, Vec<String>, String)> {
    let mut out: Vec<_> = vars
        .filter(|(k, _)| k.starts_with("BLAZAR_") && !NOT_KEYS.contains(&k.as_str()))
        .filter_map(|(k, v)| {
            let path: Vec<String> = k
                .strip_prefix("BLAZAR_")?
                .to_ascii_lowercase()
                .split("__")
                .map(str::to_string)
                .collect();
            Some((k, path, v))
        })
        .collect();
    out.sort();
    out
}

/// Applies overrides onto a parsed document.
pub(crate) fn apply(
    doc: &mut Value,
    overrides: &[(String, Vec<String>, String)],
) -> Result<(), ConfigError> {
    for (var, path, raw) in overrides {
        let value: Value =
            serde_yaml_ng::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone()));
        let mut cur = &mut *doc;
        for (i, seg) in path.iter().enumerate() {
            if seg.is_empty() {
                return Err(ConfigError::Env {
                    var: var.clone(),
                    message: "empty key segment".into(),
                });
            }
            if !cur.is_mapping() {
                if cur.is_null() {
                    *cur = Value::Mapping(Mapping::new());
                } else {
                    return Err(ConfigError::Env {
                        var: var.clone(),
                        message: format!("{seg} is not a section"),
                    });
                }
            }
            let Value::Mapping(map) = cur else {
                return Err(ConfigError::Env {
                    var: var.clone(),
                    message: "not a section".into(),
                });
            };
            let key = Value::String(seg.clone());
            if i + 1 == path.len() {
                map.insert(key, value.clone());
                break;
            }
            cur = map.entry(key).or_insert(Value::Null);
        }
    }
    Ok(())
}
