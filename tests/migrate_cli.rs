//! `centralino migrate`: an embedded store copied into PostgreSQL whole (tickets with their
//! history, appointments, outcomes, sessions, latest calls), idempotently, with the counts
//! reported; a newer embedded store, or a database holding other records under the same keys,
//! refused with nothing written.

mod common;

use centralino::cases::appointment::{AppointmentStatus, NewAppointment};
use centralino::cases::call_outcome::{CallOutcome, Outcome};
use centralino::cases::store::StoredSession;
use centralino::cases::ticket::Contact;
use centralino::cases::{CaseStore, NewTicket, PgStore, RedbStore, TicketStatus};
use chrono::{SubsecRound, Utc};
use common::store::fresh_database;
use std::process::Command;

fn ticket(region: &str) -> NewTicket {
    NewTicket { call_id: Some("call-1".into()), ..common::cases::new_ticket(region) }
}

fn booking(minute: u32) -> NewAppointment {
    common::cases::booking(Some("call-1"), minute)
}

fn migrate(from: &std::path::Path, to: &str) -> (bool, String) {
    let out = Command::new(common::BIN)
        .current_dir(common::ROOT)
        .args(["migrate", "--from", from.to_str().unwrap(), "--to", to])
        .output()
        .unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

fn tables(url: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-Atc", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_embedded_store_is_copied_whole_once_and_again_copies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let now = Utc::now().trunc_subsecs(6);
    let (answered, open, appointment, cancelled) = {
        let store = RedbStore::open(&dir.path().join("cases.redb")).unwrap();
        let answered = store.create_ticket(ticket("lazio"), now).await.unwrap();
        store.update_ticket(&answered.number, Box::new(move |t| t.take("lverdi", now))).await.unwrap();
        let answered = store
            .update_ticket(&answered.number, Box::new(move |t| t.answer("lverdi", "Paid.", Contact::Phone, now)))
            .await
            .unwrap();
        let open = store.create_ticket(ticket("lombardia"), now).await.unwrap();
        let appointment = store.book_appointment(booking(0), now).await.unwrap();
        let cancelled = store.book_appointment(booking(20), now).await.unwrap();
        let cancelled = store.cancel_appointment(&cancelled.id, "mrossi", now).await.unwrap();
        let outcome = |o, note: &str| CallOutcome {
            call_id: "call-1".into(),
            outcome: o,
            note: note.into(),
            section: "pensions".into(),
            by: "mrossi".into(),
            at: now,
            earlier: vec![],
        };
        store.set_call_outcome(outcome(Outcome::NotResolved, "documents")).await.unwrap();
        store.set_call_outcome(outcome(Outcome::TicketOpened, "ticket")).await.unwrap();
        let session = StoredSession { user: "lverdi".into(), started: now, last_seen: now };
        store.save_session("k1", session).await.unwrap();
        (answered, open, appointment, cancelled)
    };
    let url = fresh_database();
    let (ok, said) = migrate(dir.path(), &url);
    assert!(ok, "{said}");
    assert!(said.contains("tickets               2 copied        0 already there"), "{said}");
    assert!(said.contains("appointments          2 copied"), "{said}");
    assert!(said.contains("outcomes              1 copied"), "{said}");
    assert!(said.contains("sessions              1 copied"), "{said}");
    assert!(!said.contains(url.split('@').next().unwrap()), "the password is not shown: {said}");

    let (ok, again) = migrate(dir.path(), &url);
    assert!(ok, "{again}");
    assert!(again.contains("tickets               0 copied        2 already there"), "idempotent: {again}");
    assert!(again.contains("appointments          0 copied        2 already there"), "{again}");

    let pg = PgStore::connect(&url).await.unwrap();
    assert_eq!(pg.ticket(&answered.number).await.unwrap(), Some(answered.clone()), "with its history");
    assert_eq!(pg.ticket(&open.number).await.unwrap(), Some(open));
    let counts = pg.ticket_counts(None).await.unwrap();
    assert_eq!(counts["lazio"][&TicketStatus::Answered], 1);
    assert_eq!(counts["lombardia"][&TicketStatus::Open], 1, "counted once, however often copied");
    let of_call = pg.appointments_of_call("call-1").await.unwrap();
    assert_eq!(of_call, [appointment.clone(), cancelled.clone()]);
    assert_eq!(of_call[1].status, AppointmentStatus::Cancelled);
    let day = appointment.fields.start.date();
    let booked =
        pg.booked_slots("latina-centro", day.and_hms_opt(0, 0, 0).unwrap(), day.and_hms_opt(23, 0, 0).unwrap());
    assert_eq!(booked.await.unwrap(), [appointment.fields.start], "the cancelled slot is free");
    let outcome = pg.call_outcome("call-1").await.unwrap().unwrap();
    assert_eq!((outcome.outcome, outcome.earlier.len()), (Outcome::TicketOpened, 1));
    assert_eq!(pg.session("k1").await.unwrap().map(|s| s.user), Some("lverdi".into()));
    let next = pg.book_appointment(booking(40), now).await.unwrap();
    assert!(next.id > cancelled.id, "new bookings are numbered after the copied ones: {}", next.id);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_store_or_other_records_under_the_same_keys_are_refused_with_nothing_written() {
    // A store written by a newer engine: refused before the database is even touched.
    let newer = tempfile::tempdir().unwrap();
    {
        let db = redb::Database::create(newer.path().join("cases.redb")).unwrap();
        let txn = db.begin_write().unwrap();
        let meta: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
        txn.open_table(meta).unwrap().insert("schema_version", 99).unwrap();
        txn.commit().unwrap();
    }
    let url = fresh_database();
    let (ok, said) = migrate(newer.path(), &url);
    assert!(!ok && said.contains("schema version 99"), "{said}");
    assert_eq!(tables(&url), "0", "nothing written");
    let (ok, said) = migrate(&newer.path().join("nowhere"), &url);
    assert!(!ok && said.contains("no cases store at"), "{said}");

    // The database has another ticket under a number the embedded store uses.
    let dir = tempfile::tempdir().unwrap();
    let number = {
        let store = RedbStore::open(&dir.path().join("cases.redb")).unwrap();
        store.create_ticket(ticket("lazio"), Utc::now()).await.unwrap();
        store.create_ticket(ticket("umbria"), Utc::now()).await.unwrap().number
    };
    let pg = PgStore::connect(&url).await.unwrap();
    let mut other = centralino::cases::Ticket::new(number.clone(), ticket("veneto"), Utc::now());
    other.fields.question = "Something else".into();
    let body = serde_json::to_string(&other).unwrap().replace('\'', "''");
    let out = Command::new("psql")
        .args([url.as_str(), "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("INSERT INTO tickets (number, region, status, opened, body) VALUES ('{number}', 'veneto', 'open', now(), '{body}')"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (ok, said) = migrate(dir.path(), &url);
    assert!(!ok, "{said}");
    assert!(said.contains(&format!("ticket {number} is already in the database with other contents")), "{said}");
    assert_eq!(pg.tickets(None, &[]).await.unwrap().len(), 1, "nothing copied");
}
