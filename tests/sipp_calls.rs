//! End-to-end SIP tests: the built `centralino serve`, called by sipp (Debian package
//! sip-tester) over UDP and TCP with the scenarios in tests/sipp/.
//!
//! Each test starts its own engine (SIP on free ports, its own RTP port range, a temporary data
//! directory), runs sipp, and checks what came back: the SIP messages (sipp's message trace,
//! printed whenever a check fails), the RTP the engine sends to a UDP socket of the test, and the
//! call records of `centralino calls --json`. Expectations that depend on the contact center's
//! opening hours are computed from the current time in Europe/Rome.

mod common;

use chrono::{DateTime, Datelike, NaiveDateTime, NaiveTime, Utc, Weekday};
use common::*;
use serde_json::{Value, json};
use std::net::UdpSocket;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

/// Direzione provinciale di Latina: answered by the national tree.
const LATINA: &str = "0773691001";
/// The caller every scenario presents in From.
const CALLER: &str = "+393331234567";

// ------------------------------------------------------------------------------------------
// RTP
// ------------------------------------------------------------------------------------------

/// A UDP socket standing for the caller's phone: it collects the RTP the engine sends.
struct RtpSink {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<Vec<Packet>>>,
}

struct Packet {
    at: Instant,
    wall: SystemTime,
    data: Vec<u8>,
}

impl RtpSink {
    fn start() -> RtpSink {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket for RTP");
        socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let port = socket.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut out = Vec::new();
            let mut buf = [0u8; 2048];
            while !flag.load(Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    out.push(Packet { at: Instant::now(), wall: SystemTime::now(), data: buf[..n].to_vec() });
                }
            }
            out
        });
        RtpSink { port, stop, thread: Some(thread) }
    }

    fn port(&self) -> String {
        self.port.to_string()
    }

    /// Stop listening; the packets received, in order of arrival.
    fn finish(mut self) -> Vec<Packet> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

impl Drop for RtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The fixed RTP header (RFC 3550 section 5.1).
#[derive(Debug, Clone, Copy)]
struct RtpHeader {
    version: u8,
    marker: bool,
    pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
}

fn rtp_header(p: &[u8]) -> Option<(RtpHeader, &[u8])> {
    if p.len() < 12 {
        return None;
    }
    let csrc = usize::from(p[0] & 0x0f) * 4;
    let h = RtpHeader {
        version: p[0] >> 6,
        marker: p[1] & 0x80 != 0,
        pt: p[1] & 0x7f,
        seq: u16::from_be_bytes([p[2], p[3]]),
        ts: u32::from_be_bytes([p[4], p[5], p[6], p[7]]),
        ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
    };
    Some((h, p.get(12 + csrc..)?))
}

/// G.711 A-law to 16-bit linear (ITU-T G.711; the reference decoder), written here so the
/// check does not rely on the engine's codec.
fn alaw_to_linear(a: u8) -> i32 {
    let a = a ^ 0x55;
    let mut t = i32::from(a & 0x0f) << 4;
    let seg = i32::from((a & 0x70) >> 4);
    match seg {
        0 => t += 8,
        1 => t += 0x108,
        _ => t = (t + 0x108) << (seg - 1),
    }
    if a & 0x80 != 0 { t } else { -t }
}

/// The samples of a prompt WAV at 8 kHz (the shipped prompts are 8 kHz mono 16-bit).
fn wav_samples(path: &str) -> Vec<i32> {
    let mut r = hound::WavReader::open(Path::new(ROOT).join(path)).expect("read the prompt WAV");
    let spec = r.spec();
    assert_eq!((spec.sample_rate, spec.channels, spec.bits_per_sample), (8000, 1, 16), "{path}");
    r.samples::<i16>().map(|s| i32::from(s.unwrap())).collect()
}

// ------------------------------------------------------------------------------------------
// Opening hours and records
// ------------------------------------------------------------------------------------------

/// Whether the shipped `contact_center` schedule is open at `t`: Mon-Fri 08-20, Sat 08-14
/// Europe/Rome, closed on national holidays and on its closed dates.
fn contact_center_open(t: DateTime<Utc>) -> bool {
    let rome = t.with_timezone(&chrono_tz::Europe::Rome);
    let date = rome.date_naive();
    if centralino::calendar::italian_holiday(date).is_some()
        || ["2026-12-24", "2026-12-31"].contains(&date.format("%Y-%m-%d").to_string().as_str())
    {
        return false;
    }
    let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    let now = rome.time();
    match rome.weekday() {
        Weekday::Sat => now >= hm(8, 0) && now < hm(14, 0),
        Weekday::Sun => false,
        _ => now >= hm(8, 0) && now < hm(20, 0),
    }
}

