//! A center of three nodes behind Kamailio (scripts/cluster.sh): callers reach any node
//! through the proxy and wait in one queue per section, answered strictly in their order of
//! arrival by operators signed in on any node; the node running the distribution is killed and
//! another takes it over with the callers of the surviving nodes in their order; every node is
//! drained and restarted in turn under a steady load without one failed call.

mod common;

use common::cluster::{Cluster, PgRelay, Sipp, switchboard};
use common::{http_at, http_raw_at};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The queue of the cluster switchboard.
const QUEUE_NUMBER: &str = "0699999999";

/// The clusters are heavy (three engines, Kamailio, hundreds of calls on two cores): one at a
/// time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn operator(i: usize) -> (String, String) {
    (format!("op{i}"), format!("pw-op{i}"))
}

/// Operator `op<i>` does `action` (`login`, `pause`, `ready`) through node `node`'s API.
fn act(cluster: &Cluster, node: usize, i: usize, action: &str) -> Value {
    let (user, password) = operator(i);
    let body = if action == "pause" { json!({"reason": "briefing"}) } else { json!({}) };
    let (status, answer) =
        http_at(cluster.http(node), "POST", &format!("/api/operator/{action}"), Some((&user, &password)), Some(&body));
    assert_eq!(status, 200, "{user} {action} on node {node}: {answer}");
    answer
}

/// A sample's value in a metrics text.
fn metric(text: &str, sample: &str) -> Option<i64> {
    text.lines().find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
}

/// Wait until `check` holds, or fail with `what` after `within`.
fn wait_until(within: Duration, what: &str, cluster: &Cluster, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "{what} within {within:?}\n{}", cluster.logs());
        thread::sleep(Duration::from_millis(100));
    }
    started.elapsed()
}

fn events<'a>(journal: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    journal.iter().filter(move |e| e["event"] == kind && e["section"] == "cluster")
}

fn reachable(cluster: &Cluster, node: usize, users: &[usize]) -> bool {
    let (user, password) = operator(users[0]);
    let (_, all) = http_at(cluster.http(node), "GET", "/api/operators", Some((&user, &password)), None);
    users.iter().all(|i| {
        all.as_array().into_iter().flatten().any(|o| o["operator"] == format!("op{i}") && o["reachable"] == true)
    })
}

/// The sipp call number in a call id (`<n>-<pid>@<ip>`): the callers' order of arrival.
fn call_number(call: &str) -> u64 {
    call.split('-').next().and_then(|n| n.parse().ok()).unwrap_or(u64::MAX)
}

/// Replay the journal: every caller heard, on entering, the number of callers waiting before
/// them on every node.
fn assert_positions_counted_across_nodes(journal: &[Value]) {
    let mut waiting = HashSet::new();
    for e in journal.iter().filter(|e| e["section"] == "cluster") {
        let call = e["call"].as_str().unwrap().to_string();
        match e["event"].as_str().unwrap() {
            "entered" => {
                assert_eq!(e["ahead"].as_u64(), Some(waiting.len() as u64), "position of {call} on entering");
                waiting.insert(call);
            }
            "answered" | "abandoned" | "timed_out" | "overflowed" | "left" => {
                waiting.remove(&call);
            }
            _ => {}
        }
    }
}

/// The calls in the order they were first offered to an operator.
fn first_offers(journal: &[Value]) -> Vec<String> {
    let mut seen = HashSet::new();
    events(journal, "offered")
        .map(|e| e["call"].as_str().unwrap().to_string())
        .filter(|c| seen.insert(c.clone()))
        .collect()
}

