//! Agency appointments through the running engine: free slots from the agendas (the caller's
//! province first), one booking per slot however many operators try at once, refusals for
//! times outside the agenda, cancel and reschedule, and bookings that survive SIGKILL.

mod common;

use common::*;
use serde_json::{Value, json};
use std::sync::Arc;
use std::thread;

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

#[test]
fn fifty_operators_booking_one_slot_get_one_appointment() {
    let engine = Arc::new(Engine::start());
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

#[test]
fn times_outside_the_agenda_are_refused_and_bookings_move_and_cancel() {
    let engine = Engine::start();
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

#[test]
fn an_acknowledged_booking_survives_sigkill() {
    let engine = Engine::start();
    let slot = free(&engine, "roma-eur", 14)[0].clone();
    let (status, a) = http(&engine, "POST", "/api/appointments", MROSSI, Some(&booking("roma-eur", &slot)));
    assert_eq!(status, 201, "{a}");
    let engine = Engine::start_in(engine.crash(), &[]);
    let (status, back) =
        http(&engine, "GET", &format!("/api/appointments/{}", a["id"].as_str().unwrap()), MROSSI, None);
    assert_eq!((status, &back), (200, &a));
    assert!(!free(&engine, "roma-eur", 14).contains(&slot), "still booked after the crash");
}
