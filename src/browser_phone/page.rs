//! What the engine and the console's page say to each other over the phone's data channel,
//! one JSON object per message, `type` naming it.

use serde::{Deserialize, Serialize};

/// From the engine to the page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToPage {
    /// A call is offered: ring. `caller` is empty when the number is withheld.
    Ring { call: String, caller: String, section: String },
    /// The offer was withdrawn before the operator answered.
    Cancelled { call: String },
    /// Answered: the audio flows.
    Talking { call: String },
    /// The call has ended, by the caller's side (or a transfer) or the operator's.
    Ended { call: String, by_caller: bool },
    /// The page did not say it rang in time: the phone takes no call until the page speaks.
    Unanswered,
}

/// From the page to the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FromPage {
    /// The page rings (sent at once on a `ring`).
    Ringing {
        call: String,
    },
    Answer {
        call: String,
    },
    Decline {
        call: String,
    },
    HangUp {
        call: String,
    },
    /// Sent every few seconds: the page is awake.
    Alive,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_json_objects_named_by_type() {
        let ring = ToPage::Ring { call: "c1".into(), caller: "+39333".into(), section: "Pensioni".into() };
        assert_eq!(
            serde_json::to_string(&ring).unwrap(),
            r#"{"type":"ring","call":"c1","caller":"+39333","section":"Pensioni"}"#
        );
        let said: FromPage = serde_json::from_str(r#"{"type":"hang_up","call":"c1"}"#).unwrap();
        assert_eq!(said, FromPage::HangUp { call: "c1".into() });
        assert!(serde_json::from_str::<FromPage>(r#"{"type":"dial","number":"112"}"#).is_err());
    }
}
