//! The receiving side of the media plane: a few threads that read every call's RTP socket.
//!
//! For each call a receiver keeps what the packets mean: whether they come from the caller
//! (RFC 3264: the first packet from the SDP's address fixes the source; anything else is
//! dropped, never relayed), when the caller was last heard (the media timeout), the RFC 4733
//! keys (sent to the call's task), and, while the call is bridged to an operator, the relay of
//! every packet to the operator's phone and back through [`Relay`]s. The call tasks are woken
//! only by keys, never by audio.
//!
//! After each round a thread pauses [`COALESCE`] before asking the kernel again, so at load one
//! wake-up and one `epoll_wait` serve many packets instead of one each (like a network card's
//! interrupt coalescing); a packet waits at most that long more.
//!
//! Written on epoll directly, level-triggered, rather than on mio (edge-triggered only): RTP
//! brings one packet per socket per wake-up, and edge-triggering would need a second `recv`
//! on every socket to learn it is empty, a third of the system calls of the relay path.

use super::dtmf::DtmfReceiver;
use super::priority::{ClockPriority, apply_priority};
use super::relay::{LegCodec, Relay};
use super::sdp::Negotiated;
use crate::ivr::Key;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

/// SCHED_FIFO level of the receivers at [`ClockPriority::Realtime`] (the pacers run above).
const RECEIVER_RT_PRIORITY: i32 = 1;
/// Events taken from the kernel per `epoll_wait`.
const EVENTS: usize = 256;
/// Pause after a round of packets, to gather the next ones (see the module doc).
pub const COALESCE: Duration = Duration::from_micros(200);
/// Token of a thread's wake-up eventfd (call tokens are `id << 1 | side`).
const WAKE: u64 = u64::MAX;

/// Counters of all receiving threads.
#[derive(Debug, Default)]
pub struct ReceiverStats {
    /// Packets read from callers' and operators' sockets.
    pub received: AtomicU64,
    /// Packets sent on to the other leg of a bridge.
    pub relayed: AtomicU64,
    /// Packets from an address that is not the leg's (ignored).
    pub foreign: AtomicU64,
    /// Relayed packets the kernel refused.
    pub send_errors: AtomicU64,
}

/// What the receiver needs of the caller's media (changes with a re-INVITE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CallerSide {
    codec: LegCodec,
    /// Where the caller's SDP wants RTP (none while on hold without address).
    remote: Option<SocketAddr>,
    /// Whether we may send to the caller (not on hold).
    sending: bool,
}

impl CallerSide {
    fn of(n: &Negotiated) -> Self {
        Self { codec: LegCodec::of(n), remote: n.remote, sending: n.direction.we_send() }
    }
}

/// The operator's leg of a bridge, handed to the receiver.
#[derive(Debug)]
pub struct OperatorSide {
    /// Our RTP socket towards the operator's phone (non-blocking).
    pub socket: UdpSocket,
    pub codec: LegCodec,
    /// Where the operator's phone wants RTP.
    pub remote: Option<SocketAddr>,
    /// Caller -> operator.
    pub to_operator: Relay,
    /// Operator -> caller, continuing the stream the caller heard prompts and music on.
    pub to_caller: Relay,
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

enum Command {
    Add { id: u64, call: Box<Entry> },
    Media { id: u64, side: CallerSide },
    Bridge { id: u64, operator: Box<OperatorSide> },
    OperatorMedia { id: u64, remote: Option<SocketAddr> },
    Unbridge { id: u64, reply: oneshot::Sender<Option<u16>> },
    Remove { id: u64 },
}

/// Handle to the receiving threads; cheap to clone. The threads end when every handle and
/// every call's [`Inbound`] are gone.
#[derive(Clone)]
pub struct MediaReceiver {
    inner: Arc<Inner>,
}

struct Inner {
    threads: Vec<Link>,
    next: AtomicUsize,
    next_id: AtomicU64,
    stats: Arc<ReceiverStats>,
    epoch: Instant,
}

/// The way into one thread: its command queue and the eventfd that wakes its `epoll_wait`.
struct Link {
    commands: Mutex<std_mpsc::Sender<Command>>,
    wake: Arc<OwnedFd>,
}

impl Link {
    fn send(&self, c: Command) -> bool {
        let sent = self.commands.lock().unwrap_or_else(|e| e.into_inner()).send(c).is_ok();
        wake(&self.wake);
        sent
    }
}

fn wake(fd: &OwnedFd) {
    let one = 1u64.to_ne_bytes();
    // SAFETY: writing 8 bytes from a live buffer to an eventfd we own.
    unsafe { libc::write(fd.as_raw_fd(), one.as_ptr().cast(), 8) };
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The senders go with us; wake the threads so they see it.
        for link in &self.threads {
            wake(&link.wake);
        }
    }
}

