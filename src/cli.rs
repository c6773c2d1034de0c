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
    /// Print the effective configuration as YAML and exit.
    PrintConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageFlag {
    /// The embedded persistent store (default).
    Embedded,
    /// Jaeger's name for its embedded store; served by ours.
    Badger,
    /// In memory, bounded by --memory.max-traces; lost on restart.
    Memory,
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

    /// OTLP gRPC receiver address.
    #[arg(long = "collector.otlp.grpc.host-port", env = "COLLECTOR_OTLP_GRPC_HOST_PORT", value_parser = parse_host_port, global = true)]
    pub otlp_grpc: Option<SocketAddr>,

    /// OTLP HTTP receiver address.
    #[arg(long = "collector.otlp.http.host-port", env = "COLLECTOR_OTLP_HTTP_HOST_PORT", value_parser = parse_host_port, global = true)]
    pub otlp_http: Option<SocketAddr>,

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

    /// Health check address (`GET /status`).
    #[arg(long = "health.host-port", value_parser = parse_host_port, global = true)]
    pub health: Option<SocketAddr>,

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
            config.storage.kind = match s {
                StorageFlag::Embedded | StorageFlag::Badger => StorageKind::Embedded,
                StorageFlag::Memory => StorageKind::Memory,
            };
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
        if let Some(a) = self.otlp_grpc {
            config.otlp.grpc_endpoint = a;
        }
        if let Some(a) = self.otlp_http {
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
        if let Some(a) = self.health {
            config.admin.health_endpoint = a;
        }
        if let Some(a) = self.metrics {
            config.admin.metrics_endpoint = a;
        }
    }
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
    fn badger_is_served_by_the_embedded_store() {
        let cli = Cli::try_parse_from(["jaeger", "all-in-one", "--storage", "badger"]).unwrap();
        let mut c = Config::default();
        cli.flags.apply(&mut c);
        assert_eq!(c.storage.kind, StorageKind::Embedded);
        assert!(matches!(cli.role, Some(Role::AllInOne)));
    }
}
