//! `jaeger dependencies`: the dependencies job from the command line, once or on a cron
//! schedule, and the all-in-one's in-process schedule. The job itself is `jaeger-jobs`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use clap::Args;
use jaeger_config::Config;
use jaeger_config::humantime_serde_compat::parse_duration;
use jaeger_jobs::{
    DependenciesJobOptions, JobSummary, ProgressHandle, WindowSpec, run_dependencies_job,
    run_on_schedule,
};
use jaeger_storage::Storage;

/// Flags of `jaeger dependencies` (storage comes from the global flags and `--config`).
#[derive(Clone, Debug, Args, Default)]
pub struct DependenciesArgs {
    /// Window start, RFC 3339 (`2026-03-04T00:00:00Z`); inclusive. Needs --end.
    #[arg(long, value_parser = parse_rfc3339, requires = "end", conflicts_with = "lookback")]
    pub start: Option<u64>,
    /// Window end, RFC 3339; exclusive.
    #[arg(long, value_parser = parse_rfc3339, requires = "start")]
    pub end: Option<u64>,
    /// The last complete period of this length (Go duration: 15m, 1h, 24h), aligned on
    /// multiples of it since the epoch. Default: the previous UTC day.
    #[arg(long, value_parser = parse_duration)]
    pub lookback: Option<Duration>,
    /// Keep running and fire the job on this cron expression (UTC; `sec min hour dom
    /// month dow`, or five crontab fields). Each run takes its window at its fire time.
    #[arg(long, conflicts_with = "start")]
    pub schedule: Option<String>,
    /// DataFusion's memory pool (`512MB`, `2GiB`, bytes); unbounded when unset.
    #[arg(long = "memory-limit", value_parser = parse_size)]
    pub memory_limit: Option<u64>,
    /// Count client/producer leaf spans with `peer.service` as calls (`--peer-service=false`
    /// turns it off).
    #[arg(long = "peer-service", num_args = 0..=1, default_missing_value = "true")]
    pub peer_service: Option<bool>,
    /// The span attribute naming an uninstrumented peer (spark's PEER_SERVICE_TAG).
    #[arg(long = "peer-service-attribute", env = "PEER_SERVICE_TAG")]
    pub peer_service_attribute: Option<String>,
    /// Keep calls from a service to itself (`--self-calls=false` drops them).
    #[arg(long = "self-calls", num_args = 0..=1, default_missing_value = "true")]
    pub self_calls: Option<bool>,
    /// Trace-id hash partitions the window is split into.
    #[arg(long)]
    pub partitions: Option<usize>,
    /// DataFusion worker threads (default: the cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Directory for spill files (default: the system temp dir).
    #[arg(long = "spill-dir")]
    pub spill_dir: Option<PathBuf>,
}

fn parse_rfc3339(s: &str) -> Result<u64, String> {
    let t = DateTime::parse_from_rfc3339(s.trim())
        .map_err(|e| format!("{s:?} is not an RFC 3339 time: {e}"))?;
    t.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| format!("{s:?} is out of range"))
}

/// `512MB`, `512MiB`, `2g`, `1048576`: the units are binary (as the JVM's `-Xmx`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size like 512MB"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => return Err(format!("unknown size unit {other:?} in {s:?}")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

