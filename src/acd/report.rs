//! Figures from the queue journal (`queue.jsonl`, `operators.jsonl`), for `centralino stats`:
//! per section the calls that entered, were answered, abandoned, timed out, overflowed, left,
//! were transferred out, the service level, the calls waiting now and the longest wait, the
//! callback requests (asked, called back, given up, cancelled, pending now) apart; each
//! operator's last state.

use super::events::QueueEventKind;
use super::journal::{OperatorEntry, QueueEntry};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// One section's figures from the journal.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SectionReport {
    pub section: String,
    pub entered: u64,
    pub answered: u64,
    pub answered_in_time: u64,
    pub abandoned: u64,
    pub timed_out: u64,
    pub overflowed: u64,
    pub left: u64,
    pub transferred_out: u64,
    /// `answered_in_time / (answered + abandoned)` in percent.
    pub service_level_pct: Option<f64>,
    pub mean_answer_wait_s: Option<f64>,
    /// Calls whose last event in this section is not an ending (as far as the journal knows).
    pub waiting_now: u64,
    pub longest_wait_now_s: u64,
    pub callbacks_requested: u64,
    /// Citizens called back who pressed 1.
    pub callbacks_answered: u64,
    pub callbacks_gave_up: u64,
    pub callbacks_cancelled: u64,
    /// Requests holding a place now (not counted in `waiting_now`).
    pub callbacks_pending_now: u64,
}

/// Compute the sections' figures at `now`; `service_level` gives each section's threshold.
pub fn sections(
    entries: &[QueueEntry],
    service_level: impl Fn(&str) -> Duration,
    now: DateTime<Utc>,
) -> Vec<SectionReport> {
    let mut out: BTreeMap<String, SectionReport> = BTreeMap::new();
    let mut waits: HashMap<String, Vec<u64>> = HashMap::new();
    // (call, section) -> when it entered, while it waits there.
    let mut waiting: HashMap<(String, String), DateTime<Utc>> = HashMap::new();
    // (call, section) of the callback requests pending.
    let mut pending: std::collections::HashSet<(String, String)> = Default::default();
    for e in entries {
        let section = &e.event.section;
        let r = out
            .entry(section.clone())
            .or_insert_with(|| SectionReport { section: section.clone(), ..Default::default() });
        let key = (e.event.call.clone(), section.clone());
        match &e.event.kind {
            QueueEventKind::Entered { .. } => {
                r.entered += 1;
                waiting.insert(key, e.at);
            }
            QueueEventKind::Answered { wait_ms, .. } => {
                r.answered += 1;
                if Duration::from_millis(*wait_ms) <= service_level(section) {
                    r.answered_in_time += 1;
                }
                waits.entry(section.clone()).or_default().push(*wait_ms);
                waiting.remove(&key);
            }
            QueueEventKind::Abandoned { .. } => {
                r.abandoned += 1;
                waiting.remove(&key);
            }
            QueueEventKind::TimedOut { .. } => {
                r.timed_out += 1;
                waiting.remove(&key);
            }
            QueueEventKind::Overflowed { .. } => {
                r.overflowed += 1;
                waiting.remove(&key);
            }
            QueueEventKind::Left { .. } => {
                r.left += 1;
                waiting.remove(&key);
            }
            QueueEventKind::Transferred { .. } => r.transferred_out += 1,
            QueueEventKind::CallbackRequested { .. } => {
                r.callbacks_requested += 1;
                waiting.remove(&key);
                pending.insert(key);
            }
            QueueEventKind::CallbackAnswered { .. } => {
                r.callbacks_answered += 1;
                pending.remove(&key);
            }
            QueueEventKind::CallbackGaveUp { .. } => {
                r.callbacks_gave_up += 1;
                pending.remove(&key);
            }
            QueueEventKind::CallbackCancelled { .. } => {
                r.callbacks_cancelled += 1;
                pending.remove(&key);
            }
            _ => {}
        }
    }
    for ((_, section), since) in &waiting {
        if let Some(r) = out.get_mut(section) {
            r.waiting_now += 1;
            r.longest_wait_now_s = r.longest_wait_now_s.max((now - *since).num_seconds().max(0) as u64);
        }
    }
    for (_, section) in &pending {
        if let Some(r) = out.get_mut(section) {
            r.callbacks_pending_now += 1;
        }
    }
    for r in out.values_mut() {
        let ended = r.answered + r.abandoned;
        r.service_level_pct = (ended > 0).then(|| 100.0 * r.answered_in_time as f64 / ended as f64);
        r.mean_answer_wait_s = waits
            .get(&r.section)
            .filter(|w| !w.is_empty())
            .map(|w| w.iter().sum::<u64>() as f64 / w.len() as f64 / 1000.0);
    }
    out.into_values().collect()
}

