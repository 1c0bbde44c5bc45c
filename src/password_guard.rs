//! Limits on password guessing, shared by SIP digest and HTTP sign-in: every password check is
//! asked for first ([`PasswordGuard::admit`]) and its result told after ([`PasswordGuard::failed`],
//! [`PasswordGuard::succeeded`]). Pure: the host passes the time and drains the [`Notice`]s to log.
//!
//! Failures are counted three ways, each with an exponential lock-out and a cap ([`Limit`]):
//! - per **account**, from anywhere: bounds the guesses against one operator however many
//!   addresses the attacker has (about a hundred a day with the defaults);
//! - per **source** address, whatever the account: bounds spraying a few guesses at many accounts;
//! - per **account and source**: bounds a colleague guessing from the genuine user's own address.
//!
//! An account lock must not become a denial of service against its owner, so the account and
//! source locks do not apply at an address where the account signed in or registered
//! successfully within [`Policy::known_for`]: there only the account-and-source lock holds,
//! which the attacker can trip only from that very address. A success resets only that
//! account-and-source count; the account's and the source's counts fade only with time, so
//! succeeding with one's own password buys no guesses at another's (see docs/security.md).

pub mod host;

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How many failures are free, and how long the locks that follow last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Failures before the first lock.
    pub free: u32,
    /// The first lock; each further failure doubles it ...
    pub first_lock: Duration,
    /// ... up to this.
    pub max_lock: Duration,
    /// Failures are forgotten after this long without one.
    pub forget_after: Duration,
}

impl Limit {
    /// The lock after the `failures`-th failure, if any.
    fn lock_after(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.free).filter(|n| *n > 0)?;
        let doubled = self.first_lock.saturating_mul(1u32 << (over - 1).min(20));
        Some(doubled.min(self.max_lock))
    }
}

/// The three limits and how long a successful address stays known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    pub account: Limit,
    pub source: Limit,
    pub account_source: Limit,
    pub known_for: Duration,
}

impl Default for Policy {
    /// 5 free failures per account, then 1, 2, 4, 8 minutes and every 15 minutes after; 20 per
    /// address; counts forgotten after a day without failures; known addresses for a week.
    fn default() -> Self {
        let limit = |free| Limit {
            free,
            first_lock: Duration::from_secs(60),
            max_lock: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(24 * 3600),
        };
        Self {
            account: limit(5),
            source: limit(20),
            account_source: limit(5),
            known_for: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// What a lock is keyed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    Account,
    Source,
    AccountSource,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Account, Scope::Source, Scope::AccountSource];

    pub fn name(self) -> &'static str {
        match self {
            Scope::Account => "account",
            Scope::Source => "source",
            Scope::AccountSource => "account_source",
        }
    }
}

/// Where a password was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Sip,
    Http,
}

impl Channel {
    pub const ALL: [Channel; 2] = [Channel::Sip, Channel::Http];

    pub fn name(self) -> &'static str {
        match self {
            Channel::Sip => "sip",
            Channel::Http => "http",
        }
    }
}

/// A check refused without looking at the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub scope: Scope,
    /// Until the lock ends (rounded up to a second).
    pub retry_after: Duration,
}

/// Something for the log, at most once per account (or source) and [`LOG_WINDOW`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Failures of an account (or, for an unknown user name, of a source) since the last notice.
    Failures { account: Option<String>, source: IpAddr, channel: Channel, count: u32 },
    /// A lock began.
    Locked { scope: Scope, account: Option<String>, source: IpAddr, duration: Duration },
}

/// Failures are logged at most once per key within this window (with the count since).
pub const LOG_WINDOW: Duration = Duration::from_secs(60);
/// Sources tracked at most, and addresses per account; past this, new keys are not tracked
/// (the account limit still holds), and no lock is ever evicted to make room.
pub const MAX_TRACKED: usize = 65_536;
pub const MAX_SOURCES_PER_ACCOUNT: usize = 256;
/// Known addresses kept per account (the most recent).
const KNOWN_PER_ACCOUNT: usize = 8;

/// Failures not yet in the log.
#[derive(Debug, Clone, Copy)]
struct Unlogged {
    logged_at: SystemTime,
    count: u32,
    source: IpAddr,
    channel: Channel,
}

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: SystemTime,
    locked_until: SystemTime,
}

