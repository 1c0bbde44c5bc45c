//! The distribution's state and its handling of events. Pure: events and the current time in,
//! actions out; the host ([`Acd::next_deadline`]) says when to send the next [`Event::Tick`].
//! Deadlines, distribution and announcements are in [`super::schedule`].

use super::events::{AcdError, Action, Event, PhoneKind, QueueEvent, QueueEventKind, route_name};
use super::operator::{Operator, OperatorState};
use super::rules::{Route, SectionRules};
use crate::vocabulary::{CallPop, CallbackNumber};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Instant;

/// How many section-to-section routes one call may follow in a row (a guard against cycles that
/// the configuration check should already have refused).
const MAX_HOPS: u8 = 8;
/// Recent answers kept per section for the estimated wait.
pub(super) const RECENT_ANSWERS: usize = 10;

/// A caller in a queue.
#[derive(Debug, Clone)]
pub(super) struct Waiting {
    pub section: String,
    /// First arrival in any queue: the order of service.
    pub arrived: Instant,
    /// Arrival in this section's queue: waits and the maximum wait count from here.
    pub entered: Instant,
    pub seq: u64,
    /// The operator whose phone rings with this call, and since when.
    pub offered: Option<(String, Instant)>,
    pub announcing: bool,
    /// The last announcement: callers ahead then, and when.
    pub last_announced: Option<(usize, Instant)>,
    pub hops: u8,
    /// Callback has been offered to this caller (the key works from then on).
    pub callback_offered: bool,
    /// A request to be called back, holding the place of a caller who has hung up.
    pub callback: Option<Callback>,
}

impl Waiting {
    fn new(section: String, arrived: Instant, entered: Instant, hops: u8) -> Self {
        Waiting {
            section,
            arrived,
            entered,
            seq: 0,
            offered: None,
            announcing: false,
            last_announced: None,
            hops,
            callback_offered: false,
            callback: None,
        }
    }
}

/// A pending callback request.
#[derive(Debug, Clone)]
pub(super) struct Callback {
    pub number: CallbackNumber,
    /// The number that asked (its requests are counted).
    pub caller: String,
    /// Attempts made so far.
    pub attempts: u32,
    /// No attempt before this (the interval after a failed one).
    pub not_before: Option<Instant>,
    /// The attempt in progress: the operator kept for it, and since when.
    pub dialling: Option<(String, Instant)>,
    pub facts: Box<CallPop>,
}

/// A caller talking with an operator.
#[derive(Debug, Clone)]
pub(super) struct Connected {
    pub section: String,
    pub operator: String,
    pub arrived: Instant,
    pub since: Instant,
}

/// Per-section totals since start.
#[derive(Debug, Clone, Default)]
pub(super) struct Counters {
    pub entered: u64,
    pub answered: u64,
    pub answered_in_time: u64,
    pub abandoned: u64,
    pub timed_out: u64,
    pub overflowed: u64,
}

/// The automatic call distribution of every section.
#[derive(Debug)]
pub struct Acd {
    pub(super) rules: BTreeMap<String, SectionRules>,
    /// Per section, the waiting calls in order of service (arrival, then sequence).
    pub(super) queues: BTreeMap<String, Vec<String>>,
    pub(super) waiting: HashMap<String, Waiting>,
    pub(super) connected: HashMap<String, Connected>,
    pub(super) operators: BTreeMap<String, Operator>,
    pub(super) recent_answers: HashMap<String, VecDeque<Instant>>,
    pub(super) counters: BTreeMap<String, Counters>,
    /// Operators to log out (and drop, when no longer configured) once not in a call.
    pub(super) retiring: BTreeSet<String>,
    /// No offers or announcements before this (see [`Event::Gather`]).
    pub(super) gathering: Option<Instant>,
    /// Sections whose callback hours are closed: no attempts there.
    pub(super) callbacks_closed: BTreeSet<String>,
    /// Per calling number, when it asked for callback in the last 24 hours.
    pub(super) callback_requests: HashMap<String, VecDeque<Instant>>,
    seq: u64,
}

