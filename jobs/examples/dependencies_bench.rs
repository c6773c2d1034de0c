//! Derives dependency links for N generated spans through the job's own pipeline
//! (scan → partitioned rows → DataFusion plan) and prints spans/s and peak RSS.
//!
//! `cargo run --release -p jaeger-jobs --example dependencies_bench`
//! Env: `DEPS_BENCH_SPANS` (10000000), `DEPS_BENCH_MEMORY_MB` (512, 0 = no limit),
//! `DEPS_BENCH_PARTITIONS` (64), `DEPS_BENCH_THREADS` (available cores),
//! `DEPS_BENCH_STORE_DIR` (through the embedded store there; `DEPS_BENCH_LOAD=1` loads it).
//!
//! Spans are generated on the fly inside `scan_spans` (never all in memory), as traces of
//! 10 spans over 40 services: client/server pairs, an in-process child, a `peer.service`
//! leaf, a producer → consumer hop. Generation alone is timed first and reported, so the
//! derivation's own rate can be read off.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use jaeger_jobs::DependenciesJobOptions;
use jaeger_jobs::dependencies::{DAY_NANOS, derive_links};
use jaeger_model::otlp::{KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Value};
use jaeger_model::{Trace, TraceId};
use jaeger_storage::{
    GetTraceParams, Operation, OperationQuery, SpanReader, TraceQuery, UnixNanos,
};

// The `jaeger` binary's allocator (src/main.rs), so peak RSS and speed are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const START: u64 = 1_772_582_400 * 1_000_000_000;
const SPANS_PER_TRACE: u64 = 10;
const TRACES_PER_CHUNK: u64 = 100;
const SERVICES: u64 = 40;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn kv(key: &str, value: &str) -> KeyValue {
    jaeger_model::trace::kv(key, Value::StringValue(value.into()))
}

