//! What goes into the distribution ([`Event`]), what comes out ([`Action`]), and the queue
//! events it records ([`QueueEvent`]).

use super::operator::OperatorState;
use super::rules::Route;
use crate::vocabulary::{CallPop, CallbackNumber};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Something that happened, told to the distribution by its host. The events a node of a
/// cluster sends to the node that runs the distribution travel as JSON; those holding instants
/// or rules are the host's own and are not serialised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A caller joins a section's queue. `arrived` orders the queue: a call that was already
    /// waiting elsewhere (a transfer) keeps its first arrival.
    #[serde(skip)]
    Enqueue {
        call: String,
        section: String,
        arrived: Instant,
    },
    /// A caller who was waiting before the distribution was taken over by another node: back
    /// in the queue at their place (by `arrived`), their wait counted from `entered`. Not a new
    /// arrival: nothing is recorded and no limit applies.
    #[serde(skip)]
    Restore {
        call: String,
        section: String,
        arrived: Instant,
        entered: Instant,
    },
    /// A caller who was talking with `operator` before the distribution was taken over: the
    /// operator is on that call again.
    #[serde(skip)]
    Resume {
        call: String,
        section: String,
        operator: String,
        arrived: Instant,
        since: Instant,
    },
    /// The caller hung up (waiting, being offered or connected).
    CallerHangup {
        call: String,
    },
    /// A key from a waiting caller (the section's leave key takes them out).
    Key {
        call: String,
        key: char,
    },
    /// The announcement started by [`Action::Announce`] has finished playing.
    AnnouncementDone {
        call: String,
    },
    /// The operator's phone answered the offered call: the two are connected. Refused unless
    /// the call is offered to that operator now (a late answer to a withdrawn offer).
    OfferAnswered {
        call: String,
        operator: String,
    },
    /// The offer failed (busy, declined, unreachable...): the operator is paused with `reason`.
    /// Refused unless the call is offered to that operator now (a stale failure).
    OfferFailed {
        call: String,
        operator: String,
        reason: String,
    },
    /// The operator (or their phone) ended a connected call.
    OperatorHangup {
        call: String,
    },
    /// An operator sends their connected caller to another section or a tree node.
    Transfer {
        call: String,
        to: Route,
    },
    /// Log in to the given sections (`None`: all the operator's sections).
    Login {
        operator: String,
        sections: Option<Vec<String>>,
    },
    Logout {
        operator: String,
    },
    /// Pause with a reason; during a call or wrap-up, the pause starts when it ends.
    Pause {
        operator: String,
        reason: String,
    },
    /// Back to available (from paused, or ending wrap-up early).
    Ready {
        operator: String,
    },
    /// One of the operator's phones can be called (true: registered, or the console's phone
    /// connected) or no longer can (false). They are reachable while either can.
    Reachable {
        operator: String,
        reachable: bool,
        #[serde(default, skip_serializing_if = "PhoneKind::is_sip")]
        phone: PhoneKind,
    },
    /// A reloaded configuration: every section's rules and every operator's sections in
    /// priority order (see `reconfigure.rs` for what happens to queues and states).
    #[serde(skip)]
    Reconfigure {
        sections: std::collections::BTreeMap<String, super::rules::SectionRules>,
        operators: std::collections::BTreeMap<String, Vec<String>>,
    },
    /// Callers held on other nodes are coming back after a takeover: no offers and no
    /// announcements before `until` (so that the first back are not served before callers
    /// who arrived earlier); `until` in the past ends the wait at once.
    #[serde(skip)]
    Gather {
        until: Instant,
    },
    /// A waiting caller who was offered callback asks to be called back on `number` (checked
    /// against the numbering plan by the call): they keep their place and may hang up. Refused
    /// ([`Action::CallbackRefused`]) when the number already has a request pending, or the
    /// section or the calling number `caller` has made too many.
    RequestCallback {
        call: String,
        number: CallbackNumber,
        caller: String,
        /// What the operator will see of the call that asked (carried, not read).
        facts: Box<CallPop>,
    },
    /// The citizen called back answered and pressed 1: the operator kept for them is offered
    /// the call (its notices now go to the call that reached the citizen).
    CallbackAnswered {
        call: String,
    },
    /// The attempt failed (busy, no answer, rejected, no key pressed, the trunk refused): the
    /// operator kept is free again; the request waits for its next attempt, or ends after the
    /// last.
    CallbackFailed {
        call: String,
        reason: String,
    },
    /// An operator or administrator cancels a pending request.
    CancelCallback {
        call: String,
        by: String,
    },
    /// A request kept across a restart: back at its place, `attempts` already made.
    #[serde(skip)]
    RestoreCallback(PendingCallback),
    /// The section's callback hours opened or closed (callbacks are made only while open).
    CallbackHours {
        section: String,
        open: bool,
    },
    /// Time passed: deadlines (ring timeouts, wrap-up, maximum waits, announcements) are due.
    #[serde(skip)]
    Tick,
}

/// Which of an operator's phones an [`Event::Reachable`] is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneKind {
    /// Their SIP phone (desk phone or softphone), registered.
    #[default]
    Sip,
    /// The phone in their console's browser, connected.
    Browser,
}

