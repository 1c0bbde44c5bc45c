//! The distribution (`centralino::acd`) driven event by event, without a network: fairness,
//! longest-idle operator, ring timeout, wrap-up, pause, multi-section operators, transfers
//! keeping the arrival time, limits and overflow, announcements, and a caller leaving at every
//! instant of the hand-over. Invariants are checked after every event.

use centralino::acd::{
    Acd, AcdError, Action, Event, NO_ANSWER, OperatorState, PhoneKind, QueueEventKind, Route, SectionRules,
};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

struct H {
    acd: Acd,
    t0: Instant,
    now: Instant,
}

fn s(x: &str) -> String {
    x.to_string()
}

fn secs(x: f64) -> Duration {
    Duration::from_secs_f64(x)
}

impl H {
    fn new(sections: &[(&str, SectionRules)], ops: &[(&str, &[&str])]) -> H {
        let sections: BTreeMap<String, SectionRules> = sections.iter().map(|(k, r)| (s(k), r.clone())).collect();
        let ops = ops.iter().map(|(k, v)| (s(k), v.iter().map(|x| s(x)).collect())).collect();
        let t0 = Instant::now();
        H { acd: Acd::new(sections, ops), t0, now: t0 }
    }

    fn one(rules: SectionRules, ops: &[&str]) -> H {
        let ops: Vec<(&str, &[&str])> = ops.iter().map(|o| (*o, &["general"][..])).collect();
        H::new(&[("general", rules)], &ops)
    }

    fn at(&mut self, t: f64) {
        self.now = self.t0 + secs(t);
    }

    fn ev(&mut self, e: Event) -> Vec<Action> {
        let out = self.acd.handle(e.clone(), self.now).unwrap_or_else(|err| panic!("{e:?} refused: {err}"));
        self.acd.check_invariants().unwrap_or_else(|m| panic!("after {e:?}: {m}"));
        out
    }

    fn refuse(&mut self, e: Event) -> AcdError {
        let before = format!("{:?}", self.acd);
        let err = self.acd.handle(e.clone(), self.now).expect_err("refused");
        assert_eq!(before, format!("{:?}", self.acd), "a refused {e:?} changed nothing");
        err
    }

    /// Advance to `t` seconds, handling every deadline on the way as the host's timer would.
    fn run_to(&mut self, t: f64) -> Vec<Action> {
        let end = self.t0 + secs(t);
        let mut out = Vec::new();
        while let Some(d) = self.acd.next_deadline().filter(|d| *d <= end) {
            self.now = d.max(self.now);
            out.extend(self.ev(Event::Tick));
        }
        self.now = end;
        out.extend(self.ev(Event::Tick));
        out
    }

    fn ready(&mut self, op: &str) -> Vec<Action> {
        let mut out = self.ev(Event::Reachable { operator: s(op), reachable: true, phone: PhoneKind::Sip });
        out.extend(self.ev(Event::Login { operator: s(op), sections: None }));
        out
    }

    fn call(&mut self, call: &str, section: &str) -> Vec<Action> {
        let arrived = self.now;
        self.ev(Event::Enqueue { call: s(call), section: s(section), arrived })
    }

    fn answer(&mut self, call: &str) -> Vec<Action> {
        let operator = self.offered(call).unwrap_or_else(|| panic!("{call} is not offered"));
        self.ev(Event::OfferAnswered { call: s(call), operator })
    }

    /// The operator whose phone rings with `call`.
    fn offered(&self, call: &str) -> Option<String> {
        self.acd
            .operators()
            .find(|(_, o)| matches!(&o.state, OperatorState::Ringing { call: c, .. } if c == call))
            .map(|(id, _)| id.clone())
    }

    fn state(&self, op: &str) -> OperatorState {
        self.acd.operator(op).unwrap().state.clone()
    }
}

fn offers(out: &[Action]) -> Vec<(String, String)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Offer { call, operator } => Some((call.clone(), operator.clone())),
            _ => None,
        })
        .collect()
}

fn cancels(out: &[Action]) -> Vec<(String, String)> {
    out.iter()
        .filter_map(|a| match a {
            Action::CancelOffer { call, operator } => Some((call.clone(), operator.clone())),
            _ => None,
        })
        .collect()
}

fn announces(out: &[Action]) -> Vec<(String, usize)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Announce { call, ahead, .. } => Some((call.clone(), *ahead)),
            _ => None,
        })
        .collect()
}

fn routes(out: &[Action]) -> Vec<(String, Route)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Route { call, route } => Some((call.clone(), route.clone())),
            _ => None,
        })
        .collect()
}

fn events(out: &[Action]) -> Vec<(String, QueueEventKind)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Record(e) => Some((e.call.clone(), e.kind.clone())),
            _ => None,
        })
        .collect()
}

fn o(call: &str, op: &str) -> (String, String) {
    (s(call), s(op))
}

