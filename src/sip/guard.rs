//! The guard in front of the SIP stack: every UDP datagram is inspected before rsipstack sees
//! it. rsipstack silently drops what it cannot parse and never answers 400, 501, 505 or 513;
//! RFC 3261 wants an answer whenever the sender can be answered (it has a Via), so the guard
//! answers those itself and drops the rest. A flood cannot flood the log: at most one line per
//! source and minute whatever the fault, and a summary of the rest each minute ([`FaultLog`]).
//!
//! [`inspect`] is pure (bytes in, verdict out), unit-tested and fuzzed (`fuzz/`);
//! [`GuardedSocket`] wires it under rsipstack's UDP transport.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tracing::warn;

/// Largest datagram the stack takes (rsipstack reads into 8 KiB).
pub const MAX_DATAGRAM: usize = 8192;

/// Methods the stack knows; anything else is answered 501 here.
const KNOWN_METHODS: &[&str] = &[
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "INFO",
    "REGISTER",
    "SUBSCRIBE",
    "NOTIFY",
    "REFER",
    "MESSAGE",
    "UPDATE",
    "PRACK",
    "PUBLISH",
];

/// What to do with a datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Well-formed enough for the stack.
    Pass,
    /// Well-formed, but the stack would misread it (folded header lines, whitespace before a
    /// colon, no empty line after the headers): pass on this rewriting instead, the same
    /// message in the stack's plainer form.
    Rewrite(Vec<u8>),
    /// Answer with this response and do not pass it on.
    Reply { status: u16, reason: String, response: Vec<u8> },
    /// Nothing can be answered (no Via, an ACK, a response, garbage): drop it.
    Drop { reason: String },
}

struct Parsed<'a> {
    headers: Vec<(&'a str, &'a str)>,
    body_len: usize,
}

impl Parsed<'_> {
    fn all(&self, name: &str, compact: &str) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name) || n.eq_ignore_ascii_case(compact))
            .map(|(_, v)| *v)
    }

    fn one(&self, name: &str, compact: &str) -> Option<&str> {
        self.all(name, compact).next()
    }
}

