//! An appointment with an official of a local agency, in one slot of its agenda. Booked,
//! cancelled, or moved to another slot (rescheduled), each change kept with who and when.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

/// How the citizen meets the official.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// At the agency's counter.
    Counter,
    /// The official phones the citizen back.
    Phone,
    Video,
}

/// What an operator fills in to book.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAppointment {
    pub agency: String,
    /// The slot's start, Europe/Rome local time.
    pub start: NaiveDateTime,
    pub codice_fiscale: String,
    pub phone: String,
    pub subject: String,
    pub mode: Mode,
    pub call_id: Option<String>,
    pub booked_by: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    Booked,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppointmentChange {
    pub at: DateTime<Utc>,
    pub by: String,
    #[serde(flatten)]
    pub what: AppointmentChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum AppointmentChangeKind {
    Booked,
    Cancelled,
    Rescheduled { from: NaiveDateTime },
}

/// A stored appointment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Appointment {
    /// `A` and a number.
    pub id: String,
    #[serde(flatten)]
    pub fields: NewAppointment,
    pub status: AppointmentStatus,
    pub history: Vec<AppointmentChange>,
}
