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

/// A PostgreSQL server of the test's own (initdb in a temporary directory, on a free loopback
/// port), to stop and start again without touching the server other tests use.
pub struct PrivateServer {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: std::path::PathBuf,
}

impl PrivateServer {
    pub fn start() -> PrivateServer {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's server (Debian's postgresql): run scripts/test.sh")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("initdb").exists())
            .max()
            .expect("initdb of an installed PostgreSQL");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let mut server = PrivateServer { dir, port: free_port(), bin };
        // PostgreSQL refuses to run as root: as root, its files belong to `postgres`.
        if is_root() {
            server.run("chown", &["-R", "postgres", server.dir.path().to_str().unwrap()], false);
        }
        let data = server.data();
        server.run("initdb", &["-D", &data, "-U", "centralino", "--auth=trust", "-E", "UTF8", "--no-sync"], true);
        // The port was free when chosen; another program may take it meanwhile: try another.
        for _ in 0..2 {
            match server.try_start() {
                Ok(()) => return server,
                Err(e) => eprintln!("the private PostgreSQL did not start on port {}: {e}", server.port),
            }
            server.port = free_port();
        }
        server.start_again();
        server
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn run(&self, program: &str, args: &[&str], as_postgres: bool) {
        if let Err(e) = self.try_run(program, args, as_postgres) {
            panic!("{e}");
        }
    }

    fn try_run(&self, program: &str, args: &[&str], as_postgres: bool) -> Result<(), String> {
        let program = if program == "chown" { program.into() } else { self.bin.join(program) };
        let mut c = if as_postgres && is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = c.args(args).output().map_err(|e| format!("{}: {e}", program.display()))?;
        if out.status.success() {
            return Ok(());
        }
        Err(format!(
            "{} {args:?}: {}{}",
            program.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }

    /// The URL of its database `postgres`.
    pub fn url(&self) -> String {
        format!("postgres://centralino@127.0.0.1:{}/postgres", self.port)
    }

    /// Stop at once (`pg_ctl stop -m fast`: open connections are ended).
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"], true);
    }

    pub fn start_again(&self) {
        if let Err(e) = self.try_start() {
            panic!("{e}");
        }
    }

    fn try_start(&self) -> Result<(), String> {
        let options = format!("-p {} -c listen_addresses=127.0.0.1 -k {}", self.port, self.dir.path().display());
        let log = self.dir.path().join("log");
        let args = ["-D", &self.data(), "-o", &options, "-l", log.to_str().unwrap(), "-w", "start"];
        self.try_run("pg_ctl", &args, true)
            .map_err(|e| format!("{e}\nserver log:\n{}", std::fs::read_to_string(&log).unwrap_or_default()))
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let data = self.data();
        let stop = self.bin.join("pg_ctl");
        let mut c = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(stop);
            c
        } else {
            Command::new(stop)
        };
        let _ = c.args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

/// A loopback TCP port nothing listens on now (the system's choice).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// [`on_both_stores`] for `async fn name(store: Store)`, each run on a runtime of its own.
#[macro_export]
macro_rules! on_both_stores_async {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread")]
                async fn redb() {
                    super::$name($crate::common::store::Store::Redb).await
                }
                #[tokio::test(flavor = "multi_thread")]
                async fn postgres() {
                    super::$name($crate::common::store::Store::Postgres).await
                }
            }
        )*
    };
}