impl MediaReceiver {
    /// Start `threads` receiving threads (at least one) at `priority`.
    pub fn start(threads: usize, priority: ClockPriority) -> io::Result<MediaReceiver> {
        let stats = Arc::new(ReceiverStats::default());
        let epoch = Instant::now();
        let mut links = Vec::new();
        for index in 0..threads.max(1) {
            let (tx, rx) = std_mpsc::channel();
            let worker = Worker::new(rx, Arc::clone(&stats), epoch)?;
            let wake = Arc::clone(&worker.wake);
            std::thread::Builder::new().name(format!("media-rx-{index}")).spawn(move || worker.run(priority))?;
            links.push(Link { commands: Mutex::new(tx), wake });
        }
        let inner = Inner { threads: links, next: AtomicUsize::new(0), next_id: AtomicU64::new(0), stats, epoch };
        Ok(MediaReceiver { inner: Arc::new(inner) })
    }

    /// One thread per core (at most 4), like the media clock.
    pub fn start_per_core(priority: ClockPriority) -> io::Result<MediaReceiver> {
        Self::start(std::thread::available_parallelism().map_or(1, |n| n.get()).min(4), priority)
    }

    pub fn stats(&self) -> &ReceiverStats {
        &self.inner.stats
    }

    /// Start reading a call's RTP `socket` (non-blocking), negotiated as `media`.
    pub fn attach(&self, socket: Arc<UdpSocket>, media: &Negotiated) -> Inbound {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let thread = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.threads.len();
        let (keys_tx, keys) = mpsc::unbounded_channel();
        let heard = Arc::new(AtomicU64::new(millis(self.inner.epoch)));
        let call = Box::new(Entry {
            socket,
            side: CallerSide::of(media),
            source: None,
            dtmf: DtmfReceiver::default(),
            keys: keys_tx,
            heard: Arc::clone(&heard),
            bridge: None,
            operator_source: None,
        });
        if !self.inner.threads[thread].send(Command::Add { id, call }) {
            warn!("media receiver thread gone: this call hears nothing");
        }
        Inbound { id, thread, inner: Arc::clone(&self.inner), heard, keys }
    }
}

fn millis(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64
}

/// A call's handle on its incoming media. Dropping it stops reading (and ends a bridge).
pub struct Inbound {
    id: u64,
    thread: usize,
    inner: Arc<Inner>,
    heard: Arc<AtomicU64>,
    keys: mpsc::UnboundedReceiver<Key>,
}

impl Inbound {
    fn send(&self, c: Command) {
        self.inner.threads[self.thread].send(c);
    }

    /// Follow new media parameters (re-INVITE, late answer): the source is learnt again, and a
    /// bridge follows a new codec, address or hold.
    pub fn set_media(&self, media: &Negotiated) {
        self.heard.store(millis(self.inner.epoch), Ordering::Relaxed);
        self.send(Command::Media { id: self.id, side: CallerSide::of(media) });
    }

    /// Bridge the caller to an operator's phone: from now on packets are relayed both ways.
    pub fn bridge(&self, operator: OperatorSide) {
        self.send(Command::Bridge { id: self.id, operator: Box::new(operator) });
    }

    /// The operator's phone moved its media: relay to `remote` (nothing while none), and learn
    /// its source again.
    pub fn set_operator_media(&self, remote: Option<SocketAddr>) {
        self.send(Command::OperatorMedia { id: self.id, remote });
    }

    /// End the bridge (the operator's socket is closed); returns the sequence number our
    /// stream to the caller continues from, if the relay sent on it.
    pub async fn unbridge(&self) -> Option<u16> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Unbridge { id: self.id, reply });
        answer.await.ok().flatten()
    }

    /// When the caller was last heard (or the media last changed).
    pub fn last_heard(&self) -> Instant {
        self.inner.epoch + Duration::from_millis(self.heard.load(Ordering::Relaxed))
    }

    /// The next RFC 4733 key from the caller. Cancel-safe; never returns once the receiver is
    /// gone.
    pub async fn key(&mut self) -> Key {
        match self.keys.recv().await {
            Some(k) => k,
            None => std::future::pending().await,
        }
    }
}

impl Drop for Inbound {
    fn drop(&mut self) {
        self.send(Command::Remove { id: self.id });
    }
}

