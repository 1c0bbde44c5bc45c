//! The phone in the browser, in real headless Chromium with a fake microphone playing a 1 kHz
//! tone: the operator turns it on in the console, a sipp caller (RTP from this test: a 400 Hz
//! tone) asks for the pensions section, the console rings, the operator answers there; the
//! caller's tone is heard in the page (Web Audio analyser) and the console's tone on the
//! caller's RTP; hang-ups from either side end both; the console stays ready across a network
//! interruption without a reload.

mod common;

use centralino::media::g711::Law;
use common::browser::Driver;
use common::talker::*;
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// A WAV of a pure tone, for Chromium's fake microphone (it loops the file).
fn tone_wav(path: &Path, hz: f32) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 48_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..48_000 * 2 {
        let s = (i as f32 / 48_000.0 * hz * std::f32::consts::TAU).sin() * 12_000.0;
        w.write_sample(s as i16).unwrap();
    }
    w.finalize().unwrap();
}

/// Chromium with a fake microphone playing `wav`, allowed without asking, audio playing
/// without a gesture.
fn browser_with_microphone(wav: &Path) -> Driver {
    let capture = format!("--use-file-for-fake-audio-capture={}", wav.display());
    Driver::start_with(&[
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        &capture,
        "--autoplay-policy=no-user-gesture-required",
    ])
}

fn script(b: &Driver, js: &str) -> Value {
    b.cmd("POST", "/execute/sync", Some(json!({"script": js, "args": []}))).unwrap_or(Value::Null)
}

/// Wait until the phone's state (`#phone-state[data-state]`) is `state`.
fn wait_phone(b: &Driver, state: &str, secs: u64) {
    b.wait(&format!("#phone-state[data-state={state}]"), secs);
}

/// A caller of the Latina number who asks for a pensions operator and stays until the
/// switchboard hangs up; its RTP is `talker`'s.
fn caller_until_bye(engine: &Engine, talker: &Talker) -> SippRun {
    let port = talker.port.to_string();
    let keys =
        [("rtp_port", port.as_str()), ("codecs", "0 101"), ("dtmf_pt", "101"), ("k1", "1"), ("k2", "1"), ("k3", "4")];
    sipp(engine, "queue_caller_until_bye.xml", Transport::Udp, "0773691001", &keys)
}

/// The decoded audio the caller heard after `from`.
fn heard_after(heard: &Heard, from: Instant) -> Vec<i16> {
    heard
        .iter()
        .filter(|(at, _)| *at > from)
        .filter_map(|(_, p)| parse(p))
        .filter(|s| s.pt == 0)
        .flat_map(|s| Law::Pcmu.decode(&s.payload))
        .collect()
}

/// Sign in as mrossi, log in to the sections, turn the browser phone on.
fn operator_ready(b: &Driver, engine: &Engine) {
    b.sign_in(&format!("http://{}/console", engine.http), "mrossi", "demo-mrossi");
    b.click("#login");
    b.wait("#state[data-state=available]", 10);
    b.click("#phone-on");
    wait_phone(b, "ready", 20);
}

