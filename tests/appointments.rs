//! Agency appointments through the running engine: free slots from the agendas (the caller's
//! province first), one booking per slot however many operators try at once, refusals for
//! times outside the agenda, cancel and reschedule, bookings that survive SIGKILL, and the
//! appointment read back to the caller it was booked for, with the call's outcome set after.

mod common;

use common::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const MROSSI: Option<(&str, &str)> = Some(("mrossi", "demo-mrossi"));

/// Free slots of an agency from tomorrow (never "in the past" during the test).
fn free(engine: &Engine, agency: &str, days: u32) -> Vec<String> {
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1)).format("%Y-%m-%d");
    let (status, slots) =
        http(engine, "GET", &format!("/api/agencies/{agency}/slots?from={tomorrow}&days={days}"), MROSSI, None);
    assert_eq!(status, 200, "{slots}");
    slots.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

fn booking(agency: &str, start: &str) -> Value {
    json!({
        "agency": agency,
        "start": start,
        "codice_fiscale": "RSSMRA85T10A562S",
        "phone": "+393331234567",
        "subject": "Pension statement",
        "mode": "counter",
    })
}

fn fifty_operators_booking_one_slot_get_one_appointment(store: Store) {
    let engine = Arc::new(Engine::start_on(store, &[]));
    let (_, agencies) = http(&engine, "GET", "/api/agencies?province=LT", MROSSI, None);
    let first: Vec<&str> = agencies.as_array().unwrap().iter().take(2).filter_map(|a| a["province"].as_str()).collect();
    assert_eq!(first, ["LT", "LT"], "the caller's province first: {agencies}");

    let slots = free(&engine, "latina-centro", 14);
    assert!(!slots.is_empty(), "latina-centro has free slots in two weeks");
    let slot = slots[0].clone();
    let answers: Vec<u16> = (0..50)
        .map(|_| {
            let (engine, slot) = (Arc::clone(&engine), slot.clone());
            thread::spawn(move || {
                http(&engine, "POST", "/api/appointments", MROSSI, Some(&booking("latina-centro", &slot))).0
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    assert_eq!(answers.iter().filter(|s| **s == 201).count(), 1, "exactly one booking: {answers:?}");
    assert_eq!(answers.iter().filter(|s| **s == 409).count(), 49, "the others are told the slot is taken: {answers:?}");
    assert!(!free(&engine, "latina-centro", 14).contains(&slot), "the slot is no longer offered");
}

fn times_outside_the_agenda_are_refused_and_bookings_move_and_cancel(store: Store) {
    let engine = Engine::start_on(store, &[]);
    let slots = free(&engine, "formia", 21);
    assert!(slots.len() >= 3, "{slots:?}");
    // Outside the agenda: just after a slot, the past, an unknown agency, a wrong codice fiscale.
    let off = slots[0].replacen(":00", ":01", 1);
    let (status, e) = http(&engine, "POST", "/api/appointments", MROSSI, Some(&booking("formia", &off)));
    assert_eq!(status, 422, "{e}");
    assert!(e["error"].as_str().unwrap().contains("not a slot"), "{e}");
    let (status, e) =
        http(&engine, "POST", "/api/appointments", MROSSI, Some(&booking("formia", "2020-01-07T09:00:00")));
    assert_eq!(status, 422, "{e}");
    assert!(e["error"].as_str().unwrap().contains("passed"), "{e}");
    let (status, e) = http(&engine, "POST", "/api/appointments", MROSSI, Some(&booking("atlantis", &slots[0])));
    assert_eq!(status, 422, "{e}");
    let mut bad_cf = booking("formia", &slots[0]);
    bad_cf["codice_fiscale"] = json!("RSSMRA85T10A562X");
    assert_eq!(http(&engine, "POST", "/api/appointments", MROSSI, Some(&bad_cf)).0, 422);
    // Officers do not book.
    assert_eq!(
        http(
            &engine,
            "POST",
            "/api/appointments",
            Some(("lverdi", "demo-lverdi")),
            Some(&booking("formia", &slots[0]))
        )
        .0,
        403
    );

    let (status, a) = http(&engine, "POST", "/api/appointments", MROSSI, Some(&booking("formia", &slots[0])));
    assert_eq!(status, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    // Move it: the old slot is free again, the new one taken.
    let (status, moved) =
        http(&engine, "POST", &format!("/api/appointments/{id}/reschedule"), MROSSI, Some(&json!({"start": slots[1]})));
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["start"], json!(slots[1]));
    let now_free = free(&engine, "formia", 21);
    assert!(now_free.contains(&slots[0]) && !now_free.contains(&slots[1]));
    // Another booking cannot take the new slot.
    assert_eq!(http(&engine, "POST", "/api/appointments", MROSSI, Some(&booking("formia", &slots[1]))).0, 409);
    // Cancel: the slot is offered again; cancelling twice is refused.
    let (status, cancelled) = http(&engine, "POST", &format!("/api/appointments/{id}/cancel"), MROSSI, None);
    assert_eq!((status, cancelled["status"].as_str()), (200, Some("cancelled")), "{cancelled}");
    assert!(free(&engine, "formia", 21).contains(&slots[1]));
    assert_eq!(http(&engine, "POST", &format!("/api/appointments/{id}/cancel"), MROSSI, None).0, 409);
    let changes: Vec<&str> =
        cancelled["history"].as_array().unwrap().iter().filter_map(|c| c["change"].as_str()).collect();
    assert_eq!(changes, ["booked", "rescheduled", "cancelled"]);
}

fn an_acknowledged_booking_survives_sigkill(store: Store) {
    let engine = Engine::start_on(store, &[]);
    let slot = free(&engine, "roma-eur", 14)[0].clone();
    let (status, a) = http(&engine, "POST", "/api/appointments", MROSSI, Some(&booking("roma-eur", &slot)));
    assert_eq!(status, 201, "{a}");
    let engine = Engine::start_in_on(store, engine.crash(), &[]);
    let (status, back) =
        http(&engine, "GET", &format!("/api/appointments/{}", a["id"].as_str().unwrap()), MROSSI, None);
    assert_eq!((status, &back), (200, &a));
    assert!(!free(&engine, "roma-eur", 14).contains(&slot), "still booked after the crash");
}

/// End to end: a sipp caller waits for a pensions operator; a sipp phone answers as mrossi; the
/// operator books an appointment from the screen-pop and passes the caller to the tree's
/// read-back node; the caller hears it (the call record's path and answer), then goes on to the
/// main menu with 2. The engine is killed in wrap-up; after the restart the operator sets the
/// call's outcome; the wallboard counts it.
fn the_caller_hears_the_appointment_booked_for_them_and_the_operator_sets_the_outcome(store: Store) {
    let (_dir, config) = edited_config(&[MD5_FIRST]);
    let engine = Engine::start_on(store, &["--config", config.to_str().unwrap()]);
    assert_eq!(http(&engine, "POST", "/api/operator/login", MROSSI, None).0, 200);
    let (pop, booked) = thread::scope(|s| {
        let engine = &engine;
        let phone = s.spawn(move || mrossi_answers(engine));
        thread::sleep(Duration::from_millis(1500));
        // 1 1 4: Italian, pensions, an operator; 20 s later 2 (the main menu, once read back).
        let caller = s.spawn(move || pensions_caller(engine, "6000", "0 101", 20_000, "2", 1500));
        let pop = wait_for_pop(engine, MROSSI);
        assert_eq!(pop["readback_node"], "appointment_readback", "{pop}");
        let slot = free(engine, "latina-centro", 14).into_iter().next().expect("a free slot");
        let mut body = booking("latina-centro", &slot);
        body["call_id"] = pop["call_id"].clone();
        let (status, booked) = http(engine, "POST", "/api/appointments", MROSSI, Some(&body));
        assert_eq!(status, 201, "{booked}");
        let nowhere = json!({"node": "no_such_node"});
        let (status, refused) = http(engine, "POST", "/api/operator/transfer", MROSSI, Some(&nowhere));
        assert_eq!(status, 422, "{refused}");
        assert!(refused["error"].as_str().unwrap().contains("centralino-unico-nazionale"), "{refused}");
        let readback = json!({"node": pop["readback_node"]});
        let (status, view) = http(engine, "POST", "/api/operator/transfer", MROSSI, Some(&readback));
        assert_eq!((status, view["state"].as_str()), (200, Some("wrap_up")), "{view}");
        caller.join().unwrap().expect_ok();
        phone.join().unwrap().expect_ok();
        (pop, booked)
    });
    let call_id = pop["call_id"].as_str().unwrap();
    let r = engine.record(call_id);
    let path: Vec<&str> = r["path"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let tail = ["appointment_readback", "appointment_counter", "appointment_after", "main_menu"];
    assert!(
        path.ends_with(&tail),
        "the booked appointment (at the counter) is read back: {r:#}\n{}",
        engine.log_text()
    );
    assert_eq!(r["answers"], json!(["appointment_readback"]), "{r:#}");
    assert_eq!(r["language"], "it", "{r:#}");
    let lookup = engine.log_text().lines().find(|l| l.contains("\"lookup\"")).map(String::from).unwrap_or_default();
    assert!(lookup.contains("\"result\":\"counter\""), "the lookup found the booking {}: {lookup}", booked["id"]);

    // In wrap-up the call is no longer in progress, but still the operator's latest.
    assert_eq!(http(&engine, "GET", "/api/operator/call", MROSSI, None).0, 404);
    let (status, latest) = http(&engine, "GET", "/api/operator/last-call", MROSSI, None);
    assert_eq!((status, latest["call_id"].as_str()), (200, Some(call_id)), "{latest}");
    assert_eq!(http(&engine, "GET", "/api/operator/last-call", Some(("gbianchi", "demo-gbianchi")), None).0, 404);
    // The engine crashes in wrap-up: the operator's latest call is still theirs to close.
    let engine = Engine::start_in_on(store, engine.crash(), &["--config", config.to_str().unwrap()]);
    let (status, again) = http(&engine, "GET", "/api/operator/last-call", MROSSI, None);
    assert_eq!((status, &again), (200, &latest), "the latest call is kept across SIGKILL");
    // The outcome, in wrap-up: only for the operator's own latest call, and a known outcome.
    let outcome = format!("/api/calls/{call_id}/outcome");
    let set = |who, body: Value| http(&engine, "POST", &outcome, who, Some(&body));
    let (status, e) = set(MROSSI, json!({"outcome": "maybe"}));
    assert_eq!(status, 422, "{e}");
    let (status, e) = set(Some(("gbianchi", "demo-gbianchi")), json!({"outcome": "resolved"}));
    assert_eq!(status, 403, "another operator's call: {e}");
    let (status, e) =
        http(&engine, "POST", "/api/calls/other-call/outcome", MROSSI, Some(&json!({"outcome": "resolved"})));
    assert_eq!(status, 403, "{e}");
    assert_eq!(http(&engine, "GET", &outcome, MROSSI, None).0, 404, "nothing set yet");
    let (status, first) = set(MROSSI, json!({"outcome": "not_resolved"}));
    assert_eq!(status, 200, "{first}");
    let (status, o) = set(MROSSI, json!({"outcome": "appointment_booked", "note": "booked and read back"}));
    assert_eq!(status, 200, "{o}");
    assert_eq!(
        (o["outcome"].as_str(), o["section"].as_str(), o["by"].as_str()),
        (Some("appointment_booked"), Some("pensions"), Some("mrossi"))
    );
    assert_eq!(o["earlier"][0]["outcome"], "not_resolved", "the correction keeps the first: {o}");
    let (status, read) = http(&engine, "GET", &outcome, MROSSI, None);
    assert_eq!((status, &read), (200, &o));
    let officer = Some(("lverdi", "demo-lverdi"));
    assert_eq!(http(&engine, "GET", &outcome, officer, None).0, 403, "officers work tickets, not calls");
    let (_, today) = http(&engine, "GET", "/api/calls/outcomes", MROSSI, None);
    assert_eq!(today, json!([{"section": "pensions", "outcomes": {"appointment_booked": 1}}]));
    // The call log through the API, each call with its outcome.
    let (status, calls) = http(&engine, "GET", "/api/calls?last=5", MROSSI, None);
    assert_eq!(status, 200, "{calls}");
    let ours = calls.as_array().unwrap().iter().find(|c| c["call_id"] == call_id).expect("the call is listed");
    assert_eq!(ours["outcome"], o, "{ours}");
    assert_eq!(ours["path"], r["path"]);
    assert_eq!(http(&engine, "GET", "/api/calls", officer, None).0, 403);
    // ... and in `centralino calls`, which reads the files beside the store the engine holds.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let records = engine.records().unwrap();
        let ours = records.iter().find(|c| c["call_id"] == call_id).expect("the call is recorded");
        if ours["outcome"] == o {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "centralino calls --json: {:#}", ours["outcome"]);
        thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(http(&engine, "GET", "/api/calls?last=0", MROSSI, None).0, 422);
}

/// An agency's day: its staff read their agenda (by time, booked ones only), not another
/// agency's, nor tickets or calls; administrators read any agenda and export tickets and calls
/// as CSV for their spreadsheets.
fn agency_staff_read_their_agenda_and_administrators_export(store: Store) {
    let engine = Engine::start_on(store, &[]);
    let slots = free(&engine, "formia", 21);
    let day = &slots[0][..10];
    let same_day: Vec<&String> = slots.iter().filter(|s| s.starts_with(day)).collect();
    assert!(same_day.len() >= 3, "{slots:?}");
    // Booked out of order; the last one is cancelled; one at another agency the same day.
    let mut ids = Vec::new();
    for start in [same_day[2], same_day[0], same_day[1]] {
        let (status, a) = http(&engine, "POST", "/api/appointments", MROSSI, Some(&booking("formia", start)));
        assert_eq!(status, 201, "{a}");
        ids.push(a["id"].as_str().unwrap().to_string());
    }
    assert_eq!(http(&engine, "POST", &format!("/api/appointments/{}/cancel", ids[2]), MROSSI, None).0, 200);
    let elsewhere = free(&engine, "latina-centro", 21);
    assert_eq!(
        http(&engine, "POST", "/api/appointments", MROSSI, Some(&booking("latina-centro", &elsewhere[0]))).0,
        201
    );

    let staff = Some(("mcolombo", "demo-mcolombo"));
    let (status, agenda) = http(&engine, "GET", &format!("/api/agencies/formia/agenda?date={day}"), staff, None);
    assert_eq!(status, 200, "{agenda}");
    let starts: Vec<&str> = agenda.as_array().unwrap().iter().map(|a| a["start"].as_str().unwrap()).collect();
    assert_eq!(starts, [same_day[0].as_str(), same_day[2].as_str()], "by time, the cancelled one left out");
    assert_eq!(agenda[0]["id"], json!(ids[1]));
    let next_day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap().succ_opt().unwrap();
    let (_, later) = http(&engine, "GET", &format!("/api/agencies/formia/agenda?date={next_day}"), staff, None);
    assert!(later.as_array().unwrap().iter().all(|a| !a["start"].as_str().unwrap().starts_with(day)), "{later}");
    let other_agencys = format!("/api/appointments/{}", elsewhere_id(&engine));
    let refused = [
        ("/api/agencies/latina-centro/agenda", staff),
        (other_agencys.as_str(), staff),
        ("/api/agencies/formia/agenda", MROSSI),
        ("/api/agencies/formia/agenda", Some(("lverdi", "demo-lverdi"))),
        ("/api/tickets", staff),
        ("/api/tickets/summary", staff),
        ("/api/calls", staff),
        ("/api/export/tickets.csv", staff),
        ("/api/export/calls.csv", MROSSI),
    ];
    for (path, who) in refused {
        assert_eq!(http_status(&engine, path, who), 403, "{path} as {who:?}");
    }
    let admin = Some(("admin", "demo-admin"));
    let (status, agenda) =
        http(&engine, "GET", &format!("/api/agencies/latina-centro/agenda?date={}", &elsewhere[0][..10]), admin, None);
    assert_eq!((status, agenda.as_array().map(Vec::len)), (200, Some(1)), "{agenda}");

    // The CSV exports: a byte order mark, semicolons, a header, a row per ticket.
    let body = json!({
        "caller": "+393331234567", "codice_fiscale": "RSSMRA85T10A562S", "question": "=1+1; \"quoted\" è",
        "ccm_section": "pensions", "number": "+390773691001",
    });
    let (status, t) = http(&engine, "POST", "/api/tickets", MROSSI, Some(&body));
    assert_eq!(status, 201, "{t}");
    let auth = ("Authorization", "Basic YWRtaW46ZGVtby1hZG1pbg==".to_string());
    let (status, head, csv) = http_raw(&engine, "GET", "/api/export/tickets.csv", std::slice::from_ref(&auth), "");
    assert_eq!(status, 200, "{csv}");
    assert!(head.to_lowercase().contains("content-type: text/csv"), "{head}");
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("\u{feff}number;opened;region;section;status"), "{}", lines[0]);
    assert_eq!(lines.len(), 2, "{csv}");
    let number = t["number"].as_str().unwrap();
    assert!(lines[1].starts_with(&format!("{number};")), "{}", lines[1]);
    assert!(
        lines[1].contains(
            ";lazio;pensions;open;;pensions;mrossi;+393331234567;RSSMRA85T10A562S;\"'=1+1; \"\"quoted\"\" è\";"
        ),
        "{}",
        lines[1]
    );
    let (status, _, calls) = http_raw(&engine, "GET", "/api/export/calls.csv", &[auth], "");
    assert_eq!(status, 200, "{calls}");
    assert!(calls.starts_with("\u{feff}call_id;arrived;answered;ended;caller;number"), "{calls}");
}

/// The id of an appointment booked at another agency than Formia.
fn elsewhere_id(engine: &Engine) -> String {
    let slot = free(engine, "latina-centro", 21).pop().unwrap();
    let (status, a) = http(engine, "POST", "/api/appointments", MROSSI, Some(&booking("latina-centro", &slot)));
    assert_eq!(status, 201, "{a}");
    a["id"].as_str().unwrap().to_string()
}

fn http_status(engine: &Engine, path: &str, who: Option<(&str, &str)>) -> u16 {
    http(engine, "GET", path, who, None).0
}

on_both_stores!(
    agency_staff_read_their_agenda_and_administrators_export,
    fifty_operators_booking_one_slot_get_one_appointment,
    times_outside_the_agenda_are_refused_and_bookings_move_and_cancel,
    an_acknowledged_booking_survives_sigkill,
    the_caller_hears_the_appointment_booked_for_them_and_the_operator_sets_the_outcome,
);
