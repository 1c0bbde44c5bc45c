//! Where tickets, appointments and calls' outcomes are kept: a trait, so that a server database can
//! replace the embedded store without touching the domain code. Every write returns only once
//! it is durable: what the engine acknowledged survives a crash.
//!
//! The calls are async: the embedded store's writer thread answers through a channel and its
//! reads run on tokio's blocking pool; the PostgreSQL store awaits its database.

use super::appointment::{Appointment, NewAppointment};
use super::call_outcome::CallOutcome;
use super::retention::{PurgePlan, Purged};
use super::ticket::{NewTicket, Ticket, TicketError, TicketStatus};
use crate::vocabulary::{CallPop, CallbackNumber};
use chrono::{DateTime, NaiveDateTime, Utc};
use std::collections::BTreeMap;

/// Tickets per region and status.
pub type TicketCounts = BTreeMap<String, BTreeMap<TicketStatus, usize>>;

/// A change to apply to a stored ticket, atomically.
pub type TicketChange = Box<dyn FnOnce(&mut Ticket) -> Result<(), TicketError> + Send>;

/// A signed-in session of the pages, as kept across restarts: by the hash of its token (the
/// token itself is never stored), with when it started and when it was last seen (updated every
/// few minutes, not at each request).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredSession {
    pub user: String,
    pub started: DateTime<Utc>,
    pub last_seen: DateTime<Utc>,
}

/// A pending callback request, kept so that a restart keeps it at its place (the
/// distribution's `PendingCallback` with wall-clock times).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredCallback {
    pub call: String,
    pub section: String,
    pub number: CallbackNumber,
    /// The number that asked.
    pub caller: String,
    /// The caller's first arrival in a queue: their place.
    pub arrived: DateTime<Utc>,
    pub attempts: u32,
    /// What the operator will see of the call that asked.
    pub facts: CallPop,
}

/// What went wrong in the store.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("no ticket {0}")]
    NotFound(String),
    #[error(transparent)]
    Refused(#[from] TicketError),
    #[error("the store {path} has schema version {found}; this engine reads up to {supported}: upgrade the engine")]
    TooNew { path: String, found: u64, supported: u64 },
    #[error("the slot {start} of {agency} is already booked: choose another")]
    SlotTaken { agency: String, start: NaiveDateTime },
    #[error("no appointment {0}")]
    NoAppointment(String),
    #[error("appointment {0} is cancelled")]
    Cancelled(String),
    #[error("store failure: {0}")]
    Io(String),
    /// The store cannot be reached now (a shared database restarting or away): try again later.
    #[error("the store is unavailable ({0}): try again in a few seconds")]
    Unavailable(String),
}

