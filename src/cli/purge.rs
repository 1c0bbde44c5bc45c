//! `centralino purge`: apply the retention periods of the configuration (`[retention]`) now:
//! closed tickets anonymised or deleted, call outcomes, operators' latest calls and the
//! citizen's data of past appointments removed, expired sessions and old page events dropped;
//! the call records and the queue and operator journals pruned (the data directory's files with
//! the embedded store, the shared store's journal with PostgreSQL).
//! A running engine does the same every day by itself.

use centralino::acd::journal;
use centralino::calls::log;
use centralino::cases::outcome_log;
use centralino::cases::retention::{Purged, Retention};
use centralino::cases::{CaseStore, PgStore, RedbStore};
use centralino::config;
use centralino::switchboard::Paths;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct PurgeArgs {
    /// Data directory (default: the configuration's `data_dir`).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// The shared store's URL (default: the configuration's `store.url`; none: the embedded store).
    #[arg(long)]
    store: Option<String>,
}

/// The journals and the field of their lines that retention goes by.
const JOURNALS: [(&str, &str); 4] = [
    (log::FILE, log::ENDED),
    (journal::QUEUE_FILE, journal::AT),
    (journal::OPERATORS_FILE, journal::AT),
    (outcome_log::FILE, outcome_log::AT),
];

pub fn run(paths: &Paths, args: PurgeArgs) -> ExitCode {
    let config = match config::load(&paths.config) {
        Ok(c) => c,
        Err(d) => {
            super::report(&d.sorted());
            return ExitCode::FAILURE;
        }
    };
    let dir = args.data_dir.unwrap_or_else(|| PathBuf::from(&config.data_dir));
    let retention = Retention::of(&config.retention);
    if retention.keeps_everything() {
        println!("no retention period is configured ([retention]): only expired sessions and old page events go");
    }
    let plan = retention.plan(chrono::Utc::now());
    let url = args.store.or_else(|| config.store.url.as_ref().map(|u| u.get_ref().clone()));
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let embedded = url.is_none();
    let purged: Result<Purged, String> = runtime.block_on(async {
        let store: Box<dyn CaseStore> = match &url {
            Some(url) => Box::new(PgStore::connect(url).await.map_err(|e| e.to_string())?),
            None => Box::new(RedbStore::open(&dir.join("cases.redb")).map_err(|e| {
                format!("{e} (an engine running on this data directory applies the retention every day by itself)")
            })?),
        };
        store.purge(&plan).await.map_err(|e| e.to_string())
    });
    let purged = match purged {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let line = |what: &str, n: usize| println!("{what:<34} {n:>8}");
    line("tickets anonymised", purged.tickets_anonymised);
    line("tickets deleted", purged.tickets_deleted);
    line("appointments anonymised", purged.appointments_anonymised);
    line("call outcomes deleted", purged.outcomes_deleted);
    line("operators' latest calls deleted", purged.latest_calls_deleted);
    line("sessions deleted", purged.sessions_deleted);
    line("page events deleted", purged.events_deleted);
    if !embedded {
        line("journal entries deleted", purged.journal_entries_deleted);
    }
    // The files belong to the engine that writes them: pruned here only when the embedded
    // store could be opened, that is when no engine runs on this data directory.
    if let (true, Some(before)) = (embedded, plan.records_before) {
        for (file, field) in JOURNALS {
            match centralino::jsonl::prune(&dir.join(file), field, before) {
                Ok(n) => line(&format!("{file} lines removed"), n),
                Err(e) => {
                    eprintln!("error: cannot prune {}: {e}", dir.join(file).display());
                    return ExitCode::FAILURE;
                }
            }
        }
    }
    ExitCode::SUCCESS
}
