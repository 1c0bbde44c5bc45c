//! The voice-portal interpreter driven through the library API: small inline trees, explicit
//! events and explicit times, and precise assertions on the actions returned, the deadline,
//! the outcome and the trace.
//!
//! The interpreter only uses prompt *names*, never the catalogue's texts, so the test trees
//! leave `prompts:` empty. Times are given in Europe/Rome local time (as the schedules are
//! written) unless a test is about the UTC conversion itself.

use centralino::calendar::WeeklyHours;
use centralino::cases::ticket_number;
use centralino::ivr::{
    Action, CallFacts, Event, FoundAppointment, Key, Lang, LookupAnswer, Outcome, Service, Session, Time, Tree,
    Utterance, parse_tree,
};
use centralino::vocabulary::CallOrigin;
use chrono::{TimeDelta, TimeZone, Utc};
use chrono_tz::Europe::Rome;
use std::path::Path;
use std::sync::Arc;

// ============================================================================================
// Helpers
// ============================================================================================

/// The section the switchboard configuration would pass as its general section.
const GENERAL: &str = "config_general";

fn tree(yaml: &str) -> Arc<Tree> {
    match parse_tree(Path::new("t.yaml"), yaml) {
        Ok(t) => Arc::new(t),
        Err(e) => panic!("test tree does not parse: {e:?}"),
    }
}

/// A call to the Latina office number.
fn latina() -> CallFacts {
    let origin = CallOrigin {
        caller: "+393331234567".into(),
        number: "+390773691001".into(),
        province: Some("LT".into()),
        region: Some("lazio".into()),
    };
    CallFacts { origin, office_hours: None }
}

/// A call like [`latina`], with what `change` says instead.
fn latina_with(change: impl FnOnce(&mut CallOrigin)) -> CallFacts {
    let mut facts = latina();
    change(&mut facts.origin);
    facts
}

/// Mon-Fri 08:30-12:30.
fn office_hours() -> WeeklyHours {
    let morning = vec!["08:30-12:30".parse().unwrap()];
    WeeklyHours {
        mon: morning.clone(),
        tue: morning.clone(),
        wed: morning.clone(),
        thu: morning.clone(),
        fri: morning,
        ..Default::default()
    }
}

