//! Headless Chromium driven through WebDriver (chromedriver, from Debian's chromium-driver),
//! for the tests of the pages.

use super::ports;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// W3C WebDriver's key for element references.
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    child: Child,
    port: u16,
    session: String,
}

impl Driver {
    pub fn start() -> Driver {
        Driver::start_with(&[])
    }

    /// With Chromium's `args` besides the headless ones.
    pub fn start_with(args: &[&str]) -> Driver {
        let bin = ["chromedriver", "/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .into_iter()
            .find(|b| Command::new(b).arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success()))
            .expect("chromedriver is required (apt-get install chromium chromium-driver; scripts/test.sh installs it)");
        // The port is free when chosen but may be taken before chromedriver binds it (tests
        // run in parallel): a chromedriver that exits is started again on another port.
        let mut d = None;
        for _ in 0..3 {
            let port = ports(1);
            let child = Command::new(bin)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start chromedriver");
            let mut started = Driver { child, port, session: String::new() };
            let deadline = Instant::now() + Duration::from_secs(30);
            while started.call("GET", "/status", None).is_err() {
                if started.child.try_wait().is_ok_and(|exited| exited.is_some()) || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            if started.call("GET", "/status", None).is_ok() {
                d = Some(started);
                break;
            }
        }
        let mut d = d.expect("chromedriver did not start (three tries)");
        let mut all = vec![
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1400,900",
        ];
        all.extend_from_slice(args);
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": all}}}});
        let s = d.call("POST", "/session", Some(&caps)).expect("a browser session");
        d.session = s["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {s}")).to_string();
        d
    }

    /// One WebDriver command; the `value` of the answer.
    pub fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| e.to_string())?;
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let body = body.map(Value::to_string).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        // Read the head, then exactly Content-Length bytes (chromedriver keeps the socket open).
        let mut out = Vec::new();
        let mut buf = [0u8; 65536];
        let (head, body_start) = loop {
            let n = s.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                return Err("connection closed".into());
            }
            out.extend_from_slice(&buf[..n]);
            if let Some(i) = out.windows(4).position(|w| w == b"\r\n\r\n") {
                break (String::from_utf8_lossy(&out[..i]).to_string(), i + 4);
            }
        };
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.trim())
            })
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        while out.len() < body_start + length {
            let n = s.read(&mut buf).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        let rest = String::from_utf8_lossy(&out[body_start..]).to_string();
        let json = if rest.trim().is_empty() { "null" } else { rest.as_str() };
        let v: Value = serde_json::from_str(json).map_err(|e| format!("{e}: {rest}"))?;
        if head.split(' ').nth(1) != Some("200") {
            return Err(format!("{head}\n{v}"));
        }
        Ok(v["value"].clone())
    }

    pub fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.call(method, &format!("/session/{}{path}", self.session), body.as_ref())
    }

    pub fn find(&self, css: &str) -> Option<String> {
        let v = self.cmd("POST", "/element", Some(json!({"using": "css selector", "value": css}))).ok()?;
        v[ELEMENT].as_str().map(String::from)
    }

    /// Wait (up to `secs`) for an element.
    pub fn wait(&self, css: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(e) = self.find(css) {
                return e;
            }
            if Instant::now() > deadline {
                let page = self.cmd("GET", "/source", None).unwrap_or_default();
                panic!("no {css} within {secs} s; the page:\n{page}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let e = self.wait(css, 10);
        self.cmd("POST", &format!("/element/{e}/value"), Some(json!({"text": text}))).unwrap();
    }

    /// Click an element once it is there and can be clicked (a list being drawn again, or a
    /// button just shown, may not be yet: retried for up to 10 s).
    pub fn click(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let e = self.wait(css, 10);
            match self.cmd("POST", &format!("/element/{e}/click"), Some(json!({}))) {
                Ok(_) => return,
                Err(why)
                    if Instant::now() < deadline
                        && (why.contains("not interactable") || why.contains("stale element")) =>
                {
                    std::thread::sleep(Duration::from_millis(100))
                }
                Err(why) => panic!("click on {css}: {why}"),
            }
        }
    }

    pub fn screenshot(&self, name: &str) {
        if let Ok(Value::String(b64)) = self.cmd("GET", "/screenshot", None) {
            let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::write(dir.join(format!("{name}.png.b64")), b64);
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    pub fn text(&self, css: &str) -> String {
        let e = self.wait(css, 10);
        self.cmd("GET", &format!("/element/{e}/text"), None)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default()
    }

    /// Wait until the element's text contains `needle`; its text.
    pub fn wait_text(&self, css: &str, needle: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let t = self.text(css);
            if t.contains(needle) {
                return t;
            }
            assert!(Instant::now() < deadline, "{css} never said {needle:?}: {t:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The attribute `name` of the element `css` (empty when absent).
    pub fn attribute(&self, css: &str, name: &str) -> String {
        let e = self.wait(css, 10);
        let v = self.cmd("GET", &format!("/element/{e}/attribute/{name}"), None).unwrap();
        v.as_str().unwrap_or_default().to_string()
    }

    /// axe-core's accessibility check of the page as it is now (scripts/test.sh installs the
    /// npm package under target/npm): every violation, printed; those of serious or critical
    /// impact returned.
    pub fn axe(&self, what: &str) -> Vec<String> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/target/npm/node_modules/axe-core/axe.min.js");
        let source = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("{path}: {e} (scripts/test.sh installs axe-core with npm)"));
        self.cmd("POST", "/execute/sync", Some(json!({"script": source, "args": []}))).expect("axe-core loads");
        let run = r#"const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] })
              .then((r) => done(r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.map((n) => n.target.join(" ")) }))))
              .catch((e) => done({ error: String(e) }));"#;
        let found = self.cmd("POST", "/execute/async", Some(json!({"script": run, "args": []}))).expect("axe.run");
        let violations = found.as_array().unwrap_or_else(|| panic!("axe-core on {what}: {found}"));
        // Straight to stderr, not println!: the results belong in the test output even when
        // the test passes (libtest captures only the print macros).
        let mut report = format!("axe-core {what}: {} violation(s)\n", violations.len());
        let mut serious = Vec::new();
        for v in violations {
            let line = format!("{} [{}] {}: {}", v["id"], v["impact"], v["help"], v["nodes"]);
            report += &format!("  {line}\n");
            if matches!(v["impact"].as_str(), Some("serious" | "critical")) {
                serious.push(line);
            }
        }
        let _ = std::io::stderr().write_all(report.as_bytes());
        serious
    }

    /// The page's session cookie, as a `Cookie` header's value.
    pub fn session_cookie(&self) -> String {
        let cookie = self.cmd("GET", "/cookie/centralino_session", None).unwrap();
        format!("centralino_session={}", cookie["value"].as_str().unwrap_or_default())
    }

    pub fn sign_in(&self, url: &str, user: &str, password: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url}))).unwrap();
        self.type_into("#username", user);
        self.type_into("#password", password);
        self.click("#signin-button");
    }
}
