//! Phase 1 of the job: OTLP spans become compact Arrow rows, routed into hash partitions
//! of the trace id, spilled to Arrow IPC files when the buffered rows pass a budget.
//!
//! Two tables, both keyed so that a partition holds everything a link needs:
//! - `spans`: one row per span, routed by its own trace id.
//! - `links`: one row per OTLP span link, routed by the *linked* span's trace id, carrying
//!   what the plan needs of the linking span. A producer and its consumer in another trace
//!   therefore meet in one partition.
//!
//! Trace ids are hashed to one `u64` (xxh3): the join key is (trace hash, span id), so a
//! wrong join would need two traces with the same hash *and* the same span id.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::{ArrayRef, RecordBatch, UInt8Array, UInt32Array, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use jaeger_storage::span_links::{ProjectedLink, ProjectedSpan, RefType, SpanLinkChunk};

use super::JobError;

/// OTLP span kinds (`opentelemetry.proto.trace.v1.Span.SpanKind`).
pub(crate) const KIND_UNSPECIFIED: u8 = 0;
pub(crate) const KIND_SERVER: u8 = 2;
pub(crate) const KIND_CLIENT: u8 = 3;
pub(crate) const KIND_PRODUCER: u8 = 4;
pub(crate) const KIND_CONSUMER: u8 = 5;

/// Reference types in the `rt` column.
pub(crate) const REF_CHILD_OF: u8 = 1;
pub(crate) const REF_FOLLOWS_FROM: u8 = 2;
pub(crate) const REF_LINK: u8 = 3;

/// Rows per Arrow batch built in a partition.
const BATCH_ROWS: usize = 8192;

/// `spans`: `t` trace key, `s` span id, `p` parent span id (null: none), `v` the span's
/// half packed as [`pack_half`], `peer` the `peer.service` id of a client/producer span
/// (0: none), `start` start time.
pub(crate) static SPANS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("t", DataType::UInt64, false),
        Field::new("s", DataType::UInt64, false),
        Field::new("p", DataType::UInt64, true),
        Field::new("v", DataType::UInt64, false),
        Field::new("peer", DataType::UInt32, false),
        Field::new("start", DataType::UInt64, false),
    ]))
});

/// Bit set in a packed half for the client side (client, producer).
pub(crate) const CLIENT_SIDE: u64 = 1 << 63;

/// A span's half as one `u64`: side bit, service id, kind. `min(v)` over a span id's rows
/// is its server half when it has one, `max(v)` its client half when it has one, so one
/// column and two plain aggregates describe a Zipkin shared span.
pub(crate) fn pack_half(kind: u8, svc: u32) -> u64 {
    let side = if kind == KIND_CLIENT || kind == KIND_PRODUCER {
        CLIENT_SIDE
    } else {
        0
    };
    side | (u64::from(svc) << 8) | u64::from(kind)
}

pub(crate) static LINKS_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("t", DataType::UInt64, false),
        Field::new("s", DataType::UInt64, false),
        Field::new("c", DataType::UInt64, false),
        Field::new("ct", DataType::UInt64, false),
        Field::new("rt", DataType::UInt8, false),
        Field::new("kind", DataType::UInt8, false),
        Field::new("svc", DataType::UInt32, false),
        Field::new("start", DataType::UInt64, false),
    ]))
});

/// Service names (and `peer.service` values) as dense ids; 0 is "no service".
#[derive(Debug)]
pub(crate) struct Interner {
    ids: HashMap<String, u32>,
    names: Vec<String>,
}

impl Default for Interner {
    fn default() -> Self {
        Self {
            ids: HashMap::new(),
            names: vec![String::new()],
        }
    }
}

impl Interner {
    pub(crate) fn intern(&mut self, name: &str) -> u32 {
        if name.is_empty() {
            return 0;
        }
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        id
    }

    /// Ids handed out, "no service" included.
    pub(crate) fn len(&self) -> usize {
        self.names.len()
    }

