//! Cassandra backend with Jaeger's v004 layout (storage spec §1), on the `scylla` driver.
//!
//! Writes: every span becomes one `traces` row plus the index rows Jaeger's writer
//! produces (§1.6), so Jaeger and this backend read each other's keyspaces. Reads follow
//! Jaeger's reader (§1.7), including its limits: a search needs a service, and duration
//! cannot be combined with tags. Where we do better (documented in
//! docs/storage-cassandra.md): results are newest first instead of arbitrary, several
//! tags must match on one span (tag_index rows carry the span id), the start window
//! also bounds the duration path, and bounds are inclusive.

pub mod rows;
pub mod sampling;
pub mod schema;
pub mod tls;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use jaeger_model::otlp::ResourceSpans;
use jaeger_model::{Trace, TraceId};
use jaeger_proto::api_v2::Batch;
use jaeger_proto::convert::{batch_to_otlp, spans_from_otlp};
use scylla::DeserializeRow;
use scylla::client::execution_profile::ExecutionProfile;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::client::{Compression, SelfIdentity};
use scylla::policies::load_balancing::DefaultPolicy;
use scylla::serialize::row::SerializeRow;
use scylla::statement::Consistency;
use scylla::statement::prepared::PreparedStatement;
use scylla::value::CqlTimestamp;

use crate::{
    DependencyLink, DependencyStore, GetTraceParams, Operation, OperationQuery, Result, SpanReader,
    SpanWriter, StorageError, StorageHealth, TraceQuery, UnixNanos,
};
pub use rows::TagIndexOptions;
use rows::{DependencyUdt, KeyValueUdt, LogUdt, ProcessUdt, SpanRefUdt, SpanRow};
pub use sampling::CassandraSamplingStore;
pub use schema::{Layout, SchemaOptions};
pub use tls::CassandraTls;

/// How to reach the cluster and what to write (Jaeger v2's `backends.X.cassandra`).
#[derive(Clone, Debug, PartialEq)]
pub struct CassandraConfig {
    /// `host` or `host:port`; `port` applies to entries without one.
    pub servers: Vec<String>,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// Prefer the nodes of this datacenter (token-aware within it).
    pub local_dc: Option<String>,
    /// gocql name (`LOCAL_ONE`, `QUORUM`, ...); default `LOCAL_ONE`.
    pub consistency: Option<String>,
    pub connect_timeout: Option<Duration>,
    pub query_timeout: Option<Duration>,
    /// Attempts per statement (Jaeger: `query.max_retry_attempts`, default 3).
    pub max_retry_attempts: u32,
    /// Create the keyspace and tables at start-up (`schema.create`).
    pub create_schema: bool,
    pub schema: SchemaOptions,
    /// How long a written service / operation name is not written again (0 = always).
    pub write_cache_ttl: Duration,
    pub index: TagIndexOptions,
    /// TLS to the cluster (`tls.insecure: false`); `None` = plain text.
    pub tls: Option<CassandraTls>,
    /// Jaeger's `schema.disable_compression`: frames go uncompressed. Otherwise they are
    /// LZ4-compressed when the server offers LZ4 (every Cassandra 4+ does), else plain.
    pub disable_compression: bool,
}

impl Default for CassandraConfig {
    fn default() -> Self {
        Self {
            servers: vec!["127.0.0.1".into()],
            port: 9042,
            username: None,
            password: None,
            local_dc: None,
            consistency: None,
            connect_timeout: None,
            query_timeout: None,
            max_retry_attempts: 3,
            create_schema: false,
            schema: SchemaOptions::default(),
            write_cache_ttl: Duration::from_secs(12 * 3600),
            index: TagIndexOptions::default(),
            tls: None,
            disable_compression: false,
        }
    }
}

/// Parses a gocql consistency name.
pub fn parse_consistency(name: &str) -> Result<Consistency> {
    Ok(match name.to_ascii_uppercase().as_str() {
        "ANY" => Consistency::Any,
        "ONE" => Consistency::One,
        "TWO" => Consistency::Two,
        "THREE" => Consistency::Three,
        "QUORUM" => Consistency::Quorum,
        "ALL" => Consistency::All,
        "LOCAL_QUORUM" => Consistency::LocalQuorum,
        "EACH_QUORUM" => Consistency::EachQuorum,
        "LOCAL_ONE" => Consistency::LocalOne,
        other => {
            return Err(StorageError::InvalidQuery(format!(
                "unknown cassandra consistency {other:?}"
            )));
        }
    })
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(format!("cassandra: {what}: {e}"))
}

