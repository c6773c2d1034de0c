//! `scan_spans` for the embedded store: a sequential read of every block of the time
//! partitions that can hold spans starting in the window.
//!
//! A block's raw content is a concatenation of OTLP `TracesData` encodings, which protobuf
//! decodes as one message holding all its chunks. Blocks are read one at a time on a
//! blocking thread and the matching spans are sent in chunks through a bounded channel, so
//! memory stays at a few blocks plus the channel's chunks whatever the window holds.
//!
//! `scan_span_links` (the dependencies job's path) reads the same blocks on several
//! threads and decodes only the fields the job needs.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jaeger_model::otlp::ResourceSpans;
use tokio::sync::mpsc::Sender;

use super::{Inner, chunk};
use crate::memory::retain_spans_in_window;
use crate::span_links::{
    ProjectedLink, ProjectedSpan, RefType, SpanLinkChunk, SpanLinkScan, span_id_u64, trace_id_16,
};
use crate::{Result, UnixNanos};

/// Spans per chunk sent to the sink.
const SCAN_CHUNK_SPANS: usize = 4096;

/// Runs on a blocking thread; returns when done or when the receiver hung up.
pub(crate) fn scan_spans(
    inner: &Inner,
    start: UnixNanos,
    end: UnixNanos,
    sink: &Sender<Vec<ResourceSpans>>,
) -> Result<()> {
    let (lo_us, hi_us) = (start / 1000, end.div_ceil(1000));
    let mut pending: Vec<ResourceSpans> = Vec::new();
    let mut pending_spans = 0usize;
    for p in inner.partitions_snapshot() {
        let stats = *p.stats.lock().expect("stats lock");
        if !stats.overlaps(lo_us, hi_us) {
            continue;
        }
        for kv in p.data.iter() {
            let (_, value) = kv.into_inner()?;
            let raw = chunk::decode_block(&value)?;
            let len = u32::try_from(raw.len())
                .map_err(|_| crate::StorageError::Corrupt("block over 4 GiB".into()))?;
            let mut spans = chunk::decode_range(&raw, 0, len)?;
            pending_spans += retain_spans_in_window(&mut spans, start, end);
            pending.append(&mut spans);
            if pending_spans >= SCAN_CHUNK_SPANS {
                pending_spans = 0;
                if sink.blocking_send(std::mem::take(&mut pending)).is_err() {
                    return Ok(());
                }
            }
        }
    }
    if pending_spans > 0 {
        let _ = sink.blocking_send(pending);
    }
    Ok(())
}

/// Key-range pieces per scan thread: more pieces than threads keep every thread busy when
/// blocks are unevenly sized.
const PIECES_PER_THREAD: u64 = 4;

