//! `centralino migrate --from <data_dir> --to postgres://...`: copy an embedded store (tickets
//! with their history, appointments, outcomes, sessions, the operators' latest calls) into the
//! shared PostgreSQL store, when one node grows into several. Idempotent: run again, it copies
//! nothing and says so. The embedded store is read, never changed; a newer or unknown one is
//! refused before anything is written.

use centralino::cases::pg_store::{Copied, PgStore};
use centralino::cases::redb_store::RedbStore;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// The data directory of the embedded store (its `cases.redb`).
    #[arg(long)]
    from: PathBuf,
    /// The PostgreSQL database to copy into (created or migrated to this engine's schema).
    #[arg(long)]
    to: String,
}

pub fn run(args: MigrateArgs) -> ExitCode {
    let source = args.from.join("cases.redb");
    // Everything read first: a store that cannot be read leaves the database untouched.
    let everything = match RedbStore::read_everything(&source) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("error: cannot read the embedded store: {e}");
            return ExitCode::FAILURE;
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let copied = runtime.block_on(async {
        let store = PgStore::connect(&args.to).await?;
        println!("copying {} into {}", source.display(), store.shown());
        store.import(everything).await
    });
    match copied {
        Ok(done) => {
            let line =
                |what: &str, c: Copied| println!("{what:<14} {:>8} copied {:>8} already there", c.copied, c.present);
            line("tickets", done.tickets);
            line("appointments", done.appointments);
            line("outcomes", done.outcomes);
            line("sessions", done.sessions);
            line("latest calls", done.latest_calls);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
