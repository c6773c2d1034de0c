//! Chunks: the spans of one trace from one write batch, and the blocks that hold them.
//!
//! The write path turns a batch into chunks (moving spans, not copying them), encodes
//! each as an OTLP `TracesData` appended to a block, compresses each block (~64 KiB raw)
//! once, and computes one posting per service in each chunk. Compressing whole blocks
//! rather than single chunks is what keeps small chunks (a service's 2-3 spans of a
//! trace) cheap on disk and on the CPU. The read path decompresses blocks, decodes
//! chunks and checks spans against a query.

use std::collections::HashSet;

use jaeger_model::TraceId;
use jaeger_model::kind::kind_name;
use jaeger_model::otlp::trace::{TracesData, status::StatusCode};
use jaeger_model::otlp::{
    InstrumentationScope, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Value,
};
use jaeger_model::trace::sort_collections;
use jaeger_model::trace::{service_name, value_to_string};
use prost::Message;
use xxhash_rust::xxh3::xxh3_64;

use super::keys::{ChunkRef, Posting, TermHasher, get_varint, put_varint, service_hash};
use crate::{Result, StorageError, TraceQuery};

/// First byte of a chunk value: how the rest is encoded.
const FORMAT_RAW: u8 = 0;
const FORMAT_ZSTD: u8 = 1;
/// zstd level 1: measured best ingest rate for a small loss in size (see docs/embedded-store.md).
const ZSTD_LEVEL: i32 = 1;
/// Blocks below this are stored raw: compression would not pay for its header.
const MIN_COMPRESS_LEN: usize = 128;
/// A block is cut once its raw content reaches this size.
const BLOCK_TARGET: usize = 64 * 1024;
/// A decoded block larger than this is treated as corrupt rather than allocated.
const MAX_BLOCK_LEN: u64 = 1024 * 1024 * 1024;

/// One service's spans in one block, as the index sees them.
pub(crate) struct BlockPosting {
    pub service_hash: u64,
    /// Latest span start of this service in the block, µs (ceil).
    pub ts_us: u64,
    pub posting: Posting,
}

pub(crate) struct PreparedBlock {
    /// The stored (compressed) value.
    pub value: Vec<u8>,
    pub postings: Vec<BlockPosting>,
}

pub(crate) struct PreparedChunk {
    pub trace_id: TraceId,
    /// Index into `PreparedBatch::blocks`; offset and length within its raw content.
    pub block: usize,
    pub offset: u32,
    pub len: u32,
}

