//! The ingester's Kafka consumer: a consumer group whose messages are decoded and
//! written through the [`SpanQueue`] (sanitizers, group commit, storage seam).
//!
//! At-least-once: librdkafka's automatic offset store is off; an offset is stored (and
//! then committed every `commit_interval`) only once its message and every earlier one
//! of the partition were written or skipped as poison. Messages are worked on
//! `parallelism` at a time, so per partition the highest *contiguous* completed offset
//! is tracked. While storage fails (or the queue is full) a message is retried with
//! back-off and nothing after it is committed; a crash re-reads from the last committed
//! offset, and storage writes are idempotent, so a redelivered span is not a duplicate.
//!
//! Poison (larger than `max_message_bytes`, undecodable, wrong encoding, no valid span)
//! is logged with topic/partition/offset, counted, and its offset committed: a bad
//! message never blocks a partition.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jaeger_config::KafkaReceiverConfig;
use jaeger_model::otlp::ResourceSpans;
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{CommitMode, Consumer, ConsumerContext, StreamConsumer};
use rdkafka::message::Message as _;
use rdkafka::statistics::Statistics;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use super::KafkaError;
use super::codec::{self, Encoding};
use super::metrics as m;
use super::security::{self, BrokerErrors};
use crate::SpanQueue;

/// Payloads larger than this are decoded off the async workers.
const DECODE_INLINE_BYTES: usize = 64 * 1024;
const BACKOFF_START: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(10);

/// Publishes librdkafka's per-partition consumer lag as a gauge, and keeps what it
/// reports about the brokers.
struct LagContext {
    errors: Arc<BrokerErrors>,
}

/// Messages of the partition not yet consumed: after the committed offset, as
/// librdkafka reports it. Before this consumer has committed anything librdkafka does
/// not know the group's committed offset: then after the fetch position (where the
/// group's committed offset, or the reset policy, made it start), else the whole
/// partition. Counting the whole partition then made a partition taken over from a
/// member that had read it to the end show its length as lag until new messages came.
fn partition_lag(p: &rdkafka::statistics::Partition) -> i64 {
    let lag = if p.consumer_lag >= 0 {
        p.consumer_lag
    } else if p.next_offset >= 0 {
        p.hi_offset - p.next_offset
    } else {
        p.hi_offset - p.lo_offset.max(0)
    };
    lag.max(0)
}

impl ClientContext for LagContext {
    fn stats(&self, stats: Statistics) {
        for (topic, t) in &stats.topics {
            for (partition, p) in &t.partitions {
                // -1 is librdkafka's internal "unassigned" partition; partitions this
                // consumer does not own are not reported.
                if *partition < 0 || !p.desired || p.hi_offset < 0 {
                    continue;
                }
                let lag = partition_lag(p);
                ::metrics::gauge!(m::CONSUMER_LAG, "topic" => topic.clone(), "partition" => partition.to_string())
                    .set(lag as f64);
            }
        }
    }

    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        ::metrics::counter!(m::CONSUMER_ERRORS).increment(1);
        self.errors.record(&error, reason);
    }

    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        self.errors.log(level, fac, message);
    }
}

impl ConsumerContext for LagContext {
    /// Partition assignments in the log: which ingester reads which partition is the
    /// first question when one partition's lag grows.
    fn post_rebalance(
        &self,
        _: &rdkafka::consumer::BaseConsumer<Self>,
        rebalance: &rdkafka::consumer::Rebalance<'_>,
    ) {
        use rdkafka::consumer::Rebalance;
        let partitions = |l: &rdkafka::TopicPartitionList| {
            l.elements()
                .iter()
                .map(|e| format!("{}/{}", e.topic(), e.partition()))
                .collect::<Vec<_>>()
                .join(",")
        };
        match rebalance {
            Rebalance::Assign(l) => {
                tracing::info!(partitions = %partitions(l), "Kafka consumer: partitions assigned")
            }
            Rebalance::Revoke(l) => {
                tracing::info!(partitions = %partitions(l), "Kafka consumer: partitions revoked")
            }
            Rebalance::Error(e) => tracing::warn!(error = %e, "Kafka consumer: rebalance failed"),
        }
    }
}

/// Offsets of one partition being worked on: `true` once written or skipped.
#[derive(Default)]
struct PartitionOffsets {
    in_flight: BTreeMap<i64, bool>,
}

impl PartitionOffsets {
    fn start(&mut self, offset: i64) {
        self.in_flight.insert(offset, false);
    }

    /// Marks `offset` done; returns the highest offset below which everything is done,
    /// when that moved.
    fn complete(&mut self, offset: i64) -> Option<i64> {
        if let Some(done) = self.in_flight.get_mut(&offset) {
            *done = true;
        }
        let mut last = None;
        while let Some((&o, &done)) = self.in_flight.first_key_value() {
            if !done {
                break;
            }
            self.in_flight.pop_first();
            last = Some(o);
        }
        last
    }
}

type Tracker = Arc<Mutex<HashMap<(String, i32), PartitionOffsets>>>;