/// `scan_span_links` for the embedded store: the blocks of the time partitions that can
/// hold the window, split by key (block sequence number) into ranges that `parallelism`
/// threads read, decompress and project side by side. Only the fields of
/// [`SpanLinkChunk`] are picked out of the protobuf bytes (see [`project_block`]); nothing
/// else of a span is decoded or allocated. Runs on a blocking thread; returns when done,
/// on the first error, or when the receiver hung up.
pub(crate) fn scan_span_links(
    inner: &Inner,
    scan: &SpanLinkScan,
    sink: &Sender<SpanLinkChunk>,
) -> Result<()> {
    if scan.start >= scan.end {
        return Ok(());
    }
    let (lo_us, hi_us) = (scan.start / 1000, scan.end.div_ceil(1000));
    let threads = scan.parallelism.clamp(1, 64);
    let mut pieces: Vec<(Arc<super::Partition>, u64, u64)> = Vec::new();
    for p in inner.partitions_snapshot() {
        let stats = *p.stats.lock().expect("stats lock");
        if !stats.overlaps(lo_us, hi_us) {
            continue;
        }
        let bound = |g: Option<fjall::Guard>| -> Result<Option<u64>> {
            match g {
                Some(g) => {
                    let key = g.key()?;
                    let k: [u8; 8] = key.as_ref().try_into().map_err(|_| {
                        crate::StorageError::Corrupt("block key is not 8 bytes".into())
                    })?;
                    Ok(Some(u64::from_be_bytes(k)))
                }
                None => Ok(None),
            }
        };
        let (Some(first), Some(last)) = (
            bound(p.data.first_key_value())?,
            bound(p.data.last_key_value())?,
        ) else {
            continue;
        };
        let n = (threads as u64 * PIECES_PER_THREAD).max(1);
        let width = (last - first) / n + 1;
        let mut lo = first;
        while lo <= last {
            let hi = lo.saturating_add(width - 1).min(last);
            pieces.push((p.clone(), lo, hi));
            if hi == u64::MAX {
                break;
            }
            lo = hi + 1;
        }
    }
    let threads = threads.min(pieces.len());
    if threads == 0 {
        return Ok(());
    }
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<crate::StorageError>> = Mutex::new(None);
    let worker = || {
        let mut out = SpanLinkChunk::default();
        while !stop.load(Ordering::Relaxed) {
            let Some((p, lo, hi)) = pieces.get(next.fetch_add(1, Ordering::Relaxed)) else {
                break;
            };
            if let Err(e) = scan_piece(p, *lo, *hi, scan, sink, &stop, &mut out) {
                stop.store(true, Ordering::Relaxed);
                failure
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .get_or_insert(e);
                return;
            }
        }
        if !out.is_empty() && !stop.load(Ordering::Relaxed) {
            let _ = sink.blocking_send(out);
        }
    };
    std::thread::scope(|s| -> Result<()> {
        let mut handles = Vec::with_capacity(threads);
        for i in 0..threads {
            let spawned = std::thread::Builder::new()
                .name(format!("embedded-scan-{i}"))
                .spawn_scoped(s, worker);
            match spawned {
                Ok(h) => handles.push(h),
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e.into());
                }
            }
        }
        for h in handles {
            if h.join().is_err() {
                return Err(crate::StorageError::Engine("a scan thread panicked".into()));
            }
        }
        Ok(())
    })?;
    match failure
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
    {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Reads the blocks with keys in `[lo, hi]` of one partition into `out`, sending it when it
/// holds a chunk's worth of spans. Sets `stop` when the receiver hung up.
fn scan_piece(
    p: &super::Partition,
    lo: u64,
    hi: u64,
    scan: &SpanLinkScan,
    sink: &Sender<SpanLinkChunk>,
    stop: &AtomicBool,
    out: &mut SpanLinkChunk,
) -> Result<()> {
    for kv in p.data.range(lo.to_be_bytes()..=hi.to_be_bytes()) {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let (_, value) = kv.into_inner()?;
        let raw = chunk::decode_block(&value)?;
        project_block(&raw, scan, out)?;
        if out.spans.len() >= SCAN_CHUNK_SPANS && sink.blocking_send(std::mem::take(out)).is_err() {
            stop.store(true, Ordering::Relaxed);
            return Ok(());
        }
    }
    Ok(())
}

/// OTLP span kinds whose peer attribute is projected (client, producer).
const KIND_CLIENT: i32 = 3;
const KIND_PRODUCER: i32 = 4;

/// Projects a block's raw content (concatenated OTLP `TracesData` encodings, i.e. field 1
/// `resource_spans` repeated) into `out`, keeping spans that start in the window. Field
/// numbers are those of `opentelemetry/proto/trace/v1/trace.proto`; repeated embedded
/// messages merge as protobuf says (first matching attribute wins, last scalar wins), so
/// the result is what [`SpanLinkChunk::push_resource_spans`] gives on the decoded spans.
pub(crate) fn project_block(
    raw: &[u8],
    scan: &SpanLinkScan,
    out: &mut SpanLinkChunk,
) -> Result<()> {
    let mut traces_data = Wire::new(raw);
    while let Some((field, value)) = traces_data.next()? {
        if field == 1 {
            project_resource_spans(value.bytes()?, scan, out)?;
        }
    }
    Ok(())
}

fn project_resource_spans(
    bytes: &[u8],
    scan: &SpanLinkScan,
    out: &mut SpanLinkChunk,
) -> Result<()> {
    // ResourceSpans: 1 resource, 2 scope_spans. The resource may come after the spans in
    // a foreign encoding, so it is looked up first.
    let mut service: Option<&str> = None;
    let mut rs = Wire::new(bytes);
    while let Some((field, value)) = rs.next()? {
        if field == 1 && service.is_none() {
            // Resource: 1 attributes.
            service = find_string_attr(value.bytes()?, 1, SERVICE_NAME_KEY)?;
        }
    }
    let service = out.name_index(service.unwrap_or(""));
    let mut rs = Wire::new(bytes);
    while let Some((field, value)) = rs.next()? {
        if field != 2 {
            continue;
        }
        // ScopeSpans: 2 spans.
        let mut ss = Wire::new(value.bytes()?);
        while let Some((field, value)) = ss.next()? {
            if field == 2 {
                project_span(value.bytes()?, service, scan, out)?;
            }
        }
    }
    Ok(())
}

const SERVICE_NAME_KEY: &[u8] = b"service.name";

fn project_span(
    bytes: &[u8],
    service: u32,
    scan: &SpanLinkScan,
    out: &mut SpanLinkChunk,
) -> Result<()> {
    let (mut trace_id, mut span_id, mut parent): (&[u8], &[u8], &[u8]) = (&[], &[], &[]);
    let (mut kind, mut start, mut links) = (0i32, 0u64, 0u32);
    let mut span = Wire::new(bytes);
    while let Some((field, value)) = span.next()? {
        match field {
            1 => trace_id = value.bytes()?,
            2 => span_id = value.bytes()?,
            4 => parent = value.bytes()?,
            // int32 enum: protobuf truncates the varint.
            6 => kind = value.varint()? as i32,
            7 => start = value.fixed64()?,
            13 => links += 1,
            _ => {}
        }
    }
    if start < scan.start || start >= scan.end {
        return Ok(());
    }
    let mut peer = 0;
    if (kind == KIND_CLIENT || kind == KIND_PRODUCER) && !scan.peer_attribute.is_empty() {
        let name = find_string_attr(bytes, 9, scan.peer_attribute.as_bytes())?;
        peer = out.name_index(name.unwrap_or(""));
    }
    if links > 0 {
        let mut span = Wire::new(bytes);
        while let Some((field, value)) = span.next()? {
            if field != 13 {
                continue;
            }
            // Link: 1 trace_id, 2 span_id, 4 attributes.
            let link_bytes = value.bytes()?;
            let (mut lt, mut ls): (&[u8], &[u8]) = (&[], &[]);
            let mut link = Wire::new(link_bytes);
            while let Some((field, value)) = link.next()? {
                match field {
                    1 => lt = value.bytes()?,
                    2 => ls = value.bytes()?,
                    _ => {}
                }
            }
            let ref_type = match find_string_attr(link_bytes, 4, REF_TYPE_KEY)? {
                Some("child_of") => RefType::ChildOf,
                Some("follows_from") => RefType::FollowsFrom,
                _ => RefType::Link,
            };
            out.links.push(ProjectedLink {
                trace_id: trace_id_16(lt),
                span_id: span_id_u64(ls),
                ref_type,
            });
        }
    }
    out.spans.push(ProjectedSpan {
        trace_id: trace_id_16(trace_id),
        span_id: span_id_u64(span_id),
        parent: span_id_u64(parent),
        kind,
        start,
        service,
        peer,
        links,
    });
    Ok(())
}

const REF_TYPE_KEY: &[u8] = crate::span_links::REF_TYPE_ATTRIBUTE.as_bytes();

/// The string value of the first `KeyValue` (field `attrs_field` of `message`) whose key
/// is `key`: `None` when there is none or its value is not a string (as `find_attr`).
fn find_string_attr<'a>(
    message: &'a [u8],
    attrs_field: u32,
    key: &[u8],
) -> Result<Option<&'a str>> {
    let mut m = Wire::new(message);
    while let Some((field, value)) = m.next()? {
        if field != attrs_field {
            continue;
        }
        // KeyValue: 1 key, 2 value (AnyValue).
        let (mut k, mut v): (Option<&[u8]>, Option<&[u8]>) = (None, None);
        let mut kv = Wire::new(value.bytes()?);
        while let Some((field, value)) = kv.next()? {
            match field {
                1 => k = Some(value.bytes()?),
                // Repeated embedded messages merge; the last oneof member set wins.
                2 => v = Some(value.bytes()?),
                _ => {}
            }
        }
        if k.unwrap_or(&[]) != key {
            continue;
        }
        let Some(v) = v else { return Ok(None) };
        // AnyValue: a oneof; 1 string_value, 2..=7 the other types.
        let mut s = None;
        let mut any = Wire::new(v);
        while let Some((field, value)) = any.next()? {
            match field {
                1 => s = Some(value.bytes()?),
                2..=7 => s = None,
                _ => {}
            }
        }
        return match s {
            Some(b) => std::str::from_utf8(b)
                .map(Some)
                .map_err(|_| crate::StorageError::Corrupt("attribute value is not UTF-8".into())),
            None => Ok(None),
        };
    }
    Ok(None)
}