/// A wall-clock time in Italy.
fn rome(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Time {
    Rome.with_ymd_and_hms(y, mo, d, h, mi, 0).single().expect("an unambiguous local time").with_timezone(&Utc)
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Time {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Monday 23 November 2026, 10:00 in Rome: a working day, open in every schedule below.
fn monday_10() -> Time {
    rome(2026, 11, 23, 10, 0)
}

fn secs(n: i64) -> TimeDelta {
    TimeDelta::seconds(n)
}

fn p(name: &str) -> Utterance {
    Utterance::Prompt(name.into())
}

/// Built-in words, written space-separated.
fn words(ws: &str) -> Vec<Utterance> {
    ws.split_whitespace().map(|w| Utterance::Word(w.into())).collect()
}

/// Play one catalogue prompt in Italian.
fn play(name: &str) -> Action {
    play_in(Lang::It, vec![p(name)])
}

fn play_in(lang: Lang, items: Vec<Utterance>) -> Action {
    Action::Play { lang, items }
}

fn enqueue(section: &str) -> Action {
    Action::Enqueue { section: section.into() }
}

fn portal_hangup(node: &str, reason: Option<&str>) -> Outcome {
    Outcome::PortalHangup { node: node.into(), reason: reason.map(Into::into) }
}

/// One call: a session, the host's clock, and helpers that send an event and collect the
/// actions it returns.
struct Call {
    s: Session,
    now: Time,
}

impl Call {
    /// A call to Latina on a working Monday morning.
    fn new(yaml: &str) -> Self {
        Self::with(yaml, latina(), monday_10())
    }

    fn with(yaml: &str, facts: CallFacts, now: Time) -> Self {
        Self { s: Session::new(tree(yaml), facts, GENERAL), now }
    }

    fn send(&mut self, e: Event) -> Vec<Action> {
        self.s.handle(e, self.now)
    }

    fn start(&mut self) -> Vec<Action> {
        self.send(Event::Start)
    }

    fn key(&mut self, c: char) -> Vec<Action> {
        self.send(Event::Key(Key(c)))
    }

    /// Press several keys; all the actions, in order.
    fn keys(&mut self, ks: &str) -> Vec<Action> {
        ks.chars().flat_map(|c| self.key(c)).collect()
    }

    /// The playback finished.
    fn done(&mut self) -> Vec<Action> {
        self.send(Event::PlaybackDone)
    }

    fn wait(&mut self, n: i64) {
        self.now += secs(n);
    }

    /// Let the clock reach the deadline and send the timeout, as the host's timer would.
    fn timeout(&mut self) -> Vec<Action> {
        self.now = self.s.deadline().expect("the session waits for something");
        self.send(Event::Timeout)
    }

    fn lookup(&mut self, result: &str) -> Vec<Action> {
        self.send(Event::LookupResult(result.into()))
    }

    fn hang_up(&mut self) -> Vec<Action> {
        self.send(Event::CallerHangup)
    }

    fn path(&self) -> &[String] {
        &self.s.trace().path
    }

    fn outcome(&self) -> Option<&Outcome> {
        self.s.outcome()
    }
}

// ============================================================================================
// Node kinds
// ============================================================================================

const KINDS: &str = r#"
languages: [it, en]
start: main_menu
defaults:
  invalid_prompt: invalid_choice
nodes:
  main_menu:
    menu:
      prompt: main_menu
      options:
        "1": pensions_queue
        "2": income_support_queue
        "3": amount
        "4": jump
        "5": polite_goodbye
        "6": abrupt_end
  pensions_queue:
    queue:
      section: pensions
      prompt: queue_pensions
  income_support_queue:
    queue:
      section: income_support
  amount:
    collect:
      prompt: enter_amount
      min_digits: 1
      max_digits: 4
      var: amount
      next: office_info
  office_info:
    play:
      prompt: office_intro
      say:
        - office: address
        - prompt: office_hours_intro
        - office: hours
        - digits: amount
        - number: amount
      answer: office_info
      next: polite_goodbye
  jump:
    goto: abrupt_end
  polite_goodbye:
    hangup:
      prompt: goodbye
      reason: done_after_answer
  abrupt_end:
    hangup: {}
prompts: {}
"#;

#[test]
fn menu_plays_its_prompt_then_takes_an_option() {
    let mut c = Call::new(KINDS);
    assert_eq!(c.s.deadline(), None);
    assert_eq!(c.start(), [play("main_menu")]);
    assert_eq!(c.path(), ["main_menu"]);
    assert_eq!(c.s.deadline(), None, "no deadline while the prompt plays");
    assert_eq!(c.done(), []);
    assert_eq!(c.s.deadline(), Some(c.now + secs(6)));
    assert_eq!(c.key('2'), [enqueue("income_support")]);
    assert_eq!(c.outcome(), Some(&Outcome::Queued { section: "income_support".into() }));
    assert!(c.s.is_done());
    assert_eq!(c.s.deadline(), None);
    assert_eq!(c.path(), ["main_menu", "income_support_queue"]);
    assert_eq!(c.s.trace().keys, "2");
    assert!(c.s.trace().answers.is_empty());
}

#[test]
fn queue_with_prompt_plays_it_before_enqueueing() {
    let mut c = Call::new(KINDS);
    c.start();
    c.done();
    assert_eq!(c.key('1'), [play("queue_pensions")]);
    assert_eq!(c.outcome(), None, "not queued while the prompt plays");
    assert_eq!(c.done(), [enqueue("pensions")]);
    assert_eq!(c.outcome(), Some(&Outcome::Queued { section: "pensions".into() }));
    assert_eq!(c.path(), ["main_menu", "pensions_queue"]);
}

#[test]
fn play_speaks_prompts_office_facts_and_collected_digits() {
    let facts = CallFacts { office_hours: Some(office_hours()), ..latina() };
    let mut c = Call::with(KINDS, facts, monday_10());
    c.start();
    c.done();
    assert_eq!(c.key('3'), [play("enter_amount")]);
    c.done();
    assert_eq!(c.keys("202"), []);
    let mut items = vec![p("office_intro"), Utterance::OfficeAddress("LT".into()), p("office_hours_intro")];
    items.extend(words("from_day mon to_day fri from_time n8 and n30 to_time n12 and n30"));
    // The digits of "2026", then 2026 as a number.
    items.extend(words("n2 n0 n2 n6 n2000 n26"));
    assert_eq!(c.key('6'), [play_in(Lang::It, items)]);
    assert_eq!(c.s.var("amount"), Some("2026"));
    assert_eq!(c.s.trace().answers, ["office_info"]);
    assert_eq!(c.done(), [play("goodbye")]);
    assert_eq!(c.done(), [Action::Hangup]);
    assert_eq!(c.outcome(), Some(&portal_hangup("polite_goodbye", Some("done_after_answer"))));
    assert_eq!(c.path(), ["main_menu", "amount", "office_info", "polite_goodbye"]);
    assert_eq!(c.s.trace().keys, "32026");
}

#[test]
fn play_leaves_out_office_facts_the_call_does_not_have() {
    let facts = latina_with(|o| (o.province, o.region) = (None, None));
    let mut c = Call::with(KINDS, facts, monday_10());
    c.start();
    c.done();
    c.key('3');
    c.done();
    let mut items = vec![p("office_intro"), p("office_hours_intro")];
    // "77" digit by digit, then as a number.
    items.extend(words("n7 n7 n77"));
    assert_eq!(c.keys("77#"), [play_in(Lang::It, items)]);
}

#[test]
fn hangup_with_prompt_says_goodbye_then_hangs_up() {
    let mut c = Call::new(KINDS);
    c.start();
    c.done();
    assert_eq!(c.key('5'), [play("goodbye")]);
    assert!(!c.s.is_done());
    assert_eq!(c.done(), [Action::Hangup]);
    assert_eq!(c.outcome(), Some(&portal_hangup("polite_goodbye", Some("done_after_answer"))));
}

#[test]
fn hangup_without_prompt_and_goto() {
    let mut c = Call::new(KINDS);
    c.start();
    c.done();
    assert_eq!(c.key('4'), [Action::Hangup]);
    assert_eq!(c.outcome(), Some(&portal_hangup("abrupt_end", None)));
    assert_eq!(c.path(), ["main_menu", "jump", "abrupt_end"]);
    assert!(c.s.is_done());
}

// --- branch --------------------------------------------------------------------------------

const BRANCHES: &str = r#"
languages: [it, en]
start: by_number
nodes:
  by_number:
    branch:
      "on": number
      cases:
        "+39803164": national
      default: by_region
  by_region:
    branch:
      "on": region
      cases:
        valle_d_aosta: aosta
        lazio: by_province
      default: elsewhere
  by_province:
    branch:
      "on": province
      cases:
        RM: rome
        LT: latina
      default: elsewhere
  national: { hangup: { reason: national } }
  aosta: { hangup: { reason: aosta } }
  rome: { hangup: { reason: rome } }
  latina: { hangup: { reason: latina } }
  elsewhere: { hangup: { reason: elsewhere } }
prompts: {}
"#;

/// The leaf a call with these facts reaches, and the path it took.
fn branch_walk(facts: CallFacts) -> (String, Vec<String>) {
    let mut c = Call::with(BRANCHES, facts, monday_10());
    assert_eq!(c.start(), [Action::Hangup]);
    let Some(Outcome::PortalHangup { node, .. }) = c.outcome() else {
        panic!("unexpected outcome {:?}", c.outcome());
    };
    (node.clone(), c.path().to_vec())
}

#[test]
fn branch_on_number_region_and_province() {
    let national = latina_with(|o| o.number = "+39803164".into());
    assert_eq!(branch_walk(national), ("national".into(), vec!["by_number".into(), "national".into()]));
    assert_eq!(
        branch_walk(latina()),
        ("latina".into(), vec!["by_number".into(), "by_region".into(), "by_province".into(), "latina".into()])
    );
    let roma = latina_with(|o| (o.number, o.province) = ("+39065905".into(), Some("RM".into())));
    assert_eq!(branch_walk(roma).0, "rome");
    let aosta = latina_with(|o| {
        o.number = "+39016530".into();
        o.province = Some("AO".into());
        o.region = Some("valle_d_aosta".into());
    });
    assert_eq!(branch_walk(aosta).0, "aosta");
}

#[test]
fn branch_takes_default_for_unknown_or_missing_facts() {
    let frosinone = latina_with(|o| o.province = Some("FR".into()));
    assert_eq!(branch_walk(frosinone).0, "elsewhere", "unlisted province");
    let milano = latina_with(|o| (o.province, o.region) = (Some("MI".into()), Some("lombardia".into())));
    assert_eq!(branch_walk(milano).0, "elsewhere", "unlisted region");
    let unknown = latina_with(|o| (o.province, o.region) = (None, None));
    let (leaf, path) = branch_walk(unknown);
    assert_eq!(leaf, "elsewhere", "no region at all");
    assert_eq!(path, ["by_number", "by_region", "elsewhere"]);
    let lazio_without_province = latina_with(|o| o.province = None);
    assert_eq!(branch_walk(lazio_without_province).0, "elsewhere");
}

// --- lookup --------------------------------------------------------------------------------

const TICKETS: &str = r#"
languages: [it]
start: ticket_number
defaults:
  invalid_prompt: ticket_number_invalid
  timeout_prompt: no_input
nodes:
  ticket_number:
    collect:
      prompt: ticket_number
      min_digits: 9
      max_digits: 9
      check: ticket_number
      inter_digit_timeout: 5
      var: ticket
      next: ticket_lookup
  ticket_lookup:
    lookup:
      service: ticket_status
      input: ticket
      "on":
        open: status_open
        taken: status_taken
        answered: status_answered
        returned: status_returned
        not_found: status_not_found
        unavailable: status_unavailable
  status_open: { hangup: { reason: open } }
  status_taken: { hangup: { reason: taken } }
  status_answered: { hangup: { reason: answered } }
  status_returned: { hangup: { reason: returned } }
  status_not_found: { hangup: { reason: not_found } }
  status_unavailable: { hangup: { reason: unavailable } }
prompts: {}
"#;

/// A call that has typed a valid ticket number and waits for the lookup.
fn ticket_call(ticket: &str) -> Call {
    let mut c = Call::new(TICKETS);
    assert_eq!(c.start(), [play("ticket_number")]);
    c.done();
    let (body, last) = ticket.split_at(8);
    assert_eq!(c.keys(body), []);
    assert_eq!(c.keys(last), [Action::Lookup { service: Service::TicketStatus, input: Some(ticket.into()) }]);
    assert_eq!(c.s.deadline(), None, "no deadline while the lookup runs");
    c
}

#[test]
fn lookup_goes_on_by_each_result() {
    let ticket = ticket_number::from_sequence(4242);
    for result in ["open", "taken", "answered", "returned", "not_found", "unavailable"] {
        let mut c = ticket_call(&ticket);
        assert_eq!(c.lookup(result), [Action::Hangup], "{result}");
        let leaf = format!("status_{result}");
        assert_eq!(c.outcome(), Some(&portal_hangup(&leaf, Some(result))), "{result}");
        assert_eq!(c.path(), ["ticket_number", "ticket_lookup", leaf.as_str()]);
    }
}

#[test]
fn lookup_unknown_result_falls_back_to_unavailable() {
    let mut c = ticket_call(&ticket_number::from_sequence(4242));
    assert_eq!(c.lookup("exploded"), [Action::Hangup]);
    assert_eq!(c.outcome(), Some(&portal_hangup("status_unavailable", Some("unavailable"))));
}

#[test]
fn lookup_without_its_input_variable_is_unavailable_at_once() {
    let yaml = TICKETS.replace("start: ticket_number", "start: ticket_lookup");
    let mut c = Call::new(&yaml);
    assert_eq!(c.start(), [Action::Hangup], "no Lookup action is sent");
    assert_eq!(c.path(), ["ticket_lookup", "status_unavailable"]);
    assert_eq!(c.outcome(), Some(&portal_hangup("status_unavailable", Some("unavailable"))));
}

// ============================================================================================
// Barge-in and type-ahead
// ============================================================================================

const MENUS: &str = r#"
languages: [it, en]
start: welcome
defaults:
  invalid_prompt: invalid_choice
  timeout_prompt: no_input
nodes:
  welcome:
    play:
      prompt: welcome
      next: main_menu
  privacy_notice:
    play:
      prompt: privacy_notice
      barge_in: false
      next: main_menu
  main_menu:
    menu:
      prompt: main_menu
      options:
        "1": pensions_menu
        "2": pensions_queue
        "3": ticket_number
  pensions_menu:
    menu:
      prompt: pensions_menu
      section: pensions
      options:
        "1": pension_dates
        "2": pensions_queue
        "*": main_menu
  pension_dates:
    play:
      prompt: pension_dates
      answer: pension_dates
      section: pensions
      next: pension_dates_after
  pension_dates_after:
    menu:
      prompt: after_answer
      section: pensions
      options: { "1": pension_dates, "2": main_menu }
  pensions_queue:
    queue:
      section: pensions
  ticket_number:
    collect:
      prompt: ticket_number
      min_digits: 9
      max_digits: 9
      check: ticket_number
      var: ticket
      next: ticket_read
  ticket_read:
    play:
      prompt: ticket_request_intro
      say: [{ digits: ticket }]
      next: main_menu
prompts: {}
"#;

/// The MENUS tree entered at the non-interruptible privacy notice.
fn menus_from_notice() -> String {
    MENUS.replace("start: welcome", "start: privacy_notice")
}

/// The words of a digit string.
fn digit_words(s: &str) -> Vec<Utterance> {
    s.chars().map(|c| Utterance::Word(format!("n{c}"))).collect()
}

#[test]
fn key_during_a_menu_prompt_stops_it_and_takes_the_option() {
    let mut c = Call::new(MENUS);
    assert_eq!(c.start(), [play("welcome")]);
    assert_eq!(c.done(), [play("main_menu")]);
    assert_eq!(c.key('1'), [Action::StopPlayback, play("pensions_menu")], "stopped at once, no deadline reached");
    assert_eq!(c.path(), ["welcome", "main_menu", "pensions_menu"]);
    assert_eq!(c.s.deadline(), None);
}

#[test]
fn key_during_a_barge_in_play_skips_it_and_the_next_menu_prompt() {
    let mut c = Call::new(MENUS);
    assert_eq!(c.start(), [play("welcome")]);
    // The main menu's prompt is never played: the key is its answer.
    assert_eq!(c.key('1'), [Action::StopPlayback, play("pensions_menu")]);
    assert_eq!(c.path(), ["welcome", "main_menu", "pensions_menu"]);
    assert_eq!(c.s.trace().keys, "1");
}

#[test]
fn announcement_without_barge_in_plays_to_the_end_and_keeps_the_key() {
    let mut c = Call::new(&menus_from_notice());
    assert_eq!(c.start(), [play("privacy_notice")]);
    assert_eq!(c.key('1'), [], "no StopPlayback, nothing else");
    assert_eq!(c.path(), ["privacy_notice"]);
    assert_eq!(c.s.deadline(), None);
    // At the end the menu takes the kept key at once, without its prompt.
    assert_eq!(c.done(), [play("pensions_menu")]);
    assert_eq!(c.path(), ["privacy_notice", "main_menu", "pensions_menu"]);
}

#[test]
fn operator_key_during_an_announcement_without_barge_in_is_not_kept() {
    let mut c = Call::new(&menus_from_notice());
    c.start();
    assert_eq!(c.key('0'), [Action::StopPlayback, enqueue(GENERAL)]);
    assert_eq!(c.path(), ["privacy_notice"]);
}

#[test]
fn type_ahead_crosses_several_menus() {
    let mut c = Call::new(&menus_from_notice());
    c.start();
    assert_eq!(c.keys("11"), []);
    // Neither the main menu's nor the pensions menu's prompt is played.
    assert_eq!(c.done(), [play("pension_dates")]);
    assert_eq!(c.path(), ["privacy_notice", "main_menu", "pensions_menu", "pension_dates"]);
    assert_eq!(c.s.trace().answers, ["pension_dates"]);
    assert_eq!(c.s.trace().keys, "11");
}

#[test]
fn typing_ahead_past_an_answer_skips_it_unheard() {
    let mut c = Call::new(&menus_from_notice());
    c.start();
    c.keys("112");
    // "2" in pension_dates_after leads back to the main menu, whose prompt now plays.
    assert_eq!(c.done(), [play("main_menu")]);
    assert_eq!(
        c.path(),
        ["privacy_notice", "main_menu", "pensions_menu", "pension_dates", "pension_dates_after", "main_menu"]
    );
    assert!(c.s.trace().answers.is_empty(), "the answer was skipped, not given");
}

#[test]
fn collect_consumes_typed_ahead_digits() {
    // No "0" in it: during an announcement the operator key would take the call away.
    let ticket = ticket_number::from_sequence(87_654_321);
    assert!(!ticket.contains('0'));
    let mut c = Call::new(&menus_from_notice());
    c.start();
    assert_eq!(c.keys(&format!("3{ticket}")), []);
    let mut items = vec![p("ticket_request_intro")];
    items.extend(digit_words(&ticket));
    assert_eq!(c.done(), [play_in(Lang::It, items)]);
    assert_eq!(c.s.var("ticket"), Some(ticket.as_str()));
    assert_eq!(c.path(), ["privacy_notice", "main_menu", "ticket_number", "ticket_read"]);
}

#[test]
fn collect_keeps_a_partial_type_ahead_and_waits_for_the_rest() {
    let ticket = ticket_number::from_sequence(12_345_678);
    assert!(ticket.starts_with("12") && !ticket.contains('0'));
    let mut c = Call::new(&menus_from_notice());
    c.start();
    c.keys("312");
    c.wait(2);
    assert_eq!(c.done(), [], "the collect prompt is not played");
    assert_eq!(c.path(), ["privacy_notice", "main_menu", "ticket_number"]);
    // The inter-digit timeout (default 4 s) runs from the typed-ahead digits.
    assert_eq!(c.s.deadline(), Some(c.now + secs(4)));
    assert_eq!(c.keys(&ticket[2..8]), []);
    let mut items = vec![p("ticket_request_intro")];
    items.extend(digit_words(&ticket));
    assert_eq!(c.key(ticket.chars().last().unwrap()), [play_in(Lang::It, items)]);
    assert_eq!(c.s.var("ticket"), Some(ticket.as_str()));
}

#[test]
fn an_invalid_key_clears_the_type_ahead() {
    let mut c = Call::new(&menus_from_notice());
    c.start();
    c.keys("71");
    assert_eq!(c.done(), [play("invalid_choice")]);
    // The "1" typed after the wrong key is dropped: the menu asks again.
    assert_eq!(c.done(), [play("main_menu")]);
    assert_eq!(c.path(), ["privacy_notice", "main_menu"]);
    assert_eq!(c.s.trace().keys, "71");
}

// ============================================================================================
// Timeouts
// ============================================================================================

/// Two menus in a row, with the given extra lines under `defaults:` and under the first menu.
fn timeout_tree(defaults: &str, menu: &str) -> String {
    format!(
        r#"
languages: [it]
start: main_menu
defaults:
  timeout_prompt: no_input
{defaults}
nodes:
  main_menu:
    menu:
      prompt: main_menu
      options: {{ "1": second_menu }}
{menu}
  second_menu:
    menu:
      prompt: second_menu
      options: {{ "1": bye }}
  bye:
    hangup: {{}}
prompts: {{}}
"#
    )
}

#[test]
fn deadline_is_set_after_the_prompt_with_the_built_in_6_seconds() {
    let mut c = Call::new(&timeout_tree("", ""));
    c.start();
    c.wait(3);
    assert_eq!(c.s.deadline(), None);
    assert_eq!(c.done(), []);
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(3 + 6)));
}

#[test]
fn deadline_uses_the_tree_default_timeout() {
    let mut c = Call::new(&timeout_tree("  timeout: 9", ""));
    c.start();
    c.wait(3);
    c.done();
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(3 + 9)));
    // The second menu has no timeout of its own either.
    c.key('1');
    c.wait(1);
    c.done();
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(4 + 9)));
}