impl Acd {
    /// Sections with their rules, and operators with their sections in priority order.
    pub fn new(sections: BTreeMap<String, SectionRules>, operators: BTreeMap<String, Vec<String>>) -> Self {
        Self {
            queues: sections.keys().map(|s| (s.clone(), Vec::new())).collect(),
            counters: sections.keys().map(|s| (s.clone(), Counters::default())).collect(),
            rules: sections,
            waiting: HashMap::new(),
            connected: HashMap::new(),
            operators: operators.into_iter().map(|(id, skills)| (id, Operator::new(skills))).collect(),
            recent_answers: HashMap::new(),
            retiring: BTreeSet::new(),
            gathering: None,
            callbacks_closed: BTreeSet::new(),
            callback_requests: HashMap::new(),
            seq: 0,
        }
    }

    pub fn operator(&self, id: &str) -> Option<&Operator> {
        self.operators.get(id)
    }

    pub fn operators(&self) -> impl Iterator<Item = (&String, &Operator)> {
        self.operators.iter()
    }

    /// The waiting calls of a section, in order of service.
    pub fn queue(&self, section: &str) -> &[String] {
        self.queues.get(section).map_or(&[], |q| q.as_slice())
    }

    /// The section a call waits in.
    pub fn section_of(&self, call: &str) -> Option<&str> {
        self.waiting.get(call).map(|w| w.section.as_str())
    }

    /// The operator a call is connected to.
    pub fn connected_to(&self, call: &str) -> Option<&str> {
        self.connected.get(call).map(|c| c.operator.as_str())
    }

