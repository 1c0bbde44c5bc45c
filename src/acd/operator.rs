//! An operator as the distribution sees them: state, sections, and since when idle.

use std::time::Instant;

/// What an operator is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OperatorState {
    LoggedOut,
    /// Free for a call since this instant (the longest idle gets the next call).
    Available {
        since: Instant,
    },
    /// Their phone rings with this call.
    Ringing {
        call: String,
        since: Instant,
    },
    OnCall {
        call: String,
        since: Instant,
    },
    /// Kept for a citizen being called back (their phone rings once the citizen has answered).
    Reserved {
        call: String,
        since: Instant,
    },
    /// After a call, until this instant.
    WrapUp {
        until: Instant,
    },
    Paused {
        reason: String,
        since: Instant,
    },
}

impl OperatorState {
    /// The state's name as recorded and shown (`logged_out`, `available`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Self::LoggedOut => "logged_out",
            Self::Available { .. } => "available",
            Self::Ringing { .. } => "ringing",
            Self::OnCall { .. } => "on_call",
            Self::Reserved { .. } => "reserved",
            Self::WrapUp { .. } => "wrap_up",
            Self::Paused { .. } => "paused",
        }
    }
}

impl OperatorState {
    /// The pause's reason, and the call ringing or in progress.
    pub fn detail(&self) -> (Option<&str>, Option<&str>) {
        match self {
            Self::Paused { reason, .. } => (Some(reason), None),
            Self::Ringing { call, .. } | Self::OnCall { call, .. } | Self::Reserved { call, .. } => (None, Some(call)),
            _ => (None, None),
        }
    }
}

/// Why an operator went to paused without asking.
pub const NO_ANSWER: &str = "no answer";

#[derive(Debug, Clone)]
pub struct Operator {
    /// The sections they may serve, in priority order (from the configuration).
    pub skills: Vec<String>,
    /// The sections they are logged in to now (a subset of `skills`, in the same order).
    pub serving: Vec<String>,
    pub state: OperatorState,
    /// Their SIP phone is registered.
    pub sip_phone: bool,
    /// Their console's phone is connected.
    pub browser_phone: bool,
    /// A pause asked for during a call: it starts when the call ends.
    pub pending_pause: Option<String>,
    /// While ringing: since when they were idle, restored if the caller leaves meanwhile (they
    /// keep their turn).
    pub idle_before_offer: Option<Instant>,
}

impl Operator {
    pub fn new(skills: Vec<String>) -> Self {
        Self {
            skills,
            serving: Vec::new(),
            state: OperatorState::LoggedOut,
            sip_phone: false,
            browser_phone: false,
            pending_pause: None,
            idle_before_offer: None,
        }
    }

    /// One of their phones can be called. An unreachable operator is never offered a call.
    pub fn reachable(&self) -> bool {
        self.sip_phone || self.browser_phone
    }

    /// Free and reachable: can be offered a call.
    pub fn idle_since(&self) -> Option<Instant> {
        match self.state {
            OperatorState::Available { since } if self.reachable() => Some(since),
            _ => None,
        }
    }

    pub fn logged_in(&self) -> bool {
        self.state != OperatorState::LoggedOut
    }
}
