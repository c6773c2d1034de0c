//! The collector's Kafka exporter: a [`SpanWriter`] in place of storage.
//!
//! Each batch the [`crate::SpanQueue`] hands over is encoded one trace per message
//! (key = trace id, so a trace stays on one partition) and produced; `write_spans`
//! returns only when Kafka acknowledged every message (`acks=all` and idempotence by
//! default). A full producer buffer, or a broker that does not acknowledge within the
//! timeout, fails the batch with [`StorageError::Unavailable`], which the receivers
//! answer as "retry later" (gRPC `UNAVAILABLE`, HTTP 503 + `Retry-After`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use jaeger_config::KafkaExporterConfig;
use jaeger_model::otlp::ResourceSpans;
use jaeger_storage::{
    DependencyStore, Result as StorageResult, SpanReader, SpanWriter, Storage, StorageError,
    StorageHealth,
};
use rdkafka::ClientConfig;
use rdkafka::client::ClientContext;
use rdkafka::error::{KafkaError as RdKafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};

use super::KafkaError;
use super::codec::{self, Encoding};
use super::metrics as m;
use super::security::{self, BrokerErrors};

/// Room left for the key and record overhead inside librdkafka's `message.max.bytes`.
const RECORD_OVERHEAD: usize = 512;
/// Batches with more spans are encoded off the async workers.
const ENCODE_INLINE_SPANS: usize = 256;

/// Keeps what librdkafka reports about the brokers, for error messages and health.
struct ProducerContext {
    errors: Arc<BrokerErrors>,
}

impl ClientContext for ProducerContext {
    fn error(&self, error: RdKafkaError, reason: &str) {
        self.errors.record(&error, reason);
    }

    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, message: &str) {
        self.errors.log(level, fac, message);
    }
}

/// Produces spans to a Kafka topic.
pub struct KafkaExporter {
    producer: FutureProducer<ProducerContext>,
    errors: Arc<BrokerErrors>,
    brokers: String,
    auth: jaeger_config::KafkaAuthConfig,
    topic: String,
    encoding: Encoding,
    max_payload: usize,
    /// False after a failed delivery, true again after a successful one.
    healthy: AtomicBool,
}

impl KafkaExporter {
    /// Builds the producer (it connects lazily; see [`Self::check_brokers`]). Call inside
    /// a Tokio runtime.
    pub fn new(cfg: &KafkaExporterConfig) -> Result<Arc<Self>, KafkaError> {
        let encoding = Encoding::parse(&cfg.encoding)?;
        if !encoding.can_encode() {
            return Err(codec::CodecError::ReadOnly(encoding.name()).into());
        }
        if cfg.brokers.is_empty() {
            return Err(KafkaError::Setting {
                key: "brokers",
                reason: "no broker given".into(),
            });
        }
        let acks = match cfg.required_acks {
            -1 => "all",
            0 => "0",
            1 => "1",
            n => {
                return Err(KafkaError::Setting {
                    key: "required_acks",
                    reason: format!("{n} is not -1 (all), 0 or 1"),
                });
            }
        };
        let compression = match cfg.compression.as_str() {
            c @ ("none" | "gzip" | "snappy" | "lz4") => c,
            // librdkafka is built without zstd: see rdkafka in the workspace Cargo.toml.
            "zstd" => {
                return Err(KafkaError::Setting {
                    key: "compression",
                    reason: "zstd is not built into this release's Kafka client; use lz4, \
                             snappy or gzip"
                        .into(),
                });
            }
            other => {
                return Err(KafkaError::Setting {
                    key: "compression",
                    reason: format!("{other:?} is not none, gzip, snappy or lz4"),
                });
            }
        };
        let max_bytes = cfg.max_message_bytes.max(4 * RECORD_OVERHEAD);
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", cfg.brokers.join(","))
            .set("client.id", &cfg.client_id)
            .set("acks", acks)
            // Retries without duplicates or reordering; needs acks=all.
            .set("enable.idempotence", (cfg.required_acks == -1).to_string())
            .set("compression.type", compression)
            .set("linger.ms", cfg.linger.as_millis().to_string())
            .set("message.max.bytes", max_bytes.to_string())
            .set(
                "message.timeout.ms",
                cfg.timeout.as_millis().max(1).to_string(),
            )
            .set(
                "queue.buffering.max.messages",
                cfg.queue_max_messages.max(1).to_string(),
            );
        if let Some(level) = cfg.compression_level {
            c.set("compression.level", level.to_string());
        }
        security::apply(&mut c, &cfg.auth)?;
        let errors = Arc::new(BrokerErrors::default());
        let producer: FutureProducer<ProducerContext> = c.create_with_context(ProducerContext {
            errors: errors.clone(),
        })?;
        tracing::info!(
            brokers = %cfg.brokers.join(","),
            topic = %cfg.topic,
            encoding = encoding.name(),
            acks,
            compression,
            security = cfg.auth.security_protocol(),
            "spans are written to Kafka"
        );
        Ok(Arc::new(Self {
            producer,
            errors,
            brokers: cfg.brokers.join(","),
            auth: cfg.auth.clone(),
            topic: cfg.topic.clone(),
            encoding,
            max_payload: max_bytes - RECORD_OVERHEAD,
            healthy: AtomicBool::new(true),
        }))
    }

