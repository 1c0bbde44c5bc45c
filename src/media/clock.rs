//! The media clock: a few threads that send every call's RTP on one shared 20 ms schedule.
//!
//! A task per call waking every 20 ms costs a timer and a task switch per packet, and at a few
//! thousand calls the tasks' wake-ups drift against each other. Here each pacer thread owns a
//! share of the calls, split into slots spread evenly over the 20 ms frame (pacers interleaved),
//! and at each slot's instant sends one frame for each of its calls, in a fixed order: a call's
//! packets leave at the same phase of every frame, and the load is spread over the frame instead
//! of bursting at its start. A pacer that wakes more than a frame late sends at most
//! [`MAX_BURST`] frames per call and drops the rest (counted and logged), so lateness never turns
//! into a burst at the receiver. The schedule is absolute (frame n at base + n x 20 ms): no drift.
//!
//! Written by hand: the RTP crates of the ecosystem (webrtc-rs, rtp) build packets but do not
//! pace thousands of plain RTP/AVP streams from a shared clock.

use super::g711::Law;
use super::outbound::{Outbound, Protection};
use super::playback::Playback;
pub use super::priority::ClockPriority;
use super::priority::apply_priority;
use super::rtcp::SentCount;
use super::rtp_stream::{FRAME_SAMPLES, RtpStream};
use super::sdp::Negotiated;
use super::srtp::SrtpSender;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// 20 ms, the packet interval of G.711 at ptime 20.
pub const FRAME: Duration = Duration::from_millis(20);
/// Slots per pacer in a frame.
const SLOTS: u32 = 4;
/// Frames sent at once to a call when its pacer is late; older ones are dropped.
pub const MAX_BURST: u64 = 2;
/// SCHED_FIFO level of the pacers at [`ClockPriority::Realtime`]: above the receiving threads
/// (level 1), so a busy relay never delays a frame.
const PACER_RT_PRIORITY: i32 = 2;

/// Counters of the whole clock (all pacers).
#[derive(Debug, Default)]
pub struct ClockStats {
    /// RTP packets handed to the kernel.
    pub sent: AtomicU64,
    /// Frames dropped because a pacer was more than a frame late.
    pub lost: AtomicU64,
    /// Packets the kernel refused (buffer full, unreachable...).
    pub send_errors: AtomicU64,
    /// Calls registered now.
    pub streams: AtomicUsize,
}

/// Handle to the clock's threads; cheap to clone. The threads end when every handle and every
/// call's [`Voice`] are gone.
#[derive(Clone)]
pub struct MediaClock {
    inner: Arc<Inner>,
}

struct Inner {
    pacers: Vec<Mutex<std_mpsc::Sender<Arc<Stream>>>>,
    next: AtomicUsize,
    stats: Arc<ClockStats>,
}

/// One call's outgoing media as the pacer sees it.
struct Stream {
    socket: Arc<UdpSocket>,
    /// What went out, for the leg's RTCP sender reports (a relay continuing the stream adds).
    sent: Arc<SentCount>,
    state: Mutex<StreamState>,
    finished: mpsc::UnboundedSender<u64>,
}

struct StreamState {
    out: Outbound,
    closed: bool,
}

impl Stream {
    fn lock(&self) -> MutexGuard<'_, StreamState> {
        // A pacer that panicked mid-frame leaves consistent state (one frame's numbering at worst).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl MediaClock {
    /// Start `pacers` threads (at least one) at `priority`.
    pub fn start(pacers: usize, priority: ClockPriority) -> std::io::Result<MediaClock> {
        let pacers = pacers.max(1);
        let stats = Arc::new(ClockStats::default());
        let base = Instant::now() + FRAME;
        let mut senders = Vec::with_capacity(pacers);
        for index in 0..pacers {
            let (tx, rx) = std_mpsc::channel();
            // Pacer i starts i/n of a slot later: the n x SLOTS instants tile the frame evenly.
            let offset = FRAME / SLOTS * index as u32 / pacers as u32;
            let pacer = Pacer::new(rx, Arc::clone(&stats), base + offset);
            std::thread::Builder::new().name(format!("media-clock-{index}")).spawn(move || pacer.run(priority))?;
            senders.push(Mutex::new(tx));
        }
        Ok(MediaClock { inner: Arc::new(Inner { pacers: senders, next: AtomicUsize::new(0), stats }) })
    }

