//! Golden tests: each file in `jobs/testdata/dependencies/` is a hand-built set of traces
//! with the exact links and counters expected. A new case is a new file.
//!
//! Format, one statement per line (`#` starts a comment):
//! - `span <trace> <id> <parent|-> <service|-> <kind> [at=<ns>] [peer=<name>]
//!   [link=<trace>:<id>[:child_of|follows_from]]...` — kind is one of unspecified,
//!   internal, server, client, producer, consumer; `at` is the start offset in the window
//!   (default: 1000 × id, so parents start first).
//! - `many <trace> <count> <service>` — a root and `count - 1` internal children of it.
//! - `option <name>=<value>` — `peer_service`, `keep_self_calls`, `large_trace_spans`,
//!   `peer_service_attribute`.
//! - `outside <trace> <id> <service>` — a span starting before the window.
//! - `expect <parent> -> <child> <calls>` — an expected link; no other link may appear.
//! - `count <counter> <value>` — a summary counter; bad-input counters not named must be 0.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use jaeger_model::otlp::{KeyValue, Link, Resource, ResourceSpans, ScopeSpans, Span, Value};
use jaeger_model::{Trace, TraceId};
use jaeger_storage::memory::MemoryStore;
use jaeger_storage::{
    DependencyLink, DependencyStore, GetTraceParams, Operation, OperationQuery, SpanReader,
    StorageError, TraceQuery, UnixNanos,
};

use super::*;

/// 2026-03-04T00:00:00Z.
const BASE: u64 = 1_772_582_400 * 1_000_000_000;

/// A reader over a fixed set of spans; `scan_spans` hands them out in small chunks so the
/// spans of one trace arrive apart.
struct VecReader {
    spans: Vec<ResourceSpans>,
    chunk: usize,
    fail: bool,
    scans: Mutex<u32>,
}

impl VecReader {
    fn new(spans: Vec<ResourceSpans>) -> Self {
        Self {
            spans,
            chunk: 3,
            fail: false,
            scans: Mutex::new(0),
        }
    }
}

