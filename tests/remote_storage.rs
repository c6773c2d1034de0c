//! Remote storage end to end, with the real binary: `jaeger remote-storage` serving the
//! embedded store on a loopback port, a `jaeger collector` writing through the `grpc`
//! backend, and two `jaeger query` processes reading through it. Then the remote storage
//! restarts on the same data directory and the query processes (lazy, reconnecting
//! clients) still find everything.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::{Jaeger, JaegerBuilder, Ports, free_port, now_nanos};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;

const TRACES: u64 = 20;
const SPANS_PER_TRACE: u64 = 5;

fn str_kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn trace_id(n: u64) -> [u8; 16] {
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&0x7e3a_0000_0000_0001_u64.to_be_bytes());
    id[8..].copy_from_slice(&n.to_be_bytes());
    id
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// One request holding `TRACES` traces of `SPANS_PER_TRACE` spans of service `svc`.
fn request(svc: &str, start: u64) -> ExportTraceServiceRequest {
    let spans = (0..TRACES)
        .flat_map(|t| {
            (0..SPANS_PER_TRACE).map(move |i| Span {
                trace_id: trace_id(t).to_vec(),
                span_id: (t * 100 + i + 1).to_be_bytes().to_vec(),
                parent_span_id: if i == 0 {
                    Vec::new()
                } else {
                    (t * 100 + 1).to_be_bytes().to_vec()
                },
                name: if i == 0 {
                    "root".into()
                } else {
                    format!("child-{i}")
                },
                start_time_unix_nano: start + t * 1_000_000 + i * 1_000,
                end_time_unix_nano: start + t * 1_000_000 + i * 1_000 + 500_000,
                attributes: vec![str_kv("trace.no", &t.to_string())],
                ..Default::default()
            })
        })
        .collect();
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![str_kv("service.name", svc)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn remote_storage(dir: &std::path::Path, grpc: SocketAddr) -> Jaeger {
    let ports = Ports::free();
    let health = ports.health.to_string();
    JaegerBuilder::new(dir)
        .ports(ports)
        .arg("remote-storage")
        .arg("--grpc.host-port")
        .arg(grpc.to_string())
        // The harness waits for /status on the health port.
        .arg("--remote-storage.admin.host-port")
        .arg(health)
        .start()
}

fn through_grpc(dir: &std::path::Path, role: &str, grpc: SocketAddr) -> Jaeger {
    JaegerBuilder::new(dir)
        .arg(role)
        .arg("--storage")
        .arg("grpc")
        .arg("--grpc-storage.server")
        .arg(grpc.to_string())
        .arg("--grpc-storage.connection-timeout")
        .arg("3s")
        .start()
}

/// Every query process sees the same traces, whole.
fn assert_all_visible(queries: &[&Jaeger], svc: &str) {
    for (n, q) in queries.iter().enumerate() {
        let found = q.wait_for_traces(
            &format!("/api/traces?service={svc}&lookback=1h&limit=100"),
            TRACES as usize,
        );
        for t in found["data"].as_array().expect("data") {
            assert_eq!(
                t["spans"].as_array().map(|s| s.len()),
                Some(SPANS_PER_TRACE as usize),
                "query {n}: a found trace is whole"
            );
        }
        let services = q.get_json("/api/services", 200);
        assert!(
            services["data"]
                .as_array()
                .is_some_and(|a| a.iter().any(|s| s == svc)),
            "query {n}: services {services}"
        );
        let ops = q.get_json(&format!("/api/services/{svc}/operations"), 200);
        assert_eq!(ops["total"], 1 + SPANS_PER_TRACE - 1, "query {n}: {ops}");
        let id = hex(&trace_id(7));
        let t = q.get_json(&format!("/api/traces/{id}"), 200);
        assert_eq!(
            t["data"][0]["spans"].as_array().map(|s| s.len()),
            Some(SPANS_PER_TRACE as usize),
            "query {n}: trace by id"
        );
        q.get_json(&format!("/api/traces/{}", hex(&trace_id(999))), 404);
    }
}

#[test]
fn collector_and_two_queries_share_the_embedded_store_through_remote_storage() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let store_dir = tmp.path().join("store");
    let grpc = free_port();
    let rs = remote_storage(&store_dir, grpc);

    let collector = through_grpc(&tmp.path().join("c"), "collector", grpc);
    let q1 = through_grpc(&tmp.path().join("q1"), "query", grpc);
    let q2 = through_grpc(&tmp.path().join("q2"), "query", grpc);

    let r = reqwest::blocking::Client::new()
        .post(collector.otlp_http_url())
        .header("content-type", "application/x-protobuf")
        .body(request("remote-svc", now_nanos() - 60_000_000_000).encode_to_vec())
        .send()
        .expect("OTLP export");
    assert_eq!(r.status(), 200, "collector accepted the spans");
    assert_all_visible(&[&q1, &q2], "remote-svc");

    // Restart the remote storage on the same directory: the data is in the embedded
    // store, and the query processes reconnect on their own.
    let status = rs.terminate();
    assert!(status.success(), "remote-storage exits cleanly: {status}");
    // While it is down the query processes answer with an error, not a hang or a crash.
    let r = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
        .get(q1.query_url("/api/services"))
        .send()
        .expect("query answers while storage is down");
    assert!(r.status().is_server_error(), "status {}", r.status());

    let _rs = remote_storage(&store_dir, grpc);
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::blocking::get(q2.query_url("/api/services"))
        .map(|r| !r.status().is_success())
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "query did not reconnect");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_all_visible(&[&q1, &q2], "remote-svc");
}

