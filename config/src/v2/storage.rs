//! `extensions.jaeger_storage`: named trace backends and metric backends.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::common::{
    AuthenticatorRef, GoDuration, GrpcKeepaliveClient, MultiTenancy, StringList, TlsClientConfig,
    present,
};

/// `extensions.jaeger_storage`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JaegerStorageExtension {
    /// Trace storages by name; `jaeger_query.storage.traces` and the storage exporter's
    /// `trace_storage` refer to these names.
    pub backends: BTreeMap<String, TraceBackend>,
    /// Metric storages by name (SPM); `jaeger_query.storage.metrics` refers to these.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metric_backends: BTreeMap<String, MetricBackend>,
}

/// The kind of a trace backend: exactly one key of [`TraceBackend`] must be set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendKind {
    Memory,
    Badger,
    Cassandra,
    Elasticsearch,
    Opensearch,
    Grpc,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Memory => "memory",
            BackendKind::Badger => "badger",
            BackendKind::Cassandra => "cassandra",
            BackendKind::Elasticsearch => "elasticsearch",
            BackendKind::Opensearch => "opensearch",
            BackendKind::Grpc => "grpc",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One named trace backend (`jaeger_storage.backends.<name>`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceBackend {
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub memory: Option<MemoryBackend>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub badger: Option<BadgerBackend>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub cassandra: Option<CassandraBackend>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub elasticsearch: Option<ElasticsearchBackend>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub opensearch: Option<ElasticsearchBackend>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GrpcBackend>,
}

impl TraceBackend {
    /// Every kind that is set; a valid backend has exactly one.
    pub fn kinds(&self) -> Vec<BackendKind> {
        let mut out = Vec::new();
        if self.memory.is_some() {
            out.push(BackendKind::Memory);
        }
        if self.badger.is_some() {
            out.push(BackendKind::Badger);
        }
        if self.cassandra.is_some() {
            out.push(BackendKind::Cassandra);
        }
        if self.elasticsearch.is_some() {
            out.push(BackendKind::Elasticsearch);
        }
        if self.opensearch.is_some() {
            out.push(BackendKind::Opensearch);
        }
        if self.grpc.is_some() {
            out.push(BackendKind::Grpc);
        }
        out
    }

    /// The single kind, once validated.
    pub fn kind(&self) -> Option<BackendKind> {
        match self.kinds().as_slice() {
            [k] => Some(*k),
            _ => None,
        }
    }
}

/// `backends.<name>.memory`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MemoryBackend {
    /// Traces kept (per tenant); the oldest is evicted first. Must be > 0.
    pub max_traces: u64,
}

impl Default for MemoryBackend {
    fn default() -> Self {
        // Jaeger's default when the block is present.
        Self {
            max_traces: 1_000_000,
        }
    }
}

/// `backends.<name>.badger`, served by our embedded store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BadgerBackend {
    /// Keep data in a temporary directory that does not outlive the process.
    pub ephemeral: bool,
    pub directories: BadgerDirectories,
    pub ttl: BadgerTtl,
    /// Sync every write to disk before acknowledging it.
    pub consistency: bool,
    pub maintenance_interval: GoDuration,
    pub metrics_update_interval: GoDuration,
    pub read_only: bool,
}