#[test]
fn deadline_uses_the_node_timeout_over_the_default() {
    let mut c = Call::new(&timeout_tree("  timeout: 9", "      timeout: 3"));
    c.start();
    c.done();
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(3)));
    c.key('1');
    c.done();
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(9)));
}

#[test]
fn a_timeout_before_the_deadline_is_ignored() {
    let mut c = Call::new(&timeout_tree("", ""));
    c.start();
    c.done();
    let deadline = c.s.deadline().unwrap();
    c.now = deadline - secs(1);
    assert_eq!(c.send(Event::Timeout), []);
    assert_eq!(c.s.deadline(), Some(deadline));
    c.now = deadline;
    assert_eq!(c.send(Event::Timeout), [play("no_input")]);
    assert_eq!(c.s.deadline(), None);
}

#[test]
fn a_stale_timeout_after_a_key_is_ignored() {
    let mut c = Call::new(&timeout_tree("", ""));
    c.start();
    c.done();
    let first_deadline = c.s.deadline().unwrap();
    c.wait(2);
    assert_eq!(c.key('1'), [play("second_menu")]);
    assert_eq!(c.s.deadline(), None);
    // The host's timer for the first menu fires while the second prompt plays...
    c.now = first_deadline;
    assert_eq!(c.send(Event::Timeout), []);
    // ...and while the second menu waits, before its own deadline.
    let mut c = Call::new(&timeout_tree("", ""));
    c.start();
    c.done();
    let first_deadline = c.s.deadline().unwrap();
    c.wait(2);
    c.key('1');
    c.wait(1);
    c.done();
    let second_deadline = c.s.deadline().unwrap();
    assert_eq!(second_deadline, monday_10() + secs(3 + 6));
    c.now = first_deadline;
    assert_eq!(c.send(Event::Timeout), []);
    assert_eq!(c.s.deadline(), Some(second_deadline));
    assert_eq!(c.path(), ["main_menu", "second_menu"]);
}

