//! A real SIP softphone calls the running engine: baresip, headless on loopback (a tone from a
//! WAV file as its microphone, no loudspeaker), dials the Latina number over UDP, waits in the
//! language menu, presses 1 (an RFC 4733 telephone-event, as phones send it), hangs up and
//! quits. The call record must show the answered call, the key, the Italian language, the
//! first nodes of the national tree and the caller's hang-up.
//!
//! Needs baresip (Debian package `baresip-core`, installed by scripts/test.sh): the test fails,
//! never skips, when it is missing.

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The whole test stays below this, whatever hangs.
const BUDGET: Duration = Duration::from_secs(38);
/// The Latina number of the shipped configuration, as a phone dials it.
const DIALLED: &str = "0773691001";
/// Where Debian (and a local build) put baresip's modules.
const MODULE_DIRS: &[&str] =
    &["/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules", "/usr/local/lib/baresip/modules"];
/// RTP ranges of the engine and of the softphone: apart from each other and from the other
/// tests; both sides skip ports already in use.
const ENGINE_RTP: &str = "43000-43198";
const PHONE_RTP: &str = "43200-43398";

/// The overall deadline of the test, and the deadline of each step within it.
struct Clock {
    end: Instant,
}

impl Clock {
    fn new() -> Self {
        Clock { end: Instant::now() + BUDGET }
    }

    /// `step` from now, but never past the end of the test's budget.
    fn within(&self, step: Duration) -> Instant {
        (Instant::now() + step).min(self.end)
    }
}

/// `centralino serve` on loopback ports chosen by the system; killed when dropped.
struct Engine {
    child: Child,
    udp: SocketAddr,
    log: Arc<Mutex<Vec<String>>>,
    data_dir: tempfile::TempDir,
}

