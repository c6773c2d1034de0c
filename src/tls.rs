//! TLS (rustls, ring) on server endpoints: a listener that hands axum finished TLS
//! streams, so the OTLP HTTP, OTLP gRPC and query HTTP servers run unchanged on top.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jaeger_config::TlsFiles;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// A client that has not finished its handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the certificate chain and key (blocking file reads, off the runtime) and builds
/// a server config offering HTTP/2 and HTTP/1.1. Errors name the file, never its content.
pub async fn server_config(files: &TlsFiles) -> anyhow::Result<Arc<ServerConfig>> {
    let files = files.clone();
    tokio::task::spawn_blocking(move || -> anyhow::Result<Arc<ServerConfig>> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert_file)
            .and_then(|it| it.collect::<Result<_, _>>())
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .with_context(|| format!("reading certificates from {}", files.cert_file.display()))?;
        anyhow::ensure!(
            !certs.is_empty(),
            "no certificate in {}",
            files.cert_file.display()
        );
        let key = PrivateKeyDer::from_pem_file(&files.key_file)
            .map_err(|e| anyhow::anyhow!("{e:?}"))
            .with_context(|| {
                format!("reading the private key from {}", files.key_file.display())
            })?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .context("TLS protocol versions")?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .with_context(|| {
                format!(
                    "{} does not match {}",
                    files.key_file.display(),
                    files.cert_file.display()
                )
            })?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    })
    .await
    .context("loading TLS files panicked")?
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

/// Loads the TLS files (so a bad file stops start-up) and returns the task serving
/// `router` over TLS on `listener` until `stopped` resolves.
pub async fn serve_router(
    listener: TcpListener,
    files: &TlsFiles,
    router: axum::Router,
    stopped: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Server> {
    let config = server_config(files).await?;
    let tls = TlsListener::new(listener, config)?;
    Ok(Box::pin(async move {
        axum::serve(tls, router)
            .with_graceful_shutdown(stopped)
            .await
            .context("HTTPS server failed")
    }))
}