    /// Handle one event at `now`. A refused command changes nothing.
    pub fn handle(&mut self, event: Event, now: Instant) -> Result<Vec<Action>, AcdError> {
        let mut out = Vec::new();
        match event {
            Event::Enqueue { call, section, arrived } => {
                if !self.rules.contains_key(&section) {
                    return Err(AcdError::UnknownSection(section));
                }
                if self.waiting.contains_key(&call) || self.connected.contains_key(&call) {
                    return Err(AcdError::AlreadyQueued(call));
                }
                self.enqueue(call, section, arrived, 0, now, &mut out);
            }
            Event::Restore { call, section, arrived, entered } => {
                if !self.rules.contains_key(&section) {
                    return Err(AcdError::UnknownSection(section));
                }
                if self.waiting.contains_key(&call) || self.connected.contains_key(&call) {
                    return Err(AcdError::AlreadyQueued(call));
                }
                self.insert_waiting(call, section, arrived, entered, 0);
            }
            Event::Resume { call, section, operator, arrived, since } => {
                if !self.rules.contains_key(&section) {
                    return Err(AcdError::UnknownSection(section));
                }
                if !self.operators.contains_key(&operator) {
                    return Err(AcdError::UnknownOperator(operator));
                }
                if self.waiting.contains_key(&call) || self.connected.contains_key(&call) {
                    return Err(AcdError::AlreadyQueued(call));
                }
                if let Some(other) = self.operators[&operator].state.detail().1 {
                    // Their phone has one call at a time: the one they are on already wins.
                    return Err(AcdError::Busy(format!("{operator} (on {other})")));
                }
                self.set_state(&operator, OperatorState::OnCall { call: call.clone(), since }, &mut out);
                self.connected.insert(call, Connected { section, operator, arrived, since });
            }
            Event::CallerHangup { call } => self.caller_hangup(&call, now, &mut out)?,
            Event::Key { call, key } => {
                let Some(w) = self.waiting.get(&call) else { return Err(AcdError::UnknownCall(call)) };
                if w.callback.is_none()
                    && w.callback_offered
                    && self.rules[&w.section].callback.as_ref().is_some_and(|c| c.key == key)
                {
                    out.push(Action::AskCallbackNumber { call: call.clone() });
                }
                if let Some((leave, route)) = self.rules[&w.section].leave.clone()
                    && leave == key
                {
                    let w = self.remove_waiting(&call, now, &mut out);
                    self.record(&call, &w.section, QueueEventKind::Left { key, to: route_name(&route) }, &mut out);
                    self.route(call, &w, route, now, &mut out);
                }
            }
            Event::AnnouncementDone { call } => {
                if let Some(w) = self.waiting.get_mut(&call) {
                    w.announcing = false;
                }
            }
            Event::OfferAnswered { call, operator } => self.offer_answered(call, &operator, now, &mut out)?,
            Event::OfferFailed { call, operator, reason } => {
                if self.offered_to(&call)? != operator {
                    return Err(AcdError::UnknownCall(call));
                }
                let w = self.waiting.get_mut(&call).expect("offered call is waiting");
                w.offered = None;
                let section = w.section.clone();
                self.record(
                    &call,
                    &section,
                    QueueEventKind::NotAnswered { operator: operator.clone(), reason: reason.clone() },
                    &mut out,
                );
                self.pause_now(&operator, reason, now, &mut out);
            }
            Event::OperatorHangup { call } => {
                if !self.connected.contains_key(&call) {
                    return Err(AcdError::NotConnected(call));
                }
                self.end_connected(&call, now, &mut out);
            }
            Event::Transfer { call, to } => {
                let Some(c) = self.connected.get(&call) else { return Err(AcdError::NotConnected(call)) };
                if let Route::Section(s) = &to
                    && !self.rules.contains_key(s)
                {
                    return Err(AcdError::UnknownSection(s.clone()));
                }
                let (section, operator, arrived) = (c.section.clone(), c.operator.clone(), c.arrived);
                self.record(&call, &section, QueueEventKind::Transferred { operator, to: route_name(&to) }, &mut out);
                self.end_connected(&call, now, &mut out);
                match to {
                    Route::Section(s) => self.enqueue(call, s, arrived, 0, now, &mut out),
                    route => out.push(Action::Route { call, route }),
                }
            }
            Event::Login { operator, sections } => self.login(&operator, sections, now, &mut out)?,
            Event::Logout { operator } => self.logout(&operator, now, &mut out)?,
            Event::Pause { operator, reason } => {
                let op =
                    self.operators.get_mut(&operator).ok_or_else(|| AcdError::UnknownOperator(operator.clone()))?;
                match op.state {
                    OperatorState::LoggedOut => return Err(AcdError::LoggedOut(operator)),
                    OperatorState::Ringing { .. } | OperatorState::OnCall { .. } | OperatorState::Reserved { .. } => {
                        op.pending_pause = Some(reason)
                    }
                    _ => self.pause_now(&operator, reason, now, &mut out),
                }
            }
            Event::Ready { operator } => {
                let op =
                    self.operators.get_mut(&operator).ok_or_else(|| AcdError::UnknownOperator(operator.clone()))?;
                match op.state {
                    OperatorState::LoggedOut => return Err(AcdError::LoggedOut(operator)),
                    OperatorState::Ringing { .. } | OperatorState::OnCall { .. } | OperatorState::Reserved { .. } => {
                        op.pending_pause = None
                    }
                    OperatorState::Available { .. } => {}
                    OperatorState::WrapUp { .. } | OperatorState::Paused { .. } => {
                        self.set_state(&operator, OperatorState::Available { since: now }, &mut out)
                    }
                }
            }
            Event::Reachable { operator, reachable, phone } => {
                let op = self.operators.get_mut(&operator).ok_or(AcdError::UnknownOperator(operator))?;
                match phone {
                    PhoneKind::Sip => op.sip_phone = reachable,
                    PhoneKind::Browser => op.browser_phone = reachable,
                }
                if !op.reachable() {
                    // Perhaps the last phone that could take the section's callers.
                    self.apply_no_operators(now, &mut out);
                }
            }
            Event::Reconfigure { sections, operators } => self.reconfigure(sections, operators, now, &mut out),
            Event::Gather { until } => self.gathering = Some(until),
            Event::RequestCallback { call, number, caller, facts } => {
                self.request_callback(call, number, caller, facts, now, &mut out)?
            }
            Event::CallbackAnswered { call } => self.callback_answered(call, now, &mut out)?,
            Event::CallbackFailed { call, reason } => self.callback_failed(&call, reason, now, &mut out)?,
            Event::CancelCallback { call, by } => self.cancel_callback(&call, by, now, &mut out)?,
            Event::RestoreCallback(p) => {
                if !self.rules.contains_key(&p.section) {
                    return Err(AcdError::UnknownSection(p.section));
                }
                if self.waiting.contains_key(&p.call) || self.connected.contains_key(&p.call) {
                    return Err(AcdError::AlreadyQueued(p.call));
                }
                self.insert_waiting(p.call.clone(), p.section, p.arrived, p.arrived, 0);
                let (number, caller, attempts, facts) = (p.number, p.caller, p.attempts, p.facts);
                let callback = Callback { number, caller, attempts, not_before: None, dialling: None, facts };
                self.waiting.get_mut(&p.call).expect("inserted").callback = Some(callback);
            }
            Event::CallbackHours { section, open } => self.callback_hours(section, open, now, &mut out)?,
            Event::Tick => {}
        }
        if !self.retiring.is_empty() {
            self.retire(now, &mut out);
        }
        self.step(now, &mut out);
        Ok(out)
    }

