//! The shared store: PostgreSQL, for a center of several engine nodes (`[store] url` or
//! `serve --store postgres://...`).
//!
//! **Driver.** tokio-postgres (the rust-postgres project: maintained, pure Rust, pipelined
//! queries, binary JSON parameters) with deadpool-postgres for the pool (small, recycles broken
//! connections, separate timeouts for waiting, connecting and recycling, a prepared-statement
//! cache per connection). sqlx was not chosen: it brings its own macros and runtime layers and
//! offers nothing more for a dozen fixed queries. Each call is awaited on the engine's runtime
//! (a blocking call handed to another thread and back cost the back office's reads a tail of
//! 60-150 ms at saturation, against 5 ms awaited) for at most [`ANSWER_WITHIN`]; after that the
//! caller gets [`StoreError::Unavailable`] (a 503).
//!
//! **Guarantees.** Every write is one transaction, answered after its commit. A slot is booked
//! by inserting a row that a partial unique index (`one_booking_per_slot`) allows once while
//! booked: two nodes booking it at the same instant get one appointment and one refusal.
//! Ticket numbers are random 8-digit bodies with their check digit (unguessable from one's own
//! ticket), unique by the primary key: a collision is drawn again.
//!
//! **Events.** The writes of tickets and appointments add their event to the table `events` in
//! the same transaction, so an event exists exactly when its change does. Readers read in the
//! order of (`tx`, `id`), the writing transaction's id then the row's, and only below the oldest
//! transaction still running (`pg_snapshot_xmin`): no event can later commit before a reader's
//! position. Every node reads the table every 100 ms (`updates::LOOK_EVERY`) and at once after its own writes; NOTIFY
//! was not used because it serialises the committing transactions on one lock, which would cap
//! the ticket rate, while this indexed read costs a fraction of a millisecond.
//!
//! **Schema.** `schema_migrations` lists the migrations applied (files `pg_store/NNNN_*.sql`,
//! applied in order under an advisory lock, each in the start-up transaction); a database with a
//! migration this engine does not know is refused.

use super::appointment::{Appointment, AppointmentChange, AppointmentChangeKind, AppointmentStatus, NewAppointment};
use super::call_outcome::CallOutcome;
use super::retention::{Disposal, PurgePlan, Purged};
use super::store::{
    CaseStore, Cursor, Feed, FeedEvent, StoreError, StoredCallback, StoredSession, TicketChange, TicketCounts,
};
use super::ticket::{NewTicket, Ticket, TicketStatus};
use super::ticket_number;
use crate::vocabulary::CallPop;
use chrono::{DateTime, NaiveDateTime, Utc};
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Json;

mod cluster;
pub use cluster::{LeaseHolder, PhoneRow, PresenceRow};

/// The migrations, in order: the schema is the last one's number.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("pg_store/0001_cases.sql")),
    (2, include_str!("pg_store/0002_ticket_counts.sql")),
    (3, include_str!("pg_store/0003_journal.sql")),
    (4, include_str!("pg_store/0004_cluster.sql")),
    (5, include_str!("pg_store/0005_callbacks.sql")),
];
/// Shards of each ticket count (see `0002_ticket_counts.sql`).
const COUNT_SHARDS: i32 = 64;
/// The schema this engine writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].0;
/// A store call answers within this, or fails as unavailable.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(5);
/// Connections kept per node.
const POOL_SIZE: usize = 8;
/// Draws of a random ticket number before giving up (each collides with odds tickets/10^8).
const DRAWS: usize = 8;
/// The advisory lock that serialises migrations of one database.
const MIGRATION_LOCK: i64 = 0x63_656e_7472_616c;

/// The PostgreSQL store; cheap to share (`Arc`).
pub struct PgStore {
    pool: Pool,
    waker: Arc<Notify>,
    /// The URL without its password, for messages.
    shown: String,
}

/// `url` with its password replaced by `***` (URL or key=value form), for messages and logs.
pub fn without_password(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{user}:***@{host}"),
                None => format!("{userinfo}@{host}"),
            },
            None => authority.to_string(),
        };
        let path = match path.split_once('?') {
            Some((p, query)) => {
                let query: Vec<String> = query
                    .split('&')
                    .map(|kv| if kv.starts_with("password=") { "password=***".into() } else { kv.to_string() })
                    .collect();
                format!("{p}?{}", query.join("&"))
            }
            None => path.to_string(),
        };
        format!("{scheme}://{authority}{path}")
    } else {
        url.split_whitespace()
            .map(|kv| if kv.starts_with("password=") { "password=***".into() } else { kv.to_string() })
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `f`, or [`StoreError::Unavailable`] when it has not finished within [`ANSWER_WITHIN`].
async fn within<T>(f: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    let started = std::time::Instant::now();
    let answer = tokio::time::timeout(ANSWER_WITHIN, f).await.unwrap_or_else(|_| {
        Err(StoreError::Unavailable(format!("no answer from the database within {} s", ANSWER_WITHIN.as_secs())))
    });
    crate::metrics::lasting().store_answered("postgres", started.elapsed());
    answer
}

/// A driver error as the store's: the database away (connection lost, shutting down, out of
/// connections) is [`StoreError::Unavailable`], anything else a failure.
fn db(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(d) => {
            let class = &d.code().code()[..2];
            // 08: connection exception, 53: insufficient resources, 57: operator intervention.
            if ["08", "53", "57"].contains(&class) {
                StoreError::Unavailable(d.message().to_string())
            } else {
                StoreError::Io(d.message().to_string())
            }
        }
        None => StoreError::Unavailable(e.to_string()),
    }
}

