//! The embedded store: one redb file in the data directory (`cases.redb`), crash-safe
//! (copy-on-write pages, a commit is fsync'd before it returns).
//!
//! **Group commit.** One writer thread takes the writes from a queue and applies all that are
//! waiting in one transaction, then commits once and answers each: under load an fsync serves
//! many tickets, and nobody is answered before their ticket is on disk. Readers read from
//! their own snapshot (redb's MVCC) without waiting for the writer.
//!
//! **Schema.** Table `meta` holds `schema_version` and the sequences; table `tickets` maps a
//! ticket number to its JSON, `appointments` an appointment id to its JSON (new optional fields
//! need no migration), and `slots` each booked slot (`agency|YYYY-MM-DDTHH:MM`) to its
//! appointment: a slot is booked by inserting its key, so the single writer makes a double
//! booking impossible. Since schema 2, `call_appointments` indexes the appointments booked
//! during each call (call id -> appointment ids) and `call_outcomes` maps a call id to its
//! outcome's JSON. Since schema 3, `ticket_index` holds one key per ticket,
//! `status|region|opened|number`, so that a region's open tickets are read without reading the
//! others, and `ticket_counts` (`region|status` -> tickets) keeps the wallboard's figures without
//! counting; `outcome_times` (`at|call id`) gives the day's
//! outcomes without reading earlier days'; `operator_calls` keeps each operator's latest
//! screen-pop; `sessions` the pages' sign-in sessions by token hash. A store written by a newer schema is refused; `migrate` upgrades older ones in
//! one transaction (1 -> 2: the call index is built from the stored appointments; 2 -> 3: the
//! ticket and outcome indexes are built from the stored tickets and outcomes).