#[test]
fn three_hundred_callers_through_kamailio_are_answered_in_arrival_order_by_operators_on_two_nodes() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = switchboard();
    let cluster = Cluster::up(3, sb.path());
    // Two operators' phones register through the proxy; each operator signs in on another node
    // and pauses, so that the whole queue forms before anyone is answered.
    let _phones = [cluster.phone("op1", 150, 400), cluster.phone("op2", 150, 400)];
    wait_until(Duration::from_secs(15), "both phones registered", &cluster, || reachable(&cluster, 3, &[1, 2]));
    for (node, i) in [(1, 1), (2, 2)] {
        act(&cluster, node, i, "login");
        act(&cluster, node, i, "pause");
    }

    const CALLERS: usize = 300;
    let mut callers = cluster.callers("cluster_waiter.xml", QUEUE_NUMBER, CALLERS, 25, 360);
    wait_until(Duration::from_secs(60), "every caller waiting", &cluster, || {
        events(&cluster.queue_journal(), "entered").count() == CALLERS
    });
    let journal = cluster.queue_journal();
    assert_positions_counted_across_nodes(&journal);
    // The callers reached every node; the node running the distribution counts them all in
    // its metrics, the others count only their own calls.
    let (holder, _) = cluster.holder().expect("a node runs the distribution");
    let mut in_progress = 0;
    for node in 1..=3 {
        let queued = cluster.log(node).matches("\"message\":\"queued\"").count();
        assert!(queued >= CALLERS / 10, "node {node} took {queued} of the {CALLERS} callers");
        let (status, _, text) = http_raw_at(cluster.http(node), "GET", "/metrics", &[], "");
        assert_eq!(status, 200, "{text}");
        let owned = if node == holder { 1 } else { 0 };
        assert_eq!(metric(&text, "centralino_section_owned{section=\"cluster\"}"), Some(owned), "{text}");
        let waiting = metric(&text, "centralino_queue_waiting{section=\"cluster\"}");
        assert_eq!(waiting, (node == holder).then_some(CALLERS as i64), "{text}");
        in_progress += metric(&text, "centralino_calls_in_progress").unwrap();
    }
    assert_eq!(in_progress, CALLERS as i64, "each caller in progress on one node");

    // Both operators ready, on a third node: the queue empties in order of arrival.
    act(&cluster, 3, 1, "ready");
    act(&cluster, 3, 2, "ready");
    wait_until(Duration::from_secs(240), "every caller answered", &cluster, || {
        events(&cluster.queue_journal(), "answered").count() == CALLERS
    });
    assert_eq!(callers.wait(), Some(0), "every caller's call succeeded: {}", callers.report());
    let journal = cluster.queue_journal();
    let offers = first_offers(&journal);
    assert_eq!(offers.len(), CALLERS);
    let numbers: Vec<u64> = offers.iter().map(|c| call_number(c)).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "offered in order of arrival: {numbers:?}");
    let by: HashMap<&str, usize> = events(&journal, "answered").fold(HashMap::new(), |mut m, e| {
        *m.entry(e["operator"].as_str().unwrap()).or_default() += 1;
        m
    });
    assert!(by.get("op1").is_some_and(|n| *n > 50) && by.get("op2").is_some_and(|n| *n > 50), "both answered: {by:?}");
    // Positions changed as the queue moved, and were announced on every node.
    assert!(events(&journal, "announced").count() >= CALLERS, "positions announced as the queue moved");
}

/// op1's phone registered through the proxy, op1 signed in on `node` and paused, then
/// `callers` callers through the proxy waiting in the queue: the phone and the callers.
fn paused_operator_and_waiting_callers(cluster: &Cluster, node: usize, callers: usize) -> (Sipp, Sipp) {
    let phone = cluster.phone("op1", 150, 300);
    wait_until(Duration::from_secs(15), "the phone registered", cluster, || reachable(cluster, node, &[1]));
    act(cluster, node, 1, "login");
    act(cluster, node, 1, "pause");
    let waiting = cluster.callers("cluster_waiter.xml", QUEUE_NUMBER, callers, 10, 240);
    wait_until(Duration::from_secs(30), "every caller waiting", cluster, || {
        events(&cluster.queue_journal(), "entered").count() == callers
    });
    (phone, waiting)
}

