//! Any bytes, as protobuf and as JSON: decoding fails cleanly or maps without panicking; no
//! more points are rejected than were sent, and every series written is valid.
#![no_main]

use blazar_model::Limits;
use blazar_otlp::{data_point_count, decode_metrics, map_metrics, Encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    for enc in [Encoding::Protobuf, Encoding::Json] {
        if let Ok(req) = decode_metrics(data, enc) {
            let sent = data_point_count(&req);
            let out = map_metrics(req, 0, &limits);
            assert!(out.rejected <= sent);
            for s in &out.items.series {
                assert!(s.labels.validate(&limits).is_ok(), "{:?}", s.labels);
                assert!(!s.labels.name().is_empty());
            }
        }
    }
});
