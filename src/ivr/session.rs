//! The interpreter: one [`Session`] per call walks the tree. It is a pure state machine:
//! [`Session::handle`] takes an [`Event`] and the current time and returns [`Action`]s.
//! The host plays audio, runs the timer given by [`Session::deadline`] and answers lookups.

use super::actions::{Action, FoundAppointment, LookupAnswer, Outcome, Utterance};
use super::facts::CallFacts;
use super::load::Tree;
use super::model::*;
use super::speech;
use crate::calendar::{TIME_ZONE, italian_holiday};
use crate::cases::ticket_number;
use chrono::{DateTime, Datelike, Utc};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

/// Wall-clock time, as the host reads it.
pub type Time = DateTime<Utc>;

const DEFAULT_TIMEOUT: u32 = 6;
const DEFAULT_RETRIES: u8 = 2;
const DEFAULT_INTER_DIGIT: u32 = 4;
/// Node entries allowed within one event; validation forbids silent loops, this is the backstop.
const MAX_STEPS: usize = 256;
/// How long a habitual terminator after a complete input is ignored.
const SWALLOW_SECONDS: u32 = 3;
/// Keys kept for the next menu while the caller types ahead.
const MAX_TYPEAHEAD: usize = 32;

/// Something that happened to the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The call was answered: enter the start node.
    Start,
    /// The caller pressed a key.
    Key(Key),
    /// The playback requested by the last `Play` finished.
    PlaybackDone,
    /// The time given by [`Session::deadline`] has come.
    Timeout,
    /// The answer to the last `Lookup`.
    LookupResult(LookupAnswer),
    /// The caller hung up.
    CallerHangup,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum After {
    Goto(String),
    Enqueue(String),
    Hangup { node: String, reason: Option<String> },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The node's prompt is playing.
    Prompt,
    /// An invalid-key or timeout notice is playing; the prompt follows.
    Notice,
    /// Waiting for keys until the deadline.
    Wait,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    NotStarted,
    /// An announcement is playing; then `after`.
    Announce {
        after: After,
        barge_in: bool,
        operator: bool,
    },
    /// A menu, collect or language node is taking keys.
    Input {
        node: String,
        attempt: u8,
        phase: Phase,
        digits: String,
    },
    /// Waiting for a lookup's answer.
    Lookup {
        node: String,
    },
    Done,
}

/// What the caller did, for the call record.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Trace {
    /// Nodes entered, in order.
    pub path: Vec<String>,
    /// Keys pressed, in order.
    pub keys: String,
    /// Self-service answers given (labels of `play` nodes with `answer`).
    pub answers: Vec<String>,
}

/// One call walking one tree. The tree is shared and immutable: a call finishes on the tree
/// it started with, whatever is reloaded meanwhile.
pub struct Session {
    tree: Arc<Tree>,
    facts: CallFacts,
    general_section: String,
    lang: Lang,
    state: State,
    deadline: Option<Time>,
    playing: bool,
    typeahead: VecDeque<Key>,
    vars: BTreeMap<String, String>,
    section: Option<String>,
    /// A terminator the caller may still press, out of habit, after a collect node completed
    /// on its last digit: swallowed until this time rather than taken as the next menu's key.
    swallow: Option<(Key, Time)>,
    trace: Trace,
    outcome: Option<Outcome>,
    /// What the last lookup found of an appointment, for `appointment:` items.
    appointment: Option<FoundAppointment>,
    out: Vec<Action>,
}

impl Session {
    /// A session for a call; `general_section` is where the operator key leads when neither the
    /// current node nor the tree names a section.
    pub fn new(tree: Arc<Tree>, facts: CallFacts, general_section: impl Into<String>) -> Self {
        let lang = tree.def.languages.value.first().copied().unwrap_or(Lang::It);
        Self {
            tree,
            facts,
            general_section: general_section.into(),
            lang,
            state: State::NotStarted,
            deadline: None,
            playing: false,
            typeahead: VecDeque::new(),
            vars: BTreeMap::new(),
            section: None,
            swallow: None,
            appointment: None,
            trace: Trace::default(),
            outcome: None,
            out: Vec::new(),
        }
    }

