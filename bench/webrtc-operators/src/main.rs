//! webrtc-operators: many operators' consoles as WebRTC peers, for bench/browser_bridged.sh.
//! Each operator logs in through the API (HTTP Basic), connects its browser phone exactly as the
//! console's page does (POST /api/phone with an SDP offer: one PCMU audio stream and the data
//! channel `phone`; str0m as the browser's side), answers every ring at once and talks: a 20 ms
//! PCMU stream whose payload starts with the send time (CLOCK_REALTIME ns) and the tag `TALK`,
//! as bench/rtp-meter's `--talk` streams do, so the meter on the callers' side measures this
//! direction and this program the other.
//!
//! It reports:
//! - the connections: how many were up, and the rate at which they came up (POST to open data
//!   channel: ICE, DTLS handshake, SCTP) with `--concurrency` at a time;
//! - in a window (`--settle` s after `--streams` calls talk, `--window` s long): the callers'
//!   audio received, loss from RTP sequence gaps, and the one-way delay from the meter's
//!   timestamps (receive time minus send time, one machine's clock).
//!
//! The last line is `RESULT key=value ...`. It then stays a party of every call (calls go on)
//! until SIGTERM/SIGINT or `--max-run`.

use serde_json::Value;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};
use str0m::change::SdpAnswer;
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Event, IceConnectionState, Input, Output, Rtc, RtcConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const USAGE: &str = "\
usage: webrtc-operators --http 127.0.0.1:8080 --operators FILE [--streams N] [--window SECS]
                        [--settle SECS] [--concurrency N] [--max-run SECS]
  --operators FILE   user;password lines (sipp -inf style: a first line SEQUENTIAL is skipped)
  --streams N        open the window once N calls are talking (default: every operator)
  --concurrency N    connections being set up at once (default 50)";

#[derive(Default)]
struct Stats {
    /// Handshake durations (POST sent to data channel open), ms.
    handshakes: Vec<f64>,
    first_post: Option<Instant>,
    last_open: Option<Instant>,
    failed: usize,
    talking: usize,
    handshake_rate: f64,
    /// The measured window, once `--streams` calls talk.
    window: Option<(Instant, Instant)>,
    window_announced: bool,
    received: u64,
    lost: u64,
    delays_us: Vec<i64>,
}

struct Args {
    http: String,
    operators: Vec<(String, String)>,
    streams: usize,
    window: u64,
    settle: u64,
    concurrency: usize,
    max_run: u64,
}

fn args() -> Args {
    let mut a = Args {
        http: String::new(),
        operators: Vec::new(),
        streams: 0,
        window: 20,
        settle: 5,
        concurrency: 50,
        max_run: 600,
    };
    let mut it = std::env::args().skip(1);
    let mut file = None;
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value\n{USAGE}"));
        match k.as_str() {
            "--http" => a.http = v(),
            "--operators" => file = Some(v()),
            "--streams" => a.streams = v().parse().expect("--streams N"),
            "--window" => a.window = v().parse().expect("--window SECS"),
            "--settle" => a.settle = v().parse().expect("--settle SECS"),
            "--concurrency" => a.concurrency = v().parse().expect("--concurrency N"),
            "--max-run" => a.max_run = v().parse().expect("--max-run SECS"),
            _ => {
                eprintln!("{USAGE}");
                std::process::exit(2)
            }
        }
    }
    let text = std::fs::read_to_string(file.expect(USAGE)).expect("the operators file");
    a.operators = text
        .lines()
        .filter(|l| l.contains(';'))
        .map(|l| {
            let mut f = l.split(';');
            (f.next().unwrap().to_string(), f.next().unwrap_or_default().to_string())
        })
        .collect();
    if a.streams == 0 {
        a.streams = a.operators.len();
    }
    assert!(!a.http.is_empty(), "{USAGE}");
    a
}

fn realtime_ns() -> i64 {
    let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// HTTP Basic's base64, by hand: a dozen lines are not worth a dependency in a bench client.
fn base64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() { T[(n >> (18 - 6 * i) & 63) as usize] as char } else { '=' });
        }
    }
    out
}

/// One HTTP/1.1 request (Connection: close); status and body.
async fn http(addr: &str, method: &str, path: &str, auth: &str, body: &str) -> Result<(u16, String), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// One console: its connection, and what it has to say on the data channel next.
struct Console {
    rtc: Rtc,
    socket: UdpSocket,
    local: SocketAddr,
    channel: Option<ChannelId>,
    audio: (Mid, Pt),
    talking: bool,
    to_say: VecDeque<String>,
    seq_last: Option<u64>,
    rtp_time: u64,
    next_frame: Instant,
}

/// How long a connection may take to come up.
const SETUP_WITHIN: Duration = Duration::from_secs(30);

