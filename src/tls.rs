//! TLS (rustls, ring) on every server endpoint: one builder turns a [`TlsFiles`] into a
//! rustls server config (mTLS when it names a client CA), and one listener hands axum
//! finished TLS streams, so the HTTP servers and the tonic gRPC services (as an axum
//! router) all run unchanged on top. The Jaeger v1 TLS flags are defined here too.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jaeger_config::{Config, TlsFiles};
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Which file of a TLS setting a message is about.
#[derive(Clone, Copy)]
enum Field {
    Cert,
    Key,
    ClientCa,
}

/// The name the user wrote for one file of a TLS setting: `<yaml path>.cert_file`, or
/// `--<flag prefix>.cert` for a Jaeger v1 flag.
fn key_name(base: &str, field: Field) -> String {
    let suffix = match (base.starts_with("--"), field) {
        (false, Field::Cert) => "cert_file",
        (false, Field::Key) => "key_file",
        (false, Field::ClientCa) => "client_ca_file",
        (true, Field::Cert) => "cert",
        (true, Field::Key) => "key",
        (true, Field::ClientCa) => "client-ca",
    };
    format!("{base}.{suffix}")
}

/// Reads one PEM file; the message names the key and the file, never the content.
fn read(base: &str, field: Field, path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        anyhow::anyhow!(
            "{}: cannot read {}: {e}",
            key_name(base, field),
            path.display()
        )
    })
}

fn pem_problem(e: &rustls::pki_types::pem::Error) -> String {
    use rustls::pki_types::pem::Error as E;
    match e {
        E::MissingSectionEnd { .. } => "a PEM section has no END line".into(),
        E::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".into(),
        E::Base64Decode(_) => "a PEM section is not valid base64".into(),
        E::NoItemsFound => "it holds no PEM item of the expected kind".into(),
        other => format!("it is not valid PEM ({other})"),
    }
}

fn certificates(
    base: &str,
    field: Field,
    path: &Path,
) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let bytes = read(base, field, path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: {} is not a PEM certificate file: {}",
                key_name(base, field),
                path.display(),
                pem_problem(&e)
            )
        })?;
    anyhow::ensure!(
        !certs.is_empty(),
        "{}: no PEM certificate (BEGIN CERTIFICATE) in {}",
        key_name(base, field),
        path.display()
    );
    Ok(certs)
}

/// Reads and checks the files of one server's TLS setting and builds its rustls config:
/// HTTP/2 and HTTP/1.1 offered, client certificates required and verified against
/// `client_ca_file` when it is set. Blocking file reads: call it off the async workers
/// (see [`ServerTls::load`]). `fallback_key` names the setting when `files.key` is empty.
pub fn build_server_config(
    files: &TlsFiles,
    fallback_key: &str,
) -> anyhow::Result<Arc<ServerConfig>> {
    let base = if files.key.is_empty() {
        fallback_key
    } else {
        files.key.as_str()
    };
    let certs = certificates(base, Field::Cert, &files.cert_file)?;
    let key_bytes = read(base, Field::Key, &files.key_file)?;
    let key = PrivateKeyDer::from_pem_slice(&key_bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: no usable PEM private key in {}: {}",
            key_name(base, Field::Key),
            files.key_file.display(),
            pem_problem(&e)
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match &files.client_ca_file {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(base, Field::ClientCa, ca)? {
                roots.add(cert).map_err(|e| {
                    anyhow::anyhow!(
                        "{}: a certificate in {} is not a usable CA certificate: {e}",
                        key_name(base, Field::ClientCa),
                        ca.display()
                    )
                })?;
            }
            let verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "{}: cannot verify clients with {}: {e}",
                            key_name(base, Field::ClientCa),
                            ca.display()
                        )
                    })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        let why = match e {
            rustls::Error::InconsistentKeys(_) => {
                "the private key does not belong to the certificate".to_string()
            }
            other => other.to_string(),
        };
        anyhow::anyhow!(
            "{} ({}) and {} ({}): {why}",
            key_name(base, Field::Key),
            files.key_file.display(),
            key_name(base, Field::Cert),
            files.cert_file.display()
        )
    })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The loaded TLS config of every server endpoint that runs with TLS; `None` is plain