/// Inspect one datagram.
pub fn inspect(datagram: &[u8], received_len: usize) -> Verdict {
    if datagram.iter().all(u8::is_ascii_whitespace) {
        return Verdict::Pass; // keep-alives
    }
    let head_end =
        find(datagram, b"\r\n\r\n").map(|i| (i, i + 4)).or_else(|| find(datagram, b"\n\n").map(|i| (i, i + 2)));
    // An oversized datagram may have been cut inside its headers: read the complete lines. A
    // datagram that ends its last header line without the empty line has no body.
    let truncated = || (received_len > MAX_DATAGRAM).then(|| datagram.iter().rposition(|b| *b == b'\n')).flatten();
    let unterminated = || datagram.ends_with(b"\r\n").then(|| datagram.len() - 2);
    let Some(head_end) = head_end.or_else(|| truncated().or_else(unterminated).map(|i| (i, datagram.len()))) else {
        return Verdict::Drop { reason: "no end of headers".into() };
    };
    let Ok(head) = std::str::from_utf8(&datagram[..head_end.0]) else {
        return Verdict::Drop { reason: "headers are not UTF-8".into() };
    };
    let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let start = lines.next().unwrap_or_default();
    if start.starts_with("SIP/") {
        return Verdict::Pass; // responses are the stack's business
    }
    let mut parts = start.split(' ');
    let (method, uri, version) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    // Header lines, folding undone (RFC 3261 7.3.1: a line starting with whitespace continues
    // the one before); `plain` stays true while the stack could read them as they are.
    let mut unfolded: Vec<(String, String)> = Vec::new();
    let mut malformed = false;
    let mut plain = matches!(&datagram[head_end.0..head_end.1], b"\r\n\r\n" | b"\n\n");
    for l in lines {
        if l.starts_with([' ', '\t']) {
            plain = false;
            match unfolded.last_mut() {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(l.trim());
                }
                None => malformed = true,
            }
            continue;
        }
        match l.split_once(':') {
            Some((n, v)) if !n.trim().is_empty() => {
                plain &= n == n.trim_end();
                unfolded.push((n.trim().to_string(), v.trim().to_string()));
            }
            _ => malformed = true,
        }
    }
    let headers: Vec<(&str, &str)> = unfolded.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let p = Parsed { headers, body_len: datagram.len() - head_end.1 };
    let is_token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));

    // Without a Via nobody can be answered (RFC 3261 section 18.2.2).
    if p.one("Via", "v").is_none() {
        return Verdict::Drop { reason: "request without Via".into() };
    }
    let fault: Option<(u16, &str, String)> = if received_len > MAX_DATAGRAM {
        Some((513, "Message Too Large", format!("datagram of {received_len} bytes")))
    } else if !is_token(method) || uri.is_empty() || parts.next().is_some() {
        Some((400, "Bad Request", "malformed request line".into()))
    } else if version != "SIP/2.0" {
        Some((505, "Version Not Supported", format!("version {version}")))
    } else if malformed || !p.headers.iter().all(|(n, _)| is_token(n)) {
        Some((400, "Bad Request", "malformed header line".into()))
    } else if let Some(missing) = [("From", "f"), ("To", "t"), ("Call-ID", "i"), ("CSeq", "")]
        .iter()
        .find(|(n, c)| p.one(n, if c.is_empty() { n } else { c }).is_none())
    {
        Some((400, "Bad Request", format!("missing {} header", missing.0)))
    } else if !cseq_ok(p.one("CSeq", "CSeq").unwrap_or_default(), method) {
        Some((400, "Bad Request", "malformed CSeq".into()))
    } else if let Some(cl) = p.one("Content-Length", "l") {
        match cl.parse::<usize>() {
            Err(_) => Some((400, "Bad Request", "malformed Content-Length".into())),
            Ok(n) if n > p.body_len => {
                Some((400, "Bad Request", format!("Content-Length {n} but {} body bytes", p.body_len)))
            }
            Ok(_) => None,
        }
    } else {
        None
    };
    let fault = fault.or_else(|| super::syntax::check_request(uri, &p.headers).err().map(|e| (400, "Bad Request", e)));
    let fault = fault.or_else(|| {
        if !KNOWN_METHODS.contains(&method) {
            Some((501, "Not Implemented", format!("method {method}")))
        } else if p.one("Max-Forwards", "Max-Forwards").is_some_and(|m| m.trim() == "0") && method != "OPTIONS" {
            Some((483, "Too Many Hops", "Max-Forwards 0".into()))
        } else {
            None
        }
    });
    // RFC 2543 peers send no From tag, which the stack needs to match transactions and
    // dialogs: one is derived from the Call-ID and From (the same for every request of the
    // call) and taken out again of what is sent back ([`without_derived_tags`]).
    let mut headers = p.headers.clone();
    let tagged;
    if let Some(from) = headers.iter_mut().find(|(n, _)| n.eq_ignore_ascii_case("From") || n.eq_ignore_ascii_case("f"))
        && !has_tag(from.1)
    {
        tagged = format!("{};tag={}", from.1, derived_tag(p.one("Call-ID", "i").unwrap_or_default(), from.1));
        from.1 = &tagged;
        plain = false;
    }
    match fault {
        None if plain => Verdict::Pass,
        None => Verdict::Rewrite(rewrite(start, &headers, &datagram[head_end.1..])),
        // An ACK is never answered (RFC 3261 section 17.2.1).
        Some((_, _, why)) if method == "ACK" => Verdict::Drop { reason: format!("ACK with {why}") },
        Some((status, text, why)) => {
            Verdict::Reply { status, reason: why.clone(), response: response(&p, status, text, &why) }
        }
    }
}

