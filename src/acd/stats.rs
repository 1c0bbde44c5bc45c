//! Per-section figures: waiting now, longest wait, answered, abandoned, service level, and the
//! operators of the section by state.

use super::machine::Acd;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Instant;

/// One section's figures at an instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionStats {
    pub section: String,
    /// Callers on the line waiting.
    pub waiting: usize,
    /// Callback requests holding a place (the one being called included).
    #[serde(default)]
    pub callbacks: usize,
    pub longest_wait_s: u64,
    pub entered: u64,
    pub answered: u64,
    pub abandoned: u64,
    pub timed_out: u64,
    pub overflowed: u64,
    /// Answered within the section's threshold.
    pub answered_in_time: u64,
    /// `answered_in_time / (answered + abandoned)`, in percent; `None` before any call ended
    /// its wait.
    pub service_level_pct: Option<f64>,
    /// Operators logged in to the section, by state name.
    pub operators: BTreeMap<String, usize>,
    /// The pending callback requests, in their order (shown to operators and administrators
    /// only: `GET /api/callbacks`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<CallbackView>,
}

/// A pending callback request as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackView {
    /// The id of the call that asked (cancel it with this).
    pub call: String,
    pub section: String,
    /// The number to call, E.164.
    pub number: String,
    /// Callers on the line and requests ahead of it.
    pub ahead: usize,
    /// Seconds since the caller's first arrival.
    pub waited_s: u64,
    /// Attempts made so far.
    pub attempts: u32,
    /// The operator kept for the attempt in progress, if one is.
    pub calling: Option<String>,
}

impl Acd {
    /// Figures of every section at `now`.
    pub fn stats(&self, now: Instant) -> Vec<SectionStats> {
        self.counters
            .iter()
            .map(|(section, c)| {
                let queue = self.queue(section);
                let callbacks = self.callbacks(section).count();
                let longest = queue
                    .iter()
                    .filter(|call| self.waiting[*call].callback.is_none())
                    .map(|call| now.saturating_duration_since(self.waiting[call].entered).as_secs())
                    .max()
                    .unwrap_or(0);
                let mut operators = BTreeMap::new();
                for op in self.operators.values().filter(|o| o.logged_in() && o.serving.contains(section)) {
                    *operators.entry(op.state.name().to_string()).or_insert(0) += 1;
                }
                let ended = c.answered + c.abandoned;
                let requests = queue
                    .iter()
                    .enumerate()
                    .filter_map(|(ahead, call)| {
                        let w = &self.waiting[call];
                        let cb = w.callback.as_ref()?;
                        Some(CallbackView {
                            call: call.clone(),
                            section: section.clone(),
                            number: cb.number.to_string(),
                            ahead,
                            waited_s: now.saturating_duration_since(w.arrived).as_secs(),
                            attempts: cb.attempts,
                            calling: cb.dialling.as_ref().map(|(op, _)| op.clone()),
                        })
                    })
                    .collect();
                SectionStats {
                    section: section.clone(),
                    waiting: queue.len() - callbacks,
                    callbacks,
                    longest_wait_s: longest,
                    entered: c.entered,
                    answered: c.answered,
                    abandoned: c.abandoned,
                    timed_out: c.timed_out,
                    overflowed: c.overflowed,
                    answered_in_time: c.answered_in_time,
                    service_level_pct: (ended > 0).then(|| 100.0 * c.answered_in_time as f64 / ended as f64),
                    operators,
                    requests,
                }
            })
            .collect()
    }
}
