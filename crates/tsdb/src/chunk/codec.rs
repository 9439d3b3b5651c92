//! Per-sample encoding of a chunk: timestamps as residuals from the median of the last three
//! deltas, values as repeats, decimal residuals or Gorilla XORs. Encoder and decoder share [`State`], so a decoded chunk can
//! keep appending. The byte format is specified in `docs/formats/chunk.md`.

use super::bits::{BitReader, BitWriter};

/// Residuals shorter than the width for this many in a row shrink the width.
const SHRINK_AFTER: u8 = 16;
/// Bits of the scale field; the stored value is `scale - MIN_SCALE`.
const SCALE_BITS: u32 = 5;
const MIN_SCALE: i8 = -16;
const MAX_SCALE: i8 = 15;
/// Largest integer magnitude a decimal value may have (exact in an f64).
const MAX_DECIMAL: u64 = 1 << 53;
/// The predictor score stays within this bound, so it adapts within a few samples.
const SCORE_LIMIT: i32 = 16;
/// Fixed-point bits of the mean decimal step.
const MEAN_FRAC: u32 = 4;
/// The mean step moves by `1/2^MEAN_SHIFT` of the error per sample.
const MEAN_SHIFT: u32 = 2;

/// Value code kinds; the three common ones are kept in most-recently-used order.
const SAME: u8 = 0;
const DECIMAL: u8 = 1;
const XOR: u8 = 2;
/// `POW10[k] == 10^k`, exact in an f64 for every entry.
const POW10: [f64; 17] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
];

/// Why a chunk's bit stream could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Corrupt {
    /// The stream ended inside a sample.
    Eof,
    /// A timestamp went backwards (or overflowed).
    TimeBackwards,
    /// An XOR window reuse with no window set, or a window wider than 64 bits.
    BadXorWindow,
    /// A decimal value out of range or relative to a value that has no decimal form.
    BadDecimal,
    /// A bit-length field over 64.
    BadLength,
}

impl Corrupt {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Eof => "unexpected end of data",
            Self::TimeBackwards => "timestamp goes backwards",
            Self::BadXorWindow => "invalid xor window",
            Self::BadDecimal => "invalid decimal value",
            Self::BadLength => "invalid bit length",
        }
    }
}

/// What both sides know after a sample: the basis for predicting the next one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct State {
    pub(crate) t: i64,
    /// The last three timestamp deltas, newest first; a true delta is in `0..2^64`, so
    /// they are unsigned. `nd` counts the deltas seen, up to 3.
    dts: [u64; 3],
    nd: u8,
    /// Last value's bits.
    pub(crate) v: u64,
    /// Gorilla XOR window (leading, trailing zeros); `lead == NO_WINDOW` before the first XOR.
    lead: u8,
    trail: u8,
    /// Decimal scale: a value is `n / 10^scale` (`n * 10^-scale` when negative).
    scale: i8,
    /// Last value as a decimal integer at `scale`, when known.
    n: Option<i64>,
    /// Mean decimal step at `scale`, in fixed point with [`MEAN_FRAC`] fraction bits;
    /// `None` until a first step is seen.
    mean: Option<i64>,
    /// Positive when "previous plus mean step" has predicted decimals better than
    /// "previous" lately (counters and trends), negative otherwise (gauges).
    score: i8,
    /// Value code kinds, most recently used first: position `k` costs `k + 1` bits.
    order: [u8; 3],
    /// Adaptive field widths of timestamp and decimal residuals.
    tw: Width,
    dw: Width,
}

/// An adaptive field width. A residual below `2^w - 1` is written in `w` bits; otherwise
/// `w` one bits mark an escape, followed by its bit length `L` in 7 bits and its low `L - 1`
/// bits (the top bit is implied). Both sides adapt `w` to the residuals seen.
#[derive(Debug, Clone, Copy, Default)]
struct Width {
    w: u8,
    /// Residuals in a row narrower than `w`, and the widest of them.
    run: u8,
    run_max: u8,
    /// Escapes in a row more than one bit wider than `w`, and the widest of them.
    miss: u8,
    miss_max: u8,
}