/// The same through a Jaeger v2 YAML file: the remote_storage extension serving a badger
/// backend, and a query process with a `grpc` backend.
#[test]
fn yaml_remote_storage_and_grpc_backend() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let grpc = free_port();
    let keys = tmp.path().join("badger");
    let rs_yaml = tmp.path().join("remote-storage.yaml");
    std::fs::write(
        &rs_yaml,
        format!(
            r#"
service:
  extensions: [jaeger_storage, remote_storage]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  jaeger_storage_exporter:
    trace_storage: local
extensions:
  jaeger_storage:
    backends:
      local:
        badger:
          ephemeral: false
          directories: {{keys: "{keys}", values: "{keys}"}}
  remote_storage:
    endpoint: "{grpc}"
    storage: local
"#,
            keys = keys.display()
        ),
    )
    .expect("write yaml");
    let ports = Ports::free();
    let health = ports.health.to_string();
    let _rs = JaegerBuilder::new(&tmp.path().join("unused"))
        .ports(ports)
        .arg("--config")
        .arg(rs_yaml.display().to_string())
        .arg("remote-storage")
        .arg("--remote-storage.admin.host-port")
        .arg(health)
        .start();

    let aio_yaml = tmp.path().join("all-in-one.yaml");
    std::fs::write(
        &aio_yaml,
        format!(
            r#"
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
extensions:
  jaeger_storage:
    backends:
      remote:
        grpc:
          endpoint: "{grpc}"
          tls: {{insecure: true}}
          timeout: 3s
  jaeger_query:
    storage:
      traces: remote
receivers:
  otlp:
    protocols:
      grpc:
      http:
exporters:
  jaeger_storage_exporter:
    trace_storage: remote
"#
        ),
    )
    .expect("write yaml");
    // Flags after --config override the file's listeners with free ports.
    let aio = JaegerBuilder::new(&tmp.path().join("aio"))
        .arg("--config")
        .arg(aio_yaml.display().to_string())
        .start();
    let r = reqwest::blocking::Client::new()
        .post(aio.otlp_http_url())
        .header("content-type", "application/x-protobuf")
        .body(request("yaml-svc", now_nanos() - 60_000_000_000).encode_to_vec())
        .send()
        .expect("OTLP export");
    assert_eq!(r.status(), 200);
    assert_all_visible(&[&aio], "yaml-svc");
    // The harness's --data-dir flag beats the file's badger directory (flags win).
    assert!(
        tmp.path().join("unused").exists(),
        "the remote storage wrote into its embedded store's directory"
    );
}

