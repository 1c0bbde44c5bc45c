//! How a section's queue behaves: ring timeout, wrap-up, announcements, limits and overflow.
//! Built from the configuration (`[queue]` defaults and each `[sections.<id>.queue]`).

use std::time::Duration;

/// Where a caller goes when they leave a queue other than to an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        }
    }
}
