//! SIP digest authentication on the server side (RFC 3261 section 22, RFC 7616, RFC 8760):
//! challenges offering SHA-256 and MD5, parsing of `Authorization`, checking a response against
//! the stored HA1, and nonces that expire and cannot be replayed. Pure: the caller passes the
//! time.
//!
//! Written here rather than taken from rsipstack: its typed `Authorization` keeps the nonce
//! count in a `u8` (a phone's 256th request with one nonce fails to parse) and refuses unknown
//! parameters; the server side of digest is small and is the part that must be exact.

use crate::config::credentials::hex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub use crate::config::credentials::Algorithm;

/// An `Authorization` header's digest parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub realm: String,
    pub nonce: String,
    pub uri: String,
    pub response: String,
    pub algorithm: Algorithm,
    pub qop: Option<String>,
    pub cnonce: Option<String>,
    pub nc: Option<u32>,
}

/// Parse `Digest k=v, k="v", ...`; `None` if it is not a usable digest header.
pub fn parse_authorization(value: &str) -> Option<Credentials> {
    let rest = value.trim();
    let (scheme, params) = rest.split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("digest") {
        return None;
    }
    let params = parse_params(params)?;
    let get = |k: &str| params.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.clone());
    let algorithm = match get("algorithm") {
        None => Algorithm::Md5,
        Some(a) => Algorithm::parse(&a)?,
    };
    let nc = match get("nc") {
        None => None,
        Some(n) if n.len() == 8 => Some(u32::from_str_radix(&n, 16).ok()?),
        Some(_) => return None,
    };
    Some(Credentials {
        username: get("username")?,
        realm: get("realm")?,
        nonce: get("nonce")?,
        uri: get("uri")?,
        response: get("response")?.to_ascii_lowercase(),
        algorithm,
        qop: get("qop"),
        cnonce: get("cnonce"),
        nc,
    })
}

/// `k=v` pairs separated by commas, values quoted (with `\` escapes) or bare tokens.
fn parse_params(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            return Some(out);
        }
        let name: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        chars.next_if_eq(&'=')?;
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let value = if chars.next_if_eq(&'"').is_some() {
            let mut v = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => v.push(chars.next()?),
                    c => v.push(c),
                }
            }
            v
        } else {
            std::iter::from_fn(|| chars.next_if(|c| *c != ',' && !c.is_whitespace())).collect()
        };
        if name.is_empty() {
            return None;
        }
        out.push((name, value));
    }
}

/// The response a client with `ha1` must send (RFC 7616 section 3.4.1; without qop, RFC 2069).
pub fn expected_response(ha1: &str, method: &str, c: &Credentials) -> String {
    let ha2 = c.algorithm.hash(&format!("{method}:{}", c.uri));
    match (&c.qop, &c.cnonce, c.nc) {
        (Some(qop), Some(cnonce), Some(nc)) => {
            c.algorithm.hash(&format!("{ha1}:{}:{nc:08x}:{cnonce}:{qop}:{ha2}", c.nonce))
        }
        _ => c.algorithm.hash(&format!("{ha1}:{}:{ha2}", c.nonce)),
    }
}

/// Comparison that takes the same time wherever the strings differ (for secrets and hashes).
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What became of a nonce presented by a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonceCheck {
    Fresh,
    /// Ours but too old: challenge again with `stale=true` (the password was right).
    Stale,
    /// Not ours, forged, or a nonce count already used (a replay).
    Invalid,
    /// Ours, but it already served [`MAX_NONCE_FAILURES`] wrong passwords.
    Spent,
}

/// Wrong passwords one nonce takes before it is refused: whoever guesses must come back for
/// a new challenge (and a phone with a wrong password fails within a few attempts anyway).
pub const MAX_NONCE_FAILURES: u32 = 3;

/// What is remembered of a nonce once used.
#[derive(Debug, Clone, Copy)]
struct Used {
    /// The highest nonce count seen (0 for a nonce used without qop: single use).
    nc: u32,
    failures: u32,
}