/// A throwaway CA, a server certificate for localhost/127.0.0.1, a client certificate
/// it signed, and a second CA that signed nothing here.
struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, content: &str| {
            std::fs::write(dir.path().join(name), content).expect("write PEM file")
        };
        let ca = |name: &str| {
            let key = KeyPair::generate().expect("CA key");
            let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let cert = params.self_signed(&key).expect("CA certificate");
            write(name, &cert.pem());
            Issuer::new(params, key)
        };
        let issuer = ca("ca.pem");
        ca("other-ca.pem");
        let leaf = |names: Vec<String>, cert: &str, key_file: &str| {
            let key = KeyPair::generate().expect("key");
            let c = CertificateParams::new(names)
                .expect("params")
                .signed_by(&key, &issuer)
                .expect("signed certificate");
            write(cert, &c.pem());
            write(key_file, &key.serialize_pem());
        };
        leaf(
            vec!["localhost".into(), "127.0.0.1".into()],
            "server.pem",
            "server-key.pem",
        );
        leaf(vec!["query".into()], "client.pem", "client-key.pem");
        Self { dir }
    }

    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// `jaeger remote-storage` from a YAML file: a memory backend served with TLS and
/// required client certificates, with `extra` added to the `remote_storage` section.
fn tls_remote_storage(tmp: &std::path::Path, pki: &Pki, grpc: SocketAddr, extra: &str) -> Jaeger {
    let yaml = tmp.join("remote-storage.yaml");
    std::fs::write(
        &yaml,
        format!(
            r#"
service:
  extensions: [jaeger_storage, remote_storage]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
receivers:
  otlp:
    protocols:
      grpc:
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
extensions:
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 10000
  remote_storage:
    endpoint: "{grpc}"
    storage: mem
    tls:
      cert_file: {cert}
      key_file: {key}
      client_ca_file: {ca}
{extra}
"#,
            cert = pki.p("server.pem"),
            key = pki.p("server-key.pem"),
            ca = pki.p("ca.pem"),
        ),
    )
    .expect("write yaml");
    let ports = Ports::free();
    let health = ports.health.to_string();
    JaegerBuilder::new(&tmp.join("rs-data"))
        .ports(ports)
        .arg("--config")
        .arg(yaml.display().to_string())
        .arg("remote-storage")
        .arg("--remote-storage.admin.host-port")
        .arg(health)
        .start()
}

/// An all-in-one (collector + query) whose storage is the `grpc` backend with `tls`
/// (YAML flow mapping) and `tenancy` added to `jaeger_query`.
fn grpc_client_process(
    tmp: &std::path::Path,
    name: &str,
    grpc: SocketAddr,
    tls: &str,
    tenancy: &str,
) -> Jaeger {
    grpc_client_builder(tmp, name, grpc, tls, tenancy).start()
}

fn grpc_client_builder(
    tmp: &std::path::Path,
    name: &str,
    grpc: SocketAddr,
    tls: &str,
    tenancy: &str,
) -> JaegerBuilder {
    let yaml = tmp.join(format!("{name}.yaml"));
    std::fs::write(
        &yaml,
        format!(
            r#"
service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
extensions:
  jaeger_storage:
    backends:
      remote:
        grpc:
          endpoint: "{grpc}"
          tls: {tls}
          timeout: 3s
  jaeger_query:
    storage:
      traces: remote
{tenancy}
receivers:
  otlp:
    protocols:
      grpc:
      http:
exporters:
  jaeger_storage_exporter:
    trace_storage: remote
"#
        ),
    )
    .expect("write yaml");
    JaegerBuilder::new(&tmp.join(name))
        .arg("--config")
        .arg(yaml.display().to_string())
}

