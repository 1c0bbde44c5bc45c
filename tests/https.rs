//! HTTPS for the pages and the API: with a certificate and key in the configuration the engine
//! speaks TLS (rustls) and the session cookie is `Secure`; without them it refuses to serve plain
//! HTTP anywhere but on loopback; a certificate without its key is a configuration error.

mod common;

use common::*;
use std::process::Command;

/// curl over HTTPS trusting only `cert`: the status line and headers, then the body.
fn curl(engine: &Engine, cert: &str, args: &[&str], path: &str) -> String {
    let url = format!("https://{}{path}", engine.http);
    let out =
        Command::new("curl").args(["-sS", "-i", "--max-time", "10", "--cacert", cert]).args(args).arg(&url).output();
    let out = out.expect("curl");
    assert!(out.status.success(), "curl {url}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn with_a_certificate_the_pages_and_the_api_are_https_and_the_session_cookie_is_secure() {
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(certs.path());
    let tls = format!("[http]\ntls_certificate = \"{cert}\"\ntls_key = \"{key}\"\n");
    let (_dir, config) = edited_config(&[("[http]\n", &tls)]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);

    let health = curl(&engine, &cert, &[], "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let signed_in = curl(
        &engine,
        &cert,
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"username":"mrossi","password":"demo-mrossi"}"#,
        ],
        "/api/session",
    );
    assert!(signed_in.starts_with("HTTP/1.1 200"), "{signed_in}");
    let cookie = signed_in.lines().find(|l| l.to_ascii_lowercase().starts_with("set-cookie:")).expect("a cookie");
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    let console = curl(&engine, &cert, &[], "/console");
    assert!(console.starts_with("HTTP/1.1 200") && console.contains("<html"), "{console}");

    // Plain HTTP on the HTTPS port gets no HTTP answer.
    let (status, _, _) = http_raw(&engine, "GET", "/healthz", &[], "");
    assert_ne!(status, 200, "plain HTTP is not served next to HTTPS");
}

#[test]
fn plain_http_is_refused_anywhere_but_on_loopback() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(ROOT)
        .args(["serve", "--http", "0.0.0.0:0", "--sip-udp", "127.0.0.1:0", "--sip-tcp", "127.0.0.1:0"])
        .arg("--data-dir")
        .arg(data.path())
        .output()
        .expect("run centralino serve");
    assert!(!out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("would be plain HTTP") && log.contains("http.tls_certificate"), "{log}");
}

#[test]
fn a_certificate_without_its_key_is_a_configuration_error() {
    let (_dir, config) = edited_config(&[("[http]\n", "[http]\ntls_certificate = \"cert.pem\"\n")]);
    let out = Command::new(BIN).current_dir(ROOT).arg("check").arg("--config").arg(&config).output().unwrap();
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    // Reported at the line after [http], where the certificate was put.
    let shipped = std::fs::read_to_string(std::path::Path::new(ROOT).join("config/centralino.toml")).unwrap();
    let line = shipped.lines().position(|l| l == "[http]").expect("an [http] table") + 2;
    let at = format!(":{line}:");
    assert!(text.contains(&at) && text.contains("http.tls_certificate and http.tls_key go together"), "{at}: {text}");
}
