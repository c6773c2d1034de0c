//! The bounded queue between the receivers and the storage writer.
//!
//! - Bounded in bytes: a request that does not fit is refused at once with
//!   [`IngestError::QueueFull`] ("retry later"); a receiver never waits for room.
//! - Nothing is acknowledged before storage has it: [`SpanQueue::submit`] returns only
//!   after the `SpanWriter::write_spans` call holding its spans returned.
//! - Group commit: each writer task takes every pending request (up to
//!   `max_batch_spans` spans) and writes them with one storage call, so many small
//!   requests cost one write.
//! - [`SpanQueue::shutdown`] stops accepting, then waits until everything queued was
//!   written.

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use futures::FutureExt;
use jaeger_config::QueueConfig;
use jaeger_model::otlp::ResourceSpans;
use jaeger_model::trace::span_count;
use jaeger_storage::{SpanWriter, StorageError};
use tokio::sync::{Notify, oneshot};
use tokio::task::JoinHandle;

use crate::error::IngestError;
use crate::metrics;

type WriteResult = Result<(), Arc<StorageError>>;

/// Handle to the queue. Cheap to clone; when the last clone is dropped the queue stops
/// accepting and its writers exit once they have drained it.
#[derive(Clone)]
pub struct SpanQueue {
    handle: Arc<Handle>,
}

/// Closes the queue when the last [`SpanQueue`] clone goes away, so writer tasks never
/// outlive every handle.
struct Handle {
    inner: Arc<Inner>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.inner.close();
    }
}

struct Inner {
    max_batch_spans: usize,
    writer: Arc<dyn SpanWriter>,
    state: Mutex<State>,
    /// Wakes writers when a request is pushed or the queue closes.
    notify: Notify,
    counters: Arc<Counters>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Default)]
struct State {
    pending: VecDeque<Request>,
    closed: bool,
}

struct Request {
    batch: Vec<ResourceSpans>,
    spans: usize,
    receiver: &'static str,
    transport: &'static str,
    /// Released (on drop) once the write finished, so memory stays bounded until then.
    reservation: Reservation,
    done: oneshot::Sender<WriteResult>,
}

/// Bytes and spans accepted and not yet written.
struct Counters {
    max_bytes: usize,
    bytes: AtomicUsize,
    spans: AtomicUsize,
}

struct Reservation {
    counters: Arc<Counters>,
    bytes: usize,
    spans: usize,
}

impl Counters {
    fn reserve(self: &Arc<Self>, bytes: usize, spans: usize) -> Option<Reservation> {
        let mut current = self.bytes.load(Ordering::Relaxed);
        loop {
            let next = current.saturating_add(bytes);
            // An empty queue admits any request, so one larger than `max_bytes` is
            // written alone instead of being refused forever.
            if current > 0 && next > self.max_bytes {
                return None;
            }
            match self.bytes.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(actual) => current = actual,
            }
        }
        let queued_spans = self.spans.fetch_add(spans, Ordering::AcqRel) + spans;
        metrics::queue_level(queued_spans, current + bytes);
        Some(Reservation {
            counters: self.clone(),
            bytes,
            spans,
        })
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let bytes = self.counters.bytes.fetch_sub(self.bytes, Ordering::AcqRel) - self.bytes;
        let spans = self.counters.spans.fetch_sub(self.spans, Ordering::AcqRel) - self.spans;
        metrics::queue_level(spans, bytes);
    }
}

impl SpanQueue {
    /// Starts `config.writers` writer tasks on the current Tokio runtime (so call it
    /// from inside one) writing to `writer`.
    pub fn new(config: &QueueConfig, writer: Arc<dyn SpanWriter>) -> Self {
        let inner = Arc::new(Inner {
            max_batch_spans: config.max_batch_spans.max(1),
            writer,
            state: Mutex::new(State::default()),
            notify: Notify::new(),
            counters: Arc::new(Counters {
                max_bytes: config.max_bytes,
                bytes: AtomicUsize::new(0),
                spans: AtomicUsize::new(0),
            }),
            workers: Mutex::new(Vec::new()),
        });
        let handles = (0..config.writers.max(1))
            .map(|_| tokio::spawn(run_writer(inner.clone())))
            .collect();
        *lock(&inner.workers) = handles;
        Self {
            handle: Arc::new(Handle { inner }),
        }
    }

