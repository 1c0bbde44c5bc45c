//! SIP over TLS and SRTP with real peers: baresip calls the portal over TLS with SRTP required
//! and walks it; baresip as an operator's phone registers over TLS and answers with SRTP a
//! plain-RTP sipp caller, audio checked both ways through the relay's decryption and
//! encryption; a configuration requiring TLS for operators refuses a phone on UDP; handshakes with an old
//! protocol version are refused and logged once per source while calls go on; a renewed
//! certificate is taken without a restart.
//!
//! Needs baresip (baresip-core) and openssl, installed by scripts/test.sh.

mod common;

use centralino::media::g711::Law;
use common::baresip::{Softphone, bye_answered};
use common::phone::Phone;
use common::talker::*;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// The Latina number of the shipped configuration, as a phone dials it.
const DIALLED: &str = "0773691001";

/// The shipped configuration with SIP over TLS on (certificate and key in `certs`), plus
/// `more` replacements.
fn tls_config(certs: &Path, more: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf, String) {
    let (cert, key) = certificate(certs);
    let tls = format!("udp_receive_buffer_kib = 4096\ntls_certificate = \"{cert}\"\ntls_key = \"{key}\"\n");
    let mut edits = vec![("udp_receive_buffer_kib = 4096\n", tls.as_str())];
    edits.extend_from_slice(more);
    let (dir, config) = edited_config(&edits);
    (dir, config, cert)
}

fn tls_address(engine: &Engine) -> std::net::SocketAddr {
    engine.tls.unwrap_or_else(|| panic!("the engine reported no TLS address; its log:\n{}", engine.log_text()))
}

/// baresip's lines for SRTP, and for recording what it decodes into `dir`.
fn srtp_and_recording(dir: &Path) -> String {
    format!("module\t\t\tsrtp.so\nmodule\t\t\tsndfile.so\nsnd_path\t\t{}\n", dir.display())
}

/// The samples baresip decoded from the engine (its sndfile recording).
fn decoded(dir: &Path) -> Vec<i16> {
    let file = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .unwrap_or_else(|| panic!("baresip recorded nothing in {}", dir.display()));
    hound::WavReader::open(&file).unwrap().samples::<i16>().map_while(Result::ok).collect()
}

