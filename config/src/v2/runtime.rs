//! From the v2 model to the process's [`Config`]: which storage, which ports.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use super::components::{Exporter, OtlpReceiver, Receiver, StorageExporter};
use super::error::ConfigError;
use super::extensions::{
    Extension, HealthCheckV2Extension, JaegerQueryExtension, RemoteStorageExtension,
};
use super::model::{Component, ComponentId, JaegerV2Config};
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

    /// The running `remote_storage` extension.
    pub fn remote_storage(&self) -> Option<&RemoteStorageExtension> {
        self.active_extensions().find_map(|(_, e)| match e {
            Extension::RemoteStorage(r) => Some(r),
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

    /// The running `dependencies` extension (ours).
    pub fn dependencies(&self) -> Option<&super::extensions::DependenciesExtension> {
        self.active_extensions().find_map(|(_, e)| match e {
            Extension::Dependencies(d) => Some(d),
            _ => None,
        })
    }

    /// The running `expvar` extension and its id.
    pub fn expvar(&self) -> Option<(&str, &super::extensions::ExpvarExtension)> {
        self.active_extensions().find_map(|(id, e)| match e {
            Extension::Expvar(x) => Some((id, x)),
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
        // A remote-storage-only file: the backend it serves.
        (None, None) => v2.remote_storage().map(|r| r.storage.clone()),
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
            Some(BackendKind::Cassandra) => {
                let c = backend.cassandra.as_ref().expect("kind() said cassandra");
                config.storage.kind = StorageKind::Cassandra;
                config.storage.cassandra = Some(c.clone());
            }
            Some(kind @ (BackendKind::Elasticsearch | BackendKind::Opensearch)) => {
                config.storage.kind = StorageKind::Elasticsearch;
                config.storage.elasticsearch = Some(es_storage(backend, kind));
            }
            Some(BackendKind::Grpc) => {
                let g = backend.grpc.as_ref().expect("kind() said grpc");
                grpc_client_tls(&format!("{path}.grpc.tls"), &g.tls, &mut warnings)?;
                if let Some(w) = &g.writer {
                    grpc_client_tls(&format!("{path}.grpc.writer.tls"), &w.tls, &mut warnings)?;
                }
                config.storage.kind = StorageKind::Grpc;
                config.storage.grpc = Some(g.clone());
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

    if let Some(r) = v2.remote_storage() {
        if trace_storage.as_deref() != Some(r.storage.as_str()) {
            return Err(ConfigError::invalid(
                "extensions.remote_storage.storage",
                format!(
                    "serves \"{}\" while this process uses \"{}\"; one process serves one trace storage",
                    r.storage,
                    trace_storage.as_deref().unwrap_or("")
                ),
            ));
        }
        let ep = r.endpoint.as_deref().unwrap_or(":17271");
        config.remote_storage.endpoint = Some(endpoint_at(
            "extensions.remote_storage.endpoint".into(),
            ep,
        )?);
        config.remote_storage.tls = tls_files(
            "extensions.remote_storage.tls",
            r.tls.as_ref(),
            &mut warnings,
        )?;
        if let Some(t) = &r.multi_tenancy {
            let m = &mut config.remote_storage.multi_tenancy;
            m.enabled = t.enabled;
            m.header = t.header.clone();
            m.tenants = t.tenants.clone();
        }
    }

    receivers(v2, &mut config, &mut warnings)?;
    if let Some((id, k)) = v2
        .trace_exporters()
        .into_iter()
        .find_map(|(id, e)| match e {
            Exporter::Kafka(k) => Some((id, k)),
            _ => None,
        })
    {
        // Spans must not silently go somewhere the file did not say: one destination.
        if let Some((other, _)) = exporters.first() {
            return Err(ConfigError::invalid(
                "service.pipelines",
                format!(
                    "traces pipelines export to both exporters.{id} and exporters.{other}; this build writes accepted spans to one of them"
                ),
            ));
        }
        config.kafka.exporter = Some(kafka_exporter(id, k, &mut warnings)?);
    }

    // Query service: runs only when listed in `service.extensions`.
    config.query.enabled = query.is_some();
    if let Some(q) = query {
        let base = "extensions.jaeger_query";
        if let Some(ep) = &q.http.endpoint {
            config.query.http_endpoint = endpoint_at(format!("{base}.http.endpoint"), ep)?;
        }
        config.query.base_path = normalize_base_path(&q.base_path)
            .map_err(|m| ConfigError::invalid(format!("{base}.base_path"), m))?;
        config.query.max_clock_skew_adjust = q.max_clock_skew_adjust.0;
        config.query.http_tls = tls_files(
            &format!("{base}.http.tls"),
            q.http.tls.as_ref(),
            &mut warnings,
        )?;
        config.query.grpc_tls = tls_files(
            &format!("{base}.grpc.tls"),
            q.grpc.tls.as_ref(),
            &mut warnings,
        )?;
        if let Some(ep) = &q.grpc.endpoint {
            config.query.grpc_endpoint = Some(endpoint_at(format!("{base}.grpc.endpoint"), ep)?);
        }
        config.query.static_files = q.ui.assets_path.as_ref().map(PathBuf::from);
        config.query.ui_config = q.ui.config_file.as_ref().map(PathBuf::from);
        config.query.max_trace_size = usize::try_from(q.max_trace_size).unwrap_or(usize::MAX);
        config.query.bearer_token_propagation = q.bearer_token_propagation;
        config.query.additional_headers = q
            .http
            .response_headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect();
        if let Some(c) = &q.http.cors {
            config.query.cors.allowed_origins = c.allowed_origins.clone();
            config.query.cors.allowed_headers = c.allowed_headers.clone();
        }
        if let Some(t) = &q.multi_tenancy {
            config.query.multi_tenancy.enabled = t.enabled;
            config.query.multi_tenancy.header = t.header.clone();
            config.query.multi_tenancy.tenants = t.tenants.clone();
        }
        if let Some(name) = &q.storage.traces_archive {
            config.query.archive = Some(archive_backend(v2, name, &mut warnings)?);
        }
    }

    // Health check and expvar: each runs only when listed in `service.extensions`.
    config.admin.health_endpoint = match v2.healthcheck() {
        None => None,
        Some(h) => {
            let base = "extensions.healthcheckv2";
            let (path, ep) = match (&h.endpoint, &h.http.endpoint) {
                (Some(legacy), _) if !h.use_v2 => (format!("{base}.endpoint"), Some(legacy)),
                (_, ep) => (format!("{base}.http.endpoint"), ep.as_ref()),
            };
            match ep {
                Some(ep) => Some(endpoint_at(path, ep)?),
                None => Config::default().admin.health_endpoint,
            }
        }
    };
    if let Some(h) = v2.healthcheck() {
        config.admin.health_tls = tls_files(
            "extensions.healthcheckv2.http.tls",
            h.http.tls.as_ref(),
            &mut warnings,
        )?;
    }
    if let Some((id, e)) = v2.expvar() {
        config.admin.expvar_tls = tls_files(
            &format!("extensions.{id}.tls"),
            e.tls.as_ref(),
            &mut warnings,
        )?;
    }
    config.admin.expvar_endpoint = match v2.expvar() {
        None => None,
        Some((id, e)) => match &e.endpoint {
            Some(ep) => Some(endpoint_at(format!("extensions.{id}.endpoint"), ep)?),
            None => Config::default().admin.expvar_endpoint,
        },
    };

    // The in-process dependencies job (our extension), only when listed.
    if let Some(d) = v2.dependencies() {
        config.dependencies.schedule = Some(d.schedule.clone());
        config.dependencies.lookback = d.lookback.0;
        config.dependencies.memory_limit_bytes =
            (d.memory_limit_mib > 0).then(|| d.memory_limit_mib.saturating_mul(1024 * 1024));
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

    // Remote sampling: served only when the extension runs, as in Jaeger v2.
    let sampling = v2.active_extensions().find_map(|(id, e)| match e {
        Extension::RemoteSampling(r) => Some((id, r)),
        _ => None,
    });
    match sampling {
        None => {
            config.sampling.http_endpoint = None;
            config.sampling.grpc_endpoint = None;
        }
        Some((id, r)) => {
            let base = format!("extensions.{id}");
            if let Some(ep) = &r.http.endpoint {
                config.sampling.http_endpoint =
                    Some(endpoint_at(format!("{base}.http.endpoint"), ep)?);
            }
            if let Some(ep) = &r.grpc.endpoint {
                config.sampling.grpc_endpoint =
                    Some(endpoint_at(format!("{base}.grpc.endpoint"), ep)?);
            }
            config.sampling.http_tls = tls_files(
                &format!("{base}.http.tls"),
                r.http.tls.as_ref(),
                &mut warnings,
            )?;
            config.sampling.grpc_tls = tls_files(
                &format!("{base}.grpc.tls"),
                r.grpc.tls.as_ref(),
                &mut warnings,
            )?;
            if let Some(f) = &r.file {
                config.sampling.strategies_file =
                    f.path.as_ref().filter(|p| !p.is_empty()).map(PathBuf::from);
                config.sampling.reload_interval = f.reload_interval.0;
                config.sampling.default_sampling_probability = f.default_sampling_probability;
            }
            if let Some(a) = &r.adaptive {
                // The store of the span backend (validation already checked that
                // `sampling_store` names a backend); collectors sharing it (Cassandra)
                // elect the calculating leader with the lease intervals.
                config.sampling.adaptive = Some(crate::AdaptiveSamplingConfig {
                    target_samples_per_second: a.target_samples_per_second,
                    delta_tolerance: a.delta_tolerance,
                    calculation_interval: a.calculation_interval.0,
                    aggregation_buckets: (a.aggregation_buckets as usize).max(1),
                    calculation_buckets: (a.calculation_buckets as usize).max(1),
                    calculation_delay: a.calculation_delay.0,
                    initial_sampling_probability: a.initial_sampling_probability,
                    min_sampling_probability: a.min_sampling_probability,
                    min_samples_per_second: a.min_samples_per_second,
                    leader_lease_refresh_interval: a.leader_lease_refresh_interval.0,
                    follower_lease_refresh_interval: a.follower_lease_refresh_interval.0,
                });
            }
        }
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

/// The listeners of the receivers in `traces` pipelines. A receiver that no traces
/// pipeline uses, or a protocol absent from its `protocols`, does not listen; a present
/// protocol without `endpoint` listens on its default port on all interfaces.
fn receivers(
    v2: &JaegerV2Config,
    config: &mut Config,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    let defaults = Config::default();
    config.otlp.grpc_endpoint = None;
    config.otlp.http_endpoint = None;
    config.jaeger = crate::JaegerReceiverConfig {
        grpc_endpoint: None,
        thrift_http_endpoint: None,
        thrift_compact_endpoint: None,
        thrift_binary_endpoint: None,
        grpc_tls: None,
        thrift_http_tls: None,
    };
    config.zipkin.endpoint = None;
    let listen = |path: String, ep: Option<&String>, default: Option<SocketAddr>| match ep {
        Some(ep) => endpoint_at(path, ep).map(Some),
        None => Ok(default),
    };
    let mut seen: Vec<&'static str> = Vec::new();
    for (id, r) in v2.trace_receivers() {
        let ty = r.type_name();
        if seen.contains(&ty) && ty != "nop" {
            warnings.push(format!(
                "receivers.{id}: only the first {ty} receiver of the traces pipelines runs"
            ));
            continue;
        }
        seen.push(ty);
        let base = format!("receivers.{id}.protocols");
        match r {
            Receiver::Otlp(otlp) => {
                if let Some(g) = &otlp.protocols.grpc {
                    config.otlp.grpc_endpoint = listen(
                        format!("{base}.grpc.endpoint"),
                        g.endpoint.as_ref(),
                        defaults.otlp.grpc_endpoint,
                    )?;
                    if let Some(m) = g.max_recv_msg_size_mib {
                        config.otlp.max_grpc_message_bytes = mib(m);
                    }
                    config.otlp.grpc_tls =
                        tls_files(&format!("{base}.grpc.tls"), g.tls.as_ref(), warnings)?;
                }
                if let Some(h) = &otlp.protocols.http {
                    config.otlp.http_endpoint = listen(
                        format!("{base}.http.endpoint"),
                        h.endpoint.as_ref(),
                        defaults.otlp.http_endpoint,
                    )?;
                    if let Some(n) = h.max_request_body_size {
                        config.otlp.max_request_body_bytes =
                            usize::try_from(n).unwrap_or(usize::MAX);
                    }
                    config.otlp.http_tls =
                        tls_files(&format!("{base}.http.tls"), h.tls.as_ref(), warnings)?;
                }
            }
            Receiver::Jaeger(j) => {
                let p = &j.protocols;
                let d = &defaults.jaeger;
                if let Some(g) = &p.grpc {
                    config.jaeger.grpc_endpoint = listen(
                        format!("{base}.grpc.endpoint"),
                        g.endpoint.as_ref(),
                        d.grpc_endpoint,
                    )?;
                    config.jaeger.grpc_tls =
                        tls_files(&format!("{base}.grpc.tls"), g.tls.as_ref(), warnings)?;
                }
                if let Some(h) = &p.thrift_http {
                    config.jaeger.thrift_http_endpoint = listen(
                        format!("{base}.thrift_http.endpoint"),
                        h.endpoint.as_ref(),
                        d.thrift_http_endpoint,
                    )?;
                    config.jaeger.thrift_http_tls =
                        tls_files(&format!("{base}.thrift_http.tls"), h.tls.as_ref(), warnings)?;
                }
                if let Some(u) = &p.thrift_compact {
                    config.jaeger.thrift_compact_endpoint = listen(
                        format!("{base}.thrift_compact.endpoint"),
                        u.endpoint.as_ref(),
                        d.thrift_compact_endpoint,
                    )?;
                }
                if let Some(u) = &p.thrift_binary {
                    config.jaeger.thrift_binary_endpoint = listen(
                        format!("{base}.thrift_binary.endpoint"),
                        u.endpoint.as_ref(),
                        d.thrift_binary_endpoint,
                    )?;
                }
            }
            Receiver::Zipkin(z) => {
                config.zipkin.endpoint = listen(
                    format!("receivers.{id}.endpoint"),
                    z.endpoint.as_ref(),
                    defaults.zipkin.endpoint,
                )?;
                config.zipkin.tls =
                    tls_files(&format!("receivers.{id}.tls"), z.tls.as_ref(), warnings)?;
            }
            Receiver::Kafka(k) => config.kafka.receiver = Some(kafka_receiver(id, k, warnings)?),
            Receiver::Nop(_) => {}
        }
    }
    Ok(())
}

/// Broker lists as written: a list, or comma-separated strings.
fn broker_list(l: &super::common::StringList) -> Vec<String> {
    l.0.iter()
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `tls` and `auth` of a Kafka exporter or receiver as the client's security settings.
/// What librdkafka cannot do (Kerberos, AWS MSK IAM, a TLS server name override) is
/// refused by path rather than connecting some other way than the file says.
fn kafka_auth(
    path: &str,
    tls: Option<&super::common::TlsClientConfig>,
    auth: Option<&super::components::KafkaAuth>,
    warnings: &mut Vec<String>,
) -> Result<crate::KafkaAuthConfig, ConfigError> {
    let mut out = crate::KafkaAuthConfig {
        key: path.to_string(),
        ..Default::default()
    };
    // `tls` beside the brokers is the current place; `auth.tls` the deprecated one.
    let tls = match (tls, auth.and_then(|a| a.tls.as_ref())) {
        (Some(t), _) => Some((format!("{path}.tls"), t)),
        (None, Some(t)) => Some((format!("{path}.auth.tls"), t)),
        (None, None) => None,
    };
    if let Some((tpath, t)) = tls {
        out.tls = kafka_tls(&tpath, t, warnings)?;
    }
    let Some(a) = auth else {
        return Ok(out);
    };
    if a.kerberos.is_some() {
        return Err(ConfigError::invalid(
            format!("{path}.auth.kerberos"),
            "Kerberos (GSSAPI) to Kafka is not supported by this build; use auth.sasl (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and/or tls",
        ));
    }
    if a.plain_text.is_some() && a.sasl.is_some() {
        return Err(ConfigError::invalid(
            format!("{path}.auth"),
            "plain_text and sasl are both set; keep one (plain_text is SASL PLAIN)",
        ));
    }
    if let Some(p) = &a.plain_text {
        out.sasl = Some(kafka_sasl(
            &format!("{path}.auth.plain_text"),
            "PLAIN",
            &p.username,
            &p.password,
        )?);
    }
    if let Some(s) = &a.sasl {
        out.sasl = Some(kafka_sasl(
            &format!("{path}.auth.sasl"),
            &s.mechanism,
            &s.username,
            &s.password,
        )?);
    }
    Ok(out)
}

/// OTel's Kafka TLS block: present is TLS, except `insecure: true` without a CA, which
/// is plain text (what configtls' `LoadTLSConfig` returns for it).
fn kafka_tls(
    path: &str,
    t: &super::common::TlsClientConfig,
    warnings: &mut Vec<String>,
) -> Result<Option<crate::KafkaTlsConfig>, ConfigError> {
    if t.insecure && t.ca_file.is_none() && t.ca_pem.is_none() {
        return Ok(None);
    }
    if t.server_name_override.is_some() {
        return Err(ConfigError::invalid(
            format!("{path}.server_name_override"),
            "not supported by this build's Kafka client: the broker's certificate must name the host in `brokers` (or set insecure_skip_verify)",
        ));
    }
    let has_cert = t.cert_file.is_some() || t.cert_pem.is_some();
    let has_key = t.key_file.is_some() || t.key_pem.is_some();
    if has_cert != has_key {
        return Err(ConfigError::invalid(
            path,
            "cert_file and key_file are both required for a client certificate",
        ));
    }
    for (k, set) in [
        ("min_version", t.min_version.is_some()),
        ("max_version", t.max_version.is_some()),
        ("cipher_suites", !t.cipher_suites.is_empty()),
        ("curve_preferences", !t.curve_preferences.is_empty()),
        ("reload_interval", t.reload_interval.is_some()),
    ] {
        if set {
            warnings.push(format!(
                "{path}.{k} is not acted on: the Kafka client uses OpenSSL's defaults"
            ));
        }
    }
    Ok(Some(crate::KafkaTlsConfig {
        ca_file: t.ca_file.as_ref().map(Into::into),
        ca_pem: t.ca_pem.clone(),
        cert_file: t.cert_file.as_ref().map(Into::into),
        cert_pem: t.cert_pem.clone(),
        key_file: t.key_file.as_ref().map(Into::into),
        key_pem: t.key_pem.clone(),
        insecure_skip_verify: t.insecure_skip_verify,
    }))
}

fn kafka_sasl(
    path: &str,
    mechanism: &str,
    username: &str,
    password: &str,
) -> Result<crate::KafkaSaslConfig, ConfigError> {
    let mechanism = match mechanism {
        m @ ("PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512") => m,
        "AWS_MSK_IAM_OAUTHBEARER" | "AWS_MSK_IAM" => {
            return Err(ConfigError::invalid(
                format!("{path}.mechanism"),
                "AWS MSK IAM is not supported by this build; use PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
            ));
        }
        other => {
            return Err(ConfigError::invalid(
                format!("{path}.mechanism"),
                format!("{other:?} is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
            ));
        }
    };
    if username.is_empty() {
        return Err(ConfigError::invalid(
            format!("{path}.username"),
            "required for SASL",
        ));
    }
    Ok(crate::KafkaSaslConfig {
        mechanism: mechanism.into(),
        username: username.into(),
        password: password.into(),
    })
}

/// `exporters.kafka` as the collector's producer settings.
fn kafka_exporter(
    id: &str,
    k: &super::components::KafkaExporter,
    warnings: &mut Vec<String>,
) -> Result<crate::KafkaExporterConfig, ConfigError> {
    let base = format!("exporters.{id}");
    let auth = kafka_auth(&base, k.tls.as_ref(), k.auth.as_ref(), warnings)?;
    let encoding = k.trace_encoding().to_string();
    if encoding.starts_with("zipkin_") {
        return Err(ConfigError::invalid(
            format!("{base}.traces.encoding"),
            format!(
                "{encoding} is read by the Kafka receiver but not written by this exporter; use otlp_proto, otlp_json, jaeger_proto or jaeger_json"
            ),
        ));
    }
    let p = &k.producer;
    if p.compression == "zstd" {
        return Err(ConfigError::invalid(
            format!("{base}.producer.compression"),
            "zstd is not built into this release's Kafka client; use lz4, snappy or gzip",
        ));
    }
    if !["none", "gzip", "snappy", "lz4"].contains(&p.compression.as_str()) {
        return Err(ConfigError::invalid(
            format!("{base}.producer.compression"),
            format!(
                "unknown compression {:?}: expected none, gzip, snappy or lz4",
                p.compression
            ),
        ));
    }
    if ![-1, 0, 1].contains(&p.required_acks) {
        return Err(ConfigError::invalid(
            format!("{base}.producer.required_acks"),
            format!(
                "{} is not one of 0 (none), 1 (leader), -1 (all)",
                p.required_acks
            ),
        ));
    }
    let d = crate::KafkaExporterConfig::default();
    Ok(crate::KafkaExporterConfig {
        brokers: broker_list(&k.brokers),
        topic: k.trace_topic().to_string(),
        encoding,
        client_id: k.client_id.clone(),
        required_acks: p.required_acks,
        compression: p.compression.clone(),
        compression_level: p
            .compression_params
            .as_ref()
            .map(|c| c.level)
            .filter(|l| *l != 0),
        linger: p.linger.as_ref().map(|l| l.0).unwrap_or(d.linger),
        max_message_bytes: usize::try_from(p.max_message_bytes).unwrap_or(usize::MAX),
        timeout: k.timeout.0,
        queue_max_messages: d.queue_max_messages,
        auth,
    })
}

/// `receivers.kafka` as the ingester's consumer settings.
fn kafka_receiver(
    id: &str,
    k: &super::components::KafkaReceiver,
    warnings: &mut Vec<String>,
) -> Result<crate::KafkaReceiverConfig, ConfigError> {
    let base = format!("receivers.{id}");
    let auth = kafka_auth(&base, k.tls.as_ref(), k.auth.as_ref(), warnings)?;
    if !["earliest", "latest"].contains(&k.initial_offset.as_str()) {
        return Err(ConfigError::invalid(
            format!("{base}.initial_offset"),
            format!("{:?} is not earliest or latest", k.initial_offset),
        ));
    }
    let d = crate::KafkaReceiverConfig::default();
    let session_timeout = k
        .session_timeout
        .as_ref()
        .map_or(d.session_timeout, |t| t.0);
    let heartbeat_interval = k
        .heartbeat_interval
        .as_ref()
        .map_or(d.heartbeat_interval, |t| t.0);
    // librdkafka refuses these at start-up with a less helpful message.
    if session_timeout < std::time::Duration::from_millis(1) {
        return Err(ConfigError::invalid(
            format!("{base}.session_timeout"),
            "must be positive",
        ));
    }
    if heartbeat_interval < std::time::Duration::from_millis(1)
        || heartbeat_interval >= session_timeout
    {
        return Err(ConfigError::invalid(
            format!("{base}.heartbeat_interval"),
            format!("must be positive and shorter than session_timeout ({session_timeout:?})"),
        ));
    }
    Ok(crate::KafkaReceiverConfig {
        brokers: broker_list(&k.brokers),
        topics: k.trace_topics(),
        encoding: k.trace_encoding().to_string(),
        group_id: k.group_id.clone(),
        client_id: k.client_id.clone(),
        initial_offset: k.initial_offset.clone(),
        parallelism: d.parallelism,
        max_message_bytes: k
            .max_fetch_size
            .filter(|n| *n > 0)
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(d.max_message_bytes),
        commit_interval: k.autocommit.interval.0,
        session_timeout,
        heartbeat_interval,
        auth,
    })
}

/// A `grpc` storage backend's client `tls` block: what the client cannot do is refused
/// here, by path; the files are read when the backend is built.
fn grpc_client_tls(
    path: &str,
    t: &super::common::TlsClientConfig,
    warnings: &mut Vec<String>,
) -> Result<(), ConfigError> {
    if t.insecure {
        return Ok(());
    }
    if t.cert_file.is_some() != t.key_file.is_some() && t.cert_pem.is_none() && t.key_pem.is_none()
    {
        return Err(ConfigError::invalid(
            path,
            "cert_file and key_file are both required for a client certificate",
        ));
    }
    let ignored: Vec<&str> = [
        ("min_version", t.min_version.is_some()),
        ("max_version", t.max_version.is_some()),
        ("cipher_suites", !t.cipher_suites.is_empty()),
        ("curve_preferences", !t.curve_preferences.is_empty()),
        ("reload_interval", t.reload_interval.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if !ignored.is_empty() {
        warnings.push(format!(
            "{path}: {} not acted on yet (rustls' default versions and suites)",
            ignored.join(", ")
        ));
    }
    Ok(())
}

/// A server `tls` block as the files the process loads: `cert_file` and `key_file` are
/// required, `client_ca_file` turns on client certificate verification (mTLS); settings
/// not acted on yet are start-up warnings. The files are read (and checked) at start-up.
fn tls_files(
    path: &str,
    tls: Option<&super::common::TlsServerConfig>,
    warnings: &mut Vec<String>,
) -> Result<Option<crate::TlsFiles>, ConfigError> {
    let Some(t) = tls else { return Ok(None) };
    if t.cert_pem.is_some() || t.key_pem.is_some() {
        return Err(ConfigError::invalid(
            path,
            "inline cert_pem/key_pem are not supported yet; use cert_file and key_file",
        ));
    }
    let (Some(cert), Some(key)) = (&t.cert_file, &t.key_file) else {
        return Err(ConfigError::invalid(
            path,
            "cert_file and key_file are both required",
        ));
    };
    let ignored: Vec<&str> = [
        ("ca_file", t.ca_file.is_some()),
        ("ca_pem", t.ca_pem.is_some()),
        ("client_ca_file_reload", t.client_ca_file_reload),
        ("min_version", t.min_version.is_some()),
        ("max_version", t.max_version.is_some()),
        ("cipher_suites", !t.cipher_suites.is_empty()),
        ("curve_preferences", !t.curve_preferences.is_empty()),
        ("reload_interval", t.reload_interval.is_some()),
    ]
    .into_iter()
    .filter_map(|(k, set)| set.then_some(k))
    .collect();
    if !ignored.is_empty() {
        warnings.push(format!(
            "{path}: {} not acted on yet (files are read once at start-up; rustls' default versions and suites)",
            ignored.join(", ")
        ));
    }
    Ok(Some(crate::TlsFiles {
        cert_file: PathBuf::from(cert),
        key_file: PathBuf::from(key),
        client_ca_file: t
            .client_ca_file
            .as_ref()
            .filter(|f| !f.is_empty())
            .map(PathBuf::from),
        key: path.to_string(),
    }))
}

/// `jaeger_query.storage.traces_archive`: a memory or badger backend of its own.
fn archive_backend(
    v2: &JaegerV2Config,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<crate::ArchiveConfig, ConfigError> {
    let path = format!("extensions.jaeger_storage.backends.{name}");
    let backend = v2
        .backend(name)
        .ok_or_else(|| ConfigError::UndefinedStorage {
            path: "extensions.jaeger_query.storage.traces_archive".into(),
            what: "storage backend",
            name: name.to_string(),
            section: "extensions.jaeger_storage.backends",
            defined: v2
                .jaeger_storage()
                .map(|s| s.backends.keys().cloned().collect())
                .unwrap_or_default(),
        })?;
    match backend.kind() {
        Some(BackendKind::Memory) => {
            let m = backend.memory.as_ref().expect("kind() said memory");
            Ok(crate::ArchiveConfig {
                kind: StorageKind::Memory,
                data_dir: None,
                max_traces: usize::try_from(m.max_traces).unwrap_or(usize::MAX),
                cassandra: None,
                elasticsearch: None,
            })
        }
        Some(BackendKind::Badger) => {
            let b = backend.badger.as_ref().expect("kind() said badger");
            let dir = if b.ephemeral {
                std::env::temp_dir().join(format!(
                    "jaeger-badger-archive-ephemeral-{}",
                    std::process::id()
                ))
            } else {
                match &b.directories.keys {
                    Some(k) => PathBuf::from(k),
                    None => {
                        return Err(ConfigError::invalid(
                            format!("{path}.badger.directories.keys"),
                            "an archive store needs a directory of its own".to_string(),
                        ));
                    }
                }
            };
            warnings.push(format!(
                "{path}.badger.ttl is not applied to the archive: archived traces are kept"
            ));
            Ok(crate::ArchiveConfig {
                kind: StorageKind::Embedded,
                data_dir: Some(dir),
                max_traces: 0,
                cassandra: None,
                elasticsearch: None,
            })
        }
        Some(BackendKind::Cassandra) => Ok(crate::ArchiveConfig {
            kind: StorageKind::Cassandra,
            data_dir: None,
            max_traces: 0,
            cassandra: backend.cassandra.clone(),
            elasticsearch: None,
        }),
        Some(kind @ (BackendKind::Elasticsearch | BackendKind::Opensearch)) => {
            Ok(crate::ArchiveConfig {
                kind: StorageKind::Elasticsearch,
                data_dir: None,
                max_traces: 0,
                cassandra: None,
                elasticsearch: Some(es_storage(backend, kind)),
            })
        }
        Some(kind) => Err(ConfigError::UnsupportedBackend {
            path,
            kind: kind.as_str(),
        }),
        None => Err(ConfigError::BackendKind {
            path,
            found: backend.kinds().iter().map(|k| k.as_str()).collect(),
            valid: &["memory", "badger"],
        }),
    }
}

/// The Elasticsearch / OpenSearch section of a backend whose kind is one of the two.
fn es_storage(backend: &TraceBackend, kind: BackendKind) -> crate::ElasticsearchStorage {
    let opensearch = kind == BackendKind::Opensearch;
    let section = if opensearch {
        backend.opensearch.as_ref()
    } else {
        backend.elasticsearch.as_ref()
    };
    crate::ElasticsearchStorage {
        opensearch,
        backend: section
            .cloned()
            .expect("kind() said elasticsearch / opensearch"),
    }
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
