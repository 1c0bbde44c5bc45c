//! What the pages are told as it happens: tickets opened or worked, appointments booked, moved
//! or cancelled, and calls connected to an operator (the console's screen-pop) or ended. One
//! hub, published to by the API handlers and the call tasks, read by `GET /api/events`.

use crate::cases::Ticket;
use crate::cases::appointment::Appointment;
use crate::vocabulary::CallPop;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Changes kept for slow listeners.
pub const BACKLOG: usize = 1024;

/// Something the pages show changed.
#[derive(Debug, Clone)]
pub enum Change {
    Ticket(Box<Ticket>),
    Appointment(Box<Appointment>),
    /// A call was connected to an operator.
    Call(Box<CallPop>),
    /// The operator's call ended (or was transferred).
    CallEnded {
        operator: String,
        call_id: String,
    },
}

/// The hub.
pub struct Updates {
    tx: broadcast::Sender<Change>,
    /// Each operator's latest call and whether it is still in progress: for a console opened
    /// mid-call, and after the call for its outcome (set in wrap-up).
    latest: Mutex<HashMap<String, (CallPop, bool)>>,
}

impl Default for Updates {
    fn default() -> Self {
        Self { tx: broadcast::channel(BACKLOG).0, latest: Mutex::default() }
    }
}

impl Updates {
    /// Tell every listener (nobody listening is fine).
    pub fn publish(&self, c: Change) {
        {
            let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
            match &c {
                Change::Call(p) => {
                    latest.insert(p.operator.clone(), ((**p).clone(), true));
                }
                Change::CallEnded { operator, call_id } => {
                    if let Some((p, in_progress)) = latest.get_mut(operator)
                        && p.call_id == *call_id
                    {
                        *in_progress = false;
                    }
                }
                _ => {}
            }
        }
        let _ = self.tx.send(c);
    }

    /// Know these calls (ended, from the store at start-up) as their operators' latest.
    pub fn recall(&self, calls: Vec<CallPop>) {
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        for p in calls {
            latest.entry(p.operator.clone()).or_insert((p, false));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.tx.subscribe()
    }

    /// The operator's call in progress.
    pub fn call_of(&self, operator: &str) -> Option<CallPop> {
        let latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        latest.get(operator).filter(|(_, in_progress)| *in_progress).map(|(p, _)| p.clone())
    }

    /// The operator's latest call, in progress or ended.
    pub fn last_call_of(&self, operator: &str) -> Option<CallPop> {
        self.latest.lock().unwrap_or_else(|e| e.into_inner()).get(operator).map(|(p, _)| p.clone())
    }
}