/// Runs `f` (a call) and says whether the contact center was open throughout: `None` when the
/// call straddled an opening or closing time and either outcome is right.
fn with_hours<T>(f: impl FnOnce() -> T) -> (T, Option<bool>) {
    let before = contact_center_open(Utc::now());
    let out = f();
    let after = contact_center_open(Utc::now());
    (out, (before == after).then_some(before))
}

/// The greeting node after the language choice.
fn greeting(open: bool) -> &'static str {
    if open { "welcome" } else { "closed_notice" }
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect()).unwrap_or_default()
}

/// Check a record's path, allowing either greeting when the hours were uncertain.
fn assert_path(record: &Value, open: Option<bool>, expected: &[&str]) {
    let path = strs(&record["path"]);
    let matches = |open: bool| {
        let want: Vec<String> =
            expected.iter().map(|n| if *n == "GREETING" { greeting(open) } else { n }.to_string()).collect();
        path == want
    };
    let ok = match open {
        Some(o) => matches(o),
        None => matches(true) || matches(false),
    };
    assert!(ok, "path {path:?}, expected {expected:?} with GREETING for open={open:?}\nrecord: {record:#}");
}

/// The fields every answered call of the shipped Latina number has.
fn assert_latina_answered(record: &Value, run: &SippRun) {
    let ctx = || format!("record: {record:#}\n{}", run.report());
    assert_eq!(record["caller"], CALLER, "{}", ctx());
    assert_eq!(record["number"], "+390773691001", "{}", ctx());
    assert_eq!(record["province"], "LT", "{}", ctx());
    assert_eq!(record["region"], "lazio", "{}", ctx());
    assert_eq!(record["tree"], "centralino-unico-nazionale", "{}", ctx());
    assert!(record["answered"].is_string(), "not answered: {}", ctx());
}

// ------------------------------------------------------------------------------------------
// SDP
// ------------------------------------------------------------------------------------------

/// The parts of an SDP answer the tests look at.
#[derive(Debug)]
struct Answer {
    origin_version: u64,
    connection: String,
    port: u16,
    formats: Vec<u8>,
    attributes: Vec<String>,
}

fn parse_answer(sdp: &str) -> Answer {
    let mut a = Answer { origin_version: 0, connection: String::new(), port: 0, formats: vec![], attributes: vec![] };
    for line in sdp.lines().map(str::trim) {
        if let Some(o) = line.strip_prefix("o=") {
            a.origin_version = o.split_whitespace().nth(2).and_then(|v| v.parse().ok()).unwrap_or(0);
        } else if let Some(c) = line.strip_prefix("c=") {
            a.connection = c.to_string();
        } else if let Some(m) = line.strip_prefix("m=audio ") {
            let mut parts = m.split_whitespace();
            a.port = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
            assert_eq!(parts.next(), Some("RTP/AVP"), "m= line {line}");
            a.formats = parts.filter_map(|f| f.parse().ok()).collect();
        } else if let Some(attr) = line.strip_prefix("a=") {
            a.attributes.push(attr.to_string());
        }
    }
    a
}

impl Answer {
    fn has(&self, attr: &str) -> bool {
        self.attributes.iter().any(|a| a == attr)
    }

    fn direction(&self) -> Vec<&str> {
        self.attributes
            .iter()
            .map(String::as_str)
            .filter(|a| ["sendrecv", "sendonly", "recvonly", "inactive"].contains(a))
            .collect()
    }
}

/// The 200 to the initial INVITE: an SDP answer with `codec` (PT, name) and telephone-event
/// `dtmf_pt`, on a port of the engine's range.
fn check_answer(engine: &Engine, run: &SippRun, codec: (u8, &str), dtmf_pt: u8) -> Answer {
    let ok = run.response(200, "INVITE");
    let ctx = || run.report();
    assert_eq!(ok.header("Content-Type"), Some("application/sdp"), "{}", ctx());
    let a = parse_answer(ok.body());
    assert_eq!(a.formats, vec![codec.0, dtmf_pt], "answer formats, from {a:?}\n{}", ctx());
    assert!(a.has(&format!("rtpmap:{} {}/8000", codec.0, codec.1)), "no rtpmap for {codec:?} in {a:?}\n{}", ctx());
    assert!(a.has(&format!("rtpmap:{dtmf_pt} telephone-event/8000")), "no telephone-event {dtmf_pt}\n{}", ctx());
    assert_eq!(a.connection, "IN IP4 127.0.0.1", "{}", ctx());
    assert!(
        a.port >= engine.rtp_ports.0 && a.port <= engine.rtp_ports.1 && a.port.is_multiple_of(2),
        "RTP port {} outside the engine's even ports {:?}\n{}",
        a.port,
        engine.rtp_ports,
        ctx()
    );
    assert_eq!(a.direction(), vec!["sendrecv"], "{}", ctx());
    // 100 and 180 came first (sipp's scenario requires them in order); one dialog.
    let ringing = run.response(180, "INVITE");
    assert_eq!(ringing.to_tag(), ok.to_tag(), "180 and 200 have different To-tags\n{}", ctx());
    assert!(ok.header("Contact").is_some(), "no Contact in the 200\n{}", ctx());
    a
}

