//! The Elasticsearch / OpenSearch client's TLS client certificate (mTLS) and secrets kept
//! in files, against a loopback HTTPS server (rustls) that requires a client certificate
//! signed by its CA and records what each request presented. The test OpenSearch node
//! runs without its security plugin, so it cannot check client certificates itself.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jaeger_storage::StorageError;
use jaeger_storage::elasticsearch::{AuthFile, AuthFileKind, EsAuth, EsClient, EsConfig, Method};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What one request presented.
#[derive(Clone, Debug)]
struct Seen {
    /// DER of the client's leaf certificate.
    peer: Option<Vec<u8>>,
    authorization: Option<String>,
}

struct Pki {
    ca_pem: String,
    server_pem: String,
    server_key_pem: String,
    client_pem: String,
    client_key_pem: String,
    /// A client certificate from a CA the server does not trust.
    stranger_pem: String,
    stranger_key_pem: String,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca = || {
        let key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("CA certificate");
        (cert.pem(), Issuer::new(params, key))
    };
    let leaf = |names: Vec<String>, issuer: &Issuer<'_, KeyPair>| {
        let key = KeyPair::generate().expect("key");
        let c = CertificateParams::new(names)
            .expect("params")
            .signed_by(&key, issuer)
            .expect("signed certificate");
        (c.pem(), key.serialize_pem())
    };
    let (ca_pem, issuer) = ca();
    let (_, other) = ca();
    let (server_pem, server_key_pem) = leaf(vec!["127.0.0.1".into()], &issuer);
    let (client_pem, client_key_pem) = leaf(vec!["jaeger".into()], &issuer);
    let (stranger_pem, stranger_key_pem) = leaf(vec!["jaeger".into()], &other);
    Pki {
        ca_pem,
        server_pem,
        server_key_pem,
        client_pem,
        client_key_pem,
        stranger_pem,
        stranger_key_pem,
    }
}

