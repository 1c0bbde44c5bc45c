//! Calendar facts shared by voice-portal schedules, office hours and agency agendas:
//! weekly opening hours and the Italian national holidays.

use chrono::{Datelike, NaiveDate, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The time zone every schedule of the switchboard is written in.
pub const TIME_ZONE: chrono_tz::Tz = chrono_tz::Europe::Rome;

/// An instant as people in Italy read it: `2026-07-01 12:00:00 CEST`.
pub fn italian_time(at: chrono::DateTime<chrono::Utc>) -> String {
    at.with_timezone(&TIME_ZONE).format("%Y-%m-%d %H:%M:%S %Z").to_string()
}

/// An opening interval within one day, `HH:MM-HH:MM`, start inclusive, end exclusive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeRange {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

/// `24:00` as the end of a range: the last instant of the day (NaiveTime stops at 23:59:59.9...).
pub const END_OF_DAY: NaiveTime = match NaiveTime::from_hms_nano_opt(23, 59, 59, 999_999_999) {
    Some(t) => t,
    None => panic!("a valid time"),
};

/// `HH:MM` of a range's bound (`24:00` for [`END_OF_DAY`]).
pub fn hh_mm(t: NaiveTime) -> String {
    if t == END_OF_DAY { "24:00".into() } else { t.format("%H:%M").to_string() }
}

impl TimeRange {
    pub fn contains(&self, t: NaiveTime) -> bool {
        self.start <= t && t < self.end
    }
}

impl FromStr for TimeRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("`{s}` is not a time range; write it as HH:MM-HH:MM, e.g. 08:30-12:30"))?;
        let parse = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .map_err(|_| format!("`{}` is not a time of day; write HH:MM, e.g. 08:30", t.trim()))
        };
        // A range may end at 24:00 (open until midnight).
        let end = if b.trim() == "24:00" { Ok(END_OF_DAY) } else { parse(b) };
        let (start, end) = (parse(a)?, end?);
        if start >= end {
            return Err(format!("`{s}` ends before it starts; the end must be later than the start"));
        }
        Ok(Self { start, end })
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", hh_mm(self.start), hh_mm(self.end))
    }
}

impl<'de> Deserialize<'de> for TimeRange {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for TimeRange {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl schemars::JsonSchema for TimeRange {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "TimeRange".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$",
            "description": "Opening interval HH:MM-HH:MM (end excluded)"
        })
    }
}

/// Opening hours per weekday; a day that is not listed is closed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    #[serde(default)]
    pub mon: Vec<TimeRange>,
    #[serde(default)]
    pub tue: Vec<TimeRange>,
    #[serde(default)]
    pub wed: Vec<TimeRange>,
    #[serde(default)]
    pub thu: Vec<TimeRange>,
    #[serde(default)]
    pub fri: Vec<TimeRange>,
    #[serde(default)]
    pub sat: Vec<TimeRange>,
    #[serde(default)]
    pub sun: Vec<TimeRange>,
}

impl WeeklyHours {
    pub fn day(&self, d: Weekday) -> &[TimeRange] {
        match d {
            Weekday::Mon => &self.mon,
            Weekday::Tue => &self.tue,
            Weekday::Wed => &self.wed,
            Weekday::Thu => &self.thu,
            Weekday::Fri => &self.fri,
            Weekday::Sat => &self.sat,
            Weekday::Sun => &self.sun,
        }
    }

    /// Whether the hours are open at `t` on weekday `d` (holidays are the caller's concern).
    pub fn is_open(&self, d: Weekday, t: NaiveTime) -> bool {
        self.day(d).iter().any(|r| r.contains(t))
    }

    /// The first problem found in a day's list: overlapping or unsorted intervals.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in WEEK {
            for pair in self.day(d).windows(2) {
                if pair[1].start < pair[0].end {
                    out.push(format!(
                        "{}: `{}` and `{}` overlap or are out of order; list the intervals of a day in time order without overlaps",
                        weekday_key(d),
                        pair[0],
                        pair[1]
                    ));
                }
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        WEEK.iter().all(|d| self.day(*d).is_empty())
    }
}

/// Monday to Sunday.
pub const WEEK: [Weekday; 7] =
    [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

/// The key used for a weekday in configuration files.
pub fn weekday_key(d: Weekday) -> &'static str {
    ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][d.num_days_from_monday() as usize]
}

