//! Key and value encodings of the embedded store.
//!
//! Every integer in a key is big-endian so that byte order is numeric order.
//!
//! Per partition (one ingest-time bucket):
//! - data keyspace: `trace_id(16) | seq(8)` → one chunk (the spans of one trace from one
//!   write batch, see `chunk`). `get_trace` is a prefix scan on the trace id.
//! - index keyspace: `'S' | hash(service)(8) | ts_us(8) | trace_id(16) | seq(8)` → a
//!   posting: the start and duration range of that service's spans in the chunk and the
//!   16-bit fingerprints of their operation and tag terms. `ts_us` is the earliest span
//!   start of that service in the chunk, so a search is a reverse range scan per service.
//!
//! Not partitioned: `meta` (partition statistics), `ops` (service/operation/kind →
//! last-seen day), `deps` (dependency windows).

use jaeger_model::TraceId;
use xxhash_rust::xxh3::xxh3_64;

use crate::{Result, StorageError};

pub(crate) const POSTING_TAG: u8 = b'S';
pub(crate) const DATA_KEY_LEN: usize = 16 + 8;
pub(crate) const POSTING_KEY_LEN: usize = 1 + 8 + 8 + 16 + 8;

/// Kinds of hashed terms, so that an operation named like a tag never collides.
const TERM_SERVICE: u8 = b's';
const TERM_OPERATION: u8 = b'o';
const TERM_TAG: u8 = b't';

/// Stable 64-bit hash of a service name (persisted in keys: never change it).
pub(crate) fn service_hash(service: &str) -> u64 {
    let mut buf = Vec::with_capacity(service.len() + 1);
    buf.push(TERM_SERVICE);
    buf.extend_from_slice(service.as_bytes());
    xxh3_64(&buf)
}

/// Builds term hashes with one reusable buffer (the write path hashes every attribute).
#[derive(Default)]
pub(crate) struct TermHasher {
    buf: Vec<u8>,
}

impl TermHasher {
    pub(crate) fn operation(&mut self, name: &str) -> u16 {
        self.buf.clear();
        self.buf.push(TERM_OPERATION);
        self.buf.extend_from_slice(name.as_bytes());
        fingerprint(xxh3_64(&self.buf))
    }

    pub(crate) fn tag(&mut self, key: &str, value: &str) -> u16 {
        self.buf.clear();
        self.buf.push(TERM_TAG);
        self.buf.extend_from_slice(key.as_bytes());
        // 0xff never occurs in UTF-8, so (key, value) splits are unambiguous.
        self.buf.push(0xff);
        self.buf.extend_from_slice(value.as_bytes());
        fingerprint(xxh3_64(&self.buf))
    }
}

/// The 16 bits of a term hash kept in postings.
fn fingerprint(h: u64) -> u16 {
    (h >> 48) as u16
}

pub(crate) fn data_key(trace_id: &TraceId, seq: u64) -> [u8; DATA_KEY_LEN] {
    let mut k = [0u8; DATA_KEY_LEN];
    k[..16].copy_from_slice(&trace_id.0);
    k[16..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub(crate) fn posting_key(
    service: u64,
    ts_us: u64,
    trace_id: &[u8; 16],
    seq: u64,
) -> [u8; POSTING_KEY_LEN] {
    let mut k = [0u8; POSTING_KEY_LEN];
    k[0] = POSTING_TAG;
    k[1..9].copy_from_slice(&service.to_be_bytes());
    k[9..17].copy_from_slice(&ts_us.to_be_bytes());
    k[17..33].copy_from_slice(trace_id);
    k[33..41].copy_from_slice(&seq.to_be_bytes());
    k
}

/// The decoded parts of a posting key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PostingKey {
    pub ts_us: u64,
    pub trace_id: TraceId,
    pub seq: u64,
}

pub(crate) fn parse_posting_key(k: &[u8]) -> Result<PostingKey> {
    if k.len() != POSTING_KEY_LEN || k[0] != POSTING_TAG {
        return Err(StorageError::Corrupt(format!(
            "index key of {} bytes, expected {POSTING_KEY_LEN}",
            k.len()
        )));
    }
    Ok(PostingKey {
        ts_us: be_u64(&k[9..17]),
        trace_id: TraceId(k[17..33].try_into().expect("16-byte slice")),
        seq: be_u64(&k[33..41]),
    })
}

pub(crate) fn be_u64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b.try_into().expect("caller passes 8 bytes"))
}

