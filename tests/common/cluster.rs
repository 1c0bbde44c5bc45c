//! A center of several nodes for the tests: `scripts/cluster.sh` starts PostgreSQL, Kamailio
//! and the engine nodes on loopback addresses of their own; this drives and reads it.

use super::{BIN, ROOT, ports};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A running cluster; brought down when dropped.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
    pub nodes: usize,
}

/// The switchboard of the cluster tests: the shipped configuration and trees, open around the
/// clock, MD5 offered first (sipp's phones), plus number +390699999999 whose tree queues every
/// call at once in section `cluster` (no wrap-up, positions announced at most every second)
/// and operators `op1`..`op4` (password `pw-op<i>`) who serve it.
pub fn switchboard() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let trees = dir.path().join("trees");
    std::fs::create_dir(&trees).unwrap();
    for entry in std::fs::read_dir(super::open_trees()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, trees.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(
        trees.join("cluster-queue.yaml"),
        "description: The cluster tests' queue.\nlanguages: [it, en]\nstart: queue\nprompts: {}\nnodes:\n  queue:\n    queue:\n      section: cluster\n",
    )
    .unwrap();
    let mut text = std::fs::read_to_string(Path::new(ROOT).join("config/centralino.toml")).unwrap();
    text = text.replace(super::MD5_FIRST.0, super::MD5_FIRST.1);
    // The queue defaults route to prompts and nodes of the national tree, which the cluster's
    // tree does not have.
    for default in [
        "after_max_wait = { message = \"queue_timeout\" }\n",
        "max_wait_seconds = 1200            # 20 minutes, then:\n",
        "when_no_operators = { node = \"no_operator_now\" }\n",
    ] {
        assert!(text.contains(default), "the shipped configuration has {default}");
        text = text.replace(default, "");
    }
    text.push_str(
        "\n[[numbers]]\nnumber = \"+390699999999\"\nprovince = \"RM\"\nlabel = \"Cluster queue\"\ntree = \"cluster-queue\"\n\
         \n[sections.cluster]\nname = \"Coda di prova\"\ntree = \"cluster-queue\"\n\
         \n[sections.cluster.queue]\nannounce_min_interval_seconds = 1\nannounce_every_seconds = 600\nwrap_up_seconds = 0\nring_timeout_seconds = 10\n",
    );
    let realm = "centralino.inps.example";
    for i in 1..=4 {
        let (user, password) = (format!("op{i}"), format!("pw-op{i}"));
        let a1 = format!("{user}:{realm}:{password}");
        let (md5, sha) = (hex::<md5::Md5>(&a1), hex::<sha2::Sha256>(&a1));
        text.push_str(&format!(
            "\n[[operators]]\nusername = \"{user}\"\ndisplay_name = \"Operatore {i}\"\nsections = [\"cluster\"]\nha1_md5 = \"{md5}\"\nha1_sha256 = \"{sha}\"\n"
        ));
    }
    std::fs::write(dir.path().join("config.toml"), text).unwrap();
    let check = Command::new(BIN)
        .current_dir(ROOT)
        .arg("check")
        .arg("--config")
        .arg(dir.path().join("config.toml"))
        .arg("--trees")
        .arg(&trees)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "the cluster switchboard passes the check: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
    dir
}