#[test]
fn first_come_first_served_with_positions() {
    let mut h = H::one(SectionRules::default(), &["ada"]);
    let mut out = Vec::new();
    for (i, c) in ["c1", "c2", "c3"].iter().enumerate() {
        h.at(i as f64);
        out.extend(h.call(c, "general"));
    }
    assert_eq!(announces(&out), [(s("c1"), 0), (s("c2"), 1), (s("c3"), 2)], "each caller hears the callers ahead");
    assert!(events(&out).contains(&(s("c3"), QueueEventKind::Entered { ahead: 2 })));
    h.at(5.0);
    let out = h.ready("ada");
    assert_eq!(offers(&out), [o("c1", "ada")], "the first arrived is served first");
    for c in ["c1", "c2", "c3"] {
        h.ev(Event::AnnouncementDone { call: s(c) });
    }
    h.answer("c1");
    assert_eq!(h.acd.connected_to("c1"), Some("ada"));
    h.at(65.0);
    h.ev(Event::OperatorHangup { call: s("c1") });
    let out = h.run_to(80.0);
    assert_eq!(offers(&out), [o("c2", "ada")], "after wrap-up, the next in line");
    assert_eq!(h.acd.queue("general"), ["c2", "c3"]);
}

#[test]
fn the_operator_idle_longest_gets_the_call() {
    let mut h = H::one(SectionRules::default(), &["ada", "bob", "cy"]);
    h.at(0.0);
    h.ready("bob");
    h.at(1.0);
    h.ready("cy");
    h.at(2.0);
    h.ready("ada");
    h.at(3.0);
    assert_eq!(offers(&h.call("c1", "general")), [o("c1", "bob")]);
    assert_eq!(offers(&h.call("c2", "general")), [o("c2", "cy")]);
    h.answer("c1");
    h.ev(Event::OperatorHangup { call: s("c1") });
    // bob is in wrap-up; ada has been idle since 2 s.
    assert_eq!(offers(&h.call("c3", "general")), [o("c3", "ada")]);
}

#[test]
fn ring_timeout_passes_to_the_next_and_pauses_the_first() {
    let rules = SectionRules { ring_timeout: secs(15.0), ..Default::default() };
    let mut h = H::one(rules, &["ada", "bob"]);
    h.ready("ada");
    h.at(1.0);
    h.ready("bob");
    h.at(2.0);
    assert_eq!(offers(&h.call("c1", "general")), [o("c1", "ada")]);
    assert!(matches!(h.state("ada"), OperatorState::Ringing { .. }));
    let out = h.run_to(16.9);
    assert!(offers(&out).is_empty(), "still ringing before the timeout");
    let out = h.run_to(17.0);
    assert_eq!(cancels(&out), [o("c1", "ada")]);
    assert_eq!(offers(&out), [o("c1", "bob")]);
    assert!(matches!(h.state("ada"), OperatorState::Paused { reason, .. } if reason == NO_ANSWER));
    assert!(events(&out).iter().any(|(_, k)| matches!(k, QueueEventKind::NotAnswered { operator, reason } if operator == "ada" && reason == "ring timeout")));
    // bob never answers either: the caller waits, nobody left to try.
    let out = h.run_to(40.0);
    assert_eq!(cancels(&out), [o("c1", "bob")]);
    assert!(offers(&out).is_empty());
    assert_eq!(h.acd.queue("general"), ["c1"], "the caller keeps their place");
    let out = h.ev(Event::Ready { operator: s("ada") });
    assert_eq!(offers(&out), [o("c1", "ada")]);
}

#[test]
fn wrap_up_then_available_and_pauses() {
    let rules = SectionRules { wrap_up: secs(10.0), ..Default::default() };
    let mut h = H::one(rules, &["ada"]);
    h.ready("ada");
    h.call("c1", "general");
    h.answer("c1");
    h.at(30.0);
    h.ev(Event::OperatorHangup { call: s("c1") });
    assert_eq!(h.state("ada"), OperatorState::WrapUp { until: h.t0 + secs(40.0) });
    h.at(31.0);
    assert!(offers(&h.call("c2", "general")).is_empty(), "no call during wrap-up");
    let out = h.run_to(40.0);
    assert_eq!(offers(&out), [o("c2", "ada")]);
    h.answer("c2");
    // A pause asked for during the call starts when it ends, without wrap-up.
    h.ev(Event::Pause { operator: s("ada"), reason: s("break") });
    assert!(matches!(h.state("ada"), OperatorState::OnCall { .. }));
    h.at(50.0);
    h.ev(Event::CallerHangup { call: s("c2") });
    assert!(matches!(h.state("ada"), OperatorState::Paused { reason, .. } if reason == "break"));
    h.call("c3", "general");
    assert!(offers(&h.run_to(100.0)).is_empty(), "paused operators get no call");
    let out = h.ev(Event::Ready { operator: s("ada") });
    assert_eq!(offers(&out), [o("c3", "ada")]);
}

#[test]
fn ready_ends_wrap_up_early() {
    let mut h = H::one(SectionRules { wrap_up: secs(60.0), ..Default::default() }, &["ada"]);
    h.ready("ada");
    h.call("c1", "general");
    h.answer("c1");
    h.ev(Event::OperatorHangup { call: s("c1") });
    h.call("c2", "general");
    let out = h.ev(Event::Ready { operator: s("ada") });
    assert_eq!(offers(&out), [o("c2", "ada")]);
}

