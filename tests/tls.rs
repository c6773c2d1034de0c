//! End-to-end: TLS (rustls) and mTLS on every TCP server endpoint, configured by a
//! Jaeger v2 file's `tls: {cert_file, key_file, client_ca_file}` blocks or by Jaeger
//! v1's `--<server>.tls.*` flags, with a CA, server and client certificates made by the
//! test (rcgen). Clients are rustls (HTTP/1.1 written by hand) and tonic over a rustls
//! connector; a bad TLS file stops start-up with a message naming the key and the file.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{JaegerBuilder, Ports, free_port, now_nanos};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tonic::transport::Channel;

/// A CA, a server certificate for localhost/127.0.0.1 and a client certificate, both
/// signed by the CA, written to a temporary directory.
struct Pki {
    dir: tempfile::TempDir,
    ca_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    /// A client certificate signed by a CA the server does not trust.
    rogue_cert_pem: String,
    rogue_key_pem: String,
}

impl Pki {
    fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().expect("CA key");
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf = |names: Vec<String>, issuer: &Issuer<'_, KeyPair>| {
            let key = KeyPair::generate().expect("key");
            let cert = CertificateParams::new(names)
                .expect("params")
                .signed_by(&key, issuer)
                .expect("signed certificate");
            (cert.pem(), key.serialize_pem())
        };
        let (server_cert, server_key) = leaf(vec!["localhost".into(), "127.0.0.1".into()], &issuer);
        let (client_cert_pem, client_key_pem) = leaf(vec!["client".into()], &issuer);
        let rogue_key = KeyPair::generate().expect("rogue CA key");
        let mut rogue_params = CertificateParams::new(Vec::<String>::new()).expect("params");
        rogue_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let rogue_issuer = Issuer::new(rogue_params, rogue_key);
        let (rogue_cert_pem, rogue_key_pem) = leaf(vec!["client".into()], &rogue_issuer);

        let dir = tempfile::tempdir().expect("tempdir");
        let write = |name: &str, content: &str| {
            std::fs::write(dir.path().join(name), content).expect("write PEM file")
        };
        write("ca.pem", &ca_cert.pem());
        write("server.pem", &server_cert);
        write("server-key.pem", &server_key);
        write(
            "other-key.pem",
            &KeyPair::generate().expect("key").serialize_pem(),
        );
        write(
            "garbage.pem",
            "-----BEGIN CERTIFICATE-----\nnot base64 !!\n",
        );
        write("empty.pem", "# no PEM blocks here\n");
        Self {
            ca_pem: ca_cert.pem(),
            client_cert_pem,
            client_key_pem,
            rogue_cert_pem,
            rogue_key_pem,
            dir,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn p(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
}

#[derive(Clone, Copy, PartialEq)]
enum ClientCert {
    None,
    Trusted,
    Rogue,
}

fn client_config(pki: &Pki, cert: ClientCert, alpn: &[u8]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).expect("CA parses"))
        .expect("CA is a valid root");
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots);
    let pair = |c: &str, k: &str| {
        (
            vec![CertificateDer::from_pem_slice(c.as_bytes()).expect("cert parses")],
            PrivateKeyDer::from_pem_slice(k.as_bytes()).expect("key parses"),
        )
    };
    let mut cfg = match cert {
        ClientCert::None => builder.with_no_client_auth(),
        ClientCert::Trusted => {
            let (c, k) = pair(&pki.client_cert_pem, &pki.client_key_pem);
            builder.with_client_auth_cert(c, k).expect("client cert")
        }
        ClientCert::Rogue => {
            let (c, k) = pair(&pki.rogue_cert_pem, &pki.rogue_key_pem);
            builder.with_client_auth_cert(c, k).expect("client cert")
        }
    };
    cfg.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(cfg)
}

/// One HTTP/1.1 request over TLS; (status, body), or why there was no HTTP answer.
async fn https(
    cfg: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> Result<(u16, String), String> {
    let tcp = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").expect("server name");
    let mut tls = TlsConnector::from(cfg)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    // A peer that closes without close_notify still gave us the whole response; a
    // refused client certificate is an alert here (TLS 1.3 verifies it after the
    // client's side of the handshake is done).
    let read = tls.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .and_then(|t| t.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("no HTTP answer ({read:?}): {text:?}"))?;
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    Ok((status, body))
}

/// A plain-text HTTP request to a TLS port gets no HTTP answer.
async fn assert_plain_http_refused(addr: SocketAddr, what: &str) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut buf)).await;
    assert!(
        !buf.starts_with(b"HTTP/"),
        "{what}: plain HTTP was answered: {:?}",
        String::from_utf8_lossy(&buf)
    );
}

