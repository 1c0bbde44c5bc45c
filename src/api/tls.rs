//! HTTPS for the pages and the API: the certificate chain and key named in the configuration.

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::ServerConfig;

/// The server side of HTTPS; the error says which file and what is wrong with it.
pub fn server_config(certificate: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let mut config = crate::tls::server_config(certificate, key, None).map_err(|(_, e)| e)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
