//! rtp-meter: a UDP sink for the RTP that centralino sends to its callers, used by the
//! scripts in bench/. Every call's SDP offer points at this one socket; streams are told apart
//! by (SSRC, source port). Arrival times are the kernel's receive timestamps (SO_TIMESTAMPNS),
//! so a meter thread that is scheduled late does not bend the figures; the kernel's own drop
//! counter for this socket (SO_RXQ_OVFL) tells whether the meter kept up.
//!
//! What it measures, per stream, inside a window:
//! - intervals between consecutive packets (sequence number + 1, marker bit clear: the first
//!   packet of a prompt after silence starts a new talkspurt and its interval is not counted);
//! - the fraction of those within NOMINAL +- TOLERANCE (20 ms +- 2 ms), p50/p99/p99.9/max;
//! - loss from sequence gaps, duplicates/reordering.
//!
//! It also keeps every call alive: the engine ends a call after `media_timeout_seconds` without
//! RTP from the caller, so the meter sends a small RTP packet to each stream's source every
//! `--keepalive-ms` (or, with `--echo`, returns every packet to its sender, like a caller
//! talking all the time).
//!
//! The window starts `--settle` seconds after `--streams N` distinct streams were seen (or at
//! `--max-wait`), and lasts `--window` seconds; the report is printed then and the meter goes on
//! as a sink until SIGTERM/SIGINT or `--max-run`. Without `--streams`, the window is the whole
//! run from the first packet, reported on exit.
//!
//! `--talk` (bridged calls) makes the meter a party of every call it hears: to each source it
//! sends its own 20 ms PCMU stream whose payload starts with the send time (CLOCK_REALTIME ns)
//! and the tag `TALK`; packets that arrive carrying such a payload (relayed by the engine from
//! the other leg, PCMU on both legs so the payload passes unchanged) give the one-way delay
//! through the engine, kernel receive timestamp minus send time (the `delay` line).
//!
//! `--srtp-key KEY` (with `--srtp-keys FILE`) makes the streams SRTP (AES_CM_128_HMAC_SHA1_80):
//! the meter's own with KEY (the inline key of the SDP the bench's sipp sends), the engine's
//! checked and decrypted with the key its SDP gave for the port they come from, read from FILE
//! (lines `srtp PORT KEY`, written by sipp as calls are set up, read again as it grows).
//! Packets from a port whose key is not known yet, or that fail authentication, are counted
//! (`undecrypted`) and otherwise ignored.
//!
//! `--discard PORT` also binds a socket that is never read (smallest receive buffer): streams
//! sent there cost the engine what any send costs, but the meter nothing, so a sample of the
//! calls can be measured without the meter competing with the engine for the CPU.

use std::collections::HashMap;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The engine's SRTP, compiled in: the bench protects and checks with the same code the
/// engine runs, which the engine's tests check against webrtc-srtp, RFC 3711 and baresip.
#[path = "../../../src/media/srtp.rs"]
#[allow(dead_code)]
mod srtp;
use srtp::{MasterKey, SrtpReceiver, SrtpSender, Suite};

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::Relaxed);
}

const USAGE: &str = "\
usage: rtp-meter [--listen 127.0.0.1:40000] [--streams N] [--window SECS] [--settle SECS]
                 [--max-wait SECS] [--max-run SECS] [--keepalive-ms MS] [--echo]
                 [--nominal-ms 20] [--tolerance-ms 2] [--discard PORT] [--talk] [--talk-to FILE]
  --streams N      start the window once N distinct streams were seen (0: whole run)
  --window SECS    length of the measured window (default 20)
  --settle SECS    delay between the N-th stream and the window start (default 1)
  --max-wait SECS  start the window anyway this long after the meter started (default 120)
  --max-run SECS   exit after this long in any case (default 600)
  --keepalive-ms   RTP keepalive to every stream's source (default 1000, 0 = none)
  --echo           send every packet back to its source (full-duplex load)
  --discard PORT   also bind 127.0.0.1:PORT and never read it (a sink that costs nothing)
  --talk           send a timestamped 20 ms stream to every source; measure the delay of
                   such streams received (relayed from the other side of a bridge)
  --talk-to FILE   --talk, and to these addresses (one addr:port a line) from the start
  --srtp-key KEY   SRTP: our streams protected with this inline key (base64)
  --srtp-keys FILE SRTP: the engine's keys, lines `srtp PORT KEY` (read as the file grows)";

