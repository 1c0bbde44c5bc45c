//! A citizen called back, as a pure state machine driven by the same host, inputs and outputs
//! as an incoming [`super::machine::Call`]: the citizen has answered the switchboard's INVITE;
//! they hear that INPS is calling them back and press 1; their call takes the request's place in
//! the queue, where the operator kept for them is rung; then they talk. No key after the
//! greeting said three times (an answering machine), or a hang-up first: the attempt failed and
//! the distribution is told so, which frees the operator at once.

use super::machine::{Input, Now, Output};
use super::record::{CallRecord, Ending};
use crate::acd::{CallBack, Event as AcdEvent, Route};
use crate::ivr::{Lang, Utterance, speech};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tracing::{debug, info};

/// How long the citizen has to press 1 after each greeting.
const KEY_WAIT: Duration = Duration::from_secs(8);
/// Times the greeting is said.
const GREETINGS: u8 = 3;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// The greeting has been said `said` times; once it ends, 1 is awaited until `until`.
    Greeting {
        said: u8,
        until: Option<Instant>,
    },
    /// At the request's place, waiting for the kept operator (or the next).
    Waiting {
        announcing: bool,
    },
    Bridged {
        operator: String,
    },
    Farewell(Ending),
    Ended,
}

/// A callback call, from the citizen's answer to the record.
pub struct CallBackCall {
    attempt: CallBack,
    lang: Lang,
    media_timeout: Duration,
    record: CallRecord,
    phase: Phase,
    /// The citizen's last packet.
    heard: Instant,
    /// The call has taken the request's place (the distribution must be told when it ends).
    joined: bool,
    out: VecDeque<Output>,
}

impl CallBackCall {
    /// The citizen has just answered: the greeting starts. `record` is this call's (its id, the
    /// number presented and the citizen's).
    pub fn new(attempt: CallBack, record: CallRecord, media_timeout: Duration, now: Now) -> CallBackCall {
        let lang = Lang::parse(&attempt.facts.language).unwrap_or(Lang::It);
        let mut call = CallBackCall {
            attempt,
            lang,
            media_timeout,
            record,
            phase: Phase::Greeting { said: 1, until: None },
            heard: now.at,
            joined: false,
            out: VecDeque::new(),
        };
        call.record.answered = Some(now.wall);
        call.record.language = Some(lang);
        call.out.push_back(Output::Answer);
        call.play(vec!["callback_greeting".into()]);
        call
    }

    /// The id the distribution knows the call by: the request's.
    pub fn queue_id(&self) -> &str {
        &self.attempt.call
    }

    pub fn record(&self) -> &CallRecord {
        &self.record
    }

