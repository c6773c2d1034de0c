//! Kafka in the process: the collector's exporter (`--kafka.producer.*`,
//! `SPAN_STORAGE_TYPE=kafka`, `exporters.kafka`) and the ingester's consumer
//! (`jaeger ingester`, `--kafka.consumer.*`, `receivers.kafka`).
//!
//! The `ingester` role is the all-in-one with the [`jaeger_config::Role::Ingester`]
//! preset: no span receivers and no query service, a Kafka consumer writing to the
//! configured storage, metrics on :8889 and health on :14133.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use jaeger_config::{
    Config, KafkaAuthConfig, KafkaExporterConfig, KafkaReceiverConfig, KafkaSaslConfig,
    KafkaTlsConfig,
};
use jaeger_ingest::SpanQueue;
use jaeger_ingest::kafka::exporter::KafkaExporter;
use jaeger_storage::Storage;

/// Jaeger v1's Kafka flags (each with the env var v1 read).
#[derive(Debug, Args, Default)]
pub struct KafkaFlags {
    /// Collector: brokers to write spans to (comma-separated; with `--storage kafka`).
    #[arg(
        long = "kafka.producer.brokers",
        env = "KAFKA_PRODUCER_BROKERS",
        value_delimiter = ',',
        global = true
    )]
    pub producer_brokers: Vec<String>,
    /// Collector: topic spans are written to.
    #[arg(
        long = "kafka.producer.topic",
        env = "KAFKA_PRODUCER_TOPIC",
        global = true
    )]
    pub producer_topic: Option<String>,
    /// Collector: `otlp_proto`, `otlp_json`, `protobuf` (jaeger_proto), `json` (jaeger_json).
    #[arg(
        long = "kafka.producer.encoding",
        env = "KAFKA_PRODUCER_ENCODING",
        global = true
    )]
    pub producer_encoding: Option<String>,
    /// Collector: `none`, `gzip`, `snappy`, `lz4` (zstd is not built in).
    #[arg(
        long = "kafka.producer.compression",
        env = "KAFKA_PRODUCER_COMPRESSION",
        global = true
    )]
    pub producer_compression: Option<String>,
    /// Collector: level of the compression codec.
    #[arg(
        long = "kafka.producer.compression-level",
        env = "KAFKA_PRODUCER_COMPRESSION_LEVEL",
        global = true
    )]
    pub producer_compression_level: Option<i32>,
    /// Collector: `all` (default, idempotent), `local` (leader only) or `noack`.
    #[arg(long = "kafka.producer.required-acks", env = "KAFKA_PRODUCER_REQUIRED_ACKS", value_parser = parse_acks, global = true)]
    pub producer_required_acks: Option<i32>,
    /// Collector: how long the producer waits to fill a batch (Go duration).
    #[arg(long = "kafka.producer.batch-linger", env = "KAFKA_PRODUCER_BATCH_LINGER", value_parser = jaeger_config::humantime_serde_compat::parse_duration, global = true)]
    pub producer_linger: Option<Duration>,
    /// Collector: largest message in bytes (a trace over it is split).
    #[arg(
        long = "kafka.producer.max-message-bytes",
        env = "KAFKA_PRODUCER_MAX_MESSAGE_BYTES",
        global = true
    )]
    pub producer_max_message_bytes: Option<usize>,
    /// Collector: client id.
    #[arg(
        long = "kafka.producer.client-id",
        env = "KAFKA_PRODUCER_CLIENT_ID",
        global = true
    )]
    pub producer_client_id: Option<String>,

    /// Collector: `none` (default), `tls` or `plaintext` (SASL); `kerberos` is refused.
    #[arg(long = "kafka.producer.authentication", env = "KAFKA_PRODUCER_AUTHENTICATION", value_parser = parse_authentication, global = true)]
    pub producer_authentication: Option<Authentication>,
    /// Collector: TLS to the brokers (also with `--kafka.producer.authentication=plaintext`: SASL_SSL).
    #[arg(long = "kafka.producer.tls.enabled", env = "KAFKA_PRODUCER_TLS_ENABLED", num_args = 0..=1, default_missing_value = "true", global = true)]
    pub producer_tls_enabled: Option<bool>,
    /// Collector: CA certificate file (PEM) the brokers' certificates are checked against.
    #[arg(
        long = "kafka.producer.tls.ca",
        env = "KAFKA_PRODUCER_TLS_CA",
        global = true
    )]
    pub producer_tls_ca: Option<PathBuf>,
    /// Collector: client certificate file (PEM), for brokers that require one.
    #[arg(
        long = "kafka.producer.tls.cert",
        env = "KAFKA_PRODUCER_TLS_CERT",
        global = true
    )]
    pub producer_tls_cert: Option<PathBuf>,
    /// Collector: private key file (PEM) of the client certificate.
    #[arg(
        long = "kafka.producer.tls.key",
        env = "KAFKA_PRODUCER_TLS_KEY",
        global = true
    )]
    pub producer_tls_key: Option<PathBuf>,
    /// Collector: accept any broker certificate and host name.
    #[arg(long = "kafka.producer.tls.skip-host-verify", env = "KAFKA_PRODUCER_TLS_SKIP_HOST_VERIFY", num_args = 0..=1, default_missing_value = "true", global = true)]
    pub producer_tls_skip_host_verify: Option<bool>,
    /// Collector: SASL user (`--kafka.producer.authentication=plaintext`).
    #[arg(
        long = "kafka.producer.plaintext.username",
        env = "KAFKA_PRODUCER_PLAINTEXT_USERNAME",
        global = true
    )]
    pub producer_plaintext_username: Option<String>,
    /// Collector: SASL password.
    #[arg(
        long = "kafka.producer.plaintext.password",
        env = "KAFKA_PRODUCER_PLAINTEXT_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub producer_plaintext_password: Option<String>,
    /// Collector: `PLAIN` (default), `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    #[arg(long = "kafka.producer.plaintext.mechanism", env = "KAFKA_PRODUCER_PLAINTEXT_MECHANISM", value_parser = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], global = true)]
    pub producer_plaintext_mechanism: Option<String>,

    /// Ingester: brokers to read spans from (comma-separated).
    #[arg(
        long = "kafka.consumer.brokers",
        env = "KAFKA_CONSUMER_BROKERS",
        value_delimiter = ',',
        global = true
    )]
    pub consumer_brokers: Vec<String>,
    /// Ingester: topic spans are read from.
    #[arg(
        long = "kafka.consumer.topic",
        env = "KAFKA_CONSUMER_TOPIC",
        global = true
    )]
    pub consumer_topic: Option<String>,
    /// Ingester: consumer group.
    #[arg(
        long = "kafka.consumer.group-id",
        env = "KAFKA_CONSUMER_GROUP_ID",
        global = true
    )]
    pub consumer_group_id: Option<String>,
    /// Ingester: client id.
    #[arg(
        long = "kafka.consumer.client-id",
        env = "KAFKA_CONSUMER_CLIENT_ID",
        global = true
    )]
    pub consumer_client_id: Option<String>,
    /// Ingester: `protobuf` (jaeger_proto), `json` (jaeger_json), `zipkin-thrift`,
    /// `otlp_proto`, `otlp_json`, `zipkin_proto`, `zipkin_json`.
    #[arg(
        long = "kafka.consumer.encoding",
        env = "KAFKA_CONSUMER_ENCODING",
        global = true
    )]
    pub consumer_encoding: Option<String>,
    /// Ingester: where a new consumer group starts, `earliest` or `latest`.
    #[arg(
        long = "kafka.consumer.initial-offset",
        env = "KAFKA_CONSUMER_INITIAL_OFFSET",
        global = true
    )]
    pub consumer_initial_offset: Option<String>,
    /// Ingester: larger messages are skipped as poison.
    #[arg(
        long = "kafka.consumer.fetch-max-message-bytes",
        env = "KAFKA_CONSUMER_FETCH_MAX_MESSAGE_BYTES",
        global = true
    )]
    pub consumer_max_message_bytes: Option<usize>,
    /// Ingester: messages decoded and written concurrently.
    #[arg(
        long = "ingester.parallelism",
        env = "INGESTER_PARALLELISM",
        global = true
    )]
    pub parallelism: Option<usize>,
    /// Ingester: `none` (default), `tls` or `plaintext` (SASL); `kerberos` is refused.
    #[arg(long = "kafka.consumer.authentication", env = "KAFKA_CONSUMER_AUTHENTICATION", value_parser = parse_authentication, global = true)]
    pub consumer_authentication: Option<Authentication>,
    /// Ingester: TLS to the brokers (also with `--kafka.consumer.authentication=plaintext`: SASL_SSL).
    #[arg(long = "kafka.consumer.tls.enabled", env = "KAFKA_CONSUMER_TLS_ENABLED", num_args = 0..=1, default_missing_value = "true", global = true)]
    pub consumer_tls_enabled: Option<bool>,
    /// Ingester: CA certificate file (PEM) the brokers' certificates are checked against.
    #[arg(
        long = "kafka.consumer.tls.ca",
        env = "KAFKA_CONSUMER_TLS_CA",
        global = true
    )]
    pub consumer_tls_ca: Option<PathBuf>,
    /// Ingester: client certificate file (PEM), for brokers that require one.
    #[arg(
        long = "kafka.consumer.tls.cert",
        env = "KAFKA_CONSUMER_TLS_CERT",
        global = true
    )]
    pub consumer_tls_cert: Option<PathBuf>,
    /// Ingester: private key file (PEM) of the client certificate.
    #[arg(
        long = "kafka.consumer.tls.key",
        env = "KAFKA_CONSUMER_TLS_KEY",
        global = true
    )]
    pub consumer_tls_key: Option<PathBuf>,
    /// Ingester: accept any broker certificate and host name.
    #[arg(long = "kafka.consumer.tls.skip-host-verify", env = "KAFKA_CONSUMER_TLS_SKIP_HOST_VERIFY", num_args = 0..=1, default_missing_value = "true", global = true)]
    pub consumer_tls_skip_host_verify: Option<bool>,
    /// Ingester: SASL user (`--kafka.consumer.authentication=plaintext`).
    #[arg(
        long = "kafka.consumer.plaintext.username",
        env = "KAFKA_CONSUMER_PLAINTEXT_USERNAME",
        global = true
    )]
    pub consumer_plaintext_username: Option<String>,
    /// Ingester: SASL password.
    #[arg(
        long = "kafka.consumer.plaintext.password",
        env = "KAFKA_CONSUMER_PLAINTEXT_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub consumer_plaintext_password: Option<String>,
    /// Ingester: `PLAIN` (default), `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    #[arg(long = "kafka.consumer.plaintext.mechanism", env = "KAFKA_CONSUMER_PLAINTEXT_MECHANISM", value_parser = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"], global = true)]
    pub consumer_plaintext_mechanism: Option<String>,
}

