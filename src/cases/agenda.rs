//! An agency's agenda: the appointment slots its weekly template gives, generated on the fly for
//! the days asked (never stored ahead), minus national holidays and the agency's closing days.
//! Pure: the configuration and dates in, slots out.

use crate::calendar::{END_OF_DAY, italian_holiday};
use crate::config::Agency;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};

/// Why a time is not a slot of an agency's agenda.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgendaError {
    #[error("{date} is a closing day of {agency} ({why})")]
    Closed { agency: String, date: NaiveDate, why: String },
    #[error("{start} is not a slot of {agency}'s agenda: slots of {minutes} minutes start at {hint}")]
    NotASlot { agency: String, start: NaiveDateTime, minutes: u32, hint: String },
    #[error("{start} has passed")]
    Past { start: NaiveDateTime },
    #[error("{start} is beyond {agency}'s agenda, which is open for booking until {last_day}")]
    BeyondHorizon { agency: String, start: NaiveDateTime, last_day: NaiveDate },
}

/// The last day `agency` takes bookings for, seen on `today`.
pub fn last_day(agency: &Agency, today: NaiveDate) -> NaiveDate {
    today + chrono::Days::new((*agency.booking_horizon_days.get_ref()).into())
}

/// Why the agency is closed on `date`, if it is.
pub fn closed(agency: &Agency, date: NaiveDate) -> Option<String> {
    if let Some(h) = italian_holiday(date) {
        return Some(h.to_string());
    }
    agency.closed.contains(&date).then(|| "closing day".to_string())
}

/// The slots of one day, in order (Europe/Rome local times).
pub fn day_slots(agency: &Agency, date: NaiveDate) -> Vec<NaiveDateTime> {
    if closed(agency, date).is_some() {
        return Vec::new();
    }
    let minutes = i64::from(*agency.slot_minutes.get_ref()).max(1);
    let mut out = Vec::new();
    for range in agency.agenda.get_ref().day(date.weekday()) {
        let mut t = date.and_time(range.start);
        let end = date.and_time(range.end);
        let end = if range.end == END_OF_DAY { end + Duration::nanoseconds(1) } else { end };
        while t + Duration::minutes(minutes) <= end {
            out.push(t);
            t += Duration::minutes(minutes);
        }
    }
    out
}

/// The slots from `from` for `days` days.
pub fn slots(agency: &Agency, from: NaiveDate, days: u32) -> Vec<NaiveDateTime> {
    (0..days)
        .filter_map(|i| from.checked_add_days(chrono::Days::new(u64::from(i))))
        .flat_map(|d| day_slots(agency, d))
        .collect()
}

/// Check that `start` is a slot of the agenda, not before `now` (local times).
pub fn check(agency: &Agency, start: NaiveDateTime, now: NaiveDateTime) -> Result<(), AgendaError> {
    let id = agency.id.get_ref().clone();
    if start < now {
        return Err(AgendaError::Past { start });
    }
    let last_day = last_day(agency, now.date());
    if start.date() > last_day {
        return Err(AgendaError::BeyondHorizon { agency: id, start, last_day });
    }
    if let Some(why) = closed(agency, start.date()) {
        return Err(AgendaError::Closed { agency: id, date: start.date(), why });
    }
    let day = day_slots(agency, start.date());
    if day.contains(&start) {
        return Ok(());
    }
    let hint = match day.first() {
        Some(first) => format!(
            "{} and every {} minutes within the agenda's hours",
            first.format("%H:%M"),
            agency.slot_minutes.get_ref()
        ),
        None => "no time that day: the agency takes no appointments on that weekday".into(),
    };
    Err(AgendaError::NotASlot { agency: id, start, minutes: *agency.slot_minutes.get_ref(), hint })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agency() -> Agency {
        toml::from_str(
            r#"
id = "x"
name = "Agenzia X"
province = "LT"
address = "Via X 1"
slot_minutes = 30
closed = ["2026-12-22"]
[agenda]
tue = ["09:00-10:00", "14:00-14:45"]
"#,
        )
        .unwrap()
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap()
    }

    #[test]
    fn slots_follow_the_template_and_skip_closing_days() {
        let a = agency();
        let tue = NaiveDate::from_ymd_opt(2026, 12, 1).unwrap();
        assert_eq!(day_slots(&a, tue), [at("2026-12-01 09:00"), at("2026-12-01 09:30"), at("2026-12-01 14:00")]);
        assert!(day_slots(&a, tue.succ_opt().unwrap()).is_empty(), "no agenda on Wednesdays");
        assert!(day_slots(&a, NaiveDate::from_ymd_opt(2026, 12, 8).unwrap()).is_empty(), "Immacolata");
        assert!(day_slots(&a, NaiveDate::from_ymd_opt(2026, 12, 22).unwrap()).is_empty(), "the agency's closing day");
        assert_eq!(slots(&a, tue, 8).len(), 3, "two Tuesdays in eight days, the second (8 December) a holiday");
    }

    #[test]
    fn checks_say_why_a_time_is_refused() {
        let a = agency();
        let now = at("2026-11-30 12:00");
        assert_eq!(check(&a, at("2026-12-01 09:30"), now), Ok(()));
        assert!(matches!(check(&a, at("2026-12-01 09:15"), now), Err(AgendaError::NotASlot { .. })));
        assert!(
            matches!(check(&a, at("2026-12-01 14:30"), now), Err(AgendaError::NotASlot { .. })),
            "no room for 30 min"
        );
        assert!(matches!(check(&a, at("2026-12-22 09:00"), now), Err(AgendaError::Closed { .. })));
        assert!(matches!(check(&a, at("2026-11-24 09:00"), now), Err(AgendaError::Past { .. })));
        let e = check(&a, at("2026-12-02 09:00"), now).unwrap_err().to_string();
        assert!(e.contains("no appointments on that weekday"), "{e}");
        // 90 days ahead by default: 28 February 2027 (a Sunday) is the last bookable day.
        assert!(matches!(check(&a, at("2027-02-23 09:00"), now), Ok(())));
        let e = check(&a, at("2027-03-02 09:00"), now).unwrap_err();
        assert!(matches!(e, AgendaError::BeyondHorizon { .. }), "{e}");
        assert!(e.to_string().ends_with("open for booking until 2027-02-28"), "{e}");
        assert!(matches!(check(&a, at("9999-12-28 09:00"), now), Err(AgendaError::BeyondHorizon { .. })));
    }
}