/// A write batch ready to be committed: everything CPU-heavy is done.
pub(crate) struct PreparedBatch {
    pub blocks: Vec<PreparedBlock>,
    pub chunks: Vec<PreparedChunk>,
    /// Distinct `(service, operation, kind)` seen in the batch.
    pub operations: Vec<(String, String, &'static str)>,
    pub span_count: usize,
    pub min_start_us: u64,
    pub max_start_us: u64,
    /// Largest span start range of any posting: how far after a query's end a posting
    /// key may lie and still hold a matching span.
    pub max_width_us: u64,
}

/// Accumulates one service's spans of one trace group.
struct ServiceAcc {
    hash: u64,
    min_start_ns: u64,
    max_start_ns: u64,
    min_dur_ns: u64,
    max_dur_ns: u64,
    fingerprints: Vec<u16>,
    /// Resources whose attribute terms are already in `fingerprints`.
    resources: Vec<usize>,
    /// (offset, length) of the chunks of the block holding this service's spans.
    chunks: Vec<(u32, u32)>,
}

struct TraceGroup {
    trace_id: TraceId,
    resource_spans: Vec<ResourceSpans>,
    /// (resource index, scope index) of the last span added, to keep OTLP grouping.
    last: (usize, usize),
    services: Vec<ServiceAcc>,
}

/// Splits a batch into per-trace chunks and computes their postings.
pub(crate) fn prepare(batch: Vec<ResourceSpans>) -> Result<PreparedBatch> {
    use std::collections::HashMap;

    let mut hasher = TermHasher::default();
    let mut groups: Vec<TraceGroup> = Vec::new();
    let mut by_trace: HashMap<TraceId, usize> = HashMap::new();
    let mut op_seen: HashSet<u64> = HashSet::new();
    let mut operations = Vec::new();
    let mut op_buf: Vec<u8> = Vec::new();
    let mut span_count = 0usize;

    for (ri, mut rs) in batch.into_iter().enumerate() {
        // Attribute lists in key order, as the memory store keeps them: the query's
        // `SortCollections` then only checks the decoded spans.
        sort_collections(&mut rs);
        let resource = rs.resource.take();
        let service = resource
            .as_ref()
            .map(service_name)
            .unwrap_or("")
            .to_string();
        let svc_hash = service_hash(&service);
        let resource_fps = resource_terms(resource.as_ref(), &mut hasher);
        let scope_spans = std::mem::take(&mut rs.scope_spans);
        for (si, mut ss) in scope_spans.into_iter().enumerate() {
            let scope = ss.scope.take();
            let scope_fps = scope_terms(scope.as_ref(), &mut hasher);
            for span in std::mem::take(&mut ss.spans) {
                span_count += 1;
                let trace_id = TraceId::from_slice(&span.trace_id).unwrap_or_default();
                let gi = *by_trace.entry(trace_id).or_insert_with(|| {
                    groups.push(TraceGroup {
                        trace_id,
                        resource_spans: Vec::new(),
                        last: (usize::MAX, usize::MAX),
                        services: Vec::new(),
                    });
                    groups.len() - 1
                });
                let g = &mut groups[gi];

                // Operation list entry, deduplicated within the batch by hash first.
                let kind = kind_name(span.kind);
                op_buf.clear();
                op_buf.extend_from_slice(service.as_bytes());
                op_buf.push(0);
                op_buf.extend_from_slice(span.name.as_bytes());
                op_buf.push(0);
                op_buf.extend_from_slice(kind.as_bytes());
                if op_seen.insert(xxh3_64(&op_buf)) {
                    operations.push((service.clone(), span.name.clone(), kind));
                }

                // Posting of this span's service within the trace group.
                let acc = match g.services.iter().position(|a| a.hash == svc_hash) {
                    Some(i) => &mut g.services[i],
                    None => {
                        g.services.push(ServiceAcc {
                            hash: svc_hash,
                            min_start_ns: u64::MAX,
                            max_start_ns: 0,
                            min_dur_ns: u64::MAX,
                            max_dur_ns: 0,
                            fingerprints: Vec::new(),
                            resources: Vec::new(),
                            chunks: Vec::new(),
                        });
                        g.services.last_mut().expect("just pushed")
                    }
                };
                let start = span.start_time_unix_nano;
                let dur = span.end_time_unix_nano.saturating_sub(start);
                acc.min_start_ns = acc.min_start_ns.min(start);
                acc.max_start_ns = acc.max_start_ns.max(start);
                acc.min_dur_ns = acc.min_dur_ns.min(dur);
                acc.max_dur_ns = acc.max_dur_ns.max(dur);
                if !acc.resources.contains(&ri) {
                    acc.resources.push(ri);
                    acc.fingerprints.extend_from_slice(&resource_fps);
                }
                acc.fingerprints.extend_from_slice(&scope_fps);
                acc.fingerprints.push(hasher.operation(&span.name));
                span_terms(&span, &mut hasher, &mut acc.fingerprints);

                // Move the span into the group, keeping resource and scope grouping.
                if g.last.0 != ri {
                    g.resource_spans.push(ResourceSpans {
                        resource: resource.clone(),
                        scope_spans: Vec::new(),
                        schema_url: rs.schema_url.clone(),
                    });
                }
                let group = g
                    .resource_spans
                    .last_mut()
                    .expect("a group for this resource");
                if g.last != (ri, si) {
                    group.scope_spans.push(ScopeSpans {
                        scope: scope.clone(),
                        spans: Vec::new(),
                        schema_url: ss.schema_url.clone(),
                    });
                }
                g.last = (ri, si);
                group
                    .scope_spans
                    .last_mut()
                    .expect("a scope group for this scope")
                    .spans
                    .push(span);
            }
        }
    }

    let mut out = PreparedBatch {
        blocks: Vec::new(),
        chunks: Vec::with_capacity(groups.len()),
        operations,
        span_count,
        min_start_us: u64::MAX,
        max_start_us: 0,
        max_width_us: 0,
    };
    let mut raw: Vec<u8> = Vec::with_capacity(BLOCK_TARGET * 2);
    // Per service, what the current block holds.
    let mut block_services: Vec<ServiceAcc> = Vec::new();
    for g in groups {
        let offset = raw.len();
        TracesData {
            resource_spans: g.resource_spans,
        }
        .encode(&mut raw)
        .map_err(|e| StorageError::Engine(format!("encoding chunk: {e}")))?;
        let too_big = |_| StorageError::InvalidQuery("write batch too large".into());
        let chunk = (
            u32::try_from(offset).map_err(too_big)?,
            u32::try_from(raw.len() - offset).map_err(too_big)?,
        );
        out.chunks.push(PreparedChunk {
            trace_id: g.trace_id,
            block: out.blocks.len(),
            offset: chunk.0,
            len: chunk.1,
        });
        for mut acc in g.services {
            acc.chunks.push(chunk);
            match block_services.iter_mut().find(|b| b.hash == acc.hash) {
                Some(b) => {
                    b.chunks.push(chunk);
                    b.min_start_ns = b.min_start_ns.min(acc.min_start_ns);
                    b.max_start_ns = b.max_start_ns.max(acc.max_start_ns);
                    b.min_dur_ns = b.min_dur_ns.min(acc.min_dur_ns);
                    b.max_dur_ns = b.max_dur_ns.max(acc.max_dur_ns);
                    b.fingerprints.extend_from_slice(&acc.fingerprints);
                }
                None => block_services.push(acc),
            }
        }
        if raw.len() >= BLOCK_TARGET {
            finish_block(&mut out, &raw, std::mem::take(&mut block_services))?;
            raw.clear();
        }
    }
    if !raw.is_empty() {
        finish_block(&mut out, &raw, block_services)?;
    }
    Ok(out)
}

fn finish_block(out: &mut PreparedBatch, raw: &[u8], services: Vec<ServiceAcc>) -> Result<()> {
    let mut postings = Vec::with_capacity(services.len());
    for mut acc in services {
        acc.fingerprints.sort_unstable();
        acc.fingerprints.dedup();
        let min_start_us = acc.min_start_ns / 1000;
        let max_start_us = acc.max_start_ns.div_ceil(1000);
        out.min_start_us = out.min_start_us.min(min_start_us);
        out.max_start_us = out.max_start_us.max(max_start_us);
        out.max_width_us = out.max_width_us.max(max_start_us - min_start_us);
        postings.push(BlockPosting {
            service_hash: acc.hash,
            ts_us: max_start_us,
            posting: Posting {
                min_start_us,
                min_duration_us: acc.min_dur_ns / 1000,
                max_duration_us: acc.max_dur_ns.div_ceil(1000),
                chunks: acc.chunks,
                fingerprints: acc.fingerprints,
            },
        });
    }
    out.blocks.push(PreparedBlock {
        value: encode_block(raw)?,
        postings,
    });
    Ok(())
}

fn resource_terms(resource: Option<&Resource>, h: &mut TermHasher) -> Vec<u16> {
    let mut out = Vec::new();
    if let Some(r) = resource {
        attr_terms(&r.attributes, h, &mut out);
    }
    out
}

fn scope_terms(scope: Option<&InstrumentationScope>, h: &mut TermHasher) -> Vec<u16> {
    let mut out = Vec::new();
    if let Some(s) = scope {
        if !s.name.is_empty() {
            out.push(h.tag(SCOPE_NAME, &s.name));
        }
        if !s.version.is_empty() {
            out.push(h.tag(SCOPE_VERSION, &s.version));
        }
    }
    out
}

fn attr_terms(attrs: &[KeyValue], h: &mut TermHasher, out: &mut Vec<u16>) {
    for kv in attrs {
        match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
            Some(Value::StringValue(s)) => out.push(h.tag(&kv.key, s)),
            Some(v) => out.push(h.tag(&kv.key, &value_to_string(v))),
            None => {}
        }
    }
}

