//! Trace search: reverse range scans over service postings, merged newest first.
//!
//! For each partition whose span start range overlaps the query, and each service
//! asked for (all known services when none is), the postings with key time (the latest
//! span start they hold) in `[start_min, start_max + max_width]` are scanned newest
//! first. A posting (one service's spans in one block) is skipped when its start range,
//! duration range or fingerprints rule the query out; otherwise its block is decoded and
//! checked span by span. The streams are merged by key time, so once `limit` traces
//! have a match at least as recent as the next posting's key time, no posting left can
//! hold a more recent match: the result is the exact most recent `limit` traces, ranked
//! by their latest matching span start.

use std::collections::{BinaryHeap, HashMap, HashSet};
use std::iter::Rev;
use std::sync::Arc;

use fjall::{Iter, Slice};
use jaeger_model::TraceId;

use super::chunk::{SpanMatcher, decode_range, query_fingerprints};
use super::keys::{PostingView, parse_posting_key, posting_key, service_hash};
use super::{BlockReader, Inner, Partition};
use crate::{Result, TraceQuery};

/// Used when a query asks for no limit (0).
pub(crate) const DEFAULT_LIMIT: usize = 100;

/// Posting-level conditions, in the posting's microsecond units.
struct PostingFilter {
    start_max_us: u64,
    duration_min_us: Option<u64>,
    duration_max_us: Option<u64>,
    fingerprints: Vec<u16>,
}

impl PostingFilter {
    fn passes(&self, p: &PostingView<'_>) -> bool {
        p.min_start_us <= self.start_max_us
            && self.duration_min_us.is_none_or(|m| p.max_duration_us >= m)
            && self.duration_max_us.is_none_or(|m| p.min_duration_us <= m)
            && p.contains_all(&self.fingerprints)
    }
}

struct Candidate {
    ts_us: u64,
    block: u64,
    stream: usize,
    /// Chunks of the block holding the posting's service.
    chunks: Vec<(u32, u32)>,
}

impl Candidate {
    fn rank(&self) -> (u64, u64, usize) {
        (self.ts_us, self.block, self.stream)
    }
}
impl PartialEq for Candidate {
    fn eq(&self, o: &Self) -> bool {
        self.rank() == o.rank()
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
        self.rank().cmp(&o.rank())
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
                    block: key.block,
                    stream: id,
                    chunks: view.chunks()?,
                }));
            }
        }
        Ok(None)
    }
}

pub(crate) fn find_trace_ids(
    store: &Inner,
    q: &TraceQuery,
    blocks: &mut BlockReader,
) -> Result<Vec<TraceId>> {
    let limit = if q.num_traces == 0 {
        DEFAULT_LIMIT
    } else {
        q.num_traces
    };
    let matcher = SpanMatcher::new(q);
    let start_min_us = matcher.start_min / 1000;
    let start_max_us = matcher.start_max.div_ceil(1000);
    if matcher.start_min > matcher.start_max {
        return Ok(Vec::new());
    }
    let filter = PostingFilter {
        start_max_us,
        duration_min_us: matcher.duration_min.map(|d| d / 1000),
        duration_max_us: matcher.duration_max.map(|d| d.div_ceil(1000)),
        fingerprints: query_fingerprints(&matcher),
    };

    let services: Vec<u64> = match matcher.service {
        Some(s) => vec![service_hash(s)],
        None => store
            .all_service_names()
            .iter()
            .map(|s| service_hash(s))
            .collect(),
    };

    let partitions: Vec<Arc<Partition>> = store
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
        let hi_ts = start_max_us.saturating_add(width);
        for &svc in &services {
            let lo = posting_key(svc, start_min_us, 0);
            let hi = posting_key(svc, hi_ts, u64::MAX);
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

    // Trace → latest matching span start seen so far.
    let mut found: HashMap<TraceId, u64> = HashMap::new();
    // Without a service, a chunk shows up once per service in it: decode it once.
    let mut decoded: HashSet<(usize, u64, u32)> = HashSet::new();
    while let Some(c) = heap.pop() {
        if let Some(next) = streams[c.stream].next(c.stream, &filter)? {
            heap.push(next);
        }
        let pi = streams[c.stream].partition;
        let Some(raw) = blocks.block(&partitions[pi], c.block)? else {
            continue;
        };
        // Only the chunks holding the service are decoded, not the whole block.
        for &(offset, len) in &c.chunks {
            if !decoded.insert((pi, c.block, offset)) {
                continue;
            }
            for (trace_id, start) in matcher.matching_traces(&decode_range(&raw, offset, len)?) {
                let e = found.entry(trace_id).or_insert(start);
                *e = (*e).max(start);
            }
        }
        if found.len() >= limit {
            // Nothing left to visit holds a span later than the next key time.
            let bound = heap.peek().map(|n| n.ts_us.saturating_mul(1000));
            let settled = match bound {
                Some(b) => found.values().filter(|t| **t >= b).count(),
                None => found.len(),
            };
            if settled >= limit {
                break;
            }
        }
    }
    let mut ranked: Vec<(TraceId, u64)> = found.into_iter().collect();
    // Most recent first; ties by id so that the order is stable.
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
    Ok(ranked.into_iter().take(limit).map(|(t, _)| t).collect())
}