#[test]
fn baresip_calls_over_tls_with_srtp_presses_1_for_italian_and_hangs_up() {
    let certs = tempfile::tempdir().unwrap();
    let srtp_required = ("srtp = \"optional\"\noperators_srtp", "srtp = \"required\"\noperators_srtp");
    let (_dir, config, cert) = tls_config(certs.path(), &[srtp_required]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    let tls = tls_address(&engine);
    let heard = tempfile::tempdir().unwrap();
    let trust = format!("sip_trans_def\t\ttls\nsip_cafile\t\t{cert}\n");
    let mut phone = Softphone::start_configured(
        "<sip:test@127.0.0.1;transport=tls>;regint=0;mediaenc=srtp-mand",
        &format!("{trust}{}", srtp_and_recording(heard.path())),
    );
    let deadline = |s| Instant::now() + Duration::from_secs(s);
    phone.wait_for("baresip is ready", deadline(10));

    phone.call_and_press(&format!("sip:{DIALLED}@{tls}"), '1');
    phone.type_keys("b");
    phone.wait_until("the engine's 200 OK to the BYE, over TLS", deadline(5), |t| bye_answered(t, "TLS", tls));
    phone.type_keys("q");
    let _ = phone.wait_exit(deadline(3));

    let records = wait_for_records(&engine, 1);
    let context = || format!("\nrecords: {records:#?}\nbaresip:\n{}\nengine:\n{}", phone.output(), engine.log_text());
    assert_eq!(records.len(), 1, "one call, one record{}", context());
    let r = &records[0];
    assert_eq!(r["number"], "+390773691001", "{}", context());
    assert!(r["keys"].as_str().unwrap_or_default().contains('1'), "the key 1 was recorded{}", context());
    assert_eq!(r["language"], "it", "{}", context());
    assert_eq!(r["ending"]["kind"], "caller_hangup", "{}", context());
    // baresip's tone, received, decrypted and measured on the caller's leg.
    let q = &r["media"]["caller"];
    assert!(q["packets"].as_u64().unwrap_or(0) > 100 && q["mos"].as_f64().unwrap_or(0.0) > 4.0, "{q}{}", context());
    assert_eq!(q["srtp"], "AES_CM_128_HMAC_SHA1_80", "the caller's leg was encrypted{}", context());
    // Every SIP message of the call went over TLS (the trace names the transport), and the
    // engine answered RTP/SAVP with its own key.
    let invite = phone.transcript.iter().position(|l| l.starts_with("INVITE sip:")).expect("an INVITE in the trace");
    assert!(phone.transcript[invite - 1].starts_with("TLS "), "the INVITE went over TLS{}", context());
    let answer = phone.transcript.iter().skip_while(|l| !l.starts_with("SIP/2.0 200 OK")).take(100);
    let answer: Vec<&String> = answer.collect();
    assert!(answer.iter().any(|l| l.starts_with("m=audio ") && l.contains("RTP/SAVP")), "{answer:?}{}", context());
    assert!(answer.iter().any(|l| l.starts_with("a=crypto:") && l.contains("inline:")), "{answer:?}{}", context());
    // The prompts, encrypted by the engine, decrypted by baresip: speech, not silence.
    let samples = decoded(heard.path());
    let voiced = samples.chunks(160).filter(|b| b.iter().map(|s| i64::from(*s).abs()).sum::<i64>() > 160 * 300).count();
    assert!(voiced > 50, "baresip decoded the prompts: {voiced} voiced blocks of 20 ms{}", context());
    // No key ever in the engine's log.
    assert!(!engine.log_text().contains("inline:"), "an SRTP key in the log{}", context());
}

/// The call records, once there are `n`.
fn wait_for_records(engine: &Engine, n: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let records = engine.records().unwrap_or_default();
        if records.len() >= n || Instant::now() >= deadline {
            return records;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn with_tls_required_an_operator_registers_over_tls_and_talks_with_a_plain_caller() {
    // baresip 1.0 knows only MD5 (see softphone_call.rs).
    let md5_only = ("digest_algorithms = [\"SHA-256\", \"MD5\"]", "digest_algorithms = [\"MD5\"]");
    let required = ("drain_seconds = 60\n", "drain_seconds = 60\noperators_require_tls = true\n");
    let srtp_required = ("operators_srtp = \"optional\"", "operators_srtp = \"required\"");
    let certs = tempfile::tempdir().unwrap();
    let (_dir, config, cert) = tls_config(certs.path(), &[md5_only, required, srtp_required]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    let tls = tls_address(&engine);

    // A phone on UDP is refused before any password is asked.
    let mut udp_phone = Phone::new(engine.udp, "127.0.0.1");
    let refused = udp_phone.register("mrossi", None, 120);
    assert_eq!(refused.status, 403, "{}", refused.text);
    assert!(refused.text.contains("TLS"), "the refusal says why: {}", refused.text);

    // baresip over TLS registers (digest), answers automatically with SRTP, records what it
    // hears.
    let heard = tempfile::tempdir().unwrap();
    let account =
        format!("<sip:mrossi@{tls};transport=tls>;auth_pass=demo-mrossi;regint=300;answermode=auto;mediaenc=srtp-mand");
    let trust = format!("sip_trans_def\t\ttls\nsip_cafile\t\t{cert}\n");
    let mut phone = Softphone::start_configured(&account, &format!("{trust}{}", srtp_and_recording(heard.path())));
    phone.wait_registered(&engine, Duration::from_secs(15));
    let (status, body) = http(&engine, "POST", "/api/operator/login", Some(("mrossi", "demo-mrossi")), None);
    assert_eq!(status, 200, "{body}");

    // The caller: plain SIP and RTP over UDP, a 400 Hz tone; baresip answers with its 440 Hz.
    let caller_audio = Talker::start(Law::Pcmu, 400.0);
    let caller_port = caller_audio.port.to_string();
    let run = thread::scope(|s| {
        let engine = &engine;
        let caller_port = caller_port.as_str();
        let caller = s.spawn(move || pensions_caller(engine, caller_port, "0 101", 15_000, "5", 300));
        phone.wait_for("Call established", Instant::now() + Duration::from_secs(25));
        caller.join().unwrap()
    });
    let heard_by_caller = caller_audio.finish();
    let run = run.expect_ok();
    let record = engine.record(&run.call_id());
    phone.pause(Duration::from_secs(1));
    let context = || format!("record {record:#}\nbaresip:\n{}\nengine:\n{}", phone.output(), engine.log_text());
    assert_eq!(record["ending"]["operator"], "mrossi", "{}", context());

    // The engine rang the phone over its TLS connection.
    let invite = phone.transcript.iter().position(|l| l.starts_with("INVITE sip:")).expect("an INVITE");
    assert!(phone.transcript[invite - 1].starts_with(&format!("TLS {tls} -> ")), "{}", context());
    // Operator -> caller: baresip's 440 Hz tone.
    let voice = heard_by_caller
        .iter()
        .filter_map(|(_, p)| parse(p))
        .filter(|s| s.pt == 0 && share_of(&Law::Pcmu.decode(&s.payload), 440.0) > 0.8)
        .count();
    assert!(voice > 100, "the operator's voice reached the caller: {voice} packets\n{}", context());
    // Caller -> operator: the 400 Hz tone, in what baresip decoded.
    let samples = decoded(heard.path());
    let toned = samples.chunks(160).filter(|block| share_of(block, 400.0) > 0.8).count();
    assert!(toned > 100, "the caller's voice reached the operator: {toned} blocks of 20 ms\n{}", context());
    // The operator's leg is measured too (baresip's stream as the engine received it), and it
    // alone was encrypted.
    assert!(record["media"]["operator"]["packets"].as_u64().unwrap_or(0) > 100, "{}", context());
    assert_eq!(record["media"]["operator"]["srtp"], "AES_CM_128_HMAC_SHA1_80", "{}", context());
    assert!(record["media"]["caller"]["srtp"].is_null(), "the caller's leg stayed plain RTP{}", context());
    // baresip's RTCP reports (SRTCP) about our stream to it: its loss and jitter, and the round
    // trip from our sender reports.
    let reported = &record["media"]["operator"]["reported"];
    let counts = ["rtcp_received_total", "rtcp_sent_total", "srtp_dropped_packets_total{reason=\"authentication\"}"]
        .map(|m| format!("{m} {}", metric(&engine, &format!("centralino_{m}"))));
    assert!(
        reported["rtt_ms"].as_f64().is_some_and(|rtt| (0.0..100.0).contains(&rtt)),
        "{reported} {counts:?}{}",
        context()
    );
    assert_eq!(reported["lost"], 0, "{}", context());
}

/// `openssl s_client` offering only TLS 1.1 (which rustls does not speak): whether it connected.
fn old_protocol_handshake(tls: std::net::SocketAddr) -> bool {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &tls.to_string(), "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        .stdin(Stdio::null())
        .output()
        .expect("openssl");
    String::from_utf8_lossy(&out.stdout).contains("Cipher is ")
        && !String::from_utf8_lossy(&out.stdout).contains("Cipher is (NONE)")
}

/// The subject of the certificate the engine presents now.
fn presented_subject(tls: std::net::SocketAddr) -> String {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &tls.to_string(), "-tls1_3"])
        .stdin(Stdio::null())
        .output()
        .expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().find(|l| l.starts_with("subject=")).unwrap_or_default().replace(' ', "")
}

#[test]
fn old_protocol_versions_are_refused_and_logged_once_and_a_renewed_certificate_is_taken_live() {
    let certs = tempfile::tempdir().unwrap();
    let (_dir, config, cert) = tls_config(certs.path(), &[]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    let tls = tls_address(&engine);

    for _ in 0..3 {
        assert!(!old_protocol_handshake(tls), "a TLS 1.1 handshake was accepted");
    }
    // Logged once for the source, counted every time.
    assert!(engine.wait_for_log("SIP TLS handshake refused", Duration::from_secs(3)), "{}", engine.log_text());
    thread::sleep(Duration::from_millis(300));
    assert_eq!(engine.log_text().matches("SIP TLS handshake refused").count(), 1, "{}", engine.log_text());
    assert_eq!(metric(&engine, "centralino_sip_tls_handshakes_total{result=\"failed\"}"), 3);

    // A good client still gets in, and a call over UDP goes on as ever.
    assert_eq!(presented_subject(tls), "subject=CN=centralino.test", "the certificate presented");
    let run = sipp(&engine, "options.xml", Transport::Udp, DIALLED, &[]);
    run.expect_ok();

    // The certificate renewed in place (a new subject): taken with the reload, no restart.
    let renewed = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=renewed.centralino.test", "-addext", "subjectAltName=IP:127.0.0.1"])
        .arg("-keyout")
        .arg(certs.path().join("key.pem"))
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(renewed.status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut subject = presented_subject(tls);
    while subject != "subject=CN=renewed.centralino.test" && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(300));
        subject = presented_subject(tls);
    }
    assert_eq!(subject, "subject=CN=renewed.centralino.test", "the renewed certificate\n{}", engine.log_text());

    // A broken certificate file is reported and the one in service stays.
    std::fs::write(&cert, "not a certificate\n").unwrap();
    assert!(engine.wait_for_log("reload refused", Duration::from_secs(10)), "{}", engine.log_text());
    assert!(engine.log_text().contains("no certificate in"), "the error says what is wrong\n{}", engine.log_text());
    assert_eq!(presented_subject(tls), "subject=CN=renewed.centralino.test");
}