/// Each operator's last recorded state.
pub fn operators(entries: &[OperatorEntry]) -> Vec<OperatorEntry> {
    let mut last: BTreeMap<String, OperatorEntry> = BTreeMap::new();
    for e in entries {
        last.insert(e.operator.clone(), e.clone());
    }
    last.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acd::QueueEvent;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    fn e(s: i64, call: &str, section: &str, kind: QueueEventKind) -> QueueEntry {
        QueueEntry { at: at(s), event: QueueEvent { call: call.into(), section: section.into(), kind } }
    }

    #[test]
    fn figures_from_a_journal() {
        let entries = vec![
            e(0, "a", "pensions", QueueEventKind::Entered { ahead: 0 }),
            e(1, "b", "pensions", QueueEventKind::Entered { ahead: 1 }),
            e(2, "c", "pensions", QueueEventKind::Entered { ahead: 2 }),
            e(10, "a", "pensions", QueueEventKind::Answered { operator: "x".into(), wait_ms: 10_000 }),
            e(50, "b", "pensions", QueueEventKind::Answered { operator: "x".into(), wait_ms: 49_000 }),
            e(55, "a", "pensions", QueueEventKind::Transferred { operator: "x".into(), to: "section:general".into() }),
            e(55, "a", "general", QueueEventKind::Entered { ahead: 0 }),
            e(60, "d", "general", QueueEventKind::Entered { ahead: 1 }),
            e(61, "d", "general", QueueEventKind::Abandoned { wait_ms: 1_000 }),
        ];
        let r = sections(&entries, |_| Duration::from_secs(30), at(100));
        let (general, pensions) = (&r[0], &r[1]);
        assert_eq!((pensions.entered, pensions.answered, pensions.answered_in_time), (3, 2, 1));
        assert_eq!((pensions.waiting_now, pensions.longest_wait_now_s, pensions.transferred_out), (1, 98, 1));
        assert_eq!(pensions.service_level_pct, Some(50.0));
        assert_eq!(pensions.mean_answer_wait_s, Some(29.5));
        assert_eq!(
            (general.entered, general.abandoned, general.waiting_now, general.longest_wait_now_s),
            (2, 1, 1, 45)
        );
        assert_eq!(general.service_level_pct, Some(0.0));
    }

    #[test]
    fn callback_requests_are_counted_apart_from_the_callers_waiting() {
        let requested = || QueueEventKind::CallbackRequested { number: "+393331234567".into() };
        let entries = vec![
            e(0, "a", "pensions", QueueEventKind::Entered { ahead: 0 }),
            e(1, "b", "pensions", QueueEventKind::Entered { ahead: 1 }),
            e(2, "c", "pensions", QueueEventKind::Entered { ahead: 2 }),
            e(5, "a", "pensions", requested()),
            e(6, "b", "pensions", requested()),
            e(20, "a", "pensions", QueueEventKind::CallbackAnswered { operator: "x".into() }),
            e(22, "a", "pensions", QueueEventKind::Answered { operator: "x".into(), wait_ms: 22_000 }),
        ];
        let r = &sections(&entries, |_| Duration::from_secs(30), at(30))[0];
        assert_eq!((r.waiting_now, r.callbacks_pending_now), (1, 1));
        assert_eq!((r.callbacks_requested, r.callbacks_answered, r.answered), (2, 1, 1));
    }
}
