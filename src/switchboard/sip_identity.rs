//! The certificate SIP over TLS presents, as the configuration names it: read and checked with
//! the rest, so a wrong file is reported at its line of the configuration and a reload that
//! cannot read it keeps the one in service.

use crate::config::{Checker, Config};
use crate::diag::Diagnostics;
use crate::tls::PemFile;
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::ServerConfig;

/// The server side of SIP over TLS, if the configuration turns it on.
pub fn load(path: &Path, text: &str, c: &Config) -> Result<Option<Arc<ServerConfig>>, Diagnostics> {
    let (Some(certificate), Some(key)) = (&c.sip.tls_certificate, &c.sip.tls_key) else { return Ok(None) };
    let authorities = c.sip.tls_client_authorities.as_ref();
    let loaded = crate::tls::server_config(
        Path::new(certificate.get_ref()),
        Path::new(key.get_ref()),
        authorities.map(|a| Path::new(a.get_ref())),
    );
    loaded.map(|config| Some(Arc::new(config))).map_err(|(file, message)| {
        let at = match (file, authorities) {
            (PemFile::Certificate, _) => certificate,
            (PemFile::ClientAuthorities, Some(a)) => a,
            _ => key,
        };
        let mut k = Checker::new(path, text);
        k.error(at, message, "name readable PEM files: the certificate chain (ours first) and its private key");
        k.out
    })
}