#[test]
fn grpc_backend_over_mtls_to_remote_storage_from_yaml() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let pki = Pki::new();
    let grpc = free_port();
    let _rs = tls_remote_storage(tmp.path(), &pki, grpc, "");
    // The server certificate names localhost and 127.0.0.1; the override is checked.
    let tls = format!(
        "{{ca_file: {}, cert_file: {}, key_file: {}, server_name_override: localhost}}",
        pki.p("ca.pem"),
        pki.p("client.pem"),
        pki.p("client-key.pem")
    );
    let aio = grpc_client_process(tmp.path(), "aio", grpc, &tls, "");
    let r = reqwest::blocking::Client::new()
        .post(aio.otlp_http_url())
        .header("content-type", "application/x-protobuf")
        .body(request("tls-svc", now_nanos() - 60_000_000_000).encode_to_vec())
        .send()
        .expect("OTLP export");
    assert_eq!(r.status(), 200, "spans written over mTLS");
    assert_all_visible(&[&aio], "tls-svc");
    assert!(
        aio.logs().contains("(TLS, timeout"),
        "the backend says it uses TLS:\n{}",
        aio.logs()
    );
}

/// What the query API answers while its storage is unusable: a 5xx with the reason.
fn storage_error(j: &Jaeger) -> String {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client");
    // The process is not waited for (its health stays red): retry until it listens.
    let deadline = Instant::now() + Duration::from_secs(30);
    let r = loop {
        match client.get(j.query_url("/api/services")).send() {
            Ok(r) => break r,
            Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Err(e) => panic!("query does not answer: {e}\n{}", j.logs()),
        }
    };
    assert!(r.status().is_server_error(), "status {}", r.status());
    r.text().unwrap_or_default()
}

#[test]
fn grpc_backend_with_the_wrong_ca_fails_with_a_clear_error() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let pki = Pki::new();
    let grpc = free_port();
    let _rs = tls_remote_storage(tmp.path(), &pki, grpc, "");
    let tls = format!(
        "{{ca_file: {}, cert_file: {}, key_file: {}}}",
        pki.p("other-ca.pem"),
        pki.p("client.pem"),
        pki.p("client-key.pem")
    );
    let q = grpc_client_builder(tmp.path(), "q", grpc, &tls, "").spawn();
    let body = storage_error(&q);
    assert!(
        // A CA of another name gives UnknownIssuer; one of the same name, BadSignature.
        body.contains("TLS handshake with remote storage")
            && body.contains("invalid peer certificate"),
        "the error names the TLS problem: {body}"
    );
    // The start-up probe logged it too.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !q.logs().contains("invalid peer certificate") {
        assert!(
            Instant::now() < deadline,
            "no warning logged:\n{}",
            q.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn grpc_backend_without_a_client_certificate_is_refused_with_a_clear_error() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let pki = Pki::new();
    let grpc = free_port();
    let _rs = tls_remote_storage(tmp.path(), &pki, grpc, "");
    let tls = format!("{{ca_file: {}}}", pki.p("ca.pem"));
    let q = grpc_client_builder(tmp.path(), "q", grpc, &tls, "").spawn();
    let body = storage_error(&q);
    assert!(
        body.contains("client certificate"),
        "the error says a certificate is missing: {body}"
    );
}

