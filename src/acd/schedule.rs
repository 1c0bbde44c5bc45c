//! What time does to the queues, after every event: ring timeouts, end of wrap-up, maximum
//! waits, then distribution of waiting calls to free operators, then position announcements.

use super::events::{Action, QueueEventKind, route_name};
use super::machine::{Acd, RECENT_ANSWERS};
use super::operator::{NO_ANSWER, OperatorState};
use std::time::{Duration, Instant};

impl Acd {
    /// Everything due at `now`, in order: expiries, distribution, announcements.
    pub(super) fn step(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.expire_offers(now, out);
        self.expire_callbacks(now, out);
        self.end_wrap_ups(now, out);
        self.expire_waits(now, out);
        match self.gathering {
            Some(until) if now < until => return,
            Some(_) => self.gathering = None,
            None => {}
        }
        self.distribute(now, out);
        self.announce(now, out);
    }

    /// When the next [`super::Event::Tick`] is due, if anything is pending.
    pub fn next_deadline(&self) -> Option<Instant> {
        let offers = self
            .waiting
            .values()
            .filter_map(|w| w.offered.as_ref().map(|(_, since)| *since + self.rules[&w.section].ring_timeout));
        let wrap_ups = self.operators.values().filter_map(|o| match o.state {
            OperatorState::WrapUp { until } => Some(until),
            _ => None,
        });
        let waits = self.waiting.values().filter_map(|w| {
            let rules = &self.rules[&w.section];
            match (rules.max_wait, &rules.after_max_wait, &w.offered, &w.callback) {
                (Some(max), Some(_), None, None) => Some(w.entered + max),
                _ => None,
            }
        });
        // While gathering, nothing is offered or announced before it ends.
        let announcements = self
            .queues
            .values()
            .flat_map(|q| q.iter().enumerate())
            .filter_map(|(ahead, call)| self.announcement_due(call, ahead))
            .map(|due| self.gathering.map_or(due, |until| due.max(until)));
        offers
            .chain(wrap_ups)
            .chain(waits)
            .chain(announcements)
            .chain(self.gathering)
            .chain(self.callback_deadlines())
            .min()
    }

    /// Ringing too long: the next operator is tried, this one is paused ("no answer").
    fn expire_offers(&mut self, now: Instant, out: &mut Vec<Action>) {
        let expired: Vec<(String, String)> = self
            .waiting
            .iter()
            .filter_map(|(call, w)| match &w.offered {
                Some((op, since)) if *since + self.rules[&w.section].ring_timeout <= now => {
                    Some((call.clone(), op.clone()))
                }
                _ => None,
            })
            .collect();
        for (call, operator) in expired {
            let w = self.waiting.get_mut(&call).expect("waiting");
            w.offered = None;
            let section = w.section.clone();
            out.push(Action::CancelOffer { call: call.clone(), operator: operator.clone() });
            let kind = QueueEventKind::NotAnswered { operator: operator.clone(), reason: "ring timeout".into() };
            self.record(&call, &section, kind, out);
            self.pause_now(&operator, NO_ANSWER.into(), now, out);
        }
    }

    fn end_wrap_ups(&mut self, now: Instant, out: &mut Vec<Action>) {
        let done: Vec<(String, Instant)> = self
            .operators
            .iter()
            .filter_map(|(id, o)| match o.state {
                OperatorState::WrapUp { until } if until <= now => Some((id.clone(), until)),
                _ => None,
            })
            .collect();
        for (operator, until) in done {
            self.set_state(&operator, OperatorState::Available { since: until }, out);
        }
    }

    /// Callers who waited the section's maximum go where it says (never while being offered).
    fn expire_waits(&mut self, now: Instant, out: &mut Vec<Action>) {
        let mut expired: Vec<(Instant, u64, String)> = self
            .waiting
            .iter()
            .filter(|(_, w)| {
                let rules = &self.rules[&w.section];
                w.offered.is_none()
                    && w.callback.is_none()
                    && rules.after_max_wait.is_some()
                    && rules.max_wait.is_some_and(|max| w.entered + max <= now)
            })
            .map(|(call, w)| (w.arrived, w.seq, call.clone()))
            .collect();
        expired.sort();
        for (_, _, call) in expired {
            let w = self.remove_waiting(&call, now, out);
            let route = self.rules[&w.section].after_max_wait.clone().expect("filtered");
            self.counters.get_mut(&w.section).expect("section counters").timed_out += 1;
            let wait_ms = now.saturating_duration_since(w.entered).as_millis() as u64;
            self.record(&call, &w.section, QueueEventKind::TimedOut { wait_ms, to: route_name(&route) }, out);
            self.route(call, &w, route, now, out);
        }
    }