/// Jaeger v1's `--kafka.*.authentication`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Authentication {
    None,
    Tls,
    Plaintext,
}

fn parse_authentication(s: &str) -> Result<Authentication, String> {
    match s.trim() {
        "" | "none" => Ok(Authentication::None),
        "tls" => Ok(Authentication::Tls),
        "plaintext" => Ok(Authentication::Plaintext),
        "kerberos" => Err(
            "kerberos is not supported by this build (its Kafka client has no GSSAPI); use tls \
             and/or plaintext (SASL PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"
                .into(),
        ),
        other => Err(format!("{other:?}: expected none, tls or plaintext")),
    }
}

/// One side's authentication flags.
struct AuthFlags<'a> {
    key: &'static str,
    authentication: Option<Authentication>,
    tls_enabled: Option<bool>,
    ca: &'a Option<PathBuf>,
    cert: &'a Option<PathBuf>,
    key_file: &'a Option<PathBuf>,
    skip_host_verify: Option<bool>,
    username: &'a Option<String>,
    password: &'a Option<String>,
    mechanism: &'a Option<String>,
}

impl AuthFlags<'_> {
    fn any(&self) -> bool {
        self.authentication.is_some()
            || self.tls_enabled.is_some()
            || self.ca.is_some()
            || self.cert.is_some()
            || self.key_file.is_some()
            || self.skip_host_verify.is_some()
            || self.username.is_some()
            || self.password.is_some()
            || self.mechanism.is_some()
    }

    /// As Jaeger v1: TLS with `authentication=tls` or `tls.enabled`; SASL with
    /// `authentication=plaintext`. Other flags alone change nothing. Flags given replace
    /// the YAML's `tls`/`auth` settings only for the parts they turn on.
    fn apply(&self, auth: &mut KafkaAuthConfig) {
        if !self.any() {
            return;
        }
        auth.key = self.key.to_string();
        let tls =
            self.authentication == Some(Authentication::Tls) || self.tls_enabled == Some(true);
        if tls {
            auth.tls = Some(KafkaTlsConfig {
                ca_file: self.ca.clone(),
                cert_file: self.cert.clone(),
                key_file: self.key_file.clone(),
                insecure_skip_verify: self.skip_host_verify.unwrap_or(false),
                ..Default::default()
            });
        } else if self.tls_enabled == Some(false) || self.authentication.is_some() {
            auth.tls = None;
        }
        match self.authentication {
            Some(Authentication::Plaintext) => {
                auth.sasl = Some(KafkaSaslConfig {
                    mechanism: self.mechanism.clone().unwrap_or_else(|| "PLAIN".into()),
                    username: self.username.clone().unwrap_or_default(),
                    password: self.password.clone().unwrap_or_default(),
                });
            }
            Some(_) => auth.sasl = None,
            None => {}
        }
    }
}

