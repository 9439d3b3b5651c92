//! `POST /api/v1/telemetry/events` (seed 002): `{"event_type","source","data","metadata"}` or an array.

use blazar_model::Event;
use serde_json::{Map, Value};

use super::fields::{items, no_unknown, opt_obj, opt_str, opt_time_ns, req_str};
use crate::{InputError, NowNs};

const KNOWN: &[&str] = &[
    "event_type",
    "source",
    "data",
    "metadata",
    "event_id",
    "timestamp",
];

/// What the server fills in when a client leaves it out.
#[derive(Debug, Clone)]
pub struct EventDefaults<'a> {
    /// Seed 002's `source_id`: the source of events that name none.
    pub source_id: &'a str,
    pub now: NowNs,
}

/// Parses an events body, assigning `event_id` (UUID v4) and `timestamp` unless given.
///
/// # Errors
/// The first invalid field, with its path.
pub fn parse_events(
    body: &Value,
    max_items: usize,
    d: &EventDefaults<'_>,
) -> Result<Vec<Event>, InputError> {
    items(body, max_items)?
        .into_iter()
        .map(|(prefix, o)| {
            parse_one(o, d).map_err(|e| {
                if prefix.is_empty() {
                    e
                } else {
                    e.within(&prefix)
                }
            })
        })
        .collect()
}

fn parse_one(o: &Map<String, Value>, d: &EventDefaults<'_>) -> Result<Event, InputError> {
    no_unknown(o, KNOWN)?;
    let event_type = req_str(o, "event_type", 256)?;
    if !event_type.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(InputError::new(
            "event_type",
            "must be printable ASCII without spaces",
        ));
    }
    let source = opt_str(o, "source", 256)?.unwrap_or(d.source_id);
    let event_id = match opt_str(o, "event_id", 64)? {
        Some(id) => uuid::Uuid::parse_str(id)
            .map_err(|_| InputError::new("event_id", format!("expected a UUID, got {id:?}")))?
            .to_string(),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let data = o.get("data").cloned().unwrap_or(Value::Object(Map::new()));
    let metadata = opt_obj(o, "metadata")?.cloned().unwrap_or_default();
    let timestamp_ns = opt_time_ns(o, "timestamp")?.unwrap_or(d.now);
    Ok(Event {
        event_id,
        timestamp_ns,
        event_type: event_type.to_string(),
        source: source.to_string(),
        data,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const D: EventDefaults<'static> = EventDefaults {
        source_id: "isbl-telemetry",
        now: 42,
    };

    #[test]
    fn server_assigns_id_time_and_default_source() {
        let e = parse_events(
            &json!({"event_type": "user.action", "data": {"action": "login"}}),
            10,
            &D,
        )
        .unwrap();
        assert_eq!(e[0].source, "isbl-telemetry");
        assert_eq!(e[0].timestamp_ns, 42);
        assert!(uuid::Uuid::parse_str(&e[0].event_id).is_ok());
        assert_eq!(e[0].data["action"], "login");
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse_events(&json!([{"event_type": "a"}, {"source": "x"}]), 10, &D).unwrap_err();
        assert_eq!(e.to_string(), "[1].event_type: required field is missing");
        let e = parse_events(&json!({"event_type": "a", "metadata": 3}), 10, &D).unwrap_err();
        assert_eq!(e.to_string(), "metadata: expected an object, got number");
        let e = parse_events(&json!({"event_type": "a", "event_id": "nope"}), 10, &D).unwrap_err();
        assert!(e.to_string().starts_with("event_id: expected a UUID"));
    }
}
