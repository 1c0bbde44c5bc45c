//! The packet path of a bridge, in a task of its own: caller RTP to the operator's phone and
//! back through [`Relay`]s, draining each socket on every wake-up (`readable` then
//! `try_recv_from` until it would block), so a burst costs one task wake-up, not one per packet,
//! and the call task with its portal state is not woken by media at all.

use crate::media::relay::{LegCodec, Relay};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

/// What the relay needs to know of the caller's side (changes with a re-INVITE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallerSide {
    pub codec: LegCodec,
    /// Where the caller's SDP wants RTP (none while on hold without address).
    pub remote: Option<SocketAddr>,
    /// Whether we may send to the caller (not on hold).
    pub sending: bool,
    /// The caller's RTP source, once known; packets from elsewhere are dropped.
    pub source: Option<SocketAddr>,
}

/// Whether an RTP packet from `from` is the caller's (RFC 3264: media come from the SDP
/// address): the first packet from the SDP's IP fixes `source`, packets from elsewhere are not.
pub fn accept_source(source: &mut Option<SocketAddr>, remote: Option<SocketAddr>, from: SocketAddr) -> bool {
    match (*source, remote) {
        (Some(s), _) => s == from,
        (None, Some(r)) if r.ip() != from.ip() => false,
        (None, _) => {
            *source = Some(from);
            true
        }
    }
}

/// A running relay.
pub struct RelayTask {
    stop: oneshot::Sender<()>,
    join: JoinHandle<u16>,
    caller: watch::Sender<CallerSide>,
    /// Milliseconds since `epoch` when the caller was last heard (for the media timeout).
    pub last_heard_ms: Arc<AtomicU64>,
    pub epoch: Instant,
}

impl RelayTask {
    /// Start relaying between the caller's socket and the operator's.
    pub fn spawn(
        caller_socket: Arc<UdpSocket>,
        caller: CallerSide,
        operator_socket: UdpSocket,
        operator: (LegCodec, Option<SocketAddr>),
        to_operator: Relay,
        to_caller: Relay,
    ) -> RelayTask {
        let (stop, stopped) = oneshot::channel();
        let (caller_tx, caller_rx) = watch::channel(caller);
        let last_heard_ms = Arc::new(AtomicU64::new(0));
        let epoch = Instant::now();
        let heard = Arc::clone(&last_heard_ms);
        let join = tokio::spawn(run(
            caller_socket,
            caller_rx,
            operator_socket,
            operator,
            (to_operator, to_caller),
            stopped,
            (heard, epoch),
        ));
        RelayTask { stop, join, caller: caller_tx, last_heard_ms, epoch }
    }

    /// The caller renegotiated (re-INVITE).
    pub fn caller_changed(&self, side: CallerSide) {
        let _ = self.caller.send(side);
    }

    /// When the caller was last heard.
    pub fn last_heard(&self) -> Instant {
        self.epoch + std::time::Duration::from_millis(self.last_heard_ms.load(Ordering::Relaxed))
    }

    /// Stop; returns the sequence number our stream to the caller continues from.
    pub async fn stop(self) -> Option<u16> {
        let _ = self.stop.send(());
        self.join.await.ok()
    }
}

async fn run(
    caller_socket: Arc<UdpSocket>,
    mut caller: watch::Receiver<CallerSide>,
    operator_socket: UdpSocket,
    (op_codec, op_remote): (LegCodec, Option<SocketAddr>),
    (mut to_operator, mut to_caller): (Relay, Relay),
    mut stopped: oneshot::Receiver<()>,
    (heard, epoch): (Arc<AtomicU64>, Instant),
) -> u16 {
    let mut side = *caller.borrow();
    let mut buf = [0u8; 2048];
    let mut out = [0u8; 2048];
    loop {
        tokio::select! {
            _ = &mut stopped => break,
            changed = caller.changed() => {
                if changed.is_err() {
                    break;
                }
                let new = *caller.borrow_and_update();
                if new.codec != side.codec {
                    to_operator.retarget(new.codec, op_codec);
                    to_caller.retarget(op_codec, new.codec);
                }
                side = new;
            }
            r = caller_socket.readable() => {
                if r.is_err() {
                    break;
                }
                while let Ok((n, from)) = caller_socket.try_recv_from(&mut buf) {
                    if !accept_source(&mut side.source, side.remote, from) {
                        continue;
                    }
                    heard.store(epoch.elapsed().as_millis() as u64, Ordering::Relaxed);
                    if let (Some(len), Some(to)) = (to_operator.forward(&buf[..n], &mut out), op_remote) {
                        let _ = operator_socket.try_send_to(&out[..len], to);
                    }
                }
            }
            r = operator_socket.readable() => {
                if r.is_err() {
                    break;
                }
                while let Ok((n, from)) = operator_socket.try_recv_from(&mut buf) {
                    // Only the operator's phone's address, as its SDP gave it, is relayed.
                    if op_remote.is_none_or(|r| r.ip() != from.ip()) {
                        continue;
                    }
                    if let (Some(len), Some(to)) = (to_caller.forward(&buf[..n], &mut out), side.remote)
                        && side.sending
                    {
                        let _ = caller_socket.try_send_to(&out[..len], to);
                    }
                }
            }
        }
    }
    to_caller.next_seq()
}