/// `v` without whitespace next to `/ ; = ,` outside quoted strings and `<...>` (RFC 3261 25.1:
/// SLASH, SEMI, EQUAL and COMMA may carry whitespace around them).
fn tidy(v: &str) -> String {
    const SEPARATORS: [char; 4] = ['/', ';', '=', ','];
    let mut out = String::with_capacity(v.len());
    let mut nesting = super::syntax::Nesting::default();
    for c in v.chars() {
        if nesting.outside() {
            if SEPARATORS.contains(&c) {
                out.truncate(out.trim_end().len());
            } else if c.is_whitespace() && out.ends_with(SEPARATORS) {
                continue;
            }
        }
        nesting.take(c);
        out.push(c);
    }
    out
}

/// The prefix of the From tags derived for RFC 2543 peers.
const DERIVED_TAG: &str = "rfc2543-";

fn has_tag(address: &str) -> bool {
    // The parameters after the URI (after `>`, or the whole addr-spec form).
    let params = address.rsplit_once('>').map_or(address, |(_, p)| p);
    params.split(';').skip(1).any(|p| p.split('=').next().is_some_and(|n| n.trim().eq_ignore_ascii_case("tag")))
}

fn derived_tag(call_id: &str, from: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::hash::DefaultHasher::new();
    (call_id, from).hash(&mut h);
    format!("{DERIVED_TAG}{:016x}", h.finish())
}

/// An outgoing message without the tags derived for RFC 2543 peers, which they never sent (a
/// response's From must be the request's, RFC 3261 8.2.6.2); `None` when it has none.
pub fn without_derived_tags(message: &[u8]) -> Option<Vec<u8>> {
    let needle = format!(";tag={DERIVED_TAG}");
    find(message, needle.as_bytes())?;
    let mut out = Vec::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = find(rest, needle.as_bytes()) {
        out.extend_from_slice(&rest[..i]);
        let tag = &rest[i + needle.len()..];
        let end = tag.iter().position(|b| !b.is_ascii_hexdigit()).unwrap_or(tag.len());
        rest = &tag[end..];
    }
    out.extend_from_slice(rest);
    Some(out)
}

