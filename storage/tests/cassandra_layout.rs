//! Jaeger compatibility of the Cassandra layout, checked by reading the rows our writer
//! produced straight through CQL and comparing them with Jaeger's v004 schema and
//! writer (storage spec §1.3–§1.6, §1.8, §1.10). Needs `JAEGER_TEST_CASSANDRA` like
//! cassandra_conformance.rs.

use std::time::Duration;

use jaeger_model::otlp::trace::span::SpanKind;
use jaeger_storage::cassandra::rows::{DependencyUdt, KeyValueUdt, LogUdt, ProcessUdt, SpanRefUdt};
use jaeger_storage::cassandra::{CassandraConfig, CassandraStore, SchemaOptions, schema};
use jaeger_storage::conformance::cassandra_test_server as cassandra_addr;
use jaeger_storage::conformance::unique_name;
use jaeger_storage::conformance::{
    HOUR, MILLISECOND, MINUTE, TestSpan, batch, bool_val, bytes_val, double_val, int_val,
    reference_time, str_val, trace_id,
};
use jaeger_storage::{DependencyLink, DependencyStore, SpanReader, SpanWriter};
use scylla::client::session::Session;
use scylla::value::CqlTimestamp;

fn config(addr: &str, keyspace: &str, create: bool) -> CassandraConfig {
    CassandraConfig {
        servers: vec![addr.to_string()],
        username: Some("cassandra".into()),
        password: Some("cassandra".into()),
        create_schema: create,
        schema: SchemaOptions {
            keyspace: keyspace.to_string(),
            datacenter: String::new(),
            trace_ttl: Duration::from_secs(7200),
            dependencies_ttl: Duration::from_secs(86400),
            compaction_window: Duration::from_secs(3600),
            replication_factor: 1,
        },
        ..Default::default()
    }
}

async fn rows<R>(s: &Session, cql: &str) -> Vec<R>
where
    R: for<'f, 'm> scylla::deserialize::row::DeserializeRow<'f, 'm>,
{
    s.query_unpaged(cql, ())
        .await
        .unwrap_or_else(|e| panic!("{cql}: {e}"))
        .into_rows_result()
        .expect("rows")
        .rows::<R>()
        .expect("row type")
        .map(|r| r.expect("row"))
        .collect()
}

fn kv(key: &str, t: &str) -> KeyValueUdt {
    KeyValueUdt {
        key: Some(key.into()),
        value_type: Some(t.into()),
        value_string: Some(String::new()),
        value_bool: Some(false),
        value_long: Some(0),
        value_double: Some(0.0),
        value_binary: None,
    }
}
fn s_kv(key: &str, v: &str) -> KeyValueUdt {
    KeyValueUdt {
        value_string: Some(v.into()),
        ..kv(key, "string")
    }
}

