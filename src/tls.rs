//! TLS identities from PEM files, for rustls with its aws-lc-rs provider: the HTTPS of the pages
//! and the API, and SIP over TLS. TLS 1.2 and 1.3 only (rustls has nothing older).

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::crypto::{CryptoProvider, aws_lc_rs};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

/// The cryptography of every TLS session of the engine.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(aws_lc_rs::default_provider())
}

/// Make [`provider`] the process's default, for the TLS clients that libraries build themselves
/// (rsipstack's outgoing SIP over TLS): with two providers compiled in, rustls picks none.
pub fn install_default_provider() {
    let _ = aws_lc_rs::default_provider().install_default();
}

/// Which of the PEM files a [`server_config`] error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PemFile {
    Certificate,
    Key,
    ClientAuthorities,
}

/// The server side of TLS from a PEM certificate chain and its PEM private key. With
/// `client_authorities` (PEM), a client that presents a certificate must present one they sign;
/// clients presenting none are let in (phones rarely have one). The error says which file and
/// what is wrong with it.
pub fn server_config(
    certificate: &Path,
    key: &Path,
    client_authorities: Option<&Path>,
) -> Result<ServerConfig, (PemFile, String)> {
    let chain = certificates(certificate, "TLS certificate").map_err(|e| (PemFile::Certificate, e))?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| (PemFile::Key, format!("cannot read the TLS private key {}: {e}", key.display())))?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs has TLS 1.2 and 1.3");
    let builder = match client_authorities {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let authorities = |e: String| (PemFile::ClientAuthorities, e);
            let mut roots = RootCertStore::empty();
            for c in certificates(path, "client certificate authority").map_err(authorities)? {
                roots.add(c).map_err(|e| authorities(format!("a certificate in {}: {e}", path.display())))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .allow_unauthenticated()
                .build()
                .map_err(|e| authorities(format!("the certificate authorities in {}: {e}", path.display())))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    builder.with_single_cert(chain, key).map_err(|e| {
        (PemFile::Key, format!("the TLS certificate {} and its key do not go together: {e}", certificate.display()))
    })
}

/// Every certificate of a PEM file, at least one.
fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<_, _>>())
        .map_err(|e| format!("cannot read the {what} {}: {e}", path.display()))?;
    if chain.is_empty() {
        return Err(format!("no certificate in {} (PEM, BEGIN CERTIFICATE)", path.display()));
    }
    Ok(chain)
}