#[async_trait]
impl SpanReader for VecReader {
    async fn get_trace(&self, _: GetTraceParams) -> jaeger_storage::Result<Option<Trace>> {
        Ok(None)
    }
    async fn find_traces(&self, _: &TraceQuery) -> jaeger_storage::Result<Vec<Trace>> {
        Ok(vec![])
    }
    async fn find_trace_ids(&self, _: &TraceQuery) -> jaeger_storage::Result<Vec<TraceId>> {
        Ok(vec![])
    }
    async fn get_services(&self) -> jaeger_storage::Result<Vec<String>> {
        Ok(vec![])
    }
    async fn get_operations(&self, _: &OperationQuery) -> jaeger_storage::Result<Vec<Operation>> {
        Ok(vec![])
    }
    async fn scan_spans(
        &self,
        start: UnixNanos,
        end: UnixNanos,
        sink: tokio::sync::mpsc::Sender<Vec<ResourceSpans>>,
    ) -> jaeger_storage::Result<()> {
        *self.scans.lock().expect("lock") += 1;
        // Hands out everything, in or out of the window: the job owns the window check.
        let _ = (start, end);
        for (i, chunk) in self.spans.chunks(self.chunk.max(1)).enumerate() {
            if self.fail && i == 1 {
                return Err(StorageError::Unavailable("scan broke".into()));
            }
            if sink.send(chunk.to_vec()).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }
}

fn trace_bytes(name: &str) -> Vec<u8> {
    let n: u64 = name
        .trim_start_matches('t')
        .parse()
        .expect("trace name like t1");
    let mut id = vec![0u8; 8];
    id.extend_from_slice(&n.to_be_bytes());
    id
}

fn kv(key: &str, value: &str) -> KeyValue {
    jaeger_model::trace::kv(key, Value::StringValue(value.into()))
}

fn resource_spans(service: &str, span: Span) -> ResourceSpans {
    let attributes = if service == "-" {
        vec![]
    } else {
        vec![kv("service.name", service)]
    };
    ResourceSpans {
        resource: Some(Resource {
            attributes,
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans: vec![span],
            ..Default::default()
        }],
        ..Default::default()
    }
}

fn kind_code(kind: &str) -> i32 {
    match kind {
        "unspecified" => 0,
        "internal" => 1,
        "server" => 2,
        "client" => 3,
        "producer" => 4,
        "consumer" => 5,
        other => panic!("unknown kind {other}"),
    }
}

fn make_span(trace: &str, id: u64, parent: Option<u64>, kind: i32, at: u64) -> Span {
    Span {
        trace_id: trace_bytes(trace),
        span_id: id.to_be_bytes().to_vec(),
        parent_span_id: parent.map(|p| p.to_be_bytes().to_vec()).unwrap_or_default(),
        kind,
        name: format!("op-{id}"),
        start_time_unix_nano: BASE + at,
        end_time_unix_nano: BASE + at + 500,
        ..Default::default()
    }
}

struct Case {
    spans: Vec<ResourceSpans>,
    opts: DependenciesJobOptions,
    links: Vec<DependencyLink>,
    counts: Vec<(String, u64)>,
}

fn parse_case(text: &str) -> Case {
    let mut case = Case {
        spans: vec![],
        opts: DependenciesJobOptions {
            start: BASE,
            end: BASE + DAY_NANOS,
            threads: 2,
            ..Default::default()
        },
        links: vec![],
        counts: vec![],
    };
    for (lineno, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let ctx = || format!("line {}: {raw}", lineno + 1);
        match words[0] {
            "span" => {
                let id: u64 = words[2].parse().unwrap_or_else(|_| panic!("{}", ctx()));
                let parent = match words[3] {
                    "-" => None,
                    p => Some(p.parse().unwrap_or_else(|_| panic!("{}", ctx()))),
                };
                let mut at = id * 1000;
                let mut span = make_span(words[1], id, parent, kind_code(words[5]), 0);
                for extra in &words[6..] {
                    let (key, value) = extra.split_once('=').unwrap_or_else(|| panic!("{}", ctx()));
                    match key {
                        "at" => at = value.parse().unwrap_or_else(|_| panic!("{}", ctx())),
                        "peer" => span.attributes.push(kv("peer.service", value)),
                        "attr" => {
                            let (k, v) =
                                value.split_once(':').unwrap_or_else(|| panic!("{}", ctx()));
                            span.attributes.push(kv(k, v));
                        }
                        "link" => {
                            let mut parts = value.split(':');
                            let trace = parts.next().unwrap_or_else(|| panic!("{}", ctx()));
                            let lid: u64 = parts
                                .next()
                                .and_then(|s| s.parse().ok())
                                .unwrap_or_else(|| panic!("{}", ctx()));
                            let attributes = parts
                                .next()
                                .map(|t| vec![kv("opentracing.ref_type", t)])
                                .unwrap_or_default();
                            span.links.push(Link {
                                trace_id: trace_bytes(trace),
                                span_id: lid.to_be_bytes().to_vec(),
                                attributes,
                                ..Default::default()
                            });
                        }
                        other => panic!("unknown attribute {other} at {}", ctx()),
                    }
                }
                span.start_time_unix_nano = BASE + at;
                span.end_time_unix_nano = BASE + at + 500;
                case.spans.push(resource_spans(words[4], span));
            }
            "many" => {
                let count: u64 = words[2].parse().unwrap_or_else(|_| panic!("{}", ctx()));
                case.spans
                    .push(resource_spans(words[3], make_span(words[1], 1, None, 2, 0)));
                for id in 2..=count {
                    case.spans.push(resource_spans(
                        words[3],
                        make_span(words[1], id, Some(1), 1, id),
                    ));
                }
            }
            "outside" => {
                let id: u64 = words[2].parse().unwrap_or_else(|_| panic!("{}", ctx()));
                let mut span = make_span(words[1], id, None, 2, 0);
                span.start_time_unix_nano = BASE - 1;
                case.spans.push(resource_spans(words[3], span));
            }
            "option" => {
                let (key, value) = words[1]
                    .split_once('=')
                    .unwrap_or_else(|| panic!("{}", ctx()));
                match key {
                    "peer_service" => case.opts.peer_service = value == "true",
                    "keep_self_calls" => case.opts.keep_self_calls = value == "true",
                    "large_trace_spans" => {
                        case.opts.large_trace_spans =
                            value.parse().unwrap_or_else(|_| panic!("{}", ctx()))
                    }
                    "peer_service_attribute" => case.opts.peer_service_attribute = value.into(),
                    other => panic!("unknown option {other} at {}", ctx()),
                }
            }
            "expect" => {
                assert_eq!(words[2], "->", "{}", ctx());
                case.links.push(DependencyLink {
                    parent: words[1].into(),
                    child: words[3].into(),
                    call_count: words[4].parse().unwrap_or_else(|_| panic!("{}", ctx())),
                    source: "jaeger".into(),
                });
            }
            "count" => case.counts.push((
                words[1].to_string(),
                words[2].parse().unwrap_or_else(|_| panic!("{}", ctx())),
            )),
            other => panic!("unknown statement {other} at {}", ctx()),
        }
    }
    case.links
        .sort_by(|a, b| (&a.parent, &a.child).cmp(&(&b.parent, &b.child)));
    case
}

fn counters(s: &JobSummary) -> Vec<(&'static str, u64, bool)> {
    // (name, value, is a bad-input counter that must be 0 unless named)
    vec![
        ("spans_read", s.spans_read, false),
        ("traces", s.traces, false),
        ("links_written", s.links_written, false),
        ("calls", s.calls, false),
        ("parent_child_calls", s.parent_child_calls, false),
        ("shared_span_calls", s.shared_span_calls, false),
        ("peer_service_calls", s.peer_service_calls, false),
        ("self_calls", s.self_calls, true),
        ("spans_outside_window", s.spans_outside_window, true),
        ("invalid_ids", s.invalid_ids, true),
        ("spans_without_service", s.spans_without_service, true),
        ("missing_parents", s.missing_parents, true),
        ("orphaned_children", s.orphaned_children, true),
        ("reference_cycles", s.reference_cycles, true),
        ("clock_skewed_children", s.clock_skewed_children, true),
        ("unresolved_links", s.unresolved_links, true),
        ("ignored_links", s.ignored_links, true),
        ("large_traces", s.large_traces, true),
    ]
}

fn check_summary(name: &str, case: &Case, summary: &JobSummary) {
    for (counter, value, must_be_zero) in counters(summary) {
        match case.counts.iter().find(|(c, _)| c == counter) {
            Some((_, want)) => assert_eq!(value, *want, "{name}: counter {counter}\n{summary}"),
            None if must_be_zero => {
                assert_eq!(value, 0, "{name}: unexpected {counter}\n{summary}")
            }
            None => {}
        }
    }
    for (counter, _) in &case.counts {
        assert!(
            counters(summary).iter().any(|(c, _, _)| c == counter),
            "{name}: unknown counter {counter}"
        );
    }
    assert_eq!(summary.links_written, case.links.len() as u64, "{name}");
}

async fn run_case(name: &str, case: &Case, partitions: usize, memory_limit: Option<usize>) {
    let reader = Arc::new(VecReader::new(case.spans.clone()));
    let store = MemoryStore::new(10);
    let opts = DependenciesJobOptions {
        partitions,
        memory_limit_bytes: memory_limit,
        ..case.opts.clone()
    };
    let summary = run_dependencies_job(reader, store.clone(), &opts)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut stored = store
        .get_dependencies(BASE + DAY_NANOS, DAY_NANOS)
        .await
        .expect("read links");
    stored.sort_by(|a, b| (&a.parent, &a.child).cmp(&(&b.parent, &b.child)));
    assert_eq!(
        stored, case.links,
        "{name} (partitions {partitions})\n{summary}"
    );
    check_summary(name, case, &summary);
}

/// Where a golden case's spans are read from.
#[derive(Clone, Copy, Debug)]
enum Backend {
    /// Written to the memory store, read back with its `scan_spans`.
    Memory,
    /// Written to the embedded store (a temp dir), read back with its `scan_spans`.
    Embedded,
}

/// Runs a golden case through a real store: spans written through `write_spans`, read
/// back by the job through `scan_spans`, links written to and read from the same store.
async fn run_case_on_store(name: &str, case: &Case, backend: Backend) {
    let dir = tempfile::tempdir().expect("temp dir");
    let storage = match backend {
        Backend::Memory => jaeger_storage::Storage::from_backend(MemoryStore::new(1_000_000)),
        Backend::Embedded => jaeger_storage::Storage::from_backend(
            jaeger_storage::embedded::EmbeddedStore::open(
                jaeger_storage::embedded::EmbeddedStoreConfig::new(dir.path()),
            )
            .expect("embedded store opens"),
        ),
    };
    // Several write batches, so a trace's spans are stored apart.
    for batch in case.spans.chunks(7) {
        storage
            .writer
            .write_spans(batch.to_vec())
            .await
            .expect("write spans");
    }
    let summary = run_dependencies_job(
        storage.reader.clone(),
        storage.dependencies.clone(),
        &case.opts,
    )
    .await
    .unwrap_or_else(|e| panic!("{name} ({backend:?}): {e}"));
    let mut stored = storage
        .dependencies
        .get_dependencies(BASE + DAY_NANOS, DAY_NANOS)
        .await
        .expect("read links");
    stored.sort_by(|a, b| (&a.parent, &a.child).cmp(&(&b.parent, &b.child)));
    assert_eq!(stored, case.links, "{name} ({backend:?})\n{summary}");
    // A store's scan never hands out spans outside the window: the job sees none.
    let mut expected = Case {
        spans: vec![],
        opts: case.opts.clone(),
        links: case.links.clone(),
        counts: case.counts.clone(),
    };
    for (counter, value) in expected.counts.iter_mut() {
        if counter == "spans_outside_window" {
            *value = 0;
        }
    }
    // A store keeps a span written twice once (memory) or may hand it out twice
    // (embedded): `spans_read` is the store's business, the links are not.
    expected
        .counts
        .retain(|(counter, _)| counter != "spans_read");
    check_summary(&format!("{name} ({backend:?})"), &expected, &summary);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_cases_through_the_memory_and_embedded_stores() {
    for (name, case) in golden_files() {
        for backend in [Backend::Memory, Backend::Embedded] {
            run_case_on_store(&name, &case, backend).await;
        }
    }
}

fn golden_files() -> Vec<(String, Case)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/dependencies");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("golden dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "golden"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 8,
        "golden files missing in {}",
        dir.display()
    );
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            let case = parse_case(&std::fs::read_to_string(&path).expect("read golden"));
            (name, case)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golden_cases() {
    for (name, case) in golden_files() {
        // One partition, and many: routing by trace must not change a single count.
        run_case(&name, &case, 1, None).await;
        run_case(&name, &case, 7, None).await;
    }
}

/// Builds a mixed workload: chains across services, shared spans, messaging across
/// traces, peer leaves.
fn mixed_workload(traces: u64) -> Vec<ResourceSpans> {
    let services = ["front", "auth", "cart", "db-proxy", "queue-worker"];
    let mut out = Vec::new();
    for t in 1..=traces {
        let trace = format!("t{t}");
        let svc = |i: u64| services[((t + i) % services.len() as u64) as usize];
        out.push(resource_spans(svc(0), make_span(&trace, 1, None, 2, 0)));
        out.push(resource_spans(svc(0), make_span(&trace, 2, Some(1), 3, 10)));
        out.push(resource_spans(svc(1), make_span(&trace, 3, Some(2), 2, 20)));
        // Zipkin-style shared span between svc(1) and svc(2).
        out.push(resource_spans(svc(1), make_span(&trace, 4, Some(3), 3, 30)));
        out.push(resource_spans(svc(2), make_span(&trace, 4, Some(3), 2, 31)));
        let mut leaf = make_span(&trace, 5, Some(4), 3, 40);
        leaf.attributes.push(kv("peer.service", "postgres"));
        out.push(resource_spans(svc(2), leaf));
        out.push(resource_spans(svc(2), make_span(&trace, 6, Some(4), 4, 50)));
        if t > 1 {
            // A consumer in this trace linked to the producer of the previous trace.
            let mut consumer = make_span(&trace, 7, None, 5, 60);
            consumer.links.push(Link {
                trace_id: trace_bytes(&format!("t{}", t - 1)),
                span_id: 6u64.to_be_bytes().to_vec(),
                ..Default::default()
            });
            out.push(resource_spans(svc(3), consumer));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioning_spilling_and_splitting_do_not_change_links() {
    const TRACES: u64 = 4_000;
    let spans = mixed_workload(TRACES);
    let run = |partitions: usize, memory_limit: Option<usize>, spill_buffer: Option<usize>| {
        let spans = spans.clone();
        async move {
            let reader = Arc::new(VecReader {
                chunk: 100,
                ..VecReader::new(spans)
            });
            let opts = DependenciesJobOptions {
                start: BASE,
                end: BASE + DAY_NANOS,
                partitions,
                memory_limit_bytes: memory_limit,
                spill_buffer_bytes: spill_buffer,
                threads: 2,
                ..Default::default()
            };
            derive_links(reader, &opts).await.expect("derive")
        }
    };
    let base = run(1, None, None).await;
    assert_eq!(base.summary.runs, 1);
    assert_eq!(base.summary.spilled_bytes, 0);
    // Every batch spilled to disk, many partitions grouped into several runs.
    let spilled = run(8, Some(1 << 20), Some(1)).await;
    assert!(spilled.summary.spilled_bytes > 0, "{}", spilled.summary);
    assert!(spilled.summary.runs > 1, "{}", spilled.summary);
    // One partition bigger than the pool: the run is split by trace hash until it fits.
    let split = run(1, Some(1 << 20), None).await;
    assert!(split.summary.split_runs > 0, "{}", split.summary);
    for other in [&spilled, &split] {
        assert_eq!(base.links, other.links);
        let mut a = base.summary.clone();
        let mut b = other.summary.clone();
        for s in [&mut a, &mut b] {
            s.duration = Duration::ZERO;
            s.scan_duration = Duration::ZERO;
            s.plan_duration = Duration::ZERO;
            s.runs = 0;
            s.split_runs = 0;
            s.sort_merge_runs = 0;
            s.spilled_bytes = 0;
        }
        assert_eq!(a, b);
    }
    // Every trace: a call across services, a shared span, a peer leaf, a produced message
    // consumed by the next trace.
    assert_eq!(base.summary.traces, TRACES);
    assert_eq!(base.summary.shared_span_calls, TRACES);
    assert_eq!(base.summary.peer_service_calls, TRACES);
    assert_eq!(base.summary.parent_child_calls, TRACES + TRACES - 1);
    assert_eq!(base.summary.calls, TRACES * 3 + TRACES - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_too_big_for_the_pool_fails_cleanly_and_writes_nothing() {
    let case = parse_case("many t1 100000 A\nspan t1 100001 1 B server\n");
    let reader = Arc::new(VecReader {
        chunk: 1000,
        ..VecReader::new(case.spans.clone())
    });
    // 16 MiB holds a 100k-span trace (the join's build side alone takes about 9 MiB).
    let opts = DependenciesJobOptions {
        memory_limit_bytes: Some(16 << 20),
        ..case.opts.clone()
    };
    let out = derive_links(reader.clone(), &opts).await.expect("derive");
    assert_eq!(out.links.len(), 1, "{}", out.summary);
    // 4 MiB does not: the trace cannot be split, the sort-merge retry cannot spill enough.
    let store = MemoryStore::new(10);
    let opts = DependenciesJobOptions {
        memory_limit_bytes: Some(4 << 20),
        ..case.opts.clone()
    };
    let err = run_dependencies_job(reader, store.clone(), &opts)
        .await
        .expect_err("pool too small");
    assert!(
        matches!(&err, JobError::DataFusion(e) if plan::is_out_of_memory(e)),
        "{err}"
    );
    let links = store
        .get_dependencies(BASE + DAY_NANOS, DAY_NANOS)
        .await
        .expect("links");
    assert!(links.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rerunning_a_window_replaces_its_links() {
    let case = parse_case("span t1 1 - A server\nspan t1 2 1 A client\nspan t1 3 2 B server\n");
    let reader = Arc::new(VecReader::new(case.spans.clone()));
    let store = MemoryStore::new(10);
    for _ in 0..2 {
        run_dependencies_job(reader.clone(), store.clone(), &case.opts)
            .await
            .expect("run");
    }
    let links = store
        .get_dependencies(BASE + DAY_NANOS, DAY_NANOS)
        .await
        .expect("links");
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].call_count, 1);
    assert_eq!(*reader.scans.lock().expect("lock"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_scan_fails_the_job_and_writes_nothing() {
    let case = parse_case(
        "span t1 1 - A server\nspan t1 2 1 A client\nspan t1 3 2 B server\nspan t1 4 3 B client\n",
    );
    let reader = Arc::new(VecReader {
        chunk: 1,
        fail: true,
        ..VecReader::new(case.spans.clone())
    });
    let store = MemoryStore::new(10);
    let err = run_dependencies_job(reader, store.clone(), &case.opts)
        .await
        .expect_err("scan failure");
    assert!(matches!(err, JobError::Storage(_)), "{err}");
    let links = store
        .get_dependencies(BASE + DAY_NANOS, DAY_NANOS)
        .await
        .expect("links");
    assert!(links.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_window_is_an_error_and_an_empty_scan_writes_no_links() {
    let opts = DependenciesJobOptions {
        start: BASE,
        end: BASE,
        ..Default::default()
    };
    let reader = Arc::new(VecReader::new(vec![]));
    let store = MemoryStore::new(10);
    assert!(matches!(
        run_dependencies_job(reader.clone(), store.clone(), &opts).await,
        Err(JobError::InvalidWindow { .. })
    ));
    let opts = DependenciesJobOptions {
        end: BASE + 1000,
        ..opts
    };
    let summary = run_dependencies_job(reader, store, &opts)
        .await
        .expect("empty run");
    assert_eq!(summary.spans_read, 0);
    assert_eq!(summary.links_written, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_already_running_against_a_store_is_refused() {
    let store = MemoryStore::new(10);
    let store_key = Arc::as_ptr(&(store.clone() as Arc<dyn DependencyStore>)) as *const () as usize;
    let _first = WindowGuard::acquire((store_key, BASE, BASE + DAY_NANOS)).expect("first run");
    let reader = Arc::new(VecReader::new(vec![]));
    let opts = DependenciesJobOptions {
        start: BASE,
        end: BASE + DAY_NANOS,
        ..Default::default()
    };
    let err = run_dependencies_job(reader.clone(), store.clone(), &opts)
        .await
        .expect_err("same window, same store");
    assert!(matches!(err, JobError::AlreadyRunning { .. }), "{err}");
    // Another store, or the same store once the first run ended, is fine.
    run_dependencies_job(reader.clone(), MemoryStore::new(10), &opts)
        .await
        .expect("another store");
    drop(_first);
    run_dependencies_job(reader, store, &opts)
        .await
        .expect("after the first run ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trace_of_100k_spans_is_processed() {
    let case = parse_case("many t1 100000 big\nspan t2 1 - big client peer=db\n");
    let reader = Arc::new(VecReader {
        chunk: 1000,
        ..VecReader::new(case.spans.clone())
    });
    let out = derive_links(reader, &case.opts).await.expect("derive");
    assert_eq!(out.summary.spans_read, 100_001);
    assert_eq!(out.summary.large_traces, 1);
    assert_eq!(out.summary.traces, 2);
    assert_eq!(out.links.len(), 1);
    assert_eq!(out.links[0].child, "db");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_runs_fire_and_stop_on_shutdown() {
    let case = parse_case("span t1 1 - A server\nspan t1 2 1 A client\nspan t1 3 2 B server\n");
    let reader = Arc::new(VecReader::new(case.spans.clone()));
    let store = MemoryStore::new(10);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let mut stop_tx = Some(stop_tx);
    let results = Arc::new(Mutex::new(Vec::new()));
    let seen = results.clone();
    let runs = crate::run_on_schedule(
        "* * * * * *",
        crate::WindowSpec::Fixed {
            start: BASE,
            end: BASE + DAY_NANOS,
        },
        reader,
        store.clone(),
        DependenciesJobOptions::default(),
        move |r| {
            seen.lock()
                .expect("lock")
                .push(r.as_ref().map(|s| s.calls).map_err(|e| e.to_string()));
            if let Some(tx) = stop_tx.take() {
                let _ = tx.send(());
            }
        },
        async move {
            let _ = stop_rx.await;
        },
    )
    .await
    .expect("schedule");
    assert_eq!(runs, 1);
    assert_eq!(*results.lock().expect("lock"), vec![Ok(1)]);
    let links = store
        .get_dependencies(BASE + DAY_NANOS, DAY_NANOS)
        .await
        .expect("links");
    assert_eq!(links.len(), 1);
}
