//! Trace and span ids, with Jaeger's textual forms.

use std::fmt;

use base64::Engine;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IdError {
    #[error("TraceID cannot be longer than 32 hex characters: {0}")]
    TooLong(String),
    #[error("strconv.ParseUint: parsing {0:?}: invalid syntax")]
    InvalidHex(String),
    #[error("invalid {what} length {len}, expected {expected} bytes")]
    InvalidLength {
        what: &'static str,
        len: usize,
        expected: usize,
    },
}

/// A 128-bit trace id. All zeros means "unset".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub [u8; 16]);

/// A 64-bit span id. All zeros means "unset".
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub [u8; 8]);

impl TraceId {
    pub const ZERO: TraceId = TraceId([0; 16]);

    /// From OTLP bytes: exactly 16 bytes, or empty for "unset".
    pub fn from_slice(b: &[u8]) -> Result<Self, IdError> {
        match b.len() {
            0 => Ok(Self::ZERO),
            16 => Ok(Self(b.try_into().expect("length checked"))),
            len => Err(IdError::InvalidLength {
                what: "trace id",
                len,
                expected: 16,
            }),
        }
    }

    pub fn from_u64s(high: u64, low: u64) -> Self {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&high.to_be_bytes());
        b[8..].copy_from_slice(&low.to_be_bytes());
        Self(b)
    }

    pub fn high(&self) -> u64 {
        u64::from_be_bytes(self.0[..8].try_into().expect("8 bytes"))
    }

    pub fn low(&self) -> u64 {
        u64::from_be_bytes(self.0[8..].try_into().expect("8 bytes"))
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }

    /// Jaeger's hex parsing: 1 to 32 hex digits, case-insensitive; when longer than
    /// 16 the leading digits are the high 64 bits.
    pub fn parse_hex(s: &str) -> Result<Self, IdError> {
        if s.len() > 32 {
            return Err(IdError::TooLong(s.to_string()));
        }
        if s.is_empty() {
            return Err(IdError::InvalidHex(s.to_string()));
        }
        let (hi, lo) = if s.len() > 16 {
            s.split_at(s.len() - 16)
        } else {
            ("", s)
        };
        let parse = |p: &str| -> Result<u64, IdError> {
            if p.is_empty() {
                return Ok(0);
            }
            if !p.bytes().all(|c| c.is_ascii_hexdigit()) {
                return Err(IdError::InvalidHex(p.to_string()));
            }
            u64::from_str_radix(p, 16).map_err(|_| IdError::InvalidHex(p.to_string()))
        };
        Ok(Self::from_u64s(parse(hi)?, parse(lo)?))
    }

    /// Hex first, then (for path parameters, Jaeger v2.20+) base64 of 16 or 8 bytes.
    pub fn parse_hex_or_base64(s: &str) -> Result<Self, IdError> {
        match Self::parse_hex(s) {
            Ok(id) => Ok(id),
            Err(hex_err) => {
                if s.len() <= 24 {
                    use base64::engine::general_purpose::{
                        STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD,
                    };
                    for engine in [&STANDARD, &URL_SAFE, &STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
                        if let Ok(bytes) = engine.decode(s) {
                            match bytes.len() {
                                16 => return Self::from_slice(&bytes),
                                8 => {
                                    let mut b = [0u8; 16];
                                    b[8..].copy_from_slice(&bytes);
                                    return Ok(Self(b));
                                }
                                _ => {}
                            }
                        }
                    }
                }
                Err(hex_err)
            }
        }
    }

    /// Jaeger's string form: 16 hex digits when the high half is zero, else 32.
    pub fn to_jaeger_string(&self) -> String {
        if self.high() == 0 {
            format!("{:016x}", self.low())
        } else {
            hex::encode(self.0)
        }
    }

    /// Always 32 lowercase hex digits (OTLP JSON, api_v3).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl SpanId {
    pub const ZERO: SpanId = SpanId([0; 8]);

    pub fn from_slice(b: &[u8]) -> Result<Self, IdError> {
        match b.len() {
            0 => Ok(Self::ZERO),
            8 => Ok(Self(b.try_into().expect("length checked"))),
            len => Err(IdError::InvalidLength {
                what: "span id",
                len,
                expected: 8,
            }),
        }
    }

    pub fn from_u64(v: u64) -> Self {
        Self(v.to_be_bytes())
    }

    pub fn as_u64(&self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    pub fn is_zero(&self) -> bool {
        self.0 == [0; 8]
    }

    /// Always 16 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn parse_hex(s: &str) -> Result<Self, IdError> {
        if s.is_empty() || s.len() > 16 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
            return Err(IdError::InvalidHex(s.to_string()));
        }
        u64::from_str_radix(s, 16)
            .map(Self::from_u64)
            .map_err(|_| IdError::InvalidHex(s.to_string()))
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({})", self.to_hex())
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_jaeger_string())
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({})", self.to_hex())
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jaeger_string_drops_zero_high_half() {
        let id = TraceId::parse_hex("00000000000000000000000000000001").unwrap();
        assert_eq!(id.to_jaeger_string(), "0000000000000001");
        assert_eq!(id.to_hex(), "00000000000000000000000000000001");
        let id = TraceId::parse_hex("83a9efd15c1c98a977e0711cc93ee28b").unwrap();
        assert_eq!(id.to_jaeger_string(), "83a9efd15c1c98a977e0711cc93ee28b");
    }

    #[test]
    fn short_hex_is_low_bits() {
        let id = TraceId::parse_hex("abc").unwrap();
        assert_eq!(id.low(), 0xabc);
        assert_eq!(id.high(), 0);
        let id = TraceId::parse_hex("1ffffffffffffffff").unwrap();
        assert_eq!(id.high(), 1);
        assert_eq!(id.low(), u64::MAX);
    }

    #[test]
    fn bad_hex_errors_match_jaeger() {
        let long = "0".repeat(33);
        assert_eq!(
            TraceId::parse_hex(&long).unwrap_err().to_string(),
            format!("TraceID cannot be longer than 32 hex characters: {long}")
        );
        assert!(TraceId::parse_hex("xyz").is_err());
        assert!(TraceId::parse_hex("").is_err());
    }

    #[test]
    fn base64_fallback() {
        let id = TraceId::from_u64s(1, 2);
        let b64 = base64::engine::general_purpose::STANDARD.encode(id.0);
        assert_eq!(TraceId::parse_hex_or_base64(&b64).unwrap(), id);
    }

    #[test]
    fn slice_lengths_checked() {
        assert!(TraceId::from_slice(&[1; 15]).is_err());
        assert_eq!(TraceId::from_slice(&[]).unwrap(), TraceId::ZERO);
        assert!(SpanId::from_slice(&[1; 9]).is_err());
    }
}