#[test]
fn operators_take_their_sections_in_priority_order() {
    let mut h = H::new(
        &[("general", SectionRules::default()), ("pensions", SectionRules::default())],
        &[("ada", &["pensions", "general"]), ("bob", &["general"])],
    );
    h.at(0.0);
    h.call("g1", "general");
    h.at(1.0);
    h.call("p1", "pensions");
    h.at(2.0);
    let out = h.ready("ada");
    assert_eq!(offers(&out), [o("p1", "ada")], "pensions first for ada, though g1 waited longer");
    let out = h.ready("bob");
    assert_eq!(offers(&out), [o("g1", "bob")]);
    // Logged in to general only: pensions callers are not hers now.
    h.answer("p1");
    h.ev(Event::OperatorHangup { call: s("p1") });
    h.ev(Event::Logout { operator: s("ada") });
    h.ev(Event::Login { operator: s("ada"), sections: Some(vec![s("general")]) });
    h.call("p2", "pensions");
    let out = h.call("g2", "general");
    assert_eq!(offers(&out), [o("g2", "ada")]);
    assert_eq!(h.acd.queue("pensions"), ["p2"]);
}

#[test]
fn a_transferred_call_keeps_its_arrival_time() {
    let mut h = H::new(
        &[("general", SectionRules::default()), ("pensions", SectionRules::default())],
        &[("ada", &["general"]), ("bob", &["pensions"])],
    );
    h.ready("ada");
    h.at(0.0);
    h.call("x", "general");
    h.answer("x");
    h.at(10.0);
    h.call("y", "pensions");
    h.at(20.0);
    h.call("z", "pensions");
    h.at(30.0);
    let out = h.ev(Event::Transfer { call: s("x"), to: Route::Section(s("pensions")) });
    assert!(events(&out).contains(&(s("x"), QueueEventKind::Entered { ahead: 0 })), "{out:?}");
    assert_eq!(h.acd.queue("pensions"), ["x", "y", "z"]);
    assert!(matches!(h.state("ada"), OperatorState::WrapUp { .. }));
    let out = h.ready("bob");
    assert_eq!(offers(&out), [o("x", "bob")]);
    // Transfers to a node leave the queues; to an unknown section are refused.
    h.answer("x");
    let err = h.refuse(Event::Transfer { call: s("x"), to: Route::Section(s("nowhere")) });
    assert_eq!(err, AcdError::UnknownSection(s("nowhere")));
    let out = h.ev(Event::Transfer { call: s("x"), to: Route::Node(s("main_menu")) });
    assert_eq!(routes(&out), [(s("x"), Route::Node(s("main_menu")))]);
    assert_eq!(h.acd.connected_to("x"), None);
}

#[test]
fn a_full_queue_overflows_and_limits_chain() {
    let general =
        SectionRules { max_queue: Some(2), when_full: Some(Route::Section(s("overflow"))), ..Default::default() };
    let overflow =
        SectionRules { max_queue: Some(1), when_full: Some(Route::Message(s("busy"))), ..Default::default() };
    let mut h = H::new(&[("general", general), ("overflow", overflow)], &[("ada", &["general", "overflow"])]);
    h.ev(Event::Login { operator: s("ada"), sections: None });
    h.call("c1", "general");
    h.call("c2", "general");
    let out = h.call("c3", "general");
    assert!(
        events(&out).contains(&(s("c3"), QueueEventKind::Overflowed { reason: s("full"), to: s("section:overflow") }))
    );
    assert_eq!(h.acd.queue("overflow"), ["c3"]);
    let out = h.call("c4", "general");
    assert_eq!(routes(&out), [(s("c4"), Route::Message(s("busy")))], "both full: the polite message");
    assert_eq!(h.acd.stats(h.now)[0].overflowed, 2);
}

#[test]
fn no_operator_logged_in_with_a_phone_routes_callers() {
    let rules = SectionRules { when_no_operators: Some(Route::Node(s("closed"))), ..Default::default() };
    let mut h = H::one(rules, &["ada"]);
    let out = h.call("c1", "general");
    assert_eq!(routes(&out), [(s("c1"), Route::Node(s("closed")))]);
    // Logged in without a registered phone does not count: nobody could take the call.
    h.ev(Event::Login { operator: s("ada"), sections: None });
    assert_eq!(routes(&h.call("c2", "general")), [(s("c2"), Route::Node(s("closed")))]);
    // Logged in with a phone, even paused, counts: callers wait.
    h.ev(Event::Reachable { operator: s("ada"), reachable: true, phone: PhoneKind::Sip });
    h.ev(Event::Pause { operator: s("ada"), reason: s("meeting") });
    assert!(routes(&h.call("c3", "general")).is_empty());
    // The last operator's phone goes away: the waiting callers are routed.
    let out = h.ev(Event::Reachable { operator: s("ada"), reachable: false, phone: PhoneKind::Sip });
    assert_eq!(routes(&out), [(s("c3"), Route::Node(s("closed")))]);
    // The same when the last operator logs out.
    h.ev(Event::Reachable { operator: s("ada"), reachable: true, phone: PhoneKind::Sip });
    assert!(routes(&h.call("c4", "general")).is_empty());
    let out = h.ev(Event::Logout { operator: s("ada") });
    assert_eq!(routes(&out), [(s("c4"), Route::Node(s("closed")))]);
    assert!(h.acd.queue("general").is_empty());
}

