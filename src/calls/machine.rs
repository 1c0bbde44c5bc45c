//! One incoming call as a pure state machine, in the manner of quinn-proto's `Connection`: the
//! host feeds it [`Input`]s and timeouts together with [`Now`], carries out the [`Output`]s it
//! polls, and wakes it at [`Call::poll_timeout`]. It owns the call's voice-portal [`Session`], its
//! queue phase, the bridge to an operator and the record. No sockets, clocks or randomness here:
//! the call's id comes in with its record, time comes in with each input.
//!
//! Whatever the order of inputs, a call ends exactly once ([`Output::Ended`]): an operator leg it
//! did not take is released, a distribution that knew it is told, and nothing is left to wake.

mod callback_request;
mod watch;

use callback_request::RequestStep;

pub use watch::Watch;

use super::record::{CallRecord, Ending};
use crate::acd::{CallbackRefusal, Event as AcdEvent, Route};
use crate::ivr::{Action, Event, Key, Lang, LookupAnswer, Service, Session, Time, Utterance, speech};
use crate::vocabulary::{CallPop, NumberingPlan};
use std::collections::VecDeque;
use std::time::{Duration, Instant};
use tracing::{debug, info};

/// The current time on both clocks: `at` for timers, `wall` for the record and opening hours.
#[derive(Clone, Copy, Debug)]
pub struct Now {
    pub at: Instant,
    pub wall: Time,
}

impl Now {
    /// The instant at which the wall clock reads `t` (now, if `t` has passed).
    fn instant_of(self, t: Time) -> Instant {
        self.at + (t - self.wall).to_std().unwrap_or_default()
    }
}

/// How a call behaves, from the configuration.
#[derive(Clone, Debug)]
pub struct Settings {
    /// How long the call rings before it is answered.
    pub answer_delay: Duration,
    /// End the call when no RTP arrives for this long while the caller should be sending.
    pub media_timeout: Duration,
    /// Without a distribution, a queued caller hears a holding message for at most this long.
    pub max_hold: Duration,
    /// Queued callers wait in the distribution (false: the holding message, then goodbye).
    pub distribution: bool,
    /// The INVITE had no offer: ours goes in the 200 and the portal starts with the answer.
    pub late_offer: bool,
    /// The numbers a callback may be asked for.
    pub plan: NumberingPlan,
}

/// Something that happened to the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The caller ended the call: CANCEL before the answer, BYE after, or the dialog failed.
    CallerHangup,
    /// The media is agreed (the answer in the ACK) or renegotiated (a re-INVITE): `receiving`
    /// says whether the caller should be sending to us (false while they hold the call).
    Media { receiving: bool },
    /// A key, from SIP INFO or RFC 4733 (while bridged the receiver relays RFC 4733 keys).
    Key(Key),
    /// The playback asked for by the last [`Output::Play`] has finished.
    PlaybackDone,
    /// A packet from the caller arrived at this instant (the receiver notes it without waking
    /// the call; the host tells before each timeout).
    Heard(Instant),
    /// The answer to the last [`Output::Lookup`].
    LookupResult(LookupAnswer),
    /// The distribution: the call waits in this section's queue (joined, moved by an overflow,
    /// or transferred there by its operator).
    Queued { section: String },
    /// The distribution: say the position (and offer callback on this key), then report the
    /// announcement done.
    Announce { ahead: usize, wait: Option<Duration>, callback: Option<char> },
    /// The distribution: the callback key was pressed; ask for the number.
    AskCallbackNumber,
    /// The distribution took the callback request: the caller keeps their place.
    CallbackAccepted { ahead: usize, wait: Option<Duration> },
    /// The distribution refused the callback request: the caller waits on.
    CallbackRefused(CallbackRefusal),
    /// The distribution: back to the hold music, an operator is being rung.
    StopAnnouncement,
    /// The distribution: leave the queue for the portal or a last message.
    Route(Route),
    /// An operator's phone answered the call: its leg is the host's to bridge or release.
    OperatorAnswered { operator: String },
    /// The bridged operator's phone hung up.
    OperatorHangup,
}

