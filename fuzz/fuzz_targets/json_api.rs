//! Any bytes as a native JSON API body: every parser of `/api/v1/telemetry/*` fails cleanly.
#![no_main]

use blazar_ingest::json_http::{
    parse_events, parse_finish, parse_logs, parse_metrics, parse_span_log, parse_span_start,
    parse_span_tags, EventDefaults,
};
use blazar_model::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let now = 1_700_000_000_000_000_000;
    let _ = parse_metrics(&v, &Limits::default(), 1000, now);
    let _ = parse_logs(&v, 1000, now);
    let _ = parse_events(
        &v,
        1000,
        &EventDefaults {
            source_id: "fuzz",
            now,
        },
    );
    let _ = parse_span_start(&v, now);
    let _ = parse_span_tags(&v);
    let _ = parse_span_log(&v, now);
    let _ = parse_finish(&v, now);
});
