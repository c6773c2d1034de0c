//! Jaeger compatibility of the Elasticsearch / OpenSearch layout, checked by reading what
//! our writer produced straight back through the REST API (templates, index names,
//! mappings, settings, span / service / dependencies documents) and comparing it field
//! by field with Jaeger's (storage spec §2.1–§2.4, §2.9). Needs `JAEGER_TEST_OPENSEARCH`
//! like opensearch_conformance.rs.

use jaeger_model::otlp::trace::span::SpanKind;
use jaeger_storage::conformance::unique_name;
use jaeger_storage::conformance::{
    MILLISECOND, TestSpan, batch, bool_val, bytes_val, double_val, int_val, reference_time,
    str_val, trace_id,
};
use jaeger_storage::conformance::{opensearch_cleanup, opensearch_test_server};
use jaeger_storage::elasticsearch::doc::fnv1a64_hex;
use jaeger_storage::elasticsearch::{EsClient, EsConfig, EsStore, IndexSettings, Method, Rotation};
use jaeger_storage::{DependencyLink, DependencyStore, SpanWriter};
use serde_json::{Value, json};

fn config(url: &str, prefix: &str) -> EsConfig {
    let settings = IndexSettings {
        shards: 2,
        replicas: 0,
        priority: 0,
    };
    EsConfig {
        server_urls: vec![url.to_string()],
        opensearch: true,
        index_prefix: prefix.to_string(),
        spans: settings.clone(),
        services: settings,
        refresh: Some("true".into()),
        ..Default::default()
    }
}

async fn get(c: &EsClient, path: &str) -> Value {
    c.json(Method::Get, path, &[], None)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// `_id` and `_source` of every document in `index`.
async fn docs(c: &EsClient, index: &str) -> Vec<(String, Value)> {
    let v = c
        .json(
            Method::Post,
            &format!("/{index}/_search"),
            &[],
            Some(&json!({"size": 1000})),
        )
        .await
        .unwrap_or_else(|e| panic!("search {index}: {e}"));
    v["hits"]["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| {
            (
                h["_id"].as_str().expect("_id").to_string(),
                h["_source"].clone(),
            )
        })
        .collect()
}

fn day(t_nanos: u64) -> String {
    chrono::DateTime::from_timestamp((t_nanos / 1_000_000_000) as i64, 0)
        .expect("a valid time")
        .format("%Y-%m-%d")
        .to_string()
}

fn kw() -> Value {
    json!({"type": "keyword", "ignore_above": 256})
}

/// Checks Jaeger's `{key, value, type}` nested mapping (`dynamic: false`).
fn assert_kv_nested(m: &Value, what: &str) {
    assert_eq!(m["type"], "nested", "{what}: {m}");
    assert!(dynamic_off(&m["dynamic"]), "{what} dynamic: {m}");
    for f in ["key", "value", "type"] {
        assert_eq!(m["properties"][f], kw(), "{what}.{f}");
    }
}

/// Checks Jaeger's span mapping (§2.2) as the server reports it.
fn assert_span_mapping(m: &Value) {
    let p = &m["properties"];
    for f in ["traceID", "parentSpanID", "spanID", "operationName"] {
        assert_eq!(p[f], kw(), "{f}");
    }
    assert_eq!(p["startTime"], json!({"type": "long"}));
    assert_eq!(
        p["startTimeMillis"],
        json!({"type": "date", "format": "epoch_millis"})
    );
    assert_eq!(p["duration"], json!({"type": "long"}));
    assert_eq!(p["flags"], json!({"type": "integer"}));
    assert_eq!(p["logs"]["type"], "nested");
    assert!(dynamic_off(&p["logs"]["dynamic"]), "logs: {}", p["logs"]);
    assert_eq!(
        p["logs"]["properties"]["timestamp"],
        json!({"type": "long"})
    );
    assert_kv_nested(&p["logs"]["properties"]["fields"], "logs.fields");
    assert_eq!(p["process"]["properties"]["serviceName"], kw());
    assert_kv_nested(&p["process"]["properties"]["tags"], "process.tags");
    let r = &p["references"];
    assert_eq!(r["type"], "nested");
    assert!(dynamic_off(&r["dynamic"]), "references: {r}");
    for f in ["refType", "traceID", "spanID"] {
        assert_eq!(r["properties"][f], kw(), "references.{f}");
    }
    assert_kv_nested(&p["tags"], "tags");
    let dynamic: Vec<(String, Value)> = m["dynamic_templates"]
        .as_array()
        .expect("dynamic_templates")
        .iter()
        .flat_map(|t| t.as_object().expect("one template").clone())
        .collect();
    for (name, path) in [
        ("span_tags_map", "tag.*"),
        ("process_tags_map", "process.tag.*"),
    ] {
        let t = dynamic
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("dynamic template {name}: {dynamic:?}"));
        assert_eq!(t.1["path_match"], path, "{name}");
        assert_eq!(t.1["mapping"], kw(), "{name}");
    }
}

