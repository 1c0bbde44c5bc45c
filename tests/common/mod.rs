//! Helpers shared by the end-to-end tests: a running `centralino serve` on free ports, sipp
//! runs with their message traces, and the parsing of those traces.

#![allow(dead_code)]

pub mod baresip;
pub mod browser;
pub mod cases;
pub mod cluster;
pub mod phone;
pub mod store;
pub mod talker;

pub use store::Store;

use chrono::NaiveDateTime;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_centralino");
pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// `blocks` x 20 consecutive ports (inside 40000-59999) that no other test of this run uses.
pub fn ports(blocks: u32) -> u16 {
    const SLOTS: u32 = 1000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let base = std::process::id().wrapping_mul(37) % SLOTS;
    loop {
        let n = NEXT.fetch_add(blocks, Ordering::Relaxed);
        let slot = (base + n) % SLOTS;
        if slot + blocks <= SLOTS {
            return 40000 + slot as u16 * 20;
        }
    }
}

// ------------------------------------------------------------------------------------------
// The engine
// ------------------------------------------------------------------------------------------

/// Starting an engine keeps a core busy for seconds (every prompt is loaded and encoded):
/// engines start under the read lock, and the RTP pacing measurement takes the write lock so
/// that no engine of this test binary starts meanwhile.
pub static STARTING: RwLock<()> = RwLock::new(());

