//! Running the dependencies job on a cron schedule inside the same binary.
//!
//! Expressions are the `cron` crate's: `sec min hour day-of-month month day-of-week
//! [year]`, in UTC. A classic five-field crontab line (`min hour dom month dow`) is
//! accepted too and fires at second 0.

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use cron::Schedule;
use jaeger_storage::{DependencyStore, SpanReader, UnixNanos};

use crate::dependencies::{
    DAY_NANOS, DependenciesJobOptions, JobError, JobSummary, run_dependencies_job,
};

/// Which window a run processes, from the time it starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowSpec {
    /// The whole UTC day before the run's (spark-dependencies' default).
    PreviousUtcDay,
    /// The last complete period of this length, aligned on multiples of it since the
    /// epoch (`15m` at 10:07 → [09:45, 10:00)), so re-runs hit the same window.
    Lookback(u64),
    /// A fixed window.
    Fixed { start: UnixNanos, end: UnixNanos },
}

impl WindowSpec {
    pub fn resolve(&self, now: UnixNanos) -> Result<(UnixNanos, UnixNanos), JobError> {
        let (start, end) = match *self {
            WindowSpec::PreviousUtcDay => crate::previous_utc_day(now),
            WindowSpec::Lookback(0) => (now, now),
            WindowSpec::Lookback(len) => {
                let end = now - now % len;
                (end.saturating_sub(len), end)
            }
            WindowSpec::Fixed { start, end } => (start, end),
        };
        if start >= end {
            return Err(JobError::InvalidWindow { start, end });
        }
        Ok((start, end))
    }
}

impl Default for WindowSpec {
    fn default() -> Self {
        WindowSpec::Lookback(DAY_NANOS)
    }
}

/// Parses a cron expression (six or seven fields, or a five-field crontab line).
pub fn parse_schedule(expr: &str) -> Result<Schedule, JobError> {
    let trimmed = expr.trim();
    let normalized = if trimmed.split_whitespace().count() == 5 {
        format!("0 {trimmed}")
    } else {
        trimmed.to_string()
    };
    Schedule::from_str(&normalized).map_err(|e| JobError::InvalidSchedule {
        schedule: expr.to_string(),
        reason: e.to_string(),
    })
}

fn to_nanos(t: DateTime<Utc>) -> UnixNanos {
    u64::try_from(t.timestamp_nanos_opt().unwrap_or(0)).unwrap_or(0)
}

/// Runs the job at every fire time of `schedule` until `shutdown` completes. Each run's
/// window comes from `window` at the fire time; `opts.start`/`opts.end` are ignored. A
/// failed run is logged and the schedule goes on. `on_run` sees each run's result.
/// Returns the number of runs started.
pub async fn run_on_schedule(
    schedule: &str,
    window: WindowSpec,
    reader: Arc<dyn SpanReader>,
    store: Arc<dyn DependencyStore>,
    opts: DependenciesJobOptions,
    mut on_run: impl FnMut(&Result<JobSummary, JobError>) + Send,
    shutdown: impl Future<Output = ()>,
) -> Result<u64, JobError> {
    let schedule = parse_schedule(schedule)?;
    tokio::pin!(shutdown);
    let mut runs = 0u64;
    loop {
        let Some(next) = schedule.upcoming(Utc).next() else {
            tracing::info!("cron schedule has no more fire times");
            return Ok(runs);
        };
        let wait = (next - Utc::now()).to_std().unwrap_or_default();
        tracing::info!(next = %next, "dependencies job scheduled");
        tokio::select! {
            _ = &mut shutdown => return Ok(runs),
            _ = tokio::time::sleep(wait) => {}
        }
        let fire = to_nanos(next);
        runs += 1;
        let result = match window.resolve(fire) {
            Ok((start, end)) => {
                let run_opts = DependenciesJobOptions {
                    start,
                    end,
                    ..opts.clone()
                };
                tokio::select! {
                    _ = &mut shutdown => return Ok(runs),
                    r = run_dependencies_job(reader.clone(), store.clone(), &run_opts) => r,
                }
            }
            Err(e) => Err(e),
        };
        if let Err(e) = &result {
            tracing::error!(error = %e, "scheduled dependencies job failed");
        }
        on_run(&result);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: u64 = 60 * 1_000_000_000;

    #[test]
    fn windows_resolve_to_aligned_periods() {
        // 2026-03-04T10:07:00Z
        let now = 1_772_618_820 * 1_000_000_000;
        let day_start = now - now % DAY_NANOS;
        assert_eq!(
            WindowSpec::PreviousUtcDay.resolve(now).expect("window"),
            (day_start - DAY_NANOS, day_start)
        );
        assert_eq!(
            WindowSpec::Lookback(15 * MIN).resolve(now).expect("window"),
            (
                day_start + 9 * 60 * MIN + 45 * MIN,
                day_start + 10 * 60 * MIN
            )
        );
        assert_eq!(
            WindowSpec::Lookback(DAY_NANOS)
                .resolve(now)
                .expect("window"),
            crate::previous_utc_day(now)
        );
        assert!(matches!(
            WindowSpec::Fixed { start: 5, end: 5 }.resolve(now),
            Err(JobError::InvalidWindow { .. })
        ));
        assert!(WindowSpec::Lookback(0).resolve(now).is_err());
    }

    #[test]
    fn parses_six_and_five_field_expressions() {
        let six = parse_schedule("0 5 * * * *").expect("six fields");
        let five = parse_schedule("5 * * * *").expect("five fields");
        let after = Utc::now();
        assert_eq!(six.after(&after).next(), five.after(&after).next());
        let err = parse_schedule("every day").expect_err("garbage");
        assert!(err.to_string().contains("every day"), "{err}");
    }
}
