//! Command line: roles as subcommands, Jaeger v1-style flags (and their env vars) on top
//! of the config defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use jaeger_config::{Config, StorageKind, humantime_serde_compat::parse_duration};

#[derive(Debug, Parser)]
#[command(
    name = "jaeger",
    version,
    about = "A Jaeger-compatible tracing backend. With no subcommand it runs the all-in-one."
)]
pub struct Cli {
    #[command(subcommand)]
    pub role: Option<Role>,
    #[command(flatten)]
    pub flags: Flags,
}

#[derive(Debug, Subcommand)]
pub enum Role {
    /// Receivers, query service, UI and the embedded store in one process (the default).
    AllInOne,
    /// Receivers, remote sampling and the storage writer; no query service.
    Collector,
    /// Query service: HTTP API, UI and gRPC; no receivers.
    Query,
    /// Reads spans from Kafka (--kafka.consumer.*) and writes them to storage; health
    /// on :14133, metrics (with consumer lag) on :8889.
    Ingester,
    /// Print the effective configuration as YAML and exit.
    PrintConfig,
    /// Derive the service dependency links of a time window from the stored spans and
    /// write them back (once, or on --schedule). See docs/dependencies-job.md.
    Dependencies(crate::dependencies::DependenciesArgs),
    /// Serve the configured storage over Jaeger's remote storage gRPC API (:17271), so
    /// that other processes can use it through the `grpc` backend.
    RemoteStorage(crate::remote_storage::RemoteStorageArgs),
    /// Create or upgrade a Cassandra keyspace with Jaeger's v004 schema, or print its CQL
    /// (--dry-run). See docs/storage-cassandra.md.
    CassandraSchema(crate::cassandra_schema::SchemaArgs),
    /// Delete Jaeger's Elasticsearch/OpenSearch indices older than NUM_OF_DAYS, as
    /// jaeger-es-index-cleaner. See docs/storage-elasticsearch.md.
    EsIndexCleaner(crate::es_tools::CleanerArgs),
    /// Manage rollover indices and their read/write aliases (init, rollover, lookback),
    /// as jaeger-es-rollover. See docs/storage-elasticsearch.md.
    EsRollover(crate::es_tools::RolloverArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageFlag {
    /// The embedded persistent store (default).
    Embedded,
    /// Jaeger's name for its embedded store; served by ours.
    Badger,
    /// In memory, bounded by --memory.max-traces; lost on restart.
    Memory,
    /// A remote storage server (`jaeger remote-storage`) at --grpc-storage.server.
    Grpc,
    /// No storage: the collector writes spans to Kafka (--kafka.producer.*).
    Kafka,
}

/// Flags override the defaults and the config file; each also reads the env var Jaeger v1
/// used, where it had one.
#[derive(Debug, Args, Default)]
pub struct Flags {
    /// Jaeger v2 configuration file (YAML). Flags and env vars override what it says.
    #[arg(long = "config", env = "JAEGER_CONFIG", global = true)]
    pub config: Option<PathBuf>,

    /// Storage backend.
    #[arg(long = "storage", env = "SPAN_STORAGE_TYPE", value_enum, global = true)]
    pub storage: Option<StorageFlag>,

    /// Directory of the embedded store.
    #[arg(long = "data-dir", env = "JAEGER_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,

    /// How long the embedded store keeps spans (Go duration, e.g. 72h).
    #[arg(
        long = "retention",
        alias = "badger.span-store-ttl",
        env = "JAEGER_RETENTION",
        value_parser = parse_duration,
        global = true
    )]
    pub retention: Option<std::time::Duration>,

    /// fsync every acknowledged write (survives power loss, not just a crash).
    #[arg(long = "embedded.sync-writes", global = true)]
    pub sync_writes: Option<bool>,