    fn offered_to(&self, call: &str) -> Result<String, AcdError> {
        match self.waiting.get(call).and_then(|w| w.offered.as_ref()) {
            Some((op, _)) => Ok(op.clone()),
            None => Err(AcdError::UnknownCall(call.to_string())),
        }
    }

    fn offer_answered(&mut self, call: String, by: &str, now: Instant, out: &mut Vec<Action>) -> Result<(), AcdError> {
        let operator = self.offered_to(&call)?;
        if operator != by {
            return Err(AcdError::UnknownCall(call));
        }
        // Answered: the ringing is over, nothing to cancel.
        self.waiting.get_mut(&call).expect("offered call is waiting").offered = None;
        let w = self.remove_waiting(&call, now, out);
        let wait = now.saturating_duration_since(w.entered);
        let rules = &self.rules[&w.section];
        let counters = self.counters.get_mut(&w.section).expect("section counters");
        counters.answered += 1;
        if wait <= rules.service_level {
            counters.answered_in_time += 1;
        }
        let recent = self.recent_answers.entry(w.section.clone()).or_default();
        recent.push_back(now);
        if recent.len() > RECENT_ANSWERS {
            recent.pop_front();
        }
        let kind = QueueEventKind::Answered { operator: operator.clone(), wait_ms: wait.as_millis() as u64 };
        self.record(&call, &w.section, kind, out);
        self.operators.get_mut(&operator).expect("offered operator").idle_before_offer = None;
        self.set_state(&operator, OperatorState::OnCall { call: call.clone(), since: now }, out);
        self.connected.insert(call, Connected { section: w.section, operator, arrived: w.arrived, since: now });
        Ok(())
    }

    fn caller_hangup(&mut self, call: &str, now: Instant, out: &mut Vec<Action>) -> Result<(), AcdError> {
        if self.connected.contains_key(call) {
            self.end_connected(call, now, out);
            return Ok(());
        }
        let Some(w) = self.waiting.get(call) else { return Err(AcdError::UnknownCall(call.to_string())) };
        if w.callback.is_some() {
            // The line that asked for the callback has ended: the request keeps the place.
            return Ok(());
        }
        let w = self.remove_waiting(call, now, out);
        self.counters.get_mut(&w.section).expect("section counters").abandoned += 1;
        let wait_ms = now.saturating_duration_since(w.entered).as_millis() as u64;
        self.record(call, &w.section, QueueEventKind::Abandoned { wait_ms }, out);
        Ok(())
    }

    fn login(
        &mut self,
        operator: &str,
        sections: Option<Vec<String>>,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), AcdError> {
        let op = self.operators.get(operator).ok_or_else(|| AcdError::UnknownOperator(operator.to_string()))?;
        let serving = match sections {
            None => op.skills.clone(),
            Some(wanted) => {
                if let Some(s) = wanted.iter().find(|s| !op.skills.contains(s)) {
                    let error = if self.rules.contains_key(s) {
                        AcdError::NotSkilled { operator: operator.to_string(), section: s.clone() }
                    } else {
                        AcdError::UnknownSection(s.clone())
                    };
                    return Err(error);
                }
                // The configuration's priority order, whatever the order asked.
                op.skills.iter().filter(|s| wanted.contains(s)).cloned().collect()
            }
        };
        let was_out = !op.logged_in();
        self.operators.get_mut(operator).expect("checked").serving = serving;
        if was_out {
            self.set_state(operator, OperatorState::Available { since: now }, out);
        }
        self.apply_no_operators(now, out);
        Ok(())
    }

