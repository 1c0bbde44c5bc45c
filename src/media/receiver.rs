//! The receiving side of the media plane: a few threads that read every call's RTP socket.
//!
//! For each call a receiver keeps what the packets mean: whether they come from the caller
//! (RFC 3264: the first packet from the SDP's address fixes the source; anything else is
//! dropped, never relayed), when the caller was last heard (the media timeout), the RFC 4733
//! keys (sent to the call's task), and, while the call is bridged to an operator, the relay of
//! every packet to the operator's phone and back through [`Relay`]s. The call tasks are woken
//! only by keys, never by audio.
//!
//! A thread talks to the kernel through io_uring ([`IoRing`]: one system call per round of
//! packets) where the kernel offers it, else through epoll with one `recvfrom` and one `sendto`
//! per packet (`rtp.io` chooses). Either way, after each round it waits [`COALESCE`] before
//! taking the next packets, so at load one wake-up serves many packets instead of one each
//! (like a network card's interrupt coalescing); a packet waits at most that long more. What a
//! packet means ([`Calls`]) is the same code for both.
//!
//! The epoll side is written on epoll directly, level-triggered, rather than on mio
//! (edge-triggered only): RTP brings one packet per socket per wake-up, and edge-triggering
//! would need a second `recv` on every socket to learn it is empty.

use super::dtmf::DtmfReceiver;
use super::io_ring::{self, Event, IoRing, Sender};
use super::priority::{ClockPriority, apply_priority};
use super::relay::{LegCodec, Relay};
use super::rtcp::{self, LegQuality, PeerView, Reception, SentCount};
use super::sdp::{Negotiated, Srtp};
use super::srtp::{Refused, SrtpReceiver, SrtpSender};
use crate::config::MediaIo;
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
use tracing::{debug, info, warn};

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
    /// SRTP packets dropped: wrong authentication tag, replayed, too short.
    pub srtp_unauthenticated: AtomicU64,
    pub srtp_replayed: AtomicU64,
    pub srtp_malformed: AtomicU64,
    /// RTCP reports read from phones, and sent to them.
    pub rtcp_received: AtomicU64,
    pub rtcp_sent: AtomicU64,
}

impl ReceiverStats {
    fn refused(&self, why: Refused) {
        match why {
            Refused::Authentication => &self.srtp_unauthenticated,
            Refused::Replay => &self.srtp_replayed,
            Refused::Malformed => &self.srtp_malformed,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
}

/// What the receiver needs of the caller's media (changes with a re-INVITE).
#[derive(Debug, Clone, PartialEq, Eq)]
struct CallerSide {
    codec: LegCodec,
    /// Where the caller's SDP wants RTP (none while on hold without address).
    remote: Option<SocketAddr>,
    /// Whether we may send to the caller (not on hold).
    sending: bool,
    srtp: Option<Srtp>,
}

impl CallerSide {
    fn of(n: &Negotiated) -> Self {
        Self { codec: LegCodec::of(n), remote: n.remote, sending: n.direction.we_send(), srtp: n.srtp.clone() }
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
    /// SRTP towards the operator's phone and from it, when its leg is encrypted.
    pub srtp_to_operator: Option<SrtpSender>,
    pub srtp_from_operator: Option<SrtpReceiver>,
    /// SRTP towards the caller, when the caller's leg is encrypted: the caller's stream's
    /// sender, lent for the bridge and given back at its end.
    pub srtp_to_caller: Option<SrtpSender>,
    /// Our RTCP socket towards the operator's phone (the RTP port + 1), if it could be bound.
    pub rtcp: Option<UdpSocket>,
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
    Unbridge { id: u64, reply: oneshot::Sender<Option<(u16, Option<SrtpSender>)>> },
    Quality { id: u64, reply: oneshot::Sender<ReceivedQuality> },
    Rtcp { id: u64, socket: UdpSocket, our_ssrc: u32, sent: Arc<SentCount> },
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
    /// Start `threads` receiving threads (at least one) at `priority`, talking to the kernel
    /// as `io` says.
    pub fn start(threads: usize, priority: ClockPriority, io: MediaIo) -> io::Result<MediaReceiver> {
        let stats = Arc::new(ReceiverStats::default());
        let epoch = Instant::now();
        let mut links = Vec::new();
        for index in 0..threads.max(1) {
            let (tx, rx) = std_mpsc::channel();
            // SAFETY: a plain syscall creating a descriptor we take ownership of at once.
            let wake = Arc::new(unsafe {
                OwnedFd::from_raw_fd(cvt(libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK))?)
            });
            // The thread opens its own io_uring (a ring is used by the thread that set it up).
            let (opened, started) = std_mpsc::sync_channel(1);
            let (thread_wake, thread_stats) = (Arc::clone(&wake), Arc::clone(&stats));
            std::thread::Builder::new().name(format!("media-rx-{index}")).spawn(move || {
                match Worker::new(rx, thread_wake, thread_stats, epoch, io) {
                    Ok(worker) => {
                        let _ = opened.send(Ok(()));
                        worker.run(priority);
                    }
                    Err(e) => {
                        let _ = opened.send(Err(e));
                    }
                }
            })?;
            started.recv().map_err(|_| io::Error::other("media receiver thread gone"))??;
            links.push(Link { commands: Mutex::new(tx), wake });
        }
        let inner = Inner { threads: links, next: AtomicUsize::new(0), next_id: AtomicU64::new(0), stats, epoch };
        Ok(MediaReceiver { inner: Arc::new(inner) })
    }

    /// One thread per core (at most 4), like the media clock.
    pub fn start_per_core(priority: ClockPriority, io: MediaIo) -> io::Result<MediaReceiver> {
        Self::start(std::thread::available_parallelism().map_or(1, |n| n.get()).min(4), priority, io)
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
            token: 0,
            side: CallerSide::of(media),
            srtp_from_caller: media.srtp.as_ref().map(Srtp::receiver),
            source: None,
            dtmf: DtmfReceiver::default(),
            keys: keys_tx,
            heard: Arc::clone(&heard),
            bridge: None,
            operator_source: None,
            from_caller: Reception::default(),
            from_operator: Reception::default(),
            caller_rtcp: None,
            operator_peer: None,
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
    /// stream to the caller continues from, if the relay sent on it, and the SRTP sender it
    /// was lent.
    pub async fn unbridge(&self) -> Option<(u16, Option<SrtpSender>)> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Unbridge { id: self.id, reply });
        answer.await.ok().flatten()
    }

    /// Exchange RTCP reports with the caller on `socket` (the RTP port + 1): ours about what
    /// we receive and what our stream `our_ssrc` has `sent`, theirs read for the round trip and
    /// their view of our stream; they keep the call alive like its RTP.
    pub fn rtcp(&self, socket: UdpSocket, our_ssrc: u32, sent: Arc<SentCount>) {
        self.send(Command::Rtcp { id: self.id, socket, our_ssrc, sent });
    }

    /// The quality of what has been received so far from the caller and from the operator's
    /// phone (the last one bridged).
    pub async fn quality(&self) -> ReceivedQuality {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Quality { id: self.id, reply });
        answer.await.unwrap_or_default()
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
    /// The token its socket is watched as.
    token: u64,
    side: CallerSide,
    /// Checks and decrypts the caller's SRTP.
    srtp_from_caller: Option<SrtpReceiver>,
    source: Option<SocketAddr>,
    dtmf: DtmfReceiver,
    keys: mpsc::UnboundedSender<Key>,
    heard: Arc<AtomicU64>,
    bridge: Option<Bridge>,
    /// The operator's phone's RTP source, fixed like the caller's.
    operator_source: Option<SocketAddr>,
    /// What the caller's phone sent and the operator's (RTCP reception statistics).
    from_caller: Reception,
    from_operator: Reception,
    caller_rtcp: Option<RtcpLeg>,
    /// The last report of the operator's phone about our stream (kept after the bridge).
    operator_peer: Option<PeerView>,
}

/// A leg's RTCP (RFC 3550 section 6): its socket on the RTP port + 1, whence the peer's reports
/// come, what they say about our stream, and when our next report is due.
struct RtcpLeg {
    socket: UdpSocket,
    token: u64,
    our_ssrc: u32,
    cname: String,
    source: Option<SocketAddr>,
    /// The peer's last report about our stream.
    peer: Option<PeerView>,
    /// When our next report is due (uptime milliseconds).
    next_report: u32,
    sent: Arc<SentCount>,
    /// SRTCP for our reports on an encrypted caller's leg (the operator's leg uses its relay's
    /// sender, whose SRTCP state is its own).
    protect: Option<SrtpSender>,
}

impl RtcpLeg {
    fn new(socket: UdpSocket, token: u64, our_ssrc: u32, sent: Arc<SentCount>, now: u32) -> RtcpLeg {
        let cname = format!("centralino@{}", socket.local_addr().map(|a| a.ip().to_string()).unwrap_or_default());
        // The first report within 1 to 3.5 s (RFC 3550 6.2: half the interval, randomised).
        let next_report = now.wrapping_add(rand::random_range(1000..3500));
        RtcpLeg { socket, token, our_ssrc, cname, source: None, peer: None, next_report, sent, protect: None }
    }

