//! Elasticsearch 7/8/9 and OpenSearch 1–3 backend with Jaeger's index layout (storage spec
//! §2), on the `elasticsearch` REST client.
//!
//! Writes: one span document per span in `<prefix>jaeger-span-<date>` and one service
//! document per (service, operation) in `<prefix>jaeger-service-<date>`, through `_bulk`,
//! so Jaeger and this backend read each other's indices. Reads follow Jaeger's reader:
//! the `traceID` terms aggregation for search (every condition on one span document),
//! `_msearch` with `search_after` paging for traces, aggregations on the service index.
//! Where we differ (docs/storage-elasticsearch.md): writes are acknowledged only when the
//! bulk request succeeded for every document (retrying per-document 429/5xx), tag values
//! are matched literally (escaped in the `regexp`), and the start window is also applied
//! to `startTime` in µs so that bounds are exact.

pub mod doc;
pub mod index_tools;
pub mod templates;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use elasticsearch::auth::{ClientCertificate, Credentials};
use elasticsearch::cert::{Certificate, CertificateValidation};
pub use elasticsearch::http::Method;
use elasticsearch::http::Url;
use elasticsearch::http::headers::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use elasticsearch::http::transport::{MultiNodeConnectionPool, TransportBuilder};
use jaeger_model::otlp::ResourceSpans;
use jaeger_model::{Trace, TraceId};
use jaeger_proto::api_v2::{Batch, Span};
use jaeger_proto::convert::{batch_to_otlp, spans_from_otlp};
use serde_json::{Value, json};

pub use doc::TagsAsFields;
pub use templates::{Flavor, IndexSettings};

use crate::{
    DependencyLink, DependencyStore, GetTraceParams, Operation, OperationQuery, Result, SpanReader,
    SpanWriter, StorageError, StorageHealth, TraceQuery, UnixNanos,
};

const HOUR_NS: u64 = 3_600_000_000_000;
const DAY_NS: u64 = 24 * HOUR_NS;

/// Authentication to the cluster.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum EsAuth {
    #[default]
    None,
    Basic {
        username: String,
        password: String,
    },
    Bearer(String),
    /// `ApiKey <base64 id:key>` as Elasticsearch issues it.
    ApiKey(String),
}

/// Which secret a file holds.
#[derive(Clone, Debug, PartialEq)]
pub enum AuthFileKind {
    Bearer,
    /// `ApiKey <base64 id:key>`.
    ApiKey,
    /// The password of basic auth for `username`.
    BasicPassword {
        username: String,
    },
}

/// A secret read from a file at start and, with `reload_interval`, read again when a
/// request is sent that long after the last read (Jaeger v2's `auth.*.file_path` /
/// `password_file` with `reload_interval`), so rotated tokens take effect without a
/// restart. Overrides [`EsConfig::auth`].
#[derive(Clone, Debug, PartialEq)]
pub struct AuthFile {
    pub kind: AuthFileKind,
    pub path: std::path::PathBuf,
    /// `None` or zero: read once.
    pub reload_interval: Option<Duration>,
}

/// How one index kind rotates.
#[derive(Clone, Debug, PartialEq)]
pub struct Rotation {
    /// Go date layout of the date suffix (`2006-01-02`; `2006-01-02-15` hourly).
    pub date_layout: String,
    /// Step between read targets: a day, or an hour for hourly layouts.
    pub hourly: bool,
}

impl Default for Rotation {
    fn default() -> Self {
        Self {
            date_layout: "2006-01-02".into(),
            hourly: false,
        }
    }
}

/// How to reach the cluster and what to write (Jaeger v2's `backends.X.elasticsearch` /
/// `.opensearch`).
#[derive(Clone, Debug, PartialEq)]
pub struct EsConfig {
    pub server_urls: Vec<String>,
    /// The backend was configured as `opensearch`.
    pub opensearch: bool,
    /// 7/8/9 Elasticsearch, 101–103 OpenSearch; 0 detects it from `GET /`.
    pub version: u32,
    pub auth: EsAuth,
    /// PEM CA certificate(s) trusted for https URLs.
    pub ca_pem: Option<Vec<u8>>,
    /// PEM client certificate chain presented to the cluster (mTLS), with
    /// `client_key_pem`.
    pub client_cert_pem: Option<Vec<u8>>,
    /// PEM private key of `client_cert_pem` (PKCS#8, PKCS#1 or SEC1).
    pub client_key_pem: Option<Vec<u8>>,
    /// A secret kept in a file, re-read on an interval; replaces `auth`.
    pub auth_file: Option<AuthFile>,
    pub insecure_skip_verify: bool,
    pub custom_headers: Vec<(String, String)>,
    pub http_compression: bool,
    pub query_timeout: Option<Duration>,
    /// Raw `index_prefix` (`p` gives `p-jaeger-span-…`).
    pub index_prefix: String,
    pub spans: IndexSettings,
    pub services: IndexSettings,
    pub span_rotation: Rotation,
    pub service_rotation: Rotation,
    pub dependencies_rotation: Rotation,
    /// Write to `…-write` and read from `…-read` aliases (es-rollover layout).
    pub use_aliases: bool,
    pub create_templates: bool,
    pub tags_as_fields: TagsAsFields,
    /// Largest `_bulk` request body.
    pub bulk_max_bytes: usize,
    /// `_bulk` requests in flight per write.
    pub bulk_workers: usize,
    /// Drop documents the cluster rejects as malformed instead of failing the write
    /// (`poison_pill_handling: drop`).
    pub drop_rejected: bool,
    /// `refresh` parameter of writes (`true`, `wait_for`); `None` leaves refresh to the
    /// index (tests use `true` to read their writes at once).
    pub refresh: Option<String>,
    pub max_span_age: Duration,
    pub max_trace_duration: Duration,
    pub max_doc_count: usize,
    pub service_cache_ttl: Duration,
}

