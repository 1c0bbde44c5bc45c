//! Callback with the running engine and real peers: sipp callers ask for pensions, one asks to
//! be called back and hangs up; a sipp carrier (the trunk) receives the switchboard's INVITE at
//! that caller's turn (after the callers ahead, before those behind), answers and presses 1; a
//! sipp operator's phone is connected. Attempts that meet a busy or silent citizen are retried;
//! a restart keeps pending requests in their order; numbers that may not be called (premium,
//! abroad, a second request from the same number) never reach the trunk; the carrier's digest
//! challenge is answered with the trunk's credentials.

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
    edited_config_with(callback_config_edits(trunk_port, retry_seconds), &[])
}

/// [`callback_config`]'s edits of the shipped configuration.
fn callback_config_edits(trunk_port: u16, retry_seconds: u32) -> Vec<(String, String)> {
    let trunk = format!("[trunk]\naddress = \"sip:127.0.0.1:{trunk_port}\"\n");
    let edits: [(&str, &str); 10] = [
        ("offer = \"never\"                    # set \"long_wait\" once [trunk] is configured", "offer = \"always\""),
        ("retry_seconds = 600                # between attempts", &format!("retry_seconds = {retry_seconds}")),
        ("# [trunk]\n# address = \"sip:carrier.example.it:5060\"\n", &trunk),
        ("# caller_id = \"+39061641164\"", "caller_id = \"+39061641164\""),
        ("# max_calls = 30", "max_calls = 30"),
        ("# ring_seconds = 30", "ring_seconds = 5"),
        ("when_no_operators = { node = \"no_operator_now\" }\n", ""),
        MD5_FIRST,
        // The sipp callers send no RTP.
        ("media_timeout_seconds = 30", "media_timeout_seconds = 300"),
        ("wrap_up_seconds = 10 ", "wrap_up_seconds = 0 "),
    ];
    edits.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

/// The shipped configuration with `edits` and `more`.
fn edited_config_with(edits: Vec<(String, String)>, more: &[(&str, &str)]) -> (tempfile::TempDir, std::path::PathBuf) {
    let all: Vec<(&str, &str)> =
        edits.iter().map(|(a, b)| (a.as_str(), b.as_str())).chain(more.iter().copied()).collect();
    edited_config(&all)
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
    // The wallboard's figures: two on the line, one request (its number only for operators).
    let p = pensions(&engine);
    assert_eq!((p["waiting"].as_u64(), p["callbacks"].as_u64()), (Some(2), Some(1)), "{p:#}");
    assert!(p.get("requests").is_none(), "{p:#}");
    let (status, list) = http(&engine, "GET", "/api/callbacks", MRO, None);
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!((list[0]["number"].as_str(), list[0]["ahead"].as_u64()), (Some("+393330000002"), Some(1)));
    assert_eq!(http(&engine, "GET", "/api/callbacks", Some(("lverdi", "demo-lverdi")), None).0, 403);
    assert_eq!(http(&engine, "GET", "/api/callbacks", Some(("admin", "demo-admin")), None).1, serde_json::json!(list));
    assert_eq!(http(&engine, "POST", "/api/callbacks/nothing/cancel", MRO, None).0, 404);
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

/// mrossi signs in and pauses: callers wait (and ask) until `ready`.
fn paused(engine: &Engine) {
    let (status, body) = http(engine, "POST", "/api/operator/login", MRO, None);
    assert_eq!(status, 200, "{body}");
    let reason = serde_json::json!({"reason": "briefing"});
    let (status, body) = http(engine, "POST", "/api/operator/pause", MRO, Some(&reason));
    assert_eq!(status, 200, "{body}");
}

fn ready(engine: &Engine) {
    let (status, body) = http(engine, "POST", "/api/operator/ready", MRO, None);
    assert_eq!(status, 200, "{body}");
}

fn registered(engine: &Engine) {
    wait_until(Duration::from_secs(10), "mrossi's phone registered", engine, || {
        let (_, ops) = http(engine, "GET", "/api/operators", MRO, None);
        ops.as_array().into_iter().flatten().any(|o| o["operator"] == "mrossi" && o["reachable"] == true)
    });
}

#[test]
fn busy_refused_and_unanswered_attempts_free_the_operator_and_are_retried() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let trunk = ports(1);
    let (_dir, config) = edited_config_with(callback_config_edits(trunk, 5), &[("attempts = 3 ", "attempts = 4 ")]);
    let engine = start(&config, None);
    let _phone = mrossi_phone(&engine, 80);
    registered(&engine);
    paused(&engine);
    let mut asking = asker(&engine, "+393330000004", 9000);
    wait_until(Duration::from_secs(40), "the request taken", &engine, || {
        !events(&engine, "callback_requested").is_empty()
    });
    assert_eq!(asking.wait(), Some(0), "{}", asking.report());
    // Busy, then the carrier refuses, then nobody answers, then the citizen answers.
    let mut busy = carrier(trunk, "486", 1, 30);
    ready(&engine);
    assert_eq!(busy.wait(), Some(0), "{}", busy.report());
    for answer in ["403", "180", "200"] {
        let mut next = carrier(trunk, answer, 1, 40);
        assert_eq!(next.wait(), Some(0), "carrier answering {answer}: {}", next.report());
    }
    wait_until(Duration::from_secs(10), "the callback answered", &engine, || !events(&engine, "answered").is_empty());
    let failed: Vec<(u64, String)> = events(&engine, "callback_failed")
        .iter()
        .map(|e| (e["attempt"].as_u64().unwrap(), e["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(failed.len(), 3, "{failed:?}");
    assert_eq!((failed[0].0, failed[0].1.as_str()), (1, "busy"));
    assert!(failed[1].1.starts_with("403"), "{failed:?}");
    assert_eq!(failed[2].1, "no answer", "{failed:?}");
    // Between attempts the operator was free at once, not held for the retry.
    let states: Vec<String> = journal(&engine, "operators.jsonl")
        .iter()
        .filter(|e| e["operator"] == "mrossi")
        .map(|e| e["state"].as_str().unwrap().to_string())
        .collect();
    let from_ready = &states[states.iter().position(|s| s == "paused").unwrap() + 1..];
    assert_eq!(
        from_ready[..9],
        ["available", "reserved", "available", "reserved", "available", "reserved", "available", "reserved", "ringing"],
        "{states:?}"
    );
    let dialled: Vec<u64> =
        events(&engine, "callback_dialled").iter().map(|e| e["attempt"].as_u64().unwrap()).collect();
    assert_eq!(dialled, [1, 2, 3, 4]);
}

#[test]
fn a_restart_keeps_pending_requests_in_their_order() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let trunk = ports(1);
    let (_dir, config) = callback_config(trunk, 30);
    let engine = start(&config, None);
    let mut first = asker(&engine, "+393330000005", 9000);
    std::thread::sleep(Duration::from_millis(1500));
    let mut second = asker(&engine, "+393330000006", 9000);
    wait_until(Duration::from_secs(40), "both requests taken", &engine, || {
        events(&engine, "callback_requested").len() == 2
    });
    assert_eq!((first.wait(), second.wait()), (Some(0), Some(0)));
    // kill -9, and the engine again on the same data.
    let data = engine.crash();
    let engine = start(&config, Some(data));
    let p = pensions(&engine);
    assert_eq!((p["waiting"].as_u64(), p["callbacks"].as_u64()), (Some(0), Some(2)), "{p:#}");
    let mut carrier = carrier(trunk, "200", 2, 90);
    let _phone = mrossi_phone(&engine, 60);
    registered(&engine);
    ready_from_start(&engine);
    assert_eq!(carrier.wait(), Some(0), "{}", carrier.report());
    let invites = invites(&carrier);
    assert_eq!(invites.len(), 2, "{invites:?}");
    assert!(invites[0].contains("+393330000005") && invites[1].contains("+393330000006"), "in order: {invites:?}");
}

fn ready_from_start(engine: &Engine) {
    let (status, body) = http(engine, "POST", "/api/operator/login", MRO, None);
    assert_eq!(status, 200, "{body}");
}

/// Fraud attempts: a caller keys in a premium-rate and then a foreign number instead of their
/// own, a second request comes from a number with one pending: all refused, and the trunk sees
/// only the one allowed.
#[test]
fn numbers_that_may_not_be_called_never_reach_the_trunk() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // The trunk: a socket that notes every INVITE and answers nothing.
    let trunk_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    trunk_socket.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let trunk = trunk_socket.local_addr().unwrap().port();
    let (_dir, config) = callback_config(trunk, 30);
    let engine = start(&config, None);
    let _phone = mrossi_phone(&engine, 80);
    registered(&engine);
    paused(&engine);
    let digits = |n: &str, p: &str| -> Vec<(String, String)> {
        n.chars().enumerate().map(|(i, c)| (format!("{p}{}", i + 1), c.to_string())).collect()
    };
    let mut keys: Vec<(String, String)> = vec![
        ("caller".into(), "+393330000008".into()),
        ("rtp_port".into(), ports(1).to_string()),
        ("wait_ms".into(), "9000".into()),
        ("stay_ms".into(), "1000".into()),
    ];
    keys.extend(digits("8991234567", "a"));
    keys.extend(digits("0041441234", "b"));
    let keys: Vec<(&str, String)> = keys.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
    let mut abroad = Sipp::start(engine.udp, "callback_typed.xml", "0773691001", 1, 1, &keys, &[], 90);
    let mut allowed = asker(&engine, "+393330000007", 9000);
    wait_until(Duration::from_secs(40), "the allowed request taken", &engine, || {
        !events(&engine, "callback_requested").is_empty()
    });
    let mut again = asker(&engine, "+393330000007", 9000);
    assert_eq!(abroad.wait(), Some(0), "{}", abroad.report());
    assert_eq!(again.wait(), Some(0), "{}", again.report());
    assert_eq!(allowed.wait(), Some(0), "{}", allowed.report());
    assert_eq!(events(&engine, "callback_requested").len(), 1, "only the allowed request");
    let abroad_record = engine.record(&call_of(&engine, "+393330000008"));
    assert_eq!(abroad_record["ending"]["kind"], "abandoned", "still waiting when they hung up: {abroad_record:#}");
    let log = engine.log_text();
    assert!(
        log.contains("\"refusal\":\"premium\"") && log.contains("\"refusal\":\"international\""),
        "{}",
        tail(&log, 40)
    );
    // The operator is ready: only the allowed number is called.
    ready(&engine);
    let mut seen = Vec::new();
    let until = Instant::now() + Duration::from_secs(6);
    let mut buf = [0u8; 4096];
    while Instant::now() < until && seen.is_empty() {
        if let Ok(n) = trunk_socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            if let Some(line) = text.lines().next().filter(|l| l.starts_with("INVITE ")) {
                seen.push(line.to_string());
            }
        }
    }
    assert!(!seen.is_empty(), "the allowed request is called");
    assert!(seen.iter().all(|l| l.starts_with("INVITE sip:+393330000007@")), "{seen:?}");
    // Nobody answers: the operator cancels the request from the console; the attempt stops
    // (CANCEL to the trunk) and the operator is free again.
    let (_, list) = http(&engine, "GET", "/api/callbacks", MRO, None);
    assert_eq!(list[0]["calling"], "mrossi", "{list}");
    let call = list[0]["call"].as_str().unwrap().to_string();
    let (status, body) = http(&engine, "POST", &format!("/api/callbacks/{call}/cancel"), MRO, None);
    assert_eq!(status, 200, "{body}");
    wait_until(Duration::from_secs(5), "the operator free and no request left", &engine, || {
        let (_, me) = http(&engine, "GET", "/api/operator", MRO, None);
        let (_, list) = http(&engine, "GET", "/api/callbacks", MRO, None);
        me["state"] == "available" && list.as_array().is_some_and(|l| l.is_empty())
    });
    // The trunk sent no provisional response, so no CANCEL (RFC 3261 9.1): the INVITE's
    // transaction ends on its own; nothing new is dialled.
    let mut calls = std::collections::BTreeSet::new();
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        if let Ok(n) = trunk_socket.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).to_string();
            calls.extend(text.lines().filter(|l| l.to_ascii_lowercase().starts_with("call-id:")).map(String::from));
        }
    }
    assert!(calls.len() <= 1, "one attempt only: {calls:?}");
    assert_eq!(events(&engine, "callback_cancelled")[0]["by"], "mrossi");
}