// ============================================================================================
// Retries
// ============================================================================================

const RETRY: &str = r#"
languages: [it]
start: main_menu
defaults:
  invalid_prompt: invalid_choice
  timeout_prompt: no_input
nodes:
  main_menu:
    menu:
      prompt: main_menu
      options: { "1": bye }
  bye:
    hangup:
      reason: chose
prompts: {}
"#;

#[test]
fn invalid_key_plays_the_notice_then_the_prompt_again() {
    let mut c = Call::new(RETRY);
    c.start();
    c.done();
    assert_eq!(c.key('9'), [play("invalid_choice")], "nothing to stop");
    assert_eq!(c.s.deadline(), None);
    c.wait(2);
    assert_eq!(c.done(), [play("main_menu")]);
    assert_eq!(c.s.deadline(), None);
    c.wait(5);
    assert_eq!(c.done(), []);
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(7 + 6)));
    assert_eq!(c.key('1'), [Action::Hangup]);
    assert_eq!(c.outcome(), Some(&portal_hangup("bye", Some("chose"))));
    assert_eq!(c.path(), ["main_menu", "bye"]);
    assert_eq!(c.s.trace().keys, "91");
}

#[test]
fn invalid_key_during_the_prompt_stops_it_first() {
    let mut c = Call::new(RETRY);
    c.start();
    assert_eq!(c.key('#'), [Action::StopPlayback, play("invalid_choice")]);
}

#[test]
fn silence_plays_the_timeout_notice_then_the_prompt_again() {
    let mut c = Call::new(RETRY);
    c.start();
    c.done();
    assert_eq!(c.timeout(), [play("no_input")]);
    assert_eq!(c.done(), [play("main_menu")]);
    assert_eq!(c.done(), []);
    assert!(c.s.deadline().is_some());
}

#[test]
fn without_notices_the_prompt_is_simply_repeated() {
    let yaml = RETRY.replace("defaults:\n  invalid_prompt: invalid_choice\n  timeout_prompt: no_input\n", "");
    assert!(!yaml.contains("defaults"));
    let mut c = Call::new(&yaml);
    c.start();
    c.done();
    assert_eq!(c.key('9'), [play("main_menu")]);
    assert_eq!(c.done(), []);
    assert_eq!(c.timeout(), [play("main_menu")]);
}

#[test]
fn retries_exhausted_without_on_exhausted_hangs_up() {
    let mut c = Call::new(RETRY);
    c.start();
    c.done();
    // Default: 2 extra attempts; wrong keys and silence count together.
    assert_eq!(c.key('9'), [play("invalid_choice")]);
    c.done();
    c.done();
    assert_eq!(c.timeout(), [play("no_input")]);
    c.done();
    c.done();
    assert!(!c.s.is_done());
    assert_eq!(c.key('9'), [Action::Hangup]);
    assert_eq!(c.outcome(), Some(&portal_hangup("main_menu", Some("retries exhausted"))));
    assert_eq!(c.s.deadline(), None);
    assert_eq!(c.path(), ["main_menu"]);
}

const EXHAUSTED: &str = r#"
languages: [it]
start: main_menu
defaults:
  retries: 3
  invalid_prompt: invalid_choice
  on_exhausted: goodbye_exhausted
nodes:
  main_menu:
    menu:
      prompt: main_menu
      options: { "1": strict_menu }
  strict_menu:
    menu:
      prompt: strict_menu
      retries: 1
      on_exhausted: strict_goodbye
      options: { "1": main_menu }
  goodbye_exhausted:
    hangup:
      prompt: goodbye_exhausted
      reason: no_valid_choice
  strict_goodbye:
    hangup:
      reason: strict
prompts: {}
"#;

/// Press a wrong key and listen to the notice and the prompt again.
fn fail_once(c: &mut Call) -> Vec<Action> {
    let a = c.key('8');
    if a == [play("invalid_choice")] {
        c.done();
        c.done();
    }
    a
}

#[test]
fn retries_exhausted_goes_to_the_default_on_exhausted_node() {
    let mut c = Call::new(EXHAUSTED);
    c.start();
    c.done();
    for _ in 0..3 {
        assert_eq!(fail_once(&mut c), [play("invalid_choice")]);
    }
    assert_eq!(fail_once(&mut c), [play("goodbye_exhausted")]);
    assert_eq!(c.done(), [Action::Hangup]);
    assert_eq!(c.outcome(), Some(&portal_hangup("goodbye_exhausted", Some("no_valid_choice"))));
    assert_eq!(c.path(), ["main_menu", "goodbye_exhausted"]);
}

#[test]
fn retries_and_on_exhausted_of_the_node_win_over_the_defaults() {
    let mut c = Call::new(EXHAUSTED);
    c.start();
    c.done();
    c.key('1');
    c.done();
    assert_eq!(fail_once(&mut c), [play("invalid_choice")]);
    assert_eq!(fail_once(&mut c), [Action::Hangup]);
    assert_eq!(c.outcome(), Some(&portal_hangup("strict_goodbye", Some("strict"))));
    assert_eq!(c.path(), ["main_menu", "strict_menu", "strict_goodbye"]);
}

