use super::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};

fn ring(call: &str) -> Input {
    Input::Ring(Ring { call: call.into(), caller: "+393331234567".into(), section: "Pensioni".into() })
}

fn page(said: FromPage) -> Input {
    Input::Page(said)
}

fn outputs(p: &mut Phone) -> Vec<Output> {
    std::iter::from_fn(|| p.poll_output()).collect()
}

fn connected(t: Instant) -> Phone {
    let mut p = Phone::new();
    p.handle(Input::Connected, t);
    assert_eq!(outputs(&mut p), [Output::Reachable(true)]);
    p
}

#[test]
fn ring_answer_and_hang_up_from_the_page() {
    let t = Instant::now();
    let mut p = connected(t);
    p.handle(ring("c1"), t);
    assert!(matches!(&outputs(&mut p)[..], [Output::ToPage(ToPage::Ring { call, .. })] if call == "c1"));
    p.handle(page(FromPage::Ringing { call: "c1".into() }), t);
    assert_eq!(p.poll_timeout(), None, "acknowledged: the ring timeout is the distribution's");
    p.handle(page(FromPage::Answer { call: "c1".into() }), t);
    assert_eq!(
        outputs(&mut p),
        [Output::Answered { call: "c1".into() }, Output::ToPage(ToPage::Talking { call: "c1".into() })]
    );
    p.handle(ring("c2"), t);
    assert_eq!(outputs(&mut p), [Output::Failed { call: "c2".into(), reason: "busy".into() }]);
    p.handle(page(FromPage::HangUp { call: "c1".into() }), t);
    assert_eq!(
        outputs(&mut p),
        [Output::HungUp { call: "c1".into() }, Output::ToPage(ToPage::Ended { call: "c1".into(), by_caller: false })]
    );
    // A late release of the same call changes nothing.
    p.handle(Input::Released { call: "c1".into() }, t);
    assert_eq!(outputs(&mut p), []);
}

#[test]
fn an_offline_phone_fails_offers_at_once() {
    let t = Instant::now();
    let mut p = Phone::new();
    p.handle(ring("c1"), t);
    assert_eq!(
        outputs(&mut p),
        [Output::Failed { call: "c1".into(), reason: "the browser phone is not connected".into() }]
    );
}

#[test]
fn a_page_that_does_not_ack_fails_the_offer_and_is_not_rung_until_it_speaks() {
    let t = Instant::now();
    let mut p = connected(t);
    p.handle(ring("c1"), t);
    outputs(&mut p);
    assert_eq!(p.poll_timeout(), Some(t + RING_ACK_WITHIN));
    p.handle_timeout(t + RING_ACK_WITHIN);
    assert_eq!(
        outputs(&mut p),
        [
            Output::Failed { call: "c1".into(), reason: "the browser phone did not respond".into() },
            Output::ToPage(ToPage::Unanswered),
            Output::Reachable(false),
        ]
    );
    assert!(!p.is_reachable());
    p.handle(ring("c2"), t);
    assert!(matches!(&outputs(&mut p)[..], [Output::Failed { .. }]));
    // The page wakes and answers the stale ring: it is reachable again, the old call is gone.
    p.handle(page(FromPage::Answer { call: "c1".into() }), t);
    assert_eq!(outputs(&mut p), [Output::Reachable(true)]);
}

#[test]
fn losing_the_connection_ends_what_was_going_on() {
    let t = Instant::now();
    let mut p = connected(t);
    p.handle(ring("c1"), t);
    outputs(&mut p);
    p.handle(Input::Lost, t);
    assert_eq!(
        outputs(&mut p),
        [
            Output::Failed { call: "c1".into(), reason: "the browser phone disconnected".into() },
            Output::Reachable(false)
        ]
    );
    p.handle(Input::Connected, t);
    p.handle(ring("c2"), t);
    p.handle(page(FromPage::Answer { call: "c2".into() }), t);
    outputs(&mut p);
    p.handle(Input::Lost, t);
    assert_eq!(outputs(&mut p), [Output::HungUp { call: "c2".into() }, Output::Reachable(false)]);
}

