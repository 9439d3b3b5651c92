//! Any bytes as a remote_write body: snappy decompression and the borrowed parser fail cleanly;
//! the raw bytes are also parsed directly and after a snappy round trip, to reach the parser.
#![no_main]

use blazar_ingest::remote_write::{borrowed, decompress};
use blazar_model::Limits;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    let check = |buf: &[u8]| {
        if let Ok(req) = borrowed::parse(buf) {
            for s in &req.series {
                let _ = borrowed::check_limits(req.labels(s), &limits);
                let _ = req.samples_of(s);
            }
        }
    };
    if let Ok(buf) = decompress(data, 1 << 20) {
        check(&buf);
    }
    check(data);
    // Also as a valid snappy body, so the decoder's success path sees every input.
    if let Ok(framed) = snap::raw::Encoder::new().compress_vec(data) {
        let buf = decompress(&framed, 1 << 20).unwrap_or_default();
        check(&buf);
    }
});