    /// Where our reports go: where the peer's come from, else its RTP port + 1.
    fn destination(&self, remote: Option<SocketAddr>) -> Option<SocketAddr> {
        self.source.or_else(|| remote.map(|r| SocketAddr::new(r.ip(), r.port().wrapping_add(1))))
    }

    /// A datagram on the socket: the peer's (S)RTCP, checked with `check` (decrypted into
    /// `plain`) when the leg is encrypted, read into `reception` (its sender report) and our view
    /// of the peer; why not, when it is not a genuine report (malformed RTCP is ignored, RFC 3550
    /// 6.1).
    fn on_packet(
        &mut self,
        check: &mut Option<SrtpReceiver>,
        reception: &mut Reception,
        remote: Option<SocketAddr>,
        now: Arrival,
        (packet, from): (&[u8], SocketAddr),
        plain: &mut [u8],
    ) -> Result<(), Unread> {
        if !accept_source(&mut self.source, remote, from) {
            return Err(Unread::Foreign);
        }
        let packet = match check {
            Some(check) => {
                let n = check.unprotect_rtcp(packet, plain).map_err(Unread::Srtp)?;
                &plain[..n]
            }
            None => packet,
        };
        let heard = rtcp::read(packet, self.our_ssrc, now.ntp).ok_or(Unread::Malformed)?;
        if let Some((_, ntp)) = heard.sender_report {
            reception.on_sender_report(ntp, now.ntp);
        }
        if heard.about_us.is_some() {
            self.peer = heard.about_us;
        }
        Ok(())
    }

    /// Our report, if due at `now`: sent to the peer (protected with `protect` on an encrypted
    /// leg), the next one due in 2.5 to 7.5 s (RFC 3550 6.2: 5 s, randomised).
    fn report_if_due(
        &mut self,
        reception: &mut Reception,
        remote: Option<SocketAddr>,
        protect: Option<&mut SrtpSender>,
        stats: &ReceiverStats,
        now: Arrival,
    ) {
        if (now.uptime.wrapping_sub(self.next_report) as i32) < 0 {
            return;
        }
        self.next_report = now.uptime.wrapping_add(rand::random_range(2500..7500));
        let Some(to) = self.destination(remote) else { return };
        let (sent, rtp_time) = self.sent.at(now.uptime);
        let mut packet = rtcp::compose(self.our_ssrc, &self.cname, sent, now.ntp, rtp_time, reception.report(now.ntp));
        if let Some(protect) = protect.or(self.protect.as_mut()) {
            let len = packet.len();
            packet.resize(len + super::srtp::RTCP_OVERHEAD, 0);
            let Some(n) = protect.protect_rtcp(&mut packet, len) else { return };
            packet.truncate(n);
        }
        if self.socket.send_to(&packet, to).is_ok() {
            stats.rtcp_sent.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Why a datagram on an RTCP socket was not read.
enum Unread {
    Foreign,
    Srtp(Refused),
    Malformed,
}

impl ReceiverStats {
    /// Count what became of a datagram on an RTCP socket; whether it was a report.
    fn rtcp(&self, result: Result<(), Unread>) -> bool {
        match result {
            Ok(()) => self.rtcp_received.fetch_add(1, Ordering::Relaxed),
            Err(Unread::Foreign) => self.foreign.fetch_add(1, Ordering::Relaxed),
            Err(Unread::Srtp(why)) => {
                self.refused(why);
                0
            }
            Err(Unread::Malformed) => 0,
        };
        result.is_ok()
    }
}

/// The quality of the RTP received from each side of a call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ReceivedQuality {
    pub caller: Option<LegQuality>,
    pub operator: Option<LegQuality>,
}

/// When a round of packets arrived: in milliseconds (liveness) and in 8 kHz RTP units (jitter)
/// since the receivers' epoch, in the media plane's uptime (what senders stamp) and as an NTP
/// timestamp (RTCP).
#[derive(Clone, Copy, Debug)]
struct Arrival {
    millis: u64,
    samples: u32,
    uptime: u32,
    ntp: u64,
}

impl Arrival {
    fn since(epoch: Instant) -> Arrival {
        let micros = epoch.elapsed().as_micros() as u64;
        let wall = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        Arrival {
            millis: micros / 1000,
            samples: (micros * 8 / 1000) as u32,
            uptime: super::uptime_millis(),
            ntp: rtcp::ntp(wall),
        }
    }
}

struct Bridge {
    side: Box<OperatorSide>,
    token: u64,
    /// RTCP with the operator's phone, and what our relay to it has sent.
    rtcp: Option<RtcpLeg>,
}

/// Which leg of a call a watched socket carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leg {
    Caller,
    Operator,
    CallerRtcp,
    OperatorRtcp,
}

/// An unwatched socket the kernel may still be reading (io_uring): open until its receive ends.
enum Kept {
    Shared(Arc<UdpSocket>),
    Owned(UdpSocket),
}

/// How a thread talks to the kernel: epoll with a system call per packet, or batched
/// io_uring ([`IoRing`]).
enum Io {
    Epoll(OwnedFd),
    Ring(Box<IoRing>),
}

impl Io {
    fn open(choice: MediaIo, wake: RawFd) -> io::Result<Io> {
        if choice != MediaIo::Epoll {
            match IoRing::new(wake) {
                Ok(ring) => return Ok(Io::Ring(Box::new(ring))),
                Err(e) if choice == MediaIo::IoUring => {
                    return Err(io::Error::other(format!("rtp.io = \"io_uring\" but io_uring is not available: {e}")));
                }
                Err(e) => {
                    static SAID: std::sync::Once = std::sync::Once::new();
                    SAID.call_once(|| info!(error = %e, "io_uring not available: the media receivers use epoll"));
                }
            }
        }
        // SAFETY: a plain syscall creating a descriptor we take ownership of at once.
        let epoll = unsafe { OwnedFd::from_raw_fd(cvt(libc::epoll_create1(libc::EPOLL_CLOEXEC))?) };
        let io = Io::Epoll(epoll);
        io.epoll_add(wake, WAKE)?;
        Ok(io)
    }