#[test]
fn the_console_answers_a_caller_and_both_hear_each_other() {
    let engine = Engine::start();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone-1k.wav");
    tone_wav(&wav, 1000.0);
    let b = browser_with_microphone(&wav);
    operator_ready(&b, &engine);
    b.screenshot("phone-ready");
    let (_, me) = http(&engine, "GET", "/api/operator", Some(("mrossi", "demo-mrossi")), None);
    assert_eq!(me["reachable"], true, "the console's phone makes the operator reachable: {me}");

    // The caller asks for pensions: the console rings with the caller and the section.
    let talker = Talker::start(Law::Pcmu, 400.0);
    let (answered, pitch) = thread::scope(|s| {
        let caller = s.spawn(|| caller_until_bye(&engine, &talker));
        let ring = b.wait_text("#phone-ring", "+393331234567", 30);
        assert!(ring.starts_with("Chiamata in arrivo") && ring.contains("Pensioni"), "the section's name: {ring}");
        b.screenshot("phone-ringing");
        assert_eq!(b.axe("/console, a call ringing in the browser"), Vec::<String>::new());
        b.click("#answer");
        b.wait("#hangup:not([hidden])", 10);
        let answered = Instant::now();
        // The screen-pop beside the phone.
        b.wait_text("#pop", "+393331234567", 10);
        assert_eq!(b.axe("/console, talking in the browser"), Vec::<String>::new());

        // The caller's 400 Hz in the page, through the engine, DTLS-SRTP and the browser.
        let deadline = Instant::now() + Duration::from_secs(15);
        let pitch = loop {
            let p = script(&b, "return phone.callerPitch();");
            let hz = p["hz"].as_f64().unwrap_or(0.0);
            if (hz - 400.0).abs() < 30.0 && p["db"].as_f64().unwrap_or(-200.0) > -60.0 {
                break p;
            }
            assert!(Instant::now() < deadline, "the caller's tone never reached the page: {p}\n{}", engine.log_text());
            thread::sleep(Duration::from_millis(200));
        };
        b.screenshot("phone-talking");
        thread::sleep(Duration::from_secs(2));

        // The console hangs up: the caller gets the switchboard's BYE, the page says so.
        b.click("#hangup");
        caller.join().unwrap().expect_ok();
        b.wait_text("#phone-state", "Ha riagganciato", 10);
        (answered, pitch)
    });
    // The console's 1 kHz reached the caller, as G.711 on the caller's RTP.
    let pcm = heard_after(&talker.finish(), answered + Duration::from_millis(500));
    assert!(pcm.len() > 8000, "at least a second of audio from the console: {} samples", pcm.len());
    let (k1, hz400) = (share_of(&pcm[..8000], 1000.0), share_of(&pcm[..8000], 400.0));
    assert!(
        k1 > 0.3 && hz400 < 0.05,
        "the caller hears the console's tone: 1 kHz {k1:.3}, 400 Hz {hz400:.3} (page: {pitch})"
    );
}

/// A caller who waits `wait_ms` once through the portal (in the queue or talking), then hangs up.
fn caller_hanging_up_after(engine: &Engine, talker: &Talker, wait_ms: u64) -> SippRun {
    let (port, wait) = (talker.port.to_string(), wait_ms.to_string());
    let keys = [
        ("rtp_port", port.as_str()),
        ("codecs", "0 101"),
        ("dtmf_pt", "101"),
        ("k1", "1"),
        ("k2", "1"),
        ("k3", "4"),
        ("wait_ms", wait.as_str()),
        ("after", "5"),
        ("after_ms", "0"),
    ];
    sipp(engine, "queue_caller.xml", Transport::Udp, "0773691001", &keys)
}

#[test]
fn the_caller_hangs_up_and_the_console_rings_again_after_a_network_interruption() {
    let engine = Engine::start();
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone-1k.wav");
    tone_wav(&wav, 1000.0);
    let b = browser_with_microphone(&wav);
    operator_ready(&b, &engine);
    // Set on this page: still there at the end means the page was never reloaded.
    script(&b, "window.sameDocument = 42;");

    // The caller hangs up while talking: the page says so and offers nothing to press.
    let talker = Talker::start(Law::Pcmu, 400.0);
    thread::scope(|s| {
        let caller = s.spawn(|| caller_hanging_up_after(&engine, &talker, 6000));
        b.wait_text("#phone-ring", "+393331234567", 30);
        b.click("#answer");
        b.wait("#hangup:not([hidden])", 10);
        caller.join().unwrap().expect_ok();
        b.wait_text("#phone-state", "Il chiamante ha riagganciato", 10);
    });
    assert!(b.find("#hangup:not([hidden])").is_none() && b.find("#answer:not([hidden])").is_none());

    // DevTools takes the idle console offline for a while, then back.
    let conditions = |offline: bool| {
        let c = json!({"network_conditions": {"offline": offline, "latency": 0,
            "download_throughput": if offline { 0 } else { -1 }, "upload_throughput": if offline { 0 } else { -1 }}});
        b.cmd("POST", "/chromium/network_conditions", Some(c)).unwrap();
    };
    conditions(true);
    thread::sleep(Duration::from_secs(8));
    eprintln!("offline 8 s: the phone says {:?}", b.text("#phone-state"));
    conditions(false);
    wait_phone(&b, "ready", 30);

    // A new call rings it, without a reload.
    thread::scope(|s| {
        let caller = s.spawn(|| caller_until_bye(&engine, &talker));
        b.wait_text("#phone-ring", "+393331234567", 30);
        b.click("#answer");
        b.wait("#hangup:not([hidden])", 10);
        b.click("#hangup");
        caller.join().unwrap().expect_ok();
    });
    assert_eq!(script(&b, "return window.sameDocument;"), 42, "the console was not reloaded");
    talker.finish();
}

