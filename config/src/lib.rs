//! Configuration: the effective settings of a `jaeger` process.
//!
//! The structs here are the single source of truth for defaults. Every field has a
//! default so that `jaeger` runs with no config file at all.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub mod v2;

/// Which storage backend holds the spans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StorageKind {
    /// The embedded persistent store (served for Jaeger's `badger` too).
    #[default]
    Embedded,
    Memory,
    /// Cassandra with Jaeger's v004 layout (`StorageConfig::cassandra`).
    Cassandra,
    /// Elasticsearch or OpenSearch with Jaeger's index layout (`StorageConfig::elasticsearch`).
    Elasticsearch,
    /// A remote storage server over gRPC (`StorageConfig::grpc`): Jaeger's `grpc` backend.
    Grpc,
}

/// Jaeger v2's `backends.<name>.elasticsearch` or `.opensearch` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ElasticsearchStorage {
    /// The section was `opensearch` (templates and version detection follow it).
    #[serde(default)]
    pub opensearch: bool,
    pub backend: v2::ElasticsearchBackend,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmbeddedStorageConfig {
    /// Where the embedded store keeps its files. Default: `$XDG_DATA_HOME/jaeger-rs`,
    /// else `$HOME/.local/share/jaeger-rs`, else `./jaeger-data`.
    pub data_dir: PathBuf,
    /// How long spans are kept. Whole time partitions are dropped once all their
    /// spans are older than this.
    #[serde(with = "humantime_serde_compat")]
    pub retention: Duration,
    /// Width of one time partition; retention drops whole partitions.
    #[serde(with = "humantime_serde_compat")]
    pub partition_width: Duration,
    /// `fsync` the journal before acknowledging a write. Off: a write survives a
    /// process crash (`kill -9`) but not a power loss.
    pub sync_writes: bool,
    /// Block cache size in MiB.
    pub cache_mib: u64,
}

