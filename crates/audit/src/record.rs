//! One audit record: its kinds, its canonical bytes and its hash. Pure: no I/O, no clock.
//!
//! The canonical form is written by hand here, field by field, instead of by `#[derive]`:
//! the bytes that are hashed must not depend on serde_json features (see the crate docs).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::AuditError;

/// `prev` of the first record (`seq` 0): 64 zeros.
pub const ZERO_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Largest `data`, serialized, kept as is; larger data is replaced by a truncation marker.
pub const MAX_DATA_BYTES: usize = 64 * 1024;
/// How much of oversized `data` the truncation marker keeps, as JSON text.
const PREVIEW_BYTES: usize = 1024;
/// Longest `actor`; a longer one is cut at a character boundary and ends in `…`.
pub const MAX_ACTOR_BYTES: usize = 256;
/// Longest caller-chosen kind name ([`AuditKind::Other`]).
const MAX_KIND_BYTES: usize = 64;

/// What an audit record is about. Serialized as its snake_case name; a name this version does
/// not know reads as [`AuditKind::Other`], so logs from newer versions still read and verify.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AuditKind {
    /// An alert rule was added, changed or removed.
    RuleChange,
    /// An alert changed state (pending, firing, resolved).
    Alert,
    /// A notification was attempted (with its outcome).
    Notification,
    /// A silence was created, changed or expired.
    Silence,
    /// An alert was acknowledged.
    Ack,
    /// A remediation ran (with its outcome).
    Remediation,
    /// The configuration was reloaded.
    ConfigReload,
    /// The server started or stopped.
    Lifecycle,
    /// Any other kind: a snake_case name of at most 64 bytes.
    Other(String),
}

impl AuditKind {
    /// Returns the kind's wire name, e.g. `rule_change`.
    pub fn as_str(&self) -> &str {
        match self {
            Self::RuleChange => "rule_change",
            Self::Alert => "alert",
            Self::Notification => "notification",
            Self::Silence => "silence",
            Self::Ack => "ack",
            Self::Remediation => "remediation",
            Self::ConfigReload => "config_reload",
            Self::Lifecycle => "lifecycle",
            Self::Other(name) => name,
        }
    }

    /// Returns the kind named `name`: a known variant, else [`AuditKind::Other`]. Never fails,
    /// so that reading a log does not depend on knowing every kind.
    pub fn from_name(name: &str) -> Self {
        match name {
            "rule_change" => Self::RuleChange,
            "alert" => Self::Alert,
            "notification" => Self::Notification,
            "silence" => Self::Silence,
            "ack" => Self::Ack,
            "remediation" => Self::Remediation,
            "config_reload" => Self::ConfigReload,
            "lifecycle" => Self::Lifecycle,
            other => Self::Other(other.to_string()),
        }
    }

    /// Returns the kind to record: a known one as is; an `Other` name only if it is snake_case
    /// (`[a-z0-9_]`, starting with a letter, at most 64 bytes), and as the known variant if it
    /// names one, so the same kind is never written two ways.
    ///
    /// # Errors
    /// [`AuditError::InvalidKind`] for any other name.
    pub(crate) fn checked(self) -> Result<Self, AuditError> {
        let Self::Other(name) = self else {
            return Ok(self);
        };
        let valid = name.len() <= MAX_KIND_BYTES
            && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if valid {
            Ok(Self::from_name(&name))
        } else {
            Err(AuditError::InvalidKind { kind: name })
        }
    }
}

impl fmt::Display for AuditKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for AuditKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AuditKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Self::from_name(&name))
    }
}

/// One line of the audit log.
///
/// `Serialize` is derived for embedding a record in other JSON; the log's own bytes, and what
/// the hash covers, come from [`AuditRecord::to_line`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditRecord {
    /// Position in the chain: 0 for the first record, then +1 per record.
    pub seq: u64,
    /// When it was recorded: RFC 3339 UTC with nanoseconds; strictly increasing.
    pub time: String,
    /// What it is about.
    pub kind: AuditKind,
    /// Who caused it: `system`, `api` or a user.
    pub actor: String,
    /// The details, as the caller gave them (or a truncation marker).
    pub data: Value,
    /// The previous record's `hash` ([`ZERO_HASH`] for `seq` 0).
    pub prev: String,
    /// Lowercase hex SHA-256 over the canonical bytes of every other field.
    pub hash: String,
}

impl AuditRecord {
    /// Returns the record for these fields with its hash computed, and its line (no newline);
    /// `data_json` is `data`'s canonical JSON.
    pub(crate) fn seal(
        seq: u64,
        time: String,
        kind: AuditKind,
        actor: String,
        data: Value,
        data_json: &[u8],
        prev: String,
    ) -> Result<(Self, String), AuditError> {
        let body = canonical_body(seq, &time, kind.as_str(), &actor, data_json, &prev)?;
        let hash = sha256_hex(&body);
        let line = line_from_body(body, &hash)?;
        let record = Self {
            seq,
            time,
            kind,
            actor,
            data,
            prev,
            hash,
        };
        Ok((record, line))
    }