    /// When the host must send [`Event::Timeout`], if the session is waiting for the caller.
    pub fn deadline(&self) -> Option<Time> {
        self.deadline
    }

    /// Whether the portal's part of the call is over (see [`Session::outcome`]).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    pub fn outcome(&self) -> Option<&Outcome> {
        self.outcome.as_ref()
    }

    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    pub fn language(&self) -> Lang {
        self.lang
    }

    /// Speak `lang` from now on, as if the caller had chosen it (for a host that enters the
    /// portal mid-call, like the simulator's `--from`); refused when the tree does not speak it.
    pub fn set_language(&mut self, lang: Lang) -> bool {
        let spoken = self.tree.def.languages.value.contains(&lang);
        if spoken {
            self.lang = lang;
        }
        spoken
    }

    pub fn facts(&self) -> &CallFacts {
        &self.facts
    }

    pub fn tree(&self) -> &Arc<Tree> {
        &self.tree
    }

    /// A collected variable.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// The node the call is in.
    pub fn current_node(&self) -> Option<&str> {
        self.trace.path.last().map(String::as_str)
    }

    /// Feed one event; returns what the host must do, in order.
    pub fn handle(&mut self, event: Event, now: Time) -> Vec<Action> {
        if self.state == State::Done {
            return Vec::new();
        }
        let next = match event {
            Event::Start if self.state == State::NotStarted => Some(self.tree.def.start.value.clone()),
            Event::Start => None,
            Event::Key(k) => {
                self.trace.keys.push(k.0);
                match self.swallow.take() {
                    Some((t, until)) if t == k && now <= until => None,
                    _ => self.on_key(k, now),
                }
            }
            Event::PlaybackDone => self.on_playback_done(now),
            Event::Timeout => match self.deadline {
                Some(d) if now >= d => {
                    self.deadline = None;
                    self.on_timeout(now)
                }
                _ => None,
            },
            Event::LookupResult(r) => self.on_lookup(r),
            Event::CallerHangup => {
                let node = self.current_node().unwrap_or_default().to_string();
                self.finish(Outcome::CallerHangup { node });
                None
            }
        };
        self.run(next, now);
        std::mem::take(&mut self.out)
    }

    /// Continue the portal at `node` after the call left a queue (the leave key, an overflow,
    /// an operator's transfer to a tree node). The call's trace goes on; the earlier outcome
    /// (queued) is replaced by whatever happens next.
    pub fn resume_at(&mut self, node: &str, now: Time) -> Vec<Action> {
        self.state = State::NotStarted;
        self.outcome = None;
        self.playing = false;
        self.typeahead.clear();
        self.swallow = None;
        self.run(Some(node.to_string()), now);
        std::mem::take(&mut self.out)
    }

    /// Enter nodes until the call waits for something.
    fn run(&mut self, mut next: Option<String>, now: Time) {
        let mut steps = 0;
        while let Some(name) = next.take() {
            steps += 1;
            if steps > MAX_STEPS {
                self.finish(Outcome::PortalHangup { node: name, reason: Some("loop in the tree".into()) });
                self.out.push(Action::Hangup);
                return;
            }
            next = self.enter(&name, now);
        }
    }

    fn node(&self, name: &str) -> Option<Arc<Tree>> {
        self.tree.def.nodes.contains_key(name).then(|| Arc::clone(&self.tree))
    }

    fn play(&mut self, items: Vec<Utterance>) {
        if items.is_empty() {
            return;
        }
        self.playing = true;
        self.out.push(Action::Play { lang: self.lang, items });
    }

    fn stop_playback(&mut self) {
        if self.playing {
            self.playing = false;
            self.out.push(Action::StopPlayback);
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        self.outcome = Some(outcome);
        self.state = State::Done;
        self.deadline = None;
        self.typeahead.clear();
    }

    /// Enter a node; returns a node to enter next when no waiting is needed.
    fn enter(&mut self, name: &str, now: Time) -> Option<String> {
        let Some(tree) = self.node(name) else {
            // Validation prevents this; a live tree must still never strand a caller.
            self.finish(Outcome::PortalHangup { node: name.to_string(), reason: Some("unknown node".into()) });
            self.out.push(Action::Hangup);
            return None;
        };
        let node = &tree.def.nodes[name].value;
        self.trace.path.push(name.to_string());
        self.deadline = None;
        match node {
            Node::Menu(m) => {
                self.section = m.section.as_ref().map(|s| s.value.clone());
                self.start_input(name, &m.prompt.value, now)
            }
            Node::Collect(c) => self.start_input(name, &c.prompt.value, now),
            Node::Language(l) => {
                // The choice is made afresh: the prompt plays, and silence or a wrong key
                // leads on, in the tree's first language.
                self.lang = self.tree.def.languages.value.first().copied().unwrap_or(Lang::It);
                self.start_input(name, &l.prompt.value, now)
            }
            Node::Play(p) => {
                if let Some(s) = &p.section {
                    self.section = Some(s.value.clone());
                }
                if p.barge_in && !self.typeahead.is_empty() {
                    // Typed ahead past it: the caller did not hear this answer.
                    return Some(p.next.value.clone());
                }
                if let Some(a) = &p.answer {
                    self.trace.answers.push(a.clone());
                }
                let items = self.say(p);
                if items.is_empty() {
                    return Some(p.next.value.clone());
                }
                self.play(items);
                self.state = State::Announce {
                    after: After::Goto(p.next.value.clone()),
                    barge_in: p.barge_in,
                    operator: p.operator,
                };
                None
            }
            Node::Queue(q) => {
                let prompt = q.prompt.as_ref().map(|p| p.value.clone());
                self.queue_to(q.section.value.clone(), prompt, now)
            }
            Node::Hangup(h) => {
                let after = After::Hangup { node: name.to_string(), reason: h.reason.clone() };
                match &h.prompt {
                    Some(p) => {
                        self.play(vec![Utterance::Prompt(p.value.clone())]);
                        self.state = State::Announce { after, barge_in: false, operator: false };
                        None
                    }
                    None => self.after(after, now),
                }
            }
            Node::Goto(t) => Some(t.value.clone()),
            Node::Schedule(s) => {
                let open = self.is_open(&s.schedule.value, now);
                Some(if open { &s.open } else { &s.closed }.value.clone())
            }
            Node::Branch(b) => {
                let value = match b.on.value {
                    Fact::Province => self.facts.origin.province.clone(),
                    Fact::Region => self.facts.origin.region.clone(),
                    Fact::Number => Some(self.facts.origin.number.clone()),
                    Fact::Language => Some(self.lang.code().to_string()),
                };
                let target = value.and_then(|v| b.cases.get(v.as_str()).map(|t| t.value.clone()));
                Some(target.unwrap_or_else(|| b.default.value.clone()))
            }
            Node::Lookup(l) => {
                let input = l.input.as_ref().map(|v| self.vars.get(&v.value).cloned());
                match input {
                    // The variable was never filled (validation makes that a path not taken).
                    Some(None) => self.on_lookup_in(&tree, name, "unavailable"),
                    Some(Some(_)) | None => {
                        self.out.push(Action::Lookup { service: l.service.value, input: input.flatten() });
                        self.state = State::Lookup { node: name.to_string() };
                        None
                    }
                }
            }
        }
    }

    /// The utterances of a `play` node.
    fn say(&self, p: &Play) -> Vec<Utterance> {
        let mut items: Vec<Utterance> = p.prompt.iter().map(|p| Utterance::Prompt(p.value.clone())).collect();
        for s in &p.say {
            match s {
                SayItem::Prompt(name) => items.push(Utterance::Prompt(name.value.clone())),
                SayItem::Office(OfficeFact::Address) => {
                    items.extend(self.facts.origin.province.clone().map(Utterance::OfficeAddress));
                }
                SayItem::Office(OfficeFact::Hours) => {
                    if let Some(h) = &self.facts.office_hours {
                        items.extend(speech::weekly_hours(self.lang, h).into_iter().map(Utterance::Word));
                    }
                }
                SayItem::Digits(v) => {
                    let digits = self.vars.get(&v.value).map(|d| speech::digits(d)).unwrap_or_default();
                    items.extend(digits.into_iter().map(Utterance::Word));
                }
                SayItem::Number(v) => {
                    if let Some(n) = self.vars.get(&v.value).and_then(|d| d.parse::<u32>().ok()) {
                        items.extend(speech::number(n).into_iter().map(Utterance::Word));
                    }
                }
                SayItem::Appointment(fact) => {
                    if let Some(a) = &self.appointment {
                        items.extend(appointment_words(self.lang, a, *fact));
                    }
                }
            }
        }
        items
    }

    fn start_input(&mut self, name: &str, prompt: &str, now: Time) -> Option<String> {
        self.state = State::Input { node: name.to_string(), attempt: 0, phase: Phase::Prompt, digits: String::new() };
        if self.typeahead.is_empty() {
            self.play(vec![Utterance::Prompt(prompt.to_string())]);
            return None;
        }
        // Type-ahead: the caller already answered; skip the prompt.
        if let State::Input { phase, .. } = &mut self.state {
            *phase = Phase::Wait;
        }
        while let Some(k) = self.typeahead.pop_front() {
            let next = self.input_key(k, now);
            if next.is_some() {
                return next;
            }
            if !matches!(&self.state, State::Input { node, .. } if node == name) {
                return None;
            }
        }
        // Keys consumed without finishing (e.g. part of a number): wait for more.
        if let State::Input { phase: Phase::Wait, .. } = self.state
            && self.deadline.is_none()
        {
            self.deadline = Some(now + secs(self.timeout_of(name)));
        }
        None
    }

    fn on_key(&mut self, k: Key, now: Time) -> Option<String> {
        match self.state.clone() {
            State::Announce { after, barge_in, operator } => {
                if operator && k == self.operator_key() {
                    self.stop_playback();
                    return self.operator(now);
                }
                if barge_in && let After::Goto(next) = after {
                    self.stop_playback();
                    self.push_typeahead(k);
                    return Some(next);
                }
                self.push_typeahead(k);
                None
            }
            State::Input { .. } => {
                self.stop_playback();
                self.input_key(k, now)
            }
            State::Lookup { .. } => {
                self.push_typeahead(k);
                None
            }
            State::NotStarted | State::Done => None,
        }
    }

    fn push_typeahead(&mut self, k: Key) {
        if self.typeahead.len() < MAX_TYPEAHEAD {
            self.typeahead.push_back(k);
        }
    }

    fn operator_key(&self) -> Key {
        self.tree.def.operator.key.value
    }

    /// A key for the input node the call is in.
    fn input_key(&mut self, k: Key, now: Time) -> Option<String> {
        let State::Input { node, .. } = self.state.clone() else {
            return None;
        };
        let tree = Arc::clone(&self.tree);
        match &tree.def.nodes[node.as_str()].value {
            Node::Menu(m) => {
                if m.operator && k == self.operator_key() {
                    return self.operator(now);
                }
                match m.options.get(&k) {
                    Some(target) => {
                        self.deadline = None;
                        Some(target.value.clone())
                    }
                    None => self.retry(&node, true),
                }
            }
            Node::Language(l) => {
                if k == self.operator_key() {
                    return self.operator(now);
                }
                if let Some(lang) = l.options.get(&k) {
                    self.lang = lang.value;
                }
                self.deadline = None;
                Some(l.next.value.clone())
            }
            Node::Collect(c) => {
                let terminator = c.terminator.as_ref().map_or(Key('#'), |t| t.value);
                if k == terminator {
                    return self.complete_collect(&node, c);
                }
                if c.operator && k == self.operator_key() {
                    return self.operator(now);
                }
                if !k.is_digit() {
                    return self.retry(&node, true);
                }
                let State::Input { digits, phase, .. } = &mut self.state else {
                    return None;
                };
                digits.push(k.0);
                *phase = Phase::Wait;
                if digits.len() >= usize::from(c.max_digits.value) {
                    let next = self.complete_collect(&node, c);
                    if next.is_some() {
                        self.swallow = Some((terminator, now + secs(SWALLOW_SECONDS)));
                    }
                    return next;
                }
                let inter = c.inter_digit_timeout.as_ref().map_or(DEFAULT_INTER_DIGIT, |t| t.value);
                self.deadline = Some(now + secs(inter));
                None
            }
            _ => None,
        }
    }

    fn complete_collect(&mut self, node: &str, c: &Collect) -> Option<String> {
        let State::Input { digits, .. } = &self.state else {
            return None;
        };
        let digits = digits.clone();
        let valid = digits.len() >= usize::from(c.min_digits.value)
            && digits.len() <= usize::from(c.max_digits.value)
            && match c.check.as_ref().map(|c| c.value) {
                Some(DigitCheck::TicketNumber) => ticket_number::is_valid(&digits),
                Some(DigitCheck::PhoneNumber) => {
                    (6..=11).contains(&digits.len()) && (digits.starts_with('0') || digits.starts_with('3'))
                }
                None => true,
            };
        if !valid {
            return self.retry(node, true);
        }
        self.vars.insert(c.var.value.clone(), digits);
        self.deadline = None;
        Some(c.next.value.clone())
    }

    fn on_timeout(&mut self, now: Time) -> Option<String> {
        let State::Input { node, digits, .. } = self.state.clone() else {
            return None;
        };
        let tree = Arc::clone(&self.tree);
        match &tree.def.nodes[node.as_str()].value {
            Node::Collect(c) if !digits.is_empty() => self.complete_collect(&node, c),
            Node::Language(l) => {
                let _ = now;
                Some(l.next.value.clone())
            }
            _ => self.retry(&node, false),
        }
    }

    /// A wrong key (`invalid`) or silence: tell the caller and ask again, or give up.
    fn retry(&mut self, node: &str, invalid: bool) -> Option<String> {
        self.typeahead.clear();
        self.deadline = None;
        let tree = Arc::clone(&self.tree);
        let d = &tree.def.defaults;
        let (retries, invalid_p, timeout_p, exhausted, prompt) = match &tree.def.nodes[node].value {
            Node::Menu(m) => (&m.retries, &m.invalid_prompt, &m.timeout_prompt, &m.on_exhausted, &m.prompt),
            Node::Collect(c) => (&c.retries, &c.invalid_prompt, &c.timeout_prompt, &c.on_exhausted, &c.prompt),
            _ => return None,
        };
        let retries = retries.as_ref().or(d.retries.as_ref()).map_or(DEFAULT_RETRIES, |r| r.value);
        let State::Input { attempt, phase, digits, .. } = &mut self.state else {
            return None;
        };
        *attempt += 1;
        digits.clear();
        if *attempt > retries {
            return match exhausted.as_ref().or(d.on_exhausted.as_ref()) {
                Some(n) => Some(n.value.clone()),
                None => {
                    self.finish(Outcome::PortalHangup {
                        node: node.to_string(),
                        reason: Some("retries exhausted".into()),
                    });
                    self.out.push(Action::Hangup);
                    None
                }
            };
        }
        let notice = if invalid {
            invalid_p.as_ref().or(d.invalid_prompt.as_ref())
        } else {
            timeout_p.as_ref().or(d.timeout_prompt.as_ref())
        };
        let (items, next_phase) = match notice {
            Some(n) => (vec![Utterance::Prompt(n.value.clone())], Phase::Notice),
            None => (vec![Utterance::Prompt(prompt.value.clone())], Phase::Prompt),
        };
        *phase = next_phase;
        self.play(items);
        None
    }

    fn on_playback_done(&mut self, now: Time) -> Option<String> {
        if !self.playing {
            return None;
        }
        self.playing = false;
        match self.state.clone() {
            State::Announce { after, .. } => self.after(after, now),
            State::Input { node, phase: Phase::Notice, .. } => {
                let prompt = self.prompt_of(&node);
                if let State::Input { phase, .. } = &mut self.state {
                    *phase = Phase::Prompt;
                }
                self.play(vec![Utterance::Prompt(prompt)]);
                None
            }
            State::Input { node, phase: Phase::Prompt, .. } => {
                if let State::Input { phase, .. } = &mut self.state {
                    *phase = Phase::Wait;
                }
                self.deadline = Some(now + secs(self.timeout_of(&node)));
                None
            }
            _ => None,
        }
    }

    fn prompt_of(&self, node: &str) -> String {
        match &self.tree.def.nodes[node].value {
            Node::Menu(m) => m.prompt.value.clone(),
            Node::Collect(c) => c.prompt.value.clone(),
            Node::Language(l) => l.prompt.value.clone(),
            _ => String::new(),
        }
    }

    fn timeout_of(&self, node: &str) -> u32 {
        let d = self.tree.def.defaults.timeout.as_ref().map_or(DEFAULT_TIMEOUT, |t| t.value);
        match &self.tree.def.nodes[node].value {
            Node::Menu(m) => m.timeout.as_ref().map_or(d, |t| t.value),
            Node::Collect(c) => c.timeout.as_ref().map_or(d, |t| t.value),
            Node::Language(l) => l.timeout.as_ref().map_or(d, |t| t.value),
            _ => d,
        }
    }

    fn after(&mut self, after: After, _now: Time) -> Option<String> {
        match after {
            After::Goto(n) => Some(n),
            After::Enqueue(section) => {
                self.out.push(Action::Enqueue { section: section.clone() });
                self.finish(Outcome::Queued { section });
                None
            }
            After::Hangup { node, reason } => {
                self.out.push(Action::Hangup);
                self.finish(Outcome::PortalHangup { node, reason });
                None
            }
        }
    }

    /// The operator key: queue to the current section, the tree's operator section, or the
    /// general section.
    fn operator(&mut self, now: Time) -> Option<String> {
        let op = &self.tree.def.operator;
        let section = self
            .section
            .clone()
            .or_else(|| op.section.as_ref().map(|s| s.value.clone()))
            .unwrap_or_else(|| self.general_section.clone());
        let prompt = op.prompt.as_ref().map(|p| p.value.clone());
        self.queue_to(section, prompt, now)
    }

    fn queue_to(&mut self, section: String, prompt: Option<String>, now: Time) -> Option<String> {
        self.typeahead.clear();
        self.deadline = None;
        let op = &self.tree.def.operator;
        if let (Some(s), Some(closed)) = (&op.schedule, &op.closed)
            && !self.is_open(&s.value, now)
        {
            return Some(closed.value.clone());
        }
        match prompt {
            Some(p) => {
                self.play(vec![Utterance::Prompt(p)]);
                self.state = State::Announce { after: After::Enqueue(section), barge_in: false, operator: false };
                None
            }
            None => self.after(After::Enqueue(section), now),
        }
    }

    fn on_lookup(&mut self, answer: LookupAnswer) -> Option<String> {
        let State::Lookup { node } = self.state.clone() else {
            return None;
        };
        self.appointment = answer.appointment;
        let tree = Arc::clone(&self.tree);
        self.on_lookup_in(&tree, &node, &answer.result)
    }

    fn on_lookup_in(&mut self, tree: &Tree, node: &str, result: &str) -> Option<String> {
        let Node::Lookup(l) = &tree.def.nodes[node].value else {
            return None;
        };
        l.on.get(result).or_else(|| l.on.get("unavailable")).map(|t| t.value.clone())
    }

    /// Whether a schedule of the tree is open at `now` (Italian time).
    pub fn is_open(&self, schedule: &str, now: Time) -> bool {
        let Some(s) = self.tree.def.schedules.get(schedule) else {
            return false;
        };
        schedule_open(s, now)
    }
}

/// One fact of an appointment as it is said.
fn appointment_words(lang: Lang, a: &FoundAppointment, fact: AppointmentFact) -> Vec<Utterance> {
    match fact {
        AppointmentFact::Day => speech::day(lang, a.start.date()).into_iter().map(Utterance::Word).collect(),
        AppointmentFact::Time => {
            let mut words = vec!["at_time".to_string()];
            words.extend(speech::time(lang, a.start.time()));
            words.into_iter().map(Utterance::Word).collect()
        }
        AppointmentFact::Place => vec![Utterance::AgencyAddress(a.agency.clone())],
    }
}

/// Whether `s` is open at `now`: weekly hours, minus national holidays and closed dates.
pub fn schedule_open(s: &Schedule, now: Time) -> bool {
    let local = now.with_timezone(&TIME_ZONE);
    let date = local.date_naive();
    if s.national_holidays && italian_holiday(date).is_some() {
        return false;
    }
    if s.closed_dates.contains(&date) {
        return false;
    }
    s.hours.value.is_open(date.weekday(), local.time())
}

fn secs(s: u32) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(Duration::from_secs(u64::from(s))).unwrap_or_default()
}