const NO_WINDOW: u8 = 0xff;

fn ones(w: u32) -> u64 {
    if w >= 64 {
        u64::MAX
    } else {
        (1u64 << w) - 1
    }
}

impl Width {
    fn cost(&self, u: u64) -> u32 {
        let w = u32::from(self.w);
        if u < ones(w) {
            w
        } else {
            w + 7 + bit_len(u).saturating_sub(1)
        }
    }

    fn write(&mut self, wr: &mut BitWriter, u: u64) {
        let w = u32::from(self.w);
        let marker = ones(w);
        if u < marker {
            wr.write_bits(u, w);
        } else {
            let len = bit_len(u);
            wr.write_bits(marker, w);
            wr.write_bits(u64::from(len), 7);
            wr.write_bits(u, len.saturating_sub(1));
        }
        self.update(u);
    }

    fn read(&mut self, r: &mut BitReader<'_>) -> Result<u64, Corrupt> {
        let w = u32::from(self.w);
        let marker = ones(w);
        let mut u = r.read_bits(w).ok_or(Corrupt::Eof)?;
        if u == marker {
            let len = r.read_bits(7).ok_or(Corrupt::Eof)? as u32;
            if len > 64 {
                return Err(Corrupt::BadLength);
            }
            let low = r.read_bits(len.saturating_sub(1)).ok_or(Corrupt::Eof)?;
            u = if len == 0 {
                0
            } else {
                (1u64 << (len - 1)) | low
            };
            if u < marker {
                // The encoder escapes only what does not fit, so a chunk has one byte form.
                return Err(Corrupt::BadLength);
            }
        }
        self.update(u);
        Ok(u)
    }

    /// Adapts the width: grows by one at once, further only after two escapes in a row
    /// (so one outlier such as a missed scrape costs little), and shrinks after
    /// [`SHRINK_AFTER`] narrower residuals in a row.
    fn update(&mut self, u: u64) {
        let len = bit_len(u.saturating_add(1)) as u8;
        if len > self.w {
            self.run = 0;
            self.run_max = 0;
            if self.w == 0 || len == self.w + 1 {
                *self = Self {
                    w: len,
                    ..Self::default()
                };
            } else {
                self.miss += 1;
                self.miss_max = self.miss_max.max(len);
                if self.miss >= 2 {
                    *self = Self {
                        w: self.miss_max,
                        ..Self::default()
                    };
                }
            }
        } else {
            self.miss = 0;
            self.miss_max = 0;
            if len < self.w {
                self.run += 1;
                self.run_max = self.run_max.max(len);
                if self.run >= SHRINK_AFTER {
                    *self = Self {
                        w: self.run_max,
                        ..Self::default()
                    };
                }
            } else {
                self.run = 0;
                self.run_max = 0;
            }
        }
    }
}

impl State {
    fn first(t: i64, v: u64) -> Self {
        Self {
            t,
            dts: [0; 3],
            nd: 0,
            v,
            lead: NO_WINDOW,
            trail: 0,
            scale: 0,
            n: None,
            mean: None,
            score: 0,
            order: [SAME, DECIMAL, XOR],
            tw: Width::default(),
            dw: Width::default(),
        }
    }

    /// Returns the previous value at `scale`, if it has an exact decimal form there.
    fn prev_n(&self, scale: i8) -> Option<i64> {
        match self.n {
            Some(n) if scale == self.scale => Some(n),
            _ => to_scaled(f64::from_bits(self.v), scale),
        }
    }

    fn mean_step(&self) -> i64 {
        let m = self.mean.unwrap_or(0);
        m.wrapping_add(1 << (MEAN_FRAC - 1)) >> MEAN_FRAC
    }

    /// Returns the predicted decimal after `pn`.
    fn predict(&self, pn: i64) -> i64 {
        if self.score > 0 {
            pn.wrapping_add(self.mean_step())
        } else {
            pn
        }
    }

