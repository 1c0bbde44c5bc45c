//! Callback requests in the queues: a waiting caller who was offered callback asks for it and
//! hangs up; the request keeps their place (their first arrival). When it reaches the head and
//! an operator of the section is free, the operator is kept for it ([`OperatorState::Reserved`])
//! and the citizen is called; answered with 1, the kept operator's phone rings as for any
//! caller; failed, the operator is free at once and the request waits `retry` for its next
//! attempt, or ends after the last.

use super::events::{AcdError, Action, CallBack, CallbackRefusal, PendingCallback, QueueEventKind};
use super::machine::{Acd, Callback};
use super::operator::OperatorState;
use super::rules::CallbackOffer;
use crate::vocabulary::{CallPop, CallbackNumber};
use std::time::{Duration, Instant};

/// The window of [`super::CallbackRules::per_caller_per_day`].
const DAY: Duration = Duration::from_secs(24 * 3600);
/// Calling numbers remembered before those silent for a day are forgotten.
const FORGET_CALLERS_OVER: usize = 10_000;

impl Acd {
    /// Pending requests of a section (the one being called included).
    pub fn callbacks(&self, section: &str) -> impl Iterator<Item = &str> + '_ {
        self.queue(section).iter().filter(|c| self.waiting[*c].callback.is_some()).map(String::as_str)
    }

    /// A pending request as the store keeps it.
    pub(super) fn pending(&self, call: &str) -> Option<PendingCallback> {
        let w = self.waiting.get(call)?;
        let c = w.callback.as_ref()?;
        Some(PendingCallback {
            call: call.to_string(),
            section: w.section.clone(),
            number: c.number.clone(),
            caller: c.caller.clone(),
            arrived: w.arrived,
            attempts: c.attempts,
            facts: c.facts.clone(),
        })
    }

    /// Whether callback is offered to this waiting caller now, and on which key.
    pub(super) fn callback_key(&self, call: &str, wait: Option<Duration>, now: Instant) -> Option<char> {
        let w = &self.waiting[call];
        let rules = self.rules[&w.section].callback.as_ref()?;
        let offered = match rules.offer {
            CallbackOffer::Always => true,
            CallbackOffer::AfterWait(after) => w.entered + after <= now,
            CallbackOffer::LongWait(longer) => wait.is_some_and(|w| w > longer),
        };
        (w.callback.is_none() && offered).then_some(rules.key)
    }

    /// When the offer is first due for a caller who waits long enough (`after_wait`).
    pub(super) fn callback_offer_due(&self, call: &str) -> Option<Instant> {
        let w = &self.waiting[call];
        match self.rules[&w.section].callback.as_ref()?.offer {
            CallbackOffer::AfterWait(after) if !w.callback_offered => Some(w.entered + after),
            _ => None,
        }
    }

    /// Whether a waiting entry may be offered to a free operator now: a caller on the line not
    /// already ringing one, or a request whose next attempt is due in open hours.
    pub(super) fn ready_for_operator(&self, call: &str, now: Instant) -> bool {
        let w = &self.waiting[call];
        w.offered.is_none()
            && w.callback.as_ref().is_none_or(|c| {
                c.dialling.is_none()
                    && c.not_before.is_none_or(|t| t <= now)
                    && !self.callbacks_closed.contains(&w.section)
            })
    }

    /// The deadlines of requests: attempts that take too long, and the next attempts.
    pub(super) fn callback_deadlines(&self) -> impl Iterator<Item = Instant> + '_ {
        self.waiting.values().filter_map(|w| {
            let c = w.callback.as_ref()?;
            let rules = self.rules[&w.section].callback.as_ref()?;
            match &c.dialling {
                Some((_, since)) => Some(*since + rules.attempt_timeout),
                None => c.not_before,
            }
        })
    }

    pub(super) fn request_callback(
        &mut self,
        call: String,
        number: CallbackNumber,
        caller: String,
        facts: Box<CallPop>,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), AcdError> {
        let refused = self.refusal(&call, &number, &caller, now);
        if let Some(reason) = refused {
            out.push(Action::CallbackRefused { call, reason });
            return Ok(());
        }
        self.callback_requests.entry(caller.clone()).or_default().push_back(now);
        if self.callback_requests.len() > FORGET_CALLERS_OVER {
            // Numbers that asked more than a day ago are forgotten (the map would only grow).
            self.callback_requests
                .retain(|_, asked| asked.back().is_some_and(|t| now.saturating_duration_since(*t) < DAY));
        }
        let w = self.waiting.get_mut(&call).expect("checked");
        w.announcing = false;
        let number_shown = number.to_string();
        w.callback = Some(Callback { number, caller, attempts: 0, not_before: None, dialling: None, facts });
        let section = w.section.clone();
        // An operator ringing with the call meanwhile is released: the caller is hanging up.
        if let Some((operator, _)) = w.offered.take() {
            out.push(Action::CancelOffer { call: call.clone(), operator: operator.clone() });
            self.release_kept(&operator, now, out);
        }
        let ahead = self.queue(&section).iter().position(|c| *c == call).expect("queued");
        let wait = self.estimated_wait(&section, ahead);
        self.record(&call, &section, QueueEventKind::CallbackRequested { number: number_shown }, out);
        out.push(Action::CallbackAccepted { call: call.clone(), ahead, wait });
        out.push(Action::KeepCallback(self.pending(&call).expect("pending")));
        Ok(())
    }

    fn refusal(&mut self, call: &str, number: &CallbackNumber, caller: &str, now: Instant) -> Option<CallbackRefusal> {
        let Some(w) = self.waiting.get(call) else { return Some(CallbackRefusal::NotWaiting) };
        let Some(rules) = self.rules[&w.section].callback.as_ref() else { return Some(CallbackRefusal::NotWaiting) };
        if w.callback.is_some()
            || self.waiting.values().any(|o| o.callback.as_ref().is_some_and(|c| c.number == *number))
        {
            return Some(CallbackRefusal::AlreadyPending);
        }
        if self.callbacks(&w.section).count() >= rules.per_section {
            return Some(CallbackRefusal::SectionFull);
        }
        let per_caller = rules.per_caller_per_day;
        let asked = self.callback_requests.entry(caller.to_string()).or_default();
        while asked.front().is_some_and(|t| now.saturating_duration_since(*t) >= DAY) {
            asked.pop_front();
        }
        (asked.len() >= per_caller).then_some(CallbackRefusal::TooOften)
    }

    /// Keep a free operator for a request and call the citizen.
    pub(super) fn call_back(
        &mut self,
        call: String,
        operator: String,
        idle: Instant,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let w = self.waiting.get_mut(&call).expect("queued call");
        let c = w.callback.as_mut().expect("a request");
        c.attempts += 1;
        c.not_before = None;
        c.dialling = Some((operator.clone(), now));
        let attempt = c.attempts;
        let (section, number, facts) = (w.section.clone(), c.number.clone(), c.facts.clone());
        self.operators.get_mut(&operator).expect("free operator").idle_before_offer = Some(idle);
        self.set_state(&operator, OperatorState::Reserved { call: call.clone(), since: now }, out);
        let kind = QueueEventKind::CallbackDialled { operator: operator.clone(), attempt };
        self.record(&call, &section, kind, out);
        out.push(Action::KeepCallback(self.pending(&call).expect("pending")));
        out.push(Action::CallBack(CallBack { call, section, number, operator, attempt, facts }));
    }

    /// The citizen answered and pressed 1: the kept operator's phone rings.
    pub(super) fn callback_answered(
        &mut self,
        call: String,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), AcdError> {
        let Some(w) = self.waiting.get_mut(&call) else { return Err(AcdError::UnknownCall(call)) };
        let Some((operator, _)) = w.callback.as_ref().and_then(|c| c.dialling.clone()) else {
            return Err(AcdError::UnknownCall(call));
        };
        // From here on a caller on the line like the others, at the same place.
        w.callback = None;
        w.offered = Some((operator.clone(), now));
        let section = w.section.clone();
        self.set_state(&operator, OperatorState::Ringing { call: call.clone(), since: now }, out);
        self.record(&call, &section, QueueEventKind::CallbackAnswered { operator: operator.clone() }, out);
        self.record(&call, &section, QueueEventKind::Offered { operator: operator.clone() }, out);
        out.push(Action::DropCallback { call: call.clone(), gave_up: None });
        out.push(Action::Offer { call, operator });
        Ok(())
    }

    /// An attempt failed: the operator is free at once; the request waits or ends.
    pub(super) fn callback_failed(
        &mut self,
        call: &str,
        reason: String,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), AcdError> {
        let Some(w) = self.waiting.get_mut(call) else { return Err(AcdError::UnknownCall(call.to_string())) };
        let Some(c) = w.callback.as_mut() else { return Err(AcdError::UnknownCall(call.to_string())) };
        let Some((operator, _)) = c.dialling.take() else { return Err(AcdError::UnknownCall(call.to_string())) };
        let section = w.section.clone();
        let rules = self.rules[&section].callback.clone().expect("a section with requests offers callback");
        let attempt = c.attempts;
        c.not_before = Some(now + rules.retry);
        self.release_kept(&operator, now, out);
        self.record(call, &section, QueueEventKind::CallbackFailed { operator, attempt, reason }, out);
        if attempt < rules.attempts {
            out.push(Action::KeepCallback(self.pending(call).expect("pending")));
            return Ok(());
        }
        let gave_up = self.pending(call);
        self.remove_waiting(call, now, out);
        self.record(call, &section, QueueEventKind::CallbackGaveUp { attempts: attempt }, out);
        out.push(Action::DropCallback { call: call.to_string(), gave_up });
        Ok(())
    }

    pub(super) fn cancel_callback(
        &mut self,
        call: &str,
        by: String,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), AcdError> {
        if self.waiting.get(call).is_none_or(|w| w.callback.is_none()) {
            return Err(AcdError::UnknownCall(call.to_string()));
        }
        let w = self.remove_waiting(call, now, out);
        self.record(call, &w.section, QueueEventKind::CallbackCancelled { by }, out);
        out.push(Action::DropCallback { call: call.to_string(), gave_up: None });
        Ok(())
    }

    pub(super) fn callback_hours(
        &mut self,
        section: String,
        open: bool,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), AcdError> {
        let Some(rules) = self.rules.get(&section) else { return Err(AcdError::UnknownSection(section)) };
        if open {
            self.callbacks_closed.remove(&section);
            return Ok(());
        }
        let cancel = rules.callback.as_ref().is_some_and(|c| c.cancel_at_closing);
        self.callbacks_closed.insert(section.clone());
        if cancel {
            // An attempt in progress goes on; the others end.
            let idle: Vec<String> = self
                .callbacks(&section)
                .filter(|c| self.waiting[*c].callback.as_ref().is_some_and(|c| c.dialling.is_none()))
                .map(String::from)
                .collect();
            for call in idle {
                self.cancel_callback(&call, "closing".into(), now, out)?;
            }
        }
        Ok(())
    }

    /// Retries that are due are no longer waited for; attempts that took longer than the
    /// section allows count as failed.
    pub(super) fn expire_callbacks(&mut self, now: Instant, out: &mut Vec<Action>) {
        for c in self.waiting.values_mut().filter_map(|w| w.callback.as_mut()) {
            if c.not_before.is_some_and(|t| t <= now) {
                c.not_before = None;
            }
        }
        let late: Vec<String> = self
            .waiting
            .iter()
            .filter(|(_, w)| {
                let timeout = self.rules[&w.section].callback.as_ref().map(|r| r.attempt_timeout);
                let since = w.callback.as_ref().and_then(|c| c.dialling.as_ref()).map(|(_, s)| *s);
                since.zip(timeout).is_some_and(|(since, t)| since + t <= now)
            })
            .map(|(c, _)| c.clone())
            .collect();
        for call in late {
            out.push(Action::CancelCallBack { call: call.clone() });
            self.callback_failed(&call, "no answer in time".into(), now, out).expect("dialling");
        }
    }

    /// A kept (reserved or ringing) operator whose call went away: free again with their turn,
    /// or in the pause they asked for meanwhile.
    pub(super) fn release_kept(&mut self, operator: &str, now: Instant, out: &mut Vec<Action>) {
        let op = self.operators.get_mut(operator).expect("kept operator");
        let since = op.idle_before_offer.take().unwrap_or(now);
        match op.pending_pause.take() {
            Some(reason) => self.set_state(operator, OperatorState::Paused { reason, since: now }, out),
            None => self.set_state(operator, OperatorState::Available { since }, out),
        }
    }
}