/// Issues nonces and remembers, for each live one, the highest nonce count used.
///
/// A nonce is `<issue time, hex>.<random, hex>.<tag>`, the tag a SHA-256 over a secret of this
/// process, the time and the random part: nonces need no storage until used, and one from
/// another process or a forged one is refused.
#[derive(Debug)]
pub struct Nonces {
    secret: [u8; 32],
    lifetime: Duration,
    used: HashMap<String, Used>,
}

impl Nonces {
    pub fn new(lifetime: Duration) -> Self {
        Self { secret: rand::random(), lifetime, used: HashMap::new() }
    }

    fn tag(&self, time: u64, random: u64) -> String {
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(time.to_be_bytes());
        h.update(random.to_be_bytes());
        hex(&h.finalize()[..16])
    }

    /// A new nonce issued at `now`.
    pub fn issue(&self, now: SystemTime) -> String {
        let time = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let random: u64 = rand::random();
        format!("{time:x}.{random:016x}.{}", self.tag(time, random))
    }

    /// Check a nonce and its count; a fresh one is then used up to `nc`.
    pub fn check(&mut self, nonce: &str, nc: Option<u32>, now: SystemTime) -> NonceCheck {
        let mut parts = nonce.split('.');
        let (Some(t), Some(r), Some(tag), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return NonceCheck::Invalid;
        };
        let (Ok(time), Ok(random)) = (u64::from_str_radix(t, 16), u64::from_str_radix(r, 16)) else {
            return NonceCheck::Invalid;
        };
        if !same(tag, &self.tag(time, random)) {
            return NonceCheck::Invalid;
        }
        let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        if now_s.saturating_sub(time) > self.lifetime.as_secs() || time > now_s + 5 {
            self.used.remove(nonce);
            return NonceCheck::Stale;
        }
        let count = nc.unwrap_or(0);
        match self.used.get(nonce) {
            Some(used) if used.failures >= MAX_NONCE_FAILURES => return NonceCheck::Spent,
            // Without qop a nonce serves once; with it, each count once and increasing.
            Some(used) if nc.is_none() || count <= used.nc => return NonceCheck::Invalid,
            _ => {}
        }
        if nc.is_some() && count == 0 {
            return NonceCheck::Invalid;
        }
        self.used.entry(nonce.to_string()).or_insert(Used { nc: 0, failures: 0 }).nc = count;
        NonceCheck::Fresh
    }

    /// A wrong password came with `nonce` (just checked fresh).
    pub fn failed(&mut self, nonce: &str) {
        if let Some(used) = self.used.get_mut(nonce) {
            used.failures += 1;
        }
    }

    /// Forget nonces past their lifetime (call now and then).
    pub fn prune(&mut self, now: SystemTime) {
        let now_s = now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
        let lifetime = self.lifetime.as_secs();
        self.used.retain(|n, _| {
            let t = n.split('.').next().and_then(|t| u64::from_str_radix(t, 16).ok()).unwrap_or(0);
            now_s.saturating_sub(t) <= lifetime
        });
    }

    /// Nonces remembered now.
    pub fn remembered(&self) -> usize {
        self.used.len()
    }
}

