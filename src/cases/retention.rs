//! Retention of personal data. Tickets, appointments, call records, journals and outcomes hold
//! codici fiscali, phone numbers and what citizens asked; after the periods of the
//! configuration's `[retention]` they are anonymised or deleted, daily by the engine and on
//! demand by `centralino purge`. This file says what is due, as of an instant; the stores and
//! the journals' writers carry it out.

use super::appointment::Appointment;
use super::ticket::{ChangeKind, Ticket, TicketStatus};
use chrono::{DateTime, Duration, Utc};

pub use crate::config::Disposal;

/// The periods, as configured (none: kept for ever).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// After a ticket is closed (answered or returned).
    pub closed_tickets: Option<Duration>,
    pub tickets: Disposal,
    /// Call records, queue and operator journals, outcomes, operators' latest calls, and the
    /// citizen's data of appointments past.
    pub records: Option<Duration>,
}

/// Sessions and the pages' events are kept a day at most, whatever the configuration: a session
/// lasts 12 h, a page that reconnects needs minutes of events.
pub const SHORT_LIVED: Duration = Duration::days(1);

/// What is due as of one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgePlan {
    /// Closed tickets whose last change is before this.
    pub closed_tickets_before: Option<DateTime<Utc>>,
    pub tickets: Disposal,
    /// Records, outcomes, latest calls and appointments (by their start) before this.
    pub records_before: Option<DateTime<Utc>>,
    /// Sessions last seen, and events published, before this.
    pub short_lived_before: DateTime<Utc>,
}

/// What a purge did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Purged {
    pub tickets_anonymised: usize,
    pub tickets_deleted: usize,
    pub appointments_anonymised: usize,
    pub outcomes_deleted: usize,
    pub latest_calls_deleted: usize,
    pub sessions_deleted: usize,
    pub events_deleted: usize,
    /// Call records and queue and operator events of the shared store's journal.
    pub journal_entries_deleted: usize,
}

impl Retention {
    /// The periods of the configuration's `[retention]`.
    pub fn of(c: &crate::config::RetentionConfig) -> Retention {
        let days = |d: &Option<toml::Spanned<u32>>| d.as_ref().map(|d| Duration::days((*d.get_ref()).into()));
        Retention { closed_tickets: days(&c.closed_tickets_days), tickets: c.tickets, records: days(&c.records_days) }
    }

    /// Whether anything is ever due besides the short-lived sessions and events.
    pub fn keeps_everything(&self) -> bool {
        self.closed_tickets.is_none() && self.records.is_none()
    }

    pub fn plan(&self, now: DateTime<Utc>) -> PurgePlan {
        PurgePlan {
            closed_tickets_before: self.closed_tickets.map(|d| now - d),
            tickets: self.tickets,
            records_before: self.records.map(|d| now - d),
            short_lived_before: now - SHORT_LIVED,
        }
    }
}

impl PurgePlan {
    /// What to do with `t`: nothing (`None`), or anonymise or delete it.
    pub fn ticket(&self, t: &Ticket) -> Option<Disposal> {
        let before = self.closed_tickets_before?;
        let closed = matches!(t.status, TicketStatus::Answered | TicketStatus::Returned);
        let last = t.history.last().map_or(t.opened, |c| c.at);
        let due = closed && last < before && !(self.tickets == Disposal::Anonymise && t.anonymised);
        due.then_some(self.tickets)
    }

    /// Whether `a`'s citizen data is due to go (its slot is past the records' period).
    pub fn appointment(&self, a: &Appointment) -> bool {
        let Some(before) = self.records_before else { return false };
        a.fields.start < before.naive_utc() && !a.fields.codice_fiscale.is_empty()
    }
}

impl Ticket {
    /// Without the citizen's data, the question, the answer or the reason.
    pub fn anonymise(&mut self) {
        self.fields.caller.clear();
        self.fields.codice_fiscale.clear();
        self.fields.question.clear();
        for c in &mut self.history {
            match &mut c.what {
                ChangeKind::Answered { answer, .. } => answer.clear(),
                ChangeKind::Returned { reason } => reason.clear(),
                _ => {}
            }
        }
        self.anonymised = true;
    }
}

impl Appointment {
    /// Without the citizen's data (the slot, agency and history stay, for the agency's figures).
    pub fn anonymise(&mut self) {
        self.fields.codice_fiscale.clear();
        self.fields.phone.clear();
        self.fields.subject.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::ticket::{Contact, NewTicket};
    use crate::config::TicketSection;

    fn ticket(at: DateTime<Utc>) -> Ticket {
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
        Ticket::new("000000018".into(), fields, at)
    }

    #[test]
    fn only_closed_tickets_past_their_period_are_due_and_anonymised_ones_once() {
        let now = Utc::now();
        let retention =
            Retention { closed_tickets: Some(Duration::days(30)), tickets: Disposal::Anonymise, records: None };
        let plan = retention.plan(now);
        let old = now - Duration::days(40);
        let mut t = ticket(old);
        assert_eq!(plan.ticket(&t), None, "open: kept whatever its age");
        t.take("anna", old).unwrap();
        assert_eq!(plan.ticket(&t), None, "taken: kept");
        t.answer("anna", "Paid on the 1st.", Contact::Phone, now - Duration::days(10)).unwrap();
        assert_eq!(plan.ticket(&t), None, "closed 10 days ago: kept");
        t.history.last_mut().unwrap().at = old;
        assert_eq!(plan.ticket(&t), Some(Disposal::Anonymise));
        t.anonymise();
        assert!(t.fields.codice_fiscale.is_empty() && t.fields.caller.is_empty() && t.fields.question.is_empty());
        assert!(matches!(&t.history[2].what, ChangeKind::Answered { answer, .. } if answer.is_empty()));
        assert_eq!((t.status, t.history.len(), t.fields.region.as_str()), (TicketStatus::Answered, 3, "lazio"));
        assert_eq!(plan.ticket(&t), None, "anonymised once");
        let delete = Retention { tickets: Disposal::Delete, ..retention }.plan(now);
        assert_eq!(delete.ticket(&t), Some(Disposal::Delete), "deleted even when anonymised before");
        assert_eq!(Retention { closed_tickets: None, ..retention }.plan(now).ticket(&t), None, "no period: kept");
    }
}
