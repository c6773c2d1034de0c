//! Work on one large trace spread over several cores: serving a 10,000-span trace
//! is tens of milliseconds of CPU on one thread, and its spans are independent for
//! attribute sorting and JSON writing. Each step splits the spans into contiguous
//! runs, one per worker, so results come back in trace order.
//!
//! The workers are long-lived threads of one pool ([`run_all`]): a thread started per
//! request begins with an empty heap, so everything it allocated came from fresh pages
//! (the kernel zeroing them) and was freed through abandoned pages once it had exited.
//! Measured with `query/examples/trace_by_id_bench.rs`.

use std::sync::OnceLock;

/// From this many spans on, a trace's work is split over several threads: below it
/// a thread's start-up (microseconds) is not worth it.
pub const PARALLEL_MIN_SPANS: usize = 2_000;

/// From this many bytes of encoded OTLP on, a trace is decoded on several threads
/// (about 2,000 spans of a few attributes).
pub const PARALLEL_MIN_ENCODED: usize = 512 * 1024;

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

/// How many threads (this one included) should decode `bytes` of one trace's OTLP.
pub fn workers_for_encoded(bytes: usize) -> usize {
    if bytes < PARALLEL_MIN_ENCODED {
        return 1;
    }
    workers_for(PARALLEL_MIN_SPANS)
}

/// Runs `tasks` at once, the first on this thread and the others on the pool's
/// workers, and returns their results in order; a task's panic is resumed here. Runs
/// them one after the other if the pool could not be started.
///
/// The calling thread blocks until the others are done (CPU work: call it where
/// blocking is allowed, as the query's blocking thread does).
pub fn run_all<T: Send, F: FnOnce() -> T + Send>(tasks: Vec<F>) -> Vec<T> {
    // One task (a small trace) needs no other thread, nor the pool started.
    let pool = match pool() {
        Some(pool) if tasks.len() > 1 => pool,
        _ => return tasks.into_iter().map(|t| t()).collect(),
    };
    let mut results: Vec<Option<T>> = std::iter::repeat_with(|| None).take(tasks.len()).collect();
    let mut tasks = tasks.into_iter();
    if let (Some(first), Some((head, rest))) = (tasks.next(), results.split_first_mut()) {
        pool.in_place_scope(|scope| {
            for (task, slot) in tasks.zip(rest.iter_mut()) {
                scope.spawn(move |_| *slot = Some(task()));
            }
            *head = Some(first());
        });
    }
    results
        .into_iter()
        .map(|r| r.expect("in_place_scope returns once every task has run"))
        .collect()
}

/// The workers: as many as one trace uses at most, so that concurrent requests do
/// not queue behind each other's tasks more than the cores would make them.
fn pool() -> Option<&'static rayon::ThreadPool> {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(workers_for(PARALLEL_MIN_SPANS))
            .thread_name(|i| format!("trace-worker-{i}"))
            .build()
            .ok()
    })
    .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn small_traces_stay_on_one_thread() {
        assert_eq!(workers_for(PARALLEL_MIN_SPANS - 1), 1);
        assert!(workers_for(PARALLEL_MIN_SPANS) <= MAX_WORKERS);
    }

    #[test]
    fn run_all_returns_results_in_order() {
        let data: Vec<u64> = (0..1000).collect();
        let tasks: Vec<_> = data
            .chunks(100)
            .map(|c| move || c.iter().sum::<u64>())
            .collect();
        let sums = run_all(tasks);
        assert_eq!(sums.len(), 10);
        assert_eq!(sums[0], (0..100).sum::<u64>());
        assert_eq!(sums[9], (900..1000).sum::<u64>());
        assert!(run_all(Vec::<fn() -> u8>::new()).is_empty());
        // A single task runs on this thread.
        let here = std::thread::current().id();
        assert_eq!(run_all(vec![|| std::thread::current().id()]), [here]);
    }

    #[test]
    fn a_task_panic_reaches_the_caller() {
        let tasks: Vec<Box<dyn FnOnce() -> u8 + Send>> =
            vec![Box::new(|| 1), Box::new(|| panic!("task failed"))];
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || run_all(tasks)));
        assert!(caught.is_err());
    }
}
