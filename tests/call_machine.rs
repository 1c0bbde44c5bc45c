//! The call machine (`centralino::calls::machine::Call`) driven input by input, without a
//! network: the answer, the portal, the queue, the bridge, transfers, farewells and every race
//! between them (a hang-up during the hand-over, a transfer while an operator rings, media
//! stopping while queued, a re-INVITE while bridged, late inputs after the end). A [`Watch`]
//! checks the invariants after every input; random sequences of inputs run the same checks.

use centralino::acd::{CallbackRefusal, Event as AcdEvent, Route};
use centralino::calls::machine::{Call, Input, Now, Output, Settings, Watch};
use centralino::calls::{CallRecord, Ending};
use centralino::ivr::{CallFacts, Key, LookupAnswer, Session, parse_tree};
use centralino::vocabulary::NumberingPlan;
use chrono::{TimeZone, Utc};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const TREE: &str = r#"
languages: [it]
start: main_menu
defaults:
  invalid_prompt: invalid_choice
  timeout_prompt: no_input
nodes:
  main_menu:
    menu:
      prompt: main_menu
      options:
        "1": pensions_queue
        "2": appointment_lookup
        "3": goodbye
  pensions_queue:
    queue:
      section: pensions
  appointment_lookup:
    lookup:
      service: appointment
      "on":
        counter: main_menu
        phone: main_menu
        video: main_menu
        not_found: goodbye
        unavailable: goodbye
  goodbye:
    play:
      prompt: goodbye
      next: bye
  bye: { hangup: { reason: done } }
prompts: {}
"#;

const MEDIA_TIMEOUT: u64 = 30;
const MAX_HOLD: u64 = 120;

fn settings(distribution: bool, late_offer: bool) -> Settings {
    Settings {
        answer_delay: Duration::from_millis(500),
        media_timeout: Duration::from_secs(MEDIA_TIMEOUT),
        max_hold: Duration::from_secs(MAX_HOLD),
        distribution,
        late_offer,
        plan: NumberingPlan::default(),
    }
}

fn record() -> CallRecord {
    let arrived = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
    CallRecord {
        call_id: "c1".into(),
        origin: centralino::vocabulary::CallOrigin {
            caller: "+393331234567".into(),
            number: "+390773691001".into(),
            province: Some("LT".into()),
            region: Some("lazio".into()),
        },
        tree: Some("t".into()),
        arrived,
        answered: None,
        ended: arrived,
        language: None,
        path: vec![],
        keys: String::new(),
        answers: vec![],
        ending: Ending::CallerHangup { node: String::new() },
        callback_of: None,
        media: None,
    }
}

struct H {
    call: Call,
    t0: Instant,
    now: Instant,
    watch: Watch,
}

impl H {
    fn new(distribution: bool, late_offer: bool) -> H {
        let tree = Arc::new(parse_tree(Path::new("t.yaml"), TREE).expect("the test tree parses"));
        let session = Session::new(tree, CallFacts::default(), "general");
        let t0 = Instant::now();
        let mut h = H {
            call: Call::new(session, record(), settings(distribution, late_offer), H::at(t0, t0)),
            t0,
            now: t0,
            watch: Watch::new(),
        };
        h.drain("new", false);
        h
    }

    fn at(t0: Instant, now: Instant) -> Now {
        let wall = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap() + (now - t0);
        Now { at: now, wall }
    }

    fn now(&self) -> Now {
        H::at(self.t0, self.now)
    }

    /// Feed an input; returns the outputs it caused.
    fn input(&mut self, input: Input) -> Vec<Output> {
        self.watch.before(&input);
        let what = format!("{input:?}");
        self.call.handle(input, self.now());
        self.drain(&what, false)
    }

    /// Advance the clock by `secs`, handling every timeout on the way as the host's timer would.
    fn wait(&mut self, secs: f64) -> Vec<Output> {
        let end = self.now + Duration::from_secs_f64(secs);
        let mut out = vec![];
        while let Some(d) = self.call.poll_timeout().filter(|d| *d <= end) {
            self.now = d.max(self.now);
            self.call.handle_timeout(self.now());
            out.extend(self.drain("timeout", true));
        }
        self.now = end;
        out
    }

