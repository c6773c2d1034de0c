//! Jaeger's v004 Cassandra schema (storage spec §1.2–§1.4, §1.10): the DDL of
//! `v004-go-tmpl.cql.tmpl` with its template values, executed statement by statement
//! (every statement is `IF NOT EXISTS`, so creating twice is harmless), and the
//! detection of an existing keyspace's layout (v004, or the legacy tables of older
//! Jaeger versions, which the reader and writer fall back to).

use std::time::Duration;

use scylla::client::session::Session;

use crate::{Result, StorageError};

/// The values substituted into the template.
#[derive(Clone, Debug, PartialEq)]
pub struct SchemaOptions {
    pub keyspace: String,
    /// `NetworkTopologyStrategy` with this DC when non-empty, else `SimpleStrategy`.
    pub datacenter: String,
    pub replication_factor: u32,
    /// `default_time_to_live` of the trace and index tables (0 = none).
    pub trace_ttl: Duration,
    /// `default_time_to_live` of `dependencies_v2` (0 = none).
    pub dependencies_ttl: Duration,
    /// TWCS window of `traces`, in whole minutes.
    pub compaction_window: Duration,
}

impl Default for SchemaOptions {
    /// Jaeger v2's defaults (spec §1.10).
    fn default() -> Self {
        Self {
            keyspace: "jaeger_dc1".into(),
            datacenter: "dc1".into(),
            replication_factor: 1,
            trace_ttl: Duration::from_secs(48 * 3600),
            dependencies_ttl: Duration::from_secs(48 * 3600),
            compaction_window: Duration::from_secs(2 * 3600),
        }
    }
}

/// Tables of the v004 layout, in creation order.
pub const TABLES: &[&str] = &[
    "traces",
    "service_names",
    "operation_names_v2",
    "service_operation_index",
    "service_name_index",
    "duration_index",
    "tag_index",
    "dependencies_v2",
    "operation_throughput",
    "sampling_probabilities",
    "leases",
];

