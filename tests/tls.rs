//! End-to-end: TLS (rustls) on the OTLP gRPC/HTTP receivers and the query HTTP server,
//! as a Jaeger v2 config's `tls: {cert_file, key_file}` asks, with a self-signed
//! certificate made by the test.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{JaegerBuilder, now_nanos};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

fn connector(cert_pem: &str, alpn: &[&[u8]]) -> TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(cert_pem.as_bytes()).expect("test cert parses"))
        .expect("test cert is a valid root");
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    TlsConnector::from(Arc::new(cfg))
}

/// One HTTP/1.1 request over TLS; returns (status, body).
async fn https(
    cert_pem: &str,
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &str,
) -> (u16, String) {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    let name = ServerName::try_from("localhost").expect("server name");
    let mut tls = connector(cert_pem, &[b"http/1.1"])
        .connect(name, tcp)
        .await
        .expect("TLS handshake with the test certificate");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    tls.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    // A peer that closes without close_notify still gave us the whole response.
    let _ = tls.read_to_end(&mut buf).await;
    let text = String::from_utf8_lossy(&buf).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_and_query_endpoints_speak_tls() {
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("self-signed certificate");
    let cert_pem = key.cert.pem();
    let (cert_file, key_file) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_file, &cert_pem).unwrap();
    std::fs::write(&key_file, key.signing_key.serialize_pem()).unwrap();
    let tls = format!(
        "        tls:\n          cert_file: {}\n          key_file: {}\n",
        cert_file.display(),
        key_file.display()
    );
    let q = format!(
        "      tls:\n        cert_file: {}\n        key_file: {}",
        cert_file.display(),
        key_file.display()
    );
    let yaml = format!(
        "\
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
extensions:
  healthcheckv2:
    use_v2: true
  jaeger_storage:
    backends:
      main:
        memory:
  jaeger_query:
    storage:
      traces: main
    http:
{q}
receivers:
  otlp:
    protocols:
      grpc:
{tls}      http:
{tls}exporters:
  jaeger_storage_exporter:
    trace_storage: main
"
    );
    let file = dir.path().join("tls.yaml");
    std::fs::write(&file, yaml).unwrap();
    let j = tokio::task::spawn_blocking({
        let (data, file) = (dir.path().join("data"), file.clone());
        move || {
            JaegerBuilder::new(&data)
                .arg("--config")
                .arg(file.to_string_lossy())
                .start()
        }
    })
    .await
    .unwrap();
    let p = j.ports.clone();

    // Query API over HTTPS.
    let (status, body) = https(&cert_pem, p.query, "GET", "/api/services", "").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"data\":[]"), "{body}");

    // OTLP HTTP over HTTPS, then the span is found over HTTPS.
    let start = now_nanos() - 1_000_000_000;
    let span = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "tls-svc"}}]},
        "scopeSpans": [{"spans": [{"traceId": "000000000000000000000000000000c1", "spanId": "00000000000000c1",
          "name": "op", "startTimeUnixNano": start.to_string(), "endTimeUnixNano": (start + 1000).to_string()}]}]
    }]});
    let (status, body) = https(
        &cert_pem,
        p.otlp_http,
        "POST",
        "/v1/traces",
        &span.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = https(&cert_pem, p.query, "GET", "/api/services", "").await;
        if body.contains("tls-svc") {
            break;
        }
        assert!(Instant::now() < deadline, "span not found: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // OTLP gRPC: a TLS handshake that negotiates HTTP/2.
    let tcp = TcpStream::connect(p.otlp_grpc).await.unwrap();
    let stream = connector(&cert_pem, &[b"h2"])
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake on the OTLP gRPC port");
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));

    // Plain text on a TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://{}/api/services", p.query))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        plain.is_err() || !plain.as_ref().unwrap().status().is_success(),
        "{plain:?}"
    );
    // The health check stays plain HTTP.
    drop(j);
}
