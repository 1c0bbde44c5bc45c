//! The registrar for operators' phones (RFC 3261 section 10): REGISTER challenged with digest
//! authentication against the configured HA1 hashes, one binding per operator that expires
//! unless refreshed. Every password check is first admitted by the [`PasswordGuard`] shared
//! with the HTTP API; forged, replayed or spent nonces get a fresh challenge and count against
//! nobody. Pure: the host passes the request's parts, the operators' hashes, the guard and the
//! time, and sends the [`Reply`].

use super::digest::{self, Algorithm, NonceCheck, Nonces};
use crate::password_guard::{Channel, PasswordGuard};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, SystemTime};

/// Registrations shorter than this are refused with 423 (RFC 3261 section 10.3 step 7).
pub const MIN_EXPIRES: u32 = 60;
/// Longest registration granted; longer requests are shortened.
pub const MAX_EXPIRES: u32 = 3600;
/// How long a nonce may be used.
const NONCE_LIFETIME: Duration = Duration::from_secs(300);

/// An operator's stored digest hashes.
#[derive(Debug, Clone)]
pub struct Hashes {
    pub md5: String,
    pub sha256: String,
}

impl Hashes {
    /// The hashes of operator `user` in the configuration.
    pub fn of(config: &crate::config::Config, user: &str) -> Option<Hashes> {
        config
            .operator(user)
            .map(|o| Hashes { md5: o.ha1_md5.get_ref().clone(), sha256: o.ha1_sha256.get_ref().clone() })
    }
}

/// The Contact of a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactField {
    /// `Contact: *` (with `Expires: 0`): remove every binding.
    Star,
    /// A phone's address, with its `expires` parameter if any.
    Uri { uri: String, expires: Option<u32> },
}

/// What the registrar needs of a REGISTER.
#[derive(Debug, Clone)]
pub struct Register<'a> {
    /// The user part of the To URI: the address being registered.
    pub to_user: &'a str,
    pub authorization: Option<&'a str>,
    pub contact: Option<ContactField>,
    pub expires: Option<u32>,
    /// Where the request came from (a phone, or the proxy in front): calls to the phone go
    /// there.
    pub source: SocketAddr,
    /// Who sent it: the source, or behind a trusted proxy the proxy's client. Wrong passwords
    /// count against this address.
    pub client: IpAddr,
    /// `udp` or `tcp`.
    pub transport: &'a str,
}

/// An operator's phone, where calls for them go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub contact: String,
    pub expires_at: SystemTime,
    pub source: SocketAddr,
    pub transport: String,
}

/// The answer to a REGISTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// Extra headers, `(name, value)`.
    pub headers: Vec<(&'static str, String)>,
    /// The operator whose binding appeared (true) or went (false).
    pub change: Option<(String, bool)>,
    /// For the log: why, when refused.
    pub reason: &'static str,
}

impl Reply {
    fn new(status: u16, headers: Vec<(&'static str, String)>, reason: &'static str) -> Reply {
        Reply { status, headers, change: None, reason }
    }
}

/// Bindings and nonces.
#[derive(Debug)]
pub struct Registrar {
    realm: String,
    /// Offered in this order; answers with another algorithm are refused.
    algorithms: Vec<Algorithm>,
    nonces: Nonces,
    bindings: HashMap<String, Binding>,
}

impl Registrar {
    pub fn new(realm: &str, algorithms: &[Algorithm]) -> Self {
        Self {
            realm: realm.to_string(),
            algorithms: algorithms.to_vec(),
            nonces: Nonces::new(NONCE_LIFETIME),
            bindings: HashMap::new(),
        }
    }

    pub fn binding(&self, user: &str) -> Option<&Binding> {
        self.bindings.get(user)
    }

    pub fn bindings(&self) -> impl Iterator<Item = (&String, &Binding)> {
        self.bindings.iter()
    }

    /// Handle a REGISTER; `hashes` looks an operator up by user name.
    pub fn register(
        &mut self,
        req: &Register,
        hashes: impl Fn(&str) -> Option<Hashes>,
        guard: &mut PasswordGuard,
        now: SystemTime,
    ) -> Reply {
        let user = match self.authenticate("REGISTER", req.authorization, req.client, hashes, guard, now) {
            Ok(user) => user,
            Err(reply) => return reply,
        };
        if user != req.to_user {
            // The password was right: nothing was guessed, but the request is refused.
            return Reply::new(403, vec![], "registering another user's address");
        }
        self.bind(&user, req, now)
    }