    pub(crate) fn name(&self, id: u32) -> &str {
        self.names
            .get(id as usize)
            .map(String::as_str)
            .unwrap_or("")
    }
}

/// What phase 1 saw, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct IngestCounters {
    pub spans_read: u64,
    pub spans_outside_window: u64,
    pub invalid_ids: u64,
    pub spans_without_service: u64,
    pub links_read: u64,
}

#[derive(Default)]
struct SpanCols {
    t: Vec<u64>,
    s: Vec<u64>,
    p: Vec<Option<u64>>,
    v: Vec<u64>,
    peer: Vec<u32>,
    start: Vec<u64>,
}

impl SpanCols {
    fn len(&self) -> usize {
        self.t.len()
    }

    fn take_batch(&mut self) -> Result<RecordBatch, JobError> {
        let cols = std::mem::take(self);
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(cols.t)),
            Arc::new(UInt64Array::from(cols.s)),
            Arc::new(UInt64Array::from(cols.p)),
            Arc::new(UInt64Array::from(cols.v)),
            Arc::new(UInt32Array::from(cols.peer)),
            Arc::new(UInt64Array::from(cols.start)),
        ];
        Ok(RecordBatch::try_new(SPANS_SCHEMA.clone(), arrays)?)
    }
}

#[derive(Default)]
struct LinkCols {
    t: Vec<u64>,
    s: Vec<u64>,
    c: Vec<u64>,
    ct: Vec<u64>,
    rt: Vec<u8>,
    kind: Vec<u8>,
    svc: Vec<u32>,
    start: Vec<u64>,
}

impl LinkCols {
    fn len(&self) -> usize {
        self.t.len()
    }

    fn take_batch(&mut self) -> Result<RecordBatch, JobError> {
        let cols = std::mem::take(self);
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(cols.t)),
            Arc::new(UInt64Array::from(cols.s)),
            Arc::new(UInt64Array::from(cols.c)),
            Arc::new(UInt64Array::from(cols.ct)),
            Arc::new(UInt8Array::from(cols.rt)),
            Arc::new(UInt8Array::from(cols.kind)),
            Arc::new(UInt32Array::from(cols.svc)),
            Arc::new(UInt64Array::from(cols.start)),
        ];
        Ok(RecordBatch::try_new(LINKS_SCHEMA.clone(), arrays)?)
    }
}

/// One hash partition: rows being built, finished batches in memory, and the spill files
/// holding the batches that had to leave memory.
#[derive(Default)]
struct Bucket {
    span_cols: SpanCols,
    link_cols: LinkCols,
    spans: Vec<RecordBatch>,
    links: Vec<RecordBatch>,
    mem_bytes: usize,
    spill: Option<SpillFiles>,
}

struct SpillFiles {
    spans_path: PathBuf,
    links_path: PathBuf,
    spans: Option<StreamWriter<BufWriter<File>>>,
    links: Option<StreamWriter<BufWriter<File>>>,
    bytes: usize,
}

impl SpillFiles {
    fn create(dir: &Path, index: usize) -> Result<Self, JobError> {
        let spans_path = dir.join(format!("spans-{index}.arrow"));
        let links_path = dir.join(format!("links-{index}.arrow"));
        let spans =
            StreamWriter::try_new(BufWriter::new(File::create(&spans_path)?), &SPANS_SCHEMA)?;
        let links =
            StreamWriter::try_new(BufWriter::new(File::create(&links_path)?), &LINKS_SCHEMA)?;
        Ok(Self {
            spans_path,
            links_path,
            spans: Some(spans),
            links: Some(links),
            bytes: 0,
        })
    }

    fn finish(&mut self) -> Result<(), JobError> {
        for writer in [self.spans.take(), self.links.take()].into_iter().flatten() {
            let mut writer = writer;
            writer.finish()?;
            writer.into_inner()?;
        }
        Ok(())
    }
}

