//! Sections' queues with the running engine: operators log in through the HTTP API, sipp
//! callers ask for the pensions section and wait, hear their positions in order, leave with the
//! section's key or hang up; the queue journal, the operators' journal and the call records
//! show it.

mod common;

use common::*;
use serde_json::{Value, json};
use std::time::Duration;

fn events_of<'a>(entries: &'a [Value], call: &str) -> Vec<&'a Value> {
    entries.iter().filter(|e| e["call"] == call).collect()
}

fn kinds(events: &[&Value]) -> Vec<String> {
    events.iter().map(|e| e["event"].as_str().unwrap_or("?").to_string()).collect()
}

#[test]
fn operators_log_in_pause_and_are_refused_what_they_may_not_do() {
    let engine = Engine::start();
    let me = Some(("mrossi", "demo-mrossi"));
    let (status, body) = http(&engine, "GET", "/api/operator", None, None);
    assert_eq!(status, 401, "{body}");
    assert!(body["error"].as_str().unwrap().contains("log in"));
    assert_eq!(http(&engine, "GET", "/api/operator", Some(("mrossi", "wrong")), None).0, 401);
    assert_eq!(http(&engine, "GET", "/api/operator", Some(("nobody", "x")), None).0, 401);

    let (status, body) = http(&engine, "GET", "/api/operator", me, None);
    assert_eq!((status, body["state"].as_str()), (200, Some("logged_out")), "{body}");
    let (status, body) = http(&engine, "POST", "/api/operator/login", me, Some(&json!({"sections": ["contributors"]})));
    assert_eq!(status, 422, "{body}");
    assert!(body["error"].as_str().unwrap().contains("does not serve section"), "{body}");
    let (status, body) = http(&engine, "POST", "/api/operator/login", me, None);
    assert_eq!((status, body["state"].as_str()), (200, Some("available")), "{body}");
    assert_eq!(body["serving"], json!(["pensions", "general"]));
    assert_eq!(body["reachable"], json!(false), "no phone registered");

    let (status, _) = http(&engine, "POST", "/api/operator/pause", me, Some(&json!({"reason": " "})));
    assert_eq!(status, 422);
    let (status, body) = http(&engine, "POST", "/api/operator/pause", me, Some(&json!({"reason": "meeting"})));
    assert_eq!((status, body["state"].as_str(), body["reason"].as_str()), (200, Some("paused"), Some("meeting")));
    let (status, body) = http(&engine, "POST", "/api/operator/transfer", me, Some(&json!({"section": "general"})));
    assert_eq!(status, 409, "no call to transfer: {body}");
    let (status, body) = http(&engine, "POST", "/api/operator/ready", me, None);
    assert_eq!((status, body["state"].as_str()), (200, Some("available")));

    let (status, sections) = http(&engine, "GET", "/api/sections", me, None);
    assert_eq!(status, 200);
    let pensions = sections.as_array().unwrap().iter().find(|s| s["section"] == "pensions").unwrap();
    assert_eq!((pensions["waiting"].as_u64(), &pensions["operators"]), (Some(0), &json!({"available": 1})));
    let (status, body) = http(&engine, "POST", "/api/operator/logout", me, None);
    assert_eq!((status, body["state"].as_str()), (200, Some("logged_out")));
    // Malformed JSON is a 4xx with a message, not a crash.
    let (status, _) = http(&engine, "POST", "/api/operator/pause", me, Some(&json!({"why": "x"})));
    assert_eq!(status, 422);

    std::thread::sleep(Duration::from_millis(300));
    let states: Vec<(String, Option<String>)> = journal(&engine, "operators.jsonl")
        .iter()
        .filter(|e| e["operator"] == "mrossi")
        .map(|e| (e["state"].as_str().unwrap().to_string(), e["reason"].as_str().map(String::from)))
        .collect();
    assert_eq!(
        states,
        [
            ("available".to_string(), None),
            ("paused".to_string(), Some("meeting".to_string())),
            ("available".to_string(), None),
            ("logged_out".to_string(), None)
        ]
    );
    assert!(journal(&engine, "operators.jsonl").iter().all(|e| e["at"].is_string()), "every change has its time");
}