#[test]
fn withdrawn_and_released_calls() {
    let t = Instant::now();
    let mut p = connected(t);
    p.handle(ring("c1"), t);
    outputs(&mut p);
    p.handle(Input::Withdrawn { call: "c1".into() }, t);
    assert_eq!(outputs(&mut p), [Output::ToPage(ToPage::Cancelled { call: "c1".into() })]);
    // The page's answer crossed the withdrawal: ignored.
    p.handle(page(FromPage::Answer { call: "c1".into() }), t);
    assert_eq!(outputs(&mut p), []);
    p.handle(ring("c2"), t);
    p.handle(page(FromPage::Answer { call: "c2".into() }), t);
    outputs(&mut p);
    p.handle(Input::Released { call: "c2".into() }, t);
    assert_eq!(outputs(&mut p), [Output::ToPage(ToPage::Ended { call: "c2".into(), by_caller: true })]);
}

/// What the outputs must respect, whatever the inputs.
#[derive(Default)]
struct Watch {
    reachable: bool,
    /// Calls offered and not yet answered or failed or withdrawn.
    offered: BTreeSet<String>,
    /// Calls answered and not yet ended.
    talking: BTreeSet<String>,
    /// How each call's offer ended.
    settled: BTreeMap<String, &'static str>,
    ended: BTreeSet<String>,
}

impl Watch {
    fn input(&mut self, input: &Input) {
        match input {
            Input::Ring(r) => {
                assert!(!self.settled.contains_key(&r.call), "each call is offered once in these runs");
                self.offered.insert(r.call.clone());
            }
            Input::Withdrawn { call } if self.offered.remove(call) => {
                self.settled.insert(call.clone(), "withdrawn");
            }
            Input::Released { call } if self.talking.remove(call) => {
                self.ended.insert(call.clone());
            }
            _ => {}
        }
    }

    fn output(&mut self, out: &Output) {
        match out {
            Output::Reachable(r) => {
                assert_ne!(*r, self.reachable, "reachability alternates");
                self.reachable = *r;
            }
            Output::ToPage(ToPage::Ring { call, .. }) => {
                assert!(self.reachable, "only a reachable phone rings");
                assert!(self.offered.contains(call));
            }
            Output::ToPage(_) => {}
            Output::Answered { call } => {
                assert!(self.offered.remove(call), "answered an offer that was live: {call}");
                assert!(self.settled.insert(call.clone(), "answered").is_none());
                self.talking.insert(call.clone());
            }
            Output::Failed { call, .. } => {
                assert!(self.offered.remove(call), "failed an offer that was live: {call}");
                assert!(self.settled.insert(call.clone(), "failed").is_none());
            }
            Output::HungUp { call } => {
                assert!(self.talking.remove(call), "hung up a call that was talking: {call}");
                assert!(self.ended.insert(call.clone()));
            }
        }
        assert!(self.talking.len() + self.offered.len() <= 1, "one call at a time");
    }
}

#[test]
fn random_sequences_keep_the_invariants() {
    for seed in 0..3000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut p = Phone::new();
        let mut w = Watch::default();
        let mut now = Instant::now();
        let mut next_call = 0;
        for _ in 0..40 {
            now += Duration::from_millis(rng.random_range(0..1500));
            if p.poll_timeout().is_some_and(|t| t <= now) {
                p.handle_timeout(now);
            } else {
                // Page messages name the latest call or an older one.
                let call = format!("c{}", rng.random_range(next_call.max(1) - 1..=next_call));
                let input = match rng.random_range(0..10) {
                    0 => Input::Connected,
                    1 => Input::Lost,
                    2 | 3 => {
                        next_call += 1;
                        ring(&format!("c{next_call}"))
                    }
                    4 => Input::Withdrawn { call },
                    5 => Input::Released { call },
                    6 => page(FromPage::Ringing { call }),
                    7 => page(FromPage::Answer { call }),
                    8 => {
                        page(if rng.random_bool(0.5) { FromPage::HangUp { call } } else { FromPage::Decline { call } })
                    }
                    _ => page(FromPage::Alive),
                };
                w.input(&input);
                p.handle(input, now);
            }
            while let Some(out) = p.poll_output() {
                w.output(&out);
            }
            assert_eq!(p.is_reachable(), w.reachable, "seed {seed}");
        }
        // Losing the connection settles whatever was going on.
        p.handle(Input::Lost, now);
        while let Some(out) = p.poll_output() {
            w.output(&out);
        }
        assert!(w.offered.is_empty() && w.talking.is_empty(), "seed {seed}: nothing left ringing or talking");
    }
}