/// The `WWW-Authenticate` values of a challenge, one per algorithm in order of preference
/// (RFC 8760 section 2.4: clients take the first they support).
pub fn challenges(algorithms: &[Algorithm], realm: &str, nonce: &str, stale: bool) -> Vec<String> {
    algorithms
        .iter()
        .map(|a| {
            let stale = if stale { ", stale=true" } else { "" };
            format!("Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm={}, qop=\"auth\"{stale}", a.name())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::credentials::{ha1_md5, ha1_sha256};

    /// RFC 7616 section 3.9.1, which gives the expected responses for both algorithms.
    fn rfc7616(algorithm: &str, response: &str) -> String {
        format!(
            "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
             algorithm={algorithm}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
             cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, response=\"{response}\", \
             opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        )
    }

    #[test]
    fn responses_match_the_rfc_7616_examples() {
        let (realm, password) = ("http-auth@example.org", "Circle of Life");
        let md5 = parse_authorization(&rfc7616("MD5", "8ca523f5e9506fed4657c9700eebdbec")).unwrap();
        assert_eq!((md5.algorithm, md5.nc, md5.qop.as_deref()), (Algorithm::Md5, Some(1), Some("auth")));
        assert_eq!(expected_response(&ha1_md5("Mufasa", realm, password), "GET", &md5), md5.response);
        let sha = parse_authorization(&rfc7616(
            "SHA-256",
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
        ))
        .unwrap();
        assert_eq!(sha.algorithm, Algorithm::Sha256);
        assert_eq!(expected_response(&ha1_sha256("Mufasa", realm, password), "GET", &sha), sha.response);
        assert_ne!(expected_response(&ha1_sha256("Mufasa", realm, "wrong"), "GET", &sha), sha.response);
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert!(parse_authorization("Basic dXNlcjpwYXNz").is_none());
        assert!(parse_authorization("Digest username=\"a\"").is_none(), "missing fields");
        assert!(parse_authorization("Digest username=\"a, realm=\"r\"").is_none(), "unclosed quote");
        let ok = "Digest username=\"a\", realm=\"r\", nonce=\"n\", uri=\"sip:x\", response=\"AB\"";
        assert_eq!(parse_authorization(ok).unwrap().response, "ab");
        assert!(parse_authorization(&format!("{ok}, algorithm=SHA-512")).is_none(), "unsupported algorithm");
        assert!(parse_authorization(&format!("{ok}, qop=auth, cnonce=\"c\", nc=1")).is_none(), "nc is 8 hex digits");
        let big = parse_authorization(&format!("{ok}, qop=auth, cnonce=\"c\", nc=000001ff")).unwrap();
        assert_eq!(big.nc, Some(0x1ff), "counts past 255");
    }

    #[test]
    fn nonces_expire_and_cannot_be_replayed() {
        let mut n = Nonces::new(Duration::from_secs(300));
        let t0 = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let nonce = n.issue(t0);
        assert_eq!(n.check(&nonce, Some(1), t0), NonceCheck::Fresh);
        assert_eq!(n.check(&nonce, Some(1), t0), NonceCheck::Invalid, "same count: a replay");
        assert_eq!(n.check(&nonce, Some(2), t0), NonceCheck::Fresh);
        assert_eq!(n.check(&nonce, Some(0), t0), NonceCheck::Invalid);
        let once = n.issue(t0);
        assert_eq!(n.check(&once, None, t0), NonceCheck::Fresh);
        assert_eq!(n.check(&once, None, t0), NonceCheck::Invalid, "without qop: single use");
        let later = t0 + Duration::from_secs(301);
        assert_eq!(n.check(&n.issue(t0), Some(1), later), NonceCheck::Stale);
        let last = if nonce.ends_with('0') { '1' } else { '0' };
        let forged = format!("{}{last}", &nonce[..nonce.len() - 1]);
        assert_eq!(n.check(&forged, Some(9), t0), NonceCheck::Invalid);
        assert_eq!(
            n.check(&Nonces::new(Duration::from_secs(300)).issue(t0), Some(1), t0),
            NonceCheck::Invalid,
            "another process's"
        );
        assert_eq!(n.check("garbage", Some(1), t0), NonceCheck::Invalid);
        assert_eq!(n.remembered(), 2);
        // Wrong passwords spend a nonce, whatever the next counts.
        for _ in 0..MAX_NONCE_FAILURES {
            n.failed(&nonce);
        }
        assert_eq!(n.check(&nonce, Some(100), t0), NonceCheck::Spent);
        n.prune(later);
        assert_eq!(n.remembered(), 0);
    }

    #[test]
    fn challenges_offer_sha256_first() {
        let c = challenges(&[Algorithm::Sha256, Algorithm::Md5], "centralino", "abc", true);
        assert_eq!(c[0], "Digest realm=\"centralino\", nonce=\"abc\", algorithm=SHA-256, qop=\"auth\", stale=true");
        assert!(c[1].contains("algorithm=MD5"));
    }
}
