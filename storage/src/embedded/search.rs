//! Trace search: reverse range scans over service postings, merged newest first.
//!
//! For each partition whose span start range overlaps the query, and each service
//! asked for (all known services when none is), the postings with key time in
//! `[start_min - max_width, start_max]` are scanned newest first. A posting is skipped
//! when its start range, duration range or fingerprints rule the query out; otherwise
//! its chunk is loaded and checked span by span, unless the posting alone proves the
//! match. The streams are merged by time so results come out most recent first.

use std::collections::{BinaryHeap, HashSet};
use std::iter::Rev;

use fjall::{Iter, Slice};
use jaeger_model::TraceId;

use super::chunk::{SpanMatcher, decode_chunk, query_fingerprints};
use super::keys::{PostingView, data_key, parse_posting_key, posting_key, service_hash};
use super::{Inner, Partition};
use crate::{Result, TraceQuery};

/// Used when a query asks for no limit (0).
pub(crate) const DEFAULT_LIMIT: usize = 100;

/// Posting-level conditions, in the posting's microsecond units.
struct PostingFilter {
    start_min_us: u64,
    duration_min_us: Option<u64>,
    duration_max_us: Option<u64>,
    fingerprints: Vec<u16>,
}

impl PostingFilter {
    fn passes(&self, p: &PostingView<'_>) -> bool {
        p.max_start_us >= self.start_min_us
            && self.duration_min_us.is_none_or(|m| p.max_duration_us >= m)
            && self.duration_max_us.is_none_or(|m| p.min_duration_us <= m)
            && p.contains_all(&self.fingerprints)
    }
}

struct Candidate {
    ts_us: u64,
    seq: u64,
    trace_id: TraceId,
    max_start_us: u64,
    stream: usize,
}

impl PartialEq for Candidate {
    fn eq(&self, o: &Self) -> bool {
        (self.ts_us, self.seq, self.stream) == (o.ts_us, o.seq, o.stream)
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Candidate {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.ts_us, self.seq, self.stream).cmp(&(o.ts_us, o.seq, o.stream))
    }
}

struct Stream {
    partition: usize,
    iter: Rev<Iter>,
}

impl Stream {
    /// The next posting that passes the filter, newest first.
    fn next(&mut self, id: usize, filter: &PostingFilter) -> Result<Option<Candidate>> {
        for kv in self.iter.by_ref() {
            let (k, v): (Slice, Slice) = kv.into_inner()?;
            let key = parse_posting_key(&k)?;
            let view = PostingView::decode(key.ts_us, &v)?;
            if filter.passes(&view) {
                return Ok(Some(Candidate {
                    ts_us: key.ts_us,
                    seq: key.seq,
                    trace_id: key.trace_id,
                    max_start_us: view.max_start_us,
                    stream: id,
                }));
            }
        }
        Ok(None)
    }
}

pub(crate) fn find_trace_ids(store: &Inner, q: &TraceQuery) -> Result<Vec<TraceId>> {
    let limit = if q.num_traces == 0 {
        DEFAULT_LIMIT
    } else {
        q.num_traces
    };
    let matcher = SpanMatcher::new(q);
    let start_min_us = matcher.start_min / 1000;
    let start_max_us = matcher.start_max.div_ceil(1000);
    if start_min_us > start_max_us {
        return Ok(Vec::new());
    }
    let filter = PostingFilter {
        start_min_us,
        duration_min_us: matcher.duration_min.map(|d| d / 1000),
        duration_max_us: matcher.duration_max.map(|d| d.div_ceil(1000)),
        fingerprints: query_fingerprints(&matcher),
    };
    // The posting alone proves a match when only service and time are asked and all of
    // the service's spans in the chunk lie inside the time range.
    let posting_decides = matcher.operation.is_none()
        && matcher.tags.is_empty()
        && matcher.duration_min.is_none()
        && matcher.duration_max.is_none();

    let services: Vec<u64> = match matcher.service {
        Some(s) => vec![service_hash(s)],
        None => store
            .all_service_names()
            .iter()
            .map(|s| service_hash(s))
            .collect(),
    };

    let partitions: Vec<std::sync::Arc<Partition>> = store
        .partitions_snapshot()
        .into_iter()
        .filter(|p| {
            p.stats
                .lock()
                .expect("stats lock")
                .overlaps(start_min_us, start_max_us)
        })
        .collect();

    let mut streams = Vec::new();
    for (pi, p) in partitions.iter().enumerate() {
        let width = p.stats.lock().expect("stats lock").max_width_us;
        let lo_ts = start_min_us.saturating_sub(width);
        for &svc in &services {
            let lo = posting_key(svc, lo_ts, &[0; 16], 0);
            let hi = posting_key(svc, start_max_us, &[0xff; 16], u64::MAX);
            streams.push(Stream {
                partition: pi,
                iter: p.index.range(lo..=hi).rev(),
            });
        }
    }

    let mut heap = BinaryHeap::with_capacity(streams.len());
    for (i, s) in streams.iter_mut().enumerate() {
        if let Some(c) = s.next(i, &filter)? {
            heap.push(c);
        }
    }

    let mut found: Vec<TraceId> = Vec::new();
    let mut seen: HashSet<TraceId> = HashSet::new();
    while let Some(c) = heap.pop() {
        if let Some(next) = streams[c.stream].next(c.stream, &filter)? {
            heap.push(next);
        }
        if seen.contains(&c.trace_id) {
            continue;
        }
        let certain = posting_decides
            && c.ts_us.saturating_mul(1000) >= matcher.start_min
            && c.max_start_us.saturating_mul(1000) <= matcher.start_max;
        let matched = certain || {
            let p = &partitions[streams[c.stream].partition];
            match p.data.get(data_key(&c.trace_id, c.seq))? {
                Some(v) => matcher.any_span(&decode_chunk(&v)?),
                None => false,
            }
        };
        if matched {
            seen.insert(c.trace_id);
            found.push(c.trace_id);
            if found.len() >= limit {
                break;
            }
        }
    }
    Ok(found)
}
