//! Callback with the running engine and real peers: sipp callers ask for pensions, one asks to
//! be called back and hangs up; a sipp carrier (the trunk) receives the switchboard's INVITE at
//! that caller's turn (after the callers ahead, before those behind), answers and presses 1; a
//! sipp operator's phone is connected. Attempts that meet a busy or silent citizen are retried;
//! a restart keeps pending requests in their order; numbers that may not be called (premium,
//! abroad, a second request from the same number) never reach the trunk.

mod common;

use common::cluster::Sipp;
use common::*;
use serde_json::Value;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Each test runs several sipp peers and an engine for half a minute: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const MRO: Option<(&str, &str)> = Some(("mrossi", "demo-mrossi"));

/// The shipped configuration offering callback in every section, through a trunk at
/// `trunk_port`, with `retry_seconds` between attempts; callers wait with no operator logged in.
fn callback_config(trunk_port: u16, retry_seconds: u32) -> (tempfile::TempDir, std::path::PathBuf) {
    let trunk = format!("[trunk]\naddress = \"sip:127.0.0.1:{trunk_port}\"\n");
    edited_config(&[
        ("offer = \"never\"                    # set \"long_wait\" once [trunk] is configured", "offer = \"always\""),
        ("retry_seconds = 600                # between attempts", &format!("retry_seconds = {retry_seconds}")),
        ("# [trunk]\n# address = \"sip:carrier.example.it:5060\"\n", &trunk),
        ("# caller_id = \"+39061641164\"", "caller_id = \"+39061641164\""),
        ("# max_calls = 30", "max_calls = 30"),
        ("# ring_seconds = 30", "ring_seconds = 4"),
        ("when_no_operators = { node = \"no_operator_now\" }\n", ""),
        MD5_FIRST,
        // The sipp callers send no RTP.
        ("media_timeout_seconds = 30", "media_timeout_seconds = 300"),
        ("wrap_up_seconds = 10 ", "wrap_up_seconds = 0 "),
    ])
}

fn start(config: &std::path::Path, data: Option<tempfile::TempDir>) -> Engine {
    let trees = open_trees().to_str().unwrap().to_string();
    let args = ["--config", config.to_str().unwrap(), "--trees", &trees];
    match data {
        Some(d) => Engine::start_in(d, &args),
        None => Engine::start_with(&args),
    }
}

/// A caller from `number` asking for pensions (1 1 4) and waiting until the switchboard hangs up.
fn waiter(engine: &Engine, number: &str, within_s: u64) -> Sipp {
    let keys = [
        ("caller", number.to_string()),
        ("rtp_port", ports(1).to_string()),
        ("wait_ms", "60000".to_string()),
        ("confirm_ms", "0".to_string()),
    ];
    Sipp::start(engine.udp, "waiter.xml", "0773691001", 1, 1, &keys, &[], within_s)
}

/// A caller from `number` asking for pensions, then after `wait_ms` for a callback on the
/// number they call from; the switchboard hangs up once the request is taken.
fn asker(engine: &Engine, number: &str, wait_ms: u64) -> Sipp {
    let keys = [
        ("caller", number.to_string()),
        ("rtp_port", ports(1).to_string()),
        ("wait_ms", wait_ms.to_string()),
        ("confirm_ms", "1500".to_string()),
    ];
    Sipp::start(engine.udp, "callback_caller.xml", "0773691001", 1, 1, &keys, &[], 60)
}

/// The carrier on `port`: takes `calls` INVITEs, each answered as `answer` says (200: the
/// citizen presses 1 after 1.5 s; 486 busy; 180 rings until cancelled).
fn carrier(port: u16, answer: &str, calls: usize, within_s: u64) -> Sipp {
    let keys = [
        ("answer", answer.to_string()),
        ("press", "1".to_string()),
        ("press_ms", "1500".to_string()),
        ("rtp_port", ports(1).to_string()),
    ];
    Sipp::serve(port, "carrier.xml", calls, &keys, within_s)
}

/// mrossi's phone: registered for `stay_s`, answering each call and hanging up after 3 s.
fn mrossi_phone(engine: &Engine, stay_s: u64) -> Sipp {
    let keys = [
        ("expires", "300".to_string()),
        ("hold_ms", (stay_s * 1000).to_string()),
        ("ring_ms", "200".to_string()),
        ("talk_ms", "3000".to_string()),
        ("op_rtp_port", ports(1).to_string()),
    ];
    let answers = format!("{ROOT}/tests/sipp/operator_hangs_up.xml");
    let extra = ["-au", "mrossi", "-ap", "demo-mrossi", "-oocsf", answers.as_str()];
    Sipp::start(engine.udp, "operator_phone.xml", "mrossi", 1, 1, &keys, &extra, stay_s + 20)
}

fn wait_until(within: Duration, what: &str, engine: &Engine, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "{what} within {within:?}\n{}", tail(&engine.log_text(), 80));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The queue journal's events of kind `kind` (for section pensions), in order.
fn events(engine: &Engine, kind: &str) -> Vec<Value> {
    journal(engine, "queue.jsonl").into_iter().filter(|e| e["event"] == kind && e["section"] == "pensions").collect()
}

