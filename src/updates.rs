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
    /// Each operator's call in progress (for a console opened mid-call).
    calls: Mutex<HashMap<String, CallPop>>,
    /// Each operator's latest call, kept after it ends (its outcome is set in wrap-up).
    last: Mutex<HashMap<String, CallPop>>,
}

impl Default for Updates {
    fn default() -> Self {
        Self { tx: broadcast::channel(BACKLOG).0, calls: Mutex::default(), last: Mutex::default() }
    }
}

impl Updates {
    /// Tell every listener (nobody listening is fine).
    pub fn publish(&self, c: Change) {
        {
            let mut calls = self.calls.lock().unwrap_or_else(|e| e.into_inner());
            match &c {
                Change::Call(p) => {
                    calls.insert(p.operator.clone(), (**p).clone());
                    self.last.lock().unwrap_or_else(|e| e.into_inner()).insert(p.operator.clone(), (**p).clone());
                }
                Change::CallEnded { operator, call_id }
                    if calls.get(operator).is_some_and(|p| p.call_id == *call_id) =>
                {
                    calls.remove(operator);
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
        self.calls.lock().unwrap_or_else(|e| e.into_inner()).get(operator).cloned()
    }

    /// The operator's latest call, in progress or ended.
    pub fn last_call_of(&self, operator: &str) -> Option<CallPop> {
        self.last.lock().unwrap_or_else(|e| e.into_inner()).get(operator).cloned()
    }
}
