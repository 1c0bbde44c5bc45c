//! A queued caller connected to an operator, end to end: a sipp operator phone registers with
//! digest authentication and answers (sipp -oocsf), a sipp caller asks for the pensions
//! section; RTP flows both ways through the engine (caller PCMU, operator PCMA: transcoded);
//! hang-ups propagate; the journals and the call record tell the story.

mod common;

use centralino::media::g711::Law;
use common::talker::*;
use common::*;
use serde_json::json;
use std::net::UdpSocket;
use std::thread;
use std::time::{Duration, Instant};

#[test]
fn a_queued_caller_talks_with_the_operator_who_answers() {
    // A media timeout shorter than the conversation: RTP flowing through the bridge keeps the
    // call up although the call's task is not woken by it.
    let (_dir, config) = edited_config(&[MD5_FIRST, ("media_timeout_seconds = 30", "media_timeout_seconds = 4")]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    let me = Some(("mrossi", "demo-mrossi"));
    assert_eq!(http(&engine, "POST", "/api/operator/login", me, None).0, 200);

    let operator_audio = Talker::start(Law::Pcma, 1000.0);
    let caller_audio = Talker::start(Law::Pcmu, 400.0);
    let op_port = operator_audio.port.to_string();
    let caller_port = caller_audio.port.to_string();
    let (operator, caller, pop) = thread::scope(|s| {
        let engine = &engine;
        let op_port = op_port.as_str();
        let operator = s.spawn(move || {
            let keys = [("expires", "120"), ("hold_ms", "24000"), ("ring_ms", "800"), ("op_rtp_port", op_port)];
            operator_phone(engine, "mrossi", "operator_answers.xml", &keys)
        });
        // Let the phone register first.
        thread::sleep(Duration::from_millis(1500));
        let caller_port = caller_port.as_str();
        let caller = s.spawn(move || pensions_caller(engine, caller_port, "0 101", 14_000, "5", 300));
        // The operator's console asks who is calling while the call is connected.
        let pop = s.spawn(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(25);
            while std::time::Instant::now() < deadline {
                let (status, body) = http(engine, "GET", "/api/operator/call", me, None);
                if status == 200 {
                    return Some(body);
                }
                thread::sleep(Duration::from_millis(200));
            }
            None
        });
        (operator.join().unwrap(), caller.join().unwrap(), pop.join().unwrap())
    });
    let heard_by_operator = operator_audio.finish();
    let heard_by_caller = caller_audio.finish();
    let caller = caller.expect_ok();
    let operator = operator.expect_ok();
    let call_id = caller.call_id();
    let record = engine.record(&call_id);
    // The screen-pop: who is calling, the number called and its province, the path and the
    // keys, the section; gone once the call has ended.
    let pop = pop.expect("the console saw the call while it was connected");
    assert_eq!(pop["call_id"], call_id.as_str(), "{pop}");
    assert_eq!(pop["caller"], "+393331234567", "{pop}");
    assert_eq!((pop["number"].as_str(), pop["province"].as_str()), (Some("+390773691001"), Some("LT")), "{pop}");
    assert_eq!((pop["section"].as_str(), pop["keys"].as_str()), (Some("pensions"), Some("114")), "{pop}");
    assert!(pop["path"].as_array().unwrap().iter().any(|n| n == "pensions_menu"), "{pop}");
    assert_eq!(http(&engine, "GET", "/api/operator/call", me, None).0, 404, "no call any more");
    let context =
        || format!("record {record:#}\n--- caller ---\n{}\n--- operator ---\n{}", caller.report(), operator.report());

    // The operator's phone was called with our SDP offer, and told which call it is.
    let invite = operator.msgs().into_iter().find(|m| !m.sent && m.method() == Some("INVITE")).expect("an INVITE");
    assert_eq!(invite.header("X-Centralino-Call"), Some(call_id.as_str()), "{}", context());
    assert!(invite.text.contains("a=rtpmap:8 PCMA/8000") && invite.text.contains("telephone-event"));

    // Operator -> caller: the 1 kHz tone, transcoded to PCMU, on the caller's one stream.
    let streams: Vec<Stream> = heard_by_caller.iter().filter_map(|(_, p)| parse(p)).collect();
    let ssrcs: std::collections::BTreeSet<u32> = streams.iter().map(|s| s.ssrc).collect();
    assert_eq!(ssrcs.len(), 1, "the caller sees one stream from the engine: {ssrcs:?}");
    let relayed: Vec<&Stream> =
        streams.iter().filter(|s| s.pt == 0 && share_of(&Law::Pcmu.decode(&s.payload), 1000.0) > 0.8).collect();
    assert!(relayed.len() > 150, "the operator's voice reached the caller: {} packets\n{}", relayed.len(), context());
    assert!(relayed.windows(2).filter(|w| w[1].seq == w[0].seq.wrapping_add(1)).count() > relayed.len() * 9 / 10);
    // Caller -> operator: the 400 Hz tone, transcoded to PCMA.
    let to_op: Vec<Stream> = heard_by_operator.iter().filter_map(|(_, p)| parse(p)).collect();
    let voice: Vec<&Stream> =
        to_op.iter().filter(|s| s.pt == 8 && share_of(&Law::Pcma.decode(&s.payload), 400.0) > 0.8).collect();
    assert!(
        voice.len() > 150,
        "the caller's voice reached the operator: {} of {} packets\n{}",
        voice.len(),
        to_op.len(),
        context()
    );
    assert!(to_op.iter().all(|s| s.pt == 8), "only the operator's codec on its leg");
    // The record tells the quality of what the engine received on each leg (the talkers send
    // every 20 ms on loopback: nothing lost, good scores).
    for leg in ["caller", "operator"] {
        let q = &record["media"][leg];
        assert!(q["packets"].as_u64().unwrap_or(0) > 150, "{leg}: {q}\n{}", context());
        assert_eq!(q["lost"], 0, "{leg}: {q}");
        assert!(q["mos"].as_f64().unwrap_or(0.0) > 4.0, "{leg}: {q}");
        assert!(q["jitter_ms"].as_f64().unwrap_or(99.0) < 10.0, "{leg}: {q}");
        assert_eq!(metric(&engine, &format!("centralino_call_mos_count{{leg=\"{leg}\"}}")), 1, "in the metrics");
        let packets = metric(&engine, &format!("centralino_rtp_received_packets_total{{leg=\"{leg}\"}}"));
        assert_eq!(Some(packets), q["packets"].as_u64());
    }

    // The caller hung up: the operator's phone got a BYE (its scenario waits for it).
    assert_eq!(
        record["ending"],
        json!({"kind": "answered", "section": "pensions", "operator": "mrossi"}),
        "{}",
        context()
    );
    std::thread::sleep(Duration::from_millis(300));
    let queue = journal(&engine, "queue.jsonl");
    let kinds: Vec<&str> =
        queue.iter().filter(|e| e["call"] == call_id).map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["entered", "offered", "answered", "ended"],
        "offered at once: no announcement to a caller being connected"
    );
    let answered = queue.iter().find(|e| e["event"] == "answered").unwrap();
    assert_eq!(answered["operator"], "mrossi");
    assert!(answered["wait_ms"].as_u64().unwrap() < 5_000);
    let operators = journal(&engine, "operators.jsonl");
    let states: Vec<&str> = operators.iter().map(|e| e["state"].as_str().unwrap()).collect();
    // (and "available" again if the 10 s wrap-up ended before the phone unregistered)
    assert_eq!(states[..4], ["available", "ringing", "on_call", "wrap_up"], "{}", context());
}

