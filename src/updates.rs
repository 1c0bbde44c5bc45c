//! What the pages are told as it happens: tickets opened or worked, appointments booked, moved
//! or cancelled, and calls connected to an operator (the console's screen-pop) or ended. One
//! hub per node, published to by the API handlers and the call tasks, read by `GET /api/events`.
//!
//! Every change has a [`Cursor`], sent as the SSE event's id, so that a page that reconnects with
//! `Last-Event-ID` is given what it missed. On one node (the embedded store) the hub numbers the
//! changes itself and keeps the last [`BACKLOG`] of them. With a shared store the changes travel
//! through the store's [`Feed`]: the store's writes of tickets and appointments carry theirs,
//! the screen-pops are published to it, and every node's hub delivers what it reads from the
//! feed (at once after its own writes, and every [`LOOK_EVERY`] for the others'), so the pages of
//! every node see every node's changes, and a page may reconnect to any node.

use crate::cases::Ticket;
use crate::cases::appointment::Appointment;
use crate::cases::store::{Cursor, Feed};
use crate::vocabulary::CallPop;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tracing::warn;

/// Changes kept for slow listeners and for pages that reconnect.
pub const BACKLOG: usize = 1024;
/// How often a node reads the shared feed for the other nodes' changes.
pub const LOOK_EVERY: Duration = Duration::from_millis(100);
/// Changes read from the feed at once (and given to a page that reconnects, at most).
const READ_AT_ONCE: usize = 1000;

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

impl Change {
    /// The event's name and JSON, as in the feed and the SSE stream.
    pub fn to_feed(&self) -> (&'static str, serde_json::Value) {
        let json = |v: Result<serde_json::Value, serde_json::Error>| v.unwrap_or_default();
        match self {
            Change::Ticket(t) => ("ticket", json(serde_json::to_value(t))),
            Change::Appointment(a) => ("appointment", json(serde_json::to_value(a))),
            Change::Call(p) => ("call", json(serde_json::to_value(p))),
            Change::CallEnded { operator, call_id } => {
                ("call_ended", serde_json::json!({ "operator": operator, "call_id": call_id }))
            }
        }
    }

    /// A change read from the feed (`None`: an event this engine does not know).
    pub fn from_feed(kind: &str, body: serde_json::Value) -> Option<Change> {
        Some(match kind {
            "ticket" => Change::Ticket(serde_json::from_value(body).ok()?),
            "appointment" => Change::Appointment(serde_json::from_value(body).ok()?),
            "call" => Change::Call(serde_json::from_value(body).ok()?),
            "call_ended" => Change::CallEnded {
                operator: body["operator"].as_str()?.to_string(),
                call_id: body["call_id"].as_str()?.to_string(),
            },
            _ => return None,
        })
    }
}

/// A page's `Last-Event-ID` is older than what can be given again: it should reload.
#[derive(Debug, PartialEq, Eq)]
pub struct TooOld;

/// The hub.
pub struct Updates {
    tx: broadcast::Sender<(Cursor, Change)>,
    /// Each operator's latest call and whether it is still in progress: for a console opened
    /// mid-call, and after the call for its outcome (set in wrap-up).
    latest: Mutex<HashMap<String, (CallPop, bool)>>,
    backlog: Mutex<Backlog>,
    /// Where the changes travel when the store is shared.
    feed: Option<Arc<dyn Feed>>,
    /// This process's changes (one node): `tx` is the process's start, so that a cursor from an
    /// earlier process is older than every change of this one.
    generation: u64,
    next: AtomicU64,
}

/// The last changes delivered, and the cursor just before the oldest of them.
#[derive(Default)]
struct Backlog {
    kept: VecDeque<(Cursor, Change)>,
    floor: Cursor,
}

impl Default for Updates {
    fn default() -> Self {
        Self::new(None)
    }
}

