//! Two engine processes on one PostgreSQL database, as two nodes of a center: what one node
//! acknowledges the other reads, a slot booked through both at once is booked once, an
//! officer's stream on one node receives what is opened on the other (and what it missed, when
//! it reconnects to either), an operator's console on one node gets the screen-pop of a call
//! answered on the other, and a session lives and ends on both.

mod common;

use common::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const MROSSI: Option<(&str, &str)> = Some(("mrossi", "demo-mrossi"));
const LVERDI: (&str, &str) = ("lverdi", "demo-lverdi");

fn two_nodes() -> (Engine, Engine) {
    let a = Engine::start_on(Store::Postgres, &[]);
    let b = Engine::start_beside(&a, &[]);
    (a, b)
}

fn ticket_body(question: &str) -> Value {
    json!({
        "caller": "+393331234567",
        "codice_fiscale": "RSSMRA85T10A562S",
        "question": question,
        "ccm_section": "pensions",
        "number": "+390773691001",
    })
}

fn open_ticket(node: &Engine, question: &str) -> String {
    let (status, t) = http(node, "POST", "/api/tickets", MROSSI, Some(&ticket_body(question)));
    assert_eq!(status, 201, "{t}");
    t["number"].as_str().unwrap().to_string()
}

#[test]
fn a_ticket_acknowledged_by_one_node_is_read_and_worked_on_the_other_even_after_a_sigkill() {
    let (a, b) = two_nodes();
    let number = open_ticket(&a, "When is my pension paid?");
    let (status, read) = http(&b, "GET", &format!("/api/tickets/{number}"), MROSSI, None);
    assert_eq!((status, read["question"].as_str()), (200, Some("When is my pension paid?")), "{read}");
    let officer = Some(LVERDI);
    let (status, taken) = http(&b, "POST", &format!("/api/tickets/{number}/take"), officer, None);
    assert_eq!((status, taken["status"].as_str()), (200, Some("taken")), "{taken}");
    let (status, again) = http(&a, "POST", &format!("/api/tickets/{number}/take"), officer, None);
    assert_eq!(status, 409, "taken on B is taken on A: {again}");

    // Acknowledged by A, then A is killed at once: B still has it.
    let last = open_ticket(&a, "Is my contribution statement complete?");
    drop(a.crash());
    let (status, read) = http(&b, "GET", &format!("/api/tickets/{last}"), MROSSI, None);
    assert_eq!((status, read["status"].as_str()), (200, Some("open")), "{read}");
    let (_, lazio) = http(&b, "GET", "/api/tickets?region=lazio", MROSSI, None);
    assert_eq!(lazio.as_array().map(Vec::len), Some(2), "{lazio}");
}