/// The cases store.
#[async_trait::async_trait]
pub trait CaseStore: Send + Sync + 'static {
    /// Store a new ticket under a fresh number; returns it once durable.
    async fn create_ticket(&self, new: NewTicket, at: DateTime<Utc>) -> Result<Ticket, StoreError>;
    /// The ticket with this number.
    async fn ticket(&self, number: &str) -> Result<Option<Ticket>, StoreError>;
    /// Apply `change` to the ticket atomically (nothing is written if it refuses); returns the
    /// changed ticket once durable.
    async fn update_ticket(&self, number: &str, change: TicketChange) -> Result<Ticket, StoreError>;
    /// Tickets of a region (all regions: `None`) in one of `statuses` (any: empty), oldest first.
    /// Only the matching tickets are read, however many others there are.
    async fn tickets(&self, region: Option<&str>, statuses: &[TicketStatus]) -> Result<Vec<Ticket>, StoreError>;
    /// [`CaseStore::tickets`] as a JSON array, for a store that can give its stored JSON without
    /// decoding and encoding each ticket again.
    async fn tickets_json(&self, region: Option<&str>, statuses: &[TicketStatus]) -> Result<String, StoreError> {
        serde_json::to_string(&self.tickets(region, statuses).await?).map_err(|e| StoreError::Io(e.to_string()))
    }
    /// How many tickets each region (or only `region`) has in each status, without reading them.
    async fn ticket_counts(&self, region: Option<&str>) -> Result<TicketCounts, StoreError>;

    /// Book a slot (checked against the agenda by the caller) atomically: two bookings of one
    /// slot, however simultaneous, give one appointment and one [`StoreError::SlotTaken`].
    async fn book_appointment(&self, new: NewAppointment, at: DateTime<Utc>) -> Result<Appointment, StoreError>;
    async fn appointment(&self, id: &str) -> Result<Option<Appointment>, StoreError>;
    /// Cancel: the slot is free again.
    async fn cancel_appointment(&self, id: &str, by: &str, at: DateTime<Utc>) -> Result<Appointment, StoreError>;
    /// Move to another free slot of the same agency, atomically (the old slot is freed).
    async fn reschedule_appointment(
        &self,
        id: &str,
        start: NaiveDateTime,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Appointment, StoreError>;
    /// The booked slots of an agency in `[from, to)`.
    async fn booked_slots(
        &self,
        agency: &str,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<NaiveDateTime>, StoreError>;
    /// An agency's booked appointments starting in `[from, to)`, in order of time (its agenda).
    async fn agenda(
        &self,
        agency: &str,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<Appointment>, StoreError>;
    /// The appointments booked during a call (`call_id` given at booking), in booking order.
    async fn appointments_of_call(&self, call_id: &str) -> Result<Vec<Appointment>, StoreError>;

    /// Record a call's outcome; one set before is kept as an earlier outcome. Returns it once durable.
    async fn set_call_outcome(&self, outcome: CallOutcome) -> Result<CallOutcome, StoreError>;
    async fn call_outcome(&self, call_id: &str) -> Result<Option<CallOutcome>, StoreError>;
    /// Outcomes recorded at or after `since`, oldest first (only those are read).
    async fn call_outcomes(&self, since: DateTime<Utc>) -> Result<Vec<CallOutcome>, StoreError>;

    /// Keep `pop` as its operator's latest call (replacing the one before), once durable.
    async fn set_latest_call(&self, pop: CallPop) -> Result<(), StoreError>;
    /// Every operator's latest call, as kept by [`CaseStore::set_latest_call`].
    async fn latest_calls(&self) -> Result<Vec<CallPop>, StoreError>;

    /// Keep (or refresh) a session under `key`, the hash of its token, once durable.
    async fn save_session(&self, key: &str, session: StoredSession) -> Result<(), StoreError>;
    /// Forget a session (signed out or expired).
    async fn drop_session(&self, key: &str) -> Result<(), StoreError>;
    /// Every kept session, by key.
    async fn sessions(&self) -> Result<Vec<(String, StoredSession)>, StoreError>;
    /// The session kept under `key`.
    async fn session(&self, key: &str) -> Result<Option<StoredSession>, StoreError>;

    /// Keep a pending callback request (replacing its earlier state), or forget it.
    async fn keep_callback(&self, call: &str, callback: Option<StoredCallback>) -> Result<(), StoreError>;
    /// Every pending callback request, in no particular order.
    async fn callbacks(&self) -> Result<Vec<StoredCallback>, StoreError>;

    /// Anonymise or delete what `plan` says is due (see [`super::retention`]), once durable.
    async fn purge(&self, plan: &PurgePlan) -> Result<Purged, StoreError>;
}

/// Where an event is in a [`Feed`]: events are read in the order of (`tx`, `seq`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cursor {
    /// The writing transaction (0 where one process numbers the events alone).
    pub tx: u64,
    pub seq: u64,
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.tx, self.seq)
    }
}

impl std::str::FromStr for Cursor {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        let (tx, seq) = s.trim().split_once('-').ok_or(())?;
        Ok(Cursor { tx: tx.parse().map_err(|_| ())?, seq: seq.parse().map_err(|_| ())? })
    }
}

/// An event of a [`Feed`]: what the pages are told (`kind`: `ticket`, `appointment`, `call`,
/// `call_ended`), as JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub cursor: Cursor,
    pub kind: String,
    pub body: serde_json::Value,
}

/// The changes every node's pages are told, kept by a store shared by several engines: the
/// store's own writes of tickets and appointments add theirs in the same transaction; other
/// events (the screen-pops) are published here.
#[async_trait::async_trait]
pub trait Feed: Send + Sync + 'static {
    /// Add an event for every node, once durable.
    async fn publish(&self, kind: &str, body: serde_json::Value) -> Result<(), StoreError>;
    /// Up to `limit` events after `after`, in order. Every event that will ever come after
    /// the last one returned comes after it in this order.
    async fn since(&self, after: Cursor, limit: usize) -> Result<Vec<FeedEvent>, StoreError>;
    /// The last event's cursor (where a new reader starts).
    async fn head(&self) -> Result<Cursor, StoreError>;
    /// Told when events may have arrived (from this node at once, from the others through the
    /// database); a reader also looks every second on its own.
    fn waker(&self) -> std::sync::Arc<tokio::sync::Notify>;
}
