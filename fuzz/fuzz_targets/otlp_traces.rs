//! Any bytes, as protobuf and as JSON: decoding fails cleanly or maps without panicking, and
//! mapping accounts for every span (accepted + rejected = sent).
#![no_main]

use blazar_otlp::{decode_traces, map_traces, Encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for enc in [Encoding::Protobuf, Encoding::Json] {
        if let Ok(req) = decode_traces(data, enc) {
            let sent: usize = req
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len())
                .sum();
            let out = map_traces(req, 0);
            assert_eq!(out.items.len() as u64 + out.rejected, sent as u64);
        }
    }
});