/// Connects (without a keyspace: the schema may not exist yet).
pub async fn connect(config: &CassandraConfig) -> Result<Session> {
    connect_as(config, "jaeger").await
}

/// [`connect`], naming the client `application_name` to the server (its
/// `system_views.clients` and `nodetool clientstats` show it).
pub async fn connect_as(config: &CassandraConfig, application_name: &str) -> Result<Session> {
    let tls = match config.tls.clone() {
        // Reads the CA / cert / key files: off the runtime.
        Some(t) => Some(
            tokio::task::spawn_blocking(move || t.client_config())
                .await
                .map_err(|e| unavailable("loading TLS files", e))??,
        ),
        None => None,
    };
    let consistency = parse_consistency(config.consistency.as_deref().unwrap_or("LOCAL_ONE"))?;
    let mut lb = DefaultPolicy::builder().token_aware(true);
    if let Some(dc) = config.local_dc.as_ref().filter(|d| !d.is_empty()) {
        lb = lb.prefer_datacenter(dc.clone());
    }
    let profile = ExecutionProfile::builder()
        .consistency(consistency)
        .request_timeout(Some(
            config.query_timeout.unwrap_or(Duration::from_secs(10)),
        ))
        .load_balancing_policy(lb.build())
        .build();
    let mut builder = SessionBuilder::new()
        .default_execution_profile_handle(profile.into_handle())
        .connection_timeout(config.connect_timeout.unwrap_or(Duration::from_secs(10)))
        // Schema statements wait for agreement; poll often (the default is 200 ms).
        .schema_agreement_interval(Duration::from_millis(20))
        // The driver falls back to plain frames when the server does not offer LZ4.
        .compression((!config.disable_compression).then_some(Compression::Lz4))
        .custom_identity(SelfIdentity::new().with_application_name(application_name.to_string()))
        .tls_context(tls);
    for s in &config.servers {
        let has_port = s
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok());
        builder = if has_port {
            builder.known_node(s)
        } else {
            builder.known_node(format!("{s}:{}", config.port))
        };
    }
    if let Some(user) = &config.username {
        builder = builder.user(user.clone(), config.password.clone().unwrap_or_default());
    }
    builder
        .build()
        .await
        .map_err(|e| unavailable("connecting", e))
}

/// Prints the v004 CQL script for these options (`jaeger cassandra-schema`).
pub fn schema_script(opts: &SchemaOptions) -> Result<String> {
    opts.validate()?;
    Ok(opts.script())
}

/// Remembers recently written names so they are not rewritten for every span.
struct NameCache {
    ttl: Duration,
    max: usize,
    seen: Mutex<HashMap<String, Instant>>,
}