    pub fn into_record(self) -> CallRecord {
        self.record
    }

    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let phase = match &self.phase {
            Phase::Ended => return None,
            Phase::Greeting { until, .. } => *until,
            _ => None,
        };
        [phase, Some(self.heard + self.media_timeout)].into_iter().flatten().min()
    }

    pub fn handle(&mut self, input: Input, now: Now) {
        if self.phase == Phase::Ended {
            if let Input::OperatorAnswered { .. } = input {
                self.out.push_back(Output::Release);
            }
            return;
        }
        match input {
            Input::CallerHangup => self.citizen_gone("hung up", now),
            Input::Heard(at) => self.heard = self.heard.max(at),
            Input::Media { .. } => {}
            Input::Key(key) => self.key(key.0),
            Input::PlaybackDone => self.playback_done(now),
            Input::Announce { ahead, wait, .. } => {
                if let Phase::Waiting { announcing, .. } = &mut self.phase {
                    *announcing = true;
                    self.play(speech::queue_position(ahead, wait));
                } else {
                    self.tell(AcdEvent::AnnouncementDone { call: self.attempt.call.clone() });
                }
            }
            Input::StopAnnouncement => {
                if let Phase::Waiting { announcing, .. } = &mut self.phase
                    && std::mem::take(announcing)
                {
                    self.out.push_back(Output::HoldMusic);
                }
            }
            Input::Route(route) => {
                if let Phase::Waiting { .. } = self.phase {
                    let section = self.attempt.section.clone();
                    let prompt = match route {
                        Route::Message(prompt) => prompt,
                        Route::Node(_) | Route::Section(_) => "queue_timeout".into(),
                    };
                    info!(%prompt, "leaving the queue with a message");
                    self.out
                        .push_back(Output::Play { lang: self.lang, items: vec![Utterance::Prompt(prompt.clone())] });
                    self.phase = Phase::Farewell(Ending::QueueMessage { section, prompt });
                }
            }
            Input::OperatorAnswered { operator } => self.operator_answered(operator, now),
            Input::OperatorHangup => {
                if let Phase::Bridged { operator } = &self.phase {
                    info!(%operator, "the operator hung up");
                    let ending = Ending::Answered { section: self.attempt.section.clone(), operator: operator.clone() };
                    self.tell(AcdEvent::OperatorHangup { call: self.attempt.call.clone() });
                    self.out.push_back(Output::Hangup);
                    self.end(ending, now);
                }
            }
            Input::Queued { .. }
            | Input::LookupResult(_)
            | Input::AskCallbackNumber
            | Input::CallbackAccepted { .. }
            | Input::CallbackRefused(_) => debug!("input for an incoming call: ignored"),
        }
    }

    pub fn handle_timeout(&mut self, now: Now) {
        if self.phase == Phase::Ended {
            return;
        }
        if self.heard + self.media_timeout <= now.at {
            info!("no RTP from the citizen for {:?}: ending the call", self.media_timeout);
            self.out.push_back(Output::Hangup);
            return self.citizen_gone("no media", now);
        }
        if let Phase::Greeting { said, until: Some(until) } = self.phase
            && until <= now.at
        {
            if said < GREETINGS {
                self.phase = Phase::Greeting { said: said + 1, until: None };
                self.play(vec!["callback_greeting".into()]);
            } else {
                info!("the citizen did not press 1");
                self.out.push_back(Output::Hangup);
                self.citizen_gone("no key pressed", now);
            }
        }
    }

    fn key(&mut self, key: char) {
        self.record.keys.push(key);
        if let (Phase::Greeting { .. }, '1') = (&self.phase, key) {
            info!("the citizen pressed 1: to the operator kept for them");
            self.out.push_back(Output::StopPlayback);
            self.play(vec!["callback_connecting".into()]);
            self.out.push_back(Output::CalledBack { section: self.attempt.section.clone() });
            self.joined = true;
            self.phase = Phase::Waiting { announcing: false };
        }
    }

    fn playback_done(&mut self, now: Now) {
        match &mut self.phase {
            Phase::Greeting { until, .. } => *until = Some(now.at + KEY_WAIT),
            // The end of "connecting you" or of a position announcement: the hold music.
            Phase::Waiting { announcing, .. } => {
                if std::mem::take(announcing) {
                    self.tell(AcdEvent::AnnouncementDone { call: self.attempt.call.clone() });
                }
                self.out.push_back(Output::HoldMusic);
            }
            Phase::Farewell(ending) => {
                let ending = ending.clone();
                self.out.push_back(Output::Hangup);
                self.end(ending, now);
            }
            _ => {}
        }
    }

    fn operator_answered(&mut self, operator: String, now: Now) {
        let Phase::Waiting { .. } = self.phase else {
            return self.out.push_back(Output::Release);
        };
        info!(%operator, "the citizen called back is connected to the operator");
        let mut pop = (*self.attempt.facts).clone();
        pop.operator.clone_from(&operator);
        pop.called_back = Some(self.attempt.number.to_string());
        pop.waited_s = (now.wall - pop.arrived).num_seconds().max(0) as u64;
        self.out.push_back(Output::StopPlayback);
        self.out.push_back(Output::Bridge);
        self.out.push_back(Output::ScreenPop(Box::new(pop)));
        self.phase = Phase::Bridged { operator };
    }

    /// The citizen's line ended (or went silent): before 1 the attempt failed; after, they
    /// left the queue or the conversation.
    fn citizen_gone(&mut self, why: &str, now: Now) {
        let (call, section) = (self.attempt.call.clone(), self.attempt.section.clone());
        let ending = match &self.phase {
            Phase::Greeting { .. } => {
                self.tell(AcdEvent::CallbackFailed { call, reason: why.into() });
                Ending::CallbackUnconfirmed { section }
            }
            Phase::Waiting { .. } => {
                self.tell(AcdEvent::CallerHangup { call });
                Ending::Abandoned { section }
            }
            Phase::Bridged { operator } => {
                let ending = Ending::Answered { section, operator: operator.clone() };
                self.tell(AcdEvent::CallerHangup { call });
                ending
            }
            Phase::Farewell(ending) => ending.clone(),
            Phase::Ended => return,
        };
        self.end(ending, now);
    }

    fn end(&mut self, ending: Ending, now: Now) {
        if let Phase::Bridged { operator } = &self.phase {
            let operator = operator.clone();
            self.out.push_back(Output::Unbridge);
            self.out.push_back(Output::BridgeEnded { operator });
        }
        if self.joined {
            self.out.push_back(Output::Leave);
        }
        self.record.ended = now.wall;
        self.record.ending = ending;
        info!(ending = %self.record.ending, "callback call ended");
        self.phase = Phase::Ended;
        self.out.push_back(Output::Ended);
    }

    fn play(&mut self, words: Vec<String>) {
        let items = words.into_iter().map(Utterance::Word).collect();
        self.out.push_back(Output::Play { lang: self.lang, items });
    }

    fn tell(&mut self, event: AcdEvent) {
        self.out.push_back(Output::Tell(event));
    }
}
