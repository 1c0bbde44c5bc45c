//! The cases store's behaviour, the same test bodies on both stores: the embedded redb store and
//! PostgreSQL (a fresh database each). What one store guarantees the other must too.

mod common;

use centralino::cases::appointment::AppointmentStatus;
use centralino::cases::call_outcome::CallOutcome;
use centralino::cases::store::StoredSession;
use centralino::cases::ticket::{Contact, TicketError};
use centralino::cases::{CaseStore, NewTicket, PgStore, RedbStore, StoreError, Ticket, TicketStatus, ticket_number};
use centralino::vocabulary::CallPop;
use chrono::Utc;
use common::Store;
use std::path::Path;
use std::sync::Arc;

/// The store of kind `kind` kept in (or beside) `dir`; opening it again reopens the same one.
async fn open(kind: Store, dir: &Path) -> Arc<dyn CaseStore> {
    match kind {
        Store::Redb => Arc::new(RedbStore::open(&dir.join("cases.redb")).unwrap()),
        Store::Postgres => Arc::new(PgStore::connect(&kind.url_for(dir)).await.unwrap()),
    }
}

fn new(region: &str) -> NewTicket {
    common::cases::new_ticket(region)
}

use common::cases::booking;

async fn tickets_are_numbered_kept_changed_and_found_after_reopening(kind: Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(kind, dir.path()).await;
    let a = store.create_ticket(new("lazio"), Utc::now()).await.unwrap();
    let b = store.create_ticket(new("lombardia"), Utc::now()).await.unwrap();
    assert_ne!(a.number, b.number);
    assert!(ticket_number::is_valid(&a.number));
    let taken = store.update_ticket(&a.number, Box::new(|t| t.take("anna", Utc::now()))).await.unwrap();
    assert_eq!(taken.status, TicketStatus::Taken);
    let refused = store.update_ticket(&a.number, Box::new(|t| t.take("bruno", Utc::now()))).await;
    assert!(matches!(refused, Err(StoreError::Refused(TicketError::NotOpen { .. }))));
    assert!(matches!(store.update_ticket("123", Box::new(|_| Ok(()))).await, Err(StoreError::NotFound(_))));
    store.update_ticket(&a.number, Box::new(|t| t.answer("anna", "Paid.", Contact::Phone, Utc::now()))).await.unwrap();
    assert_eq!(store.tickets(Some("lazio"), &[]).await.unwrap().len(), 1);
    assert_eq!(store.tickets(None, &[TicketStatus::Open]).await.unwrap()[0].number, b.number);
    drop(store);
    let again = open(kind, dir.path()).await;
    let a2 = again.ticket(&a.number).await.unwrap().unwrap();
    assert_eq!(a2.status, TicketStatus::Answered);
    assert_eq!(a2.history.len(), 3);
    let c = again.create_ticket(new("lazio"), Utc::now()).await.unwrap();
    assert!(![&a.number, &b.number].contains(&&c.number), "the sequence survives a restart");
}

async fn concurrent_writers_share_commits_and_lose_nothing(kind: Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(kind, dir.path()).await;
    let handles: Vec<_> = (0..16)
        .map(|_| {
            let s = Arc::clone(&store);
            tokio::spawn(async move {
                let mut numbers = vec![];
                for _ in 0..25 {
                    numbers.push(s.create_ticket(new("lazio"), Utc::now()).await.unwrap().number);
                }
                numbers
            })
        })
        .collect();
    let mut numbers: Vec<String> = vec![];
    for h in handles {
        numbers.extend(h.await.unwrap());
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 400);
    assert_eq!(store.tickets(None, &[]).await.unwrap().len(), 400);
    assert_eq!(store.ticket_counts(None).await.unwrap()["lazio"][&TicketStatus::Open], 400, "counted once each");
}