/// A nested tag of a span document by key.
fn tag<'a>(list: &'a Value, key: &str) -> &'a Value {
    list.as_array()
        .expect("a tag list")
        .iter()
        .find(|t| t["key"] == key)
        .unwrap_or_else(|| panic!("tag {key} in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_templates_and_indices_match_jaegers_layout() {
    let Some(url) = opensearch_test_server() else {
        return;
    };
    let prefix = unique_name("layout");
    let store = EsStore::open(config(&url, &prefix))
        .await
        .expect("store opens and installs its templates");
    let c = store.client().clone();

    // Templates (§2.2): legacy `_template` on OpenSearch, named `<prefix>jaeger-<kind>`.
    let t = get(
        &c,
        &format!("/_template/{prefix}-jaeger-span?flat_settings=true"),
    )
    .await;
    let span_t = &t[format!("{prefix}-jaeger-span")];
    assert_eq!(
        span_t["index_patterns"],
        json!([format!("*{prefix}-jaeger-span-*")])
    );
    let s = &span_t["settings"];
    assert_eq!(s["index.number_of_shards"], "2");
    assert_eq!(s["index.number_of_replicas"], "0");
    assert_eq!(s["index.mapping.nested_fields.limit"], "50");
    assert_eq!(s["index.requests.cache.enable"], "true");
    assert_span_mapping(&span_t["mappings"]);
    let t = get(
        &c,
        &format!("/_template/{prefix}-jaeger-service?flat_settings=true"),
    )
    .await;
    let service_t = &t[format!("{prefix}-jaeger-service")];
    assert_eq!(
        service_t["index_patterns"],
        json!([format!("*{prefix}-jaeger-service-*")])
    );
    assert_eq!(service_t["settings"]["index.number_of_shards"], "2");
    assert_eq!(service_t["settings"]["index.number_of_replicas"], "0");
    assert_eq!(
        service_t["settings"]["index.mapping.nested_fields.limit"],
        "50"
    );
    for f in ["serviceName", "operationName"] {
        assert_eq!(service_t["mappings"]["properties"][f], kw(), "service {f}");
    }

    // One trace: a server root with typed attributes, a resource attribute and an event;
    // an erroneous client child with a link; a span without kind in another service.
    let t0 = reference_time() + 5 * MILLISECOND + 123_456;
    let id = trace_id(9001);
    let other = trace_id(9002);
    let root = TestSpan::new(
        id,
        0x11,
        "layout-frontend",
        "GET /cart",
        t0,
        20 * MILLISECOND,
    )
    .kind(SpanKind::Server)
    .resource_attr("host.name", str_val("web-1"))
    .attr("http.method", str_val("GET"))
    .attr("http.status_code", int_val(200))
    .attr("ratio", double_val(0.25))
    .attr("cache.hit", bool_val(true))
    .attr("payload", bytes_val(&[0xca, 0xfe]))
    .event(
        "cache miss",
        t0 + MILLISECOND,
        vec![jaeger_model::trace::kv("cache.key", str_val("item:7"))],
    );
    let child = TestSpan::new(
        id,
        0x22,
        "layout-frontend",
        "SELECT",
        t0 + 2 * MILLISECOND,
        3 * MILLISECOND,
    )
    .kind(SpanKind::Client)
    .parent(0x11)
    .link(other, 0x33)
    .error("timeout");
    let plain = TestSpan::new(
        id,
        0x44,
        "layout-backend",
        "work",
        t0 + 6 * MILLISECOND,
        MILLISECOND,
    )
    .parent(0x22);
    store
        .write_spans(batch(&[root, child, plain]))
        .await
        .expect("spans written");
    let link = DependencyLink {
        parent: "layout-frontend".into(),
        child: "layout-backend".into(),
        call_count: 3,
        source: String::new(),
    };
    store
        .write_dependencies(t0, t0 + 3_600_000 * MILLISECOND, vec![link])
        .await
        .expect("dependencies written");

    // Index names (§2.1): the span start date, UTC, Go layout 2006-01-02.
    let date = day(t0);
    let cat = get(
        &c,
        &format!("/_cat/indices/{prefix}-jaeger-*?format=json&h=index"),
    )
    .await;
    let mut names: Vec<&str> = cat
        .as_array()
        .expect("indices")
        .iter()
        .filter_map(|i| i["index"].as_str())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("{prefix}-jaeger-dependencies-{date}"),
            format!("{prefix}-jaeger-service-{date}"),
            format!("{prefix}-jaeger-span-{date}"),
        ]
    );
    let span_index = format!("{prefix}-jaeger-span-{date}");
    let service_index = format!("{prefix}-jaeger-service-{date}");

    // The daily index took the template: settings and mapping, plus the elevated tag
    // fields mapped by `span_tags_map`.
    let st = get(&c, &format!("/{span_index}/_settings?flat_settings=true")).await;
    let st = &st[&span_index]["settings"];
    assert_eq!(st["index.number_of_shards"], "2");
    assert_eq!(st["index.number_of_replicas"], "0");
    let m = get(&c, &format!("/{span_index}/_mapping")).await;
    let m = &m[&span_index]["mappings"];
    assert_span_mapping(m);
    assert_eq!(m["properties"]["tag"]["properties"]["span@kind"], kw());
    assert_eq!(m["properties"]["tag"]["properties"]["error"], kw());

    // Span documents (§2.3).
    let spans = docs(&c, &span_index).await;
    assert_eq!(spans.len(), 3, "{spans:?}");
    let by_span = |sid: &str| {
        spans
            .iter()
            .find(|(_, d)| d["spanID"] == sid)
            .unwrap_or_else(|| panic!("span {sid} in {spans:?}"))
    };
    let trace_hex = id.to_hex();
    let (root_id, r) = by_span("0000000000000011");
    let keys: std::collections::BTreeSet<&str> = r
        .as_object()
        .expect("a document")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "traceID",
            "spanID",
            "operationName",
            "references",
            "startTime",
            "startTimeMillis",
            "duration",
            "tags",
            "tag",
            "logs",
            "process"
        ]
        .into_iter()
        .collect(),
        "root fields (no parentSpanID, flags 0 omitted): {r}"
    );
    assert_eq!(r["traceID"], trace_hex.as_str());
    assert_eq!(trace_hex.len(), 32);
    assert_eq!(r["operationName"], "GET /cart");
    assert_eq!(r["references"], json!([]));
    assert_eq!(r["startTime"], t0 / 1_000);
    assert_eq!(r["startTimeMillis"], t0 / 1_000_000);
    assert_eq!(r["duration"], 20_000);
    // Native JSON values (current v2 writer), binary as lowercase hex.
    assert_eq!(
        tag(&r["tags"], "http.method"),
        &json!({"key": "http.method", "type": "string", "value": "GET"})
    );
    assert_eq!(
        tag(&r["tags"], "http.status_code"),
        &json!({"key": "http.status_code", "type": "int64", "value": 200})
    );
    assert_eq!(
        tag(&r["tags"], "ratio"),
        &json!({"key": "ratio", "type": "float64", "value": 0.25})
    );
    assert_eq!(
        tag(&r["tags"], "cache.hit"),
        &json!({"key": "cache.hit", "type": "bool", "value": true})
    );
    assert_eq!(
        tag(&r["tags"], "payload"),
        &json!({"key": "payload", "type": "binary", "value": "cafe"})
    );
    // span.kind and error are elevated to fields as Jaeger v2 does, not nested.
    assert_eq!(r["tag"], json!({"span@kind": "server"}));
    assert!(
        r["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .all(|t| t["key"] != "span.kind"),
        "{r}"
    );
    assert_eq!(
        r["logs"],
        json!([{"timestamp": (t0 + MILLISECOND) / 1_000, "fields": [
            {"key": "event", "type": "string", "value": "cache miss"},
            {"key": "cache.key", "type": "string", "value": "item:7"},
        ]}])
    );
    assert_eq!(r["process"]["serviceName"], "layout-frontend");
    assert_eq!(
        tag(&r["process"]["tags"], "host.name"),
        &json!({"key": "host.name", "type": "string", "value": "web-1"})
    );
    // `_id` = <traceID>_<spanID>_<FNV-1a-64 hex of the body>.
    let parts: Vec<&str> = root_id.split('_').collect();
    assert_eq!(parts[..2], [trace_hex.as_str(), "0000000000000011"]);
    assert!(
        parts.len() == 3 && parts[2].len() == 16 && parts[2].bytes().all(|b| b.is_ascii_hexdigit()),
        "{root_id}"
    );

    let (_, ch) = by_span("0000000000000022");
    assert_eq!(ch["parentSpanID"], "0000000000000011");
    assert_eq!(
        ch["references"],
        json!([
            {"refType": "CHILD_OF", "traceID": trace_hex, "spanID": "0000000000000011"},
            {"refType": "FOLLOWS_FROM", "traceID": other.to_hex(), "spanID": "0000000000000033"},
        ])
    );
    assert_eq!(ch["tag"], json!({"span@kind": "client", "error": true}));
    assert_eq!(ch["startTimeMillis"], (t0 + 2 * MILLISECOND) / 1_000_000);
    let (_, pl) = by_span("0000000000000044");
    assert_eq!(pl["process"]["serviceName"], "layout-backend");
    assert!(pl.get("tag").is_none(), "no elevated tags: {pl}");

    // Service documents (§2.4): one per (service, operation); a span without kind gets
    // exactly Jaeger's document and `_id`.
    let services = docs(&c, &service_index).await;
    assert_eq!(services.len(), 3, "{services:?}");
    let (plain_id, plain_doc) = services
        .iter()
        .find(|(_, d)| d["serviceName"] == "layout-backend")
        .expect("layout-backend service document");
    assert_eq!(
        plain_doc,
        &json!({"serviceName": "layout-backend", "operationName": "work"})
    );
    assert_eq!(
        plain_id,
        &fnv1a64_hex(&[b"layout-backend".as_slice(), b"work".as_slice()])
    );
    for op in ["GET /cart", "SELECT"] {
        let (_, d) = services
            .iter()
            .find(|(_, d)| d["operationName"] == op)
            .unwrap_or_else(|| panic!("{op} in {services:?}"));
        assert_eq!(d["serviceName"], "layout-frontend");
    }

    // Dependencies document (§2.9).
    let deps = docs(&c, &format!("{prefix}-jaeger-dependencies-{date}")).await;
    assert_eq!(deps.len(), 1, "{deps:?}");
    let d = &deps[0].1;
    let ts = d["timestamp"].as_str().expect("RFC 3339 timestamp");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(ts)
            .expect("RFC 3339")
            .timestamp_nanos_opt(),
        Some(t0 as i64)
    );
    assert_eq!(d["dependencies"][0]["parent"], "layout-frontend", "{d}");
    assert_eq!(d["dependencies"][0]["child"], "layout-backend");
    assert_eq!(d["dependencies"][0]["callCount"], 3);
    assert!(d["dependencies"][0].get("source").is_none(), "{d}");

    opensearch_cleanup(&c, &prefix).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hourly_layout_and_aliases_name_indices_as_jaeger() {
    let Some(url) = opensearch_test_server() else {
        return;
    };
    let prefix = unique_name("layouth");
    let hourly = Rotation {
        date_layout: "2006-01-02-15".into(),
        hourly: true,
    };
    let store = EsStore::open(EsConfig {
        span_rotation: hourly.clone(),
        service_rotation: hourly,
        ..config(&url, &prefix)
    })
    .await
    .expect("store opens");
    let c = store.client().clone();
    let t0 = reference_time();
    store
        .write_spans(batch(&[TestSpan::new(
            trace_id(9100),
            1,
            "layout-hourly",
            "op",
            t0,
            MILLISECOND,
        )]))
        .await
        .expect("written");
    let hour = chrono::DateTime::from_timestamp((t0 / 1_000_000_000) as i64, 0)
        .expect("time")
        .format("%Y-%m-%d-%H")
        .to_string();
    let cat = get(
        &c,
        &format!("/_cat/indices/{prefix}-jaeger-*?format=json&h=index"),
    )
    .await;
    let mut names: Vec<&str> = cat
        .as_array()
        .expect("indices")
        .iter()
        .filter_map(|i| i["index"].as_str())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            format!("{prefix}-jaeger-service-{hour}"),
            format!("{prefix}-jaeger-span-{hour}"),
        ]
    );
    opensearch_cleanup(&c, &prefix).await;

    // With aliases (es-rollover's layout) writes go to `<prefix>jaeger-span-write`.
    let prefix = unique_name("layouta");
    // The store installs its templates first, so the rollover indices take them.
    let store = EsStore::open(EsConfig {
        use_aliases: true,
        ..config(&url, &prefix)
    })
    .await
    .expect("store opens");
    for kind in ["span", "service"] {
        c.json(
            Method::Put,
            &format!("/{prefix}-jaeger-{kind}-000001"),
            &[],
            Some(&json!({"aliases": {
                format!("{prefix}-jaeger-{kind}-write"): {},
                format!("{prefix}-jaeger-{kind}-read"): {},
            }})),
        )
        .await
        .expect("rollover index created");
    }
    store
        .write_spans(batch(&[TestSpan::new(
            trace_id(9101),
            1,
            "layout-alias",
            "op",
            t0,
            MILLISECOND,
        )]))
        .await
        .expect("written");
    let spans = docs(&c, &format!("{prefix}-jaeger-span-000001")).await;
    assert_eq!(spans.len(), 1, "{spans:?}");
    assert_eq!(spans[0].1["process"]["serviceName"], "layout-alias");
    let services = docs(&c, &format!("{prefix}-jaeger-service-000001")).await;
    assert_eq!(services.len(), 1, "{services:?}");
    opensearch_cleanup(&c, &prefix).await;
}

/// `"dynamic": false` as the node hands it back: a string where the template said
/// `"false"`, a boolean in nested objects of some versions.
fn dynamic_off(v: &Value) -> bool {
    v == "false" || v == &Value::Bool(false)
}
