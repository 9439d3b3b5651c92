//! Any bytes, as protobuf and as JSON: decoding fails cleanly or maps without panicking, and
//! mapping accounts for every record (accepted + rejected = sent).
#![no_main]

use blazar_otlp::{decode_logs, map_logs, Encoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for enc in [Encoding::Protobuf, Encoding::Json] {
        if let Ok(req) = decode_logs(data, enc) {
            let sent: usize = req
                .resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len())
                .sum();
            let out = map_logs(req, 0);
            assert_eq!(out.items.len() as u64 + out.rejected, sent as u64);
        }
    }
});