    /// Queues a decoded batch and waits until storage wrote it.
    ///
    /// `encoded_bytes` is the size of the request as received (after decompression);
    /// it is what the queue's byte bound counts. `receiver` and `transport` label the
    /// accepted/refused span metrics (`"otlp"`, `"grpc"`). The batch is sanitized
    /// (Jaeger's storage-exporter sanitizers) before it is written.
    ///
    /// Returns at once with [`IngestError::QueueFull`] when the queue has no room, and
    /// [`IngestError::ShuttingDown`] after [`Self::shutdown`] started. A batch with no
    /// spans returns `Ok` without touching storage.
    pub async fn submit(
        &self,
        mut batch: Vec<ResourceSpans>,
        encoded_bytes: usize,
        receiver: &'static str,
        transport: &'static str,
    ) -> Result<(), IngestError> {
        let spans = span_count(&batch);
        if spans == 0 {
            return Ok(());
        }
        let inner = &self.handle.inner;
        let Some(reservation) = inner.counters.reserve(encoded_bytes, spans) else {
            metrics::queue_refused("full", spans);
            metrics::refused(receiver, transport, spans);
            return Err(IngestError::QueueFull);
        };
        jaeger_model::sanitize::sanitize(&mut batch);
        let (done, result) = oneshot::channel();
        {
            let mut state = lock(&inner.state);
            if state.closed {
                drop(state);
                metrics::queue_refused("shutting_down", spans);
                metrics::refused(receiver, transport, spans);
                return Err(IngestError::ShuttingDown);
            }
            state.pending.push_back(Request {
                batch,
                spans,
                receiver,
                transport,
                reservation,
                done,
            });
        }
        inner.notify.notify_one();
        match result.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(IngestError::Storage(e)),
            // The writer task died with the request (it panicked outside the write).
            Err(_) => Err(IngestError::Storage(Arc::new(StorageError::Unavailable(
                "storage writer stopped before the write finished".into(),
            )))),
        }
    }

    /// Stops accepting (later submits get [`IngestError::ShuttingDown`]) and returns
    /// when every request queued before was written. Later calls return at once.
    pub async fn shutdown(&self) {
        let inner = &self.handle.inner;
        inner.close();
        let handles = std::mem::take(&mut *lock(&inner.workers));
        for h in handles {
            if let Err(e) = h.await {
                tracing::error!(error = %e, "span queue writer task failed");
            }
        }
    }

    /// Spans accepted and not yet written.
    pub fn queued_spans(&self) -> usize {
        self.handle.inner.counters.spans.load(Ordering::Acquire)
    }

    /// Encoded bytes accepted and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.handle.inner.counters.bytes.load(Ordering::Acquire)
    }
}

impl Inner {
    fn close(&self) {
        lock(&self.state).closed = true;
        self.notify.notify_waiters();
    }

    /// The next group of requests to write, or `None` once closed and drained.
    async fn next_batch(&self) -> Option<Vec<Request>> {
        loop {
            // Register interest before looking, so a push between the look and the
            // await still wakes us.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = lock(&self.state);
                if !state.pending.is_empty() {
                    let mut taken = Vec::new();
                    let mut spans = 0usize;
                    while let Some(front) = state.pending.front() {
                        if spans > 0 && spans + front.spans > self.max_batch_spans {
                            break;
                        }
                        spans += front.spans;
                        taken.extend(state.pending.pop_front());
                    }
                    let more = !state.pending.is_empty();
                    drop(state);
                    if more {
                        // Let another writer take the rest in parallel.
                        self.notify.notify_one();
                    }
                    return Some(taken);
                }
                if state.closed {
                    return None;
                }
            }
            notified.await;
        }
    }
}

async fn run_writer(inner: Arc<Inner>) {
    while let Some(requests) = inner.next_batch().await {
        let mut batch = Vec::with_capacity(requests.iter().map(|r| r.batch.len()).sum());
        let mut waiting = Vec::with_capacity(requests.len());
        for r in requests {
            batch.extend(r.batch);
            waiting.push((r.spans, r.receiver, r.transport, r.reservation, r.done));
        }
        let total_spans: usize = waiting.iter().map(|w| w.0).sum();
        let started = Instant::now();
        // A panicking backend must not take the writer (and every waiting client)
        // down with it.
        let result: WriteResult = match AssertUnwindSafe(inner.writer.write_spans(batch))
            .catch_unwind()
            .await
        {
            Ok(r) => r.map_err(Arc::new),
            Err(_) => Err(Arc::new(StorageError::Engine(
                "storage writer panicked".into(),
            ))),
        };
        metrics::storage_write(started.elapsed(), result.is_ok());
        if let Err(e) = &result {
            tracing::warn!(error = %e, spans = total_spans, "storage write failed");
        }
        for (spans, receiver, transport, reservation, done) in waiting {
            match &result {
                Ok(()) => metrics::accepted(receiver, transport, spans),
                Err(_) => metrics::refused(receiver, transport, spans),
            }
            // Free the room before answering, so an immediate retry finds it.
            drop(reservation);
            // The client may have gone away; the spans are written all the same.
            let _ = done.send(result.clone());
        }
    }
}