/// The carrier challenges the INVITE (401): the switchboard answers with the trunk's digest
/// credentials and the callback goes through.
#[test]
fn the_carriers_challenge_is_answered_with_the_trunks_credentials() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let trunk = ports(1);
    let credentials = [
        ("# username = \"inps-ccm\"", "username = \"inps-ccm\""),
        ("# password_env = \"CENTRALINO_TRUNK_PASSWORD\"", "password = \"s3cret-trunk\""),
    ];
    let (_dir, config) = edited_config_with(callback_config_edits(trunk, 30), &credentials);
    let engine = start(&config, None);
    let _phone = mrossi_phone(&engine, 70);
    registered(&engine);
    paused(&engine);
    let mut asking = asker(&engine, "+393330000009", 9000);
    wait_until(Duration::from_secs(40), "the request taken", &engine, || {
        !events(&engine, "callback_requested").is_empty()
    });
    assert_eq!(asking.wait(), Some(0), "{}", asking.report());
    let keys = [
        ("user", "inps-ccm".to_string()),
        ("pass", "s3cret-trunk".to_string()),
        ("press", "1".to_string()),
        ("press_ms", "1500".to_string()),
        ("rtp_port", ports(1).to_string()),
    ];
    let mut carrier = Sipp::serve(trunk, "carrier_auth.xml", 1, &keys, 60);
    ready(&engine);
    assert_eq!(carrier.wait(), Some(0), "the carrier took the credentials: {}", carrier.report());
    let trace = carrier.file("messages.log");
    assert!(trace.contains("Authorization: Digest") && trace.contains("username=\"inps-ccm\""), "{}", tail(&trace, 60));
    wait_until(Duration::from_secs(10), "the callback answered", &engine, || !events(&engine, "answered").is_empty());
}