impl NameCache {
    fn new(ttl: Duration, max: usize) -> Self {
        Self {
            ttl,
            max,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// True when `key` must be written now (and marks it written).
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
        if seen.len() >= self.max {
            seen.retain(|_, t| now.duration_since(*t) < self.ttl);
            if seen.len() >= self.max {
                seen.clear();
            }
        }
        seen.insert(key.to_string(), now);
        true
    }

    /// Forgets `key` (its write failed).
    fn forget(&self, key: &str) {
        self.seen
            .lock()
            .expect("name cache lock is never poisoned")
            .remove(key);
    }
}

struct Statements {
    insert_span: PreparedStatement,
    insert_service: PreparedStatement,
    insert_operation: PreparedStatement,
    insert_service_index: PreparedStatement,
    insert_operation_index: PreparedStatement,
    insert_tag_index: PreparedStatement,
    insert_duration_index: PreparedStatement,
    select_trace: PreparedStatement,
    select_services: PreparedStatement,
    select_operations: PreparedStatement,
    select_operations_kind: PreparedStatement,
    find_by_service: PreparedStatement,
    find_by_operation: PreparedStatement,
    find_by_tag: PreparedStatement,
    find_by_duration: PreparedStatement,
    insert_dependencies: PreparedStatement,
    select_dependencies: PreparedStatement,
    select_last_dependencies: PreparedStatement,
    scan_traces: PreparedStatement,
}

const TRACE_COLUMNS: &str = "trace_id, span_id, span_hash, parent_id, operation_name, flags, start_time, duration, tags, logs, refs, process";

impl Statements {
    async fn prepare(session: &Session, ks: &str, layout: Layout) -> Result<Self> {
        let p = |cql: String| async move {
            session
                .prepare(cql.clone())
                .await
                .map_err(|e| unavailable(&format!("preparing {cql}"), e))
        };
        // Legacy tables (storage spec §1.4): `operation_names` has no span kind (its
        // statements bind and return an empty one); v001 `dependencies` is keyed by ts
        // alone and found through `ts_index`.
        let (insert_operation, select_operations, select_operations_kind) = if layout
            .operation_names_v2
        {
            (
                format!(
                    "INSERT INTO {ks}.operation_names_v2 (service_name, span_kind, operation_name) VALUES (?,?,?)"
                ),
                format!(
                    "SELECT span_kind, operation_name FROM {ks}.operation_names_v2 WHERE service_name = ?"
                ),
                format!(
                    "SELECT span_kind, operation_name FROM {ks}.operation_names_v2 WHERE service_name = ? AND span_kind = ?"
                ),
            )
        } else {
            (
                format!(
                    "INSERT INTO {ks}.operation_names (service_name, operation_name) VALUES (?,?)"
                ),
                // No kinds there: Jaeger ignores the kind asked for (get_operations).
                format!("SELECT operation_name FROM {ks}.operation_names WHERE service_name = ?"),
                format!("SELECT operation_name FROM {ks}.operation_names WHERE service_name = ?"),
            )
        };
        let (insert_dependencies, select_dependencies, select_last_dependencies) = if layout
            .dependencies_v2
        {
            (
                format!(
                    "INSERT INTO {ks}.dependencies_v2 (ts, ts_bucket, dependencies) VALUES (?,?,?)"
                ),
                format!(
                    "SELECT ts, dependencies FROM {ks}.dependencies_v2 WHERE ts_bucket = ? AND ts >= ? AND ts < ?"
                ),
                format!(
                    "SELECT ts, dependencies FROM {ks}.dependencies_v2 WHERE ts_bucket = ? AND ts <= ? LIMIT 1"
                ),
            )
        } else {
            (
                format!(
                    "INSERT INTO {ks}.dependencies (ts, ts_index, dependencies) VALUES (?,?,?)"
                ),
                // Jaeger relies on a SASI index on ts_index; Cassandra 5 disables
                // SASI by default, so filter (the table holds one row per run).
                format!(
                    "SELECT ts, dependencies FROM {ks}.dependencies WHERE ts_index >= ? AND ts_index < ? ALLOW FILTERING"
                ),
                format!(
                    "SELECT ts, dependencies FROM {ks}.dependencies WHERE ts_index >= ? AND ts_index <= ? ALLOW FILTERING"
                ),
            )
        };
        Ok(Self {
            insert_span: p(format!(
                "INSERT INTO {ks}.traces ({TRACE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)"
            ))
            .await?,
            insert_service: p(format!(
                "INSERT INTO {ks}.service_names (service_name) VALUES (?)"
            ))
            .await?,
            insert_operation: p(insert_operation).await?,
            insert_service_index: p(format!(
                "INSERT INTO {ks}.service_name_index (service_name, bucket, start_time, trace_id) VALUES (?,?,?,?)"
            ))
            .await?,
            insert_operation_index: p(format!(
                "INSERT INTO {ks}.service_operation_index (service_name, operation_name, start_time, trace_id) VALUES (?,?,?,?)"
            ))
            .await?,
            insert_tag_index: p(format!(
                "INSERT INTO {ks}.tag_index (trace_id, span_id, service_name, start_time, tag_key, tag_value) VALUES (?,?,?,?,?,?)"
            ))
            .await?,
            insert_duration_index: p(format!(
                "INSERT INTO {ks}.duration_index (service_name, operation_name, bucket, duration, start_time, trace_id) VALUES (?,?,?,?,?,?)"
            ))
            .await?,
            select_trace: p(format!(
                "SELECT {TRACE_COLUMNS} FROM {ks}.traces WHERE trace_id = ?"
            ))
            .await?,
            select_services: p(format!("SELECT service_name FROM {ks}.service_names")).await?,
            select_operations: p(select_operations).await?,
            select_operations_kind: p(select_operations_kind).await?,
            // One partition per query, newest first by the clustering order: Jaeger's
            // `bucket IN (0..9) ... ORDER BY start_time DESC` makes Cassandra read every
            // row of the window from all ten partitions and sort them before the LIMIT.
            find_by_service: p(format!(
                "SELECT trace_id, start_time FROM {ks}.service_name_index WHERE service_name = ? AND bucket = ? AND start_time >= ? AND start_time <= ? LIMIT ?"
            ))
            .await?,
            find_by_operation: p(format!(
                "SELECT trace_id, start_time FROM {ks}.service_operation_index WHERE service_name = ? AND operation_name = ? AND start_time >= ? AND start_time <= ? ORDER BY start_time DESC LIMIT ?"
            ))
            .await?,
            find_by_tag: p(format!(
                "SELECT trace_id, span_id, start_time FROM {ks}.tag_index WHERE service_name = ? AND tag_key = ? AND tag_value = ? AND start_time >= ? AND start_time <= ? ORDER BY start_time DESC LIMIT ?"
            ))
            .await?,
            find_by_duration: p(format!(
                "SELECT trace_id, start_time FROM {ks}.duration_index WHERE bucket = ? AND service_name = ? AND operation_name = ? AND duration >= ? AND duration <= ? LIMIT ?"
            ))
            .await?,
            insert_dependencies: p(insert_dependencies).await?,
            select_dependencies: p(select_dependencies).await?,
            select_last_dependencies: p(select_last_dependencies).await?,
            scan_traces: p(format!(
                "SELECT {TRACE_COLUMNS} FROM {ks}.traces WHERE start_time >= ? AND start_time < ? ALLOW FILTERING"
            ))
            .await?,
        })
    }
}

#[derive(DeserializeRow)]
struct TracesRow {
    trace_id: Vec<u8>,
    span_id: i64,
    span_hash: i64,
    parent_id: Option<i64>,
    operation_name: Option<String>,
    flags: Option<i32>,
    start_time: Option<i64>,
    duration: Option<i64>,
    tags: Option<Vec<KeyValueUdt>>,
    logs: Option<Vec<LogUdt>>,
    refs: Option<Vec<SpanRefUdt>>,
    process: Option<ProcessUdt>,
}

impl From<TracesRow> for SpanRow {
    fn from(r: TracesRow) -> Self {
        SpanRow {
            trace_id: r.trace_id,
            span_id: r.span_id,
            span_hash: r.span_hash,
            parent_id: r.parent_id.unwrap_or(0),
            operation_name: r.operation_name.unwrap_or_default(),
            flags: r.flags.unwrap_or(0),
            start_time: r.start_time.unwrap_or(0),
            duration: r.duration.unwrap_or(0),
            tags: r.tags.unwrap_or_default(),
            logs: r.logs.unwrap_or_default(),
            refs: r.refs.unwrap_or_default(),
            process: r.process.unwrap_or_default(),
        }
    }
}

type BoxFut<'a> = Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

/// Statements in flight per `write_spans` call.
const WRITE_CONCURRENCY: usize = 128;
/// Jaeger's `limitMultiple`: index queries fetch this many rows per wanted trace.
const LIMIT_MULTIPLE: usize = 3;
const DEFAULT_SEARCH_DEPTH: usize = 100;
const HOUR_US: i64 = 3_600_000_000;
const DAY_MS: i64 = 86_400_000;

/// The Cassandra backend.
pub struct CassandraStore {
    session: Session,
    st: Statements,
    keyspace: String,
    layout: Layout,
    attempts: u32,
    index: TagIndexOptions,
    services: NameCache,
    operations: NameCache,
}

impl CassandraStore {
    /// Connects, creates the schema when configured to, checks the v004 layout and
    /// prepares the statements.
    pub async fn open(config: CassandraConfig) -> Result<Arc<Self>> {
        config.schema.validate()?;
        let session = connect(&config).await?;
        let layout = if config.create_schema {
            schema::create(&session, &config.schema).await?
        } else {
            let tables = schema::existing_tables(&session, &config.schema.keyspace).await?;
            schema::detect_layout(&config.schema.keyspace, tables.as_deref())?
        };
        if layout != Layout::V004 {
            tracing::warn!(
                keyspace = %config.schema.keyspace,
                "cassandra keyspace has Jaeger's {} layout: using its legacy tables{}",
                layout.version(),
                if layout.sampling { "" } else { " (no sampling tables)" }
            );
        }
        let st = Statements::prepare(&session, &config.schema.keyspace, layout).await?;
        Ok(Arc::new(Self {
            session,
            st,
            keyspace: config.schema.keyspace.clone(),
            layout,
            attempts: config.max_retry_attempts.max(1),
            index: config.index.clone(),
            services: NameCache::new(config.write_cache_ttl, 10_000),
            operations: NameCache::new(config.write_cache_ttl, 100_000),
        }))
    }