    /// Remote storage server (`host:port`) of the `grpc` backend.
    #[arg(
        long = "grpc-storage.server",
        env = "GRPC_STORAGE_SERVER",
        global = true
    )]
    pub grpc_storage_server: Option<String>,

    /// Connect and call timeout of the `grpc` backend (Go duration).
    #[arg(long = "grpc-storage.connection-timeout", env = "GRPC_STORAGE_CONNECTION_TIMEOUT", value_parser = parse_duration, global = true)]
    pub grpc_storage_timeout: Option<std::time::Duration>,

    /// TLS to the remote storage server (Jaeger v1's `--grpc-storage.tls.enabled`).
    #[arg(long = "grpc-storage.tls.enabled", env = "GRPC_STORAGE_TLS_ENABLED", num_args = 0..=1, default_missing_value = "true", global = true)]
    pub grpc_storage_tls: Option<bool>,
    /// PEM CA that signed the remote storage server's certificate.
    #[arg(
        long = "grpc-storage.tls.ca",
        env = "GRPC_STORAGE_TLS_CA",
        global = true
    )]
    pub grpc_storage_tls_ca: Option<String>,
    /// PEM client certificate (for a server that requires one, mTLS).
    #[arg(
        long = "grpc-storage.tls.cert",
        env = "GRPC_STORAGE_TLS_CERT",
        global = true
    )]
    pub grpc_storage_tls_cert: Option<String>,
    /// PEM private key of the client certificate.
    #[arg(
        long = "grpc-storage.tls.key",
        env = "GRPC_STORAGE_TLS_KEY",
        global = true
    )]
    pub grpc_storage_tls_key: Option<String>,
    /// The name the server certificate must carry (default: the server's host).
    #[arg(
        long = "grpc-storage.tls.server-name",
        env = "GRPC_STORAGE_TLS_SERVER_NAME",
        global = true
    )]
    pub grpc_storage_tls_server_name: Option<String>,
    /// Encrypt without verifying the server certificate.
    #[arg(long = "grpc-storage.tls.skip-host-verify", env = "GRPC_STORAGE_TLS_SKIP_HOST_VERIFY", num_args = 0..=1, default_missing_value = "true", global = true)]
    pub grpc_storage_tls_skip_verify: Option<bool>,

    /// Traces kept by the memory backend.
    #[arg(long = "memory.max-traces", env = "MEMORY_MAX_TRACES", global = true)]
    pub max_traces: Option<usize>,

    /// Route prefix of the query service and UI, e.g. /jaeger.
    #[arg(long = "query.base-path", env = "QUERY_BASE_PATH", global = true)]
    pub base_path: Option<String>,

    /// Largest clock-skew correction applied to a span; `0s` disables correction (spans
    /// that need it get a warning).
    #[arg(
        long = "query.max-clock-skew-adjustment",
        env = "QUERY_MAX_CLOCK_SKEW_ADJUSTMENT",
        value_parser = parse_duration,
        global = true
    )]
    pub max_clock_skew_adjust: Option<std::time::Duration>,

    /// Query HTTP address.
    #[arg(long = "query.http-server.host-port", env = "QUERY_HTTP_SERVER_HOST_PORT", value_parser = parse_host_port, global = true)]
    pub query_http: Option<SocketAddr>,

    /// Query gRPC address: api_v2 and api_v3 QueryService (`off` disables it).
    #[arg(long = "query.grpc-server.host-port", env = "QUERY_GRPC_SERVER_HOST_PORT", value_parser = parse_optional_host_port, global = true)]
    pub query_grpc: Option<Listen>,

    /// Directory of another UI build (index.html and static/) to serve instead of the
    /// embedded UI.
    #[arg(long = "query.static-files", env = "QUERY_STATIC_FILES", global = true)]
    pub static_files: Option<PathBuf>,

    /// UI configuration file (.json or .js) injected into index.html.
    #[arg(long = "query.ui-config", env = "QUERY_UI_CONFIG", global = true)]
    pub ui_config: Option<PathBuf>,

    /// Spans returned per trace at most (0: all).
    #[arg(
        long = "query.max-trace-size",
        env = "QUERY_MAX_TRACE_SIZE",
        global = true
    )]
    pub max_trace_size: Option<usize>,

    /// Pass the caller's bearer token on to storage.
    #[arg(long = "query.bearer-token-propagation", env = "QUERY_BEARER_TOKEN_PROPAGATION", num_args = 0..=1, default_missing_value = "true", global = true)]
    pub bearer_token_propagation: Option<bool>,

    /// Run the dependencies job inside the all-in-one on this cron expression (UTC).
    #[arg(
        long = "dependencies.schedule",
        env = "DEPENDENCIES_SCHEDULE",
        global = true
    )]
    pub dependencies_schedule: Option<String>,

    /// Window of each in-process dependencies run: the last complete period of this
    /// length (24h: the previous UTC day).
    #[arg(long = "dependencies.lookback", value_parser = parse_duration, global = true)]
    pub dependencies_lookback: Option<std::time::Duration>,

    /// DataFusion memory pool of the in-process dependencies job (`512MB`).
    #[arg(long = "dependencies.memory-limit", value_parser = crate::dependencies::parse_size, global = true)]
    pub dependencies_memory_limit: Option<u64>,

    /// `Name: value` header added to every query response (repeatable).
    #[arg(
        long = "query.additional-headers",
        env = "QUERY_ADDITIONAL_HEADERS",
        value_delimiter = ',',
        global = true
    )]
    pub additional_headers: Vec<String>,

    /// Origins allowed to call the query API cross-origin (comma-separated; `*` for any).
    #[arg(
        long = "query.cors.allowed-origins",
        env = "QUERY_CORS_ALLOWED_ORIGINS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_allowed_origins: Vec<String>,

    /// Request headers allowed cross-origin besides the defaults (comma-separated).
    #[arg(
        long = "query.cors.allowed-headers",
        env = "QUERY_CORS_ALLOWED_HEADERS",
        value_delimiter = ',',
        global = true
    )]
    pub cors_allowed_headers: Vec<String>,

    /// Require a tenant header on every query request.
    #[arg(long = "multi-tenancy.enabled", env = "MULTI_TENANCY_ENABLED", num_args = 0..=1, default_missing_value = "true", global = true)]
    pub tenancy_enabled: Option<bool>,

    /// The tenant header.
    #[arg(
        long = "multi-tenancy.header",
        env = "MULTI_TENANCY_HEADER",
        global = true
    )]
    pub tenancy_header: Option<String>,

    /// Accepted tenants (comma-separated); empty accepts any.
    #[arg(
        long = "multi-tenancy.tenants",
        env = "MULTI_TENANCY_TENANTS",
        value_delimiter = ',',
        global = true
    )]
    pub tenancy_tenants: Vec<String>,

    /// Archive storage for `POST /api/archive/{id}`: `memory`, or the directory of an
    /// embedded store of its own.
    #[arg(long = "query.archive", env = "QUERY_ARCHIVE", global = true)]
    pub archive: Option<String>,

    /// OTLP gRPC receiver address (`off` disables it).
    #[arg(long = "collector.otlp.grpc.host-port", env = "COLLECTOR_OTLP_GRPC_HOST_PORT", value_parser = parse_optional_host_port, global = true)]
    pub otlp_grpc: Option<Listen>,

    /// OTLP HTTP receiver address (`off` disables it).
    #[arg(long = "collector.otlp.http.host-port", env = "COLLECTOR_OTLP_HTTP_HOST_PORT", value_parser = parse_optional_host_port, global = true)]
    pub otlp_http: Option<Listen>,

    /// Jaeger gRPC collector address (`off` disables it).
    #[arg(long = "collector.grpc-server.host-port", env = "COLLECTOR_GRPC_SERVER_HOST_PORT", value_parser = parse_optional_host_port, global = true)]
    pub jaeger_grpc: Option<Listen>,

    /// Jaeger Thrift-over-HTTP collector address (`off` disables it).
    #[arg(long = "collector.http-server.host-port", env = "COLLECTOR_HTTP_SERVER_HOST_PORT", value_parser = parse_optional_host_port, global = true)]
    pub jaeger_http: Option<Listen>,

    /// Jaeger agent UDP compact Thrift address (`off` disables it).
    #[arg(long = "processor.jaeger-compact.server-host-port", value_parser = parse_optional_host_port, global = true)]
    pub jaeger_compact: Option<Listen>,

    /// Jaeger agent UDP binary Thrift address (`off` disables it).
    #[arg(long = "processor.jaeger-binary.server-host-port", value_parser = parse_optional_host_port, global = true)]
    pub jaeger_binary: Option<Listen>,

    /// Zipkin receiver address (`off` disables it).
    #[arg(long = "collector.zipkin.host-port", env = "COLLECTOR_ZIPKIN_HOST_PORT", value_parser = parse_optional_host_port, global = true)]
    pub zipkin: Option<Listen>,

    /// Largest accepted OTLP HTTP body in bytes (raw and decompressed).
    #[arg(long = "collector.otlp.http.max-request-body-bytes", global = true)]
    pub max_request_body_bytes: Option<usize>,

    /// Bytes of spans waiting for storage before receivers answer "retry later".
    #[arg(long = "collector.queue-size-bytes", global = true)]
    pub queue_bytes: Option<usize>,

    /// Jaeger sampling strategies file (JSON), served to SDKs polling for strategies.
    #[arg(
        long = "sampling.strategies-file",
        env = "SAMPLING_STRATEGIES_FILE",
        global = true
    )]
    pub sampling_strategies_file: Option<PathBuf>,

    /// How often the strategies file is re-read (Go duration; `0s` never).
    #[arg(long = "sampling.strategies-reload-interval", env = "SAMPLING_STRATEGIES_RELOAD_INTERVAL", value_parser = parse_duration, global = true)]
    pub sampling_reload_interval: Option<std::time::Duration>,

    /// Probability of the default sampling strategy.
    #[arg(
        long = "sampling.default-sampling-probability",
        env = "SAMPLING_DEFAULT_SAMPLING_PROBABILITY",
        global = true
    )]
    pub sampling_default_probability: Option<f64>,

    /// Remote sampling HTTP address, `GET /sampling?service=` (`off` disables it).
    #[arg(long = "sampling.http-server.host-port", alias = "http-server.host-port", value_parser = parse_optional_host_port, global = true)]
    pub sampling_http: Option<Listen>,

    /// Remote sampling gRPC address, `SamplingManager` (`off` disables it).
    #[arg(long = "sampling.grpc-server.host-port", value_parser = parse_optional_host_port, global = true)]
    pub sampling_grpc: Option<Listen>,

    /// Health check address (`GET /status`; `off` disables it).
    #[arg(long = "health.host-port", value_parser = parse_optional_host_port, global = true)]
    pub health: Option<Listen>,

    /// Jaeger v1's admin port: `GET /` health (v1 JSON) and `GET /metrics` (`off`
    /// disables it).
    #[arg(long = "admin.http.host-port", env = "ADMIN_HTTP_HOST_PORT", value_parser = parse_optional_host_port, global = true)]
    pub admin_http: Option<Listen>,

    /// expvar-style JSON (`GET /debug/vars`) address (`off` disables it).
    #[arg(long = "expvar.host-port", env = "EXPVAR_HOST_PORT", value_parser = parse_optional_host_port, global = true)]
    pub expvar: Option<Listen>,

    /// Jaeger v1's TLS flags (`--collector.grpc.tls.cert` ...) for every TCP server that
    /// had them: a PEM certificate chain and key (both, or neither), optionally a client
    /// CA (mTLS). `.tls.enabled=false` switches TLS off.
    #[command(flatten)]
    pub tls: TlsFlags,

    /// Jaeger v1's `--kafka.producer.*`, `--kafka.consumer.*` and `--ingester.*` flags.
    #[command(flatten)]
    pub kafka: crate::ingester::KafkaFlags,

    /// Prometheus metrics address (`GET /metrics`).
    #[arg(long = "metrics.host-port", value_parser = parse_host_port, global = true)]
    pub metrics: Option<SocketAddr>,

    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `jaeger_storage=debug`.
    #[arg(
        long = "log-level",
        env = "JAEGER_LOG_LEVEL",
        default_value = "info",
        global = true
    )]
    pub log_level: String,
}

