//! What the switchboard knows about a call when it enters the voice portal.

use crate::calendar::WeeklyHours;

/// Facts of a call, derived from the signalling and the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallFacts {
    /// The caller's number or user, as signalled.
    pub caller: String,
    /// The called number, E.164.
    pub number: String,
    /// Province code of the called number (e.g. `LT`).
    pub province: Option<String>,
    /// Region id of that province (e.g. `lazio`).
    pub region: Option<String>,
    /// Opening hours of the provincial office, for `say: office: hours`.
    pub office_hours: Option<WeeklyHours>,
}
