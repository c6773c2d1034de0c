//! Work on one large trace spread over several cores: serving a 10,000-span trace
//! is tens of milliseconds of CPU on one thread, and its spans are independent for
//! attribute sorting and JSON writing. Each step splits the spans into contiguous
//! runs, one per worker, so results come back in trace order.
//!
//! Not the storage copy: spans allocated on a short-lived thread and freed on another
//! made a 10,000-span request slower, not faster (fresh heap pages for every worker,
//! cross-thread frees), measured with `query/examples/trace_by_id_bench.rs`.

/// From this many spans on, a trace's work is split over several threads: below it
/// a thread's start-up (microseconds) is not worth it.
pub const PARALLEL_MIN_SPANS: usize = 2_000;

/// Threads working on one trace at most.
const MAX_WORKERS: usize = 4;

/// How many threads (this one included) should work on a trace of `spans` spans.
pub fn workers_for(spans: usize) -> usize {
    if spans < PARALLEL_MIN_SPANS {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(MAX_WORKERS)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn small_traces_stay_on_one_thread() {
        assert_eq!(workers_for(PARALLEL_MIN_SPANS - 1), 1);
        assert!(workers_for(PARALLEL_MIN_SPANS) <= MAX_WORKERS);
    }
}