struct Args {
    listen: SocketAddrV4,
    streams: usize,
    window: f64,
    settle: f64,
    max_wait: f64,
    max_run: f64,
    keepalive_ms: u64,
    echo: bool,
    nominal_us: u64,
    tolerance_us: u64,
    discard: Option<u16>,
    talk: bool,
    /// --talk-to: addresses talked to from the start, before anything is heard from them (a
    /// relay that only forwards, like rtpengine, waits for the first packet).
    talk_to: Vec<SocketAddrV4>,
    srtp_key: Option<MasterKey>,
    srtp_keys: Option<String>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        listen: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40000),
        streams: 0,
        window: 20.0,
        settle: 1.0,
        max_wait: 120.0,
        max_run: 600.0,
        keepalive_ms: 1000,
        echo: false,
        nominal_us: 20_000,
        tolerance_us: 2_000,
        discard: None,
        talk: false,
        talk_to: Vec::new(),
        srtp_key: None,
        srtp_keys: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--echo" {
            a.echo = true;
            continue;
        }
        if flag == "--talk" {
            a.talk = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let v = it.next().ok_or(format!("{flag} needs a value"))?;
        let num = |v: &str| v.parse::<f64>().map_err(|_| format!("{flag}: not a number: {v}"));
        match flag.as_str() {
            "--listen" => a.listen = v.parse().map_err(|_| format!("--listen: not IPv4 addr:port: {v}"))?,
            "--streams" => a.streams = num(&v)? as usize,
            "--window" => a.window = num(&v)?,
            "--settle" => a.settle = num(&v)?,
            "--max-wait" => a.max_wait = num(&v)?,
            "--max-run" => a.max_run = num(&v)?,
            "--keepalive-ms" => a.keepalive_ms = num(&v)? as u64,
            "--nominal-ms" => a.nominal_us = (num(&v)? * 1000.0) as u64,
            "--tolerance-ms" => a.tolerance_us = (num(&v)? * 1000.0) as u64,
            "--srtp-key" => a.srtp_key = Some(MasterKey::from_inline(&v).ok_or("--srtp-key: not a 30-byte base64 key")?),
            "--srtp-keys" => a.srtp_keys = Some(v),
            "--discard" => a.discard = Some(v.parse().map_err(|_| format!("--discard: not a port: {v}"))?),
            "--talk-to" => {
                let text = std::fs::read_to_string(&v).map_err(|e| format!("--talk-to {v}: {e}"))?;
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    a.talk_to.push(line.trim().parse().map_err(|_| format!("--talk-to: not IPv4 addr:port: {line}"))?);
                }
                a.talk = true;
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(a)
}

/// Histogram of durations in 10 us buckets up to 2 s (beyond: the last bucket).
struct Hist {
    buckets: Vec<u64>,
    n: u64,
    max_us: u64,
    sum_us: u64,
}

const BUCKET_US: u64 = 10;
const BUCKETS: usize = 200_001;

impl Hist {
    fn new() -> Self {
        Hist { buckets: vec![0; BUCKETS], n: 0, max_us: 0, sum_us: 0 }
    }
    fn add(&mut self, us: u64) {
        let i = ((us / BUCKET_US) as usize).min(BUCKETS - 1);
        self.buckets[i] += 1;
        self.n += 1;
        self.sum_us += us;
        self.max_us = self.max_us.max(us);
    }
    /// The p-th percentile (0..=100) in ms, to the bucket's upper edge.
    fn mean_ms(&self) -> f64 {
        self.sum_us as f64 / self.n.max(1) as f64 / 1000.0
    }
    fn pct_ms(&self, p: f64) -> f64 {
        if self.n == 0 {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.n as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.buckets.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return ((i as u64 + 1) * BUCKET_US) as f64 / 1000.0;
            }
        }
        self.max_us as f64 / 1000.0
    }
}

struct Stream {
    src: SocketAddrV4,
    last_seq: u16,
    last_ns: i64,
    last_heard: Instant,
    // In the window:
    packets: u64,
    lost: u64,
    dup: u64,
    intervals: u64,
    within: u64,
    /// The stream's 20 ms phase (ms bin of its first packet in the window).
    phase: Option<u8>,
}

enum Phase {
    Waiting,
    Measuring { start: Instant, end: Instant, cpu0: f64 },
    Done,
}

#[derive(Default)]
struct Totals {
    packets: u64,
    lost: u64,
    dup: u64,
    talkspurts: u64,
    not_rtp: u64,
    undecrypted: u64,
}