/// A tonic channel whose connections are rustls TLS streams (ALPN h2).
async fn tls_channel(
    cfg: Arc<rustls::ClientConfig>,
    addr: SocketAddr,
) -> Result<Channel, tonic::transport::Error> {
    let connector = TlsConnector::from(cfg);
    let connect = tower::service_fn(move |_: tonic::codegen::http::Uri| {
        let connector = connector.clone();
        async move {
            let tcp = TcpStream::connect(addr).await?;
            let name = ServerName::try_from("localhost").expect("server name");
            let tls = connector.connect(name, tcp).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(tls))
        }
    });
    tonic::transport::Endpoint::from_static("http://localhost")
        .timeout(Duration::from_secs(10))
        .connect_with_connector(connect)
        .await
}

async fn plain_channel(addr: SocketAddr) -> Result<Channel, tonic::transport::Error> {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("uri")
        .timeout(Duration::from_secs(10))
        .connect()
        .await
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Grpc {
    Otlp,
    Jaeger,
    Sampling,
    Query,
}

/// One real call of the service on `ch`.
async fn grpc_call(kind: Grpc, ch: Channel, service: &str) -> Result<(), tonic::Status> {
    match kind {
        Grpc::Otlp => {
            use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
            use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
            use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
            use opentelemetry_proto::tonic::resource::v1::Resource;
            use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
            let start = now_nanos() - 1_000_000_000;
            let req = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(Resource {
                        attributes: vec![KeyValue {
                            key: "service.name".into(),
                            value: Some(AnyValue {
                                value: Some(any_value::Value::StringValue(service.into())),
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    }),
                    scope_spans: vec![ScopeSpans {
                        spans: vec![Span {
                            trace_id: vec![0xc1; 16],
                            span_id: vec![0xc1; 8],
                            name: "op".into(),
                            start_time_unix_nano: start,
                            end_time_unix_nano: start + 1000,
                            ..Default::default()
                        }],
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            TraceServiceClient::new(ch).export(req).await.map(drop)
        }
        Grpc::Jaeger => {
            use jaeger_proto::api_v2::collector_service_client::CollectorServiceClient;
            use jaeger_proto::api_v2::{Batch, PostSpansRequest, Process, Span};
            let batch = Batch {
                spans: vec![Span {
                    trace_id: vec![0xc2; 16],
                    span_id: vec![0xc2; 8],
                    operation_name: "op".into(),
                    ..Default::default()
                }],
                process: Some(Process {
                    service_name: service.into(),
                    tags: vec![],
                }),
            };
            CollectorServiceClient::new(ch)
                .post_spans(PostSpansRequest { batch: Some(batch) })
                .await
                .map(drop)
        }
        Grpc::Sampling => {
            use jaeger_proto::api_v2::SamplingStrategyParameters;
            use jaeger_proto::api_v2::sampling_manager_client::SamplingManagerClient;
            SamplingManagerClient::new(ch)
                .get_sampling_strategy(SamplingStrategyParameters {
                    service_name: service.into(),
                })
                .await
                .map(drop)
        }
        Grpc::Query => {
            use jaeger_proto::api_v2::GetServicesRequest;
            use jaeger_proto::api_v2::query_service_client::QueryServiceClient;
            QueryServiceClient::new(ch)
                .get_services(GetServicesRequest {})
                .await
                .map(drop)
        }
    }
}

/// Connects (TLS with `cfg`, or plain text) and makes one call; the error says why not.
async fn grpc_try(
    kind: Grpc,
    cfg: Option<Arc<rustls::ClientConfig>>,
    addr: SocketAddr,
    service: &str,
) -> Result<(), String> {
    let ch = match cfg {
        Some(cfg) => tls_channel(cfg, addr).await,
        None => plain_channel(addr).await,
    }
    .map_err(|e| format!("connect: {e:?}"))?;
    grpc_call(kind, ch, service)
        .await
        .map_err(|s| format!("call: {s:?}"))
}

/// Every HTTP endpoint: (name, address, method, path, body, expected status).
type HttpCase<'a> = (&'a str, SocketAddr, &'a str, &'a str, String, u16);

fn http_cases(p: &Ports) -> Vec<HttpCase<'static>> {
    let start = now_nanos() - 1_000_000_000;
    let otlp = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "tls-otlp-http"}}]},
        "scopeSpans": [{"spans": [{"traceId": "000000000000000000000000000000c3", "spanId": "00000000000000c3",
          "name": "op", "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 1000).to_string()}]}]
    }]});
    let zipkin = serde_json::json!([{"traceId": "00000000000000c4", "id": "00000000000000c4",
        "name": "op", "timestamp": start / 1000, "duration": 1,
        "localEndpoint": {"serviceName": "tls-zipkin"}}]);
    vec![
        (
            "OTLP HTTP",
            p.otlp_http,
            "POST",
            "/v1/traces",
            otlp.to_string(),
            200,
        ),
        (
            "Zipkin",
            p.zipkin,
            "POST",
            "/api/v2/spans",
            zipkin.to_string(),
            202,
        ),
        (
            "Jaeger Thrift HTTP",
            p.jaeger_http,
            "GET",
            "/api/sampling?service=x",
            String::new(),
            200,
        ),
        (
            "query HTTP",
            p.query,
            "GET",
            "/api/services",
            String::new(),
            200,
        ),
        (
            "remote sampling HTTP",
            p.sampling_http,
            "GET",
            "/sampling?service=x",
            String::new(),
            200,
        ),
        ("health", p.health, "GET", "/status", String::new(), 200),
        ("expvar", p.expvar, "GET", "/debug/vars", String::new(), 200),
        ("admin", p.admin_http, "GET", "/metrics", String::new(), 200),
    ]
}

fn grpc_cases(p: &Ports) -> Vec<(Grpc, SocketAddr)> {
    vec![
        (Grpc::Otlp, p.otlp_grpc),
        (Grpc::Jaeger, p.jaeger_grpc),
        (Grpc::Sampling, p.sampling_grpc),
        (Grpc::Query, p.query_grpc),
    ]
}

/// Starts the binary with `args` and waits until `ready` answers (the health port may
/// itself speak TLS, so the harness's plain probe cannot be used).
fn start_tls_binary(
    data: &Path,
    args: &[String],
    envs: &[(&str, &str)],
    ready: impl Fn() -> bool,
) -> (std::process::Child, PathBuf) {
    let log = data.with_extension("log");
    let log_file = std::fs::File::create(&log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_jaeger"))
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("clone"))
        .stderr(log_file)
        .spawn()
        .expect("start jaeger");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(
            Instant::now() < deadline,
            "jaeger did not start: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, log)
}

/// Kills the child on drop.
struct Child(std::process::Child);
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every TCP server of a Jaeger v2 file with `tls` and `client_ca_file` (paths through
/// `${env:...}`), plus the v1 admin port by flags: a client certificate signed by the
/// CA is served; no certificate, a certificate of another CA, and plain text are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mtls_on_every_endpoint_from_the_yaml_file() {
    let pki = Pki::new();
    let p = Ports::free();
    let metrics = free_port();
    let tls = |indent: usize| {
        let pad = " ".repeat(indent);
        format!(
            "{pad}tls:\n{pad}  cert_file: ${{env:TLS_DIR}}/server.pem\n{pad}  key_file: ${{env:TLS_DIR}}/server-key.pem\n{pad}  client_ca_file: ${{env:TLS_DIR}}/ca.pem\n"
        )
    };
    let (t4, t6, t8) = (tls(4), tls(6), tls(8));
    let yaml = format!(
        "\
service:
  extensions: [jaeger_storage, jaeger_query, remote_sampling, healthcheckv2, expvar]
  pipelines:
    traces:
      receivers: [otlp, jaeger, zipkin]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      address: {metrics}
extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: {health}
{t6}  expvar:
    endpoint: {expvar}
{t4}  jaeger_storage:
    backends:
      main:
        memory:
  jaeger_query:
    storage:
      traces: main
    http:
      endpoint: {query}
{t6}    grpc:
      endpoint: {query_grpc}
{t6}  remote_sampling:
    file:
      default_sampling_probability: 0.5
    http:
      endpoint: {sampling_http}
{t6}    grpc:
      endpoint: {sampling_grpc}
{t6}receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {otlp_grpc}
{t8}      http:
        endpoint: {otlp_http}
{t8}  jaeger:
    protocols:
      grpc:
        endpoint: {jaeger_grpc}
{t8}      thrift_http:
        endpoint: {jaeger_http}
{t8}  zipkin:
    endpoint: {zipkin}
{t4}exporters:
  jaeger_storage_exporter:
    trace_storage: main
",
        health = p.health,
        expvar = p.expvar,
        query = p.query,
        query_grpc = p.query_grpc,
        sampling_http = p.sampling_http,
        sampling_grpc = p.sampling_grpc,
        otlp_grpc = p.otlp_grpc,
        otlp_http = p.otlp_http,
        jaeger_grpc = p.jaeger_grpc,
        jaeger_http = p.jaeger_http,
        zipkin = p.zipkin,
    );
    let file = pki.path("config.yaml");
    std::fs::write(&file, yaml).unwrap();
    let args: Vec<String> = vec![
        "--config".into(),
        file.display().to_string(),
        format!("--admin.http.host-port={}", p.admin_http),
        format!("--admin.http.tls.cert={}", pki.p("server.pem")),
        format!("--admin.http.tls.key={}", pki.p("server-key.pem")),
        format!("--admin.http.tls.client-ca={}", pki.p("ca.pem")),
    ];
    let trusted = client_config(&pki, ClientCert::Trusted, b"http/1.1");
    let health = p.health;
    let rt = tokio::runtime::Handle::current();
    let (child, _log) = tokio::task::spawn_blocking({
        let (trusted, data) = (trusted.clone(), pki.path("data"));
        let dir = pki.dir.path().display().to_string();
        move || {
            let ready = || {
                rt.block_on(https(trusted.clone(), health, "GET", "/status", ""))
                    .is_ok_and(|(s, _)| s == 200)
            };
            start_tls_binary(&data, &args, &[("TLS_DIR", &dir)], ready)
        }
    })
    .await
    .unwrap();
    let _child = Child(child);

    let no_cert = client_config(&pki, ClientCert::None, b"http/1.1");
    let rogue = client_config(&pki, ClientCert::Rogue, b"http/1.1");
    for (what, addr, method, path, body, want) in http_cases(&p) {
        let r = https(trusted.clone(), addr, method, path, &body).await;
        assert!(
            matches!(r, Ok((s, _)) if s == want),
            "{what}: trusted client: {r:?}"
        );
        let r = https(no_cert.clone(), addr, method, path, &body).await;
        assert!(r.is_err(), "{what}: a client without a certificate: {r:?}");
        let r = https(rogue.clone(), addr, method, path, &body).await;
        assert!(r.is_err(), "{what}: a certificate of another CA: {r:?}");
        assert_plain_http_refused(addr, what).await;
    }
    let h2 = |c| client_config(&pki, c, b"h2");
    for (kind, addr) in grpc_cases(&p) {
        let svc = format!("tls-{kind:?}").to_lowercase();
        let r = grpc_try(kind, Some(h2(ClientCert::Trusted)), addr, &svc).await;
        assert!(r.is_ok(), "{kind:?} gRPC, trusted client: {r:?}");
        let r = grpc_try(kind, Some(h2(ClientCert::None)), addr, &svc).await;
        assert!(r.is_err(), "{kind:?} gRPC without a client certificate");
        let r = grpc_try(kind, Some(h2(ClientCert::Rogue)), addr, &svc).await;
        assert!(r.is_err(), "{kind:?} gRPC with another CA's certificate");
        let r = grpc_try(kind, None, addr, &svc).await;
        assert!(r.is_err(), "{kind:?} gRPC in plain text");
    }

    // What went in over mTLS is stored and found over mTLS.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = https(trusted.clone(), p.query, "GET", "/api/services", "")
            .await
            .expect("query over mTLS");
        if ["tls-otlp", "tls-jaeger", "tls-otlp-http", "tls-zipkin"]
            .iter()
            .all(|s| body.contains(&format!("\"{s}\"")))
        {
            break;
        }
        assert!(Instant::now() < deadline, "spans not found: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The metrics port has no TLS setting in Jaeger; it stays plain.
    let r = reqwest::get(format!("http://{metrics}/metrics")).await;
    assert!(r.is_ok_and(|r| r.status().is_success()));
}

/// Jaeger v1's flags (and env vars) turn TLS on, without client certificates, on the
/// servers v1 had TLS flags for; the health port stays plain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_on_every_v1_server_from_flags_and_env() {
    let pki = Pki::new();
    let mut b = JaegerBuilder::new(&pki.path("data"));
    for prefix in [
        "collector.otlp.grpc",
        "collector.otlp.http",
        "collector.grpc",
        "collector.http",
        "collector.zipkin",
        "query.http",
        "admin.http",
    ] {
        b = b
            .arg(format!("--{prefix}.tls.enabled"))
            .arg(format!("--{prefix}.tls.cert={}", pki.p("server.pem")))
            .arg(format!("--{prefix}.tls.key={}", pki.p("server-key.pem")));
    }
    // The query gRPC server through Jaeger v1's env vars.
    let b = b
        .env("QUERY_GRPC_TLS_ENABLED", "true")
        .env("QUERY_GRPC_TLS_CERT", &pki.p("server.pem"))
        .env("QUERY_GRPC_TLS_KEY", &pki.p("server-key.pem"));
    let j = tokio::task::spawn_blocking(move || b.start())
        .await
        .unwrap();
    let p = j.ports.clone();

    let no_cert = client_config(&pki, ClientCert::None, b"http/1.1");
    for (what, addr, method, path, body, want) in http_cases(&p) {
        if [p.sampling_http, p.health, p.expvar].contains(&addr) {
            // No v1 TLS flag: plain text.
            let r = reqwest::get(format!("http://{addr}{path}")).await;
            assert!(r.is_ok_and(|r| r.status().is_success()), "{what}");
            continue;
        }
        let r = https(no_cert.clone(), addr, method, path, &body).await;
        assert!(matches!(r, Ok((s, _)) if s == want), "{what}: {r:?}");
        assert_plain_http_refused(addr, what).await;
    }
    for (kind, addr) in grpc_cases(&p) {
        let cfg = Some(client_config(&pki, ClientCert::None, b"h2"));
        if kind == Grpc::Sampling {
            assert!(grpc_try(kind, None, addr, "s").await.is_ok());
            continue;
        }
        let r = grpc_try(kind, cfg, addr, "tls-flags").await;
        assert!(r.is_ok(), "{kind:?} gRPC over TLS: {r:?}");
        let r = grpc_try(kind, None, addr, "tls-flags").await;
        assert!(r.is_err(), "{kind:?} gRPC in plain text");
    }
    drop(j);
}

/// Starts the binary expecting it to refuse to start; returns its output.
fn refused_start(pki: &Pki, args: &[String]) -> String {
    let health = free_port();
    let out = Command::new(env!("CARGO_BIN_EXE_jaeger"))
        .arg("--data-dir")
        .arg(pki.path("data"))
        .arg(format!("--health.host-port={health}"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run jaeger");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "started despite bad TLS: {text}");
    // Checked before any listener: nothing was opened.
    assert!(!text.contains("listening on"), "{text}");
    text
}

fn flags(prefix: &str, cert: &str, key: &str, ca: Option<&str>) -> Vec<String> {
    let mut v = vec![
        format!("--{prefix}.tls.cert={cert}"),
        format!("--{prefix}.tls.key={key}"),
    ];
    if let Some(ca) = ca {
        v.push(format!("--{prefix}.tls.client-ca={ca}"));
    }
    v
}

#[test]
fn bad_tls_missing_certificate_file() {
    let pki = Pki::new();
    let missing = pki.p("missing.pem");
    let out = refused_start(
        &pki,
        &flags("collector.zipkin", &missing, &pki.p("server-key.pem"), None),
    );
    assert!(
        out.contains(&format!(
            "--collector.zipkin.tls.cert: cannot read {missing}: No such file"
        )),
        "{out}"
    );
}

#[test]
fn bad_tls_missing_key_file() {
    let pki = Pki::new();
    let missing = pki.p("missing-key.pem");
    let out = refused_start(
        &pki,
        &flags("collector.grpc", &pki.p("server.pem"), &missing, None),
    );
    assert!(
        out.contains(&format!("--collector.grpc.tls.key: cannot read {missing}")),
        "{out}"
    );
}

#[test]
fn bad_tls_certificate_is_not_pem() {
    let pki = Pki::new();
    let out = refused_start(
        &pki,
        &flags(
            "query.grpc",
            &pki.p("garbage.pem"),
            &pki.p("server-key.pem"),
            None,
        ),
    );
    assert!(
        out.contains(&format!(
            "--query.grpc.tls.cert: {} is not a PEM certificate file",
            pki.p("garbage.pem")
        )),
        "{out}"
    );
}

#[test]
fn bad_tls_no_certificate_in_file() {
    let pki = Pki::new();
    let out = refused_start(
        &pki,
        &flags(
            "collector.http",
            &pki.p("empty.pem"),
            &pki.p("server-key.pem"),
            None,
        ),
    );
    assert!(
        out.contains(&format!(
            "--collector.http.tls.cert: no PEM certificate (BEGIN CERTIFICATE) in {}",
            pki.p("empty.pem")
        )),
        "{out}"
    );
}

#[test]
fn bad_tls_key_is_not_a_private_key() {
    let pki = Pki::new();
    // A certificate where the key belongs.
    let out = refused_start(
        &pki,
        &flags(
            "admin.http",
            &pki.p("server.pem"),
            &pki.p("server.pem"),
            None,
        ),
    );
    assert!(
        out.contains(&format!(
            "--admin.http.tls.key: no usable PEM private key in {}",
            pki.p("server.pem")
        )),
        "{out}"
    );
}

#[test]
fn bad_tls_key_does_not_match_certificate() {
    let pki = Pki::new();
    let yaml = format!(
        "\
service:
  extensions: [jaeger_storage]
  pipelines:
    traces:
      receivers: [jaeger]
      exporters: [jaeger_storage_exporter]
extensions:
  jaeger_storage:
    backends:
      main:
        memory:
receivers:
  jaeger:
    protocols:
      grpc:
        endpoint: {}
        tls:
          cert_file: {}
          key_file: {}
exporters:
  jaeger_storage_exporter:
    trace_storage: main
",
        free_port(),
        pki.p("server.pem"),
        pki.p("other-key.pem")
    );
    let file = pki.path("mismatch.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = refused_start(
        &pki,
        &[
            "--config".into(),
            file.display().to_string(),
            format!("--metrics.host-port={}", free_port()),
        ],
    );
    assert!(
        out.contains(&format!(
            "receivers.jaeger.protocols.grpc.tls.key_file ({}) and receivers.jaeger.protocols.grpc.tls.cert_file ({}): the private key does not belong to the certificate",
            pki.p("other-key.pem"),
            pki.p("server.pem")
        )),
        "{out}"
    );
}

#[test]
fn bad_tls_missing_client_ca_file() {
    let pki = Pki::new();
    let missing = pki.p("missing-ca.pem");
    let out = refused_start(
        &pki,
        &flags(
            "collector.otlp.http",
            &pki.p("server.pem"),
            &pki.p("server-key.pem"),
            Some(&missing),
        ),
    );
    assert!(
        out.contains(&format!(
            "--collector.otlp.http.tls.client-ca: cannot read {missing}"
        )),
        "{out}"
    );
}

#[test]
fn bad_tls_client_ca_holds_no_certificate() {
    let pki = Pki::new();
    let out = refused_start(
        &pki,
        &flags(
            "query.http",
            &pki.p("server.pem"),
            &pki.p("server-key.pem"),
            Some(&pki.p("empty.pem")),
        ),
    );
    assert!(
        out.contains(&format!(
            "--query.http.tls.client-ca: no PEM certificate (BEGIN CERTIFICATE) in {}",
            pki.p("empty.pem")
        )),
        "{out}"
    );
}

#[test]
fn bad_tls_flags_cert_without_key() {
    let pki = Pki::new();
    let out = refused_start(
        &pki,
        &[format!(
            "--collector.otlp.grpc.tls.cert={}",
            pki.p("server.pem")
        )],
    );
    assert!(
        out.contains("--collector.otlp.grpc.tls.cert needs --collector.otlp.grpc.tls.key"),
        "{out}"
    );
}