    /// Media packets keep arriving while time passes.
    fn talk(&mut self, secs: f64) -> Vec<Output> {
        let mut out = vec![];
        let mut left = secs;
        while left > 0.0 {
            let step = left.min(5.0);
            out.extend(self.wait(step));
            left -= step;
            let heard = Input::Heard(self.now);
            out.extend(self.input(heard));
        }
        out
    }

    fn drain(&mut self, after: &str, timeout: bool) -> Vec<Output> {
        let out: Vec<Output> = std::iter::from_fn(|| self.call.poll_output()).collect();
        if let Err(e) = self.watch.after(&self.call, &out, self.now, timeout) {
            panic!("after {after} at {:?}: {e}", self.now - self.t0);
        }
        out
    }

    /// Ring, answer (and for a late offer, the answer in the ACK).
    fn answered(&mut self) -> Vec<Output> {
        let out = self.wait(0.5);
        assert_eq!(out.first(), Some(&Output::Answer));
        out
    }

    /// Answered, then "1" to the pensions queue.
    fn queued(&mut self) {
        self.answered();
        let out = self.input(Input::Key(Key('1')));
        assert!(out.contains(&Output::Join { section: "pensions".into(), arrived: self.now }), "{out:?}");
        assert!(out.contains(&Output::HoldMusic), "{out:?}");
    }

    fn bridged(&mut self, operator: &str) {
        let out = self.input(Input::OperatorAnswered { operator: operator.into() });
        assert_eq!(out[0], Output::Bridge, "{out:?}");
        assert!(matches!(&out[1], Output::ScreenPop(p) if p.operator == operator && p.section == "pensions"));
        assert!(self.call.is_bridged());
    }
}

fn tell_hangup() -> Output {
    Output::Tell(AcdEvent::CallerHangup { call: "c1".into() })
}

#[test]
fn a_call_rings_then_answers_and_starts_the_portal() {
    let mut h = H::new(true, false);
    assert_eq!(h.wait(0.4), []);
    let out = h.wait(0.1);
    assert_eq!(out[0], Output::Answer);
    assert!(matches!(&out[1], Output::Play { items, .. } if format!("{items:?}").contains("main_menu")));
    assert!(h.call.record().answered.is_some());
}

#[test]
fn a_late_offer_starts_the_portal_with_the_answer_in_the_ack() {
    let mut h = H::new(true, true);
    assert_eq!(h.wait(0.5), [Output::Answer], "nothing plays before the media is agreed");
    let out = h.input(Input::Media { receiving: true });
    assert!(matches!(&out[0], Output::Play { .. }), "{out:?}");
    assert_eq!(h.input(Input::Media { receiving: true }), [], "a second ACK changes nothing");
}

#[test]
fn cancel_while_ringing_ends_unanswered() {
    let mut h = H::new(true, false);
    h.wait(0.2);
    assert_eq!(h.input(Input::CallerHangup), [Output::Ended]);
    assert_eq!(h.call.record().ending, Ending::Cancelled);
    assert_eq!(h.call.record().answered, None);
    assert_eq!(h.wait(10.0), [], "the answer never comes");
}

#[test]
fn the_portal_hangs_up_after_its_goodbye() {
    let mut h = H::new(true, false);
    h.answered();
    h.input(Input::Key(Key('3')));
    let out = h.input(Input::PlaybackDone);
    assert_eq!(out, [Output::Hangup, Output::Ended]);
    assert_eq!(h.call.record().ending, Ending::PortalHangup { node: "bye".into(), reason: Some("done".into()) });
    assert_eq!(h.call.record().path, ["main_menu", "goodbye", "bye"]);
    assert_eq!(h.call.record().keys, "3");
}

#[test]
fn a_lookup_is_asked_and_its_answer_goes_on() {
    let mut h = H::new(true, false);
    h.answered();
    let out = h.input(Input::Key(Key('2')));
    assert!(out.iter().any(|o| matches!(o, Output::Lookup { input: None, .. })), "{out:?}");
    let out = h.input(Input::LookupResult(LookupAnswer::from("not_found")));
    assert!(matches!(&out[0], Output::Play { items, .. } if format!("{items:?}").contains("goodbye")), "{out:?}");
}