    fn epoll_add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let Io::Epoll(epoll) = self else { return Ok(()) };
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
        // SAFETY: valid epoll descriptor, a live fd and event.
        cvt(unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) }).map(drop)
    }

    fn watch(&mut self, fd: RawFd, token: u64) -> io::Result<()> {
        match self {
            Io::Epoll(_) => self.epoll_add(fd, token),
            Io::Ring(ring) => ring.watch(fd, token),
        }
    }

    /// Stop reading `socket`; with io_uring it is kept in `closing` until its receive ends.
    fn unwatch(&mut self, token: u64, socket: Kept, closing: &mut HashMap<u64, Kept>) {
        match self {
            Io::Epoll(epoll) => {
                let fd = match &socket {
                    Kept::Shared(s) => s.as_raw_fd(),
                    Kept::Owned(s) => s.as_raw_fd(),
                };
                // SAFETY: valid epoll descriptor; a null event is allowed for DEL.
                unsafe { libc::epoll_ctl(epoll.as_raw_fd(), libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
            }
            Io::Ring(ring) => {
                if let Err(e) = ring.unwatch(token) {
                    warn!(error = %e, "media receiver: cannot stop reading a socket; it stays open");
                    std::mem::forget(socket);
                    return;
                }
                closing.insert(token, socket);
            }
        }
    }
}

/// The calls of one thread and what their packets mean: the part of the thread that is the
/// same whatever the kernel interface.
struct Calls {
    calls: HashMap<u64, Entry>,
    /// The call and leg of each watched socket, by token.
    watches: HashMap<u64, (u64, Leg)>,
    next_token: u64,
    stats: Arc<ReceiverStats>,
    /// When to look for reports due next (uptime milliseconds).
    next_scan: u32,
    /// Where SRTP and SRTCP are decrypted (one buffer per thread, not one per packet).
    plain: Box<[u8; 2048]>,
}

/// Where a thread's outgoing packets go: written into a buffer by `write`, sent on `socket`.
trait Outgoing {
    fn send(&mut self, socket: &UdpSocket, to: SocketAddr, write: impl FnOnce(&mut [u8]) -> Option<usize>);
}

/// epoll: one `sendto` per packet.
struct Direct<'a> {
    out: &'a mut [u8],
    stats: &'a ReceiverStats,
}

impl Outgoing for Direct<'_> {
    fn send(&mut self, socket: &UdpSocket, to: SocketAddr, write: impl FnOnce(&mut [u8]) -> Option<usize>) {
        if let Some(len) = write(self.out) {
            count_send(self.stats, socket.send_to(&self.out[..len], to).map(drop));
        }
    }
}

/// io_uring: queued, sent with the next round's system call.
struct Queued<'a, 'b> {
    sender: &'a mut Sender<'b>,
    stats: &'a ReceiverStats,
}

impl Outgoing for Queued<'_, '_> {
    fn send(&mut self, socket: &UdpSocket, to: SocketAddr, write: impl FnOnce(&mut [u8]) -> Option<usize>) {
        let mut written = false;
        let queued = self.sender.send(socket.as_raw_fd(), to, |buf| {
            let n = write(buf);
            written = n.is_some();
            n
        });
        // The completion counts failures; a packet that found no buffer is one too.
        if written {
            count_send(self.stats, if queued { Ok(()) } else { Err(io::ErrorKind::OutOfMemory.into()) });
        }
    }
}

impl Calls {
    fn token(&mut self, id: u64, leg: Leg) -> u64 {
        self.next_token = (self.next_token + 1) % io_ring::MAX_TOKEN;
        self.watches.insert(self.next_token, (id, leg));
        self.next_token
    }

    /// A datagram on the socket watched as `token`.
    fn datagram(&mut self, token: u64, from: SocketAddr, packet: &[u8], now: Arrival, out: &mut impl Outgoing) {
        let Some(&(id, leg)) = self.watches.get(&token) else { return };
        let Some(call) = self.calls.get_mut(&id) else { return };
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        match leg {
            Leg::Caller => caller_packet(call, &self.stats, now, (packet, from), &mut self.plain[..], out),
            Leg::Operator => operator_packet(call, &self.stats, now, (packet, from), &mut self.plain[..], out),
            Leg::CallerRtcp => {
                let Some(rtcp) = &mut call.caller_rtcp else { return };
                let (check, reception, remote) = (&mut call.srtp_from_caller, &mut call.from_caller, call.side.remote);
                // RTCP keeps a silent call alive (a phone that sends no RTP while muted).
                let read = rtcp.on_packet(check, reception, remote, now, (packet, from), &mut self.plain[..]);
                if self.stats.rtcp(read) {
                    call.heard.store(now.millis, Ordering::Relaxed);
                }
            }
            Leg::OperatorRtcp => {
                let Some(Bridge { side, rtcp: Some(rtcp), .. }) = &mut call.bridge else { return };
                let (check, remote) = (&mut side.srtp_from_operator, side.remote);
                let read =
                    rtcp.on_packet(check, &mut call.from_operator, remote, now, (packet, from), &mut self.plain[..]);
                if self.stats.rtcp(read) {
                    call.operator_peer = rtcp.peer;
                }
            }
        }
    }

