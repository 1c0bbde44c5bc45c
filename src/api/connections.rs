//! The HTTP listener: hyper's HTTP/1 connections under limits, so that idle or slow clients
//! cannot take the engine's file descriptors or the API from the people using it.
//!
//! Written here rather than `axum::serve`, which has no connection limit and installs no timer
//! (so no header or idle timeout). Like nginx when it runs out of connections, a new connection
//! at the limit closes the connection idle longest (one with no request in progress: it has not
//! sent a whole request yet, or is between requests); only when every connection is busy is the
//! new one answered 503 and closed. A connection must send a request's headers within
//! `header_timeout` of connecting or of its previous response (hyper's header read timeout,
//! which bounds keep-alive idleness too); the event streams (a response in progress) are busy,
//! never idle.

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

/// Bounds of the listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Open connections at most.
    pub max_connections: usize,
    /// A request's headers must arrive within this of connecting or of the last response.
    pub header_timeout: Duration,
}

/// Largest request head and read buffer of a connection (hyper's minimum is 8 KiB).
const MAX_HEAD: usize = 64 * 1024;
/// How long a connection being closed may take to finish what it was doing.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Running totals, for the metrics.
#[derive(Debug, Default)]
pub struct ConnectionCounts {
    pub open: AtomicUsize,
    pub accepted: AtomicU64,
    /// Idle connections closed to make room for a new one.
    pub evicted: AtomicU64,
    /// New connections refused because every connection was busy.
    pub refused: AtomicU64,
    /// Failed accepts (out of file descriptors, most likely).
    pub accept_errors: AtomicU64,
}

/// One open connection.
struct Conn {
    /// Requests whose response is not yet fully sent.
    busy: AtomicUsize,
    /// When it last became idle (accepted, or a response finished).
    idle_since: Mutex<Instant>,
    close: CancellationToken,
}

impl Conn {
    fn idle_since(&self) -> Option<Instant> {
        (self.busy.load(Ordering::Acquire) == 0 && !self.close.is_cancelled())
            .then(|| *self.idle_since.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

/// Marks its connection busy while alive: from a request's arrival until its response body
/// has been sent (or dropped with the connection).
struct Busy(Arc<Conn>);

impl Busy {
    fn new(conn: &Arc<Conn>) -> Busy {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(conn))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.idle_since.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection busy until it is sent.
struct Tracked {
    inner: Body,
    _busy: Busy,
}

impl hyper::body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[derive(Default)]
struct Open {
    next_id: u64,
    conns: HashMap<u64, Arc<Conn>>,
}

/// Serve `app` on `listener` under `limits` until `cancel`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    counts: Arc<ConnectionCounts>,
    cancel: CancellationToken,
) {
    let open = Arc::new(Mutex::new(Open::default()));
    let mut last_error_logged: Option<Instant> = None;
    loop {
        let accepted = tokio::select! {
            _ = cancel.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors: the connection waits in the backlog; try again shortly.
                counts.accept_errors.fetch_add(1, Ordering::Relaxed);
                if last_error_logged.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    tracing::warn!(error = %e, "HTTP: cannot accept connections (logged once a minute)");
                    last_error_logged = Some(Instant::now());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let conn = {
            let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
            if open.conns.len() >= limits.max_connections {
                let oldest_idle =
                    open.conns.values().filter_map(|c| c.idle_since().map(|t| (t, c))).min_by_key(|(t, _)| *t);
                match oldest_idle {
                    Some((_, c)) => {
                        c.close.cancel();
                        counts.evicted.fetch_add(1, Ordering::Relaxed);
                    }
                    None => {
                        counts.refused.fetch_add(1, Ordering::Relaxed);
                        tokio::spawn(refuse(stream));
                        continue;
                    }
                }
            }
            let conn = Arc::new(Conn {
                busy: AtomicUsize::new(0),
                idle_since: Mutex::new(Instant::now()),
                close: cancel.child_token(),
            });
            let id = open.next_id;
            open.next_id += 1;
            open.conns.insert(id, Arc::clone(&conn));
            counts.open.store(open.conns.len(), Ordering::Relaxed);
            (id, conn)
        };
        counts.accepted.fetch_add(1, Ordering::Relaxed);
        let (app, open, counts, tls) = (app.clone(), Arc::clone(&open), Arc::clone(&counts), tls.clone());
        tokio::spawn(async move {
            let _ = stream.set_nodelay(true);
            match tls {
                None => serve_connection(stream, peer, app, limits, conn, open, counts).await,
                Some(tls) => {
                    // The handshake is bounded like a request's head.
                    let accept = tokio_rustls::TlsAcceptor::from(tls).accept(stream);
                    match tokio::time::timeout(limits.header_timeout, accept).await {
                        Ok(Ok(stream)) => serve_connection(stream, peer, app, limits, conn, open, counts).await,
                        _ => forget(&open, &counts, conn.0),
                    }
                }
            }
        });
    }
}

async fn serve_connection(
    stream: impl tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    (id, conn): (u64, Arc<Conn>),
    open: Arc<Mutex<Open>>,
    counts: Arc<ConnectionCounts>,
) {
    let tracked = Arc::clone(&conn);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        let busy = Busy::new(&tracked);
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut app = app.clone();
        async move {
            let response = tower::Service::call(&mut app, req.map(Body::new)).await;
            response.map(|r| r.map(|inner| Tracked { inner, _busy: busy }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_timeout).max_buf_size(MAX_HEAD);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        _ = connection.as_mut() => {}
        _ = conn.close.cancelled() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(CLOSE_GRACE, connection).await;
        }
    }
    forget(&open, &counts, id);
}

/// A connection has ended.
fn forget(open: &Mutex<Open>, counts: &ConnectionCounts, id: u64) {
    let mut open = open.lock().unwrap_or_else(|e| e.into_inner());
    open.conns.remove(&id);
    counts.open.store(open.conns.len(), Ordering::Relaxed);
}

/// Every connection is busy: say so and close.
async fn refuse(mut stream: TcpStream) {
    let body = r#"{"error":"the server is busy: too many connections; try again in a few seconds"}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 5\r\n\
         Connection: close\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), stream.write_all(response.as_bytes())).await;
}