/// An operator phone in its own thread: registers as `user`, answers with `answer_scenario`.
fn phone_thread<'s>(
    s: &'s thread::Scope<'s, '_>,
    engine: &'s Engine,
    user: &'static str,
    answer_scenario: &'static str,
    keys: Vec<(&'static str, String)>,
) -> thread::ScopedJoinHandle<'s, SippRun> {
    s.spawn(move || {
        let keys: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (*k, v.as_str())).collect();
        operator_phone(engine, user, answer_scenario, &keys)
    })
}

#[test]
fn an_unanswered_phone_passes_the_call_on_and_the_operator_hangs_up() {
    let (_dir, config) = edited_config(&[MD5_FIRST, ("ring_timeout_seconds = 15", "ring_timeout_seconds = 3")]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    // mrossi logs in first: idle longest, offered first. lferrari serves pensions too.
    assert_eq!(http(&engine, "POST", "/api/operator/login", Some(("mrossi", "demo-mrossi")), None).0, 200);
    thread::sleep(Duration::from_millis(50));
    assert_eq!(http(&engine, "POST", "/api/operator/login", Some(("lferrari", "demo-lferrari")), None).0, 200);
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let sink_port = sink.local_addr().unwrap().port().to_string();
    let (rossi, ferrari, caller) = thread::scope(|s| {
        let hold = |ms: u64| ("hold_ms", ms.to_string());
        let rossi = phone_thread(
            s,
            &engine,
            "mrossi",
            "operator_never_answers.xml",
            vec![("expires", "120".into()), hold(26_000)],
        );
        let ferrari = phone_thread(
            s,
            &engine,
            "lferrari",
            "operator_hangs_up.xml",
            vec![
                ("expires", "120".into()),
                hold(26_000),
                ("ring_ms", "500".into()),
                ("talk_ms", "3000".into()),
                ("op_rtp_port", sink_port.clone()),
            ],
        );
        thread::sleep(Duration::from_millis(1500));
        let caller = s.spawn(|| {
            let keys =
                [("rtp_port", "9"), ("codecs", "8 0 101"), ("dtmf_pt", "101"), ("k1", "1"), ("k2", "1"), ("k3", "4")];
            sipp(&engine, "queue_caller_until_bye.xml", Transport::Udp, "0773691001", &keys)
        });
        (rossi.join().unwrap(), ferrari.join().unwrap(), caller.join().unwrap())
    });
    let (rossi, ferrari, caller) = (rossi.expect_ok(), ferrari.expect_ok(), caller.expect_ok());
    let call_id = caller.call_id();
    let record = engine.record(&call_id);
    let context =
        || format!("record {record:#}\n--- rossi ---\n{}\n--- ferrari ---\n{}", rossi.report(), ferrari.report());
    // mrossi's phone rang and was cancelled at the ring timeout; lferrari answered, then hung up,
    // and the caller got the switchboard's BYE (its scenario waits for it).
    assert!(rossi.msgs().iter().any(|m| !m.sent && m.method() == Some("CANCEL")), "{}", context());
    assert!(ferrari.msgs().iter().any(|m| m.sent && m.method() == Some("BYE")), "{}", context());
    assert_eq!(
        record["ending"],
        json!({"kind": "answered", "section": "pensions", "operator": "lferrari"}),
        "{}",
        context()
    );
    thread::sleep(Duration::from_millis(300));
    let queue = journal(&engine, "queue.jsonl");
    let trail: Vec<(String, Option<String>)> = queue
        .iter()
        .filter(|e| e["call"] == call_id)
        .map(|e| (e["event"].as_str().unwrap().to_string(), e["operator"].as_str().map(String::from)))
        .collect();
    let op = |k: &str, o: Option<&str>| (k.to_string(), o.map(String::from));
    assert_eq!(
        trail,
        [
            op("entered", None),
            op("offered", Some("mrossi")),
            op("not_answered", Some("mrossi")),
            op("offered", Some("lferrari")),
            op("answered", Some("lferrari")),
            op("ended", Some("lferrari"))
        ],
        "{}",
        context()
    );
    let not_answered = queue.iter().find(|e| e["event"] == "not_answered").unwrap();
    assert_eq!(not_answered["reason"], "ring timeout");
    let operators = journal(&engine, "operators.jsonl");
    let of = |who: &str| -> Vec<String> {
        operators.iter().filter(|e| e["operator"] == who).map(|e| e["state"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(of("mrossi"), ["available", "ringing", "paused"], "{}", context());
    // Wrap-up (10 s) ended while the phones stayed registered.
    assert_eq!(of("lferrari"), ["available", "ringing", "on_call", "wrap_up", "available"], "{}", context());
    let paused = operators.iter().find(|e| e["operator"] == "mrossi" && e["state"] == "paused").unwrap();
    assert_eq!(paused["reason"], "no answer");
}

/// The operator sends the caller to another section: the operator's phone is released (BYE),
/// the caller waits there keeping their arrival time, and the next operator takes the call.
#[test]
fn an_operator_transfers_the_caller_to_another_section() {
    let (_dir, config) = edited_config(&[MD5_FIRST]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    // mrossi takes pensions; gbianchi serves income_support, where the call goes: logged in but
    // paused, so the section is attended and the caller waits there.
    assert_eq!(http(&engine, "POST", "/api/operator/login", Some(("mrossi", "demo-mrossi")), None).0, 200);
    let bianchi_auth = Some(("gbianchi", "demo-gbianchi"));
    assert_eq!(http(&engine, "POST", "/api/operator/login", bianchi_auth, None).0, 200);
    let (status, _) = http(&engine, "POST", "/api/operator/pause", bianchi_auth, Some(&json!({"reason": "meeting"})));
    assert_eq!(status, 200);
    let (rossi, bianchi, caller) = thread::scope(|s| {
        let keys = |talk: &str| {
            vec![
                ("expires", "120".into()),
                ("hold_ms", "26000".into()),
                ("ring_ms", "300".into()),
                ("op_rtp_port", "9".into()),
                ("talk_ms", talk.into()),
            ]
        };
        let rossi = phone_thread(s, &engine, "mrossi", "operator_answers.xml", keys("0"));
        let bianchi = phone_thread(s, &engine, "gbianchi", "operator_hangs_up.xml", keys("2000"));
        thread::sleep(Duration::from_millis(1500));
        let caller = s.spawn(|| {
            let keys =
                [("rtp_port", "9"), ("codecs", "0 101"), ("dtmf_pt", "101"), ("k1", "1"), ("k2", "1"), ("k3", "4")];
            sipp(&engine, "queue_caller_until_bye.xml", Transport::Udp, "0773691001", &keys)
        });
        // Wait until mrossi talks with the caller, then transfer.
        let me = Some(("mrossi", "demo-mrossi"));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, view) = http(&engine, "GET", "/api/operator", me, None);
            if view["state"] == "on_call" {
                break;
            }
            assert!(Instant::now() < deadline, "mrossi never got the call: {view}\n{}", engine.log_text());
            thread::sleep(Duration::from_millis(200));
        }
        let (status, body) = http(&engine, "POST", "/api/operator/transfer", me, Some(&json!({"section": "nowhere"})));
        assert_eq!(status, 422, "{body}");
        let (status, body) =
            http(&engine, "POST", "/api/operator/transfer", me, Some(&json!({"section": "income_support"})));
        assert_eq!((status, body["state"].as_str()), (200, Some("wrap_up")), "{body}");
        // gbianchi is ready only now: the caller was waiting in income_support meanwhile.
        thread::sleep(Duration::from_millis(1000));
        assert_eq!(http(&engine, "POST", "/api/operator/ready", bianchi_auth, None).0, 200);
        (rossi.join().unwrap(), bianchi.join().unwrap(), caller.join().unwrap())
    });
    let (rossi, _bianchi, caller) = (rossi.expect_ok(), bianchi.expect_ok(), caller.expect_ok());
    let call_id = caller.call_id();
    let record = engine.record(&call_id);
    // mrossi's phone got the switchboard's BYE (its scenario waits for it).
    assert!(rossi.msgs().iter().any(|m| !m.sent && m.method() == Some("BYE")), "{}", rossi.report());
    assert_eq!(record["ending"], json!({"kind": "answered", "section": "income_support", "operator": "gbianchi"}));
    thread::sleep(Duration::from_millis(300));
    let queue = journal(&engine, "queue.jsonl");
    let trail: Vec<String> = queue
        .iter()
        .filter(|e| e["call"] == call_id)
        .map(|e| format!("{}:{}", e["event"].as_str().unwrap(), e["section"].as_str().unwrap()))
        .collect();
    assert_eq!(
        trail[..],
        [
            "entered:pensions",
            "offered:pensions",
            "answered:pensions",
            "transferred:pensions",
            "ended:pensions",
            "entered:income_support",
            "announced:income_support",
            "offered:income_support",
            "answered:income_support",
            "ended:income_support"
        ],
        "{queue:#?}"
    );
    let transferred = queue.iter().find(|e| e["event"] == "transferred").unwrap();
    assert_eq!(
        (transferred["operator"].as_str(), transferred["to"].as_str()),
        (Some("mrossi"), Some("section:income_support"))
    );
}

/// The operator's phone shows who is calling, puts the caller on hold and back (re-INVITEs:
/// a=sendonly, then a=sendrecv): the switchboard answers each with 200 and the mirrored
/// direction, the call goes on, and the operator's BYE ends it for the caller.
#[test]
fn the_operator_holds_and_resumes_the_caller() {
    let (_dir, config) = edited_config(&[MD5_FIRST]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    assert_eq!(http(&engine, "POST", "/api/operator/login", Some(("mrossi", "demo-mrossi")), None).0, 200);
    let (rossi, caller) = thread::scope(|s| {
        let keys = vec![
            ("expires", "120".into()),
            ("hold_ms", "15000".into()),
            ("ring_ms", "300".into()),
            ("talk_ms", "1000".into()),
            ("op_rtp_port", "9".into()),
        ];
        let rossi = phone_thread(s, &engine, "mrossi", "operator_holds.xml", keys);
        thread::sleep(Duration::from_millis(1500));
        let caller = s.spawn(|| {
            let keys =
                [("rtp_port", "9"), ("codecs", "8 0 101"), ("dtmf_pt", "101"), ("k1", "1"), ("k2", "1"), ("k3", "4")];
            sipp(&engine, "queue_caller_until_bye.xml", Transport::Udp, "0773691001", &keys)
        });
        (rossi.join().unwrap(), caller.join().unwrap())
    });
    let (rossi, caller) = (rossi.expect_ok(), caller.expect_ok());
    let record = engine.record(&caller.call_id());
    let msgs = rossi.msgs();
    // The phone showed who was calling: the section and the caller's number.
    let invite = msgs.iter().find(|m| !m.sent && m.method() == Some("INVITE")).expect("the phone was rung");
    let from = invite.header("From").unwrap_or_default();
    assert!(from.starts_with("\"Pensioni +393331234567\" <sip:+393331234567@"), "{}", invite.text);
    let asserted = invite.header("P-Asserted-Identity").unwrap_or_default();
    assert!(asserted.contains("<sip:+393331234567@"), "{}", invite.text);
    // Hold and resume, each answered 200 with the mirrored direction.
    let reinvites = msgs.iter().filter(|m| m.sent && m.method() == Some("INVITE")).count();
    assert_eq!(reinvites, 2, "hold and resume: {}", rossi.report());
    let answers: Vec<&str> = msgs
        .iter()
        .filter(|m| !m.sent && m.status() == Some(200) && m.cseq_method() == Some("INVITE"))
        .map(|m| m.text.as_str())
        .collect();
    assert_eq!(answers.len(), 2, "{}", rossi.report());
    assert!(answers[0].contains("a=recvonly") && answers[1].contains("a=sendrecv"), "{answers:#?}");
    assert_eq!(
        record["ending"],
        json!({"kind": "answered", "section": "pensions", "operator": "mrossi"}),
        "{record:#}"
    );
}