impl Default for EmbeddedStorageConfig {
    fn default() -> Self {
        Self {
            data_dir: default_data_dir(),
            retention: Duration::from_secs(72 * 3600),
            partition_width: Duration::from_secs(6 * 3600),
            sync_writes: false,
            cache_mib: 32,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryStorageConfig {
    /// Oldest traces are evicted beyond this many.
    pub max_traces: usize,
}

impl Default for MemoryStorageConfig {
    fn default() -> Self {
        Self {
            max_traces: 100_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    pub kind: StorageKind,
    pub embedded: EmbeddedStorageConfig,
    pub memory: MemoryStorageConfig,
    /// Jaeger v2's `backends.<name>.cassandra` section, when that backend is used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cassandra: Option<v2::CassandraBackend>,
    /// The Elasticsearch / OpenSearch section, when that backend is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elasticsearch: Option<ElasticsearchStorage>,
    /// Jaeger v2's `backends.<name>.grpc` section (remote storage), when that backend is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<v2::GrpcBackend>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    /// OTLP gRPC; `None` switches it off.
    pub grpc_endpoint: Option<SocketAddr>,
    /// OTLP HTTP `POST /v1/traces`; `None` switches it off.
    pub http_endpoint: Option<SocketAddr>,
    /// Largest accepted HTTP body, raw and after decompression (Jaeger: 20 MiB).
    pub max_request_body_bytes: usize,
    /// Largest accepted gRPC message (grpc-go default: 4 MiB).
    pub max_grpc_message_bytes: usize,
    /// TLS on the gRPC listener; `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_tls: Option<TlsFiles>,
    /// TLS on the HTTP listener; `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_tls: Option<TlsFiles>,
}

/// TLS on a server endpoint: a PEM certificate chain and the PEM private key of its
/// first certificate; with `client_ca_file`, clients must present a certificate signed
/// by one of its CAs (mTLS). Read at start-up; the key is never logged or printed.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca_file: Option<PathBuf>,
    /// Where the setting came from (`receivers.jaeger.protocols.grpc.tls` or
    /// `--collector.grpc.tls`), so a bad file is reported under the key the user wrote.
    #[serde(skip)]
    pub key: String,
}

/// Equal when the same files are used, wherever the setting came from.
impl PartialEq for TlsFiles {
    fn eq(&self, o: &Self) -> bool {
        (&self.cert_file, &self.key_file, &self.client_ca_file)
            == (&o.cert_file, &o.key_file, &o.client_ca_file)
    }
}

impl Default for OtlpReceiverConfig {
    fn default() -> Self {
        Self {
            grpc_endpoint: Some(addr(4317)),
            http_endpoint: Some(addr(4318)),
            max_request_body_bytes: 20 * 1024 * 1024,
            max_grpc_message_bytes: 4 * 1024 * 1024,
            grpc_tls: None,
            http_tls: None,
        }
    }
}

/// Jaeger's own protocols; `None` switches a listener off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JaegerReceiverConfig {
    /// `jaeger.api_v2.CollectorService/PostSpans`.
    pub grpc_endpoint: Option<SocketAddr>,
    /// Thrift over HTTP, `POST /api/traces`.
    pub thrift_http_endpoint: Option<SocketAddr>,
    /// Agent UDP, compact Thrift.
    pub thrift_compact_endpoint: Option<SocketAddr>,
    /// Agent UDP, binary Thrift.
    pub thrift_binary_endpoint: Option<SocketAddr>,
    /// TLS on the gRPC listener; `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_tls: Option<TlsFiles>,
    /// TLS on the Thrift HTTP listener; `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thrift_http_tls: Option<TlsFiles>,
}

impl Default for JaegerReceiverConfig {
    fn default() -> Self {
        Self {
            grpc_endpoint: Some(addr(14250)),
            thrift_http_endpoint: Some(addr(14268)),
            thrift_compact_endpoint: Some(addr(6831)),
            thrift_binary_endpoint: Some(addr(6832)),
            grpc_tls: None,
            thrift_http_tls: None,
        }
    }
}

/// Zipkin `/api/v1/spans` and `/api/v2/spans`; `None` switches it off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZipkinReceiverConfig {
    pub endpoint: Option<SocketAddr>,
    /// TLS on the listener; `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFiles>,
}

impl Default for ZipkinReceiverConfig {
    fn default() -> Self {
        Self {
            endpoint: Some(addr(9411)),
            tls: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueueConfig {
    /// Bytes of encoded spans waiting for storage before receivers answer "retry later".
    pub max_bytes: usize,
    /// Spans per storage write, at most.
    pub max_batch_spans: usize,
    /// Writers working on the queue in parallel.
    pub writers: usize,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            max_batch_spans: 8192,
            writers: 2,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct QueryConfig {
    /// False: neither the query HTTP server (API and UI) nor its gRPC server runs (the
    /// `collector` role, or a YAML file without `jaeger_query` in `service.extensions`).
    pub enabled: bool,
    pub http_endpoint: SocketAddr,
    /// Route prefix, `/` for none (`--query.base-path`).
    pub base_path: String,
    /// Clock-skew correction cap; zero disables correction (warnings are still added).
    #[serde(with = "humantime_serde_compat")]
    pub max_clock_skew_adjust: Duration,
    /// Query gRPC server (`jaeger.api_v2` and `jaeger.api_v3` QueryService); `None`
    /// switches it off.
    pub grpc_endpoint: Option<SocketAddr>,
    /// A directory holding another UI build (`index.html`, `static/`) served instead of
    /// the embedded UI (`--query.static-files`).
    pub static_files: Option<PathBuf>,
    /// A `.json` or `.js` UI configuration file injected into `index.html`
    /// (`--query.ui-config`).
    pub ui_config: Option<PathBuf>,
    /// Spans returned per trace at most; 0 returns all.
    pub max_trace_size: usize,
    /// Pass the caller's bearer token on to storage.
    pub bearer_token_propagation: bool,
    /// `Name: value` headers added to every response (`--query.additional-headers`).
    pub additional_headers: Vec<String>,
    pub cors: CorsConfig,
    pub multi_tenancy: MultiTenancyConfig,
    /// A second store for `POST /api/archive/{id}`, read when a trace is not in the
    /// primary one; `None` disables archiving.
    pub archive: Option<ArchiveConfig>,
    /// TLS on the query HTTP listener (API and UI); `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_tls: Option<TlsFiles>,
    /// TLS on the query gRPC listener; `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_tls: Option<TlsFiles>,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            http_endpoint: addr(16686),
            base_path: "/".into(),
            max_clock_skew_adjust: Duration::ZERO,
            grpc_endpoint: Some(addr(16685)),
            static_files: None,
            ui_config: None,
            max_trace_size: 0,
            bearer_token_propagation: false,
            additional_headers: Vec::new(),
            cors: CorsConfig::default(),
            multi_tenancy: MultiTenancyConfig::default(),
            archive: None,
            http_tls: None,
            grpc_tls: None,
        }
    }
}

/// Cross-origin access to the query HTTP API; no origins means no CORS headers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CorsConfig {
    /// Exact origins, `*`, or patterns such as `https://*.example.com`.
    pub allowed_origins: Vec<String>,
    /// Request headers allowed besides the CORS defaults; `*` allows any.
    pub allowed_headers: Vec<String>,
}

/// Tenancy by request header: requests without a (known) tenant get 401.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MultiTenancyConfig {
    pub enabled: bool,
    pub header: String,
    /// Accepted tenants; empty accepts any non-empty value.
    pub tenants: Vec<String>,
}

impl Default for MultiTenancyConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            header: "x-tenant".into(),
            tenants: Vec::new(),
        }
    }
}