/// The engine's SRTP keys by the port its packets come from, read from sipp's log as it grows.
struct EngineKeys {
    file: String,
    read: usize,
    receivers: HashMap<u16, SrtpReceiver>,
    /// Packets not decrypted, by the port they came from (for the exit line).
    failed: HashMap<u16, u64>,
    /// Sources heard but not decrypted yet (their key not read yet), and when: talked to all
    /// the same, so that a call whose first packets came before its key still starts.
    pending: HashMap<SocketAddrV4, Instant>,
}

impl EngineKeys {
    fn refresh(&mut self) {
        let Ok(text) = std::fs::read_to_string(&self.file) else { return };
        // Only whole lines: sipp may be writing the last one.
        let upto = text.rfind('\n').map_or(0, |i| i + 1);
        if upto <= self.read {
            return;
        }
        for line in text[self.read..upto].lines() {
            let mut fields = line.split_whitespace().skip_while(|f| *f != "srtp").skip(1);
            if let (Some(port), Some(key)) = (fields.next(), fields.next())
                && let (Ok(port), Some(key)) = (port.parse(), MasterKey::from_inline(key))
            {
                self.receivers.insert(port, SrtpReceiver::new(Suite::AesCm128HmacSha1_80, &key));
            }
        }
        self.read = upto;
    }
}

fn cpu_seconds() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6;
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn realtime_ns() -> i64 {
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

fn setsockopt_int(fd: i32, level: i32, name: i32, v: i32) -> bool {
    unsafe { libc::setsockopt(fd, level, name, &v as *const i32 as *const libc::c_void, size_of::<i32>() as u32) == 0 }
}

fn sockaddr(a: SocketAddrV4) -> libc::sockaddr_in {
    let mut s: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    s.sin_family = libc::AF_INET as u16;
    s.sin_port = a.port().to_be();
    s.sin_addr.s_addr = u32::from(*a.ip()).to_be();
    s
}

fn open_socket(listen: SocketAddrV4) -> Result<i32, String> {
    let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    // A deep queue: 3000 streams x 50 packets/s can outrun a briefly descheduled meter.
    if !setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, 64 << 20) {
        setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 64 << 20);
    }
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_SNDBUFFORCE, 8 << 20);
    if !setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, 1) {
        return Err("SO_TIMESTAMPNS refused".into());
    }
    setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RXQ_OVFL, 1);
    let tv = libc::timeval { tv_sec: 0, tv_usec: 100_000 };
    unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &tv as *const libc::timeval as *const libc::c_void,
            size_of::<libc::timeval>() as u32,
        )
    };
    let sa = sockaddr(listen);
    let r = unsafe {
        libc::bind(fd, &sa as *const libc::sockaddr_in as *const libc::sockaddr, size_of::<libc::sockaddr_in>() as u32)
    };
    if r != 0 {
        return Err(format!("bind {listen}: {}", std::io::Error::last_os_error()));
    }
    Ok(fd)
}

fn send_to(fd: i32, buf: &[u8], to: SocketAddrV4) {
    let sa = sockaddr(to);
    unsafe {
        libc::sendto(
            fd,
            buf.as_ptr() as *const libc::c_void,
            buf.len(),
            libc::MSG_DONTWAIT,
            &sa as *const libc::sockaddr_in as *const libc::sockaddr,
            size_of::<libc::sockaddr_in>() as u32,
        );
    }
}

/// Send `pkts[i]` to `names[i]` in one sendmmsg (non-blocking; what the kernel refuses is
/// dropped, like a lost packet).
fn send_batch(fd: i32, pkts: &mut [[u8; 192]], len: usize, names: &[libc::sockaddr_in]) {
    let mut iovs: Vec<libc::iovec> =
        pkts.iter_mut().map(|p| libc::iovec { iov_base: p.as_mut_ptr() as *mut libc::c_void, iov_len: len }).collect();
    let mut msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; pkts.len()];
    for (i, m) in msgs.iter_mut().enumerate() {
        m.msg_hdr.msg_name = &names[i] as *const libc::sockaddr_in as *mut libc::c_void;
        m.msg_hdr.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
        m.msg_hdr.msg_iov = &mut iovs[i];
        m.msg_hdr.msg_iovlen = 1;
    }
    let mut sent = 0;
    while sent < msgs.len() {
        let r = unsafe {
            libc::sendmmsg(fd, msgs[sent..].as_mut_ptr(), (msgs.len() - sent) as u32, libc::MSG_DONTWAIT)
        };
        // An error belongs to the first message not sent: skip it, send the rest.
        sent += if r <= 0 { 1 } else { r as usize };
    }
}

