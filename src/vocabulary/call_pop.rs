//! The screen-pop: who is calling and why, as the operator's console shows it when a call is
//! connected. The store keeps each operator's latest one, so that its outcome can still be set
//! after a restart.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Who is calling and why, as the operator's console shows it when the call is connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallPop {
    pub operator: String,
    pub call_id: String,
    /// Who called which number.
    #[serde(flatten)]
    pub origin: super::CallOrigin,
    /// The section whose queue the call came from.
    pub section: String,
    /// The path through the voice portal and the keys pressed.
    pub path: Vec<String>,
    pub keys: String,
    pub language: String,
    pub arrived: DateTime<Utc>,
    /// How long the caller waited in the queue, in seconds.
    pub waited_s: u64,
    /// The voice-portal tree answering the call.
    pub tree: String,
    /// The tree's node that reads back an appointment booked during the call, if it has one
    /// (the console's "read it back to the caller").
    pub readback_node: Option<String>,
    /// A callback: the number the citizen was called back on (the facts are those of the call
    /// that asked for it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_back: Option<String>,
}
