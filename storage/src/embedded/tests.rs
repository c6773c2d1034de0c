use std::sync::Arc;
use std::time::Duration;

use jaeger_model::TraceId;
use jaeger_model::otlp::trace::span::SpanKind;
use jaeger_model::otlp::trace::status::StatusCode;
use jaeger_model::otlp::{
    AnyValue, Event, KeyValue, Resource, ResourceSpans, ScopeSpans, Span, Status, Value,
};
use jaeger_model::trace::kv;

use super::*;

const SEC: u64 = 1_000_000_000;
const HOUR: u64 = 3600 * SEC;
/// A fixed span time base (2026-01-01T00:00:00Z) so tests do not depend on the clock.
const T0: u64 = 1_767_225_600 * SEC;

fn sattr(k: &str, v: &str) -> KeyValue {
    kv(k, Value::StringValue(v.into()))
}

fn span(trace: u64, id: u64, name: &str, start: u64, dur: u64, attrs: Vec<KeyValue>) -> Span {
    Span {
        trace_id: TraceId::from_u64s(0, trace).0.to_vec(),
        span_id: id.to_be_bytes().to_vec(),
        name: name.into(),
        start_time_unix_nano: start,
        end_time_unix_nano: start + dur,
        attributes: attrs,
        kind: SpanKind::Server as i32,
        ..Default::default()
    }
}

fn resource_spans(service: &str, spans: Vec<Span>) -> ResourceSpans {
    ResourceSpans {
        resource: Some(Resource {
            attributes: vec![sattr("service.name", service), sattr("host.name", "h1")],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        schema_url: String::new(),
    }
}

fn config(dir: &std::path::Path) -> EmbeddedStoreConfig {
    EmbeddedStoreConfig::new(dir)
}

fn tid(n: u64) -> TraceId {
    TraceId::from_u64s(0, n)
}

async fn get(store: &EmbeddedStore, n: u64) -> Option<Trace> {
    store
        .get_trace(GetTraceParams {
            trace_id: tid(n),
            start: None,
            end: None,
        })
        .await
        .unwrap()
}

fn query(service: Option<&str>) -> TraceQuery {
    TraceQuery {
        service_name: service.map(str::to_string),
        start_time_min: T0 - HOUR,
        start_time_max: T0 + 10 * HOUR,
        num_traces: 20,
        ..Default::default()
    }
}

async fn ids(store: &EmbeddedStore, q: &TraceQuery) -> Vec<u64> {
    store
        .find_trace_ids(q)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.low())
        .collect()
}

/// Two services, three traces at T0+1s, T0+2s, T0+3s.
fn sample_batch() -> Vec<ResourceSpans> {
    let mut err = span(
        2,
        21,
        "GET /b",
        T0 + 2 * SEC + 10,
        5_000_000,
        vec![sattr("http.method", "POST")],
    );
    err.status = Some(Status {
        code: StatusCode::Error as i32,
        message: "boom".into(),
    });
    let mut with_event = span(
        3,
        31,
        "GET /c",
        T0 + 3 * SEC,
        1_000_000,
        vec![kv("http.status_code", Value::IntValue(503))],
    );
    with_event.events.push(Event {
        name: "retry".into(),
        attributes: vec![sattr("attempt.reason", "timeout")],
        ..Default::default()
    });
    vec![
        resource_spans(
            "frontend",
            vec![
                span(
                    1,
                    11,
                    "GET /a",
                    T0 + SEC,
                    20_000_000,
                    vec![sattr("http.method", "GET")],
                ),
                err,
                with_event,
            ],
        ),
        resource_spans(
            "backend",
            vec![
                span(
                    1,
                    12,
                    "query",
                    T0 + SEC + 1000,
                    2_000_000,
                    vec![sattr("db.system", "pg")],
                ),
                span(2, 22, "query", T0 + 2 * SEC + 1000, 1_000_000, vec![]),
            ],
        ),
    ]
}

#[tokio::test]
async fn writes_and_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    store.write_spans(sample_batch()).await.unwrap();

    let t1 = get(&store, 1).await.expect("trace 1 stored");
    assert_eq!(t1.span_count(), 2);
    let mut names: Vec<_> = t1
        .spans()
        .map(|s| (s.service_name(), s.span.name.clone()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            ("backend", "query".to_string()),
            ("frontend", "GET /a".to_string())
        ]
    );
    assert!(get(&store, 99).await.is_none());

    assert_eq!(
        store.get_services().await.unwrap(),
        vec!["backend", "frontend"]
    );
}