/// The message with one line per header field, `Name: value`, and the empty line; the
/// whitespace the grammar allows around the separators of addresses and Vias taken out.
fn rewrite(start: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    const TIDIED: &[&str] = &["Via", "v", "From", "f", "To", "t", "Contact", "m", "Route", "Record-Route"];
    let mut out = Vec::with_capacity(start.len() + body.len() + 64 * headers.len());
    out.extend_from_slice(start.as_bytes());
    out.extend_from_slice(b"\r\n");
    for (n, v) in headers {
        let v = if TIDIED.iter().any(|t| t.eq_ignore_ascii_case(n)) { tidy(v) } else { v.to_string() };
        out.extend_from_slice(format!("{n}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

fn cseq_ok(cseq: &str, method: &str) -> bool {
    let mut it = cseq.split_whitespace();
    matches!((it.next().map(|n| n.parse::<u32>()), it.next(), it.next()), (Some(Ok(_)), Some(m), None) if m == method)
}

fn response(p: &Parsed, status: u16, text: &str, why: &str) -> Vec<u8> {
    let mut r = format!("SIP/2.0 {status} {text}\r\n");
    for v in p.all("Via", "v") {
        r.push_str(&format!("Via: {v}\r\n"));
    }
    for (name, compact) in [("From", "f"), ("Call-ID", "i"), ("CSeq", "CSeq")] {
        if let Some(v) = p.one(name, compact) {
            r.push_str(&format!("{name}: {v}\r\n"));
        }
    }
    if let Some(to) = p.one("To", "t") {
        let tag = if to.contains(";tag=") { String::new() } else { ";tag=guard".into() };
        r.push_str(&format!("To: {to}{tag}\r\n"));
    }
    if status == 501 || status == 405 {
        r.push_str(&format!("Allow: {}\r\n", super::server::ALLOW));
    }
    let why = why.replace('"', "'");
    r.push_str(&format!("Warning: 399 centralino \"{why}\"\r\nContent-Length: 0\r\n\r\n"));
    r.into_bytes()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Malformed-SIP log lines at most once per source and [`FaultLog::WINDOW`], whatever the
/// fault's text (which names sizes, versions and methods an attacker chooses); what is not
/// logged is counted for a summary. Pure: the caller passes the time.
#[derive(Debug, Default)]
pub struct FaultLog {
    /// When each source was last logged.
    logged: HashMap<IpAddr, Instant>,
    /// Faults not logged since the last summary, and from how many sources (counted up to
    /// [`FaultLog::MAX_SOURCES`]).
    unlogged: u64,
    unlogged_from: HashSet<IpAddr>,
}

impl FaultLog {
    pub const WINDOW: Duration = Duration::from_secs(60);
    pub const MAX_SOURCES: usize = 4096;

    /// A fault from `from`: whether to log it.
    pub fn note(&mut self, from: IpAddr, now: Instant) -> bool {
        if self.logged.len() >= Self::MAX_SOURCES && !self.logged.contains_key(&from) {
            self.logged.retain(|_, at| now.duration_since(*at) < Self::WINDOW);
        }
        let due = self.logged.get(&from).is_none_or(|at| now.duration_since(*at) >= Self::WINDOW);
        if due && self.logged.len() < Self::MAX_SOURCES {
            self.logged.insert(from, now);
            return true;
        }
        self.unlogged += 1;
        if self.unlogged_from.len() < Self::MAX_SOURCES {
            self.unlogged_from.insert(from);
        }
        false
    }

    /// What was not logged since the last summary (faults, sources), if anything; call every
    /// [`FaultLog::WINDOW`].
    pub fn summary(&mut self, now: Instant) -> Option<(u64, usize)> {
        self.logged.retain(|_, at| now.duration_since(*at) < Self::WINDOW);
        let sources = std::mem::take(&mut self.unlogged_from).len();
        (self.unlogged > 0).then(|| (std::mem::take(&mut self.unlogged), sources))
    }
}

/// Malformed datagrams seen, for the metrics.
#[derive(Debug, Default)]
pub struct FaultCounts {
    /// Answered with an error response.
    pub answered: AtomicU64,
    /// Dropped unanswered.
    pub dropped: AtomicU64,
}

/// A UDP socket that hands rsipstack only what [`inspect`] passes.
pub struct GuardedSocket {
    inner: tokio::net::UdpSocket,
    log: Arc<Mutex<FaultLog>>,
    counts: Arc<FaultCounts>,
    /// A full-size receive buffer, so oversized datagrams are seen whole, not truncated.
    /// Only the stack's one receive loop uses it: the lock is never contended.
    big: tokio::sync::Mutex<Vec<u8>>,
}

impl GuardedSocket {
    /// Guard `inner`, counting faults in `counts`; the log's summary is written every minute
    /// until `cancel`.
    pub fn new(
        inner: tokio::net::UdpSocket,
        counts: Arc<FaultCounts>,
        cancel: tokio_util::sync::CancellationToken,
    ) -> Self {
        let log = Arc::new(Mutex::new(FaultLog::default()));
        let summarised = Arc::clone(&log);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FaultLog::WINDOW);
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tick.tick() => {
                        let summary = summarised.lock().unwrap_or_else(|e| e.into_inner()).summary(Instant::now());
                        if let Some((faults, sources)) = summary {
                            warn!(faults, sources, "malformed SIP not logged in the last minute");
                        }
                    }
                }
            }
        });
        Self { inner, log, counts, big: tokio::sync::Mutex::new(vec![0u8; 65536]) }
    }

    fn fault(&self, from: SocketAddr, what: &str, answered: bool) {
        let count = if answered { &self.counts.answered } else { &self.counts.dropped };
        count.fetch_add(1, Ordering::Relaxed);
        if self.log.lock().unwrap_or_else(|e| e.into_inner()).note(from.ip(), Instant::now()) {
            warn!(%from, fault = what, "malformed SIP (further faults from this address are summarised for a minute)");
        }
    }
}