/// One call as its thread sees it.
struct Entry {
    socket: Arc<UdpSocket>,
    side: CallerSide,
    source: Option<SocketAddr>,
    dtmf: DtmfReceiver,
    keys: mpsc::UnboundedSender<Key>,
    heard: Arc<AtomicU64>,
    bridge: Option<Box<OperatorSide>>,
    /// The operator's phone's RTP source, fixed like the caller's.
    operator_source: Option<SocketAddr>,
}

/// One receiving thread: an epoll set over its calls' sockets (and operators' sockets of the
/// bridged ones), level-triggered, one packet per ready socket per round.
struct Worker {
    epoll: OwnedFd,
    wake: Arc<OwnedFd>,
    commands: std_mpsc::Receiver<Command>,
    calls: HashMap<u64, Entry>,
    stats: Arc<ReceiverStats>,
    epoch: Instant,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) }
}

impl Worker {
    fn new(commands: std_mpsc::Receiver<Command>, stats: Arc<ReceiverStats>, epoch: Instant) -> io::Result<Self> {
        // SAFETY: plain syscalls creating descriptors we take ownership of at once.
        let (epoll, wake) = unsafe {
            let e = OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?);
            let w = OwnedFd::from_raw_fd(cvt(libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?);
            (e, w)
        };
        let worker = Self { epoll, wake: Arc::new(wake), commands, calls: HashMap::new(), stats, epoch };
        worker.watch(worker.wake.as_raw_fd(), WAKE)?;
        Ok(worker)
    }

    fn watch(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
        // SAFETY: valid epoll descriptor, a live fd and event.
        cvt(unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) }).map(drop)
    }

    fn unwatch(&self, fd: RawFd) {
        // SAFETY: valid epoll descriptor; a null event is allowed for DEL.
        unsafe { libc::epoll_ctl(self.epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
    }

    fn run(mut self, priority: ClockPriority) {
        let got = apply_priority(priority, RECEIVER_RT_PRIORITY);
        debug!(?got, "media receiver started");
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        let mut buf = [0u8; 2048];
        let mut out = [0u8; 2048];
        loop {
            // SAFETY: the buffer holds EVENTS entries.
            let n = unsafe { libc::epoll_wait(self.epoll.as_raw_fd(), events.as_mut_ptr(), EVENTS as i32, -1) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                warn!(error = %e, "media receiver: epoll_wait failed; thread stops");
                return;
            }
            let now = millis(self.epoch);
            let mut packets = false;
            for ev in &events[..n as usize] {
                let token = ev.u64;
                if token == WAKE {
                    let mut eight = [0u8; 8];
                    // SAFETY: reading 8 bytes into a live buffer from our eventfd.
                    unsafe { libc::read(self.wake.as_raw_fd(), eight.as_mut_ptr().cast(), 8) };
                    if !self.take_commands() {
                        debug!("media receiver stopped");
                        return;
                    }
                    continue;
                }
                let Some(call) = self.calls.get_mut(&(token >> 1)) else { continue };
                packets = true;
                if token & 1 == 0 {
                    caller_packet(call, &self.stats, now, &mut buf, &mut out);
                } else {
                    operator_packet(call, &self.stats, &mut buf, &mut out);
                }
            }
            // A full batch means more are waiting: go on at once.
            if packets && (n as usize) < EVENTS {
                std::thread::sleep(COALESCE);
            }
        }
    }

    /// Carry out queued commands; false when the receiver is gone and no call is left.
    fn take_commands(&mut self) -> bool {
        loop {
            match self.commands.try_recv() {
                Ok(c) => self.command(c),
                Err(std_mpsc::TryRecvError::Empty) => return true,
                Err(std_mpsc::TryRecvError::Disconnected) => return !self.calls.is_empty(),
            }
        }
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Add { id, call } => match self.watch(call.socket.as_raw_fd(), id << 1) {
                Ok(()) => {
                    self.calls.insert(id, *call);
                }
                Err(e) => warn!(error = %e, "media receiver: cannot watch a call's socket"),
            },
            Command::Media { id, side } => {
                if let Some(call) = self.calls.get_mut(&id) {
                    if let Some(b) = &mut call.bridge
                        && side.codec != call.side.codec
                    {
                        b.to_operator.retarget(side.codec, b.codec);
                        b.to_caller.retarget(b.codec, side.codec);
                    }
                    call.side = side;
                    call.source = None;
                }
            }
            Command::Bridge { id, operator } => {
                if !self.calls.contains_key(&id) {
                    return;
                }
                if let Err(e) = self.watch(operator.socket.as_raw_fd(), (id << 1) | 1) {
                    warn!(error = %e, "media receiver: cannot watch an operator's socket; nothing relayed");
                }
                let call = self.calls.get_mut(&id).expect("checked above");
                call.operator_source = None;
                if let Some(old) = call.bridge.replace(operator) {
                    self.unwatch(old.socket.as_raw_fd());
                }
            }
            Command::OperatorMedia { id, remote } => {
                if let Some(call) = self.calls.get_mut(&id)
                    && let Some(b) = &mut call.bridge
                {
                    b.remote = remote;
                    call.operator_source = None;
                }
            }
            Command::Unbridge { id, reply } => {
                let next = self.calls.get_mut(&id).and_then(|c| c.bridge.take()).map(|b| {
                    self.unwatch(b.socket.as_raw_fd());
                    b.to_caller.next_seq()
                });
                let _ = reply.send(next);
            }
            Command::Remove { id } => {
                if let Some(call) = self.calls.remove(&id) {
                    if let Some(b) = &call.bridge {
                        self.unwatch(b.socket.as_raw_fd());
                    }
                    self.unwatch(call.socket.as_raw_fd());
                }
            }
        }
    }
}