use super::appointment::{Appointment, AppointmentChange, AppointmentChangeKind, AppointmentStatus, NewAppointment};
use super::call_outcome::CallOutcome;
use super::retention::{Disposal, PurgePlan, Purged};
use super::store::{CaseStore, StoreError, StoredCallback, StoredSession, TicketChange, TicketCounts};
use super::ticket::{NewTicket, Ticket, TicketStatus};
use super::ticket_number;
use crate::vocabulary::CallPop;
use chrono::{DateTime, NaiveDateTime, Utc};
use redb::{Database, MultimapTableDefinition, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tracing::{info, warn};

/// The schema this engine writes.
pub const SCHEMA_VERSION: u64 = 3;
/// Writes applied in one transaction at most.
const GROUP: usize = 512;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const TICKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("tickets");
const APPOINTMENTS: TableDefinition<&str, &[u8]> = TableDefinition::new("appointments");
const SLOTS: TableDefinition<&str, &str> = TableDefinition::new("slots");
const CALL_APPOINTMENTS: MultimapTableDefinition<&str, &str> = MultimapTableDefinition::new("call_appointments");
const CALL_OUTCOMES: TableDefinition<&str, &[u8]> = TableDefinition::new("call_outcomes");
const TICKET_INDEX: TableDefinition<&str, ()> = TableDefinition::new("ticket_index");
const TICKET_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("ticket_counts");
const OUTCOME_TIMES: TableDefinition<&str, ()> = TableDefinition::new("outcome_times");
const OPERATOR_CALLS: TableDefinition<&str, &[u8]> = TableDefinition::new("operator_calls");
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// Pending callback requests by the id of the call that asked.
const CALLBACKS: TableDefinition<&str, &[u8]> = TableDefinition::new("callbacks");

/// Instants in index keys: fixed width, so that keys sort as the instants do.
fn instant_key(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A ticket's key in `ticket_index`. Region ids are configuration ids (no `|`).
fn ticket_key(t: &Ticket) -> String {
    format!("{}|{}|{}|{}", t.status.name(), t.fields.region, instant_key(t.opened), t.number)
}

/// A ticket's key in `ticket_counts`.
fn count_key(t: &Ticket) -> String {
    format!("{}|{}", t.fields.region, t.status.name())
}

/// Where a stored ticket is in the indexes: its `ticket_index` and `ticket_counts` keys.
fn index_keys(t: &Ticket) -> (String, String) {
    (ticket_key(t), count_key(t))
}

/// Add `delta` (1 or -1) to a count.
fn bump(counts: &mut redb::Table<'_, &'static str, u64>, key: &str, delta: i64) -> Result<(), StoreError> {
    let now = counts.get(key).map_err(io)?.map_or(0, |v| v.value());
    let next = now.saturating_add_signed(delta);
    if next == 0 {
        counts.remove(key).map_err(io)?;
    } else {
        counts.insert(key, next).map_err(io)?;
    }
    Ok(())
}

/// The keys of `ticket_index` that start with `prefix` (which ends with `|`): from `prefix` up
/// to the same text ending with `}`, the character after `|`.
fn prefix_range(prefix: &str) -> std::ops::Range<String> {
    let end = format!("{}}}", &prefix[..prefix.len() - 1]);
    prefix.to_string()..end
}

fn outcome_key(o: &CallOutcome) -> String {
    format!("{}|{}", instant_key(o.at), o.call_id)
}

fn slot_key(agency: &str, start: NaiveDateTime) -> String {
    format!("{agency}|{}", start.format("%Y-%m-%dT%H:%M"))
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

enum Write {
    Create(NewTicket, DateTime<Utc>),
    Update(String, TicketChange),
    Book(NewAppointment, DateTime<Utc>),
    Cancel {
        id: String,
        by: String,
        at: DateTime<Utc>,
    },
    Reschedule {
        id: String,
        start: NaiveDateTime,
        by: String,
        at: DateTime<Utc>,
    },
    Outcome(CallOutcome),
    LatestCall(Box<CallPop>),
    /// Keep a session under its key, or forget it (`None`).
    Session(String, Option<StoredSession>),
    Callback(String, Option<Box<StoredCallback>>),
    Purge(PurgePlan),
}

/// What a write stored.
enum Stored {
    Ticket(Ticket),
    Appointment(Appointment),
    Outcome(CallOutcome),
    Purged(Purged),
    Nothing,
}

fn mismatch() -> StoreError {
    StoreError::Io("a write stored something of another kind".into())
}

impl Stored {
    fn ticket(self) -> Result<Ticket, StoreError> {
        match self {
            Stored::Ticket(t) => Ok(t),
            _ => Err(mismatch()),
        }
    }

    fn appointment(self) -> Result<Appointment, StoreError> {
        match self {
            Stored::Appointment(a) => Ok(a),
            _ => Err(mismatch()),
        }
    }

    fn outcome(self) -> Result<CallOutcome, StoreError> {
        match self {
            Stored::Outcome(o) => Ok(o),
            _ => Err(mismatch()),
        }
    }
}

type Reply = tokio::sync::oneshot::Sender<Result<Stored, StoreError>>;

/// The redb store; cheap to share (`Arc`).
pub struct RedbStore {
    db: Arc<Database>,
    writes: Mutex<Option<mpsc::Sender<(Write, Reply)>>>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl RedbStore {
    /// Open (or create) the store at `path`, migrating an older schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(|e| StoreError::Io(format!("{}: {e}", path.display())))?;
        let found = {
            let txn = db.begin_write().map_err(io)?;
            let found = {
                let mut meta = txn.open_table(META).map_err(io)?;
                txn.open_table(TICKETS).map_err(io)?;
                txn.open_table(APPOINTMENTS).map_err(io)?;
                txn.open_table(SLOTS).map_err(io)?;
                txn.open_multimap_table(CALL_APPOINTMENTS).map_err(io)?;
                txn.open_table(CALL_OUTCOMES).map_err(io)?;
                txn.open_table(TICKET_INDEX).map_err(io)?;
                txn.open_table(TICKET_COUNTS).map_err(io)?;
                txn.open_table(OUTCOME_TIMES).map_err(io)?;
                txn.open_table(OPERATOR_CALLS).map_err(io)?;
                txn.open_table(SESSIONS).map_err(io)?;
                txn.open_table(CALLBACKS).map_err(io)?;
                let found = meta.get("schema_version").map_err(io)?.map(|v| v.value());
                if found.is_none() {
                    meta.insert("schema_version", SCHEMA_VERSION).map_err(io)?;
                    meta.insert("next_ticket", 1).map_err(io)?;
                }
                found
            };
            txn.commit().map_err(io)?;
            found
        };
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::TooNew {
                    path: path.display().to_string(),
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(v) if v < SCHEMA_VERSION => migrate(&db, v)?,
            None => info!(path = %path.display(), "new cases store"),
            Some(_) => {}
        }
        let db = Arc::new(db);
        let (tx, rx) = mpsc::channel();
        let writer = Arc::clone(&db);
        let writer = std::thread::Builder::new()
            .name("cases-writer".into())
            .spawn(move || write_loop(&writer, rx))
            .map_err(io)?;
        Ok(Self { db, writes: Mutex::new(Some(tx)), writer: Some(writer) })
    }

    /// Read with `f` from a snapshot of its own, on tokio's blocking pool (a read may wait for
    /// the disk).
    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (db, started) = (Arc::clone(&self.db), std::time::Instant::now());
        let answer = tokio::task::spawn_blocking(move || f(&db))
            .await
            .map_err(|_| StoreError::Io("a read of the store failed".into()))?;
        crate::metrics::lasting().store_answered("redb", started.elapsed());
        answer
    }

    /// One JSON value of `table`.
    async fn read_json<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        table: TableDefinition<'static, &'static str, &'static [u8]>,
        key: &str,
    ) -> Result<Option<T>, StoreError> {
        let key = key.to_string();
        self.read(move |db| {
            let txn = db.begin_read().map_err(io)?;
            let table = txn.open_table(table).map_err(io)?;
            let value = table.get(key.as_str()).map_err(io)?;
            value.map(|v| serde_json::from_slice(v.value()).map_err(io)).transpose()
        })
        .await
    }

    /// Hand `w` to the writer thread; its answer comes once the batch it is in is committed.
    async fn write(&self, w: Write) -> Result<Stored, StoreError> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let stopped = || StoreError::Io("the store's writer has stopped".into());
        {
            let writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
            writes.as_ref().ok_or_else(stopped)?.send((w, reply)).map_err(|_| stopped())?;
        }
        let started = std::time::Instant::now();
        let stored = answer.await.map_err(|_| stopped())?;
        crate::metrics::lasting().store_answered("redb", started.elapsed());
        stored
    }
}

/// Everything an embedded store keeps (`centralino migrate` copies it to a shared store).
#[derive(Debug, Default)]
pub struct Everything {
    pub tickets: Vec<Ticket>,
    pub appointments: Vec<Appointment>,
    pub outcomes: Vec<CallOutcome>,
    pub sessions: Vec<(String, StoredSession)>,
    pub latest_calls: Vec<CallPop>,
}