/// The console is closed while it rings: the call goes at once to the next operator (a SIP
/// phone), and the journal says why the console's operator was paused.
#[test]
fn a_console_closed_while_ringing_passes_the_call_on() {
    let (_dir, config) = edited_config(&[MD5_FIRST]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("tone-1k.wav");
    tone_wav(&wav, 1000.0);
    let b = browser_with_microphone(&wav);
    operator_ready(&b, &engine);
    // lferrari (pensions too) logs in after mrossi: mrossi, idle longer, is offered first.
    let lferrari = Some(("lferrari", "demo-lferrari"));
    assert_eq!(http(&engine, "POST", "/api/operator/login", lferrari, None).0, 200);
    let talker = Talker::start(Law::Pcmu, 400.0);
    let keys = [("expires", "120"), ("hold_ms", "25000"), ("ring_ms", "300"), ("op_rtp_port", "6004")];
    thread::scope(|s| {
        let phone = s.spawn(|| operator_phone(&engine, "lferrari", "operator_answers.xml", &keys));
        thread::sleep(Duration::from_millis(1500));
        // The caller hangs up 15 s after joining the queue: lferrari must have answered by then.
        let caller = s.spawn(|| caller_hanging_up_after(&engine, &talker, 15_000));
        b.wait_text("#phone-ring", "+393331234567", 30);
        b.cmd("DELETE", "/window", None).unwrap();
        caller.join().unwrap().expect_ok();
        phone.join().unwrap().expect_ok();
    });
    talker.finish();
    let states = journal(&engine, "operators.jsonl");
    let at = |operator: &str, state: &str| {
        let e = states.iter().find(|e| e["operator"] == operator && e["state"] == state);
        let e = e.unwrap_or_else(|| panic!("{operator} never {state}: {states:?}"));
        (chrono::DateTime::parse_from_rfc3339(e["at"].as_str().unwrap()).unwrap(), e["reason"].clone())
    };
    let (paused, reason) = at("mrossi", "paused");
    assert!(reason.as_str().is_some_and(|r| r.contains("browser phone")), "why mrossi was paused: {reason}");
    let (rung, _) = at("lferrari", "ringing");
    let (offered, _) = at("mrossi", "ringing");
    eprintln!("the console closed while ringing: passed on {} ms after the offer", (rung - offered).num_milliseconds());
    assert!(rung >= paused && rung - offered < chrono::Duration::seconds(5), "passed on at once: {states:?}");
    at("lferrari", "on_call");
}

/// The browser refuses the microphone: the page says so, the box is unticked, and the operator
/// is not reachable by the browser phone (the distribution never rings a console that cannot
/// answer).
#[test]
fn a_refused_microphone_is_said_and_the_console_is_not_rung() {
    let engine = Engine::start();
    // A fake device, but no automatic consent: the permission is refused through WebDriver.
    let b = Driver::start_with(&["--use-fake-device-for-media-stream"]);
    b.sign_in(&format!("http://{}/console", engine.http), "mrossi", "demo-mrossi");
    b.click("#login");
    b.wait("#state[data-state=available]", 10);
    let deny = json!({"descriptor": {"name": "microphone"}, "state": "denied"});
    b.cmd("POST", "/permissions", Some(deny)).unwrap();
    b.click("#phone-on");
    wait_phone(&b, "no_microphone", 20);
    let said = b.text("#phone-state");
    assert!(said.starts_with("Il browser non ha consentito il microfono"), "{said}");
    assert_eq!(script(&b, "return document.getElementById('phone-on').checked;"), false);
    let (_, ops) = http(&engine, "GET", "/api/operators", Some(("admin", "demo-admin")), None);
    let mrossi = ops.as_array().unwrap().iter().find(|o| o["operator"] == "mrossi").unwrap();
    assert_eq!((mrossi["state"].as_str(), mrossi["reachable"].as_bool()), (Some("available"), Some(false)), "{mrossi}");
}