    /// Check the digest credentials of any request (`method` enters the response, RFC 7616):
    /// the authenticated user, or the reply to send (a challenge, 400, or 403).
    pub fn authenticate(
        &mut self,
        method: &str,
        authorization: Option<&str>,
        client: IpAddr,
        hashes: impl Fn(&str) -> Option<Hashes>,
        guard: &mut PasswordGuard,
        now: SystemTime,
    ) -> Result<String, Reply> {
        let Some(auth) = authorization else {
            return Err(Reply::new(401, self.challenge(false, now), "challenge"));
        };
        // Another scheme than Digest is one we do not know: challenged, not refused (RFC 3261
        // 22.1, RFC 4475 3.3.7).
        let scheme = auth.trim_start().split([' ', '\t']).next().unwrap_or_default();
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(Reply::new(401, self.challenge(false, now), "unknown authorization scheme"));
        }
        let Some(creds) = digest::parse_authorization(auth) else {
            return Err(Reply::new(400, vec![], "malformed Authorization"));
        };
        if creds.realm != self.realm || !self.algorithms.contains(&creds.algorithm) {
            return Err(Reply::new(401, self.challenge(false, now), "another realm or algorithm"));
        }
        // A nonce that is not ours, replayed or spent proves nothing about the password and may
        // be forged by anyone: a fresh challenge, counted against nobody.
        let nonce = self.nonces.check(&creds.nonce, creds.nc, now);
        match nonce {
            NonceCheck::Fresh | NonceCheck::Stale => {}
            NonceCheck::Invalid => {
                return Err(Reply::new(401, self.challenge(false, now), "unknown or replayed nonce"));
            }
            NonceCheck::Spent => {
                return Err(Reply::new(401, self.challenge(false, now), "nonce spent by wrong passwords"));
            }
        }
        let known = hashes(&creds.username);
        let account = known.as_ref().map(|_| creds.username.as_str());
        if let Err(locked) = guard.admit(account, client, now) {
            let headers = vec![
                ("Retry-After", locked.retry_after.as_secs().to_string()),
                (
                    "Warning",
                    format!(
                        "399 centralino \"too many wrong passwords: try again in {} s\"",
                        locked.retry_after.as_secs()
                    ),
                ),
            ];
            return Err(Reply::new(403, headers, "locked out after wrong passwords"));
        }
        let right = known.as_ref().is_some_and(|h| {
            let ha1 = match creds.algorithm {
                Algorithm::Md5 => &h.md5,
                Algorithm::Sha256 => &h.sha256,
            };
            digest::same(&digest::expected_response(ha1, method, &creds), &creds.response)
        });
        if !right {
            guard.failed(account, client, Channel::Sip, now);
            if nonce == NonceCheck::Fresh {
                self.nonces.failed(&creds.nonce);
            }
            let reason = if known.is_none() { "unknown user" } else { "wrong password" };
            return Err(Reply::new(403, vec![], reason));
        }
        guard.succeeded(&creds.username, client, now);
        if nonce == NonceCheck::Stale {
            // The right password on an old nonce: challenge again and say so, the phone retries at once.
            return Err(Reply::new(401, self.challenge(true, now), "stale nonce"));
        }
        Ok(creds.username)
    }

