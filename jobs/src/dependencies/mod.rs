//! The dependencies job: reads the spans of a time window from storage, derives the
//! service links with DataFusion, and writes them back for that window.
//!
//! Two phases, both off the caller's async threads (a dedicated thread with its own
//! Tokio runtime for DataFusion):
//! 1. [`rows`]: the storage scan streams OTLP chunks; each span becomes a compact row in
//!    one of `partitions` hash partitions of its trace id; partitions spill to Arrow IPC
//!    files when the buffered rows pass half of the memory limit.
//! 2. [`plan`]: partitions are grouped into runs of bounded size; each run goes through
//!    one DataFusion plan (hash joins, or spilling sort-merge joins when the memory pool
//!    refuses), and the per-run counts are summed.
//!
//! The rules (what counts as a call, what bad input does) are in `docs/dependencies-job.md`
//! and on [`JobSummary`]'s counters.

mod plan;
mod rows;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use datafusion::execution::memory_pool::{
    FairSpillPool, MemoryConsumer, MemoryReservation, UnboundedMemoryPool,
};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use jaeger_storage::{
    DependencyLink, DependencyStore, SpanLinkChunk, SpanLinkScan, SpanReader, StorageError,
    UnixNanos,
};
use tokio::sync::{mpsc, oneshot};

use plan::{OutcomeRow, PlanOptions, outcome};
use rows::{Partitioner, PartitionerOptions, group_into_runs};

/// Nanoseconds in a day.
pub const DAY_NANOS: u64 = 86_400 * 1_000_000_000;

/// Jaeger's `source` of links made by the job.
const LINK_SOURCE: &str = "jaeger";

/// Scanned chunks (about 4096 spans, 256 KiB each) in flight between the scan and phase 1.
const SCAN_CHANNEL_CHUNKS: usize = 8;

/// Phase-1 buffer when no memory limit is set.
const DEFAULT_BUFFER_BUDGET: usize = 512 << 20;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("invalid time window: start {start} is not before end {end}")]
    InvalidWindow { start: UnixNanos, end: UnixNanos },
    #[error("invalid cron schedule {schedule:?}: {reason}")]
    InvalidSchedule { schedule: String, reason: String },
    #[error("storage: {0}")]
    Storage(#[from] StorageError),
    #[error("datafusion: {0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("spill files: {0}")]
    Io(#[from] std::io::Error),
    #[error("the link derivation thread stopped unexpectedly")]
    WorkerLost,
    #[error("the run was cancelled")]
    Cancelled,
    #[error("a run of the window [{start}, {end}) is already in progress in this process")]
    AlreadyRunning { start: UnixNanos, end: UnixNanos },
    #[error(
        "{0} distinct service and peer.service names in one window; at most 2^24 are supported"
    )]
    TooManyServices(usize),
}

/// Options of one run. `Default` gives the previous-day window's other settings; set
/// `start`/`end` (see [`previous_utc_day`]).
#[derive(Clone, Debug, PartialEq)]
pub struct DependenciesJobOptions {
    /// Window start (inclusive), nanoseconds since the epoch.
    pub start: UnixNanos,
    /// Window end (exclusive).
    pub end: UnixNanos,
    /// Count client/producer leaf spans with a `peer.service` as calls to that service.
    pub peer_service: bool,
    /// The span attribute naming an uninstrumented peer (spark's `PEER_SERVICE_TAG`).
    pub peer_service_attribute: String,
    /// Keep links from a service to itself (calls across a process boundary only).
    pub keep_self_calls: bool,
    /// The job's memory pool: DataFusion's operators, the rows buffered by phase 1 (a
    /// quarter of it before spilling), the runs' inputs and the materialized `node` tables
    /// all count against it. `None`: an unbounded pool and a 512 MiB buffer.
    pub memory_limit_bytes: Option<usize>,
    /// Bytes of rows buffered in memory before partitions spill to disk; `None`: a quarter
    /// of the memory limit, or 512 MiB without one.
    pub spill_buffer_bytes: Option<usize>,
    /// Hash partitions of the trace id the window is split into.
    pub partitions: usize,
    /// Threads DataFusion runs on (its own runtime).
    pub threads: usize,
    /// A trace with at least this many spans is counted as large (it is still processed).
    pub large_trace_spans: u64,
    /// Where spill files go; the system temp dir when `None`.
    pub spill_dir: Option<PathBuf>,
    /// Live counters for a progress display; `None` when nobody watches.
    pub progress: Option<ProgressHandle>,
}