#[test]
fn attempts_start_again_in_each_menu() {
    let mut c = Call::new(EXHAUSTED);
    c.start();
    c.done();
    // Two failures in the main menu do not count in the strict menu.
    fail_once(&mut c);
    fail_once(&mut c);
    c.key('1');
    c.done();
    assert_eq!(fail_once(&mut c), [play("invalid_choice")]);
}

// ============================================================================================
// Collect
// ============================================================================================

const COLLECT: &str = r#"
languages: [it]
start: code
defaults:
  invalid_prompt: invalid_choice
  timeout_prompt: no_input
nodes:
  code:
    collect:
      prompt: enter_code
      min_digits: 3
      max_digits: 5
      timeout: 10
      var: code
      next: code_read
  code_read:
    play:
      prompt: you_typed
      say: [{ digits: code }]
      next: bye
  bye:
    hangup: {}
prompts: {}
"#;

fn code_read(code: &str) -> Action {
    let mut items = vec![p("you_typed")];
    items.extend(digit_words(code));
    play_in(Lang::It, items)
}

#[test]
fn collect_completes_at_max_digits() {
    let mut c = Call::new(COLLECT);
    assert_eq!(c.start(), [play("enter_code")]);
    c.done();
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(10)));
    c.wait(1);
    assert_eq!(c.key('1'), []);
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(1 + 4)), "default inter-digit timeout");
    assert_eq!(c.keys("234"), []);
    assert_eq!(c.s.var("code"), None);
    assert_eq!(c.key('5'), [code_read("12345")]);
    assert_eq!(c.s.var("code"), Some("12345"));
    assert_eq!(c.path(), ["code", "code_read"]);
}

#[test]
fn first_digit_during_the_prompt_stops_it() {
    let mut c = Call::new(COLLECT);
    c.start();
    assert_eq!(c.key('4'), [Action::StopPlayback]);
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(4)));
    assert_eq!(c.done(), [], "a late PlaybackDone changes nothing");
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(4)));
}

#[test]
fn the_default_terminator_ends_the_input() {
    let mut c = Call::new(COLLECT);
    c.start();
    c.done();
    assert_eq!(c.keys("123#"), [code_read("123")]);
    assert_eq!(c.s.var("code"), Some("123"));
    assert_eq!(c.s.trace().keys, "123#");
}

#[test]
fn too_few_digits_are_rejected_and_asked_again_from_scratch() {
    let mut c = Call::new(COLLECT);
    c.start();
    c.done();
    assert_eq!(c.keys("12#"), [play("invalid_choice")]);
    assert_eq!(c.s.var("code"), None);
    assert_eq!(c.s.deadline(), None);
    assert_eq!(c.done(), [play("enter_code")]);
    c.done();
    // The digits typed before the retry are gone.
    assert_eq!(c.keys("456#"), [code_read("456")]);
    assert_eq!(c.s.var("code"), Some("456"));
}

#[test]
fn inter_digit_timeout_completes_the_input_when_long_enough() {
    let mut c = Call::new(COLLECT);
    c.start();
    c.done();
    c.keys("123");
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(4)));
    assert_eq!(c.timeout(), [code_read("123")]);
    assert_eq!(c.s.var("code"), Some("123"));
}

#[test]
fn inter_digit_timeout_with_too_few_digits_is_a_retry() {
    let mut c = Call::new(COLLECT);
    c.start();
    c.done();
    c.keys("12");
    assert_eq!(c.timeout(), [play("invalid_choice")]);
    assert_eq!(c.s.var("code"), None);
}

#[test]
fn silence_before_the_first_digit_is_a_timeout_retry() {
    let mut c = Call::new(COLLECT);
    c.start();
    c.done();
    assert_eq!(c.timeout(), [play("no_input")]);
    assert_eq!(c.now, monday_10() + secs(10));
}

#[test]
fn star_is_not_a_digit_and_zero_is_not_the_operator_in_a_collect() {
    let mut c = Call::new(COLLECT);
    c.start();
    c.done();
    assert_eq!(c.keys("12*"), [play("invalid_choice")]);
    c.done();
    c.done();
    // The operator key is off by default in collect nodes: "0" is a digit.
    assert_eq!(c.keys("007#"), [code_read("007")]);
    assert_eq!(c.outcome(), None);
}

#[test]
fn a_custom_terminator_replaces_the_hash() {
    let yaml = COLLECT.replace("      timeout: 10\n", "      timeout: 10\n      terminator: \"*\"\n");
    let mut c = Call::new(&yaml);
    c.start();
    c.done();
    assert_eq!(c.keys("123#"), [play("invalid_choice")], "# is not a digit");
    c.done();
    c.done();
    assert_eq!(c.keys("123*"), [code_read("123")]);
}

#[test]
fn ticket_numbers_are_checked() {
    let ticket = ticket_number::from_sequence(4242);
    ticket_call(&ticket);
    for i in 0..ticket.len() {
        let mut wrong = ticket.clone().into_bytes();
        wrong[i] = b'0' + (wrong[i] - b'0' + 1) % 10;
        let wrong = String::from_utf8(wrong).unwrap();
        let mut c = Call::new(TICKETS);
        c.start();
        c.done();
        assert_eq!(c.keys(&wrong), [play("ticket_number_invalid")], "{wrong} (digit {i} changed) must be rejected");
        assert_eq!(c.s.var("ticket"), None);
        assert_eq!(c.path(), ["ticket_number"]);
    }
}

#[test]
fn ticket_collect_uses_its_inter_digit_timeout() {
    let mut c = Call::new(TICKETS);
    c.start();
    c.done();
    c.wait(3);
    c.key('0');
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(3 + 5)));
}

const PHONE: &str = r#"
languages: [it]
start: phone
defaults:
  invalid_prompt: invalid_phone
nodes:
  phone:
    collect:
      prompt: enter_phone
      min_digits: 1
      max_digits: 11
      check: phone_number
      var: phone
      next: bye
  bye:
    hangup: {}
prompts: {}
"#;

#[test]
fn phone_numbers_are_checked() {
    for ok in ["0773691001", "3331234567", "061234"] {
        let mut c = Call::new(PHONE);
        c.start();
        c.done();
        assert_eq!(c.keys(&format!("{ok}#")), [Action::Hangup], "{ok}");
        assert_eq!(c.s.var("phone"), Some(ok));
    }
    for bad in ["5551234567", "01234", "8"] {
        let mut c = Call::new(PHONE);
        c.start();
        c.done();
        assert_eq!(c.keys(&format!("{bad}#")), [play("invalid_phone")], "{bad}");
        assert_eq!(c.s.var("phone"), None);
    }
}

// ============================================================================================
// The operator key
// ============================================================================================

const OPERATOR: &str = r#"
languages: [it]
start: main_menu
operator:
  section: general_info
defaults:
  invalid_prompt: invalid_choice
nodes:
  main_menu:
    menu:
      prompt: main_menu
      options:
        "1": pensions_menu
        "2": no_operator_menu
        "3": zero_menu
        "4": code
        "5": office_info
  pensions_menu:
    menu:
      prompt: pensions_menu
      section: pensions
      options:
        "*": main_menu
  no_operator_menu:
    menu:
      prompt: no_operator_menu
      operator: false
      options: { "1": main_menu }
  zero_menu:
    menu:
      prompt: zero_menu
      operator: false
      options: { "0": main_menu }
  code:
    collect:
      prompt: enter_code
      min_digits: 1
      max_digits: 4
      var: code
      next: main_menu
  office_info:
    play:
      prompt: office_info
      section: offices
      next: main_menu
prompts: {}
"#;

/// An OPERATOR call waiting in the main menu.
fn operator_call(yaml: &str) -> Call {
    let mut c = Call::new(yaml);
    c.start();
    c.done();
    c
}

#[test]
fn operator_key_queues_to_the_section_of_the_menu() {
    let mut c = operator_call(OPERATOR);
    c.key('1');
    assert_eq!(c.key('0'), [Action::StopPlayback, enqueue("pensions")]);
    assert_eq!(c.outcome(), Some(&Outcome::Queued { section: "pensions".into() }));
    assert_eq!(c.path(), ["main_menu", "pensions_menu"]);
}