/// The rows of one partition, ready for the plan.
pub(crate) struct PartitionData {
    pub spans: Vec<RecordBatch>,
    pub links: Vec<RecordBatch>,
    /// Spill files to read the rest of the rows from.
    files: Option<(PathBuf, PathBuf)>,
    /// In-memory plus spilled size, used to group partitions into runs.
    pub bytes: usize,
    /// Of which in memory (counted in the memory pool until the partition's run takes it).
    pub mem_bytes: usize,
}

impl PartitionData {
    /// Reads the spilled rows back and deletes the files.
    pub(crate) fn load(mut self) -> Result<(Vec<RecordBatch>, Vec<RecordBatch>), JobError> {
        if let Some((spans_path, links_path)) = self.files.take() {
            let mut spans = read_ipc(&spans_path)?;
            spans.append(&mut self.spans);
            let mut links = read_ipc(&links_path)?;
            links.append(&mut self.links);
            // The temp dir is removed at the end anyway; freeing disk early helps big windows.
            let _ = std::fs::remove_file(&spans_path);
            let _ = std::fs::remove_file(&links_path);
            return Ok((spans, links));
        }
        Ok((self.spans, self.links))
    }
}

fn read_ipc(path: &Path) -> Result<Vec<RecordBatch>, JobError> {
    let reader = StreamReader::try_new(BufReader::new(File::open(path)?), None)?;
    let mut out = Vec::new();
    for batch in reader {
        out.push(batch?);
    }
    Ok(out)
}

/// Settings of phase 1.
pub(crate) struct PartitionerOptions {
    pub start: u64,
    pub end: u64,
    pub partitions: usize,
    /// Bytes of finished batches kept in memory before partitions spill to disk.
    pub buffer_budget: usize,
    pub spill_dir: PathBuf,
}

/// Turns scanned spans into partitioned rows.
pub(crate) struct Partitioner {
    opts: PartitionerOptions,
    buckets: Vec<Bucket>,
    pub interner: Interner,
    /// Job ids of the names of the chunk being added.
    local_ids: Vec<u32>,
    pub counters: IngestCounters,
    mem_bytes: usize,
    pub spilled_bytes: u64,
}

/// Hash of a 16-byte trace id: the trace key of both tables. 62 bits, so that the plan's
/// span key `trace key << 64 | span id` is a valid `Decimal128(38, 0)` (below 10^38).
pub(crate) fn trace_key(trace_id: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(trace_id) >> 2
}

impl Partitioner {
    pub(crate) fn new(opts: PartitionerOptions) -> Self {
        let partitions = opts.partitions.max(1);
        Self {
            buckets: (0..partitions).map(|_| Bucket::default()).collect(),
            opts,
            interner: Interner::default(),
            local_ids: Vec::new(),
            counters: IngestCounters::default(),
            mem_bytes: 0,
            spilled_bytes: 0,
        }
    }

    fn bucket_of(&self, key: u64) -> usize {
        // The low bits feed DataFusion's own hashing; take the high ones here.
        ((key >> 32) % self.buckets.len() as u64) as usize
    }

    /// Adds the spans of one scanned chunk.
    pub(crate) fn add_chunk(&mut self, chunk: &SpanLinkChunk) -> Result<(), JobError> {
        // Chunk-local name indices to the job's ids: a chunk names a handful of services.
        self.local_ids.clear();
        for name in &chunk.names {
            let id = self.interner.intern(name);
            self.local_ids.push(id);
        }
        let mut links = chunk.links.as_slice();
        for span in &chunk.spans {
            let n = (span.links as usize).min(links.len());
            let (own, rest) = links.split_at(n);
            links = rest;
            self.add_span(span, own)?;
        }
        Ok(())
    }

    fn local_id(&self, index: u32) -> u32 {
        self.local_ids.get(index as usize).copied().unwrap_or(0)
    }