    /// Free operators, longest idle first, each take the first caller of the first of their
    /// sections (in their priority order) that has one not already being offered.
    fn distribute(&mut self, now: Instant, out: &mut Vec<Action>) {
        let mut free: Vec<(Instant, String)> =
            self.operators.iter().filter_map(|(id, o)| o.idle_since().map(|since| (since, id.clone()))).collect();
        free.sort();
        for (since, operator) in free {
            let serving = self.operators[&operator].serving.clone();
            let next = serving
                .iter()
                .find_map(|section| self.queues[section].iter().find(|c| self.ready_for_operator(c, now)).cloned());
            let Some(call) = next else { continue };
            if self.waiting[&call].callback.is_some() {
                self.call_back(call, operator, since, now, out);
                continue;
            }
            let w = self.waiting.get_mut(&call).expect("queued call");
            w.offered = Some((operator.clone(), now));
            let (section, announcing) = (w.section.clone(), std::mem::take(&mut w.announcing));
            if announcing {
                out.push(Action::StopAnnouncement { call: call.clone() });
            }
            self.operators.get_mut(&operator).expect("free operator").idle_before_offer = Some(since);
            self.set_state(&operator, OperatorState::Ringing { call: call.clone(), since: now }, out);
            self.record(&call, &section, QueueEventKind::Offered { operator: operator.clone() }, out);
            out.push(Action::Offer { call, operator });
        }
    }

    /// When the waiting call with `ahead` callers before it is due an announcement: at once on
    /// joining, after the minimum interval when its position changed, after the periodic
    /// interval otherwise. Never while it is offered or already hearing one.
    fn announcement_due(&self, call: &str, ahead: usize) -> Option<Instant> {
        let w = &self.waiting[call];
        if w.offered.is_some() || w.announcing || w.callback.is_some() {
            return None;
        }
        let rules = &self.rules[&w.section];
        let due = match w.last_announced {
            None => w.entered,
            Some((was, at)) if was != ahead => at + rules.announce_min_interval,
            Some((_, at)) => at + rules.announce_every,
        };
        Some(self.callback_offer_due(call).map_or(due, |offer| due.min(offer)))
    }

    fn announce(&mut self, now: Instant, out: &mut Vec<Action>) {
        let sections: Vec<String> = self.queues.keys().cloned().collect();
        for section in sections {
            let due: Vec<(usize, String)> = self.queues[&section]
                .iter()
                .enumerate()
                .filter(|(ahead, call)| self.announcement_due(call, *ahead).is_some_and(|t| t <= now))
                .map(|(ahead, call)| (ahead, call.clone()))
                .collect();
            for (ahead, call) in due {
                let wait = self.estimated_wait(&section, ahead);
                let callback = self.callback_key(&call, wait, now);
                let w = self.waiting.get_mut(&call).expect("queued call");
                w.announcing = true;
                w.last_announced = Some((ahead, now));
                w.callback_offered |= callback.is_some();
                let kind = QueueEventKind::Announced { ahead, wait_s: wait.map(|d| d.as_secs()) };
                self.record(&call, &section, kind, out);
                out.push(Action::Announce { call, ahead, wait, callback });
            }
        }
    }

    /// From the section's recent answers: the time per answered call, times the callers up to
    /// and including this one. `None` when the section does not announce waits or has fewer
    /// than three recent answers.
    pub(super) fn estimated_wait(&self, section: &str, ahead: usize) -> Option<Duration> {
        if !self.rules[section].announce_wait {
            return None;
        }
        let recent = self.recent_answers.get(section)?;
        if recent.len() < 3.min(RECENT_ANSWERS) {
            return None;
        }
        let span = recent.back()?.saturating_duration_since(*recent.front()?);
        let per_call = span / (recent.len() as u32 - 1);
        Some(per_call * (ahead as u32 + 1))
    }
}
