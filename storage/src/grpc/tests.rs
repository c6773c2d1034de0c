use jaeger_model::otlp::{ResourceSpans, ScopeSpans, Span};
use jaeger_proto::storage::v2 as pb;

use super::*;

fn span(i: u8, attr_bytes: usize) -> Span {
    Span {
        trace_id: vec![1; 16],
        span_id: vec![i; 8],
        name: "x".repeat(attr_bytes),
        ..Default::default()
    }
}

fn batch(resources: usize, scopes: usize, spans: usize, bytes: usize) -> Vec<ResourceSpans> {
    (0..resources)
        .map(|r| ResourceSpans {
            schema_url: format!("r{r}"),
            scope_spans: (0..scopes)
                .map(|s| ScopeSpans {
                    schema_url: format!("s{s}"),
                    spans: (0..spans).map(|i| span(i as u8, bytes)).collect(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

fn flat(rs: &[ResourceSpans]) -> Vec<(String, String, Vec<u8>)> {
    rs.iter()
        .flat_map(|r| {
            r.scope_spans.iter().flat_map(move |s| {
                s.spans.iter().map(move |sp| {
                    (
                        r.schema_url.clone(),
                        s.schema_url.clone(),
                        sp.span_id.clone(),
                    )
                })
            })
        })
        .collect()
}

#[test]
fn small_trace_is_one_chunk() {
    let b = batch(2, 2, 3, 10);
    let chunks = chunk_trace(b.clone(), 1 << 20);
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].resource_spans, b);
}

#[test]
fn large_trace_is_split_keeping_headers_and_order() {
    let b = batch(2, 3, 10, 1000);
    let chunks = chunk_trace(b.clone(), 5_000);
    assert!(chunks.len() > 5, "{} chunks", chunks.len());
    let joined: Vec<ResourceSpans> = chunks
        .iter()
        .flat_map(|c| c.resource_spans.clone())
        .collect();
    assert_eq!(
        flat(&joined),
        flat(&b),
        "every span once, in order, with its headers"
    );
    for c in &chunks {
        assert!(!c.resource_spans.is_empty());
        let n: usize = c
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        assert!((1..=5).contains(&n), "chunk of {n} spans");
    }
}

#[test]
fn oversized_span_gets_its_own_chunk() {
    let b = batch(1, 1, 3, 10_000);
    let chunks = chunk_trace(b, 100);
    assert_eq!(chunks.len(), 3);
}

#[test]
fn empty_trace_has_no_chunks() {
    assert!(chunk_trace(Vec::new(), 100).is_empty());
    assert!(chunk_trace(batch(1, 1, 0, 1), 100).is_empty());
}

#[test]
fn attributes_compare_as_strings() {
    let kv = |v| pb::KeyValue {
        key: "k".into(),
        value: Some(pb::AnyValue { value: Some(v) }),
    };
    use pb::any_value::Value as V;
    assert_eq!(attribute_to_tag(&kv(V::IntValue(500))).1, "500");
    assert_eq!(attribute_to_tag(&kv(V::BoolValue(false))).1, "false");
    assert_eq!(attribute_to_tag(&kv(V::DoubleValue(0.25))).1, "0.25");
    assert_eq!(attribute_to_tag(&kv(V::StringValue("GET".into()))).1, "GET");
    assert_eq!(
        attribute_to_tag(&tag_to_attribute("http.method", "GET")),
        ("http.method".into(), "GET".into())
    );
}

#[test]
fn query_with_filter_is_rejected() {
    let q = pb::TraceQueryParameters {
        filter: Some(Default::default()),
        ..Default::default()
    };
    let e = server::query_from_pb(Some(q)).unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert_eq!(
        server::query_from_pb(None).unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
}

#[test]
fn query_defaults() {
    let q = server::query_from_pb(Some(pb::TraceQueryParameters::default())).unwrap();
    assert_eq!(q.num_traces, 100, "Jaeger's default search depth");
    assert_eq!(q.start_time_max, 0, "no upper bound");
    assert_eq!(q.service_name, None);
}