#[test]
fn callers_wait_in_arrival_order_hear_their_positions_and_leave() {
    let (_dir, config) = edited_config(&[
        ("announce_min_interval_seconds = 20", "announce_min_interval_seconds = 2"),
        ("announce_every_seconds = 60", "announce_every_seconds = 30"),
        ("when_no_operators = { node = \"no_operator_now\" }\n", ""),
    ]);
    let engine = Engine::start_with(&["--config", config.to_str().unwrap()]);
    // mrossi serves pensions but has no phone registered, so nobody answers; without a
    // `when_no_operators` route the callers wait all the same.
    let (status, _) = http(&engine, "POST", "/api/operator/login", Some(("mrossi", "demo-mrossi")), None);
    assert_eq!(status, 200);

    // (start delay, wait after the keys, key, wait after it): the portal's prompts take ~8 s
    // before the queue, so the three are queued in order at ~8, ~9 and ~10 s; c1 hangs up at
    // ~15 s, c2 leaves with 9 at ~19 s, c3 hangs up at ~25 s.
    let plan = [(0u64, 14_000u64, "5", 300u64), (1_200, 17_000, "9", 2_500), (2_400, 20_000, "5", 300)];
    let runs = std::thread::scope(|s| {
        let handles: Vec<_> = plan
            .into_iter()
            .map(|(delay, wait, after, after_ms)| {
                let engine = &engine;
                s.spawn(move || {
                    std::thread::sleep(Duration::from_millis(delay));
                    pensions_caller(engine, "9", "0 8 101", wait, after, after_ms)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    });
    let runs: Vec<SippRun> = runs.into_iter().map(SippRun::expect_ok).collect();
    let ids: Vec<String> = runs.iter().map(SippRun::call_id).collect();
    let records: Vec<Value> = ids.iter().map(|id| engine.record(id)).collect();
    std::thread::sleep(Duration::from_millis(300));
    let queue = journal(&engine, "queue.jsonl");
    let context = || {
        format!("queue journal:\n{}\nengine log:\n{}", serde_json::to_string_pretty(&queue).unwrap(), engine.log_text())
    };

    // Arrival order, and what each heard on joining.
    for (i, id) in ids.iter().enumerate() {
        let ev = events_of(&queue, id);
        assert_eq!(ev[0]["event"], "entered", "{}", context());
        assert_eq!(
            (ev[0]["section"].as_str(), ev[0]["ahead"].as_u64()),
            (Some("pensions"), Some(i as u64)),
            "{}",
            context()
        );
        let first_announcement = ev.iter().find(|e| e["event"] == "announced").unwrap();
        assert_eq!(first_announcement["ahead"].as_u64(), Some(i as u64), "{}", context());
    }
    // The first hangs up: the others move up and are told (at most every 2 s here).
    let c1 = events_of(&queue, &ids[0]);
    assert_eq!(kinds(&c1).last().map(String::as_str), Some("abandoned"), "{}", context());
    let waited = c1.last().unwrap()["wait_ms"].as_u64().unwrap();
    assert!((3_000..14_000).contains(&waited), "c1 waited {waited} ms\n{}", context());
    let c2 = events_of(&queue, &ids[1]);
    let c2_positions: Vec<u64> =
        c2.iter().filter(|e| e["event"] == "announced").map(|e| e["ahead"].as_u64().unwrap()).collect();
    assert_eq!(c2_positions.first(), Some(&1));
    assert!(c2_positions.contains(&0), "c2 is told it is next once c1 has gone: {c2_positions:?}\n{}", context());
    // The second leaves with the section's key 9, back to the pensions menu.
    let left = c2.iter().find(|e| e["event"] == "left").unwrap_or_else(|| panic!("{}", context()));
    assert_eq!((left["key"].as_str(), left["to"].as_str()), (Some("9"), Some("node:pensions_menu")));
    let path: Vec<&str> = records[1]["path"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    let q = path.iter().position(|p| *p == "pensions_queue").unwrap();
    assert_eq!(path.get(q + 1), Some(&"pensions_menu"), "{path:?}");
    // The third ends as the first of the line, then hangs up.
    let c3 = events_of(&queue, &ids[2]);
    let c3_positions: Vec<u64> =
        c3.iter().filter(|e| e["event"] == "announced").map(|e| e["ahead"].as_u64().unwrap()).collect();
    assert_eq!(c3_positions.first(), Some(&2));
    assert_eq!(c3_positions.last(), Some(&0), "{c3_positions:?}\n{}", context());
    assert!(c3_positions.windows(2).all(|w| w[1] <= w[0]), "positions only go down: {c3_positions:?}");
    // Call records.
    assert_eq!(records[0]["ending"], json!({"kind": "abandoned", "section": "pensions"}));
    assert_eq!(records[2]["ending"], json!({"kind": "abandoned", "section": "pensions"}));
    assert_eq!(records[1]["ending"]["kind"], "caller_hangup");
    // `centralino calls --json` carries each call's queue events; `centralino stats` sums them.
    let kinds_of = |r: &Value| -> Vec<String> {
        r["queue"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(kinds_of(&records[0]).first().map(String::as_str), Some("entered"));
    assert_eq!(kinds_of(&records[0]).last().map(String::as_str), Some("abandoned"));
    let out = std::process::Command::new(BIN)
        .current_dir(ROOT)
        .args(["--config", config.to_str().unwrap(), "stats", "--json", "--data-dir"])
        .arg(engine.data.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    let p = stats["sections"].as_array().unwrap().iter().find(|s| s["section"] == "pensions").unwrap();
    assert_eq!(
        (p["entered"].as_u64(), p["abandoned"].as_u64(), p["left"].as_u64(), p["waiting_now"].as_u64()),
        (Some(3), Some(2), Some(1), Some(0)),
        "{stats:#}"
    );
    assert_eq!(stats["operators"][0]["operator"], "mrossi");
    // Nobody is left in the queue.
    let (_, sections) = http(&engine, "GET", "/api/sections", Some(("mrossi", "demo-mrossi")), None);
    let pensions = sections.as_array().unwrap().iter().find(|s| s["section"] == "pensions").unwrap();
    assert_eq!(
        (pensions["waiting"].as_u64(), pensions["abandoned"].as_u64(), pensions["entered"].as_u64()),
        (Some(0), Some(2), Some(3))
    );
}

/// Inside the contact center's hours (the tests' trees are open around the clock) with no
/// operator logged in, a caller asking for pensions hears that no operator is free now, not the
/// closed-hours message, and is taken back to the main menu.
#[test]
fn in_hours_with_no_operator_logged_in_the_caller_hears_that_none_is_free() {
    let engine = Engine::start();
    let run = pensions_caller(&engine, "9", "0 8 101", 14_000, "5", 300).expect_ok();
    let r = engine.record(&run.call_id());
    let path: Vec<&str> = r["path"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    let at = path.iter().position(|n| *n == "pensions_queue").unwrap_or_else(|| panic!("queued: {r:#}"));
    assert_eq!(path[at + 1..].first().copied(), Some("no_operator_now"), "{r:#}");
    assert_eq!(path[at + 2..].first().copied(), Some("no_operator_free"), "{r:#}");
    assert!(!path.contains(&"operator_closed"), "the hours are not told while open: {r:#}");
    let queue = journal(&engine, "queue.jsonl");
    let left = events_of(&queue, &run.call_id());
    // Not queued at all: sent on at once, and the journal says why.
    assert_eq!(kinds(&left), ["overflowed"], "{}", serde_json::to_string_pretty(&queue).unwrap());
    assert_eq!(
        (left[0]["reason"].as_str(), left[0]["to"].as_str()),
        (Some("no_operators"), Some("node:no_operator_now"))
    );
}