impl Default for BadgerBackend {
    fn default() -> Self {
        Self {
            ephemeral: true,
            directories: BadgerDirectories::default(),
            ttl: BadgerTtl::default(),
            consistency: false,
            maintenance_interval: GoDuration::from_secs(300),
            metrics_update_interval: GoDuration::from_secs(10),
            read_only: false,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BadgerDirectories {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keys: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub values: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BadgerTtl {
    pub spans: GoDuration,
}

impl Default for BadgerTtl {
    fn default() -> Self {
        Self {
            spans: GoDuration::from_secs(72 * 3600),
        }
    }
}

/// `backends.<name>.cassandra` (storage spec §1.11).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CassandraBackend {
    pub schema: CassandraSchema,
    pub connection: CassandraConnection,
    pub query: CassandraQuery,
    pub span_store_write_cache_ttl: GoDuration,
    pub index: CassandraIndex,
}

impl Default for CassandraBackend {
    fn default() -> Self {
        Self {
            schema: CassandraSchema::default(),
            connection: CassandraConnection::default(),
            query: CassandraQuery::default(),
            span_store_write_cache_ttl: GoDuration::from_secs(12 * 3600),
            index: CassandraIndex::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CassandraSchema {
    pub keyspace: String,
    /// Create the keyspace and tables at start-up.
    pub create: bool,
    pub datacenter: String,
    pub trace_ttl: GoDuration,
    pub dependencies_ttl: GoDuration,
    pub replication_factor: u32,
    pub compaction_window: GoDuration,
    pub disable_compression: bool,
}

impl Default for CassandraSchema {
    fn default() -> Self {
        Self {
            keyspace: "jaeger_dc1".into(),
            create: false,
            datacenter: "dc1".into(),
            trace_ttl: GoDuration::from_secs(48 * 3600),
            dependencies_ttl: GoDuration::from_secs(48 * 3600),
            replication_factor: 1,
            compaction_window: GoDuration::from_secs(2 * 3600),
            disable_compression: false,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CassandraConnection {
    /// Hosts, `host` or `host:port`; a comma-separated string is accepted.
    pub servers: StringList,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_dc: Option<String>,
    pub disable_auto_discovery: bool,
    pub connections_per_host: u32,
    pub reconnect_interval: GoDuration,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub socket_keep_alive: Option<GoDuration>,
    /// Connect timeout.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    pub proto_version: u32,
    pub auth: CassandraAuth,
    /// TLS is ON unless `insecure: true`.
    pub tls: TlsClientConfig,
}

impl Default for CassandraConnection {
    fn default() -> Self {
        Self {
            servers: StringList(vec!["127.0.0.1".into()]),
            port: 9042,
            local_dc: None,
            disable_auto_discovery: false,
            connections_per_host: 2,
            reconnect_interval: GoDuration::from_secs(60),
            socket_keep_alive: None,
            timeout: None,
            proto_version: 4,
            auth: CassandraAuth::default(),
            tls: TlsClientConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CassandraAuth {
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub basic: Option<BasicAuth>,
}

/// Username and password (Cassandra; `password` is a secret).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BasicAuth {
    pub username: String,
    pub password: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_authenticators: Vec<String>,
}

/// gocql consistency names accepted by `query.consistency`.
pub const CASSANDRA_CONSISTENCIES: &[&str] = &[
    "ANY",
    "ONE",
    "TWO",
    "THREE",
    "QUORUM",
    "ALL",
    "LOCAL_QUORUM",
    "EACH_QUORUM",
    "LOCAL_ONE",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CassandraQuery {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    pub max_retry_attempts: u32,
    /// One of [`CASSANDRA_CONSISTENCIES`]; default `LOCAL_ONE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consistency: Option<String>,
}

impl Default for CassandraQuery {
    fn default() -> Self {
        Self {
            timeout: None,
            max_retry_attempts: 3,
            consistency: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CassandraIndex {
    pub logs: bool,
    pub tags: bool,
    pub process_tags: bool,
    /// Tag keys not to index (comma list); excludes `tag_whitelist`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_blacklist: Option<StringList>,
    /// The only tag keys to index (comma list); excludes `tag_blacklist`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag_whitelist: Option<StringList>,
}

impl Default for CassandraIndex {
    fn default() -> Self {
        Self {
            logs: true,
            tags: true,
            process_tags: true,
            tag_blacklist: None,
            tag_whitelist: None,
        }
    }
}

/// `backends.<name>.elasticsearch` or `.opensearch` (storage spec §2.11).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ElasticsearchBackend {
    pub server_urls: StringList,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_read_clusters: Vec<String>,
    /// Major version of the server; 0 detects it.
    pub version: u32,
    pub log_level: String,
    pub auth: EsAuth,
    pub tls: TlsClientConfig,
    pub sniffing: EsSniffing,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_timeout: Option<GoDuration>,
    pub http_compression: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_headers: BTreeMap<String, String>,
    pub bulk_processing: EsBulkProcessing,
    /// `async` (default) or `sync`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_mode: Option<String>,
    /// `fail` (default) or `drop`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poison_pill_handling: Option<String>,
    pub indices: EsIndices,
    /// Shorthand for `indices.index_prefix` (the form the deployment guide shows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index_prefix: Option<String>,
    pub use_aliases: bool,
    pub use_ilm: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ilm_policy_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_read_alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub span_write_alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_read_alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_write_alias: Option<String>,
    /// Create index templates at start-up (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_mappings: Option<bool>,
    /// Older spelling of `create_mappings` (`--es.create-index-templates`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub create_index_templates: Option<bool>,
    pub max_doc_count: u64,
    pub max_span_age: GoDuration,
    pub max_trace_duration: GoDuration,
    /// 0 means 12h.
    pub service_cache_ttl: GoDuration,
    pub adaptive_sampling_lookback: GoDuration,
    pub tags_as_fields: EsTagsAsFields,
}

impl Default for ElasticsearchBackend {
    fn default() -> Self {
        Self {
            server_urls: StringList(vec!["http://127.0.0.1:9200".into()]),
            remote_read_clusters: Vec::new(),
            version: 0,
            log_level: "error".into(),
            auth: EsAuth::default(),
            tls: TlsClientConfig::default(),
            sniffing: EsSniffing::default(),
            query_timeout: None,
            http_compression: true,
            custom_headers: BTreeMap::new(),
            bulk_processing: EsBulkProcessing::default(),
            write_mode: None,
            poison_pill_handling: None,
            indices: EsIndices::default(),
            index_prefix: None,
            use_aliases: false,
            use_ilm: false,
            ilm_policy_name: None,
            span_read_alias: None,
            span_write_alias: None,
            service_read_alias: None,
            service_write_alias: None,
            create_mappings: None,
            create_index_templates: None,
            max_doc_count: 10_000,
            max_span_age: GoDuration::from_secs(72 * 3600),
            max_trace_duration: GoDuration::from_secs(24 * 3600),
            service_cache_ttl: GoDuration::default(),
            adaptive_sampling_lookback: GoDuration::from_secs(72 * 3600),
            tags_as_fields: EsTagsAsFields::default(),
        }
    }
}

impl ElasticsearchBackend {
    /// The index prefix from either spelling (validation rejects two different ones).
    pub fn effective_index_prefix(&self) -> &str {
        self.index_prefix
            .as_deref()
            .unwrap_or(&self.indices.index_prefix)
    }

    /// Whether index templates are created at start-up.
    pub fn effective_create_mappings(&self) -> bool {
        self.create_mappings
            .or(self.create_index_templates)
            .unwrap_or(true)
    }
}

/// At most one of `basic`, `bearer_token`, `api_key`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsAuth {
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub basic: Option<EsBasicAuth>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<EsTokenAuth>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub api_key: Option<EsTokenAuth>,
    /// Id of an OTel authenticator extension.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authenticator: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsBasicAuth {
    pub username: String,
    /// A secret.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_interval: Option<GoDuration>,
}

/// A token read from a file or taken from the incoming request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsTokenAuth {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_path: Option<String>,
    pub from_context: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reload_interval: Option<GoDuration>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsSniffing {
    pub enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsBulkProcessing {
    pub max_bytes: u64,
    pub flush_interval: GoDuration,
    pub workers: u32,
}

impl Default for EsBulkProcessing {
    fn default() -> Self {
        Self {
            max_bytes: 5_000_000,
            flush_interval: GoDuration::from_millis(200),
            workers: 1,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsIndices {
    /// `<prefix>-jaeger-span-…`; empty for none.
    pub index_prefix: String,
    pub spans: EsIndexOptions,
    pub services: EsIndexOptions,
    pub dependencies: EsIndexOptions,
    pub sampling: EsIndexOptions,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsIndexOptions {
    pub shards: u32,
    pub replicas: u32,
    /// Template priority, ES 8+ only.
    pub priority: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<EsRotation>,
    /// Deprecated spelling of `rotation.periodic.date_layout`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_layout: Option<String>,
    /// Deprecated spelling of `rotation.periodic.rollover_frequency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollover_frequency: Option<String>,
}

impl Default for EsIndexOptions {
    fn default() -> Self {
        Self {
            shards: 5,
            replicas: 1,
            priority: 0,
            rotation: None,
            date_layout: None,
            rollover_frequency: None,
        }
    }
}

/// At most one of the three.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsRotation {
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub periodic: Option<EsPeriodicRotation>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub manual_rollover: Option<EsAliases>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub auto_rollover: Option<EsAliases>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsPeriodicRotation {
    /// Go date layout, e.g. `2006-01-02`.
    pub date_layout: String,
    /// `day` or `hour`.
    pub rollover_frequency: String,
}

impl Default for EsPeriodicRotation {
    fn default() -> Self {
        Self {
            date_layout: "2006-01-02".into(),
            rollover_frequency: "day".into(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsAliases {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_alias: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EsTagsAsFields {
    pub all: bool,
    pub dot_replacement: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include: Option<StringList>,
}

impl Default for EsTagsAsFields {
    fn default() -> Self {
        Self {
            all: false,
            dot_replacement: "@".into(),
            config_file: None,
            include: None,
        }
    }
}

/// `backends.<name>.grpc`: a remote storage (jaeger-remote-storage or a plugin).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcBackend {
    pub endpoint: String,
    /// TLS is ON unless `insecure: true`.
    pub tls: TlsClientConfig,
    pub timeout: GoDuration,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keepalive: Option<GrpcKeepaliveClient>,
    pub wait_for_ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balancer_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authority: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_buffer_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write_buffer_size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthenticatorRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_recv_msg_size_mib: Option<u64>,
    /// A separate OTLP endpoint for writes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub writer: Option<GrpcWriter>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_tenancy: Option<MultiTenancy>,
}

impl Default for GrpcBackend {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            tls: TlsClientConfig::default(),
            timeout: GoDuration::from_secs(5),
            headers: BTreeMap::new(),
            compression: None,
            keepalive: None,
            wait_for_ready: false,
            balancer_name: None,
            authority: None,
            read_buffer_size: None,
            write_buffer_size: None,
            auth: None,
            max_recv_msg_size_mib: None,
            writer: None,
            multi_tenancy: None,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpcWriter {
    pub endpoint: String,
    pub tls: TlsClientConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout: Option<GoDuration>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// One named metric backend (`jaeger_storage.metric_backends.<name>`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricBackend {
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub prometheus: Option<PrometheusMetricBackend>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub elasticsearch: Option<ElasticsearchBackend>,
    #[serde(deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub opensearch: Option<ElasticsearchBackend>,
}

impl MetricBackend {
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.prometheus.is_some() {
            out.push("prometheus");
        }
        if self.elasticsearch.is_some() {
            out.push("elasticsearch");
        }
        if self.opensearch.is_some() {
            out.push("opensearch");
        }
        out
    }
}

/// `metric_backends.<name>.prometheus`: where SPM reads span metrics.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrometheusMetricBackend {
    /// Prometheus server URL.
    pub endpoint: String,
    pub connect_timeout: GoDuration,
    pub tls: TlsClientConfig,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file_path: Option<String>,
    pub token_override_from_context: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric_namespace: Option<String>,
    /// `ms` or `s`.
    pub latency_unit: String,
    pub normalize_calls: bool,
    pub normalize_duration: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub extra_query_params: BTreeMap<String, String>,
}

impl Default for PrometheusMetricBackend {
    fn default() -> Self {
        Self {
            endpoint: "http://localhost:9090".into(),
            connect_timeout: GoDuration::from_secs(30),
            tls: TlsClientConfig {
                insecure: true,
                ..TlsClientConfig::default()
            },
            token_file_path: None,
            token_override_from_context: true,
            metric_namespace: None,
            latency_unit: "ms".into(),
            normalize_calls: false,
            normalize_duration: false,
            extra_query_params: BTreeMap::new(),
        }
    }
}