impl RedbStore {
    /// Read everything the store at `path` keeps, writing nothing (an older schema is read as it
    /// is); a file that is not a cases store, or of a newer schema, is refused.
    pub fn read_everything(path: &Path) -> Result<Everything, StoreError> {
        let shown = path.display();
        if !path.is_file() {
            return Err(StoreError::Io(format!("no cases store at {shown}")));
        }
        let db = Database::open(path).map_err(|e| StoreError::Io(format!("{shown}: {e}")))?;
        let txn = db.begin_read().map_err(io)?;
        let version = match txn.open_table(META) {
            Ok(meta) => meta.get("schema_version").map_err(io)?.map(|v| v.value()),
            Err(redb::TableError::TableDoesNotExist(_)) => None,
            Err(e) => return Err(io(e)),
        };
        match version {
            None => return Err(StoreError::Io(format!("{shown} is not a cases store (it has no schema version)"))),
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::TooNew { path: shown.to_string(), found: v, supported: SCHEMA_VERSION });
            }
            Some(_) => {}
        }
        /// Every value of a table (none when an older schema lacks it).
        fn all<T: serde::de::DeserializeOwned>(
            txn: &redb::ReadTransaction,
            table: TableDefinition<&str, &[u8]>,
        ) -> Result<Vec<(String, T)>, StoreError> {
            let table = match txn.open_table(table) {
                Ok(t) => t,
                Err(redb::TableError::TableDoesNotExist(_)) => return Ok(vec![]),
                Err(e) => return Err(io(e)),
            };
            let mut out = Vec::new();
            each_json(&table, |key, value| {
                out.push((key.to_string(), value));
                Ok(())
            })?;
            Ok(out)
        }
        fn values<T>(rows: Vec<(String, T)>) -> Vec<T> {
            rows.into_iter().map(|(_, v)| v).collect()
        }
        Ok(Everything {
            tickets: values(all(&txn, TICKETS)?),
            appointments: values(all(&txn, APPOINTMENTS)?),
            outcomes: values(all(&txn, CALL_OUTCOMES)?),
            sessions: all(&txn, SESSIONS)?,
            latest_calls: values(all(&txn, OPERATOR_CALLS)?),
        })
    }
}

impl Drop for RedbStore {
    /// The writer finishes what it was given and closes the file before the store is gone.
    fn drop(&mut self) {
        self.writes.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Every row of a table of JSON values, in key order, decoded.
fn each_json<T: serde::de::DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    mut f: impl FnMut(&str, T) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    for row in table.iter().map_err(io)? {
        let (k, v) = row.map_err(io)?;
        f(k.value(), serde_json::from_slice(v.value()).map_err(io)?)?;
    }
    Ok(())
}

/// Upgrade a store of schema `from` to [`SCHEMA_VERSION`], every step in one transaction: a
/// crash midway leaves the old schema, and the next start migrates again.
fn migrate(db: &Database, from: u64) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(io)?;
    {
        let mut meta = txn.open_table(META).map_err(io)?;
        if from < 2 {
            // 1 -> 2: index the appointments booked during a call.
            let appointments = txn.open_table(APPOINTMENTS).map_err(io)?;
            let mut index = txn.open_multimap_table(CALL_APPOINTMENTS).map_err(io)?;
            let mut indexed = 0;
            each_json(&appointments, |id, a: Appointment| {
                if let Some(call) = &a.fields.call_id {
                    index.insert(call.as_str(), id).map_err(io)?;
                    indexed += 1;
                }
                Ok(())
            })?;
            info!(indexed, "cases store: schema 1 -> 2 (appointments indexed by call)");
        }
        if from < 3 {
            // 2 -> 3: index the tickets by status and region, the outcomes by time.
            let tickets = txn.open_table(TICKETS).map_err(io)?;
            let mut index = txn.open_table(TICKET_INDEX).map_err(io)?;
            let mut counts = txn.open_table(TICKET_COUNTS).map_err(io)?;
            let mut indexed = 0;
            each_json(&tickets, |_, t: Ticket| {
                index.insert(ticket_key(&t).as_str(), ()).map_err(io)?;
                bump(&mut counts, &count_key(&t), 1)?;
                indexed += 1;
                Ok(())
            })?;
            let outcomes = txn.open_table(CALL_OUTCOMES).map_err(io)?;
            let mut times = txn.open_table(OUTCOME_TIMES).map_err(io)?;
            each_json(&outcomes, |_, o: CallOutcome| {
                times.insert(outcome_key(&o).as_str(), ()).map_err(io)?;
                Ok(())
            })?;
            info!(tickets = indexed, "cases store: schema 2 -> 3 (tickets indexed by status and region)");
        }
        meta.insert("schema_version", SCHEMA_VERSION).map_err(io)?;
    }
    txn.commit().map_err(io)
}

#[async_trait::async_trait]
impl CaseStore for RedbStore {
    async fn create_ticket(&self, new: NewTicket, at: DateTime<Utc>) -> Result<Ticket, StoreError> {
        self.write(Write::Create(new, at)).await?.ticket()
    }

    async fn ticket(&self, number: &str) -> Result<Option<Ticket>, StoreError> {
        self.read_json(TICKETS, number).await
    }

    async fn update_ticket(&self, number: &str, change: TicketChange) -> Result<Ticket, StoreError> {
        self.write(Write::Update(number.to_string(), change)).await?.ticket()
    }

    async fn book_appointment(&self, new: NewAppointment, at: DateTime<Utc>) -> Result<Appointment, StoreError> {
        self.write(Write::Book(new, at)).await?.appointment()
    }

    async fn appointment(&self, id: &str) -> Result<Option<Appointment>, StoreError> {
        self.read_json(APPOINTMENTS, id).await
    }

    async fn cancel_appointment(&self, id: &str, by: &str, at: DateTime<Utc>) -> Result<Appointment, StoreError> {
        self.write(Write::Cancel { id: id.into(), by: by.into(), at }).await?.appointment()
    }