    /// Learns from decimal step `d`: which predictor would have done better, and the mean.
    fn learn_step(&mut self, d: i64) {
        let by_prev = bit_len(zigzag(d)) as i32;
        let by_mean = bit_len(zigzag(d.wrapping_sub(self.mean_step()))) as i32;
        let s = (i32::from(self.score) + by_prev - by_mean).clamp(-SCORE_LIMIT, SCORE_LIMIT);
        self.score = s as i8;
        let fixed = d.wrapping_shl(MEAN_FRAC);
        self.mean = Some(match self.mean {
            None => fixed,
            Some(m) => m.wrapping_add(fixed.wrapping_sub(m) >> MEAN_SHIFT),
        });
    }

    /// Returns the bits the code of `kind` costs now.
    fn code_cost(&self, kind: u8) -> u32 {
        self.order
            .iter()
            .position(|k| *k == kind)
            .map_or(4, |p| p as u32 + 1)
    }

    /// Moves `kind` to the front of the code order.
    fn used(&mut self, kind: u8) {
        if let Some(p) = self.order.iter().position(|k| *k == kind) {
            if let Some(head) = self.order.get_mut(..=p) {
                head.rotate_right(1);
            }
        }
    }

    fn on_same(&mut self) {
        if self.n.is_some() {
            self.learn_step(0);
        }
        self.used(SAME);
    }

    fn on_decimal(&mut self, n: i64, pn: i64, v: f64) {
        self.learn_step(n.wrapping_sub(pn));
        self.n = Some(n);
        self.v = v.to_bits();
        self.used(DECIMAL);
    }

    fn on_rescale(&mut self, scale: i8) {
        self.scale = scale;
        self.mean = None;
    }

    fn on_xor(&mut self, v: u64) {
        self.n = None;
        self.mean = None;
        self.v = v;
        self.used(XOR);
    }

    /// Returns the predicted next delta: the median of the last three, so that one
    /// missed scrape does not disturb the next prediction.
    fn predict_delta(&self) -> u64 {
        let [a, b, c] = self.dts;
        match self.nd {
            0 => 0,
            1 | 2 => a,
            _ => a.max(b).min(a.min(b).max(c)),
        }
    }

    fn on_time(&mut self, t: i64) {
        let [a, b, _] = self.dts;
        self.dts = [t.wrapping_sub(self.t) as u64, a, b];
        self.nd = (self.nd + 1).min(3);
        self.t = t;
    }
}

// === encoding ===

/// Encoder-side heuristics; not part of the format, so a decoded chunk starts afresh.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Hints {
    /// Samples left before searching for a decimal scale again, after a search failed.
    skip_search: u8,
}

/// Writes the first sample and returns the state after it.
pub(crate) fn encode_first(w: &mut BitWriter, t: i64, v: f64) -> State {
    write_escape(w, zigzag(t));
    let mut st = State::first(t, v.to_bits());
    if let Some((scale, n)) = min_scale(v) {
        let z = zigzag(n);
        if 1 + SCALE_BITS + 7 + bit_len(z) < 65 {
            w.write_bit(true);
            w.write_bits(scale_field(scale), SCALE_BITS);
            write_escape(w, z);
            st.scale = scale;
            st.n = Some(n);
            return st;
        }
    }
    w.write_bit(false);
    w.write_bits(v.to_bits(), 64);
    st
}

/// Writes the value code of `cost` bits: `cost - 1` ones then a zero, or `1111` at 4.
fn write_code(w: &mut BitWriter, cost: u32) {
    if cost >= 4 {
        w.write_bits(0b1111, 4);
    } else {
        w.write_bits((1u64 << cost) - 2, cost);
    }
}

/// Writes `u` as its bit length `L` in 7 bits and its low `L - 1` bits.
fn write_escape(w: &mut BitWriter, u: u64) {
    let len = bit_len(u);
    w.write_bits(u64::from(len), 7);
    w.write_bits(u, len.saturating_sub(1));
}