async fn appointments_are_found_by_the_call_they_were_booked_in(kind: Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(kind, dir.path()).await;
    let a = store.book_appointment(booking(Some("call-1"), 0), Utc::now()).await.unwrap();
    store.book_appointment(booking(None, 20), Utc::now()).await.unwrap();
    store.book_appointment(booking(Some("call-2"), 40), Utc::now()).await.unwrap();
    let b = store.book_appointment(booking(Some("call-1"), 30), Utc::now()).await.unwrap();
    let ids: Vec<String> = store.appointments_of_call("call-1").await.unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(ids, [a.id.clone(), b.id]);
    store.cancel_appointment(&a.id, "mrossi", Utc::now()).await.unwrap();
    let of_call = store.appointments_of_call("call-1").await.unwrap();
    assert_eq!(of_call[0].status, AppointmentStatus::Cancelled, "the index gives the stored state");
    assert!(store.appointments_of_call("call-3").await.unwrap().is_empty());
}

async fn a_call_outcome_set_again_keeps_the_earlier_one(kind: Store) {
    use centralino::cases::call_outcome::{CallOutcome, Outcome};
    let dir = tempfile::tempdir().unwrap();
    let store = open(kind, dir.path()).await;
    let start = Utc::now();
    let set = |outcome, note: &str| CallOutcome {
        call_id: "call-1".into(),
        outcome,
        note: note.into(),
        section: "pensions".into(),
        by: "mrossi".into(),
        at: Utc::now(),
        earlier: vec![],
    };
    store.set_call_outcome(set(Outcome::NotResolved, "needs the documents")).await.unwrap();
    let now = store.set_call_outcome(set(Outcome::TicketOpened, "ticket 123")).await.unwrap();
    assert_eq!(now.outcome, Outcome::TicketOpened);
    assert_eq!(now.earlier.len(), 1);
    assert_eq!(now.earlier[0].outcome, Outcome::NotResolved);
    assert_eq!(now.earlier[0].note, "needs the documents");
    drop(store);
    let again = open(kind, dir.path()).await;
    assert_eq!(again.call_outcome("call-1").await.unwrap(), Some(now));
    assert_eq!(again.call_outcome("call-2").await.unwrap(), None);
    assert_eq!(again.call_outcomes(start).await.unwrap().len(), 1);
    assert!(again.call_outcomes(Utc::now()).await.unwrap().is_empty());
}

async fn tickets_are_listed_and_counted_by_status_and_region_from_the_index(kind: Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(kind, dir.path()).await;
    let t0 = Utc::now();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    // Opened out of order: the list is by opening time, not by number or insertion.
    let late = store.create_ticket(new("lazio"), at(30)).await.unwrap();
    let early = store.create_ticket(new("lazio"), at(10)).await.unwrap();
    let middle = store.create_ticket(new("lazio"), at(20)).await.unwrap();
    let other = store.create_ticket(new("lombardia"), at(5)).await.unwrap();
    // A region whose id starts like another's is not mixed with it.
    let near = store.create_ticket(new("lazio2"), at(1)).await.unwrap();
    let numbers = |ts: Vec<Ticket>| ts.into_iter().map(|t| t.number).collect::<Vec<_>>();
    let open = [TicketStatus::Open];
    assert_eq!(
        numbers(store.tickets(Some("lazio"), &open).await.unwrap()),
        [early.number.as_str(), middle.number.as_str(), late.number.as_str()]
    );
    store.update_ticket(middle.number.as_str(), Box::new(|t| t.take("anna", Utc::now()))).await.unwrap();
    store.update_ticket(early.number.as_str(), Box::new(|t| t.take("anna", Utc::now()))).await.unwrap();
    store
        .update_ticket(early.number.as_str(), Box::new(|t| t.answer("anna", "Paid.", Contact::Phone, Utc::now())))
        .await
        .unwrap();
    // A refused change leaves the index as it was.
    assert!(
        store
            .update_ticket(late.number.as_str(), Box::new(|t| t.answer("anna", "x", Contact::Phone, Utc::now())))
            .await
            .is_err()
    );
    assert_eq!(numbers(store.tickets(Some("lazio"), &open).await.unwrap()), [late.number.as_str()]);
    let working = [TicketStatus::Open, TicketStatus::Taken];
    assert_eq!(
        numbers(store.tickets(Some("lazio"), &working).await.unwrap()),
        [middle.number.as_str(), late.number.as_str()]
    );
    assert_eq!(
        numbers(store.tickets(Some("lazio"), &[TicketStatus::Answered]).await.unwrap()),
        [early.number.as_str()]
    );
    assert_eq!(
        numbers(store.tickets(None, &open).await.unwrap()),
        [near.number.as_str(), other.number.as_str(), late.number.as_str()]
    );
    assert_eq!(store.tickets(Some("lazio"), &[]).await.unwrap().len(), 3, "every status");
    assert!(store.tickets(Some("umbria"), &[]).await.unwrap().is_empty());
    let counts = store.ticket_counts(None).await.unwrap();
    let lazio = &counts["lazio"];
    assert_eq!((lazio[&TicketStatus::Open], lazio[&TicketStatus::Taken], lazio[&TicketStatus::Answered]), (1, 1, 1));
    assert_eq!(counts["lombardia"][&TicketStatus::Open], 1);
    assert_eq!(counts["lazio2"][&TicketStatus::Open], 1);
    assert_eq!(store.ticket_counts(Some("lazio")).await.unwrap().keys().collect::<Vec<_>>(), ["lazio"]);
    assert!(!counts["lazio"].contains_key(&TicketStatus::Returned), "no zero counts");
}