#[test]
fn a_hang_up_during_the_hand_over_releases_the_operator() {
    // The caller hangs up; the operator's phone answers a moment later.
    let mut h = H::new(true, false);
    h.queued();
    let out = h.input(Input::CallerHangup);
    assert_eq!(out, [tell_hangup(), Output::Leave, Output::Ended]);
    assert_eq!(h.call.record().ending, Ending::Abandoned { section: "pensions".into() });
    assert_eq!(h.input(Input::OperatorAnswered { operator: "mrossi".into() }), [Output::Release]);

    // The operator answers; the caller's BYE was already on its way.
    let mut h = H::new(true, false);
    h.queued();
    h.bridged("mrossi");
    let out = h.input(Input::CallerHangup);
    assert_eq!(
        out,
        [
            tell_hangup(),
            Output::Unbridge,
            Output::BridgeEnded { operator: "mrossi".into() },
            Output::Leave,
            Output::Ended
        ]
    );
    let ending = Ending::Answered { section: "pensions".into(), operator: "mrossi".into() };
    assert_eq!(h.call.record().ending, ending);
}

#[test]
fn the_operator_hanging_up_ends_the_call_for_the_caller() {
    let mut h = H::new(true, false);
    h.queued();
    h.talk(20.0);
    h.bridged("mrossi");
    let out = h.input(Input::OperatorHangup);
    assert_eq!(out[..2], [Output::Tell(AcdEvent::OperatorHangup { call: "c1".into() }), Output::Hangup]);
    assert!(h.call.is_ended());
}

#[test]
fn the_screen_pop_says_how_long_the_caller_waited() {
    let mut h = H::new(true, false);
    h.queued();
    h.talk(42.0);
    let out = h.input(Input::OperatorAnswered { operator: "mrossi".into() });
    let Output::ScreenPop(pop) = &out[1] else { panic!("{out:?}") };
    assert_eq!(pop.waited_s, 42);
    assert_eq!(pop.path, ["main_menu", "pensions_queue"]);
    assert_eq!(pop.keys, "1");
}

#[test]
fn a_transfer_while_an_operator_rings_bridges_in_the_new_section() {
    // The distribution moves the caller (an overflow) while an operator's phone rings.
    let mut h = H::new(true, false);
    h.queued();
    h.input(Input::Announce { ahead: 2, wait: None, callback: None });
    assert_eq!(h.input(Input::StopAnnouncement), [Output::HoldMusic]);
    assert_eq!(h.input(Input::PlaybackDone), [], "the stopped announcement is not reported done");
    assert_eq!(h.input(Input::Queued { section: "income".into() }), []);
    let out = h.input(Input::OperatorAnswered { operator: "lbianchi".into() });
    assert!(matches!(&out[1], Output::ScreenPop(p) if p.section == "income"), "{out:?}");
}

#[test]
fn an_operator_transfers_the_caller_to_another_queue_then_to_the_portal() {
    let mut h = H::new(true, false);
    h.queued();
    h.bridged("mrossi");
    let out = h.input(Input::Queued { section: "income".into() });
    assert_eq!(out, [Output::Unbridge, Output::BridgeEnded { operator: "mrossi".into() }, Output::HoldMusic]);
    assert!(!h.call.is_bridged());
    let out = h.input(Input::OperatorAnswered { operator: "lbianchi".into() });
    assert!(matches!(&out[1], Output::ScreenPop(p) if p.section == "income" && p.operator == "lbianchi"));
    // The second operator sends the caller back to the portal's menu.
    let out = h.input(Input::Route(Route::Node("main_menu".into())));
    assert_eq!(out[..3], [Output::Unbridge, Output::BridgeEnded { operator: "lbianchi".into() }, Output::StopPlayback]);
    assert!(matches!(&out[3], Output::Play { .. }), "{out:?}");
    h.input(Input::Key(Key('3')));
    assert_eq!(h.input(Input::PlaybackDone), [Output::Hangup, Output::Leave, Output::Ended]);
}

#[test]
fn a_full_queue_says_its_message_then_hangs_up() {
    let mut h = H::new(true, false);
    h.queued();
    let out = h.input(Input::Route(Route::Message("queue_full".into())));
    assert!(matches!(&out[0], Output::Play { items, .. } if format!("{items:?}").contains("queue_full")));
    assert_eq!(h.input(Input::Key(Key('1'))), [], "keys during the farewell are ignored");
    assert_eq!(h.input(Input::PlaybackDone), [Output::Hangup, Output::Leave, Output::Ended]);
    assert_eq!(
        h.call.record().ending,
        Ending::QueueMessage { section: "pensions".into(), prompt: "queue_full".into() }
    );
}

