//! Callback: when a waiting caller is offered it (`[queue.callback]`, overridden by
//! `[sections.<id>.queue.callback]`), whom the switchboard may call back and how often
//! (`[callback]`), and the carrier's trunk the calls go out through (`[trunk]`).

use serde::Deserialize;
use toml::Spanned;

/// When a section offers callback, and how it calls back. Every field is optional: a section's
/// value, else `[queue.callback]`'s, else the built-in default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackSettings {
    /// `never` (default), `always`, `after_wait` (after `after_seconds` of waiting) or
    /// `long_wait` (when the estimated wait exceeds `estimated_wait_minutes`).
    pub offer: Option<Spanned<Offer>>,
    pub after_seconds: Option<Spanned<u32>>,
    pub estimated_wait_minutes: Option<Spanned<u32>>,
    /// The key a waiting caller presses to ask for it (default `5`).
    pub key: Option<Spanned<String>>,
    /// Calls to the citizen at most (default 3).
    pub attempts: Option<Spanned<u32>>,
    /// Seconds between attempts (default 600).
    pub retry_seconds: Option<Spanned<u32>>,
    /// A schedule of the section's tree: callbacks are made only while it is open.
    pub hours: Option<Spanned<String>>,
    /// What becomes of requests still pending when the hours close.
    pub at_closing: Option<AtClosing>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Offer {
    Never,
    Always,
    AfterWait,
    LongWait,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AtClosing {
    /// Kept, and called when the hours open again.
    #[default]
    NextOpenDay,
    /// Ended with a record.
    Cancel,
}

/// `[callback]`: whom the switchboard may call back, and how often it may be asked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackLimits {
    /// Country codes (`"41"`) whose numbers may be called besides Italy's; none by default.
    #[serde(default)]
    pub countries: Vec<Spanned<String>>,
    /// Italian prefixes refused besides the plan's premium and service ranges.
    #[serde(default)]
    pub refused_prefixes: Vec<Spanned<String>>,
    /// Requests one calling number may make in 24 hours.
    #[serde(default = "three")]
    pub per_caller_per_day: Spanned<u32>,
    /// Pending requests one section may hold.
    #[serde(default = "hundred")]
    pub per_section: Spanned<u32>,
}

impl Default for CallbackLimits {
    fn default() -> Self {
        Self {
            countries: Vec::new(),
            refused_prefixes: Vec::new(),
            per_caller_per_day: three(),
            per_section: hundred(),
        }
    }
}

fn three() -> Spanned<u32> {
    Spanned::new(0..0, 3)
}

fn hundred() -> Spanned<u32> {
    Spanned::new(0..0, 100)
}

impl super::Config {
    /// Whether a section with these queue settings offers callback (its own `offer`, else
    /// `[queue.callback]`'s).
    pub fn offers_callback(&self, queue: &super::QueueSettings) -> bool {
        let offer = queue.callback.offer.as_ref().or(self.queue.callback.offer.as_ref());
        offer.is_some_and(|o| *o.get_ref() != Offer::Never)
    }
}

impl CallbackLimits {
    pub fn plan(&self) -> crate::vocabulary::NumberingPlan {
        crate::vocabulary::NumberingPlan {
            countries: self.countries.iter().map(|c| c.get_ref().clone()).collect(),
            refused_prefixes: self.refused_prefixes.iter().map(|c| c.get_ref().clone()).collect(),
        }
    }
}

/// `[trunk]`: the carrier's SIP trunk for the switchboard's outgoing calls (callbacks only).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrunkConfig {
    /// Where the INVITEs go, `sip:host:port` (UDP).
    pub address: Spanned<String>,
    /// Digest credentials the carrier gave (its challenges are answered with them).
    pub username: Option<String>,
    /// The password in the clear, or better the name of an environment variable holding it.
    pub password: Option<String>,
    pub password_env: Option<Spanned<String>>,
    /// The number presented to the citizen (E.164, the contact center's).
    pub caller_id: Spanned<String>,
    /// Simultaneous outgoing calls at most.
    pub max_calls: Spanned<u32>,
    /// Seconds the citizen's phone rings before the attempt counts as unanswered.
    #[serde(default = "thirty")]
    pub ring_seconds: Spanned<u32>,
}

fn thirty() -> Spanned<u32> {
    Spanned::new(0..0, 30)
}

impl TrunkConfig {
    /// The password: from `password_env` when named (empty if unset), else `password`.
    pub fn password(&self) -> Option<String> {
        match &self.password_env {
            Some(var) => std::env::var(var.get_ref()).ok(),
            None => self.password.clone(),
        }
    }
}