/// Locks a mutex, tolerating poisoning: the guarded data stays consistent because no
/// code panics while holding these locks.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::test_support::{RecordingWriter, spans_batch};
    use std::time::Duration;

    fn config(max_bytes: usize, max_batch_spans: usize, writers: usize) -> QueueConfig {
        QueueConfig {
            max_bytes,
            max_batch_spans,
            writers,
        }
    }

    #[tokio::test]
    async fn submit_returns_after_the_write() {
        let writer = RecordingWriter::new();
        let queue = SpanQueue::new(&config(1 << 20, 100, 1), writer.clone());
        queue
            .submit(spans_batch("svc", 3), 100, "otlp", "grpc")
            .await
            .expect("write succeeds");
        assert_eq!(writer.span_count(), 3);
        assert_eq!(queue.queued_bytes(), 0);
        assert_eq!(queue.queued_spans(), 0);
    }

    #[tokio::test]
    async fn batch_is_sanitized_before_writing() {
        let writer = RecordingWriter::new();
        let queue = SpanQueue::new(&config(1 << 20, 100, 1), writer.clone());
        let mut batch = spans_batch("svc", 1);
        batch[0].resource = None;
        batch[0].scope_spans[0].spans[0].name.clear();
        queue.submit(batch, 10, "otlp", "http").await.expect("ok");
        let written = writer.batches();
        let rs = &written[0][0];
        assert_eq!(
            jaeger_model::trace::service_name(rs.resource.as_ref().expect("sanitize adds one")),
            "missing-service-name"
        );
        assert_eq!(rs.scope_spans[0].spans[0].name, "empty-span-name");
    }

    #[tokio::test]
    async fn empty_batch_does_not_touch_storage() {
        let writer = RecordingWriter::new();
        let queue = SpanQueue::new(&config(1 << 20, 100, 1), writer.clone());
        queue
            .submit(Vec::new(), 0, "otlp", "grpc")
            .await
            .expect("ok");
        queue
            .submit(spans_batch("svc", 0), 10, "otlp", "grpc")
            .await
            .expect("ok");
        assert_eq!(writer.write_calls(), 0);
    }

    #[tokio::test]
    async fn full_queue_refuses_at_once() {
        let writer = RecordingWriter::new();
        writer.block();
        let queue = SpanQueue::new(&config(1000, 100, 1), writer.clone());
        let q = queue.clone();
        let first =
            tokio::spawn(async move { q.submit(spans_batch("a", 1), 600, "otlp", "grpc").await });
        writer.wait_for_write_started().await;
        assert_eq!(queue.queued_bytes(), 600);
        // 600 + 600 > 1000: refused without waiting for the blocked write.
        let second = tokio::time::timeout(
            Duration::from_secs(1),
            queue.submit(spans_batch("b", 1), 600, "otlp", "grpc"),
        )
        .await
        .expect("refusal does not wait");
        assert!(matches!(second, Err(IngestError::QueueFull)), "{second:?}");
        // A small one still fits.
        let q = queue.clone();
        let third =
            tokio::spawn(async move { q.submit(spans_batch("c", 1), 300, "otlp", "grpc").await });
        writer.unblock();
        first.await.expect("join").expect("first written");
        third.await.expect("join").expect("third written");
        assert_eq!(writer.span_count(), 2);
        assert_eq!(queue.queued_bytes(), 0);
    }

    #[tokio::test]
    async fn oversized_request_is_admitted_into_an_empty_queue() {
        let writer = RecordingWriter::new();
        let queue = SpanQueue::new(&config(10, 100, 1), writer.clone());
        queue
            .submit(spans_batch("a", 2), 500, "otlp", "grpc")
            .await
            .expect("written alone");
        assert_eq!(writer.span_count(), 2);
    }

    #[tokio::test]
    async fn pending_requests_are_group_committed() {
        let writer = RecordingWriter::new();
        writer.block();
        let queue = SpanQueue::new(&config(1 << 20, 100, 1), writer.clone());
        let q = queue.clone();
        let first =
            tokio::spawn(
                async move { q.submit(spans_batch("first", 1), 10, "otlp", "grpc").await },
            );
        writer.wait_for_write_started().await;
        // While the first write is blocked, ten requests pile up...
        let mut tasks = Vec::new();
        for i in 0..10 {
            let q = queue.clone();
            tasks.push(tokio::spawn(async move {
                q.submit(spans_batch(&format!("s{i}"), 2), 10, "otlp", "grpc")
                    .await
            }));
        }
        while queue.queued_spans() < 21 {
            tokio::task::yield_now().await;
        }
        writer.unblock();
        first.await.expect("join").expect("ok");
        for t in tasks {
            t.await.expect("join").expect("ok");
        }
        // ...and are written with one storage call.
        assert_eq!(writer.write_calls(), 2);
        assert_eq!(writer.span_count(), 21);
    }

    #[tokio::test]
    async fn group_commit_respects_max_batch_spans() {
        let writer = RecordingWriter::new();
        writer.block();
        let queue = SpanQueue::new(&config(1 << 20, 5, 1), writer.clone());
        let q = queue.clone();
        let first =
            tokio::spawn(
                async move { q.submit(spans_batch("first", 1), 10, "otlp", "grpc").await },
            );
        writer.wait_for_write_started().await;
        let mut tasks = Vec::new();
        for i in 0..6 {
            let q = queue.clone();
            tasks.push(tokio::spawn(async move {
                q.submit(spans_batch(&format!("s{i}"), 2), 10, "otlp", "grpc")
                    .await
            }));
        }
        while queue.queued_spans() < 13 {
            tokio::task::yield_now().await;
        }
        writer.unblock();
        first.await.expect("join").expect("ok");
        for t in tasks {
            t.await.expect("join").expect("ok");
        }
        // 1 + (2+2) + (2+2) + (2+2): never more than 5 spans per write.
        let sizes: Vec<usize> = writer.batches().iter().map(|b| span_count(b)).collect();
        assert_eq!(sizes, vec![1, 4, 4, 4]);
    }

    #[tokio::test]
    async fn storage_failure_reaches_every_waiting_request() {
        let writer = RecordingWriter::new();
        writer.fail_with("disk on fire");
        let queue = SpanQueue::new(&config(1 << 20, 100, 2), writer.clone());
        let err = queue
            .submit(spans_batch("a", 1), 10, "otlp", "grpc")
            .await
            .expect_err("storage failed");
        match &err {
            IngestError::Storage(e) => assert!(e.to_string().contains("disk on fire")),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.http_status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            queue.queued_bytes(),
            0,
            "failed requests release their room"
        );
    }

    #[tokio::test]
    async fn panicking_writer_fails_the_request_but_not_the_queue() {
        let writer = RecordingWriter::new();
        writer.panic_next();
        let queue = SpanQueue::new(&config(1 << 20, 100, 1), writer.clone());
        let err = queue.submit(spans_batch("a", 1), 10, "otlp", "grpc").await;
        assert!(matches!(err, Err(IngestError::Storage(_))), "{err:?}");
        queue
            .submit(spans_batch("b", 1), 10, "otlp", "grpc")
            .await
            .expect("the writer task survived");
        assert_eq!(writer.span_count(), 1);
    }

    #[tokio::test]
    async fn shutdown_drains_then_refuses() {
        let writer = RecordingWriter::new();
        writer.block();
        let queue = SpanQueue::new(&config(1 << 20, 2, 2), writer.clone());
        let mut tasks = Vec::new();
        for i in 0..8 {
            let q = queue.clone();
            tasks.push(tokio::spawn(async move {
                q.submit(spans_batch(&format!("s{i}"), 1), 10, "otlp", "grpc")
                    .await
            }));
        }
        while queue.queued_spans() < 8 {
            tokio::task::yield_now().await;
        }
        let q = queue.clone();
        let shutdown = tokio::spawn(async move { q.shutdown().await });
        // Closed for new work while the old is still being written.
        while !lock(&queue.handle.inner.state).closed {
            tokio::task::yield_now().await;
        }
        let late = queue
            .submit(spans_batch("late", 1), 10, "otlp", "grpc")
            .await;
        assert!(matches!(late, Err(IngestError::ShuttingDown)), "{late:?}");
        assert!(!shutdown.is_finished());
        writer.unblock();
        shutdown.await.expect("join");
        // Everything queued before the shutdown was written before it returned.
        assert_eq!(writer.span_count(), 8);
        for t in tasks {
            t.await.expect("join").expect("written");
        }
        queue.shutdown().await;
    }
}
