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
    /// A TLS file that cannot be read, named by the key the user wrote.
    #[error("{key}: {reason}")]
    Security { key: String, reason: String },
    /// The brokers refused the TLS handshake or the SASL credentials at start-up.
    #[error("Kafka brokers {brokers} refused the connection ({protocol}): {reason}")]
    Refused {
        brokers: String,
        protocol: &'static str,
        reason: String,
    },
}

#[cfg(feature = "server")]
pub(crate) mod security {
    //! TLS and SASL settings of both clients, and the start-up check that turns a
    //! wrong password or an untrusted certificate into an error instead of a client
    //! that retries forever.

    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    use jaeger_config::KafkaAuthConfig;
    use rdkafka::ClientConfig;
    use rdkafka::config::RDKafkaLogLevel;
    use rdkafka::error::KafkaError as RdKafkaError;
    use rdkafka::types::RDKafkaErrorCode;

    use super::KafkaError;

    /// Sets `security.protocol`, `ssl.*` and `sasl.*` from `auth`.
    pub fn apply(c: &mut ClientConfig, auth: &KafkaAuthConfig) -> Result<(), KafkaError> {
        c.set("security.protocol", auth.security_protocol());
        if let Some(t) = &auth.tls {
            let files = [
                ("ca_file", &t.ca_file, "ssl.ca.location"),
                ("cert_file", &t.cert_file, "ssl.certificate.location"),
                ("key_file", &t.key_file, "ssl.key.location"),
            ];
            for (name, path, setting) in files {
                let Some(path) = path else { continue };
                // librdkafka's own message for a missing file names neither the key
                // nor the file.
                if let Err(e) = std::fs::File::open(path) {
                    return Err(KafkaError::Security {
                        key: format!("{} TLS {name}", auth.key),
                        reason: format!("cannot read {}: {e}", path.display()),
                    });
                }
                c.set(setting, path.to_string_lossy());
            }
            let pems = [
                (&t.ca_pem, "ssl.ca.pem"),
                (&t.cert_pem, "ssl.certificate.pem"),
                (&t.key_pem, "ssl.key.pem"),
            ];
            for (pem, setting) in pems {
                if let Some(pem) = pem {
                    c.set(setting, pem);
                }
            }
            if t.insecure_skip_verify {
                c.set("enable.ssl.certificate.verification", "false")
                    .set("ssl.endpoint.identification.algorithm", "none");
            } else {
                c.set("ssl.endpoint.identification.algorithm", "https");
            }
        }
        if let Some(s) = &auth.sasl {
            if s.username.is_empty() {
                return Err(KafkaError::Security {
                    key: format!("{} SASL username", auth.key),
                    reason: "required for SASL authentication".into(),
                });
            }
            c.set("sasl.mechanism", &s.mechanism)
                .set("sasl.username", &s.username)
                .set("sasl.password", &s.password);
        }
        Ok(())
    }

    /// What went wrong between the client and its brokers, as librdkafka's error
    /// callback reports it (the message names the broker).
    #[derive(Default)]
    pub struct BrokerErrors {
        last: Mutex<Option<(Kind, String)>>,
        /// Kept until a success: "all brokers down" follows a refused login at once.
        refused: Mutex<Option<String>>,
    }

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Kind {
        /// TLS handshake or SASL authentication failed: retrying will not help.
        Refused,
        /// The brokers cannot be reached (yet).
        Unreachable,
        Other,
    }

    impl BrokerErrors {
        /// Records an error from a client context's `error` callback.
        pub fn record(&self, error: &RdKafkaError, reason: &str) {
            let kind = match error.rdkafka_error_code() {
                Some(RDKafkaErrorCode::Authentication | RDKafkaErrorCode::SSL) => Kind::Refused,
                Some(
                    RDKafkaErrorCode::BrokerTransportFailure
                    | RDKafkaErrorCode::AllBrokersDown
                    | RDKafkaErrorCode::Resolve,
                ) => Kind::Unreachable,
                _ => Kind::Other,
            };
            if kind == Kind::Refused {
                tracing::error!("Kafka: {reason}");
                *super::lock(&self.refused) = Some(reason.to_string());
            } else {
                tracing::warn!(error = %error, "Kafka: {reason}");
            }
            *super::lock(&self.last) = Some((kind, reason.to_string()));
        }