/// Accepts `host:port`, `:port` (all interfaces, as Go does) and `port`.
pub fn parse_host_port(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    let full = if let Some(port) = s.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else if s.parse::<u16>().is_ok() {
        format!("0.0.0.0:{s}")
    } else if let Some(port) = s.strip_prefix("localhost:") {
        format!("127.0.0.1:{port}")
    } else {
        s.to_string()
    };
    full.parse()
        .map_err(|_| format!("invalid address {s:?}, expected host:port or :port"))
}

/// A listener address, or `None` when switched off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Listen(pub Option<SocketAddr>);

/// As [`parse_host_port`]; `off` (or an empty value) switches the listener off.
pub fn parse_optional_host_port(s: &str) -> Result<Listen, String> {
    match s.trim() {
        "" | "off" | "none" => Ok(Listen(None)),
        other => parse_host_port(other).map(|a| Listen(Some(a))),
    }
}

impl Flags {
    /// Applies the flags given on top of `config`.
    pub fn apply(&self, config: &mut Config) {
        if let Some(s) = self.storage {
            match s {
                StorageFlag::Embedded | StorageFlag::Badger => {
                    config.storage.kind = StorageKind::Embedded
                }
                StorageFlag::Memory => config.storage.kind = StorageKind::Memory,
                StorageFlag::Grpc => config.storage.kind = StorageKind::Grpc,
                StorageFlag::Kafka => {
                    config.kafka.exporter.get_or_insert_with(Default::default);
                }
            }
        }
        self.kafka.apply(config);
        let tls_flag = self.grpc_storage_tls.is_some()
            || self.grpc_storage_tls_ca.is_some()
            || self.grpc_storage_tls_cert.is_some()
            || self.grpc_storage_tls_key.is_some()
            || self.grpc_storage_tls_server_name.is_some()
            || self.grpc_storage_tls_skip_verify.is_some();
        if self.grpc_storage_server.is_some() || self.grpc_storage_timeout.is_some() || tls_flag {
            let g = config.storage.grpc.get_or_insert_with(|| {
                // Flags mean plain text, as Jaeger v1's --grpc-storage.tls.enabled=false.
                let mut g = jaeger_config::v2::GrpcBackend::default();
                g.tls.insecure = true;
                g
            });
            if let Some(s) = &self.grpc_storage_server {
                g.endpoint = s.clone();
            }
            if let Some(t) = self.grpc_storage_timeout {
                g.timeout = jaeger_config::v2::GoDuration(t);
            }
            if tls_flag {
                // Any TLS flag means TLS, unless --grpc-storage.tls.enabled=false.
                let t = &mut g.tls;
                t.insecure = self.grpc_storage_tls == Some(false);
                let set = |slot: &mut Option<String>, v: &Option<String>| {
                    if v.is_some() {
                        slot.clone_from(v);
                    }
                };
                set(&mut t.ca_file, &self.grpc_storage_tls_ca);
                set(&mut t.cert_file, &self.grpc_storage_tls_cert);
                set(&mut t.key_file, &self.grpc_storage_tls_key);
                set(
                    &mut t.server_name_override,
                    &self.grpc_storage_tls_server_name,
                );
                if let Some(v) = self.grpc_storage_tls_skip_verify {
                    t.insecure_skip_verify = v;
                }
            }
        }
        if let Some(d) = &self.data_dir {
            config.storage.embedded.data_dir = d.clone();
        }
        if let Some(r) = self.retention {
            config.storage.embedded.retention = r;
        }
        if let Some(s) = self.sync_writes {
            config.storage.embedded.sync_writes = s;
        }
        if let Some(m) = self.max_traces {
            config.storage.memory.max_traces = m;
        }
        if let Some(b) = &self.base_path {
            config.query.base_path = b.clone();
        }
        if let Some(d) = self.max_clock_skew_adjust {
            config.query.max_clock_skew_adjust = d;
        }
        if let Some(a) = self.query_http {
            config.query.http_endpoint = a;
        }
        self.apply_query(config);
        if let Some(Listen(a)) = self.otlp_grpc {
            config.otlp.grpc_endpoint = a;
        }
        if let Some(Listen(a)) = self.otlp_http {
            config.otlp.http_endpoint = a;
        }
        if let Some(Listen(a)) = self.jaeger_grpc {
            config.jaeger.grpc_endpoint = a;
        }
        if let Some(Listen(a)) = self.jaeger_http {
            config.jaeger.thrift_http_endpoint = a;
        }
        if let Some(Listen(a)) = self.jaeger_compact {
            config.jaeger.thrift_compact_endpoint = a;
        }
        if let Some(Listen(a)) = self.jaeger_binary {
            config.jaeger.thrift_binary_endpoint = a;
        }
        if let Some(Listen(a)) = self.zipkin {
            config.zipkin.endpoint = a;
        }
        if let Some(b) = self.max_request_body_bytes {
            config.otlp.max_request_body_bytes = b;
        }
        if let Some(b) = self.queue_bytes {
            config.queue.max_bytes = b;
        }
        if let Some(f) = &self.sampling_strategies_file {
            config.sampling.strategies_file = Some(f.clone()).filter(|f| !f.as_os_str().is_empty());
        }
        if let Some(d) = self.sampling_reload_interval {
            config.sampling.reload_interval = d;
        }
        if let Some(p) = self.sampling_default_probability {
            config.sampling.default_sampling_probability = p;
        }
        if let Some(Listen(a)) = self.sampling_http {
            config.sampling.http_endpoint = a;
        }
        if let Some(Listen(a)) = self.sampling_grpc {
            config.sampling.grpc_endpoint = a;
        }
        if let Some(Listen(a)) = self.health {
            config.admin.health_endpoint = a;
        }
        if let Some(Listen(a)) = self.admin_http {
            config.admin.http_endpoint = a;
        }
        if let Some(Listen(a)) = self.expvar {
            config.admin.expvar_endpoint = a;
        }
        self.tls.apply(config);
        if let Some(a) = self.metrics {
            config.admin.metrics_endpoint = a;
        }
        if let Some(s) = &self.dependencies_schedule {
            config.dependencies.schedule = Some(s.clone()).filter(|s| !s.trim().is_empty());
        }
        if let Some(d) = self.dependencies_lookback {
            config.dependencies.lookback = d;
        }
        if let Some(m) = self.dependencies_memory_limit {
            config.dependencies.memory_limit_bytes = Some(m);
        }
    }
}