async fn the_operators_latest_calls_are_kept_one_each(kind: Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(kind, dir.path()).await;
    let pop = |operator: &str, call_id: &str| CallPop {
        operator: operator.into(),
        call_id: call_id.into(),
        origin: centralino::vocabulary::CallOrigin {
            caller: "+393331234567".into(),
            number: "+390773691001".into(),
            province: Some("LT".into()),
            region: Some("lazio".into()),
        },
        section: "pensions".into(),
        path: vec!["main_menu".into()],
        keys: "1".into(),
        language: "it".into(),
        arrived: Utc::now(),
        waited_s: 12,
        tree: "centralino-unico-nazionale".into(),
        readback_node: Some("appointment_readback".into()),
        called_back: None,
    };
    store.set_latest_call(pop("mrossi", "call-1")).await.unwrap();
    store.set_latest_call(pop("lbianchi", "call-2")).await.unwrap();
    store.set_latest_call(pop("mrossi", "call-3")).await.unwrap();
    drop(store);
    let mut calls = open(kind, dir.path()).await.latest_calls().await.unwrap();
    calls.sort_by(|a, b| a.operator.cmp(&b.operator));
    assert_eq!(
        calls,
        [pop("lbianchi", "call-2"), pop("mrossi", "call-3")].map(|mut p| {
            p.arrived = calls.iter().find(|c| c.call_id == p.call_id).unwrap().arrived;
            p
        })
    );
}

