//! Queue settings: `[queue]` (defaults for every section) and `[sections.<id>.queue]`
//! (overrides, limits and overflow routes), turned into the distribution's [`SectionRules`].

use super::model::Config;
use crate::acd::{Route, SectionRules};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;
use toml::Spanned;

/// Every field is optional: a section's value, else `[queue]`'s, else the built-in default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueSettings {
    /// Seconds an operator's phone rings before the next operator is tried.
    pub ring_timeout_seconds: Option<u32>,
    /// Seconds after each call before the operator gets the next one.
    pub wrap_up_seconds: Option<u32>,
    /// A changed position is announced at most this often.
    pub announce_min_interval_seconds: Option<u32>,
    /// The position is announced again after this long even when unchanged.
    pub announce_every_seconds: Option<u32>,
    /// Announce the estimated wait too.
    pub announce_wait: Option<bool>,
    /// Calls answered within this many seconds count towards the service level.
    pub service_level_seconds: Option<u32>,
    /// Most callers waiting; the next goes to `when_full`.
    pub max_queue: Option<Spanned<u32>>,
    /// Longest wait in seconds; then the caller goes to `after_max_wait`.
    pub max_wait_seconds: Option<Spanned<u32>>,
    pub when_full: Option<RouteConfig>,
    pub after_max_wait: Option<RouteConfig>,
    /// Where callers go when no operator of the section is logged in (default: they wait).
    pub when_no_operators: Option<RouteConfig>,
    /// A key that takes a waiting caller out of the queue, to `leave_to`.
    pub leave_key: Option<Spanned<String>>,
    pub leave_to: Option<RouteConfig>,
}

/// Exactly one of: another section, a node of the section's tree, or a prompt of that tree
/// played before hanging up. Written inline: `{ section = "general" }`, `{ node = "main_menu" }`,
/// `{ message = "queue_closed" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    pub section: Option<Spanned<String>>,
    pub node: Option<Spanned<String>>,
    pub message: Option<Spanned<String>>,
}

impl RouteConfig {
    /// The route, if exactly one target is given.
    pub fn route(&self) -> Option<Route> {
        match (&self.section, &self.node, &self.message) {
            (Some(s), None, None) => Some(Route::Section(s.get_ref().clone())),
            (None, Some(n), None) => Some(Route::Node(n.get_ref().clone())),
            (None, None, Some(m)) => Some(Route::Message(m.get_ref().clone())),
            _ => None,
        }
    }

    /// The value to point a diagnostic at.
    pub fn first(&self) -> Option<&Spanned<String>> {
        self.section.as_ref().or(self.node.as_ref()).or(self.message.as_ref())
    }
}

fn secs(v: Option<u32>, default: Duration) -> Duration {
    v.map_or(default, |s| Duration::from_secs(s.into()))
}

impl Config {
    /// The distribution rules of every section.
    pub fn section_rules(&self) -> BTreeMap<String, SectionRules> {
        let base = SectionRules::default();
        let d = &self.queue;
        self.sections
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
                    announce_every: secs(
                        pick_u(q.announce_every_seconds, d.announce_every_seconds),
                        base.announce_every,
                    ),
                    announce_wait: q.announce_wait.or(d.announce_wait).unwrap_or(base.announce_wait),
                    service_level: secs(pick_u(q.service_level_seconds, d.service_level_seconds), base.service_level),
                    max_queue: q.max_queue.as_ref().or(d.max_queue.as_ref()).map(|m| *m.get_ref() as usize),
                    max_wait: q
                        .max_wait_seconds
                        .as_ref()
                        .or(d.max_wait_seconds.as_ref())
                        .map(|m| Duration::from_secs((*m.get_ref()).into())),
                    when_full: q.when_full.as_ref().or(d.when_full.as_ref()).and_then(RouteConfig::route),
                    after_max_wait: q
                        .after_max_wait
                        .as_ref()
                        .or(d.after_max_wait.as_ref())
                        .and_then(RouteConfig::route),
                    when_no_operators: q
                        .when_no_operators
                        .as_ref()
                        .or(d.when_no_operators.as_ref())
                        .and_then(RouteConfig::route),
                    leave: q
                        .leave_key
                        .as_ref()
                        .and_then(|k| k.get_ref().chars().next())
                        .zip(q.leave_to.as_ref().and_then(RouteConfig::route)),
                };
                (id.get_ref().clone(), rules)
            })
            .collect()
    }

    /// Operators and their sections in priority order, as the distribution takes them.
    pub fn operator_skills(&self) -> BTreeMap<String, Vec<String>> {
        self.operators
            .iter()
            .map(|o| (o.username.get_ref().clone(), o.sections.iter().map(|s| s.get_ref().clone()).collect()))
            .collect()
    }
}
