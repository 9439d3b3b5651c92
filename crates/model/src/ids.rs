//! Trace and span identifiers: fixed-size byte arrays, hex on the wire (W3C / OTLP JSON form).

use std::fmt;
use std::str::FromStr;

/// Why an id could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("expected {expected} hex characters, got {got}")]
    Length { expected: usize, got: usize },
    #[error("not a hex string")]
    NotHex,
    #[error("all-zero id is invalid")]
    Zero,
}

fn parse_hex<const N: usize>(s: &str) -> Result<[u8; N], IdError> {
    if s.len() != N * 2 {
        return Err(IdError::Length {
            expected: N * 2,
            got: s.len(),
        });
    }
    let mut out = [0u8; N];
    let bytes = s.as_bytes();
    for (i, chunk) in bytes.chunks_exact(2).enumerate() {
        let hi = hex_val(chunk.first().copied()).ok_or(IdError::NotHex)?;
        let lo = hex_val(chunk.get(1).copied()).ok_or(IdError::NotHex)?;
        if let Some(slot) = out.get_mut(i) {
            *slot = (hi << 4) | lo;
        }
    }
    if out.iter().all(|b| *b == 0) {
        return Err(IdError::Zero);
    }
    Ok(out)
}

fn hex_val(c: Option<u8>) -> Option<u8> {
    match c? {
        c @ b'0'..=b'9' => Some(c - b'0'),
        c @ b'a'..=b'f' => Some(c - b'a' + 10),
        c @ b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn write_hex(f: &mut fmt::Formatter<'_>, bytes: &[u8]) -> fmt::Result {
    for b in bytes {
        write!(f, "{b:02x}")?;
    }
    Ok(())
}

macro_rules! id_type {
    ($name:ident, $n:literal, $doc:literal) => {
        #[doc = $doc]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $n]);

        impl $name {
            /// Builds an id from raw bytes; fails on the wrong length or all zeros.
            pub fn from_bytes(b: &[u8]) -> Result<Self, IdError> {
                let arr: [u8; $n] = b.try_into().map_err(|_| IdError::Length {
                    expected: $n * 2,
                    got: b.len() * 2,
                })?;
                if arr.iter().all(|x| *x == 0) {
                    return Err(IdError::Zero);
                }
                Ok(Self(arr))
            }

            /// Returns a random, non-zero id.
            pub fn random(mut next_u64: impl FnMut() -> u64) -> Self {
                loop {
                    let mut out = [0u8; $n];
                    for chunk in out.chunks_mut(8) {
                        let r = next_u64().to_le_bytes();
                        let n = chunk.len();
                        chunk.copy_from_slice(r.get(..n).unwrap_or(&[0; 8][..n]));
                    }
                    if out.iter().any(|x| *x != 0) {
                        return Self(out);
                    }
                }
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                parse_hex::<$n>(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(f, &self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    TraceId,
    16,
    "A 16-byte trace id, shown as 32 lowercase hex characters."
);
id_type!(
    SpanId,
    8,
    "An 8-byte span id, shown as 16 lowercase hex characters."
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_round_trips_through_hex() {
        let id: TraceId = "5b8efff798038103d269b633813fc60c".parse().unwrap();
        assert_eq!(id.to_string(), "5b8efff798038103d269b633813fc60c");
    }

    #[test]
    fn span_id_rejects_wrong_length_and_zero() {
        assert_eq!(
            "abc".parse::<SpanId>(),
            Err(IdError::Length {
                expected: 16,
                got: 3
            })
        );
        assert_eq!("0000000000000000".parse::<SpanId>(), Err(IdError::Zero));
        assert_eq!("zz00000000000000".parse::<SpanId>(), Err(IdError::NotHex));
    }

    #[test]
    fn random_ids_are_non_zero() {
        let mut n = 0u64;
        let id = SpanId::random(|| {
            n += 1;
            if n == 1 {
                0
            } else {
                n
            }
        });
        assert!(id.0.iter().any(|b| *b != 0));
    }
}
