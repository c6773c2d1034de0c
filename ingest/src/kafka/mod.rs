//! Kafka between collectors and ingesters (ingest spec §4).
//!
//! - [`codec`]: the message encodings; pure, built without the `server` feature (fuzzed).
//! - [`exporter`]: the collector side, a [`jaeger_storage::SpanWriter`] that produces
//!   every accepted batch to a topic and returns once Kafka acknowledged it, so the
//!   [`crate::SpanQueue`] answers clients only for spans Kafka holds.
//! - [`consumer`]: the ingester side, a consumer group that writes through the
//!   [`crate::SpanQueue`] and commits an offset only after its spans were stored.

pub mod codec;
#[cfg(feature = "server")]
pub mod consumer;
#[cfg(feature = "server")]
pub mod exporter;

/// Why the Kafka client could not be set up or run.
#[cfg(feature = "server")]
#[derive(Debug, thiserror::Error)]
pub enum KafkaError {
    #[error("{0}")]
    Encoding(#[from] codec::CodecError),
    #[error("Kafka client: {0}")]
    Client(#[from] rdkafka::error::KafkaError),
    #[error("invalid Kafka setting {key}: {reason}")]
    Setting { key: &'static str, reason: String },
}

/// Metric names (Prometheus, through the `metrics` facade).
#[cfg(feature = "server")]
pub mod metrics {
    /// Messages the producer had acknowledged. Label `topic`.
    pub const PRODUCED_MESSAGES: &str = "jaeger_kafka_producer_messages_total";
    /// Spans in those messages. Label `topic`.
    pub const PRODUCED_SPANS: &str = "jaeger_kafka_producer_spans_total";
    /// Batches refused because of Kafka (clients were told to retry). Label `reason`:
    /// `queue_full` (producer buffer full), `delivery` (broker did not acknowledge in
    /// time), `encode`.
    pub const PRODUCER_ERRORS: &str = "jaeger_kafka_producer_errors_total";
    /// Messages the consumer wrote to storage and marked consumed. Label `topic`.
    pub const CONSUMED_MESSAGES: &str = "jaeger_kafka_consumer_messages_total";
    /// Messages skipped as poison (their offset is committed). Labels `topic`, `reason`:
    /// `oversized`, `decode_error`, `invalid_spans` (no valid span left).
    pub const POISON_MESSAGES: &str = "jaeger_kafka_consumer_poison_messages_total";
    /// Storage writes the consumer retried after a failure or a full queue.
    pub const WRITE_RETRIES: &str = "jaeger_kafka_consumer_write_retries_total";
    /// Messages between the committed offset and the end of the partition, per
    /// partition (from librdkafka's statistics). Labels `topic`, `partition`.
    pub const CONSUMER_LAG: &str = "jaeger_kafka_consumer_lag";
    /// Errors reported by the consumer client (broker down, rebalance failures).
    pub const CONSUMER_ERRORS: &str = "jaeger_kafka_consumer_errors_total";

    /// Registers the help texts. Call once after the recorder is installed.
    pub fn describe() {
        use ::metrics::{Unit, describe_counter, describe_gauge};
        describe_counter!(
            PRODUCED_MESSAGES,
            Unit::Count,
            "Messages acknowledged by Kafka."
        );
        describe_counter!(
            PRODUCED_SPANS,
            Unit::Count,
            "Spans in messages acknowledged by Kafka."
        );
        describe_counter!(
            PRODUCER_ERRORS,
            Unit::Count,
            "Batches refused because Kafka did not take them (clients retry)."
        );
        describe_counter!(
            CONSUMED_MESSAGES,
            Unit::Count,
            "Messages written to storage and marked consumed."
        );
        describe_counter!(
            POISON_MESSAGES,
            Unit::Count,
            "Messages skipped because they cannot be stored (offset committed)."
        );
        describe_counter!(
            WRITE_RETRIES,
            Unit::Count,
            "Storage writes retried by the Kafka consumer."
        );
        describe_gauge!(
            CONSUMER_LAG,
            Unit::Count,
            "Messages not yet committed, per partition."
        );
        describe_counter!(
            CONSUMER_ERRORS,
            Unit::Count,
            "Kafka consumer client errors."
        );
    }
}
