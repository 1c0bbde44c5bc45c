//! What the interpreter asks of its host (events in, these out), and how a call ended.

use super::model::{Lang, Service};
use super::speech::Word;
use chrono::NaiveDateTime;
use serde::Serialize;

/// One piece of audio to play.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Utterance {
    /// A prompt of the tree's catalogue: `sounds/<lang>/<name>.wav`.
    Prompt(String),
    /// A built-in word: `sounds/<lang>/words/<word>.wav`.
    Word(Word),
    /// The recorded address of a provincial office: `sounds/offices/<province>.wav`.
    OfficeAddress(String),
    /// The recorded name and address of an agency: `sounds/agencies/<agency>.wav`.
    AgencyAddress(String),
}

/// An instruction for the host (media, signalling, queues, services).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Play these utterances in order, in `lang`; report [`super::Event::PlaybackDone`] at the end.
    Play { lang: Lang, items: Vec<Utterance> },
    /// Stop the current playback at once (barge-in); no `PlaybackDone` is expected for it.
    StopPlayback,
    /// Ask a service (keyed by `input` for services that take one); answer with
    /// [`super::Event::LookupResult`].
    Lookup { service: Service, input: Option<String> },
    /// Put the caller in the queue of a section. The portal's part of the call is over.
    Enqueue { section: String },
    /// End the call.
    Hangup,
}

/// A service's answer to a [`Action::Lookup`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LookupAnswer {
    /// One of the service's results ([`Service::outcomes`]).
    pub result: String,
    /// The appointment found by an `appointment` lookup, said by `appointment:` items.
    pub appointment: Option<FoundAppointment>,
}

/// An appointment as the portal reads it back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundAppointment {
    /// The agency's id (its recording is `sounds/agencies/<id>.wav`).
    pub agency: String,
    /// The slot's start, Europe/Rome local time.
    pub start: NaiveDateTime,
}

impl From<&str> for LookupAnswer {
    fn from(result: &str) -> Self {
        Self { result: result.to_string(), appointment: None }
    }
}

impl From<String> for LookupAnswer {
    fn from(result: String) -> Self {
        Self { result, appointment: None }
    }
}

/// How the voice-portal part of a call ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Outcome {
    /// Sent to a section's queue.
    Queued { section: String },
    /// The portal ended the call (after an answer, out of hours, or repeated invalid input).
    PortalHangup { node: String, reason: Option<String> },
    /// The caller hung up while in `node`.
    CallerHangup { node: String },
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Queued { section } => write!(f, "queued to section {section}"),
            Outcome::PortalHangup { node, reason: Some(r) } => write!(f, "hung up by the portal in {node} ({r})"),
            Outcome::PortalHangup { node, reason: None } => {
                write!(f, "hung up by the portal in {node}")
            }
            Outcome::CallerHangup { node } => write!(f, "hung up by the caller in {node}"),
        }
    }
}