/// text. Loaded once, before any port is opened, so a bad file stops start-up.
#[derive(Clone, Default)]
pub struct ServerTls {
    pub otlp_grpc: Option<Arc<ServerConfig>>,
    pub otlp_http: Option<Arc<ServerConfig>>,
    pub jaeger_grpc: Option<Arc<ServerConfig>>,
    pub jaeger_thrift_http: Option<Arc<ServerConfig>>,
    pub zipkin: Option<Arc<ServerConfig>>,
    pub sampling_http: Option<Arc<ServerConfig>>,
    pub sampling_grpc: Option<Arc<ServerConfig>>,
    pub query_http: Option<Arc<ServerConfig>>,
    pub query_grpc: Option<Arc<ServerConfig>>,
    pub health: Option<Arc<ServerConfig>>,
    pub expvar: Option<Arc<ServerConfig>>,
    pub admin_http: Option<Arc<ServerConfig>>,
    pub remote_storage: Option<Arc<ServerConfig>>,
}

impl ServerTls {
    /// Loads the TLS files of the endpoints that will listen (file reads off the async
    /// workers). A listener that is switched off does not need its files.
    pub async fn load(config: &Config) -> anyhow::Result<Self> {
        let c = config.clone();
        tokio::task::spawn_blocking(move || Self::load_blocking(&c))
            .await
            .context("loading TLS files panicked")?
    }

    fn load_blocking(c: &Config) -> anyhow::Result<Self> {
        let one = |what: &str,
                   on: bool,
                   files: &Option<TlsFiles>,
                   fallback: &str|
         -> anyhow::Result<Option<Arc<ServerConfig>>> {
            let Some(f) = files.as_ref().filter(|_| on) else {
                return Ok(None);
            };
            let config = build_server_config(f, fallback)?;
            tracing::info!(
                "{what}: TLS{}",
                if f.client_ca_file.is_some() {
                    ", client certificates required"
                } else {
                    ""
                }
            );
            Ok(Some(config))
        };
        let q = c.query.enabled;
        Ok(Self {
            otlp_grpc: one(
                "OTLP gRPC receiver",
                c.otlp.grpc_endpoint.is_some(),
                &c.otlp.grpc_tls,
                "otlp.grpc_tls",
            )?,
            otlp_http: one(
                "OTLP HTTP receiver",
                c.otlp.http_endpoint.is_some(),
                &c.otlp.http_tls,
                "otlp.http_tls",
            )?,
            jaeger_grpc: one(
                "Jaeger gRPC receiver",
                c.jaeger.grpc_endpoint.is_some(),
                &c.jaeger.grpc_tls,
                "jaeger.grpc_tls",
            )?,
            jaeger_thrift_http: one(
                "Jaeger Thrift HTTP receiver",
                c.jaeger.thrift_http_endpoint.is_some(),
                &c.jaeger.thrift_http_tls,
                "jaeger.thrift_http_tls",
            )?,
            zipkin: one(
                "Zipkin receiver",
                c.zipkin.endpoint.is_some(),
                &c.zipkin.tls,
                "zipkin.tls",
            )?,
            sampling_http: one(
                "remote sampling HTTP",
                c.sampling.http_endpoint.is_some(),
                &c.sampling.http_tls,
                "sampling.http_tls",
            )?,
            sampling_grpc: one(
                "remote sampling gRPC",
                c.sampling.grpc_endpoint.is_some(),
                &c.sampling.grpc_tls,
                "sampling.grpc_tls",
            )?,
            query_http: one("query HTTP server", q, &c.query.http_tls, "query.http_tls")?,
            query_grpc: one(
                "query gRPC server",
                q && c.query.grpc_endpoint.is_some(),
                &c.query.grpc_tls,
                "query.grpc_tls",
            )?,
            health: one(
                "health check",
                c.admin.health_endpoint.is_some(),
                &c.admin.health_tls,
                "admin.health_tls",
            )?,
            expvar: one(
                "expvar",
                c.admin.expvar_endpoint.is_some(),
                &c.admin.expvar_tls,
                "admin.expvar_tls",
            )?,
            admin_http: one(
                "admin (v1 health and metrics)",
                c.admin.http_endpoint.is_some(),
                &c.admin.http_tls,
                "admin.http_tls",
            )?,
            remote_storage: one(
                "remote storage gRPC",
                c.remote_storage.endpoint.is_some(),
                &c.remote_storage.tls,
                "extensions.remote_storage.tls",
            )?,
        })
    }
}

