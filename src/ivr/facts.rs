//! What the switchboard knows about a call when it enters the voice portal.

use crate::calendar::WeeklyHours;
use crate::vocabulary::CallOrigin;

/// Facts of a call, derived from the signalling and the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallFacts {
    /// Who called which number (the number in E.164).
    pub origin: CallOrigin,
    /// Opening hours of the provincial office, for `say: office: hours`.
    pub office_hours: Option<WeeklyHours>,
}
