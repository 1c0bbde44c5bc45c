//! baresip, a real SIP softphone, headless on loopback: a tone from a WAV file as its
//! microphone, no loudspeaker, driven through its standard input, its output (with the SIP
//! trace) kept line by line.
//!
//! Needs baresip (Debian package `baresip-core`, installed by scripts/test.sh): the tests fail,
//! never skip, when it is missing.

use std::io::{BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Where Debian (and a local build) put baresip's modules.
const MODULE_DIRS: &[&str] =
    &["/usr/lib/baresip/modules", "/usr/lib/x86_64-linux-gnu/baresip/modules", "/usr/local/lib/baresip/modules"];
/// RTP ports of the softphone: apart from the engines' and the other tests'; baresip skips
/// ports already in use.
const PHONE_RTP: &str = "43200-43398";

/// baresip's configuration directory: config, account, microphone file.
fn baresip_dir(modules: &Path, account: &str, extra: &str) -> tempfile::TempDir {
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
{extra}",
        tone = tone.display(),
        modules = modules.display(),
    );
    std::fs::write(dir.path().join("config"), config).unwrap();
    std::fs::write(dir.path().join("accounts"), format!("{account}\n")).unwrap();
    std::fs::write(dir.path().join("contacts"), "").unwrap();
    dir
}

pub fn baresip_modules() -> PathBuf {
    MODULE_DIRS.iter().map(PathBuf::from).find(|d| d.join("g711.so").is_file()).unwrap_or_else(|| {
        panic!(
            "baresip's modules (g711.so, aufile.so, ...) are in none of {MODULE_DIRS:?}: \
             install the Debian package baresip-core (scripts/test.sh does)"
        )
    })
}

/// baresip driven through its standard input (the `stdio` and `menu` modules); its output,
/// with the SIP trace, is kept line by line.
pub struct Softphone {
    pub child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    pub transcript: Vec<String>,
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
    pub fn start() -> Softphone {
        Self::start_with("<sip:test@127.0.0.1>;regint=0")
    }

    /// A softphone with this account line (e.g. one that registers).
    pub fn start_with(account: &str) -> Softphone {
        Self::start_configured(account, "")
    }

    /// A softphone on SIP over TLS, trusting the certificate authority `ca` (PEM).
    pub fn start_tls(account: &str, ca: &Path) -> Softphone {
        Self::start_configured(account, &format!("sip_trans_def\t\ttls\nsip_cafile\t\t{}\n", ca.display()))
    }

    /// A softphone with this account line and these extra lines of configuration.
    pub fn start_configured(account: &str, extra: &str) -> Softphone {
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
        let dir = baresip_dir(&modules, account, extra);
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
    pub fn type_keys(&mut self, keys: &str) {
        self.stdin.write_all(keys.as_bytes()).unwrap_or_else(|e| panic!("typing {keys:?} into baresip: {e}"));
        self.stdin.flush().unwrap();
    }

    /// Wait until the output so far satisfies `done`, or fail at `deadline` saying `what`.
    pub fn wait_until(&mut self, what: &str, deadline: Instant, done: impl Fn(&[String]) -> bool) {
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
    pub fn wait_for(&mut self, needle: &str, deadline: Instant) {
        self.wait_until(&format!("a line with {needle:?}"), deadline, |t| t.iter().any(|l| l.contains(needle)));
    }

    /// Keep reading the output for `d` (so nothing is lost and the pipes never fill).
    pub fn pause(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while let Ok(line) = self.lines.recv_timeout(end.saturating_duration_since(Instant::now())) {
            self.transcript.push(line);
        }
        std::thread::sleep(end.saturating_duration_since(Instant::now()));
    }

    /// Dial `uri`, wait for the answer and the engine's prompts (3 s into the call), press `key`
    /// (baresip sends it as an RFC 4733 event) and stay on the line 1.5 s.
    pub fn call_and_press(&mut self, uri: &str, key: char) {
        let within = |s| Instant::now() + Duration::from_secs(s);
        self.type_keys(&format!("/dial {uri}\n"));
        self.wait_for("Call established", within(10));
        self.pause(Duration::from_secs(3));
        assert!(
            self.transcript.iter().any(|l| l.contains("incoming rtp for 'audio' established")),
            "3 s into the call baresip has had no RTP (prompts) from the engine; baresip's output:\n{}",
            self.output()
        );
        self.type_keys(&key.to_string());
        self.wait_for(&format!("send DTMF digit end: '{key}'"), within(5));
        self.pause(Duration::from_millis(1500));
    }

    /// Wait until `engine` has logged the registration of an operator's phone (at most
    /// `within`), reading the output meanwhile; fail with both sides' output if it does not.
    pub fn wait_registered(&mut self, engine: &super::Engine, within: Duration) {
        let registered = |e: &super::Engine| e.log_text().contains("operator phone registered");
        let until = Instant::now() + within;
        while !registered(engine) && Instant::now() < until {
            self.pause(Duration::from_millis(100));
        }
        assert!(
            registered(engine),
            "baresip did not register; its output:\n{}\nengine:\n{}",
            self.output(),
            engine.log_text()
        );
    }

    /// Wait for baresip to exit by itself; kill it at `deadline`. Returns whether it exited.
    pub fn wait_exit(&mut self, deadline: Instant) -> bool {
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            self.pause(Duration::from_millis(100));
        }
        false
    }

    pub fn output(&self) -> String {
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
pub fn sip_messages(transcript: &[String]) -> Vec<Vec<String>> {
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

/// The engine at `engine` answered a BYE with 200 OK over `transport` (`UDP`, `TLS`).
pub fn bye_answered(transcript: &[String], transport: &str, engine: SocketAddr) -> bool {
    let from_engine = format!("{transport} {engine} -> ");
    sip_messages(transcript).iter().any(|m| {
        m.first().is_some_and(|l| l.starts_with(&from_engine))
            && m.get(1).is_some_and(|l| l.starts_with("SIP/2.0 200"))
            && m.iter().any(|l| l.starts_with("CSeq:") && l.trim_end().ends_with(" BYE"))
    })
}