    pub(super) fn logout(&mut self, operator: &str, now: Instant, out: &mut Vec<Action>) -> Result<(), AcdError> {
        let op = self.operators.get(operator).ok_or_else(|| AcdError::UnknownOperator(operator.to_string()))?;
        match &op.state {
            OperatorState::LoggedOut => return Ok(()),
            OperatorState::OnCall { .. } | OperatorState::Reserved { .. } => {
                return Err(AcdError::Busy(operator.to_string()));
            }
            OperatorState::Ringing { call, .. } => {
                let call = call.clone();
                out.push(Action::CancelOffer { call: call.clone(), operator: operator.to_string() });
                if let Some(w) = self.waiting.get_mut(&call) {
                    w.offered = None;
                    let section = w.section.clone();
                    let kind =
                        QueueEventKind::NotAnswered { operator: operator.to_string(), reason: "logged out".into() };
                    self.record(&call, &section, kind, out);
                }
            }
            _ => {}
        }
        let op = self.operators.get_mut(operator).expect("checked");
        op.serving.clear();
        op.pending_pause = None;
        op.idle_before_offer = None;
        self.set_state(operator, OperatorState::LoggedOut, out);
        self.apply_no_operators(now, out);
        Ok(())
    }

    /// Callers of sections that no logged-in operator with a registered phone serves go where
    /// the section says.
    fn apply_no_operators(&mut self, now: Instant, out: &mut Vec<Action>) {
        let unattended: Vec<String> = self
            .rules
            .iter()
            .filter(|(s, r)| {
                r.when_no_operators.is_some()
                    && !self.attended(s)
                    && self.queue(s).iter().any(|c| self.waiting[c].callback.is_none())
            })
            .map(|(s, _)| s.clone())
            .collect();
        for section in unattended {
            let route = self.rules[&section].when_no_operators.clone().expect("filtered");
            let on_the_line: Vec<String> =
                self.queues[&section].iter().filter(|c| self.waiting[*c].callback.is_none()).cloned().collect();
            for call in on_the_line {
                let w = self.remove_waiting(&call, now, out);
                self.overflow(call, &w, "no_operators", route.clone(), now, out);
            }
        }
    }

    /// Whether a logged-in operator whose phone is registered serves the section (paused or
    /// busy counts: the callers wait for them; a phone that cannot ring does not).
    pub fn attended(&self, section: &str) -> bool {
        self.operators.values().any(|o| o.logged_in() && o.reachable() && o.serving.iter().any(|s| s == section))
    }

    /// Put a call in a section's queue, or send it on if the section cannot take it.
    pub(super) fn enqueue(
        &mut self,
        call: String,
        section: String,
        arrived: Instant,
        hops: u8,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let rules = &self.rules[&section];
        if hops < MAX_HOPS {
            let full = rules.max_queue.is_some_and(|max| self.queues[&section].len() >= max);
            let overflow = if let (true, Some(r)) = (full, &rules.when_full) {
                Some(("full", r.clone()))
            } else if let (false, Some(r)) = (self.attended(&section), &rules.when_no_operators) {
                Some(("no_operators", r.clone()))
            } else {
                None
            };
            if let Some((reason, route)) = overflow {
                self.counters.get_mut(&section).expect("section counters").entered += 1;
                let w = Waiting::new(section, arrived, now, hops);
                self.overflow(call, &w, reason, route, now, out);
                return;
            }
        }
        let at = self.insert_waiting(call.clone(), section.clone(), arrived, now, hops);
        self.counters.get_mut(&section).expect("section counters").entered += 1;
        self.record(&call, &section, QueueEventKind::Entered { ahead: at }, out);
        out.push(Action::Queued { call: call.clone(), section: section.clone() });
    }

