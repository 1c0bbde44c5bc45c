//! The outcome of a call, as the operator who took it records it (during the call or in
//! wrap-up): how the citizen's request ended, for the contact center's figures and follow-up.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How the operator closed the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Answered on the call.
    Resolved,
    /// A Linea INPS ticket was opened for the regional centre.
    TicketOpened,
    /// An appointment was booked at an agency.
    AppointmentBooked,
    /// Passed to another section or back to the voice portal.
    Transferred,
    /// Not resolved, and nothing was opened (the note says why).
    NotResolved,
    /// The line dropped or the caller hung up before the end.
    Dropped,
}

impl Outcome {
    pub const ALL: [Outcome; 6] = [
        Outcome::Resolved,
        Outcome::TicketOpened,
        Outcome::AppointmentBooked,
        Outcome::Transferred,
        Outcome::NotResolved,
        Outcome::Dropped,
    ];

    /// The name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Resolved => "resolved",
            Outcome::TicketOpened => "ticket_opened",
            Outcome::AppointmentBooked => "appointment_booked",
            Outcome::Transferred => "transferred",
            Outcome::NotResolved => "not_resolved",
            Outcome::Dropped => "dropped",
        }
    }
}

/// One outcome recorded for a call. Setting it again (a correction) keeps the earlier ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOutcome {
    pub call_id: String,
    pub outcome: Outcome,
    /// The operator's note (may be empty).
    pub note: String,
    /// The section the operator took the call from.
    pub section: String,
    pub by: String,
    pub at: DateTime<Utc>,
    /// Earlier outcomes of the same call, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier: Vec<EarlierOutcome>,
}

/// An outcome later corrected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EarlierOutcome {
    pub outcome: Outcome,
    pub note: String,
    pub by: String,
    pub at: DateTime<Utc>,
}

impl CallOutcome {
    /// `self` replaced by `next`, keeping `self` in the history.
    pub fn corrected(mut self, next: CallOutcome) -> CallOutcome {
        let mut earlier = std::mem::take(&mut self.earlier);
        earlier.push(EarlierOutcome { outcome: self.outcome, note: self.note, by: self.by, at: self.at });
        CallOutcome { earlier, ..next }
    }
}