#[async_trait::async_trait]
impl rsipstack::platform::net::UdpSocket for GuardedSocket {
    async fn recv_from(&self, buf: &mut [u8]) -> rsipstack::Result<(usize, SocketAddr)> {
        let mut big = self.big.lock().await;
        loop {
            let (n, from) = self.inner.recv_from(&mut big).await?;
            let data = &big[..n.min(MAX_DATAGRAM)];
            match inspect(data, n) {
                Verdict::Pass if n <= buf.len() => {
                    buf[..n].copy_from_slice(&big[..n]);
                    return Ok((n, from));
                }
                Verdict::Pass => self.fault(from, "datagram larger than the stack's buffer", false),
                Verdict::Rewrite(message) if message.len() <= buf.len() => {
                    buf[..message.len()].copy_from_slice(&message);
                    return Ok((message.len(), from));
                }
                Verdict::Rewrite(_) => self.fault(from, "datagram larger than the stack's buffer", false),
                Verdict::Reply { status, reason, response } => {
                    self.fault(from, &format!("{status}: {reason}"), true);
                    let _ = self.inner.send_to(&response, from).await;
                }
                Verdict::Drop { reason } => self.fault(from, &reason, false),
            }
        }
    }

    async fn send_to(&self, buf: &[u8], addr: SocketAddr) -> rsipstack::Result<usize> {
        match without_derived_tags(buf) {
            Some(message) => self.inner.send_to(&message, addr).await.map(|_| buf.len()).map_err(Into::into),
            None => Ok(self.inner.send_to(buf, addr).await?),
        }
    }