/// An HTTPS server on 127.0.0.1 that requires a client certificate from the PKI's CA and
/// answers every request like an OpenSearch root endpoint.
async fn server(p: &Pki) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(p.ca_pem.as_bytes()).expect("CA PEM"))
        .expect("CA into roots");
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .expect("client verifier");
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![CertificateDer::from_pem_slice(p.server_pem.as_bytes()).expect("server PEM")],
            PrivateKeyDer::from_pem_slice(p.server_key_pem.as_bytes()).expect("server key"),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!(
        "https://127.0.0.1:{}",
        listener.local_addr().expect("addr").port()
    );
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, log) = (acceptor.clone(), log.clone());
            tokio::spawn(async move {
                // A client without an acceptable certificate fails here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let peer = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.as_ref().to_vec());
                let mut head = Vec::new();
                let mut chunk = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&chunk[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                let authorization = head.lines().find_map(|l| {
                    l.split_once(':')
                        .filter(|(k, _)| k.eq_ignore_ascii_case("authorization"))
                        .map(|(_, v)| v.trim().to_string())
                });
                log.lock().expect("log lock").push(Seen {
                    peer,
                    authorization,
                });
                let body = r#"{"version":{"distribution":"opensearch","number":"2.19.3"},"tagline":"The OpenSearch Project: https://opensearch.org/"}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(resp.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (url, seen)
}

fn der(pem: &str) -> Vec<u8> {
    CertificateDer::from_pem_slice(pem.as_bytes())
        .expect("PEM")
        .as_ref()
        .to_vec()
}

fn last(seen: &Arc<Mutex<Vec<Seen>>>) -> Seen {
    seen.lock()
        .expect("log lock")
        .last()
        .cloned()
        .expect("the server saw a request")
}

async fn root(c: &EsClient) -> Result<serde_json::Value, StorageError> {
    c.json(Method::Get, "/", &[], None).await
}

#[tokio::test]
async fn client_certificate_is_presented_alongside_basic_auth() {
    let p = pki();
    let (url, seen) = server(&p).await;
    let config = EsConfig {
        server_urls: vec![url],
        ca_pem: Some(p.ca_pem.clone().into_bytes()),
        client_cert_pem: Some(p.client_pem.clone().into_bytes()),
        client_key_pem: Some(p.client_key_pem.clone().into_bytes()),
        auth: EsAuth::Basic {
            username: "jaeger".into(),
            password: "s3cret".into(),
        },
        ..Default::default()
    };
    let c = EsClient::new(&config).expect("client");
    let v = root(&c).await.expect("mTLS request succeeds");
    assert_eq!(v["version"]["distribution"], "opensearch");
    let s = last(&seen);
    assert_eq!(
        s.peer,
        Some(der(&p.client_pem)),
        "the configured cert was sent"
    );
    // base64("jaeger:s3cret")
    assert_eq!(
        s.authorization.as_deref(),
        Some("Basic amFlZ2VyOnMzY3JldA==")
    );
}

#[tokio::test]
async fn without_an_accepted_client_certificate_the_server_refuses() {
    let p = pki();
    let (url, _seen) = server(&p).await;
    let plain = EsConfig {
        server_urls: vec![url.clone()],
        ca_pem: Some(p.ca_pem.clone().into_bytes()),
        ..Default::default()
    };
    let e = root(&EsClient::new(&plain).expect("client"))
        .await
        .expect_err("no client certificate");
    assert!(matches!(e, StorageError::Unavailable(_)), "{e:?}");
    let stranger = EsConfig {
        client_cert_pem: Some(p.stranger_pem.clone().into_bytes()),
        client_key_pem: Some(p.stranger_key_pem.clone().into_bytes()),
        ..plain
    };
    let e = root(&EsClient::new(&stranger).expect("client"))
        .await
        .expect_err("certificate of an untrusted CA");
    assert!(matches!(e, StorageError::Unavailable(_)), "{e:?}");
    // A certificate without its key is a configuration error.
    let half = EsConfig {
        server_urls: vec![url],
        client_cert_pem: Some(p.client_pem.clone().into_bytes()),
        ..Default::default()
    };
    assert!(EsClient::new(&half).is_err());
}

#[tokio::test]
async fn token_and_api_key_files_are_reloaded_on_their_interval() {
    let p = pki();
    let (url, seen) = server(&p).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "first-token\n").expect("write token");
    let mtls = EsConfig {
        server_urls: vec![url],
        ca_pem: Some(p.ca_pem.clone().into_bytes()),
        client_cert_pem: Some(p.client_pem.clone().into_bytes()),
        client_key_pem: Some(p.client_key_pem.clone().into_bytes()),
        ..Default::default()
    };
    let reloading = EsClient::new(&EsConfig {
        auth_file: Some(AuthFile {
            kind: AuthFileKind::Bearer,
            path: token.clone(),
            reload_interval: Some(Duration::from_millis(200)),
        }),
        ..mtls.clone()
    })
    .expect("client");
    let once = EsClient::new(&EsConfig {
        auth_file: Some(AuthFile {
            kind: AuthFileKind::Bearer,
            path: token.clone(),
            reload_interval: None,
        }),
        ..mtls.clone()
    })
    .expect("client");
    root(&reloading).await.expect("request");
    assert_eq!(
        last(&seen).authorization.as_deref(),
        Some("Bearer first-token")
    );

    std::fs::write(&token, "second-token\n").expect("rotate token");
    tokio::time::sleep(Duration::from_millis(400)).await;
    root(&reloading).await.expect("request");
    assert_eq!(
        last(&seen).authorization.as_deref(),
        Some("Bearer second-token"),
        "read again after reload_interval"
    );
    root(&once).await.expect("request");
    assert_eq!(
        last(&seen).authorization.as_deref(),
        Some("Bearer first-token"),
        "without reload_interval the file is read once"
    );

    // A file that disappears keeps the last secret.
    std::fs::remove_file(&token).expect("remove token");
    tokio::time::sleep(Duration::from_millis(400)).await;
    root(&reloading).await.expect("request");
    assert_eq!(
        last(&seen).authorization.as_deref(),
        Some("Bearer second-token")
    );

    let key = dir.path().join("api-key");
    std::fs::write(&key, "aWQ6a2V5").expect("write key");
    let api = EsClient::new(&EsConfig {
        auth_file: Some(AuthFile {
            kind: AuthFileKind::ApiKey,
            path: key.clone(),
            reload_interval: Some(Duration::from_millis(200)),
        }),
        ..mtls.clone()
    })
    .expect("client");
    root(&api).await.expect("request");
    assert_eq!(
        last(&seen).authorization.as_deref(),
        Some("ApiKey aWQ6a2V5")
    );
    std::fs::write(&key, "bmV3OmtleQ==").expect("rotate key");
    tokio::time::sleep(Duration::from_millis(400)).await;
    root(&api).await.expect("request");
    assert_eq!(
        last(&seen).authorization.as_deref(),
        Some("ApiKey bmV3OmtleQ==")
    );

    // A missing file at start is a configuration error.
    assert!(
        EsClient::new(&EsConfig {
            auth_file: Some(AuthFile {
                kind: AuthFileKind::Bearer,
                path: dir.path().join("missing"),
                reload_interval: None,
            }),
            ..mtls
        })
        .is_err()
    );
}