#[test]
fn an_operator_is_reachable_while_either_phone_is() {
    let rules = SectionRules { when_no_operators: Some(Route::Node(s("closed"))), ..Default::default() };
    let mut h = H::one(rules, &["ada"]);
    h.ev(Event::Login { operator: s("ada"), sections: None });
    h.ev(Event::Reachable { operator: s("ada"), reachable: true, phone: PhoneKind::Sip });
    h.ev(Event::Reachable { operator: s("ada"), reachable: true, phone: PhoneKind::Browser });
    // The desk phone unregisters: the console's phone still takes calls.
    h.ev(Event::Reachable { operator: s("ada"), reachable: false, phone: PhoneKind::Sip });
    h.ev(Event::Pause { operator: s("ada"), reason: s("meeting") });
    assert!(routes(&h.call("c1", "general")).is_empty(), "the caller waits for ada");
    // The console's connection is lost too: nobody can take the call.
    let out = h.ev(Event::Reachable { operator: s("ada"), reachable: false, phone: PhoneKind::Browser });
    assert_eq!(routes(&out), [(s("c1"), Route::Node(s("closed")))]);
}

#[test]
fn maximum_wait_times_out_but_not_while_ringing() {
    let rules = SectionRules {
        max_wait: Some(secs(60.0)),
        after_max_wait: Some(Route::Message(s("sorry"))),
        ring_timeout: secs(20.0),
        ..Default::default()
    };
    let mut h = H::one(rules, &["ada"]);
    h.ev(Event::Login { operator: s("ada"), sections: None });
    h.call("c1", "general");
    h.at(10.0);
    h.call("c2", "general");
    h.at(50.0);
    h.ev(Event::Reachable { operator: s("ada"), reachable: true, phone: PhoneKind::Sip });
    // c1 rings from 50 s to 70 s: past its 60 s, but it is being connected.
    assert!(routes(&h.run_to(69.9)).is_empty());
    // At 70 s its ring times out, and it has waited too long: it leaves with c2 (60 s at 70 s).
    let out = h.run_to(70.0);
    assert_eq!(routes(&out), [(s("c1"), Route::Message(s("sorry"))), (s("c2"), Route::Message(s("sorry")))]);
    assert!(events(&out).contains(&(s("c2"), QueueEventKind::TimedOut { wait_ms: 60_000, to: s("message:sorry") })));
    assert_eq!(h.acd.stats(h.now)[0].timed_out, 2);
}

#[test]
fn a_caller_leaving_at_each_instant_of_the_hand_over() {
    // Waiting: abandoned with the wait.
    let mut h = H::one(SectionRules::default(), &["ada", "bob"]);
    h.call("c1", "general");
    h.at(7.0);
    let out = h.ev(Event::CallerHangup { call: s("c1") });
    assert_eq!(events(&out), [(s("c1"), QueueEventKind::Abandoned { wait_ms: 7000 })]);
    assert_eq!(out.iter().filter(|a| matches!(a, Action::StopAnnouncement { .. })).count(), 1, "its announcement cut");
    // Ringing: the offer is cancelled and the operator keeps their turn.
    h.at(8.0);
    h.ready("ada");
    h.at(9.0);
    h.ready("bob");
    h.call("c2", "general");
    let out = h.ev(Event::CallerHangup { call: s("c2") });
    assert_eq!(cancels(&out), [o("c2", "ada")]);
    assert_eq!(h.state("ada"), OperatorState::Available { since: h.t0 + secs(8.0) });
    assert_eq!(offers(&h.call("c3", "general")), [o("c3", "ada")], "still the longest idle");
    // Answered at the same instant as the hang-up arrives: the hang-up ends a connected call.
    h.answer("c3");
    let out = h.ev(Event::CallerHangup { call: s("c3") });
    assert!(events(&out).iter().any(|(_, k)| matches!(k, QueueEventKind::Ended { .. })));
    assert!(matches!(h.state("ada"), OperatorState::WrapUp { .. }));
    // A late answer or failure for a call that is gone is refused, and changes nothing.
    assert_eq!(h.refuse(Event::OfferAnswered { call: s("c2"), operator: s("ada") }), AcdError::UnknownCall(s("c2")));
    assert_eq!(h.refuse(Event::CallerHangup { call: s("c2") }), AcdError::UnknownCall(s("c2")));
}