#[test]
fn media_stopping_while_queued_ends_the_call_and_leaves_the_queue() {
    let mut h = H::new(true, false);
    h.queued();
    h.talk(10.0);
    let out = h.wait(MEDIA_TIMEOUT as f64);
    assert_eq!(out, [tell_hangup(), Output::Hangup, Output::Leave, Output::Ended]);
    assert_eq!(h.call.record().ending, Ending::MediaTimeout { node: "pensions_queue".into() });
}

#[test]
fn a_caller_on_hold_is_not_timed_out_and_the_silence_counts_again_from_the_resume() {
    let mut h = H::new(true, false);
    h.queued();
    h.bridged("mrossi");
    assert_eq!(h.input(Input::Media { receiving: false }), [], "a re-INVITE to hold changes nothing else");
    assert_eq!(h.wait(10.0 * MEDIA_TIMEOUT as f64), [], "no media timeout while on hold");
    assert!(h.call.is_bridged());
    h.input(Input::Media { receiving: true });
    assert_eq!(h.wait(MEDIA_TIMEOUT as f64 - 1.0), []);
    let out = h.wait(1.0);
    assert!(out.contains(&Output::Hangup) && h.call.is_ended(), "{out:?}");
}

#[test]
fn the_position_is_announced_and_reported_done() {
    let mut h = H::new(true, false);
    h.queued();
    let out = h.input(Input::Announce { ahead: 3, wait: Some(Duration::from_secs(120)), callback: None });
    assert!(matches!(&out[..], [Output::Play { .. }]), "{out:?}");
    let out = h.input(Input::PlaybackDone);
    assert_eq!(out, [Output::Tell(AcdEvent::AnnouncementDone { call: "c1".into() }), Output::HoldMusic]);
    assert_eq!(h.input(Input::Key(Key('9'))), [Output::Tell(AcdEvent::Key { call: "c1".into(), key: '9' })]);
}

#[test]
fn without_a_distribution_the_holding_message_loops_until_the_longest_hold() {
    let mut h = H::new(false, false);
    h.answered();
    let out = h.input(Input::Key(Key('1')));
    assert!(matches!(out.last(), Some(Output::Loop { .. })), "{out:?}");
    h.talk(MAX_HOLD as f64 - 5.0);
    assert!(!h.call.is_ended());
    let out = h.talk(5.0);
    assert_eq!(out, [Output::Hangup, Output::Ended]);
    assert_eq!(h.call.record().ending, Ending::Queued { section: "pensions".into() });
}

#[test]
fn late_inputs_after_the_end_are_ignored() {
    let mut h = H::new(true, false);
    h.queued();
    h.input(Input::CallerHangup);
    let record = h.call.record().clone();
    for input in [
        Input::CallerHangup,
        Input::Media { receiving: true },
        Input::Key(Key('1')),
        Input::PlaybackDone,
        Input::Announce { ahead: 1, wait: None, callback: None },
        Input::Route(Route::Message("x".into())),
        Input::OperatorHangup,
        Input::Queued { section: "income".into() },
    ] {
        assert_eq!(h.input(input), []);
    }
    assert_eq!(h.wait(1000.0), []);
    assert_eq!(*h.call.record(), record, "the record is final");
}

