//! Optional TLS for agent ↔ server (rustls, ring provider).
//!
//! The server presents a certificate chain and key (PEM files); the agent
//! trusts the CA or self-signed certificate in a PEM file and checks the
//! server's name against it. Without TLS the protocol is plain TCP (the
//! token still authenticates, but travels in clear: use TLS off loopback).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::sink::{CaptureError, Result};

fn tls_err(path: &Path, detail: impl std::fmt::Display) -> CaptureError {
    CaptureError::Protocol {
        peer: path.display().to_string(),
        detail: format!("TLS: {detail}"),
    }
}

fn certs(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = std::fs::read(path).map_err(CaptureError::io(path, "read certificate"))?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| tls_err(path, format!("bad certificate PEM: {e}")))?;
    if certs.is_empty() {
        return Err(tls_err(path, "no CERTIFICATE in the file"));
    }
    Ok(certs)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Server side: certificate chain and private key from PEM files.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>> {
    let chain = certs(cert)?;
    let key_pem = std::fs::read(key).map_err(CaptureError::io(key, "read private key"))?;
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| tls_err(key, format!("bad private key PEM: {e}")))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(cert, e))?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)
        .map_err(|e| tls_err(cert, e))?;
    Ok(Arc::new(config))
}

/// Agent side: trust the certificates in `ca` (a CA or the server's
/// self-signed certificate).
pub fn client_config(ca: &Path) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in certs(ca)? {
        roots.add(c).map_err(|e| tls_err(ca, e))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(ca, e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name to check the server's certificate against: the host part of
/// `host:port`.
pub fn server_name(addr: &str) -> Result<ServerName<'static>> {
    let host = addr
        .rsplit_once(':')
        .map_or(addr, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    ServerName::try_from(host.to_owned()).map_err(|e| CaptureError::Protocol {
        peer: addr.to_owned(),
        detail: format!("TLS: {host:?} is not a valid server name: {e}"),
    })
}