#[test]
fn an_operator_declining_or_logging_out_while_ringing() {
    let mut h = H::one(SectionRules::default(), &["ada", "bob"]);
    h.ready("ada");
    h.at(1.0);
    h.ready("bob");
    h.call("c1", "general");
    // A failure reported for another operator (a stale offer) changes nothing.
    assert_eq!(
        h.refuse(Event::OfferFailed { call: s("c1"), operator: s("bob"), reason: s("busy") }),
        AcdError::UnknownCall(s("c1"))
    );
    let out = h.ev(Event::OfferFailed { call: s("c1"), operator: s("ada"), reason: s("declined") });
    assert_eq!(offers(&out), [o("c1", "bob")]);
    assert!(matches!(h.state("ada"), OperatorState::Paused { reason, .. } if reason == "declined"));
    let out = h.ev(Event::Logout { operator: s("bob") });
    assert_eq!(cancels(&out), [o("c1", "bob")]);
    assert_eq!(h.state("bob"), OperatorState::LoggedOut);
    assert_eq!(h.acd.queue("general"), ["c1"]);
    // Logging out during a call is refused.
    h.ev(Event::Ready { operator: s("ada") });
    h.answer("c1");
    assert_eq!(h.refuse(Event::Logout { operator: s("ada") }), AcdError::Busy(s("ada")));
}

#[test]
fn unreachable_operators_are_never_offered() {
    let mut h = H::one(SectionRules::default(), &["ada"]);
    h.ev(Event::Login { operator: s("ada"), sections: None });
    assert!(offers(&h.call("c1", "general")).is_empty());
    let out = h.ev(Event::Reachable { operator: s("ada"), reachable: true, phone: PhoneKind::Sip });
    assert_eq!(offers(&out), [o("c1", "ada")]);
}

#[test]
fn announcements_follow_position_changes_at_most_every_interval_and_never_overlap() {
    let rules = SectionRules {
        announce_min_interval: secs(15.0),
        announce_every: secs(60.0),
        wrap_up: Duration::ZERO,
        ..Default::default()
    };
    let mut h = H::one(rules, &["ada"]);
    h.call("c1", "general");
    h.call("c2", "general");
    h.call("c3", "general");
    // Nobody finished hearing their first announcement: nothing new while it plays.
    assert!(announces(&h.run_to(100.0)).is_empty(), "never overlapping");
    // Periodic: 60 s after the last one (at 0 s), so each is due as soon as its first ends.
    let mut out = Vec::new();
    for c in ["c1", "c2", "c3"] {
        out.extend(h.ev(Event::AnnouncementDone { call: s(c) }));
    }
    assert_eq!(announces(&out), [(s("c1"), 0), (s("c2"), 1), (s("c3"), 2)]);
    for c in ["c1", "c2", "c3"] {
        h.ev(Event::AnnouncementDone { call: s(c) });
    }
    // c1 is connected at 105 s: c2 and c3 move up; announced at 115 s (15 s after 100), not before.
    h.at(105.0);
    h.ready("ada");
    let out = h.answer("c1");
    assert!(announces(&out).is_empty());
    assert!(announces(&h.run_to(114.9)).is_empty(), "not before the minimum interval");
    let out = h.run_to(115.0);
    assert_eq!(announces(&out), [(s("c2"), 0), (s("c3"), 1)]);
    // A caller being offered hears no announcement, and one playing is cut.
    let out = h.ev(Event::OperatorHangup { call: s("c1") });
    assert_eq!(offers(&out), [o("c2", "ada")], "no wrap-up: at once");
    assert!(out.contains(&Action::StopAnnouncement { call: s("c2") }));
    h.ev(Event::AnnouncementDone { call: s("c3") });
    assert!(announces(&h.run_to(129.9)).iter().all(|(c, _)| c != "c2"), "not while ringing");
    // The ring times out at 130 s: waiting again at the same place, so the next announcement
    // is the periodic one, 60 s after the last (115 s).
    assert!(announces(&h.run_to(174.9)).iter().all(|(c, _)| c != "c2"));
    assert!(announces(&h.run_to(175.0)).contains(&(s("c2"), 0)));
}

#[test]
fn estimated_wait_from_recent_answers() {
    let rules = SectionRules { announce_wait: true, wrap_up: Duration::ZERO, ..Default::default() };
    let mut h = H::one(rules, &["ada"]);
    h.ready("ada");
    // Answers every 30 s.
    for i in 0..4 {
        h.at(30.0 * i as f64);
        let c = format!("a{i}");
        h.call(&c, "general");
        h.answer(&c);
        h.ev(Event::OperatorHangup { call: c });
        h.ev(Event::Pause { operator: s("ada"), reason: s("x") });
        h.ev(Event::Ready { operator: s("ada") });
    }
    h.ev(Event::Pause { operator: s("ada"), reason: s("x") });
    h.call("w1", "general");
    let out = h.call("w2", "general");
    let wait = out.iter().find_map(|a| match a {
        Action::Announce { wait, .. } => *wait,
        _ => None,
    });
    assert_eq!(wait, Some(secs(60.0)), "two callers up to w2, 30 s each");
}

#[test]
fn the_leave_key_takes_the_caller_out() {
    let rules = SectionRules { leave: Some(('9', Route::Node(s("faq")))), ..Default::default() };
    let mut h = H::one(rules, &["ada"]);
    h.call("c1", "general");
    assert!(routes(&h.ev(Event::Key { call: s("c1"), key: '5' })).is_empty());
    let out = h.ev(Event::Key { call: s("c1"), key: '9' });
    assert_eq!(routes(&out), [(s("c1"), Route::Node(s("faq")))]);
    assert!(events(&out).contains(&(s("c1"), QueueEventKind::Left { key: '9', to: s("node:faq") })));
}