async fn a_slot_is_booked_once_however_many_try_and_is_free_again_when_cancelled(kind: Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(kind, dir.path()).await;
    let tries: Vec<_> = (0..32)
        .map(|_| {
            let s = Arc::clone(&store);
            tokio::spawn(async move { s.book_appointment(booking(None, 0), Utc::now()).await })
        })
        .collect();
    let mut results = vec![];
    for h in tries {
        results.push(h.await.unwrap());
    }
    let booked: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
    assert_eq!(booked.len(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r.is_err()).all(|r| matches!(r, Err(StoreError::SlotTaken { .. }))));
    let a = booked[0].clone();
    let day = a.fields.start.date();
    let (from, to) = (day.and_hms_opt(0, 0, 0).unwrap(), day.and_hms_opt(23, 59, 0).unwrap());
    assert_eq!(store.booked_slots("latina-centro", from, to).await.unwrap(), [a.fields.start]);
    let other = store.book_appointment(booking(None, 20), Utc::now()).await.unwrap();
    let onto_taken = store.reschedule_appointment(&other.id, a.fields.start, "mrossi", Utc::now()).await;
    assert!(matches!(onto_taken, Err(StoreError::SlotTaken { .. })), "{onto_taken:?}");
    let moved = store
        .reschedule_appointment(&other.id, a.fields.start + chrono::Duration::minutes(40), "mrossi", Utc::now())
        .await;
    assert_eq!(moved.unwrap().history.len(), 2);
    let cancelled = store.cancel_appointment(&a.id, "mrossi", Utc::now()).await.unwrap();
    assert_eq!(cancelled.status, AppointmentStatus::Cancelled);
    assert!(matches!(store.cancel_appointment(&a.id, "mrossi", Utc::now()).await, Err(StoreError::Cancelled(_))));
    assert!(matches!(
        store.cancel_appointment("A9999999", "mrossi", Utc::now()).await,
        Err(StoreError::NoAppointment(_))
    ));
    let again = store.book_appointment(booking(None, 0), Utc::now()).await.unwrap();
    assert_ne!(again.id, a.id, "the freed slot is booked again under a new id");
    assert_eq!(store.booked_slots("latina-centro", from, to).await.unwrap().len(), 2, "the slot and the moved one");
}

async fn sessions_are_kept_found_refreshed_and_forgotten(kind: Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(kind, dir.path()).await;
    // PostgreSQL keeps instants to the microsecond.
    let t0 = chrono::SubsecRound::trunc_subsecs(Utc::now(), 6);
    let session = |seen: i64| StoredSession {
        user: "lverdi".into(),
        started: t0,
        last_seen: t0 + chrono::Duration::seconds(seen),
    };
    store.save_session("k1", session(0)).await.unwrap();
    store.save_session("k2", session(5)).await.unwrap();
    store.save_session("k1", session(60)).await.unwrap();
    assert_eq!(store.session("k1").await.unwrap(), Some(session(60)));
    assert_eq!(store.session("nope").await.unwrap(), None);
    store.drop_session("k2").await.unwrap();
    drop(store);
    let again = open(kind, dir.path()).await;
    assert_eq!(again.sessions().await.unwrap(), [("k1".to_string(), session(60))]);
}