/// What the host must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    /// Stop ringing and answer (200 with our SDP).
    Answer,
    /// End the call towards the caller (BYE).
    Hangup,
    /// Play these in order; report [`Input::PlaybackDone`] at the end (at once if none is found).
    Play {
        lang: Lang,
        items: Vec<Utterance>,
    },
    /// Loop these until told otherwise (the holding message without a distribution).
    Loop {
        lang: Lang,
        items: Vec<Utterance>,
    },
    /// Loop the hold music (silence without one).
    HoldMusic,
    StopPlayback,
    /// Ask a service; answer with [`Input::LookupResult`].
    Lookup {
        service: Service,
        input: Option<String>,
    },
    /// Queue the call in the distribution, whose notices come back as inputs.
    Join {
        section: String,
        arrived: Instant,
    },
    /// Take the callback request's place in this section's queue (the citizen called back
    /// pressed 1); the distribution's notices come back as inputs.
    CalledBack {
        section: String,
    },
    /// Tell the distribution.
    Tell(AcdEvent),
    /// The call has ended: the distribution forgets it (only after a [`Output::Join`]).
    Leave,
    /// Bridge the caller to the operator leg that has just answered.
    Bridge,
    /// Release the operator leg that has just answered, unused (BYE to the phone).
    Release,
    /// End the bridge: the caller's stream comes back and the operator's phone is released.
    Unbridge,
    /// Who is calling, for the connected operator's console (and the store).
    ScreenPop(Box<CallPop>),
    /// The bridge to this operator is over (the console closes the screen-pop).
    BridgeEnded {
        operator: String,
    },
    /// The call is over: [`Call::record`] is final; nothing more will be asked.
    Ended,
}

/// Where the call is.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Ringing until the answer.
    Ringing {
        until: Instant,
    },
    /// Answered with our offer: the portal starts when the caller's answer arrives.
    AwaitingMedia,
    /// In the voice portal.
    Portal,
    /// Waiting in a section's queue; `announcing` while a position announcement plays.
    Queued {
        section: String,
        announcing: bool,
        since: Instant,
    },
    /// A waiting caller asking to be called back (still in the queue meanwhile).
    CallbackRequest {
        section: String,
        since: Instant,
        step: RequestStep,
        /// Numbers typed and refused so far.
        refused: u8,
    },
    /// Without a distribution: the holding message loops until `until`.
    Holding {
        until: Instant,
    },
    /// Talking with an operator.
    Bridged {
        section: String,
        operator: String,
    },
    /// A last message plays, then the call ends this way.
    Farewell(Ending),
    Ended,
}

/// One call, from the INVITE to the record.
pub struct Call {
    session: Session,
    settings: Settings,
    record: CallRecord,
    phase: Phase,
    /// Whether the caller should be sending to us now.
    receiving: bool,
    /// The caller's last packet (the answer, before any).
    heard: Instant,
    /// The call has been queued in the distribution (it must be told when the call ends).
    joined: bool,
    /// The portal's next deadline, on the host's clock.
    portal_deadline: Option<Instant>,
    out: VecDeque<Output>,
}

impl Call {
    /// A call that has just passed the checks of its INVITE; it rings until `answer_delay`.
    pub fn new(session: Session, record: CallRecord, settings: Settings, now: Now) -> Call {
        let until = now.at + settings.answer_delay;
        Call {
            session,
            settings,
            record,
            phase: Phase::Ringing { until },
            receiving: true,
            heard: now.at,
            joined: false,
            portal_deadline: None,
            out: VecDeque::new(),
        }
    }

    /// The call's record: final once [`Output::Ended`] has been polled.
    pub fn record(&self) -> &CallRecord {
        &self.record
    }

    pub fn into_record(self) -> CallRecord {
        self.record
    }

    pub fn is_ended(&self) -> bool {
        self.phase == Phase::Ended
    }

