//! Who called which number: the facts of a call that the portal, the call's record and the
//! operator's screen-pop all start from, kept once here.

use serde::{Deserialize, Serialize};

/// Who called which number, and where that number is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallOrigin {
    /// The caller's number or user, as signalled.
    pub caller: String,
    /// The called number, E.164 when known, as dialled otherwise.
    pub number: String,
    /// Province code of the called number (e.g. `LT`).
    pub province: Option<String>,
    /// Region id of that province (e.g. `lazio`).
    pub region: Option<String>,
}