impl Flags {
    /// The query service's flags beyond addresses and base path.
    fn apply_query(&self, config: &mut Config) {
        let q = &mut config.query;
        if let Some(Listen(a)) = self.query_grpc {
            q.grpc_endpoint = a;
        }
        if let Some(d) = &self.static_files {
            q.static_files = Some(d.clone());
        }
        if let Some(f) = &self.ui_config {
            q.ui_config = Some(f.clone());
        }
        if let Some(n) = self.max_trace_size {
            q.max_trace_size = n;
        }
        if let Some(b) = self.bearer_token_propagation {
            q.bearer_token_propagation = b;
        }
        if !self.additional_headers.is_empty() {
            q.additional_headers = self.additional_headers.clone();
        }
        if !self.cors_allowed_origins.is_empty() {
            q.cors.allowed_origins = trimmed(&self.cors_allowed_origins);
        }
        if !self.cors_allowed_headers.is_empty() {
            q.cors.allowed_headers = trimmed(&self.cors_allowed_headers);
        }
        if let Some(b) = self.tenancy_enabled {
            q.multi_tenancy.enabled = b;
        }
        if let Some(h) = &self.tenancy_header {
            q.multi_tenancy.header = h.clone();
        }
        if !self.tenancy_tenants.is_empty() {
            q.multi_tenancy.tenants = trimmed(&self.tenancy_tenants);
        }
        if let Some(a) = &self.archive {
            q.archive = match a.trim() {
                "" | "off" | "none" => None,
                "memory" => Some(jaeger_config::ArchiveConfig {
                    kind: StorageKind::Memory,
                    data_dir: None,
                    max_traces: config.storage.memory.max_traces,
                    cassandra: None,
                    elasticsearch: None,
                }),
                dir => Some(jaeger_config::ArchiveConfig {
                    kind: StorageKind::Embedded,
                    data_dir: Some(PathBuf::from(dir)),
                    max_traces: 0,
                    cassandra: None,
                    elasticsearch: None,
                }),
            };
        }
    }
}