#[tokio::test]
async fn reopen_after_drop_reads_the_same_data() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let store = EmbeddedStore::open(config(dir.path())).unwrap();
        store.write_spans(sample_batch()).await.unwrap();
        get(&store, 2).await.unwrap()
    };
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    assert_eq!(store.partition_count(), 1);
    assert_eq!(get(&store, 2).await.unwrap(), before);
    assert_eq!(ids(&store, &query(Some("frontend"))).await, vec![3, 2, 1]);
    let ops = store
        .get_operations(&OperationQuery {
            service_name: "backend".into(),
            span_kind: None,
        })
        .await
        .unwrap();
    assert_eq!(ops.len(), 1);
    // New writes after reopen get fresh sequence numbers: nothing is overwritten.
    store
        .write_spans(vec![resource_spans(
            "frontend",
            vec![span(2, 29, "late", T0 + 4 * SEC, 1, vec![])],
        )])
        .await
        .unwrap();
    assert_eq!(get(&store, 2).await.unwrap().span_count(), 3);
}

#[tokio::test]
async fn retention_drops_old_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.partition_width = Duration::from_secs(3600);
    cfg.retention = Duration::from_secs(2 * 3600);
    let now = now_ns();
    {
        let store = EmbeddedStore::open(cfg.clone()).unwrap();
        store
            .inner
            .write_at(
                vec![resource_spans("old", vec![span(1, 1, "a", T0, 1, vec![])])],
                now - 50 * HOUR,
            )
            .unwrap();
        store
            .inner
            .write_at(
                vec![resource_spans("new", vec![span(2, 2, "b", T0, 1, vec![])])],
                now,
            )
            .unwrap();
        assert_eq!(store.partition_count(), 2);
        assert_eq!(store.run_retention(now).unwrap(), 1);
        assert_eq!(store.run_retention(now).unwrap(), 0);
        assert!(get(&store, 1).await.is_none());
        assert!(get(&store, 2).await.is_some());
        // The old service was last seen on a day before the cutoff.
        assert_eq!(store.get_services().await.unwrap(), vec!["new"]);
    }
    let store = EmbeddedStore::open(cfg).unwrap();
    assert_eq!(store.partition_count(), 1);
    assert!(get(&store, 1).await.is_none());
    assert!(get(&store, 2).await.is_some());
}

#[tokio::test]
async fn rewriting_the_same_spans_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    store.write_spans(sample_batch()).await.unwrap();
    store.write_spans(sample_batch()).await.unwrap();
    // A retry of part of the batch, grouped differently.
    store
        .write_spans(vec![resource_spans(
            "frontend",
            vec![span(
                1,
                11,
                "GET /a",
                T0 + SEC,
                20_000_000,
                vec![sattr("http.method", "GET")],
            )],
        )])
        .await
        .unwrap();
    assert_eq!(get(&store, 1).await.unwrap().span_count(), 2);
    assert_eq!(get(&store, 2).await.unwrap().span_count(), 2);
    assert_eq!(ids(&store, &query(Some("frontend"))).await, vec![3, 2, 1]);
    let traces = store.find_traces(&query(Some("backend"))).await.unwrap();
    assert_eq!(traces.len(), 2);
    assert!(traces.iter().all(|t| t.span_count() == 2));
    // A different span with the same id is not a duplicate.
    store
        .write_spans(vec![resource_spans(
            "frontend",
            vec![span(1, 11, "GET /a v2", T0 + SEC, 20_000_000, vec![])],
        )])
        .await
        .unwrap();
    assert_eq!(get(&store, 1).await.unwrap().span_count(), 3);
}

