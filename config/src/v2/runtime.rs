//! From the v2 model to the process's [`Config`]: which storage, which ports.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use super::components::{Exporter, OtlpReceiver, Receiver, StorageExporter};
use super::error::ConfigError;
use super::extensions::{Extension, HealthCheckV2Extension, JaegerQueryExtension};
use super::model::{ComponentId, JaegerV2Config};
use super::storage::{BackendKind, JaegerStorageExtension, TraceBackend};
use super::validate::storage_extension;
use crate::{Config, StorageKind, default_data_dir};

/// A loaded config file: what the process runs with, plus the whole model for the
/// parts [`Config`] has no field for yet.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedConfig {
    /// Settings the running roles read today.
    pub runtime: Config,
    /// Everything the file said, defaults filled in.
    pub v2: JaegerV2Config,
    /// The `jaeger_storage` backend the runtime storage was taken from.
    pub trace_storage: Option<String>,
    /// A badger backend with `ephemeral: true`: `runtime.storage.embedded.data_dir` is a
    /// fresh directory under the system temp dir that the process should delete on exit.
    pub ephemeral_storage: bool,
    /// Worth a log line at start-up: unset env vars, settings read but not acted on.
    pub warnings: Vec<String>,
}

/// The result of [`to_runtime`].
#[derive(Clone, Debug, PartialEq)]
pub struct RuntimeMapping {
    pub config: Config,
    pub trace_storage: Option<String>,
    pub ephemeral_storage: bool,
    pub warnings: Vec<String>,
}

impl JaegerV2Config {
    /// Extensions listed in `service.extensions`, in that order (the ones that run).
    pub fn active_extensions(&self) -> impl Iterator<Item = (&str, &Extension)> {
        self.service
            .extensions
            .iter()
            .filter_map(|id| self.extensions.get(id).map(|e| (id.as_str(), e)))
    }

    /// Receiver ids used by `traces` pipelines, in pipeline order, each once.
    pub fn trace_receivers(&self) -> Vec<(&str, &Receiver)> {
        self.pipeline_members(|p| &p.receivers, |id| self.receivers.get(id))
    }

    /// Exporter ids used by `traces` pipelines, in pipeline order, each once.
    pub fn trace_exporters(&self) -> Vec<(&str, &Exporter)> {
        self.pipeline_members(|p| &p.exporters, |id| self.exporters.get(id))
    }

    fn pipeline_members<'a, T>(
        &'a self,
        list: impl Fn(&'a super::model::Pipeline) -> &'a Vec<String>,
        get: impl Fn(&str) -> Option<&'a T>,
    ) -> Vec<(&'a str, &'a T)> {
        let mut out: Vec<(&str, &T)> = Vec::new();
        for (pid, p) in &self.service.pipelines {
            let is_traces = ComponentId::parse(pid).is_ok_and(|id| id.ty == "traces");
            if !is_traces {
                continue;
            }
            for id in list(p) {
                if out.iter().any(|(x, _)| *x == id.as_str()) {
                    continue;
                }
                if let Some(c) = get(id) {
                    out.push((id.as_str(), c));
                }
            }
        }
        out
    }

    /// The `jaeger_storage` extension, if defined.
    pub fn jaeger_storage(&self) -> Option<&JaegerStorageExtension> {
        storage_extension(self).map(|(_, s)| s)
    }

    /// A trace backend by name.
    pub fn backend(&self, name: &str) -> Option<&TraceBackend> {
        self.jaeger_storage()?.backends.get(name)
    }

    /// The running `jaeger_query` extension.
    pub fn jaeger_query(&self) -> Option<&JaegerQueryExtension> {
        self.active_extensions().find_map(|(_, e)| match e {
            Extension::JaegerQuery(q) => Some(q),
            _ => None,
        })
    }

    /// The running `healthcheckv2` extension.
    pub fn healthcheck(&self) -> Option<&HealthCheckV2Extension> {
        self.active_extensions().find_map(|(_, e)| match e {
            Extension::HealthCheckV2(h) => Some(h),
            _ => None,
        })
    }

    /// The first OTLP receiver of a traces pipeline.
    pub fn otlp_receiver(&self) -> Option<(&str, &OtlpReceiver)> {
        self.trace_receivers()
            .into_iter()
            .find_map(|(id, r)| match r {
                Receiver::Otlp(o) => Some((id, o)),
                _ => None,
            })
    }

    /// Storage exporters of traces pipelines.
    pub fn storage_exporters(&self) -> Vec<(&str, &StorageExporter)> {
        self.trace_exporters()
            .into_iter()
            .filter_map(|(id, e)| match e {
                Exporter::JaegerStorage(s) => Some((id, s)),
                _ => None,
            })
            .collect()
    }
}