    /// Send the reports due by `now` (looked for at most every 100 ms).
    fn reports(&mut self, now: Arrival) {
        if (now.uptime.wrapping_sub(self.next_scan) as i32) < 0 {
            return;
        }
        self.next_scan = now.uptime.wrapping_add(100);
        for call in self.calls.values_mut() {
            if let Some(rtcp) = &mut call.caller_rtcp {
                rtcp.report_if_due(&mut call.from_caller, call.side.remote, None, &self.stats, now);
            }
            if let Some(Bridge { side, rtcp: Some(rtcp), .. }) = &mut call.bridge {
                let protect = side.srtp_to_operator.as_mut();
                rtcp.report_if_due(&mut call.from_operator, side.remote, protect, &self.stats, now);
            }
        }
    }
}

/// One receiving thread: its calls' sockets (and operators' sockets of the bridged ones)
/// watched through epoll or io_uring.
struct Worker {
    io: Io,
    wake: Arc<OwnedFd>,
    commands: std_mpsc::Receiver<Command>,
    calls: Calls,
    /// Unwatched sockets whose receive has not ended yet (io_uring).
    closing: HashMap<u64, Kept>,
    epoch: Instant,
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 { Err(io::Error::last_os_error()) } else { Ok(r) }
}

impl Worker {
    fn new(
        commands: std_mpsc::Receiver<Command>,
        wake: Arc<OwnedFd>,
        stats: Arc<ReceiverStats>,
        epoch: Instant,
        choice: MediaIo,
    ) -> io::Result<Self> {
        let io = Io::open(choice, wake.as_raw_fd())?;
        let calls = Calls {
            calls: HashMap::new(),
            watches: HashMap::new(),
            next_token: 0,
            stats,
            next_scan: 0,
            plain: Box::new([0; 2048]),
        };
        Ok(Self { io, wake, commands, calls, closing: HashMap::new(), epoch })
    }

    fn uses_io_uring(&self) -> bool {
        matches!(self.io, Io::Ring(_))
    }

    fn run(mut self, priority: ClockPriority) {
        let got = apply_priority(priority, RECEIVER_RT_PRIORITY);
        debug!(?got, io_uring = self.uses_io_uring(), "media receiver started");
        let result = match &self.io {
            Io::Epoll(_) => self.run_epoll(),
            Io::Ring(_) => self.run_ring(),
        };
        match result {
            Ok(()) => debug!("media receiver stopped"),
            Err(e) => warn!(error = %e, "media receiver failed; thread stops"),
        }
    }