#[tokio::test]
async fn search_forms() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    store.write_spans(sample_batch()).await.unwrap();

    // Service only, most recent first.
    assert_eq!(ids(&store, &query(Some("frontend"))).await, vec![3, 2, 1]);
    assert_eq!(ids(&store, &query(Some("backend"))).await, vec![2, 1]);
    assert!(ids(&store, &query(Some("nobody"))).await.is_empty());

    // Operation.
    let mut q = query(Some("frontend"));
    q.operation_name = Some("GET /b".into());
    assert_eq!(ids(&store, &q).await, vec![2]);
    let mut q = query(Some("backend"));
    q.operation_name = Some("GET /b".into());
    assert!(
        ids(&store, &q).await.is_empty(),
        "operation of another service"
    );

    // Span, resource, event attributes, derived tags; several tags on one span.
    let tag = |svc: &str, pairs: &[(&str, &str)]| {
        let mut q = query(Some(svc));
        q.tags = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        q
    };
    assert_eq!(
        ids(&store, &tag("frontend", &[("http.method", "GET")])).await,
        vec![1]
    );
    assert_eq!(
        ids(&store, &tag("frontend", &[("host.name", "h1")])).await,
        vec![3, 2, 1]
    );
    assert_eq!(
        ids(&store, &tag("frontend", &[("attempt.reason", "timeout")])).await,
        vec![3]
    );
    assert_eq!(
        ids(&store, &tag("frontend", &[("http.status_code", "503")])).await,
        vec![3]
    );
    assert_eq!(
        ids(&store, &tag("frontend", &[("error", "true")])).await,
        vec![2]
    );
    assert_eq!(
        ids(&store, &tag("frontend", &[("span.kind", "server")])).await,
        vec![3, 2, 1]
    );
    assert_eq!(
        ids(
            &store,
            &tag("frontend", &[("http.method", "POST"), ("error", "true")])
        )
        .await,
        vec![2]
    );
    // Both tags exist in trace 1, but not on one span.
    assert!(
        ids(
            &store,
            &tag("backend", &[("db.system", "pg"), ("http.method", "GET")])
        )
        .await
        .is_empty()
    );
    assert!(
        ids(&store, &tag("frontend", &[("http.method", "PUT")]))
            .await
            .is_empty()
    );

    // Duration (20 ms, 5 ms, 1 ms spans in frontend).
    let mut q = query(Some("frontend"));
    q.duration_min = Some(4_000_000);
    assert_eq!(ids(&store, &q).await, vec![2, 1]);
    q.duration_max = Some(10_000_000);
    assert_eq!(ids(&store, &q).await, vec![2]);

    // Time window: only trace 2's spans start in [T0+1.5s, T0+2.5s].
    let mut q = query(Some("frontend"));
    q.start_time_min = T0 + 1_500_000_000;
    q.start_time_max = T0 + 2_500_000_000;
    assert_eq!(ids(&store, &q).await, vec![2]);
    // Boundaries are inclusive and exact to the nanosecond.
    q.start_time_min = T0 + 2 * SEC + 11;
    assert!(ids(&store, &q).await.is_empty());
    q.start_time_min = T0 + 2 * SEC + 10;
    q.start_time_max = T0 + 2 * SEC + 10;
    assert_eq!(ids(&store, &q).await, vec![2]);

    // No service: every service is searched.
    assert_eq!(ids(&store, &query(None)).await, vec![3, 2, 1]);
    let mut q = query(None);
    q.operation_name = Some("query".into());
    assert_eq!(ids(&store, &q).await, vec![2, 1]);

    // Limit.
    let mut q = query(Some("frontend"));
    q.num_traces = 2;
    assert_eq!(ids(&store, &q).await, vec![3, 2]);

    // find_traces returns whole traces, not only the matching spans.
    let mut q = query(Some("frontend"));
    q.operation_name = Some("GET /a".into());
    let traces = store.find_traces(&q).await.unwrap();
    assert_eq!(traces.len(), 1);
    assert_eq!(traces[0].span_count(), 2);
}

#[tokio::test]
async fn search_spans_batches_and_partitions() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    let now = now_ns();
    // One trace written in two batches that land in two partitions.
    store
        .inner
        .write_at(
            vec![resource_spans(
                "a",
                vec![span(7, 1, "root", T0, SEC, vec![])],
            )],
            now - 7 * HOUR,
        )
        .unwrap();
    store
        .inner
        .write_at(
            vec![resource_spans(
                "b",
                vec![span(7, 2, "child", T0 + 100, 10, vec![sattr("k", "v")])],
            )],
            now,
        )
        .unwrap();
    assert_eq!(store.partition_count(), 2);
    let t = get(&store, 7).await.unwrap();
    assert_eq!(t.span_count(), 2);
    let mut q = query(Some("b"));
    q.tags = vec![("k".into(), "v".into())];
    let found = store.find_traces(&q).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].span_count(), 2);
    // The time hint of get_trace prunes partitions but never spans of a found trace.
    let hinted = store
        .get_trace(GetTraceParams {
            trace_id: tid(7),
            start: Some(T0 - SEC),
            end: Some(T0 + SEC),
        })
        .await
        .unwrap()
        .unwrap();
    assert_eq!(hinted.span_count(), 2);
    let outside = store
        .get_trace(GetTraceParams {
            trace_id: tid(7),
            start: Some(T0 + 5 * HOUR),
            end: Some(T0 + 6 * HOUR),
        })
        .await
        .unwrap();
    assert!(outside.is_none());
}

