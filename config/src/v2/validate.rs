//! Checks that need more than one key: references between sections, exactly-one
//! rules, ranges. All problems are reported together.

use std::collections::BTreeSet;

use super::components::{Exporter, KAFKA_TRACE_ENCODINGS, Processor, Receiver};
use super::error::ConfigError;
use super::extensions::Extension;
use super::model::{ComponentId, JaegerV2Config, LOG_LEVELS, TELEMETRY_LEVELS};
use super::storage::{
    CASSANDRA_CONSISTENCIES, ElasticsearchBackend, JaegerStorageExtension, TraceBackend,
};

const BACKEND_KINDS: &[&str] = &[
    "memory",
    "badger",
    "cassandra",
    "elasticsearch",
    "opensearch",
    "grpc",
];
const METRIC_BACKEND_KINDS: &[&str] = &["prometheus", "elasticsearch", "opensearch"];
const SIGNALS: &[&str] = &["traces", "metrics", "logs"];

/// Runs every semantic check; `Ok` or one error (or `Many`).
pub fn validate(cfg: &JaegerV2Config) -> Result<(), ConfigError> {
    let mut v = Checker {
        cfg,
        errors: Vec::new(),
    };
    v.service();
    v.extensions();
    v.receivers();
    v.processors();
    v.exporters();
    match ConfigError::from_list(v.errors) {
        None => Ok(()),
        Some(e) => Err(e),
    }
}

struct Checker<'a> {
    cfg: &'a JaegerV2Config,
    errors: Vec<ConfigError>,
}

/// The backends of the (single) `jaeger_storage` extension, if there is one.
pub(crate) fn storage_extension(
    cfg: &JaegerV2Config,
) -> Option<(&ComponentId, &JaegerStorageExtension)> {
    cfg.extensions.iter().find_map(|(id, e)| match e {
        Extension::JaegerStorage(s) => Some((id, s)),
        _ => None,
    })
}

fn in_range(x: f64, lo: f64, hi: f64) -> bool {
    x.is_finite() && x >= lo && x <= hi
}