/// Live counters of a run, updated as it goes (for a progress bar or log lines).
#[derive(Debug, Default)]
pub struct JobProgress {
    /// Spans handed over by the scan so far.
    pub spans_scanned: AtomicU64,
    /// DataFusion runs planned (known once the scan ended) and finished.
    pub runs_total: AtomicU64,
    pub runs_done: AtomicU64,
    /// Calls counted by the finished runs.
    pub calls_found: AtomicU64,
}

/// A shared [`JobProgress`]; two handles are equal when they share the counters.
#[derive(Clone, Debug, Default)]
pub struct ProgressHandle(pub Arc<JobProgress>);

impl PartialEq for ProgressHandle {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Default for DependenciesJobOptions {
    fn default() -> Self {
        Self {
            start: 0,
            end: 0,
            peer_service: true,
            peer_service_attribute: "peer.service".to_string(),
            keep_self_calls: true,
            memory_limit_bytes: None,
            spill_buffer_bytes: None,
            partitions: 64,
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            large_trace_spans: 100_000,
            spill_dir: None,
            progress: None,
        }
    }
}

impl DependenciesJobOptions {
    /// Bytes of finished rows phase 1 keeps in memory before spilling partitions.
    fn buffer_budget(&self) -> usize {
        self.spill_buffer_bytes.unwrap_or_else(|| {
            self.memory_limit_bytes
                .map_or(DEFAULT_BUFFER_BUDGET, |m| m / 4)
        })
    }

    /// Input bytes of one DataFusion run: a hash join's tables take a few times its input,
    /// and `threads` runs share the pool. A sixteenth of the limit per thread: at 10 M
    /// spans and 512 MiB this ran faster than a quarter (1.9 M against 1.4 M spans per
    /// CPU-second, the hash tables stay in cache) and kept the process at ~560 MiB
    /// instead of ~1.2 GiB (`examples/dependencies_bench.rs`).
    fn run_budget(&self) -> usize {
        self.memory_limit_bytes
            .map_or(usize::MAX, |m| m / 16 / self.threads.max(1))
    }
}

/// What a run did. Every bad-input rule has a counter here.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JobSummary {
    pub window_start: UnixNanos,
    pub window_end: UnixNanos,
    /// Spans in the window handed over by the storage scan.
    pub spans_read: u64,
    /// Distinct trace ids among them.
    pub traces: u64,
    /// Links written (distinct parent/child pairs).
    pub links_written: u64,
    /// Calls counted over all links.
    pub calls: u64,
    /// Calls by rule: parent → child across services (references and messaging links).
    pub parent_child_calls: u64,
    /// Calls by rule: Zipkin shared spans (client half → server half).
    pub shared_span_calls: u64,
    /// Calls by rule: `peer.service` leaves.
    pub peer_service_calls: u64,
    /// Self-calls counted (or, with `keep_self_calls = false`, dropped).
    pub self_calls: u64,
    pub duration: Duration,
    /// Of which: the scan and conversion to rows (phase 1), and the DataFusion runs.
    pub scan_duration: Duration,
    pub plan_duration: Duration,