#[tokio::test]
async fn operations_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    let mut client = span(1, 2, "call", T0, 1, vec![]);
    client.kind = SpanKind::Client as i32;
    let mut unspecified = span(1, 3, "work", T0, 1, vec![]);
    unspecified.kind = 0;
    store
        .write_spans(vec![resource_spans(
            "svc",
            vec![span(1, 1, "handle", T0, 1, vec![]), client, unspecified],
        )])
        .await
        .unwrap();
    let ops = |kind: Option<&str>| {
        let store = store.clone();
        let kind = kind.map(str::to_string);
        async move {
            store
                .get_operations(&OperationQuery {
                    service_name: "svc".into(),
                    span_kind: kind,
                })
                .await
                .unwrap()
                .into_iter()
                .map(|o| (o.name, o.span_kind))
                .collect::<Vec<_>>()
        }
    };
    let s = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        ops(None).await,
        vec![s("call", "client"), s("handle", "server"), s("work", "")]
    );
    assert_eq!(ops(Some("client")).await, vec![s("call", "client")]);
    assert_eq!(ops(Some("")).await, vec![s("work", "")]);
    assert!(ops(Some("producer")).await.is_empty());
}

#[tokio::test]
async fn dependencies_per_window() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    let link = |p: &str, c: &str, n: u64| DependencyLink {
        parent: p.into(),
        child: c.into(),
        call_count: n,
        source: "jaeger".into(),
    };
    store
        .write_dependencies(T0, T0 + HOUR, vec![link("a", "b", 3)])
        .await
        .unwrap();
    store
        .write_dependencies(T0 + 5 * HOUR, T0 + 6 * HOUR, vec![link("b", "c", 1)])
        .await
        .unwrap();
    assert_eq!(
        store
            .get_dependencies(T0 + 2 * HOUR, 2 * HOUR)
            .await
            .unwrap(),
        vec![link("a", "b", 3)]
    );
    assert_eq!(
        store
            .get_dependencies(T0 + 7 * HOUR, 8 * HOUR)
            .await
            .unwrap()
            .len(),
        2
    );
    assert!(
        store
            .get_dependencies(T0 + 3 * HOUR, HOUR)
            .await
            .unwrap()
            .is_empty()
    );
    // Writing a window again replaces it.
    store
        .write_dependencies(T0, T0 + HOUR, vec![link("a", "b", 5), link("a", "c", 1)])
        .await
        .unwrap();
    assert_eq!(
        store.get_dependencies(T0 + HOUR, HOUR).await.unwrap(),
        vec![link("a", "b", 5), link("a", "c", 1)]
    );
}

#[tokio::test]
async fn corrupt_chunks_are_errors_not_panics() {
    assert!(chunk::decode_block(&[]).is_err());
    assert!(chunk::decode_block(&[9, 1, 2]).is_err());
    assert!(chunk::decode_block(&[1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1]).is_err());
    let mut big = Vec::new();
    for i in 0..50 {
        big.push(span(
            1,
            i,
            "op",
            T0,
            1,
            vec![sattr("k", "vvvvvvvvvvvvvvvvvvvv")],
        ));
    }
    let rs = vec![resource_spans("s", big)];
    let prepared = chunk::prepare(rs.clone()).unwrap();
    assert_eq!(prepared.blocks.len(), 1);
    let c = &prepared.chunks[0];
    let r = keys::ChunkRef {
        block: 0,
        offset: c.offset,
        len: c.len,
    };
    let raw = chunk::decode_block(&prepared.blocks[0].value).unwrap();
    let decoded = chunk::decode_chunks(&[(&raw, r)]).unwrap().remove(0);
    assert_eq!(decoded[0].scope_spans[0].spans, rs[0].scope_spans[0].spans);
    assert!(
        chunk::decode_block(&prepared.blocks[0].value[..prepared.blocks[0].value.len() / 2])
            .is_err()
    );
    let past_end = keys::ChunkRef {
        len: c.len + 1,
        ..r
    };
    assert!(chunk::decode_chunks(&[(&raw, past_end)]).is_err());
}