impl Record {
    fn locked(&self, now: SystemTime) -> Option<Duration> {
        let left = self.locked_until.duration_since(now).ok().filter(|d| !d.is_zero())?;
        Some(Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0)))
    }

    fn forgotten(&self, limit: &Limit, now: SystemTime) -> bool {
        self.locked(now).is_none() && since(self.last_failure, now) >= limit.forget_after
    }
}

fn since(then: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

/// Count a failure in `map` (unless it is full and `key` new); the lock it starts, if any.
fn count<K: std::hash::Hash + Eq>(
    map: &mut HashMap<K, Record>,
    key: K,
    limit: &Limit,
    cap: usize,
    now: SystemTime,
) -> Option<Duration> {
    if map.len() >= cap && !map.contains_key(&key) {
        map.retain(|_, r| !r.forgotten(limit, now));
        if map.len() >= cap {
            return None;
        }
    }
    let r = map.entry(key).or_insert(Record { failures: 0, last_failure: now, locked_until: now });
    if r.forgotten(limit, now) {
        r.failures = 0;
    }
    r.failures += 1;
    r.last_failure = now;
    let lock = limit.lock_after(r.failures)?;
    r.locked_until = now + lock;
    Some(lock)
}

fn failures_notice(account: Option<String>, u: &Unlogged) -> Notice {
    Notice::Failures { account, source: u.source, channel: u.channel, count: u.count }
}

/// Running totals, for the metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// Wrong passwords, by channel.
    pub failures: HashMap<Channel, u64>,
    /// Attempts refused unchecked during a lock, by scope.
    pub refused: HashMap<Scope, u64>,
    /// Locks begun, by scope.
    pub locks: HashMap<Scope, u64>,
}

/// Failure counts, locks and known addresses.
#[derive(Debug)]
pub struct PasswordGuard {
    policy: Policy,
    accounts: HashMap<String, Record>,
    sources: HashMap<IpAddr, Record>,
    /// Per account (keyed so that the hot path, a success, looks up without allocating).
    pairs: HashMap<String, HashMap<IpAddr, Record>>,
    /// Per account, the addresses it succeeded from and when last.
    known: HashMap<String, Vec<(IpAddr, SystemTime)>>,
    /// Per account (or source, for unknown user names): when failures were last logged and
    /// those since.
    logged: HashMap<(Option<String>, Option<IpAddr>), Unlogged>,
    notices: VecDeque<Notice>,
    counts: Counts,
}

impl PasswordGuard {
    pub fn new(policy: Policy) -> Self {
        Self {
            policy,
            accounts: HashMap::new(),
            sources: HashMap::new(),
            pairs: HashMap::new(),
            known: HashMap::new(),
            logged: HashMap::new(),
            notices: VecDeque::new(),
            counts: Counts::default(),
        }
    }

    /// Whether `account` succeeded from `source` within [`Policy::known_for`].
    pub fn is_known(&self, account: &str, source: IpAddr, now: SystemTime) -> bool {
        self.known
            .get(account)
            .is_some_and(|list| list.iter().any(|(ip, at)| *ip == source && since(*at, now) < self.policy.known_for))
    }

    /// May the password of `account` (an existing account, or `None` for an unknown user name)
    /// be checked now for `source`? `Err` means refuse without checking.
    pub fn admit(&mut self, account: Option<&str>, source: IpAddr, now: SystemTime) -> Result<(), Locked> {
        let locked = self.lock_on(account, source, now);
        if let Some(l) = locked {
            *self.counts.refused.entry(l.scope).or_default() += 1;
        }
        locked.map_or(Ok(()), Err)
    }

    fn lock_on(&self, account: Option<&str>, source: IpAddr, now: SystemTime) -> Option<Locked> {
        let lock =
            |scope, r: Option<&Record>| r.and_then(|r| r.locked(now)).map(|retry_after| Locked { scope, retry_after });
        if let Some(a) = account {
            if let Some(l) = lock(Scope::AccountSource, self.pairs.get(a).and_then(|by| by.get(&source))) {
                return Some(l);
            }
            if self.is_known(a, source, now) {
                return None;
            }
            if let Some(l) = lock(Scope::Account, self.accounts.get(a)) {
                return Some(l);
            }
        }
        lock(Scope::Source, self.sources.get(&source))
    }