fn format_time(nanos: u64) -> String {
    let t = DateTime::<Utc>::from_timestamp_nanos(i64::try_from(nanos).unwrap_or(i64::MAX));
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The one summary line a run ends with.
pub fn summary_line(s: &JobSummary) -> String {
    format!(
        "dependencies: window [{}, {}): {} spans read, {} traces, {} links written ({} calls) in {:.2}s",
        format_time(s.window_start),
        format_time(s.window_end),
        s.spans_read,
        s.traces,
        s.links_written,
        s.calls,
        s.duration.as_secs_f64()
    )
}

impl DependenciesArgs {
    fn job_options(&self) -> DependenciesJobOptions {
        let mut o = DependenciesJobOptions::default();
        if let Some(v) = self.peer_service {
            o.peer_service = v;
        }
        if let Some(v) = &self.peer_service_attribute {
            o.peer_service_attribute = v.clone();
        }
        if let Some(v) = self.self_calls {
            o.keep_self_calls = v;
        }
        o.memory_limit_bytes = self
            .memory_limit
            .map(|m| usize::try_from(m).unwrap_or(usize::MAX));
        if let Some(v) = self.partitions {
            o.partitions = v.max(1);
        }
        if let Some(v) = self.threads {
            o.threads = v.max(1);
        }
        o.spill_dir = self.spill_dir.clone();
        o
    }

    fn window(&self) -> WindowSpec {
        match (self.start, self.end, self.lookback) {
            (Some(start), Some(end), _) => WindowSpec::Fixed { start, end },
            (_, _, Some(d)) => WindowSpec::Lookback(u64::try_from(d.as_nanos()).unwrap_or(0)),
            _ => WindowSpec::PreviousUtcDay,
        }
    }
}

fn now_nanos() -> u64 {
    u64::try_from(Utc::now().timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0)
}

/// Runs `jaeger dependencies`: once (exit status tells the outcome) or on `--schedule`.
pub fn run(config: Config, args: DependenciesArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("jaeger-dependencies")
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let storage = crate::all_in_one::open_storage(&config).await?;
        let window = args.window();
        let opts = args.job_options();
        match &args.schedule {
            Some(schedule) => {
                jaeger_jobs::parse_schedule(schedule)?;
                let runs = run_on_schedule(
                    schedule,
                    window,
                    storage.reader.clone(),
                    storage.dependencies.clone(),
                    opts,
                    |r| match r {
                        Ok(s) => tracing::info!("{}", summary_line(s)),
                        Err(e) => tracing::error!("dependencies run failed: {e}"),
                    },
                    crate::all_in_one::shutdown_signal(),
                )
                .await?;
                tracing::info!(runs, "dependencies schedule stopped");
                Ok(())
            }
            None => {
                let (start, end) = window.resolve(now_nanos())?;
                let summary = run_once(&storage, start, end, opts).await?;
                println!("{}", summary_line(&summary));
                Ok(())
            }
        }
    })
}

/// One run with progress on stderr: a bar on a terminal, log lines otherwise.
async fn run_once(
    storage: &Storage,
    start: u64,
    end: u64,
    mut opts: DependenciesJobOptions,
) -> anyhow::Result<JobSummary> {
    opts.start = start;
    opts.end = end;
    let progress = ProgressHandle::default();
    opts.progress = Some(progress.clone());
    tracing::info!(
        "dependencies: deriving links for [{}, {})",
        format_time(start),
        format_time(end)
    );
    let reporter = tokio::spawn(report_progress(progress, std::io::stderr().is_terminal()));
    let result =
        run_dependencies_job(storage.reader.clone(), storage.dependencies.clone(), &opts).await;
    reporter.abort();
    let _ = reporter.await;
    result.context("the dependencies job failed")
}

/// An indicatif bar on a terminal (a spinner with the spans scanned while the scan runs,
/// then a bar of the DataFusion runs); a log line every 10 s otherwise.
async fn report_progress(p: ProgressHandle, tty: bool) {
    if tty {
        show_bar(p).await;
    } else {
        log_lines(p).await;
    }
}

/// What the counters say, as the bar's message and the log lines show it.
fn progress_text(p: &ProgressHandle, secs: f64) -> (u64, u64, String) {
    let spans = p.0.spans_scanned.load(Ordering::Relaxed);
    let (done, total) = (
        p.0.runs_done.load(Ordering::Relaxed),
        p.0.runs_total.load(Ordering::Relaxed),
    );
    let calls = p.0.calls_found.load(Ordering::Relaxed);
    let rate = spans as f64 / secs.max(0.001);
    let text = if total == 0 {
        format!("scanning: {spans} spans ({rate:.0}/s)")
    } else {
        format!("deriving {done}/{total} runs: {spans} spans ({rate:.0}/s), {calls} calls found")
    };
    (done, total, text)
}