#[tokio::test]
async fn large_batches_span_several_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    // 400 traces of 5 spans with ~200-byte attributes: several 64 KiB blocks.
    let mut spans = Vec::new();
    for t in 1..=400u64 {
        for i in 0..5u64 {
            let filler = format!("{t:04}-{i}-{}", "x".repeat(200));
            spans.push(span(
                t,
                t * 10 + i,
                &format!("op{}", t % 7),
                T0 + t * SEC,
                1000,
                vec![sattr("filler", &filler)],
            ));
        }
    }
    let prepared = chunk::prepare(vec![resource_spans("bulk", spans.clone())]).unwrap();
    assert!(
        prepared.blocks.len() > 3,
        "{} blocks",
        prepared.blocks.len()
    );
    store
        .write_spans(vec![resource_spans("bulk", spans)])
        .await
        .unwrap();
    for t in [1u64, 137, 400] {
        assert_eq!(get(&store, t).await.unwrap().span_count(), 5, "trace {t}");
    }
    let mut q = query(Some("bulk"));
    q.start_time_max = T0 + 1000 * SEC;
    q.operation_name = Some("op3".into());
    q.num_traces = 1000;
    let found = ids(&store, &q).await;
    let expected: Vec<u64> = (1..=400u64).rev().filter(|t| t % 7 == 3).collect();
    assert_eq!(found, expected);
    let mut q = query(Some("bulk"));
    q.start_time_max = T0 + 1000 * SEC;
    q.tags = vec![("filler".into(), format!("0250-3-{}", "x".repeat(200)))];
    assert_eq!(ids(&store, &q).await, vec![250]);
}

#[tokio::test]
async fn empty_and_odd_input() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    store.write_spans(vec![]).await.unwrap();
    store
        .write_spans(vec![ResourceSpans::default()])
        .await
        .unwrap();
    // No resource, bad id lengths: stored under the zero trace id, no panic.
    let mut s = span(1, 1, "x", T0, 1, vec![]);
    s.trace_id = vec![1, 2, 3];
    store
        .write_spans(vec![ResourceSpans {
            resource: None,
            scope_spans: vec![ScopeSpans {
                spans: vec![s],
                ..Default::default()
            }],
            schema_url: String::new(),
        }])
        .await
        .unwrap();
    assert!(store.get_services().await.unwrap().is_empty());
    assert_eq!(ids(&store, &query(None)).await, vec![0]);
    assert!(store.is_healthy().await);
    let _unused: Option<AnyValue> = None;
}

#[tokio::test]
async fn retention_task_stops_with_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    let handle = store.spawn_retention_task(Duration::from_secs(1));
    drop(store);
    tokio::time::timeout(Duration::from_secs(5), handle)
        .await
        .expect("task ends once the store is gone")
        .unwrap();
    // The directory can be opened again: the task released the database.
    let _again: Arc<EmbeddedStore> = EmbeddedStore::open(config(dir.path())).unwrap();
}

#[tokio::test]
async fn attributes_come_back_in_key_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    let mut sp = span(
        9,
        1,
        "op",
        T0,
        SEC,
        vec![sattr("z", "1"), sattr("a", "2"), sattr("a", "3")],
    );
    sp.events = vec![
        Event {
            name: "b".into(),
            ..Default::default()
        },
        Event {
            name: "a".into(),
            attributes: vec![sattr("y", ""), sattr("x", "")],
            ..Default::default()
        },
    ];
    let written = vec![resource_spans("svc", vec![sp])];
    store.write_spans(written.clone()).await.unwrap();
    let read = get(&store, 9).await.unwrap();
    let rs = &read.resource_spans[0];
    let keys = |attrs: &[KeyValue]| attrs.iter().map(|kv| kv.key.clone()).collect::<Vec<_>>();
    assert_eq!(
        keys(&rs.resource.as_ref().unwrap().attributes),
        ["host.name", "service.name"]
    );
    let sp = &rs.scope_spans[0].spans[0];
    assert_eq!(
        keys(&sp.attributes),
        ["a", "a", "z"],
        "stable, repeats kept"
    );
    assert_eq!(find_value(&sp.attributes[1]), "3");
    let events: Vec<&str> = sp.events.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(events, ["a", "b"]);
    assert_eq!(keys(&sp.events[0].attributes), ["x", "y"]);
    let mut expected = written;
    expected
        .iter_mut()
        .for_each(jaeger_model::trace::sort_collections);
    assert_eq!(read.resource_spans, expected);
}