/// A field's value on the protobuf wire.
enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32,
}

fn wire_type_error() -> crate::StorageError {
    crate::StorageError::Corrupt("chunk decoding: unexpected wire type".into())
}

impl<'a> WireValue<'a> {
    fn bytes(self) -> Result<&'a [u8]> {
        match self {
            WireValue::Bytes(b) => Ok(b),
            _ => Err(wire_type_error()),
        }
    }

    fn varint(self) -> Result<u64> {
        match self {
            WireValue::Varint(v) => Ok(v),
            _ => Err(wire_type_error()),
        }
    }

    fn fixed64(self) -> Result<u64> {
        match self {
            WireValue::Fixed64(v) => Ok(v),
            _ => Err(wire_type_error()),
        }
    }
}

/// A minimal protobuf reader over one message's bytes: fields in order, no allocation.
struct Wire<'a> {
    buf: &'a [u8],
}

fn truncated() -> crate::StorageError {
    crate::StorageError::Corrupt("chunk decoding: truncated protobuf".into())
}

impl<'a> Wire<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or_else(truncated)?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(crate::StorageError::Corrupt(
            "chunk decoding: varint over 10 bytes".into(),
        ))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.buf.len() {
            return Err(truncated());
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next (field number, value), `None` at the end of the message.
    fn next(&mut self) -> Result<Option<(u32, WireValue<'a>)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let field = u32::try_from(tag >> 3).map_err(|_| wire_type_error())?;
        let value = match tag & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => {
                let b: [u8; 8] = self.take(8)?.try_into().map_err(|_| truncated())?;
                WireValue::Fixed64(u64::from_le_bytes(b))
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| truncated())?;
                WireValue::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                WireValue::Fixed32
            }
            // Groups (3, 4) are never written by OTLP encoders.
            _ => return Err(wire_type_error()),
        };
        if field == 0 {
            return Err(crate::StorageError::Corrupt(
                "chunk decoding: field number 0".into(),
            ));
        }
        Ok(Some((field, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jaeger_model::otlp::trace::TracesData;
    use jaeger_model::otlp::{KeyValue, Link, Resource, ScopeSpans, Span, Value};
    use prost::Message;

    fn kv(key: &str, value: Value) -> KeyValue {
        jaeger_model::trace::kv(key, value)
    }

    fn s(v: &str) -> Value {
        Value::StringValue(v.into())
    }

    fn groups() -> Vec<ResourceSpans> {
        let span = |i: u64| Span {
            trace_id: if i == 4 {
                vec![1; 5]
            } else {
                vec![i as u8; 16]
            },
            span_id: if i == 5 {
                vec![]
            } else {
                (i + 1).to_be_bytes().to_vec()
            },
            parent_span_id: if i.is_multiple_of(2) {
                i.to_be_bytes().to_vec()
            } else {
                vec![]
            },
            name: format!("op-{i}"),
            kind: (i % 6) as i32,
            start_time_unix_nano: 1_000 + i,
            end_time_unix_nano: 2_000,
            attributes: vec![
                kv("http.method", s("GET")),
                kv(
                    "peer.service",
                    if i == 9 { Value::IntValue(3) } else { s("db") },
                ),
                kv("peer.service", s("second")),
            ],
            links: (0..i % 3)
                .map(|k| Link {
                    trace_id: vec![k as u8; 16],
                    span_id: (k + 7).to_be_bytes().to_vec(),
                    attributes: match k {
                        0 => vec![kv("opentracing.ref_type", s("follows_from"))],
                        _ => vec![kv("x", s("y")), kv("opentracing.ref_type", s("child_of"))],
                    },
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let rs = |service: Option<&str>, ids: std::ops::Range<u64>| ResourceSpans {
            resource: Some(Resource {
                attributes: service
                    .map(|name| vec![kv("host", s("h")), kv("service.name", s(name))])
                    .unwrap_or_default(),
                ..Default::default()
            }),
            scope_spans: vec![
                ScopeSpans {
                    spans: ids.clone().map(span).collect(),
                    ..Default::default()
                },
                ScopeSpans {
                    spans: ids.map(|i| span(i + 100)).collect(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        vec![
            rs(Some("api"), 0..6),
            rs(None, 6..9),
            rs(Some("worker"), 9..14),
        ]
    }

    fn raw_block(groups: &[ResourceSpans]) -> Vec<u8> {
        // Two concatenated TracesData encodings, as a block holds chunks.
        let mut raw = Vec::new();
        for g in groups.chunks(2) {
            TracesData {
                resource_spans: g.to_vec(),
            }
            .encode(&mut raw)
            .expect("encode");
        }
        raw
    }

    fn scan(start: u64, end: u64) -> SpanLinkScan {
        SpanLinkScan {
            start,
            end,
            peer_attribute: "peer.service".into(),
            parallelism: 1,
        }
    }

    #[test]
    fn projection_of_raw_bytes_matches_decoded_spans() {
        let groups = groups();
        let mut want = SpanLinkChunk::default();
        want.push_resource_spans(&groups, "peer.service");
        let mut got = SpanLinkChunk::default();
        project_block(&raw_block(&groups), &scan(0, u64::MAX), &mut got).expect("project");
        assert_eq!(got.resolved(), want.resolved());
        assert_eq!(got.spans.len(), 28);
        assert!(got.links.iter().any(|l| l.ref_type == RefType::ChildOf));
    }

    #[test]
    fn projection_keeps_the_window() {
        let mut got = SpanLinkChunk::default();
        project_block(&raw_block(&groups()), &scan(1_003, 1_010), &mut got).expect("project");
        let mut starts: Vec<u64> = got.spans.iter().map(|s| s.start).collect();
        starts.sort();
        assert_eq!(starts, (1_003..1_010).collect::<Vec<_>>());
    }

    #[test]
    fn corrupt_bytes_are_an_error_not_a_panic() {
        let raw = raw_block(&groups());
        for cut in [1, 2, 7, raw.len() / 3, raw.len() - 1] {
            let mut out = SpanLinkChunk::default();
            assert!(project_block(&raw[..cut], &scan(0, u64::MAX), &mut out).is_err());
        }
        let mut out = SpanLinkChunk::default();
        assert!(project_block(&[0xff; 12], &scan(0, u64::MAX), &mut out).is_err());
    }
}