/// The call ids of sipp runs, by their caller number, from the engine's records.
fn call_of(engine: &Engine, number: &str) -> String {
    let records = engine.records().unwrap_or_default();
    let r = records.iter().find(|r| r["caller"] == number && r["callback_of"].is_null());
    r.and_then(|r| r["call_id"].as_str()).unwrap_or_default().to_string()
}

/// INVITEs the carrier received, as their Request-URIs.
fn invites(carrier: &Sipp) -> Vec<String> {
    carrier.file("messages.log").lines().filter(|l| l.starts_with("INVITE ")).map(String::from).collect()
}

fn pensions(engine: &Engine) -> Value {
    let (_, sections) = http(engine, "GET", "/api/sections", MRO, None);
    sections.as_array().unwrap().iter().find(|s| s["section"] == "pensions").cloned().unwrap()
}

#[test]
fn a_caller_called_back_at_their_turn_is_connected_to_the_operator_kept_for_them() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let trunk = ports(1);
    let (_dir, config) = callback_config(trunk, 30);
    let engine = start(&config, None);
    let mut carrier = carrier(trunk, "200", 1, 90);
    let _phone = mrossi_phone(&engine, 70);
    wait_until(Duration::from_secs(10), "mrossi's phone registered", &engine, || {
        let (_, ops) = http(&engine, "GET", "/api/operators", MRO, None);
        ops.as_array().into_iter().flatten().any(|o| o["operator"] == "mrossi" && o["reachable"] == true)
    });
    // Three callers in a row; the second asks to be called back and hangs up.
    let mut ahead = waiter(&engine, "+393330000001", 60);
    std::thread::sleep(Duration::from_millis(1200));
    // The portal's transfer prompt plays ~7 s before the caller is queued.
    let mut asking = asker(&engine, "+393330000002", 9000);
    std::thread::sleep(Duration::from_millis(1200));
    let mut behind = waiter(&engine, "+393330000003", 60);
    wait_until(Duration::from_secs(40), "the request taken and the third caller queued", &engine, || {
        !events(&engine, "callback_requested").is_empty() && events(&engine, "entered").len() == 3
    });
    assert_eq!(asking.wait(), Some(0), "the asker heard the switchboard hang up: {}", asking.report());
    let asked = call_of(&engine, "+393330000002");
    let record = engine.record(&asked);
    assert_eq!(record["ending"]["kind"], "callback_requested", "{record:#}");
    // The wallboard's figures: two on the line, one request.
    let p = pensions(&engine);
    assert_eq!((p["waiting"].as_u64(), p["callbacks"].as_u64()), (Some(2), Some(1)), "{p:#}");
    // The operator starts: the first caller, then the request (called back), then the third.
    let (status, body) = http(&engine, "POST", "/api/operator/login", MRO, None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(ahead.wait(), Some(0), "{}", ahead.report());
    assert_eq!(carrier.wait(), Some(0), "the carrier's call: {}", carrier.report());
    assert_eq!(behind.wait(), Some(0), "{}", behind.report());
    let invites = invites(&carrier);
    assert_eq!(invites.len(), 1, "{invites:?}");
    assert!(invites[0].starts_with("INVITE sip:+393330000002@127.0.0.1:"), "the asker's number: {invites:?}");
    let from = carrier.file("messages.log");
    assert!(from.contains("sip:+39061641164@"), "the contact center's number presented: {}", tail(&from, 40));
    // The order of service: ahead answered, then the callback dialled and answered, then behind.
    let order: Vec<(String, String)> = journal(&engine, "queue.jsonl")
        .into_iter()
        .filter(|e| ["answered", "callback_dialled", "callback_answered"].contains(&e["event"].as_str().unwrap_or("")))
        .map(|e| (e["call"].as_str().unwrap().to_string(), e["event"].as_str().unwrap().to_string()))
        .collect();
    let (first, third) = (call_of(&engine, "+393330000001"), call_of(&engine, "+393330000003"));
    let expected = [
        (first.clone(), "answered".to_string()),
        (asked.clone(), "callback_dialled".to_string()),
        (asked.clone(), "callback_answered".to_string()),
        (asked.clone(), "answered".to_string()),
        (third.clone(), "answered".to_string()),
    ];
    assert_eq!(order, expected, "{}", tail(&engine.log_text(), 60));
    // The callback's own record: the call that went out, tied to the request.
    let records = engine.records().unwrap();
    let out = records.iter().find(|r| r["callback_of"] == asked.as_str()).expect("the callback's record");
    assert_eq!((out["number"].as_str(), out["ending"]["kind"].as_str()), (Some("+393330000002"), Some("answered")));
    let p = pensions(&engine);
    assert_eq!((p["waiting"].as_u64(), p["callbacks"].as_u64()), (Some(0), Some(0)), "{p:#}");
}
