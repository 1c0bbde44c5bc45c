//! Tickets and bookings as an operator fills them in, for the store's tests.

use centralino::cases::NewTicket;
use centralino::cases::appointment::{Mode, NewAppointment};
use centralino::config::TicketSection;

/// A pensions question for `region`'s regional centre.
pub fn new_ticket(region: &str) -> NewTicket {
    NewTicket {
        call_id: None,
        caller: "+393331234567".into(),
        codice_fiscale: "RSSMRA85T10A562S".into(),
        question: "Where is my pension?".into(),
        ccm_section: "pensions".into(),
        region: region.into(),
        section: TicketSection::Pensions,
        opened_by: "mrossi".into(),
    }
}

/// A counter appointment at Latina, 14 December 2026 at 9:`minute`, booked during `call`.
pub fn booking(call: Option<&str>, minute: u32) -> NewAppointment {
    NewAppointment {
        agency: "latina-centro".into(),
        start: chrono::NaiveDate::from_ymd_opt(2026, 12, 14).unwrap().and_hms_opt(9, minute, 0).unwrap(),
        codice_fiscale: "RSSMRA85T10A562S".into(),
        phone: "+393331234567".into(),
        subject: "pension".into(),
        mode: Mode::Counter,
        call_id: call.map(String::from),
        booked_by: "mrossi".into(),
    }
}