async fn show_bar(p: ProgressHandle) {
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let started = Instant::now();
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    let scanning = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
    let deriving = ProgressStyle::with_template("{spinner} [{elapsed_precise}] [{bar:24}] {msg}")
        .map(|s| s.progress_chars("#>-"))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(scanning);
    // Cleared when the job ends and this task is aborted: the summary line follows.
    let _clear = ClearOnDrop(bar.clone());
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    let mut in_runs = false;
    loop {
        tick.tick().await;
        let (done, total, text) = progress_text(&p, started.elapsed().as_secs_f64());
        if total > 0 {
            if !in_runs {
                bar.set_style(deriving.clone());
                bar.set_length(total);
                in_runs = true;
            }
            bar.set_position(done);
        }
        bar.set_message(text);
        bar.tick();
    }
}

struct ClearOnDrop(indicatif::ProgressBar);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

async fn log_lines(p: ProgressHandle) {
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(10));
    tick.tick().await;
    loop {
        tick.tick().await;
        let (done, total, text) = progress_text(&p, started.elapsed().as_secs_f64());
        tracing::info!(
            spans_scanned = p.0.spans_scanned.load(Ordering::Relaxed),
            runs_done = done,
            runs_total = total,
            calls_found = p.0.calls_found.load(Ordering::Relaxed),
            "dependencies: {text}"
        );
    }
}

/// The all-in-one's in-process schedule (`dependencies.schedule`), stopped by `stopped`.
pub async fn run_in_process(
    config: &jaeger_config::DependenciesConfig,
    storage: &Storage,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let Some(schedule) = config.schedule.clone() else {
        return Ok(());
    };
    let window = WindowSpec::Lookback(u64::try_from(config.lookback.as_nanos()).unwrap_or(0));
    let opts = DependenciesJobOptions {
        memory_limit_bytes: config
            .memory_limit_bytes
            .map(|m| usize::try_from(m).unwrap_or(usize::MAX)),
        // Leave a core to ingest and queries.
        threads: std::thread::available_parallelism()
            .map_or(1, |n| n.get().saturating_sub(1))
            .max(1),
        ..DependenciesJobOptions::default()
    };
    tracing::info!(schedule = %schedule, "dependencies job scheduled in process");
    let runs = run_on_schedule(
        &schedule,
        window,
        storage.reader.clone(),
        storage.dependencies.clone(),
        opts,
        |r| match r {
            Ok(s) => tracing::info!("{}", summary_line(s)),
            Err(e) => tracing::error!("dependencies run failed: {e}"),
        },
        stopped,
    )
    .await?;
    tracing::info!(runs, "dependencies schedule stopped");
    Ok(())
}

/// Validates a schedule before anything starts, so a typo fails at startup.
pub fn check_schedule(config: &Config) -> anyhow::Result<()> {
    if let Some(s) = &config.dependencies.schedule {
        jaeger_jobs::parse_schedule(s).context("dependencies.schedule")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("512MB"), Ok(512 << 20));
        assert_eq!(parse_size("512MiB"), Ok(512 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5 parsecs").is_err());
    }

    #[test]
    fn progress_text_follows_the_phases() {
        let p = ProgressHandle::default();
        p.0.spans_scanned.store(1_000, Ordering::Relaxed);
        let (_, total, text) = progress_text(&p, 2.0);
        assert_eq!((total, text.as_str()), (0, "scanning: 1000 spans (500/s)"));
        p.0.runs_total.store(8, Ordering::Relaxed);
        p.0.runs_done.store(3, Ordering::Relaxed);
        p.0.calls_found.store(41, Ordering::Relaxed);
        let (done, total, text) = progress_text(&p, 2.0);
        assert_eq!((done, total), (3, 8));
        assert_eq!(
            text,
            "deriving 3/8 runs: 1000 spans (500/s), 41 calls found"
        );
    }

    #[test]
    fn windows_from_flags() {
        let a = DependenciesArgs::default();
        assert_eq!(a.window(), WindowSpec::PreviousUtcDay);
        let a = DependenciesArgs {
            lookback: Some(Duration::from_secs(900)),
            ..Default::default()
        };
        assert_eq!(a.window(), WindowSpec::Lookback(900 * 1_000_000_000));
        let start = parse_rfc3339("2026-03-04T00:00:00Z").expect("time");
        assert_eq!(start, 1_772_582_400 * 1_000_000_000);
        assert!(parse_rfc3339("yesterday").is_err());
    }
}
