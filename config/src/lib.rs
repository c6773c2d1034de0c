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
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpReceiverConfig {
    pub grpc_endpoint: SocketAddr,
    pub http_endpoint: SocketAddr,
    /// Largest accepted HTTP body, raw and after decompression (Jaeger: 20 MiB).
    pub max_request_body_bytes: usize,
    /// Largest accepted gRPC message (grpc-go default: 4 MiB).
    pub max_grpc_message_bytes: usize,
}

impl Default for OtlpReceiverConfig {
    fn default() -> Self {
        Self {
            grpc_endpoint: addr(4317),
            http_endpoint: addr(4318),
            max_request_body_bytes: 20 * 1024 * 1024,
            max_grpc_message_bytes: 4 * 1024 * 1024,
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
}

impl Default for JaegerReceiverConfig {
    fn default() -> Self {
        Self {
            grpc_endpoint: Some(addr(14250)),
            thrift_http_endpoint: Some(addr(14268)),
            thrift_compact_endpoint: Some(addr(6831)),
            thrift_binary_endpoint: Some(addr(6832)),
        }
    }
}

/// Zipkin `/api/v1/spans` and `/api/v2/spans`; `None` switches it off.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ZipkinReceiverConfig {
    pub endpoint: Option<SocketAddr>,
}

impl Default for ZipkinReceiverConfig {
    fn default() -> Self {
        Self {
            endpoint: Some(addr(9411)),
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
    pub http_endpoint: SocketAddr,
    /// Route prefix, `/` for none (`--query.base-path`).
    pub base_path: String,
    /// Clock-skew correction cap; zero disables correction (warnings are still added).
    #[serde(with = "humantime_serde_compat")]
    pub max_clock_skew_adjust: Duration,
}

impl Default for QueryConfig {
    fn default() -> Self {
        Self {
            http_endpoint: addr(16686),
            base_path: "/".into(),
            max_clock_skew_adjust: Duration::ZERO,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdminConfig {
    /// Health check (`GET /status`, and `GET /` in the v1 style).
    pub health_endpoint: SocketAddr,
    /// Prometheus `GET /metrics`.
    pub metrics_endpoint: SocketAddr,
}

impl Default for AdminConfig {
    fn default() -> Self {
        Self {
            health_endpoint: addr(13133),
            metrics_endpoint: addr(8888),
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
    fn defaults_fit_jaeger_ports() {
        let c = Config::default();
        assert_eq!(c.otlp.grpc_endpoint.port(), 4317);
        assert_eq!(c.otlp.http_endpoint.port(), 4318);
        assert_eq!(c.query.http_endpoint.port(), 16686);
        assert_eq!(c.admin.health_endpoint.port(), 13133);
        assert_eq!(c.admin.metrics_endpoint.port(), 8888);
        assert_eq!(c.otlp.max_request_body_bytes, 20 * 1024 * 1024);
    }
}