fn call_keys<'a>(rtp_port: &'a str, codecs: &'a str, dtmf_pt: &'a str, talk_ms: &'a str) -> [(&'a str, &'a str); 4] {
    [("rtp_port", rtp_port), ("codecs", codecs), ("dtmf_pt", dtmf_pt), ("talk_ms", talk_ms)]
}

// ------------------------------------------------------------------------------------------
// 1. The answer follows the offer
// ------------------------------------------------------------------------------------------

#[test]
fn answer_takes_the_offers_first_common_codec_and_its_telephone_event_type() {
    let engine = Engine::start();
    let (sink_a, sink_b) = (RtpSink::start(), RtpSink::start());
    let (pa, pb) = (sink_a.port(), sink_b.port());
    let (a, b) = thread::scope(|s| {
        let a = s.spawn(|| sipp(&engine, "call.xml", Transport::Udp, LATINA, &call_keys(&pa, "8 0 101", "101", "500")));
        let b = s.spawn(|| sipp(&engine, "call.xml", Transport::Udp, LATINA, &call_keys(&pb, "0 8 96", "96", "500")));
        (a.join().unwrap().expect_ok(), b.join().unwrap().expect_ok())
    });
    // PCMA listed first: PCMA; telephone-event 101 as offered.
    check_answer(&engine, &a, (8, "PCMA"), 101);
    // PCMU listed first: PCMU; telephone-event with a dynamic type other than 101.
    check_answer(&engine, &b, (0, "PCMU"), 96);
    for run in [&a, &b] {
        let r = engine.record(&run.call_id());
        assert_latina_answered(&r, run);
        assert_eq!(r["ending"], json!({"kind": "caller_hangup", "node": "language_choice"}), "{r:#}");
    }
    // The engine sends the negotiated codec.
    for (sink, pt) in [(sink_a, 8), (sink_b, 0)] {
        let packets = sink.finish();
        assert!(!packets.is_empty(), "no RTP received");
        let pts: Vec<u8> = packets.iter().filter_map(|p| rtp_header(&p.data)).map(|(h, _)| h.pt).collect();
        assert!(pts.iter().all(|p| *p == pt), "payload types {pts:?}, expected all {pt}");
    }
}

// ------------------------------------------------------------------------------------------
// 2. The first prompt as paced RTP
// ------------------------------------------------------------------------------------------

#[test]
fn the_first_prompt_arrives_as_paced_rtp() {
    let engine = Engine::start();
    // Pacing is measured on arrival at this process, so a machine busy with other work can delay
    // a packet by a few milliseconds: further calls decide before calling the pacing broken.
    let mut verdicts = Vec::new();
    for attempt in 1..=3 {
        match prompt_call(&engine) {
            Ok(()) => return,
            Err(e) => {
                eprintln!("attempt {attempt}: {e}");
                verdicts.push(e);
            }
        }
    }
    panic!("the prompt is not paced at 20 ms in three calls:\n{}", verdicts.join("\n"));
}