/// Random sequences of inputs at random times: the invariants hold after every input, and
/// every kind of input is reached many times.
#[test]
fn random_inputs_keep_the_invariants() {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    const KINDS: usize = 18;
    let mut reached = [0usize; KINDS];
    let mut endings = std::collections::BTreeMap::<String, usize>::new();
    for seed in 0..6000u64 {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut h = H::new(rng.random_bool(0.8), rng.random_bool(0.3));
        for _ in 0..rng.random_range(5..60) {
            // Half the inputs of a queued or connected call come from the distribution.
            let kind = if h.watch.requested() && rng.random_bool(0.3) {
                16
            } else if h.watch.in_distribution() && rng.random_bool(0.5) {
                [7, 8, 9, 10, 11, 12, 15, 16, 17][rng.random_range(0..9)]
            } else {
                rng.random_range(0..KINDS)
            };
            if !h.call.is_ended() {
                reached[kind] += 1;
            }
            // Distribution notices come for calls the distribution holds, and now and then late.
            let holds = h.watch.in_distribution() || rng.random_bool(0.05);
            let section = if rng.random_bool(0.7) { "pensions" } else { "income" };
            match kind {
                0 if rng.random_bool(0.2) => drop(h.input(Input::CallerHangup)),
                1 => drop(h.input(Input::Media { receiving: rng.random_bool(0.7) })),
                2 | 3 => {
                    let key = ['1', '1', '2', '3', '9', '*', '#', '0', '6', '5'][rng.random_range(0..10)];
                    drop(h.input(Input::Key(Key(key))));
                }
                4 => drop(h.input(Input::PlaybackDone)),
                5 => drop(h.talk(rng.random_range(0.1..20.0))),
                6 => {
                    let result = ["counter", "not_found", "unavailable", "bogus"][rng.random_range(0..4)];
                    drop(h.input(Input::LookupResult(LookupAnswer::from(result))));
                }
                7 if holds => drop(h.input(Input::Queued { section: section.into() })),
                8 if holds => {
                    drop(h.input(Input::Announce { ahead: rng.random_range(0..5), wait: None, callback: None }))
                }
                9 if holds => drop(h.input(Input::StopAnnouncement)),
                10 if holds && rng.random_bool(0.5) => {
                    let route = match rng.random_range(0..3) {
                        0 => Route::Node("main_menu".into()),
                        1 => Route::Message("queue_full".into()),
                        _ => Route::Section(section.into()),
                    };
                    drop(h.input(Input::Route(route)));
                }
                11 if holds => {
                    let operator = ["mrossi", "lbianchi"][rng.random_range(0..2)];
                    drop(h.input(Input::OperatorAnswered { operator: operator.into() }));
                }
                12 if holds && rng.random_bool(0.5) => drop(h.input(Input::OperatorHangup)),
                13 => drop(h.wait(rng.random_range(0.0..(2.0 * MEDIA_TIMEOUT as f64)))),
                14 => drop(h.input(Input::Heard(h.now))),
                15 if holds => {
                    h.input(Input::AskCallbackNumber);
                    // Mostly confirmed at once, as callers do.
                    if rng.random_bool(0.7) {
                        h.input(Input::Key(Key('1')));
                    }
                }
                // The distribution takes a request only from a caller still waiting.
                16 if h.watch.requested() && !h.call.is_bridged() => {
                    drop(h.input(Input::CallbackAccepted { ahead: rng.random_range(0..5), wait: None }))
                }
                17 if holds => drop(h.input(Input::CallbackRefused(CallbackRefusal::AlreadyPending))),
                _ => reached[kind] -= usize::from(!h.call.is_ended()),
            }
        }
        // Whatever happened, the call ends: the caller hangs up, or the playback ends and the
        // portal or the silence ends it (a caller holding a bridged call hangs up in the end).
        if rng.random_bool(0.5) {
            h.input(Input::CallerHangup);
        }
        for _ in 0..5 {
            h.input(Input::PlaybackDone);
            h.wait(1000.0);
        }
        if !h.call.is_ended() {
            h.input(Input::CallerHangup);
        }
        assert!(h.call.is_ended(), "seed {seed}: the call ends");
        let ending = format!("{:?}", h.call.record().ending);
        *endings.entry(ending.split([' ', '{']).next().unwrap_or_default().to_string()).or_default() += 1;
    }
    for (kind, n) in reached.iter().enumerate() {
        assert!(*n >= 150, "input kind {kind} reached only {n} times: {reached:?}");
    }
    for ending in [
        "Cancelled",
        "CallerHangup",
        "PortalHangup",
        "MediaTimeout",
        "Abandoned",
        "Answered",
        "QueueMessage",
        "Queued",
        "CallbackRequested",
    ] {
        assert!(endings.get(ending).copied().unwrap_or(0) >= 10, "ending {ending} reached too rarely: {endings:?}");
    }
}

/// The words of an output's playback, joined.
fn said(out: &[Output]) -> String {
    out.iter()
        .filter_map(|o| match o {
            Output::Play { items, .. } => Some(format!("{items:?}")),
            _ => None,
        })
        .collect()
}