/// The callback settings of `[queue.callback]` (`section` none) or a section's: an offer needs
/// a trunk, its key is a digit other than the leave key, attempts and waits are sensible.
pub(super) fn check_settings(
    k: &mut super::Checker,
    what: &str,
    own: &CallbackSettings,
    leave_key: Option<&Spanned<String>>,
    config: &super::Config,
) {
    if let Some(offer) = &own.offer
        && *offer.get_ref() != Offer::Never
    {
        if config.trunk.is_none() {
            k.error(
                offer,
                format!("{what}: callback is offered but there is no [trunk] to call back through"),
                "add a [trunk] section (the carrier's address, credentials, caller_id, max_calls), or set offer = \"never\"",
            );
        } else if config.cluster.link.is_some() {
            k.error(
                offer,
                format!("{what}: callback is not available yet on a node of a cluster"),
                "set offer = \"never\" on the nodes of a cluster (see docs/callback.md)",
            );
        }
    }
    if let Some(key) = &own.key {
        let digit = matches!(key.get_ref().as_bytes(), [b'0'..=b'9']);
        if !digit {
            k.error(key, format!("{what}: callback key `{}` is not a digit", key.get_ref()), "use one of 0-9");
        } else if leave_key.is_some_and(|l| l.get_ref() == key.get_ref()) {
            k.error(
                key,
                format!("{what}: the callback key `{}` is also the leave key", key.get_ref()),
                "give callback and leaving the queue different keys",
            );
        }
    }
    let ranges = [
        (&own.attempts, 1, 10, "attempts"),
        (&own.retry_seconds, 5, 24 * 3600, "retry_seconds"),
        (&own.after_seconds, 0, 3600, "after_seconds"),
        (&own.estimated_wait_minutes, 1, 240, "estimated_wait_minutes"),
    ];
    for (value, min, max, name) in ranges {
        if let Some(v) = value
            && !(min..=max).contains(v.get_ref())
        {
            k.error(
                v,
                format!("{what}: callback {name} {} is out of range", v.get_ref()),
                format!("use {min} to {max}"),
            );
        }
    }
}

/// `[trunk]` and `[callback]`: an address to call, an E.164 caller ID, limits that allow calls,
/// country codes and prefixes written as digits.
pub(super) fn check_limits(k: &mut super::Checker, trunk: Option<&TrunkConfig>, limits: &CallbackLimits) {
    if let Some(t) = trunk {
        let hostport = t.address.get_ref().strip_prefix("sip:").unwrap_or(t.address.get_ref());
        if hostport.is_empty() || hostport.contains(['@', ';', ' ', '/']) {
            k.error(
                &t.address,
                format!("trunk address `{}` is not sip:host:port", t.address.get_ref()),
                "write e.g. \"sip:carrier.example.it:5060\"",
            );
        }
        let caller_id = t.caller_id.get_ref();
        if !caller_id
            .strip_prefix("+39")
            .is_some_and(|n| (6..=11).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()))
        {
            k.error(
                &t.caller_id,
                format!("trunk caller_id `{caller_id}` is not an Italian E.164 number"),
                "write the contact center's number as +39 and its digits, e.g. \"+390616416\"",
            );
        }
        if !(5..=300).contains(t.ring_seconds.get_ref()) {
            let message = format!("trunk ring_seconds {} is out of range", t.ring_seconds.get_ref());
            k.error(&t.ring_seconds, message, "use 5 to 300 seconds");
        }
        if !(1..=1000).contains(t.max_calls.get_ref()) {
            k.error(
                &t.max_calls,
                format!("trunk max_calls {} is out of range", t.max_calls.get_ref()),
                "use 1 to 1000",
            );
        }
        if let (Some(_), Some(at)) = (&t.password, &t.password_env) {
            k.error(
                at,
                "trunk password and password_env are both given".into(),
                "keep one: password_env names the environment variable holding it",
            );
        }
    }
    for cc in &limits.countries {
        let c = cc.get_ref();
        if !(1..=3).contains(&c.len()) || !c.bytes().all(|b| b.is_ascii_digit()) || c == "39" {
            k.error(
                cc,
                format!("callback country code `{c}` is not one"),
                "write a country calling code other than Italy's, e.g. \"41\" for Switzerland",
            );
        }
    }
    for p in &limits.refused_prefixes {
        if p.get_ref().is_empty() || !p.get_ref().bytes().all(|b| b.is_ascii_digit()) {
            k.error(
                p,
                format!("refused prefix `{}` is not digits", p.get_ref()),
                "write a national prefix such as \"06\" or \"347\"",
            );
        }
    }
    for (v, name) in [(&limits.per_caller_per_day, "per_caller_per_day"), (&limits.per_section, "per_section")] {
        if !(1..=100_000).contains(v.get_ref()) {
            k.error(v, format!("callback {name} {} is out of range", v.get_ref()), "use 1 to 100000");
        }
    }
}