/// One call that hears the whole language prompt: everything but its pacing is asserted; the
/// pacing (20 ms +- 2 ms for 99% of the intervals, no drift) is returned as the verdict.
fn prompt_call(engine: &Engine) -> Result<(), String> {
    let sink = RtpSink::start();
    let port = sink.port();
    // The language prompt is 3.6 s; the portal then waits 5 s in silence: hang up in between.
    let quiet = STARTING.write().unwrap_or_else(|e| e.into_inner());
    let run = sipp(engine, "call.xml", Transport::Udp, LATINA, &call_keys(&port, "8 0 101", "101", "4800"));
    drop(quiet);
    let run = run.expect_ok();
    let packets = sink.finish();
    check_answer(engine, &run, (8, "PCMA"), 101);

    let samples = wav_samples("sounds/it/language_choice.wav");
    let expected = samples.len().div_ceil(160);
    let parsed: Vec<(Instant, RtpHeader, &[u8])> =
        packets.iter().map(|p| rtp_header(&p.data).map(|(h, b)| (p.at, h, b)).expect("an RTP packet")).collect();
    // The first prompt: the packets up to the first silence.
    let end = parsed.windows(2).position(|w| w[1].0 - w[0].0 > Duration::from_secs(1)).map_or(parsed.len(), |i| i + 1);
    let prompt = &parsed[..end];
    let ctx = || format!("{} packets received ({} in the first burst)\n{}", parsed.len(), prompt.len(), run.report());
    assert_eq!(
        prompt.len(),
        expected,
        "one packet per 20 ms of language_choice.wav ({} samples); {}",
        samples.len(),
        ctx()
    );

    let first = prompt[0].1;
    assert_eq!(first.version, 2, "{}", ctx());
    assert!(first.marker, "the first packet of a prompt carries the marker bit; {}", ctx());
    let mut bad_intervals = Vec::new();
    let mut decoded = Vec::new();
    for (i, (at, h, payload)) in prompt.iter().enumerate() {
        assert_eq!(h.pt, 8, "payload type of packet {i} (PCMA negotiated); {}", ctx());
        assert_eq!(h.ssrc, first.ssrc, "SSRC of packet {i}; {}", ctx());
        assert_eq!(payload.len(), 160, "payload of packet {i}; {}", ctx());
        decoded.extend(payload.iter().map(|b| alaw_to_linear(*b)));
        if i > 0 {
            let (prev_at, prev, _) = prompt[i - 1];
            assert!(!h.marker, "marker on packet {i} inside the prompt; {}", ctx());
            assert_eq!(h.seq, prev.seq.wrapping_add(1), "sequence number of packet {i}; {}", ctx());
            assert_eq!(h.ts, prev.ts.wrapping_add(160), "timestamp of packet {i}; {}", ctx());
            let dt = *at - prev_at;
            if dt < Duration::from_millis(18) || dt > Duration::from_millis(22) {
                bad_intervals.push((i, dt));
            }
        }
    }
    // It is the prompt: the A-law payloads decode to the WAV's samples, then silence.
    let off: Vec<usize> =
        (0..samples.len()).filter(|&i| (samples[i] - decoded[i]).abs() > 16 + samples[i].abs() / 16).collect();
    assert!(off.is_empty(), "{} samples differ from the WAV (first at {:?})", off.len(), off.first());
    assert!(decoded[samples.len()..].iter().all(|s| s.abs() <= 16), "the last frame is padded with silence");
    let r = engine.record(&run.call_id());
    assert_latina_answered(&r, &run);
    assert_eq!(r["ending"], json!({"kind": "caller_hangup", "node": "language_choice"}), "{r:#}");

    let intervals = prompt.len() - 1;
    eprintln!("{} intervals off 20 ms +- 2 ms of {intervals}: {bad_intervals:?}", bad_intervals.len());
    // The 99% target is measured by bench/concurrent.sh on a quiet machine; here the other tests
    // of this file run beside the call, and one packet late by 3 ms already spoils two intervals
    // (1.1%). Broken pacing (bursts, a wrong rate) is far beyond 5%, and the drift check below.
    if bad_intervals.len() * 100 > intervals * 5 {
        return Err(format!("more than 5% of {intervals} intervals are off 20 ms +- 2 ms: {bad_intervals:?}"));
    }
    // No drift: the absolute schedule keeps the whole prompt at 20 ms per packet.
    let span = prompt[prompt.len() - 1].0 - prompt[0].0;
    let nominal = Duration::from_millis(20 * intervals as u64);
    if span.abs_diff(nominal) >= Duration::from_millis(40) {
        return Err(format!("the prompt took {span:?}, nominal {nominal:?}"));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------
// 3. Keys: RFC 4733 and SIP INFO, along paths of the shipped national tree
// ------------------------------------------------------------------------------------------

#[test]
fn rfc4733_keys_from_sipp_captures_walk_the_portal() {
    let engine = Engine::start_with(&["--trees", "ivr-trees"]); // the shipped hours: see with_hours
    let ((office, ticket), open) = with_hours(|| {
        thread::scope(|s| {
            let a = s.spawn(|| sipp(&engine, "keys_rfc4733_office.xml", Transport::Udp, LATINA, &[]));
            let b = s.spawn(|| sipp(&engine, "keys_rfc4733_ticket.xml", Transport::Udp, LATINA, &[]));
            (a.join().unwrap(), b.join().unwrap())
        })
    });
    for run in [&office, &ticket] {
        // sipp plays pcap files through a raw socket: it needs root or CAP_NET_RAW.
        assert!(
            !run.errors.contains("raw IPv4 socket"),
            "sipp cannot play pcap files without CAP_NET_RAW (run as root, or \
             setcap cap_net_raw+ep /usr/bin/sipp)\n{}",
            run.report()
        );
    }
    let office = office.expect_ok();
    let ticket = ticket.expect_ok();

    // 2 English, 1 pensions (barging into the greeting), * back to the main menu, 6 office.
    let r = engine.record(&office.call_id());
    assert_latina_answered(&r, &office);
    let ctx = || format!("record {r:#}\n{}", office.report());
    assert_eq!(r["keys"], "21*6", "{}", ctx());
    assert_eq!(r["language"], "en", "{}", ctx());
    assert_path(
        &r,
        open,
        &[
            "language_entry",
            "language_choice",
            "opening_check",
            "GREETING",
            "main_menu",
            "pensions_menu",
            "main_menu",
            "office_info_entry",
            "office_info",
        ],
    );
    assert_eq!(r["answers"], json!(["office_info"]), "{}", ctx());
    assert_eq!(r["ending"], json!({"kind": "caller_hangup", "node": "office_info"}), "{}", ctx());

    // 1 Italian, 7 request status, 123456782 #: a well-formed number, but no such ticket in
    // this engine's (empty) store.
    let r = engine.record(&ticket.call_id());
    assert_latina_answered(&r, &ticket);
    let ctx = || format!("record {r:#}\n{}", ticket.report());
    assert_eq!(r["keys"], "17123456782#", "{}", ctx());
    assert_eq!(r["language"], "it", "{}", ctx());
    assert_path(
        &r,
        open,
        &[
            "language_entry",
            "language_choice",
            "opening_check",
            "GREETING",
            "main_menu",
            "ticket_number",
            "ticket_lookup",
            "ticket_status_not_found",
        ],
    );
    assert_eq!(r["answers"], json!(["ticket_status_not_found"]), "{}", ctx());
    assert_eq!(r["ending"], json!({"kind": "caller_hangup", "node": "ticket_status_not_found"}), "{}", ctx());
}

#[test]
fn sip_info_keys_walk_the_portal() {
    let engine = Engine::start_with(&["--trees", "ivr-trees"]); // the shipped hours: see with_hours
    let (sink_a, sink_b) = (RtpSink::start(), RtpSink::start());
    let (pa, pb) = (sink_a.port(), sink_b.port());
    let ((relay, dtmf), open) = with_hours(|| {
        thread::scope(|s| {
            let a = s.spawn(|| {
                let keys = [("rtp_port", pa.as_str()), ("codecs", "0 101"), ("dtmf_pt", "101")];
                sipp(&engine, "keys_info_relay.xml", Transport::Udp, LATINA, &keys)
            });
            let b = s.spawn(|| {
                let keys = [("rtp_port", pb.as_str()), ("codecs", "0 101"), ("dtmf_pt", "101")];
                sipp(&engine, "keys_info_dtmf.xml", Transport::Udp, LATINA, &keys)
            });
            (a.join().unwrap().expect_ok(), b.join().unwrap().expect_ok())
        })
    });
    // Every INFO was answered 200 (the scenarios require it).
    assert_eq!(relay.responses(200, "INFO").len(), 3, "{}", relay.report());
    assert_eq!(dtmf.responses(200, "INFO").len(), 2, "{}", dtmf.report());

    // application/dtmf-relay: 1 Italian, 1 pensions, 1 pension documents.
    let r = engine.record(&relay.call_id());
    assert_latina_answered(&r, &relay);
    let ctx = || format!("record {r:#}\n{}", relay.report());
    assert_eq!(r["keys"], "111", "{}", ctx());
    assert_eq!(r["language"], "it", "{}", ctx());
    assert_path(
        &r,
        open,
        &[
            "language_entry",
            "language_choice",
            "opening_check",
            "GREETING",
            "main_menu",
            "pensions_menu",
            "pension_documents",
        ],
    );
    assert_eq!(r["answers"], json!(["pension_documents"]), "{}", ctx());
    assert_eq!(r["ending"], json!({"kind": "caller_hangup", "node": "pension_documents"}), "{}", ctx());

    // application/dtmf: 1 Italian, 0 operator during the greeting. Open: the transfer
    // announcement, then the general section, where no operator is logged in: the shipped
    // `when_no_operators` sends the caller to `no_operator_now`, which in the contact center's
    // hours says that no operator is free now (not the hours: it is open). Closed: the
    // "operators closed" notice straight away.
    let r = engine.record(&dtmf.call_id());
    assert_latina_answered(&r, &dtmf);
    let ctx = || format!("record {r:#}\n{}", dtmf.report());
    assert_eq!(r["keys"], "10", "{}", ctx());
    let open_path =
        ["language_entry", "language_choice", "opening_check", "welcome", "no_operator_now", "no_operator_free"];
    let closed_path = ["language_entry", "language_choice", "opening_check", "closed_notice", "operator_closed"];
    let path = strs(&r["path"]);
    match open {
        Some(true) => assert_eq!(path, open_path, "{}", ctx()),
        Some(false) => assert_eq!(path, closed_path, "{}", ctx()),
        None => assert!(path == open_path || path == closed_path, "{}", ctx()),
    }
    let ended_in = json!({"kind": "caller_hangup", "node": path.last()});
    assert_eq!(r["ending"], ended_in, "{}", ctx());
    drop((sink_a, sink_b));
}

// ------------------------------------------------------------------------------------------
// 4-7. Calls that end before or without an answer, and one that ends mid-prompt
// ------------------------------------------------------------------------------------------

#[test]
fn cancel_before_the_answer_gets_487_and_a_cancelled_record() {
    let engine = Engine::start();
    let sink = RtpSink::start();
    let run = sipp(&engine, "cancel.xml", Transport::Udp, LATINA, &[("rtp_port", &sink.port())]).expect_ok();
    assert!(run.responses(200, "INVITE").is_empty(), "the call was answered despite the CANCEL\n{}", run.report());
    run.response(200, "CANCEL");
    let terminated = run.response(487, "INVITE");
    let ringing = run.response(180, "INVITE");
    assert_eq!(terminated.to_tag(), ringing.to_tag(), "487 and 180 To-tags differ\n{}", run.report());
    let r = engine.record(&run.call_id());
    assert_eq!(r["ending"], json!({"kind": "cancelled"}), "record {r:#}\n{}", run.report());
    assert!(r["answered"].is_null(), "record {r:#}");
    assert_eq!(r["number"], "+390773691001", "record {r:#}");
    assert!(sink.finish().is_empty(), "RTP sent for a call never answered");
}

#[test]
fn caller_bye_mid_prompt_is_answered_and_recorded() {
    let engine = Engine::start();
    let sink = RtpSink::start();
    let port = sink.port();
    let run = sipp(&engine, "call.xml", Transport::Udp, LATINA, &call_keys(&port, "0 101", "101", "1000")).expect_ok();
    run.response(200, "BYE");
    let r = engine.record(&run.call_id());
    assert_latina_answered(&r, &run);
    assert_eq!(r["ending"], json!({"kind": "caller_hangup", "node": "language_choice"}), "{r:#}\n{}", run.report());
    assert_eq!(r["path"], json!(["language_entry", "language_choice"]), "{r:#}");
    assert_eq!(r["keys"], "", "{r:#}");
    // The prompt stops with the call: nothing arrives after the 200 to the BYE.
    thread::sleep(Duration::from_millis(300));
    let packets = sink.finish();
    assert!(packets.len() >= 30, "{} RTP packets in a call of 1 s", packets.len());
    let bye_ok = run.response(200, "BYE").time + chrono::Duration::milliseconds(60);
    let late = packets.iter().filter(|p| local(p.wall) > bye_ok).count();
    assert_eq!(late, 0, "RTP packets after the call ended\n{}", run.report());
}

#[test]
fn unknown_number_is_refused_with_404() {
    let engine = Engine::start();
    let sink = RtpSink::start();
    let run = sipp(&engine, "unknown_number.xml", Transport::Udp, "999", &[("rtp_port", &sink.port())]).expect_ok();
    run.response(404, "INVITE");
    let r = engine.record(&run.call_id());
    assert_eq!(
        r["ending"],
        json!({"kind": "rejected", "status": 404, "reason": "Not Found"}),
        "{r:#}\n{}",
        run.report()
    );
    assert_eq!(r["number"], "999", "{r:#}");
    assert!(r["answered"].is_null() && r["tree"].is_null(), "{r:#}");
}

#[test]
fn offer_without_a_common_codec_is_refused_with_488() {
    let engine = Engine::start();
    let sink = RtpSink::start();
    let keys = [("rtp_port", sink.port()), ("formats", "18".to_string())];
    let run = sipp(&engine, "no_common_codec.xml", Transport::Udp, LATINA, &keys_of(&keys)).expect_ok();
    let refused = run.response(488, "INVITE");
    assert!(
        refused.header("Warning").is_some_and(|w| w.starts_with("304 ")),
        "488 without Warning 304\n{}",
        run.report()
    );
    let r = engine.record(&run.call_id());
    assert_eq!(
        r["ending"],
        json!({"kind": "rejected", "status": 488, "reason": "Not Acceptable Here"}),
        "{r:#}\n{}",
        run.report()
    );
    assert_eq!(r["number"], "+390773691001", "{r:#}");
    assert!(r["answered"].is_null(), "{r:#}");
}

fn keys_of<'a>(keys: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    keys.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn with_srtp_required_a_plain_offer_is_refused_with_488_saying_why() {
    let (_dir, config) =
        edited_config(&[("srtp = \"optional\"\noperators_srtp", "srtp = \"required\"\noperators_srtp")]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    let sink = RtpSink::start();
    let keys = [("rtp_port", sink.port()), ("formats", "0".to_string())];
    let run = sipp(&engine, "no_common_codec.xml", Transport::Udp, LATINA, &keys_of(&keys)).expect_ok();
    let refused = run.response(488, "INVITE");
    let warning = refused.header("Warning").unwrap_or_default();
    assert!(
        warning.starts_with("304 ") && warning.contains("encrypted media is required"),
        "{warning}\n{}",
        run.report()
    );
    let r = engine.record(&run.call_id());
    assert_eq!(r["ending"]["status"], 488, "{r:#}");
}

// ------------------------------------------------------------------------------------------
// 8. OPTIONS
// ------------------------------------------------------------------------------------------

#[test]
fn options_is_answered_200_with_allow() {
    let engine = Engine::start();
    let run = sipp(&engine, "options.xml", Transport::Udp, LATINA, &[]).expect_ok();
    let ok = run.response(200, "OPTIONS");
    let allow = ok.header("Allow").unwrap_or_else(|| panic!("no Allow\n{}", run.report()));
    let methods: Vec<&str> = allow.split(',').map(str::trim).collect();
    for m in ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO"] {
        assert!(methods.contains(&m), "Allow: {allow} lacks {m}\n{}", run.report());
    }
    // OPTIONS is not a call: no record.
    thread::sleep(Duration::from_millis(300));
    let records = engine.records().unwrap_or_default();
    assert!(records.is_empty(), "records after OPTIONS: {records:#?}");
}

// ------------------------------------------------------------------------------------------
// 9. TCP
// ------------------------------------------------------------------------------------------

#[test]
fn a_call_over_tcp() {
    let engine = Engine::start();
    let sink = RtpSink::start();
    let port = sink.port();
    let run =
        sipp(&engine, "call.xml", Transport::Tcp, LATINA, &call_keys(&port, "8 0 101", "101", "1000")).expect_ok();
    assert!(run.messages.contains("TCP message"), "not over TCP\n{}", run.report());
    check_answer(&engine, &run, (8, "PCMA"), 101);
    let contact = run.response(200, "INVITE").header("Contact").unwrap_or_default().to_ascii_lowercase();
    assert!(contact.contains("transport=tcp"), "Contact of the 200 over TCP: {contact}\n{}", run.report());
    run.response(200, "BYE");
    let r = engine.record(&run.call_id());
    assert_latina_answered(&r, &run);
    assert_eq!(r["ending"], json!({"kind": "caller_hangup", "node": "language_choice"}), "{r:#}");
    let packets = sink.finish();
    assert!(packets.len() >= 30, "{} RTP packets in a 1 s call over TCP signalling", packets.len());
}

// ------------------------------------------------------------------------------------------
// 10. Hold and resume
// ------------------------------------------------------------------------------------------

/// sipp's timestamps are local wall-clock times.
fn local(t: SystemTime) -> NaiveDateTime {
    DateTime::<chrono::Local>::from(t).naive_local()
}

/// A call held 0.8 s after the answer and resumed at 2.0 s (the language prompt plays 3.6 s),
/// and the RTP received meanwhile.
fn hold_and_resume(engine: &Engine) -> (SippRun, Vec<Packet>) {
    let sink = RtpSink::start();
    let port = sink.port();
    let keys = [("rtp_port", port.as_str()), ("hold_at_ms", "800"), ("hold_ms", "1200"), ("after_ms", "2000")];
    let run = sipp(engine, "hold.xml", Transport::Udp, LATINA, &keys).expect_ok();
    (run, sink.finish())
}

#[test]
fn reinvite_sendonly_holds_the_prompt_and_sendrecv_resumes_it() {
    let engine = Engine::start();
    let (run, packets) = hold_and_resume(&engine);
    let ctx = || run.report();

    let initial = parse_answer(run.response(200, "INVITE").body());
    let oks = run.responses(200, "INVITE");
    assert_eq!(oks.len(), 3, "three 200s to INVITE\n{}", ctx());
    let hold_ok = oks.iter().find(|m| m.cseq() == Some(2)).expect("200 to the hold");
    let resume_ok = oks.iter().find(|m| m.cseq() == Some(3)).expect("200 to the resume");
    let hold = parse_answer(hold_ok.body());
    let resume = parse_answer(resume_ok.body());
    assert_eq!(hold.direction(), vec!["recvonly"], "answer to a=sendonly: {hold:?}\n{}", ctx());
    assert_eq!(resume.direction(), vec!["sendrecv"], "answer to a=sendrecv: {resume:?}\n{}", ctx());
    assert_eq!((hold.port, resume.port), (initial.port, initial.port), "the RTP port changed\n{}", ctx());
    assert_eq!(hold.formats.first(), Some(&0), "{}", ctx());
    assert!(
        initial.origin_version < hold.origin_version && hold.origin_version < resume.origin_version,
        "o= versions {} {} {} must increase (RFC 3264 section 8)\n{}",
        initial.origin_version,
        hold.origin_version,
        resume.origin_version,
        ctx()
    );

    // RTP: flowing before the hold, nothing while held, flowing again after the resume.
    let hold_sent = run.request("INVITE", 2).time;
    let resume_sent = run.request("INVITE", 3).time;
    let held_from = hold_ok.time + chrono::Duration::milliseconds(60);
    let times: Vec<NaiveDateTime> = packets.iter().map(|p| local(p.wall)).collect();
    let before = times.iter().filter(|t| **t < hold_sent).count();
    let during: Vec<&NaiveDateTime> = times.iter().filter(|t| **t > held_from && **t < resume_sent).collect();
    let after = times.iter().filter(|t| **t > resume_ok.time).count();
    eprintln!("RTP packets: {before} before the hold, {} while held, {after} after the resume", during.len());
    assert!(before >= 20, "{before} packets before the hold\n{}", ctx());
    assert!(during.is_empty(), "{} packets while on hold (first at {:?})\n{}", during.len(), during.first(), ctx());
    assert!(after >= 20, "{after} packets after the resume (the prompt goes on)\n{}", ctx());

    let r = engine.record(&run.call_id());
    assert_latina_answered(&r, &run);
    assert_eq!(r["ending"], json!({"kind": "caller_hangup", "node": "language_choice"}), "{r:#}");
}

#[test]
fn rtp_resumed_after_a_hold_is_a_new_talkspurt_on_the_wall_clock() {
    let engine = Engine::start();
    let (run, packets) = hold_and_resume(&engine);
    let parsed: Vec<(Instant, RtpHeader)> =
        packets.iter().map(|p| (p.at, rtp_header(&p.data).expect("an RTP packet").0)).collect();
    let gap = parsed
        .windows(2)
        .enumerate()
        .max_by_key(|(_, w)| w[1].0 - w[0].0)
        .map(|(i, _)| i)
        .expect("packets before and after the hold");
    let ((last_at, last), (first_at, first)) = (parsed[gap], parsed[gap + 1]);
    let held = first_at - last_at;
    assert!(held > Duration::from_millis(800), "no hold gap in the RTP (largest {held:?})\n{}", run.report());
    assert_eq!(first.seq, last.seq.wrapping_add(1), "sequence numbers count packets sent");
    // RFC 3550 section 5.1: the timestamp follows the sampling clock through the silence; RFC
    // 3551 section 4.1: the first packet after a silence starts a talkspurt (marker bit).
    let elapsed = held.as_secs_f64() * 8000.0;
    let delta = f64::from(first.ts.wrapping_sub(last.ts));
    assert!(
        (delta - elapsed).abs() <= 480.0,
        "timestamp advanced {delta} over a {held:?} hold ({elapsed:.0} samples): last before {last:?}, first after {first:?}"
    );
    assert!(first.marker, "no marker on the first packet after the hold: {first:?}");
}

#[test]
fn invite_without_sdp_gets_an_offer_in_the_200_and_the_answer_in_the_ack() {
    let engine = Engine::start();
    let sink = RtpSink::start();
    let port = sink.port();
    let run = sipp(&engine, "late_offer.xml", Transport::Udp, LATINA, &[("rtp_port", &port), ("talk_ms", "1000")])
        .expect_ok();
    let ok = run.response(200, "INVITE");
    assert_eq!(ok.header("Content-Type"), Some("application/sdp"), "{}", run.report());
    let offer = parse_answer(ok.body());
    assert!(offer.formats.contains(&0), "the offer lacks PCMU: {offer:?}\n{}", run.report());
    let r = engine.record(&run.call_id());
    assert_latina_answered(&r, &run);
    assert_eq!(r["ending"], json!({"kind": "caller_hangup", "node": "language_choice"}), "{r:#}");
    let packets = sink.finish();
    assert!(packets.len() >= 30, "{} RTP packets after the answer in the ACK", packets.len());
}