#[test]
fn a_waiting_caller_confirms_their_number_and_hangs_up_keeping_their_place() {
    let mut h = H::new(true, false);
    h.queued();
    let out = h.input(Input::Announce { ahead: 3, wait: None, callback: Some('5') });
    assert!(said(&out).contains("callback_offer") && said(&out).contains("n5"), "{out:?}");
    h.input(Input::PlaybackDone);
    let out = h.input(Input::AskCallbackNumber);
    // The number they call from, read back digit by digit.
    let words = said(&out);
    assert!(words.contains("callback_confirm_before"), "{out:?}");
    assert!(words.contains("Word(\"n3\"), Word(\"n3\"), Word(\"n3\"), Word(\"n1\")"), "{words}");
    let out = h.input(Input::Key(Key('1')));
    let asked = out.iter().find_map(|o| match o {
        Output::Tell(AcdEvent::RequestCallback { call, number, caller, facts }) => {
            Some((call.clone(), number.e164().to_string(), caller.clone(), facts.path.clone()))
        }
        _ => None,
    });
    assert_eq!(
        asked,
        Some((
            "c1".into(),
            "+393331234567".into(),
            "+393331234567".into(),
            vec!["main_menu".into(), "pensions_queue".into()]
        ))
    );
    let out = h.input(Input::CallbackAccepted { ahead: 2, wait: Some(Duration::from_secs(300)) });
    let words = said(&out);
    assert!(words.contains("callback_accepted") && words.contains("callback_goodbye"), "{words}");
    let out = h.input(Input::PlaybackDone);
    assert_eq!(out, [Output::Hangup, Output::Leave, Output::Ended], "no hang-up told: the request keeps the place");
    assert_eq!(h.call.record().ending, Ending::CallbackRequested { section: "pensions".into() });
}

#[test]
fn a_typed_number_must_pass_the_plan_and_a_caller_hanging_up_before_confirming_leaves_no_request() {
    let mut h = H::new(true, false);
    h.queued();
    h.input(Input::AskCallbackNumber);
    // Another number: a premium-rate one is refused, then a landline is read back.
    let out = h.input(Input::Key(Key('2')));
    assert!(said(&out).contains("callback_type_number"), "{out:?}");
    for k in "899123456".chars() {
        h.input(Input::Key(Key(k)));
    }
    let out = h.input(Input::Key(Key('#')));
    let words = said(&out);
    assert!(words.contains("callback_number_refused") && words.contains("callback_type_number"), "{out:?}");
    let mut out = vec![];
    for k in "0773691001".chars() {
        out = h.input(Input::Key(Key(k)));
    }
    assert!(out.is_empty());
    // A pause ends the number.
    let out = h.wait(6.0);
    assert!(said(&out).contains("callback_confirm_before"), "{out:?}");
    // The caller hangs up before confirming: an abandoned caller, told as such.
    let out = h.input(Input::CallerHangup);
    assert!(out.contains(&tell_hangup()), "{out:?}");
    assert!(!out.iter().any(|o| matches!(o, Output::Tell(AcdEvent::RequestCallback { .. }))));
    assert_eq!(h.call.record().ending, Ending::Abandoned { section: "pensions".into() });
}

#[test]
fn a_refused_request_and_an_unconfirmed_number_leave_the_caller_waiting() {
    let mut h = H::new(true, false);
    h.queued();
    h.input(Input::AskCallbackNumber);
    h.input(Input::Key(Key('1')));
    let out = h.input(Input::CallbackRefused(CallbackRefusal::AlreadyPending));
    assert!(said(&out).contains("callback_already_pending"), "{out:?}");
    assert!(h.input(Input::PlaybackDone).contains(&Output::HoldMusic));
    // An operator frees up: the caller is connected as usual.
    h.bridged("mrossi");
    // Another caller asks but never confirms: back to waiting after the pause.
    let mut h = H::new(true, false);
    h.queued();
    h.input(Input::AskCallbackNumber);
    let out = h.talk(30.0);
    assert!(out.contains(&Output::HoldMusic), "{out:?}");
    h.bridged("lbianchi");
}