fn hex<D: sha2::Digest>(s: &str) -> String {
    D::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

impl Cluster {
    /// `scripts/cluster.sh up --nodes N` with the switchboard in `switchboard`, on loopback
    /// addresses no other test of this run uses.
    pub fn up(nodes: usize, switchboard: &Path) -> Cluster {
        Self::up_with(nodes, switchboard, &[])
    }

    /// [`Cluster::up`] with more environment for the script (`CLUSTER_PG_PORT_<i>`).
    pub fn up_with(nodes: usize, switchboard: &Path, env: &[(String, String)]) -> Cluster {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let net = format!("127.{}.{}", 100 + std::process::id() % 100, NEXT.fetch_add(1, Ordering::Relaxed));
        // 300 RTP ports per node.
        let blocks = (nodes as u32 * 300).div_ceil(20);
        let rtp_from = ports(blocks);
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(Path::new(ROOT).join("scripts/cluster.sh"))
            .arg("up")
            .args(["--nodes", &nodes.to_string(), "--net", &net, "--rtp-from", &rtp_from.to_string()])
            .args(["--rtp-span", "300"])
            .arg("--dir")
            .arg(dir.path())
            .arg("--")
            .arg("--config")
            .arg(switchboard.join("config.toml"))
            .arg("--trees")
            .arg(switchboard.join("trees"))
            .env("CENTRALINO_BIN", BIN)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .expect("run scripts/cluster.sh");
        let env = read_env(&dir.path().join("cluster.env"));
        let cluster = Cluster { dir, env, nodes };
        assert!(
            out.status.success(),
            "scripts/cluster.sh up failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            cluster.logs()
        );
        cluster
    }

    fn script(&self, args: &[&str]) {
        let out = Command::new(Path::new(ROOT).join("scripts/cluster.sh"))
            .args(args)
            .env("CLUSTER_DIR", self.dir.path())
            .env("CENTRALINO_BIN", BIN)
            .output()
            .expect("run scripts/cluster.sh");
        assert!(out.status.success(), "scripts/cluster.sh {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }

    fn addr(&self, key: &str) -> SocketAddr {
        self.env[key].parse().unwrap()
    }

    /// Where callers and phones send SIP: Kamailio.
    pub fn proxy(&self) -> SocketAddr {
        self.addr("KAMAILIO_SIP")
    }

    pub fn http(&self, node: usize) -> SocketAddr {
        self.addr(&format!("NODE{node}_HTTP"))
    }

    /// SIGKILL node `i`.
    pub fn kill(&self, node: usize) {
        self.script(&["kill", &node.to_string()]);
    }

    /// SIGTERM node `i` and wait until it has drained and stopped.
    pub fn stop(&self, node: usize) {
        self.script(&["stop", &node.to_string()]);
    }

    /// Start node `i` again and wait until it is ready.
    pub fn start(&self, node: usize) {
        self.script(&["start", &node.to_string()]);
    }

    /// Send `signal` (`STOP`, `CONT`...) to node `i`'s process.
    pub fn signal(&self, node: usize, signal: &str) {
        let env = read_env(&self.dir.path().join("cluster.env"));
        let pid = &env[&format!("NODE{node}_PID")];
        let ok = Command::new("kill").arg(format!("-{signal}")).arg(pid).status().unwrap().success();
        assert!(ok, "kill -{signal} {pid}");
    }

    pub fn log(&self, node: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("node{node}/engine.log"))).unwrap_or_default()
    }

    /// The last lines of every node's log and Kamailio's, for a failure's message.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        for i in 1..=self.nodes {
            out += &format!("--- node {i}\n{}\n", super::tail(&self.log(i), 15));
        }
        let k = std::fs::read_to_string(self.dir.path().join("kamailio.log")).unwrap_or_default();
        out + &format!("--- kamailio\n{}\n", super::tail(&k, 15))
    }

    /// A SQL query's rows (one column, text) in the cluster's database.
    pub fn sql(&self, query: &str) -> Vec<String> {
        let out = Command::new("psql").arg(&self.env["STORE_URL"]).args(["-Atc", query]).output().expect("psql");
        assert!(out.status.success(), "{query}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
    }

    /// The shared queue journal, in the order it was written.
    pub fn queue_journal(&self) -> Vec<Value> {
        self.sql("SELECT body FROM journal WHERE kind = 'queue' ORDER BY id")
            .iter()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The node holding the distribution's lease, and its epoch.
    pub fn holder(&self) -> Option<(usize, i64)> {
        let row = self.sql("SELECT owner || ' ' || epoch FROM leases WHERE name = 'distribution' AND until > now()");
        let (owner, epoch) = row.first()?.split_once(' ')?;
        Some((owner.trim_start_matches("node").parse().ok()?, epoch.parse().ok()?))
    }

    /// An operator's phone through the proxy: sipp registers `user`, answers every call it is
    /// offered after `ring_ms`, talks `talk_ms` and hangs up; it stays for `stay_s`.
    pub fn phone(&self, user: &str, talk_ms: u64, stay_s: u64) -> Sipp {
        self.phone_at(self.proxy(), user, talk_ms, stay_s)
    }

    /// Node `i`'s own SIP address (bypassing the proxy).
    pub fn sip(&self, node: usize) -> SocketAddr {
        self.addr(&format!("NODE{node}_SIP"))
    }

    /// [`Cluster::phone`] registering at `registrar`.
    pub fn phone_at(&self, registrar: SocketAddr, user: &str, talk_ms: u64, stay_s: u64) -> Sipp {
        let keys = [
            ("expires", "300".to_string()),
            ("hold_ms", (stay_s * 1000).to_string()),
            ("ring_ms", "100".to_string()),
            ("talk_ms", talk_ms.to_string()),
            ("op_rtp_port", ports(1).to_string()),
        ];
        let answers = format!("{ROOT}/tests/sipp/operator_hangs_up.xml");
        let password = format!("pw-{user}");
        let extra = ["-au", user, "-ap", &password, "-oocsf", &answers];
        Sipp::start(registrar, "operator_phone.xml", user, 1, 1, &keys, &extra, stay_s + 30)
    }

    /// A guesser on loopback address `ip`: `tries` REGISTERs through the proxy as the unknown
    /// user `ghost` with a wrong password.
    pub fn guesser(&self, ip: &str, tries: usize) -> Sipp {
        let keys = [("expires", "300".to_string()), ("hold_ms", "0".to_string())];
        let extra = ["-au", "ghost", "-ap", "wrong", "-i", ip];
        Sipp::start(self.proxy(), "operator_phone.xml", "ghost", tries, tries, &keys, &extra, 30)
    }

    /// `calls` callers through the proxy at `rate` per second, each running `scenario`.
    pub fn callers(&self, scenario: &str, service: &str, calls: usize, rate: usize, within_s: u64) -> Sipp {
        Sipp::start(self.proxy(), scenario, service, calls, rate, &[], &[], within_s)
    }
}

impl Drop for Cluster {
    /// Down, and its directory removed (kept with CLUSTER_KEEP=1, to read the logs).
    fn drop(&mut self) {
        let _ = Command::new(Path::new(ROOT).join("scripts/cluster.sh"))
            .arg("down")
            .env("CLUSTER_DIR", self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if std::env::var_os("CLUSTER_KEEP").is_some() {
            let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().unwrap());
            eprintln!("cluster directory kept: {}", dir.keep().display());
        }
    }
}

fn read_env(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
        .collect()
}

/// A sipp process running in the background (killed when dropped).
pub struct Sipp {
    child: Option<Child>,
    dir: tempfile::TempDir,
    started: Instant,
    limit: Duration,
}

impl Sipp {
    /// `calls` calls of tests/sipp/`scenario` to `remote`, at `rate` per second, within `within_s`.
    #[allow(clippy::too_many_arguments)]
    pub fn start(
        remote: SocketAddr,
        scenario: &str,
        service: &str,
        calls: usize,
        rate: usize,
        keys: &[(&str, String)],
        extra: &[&str],
        within_s: u64,
    ) -> Sipp {
        Sipp::launch(Some(remote), ports(1), scenario, service, calls, rate, keys, extra, within_s)
    }

    /// A sipp server on `port` taking `calls` calls with tests/sipp/`scenario`, within `within_s`.
    pub fn serve(port: u16, scenario: &str, calls: usize, keys: &[(&str, String)], within_s: u64) -> Sipp {
        Sipp::launch(None, port, scenario, "s", calls, 1, keys, &[], within_s)
    }

    #[allow(clippy::too_many_arguments)]
    fn launch(
        remote: Option<SocketAddr>,
        port: u16,
        scenario: &str,
        service: &str,
        calls: usize,
        rate: usize,
        keys: &[(&str, String)],
        extra: &[&str],
        within_s: u64,
    ) -> Sipp {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("sipp");
        cmd.current_dir(dir.path())
            .args(remote.map(|r| r.to_string()))
            .arg("-sf")
            .arg(Path::new(ROOT).join("tests/sipp").join(scenario))
            .args(["-s", service, "-p", &port.to_string()])
            .args(if extra.contains(&"-i") { &[][..] } else { &["-i", "127.0.0.1"][..] })
            .args(["-m", &calls.to_string(), "-r", &rate.to_string(), "-l", &calls.to_string()])
            .args(["-timeout", &format!("{within_s}s"), "-timeout_error", "-nostdin"])
            .args(["-max_socket", "2000"])
            .args(["-trace_err", "-error_file", "errors.log", "-trace_msg", "-message_file", "messages.log"]);
        for (k, v) in keys {
            cmd.args(["-key", k, v]);
        }
        cmd.args(extra);
        let screen = std::fs::File::create(dir.path().join("screen.log")).unwrap();
        cmd.stdin(Stdio::null()).stdout(screen.try_clone().unwrap()).stderr(screen);
        let child = cmd.spawn().expect("run sipp (Debian package sip-tester)");
        Sipp { child: Some(child), dir, started: Instant::now(), limit: Duration::from_secs(within_s + 15) }
    }

    /// Wait for the end: the exit status (0: every call succeeded), or `None` if it had to be
    /// killed.
    pub fn wait(&mut self) -> Option<i32> {
        let child = self.child.as_mut()?;
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                self.child = None;
                return s.code();
            }
            if self.started.elapsed() > self.limit {
                let _ = child.kill();
                let _ = child.wait();
                self.child = None;
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }

    /// The screen's last statistics and the errors, for a failure's message.
    pub fn report(&self) -> String {
        format!("{}\nerrors:\n{}", super::tail(&self.file("screen.log"), 40), super::tail(&self.file("errors.log"), 20))
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// When the first 200 OK to an INVITE arrived (sipp's message trace, local time).
    pub fn first_answer(&self) -> Option<chrono::NaiveDateTime> {
        let trace = self.file("messages.log");
        let mut stamp = None;
        let mut in_ok = false;
        for line in trace.lines() {
            if let Some(t) = line.strip_prefix("----------------------------------------------- ") {
                stamp = chrono::NaiveDateTime::parse_from_str(t.trim(), "%Y-%m-%d %H:%M:%S%.f").ok();
                in_ok = false;
            } else if line.starts_with("SIP/2.0 200") {
                in_ok = true;
            } else if in_ok && line.starts_with("CSeq:") && line.contains("INVITE") {
                return stamp;
            }
        }
        None
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A relay to PostgreSQL that a test can cut: one node's connections to the database go through
/// it, and [`PgRelay::cut`] ends them and refuses new ones (that node loses the database, the
/// others keep it).
pub struct PgRelay {
    pub port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl PgRelay {
    pub fn start() -> PgRelay {
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Mutex};
        let server = std::env::var("CENTRALINO_TEST_PG")
            .ok()
            .and_then(|u| u.split('@').nth(1).and_then(|h| h.split('/').next()).map(String::from))
            .unwrap_or_else(|| "127.0.0.1:5432".into());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let open: Arc<Mutex<Vec<std::net::TcpStream>>> = Arc::default();
        let (c, o) = (Arc::clone(&cut), Arc::clone(&open));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if c.load(Ordering::Relaxed) {
                    continue;
                }
                let Ok(db) = std::net::TcpStream::connect(&server) else { continue };
                let mut open = o.lock().unwrap();
                open.push(client.try_clone().unwrap());
                open.push(db.try_clone().unwrap());
                for (mut from, mut to) in [(client.try_clone().unwrap(), db.try_clone().unwrap()), (db, client)] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        PgRelay { port, cut, open }
    }

    /// Cut: every connection through the relay ends, new ones are refused.
    pub fn cut(&self) {
        self.cut.store(true, Ordering::Relaxed);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }
}