    fn add_span(&mut self, span: &ProjectedSpan, links: &[ProjectedLink]) -> Result<(), JobError> {
        let start = span.start;
        if start < self.opts.start || start >= self.opts.end {
            // A reader may hand out whole chunks around the window; the window is ours.
            self.counters.spans_outside_window += 1;
            return Ok(());
        }
        self.counters.spans_read += 1;
        let (Some(trace_id), s) = (span.trace_id, span.span_id) else {
            self.counters.invalid_ids += 1;
            return Ok(());
        };
        if s == 0 {
            self.counters.invalid_ids += 1;
            return Ok(());
        }
        let svc = self.local_id(span.service);
        if svc == 0 {
            self.counters.spans_without_service += 1;
        }
        let t = trace_key(&trace_id);
        let p = span.parent;
        let kind = u8::try_from(span.kind)
            .ok()
            .filter(|k| *k <= 5)
            .unwrap_or(KIND_UNSPECIFIED);
        let peer = if kind == KIND_CLIENT || kind == KIND_PRODUCER {
            self.local_id(span.peer)
        } else {
            0
        };

        let b = self.bucket_of(t);
        let cols = &mut self.buckets[b].span_cols;
        cols.t.push(t);
        cols.s.push(s);
        cols.p.push((p != 0).then_some(p));
        cols.v.push(pack_half(kind, svc));
        cols.peer.push(peer);
        cols.start.push(start);
        if cols.len() >= BATCH_ROWS {
            self.flush_spans(b)?;
        }

        for link in links {
            self.counters.links_read += 1;
            let (Some(link_trace), ls) = (link.trace_id, link.span_id) else {
                self.counters.invalid_ids += 1;
                continue;
            };
            if ls == 0 {
                self.counters.invalid_ids += 1;
                continue;
            }
            let lt = trace_key(&link_trace);
            if lt == t && ls == p {
                // Jaeger's translator repeats the parent as a link only to carry its type.
                continue;
            }
            let rt = match link.ref_type {
                RefType::ChildOf => REF_CHILD_OF,
                RefType::FollowsFrom => REF_FOLLOWS_FROM,
                RefType::Link => REF_LINK,
            };
            let lb = self.bucket_of(lt);
            let cols = &mut self.buckets[lb].link_cols;
            cols.t.push(lt);
            cols.s.push(ls);
            cols.c.push(s);
            cols.ct.push(t);
            cols.rt.push(rt);
            cols.kind.push(kind);
            cols.svc.push(svc);
            cols.start.push(start);
            if cols.len() >= BATCH_ROWS {
                self.flush_links(lb)?;
            }
        }
        Ok(())
    }

    fn flush_spans(&mut self, b: usize) -> Result<(), JobError> {
        let batch = self.buckets[b].span_cols.take_batch()?;
        self.keep(b, batch, true)
    }

    fn flush_links(&mut self, b: usize) -> Result<(), JobError> {
        let batch = self.buckets[b].link_cols.take_batch()?;
        self.keep(b, batch, false)
    }

    fn keep(&mut self, b: usize, batch: RecordBatch, is_spans: bool) -> Result<(), JobError> {
        let size = batch.get_array_memory_size();
        let bucket = &mut self.buckets[b];
        bucket.mem_bytes += size;
        if is_spans {
            bucket.spans.push(batch);
        } else {
            bucket.links.push(batch);
        }
        self.mem_bytes += size;
        if self.mem_bytes > self.opts.buffer_budget {
            self.spill_until(self.opts.buffer_budget / 2)?;
        }
        Ok(())
    }

    /// Spills the largest partitions until the buffered bytes are at most `target`.
    fn spill_until(&mut self, target: usize) -> Result<(), JobError> {
        while self.mem_bytes > target {
            let Some((b, _)) = self
                .buckets
                .iter()
                .enumerate()
                .filter(|(_, bucket)| bucket.mem_bytes > 0)
                .max_by_key(|(_, bucket)| bucket.mem_bytes)
            else {
                break;
            };
            self.spill_bucket(b)?;
        }
        Ok(())
    }

