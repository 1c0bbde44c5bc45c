//! The host of one call: it drives the call's pure machine ([`Call`]) with what the caller's
//! signalling, the media, the distribution and the clock report, and carries out what the
//! machine asks (answer, hang up, prompts, queue, bridge, screen-pop). One task per call. The
//! signalling is an adapter behind [`Signalling`] (SIP in the engine, a channel in tests).

use super::OperatorLeg;
use super::call_media::{Bridged, CallMedia, MediaEvent, OperatorEvent};
use super::callback_call::CallBackCall;
use super::lookup::lookup;
use super::machine::{Call, Input, Now, Output};
use super::record::CallRecord;
use crate::acd::host::{AcdHandle, Notice};
use crate::cases::CaseStore;
use crate::ivr::Key;
use crate::media::clock::MediaClock;
use crate::media::prompt_store::PromptStore;
use crate::media::receiver::MediaReceiver;
use crate::media::sdp::Negotiated;
use crate::updates::{Change, Updates};
use crate::vocabulary::CallPop;
use chrono::Utc;
use std::future::Future;
use std::net::UdpSocket;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{info, warn};

/// What the caller's signalling reports to the call.
#[derive(Debug)]
pub enum Signal {
    /// A key (SIP INFO).
    Key(Key),
    /// The caller ended the call (CANCEL, BYE, the dialog failed, the answer was refused).
    Hangup,
    /// The media is agreed or renegotiated (the answer in the ACK, a re-INVITE).
    Media(Negotiated),
}

/// The caller's signalling, as the host drives it.
pub trait Signalling: Send {
    /// What arrives from the network, before it is interpreted.
    type Event: Send;
    /// The next event; cancel-safe (`None`: the signalling has gone).
    fn next_event(&mut self) -> impl Future<Output = Option<Self::Event>> + Send;
    /// Answer what needs answering (re-INVITE, INFO, OPTIONS) and say what it means for the call.
    fn interpret(&mut self, event: Self::Event) -> impl Future<Output = Option<Signal>> + Send;
    /// Answer the call with our media description; an error ends the call.
    fn answer(&mut self) -> Result<(), String>;
    /// End the call towards the caller (BYE), once.
    fn hang_up(&mut self);
}

/// The engine's parts a call uses.
#[derive(Clone)]
pub struct Parts {
    /// Sends the call's RTP on the shared 20 ms schedule.
    pub clock: MediaClock,
    /// Reads the call's RTP (keys, liveness) and relays it once bridged.
    pub receiver: MediaReceiver,
    pub prompts: Arc<PromptStore>,
    /// Answers the portal's lookups (none: "unavailable").
    pub store: Option<Arc<dyn CaseStore>>,
    /// Where the operator's console learns who is calling (none: nobody is told).
    pub updates: Option<Arc<Updates>>,
    /// The distribution: queued callers wait there for an operator.
    pub acd: Option<AcdHandle<OperatorLeg>>,
}

pub fn now() -> Now {
    Now { at: std::time::Instant::now(), wall: Utc::now() }
}

/// A call's pure machine as its host drives it: an incoming [`Call`], or a [`CallBackCall`].
pub trait Machine: Send {
    fn handle(&mut self, input: Input, now: Now);
    fn handle_timeout(&mut self, now: Now);
    fn poll_output(&mut self) -> Option<Output>;
    fn poll_timeout(&self) -> Option<std::time::Instant>;
    fn record(&self) -> &CallRecord;
    fn into_record(self) -> CallRecord;
    fn is_ended(&self) -> bool;
    /// The id the distribution knows the call by.
    fn queue_id(&self) -> &str {
        &self.record().call_id
    }
}

macro_rules! machine {
    ($t:ty $(, $queue_id:ident)?) => {
        impl Machine for $t {
            fn handle(&mut self, input: Input, now: Now) {
                <$t>::handle(self, input, now)
            }
            fn handle_timeout(&mut self, now: Now) {
                <$t>::handle_timeout(self, now)
            }
            fn poll_output(&mut self) -> Option<Output> {
                <$t>::poll_output(self)
            }
            fn poll_timeout(&self) -> Option<std::time::Instant> {
                <$t>::poll_timeout(self)
            }
            fn record(&self) -> &CallRecord {
                <$t>::record(self)
            }
            fn into_record(self) -> CallRecord {
                <$t>::into_record(self)
            }
            fn is_ended(&self) -> bool {
                <$t>::is_ended(self)
            }
            $(fn $queue_id(&self) -> &str {
                <$t>::queue_id(self)
            })?
        }
    };
}