const BATCH: usize = 128;
/// Packets per sendmmsg of --talk: small, so the last of a batch leaves soon after its send
/// time was written (~16 x 5 us on loopback).
const TALK_BATCH: usize = 16;
/// Marks the payload of a --talk stream (after its 8-byte send time).
const TALK: &[u8; 4] = b"TALK";

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("rtp-meter: {e}");
            std::process::exit(2);
        }
    };
    unsafe {
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
    }
    let fd = match open_socket(args.listen) {
        Ok(fd) => fd,
        Err(e) => {
            eprintln!("rtp-meter: {e}");
            std::process::exit(1);
        }
    };
    // The discard socket: bound, smallest buffer, never read (kept open until exit).
    let _discard = match args.discard {
        Some(port) => {
            let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0) };
            setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, 1);
            let sa = sockaddr(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port));
            let r = unsafe {
                libc::bind(
                    fd,
                    &sa as *const libc::sockaddr_in as *const libc::sockaddr,
                    size_of::<libc::sockaddr_in>() as u32,
                )
            };
            if fd < 0 || r != 0 {
                eprintln!("rtp-meter: bind discard port {port}: {}", std::io::Error::last_os_error());
                std::process::exit(1);
            }
            Some(fd)
        }
        None => None,
    };
    let started = Instant::now();
    eprintln!("rtp-meter: listening on {} (expect {} streams)", args.listen, args.streams);

    // Keepalives from their own thread: the receive loop only publishes who is alive.
    let live: Arc<Mutex<Vec<SocketAddrV4>>> = Arc::new(Mutex::new(Vec::new()));
    if args.keepalive_ms > 0 && !args.echo && !args.talk {
        let live = Arc::clone(&live);
        let period = Duration::from_millis(args.keepalive_ms);
        std::thread::spawn(move || {
            // RTP version 2, PT 0, SSRC "KEEP", one byte of mu-law silence.
            let mut pkt = [0x80u8, 0, 0, 0, 0, 0, 0, 0, b'K', b'E', b'E', b'P', 0xff];
            let mut seq: u16 = 0;
            loop {
                std::thread::sleep(period);
                let targets = live.lock().unwrap().clone();
                seq = seq.wrapping_add(1);
                pkt[2..4].copy_from_slice(&seq.to_be_bytes());
                for t in targets {
                    send_to(fd, &pkt, t);
                }
            }
        });
    }

    // --talk: a 20 ms stream to every source heard in the last 2 s, on an absolute schedule.
    // Like independent phones, each stream has its own phase in the 20 ms (from its port), so
    // the sends spread over the frame instead of arriving at the engine in one burst.
    let talking: Arc<Mutex<Vec<SocketAddrV4>>> = Arc::new(Mutex::new(args.talk_to.clone()));
    if args.talk {
        let talking = Arc::clone(&talking);
        let srtp_key = args.srtp_key.clone();
        std::thread::spawn(move || {
            let mut state: HashMap<SocketAddrV4, (u16, u32, Option<SrtpSender>)> = HashMap::new();
            let len = if srtp_key.is_some() { 172 + srtp::RTP_OVERHEAD } else { 172 };
            let mut pkt = [0xffu8; 192];
            pkt[0] = 0x80;
            pkt[1] = 0;
            let start = Instant::now();
            let mut tick: u64 = 0;
            loop {
                tick += 1;
                let at = start + Duration::from_millis(tick);
                let now = Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                let slot = (tick % 20) as u16;
                let targets = talking.lock().unwrap().clone();
                // This millisecond's packets go out in one sendmmsg (the generator's system
                // calls are CPU the engine beside it does not get). Each carries the time it
                // was written, before the batch is sent: the measured delay is an upper bound.
                let due: Vec<SocketAddrV4> =
                    targets.into_iter().filter(|t| t.port().wrapping_mul(7919) % 20 == slot).collect();
                for chunk in due.chunks(TALK_BATCH) {
                    let mut pkts = vec![pkt; chunk.len()];
                    let names: Vec<libc::sockaddr_in> = chunk.iter().map(|t| sockaddr(*t)).collect();
                    for (p, t) in pkts.iter_mut().zip(chunk) {
                        let (seq, ts, sender) = state.entry(*t).or_insert_with(|| {
                            (0, 0, srtp_key.as_ref().map(|k| SrtpSender::new(Suite::AesCm128HmacSha1_80, k)))
                        });
                        p[2..4].copy_from_slice(&seq.to_be_bytes());
                        p[4..8].copy_from_slice(&ts.to_be_bytes());
                        p[8..12].copy_from_slice(&(0x5441_0000 | u32::from(t.port())).to_be_bytes());
                        p[12..20].copy_from_slice(&realtime_ns().to_be_bytes());
                        p[20..24].copy_from_slice(TALK);
                        p[24..172].fill(0xff);
                        if let Some(sender) = sender {
                            sender.protect_rtp(p, 172);
                        }
                        *seq = seq.wrapping_add(1);
                        *ts = ts.wrapping_add(160);
                    }
                    send_batch(fd, &mut pkts, len, &names);
                }
            }
        });
    }

    // recvmmsg buffers.
    let mut bufs = vec![[0u8; 512]; BATCH];
    let mut names: Vec<libc::sockaddr_in> = vec![unsafe { std::mem::zeroed() }; BATCH];
    let mut ctrls = vec![[0u64; 16]; BATCH];
    let mut iovs: Vec<libc::iovec> =
        (0..BATCH).map(|i| libc::iovec { iov_base: bufs[i].as_mut_ptr() as *mut libc::c_void, iov_len: 512 }).collect();
    let mut msgs: Vec<libc::mmsghdr> = vec![unsafe { std::mem::zeroed() }; BATCH];

    let mut streams: HashMap<u64, Stream> = HashMap::with_capacity(8192);
    let mut intervals = Hist::new();
    let mut lag = Hist::new();
    let mut delay = Hist::new();
    let mut tot = Totals::default();
    let mut phase = Phase::Waiting;
    let mut n_reached_at: Option<f64> = None;
    let mut drops_kernel: u32 = 0;
    let mut drops_at_window: Option<u32> = None;
    let mut last_publish = Instant::now();
    let mut first_packet: Option<Instant> = None;
    let mut all_packets: u64 = 0;
    let whole_run = args.streams == 0;
    let mut window_report_printed = false;
    let mut engine_keys =
        args.srtp_keys.clone().map(|file| EngineKeys { file, read: 0, receivers: HashMap::new(), failed: HashMap::new(), pending: HashMap::new() });
    let mut last_keys = Instant::now();
    let mut plain = [0u8; 512];

    loop {
        let now = Instant::now();
        let elapsed = now.duration_since(started).as_secs_f64();
        // Phase changes.
        match phase {
            Phase::Waiting => {
                let reached = !whole_run && streams.len() >= args.streams;
                if reached && n_reached_at.is_none() {
                    n_reached_at = Some(elapsed);
                }
                let go = if whole_run {
                    first_packet.is_some()
                } else {
                    n_reached_at.is_some_and(|t| elapsed >= t + args.settle) || elapsed >= args.max_wait
                };
                if go {
                    let end = if whole_run {
                        started + Duration::from_secs_f64(args.max_run)
                    } else {
                        now + Duration::from_secs_f64(args.window)
                    };
                    for s in streams.values_mut() {
                        (s.packets, s.lost, s.dup, s.intervals, s.within, s.phase) = (0, 0, 0, 0, 0, None);
                    }
                    drops_at_window = Some(drops_kernel);
                    phase = Phase::Measuring { start: now, end, cpu0: cpu_seconds() };
                    eprintln!("rtp-meter: window started at +{elapsed:.1} s with {} streams seen", streams.len());
                }
            }
            Phase::Measuring { start, end, cpu0 } if now >= end || (whole_run && STOP.load(Ordering::Relaxed)) => {
                let secs = now.duration_since(start).as_secs_f64();
                let cpu = cpu_seconds() - cpu0;
                report(
                    &args,
                    &streams,
                    &intervals,
                    &lag,
                    &delay,
                    &tot,
                    secs,
                    cpu,
                    start.duration_since(started).as_secs_f64(),
                    n_reached_at,
                    drops_kernel.wrapping_sub(drops_at_window.unwrap_or(0)),
                );
                window_report_printed = true;
                phase = Phase::Done;
            }
            _ => {}
        }
        if STOP.load(Ordering::Relaxed) || elapsed >= args.max_run {
            break;
        }
        if args.talk && now.duration_since(last_publish) >= Duration::from_millis(100) {
            last_publish = now;
            let recent: std::collections::HashSet<SocketAddrV4> = streams
                .values()
                .filter(|s| now.duration_since(s.last_heard) < Duration::from_secs(2))
                .map(|s| s.src)
                .chain(args.talk_to.iter().copied())
                .chain(engine_keys.iter().flat_map(|k| {
                    k.pending.iter().filter(|(_, at)| now.duration_since(**at) < Duration::from_secs(2)).map(|(s, _)| *s)
                }))
                .collect();
            *talking.lock().unwrap() = recent.into_iter().collect();
        } else if args.keepalive_ms > 0
            && now.duration_since(last_publish) >= Duration::from_millis(args.keepalive_ms.min(500))
        {
            last_publish = now;
            // The engine gives up on a silent caller after 30 s; streams quiet for longer are gone.
            let alive: Vec<SocketAddrV4> = streams
                .values()
                .filter(|s| now.duration_since(s.last_heard) < Duration::from_secs(30))
                .map(|s| s.src)
                .collect::<std::collections::HashSet<_>>()
                .into_iter()
                .collect();
            *live.lock().unwrap() = alive;
        }

        for i in 0..BATCH {
            let h = &mut msgs[i].msg_hdr;
            h.msg_name = &mut names[i] as *mut libc::sockaddr_in as *mut libc::c_void;
            h.msg_namelen = size_of::<libc::sockaddr_in>() as u32;
            h.msg_iov = &mut iovs[i];
            h.msg_iovlen = 1;
            h.msg_control = ctrls[i].as_mut_ptr() as *mut libc::c_void;
            h.msg_controllen = size_of::<[u64; 16]>();
            h.msg_flags = 0;
            msgs[i].msg_len = 0;
        }
        let n =
            unsafe { libc::recvmmsg(fd, msgs.as_mut_ptr(), BATCH as u32, libc::MSG_WAITFORONE, std::ptr::null_mut()) };
        if n <= 0 {
            continue; // timeout (SO_RCVTIMEO) or signal: go round and check the clocks
        }
        let user_ns = realtime_ns();
        let now = Instant::now();
        if first_packet.is_none() {
            first_packet = Some(now);
        }
        let measuring = matches!(phase, Phase::Measuring { .. });
        if let Some(keys) = &mut engine_keys
            && now.duration_since(last_keys) >= Duration::from_millis(100)
        {
            last_keys = now;
            keys.refresh();
        }
        for i in 0..n as usize {
            all_packets += 1;
            let len = msgs[i].msg_len as usize;
            let mut p = &bufs[i][..len.min(512)];
            let mut kernel_ns = user_ns;
            unsafe {
                let h = &msgs[i].msg_hdr;
                let mut c = libc::CMSG_FIRSTHDR(h);
                while !c.is_null() {
                    let ch = &*c;
                    if ch.cmsg_level == libc::SOL_SOCKET && ch.cmsg_type == libc::SCM_TIMESTAMPNS {
                        let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const libc::timespec);
                        kernel_ns = ts.tv_sec * 1_000_000_000 + ts.tv_nsec;
                    } else if ch.cmsg_level == libc::SOL_SOCKET && ch.cmsg_type == libc::SO_RXQ_OVFL {
                        drops_kernel = std::ptr::read_unaligned(libc::CMSG_DATA(c) as *const u32);
                    }
                    c = libc::CMSG_NXTHDR(h, c);
                }
            }
            let src = SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(names[i].sin_addr.s_addr)),
                u16::from_be(names[i].sin_port),
            );
            if args.echo {
                send_to(fd, p, src);
            }
            if let Some(keys) = &mut engine_keys {
                match keys.receivers.get_mut(&src.port()).map(|r| r.unprotect_rtp(p, &mut plain)) {
                    Some(Ok(n)) => p = &plain[..n],
                    _ => {
                        if measuring {
                            tot.undecrypted += 1;
                        }
                        *keys.failed.entry(src.port()).or_default() += 1;
                        keys.pending.insert(src, now);
                        continue;
                    }
                }
            }
            if p.len() < 12 || p[0] >> 6 != 2 {
                if measuring {
                    tot.not_rtp += 1;
                }
                continue;
            }
            let marker = p[1] & 0x80 != 0;
            let seq = u16::from_be_bytes([p[2], p[3]]);
            let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
            let key = (u64::from(ssrc) << 16) | u64::from(src.port());
            if measuring {
                lag.add(((user_ns - kernel_ns).max(0) / 1000) as u64);
                tot.packets += 1;
                if p.len() >= 24 && &p[20..24] == TALK {
                    let sent = i64::from_be_bytes(p[12..20].try_into().expect("8 bytes"));
                    delay.add(((kernel_ns - sent).max(0) / 1000) as u64);
                }
            }
            let s = match streams.get_mut(&key) {
                Some(s) => s,
                None => {
                    streams.insert(
                        key,
                        Stream {
                            src,
                            last_seq: seq,
                            last_ns: kernel_ns,
                            last_heard: now,
                            packets: u64::from(measuring),
                            lost: 0,
                            dup: 0,
                            intervals: 0,
                            within: 0,
                            phase: None,
                        },
                    );
                    continue;
                }
            };
            s.last_heard = now;
            let d = seq.wrapping_sub(s.last_seq);
            if d == 0 || d >= 0x8000 {
                if measuring {
                    s.dup += 1;
                    tot.dup += 1;
                }
                continue;
            }
            if measuring {
                s.packets += 1;
                if s.phase.is_none() {
                    s.phase = Some(((kernel_ns.rem_euclid(args.nominal_us as i64 * 1000)) / 1_000_000) as u8);
                }
                if d > 1 {
                    s.lost += u64::from(d - 1);
                    tot.lost += u64::from(d - 1);
                } else if marker {
                    tot.talkspurts += 1;
                } else {
                    let us = ((kernel_ns - s.last_ns).max(0) / 1000) as u64;
                    intervals.add(us);
                    s.intervals += 1;
                    if us.abs_diff(args.nominal_us) <= args.tolerance_us {
                        s.within += 1;
                    }
                }
            }
            s.last_seq = seq;
            s.last_ns = kernel_ns;
        }
    }
    if !window_report_printed {
        if let Phase::Measuring { start, cpu0, .. } = phase {
            let secs = Instant::now().duration_since(start).as_secs_f64();
            report(
                &args,
                &streams,
                &intervals,
                &lag,
                &delay,
                &tot,
                secs,
                cpu_seconds() - cpu0,
                start.duration_since(started).as_secs_f64(),
                n_reached_at,
                drops_kernel.wrapping_sub(drops_at_window.unwrap_or(0)),
            );
        } else {
            println!("rtp-meter: the window never started ({} streams seen, {all_packets} packets)", streams.len());
            println!("RESULT streams_seen={} packets=0 window_s=0", streams.len());
        }
    }
    if let Some(keys) = &engine_keys {
        let mut failed: Vec<(u16, u64)> = keys.failed.iter().map(|(p, n)| (*p, *n)).collect();
        failed.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
        let shown: Vec<String> = failed
            .iter()
            .take(8)
            .map(|(p, n)| format!("{p}: {n}{}", if keys.receivers.contains_key(p) { "" } else { " (no key)" }))
            .collect();
        eprintln!("rtp-meter: SRTP not decrypted, by engine port: {}", shown.join(", "));
    }
    eprintln!(
        "rtp-meter: exit after {:.1} s: {all_packets} packets, {} streams, socket drops {drops_kernel}, cpu {:.2} s",
        started.elapsed().as_secs_f64(),
        streams.len(),
        cpu_seconds()
    );
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    streams: &HashMap<u64, Stream>,
    iv: &Hist,
    lag: &Hist,
    delay: &Hist,
    tot: &Totals,
    secs: f64,
    cpu: f64,
    at: f64,
    reached: Option<f64>,
    drops: u32,
) {
    let in_window: Vec<&Stream> = streams.values().filter(|s| s.packets > 0).collect();
    let within: u64 = in_window.iter().map(|s| s.within).sum();
    let within_pct = if iv.n > 0 { 100.0 * within as f64 / iv.n as f64 } else { f64::NAN };
    let mut per: Vec<f64> =
        in_window.iter().filter(|s| s.intervals >= 10).map(|s| 100.0 * s.within as f64 / s.intervals as f64).collect();
    per.sort_by(|a, b| a.total_cmp(b));
    let worst = per.first().copied().unwrap_or(f64::NAN);
    let p1 = per.get(per.len() / 100).copied().unwrap_or(f64::NAN);
    let under99 = per.iter().filter(|f| **f < 99.0).count();
    let expected = tot.packets + tot.lost;
    let lost_pct = if expected > 0 { 100.0 * tot.lost as f64 / expected as f64 } else { 0.0 };
    let lossy = in_window.iter().filter(|s| s.lost > 0).count();
    let nominal = args.nominal_us as f64 / 1000.0;
    let tol = args.tolerance_us as f64 / 1000.0;
    let mut o = std::io::stdout().lock();
    let _ = writeln!(o, "rtp-meter report");
    match reached {
        Some(t) => {
            let _ = writeln!(
                o,
                "  window      {secs:.1} s from +{at:.1} s ({} streams reached at +{t:.1} s)",
                args.streams
            );
        }
        None if args.streams > 0 => {
            let _ = writeln!(
                o,
                "  window      {secs:.1} s from +{at:.1} s (WARNING: {} of {} streams seen by --max-wait)",
                streams.len(),
                args.streams
            );
        }
        None => {
            let _ = writeln!(o, "  window      {secs:.1} s from the first packet (+{at:.1} s)");
        }
    }
    let _ = writeln!(
        o,
        "  streams     seen {} (expected {}), with packets in the window {}",
        streams.len(),
        args.streams,
        in_window.len()
    );
    let _ = writeln!(
        o,
        "  packets     {} in the window ({:.0}/s), lost {} ({lost_pct:.4}%, in {lossy} streams), dup/reordered {}, not RTP {}, SRTP not decrypted {}",
        tot.packets,
        tot.packets as f64 / secs.max(1e-9),
        tot.lost,
        tot.dup,
        tot.not_rtp,
        tot.undecrypted
    );
    let _ = writeln!(o, "  intervals   {} measured, {} talkspurt starts (marker) not counted", iv.n, tot.talkspurts);
    let _ = writeln!(
        o,
        "  within {nominal}+-{tol} ms: {within_pct:.3}% of intervals; per stream: worst {worst:.2}%, 1st percentile {p1:.2}%, streams under 99%: {under99}"
    );
    let _ = writeln!(
        o,
        "  interval    mean {:.3} ms, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms",
        iv.mean_ms(),
        iv.pct_ms(50.0),
        iv.pct_ms(99.0),
        iv.pct_ms(99.9),
        iv.max_us as f64 / 1000.0
    );
    // How the streams' 20 ms cadences spread over the 20 ms: a crowded millisecond is a burst
    // of sends the engine must make at once.
    let mut phases = vec![0usize; (args.nominal_us / 1000).max(1) as usize];
    for s in &in_window {
        if let Some(p) = s.phase {
            let last = phases.len() - 1;
            phases[(p as usize).min(last)] += 1;
        }
    }
    let busiest = phases.iter().max().copied().unwrap_or(0);
    let _ = writeln!(
        o,
        "  phases      streams per 1 ms of the {nominal} ms cadence: {} (busiest {busiest})",
        phases.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(" ")
    );
    let _ = writeln!(
        o,
        "  meter       cpu {:.1}% of one core, socket drops {drops}, kernel-to-meter lag p99 {:.2} ms, max {:.2} ms",
        100.0 * cpu / secs.max(1e-9),
        lag.pct_ms(99.0),
        lag.max_us as f64 / 1000.0
    );
    if args.talk {
        let _ = writeln!(
            o,
            "  delay       {} relayed packets: one-way through the engine p50 {:.3} ms, p99 {:.3} ms, p99.9 {:.3} ms, max {:.2} ms",
            delay.n,
            delay.pct_ms(50.0),
            delay.pct_ms(99.0),
            delay.pct_ms(99.9),
            delay.max_us as f64 / 1000.0
        );
    }
    let _ = writeln!(
        o,
        "RESULT delay_n={} delay_p50_ms={:.3} delay_p99_ms={:.3} delay_max_ms={:.2} window_s={secs:.1} streams_expected={} streams_seen={} streams_in_window={} packets={} lost={} lost_pct={lost_pct:.4} intervals={} within_pct={within_pct:.3} worst_stream_pct={worst:.2} streams_under_99={under99} mean_ms={:.3} p50_ms={:.2} p99_ms={:.2} p999_ms={:.2} max_ms={:.2} meter_cpu_pct={:.1} socket_drops={drops} lag_p99_ms={:.2}",
        delay.n,
        delay.pct_ms(50.0),
        delay.pct_ms(99.0),
        delay.max_us as f64 / 1000.0,
        args.streams,
        streams.len(),
        in_window.len(),
        tot.packets,
        tot.lost,
        iv.n,
        iv.mean_ms(),
        iv.pct_ms(50.0),
        iv.pct_ms(99.0),
        iv.pct_ms(99.9),
        iv.max_us as f64 / 1000.0,
        100.0 * cpu / secs.max(1e-9),
        lag.pct_ms(99.0)
    );
    let _ = o.flush();
}