impl Engine {
    fn start(clock: &Clock) -> Engine {
        let data_dir = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_centralino"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "serve",
                "--sip-udp",
                "127.0.0.1:0",
                "--sip-tcp",
                "127.0.0.1:0",
                "--http",
                "127.0.0.1:0",
                "--rtp-ports",
                ENGINE_RTP,
            ])
            .arg("--data-dir")
            .arg(data_dir.path())
            .args(["--log-format", "json"])
            .arg("--trees")
            .arg(common::open_trees())
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start centralino serve");
        // The log goes on being read (so the engine never blocks on a full pipe) and kept for
        // the failure messages.
        let log = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["fields"]["message"] == "switchboard ready"
                {
                    let _ = ready_tx.send(v["fields"]["udp"].as_str().unwrap_or_default().to_string());
                }
                kept.lock().unwrap().push(line);
            }
        });
        let mut engine = Engine { child, udp: "0.0.0.0:0".parse().unwrap(), log, data_dir };
        let wait = clock.within(Duration::from_secs(20)).saturating_duration_since(Instant::now());
        match ready_rx.recv_timeout(wait) {
            Ok(udp) => engine.udp = udp.parse().unwrap_or_else(|e| panic!("ready line's udp {udp:?}: {e}")),
            Err(_) => panic!(
                "centralino serve did not log \"switchboard ready\" within {wait:?} (exit: {:?}); its log:\n{}",
                engine.child.try_wait(),
                engine.log_text()
            ),
        }
        engine
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The call records, as `centralino calls --json` prints them.
    fn calls(&self) -> Vec<Value> {
        let out = Command::new(env!("CARGO_BIN_EXE_centralino"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["calls", "--json", "--data-dir"])
            .arg(self.data_dir.path())
            .output()
            .expect("run centralino calls");
        assert!(out.status.success(), "centralino calls failed: {}", String::from_utf8_lossy(&out.stderr));
        match serde_json::from_slice(&out.stdout) {
            Ok(Value::Array(records)) => records,
            other => panic!("centralino calls --json printed no array: {other:?}"),
        }
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// baresip's configuration directory: config, account, microphone file.
fn baresip_dir(modules: &Path, account: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    // 20 s of a 440 Hz tone at 8 kHz mono 16-bit, the format aufile wants at audio_srate 8000:
    // the softphone sends real audio for the whole call.
    let tone = dir.path().join("tone.wav");
    let spec =
        hound::WavSpec { channels: 1, sample_rate: 8000, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
    let mut w = hound::WavWriter::create(&tone, spec).unwrap();
    for i in 0..8000 * 20 {
        let s = (2.0 * std::f64::consts::PI * 440.0 * f64::from(i) / 8000.0).sin();
        w.write_sample((s * 3000.0) as i16).unwrap();
    }
    w.finalize().unwrap();
    let config = format!(
        "\
poll_method\t\tpoll
sip_listen\t\t127.0.0.1:0
sip_trans_def\t\tudp
net_interface\t\t127.0.0.1
dns_server\t\t127.0.0.1:53
call_local_timeout\t20
call_max_calls\t\t1
audio_player\t\taubridge,nowhere
audio_alert\t\taubridge,nowhere
audio_source\t\taufile,{tone}
audio_srate\t\t8000
audio_channels\t\t1
rtp_ports\t\t{PHONE_RTP}
module_path\t\t{modules}
module\t\t\tstdio.so
module\t\t\tg711.so
module\t\t\taufile.so
module\t\t\taubridge.so
module_app\t\taccount.so
module_app\t\tmenu.so
",
        tone = tone.display(),
        modules = modules.display(),
    );
    std::fs::write(dir.path().join("config"), config).unwrap();
    std::fs::write(dir.path().join("accounts"), format!("{account}\n")).unwrap();
    std::fs::write(dir.path().join("contacts"), "").unwrap();
    dir
}

fn baresip_modules() -> PathBuf {
    MODULE_DIRS.iter().map(PathBuf::from).find(|d| d.join("g711.so").is_file()).unwrap_or_else(|| {
        panic!(
            "baresip's modules (g711.so, aufile.so, ...) are in none of {MODULE_DIRS:?}: \
             install the Debian package baresip-core (scripts/test.sh does)"
        )
    })
}

/// baresip driven through its standard input (the `stdio` and `menu` modules); its output,
/// with the SIP trace, is kept line by line.
struct Softphone {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    transcript: Vec<String>,
    _dir: tempfile::TempDir,
}

/// The output of a stream as lines: baresip ends status lines with a carriage return and
/// colours errors with ANSI escapes.
fn forward_lines(stream: impl Read + Send + 'static, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        for byte in BufReader::new(stream).bytes().map_while(Result::ok) {
            if byte == b'\n' || byte == b'\r' {
                let line = strip_ansi(&String::from_utf8_lossy(&buf));
                buf.clear();
                if tx.send(line).is_err() {
                    return;
                }
            } else {
                buf.push(byte);
            }
        }
        if !buf.is_empty() {
            let _ = tx.send(strip_ansi(&String::from_utf8_lossy(&buf)));
        }
    });
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ parameters final-letter
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

impl Softphone {
    /// A softphone whose account only names the caller (no registration).
    fn start() -> Softphone {
        Self::start_with("<sip:test@127.0.0.1>;regint=0")
    }

    /// A softphone with this account line (e.g. one that registers).
    fn start_with(account: &str) -> Softphone {
        // Is it there at all? (`baresip -h` prints its usage and exits.)
        match Command::new("baresip")
            .arg("-h")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "baresip is not installed: this test calls the engine with a real SIP softphone. \
                 Install the Debian package baresip-core (apt-get install baresip-core), as \
                 scripts/test.sh does"
            ),
            Err(e) => panic!("cannot run baresip: {e}"),
        }
        let modules = baresip_modules();
        let dir = baresip_dir(&modules, account);
        // -s: the SIP trace, for the failure messages and the BYE check.
        let mut child = Command::new("baresip")
            .arg("-s")
            .arg("-f")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start baresip: {e}"));
        let (tx, lines) = mpsc::channel();
        forward_lines(child.stdout.take().unwrap(), tx.clone());
        forward_lines(child.stderr.take().unwrap(), tx);
        let stdin = child.stdin.take().unwrap();
        Softphone { child, stdin, lines, transcript: Vec::new(), _dir: dir }
    }

    /// Type on baresip's keyboard.
    fn type_keys(&mut self, keys: &str) {
        self.stdin.write_all(keys.as_bytes()).unwrap_or_else(|e| panic!("typing {keys:?} into baresip: {e}"));
        self.stdin.flush().unwrap();
    }

    /// Wait until the output so far satisfies `done`, or fail at `deadline` saying `what`.
    fn wait_until(&mut self, what: &str, deadline: Instant, done: impl Fn(&[String]) -> bool) {
        loop {
            if done(&self.transcript) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.transcript.push(line),
                Err(RecvTimeoutError::Timeout) => {
                    panic!("baresip: {what}: not seen in time; its output:\n{}", self.output())
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("baresip exited ({:?}) before {what}; its output:\n{}", self.child.try_wait(), self.output())
                }
            }
        }
    }

    /// Wait for a line containing `needle`.
    fn wait_for(&mut self, needle: &str, deadline: Instant) {
        self.wait_until(&format!("a line with {needle:?}"), deadline, |t| t.iter().any(|l| l.contains(needle)));
    }

    /// Keep reading the output for `d` (so nothing is lost and the pipes never fill).
    fn pause(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while let Ok(line) = self.lines.recv_timeout(end.saturating_duration_since(Instant::now())) {
            self.transcript.push(line);
        }
        std::thread::sleep(end.saturating_duration_since(Instant::now()));
    }

    /// Wait for baresip to exit by itself; kill it at `deadline`. Returns whether it exited.
    fn wait_exit(&mut self, deadline: Instant) -> bool {
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            self.pause(Duration::from_millis(100));
        }
        false
    }

    fn output(&self) -> String {
        self.transcript
            .iter()
            .filter(|l| !l.trim().is_empty() && !l.contains("(bit/s)"))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Softphone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SIP messages of baresip's trace (`-s`): each starts with a line `#`, then
/// `UDP from -> to`, then the message.
fn sip_messages(transcript: &[String]) -> Vec<Vec<String>> {
    let mut messages: Vec<Vec<String>> = Vec::new();
    let mut inside = false;
    for line in transcript {
        if line == "#" {
            messages.push(Vec::new());
            inside = true;
        } else if inside
            && !line.trim().is_empty()
            && let Some(m) = messages.last_mut()
        {
            m.push(line.clone());
        }
    }
    messages
}

/// The engine at `engine` answered a BYE with 200 OK.
fn bye_answered(transcript: &[String], engine: SocketAddr) -> bool {
    let from_engine = format!("UDP {engine} -> ");
    sip_messages(transcript).iter().any(|m| {
        m.first().is_some_and(|l| l.starts_with(&from_engine))
            && m.get(1).is_some_and(|l| l.starts_with("SIP/2.0 200"))
            && m.iter().any(|l| l.starts_with("CSeq:") && l.trim_end().ends_with(" BYE"))
    })
}

#[test]
fn baresip_calls_presses_1_for_italian_and_hangs_up() {
    let clock = Clock::new();
    let started = Instant::now();
    // baresip first: when it is missing, fail before starting anything else.
    let mut phone = Softphone::start();
    let engine = Engine::start(&clock);
    phone.wait_for("baresip is ready", clock.within(Duration::from_secs(10)));

    phone.type_keys(&format!("/dial sip:{DIALLED}@{}\n", engine.udp));
    phone.wait_for("Call established", clock.within(Duration::from_secs(10)));

    // In the language menu for a while, then 1 (Italian) as an RFC 4733 event.
    phone.pause(Duration::from_secs(3));
    assert!(
        phone.transcript.iter().any(|l| l.contains("incoming rtp for 'audio' established")),
        "3 s into the call baresip has had no RTP (prompts) from the engine; baresip's output:\n{}",
        phone.output()
    );
    phone.type_keys("1");
    phone.wait_for("send DTMF digit end: '1'", clock.within(Duration::from_secs(5)));
    phone.pause(Duration::from_millis(1500));

    // Hang up (BYE), wait for the engine's 200 OK, quit.
    phone.type_keys("b");
    let udp = engine.udp;
    phone.wait_until("the engine's 200 OK to the BYE", clock.within(Duration::from_secs(5)), |t| bye_answered(t, udp));
    phone.type_keys("q");
    if !phone.wait_exit(clock.within(Duration::from_secs(3))) {
        eprintln!("note: baresip did not quit on q in time; killed");
    }

    // The record is written by the engine's log writer shortly after the call ends.
    let deadline = clock.within(Duration::from_secs(5));
    let records = loop {
        let records = engine.calls();
        if !records.is_empty() || Instant::now() >= deadline {
            break records;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let context = || {
        format!(
            "\nrecords: {}\nbaresip's output:\n{}\nengine's log:\n{}",
            serde_json::to_string_pretty(&records).unwrap(),
            phone.output(),
            engine.log_text()
        )
    };
    assert_eq!(records.len(), 1, "one call, one record{}", context());
    let r = &records[0];
    assert_eq!(r["number"], "+390773691001", "the Latina number{}", context());
    assert!(r["answered"].is_string(), "the call was answered{}", context());
    let keys = r["keys"].as_str().unwrap_or_default();
    assert!(keys.contains('1'), "the key 1 was recorded (keys {keys:?}){}", context());
    assert_eq!(r["language"], "it", "Italian{}", context());
    let path: Vec<&str> = r["path"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    assert!(
        path.starts_with(&["language_entry", "language_choice", "opening_check"]),
        "the path starts language_choice -> opening_check (path {path:?}){}",
        context()
    );
    assert_eq!(r["ending"]["kind"], "caller_hangup", "the caller hung up{}", context());
    assert!(started.elapsed() < BUDGET + Duration::from_secs(2), "took {:?}", started.elapsed());
}

/// baresip as an operator's phone: it registers with digest authentication, the operator logs
/// in through the API, a sipp caller asks for the pensions section, baresip answers
/// automatically, audio flows, and the caller's hang-up ends both legs.
#[test]
fn baresip_as_an_operator_answers_a_queued_caller() {
    // baresip 1.0 (libre) knows only MD5 and gives up when any challenge names another
    // algorithm: the configuration offers MD5 alone, as docs/operators.md says for such phones.
    let md5_only = ("digest_algorithms = [\"SHA-256\", \"MD5\"]", "digest_algorithms = [\"MD5\"]");
    let (_dir, config) = common::edited_config(&[md5_only]);
    let engine = common::Engine::start_with(&["--config", config.to_str().unwrap()]);
    let account = format!("<sip:mrossi@{}>;auth_pass=demo-mrossi;regint=300;answermode=auto", engine.udp);
    let mut phone = Softphone::start_with(&account);
    let deadline = Instant::now() + Duration::from_secs(15);
    phone.wait_for("200 OK", deadline);
    let registered = |e: &common::Engine| e.log_text().contains("operator phone registered");
    let until = Instant::now() + Duration::from_secs(5);
    while !registered(&engine) && Instant::now() < until {
        phone.pause(Duration::from_millis(100));
    }
    assert!(
        registered(&engine),
        "baresip did not register; its output:\n{}\nengine:\n{}",
        phone.output(),
        engine.log_text()
    );
    let (status, body) = common::http(&engine, "POST", "/api/operator/login", Some(("mrossi", "demo-mrossi")), None);
    assert_eq!(status, 200, "{body}");

    // The caller: 1 Italian, 1 pensions, 4 an operator; stays 12 s after the keys, hangs up.
    let engine_ref = &engine;
    let keys = [
        ("rtp_port", "9"),
        ("codecs", "0 8 101"),
        ("dtmf_pt", "101"),
        ("k1", "1"),
        ("k2", "1"),
        ("k3", "4"),
        ("wait_ms", "12000"),
        ("after", "5"),
        ("after_ms", "300"),
    ];
    let run = std::thread::scope(|s| {
        let h = s.spawn(|| common::sipp(engine_ref, "queue_caller.xml", common::Transport::Udp, DIALLED, &keys));
        // Meanwhile baresip answers (auto-answer) and receives the caller's side of the bridge.
        phone.wait_for("Call established", Instant::now() + Duration::from_secs(25));
        h.join().unwrap()
    });
    let run = run.expect_ok();
    let call_id = run.call_id();
    let record = engine.record(&call_id);
    phone.pause(Duration::from_secs(1));
    assert_eq!(
        record["ending"],
        serde_json::json!({"kind": "answered", "section": "pensions", "operator": "mrossi"}),
        "record {record:#}\nbaresip:\n{}",
        phone.output()
    );
    // The engine hung up baresip's leg when the caller left.
    assert!(
        sip_messages(&phone.transcript).iter().any(|m| m.get(1).is_some_and(|l| l.starts_with("BYE "))),
        "baresip got the engine's BYE; its output:\n{}",
        phone.output()
    );
    phone.type_keys("q");
    let _ = phone.wait_exit(Instant::now() + Duration::from_secs(3));
}