/// A running `centralino serve`; killed when dropped.
pub struct Engine {
    pub child: Child,
    pub udp: SocketAddr,
    pub tcp: SocketAddr,
    /// SIP over TLS, when the configuration has a certificate.
    pub tls: Option<SocketAddr>,
    /// The HTTP API.
    pub http: SocketAddr,
    pub rtp_ports: (u16, u16),
    pub data: tempfile::TempDir,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Engine {
    pub fn start() -> Engine {
        Self::start_with(&[])
    }

    /// An engine with more `serve` arguments (e.g. `--config` of an edited copy).
    pub fn start_with(extra: &[&str]) -> Engine {
        Self::start_in(tempfile::tempdir().expect("a temporary data directory"), extra)
    }

    /// Start on an existing data directory (a restart after a crash), taking it back with
    /// [`Engine::crash`].
    pub fn start_in(data: tempfile::TempDir, extra: &[&str]) -> Engine {
        Self::start_limited(data, extra, None)
    }

    /// An engine on `store` (see [`Store`]).
    pub fn start_on(store: Store, extra: &[&str]) -> Engine {
        Self::start_in_on(store, tempfile::tempdir().expect("a temporary data directory"), extra)
    }

    /// An engine on `store` and an existing data directory (the same database for PostgreSQL).
    pub fn start_in_on(store: Store, data: tempfile::TempDir, extra: &[&str]) -> Engine {
        Self::launch(data, extra, None, store)
    }

    /// A second node beside `other`: an engine of its own on the same PostgreSQL database.
    pub fn start_beside(other: &Engine, extra: &[&str]) -> Engine {
        let data = tempfile::tempdir().expect("a temporary data directory");
        let url = Store::Postgres.url_for(other.data.path());
        std::fs::write(data.path().join("test-store-url"), url).expect("share the database");
        Self::launch(data, extra, None, Store::Postgres)
    }

    /// Start with the open-file limit (soft and hard) set to `files`, if given.
    pub fn start_limited(data: tempfile::TempDir, extra: &[&str], files: Option<u64>) -> Engine {
        Self::launch(data, extra, files, Store::Redb)
    }

    fn launch(data: tempfile::TempDir, extra: &[&str], files: Option<u64>, store: Store) -> Engine {
        let started = Instant::now();
        let _starting = STARTING.read().unwrap_or_else(|e| e.into_inner());
        // 100 even RTP ports: other programs on the machine may hold some of them.
        let lo = ports(10);
        let rtp_ports = (lo, lo + 199);
        let mut command = Command::new(BIN);
        if let Some(files) = files {
            use std::os::unix::process::CommandExt;
            // SAFETY: only setrlimit, async-signal-safe, between fork and exec.
            unsafe {
                command.pre_exec(move || {
                    let limit = libc::rlimit { rlim_cur: files, rlim_max: files };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let mut child = command
            .current_dir(ROOT)
            .args(["serve", "--sip-udp", "127.0.0.1:0", "--sip-tcp", "127.0.0.1:0", "--sip-tls", "127.0.0.1:0"])
            // Any free HTTP port, unless the test chooses (a restart on the same address).
            .args(if extra.contains(&"--http") { &[][..] } else { &["--http", "127.0.0.1:0"][..] })
            .arg("--rtp-ports")
            .arg(format!("{}-{}", rtp_ports.0, rtp_ports.1))
            .arg("--data-dir")
            .arg(data.path())
            .args(["--log-format", "json"])
            .args(store.serve_args(data.path()))
            // The contact center open around the clock, unless the test brings its own trees.
            .args(if extra.contains(&"--trees") { None } else { Some("--trees") })
            .args(if extra.contains(&"--trees") { None } else { Some(open_trees()) })
            .args(extra)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start centralino serve");
        let stderr = child.stderr.take().expect("piped stderr");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready) = mpsc::channel();
        let sink = Arc::clone(&log);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["fields"]["message"] == "switchboard ready"
                {
                    let addr = |k: &str| v["fields"][k].as_str().and_then(|s| s.parse::<SocketAddr>().ok());
                    let _ = ready_tx.send((addr("udp"), addr("tcp"), addr("http"), addr("tls")));
                }
                sink.lock().unwrap().push(line);
            }
        });
        let unset: SocketAddr = "0.0.0.0:0".parse().unwrap();
        let mut engine = Engine { child, udp: unset, tcp: unset, tls: None, http: unset, rtp_ports, data, log };
        match ready.recv_timeout(Duration::from_secs(90)) {
            Ok((Some(udp), Some(tcp), Some(http), tls)) => {
                engine.udp = udp;
                engine.tcp = tcp;
                engine.tls = tls;
                engine.http = http;
            }
            other => {
                panic!("the engine did not report \"switchboard ready\" ({other:?}); its log:\n{}", engine.log_text())
            }
        }
        eprintln!("engine ready in {:?}: SIP udp {} tcp {}", started.elapsed(), engine.udp, engine.tcp);
        engine
    }

    /// SIGKILL the engine (no chance to flush anything) and hand back its data directory.
    pub fn crash(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let placeholder = tempfile::tempdir().expect("a temporary directory");
        std::mem::replace(&mut self.data, placeholder)
    }

    /// Whether the log shows `needle` within `within`.
    pub fn wait_for_log(&self, needle: &str, within: Duration) -> bool {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if self.log_text().contains(needle) {
                return true;
            }
            thread::sleep(Duration::from_millis(50));
        }
        false
    }

    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Every call record so far (`centralino calls --json`).
    pub fn records(&self) -> Result<Vec<Value>, String> {
        // An engine on PostgreSQL keeps its records there.
        let store = std::fs::read_to_string(self.data.path().join("test-store-url")).ok();
        let out = Command::new(BIN)
            .current_dir(ROOT)
            .args(["calls", "--json", "--data-dir"])
            .arg(self.data.path())
            .args(store.iter().flat_map(|url| ["--store", url.as_str()]))
            .output()
            .map_err(|e| format!("cannot run centralino calls: {e}"))?;
        if !out.status.success() {
            return Err(format!("centralino calls: {}: {}", out.status, String::from_utf8_lossy(&out.stderr)));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("centralino calls --json: {e}"))
    }

    /// The record of `call_id`, waiting for it: records are appended shortly after a call ends.
    pub fn record(&self, call_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let records = self.records();
            if let Ok(rs) = &records
                && let Some(r) = rs.iter().find(|r| r["call_id"] == call_id)
            {
                return r.clone();
            }
            if Instant::now() > deadline {
                panic!(
                    "no call record for {call_id} after 5 s; records: {records:#?}\nengine log:\n{}",
                    self.log_text()
                );
            }
            thread::sleep(Duration::from_millis(150));
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            // A failed test: the engine's last words are the first thing to read.
            let text = self.log_text();
            let tail: Vec<&str> = text.lines().rev().take(60).collect();
            eprintln!("--- engine log (last {} lines) ---", tail.len());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// sipp
// ------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Transport {
    Udp,
    Tcp,
}

/// One SIP message of sipp's trace.
#[derive(Debug, Clone)]
pub struct Msg {
    /// When sipp logged it (sipp's local time).
    pub time: NaiveDateTime,
    pub sent: bool,
    pub text: String,
}

impl Msg {
    pub fn start_line(&self) -> &str {
        self.text.lines().next().unwrap_or("")
    }