    /// Bad input, each a documented rule:
    /// spans the scan returned outside the window (ignored).
    pub spans_outside_window: u64,
    /// Spans with a malformed trace or span id (dropped), plus links with malformed ids.
    pub invalid_ids: u64,
    /// Spans without a service name: no graph node; their references are ignored.
    pub spans_without_service: u64,
    /// References (child-of, follows-from) to a span that is not in the window.
    pub missing_parents: u64,
    /// References whose parent span is present but has no service name.
    pub orphaned_children: u64,
    /// References that are cycles: a span naming itself, or two spans each other's parent.
    pub reference_cycles: u64,
    /// Children that start before their parent (the call still counts).
    pub clock_skewed_children: u64,
    /// Span links whose target is not in the window.
    pub unresolved_links: u64,
    /// Span links that are not consumer → producer and carry no reference type.
    pub ignored_links: u64,
    /// Traces with at least `large_trace_spans` spans (processed like any other).
    pub large_traces: u64,

    /// DataFusion runs the window took; runs halved because they exceeded the memory pool;
    /// pieces that fell back to the spilling sort-merge plan.
    pub runs: u64,
    pub split_runs: u64,
    pub sort_merge_runs: u64,
    /// Bytes of rows spilled to disk in phase 1.
    pub spilled_bytes: u64,
}

impl fmt::Display for JobSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dependencies [{}, {}): {} spans, {} traces, {} links ({} calls: {} parent/child, \
             {} shared, {} peer.service, {} self) in {:.3}s (scan {:.3}s, plan {:.3}s); runs {} \
             (split {}, sort-merge {}), \
             spilled {} B; bad input: {} outside window, {} invalid ids, {} without service, \
             {} missing parents, {} orphaned children, {} reference cycles, {} clock-skewed \
             children, {} unresolved links, {} ignored links, {} large traces",
            self.window_start,
            self.window_end,
            self.spans_read,
            self.traces,
            self.links_written,
            self.calls,
            self.parent_child_calls,
            self.shared_span_calls,
            self.peer_service_calls,
            self.self_calls,
            self.duration.as_secs_f64(),
            self.scan_duration.as_secs_f64(),
            self.plan_duration.as_secs_f64(),
            self.runs,
            self.split_runs,
            self.sort_merge_runs,
            self.spilled_bytes,
            self.spans_outside_window,
            self.invalid_ids,
            self.spans_without_service,
            self.missing_parents,
            self.orphaned_children,
            self.reference_cycles,
            self.clock_skewed_children,
            self.unresolved_links,
            self.ignored_links,
            self.large_traces,
        )
    }
}

/// The window spark-dependencies processes by default: the UTC day before `now`'s.
pub fn previous_utc_day(now: UnixNanos) -> (UnixNanos, UnixNanos) {
    let end = now - now % DAY_NANOS;
    (end.saturating_sub(DAY_NANOS), end)
}

/// Links of a window and the summary, before they are written.
pub struct DerivedLinks {
    pub links: Vec<DependencyLink>,
    pub summary: JobSummary,
}

/// Runs the job once: scan, derive, and replace the window's links in `store`.
pub async fn run_dependencies_job(
    reader: Arc<dyn SpanReader>,
    store: Arc<dyn DependencyStore>,
    opts: &DependenciesJobOptions,
) -> Result<JobSummary, JobError> {
    let started = Instant::now();
    // Keyed by the link store too: other stores (tests, archive) may run the same window.
    let store_key = Arc::as_ptr(&store) as *const () as usize;
    let _running = WindowGuard::acquire((store_key, opts.start, opts.end))?;
    let DerivedLinks { links, mut summary } = derive_links(reader, opts).await?;
    store
        .write_dependencies(opts.start, opts.end, links)
        .await?;
    summary.duration = started.elapsed();
    tracing::info!(
        window_start = summary.window_start,
        window_end = summary.window_end,
        spans = summary.spans_read,
        traces = summary.traces,
        links = summary.links_written,
        calls = summary.calls,
        "{summary}"
    );
    Ok(summary)
}

