//! A Linea INPS ticket: a citizen's question an operator could not answer, forwarded to the
//! regional consultancy centre of a region, in one of its three sections. Its life is a small
//! pure state machine: open -> taken by a back-office officer -> answered (with the answer and
//! how the citizen was contacted) or returned to the contact center with a reason; an officer
//! may also release a taken ticket. Every change is kept in its history with who and when.

use crate::config::TicketSection;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Where a ticket is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Open,
    Taken,
    Answered,
    Returned,
}

impl TicketStatus {
    pub const ALL: [TicketStatus; 4] = [Self::Open, Self::Taken, Self::Answered, Self::Returned];

    /// The name used in the API and as the portal's lookup result.
    pub fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Taken => "taken",
            Self::Answered => "answered",
            Self::Returned => "returned",
        }
    }
}

/// How the citizen was given the answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Contact {
    Phone,
    Email,
    Pec,
    Letter,
}

/// What an operator fills in to open a ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTicket {
    /// The call it comes from (its SIP Call-ID), when opened during or after one.
    pub call_id: Option<String>,
    /// The caller's number.
    pub caller: String,
    /// Validated and normalised (see [`super::codice_fiscale`]).
    pub codice_fiscale: String,
    pub question: String,
    /// The contact-center section the call was in.
    pub ccm_section: String,
    /// The regional centre (a region id of the configuration).
    pub region: String,
    pub section: TicketSection,
    /// The operator who opened it.
    pub opened_by: String,
}

/// One change in a ticket's life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    pub at: DateTime<Utc>,
    pub by: String,
    #[serde(flatten)]
    pub what: ChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum ChangeKind {
    Opened,
    Taken,
    Released,
    Answered { answer: String, contact: Contact },
    Returned { reason: String },
}

/// A stored ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// 9 digits with a Luhn check digit (see [`super::ticket_number`]).
    pub number: String,
    #[serde(flatten)]
    pub fields: NewTicket,
    pub status: TicketStatus,
    /// The officer working it (while taken, and who answered or returned it).
    pub officer: Option<String>,
    pub opened: DateTime<Utc>,
    pub history: Vec<Change>,
    /// The citizen's data, the question and the answers were removed after the retention period
    /// (see [`super::retention`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub anonymised: bool,
}

/// A change a ticket refuses in its current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketError {
    #[error("ticket {number} is {status}, not open: it cannot be taken")]
    NotOpen { number: String, status: &'static str },
    #[error("ticket {number} is taken by {officer}, not by you")]
    NotYours { number: String, officer: String },
    #[error("ticket {number} is {status}: only a taken ticket can be answered, returned or released")]
    NotTaken { number: String, status: &'static str },
    #[error("{0} must not be empty")]
    Empty(&'static str),
    #[error("ticket {number} belongs to the regional centre of {region}")]
    OtherRegion { number: String, region: String },
}

impl Ticket {
    pub fn new(number: String, fields: NewTicket, at: DateTime<Utc>) -> Self {
        let by = fields.opened_by.clone();
        Self {
            number,
            fields,
            status: TicketStatus::Open,
            officer: None,
            opened: at,
            history: vec![Change { at, by, what: ChangeKind::Opened }],
            anonymised: false,
        }
    }

    /// An officer takes an open ticket.
    pub fn take(&mut self, officer: &str, at: DateTime<Utc>) -> Result<(), TicketError> {
        if self.status != TicketStatus::Open {
            return Err(TicketError::NotOpen { number: self.number.clone(), status: self.status.name() });
        }
        self.status = TicketStatus::Taken;
        self.officer = Some(officer.to_string());
        self.push(officer, at, ChangeKind::Taken);
        Ok(())
    }

    /// The officer who took it gives it back to the open pile.
    pub fn release(&mut self, officer: &str, at: DateTime<Utc>) -> Result<(), TicketError> {
        self.check_taken_by(officer)?;
        self.status = TicketStatus::Open;
        self.officer = None;
        self.push(officer, at, ChangeKind::Released);
        Ok(())
    }

    /// The officer who took it answers it.
    pub fn answer(
        &mut self,
        officer: &str,
        answer: &str,
        contact: Contact,
        at: DateTime<Utc>,
    ) -> Result<(), TicketError> {
        self.check_taken_by(officer)?;
        if answer.trim().is_empty() {
            return Err(TicketError::Empty("the answer"));
        }
        self.status = TicketStatus::Answered;
        self.push(officer, at, ChangeKind::Answered { answer: answer.trim().to_string(), contact });
        Ok(())
    }

    /// The officer who took it returns it to the contact center.
    pub fn give_back(&mut self, officer: &str, reason: &str, at: DateTime<Utc>) -> Result<(), TicketError> {
        self.check_taken_by(officer)?;
        if reason.trim().is_empty() {
            return Err(TicketError::Empty("the reason"));
        }
        self.status = TicketStatus::Returned;
        self.push(officer, at, ChangeKind::Returned { reason: reason.trim().to_string() });
        Ok(())
    }

    fn check_taken_by(&self, officer: &str) -> Result<(), TicketError> {
        match (&self.status, &self.officer) {
            (TicketStatus::Taken, Some(o)) if o == officer => Ok(()),
            (TicketStatus::Taken, Some(o)) => {
                Err(TicketError::NotYours { number: self.number.clone(), officer: o.clone() })
            }
            _ => Err(TicketError::NotTaken { number: self.number.clone(), status: self.status.name() }),
        }
    }

    fn push(&mut self, by: &str, at: DateTime<Utc>, what: ChangeKind) {
        self.history.push(Change { at, by: by.to_string(), what });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Ticket {
        let fields = NewTicket {
            call_id: Some("c1".into()),
            caller: "+393331234567".into(),
            codice_fiscale: "RSSMRA85T10A562S".into(),
            question: "When is my pension paid?".into(),
            ccm_section: "pensions".into(),
            region: "lazio".into(),
            section: TicketSection::Pensions,
            opened_by: "mrossi".into(),
        };
        Ticket::new("000000018".into(), fields, Utc::now())
    }

    #[test]
    fn the_lifecycle_keeps_its_history_and_refuses_what_does_not_fit() {
        let mut t = ticket();
        let now = Utc::now();
        assert!(matches!(t.answer("anna", "x", Contact::Phone, now), Err(TicketError::NotTaken { .. })));
        t.take("anna", now).unwrap();
        assert!(matches!(t.take("bruno", now), Err(TicketError::NotOpen { .. })));
        assert!(matches!(t.give_back("bruno", "no", now), Err(TicketError::NotYours { .. })));
        t.release("anna", now).unwrap();
        t.take("bruno", now).unwrap();
        assert_eq!(t.answer("bruno", "  ", Contact::Email, now), Err(TicketError::Empty("the answer")));
        t.answer("bruno", "Paid on the 1st.", Contact::Email, now).unwrap();
        assert_eq!(t.status, TicketStatus::Answered);
        let kinds: Vec<&ChangeKind> = t.history.iter().map(|c| &c.what).collect();
        assert_eq!(kinds.len(), 5);
        assert!(matches!(kinds[4], ChangeKind::Answered { contact: Contact::Email, .. }));
        assert_eq!(
            t.history.iter().map(|c| c.by.as_str()).collect::<Vec<_>>(),
            ["mrossi", "anna", "anna", "bruno", "bruno"]
        );
        assert!(matches!(t.take("anna", now), Err(TicketError::NotOpen { .. })), "an answered ticket stays answered");
    }
}
