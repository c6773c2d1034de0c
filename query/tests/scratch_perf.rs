use jaeger_model::otlp::*;
use jaeger_model::trace::kv;
use jaeger_model::{SpanId, TraceId, gojson, otlp_json, ui};
#[test]
fn scratch() {
    let t0 = 1_706_678_909_209_712_000u64;
    let spans: Vec<Span> = (1..=10_000u64)
        .map(|i| Span {
            trace_id: TraceId::from_u64s(1, 2).0.to_vec(),
            span_id: SpanId::from_u64(i).0.to_vec(),
            parent_span_id: if i > 1 {
                SpanId::from_u64(i / 2).0.to_vec()
            } else {
                vec![]
            },
            name: format!("op-{}", i % 50),
            kind: 2,
            start_time_unix_nano: t0 + i * 1000,
            end_time_unix_nano: t0 + i * 1000 + 500_000,
            attributes: (0..10)
                .map(|k| {
                    kv(
                        format!("attr.{k}"),
                        if k % 2 == 0 {
                            Value::StringValue("some value".into())
                        } else {
                            Value::IntValue(k)
                        },
                    )
                })
                .collect(),
            events: vec![Event {
                time_unix_nano: t0 + i * 1000 + 10,
                name: "log".into(),
                attributes: vec![kv("message", Value::StringValue("hello".into()))],
                dropped_attributes_count: 0,
            }],
            ..Default::default()
        })
        .collect();
    let rs = vec![ResourceSpans {
        resource: Some(Resource {
            attributes: vec![kv("service.name", Value::StringValue("x".into()))],
            ..Default::default()
        }),
        scope_spans: vec![ScopeSpans {
            scope: None,
            spans,
            schema_url: String::new(),
        }],
        schema_url: String::new(),
    }];
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let g = jaeger_model::trace::group_by_trace(&rs);
        let a = t.elapsed();
        let t = std::time::Instant::now();
        let u = ui::trace_from_otlp(&g[0].1);
        let b = t.elapsed();
        let t = std::time::Instant::now();
        let out = gojson::to_vec(&u, false).unwrap();
        let c = t.elapsed();
        let t = std::time::Instant::now();
        let out2 = serde_json::to_vec(&u).unwrap();
        let d = t.elapsed();
        let t = std::time::Instant::now();
        let o = otlp_json::traces_data(&g[0].1);
        let e = t.elapsed();
        let t = std::time::Instant::now();
        drop(u);
        let f = t.elapsed();
        println!(
            "group {a:?} convert {b:?} gojson {c:?} ({}) serde {d:?} ({}) otlp {e:?} ({}) drop {f:?}",
            out.len(),
            out2.len(),
            o.len()
        );
    }
}