#[test]
fn refused_commands_say_what_is_wrong() {
    let mut h = H::new(
        &[("general", SectionRules::default()), ("pensions", SectionRules::default())],
        &[("ada", &["general"])],
    );
    assert_eq!(h.refuse(Event::Login { operator: s("zed"), sections: None }), AcdError::UnknownOperator(s("zed")));
    assert_eq!(
        h.refuse(Event::Login { operator: s("ada"), sections: Some(vec![s("pensions")]) }),
        AcdError::NotSkilled { operator: s("ada"), section: s("pensions") }
    );
    assert_eq!(
        h.refuse(Event::Login { operator: s("ada"), sections: Some(vec![s("x")]) }),
        AcdError::UnknownSection(s("x"))
    );
    assert_eq!(h.refuse(Event::Pause { operator: s("ada"), reason: s("x") }), AcdError::LoggedOut(s("ada")));
    assert_eq!(
        h.refuse(Event::Enqueue { call: s("c"), section: s("x"), arrived: h.now }),
        AcdError::UnknownSection(s("x"))
    );
    h.call("c", "general");
    assert_eq!(
        h.refuse(Event::Enqueue { call: s("c"), section: s("general"), arrived: h.now }),
        AcdError::AlreadyQueued(s("c"))
    );
    assert_eq!(h.refuse(Event::OperatorHangup { call: s("c") }), AcdError::NotConnected(s("c")));
}

#[test]
fn service_level_and_stats() {
    let rules = SectionRules { service_level: secs(20.0), wrap_up: Duration::ZERO, ..Default::default() };
    let mut h = H::one(rules, &["ada"]);
    h.call("fast", "general");
    h.call("slow", "general");
    h.call("gone", "general");
    h.at(10.0);
    h.ready("ada");
    h.answer("fast");
    h.at(12.0);
    h.ev(Event::CallerHangup { call: s("gone") });
    h.ev(Event::OperatorHangup { call: s("fast") });
    h.at(40.0);
    h.answer("slow");
    let st = &h.acd.stats(h.now)[0];
    assert_eq!((st.entered, st.answered, st.abandoned, st.answered_in_time), (3, 2, 1, 1));
    assert!((st.service_level_pct.unwrap() - 100.0 / 3.0).abs() < 1e-9);
    assert_eq!(st.operators.get("on_call"), Some(&1));
    h.call("new", "general");
    h.at(45.0);
    let st = &h.acd.stats(h.now)[0];
    assert_eq!((st.waiting, st.longest_wait_s), (1, 5));
}

/// Random sequences of every event, with invariants after each: nobody is lost, no operator is
/// stuck ringing or on a call that is not theirs, queues stay in arrival order.
#[test]
fn a_takeover_brings_callers_back_in_arrival_order_and_offers_nothing_while_gathering() {
    let mut h = H::one(SectionRules::default(), &["ada", "bob"]);
    h.ready("ada");
    h.ready("bob");
    h.at(100.0);
    // bob was talking when the distribution moved: he is on that call again.
    let since = h.t0 + secs(90.0);
    h.ev(Event::Resume { call: s("t"), section: s("general"), operator: s("bob"), arrived: since, since });
    assert!(matches!(h.state("bob"), OperatorState::OnCall { call, .. } if call == "t"));
    let busy = h.refuse(Event::Resume {
        call: s("u"),
        section: s("general"),
        operator: s("bob"),
        arrived: h.now,
        since: h.now,
    });
    assert!(matches!(busy, AcdError::Busy(_)), "one call per operator: {busy:?}");
    // Callers come back from several nodes, not in their order; a new one arrives meanwhile.
    h.ev(Event::Gather { until: h.t0 + secs(103.0) });
    let (c1, c2) = (h.t0 + secs(80.0), h.t0 + secs(85.0));
    let out = h.ev(Event::Restore { call: s("c2"), section: s("general"), arrived: c2, entered: c2 });
    assert!(events(&out).is_empty(), "a caller brought back is not a new arrival: {out:?}");
    h.at(101.0);
    h.call("c3", "general");
    h.ev(Event::Restore { call: s("c1"), section: s("general"), arrived: c1, entered: c1 });
    assert_eq!(h.acd.queue("general"), [s("c1"), s("c2"), s("c3")], "in their order of arrival");
    let out = h.run_to(102.9);
    assert!(
        !out.iter().any(|a| matches!(a, Action::Offer { .. } | Action::Announce { .. })),
        "nothing offered or announced while gathering: {out:?}"
    );
    assert_eq!(h.offered("c1"), None);
    let out = h.run_to(103.0);
    assert!(out.contains(&Action::Offer { call: s("c1"), operator: s("ada") }), "{out:?}");
    // A gathering ended early (every node linked) lets the queue move at once.
    h.ev(Event::Gather { until: h.now + secs(60.0) });
    h.answer("c1");
    h.ev(Event::OperatorHangup { call: s("t") });
    h.ev(Event::Ready { operator: s("bob") });
    assert_eq!(h.offered("c2"), None, "gathering");
    let out = h.ev(Event::Gather { until: h.now });
    assert!(out.contains(&Action::Offer { call: s("c2"), operator: s("bob") }), "{out:?}");
}