    /// An authenticated REGISTER: query, add, refresh or remove the binding.
    fn bind(&mut self, user: &str, req: &Register, now: SystemTime) -> Reply {
        let mut reply = Reply::new(200, vec![], "");
        match &req.contact {
            None => {}
            Some(ContactField::Star) => {
                if req.expires != Some(0) {
                    return Reply { status: 400, reason: "Contact: * without Expires: 0", ..reply };
                }
                if self.bindings.remove(user).is_some() {
                    reply.change = Some((user.to_string(), false));
                }
            }
            Some(ContactField::Uri { uri, expires }) => {
                let asked = expires.or(req.expires).unwrap_or(MAX_EXPIRES);
                if asked == 0 {
                    if self.bindings.get(user).is_some_and(|b| &b.contact == uri)
                        && self.bindings.remove(user).is_some()
                    {
                        reply.change = Some((user.to_string(), false));
                    }
                } else if asked < MIN_EXPIRES {
                    let headers = vec![("Min-Expires", MIN_EXPIRES.to_string())];
                    return Reply { status: 423, headers, reason: "interval too brief", ..reply };
                } else {
                    let granted = asked.min(MAX_EXPIRES);
                    let binding = Binding {
                        contact: uri.clone(),
                        expires_at: now + Duration::from_secs(granted.into()),
                        source: req.source,
                        transport: req.transport.to_string(),
                    };
                    let new = self.bindings.insert(user.to_string(), binding).is_none();
                    if new {
                        reply.change = Some((user.to_string(), true));
                    }
                }
            }
        }
        if let Some(b) = self.bindings.get(user) {
            let left = b.expires_at.duration_since(now).unwrap_or_default().as_secs();
            reply.headers.push(("Contact", format!("<{}>;expires={left}", b.contact)));
        }
        reply
    }

    /// Remove the bindings past their time; returns the operators who lost theirs.
    pub fn expire(&mut self, now: SystemTime) -> Vec<String> {
        let gone: Vec<String> =
            self.bindings.iter().filter(|(_, b)| b.expires_at <= now).map(|(u, _)| u.clone()).collect();
        for u in &gone {
            self.bindings.remove(u);
        }
        self.nonces.prune(now);
        gone
    }

    fn challenge(&self, stale: bool, now: SystemTime) -> Vec<(&'static str, String)> {
        let nonce = self.nonces.issue(now);
        digest::challenges(&self.algorithms, &self.realm, &nonce, stale)
            .into_iter()
            .map(|c| ("WWW-Authenticate", c))
            .collect()
    }
}

