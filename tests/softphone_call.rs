//! A real SIP softphone calls the running engine: baresip, headless on loopback (a tone from a
//! WAV file as its microphone, no loudspeaker), dials the Latina number over UDP, waits in the
//! language menu, presses 1 (an RFC 4733 telephone-event, as phones send it), hangs up and
//! quits. The call record must show the answered call, the key, the Italian language, the
//! first nodes of the national tree and the caller's hang-up.
//!
//! Needs baresip (Debian package `baresip-core`, installed by scripts/test.sh): the test fails,
//! never skips, when it is missing.

mod common;

use common::baresip::{Softphone, bye_answered, sip_messages};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The whole test stays below this, whatever hangs.
const BUDGET: Duration = Duration::from_secs(38);
/// The Latina number of the shipped configuration, as a phone dials it.
const DIALLED: &str = "0773691001";
/// RTP ports of the engine: apart from the softphone's and the other tests'; the engine skips
/// ports already in use.
const ENGINE_RTP: &str = "43000-43198";

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

#[test]
fn baresip_calls_presses_1_for_italian_and_hangs_up() {
    let clock = Clock::new();
    let started = Instant::now();
    // baresip first: when it is missing, fail before starting anything else.
    let mut phone = Softphone::start();
    let engine = Engine::start(&clock);
    phone.wait_for("baresip is ready", clock.within(Duration::from_secs(10)));

    // In the language menu for a while, then 1 (Italian) as an RFC 4733 event.
    phone.call_and_press(&format!("sip:{DIALLED}@{}", engine.udp), '1');

    // Hang up (BYE), wait for the engine's 200 OK, quit.
    phone.type_keys("b");
    let udp = engine.udp;
    phone.wait_until("the engine's 200 OK to the BYE", clock.within(Duration::from_secs(5)), |t| {
        bye_answered(t, "UDP", udp)
    });
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
    phone.wait_registered(&engine, Duration::from_secs(5));
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