#[test]
fn random_event_sequences_keep_the_invariants() {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let sections = ["general", "pensions", "overflow"];
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 0..200u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let rules = |i: usize| SectionRules {
            ring_timeout: secs(5.0 + i as f64),
            wrap_up: secs(i as f64 * 3.0),
            max_queue: (i == 1).then_some(3),
            when_full: (i == 1).then(|| Route::Section(s("overflow"))),
            max_wait: (i == 2).then(|| secs(40.0)),
            after_max_wait: (i == 2).then(|| Route::Section(s("general"))),
            when_no_operators: (i == 0).then(|| Route::Node(s("closed"))),
            leave: Some(('9', Route::Section(s("pensions")))),
            ..Default::default()
        };
        let mut h = H::new(
            &[(sections[0], rules(0)), (sections[1], rules(1)), (sections[2], rules(2))],
            &[("a", &["general", "pensions"]), ("b", &["pensions"]), ("c", &["overflow", "general"])],
        );
        let mut t = 0.0;
        let mut next_call = 0;
        let mut calls: Vec<String> = Vec::new();
        for _ in 0..300 {
            t += rng.random_range(0.0..4.0);
            h.at(t);
            let op = ["a", "b", "c"][rng.random_range(0..3)].to_string();
            let call = calls.get(rng.random_range(0..calls.len().max(1))).cloned().unwrap_or_default();
            // Mostly act on calls in the state the event is for, sometimes on any call.
            let pick = |rng: &mut StdRng, want: &str| {
                let mut of_state: Vec<String> = h
                    .acd
                    .operators()
                    .filter_map(|(_, o)| match &o.state {
                        OperatorState::Ringing { call, .. } if want == "ringing" => Some(call.clone()),
                        OperatorState::OnCall { call, .. } if want == "on_call" => Some(call.clone()),
                        _ => None,
                    })
                    .collect();
                if of_state.is_empty() || rng.random_bool(0.1) {
                    of_state.push(call.clone());
                }
                of_state[rng.random_range(0..of_state.len())].clone()
            };
            let e = match rng.random_range(0..17) {
                0..=2 => {
                    next_call += 1;
                    calls.push(format!("k{next_call}"));
                    Event::Enqueue {
                        call: format!("k{next_call}"),
                        section: s(sections[rng.random_range(0..3)]),
                        arrived: h.now,
                    }
                }
                3 => Event::CallerHangup { call },
                4 => {
                    let call = pick(&mut rng, "ringing");
                    let operator = h.offered(&call).unwrap_or(op);
                    Event::OfferAnswered { call, operator }
                }
                5 => {
                    let call = pick(&mut rng, "ringing");
                    let operator = if rng.random_bool(0.9) { h.offered(&call).unwrap_or(op) } else { op };
                    Event::OfferFailed { call, operator, reason: s("busy") }
                }
                6 => Event::OperatorHangup { call: pick(&mut rng, "on_call") },
                7 => Event::Transfer {
                    call: pick(&mut rng, "on_call"),
                    to: Route::Section(s(sections[rng.random_range(0..3)])),
                },
                8 => Event::Login { operator: op, sections: None },
                9 => Event::Logout { operator: op },
                10 => Event::Pause { operator: op, reason: s("p") },
                11 => Event::Ready { operator: op },
                12 => Event::Reachable {
                    operator: op,
                    reachable: rng.random_bool(0.8),
                    phone: if rng.random_bool(0.5) { PhoneKind::Sip } else { PhoneKind::Browser },
                },
                // A takeover: callers brought back from before, waiting or talking.
                13 => {
                    next_call += 1;
                    calls.push(format!("k{next_call}"));
                    let ago = secs(rng.random_range(0.0..60.0));
                    let arrived = h.now.checked_sub(ago).unwrap_or(h.t0);
                    let section = s(sections[rng.random_range(0..3)]);
                    Event::Restore { call: format!("k{next_call}"), section, arrived, entered: arrived }
                }
                14 => {
                    next_call += 1;
                    calls.push(format!("k{next_call}"));
                    let section = s(sections[rng.random_range(0..3)]);
                    Event::Resume { call: format!("k{next_call}"), section, operator: op, arrived: h.now, since: h.now }
                }
                15 => Event::Gather { until: h.now + secs(rng.random_range(0.0..3.0)) },
                _ => Event::Key { call, key: '9' },
            };
            // Refusals are fine (a call that is gone); the state must stay consistent either way.
            let mut out = h.acd.handle(e.clone(), h.now).unwrap_or_default();
            h.acd.check_invariants().unwrap_or_else(|m| panic!("seed {seed}, after {e:?}: {m}"));
            if rng.random_bool(0.3) {
                out.extend(h.run_to(t + rng.random_range(0.0..10.0)));
                t = (h.now - h.t0).as_secs_f64();
            }
            for (_, kind) in events(&out) {
                let name = serde_json::to_value(&kind).unwrap()["event"].as_str().unwrap().to_string();
                *seen.entry(name).or_insert(0) += 1;
            }
        }
    }
    // The sequences reach every kind of queue event, so the invariants were tested in all of them.
    for kind in [
        "entered",
        "announced",
        "offered",
        "not_answered",
        "answered",
        "abandoned",
        "timed_out",
        "overflowed",
        "left",
        "transferred",
        "ended",
    ] {
        assert!(seen.get(kind).copied().unwrap_or(0) >= 20, "{kind}: {seen:?}");
    }
}