/// Tag terms of a span: its attributes, its events' attributes, and the tags Jaeger
/// derives from OTLP fields (see `synthetic_tags`).
fn span_terms(span: &Span, h: &mut TermHasher, out: &mut Vec<u16>) {
    attr_terms(&span.attributes, h, out);
    for ev in &span.events {
        attr_terms(&ev.attributes, h, out);
        if !ev.name.is_empty() {
            out.push(h.tag(EVENT_NAME, &ev.name));
        }
    }
    synthetic_tags(span, |k, v| out.push(h.tag(k, v)));
}

const SCOPE_NAME: &str = "otel.scope.name";
const SCOPE_VERSION: &str = "otel.scope.version";
const EVENT_NAME: &str = "event";

/// The tags Jaeger's OTLP→Jaeger translation adds for OTLP fields, so a search for
/// `error=true` or `span.kind=server` finds what the Jaeger UI shows as tags.
fn synthetic_tags(span: &Span, mut f: impl FnMut(&str, &str)) {
    let kind = kind_name(span.kind);
    if !kind.is_empty() {
        f("span.kind", kind);
    }
    if let Some(status) = &span.status {
        match StatusCode::try_from(status.code) {
            Ok(StatusCode::Error) => {
                f("error", "true");
                f("otel.status_code", "ERROR");
            }
            Ok(StatusCode::Ok) => f("otel.status_code", "OK"),
            _ => {}
        }
        if !status.message.is_empty() {
            f("otel.status_description", &status.message);
        }
    }
    if !span.trace_state.is_empty() {
        f("w3c.tracestate", &span.trace_state);
    }
}