/// Keyspace names as create.sh accepts them.
pub fn valid_keyspace(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl SchemaOptions {
    pub fn validate(&self) -> Result<()> {
        if !valid_keyspace(&self.keyspace) {
            return Err(StorageError::InvalidQuery(format!(
                "invalid keyspace name {:?}: only letters, digits and underscores",
                self.keyspace
            )));
        }
        for (name, ttl) in [
            ("trace_ttl", self.trace_ttl),
            ("dependencies_ttl", self.dependencies_ttl),
        ] {
            if !ttl.is_zero() && ttl < Duration::from_secs(1) {
                return Err(StorageError::InvalidQuery(format!(
                    "{name} must be 0 or at least 1s"
                )));
            }
        }
        if self.compaction_window < Duration::from_secs(60) {
            return Err(StorageError::InvalidQuery(
                "compaction_window must be at least 1m".into(),
            ));
        }
        if !self
            .datacenter
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(StorageError::InvalidQuery(format!(
                "invalid datacenter name {:?}",
                self.datacenter
            )));
        }
        Ok(())
    }

    fn replication(&self) -> String {
        if self.datacenter.is_empty() {
            format!(
                "{{'class': 'SimpleStrategy', 'replication_factor': '{}'}}",
                self.replication_factor
            )
        } else {
            format!(
                "{{'class': 'NetworkTopologyStrategy', '{}': '{}'}}",
                self.datacenter, self.replication_factor
            )
        }
    }

    /// The statements of the v004 template, in order.
    pub fn statements(&self) -> Vec<String> {
        let ks = &self.keyspace;
        let ttl = self.trace_ttl.as_secs();
        let dep_ttl = self.dependencies_ttl.as_secs();
        let window = (self.compaction_window.as_secs() / 60).max(1);
        let common = format!(
            "default_time_to_live = {ttl}\n    AND speculative_retry = 'NONE'\n    AND gc_grace_seconds = 10800"
        );
        let stcs = "compaction = {\n        'min_threshold': '4',\n        'max_threshold': '32',\n        'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy'\n    }";
        let twcs_hour = "compaction = {\n        'compaction_window_size': '1',\n        'compaction_window_unit': 'HOURS',\n        'class': 'org.apache.cassandra.db.compaction.TimeWindowCompactionStrategy'\n    }";
        vec![
            format!(
                "CREATE KEYSPACE IF NOT EXISTS {ks} WITH replication = {}",
                self.replication()
            ),
            format!(
                "CREATE TYPE IF NOT EXISTS {ks}.keyvalue (\n    key text,\n    value_type text,\n    value_string text,\n    value_bool boolean,\n    value_long bigint,\n    value_double double,\n    value_binary blob\n)"
            ),
            format!(
                "CREATE TYPE IF NOT EXISTS {ks}.log (\n    ts bigint,\n    fields frozen<list<frozen<{ks}.keyvalue>>>\n)"
            ),
            format!(
                "CREATE TYPE IF NOT EXISTS {ks}.span_ref (\n    ref_type text,\n    trace_id blob,\n    span_id bigint\n)"
            ),
            format!(
                "CREATE TYPE IF NOT EXISTS {ks}.process (\n    service_name text,\n    tags frozen<list<frozen<{ks}.keyvalue>>>\n)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.traces (\n    trace_id blob,\n    span_id bigint,\n    span_hash bigint,\n    parent_id bigint,\n    operation_name text,\n    flags int,\n    start_time bigint,\n    duration bigint,\n    tags list<frozen<{ks}.keyvalue>>,\n    logs list<frozen<{ks}.log>>,\n    refs list<frozen<{ks}.span_ref>>,\n    process frozen<{ks}.process>,\n    PRIMARY KEY (trace_id, span_id, span_hash)\n)\n    WITH compaction = {{\n        'compaction_window_size': '{window}',\n        'compaction_window_unit': 'MINUTES',\n        'class': 'org.apache.cassandra.db.compaction.TimeWindowCompactionStrategy'\n    }}\n    AND {common}"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.service_names (\n    service_name text,\n    PRIMARY KEY (service_name)\n)\n    WITH {stcs}\n    AND {common}"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.operation_names_v2 (\n    service_name text,\n    span_kind text,\n    operation_name text,\n    PRIMARY KEY ((service_name), span_kind, operation_name)\n)\n    WITH {stcs}\n    AND {common}"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.service_operation_index (\n    service_name text,\n    operation_name text,\n    start_time bigint,\n    trace_id blob,\n    PRIMARY KEY ((service_name, operation_name), start_time)\n) WITH CLUSTERING ORDER BY (start_time DESC)\n    AND {twcs_hour}\n    AND {common}"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.service_name_index (\n    service_name text,\n    bucket int,\n    start_time bigint,\n    trace_id blob,\n    PRIMARY KEY ((service_name, bucket), start_time)\n) WITH CLUSTERING ORDER BY (start_time DESC)\n    AND {twcs_hour}\n    AND {common}"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.duration_index (\n    service_name text,\n    operation_name text,\n    bucket timestamp,\n    duration bigint,\n    start_time bigint,\n    trace_id blob,\n    PRIMARY KEY ((service_name, operation_name, bucket), duration, start_time, trace_id)\n) WITH CLUSTERING ORDER BY (duration DESC, start_time DESC)\n    AND {twcs_hour}\n    AND {common}"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.tag_index (\n    service_name text,\n    tag_key text,\n    tag_value text,\n    start_time bigint,\n    trace_id blob,\n    span_id bigint,\n    PRIMARY KEY ((service_name, tag_key, tag_value), start_time, trace_id, span_id)\n)\n    WITH CLUSTERING ORDER BY (start_time DESC)\n    AND {twcs_hour}\n    AND {common}"
            ),
            format!(
                "CREATE TYPE IF NOT EXISTS {ks}.dependency (\n    parent text,\n    child text,\n    call_count bigint,\n    source text\n)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.dependencies_v2 (\n    ts_bucket timestamp,\n    ts timestamp,\n    dependencies list<frozen<{ks}.dependency>>,\n    PRIMARY KEY (ts_bucket, ts)\n) WITH CLUSTERING ORDER BY (ts DESC)\n    AND {stcs}\n    AND default_time_to_live = {dep_ttl}"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.operation_throughput (\n    bucket int,\n    ts timeuuid,\n    throughput text,\n    PRIMARY KEY(bucket, ts)\n) WITH CLUSTERING ORDER BY (ts desc)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.sampling_probabilities (\n    bucket int,\n    ts timeuuid,\n    hostname text,\n    probabilities text,\n    PRIMARY KEY(bucket, ts)\n) WITH CLUSTERING ORDER BY (ts desc)"
            ),
            format!(
                "CREATE TABLE IF NOT EXISTS {ks}.leases (\n    name text,\n    owner text,\n    PRIMARY KEY (name)\n)"
            ),
        ]
    }

    /// The whole template as a CQL script (what `jaeger cassandra-schema` prints).
    pub fn script(&self) -> String {
        self.statements()
            .into_iter()
            .map(|s| format!("{s};\n\n"))
            .collect()
    }
}

