//! TLS to the cluster (Jaeger's `connection.tls`, OTel configtls keys) on rustls.
//!
//! The driver verifies the node's certificate against its IP address (it connects by
//! address); `server_name_override` verifies against that name instead, as gocql does.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ClientConfig, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::{Result, StorageError};

/// Debian's (and most distributions') bundle of the system's trusted CAs.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `connection.tls` when TLS is on (`insecure: false`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CassandraTls {
    /// CA certificates (PEM) that sign the nodes' certificates.
    pub ca_file: Option<PathBuf>,
    pub ca_pem: Option<String>,
    /// Also trust the system's CAs (always, when no CA is given).
    pub include_system_ca_certs_pool: bool,
    /// Client certificate and key (PEM) for clusters with `require_client_auth`.
    pub cert_file: Option<PathBuf>,
    pub cert_pem: Option<String>,
    pub key_file: Option<PathBuf>,
    pub key_pem: Option<String>,
    /// Accept any node certificate (encryption without authentication).
    pub insecure_skip_verify: bool,
    /// Verify the nodes' certificates against this name instead of their address.
    pub server_name_override: Option<String>,
}

fn tls_error(what: impl std::fmt::Display) -> StorageError {
    StorageError::InvalidQuery(format!("cassandra tls: {what}"))
}

fn pem_certs(
    file: Option<&PathBuf>,
    inline: Option<&str>,
    what: &str,
) -> Result<Vec<CertificateDer<'static>>> {
    let mut out = Vec::new();
    if let Some(f) = file {
        let it = CertificateDer::pem_file_iter(f)
            .map_err(|e| tls_error(format!("reading {what} {}: {e:?}", f.display())))?;
        for c in it {
            out.push(c.map_err(|e| tls_error(format!("{what} {}: {e:?}", f.display())))?);
        }
        if out.is_empty() {
            return Err(tls_error(format!("no certificate in {}", f.display())));
        }
    }
    if let Some(p) = inline {
        for c in CertificateDer::pem_slice_iter(p.as_bytes()) {
            out.push(c.map_err(|e| tls_error(format!("inline {what}: {e:?}")))?);
        }
    }
    Ok(out)
}

impl CassandraTls {
    /// The rustls client config (reads files: call it off the async runtime).
    pub fn client_config(&self) -> Result<Arc<ClientConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(tls_error)?;
        let verifier: Arc<dyn ServerCertVerifier> = if self.insecure_skip_verify {
            Arc::new(AcceptAny(provider.clone()))
        } else {
            let mut roots = RootCertStore::empty();
            let cas = pem_certs(self.ca_file.as_ref(), self.ca_pem.as_deref(), "CA")?;
            if cas.is_empty() || self.include_system_ca_certs_pool {
                let system = PathBuf::from(SYSTEM_CA_BUNDLE);
                if system.exists() {
                    let (_added, _ignored) =
                        roots.add_parsable_certificates(pem_certs(Some(&system), None, "CA")?);
                }
            }
            for c in cas {
                roots
                    .add(c)
                    .map_err(|e| tls_error(format!("CA certificate: {e}")))?;
            }
            if roots.is_empty() {
                return Err(tls_error(
                    "no CA to verify the nodes with: set tls.ca_file (or tls.insecure: true for \
                     a plain-text connection)",
                ));
            }
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(tls_error)?;
            match &self.server_name_override {
                Some(name) if !name.is_empty() => Arc::new(OverrideName {
                    inner: webpki,
                    name: ServerName::try_from(name.clone())
                        .map_err(|e| tls_error(format!("server_name_override {name:?}: {e}")))?,
                }),
                _ => webpki,
            }
        };
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let certs = pem_certs(
            self.cert_file.as_ref(),
            self.cert_pem.as_deref(),
            "certificate",
        )?;
        let key = match (&self.key_file, &self.key_pem) {
            (Some(f), _) => Some(
                PrivateKeyDer::from_pem_file(f)
                    .map_err(|e| tls_error(format!("key {}: {e:?}", f.display())))?,
            ),
            (None, Some(p)) => Some(
                PrivateKeyDer::from_pem_slice(p.as_bytes())
                    .map_err(|e| tls_error(format!("inline key: {e:?}")))?,
            ),
            (None, None) => None,
        };
        let config = match (certs.is_empty(), key) {
            (true, None) => builder.with_no_client_auth(),
            (false, Some(key)) => builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| tls_error(format!("client certificate and key: {e}")))?,
            _ => {
                return Err(tls_error("cert_file and key_file must be given together"));
            }
        };
        Ok(Arc::new(config))
    }
}

/// `insecure_skip_verify`: signatures are still checked, the chain and name are not.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Verifies the chain as usual but against a fixed name.
#[derive(Debug)]
struct OverrideName {
    inner: Arc<WebPkiServerVerifier>,
    name: ServerName<'static>,
}

impl ServerCertVerifier for OverrideName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_problem() {
        let no_ca = CassandraTls {
            ca_file: Some("/nonexistent/ca.pem".into()),
            ..Default::default()
        };
        let e = no_ca.client_config().unwrap_err().to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        let half = CassandraTls {
            insecure_skip_verify: true,
            cert_file: None,
            key_pem: Some("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n".into()),
            ..Default::default()
        };
        assert!(half.client_config().is_err());
        let skip = CassandraTls {
            insecure_skip_verify: true,
            ..Default::default()
        };
        assert!(skip.client_config().is_ok());
    }
}