/// Jaeger v1's `--kafka.producer.required-acks` names, or -1/0/1.
fn parse_acks(s: &str) -> Result<i32, String> {
    match s.trim() {
        "all" | "-1" => Ok(-1),
        "local" | "1" => Ok(1),
        "noack" | "none" | "0" => Ok(0),
        other => Err(format!("{other:?}: expected all, local or noack")),
    }
}

impl KafkaFlags {
    fn producer_auth(&self) -> AuthFlags<'_> {
        AuthFlags {
            key: "--kafka.producer",
            authentication: self.producer_authentication,
            tls_enabled: self.producer_tls_enabled,
            ca: &self.producer_tls_ca,
            cert: &self.producer_tls_cert,
            key_file: &self.producer_tls_key,
            skip_host_verify: self.producer_tls_skip_host_verify,
            username: &self.producer_plaintext_username,
            password: &self.producer_plaintext_password,
            mechanism: &self.producer_plaintext_mechanism,
        }
    }

    fn consumer_auth(&self) -> AuthFlags<'_> {
        AuthFlags {
            key: "--kafka.consumer",
            authentication: self.consumer_authentication,
            tls_enabled: self.consumer_tls_enabled,
            ca: &self.consumer_tls_ca,
            cert: &self.consumer_tls_cert,
            key_file: &self.consumer_tls_key,
            skip_host_verify: self.consumer_tls_skip_host_verify,
            username: &self.consumer_plaintext_username,
            password: &self.consumer_plaintext_password,
            mechanism: &self.consumer_plaintext_mechanism,
        }
    }

    /// Producer flags shape the exporter when one is configured (`--storage kafka` or
    /// `exporters.kafka`); consumer flags turn the consumer on.
    pub fn apply(&self, config: &mut Config) {
        if let Some(p) = config.kafka.exporter.as_mut() {
            apply_producer(self, p);
        }
        let any_consumer = !self.consumer_brokers.is_empty()
            || self.consumer_topic.is_some()
            || self.consumer_group_id.is_some()
            || self.consumer_client_id.is_some()
            || self.consumer_encoding.is_some()
            || self.consumer_initial_offset.is_some()
            || self.consumer_max_message_bytes.is_some()
            || self.parallelism.is_some()
            || self.consumer_auth().any();
        if any_consumer {
            let c = config.kafka.receiver.get_or_insert_with(Default::default);
            apply_consumer(self, c);
        }
    }
}