fn pool(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => db(e),
        PoolError::Timeout(_) => StoreError::Unavailable("no database connection free or reachable".into()),
        e => StoreError::Unavailable(e.to_string()),
    }
}

fn is_slot_taken(e: &tokio_postgres::Error) -> bool {
    e.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && e.as_db_error().and_then(|d| d.constraint()) == Some("one_booking_per_slot")
}

fn status_names(statuses: &[TicketStatus]) -> Vec<&'static str> {
    let statuses = if statuses.is_empty() { &TicketStatus::ALL[..] } else { statuses };
    statuses.iter().map(|s| s.name()).collect()
}

fn appointment_status(a: &Appointment) -> &'static str {
    match a.status {
        AppointmentStatus::Booked => "booked",
        AppointmentStatus::Cancelled => "cancelled",
    }
}

// Data-modifying parts of a WITH all run, whether the statement reads them or not.
const INSERT_TICKET: &str = "WITH t AS (
        INSERT INTO tickets (number, region, status, opened, body) VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (number) DO NOTHING RETURNING region, status, body),
    e AS (INSERT INTO events (kind, body) SELECT 'ticket', body FROM t)
    INSERT INTO ticket_counts (region, status, shard, n)
        SELECT region, status, pg_backend_pid() % $6, 1 FROM t
    ON CONFLICT (region, status, shard) DO UPDATE SET n = ticket_counts.n + 1";
const UPDATE_TICKET: &str = "WITH t AS (
        UPDATE tickets SET region = $2, status = $3, opened = $4, body = $5 WHERE number = $1 RETURNING body),
    e AS (INSERT INTO events (kind, body) SELECT 'ticket', body FROM t)
    INSERT INTO ticket_counts (region, status, shard, n)
        VALUES ($6, $7, pg_backend_pid() % $8, -1), ($2, $3, pg_backend_pid() % $8, 1)
    ON CONFLICT (region, status, shard) DO UPDATE SET n = ticket_counts.n + excluded.n";
const INSERT_APPOINTMENT: &str = "WITH a AS (
        INSERT INTO appointments (id, agency, start, status, call_id, body) VALUES ($1, $2, $3, $4, $5, $6)
        RETURNING body)
    INSERT INTO events (kind, body) SELECT 'appointment', body FROM a";
const UPDATE_APPOINTMENT: &str = "WITH a AS (
        UPDATE appointments SET start = $2, status = $3, body = $4 WHERE id = $1 RETURNING body)
    INSERT INTO events (kind, body) SELECT 'appointment', body FROM a";

/// What `import` did with one kind of record.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Written now.
    pub copied: usize,
    /// Found already, the same (an import run again).
    pub present: usize,
}

/// What `import` did, per kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    pub tickets: Copied,
    pub appointments: Copied,
    pub outcomes: Copied,
    pub sessions: Copied,
    pub latest_calls: Copied,
}

/// Count a row written (`inserted` 1), or found present (0): then it must be the same (`same`
/// says whether the stored one is), or the import stops without writing anything.
async fn copy_one(
    tally: &mut Copied,
    what: &str,
    key: &str,
    inserted: Result<u64, tokio_postgres::Error>,
    same: impl Future<Output = Result<bool, tokio_postgres::Error>>,
) -> Result<(), StoreError> {
    match inserted {
        Ok(1) => tally.copied += 1,
        Ok(_) if same.await.map_err(db)? => tally.present += 1,
        Ok(_) => {
            return Err(StoreError::Io(format!(
                "{what} {key} is already in the database with other contents: nothing was copied"
            )));
        }
        Err(e) if is_slot_taken(&e) => {
            return Err(StoreError::Io(format!(
                "{what} {key}: its slot is booked by another appointment in the database: nothing was copied"
            )));
        }
        Err(e) => return Err(db(e)),
    }
    Ok(())
}

/// One journal of the shared store (`kind`: `calls`, `queue`, `operators`), whose values'
/// `field` is the instant retention goes by.
struct PgJournal {
    store: Arc<PgStore>,
    kind: &'static str,
    field: &'static str,
}