/// Windows being processed in this process: two runs of one window never overlap (the
/// second would replace the first one's links with the same ones, doing the work twice).
type RunKey = (usize, UnixNanos, UnixNanos);

static RUNNING: std::sync::Mutex<Vec<RunKey>> = std::sync::Mutex::new(Vec::new());

struct WindowGuard(RunKey);

impl WindowGuard {
    fn acquire(key: RunKey) -> Result<Self, JobError> {
        let mut running = RUNNING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if running.contains(&key) {
            return Err(JobError::AlreadyRunning {
                start: key.1,
                end: key.2,
            });
        }
        running.push(key);
        Ok(Self(key))
    }
}

impl Drop for WindowGuard {
    fn drop(&mut self) {
        let mut running = RUNNING
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        running.retain(|w| *w != self.0);
    }
}

/// Scans the window and derives its links without writing them.
pub async fn derive_links(
    reader: Arc<dyn SpanReader>,
    opts: &DependenciesJobOptions,
) -> Result<DerivedLinks, JobError> {
    if opts.start >= opts.end {
        return Err(JobError::InvalidWindow {
            start: opts.start,
            end: opts.end,
        });
    }
    let started = Instant::now();
    let (tx, rx) = mpsc::channel::<SpanLinkChunk>(SCAN_CHANNEL_CHUNKS);
    let (done_tx, done_rx) = oneshot::channel();
    let worker_opts = opts.clone();
    let abort = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let worker_abort = abort.clone();
    std::thread::Builder::new()
        .name("dependencies-job".into())
        .spawn(move || {
            let result = derive_on_thread(rx, &worker_opts, &worker_abort);
            let _ = done_tx.send(result);
        })?;
    // If this future is dropped (shutdown) or the scan fails, the worker stops early.
    let guard = AbortOnDrop(Some(abort));
    // The scan runs here (storage I/O belongs to the caller's runtime); `tx` is kept until
    // its outcome is known so the worker can tell a finished scan from a failed one.
    let request = SpanLinkScan {
        start: opts.start,
        end: opts.end,
        peer_attribute: opts.peer_service_attribute.clone(),
        parallelism: opts.threads.max(1),
    };
    let scan = reader.scan_span_links(&request, tx.clone()).await;
    if scan.is_ok() {
        guard.disarm();
    } else {
        drop(guard);
    }
    drop(tx);
    let derived = done_rx.await.map_err(|_| JobError::WorkerLost)?;
    scan?;
    let mut derived = derived?;
    derived.summary.duration = started.elapsed();
    Ok(derived)
}

/// Tells the worker to give up unless disarmed.
struct AbortOnDrop(Option<Arc<std::sync::atomic::AtomicBool>>);