/// Where archived traces go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveConfig {
    pub kind: StorageKind,
    /// Directory of an embedded archive store (kept apart from the primary store's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// Traces kept by a memory archive.
    #[serde(default = "default_archive_max_traces")]
    pub max_traces: usize,
    /// The `cassandra` section of a Cassandra archive backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cassandra: Option<v2::CassandraBackend>,
    /// The section of an Elasticsearch / OpenSearch archive backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elasticsearch: Option<ElasticsearchStorage>,
}

fn default_archive_max_traces() -> usize {
    MemoryStorageConfig::default().max_traces
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Health check (`GET /status`, and `GET /` in the v1 style); `None` switches it off.
    pub health_endpoint: Option<SocketAddr>,
    /// Prometheus `GET /metrics`.
    pub metrics_endpoint: SocketAddr,
    /// expvar-style JSON (`GET /debug/vars`, any path): command line, memory figures and
    /// our counters; `None` switches it off.
    pub expvar_endpoint: Option<SocketAddr>,
    /// Jaeger v1's admin port (`--admin.http.host-port`): `GET /` health in v1's JSON and
    /// `GET /metrics`, for probes and scrapers still pointed there; `None` switches it off.
    pub http_endpoint: Option<SocketAddr>,
    /// TLS on the health check listener; `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_tls: Option<TlsFiles>,
    /// TLS on the expvar listener; `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expvar_tls: Option<TlsFiles>,
    /// TLS on the v1 admin listener (`--admin.http.tls.*`); `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_tls: Option<TlsFiles>,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            health_endpoint: Some(addr(13133)),
            metrics_endpoint: addr(8888),
            expvar_endpoint: Some(addr(DEFAULT_EXPVAR_PORT)),
            http_endpoint: Some(addr(14269)),
            health_tls: None,
            expvar_tls: None,
            http_tls: None,
        }
    }
}

/// The expvar port of the deployment guide's port table. (Jaeger v2's code defaults its
/// `expvar` extension to 27777; a file that names 27777 gets 27777.)
pub const DEFAULT_EXPVAR_PORT: u16 = 2777;