/// Easter Sunday of a Gregorian year (anonymous Gregorian algorithm, Meeus/Jones/Butcher).
/// Written by hand: it is ten lines of arithmetic, not worth a dependency.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("valid Easter date")
}

/// The name of the Italian national holiday falling on `date`, if any.
///
/// Fixed holidays of law 260/1949 and later changes, Easter Monday, and 4 October
/// (San Francesco, a national holiday again from 2026 by law 151/2025).
/// Local patron saints' days are not national: add them as closed dates.
pub fn italian_holiday(date: NaiveDate) -> Option<&'static str> {
    let fixed = match (date.month(), date.day()) {
        (1, 1) => Some("Capodanno"),
        (1, 6) => Some("Epifania"),
        (4, 25) => Some("Festa della Liberazione"),
        (5, 1) => Some("Festa del Lavoro"),
        (6, 2) => Some("Festa della Repubblica"),
        (8, 15) => Some("Ferragosto"),
        (10, 4) if date.year() >= 2026 => Some("San Francesco d'Assisi"),
        (11, 1) => Some("Ognissanti"),
        (12, 8) => Some("Immacolata Concezione"),
        (12, 25) => Some("Natale"),
        (12, 26) => Some("Santo Stefano"),
        _ => None,
    };
    fixed.or_else(|| {
        let easter = easter_sunday(date.year());
        if date == easter {
            Some("Pasqua")
        } else if date == easter.succ_opt()? {
            Some("Lunedì dell'Angelo")
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn instants_read_in_italian_time_with_the_zone() {
        use chrono::TimeZone;
        let summer = chrono::Utc.with_ymd_and_hms(2026, 7, 1, 10, 0, 0).unwrap();
        let winter = chrono::Utc.with_ymd_and_hms(2026, 12, 7, 23, 30, 0).unwrap();
        assert_eq!(italian_time(summer), "2026-07-01 12:00:00 CEST");
        assert_eq!(italian_time(winter), "2026-12-08 00:30:00 CET", "the next day in Rome");
    }

    #[test]
    fn easter_matches_known_years() {
        assert_eq!(easter_sunday(2024), d(2024, 3, 31));
        assert_eq!(easter_sunday(2025), d(2025, 4, 20));
        assert_eq!(easter_sunday(2026), d(2026, 4, 5));
        assert_eq!(easter_sunday(2027), d(2027, 3, 28));
        assert_eq!(easter_sunday(2038), d(2038, 4, 25));
    }

    #[test]
    fn holidays() {
        assert_eq!(italian_holiday(d(2026, 4, 6)), Some("Lunedì dell'Angelo"));
        assert_eq!(italian_holiday(d(2026, 6, 2)), Some("Festa della Repubblica"));
        assert_eq!(italian_holiday(d(2026, 10, 4)), Some("San Francesco d'Assisi"));
        assert_eq!(italian_holiday(d(2025, 10, 4)), None);
        assert_eq!(italian_holiday(d(2026, 11, 23)), None);
    }

    #[test]
    fn ranges_parse_and_reject_nonsense() {
        let r: TimeRange = "08:30-12:30".parse().unwrap();
        assert!(r.contains(NaiveTime::from_hms_opt(8, 30, 0).unwrap()));
        assert!(!r.contains(NaiveTime::from_hms_opt(12, 30, 0).unwrap()));
        assert!("12:30-08:30".parse::<TimeRange>().is_err());
        assert!("8.30-12".parse::<TimeRange>().is_err());
        assert!("25:00-26:00".parse::<TimeRange>().is_err());
        let all_day: TimeRange = "00:00-24:00".parse().unwrap();
        assert!(all_day.contains(NaiveTime::from_hms_opt(23, 59, 59).unwrap()));
        assert_eq!(all_day.to_string(), "00:00-24:00");
        assert!("24:00-24:00".parse::<TimeRange>().is_err(), "24:00 only ends a range");
    }

    #[test]
    fn overlapping_intervals_are_reported() {
        let w = WeeklyHours {
            mon: vec!["08:00-12:00".parse().unwrap(), "11:00-13:00".parse().unwrap()],
            ..Default::default()
        };
        assert_eq!(w.problems().len(), 1);
    }
}