    /// The caller is talking with an operator.
    pub fn is_bridged(&self) -> bool {
        matches!(self.phase, Phase::Bridged { .. })
    }

    /// The next thing for the host to do.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Call::handle_timeout`] is due (none once the call has ended).
    pub fn poll_timeout(&self) -> Option<Instant> {
        let phase = match &self.phase {
            Phase::Ringing { until } => return Some(*until),
            Phase::Ended => return None,
            Phase::Holding { until } => Some(*until),
            Phase::CallbackRequest {
                step: RequestStep::Confirm { until, .. } | RequestStep::Typing { until, .. },
                ..
            } => Some(*until),
            _ => None,
        };
        let silence = self.receiving.then(|| self.heard + self.settings.media_timeout);
        [phase, silence, self.portal_deadline].into_iter().flatten().min()
    }

    /// Handle an input that arrived at `now`.
    pub fn handle(&mut self, input: Input, now: Now) {
        if self.phase == Phase::Ended {
            if let Input::OperatorAnswered { operator } = input {
                debug!(%operator, "an operator answered a call that has ended: released");
                self.out.push_back(Output::Release);
            } else {
                debug!(?input, "input for a call that has ended: ignored");
            }
            return;
        }
        match input {
            Input::CallerHangup => self.caller_hung_up(now),
            Input::Media { receiving } => self.media(receiving, now),
            Input::Heard(at) => self.heard = self.heard.max(at),
            Input::Key(key) => self.key(key, now),
            Input::PlaybackDone => self.playback_done(now),
            Input::LookupResult(answer) => {
                if self.phase == Phase::Portal {
                    self.drive(Event::LookupResult(answer), now);
                }
            }
            Input::Queued { section } => self.queued(section, now),
            Input::Announce { ahead, wait, callback } => match &mut self.phase {
                Phase::Queued { announcing, .. } => {
                    *announcing = true;
                    let mut words = speech::queue_position(ahead, wait);
                    if let Some(key) = callback {
                        words.push("callback_offer".into());
                        words.extend(speech::digits(&key.to_string()));
                    }
                    debug!(ahead, ?wait, ?callback, "announcing the position");
                    self.play_words(words);
                }
                // Busy with the request: the announcement is skipped.
                _ => self.tell_announcement_done(),
            },
            Input::AskCallbackNumber => self.ask_callback_number(now),
            Input::CallbackAccepted { ahead, wait } => {
                if let Phase::CallbackRequest { section, step: RequestStep::Asked, .. } = &self.phase {
                    info!(%section, "callback requested: the caller keeps their place");
                    let ending = Ending::CallbackRequested { section: section.clone() };
                    let mut words = vec!["callback_accepted".to_string()];
                    words.extend(speech::queue_position(ahead, wait));
                    words.push("callback_goodbye".into());
                    self.play_words(words);
                    self.phase = Phase::Farewell(ending);
                }
            }
            Input::CallbackRefused(reason) => {
                if let Phase::CallbackRequest { step: step @ RequestStep::Asked, .. } = &mut self.phase {
                    info!(?reason, "callback refused");
                    *step = RequestStep::Refused;
                    let word = match reason {
                        CallbackRefusal::AlreadyPending => "callback_already_pending",
                        CallbackRefusal::TooOften => "callback_too_often",
                        CallbackRefusal::SectionFull | CallbackRefusal::NotWaiting => "callback_not_now",
                    };
                    self.play_words(vec![word.into(), "callback_stay".into()]);
                }
            }
            Input::StopAnnouncement => {
                if let Phase::Queued { announcing, .. } = &mut self.phase
                    && std::mem::take(announcing)
                {
                    self.out.push_back(Output::HoldMusic);
                }
            }
            Input::Route(Route::Section(section)) => self.queued(section, now),
            Input::Route(Route::Node(node)) => {
                if self.leave_queue() {
                    info!(%node, "leaving the queue for the voice portal");
                    self.out.push_back(Output::StopPlayback);
                    self.phase = Phase::Portal;
                    let actions = self.session.resume_at(&node, now.wall);
                    self.carry_out(actions, now);
                }
            }
            Input::Route(Route::Message(prompt)) => {
                if let Some(section) = self.section().filter(|_| self.leave_queue()) {
                    info!(%prompt, "leaving the queue with a message");
                    let items = vec![Utterance::Prompt(prompt.clone())];
                    self.out.push_back(Output::Play { lang: self.session.language(), items });
                    self.phase = Phase::Farewell(Ending::QueueMessage { section, prompt });
                }
            }
            Input::OperatorAnswered { operator } => self.operator_answered(operator, now),
            Input::OperatorHangup => {
                if let Phase::Bridged { section, operator } = &self.phase {
                    info!(%operator, "the operator hung up");
                    let ending = Ending::Answered { section: section.clone(), operator: operator.clone() };
                    let call = self.record.call_id.clone();
                    self.out.push_back(Output::Tell(AcdEvent::OperatorHangup { call }));
                    self.out.push_back(Output::Hangup);
                    self.end(ending, now);
                }
            }
        }
        self.after_input(now);
    }