impl Default for EsConfig {
    fn default() -> Self {
        Self {
            server_urls: vec!["http://127.0.0.1:9200".into()],
            opensearch: false,
            version: 0,
            auth: EsAuth::None,
            ca_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            auth_file: None,
            insecure_skip_verify: false,
            custom_headers: Vec::new(),
            http_compression: false,
            query_timeout: None,
            index_prefix: String::new(),
            spans: IndexSettings::default(),
            services: IndexSettings::default(),
            span_rotation: Rotation::default(),
            service_rotation: Rotation::default(),
            dependencies_rotation: Rotation::default(),
            use_aliases: false,
            create_templates: true,
            tags_as_fields: TagsAsFields::default(),
            bulk_max_bytes: 5_000_000,
            bulk_workers: 1,
            drop_rejected: false,
            refresh: None,
            max_span_age: Duration::from_secs(72 * 3600),
            max_trace_duration: Duration::from_secs(24 * 3600),
            max_doc_count: 10_000,
            service_cache_ttl: Duration::from_secs(12 * 3600),
        }
    }
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(format!("elasticsearch: {what}: {e}"))
}

/// The credentials of a secret of `kind`.
fn file_credentials(kind: &AuthFileKind, secret: String) -> Credentials {
    match kind {
        AuthFileKind::Bearer => Credentials::Bearer(secret),
        AuthFileKind::ApiKey => Credentials::EncodedApiKey(secret),
        AuthFileKind::BasicPassword { username } => Credentials::Basic(username.clone(), secret),
    }
}

fn auth_credentials(auth: &EsAuth) -> Option<Credentials> {
    match auth {
        EsAuth::None => None,
        EsAuth::Basic { username, password } => {
            Some(Credentials::Basic(username.clone(), password.clone()))
        }
        EsAuth::Bearer(t) => Some(Credentials::Bearer(t.clone())),
        EsAuth::ApiKey(k) => Some(Credentials::EncodedApiKey(k.clone())),
    }
}

/// Re-reads an [`AuthFile`] when its interval has passed since the last read.
struct AuthReloader {
    file: AuthFile,
    interval: Duration,
    /// Last read and the secret it gave (std mutex: never held across an await).
    state: Mutex<(Instant, String)>,
}

impl AuthReloader {
    /// The secret to install if a read is due and the file changed.
    async fn due(&self) -> Option<String> {
        {
            let state = self
                .state
                .lock()
                .expect("auth state lock is never poisoned");
            if state.0.elapsed() < self.interval {
                return None;
            }
        }
        let read = tokio::fs::read_to_string(&self.file.path).await;
        let mut state = self
            .state
            .lock()
            .expect("auth state lock is never poisoned");
        // Whatever the outcome, the next read is one interval away.
        state.0 = Instant::now();
        match read {
            Ok(s) => {
                let s = s.trim().to_string();
                if s.is_empty() || s == state.1 {
                    return None;
                }
                state.1 = s.clone();
                Some(s)
            }
            Err(e) => {
                // Keep the secret we have: the file may be mid-rotation.
                tracing::warn!(
                    "elasticsearch: re-reading {}: {e}; keeping the previous secret",
                    self.file.path.display()
                );
                None
            }
        }
    }
}

/// A thin REST layer over the `elasticsearch` client: JSON in, status and JSON out.
#[derive(Clone)]
pub struct EsClient {
    client: elasticsearch::Elasticsearch,
    timeout: Option<Duration>,
    reload: Option<Arc<AuthReloader>>,
}

impl EsClient {
    pub fn new(config: &EsConfig) -> Result<Self> {
        let urls: Vec<Url> = config
            .server_urls
            .iter()
            .map(|u| {
                Url::parse(u)
                    .map_err(|e| StorageError::InvalidQuery(format!("server URL {u:?}: {e}")))
            })
            .collect::<Result<_>>()?;
        if urls.is_empty() {
            return Err(StorageError::InvalidQuery(
                "elasticsearch: no server_urls".into(),
            ));
        }
        let mut b = TransportBuilder::new(MultiNodeConnectionPool::round_robin(urls, None))
            .request_body_compression(config.http_compression)
            .enable_meta_header(false);
        let mut reload = None;
        let credentials = match &config.auth_file {
            Some(f) => {
                let secret = std::fs::read_to_string(&f.path)
                    .map_err(|e| {
                        StorageError::InvalidQuery(format!(
                            "elasticsearch: reading {}: {e}",
                            f.path.display()
                        ))
                    })?
                    .trim()
                    .to_string();
                if let Some(interval) = f.reload_interval.filter(|i| !i.is_zero()) {
                    reload = Some(Arc::new(AuthReloader {
                        file: f.clone(),
                        interval,
                        state: Mutex::new((Instant::now(), secret.clone())),
                    }));
                }
                Some(file_credentials(&f.kind, secret))
            }
            None => auth_credentials(&config.auth),
        };
        match (&config.client_cert_pem, &config.client_key_pem) {
            (Some(cert), Some(key)) => {
                // The client builds its TLS identity from certificate credentials; the
                // credentials for the Authorization header are set after the build.
                let mut pem = cert.clone();
                pem.push(b'\n');
                pem.extend_from_slice(key);
                b = b.auth(Credentials::Certificate(ClientCertificate::Pem(pem)));
            }
            (None, None) => {}
            _ => {
                return Err(StorageError::InvalidQuery(
                    "elasticsearch: a client certificate needs both cert and key".into(),
                ));
            }
        }
        if config.insecure_skip_verify {
            b = b.cert_validation(CertificateValidation::None);
        } else if let Some(pem) = &config.ca_pem {
            let cert = Certificate::from_pem(pem)
                .map_err(|e| StorageError::InvalidQuery(format!("elasticsearch CA: {e}")))?;
            b = b.cert_validation(CertificateValidation::Full(cert));
        }
        let mut headers = HeaderMap::new();
        for (k, v) in &config.custom_headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| StorageError::InvalidQuery(format!("header {k:?}: {e}")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|e| StorageError::InvalidQuery(format!("header {k:?}: {e}")))?;
            headers.insert(name, value);
        }
        if !headers.is_empty() {
            b = b.headers(headers);
        }
        if let Some(t) = config.query_timeout {
            b = b.timeout(t);
        }
        let transport = b
            .build()
            .map_err(|e| StorageError::InvalidQuery(format!("elasticsearch client: {e}")))?;
        if let Some(c) = credentials {
            transport.set_auth(c);
        }
        Ok(Self {
            client: elasticsearch::Elasticsearch::new(transport),
            timeout: config.query_timeout,
            reload,
        })
    }

    /// Sends a request; the body is JSON, or NDJSON when `ndjson`. Transport failures
    /// are `Unavailable`; every HTTP status comes back to the caller.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<Vec<u8>>,
        ndjson: bool,
    ) -> Result<(u16, Value)> {
        let mut headers = HeaderMap::new();
        if ndjson {
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            );
        }
        if let Some(r) = &self.reload
            && let Some(secret) = r.due().await
        {
            self.client
                .transport()
                .set_auth(file_credentials(&r.file.kind, secret));
        }
        let q = (!query.is_empty()).then_some(query);
        let resp = self
            .client
            .send(method, path, headers, q, body, self.timeout)
            .await
            .map_err(|e| unavailable(path, e))?;
        let status = resp.status_code().as_u16();
        let bytes = resp.bytes().await.map_err(|e| unavailable(path, e))?;
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Ok((status, value))
    }

    /// Sends JSON and fails on any non-2xx status (5xx and 429 as `Unavailable`).
    pub async fn json(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let body = body.map(|b| serde_json::to_vec(b).expect("a JSON value serializes"));
        let (status, v) = self.send(method, path, query, body, false).await?;
        check(path, status, v)
    }
}