    pub fn keyspace(&self) -> &str {
        &self.keyspace
    }

    /// The tables in use (v004, or an older Jaeger layout's legacy tables).
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The driver session (for tests and tools reading the rows directly).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Executes a write, retrying with backoff; the last failure is `Unavailable` so
    /// that receivers answer "retry later".
    async fn exec<V: SerializeRow + Send + Sync>(
        &self,
        stmt: &PreparedStatement,
        values: V,
    ) -> Result<()> {
        let mut delay = Duration::from_millis(50);
        let mut attempt = 1;
        loop {
            match self.session.execute_unpaged(stmt, &values).await {
                Ok(_) => return Ok(()),
                Err(e) if attempt >= self.attempts => {
                    return Err(unavailable("write failed", e));
                }
                Err(e) => {
                    tracing::debug!(error = %e, attempt, "cassandra write failed, retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
            }
        }
    }

    /// Rows of a read statement.
    async fn select<R, V>(&self, stmt: &PreparedStatement, values: V) -> Result<Vec<R>>
    where
        R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
        V: SerializeRow,
    {
        let res = self
            .session
            .execute_unpaged(stmt, values)
            .await
            .map_err(|e| unavailable("query failed", e))?
            .into_rows_result()
            .map_err(|e| unavailable("query result", e))?;
        let mut out = Vec::with_capacity(res.rows_num());
        for r in res
            .rows::<R>()
            .map_err(|e| unavailable("query result", e))?
        {
            out.push(r.map_err(|e| StorageError::Corrupt(format!("cassandra row: {e}")))?);
        }
        Ok(out)
    }

    fn span_writes<'a>(&'a self, row: &'a SpanRow, out: &mut Vec<BoxFut<'a>>) {
        let service = row.process.service_name.as_deref().unwrap_or("");
        let st = &self.st;
        out.push(Box::pin(self.exec(
            &st.insert_span,
            (
                &row.trace_id,
                row.span_id,
                row.span_hash,
                row.parent_id,
                &row.operation_name,
                row.flags,
                row.start_time,
                row.duration,
                &row.tags,
                &row.logs,
                &row.refs,
                &row.process,
            ),
        )));
        // Cassandra refuses an empty single-column partition key: a span without a
        // service keeps its trace and index rows but names no service.
        let named = !service.is_empty();
        if named && self.services.should_write(service) {
            out.push(Box::pin(async move {
                let r = self.exec(&st.insert_service, (service,)).await;
                if r.is_err() {
                    self.services.forget(service);
                }
                r
            }));
        }
        let kind = rows::span_kind(row);
        let op_key = format!("{service}|{kind}|{}", row.operation_name);
        if named && self.operations.should_write(&op_key) {
            let v2 = self.layout.operation_names_v2;
            out.push(Box::pin(async move {
                let r = if v2 {
                    self.exec(&st.insert_operation, (service, kind, &row.operation_name))
                        .await
                } else {
                    self.exec(&st.insert_operation, (service, &row.operation_name))
                        .await
                };
                if r.is_err() {
                    self.operations.forget(&op_key);
                }
                r
            }));
        }
        out.push(Box::pin(self.exec(
            &st.insert_service_index,
            (
                service,
                rows::service_bucket(row.span_hash),
                row.start_time,
                &row.trace_id,
            ),
        )));
        out.push(Box::pin(self.exec(
            &st.insert_operation_index,
            (service, &row.operation_name, row.start_time, &row.trace_id),
        )));
        for (key, value) in rows::index_tags(row, &self.index) {
            out.push(Box::pin(async move {
                self.exec(
                    &st.insert_tag_index,
                    (
                        &row.trace_id,
                        row.span_id,
                        service,
                        row.start_time,
                        key.as_str(),
                        value.as_str(),
                    ),
                )
                .await
            }));
        }
        let bucket = CqlTimestamp(rows::hour_bucket_ms(row.start_time));
        for op in ["", row.operation_name.as_str()] {
            out.push(Box::pin(self.exec(
                &st.insert_duration_index,
                (
                    service,
                    op,
                    bucket,
                    row.duration,
                    row.start_time,
                    &row.trace_id,
                ),
            )));
        }
    }

    async fn trace_rows(&self, id: &TraceId) -> Result<Vec<SpanRow>> {
        let pager = self
            .session
            .execute_iter(self.st.select_trace.clone(), (id.0.to_vec(),))
            .await
            .map_err(|e| unavailable("reading trace", e))?;
        let rows: Vec<TracesRow> = pager
            .rows_stream::<TracesRow>()
            .map_err(|e| unavailable("reading trace", e))?
            .try_collect()
            .await
            .map_err(|e| unavailable("reading trace", e))?;
        Ok(rows.into_iter().map(SpanRow::from).collect())
    }

    /// Trace ids with the latest start time of their matching index rows.
    async fn search(&self, q: &TraceQuery) -> Result<Vec<TraceId>> {
        let service = q
            .service_name
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| StorageError::InvalidQuery("service Name must be set".into()))?;
        if q.start_time_min == 0 || q.start_time_max == 0 {
            return Err(StorageError::InvalidQuery(
                "start and End Time must be set".into(),
            ));
        }
        if q.start_time_min > q.start_time_max {
            return Err(StorageError::InvalidQuery(
                "start Time Minimum is above Maximum".into(),
            ));
        }
        if let (Some(a), Some(b)) = (q.duration_min, q.duration_max)
            && a > b
        {
            return Err(StorageError::InvalidQuery(
                "duration Minimum is above Maximum".into(),
            ));
        }
        let has_duration = q.duration_min.is_some() || q.duration_max.is_some();
        if has_duration && !q.tags.is_empty() {
            return Err(StorageError::InvalidQuery(
                "cannot query for duration and tags simultaneously".into(),
            ));
        }
        let depth = if q.num_traces == 0 {
            DEFAULT_SEARCH_DEPTH
        } else {
            q.num_traces
        };
        let limit = i32::try_from(depth.saturating_mul(LIMIT_MULTIPLE)).unwrap_or(i32::MAX);
        let min_us = (q.start_time_min / 1_000) as i64;
        let max_us = (q.start_time_max / 1_000) as i64;
        let operation = q.operation_name.as_deref().filter(|o| !o.is_empty());

        let mut found: HashMap<TraceId, i64> = HashMap::new();
        let keep = |id: Vec<u8>, start: i64, found: &mut HashMap<TraceId, i64>| {
            if let Ok(id) = TraceId::from_slice(&id) {
                let e = found.entry(id).or_insert(start);
                *e = (*e).max(start);
            }
        };
        if has_duration {
            let dmin = q.duration_min.map(|d| (d / 1_000) as i64).unwrap_or(0);
            let dmax = q
                .duration_max
                .map(|d| (d / 1_000) as i64)
                .unwrap_or(24 * HOUR_US);
            let first = rows::hour_bucket_ms(max_us);
            let last = rows::hour_bucket_ms(min_us);
            let mut bucket = first;
            while bucket >= last {
                let rows: Vec<(Vec<u8>, i64)> = self
                    .select(
                        &self.st.find_by_duration,
                        (
                            CqlTimestamp(bucket),
                            service,
                            operation.unwrap_or(""),
                            dmin,
                            dmax,
                            limit,
                        ),
                    )
                    .await?;
                for (id, start) in rows {
                    // Jaeger applies no start-time filter here; we keep the window.
                    if (min_us..=max_us).contains(&start) {
                        keep(id, start, &mut found);
                    }
                }
                bucket -= HOUR_US / 1_000;
            }
        } else if !q.tags.is_empty() {
            // Span-level AND: a (trace, span) pair must carry every tag.
            let mut spans: Option<HashMap<(Vec<u8>, i64), i64>> = None;
            for (k, v) in &q.tags {
                let rows: Vec<(Vec<u8>, i64, i64)> = self
                    .select(&self.st.find_by_tag, (service, k, v, min_us, max_us, limit))
                    .await?;
                let these: HashMap<(Vec<u8>, i64), i64> = rows
                    .into_iter()
                    .map(|(t, s, start)| ((t, s), start))
                    .collect();
                spans = Some(match spans {
                    None => these,
                    Some(prev) => prev
                        .into_iter()
                        .filter(|(k, _)| these.contains_key(k))
                        .collect(),
                });
            }
            let mut by_trace = HashMap::new();
            for ((t, _), start) in spans.unwrap_or_default() {
                keep(t, start, &mut by_trace);
            }
            if let Some(op) = operation {
                // Like Jaeger: intersected with the operation index at trace level.
                let rows: Vec<(Vec<u8>, i64)> = self
                    .select(
                        &self.st.find_by_operation,
                        (service, op, min_us, max_us, limit),
                    )
                    .await?;
                let with_op: HashSet<TraceId> = rows
                    .into_iter()
                    .filter_map(|(t, _)| TraceId::from_slice(&t).ok())
                    .collect();
                by_trace.retain(|t, _| with_op.contains(t));
            }
            found = by_trace;
        } else if let Some(op) = operation {
            let rows: Vec<(Vec<u8>, i64)> = self
                .select(
                    &self.st.find_by_operation,
                    (service, op, min_us, max_us, limit),
                )
                .await?;
            for (id, start) in rows {
                keep(id, start, &mut found);
            }
        } else {
            // The newest `limit` rows of the ten bucket partitions, as Jaeger's single
            // IN query returns them, from ten queries that each read at most `limit`.
            let per_bucket = (0..rows::SERVICE_NAME_BUCKETS).map(|bucket| {
                self.select::<(Vec<u8>, i64), _>(
                    &self.st.find_by_service,
                    (service, bucket, min_us, max_us, limit),
                )
            });
            let mut rows: Vec<(Vec<u8>, i64)> = futures::future::try_join_all(per_bucket)
                .await?
                .into_iter()
                .flatten()
                .collect();
            rows.sort_by_key(|r| std::cmp::Reverse(r.1));
            rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
            for (id, start) in rows {
                keep(id, start, &mut found);
            }
        }
        let mut ids: Vec<(TraceId, i64)> = found.into_iter().collect();
        ids.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.cmp(&a.0)));
        ids.truncate(depth);
        Ok(ids.into_iter().map(|(id, _)| id).collect())
    }
}