/// Jaeger v1's `--<server>.tls.{enabled,cert,key,client-ca}` flags, defined with the
/// TLS builder they feed.
pub use crate::tls::TlsFlags;

fn trimmed(v: &[String]) -> Vec<String> {
    v.iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            parse_host_port(":4317").unwrap().to_string(),
            "0.0.0.0:4317"
        );
        assert_eq!(parse_host_port("4317").unwrap().to_string(), "0.0.0.0:4317");
        assert_eq!(
            parse_host_port("127.0.0.1:9").unwrap().to_string(),
            "127.0.0.1:9"
        );
        assert_eq!(
            parse_host_port("localhost:9").unwrap().to_string(),
            "127.0.0.1:9"
        );
        assert!(parse_host_port("nope").is_err());
    }

    #[test]
    fn flags_override_defaults() {
        let cli = Cli::try_parse_from([
            "jaeger",
            "--storage",
            "memory",
            "--memory.max-traces",
            "7",
            "--query.base-path",
            "/jaeger",
            "--badger.span-store-ttl",
            "1h",
        ])
        .unwrap();
        let mut c = Config::default();
        cli.flags.apply(&mut c);
        assert_eq!(c.storage.kind, StorageKind::Memory);
        assert_eq!(c.storage.memory.max_traces, 7);
        assert_eq!(c.query.base_path, "/jaeger");
        assert_eq!(c.storage.embedded.retention.as_secs(), 3600);
    }

    #[test]
    fn query_service_flags() {
        let mut c = Config::default();
        assert_eq!(c.query.grpc_endpoint.unwrap().port(), 16685);
        Cli::try_parse_from(["jaeger", "--query.grpc-server.host-port", "off"])
            .unwrap()
            .flags
            .apply(&mut c);
        assert_eq!(c.query.grpc_endpoint, None);
        let cli = Cli::try_parse_from([
            "jaeger",
            "--query.grpc-server.host-port=:17685",
            "--query.static-files=/ui",
            "--query.ui-config=/ui.json",
            "--query.max-trace-size=500",
            "--query.bearer-token-propagation",
            "--query.additional-headers=A: 1",
            "--query.additional-headers=B: 2",
            "--query.cors.allowed-origins=https://a.org, https://b.org",
            "--query.cors.allowed-headers=x-tenant",
            "--multi-tenancy.enabled",
            "--multi-tenancy.header=x-org",
            "--multi-tenancy.tenants=acme,globex",
            "--query.archive=memory",
        ])
        .unwrap();
        let mut c = Config::default();
        cli.flags.apply(&mut c);
        let q = &c.query;
        assert_eq!(q.grpc_endpoint, Some("0.0.0.0:17685".parse().unwrap()));
        assert_eq!(q.static_files, Some(PathBuf::from("/ui")));
        assert_eq!(q.ui_config, Some(PathBuf::from("/ui.json")));
        assert_eq!(q.max_trace_size, 500);
        assert!(q.bearer_token_propagation);
        assert_eq!(q.additional_headers, ["A: 1", "B: 2"]);
        assert_eq!(q.cors.allowed_origins, ["https://a.org", "https://b.org"]);
        assert_eq!(q.cors.allowed_headers, ["x-tenant"]);
        assert!(q.multi_tenancy.enabled);
        assert_eq!(q.multi_tenancy.header, "x-org");
        assert_eq!(q.multi_tenancy.tenants, ["acme", "globex"]);
        let a = q.archive.as_ref().unwrap();
        assert_eq!(
            (a.kind.clone(), a.max_traces),
            (StorageKind::Memory, 100_000)
        );
        let cli = Cli::try_parse_from(["jaeger", "--query.archive=/srv/archive"]).unwrap();
        cli.flags.apply(&mut c);
        let a = c.query.archive.as_ref().unwrap();
        assert_eq!(a.kind, StorageKind::Embedded);
        assert_eq!(a.data_dir, Some(PathBuf::from("/srv/archive")));
    }

    #[test]
    fn badger_is_served_by_the_embedded_store() {
        let cli = Cli::try_parse_from(["jaeger", "all-in-one", "--storage", "badger"]).unwrap();
        let mut c = Config::default();
        cli.flags.apply(&mut c);
        assert_eq!(c.storage.kind, StorageKind::Embedded);
        assert!(matches!(cli.role, Some(Role::AllInOne)));
    }

    #[test]
    fn v1_tls_flags() {
        let cli = Cli::try_parse_from([
            "jaeger",
            "--collector.otlp.grpc.tls.cert=/c.pem",
            "--collector.otlp.grpc.tls.key=/k.pem",
            "--query.http.tls.enabled=true",
            "--query.http.tls.cert=/q.pem",
            "--query.http.tls.key=/qk.pem",
        ])
        .unwrap();
        let mut c = Config::default();
        c.otlp.http_tls = Some(jaeger_config::TlsFiles {
            cert_file: "/from-yaml.pem".into(),
            key_file: "/from-yaml-key.pem".into(),
            ..Default::default()
        });
        cli.flags.apply(&mut c);
        let files = |c: &str, k: &str| {
            Some(jaeger_config::TlsFiles {
                cert_file: c.into(),
                key_file: k.into(),
                ..Default::default()
            })
        };
        assert_eq!(c.otlp.grpc_tls, files("/c.pem", "/k.pem"));
        assert_eq!(c.query.http_tls, files("/q.pem", "/qk.pem"));
        // Untouched by flags: what the file said stays.
        assert_eq!(
            c.otlp.http_tls,
            files("/from-yaml.pem", "/from-yaml-key.pem")
        );
        Cli::try_parse_from(["jaeger", "--collector.otlp.http.tls.enabled=false"])
            .unwrap()
            .flags
            .apply(&mut c);
        assert_eq!(c.otlp.http_tls, None);
        // A certificate without its key is a usage error.
        assert!(Cli::try_parse_from(["jaeger", "--query.http.tls.cert=/q.pem"]).is_err());
    }
}