fn check(path: &str, status: u16, v: Value) -> Result<Value> {
    match status {
        200..=299 => Ok(v),
        429 | 500..=599 => Err(unavailable(path, format!("HTTP {status}: {v}"))),
        _ => Err(StorageError::Engine(format!(
            "elasticsearch: {path}: HTTP {status}: {v}"
        ))),
    }
}

/// Remembers recently written service documents so they are not rewritten for every span.
struct NameCache {
    ttl: Duration,
    seen: Mutex<HashMap<String, Instant>>,
}

impl NameCache {
    const MAX: usize = 100_000;

    fn should_write(&self, key: &str) -> bool {
        if self.ttl.is_zero() {
            return true;
        }
        let now = Instant::now();
        let mut seen = self.seen.lock().expect("name cache lock is never poisoned");
        if let Some(t) = seen.get(key)
            && now.duration_since(*t) < self.ttl
        {
            return false;
        }
        if seen.len() >= Self::MAX {
            seen.retain(|_, t| now.duration_since(*t) < self.ttl);
            if seen.len() >= Self::MAX {
                seen.clear();
            }
        }
        seen.insert(key.to_string(), now);
        true
    }

    fn forget(&self, keys: &[String]) {
        let mut seen = self.seen.lock().expect("name cache lock is never poisoned");
        for k in keys {
            seen.remove(k);
        }
    }
}

/// One bulk action line plus its document.
struct BulkItem {
    index: String,
    id: String,
    source: Vec<u8>,
}

/// The Elasticsearch / OpenSearch store.
pub struct EsStore {
    client: EsClient,
    config: EsConfig,
    flavor: Flavor,
    prefix: String,
    services_written: NameCache,
}