/// One operator: log in, connect the phone (holding `permit` until the data channel is open),
/// answer every ring at once and talk, until the connection fails.
async fn operator(
    user: String,
    password: String,
    http_addr: Rc<String>,
    stats: Rc<RefCell<Stats>>,
    permit: tokio::sync::OwnedSemaphorePermit,
) -> Result<(), String> {
    let mut permit = Some(permit);
    let auth = base64(&format!("{user}:{password}"));
    let (status, body) = http(&http_addr, "POST", "/api/operator/login", &auth, "{}").await?;
    if status != 200 {
        return Err(format!("login {user}: {status} {body}"));
    }
    let socket = UdpSocket::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let local = socket.local_addr().map_err(|e| e.to_string())?;
    let mut rtc = RtcConfig::new().clear_codecs().enable_pcmu(true, false).build(Instant::now());
    rtc.add_local_candidate(Candidate::host(local, "udp").map_err(|e| e.to_string())?);
    let mut change = rtc.sdp_api();
    // Locally added media gets no MediaAdded event: its mid is known here.
    let mid = change.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
    change.add_channel("phone".into());
    let (offer, pending) = change.apply().ok_or("no offer")?;
    let started = Instant::now();
    stats.borrow_mut().first_post.get_or_insert(started);
    let body = serde_json::json!({ "sdp": offer.to_sdp_string() }).to_string();
    let (status, answer) = http(&http_addr, "POST", "/api/phone", &auth, &body).await?;
    if status != 200 {
        return Err(format!("phone {user}: {status} {answer}"));
    }
    let answer: Value = serde_json::from_str(&answer).map_err(|e| e.to_string())?;
    let answer = SdpAnswer::from_sdp_string(answer["sdp"].as_str().unwrap_or_default()).map_err(|e| e.to_string())?;
    rtc.sdp_api().accept_answer(pending, answer).map_err(|e| e.to_string())?;
    let pt = rtc
        .writer(mid)
        .and_then(|w| w.payload_params().find(|p| p.spec().codec == Codec::PCMU).map(|p| p.pt()))
        .ok_or("the answer has no PCMU")?;
    let mut c = Console {
        rtc,
        socket,
        local,
        channel: None,
        audio: (mid, pt),
        talking: false,
        to_say: VecDeque::new(),
        seq_last: None,
        rtp_time: 0,
        next_frame: Instant::now(),
    };
    let mut buf = vec![0u8; 2048];
    loop {
        // Drain str0m after every mutation (str0m's single-mutation rule).
        let due = loop {
            match c.rtc.poll_output().map_err(|e| e.to_string())? {
                Output::Timeout(t) => break t,
                Output::Transmit(t) => {
                    let _ = c.socket.try_send_to(&t.contents, t.destination);
                }
                Output::Event(e) => c.event(e, &stats, &mut permit, started)?,
            }
        };
        if permit.is_some() && started.elapsed() > SETUP_WITHIN {
            return Err(format!("{user}: not connected within {SETUP_WITHIN:?}"));
        }
        if let (Some(id), Some(msg)) = (c.channel, c.to_say.pop_front()) {
            if let Some(mut ch) = c.rtc.channel(id) {
                let _ = ch.write(false, msg.as_bytes());
            }
            continue;
        }
        let sending = c.talking;
        let wake = if sending { due.min(c.next_frame) } else { due };
        tokio::select! {
            r = c.socket.recv_from(&mut buf) => {
                if let Ok((n, source)) = r
                    && let Ok(contents) = buf[..n].try_into()
                {
                    let input = Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination: c.local, contents });
                    c.rtc.handle_input(input).map_err(|e| e.to_string())?;
                }
            }
            () = tokio::time::sleep_until(wake.into()) => {
                let now = Instant::now();
                if sending && now >= c.next_frame {
                    c.frame(now);
                } else {
                    c.rtc.handle_input(Input::Timeout(now)).map_err(|e| e.to_string())?;
                }
            }
        }
    }
}

impl Console {
    fn event(
        &mut self,
        e: Event,
        stats: &Rc<RefCell<Stats>>,
        permit: &mut Option<tokio::sync::OwnedSemaphorePermit>,
        started: Instant,
    ) -> Result<(), String> {
        match e {
            Event::ChannelOpen(id, _) => {
                self.channel = Some(id);
                if permit.take().is_some() {
                    let mut s = stats.borrow_mut();
                    s.handshakes.push(started.elapsed().as_secs_f64() * 1000.0);
                    s.last_open = Some(Instant::now());
                }
            }
            Event::ChannelData(d) => {
                let msg: Value = serde_json::from_slice(&d.data).unwrap_or_default();
                let call = &msg["call"];
                match msg["type"].as_str() {
                    Some("ring") => {
                        self.to_say.push_back(serde_json::json!({"type": "ringing", "call": call}).to_string());
                        self.to_say.push_back(serde_json::json!({"type": "answer", "call": call}).to_string());
                    }
                    Some("talking") => {
                        self.talking = true;
                        self.next_frame = Instant::now();
                        stats.borrow_mut().talking += 1;
                    }
                    Some("ended") if self.talking => {
                        self.talking = false;
                        stats.borrow_mut().talking -= 1;
                    }
                    _ => {}
                }
            }
            Event::MediaData(d) => {
                let seq = **d.seq_range.end();
                let mut s = stats.borrow_mut();
                let now = Instant::now();
                if s.window.is_some_and(|(from, to)| from <= now && now < to) {
                    if let Some(last) = self.seq_last
                        && seq > last + 1
                    {
                        s.lost += seq - last - 1;
                    }
                    s.received += 1;
                    if d.data.len() >= 12 && &d.data[8..12] == b"TALK" {
                        let sent = i64::from_be_bytes(d.data[0..8].try_into().expect("8 bytes"));
                        s.delays_us.push((realtime_ns() - sent) / 1000);
                    }
                }
                self.seq_last = Some(seq);
            }
            Event::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                return Err("disconnected".into());
            }
            _ => {}
        }
        Ok(())
    }

    /// The next 20 ms of the operator's voice.
    fn frame(&mut self, now: Instant) {
        let (mid, pt) = self.audio;
        let mut payload = vec![0xffu8; 160];
        payload[0..8].copy_from_slice(&realtime_ns().to_be_bytes());
        payload[8..12].copy_from_slice(b"TALK");
        let time = MediaTime::new(self.rtp_time, Frequency::EIGHT_KHZ);
        self.rtp_time += 160;
        self.next_frame += Duration::from_millis(20);
        if let Some(w) = self.rtc.writer(mid) {
            let _ = w.write(pt, now, time, payload);
        }
    }
}