/// One packet from the caller's socket: keys in the portal and queue, relayed when bridged.
fn caller_packet(call: &mut Entry, stats: &ReceiverStats, now: u64, buf: &mut [u8], out: &mut [u8]) {
    let Ok((n, from)) = call.socket.recv_from(buf) else { return };
    stats.received.fetch_add(1, Ordering::Relaxed);
    if !accept_source(&mut call.source, call.side.remote, from) {
        stats.foreign.fetch_add(1, Ordering::Relaxed);
        return;
    }
    call.heard.store(now, Ordering::Relaxed);
    let packet = &buf[..n];
    match &mut call.bridge {
        Some(b) => {
            if let (Some(len), Some(to)) = (b.to_operator.forward(packet, out), b.remote) {
                count_send(stats, b.socket.send_to(&out[..len], to));
            }
        }
        None => {
            if let Some(k) = rfc4733_key(&mut call.dtmf, call.side.codec.dtmf_payload_type, packet) {
                let _ = call.keys.send(k);
            }
        }
    }
}

/// One packet from an operator's socket: relayed to the caller (unless on hold).
fn operator_packet(call: &mut Entry, stats: &ReceiverStats, buf: &mut [u8], out: &mut [u8]) {
    let Some(b) = &mut call.bridge else { return };
    let Ok((n, from)) = b.socket.recv_from(buf) else { return };
    stats.received.fetch_add(1, Ordering::Relaxed);
    // Only the operator's phone, as its SDP gave it, is relayed.
    if !accept_source(&mut call.operator_source, b.remote, from) {
        stats.foreign.fetch_add(1, Ordering::Relaxed);
        return;
    }
    if let (Some(len), Some(to)) = (b.to_caller.forward(&buf[..n], out), call.side.remote)
        && call.side.sending
    {
        count_send(stats, call.socket.send_to(&out[..len], to));
    }
}

fn count_send(stats: &ReceiverStats, r: io::Result<usize>) {
    match r {
        Ok(_) => stats.relayed.fetch_add(1, Ordering::Relaxed),
        Err(_) => stats.send_errors.fetch_add(1, Ordering::Relaxed),
    };
}