machine!(Call);
machine!(CallBackCall, queue_id);

/// Run `call` to its end; returns its record. `socket` and `media` start the caller's media
/// at the answer.
pub async fn run<S: Signalling, M: Machine>(
    call: M,
    socket: UdpSocket,
    media: Negotiated,
    parts: Parts,
    signalling: S,
) -> CallRecord {
    let (notices_tx, notices) = mpsc::unbounded_channel();
    let host = Host {
        call,
        parts,
        signalling,
        pending_media: Some((socket, media)),
        media: None,
        notices_tx,
        notices,
        answered_leg: None,
        bridged: None,
    };
    host.run().await
}

struct Host<S, M> {
    call: M,
    parts: Parts,
    signalling: S,
    /// The RTP socket and the agreed media until the answer.
    pending_media: Option<(UdpSocket, Negotiated)>,
    media: Option<CallMedia>,
    notices_tx: mpsc::UnboundedSender<Notice<OperatorLeg>>,
    notices: mpsc::UnboundedReceiver<Notice<OperatorLeg>>,
    /// The operator leg that has just answered, until the machine bridges or releases it.
    answered_leg: Option<OperatorLeg>,
    bridged: Option<Bridged>,
}

impl<S: Signalling, M: Machine> Host<S, M> {
    async fn run(mut self) -> CallRecord {
        // One timer for everything the call waits for, re-armed only when the machine's
        // deadline changes. Frames are the media clock's business: the call wakes only when
        // something happens to it.
        let wake = tokio::time::sleep_until(Instant::now());
        tokio::pin!(wake);
        let mut armed = None;
        loop {
            self.carry_out().await;
            if self.call.is_ended() {
                let quality = match &self.media {
                    Some(media) => Some(media.quality().await),
                    None => None,
                };
                let mut record = self.call.into_record();
                record.media = quality.filter(|q| q.caller.is_some() || q.operator.is_some());
                return record;
            }
            let deadline = self.call.poll_timeout();
            if deadline != armed {
                if let Some(t) = deadline {
                    wake.as_mut().reset(t.into());
                }
                armed = deadline;
            }
            tokio::select! {
                event = self.signalling.next_event() => match event {
                    Some(event) => {
                        if let Some(signal) = self.signalling.interpret(event).await {
                            self.on_signal(signal);
                        }
                    }
                    None => self.on_signal(Signal::Hangup),
                },
                n = self.notices.recv() => if let Some(n) = n {
                    self.on_notice(n);
                },
                event = async { self.media.as_mut().expect("guarded").next().await }, if self.media.is_some() => {
                    let input = match event {
                        MediaEvent::Key(k) => Input::Key(k),
                        MediaEvent::PlaybackDone => Input::PlaybackDone,
                    };
                    self.call.handle(input, now());
                }
                event = async { self.bridged.as_mut().expect("guarded").next().await }, if self.bridged.is_some() => match event {
                    OperatorEvent::HungUp => self.call.handle(Input::OperatorHangup, now()),
                    OperatorEvent::Media(media) => {
                        if let Some(m) = &self.media {
                            m.operator_media(&media);
                        }
                    }
                },
                _ = &mut wake, if armed.is_some() => {
                    armed = None;
                    if let Some(m) = &self.media {
                        self.call.handle(Input::Heard(m.last_heard()), now());
                    }
                    self.call.handle_timeout(now());
                }
            }
        }
    }

