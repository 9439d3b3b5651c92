//! Round-trip and hostile-input tests of the chunk encoding.

use blazar_model::Sample;
use proptest::prelude::*;

use super::*;

fn build(samples: &[(i64, u64)]) -> XorChunk {
    let mut c = XorChunk::new();
    for &(t, v) in samples {
        c.append(t, f64::from_bits(v)).unwrap();
    }
    c
}

fn decoded(c: &XorChunk) -> Vec<(i64, u64)> {
    c.iter().map(|s| (s.t, s.v.to_bits())).collect()
}

fn assert_round_trips(samples: &[(i64, u64)]) {
    let c = build(samples);
    assert_eq!(c.len(), samples.len());
    assert_eq!(decoded(&c), samples);
    let back = XorChunk::from_bytes(c.bytes().to_vec()).unwrap();
    assert_eq!(decoded(&back), samples);
    assert_eq!(back.min_time(), samples.first().map(|s| s.0));
    assert_eq!(back.max_time(), samples.last().map(|s| s.0));
}

#[test]
fn empty_chunk_is_header_only() {
    let c = XorChunk::new();
    assert_eq!(c.bytes(), &[CHUNK_VERSION, 0, 0]);
    assert_eq!(c.iter().count(), 0);
    assert!(XorChunk::from_bytes(c.bytes().to_vec()).unwrap().is_empty());
}

#[test]
fn special_values_round_trip_bit_exactly() {
    let nan_payload = 0x7ff8_dead_beef_0001u64;
    let stale = 0x7ff0_0000_0000_0002u64; // Prometheus stale marker
    let vals = [
        1.0f64.to_bits(),
        f64::INFINITY.to_bits(),
        f64::NEG_INFINITY.to_bits(),
        (-0.0f64).to_bits(),
        0.0f64.to_bits(),
        nan_payload,
        stale,
        f64::NAN.to_bits(),
        f64::MIN_POSITIVE.to_bits(),
        1, // smallest subnormal
        f64::MAX.to_bits(),
        (0.1f64 + 0.2).to_bits(),
        2.5f64.to_bits(),
    ];
    let samples: Vec<_> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64 * 15_000, *v))
        .collect();
    assert_round_trips(&samples);
}

#[test]
fn extreme_and_repeated_timestamps_round_trip() {
    let samples = [
        (i64::MIN, 1.0f64.to_bits()),
        (i64::MIN, 2.0f64.to_bits()),
        (-5, 3.0f64.to_bits()),
        (0, 3.0f64.to_bits()),
        (0, 3.0f64.to_bits()),
        (i64::MAX - 1, 4.0f64.to_bits()),
        (i64::MAX, 4.5f64.to_bits()),
        (i64::MAX, 4.5f64.to_bits()),
    ];
    assert_round_trips(&samples);
}

#[test]
fn decimal_scale_changes_round_trip() {
    let vals = [
        100.0,
        100.5,
        100.25,
        3e9,
        3.1e9,
        7.0,
        f64::NAN,
        7.0,
        0.001,
        1e-12,
        12345.678,
        -4.5,
    ];
    let samples: Vec<_> = vals
        .iter()
        .enumerate()
        .map(|(i, v)| (i as i64 * 1000 + 7, v.to_bits()))
        .collect();
    assert_round_trips(&samples);
}

#[test]
fn appending_after_from_bytes_matches_appending_straight_through() {
    let samples: Vec<(i64, u64)> = (0..100)
        .map(|i| {
            (
                1_700_000_000_000 + i * 15_000 + (i * 7) % 5,
                (i as f64 * 1.25).to_bits(),
            )
        })
        .collect();
    let (a, b) = samples.split_at(37);
    let mut resumed = XorChunk::from_bytes(build(a).bytes().to_vec()).unwrap();
    for &(t, v) in b {
        resumed.append(t, f64::from_bits(v)).unwrap();
    }
    assert_eq!(decoded(&resumed), samples);
    assert_eq!(resumed.bytes(), build(&samples).bytes());
}

#[test]
fn out_of_order_append_is_rejected_and_chunk_unchanged() {
    let mut c = build(&[(10, 1.0f64.to_bits())]);
    let before = c.bytes().to_vec();
    assert_eq!(
        c.append(9, 2.0),
        Err(ChunkError::OutOfOrder { last: 10, got: 9 })
    );
    assert_eq!(c.bytes(), before.as_slice());
}

#[test]
fn full_chunk_rejects_appends() {
    let mut c = XorChunk::new();
    for i in 0..MAX_SAMPLES {
        c.append(i as i64, 1.0).unwrap();
    }
    assert_eq!(c.append(1 << 40, 1.0), Err(ChunkError::Full));
    assert_eq!(
        XorChunk::from_bytes(c.bytes().to_vec()).unwrap().len(),
        MAX_SAMPLES
    );
}

#[test]
fn hostile_headers_are_rejected() {
    assert_eq!(
        XorChunk::from_bytes(vec![1, 0]).unwrap_err(),
        ChunkError::Truncated { len: 2 }
    );
    assert_eq!(
        XorChunk::from_bytes(vec![9, 0, 0]).unwrap_err(),
        ChunkError::UnsupportedVersion { version: 9 }
    );
    assert!(matches!(
        XorChunk::from_bytes(vec![1, 5, 0, 0xff]),
        Err(ChunkError::Corrupt { .. })
    ));
    assert!(matches!(
        XorChunk::from_bytes(vec![1, 0, 0, 0]),
        Err(ChunkError::TrailingData { .. })
    ));
}