#[test]
fn operator_key_in_a_menu_without_section_uses_the_tree_section() {
    let mut c = operator_call(OPERATOR);
    assert_eq!(c.key('0'), [enqueue("general_info")]);
    // Also after visiting a menu with a section and coming back.
    let mut c = operator_call(OPERATOR);
    c.key('1');
    c.key('*');
    assert_eq!(c.path(), ["main_menu", "pensions_menu", "main_menu"]);
    assert_eq!(c.key('0'), [Action::StopPlayback, enqueue("general_info")]);
}

#[test]
fn operator_key_without_any_section_uses_the_general_section() {
    let yaml = OPERATOR.replace("operator:\n  section: general_info\n", "");
    let mut c = operator_call(&yaml);
    assert_eq!(c.key('0'), [enqueue(GENERAL)]);
    assert_eq!(c.outcome(), Some(&Outcome::Queued { section: GENERAL.into() }));
}

#[test]
fn operator_key_during_an_announcement_uses_its_section() {
    let mut c = operator_call(OPERATOR);
    assert_eq!(c.key('5'), [play("office_info")]);
    assert_eq!(c.key('0'), [Action::StopPlayback, enqueue("offices")]);
}

#[test]
fn operator_key_turned_off_is_an_invalid_key() {
    let mut c = operator_call(OPERATOR);
    c.key('2');
    assert_eq!(c.key('0'), [Action::StopPlayback, play("invalid_choice")]);
    assert_eq!(c.outcome(), None);
}

#[test]
fn operator_key_turned_off_can_be_an_option() {
    let mut c = operator_call(OPERATOR);
    c.key('3');
    assert_eq!(c.key('0'), [Action::StopPlayback, play("main_menu")]);
    assert_eq!(c.path(), ["main_menu", "zero_menu", "main_menu"]);
    assert_eq!(c.outcome(), None);
}

#[test]
fn operator_key_is_off_by_default_in_collect() {
    let mut c = operator_call(OPERATOR);
    c.key('4');
    assert_eq!(c.keys("0"), [Action::StopPlayback]);
    assert_eq!(c.keys("#"), [play("main_menu")]);
    assert_eq!(c.s.var("code"), Some("0"));
    assert_eq!(c.outcome(), None);
}

#[test]
fn operator_key_can_be_turned_on_in_collect() {
    let yaml = OPERATOR
        .replace("operator:\n  section: general_info\n", "operator:\n  key: \"*\"\n  section: general_info\n")
        .replace("      var: code\n", "      var: code\n      operator: true\n");
    let mut c = operator_call(&yaml);
    c.key('4');
    c.done();
    assert_eq!(c.keys("12"), []);
    assert_eq!(c.key('*'), [enqueue("general_info")]);
    assert_eq!(c.s.var("code"), None);
}

const OPERATOR_HOURS: &str = r#"
languages: [it]
start: main_menu
operator:
  section: general_info
  prompt: operator_transfer
  schedule: contact_center
  closed: operator_closed
schedules:
  contact_center:
    hours:
      mon: ["08:00-20:00"]
      tue: ["08:00-20:00"]
      wed: ["08:00-20:00"]
      thu: ["08:00-20:00"]
      fri: ["08:00-20:00"]
nodes:
  main_menu:
    menu:
      prompt: main_menu
      options:
        "1": pensions_queue
  pensions_queue:
    queue:
      section: pensions
      prompt: queue_pensions
  operator_closed:
    play:
      prompt: operator_closed
      next: main_menu
prompts: {}
"#;

#[test]
fn operator_prompt_is_played_before_enqueueing() {
    let mut c = Call::new(OPERATOR_HOURS);
    c.start();
    assert_eq!(c.key('0'), [Action::StopPlayback, play("operator_transfer")]);
    assert_eq!(c.outcome(), None);
    assert_eq!(c.keys("15"), [], "the transfer notice cannot be interrupted");
    assert_eq!(c.done(), [enqueue("general_info")]);
    assert_eq!(c.outcome(), Some(&Outcome::Queued { section: "general_info".into() }));
}

#[test]
fn queue_node_plays_its_own_prompt_not_the_operator_prompt() {
    let mut c = Call::new(OPERATOR_HOURS);
    c.start();
    assert_eq!(c.key('1'), [Action::StopPlayback, play("queue_pensions")]);
    assert_eq!(c.done(), [enqueue("pensions")]);
}

#[test]
fn outside_operator_hours_the_call_goes_to_the_closed_node() {
    let sunday = rome(2026, 11, 22, 11, 0);
    let mut c = Call::with(OPERATOR_HOURS, latina(), sunday);
    c.start();
    assert_eq!(c.key('0'), [Action::StopPlayback, play("operator_closed")]);
    assert_eq!(c.path(), ["main_menu", "operator_closed"]);
    assert_eq!(c.done(), [play("main_menu")]);
    // A queue node is closed too, and its prompt is not played.
    c.done();
    assert_eq!(c.key('1'), [play("operator_closed")]);
    assert_eq!(c.path(), ["main_menu", "operator_closed", "main_menu", "pensions_queue", "operator_closed"]);
    assert_eq!(c.outcome(), None);
}

#[test]
fn operator_hours_follow_the_clock_of_each_event() {
    // The call starts before opening and asks for an operator after it.
    let mut c = Call::with(OPERATOR_HOURS, latina(), rome(2026, 11, 23, 7, 59));
    c.start();
    c.done();
    c.now = rome(2026, 11, 23, 8, 0);
    assert_eq!(c.key('0'), [play("operator_transfer")]);
}

// ============================================================================================
// Schedules
// ============================================================================================

const SCHEDULES: &str = r#"
languages: [it]
start: hours_check
schedules:
  contact_center:
    hours:
      mon: ["08:00-20:00"]
      tue: ["08:00-20:00"]
      wed: ["08:00-20:00"]
      thu: ["08:00-20:00"]
      fri: ["08:00-20:00"]
      sat: ["08:00-14:00"]
    closed_dates: ["2026-12-24"]
nodes:
  hours_check:
    schedule:
      schedule: contact_center
      open: open
      closed: closed
  open:
    hangup:
      reason: open
  closed:
    hangup:
      reason: closed
prompts: {}
"#;

/// Whether a call at `now` finds the contact center open.
fn open_at(yaml: &str, now: Time) -> bool {
    let mut c = Call::with(yaml, latina(), now);
    assert_eq!(c.start(), [Action::Hangup]);
    match c.outcome() {
        Some(Outcome::PortalHangup { node, .. }) if node == "open" => {
            assert_eq!(c.path(), ["hours_check", "open"]);
            true
        }
        Some(Outcome::PortalHangup { node, .. }) if node == "closed" => {
            assert_eq!(c.path(), ["hours_check", "closed"]);
            false
        }
        other => panic!("unexpected outcome {other:?}"),
    }
}

#[test]
fn schedule_weekdays_and_saturday() {
    assert!(open_at(SCHEDULES, rome(2026, 11, 21, 10, 0)), "Saturday 10:00");
    assert!(open_at(SCHEDULES, rome(2026, 11, 21, 13, 59)), "Saturday 13:59");
    assert!(!open_at(SCHEDULES, rome(2026, 11, 21, 14, 0)), "Saturday 14:00");
    assert!(!open_at(SCHEDULES, rome(2026, 11, 21, 15, 0)), "Saturday 15:00");
    assert!(!open_at(SCHEDULES, rome(2026, 11, 22, 10, 0)), "Sunday");
    assert!(!open_at(SCHEDULES, rome(2026, 11, 23, 7, 59)), "Monday 07:59");
    assert!(open_at(SCHEDULES, rome(2026, 11, 23, 8, 0)), "Monday 08:00");
    assert!(open_at(SCHEDULES, rome(2026, 11, 23, 19, 59)), "Monday 19:59");
    assert!(!open_at(SCHEDULES, rome(2026, 11, 23, 20, 0)), "Monday 20:00");
}