#[test]
fn fifty_clients_booking_one_slot_through_two_nodes_get_one_appointment() {
    let (a, b) = two_nodes();
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let (_, slots) =
        http(&a, "GET", &format!("/api/agencies/latina-centro/slots?from={tomorrow}&days=14"), MROSSI, None);
    let slot = slots[0].as_str().expect("a free slot").to_string();
    let nodes = Arc::new([a, b]);
    let answers: Vec<u16> = (0..50)
        .map(|i| {
            let (nodes, slot) = (Arc::clone(&nodes), slot.clone());
            thread::spawn(move || {
                let body = json!({
                    "agency": "latina-centro", "start": slot, "codice_fiscale": "RSSMRA85T10A562S",
                    "phone": "+393331234567", "subject": "Pension statement", "mode": "counter",
                });
                http(&nodes[i % 2], "POST", "/api/appointments", MROSSI, Some(&body)).0
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(answers.iter().filter(|s| **s == 201).count(), 1, "exactly one booking: {answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == 409).count(), 49, "the others are told it is taken: {answers:?}");
    for node in nodes.iter() {
        let (_, now) =
            http(node, "GET", &format!("/api/agencies/latina-centro/slots?from={tomorrow}&days=14"), MROSSI, None);
        assert!(!now.as_array().unwrap().iter().any(|s| s == &json!(slot)), "no node offers it any more");
    }
}

#[test]
fn an_officers_stream_on_one_node_receives_what_is_opened_on_the_other_and_what_it_missed() {
    let (a, b) = two_nodes();
    let on_b = EventStream::open(&b, LVERDI, None);
    thread::sleep(Duration::from_millis(300));
    let mut latencies = vec![];
    let mut numbers = vec![];
    for i in 0..5 {
        let started = Instant::now();
        let number = open_ticket(&a, &format!("question {i}"));
        assert!(
            on_b.wait_for(&format!("\"number\":\"{number}\""), 1, Duration::from_secs(3)),
            "ticket {number} opened on A never reached B's stream: {}",
            on_b.text()
        );
        latencies.push(started.elapsed());
        numbers.push(number);
    }
    let worst = latencies.iter().max().unwrap();
    assert!(*worst < Duration::from_secs(1), "within a second across nodes: {latencies:?}");
    let ids = on_b.ids();
    assert_eq!(ids.len(), 5, "every event has an id: {}", on_b.text());

    // The page loses its connection; tickets are opened meanwhile; it reconnects, to the other
    // node, with the last id it had: it is given exactly what it missed, then the live ones.
    on_b.close();
    let missed: Vec<String> = (0..3).map(|i| open_ticket(&b, &format!("missed {i}"))).collect();
    let back = EventStream::open(&a, LVERDI, Some(ids.last().unwrap()));
    for n in &missed {
        assert!(
            back.wait_for(&format!("\"number\":\"{n}\""), 1, Duration::from_secs(3)),
            "missed {n}: {}",
            back.text()
        );
    }
    let later = open_ticket(&b, "after reconnecting");
    assert!(back.wait_for(&format!("\"number\":\"{later}\""), 1, Duration::from_secs(3)), "{}", back.text());
    let text = back.text();
    for n in &numbers {
        assert!(!text.contains(n.as_str()), "what it had already is not sent again: {text}");
    }
    assert_eq!(back.ids().len(), 4, "three missed and one live, once each: {text}");
    let positions: Vec<usize> = missed.iter().chain([&later]).map(|n| text.find(n.as_str()).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in order: {text}");

    // An id from before anything this database knows is answered with a reload.
    let stale = EventStream::open(&a, LVERDI, Some("0-0"));
    let first = open_ticket(&a, "not lost");
    assert!(stale.wait_for(&first, 1, Duration::from_secs(3)), "{}", stale.text());
    assert!(!stale.text().contains("event: lagged"), "0-0 is before every event, not lost: {}", stale.text());
}

fn with_cookie(node: &Engine, method: &str, path: &str, cookie: Option<&str>, body: Option<&Value>) -> (u16, String) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut headers = vec![("Content-Type", "application/json".to_string())];
    headers.extend(cookie.map(|c| ("Cookie", c.to_string())));
    let (status, head, _) = http_raw(node, method, path, &headers, &body);
    (status, head)
}

#[test]
fn a_session_started_on_one_node_works_on_the_other_and_a_sign_out_ends_it_on_both() {
    let (a, b) = two_nodes();
    let sign_in = json!({"username": "lverdi", "password": "demo-lverdi"});
    let (status, head) = with_cookie(&a, "POST", "/api/session", None, Some(&sign_in));
    assert_eq!(status, 200);
    let cookie = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().starts_with("set-cookie:").then(|| l[11..].trim().to_string()))
        .and_then(|v| v.split(';').next().map(String::from))
        .expect("a session cookie");
    assert_eq!(with_cookie(&b, "GET", "/api/session", Some(&cookie), None).0, 200, "signed in on A, works on B");
    assert_eq!(with_cookie(&a, "GET", "/api/tickets?region=lazio", Some(&cookie), None).0, 200);
    assert_eq!(with_cookie(&b, "DELETE", "/api/session", Some(&cookie), None).0, 204);
    assert_eq!(with_cookie(&a, "GET", "/api/session", Some(&cookie), None).0, 401, "signed out on B, ended on A");
    assert_eq!(with_cookie(&b, "GET", "/api/session", Some(&cookie), None).0, 401);
}

/// One call to each node: each node's `GET /api/calls`, and `centralino calls` and `stats` on
/// the shared store, show both; the queue events of a caller who gave up on B are in the figures.
#[test]
fn the_records_of_every_node_are_read_in_one_place() {
    let (a, b) = two_nodes();
    let call = |node: &Engine| {
        let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = rtp.local_addr().unwrap().port().to_string();
        let keys = [("rtp_port", port.as_str()), ("codecs", "0 8 101"), ("dtmf_pt", "101"), ("talk_ms", "500")];
        sipp(node, "call.xml", Transport::Udp, "0773691001", &keys).expect_ok().call_id()
    };
    let (on_a, on_b) = (call(&a), call(&b));
    // A caller who asks for the pensions section on B: queue events.
    pensions_caller(&b, "6000", "0 101", 8_000, "5", 300).expect_ok();
    // Each record waited for: they are appended shortly after their call ends.
    assert_eq!(a.record(&on_a)["call_id"], json!(on_a));
    assert_eq!(b.record(&on_b)["call_id"], json!(on_b));
    let both = |records: &Value| {
        let ids: Vec<&str> = records.as_array().unwrap().iter().filter_map(|r| r["call_id"].as_str()).collect();
        ids.contains(&on_a.as_str()) && ids.contains(&on_b.as_str())
    };
    let all = b.records().unwrap();
    assert!(both(&json!(all)), "centralino calls on the shared store: {all:#?}");
    for node in [&a, &b] {
        let (status, recent) = http(node, "GET", "/api/calls?last=10", MROSSI, None);
        assert_eq!(status, 200, "{recent}");
        assert!(both(&recent), "GET /api/calls on every node: {recent:#}");
    }
    let url = Store::Postgres.url_for(a.data.path());
    let out =
        std::process::Command::new(BIN).current_dir(ROOT).args(["stats", "--json", "--store", &url]).output().unwrap();
    let stats: Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let pensions = stats["sections"].as_array().unwrap().iter().find(|s| s["section"] == "pensions").cloned();
    // No operator is logged in: the caller is sent on at once (an overflow), as B's journal says.
    let seen = |p: &Value| p["entered"].as_u64().unwrap_or(0) + p["overflowed"].as_u64().unwrap_or(0);
    assert!(pensions.is_some_and(|p| seen(&p) >= 1), "the queue events of B: {stats:#}");
}

/// A call queued and answered on node A; the operator's console is open on node B: the
/// screen-pop reaches it (and B knows the operator's call), then the call's end.
#[test]
fn the_screen_pop_of_a_call_on_one_node_reaches_the_operators_console_on_the_other() {
    let (_dir, config) = edited_config(&[MD5_FIRST]);
    let config = config.to_str().unwrap();
    let a = Engine::start_on(Store::Postgres, &["--config", config]);
    let b = Engine::start_beside(&a, &["--config", config]);
    assert_eq!(http(&a, "POST", "/api/operator/login", MROSSI, None).0, 200);
    let console = EventStream::open(&b, ("mrossi", "demo-mrossi"), None);
    thread::scope(|s| {
        let a = &a;
        let phone = s.spawn(move || mrossi_answers(a));
        thread::sleep(Duration::from_millis(1500));
        let caller = s.spawn(move || pensions_caller(a, "6000", "0 101", 8_000, "5", 300));
        let pop = wait_for_pop(a, MROSSI);
        let popped = Instant::now();
        let call_id = pop["call_id"].as_str().unwrap().to_string();
        assert!(console.wait_for("event: call\n", 1, Duration::from_secs(3)), "no screen-pop on B: {}", console.text());
        assert!(popped.elapsed() < Duration::from_secs(1), "within a second: {:?}", popped.elapsed());
        assert!(console.text().contains(&call_id), "{}", console.text());
        let (status, on_b) = http(&b, "GET", "/api/operator/call", MROSSI, None);
        assert_eq!((status, on_b["call_id"].as_str()), (200, Some(call_id.as_str())), "B knows the call: {on_b}");
        caller.join().unwrap().expect_ok();
        phone.join().unwrap().expect_ok();
        assert!(console.wait_for("event: call_ended", 1, Duration::from_secs(5)), "{}", console.text());
    });
}