/// Remote sampling: the strategies SDKs poll, from a Jaeger strategies file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SamplingConfig {
    /// `GET /sampling?service=` (any path); `None` switches it off.
    pub http_endpoint: Option<SocketAddr>,
    /// gRPC `jaeger.api_v2.SamplingManager`; `None` switches it off.
    pub grpc_endpoint: Option<SocketAddr>,
    /// TLS on the HTTP listener; `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_tls: Option<TlsFiles>,
    /// TLS on the gRPC listener; `None` is plain text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_tls: Option<TlsFiles>,
    /// Jaeger strategies JSON; unset serves the default strategy to every service.
    pub strategies_file: Option<PathBuf>,
    /// How often the file is re-read; zero never re-reads it.
    #[serde(with = "humantime_serde_compat")]
    pub reload_interval: Duration,
    /// Probability of the default strategy (and of strategies of unknown type).
    pub default_sampling_probability: f64,
    /// Adaptive sampling instead of the strategies file; `None` (the default) is off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adaptive: Option<AdaptiveSamplingConfig>,
}

/// Adaptive sampling (Jaeger v2 `remote_sampling.adaptive`, same names and defaults):
/// probabilities per service and operation computed from the root spans written.
/// The throughput and probabilities are kept beside the span store (memory, or
/// `<embedded data dir>/sampling`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptiveSamplingConfig {
    pub target_samples_per_second: f64,
    pub delta_tolerance: f64,
    #[serde(with = "humantime_serde_compat")]
    pub calculation_interval: Duration,
    pub aggregation_buckets: usize,
    pub calculation_buckets: usize,
    #[serde(with = "humantime_serde_compat")]
    pub calculation_delay: Duration,
    pub initial_sampling_probability: f64,
    pub min_sampling_probability: f64,
    pub min_samples_per_second: f64,
    /// The leader renews its lease this often (stores shared by collectors: Cassandra).
    #[serde(with = "humantime_serde_compat")]
    pub leader_lease_refresh_interval: Duration,
    /// Followers try to take the lease this often; also the lease's TTL.
    #[serde(with = "humantime_serde_compat")]
    pub follower_lease_refresh_interval: Duration,
}

impl Default for AdaptiveSamplingConfig {
    fn default() -> Self {
        Self {
            target_samples_per_second: 1.0,
            delta_tolerance: 0.3,
            calculation_interval: Duration::from_secs(60),
            aggregation_buckets: 10,
            calculation_buckets: 1,
            calculation_delay: Duration::from_secs(120),
            initial_sampling_probability: 0.001,
            min_sampling_probability: 1e-5,
            min_samples_per_second: 1.0 / 60.0,
            leader_lease_refresh_interval: Duration::from_secs(5),
            follower_lease_refresh_interval: Duration::from_secs(60),
        }
    }
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            http_endpoint: Some(addr(5778)),
            grpc_endpoint: Some(addr(5779)),
            http_tls: None,
            grpc_tls: None,
            strategies_file: None,
            // Jaeger's all-in-one configuration reloads every second.
            reload_interval: Duration::from_secs(1),
            default_sampling_probability: 0.001,
            adaptive: None,
        }
    }
}

/// Everything one process needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub storage: StorageConfig,
    pub otlp: OtlpReceiverConfig,
    pub jaeger: JaegerReceiverConfig,
    pub zipkin: ZipkinReceiverConfig,
    pub queue: QueueConfig,
    pub query: QueryConfig,
    pub admin: AdminConfig,
    pub sampling: SamplingConfig,
    pub dependencies: DependenciesConfig,
    pub remote_storage: RemoteStorageConfig,
    /// Kafka between collectors and ingesters.
    pub kafka: KafkaConfig,
}

/// Kafka between collectors and ingesters (docs/configuration.md, "Kafka").
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Set: accepted spans are written to Kafka instead of storage (`exporters.kafka`,
    /// `SPAN_STORAGE_TYPE=kafka`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exporter: Option<KafkaExporterConfig>,
    /// Set: spans are read from Kafka and written to storage (`receivers.kafka`, the
    /// `ingester` role).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receiver: Option<KafkaReceiverConfig>,
}

