//! Bit-level writer and reader for chunk encodings, most significant bit first.
//! The reader never panics: running past the end is an `Option::None`.

/// Appends bits to a byte buffer; the unused low bits of the last byte are always zero.
#[derive(Debug, Clone, Default)]
pub(crate) struct BitWriter {
    buf: Vec<u8>,
    /// Unused bits in the last byte of `buf` (0..=7).
    free: u32,
}

impl BitWriter {
    /// Wraps `buf` whose last byte has `free` (0..=7) unused, zero low bits.
    pub(crate) fn resume(buf: Vec<u8>, free: u32) -> Self {
        debug_assert!(free < 8);
        Self { buf, free }
    }

    pub(crate) fn from_bytes(buf: Vec<u8>) -> Self {
        Self { buf, free: 0 }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// Returns the number of bits written so far.
    #[cfg(test)]
    pub(crate) fn bit_len(&self) -> usize {
        self.buf.len() * 8 - self.free as usize
    }

    pub(crate) fn write_bit(&mut self, bit: bool) {
        self.write_bits(u64::from(bit), 1);
    }

    /// Pushes a byte, growing by a quarter rather than doubling: chunks live long in memory,
    /// so slack costs more than the extra reallocations.
    fn push(&mut self, b: u8) {
        if self.buf.len() == self.buf.capacity() {
            self.buf.reserve_exact((self.buf.capacity() / 4).max(16));
        }
        self.buf.push(b);
    }

    /// Writes the low `n` bits of `v` (`n <= 64`).
    pub(crate) fn write_bits(&mut self, v: u64, n: u32) {
        debug_assert!(n <= 64);
        let mut n = n;
        while n > 0 {
            if self.free == 0 {
                // Whole bytes go straight in.
                if n >= 8 {
                    self.push((v >> (n - 8)) as u8);
                    n -= 8;
                    continue;
                }
                self.push(0);
                self.free = 8;
            }
            let take = n.min(self.free);
            let bits = ((v >> (n - take)) & ((1u64 << take) - 1)) as u8;
            if let Some(last) = self.buf.last_mut() {
                *last |= bits << (self.free - take);
            }
            self.free -= take;
            n -= take;
        }
    }
}

/// Reads bits from a byte slice; every read past the end returns `None`.
#[derive(Debug, Clone)]
pub(crate) struct BitReader<'a> {
    buf: &'a [u8],
    /// Position in bits from the start of `buf`.
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub(crate) fn new(buf: &'a [u8], pos: usize) -> Self {
        Self { buf, pos }
    }

    /// Returns the position in bits.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.buf.get(self.pos / 8)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Some(bit == 1)
    }

    /// Reads `n` bits (`n <= 64`) as the low bits of the result.
    pub(crate) fn read_bits(&mut self, n: u32) -> Option<u64> {
        if n == 0 {
            return Some(0);
        }
        if n > 64 {
            return None;
        }
        let off = (self.pos % 8) as u32;
        // Fast path: the bits lie within the next 8 bytes.
        if n + off <= 64 {
            let start = self.pos / 8;
            if let Some(word) = self
                .buf
                .get(start..start + 8)
                .and_then(|w| w.try_into().ok())
            {
                let v = (u64::from_be_bytes(word) << off) >> (64 - n);
                self.pos += n as usize;
                return Some(v);
            }
        }
        let mut n = n;
        let mut v = 0u64;
        while n > 0 {
            let byte = u64::from(*self.buf.get(self.pos / 8)?);
            let off = (self.pos % 8) as u32;
            let avail = 8 - off;
            let take = n.min(avail);
            let bits = (byte >> (avail - take)) & ((1u64 << take) - 1);
            // `take <= 8` and at most 64 bits are gathered, so nothing meaningful shifts out.
            v = (v << take) | bits;
            self.pos += take as usize;
            n -= take;
        }
        Some(v)
    }

    /// Counts leading one bits, up to `max`, consuming them and the terminating zero
    /// (no terminator is read once `max` ones were seen).
    pub(crate) fn read_unary(&mut self, max: u32) -> Option<u32> {
        let mut k = 0;
        while k < max {
            if !self.read_bit()? {
                break;
            }
            k += 1;
        }
        Some(k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_across_byte_boundaries() {
        let mut w = BitWriter::default();
        let items: [(u64, u32); 7] = [
            (1, 1),
            (0b101, 3),
            (u64::MAX, 64),
            (0, 5),
            (0x1234, 13),
            (7, 3),
            (1 << 40, 41),
        ];
        for (v, n) in items {
            w.write_bits(v, n);
        }
        let total: u32 = items.iter().map(|(_, n)| n).sum();
        assert_eq!(w.bit_len(), total as usize);
        let mut r = BitReader::new(w.bytes(), 0);
        for (v, n) in items {
            let mask = if n == 64 { u64::MAX } else { (1u64 << n) - 1 };
            assert_eq!(r.read_bits(n), Some(v & mask));
        }
        assert_eq!(r.pos(), total as usize);
    }

    #[test]
    fn reading_past_the_end_is_none() {
        let mut r = BitReader::new(&[0xff], 0);
        assert_eq!(r.read_bits(8), Some(0xff));
        assert_eq!(r.read_bit(), None);
        assert_eq!(r.read_bits(65), None);
    }

    #[test]
    fn resumed_writer_continues_in_the_last_byte() {
        let mut w = BitWriter::default();
        w.write_bits(0b101, 3);
        let mut w = BitWriter::resume(w.into_bytes(), 5);
        w.write_bits(0b11111, 5);
        assert_eq!(w.bytes(), &[0b1011_1111]);
    }
}