    /// The status code of a response.
    pub fn status(&self) -> Option<u16> {
        let rest = self.start_line().strip_prefix("SIP/2.0 ")?;
        rest.split(' ').next()?.parse().ok()
    }

    /// The method of a request.
    pub fn method(&self) -> Option<&str> {
        if self.status().is_some() { None } else { self.start_line().split(' ').next() }
    }

    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.text.lines().skip(1).take_while(|l| !l.trim().is_empty()).filter_map(|l| {
            let (n, v) = l.split_once(':')?;
            Some((n.trim(), v.trim()))
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }

    pub fn cseq_method(&self) -> Option<&str> {
        self.header("CSeq")?.split_whitespace().nth(1)
    }

    pub fn cseq(&self) -> Option<u32> {
        self.header("CSeq")?.split_whitespace().next()?.parse().ok()
    }

    pub fn to_tag(&self) -> Option<&str> {
        self.header("To")?.split(';').find_map(|p| p.trim().strip_prefix("tag="))
    }

    pub fn body(&self) -> &str {
        self.text.split_once("\n\n").map_or("", |(_, b)| b)
    }
}

/// Parse sipp's `-trace_msg` file: each message follows a line of 47 dashes and a timestamp,
/// then "... message sent" or "... message received"; sipp repeats an unexpected message under
/// a line of dashes alone ("Unexpected ... message received"), which is skipped.
pub fn parse_messages(log: &str) -> Vec<Msg> {
    let log = log.replace("\r\n", "\n");
    let mut out = Vec::new();
    let mut chunk: Vec<&str> = Vec::new();
    let mut flush = |chunk: &mut Vec<&str>| {
        if let [stamp, what, rest @ ..] = chunk.as_slice()
            && let Some(stamp) = stamp.strip_prefix(DASHES)
            && let Ok(time) = NaiveDateTime::parse_from_str(stamp.trim(), "%Y-%m-%d %H:%M:%S%.f")
        {
            let text = rest.join("\n").trim_matches('\n').to_string() + "\n";
            out.push(Msg { time, sent: what.contains("message sent"), text });
        }
        chunk.clear();
    };
    for line in log.lines() {
        if line.starts_with(DASHES) {
            flush(&mut chunk);
        }
        chunk.push(line);
    }
    flush(&mut chunk);
    out
}

pub const DASHES: &str = "-----------------------------------------------";

/// The outcome of one sipp run.
pub struct SippRun {
    pub command: String,
    pub status: Option<i32>,
    pub elapsed: Duration,
    pub messages: String,
    pub errors: String,
    pub screen: String,
    pub engine_log: String,
}

impl SippRun {
    pub fn ok(&self) -> bool {
        self.status == Some(0)
    }

    pub fn msgs(&self) -> Vec<Msg> {
        parse_messages(&self.messages)
    }

    /// Everything needed to see what went wrong.
    pub fn report(&self) -> String {
        format!(
            "sipp: {}\nexit status: {:?} after {:?}\n--- sipp errors ---\n{}\n--- sipp message trace ---\n{}\n\
             --- sipp screen (tail) ---\n{}\n--- engine log ---\n{}\n",
            self.command,
            self.status,
            self.elapsed,
            self.errors,
            self.messages,
            tail(&self.screen, 40),
            tail(&self.engine_log, 60)
        )
    }

    /// Fail the test (with the trace) unless sipp completed the scenario.
    pub fn expect_ok(self) -> SippRun {
        assert!(self.ok(), "sipp did not complete the scenario\n{}", self.report());
        self
    }

    /// The Call-ID of the scenario's first request.
    pub fn call_id(&self) -> String {
        let msgs = self.msgs();
        let first = msgs.iter().find(|m| m.sent).unwrap_or_else(|| panic!("sipp sent nothing\n{}", self.report()));
        first.header("Call-ID").unwrap_or_else(|| panic!("no Call-ID\n{}", self.report())).to_string()
    }