    async fn reschedule_appointment(
        &self,
        id: &str,
        start: NaiveDateTime,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Appointment, StoreError> {
        self.write(Write::Reschedule { id: id.into(), start, by: by.into(), at }).await?.appointment()
    }

    async fn booked_slots(
        &self,
        agency: &str,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<NaiveDateTime>, StoreError> {
        let (lo, hi) = (slot_key(agency, from), slot_key(agency, to));
        self.read(move |db| {
            let txn = db.begin_read().map_err(io)?;
            let table = txn.open_table(SLOTS).map_err(io)?;
            let mut out = Vec::new();
            for row in table.range(lo.as_str()..hi.as_str()).map_err(io)? {
                let (k, _) = row.map_err(io)?;
                let time = k.value().rsplit('|').next().unwrap_or_default().to_string();
                if let Ok(t) = NaiveDateTime::parse_from_str(&time, "%Y-%m-%dT%H:%M") {
                    out.push(t);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn agenda(
        &self,
        agency: &str,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<Appointment>, StoreError> {
        let (lo, hi) = (slot_key(agency, from), slot_key(agency, to));
        self.read(move |db| {
            let txn = db.begin_read().map_err(io)?;
            let slots = txn.open_table(SLOTS).map_err(io)?;
            let table = txn.open_table(APPOINTMENTS).map_err(io)?;
            let mut out = Vec::new();
            // The slots index holds booked appointments only, by agency and time.
            for row in slots.range(lo.as_str()..hi.as_str()).map_err(io)? {
                let (_, id) = row.map_err(io)?;
                if let Some(v) = table.get(id.value()).map_err(io)? {
                    out.push(serde_json::from_slice::<Appointment>(v.value()).map_err(io)?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn appointments_of_call(&self, call_id: &str) -> Result<Vec<Appointment>, StoreError> {
        let call_id = call_id.to_string();
        self.read(move |db| {
            let txn = db.begin_read().map_err(io)?;
            let index = txn.open_multimap_table(CALL_APPOINTMENTS).map_err(io)?;
            let table = txn.open_table(APPOINTMENTS).map_err(io)?;
            let mut out = Vec::new();
            for id in index.get(call_id.as_str()).map_err(io)? {
                let id = id.map_err(io)?;
                if let Some(v) = table.get(id.value()).map_err(io)? {
                    out.push(serde_json::from_slice::<Appointment>(v.value()).map_err(io)?);
                }
            }
            // Ids are `A` and a zero-padded sequence: their order is the booking order.
            out.sort_by(|a, b| a.id.cmp(&b.id));
            Ok(out)
        })
        .await
    }

    async fn set_call_outcome(&self, outcome: CallOutcome) -> Result<CallOutcome, StoreError> {
        self.write(Write::Outcome(outcome)).await?.outcome()
    }

    async fn call_outcome(&self, call_id: &str) -> Result<Option<CallOutcome>, StoreError> {
        self.read_json(CALL_OUTCOMES, call_id).await
    }

    async fn call_outcomes(&self, since: DateTime<Utc>) -> Result<Vec<CallOutcome>, StoreError> {
        self.read(move |db| {
            let txn = db.begin_read().map_err(io)?;
            let times = txn.open_table(OUTCOME_TIMES).map_err(io)?;
            let table = txn.open_table(CALL_OUTCOMES).map_err(io)?;
            let mut out = Vec::new();
            for row in times.range(instant_key(since).as_str()..).map_err(io)? {
                let (k, _) = row.map_err(io)?;
                let call_id = k.value().split_once('|').map_or("", |(_, id)| id);
                if let Some(v) = table.get(call_id).map_err(io)? {
                    out.push(serde_json::from_slice::<CallOutcome>(v.value()).map_err(io)?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn set_latest_call(&self, pop: CallPop) -> Result<(), StoreError> {
        self.write(Write::LatestCall(Box::new(pop))).await.map(|_| ())
    }

    async fn save_session(&self, key: &str, session: StoredSession) -> Result<(), StoreError> {
        self.write(Write::Session(key.into(), Some(session))).await.map(|_| ())
    }

    async fn drop_session(&self, key: &str) -> Result<(), StoreError> {
        self.write(Write::Session(key.into(), None)).await.map(|_| ())
    }

    async fn sessions(&self) -> Result<Vec<(String, StoredSession)>, StoreError> {
        self.read(|db| {
            let txn = db.begin_read().map_err(io)?;
            let table = txn.open_table(SESSIONS).map_err(io)?;
            let mut out = Vec::new();
            each_json(&table, |key, s| {
                out.push((key.to_string(), s));
                Ok(())
            })?;
            Ok(out)
        })
        .await
    }

    async fn session(&self, key: &str) -> Result<Option<StoredSession>, StoreError> {
        self.read_json(SESSIONS, key).await
    }

    async fn keep_callback(&self, call: &str, callback: Option<StoredCallback>) -> Result<(), StoreError> {
        self.write(Write::Callback(call.into(), callback.map(Box::new))).await.map(|_| ())
    }

    async fn callbacks(&self) -> Result<Vec<StoredCallback>, StoreError> {
        self.read(|db| {
            let txn = db.begin_read().map_err(io)?;
            let table = txn.open_table(CALLBACKS).map_err(io)?;
            let mut out = Vec::new();
            each_json(&table, |_, c| {
                out.push(c);
                Ok(())
            })?;
            Ok(out)
        })
        .await
    }

    async fn purge(&self, plan: &PurgePlan) -> Result<Purged, StoreError> {
        match self.write(Write::Purge(*plan)).await? {
            Stored::Purged(p) => Ok(p),
            _ => Err(mismatch()),
        }
    }

    async fn latest_calls(&self) -> Result<Vec<CallPop>, StoreError> {
        self.read(|db| {
            let txn = db.begin_read().map_err(io)?;
            let table = txn.open_table(OPERATOR_CALLS).map_err(io)?;
            let mut out = Vec::new();
            each_json(&table, |_, pop| {
                out.push(pop);
                Ok(())
            })?;
            Ok(out)
        })
        .await
    }

    async fn tickets(&self, region: Option<&str>, statuses: &[TicketStatus]) -> Result<Vec<Ticket>, StoreError> {
        let region = region.map(String::from);
        let statuses = if statuses.is_empty() { TicketStatus::ALL.to_vec() } else { statuses.to_vec() };
        self.read(move |db| {
            let txn = db.begin_read().map_err(io)?;
            let index = txn.open_table(TICKET_INDEX).map_err(io)?;
            let table = txn.open_table(TICKETS).map_err(io)?;
            let mut out = Vec::new();
            for status in statuses {
                let prefix = match &region {
                    Some(r) => format!("{}|{r}|", status.name()),
                    None => format!("{}|", status.name()),
                };
                let keys = prefix_range(&prefix);
                for row in index.range(keys.start.as_str()..keys.end.as_str()).map_err(io)? {
                    let (k, _) = row.map_err(io)?;
                    let number = k.value().rsplit('|').next().unwrap_or_default().to_string();
                    if let Some(v) = table.get(number.as_str()).map_err(io)? {
                        out.push(serde_json::from_slice::<Ticket>(v.value()).map_err(io)?);
                    }
                }
            }
            out.sort_by(|a, b| a.opened.cmp(&b.opened).then_with(|| a.number.cmp(&b.number)));
            Ok(out)
        })
        .await
    }

    async fn ticket_counts(&self, region: Option<&str>) -> Result<TicketCounts, StoreError> {
        let region = region.map(String::from);
        self.read(move |db| {
            let txn = db.begin_read().map_err(io)?;
            let counts = txn.open_table(TICKET_COUNTS).map_err(io)?;
            let mut out = TicketCounts::new();
            let rows = match &region {
                Some(r) => {
                    let keys = prefix_range(&format!("{r}|"));
                    counts.range(keys.start.as_str()..keys.end.as_str())
                }
                None => counts.iter(),
            };
            for row in rows.map_err(io)? {
                let (k, n) = row.map_err(io)?;
                let Some((region, status)) = k.value().split_once('|') else { continue };
                if let Some(status) = TicketStatus::ALL.into_iter().find(|s| s.name() == status) {
                    out.entry(region.to_string()).or_default().insert(status, n.value() as usize);
                }
            }
            Ok(out)
        })
        .await
    }
}

/// The writer thread: group commit until every handle is gone.
fn write_loop(db: &Database, rx: mpsc::Receiver<(Write, Reply)>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < GROUP {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        let mut replies: Vec<(Reply, Result<Stored, StoreError>)> = Vec::with_capacity(batch.len());
        let committed = (|| -> Result<(), StoreError> {
            let txn = db.begin_write().map_err(io)?;
            {
                let mut t = Tables {
                    meta: txn.open_table(META).map_err(io)?,
                    tickets: txn.open_table(TICKETS).map_err(io)?,
                    appointments: txn.open_table(APPOINTMENTS).map_err(io)?,
                    slots: txn.open_table(SLOTS).map_err(io)?,
                    call_appointments: txn.open_multimap_table(CALL_APPOINTMENTS).map_err(io)?,
                    call_outcomes: txn.open_table(CALL_OUTCOMES).map_err(io)?,
                    ticket_index: txn.open_table(TICKET_INDEX).map_err(io)?,
                    ticket_counts: txn.open_table(TICKET_COUNTS).map_err(io)?,
                    outcome_times: txn.open_table(OUTCOME_TIMES).map_err(io)?,
                    operator_calls: txn.open_table(OPERATOR_CALLS).map_err(io)?,
                    sessions: txn.open_table(SESSIONS).map_err(io)?,
                    callbacks: txn.open_table(CALLBACKS).map_err(io)?,
                };
                for (w, reply) in batch.drain(..) {
                    let result = apply(&mut t, w);
                    replies.push((reply, result));
                }
            }
            txn.commit().map_err(io)
        })();
        if let Err(e) = committed {
            warn!(error = %e, writes = replies.len(), "cases store: commit failed; nothing of this batch is stored");
            for (reply, result) in replies.iter_mut() {
                if result.is_ok() {
                    *result = Err(e.clone());
                }
                let _ = reply;
            }
        }
        for (reply, result) in replies {
            let _ = reply.send(result);
        }
    }
}

/// The tables of one write transaction.
struct Tables<'t> {
    meta: redb::Table<'t, &'static str, u64>,
    tickets: redb::Table<'t, &'static str, &'static [u8]>,
    appointments: redb::Table<'t, &'static str, &'static [u8]>,
    slots: redb::Table<'t, &'static str, &'static str>,
    call_appointments: redb::MultimapTable<'t, &'static str, &'static str>,
    call_outcomes: redb::Table<'t, &'static str, &'static [u8]>,
    ticket_index: redb::Table<'t, &'static str, ()>,
    ticket_counts: redb::Table<'t, &'static str, u64>,
    outcome_times: redb::Table<'t, &'static str, ()>,
    operator_calls: redb::Table<'t, &'static str, &'static [u8]>,
    sessions: redb::Table<'t, &'static str, &'static [u8]>,
    callbacks: redb::Table<'t, &'static str, &'static [u8]>,
}

impl Tables<'_> {
    /// The next number of a sequence, without using it up.
    fn peek(&self, sequence: &str) -> Result<u64, StoreError> {
        Ok(self.meta.get(sequence).map_err(io)?.map_or(1, |v| v.value()))
    }

    /// The next number of a sequence, used up.
    fn next(&mut self, sequence: &str) -> Result<u64, StoreError> {
        let seq = self.peek(sequence)?;
        self.meta.insert(sequence, seq + 1).map_err(io)?;
        Ok(seq)
    }

    fn appointment(&self, id: &str) -> Result<Appointment, StoreError> {
        let stored = self.appointments.get(id).map_err(io)?.ok_or_else(|| StoreError::NoAppointment(id.into()))?;
        serde_json::from_slice(stored.value()).map_err(io)
    }

    fn put_appointment(&mut self, a: &Appointment) -> Result<(), StoreError> {
        let json = serde_json::to_vec(a).map_err(io)?;
        self.appointments.insert(a.id.as_str(), json.as_slice()).map_err(io)?;
        Ok(())
    }

    /// Take a slot for appointment `id`; refused when it is booked already.
    fn take_slot(&mut self, agency: &str, start: NaiveDateTime, id: &str) -> Result<(), StoreError> {
        let key = slot_key(agency, start);
        if self.slots.get(key.as_str()).map_err(io)?.is_some() {
            return Err(StoreError::SlotTaken { agency: agency.into(), start });
        }
        self.slots.insert(key.as_str(), id).map_err(io)?;
        Ok(())
    }

    fn free_slot(&mut self, agency: &str, start: NaiveDateTime) -> Result<(), StoreError> {
        self.slots.remove(slot_key(agency, start).as_str()).map_err(io)?;
        Ok(())
    }
}

/// Apply one write inside the batch's transaction; a refused write changes nothing.
fn apply(t: &mut Tables<'_>, w: Write) -> Result<Stored, StoreError> {
    match w {
        Write::Create(new, at) => {
            let seq = t.next("next_ticket")?;
            put_ticket(t, None, Ticket::new(ticket_number::for_ticket(seq), new, at))
        }
        Write::Update(number, change) => {
            let stored =
                t.tickets.get(number.as_str()).map_err(io)?.ok_or_else(|| StoreError::NotFound(number.clone()))?;
            let mut ticket: Ticket = serde_json::from_slice(stored.value()).map_err(io)?;
            drop(stored);
            let before = index_keys(&ticket);
            change(&mut ticket)?;
            put_ticket(t, Some(before), ticket)
        }
        Write::Book(new, at) => {
            // The slot first: a refusal must not use up a sequence number.
            let seq = t.peek("next_appointment")?;
            let id = format!("A{seq:07}");
            t.take_slot(&new.agency, new.start, &id)?;
            t.meta.insert("next_appointment", seq + 1).map_err(io)?;
            let by = new.booked_by.clone();
            let a = Appointment {
                id,
                fields: new,
                status: AppointmentStatus::Booked,
                history: vec![AppointmentChange { at, by, what: AppointmentChangeKind::Booked }],
            };
            t.put_appointment(&a)?;
            if let Some(call) = &a.fields.call_id {
                t.call_appointments.insert(call.as_str(), a.id.as_str()).map_err(io)?;
            }
            Ok(Stored::Appointment(a))
        }
        Write::Cancel { id, by, at } => {
            let mut a = t.appointment(&id)?;
            if a.status == AppointmentStatus::Cancelled {
                return Err(StoreError::Cancelled(id));
            }
            t.free_slot(&a.fields.agency, a.fields.start)?;
            a.status = AppointmentStatus::Cancelled;
            a.history.push(AppointmentChange { at, by, what: AppointmentChangeKind::Cancelled });
            t.put_appointment(&a)?;
            Ok(Stored::Appointment(a))
        }
        Write::Reschedule { id, start, by, at } => {
            let mut a = t.appointment(&id)?;
            if a.status == AppointmentStatus::Cancelled {
                return Err(StoreError::Cancelled(id));
            }
            let agency = a.fields.agency.clone();
            t.take_slot(&agency, start, &id)?;
            let from = a.fields.start;
            t.free_slot(&agency, from)?;
            a.fields.start = start;
            a.history.push(AppointmentChange { at, by, what: AppointmentChangeKind::Rescheduled { from } });
            t.put_appointment(&a)?;
            Ok(Stored::Appointment(a))
        }
        Write::Outcome(next) => {
            let before = t.call_outcomes.get(next.call_id.as_str()).map_err(io)?;
            let before: Option<CallOutcome> =
                before.map(|v| serde_json::from_slice(v.value()).map_err(io)).transpose()?;
            let outcome = match before {
                Some(b) => {
                    t.outcome_times.remove(outcome_key(&b).as_str()).map_err(io)?;
                    b.corrected(next)
                }
                None => next,
            };
            let json = serde_json::to_vec(&outcome).map_err(io)?;
            t.call_outcomes.insert(outcome.call_id.as_str(), json.as_slice()).map_err(io)?;
            t.outcome_times.insert(outcome_key(&outcome).as_str(), ()).map_err(io)?;
            Ok(Stored::Outcome(outcome))
        }
        Write::LatestCall(pop) => {
            let json = serde_json::to_vec(&pop).map_err(io)?;
            t.operator_calls.insert(pop.operator.as_str(), json.as_slice()).map_err(io)?;
            Ok(Stored::Nothing)
        }
        Write::Session(key, Some(session)) => {
            let json = serde_json::to_vec(&session).map_err(io)?;
            t.sessions.insert(key.as_str(), json.as_slice()).map_err(io)?;
            Ok(Stored::Nothing)
        }
        Write::Session(key, None) => {
            t.sessions.remove(key.as_str()).map_err(io)?;
            Ok(Stored::Nothing)
        }
        Write::Callback(call, Some(callback)) => {
            let json = serde_json::to_vec(&callback).map_err(io)?;
            t.callbacks.insert(call.as_str(), json.as_slice()).map_err(io)?;
            Ok(Stored::Nothing)
        }
        Write::Callback(call, None) => {
            t.callbacks.remove(call.as_str()).map_err(io)?;
            Ok(Stored::Nothing)
        }
        Write::Purge(plan) => purge(t, &plan).map(Stored::Purged),
    }
}

/// The keys of `table` whose JSON value `due` picks.
fn due_keys<T: serde::de::DeserializeOwned>(
    table: &impl ReadableTable<&'static str, &'static [u8]>,
    mut due: impl FnMut(&T) -> bool,
) -> Result<Vec<String>, StoreError> {
    let mut keys = Vec::new();
    each_json(table, |key, value: T| {
        if due(&value) {
            keys.push(key.to_string());
        }
        Ok(())
    })?;
    Ok(keys)
}

/// Carry out a purge in the batch's transaction.
fn purge(t: &mut Tables<'_>, plan: &PurgePlan) -> Result<Purged, StoreError> {
    let mut done = Purged::default();
    for number in due_keys(&t.tickets, |ticket: &Ticket| plan.ticket(ticket).is_some())? {
        let stored = t.tickets.get(number.as_str()).map_err(io)?.map(|v| serde_json::from_slice(v.value()));
        let Some(mut ticket): Option<Ticket> = stored.transpose().map_err(io)? else { continue };
        let before = index_keys(&ticket);
        match plan.ticket(&ticket) {
            Some(Disposal::Anonymise) => {
                ticket.anonymise();
                put_ticket(t, Some(before), ticket)?;
                done.tickets_anonymised += 1;
            }
            Some(Disposal::Delete) => {
                t.tickets.remove(number.as_str()).map_err(io)?;
                t.ticket_index.remove(before.0.as_str()).map_err(io)?;
                bump(&mut t.ticket_counts, &before.1, -1)?;
                done.tickets_deleted += 1;
            }
            None => {}
        }
    }
    for id in due_keys(&t.appointments, |a: &Appointment| plan.appointment(a))? {
        let mut a = t.appointment(&id)?;
        a.anonymise();
        t.put_appointment(&a)?;
        done.appointments_anonymised += 1;
    }
    if let Some(before) = plan.records_before {
        let times: Vec<String> = {
            let mut keys = Vec::new();
            for row in t.outcome_times.range(..instant_key(before).as_str()).map_err(io)? {
                keys.push(row.map_err(io)?.0.value().to_string());
            }
            keys
        };
        for key in times {
            let call_id = key.split_once('|').map_or("", |(_, id)| id);
            t.call_outcomes.remove(call_id).map_err(io)?;
            t.outcome_times.remove(key.as_str()).map_err(io)?;
            done.outcomes_deleted += 1;
        }
        for operator in due_keys(&t.operator_calls, |p: &CallPop| p.arrived < before)? {
            t.operator_calls.remove(operator.as_str()).map_err(io)?;
            done.latest_calls_deleted += 1;
        }
    }
    for key in due_keys(&t.sessions, |s: &StoredSession| s.last_seen < plan.short_lived_before)? {
        t.sessions.remove(key.as_str()).map_err(io)?;
        done.sessions_deleted += 1;
    }
    Ok(done)
}

/// Store a ticket and move it in the indexes (`before`: its [`index_keys`] as it was stored).
fn put_ticket(t: &mut Tables<'_>, before: Option<(String, String)>, ticket: Ticket) -> Result<Stored, StoreError> {
    let json = serde_json::to_vec(&ticket).map_err(io)?;
    t.tickets.insert(ticket.number.as_str(), json.as_slice()).map_err(io)?;
    let (key, count) = index_keys(&ticket);
    if before.as_ref() != Some(&(key.clone(), count.clone())) {
        if let Some((old_key, old_count)) = &before {
            t.ticket_index.remove(old_key.as_str()).map_err(io)?;
            bump(&mut t.ticket_counts, old_count, -1)?;
        }
        t.ticket_index.insert(key.as_str(), ()).map_err(io)?;
        bump(&mut t.ticket_counts, &count, 1)?;
    }
    Ok(Stored::Ticket(ticket))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::ticket::Contact;
    use crate::config::TicketSection;

    fn new(region: &str) -> NewTicket {
        NewTicket {
            call_id: None,
            caller: "+393331234567".into(),
            codice_fiscale: "RSSMRA85T10A562S".into(),
            question: "Where is my pension?".into(),
            ccm_section: "pensions".into(),
            region: region.into(),
            section: TicketSection::Pensions,
            opened_by: "mrossi".into(),
        }
    }

    #[tokio::test]
    async fn the_ticket_index_has_one_key_per_ticket_whatever_it_went_through() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("cases.redb")).unwrap();
        let a = store.create_ticket(new("lazio"), Utc::now()).await.unwrap();
        store.create_ticket(new("lombardia"), Utc::now()).await.unwrap();
        store.update_ticket(&a.number, Box::new(|t| t.take("anna", Utc::now()))).await.unwrap();
        store
            .update_ticket(&a.number, Box::new(|t| t.answer("anna", "Paid.", Contact::Phone, Utc::now())))
            .await
            .unwrap();
        // A refused change leaves the index as it was.
        assert!(store.update_ticket(&a.number, Box::new(|t| t.take("bruno", Utc::now()))).await.is_err());
        let keys = redb::ReadableTableMetadata::len(&store.db.begin_read().unwrap().open_table(TICKET_INDEX).unwrap())
            .unwrap();
        assert_eq!(keys, 2);
    }

    fn booking(call: Option<&str>, minute: u32) -> NewAppointment {
        NewAppointment {
            agency: "latina-centro".into(),
            start: chrono::NaiveDate::from_ymd_opt(2026, 12, 14).unwrap().and_hms_opt(9, minute, 0).unwrap(),
            codice_fiscale: "RSSMRA85T10A562S".into(),
            phone: "+393331234567".into(),
            subject: "pension".into(),
            mode: crate::cases::appointment::Mode::Counter,
            call_id: call.map(String::from),
            booked_by: "mrossi".into(),
        }
    }

    /// A store of schema 1 (before the call index) as that engine wrote it.
    fn schema_1_store(path: &Path, appointments: &[Appointment]) {
        let db = Database::create(path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert("schema_version", 1).unwrap();
            meta.insert("next_ticket", 1).unwrap();
            meta.insert("next_appointment", appointments.len() as u64 + 1).unwrap();
            txn.open_table(TICKETS).unwrap();
            let mut table = txn.open_table(APPOINTMENTS).unwrap();
            let mut slots = txn.open_table(SLOTS).unwrap();
            for a in appointments {
                table.insert(a.id.as_str(), serde_json::to_vec(a).unwrap().as_slice()).unwrap();
                slots.insert(slot_key(&a.fields.agency, a.fields.start).as_str(), a.id.as_str()).unwrap();
            }
        }
        txn.commit().unwrap();
    }

    #[tokio::test]
    async fn a_schema_1_store_is_migrated_and_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cases.redb");
        let old = |id: &str, call: Option<&str>, minute| Appointment {
            id: id.into(),
            fields: booking(call, minute),
            status: AppointmentStatus::Booked,
            history: vec![AppointmentChange {
                at: Utc::now(),
                by: "mrossi".into(),
                what: AppointmentChangeKind::Booked,
            }],
        };
        schema_1_store(&path, &[old("A0000001", Some("call-1"), 0), old("A0000002", None, 20)]);
        let store = RedbStore::open(&path).unwrap();
        let of_call = store.appointments_of_call("call-1").await.unwrap();
        assert_eq!(of_call.len(), 1, "the call index is built from the stored appointments");
        assert_eq!(of_call[0].id, "A0000001");
        assert!(store.appointment("A0000002").await.unwrap().is_some());
        let taken = store.book_appointment(booking(None, 20), Utc::now()).await;
        assert!(matches!(taken, Err(StoreError::SlotTaken { .. })), "the old bookings still hold their slots");
        let next = store.book_appointment(booking(Some("call-1"), 40), Utc::now()).await.unwrap();
        assert_eq!(next.id, "A0000003", "the sequence goes on");
        drop(store);
        let db = Database::open(&path).unwrap();
        let version =
            db.begin_read().unwrap().open_table(META).unwrap().get("schema_version").unwrap().unwrap().value();
        assert_eq!(version, SCHEMA_VERSION);
        drop(db);
        let again = RedbStore::open(&path).unwrap();
        assert_eq!(again.appointments_of_call("call-1").await.unwrap().len(), 2, "opened again: no second migration");
    }

    /// A store of schema 2 (before the ticket and outcome indexes) as that engine wrote it.
    fn schema_2_store(path: &Path, tickets: &[Ticket], outcomes: &[CallOutcome]) {
        let db = Database::create(path).unwrap();
        let txn = db.begin_write().unwrap();
        {
            let mut meta = txn.open_table(META).unwrap();
            meta.insert("schema_version", 2).unwrap();
            meta.insert("next_ticket", tickets.len() as u64 + 1).unwrap();
            let mut table = txn.open_table(TICKETS).unwrap();
            for t in tickets {
                table.insert(t.number.as_str(), serde_json::to_vec(t).unwrap().as_slice()).unwrap();
            }
            let mut table = txn.open_table(CALL_OUTCOMES).unwrap();
            for o in outcomes {
                table.insert(o.call_id.as_str(), serde_json::to_vec(o).unwrap().as_slice()).unwrap();
            }
            txn.open_table(APPOINTMENTS).unwrap();
            txn.open_table(SLOTS).unwrap();
            txn.open_multimap_table(CALL_APPOINTMENTS).unwrap();
        }
        txn.commit().unwrap();
    }

    #[tokio::test]
    async fn a_schema_2_store_gets_its_ticket_and_outcome_indexes() {
        use crate::cases::call_outcome::Outcome;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cases.redb");
        let t0 = Utc::now();
        let mut taken = Ticket::new(ticket_number::for_ticket(1), new("lazio"), t0);
        taken.take("anna", t0).unwrap();
        let open = Ticket::new(ticket_number::for_ticket(2), new("lazio"), t0 + chrono::Duration::seconds(1));
        let outcome = |call: &str, at| CallOutcome {
            call_id: call.into(),
            outcome: Outcome::Resolved,
            note: String::new(),
            section: "pensions".into(),
            by: "mrossi".into(),
            at,
            earlier: vec![],
        };
        let yesterday = outcome("call-1", t0 - chrono::Duration::days(1));
        let today = outcome("call-2", t0);
        schema_2_store(&path, &[taken.clone(), open.clone()], &[yesterday, today.clone()]);
        let store = RedbStore::open(&path).unwrap();
        assert_eq!(store.tickets(Some("lazio"), &[TicketStatus::Open]).await.unwrap(), [open]);
        assert_eq!(store.tickets(Some("lazio"), &[TicketStatus::Taken]).await.unwrap(), [taken]);
        let counts = store.ticket_counts(None).await.unwrap();
        assert_eq!(counts["lazio"], [(TicketStatus::Open, 1), (TicketStatus::Taken, 1)].into());
        assert_eq!(store.call_outcomes(t0 - chrono::Duration::hours(1)).await.unwrap(), [today]);
        assert_eq!(store.call_outcomes(t0 - chrono::Duration::days(2)).await.unwrap().len(), 2);
        let next = store.create_ticket(new("lazio"), Utc::now()).await.unwrap();
        assert_eq!(next.number, ticket_number::for_ticket(3), "the sequence goes on");
    }

    #[tokio::test]
    async fn a_store_from_a_newer_engine_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cases.redb");
        {
            let db = Database::create(&path).unwrap();
            let txn = db.begin_write().unwrap();
            txn.open_table(META).unwrap().insert("schema_version", SCHEMA_VERSION + 1).unwrap();
            txn.commit().unwrap();
        }
        assert!(matches!(RedbStore::open(&path), Err(StoreError::TooNew { .. })));
    }
}