#[test]
fn schedule_closed_on_national_holidays_and_closed_dates() {
    assert!(!open_at(SCHEDULES, rome(2026, 12, 8, 10, 0)), "Tuesday 8 December, Immacolata");
    assert!(open_at(SCHEDULES, rome(2026, 12, 9, 10, 0)), "the day after");
    assert!(!open_at(SCHEDULES, rome(2026, 4, 6, 10, 0)), "Easter Monday 2026");
    assert!(open_at(SCHEDULES, rome(2026, 4, 7, 10, 0)), "Easter Tuesday");
    assert!(!open_at(SCHEDULES, rome(2026, 12, 24, 10, 0)), "Thursday 24 December, a closed date");
    assert!(open_at(SCHEDULES, rome(2026, 12, 23, 10, 0)));
}

#[test]
fn schedule_can_ignore_national_holidays() {
    let yaml = SCHEDULES.replace("    closed_dates:", "    national_holidays: false\n    closed_dates:");
    assert!(open_at(&yaml, rome(2026, 12, 8, 10, 0)), "Immacolata");
    assert!(open_at(&yaml, rome(2026, 4, 6, 10, 0)), "Easter Monday");
    assert!(!open_at(&yaml, rome(2026, 12, 24, 10, 0)), "closed date");
}

#[test]
fn schedule_is_read_in_italian_time_summer_and_winter() {
    // Summer time (UTC+2): 07:30 UTC is 09:30 in Rome, 18:30 UTC is 20:30.
    assert!(open_at(SCHEDULES, utc(2026, 7, 1, 7, 30)));
    assert!(!open_at(SCHEDULES, utc(2026, 7, 1, 18, 30)));
    assert!(!open_at(SCHEDULES, utc(2026, 7, 1, 5, 59)));
    assert!(open_at(SCHEDULES, utc(2026, 7, 1, 6, 0)));
    // Winter time (UTC+1): 07:00 UTC is 08:00 in Rome.
    assert!(!open_at(SCHEDULES, utc(2026, 11, 23, 6, 59)));
    assert!(open_at(SCHEDULES, utc(2026, 11, 23, 7, 0)));
    // Late on Friday in UTC is already Saturday in Rome: Saturday hours apply.
    assert!(!open_at(SCHEDULES, utc(2026, 11, 20, 23, 30)));
    // Sunday 00:30 in Rome is still Saturday 23:30 in UTC: closed all the same.
    assert!(!open_at(SCHEDULES, utc(2026, 11, 21, 23, 30)));
}

// ============================================================================================
// Language
// ============================================================================================

const LANGUAGES: &str = r#"
languages: [it, en]
start: choose
nodes:
  choose:
    language:
      prompt: language_choice
      options:
        "1": it
        "2": en
      timeout: 5
      next: by_language
  by_language:
    branch:
      "on": language
      cases:
        en: english_welcome
      default: main_menu
  english_welcome:
    play:
      prompt: welcome_en
      next: main_menu
  main_menu:
    menu:
      prompt: main_menu
      options:
        "1": office
        "9": choose
  office:
    play:
      prompt: office_hours_intro
      say: [{ office: hours }]
      next: bye
  bye:
    hangup:
      prompt: goodbye
prompts: {}
"#;

fn language_call() -> Call {
    let facts = CallFacts { office_hours: Some(office_hours()), ..latina() };
    let mut c = Call::with(LANGUAGES, facts, monday_10());
    assert_eq!(c.start(), [play("language_choice")]);
    assert_eq!(c.s.language(), Lang::It);
    c
}

#[test]
fn language_key_switches_later_prompts_to_english() {
    let mut c = language_call();
    c.done();
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(5)));
    assert_eq!(c.key('2'), [play_in(Lang::En, vec![p("welcome_en")])]);
    assert_eq!(c.s.language(), Lang::En);
    assert_eq!(c.s.deadline(), None);
    assert_eq!(c.done(), [play_in(Lang::En, vec![p("main_menu")])]);
    c.done();
    let mut items = vec![p("office_hours_intro")];
    items.extend(words("from_day mon to_day fri from_time n8 n30 to_time n12 n30"));
    assert_eq!(c.key('1'), [play_in(Lang::En, items)]);
    assert_eq!(c.done(), [play_in(Lang::En, vec![p("goodbye")])]);
    assert_eq!(c.done(), [Action::Hangup]);
    assert_eq!(c.path(), ["choose", "by_language", "english_welcome", "main_menu", "office", "bye"]);
}

#[test]
fn language_key_during_the_prompt_stops_it() {
    let mut c = language_call();
    assert_eq!(c.key('2'), [Action::StopPlayback, play_in(Lang::En, vec![p("welcome_en")])]);
}

#[test]
fn choosing_the_first_language_explicitly() {
    let mut c = language_call();
    c.done();
    assert_eq!(c.key('1'), [play("main_menu")]);
    assert_eq!(c.path(), ["choose", "by_language", "main_menu"]);
}

#[test]
fn silence_in_the_language_choice_keeps_the_first_language() {
    let mut c = language_call();
    c.done();
    assert_eq!(c.timeout(), [play("main_menu")]);
    assert_eq!(c.now, monday_10() + secs(5));
    assert_eq!(c.s.language(), Lang::It);
    assert_eq!(c.path(), ["choose", "by_language", "main_menu"]);
}

#[test]
fn a_wrong_key_in_the_language_choice_keeps_the_first_language() {
    let mut c = language_call();
    c.done();
    assert_eq!(c.key('7'), [play("main_menu")]);
    assert_eq!(c.s.language(), Lang::It);
    assert_eq!(c.path(), ["choose", "by_language", "main_menu"]);
}

#[test]
fn the_first_language_listed_is_the_default() {
    let yaml = LANGUAGES.replace("languages: [it, en]", "languages: [en, it]");
    let mut c = Call::new(&yaml);
    assert_eq!(c.start(), [play_in(Lang::En, vec![p("language_choice")])]);
    c.done();
    assert_eq!(c.timeout(), [play_in(Lang::En, vec![p("welcome_en")])], "the branch on language sees `en`");
    assert_eq!(c.s.language(), Lang::En);
}

#[test]
fn silence_in_a_second_language_choice_uses_the_first_language() {
    let mut c = language_call();
    c.done();
    c.key('2');
    c.done();
    c.done();
    // "9" goes back to the language choice; the caller then stays silent.
    c.key('9');
    assert_eq!(c.s.current_node(), Some("choose"));
    c.done();
    c.timeout();
    assert_eq!(c.s.language(), Lang::It);
}

// ============================================================================================
// Caller hang-up and events out of place
// ============================================================================================

/// Hang up after `setup`; the outcome, after checking the session is over and silent.
fn hang_up_after(yaml: &str, setup: impl FnOnce(&mut Call)) -> Outcome {
    let mut c = Call::new(yaml);
    setup(&mut c);
    assert_eq!(c.hang_up(), [], "the caller is gone: nothing to do");
    assert!(c.s.is_done());
    assert_eq!(c.s.deadline(), None);
    c.outcome().expect("an outcome").clone()
}

fn caller_hangup(node: &str) -> Outcome {
    Outcome::CallerHangup { node: node.into() }
}