/// Parses a listen address in Jaeger's forms: `host:port`, `:port` (all interfaces),
/// `localhost:port`, `[::1]:port`; other host names are resolved.
pub fn parse_endpoint(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    let bad = || format!("invalid endpoint {s:?}: expected host:port or :port");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    if host.eq_ignore_ascii_case("localhost") {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(ip) = host.parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    (host, port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("invalid endpoint {s:?}: cannot resolve host {host:?}"))
}

/// Jaeger v2's base-path rule: starts with `/`, one trailing `/` is dropped, no empty
/// or dot segments. Empty means `/`.
pub fn normalize_base_path(p: &str) -> Result<String, String> {
    if p.is_empty() || p == "/" {
        return Ok("/".into());
    }
    if !p.starts_with('/') {
        return Err(format!(
            "invalid base path {p:?}: must start with '/', e.g. /jaeger"
        ));
    }
    let trimmed = p.strip_suffix('/').unwrap_or(p);
    for seg in trimmed[1..].split('/') {
        if seg.is_empty() {
            return Err(format!("invalid base path {p:?}: duplicate slashes"));
        }
        if seg == "." || seg == ".." {
            return Err(format!(
                "invalid base path {p:?}: dot segments are not allowed"
            ));
        }
    }
    Ok(trimmed.to_string())
}

fn endpoint_at(path: String, s: &str) -> Result<SocketAddr, ConfigError> {
    parse_endpoint(s).map_err(|m| ConfigError::invalid(path, m))
}

fn mib(n: u64) -> usize {
    usize::try_from(n.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX)
}

/// Maps a validated model onto [`Config`], starting from its defaults.
pub fn to_runtime(v2: &JaegerV2Config) -> Result<RuntimeMapping, ConfigError> {
    let mut config = Config::default();
    let mut warnings = Vec::new();
    let mut ephemeral_storage = false;

    // Storage: what the query service reads, else what the pipelines write.
    let query = v2.jaeger_query();
    let exporters = v2.storage_exporters();
    let mut written: Vec<&str> = exporters
        .iter()
        .map(|(_, e)| e.trace_storage.as_str())
        .collect();
    written.sort_unstable();
    written.dedup();
    if written.len() > 1 {
        return Err(ConfigError::invalid(
            "service.pipelines",
            format!(
                "traces pipelines write to several trace storages ({}); one process serves one",
                written.join(", ")
            ),
        ));
    }
    let trace_storage = match (query.map(|q| q.storage.traces.as_str()), written.first()) {
        (Some(read), Some(write)) if read != *write => {
            return Err(ConfigError::invalid(
                "extensions.jaeger_query.storage.traces",
                format!(
                    "reads \"{read}\" while the storage exporter writes \"{write}\"; one process serves one trace storage"
                ),
            ));
        }
        (Some(read), _) => Some(read.to_string()),
        (None, Some(write)) => Some(write.to_string()),
        (None, None) => None,
    };
    if let Some(name) = &trace_storage {
        let path = format!("extensions.jaeger_storage.backends.{name}");
        let backend = v2
            .backend(name)
            .ok_or_else(|| ConfigError::UndefinedStorage {
                path: path.clone(),
                what: "storage backend",
                name: name.clone(),
                section: "extensions.jaeger_storage.backends",
                defined: v2
                    .jaeger_storage()
                    .map(|s| s.backends.keys().cloned().collect())
                    .unwrap_or_default(),
            })?;
        match backend.kind() {
            Some(BackendKind::Memory) => {
                let m = backend.memory.as_ref().expect("kind() said memory");
                config.storage.kind = StorageKind::Memory;
                config.storage.memory.max_traces =
                    usize::try_from(m.max_traces).unwrap_or(usize::MAX);
            }
            Some(BackendKind::Badger) => {
                let b = backend.badger.as_ref().expect("kind() said badger");
                config.storage.kind = StorageKind::Embedded;
                let e = &mut config.storage.embedded;
                if b.ephemeral {
                    e.data_dir = std::env::temp_dir()
                        .join(format!("jaeger-badger-ephemeral-{}", std::process::id()));
                    ephemeral_storage = true;
                } else {
                    e.data_dir = b
                        .directories
                        .keys
                        .as_ref()
                        .map(PathBuf::from)
                        .unwrap_or_else(default_data_dir);
                    if let Some(values) = &b.directories.values
                        && Some(values) != b.directories.keys.as_ref()
                    {
                        warnings.push(format!(
                            "{path}.badger.directories.values: the embedded store keeps everything in directories.keys ({})",
                            e.data_dir.display()
                        ));
                    }
                }
                e.retention = b.ttl.spans.0;
                e.sync_writes = b.consistency;
                if b.read_only {
                    warnings.push(format!("{path}.badger.read_only is not acted on yet"));
                }
            }
            Some(
                kind @ (BackendKind::Cassandra
                | BackendKind::Elasticsearch
                | BackendKind::Opensearch
                | BackendKind::Grpc),
            ) => {
                return Err(ConfigError::UnsupportedBackend {
                    path,
                    kind: kind.as_str(),
                });
            }
            None => {
                return Err(ConfigError::BackendKind {
                    path,
                    found: backend.kinds().iter().map(|k| k.as_str()).collect(),
                    valid: &[
                        "memory",
                        "badger",
                        "cassandra",
                        "elasticsearch",
                        "opensearch",
                        "grpc",
                    ],
                });
            }
        }
    }

    // OTLP receiver.
    if let Some((id, otlp)) = v2.otlp_receiver() {
        let base = format!("receivers.{id}.protocols");
        if let Some(g) = &otlp.protocols.grpc {
            if let Some(ep) = &g.endpoint {
                config.otlp.grpc_endpoint = endpoint_at(format!("{base}.grpc.endpoint"), ep)?;
            }
            if let Some(m) = g.max_recv_msg_size_mib {
                config.otlp.max_grpc_message_bytes = mib(m);
            }
        }
        if let Some(h) = &otlp.protocols.http {
            if let Some(ep) = &h.endpoint {
                config.otlp.http_endpoint = endpoint_at(format!("{base}.http.endpoint"), ep)?;
            }
            if let Some(n) = h.max_request_body_size {
                config.otlp.max_request_body_bytes = usize::try_from(n).unwrap_or(usize::MAX);
            }
        }
    }

    // Query service.
    if let Some(q) = query {
        let base = "extensions.jaeger_query";
        if let Some(ep) = &q.http.endpoint {
            config.query.http_endpoint = endpoint_at(format!("{base}.http.endpoint"), ep)?;
        }
        config.query.base_path = normalize_base_path(&q.base_path)
            .map_err(|m| ConfigError::invalid(format!("{base}.base_path"), m))?;
        config.query.max_clock_skew_adjust = q.max_clock_skew_adjust.0;
    }

    // Health check.
    if let Some(h) = v2.healthcheck() {
        let base = "extensions.healthcheckv2";
        let (path, ep) = match (&h.endpoint, &h.http.endpoint) {
            (Some(legacy), _) if !h.use_v2 => (format!("{base}.endpoint"), Some(legacy)),
            (_, ep) => (format!("{base}.http.endpoint"), ep.as_ref()),
        };
        if let Some(ep) = ep {
            config.admin.health_endpoint = endpoint_at(path, ep)?;
        }
    }

    // Our own Prometheus metrics.
    let m = &v2.service.telemetry.metrics;
    let pull = m.readers.iter().enumerate().find_map(|(i, r)| {
        r.pull
            .as_ref()?
            .exporter
            .prometheus
            .as_ref()
            .map(|p| (i, p))
    });
    if let Some((i, p)) = pull {
        let host = if p.host.contains(':') && !p.host.starts_with('[') {
            format!("[{}]", p.host)
        } else {
            p.host.clone()
        };
        config.admin.metrics_endpoint = endpoint_at(
            format!("service.telemetry.metrics.readers[{i}].pull.exporter.prometheus"),
            &format!("{host}:{}", p.port),
        )?;
    } else if let Some(addr) = &m.address {
        config.admin.metrics_endpoint =
            endpoint_at("service.telemetry.metrics.address".into(), addr)?;
    }

    // The storage exporter's queue in front of storage.
    if let Some((id, e)) = exporters.first()
        && let Some(q) = &e.queue
        && q.enabled
    {
        config.queue.writers = usize::try_from(q.num_consumers)
            .unwrap_or(usize::MAX)
            .max(1);
        if q.sizer == "bytes" {
            config.queue.max_bytes = usize::try_from(q.queue_size).unwrap_or(usize::MAX);
        } else {
            warnings.push(format!(
                "exporters.{id}.queue.queue_size counts {}; our queue is bounded in bytes (sizer: bytes), so it keeps {} bytes",
                q.sizer, config.queue.max_bytes
            ));
        }
        if let Some(b) = &q.batch
            && b.max_size > 0
        {
            config.queue.max_batch_spans = usize::try_from(b.max_size).unwrap_or(usize::MAX);
        }
    }

    Ok(RuntimeMapping {
        config,
        trace_storage,
        ephemeral_storage,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_in_jaeger_forms() {
        assert_eq!(
            parse_endpoint(":4317").unwrap(),
            "0.0.0.0:4317".parse().unwrap()
        );
        assert_eq!(
            parse_endpoint("localhost:4317").unwrap(),
            "127.0.0.1:4317".parse().unwrap()
        );
        assert_eq!(
            parse_endpoint("0.0.0.0:16686").unwrap(),
            "0.0.0.0:16686".parse().unwrap()
        );
        assert_eq!(
            parse_endpoint("[::1]:8888").unwrap(),
            "[::1]:8888".parse().unwrap()
        );
        assert!(parse_endpoint("4317").is_err());
        assert!(parse_endpoint("localhost:99999").is_err());
        assert!(parse_endpoint("localhost:").is_err());
    }

    #[test]
    fn base_paths() {
        assert_eq!(normalize_base_path("").unwrap(), "/");
        assert_eq!(normalize_base_path("/").unwrap(), "/");
        assert_eq!(normalize_base_path("/jaeger/").unwrap(), "/jaeger");
        assert_eq!(normalize_base_path("/a/b").unwrap(), "/a/b");
        assert!(normalize_base_path("jaeger").is_err());
        assert!(normalize_base_path("/a//b").is_err());
        assert!(normalize_base_path("/a/../b").is_err());
        assert!(normalize_base_path("/jaeger//").is_err());
    }
}