    /// One pacer per core (at most 4): the send loop is the engine's busiest path under load.
    pub fn start_per_core(priority: ClockPriority) -> std::io::Result<MediaClock> {
        Self::start(std::thread::available_parallelism().map_or(1, |n| n.get()).min(4), priority)
    }

    pub fn stats(&self) -> &ClockStats {
        &self.inner.stats
    }

    /// Add a call: its RTP leaves `socket` from the next frame on, following `media`.
    pub fn attach(&self, socket: Arc<UdpSocket>, media: &Negotiated) -> Voice {
        let rtp = RtpStream::new(media.law.payload_type(), rand::random(), rand::random(), rand::random());
        let out = Outbound::new(rtp, media.remote, media.direction.we_send(), Protection::of(media.srtp.as_ref()));
        let (finished, done) = mpsc::unbounded_channel();
        let state = Mutex::new(StreamState { out, closed: false });
        let stream = Arc::new(Stream { socket, sent: Arc::default(), state, finished });
        let i = self.inner.next.fetch_add(1, Ordering::Relaxed) % self.inner.pacers.len();
        let sent = self.inner.pacers[i].lock().unwrap_or_else(|e| e.into_inner()).send(Arc::clone(&stream));
        if sent.is_err() {
            warn!("media clock thread gone: this call sends no audio");
        } else {
            self.inner.stats.streams.fetch_add(1, Ordering::Relaxed);
        }
        Voice { stream, done, next_id: 0, current: None }
    }
}

/// A stream handed over: its SSRC, next sequence number, the timestamp of now, and its SRTP
/// sender (lent until [`Voice::take_back`]).
pub struct Handover {
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    pub srtp: Option<SrtpSender>,
}

/// A call's handle on its outgoing media. Dropping it takes the call off the clock.
pub struct Voice {
    stream: Arc<Stream>,
    done: mpsc::UnboundedReceiver<u64>,
    next_id: u64,
    current: Option<u64>,
}

impl Voice {
    /// Play `clips` (encoded in `law`) from the next frame on, replacing what was playing.
    pub fn play(&mut self, clips: Vec<Arc<[u8]>>, law: Law, looping: bool) {
        self.next_id += 1;
        self.current = Some(self.next_id);
        self.stream.lock().out.play(self.next_id, Playback::new(clips, law), looping);
    }

    /// Stop at once (barge-in).
    pub fn stop(&mut self) {
        self.current = None;
        self.stream.lock().out.stop();
    }

    /// Whether a playback is in progress (as far as the call knows).
    pub fn is_playing(&self) -> bool {
        self.current.is_some()
    }

    /// Follow new media parameters (re-INVITE, late answer).
    pub fn set_media(&self, media: &Negotiated) {
        let mut st = self.stream.lock();
        st.out.set_route(media.remote, media.direction.we_send(), media.law.payload_type());
        st.out.set_srtp(media.srtp.as_ref());
    }

    /// What the stream has sent (the clock and any relay continuing it count there).
    pub fn sent(&self) -> Arc<SentCount> {
        Arc::clone(&self.stream.sent)
    }

    /// The SSRC of the call's stream.
    pub fn ssrc(&self) -> u32 {
        self.stream.lock().out.rtp().ssrc()
    }

    /// Take the stream back after a relay sent on it, continuing from its sequence number
    /// with the SRTP sender it was lent.
    pub fn take_back(&self, next_seq: u16, srtp: Option<SrtpSender>) {
        self.stream.lock().out.take_back(next_seq, srtp);
    }

    /// Stop playing and hand over the stream to a relay that continues it (a bridge to an
    /// operator).
    pub fn hand_over(&mut self) -> Handover {
        self.stop();
        let mut st = self.stream.lock();
        let (seq, ts) = st.out.rtp().position();
        Handover { ssrc: st.out.rtp().ssrc(), seq, ts, srtp: st.out.lend_srtp() }
    }

