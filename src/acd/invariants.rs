//! The distribution's invariants, checked by the tests after every event (and usable by a fuzzer).

use super::machine::Acd;
use super::operator::OperatorState;
use std::collections::HashSet;

impl Acd {
    /// Whether the state is consistent; the first broken rule otherwise.
    pub fn check_invariants(&self) -> Result<(), String> {
        let mut queued = HashSet::new();
        for (section, queue) in &self.queues {
            for pair in queue.windows(2) {
                let (a, b) = (&self.waiting[&pair[0]], &self.waiting[&pair[1]]);
                if (a.arrived, a.seq) >= (b.arrived, b.seq) {
                    return Err(format!("{section}: {} is served before {} but arrived later", pair[0], pair[1]));
                }
            }
            for call in queue {
                let w = self.waiting.get(call).ok_or(format!("{call} queued in {section} but not waiting"))?;
                if &w.section != section {
                    return Err(format!("{call} queued in {section} but waiting in {}", w.section));
                }
                if !queued.insert(call) {
                    return Err(format!("{call} queued twice"));
                }
                if self.connected.contains_key(call) {
                    return Err(format!("{call} both waiting and connected"));
                }
            }
        }
        for (call, w) in &self.waiting {
            if w.callback.is_some() && (w.offered.is_some() || w.announcing) {
                return Err(format!("the callback request {call} is offered or announced to"));
            }
        }
        if queued.len() != self.waiting.len() {
            return Err("a waiting call is in no queue".into());
        }
        for (id, op) in &self.operators {
            let offered: Vec<&String> = self
                .waiting
                .iter()
                .filter(|(_, w)| w.offered.as_ref().is_some_and(|(o, _)| o == id))
                .map(|(c, _)| c)
                .collect();
            let connected: Vec<&String> =
                self.connected.iter().filter(|(_, c)| &c.operator == id).map(|(c, _)| c).collect();
            match &op.state {
                OperatorState::Ringing { call, .. } if offered != [call] => {
                    return Err(format!("{id} rings with {call} but is offered {offered:?}"));
                }
                OperatorState::Ringing { .. } => {}
                _ if !offered.is_empty() => return Err(format!("{id} is {} but offered {offered:?}", op.state.name())),
                _ => {}
            }
            let kept: Vec<&String> = self
                .waiting
                .iter()
                .filter(|(_, w)| w.callback.as_ref().and_then(|c| c.dialling.as_ref()).is_some_and(|(o, _)| o == id))
                .map(|(c, _)| c)
                .collect();
            match &op.state {
                OperatorState::Reserved { call, .. } if kept != [call] => {
                    return Err(format!("{id} is kept for {call} but dials {kept:?}"));
                }
                OperatorState::Reserved { .. } => {}
                _ if !kept.is_empty() => return Err(format!("{id} is {} but kept for {kept:?}", op.state.name())),
                _ => {}
            }
            match &op.state {
                OperatorState::OnCall { call, .. } if connected != [call] => {
                    return Err(format!("{id} is on {call} but connected to {connected:?}"));
                }
                OperatorState::OnCall { .. } => {}
                // Logged out mid-call is refused, so a connected call always has its operator on it.
                _ if !connected.is_empty() => {
                    return Err(format!("{id} is {} but connected to {connected:?}", op.state.name()));
                }
                _ => {}
            }
            if !op.logged_in() && !op.serving.is_empty() {
                return Err(format!("{id} is logged out but serves {:?}", op.serving));
            }
            if let Some(s) = op.serving.iter().find(|s| !op.skills.contains(s)) {
                return Err(format!("{id} serves {s} without the skill"));
            }
        }
        Ok(())
    }
}