#[test]
fn truncated_or_padded_chunks_are_rejected() {
    let c = build(&[
        (1, 1.5f64.to_bits()),
        (2, 2.5f64.to_bits()),
        (3, 9.75f64.to_bits()),
    ]);
    let bytes = c.bytes().to_vec();
    for cut in 0..bytes.len() {
        assert!(
            XorChunk::from_bytes(bytes[..cut].to_vec()).is_err(),
            "cut at {cut}"
        );
    }
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(XorChunk::from_bytes(longer).is_err());
}

#[test]
fn iter_stops_on_corrupt_bytes() {
    let mut it = ChunkIter::new(&[1, 200, 0, 0xff, 0xff]);
    assert!(it.by_ref().count() < 200);
    assert!(it.is_corrupt());
}

#[test]
fn regular_series_compress_well() {
    let mut c = XorChunk::new();
    for i in 0..120 {
        c.append(1_700_000_000_000 + i * 15_000, 42.0).unwrap();
    }
    // Header, first sample, then 2 bits per sample.
    assert!(c.bytes().len() < 50, "{} bytes", c.bytes().len());
}

fn sorted_samples() -> impl Strategy<Value = Vec<(i64, u64)>> {
    let time = prop_oneof![
        any::<i64>(),
        (0i64..1_000_000),
        Just(i64::MIN),
        Just(i64::MAX),
        (1_600_000_000_000i64..1_700_000_000_000),
    ];
    let value = prop_oneof![
        any::<u64>(),
        any::<f64>().prop_map(f64::to_bits),
        (-1_000_000i64..1_000_000).prop_map(|n| (n as f64 / 100.0).to_bits()),
        (0u32..1000).prop_map(|n| f64::from(n).to_bits()),
        prop::sample::select(vec![
            f64::NAN.to_bits(),
            0x7ff0_0000_0000_0002,
            f64::INFINITY.to_bits(),
            f64::NEG_INFINITY.to_bits(),
            (-0.0f64).to_bits(),
            0,
        ]),
    ];
    prop::collection::vec((time, value), 0..300).prop_map(|mut v| {
        v.sort_by_key(|s| s.0);
        v
    })
}

fn jittered_samples() -> impl Strategy<Value = Vec<(i64, u64)>> {
    (
        any::<i64>(),
        prop::collection::vec((0i64..30_000, any::<bool>(), -1000i64..1000), 0..300),
    )
        .prop_map(|(start, steps)| {
            let (mut t, mut n) = (start / 2, 0i64);
            steps
                .into_iter()
                .map(|(dt, same, dn)| {
                    t = t.saturating_add(dt);
                    if !same {
                        n += dn;
                    }
                    (t, (n as f64 / 10.0).to_bits())
                })
                .collect()
        })
}

proptest! {
    #[test]
    fn any_sorted_samples_round_trip(samples in sorted_samples()) {
        let c = build(&samples);
        prop_assert_eq!(decoded(&c), samples.clone());
        let back = XorChunk::from_bytes(c.bytes().to_vec()).unwrap();
        prop_assert_eq!(decoded(&back), samples);
    }

    #[test]
    fn realistic_samples_round_trip(samples in jittered_samples()) {
        let c = build(&samples);
        prop_assert_eq!(decoded(&c), samples.clone());
        let back = XorChunk::from_bytes(c.bytes().to_vec()).unwrap();
        prop_assert_eq!(decoded(&back), samples);
    }

    #[test]
    fn from_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = XorChunk::from_bytes(bytes.clone());
        let _ = ChunkIter::new(&bytes).count();
    }

    #[test]
    fn from_bytes_never_panics_on_valid_headers(count in 0u16..300, body in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = vec![CHUNK_VERSION];
        bytes.extend_from_slice(&count.to_le_bytes());
        bytes.extend_from_slice(&body);
        if let Ok(c) = XorChunk::from_bytes(bytes.clone()) {
            // Whatever decodes must iterate fully and re-encode identically.
            let samples: Vec<Sample> = c.iter().collect();
            prop_assert_eq!(samples.len(), usize::from(count));
            prop_assert!(samples.windows(2).all(|w| w[0].t <= w[1].t));
        }
    }

    #[test]
    fn flipped_bits_never_panic(samples in sorted_samples(), flip in any::<prop::sample::Index>()) {
        let mut bytes = build(&samples).bytes().to_vec();
        let i = flip.index(bytes.len() * 8);
        bytes[i / 8] ^= 1 << (i % 8);
        if let Ok(c) = XorChunk::from_bytes(bytes) {
            prop_assert_eq!(c.iter().count(), c.len());
        }
    }
}

#[test]
fn golden_bytes_of_the_documented_example() {
    // docs/formats/chunk.md walks through these bytes; a change here is a format change.
    let c = build(&[
        (1000, 1.5f64.to_bits()),
        (16_000, 2.5f64.to_bits()),
        (31_000, 2.5f64.to_bits()),
    ]);
    let want = [
        0x01, 0x03, 0x00, 0x17, 0xe8, 0x62, 0x17, 0x87, 0xea, 0x61, 0x05, 0x40, 0x10,
    ];
    assert_eq!(c.bytes(), &want[..]);
}
