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

/// Records the request context every write runs in, then writes to a memory store.
struct RecordingWriter {
    inner: std::sync::Arc<crate::memory::MemoryStore>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<crate::context::RequestContext>>>,
}

#[async_trait::async_trait]
impl crate::SpanWriter for RecordingWriter {
    async fn write_spans(&self, batch: Vec<ResourceSpans>) -> crate::Result<()> {
        let ctx = crate::context::RequestContext::current().unwrap_or_default();
        self.seen.lock().expect("not poisoned").push(ctx);
        self.inner.write_spans(batch).await
    }
}

#[tokio::test]
async fn tenant_and_bearer_token_travel_to_the_tenants_own_store() {
    use crate::context::RequestContext;
    use crate::{SpanReader, SpanWriter, Storage};
    use std::sync::{Arc, Mutex};

    let seen = Arc::new(Mutex::new(Vec::new()));
    let open: server::TenantOpener = {
        let seen = seen.clone();
        Arc::new(
            move |_tenant: String| -> futures::future::BoxFuture<'static, crate::Result<Storage>> {
                let seen = seen.clone();
                Box::pin(async move {
                    let mem = crate::memory::MemoryStore::new(100);
                    let mut s = Storage::from_backend(mem.clone());
                    s.writer = Arc::new(RecordingWriter { inner: mem, seen });
                    Ok(s)
                })
            },
        )
    };
    let options = RemoteStorageOptions {
        tenancy: Some(ServerTenancy {
            header: "x-org".into(),
            tenants: vec!["acme".into(), "globex".into()],
            open,
        }),
        ..Default::default()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let unused = Storage::from_backend(crate::memory::MemoryStore::new(10));
    let server = tokio::spawn(serve_remote_storage(listener, unused, options, async {
        let _ = stopped.await;
    }));
    let mut cfg = GrpcClientConfig::new(addr.to_string());
    cfg.tenant_header = "x-org".into();
    let client = GrpcStore::connect(&cfg).expect("client");
    let ctx = |tenant: &str, token: &str| RequestContext {
        tenant: Some(tenant.into()),
        bearer_token: Some(token.into()),
    };
    let mut b = batch(1, 1, 2, 10);
    b[0].resource = Some(jaeger_model::otlp::Resource {
        attributes: vec![jaeger_model::trace::kv(
            "service.name",
            jaeger_model::otlp::Value::StringValue("svc-acme".into()),
        )],
        ..Default::default()
    });
    ctx("acme", "token-a")
        .scope(client.write_spans(b))
        .await
        .expect("acme writes");
    let services = ctx("acme", "token-a")
        .scope(client.get_services())
        .await
        .expect("acme reads");
    assert_eq!(services, ["svc-acme"]);
    let services = ctx("globex", "token-g")
        .scope(client.get_services())
        .await
        .expect("globex reads");
    assert!(
        services.is_empty(),
        "globex sees acme's services: {services:?}"
    );
    // The server saw the tenant and the token in the storage call's context.
    assert_eq!(
        *seen.lock().expect("not poisoned"),
        [ctx("acme", "token-a")],
    );
    // Without a tenant, or with an unknown one, the server refuses the call.
    let e = client.get_services().await.expect_err("no tenant");
    assert!(e.to_string().contains("missing tenant header"), "{e}");
    let e = ctx("initech", "t")
        .scope(client.get_services())
        .await
        .expect_err("unknown");
    assert!(e.to_string().contains("unknown tenant"), "{e}");
    // Health stays open without a tenant.
    client.probe().await.expect("health needs no tenant");
    let _ = stop.send(());
    server.await.expect("server task").expect("server");
}
