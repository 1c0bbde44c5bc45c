//! How a section's queue behaves: ring timeout, wrap-up, announcements, limits and overflow.
//! Built from the configuration (`[queue]` defaults and each `[sections.<id>.queue]`).

use crate::config::{AtClosing, CallbackSettings, Config, Offer, RouteConfig};
use std::collections::BTreeMap;
use std::time::Duration;
use toml::Spanned;

/// Where a caller goes when they leave a queue other than to an operator.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Join another section's queue, keeping the original arrival time.
    Section(String),
    /// Continue in the voice portal at this node of the section's tree.
    Node(String),
    /// Hear this prompt, then the call ends.
    Message(String),
}

/// One section's queue rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionRules {
    /// How long an operator's phone rings before the next operator is tried.
    pub ring_timeout: Duration,
    /// Time after each call before the operator gets the next one.
    pub wrap_up: Duration,
    /// A changed position is announced at most this often.
    pub announce_min_interval: Duration,
    /// The position is announced again after this long even when unchanged.
    pub announce_every: Duration,
    /// Announcements include the estimated wait (when there are enough recent answers).
    pub announce_wait: bool,
    /// A call answered within this long counts towards the service level.
    pub service_level: Duration,
    /// Callers waiting at most; a caller beyond it goes to `when_full`.
    pub max_queue: Option<usize>,
    /// Longest wait in this queue before `after_max_wait`.
    pub max_wait: Option<Duration>,
    pub when_full: Option<Route>,
    pub after_max_wait: Option<Route>,
    /// When no operator of the section is logged in (on arrival, or when the last one logs out);
    /// `None`: the caller waits.
    pub when_no_operators: Option<Route>,
    /// A key that takes a waiting caller out of the queue, and where to.
    pub leave: Option<(char, Route)>,
    /// Callback instead of waiting, when the section offers it.
    pub callback: Option<CallbackRules>,
}

/// When a section offers callback and how it calls back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackRules {
    pub offer: CallbackOffer,
    /// The key a waiting caller presses once offered.
    pub key: char,
    /// Calls to the citizen at most.
    pub attempts: u32,
    /// Between attempts.
    pub retry: Duration,
    /// Longest an attempt may take (the trunk's ringing and the greeting) before it counts as
    /// failed: the reserved operator is not held longer.
    pub attempt_timeout: Duration,
    /// Requests still pending when the section closes are cancelled (else kept).
    pub cancel_at_closing: bool,
    /// Pending requests the section holds at most.
    pub per_section: usize,
    /// Requests one calling number may make in 24 hours.
    pub per_caller_per_day: usize,
}

/// When the callback is offered to a waiting caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallbackOffer {
    Always,
    /// After this long in the queue.
    AfterWait(Duration),
    /// When the estimated wait is longer than this.
    LongWait(Duration),
}

impl Default for SectionRules {
    fn default() -> Self {
        Self {
            ring_timeout: Duration::from_secs(15),
            wrap_up: Duration::from_secs(10),
            announce_min_interval: Duration::from_secs(15),
            announce_every: Duration::from_secs(60),
            announce_wait: false,
            service_level: Duration::from_secs(30),
            max_queue: None,
            max_wait: None,
            when_full: None,
            after_max_wait: None,
            when_no_operators: None,
            leave: None,
            callback: None,
        }
    }
}

fn secs(v: Option<u32>, default: Duration) -> Duration {
    v.map_or(default, |s| Duration::from_secs(s.into()))
}