async fn retention_anonymises_or_deletes_only_what_is_due(kind: Store) {
    use centralino::cases::retention::{Disposal, Retention};
    let dir = tempfile::tempdir().unwrap();
    let store = open(kind, dir.path()).await;
    let now = Utc::now();
    let long_ago = now - chrono::Duration::days(400);
    let recently = now - chrono::Duration::days(10);
    // Closed long ago, closed recently, open long ago.
    let old = store.create_ticket(new("lazio"), long_ago).await.unwrap();
    store.update_ticket(&old.number, Box::new(move |t| t.take("anna", long_ago))).await.unwrap();
    store
        .update_ticket(&old.number, Box::new(move |t| t.answer("anna", "Paid on the 1st.", Contact::Phone, long_ago)))
        .await
        .unwrap();
    let fresh = store.create_ticket(new("lazio"), long_ago).await.unwrap();
    store.update_ticket(&fresh.number, Box::new(move |t| t.take("anna", recently))).await.unwrap();
    store.update_ticket(&fresh.number, Box::new(move |t| t.give_back("anna", "Not ours.", recently))).await.unwrap();
    let open_old = store.create_ticket(new("lazio"), long_ago).await.unwrap();
    // A past appointment and a coming one; outcomes and sessions old and new.
    let mut past = booking(Some("call-1"), 0);
    past.start = (long_ago - chrono::Duration::days(1)).naive_utc();
    let past = store.book_appointment(past, long_ago).await.unwrap();
    let coming = store.book_appointment(booking(Some("call-1"), 20), now).await.unwrap();
    let outcome = |call: &str, at| CallOutcome {
        call_id: call.into(),
        outcome: centralino::cases::call_outcome::Outcome::Resolved,
        note: "the citizen's story".into(),
        section: "pensions".into(),
        by: "mrossi".into(),
        at,
        earlier: vec![],
    };
    store.set_call_outcome(outcome("call-old", long_ago)).await.unwrap();
    store.set_call_outcome(outcome("call-new", now)).await.unwrap();
    let session = |seen| StoredSession { user: "lverdi".into(), started: seen, last_seen: seen };
    store.save_session("stale", session(now - chrono::Duration::days(2))).await.unwrap();
    store.save_session("live", session(now)).await.unwrap();

    let retention = Retention {
        closed_tickets: Some(chrono::Duration::days(365)),
        tickets: Disposal::Anonymise,
        records: Some(chrono::Duration::days(365)),
    };
    let done = store.purge(&retention.plan(now)).await.unwrap();
    assert_eq!(
        (done.tickets_anonymised, done.tickets_deleted, done.appointments_anonymised, done.outcomes_deleted),
        (1, 0, 1, 1),
        "{done:?}"
    );
    assert_eq!(done.sessions_deleted, 1, "{done:?}");
    let gone = store.ticket(&old.number).await.unwrap().unwrap();
    assert!(gone.anonymised && gone.fields.codice_fiscale.is_empty() && gone.fields.question.is_empty(), "{gone:?}");
    assert!(!serde_json::to_string(&gone).unwrap().contains("Paid on the 1st."), "the answer goes too");
    assert_eq!((gone.status, gone.history.len()), (TicketStatus::Answered, 3), "kept for the figures");
    assert!(!store.ticket(&fresh.number).await.unwrap().unwrap().anonymised, "closed recently: kept");
    assert!(!store.ticket(&open_old.number).await.unwrap().unwrap().anonymised, "open: kept");
    let of_call = store.appointments_of_call("call-1").await.unwrap();
    let by_id = |id: &str| of_call.iter().find(|a| a.id == id).unwrap().clone();
    assert!(by_id(&past.id).fields.codice_fiscale.is_empty() && by_id(&past.id).fields.phone.is_empty());
    assert_eq!(by_id(&coming.id), coming, "a coming appointment is kept whole");
    assert_eq!(store.call_outcome("call-old").await.unwrap(), None);
    assert!(store.call_outcome("call-new").await.unwrap().is_some());
    assert_eq!(store.session("stale").await.unwrap(), None);
    assert!(store.session("live").await.unwrap().is_some());
    let again = store.purge(&retention.plan(now)).await.unwrap();
    assert_eq!((again.tickets_anonymised, again.appointments_anonymised, again.outcomes_deleted), (0, 0, 0), "once");

    let delete = Retention { tickets: Disposal::Delete, ..retention };
    let done = store.purge(&delete.plan(now)).await.unwrap();
    assert_eq!(done.tickets_deleted, 1, "{done:?}");
    assert_eq!(store.ticket(&old.number).await.unwrap(), None);
    let counts = store.ticket_counts(Some("lazio")).await.unwrap();
    assert_eq!(counts["lazio"], [(TicketStatus::Open, 1), (TicketStatus::Returned, 1)].into(), "counts follow");
    assert_eq!(store.tickets(Some("lazio"), &[]).await.unwrap().len(), 2);
}

on_both_stores_async!(
    tickets_are_numbered_kept_changed_and_found_after_reopening,
    concurrent_writers_share_commits_and_lose_nothing,
    appointments_are_found_by_the_call_they_were_booked_in,
    a_call_outcome_set_again_keeps_the_earlier_one,
    tickets_are_listed_and_counted_by_status_and_region_from_the_index,
    the_operators_latest_calls_are_kept_one_each,
    a_slot_is_booked_once_however_many_try_and_is_free_again_when_cancelled,
    sessions_are_kept_found_refreshed_and_forgotten,
    retention_anonymises_or_deletes_only_what_is_due,
);