#[test]
fn tenants_see_only_their_own_traces_through_remote_storage() {
    use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
    let tmp = tempfile::tempdir().expect("temp dir");
    let pki = Pki::new();
    let grpc = free_port();
    let _rs = tls_remote_storage(
        tmp.path(),
        &pki,
        grpc,
        "    multi_tenancy: {enabled: true, tenants: [acme, globex]}",
    );
    let tls = format!(
        "{{ca_file: {}, cert_file: {}, key_file: {}}}",
        pki.p("ca.pem"),
        pki.p("client.pem"),
        pki.p("client-key.pem")
    );
    let q = grpc_client_process(
        tmp.path(),
        "q",
        grpc,
        &tls,
        "    multi_tenancy: {enabled: true, tenants: [acme, globex]}",
    );

    // Each tenant writes its own traces with the same ids, straight to the remote
    // storage's OTLP Export with its tenant in the metadata.
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let ca = std::fs::read_to_string(pki.p("ca.pem")).expect("ca");
    let cert = std::fs::read_to_string(pki.p("client.pem")).expect("cert");
    let key = std::fs::read_to_string(pki.p("client-key.pem")).expect("key");
    let export = |tenant: Option<&str>, svc: &str| {
        rt.block_on(async {
            let channel = tls_channel(grpc, &ca, &cert, &key).await;
            let mut req = tonic::Request::new(request(svc, now_nanos() - 60_000_000_000));
            if let Some(t) = tenant {
                req.metadata_mut()
                    .insert("x-tenant", t.parse().expect("metadata"));
            }
            TraceServiceClient::new(channel).export(req).await
        })
    };
    export(Some("acme"), "acme-svc").expect("acme writes");
    export(Some("globex"), "globex-svc").expect("globex writes");
    let e = export(None, "nobody-svc").expect_err("no tenant");
    assert_eq!(e.code(), tonic::Code::Unauthenticated, "{e:?}");
    assert_eq!(e.message(), "missing tenant header");
    let e = export(Some("initech"), "initech-svc").expect_err("unknown tenant");
    assert_eq!(e.code(), tonic::Code::PermissionDenied, "{e:?}");

    let client = reqwest::blocking::Client::new();
    let get = |tenant: &str, path: &str| -> serde_json::Value {
        let r = client
            .get(q.query_url(path))
            .header("x-tenant", tenant)
            .send()
            .expect("query");
        assert!(
            r.status().is_success() || r.status() == 404,
            "{path}: {}",
            r.status()
        );
        r.json().expect("json")
    };
    for (tenant, mine, theirs) in [
        ("acme", "acme-svc", "globex-svc"),
        ("globex", "globex-svc", "acme-svc"),
    ] {
        let services = get(tenant, "/api/services");
        assert_eq!(
            services["data"],
            serde_json::json!([mine]),
            "{tenant}: {services}"
        );
        let found = get(
            tenant,
            &format!("/api/traces?service={mine}&lookback=1h&limit=100"),
        );
        assert_eq!(
            found["data"].as_array().map(Vec::len),
            Some(TRACES as usize),
            "{tenant}"
        );
        let found = get(
            tenant,
            &format!("/api/traces?service={theirs}&lookback=1h&limit=100"),
        );
        assert_eq!(
            found["data"].as_array().map(Vec::len),
            Some(0),
            "{tenant} sees {theirs}"
        );
        // The same trace id holds only the tenant's own spans.
        let t = get(tenant, &format!("/api/traces/{}", hex(&trace_id(3))));
        let svc = &t["data"][0]["processes"]["p1"]["serviceName"];
        assert_eq!(svc, mine, "{tenant}: {t}");
    }
}

async fn tls_channel(
    grpc: SocketAddr,
    ca: &str,
    cert: &str,
    key: &str,
) -> tonic::transport::Channel {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca.as_bytes()).expect("CA"))
        .expect("root");
    let mut cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_client_auth_cert(
        vec![CertificateDer::from_pem_slice(cert.as_bytes()).expect("cert")],
        PrivateKeyDer::from_pem_slice(key.as_bytes()).expect("key"),
    )
    .expect("client auth");
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
    let connect = tower::service_fn(move |_: tonic::codegen::http::Uri| {
        let connector = connector.clone();
        async move {
            let tcp = tokio::net::TcpStream::connect(grpc).await?;
            let name = ServerName::try_from("localhost").expect("server name");
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    tonic::transport::Endpoint::from_static("http://localhost")
        .timeout(Duration::from_secs(10))
        .connect_with_connector(connect)
        .await
        .expect("TLS channel")
}