    /// The time given by [`Call::poll_timeout`] has come (or passed).
    pub fn handle_timeout(&mut self, now: Now) {
        match &self.phase {
            Phase::Ended => return,
            Phase::Ringing { until } => {
                if *until <= now.at {
                    self.answer(now);
                }
                return self.after_input(now);
            }
            _ => {}
        }
        if self.receiving && self.heard + self.settings.media_timeout <= now.at {
            info!("no RTP from the caller for {:?}: ending the call", self.settings.media_timeout);
            let node = self.session.current_node().unwrap_or_default().to_string();
            self.tell_caller_gone();
            self.out.push_back(Output::Hangup);
            return self.end(Ending::MediaTimeout { node }, now);
        }
        if let Phase::Holding { until } = self.phase
            && until <= now.at
        {
            info!("longest hold reached: ending the call");
            self.out.push_back(Output::Hangup);
            let ending = self.portal_ending();
            return self.end(ending, now);
        }
        if self.portal_deadline.is_some_and(|d| d <= now.at) {
            self.drive(Event::Timeout, now);
        }
        if let Phase::CallbackRequest { step, .. } = &self.phase {
            match step {
                RequestStep::Confirm { until, .. } if *until <= now.at => {
                    info!("no confirmation of the number: back to waiting");
                    self.back_to_waiting();
                }
                RequestStep::Typing { until, .. } if *until <= now.at => self.number_keyed(now),
                _ => {}
            }
        }
        self.after_input(now);
    }

    fn answer(&mut self, now: Now) {
        self.out.push_back(Output::Answer);
        self.record.answered = Some(now.wall);
        self.heard = now.at;
        if self.settings.late_offer {
            self.phase = Phase::AwaitingMedia;
        } else {
            self.phase = Phase::Portal;
            self.drive(Event::Start, now);
        }
    }

    fn media(&mut self, receiving: bool, now: Now) {
        if receiving && !self.receiving {
            // Back from hold: the silence counts from now.
            self.heard = now.at;
        }
        self.receiving = receiving;
        if self.phase == Phase::AwaitingMedia {
            self.phase = Phase::Portal;
            self.drive(Event::Start, now);
        }
    }

    fn key(&mut self, key: Key, now: Now) {
        match &self.phase {
            Phase::Portal => self.drive(Event::Key(key), now),
            Phase::CallbackRequest { .. } => self.request_key(key.0, now),
            Phase::Queued { .. } => {
                let call = self.record.call_id.clone();
                self.out.push_back(Output::Tell(AcdEvent::Key { call, key: key.0 }));
            }
            _ => debug!(key = %key.0, "key ignored here"),
        }
    }

