//! Operators' phones registering with the running engine: digest authentication (MD5 with
//! sipp, SHA-256 with a hand-driven UDP client that computes its answers independently),
//! bindings that are granted, refreshed and removed, wrong passwords, unknown users, replays.

mod common;

use common::phone::*;
use common::*;
use std::time::{Duration, Instant};

/// sipp 3.6 answers only the first challenge and only with MD5: the configuration offers MD5
/// first, as docs/configuration.md says to do for such phones.
#[test]
fn sipp_registers_with_md5_refreshes_nothing_and_unregisters() {
    let (_dir, config) = edited_config(&[MD5_FIRST]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    let creds = ["-au", "mrossi", "-ap", "demo-mrossi"];
    let run = sipp_with(&engine, "register.xml", Transport::Udp, "mrossi", &[("expires", "120")], &creds).expect_ok();
    let challenge = run.response(401, "REGISTER");
    let offered: Vec<&str> = challenge.text.lines().filter(|l| l.starts_with("WWW-Authenticate:")).collect();
    assert_eq!(offered.len(), 2, "{offered:?}");
    assert!(offered[0].contains("algorithm=MD5") && offered[1].contains("algorithm=SHA-256"));
    assert!(offered[0].contains("realm=\"centralino.inps.example\"") && offered[0].contains("qop=\"auth\""));
    let ok: Vec<Msg> = run.responses(200, "REGISTER");
    assert_eq!(ok.len(), 2, "registered, then unregistered\n{}", run.report());
    let contact = ok[0].header("Contact").unwrap_or_else(|| panic!("the binding in the 200\n{}", run.report()));
    assert!(contact.ends_with(";expires=120") && contact.contains("sip:mrossi@127.0.0.1:"), "{contact}");
    assert_eq!(ok[1].header("Contact"), None, "no binding left after expires=0");
    assert!(engine.wait_for_log("operator phone registered", Duration::from_secs(5)), "{}", engine.log_text());
    assert!(engine.wait_for_log("operator phone unregistered", Duration::from_secs(5)), "{}", engine.log_text());

    // The wrong password, and a user who is not an operator: 403, logged with the reason.
    let wrong = ["-au", "mrossi", "-ap", "not-the-password"];
    sipp_with(&engine, "register_refused.xml", Transport::Udp, "mrossi", &[("expires", "120")], &wrong).expect_ok();
    assert!(engine.wait_for_log("wrong password", Duration::from_secs(5)), "{}", engine.log_text());
    let stranger = ["-au", "intruder", "-ap", "x"];
    sipp_with(&engine, "register_refused.xml", Transport::Udp, "intruder", &[("expires", "120")], &stranger)
        .expect_ok();
    assert!(engine.wait_for_log("unknown user", Duration::from_secs(5)), "{}", engine.log_text());
    // Over TCP as well.
    sipp_with(&engine, "register.xml", Transport::Tcp, "mrossi", &[("expires", "300")], &creds).expect_ok();
}

#[test]
fn sha256_digest_bindings_replays_and_strangers() {
    let engine = Engine::start();
    let mut phone = Phone::new(engine.udp, "127.0.0.1");
    let uri = format!("sip:{}", engine.udp);
    let first = phone.register("gbianchi", None, 600);
    assert_eq!(first.status, 401, "{}", first.text);
    let challenges = first.headers("WWW-Authenticate");
    assert_eq!(challenges.len(), 2);
    assert!(challenges[0].contains("algorithm=SHA-256"), "SHA-256 is preferred: {challenges:?}");
    let auth = sha256_authorization(&challenges[0], "gbianchi", "demo-gbianchi", &uri, 1);
    let ok = phone.register("gbianchi", Some(&auth), 600);
    assert_eq!(ok.status, 200, "{}", ok.text);
    let contact = &ok.headers("Contact")[0];
    assert!(contact.ends_with(";expires=600"), "{contact}");
    assert!(engine.wait_for_log("operator phone registered", Duration::from_secs(5)));

    // The same authorization again (same nonce count): a replay.
    let replay = phone.register("gbianchi", Some(&auth), 600);
    assert_eq!(replay.status, 401, "{}", replay.text);
    // The next count on the same nonce is a refresh; a longer time is shortened to an hour.
    let next = sha256_authorization(&challenges[0], "gbianchi", "demo-gbianchi", &uri, 2);
    let refreshed = phone.register("gbianchi", Some(&next), 86_400);
    assert_eq!(refreshed.status, 200);
    assert!(refreshed.headers("Contact")[0].ends_with(";expires=3600"));
    // Too short a registration.
    let brief = phone.register(
        "gbianchi",
        Some(&sha256_authorization(&challenges[0], "gbianchi", "demo-gbianchi", &uri, 3)),
        5,
    );
    assert_eq!((brief.status, brief.headers("Min-Expires")), (423, vec!["60".to_string()]));
    // Another operator's address with one's own credentials, a wrong password, a forged nonce.
    let theft = phone.register(
        "mrossi",
        Some(&sha256_authorization(&challenges[0], "gbianchi", "demo-gbianchi", &uri, 4)),
        600,
    );
    assert_eq!(theft.status, 403);
    let wrong =
        phone.register("gbianchi", Some(&sha256_authorization(&challenges[0], "gbianchi", "guess", &uri, 5)), 600);
    assert_eq!(wrong.status, 403);
    let forged = challenges[0].replace(param(&challenges[0], "nonce"), "1.2.3");
    let bad_nonce =
        phone.register("gbianchi", Some(&sha256_authorization(&forged, "gbianchi", "demo-gbianchi", &uri, 1)), 600);
    assert_eq!(bad_nonce.status, 401);
    // Malformed credentials: 400.
    assert_eq!(phone.register("gbianchi", Some("Digest username=\"gbianchi"), 600).status, 400);
}

/// Feature codes from the operator's phone: *11 logs in, *21 pauses, *22 ready, *12 logs out;
/// each INVITE is challenged with the operator's own credentials, answered, and hung up after
/// the confirmation.
#[test]
fn feature_codes_from_the_phone_change_the_operators_state() {
    let (_dir, config) = edited_config(&[MD5_FIRST]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    let state = || http(&engine, "GET", "/api/operator", Some(("mrossi", "demo-mrossi")), None).1;
    let creds = ["-au", "mrossi", "-ap", "demo-mrossi"];
    for (code, expected) in [("*11", "available"), ("*21", "paused"), ("*22", "available"), ("*12", "logged_out")] {
        let run =
            sipp_with(&engine, "feature_code.xml", Transport::Udp, code, &[("user", "mrossi")], &creds).expect_ok();
        assert!(run.responses(200, "INVITE").len() == 1, "{}", run.report());
        assert_eq!(state()["state"], expected, "after {code}\n{}", run.report());
    }
    assert_eq!(
        http(&engine, "GET", "/api/operator", Some(("mrossi", "demo-mrossi")), None).1["reason"],
        serde_json::Value::Null
    );
    // Someone else's password: refused, the state does not change.
    let wrong = ["-au", "mrossi", "-ap", "guess"];
    let run = sipp_with(&engine, "feature_code.xml", Transport::Udp, "*11", &[("user", "mrossi")], &wrong);
    assert!(!run.ok(), "a wrong password is refused");
    assert_eq!(run.responses(403, "INVITE").len(), 1, "{}", run.report());
    assert_eq!(state()["state"], "logged_out");
}

/// An edited configuration reaches the running distribution (SIGHUP): an operator's sections
/// change (a logged-in operator left with none of their sections is logged out), a removed
/// operator is gone and can no longer log in, and the queues keep running.
#[test]
fn a_reload_updates_operators_in_the_running_distribution() {
    let (_dir, config) = edited_config(&[]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    let mrossi = Some(("mrossi", "demo-mrossi"));
    assert_eq!(http(&engine, "POST", "/api/operator/login", mrossi, None).0, 200);
    assert_eq!(http(&engine, "POST", "/api/operator/login", Some(("aromano", "demo-aromano")), None).0, 200);

    let text = std::fs::read_to_string(&config).unwrap();
    let mrossi_sections = "sections = [\"pensions\", \"general\"]";
    let aromano = text.find("[[operators]]\nusername = \"aromano\"").expect("aromano in the shipped config");
    let aromano_end = aromano + text[aromano..].find("\n\n").expect("a blank line after the block") + 2;
    let mut edited = text.clone();
    edited.replace_range(aromano..aromano_end, "");
    let edited = edited.replacen(mrossi_sections, "sections = [\"contributors\"]", 1);
    std::fs::write(&config, edited).unwrap();
    let hup = std::process::Command::new("kill").args(["-HUP", &engine.child.id().to_string()]).status().unwrap();
    assert!(hup.success());
    assert!(engine.wait_for_log("the distribution follows", Duration::from_secs(5)), "{}", engine.log_text());

    let deadline = Instant::now() + Duration::from_secs(5);
    let view = loop {
        let (status, body) = http(&engine, "GET", "/api/operators", mrossi, None);
        assert_eq!(status, 200, "{body}");
        let ops = body.as_array().cloned().unwrap_or_default();
        let find = |name: &str| ops.iter().find(|o| o["operator"] == name).cloned();
        if find("aromano").is_none() || Instant::now() > deadline {
            break (find("mrossi"), find("aromano"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let (m, a) = view;
    assert!(a.is_none(), "aromano was removed: {a:?}");
    let m = m.expect("mrossi still there");
    assert_eq!(m["sections"], serde_json::json!(["contributors"]), "{m}");
    assert_eq!(m["state"], "logged_out", "none of his sections is left: {m}");
    assert_eq!(http(&engine, "POST", "/api/operator/login", Some(("aromano", "demo-aromano")), None).0, 401);
    // mrossi logs in again, now to his new section.
    let (status, body) = http(&engine, "POST", "/api/operator/login", mrossi, None);
    assert_eq!(status, 200, "{body}");
    let (_, me) = http(&engine, "GET", "/api/operator", mrossi, None);
    assert_eq!(me["serving"], serde_json::json!(["contributors"]), "{me}");
}
