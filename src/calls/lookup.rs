//! The portal's lookups, answered from the cases store: a Linea INPS ticket's status by its
//! number, and the appointment booked during this call (for the read-back node an operator
//! passes the caller to).

use crate::cases::CaseStore;
use crate::cases::appointment::{Appointment, AppointmentStatus, Mode};
use crate::ivr::{FoundAppointment, LookupAnswer, Service};
use std::sync::Arc;
use tracing::warn;

/// Ask the store; `unavailable` when it cannot answer.
pub async fn lookup(
    store: &Option<Arc<dyn CaseStore>>,
    service: Service,
    input: Option<String>,
    call_id: &str,
) -> LookupAnswer {
    let Some(store) = store.clone() else { return "unavailable".into() };
    let asked = match service {
        Service::TicketStatus => {
            let number = input.unwrap_or_default();
            store.ticket(&number).await.map(|t| t.map_or("not_found".into(), |t| t.status.name().into()))
        }
        Service::Appointment => store.appointments_of_call(call_id).await.map(|a| appointment_answer(&a)),
    };
    asked.unwrap_or_else(|e| {
        warn!(error = %e, service = service.name(), "cases store unavailable for a lookup");
        "unavailable".into()
    })
}

/// The latest appointment of the call still booked (a rescheduled one at its new time);
/// `not_found` when none is.
pub fn appointment_answer(of_call: &[Appointment]) -> LookupAnswer {
    let Some(a) = of_call.iter().rev().find(|a| a.status == AppointmentStatus::Booked) else {
        return "not_found".into();
    };
    let result = match a.fields.mode {
        Mode::Counter => "counter",
        Mode::Phone => "phone",
        Mode::Video => "video",
    };
    LookupAnswer {
        result: result.into(),
        appointment: Some(FoundAppointment { agency: a.fields.agency.clone(), start: a.fields.start }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::appointment::NewAppointment;
    use chrono::NaiveDate;

    fn booked(id: &str, agency: &str, day: u32, mode: Mode, status: AppointmentStatus) -> Appointment {
        Appointment {
            id: id.into(),
            fields: NewAppointment {
                agency: agency.into(),
                start: NaiveDate::from_ymd_opt(2026, 12, day).unwrap().and_hms_opt(9, 30, 0).unwrap(),
                codice_fiscale: "RSSMRA85T10A562S".into(),
                phone: "+393331234567".into(),
                subject: "pension".into(),
                mode,
                call_id: Some("c1".into()),
                booked_by: "mrossi".into(),
            },
            status,
            history: vec![],
        }
    }

    #[test]
    fn the_latest_booked_appointment_of_the_call_is_read_back() {
        assert_eq!(appointment_answer(&[]).result, "not_found");
        let first = booked("A0000001", "latina", 14, Mode::Counter, AppointmentStatus::Booked);
        let second = booked("A0000002", "napoli-centro", 15, Mode::Video, AppointmentStatus::Booked);
        let answer = appointment_answer(&[first.clone(), second]);
        assert_eq!(answer.result, "video");
        assert_eq!(answer.appointment.unwrap().agency, "napoli-centro");
        let cancelled = booked("A0000002", "napoli-centro", 15, Mode::Video, AppointmentStatus::Cancelled);
        let answer = appointment_answer(&[first, cancelled.clone()]);
        assert_eq!(answer.result, "counter", "a cancelled booking is not read back");
        assert_eq!(answer.appointment.unwrap().start.format("%d %H:%M").to_string(), "14 09:30");
        assert_eq!(appointment_answer(&[cancelled]).result, "not_found");
    }
}