#[test]
fn caller_hang_up_in_any_state_records_the_current_node() {
    let announcement = hang_up_after(MENUS, |c| {
        c.start();
    });
    assert_eq!(announcement, caller_hangup("welcome"));
    let menu_prompt = hang_up_after(MENUS, |c| {
        c.start();
        c.done();
    });
    assert_eq!(menu_prompt, caller_hangup("main_menu"));
    let menu_wait = hang_up_after(MENUS, |c| {
        c.start();
        c.done();
        c.done();
    });
    assert_eq!(menu_wait, caller_hangup("main_menu"));
    let mid_collect = hang_up_after(MENUS, |c| {
        c.start();
        c.done();
        c.keys("312");
    });
    assert_eq!(mid_collect, caller_hangup("ticket_number"));
    let retry_notice = hang_up_after(RETRY, |c| {
        c.start();
        c.key('5');
    });
    assert_eq!(retry_notice, caller_hangup("main_menu"));
    let operator_prompt = hang_up_after(OPERATOR_HOURS, |c| {
        c.start();
        c.key('0');
    });
    assert_eq!(operator_prompt, caller_hangup("main_menu"));
    let queue_prompt = hang_up_after(OPERATOR_HOURS, |c| {
        c.start();
        c.key('1');
    });
    assert_eq!(queue_prompt, caller_hangup("pensions_queue"));
    let goodbye = hang_up_after(KINDS, |c| {
        c.start();
        c.done();
        c.key('5');
    });
    assert_eq!(goodbye, caller_hangup("polite_goodbye"));
    let language = hang_up_after(LANGUAGES, |c| {
        c.start();
    });
    assert_eq!(language, caller_hangup("choose"));
    // While a lookup runs.
    let mut c = ticket_call(&ticket_number::from_sequence(4242));
    assert_eq!(c.hang_up(), []);
    assert_eq!(c.outcome(), Some(&Outcome::CallerHangup { node: "ticket_lookup".into() }));
    assert_eq!(c.lookup("open"), [], "the late answer is dropped");
}

#[test]
fn no_actions_after_the_call_is_done() {
    let mut c = Call::new(MENUS);
    c.start();
    c.done();
    c.done();
    let deadline = c.s.deadline().unwrap();
    c.key('2');
    let outcome = Outcome::Queued { section: "pensions".into() };
    assert_eq!(c.outcome(), Some(&outcome));
    let path = c.path().to_vec();
    c.now = deadline;
    for e in [
        Event::Start,
        Event::Key(Key('1')),
        Event::PlaybackDone,
        Event::Timeout,
        Event::LookupResult("open".into()),
        Event::CallerHangup,
    ] {
        assert_eq!(c.send(e.clone()), [], "{e:?}");
    }
    assert_eq!(c.outcome(), Some(&outcome), "a later hang-up does not rewrite it");
    assert_eq!(c.path(), path);
    assert_eq!(c.s.trace().keys, "2");
}

#[test]
fn caller_hang_up_before_the_start() {
    let mut c = Call::new(MENUS);
    assert_eq!(c.hang_up(), []);
    assert_eq!(c.outcome(), Some(&Outcome::CallerHangup { node: String::new() }));
    assert_eq!(c.start(), []);
    assert!(c.path().is_empty());
}

#[test]
fn a_lookup_result_out_of_place_is_ignored() {
    let mut c = Call::new(TICKETS);
    c.start();
    assert_eq!(c.lookup("open"), [], "while the prompt plays");
    c.done();
    let deadline = c.s.deadline();
    assert_eq!(c.lookup("answered"), [], "while waiting for digits");
    assert_eq!(c.s.deadline(), deadline);
    assert_eq!(c.path(), ["ticket_number"]);
    assert_eq!(c.outcome(), None);
    // The collect goes on as if nothing happened.
    let ticket = ticket_number::from_sequence(4242);
    assert_eq!(c.keys(&ticket), [Action::Lookup { service: Service::TicketStatus, input: Some(ticket.clone()) }]);
    assert_eq!(c.lookup("taken"), [Action::Hangup]);
    assert_eq!(c.path(), ["ticket_number", "ticket_lookup", "status_taken"]);
}

#[test]
fn a_playback_done_with_nothing_playing_is_ignored() {
    let mut c = Call::new(RETRY);
    assert_eq!(c.done(), [], "before the start");
    assert!(c.path().is_empty());
    assert_eq!(c.start(), [play("main_menu")]);
    c.done();
    let deadline = c.s.deadline();
    c.wait(2);
    assert_eq!(c.done(), [], "while waiting for a key");
    assert_eq!(c.s.deadline(), deadline, "the deadline does not move");
    // After a barge-in no PlaybackDone is expected; a stray one must not start the timer
    // over nor play anything.
    assert_eq!(c.key('9'), [play("invalid_choice")]);
    assert_eq!(c.key('7'), [Action::StopPlayback, play("invalid_choice")]);
    assert_eq!(c.done(), [play("main_menu")], "the notice's own end");
    assert_eq!(c.done(), []);
    c.wait(1);
    assert_eq!(c.done(), []);
    assert_eq!(c.s.deadline(), Some(monday_10() + secs(2 + 6)));
}

#[test]
fn a_second_start_is_ignored() {
    let mut c = Call::new(MENUS);
    c.start();
    c.done();
    assert_eq!(c.start(), []);
    assert_eq!(c.path(), ["welcome", "main_menu"]);
}

const READBACK: &str = r#"
languages: [it, en]
start: choose
entry_points: [readback]
nodes:
  choose:
    language:
      prompt: language_choice
      options: { "1": it, "2": en }
      next: menu
  menu:
    menu:
      prompt: menu
      options: { "1": readback }
  readback:
    lookup:
      service: appointment
      "on":
        counter: at_counter
        phone: by_phone
        video: by_phone
        not_found: none
        unavailable: none
  at_counter:
    play:
      prompt: counter
      say: [{ appointment: day }, { appointment: time }, { prompt: place }, { appointment: place }]
      next: menu
  by_phone:
    play:
      prompt: phone
      say: [{ appointment: day }, { appointment: time }]
      next: menu
  none:
    play:
      prompt: none
      say: [{ appointment: day }]
      next: menu
prompts: {}
"#;

fn found(result: &str, agency: &str, start: &str) -> Event {
    let start = chrono::NaiveDateTime::parse_from_str(start, "%Y-%m-%d %H:%M").unwrap();
    Event::LookupResult(LookupAnswer {
        result: result.into(),
        appointment: Some(FoundAppointment { agency: agency.into(), start }),
    })
}

/// A caller of READBACK who chose a language with `language_key`, then passed by the operator to
/// the read-back node; with what the session asked on entering it.
fn readback_call(language_key: char) -> (Call, Vec<Action>) {
    let mut c = Call::new(READBACK);
    c.start();
    c.key(language_key);
    let now = c.now;
    let asked = c.s.resume_at("readback", now);
    (c, asked)
}

#[test]
fn an_operator_transfer_reads_back_the_appointment_in_the_callers_language() {
    let (mut c, asked) = readback_call('2');
    assert_eq!(c.s.language(), Lang::En);
    // The operator passes the caller to the read-back node: the call's appointment is asked for.
    assert_eq!(asked, [Action::Lookup { service: Service::Appointment, input: None }]);
    assert_eq!(c.s.deadline(), None, "no deadline while the lookup runs");
    let heard = c.send(found("counter", "latina", "2026-12-15 09:30"));
    let mut items = vec![p("counter")];
    items.extend(words("tue dec d15 at_time n9 n30"));
    items.push(p("place"));
    items.push(Utterance::AgencyAddress("latina".into()));
    assert_eq!(heard, [play_in(Lang::En, items)]);
    assert_eq!(c.path().last().map(String::as_str), Some("at_counter"));
}

#[test]
fn the_appointment_is_read_in_italian_with_its_minutes() {
    let (mut c, _) = readback_call('1');
    let heard = c.send(found("phone", "napoli-centro", "2027-01-04 14:05"));
    let mut items = vec![p("phone")];
    items.extend(words("mon n4 jan at_time n14 and n5"));
    assert_eq!(heard, [play_in(Lang::It, items)]);
}

#[test]
fn no_appointment_found_says_no_appointment_facts() {
    let (mut c, _) = readback_call('1');
    assert_eq!(c.lookup("not_found"), [play("none")], "nothing of an appointment is said");
    // A later read-back that finds one, then one that does not: the first is not said again.
    c.done();
    c.key('1');
    c.send(found("counter", "latina", "2026-12-15 09:30"));
    c.done();
    c.key('1');
    assert_eq!(c.lookup("unavailable"), [play("none")]);
}