    /// A wrong password for `account` (`None`: an unknown user name) from `source`.
    pub fn failed(&mut self, account: Option<&str>, source: IpAddr, channel: Channel, now: SystemTime) {
        *self.counts.failures.entry(channel).or_default() += 1;
        let p = self.policy;
        let mut locks = Vec::new();
        if let Some(a) = account {
            if let Some(d) = count(&mut self.accounts, a.to_string(), &p.account, usize::MAX, now) {
                locks.push((Scope::Account, d));
            }
            let by_source = self.pairs.entry(a.to_string()).or_default();
            if let Some(d) = count(by_source, source, &p.account_source, MAX_SOURCES_PER_ACCOUNT, now) {
                locks.push((Scope::AccountSource, d));
            }
        }
        if let Some(d) = count(&mut self.sources, source, &p.source, MAX_TRACKED, now) {
            locks.push((Scope::Source, d));
        }
        // Logged once per window per account, or per source for unknown user names.
        let key = match account {
            Some(a) => (Some(a.to_string()), None),
            None => (None, Some(source)),
        };
        if self.logged.len() >= MAX_TRACKED && !self.logged.contains_key(&key) {
            self.logged.retain(|_, u| u.count > 0 || since(u.logged_at, now) < LOG_WINDOW);
        }
        if self.logged.len() < MAX_TRACKED || self.logged.contains_key(&key) {
            let u = self.logged.entry(key).or_insert(Unlogged { logged_at: UNIX_EPOCH, count: 0, source, channel });
            *u = Unlogged { count: u.count + 1, source, channel, ..*u };
            if since(u.logged_at, now) >= LOG_WINDOW {
                self.notices.push_back(failures_notice(account.map(str::to_string), u));
                *u = Unlogged { logged_at: now, count: 0, ..*u };
            }
        }
        for (scope, duration) in locks {
            *self.counts.locks.entry(scope).or_default() += 1;
            let account = account.filter(|_| scope != Scope::Source).map(str::to_string);
            self.notices.push_back(Notice::Locked { scope, account, source, duration });
        }
    }

    /// The right password for `account` from `source`: the address becomes known for the
    /// account and its account-and-source count starts again.
    pub fn succeeded(&mut self, account: &str, source: IpAddr, now: SystemTime) {
        // Called on every request with Basic credentials: no allocation unless something changes.
        if let Some(by_source) = self.pairs.get_mut(account) {
            by_source.remove(&source);
        }
        let Some(list) = self.known.get_mut(account) else {
            self.known.insert(account.to_string(), vec![(source, now)]);
            return;
        };
        match list.iter_mut().find(|(ip, _)| *ip == source) {
            Some(known) => known.1 = now,
            None => {
                if list.len() == KNOWN_PER_ACCOUNT {
                    let oldest = list.iter().enumerate().min_by_key(|(_, (_, at))| *at).map_or(0, |(i, _)| i);
                    list.swap_remove(oldest);
                }
                list.push((source, now));
            }
        }
    }

    /// Forget what has faded (call now and then).
    pub fn prune(&mut self, now: SystemTime) {
        let p = self.policy;
        self.accounts.retain(|_, r| !r.forgotten(&p.account, now));
        self.sources.retain(|_, r| !r.forgotten(&p.source, now));
        self.pairs.retain(|_, by_source| {
            by_source.retain(|_, r| !r.forgotten(&p.account_source, now));
            !by_source.is_empty()
        });
        self.known.retain(|_, list| {
            list.retain(|(_, at)| since(*at, now) < p.known_for);
            !list.is_empty()
        });
        // The failures of a window that ended are logged now rather than at the next failure.
        for ((account, _), u) in self.logged.iter_mut() {
            if u.count > 0 && since(u.logged_at, now) >= LOG_WINDOW {
                self.notices.push_back(failures_notice(account.clone(), u));
                *u = Unlogged { logged_at: now, count: 0, ..*u };
            }
        }
        self.logged.retain(|_, u| since(u.logged_at, now) < LOG_WINDOW);
    }

    /// The next notice to log.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    pub fn counts(&self) -> &Counts {
        &self.counts
    }

    /// Keys tracked now (for tests of the bounds).
    pub fn tracked(&self) -> usize {
        self.accounts.len() + self.sources.len() + self.pairs.values().map(HashMap::len).sum::<usize>()
    }
}

#[cfg(test)]
mod tests;