    fn playback_done(&mut self, now: Now) {
        match &mut self.phase {
            Phase::Portal => self.drive(Event::PlaybackDone, now),
            Phase::Queued { announcing, .. } if *announcing => {
                *announcing = false;
                let call = self.record.call_id.clone();
                self.out.push_back(Output::Tell(AcdEvent::AnnouncementDone { call }));
                self.out.push_back(Output::HoldMusic);
            }
            Phase::Farewell(ending) => {
                let ending = ending.clone();
                self.out.push_back(Output::Hangup);
                self.end(ending, now);
            }
            Phase::CallbackRequest { step: RequestStep::Refused, .. } => self.back_to_waiting(),
            _ => {}
        }
    }

    fn caller_hung_up(&mut self, now: Now) {
        let ending = match &self.phase {
            Phase::Ringing { .. } => {
                info!("ended before the answer");
                Ending::Cancelled
            }
            Phase::Queued { section, .. } | Phase::CallbackRequest { section, .. } => {
                Ending::Abandoned { section: section.clone() }
            }
            Phase::Bridged { section, operator } => {
                Ending::Answered { section: section.clone(), operator: operator.clone() }
            }
            Phase::Farewell(ending) => ending.clone(),
            _ => {
                self.session.handle(Event::CallerHangup, now.wall);
                self.portal_ending()
            }
        };
        self.tell_caller_gone();
        self.end(ending, now);
    }

    /// A queued or connected caller has gone: the distribution is told.
    fn tell_caller_gone(&mut self) {
        if matches!(self.phase, Phase::Queued { .. } | Phase::Bridged { .. } | Phase::CallbackRequest { .. }) {
            let call = self.record.call_id.clone();
            self.out.push_back(Output::Tell(AcdEvent::CallerHangup { call }));
        }
    }

    fn queued(&mut self, section: String, now: Now) {
        match &mut self.phase {
            Phase::Queued { section: current, .. } | Phase::CallbackRequest { section: current, .. } => {
                if *current != section {
                    info!(from = %current, to = %section, "moved to another queue");
                    *current = section;
                }
            }
            Phase::Bridged { .. } => {
                info!(%section, "transferred by the operator to a queue");
                self.end_bridge();
                self.out.push_back(Output::HoldMusic);
                self.phase = Phase::Queued { section, announcing: false, since: now.at };
            }
            _ => debug!(%section, "queue notice for a call not waiting: ignored"),
        }
    }

    /// The section the call waits in or was connected from.
    fn section(&self) -> Option<String> {
        match &self.phase {
            Phase::Queued { section, .. } | Phase::Bridged { section, .. } | Phase::CallbackRequest { section, .. } => {
                Some(section.clone())
            }
            _ => None,
        }
    }

    /// Out of the queue (or the bridge, when the operator transfers the call); false when the
    /// call is neither.
    fn leave_queue(&mut self) -> bool {
        match self.phase {
            Phase::Queued { .. } | Phase::CallbackRequest { .. } => true,
            Phase::Bridged { .. } => {
                self.end_bridge();
                true
            }
            _ => {
                debug!("route for a call not waiting: ignored");
                false
            }
        }
    }

    fn operator_answered(&mut self, operator: String, now: Now) {
        let (Phase::Queued { section, since, .. } | Phase::CallbackRequest { section, since, .. }) = &self.phase else {
            debug!(%operator, "an operator answered a call no longer waiting: released");
            return self.out.push_back(Output::Release);
        };
        if matches!(self.phase, Phase::CallbackRequest { .. }) {
            self.out.push_back(Output::StopPlayback);
        }
        info!(%operator, %section, "connected to the operator");
        let pop = self.screen_pop(&operator, section, now.at.saturating_duration_since(*since));
        self.out.push_back(Output::Bridge);
        self.out.push_back(Output::ScreenPop(Box::new(pop)));
        self.phase = Phase::Bridged { section: section.clone(), operator };
    }

    /// Out of the bridge, if bridged: the operator's phone is released and the console told.
    fn end_bridge(&mut self) {
        if let Phase::Bridged { operator, .. } = &self.phase {
            let operator = operator.clone();
            self.out.push_back(Output::Unbridge);
            self.out.push_back(Output::BridgeEnded { operator });
        }
    }

