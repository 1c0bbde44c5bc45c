//! RFC 4475's torture-test messages (tests/fixtures/rfc4475, written out from the RFC) sent
//! over UDP to a running engine, each answered as the RFC says a UAS and registrar answers it:
//! the valid ones processed (whatever the application answers: 200 to OPTIONS, a 401 challenge
//! to REGISTER, 404 for an unknown number, 481 for a dialog it does not know), the invalid
//! ones refused with 400 or 505, responses and unanswerable ones dropped, and the RFC 3261
//! 8.2.2 refusals (416, 420, 415, 406) in place.

mod common;

use common::Engine;
use std::net::UdpSocket;
use std::time::{Duration, Instant};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rfc4475");

/// What the engine answers each message with (the final response's status; none when the
/// RFC says drop or when it is a response). The RFC's column (`uas` in expected.toml) is
/// checked against it below.
const ANSWERS: &[(&str, Option<u16>)] = &[
    ("wsinv", Some(481)),   // an INVITE with a To tag: a dialog we do not know
    ("intmeth", Some(501)), // an unknown method
    ("esc01", Some(404)),   // an INVITE to a user that is no number of ours
    ("escnull", Some(401)), // a REGISTER: challenged
    ("esc02", Some(501)),   // RE%47IST%45R is not REGISTER
    ("lwsdisp", Some(200)), // OPTIONS
    ("longreq", Some(404)), // an INVITE to a user that is no number of ours
    ("dblreq", Some(401)),  // the REGISTER; the octets after its Content-Length ignored
    ("semiuri", Some(200)), // OPTIONS
    ("transports", Some(200)),
    ("mpart01", Some(405)), // MESSAGE is not a method we take
    ("unreason", None),     // a response
    ("noreason", None),     // a response
    ("badinv01", Some(400)),
    ("clerr", Some(400)),
    ("ncl", Some(400)),
    ("scalar02", Some(400)),
    ("scalarlg", None), // a response
    ("quotbal", Some(400)),
    ("ltgtruri", Some(400)),
    ("lwsruri", Some(400)),
    ("lwsstart", Some(400)),
    ("trws", Some(400)),
    ("escruri", Some(404)), // processed (the RFC allows either)
    ("baddate", Some(404)), // processed (the RFC prefers it)
    ("regbadct", Some(400)),
    ("badaspec", Some(400)),
    ("baddn", Some(400)),
    ("badvers", Some(505)),
    ("mismatch01", Some(400)),
    ("mismatch02", Some(400)),
    ("bigcode", None),        // a response
    ("badbranch", Some(200)), // OPTIONS, processed (the RFC allows either)
    ("insuf", Some(400)),
    ("unkscm", Some(416)),
    ("novelsc", Some(416)),
    ("unksm2", Some(400)),
    ("bext01", Some(420)),
    ("invut", Some(415)),
    ("regaut01", Some(401)),
    ("multi01", Some(400)),
    ("mcl01", Some(400)),
    ("bcast", None),       // a response
    ("zeromf", Some(200)), // OPTIONS with Max-Forwards 0: a UAS answers it
    ("cparam01", Some(401)),
    ("cparam02", Some(401)),
    ("regescrt", Some(401)),
    ("sdp01", Some(406)),
    ("inv2543", Some(404)), // RFC 2543: no branch, no From tag, no Content-Length
];

/// The INVITEs whose point is what comes after the Request-URI (a body of an unknown type, an
/// Accept without SDP): sent to a number of ours, or the 404 of RFC 3261 8.2.2.1 would come
/// first.
const TO_A_NUMBER_OF_OURS: &[&str] = &["invut", "sdp01"];
const LATINA: &str = "0773691001";

struct Message {
    file: String,
    name: String,
    uas: String,
}

fn manifest() -> Vec<Message> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/expected.toml")).expect("expected.toml");
    let value: toml::Value = toml::from_str(&text).expect("expected.toml parses");
    let field = |m: &toml::Value, k: &str| m[k].as_str().unwrap_or_default().to_string();
    value["message"]
        .as_array()
        .expect("[[message]]")
        .iter()
        .map(|m| Message { file: field(m, "file"), name: field(m, "name"), uas: field(m, "uas") })
        .collect()
}

/// Whether `answer` is what the RFC's column allows.
fn allowed(uas: &str, answer: Option<u16>) -> bool {
    let refusals = [400, 416, 420, 415, 406, 501, 505, 513];
    match uas {
        "drop" | "process (no reply)" => answer.is_none(),
        "process" => answer.is_some_and(|a| !refusals.contains(&a)),
        "reply 400 or process" | "process or reply 400" => answer.is_some(),
        reply => {
            let codes: Vec<u16> =
                reply.trim_start_matches("reply ").split(" or ").filter_map(|c| c.trim().parse().ok()).collect();
            answer.is_some_and(|a| codes.contains(&a))
        }
    }
}

/// The final status the engine answers `datagram` with, if any within a second.
fn final_answer(engine: &Engine, datagram: &[u8]) -> Option<u16> {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    socket.send_to(datagram, engine.udp).unwrap();
    let until = Instant::now() + Duration::from_secs(1);
    let mut buf = [0u8; 65536];
    while Instant::now() < until {
        let Ok(n) = socket.recv(&mut buf) else { continue };
        let text = String::from_utf8_lossy(&buf[..n]);
        let status = text.strip_prefix("SIP/2.0 ").and_then(|t| t.get(..3)).and_then(|c| c.parse::<u16>().ok());
        if let Some(s) = status.filter(|s| *s >= 200) {
            return Some(s);
        }
    }
    None
}

#[test]
fn every_torture_message_gets_the_rfc_answer() {
    let engine = Engine::start();
    let messages = manifest();
    assert_eq!(messages.len(), ANSWERS.len(), "every message of the RFC has its answer here");
    let mut wrong = Vec::new();
    for m in &messages {
        let (_, want) = ANSWERS.iter().find(|(n, _)| *n == m.name).unwrap_or_else(|| panic!("{} in ANSWERS", m.name));
        assert!(allowed(&m.uas, *want), "{}: {want:?} is not what the RFC allows ({})", m.name, m.uas);
        let mut datagram = std::fs::read(format!("{FIXTURES}/{}", m.file)).expect("fixture");
        if TO_A_NUMBER_OF_OURS.contains(&m.name.as_str()) {
            let text = String::from_utf8(datagram).unwrap();
            datagram =
                text.replacen("INVITE sip:user@example.com", &format!("INVITE sip:{LATINA}@example.com"), 1).into();
        }
        let got = final_answer(&engine, &datagram);
        if got != *want {
            wrong.push(format!("{} ({}): answered {got:?}, expected {want:?}", m.file, m.uas));
        }
    }
    assert!(wrong.is_empty(), "{}\n\nengine log:\n{}", wrong.join("\n"), common::tail(&engine.log_text(), 30));
    // The engine is still well: a plain OPTIONS is answered.
    let options = "OPTIONS sip:803164@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKafter\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:803164@127.0.0.1>\r\nCall-ID: after\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(final_answer(&engine, options.as_bytes()), Some(200));
}

#[test]
fn the_fixtures_are_the_generated_ones() {
    // generate.py --check: the files are what the script (the RFC's text) makes.
    let out = std::process::Command::new("python3")
        .arg(format!("{FIXTURES}/generate.py"))
        .arg("--check")
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
}