    fn run_epoll(&mut self) -> io::Result<()> {
        let Io::Epoll(epoll) = &self.io else { unreachable!("epoll thread") };
        let epoll = epoll.as_raw_fd();
        let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; EVENTS];
        let mut buf = [0u8; 2048];
        let mut out = [0u8; 2048];
        loop {
            // SAFETY: the buffer holds EVENTS entries.
            // At least once a second, for the RTCP reports of calls that are silent.
            let n = unsafe { libc::epoll_wait(epoll, events.as_mut_ptr(), EVENTS as i32, 1000) };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let now = Arrival::since(self.epoch);
            let mut packets = false;
            for ev in &events[..n as usize] {
                let token = ev.u64;
                if token == WAKE {
                    if !self.woken() {
                        return Ok(());
                    }
                    continue;
                }
                let Some(socket) = self.socket(token) else { continue };
                let Ok((len, from)) = socket.recv_from(&mut buf) else { continue };
                packets = true;
                let stats = Arc::clone(&self.calls.stats);
                self.calls.datagram(token, from, &buf[..len], now, &mut Direct { out: &mut out, stats: &stats });
            }
            self.calls.reports(now);
            // A full batch means more are waiting: go on at once.
            if packets && (n as usize) < EVENTS {
                std::thread::sleep(COALESCE);
            }
        }
    }

    /// The socket watched as `token`.
    fn socket(&self, token: u64) -> Option<&UdpSocket> {
        let (id, leg) = self.calls.watches.get(&token)?;
        let call = self.calls.calls.get(id)?;
        match leg {
            Leg::Caller => Some(&call.socket),
            Leg::Operator => call.bridge.as_ref().map(|b| &b.side.socket),
            Leg::CallerRtcp => call.caller_rtcp.as_ref().map(|r| &r.socket),
            Leg::OperatorRtcp => call.bridge.as_ref().and_then(|b| b.rtcp.as_ref()).map(|r| &r.socket),
        }
    }

    fn run_ring(&mut self) -> io::Result<()> {
        let mut ended = Vec::new();
        loop {
            let Io::Ring(ring) = &mut self.io else { unreachable!("io_uring thread") };
            ring.wait(COALESCE, Duration::from_secs(1))?;
            let now = Arrival::since(self.epoch);
            let (mut woken, mut failed) = (false, 0);
            let calls = &mut self.calls;
            let stats = Arc::clone(&calls.stats);
            let n = ring.complete(|event, sender| match event {
                Event::Datagram { token, from, data } => {
                    calls.datagram(token, from, data, now, &mut Queued { sender, stats: &stats })
                }
                Event::Ended { token } => ended.push(token),
                Event::Woken => woken = true,
                Event::SendFailed => failed += 1,
            });
            if failed > 0 {
                stats.relayed.fetch_sub(failed, Ordering::Relaxed);
                stats.send_errors.fetch_add(failed, Ordering::Relaxed);
            }
            let coalesces = ring.coalesces();
            self.calls.reports(now);
            for token in ended.drain(..) {
                if self.closing.remove(&token).is_some() {
                    continue;
                }
                // The kernel ended a receive still wanted (buffers ran out, an error): again.
                if let Some(fd) = self.socket(token).map(|s| s.as_raw_fd())
                    && let Err(e) = self.io.watch(fd, token)
                {
                    warn!(error = %e, "media receiver: cannot read a socket again");
                }
            }
            if woken && !self.woken() {
                return Ok(());
            }
            if !coalesces && n > 0 && n < EVENTS {
                std::thread::sleep(COALESCE);
            }
        }
    }

    /// The wake-up: carry out queued commands; false when the receiver is gone and no call is
    /// left.
    fn woken(&mut self) -> bool {
        let mut eight = [0u8; 8];
        // SAFETY: reading 8 bytes into a live buffer from our eventfd.
        unsafe { libc::read(self.wake.as_raw_fd(), eight.as_mut_ptr().cast(), 8) };
        loop {
            match self.commands.try_recv() {
                Ok(c) => self.command(c),
                Err(std_mpsc::TryRecvError::Empty) => return true,
                Err(std_mpsc::TryRecvError::Disconnected) => return !self.calls.calls.is_empty(),
            }
        }
    }

    /// Watch a leg's RTCP socket; its token, or none (logged) when it cannot be watched.
    fn watch_rtcp(&mut self, id: u64, leg: Leg, socket: &UdpSocket) -> Option<u64> {
        let token = self.calls.token(id, leg);
        match self.io.watch(socket.as_raw_fd(), token) {
            Ok(()) => Some(token),
            Err(e) => {
                self.calls.watches.remove(&token);
                warn!(error = %e, "media receiver: cannot watch an RTCP socket; no reports on this leg");
                None
            }
        }
    }

    /// Let a bridge go (its sockets closed): where our stream to the caller continues, and the
    /// SRTP sender it was lent.
    fn drop_bridge(&mut self, b: Bridge) -> (u16, Option<SrtpSender>) {
        if let Some(rtcp) = b.rtcp {
            self.unwatch(rtcp.token, Kept::Owned(rtcp.socket));
        }
        let OperatorSide { socket, to_caller, srtp_to_caller, .. } = *b.side;
        self.unwatch(b.token, Kept::Owned(socket));
        (to_caller.next_seq(), srtp_to_caller)
    }

    fn unwatch(&mut self, token: u64, socket: Kept) {
        self.calls.watches.remove(&token);
        self.io.unwatch(token, socket, &mut self.closing);
    }

    fn command(&mut self, c: Command) {
        match c {
            Command::Add { id, mut call } => {
                let token = self.calls.token(id, Leg::Caller);
                match self.io.watch(call.socket.as_raw_fd(), token) {
                    Ok(()) => {
                        call.token = token;
                        self.calls.calls.insert(id, *call);
                    }
                    Err(e) => {
                        self.calls.watches.remove(&token);
                        warn!(error = %e, "media receiver: cannot watch a call's socket");
                    }
                }
            }
            Command::Media { id, side } => {
                if let Some(call) = self.calls.calls.get_mut(&id) {
                    if let Some(b) = &mut call.bridge
                        && side.codec != call.side.codec
                    {
                        b.side.to_operator.retarget(side.codec, b.side.codec);
                        b.side.to_caller.retarget(b.side.codec, side.codec);
                    }
                    if side.srtp != call.side.srtp {
                        // Keys renegotiated: what the caller sends is checked with its new key; a
                        // relay to the caller and our reports protect with our (new) one.
                        call.srtp_from_caller = side.srtp.as_ref().map(Srtp::receiver);
                        if let Some(b) = &mut call.bridge {
                            b.side.srtp_to_caller = side.srtp.as_ref().map(Srtp::sender);
                        }
                        if let Some(rtcp) = &mut call.caller_rtcp {
                            rtcp.protect = side.srtp.as_ref().map(Srtp::sender);
                        }
                    }
                    call.side = side;
                    call.source = None;
                }
            }
            Command::Bridge { id, mut operator } => {
                if !self.calls.calls.contains_key(&id) {
                    return;
                }
                let token = self.calls.token(id, Leg::Operator);
                if let Err(e) = self.io.watch(operator.socket.as_raw_fd(), token) {
                    warn!(error = %e, "media receiver: cannot watch an operator's socket; nothing relayed");
                }
                let rtcp = operator.rtcp.take().and_then(|socket| {
                    let token = self.watch_rtcp(id, Leg::OperatorRtcp, &socket)?;
                    let now = super::uptime_millis();
                    Some(RtcpLeg::new(socket, token, operator.to_operator.ssrc(), Arc::default(), now))
                });
                let call = self.calls.calls.get_mut(&id).expect("checked above");
                call.operator_source = None;
                call.from_operator = Reception::default();
                call.operator_peer = None;
                if let Some(old) = call.bridge.replace(Bridge { side: operator, token, rtcp }) {
                    self.drop_bridge(old);
                }
            }
            Command::Rtcp { id, socket, our_ssrc, sent } => {
                if !self.calls.calls.contains_key(&id) {
                    return;
                }
                let Some(token) = self.watch_rtcp(id, Leg::CallerRtcp, &socket) else { return };
                let call = self.calls.calls.get_mut(&id).expect("checked above");
                let mut rtcp = RtcpLeg::new(socket, token, our_ssrc, sent, super::uptime_millis());
                rtcp.protect = call.side.srtp.as_ref().map(Srtp::sender);
                if let Some(old) = call.caller_rtcp.replace(rtcp) {
                    self.unwatch(old.token, Kept::Owned(old.socket));
                }
            }
            Command::OperatorMedia { id, remote } => {
                if let Some(call) = self.calls.calls.get_mut(&id)
                    && let Some(b) = &mut call.bridge
                {
                    b.side.remote = remote;
                    call.operator_source = None;
                }
            }
            Command::Quality { id, reply } => {
                let quality = self.calls.calls.get(&id).map(|c| ReceivedQuality {
                    caller: with_peer(c.from_caller.quality(), c.caller_rtcp.as_ref().and_then(|r| r.peer)),
                    operator: with_peer(c.from_operator.quality(), c.operator_peer),
                });
                let _ = reply.send(quality.unwrap_or_default());
            }
            Command::Unbridge { id, reply } => {
                let bridge = self.calls.calls.get_mut(&id).and_then(|c| c.bridge.take());
                let next = bridge.map(|b| self.drop_bridge(b));
                let _ = reply.send(next);
            }
            Command::Remove { id } => {
                if let Some(call) = self.calls.calls.remove(&id) {
                    if let Some(b) = call.bridge {
                        self.drop_bridge(b);
                    }
                    if let Some(rtcp) = call.caller_rtcp {
                        self.unwatch(rtcp.token, Kept::Owned(rtcp.socket));
                    }
                    self.unwatch(call.token, Kept::Shared(call.socket));
                }
            }
        }
    }
}