/// The collector's Kafka producer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaExporterConfig {
    /// `host:port` of the bootstrap brokers.
    pub brokers: Vec<String>,
    pub topic: String,
    /// `otlp_proto`, `otlp_json`, `jaeger_proto` (`protobuf`), `jaeger_json` (`json`).
    pub encoding: String,
    pub client_id: String,
    /// 0 none, 1 leader, -1 all in-sync replicas (with idempotence).
    pub required_acks: i32,
    /// `none`, `gzip`, `snappy`, `lz4`, `zstd`.
    pub compression: String,
    /// Codec level; unset: the codec's default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_level: Option<i32>,
    /// How long the producer waits to fill a batch.
    #[serde(with = "humantime_serde_compat")]
    pub linger: Duration,
    /// Largest message; a trace over it is split by spans (OTLP encodings).
    pub max_message_bytes: usize,
    /// How long a message may wait for the broker's acknowledgement before the client is
    /// told to retry.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
    /// Messages buffered in the producer before clients are told to retry.
    pub queue_max_messages: usize,
    /// TLS and SASL to the brokers; the default is plain text without authentication.
    #[serde(skip_serializing_if = "KafkaAuthConfig::is_plain")]
    pub auth: KafkaAuthConfig,
}

/// How a Kafka client connects to its brokers (`exporters.kafka.{tls,auth}`,
/// `receivers.kafka.{tls,auth}`, `--kafka.{producer,consumer}.authentication`):
/// neither set is plain text, `tls` alone is SSL, `sasl` alone SASL_PLAINTEXT, both
/// SASL_SSL.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaAuthConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<KafkaTlsConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl: Option<KafkaSaslConfig>,
    /// Where the settings came from (`exporters.kafka`, `--kafka.producer`), so errors
    /// name what the user wrote.
    #[serde(skip)]
    pub key: String,
}

impl KafkaAuthConfig {
    /// Plain text, no authentication.
    pub fn is_plain(&self) -> bool {
        self.tls.is_none() && self.sasl.is_none()
    }

    /// librdkafka's `security.protocol`.
    pub fn security_protocol(&self) -> &'static str {
        match (self.tls.is_some(), self.sasl.is_some()) {
            (false, false) => "plaintext",
            (true, false) => "ssl",
            (false, true) => "sasl_plaintext",
            (true, true) => "sasl_ssl",
        }
    }
}

/// TLS to the brokers. Without `ca_file`/`ca_pem` the system's CAs are trusted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaTlsConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
    /// Client certificate (mTLS), with `key_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_pem: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// An inline private key: a secret (masked by `print-config`, never logged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_pem: Option<String>,
    /// Accept any broker certificate and host name (tests only).
    pub insecure_skip_verify: bool,
}

/// SASL to the brokers: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSaslConfig {
    pub mechanism: String,
    pub username: String,
    /// A secret: masked by `print-config`, never logged.
    pub password: String,
}

/// The password stays out of logs and panics.
impl std::fmt::Debug for KafkaSaslConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaSaslConfig")
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &"[REDACTED]")
            .finish()
    }
}

impl Default for KafkaExporterConfig {
    fn default() -> Self {
        Self {
            brokers: vec!["127.0.0.1:9092".into()],
            topic: "jaeger-spans".into(),
            encoding: "otlp_proto".into(),
            client_id: "jaeger-collector".into(),
            required_acks: -1,
            compression: "none".into(),
            compression_level: None,
            linger: Duration::from_millis(10),
            max_message_bytes: 1_000_000,
            timeout: Duration::from_secs(5),
            queue_max_messages: 100_000,
            auth: KafkaAuthConfig::default(),
        }
    }
}

