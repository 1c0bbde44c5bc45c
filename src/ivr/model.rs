//! The voice-portal tree language, as administrators write it in `ivr-trees/*.yaml`.
//! `centralino schema` prints the JSON Schema derived from these types; docs/ivr-trees.md
//! is the reference with examples.

use super::at::At;
use super::pairs::Pairs;
use crate::calendar::WeeklyHours;
use chrono::NaiveDate;
use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A language callers can choose; prompts exist once per language.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Italiano
    It,
    /// English
    En,
    /// Deutsch (the province of Bolzano/Bozen is bilingual by law)
    De,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::It, Lang::En, Lang::De];

    pub fn code(self) -> &'static str {
        match self {
            Lang::It => "it",
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The language of a code (`it`, `en`, `de`).
    pub fn parse(code: &str) -> Option<Lang> {
        Lang::ALL.into_iter().find(|l| l.code() == code)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A telephone key: `0`-`9`, `*`, `#` (and `A`-`D` of RFC 4733). In YAML, quote `"*"` and `"#"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key(pub char);

impl Key {
    pub fn parse(s: &str) -> Option<Key> {
        let mut cs = s.chars();
        match (cs.next(), cs.next()) {
            (Some(c @ ('0'..='9' | '*' | '#' | 'A'..='D')), None) => Some(Key(c)),
            _ => None,
        }
    }

    pub fn is_digit(self) -> bool {
        self.0.is_ascii_digit()
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("one telephone key: 0-9, \"*\" or \"#\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Key, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Key, E> {
                self.visit_str(&v.to_string())
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key, E> {
                Key::parse(v).ok_or_else(|| {
                    E::custom(format!("`{v}` is not a telephone key; use one of 0-9, \"*\" or \"#\" (quote * and #)"))
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for Key {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Key".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "One telephone key: 0-9, \"*\" or \"#\" (quote * and # in YAML)",
            "anyOf": [
                { "type": "string", "pattern": "^[0-9*#A-D]$" },
                { "type": "integer", "minimum": 0, "maximum": 9 }
            ]
        })
    }
}

/// A voice-portal tree: one YAML file in `ivr-trees/`, named after the file.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TreeFile {
    /// What this tree is for, for administrators.
    #[serde(default)]
    pub description: Option<String>,
    /// The languages the tree speaks; the first is the default.
    pub languages: At<Vec<Lang>>,
    /// The node a call starts in.
    pub start: At<String>,
    /// The operator key, valid in menus and announcements unless a node turns it off.
    #[serde(default)]
    pub operator: OperatorKey,
    /// Defaults for menus and digit collection.
    #[serde(default)]
    pub defaults: Defaults,
    /// Nodes that other parts of the switchboard may send a call to (operator transfers,
    /// leaving a queue), so they count as reachable.
    #[serde(default)]
    pub entry_points: Vec<At<String>>,
    /// How the operators' console names nodes in a caller's path through the portal (node ->
    /// title, in the staff's language); nodes without a title (language choice, hours checks)
    /// are left out of the path it shows.
    #[serde(default)]
    pub titles: IndexMap<At<String>, String>,
    /// Named opening-hours calendars used by `schedule` nodes.
    #[serde(default)]
    pub schedules: IndexMap<At<String>, Schedule>,
    /// The prompt catalogue: name -> text per language (the transcript of `sounds/<lang>/<name>.wav`).
    pub prompts: IndexMap<At<String>, IndexMap<At<Lang>, String>>,
    /// The nodes of the tree, by name.
    pub nodes: IndexMap<At<String>, At<Node>>,
}

/// The global operator key.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorKey {
    /// The key (default `0`).
    #[serde(default = "default_operator_key")]
    pub key: At<Key>,
    /// Section reached from nodes that belong to no section (default: the config's general section).
    #[serde(default)]
    pub section: Option<At<String>>,
    /// Prompt played before queueing the caller to an operator.
    #[serde(default)]
    pub prompt: Option<At<String>>,
    /// Operators' opening hours: outside them, the operator key and `queue` nodes lead to
    /// `closed` instead of a queue.
    #[serde(default)]
    pub schedule: Option<At<String>>,
    /// Node for callers who ask for an operator outside `schedule`.
    #[serde(default)]
    pub closed: Option<At<String>>,
}

impl Default for OperatorKey {
    fn default() -> Self {
        Self { key: default_operator_key(), section: None, prompt: None, schedule: None, closed: None }
    }
}

fn default_operator_key() -> At<Key> {
    At::new(Key('0'), Default::default())
}

/// Defaults shared by the menus and collect nodes of a tree.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Seconds to wait for a key after a prompt (default 6).
    pub timeout: Option<At<u32>>,
    /// Extra attempts after a wrong key or silence (default 2).
    pub retries: Option<At<u8>>,
    /// Prompt after a key that is not an option.
    pub invalid_prompt: Option<At<String>>,
    /// Prompt after silence.
    pub timeout_prompt: Option<At<String>>,
    /// Node reached when retries are exhausted (typically a polite hang-up).
    pub on_exhausted: Option<At<String>>,
}

/// Opening hours for a `schedule` node, in Italian time (Europe/Rome).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// Open intervals per weekday; unlisted days are closed.
    pub hours: At<WeeklyHours>,
    /// Closed on Italian national holidays (default true).
    #[serde(default = "yes")]
    pub national_holidays: bool,
    /// Further closed dates (YYYY-MM-DD).
    #[serde(default)]
    pub closed_dates: Vec<NaiveDate>,
}

fn yes() -> bool {
    true
}

/// One node of the tree. Exactly one kind per node, written as the node's only key.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Node {
    /// Play a prompt and wait for a key.
    Menu(Menu),
    /// Play information, then go on.
    Play(Play),
    /// Collect a string of digits into a variable.
    Collect(Collect),
    /// Queue the caller to a section's operators.
    Queue(QueueNode),
    /// Optionally say goodbye, then end the call.
    Hangup(HangupNode),
    /// Jump to another node.
    Goto(At<String>),
    /// Go one way while the schedule is open, another when closed.
    Schedule(ScheduleSwitch),
    /// Let the caller choose the language.
    Language(LanguageChoice),
    /// Go on according to a fact of the call.
    Branch(Branch),
    /// Ask another part of the switchboard (e.g. ticket status) and go on by the result.
    Lookup(Lookup),
}

impl Node {
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Menu(_) => "menu",
            Node::Play(_) => "play",
            Node::Collect(_) => "collect",
            Node::Queue(_) => "queue",
            Node::Hangup(_) => "hangup",
            Node::Goto(_) => "goto",
            Node::Schedule(_) => "schedule",
            Node::Language(_) => "language",
            Node::Branch(_) => "branch",
            Node::Lookup(_) => "lookup",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Menu {
    pub prompt: At<String>,
    /// Key -> node.
    pub options: Pairs<At<Key>, At<String>>,
    /// The section this menu belongs to: the operator key queues there.
    #[serde(default)]
    pub section: Option<At<String>>,
    /// Whether the operator key works here (default true).
    #[serde(default = "yes")]
    pub operator: bool,
    pub timeout: Option<At<u32>>,
    pub retries: Option<At<u8>>,
    pub invalid_prompt: Option<At<String>>,
    pub timeout_prompt: Option<At<String>>,
    pub on_exhausted: Option<At<String>>,
}

/// A spoken item of a `play` node.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SayItem {
    /// A prompt of the catalogue.
    Prompt(At<String>),
    /// A fact of the provincial office of the number called.
    Office(OfficeFact),
    /// A variable read digit by digit.
    Digits(At<String>),
    /// A variable read as a number.
    Number(At<String>),
    /// A fact of the appointment found by the last `appointment` lookup.
    Appointment(AppointmentFact),
}

/// What a `play` node can say of the appointment an `appointment` lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentFact {
    /// Weekday and date: "martedì 15 dicembre" / "Tuesday December fifteenth".
    Day,
    /// The time, with its preposition: "alle ore 9 e 30" / "at 9 30".
    Time,
    /// The agency's name and address (recorded per agency in `sounds/agencies/`).
    Place,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OfficeFact {
    /// The office's address (recorded per province in `sounds/offices/`).
    Address,
    /// The office's opening hours, composed from number words.
    Hours,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Play {
    /// The prompt played first.
    #[serde(default)]
    pub prompt: Option<At<String>>,
    /// Further items spoken after the prompt.
    #[serde(default)]
    pub say: Vec<SayItem>,
    /// The node after the announcement.
    pub next: At<String>,
    /// Marks a self-service answer: the call record notes it by this label.
    #[serde(default)]
    pub answer: Option<String>,
    /// Whether a key interrupts the announcement (default true); keys are kept for the next menu.
    #[serde(default = "yes")]
    pub barge_in: bool,
    #[serde(default)]
    pub section: Option<At<String>>,
    #[serde(default = "yes")]
    pub operator: bool,
}

/// Named checks for collected digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DigitCheck {
    /// A Linea INPS ticket number: 9 digits, the last a Luhn check digit.
    TicketNumber,
    /// An Italian phone number: 6 to 11 digits starting with 0 or 3.
    PhoneNumber,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Collect {
    pub prompt: At<String>,
    pub min_digits: At<u8>,
    pub max_digits: At<u8>,
    /// Key that ends the input early (default `#`).
    #[serde(default)]
    pub terminator: Option<At<Key>>,
    /// Seconds to wait for the first digit.
    pub timeout: Option<At<u32>>,
    /// Seconds to wait between digits (default 4).
    pub inter_digit_timeout: Option<At<u32>>,
    #[serde(default)]
    pub check: Option<At<DigitCheck>>,
    /// Variable that receives the digits.
    pub var: At<String>,
    pub next: At<String>,
    /// Whether the operator key works here (default false: it is usually a digit of the input).
    #[serde(default)]
    pub operator: bool,
    pub retries: Option<At<u8>>,
    pub invalid_prompt: Option<At<String>>,
    pub timeout_prompt: Option<At<String>>,
    pub on_exhausted: Option<At<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueNode {
    pub section: At<String>,
    /// Prompt before joining the queue.
    #[serde(default)]
    pub prompt: Option<At<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HangupNode {
    /// Goodbye prompt.
    #[serde(default)]
    pub prompt: Option<At<String>>,
    /// Why the portal ends the call (for the call record).
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSwitch {
    pub schedule: At<String>,
    pub open: At<String>,
    pub closed: At<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LanguageChoice {
    /// Played in the tree's first language, before any choice: write its text in every
    /// language offered ("Per l'italiano prema 1. For English press 2.").
    pub prompt: At<String>,
    /// Key -> language.
    pub options: Pairs<At<Key>, At<Lang>>,
    /// Seconds to wait; on silence or a wrong key the tree's first language is used.
    pub timeout: Option<At<u32>>,
    pub next: At<String>,
}

/// Facts of a call a `branch` can test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    /// Province code of the number called (e.g. `LT`).
    Province,
    /// Region id of that province (e.g. `lazio`).
    Region,
    /// The called number in E.164 (e.g. `+390773691001`).
    Number,
    /// The language chosen (`it`, `en`).
    Language,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    pub on: At<Fact>,
    /// Value -> node.
    pub cases: Pairs<At<String>, At<String>>,
    pub default: At<String>,
}

/// Services a `lookup` node can ask.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Service {
    /// Status of a Linea INPS ticket by its number.
    TicketStatus,
    /// The appointment an operator booked during this call (no `input`): its mode is the
    /// result, its day, time and place are said with `appointment:` items.
    Appointment,
}

impl Service {
    pub const ALL: [Service; 2] = [Service::TicketStatus, Service::Appointment];

    /// The name used in YAML and logs.
    pub fn name(self) -> &'static str {
        match self {
            Service::TicketStatus => "ticket_status",
            Service::Appointment => "appointment",
        }
    }

    /// The results the service can give; a lookup node must say where each one goes.
    pub fn outcomes(self) -> &'static [&'static str] {
        match self {
            Service::TicketStatus => &["open", "taken", "answered", "returned", "not_found", "unavailable"],
            Service::Appointment => &["counter", "phone", "video", "not_found", "unavailable"],
        }
    }

    /// Whether the lookup is keyed by a variable the caller typed (`input:`).
    pub fn takes_input(self) -> bool {
        match self {
            Service::TicketStatus => true,
            Service::Appointment => false,
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lookup {
    pub service: At<Service>,
    /// Variable holding the key of the lookup (e.g. the ticket number collected before);
    /// required by `ticket_status`, not taken by `appointment`.
    #[serde(default)]
    pub input: Option<At<String>>,
    /// Result -> node.
    pub on: Pairs<At<String>, At<String>>,
}
