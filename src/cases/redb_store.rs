//! The embedded store: one redb file in the data directory (`cases.redb`), crash-safe
//! (copy-on-write pages, a commit is fsync'd before it returns).
//!
//! **Group commit.** One writer thread takes the writes from a queue and applies all that are
//! waiting in one transaction, then commits once and answers each: under load an fsync serves
//! many tickets, and nobody is answered before their ticket is on disk. Readers read from
//! their own snapshot (redb's MVCC) without waiting for the writer.
//!
//! **Schema.** Table `meta` holds `schema_version` and the ticket sequence; table `tickets`
//! maps a ticket number to its JSON (new optional fields need no migration). A store written by
//! a newer schema is refused; `migrate` upgrades older ones in one transaction.

use super::store::{CaseStore, StoreError, TicketChange};
use super::ticket::{NewTicket, Ticket, TicketStatus};
use super::ticket_number;
use chrono::{DateTime, Utc};
use redb::{Database, ReadableTable, TableDefinition};
use std::path::Path;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use tracing::{info, warn};

/// The schema this engine writes.
pub const SCHEMA_VERSION: u64 = 1;
/// Writes applied in one transaction at most.
const GROUP: usize = 512;

const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const TICKETS: TableDefinition<&str, &[u8]> = TableDefinition::new("tickets");

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

enum Write {
    Create(NewTicket, DateTime<Utc>),
    Update(String, TicketChange),
}

type Reply = mpsc::SyncSender<Result<Ticket, StoreError>>;

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

    fn write(&self, w: Write) -> Result<Ticket, StoreError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let stopped = || StoreError::Io("the store's writer has stopped".into());
        let writes = self.writes.lock().unwrap_or_else(|e| e.into_inner());
        writes.as_ref().ok_or_else(stopped)?.send((w, reply)).map_err(|_| stopped())?;
        drop(writes);
        answer.recv().map_err(|_| stopped())?
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

/// Upgrade a store of schema `from` (none older than 1 exists yet: this is where each step goes).
fn migrate(_db: &Database, from: u64) -> Result<(), StoreError> {
    Err(StoreError::Io(format!("no migration from schema {from} to {SCHEMA_VERSION}")))
}

impl CaseStore for RedbStore {
    fn create_ticket(&self, new: NewTicket, at: DateTime<Utc>) -> Result<Ticket, StoreError> {
        self.write(Write::Create(new, at))
    }

    fn ticket(&self, number: &str) -> Result<Option<Ticket>, StoreError> {
        let txn = self.db.begin_read().map_err(io)?;
        let table = txn.open_table(TICKETS).map_err(io)?;
        let value = table.get(number).map_err(io)?;
        value.map(|v| serde_json::from_slice(v.value()).map_err(io)).transpose()
    }

    fn update_ticket(&self, number: &str, change: TicketChange) -> Result<Ticket, StoreError> {
        self.write(Write::Update(number.to_string(), change))
    }

    fn tickets(&self, region: Option<&str>, status: Option<TicketStatus>) -> Result<Vec<Ticket>, StoreError> {
        let txn = self.db.begin_read().map_err(io)?;
        let table = txn.open_table(TICKETS).map_err(io)?;
        let mut out = Vec::new();
        // A full scan: tickets are few thousands a day per region; an index comes with need.
        for row in table.iter().map_err(io)? {
            let (_, v) = row.map_err(io)?;
            let t: Ticket = serde_json::from_slice(v.value()).map_err(io)?;
            if region.is_none_or(|r| t.fields.region == r) && status.is_none_or(|s| t.status == s) {
                out.push(t);
            }
        }
        out.sort_by(|a, b| a.opened.cmp(&b.opened).then_with(|| a.number.cmp(&b.number)));
        Ok(out)
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
        let mut replies: Vec<(Reply, Result<Ticket, StoreError>)> = Vec::with_capacity(batch.len());
        let committed = (|| -> Result<(), StoreError> {
            let txn = db.begin_write().map_err(io)?;
            {
                let mut meta = txn.open_table(META).map_err(io)?;
                let mut tickets = txn.open_table(TICKETS).map_err(io)?;
                for (w, reply) in batch.drain(..) {
                    let result = apply(&mut meta, &mut tickets, w);
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

fn apply(
    meta: &mut redb::Table<&str, u64>,
    tickets: &mut redb::Table<&str, &[u8]>,
    w: Write,
) -> Result<Ticket, StoreError> {
    let ticket = match w {
        Write::Create(new, at) => {
            let seq = meta.get("next_ticket").map_err(io)?.map_or(1, |v| v.value());
            meta.insert("next_ticket", seq + 1).map_err(io)?;
            Ticket::new(ticket_number::for_ticket(seq), new, at)
        }
        Write::Update(number, change) => {
            let stored =
                tickets.get(number.as_str()).map_err(io)?.ok_or_else(|| StoreError::NotFound(number.clone()))?;
            let mut t: Ticket = serde_json::from_slice(stored.value()).map_err(io)?;
            drop(stored);
            change(&mut t)?;
            t
        }
    };
    let json = serde_json::to_vec(&ticket).map_err(io)?;
    tickets.insert(ticket.number.as_str(), json.as_slice()).map_err(io)?;
    Ok(ticket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::ticket::{Contact, TicketError};
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

    #[test]
    fn tickets_are_numbered_kept_changed_and_found_after_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cases.redb");
        let store = RedbStore::open(&path).unwrap();
        let a = store.create_ticket(new("lazio"), Utc::now()).unwrap();
        let b = store.create_ticket(new("lombardia"), Utc::now()).unwrap();
        assert_ne!(a.number, b.number);
        assert!(ticket_number::is_valid(&a.number));
        let taken = store.update_ticket(&a.number, Box::new(|t| t.take("anna", Utc::now()))).unwrap();
        assert_eq!(taken.status, TicketStatus::Taken);
        let refused = store.update_ticket(&a.number, Box::new(|t| t.take("bruno", Utc::now())));
        assert!(matches!(refused, Err(StoreError::Refused(TicketError::NotOpen { .. }))));
        assert!(matches!(store.update_ticket("123", Box::new(|_| Ok(()))), Err(StoreError::NotFound(_))));
        store.update_ticket(&a.number, Box::new(|t| t.answer("anna", "Paid.", Contact::Phone, Utc::now()))).unwrap();
        assert_eq!(store.tickets(Some("lazio"), None).unwrap().len(), 1);
        assert_eq!(store.tickets(None, Some(TicketStatus::Open)).unwrap()[0].number, b.number);
        drop(store);
        let again = RedbStore::open(&path).unwrap();
        let a2 = again.ticket(&a.number).unwrap().unwrap();
        assert_eq!(a2.status, TicketStatus::Answered);
        assert_eq!(a2.history.len(), 3);
        let c = again.create_ticket(new("lazio"), Utc::now()).unwrap();
        assert!(![&a.number, &b.number].contains(&&c.number), "the sequence survives a restart");
    }

    #[test]
    fn concurrent_writers_share_commits_and_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RedbStore::open(&dir.path().join("cases.redb")).unwrap());
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let s = Arc::clone(&store);
                std::thread::spawn(move || {
                    (0..25).map(|_| s.create_ticket(new("lazio"), Utc::now()).unwrap().number).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut numbers: Vec<String> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        numbers.sort();
        numbers.dedup();
        assert_eq!(numbers.len(), 400);
        assert_eq!(store.tickets(None, None).unwrap().len(), 400);
    }

    #[test]
    fn a_store_from_a_newer_engine_is_refused() {
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
