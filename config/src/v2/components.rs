//! `receivers`, `processors`, `exporters` and `connectors`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::common::{
    AuthenticatorRef, GoDuration, GrpcKeepaliveClient, GrpcServerConfig, HttpServerConfig,
    QueueSettings, RetryConfig, StringList, TlsClientConfig, TlsServerConfig, http_server_struct,
    present,
};
use super::model::component_enum;

component_enum! {
    /// One entry of `receivers`.
    pub enum Receiver: "receiver" {
        "otlp" => Otlp(OtlpReceiver),
        "jaeger" => Jaeger(JaegerReceiver),
        "zipkin" => Zipkin(ZipkinReceiver),
        "kafka" => Kafka(KafkaReceiver),
        "nop" => Nop(Empty),
    }
}

component_enum! {
    /// One entry of `processors`.
    pub enum Processor: "processor" {
        "batch" => Batch(BatchProcessor),
        "memory_limiter" => MemoryLimiter(MemoryLimiterProcessor),
        "adaptive_sampling" => AdaptiveSampling(Empty),
        "tail_sampling" => TailSampling(serde_yaml::Value),
        "attributes" => Attributes(serde_yaml::Value),
        "filter" => Filter(serde_yaml::Value),
    }
}

component_enum! {
    /// One entry of `exporters`.
    pub enum Exporter: "exporter" {
        "jaeger_storage_exporter" => JaegerStorage(StorageExporter),
        "kafka" => Kafka(KafkaExporter),
        "otlp" => Otlp(OtlpExporter),
        "otlphttp" => OtlpHttp(OtlpHttpExporter),
        "prometheus" => Prometheus(PrometheusExporter),
        "debug" => Debug(DebugExporter),
        "nop" => Nop(Empty),
    }
}

component_enum! {
    /// One entry of `connectors`.
    pub enum Connector: "connector" {
        "forward" => Forward(Empty),
        "spanmetrics" => SpanMetrics(serde_yaml::Value),
    }
}

/// A component without settings.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `receivers.otlp`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpReceiver {
    pub protocols: OtlpProtocols,
}

/// A protocol runs when its key is present, even empty.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpProtocols {
    /// Default endpoint `localhost:4317`, 4 MiB messages.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcServerConfig>,
    /// Default endpoint `localhost:4318`, 20 MiB bodies.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub http: Option<OtlpHttpServer>,
}

http_server_struct! {
    /// `receivers.otlp.protocols.http`.
    pub struct OtlpHttpServer {
        #[serde(skip_serializing_if = "Option::is_none")]
        pub traces_url_path: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub metrics_url_path: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        pub logs_url_path: Option<String>,
    }
}

/// `receivers.jaeger`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JaegerReceiver {
    pub protocols: JaegerProtocols,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JaegerProtocols {
    /// model.proto `PostSpans`, default `localhost:14250`.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcServerConfig>,
    /// Thrift binary over HTTP, default `localhost:14268`.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub thrift_http: Option<HttpServerConfig>,
    /// Agent UDP compact Thrift, default `localhost:6831`.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub thrift_compact: Option<UdpServerConfig>,
    /// Agent UDP binary Thrift, default `localhost:6832`.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub thrift_binary: Option<UdpServerConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UdpServerConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Packets waiting for a worker (default 1000).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue_size: Option<u64>,
    /// Default 65000.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_packet_size: Option<u64>,
    /// Default 10.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_buffer_size: Option<u64>,
}

http_server_struct! {
    /// `receivers.zipkin` (default endpoint `localhost:9411`).
    pub struct ZipkinReceiver {
        /// Turn string tags into typed attributes.
        pub parse_string_tags: bool,
    }
}

/// One signal's topic and encoding (Kafka receiver and exporter).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSignal {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Receiver only: several topics (or regexes starting with `^`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topics: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_topics: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
}

