//! Stopping without dropping calls: on SIGTERM the engine refuses new calls and OPTIONS with
//! 503 (so a proxy sends them elsewhere), lets the calls in progress finish, and exits 0.

mod common;

use common::*;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Send one request over UDP and read its final answer.
fn final_answer(socket: &UdpSocket, engine: std::net::SocketAddr, request: &str) -> String {
    socket.send_to(request.as_bytes(), engine).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        let n = socket.recv(&mut buf).expect("an answer");
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            return text;
        }
    }
}

#[test]
fn sigterm_lets_calls_in_progress_finish_and_refuses_new_ones() {
    let (_dir, config) = edited_config(&[("drain_seconds = 60", "drain_seconds = 30")]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rtp_port = sink.local_addr().unwrap().port().to_string();
    // 50 calls of about 8 s each, all started within a second.
    let port = ports(1);
    let dir = tempfile::tempdir().unwrap();
    let mut calls = Command::new("sipp")
        .current_dir(dir.path())
        .arg(engine.udp.to_string())
        .arg("-sf")
        .arg(std::path::Path::new(ROOT).join("tests/sipp/call.xml"))
        .args(["-s", "0773691001", "-i", "127.0.0.1", "-p", &port.to_string(), "-mp", &(port + 10).to_string()])
        .args(["-m", "50", "-r", "50", "-l", "50", "-timeout", "60s", "-timeout_error", "-nostdin"])
        .args(["-key", "rtp_port", &rtp_port, "-key", "codecs", "0 8 101", "-key", "dtmf_pt", "101"])
        .args(["-key", "talk_ms", "8000", "-trace_err", "-error_file"])
        .arg(dir.path().join("errors.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run sipp");
    std::thread::sleep(Duration::from_secs(3));
    let (status, health) = http(&engine, "GET", "/healthz", None, None);
    assert_eq!((status, health["status"].as_str()), (200, Some("ok")), "{health}");
    let (status, ready) = http(&engine, "GET", "/readyz", None, None);
    assert_eq!((status, ready["ready"].as_bool()), (200, Some(true)), "{ready}");

    // SIGTERM: the calls go on, new ones and OPTIONS get 503, and the node says it is not ready.
    let stopped_at = Instant::now();
    // SAFETY: a signal to the engine this test started.
    assert_eq!(unsafe { libc::kill(engine.child.id() as libc::pid_t, libc::SIGTERM) }, 0);
    assert!(engine.wait_for_log("draining", Duration::from_secs(5)), "{}", tail(&engine.log_text(), 10));
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let local = probe.local_addr().unwrap();
    let head = |method: &str, cseq: u32| {
        format!(
            "{method} sip:0773691001@{e} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKdrain{cseq};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:+393331234567@{local}>;tag=d{cseq}\r\nTo: <sip:0773691001@{e}>\r\n\
             Call-ID: drain-{cseq}-{}\r\nCSeq: {cseq} {method}\r\nContact: <sip:caller@{local}>\r\n",
            std::process::id(),
            e = engine.udp,
        )
    };
    let options = final_answer(&probe, engine.udp, &format!("{}Content-Length: 0\r\n\r\n", head("OPTIONS", 1)));
    assert!(options.starts_with("SIP/2.0 503"), "{options}");
    let (status, ready) = http(&engine, "GET", "/readyz", None, None);
    assert_eq!((status, ready["ready"].as_bool()), (503, Some(false)), "{ready}");
    assert_eq!(http(&engine, "GET", "/healthz", None, None).0, 200, "alive while it drains");
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP 0\r\n"
    );
    let invite =
        format!("{}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}", head("INVITE", 2), sdp.len());
    let refused = final_answer(&probe, engine.udp, &invite);
    assert!(refused.starts_with("SIP/2.0 503") && refused.contains("Retry-After"), "{refused}");

    // Every call in progress ends normally; then the engine exits 0, well within the drain time.
    let status = calls.wait().unwrap();
    let errors = std::fs::read_to_string(dir.path().join("errors.log")).unwrap_or_default();
    assert!(status.success(), "sipp: {status:?}\n{}", tail(&errors, 30));
    let mut engine = engine;
    let exit = loop {
        if let Some(s) = engine.child.try_wait().unwrap() {
            break s;
        }
        assert!(stopped_at.elapsed() < Duration::from_secs(30), "still running after the drain time");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "{exit:?}\n{}", tail(&engine.log_text(), 10));
    assert!(stopped_at.elapsed() < Duration::from_secs(15), "stopped once the calls ended: {:?}", stopped_at.elapsed());
    let records = engine.records().unwrap();
    let hung_up = records.iter().filter(|r| r["ending"]["kind"] == "caller_hangup").count();
    assert_eq!(hung_up, 50, "every call ran its course");
    assert!(records.iter().any(|r| r["ending"]["kind"] == "rejected" && r["ending"]["status"] == 503));
}

#[test]
fn an_administrator_can_drain_through_the_api() {
    let engine = Engine::start();
    let (status, refused) = http(&engine, "POST", "/api/drain", Some(("mrossi", "demo-mrossi")), None);
    assert_eq!(status, 403, "operators cannot: {refused}");
    let (status, body) = http(&engine, "POST", "/api/drain", Some(("admin", "demo-admin")), None);
    assert_eq!((status, body["draining"].as_bool()), (202, Some(true)));
    // No call in progress: the engine stops at once, cleanly.
    let mut engine = engine;
    let asked = Instant::now();
    let exit = loop {
        if let Some(s) = engine.child.try_wait().unwrap() {
            break s;
        }
        assert!(asked.elapsed() < Duration::from_secs(10), "still running\n{}", tail(&engine.log_text(), 10));
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "{exit:?}");
    assert!(engine.log_text().contains("drain asked through the API"));
}