#[test]
fn killing_the_node_that_runs_the_distribution_keeps_the_other_nodes_callers_in_order() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = switchboard();
    let cluster = Cluster::up(3, sb.path());
    const CALLERS: usize = 30;
    let (_phone, callers) = paused_operator_and_waiting_callers(&cluster, 2, CALLERS);
    let (dead, epoch) = cluster.holder().expect("a node runs the distribution");

    let killed = (Instant::now(), chrono::Local::now().naive_local());
    cluster.kill(dead);
    // A new call right after the kill: answered by another node (the proxy skips the dead one
    // after at most one unanswered try).
    let mut one = cluster.callers("cluster_call.xml", "803164", 1, 1, 30);
    wait_until(Duration::from_secs(10), "another node took the distribution over", &cluster, || {
        cluster.holder().is_some_and(|(node, e)| node != dead && e > epoch)
    });
    let takeover = killed.0.elapsed();
    assert_eq!(one.wait(), Some(0), "a new call after the kill: {}", one.report());
    let answered = one.first_answer().expect("the new call's 200 OK") - killed.1;
    let (new, _) = cluster.holder().unwrap();
    eprintln!(
        "node {dead} killed: distribution taken over by node {new} in {takeover:?}, a new call answered in {answered}"
    );
    assert!(answered < chrono::Duration::seconds(5), "a new call answered within 5 s of the kill: {answered}");
    let survivor = (1..=3).find(|n| *n != dead).unwrap();

    // The survivors' callers are back in the queue, in their order; the operator, ready again,
    // answers them in it.
    let (user, password) = operator(1);
    wait_until(Duration::from_secs(10), "the survivors' callers back in the queue", &cluster, || {
        let (_, sections) = http_at(cluster.http(survivor), "GET", "/api/sections", Some((&user, &password)), None);
        let waiting = sections.as_array().into_iter().flatten().find(|s| s["section"] == "cluster");
        waiting.is_some_and(|s| s["waiting"].as_u64().unwrap_or(0) > 0)
    });
    let before = cluster.queue_journal().len();
    act(&cluster, survivor, 1, "ready");
    let kept = {
        let survivors: Vec<String> = (1..=3).filter(|n| *n != dead).map(|n| cluster.log(n)).collect();
        events(&cluster.queue_journal(), "entered")
            .filter(|e| survivors.iter().any(|log| log.contains(&format!("\"{}\"", e["call"].as_str().unwrap()))))
            .count()
    };
    assert!(kept >= CALLERS / 3, "the survivors held {kept} callers");
    wait_until(Duration::from_secs(90), "every surviving caller answered", &cluster, || {
        events(&cluster.queue_journal()[before..], "answered").count() == kept
    });
    let journal = cluster.queue_journal();
    let numbers: Vec<u64> = first_offers(&journal[before..]).iter().map(|c| call_number(c)).collect();
    assert_eq!(numbers.len(), kept);
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "answered in their order of arrival: {numbers:?}");
    // The dead node's callers were lost with it (their audio ran through it); nobody else.
    drop(callers);
}

#[test]
fn a_holder_frozen_past_its_lease_decides_nothing_when_it_wakes_and_every_caller_is_answered_once() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = switchboard();
    let cluster = Cluster::up(3, sb.path());
    // One operator, each conversation 5 s: callers wait behind the first.
    let _phones = [cluster.phone("op1", 5000, 300)];
    wait_until(Duration::from_secs(15), "the phone registered", &cluster, || reachable(&cluster, 1, &[1]));
    act(&cluster, 1, 1, "login");
    const CALLERS: usize = 8;
    let callers = cluster.callers("cluster_waiter.xml", QUEUE_NUMBER, CALLERS, 8, 240);
    wait_until(Duration::from_secs(30), "the first caller answered", &cluster, || {
        events(&cluster.queue_journal(), "answered").count() == 1
    });
    let (frozen, epoch) = cluster.holder().expect("a node runs the distribution");
    cluster.signal(frozen, "STOP");
    wait_until(Duration::from_secs(10), "another node took the distribution over", &cluster, || {
        cluster.holder().is_some_and(|(node, e)| node != frozen && e > epoch)
    });
    // The conversation in progress ends meanwhile; the frozen holder, woken, would offer the next
    // caller: its lease has lapsed, it must decide nothing.
    thread::sleep(Duration::from_secs(4));
    let woken = chrono::Utc::now();
    cluster.signal(frozen, "CONT");
    wait_until(Duration::from_secs(90), "every caller answered", &cluster, || {
        events(&cluster.queue_journal(), "answered").count() >= CALLERS
    });
    thread::sleep(Duration::from_secs(1));
    let journal = cluster.queue_journal();
    let answered: Vec<&str> = events(&journal, "answered").map(|e| e["call"].as_str().unwrap()).collect();
    let once: HashSet<&str> = answered.iter().copied().collect();
    assert_eq!((answered.len(), once.len()), (CALLERS, CALLERS), "each caller answered once: {answered:?}");
    let log = cluster.log(frozen);
    let stale: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("offering the call"))
        .filter(|l| {
            let at = serde_json::from_str::<Value>(l).ok().and_then(|v| v["timestamp"].as_str().map(String::from));
            at.and_then(|t| t.parse::<chrono::DateTime<chrono::Utc>>().ok()).is_some_and(|t| t >= woken)
        })
        .collect();
    assert!(stale.is_empty(), "the woken holder offered calls: {stale:?}");
    assert!(log.contains("no longer this node's to run"), "{}", cluster.logs());
    drop(callers);
}

