//! The shared database goes away under load and comes back: requests that need it are refused
//! with 503 and Retry-After within a bounded time (never left hanging), calls are still
//! answered by the voice portal, the engine reconnects by itself, and no acknowledged ticket is
//! lost. The database is a PostgreSQL server of the test's own, stopped and started again.

mod common;

use common::store::PrivateServer;
use common::*;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const MROSSI: Option<(&str, &str)> = Some(("mrossi", "demo-mrossi"));

/// One answer: status, ticket number, how long it took, Retry-After.
type Answer = (u16, Option<String>, Duration, Option<String>);

#[test]
fn the_database_restarted_under_a_ticket_load_loses_nothing_acknowledged_and_the_engine_recovers_alone() {
    let server = PrivateServer::start();
    let engine = Arc::new(Engine::start_with(&["--store", &server.url()]));
    let body = json!({
        "caller": "+393331234567", "codice_fiscale": "RSSMRA85T10A562S",
        "question": "When is my pension paid?", "ccm_section": "pensions", "number": "+390773691001",
    });
    // (status, number, how long it took, Retry-After)
    let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (engine, answers, stop, body) =
                (Arc::clone(&engine), Arc::clone(&answers), Arc::clone(&stop), body.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let auth = ("Authorization", format!("Basic {}", base64("mrossi:demo-mrossi")));
                    let headers = [auth, ("Content-Type", "application/json".to_string())];
                    let (status, head, text) = http_raw(&engine, "POST", "/api/tickets", &headers, &body.to_string());
                    let number = serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .and_then(|v| v["number"].as_str().map(String::from));
                    let retry = head.lines().find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("retry-after:").map(|v| v.trim().to_string())
                    });
                    answers.lock().unwrap().push((status, number, started.elapsed(), retry));
                    if status != 201 {
                        thread::sleep(Duration::from_millis(100));
                    }
                }
            })
        })
        .collect();

    thread::sleep(Duration::from_secs(2));
    server.stop();
    let stopped = Instant::now();
    // While the database is away, the portal still answers a call.
    let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = rtp.local_addr().unwrap().port().to_string();
    let keys = [("rtp_port", port.as_str()), ("codecs", "0 8 101"), ("dtmf_pt", "101"), ("talk_ms", "500")];
    let call = sipp(&engine, "call.xml", Transport::Udp, "0773691001", &keys);
    assert!(call.ok(), "a call while the database is away: {}", call.report());
    let (status, sections) = http(&engine, "GET", "/api/sections", MROSSI, None);
    assert_eq!(status, 200, "what needs no database still answers: {sections}");
    thread::sleep(Duration::from_secs(3).saturating_sub(stopped.elapsed()));
    let during = answers.lock().unwrap().len();
    server.start_again();
    let restarted = Instant::now();
    // Recovered alone: tickets are acknowledged again within seconds.
    let recovered = loop {
        let seen = answers.lock().unwrap()[during..].iter().any(|(s, _, _, _)| *s == 201);
        if seen || restarted.elapsed() > Duration::from_secs(15) {
            break seen;
        }
        thread::sleep(Duration::from_millis(50));
    };
    let recovered_after = restarted.elapsed();
    thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }
    assert!(recovered, "no ticket acknowledged in the 15 s after the database came back:\n{}", engine.log_text());

    let answers = answers.lock().unwrap();
    let refused: Vec<_> = answers.iter().filter(|(s, _, _, _)| *s != 201).collect();
    assert!(!refused.is_empty(), "the outage was seen");
    assert!(refused.iter().all(|(s, _, _, _)| *s == 503), "refusals are 503: {refused:?}");
    assert!(refused.iter().all(|(_, _, _, r)| r.is_some()), "with Retry-After: {refused:?}");
    let slowest = answers.iter().map(|(_, _, d, _)| *d).max().unwrap();
    assert!(slowest < Duration::from_secs(7), "never left hanging: slowest answer {slowest:?}");
    let acknowledged: Vec<&String> =
        answers.iter().filter_map(|(s, n, _, _)| (*s == 201).then_some(n.as_ref()).flatten()).collect();
    for n in &acknowledged {
        let (status, t) = http(&engine, "GET", &format!("/api/tickets/{n}"), MROSSI, None);
        assert_eq!(status, 200, "acknowledged ticket {n} is kept: {t}");
    }
    eprintln!(
        "{} tickets acknowledged, {} refused with 503 (slowest answer {slowest:?}); recovered {recovered_after:?} after the restart",
        acknowledged.len(),
        refused.len()
    );
}