/// The ingester's Kafka consumer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaReceiverConfig {
    pub brokers: Vec<String>,
    pub topics: Vec<String>,
    /// Any encoding of [`KafkaExporterConfig::encoding`], plus `zipkin_proto`,
    /// `zipkin_json`, `zipkin_thrift`.
    pub encoding: String,
    pub group_id: String,
    pub client_id: String,
    /// Where a group with no committed offset starts: `earliest` or `latest`.
    pub initial_offset: String,
    /// Messages decoded and written concurrently.
    pub parallelism: usize,
    /// Larger messages are skipped as poison.
    pub max_message_bytes: usize,
    /// How often stored offsets are committed.
    #[serde(with = "humantime_serde_compat")]
    pub commit_interval: Duration,
    /// A member not heard from for this long leaves the group (its partitions move).
    #[serde(with = "humantime_serde_compat")]
    pub session_timeout: Duration,
    /// How often the member tells the group coordinator it is alive.
    #[serde(with = "humantime_serde_compat")]
    pub heartbeat_interval: Duration,
    /// TLS and SASL to the brokers; the default is plain text without authentication.
    #[serde(skip_serializing_if = "KafkaAuthConfig::is_plain")]
    pub auth: KafkaAuthConfig,
}

impl Default for KafkaReceiverConfig {
    fn default() -> Self {
        Self {
            brokers: vec!["127.0.0.1:9092".into()],
            topics: vec!["jaeger-spans".into()],
            encoding: "otlp_proto".into(),
            group_id: "jaeger-ingester".into(),
            client_id: "jaeger-ingester".into(),
            initial_offset: "earliest".into(),
            parallelism: 100,
            max_message_bytes: 1024 * 1024,
            commit_interval: Duration::from_secs(1),
            // Jaeger v2's receiver defaults: a crashed ingester's partitions move to the
            // others after 10 s, not librdkafka's 45 s.
            session_timeout: Duration::from_secs(10),
            heartbeat_interval: Duration::from_secs(3),
            auth: KafkaAuthConfig::default(),
        }
    }
}

/// The remote storage gRPC server inside an all-in-one (Jaeger v2's `remote_storage`
/// extension): other processes use this process's store through a `grpc` backend.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RemoteStorageConfig {
    /// Where the API listens; `None` (the default) serves none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<SocketAddr>,
    /// TLS on the API (`extensions.remote_storage.tls`); with a client CA, callers must
    /// present a certificate (mTLS). `None` is plain text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFiles>,
    /// Tenancy by gRPC metadata: every data call must name a tenant, and each tenant
    /// has a store of its own (memory and embedded backends).
    pub multi_tenancy: MultiTenancyConfig,
}

/// The dependencies job run in process by the all-in-one on a cron schedule
/// (`docs/dependencies-job.md`); `jaeger dependencies` takes the same settings as flags.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DependenciesConfig {
    /// Cron expression (`sec min hour dom month dow`, or five crontab fields), UTC;
    /// unset (the default) runs no job in process.
    pub schedule: Option<String>,
    /// Window of each run: the last complete period of this length, aligned on multiples
    /// of it since the epoch (`24h`: the previous UTC day).
    #[serde(with = "humantime_serde_compat")]
    pub lookback: Duration,
    /// DataFusion's memory pool in bytes; unset: unbounded.
    pub memory_limit_bytes: Option<u64>,
}

impl Default for DependenciesConfig {
    fn default() -> Self {
        Self {
            schedule: None,
            lookback: Duration::from_secs(24 * 3600),
            memory_limit_bytes: None,
        }
    }
}

/// What a role runs: each role is a preset over the same [`Config`], applied after the
/// config file, env vars and flags, so a role never opens ports it has no business with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Everything the config enables: receivers, storage, query service and UI.
    AllInOne,
    /// Receivers, remote sampling and the storage writer; no query service.
    Collector,
    /// The query service (HTTP API, UI, gRPC); no receivers, no remote sampling.
    Query,
    /// Reads spans from Kafka into storage: no span receivers, no query service; its
    /// metrics on :8889 and health on :14133 unless set otherwise.
    Ingester,
}