/// Reads `cfg.topics` until `stopped` resolves, then waits for the messages being
/// written, commits what was stored, and returns.
pub async fn run_consumer(
    cfg: KafkaReceiverConfig,
    queue: SpanQueue,
    stopped: impl Future<Output = ()> + Send,
) -> Result<(), KafkaError> {
    let encoding = Encoding::parse(&cfg.encoding)?;
    if cfg.brokers.is_empty() {
        return Err(KafkaError::Setting {
            key: "brokers",
            reason: "no broker given".into(),
        });
    }
    let offset_reset = match cfg.initial_offset.as_str() {
        "earliest" | "oldest" | "smallest" => "earliest",
        "latest" | "newest" | "largest" => "latest",
        other => {
            return Err(KafkaError::Setting {
                key: "initial_offset",
                reason: format!("{other:?} is not earliest or latest"),
            });
        }
    };
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", cfg.brokers.join(","))
        .set("group.id", &cfg.group_id)
        .set("client.id", &cfg.client_id)
        .set("enable.auto.commit", "true")
        .set(
            "auto.commit.interval.ms",
            cfg.commit_interval.as_millis().max(1).to_string(),
        )
        // Offsets are stored by us, after the write.
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", offset_reset)
        .set(
            "session.timeout.ms",
            cfg.session_timeout.as_millis().max(1).to_string(),
        )
        .set(
            "heartbeat.interval.ms",
            cfg.heartbeat_interval.as_millis().max(1).to_string(),
        )
        .set("statistics.interval.ms", "5000");
    security::apply(&mut c, &cfg.auth)?;
    let errors = Arc::new(BrokerErrors::default());
    let consumer: Arc<StreamConsumer<LagContext>> =
        Arc::new(c.create_with_context(LagContext {
            errors: errors.clone(),
        })?);
    let probe = consumer.clone();
    security::check(
        move |wait| probe.fetch_metadata(None, wait).map(|_| ()),
        &errors,
        &cfg.brokers.join(","),
        &cfg.auth,
    )
    .await?;
    let topics: Vec<&str> = cfg.topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topics)?;
    tracing::info!(
        brokers = %cfg.brokers.join(","),
        topics = %cfg.topics.join(","),
        group = %cfg.group_id,
        encoding = encoding.name(),
        "reading spans from Kafka"
    );

    let (stop_tx, stop_rx) = watch::channel(false);
    let tracker: Tracker = Arc::default();
    let permits = Arc::new(Semaphore::new(cfg.parallelism.max(1)));
    let mut tasks = JoinSet::new();
    tokio::pin!(stopped);
    // Until the first message, a refused handshake or login ends the consumer: the
    // start-up check may time out before librdkafka reports it (its events wait for a
    // poll), and retrying with the same certificate or password cannot succeed.
    let mut received_any = false;
    loop {
        while tasks.try_join_next().is_some() {}
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            _ = &mut stopped => break,
        };
        let msg = tokio::select! {
            m = consumer.recv() => m,
            _ = &mut stopped => break,
        };
        let msg = match msg {
            Ok(msg) => msg,
            Err(e) => {
                ::metrics::counter!(m::CONSUMER_ERRORS).increment(1);
                if !received_any && let Some(reason) = errors.refused() {
                    return Err(KafkaError::Refused {
                        brokers: cfg.brokers.join(","),
                        protocol: cfg.auth.security_protocol(),
                        reason,
                    });
                }
                tracing::warn!(error = %e, "Kafka consumer");
                tokio::time::sleep(BACKOFF_START).await;
                continue;
            }
        };
        received_any = true;
        let work = Work {
            topic: msg.topic().to_string(),
            partition: msg.partition(),
            offset: msg.offset(),
            payload: msg.payload().map(<[u8]>::to_vec).unwrap_or_default(),
        };
        drop(msg);
        lock(&tracker)
            .entry((work.topic.clone(), work.partition))
            .or_default()
            .start(work.offset);
        let ctx = TaskContext {
            consumer: consumer.clone(),
            tracker: tracker.clone(),
            queue: queue.clone(),
            encoding,
            max_bytes: cfg.max_message_bytes,
            stop: stop_rx.clone(),
        };
        tasks.spawn(async move {
            ctx.process(work).await;
            drop(permit);
        });
    }
    // Messages being retried give up (their offsets stay uncommitted); the others
    // finish their write.
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    let c = consumer.clone();
    let committed =
        tokio::task::spawn_blocking(move || c.commit_consumer_state(CommitMode::Sync)).await;
    match committed {
        Ok(Ok(())) => tracing::info!("Kafka consumer: offsets committed"),
        // Nothing stored since the last commit is not a failure.
        Ok(Err(e)) => tracing::debug!(error = %e, "Kafka consumer: final commit"),
        Err(e) => tracing::warn!(error = %e, "Kafka consumer: final commit panicked"),
    }
    Ok(())
}

struct Work {
    topic: String,
    partition: i32,
    offset: i64,
    payload: Vec<u8>,
}

struct TaskContext {
    consumer: Arc<StreamConsumer<LagContext>>,
    tracker: Tracker,
    queue: SpanQueue,
    encoding: Encoding,
    max_bytes: usize,
    stop: watch::Receiver<bool>,
}