    /// Wait until the current playback ends. Cancel-safe: use it in `select!`. Never returns
    /// while nothing is playing.
    pub async fn finished(&mut self) {
        loop {
            match self.done.recv().await {
                Some(id) if Some(id) == self.current => {
                    self.current = None;
                    return;
                }
                Some(_) => {}
                None => std::future::pending::<()>().await,
            }
        }
    }
}

impl Drop for Voice {
    fn drop(&mut self) {
        self.stream.lock().closed = true;
    }
}

/// One pacer thread: its calls in slots, each slot served once per frame at its own instant.
struct Pacer {
    incoming: std_mpsc::Receiver<Arc<Stream>>,
    stats: Arc<ClockStats>,
    /// Instant of slot 0 of frame 0.
    base: Instant,
    slots: Vec<Vec<Arc<Stream>>>,
    /// Per slot, the next frame number to serve.
    next_frame: Vec<u64>,
    /// Lost frames not yet logged, and when the last warning went out.
    unlogged_loss: u64,
    last_warning: Option<Instant>,
}

impl Pacer {
    fn new(incoming: std_mpsc::Receiver<Arc<Stream>>, stats: Arc<ClockStats>, base: Instant) -> Self {
        let slots = SLOTS as usize;
        Self {
            incoming,
            stats,
            base,
            slots: vec![Vec::new(); slots],
            next_frame: vec![0; slots],
            unlogged_loss: 0,
            last_warning: None,
        }
    }

    fn period() -> Duration {
        FRAME / SLOTS
    }

    /// Instant of slot `s` in frame `n`.
    fn instant(&self, s: usize, n: u64) -> Instant {
        self.base + FRAME * n as u32 + Self::period() * s as u32
    }

    fn run(mut self, priority: ClockPriority) {
        let got = apply_priority(priority, PACER_RT_PRIORITY);
        static WARNED: std::sync::Once = std::sync::Once::new();
        if got == priority {
            debug!(?got, "media clock pacer started");
        } else {
            WARNED.call_once(|| warn!(wanted = ?priority, ?got, "media clock pacer: priority not permitted, running lower (pacing may suffer under load)"));
        }
        let mut buf = [0u8; 512];
        loop {
            if !self.take_new_streams() {
                debug!("media clock pacer stopped");
                return;
            }
            let now = Instant::now();
            for s in 0..self.slots.len() {
                let due_at = self.instant(s, self.next_frame[s]);
                if due_at > now {
                    continue;
                }
                // Frames of this slot due by now (one, unless the thread was held up).
                let due = (now - due_at).as_nanos() as u64 / FRAME.as_nanos() as u64 + 1;
                self.serve(s, due, &mut buf);
                self.next_frame[s] += due;
            }
            self.warn_loss(now);
            let wake = (0..self.slots.len()).map(|s| self.instant(s, self.next_frame[s])).min().expect("slots");
            let now = Instant::now();
            if wake > now {
                std::thread::sleep(wake - now);
            }
        }
    }

    /// Move new calls into the least loaded slot; false when the clock is gone and no call is left.
    fn take_new_streams(&mut self) -> bool {
        loop {
            match self.incoming.try_recv() {
                Ok(stream) => {
                    let slot = (0..self.slots.len()).min_by_key(|s| self.slots[*s].len()).expect("slots");
                    self.slots[slot].push(stream);
                }
                Err(std_mpsc::TryRecvError::Empty) => return true,
                Err(std_mpsc::TryRecvError::Disconnected) => return self.slots.iter().any(|s| !s.is_empty()),
            }
        }
    }