impl AbortOnDrop {
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        if let Some(flag) = self.0.take() {
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
}

/// Phase 1 and 2 on the job's own thread.
fn derive_on_thread(
    mut rx: mpsc::Receiver<SpanLinkChunk>,
    opts: &DependenciesJobOptions,
    abort: &std::sync::atomic::AtomicBool,
) -> Result<DerivedLinks, JobError> {
    let started = Instant::now();
    let spill_root = match &opts.spill_dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            tempfile::Builder::new()
                .prefix("jaeger-dependencies-")
                .tempdir_in(dir)?
        }
        None => tempfile::Builder::new()
            .prefix("jaeger-dependencies-")
            .tempdir()?,
    };
    let mut partitioner = Partitioner::new(PartitionerOptions {
        start: opts.start,
        end: opts.end,
        partitions: opts.partitions,
        buffer_budget: opts.buffer_budget(),
        spill_dir: spill_root.path().to_path_buf(),
    });
    while let Some(chunk) = rx.blocking_recv() {
        partitioner.add_chunk(&chunk)?;
        if let Some(p) = &opts.progress {
            p.0.spans_scanned
                .store(partitioner.counters.spans_read, Ordering::Relaxed);
        }
    }
    if abort.load(std::sync::atomic::Ordering::SeqCst) {
        // The scan failed (its error is what the caller reports) or the caller gave up.
        return Err(JobError::Cancelled);
    }
    let finished = partitioner.finish()?;
    if finished.interner.len() >= plan::MAX_SERVICE_IDS {
        return Err(JobError::TooManyServices(finished.interner.len()));
    }
    let scan_duration = started.elapsed();
    let df_runtime = datafusion_runtime(opts, &spill_root)?;
    // The rows phase 1 kept in memory count against the pool until their run takes them,
    // so that DataFusion's operators, the rows and the runs' inputs share one limit.
    let kept_rows = Arc::new(
        MemoryConsumer::new("dependencies: buffered rows").register(&df_runtime.memory_pool),
    );
    kept_rows.grow(finished.partitions.iter().map(|p| p.mem_bytes).sum());

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.threads.max(1))
        .thread_name("dependencies-datafusion")
        .enable_all()
        .build()?;
    let plan_opts = PlanOptions {
        peer_service: opts.peer_service,
        large_trace_spans: opts.large_trace_spans,
        batch_size: 8192,
        memory_limit: opts.memory_limit_bytes,
    };
    let threads = opts.threads.max(1);
    let runs = group_into_runs(finished.partitions, opts.run_budget(), threads);
    if let Some(p) = &opts.progress {
        p.0.runs_total.store(runs.len() as u64, Ordering::Relaxed);
    }
    let mut tally = Tally::default();
    let mut summary = JobSummary {
        window_start: opts.start,
        window_end: opts.end,
        spilled_bytes: finished.spilled_bytes,
        ..JobSummary::default()
    };
    let results = runtime.block_on(run_concurrently(
        runs,
        threads,
        df_runtime,
        plan_opts,
        abort,
        opts.progress.clone(),
        kept_rows,
    ))?;
    for result in results {
        summary.runs += 1;
        summary.split_runs += result.splits;
        summary.sort_merge_runs += result.sort_merge_runs;
        summary.traces += result.traces;
        summary.large_traces += result.large_traces;
        for row in result.rows {
            tally.add(&row, opts.keep_self_calls);
        }
    }
    // Dropping the runtime here, after every run finished or was aborted, never waits on
    // a stuck task.
    drop(runtime);

    summary.scan_duration = scan_duration;
    summary.plan_duration = started.elapsed() - scan_duration;
    let c = finished.counters;
    summary.spans_read = c.spans_read;
    summary.spans_outside_window = c.spans_outside_window;
    summary.invalid_ids = c.invalid_ids;
    summary.spans_without_service = c.spans_without_service;
    let links = tally.finish(&finished.interner, &mut summary);
    Ok(DerivedLinks { links, summary })
}