impl TaskContext {
    async fn process(mut self, mut w: Work) {
        let bytes = w.payload.len();
        let batch = if bytes > self.max_bytes {
            Err((
                "oversized",
                format!(
                    "{bytes} bytes, more than max_message_bytes {}",
                    self.max_bytes
                ),
            ))
        } else {
            self.decode(std::mem::take(&mut w.payload))
                .await
                .map_err(|e| ("decode_error", e))
        };
        let batch = batch.and_then(|mut b| {
            let rejected = crate::validate::retain_valid_spans(&mut b);
            if jaeger_model::trace::span_count(&b) == 0 {
                let why = rejected
                    .first_error
                    .unwrap_or_else(|| "no spans".to_string());
                return Err(("invalid_spans", why));
            }
            if rejected.spans > 0 {
                tracing::warn!(
                    topic = %w.topic, partition = w.partition, offset = w.offset,
                    spans = rejected.spans, "Kafka message: invalid spans dropped"
                );
            }
            Ok(b)
        });
        match batch {
            Err((reason, why)) => {
                tracing::warn!(
                    topic = %w.topic, partition = w.partition, offset = w.offset,
                    reason, "skipping a Kafka message that cannot be stored: {why}"
                );
                ::metrics::counter!(m::POISON_MESSAGES, "topic" => w.topic.clone(), "reason" => reason)
                    .increment(1);
            }
            Ok(batch) => {
                if !self.write(batch, bytes, &w).await {
                    // Stopping: leave the offset uncommitted, it is read again.
                    return;
                }
                ::metrics::counter!(m::CONSUMED_MESSAGES, "topic" => w.topic.clone()).increment(1);
            }
        }
        self.mark_done(&w);
    }

    async fn decode(&self, payload: Vec<u8>) -> Result<Vec<ResourceSpans>, String> {
        let encoding = self.encoding;
        if payload.len() <= DECODE_INLINE_BYTES {
            return codec::decode(encoding, &payload).map_err(|e| e.to_string());
        }
        match tokio::task::spawn_blocking(move || codec::decode(encoding, &payload)).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(format!("decoder panicked: {e}")),
        }
    }

    /// Writes until it succeeds (true) or the consumer stops (false).
    async fn write(&mut self, batch: Vec<ResourceSpans>, bytes: usize, w: &Work) -> bool {
        let mut backoff = BACKOFF_START;
        loop {
            match self
                .queue
                .submit(batch.clone(), bytes, "kafka", "kafka")
                .await
            {
                Ok(()) => return true,
                Err(e) => {
                    ::metrics::counter!(m::WRITE_RETRIES).increment(1);
                    tracing::warn!(
                        topic = %w.topic, partition = w.partition, offset = w.offset,
                        error = %e, retry_in = ?backoff, "storing spans from Kafka failed"
                    );
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff) => {}
                _ = self.stop.wait_for(|s| *s) => return false,
            }
            if *self.stop.borrow() {
                return false;
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    fn mark_done(&self, w: &Work) {
        let upto = lock(&self.tracker)
            .get_mut(&(w.topic.clone(), w.partition))
            .and_then(|p| p.complete(w.offset));
        if let Some(offset) = upto {
            // Stores `offset + 1`, committed by the next auto-commit. Fails harmlessly
            // when the partition was revoked meanwhile (its new owner re-reads); said
            // anyway, as the partition's lag then stays where it was.
            if let Err(e) = self.consumer.store_offset(&w.topic, w.partition, offset) {
                tracing::warn!(error = %e, topic = %w.topic, partition = w.partition, offset, "storing a Kafka offset failed");
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_contiguous_completions_advance_the_offset() {
        let mut p = PartitionOffsets::default();
        for o in 10..15 {
            p.start(o);
        }
        assert_eq!(p.complete(12), None, "10 and 11 are still in flight");
        assert_eq!(p.complete(11), None);
        assert_eq!(p.complete(10), Some(12), "10, 11 and 12 are done");
        assert_eq!(p.complete(14), None);
        assert_eq!(p.complete(13), Some(14));
        assert!(p.in_flight.is_empty());
        // A redelivered offset (after a rebalance) is tracked again.
        p.start(14);
        assert_eq!(p.complete(14), Some(14));
    }

    #[test]
    fn lag_counts_from_the_committed_offset_else_the_fetch_position() {
        let part = |committed_lag: i64, next: i64| rdkafka::statistics::Partition {
            lo_offset: 0,
            hi_offset: 9,
            consumer_lag: committed_lag,
            next_offset: next,
            ..Default::default()
        };
        assert_eq!(partition_lag(&part(3, 9)), 3, "committed offset 6");
        // Taken over from a member that had read it all: nothing left, not 9.
        assert_eq!(partition_lag(&part(-1, 9)), 0);
        assert_eq!(partition_lag(&part(-1, 4)), 5);
        // Fetch not started: the whole partition.
        assert_eq!(partition_lag(&part(-1, -1001)), 9);
    }
}
