//! Callback requests in the distribution (`centralino::acd`), event by event: the request keeps
//! the caller's place, positions count it, the operator is kept for it at its turn and freed at
//! once when the attempt fails, retries and giving up, refusals (same number, too often, section
//! full), attempts that take too long, closing hours, the offer's conditions; and random event
//! sequences with requests, attempts and cancellations keeping every invariant.

use centralino::acd::{
    Acd, Action, CallbackOffer, CallbackRefusal, CallbackRules, Event, OperatorState, PhoneKind, SectionRules,
};
use centralino::vocabulary::{CallPop, CallbackNumber, NumberingPlan};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fn s(x: &str) -> String {
    x.to_string()
}

fn secs(x: f64) -> Duration {
    Duration::from_secs_f64(x)
}

fn rules(offer: CallbackOffer) -> SectionRules {
    SectionRules {
        wrap_up: Duration::ZERO,
        callback: Some(CallbackRules {
            offer,
            key: '5',
            attempts: 2,
            retry: secs(60.0),
            attempt_timeout: secs(90.0),
            cancel_at_closing: false,
            per_section: 3,
            per_caller_per_day: 2,
        }),
        ..Default::default()
    }
}

fn number(n: &str) -> CallbackNumber {
    NumberingPlan::default().check(n).expect("a valid number")
}

fn facts(call: &str) -> Box<CallPop> {
    Box::new(CallPop {
        operator: String::new(),
        call_id: s(call),
        origin: Default::default(),
        section: s("general"),
        path: vec![s("main_menu")],
        keys: s("0"),
        language: s("it"),
        arrived: chrono::Utc::now(),
        waited_s: 0,
        tree: s("t"),
        readback_node: None,
        called_back: None,
    })
}

struct H {
    acd: Acd,
    t0: Instant,
    now: Instant,
}

impl H {
    fn new(rules: SectionRules, ops: &[&str]) -> H {
        let sections = BTreeMap::from([(s("general"), rules)]);
        let ops = ops.iter().map(|o| (s(o), vec![s("general")])).collect();
        let t0 = Instant::now();
        H { acd: Acd::new(sections, ops), t0, now: t0 }
    }

    fn at(&mut self, t: f64) {
        self.now = self.t0 + secs(t);
    }

    fn ev(&mut self, e: Event) -> Vec<Action> {
        let out = self.acd.handle(e.clone(), self.now).unwrap_or_else(|err| panic!("{e:?} refused: {err}"));
        self.acd.check_invariants().unwrap_or_else(|m| panic!("after {e:?}: {m}"));
        out
    }

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
        self.ev(Event::Reachable { operator: s(op), reachable: true, phone: PhoneKind::Sip });
        self.ev(Event::Login { operator: s(op), sections: None })
    }

    fn call(&mut self, call: &str) -> Vec<Action> {
        let arrived = self.now;
        self.ev(Event::Enqueue { call: s(call), section: s("general"), arrived })
    }

    fn request(&mut self, call: &str, n: &str, caller: &str) -> Vec<Action> {
        let e = Event::RequestCallback { call: s(call), number: number(n), caller: s(caller), facts: facts(call) };
        let out = self.ev(e);
        // The line that asked hangs up: the request keeps the place.
        self.ev(Event::CallerHangup { call: s(call) });
        out
    }

    fn state(&self, op: &str) -> OperatorState {
        self.acd.operator(op).unwrap().state.clone()
    }
}

fn dialled(out: &[Action]) -> Vec<(String, String, u32)> {
    out.iter()
        .filter_map(|a| match a {
            Action::CallBack(c) => Some((c.call.clone(), c.operator.clone(), c.attempt)),
            _ => None,
        })
        .collect()
}

fn offers(out: &[Action]) -> Vec<(String, String)> {
    out.iter()
        .filter_map(|a| match a {
            Action::Offer { call, operator } => Some((call.clone(), operator.clone())),
            _ => None,
        })
        .collect()
}

fn refusal(out: &[Action]) -> Option<CallbackRefusal> {
    out.iter().find_map(|a| match a {
        Action::CallbackRefused { reason, .. } => Some(*reason),
        _ => None,
    })
}