    /// The received responses to `method` with `status`, in order.
    pub fn responses(&self, status: u16, method: &str) -> Vec<Msg> {
        self.msgs()
            .into_iter()
            .filter(|m| !m.sent && m.status() == Some(status) && m.cseq_method() == Some(method))
            .collect()
    }

    pub fn response(&self, status: u16, method: &str) -> Msg {
        self.responses(status, method)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no {status} to {method} in the trace\n{}", self.report()))
    }

    /// The sent request `method` with CSeq number `cseq`.
    pub fn request(&self, method: &str, cseq: u32) -> Msg {
        self.msgs()
            .into_iter()
            .find(|m| m.sent && m.method() == Some(method) && m.cseq() == Some(cseq))
            .unwrap_or_else(|| panic!("no {method} with CSeq {cseq} sent\n{}", self.report()))
    }
}

pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Run the scenario tests/sipp/`scenario` once (`-m 1`) against the engine, calling `service`,
/// with `-key` values; bounded by sipp's own `-timeout 30s` and a hard 45 s limit.
pub fn sipp(engine: &Engine, scenario: &str, transport: Transport, service: &str, keys: &[(&str, &str)]) -> SippRun {
    sipp_with(engine, scenario, transport, service, keys, &[])
}

/// [`sipp`] with more sipp arguments (e.g. `-au`/`-ap` credentials).
pub fn sipp_with(
    engine: &Engine,
    scenario: &str,
    transport: Transport,
    service: &str,
    keys: &[(&str, &str)],
    extra: &[&str],
) -> SippRun {
    let path = Path::new(ROOT).join("tests/sipp").join(scenario);
    assert!(path.is_file(), "no scenario {}", path.display());
    for attempt in 0.. {
        let dir = tempfile::tempdir().expect("a temporary directory for sipp");
        let port = ports(1);
        let (remote, t) = match transport {
            Transport::Udp => (engine.udp, "u1"),
            Transport::Tcp => (engine.tcp, "t1"),
        };
        let file = |name: &str| dir.path().join(name);
        let mut cmd = Command::new("sipp");
        cmd.current_dir(dir.path())
            .arg(remote.to_string())
            .arg("-sf")
            .arg(&path)
            .args(["-t", t, "-s", service, "-i", "127.0.0.1", "-mi", "127.0.0.1"])
            .args(["-p", &port.to_string(), "-mp", &(port + 10).to_string()])
            .args(["-m", "1", "-timeout", "30s", "-timeout_error", "-nostdin"])
            .arg("-trace_err")
            .arg("-error_file")
            .arg(file("errors.log"))
            .arg("-trace_msg")
            .arg("-message_file")
            .arg(file("messages.log"));
        for (k, v) in keys {
            cmd.args(["-key", k, v]);
        }
        cmd.args(extra);
        let command = format!("{cmd:?}");
        let screen = std::fs::File::create(file("screen.log")).unwrap();
        cmd.stdin(Stdio::null()).stdout(screen.try_clone().unwrap()).stderr(screen);
        let started = Instant::now();
        let mut child = cmd.spawn().expect("run sipp (Debian package sip-tester)");
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait for sipp") {
                break s.code();
            }
            if started.elapsed() > Duration::from_secs(45) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            thread::sleep(Duration::from_millis(20));
        };
        let read = |name: &str| std::fs::read_to_string(file(name)).unwrap_or_default();
        let run = SippRun {
            command,
            status,
            elapsed: started.elapsed(),
            messages: read("messages.log"),
            errors: read("errors.log"),
            screen: read("screen.log"),
            engine_log: engine.log_text(),
        };
        // 254: sipp could not bind its ports (taken by something else meanwhile): other ports.
        if run.status == Some(254) && run.messages.is_empty() && attempt < 5 {
            continue;
        }
        eprintln!("sipp {scenario} ({t}): exit {:?} in {:?}", run.status, run.elapsed);
        return run;
    }
    unreachable!()
}

/// A minimal HTTP/1.1 client for the API tests: one request per connection, Basic credentials,
/// JSON body. Returns the status and the parsed JSON body (Null when there is none).
pub fn http(
    engine: &Engine,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<&Value>,
) -> (u16, Value) {
    http_at(engine.http, method, path, auth, body)
}