/// OTLP of `traces` rows (grouped back by process and scope).
fn rows_to_otlp(rows: Vec<SpanRow>) -> Result<Vec<ResourceSpans>> {
    let mut spans = Vec::with_capacity(rows.len());
    for r in rows {
        spans.push(rows::row_to_span(r)?);
    }
    batch_to_otlp(&Batch {
        spans,
        process: None,
    })
    .map_err(|e| StorageError::Corrupt(format!("cassandra span: {e}")))
}

#[async_trait]
impl SpanWriter for CassandraStore {
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> Result<()> {
        let rows: Vec<SpanRow> = spans_from_otlp(&batch)
            .iter()
            .map(rows::span_to_row)
            .collect();
        let mut writes: Vec<BoxFut<'_>> = Vec::with_capacity(rows.len() * 12);
        for row in &rows {
            self.span_writes(row, &mut writes);
        }
        futures::stream::iter(writes)
            .buffer_unordered(WRITE_CONCURRENCY)
            .try_collect::<()>()
            .await
    }
}

#[async_trait]
impl SpanReader for CassandraStore {
    async fn get_trace(&self, params: GetTraceParams) -> Result<Option<Trace>> {
        let rows = self.trace_rows(&params.trace_id).await?;
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(Trace::new(rows_to_otlp(rows)?)))
    }

    async fn find_traces(&self, query: &TraceQuery) -> Result<Vec<Trace>> {
        let ids = self.search(query).await?;
        let traces: Vec<Option<Trace>> = futures::stream::iter(ids)
            .map(|id| async move {
                self.get_trace(GetTraceParams {
                    trace_id: id,
                    start: None,
                    end: None,
                })
                .await
            })
            .buffered(8)
            .try_collect()
            .await?;
        Ok(traces.into_iter().flatten().collect())
    }

    async fn find_trace_ids(&self, query: &TraceQuery) -> Result<Vec<TraceId>> {
        self.search(query).await
    }

    async fn get_services(&self) -> Result<Vec<String>> {
        let rows: Vec<(String,)> = self.select(&self.st.select_services, ()).await?;
        let mut out: Vec<String> = rows.into_iter().map(|r| r.0).collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    async fn get_operations(&self, query: &OperationQuery) -> Result<Vec<Operation>> {
        if !self.layout.operation_names_v2 {
            let rows: Vec<(Option<String>,)> = self
                .select(&self.st.select_operations, (&query.service_name,))
                .await?;
            let mut out: Vec<Operation> = rows
                .into_iter()
                .map(|(name,)| Operation {
                    name: name.unwrap_or_default(),
                    span_kind: String::new(),
                })
                .collect();
            out.sort();
            out.dedup();
            return Ok(out);
        }
        let rows: Vec<(Option<String>, Option<String>)> = match &query.span_kind {
            None => {
                self.select(&self.st.select_operations, (&query.service_name,))
                    .await?
            }
            Some(kind) => {
                self.select(&self.st.select_operations_kind, (&query.service_name, kind))
                    .await?
            }
        };
        let mut out: Vec<Operation> = rows
            .into_iter()
            .map(|(kind, name)| Operation {
                name: name.unwrap_or_default(),
                span_kind: kind.unwrap_or_default(),
            })
            .collect();
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
        let pager = self
            .session
            .execute_iter(
                self.st.scan_traces.clone(),
                ((start / 1_000) as i64, (end / 1_000) as i64),
            )
            .await
            .map_err(|e| unavailable("scanning traces", e))?;
        let mut stream = pager
            .rows_stream::<TracesRow>()
            .map_err(|e| unavailable("scanning traces", e))?
            .try_chunks(1_000);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| unavailable("scanning traces", e.1))?;
            let otlp = rows_to_otlp(chunk.into_iter().map(SpanRow::from).collect())?;
            if sink.send(otlp).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

fn day_bucket(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS) * DAY_MS
}