fn apply_producer(f: &KafkaFlags, p: &mut KafkaExporterConfig) {
    if !f.producer_brokers.is_empty() {
        p.brokers = trimmed(&f.producer_brokers);
    }
    if let Some(t) = &f.producer_topic {
        p.topic = t.clone();
    }
    if let Some(e) = &f.producer_encoding {
        p.encoding = e.clone();
    }
    if let Some(c) = &f.producer_compression {
        p.compression = c.clone();
    }
    if let Some(l) = f.producer_compression_level {
        p.compression_level = Some(l);
    }
    if let Some(a) = f.producer_required_acks {
        p.required_acks = a;
    }
    if let Some(l) = f.producer_linger {
        p.linger = l;
    }
    if let Some(m) = f.producer_max_message_bytes {
        p.max_message_bytes = m;
    }
    if let Some(c) = &f.producer_client_id {
        p.client_id = c.clone();
    }
    f.producer_auth().apply(&mut p.auth);
}

fn apply_consumer(f: &KafkaFlags, c: &mut KafkaReceiverConfig) {
    if !f.consumer_brokers.is_empty() {
        c.brokers = trimmed(&f.consumer_brokers);
    }
    if let Some(t) = &f.consumer_topic {
        c.topics = vec![t.clone()];
    }
    if let Some(g) = &f.consumer_group_id {
        c.group_id = g.clone();
    }
    if let Some(id) = &f.consumer_client_id {
        c.client_id = id.clone();
    }
    if let Some(e) = &f.consumer_encoding {
        c.encoding = e.clone();
    }
    if let Some(o) = &f.consumer_initial_offset {
        c.initial_offset = o.clone();
    }
    if let Some(m) = f.consumer_max_message_bytes {
        c.max_message_bytes = m;
    }
    if let Some(p) = f.parallelism {
        c.parallelism = p.max(1);
    }
    f.consumer_auth().apply(&mut c.auth);
}