    /// Send the due frames of every call in slot `s`, in their fixed order.
    fn serve(&mut self, s: usize, due: u64, buf: &mut [u8]) {
        let lost = due.saturating_sub(MAX_BURST);
        let send = due - lost;
        let stats = &self.stats;
        let mut lost_frames = 0;
        // retain keeps the order, so each call keeps its place (and phase) in the slot.
        self.slots[s].retain(|stream| {
            let mut st = stream.lock();
            if st.closed {
                stats.streams.fetch_sub(1, Ordering::Relaxed);
                return false;
            }
            let mut finished = None;
            if lost > 0 {
                lost_frames += lost;
                finished = st.out.lose(lost as u32);
            }
            for _ in 0..send {
                if finished.is_some() {
                    break;
                }
                let tick = st.out.tick(buf);
                finished = tick.finished;
                if let Some((n, to)) = tick.packet {
                    match socket2::SockRef::from(&*stream.socket).send_to(&buf[..n], &to.into()) {
                        Ok(_) => {
                            let timestamp = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
                            stream.sent.add(FRAME_SAMPLES, timestamp, super::uptime_millis());
                            stats.sent.fetch_add(1, Ordering::Relaxed)
                        }
                        Err(_) => stats.send_errors.fetch_add(1, Ordering::Relaxed),
                    };
                }
            }
            drop(st);
            if let Some(id) = finished {
                let _ = stream.finished.send(id);
            }
            true
        });
        if lost_frames > 0 {
            stats.lost.fetch_add(lost_frames, Ordering::Relaxed);
            self.unlogged_loss += lost_frames;
        }
    }

    /// At most one warning a second about frames dropped for lateness.
    fn warn_loss(&mut self, now: Instant) {
        if self.unlogged_loss == 0 || self.last_warning.is_some_and(|t| now - t < Duration::from_secs(1)) {
            return;
        }
        warn!(frames = self.unlogged_loss, "media clock ran more than a frame late: frames dropped, not burst");
        self.unlogged_loss = 0;
        self.last_warning = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn media(to: SocketAddr) -> Negotiated {
        Negotiated::plain(Law::Pcmu, Some(to))
    }

    fn clip(frames: usize) -> Arc<[u8]> {
        vec![0x55u8; frames * 160].into()
    }

    #[tokio::test]
    async fn calls_are_paced_by_the_shared_clock_and_leave_it_when_dropped() {
        let clock = MediaClock::start(2, ClockPriority::Normal).unwrap();
        let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let to = peer.local_addr().unwrap();
        let a = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let b = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let mut va = clock.attach(Arc::clone(&a), &media(to));
        let mut vb = clock.attach(Arc::clone(&b), &media(to));
        assert_eq!(clock.stats().streams.load(Ordering::Relaxed), 2);
        va.play(vec![clip(10)], Law::Pcmu, false);
        vb.play(vec![clip(3)], Law::Pcmu, true);
        let started = Instant::now();
        tokio::time::timeout(Duration::from_secs(2), va.finished()).await.expect("the prompt ends");
        let took = started.elapsed();
        assert!(!va.is_playing());
        // 10 frames plus the tick that notices the end, from the next slot on.
        assert!(took >= Duration::from_millis(200) && took < Duration::from_millis(400), "paced: {took:?}");
        let (mut from_a, mut from_b) = (0, 0);
        let mut buf = [0u8; 512];
        while let Ok(Ok((n, from))) = tokio::time::timeout(Duration::from_millis(50), peer.recv_from(&mut buf)).await {
            assert_eq!(n, 172);
            if from == a.local_addr().unwrap() {
                from_a += 1;
            } else if from == b.local_addr().unwrap() {
                from_b += 1;
            }
            if from_b > 30 {
                break;
            }
        }
        assert_eq!(from_a, 10, "one packet per frame of the prompt, no more");
        assert!(from_b > 10, "the looping message keeps going: {from_b}");
        assert!(vb.is_playing());
        drop(vb);
        tokio::time::sleep(Duration::from_millis(60)).await;
        assert_eq!(clock.stats().streams.load(Ordering::Relaxed), 1, "a dropped call leaves the clock");
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(60), peer.recv_from(&mut buf)).await {}
        va.play(vec![clip(100)], Law::Pcmu, false);
        peer.recv_from(&mut buf).await.unwrap();
        va.stop();
        let mut after = 0;
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(100), peer.recv_from(&mut buf)).await {
            after += 1;
        }
        assert!(after <= 1, "barge-in stops the prompt at once (a frame in flight at most): {after}");
        assert!(clock.stats().sent.load(Ordering::Relaxed) >= 20);
    }
}