    fn local_addr(&self) -> rsipstack::Result<SocketAddr> {
        Ok(self.inner.local_addr()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "OPTIONS sip:803164@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:803164@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";

    fn status(v: &Verdict) -> Option<u16> {
        match v {
            Verdict::Reply { status, .. } => Some(*status),
            _ => None,
        }
    }

    #[test]
    fn good_requests_and_responses_pass() {
        assert_eq!(inspect(OK.as_bytes(), OK.len()), Verdict::Pass);
        assert_eq!(inspect(b"SIP/2.0 200 OK\r\nVia: x\r\n\r\n", 24), Verdict::Pass);
        assert_eq!(inspect(b"\r\n\r\n", 4), Verdict::Pass);
    }

    #[test]
    fn faults_get_the_rfc_answer() {
        let cases = [
            (OK.replace("SIP/2.0\r\nVia", "SIP/3.0\r\nVia"), 505),
            (OK.replace("OPTIONS sip", "FOO sip").replace("1 OPTIONS", "1 FOO"), 501),
            (OK.replace("Call-ID: c1\r\n", ""), 400),
            (OK.replace("CSeq: 1 OPTIONS", "CSeq: x OPTIONS"), 400),
            (OK.replace("CSeq: 1 OPTIONS", "CSeq: 1 INVITE"), 400),
            (OK.replace("Content-Length: 0", "Content-Length: 50"), 400),
            (OK.replace("Content-Length: 0", "Content-Length: ten"), 400),
            (OK.replace("OPTIONS sip:803164@127.0.0.1 SIP/2.0", "OPTIONS  SIP/2.0"), 400),
            (OK.replace("OPTIONS", "INFO").replace("Max-Forwards: 70", "Max-Forwards: 0"), 483),
        ];
        for (msg, want) in cases {
            let v = inspect(msg.as_bytes(), msg.len());
            assert_eq!(status(&v), Some(want), "{msg}");
            let Verdict::Reply { response, .. } = v else { unreachable!() };
            let text = String::from_utf8(response).unwrap();
            assert!(text.starts_with(&format!("SIP/2.0 {want} ")), "{text}");
            assert!(text.contains("Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\n"), "{text}");
            assert!(text.ends_with("Content-Length: 0\r\n\r\n"));
        }
        let huge = format!("{}X-Pad: {}\r\n\r\n", OK.trim_end(), "a".repeat(9000));
        assert_eq!(status(&inspect(&huge.as_bytes()[..MAX_DATAGRAM], huge.len())), Some(513));
    }

    #[test]
    fn tidying_takes_out_only_the_optional_whitespace() {
        assert_eq!(
            tidy(
                "SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8  , SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239"
            ),
            "SIP/2.0/TCP     spindle.example.com;branch=z9hG4bK9ikj8,SIP/2.0/UDP  192.168.255.111;branch=z9hG4bK30239"
        );
        assert_eq!(
            tidy("\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com> ; tag = 98asjd8"),
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>;tag=98asjd8"
        );
        assert_eq!(tidy("\"a ; b = c\" <sip:x;y=z>"), "\"a ; b = c\" <sip:x;y=z>");
    }

    #[test]
    fn an_rfc_2543_from_gets_a_tag_that_goes_again_on_the_way_out() {
        let old = OK.replace("From: <sip:a@b>;tag=1", "From: <sip:a@b>");
        let Verdict::Rewrite(m) = inspect(old.as_bytes(), old.len()) else { panic!("rewritten") };
        let m = String::from_utf8(m).unwrap();
        let from = m.lines().find(|l| l.starts_with("From:")).unwrap();
        assert!(from.starts_with("From: <sip:a@b>;tag=rfc2543-"), "{from}");
        let again = inspect(old.as_bytes(), old.len());
        assert_eq!(again, Verdict::Rewrite(m.clone().into_bytes()), "the same tag for every request of the call");
        let reply = format!("SIP/2.0 200 OK\r\n{from}\r\nTo: <sip:803164@127.0.0.1>;tag=x\r\n\r\n");
        let sent = String::from_utf8(without_derived_tags(reply.as_bytes()).unwrap()).unwrap();
        assert!(sent.contains("From: <sip:a@b>\r\n") && sent.contains(";tag=x"), "{sent}");
        assert_eq!(without_derived_tags(OK.as_bytes()), None);
        assert_eq!(inspect(OK.as_bytes(), OK.len()), Verdict::Pass, "tagged: untouched");
    }

    #[test]
    fn what_cannot_be_answered_is_dropped() {
        for msg in [
            OK.replace("Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\n", ""),
            "garbage without headers".into(),
            OK.replace("OPTIONS", "ACK").replace("Call-ID: c1\r\n", ""),
        ] {
            assert!(matches!(inspect(msg.as_bytes(), msg.len()), Verdict::Drop { .. }), "{msg}");
        }
        assert!(matches!(inspect(&[0xff, 0xfe, b'\r', b'\n', b'\r', b'\n'], 6), Verdict::Drop { .. }));
    }

    #[test]
    fn the_fault_log_writes_one_line_per_source_and_minute_and_sums_up_the_rest() {
        let mut log = FaultLog::default();
        let t0 = Instant::now();
        let (a, b) = (IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2]));
        assert!(log.note(a, t0));
        assert!(log.note(b, t0));
        // 42 365 more from a in ten seconds, with whatever fault text: none logged.
        assert!((0..42_365).all(|i| !log.note(a, t0 + Duration::from_micros(i * 236))));
        assert_eq!(log.summary(t0 + Duration::from_secs(10)), Some((42_365, 1)));
        assert_eq!(log.summary(t0 + Duration::from_secs(20)), None, "nothing new");
        assert!(!log.note(a, t0 + Duration::from_secs(59)));
        assert!(log.note(a, t0 + Duration::from_secs(60)), "a minute later, one more line");
        // Spoofed sources by the thousand: the map stays bounded, the rest is summed up.
        let t1 = t0 + Duration::from_secs(61);
        let logged = (0..10_000u32).filter(|i| log.note(IpAddr::from((u128::from(*i) + 1).to_be_bytes()), t1)).count();
        assert!(logged < FaultLog::MAX_SOURCES);
        assert!(log.logged.len() <= FaultLog::MAX_SOURCES);
        let (faults, sources) = log.summary(t1).unwrap();
        assert_eq!(faults as usize, 10_000 + 1 - logged);
        assert!(sources <= FaultLog::MAX_SOURCES);
    }
}