#[async_trait::async_trait]
impl crate::jsonl::Sink for PgJournal {
    async fn append(&self, values: Vec<serde_json::Value>) -> std::io::Result<()> {
        let append = async {
            let c = self.store.client().await?;
            let insert = c
                .prepare_cached(
                    "INSERT INTO journal (kind, at, body)
                     SELECT $1, (j->>$2)::timestamptz, j FROM unnest($3::json[]) WITH ORDINALITY AS v(j, n) ORDER BY n",
                )
                .await
                .map_err(db)?;
            c.execute(&insert, &[&self.kind, &self.field, &values]).await.map_err(db)?;
            Ok(())
        };
        within(append).await.map_err(|e: StoreError| std::io::Error::other(e.to_string()))
    }
}

impl PgStore {
    /// The journal `kind` (`calls`, `queue`, `operators`) as a place for a journal's writer to
    /// append to; `field` is its values' instant.
    pub fn journal(self: &Arc<Self>, kind: &'static str, field: &'static str) -> Arc<dyn crate::jsonl::Sink> {
        Arc::new(PgJournal { store: Arc::clone(self), kind, field })
    }

    /// The values of journal `kind` in the order they were appended, or its `last` ones.
    pub async fn read_journal(&self, kind: &str, last: Option<usize>) -> Result<Vec<serde_json::Value>, StoreError> {
        let read = async {
            let c = self.client().await?;
            let rows = match last {
                None => c.query("SELECT body FROM journal WHERE kind = $1 ORDER BY id", &[&kind]).await,
                Some(n) => {
                    c.query(
                        "SELECT body FROM (SELECT id, body FROM journal WHERE kind = $1 ORDER BY id DESC LIMIT $2) t
                         ORDER BY id",
                        &[&kind, &(n.min(i64::MAX as usize) as i64)],
                    )
                    .await
                }
            }
            .map_err(db)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        };
        // A whole journal takes longer than a request's answer.
        tokio::time::timeout(Duration::from_secs(120), read)
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the journal was not read within 2 minutes".into())))
    }