/// Writes a sample after the first; `t >= st.t` is the caller's to check.
pub(crate) fn encode_next(w: &mut BitWriter, st: &mut State, hints: &mut Hints, t: i64, v: f64) {
    debug_assert!(t >= st.t);
    let delta = t.wrapping_sub(st.t) as u64;
    let z = zigzag(delta.wrapping_sub(st.predict_delta()) as i64);
    if st.nd == 0 {
        // The first delta is unpredictable: escape it without teaching the width.
        write_escape(w, z);
    } else {
        st.tw.write(w, z);
    }
    st.on_time(t);
    encode_value(w, st, hints, v);
}

/// The cheapest way found to encode a changed value.
enum Plan {
    Decimal { n: i64, pn: i64, z: u64 },
    Rescale { scale: i8, n: i64, pn: i64, z: u64 },
    XorReuse,
    XorNew { lead: u32, trail: u32 },
}

fn encode_value(w: &mut BitWriter, st: &mut State, hints: &mut Hints, v: f64) {
    let bits = v.to_bits();
    if bits == st.v {
        write_code(w, st.code_cost(SAME));
        st.on_same();
        return;
    }
    let x = bits ^ st.v;
    let (lead, trail) = (x.leading_zeros(), x.trailing_zeros());
    let new_cost = 4 + 6 + 6 + (64 - lead - trail);
    let (mut plan, mut cost) = (Plan::XorNew { lead, trail }, new_cost);
    if st.lead != NO_WINDOW && lead >= u32::from(st.lead) && trail >= u32::from(st.trail) {
        let reuse = st.code_cost(XOR) + 64 - u32::from(st.lead) - u32::from(st.trail);
        if reuse <= cost {
            (plan, cost) = (Plan::XorReuse, reuse);
        }
    }
    if let Some((n, pn)) = to_scaled(v, st.scale).zip(st.prev_n(st.scale)) {
        let z = zigzag(n.wrapping_sub(st.predict(pn)));
        let c = st.code_cost(DECIMAL) + st.dw.cost(z);
        if c < cost {
            (plan, cost) = (Plan::Decimal { n, pn, z }, c);
        }
    } else if hints.skip_search > 0 {
        hints.skip_search -= 1;
    } else if let Some((scale, _)) = min_scale(v).filter(|(s, _)| *s != st.scale) {
        // A finer scale than the current one, where the previous value must also fit.
        let scale = scale.max(st.scale);
        match to_scaled(v, scale).zip(st.prev_n(scale)) {
            Some((n, pn)) => {
                let z = zigzag(n.wrapping_sub(pn));
                let c = 4 + SCALE_BITS + st.dw.cost(z);
                if c < cost {
                    (plan, cost) = (Plan::Rescale { scale, n, pn, z }, c);
                }
            }
            None => hints.skip_search = 8,
        }
    } else {
        hints.skip_search = 8;
    }
    let _ = cost;
    match plan {
        Plan::Decimal { n, pn, z } => {
            write_code(w, st.code_cost(DECIMAL));
            st.dw.write(w, z);
            st.on_decimal(n, pn, v);
        }
        Plan::Rescale { scale, n, pn, z } => {
            w.write_bits(0b1111, 4);
            w.write_bits(scale_field(scale), SCALE_BITS);
            st.dw.write(w, z);
            st.on_rescale(scale);
            st.on_decimal(n, pn, v);
        }
        Plan::XorReuse => {
            write_code(w, st.code_cost(XOR));
            let sig = 64 - u32::from(st.lead) - u32::from(st.trail);
            w.write_bits(x >> st.trail, sig);
            st.on_xor(bits);
        }
        Plan::XorNew { lead, trail } => {
            let sig = 64 - lead - trail;
            w.write_bits(0b1110, 4);
            w.write_bits(u64::from(lead), 6);
            w.write_bits(u64::from(sig - 1), 6);
            w.write_bits(x >> trail, sig);
            st.lead = lead as u8;
            st.trail = trail as u8;
            st.on_xor(bits);
        }
    }
}