impl Checker<'_> {
    fn push(&mut self, e: ConfigError) {
        self.errors.push(e);
    }

    fn invalid(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.errors.push(ConfigError::invalid(path, message));
    }

    fn service(&mut self) {
        let cfg = self.cfg;
        let mut seen = BTreeSet::new();
        for (i, ext) in cfg.service.extensions.iter().enumerate() {
            let path = format!("service.extensions[{i}]");
            if !seen.insert(ext.as_str()) {
                self.invalid(path, format!("extension \"{ext}\" is listed twice"));
                continue;
            }
            if !cfg.extensions.contains(ext) {
                self.push(ConfigError::UndefinedComponent {
                    path,
                    family: "extension",
                    id: ext.clone(),
                    defined: cfg.extensions.ids(),
                });
            }
        }

        if cfg.service.pipelines.is_empty() {
            self.invalid("service.pipelines", "at least one pipeline is required");
        }
        // Connectors link pipelines: each one used must be an exporter in one pipeline
        // and a receiver in another.
        let mut connector_as_exporter = BTreeSet::new();
        let mut connector_as_receiver = BTreeSet::new();
        for (pid, p) in &cfg.service.pipelines {
            let base = format!("service.pipelines.{pid}");
            match ComponentId::parse(pid) {
                Ok(id) if SIGNALS.contains(&id.ty.as_str()) => {}
                Ok(id) => self.invalid(
                    base.clone(),
                    format!(
                        "unknown pipeline type \"{}\"; a pipeline id is traces, metrics or logs, optionally followed by /name",
                        id.ty
                    ),
                ),
                Err(e) => self.invalid(base.clone(), e),
            }
            if p.receivers.is_empty() {
                self.invalid(
                    format!("{base}.receivers"),
                    "a pipeline needs at least one receiver",
                );
            }
            if p.exporters.is_empty() {
                self.invalid(
                    format!("{base}.exporters"),
                    "a pipeline needs at least one exporter",
                );
            }
            self.refs(&base, "receivers", &p.receivers, |id| {
                if cfg.connectors.contains(id) {
                    connector_as_receiver.insert(id.to_string());
                    true
                } else {
                    cfg.receivers.contains(id)
                }
            });
            self.refs(&base, "processors", &p.processors, |id| {
                cfg.processors.contains(id)
            });
            self.refs(&base, "exporters", &p.exporters, |id| {
                if cfg.connectors.contains(id) {
                    connector_as_exporter.insert(id.to_string());
                    true
                } else {
                    cfg.exporters.contains(id)
                }
            });
        }
        for c in connector_as_receiver.symmetric_difference(&connector_as_exporter) {
            self.invalid(
                format!("connectors.{c}"),
                "a connector must be an exporter in one pipeline and a receiver in another",
            );
        }

        let t = &cfg.service.telemetry;
        if !TELEMETRY_LEVELS.contains(&t.metrics.level.as_str()) {
            self.invalid(
                "service.telemetry.metrics.level",
                format!(
                    "\"{}\" is not one of {}",
                    t.metrics.level,
                    TELEMETRY_LEVELS.join(", ")
                ),
            );
        }
        if !LOG_LEVELS.contains(&t.logs.level.to_ascii_lowercase().as_str()) {
            self.invalid(
                "service.telemetry.logs.level",
                format!(
                    "\"{}\" is not one of {}",
                    t.logs.level,
                    LOG_LEVELS.join(", ")
                ),
            );
        }
        for (i, r) in t.metrics.readers.iter().enumerate() {
            if r.pull.is_none() && r.periodic.is_none() {
                self.invalid(
                    format!("service.telemetry.metrics.readers[{i}]"),
                    "a reader needs pull or periodic",
                );
            }
            if let Some(p) = &r.pull
                && p.exporter.prometheus.is_none()
            {
                self.invalid(
                    format!("service.telemetry.metrics.readers[{i}].pull.exporter"),
                    "only the prometheus pull exporter is supported",
                );
            }
        }
    }

    /// Checks that each id in a pipeline list is defined.
    fn refs(
        &mut self,
        base: &str,
        list: &'static str,
        ids: &[String],
        mut defined: impl FnMut(&str) -> bool,
    ) {
        let (family, all) = match list {
            "receivers" => ("receiver", self.cfg.receivers.ids()),
            "processors" => ("processor", self.cfg.processors.ids()),
            _ => ("exporter", self.cfg.exporters.ids()),
        };
        let mut seen = BTreeSet::new();
        for (i, id) in ids.iter().enumerate() {
            let path = format!("{base}.{list}[{i}]");
            if !seen.insert(id.as_str()) {
                self.invalid(path, format!("{family} \"{id}\" is listed twice"));
                continue;
            }
            if !defined(id) {
                let mut all = all.clone();
                if list != "processors" {
                    all.extend(self.cfg.connectors.ids());
                }
                self.push(ConfigError::UndefinedComponent {
                    path,
                    family,
                    id: id.clone(),
                    defined: all,
                });
            }
        }
    }

    fn backend_ref(&mut self, path: String, name: &str, required: bool) {
        let cfg = self.cfg;
        let defined: Vec<String> = storage_extension(cfg)
            .map(|(_, s)| s.backends.keys().cloned().collect())
            .unwrap_or_default();
        let ok = storage_extension(cfg).is_some_and(|(_, s)| s.backends.contains_key(name));
        if (name.is_empty() && required) || (!name.is_empty() && !ok) {
            self.push(ConfigError::UndefinedStorage {
                path,
                what: "storage backend",
                name: name.to_string(),
                section: "extensions.jaeger_storage.backends",
                defined,
            });
        }
    }

    fn extensions(&mut self) {
        let cfg = self.cfg;
        let storage_count = cfg
            .extensions
            .iter()
            .filter(|(_, e)| matches!(e, Extension::JaegerStorage(_)))
            .count();
        if storage_count > 1 {
            self.invalid("extensions", "define at most one jaeger_storage extension");
        }
        for (id, ext) in cfg.extensions.iter() {
            let base = format!("extensions.{id}");
            match ext {
                Extension::JaegerStorage(s) => self.jaeger_storage(&base, s),
                Extension::JaegerQuery(q) => {
                    self.backend_ref(format!("{base}.storage.traces"), &q.storage.traces, true);
                    if let Some(a) = &q.storage.traces_archive {
                        self.backend_ref(format!("{base}.storage.traces_archive"), a, true);
                    }
                    if let Some(m) = &q.storage.metrics {
                        let defined: Vec<String> = storage_extension(cfg)
                            .map(|(_, s)| s.metric_backends.keys().cloned().collect())
                            .unwrap_or_default();
                        if !defined.contains(m) {
                            self.push(ConfigError::UndefinedStorage {
                                path: format!("{base}.storage.metrics"),
                                what: "metric backend",
                                name: m.clone(),
                                section: "extensions.jaeger_storage.metric_backends",
                                defined,
                            });
                        }
                    }
                    if let Err(e) = super::runtime::normalize_base_path(&q.base_path) {
                        self.invalid(format!("{base}.base_path"), e);
                    }
                }
                Extension::RemoteSampling(r) => {
                    match (&r.file, &r.adaptive) {
                        (Some(_), Some(_)) => {
                            self.invalid(base.clone(), "set only one of file and adaptive")
                        }
                        (None, None) => self.invalid(base.clone(), "set one of file and adaptive"),
                        _ => {}
                    }
                    if let Some(f) = &r.file
                        && !in_range(f.default_sampling_probability, 0.0, 1.0)
                    {
                        self.invalid(
                            format!("{base}.file.default_sampling_probability"),
                            "must be between 0 and 1",
                        );
                    }
                    if let Some(a) = &r.adaptive {
                        self.backend_ref(
                            format!("{base}.adaptive.sampling_store"),
                            &a.sampling_store,
                            true,
                        );
                        for (k, x) in [
                            (
                                "initial_sampling_probability",
                                a.initial_sampling_probability,
                            ),
                            ("min_sampling_probability", a.min_sampling_probability),
                        ] {
                            if !in_range(x, 0.0, 1.0) {
                                self.invalid(
                                    format!("{base}.adaptive.{k}"),
                                    "must be between 0 and 1",
                                );
                            }
                        }
                        if a.target_samples_per_second.is_nan()
                            || a.target_samples_per_second <= 0.0
                        {
                            self.invalid(
                                format!("{base}.adaptive.target_samples_per_second"),
                                "must be greater than 0",
                            );
                        }
                    }
                }
                Extension::RemoteStorage(r) => {
                    self.backend_ref(format!("{base}.storage"), &r.storage, true)
                }
                Extension::Dependencies(d) => {
                    if d.schedule.trim().is_empty() {
                        self.invalid(
                            format!("{base}.schedule"),
                            "required: a cron expression such as \"0 5 0 * * *\"",
                        );
                    }
                    if d.lookback.0.is_zero() {
                        self.invalid(format!("{base}.lookback"), "must be greater than 0");
                    }
                }
                Extension::HealthCheckV2(_)
                | Extension::Expvar(_)
                | Extension::Zpages(_)
                | Extension::Pprof(_) => {}
            }
        }
        // jaeger_query and the storage exporter find jaeger_storage at run time.
        let needs_storage = cfg.service.extensions.iter().any(|e| {
            matches!(
                cfg.extensions.get(e),
                Some(Extension::JaegerQuery(_) | Extension::RemoteStorage(_))
            )
        });
        if needs_storage
            && let Some((id, _)) = storage_extension(cfg)
            && !cfg.service.extensions.iter().any(|e| *e == id.to_string())
        {
            self.invalid(
                "service.extensions",
                format!("\"{id}\" must be listed: jaeger_query and remote_storage read from it"),
            );
        }
    }

    fn jaeger_storage(&mut self, base: &str, s: &JaegerStorageExtension) {
        for (name, b) in &s.backends {
            let path = format!("{base}.backends.{name}");
            let kinds: Vec<&'static str> = b.kinds().iter().map(|k| k.as_str()).collect();
            if kinds.len() != 1 {
                self.push(ConfigError::BackendKind {
                    path: path.clone(),
                    found: kinds,
                    valid: BACKEND_KINDS,
                });
                continue;
            }
            self.backend(&path, b);
        }
        for (name, m) in &s.metric_backends {
            let path = format!("{base}.metric_backends.{name}");
            let kinds = m.kinds();
            if kinds.len() != 1 {
                self.push(ConfigError::BackendKind {
                    path: path.clone(),
                    found: kinds,
                    valid: METRIC_BACKEND_KINDS,
                });
            }
            if let Some(es) = &m.elasticsearch {
                self.es(&format!("{path}.elasticsearch"), es);
            }
            if let Some(es) = &m.opensearch {
                self.es(&format!("{path}.opensearch"), es);
            }
        }
    }

    fn backend(&mut self, path: &str, b: &TraceBackend) {
        if let Some(m) = &b.memory
            && m.max_traces == 0
        {
            self.invalid(
                format!("{path}.memory.max_traces"),
                "must be greater than 0",
            );
        }
        if let Some(bd) = &b.badger {
            if !bd.ephemeral && bd.directories.keys.as_deref().is_some_and(str::is_empty) {
                self.invalid(
                    format!("{path}.badger.directories.keys"),
                    "must not be empty",
                );
            }
            if bd.ttl.spans.is_zero() {
                self.invalid(format!("{path}.badger.ttl.spans"), "must be greater than 0");
            }
        }
        if let Some(c) = &b.cassandra {
            let p = format!("{path}.cassandra");
            if c.connection.servers.0.is_empty() {
                self.invalid(
                    format!("{p}.connection.servers"),
                    "at least one server is required",
                );
            }
            if c.schema.keyspace.is_empty() {
                self.invalid(format!("{p}.schema.keyspace"), "must not be empty");
            } else if !c
                .schema
                .keyspace
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
            {
                self.invalid(
                    format!("{p}.schema.keyspace"),
                    "may only hold letters, digits and '_'",
                );
            }
            if let Some(cons) = &c.query.consistency
                && !CASSANDRA_CONSISTENCIES.contains(&cons.to_ascii_uppercase().as_str())
            {
                self.invalid(
                    format!("{p}.query.consistency"),
                    format!(
                        "\"{cons}\" is not one of {}",
                        CASSANDRA_CONSISTENCIES.join(", ")
                    ),
                );
            }
            if c.index.tag_blacklist.is_some() && c.index.tag_whitelist.is_some() {
                self.invalid(
                    format!("{p}.index"),
                    "tag_blacklist and tag_whitelist cannot both be set",
                );
            }
        }
        if let Some(es) = &b.elasticsearch {
            self.es(&format!("{path}.elasticsearch"), es);
        }
        if let Some(es) = &b.opensearch {
            self.es(&format!("{path}.opensearch"), es);
        }
        if let Some(g) = &b.grpc
            && g.endpoint.is_empty()
        {
            self.invalid(format!("{path}.grpc.endpoint"), "is required");
        }
    }

    fn es(&mut self, p: &str, es: &ElasticsearchBackend) {
        if es.server_urls.0.is_empty() {
            self.invalid(format!("{p}.server_urls"), "at least one URL is required");
        }
        for (i, u) in es.server_urls.0.iter().enumerate() {
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                self.invalid(
                    format!("{p}.server_urls[{i}]"),
                    format!("\"{u}\" is not an http:// or https:// URL"),
                );
            }
        }
        let auths = [
            es.auth.basic.is_some(),
            es.auth.bearer_token.is_some(),
            es.auth.api_key.is_some(),
        ];
        if auths.iter().filter(|x| **x).count() > 1 {
            self.invalid(
                format!("{p}.auth"),
                "set at most one of basic, bearer_token and api_key",
            );
        }
        if let Some(prefix) = &es.index_prefix
            && !es.indices.index_prefix.is_empty()
            && *prefix != es.indices.index_prefix
        {
            self.invalid(
                format!("{p}.index_prefix"),
                "differs from indices.index_prefix; set only one",
            );
        }
        if let (Some(a), Some(b)) = (es.create_mappings, es.create_index_templates)
            && a != b
        {
            self.invalid(
                format!("{p}.create_index_templates"),
                "differs from create_mappings; set only one",
            );
        }
        if es.use_ilm && !es.use_aliases {
            self.invalid(format!("{p}.use_ilm"), "requires use_aliases: true");
        }
        if es.use_ilm && es.effective_create_mappings() {
            self.invalid(format!("{p}.use_ilm"), "requires create_mappings: false");
        }
        for (name, idx) in [
            ("spans", &es.indices.spans),
            ("services", &es.indices.services),
            ("dependencies", &es.indices.dependencies),
            ("sampling", &es.indices.sampling),
        ] {
            let ip = format!("{p}.indices.{name}");
            if idx.shards == 0 {
                self.invalid(format!("{ip}.shards"), "must be greater than 0");
            }
            if let Some(r) = &idx.rotation {
                let n = [
                    r.periodic.is_some(),
                    r.manual_rollover.is_some(),
                    r.auto_rollover.is_some(),
                ]
                .iter()
                .filter(|x| **x)
                .count();
                if n > 1 {
                    self.invalid(
                        format!("{ip}.rotation"),
                        "set only one of periodic, manual_rollover and auto_rollover",
                    );
                }
                if es.use_aliases {
                    self.invalid(
                        format!("{ip}.rotation"),
                        "cannot be combined with the deprecated use_aliases",
                    );
                }
                if let Some(pr) = &r.periodic
                    && !matches!(pr.rollover_frequency.as_str(), "day" | "hour")
                {
                    self.invalid(
                        format!("{ip}.rotation.periodic.rollover_frequency"),
                        "must be day or hour",
                    );
                }
            }
            if let Some(f) = &idx.rollover_frequency
                && !matches!(f.as_str(), "day" | "hour")
            {
                self.invalid(format!("{ip}.rollover_frequency"), "must be day or hour");
            }
        }
        if let Some(m) = &es.write_mode
            && !matches!(m.as_str(), "async" | "sync")
        {
            self.invalid(format!("{p}.write_mode"), "must be async or sync");
        }
        if let Some(m) = &es.poison_pill_handling
            && !matches!(m.as_str(), "fail" | "drop")
        {
            self.invalid(format!("{p}.poison_pill_handling"), "must be fail or drop");
        }
        if !matches!(es.log_level.as_str(), "error" | "info" | "debug") {
            self.invalid(format!("{p}.log_level"), "must be error, info or debug");
        }
    }

    fn receivers(&mut self) {
        for (id, r) in self.cfg.receivers.iter() {
            let base = format!("receivers.{id}");
            match r {
                Receiver::Otlp(o) => {
                    if o.protocols.grpc.is_none() && o.protocols.http.is_none() {
                        self.invalid(
                            format!("{base}.protocols"),
                            "enable at least one of grpc and http",
                        );
                    }
                }
                Receiver::Jaeger(j) => {
                    let p = &j.protocols;
                    if p.grpc.is_none()
                        && p.thrift_http.is_none()
                        && p.thrift_compact.is_none()
                        && p.thrift_binary.is_none()
                    {
                        self.invalid(
                            format!("{base}.protocols"),
                            "enable at least one of grpc, thrift_http, thrift_compact and thrift_binary",
                        );
                    }
                }
                Receiver::Kafka(k) => {
                    if k.brokers.0.is_empty() {
                        self.invalid(format!("{base}.brokers"), "at least one broker is required");
                    }
                    let enc = k.trace_encoding();
                    if !(KAFKA_TRACE_ENCODINGS.contains(&enc) || enc == "zipkin_thrift") {
                        self.invalid(
                            format!("{base}.traces.encoding"),
                            format!(
                                "\"{enc}\" is not one of {}, zipkin_thrift",
                                KAFKA_TRACE_ENCODINGS.join(", ")
                            ),
                        );
                    }
                    if !matches!(k.initial_offset.as_str(), "latest" | "earliest") {
                        self.invalid(
                            format!("{base}.initial_offset"),
                            "must be latest or earliest",
                        );
                    }
                }
                Receiver::Zipkin(_) | Receiver::Nop(_) => {}
            }
        }
    }

    fn processors(&mut self) {
        let cfg = self.cfg;
        // The adaptive_sampling processor feeds the remote_sampling extension's
        // adaptive provider; without it there is nothing to feed.
        for (pid, p) in &cfg.service.pipelines {
            for (i, id) in p.processors.iter().enumerate() {
                if !matches!(cfg.processors.get(id), Some(Processor::AdaptiveSampling(_))) {
                    continue;
                }
                let adaptive = cfg.service.extensions.iter().any(|e| {
                    matches!(cfg.extensions.get(e), Some(Extension::RemoteSampling(r)) if r.adaptive.is_some())
                });
                if !adaptive {
                    self.invalid(
                        format!("service.pipelines.{pid}.processors[{i}]"),
                        "the adaptive_sampling processor needs a running remote_sampling extension with adaptive settings",
                    );
                }
            }
        }
        for (id, p) in self.cfg.processors.iter() {
            let base = format!("processors.{id}");
            match p {
                Processor::Batch(b) => {
                    if b.send_batch_max_size != 0 && b.send_batch_max_size < b.send_batch_size {
                        self.invalid(
                            format!("{base}.send_batch_max_size"),
                            "must be 0 or at least send_batch_size",
                        );
                    }
                }
                Processor::MemoryLimiter(m) => {
                    if m.check_interval.is_zero() {
                        self.invalid(format!("{base}.check_interval"), "must be greater than 0");
                    }
                    if m.limit_mib == 0 && m.limit_percentage == 0 {
                        self.invalid(base.clone(), "set limit_mib or limit_percentage");
                    }
                    if m.limit_percentage > 100 || m.spike_limit_percentage > 100 {
                        self.invalid(base.clone(), "percentages must be at most 100");
                    }
                    if m.limit_mib != 0 && m.spike_limit_mib >= m.limit_mib {
                        self.invalid(
                            format!("{base}.spike_limit_mib"),
                            "must be less than limit_mib",
                        );
                    }
                }
                Processor::AdaptiveSampling(_)
                | Processor::TailSampling(_)
                | Processor::Attributes(_)
                | Processor::Filter(_) => {}
            }
        }
    }

    fn exporters(&mut self) {
        for (id, e) in self.cfg.exporters.iter() {
            let base = format!("exporters.{id}");
            match e {
                Exporter::JaegerStorage(s) => {
                    self.backend_ref(format!("{base}.trace_storage"), &s.trace_storage, true);
                    if let Some(q) = &s.queue {
                        self.queue(&format!("{base}.queue"), q);
                    }
                }
                Exporter::Kafka(k) => {
                    if k.brokers.0.is_empty() {
                        self.invalid(format!("{base}.brokers"), "at least one broker is required");
                    }
                    let enc = k.trace_encoding();
                    if !KAFKA_TRACE_ENCODINGS.contains(&enc) {
                        self.invalid(
                            format!("{base}.traces.encoding"),
                            format!(
                                "\"{enc}\" is not one of {}",
                                KAFKA_TRACE_ENCODINGS.join(", ")
                            ),
                        );
                    }
                    if let Some(q) = &k.sending_queue {
                        self.queue(&format!("{base}.sending_queue"), q);
                    }
                }
                Exporter::Otlp(o) => {
                    if o.endpoint.is_empty() {
                        self.invalid(format!("{base}.endpoint"), "is required");
                    }
                }
                Exporter::OtlpHttp(o) => {
                    if o.endpoint.is_empty() && o.traces_endpoint.is_none() {
                        self.invalid(format!("{base}.endpoint"), "is required");
                    }
                }
                Exporter::Prometheus(p) => {
                    if p.endpoint.is_empty() {
                        self.invalid(format!("{base}.endpoint"), "is required");
                    }
                }
                Exporter::Debug(d) => {
                    if !matches!(d.verbosity.as_str(), "basic" | "normal" | "detailed") {
                        self.invalid(
                            format!("{base}.verbosity"),
                            "must be basic, normal or detailed",
                        );
                    }
                }
                Exporter::Nop(_) => {}
            }
        }
    }

    fn queue(&mut self, p: &str, q: &super::common::QueueSettings) {
        if !matches!(q.sizer.as_str(), "requests" | "items" | "bytes") {
            self.invalid(format!("{p}.sizer"), "must be requests, items or bytes");
        }
        if q.enabled && q.queue_size == 0 {
            self.invalid(format!("{p}.queue_size"), "must be greater than 0");
        }
        if q.enabled && q.num_consumers == 0 {
            self.invalid(format!("{p}.num_consumers"), "must be greater than 0");
        }
    }
}
