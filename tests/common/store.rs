//! The two cases stores the API and store tests run against: the embedded redb store and a
//! PostgreSQL database of its own for each engine (created in the server that `scripts/test.sh`
//! starts; `CENTRALINO_TEST_PG` names another server's maintenance database).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// The database the test databases are created from.
pub fn admin_url() -> String {
    std::env::var("CENTRALINO_TEST_PG")
        .unwrap_or_else(|_| "postgres://centralino_test:centralino_test@127.0.0.1:5432/postgres".into())
}

/// Run one SQL statement on the server's maintenance database.
pub fn admin_sql(sql: &str) {
    let out = Command::new("psql")
        .args([admin_url().as_str(), "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .output()
        .expect("psql (postgresql-client) is needed by the PostgreSQL tests: run scripts/test.sh");
    assert!(
        out.status.success(),
        "{sql}: {}\nStart PostgreSQL and its test role with scripts/test.sh (or set CENTRALINO_TEST_PG).",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new, empty database; its URL.
pub fn fresh_database() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let name = format!("centralino_t{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
    admin_sql(&format!("CREATE DATABASE {name}"));
    let admin = admin_url();
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    format!("{base}/{name}")
}

/// Which store an engine or a test uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Redb,
    Postgres,
}

impl Store {
    /// The `serve` arguments for an engine on `data`: a PostgreSQL engine gets a database of its
    /// own, created at its first start and kept (beside its data directory) for its restarts.
    pub fn serve_args(self, data: &Path) -> Vec<String> {
        match self {
            Store::Redb => vec![],
            Store::Postgres => vec!["--store".into(), self.url_for(data)],
        }
    }

    /// Everything the store of `data` keeps, as bytes (the redb file, or a dump of the database).
    pub fn stored_bytes(self, data: &Path) -> Vec<u8> {
        match self {
            Store::Redb => std::fs::read(data.join("cases.redb")).expect("the redb store"),
            Store::Postgres => {
                let out = Command::new("pg_dump")
                    .args(["--data-only", self.url_for(data).as_str()])
                    .output()
                    .expect("pg_dump (postgresql-client)");
                assert!(out.status.success(), "pg_dump: {}", String::from_utf8_lossy(&out.stderr));
                out.stdout
            }
        }
    }

    /// The database of the data directory `data` (created on first use).
    pub fn url_for(self, data: &Path) -> String {
        let kept = data.join("test-store-url");
        if let Ok(url) = std::fs::read_to_string(&kept) {
            return url;
        }
        let url = fresh_database();
        std::fs::write(&kept, &url).expect("write the test store's URL");
        url
    }
}

/// Run test functions `fn name(store: Store)` on both stores, as the tests `name::redb` and
/// `name::postgres`.
#[macro_export]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn redb() {
                    super::$name($crate::common::store::Store::Redb)
                }
                #[test]
                fn postgres() {
                    super::$name($crate::common::store::Store::Postgres)
                }
            }
        )*
    };
}