    fn spill_bucket(&mut self, b: usize) -> Result<(), JobError> {
        let dir = self.opts.spill_dir.clone();
        let bucket = &mut self.buckets[b];
        if bucket.spill.is_none() {
            bucket.spill = Some(SpillFiles::create(&dir, b)?);
        }
        let spill = bucket
            .spill
            .as_mut()
            .expect("spill files were created just above");
        if let Some(writer) = spill.spans.as_mut() {
            for batch in bucket.spans.drain(..) {
                writer.write(&batch)?;
            }
        }
        if let Some(writer) = spill.links.as_mut() {
            for batch in bucket.links.drain(..) {
                writer.write(&batch)?;
            }
        }
        spill.bytes += bucket.mem_bytes;
        self.spilled_bytes += bucket.mem_bytes as u64;
        self.mem_bytes -= bucket.mem_bytes;
        bucket.mem_bytes = 0;
        Ok(())
    }

    /// Flushes the rows being built and hands out the partitions.
    pub(crate) fn finish(mut self) -> Result<Finished, JobError> {
        for b in 0..self.buckets.len() {
            if self.buckets[b].span_cols.len() > 0 {
                self.flush_spans(b)?;
            }
            if self.buckets[b].link_cols.len() > 0 {
                self.flush_links(b)?;
            }
        }
        let mut partitions = Vec::with_capacity(self.buckets.len());
        for mut bucket in self.buckets {
            let mut bytes = bucket.mem_bytes;
            let files = match bucket.spill.as_mut() {
                Some(spill) => {
                    spill.finish()?;
                    bytes += spill.bytes;
                    Some((spill.spans_path.clone(), spill.links_path.clone()))
                }
                None => None,
            };
            partitions.push(PartitionData {
                spans: bucket.spans,
                links: bucket.links,
                files,
                bytes,
                mem_bytes: bucket.mem_bytes,
            });
        }
        Ok(Finished {
            partitions,
            interner: self.interner,
            counters: self.counters,
            spilled_bytes: self.spilled_bytes,
        })
    }
}

pub(crate) struct Finished {
    pub partitions: Vec<PartitionData>,
    pub interner: Interner,
    pub counters: IngestCounters,
    pub spilled_bytes: u64,
}