fn links_of(deps: Option<Vec<DependencyUdt>>) -> impl Iterator<Item = DependencyLink> {
    deps.into_iter().flatten().map(|d| DependencyLink {
        parent: d.parent.unwrap_or_default(),
        child: d.child.unwrap_or_default(),
        call_count: d.call_count.unwrap_or(0).max(0) as u64,
        source: d
            .source
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "jaeger".into()),
    })
}

#[async_trait]
impl DependencyStore for CassandraStore {
    /// Jaeger's read (rows with `ts` in the range, per day bucket), plus the latest row
    /// starting before the range when it is less than a day older: that window
    /// overlaps the range (jobs write contiguous windows, a row carries only its start).
    async fn get_dependencies(&self, end: UnixNanos, lookback: u64) -> Result<Vec<DependencyLink>> {
        let end_ms = (end / 1_000_000) as i64;
        let start_ms = (end.saturating_sub(lookback) / 1_000_000) as i64;
        let mut out = Vec::new();
        if !self.layout.dependencies_v2 {
            // v001 `dependencies`: Jaeger's read, rows whose ts_index is in the range.
            let rows: Vec<(CqlTimestamp, Option<Vec<DependencyUdt>>)> = self
                .select(
                    &self.st.select_dependencies,
                    (CqlTimestamp(start_ms), CqlTimestamp(end_ms)),
                )
                .await?;
            out.extend(rows.into_iter().flat_map(|(_, d)| links_of(d)));
            return Ok(out);
        }
        let mut row_at_start = false;
        let mut bucket = day_bucket(start_ms);
        while bucket < end_ms {
            let rows: Vec<(CqlTimestamp, Option<Vec<DependencyUdt>>)> = self
                .select(
                    &self.st.select_dependencies,
                    (
                        CqlTimestamp(bucket),
                        CqlTimestamp(start_ms),
                        CqlTimestamp(end_ms),
                    ),
                )
                .await?;
            for (ts, d) in rows {
                row_at_start |= ts.0 == start_ms;
                out.extend(links_of(d));
            }
            bucket += DAY_MS;
        }
        if !row_at_start {
            for b in [day_bucket(start_ms), day_bucket(start_ms) - DAY_MS] {
                let rows: Vec<(CqlTimestamp, Option<Vec<DependencyUdt>>)> = self
                    .select(
                        &self.st.select_last_dependencies,
                        (CqlTimestamp(b), CqlTimestamp(start_ms - 1)),
                    )
                    .await?;
                if let Some((ts, d)) = rows.into_iter().next() {
                    if start_ms - ts.0 < DAY_MS {
                        out.extend(links_of(d));
                    }
                    break;
                }
            }
        }
        Ok(out)
    }

    async fn write_dependencies(
        &self,
        window_start: UnixNanos,
        _window_end: UnixNanos,
        links: Vec<DependencyLink>,
    ) -> Result<()> {
        let ts = (window_start / 1_000_000) as i64;
        let deps: Vec<DependencyUdt> = links
            .into_iter()
            .map(|l| DependencyUdt {
                parent: Some(l.parent),
                child: Some(l.child),
                call_count: Some(i64::try_from(l.call_count).unwrap_or(i64::MAX)),
                source: Some(l.source),
            })
            .collect();
        // v004 binds (ts, ts_bucket); v001 (ts, ts_index), where ts_index = ts.
        let second = if self.layout.dependencies_v2 {
            day_bucket(ts)
        } else {
            ts
        };
        self.exec(
            &self.st.insert_dependencies,
            (CqlTimestamp(ts), CqlTimestamp(second), deps),
        )
        .await
    }
}

#[async_trait]
impl StorageHealth for CassandraStore {
    async fn is_healthy(&self) -> bool {
        let probe = self
            .session
            .query_unpaged("SELECT release_version FROM system.local", ());
        matches!(
            tokio::time::timeout(Duration::from_secs(5), probe).await,
            Ok(Ok(_))
        )
    }
}
