//! Sections as queues: automatic call distribution (ACD).
//!
//! A pure state machine ([`Acd`]): callers join a section's queue in arrival order, the free
//! operator idle longest among those serving the section gets the next caller (operators take
//! their sections in their configured priority order), an unanswered offer passes to the next
//! operator and pauses the first; callers hear their position when they join, when it changes
//! (at most every `announce_min_interval`) and periodically; queues have limits and overflow
//! routes. Events and the current time in, [`Action`]s out; the host rings phones, plays
//! announcements and persists the [`QueueEvent`]s.

mod callbacks;
mod events;
pub mod host;
mod invariants;
pub mod journal;
mod machine;
mod operator;
mod reconfigure;
pub mod report;
pub mod rules;
mod schedule;
mod stats;

pub use events::{
    AcdError, Action, CallBack, CallbackRefusal, Event, PendingCallback, PhoneKind, QueueEvent, QueueEventKind,
    route_name,
};
pub use machine::Acd;
pub use operator::{NO_ANSWER, Operator, OperatorState};
pub use rules::{CallbackOffer, CallbackRules, Route, SectionRules};
pub use stats::{CallbackView, SectionStats};
