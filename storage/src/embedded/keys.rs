//! Key and value encodings of the embedded store.
//!
//! Every integer in a key is big-endian so that byte order is numeric order.
//!
//! Per partition (one ingest-time bucket):
//! - data keyspace: `seq(8)` → one block: the zstd-compressed concatenation of the
//!   chunks of one write batch (up to ~64 KiB raw). A chunk is one OTLP `TracesData`
//!   holding the spans of one trace from that batch, so a whole block also decodes as
//!   one `TracesData` (protobuf concatenation appends repeated fields).
//! - index keyspace:
//!   - `'R' | trace_id(16) | seq(8)` → chunk reference (block seq, offset, length);
//!     `get_trace` is a prefix scan on `'R' | trace_id`.
//!   - `'S' | hash(service)(8) | ts_us(8) | block_seq(8)` → a posting: the start and
//!     duration range of that service's spans in the block, the positions of the chunks
//!     holding them, and the 16-bit fingerprints of their operation and tag terms. `ts_us` is the latest span start of that service
//!     in the block, so a search is a reverse range scan per service that visits
//!     postings in the order of the most recent span they can hold.
//!
//! Not partitioned: `meta` (partition statistics), `ops` (service/operation/kind →
//! last-seen day), `deps` (dependency windows).

use jaeger_model::TraceId;
use xxhash_rust::xxh3::xxh3_64;

use crate::{Result, StorageError};

pub(crate) const POSTING_TAG: u8 = b'S';
pub(crate) const REF_TAG: u8 = b'R';
pub(crate) const REF_KEY_LEN: usize = 1 + 16 + 8;
pub(crate) const POSTING_KEY_LEN: usize = 1 + 8 + 8 + 8;

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

pub(crate) fn block_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

pub(crate) fn ref_key(trace_id: &TraceId, seq: u64) -> [u8; REF_KEY_LEN] {
    let mut k = [0u8; REF_KEY_LEN];
    k[0] = REF_TAG;
    k[1..17].copy_from_slice(&trace_id.0);
    k[17..].copy_from_slice(&seq.to_be_bytes());
    k
}

pub(crate) fn ref_prefix(trace_id: &TraceId) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = REF_TAG;
    k[1..].copy_from_slice(&trace_id.0);
    k
}

/// Where a chunk lives: a byte range of a block's uncompressed content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct ChunkRef {
    pub block: u64,
    pub offset: u32,
    pub len: u32,
}

impl ChunkRef {
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.block);
        put_varint(out, u64::from(self.offset));
        put_varint(out, u64::from(self.len));
    }

    pub(crate) fn decode(b: &mut &[u8]) -> Result<Self> {
        let block = get_varint(b)?;
        let offset = u32::try_from(get_varint(b)?)
            .map_err(|_| StorageError::Corrupt("chunk offset".into()))?;
        let len = u32::try_from(get_varint(b)?)
            .map_err(|_| StorageError::Corrupt("chunk length".into()))?;
        Ok(Self { block, offset, len })
    }
}

pub(crate) fn posting_key(service: u64, ts_us: u64, block: u64) -> [u8; POSTING_KEY_LEN] {
    let mut k = [0u8; POSTING_KEY_LEN];
    k[0] = POSTING_TAG;
    k[1..9].copy_from_slice(&service.to_be_bytes());
    k[9..17].copy_from_slice(&ts_us.to_be_bytes());
    k[17..25].copy_from_slice(&block.to_be_bytes());
    k
}

/// The decoded parts of a posting key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PostingKey {
    pub ts_us: u64,
    pub block: u64,
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
        block: be_u64(&k[17..25]),
    })
}

pub(crate) fn be_u64(b: &[u8]) -> u64 {
    u64::from_be_bytes(b.try_into().expect("caller passes 8 bytes"))
}

/// What a posting says about one service's spans in one chunk, in microseconds.
/// Bounds are widened (floor/ceil) so that a filter on them never loses a match.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Posting {
    pub min_start_us: u64,
    pub min_duration_us: u64,
    pub max_duration_us: u64,
    /// (offset, length) of the block's chunks holding the service's spans, ascending.
    pub chunks: Vec<(u32, u32)>,
    /// Sorted, deduplicated fingerprints of operation and tag terms.
    pub fingerprints: Vec<u16>,
}