/// `system_schema.tables`: name, default TTL, gc grace, compaction, speculative retry.
type TableRow = (
    String,
    i32,
    i32,
    std::collections::HashMap<String, String>,
    String,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_matches_v004() {
    let Some(addr) = cassandra_addr() else { return };
    let ks = unique_name("layout_schema");
    let store = CassandraStore::open(config(&addr, &ks, true))
        .await
        .expect("schema created");
    // Creating again is a no-op.
    CassandraStore::open(config(&addr, &ks, true))
        .await
        .expect("schema creation is idempotent");
    CassandraStore::open(config(&addr, &ks, false))
        .await
        .expect("existing v004 keyspace opens without create");
    let s = store.session();

    let tables: Vec<TableRow> = rows(
        s,
        &format!(
            "SELECT table_name, default_time_to_live, gc_grace_seconds, compaction, speculative_retry FROM system_schema.tables WHERE keyspace_name = '{ks}'"
        ),
    )
    .await;
    let table = |name: &str| {
        tables
            .iter()
            .find(|t| t.0 == name)
            .unwrap_or_else(|| panic!("table {name} missing"))
    };
    for name in schema::TABLES {
        table(name);
    }
    assert_eq!(tables.len(), schema::TABLES.len(), "no other tables");
    for name in [
        "traces",
        "service_names",
        "operation_names_v2",
        "service_operation_index",
        "service_name_index",
        "duration_index",
        "tag_index",
    ] {
        let t = table(name);
        assert_eq!(t.1, 7200, "{name} default_time_to_live = trace_ttl");
        assert_eq!(t.2, 10800, "{name} gc_grace_seconds");
        // 'NONE' in the template; Cassandra 4+ reports it as NEVER.
        assert!(
            ["NONE", "NEVER"].contains(&t.4.as_str()),
            "{name} speculative_retry {}",
            t.4
        );
    }
    let traces = table("traces");
    assert!(traces.3["class"].ends_with("TimeWindowCompactionStrategy"));
    assert_eq!(traces.3["compaction_window_size"], "60");
    assert_eq!(traces.3["compaction_window_unit"], "MINUTES");
    for name in [
        "service_operation_index",
        "service_name_index",
        "duration_index",
        "tag_index",
    ] {
        let c = &table(name).3;
        assert!(
            c["class"].ends_with("TimeWindowCompactionStrategy"),
            "{name}"
        );
        assert_eq!(
            (
                c["compaction_window_size"].as_str(),
                c["compaction_window_unit"].as_str()
            ),
            ("1", "HOURS"),
            "{name}"
        );
    }
    for name in ["service_names", "operation_names_v2", "dependencies_v2"] {
        assert!(
            table(name).3["class"].ends_with("SizeTieredCompactionStrategy"),
            "{name}"
        );
    }
    assert_eq!(table("dependencies_v2").1, 86400, "dependencies_ttl");
    assert_eq!(table("leases").1, 0);

    // Columns, kinds and clustering order.
    let cols: Vec<(String, String, String, String, i32)> = rows(
        s,
        &format!(
            "SELECT table_name, column_name, type, kind, position FROM system_schema.columns WHERE keyspace_name = '{ks}'"
        ),
    )
    .await;
    let col = |t: &str, c: &str| {
        cols.iter()
            .find(|x| x.0 == t && x.1 == c)
            .map(|x| (x.2.as_str(), x.3.as_str(), x.4))
            .unwrap_or_else(|| panic!("column {t}.{c} missing"))
    };
    assert_eq!(col("traces", "trace_id"), ("blob", "partition_key", 0));
    assert_eq!(col("traces", "span_id"), ("bigint", "clustering", 0));
    assert_eq!(col("traces", "span_hash"), ("bigint", "clustering", 1));
    assert_eq!(col("traces", "tags").0, "list<frozen<keyvalue>>");
    assert_eq!(col("traces", "logs").0, "list<frozen<log>>");
    assert_eq!(col("traces", "refs").0, "list<frozen<span_ref>>");
    assert_eq!(col("traces", "process").0, "frozen<process>");
    assert_eq!(col("traces", "flags").0, "int");
    assert_eq!(
        col("operation_names_v2", "span_kind"),
        ("text", "clustering", 0)
    );
    assert_eq!(
        col("service_name_index", "bucket"),
        ("int", "partition_key", 1)
    );
    assert_eq!(
        col("duration_index", "bucket"),
        ("timestamp", "partition_key", 2)
    );
    assert_eq!(
        col("duration_index", "duration"),
        ("bigint", "clustering", 0)
    );
    assert_eq!(col("tag_index", "span_id"), ("bigint", "clustering", 2));
    assert_eq!(
        col("dependencies_v2", "ts_bucket"),
        ("timestamp", "partition_key", 0)
    );
    let order: Vec<(String, String, String)> = rows(
        s,
        &format!(
            "SELECT table_name, column_name, clustering_order FROM system_schema.columns WHERE keyspace_name = '{ks}'"
        ),
    )
    .await;
    for (t, c, want) in [
        ("service_name_index", "start_time", "desc"),
        ("duration_index", "duration", "desc"),
        ("duration_index", "trace_id", "asc"),
        ("tag_index", "start_time", "desc"),
        ("dependencies_v2", "ts", "desc"),
        ("traces", "span_id", "asc"),
    ] {
        assert!(
            order.iter().any(|o| o.0 == t && o.1 == c && o.2 == want),
            "{t}.{c} {want}"
        );
    }
    let types: Vec<(String, Vec<String>, Vec<String>)> = rows(
        s,
        &format!("SELECT type_name, field_names, field_types FROM system_schema.types WHERE keyspace_name = '{ks}'"),
    )
    .await;
    let udt = |n: &str| {
        types
            .iter()
            .find(|t| t.0 == n)
            .unwrap_or_else(|| panic!("type {n}"))
    };
    assert_eq!(
        udt("keyvalue").1,
        [
            "key",
            "value_type",
            "value_string",
            "value_bool",
            "value_long",
            "value_double",
            "value_binary"
        ]
    );
    assert_eq!(
        udt("keyvalue").2,
        [
            "text", "text", "text", "boolean", "bigint", "double", "blob"
        ]
    );
    assert_eq!(udt("log").1, ["ts", "fields"]);
    assert_eq!(udt("log").2, ["bigint", "frozen<list<frozen<keyvalue>>>"]);
    assert_eq!(udt("span_ref").1, ["ref_type", "trace_id", "span_id"]);
    assert_eq!(udt("process").1, ["service_name", "tags"]);
    assert_eq!(
        udt("dependency").1,
        ["parent", "child", "call_count", "source"]
    );
    let repl: Vec<(std::collections::HashMap<String, String>,)> = rows(
        s,
        &format!("SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = '{ks}'"),
    )
    .await;
    assert!(repl[0].0["class"].ends_with("SimpleStrategy"));
    assert_eq!(repl[0].0["replication_factor"], "1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_layouts_stay_readable_and_a_missing_keyspace_is_a_clear_error() {
    let Some(addr) = cassandra_addr() else { return };
    let missing = unique_name("layout_missing");
    let err = CassandraStore::open(config(&addr, &missing, false))
        .await
        .err()
        .expect("a missing keyspace fails without schema.create")
        .to_string();
    assert!(
        err.contains("does not exist") && err.contains("schema.create"),
        "{err}"
    );

    // A keyspace Jaeger v001 wrote: operation_names and dependencies, no _v2 tables, no
    // sampling tables, and rows already in the legacy tables.
    let ks = unique_name("layout_v001");
    let store = CassandraStore::open(config(&addr, &ks, true))
        .await
        .expect("schema");
    let s = store.session();
    let day = 86_400_000i64;
    let old_ts = (reference_time() / 1_000_000) as i64 - day;
    for cql in [
        format!("DROP TABLE {ks}.operation_names_v2"),
        format!("DROP TABLE {ks}.dependencies_v2"),
        format!("DROP TABLE {ks}.operation_throughput"),
        format!("DROP TABLE {ks}.sampling_probabilities"),
        format!("DROP TABLE {ks}.leases"),
        format!(
            "CREATE TABLE {ks}.operation_names (service_name text, operation_name text, PRIMARY KEY ((service_name), operation_name))"
        ),
        format!(
            "CREATE TABLE {ks}.dependencies (ts timestamp, ts_index timestamp, dependencies list<frozen<dependency>>, PRIMARY KEY (ts))"
        ),
        format!(
            "INSERT INTO {ks}.operation_names (service_name, operation_name) VALUES ('legacy', 'old-op')"
        ),
        format!(
            "INSERT INTO {ks}.dependencies (ts, ts_index, dependencies) VALUES ({old_ts}, {old_ts}, [{{parent: 'a', child: 'b', call_count: 7, source: 'jaeger'}}])"
        ),
    ] {
        s.query_unpaged(cql.as_str(), ())
            .await
            .unwrap_or_else(|e| panic!("{cql}: {e}"));
    }
    drop(store);
    for create in [false, true] {
        let store = CassandraStore::open(config(&addr, &ks, create))
            .await
            .unwrap_or_else(|e| panic!("create={create}: an older layout opens: {e}"));
        let layout = store.layout();
        assert!(
            !layout.operation_names_v2 && !layout.dependencies_v2,
            "{layout:?}"
        );
        assert_eq!(layout.version(), "v001");
        // schema.create adds only the sampling tables, never the _v2 replacements.
        assert_eq!(layout.sampling, create);
    }
    let store = CassandraStore::open(config(&addr, &ks, false))
        .await
        .expect("open v001");
    let s = store.session();
    // Old rows are read from the legacy tables ...
    let ops = store
        .get_operations(&jaeger_storage::OperationQuery {
            service_name: "legacy".into(),
            span_kind: None,
        })
        .await
        .expect("operations");
    assert_eq!(ops.len(), 1);
    assert_eq!(
        (ops[0].name.as_str(), ops[0].span_kind.as_str()),
        ("old-op", "")
    );
    let end = reference_time();
    let links = store
        .get_dependencies(end, 2 * 86_400_000_000_000)
        .await
        .expect("dependencies");
    assert_eq!(links.len(), 1);
    assert_eq!((links[0].parent.as_str(), links[0].call_count), ("a", 7));
    // ... and new ones are written there, as the Jaeger of that layout would.
    let t0 = reference_time() + MINUTE;
    store
        .write_spans(batch(&[TestSpan::new(
            trace_id(7),
            1,
            "legacy",
            "new-op",
            t0,
            MILLISECOND,
        )
        .kind(SpanKind::Client)]))
        .await
        .expect("write");
    let names: Vec<(String, String)> = rows(
        s,
        &format!("SELECT service_name, operation_name FROM {ks}.operation_names WHERE service_name = 'legacy'"),
    )
    .await;
    assert_eq!(names.len(), 2, "{names:?}");
    store
        .write_dependencies(
            reference_time() / 1_000_000 * 1_000_000,
            reference_time() + HOUR,
            vec![DependencyLink {
                parent: "legacy".into(),
                child: "db".into(),
                call_count: 3,
                source: "jaeger".into(),
            }],
        )
        .await
        .expect("write dependencies");
    let deps: Vec<(CqlTimestamp, CqlTimestamp)> =
        rows(s, &format!("SELECT ts, ts_index FROM {ks}.dependencies")).await;
    assert_eq!(deps.len(), 2);
    assert!(deps.iter().all(|(a, b)| a.0 == b.0), "ts_index = ts");
    let trace = store
        .get_trace(jaeger_storage::GetTraceParams {
            trace_id: trace_id(7),
            start: None,
            end: None,
        })
        .await
        .expect("trace");
    assert!(trace.is_some());
    // Nothing of v004 was added next to the legacy tables.
    let t: Vec<(String,)> = rows(
        s,
        &format!("SELECT table_name FROM system_schema.tables WHERE keyspace_name = '{ks}'"),
    )
    .await;
    assert!(
        !t.iter()
            .any(|t| t.0 == "operation_names_v2" || t.0 == "dependencies_v2")
    );

    // Not a Jaeger keyspace at all: refused, nothing created.
    let other = unique_name("layout_other");
    s.query_unpaged(
        format!("CREATE KEYSPACE {other} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': '1'}}"),
        (),
    )
    .await
    .expect("keyspace");
    let err = CassandraStore::open(config(&addr, &other, false))
        .await
        .err()
        .expect("an empty keyspace is refused")
        .to_string();
    assert!(err.contains("not a Jaeger keyspace"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn written_rows_match_jaegers_writer() {
    let Some(addr) = cassandra_addr() else { return };
    let ks = unique_name("layout_rows");
    let store = CassandraStore::open(config(&addr, &ks, true))
        .await
        .expect("schema");
    let s = store.session();
    // 29 minutes past the hour: the duration bucket rounds down; 31 would round up.
    let t0 = reference_time() + 29 * MINUTE + 7_000;
    let id = trace_id(42);
    let span = TestSpan::new(
        id,
        0x8000_0000_0000_0001,
        "checkout",
        "POST /pay",
        t0,
        250 * MILLISECOND,
    )
    .kind(SpanKind::Server)
    .parent(0x77)
    .resource_attr("host.name", str_val("node-1"))
    .scope("lib", "1.0")
    .attr("http.status_code", int_val(200))
    .attr("ratio", double_val(72.5))
    .attr("cached", bool_val(false))
    .attr("payload", bytes_val(&[1, 2]))
    .attr("json", str_val("{\"a\":1}"))
    .attr("long", str_val(&"x".repeat(300)))
    .event(
        "retry",
        t0 + MILLISECOND,
        vec![jaeger_model::trace::kv("attempt", int_val(2))],
    )
    .link(trace_id(43), 5)
    .error("card declined");
    let child = TestSpan::new(id, 2, "checkout", "charge", t0 + 2 * MINUTE, MILLISECOND)
        .parent(0x8000_0000_0000_0001)
        .resource_attr("host.name", str_val("node-1"));
    store
        .write_spans(batch(&[span, child]))
        .await
        .expect("write");

    let tid = id.0.to_vec();
    type TraceRow = (
        Vec<u8>,
        i64,
        i64,
        i64,
        String,
        i32,
        i64,
        i64,
        Vec<KeyValueUdt>,
        Vec<LogUdt>,
        Vec<SpanRefUdt>,
        ProcessUdt,
    );
    let traces: Vec<TraceRow> = rows(
        s,
        &format!("SELECT trace_id, span_id, span_hash, parent_id, operation_name, flags, start_time, duration, tags, logs, refs, process FROM {ks}.traces"),
    )
    .await;
    assert_eq!(traces.len(), 2);
    let root = traces
        .iter()
        .find(|r| r.4 == "POST /pay")
        .expect("root row");
    assert_eq!(root.0, tid, "trace_id: 16 bytes, high then low");
    assert_eq!(
        root.1, 0x8000_0000_0000_0001u64 as i64,
        "span id as signed bigint"
    );
    assert_eq!(root.3, 0x77, "parent_id");
    assert_eq!(root.6, (t0 / 1_000) as i64, "start_time in µs");
    assert_eq!(root.7, 250_000, "duration in µs");
    let tag_keys: Vec<&str> = root
        .8
        .iter()
        .map(|t| t.key.as_deref().unwrap_or(""))
        .collect();
    let mut sorted = tag_keys.clone();
    sorted.sort();
    assert_eq!(tag_keys, sorted, "tags sorted by key");
    for want in [
        s_kv("span.kind", "server"),
        s_kv("otel.scope.name", "lib"),
        s_kv("otel.scope.version", "1.0"),
        s_kv("otel.status_code", "ERROR"),
        s_kv("otel.status_description", "card declined"),
        KeyValueUdt {
            value_bool: Some(true),
            ..kv("error", "bool")
        },
        KeyValueUdt {
            value_long: Some(200),
            ..kv("http.status_code", "int64")
        },
        KeyValueUdt {
            value_double: Some(72.5),
            ..kv("ratio", "float64")
        },
        KeyValueUdt {
            value_binary: Some(vec![1, 2]),
            ..kv("payload", "binary")
        },
    ] {
        assert!(root.8.contains(&want), "tag {want:?} in {:?}", root.8);
    }
    assert_eq!(root.9.len(), 1);
    assert_eq!(
        root.9[0].ts,
        Some((t0 / 1_000) as i64 + 1_000),
        "log ts in µs"
    );
    assert_eq!(
        root.9[0].fields.as_deref().unwrap_or(&[]),
        [
            KeyValueUdt {
                value_long: Some(2),
                ..kv("attempt", "int64")
            },
            s_kv("event", "retry")
        ]
    );
    assert_eq!(
        root.10[0],
        SpanRefUdt {
            ref_type: Some("child-of".into()),
            trace_id: Some(tid.clone()),
            span_id: Some(0x77)
        }
    );
    assert_eq!(root.10[1].ref_type.as_deref(), Some("follows-from"));
    assert_eq!(root.10[1].trace_id.as_deref(), Some(&trace_id(43).0[..]));
    assert_eq!(root.11.service_name.as_deref(), Some("checkout"));
    assert_eq!(
        root.11.tags.as_deref().unwrap_or(&[]),
        [s_kv("host.name", "node-1")]
    );
    let span_hash = root.2;

    // TTL comes from the table (writers never use USING TTL).
    let ttl: Vec<(Option<i32>,)> =
        rows(s, &format!("SELECT TTL(operation_name) FROM {ks}.traces")).await;
    assert!(
        ttl.iter()
            .all(|t| t.0.is_some_and(|v| v > 7000 && v <= 7200)),
        "{ttl:?}"
    );

    let services: Vec<(String,)> =
        rows(s, &format!("SELECT service_name FROM {ks}.service_names")).await;
    assert_eq!(services, [("checkout".to_string(),)]);
    let mut ops: Vec<(String, String, String)> = rows(
        s,
        &format!("SELECT service_name, span_kind, operation_name FROM {ks}.operation_names_v2"),
    )
    .await;
    ops.sort();
    assert_eq!(
        ops,
        [
            ("checkout".into(), "".into(), "charge".into()),
            ("checkout".into(), "server".into(), "POST /pay".into())
        ]
    );

    let bucket = ((span_hash as u64) % 10) as i32;
    let sni: Vec<(String, i32, i64, Vec<u8>)> = rows(
        s,
        &format!("SELECT service_name, bucket, start_time, trace_id FROM {ks}.service_name_index WHERE service_name = 'checkout' AND bucket = {bucket}"),
    )
    .await;
    assert!(
        sni.contains(&("checkout".into(), bucket, root.6, tid.clone())),
        "service_name_index bucket = span_hash mod 10"
    );
    let soi: Vec<(i64, Vec<u8>)> = rows(
        s,
        &format!("SELECT start_time, trace_id FROM {ks}.service_operation_index WHERE service_name = 'checkout' AND operation_name = 'POST /pay'"),
    )
    .await;
    assert_eq!(soi, [(root.6, tid.clone())]);

    let mut tags: Vec<(String, String, i64)> = rows(
        s,
        &format!("SELECT tag_key, tag_value, span_id FROM {ks}.tag_index"),
    )
    .await;
    tags.retain(|t| t.2 == root.1);
    tags.sort();
    let pairs: Vec<(&str, &str)> = tags.iter().map(|t| (t.0.as_str(), t.1.as_str())).collect();
    assert_eq!(
        pairs,
        [
            ("attempt", "2"),
            ("cached", "false"),
            ("error", "true"),
            ("event", "retry"),
            ("host.name", "node-1"),
            ("http.status_code", "200"),
            ("otel.scope.name", "lib"),
            ("otel.scope.version", "1.0"),
            ("otel.status_code", "ERROR"),
            ("otel.status_description", "card declined"),
            ("ratio", "72.5"),
            ("span.kind", "server"),
        ],
        "process tags, span tags and log fields; no binary, JSON objects or long values"
    );

    let hour_ms = (HOUR / 1_000_000) as i64;
    let want_bucket = (t0 / 1_000_000) as i64 / hour_ms * hour_ms; // :29 rounds down
    let mut dur: Vec<(String, CqlTimestamp, i64, i64)> = rows(
        s,
        &format!("SELECT operation_name, bucket, duration, start_time FROM {ks}.duration_index WHERE service_name = 'checkout' AND operation_name IN ('', 'POST /pay') AND bucket = {want_bucket}"),
    )
    .await;
    dur.retain(|d| d.3 == root.6);
    dur.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        dur.iter()
            .map(|d| (d.0.as_str(), d.1.0, d.2))
            .collect::<Vec<_>>(),
        [
            ("", want_bucket, 250_000),
            ("POST /pay", want_bucket, 250_000)
        ]
    );
    // The child starts at :31 and rounds up to the next hour.
    let next: Vec<(i64,)> = rows(
        s,
        &format!("SELECT start_time FROM {ks}.duration_index WHERE service_name = 'checkout' AND operation_name = 'charge' AND bucket = {}", want_bucket + hour_ms),
    )
    .await;
    assert_eq!(next.len(), 1, "xx:31 rounds up to the next hour");

    // The dependencies job's scan: spans by start time, whole rows.
    let (tx, mut rx) = tokio::sync::mpsc::channel(4);
    let scan = store.scan_spans(t0 - MINUTE, t0 + HOUR, tx);
    let collect = async {
        let mut n = 0;
        while let Some(chunk) = rx.recv().await {
            n += jaeger_model::trace::span_count(&chunk);
        }
        n
    };
    let (scanned, n) = tokio::join!(scan, collect);
    scanned.expect("scan_spans");
    assert_eq!(n, 2, "both spans scanned");

    // dependencies_v2: ts = window start, ts_bucket = its UTC midnight.
    let start = reference_time();
    store
        .write_dependencies(
            start,
            start + HOUR,
            vec![DependencyLink {
                parent: "a".into(),
                child: "b".into(),
                call_count: 3,
                source: "jaeger".into(),
            }],
        )
        .await
        .expect("write dependencies");
    let deps: Vec<(CqlTimestamp, CqlTimestamp, Vec<DependencyUdt>)> = rows(
        s,
        &format!("SELECT ts_bucket, ts, dependencies FROM {ks}.dependencies_v2"),
    )
    .await;
    let ts = (start / 1_000_000) as i64;
    assert_eq!(deps.len(), 1);
    assert_eq!(deps[0].0.0, ts / 86_400_000 * 86_400_000);
    assert_eq!(deps[0].1.0, ts);
    assert_eq!(
        deps[0].2,
        [DependencyUdt {
            parent: Some("a".into()),
            child: Some("b".into()),
            call_count: Some(3),
            source: Some("jaeger".into())
        }]
    );
}

/// The certificates of the test server (start.sh), when it serves TLS.
fn tls_dir() -> Option<std::path::PathBuf> {
    match std::env::var("JAEGER_TEST_CASSANDRA_TLS") {
        Ok(d) if !d.is_empty() => Some(d.into()),
        _ => {
            eprintln!(
                "skipped: JAEGER_TEST_CASSANDRA_TLS is not set (see tests/servers/cassandra)"
            );
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_ca_client_certificate_and_basic_auth() {
    use jaeger_storage::cassandra::CassandraTls;
    let Some(addr) = cassandra_addr() else { return };
    let Some(dir) = tls_dir() else { return };
    let ks = unique_name("layout_tls");
    let tls = CassandraTls {
        ca_file: Some(dir.join("ca.pem")),
        cert_file: Some(dir.join("client.pem")),
        key_file: Some(dir.join("client.key")),
        ..Default::default()
    };
    let mut cfg = config(&addr, &ks, true);
    cfg.tls = Some(tls.clone());
    let store = CassandraStore::open(cfg.clone())
        .await
        .expect("TLS connection");
    let t0 = reference_time();
    store
        .write_spans(batch(&[TestSpan::new(
            trace_id(9),
            1,
            "tls",
            "op",
            t0,
            MILLISECOND,
        )]))
        .await
        .expect("write over TLS");
    assert_eq!(store.get_services().await.expect("services"), ["tls"]);
    // The session really is encrypted: the node reports it for our connections.
    let enc: Vec<(Option<bool>,)> = rows(
        store.session(),
        "SELECT ssl_enabled FROM system_views.clients",
    )
    .await;
    assert!(enc.iter().any(|r| r.0 == Some(true)), "{enc:?}");

    // A name the certificate carries, instead of the address.
    let mut named = cfg.clone();
    named.create_schema = false;
    named.tls = Some(CassandraTls {
        server_name_override: Some("cassandra.test".into()),
        ..tls.clone()
    });
    CassandraStore::open(named)
        .await
        .expect("server_name_override");

    // A CA that did not sign the node: refused.
    let mut wrong = cfg.clone();
    wrong.create_schema = false;
    wrong.tls = Some(CassandraTls {
        ca_file: Some(dir.join("client.pem")),
        ..tls.clone()
    });
    let err = CassandraStore::open(wrong.clone())
        .await
        .err()
        .expect("an unknown CA is refused")
        .to_string();
    assert!(err.contains("cassandra"), "{err}");
    // ... unless verification is off (encryption without authentication).
    wrong.tls = Some(CassandraTls {
        insecure_skip_verify: true,
        ..Default::default()
    });
    CassandraStore::open(wrong)
        .await
        .expect("insecure_skip_verify");

    // Wrong password: a clear error, over TLS as in plain text.
    let mut bad = cfg;
    bad.create_schema = false;
    bad.password = Some("nope".into());
    let err = CassandraStore::open(bad)
        .await
        .err()
        .expect("a wrong password is refused")
        .to_string();
    assert!(
        err.to_lowercase().contains("auth") || err.contains("credentials"),
        "{err}"
    );
}