/// Trace encodings of the Kafka exporter; the receiver also reads `zipkin_thrift`.
pub const KAFKA_TRACE_ENCODINGS: &[&str] = &[
    "otlp_proto",
    "otlp_json",
    "jaeger_proto",
    "jaeger_json",
    "zipkin_proto",
    "zipkin_json",
];

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaAuth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plain_text: Option<KafkaPlainText>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sasl: Option<KafkaSasl>,
    /// Deprecated place of the TLS settings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsClientConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kerberos: Option<KafkaKerberos>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaPlainText {
    pub username: String,
    pub password: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaSasl {
    pub username: String,
    pub password: String,
    /// `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, `AWS_MSK_IAM_OAUTHBEARER`.
    pub mechanism: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aws_msk: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaKerberos {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub realm: Option<String>,
    pub use_keytab: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keytab_file: Option<String>,
    pub disable_fast_negotiation: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaMetadata {
    pub full: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_interval: Option<GoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry: Option<KafkaMetadataRetry>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaMetadataRetry {
    pub max: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backoff: Option<GoDuration>,
}

/// `receivers.kafka`: what the ingester reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaReceiver {
    /// `host:port` list; a comma-separated string is accepted.
    pub brokers: StringList,
    /// Deprecated: use `traces.topic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Deprecated: use `traces.encoding`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traces: Option<KafkaSignal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<KafkaSignal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<KafkaSignal>,
    pub group_id: String,
    pub client_id: String,
    /// `latest` or `earliest`.
    pub initial_offset: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    pub resolve_canonical_bootstrap_servers_only: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session_timeout: Option<GoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heartbeat_interval: Option<GoDuration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_rebalance_strategy: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_fetch_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_fetch_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_fetch_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_fetch_wait: Option<GoDuration>,
    pub autocommit: KafkaAutocommit,
    pub message_marking: KafkaMessageMarking,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_extraction: Option<KafkaHeaderExtraction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_backoff: Option<RetryConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsClientConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<KafkaAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<KafkaMetadata>,
}

impl Default for KafkaReceiver {
    fn default() -> Self {
        Self {
            brokers: StringList(vec!["localhost:9092".into()]),
            topic: None,
            encoding: None,
            traces: None,
            metrics: None,
            logs: None,
            group_id: "otel-collector".into(),
            client_id: "otel-collector".into(),
            initial_offset: "latest".into(),
            protocol_version: None,
            resolve_canonical_bootstrap_servers_only: false,
            session_timeout: None,
            heartbeat_interval: None,
            group_rebalance_strategy: None,
            group_instance_id: None,
            min_fetch_size: None,
            default_fetch_size: None,
            max_fetch_size: None,
            max_fetch_wait: None,
            autocommit: KafkaAutocommit::default(),
            message_marking: KafkaMessageMarking::default(),
            header_extraction: None,
            error_backoff: None,
            tls: None,
            auth: None,
            metadata: None,
        }
    }
}

impl KafkaReceiver {
    /// The topics spans are read from (default `otlp_spans`).
    pub fn trace_topics(&self) -> Vec<String> {
        if let Some(t) = &self.traces {
            if let Some(ts) = &t.topics
                && !ts.is_empty()
            {
                return ts.clone();
            }
            if let Some(t) = &t.topic {
                return vec![t.clone()];
            }
        }
        vec![self.topic.clone().unwrap_or_else(|| "otlp_spans".into())]
    }

    /// The span encoding (default `otlp_proto`).
    pub fn trace_encoding(&self) -> &str {
        self.traces
            .as_ref()
            .and_then(|t| t.encoding.as_deref())
            .or(self.encoding.as_deref())
            .unwrap_or("otlp_proto")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaAutocommit {
    pub enable: bool,
    pub interval: GoDuration,
}

impl Default for KafkaAutocommit {
    fn default() -> Self {
        Self {
            enable: true,
            interval: GoDuration::from_secs(1),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaMessageMarking {
    /// Mark a message consumed only after it was written.
    pub after: bool,
    pub on_error: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaHeaderExtraction {
    pub extract_headers: bool,
    pub headers: Vec<String>,
}

/// `processors.batch`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BatchProcessor {
    /// Flush after this long even if the batch is small.
    pub timeout: GoDuration,
    /// Flush at this many spans.
    pub send_batch_size: u64,
    /// Split batches above this many spans; 0 never splits.
    pub send_batch_max_size: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub metadata_keys: Vec<String>,
    pub metadata_cardinality_limit: u64,
}

impl Default for BatchProcessor {
    fn default() -> Self {
        Self {
            timeout: GoDuration::from_millis(200),
            send_batch_size: 8192,
            send_batch_max_size: 0,
            metadata_keys: Vec::new(),
            metadata_cardinality_limit: 1000,
        }
    }
}

/// `processors.memory_limiter`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryLimiterProcessor {
    /// Required, > 0.
    pub check_interval: GoDuration,
    pub limit_mib: u64,
    pub spike_limit_mib: u64,
    pub limit_percentage: u32,
    pub spike_limit_percentage: u32,
}

/// `exporters.jaeger_storage_exporter`: writes spans to a `jaeger_storage` backend.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageExporter {
    /// Required: a name in `jaeger_storage.backends`.
    pub trace_storage: String,
    /// Unset: each batch is written synchronously.
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    /// Unset: no retries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_on_failure: Option<RetryConfig>,
}

/// `exporters.kafka`: what the collector writes to Kafka.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaExporter {
    pub brokers: StringList,
    /// Deprecated: use `traces.topic`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub topic: Option<String>,
    /// Deprecated: use `traces.encoding`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traces: Option<KafkaSignal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics: Option<KafkaSignal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs: Option<KafkaSignal>,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol_version: Option<String>,
    pub resolve_canonical_bootstrap_servers_only: bool,
    /// Key OTLP messages by trace id.
    pub partition_traces_by_id: bool,
    pub partition_metrics_by_resource_attributes: bool,
    pub partition_logs_by_resource_attributes: bool,
    pub timeout: GoDuration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_on_failure: Option<RetryConfig>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub sending_queue: Option<QueueSettings>,
    pub producer: KafkaProducer,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsClientConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<KafkaAuth>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<KafkaMetadata>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include_metadata_keys: Vec<String>,
}

impl Default for KafkaExporter {
    fn default() -> Self {
        Self {
            brokers: StringList(vec!["localhost:9092".into()]),
            topic: None,
            encoding: None,
            traces: None,
            metrics: None,
            logs: None,
            client_id: "otel-collector".into(),
            protocol_version: None,
            resolve_canonical_bootstrap_servers_only: false,
            partition_traces_by_id: false,
            partition_metrics_by_resource_attributes: false,
            partition_logs_by_resource_attributes: false,
            timeout: GoDuration::from_secs(5),
            retry_on_failure: None,
            sending_queue: None,
            producer: KafkaProducer::default(),
            tls: None,
            auth: None,
            metadata: None,
            include_metadata_keys: Vec::new(),
        }
    }
}

impl KafkaExporter {
    /// The topic spans are written to (default `otlp_spans`).
    pub fn trace_topic(&self) -> &str {
        self.traces
            .as_ref()
            .and_then(|t| t.topic.as_deref())
            .or(self.topic.as_deref())
            .unwrap_or("otlp_spans")
    }

    /// The span encoding (default `otlp_proto`).
    pub fn trace_encoding(&self) -> &str {
        self.traces
            .as_ref()
            .and_then(|t| t.encoding.as_deref())
            .or(self.encoding.as_deref())
            .unwrap_or("otlp_proto")
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaProducer {
    pub max_message_bytes: u64,
    /// 0 none, 1 leader, -1 all.
    pub required_acks: i32,
    /// `none`, `gzip`, `snappy`, `lz4`, `zstd`.
    pub compression: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression_params: Option<KafkaCompressionParams>,
    pub flush_max_messages: u64,
    pub allow_auto_topic_creation: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub linger: Option<GoDuration>,
}

impl Default for KafkaProducer {
    fn default() -> Self {
        Self {
            max_message_bytes: 1_000_000,
            required_acks: 1,
            compression: "none".into(),
            compression_params: None,
            flush_max_messages: 0,
            allow_auto_topic_creation: true,
            linger: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaCompressionParams {
    pub level: i32,
}

/// `exporters.otlp`: forward spans to another OTLP gRPC endpoint.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpExporter {
    pub endpoint: String,
    pub tls: TlsClientConfig,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub sending_queue: Option<QueueSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_on_failure: Option<RetryConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balancer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<GrpcKeepaliveClient>,
    pub wait_for_ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_buffer_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_buffer_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthenticatorRef>,
}

/// `exporters.otlphttp`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpHttpExporter {
    pub endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub traces_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_endpoint: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logs_endpoint: Option<String>,
    pub tls: TlsClientConfig,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    /// `proto` or `json`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub sending_queue: Option<QueueSettings>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_on_failure: Option<RetryConfig>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthenticatorRef>,
}

/// `exporters.prometheus`: serves span metrics (SPM) for Prometheus to scrape.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusExporter {
    pub endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub const_labels: BTreeMap<String, String>,
    pub send_timestamps: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_expiration: Option<GoDuration>,
    pub enable_open_metrics: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_metric_suffixes: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_to_telemetry_conversion: Option<ResourceToTelemetry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsServerConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResourceToTelemetry {
    pub enabled: bool,
}

/// `exporters.debug`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DebugExporter {
    /// `basic`, `normal` or `detailed`.
    pub verbosity: String,
    pub sampling_initial: u64,
    pub sampling_thereafter: u64,
    pub use_internal_logger: bool,
}

impl Default for DebugExporter {
    fn default() -> Self {
        Self {
            verbosity: "basic".into(),
            sampling_initial: 2,
            sampling_thereafter: 1,
            use_internal_logger: true,
        }
    }
}