impl Role {
    /// Switches off what the role does not run.
    pub fn apply(self, config: &mut Config) {
        match self {
            Role::AllInOne => {}
            Role::Collector => config.query.enabled = false,
            Role::Query => {
                config.otlp.grpc_endpoint = None;
                config.otlp.http_endpoint = None;
                config.jaeger = JaegerReceiverConfig {
                    grpc_endpoint: None,
                    thrift_http_endpoint: None,
                    thrift_compact_endpoint: None,
                    thrift_binary_endpoint: None,
                    grpc_tls: None,
                    thrift_http_tls: None,
                };
                config.zipkin.endpoint = None;
                config.sampling.http_endpoint = None;
                config.sampling.grpc_endpoint = None;
                config.query.enabled = true;
            }
            Role::Ingester => {
                Role::Query.apply(config);
                config.query.enabled = false;
                config.remote_storage.endpoint = None;
                config.kafka.exporter = None;
                config.kafka.receiver.get_or_insert_with(Default::default);
                let d = AdminConfig::default();
                // Beside a collector on the same host (Jaeger's ports for the ingester).
                if config.admin.metrics_endpoint == d.metrics_endpoint {
                    config.admin.metrics_endpoint = addr(8889);
                }
                if config.admin.health_endpoint == d.health_endpoint {
                    config.admin.health_endpoint = Some(addr(14133));
                }
                if config.admin.http_endpoint == d.http_endpoint {
                    config.admin.http_endpoint = Some(addr(14270));
                }
                if config.admin.expvar_endpoint == d.expvar_endpoint {
                    config.admin.expvar_endpoint = None;
                }
            }
        }
    }
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], port))
}

/// The default data directory of the embedded store.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("jaeger-rs");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".local/share/jaeger-rs");
    }
    PathBuf::from("jaeger-data")
}

/// Durations as Go writes them (`72h`, `1m30s`, `500ms`, `0s`).
pub mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map_err(serde::de::Error::custom)
    }

    /// Go's `time.ParseDuration` for non-negative values: `1h2m`, `1.5s`, `300ms`,
    /// `10us`/`µs`/`μs`, `5ns`; a bare `0` is allowed.
    pub fn parse_duration(s: &str) -> Result<Duration, String> {
        let nanos = super::parse_go_duration_nanos(s)?;
        if nanos < 0 {
            return Err(format!("negative duration {s:?}"));
        }
        Ok(Duration::from_nanos(nanos as u64))
    }

    pub fn format_duration(d: Duration) -> String {
        super::format_go_duration(d.as_nanos() as i64)
    }
}

/// Parses a Go duration string into signed nanoseconds; errors use Go's wording.
pub fn parse_go_duration_nanos(input: &str) -> Result<i64, String> {
    let err = || format!("time: invalid duration \"{input}\"");
    let mut s = input;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err());
    }
    let mut total: f64 = 0.0;
    while !s.is_empty() {
        let num_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        if num_end == 0 {
            return Err(err());
        }
        let num: f64 = s[..num_end].parse().map_err(|_| err())?;
        s = &s[num_end..];
        let unit_end = s
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(s.len());
        let unit = &s[..unit_end];
        s = &s[unit_end..];
        let mult = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => return Err(format!("time: missing unit in duration \"{input}\"")),
            other => {
                return Err(format!(
                    "time: unknown unit \"{other}\" in duration \"{input}\""
                ));
            }
        };
        total += num * mult;
    }
    if total > i64::MAX as f64 {
        return Err(err());
    }
    let n = total.round() as i64;
    Ok(if neg { -n } else { n })
}

