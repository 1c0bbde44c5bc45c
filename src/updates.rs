//! What the pages are told as it happens: tickets opened or worked, appointments booked, moved
//! or cancelled, and calls connected to an operator (the console's screen-pop) or ended. One
//! hub, published to by the API handlers and the call tasks, read by `GET /api/events`.

use crate::cases::Ticket;
use crate::cases::appointment::Appointment;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

/// Changes kept for slow listeners.
pub const BACKLOG: usize = 1024;

/// Who is calling and why, as the operator's console shows it when the call is connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallPop {
    pub operator: String,
    pub call_id: String,
    pub caller: String,
    /// The number called, and its province and region.
    pub number: String,
    pub province: Option<String>,
    pub region: Option<String>,
    /// The section whose queue the call came from.
    pub section: String,
    /// The path through the voice portal and the keys pressed.
    pub path: Vec<String>,
    pub keys: String,
    pub language: String,
    pub arrived: DateTime<Utc>,
    /// How long the caller waited in the queue, in seconds.
    pub waited_s: u64,
    /// The voice-portal tree answering the call.
    pub tree: String,
    /// The tree's node that reads back an appointment booked during the call, if it has one
    /// (the console's "read it back to the caller").
    pub readback_node: Option<String>,
}

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