        /// Passes on a librdkafka log line (as rdkafka's default does) and records a
        /// refused handshake or login from it: librdkafka logs those from its broker
        /// threads at once, while its error events wait for the client to be polled.
        pub fn log(&self, level: RDKafkaLogLevel, fac: &str, message: &str) {
            use RDKafkaLogLevel as L;
            match level {
                L::Emerg | L::Alert | L::Critical | L::Error => {
                    tracing::error!(target: "librdkafka", "librdkafka: {fac} {message}")
                }
                L::Warning => tracing::warn!(target: "librdkafka", "librdkafka: {fac} {message}"),
                L::Notice | L::Info => {
                    tracing::info!(target: "librdkafka", "librdkafka: {fac} {message}")
                }
                L::Debug => tracing::debug!(target: "librdkafka", "librdkafka: {fac} {message}"),
            }
            const REFUSALS: &[&str] = &[
                "SASL authentication error",
                "SASL handshake failed",
                "Unsupported SASL mechanism",
                "SSL handshake failed",
            ];
            if REFUSALS.iter().any(|r| message.contains(r)) {
                *super::lock(&self.refused) = Some(message.to_string());
                *super::lock(&self.last) = Some((Kind::Refused, message.to_string()));
            }
        }

        /// The last recorded error, if any since the last [`Self::clear`].
        pub fn last(&self) -> Option<(Kind, String)> {
            super::lock(&self.last).clone()
        }

        /// The last refused handshake or login since the last [`Self::clear`].
        pub fn refused(&self) -> Option<String> {
            super::lock(&self.refused).clone()
        }

        /// A suffix for error messages: what the brokers said last.
        pub fn describe(&self) -> String {
            match self.refused().or_else(|| self.last().map(|(_, m)| m)) {
                Some(m) => format!(" (last broker error: {m})"),
                None => String::new(),
            }
        }

        /// Forgets the errors (after a successful delivery).
        pub fn clear(&self) {
            *super::lock(&self.last) = None;
            *super::lock(&self.refused) = None;
        }
    }

    /// How long the start-up check waits for the brokers' metadata.
    const CHECK_WAIT: Duration = Duration::from_secs(10);

    /// Asks the brokers for metadata once (`fetch` runs librdkafka's blocking metadata
    /// call): fails when they refuse the TLS handshake or the credentials, so the process
    /// stops with that message instead of retrying forever. Brokers that cannot be
    /// reached yet are only logged: the client keeps trying in the background.
    pub async fn check(
        fetch: impl FnOnce(Duration) -> Result<(), RdKafkaError> + Send + 'static,
        errors: &BrokerErrors,
        brokers: &str,
        auth: &KafkaAuthConfig,
    ) -> Result<(), KafkaError> {
        let refused = |reason: String| KafkaError::Refused {
            brokers: brokers.to_string(),
            protocol: auth.security_protocol(),
            reason,
        };
        let started = Instant::now();
        let mut probe = tokio::task::spawn_blocking(move || fetch(CHECK_WAIT));
        loop {
            tokio::select! {
                r = &mut probe => {
                    if let Some(reason) = errors.refused() {
                        return Err(refused(reason));
                    }
                    match r {
                        Ok(Ok(())) => {
                            tracing::debug!(brokers, took = ?started.elapsed(), "Kafka brokers answered");
                        }
                        Ok(Err(e)) => tracing::warn!(
                            brokers, error = %e, "Kafka brokers did not answer yet; the client keeps trying"
                        ),
                        Err(e) => tracing::warn!(error = %e, "Kafka start-up check panicked"),
                    }
                    return Ok(());
                }
                _ = tokio::time::sleep(Duration::from_millis(50)) => {
                    if let Some(reason) = errors.refused() {
                        return Err(refused(reason));
                    }
                    if let Some((Kind::Unreachable, reason)) = errors.last() {
                        tracing::warn!(brokers, "Kafka brokers not reachable yet ({reason}); the client keeps trying");
                        return Ok(());
                    }
                }
            }
        }
    }
}

#[cfg(feature = "server")]
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
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