    /// Copy an embedded store's records (see [`super::redb_store::Everything`]) in one
    /// transaction: what is there already, the same, is counted as present; a record whose key
    /// holds something else stops the import with nothing written. Run again, it copies nothing.
    pub async fn import(&self, e: super::redb_store::Everything) -> Result<Imported, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let mut done = Imported::default();
        let insert_ticket = tx
            .prepare_cached(
                "WITH t AS (
                    INSERT INTO tickets (number, region, status, opened, body) VALUES ($1, $2, $3, $4, $5)
                    ON CONFLICT (number) DO NOTHING RETURNING region, status)
                INSERT INTO ticket_counts (region, status, shard, n) SELECT region, status, 0, 1 FROM t
                ON CONFLICT (region, status, shard) DO UPDATE SET n = ticket_counts.n + 1",
            )
            .await
            .map_err(db)?;
        for t in &e.tickets {
            let inserted =
                tx.execute(&insert_ticket, &[&t.number, &t.fields.region, &t.status.name(), &t.opened, &Json(t)]).await;
            let same = async {
                let row = tx.query_one("SELECT body FROM tickets WHERE number = $1", &[&t.number]).await?;
                Ok(row.get::<_, Json<Ticket>>(0).0 == *t)
            };
            copy_one(&mut done.tickets, "ticket", &t.number, inserted, same).await?;
        }
        let mut last_appointment = 0i64;
        for a in &e.appointments {
            last_appointment = last_appointment.max(a.id.trim_start_matches('A').parse().unwrap_or(0));
            let status = appointment_status(a);
            let inserted = tx
                .execute(
                "INSERT INTO appointments (id, agency, start, status, call_id, body) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (id) DO NOTHING",
                &[&a.id, &a.fields.agency, &a.fields.start, &status, &a.fields.call_id, &Json(a)],
                )
                .await;
            let same = async {
                let row = tx.query_one("SELECT body FROM appointments WHERE id = $1", &[&a.id]).await?;
                Ok(row.get::<_, Json<Appointment>>(0).0 == *a)
            };
            copy_one(&mut done.appointments, "appointment", &a.id, inserted, same).await?;
        }
        // New bookings are numbered after the copied ones.
        tx.execute(
            "SELECT setval('appointment_numbers', $1) WHERE $1 > (SELECT last_value FROM appointment_numbers)",
            &[&last_appointment],
        )
        .await
        .map_err(db)?;
        for o in &e.outcomes {
            let inserted = tx
                .execute(
                "INSERT INTO call_outcomes (call_id, at, body) VALUES ($1, $2, $3) ON CONFLICT (call_id) DO NOTHING",
                &[&o.call_id, &o.at, &Json(o)],
                )
                .await;
            let same = async {
                let row = tx.query_one("SELECT body FROM call_outcomes WHERE call_id = $1", &[&o.call_id]).await?;
                Ok(row.get::<_, Json<CallOutcome>>(0).0 == *o)
            };
            copy_one(&mut done.outcomes, "call outcome", &o.call_id, inserted, same).await?;
        }
        // Sessions and the operators' latest calls: what the database has is as good.
        for (key, s) in &e.sessions {
            let inserted = tx
                .execute(
                    "INSERT INTO sessions (key, username, started, last_seen) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO NOTHING",
                    &[key, &s.user, &s.started, &s.last_seen],
                )
                .await;
            copy_one(&mut done.sessions, "session", "", inserted, async { Ok(true) }).await?;
        }
        for p in &e.latest_calls {
            let inserted = tx
                .execute(
                    "INSERT INTO operator_calls (operator, body) VALUES ($1, $2) ON CONFLICT (operator) DO NOTHING",
                    &[&p.operator, &Json(p)],
                )
                .await;
            copy_one(&mut done.latest_calls, "latest call of", &p.operator, inserted, async { Ok(true) }).await?;
        }
        tx.commit().await.map_err(db)?;
        Ok(done)
    }

    /// Connect to the database at `url`, creating or migrating its schema; refused when the
    /// database is unreachable (said with the URL without its password) or has a newer schema.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let shown = without_password(url);
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Io(format!("{shown} is not a PostgreSQL URL: {e}")))?;
        config
            .application_name("centralino")
            .connect_timeout(Duration::from_secs(3))
            .keepalives_idle(Duration::from_secs(30));
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(ANSWER_WITHIN))
            .create_timeout(Some(Duration::from_secs(3)))
            .recycle_timeout(Some(Duration::from_secs(2)))
            .build()
            .map_err(|e| StoreError::Io(format!("{shown}: {e}")))?;
        let store = Self { pool, waker: Arc::new(Notify::new()), shown };
        within(store.migrate()).await.map_err(|e| match e {
            StoreError::Unavailable(why) | StoreError::Io(why) => {
                StoreError::Io(format!("cannot use the database {}: {why}", store.shown))
            }
            e => e,
        })?;
        Ok(store)
    }

    /// The URL without its password.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(pool)
    }

    /// This node's readers may find new events.
    fn wrote_events(&self) {
        self.waker.notify_one();
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(db)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version integer PRIMARY KEY, applied timestamptz NOT NULL DEFAULT now())",
        )
        .await
        .map_err(db)?;
        let found: i32 =
            tx.query_one("SELECT coalesce(max(version), 0) FROM schema_migrations", &[]).await.map_err(db)?.get(0);
        if found > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: self.shown.clone(),
                found: found as u64,
                supported: SCHEMA_VERSION as u64,
            });
        }
        for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| *v > found) {
            tx.batch_execute(sql).await.map_err(db)?;
            tx.execute("INSERT INTO schema_migrations (version) VALUES ($1)", &[version]).await.map_err(db)?;
            tracing::info!(store = %self.shown, version, "cases store: migration applied");
        }
        tx.commit().await.map_err(db)
    }

    async fn create_ticket_async(&self, new: NewTicket, at: DateTime<Utc>) -> Result<Ticket, StoreError> {
        let c = self.client().await?;
        let insert = c.prepare_cached(INSERT_TICKET).await.map_err(db)?;
        for _ in 0..DRAWS {
            let number = ticket_number::from_sequence(rand::random_range(0..100_000_000));
            let t = Ticket::new(number, new.clone(), at);
            let stored = c
                .execute(&insert, &[&t.number, &t.fields.region, &t.status.name(), &t.opened, &Json(&t), &COUNT_SHARDS])
                .await
                .map_err(db)?;
            if stored == 1 {
                self.wrote_events();
                return Ok(t);
            }
        }
        Err(StoreError::Io("no free ticket number found: the numbers are nearly all used".into()))
    }

    async fn update_ticket_async(&self, number: &str, change: TicketChange) -> Result<Ticket, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let row = tx
            .query_opt("SELECT body FROM tickets WHERE number = $1 FOR UPDATE", &[&number])
            .await
            .map_err(db)?
            .ok_or_else(|| StoreError::NotFound(number.to_string()))?;
        let mut t: Ticket = row.get::<_, Json<Ticket>>(0).0;
        let (region, status) = (t.fields.region.clone(), t.status.name());
        change(&mut t)?;
        let update = tx.prepare_cached(UPDATE_TICKET).await.map_err(db)?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] =
            [&t.number, &t.fields.region, &t.status.name(), &t.opened, &Json(&t), &region, &status, &COUNT_SHARDS];
        tx.execute(&update, &params).await.map_err(db)?;
        tx.commit().await.map_err(db)?;
        self.wrote_events();
        Ok(t)
    }

    async fn book_async(&self, new: NewAppointment, at: DateTime<Utc>) -> Result<Appointment, StoreError> {
        let c = self.client().await?;
        let seq: i64 = c.query_one("SELECT nextval('appointment_numbers')", &[]).await.map_err(db)?.get(0);
        let by = new.booked_by.clone();
        let a = Appointment {
            id: format!("A{seq:07}"),
            fields: new,
            status: AppointmentStatus::Booked,
            history: vec![AppointmentChange { at, by, what: AppointmentChangeKind::Booked }],
        };
        let insert = c.prepare_cached(INSERT_APPOINTMENT).await.map_err(db)?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
            [&a.id, &a.fields.agency, &a.fields.start, &appointment_status(&a), &a.fields.call_id, &Json(&a)];
        match c.execute(&insert, &params).await {
            Ok(_) => {
                self.wrote_events();
                Ok(a)
            }
            Err(e) if is_slot_taken(&e) => {
                Err(StoreError::SlotTaken { agency: a.fields.agency.clone(), start: a.fields.start })
            }
            Err(e) => Err(db(e)),
        }
    }

    /// Change an appointment that is not cancelled, in one transaction.
    async fn change_appointment(
        &self,
        id: &str,
        change: impl FnOnce(&mut Appointment),
    ) -> Result<Appointment, StoreError> {
        let mut c = self.client().await?;
        let tx = c.transaction().await.map_err(db)?;
        let row = tx
            .query_opt("SELECT body FROM appointments WHERE id = $1 FOR UPDATE", &[&id])
            .await
            .map_err(db)?
            .ok_or_else(|| StoreError::NoAppointment(id.to_string()))?;
        let mut a: Appointment = row.get::<_, Json<Appointment>>(0).0;
        if a.status == AppointmentStatus::Cancelled {
            return Err(StoreError::Cancelled(id.to_string()));
        }
        change(&mut a);
        let update = tx.prepare_cached(UPDATE_APPOINTMENT).await.map_err(db)?;
        match tx.execute(&update, &[&a.id, &a.fields.start, &appointment_status(&a), &Json(&a)]).await {
            Ok(_) => {}
            Err(e) if is_slot_taken(&e) => {
                return Err(StoreError::SlotTaken { agency: a.fields.agency.clone(), start: a.fields.start });
            }
            Err(e) => return Err(db(e)),
        }
        tx.commit().await.map_err(db)?;
        self.wrote_events();
        Ok(a)
    }

    async fn set_outcome_async(&self, next: CallOutcome) -> Result<CallOutcome, StoreError> {
        let mut c = self.client().await?;
        loop {
            let tx = c.transaction().await.map_err(db)?;
            let before = tx
                .query_opt("SELECT body FROM call_outcomes WHERE call_id = $1 FOR UPDATE", &[&next.call_id])
                .await
                .map_err(db)?
                .map(|row| row.get::<_, Json<CallOutcome>>(0).0);
            let exists = before.is_some();
            let outcome = match before {
                Some(b) => b.corrected(next.clone()),
                None => next.clone(),
            };
            let written = if exists {
                tx.execute(
                    "UPDATE call_outcomes SET at = $2, body = $3 WHERE call_id = $1",
                    &[&outcome.call_id, &outcome.at, &Json(&outcome)],
                )
                .await
            } else {
                tx.execute(
                    "INSERT INTO call_outcomes (call_id, at, body) VALUES ($1, $2, $3) ON CONFLICT (call_id) DO NOTHING",
                    &[&outcome.call_id, &outcome.at, &Json(&outcome)],
                )
                .await
            }
            .map_err(db)?;
            // Another node set the first outcome meanwhile: read it and correct it.
            if written == 1 {
                tx.commit().await.map_err(db)?;
                return Ok(outcome);
            }
        }
    }

    async fn purge_async(&self, plan: &PurgePlan) -> Result<Purged, StoreError> {
        let mut done = Purged::default();
        let mut c = self.client().await?;
        if let Some(before) = plan.closed_tickets_before {
            // Closed before `before` means opened before it too: the read stays narrow.
            let rows = c
                .query("SELECT body FROM tickets WHERE status IN ('answered', 'returned') AND opened < $1", &[&before])
                .await
                .map_err(db)?;
            let due: Vec<Ticket> =
                rows.iter().map(|r| r.get::<_, Json<Ticket>>(0).0).filter(|t| plan.ticket(t).is_some()).collect();
            for chunk in due.chunks(500) {
                let tx = c.transaction().await.map_err(db)?;
                for t in chunk {
                    if plan.tickets == Disposal::Delete {
                        tx.execute(
                            "WITH d AS (DELETE FROM tickets WHERE number = $1 RETURNING region, status)
                             INSERT INTO ticket_counts (region, status, shard, n)
                                 SELECT region, status, pg_backend_pid() % $2, -1 FROM d
                             ON CONFLICT (region, status, shard) DO UPDATE SET n = ticket_counts.n + excluded.n",
                            &[&t.number, &COUNT_SHARDS],
                        )
                        .await
                        .map_err(db)?;
                        done.tickets_deleted += 1;
                    } else {
                        let mut t = t.clone();
                        t.anonymise();
                        tx.execute("UPDATE tickets SET body = $2 WHERE number = $1", &[&t.number, &Json(&t)])
                            .await
                            .map_err(db)?;
                        done.tickets_anonymised += 1;
                    }
                }
                tx.commit().await.map_err(db)?;
            }
        }
        if let Some(before) = plan.records_before {
            let rows =
                c.query("SELECT body FROM appointments WHERE start < $1", &[&before.naive_utc()]).await.map_err(db)?;
            let due: Vec<Appointment> =
                rows.iter().map(|r| r.get::<_, Json<Appointment>>(0).0).filter(|a| plan.appointment(a)).collect();
            for mut a in due {
                a.anonymise();
                c.execute("UPDATE appointments SET body = $2 WHERE id = $1", &[&a.id, &Json(&a)]).await.map_err(db)?;
                done.appointments_anonymised += 1;
            }
            let deleted = c.execute("DELETE FROM call_outcomes WHERE at < $1", &[&before]).await.map_err(db)?;
            done.outcomes_deleted = deleted as usize;
            let deleted = c
                .execute("DELETE FROM operator_calls WHERE (body->>'arrived')::timestamptz < $1", &[&before])
                .await
                .map_err(db)?;
            done.latest_calls_deleted = deleted as usize;
            let deleted = c.execute("DELETE FROM journal WHERE at < $1", &[&before]).await.map_err(db)?;
            done.journal_entries_deleted = deleted as usize;
        }
        let short = plan.short_lived_before;
        done.sessions_deleted =
            c.execute("DELETE FROM sessions WHERE last_seen < $1", &[&short]).await.map_err(db)? as usize;
        done.events_deleted = c.execute("DELETE FROM events WHERE at < $1", &[&short]).await.map_err(db)? as usize;
        Ok(done)
    }

    async fn since_async(&self, after: Cursor, limit: usize) -> Result<Vec<FeedEvent>, StoreError> {
        let c = self.client().await?;
        let read = c
            .prepare_cached(
                "SELECT tx::text, id, kind, body FROM events
                 WHERE (tx, id) > ($1::text::xid8, $2) AND tx < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY tx, id LIMIT $3",
            )
            .await
            .map_err(db)?;
        let rows = c
            .query(&read, &[&after.tx.to_string(), &(after.seq as i64), &(limit.min(i64::MAX as usize) as i64)])
            .await
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                let tx: String = row.get(0);
                let seq: i64 = row.get(1);
                Ok(FeedEvent {
                    cursor: Cursor {
                        tx: tx.parse().map_err(|_| StoreError::Io(format!("event tx {tx}")))?,
                        seq: seq as u64,
                    },
                    kind: row.get(2),
                    body: row.get(3),
                })
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl CaseStore for PgStore {
    async fn create_ticket(&self, new: NewTicket, at: DateTime<Utc>) -> Result<Ticket, StoreError> {
        within(self.create_ticket_async(new, at)).await
    }

    async fn ticket(&self, number: &str) -> Result<Option<Ticket>, StoreError> {
        within(async {
            let c = self.client().await?;
            let row = c.query_opt("SELECT body FROM tickets WHERE number = $1", &[&number]).await.map_err(db)?;
            Ok(row.map(|r| r.get::<_, Json<Ticket>>(0).0))
        })
        .await
    }

    async fn update_ticket(&self, number: &str, change: TicketChange) -> Result<Ticket, StoreError> {
        within(self.update_ticket_async(number, change)).await
    }

    async fn tickets(&self, region: Option<&str>, statuses: &[TicketStatus]) -> Result<Vec<Ticket>, StoreError> {
        serde_json::from_str(&self.tickets_json(region, statuses).await?).map_err(|e| StoreError::Io(e.to_string()))
    }

    /// The stored JSON, joined by the database (a back office's list is read often).
    async fn tickets_json(&self, region: Option<&str>, statuses: &[TicketStatus]) -> Result<String, StoreError> {
        let statuses = status_names(statuses);
        within(async {
            let c = self.client().await?;
            // Two statements, so that each plan uses the index (status, region, opened).
            let row = match region {
                Some(region) => {
                    let list = c
                        .prepare_cached(
                            "SELECT coalesce(json_agg(body ORDER BY opened, number), '[]')::text FROM tickets
                             WHERE status = ANY($1) AND region = $2",
                        )
                        .await
                        .map_err(db)?;
                    c.query_one(&list, &[&statuses, &region]).await
                }
                None => {
                    let list = c
                        .prepare_cached(
                            "SELECT coalesce(json_agg(body ORDER BY opened, number), '[]')::text FROM tickets
                             WHERE status = ANY($1)",
                        )
                        .await
                        .map_err(db)?;
                    c.query_one(&list, &[&statuses]).await
                }
            }
            .map_err(db)?;
            Ok(row.get(0))
        })
        .await
    }

    async fn ticket_counts(&self, region: Option<&str>) -> Result<TicketCounts, StoreError> {
        within(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT region, status, sum(n)::bigint FROM ticket_counts WHERE ($1::text IS NULL OR region = $1)
                     GROUP BY region, status HAVING sum(n) > 0",
                    &[&region],
                )
                .await
                .map_err(db)?;
            let mut out = TicketCounts::new();
            for row in rows {
                let (region, status, n): (String, String, i64) = (row.get(0), row.get(1), row.get(2));
                if let Some(status) = TicketStatus::ALL.into_iter().find(|s| s.name() == status) {
                    out.entry(region).or_default().insert(status, n as usize);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn book_appointment(&self, new: NewAppointment, at: DateTime<Utc>) -> Result<Appointment, StoreError> {
        within(self.book_async(new, at)).await
    }

    async fn appointment(&self, id: &str) -> Result<Option<Appointment>, StoreError> {
        within(async {
            let c = self.client().await?;
            let row = c.query_opt("SELECT body FROM appointments WHERE id = $1", &[&id]).await.map_err(db)?;
            Ok(row.map(|r| r.get::<_, Json<Appointment>>(0).0))
        })
        .await
    }

    async fn cancel_appointment(&self, id: &str, by: &str, at: DateTime<Utc>) -> Result<Appointment, StoreError> {
        within(self.change_appointment(id, |a| {
            a.status = AppointmentStatus::Cancelled;
            a.history.push(AppointmentChange { at, by: by.to_string(), what: AppointmentChangeKind::Cancelled });
        }))
        .await
    }

    async fn reschedule_appointment(
        &self,
        id: &str,
        start: NaiveDateTime,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<Appointment, StoreError> {
        within(self.change_appointment(id, |a| {
            let from = a.fields.start;
            a.fields.start = start;
            a.history.push(AppointmentChange {
                at,
                by: by.to_string(),
                what: AppointmentChangeKind::Rescheduled { from },
            });
        }))
        .await
    }

    async fn booked_slots(
        &self,
        agency: &str,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<NaiveDateTime>, StoreError> {
        within(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT start FROM appointments
                     WHERE agency = $1 AND status = 'booked' AND start >= $2 AND start < $3 ORDER BY start",
                    &[&agency, &from, &to],
                )
                .await
                .map_err(db)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
        .await
    }

    async fn agenda(
        &self,
        agency: &str,
        from: NaiveDateTime,
        to: NaiveDateTime,
    ) -> Result<Vec<Appointment>, StoreError> {
        within(async {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT body FROM appointments
                     WHERE agency = $1 AND status = 'booked' AND start >= $2 AND start < $3 ORDER BY start",
                    &[&agency, &from, &to],
                )
                .await
                .map_err(db)?;
            Ok(rows.iter().map(|r| r.get::<_, Json<Appointment>>(0).0).collect())
        })
        .await
    }

    async fn appointments_of_call(&self, call_id: &str) -> Result<Vec<Appointment>, StoreError> {
        within(async {
            let c = self.client().await?;
            let rows = c
                .query("SELECT body FROM appointments WHERE call_id = $1 ORDER BY id", &[&call_id])
                .await
                .map_err(db)?;
            Ok(rows.iter().map(|r| r.get::<_, Json<Appointment>>(0).0).collect())
        })
        .await
    }

    async fn set_call_outcome(&self, outcome: CallOutcome) -> Result<CallOutcome, StoreError> {
        within(self.set_outcome_async(outcome)).await
    }

    async fn call_outcome(&self, call_id: &str) -> Result<Option<CallOutcome>, StoreError> {
        within(async {
            let c = self.client().await?;
            let row =
                c.query_opt("SELECT body FROM call_outcomes WHERE call_id = $1", &[&call_id]).await.map_err(db)?;
            Ok(row.map(|r| r.get::<_, Json<CallOutcome>>(0).0))
        })
        .await
    }

    async fn call_outcomes(&self, since: DateTime<Utc>) -> Result<Vec<CallOutcome>, StoreError> {
        within(async {
            let c = self.client().await?;
            let rows = c
                .query("SELECT body FROM call_outcomes WHERE at >= $1 ORDER BY at, call_id", &[&since])
                .await
                .map_err(db)?;
            Ok(rows.iter().map(|r| r.get::<_, Json<CallOutcome>>(0).0).collect())
        })
        .await
    }

    async fn set_latest_call(&self, pop: CallPop) -> Result<(), StoreError> {
        within(async {
            let c = self.client().await?;
            c.execute(
                "INSERT INTO operator_calls (operator, body) VALUES ($1, $2)
                 ON CONFLICT (operator) DO UPDATE SET body = excluded.body",
                &[&pop.operator, &Json(&pop)],
            )
            .await
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn latest_calls(&self) -> Result<Vec<CallPop>, StoreError> {
        within(async {
            let c = self.client().await?;
            let rows = c.query("SELECT body FROM operator_calls", &[]).await.map_err(db)?;
            Ok(rows.iter().map(|r| r.get::<_, Json<CallPop>>(0).0).collect())
        })
        .await
    }

    async fn save_session(&self, key: &str, s: StoredSession) -> Result<(), StoreError> {
        within(async {
            let c = self.client().await?;
            c.execute(
                "INSERT INTO sessions (key, username, started, last_seen) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (key) DO UPDATE SET last_seen = greatest(sessions.last_seen, excluded.last_seen)",
                &[&key, &s.user, &s.started, &s.last_seen],
            )
            .await
            .map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn keep_callback(&self, call: &str, callback: Option<StoredCallback>) -> Result<(), StoreError> {
        within(async {
            let c = self.client().await?;
            match callback {
                Some(cb) => c
                    .execute(
                        "INSERT INTO callbacks (call_id, body) VALUES ($1, $2)
                         ON CONFLICT (call_id) DO UPDATE SET body = excluded.body",
                        &[&call, &Json(&cb)],
                    )
                    .await
                    .map_err(db)?,
                None => c.execute("DELETE FROM callbacks WHERE call_id = $1", &[&call]).await.map_err(db)?,
            };
            Ok(())
        })
        .await
    }

    async fn callbacks(&self) -> Result<Vec<StoredCallback>, StoreError> {
        within(async {
            let c = self.client().await?;
            let rows = c.query("SELECT body FROM callbacks", &[]).await.map_err(db)?;
            Ok(rows.iter().map(|r| r.get::<_, Json<StoredCallback>>(0).0).collect())
        })
        .await
    }

    async fn drop_session(&self, key: &str) -> Result<(), StoreError> {
        within(async {
            let c = self.client().await?;
            c.execute("DELETE FROM sessions WHERE key = $1", &[&key]).await.map_err(db)?;
            Ok(())
        })
        .await
    }

    async fn sessions(&self) -> Result<Vec<(String, StoredSession)>, StoreError> {
        within(async {
            let c = self.client().await?;
            let rows = c.query("SELECT key, username, started, last_seen FROM sessions", &[]).await.map_err(db)?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), StoredSession { user: r.get(1), started: r.get(2), last_seen: r.get(3) }))
                .collect())
        })
        .await
    }

    async fn session(&self, key: &str) -> Result<Option<StoredSession>, StoreError> {
        within(async {
            let c = self.client().await?;
            let row = c
                .query_opt("SELECT username, started, last_seen FROM sessions WHERE key = $1", &[&key])
                .await
                .map_err(db)?;
            Ok(row.map(|r| StoredSession { user: r.get(0), started: r.get(1), last_seen: r.get(2) }))
        })
        .await
    }

    async fn purge(&self, plan: &PurgePlan) -> Result<Purged, StoreError> {
        // A long history takes longer than a request: bounded by minutes, not seconds.
        tokio::time::timeout(Duration::from_secs(600), self.purge_async(plan))
            .await
            .unwrap_or_else(|_| Err(StoreError::Unavailable("the purge did not end within 10 minutes".into())))
    }
}

#[async_trait::async_trait]
impl Feed for PgStore {
    async fn publish(&self, kind: &str, body: serde_json::Value) -> Result<(), StoreError> {
        within(async {
            let c = self.client().await?;
            c.execute("INSERT INTO events (kind, body) VALUES ($1, $2)", &[&kind, &body]).await.map_err(db)?;
            self.wrote_events();
            Ok(())
        })
        .await
    }

    async fn since(&self, after: Cursor, limit: usize) -> Result<Vec<FeedEvent>, StoreError> {
        within(self.since_async(after, limit)).await
    }

    async fn head(&self) -> Result<Cursor, StoreError> {
        within(async {
            let c = self.client().await?;
            let row = c
                .query_opt(
                    "SELECT tx::text, id FROM events WHERE tx < pg_snapshot_xmin(pg_current_snapshot())
                     ORDER BY tx DESC, id DESC LIMIT 1",
                    &[],
                )
                .await
                .map_err(db)?;
            Ok(match row {
                Some(r) => {
                    let tx: String = r.get(0);
                    let seq: i64 = r.get(1);
                    Cursor { tx: tx.parse().map_err(|_| StoreError::Io(format!("event tx {tx}")))?, seq: seq as u64 }
                }
                None => Cursor::default(),
            })
        })
        .await
    }

    fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.waker)
    }
}

#[cfg(test)]
mod tests {
    use super::without_password;

    #[test]
    fn urls_are_shown_without_their_password() {
        assert_eq!(
            without_password("postgres://centralino:s3cret@db.inps.it:5432/cases"),
            "postgres://centralino:***@db.inps.it:5432/cases"
        );
        assert_eq!(without_password("postgres://centralino@db/cases"), "postgres://centralino@db/cases");
        assert_eq!(
            without_password("postgresql://u@h/cases?sslmode=disable&password=s3cret"),
            "postgresql://u@h/cases?sslmode=disable&password=***"
        );
        assert_eq!(
            without_password("host=db user=u password=s3cret dbname=cases"),
            "host=db user=u password=*** dbname=cases"
        );
        assert_eq!(without_password("postgres://u:p%40ss@h"), "postgres://u:***@h");
    }
}
