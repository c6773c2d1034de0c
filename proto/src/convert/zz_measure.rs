#[test]
#[ignore]
fn measure() {
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
    let kv = |k: &str, v: &str| KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    };
    let spans: Vec<Span> = (0..10_000u64)
        .map(|i| Span {
            trace_id: vec![1; 16],
            span_id: (i + 1).to_be_bytes().to_vec(),
            parent_span_id: vec![9; 8],
            name: "GET /api/x".into(),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_000 + i,
            end_time_unix_nano: 1_700_000_000_001_000_000 + i,
            attributes: (0..10)
                .map(|j| kv(&format!("attr.{j}"), "some value here"))
                .collect(),
            ..Default::default()
        })
        .collect();
    let rs = vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", "svc"), kv("host.name", "h")],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            spans,
            ..Default::default()
        }],
        schema_url: String::new(),
    }];
    let t = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..10 {
        n += super::spans_from_otlp(&rs).len();
    }
    let a = t.elapsed();
    let jspans = super::spans_from_otlp(&rs);
    let batch = crate::api_v2::Batch {
        spans: jspans,
        process: None,
    };
    let t = std::time::Instant::now();
    for _ in 0..10 {
        n += super::batch_to_otlp(&batch).unwrap().len();
    }
    let b = t.elapsed();
    eprintln!(
        "MEASURE otlp->v2 {:.0} spans/s, v2->otlp {:.0} spans/s ({n})",
        100_000.0 / a.as_secs_f64(),
        100_000.0 / b.as_secs_f64()
    );
}