fn main() {
    let a = args();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, run(a));
}

fn pct<T: Copy + Default>(sorted: &[T], p: f64) -> T {
    if sorted.is_empty() {
        return T::default();
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

async fn run(a: Args) {
    let stats = Rc::new(RefCell::new(Stats::default()));
    let http_addr = Rc::new(a.http.clone());
    let n = a.operators.len();
    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(a.concurrency));
    for (user, password) in a.operators.clone() {
        let (stats, http_addr, gate) = (Rc::clone(&stats), Rc::clone(&http_addr), std::sync::Arc::clone(&gate));
        tokio::task::spawn_local(async move {
            let permit = gate.acquire_owned().await.expect("the gate stays open");
            if let Err(e) = operator(user, password, http_addr, Rc::clone(&stats), permit).await {
                eprintln!("{e}");
                stats.borrow_mut().failed += 1;
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(a.max_run);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM");
    let mut reported_connections = false;
    let mut reported = false;
    loop {
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = term.recv() => return,
            _ = tokio::signal::ctrl_c() => return,
        }
        if Instant::now() > deadline {
            return;
        }
        let mut s = stats.borrow_mut();
        if !reported_connections && s.handshakes.len() + s.failed >= n {
            reported_connections = true;
            let mut h = s.handshakes.clone();
            h.sort_by(f64::total_cmp);
            let span = match (s.first_post, s.last_open) {
                (Some(a), Some(b)) => (b - a).as_secs_f64(),
                _ => 0.0,
            };
            let rate = if span > 0.0 { h.len() as f64 / span } else { 0.0 };
            println!(
                "connections {} up, {} failed in {span:.2} s: {rate:.0} handshakes/s with {} at a time; POST to open p50 {:.1} ms, p99 {:.1} ms",
                h.len(),
                s.failed,
                a.concurrency,
                pct(&h, 0.5),
                pct(&h, 0.99)
            );
            eprintln!("connections up");
            s.handshake_rate = rate;
        }
        if s.window.is_none() && s.talking >= a.streams {
            let from = Instant::now() + Duration::from_secs(a.settle);
            s.window = Some((from, from + Duration::from_secs(a.window)));
            eprintln!("{} calls talking: window in {} s", s.talking, a.settle);
        }
        if let Some((from, to)) = s.window
            && !reported
        {
            if Instant::now() >= from && !s.window_announced {
                s.window_announced = true;
                eprintln!("window started");
            }
            if Instant::now() >= to {
                reported = true;
                let mut d = std::mem::take(&mut s.delays_us);
                d.sort_unstable();
                let expected = s.received + s.lost;
                let loss = if expected > 0 { 100.0 * s.lost as f64 / expected as f64 } else { 100.0 };
                println!(
                    "  caller -> console: {} packets received, {} lost ({loss:.4} %), {:.1} packets/s per call ({} calls talking)",
                    s.received,
                    s.lost,
                    s.received as f64 / a.window as f64 / s.talking.max(1) as f64,
                    s.talking
                );
                println!(
                    "  delay (meter send to console receive) p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
                    pct(&d, 0.5) as f64 / 1000.0,
                    pct(&d, 0.99) as f64 / 1000.0,
                    d.last().copied().unwrap_or(0) as f64 / 1000.0
                );
                println!(
                    "RESULT connections={} failed={} handshakes_per_s={:.0} talking={} packets={} lost={} lost_pct={loss:.4} delay_p99_ms={:.2} window_s={}",
                    s.handshakes.len(),
                    s.failed,
                    s.handshake_rate,
                    s.talking,
                    s.received,
                    s.lost,
                    pct(&d, 0.99) as f64 / 1000.0,
                    a.window
                );
            }
        }
    }
}