    /// A [`Storage`] whose writer is this exporter: what a collector with no storage of
    /// its own hands its receivers. Reading answers "unsupported".
    pub fn as_storage(self: &Arc<Self>) -> Storage {
        Storage {
            writer: self.clone(),
            reader: self.clone(),
            dependencies: self.clone(),
            health: self.clone(),
        }
    }

    /// Asks the brokers for metadata: an error when they refuse the TLS handshake or the
    /// credentials (the collector then stops with it); unreachable brokers are logged.
    pub async fn check_brokers(self: &Arc<Self>) -> Result<(), KafkaError> {
        let p = self.producer.clone();
        security::check(
            move |wait| p.client().fetch_metadata(None, wait).map(|_| ()),
            &self.errors,
            &self.brokers,
            &self.auth,
        )
        .await
    }

    /// Waits up to `timeout` for buffered messages to be delivered (on shutdown, after
    /// the queue drained).
    pub async fn flush(self: &Arc<Self>, timeout: Duration) {
        let me = self.clone();
        // librdkafka's flush blocks the calling thread.
        let _ = tokio::task::spawn_blocking(move || me.producer.flush(timeout)).await;
    }

    fn refuse(&self, reason: &'static str, message: String) -> StorageError {
        ::metrics::counter!(m::PRODUCER_ERRORS, "reason" => reason).increment(1);
        StorageError::Unavailable(message)
    }
}

#[async_trait]
impl SpanWriter for KafkaExporter {
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> StorageResult<()> {
        let (encoding, max) = (self.encoding, self.max_payload);
        let spans = jaeger_model::trace::span_count(&batch);
        let messages = if spans > ENCODE_INLINE_SPANS {
            tokio::task::spawn_blocking(move || codec::encode(encoding, &batch, max))
                .await
                .map_err(|e| StorageError::Engine(format!("encoding spans panicked: {e}")))?
        } else {
            codec::encode(encoding, &batch, max)
        }
        .map_err(|e| self.refuse("encode", e.to_string()))?;

        let mut pending = Vec::with_capacity(messages.len());
        for msg in &messages {
            let record = FutureRecord::to(&self.topic)
                .key(&msg.key)
                .payload(&msg.payload);
            match self.producer.send_result(record) {
                Ok(delivery) => pending.push(delivery),
                Err((e, _)) => {
                    // Messages already queued are still delivered; the client retries
                    // the whole batch, and storage writes are idempotent.
                    let reason = match &e {
                        RdKafkaError::MessageProduction(RDKafkaErrorCode::QueueFull) => {
                            "queue_full"
                        }
                        _ => "delivery",
                    };
                    return Err(self.refuse(
                        reason,
                        format!("Kafka producer: {e}{}", self.errors.describe()),
                    ));
                }
            }
        }
        for delivery in pending {
            match delivery.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => {
                    self.healthy.store(false, Ordering::Relaxed);
                    return Err(self.refuse(
                        "delivery",
                        format!("Kafka delivery: {e}{}", self.errors.describe()),
                    ));
                }
                Err(_) => {
                    return Err(self.refuse("delivery", "Kafka producer stopped".into()));
                }
            }
        }
        self.healthy.store(true, Ordering::Relaxed);
        self.errors.clear();
        ::metrics::counter!(m::PRODUCED_MESSAGES, "topic" => self.topic.clone())
            .increment(messages.len() as u64);
        ::metrics::counter!(m::PRODUCED_SPANS, "topic" => self.topic.clone())
            .increment(spans as u64);
        Ok(())
    }
}

#[async_trait]
impl StorageHealth for KafkaExporter {
    async fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}

const NO_READS: &str = "a collector that writes to Kafka keeps no spans to read";

#[async_trait]
impl SpanReader for KafkaExporter {
    async fn get_trace(
        &self,
        _: jaeger_storage::GetTraceParams,
    ) -> StorageResult<Option<jaeger_model::Trace>> {
        Err(StorageError::Unsupported(NO_READS))
    }
    async fn find_traces(
        &self,
        _: &jaeger_storage::TraceQuery,
    ) -> StorageResult<Vec<jaeger_model::Trace>> {
        Err(StorageError::Unsupported(NO_READS))
    }
    async fn find_trace_ids(
        &self,
        _: &jaeger_storage::TraceQuery,
    ) -> StorageResult<Vec<jaeger_model::TraceId>> {
        Err(StorageError::Unsupported(NO_READS))
    }
    async fn get_services(&self) -> StorageResult<Vec<String>> {
        Err(StorageError::Unsupported(NO_READS))
    }
    async fn get_operations(
        &self,
        _: &jaeger_storage::OperationQuery,
    ) -> StorageResult<Vec<jaeger_storage::Operation>> {
        Err(StorageError::Unsupported(NO_READS))
    }
}

#[async_trait]
impl DependencyStore for KafkaExporter {
    async fn get_dependencies(
        &self,
        _: u64,
        _: u64,
    ) -> StorageResult<Vec<jaeger_storage::DependencyLink>> {
        Err(StorageError::Unsupported(NO_READS))
    }
    async fn write_dependencies(
        &self,
        _: u64,
        _: u64,
        _: Vec<jaeger_storage::DependencyLink>,
    ) -> StorageResult<()> {
        Err(StorageError::Unsupported(NO_READS))
    }
}