fn cql_error(what: &str, e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(format!("cassandra: {what}: {e}"))
}

/// The tables of a keyspace, or `None` when the keyspace does not exist.
pub async fn existing_tables(session: &Session, keyspace: &str) -> Result<Option<Vec<String>>> {
    let ks = session
        .query_unpaged(
            "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?",
            (keyspace,),
        )
        .await
        .map_err(|e| cql_error("reading system_schema.keyspaces", e))?
        .into_rows_result()
        .map_err(|e| cql_error("reading system_schema.keyspaces", e))?;
    if ks.rows_num() == 0 {
        return Ok(None);
    }
    let rows = session
        .query_unpaged(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ?",
            (keyspace,),
        )
        .await
        .map_err(|e| cql_error("reading system_schema.tables", e))?
        .into_rows_result()
        .map_err(|e| cql_error("reading system_schema.tables", e))?;
    let mut out = Vec::new();
    for r in rows
        .rows::<(String,)>()
        .map_err(|e| cql_error("reading system_schema.tables", e))?
    {
        out.push(
            r.map_err(|e| cql_error("reading system_schema.tables", e))?
                .0,
        );
    }
    Ok(Some(out))
}

/// Tables every Jaeger layout (v001..v004) has and the reader and writer need.
pub const CORE_TABLES: &[&str] = &[
    "traces",
    "service_names",
    "service_operation_index",
    "service_name_index",
    "duration_index",
    "tag_index",
];

/// Which tables of an existing keyspace to use: the v004 ones where they exist, else the
/// legacy tables older Jaeger versions wrote (as Jaeger's reader and writer probe them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// `operation_names_v2` (with span kind), else `operation_names` (≤ v002).
    pub operation_names_v2: bool,
    /// `dependencies_v2` (day buckets), else v001's `dependencies`.
    pub dependencies_v2: bool,
    /// `operation_throughput`, `sampling_probabilities` and `leases` exist.
    pub sampling: bool,
}

impl Layout {
    pub const V004: Layout = Layout {
        operation_names_v2: true,
        dependencies_v2: true,
        sampling: true,
    };

    /// Jaeger's name for this layout.
    pub fn version(&self) -> &'static str {
        match (self.operation_names_v2, self.dependencies_v2) {
            (true, _) => "v003/v004",
            (false, true) => "v002",
            (false, false) => "v001",
        }
    }
}

/// The layout of an existing keyspace, or a clear error when it is missing or is not a
/// Jaeger keyspace.
pub fn detect_layout(keyspace: &str, tables: Option<&[String]>) -> Result<Layout> {
    let Some(tables) = tables else {
        return Err(StorageError::Unavailable(format!(
            "cassandra keyspace {keyspace} does not exist: create it with schema.create: true \
             or with `jaeger cassandra-schema`"
        )));
    };
    let has = |t: &str| tables.iter().any(|x| x == t);
    let mut missing: Vec<&str> = CORE_TABLES.iter().copied().filter(|t| !has(t)).collect();
    if !has("operation_names_v2") && !has("operation_names") {
        missing.push("operation_names_v2");
    }
    if !has("dependencies_v2") && !has("dependencies") {
        missing.push("dependencies_v2");
    }
    if !missing.is_empty() {
        return Err(StorageError::Unavailable(format!(
            "cassandra keyspace {keyspace} is not a Jaeger keyspace: tables {missing:?} missing"
        )));
    }
    Ok(Layout {
        operation_names_v2: has("operation_names_v2"),
        dependencies_v2: has("dependencies_v2"),
        sampling: ["operation_throughput", "sampling_probabilities", "leases"]
            .iter()
            .all(|t| has(t)),
    })
}

/// Creates the keyspace, types and tables (idempotent: every statement is `IF NOT
/// EXISTS`) and returns the layout to use. In a keyspace of an older Jaeger layout the
/// `_v2` replacements of its legacy tables are not created, so its data stays readable
/// (by this build through the legacy tables, and by the Jaeger that wrote it); the
/// missing sampling tables are added.
pub async fn create(session: &Session, opts: &SchemaOptions) -> Result<Layout> {
    opts.validate()?;
    let mut skip: Vec<&str> = Vec::new();
    if let Some(tables) = existing_tables(session, &opts.keyspace).await? {
        let has = |t: &str| tables.iter().any(|x| x == t);
        if has("operation_names") && !has("operation_names_v2") {
            skip.push("operation_names_v2");
        }
        if has("dependencies") && !has("dependencies_v2") {
            skip.push("dependencies_v2");
        }
    }
    for stmt in opts.statements() {
        if skip
            .iter()
            .any(|t| stmt.contains(&format!("TABLE IF NOT EXISTS {}.{t} ", opts.keyspace)))
        {
            continue;
        }
        session
            .query_unpaged(stmt.as_str(), ())
            .await
            .map_err(|e| cql_error(&format!("schema statement failed ({stmt})"), e))?;
    }
    session
        .await_schema_agreement()
        .await
        .map_err(|e| cql_error("schema agreement", e))?;
    let tables = existing_tables(session, &opts.keyspace).await?;
    detect_layout(&opts.keyspace, tables.as_deref())
}