// === decoding ===

/// Reads the first sample.
pub(crate) fn decode_first(r: &mut BitReader<'_>) -> Result<State, Corrupt> {
    let t = unzigzag(read_escape(r)?);
    if r.read_bit().ok_or(Corrupt::Eof)? {
        let scale = read_scale(r)?;
        let n = unzigzag(read_escape(r)?);
        let v = from_scaled(check_decimal(n)?, scale);
        let mut st = State::first(t, v.to_bits());
        st.scale = scale;
        st.n = Some(n);
        Ok(st)
    } else {
        let v = r.read_bits(64).ok_or(Corrupt::Eof)?;
        Ok(State::first(t, v))
    }
}

/// Reads a sample after the first, updating `st`.
pub(crate) fn decode_next(r: &mut BitReader<'_>, st: &mut State) -> Result<(), Corrupt> {
    let z = if st.nd == 0 {
        read_escape(r)?
    } else {
        st.tw.read(r)?
    };
    let delta = st.predict_delta().wrapping_add(unzigzag(z) as u64);
    let t = st.t.wrapping_add(delta as i64);
    if t < st.t {
        return Err(Corrupt::TimeBackwards);
    }
    st.on_time(t);
    let code = r.read_unary(4).ok_or(Corrupt::Eof)?;
    let kind = st.order.get(code as usize).copied();
    match (code, kind) {
        (_, Some(SAME)) => st.on_same(),
        (_, Some(DECIMAL)) => {
            let pn = st.prev_n(st.scale).ok_or(Corrupt::BadDecimal)?;
            let n = st.predict(pn).wrapping_add(unzigzag(st.dw.read(r)?));
            let v = from_scaled(check_decimal(n)?, st.scale);
            st.on_decimal(n, pn, v);
        }
        (_, Some(_)) => {
            if st.lead == NO_WINDOW {
                return Err(Corrupt::BadXorWindow);
            }
            let sig = 64 - u32::from(st.lead) - u32::from(st.trail);
            let x = r.read_bits(sig).ok_or(Corrupt::Eof)? << st.trail;
            st.on_xor(st.v ^ x);
        }
        (3, None) => {
            let lead = r.read_bits(6).ok_or(Corrupt::Eof)? as u32;
            let sig = r.read_bits(6).ok_or(Corrupt::Eof)? as u32 + 1;
            let trail = 64u32.checked_sub(lead + sig).ok_or(Corrupt::BadXorWindow)?;
            let x = r.read_bits(sig).ok_or(Corrupt::Eof)? << trail;
            st.lead = lead as u8;
            st.trail = trail as u8;
            st.on_xor(st.v ^ x);
        }
        _ => {
            let scale = read_scale(r)?;
            let pn = st.prev_n(scale).ok_or(Corrupt::BadDecimal)?;
            let n = pn.wrapping_add(unzigzag(st.dw.read(r)?));
            let v = from_scaled(check_decimal(n)?, scale);
            st.on_rescale(scale);
            st.on_decimal(n, pn, v);
        }
    }
    Ok(())
}

fn read_escape(r: &mut BitReader<'_>) -> Result<u64, Corrupt> {
    let len = r.read_bits(7).ok_or(Corrupt::Eof)? as u32;
    if len > 64 {
        return Err(Corrupt::BadLength);
    }
    let low = r.read_bits(len.saturating_sub(1)).ok_or(Corrupt::Eof)?;
    Ok(if len == 0 {
        0
    } else {
        (1u64 << (len - 1)) | low
    })
}

fn read_scale(r: &mut BitReader<'_>) -> Result<i8, Corrupt> {
    let raw = r.read_bits(SCALE_BITS).ok_or(Corrupt::Eof)?;
    Ok(MIN_SCALE.wrapping_add(raw as i8))
}

fn check_decimal(n: i64) -> Result<i64, Corrupt> {
    if n.unsigned_abs() > MAX_DECIMAL {
        return Err(Corrupt::BadDecimal);
    }
    Ok(n)
}

