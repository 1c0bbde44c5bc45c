//! A new configuration for the running distribution (a reload): sections and their rules,
//! operators and their sections change without losing the queues or anyone's state.
//!
//! - A new section starts with an empty queue; a changed section's rules apply from now on
//!   (to the callers already waiting too).
//! - A section removed from the configuration keeps serving the callers already in its queue
//!   with its last rules; no tree routes new callers there any more. It is dropped at the next
//!   restart.
//! - A new operator starts logged out. An operator whose sections changed keeps serving the
//!   ones still theirs (logged out when none is left, unless in a call: then after it).
//! - A removed operator is logged out at once, or when the call ringing or in progress ends.

use super::events::Action;
use super::machine::Acd;
use super::operator::{Operator, OperatorState};
use super::rules::SectionRules;
use std::collections::BTreeMap;
use std::time::Instant;
use tracing::{info, warn};

impl Acd {
    pub(super) fn reconfigure(
        &mut self,
        sections: BTreeMap<String, SectionRules>,
        operators: BTreeMap<String, Vec<String>>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        for id in self.rules.keys().filter(|s| !sections.contains_key(*s)) {
            let waiting = self.queues.get(id).map_or(0, Vec::len);
            warn!(section = %id, waiting, "section removed from the configuration: it keeps serving the callers in its queue until the next restart");
        }
        for (id, rules) in sections {
            if !self.rules.contains_key(&id) {
                info!(section = %id, "new section in service");
            }
            self.queues.entry(id.clone()).or_default();
            self.counters.entry(id.clone()).or_default();
            self.rules.insert(id, rules);
        }
        let removed: Vec<String> = self.operators.keys().filter(|o| !operators.contains_key(*o)).cloned().collect();
        for id in removed {
            info!(operator = %id, "operator removed from the configuration");
            // No sections at all marks them for removal (the configuration gives everyone one).
            let op = self.operators.get_mut(&id).expect("listed above");
            op.skills.clear();
            op.serving.clear();
            self.retiring.insert(id);
        }
        for (id, skills) in operators {
            self.retiring.remove(&id);
            match self.operators.get_mut(&id) {
                Some(op) => {
                    op.serving = skills.iter().filter(|s| op.serving.contains(s)).cloned().collect();
                    op.skills = skills;
                    if op.logged_in() && op.serving.is_empty() {
                        self.retiring.insert(id);
                    }
                }
                None => {
                    info!(operator = %id, "new operator");
                    self.operators.insert(id, Operator::new(skills));
                }
            }
        }
        self.retire(now, out);
    }

    /// Log out (and drop, if no longer configured) the retiring operators not in a call.
    pub(super) fn retire(&mut self, now: Instant, out: &mut Vec<Action>) {
        let free: Vec<String> = self
            .retiring
            .iter()
            .filter(|id| {
                self.operators
                    .get(*id)
                    .is_none_or(|op| !matches!(op.state, OperatorState::Ringing { .. } | OperatorState::OnCall { .. }))
            })
            .cloned()
            .collect();
        for id in free {
            self.retiring.remove(&id);
            let _ = self.logout(&id, now, out);
            if self.operators.get(&id).is_some_and(|op| op.skills.is_empty()) {
                self.operators.remove(&id);
            }
        }
    }
}