impl Updates {
    /// A hub of one node (`feed: None`), or of one node of several sharing `feed`.
    pub fn new(feed: Option<Arc<dyn Feed>>) -> Self {
        let generation =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_millis() as u64);
        // With a feed, everything is older than the backlog until the follower starts it.
        let floor = match &feed {
            None => Cursor { tx: generation, seq: 0 },
            Some(_) => Cursor { tx: u64::MAX, seq: u64::MAX },
        };
        Self {
            tx: broadcast::channel(BACKLOG).0,
            latest: Mutex::default(),
            backlog: Mutex::new(Backlog { kept: VecDeque::new(), floor }),
            feed,
            generation,
            next: AtomicU64::new(1),
        }
    }

    /// Tell every listener (nobody listening is fine). With a shared store, tickets and
    /// appointments are already in the feed (their writes put them there): only the calls'
    /// changes are published to it, off the caller's thread.
    pub fn publish(&self, c: Change) {
        match &self.feed {
            None => {
                let cursor = Cursor { tx: self.generation, seq: self.next.fetch_add(1, Ordering::Relaxed) };
                self.deliver(cursor, c);
            }
            Some(_) if matches!(c, Change::Ticket(_) | Change::Appointment(_)) => {}
            Some(feed) => {
                let feed = Arc::clone(feed);
                let (kind, body) = c.to_feed();
                tokio::spawn(async move {
                    if let Err(e) = feed.publish(kind, body).await {
                        warn!(error = %e, kind, "a call's change did not reach the other nodes' pages");
                    }
                });
            }
        }
    }

    fn deliver(&self, cursor: Cursor, c: Change) {
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
        let mut backlog = self.backlog.lock().unwrap_or_else(|e| e.into_inner());
        if backlog.kept.len() == BACKLOG
            && let Some((oldest, _)) = backlog.kept.pop_front()
        {
            backlog.floor = oldest;
        }
        backlog.kept.push_back((cursor, c.clone()));
        // Sent under the backlog's lock: listeners see the changes in the backlog's order.
        let _ = self.tx.send((cursor, c));
    }

    /// Know these calls (ended, from the store at start-up) as their operators' latest.
    pub fn recall(&self, calls: Vec<CallPop>) {
        let mut latest = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        for p in calls {
            latest.entry(p.operator.clone()).or_insert((p, false));
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<(Cursor, Change)> {
        self.tx.subscribe()
    }

    /// The changes after `after` (a page's `Last-Event-ID`), in order: from this node's backlog,
    /// or from the shared feed when they are older.
    pub async fn since(&self, after: Cursor) -> Result<Vec<(Cursor, Change)>, TooOld> {
        let from_backlog = {
            let backlog = self.backlog.lock().unwrap_or_else(|e| e.into_inner());
            (after >= backlog.floor)
                .then(|| backlog.kept.iter().filter(|(c, _)| *c > after).cloned().collect::<Vec<_>>())
        };
        if let Some(changes) = from_backlog {
            return Ok(changes);
        }
        let feed = self.feed.as_ref().ok_or(TooOld)?;
        match feed.since(after, READ_AT_ONCE).await {
            Ok(events) if events.len() < READ_AT_ONCE => Ok(events
                .into_iter()
                .filter_map(|e| Change::from_feed(&e.kind, e.body).map(|c| (e.cursor, c)))
                .collect()),
            _ => Err(TooOld),
        }
    }

    /// Deliver the shared feed's changes to this node's listeners, until `stop`.
    pub async fn follow(self: Arc<Self>, stop: CancellationToken) {
        let Some(feed) = self.feed.clone() else { return };
        let waker = feed.waker();
        let mut at = None;
        let mut failing = false;
        loop {
            let read = match at {
                None => feed.head().await.map(|head| (head, vec![])),
                Some(at) => feed.since(at, READ_AT_ONCE).await.map(|events| (at, events)),
            };
            let full = match read {
                Ok((head, events)) => {
                    if failing {
                        tracing::info!("the shared store's events are read again");
                        failing = false;
                    }
                    if at.is_none() {
                        self.backlog.lock().unwrap_or_else(|e| e.into_inner()).floor = head;
                    }
                    at = Some(events.last().map_or(head, |e| e.cursor));
                    let full = events.len() == READ_AT_ONCE;
                    for e in events {
                        if let Some(c) = Change::from_feed(&e.kind, e.body) {
                            self.deliver(e.cursor, c);
                        }
                    }
                    full
                }
                Err(e) => {
                    if !failing {
                        warn!(error = %e, "cannot read the shared store's events; trying again");
                        failing = true;
                    }
                    false
                }
            };
            if full {
                continue;
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = waker.notified() => {}
                _ = tokio::time::sleep(LOOK_EVERY) => {}
            }
        }
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