// === numbers ===

fn scale_field(scale: i8) -> u64 {
    debug_assert!((MIN_SCALE..=MAX_SCALE).contains(&scale));
    (scale.wrapping_sub(MIN_SCALE)) as u8 as u64
}

fn pow10(k: u8) -> f64 {
    POW10.get(usize::from(k)).copied().unwrap_or(f64::NAN)
}

/// Returns the value of decimal `n` at `scale`; both sides compute it the same way.
fn from_scaled(n: i64, scale: i8) -> f64 {
    if scale >= 0 {
        n as f64 / pow10(scale.unsigned_abs())
    } else {
        n as f64 * pow10(scale.unsigned_abs())
    }
}

/// Returns `n` with `from_scaled(n, scale)` bit-identical to `v`, if there is one.
fn to_scaled(v: f64, scale: i8) -> Option<i64> {
    let x = if scale >= 0 {
        v * pow10(scale.unsigned_abs())
    } else {
        v / pow10(scale.unsigned_abs())
    };
    let x = x.round();
    if x.is_nan() || x.abs() > MAX_DECIMAL as f64 {
        return None;
    }
    let n = x as i64;
    (from_scaled(n, scale).to_bits() == v.to_bits()).then_some(n)
}

/// Returns the coarsest scale at which `v` has an exact decimal form, and its integer there.
fn min_scale(v: f64) -> Option<(i8, i64)> {
    if !v.is_finite() {
        return None;
    }
    if v.fract() == 0.0 && v.abs() <= MAX_DECIMAL as f64 {
        let mut i = v as i64;
        if i != 0 {
            let mut k: i8 = 0;
            while k < -MIN_SCALE && i % 10 == 0 {
                i /= 10;
                k += 1;
            }
            if let Some(n) = to_scaled(v, -k) {
                return Some((-k, n));
            }
        }
        return to_scaled(v, 0).map(|n| (0, n));
    }
    for scale in 1..=MAX_SCALE {
        if (v * pow10(scale as u8)).abs() > MAX_DECIMAL as f64 {
            break;
        }
        if let Some(n) = to_scaled(v, scale) {
            return Some((scale, n));
        }
    }
    None
}

fn zigzag(x: i64) -> u64 {
    ((x << 1) ^ (x >> 63)) as u64
}

fn unzigzag(u: u64) -> i64 {
    ((u >> 1) as i64) ^ -((u & 1) as i64)
}

fn bit_len(u: u64) -> u32 {
    64 - u.leading_zeros()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_round_trips_extremes() {
        for x in [0, 1, -1, i64::MAX, i64::MIN, 12345, -98765] {
            assert_eq!(unzigzag(zigzag(x)), x);
        }
    }

    #[test]
    fn decimal_forms_are_found_for_typical_values() {
        assert_eq!(min_scale(123456.78), Some((2, 12345678)));
        assert_eq!(min_scale(1.2e9), Some((-8, 12)));
        assert_eq!(min_scale(0.0), Some((0, 0)));
        assert_eq!(min_scale(-0.0), None);
        assert_eq!(min_scale(f64::NAN), None);
        assert_eq!(min_scale(0.1 + 0.2), None);
    }

    #[test]
    fn width_cost_matches_written_bits_and_reads_back() {
        let mut enc = Width::default();
        let mut dec = Width::default();
        let mut w = BitWriter::default();
        let values = [
            0u64,
            5,
            8,
            200,
            3,
            1,
            2,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1,
            1 << 20,
            u64::MAX,
            0,
        ];
        for u in values {
            let before = w.bit_len();
            let cost = enc.cost(u);
            enc.write(&mut w, u);
            assert_eq!((w.bit_len() - before) as u32, cost, "u={u}");
        }
        let mut r = BitReader::new(w.bytes(), 0);
        for u in values {
            assert_eq!(dec.read(&mut r), Ok(u));
        }
    }
}