/// One packet from the caller's socket: keys in the portal and queue, relayed when bridged.
fn caller_packet(
    call: &mut Entry,
    stats: &ReceiverStats,
    now: Arrival,
    (packet, from): (&[u8], SocketAddr),
    plain: &mut [u8],
    out: &mut impl Outgoing,
) {
    if !accept_source(&mut call.source, call.side.remote, from) {
        stats.foreign.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let Some(packet) = reveal(&mut call.srtp_from_caller, stats, packet, plain) else { return };
    call.heard.store(now.millis, Ordering::Relaxed);
    call.from_caller.on_packet(packet, now.samples);
    match &mut call.bridge {
        Some(Bridge { side, rtcp, .. }) => {
            let b = &mut **side;
            let (srtp, sent) = (&mut b.srtp_to_operator, rtcp.as_ref().map(|r| &*r.sent));
            if let Some(to) = b.remote {
                out.send(&b.socket, to, |buf| seal(srtp, sent, now, b.to_operator.forward(packet, buf)?, buf));
            } else {
                b.to_operator.forward(packet, &mut [0u8; 2048]);
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
fn operator_packet(
    call: &mut Entry,
    stats: &ReceiverStats,
    now: Arrival,
    (packet, from): (&[u8], SocketAddr),
    plain: &mut [u8],
    out: &mut impl Outgoing,
) {
    let Some(b) = &mut call.bridge else { return };
    let b = &mut *b.side;
    // Only the operator's phone, as its SDP gave it, is relayed.
    if !accept_source(&mut call.operator_source, b.remote, from) {
        stats.foreign.fetch_add(1, Ordering::Relaxed);
        return;
    }
    let Some(packet) = reveal(&mut b.srtp_from_operator, stats, packet, plain) else { return };
    call.from_operator.on_packet(packet, now.samples);
    match call.side.remote {
        // An encrypted caller's leg without its sender (never, unless lost) gets nothing.
        Some(to) if call.side.sending && (call.side.srtp.is_none() || b.srtp_to_caller.is_some()) => {
            let (srtp, sent) = (&mut b.srtp_to_caller, call.caller_rtcp.as_ref().map(|r| &*r.sent));
            out.send(&call.socket, to, |buf| seal(srtp, sent, now, b.to_caller.forward(packet, buf)?, buf))
        }
        _ => {
            b.to_caller.forward(packet, &mut [0u8; 2048]);
        }
    }
}

/// The plain RTP of a packet from a leg: the packet itself, or decrypted into `plain` when the
/// leg is encrypted; `None` (counted) when it fails authentication or is a replay.
fn reveal<'a>(
    srtp: &mut Option<SrtpReceiver>,
    stats: &ReceiverStats,
    packet: &'a [u8],
    plain: &'a mut [u8],
) -> Option<&'a [u8]> {
    let Some(srtp) = srtp else { return Some(packet) };
    match srtp.unprotect_rtp(packet, plain) {
        Ok(n) => Some(&plain[..n]),
        Err(why) => {
            stats.refused(why);
            None
        }
    }
}

/// A relayed packet of `len` bytes in `buf`: counted for the leg's sender reports, protected
/// when the leg is encrypted.
fn seal(
    srtp: &mut Option<SrtpSender>,
    sent: Option<&SentCount>,
    now: Arrival,
    len: usize,
    buf: &mut [u8],
) -> Option<usize> {
    if let Some(sent) = sent {
        // The relay writes a 12-byte header.
        sent.add(len.saturating_sub(12), u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]), now.uptime);
    }
    match srtp {
        Some(s) => s.protect_rtp(buf, len),
        None => Some(len),
    }
}

/// A leg's quality with what its phone reported about our stream, if it did.
fn with_peer(quality: Option<LegQuality>, peer: Option<PeerView>) -> Option<LegQuality> {
    match (quality, peer) {
        (Some(q), Some(view)) => Some(q.with_report(&view)),
        (q, _) => q,
    }
}

fn count_send(stats: &ReceiverStats, r: io::Result<()>) {
    match r {
        Ok(()) => stats.relayed.fetch_add(1, Ordering::Relaxed),
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
    use crate::media::srtp::{MasterKey, Suite};
    use rtp::header::Header;
    use webrtc_util::marshal::{Marshal, MarshalSize, Unmarshal};

    const PCMU: LegCodec = LegCodec { law: Law::Pcmu, payload_type: 0, dtmf_payload_type: Some(101) };

    fn negotiated(remote: SocketAddr) -> Negotiated {
        Negotiated::plain(Law::Pcmu, Some(remote))
    }

    /// A plain operator's side (PCMU, no SRTP, no RTCP).
    fn plain_side(socket: UdpSocket, remote: Option<SocketAddr>, to_operator: Relay, to_caller: Relay) -> OperatorSide {
        OperatorSide {
            socket,
            codec: PCMU,
            remote,
            to_operator,
            to_caller,
            srtp_to_operator: None,
            srtp_from_operator: None,
            srtp_to_caller: None,
            rtcp: None,
        }
    }

    fn key(byte: u8) -> MasterKey {
        MasterKey::from_bytes([byte; 30])
    }

    /// A leg encrypted with the peer's key `theirs` and our key `ours`.
    fn encrypted(remote: SocketAddr, theirs: u8, ours: u8) -> Negotiated {
        let srtp = Srtp { tag: 1, suite: Suite::AesCm128HmacSha1_80, theirs: key(theirs), ours: key(ours) };
        Negotiated { srtp: Some(srtp), ..negotiated(remote) }
    }

    fn srtp_send(s: &UdpSocket, sender: &mut SrtpSender, packet: &[u8], to: SocketAddr) -> Vec<u8> {
        let mut buf = packet.to_vec();
        buf.resize(packet.len() + crate::media::srtp::RTP_OVERHEAD, 0);
        let n = sender.protect_rtp(&mut buf, packet.len()).unwrap();
        s.send_to(&buf[..n], to).unwrap();
        buf[..n].to_vec()
    }

    fn srtp_recv(s: &UdpSocket, receiver: &mut SrtpReceiver) -> Option<(Header, Vec<u8>)> {
        let mut buf = [0u8; 512];
        let n = s.recv(&mut buf).ok()?;
        let mut plain = [0u8; 512];
        let n = receiver.unprotect_rtp(&buf[..n], &mut plain).expect("protected with the leg's key");
        let h = Header::unmarshal(&mut &plain[..n]).unwrap();
        let body = plain[h.marshal_size()..n].to_vec();
        Some((h, body))
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

    /// Both ways of talking to the kernel; io_uring is not optional where the tests run.
    const BOTH: [MediaIo; 2] = [MediaIo::Epoll, MediaIo::IoUring];

    #[tokio::test]
    async fn keys_come_from_the_caller_only_once_per_press() {
        for io in BOTH {
            keys_from_the_caller(io).await;
        }
    }

    async fn keys_from_the_caller(io: MediaIo) {
        let rx = MediaReceiver::start(1, ClockPriority::Normal, io).unwrap();
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
        for io in BOTH {
            bridge_both_ways(io).await;
        }
    }

    async fn bridge_both_ways(io: MediaIo) {
        let rx = MediaReceiver::start(2, ClockPriority::Normal, io).unwrap();
        let (call, op) = (ours(), ours());
        let (caller_phone, operator_phone) = (socket(), socket());
        let inbound = rx.attach(Arc::clone(&call), &negotiated(caller_phone.local_addr().unwrap()));
        let (call_addr, op_addr) = (call.local_addr().unwrap(), op.local_addr().unwrap());
        let op_socket = Arc::try_unwrap(op).unwrap();
        inbound.bridge(plain_side(
            op_socket,
            Some(operator_phone.local_addr().unwrap()),
            Relay::new(PCMU, PCMU, 0xaaaa, 100, 0),
            Relay::new(PCMU, PCMU, 0xcccc, 500, 0),
        ));
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
        let next = inbound.unbridge().await.map(|(seq, _)| seq);
        assert_eq!(next, Some(501), "our stream to the caller continues after 500");
        caller_phone.send_to(&rtp(0, 10, 1160, &[1; 160]), call_addr).unwrap();
        operator_phone.set_read_timeout(Some(Duration::from_millis(150))).unwrap();
        assert!(recv(&operator_phone).is_none(), "nothing relayed once the bridge has ended");
        assert_eq!(rx.stats().relayed.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn an_encrypted_bridge_checks_decrypts_and_protects_each_leg_with_its_keys() {
        for io in BOTH {
            encrypted_bridge(io).await;
        }
    }

    async fn encrypted_bridge(io: MediaIo) {
        let rx = MediaReceiver::start(1, ClockPriority::Normal, io).unwrap();
        let (call, op) = (ours(), UdpSocket::bind("127.0.0.1:0").unwrap());
        let (caller_phone, operator_phone) = (socket(), socket());
        // Caller's key 1, ours to the caller 2; operator's phone's key 3, ours to it 4.
        let caller_leg = encrypted(caller_phone.local_addr().unwrap(), 1, 2);
        let operator_leg = encrypted(operator_phone.local_addr().unwrap(), 3, 4);
        let inbound = rx.attach(Arc::clone(&call), &caller_leg);
        let (call_addr, op_addr) = (call.local_addr().unwrap(), op.local_addr().unwrap());
        let srtp = operator_leg.srtp.as_ref().unwrap();
        inbound.bridge(OperatorSide {
            socket: op,
            codec: PCMU,
            remote: operator_leg.remote,
            to_operator: Relay::new(PCMU, PCMU, 0xaaaa, 100, 0),
            to_caller: Relay::new(PCMU, PCMU, 0xcccc, 500, 0),
            srtp_to_operator: Some(srtp.sender()),
            srtp_from_operator: Some(srtp.receiver()),
            srtp_to_caller: Some(caller_leg.srtp.as_ref().unwrap().sender()),
            rtcp: None,
        });
        std::thread::sleep(Duration::from_millis(50));
        let (mut caller_sends, mut caller_hears) = (
            SrtpSender::new(Suite::AesCm128HmacSha1_80, &key(1)),
            SrtpReceiver::new(Suite::AesCm128HmacSha1_80, &key(2)),
        );
        let (mut phone_sends, mut phone_hears) = (
            SrtpSender::new(Suite::AesCm128HmacSha1_80, &key(3)),
            SrtpReceiver::new(Suite::AesCm128HmacSha1_80, &key(4)),
        );
        let first = srtp_send(&caller_phone, &mut caller_sends, &rtp(0, 9, 1000, &[1; 160]), call_addr);
        let (h, body) = srtp_recv(&operator_phone, &mut phone_hears).expect("relayed to the operator");
        assert_eq!((h.ssrc, h.sequence_number, body), (0xaaaa, 100, vec![1; 160]));
        srtp_send(&operator_phone, &mut phone_sends, &rtp(0, 40, 0, &[2; 160]), op_addr);
        let (h, body) = srtp_recv(&caller_phone, &mut caller_hears).expect("relayed to the caller");
        assert_eq!((h.ssrc, h.sequence_number, body), (0xcccc, 500, vec![2; 160]));
        // A replay, a flipped bit, plain RTP and a packet under another key: none relayed.
        caller_phone.send_to(&first, call_addr).unwrap();
        let mut flipped =
            srtp_send(&caller_phone, &mut caller_sends, &rtp(0, 10, 1160, &[1; 160]), "127.0.0.1:9".parse().unwrap());
        flipped[30] ^= 0x10;
        caller_phone.send_to(&flipped, call_addr).unwrap();
        caller_phone.send_to(&rtp(0, 11, 1320, &[1; 160]), call_addr).unwrap();
        let mut stranger = SrtpSender::new(Suite::AesCm128HmacSha1_80, &key(9));
        srtp_send(&operator_phone, &mut stranger, &rtp(0, 41, 160, &[3; 160]), op_addr);
        operator_phone.set_read_timeout(Some(Duration::from_millis(150))).unwrap();
        caller_phone.set_read_timeout(Some(Duration::from_millis(150))).unwrap();
        assert!(recv(&operator_phone).is_none() && recv(&caller_phone).is_none(), "{io:?}: nothing relayed");
        let stats = rx.stats();
        assert_eq!(stats.srtp_replayed.load(Ordering::Relaxed), 1, "{io:?}");
        assert_eq!(stats.srtp_unauthenticated.load(Ordering::Relaxed), 3, "{io:?}");
        assert_eq!(stats.relayed.load(Ordering::Relaxed), 2, "{io:?}");
        // The genuine stream goes on, and the caller's sender comes back with the stream.
        srtp_send(&caller_phone, &mut caller_sends, &rtp(0, 12, 1480, &[5; 160]), call_addr);
        let (_, body) = srtp_recv(&operator_phone, &mut phone_hears).expect("relayed");
        assert_eq!(body, vec![5; 160]);
        let (next, sender) = inbound.unbridge().await.expect("bridged");
        assert_eq!(next, 501);
        assert!(sender.expect("lent back").keyed_with(Suite::AesCm128HmacSha1_80, &key(2)));
    }

    #[tokio::test]
    async fn rtcp_reports_go_both_ways_give_the_round_trip_and_keep_a_silent_call_alive() {
        for io in BOTH {
            rtcp_both_ways(io).await;
        }
    }

    async fn rtcp_both_ways(io: MediaIo) {
        let rx = MediaReceiver::start(1, ClockPriority::Normal, io).unwrap();
        let call = ours();
        let call_rtcp = crate::media::rtp_port::rtcp_beside(&call).expect("the next port is free");
        let rtcp_addr = call_rtcp.local_addr().unwrap();
        let (phone, phone_rtcp) = (socket(), socket());
        let inbound = rx.attach(Arc::clone(&call), &negotiated(phone.local_addr().unwrap()));
        let sent = Arc::new(SentCount::default());
        sent.add(160, 8000, crate::media::uptime_millis());
        inbound.rtcp(call_rtcp, 0x5eed, Arc::clone(&sent));
        for seq in 0..50u16 {
            phone.send_to(&rtp(0, seq, u32::from(seq) * 160, &[1; 160]), call.local_addr().unwrap()).unwrap();
        }
        // The phone's sender report (which fixes where ours go), then ours within 3.5 s.
        let wall = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
        let sender = rtcp::Sent { packets: 50, octets: 8000 };
        phone_rtcp.send_to(&rtcp::compose(77, "phone", sender, rtcp::ntp(wall()), 0, None), rtcp_addr).unwrap();
        phone_rtcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        let n = phone_rtcp.recv(&mut buf).expect("our report within 3.5 s");
        let ours = rtcp::read(&buf[..n], 77, rtcp::ntp(wall())).expect("RTCP");
        let (ssrc, our_ntp) = ours.sender_report.expect("a sender report: the stream has sent");
        assert_eq!(ssrc, 0x5eed, "{io:?}");
        let about_phone = ours.about_us.expect("a report block about the phone's stream");
        assert_eq!(
            (about_phone.cumulative_lost, about_phone.rtt_ms.is_some()),
            (0, true),
            "{io:?}: it refers to the phone's SR"
        );
        // The phone reports on our stream: the round trip from our SR (LSR) and its 20 ms hold (DLSR).
        tokio::time::sleep(Duration::from_millis(30)).await;
        let mut reception = Reception::default();
        reception.on_rtp(0x5eed, 1, 0, 0);
        reception.on_sender_report(our_ntp, rtcp::ntp(wall() - Duration::from_millis(20)));
        let rr = rtcp::compose(77, "phone", rtcp::Sent::default(), 0, 0, reception.report(rtcp::ntp(wall())));
        let silent_since = inbound.last_heard();
        phone_rtcp.send_to(&rr, rtcp_addr).unwrap();
        // Malformed RTCP is ignored.
        phone_rtcp.send_to(&[0x80, 201, 0, 40, 1, 2], rtcp_addr).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let q = inbound.quality().await.caller.expect("the caller's leg");
        let reported = q.reported.expect("the phone's report");
        let rtt = reported.rtt_ms.expect("a round trip");
        assert!((0.0..50.0).contains(&rtt), "{io:?}: {rtt} ms");
        assert_eq!(q.packets, 50);
        assert!(inbound.last_heard() > silent_since, "{io:?}: RTCP alone keeps the call alive");
        assert_eq!(rx.stats().rtcp_received.load(Ordering::Relaxed), 2, "{io:?}");
        assert!(rx.stats().rtcp_sent.load(Ordering::Relaxed) >= 1);
    }

    #[tokio::test]
    async fn sockets_are_closed_once_their_call_ends() {
        for io in BOTH {
            let rx = MediaReceiver::start(1, ClockPriority::Normal, io).unwrap();
            let (call, op) = (ours(), UdpSocket::bind("127.0.0.1:0").unwrap());
            let (call_addr, op_addr) = (call.local_addr().unwrap(), op.local_addr().unwrap());
            let phone = socket();
            let inbound = rx.attach(Arc::clone(&call), &negotiated(phone.local_addr().unwrap()));
            inbound.bridge(plain_side(
                op,
                Some(phone.local_addr().unwrap()),
                Relay::new(PCMU, PCMU, 1, 0, 0),
                Relay::new(PCMU, PCMU, 2, 0, 0),
            ));
            phone.send_to(&rtp(0, 1, 0, &[1; 160]), call_addr).unwrap();
            recv(&phone).expect("bridged");
            inbound.unbridge().await;
            drop((inbound, call));
            // The ports are free again once the thread has let the sockets go.
            let rebound = (0..50).find_map(|_| {
                std::thread::sleep(Duration::from_millis(10));
                UdpSocket::bind(call_addr).ok().zip(UdpSocket::bind(op_addr).ok())
            });
            assert!(rebound.is_some(), "{io:?}: both ports closed");
        }
    }

    #[tokio::test]
    async fn a_stream_of_many_calls_is_relayed_whole() {
        // 200 bridged calls, 20 packets each way: every packet relayed, in order, by each way
        // of talking to the kernel.
        for io in BOTH {
            let rx = MediaReceiver::start(2, ClockPriority::Normal, io).unwrap();
            // Phones with room for the whole stream, so that a test thread held up by the
            // machine loses nothing of what the engine relayed.
            let phone = || {
                let s = socket();
                socket2::SockRef::from(&s).set_recv_buffer_size(4 << 20).unwrap();
                s
            };
            let (a, b) = (phone(), phone());
            let mut calls = Vec::new();
            for _ in 0..200 {
                let call = ours();
                let op = UdpSocket::bind("127.0.0.1:0").unwrap();
                let op_addr = op.local_addr().unwrap();
                let inbound = rx.attach(Arc::clone(&call), &negotiated(a.local_addr().unwrap()));
                inbound.bridge(plain_side(
                    op,
                    Some(b.local_addr().unwrap()),
                    Relay::new(PCMU, PCMU, 1, 0, 0),
                    Relay::new(PCMU, PCMU, 2, 0, 0),
                ));
                calls.push((inbound, call.local_addr().unwrap(), op_addr));
            }
            std::thread::sleep(Duration::from_millis(50));
            // Read as it comes (the phones' receive buffers would not hold it all).
            let count = |s: &UdpSocket| {
                let s = s.try_clone().unwrap();
                std::thread::spawn(move || std::iter::from_fn(|| recv(&s)).count())
            };
            let (at_a, at_b) = (count(&a), count(&b));
            for seq in 0..20u16 {
                for (_, call_addr, op_addr) in &calls {
                    a.send_to(&rtp(0, seq, u32::from(seq) * 160, &[seq as u8; 160]), call_addr).unwrap();
                    b.send_to(&rtp(0, seq, u32::from(seq) * 160, &[seq as u8; 160]), op_addr).unwrap();
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            assert_eq!((at_a.join().unwrap(), at_b.join().unwrap()), (4000, 4000), "{io:?}");
            assert_eq!(rx.stats().relayed.load(Ordering::Relaxed), 8000, "{io:?}");
            assert_eq!(rx.stats().send_errors.load(Ordering::Relaxed), 0, "{io:?}");
        }
    }
}