    /// Carry out what the machine asks, until it asks nothing more.
    async fn carry_out(&mut self) {
        while let Some(output) = self.call.poll_output() {
            match output {
                Output::Answer => self.answer(),
                Output::Hangup => self.signalling.hang_up(),
                Output::Play { lang, items } => {
                    if !self.media.as_mut().is_some_and(|m| m.play(lang, &items, false)) {
                        self.call.handle(Input::PlaybackDone, now());
                    }
                }
                Output::Loop { lang, items } => {
                    if let Some(m) = &mut self.media {
                        m.play(lang, &items, true);
                    }
                }
                Output::HoldMusic => self.media.as_mut().map_or((), CallMedia::hold_music),
                Output::StopPlayback => self.media.as_mut().map_or((), CallMedia::stop),
                Output::Lookup { service, input } => {
                    let asked = input.clone().unwrap_or_default();
                    let answer = lookup(&self.parts.store, service, input, &self.call.record().call_id).await;
                    info!(service = service.name(), input = %asked, result = %answer.result, "lookup");
                    self.call.handle(Input::LookupResult(answer), now());
                }
                Output::Join { section, arrived } => {
                    if let Some(acd) = &self.parts.acd {
                        let r = self.call.record();
                        acd.join(self.call.queue_id(), &section, &r.origin.caller, arrived, self.notices_tx.clone());
                    }
                }
                Output::CalledBack { section } => {
                    if let Some(acd) = &self.parts.acd {
                        let number = &self.call.record().origin.number;
                        acd.called_back(self.call.queue_id(), &section, number, self.notices_tx.clone());
                    }
                }
                Output::Tell(event) => {
                    if let Some(acd) = &self.parts.acd {
                        acd.event(event);
                    }
                }
                Output::Leave => {
                    if let Some(acd) = &self.parts.acd {
                        acd.left(self.call.queue_id());
                    }
                }
                Output::Bridge => {
                    if let (Some(leg), Some(m)) = (self.answered_leg.take(), &mut self.media) {
                        self.bridged = Some(m.bridge(leg));
                    }
                }
                // Dropping the leg makes its signalling send BYE.
                Output::Release => drop(self.answered_leg.take()),
                Output::Unbridge => {
                    if let (Some(b), Some(m)) = (self.bridged.take(), &mut self.media) {
                        m.unbridge(b).await;
                    }
                }
                Output::ScreenPop(pop) => self.screen_pop(*pop),
                Output::BridgeEnded { operator } => {
                    if let Some(u) = &self.parts.updates {
                        u.publish(Change::CallEnded { operator, call_id: self.call.record().call_id.clone() });
                    }
                }
                Output::Ended => {}
            }
        }
    }

    /// Answer and start the media.
    fn answer(&mut self) {
        if let Err(e) = self.signalling.answer() {
            warn!(error = %e, "cannot answer");
            return self.call.handle(Input::CallerHangup, now());
        }
        let record = self.call.record();
        info!(number = %record.origin.number, caller = %record.origin.caller, "answered");
        if let Some((socket, media)) = self.pending_media.take() {
            let p = &self.parts;
            self.media = Some(CallMedia::attach(socket, media, &p.clock, &p.receiver, Arc::clone(&p.prompts)));
        }
    }

    fn on_signal(&mut self, signal: Signal) {
        let input = match signal {
            Signal::Key(k) => Input::Key(k),
            Signal::Hangup => Input::CallerHangup,
            Signal::Media(media) => {
                let receiving = media.direction.we_receive();
                match &mut self.media {
                    Some(m) => m.set_media(media),
                    None => self.pending_media.as_mut().map_or((), |(_, m)| *m = media),
                }
                Input::Media { receiving }
            }
        };
        self.call.handle(input, now());
    }

    fn on_notice(&mut self, notice: Notice<OperatorLeg>) {
        let input = match notice {
            Notice::Announce { ahead, wait, callback } => Input::Announce { ahead, wait, callback },
            Notice::AskCallbackNumber => Input::AskCallbackNumber,
            Notice::CallbackAccepted { ahead, wait } => Input::CallbackAccepted { ahead, wait },
            Notice::CallbackRefused(reason) => Input::CallbackRefused(reason),
            Notice::StopAnnouncement => Input::StopAnnouncement,
            Notice::Queued { section } => Input::Queued { section },
            Notice::Route(route) => Input::Route(route),
            Notice::Connect(leg) => {
                let operator = leg.operator.clone();
                self.answered_leg = Some(leg);
                Input::OperatorAnswered { operator }
            }
        };
        self.call.handle(input, now());
    }

    /// The console learns who is calling; the store keeps it as the operator's latest call.
    fn screen_pop(&self, pop: CallPop) {
        if let Some(store) = &self.parts.store {
            keep_latest_call(Arc::clone(store), pop.clone());
        }
        if let Some(u) = &self.parts.updates {
            u.publish(Change::Call(Box::new(pop)));
        }
    }
}

/// Keep the screen-pop as its operator's latest call in the store, off the call's task: after a
/// restart the operator can still set its outcome. (One operator's calls are connected seconds
/// apart, so these writes cannot overtake each other.)
fn keep_latest_call(store: Arc<dyn CaseStore>, pop: CallPop) {
    tokio::spawn(async move {
        if let Err(e) = store.set_latest_call(pop).await {
            warn!(error = %e, "the operator's latest call is not kept");
        }
    });
}