fn trimmed(v: &[String]) -> Vec<String> {
    v.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The storage of a process, with the Kafka exporter as its writer when one is
/// configured. A collector that only writes to Kafka opens no storage at all.
pub(crate) async fn open_storage(
    config: &Config,
) -> anyhow::Result<(Storage, Option<Arc<KafkaExporter>>)> {
    let Some(k) = &config.kafka.exporter else {
        return Ok((crate::all_in_one::open_storage(config).await?, None));
    };
    let exporter = KafkaExporter::new(k).context("Kafka exporter")?;
    exporter.check_brokers().await.context("Kafka exporter")?;
    let reads_storage = config.query.enabled
        || config.remote_storage.endpoint.is_some()
        || config.dependencies.schedule.is_some();
    let storage = if reads_storage {
        let mut s = crate::all_in_one::open_storage(config).await?;
        s.writer = exporter.clone();
        s
    } else {
        tracing::info!("storage: none (spans go to Kafka)");
        exporter.as_storage()
    };
    Ok((storage, Some(exporter)))
}

/// The Kafka consumer task, when one is configured.
pub(crate) fn consumer(
    config: &Config,
    queue: &SpanQueue,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> Option<impl Future<Output = anyhow::Result<()>> + Send + 'static> {
    let cfg = config.kafka.receiver.clone()?;
    let queue = queue.clone();
    Some(async move {
        jaeger_ingest::kafka::consumer::run_consumer(cfg, queue, stopped)
            .await
            .context("Kafka consumer")
    })
}

#[cfg(test)]
mod tests {
    use crate::cli::Cli;
    use clap::Parser;
    use jaeger_config::Config;

    #[test]
    fn v1_kafka_auth_flags() {
        let cli = Cli::try_parse_from([
            "jaeger",
            "collector",
            "--storage=kafka",
            "--kafka.producer.authentication=plaintext",
            "--kafka.producer.plaintext.username=u",
            "--kafka.producer.plaintext.password=p",
            "--kafka.producer.plaintext.mechanism=SCRAM-SHA-512",
            "--kafka.producer.tls.enabled",
            "--kafka.producer.tls.ca=/ca.pem",
            "--kafka.consumer.authentication=tls",
            "--kafka.consumer.tls.cert=/c.pem",
            "--kafka.consumer.tls.key=/k.pem",
            "--kafka.consumer.tls.skip-host-verify=true",
        ])
        .expect("parse");
        let mut c = Config::default();
        cli.flags.apply(&mut c);
        let p = c.kafka.exporter.expect("exporter").auth;
        assert_eq!(p.security_protocol(), "sasl_ssl");
        let sasl = p.sasl.expect("sasl");
        assert_eq!(
            (sasl.mechanism.as_str(), sasl.username.as_str()),
            ("SCRAM-SHA-512", "u")
        );
        assert!(!format!("{sasl:?}").contains("\"p\""), "password in Debug");
        assert_eq!(
            p.tls.expect("tls").ca_file.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        let r = c
            .kafka
            .receiver
            .expect("consumer flags turn the consumer on")
            .auth;
        assert_eq!(r.security_protocol(), "ssl");
        assert_eq!(r.key, "--kafka.consumer");
        let t = r.tls.expect("tls");
        assert!(t.insecure_skip_verify);
        assert!(t.cert_file.is_some() && t.key_file.is_some() && t.ca_file.is_none());

        // Jaeger v1: `plaintext` alone is SASL without TLS, mechanism PLAIN.
        let cli = Cli::try_parse_from([
            "jaeger",
            "ingester",
            "--kafka.consumer.authentication=plaintext",
            "--kafka.consumer.plaintext.username=u",
        ])
        .expect("parse");
        let mut c = Config::default();
        cli.flags.apply(&mut c);
        let r = c.kafka.receiver.expect("consumer").auth;
        assert_eq!(r.security_protocol(), "sasl_plaintext");
        assert_eq!(r.sasl.expect("sasl").mechanism, "PLAIN");

        let e = Cli::try_parse_from([
            "jaeger",
            "ingester",
            "--kafka.consumer.authentication=kerberos",
        ])
        .expect_err("kerberos is refused")
        .to_string();
        assert!(
            e.contains("--kafka.consumer.authentication")
                && e.contains("kerberos is not supported"),
            "{e}"
        );
        assert!(
            Cli::try_parse_from(["jaeger", "--kafka.producer.plaintext.mechanism=GSSAPI"]).is_err()
        );
    }

    #[test]
    fn v1_kafka_flags() {
        let cli = Cli::try_parse_from([
            "jaeger",
            "collector",
            "--storage=kafka",
            "--kafka.producer.brokers=k1:9092,k2:9092",
            "--kafka.producer.topic=spans",
            "--kafka.producer.encoding=protobuf",
            "--kafka.producer.compression=lz4",
            "--kafka.producer.required-acks=local",
        ])
        .expect("parse");
        let mut c = Config::default();
        cli.flags.apply(&mut c);
        let p = c
            .kafka
            .exporter
            .expect("--storage kafka turns the exporter on");
        assert_eq!(p.brokers, ["k1:9092", "k2:9092"]);
        assert_eq!(p.topic, "spans");
        assert_eq!(p.encoding, "protobuf");
        assert_eq!(p.compression, "lz4");
        assert_eq!(p.required_acks, 1);
        assert!(c.kafka.receiver.is_none());

        let cli = Cli::try_parse_from([
            "jaeger",
            "ingester",
            "--kafka.consumer.brokers=k:9092",
            "--kafka.consumer.topic=t",
            "--kafka.consumer.group-id=g",
            "--kafka.consumer.encoding=zipkin-thrift",
            "--ingester.parallelism=7",
        ])
        .expect("parse");
        let mut c = Config::default();
        cli.flags.apply(&mut c);
        jaeger_config::Role::Ingester.apply(&mut c);
        let r = c.kafka.receiver.expect("consumer");
        assert_eq!((r.topics[0].as_str(), r.group_id.as_str()), ("t", "g"));
        assert_eq!(r.parallelism, 7);
        assert_eq!(r.encoding, "zipkin-thrift");
        assert_eq!(c.admin.metrics_endpoint.port(), 8889);
        assert!(!c.query.enabled);
        assert_eq!(c.otlp.grpc_endpoint, None);
    }
}
