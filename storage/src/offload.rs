//! Where a store's CPU work (cloning or decoding a trace) runs: on a blocking thread,
//! never on an async worker. A caller that already runs on a blocking thread can mark
//! it with [`on_marked_thread`]; the work then runs inline on that thread instead of
//! hopping to another one.
//!
//! Why it matters: the query service reads a trace, adjusts it, writes its JSON and
//! frees it. With mimalloc, freeing ten thousand spans on the thread that allocated them
//! costs a sixth of freeing them from another thread (1.6 ms against 9.8 ms in
//! `query/examples/phase_timing.rs`), and every hop is a wake-up more.

use std::cell::Cell;

thread_local! {
    static MARKED: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with this thread marked as a blocking thread that store work may run on.
/// Call it only on a thread that may block (a `spawn_blocking` closure, a plain thread).
pub fn on_marked_thread<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            MARKED.with(|m| m.set(self.0));
        }
    }
    let _reset = Reset(MARKED.with(|m| m.replace(true)));
    f()
}

/// Whether the current thread was marked by [`on_marked_thread`].
pub fn is_marked() -> bool {
    MARKED.with(Cell::get)
}

/// Runs `f` off the async workers: inline on a marked thread, else on tokio's blocking
/// pool.
pub async fn run<T, F>(f: F) -> Result<T, tokio::task::JoinError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    if is_marked() {
        Ok(f())
    } else {
        tokio::task::spawn_blocking(f).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn runs_inline_only_on_a_marked_thread() {
        let here = std::thread::current().id();
        let elsewhere = run(move || std::thread::current().id()).await.unwrap();
        assert_ne!(elsewhere, here, "an async worker hands the work off");

        let handle = tokio::runtime::Handle::current();
        let (outer, inner) = tokio::task::spawn_blocking(move || {
            on_marked_thread(|| {
                let outer = std::thread::current().id();
                let inner = handle
                    .block_on(run(|| std::thread::current().id()))
                    .unwrap();
                (outer, inner)
            })
        })
        .await
        .unwrap();
        assert_eq!(inner, outer, "a marked thread runs the work itself");
        assert!(!is_marked(), "the mark ends with the closure");
    }

    #[test]
    fn the_mark_is_restored_after_a_panic() {
        let r = std::panic::catch_unwind(|| on_marked_thread(|| panic!("boom")));
        assert!(r.is_err());
        assert!(!is_marked());
    }
}