// ------------------------------------------------------------------------------------------
// PostgreSQL only: the schema's versions, and the feed every node reads.
// ------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_database_with_a_newer_schema_is_refused_and_two_nodes_migrate_a_new_one_once() {
    let url = common::store::fresh_database();
    let nodes: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            tokio::spawn(async move { PgStore::connect(&url).await.map(|_| ()) })
        })
        .collect();
    for n in nodes {
        n.await.unwrap().expect("every node starts on the new database");
    }
    let psql = |sql: &str| {
        let out = std::process::Command::new("psql").args([url.as_str(), "-Atc", sql]).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let latest = centralino::cases::pg_store::SCHEMA_VERSION.to_string();
    assert_eq!(
        psql("SELECT count(*), max(version) FROM schema_migrations"),
        format!("{latest}|{latest}"),
        "migrated once"
    );
    psql("INSERT INTO schema_migrations (version) VALUES (99)");
    match PgStore::connect(&url).await {
        Err(StoreError::TooNew { found: 99, path, .. }) => assert!(!path.contains("centralino_test:centralino_test")),
        Err(e) => panic!("refused for another reason: {e}"),
        Ok(_) => panic!("a newer schema must be refused"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_database_is_a_clear_error_without_the_password() {
    let started = std::time::Instant::now();
    let refused = PgStore::connect("postgres://centralino:s3cret@127.0.0.1:1/cases").await;
    let message = refused.err().expect("nothing listens on port 1").to_string();
    assert!(message.contains("postgres://centralino:***@127.0.0.1:1/cases"), "{message}");
    assert!(!message.contains("s3cret"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "bounded: {:?}", started.elapsed());
}

/// Tickets written by many threads at once, read by a follower while they are written: it sees
/// every ticket exactly once, and never an event it must later be given before one it has.
#[tokio::test(flavor = "multi_thread")]
async fn a_reader_of_the_feed_sees_every_event_once_whatever_the_order_of_the_commits() {
    use centralino::cases::store::{Cursor, Feed};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(PgStore::connect(&Store::Postgres.url_for(dir.path())).await.unwrap());
    let start = store.head().await.unwrap();
    let writers: Vec<_> = (0..8)
        .map(|_| {
            let s = Arc::clone(&store);
            tokio::spawn(async move {
                let mut numbers = vec![];
                for _ in 0..50 {
                    numbers.push(s.create_ticket(new("lazio"), Utc::now()).await.unwrap().number);
                }
                numbers
            })
        })
        .collect();
    let mut seen: Vec<(Cursor, String)> = vec![];
    let mut at = start;
    while !writers.iter().all(|w| w.is_finished()) {
        for e in store.since(at, 64).await.unwrap() {
            assert_eq!(e.kind, "ticket");
            seen.push((e.cursor, e.body["number"].as_str().unwrap().to_string()));
            at = e.cursor;
        }
    }
    let mut written: Vec<String> = vec![];
    for w in writers {
        written.extend(w.await.unwrap());
    }
    store.publish("call_ended", serde_json::json!({"operator": "mrossi", "call_id": "c1"})).await.unwrap();
    // An event is readable once every transaction begun before it has ended (other tests'
    // included): at most moments later.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut last_kind = String::new();
    while last_kind != "call_ended" && std::time::Instant::now() < until {
        for e in store.since(at, 64).await.unwrap() {
            at = e.cursor;
            last_kind = e.kind.clone();
            if e.kind == "ticket" {
                seen.push((e.cursor, e.body["number"].as_str().unwrap().to_string()));
            }
        }
    }
    assert_eq!(last_kind, "call_ended", "published events follow the tickets");
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "read in order, none twice");
    let mut numbers: Vec<String> = seen.into_iter().map(|(_, n)| n).collect();
    numbers.sort();
    written.sort();
    assert_eq!(numbers, written, "every ticket's event, once");
}

/// A database of schema 1 (before the kept ticket counts) gets its counts from its tickets.
#[tokio::test(flavor = "multi_thread")]
async fn a_schema_1_database_is_migrated_and_counts_its_tickets() {
    let url = common::store::fresh_database();
    let psql = |sql: &str| {
        let out = std::process::Command::new("psql")
            .args([url.as_str(), "-v", "ON_ERROR_STOP=1", "-Atc", sql])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    };
    let schema_1 =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/cases/pg_store/0001_cases.sql")).unwrap();
    psql(&schema_1);
    psql(
        "CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now());
          INSERT INTO schema_migrations (version) VALUES (1)",
    );
    for (number, region, status) in [
        ("000000018", "lazio", "open"),
        ("000000026", "lazio", "open"),
        ("000000034", "lazio", "taken"),
        ("000000042", "umbria", "open"),
    ] {
        let mut t = Ticket::new(number.into(), new(region), Utc::now());
        if status == "taken" {
            t.take("anna", Utc::now()).unwrap();
        }
        let body = serde_json::to_string(&t).unwrap().replace('\'', "''");
        psql(&format!(
            "INSERT INTO tickets (number, region, status, opened, body) VALUES ('{number}', '{region}', '{status}', now(), '{body}')"
        ));
    }
    let store = PgStore::connect(&url).await.unwrap();
    let counts = store.ticket_counts(None).await.unwrap();
    assert_eq!(counts["lazio"], [(TicketStatus::Open, 2), (TicketStatus::Taken, 1)].into());
    assert_eq!(counts["umbria"], [(TicketStatus::Open, 1)].into());
    store.update_ticket("000000018", Box::new(|t| t.take("anna", Utc::now()))).await.unwrap();
    store.create_ticket(new("umbria"), Utc::now()).await.unwrap();
    let counts = store.ticket_counts(None).await.unwrap();
    assert_eq!(counts["lazio"], [(TicketStatus::Open, 1), (TicketStatus::Taken, 2)].into(), "kept as they change");
    assert_eq!(store.ticket_counts(Some("umbria")).await.unwrap()["umbria"], [(TicketStatus::Open, 2)].into());
    assert_eq!(store.tickets(Some("lazio"), &[TicketStatus::Taken]).await.unwrap().len(), 2);
}

/// The shared journal: appended in order by several writers' batches, read whole or its last
/// values, and its old entries removed by retention.
#[tokio::test(flavor = "multi_thread")]
async fn the_shared_journal_keeps_the_order_and_its_retention() {
    use centralino::cases::retention::{Disposal, Retention};
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(PgStore::connect(&Store::Postgres.url_for(dir.path())).await.unwrap());
    let calls = store.journal("calls", "ended");
    let now = Utc::now();
    let old = now - chrono::Duration::days(100);
    let value = |i: u32, at: chrono::DateTime<Utc>| serde_json::json!({"call_id": format!("c{i}"), "ended": at});
    calls.append((0..5).map(|i| value(i, old)).collect()).await.unwrap();
    calls.append((5..10).map(|i| value(i, now)).collect()).await.unwrap();
    store.journal("queue", "at").append(vec![serde_json::json!({"at": now, "event": "x"})]).await.unwrap();
    let ids = |values: Vec<serde_json::Value>| {
        values.iter().map(|v| v["call_id"].as_str().unwrap().to_string()).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store.read_journal("calls", None).await.unwrap()),
        (0..10).map(|i| format!("c{i}")).collect::<Vec<_>>()
    );
    assert_eq!(ids(store.read_journal("calls", Some(3)).await.unwrap()), ["c7", "c8", "c9"]);
    let retention =
        Retention { closed_tickets: None, tickets: Disposal::Anonymise, records: Some(chrono::Duration::days(90)) };
    let done = store.purge(&retention.plan(now)).await.unwrap();
    assert_eq!(done.journal_entries_deleted, 5);
    assert_eq!(
        ids(store.read_journal("calls", None).await.unwrap()),
        (5..10).map(|i| format!("c{i}")).collect::<Vec<_>>()
    );
    assert_eq!(store.read_journal("queue", None).await.unwrap().len(), 1);
}