    /// Returns the hash the record's fields call for (which a sound record has in `hash`).
    ///
    /// # Errors
    /// [`AuditError::Encode`], not expected for a record that was parsed from JSON.
    pub fn computed_hash(&self) -> Result<String, AuditError> {
        let data = canonical_json(&self.data)?;
        let body = canonical_body(
            self.seq,
            &self.time,
            self.kind.as_str(),
            &self.actor,
            &data,
            &self.prev,
        )?;
        Ok(sha256_hex(&body))
    }

    /// Returns the record as the log stores it: canonical JSON, `hash` last, no newline.
    ///
    /// # Errors
    /// [`AuditError::Encode`], not expected for a record that was parsed from JSON.
    pub fn to_line(&self) -> Result<String, AuditError> {
        let data = canonical_json(&self.data)?;
        let body = canonical_body(
            self.seq,
            &self.time,
            self.kind.as_str(),
            &self.actor,
            &data,
            &self.prev,
        )?;
        line_from_body(body, &self.hash)
    }

    /// Returns `time` as unix nanoseconds, or `None` if it is not an RFC 3339 time.
    pub fn time_ns(&self) -> Option<i64> {
        parse_time(&self.time)
    }
}

/// Returns `ns` (unix nanoseconds) as the log writes times: RFC 3339 UTC, always nine
/// fractional digits, e.g. `2025-01-01T00:00:00.000000001Z`.
pub fn format_time(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

/// Parses an RFC 3339 time to unix nanoseconds.
pub(crate) fn parse_time(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
}

/// Returns `actor` as recorded: trimmed, `unknown` if empty, cut to [`MAX_ACTOR_BYTES`].
pub(crate) fn normalize_actor(actor: &str) -> String {
    let actor = actor.trim();
    if actor.is_empty() {
        return "unknown".to_string();
    }
    if actor.len() <= MAX_ACTOR_BYTES {
        return actor.to_string();
    }
    let ellipsis = '…';
    let mut cut = MAX_ACTOR_BYTES - ellipsis.len_utf8();
    while !actor.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut out = actor.get(..cut).unwrap_or_default().to_string();
    out.push(ellipsis);
    out
}

/// Returns `data` as it will be recorded, with its canonical JSON: as given if that JSON is at
/// most [`MAX_DATA_BYTES`], else a truncation marker.
pub(crate) fn bounded_data(data: Value) -> Result<(Value, Vec<u8>), AuditError> {
    let json = canonical_json(&data)?;
    if json.len() <= MAX_DATA_BYTES {
        return Ok((data, json));
    }
    let text = String::from_utf8_lossy(&json);
    let mut cut = PREVIEW_BYTES.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let marker = serde_json::json!({
        "truncated": true,
        "original_bytes": json.len(),
        "preview": text.get(..cut).unwrap_or_default(),
    });
    let marker_json = canonical_json(&marker)?;
    Ok((marker, marker_json))
}

/// Returns `v` as compact JSON with every object's keys sorted by byte, whatever order the
/// `Map` keeps them in.
pub(crate) fn canonical_json(v: &Value) -> Result<Vec<u8>, AuditError> {
    let mut out = Vec::with_capacity(128);
    write_canonical(v, &mut out)?;
    Ok(out)
}

fn write_canonical(v: &Value, out: &mut Vec<u8>) -> Result<(), AuditError> {
    match v {
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                serde_json::to_writer(&mut *out, key).map_err(AuditError::Encode)?;
                out.push(b':');
                write_canonical(value, out)?;
            }
            out.push(b'}');
        }
        scalar => serde_json::to_writer(&mut *out, scalar).map_err(AuditError::Encode)?,
    }
    Ok(())
}

/// The canonical bytes the hash covers: `{"seq":..,"time":..,"kind":..,"actor":..,"data":..,
/// "prev":..}`, compact, in that order; `data_json` must already be canonical.
fn canonical_body(
    seq: u64,
    time: &str,
    kind: &str,
    actor: &str,
    data_json: &[u8],
    prev: &str,
) -> Result<Vec<u8>, AuditError> {
    let mut out = Vec::with_capacity(data_json.len() + time.len() + actor.len() + 160);
    let enc = AuditError::Encode;
    out.extend_from_slice(b"{\"seq\":");
    out.extend_from_slice(seq.to_string().as_bytes());
    out.extend_from_slice(b",\"time\":");
    serde_json::to_writer(&mut out, time).map_err(enc)?;
    out.extend_from_slice(b",\"kind\":");
    serde_json::to_writer(&mut out, kind).map_err(enc)?;
    out.extend_from_slice(b",\"actor\":");
    serde_json::to_writer(&mut out, actor).map_err(enc)?;
    out.extend_from_slice(b",\"data\":");
    out.extend_from_slice(data_json);
    out.extend_from_slice(b",\"prev\":");
    serde_json::to_writer(&mut out, prev).map_err(enc)?;
    out.push(b'}');
    Ok(out)
}