/// Borrowed view of an encoded posting, decoded lazily on the search path.
pub(crate) struct PostingView<'a> {
    pub min_start_us: u64,
    pub min_duration_us: u64,
    pub max_duration_us: u64,
    /// Encoded chunk list (see `chunks`).
    chunk_list: &'a [u8],
    fingerprints: &'a [u8],
}

impl Posting {
    /// `ts_us` is the key's time: the latest span start.
    pub(crate) fn encode(&self, ts_us: u64, out: &mut Vec<u8>) {
        put_varint(out, ts_us.saturating_sub(self.min_start_us));
        put_varint(out, self.min_duration_us);
        put_varint(out, self.max_duration_us);
        // Fingerprints before the chunk list: the scan reads them for every posting,
        // the chunk list only for postings that pass.
        put_varint(out, self.fingerprints.len() as u64);
        for fp in &self.fingerprints {
            out.extend_from_slice(&fp.to_le_bytes());
        }
        put_varint(out, self.chunks.len() as u64);
        let mut end = 0u32;
        for &(offset, len) in &self.chunks {
            // Offsets ascend: store the gap after the previous chunk.
            put_varint(out, u64::from(offset.saturating_sub(end)));
            put_varint(out, u64::from(len));
            end = offset.saturating_add(len);
        }
    }
}

impl<'a> PostingView<'a> {
    pub(crate) fn decode(ts_us: u64, mut v: &'a [u8]) -> Result<Self> {
        let width = get_varint(&mut v)?;
        let min_duration_us = get_varint(&mut v)?;
        let max_duration_us = get_varint(&mut v)?;
        let n = get_varint(&mut v)?;
        let fp_bytes = usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(2))
            .filter(|b| *b <= v.len())
            .ok_or_else(|| StorageError::Corrupt("fingerprint list".into()))?;
        let (fingerprints, chunk_list) = v.split_at(fp_bytes);
        Ok(Self {
            min_start_us: ts_us.saturating_sub(width),
            min_duration_us,
            max_duration_us,
            chunk_list,
            fingerprints,
        })
    }

    /// The (offset, length) of the chunks holding the service's spans.
    pub(crate) fn chunks(&self) -> Result<Vec<(u32, u32)>> {
        let mut v = self.chunk_list;
        let n = get_varint(&mut v)?;
        let mut out = Vec::with_capacity(n.min(4096) as usize);
        let mut end = 0u64;
        let too_big = |_| StorageError::Corrupt("chunk position".into());
        for _ in 0..n {
            let offset = end + get_varint(&mut v)?;
            let len = get_varint(&mut v)?;
            out.push((
                u32::try_from(offset).map_err(too_big)?,
                u32::try_from(len).map_err(too_big)?,
            ));
            end = offset + len;
        }
        Ok(out)
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
            min_start_us: 999_500,
            min_duration_us: 3,
            max_duration_us: 70_000,
            chunks: vec![(0, 100), (250, 3), (253, 1 << 20)],
            fingerprints: vec![1, 7, 300, 65535],
        };
        let mut buf = Vec::new();
        p.encode(1_000_000, &mut buf);
        let v = PostingView::decode(1_000_000, &buf).unwrap();
        assert_eq!(v.min_start_us, 999_500);
        assert_eq!((v.min_duration_us, v.max_duration_us), (3, 70_000));
        assert_eq!(v.chunks().unwrap(), p.chunks);
        assert!(v.contains_all(&[7, 65535, 1]));
        assert!(v.contains_all(&[]));
        assert!(!v.contains_all(&[7, 8]));
    }

    #[test]
    fn posting_keys_sort_by_time_and_roundtrip() {
        let a = posting_key(9, 100, 5);
        let b = posting_key(9, 101, 1);
        assert!(a < b);
        let parsed = parse_posting_key(&b).unwrap();
        assert_eq!(parsed.ts_us, 101);
        assert_eq!(parsed.block, 1);
        assert!(parse_posting_key(&b[1..]).is_err());
    }

    #[test]
    fn chunk_refs_roundtrip() {
        let r = ChunkRef {
            block: 77,
            offset: 1 << 20,
            len: 300,
        };
        let mut buf = Vec::new();
        r.encode(&mut buf);
        assert_eq!(ChunkRef::decode(&mut &buf[..]).unwrap(), r);
        assert!(ChunkRef::decode(&mut &buf[..2]).is_err());
        let k = ref_key(&TraceId::from_u64s(3, 4), 9);
        assert!(k.starts_with(&ref_prefix(&TraceId::from_u64s(3, 4))));
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