#[test]
fn a_holder_cut_off_from_postgresql_hands_over_and_its_callers_keep_their_places() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = switchboard();
    // Each node reaches the database through a relay of its own.
    let relays: Vec<PgRelay> = (0..3).map(|_| PgRelay::start()).collect();
    let env: Vec<(String, String)> =
        relays.iter().enumerate().map(|(i, r)| (format!("CLUSTER_PG_PORT_{}", i + 1), r.port.to_string())).collect();
    let cluster = Cluster::up_with(3, sb.path(), &env);
    const CALLERS: usize = 9;
    let (_phone, callers) = paused_operator_and_waiting_callers(&cluster, 1, CALLERS);
    let (cut, epoch) = cluster.holder().expect("a node runs the distribution");
    let survivor = (1..=3).find(|n| *n != cut).unwrap();
    relays[cut - 1].cut();
    wait_until(Duration::from_secs(10), "another node took the distribution over", &cluster, || {
        cluster.holder().is_some_and(|(node, e)| node != cut && e > epoch)
    });
    // The cut-off node learns the new holder from its peers and brings its callers back.
    let (user, password) = operator(1);
    wait_until(Duration::from_secs(15), "every caller back in the queue", &cluster, || {
        let (_, sections) = http_at(cluster.http(survivor), "GET", "/api/sections", Some((&user, &password)), None);
        let cluster_section = sections.as_array().into_iter().flatten().find(|s| s["section"] == "cluster");
        cluster_section.is_some_and(|s| s["waiting"] == CALLERS)
    });
    let before = cluster.queue_journal().len();
    act(&cluster, survivor, 1, "ready");
    wait_until(Duration::from_secs(60), "every caller answered", &cluster, || {
        events(&cluster.queue_journal()[before..], "answered").count() == CALLERS
    });
    let numbers: Vec<u64> = first_offers(&cluster.queue_journal()[before..]).iter().map(|c| call_number(c)).collect();
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "answered in their order of arrival: {numbers:?}");
    drop(callers);
}

#[test]
fn an_operator_registered_through_two_nodes_is_rung_on_the_latest_phone_only() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = switchboard();
    let cluster = Cluster::up(2, sb.path());
    let first = cluster.phone_at(cluster.sip(1), "op1", 300, 120);
    wait_until(Duration::from_secs(15), "the first phone registered", &cluster, || reachable(&cluster, 2, &[1]));
    let latest = cluster.phone_at(cluster.sip(2), "op1", 300, 120);
    wait_until(Duration::from_secs(15), "the second registration taken", &cluster, || {
        cluster.sql("SELECT node FROM phone_bindings WHERE operator = 'op1'") == ["node2"]
    });
    act(&cluster, 1, 1, "login");
    let mut callers = cluster.callers("cluster_waiter.xml", QUEUE_NUMBER, 3, 3, 60);
    assert_eq!(callers.wait(), Some(0), "{}", callers.report());
    let invites = |p: &common::cluster::Sipp| p.file("messages.log").matches("INVITE sip:op1@").count();
    assert_eq!((invites(&first), invites(&latest)), (0, 3), "only the latest phone rings");
}

#[test]
fn wrong_passwords_through_kamailio_lock_the_guesser_not_the_proxy() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = switchboard();
    let cluster = Cluster::up(2, sb.path());
    // A guesser on another address: 60 wrong passwords through the proxy, spread over the two
    // nodes by Call-ID: more than the 20 an address may fail on each before its lock.
    let mut guesser = cluster.guesser("127.0.0.2", 60);
    assert_ne!(guesser.wait(), Some(0), "the guesses fail: {}", guesser.report());
    let messages = guesser.file("messages.log");
    assert!(messages.matches("SIP/2.0 403").count() >= 60, "{}", guesser.report());
    assert!(messages.contains("too many wrong passwords"), "the guesser's address is locked: {}", guesser.report());
    // An operator's phone on this address registers through the same proxy.
    let _phone = cluster.phone("op1", 300, 60);
    wait_until(Duration::from_secs(15), "the operator's phone registered", &cluster, || reachable(&cluster, 1, &[1]));
}

#[test]
fn every_node_drained_and_restarted_in_turn_under_twenty_calls_a_second_fails_no_call() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let sb = switchboard();
    let cluster = Cluster::up(3, sb.path());
    let mut calls = cluster.callers("cluster_call.xml", "803164", 900, 20, 120);
    thread::sleep(Duration::from_secs(3));
    for node in 1..=3 {
        cluster.stop(node);
        cluster.start(node);
        // Kamailio's next probe finds it ready.
        thread::sleep(Duration::from_secs(2));
    }
    assert_eq!(calls.wait(), Some(0), "no call failed during the rolling restart: {}", calls.report());
    let mut answered = 0;
    for node in 1..=3 {
        let log = cluster.log(node);
        assert_eq!(log.matches("switchboard ready").count(), 2, "node {node} was restarted");
        let here = log.matches("\"message\":\"answered\"").count();
        assert!(here >= 100, "node {node} answered {here} calls");
        answered += here;
    }
    assert_eq!(answered, 900, "every call answered once, by one node");
}