/// The caller's RFC 4733 key, if this packet completes one.
fn rfc4733_key(dtmf: &mut DtmfReceiver, dtmf_pt: Option<u8>, packet: &[u8]) -> Option<Key> {
    use webrtc_util::marshal::{MarshalSize, Unmarshal};
    let header = rtp::header::Header::unmarshal(&mut &packet[..]).ok()?;
    if Some(header.payload_type) != dtmf_pt {
        return None;
    }
    let payload = &packet[packet.len().min(header.marshal_size())..];
    let k = dtmf.on_packet(header.timestamp, payload)?;
    debug!(key = %k, "RFC 4733 key");
    Some(k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::dtmf::TelephoneEvent;
    use crate::media::g711::Law;
    use crate::media::sdp::Direction;
    use rtp::header::Header;
    use webrtc_util::marshal::{Marshal, MarshalSize, Unmarshal};

    const PCMU: LegCodec = LegCodec { law: Law::Pcmu, payload_type: 0, dtmf_payload_type: Some(101) };

    fn negotiated(remote: SocketAddr) -> Negotiated {
        Negotiated {
            remote: Some(remote),
            law: Law::Pcmu,
            payload_type: 0,
            dtmf_payload_type: Some(101),
            direction: Direction::SendRecv,
        }
    }

    fn socket() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        s
    }

    fn rtp(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let h = Header {
            version: 2,
            payload_type: pt,
            ssrc: 77,
            sequence_number: seq,
            timestamp: ts,
            ..Default::default()
        };
        let mut p = h.marshal().unwrap().to_vec();
        p.extend_from_slice(payload);
        p
    }

    fn recv(s: &UdpSocket) -> Option<(Header, Vec<u8>)> {
        let mut buf = [0u8; 512];
        let n = s.recv(&mut buf).ok()?;
        let h = Header::unmarshal(&mut &buf[..n]).unwrap();
        let body = buf[h.marshal_size()..n].to_vec();
        Some((h, body))
    }

    fn ours() -> Arc<UdpSocket> {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_nonblocking(true).unwrap();
        Arc::new(s)
    }

    #[tokio::test]
    async fn keys_come_from_the_caller_only_once_per_press() {
        let rx = MediaReceiver::start(1, ClockPriority::Normal).unwrap();
        let call = ours();
        let phone = socket();
        let stranger = socket();
        let mut inbound = rx.attach(Arc::clone(&call), &negotiated(phone.local_addr().unwrap()));
        let to = call.local_addr().unwrap();
        let five = TelephoneEvent { event: 5, end: false, volume: 10, duration: 160 }.to_bytes();
        let nine = TelephoneEvent { event: 9, end: true, volume: 10, duration: 800 }.to_bytes();
        // A stranger's key is never heard (its IP is the phone's here, so use another port
        // after the phone has fixed the source).
        phone.send_to(&rtp(0, 1, 0, &[0xff; 160]), to).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        stranger.send_to(&rtp(101, 2, 160, &nine), to).unwrap();
        for seq in 3..6 {
            phone.send_to(&rtp(101, seq, 320, &five), to).unwrap();
        }
        let k = tokio::time::timeout(Duration::from_secs(2), inbound.key()).await.expect("a key");
        assert_eq!(k, Key('5'));
        assert!(
            tokio::time::timeout(Duration::from_millis(200), inbound.key()).await.is_err(),
            "one key per press, none from the stranger"
        );
        assert_eq!(rx.stats().foreign.load(Ordering::Relaxed), 1);
        assert!(inbound.last_heard().elapsed() < Duration::from_secs(1));
    }

    #[tokio::test]
    async fn a_bridge_relays_both_ways_until_it_ends() {
        let rx = MediaReceiver::start(2, ClockPriority::Normal).unwrap();
        let (call, op) = (ours(), ours());
        let (caller_phone, operator_phone) = (socket(), socket());
        let inbound = rx.attach(Arc::clone(&call), &negotiated(caller_phone.local_addr().unwrap()));
        let (call_addr, op_addr) = (call.local_addr().unwrap(), op.local_addr().unwrap());
        let op_socket = Arc::try_unwrap(op).unwrap();
        inbound.bridge(OperatorSide {
            socket: op_socket,
            codec: PCMU,
            remote: Some(operator_phone.local_addr().unwrap()),
            to_operator: Relay::new(PCMU, PCMU, 0xaaaa, 100, 0),
            to_caller: Relay::new(PCMU, PCMU, 0xcccc, 500, 0),
        });
        std::thread::sleep(Duration::from_millis(50));
        caller_phone.send_to(&rtp(0, 9, 1000, &[1; 160]), call_addr).unwrap();
        let (h, body) = recv(&operator_phone).expect("relayed to the operator");
        assert_eq!((h.ssrc, h.sequence_number, body), (0xaaaa, 100, vec![1; 160]));
        operator_phone.send_to(&rtp(0, 40, 0, &[2; 160]), op_addr).unwrap();
        let (h, body) = recv(&caller_phone).expect("relayed to the caller");
        assert_eq!((h.ssrc, h.sequence_number, body), (0xcccc, 500, vec![2; 160]));
        // A stranger on the operator's side is not relayed (same IP, but the phone's first
        // packet fixed its address).
        socket().send_to(&rtp(0, 41, 160, &[3; 160]), op_addr).unwrap();
        caller_phone.set_read_timeout(Some(Duration::from_millis(150))).unwrap();
        assert!(recv(&caller_phone).is_none(), "the stranger's packet is dropped");
        assert_eq!(rx.stats().foreign.load(Ordering::Relaxed), 1);
        assert_eq!(inbound.unbridge().await, Some(501), "our stream to the caller continues after 500");
        caller_phone.send_to(&rtp(0, 10, 1160, &[1; 160]), call_addr).unwrap();
        operator_phone.set_read_timeout(Some(Duration::from_millis(150))).unwrap();
        assert!(recv(&operator_phone).is_none(), "nothing relayed once the bridge has ended");
        assert_eq!(rx.stats().relayed.load(Ordering::Relaxed), 2);
    }
}
