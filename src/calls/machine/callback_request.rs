//! A waiting caller asking to be called back: the number they call from read back digit by
//! digit (1 confirms, 2 gives another), or one keyed in and checked against the numbering plan;
//! then the distribution's answer. Meanwhile the caller is still in the queue: an operator who
//! frees up connects them as usual.

use super::{Call, Now, Output, Phase};
use crate::acd::Event as AcdEvent;
use crate::ivr::speech;
use crate::vocabulary::CallbackNumber;
use std::time::{Duration, Instant};
use tracing::{debug, info};

/// Where a callback request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum RequestStep {
    /// The number is read back: 1 confirms, 2 gives another; no key by `until`: back to waiting.
    Confirm { number: CallbackNumber, until: Instant },
    /// A number is being keyed in, ended with # or a pause (`until`); * gives up.
    Typing { digits: String, until: Instant },
    /// The distribution has been asked; its answer comes.
    Asked,
    /// A refusal plays; then back to waiting.
    Refused,
}

/// How long the caller has to confirm the number read back (the reading included).
const CONFIRM_WAIT: Duration = Duration::from_secs(25);
/// How long the caller has to start keying a number (the prompt included), and between keys.
const FIRST_DIGIT_WAIT: Duration = Duration::from_secs(20);
const NEXT_DIGIT_WAIT: Duration = Duration::from_secs(5);
/// Numbers refused before the caller is sent back to waiting.
const MAX_REFUSED: u8 = 2;

impl Call {
    /// The callback key was pressed: read back the number the caller calls from, or ask for
    /// one when it cannot be called back (withheld, abroad, a switchboard's).
    pub(super) fn ask_callback_number(&mut self, now: Now) {
        let Phase::Queued { section, since, announcing } = &self.phase else {
            return debug!("callback asked by a call not waiting: ignored");
        };
        let (section, since, announcing) = (section.clone(), *since, *announcing);
        if announcing {
            self.tell_announcement_done();
        }
        info!("callback asked");
        self.out.push_back(Output::StopPlayback);
        let step = RequestStep::Asked;
        self.phase = Phase::CallbackRequest { section, since, step, refused: 0 };
        match self.settings.plan.check(&self.record.origin.caller) {
            Ok(number) => self.confirm_number(number, now),
            Err(_) => self.ask_to_type(Vec::new(), now),
        }
    }

    fn set_step(&mut self, new: RequestStep) {
        if let Phase::CallbackRequest { step, .. } = &mut self.phase {
            *step = new;
        }
    }

    fn confirm_number(&mut self, number: CallbackNumber, now: Now) {
        let mut words = vec!["callback_confirm_before".to_string()];
        words.extend(speech::digits(&number.dialled()));
        words.push("callback_confirm_after".into());
        self.play_words(words);
        self.set_step(RequestStep::Confirm { number, until: now.at + CONFIRM_WAIT });
    }

    /// Ask for a number, after `before` (why the last one was refused).
    fn ask_to_type(&mut self, mut before: Vec<String>, now: Now) {
        before.push("callback_type_number".into());
        self.play_words(before);
        self.set_step(RequestStep::Typing { digits: String::new(), until: now.at + FIRST_DIGIT_WAIT });
    }

    pub(super) fn request_key(&mut self, key: char, now: Now) {
        let Phase::CallbackRequest { step, .. } = &mut self.phase else { return };
        match (step, key) {
            (RequestStep::Confirm { number, .. }, '1') => {
                let number = number.clone();
                self.out.push_back(Output::StopPlayback);
                self.set_step(RequestStep::Asked);
                let (call, caller) = (self.record.call_id.clone(), self.record.origin.caller.clone());
                let section = self.section().unwrap_or_default();
                let facts = Box::new(self.screen_pop("", &section, now.at.saturating_duration_since(self.since())));
                self.out.push_back(Output::Tell(AcdEvent::RequestCallback { call, number, caller, facts }));
            }
            (RequestStep::Confirm { .. }, '2') => {
                self.out.push_back(Output::StopPlayback);
                self.ask_to_type(Vec::new(), now);
            }
            (RequestStep::Typing { .. }, '*') => {
                info!("callback abandoned by the caller: back to waiting");
                self.back_to_waiting();
            }
            (RequestStep::Typing { .. }, '#') => self.number_keyed(now),
            (RequestStep::Typing { digits, until }, d @ '0'..='9') => {
                if digits.is_empty() {
                    self.out.push_back(Output::StopPlayback);
                }
                // Longer than any number: the rest is ignored and the number refused.
                if digits.len() < 20 {
                    digits.push(d);
                }
                *until = now.at + NEXT_DIGIT_WAIT;
            }
            _ => debug!(%key, "key ignored in the callback request"),
        }
    }

    /// The keyed number is complete (# or a pause): read back, or refused.
    pub(super) fn number_keyed(&mut self, now: Now) {
        let Phase::CallbackRequest { step: RequestStep::Typing { digits, .. }, refused, .. } = &mut self.phase else {
            return;
        };
        if digits.is_empty() {
            return self.back_to_waiting();
        }
        match self.settings.plan.check(digits) {
            Ok(number) => self.confirm_number(number, now),
            Err(why) => {
                *refused += 1;
                info!(refusal = why.name(), "a number that cannot be called back");
                if *refused >= MAX_REFUSED {
                    self.set_step(RequestStep::Refused);
                    self.play_words(vec!["callback_number_refused".into(), "callback_stay".into()]);
                } else {
                    self.ask_to_type(vec!["callback_number_refused".into()], now);
                }
            }
        }
    }

    /// Out of the callback request, waiting on the line at the same place.
    pub(super) fn back_to_waiting(&mut self) {
        if let Phase::CallbackRequest { section, since, .. } = &self.phase {
            self.phase = Phase::Queued { section: section.clone(), announcing: false, since: *since };
            self.out.push_back(Output::StopPlayback);
            self.out.push_back(Output::HoldMusic);
        }
    }
}