/// `ALTER TABLE` statements that set the TTLs and the `traces` compaction window of an
/// existing keyspace to these options (`jaeger cassandra-schema --alter`). Rows already
/// written keep the TTL they were written with.
pub fn alter_statements(opts: &SchemaOptions, tables: &[String]) -> Vec<String> {
    let ks = &opts.keyspace;
    let ttl = opts.trace_ttl.as_secs();
    let window = (opts.compaction_window.as_secs() / 60).max(1);
    let mut out = Vec::new();
    for t in tables {
        match t.as_str() {
            "traces" => out.push(format!(
                "ALTER TABLE {ks}.traces WITH default_time_to_live = {ttl} AND compaction = {{'compaction_window_size': '{window}', 'compaction_window_unit': 'MINUTES', 'class': 'org.apache.cassandra.db.compaction.TimeWindowCompactionStrategy'}}"
            )),
            "service_names" | "operation_names_v2" | "operation_names" | "service_operation_index"
            | "service_name_index" | "duration_index" | "tag_index" => out.push(format!(
                "ALTER TABLE {ks}.{t} WITH default_time_to_live = {ttl}"
            )),
            "dependencies_v2" | "dependencies" => out.push(format!(
                "ALTER TABLE {ks}.{t} WITH default_time_to_live = {}",
                opts.dependencies_ttl.as_secs()
            )),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_values() {
        let o = SchemaOptions {
            keyspace: "jaeger_v1_test".into(),
            datacenter: String::new(),
            replication_factor: 1,
            trace_ttl: Duration::from_secs(172800),
            dependencies_ttl: Duration::ZERO,
            compaction_window: Duration::from_secs(96 * 60),
        };
        let s = o.statements();
        assert_eq!(s.len(), 17);
        assert_eq!(
            s[0],
            "CREATE KEYSPACE IF NOT EXISTS jaeger_v1_test WITH replication = {'class': 'SimpleStrategy', 'replication_factor': '1'}"
        );
        assert!(s[5].contains("'compaction_window_size': '96'"));
        assert!(s[5].contains("default_time_to_live = 172800"));
        assert!(s[13].ends_with("default_time_to_live = 0"));
        let dc = SchemaOptions::default();
        assert!(dc.statements()[0].contains("'NetworkTopologyStrategy', 'dc1': '1'"));
        assert!(
            dc.script()
                .contains("CREATE TABLE IF NOT EXISTS jaeger_dc1.tag_index")
        );
    }

    #[test]
    fn validation() {
        let bad = SchemaOptions {
            keyspace: "a-b".into(),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        let bad = SchemaOptions {
            compaction_window: Duration::from_secs(30),
            ..Default::default()
        };
        assert!(bad.validate().is_err());
        assert!(SchemaOptions::default().validate().is_ok());
    }

    #[test]
    fn layouts_old_and_new() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(
            detect_layout("k", None)
                .unwrap_err()
                .to_string()
                .contains("does not exist")
        );
        let v4: Vec<String> = TABLES.iter().map(|s| s.to_string()).collect();
        assert_eq!(detect_layout("k", Some(&v4)).unwrap(), Layout::V004);
        let mut v1 = t(CORE_TABLES);
        v1.extend(t(&["operation_names", "dependencies"]));
        let l = detect_layout("k", Some(&v1)).unwrap();
        assert!(!l.operation_names_v2 && !l.dependencies_v2 && !l.sampling);
        assert_eq!(l.version(), "v001");
        let err = detect_layout("k", Some(&t(&["foo"])))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a Jaeger keyspace"), "{err}");
        let alter = alter_statements(&SchemaOptions::default(), &v4);
        assert!(alter[0].contains("traces WITH default_time_to_live = 172800"));
        assert!(alter[0].contains("'compaction_window_size': '120'"));
        assert!(
            alter.iter().any(|a| a
                == "ALTER TABLE jaeger_dc1.dependencies_v2 WITH default_time_to_live = 172800")
        );
        assert!(!alter.iter().any(|a| a.contains("leases")));
    }
}