/// What a posting says about one service's spans in one chunk, in microseconds.
/// Bounds are widened (floor/ceil) so that a filter on them never loses a match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Posting {
    pub max_start_us: u64,
    pub min_duration_us: u64,
    pub max_duration_us: u64,
    /// Sorted, deduplicated fingerprints of operation and tag terms.
    pub fingerprints: Vec<u16>,
}

/// Borrowed view of an encoded posting, decoded lazily on the search path.
pub(crate) struct PostingView<'a> {
    pub max_start_us: u64,
    pub min_duration_us: u64,
    pub max_duration_us: u64,
    fingerprints: &'a [u8],
}

impl Posting {
    pub(crate) fn encode(&self, ts_us: u64, out: &mut Vec<u8>) {
        put_varint(out, self.max_start_us.saturating_sub(ts_us));
        put_varint(out, self.min_duration_us);
        put_varint(out, self.max_duration_us);
        for fp in &self.fingerprints {
            out.extend_from_slice(&fp.to_le_bytes());
        }
    }
}

impl<'a> PostingView<'a> {
    pub(crate) fn decode(ts_us: u64, mut v: &'a [u8]) -> Result<Self> {
        let width = get_varint(&mut v)?;
        let min_duration_us = get_varint(&mut v)?;
        let max_duration_us = get_varint(&mut v)?;
        if v.len() % 2 != 0 {
            return Err(StorageError::Corrupt("odd fingerprint list".into()));
        }
        Ok(Self {
            max_start_us: ts_us.saturating_add(width),
            min_duration_us,
            max_duration_us,
            fingerprints: v,
        })
    }

    /// Whether every wanted fingerprint is present (the list is sorted).
    pub(crate) fn contains_all(&self, wanted: &[u16]) -> bool {
        wanted.iter().all(|w| {
            let n = self.fingerprints.len() / 2;
            let (mut lo, mut hi) = (0usize, n);
            while lo < hi {
                let mid = (lo + hi) / 2;
                let i = mid * 2;
                let v = u16::from_le_bytes([self.fingerprints[i], self.fingerprints[i + 1]]);
                match v.cmp(w) {
                    std::cmp::Ordering::Less => lo = mid + 1,
                    std::cmp::Ordering::Greater => hi = mid,
                    std::cmp::Ordering::Equal => return true,
                }
            }
            false
        })
    }
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn get_varint(b: &mut &[u8]) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let Some((&byte, rest)) = b.split_first() else {
            return Err(StorageError::Corrupt("truncated varint".into()));
        };
        *b = rest;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(StorageError::Corrupt("varint longer than 10 bytes".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posting_roundtrip_and_membership() {
        let p = Posting {
            max_start_us: 1_000_500,
            min_duration_us: 3,
            max_duration_us: 70_000,
            fingerprints: vec![1, 7, 300, 65535],
        };
        let mut buf = Vec::new();
        p.encode(1_000_000, &mut buf);
        let v = PostingView::decode(1_000_000, &buf).unwrap();
        assert_eq!(v.max_start_us, 1_000_500);
        assert_eq!((v.min_duration_us, v.max_duration_us), (3, 70_000));
        assert!(v.contains_all(&[7, 65535, 1]));
        assert!(v.contains_all(&[]));
        assert!(!v.contains_all(&[7, 8]));
    }

    #[test]
    fn posting_keys_sort_by_time_and_roundtrip() {
        let t = TraceId::from_u64s(1, 2);
        let a = posting_key(9, 100, &t.0, 5);
        let b = posting_key(9, 101, &t.0, 1);
        assert!(a < b);
        let parsed = parse_posting_key(&b).unwrap();
        assert_eq!(parsed.ts_us, 101);
        assert_eq!(parsed.trace_id, t);
        assert_eq!(parsed.seq, 1);
        assert!(parse_posting_key(&b[1..]).is_err());
    }

    #[test]
    fn varint_rejects_truncation() {
        let mut buf = Vec::new();
        put_varint(&mut buf, u64::MAX);
        let mut s = &buf[..];
        assert_eq!(get_varint(&mut s).unwrap(), u64::MAX);
        let mut t = &buf[..3];
        assert!(get_varint(&mut t).is_err());
    }

    #[test]
    fn term_kinds_do_not_collide() {
        let mut h = TermHasher::default();
        // Same bytes, different kinds: distinct hashes with overwhelming probability.
        assert_ne!(h.operation("a"), h.tag("a", ""));
    }
}