    /// Feed the portal and carry out what it asks.
    fn drive(&mut self, event: Event, now: Now) {
        let actions = self.session.handle(event, now.wall);
        self.carry_out(actions, now);
    }

    fn carry_out(&mut self, actions: Vec<Action>, now: Now) {
        for action in actions {
            match action {
                Action::Play { lang, items } => self.out.push_back(Output::Play { lang, items }),
                Action::StopPlayback => self.out.push_back(Output::StopPlayback),
                Action::Lookup { service, input } => self.out.push_back(Output::Lookup { service, input }),
                Action::Enqueue { section } => self.enqueue(section, now),
                Action::Hangup => self.out.push_back(Output::Hangup),
            }
        }
        if self.phase == Phase::Portal && self.session.is_done() {
            // The portal hung up (after its goodbye prompt).
            let ending = self.portal_ending();
            self.end(ending, now);
        }
    }

    fn enqueue(&mut self, section: String, now: Now) {
        if self.settings.distribution {
            info!(%section, "queued");
            self.out.push_back(Output::Join { section: section.clone(), arrived: now.at });
            self.out.push_back(Output::HoldMusic);
            self.joined = true;
            self.phase = Phase::Queued { section, announcing: false, since: now.at };
        } else {
            info!(%section, "queued (no distribution: holding message)");
            let items = vec![Utterance::Word("hold".into())];
            self.out.push_back(Output::Loop { lang: self.session.language(), items });
            self.phase = Phase::Holding { until: now.at + self.settings.max_hold };
        }
    }

    fn portal_ending(&self) -> Ending {
        let node = self.session.current_node().unwrap_or_default().to_string();
        self.session.outcome().cloned().map_or(Ending::CallerHangup { node }, Ending::from)
    }

    /// The call is over: release what it holds, complete the record.
    fn end(&mut self, ending: Ending, now: Now) {
        self.end_bridge();
        if self.joined {
            self.out.push_back(Output::Leave);
        }
        let trace = self.session.trace();
        let record = &mut self.record;
        record.ended = now.wall;
        if record.answered.is_some() {
            record.language = Some(self.session.language());
            record.path.clone_from(&trace.path);
            record.keys.clone_from(&trace.keys);
            record.answers.clone_from(&trace.answers);
        }
        record.ending = ending;
        info!(ending = %record.ending, "call ended");
        self.phase = Phase::Ended;
        self.portal_deadline = None;
        self.out.push_back(Output::Ended);
    }

    /// After each input: the portal's next deadline, on the host's clock.
    fn after_input(&mut self, now: Now) {
        self.portal_deadline = match self.phase {
            Phase::Portal => self.session.deadline().map(|d| now.instant_of(d)),
            _ => None,
        };
    }

    fn play_words(&mut self, words: Vec<String>) {
        let items = words.into_iter().map(Utterance::Word).collect();
        self.out.push_back(Output::Play { lang: self.session.language(), items });
    }

    fn tell_announcement_done(&mut self) {
        let call = self.record.call_id.clone();
        self.out.push_back(Output::Tell(AcdEvent::AnnouncementDone { call }));
    }

    /// When the call joined its current queue.
    fn since(&self) -> Instant {
        match &self.phase {
            Phase::Queued { since, .. } | Phase::CallbackRequest { since, .. } => *since,
            _ => self.heard,
        }
    }

    /// The screen-pop of the call as it is connected to `operator`.
    fn screen_pop(&self, operator: &str, section: &str, waited: Duration) -> CallPop {
        let trace = self.session.trace();
        let r = &self.record;
        CallPop {
            operator: operator.to_string(),
            call_id: r.call_id.clone(),
            origin: r.origin.clone(),
            section: section.to_string(),
            path: trace.path.clone(),
            keys: trace.keys.clone(),
            language: self.session.language().to_string(),
            arrived: r.arrived,
            waited_s: waited.as_secs(),
            tree: self.session.tree().name.clone(),
            readback_node: self.session.tree().appointment_readback().map(String::from),
            called_back: None,
        }
    }
}