/// Runs the plans of `runs` on the job's runtime, at most `threads` at once (each plan is
/// single-partition, so this is where the job's parallelism comes from). The first error
/// aborts the others.
async fn run_concurrently(
    runs: Vec<Vec<rows::PartitionData>>,
    threads: usize,
    df_runtime: Arc<RuntimeEnv>,
    plan_opts: PlanOptions,
    abort: &std::sync::atomic::AtomicBool,
    progress: Option<ProgressHandle>,
    kept_rows: Arc<MemoryReservation>,
) -> Result<Vec<plan::RunResult>, JobError> {
    let mut pending = runs.into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    let mut results = Vec::new();
    loop {
        while tasks.len() < threads {
            let Some(run) = pending.next() else { break };
            if abort.load(std::sync::atomic::Ordering::SeqCst) {
                return Err(JobError::Cancelled);
            }
            let df_runtime = df_runtime.clone();
            let plan_opts = plan_opts.clone();
            // The run's in-memory rows leave the buffered rows' reservation: from here on
            // they are the run's input, which DataFusion's operators are sized against.
            let in_memory: usize = run.iter().map(|p| p.mem_bytes).sum();
            kept_rows.shrink(in_memory.min(kept_rows.size()));
            tasks.spawn(async move {
                let mut spans = Vec::new();
                let mut links = Vec::new();
                for part in run {
                    // Spill files are small sequential reads; not worth a blocking thread.
                    let (mut s, mut l) = part.load()?;
                    spans.append(&mut s);
                    links.append(&mut l);
                }
                plan::run_plan(&df_runtime, spans, links, &plan_opts).await
            });
        }
        let Some(joined) = tasks.join_next().await else {
            return Ok(results);
        };
        // A panicking plan is a bug in DataFusion or here; report it as a lost worker.
        let result = joined.map_err(|_| JobError::WorkerLost)??;
        if let Some(p) = &progress {
            let calls: u64 = result
                .rows
                .iter()
                .filter(|r| matches!(r.outcome, outcome::EDGE | outcome::SHARED | outcome::PEER))
                .map(|r| r.count)
                .sum();
            p.0.calls_found.fetch_add(calls, Ordering::Relaxed);
            p.0.runs_done.fetch_add(1, Ordering::Relaxed);
        }
        results.push(result);
    }
}

fn datafusion_runtime(
    opts: &DependenciesJobOptions,
    spill_root: &tempfile::TempDir,
) -> Result<Arc<RuntimeEnv>, JobError> {
    let builder = RuntimeEnvBuilder::new().with_temp_file_path(spill_root.path());
    let builder = match opts.memory_limit_bytes {
        Some(limit) => builder.with_memory_pool(Arc::new(FairSpillPool::new(limit))),
        None => builder.with_memory_pool(Arc::new(UnboundedMemoryPool::default())),
    };
    Ok(builder.build_arc()?)
}

/// Sums the plan's outcome rows into links and counters.
#[derive(Default)]
struct Tally {
    links: HashMap<(u32, u32), u64>,
    counts: HashMap<i64, u64>,
    skewed: u64,
    self_calls: u64,
}

impl Tally {
    fn add(&mut self, row: &OutcomeRow, keep_self_calls: bool) {
        *self.counts.entry(row.outcome).or_default() += row.count;
        if row.skewed {
            self.skewed += row.count;
        }
        let counted = match row.outcome {
            outcome::EDGE | outcome::SHARED | outcome::PEER => true,
            outcome::SELF_CALL => {
                self.self_calls += row.count;
                keep_self_calls
            }
            _ => false,
        };
        if counted {
            *self.links.entry((row.parent, row.child)).or_default() += row.count;
        }
    }

    fn finish(self, names: &rows::Interner, summary: &mut JobSummary) -> Vec<DependencyLink> {
        let count = |o: i64| self.counts.get(&o).copied().unwrap_or(0);
        summary.parent_child_calls = count(outcome::EDGE);
        summary.shared_span_calls = count(outcome::SHARED);
        summary.peer_service_calls = count(outcome::PEER);
        summary.self_calls = self.self_calls;
        summary.missing_parents = count(outcome::MISSING_PARENT);
        summary.unresolved_links = count(outcome::UNRESOLVED_LINK);
        summary.orphaned_children = count(outcome::ORPHANED);
        summary.reference_cycles = count(outcome::CYCLE);
        summary.ignored_links = count(outcome::IGNORED_LINK);
        summary.clock_skewed_children = self.skewed;

        let mut links: Vec<DependencyLink> = self
            .links
            .into_iter()
            .map(|((p, c), n)| DependencyLink {
                parent: names.name(p).to_string(),
                child: names.name(c).to_string(),
                call_count: n,
                source: LINK_SOURCE.to_string(),
            })
            .collect();
        links.sort_by(|a, b| (&a.parent, &a.child).cmp(&(&b.parent, &b.child)));
        summary.links_written = links.len() as u64;
        summary.calls = links.iter().map(|l| l.call_count).sum();
        links
    }
}