/// The stored form of a block: a format byte, then the raw or compressed content.
pub(crate) fn encode_block(raw: &[u8]) -> Result<Vec<u8>> {
    if raw.len() < MIN_COMPRESS_LEN {
        let mut out = Vec::with_capacity(raw.len() + 1);
        out.push(FORMAT_RAW);
        out.extend_from_slice(raw);
        return Ok(out);
    }
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(raw.len()) + 11);
    out.push(FORMAT_ZSTD);
    put_varint(&mut out, raw.len() as u64);
    // A zstd context costs hundreds of KiB to set up: keep one per thread.
    COMPRESSOR.with(|c| {
        let mut c = c.borrow_mut();
        if c.is_none() {
            *c = Some(zstd::bulk::Compressor::new(ZSTD_LEVEL)?);
        }
        let c = c.as_mut().expect("initialized above");
        let header = out.len();
        out.resize(out.capacity(), 0);
        let n = c.compress_to_buffer(raw, &mut out[header..])?;
        out.truncate(header + n);
        Ok(out)
    })
}

thread_local! {
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
    static DECOMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// The raw content of a stored block.
pub(crate) fn decode_block(value: &[u8]) -> Result<Vec<u8>> {
    let Some((&format, mut rest)) = value.split_first() else {
        return Err(StorageError::Corrupt("empty block".into()));
    };
    match format {
        FORMAT_RAW => Ok(rest.to_vec()),
        FORMAT_ZSTD => {
            let len = get_varint(&mut rest)?;
            if len > MAX_BLOCK_LEN {
                return Err(StorageError::Corrupt(format!("block claims {len} bytes")));
            }
            DECOMPRESSOR
                .with(|d| {
                    let mut d = d.borrow_mut();
                    if d.is_none() {
                        *d = Some(zstd::bulk::Decompressor::new()?);
                    }
                    d.as_mut()
                        .expect("initialized above")
                        .decompress(rest, len as usize)
                })
                .map_err(|e| StorageError::Corrupt(format!("block decompression: {e}")))
        }
        other => Err(StorageError::Corrupt(format!(
            "unknown block format {other}"
        ))),
    }
}

/// Decodes the chunk at `offset..offset + len` of a block's raw content.
pub(crate) fn decode_range(raw_block: &[u8], offset: u32, len: u32) -> Result<Vec<ResourceSpans>> {
    decode_chunk_bytes(chunk_bytes(raw_block, offset, len)?)
}

/// A chunk is a `TracesData`, the same bytes as an `ExportTraceServiceRequest`: the
/// receivers' decoder reads it at half prost's cost (it yields what prost yields).
fn decode_chunk_bytes(bytes: &[u8]) -> Result<Vec<ResourceSpans>> {
    jaeger_model::otlp_proto::decode_request(bytes)
        .map(|d| d.resource_spans)
        .map_err(chunk_error)
}

fn chunk_bytes(raw_block: &[u8], offset: u32, len: u32) -> Result<&[u8]> {
    let start = offset as usize;
    raw_block
        .get(start..start.saturating_add(len as usize))
        .ok_or_else(|| StorageError::Corrupt("chunk outside its block".into()))
}

fn chunk_error(e: jaeger_model::otlp_proto::ProtoDecodeError) -> StorageError {
    StorageError::Corrupt(format!("chunk decoding: {e}"))
}

/// Decodes the chunks of one trace, each `(raw block, ref)`, in order. A large trace
/// is decoded on several threads, each taking a contiguous run of resources (decoding
/// was a third of serving a 10,000-span trace from this store).
pub(crate) fn decode_chunks(chunks: &[(&[u8], ChunkRef)]) -> Result<Vec<Vec<ResourceSpans>>> {
    let bytes: Vec<&[u8]> = chunks
        .iter()
        .map(|(raw, r)| chunk_bytes(raw, r.offset, r.len))
        .collect::<Result<_>>()?;
    let total: usize = bytes.iter().map(|b| b.len()).sum();
    let workers = jaeger_model::parallel::workers_for_encoded(total);
    if workers <= 1 {
        return bytes.iter().map(|b| decode_chunk_bytes(b)).collect();
    }
    // (chunk, encoded resource) in trace order, cut into runs of about equal size.
    let mut units: Vec<(usize, &[u8])> = Vec::new();
    for (ci, b) in bytes.iter().enumerate() {
        let parts = jaeger_model::otlp_proto::split_request(b).map_err(chunk_error)?;
        units.extend(parts.into_iter().map(|p| (ci, p)));
    }
    let per = total.div_ceil(workers);
    let mut runs: Vec<&[(usize, &[u8])]> = Vec::with_capacity(workers);
    let (mut start, mut size) = (0, 0);
    for (i, (_, part)) in units.iter().enumerate() {
        size += part.len();
        if size >= per {
            runs.push(&units[start..=i]);
            (start, size) = (i + 1, 0);
        }
    }
    runs.push(&units[start..]);
    let decode_run = |run: &[(usize, &[u8])]| -> Result<Vec<ResourceSpans>> {
        run.iter()
            .map(|(_, part)| {
                jaeger_model::otlp_proto::decode_resource_spans(part).map_err(chunk_error)
            })
            .collect()
    };
    let tasks: Vec<_> = runs.iter().map(|run| move || decode_run(run)).collect();
    let decoded = jaeger_model::parallel::run_all(tasks);
    let mut out: Vec<Vec<ResourceSpans>> = (0..chunks.len()).map(|_| Vec::new()).collect();
    for (run, resources) in runs.iter().zip(decoded) {
        for ((ci, _), rs) in run.iter().zip(resources?) {
            out[*ci].push(rs);
        }
    }
    Ok(out)
}

/// The per-span conditions of a search, checked on decoded chunks.
pub(crate) struct SpanMatcher<'q> {
    pub service: Option<&'q str>,
    pub operation: Option<&'q str>,
    pub tags: &'q [(String, String)],
    pub start_min: u64,
    pub start_max: u64,
    pub duration_min: Option<u64>,
    pub duration_max: Option<u64>,
}