/// Turns a canonical body into the stored line: the body reopened, `"hash"` added last.
fn line_from_body(mut body: Vec<u8>, hash: &str) -> Result<String, AuditError> {
    // The body always ends in the `}` that `canonical_body` wrote.
    body.pop();
    body.extend_from_slice(b",\"hash\":");
    serde_json::to_writer(&mut body, hash).map_err(AuditError::Encode)?;
    body.push(b'}');
    // Every part was written by serde_json or is ASCII: valid UTF-8.
    String::from_utf8(body)
        .map_err(|e| AuditError::Encode(serde::ser::Error::custom(format!("not UTF-8: {e}"))))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sealed(data: Value) -> AuditRecord {
        let (data, json) = bounded_data(data).unwrap();
        AuditRecord::seal(
            0,
            format_time(1),
            AuditKind::Alert,
            "system".into(),
            data,
            &json,
            ZERO_HASH.into(),
        )
        .unwrap()
        .0
    }

    #[test]
    fn line_is_the_canonical_body_plus_hash() {
        let r = sealed(json!({"b": 1, "a": {"z": [1, 2.5, "x"], "y": null}}));
        let line = r.to_line().unwrap();
        assert_eq!(
            line,
            format!(
                "{{\"seq\":0,\"time\":\"1970-01-01T00:00:00.000000001Z\",\"kind\":\"alert\",\"actor\":\"system\",\"data\":{{\"a\":{{\"y\":null,\"z\":[1,2.5,\"x\"]}},\"b\":1}},\"prev\":\"{ZERO_HASH}\",\"hash\":\"{}\"}}",
                r.hash
            )
        );
        let body = line.replace(&format!(",\"hash\":\"{}\"", r.hash), "");
        assert_eq!(r.hash, sha256_hex(body.as_bytes()));
        let back: AuditRecord = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.computed_hash().unwrap(), r.hash);
        assert_eq!(back.to_line().unwrap(), line);
    }

    #[test]
    fn canonical_json_sorts_keys_whatever_the_map_order() {
        let mut m = serde_json::Map::new();
        m.insert("z".into(), json!(1));
        m.insert("a".into(), json!({"d": true, "c": "é\"\n"}));
        let got = String::from_utf8(canonical_json(&Value::Object(m)).unwrap()).unwrap();
        assert_eq!(got, r#"{"a":{"c":"é\"\n","d":true},"z":1}"#);
    }

    #[test]
    fn oversized_data_becomes_a_truncation_marker() {
        let big = "é".repeat(MAX_DATA_BYTES);
        let r = sealed(json!({ "text": big }));
        assert_eq!(r.data["truncated"], true);
        assert!(r.data["original_bytes"].as_u64().unwrap() > MAX_DATA_BYTES as u64);
        let preview = r.data["preview"].as_str().unwrap();
        assert!(preview.starts_with("{\"text\":\"éé"));
        assert!(preview.len() <= PREVIEW_BYTES);
        let small = sealed(json!({"text": "x".repeat(MAX_DATA_BYTES - 20)}));
        assert!(small.data.get("truncated").is_none());
    }

    #[test]
    fn actor_is_trimmed_defaulted_and_bounded() {
        assert_eq!(normalize_actor("  ops "), "ops");
        assert_eq!(normalize_actor(""), "unknown");
        let long = normalize_actor(&"é".repeat(300));
        assert!(long.len() <= MAX_ACTOR_BYTES && long.ends_with('…'));
    }

    #[test]
    fn kinds_round_trip_and_unknown_names_are_kept() {
        for k in [
            AuditKind::RuleChange,
            AuditKind::ConfigReload,
            AuditKind::Ack,
        ] {
            let s = serde_json::to_string(&k).unwrap();
            assert_eq!(serde_json::from_str::<AuditKind>(&s).unwrap(), k);
        }
        let other: AuditKind = serde_json::from_str("\"future_thing\"").unwrap();
        assert_eq!(other, AuditKind::Other("future_thing".into()));
        assert_eq!(
            AuditKind::Other("alert".into()).checked().unwrap(),
            AuditKind::Alert
        );
        for bad in ["", "Alert", "a b", "1x", &"x".repeat(65)] {
            assert!(AuditKind::Other(bad.into()).checked().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn times_have_nine_fraction_digits_and_parse_back() {
        let t = format_time(1_700_000_000_000_000_000);
        assert_eq!(t, "2023-11-14T22:13:20.000000000Z");
        assert_eq!(parse_time(&t), Some(1_700_000_000_000_000_000));
    }
}
