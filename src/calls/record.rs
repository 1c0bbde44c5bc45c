//! The record every finished call leaves: who called which number, what they did in the voice
//! portal and how the call ended.

use crate::ivr::{Lang, Outcome};
use crate::vocabulary::CallOrigin;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a call ended, for the record (the portal's outcome, or why it never reached the portal).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Ending {
    /// Sent to a section's queue.
    Queued { section: String },
    /// The portal ended the call.
    PortalHangup { node: String, reason: Option<String> },
    /// The caller hung up in `node` (or before the answer, when `node` is empty).
    CallerHangup { node: String },
    /// The caller cancelled before the answer.
    Cancelled,
    /// No media arrived for the configured time.
    MediaTimeout { node: String },
    /// Refused with a SIP status (404 unknown number, 488 no common codec, 503 overload).
    Rejected { status: u16, reason: String },
    /// The caller hung up while waiting in a section's queue.
    Abandoned { section: String },
    /// Connected to an operator of the section; then either side hung up.
    Answered { section: String, operator: String },
    /// Sent out of the queue to a message, then the call ended (full, waited too long...).
    QueueMessage { section: String, prompt: String },
    /// The caller asked to be called back, keeping their place, and hung up.
    CallbackRequested { section: String },
    /// A citizen called back did not press 1 (or hung up first).
    CallbackUnconfirmed { section: String },
}

impl From<Outcome> for Ending {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Queued { section } => Ending::Queued { section },
            Outcome::PortalHangup { node, reason } => Ending::PortalHangup { node, reason },
            Outcome::CallerHangup { node } => Ending::CallerHangup { node },
        }
    }
}

impl Ending {
    /// The kind of ending, as the records and the metrics name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Ending::Queued { .. } => "queued",
            Ending::PortalHangup { .. } => "portal_hangup",
            Ending::CallerHangup { .. } => "caller_hangup",
            Ending::Cancelled => "cancelled",
            Ending::MediaTimeout { .. } => "media_timeout",
            Ending::Rejected { .. } => "rejected",
            Ending::Abandoned { .. } => "abandoned",
            Ending::Answered { .. } => "answered",
            Ending::QueueMessage { .. } => "queue_message",
            Ending::CallbackRequested { .. } => "callback_requested",
            Ending::CallbackUnconfirmed { .. } => "callback_unconfirmed",
        }
    }
}

impl std::fmt::Display for Ending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Ending::Queued { section } => write!(f, "queued to {section}"),
            Ending::PortalHangup { node, reason } => {
                write!(f, "portal hung up in {node}")?;
                reason.as_ref().map_or(Ok(()), |r| write!(f, " ({r})"))
            }
            Ending::CallerHangup { node } if node.is_empty() => write!(f, "caller hung up before the answer"),
            Ending::CallerHangup { node } => write!(f, "caller hung up in {node}"),
            Ending::Cancelled => write!(f, "cancelled before the answer"),
            Ending::MediaTimeout { node } => write!(f, "no media, ended in {node}"),
            Ending::Rejected { status, reason } => write!(f, "rejected {status} {reason}"),
            Ending::Abandoned { section } => write!(f, "hung up waiting in {section}"),
            Ending::Answered { section, operator } => write!(f, "answered by {operator} ({section})"),
            Ending::QueueMessage { section, prompt } => write!(f, "left {section} with message {prompt}"),
            Ending::CallbackRequested { section } => write!(f, "asked to be called back ({section})"),
            Ending::CallbackUnconfirmed { section } => write!(f, "called back, did not press 1 ({section})"),
        }
    }
}

/// One finished call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    pub call_id: String,
    /// Who called which number.
    #[serde(flatten)]
    pub origin: CallOrigin,
    pub tree: Option<String>,
    pub arrived: DateTime<Utc>,
    pub answered: Option<DateTime<Utc>>,
    pub ended: DateTime<Utc>,
    pub language: Option<Lang>,
    /// Nodes visited, in order.
    pub path: Vec<String>,
    /// Keys pressed, in order.
    pub keys: String,
    /// Self-service answers given.
    pub answers: Vec<String>,
    pub ending: Ending,
    /// A callback: the id of the call that asked for it (this call went out to the citizen).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_of: Option<String>,
    /// The quality of the RTP the engine received on each leg (answered calls).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media: Option<MediaQuality>,
}

/// The RTP received from the caller's phone and from the operator's (the last one bridged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MediaQuality {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<crate::media::rtcp::LegQuality>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<crate::media::rtcp::LegQuality>,
}

impl CallRecord {
    /// One line for `centralino calls`, the time in Italy's zone (CET or CEST said).
    pub fn summary(&self) -> String {
        let answers =
            if self.answers.is_empty() { String::new() } else { format!(" answers={}", self.answers.join(",")) };
        format!(
            "{} {} {} -> {} ({}) {}s keys={}{} : {}",
            crate::calendar::italian_time(self.arrived),
            self.call_id,
            self.origin.caller,
            self.origin.number,
            self.origin.province.as_deref().unwrap_or("-"),
            (self.ended - self.arrived).num_seconds(),
            if self.keys.is_empty() { "-" } else { &self.keys },
            answers,
            self.ending
        ) + &self.media.map(|m| m.summary()).unwrap_or_default()
    }
}

impl MediaQuality {
    /// ` [caller MOS 4.41, 0.000% lost, jitter 0.25 ms; operator ...]`, or nothing.
    fn summary(&self) -> String {
        let legs: Vec<String> = [("caller", self.caller), ("operator", self.operator)]
            .into_iter()
            .filter_map(|(who, q)| {
                q.map(|q| {
                    let srtp = if q.srtp.is_some() { ", SRTP" } else { "" };
                    let rtt =
                        q.reported.and_then(|r| r.rtt_ms).map(|rtt| format!(", RTT {rtt:.1} ms")).unwrap_or_default();
                    format!("{who} MOS {:.2}, {:.3}% lost, jitter {:.2} ms{rtt}{srtp}", q.mos, q.loss_pct, q.jitter_ms)
                })
            })
            .collect();
        if legs.is_empty() { String::new() } else { format!(" [{}]", legs.join("; ")) }
    }
}