impl<'q> SpanMatcher<'q> {
    pub(crate) fn new(q: &'q TraceQuery) -> Self {
        Self {
            service: q.service_name.as_deref().filter(|s| !s.is_empty()),
            operation: q.operation_name.as_deref().filter(|s| !s.is_empty()),
            tags: &q.tags,
            start_min: q.start_time_min,
            start_max: if q.start_time_max == 0 {
                u64::MAX
            } else {
                q.start_time_max
            },
            duration_min: q.duration_min,
            duration_max: q.duration_max,
        }
    }

    /// The traces with a span satisfying every condition, each with the latest start of
    /// its matching spans.
    pub(crate) fn matching_traces(&self, rs: &[ResourceSpans]) -> Vec<(TraceId, u64)> {
        let mut out: Vec<(TraceId, u64)> = Vec::new();
        for r in rs {
            let service = r.resource.as_ref().map(service_name).unwrap_or("");
            if self.service.is_some_and(|s| s != service) {
                continue;
            }
            for ss in &r.scope_spans {
                for span in &ss.spans {
                    if !self.span(r.resource.as_ref(), ss.scope.as_ref(), span) {
                        continue;
                    }
                    let id = TraceId::from_slice(&span.trace_id).unwrap_or_default();
                    let start = span.start_time_unix_nano;
                    match out.iter_mut().find(|(t, _)| *t == id) {
                        Some((_, latest)) => *latest = (*latest).max(start),
                        None => out.push((id, start)),
                    }
                }
            }
        }
        out
    }