impl PhoneKind {
    pub fn is_sip(&self) -> bool {
        *self == PhoneKind::Sip
    }
}

/// What the host must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Ring the operator's phone with this call.
    Offer { call: String, operator: String },
    /// Stop ringing (ring timeout, the caller left).
    CancelOffer { call: String, operator: String },
    /// Tell the caller how many callers are ahead (0: they are next), and the estimated wait;
    /// with `callback`, offer callback on that key.
    Announce { call: String, ahead: usize, wait: Option<Duration>, callback: Option<char> },
    /// The caller pressed the callback key: ask for the number to call back.
    AskCallbackNumber { call: String },
    /// The request is taken: the caller keeps their place (`ahead` before them) and may hang up.
    CallbackAccepted { call: String, ahead: usize, wait: Option<Duration> },
    /// The request is refused: the caller stays on the line in the queue.
    CallbackRefused { call: String, reason: CallbackRefusal },
    /// Call the citizen back through the trunk, `operator` kept for them; report
    /// [`Event::CallbackAnswered`] or [`Event::CallbackFailed`].
    CallBack(CallBack),
    /// Stop the attempt (it took longer than the section allows): it has been counted failed.
    CancelCallBack { call: String },
    /// Keep this pending request in the store (on request, and after each failed attempt).
    KeepCallback(PendingCallback),
    /// The request is over (called, given up, cancelled): out of the store. With `gave_up`,
    /// every attempt failed.
    DropCallback { call: String, gave_up: Option<PendingCallback> },
    /// The call is now waiting in this section's queue (on joining, and after a transfer or an
    /// overflow moved it).
    Queued { call: String, section: String },
    /// Cut an announcement short: the caller is being connected.
    StopAnnouncement { call: String },
    /// The call leaves the queues for the voice portal (a node) or a message and hang-up.
    Route { call: String, route: Route },
    /// Persist this queue event.
    Record(QueueEvent),
    /// An operator's state changed (to record and show).
    OperatorChanged { operator: String, state: OperatorState },
}

/// A queue event, as persisted and shown by `centralino calls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEvent {
    pub call: String,
    pub section: String,
    #[serde(flatten)]
    pub kind: QueueEventKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum QueueEventKind {
    Entered { ahead: usize },
    Announced { ahead: usize, wait_s: Option<u64> },
    Offered { operator: String },
    NotAnswered { operator: String, reason: String },
    Answered { operator: String, wait_ms: u64 },
    Abandoned { wait_ms: u64 },
    TimedOut { wait_ms: u64, to: String },
    Overflowed { reason: String, to: String },
    Left { key: char, to: String },
    Transferred { operator: String, to: String },
    Ended { operator: String, talk_ms: u64 },
    CallbackRequested { number: String },
    CallbackDialled { operator: String, attempt: u32 },
    CallbackFailed { operator: String, attempt: u32, reason: String },
    CallbackAnswered { operator: String },
    CallbackGaveUp { attempts: u32 },
    CallbackCancelled { by: String },
}

/// An attempt to call a citizen back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallBack {
    /// The request (the id of the call that asked for it).
    pub call: String,
    pub section: String,
    pub number: CallbackNumber,
    pub operator: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub facts: Box<CallPop>,
}

/// A pending request as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingCallback {
    pub call: String,
    pub section: String,
    pub number: CallbackNumber,
    pub caller: String,
    /// The caller's first arrival in a queue: their place.
    pub arrived: Instant,
    pub attempts: u32,
    pub facts: Box<CallPop>,
}

/// Why a callback request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackRefusal {
    /// The number already has a request pending.
    AlreadyPending,
    /// The section holds as many pending requests as it may.
    SectionFull,
    /// The calling number has asked too often today.
    TooOften,
    /// The caller is no longer waiting (or the section offers no callback).
    NotWaiting,
}

/// A command the distribution refuses, with what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum AcdError {
    #[error("unknown operator {0:?}")]
    UnknownOperator(String),
    #[error("unknown section {0:?}")]
    UnknownSection(String),
    #[error("no call {0:?} in the queues")]
    UnknownCall(String),
    #[error("operator {operator:?} does not serve section {section:?}")]
    NotSkilled { operator: String, section: String },
    #[error("call {0:?} is not connected to an operator")]
    NotConnected(String),
    #[error("call {0:?} is already queued")]
    AlreadyQueued(String),
    #[error("operator {0:?} is logged out")]
    LoggedOut(String),
    #[error("operator {0:?} has a call ringing or in progress")]
    Busy(String),
    /// The distribution cannot be reached now (stopped, or moving to another node).
    #[error("the distribution is unavailable ({0}): try again in a few seconds")]
    Unavailable(String),
}

/// Display form of a route in records: `section:<id>`, `node:<id>`, `message:<prompt>`.
pub fn route_name(route: &Route) -> String {
    match route {
        Route::Section(s) => format!("section:{s}"),
        Route::Node(n) => format!("node:{n}"),
        Route::Message(m) => format!("message:{m}"),
    }
}