/// Groups consecutive partitions into runs of at most `budget` bytes (at least one
/// partition each), and into at least `parallel` runs when there are enough partitions, so
/// that runs executed side by side keep every thread busy.
pub(crate) fn group_into_runs(
    partitions: Vec<PartitionData>,
    budget: usize,
    parallel: usize,
) -> Vec<Vec<PartitionData>> {
    let total: usize = partitions.iter().map(|p| p.bytes).sum();
    let budget = budget.min(total.div_ceil(parallel.max(1)).max(1));
    let mut runs: Vec<Vec<PartitionData>> = Vec::new();
    let mut current: Vec<PartitionData> = Vec::new();
    let mut current_bytes = 0usize;
    for p in partitions {
        if p.bytes == 0 {
            continue;
        }
        if !current.is_empty() && current_bytes + p.bytes > budget {
            runs.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current_bytes += p.bytes;
        current.push(p);
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;
    use jaeger_model::otlp::{KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Value};

    fn kv(key: &str, value: &str) -> KeyValue {
        jaeger_model::trace::kv(key, Value::StringValue(value.into()))
    }

    fn rs(service: &str, spans: Vec<Span>) -> ResourceSpans {
        ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn span(trace: u8, id: u64, parent: u64, start: u64) -> Span {
        Span {
            trace_id: vec![trace; 16],
            span_id: id.to_be_bytes().to_vec(),
            parent_span_id: if parent == 0 {
                vec![]
            } else {
                parent.to_be_bytes().to_vec()
            },
            start_time_unix_nano: start,
            end_time_unix_nano: start + 10,
            ..Default::default()
        }
    }

    fn partitioner(dir: &Path, partitions: usize, budget: usize) -> Partitioner {
        Partitioner::new(PartitionerOptions {
            start: 100,
            end: 1_000_000,
            partitions,
            buffer_budget: budget,
            spill_dir: dir.to_path_buf(),
        })
    }

    /// What a store's `scan_span_links` hands out for these spans.
    fn chunk(groups: &[ResourceSpans]) -> SpanLinkChunk {
        let mut c = SpanLinkChunk::default();
        c.push_resource_spans(groups, "peer.service");
        c
    }

    fn total_rows(batches: &[RecordBatch]) -> usize {
        batches.iter().map(RecordBatch::num_rows).sum()
    }

    #[test]
    fn counts_bad_ids_and_window_and_missing_service() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut p = partitioner(dir.path(), 4, usize::MAX);
        let mut bad_trace = span(1, 5, 0, 200);
        bad_trace.trace_id = vec![1; 8];
        let mut bad_link = span(1, 6, 0, 200);
        bad_link.links.push(jaeger_model::otlp::Link {
            trace_id: vec![1; 16],
            span_id: vec![0; 8],
            ..Default::default()
        });
        p.add_chunk(&chunk(&[
            rs(
                "a",
                vec![span(1, 1, 0, 200), span(1, 2, 0, 50), bad_trace, bad_link],
            ),
            rs("", vec![span(1, 3, 1, 300), span(1, 4, 0, 0)]),
        ]))
        .expect("add");
        let f = p.finish().expect("finish");
        assert_eq!(
            f.counters,
            IngestCounters {
                spans_read: 4,
                spans_outside_window: 2,
                invalid_ids: 2,
                spans_without_service: 1,
                links_read: 1,
            }
        );
        let rows: usize = f.partitions.iter().map(|p| total_rows(&p.spans)).sum();
        assert_eq!(rows, 3);
    }

    #[test]
    fn spilled_partitions_read_back_whole() {
        let dir = tempfile::tempdir().expect("temp dir");
        // A tiny budget forces every flushed batch to disk.
        let mut p = partitioner(dir.path(), 3, 1);
        let spans: Vec<Span> = (1..=20_000u64)
            .map(|i| span((i % 7) as u8, i, 0, 200 + i))
            .collect();
        p.add_chunk(&chunk(&[rs("a", spans)])).expect("add");
        let f = p.finish().expect("finish");
        assert!(f.spilled_bytes > 0);
        let mut rows = 0;
        for part in f.partitions {
            let (spans, links) = part.load().expect("load");
            rows += total_rows(&spans);
            assert_eq!(total_rows(&links), 0);
        }
        assert_eq!(rows, 20_000);
    }

    #[test]
    fn links_are_routed_by_the_linked_trace() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut p = partitioner(dir.path(), 16, usize::MAX);
        let mut consumer = span(9, 1, 0, 200);
        consumer.links.push(jaeger_model::otlp::Link {
            trace_id: vec![3; 16],
            span_id: 7u64.to_be_bytes().to_vec(),
            ..Default::default()
        });
        p.add_chunk(&chunk(&[rs("b", vec![consumer])]))
            .expect("add");
        let target = p.bucket_of(trace_key(&[3; 16]));
        let f = p.finish().expect("finish");
        assert_eq!(total_rows(&f.partitions[target].links), 1);
    }

    #[test]
    fn runs_respect_the_budget() {
        let part = |bytes| PartitionData {
            spans: vec![],
            links: vec![],
            files: None,
            bytes,
            mem_bytes: bytes,
        };
        let runs = group_into_runs(vec![part(5), part(0), part(5), part(20), part(1)], 10, 1);
        let sizes: Vec<Vec<usize>> = runs
            .iter()
            .map(|r| r.iter().map(|p| p.bytes).collect())
            .collect();
        assert_eq!(sizes, vec![vec![5, 5], vec![20], vec![1]]);
        // Two threads: the 31 bytes are cut into runs of at most 16.
        let runs = group_into_runs(vec![part(5), part(5), part(5), part(5), part(11)], 100, 2);
        let sizes: Vec<Vec<usize>> = runs
            .iter()
            .map(|r| r.iter().map(|p| p.bytes).collect())
            .collect();
        assert_eq!(sizes, vec![vec![5, 5, 5], vec![5, 11]]);
    }
}
