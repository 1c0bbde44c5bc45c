//! `centralino purge` on an embedded store and its journals: the periods of `[retention]`
//! applied, the counts printed; a period out of range is a configuration error.

mod common;

use centralino::cases::ticket::Contact;
use centralino::cases::{CaseStore, NewTicket, RedbStore};
use chrono::{Duration, Utc};
use std::process::Command;

const RETENTION: &str = "[retention]\nclosed_tickets_days = 365\ntickets = \"delete\"\nrecords_days = 90\n\n[http]";

fn ticket() -> NewTicket {
    common::cases::new_ticket("lazio")
}

fn centralino(args: &[&str]) -> (bool, String) {
    let out = Command::new(common::BIN).current_dir(common::ROOT).args(args).output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test(flavor = "multi_thread")]
async fn purge_applies_the_periods_to_the_embedded_store_and_the_journals() {
    let data = tempfile::tempdir().unwrap();
    let now = Utc::now();
    let long_ago = now - Duration::days(400);
    let (old, kept) = {
        let store = RedbStore::open(&data.path().join("cases.redb")).unwrap();
        let old = store.create_ticket(ticket(), long_ago).await.unwrap();
        store.update_ticket(&old.number, Box::new(move |t| t.take("anna", long_ago))).await.unwrap();
        store
            .update_ticket(&old.number, Box::new(move |t| t.answer("anna", "Paid.", Contact::Phone, long_ago)))
            .await
            .unwrap();
        (old, store.create_ticket(ticket(), long_ago).await.unwrap())
    };
    let record = |ended: chrono::DateTime<Utc>, id: &str| {
        format!("{{\"call_id\":\"{id}\",\"caller\":\"+393331234567\",\"ended\":\"{}\"}}\n", ended.to_rfc3339())
    };
    let calls = data.path().join("calls.jsonl");
    std::fs::write(&calls, record(long_ago, "old-call") + &record(now, "new-call")).unwrap();
    let (_config_dir, config) = common::edited_config(&[("[http]", RETENTION)]);
    let config = config.to_str().unwrap();
    let dir = data.path().to_str().unwrap();

    let (ok, said) = centralino(&["--config", config, "purge", "--data-dir", dir]);
    assert!(ok, "{said}");
    assert!(said.contains("tickets deleted                           1"), "{said}");
    assert!(said.contains("calls.jsonl lines removed                 1"), "{said}");
    let journal = std::fs::read_to_string(&calls).unwrap();
    assert!(journal.contains("new-call") && !journal.contains("old-call"), "{journal}");
    let store = RedbStore::open(&data.path().join("cases.redb")).unwrap();
    assert_eq!(store.ticket(&old.number).await.unwrap(), None, "closed long ago: deleted");
    assert!(store.ticket(&kept.number).await.unwrap().is_some(), "open: kept");
    drop(store);

    // An engine holds the store: purge says so, and that the engine purges by itself.
    let _holder = RedbStore::open(&data.path().join("cases.redb")).unwrap();
    let (ok, said) = centralino(&["--config", config, "purge", "--data-dir", dir]);
    assert!(!ok && said.contains("applies the retention every day by itself"), "{said}");
}

#[test]
fn a_period_out_of_range_is_a_configuration_error() {
    let (_dir, config) = common::edited_config(&[("[http]", "[retention]\nrecords_days = 0\n\n[http]")]);
    let (ok, said) = centralino(&["--config", config.to_str().unwrap(), "check"]);
    assert!(!ok, "{said}");
    assert!(said.contains("retention.records_days 0 is out of range"), "{said}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_engine_applies_the_periods_when_it_starts() {
    let data = tempfile::tempdir().unwrap();
    let long_ago = Utc::now() - Duration::days(400);
    let old = {
        let store = RedbStore::open(&data.path().join("cases.redb")).unwrap();
        let old = store.create_ticket(ticket(), long_ago).await.unwrap();
        store.update_ticket(&old.number, Box::new(move |t| t.take("anna", long_ago))).await.unwrap();
        store.update_ticket(&old.number, Box::new(move |t| t.give_back("anna", "Not ours.", long_ago))).await.unwrap()
    };
    let (_config_dir, config) = common::edited_config(&[("[http]", RETENTION)]);
    let engine = common::Engine::start_in(data, &["--config", config.to_str().unwrap()]);
    assert!(engine.wait_for_log("retention applied", std::time::Duration::from_secs(10)), "{}", engine.log_text());
    let (status, _) =
        common::http(&engine, "GET", &format!("/api/tickets/{}", old.number), Some(("mrossi", "demo-mrossi")), None);
    assert_eq!(status, 404, "returned 400 days ago: deleted at start");
}