    /// Put a call at its place in a section's queue (by arrival, then sequence); its index.
    fn insert_waiting(&mut self, call: String, section: String, arrived: Instant, entered: Instant, hops: u8) -> usize {
        let w = Waiting { seq: self.seq, ..Waiting::new(section.clone(), arrived, entered, hops) };
        self.seq += 1;
        let queue = &self.queues[&section];
        let key = (w.arrived, w.seq);
        let at = queue.partition_point(|c| {
            let other = &self.waiting[c];
            (other.arrived, other.seq) < key
        });
        self.queues.get_mut(&section).expect("section queue").insert(at, call.clone());
        self.waiting.insert(call, w);
        at
    }

    fn overflow(
        &mut self,
        call: String,
        w: &Waiting,
        reason: &'static str,
        route: Route,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        self.counters.get_mut(&w.section).expect("section counters").overflowed += 1;
        self.record(
            &call,
            &w.section,
            QueueEventKind::Overflowed { reason: reason.to_string(), to: route_name(&route) },
            out,
        );
        self.route(call, w, route, now, out);
    }

    /// Send a call that left `w`'s queue on its way.
    pub(super) fn route(&mut self, call: String, w: &Waiting, route: Route, now: Instant, out: &mut Vec<Action>) {
        match route {
            Route::Section(s) => self.enqueue(call, s, w.arrived, w.hops + 1, now, out),
            route => out.push(Action::Route { call, route }),
        }
    }

    /// Take a call out of its queue; an operator still ringing with it is released (keeping
    /// their turn) and an announcement playing to it is cut.
    pub(super) fn remove_waiting(&mut self, call: &str, now: Instant, out: &mut Vec<Action>) -> Waiting {
        let w = self.waiting.remove(call).expect("waiting call");
        self.queues.get_mut(&w.section).expect("section queue").retain(|c| c != call);
        if w.announcing {
            out.push(Action::StopAnnouncement { call: call.to_string() });
        }
        if let Some((operator, _)) = w.callback.as_ref().and_then(|c| c.dialling.as_ref()) {
            out.push(Action::CancelCallBack { call: call.to_string() });
            self.release_kept(operator, now, out);
        }
        if let Some((operator, _)) = &w.offered {
            let op = self.operators.get_mut(operator).expect("offered operator");
            if matches!(&op.state, OperatorState::Ringing { call: c, .. } if c == call) {
                out.push(Action::CancelOffer { call: call.to_string(), operator: operator.clone() });
                self.release_kept(operator, now, out);
            }
        }
        w
    }

    /// A connected call ends: the operator goes to wrap-up (or their pending pause).
    fn end_connected(&mut self, call: &str, now: Instant, out: &mut Vec<Action>) {
        let c = self.connected.remove(call).expect("connected call");
        let talk_ms = now.saturating_duration_since(c.since).as_millis() as u64;
        self.record(call, &c.section, QueueEventKind::Ended { operator: c.operator.clone(), talk_ms }, out);
        let wrap_up = self.rules[&c.section].wrap_up;
        let op = self.operators.get_mut(&c.operator).expect("connected operator");
        if !op.logged_in() {
            return;
        }
        let state = match op.pending_pause.take() {
            Some(reason) => OperatorState::Paused { reason, since: now },
            None if wrap_up.is_zero() => OperatorState::Available { since: now },
            None => OperatorState::WrapUp { until: now + wrap_up },
        };
        self.set_state(&c.operator, state, out);
    }

    pub(super) fn pause_now(&mut self, operator: &str, reason: String, now: Instant, out: &mut Vec<Action>) {
        let op = self.operators.get_mut(operator).expect("known operator");
        op.pending_pause = None;
        op.idle_before_offer = None;
        if op.logged_in() {
            self.set_state(operator, OperatorState::Paused { reason, since: now }, out);
        }
    }

    pub(super) fn set_state(&mut self, operator: &str, state: OperatorState, out: &mut Vec<Action>) {
        let op = self.operators.get_mut(operator).expect("known operator");
        if op.state != state {
            op.state = state.clone();
            out.push(Action::OperatorChanged { operator: operator.to_string(), state });
        }
    }

    pub(super) fn record(&self, call: &str, section: &str, kind: QueueEventKind, out: &mut Vec<Action>) {
        out.push(Action::Record(QueueEvent { call: call.to_string(), section: section.to_string(), kind }));
    }
}