/// (span index, parent index, kind, service slot, peer.service) of each span of a trace.
type Layout = (u64, Option<u64>, i32, u64, Option<&'static str>);

/// One trace as four resource spans (one per service it touches).
fn trace(n: u64, out: &mut Vec<ResourceSpans>) {
    let h = splitmix(n);
    let trace_id: Vec<u8> = [splitmix(h).to_be_bytes(), h.to_be_bytes()].concat();
    let sid = |i: u64| splitmix(h ^ (i + 1)).max(1);
    let svc = |k: u64| format!("service-{}", (h >> (k * 8)) % SERVICES);
    let start = START + (h % (DAY_NANOS - 1_000_000_000));
    let layout: [Layout; SPANS_PER_TRACE as usize] = [
        (0, None, 2, 0, None),
        (1, Some(0), 3, 0, None),
        (2, Some(1), 2, 1, None),
        (3, Some(2), 1, 1, None),
        (4, Some(3), 3, 1, Some("postgres")),
        (5, Some(2), 3, 1, None),
        (6, Some(5), 2, 2, None),
        (7, Some(6), 4, 2, Some("kafka")),
        (8, Some(7), 5, 3, None),
        (9, Some(8), 1, 3, None),
    ];
    let mut by_slot: [Vec<Span>; 4] = Default::default();
    for (i, parent, kind, slot, peer) in layout {
        let mut attributes = vec![kv("http.method", "GET"), kv("component", "bench")];
        if let Some(peer) = peer {
            attributes.push(kv("peer.service", peer));
        }
        by_slot[slot as usize].push(Span {
            trace_id: trace_id.clone(),
            span_id: sid(i).to_be_bytes().to_vec(),
            parent_span_id: parent
                .map(|p| sid(p).to_be_bytes().to_vec())
                .unwrap_or_default(),
            name: format!("op-{i}"),
            kind,
            start_time_unix_nano: start + i * 1000,
            end_time_unix_nano: start + i * 1000 + 500,
            attributes,
            ..Default::default()
        });
    }
    for (slot, spans) in by_slot.into_iter().enumerate() {
        out.push(ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", &svc(slot as u64))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        });
    }
}

fn chunk(first_trace: u64, traces: u64) -> Vec<ResourceSpans> {
    let mut out = Vec::with_capacity(traces as usize * 4);
    for n in first_trace..first_trace + traces {
        trace(n, &mut out);
    }
    out
}

struct Generator {
    traces: u64,
}

#[async_trait]
impl SpanReader for Generator {
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
        _start: UnixNanos,
        _end: UnixNanos,
        sink: tokio::sync::mpsc::Sender<Vec<ResourceSpans>>,
    ) -> jaeger_storage::Result<()> {
        let mut n = 0;
        while n < self.traces {
            let count = TRACES_PER_CHUNK.min(self.traces - n);
            if sink.send(chunk(n, count)).await.is_err() {
                break;
            }
            n += count;
        }
        Ok(())
    }
}

fn rss_kib() -> u64 {
    status_kib("VmRSS:")
}

/// Samples RSS every 50 ms, keeping the peaks of the scan (phase 1) and of the runs
/// (phase 2, once the job knows how many runs it has), and notes the process's CPU time
/// when phase 2 starts (checked every 5 ms).
struct RssSampler {
    stop: Arc<AtomicBool>,
    scan_peak: Arc<AtomicU64>,
    runs_peak: Arc<AtomicU64>,
    /// CPU ticks of the process when the runs started (0: not yet).
    runs_cpu_start: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RssSampler {
    fn start(progress: jaeger_jobs::ProgressHandle) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let scan_peak = Arc::new(AtomicU64::new(0));
        let runs_peak = Arc::new(AtomicU64::new(0));
        let runs_cpu_start = Arc::new(AtomicU64::new(0));
        let (s, a, b, c) = (
            stop.clone(),
            scan_peak.clone(),
            runs_peak.clone(),
            runs_cpu_start.clone(),
        );
        let thread = std::thread::spawn(move || {
            let mut tick = 0u64;
            while !s.load(Ordering::Relaxed) {
                let in_runs = progress.0.runs_total.load(Ordering::Relaxed) > 0;
                if in_runs && c.load(Ordering::Relaxed) == 0 {
                    c.store(cpu_ticks().max(1), Ordering::Relaxed);
                }
                if tick.is_multiple_of(10) {
                    let peak = if in_runs { &b } else { &a };
                    peak.fetch_max(rss_kib(), Ordering::Relaxed);
                }
                tick += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Self {
            stop,
            scan_peak,
            runs_peak,
            runs_cpu_start,
            thread: Some(thread),
        }
    }

    /// (scan peak, runs peak) in MiB, and the CPU ticks when the runs started.
    fn finish(mut self) -> (u64, u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        (
            self.scan_peak.load(Ordering::Relaxed) / 1024,
            self.runs_peak.load(Ordering::Relaxed) / 1024,
            self.runs_cpu_start.load(Ordering::Relaxed),
        )
    }
}

/// User + system CPU time of the whole process (all threads), in clock ticks of 10 ms
/// (`/proc/self/stat` fields 14 and 15; USER_HZ is 100 on Linux).
fn cpu_ticks() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // Fields after the command name (which may hold spaces) start at field 3.
    let Some((_, rest)) = stat.rsplit_once(") ") else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| {
        fields
            .get(n - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    field(14) + field(15)
}

fn peak_rss_kib() -> u64 {
    status_kib("VmHWM:")
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// `DEPS_BENCH_STORE_DIR` set: the spans go through the embedded store in that directory.
/// With `DEPS_BENCH_LOAD=1` the generated spans are written there and the process exits;
/// without it the job reads them back with `scan_spans` (so peak RSS is the job's alone).
async fn embedded(dir: &str, spans: u64, opts: DependenciesJobOptions) {
    use jaeger_storage::SpanWriter;
    use jaeger_storage::embedded::{EmbeddedStore, EmbeddedStoreConfig};
    let store = EmbeddedStore::open(EmbeddedStoreConfig::new(dir)).expect("open store");
    let traces = spans / SPANS_PER_TRACE;
    if std::env::var("DEPS_BENCH_LOAD").is_ok_and(|v| v == "1") {
        let t = Instant::now();
        let mut n = 0;
        // 1000 traces (10 000 spans) per write batch, as a busy collector's queue does.
        while n < traces {
            let count = (TRACES_PER_CHUNK * 10).min(traces - n);
            store.write_spans(chunk(n, count)).await.expect("write");
            n += count;
        }
        store.flush().expect("flush");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "loaded {} spans into {dir} in {secs:.1}s ({:.0} spans/s)",
            traces * SPANS_PER_TRACE,
            (traces * SPANS_PER_TRACE) as f64 / secs
        );
        return;
    }
    let threads = opts.threads;
    let progress = jaeger_jobs::ProgressHandle::default();
    let opts = DependenciesJobOptions {
        progress: Some(progress.clone()),
        ..opts
    };
    let sampler = RssSampler::start(progress);
    let t = Instant::now();
    let out = derive_links(store, &opts).await.expect("derive links");
    let cpu_end = cpu_ticks();
    let secs = t.elapsed().as_secs_f64();
    let (scan_peak, runs_peak, cpu_runs_start) = sampler.finish();
    // CPU seconds of phase 2 (all threads): the load-robust figure on a shared machine.
    let plan_cpu = cpu_end.saturating_sub(cpu_runs_start) as f64 / 100.0;
    let s = &out.summary;
    println!("{s}");
    let plan = s.plan_duration.as_secs_f64().max(f64::EPSILON);
    let scan = s.scan_duration.as_secs_f64().max(f64::EPSILON);
    println!(
        "embedded store: {} spans, threads {threads}, memory limit {:?}",
        s.spans_read, opts.memory_limit_bytes
    );
    println!(
        "scan + rows (phase 1, {threads} scan threads): {scan:.2}s = {:.0} spans/s",
        s.spans_read as f64 / scan
    );
    println!(
        "link derivation (DataFusion runs): {plan:.2}s = {:.0} spans/s ({:.0} spans/s per core)",
        s.spans_read as f64 / plan,
        s.spans_read as f64 / plan / threads as f64
    );
    println!(
        "link derivation CPU time (user + system, all threads): {plan_cpu:.2}s = {:.0} spans per CPU-second",
        s.spans_read as f64 / plan_cpu.max(0.01)
    );
    println!(
        "whole job: {secs:.2}s = {:.0} spans/s",
        s.spans_read as f64 / secs
    );
    println!(
        "peak RSS (VmHWM): {} MiB; sampled peak during the scan {scan_peak} MiB, during the runs {runs_peak} MiB",
        peak_rss_kib() / 1024
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let spans = env_u64("DEPS_BENCH_SPANS", 10_000_000);
    let memory_mb = env_u64("DEPS_BENCH_MEMORY_MB", 512);
    let defaults = DependenciesJobOptions::default();
    let threads = env_u64("DEPS_BENCH_THREADS", defaults.threads as u64) as usize;
    let partitions = env_u64("DEPS_BENCH_PARTITIONS", defaults.partitions as u64) as usize;
    let traces = spans / SPANS_PER_TRACE;
    let spans = traces * SPANS_PER_TRACE;
    if let Ok(dir) = std::env::var("DEPS_BENCH_STORE_DIR") {
        let opts = DependenciesJobOptions {
            start: START,
            end: START + DAY_NANOS,
            memory_limit_bytes: (memory_mb > 0).then_some((memory_mb as usize) << 20),
            threads,
            partitions,
            ..defaults
        };
        embedded(&dir, spans, opts).await;
        return;
    }

    let t = Instant::now();
    let mut generated = 0u64;
    let mut n = 0;
    while n < traces {
        let count = TRACES_PER_CHUNK.min(traces - n);
        generated += chunk(n, count).len() as u64;
        n += count;
    }
    let gen_secs = t.elapsed().as_secs_f64();
    assert!(generated > 0 || traces == 0);

    let opts = DependenciesJobOptions {
        start: START,
        end: START + DAY_NANOS,
        memory_limit_bytes: (memory_mb > 0).then_some((memory_mb as usize) << 20),
        threads,
        partitions,
        ..defaults
    };
    let reader = Arc::new(Generator { traces });
    let t = Instant::now();
    let out = derive_links(reader, &opts).await.expect("derive links");
    let secs = t.elapsed().as_secs_f64();
    let derive_secs = (secs - gen_secs).max(f64::EPSILON);
    let s = &out.summary;
    println!("{s}");
    println!(
        "spans {spans}, threads {threads}, memory limit {memory_mb} MiB, partitions {partitions}"
    );
    println!(
        "generation alone: {gen_secs:.2}s ({:.0} spans/s)",
        spans as f64 / gen_secs
    );
    println!(
        "job incl. generation: {secs:.2}s = {:.0} spans/s ({:.0} spans/s per core)",
        spans as f64 / secs,
        spans as f64 / secs / threads as f64
    );
    println!(
        "job minus generation: {derive_secs:.2}s = {:.0} spans/s ({:.0} spans/s per core)",
        spans as f64 / derive_secs,
        spans as f64 / derive_secs / threads as f64
    );
    println!("peak RSS (VmHWM): {} MiB", peak_rss_kib() / 1024);
    assert_eq!(s.spans_read, spans, "every generated span must be read");
}