/// The shipped configuration's `[queue]` defaults and per-section settings become the rules.
#[test]
fn shipped_configuration_gives_each_section_its_rules() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config/centralino.toml");
    let config = centralino::config::load(&path).expect("the shipped configuration loads");
    let rules = centralino::acd::rules::section_rules(&config);
    let pensions = &rules["pensions"];
    assert_eq!(pensions.max_queue, Some(300));
    assert_eq!(pensions.when_full, Some(Route::Section(s("general"))));
    assert_eq!(pensions.leave, Some(('9', Route::Node(s("pensions_menu")))));
    assert_eq!(pensions.max_wait, Some(secs(1200.0)), "from [queue]");
    assert_eq!(pensions.after_max_wait, Some(Route::Message(s("queue_timeout"))));
    assert_eq!(pensions.when_no_operators, Some(Route::Node(s("no_operator_now"))));
    assert_eq!((pensions.ring_timeout, pensions.wrap_up), (secs(15.0), secs(10.0)));
    assert!(pensions.announce_wait);
    assert_eq!(rules["general"].max_queue, None);
    assert_eq!(rules["general"].leave, None);
    let skills = config.operator_skills();
    assert_eq!(skills["mrossi"], [s("pensions"), s("general")]);
    // The distribution accepts them as they are.
    let acd = Acd::new(rules, skills);
    acd.check_invariants().unwrap();
}

#[test]
fn a_reload_changes_sections_and_operators_without_losing_the_queues() {
    let mut h = H::new(
        &[("general", SectionRules::default()), ("pensions", SectionRules::default())],
        &[("anna", &["general"]), ("bruno", &["pensions", "general"]), ("carla", &["pensions"])],
    );
    h.ready("anna");
    h.ready("bruno");
    h.ready("carla");
    h.call("c1", "pensions");
    h.call("c2", "pensions");
    h.answer("c1");
    h.answer("c2");
    h.call("c3", "general");
    let c3_with = h.offered("c3").expect("anna rings");
    assert_eq!(c3_with, "anna");
    let carla_call = ["c1", "c2"].into_iter().find(|c| h.acd.connected_to(c) == Some("carla")).expect("carla talks");

    // The reload: pensions gets a queue limit, `complaints` is new, carla is removed (in a
    // call), anna now serves only complaints (she is ringing), dario is new.
    let limited =
        SectionRules { max_queue: Some(0), when_full: Some(Route::Node(s("full"))), ..SectionRules::default() };
    let sections: BTreeMap<String, SectionRules> =
        [(s("general"), SectionRules::default()), (s("pensions"), limited), (s("complaints"), SectionRules::default())]
            .into();
    let operators: BTreeMap<String, Vec<String>> = [
        (s("anna"), vec![s("complaints")]),
        (s("bruno"), vec![s("pensions"), s("general")]),
        (s("dario"), vec![s("general")]),
    ]
    .into();
    h.at(1.0);
    h.ev(Event::Reconfigure { sections, operators });
    assert_eq!(h.state("dario"), OperatorState::LoggedOut, "a new operator starts logged out");
    assert!(matches!(h.state("carla"), OperatorState::OnCall { .. }), "carla finishes her call");
    assert_eq!(h.offered("c3").as_deref(), Some("anna"), "anna's ringing call is not pulled away");
    assert_eq!(h.acd.queue("general"), [s("c3")], "the waiting caller keeps their place");

    // The new rule applies at once: the pensions queue now takes nobody.
    let out = h.call("c4", "pensions");
    assert!(
        out.iter().any(|a| matches!(a, Action::Record(e) if matches!(e.kind, QueueEventKind::Overflowed { .. }))),
        "{out:?}"
    );
    // The new section takes callers.
    h.call("c5", "complaints");
    assert_eq!(h.acd.queue("complaints"), [s("c5")]);

    // anna answers, then ends her call: no section left from before, she is logged out.
    h.answer("c3");
    h.ev(Event::OperatorHangup { call: s("c3") });
    assert_eq!(h.state("anna"), OperatorState::LoggedOut);
    // carla ends hers: logged out and gone.
    h.ev(Event::OperatorHangup { call: s(carla_call) });
    assert!(h.acd.operator("carla").is_none(), "a removed operator leaves after the call");
    assert!(matches!(h.refuse(Event::Login { operator: s("carla"), sections: None }), AcdError::UnknownOperator(_)));
    // dario logs in and takes general callers.
    h.ready("dario");
    h.call("c6", "general");
    assert_eq!(h.offered("c6").as_deref(), Some("dario"));
}