/// [`http`] to the HTTP API at `addr`.
pub fn http_at(
    addr: SocketAddr,
    method: &str,
    path: &str,
    auth: Option<(&str, &str)>,
    body: Option<&Value>,
) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let auth = auth.map(|(u, p)| ("Authorization", format!("Basic {}", base64(&format!("{u}:{p}")))));
    let content = (!body.is_empty()).then(|| ("Content-Type", "application/json".to_string()));
    let headers: Vec<(&str, String)> = auth.into_iter().chain(content).collect();
    let (status, _, body) = http_raw_at(addr, method, path, &headers, &body);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// An open `GET /api/events` stream: what has arrived so far, raw.
pub struct EventStream {
    pub seen: Arc<Mutex<String>>,
    socket: std::net::TcpStream,
}

impl EventStream {
    /// Open the stream as `user` (HTTP Basic), resuming after `last_event_id` if given.
    pub fn open(engine: &Engine, user: (&str, &str), last_event_id: Option<&str>) -> EventStream {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(engine.http).unwrap();
        let resume = last_event_id.map(|id| format!("Last-Event-ID: {id}\r\n")).unwrap_or_default();
        let auth = base64(&format!("{}:{}", user.0, user.1));
        let req = format!(
            "GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nAccept: text/event-stream\r\n{resume}\r\n"
        );
        s.write_all(req.as_bytes()).unwrap();
        let seen = Arc::new(Mutex::new(String::new()));
        let (sink, mut reader) = (Arc::clone(&seen), s.try_clone().unwrap());
        thread::spawn(move || {
            let mut buf = [0u8; 65536];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        EventStream { seen, socket: s }
    }

    pub fn text(&self) -> String {
        self.seen.lock().unwrap().clone()
    }

    /// Wait until the stream shows `needle` `times` times; whether it did within `within`.
    pub fn wait_for(&self, needle: &str, times: usize, within: Duration) -> bool {
        let until = Instant::now() + within;
        loop {
            if self.text().matches(needle).count() >= times {
                return true;
            }
            if Instant::now() > until {
                return false;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The ids of the events received so far, in order.
    pub fn ids(&self) -> Vec<String> {
        self.text().lines().filter_map(|l| l.strip_prefix("id:")).map(|id| id.trim().to_string()).collect()
    }

    pub fn close(self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
    }
}

/// One HTTP/1.1 request with these extra headers and this body, as bytes on the wire: the
/// status, the response head and the body (for malformed bodies, cookies, raw answers).
pub fn http_raw(
    engine: &Engine,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String, String) {
    http_raw_at(engine.http, method, path, headers, body)
}

/// [`http_raw`] to the HTTP API at `addr`.
pub fn http_raw_at(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to the HTTP API");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n{body}",
        addr,
        body.len()
    );
    // The server may answer (413) and close before reading a large body.
    let _ = s.write_all(req.as_bytes());
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (status, head.to_string(), body.to_string())
}

/// Standard base64 (for Basic credentials).
pub fn base64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for c in b.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The shipped configuration with texts replaced (each must occur once), written to a
/// temporary file: `(its directory, its path)`.
pub fn edited_config(replacements: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let mut text = std::fs::read_to_string(Path::new(ROOT).join("config/centralino.toml")).unwrap();
    for (old, new) in replacements {
        assert_eq!(text.matches(old).count(), 1, "`{old}` occurs once in the shipped configuration");
        text = text.replace(old, new);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("centralino.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The shipped trees with the contact center open around the clock (every day 00:00-24:00, no
/// holidays), so tests that reach an operator do not depend on when they run. Made once per
/// test binary; the engines of the tests take it with `--trees`.
pub fn open_trees() -> &'static Path {
    static DIR: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(Path::new(ROOT).join("ivr-trees")).unwrap() {
            let path = entry.unwrap().path();
            let mut text = std::fs::read_to_string(&path).unwrap();
            if path.extension().is_some_and(|e| e == "yaml") && text.contains("\n  contact_center:\n    hours:\n") {
                let start = text.find("\n  contact_center:\n").unwrap();
                let end = start + text[start..].find("closed_dates:").unwrap();
                let end = end + text[end..].find('\n').unwrap();
                let days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                    .map(|d| format!("      {d}: [\"00:00-24:00\"]\n"));
                let open = format!(
                    "\n  contact_center:\n    hours:\n{}    national_holidays: false\n    closed_dates: []",
                    days.concat()
                );
                text.replace_range(start..end, &open);
            }
            std::fs::write(dir.path().join(path.file_name().unwrap()), text).unwrap();
        }
        dir
    })
    .path()
}

/// A sipp operator's phone: registers as `user` (password `demo-<user>`) and answers the calls
/// it is offered with `answer_scenario` (tests/sipp); `keys` as operator_phone.xml documents.
pub fn operator_phone(engine: &Engine, user: &str, answer_scenario: &str, keys: &[(&str, &str)]) -> SippRun {
    let password = format!("demo-{user}");
    let scenario = format!("{ROOT}/tests/sipp/{answer_scenario}");
    let extra = ["-au", user, "-ap", password.as_str(), "-oocsf", scenario.as_str()];
    sipp_with(engine, "operator_phone.xml", Transport::Udp, user, keys, &extra)
}

/// mrossi's sipp phone: registers, answers the call it is offered (RTP to port 6002) and waits
/// up to 24 s for the switchboard's BYE.
pub fn mrossi_answers(engine: &Engine) -> SippRun {
    let keys = [("expires", "120"), ("hold_ms", "24000"), ("ring_ms", "500"), ("op_rtp_port", "6002")];
    operator_phone(engine, "mrossi", "operator_answers.xml", &keys)
}

/// The operator's screen-pop (`GET /api/operator/call`), waiting up to 20 s for a call to reach them.
pub fn wait_for_pop(engine: &Engine, operator: Option<(&str, &str)>) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, pop) = http(engine, "GET", "/api/operator/call", operator, None);
        if status == 200 {
            return pop;
        }
        assert!(Instant::now() < deadline, "the call never reached the operator\n{}", engine.log_text());
        thread::sleep(Duration::from_millis(200));
    }
}

/// A caller of the Latina number who asks for a pensions operator (keys 1 1 4 by SIP INFO),
/// waits `wait_ms` in the queue or the conversation, presses `after`, waits `after_ms`, hangs
/// up; RTP to `rtp_port`, offering `codecs`.
pub fn pensions_caller(
    engine: &Engine,
    rtp_port: &str,
    codecs: &str,
    wait_ms: u64,
    after: &str,
    after_ms: u64,
) -> SippRun {
    let (wait, after_ms) = (wait_ms.to_string(), after_ms.to_string());
    let keys = [
        ("rtp_port", rtp_port),
        ("codecs", codecs),
        ("dtmf_pt", "101"),
        ("k1", "1"),
        ("k2", "1"),
        ("k3", "4"),
        ("wait_ms", wait.as_str()),
        ("after", after),
        ("after_ms", after_ms.as_str()),
    ];
    sipp(engine, "queue_caller.xml", Transport::Udp, "0773691001", &keys)
}

/// A counter of `/api/metrics` (read as the administrator).
pub fn metric(engine: &Engine, sample: &str) -> u64 {
    let auth = ("Authorization", format!("Basic {}", base64("admin:demo-admin")));
    let (status, _, body) = http_raw(engine, "GET", "/api/metrics", &[auth], "");
    assert_eq!(status, 200, "{body}");
    let line = body.lines().find(|l| l.starts_with(sample)).unwrap_or_else(|| panic!("no {sample} in\n{body}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// A self-signed certificate for 127.0.0.1 and its key (openssl), in `dir`: the certificate
/// (PEM, also the authority a client trusts) and the key's file names.
pub fn certificate(dir: &Path) -> (String, String) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let ok = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=centralino.test", "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    (cert.display().to_string(), key.display().to_string())
}

/// The replacement that offers MD5 first: phones that read only the first digest challenge and
/// know only MD5 (sipp 3.6, baresip 1.0) need it.
pub const MD5_FIRST: (&str, &str) =
    ("digest_algorithms = [\"SHA-256\", \"MD5\"]", "digest_algorithms = [\"MD5\", \"SHA-256\"]");

/// The JSON lines of a journal file in the engine's data directory (`queue.jsonl`, ...).
pub fn journal(engine: &Engine, file: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(engine.data.path().join(file)).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}