#[test]
fn the_citizen_called_back_presses_one_and_is_connected_with_the_original_facts() {
    use centralino::calls::callback_call::CallBackCall;
    use centralino::vocabulary::CallPop;
    let t0 = Instant::now();
    let now = H::at(t0, t0);
    let facts = CallPop {
        operator: String::new(),
        call_id: "asked".into(),
        origin: Default::default(),
        section: "pensions".into(),
        path: vec!["main_menu".into(), "pensions_queue".into()],
        keys: "1".into(),
        language: "en".into(),
        arrived: now.wall - chrono::TimeDelta::minutes(20),
        waited_s: 0,
        tree: "t".into(),
        readback_node: None,
        called_back: None,
    };
    let number = NumberingPlan::default().check("3331234567").unwrap();
    let attempt = centralino::acd::CallBack {
        call: "asked".into(),
        section: "pensions".into(),
        number,
        operator: "mrossi".into(),
        attempt: 1,
        facts: Box::new(facts),
    };
    let mut call = CallBackCall::new(attempt, record(), Duration::from_secs(30), now);
    let drain = |c: &mut CallBackCall| std::iter::from_fn(|| c.poll_output()).collect::<Vec<_>>();
    let out = drain(&mut call);
    assert_eq!(out[0], Output::Answer);
    assert!(
        matches!(&out[1], Output::Play { lang: centralino::ivr::Lang::En, items } if format!("{items:?}").contains("callback_greeting"))
    );
    call.handle(Input::Key(Key('1')), now);
    let out = drain(&mut call);
    assert!(out.contains(&Output::CalledBack { section: "pensions".into() }), "{out:?}");
    assert_eq!(call.queue_id(), "asked");
    call.handle(Input::OperatorAnswered { operator: "mrossi".into() }, now);
    let out = drain(&mut call);
    let pop = out.iter().find_map(|o| match o {
        Output::ScreenPop(p) => Some(p.clone()),
        _ => None,
    });
    let pop = pop.expect("a screen-pop");
    assert_eq!(
        (pop.operator.as_str(), pop.called_back.as_deref(), pop.waited_s),
        ("mrossi", Some("+393331234567"), 1200)
    );
    assert_eq!(pop.path, ["main_menu", "pensions_queue"]);
    call.handle(Input::OperatorHangup, now);
    let out = drain(&mut call);
    assert!(out.contains(&Output::Leave) && out.ends_with(&[Output::Ended]), "{out:?}");
}

#[test]
fn a_citizen_who_never_presses_one_fails_the_attempt_after_three_greetings() {
    use centralino::calls::callback_call::CallBackCall;
    let t0 = Instant::now();
    let facts = centralino::vocabulary::CallPop {
        operator: String::new(),
        call_id: "asked".into(),
        origin: Default::default(),
        section: "pensions".into(),
        path: vec![],
        keys: String::new(),
        language: "it".into(),
        arrived: Utc::now(),
        waited_s: 0,
        tree: "t".into(),
        readback_node: None,
        called_back: None,
    };
    let attempt = centralino::acd::CallBack {
        call: "asked".into(),
        section: "pensions".into(),
        number: NumberingPlan::default().check("0773691001").unwrap(),
        operator: "mrossi".into(),
        attempt: 1,
        facts: Box::new(facts),
    };
    let mut call = CallBackCall::new(attempt, record(), Duration::from_secs(120), H::at(t0, t0));
    let mut greetings = 0;
    let mut t = t0;
    let mut all = vec![];
    while !call.is_ended() {
        let out: Vec<Output> = std::iter::from_fn(|| call.poll_output()).collect();
        greetings += out.iter().filter(|o| matches!(o, Output::Play { .. })).count();
        let played = out.iter().any(|o| matches!(o, Output::Play { .. }));
        all.extend(out);
        if played {
            call.handle(Input::PlaybackDone, H::at(t0, t));
        } else {
            t = call.poll_timeout().expect("a timer while the greeting waits");
            call.handle_timeout(H::at(t0, t));
        }
    }
    all.extend(std::iter::from_fn(|| call.poll_output()));
    assert_eq!(greetings, 3);
    assert!(
        all.contains(&Output::Tell(AcdEvent::CallbackFailed { call: "asked".into(), reason: "no key pressed".into() }))
    );
    assert!(!all.contains(&Output::Leave), "it never took the request's place");
    assert_eq!(call.record().ending, Ending::CallbackUnconfirmed { section: "pensions".into() });
}
