//! Batch jobs: the dependencies job (service links derived with DataFusion) and the cron
//! scheduler that runs it inside the `jaeger` binary.
//!
//! The binary wires the CLI; this crate offers the clap-free options, the job and the
//! scheduler. See `docs/dependencies-job.md` for the rules and the figures.

pub mod dependencies;
pub mod schedule;

pub use dependencies::{
    DependenciesJobOptions, JobError, JobProgress, JobSummary, ProgressHandle, previous_utc_day,
    run_dependencies_job,
};
pub use schedule::{WindowSpec, parse_schedule, run_on_schedule};
