//! TLS (and mTLS) from a `grpc` backend to a remote storage server, on rustls with the
//! ring provider chosen explicitly (as the servers' TLS and the Cassandra client do), so
//! no process-wide default provider is needed and none can conflict.
//!
//! The settings are OTel's `configtls.ClientConfig` keys, the same as the Cassandra
//! client's, so the rustls config is built by [`CassandraTls::client_config`]; this
//! module adds ALPN `h2` (gRPC) and a connector that tonic uses for every connection.

use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::cassandra::CassandraTls;
use crate::{Result, StorageError};

/// The TLS settings of one connection (`tls` or `writer.tls` of the backend).
pub type ClientTlsSettings = CassandraTls;

/// A ready client TLS setup: the rustls config (with ALPN `h2`) and the name the server
/// certificate must carry (`server_name_override`, else the endpoint's host).
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<ClientConfig>,
    server_name: Option<String>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// Whether a client certificate is configured (mTLS).
    pub fn has_client_cert(&self) -> bool {
        self.config.client_auth_cert_resolver.has_certs()
    }

    /// Reads the CA, certificate and key files (blocking: call it off the async
    /// workers) and builds the config. `what` names the setting in messages, e.g.
    /// `extensions.jaeger_storage.backends.remote.grpc.tls`.
    pub fn load(settings: &ClientTlsSettings, what: &str) -> Result<Self> {
        let config = settings.client_config().map_err(|e| {
            // The builder speaks of "cassandra tls"; name the setting the user wrote.
            let msg = e.to_string();
            let msg = msg.strip_prefix("cassandra tls: ").unwrap_or(&msg);
            let msg = msg.replace("the nodes", "the remote storage server");
            StorageError::InvalidQuery(format!("{what}: {msg}"))
        })?;
        let mut config = Arc::unwrap_or_clone(config);
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(Self {
            config: Arc::new(config),
            server_name: settings
                .server_name_override
                .clone()
                .filter(|s| !s.is_empty()),
        })
    }

    /// A lazy channel to `endpoint` (an `http://host:port` URI) whose connections are
    /// TLS; connect and handshake are bounded by `timeout`.
    pub(crate) fn channel(&self, endpoint: Endpoint, timeout: Duration) -> Result<Channel> {
        let uri = endpoint.uri().clone();
        let host = uri
            .host()
            .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
            .ok_or_else(|| StorageError::InvalidQuery(format!("{uri}: no host")))?;
        let name = self.server_name.clone().unwrap_or_else(|| host.clone());
        let name = ServerName::try_from(name.clone()).map_err(|e| {
            StorageError::InvalidQuery(format!("TLS server name {name:?} is not valid: {e}"))
        })?;
        let connector = TlsConnector::from(self.config.clone());
        let connect = tower::service_fn(move |uri: Uri| {
            let (connector, name) = (connector.clone(), name.clone());
            async move {
                let port = uri.port_u16().unwrap_or(443);
                let host = uri
                    .host()
                    .unwrap_or("localhost")
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_string();
                let stream = tokio::time::timeout(timeout, handshake(connector, name, &host, port))
                    .await
                    .map_err(|_| {
                        std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!("TLS connection to {host}:{port} timed out after {timeout:?}"),
                        )
                    })??;
                Ok::<_, std::io::Error>(TokioIo::new(stream))
            }
        });
        Ok(endpoint.connect_with_connector_lazy(connect))
    }
}

async fn handshake(
    connector: TlsConnector,
    name: ServerName<'static>,
    host: &str,
    port: u16,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    connector.connect(name, tcp).await.map_err(|e| {
        // rustls' reason (UnknownIssuer, NotValidForName...) is what the user needs.
        std::io::Error::new(
            e.kind(),
            format!("TLS handshake with remote storage {host}:{port} failed: {e}"),
        )
    })
}