/// Parse a Contact header value: `*`, `<uri>;params` (display name allowed) or `uri;params`.
pub fn parse_contact(value: &str) -> Option<ContactField> {
    let v = value.trim();
    if v == "*" {
        return Some(ContactField::Star);
    }
    let (uri, params) = match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => (&v[a + 1..b], &v[b + 1..]),
        (None, None) => v.split_once(';').map_or((v, ""), |(u, p)| (u, p)),
        _ => return None,
    };
    if uri.is_empty() {
        return None;
    }
    let expires = params.split(';').find_map(|p| {
        let (k, val) = p.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("expires").then(|| val.trim().parse().ok())?
    });
    Some(ContactField::Uri { uri: uri.trim().to_string(), expires })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::credentials::{ha1_md5, ha1_sha256};
    use std::time::UNIX_EPOCH;

    const REALM: &str = "centralino.test";

    fn hashes(user: &str) -> Option<Hashes> {
        (user == "mrossi")
            .then(|| Hashes { md5: ha1_md5("mrossi", REALM, "secret"), sha256: ha1_sha256("mrossi", REALM, "secret") })
    }

    fn req<'a>(auth: Option<&'a str>, contact: &str, expires: Option<u32>) -> Register<'a> {
        Register {
            to_user: "mrossi",
            authorization: auth,
            contact: parse_contact(contact),
            expires,
            source: "127.0.0.1:5070".parse().unwrap(),
            client: [127, 0, 0, 1].into(),
            transport: "udp",
        }
    }

    /// What a phone sends after a challenge.
    fn answer(challenge: &str, user: &str, password: &str, alg: Algorithm, nc: u32) -> String {
        let nonce = challenge.split("nonce=\"").nth(1).unwrap().split('"').next().unwrap();
        let ha1 = alg.hash(&format!("{user}:{REALM}:{password}"));
        let creds = digest::Credentials {
            username: user.into(),
            realm: REALM.into(),
            nonce: nonce.into(),
            uri: "sip:centralino.test".into(),
            response: String::new(),
            algorithm: alg,
            qop: Some("auth".into()),
            cnonce: Some("0a4f113b".into()),
            nc: Some(nc),
        };
        let response = digest::expected_response(&ha1, "REGISTER", &creds);
        format!(
            "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:centralino.test\", \
             response=\"{response}\", algorithm={}, qop=auth, cnonce=\"0a4f113b\", nc={nc:08x}",
            alg.name()
        )
    }

    fn fresh() -> (Registrar, PasswordGuard) {
        (Registrar::new(REALM, &[Algorithm::Sha256, Algorithm::Md5]), PasswordGuard::new(Default::default()))
    }

    fn t(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + s)
    }

    #[test]
    fn challenge_then_register_refresh_and_expire() {
        let (mut r, mut g) = fresh();
        let contact = "\"Mario\" <sip:mrossi@127.0.0.1:5070;transport=udp>;expires=120";
        let first = r.register(&req(None, contact, None), hashes, &mut g, t(0));
        assert_eq!(first.status, 401);
        assert_eq!(first.headers.len(), 2);
        assert!(first.headers[0].1.contains("SHA-256") && first.headers[1].1.contains("MD5"));
        for alg in [Algorithm::Sha256, Algorithm::Md5] {
            let (mut r, mut g) = fresh();
            // A challenge of this registrar, not of the other one.
            let c = r.register(&req(None, contact, None), hashes, &mut g, t(0));
            let challenge = if alg == Algorithm::Sha256 { &c.headers[0].1 } else { &c.headers[1].1 };
            let auth = answer(challenge, "mrossi", "secret", alg, 1);
            let ok = r.register(&req(Some(&auth), contact, None), hashes, &mut g, t(1));
            assert_eq!((ok.status, ok.change.clone()), (200, Some(("mrossi".into(), true))), "{alg:?}");
            assert_eq!(ok.headers, [("Contact", "<sip:mrossi@127.0.0.1:5070;transport=udp>;expires=120".to_string())]);
            assert_eq!(r.binding("mrossi").unwrap().expires_at, t(121));
            // Refresh with the next count: same binding, no change reported.
            let auth = answer(challenge, "mrossi", "secret", alg, 2);
            let again = r.register(&req(Some(&auth), contact, None), hashes, &mut g, t(60));
            assert_eq!((again.status, again.change), (200, None));
            assert!(r.expire(t(179)).is_empty());
            assert_eq!(r.expire(t(180)), ["mrossi"]);
            assert!(r.binding("mrossi").is_none());
        }
    }

    #[test]
    fn wrong_passwords_unknown_users_and_replays_are_refused() {
        let (mut r, mut g) = fresh();
        let contact = "<sip:mrossi@127.0.0.1:5070>";
        let c = r.register(&req(None, contact, None), hashes, &mut g, t(0)).headers[0].1.clone();
        let try_password = |r: &mut Registrar, g: &mut PasswordGuard, user, password, nc, at| {
            r.register(&req(Some(&answer(&c, user, password, Algorithm::Sha256, nc)), contact, None), hashes, g, at)
        };
        let wrong = try_password(&mut r, &mut g, "mrossi", "guess", 1, t(0));
        assert_eq!((wrong.status, wrong.reason), (403, "wrong password"));
        let unknown = try_password(&mut r, &mut g, "nobody", "x", 2, t(0));
        assert_eq!((unknown.status, unknown.reason), (403, "unknown user"));
        // The right answer, then the same message again (a replay: a challenge, not a failure).
        assert_eq!(try_password(&mut r, &mut g, "mrossi", "secret", 3, t(0)).status, 200);
        let replay = try_password(&mut r, &mut g, "mrossi", "secret", 3, t(0));
        assert_eq!((replay.status, replay.reason), (401, "unknown or replayed nonce"));
        // A third wrong password spends the nonce: even the right one gets a new challenge.
        try_password(&mut r, &mut g, "mrossi", "guess", 4, t(1));
        let spent = try_password(&mut r, &mut g, "mrossi", "secret", 5, t(1));
        assert_eq!((spent.status, spent.reason), (401, "nonce spent by wrong passwords"));
        assert_eq!(g.counts().failures[&Channel::Sip], 3);
    }

    #[test]
    fn a_locked_account_is_refused_unchecked_and_forged_nonces_count_for_nothing() {
        let (mut r, mut g) = fresh();
        let contact = "<sip:mrossi@127.0.0.1:5070>";
        let mut attacker = req(None, contact, None);
        attacker.source = "192.0.2.9:5060".parse().unwrap();
        attacker.client = [192, 0, 2, 9].into();
        // Forged nonces by the thousand: fresh challenges, no failure counted.
        let c = r.register(&req(None, contact, None), hashes, &mut g, t(0)).headers[0].1.clone();
        for i in 0..1000 {
            let forged = c.replace("nonce=\"", &format!("nonce=\"{i:x}."));
            let a = answer(&forged, "mrossi", "guess", Algorithm::Sha256, 1);
            let reply = r.register(&Register { authorization: Some(&a), ..attacker.clone() }, hashes, &mut g, t(0));
            assert_eq!(reply.status, 401);
        }
        assert!(g.counts().failures.is_empty());
        // Six wrong passwords (two nonces) lock the account for addresses it never used.
        for round in 0..2 {
            let c = r.register(&attacker, hashes, &mut g, t(1)).headers[0].1.clone();
            for nc in 1..=3 {
                let a = answer(&c, "mrossi", &format!("guess{round}{nc}"), Algorithm::Sha256, nc);
                let reply = r.register(&Register { authorization: Some(&a), ..attacker.clone() }, hashes, &mut g, t(1));
                assert_eq!((reply.status, reply.reason), (403, "wrong password"));
            }
        }
        let c = r.register(&attacker, hashes, &mut g, t(2)).headers[0].1.clone();
        let right = answer(&c, "mrossi", "secret", Algorithm::Sha256, 1);
        let locked = r.register(&Register { authorization: Some(&right), ..attacker.clone() }, hashes, &mut g, t(2));
        assert_eq!((locked.status, locked.reason), (403, "locked out after wrong passwords"));
        assert_eq!(locked.headers[0], ("Retry-After", "59".to_string()));
        assert!(r.binding("mrossi").is_none(), "no binding for the right password inside the lock-out");
        let later = r.register(
            &Register { authorization: Some(&answer(&c, "mrossi", "secret", Algorithm::Sha256, 2)), ..attacker },
            hashes,
            &mut g,
            t(61),
        );
        assert_eq!(later.status, 200, "the lock ended");
    }

    #[test]
    fn stale_nonce_too_short_and_unregister() {
        let (mut r, mut g) = fresh();
        let contact = "<sip:mrossi@127.0.0.1:5070>";
        let c = r.register(&req(None, contact, None), hashes, &mut g, t(0)).headers[0].1.clone();
        let stale = r.register(
            &req(Some(&answer(&c, "mrossi", "secret", Algorithm::Sha256, 1)), contact, None),
            hashes,
            &mut g,
            t(400),
        );
        assert_eq!(stale.status, 401);
        assert!(stale.headers[0].1.contains("stale=true"));
        let c = stale.headers[0].1.clone();
        let brief = r.register(
            &req(Some(&answer(&c, "mrossi", "secret", Algorithm::Sha256, 1)), contact, Some(10)),
            hashes,
            &mut g,
            t(400),
        );
        assert_eq!((brief.status, brief.headers.clone()), (423, vec![("Min-Expires", "60".to_string())]));
        let ok = r.register(
            &req(Some(&answer(&c, "mrossi", "secret", Algorithm::Sha256, 2)), contact, Some(7200)),
            hashes,
            &mut g,
            t(400),
        );
        assert_eq!(ok.status, 200);
        assert!(ok.headers[0].1.ends_with(";expires=3600"), "shortened to the maximum");
        let bye = r.register(
            &req(Some(&answer(&c, "mrossi", "secret", Algorithm::Sha256, 3)), "*", Some(0)),
            hashes,
            &mut g,
            t(401),
        );
        assert_eq!((bye.status, bye.change), (200, Some(("mrossi".into(), false))));
        let mut other = req(Some(""), contact, None);
        other.to_user = "gbianchi";
        other.authorization = None;
        assert_eq!(r.register(&other, hashes, &mut g, t(402)).status, 401);
    }

    #[test]
    fn contacts_are_parsed() {
        assert_eq!(parse_contact(" * "), Some(ContactField::Star));
        assert_eq!(
            parse_contact("sip:a@b:5060;expires=30"),
            Some(ContactField::Uri { uri: "sip:a@b:5060".into(), expires: Some(30) })
        );
        assert_eq!(
            parse_contact("\"A\" <sip:a@b;transport=tcp>;q=0.5;expires=90"),
            Some(ContactField::Uri { uri: "sip:a@b;transport=tcp".into(), expires: Some(90) })
        );
        assert_eq!(parse_contact("<>"), None);
        assert_eq!(parse_contact("<sip:a@b"), None);
    }
}