/// Go's `time.Duration.String()`.
pub fn format_go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".into();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    let frac = |v: u64, unit: u64, prec: usize| -> String {
        let whole = v / unit;
        let rem = v % unit;
        if rem == 0 {
            whole.to_string()
        } else {
            let s = format!("{rem:0prec$}");
            format!("{whole}.{}", s.trim_end_matches('0'))
        }
    };
    if u < 1_000 {
        return format!("{sign}{u}ns");
    }
    if u < 1_000_000 {
        return format!("{sign}{}µs", frac(u, 1_000, 3));
    }
    if u < 1_000_000_000 {
        return format!("{sign}{}ms", frac(u, 1_000_000, 6));
    }
    let h = u / 3_600_000_000_000;
    let rem = u % 3_600_000_000_000;
    let m = rem / 60_000_000_000;
    let sec_ns = rem % 60_000_000_000;
    let secs = frac(sec_ns, 1_000_000_000, 9);
    if h > 0 {
        format!("{sign}{h}h{m}m{secs}s")
    } else if m > 0 {
        format!("{sign}{m}m{secs}s")
    } else {
        format!("{sign}{secs}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_duration_round_trip() {
        assert_eq!(format_go_duration(35_000_000), "35ms");
        assert_eq!(format_go_duration(-45_000_000), "-45ms");
        assert_eq!(format_go_duration(1_500_000), "1.5ms");
        assert_eq!(format_go_duration(500_000), "500µs");
        assert_eq!(format_go_duration(250), "250ns");
        assert_eq!(format_go_duration(1_500_000_000), "1.5s");
        assert_eq!(format_go_duration(90_000_000_000), "1m30s");
        assert_eq!(format_go_duration(7_200_000_000_000), "2h0m0s");
        assert_eq!(parse_go_duration_nanos("1h2m").unwrap(), 3_720_000_000_000);
        assert_eq!(parse_go_duration_nanos("1.5ms").unwrap(), 1_500_000);
        assert_eq!(parse_go_duration_nanos("10µs").unwrap(), 10_000);
        assert_eq!(parse_go_duration_nanos("0").unwrap(), 0);
        assert!(parse_go_duration_nanos("10").is_err());
        assert!(parse_go_duration_nanos("abc").is_err());
        assert!(parse_go_duration_nanos("").is_err());
    }

    #[test]
    fn roles_are_presets() {
        let mut c = Config::default();
        Role::AllInOne.apply(&mut c);
        assert_eq!(c, Config::default());
        Role::Collector.apply(&mut c);
        assert!(!c.query.enabled);
        assert!(c.otlp.grpc_endpoint.is_some() && c.zipkin.endpoint.is_some());
        let mut c = Config::default();
        Role::Query.apply(&mut c);
        assert!(c.query.enabled);
        assert_eq!((c.otlp.grpc_endpoint, c.otlp.http_endpoint), (None, None));
        assert_eq!(c.jaeger.grpc_endpoint, None);
        assert_eq!(c.jaeger.thrift_compact_endpoint, None);
        assert_eq!(c.zipkin.endpoint, None);
        assert_eq!(c.sampling.http_endpoint, None);
        // Admin ports stay: every role answers probes and scrapes.
        assert_eq!(c.admin, AdminConfig::default());
    }

    #[test]
    fn defaults_fit_jaeger_ports() {
        let c = Config::default();
        let port = |a: Option<SocketAddr>| a.map(|a| a.port());
        assert_eq!(port(c.otlp.grpc_endpoint), Some(4317));
        assert_eq!(port(c.otlp.http_endpoint), Some(4318));
        assert_eq!(c.query.http_endpoint.port(), 16686);
        assert!(c.query.enabled);
        assert_eq!(port(c.admin.health_endpoint), Some(13133));
        assert_eq!(c.admin.metrics_endpoint.port(), 8888);
        assert_eq!(port(c.admin.expvar_endpoint), Some(2777));
        assert_eq!(port(c.admin.http_endpoint), Some(14269));
        assert_eq!(c.otlp.max_request_body_bytes, 20 * 1024 * 1024);
    }
}