/// Accepts TCP connections and completes TLS handshakes in their own tasks, so a slow
/// client never holds up the others.
pub struct TlsListener {
    rx: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (tx, rx) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    // The server stopped: release the port.
                    _ = tx.closed() => return,
                };
                let (tcp, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: back off briefly.
                        tracing::debug!("TLS listener accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = tcp.set_nodelay(true);
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(stream)) => {
                            let _ = tx.send((stream, peer)).await;
                        }
                        // Plain-text clients and clients without an accepted
                        // certificate end here.
                        Ok(Err(e)) => tracing::debug!("TLS handshake with {peer}: {e}"),
                        Err(_) => tracing::debug!("TLS handshake with {peer} timed out"),
                    }
                });
            }
        });
        Ok(Self { rx, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(x) => x,
            // The accept task only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// A server task.
pub type Server = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// Serves `router` on `listener` until `stopped` resolves: over TLS with `tls`, plain
/// text without.
pub fn serve_router(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    router: axum::Router,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> Server {
    Box::pin(async move {
        match tls {
            None => axum::serve(listener, router)
                .with_graceful_shutdown(stopped)
                .await
                .context("HTTP server failed"),
            Some(config) => {
                let tls = TlsListener::new(listener, config)?;
                axum::serve(tls, router)
                    .with_graceful_shutdown(stopped)
                    .await
                    .context("HTTPS server failed")
            }
        }
    })
}

/// Serves gRPC `routes` over TLS: gRPC is HTTP/2, which axum serves on the TLS listener
/// once ALPN picked `h2`.
pub fn serve_grpc(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    routes: tonic::service::Routes,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> Server {
    serve_router(listener, Some(tls), routes.into_axum_router(), stopped)
}

/// Jaeger v1's `--<server>.tls.{enabled,cert,key,client-ca}` flags (and their env vars,
/// `COLLECTOR_GRPC_TLS_CERT` and so on), one set per server.
struct FlagSet {
    prefix: &'static str,
    enabled: &'static str,
    cert: &'static str,
    key: &'static str,
    client_ca: &'static str,
    env: [&'static str; 4],
    slot: fn(&mut Config) -> &mut Option<TlsFiles>,
}

macro_rules! flag_set {
    ($prefix:literal, $env:literal, |$c:ident| $slot:expr) => {
        FlagSet {
            prefix: concat!("--", $prefix, ".tls"),
            enabled: concat!($prefix, ".tls.enabled"),
            cert: concat!($prefix, ".tls.cert"),
            key: concat!($prefix, ".tls.key"),
            client_ca: concat!($prefix, ".tls.client-ca"),
            env: [
                concat!($env, "_TLS_ENABLED"),
                concat!($env, "_TLS_CERT"),
                concat!($env, "_TLS_KEY"),
                concat!($env, "_TLS_CLIENT_CA"),
            ],
            slot: |$c| &mut $slot,
        }
    };
}

const FLAG_SETS: &[FlagSet] = &[
    flag_set!("collector.otlp.grpc", "COLLECTOR_OTLP_GRPC", |c| c
        .otlp
        .grpc_tls),
    flag_set!("collector.otlp.http", "COLLECTOR_OTLP_HTTP", |c| c
        .otlp
        .http_tls),
    flag_set!("collector.grpc", "COLLECTOR_GRPC", |c| c.jaeger.grpc_tls),
    flag_set!("collector.http", "COLLECTOR_HTTP", |c| c
        .jaeger
        .thrift_http_tls),
    flag_set!("collector.zipkin", "COLLECTOR_ZIPKIN", |c| c.zipkin.tls),
    flag_set!("query.http", "QUERY_HTTP", |c| c.query.http_tls),
    flag_set!("query.grpc", "QUERY_GRPC", |c| c.query.grpc_tls),
    flag_set!("admin.http", "ADMIN_HTTP", |c| c.admin.http_tls),
    // jaeger-remote-storage's server.
    flag_set!("grpc", "GRPC", |c| c.remote_storage.tls),
];

/// What one set of flags said.
#[derive(Clone, Debug, Default, PartialEq)]
struct FlagValues {
    enabled: Option<bool>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    client_ca: Option<PathBuf>,
}

/// The parsed Jaeger v1 TLS flags, applied over the config file by [`TlsFlags::apply`].
#[derive(Clone, Debug, Default)]
pub struct TlsFlags {
    sets: Vec<FlagValues>,
}

impl TlsFlags {
    /// `.tls.enabled=false` switches TLS off; a certificate and key switch it on (with
    /// mTLS when `.tls.client-ca` is given); otherwise the file's setting stays.
    pub fn apply(&self, config: &mut Config) {
        for (set, v) in FLAG_SETS.iter().zip(&self.sets) {
            let slot = (set.slot)(config);
            if v.enabled == Some(false) {
                *slot = None;
            } else if let (Some(cert_file), Some(key_file)) = (&v.cert, &v.key) {
                *slot = Some(TlsFiles {
                    cert_file: cert_file.clone(),
                    key_file: key_file.clone(),
                    client_ca_file: v.client_ca.clone(),
                    key: set.prefix.to_string(),
                });
            }
        }
    }
}

impl clap::FromArgMatches for TlsFlags {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let mut sets = Vec::with_capacity(FLAG_SETS.len());
        for set in FLAG_SETS {
            let path = |id: &str| m.get_one::<PathBuf>(id).cloned();
            let v = FlagValues {
                enabled: m.get_one::<bool>(set.enabled).copied(),
                cert: path(set.cert),
                key: path(set.key),
                client_ca: path(set.client_ca),
            };
            let p = set.prefix;
            let missing = match (&v.cert, &v.key) {
                (Some(_), None) => Some(format!("--{} needs --{} as well", set.cert, set.key)),
                (None, Some(_)) => Some(format!("--{} needs --{} as well", set.key, set.cert)),
                (None, None) if v.client_ca.is_some() && v.enabled != Some(false) => Some(format!(
                    "--{} needs --{} and --{}",
                    set.client_ca, set.cert, set.key
                )),
                (None, None) if v.enabled == Some(true) => Some(format!(
                    "{p}.enabled=true needs --{} and --{}",
                    set.cert, set.key
                )),
                _ => None,
            };
            if let Some(m) = missing {
                return Err(clap::Error::raw(
                    clap::error::ErrorKind::MissingRequiredArgument,
                    format!("{m}\n"),
                ));
            }
            sets.push(v);
        }
        Ok(Self { sets })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for TlsFlags {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        use clap::Arg;
        for set in FLAG_SETS {
            let [e_enabled, e_cert, e_key, e_ca] = set.env;
            let file = |id: &'static str, env: &'static str, help: &'static str| {
                Arg::new(id)
                    .long(id)
                    .env(env)
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .global(true)
                    .help(help)
            };
            cmd = cmd
                .arg(
                    Arg::new(set.enabled)
                        .long(set.enabled)
                        .env(e_enabled)
                        .value_name("BOOL")
                        .num_args(0..=1)
                        .require_equals(true)
                        .default_missing_value("true")
                        .value_parser(clap::value_parser!(bool))
                        .global(true)
                        .help("TLS on this server (false switches it off whatever else says)"),
                )
                .arg(file(
                    set.cert,
                    e_cert,
                    "PEM certificate chain of the server",
                ))
                .arg(file(set.key, e_key, "PEM private key of the certificate"))
                .arg(file(
                    set.client_ca,
                    e_ca,
                    "PEM CA certificates; clients must present a certificate they signed (mTLS)",
                ));
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{FromArgMatches, Parser};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        tls: TlsFlags,
    }

    fn parse(args: &[&str]) -> Result<TlsFlags, clap::Error> {
        let m = <Cli as clap::CommandFactory>::command()
            .try_get_matches_from(std::iter::once("jaeger").chain(args.iter().copied()))?;
        Cli::from_arg_matches(&m).map(|c| c.tls)
    }

    #[test]
    fn every_v1_tls_flag_reaches_its_server() {
        let mut c = Config::default();
        let mut args = Vec::new();
        for set in FLAG_SETS {
            args.push(format!("--{}=/{}.crt", set.cert, set.prefix));
            args.push(format!("--{}=/{}.key", set.key, set.prefix));
            args.push(format!("--{}=/ca.pem", set.client_ca));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        parse(&args).expect("parses").apply(&mut c);
        for set in FLAG_SETS {
            let f = (set.slot)(&mut c).clone().expect("TLS set");
            assert_eq!(f.cert_file, PathBuf::from(format!("/{}.crt", set.prefix)));
            assert_eq!(f.key_file, PathBuf::from(format!("/{}.key", set.prefix)));
            assert_eq!(f.client_ca_file, Some(PathBuf::from("/ca.pem")));
            assert_eq!(f.key, set.prefix);
        }
        // enabled=false wins over a file's setting; a bare --x.tls.enabled means true.
        parse(&["--collector.grpc.tls.enabled=false"])
            .unwrap()
            .apply(&mut c);
        assert_eq!(c.jaeger.grpc_tls, None);
        assert!(c.query.grpc_tls.is_some());
        let e = parse(&["--query.grpc.tls.enabled"]).expect_err("needs files");
        assert!(
            e.to_string()
                .contains("--query.grpc.tls.enabled=true needs --query.grpc.tls.cert"),
            "{e}"
        );
        let e = parse(&["--admin.http.tls.cert=/c"]).expect_err("needs key");
        assert!(e.to_string().contains("--admin.http.tls.key"), "{e}");
        let e = parse(&["--collector.zipkin.tls.client-ca=/ca"]).expect_err("needs cert");
        assert!(e.to_string().contains("--collector.zipkin.tls.cert"), "{e}");
    }

    #[test]
    fn error_messages_name_the_key_the_user_wrote() {
        assert_eq!(
            key_name("receivers.jaeger.protocols.grpc.tls", Field::ClientCa),
            "receivers.jaeger.protocols.grpc.tls.client_ca_file"
        );
        assert_eq!(
            key_name("--collector.grpc.tls", Field::ClientCa),
            "--collector.grpc.tls.client-ca"
        );
        let e = build_server_config(
            &TlsFiles {
                cert_file: "/nonexistent/cert.pem".into(),
                key_file: "/nonexistent/key.pem".into(),
                ..Default::default()
            },
            "zipkin.tls",
        )
        .expect_err("missing file");
        assert!(
            e.to_string()
                .starts_with("zipkin.tls.cert_file: cannot read /nonexistent/cert.pem"),
            "{e}"
        );
    }
}