fn now_nanos() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// Escapes a literal for Lucene's regexp syntax.
pub fn regexp_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if ".?+*|{}[]()\"\\#@&<>~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl EsStore {
    /// Connects, detects the server version (unless configured) and installs the span
    /// and service templates when `create_templates`.
    pub async fn open(config: EsConfig) -> Result<Arc<Self>> {
        let client = EsClient::new(&config)?;
        let flavor = match Flavor::from_config(config.version, config.opensearch) {
            Some(f) => f,
            None => {
                let root = client.json(Method::Get, "/", &[], None).await?;
                Flavor::detect(&root)
            }
        };
        let store = Self {
            prefix: templates::prefix_of(&config.index_prefix),
            services_written: NameCache {
                ttl: config.service_cache_ttl,
                seen: Mutex::new(HashMap::new()),
            },
            client,
            flavor,
            config,
        };
        if store.config.create_templates {
            store.create_templates().await?;
        }
        Ok(Arc::new(store))
    }

    pub fn client(&self) -> &EsClient {
        &self.client
    }

    pub fn flavor(&self) -> Flavor {
        self.flavor
    }

    /// The ascending sort of a `search_after` walk: the given fields, then `_id` to break
    /// ties where the cluster allows it. Elasticsearch 8+ refuses sorting on `_id` by
    /// default (`indices.id_field_data.enabled: false`), so there the fields alone order
    /// the walk; only byte-identical duplicates of one span can tie on them.
    fn paging_sort(&self, fields: &[&str]) -> Value {
        let mut sort: Vec<Value> = fields.iter().map(|f| json!({ *f: "asc" })).collect();
        if self.flavor != Flavor::Es8 {
            sort.push(json!({"_id": "asc"}));
        }
        Value::Array(sort)
    }

    /// `<prefix>` as applied to index names (`p-` or empty).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Installs the span and service templates (`<prefix>jaeger-span`, `…-service`).
    pub async fn create_templates(&self) -> Result<()> {
        for (kind, settings, mapping) in [
            ("span", &self.config.spans, templates::span_mapping()),
            (
                "service",
                &self.config.services,
                templates::service_mapping(),
            ),
        ] {
            let name = format!("{}jaeger-{kind}", self.prefix);
            let body = templates::template_body(self.flavor, &name, settings, mapping);
            self.client
                .json(
                    Method::Put,
                    &templates::template_path(self.flavor, &name),
                    &[],
                    Some(&body),
                )
                .await?;
        }
        Ok(())
    }

    fn base(&self, kind: &str) -> String {
        format!("{}jaeger-{kind}", self.prefix)
    }

    fn rotation(&self, kind: &str) -> &Rotation {
        match kind {
            "span" => &self.config.span_rotation,
            "service" => &self.config.service_rotation,
            _ => &self.config.dependencies_rotation,
        }
    }

    fn dated(&self, kind: &str, t_nanos: u64) -> String {
        let layout = templates::chrono_layout(&self.rotation(kind).date_layout);
        let t = chrono::DateTime::from_timestamp(
            (t_nanos / 1_000_000_000) as i64,
            (t_nanos % 1_000_000_000) as u32,
        )
        .unwrap_or_default();
        format!("{}-{}", self.base(kind), t.format(&layout))
    }

    /// The index a document of `kind` starting at `t_nanos` is written to.
    pub fn write_index(&self, kind: &str, t_nanos: u64) -> String {
        if self.config.use_aliases && kind != "dependencies" {
            format!("{}-write", self.base(kind))
        } else {
            self.dated(kind, t_nanos)
        }
    }

    /// The indices to read for `[start, end]`, newest first, comma-joined.
    pub fn read_targets(&self, kind: &str, start: u64, end: u64) -> String {
        if self.config.use_aliases && kind != "dependencies" {
            return format!("{}-read", self.base(kind));
        }
        let step = if self.rotation(kind).hourly {
            HOUR_NS
        } else {
            DAY_NS
        };
        let mut out: Vec<String> = Vec::new();
        let mut t = end.max(start);
        loop {
            let name = self.dated(kind, t);
            if !out.contains(&name) {
                out.push(name);
            }
            if t <= start {
                break;
            }
            t = t.saturating_sub(step).max(start);
        }
        out.join(",")
    }

    async fn bulk(&self, items: Vec<BulkItem>) -> Result<()> {
        use futures::StreamExt;
        // Split into requests of at most bulk_max_bytes.
        let mut requests: Vec<Vec<BulkItem>> = vec![Vec::new()];
        let mut size = 0usize;
        for it in items {
            let n = it.source.len() + it.index.len() + it.id.len() + 48;
            if size + n > self.config.bulk_max_bytes
                && requests.last().is_some_and(|r| !r.is_empty())
            {
                requests.push(Vec::new());
                size = 0;
            }
            size += n;
            requests
                .last_mut()
                .expect("requests starts non-empty")
                .push(it);
        }
        let results: Vec<Result<()>> = futures::stream::iter(requests)
            .filter(|r| std::future::ready(!r.is_empty()))
            .map(|r| self.bulk_request(r))
            .buffer_unordered(self.config.bulk_workers.max(1))
            .collect()
            .await;
        results.into_iter().collect()
    }

    /// One `_bulk`, retrying the documents the cluster refused for now (429 / 5xx).
    async fn bulk_request(&self, mut items: Vec<BulkItem>) -> Result<()> {
        let mut query = Vec::new();
        if let Some(r) = &self.config.refresh {
            query.push(("refresh", r.clone()));
        }
        let mut attempt = 0u32;
        loop {
            let mut body = Vec::with_capacity(items.iter().map(|i| i.source.len() + 96).sum());
            for it in &items {
                let action = json!({"index": {"_index": it.index, "_id": it.id}});
                serde_json::to_writer(&mut body, &action).expect("a JSON value serializes");
                body.push(b'\n');
                body.extend_from_slice(&it.source);
                body.push(b'\n');
            }
            let (status, resp) = match self
                .client
                .send(Method::Post, "/_bulk", &query, Some(body), true)
                .await
            {
                Ok(r) => r,
                Err(e) if attempt < 2 => {
                    attempt += 1;
                    tracing::debug!("bulk failed, retrying: {e}");
                    tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let resp = check("/_bulk", status, resp)?;
            if resp["errors"].as_bool() != Some(true) {
                return Ok(());
            }
            let results = resp["items"].as_array().cloned().unwrap_or_default();
            let mut retry = Vec::new();
            let mut rejected = Vec::new();
            for (it, r) in items.into_iter().zip(results.iter()) {
                let r = &r["index"];
                let st = r["status"].as_u64().unwrap_or(0);
                match st {
                    200..=299 => {}
                    429 | 500..=599 => retry.push((it, r["error"].clone())),
                    _ => rejected.push((it, r["error"].clone())),
                }
            }
            if !rejected.is_empty() {
                let (it, err) = &rejected[0];
                let msg = format!(
                    "elasticsearch: {} document(s) rejected, first {} in {}: {err}",
                    rejected.len(),
                    it.id,
                    it.index
                );
                if self.config.drop_rejected {
                    tracing::warn!("{msg} (dropped: poison_pill_handling drop)");
                    metrics::counter!("jaeger_storage_es_dropped_documents_total")
                        .increment(rejected.len() as u64);
                } else {
                    return Err(StorageError::Engine(msg));
                }
            }
            if retry.is_empty() {
                return Ok(());
            }
            if attempt >= 3 {
                return Err(unavailable(
                    "bulk",
                    format!(
                        "{} document(s) still refused after retries: {}",
                        retry.len(),
                        retry[0].1
                    ),
                ));
            }
            attempt += 1;
            tokio::time::sleep(Duration::from_millis(100 << attempt)).await;
            items = retry.into_iter().map(|(it, _)| it).collect();
        }
    }

    /// Search `targets` (ignoring missing indices).
    async fn search(&self, targets: &str, body: &Value) -> Result<Value> {
        self.client
            .json(
                Method::Post,
                &format!("/{targets}/_search"),
                &[
                    ("ignore_unavailable", "true".into()),
                    ("allow_no_indices", "true".into()),
                ],
                Some(body),
            )
            .await
    }

    fn tag_query(&self, key: &str, value: &str) -> Value {
        let v = regexp_escape(value);
        let field = self.config.tags_as_fields.field(key);
        let nested = |path: &str| {
            json!({"nested": {"path": path, "query": {"bool": {"must": [
                {"match": {format!("{path}.key"): {"query": key}}},
                {"regexp": {format!("{path}.value"): {"value": v}}}
            ]}}}})
        };
        json!({"bool": {"should": [
            {"bool": {"must": {"regexp": {format!("tag.{field}"): {"value": v}}}}},
            {"bool": {"must": {"regexp": {format!("process.tag.{field}"): {"value": v}}}}},
            nested("tags"),
            nested("process.tags"),
            nested("logs.fields"),
        ]}})
    }

    fn search_body(&self, q: &TraceQuery) -> Value {
        let mut must = Vec::new();
        let mut must_not = Vec::new();
        if q.duration_min.is_some() || q.duration_max.is_some() {
            let mut r = serde_json::Map::new();
            if let Some(d) = q.duration_min {
                r.insert("gte".into(), json!(d.div_ceil(1_000)));
            }
            if let Some(d) = q.duration_max {
                r.insert("lte".into(), json!(d / 1_000));
            }
            must.push(json!({"range": {"duration": r}}));
        }
        // `startTime` (µs) bounds exactly; Jaeger's extra `startTimeMillis` range adds
        // nothing once it is there.
        must.push(json!({"range": {"startTime": {
            "gte": q.start_time_min.div_ceil(1_000),
            "lte": q.start_time_max / 1_000,
        }}}));
        if let Some(s) = q.service_name.as_deref().filter(|s| !s.is_empty()) {
            must.push(json!({"term": {"process.serviceName": s}}));
        }
        if let Some(o) = q.operation_name.as_deref().filter(|s| !s.is_empty()) {
            must.push(json!({"term": {"operationName": o}}));
        }
        for (k, v) in &q.tags {
            if k == "error" && v == "false" {
                must_not.push(self.tag_query("error", "true"));
            } else {
                must.push(self.tag_query(k, v));
            }
        }
        // Filter context: the same matches as Jaeger's `must`, without scoring (no score
        // is used) and with cacheable clauses.
        json!({
            "size": 0,
            "query": {"bool": {"filter": must, "must_not": must_not}},
            "aggs": {"traceIDs": {
                "terms": {"field": "traceID", "size": q.num_traces.max(1), "order": [{"startTime": "desc"}]},
                "aggs": {"startTime": {"max": {"field": "startTime"}}}
            }}
        })
    }

    async fn find_ids(&self, q: &TraceQuery) -> Result<Vec<TraceId>> {
        if q.num_traces == 0 {
            return Ok(Vec::new());
        }
        let targets = self.read_targets("span", q.start_time_min, q.start_time_max);
        let resp = self.search(&targets, &self.search_body(q)).await?;
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for b in resp["aggregations"]["traceIDs"]["buckets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let key = b["key"].as_str().unwrap_or("");
            let id = parse_trace_id(key)?;
            if seen.insert(id) {
                out.push(id);
            }
        }
        Ok(out)
    }

    /// The span read window for traces found in `[start, end]`: padded by
    /// `max_trace_duration` both ways, as Jaeger's reader does.
    fn fetch_window(&self, start: u64, end: u64) -> (u64, u64, String) {
        let pad = nanos(self.config.max_trace_duration);
        let (lo, hi) = (start.saturating_sub(pad), end.saturating_add(pad));
        (lo, hi, self.read_targets("span", lo, hi))
    }

    /// The span documents of `ids` within `[start, end]`: one `_search` for all of them
    /// (sorted by trace id, so a full page cuts at most the traces from the last hit's
    /// id on), then Jaeger's per-trace paging only for the traces the page may have cut.
    /// Jaeger sends one `_msearch` item per trace, i.e. a `size: max_doc_count` sorted
    /// search per trace and shard, which dominated `find_traces` at 1M spans.
    async fn fetch_traces(
        &self,
        ids: &[TraceId],
        start: u64,
        end: u64,
    ) -> Result<HashMap<TraceId, Vec<Span>>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let (lo, hi, targets) = self.fetch_window(start, end);
        let size = self.config.max_doc_count.max(1);
        let mut trace_of: HashMap<String, TraceId> = HashMap::new();
        for id in ids {
            for form in doc::trace_id_forms(&id.to_hex()) {
                trace_of.insert(form, *id);
            }
        }
        let mut forms: Vec<&String> = trace_of.keys().collect();
        forms.sort();
        let body = json!({
            "query": {"bool": {"filter": [
                {"terms": {"traceID": forms}},
                {"range": {"startTimeMillis": {"gte": lo / 1_000_000, "lte": hi / 1_000_000}}}
            ]}},
            "size": size,
            "sort": [{"traceID": "asc"}, {"startTime": "asc"}, {"spanID": "asc"}],
            "track_total_hits": false,
        });
        let resp = self.search(&targets, &body).await?;
        let hits = resp["hits"]["hits"].as_array().cloned().unwrap_or_default();
        let mut out: HashMap<TraceId, Vec<Span>> = HashMap::new();
        for h in &hits {
            let form = h["_source"]["traceID"].as_str().unwrap_or("");
            // A stored form we did not ask for cannot match the terms query; parse it
            // anyway rather than trust the map blindly.
            let id = match trace_of.get(form) {
                Some(id) => *id,
                None => parse_trace_id(form)?,
            };
            out.entry(id).or_default().push(doc::doc_to_span(
                &h["_source"],
                &self.config.tags_as_fields,
            )?);
        }
        if hits.len() >= size {
            // A full page: every trace with a stored form at or after the last hit's
            // may have more spans. Those are read again, paged, from the start.
            let last = hits
                .last()
                .and_then(|h| h["_source"]["traceID"].as_str())
                .unwrap_or("")
                .to_string();
            let mut cut: Vec<TraceId> = trace_of
                .iter()
                .filter(|(form, _)| form.as_str() >= last.as_str())
                .map(|(_, id)| *id)
                .collect();
            cut.sort();
            cut.dedup();
            for id in &cut {
                out.remove(id);
            }
            out.extend(self.fetch_traces_paged(&cut, start, end).await?);
        }
        for spans in out.values_mut() {
            // The per-trace order of Jaeger's reader, also across stored id forms.
            spans.sort_by(|a, b| {
                let t = |s: &Span| s.start_time.as_ref().map(|t| (t.seconds, t.nanos));
                t(a).cmp(&t(b)).then_with(|| a.span_id.cmp(&b.span_id))
            });
        }
        out.retain(|_, v| !v.is_empty());
        Ok(out)
    }

    /// Jaeger's trace fetch: one `_msearch` item per trace, paging with `search_after`
    /// past `max_doc_count`.
    async fn fetch_traces_paged(
        &self,
        ids: &[TraceId],
        start: u64,
        end: u64,
    ) -> Result<HashMap<TraceId, Vec<Span>>> {
        let (lo, hi, targets) = self.fetch_window(start, end);
        let size = self.config.max_doc_count.max(1);
        let query_of = |id: &TraceId, after: Option<&Value>| {
            let forms = doc::trace_id_forms(&id.to_hex());
            let mut b = json!({
                "query": {"bool": {"must": [
                    {"terms": {"traceID": forms}},
                    {"range": {"startTimeMillis": {"gte": lo / 1_000_000, "lte": hi / 1_000_000}}}
                ]}},
                "size": size,
                "sort": self.paging_sort(&["startTime", "spanID"]),
                "track_total_hits": true,
            });
            if let Some(a) = after {
                b["search_after"] = a.clone();
            }
            b
        };
        let mut out: HashMap<TraceId, Vec<Span>> = HashMap::new();
        let mut pending: Vec<(TraceId, Option<Value>)> = ids.iter().map(|i| (*i, None)).collect();
        while !pending.is_empty() {
            let mut body = Vec::new();
            for (id, after) in &pending {
                let header =
                    json!({"index": targets, "ignore_unavailable": true, "allow_no_indices": true});
                serde_json::to_writer(&mut body, &header).expect("a JSON value serializes");
                body.push(b'\n');
                serde_json::to_writer(&mut body, &query_of(id, after.as_ref()))
                    .expect("a JSON value serializes");
                body.push(b'\n');
            }
            let (status, resp) = self
                .client
                .send(Method::Post, "/_msearch", &[], Some(body), true)
                .await?;
            let resp = check("/_msearch", status, resp)?;
            let responses = resp["responses"].as_array().cloned().unwrap_or_default();
            let mut next = Vec::new();
            for ((id, _), r) in pending.iter().zip(responses.iter()) {
                if let Some(e) = r.get("error") {
                    return Err(unavailable("msearch", e));
                }
                let hits = r["hits"]["hits"].as_array().cloned().unwrap_or_default();
                let spans = out.entry(*id).or_default();
                for h in &hits {
                    spans.push(doc::doc_to_span(
                        &h["_source"],
                        &self.config.tags_as_fields,
                    )?);
                }
                if hits.len() >= size
                    && let Some(last) = hits.last()
                {
                    next.push((*id, Some(last["sort"].clone())));
                }
            }
            pending = next;
        }
        out.retain(|_, v| !v.is_empty());
        Ok(out)
    }

    /// Terms of `field` in the service indices of the last `max_span_age`.
    async fn service_terms(&self, field: &str, query: Value) -> Result<Vec<String>> {
        let now = now_nanos();
        let targets = self.read_targets(
            "service",
            now.saturating_sub(nanos(self.config.max_span_age)),
            now,
        );
        let body = json!({
            "size": 0,
            "query": query,
            "aggs": {"terms": {"terms": {"field": field, "size": self.config.max_doc_count.max(1)}}}
        });
        let resp = self.search(&targets, &body).await?;
        let mut out: Vec<String> = resp["aggregations"]["terms"]["buckets"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b["key"].as_str().map(str::to_string))
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

fn parse_trace_id(s: &str) -> Result<TraceId> {
    // Short (old writer) ids are left-padded.
    TraceId::parse_hex(s)
        .map_err(|e| StorageError::Corrupt(format!("elasticsearch: traceID {s:?}: {e:?}")))
}

fn spans_to_otlp(spans: Vec<Span>) -> Result<Vec<ResourceSpans>> {
    batch_to_otlp(&Batch {
        spans,
        process: None,
    })
    .map_err(|e| StorageError::Corrupt(format!("elasticsearch span: {e}")))
}

#[async_trait]
impl SpanWriter for EsStore {
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> Result<()> {
        let spans = spans_from_otlp(&batch);
        let mut items = Vec::with_capacity(spans.len() + 8);
        let mut new_services = Vec::new();
        for span in &spans {
            let (doc, start_us) = doc::span_to_doc(span, &self.config.tags_as_fields);
            let t = u64::try_from(start_us).unwrap_or(0) * 1_000;
            let source = serde_json::to_vec(&doc).expect("a JSON value serializes");
            items.push(BulkItem {
                index: self.write_index("span", t),
                id: doc::span_doc_id(&doc, &source),
                source,
            });
            let service = span
                .process
                .as_ref()
                .map(|p| p.service_name.as_str())
                .unwrap_or("");
            let kind = span
                .tags
                .iter()
                .find(|t| t.key == "span.kind")
                .map(|t| t.v_str.as_str())
                .unwrap_or("");
            let index = self.write_index("service", t);
            let key = format!(
                "{index}\u{0}{service}\u{0}{}\u{0}{kind}",
                span.operation_name
            );
            if self.services_written.should_write(&key) {
                let (id, d) = doc::service_doc(service, &span.operation_name, kind);
                items.push(BulkItem {
                    index,
                    id,
                    source: serde_json::to_vec(&d).expect("a JSON value serializes"),
                });
                new_services.push(key);
            }
        }
        let r = self.bulk(items).await;
        if r.is_err() {
            // Not written after all: write them again with the next span.
            self.services_written.forget(&new_services);
        }
        r
    }
}

#[async_trait]
impl SpanReader for EsStore {
    async fn get_trace(&self, params: GetTraceParams) -> Result<Option<Trace>> {
        let now = now_nanos();
        let (start, end) = match (params.start, params.end) {
            (Some(s), Some(e)) if s <= e => (s, e),
            _ => (now.saturating_sub(nanos(self.config.max_span_age)), now),
        };
        let mut found = self.fetch_traces(&[params.trace_id], start, end).await?;
        match found.remove(&params.trace_id) {
            Some(spans) => Ok(Some(Trace::new(spans_to_otlp(spans)?))),
            None => Ok(None),
        }
    }

    async fn find_traces(&self, query: &TraceQuery) -> Result<Vec<Trace>> {
        let ids = self.find_ids(query).await?;
        let mut found = self
            .fetch_traces(&ids, query.start_time_min, query.start_time_max)
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(spans) = found.remove(&id) {
                out.push(Trace::new(spans_to_otlp(spans)?));
            }
        }
        Ok(out)
    }

    async fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>> {
        self.find_ids(query).await
    }

    async fn get_services(&self) -> Result<Vec<String>> {
        self.service_terms("serviceName", json!({"match_all": {}}))
            .await
    }

    /// Operations with the kind of our service documents' `spanKind`; documents written
    /// by Jaeger carry none (empty kind).
    async fn get_operations(&self, query: &OperationQuery) -> Result<Vec<Operation>> {
        let now = now_nanos();
        let targets = self.read_targets(
            "service",
            now.saturating_sub(nanos(self.config.max_span_age)),
            now,
        );
        let mut filter = vec![json!({"term": {"serviceName": query.service_name}})];
        match query.span_kind.as_deref() {
            None => {}
            Some("") => {
                filter.push(json!({"bool": {"must_not": {"exists": {"field": "spanKind"}}}}))
            }
            Some(k) => filter.push(json!({"term": {"spanKind": k}})),
        }
        let size = self.config.max_doc_count.max(1);
        let body = json!({
            "size": 0,
            "query": {"bool": {"filter": filter}},
            "aggs": {"ops": {
                "terms": {"field": "operationName", "size": size},
                "aggs": {"kinds": {"terms": {"field": "spanKind", "size": 10, "missing": ""}}}
            }}
        });
        let resp = self.search(&targets, &body).await?;
        let mut out = Vec::new();
        for b in resp["aggregations"]["ops"]["buckets"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let name = b["key"].as_str().unwrap_or("").to_string();
            for k in b["kinds"]["buckets"].as_array().into_iter().flatten() {
                out.push(Operation {
                    name: name.clone(),
                    span_kind: k["key"].as_str().unwrap_or("").to_string(),
                });
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn scan_spans(
        &self,
        start: UnixNanos,
        end: UnixNanos,
        sink: tokio::sync::mpsc::Sender<Vec<ResourceSpans>>,
    ) -> Result<()> {
        if end <= start {
            return Ok(());
        }
        let targets = self.read_targets("span", start, end.saturating_sub(1));
        let size = self.config.max_doc_count.clamp(1, 5_000);
        let mut after: Option<Value> = None;
        loop {
            let mut body = json!({
                "query": {"range": {"startTime": {"gte": start.div_ceil(1_000), "lt": end.div_ceil(1_000)}}},
                "size": size,
                "sort": self.paging_sort(&["startTime", "traceID", "spanID"]),
            });
            if let Some(a) = &after {
                body["search_after"] = a.clone();
            }
            let resp = self.search(&targets, &body).await?;
            let hits = resp["hits"]["hits"].as_array().cloned().unwrap_or_default();
            if hits.is_empty() {
                return Ok(());
            }
            let mut spans = Vec::with_capacity(hits.len());
            for h in &hits {
                spans.push(doc::doc_to_span(
                    &h["_source"],
                    &self.config.tags_as_fields,
                )?);
            }
            if sink.send(spans_to_otlp(spans)?).await.is_err() {
                return Ok(());
            }
            if hits.len() < size {
                return Ok(());
            }
            after = hits.last().map(|h| h["sort"].clone());
        }
    }
}

fn window_ms(ts: &Value) -> Option<i64> {
    let s = ts.as_str()?;
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

#[async_trait]
impl DependencyStore for EsStore {
    /// Jaeger's read (documents with `timestamp` in the range) plus the latest document
    /// starting less than a day before the range when none starts at its start: that
    /// window overlaps the range (jobs write contiguous windows; a document carries only
    /// its start).
    async fn get_dependencies(&self, end: UnixNanos, lookback: u64) -> Result<Vec<DependencyLink>> {
        let start = end.saturating_sub(lookback);
        let from = start.saturating_sub(DAY_NS);
        let targets = self.read_targets("dependencies", from, end);
        let body = json!({
            "size": self.config.max_doc_count.max(1),
            "query": {"range": {"timestamp": {"gte": doc::rfc3339(from), "lte": doc::rfc3339(end)}}},
            "sort": [{"timestamp": {"order": "desc", "unmapped_type": "date"}}],
        });
        let resp = self.search(&targets, &body).await?;
        let start_ms = (start / 1_000_000) as i64;
        let mut out = Vec::new();
        let mut at_start = false;
        let mut before: Option<&Value> = None;
        let hits = resp["hits"]["hits"].as_array().cloned().unwrap_or_default();
        for h in &hits {
            let src = &h["_source"];
            let Some(ms) = window_ms(&src["timestamp"]) else {
                continue;
            };
            if ms >= start_ms {
                at_start |= ms == start_ms;
                out.extend(doc::links_of_doc(src));
            } else if before.is_none() {
                before = Some(src);
            }
        }
        if !at_start && let Some(src) = before {
            out.extend(doc::links_of_doc(src));
        }
        Ok(out)
    }

    async fn write_dependencies(
        &self,
        window_start: UnixNanos,
        _window_end: UnixNanos,
        links: Vec<DependencyLink>,
    ) -> Result<()> {
        let d = doc::dependencies_doc(window_start, &links);
        // One document per window: writing a window again replaces it.
        self.bulk(vec![BulkItem {
            index: self.write_index("dependencies", window_start),
            id: format!("{}", window_start / 1_000_000),
            source: serde_json::to_vec(&d).expect("a JSON value serializes"),
        }])
        .await
    }
}

#[async_trait]
impl StorageHealth for EsStore {
    /// Healthy when the cluster answers and is not red.
    async fn is_healthy(&self) -> bool {
        let probe = self.client.json(Method::Get, "/_cluster/health", &[], None);
        match tokio::time::timeout(Duration::from_secs(5), probe).await {
            Ok(Ok(v)) => v["status"].as_str() != Some("red"),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(config: EsConfig) -> EsStore {
        EsStore {
            client: EsClient::new(&config).expect("client"),
            flavor: Flavor::OpenSearch,
            prefix: templates::prefix_of(&config.index_prefix),
            services_written: NameCache {
                ttl: Duration::from_secs(1),
                seen: Mutex::new(HashMap::new()),
            },
            config,
        }
    }

    #[test]
    fn paging_breaks_ties_on_id_only_where_the_cluster_allows_it() {
        let mut s = store(EsConfig::default());
        assert_eq!(
            s.paging_sort(&["startTime", "spanID"]),
            json!([{"startTime": "asc"}, {"spanID": "asc"}, {"_id": "asc"}])
        );
        s.flavor = Flavor::Es8;
        assert_eq!(
            s.paging_sort(&["startTime", "spanID"]),
            json!([{"startTime": "asc"}, {"spanID": "asc"}])
        );
    }

    #[test]
    fn index_names_follow_jaeger() {
        let s = store(EsConfig {
            index_prefix: "jaeger-main".into(),
            ..Default::default()
        });
        // 2017-01-26T21:46:31Z
        let t = 1_485_467_191_000_000_000u64;
        assert_eq!(
            s.write_index("span", t),
            "jaeger-main-jaeger-span-2017-01-26"
        );
        assert_eq!(
            s.write_index("service", t),
            "jaeger-main-jaeger-service-2017-01-26"
        );
        assert_eq!(
            s.read_targets("span", t - 2 * DAY_NS, t),
            "jaeger-main-jaeger-span-2017-01-26,jaeger-main-jaeger-span-2017-01-25,jaeger-main-jaeger-span-2017-01-24"
        );
        let hourly = store(EsConfig {
            span_rotation: Rotation {
                date_layout: "2006-01-02-15".into(),
                hourly: true,
            },
            ..Default::default()
        });
        assert_eq!(hourly.write_index("span", t), "jaeger-span-2017-01-26-21");
        assert_eq!(
            hourly.read_targets("span", t - HOUR_NS, t),
            "jaeger-span-2017-01-26-21,jaeger-span-2017-01-26-20"
        );
        let aliases = store(EsConfig {
            use_aliases: true,
            ..Default::default()
        });
        assert_eq!(aliases.write_index("span", t), "jaeger-span-write");
        assert_eq!(aliases.read_targets("service", 0, t), "jaeger-service-read");
    }

    #[test]
    fn tag_values_are_literal_in_regexp() {
        assert_eq!(regexp_escape("a.b*(c)"), r"a\.b\*\(c\)");
        let s = store(EsConfig::default());
        let q = s.tag_query("http.method", "GET");
        let alts = q["bool"]["should"].as_array().expect("should");
        assert_eq!(alts.len(), 5);
        assert_eq!(
            alts[0]["bool"]["must"]["regexp"]["tag.http@method"]["value"],
            "GET"
        );
        assert_eq!(alts[4]["nested"]["path"], "logs.fields");
    }

    #[test]
    fn search_aggregates_trace_ids_newest_first() {
        let s = store(EsConfig::default());
        let b = s.search_body(&TraceQuery {
            service_name: Some("svc".into()),
            num_traces: 20,
            start_time_min: 1_000_000_000,
            start_time_max: 2_000_000_000,
            ..Default::default()
        });
        assert_eq!(b["size"], 0);
        let terms = &b["aggs"]["traceIDs"]["terms"];
        assert_eq!(terms["field"], "traceID");
        assert_eq!(terms["size"], 20);
        assert_eq!(terms["order"][0]["startTime"], "desc");
        // Conditions in filter context (no scoring), exact µs start bounds.
        let filter = b["query"]["bool"]["filter"].as_array().expect("filter");
        assert!(filter.contains(&json!({"term": {"process.serviceName": "svc"}})));
        assert!(
            filter.contains(&json!({"range": {"startTime": {"gte": 1_000_000, "lte": 2_000_000}}}))
        );
        assert!(b["query"]["bool"].get("must").is_none());
    }
}