    fn span(
        &self,
        resource: Option<&Resource>,
        scope: Option<&InstrumentationScope>,
        span: &Span,
    ) -> bool {
        if self.operation.is_some_and(|op| op != span.name) {
            return false;
        }
        let start = span.start_time_unix_nano;
        if start < self.start_min || start > self.start_max {
            return false;
        }
        let dur = span.end_time_unix_nano.saturating_sub(start);
        if self.duration_min.is_some_and(|m| dur < m) || self.duration_max.is_some_and(|m| dur > m)
        {
            return false;
        }
        self.tags
            .iter()
            .all(|(k, v)| span_has_tag(resource, scope, span, k, v))
    }
}

/// Whether the span carries `key` with the string form `value`, as a span attribute,
/// resource attribute, event attribute, or a tag derived from OTLP fields.
pub(crate) fn span_has_tag(
    resource: Option<&Resource>,
    scope: Option<&InstrumentationScope>,
    span: &Span,
    key: &str,
    value: &str,
) -> bool {
    if attrs_have(&span.attributes, key, value)
        || resource.is_some_and(|r| attrs_have(&r.attributes, key, value))
        || span.events.iter().any(|ev| {
            attrs_have(&ev.attributes, key, value)
                || (key == EVENT_NAME && ev.name == value && !ev.name.is_empty())
        })
    {
        return true;
    }
    if let Some(s) = scope
        && ((key == SCOPE_NAME && !s.name.is_empty() && s.name == value)
            || (key == SCOPE_VERSION && !s.version.is_empty() && s.version == value))
    {
        return true;
    }
    let mut found = false;
    synthetic_tags(span, |k, v| found |= k == key && v == value);
    found
}

fn attrs_have(attrs: &[KeyValue], key: &str, value: &str) -> bool {
    attrs.iter().any(|kv| {
        kv.key == key
            && match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
                Some(Value::StringValue(s)) => s == value,
                Some(v) => value_to_string(v) == value,
                None => false,
            }
    })
}

/// Fingerprints a query needs in a posting: every one must be present for a match.
pub(crate) fn query_fingerprints(q: &SpanMatcher<'_>) -> Vec<u16> {
    let mut h = TermHasher::default();
    let mut out = Vec::new();
    if let Some(op) = q.operation {
        out.push(h.operation(op));
    }
    for (k, v) in q.tags {
        out.push(h.tag(k, v));
    }
    out
}