/// The distribution rules of every section of `config`: a section's value, else `[queue]`'s,
/// else the built-in default.
pub fn section_rules(config: &Config) -> BTreeMap<String, SectionRules> {
    let base = SectionRules::default();
    let d = &config.queue;
    config
        .sections
        .iter()
        .map(|(id, section)| {
            let q = &section.queue;
            let pick_u = |a: Option<u32>, b: Option<u32>| a.or(b);
            let rules = SectionRules {
                ring_timeout: secs(pick_u(q.ring_timeout_seconds, d.ring_timeout_seconds), base.ring_timeout),
                wrap_up: secs(pick_u(q.wrap_up_seconds, d.wrap_up_seconds), base.wrap_up),
                announce_min_interval: secs(
                    pick_u(q.announce_min_interval_seconds, d.announce_min_interval_seconds),
                    base.announce_min_interval,
                ),
                announce_every: secs(pick_u(q.announce_every_seconds, d.announce_every_seconds), base.announce_every),
                announce_wait: q.announce_wait.or(d.announce_wait).unwrap_or(base.announce_wait),
                service_level: secs(pick_u(q.service_level_seconds, d.service_level_seconds), base.service_level),
                max_queue: q.max_queue.as_ref().or(d.max_queue.as_ref()).map(|m| *m.get_ref() as usize),
                max_wait: q
                    .max_wait_seconds
                    .as_ref()
                    .or(d.max_wait_seconds.as_ref())
                    .map(|m| Duration::from_secs((*m.get_ref()).into())),
                when_full: q.when_full.as_ref().or(d.when_full.as_ref()).and_then(route),
                after_max_wait: q.after_max_wait.as_ref().or(d.after_max_wait.as_ref()).and_then(route),
                when_no_operators: q.when_no_operators.as_ref().or(d.when_no_operators.as_ref()).and_then(route),
                leave: q
                    .leave_key
                    .as_ref()
                    .and_then(|k| k.get_ref().chars().next())
                    .zip(q.leave_to.as_ref().and_then(route)),
                callback: callback_rules(config, &q.callback),
            };
            (id.get_ref().clone(), rules)
        })
        .collect()
}

/// A section's callback rules (its own value, else `[queue.callback]`'s, else the default); none
/// when it does not offer callback or there is no trunk to call through.
fn callback_rules(config: &Config, own: &CallbackSettings) -> Option<CallbackRules> {
    let d = &config.queue.callback;
    let trunk = config.trunk.as_ref()?;
    let get = |a: &Option<Spanned<u32>>, b: &Option<Spanned<u32>>| a.as_ref().or(b.as_ref()).map(|v| *v.get_ref());
    let minutes = |m: u32| Duration::from_secs(u64::from(m) * 60);
    let offer = match *own.offer.as_ref().or(d.offer.as_ref())?.get_ref() {
        Offer::Never => return None,
        Offer::Always => CallbackOffer::Always,
        Offer::AfterWait => CallbackOffer::AfterWait(Duration::from_secs(
            get(&own.after_seconds, &d.after_seconds).unwrap_or(60).into(),
        )),
        Offer::LongWait => {
            CallbackOffer::LongWait(minutes(get(&own.estimated_wait_minutes, &d.estimated_wait_minutes).unwrap_or(5)))
        }
    };
    let key = own.key.as_ref().or(d.key.as_ref()).and_then(|k| k.get_ref().chars().next()).unwrap_or('5');
    let at_closing = own.at_closing.or(d.at_closing).unwrap_or_default();
    Some(CallbackRules {
        offer,
        key,
        attempts: get(&own.attempts, &d.attempts).unwrap_or(3).max(1),
        retry: Duration::from_secs(get(&own.retry_seconds, &d.retry_seconds).unwrap_or(600).into()),
        // The citizen's phone rings, then the greeting is said up to three times.
        attempt_timeout: Duration::from_secs(u64::from(*trunk.ring_seconds.get_ref()) + 60),
        cancel_at_closing: at_closing == AtClosing::Cancel,
        per_section: *config.callback.per_section.get_ref() as usize,
        per_caller_per_day: *config.callback.per_caller_per_day.get_ref() as usize,
    })
}

/// A configured route, if exactly one target is given.
fn route(r: &RouteConfig) -> Option<Route> {
    match (&r.section, &r.node, &r.message) {
        (Some(s), None, None) => Some(Route::Section(s.get_ref().clone())),
        (None, Some(n), None) => Some(Route::Node(n.get_ref().clone())),
        (None, None, Some(m)) => Some(Route::Message(m.get_ref().clone())),
        _ => None,
    }
}
