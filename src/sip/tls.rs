//! SIP over TLS (RFC 3261 section 26.2, RFC 5630): our listener, the stack's connections.
//!
//! rsipstack has a TLS listener, but it logs every failed handshake, gives a handshake no
//! deadline and reads its certificate once: a peer retrying a bad handshake floods the log and a
//! silent one holds a task forever. This one bounds the handshake, logs a failing source once an
//! hour, counts failures for the metrics, and takes the certificate in service at each handshake
//! (a renewed certificate is taken with the configuration's reload). An established connection
//! goes to the stack, which reads and writes it like one of its own.

use rsipstack::sip::Transport;
use rsipstack::transaction::endpoint::EndpointInnerRef;
use rsipstack::transport::tls::TlsConnection;
use rsipstack::transport::{SipAddr, SipConnection};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_rustls::rustls::ServerConfig;
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

/// A TLS handshake is over within this, or the connection is closed.
const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(10);
/// A source whose handshakes fail is logged again after this.
const LOG_AGAIN_AFTER: Duration = Duration::from_secs(3600);
/// Sources remembered for [`LOG_AGAIN_AFTER`] at most (a flood from many addresses forgets).
const REMEMBERED_SOURCES: usize = 4096;

/// Handshakes, for the metrics.
#[derive(Debug, Default)]
pub struct TlsCounts {
    pub established: AtomicU64,
    /// Refused or abandoned: wrong certificate, old protocol version, not TLS, too slow.
    pub failed: AtomicU64,
}

/// Where the certificate in service comes from (the configuration in service).
pub type Identity = Box<dyn Fn() -> Option<Arc<ServerConfig>> + Send + Sync>;

/// Accept TLS connections on `listener` until `cancel`, handing established ones to the stack
/// of `endpoint`.
pub(super) async fn serve(
    listener: TcpListener,
    endpoint: EndpointInnerRef,
    identity: Identity,
    counts: Arc<TlsCounts>,
    cancel: CancellationToken,
) {
    let local = listener.local_addr().map(|a| SipAddr::new(Transport::Tls, a.into()));
    let Ok(local) = local else { return };
    let failures = Arc::new(Mutex::new(FailureLog::default()));
    loop {
        let (stream, peer) = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => match a {
                Ok(a) => a,
                Err(e) => {
                    // Out of descriptors: the connection waits in the backlog; try again shortly.
                    debug!(error = %e, "SIP TLS: cannot accept");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Some(config) = identity() else {
            note_failure(&failures, &counts, peer, "no TLS certificate in service");
            continue;
        };
        let (endpoint, local, counts, failures, cancel) =
            (Arc::clone(&endpoint), local.clone(), Arc::clone(&counts), Arc::clone(&failures), cancel.child_token());
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            let accept = tokio_rustls::TlsAcceptor::from(config).accept(stream);
            let stream = match tokio::time::timeout(HANDSHAKE_DEADLINE, accept).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(e)) => return note_failure(&failures, &counts, peer, &e.to_string()),
                Err(_) => return note_failure(&failures, &counts, peer, "handshake not finished in 10 s"),
            };
            counts.established.fetch_add(1, Ordering::Relaxed);
            let remote = SipAddr::new(Transport::Tls, peer.into());
            match TlsConnection::from_server_stream(stream, local, remote, Some(cancel)).await {
                Ok(connection) => endpoint.transport_layer.add_connection(SipConnection::Tls(connection)),
                Err(e) => warn!(%peer, error = %e, "SIP TLS: the stack refused the connection"),
            }
        });
    }
}

fn note_failure(failures: &Mutex<FailureLog>, counts: &TlsCounts, peer: SocketAddr, why: &str) {
    counts.failed.fetch_add(1, Ordering::Relaxed);
    if failures.lock().unwrap_or_else(|e| e.into_inner()).first_in_a_while(peer.ip(), Instant::now()) {
        warn!(%peer, why, "SIP TLS handshake refused (this source is logged again in an hour at the soonest)");
    }
}

/// When each failing source was last logged.
#[derive(Default)]
struct FailureLog {
    logged: HashMap<IpAddr, Instant>,
}

impl FailureLog {
    /// Whether a failure from `source` at `now` is to be logged (none from it in the last hour).
    fn first_in_a_while(&mut self, source: IpAddr, now: Instant) -> bool {
        if self.logged.get(&source).is_some_and(|t| now.duration_since(*t) < LOG_AGAIN_AFTER) {
            return false;
        }
        if self.logged.len() >= REMEMBERED_SOURCES {
            self.logged.retain(|_, t| now.duration_since(*t) < LOG_AGAIN_AFTER);
            if self.logged.len() >= REMEMBERED_SOURCES {
                self.logged.clear();
            }
        }
        self.logged.insert(source, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_source_is_logged_once_an_hour_and_the_memory_stays_bounded() {
        let mut log = FailureLog::default();
        let t0 = Instant::now();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(log.first_in_a_while(a, t0));
        assert!(!log.first_in_a_while(a, t0 + Duration::from_secs(60)));
        assert!(log.first_in_a_while(b, t0 + Duration::from_secs(60)), "another source is logged");
        assert!(!log.first_in_a_while(a, t0 + LOG_AGAIN_AFTER - Duration::from_secs(1)));
        assert!(log.first_in_a_while(a, t0 + LOG_AGAIN_AFTER));
        for i in 0..3 * REMEMBERED_SOURCES as u32 {
            log.first_in_a_while(IpAddr::from(i.to_be_bytes()), t0 + LOG_AGAIN_AFTER);
            assert!(log.logged.len() <= REMEMBERED_SOURCES);
        }
    }
}
