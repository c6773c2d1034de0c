//! Fetching found traces from a real OpenSearch: one `_search` for all trace ids, and
//! Jaeger's per-trace `search_after` paging for the traces that page could not hold
//! (`max_doc_count` smaller than the spans). Needs `JAEGER_TEST_OPENSEARCH` like
//! opensearch_conformance.rs.

use jaeger_model::TraceId;
use jaeger_storage::conformance::unique_name;
use jaeger_storage::conformance::{MILLISECOND, SECOND, TestSpan, batch, reference_time};
use jaeger_storage::conformance::{opensearch_cleanup, opensearch_test_server, span_views};
use jaeger_storage::elasticsearch::{EsConfig, EsStore, IndexSettings};
use jaeger_storage::{GetTraceParams, SpanReader, SpanWriter, TraceQuery};

/// `n` spans of one trace, 1 ms apart.
fn trace(id: TraceId, n: u64, start: u64) -> Vec<TestSpan> {
    (0..n)
        .map(|i| {
            TestSpan::new(
                id,
                i + 1,
                "fetch-svc",
                "op",
                start + i * MILLISECOND,
                MILLISECOND,
            )
        })
        .collect()
}

fn span_count(t: &jaeger_model::Trace) -> usize {
    span_views(&t.resource_spans).len()
}

#[tokio::test]
async fn traces_larger_than_the_page_are_fetched_whole() {
    let Some(url) = opensearch_test_server() else {
        return;
    };
    let prefix = unique_name("fetch");
    let config = EsConfig {
        server_urls: vec![url],
        opensearch: true,
        index_prefix: prefix.clone(),
        spans: IndexSettings {
            shards: 2,
            replicas: 0,
            priority: 0,
        },
        refresh: Some("true".into()),
        // A page of 5 span documents.
        max_doc_count: 5,
        ..Default::default()
    };
    let store = EsStore::open(config).await.expect("store opens");
    let c = store.client().clone();
    // Trace ids sort as small < low-only < mid < big: the page of 5 ends inside `mid`,
    // so `small` comes whole from the one search, `mid` and `big` from paging.
    let small = TraceId::from_u64s(0x1000_0000_0000_0000, 1);
    let low_only = TraceId::from_u64s(0, 0xabc);
    let mid = TraceId::from_u64s(0x2000_0000_0000_0000, 2);
    let big = TraceId::from_u64s(0x3000_0000_0000_0000, 3);
    let t0 = reference_time();
    let mut spans = trace(small, 2, t0);
    spans.extend(trace(low_only, 1, t0 + SECOND));
    spans.extend(trace(mid, 4, t0 + 2 * SECOND));
    spans.extend(trace(big, 12, t0 + 3 * SECOND));
    let result = async {
        store.write_spans(batch(&spans)).await.expect("write");

        let found = store
            .find_traces(&TraceQuery {
                service_name: Some("fetch-svc".into()),
                start_time_min: t0 - SECOND,
                start_time_max: t0 + 10 * SECOND,
                num_traces: 10,
                ..Default::default()
            })
            .await
            .expect("find traces");
        let mut got: Vec<(TraceId, usize)> = found
            .iter()
            .map(|t| (span_views(&t.resource_spans)[0].trace_id, span_count(t)))
            .collect();
        got.sort();
        let mut want = vec![(small, 2), (low_only, 1), (mid, 4), (big, 12)];
        want.sort();
        assert_eq!(got, want, "every found trace has all its spans");

        // By id: a trace of 12 spans through a page of 5, spans in start order.
        let t = store
            .get_trace(GetTraceParams {
                trace_id: big,
                start: None,
                end: None,
            })
            .await
            .expect("get trace")
            .expect("trace exists");
        let starts: Vec<u64> = span_views(&t.resource_spans)
            .iter()
            .map(|s| s.start)
            .collect();
        assert_eq!(starts.len(), 12);
        let mut sorted = starts.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 12, "no span twice");
        let small_trace = store
            .get_trace(GetTraceParams {
                trace_id: small,
                start: None,
                end: None,
            })
            .await
            .expect("get trace")
            .expect("trace exists");
        assert_eq!(span_count(&small_trace), 2);
    };
    // Clean up whether or not the assertions hold.
    let outcome = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(result)).await;
    opensearch_cleanup(&c, &prefix).await;
    if let Err(p) = outcome {
        std::panic::resume_unwind(p);
    }
}