fn kinds(out: &[Action]) -> Vec<String> {
    out.iter()
        .filter_map(|a| match a {
            Action::Record(e) => Some(serde_json::to_value(&e.kind).unwrap()["event"].as_str().unwrap().to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_request_keeps_its_place_and_is_called_back_at_its_turn_with_the_operator_kept() {
    let mut h = H::new(rules(CallbackOffer::Always), &["op"]);
    h.call("a");
    h.at(1.0);
    h.call("b");
    h.at(2.0);
    h.call("c");
    h.at(3.0);
    let out = h.request("b", "3331234567", "+39333111");
    assert!(out.iter().any(|a| matches!(a, Action::CallbackAccepted { ahead: 1, .. })), "{out:?}");
    assert!(out.iter().any(|a| matches!(a, Action::KeepCallback(p) if p.call == "b" && p.attempts == 0)));
    // The queue still counts the request: c has two ahead.
    assert_eq!(h.acd.queue("general"), ["a", "b", "c"]);
    assert_eq!(h.acd.callbacks("general").collect::<Vec<_>>(), ["b"]);
    let stats = &h.acd.stats(h.now)[0];
    assert_eq!((stats.waiting, stats.callbacks), (2, 1));
    // The operator logs in: a first, then b's turn: the operator is kept and b is called.
    h.at(4.0);
    assert_eq!(offers(&h.ready("op")), [(s("a"), s("op"))]);
    h.ev(Event::OfferAnswered { call: s("a"), operator: s("op") });
    h.at(10.0);
    let out = h.ev(Event::OperatorHangup { call: s("a") });
    assert_eq!(dialled(&out), [(s("b"), s("op"), 1)], "b's turn, before c: {out:?}");
    assert!(offers(&out).is_empty(), "c is not offered meanwhile");
    assert!(matches!(h.state("op"), OperatorState::Reserved { call, .. } if call == "b"));
    // The citizen answers and presses 1: the kept operator's phone rings with them.
    h.at(20.0);
    let out = h.ev(Event::CallbackAnswered { call: s("b") });
    assert_eq!(offers(&out), [(s("b"), s("op"))]);
    assert!(out.iter().any(|a| matches!(a, Action::DropCallback { call, gave_up: None } if call == "b")));
    let out = h.ev(Event::OfferAnswered { call: s("b"), operator: s("op") });
    assert_eq!(kinds(&out), ["answered"]);
    h.at(30.0);
    assert_eq!(offers(&h.ev(Event::OperatorHangup { call: s("b") })), [(s("c"), s("op"))]);
}

#[test]
fn a_failed_attempt_frees_the_operator_at_once_and_the_request_is_retried_then_given_up() {
    let mut h = H::new(rules(CallbackOffer::Always), &["op"]);
    h.call("b");
    h.request("b", "0773691001", "+39333111");
    h.at(1.0);
    h.call("c");
    h.at(2.0);
    let out = h.ready("op");
    assert_eq!(dialled(&out), [(s("b"), s("op"), 1)]);
    h.at(30.0);
    // Busy: the operator takes the next caller at once; the request waits for its retry.
    let out = h.ev(Event::CallbackFailed { call: s("b"), reason: s("busy") });
    assert_eq!(offers(&out), [(s("c"), s("op"))]);
    assert!(out.iter().any(|a| matches!(a, Action::KeepCallback(p) if p.attempts == 1)));
    h.ev(Event::OfferAnswered { call: s("c"), operator: s("op") });
    h.at(40.0);
    // Free again before the retry is due: nothing to dial yet.
    assert!(dialled(&h.ev(Event::OperatorHangup { call: s("c") })).is_empty());
    // At the retry, the second and last attempt: no answer in time, then given up.
    let out = h.run_to(90.0);
    assert_eq!(dialled(&out), [(s("b"), s("op"), 2)]);
    let out = h.run_to(181.0);
    assert!(out.iter().any(|a| matches!(a, Action::CancelCallBack { call } if call == "b")), "{out:?}");
    assert!(kinds(&out).contains(&s("callback_gave_up")), "{out:?}");
    assert!(out.iter().any(|a| matches!(a, Action::DropCallback { gave_up: Some(p), .. } if p.attempts == 2)));
    assert!(matches!(h.state("op"), OperatorState::Available { .. }));
    assert!(h.acd.queue("general").is_empty());
}

#[test]
fn requests_are_refused_for_the_same_number_too_often_or_a_full_section() {
    let mut h = H::new(rules(CallbackOffer::Always), &[]);
    for c in ["a", "b", "c", "d", "e", "f"] {
        h.call(c);
    }
    assert_eq!(refusal(&h.request("a", "3331234567", "+39111")), None);
    let again = Event::RequestCallback {
        call: s("b"),
        number: number("+393331234567"),
        caller: s("+39222"),
        facts: facts("b"),
    };
    assert_eq!(refusal(&h.ev(again)), Some(CallbackRefusal::AlreadyPending));
    assert_eq!(refusal(&h.request("b", "3331234568", "+39111")), None);
    let third =
        Event::RequestCallback { call: s("c"), number: number("3331234569"), caller: s("+39111"), facts: facts("c") };
    assert_eq!(refusal(&h.ev(third)), Some(CallbackRefusal::TooOften));
    assert_eq!(refusal(&h.request("d", "3331234570", "+39333")), None);
    let full =
        Event::RequestCallback { call: s("e"), number: number("3331234571"), caller: s("+39444"), facts: facts("e") };
    assert_eq!(refusal(&h.ev(full)), Some(CallbackRefusal::SectionFull));
    // The refused callers are still waiting on the line.
    assert_eq!(h.acd.stats(h.now)[0].waiting, 3);
    // A cancelled request frees a place and the number.
    let out = h.ev(Event::CancelCallback { call: s("a"), by: s("op") });
    assert!(kinds(&out).contains(&s("callback_cancelled")));
    assert_eq!(refusal(&h.request("e", "3331234567", "+39555")), None);
}

#[test]
fn callbacks_wait_for_open_hours_and_may_be_cancelled_at_closing() {
    let mut h = H::new(rules(CallbackOffer::Always), &["op"]);
    h.ev(Event::CallbackHours { section: s("general"), open: false });
    h.call("b");
    h.request("b", "3331234567", "+39111");
    h.at(1.0);
    h.call("c");
    // Closed: the operator takes the caller on the line, the request waits.
    assert_eq!(offers(&h.ready("op")), [(s("c"), s("op"))]);
    h.ev(Event::OfferAnswered { call: s("c"), operator: s("op") });
    assert!(dialled(&h.ev(Event::OperatorHangup { call: s("c") })).is_empty());
    assert_eq!(dialled(&h.ev(Event::CallbackHours { section: s("general"), open: true })), [(s("b"), s("op"), 1)]);

    let mut cancelling = rules(CallbackOffer::Always);
    cancelling.callback.as_mut().unwrap().cancel_at_closing = true;
    let mut h = H::new(cancelling, &[]);
    h.call("b");
    h.request("b", "3331234567", "+39111");
    let out = h.ev(Event::CallbackHours { section: s("general"), open: false });
    assert!(out.iter().any(|a| matches!(a, Action::DropCallback { call, .. } if call == "b")));
    assert!(h.acd.queue("general").is_empty());
}

#[test]
fn the_offer_comes_after_the_wait_and_the_key_works_only_once_offered() {
    let mut h = H::new(rules(CallbackOffer::AfterWait(secs(30.0))), &[]);
    let out = h.call("a");
    assert!(out.iter().any(|a| matches!(a, Action::Announce { callback: None, .. })), "{out:?}");
    h.ev(Event::AnnouncementDone { call: s("a") });
    h.at(10.0);
    let early = h.ev(Event::Key { call: s("a"), key: '5' });
    assert!(!early.iter().any(|a| matches!(a, Action::AskCallbackNumber { .. })), "not offered yet");
    let out = h.run_to(31.0);
    assert!(out.iter().any(|a| matches!(a, Action::Announce { callback: Some('5'), .. })), "offered at 30 s: {out:?}");
    h.ev(Event::AnnouncementDone { call: s("a") });
    let out = h.ev(Event::Key { call: s("a"), key: '5' });
    assert!(out.iter().any(|a| matches!(a, Action::AskCallbackNumber { call } if call == "a")));
}

#[test]
fn a_kept_request_comes_back_at_its_place_after_a_restart() {
    let mut h = H::new(rules(CallbackOffer::Always), &["op"]);
    h.at(100.0);
    h.call("late");
    let pending = centralino::acd::PendingCallback {
        call: s("early"),
        section: s("general"),
        number: number("3331234567"),
        caller: s("+39111"),
        arrived: h.t0 + secs(50.0),
        attempts: 1,
        facts: facts("early"),
    };
    h.ev(Event::RestoreCallback(pending));
    assert_eq!(h.acd.queue("general"), ["early", "late"]);
    // Its attempts count on: the next is its second and last.
    assert_eq!(dialled(&h.ready("op")), [(s("early"), s("op"), 2)]);
}

#[test]
fn random_event_sequences_with_callbacks_keep_the_invariants() {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 0..200u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut r = rules(CallbackOffer::Always);
        r.ring_timeout = secs(5.0);
        r.callback.as_mut().unwrap().per_caller_per_day = 50;
        r.callback.as_mut().unwrap().per_section = 6;
        let mut h = H::new(r, &["a", "b"]);
        let (mut t, mut next) = (0.0, 0);
        let mut calls: Vec<String> = Vec::new();
        for _ in 0..300 {
            t += rng.random_range(0.0..5.0);
            h.at(t);
            let op = ["a", "b"][rng.random_range(0..2)].to_string();
            let call = calls.get(rng.random_range(0..calls.len().max(1))).cloned().unwrap_or_default();
            let kept = |h: &H| {
                h.acd.operators().find_map(|(_, o)| match &o.state {
                    OperatorState::Reserved { call, .. } => Some(call.clone()),
                    _ => None,
                })
            };
            let ringing = |h: &H| {
                h.acd.operators().find_map(|(id, o)| match &o.state {
                    OperatorState::Ringing { call, .. } => Some((call.clone(), id.clone())),
                    _ => None,
                })
            };
            let e = match rng.random_range(0..14) {
                0..=2 => {
                    next += 1;
                    calls.push(format!("k{next}"));
                    Event::Enqueue { call: format!("k{next}"), section: s("general"), arrived: h.now }
                }
                3 => Event::CallerHangup { call },
                4 | 5 => {
                    let n = format!("33312345{:02}", rng.random_range(0..8));
                    Event::RequestCallback { call, number: number(&n), caller: n, facts: facts("x") }
                }
                6 => Event::CallbackAnswered { call: kept(&h).unwrap_or(call) },
                7 => Event::CallbackFailed { call: kept(&h).unwrap_or(call), reason: s("busy") },
                8 => Event::CancelCallback { call, by: s("op") },
                9 => match ringing(&h) {
                    Some((call, operator)) => Event::OfferAnswered { call, operator },
                    None => Event::Tick,
                },
                10 => match h.acd.operators().find_map(|(_, o)| match &o.state {
                    OperatorState::OnCall { call, .. } => Some(call.clone()),
                    _ => None,
                }) {
                    Some(call) => Event::OperatorHangup { call },
                    None => Event::Tick,
                },
                11 => Event::CallbackHours { section: s("general"), open: rng.random_bool(0.7) },
                12 => Event::Login { operator: op, sections: None },
                _ => Event::Reachable { operator: op, reachable: rng.random_bool(0.8), phone: PhoneKind::Sip },
            };
            let mut out = h.acd.handle(e.clone(), h.now).unwrap_or_default();
            h.acd.check_invariants().unwrap_or_else(|m| panic!("seed {seed}, after {e:?}: {m}"));
            if rng.random_bool(0.3) {
                out.extend(h.run_to(t + rng.random_range(0.0..120.0)));
                t = (h.now - h.t0).as_secs_f64();
            }
            for k in kinds(&out) {
                *seen.entry(k).or_insert(0) += 1;
            }
        }
    }
    for kind in [
        "callback_requested",
        "callback_dialled",
        "callback_failed",
        "callback_answered",
        "callback_gave_up",
        "callback_cancelled",
    ] {
        assert!(seen.get(kind).copied().unwrap_or(0) >= 20, "{kind}: {seen:?}");
    }
}