fn find_value(kv: &KeyValue) -> String {
    match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => s.clone(),
        other => format!("{other:?}"),
    }
}

/// Over `PARALLEL_MIN_ENCODED` bytes: the trace's resources are decoded on several
/// threads and come back whole and in order.
#[tokio::test]
async fn a_large_trace_reads_back_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    let mut batch: Vec<ResourceSpans> = (0..20)
        .map(|svc| {
            let spans = (0..150)
                .map(|i| {
                    let id = svc * 1000 + i + 1;
                    let attrs = (0..8)
                        .rev()
                        .map(|k| sattr(&format!("attr.{k}"), &format!("{id:040}")))
                        .collect();
                    span(7, id, &format!("op-{i}"), T0 + i * SEC, SEC, attrs)
                })
                .collect();
            resource_spans(&format!("service-{svc}"), spans)
        })
        .collect();
    let encoded: usize = batch.iter().map(prost::Message::encoded_len).sum();
    assert!(
        encoded > jaeger_model::parallel::PARALLEL_MIN_ENCODED,
        "{encoded} bytes"
    );
    store.write_spans(batch.clone()).await.unwrap();
    let read = get(&store, 7).await.unwrap();
    // The store keeps attribute lists in key order.
    batch
        .iter_mut()
        .for_each(jaeger_model::trace::sort_collections);
    assert_eq!(read.resource_spans, batch);
}

fn merged(chunks: Vec<Vec<ResourceSpans>>) -> Vec<(String, Vec<u64>)> {
    merge_chunks(chunks)
        .iter()
        .flat_map(|rs| {
            let service = rs.resource.as_ref().map_or(String::new(), |r| {
                jaeger_model::trace::service_name(r).to_string()
            });
            rs.scope_spans.iter().map(move |ss| {
                let ids = ss
                    .spans
                    .iter()
                    .map(|s| u64::from_be_bytes(s.span_id[..].try_into().unwrap()))
                    .collect();
                (service.clone(), ids)
            })
        })
        .collect()
}

#[test]
fn merging_chunks_joins_equal_resources_and_scopes_and_drops_repeated_spans() {
    let s = |id: u64| span(1, id, "op", T0, SEC, vec![]);
    let a = |spans: Vec<Span>| resource_spans("a", spans);
    let b = |spans: Vec<Span>| resource_spans("b", spans);
    // Nothing to merge: kept as written.
    assert_eq!(
        merged(vec![vec![a(vec![s(1), s(2)]), b(vec![s(3)])]]),
        [("a".into(), vec![1, 2]), ("b".into(), vec![3])]
    );
    // The same resource in two chunks, and twice in one chunk: joined.
    assert_eq!(
        merged(vec![
            vec![a(vec![s(1)]), b(vec![s(2)]), a(vec![s(3)])],
            vec![a(vec![s(4)])]
        ]),
        [("a".into(), vec![1, 3, 4]), ("b".into(), vec![2])]
    );
    // Two equal scopes in one resource: joined.
    let mut two_scopes = a(vec![s(1)]);
    two_scopes
        .scope_spans
        .push(two_scopes.scope_spans[0].clone());
    two_scopes.scope_spans[1].spans = vec![s(2)];
    assert_eq!(merged(vec![vec![two_scopes]]), [("a".into(), vec![1, 2])]);
    // A span written twice (in one chunk or two) appears once; the same id with other
    // content, or in another resource, is kept.
    let mut changed = s(1);
    changed.name = "other".into();
    assert_eq!(
        merged(vec![
            vec![a(vec![s(1), s(2), s(1)])],
            vec![a(vec![s(2), changed]), b(vec![s(1)])],
        ]),
        [("a".into(), vec![1, 2, 1]), ("b".into(), vec![1])]
    );
}

/// The query reads the trace in place (its attribute lists are in key order), and
/// takes it back whole without a copy.
#[tokio::test]
async fn the_trace_is_handed_over_as_sorted() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(config(dir.path())).unwrap();
    store.write_spans(sample_batch()).await.unwrap();
    let params = GetTraceParams {
        trace_id: tid(1),
        start: None,
        end: None,
    };
    let shared = store.get_trace_shared(params).await.unwrap().unwrap();
    assert!(matches!(shared, SharedTrace::Sorted(_)), "{shared:?}");
    assert_eq!(shared.into_trace(), get(&store, 1).await.unwrap());
}
