//! The task that runs the distribution for the engine: it feeds [`Acd`] with what calls,
//! operators' phones and the API report, wakes it at its deadlines, and carries out its actions
//! (ring an operator through a [`Dialer`], tell a call what to play or where to go, write the
//! journal). Generic over the operator leg `L` that a dialer hands to a call, so the
//! distribution knows nothing of SIP or RTP.

use super::events::{AcdError, Action, CallBack, CallbackRefusal, Event, PendingCallback};
use super::journal::Journal;
use super::machine::Acd;
use super::rules::Route;
use super::stats::SectionStats;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// What the distribution tells a queued call.
#[derive(Debug)]
pub enum Notice<L> {
    /// Say the position (and estimated wait, and the callback offer on its key), then report
    /// [`Event::AnnouncementDone`].
    Announce { ahead: usize, wait: Option<Duration>, callback: Option<char> },
    /// The caller pressed the callback key: ask the number to call back, then report
    /// [`Event::RequestCallback`].
    AskCallbackNumber,
    /// The callback request is taken: say so, and when to expect the call; then hang up.
    CallbackAccepted { ahead: usize, wait: Option<Duration> },
    /// The callback request is refused: say why; the caller waits on.
    CallbackRefused(CallbackRefusal),
    /// Stop the announcement (back to the hold music): an operator is being rung.
    StopAnnouncement,
    /// The call waits in this section's queue now (joined, moved by an overflow, or transferred
    /// there by its operator: a bridge ends).
    Queued { section: String },
    /// Leave the queue: continue in the voice portal, or hear a message and hang up.
    Route(Route),
    /// An operator answered: bridge the caller to this leg.
    Connect(L),
}

/// A call offered to an operator's phone, and what the phone shows of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Offer {
    pub call: String,
    pub operator: String,
    /// The caller's number (or user), as signalled.
    pub caller: String,
    /// The section whose queue the call comes from.
    pub section: String,
}

/// Places calls to operators' phones.
pub trait Dialer<L>: Send + Sync + 'static {
    /// Ring the offer's operator. Report the outcome to `acd` with [`AcdHandle::answered`] or
    /// an [`Event::OfferFailed`]; stop ringing (CANCEL) when `cancel` fires.
    fn ring(&self, offer: Offer, acd: AcdHandle<L>, cancel: CancellationToken);

    /// Call a citizen back through the trunk; report [`Event::CallbackFailed`], or let the call
    /// that reached them join with [`AcdHandle::called_back`]; stop when `cancel` fires.
    fn call_back(&self, attempt: CallBack, acd: AcdHandle<L>, cancel: CancellationToken)
    where
        L: Send + 'static,
    {
        let _ = cancel;
        let reason = "this node has no trunk to call out".to_string();
        acd.event(Event::CallbackFailed { call: attempt.call, reason });
    }
}

/// A pending callback request to keep in the store, or to drop from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallbackChange {
    Keep(PendingCallback),
    /// Over; with the request when every attempt failed.
    Drop {
        call: String,
        gave_up: Option<PendingCallback>,
    },
}

/// Told every change of the pending callback requests (to keep them across a restart).
pub type CallbackSink = Box<dyn Fn(CallbackChange) + Send>;

/// An operator's state as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OperatorView {
    pub operator: String,
    pub state: String,
    pub reason: Option<String>,
    pub call: Option<String>,
    /// The sections they may serve, in priority order (configured).
    pub sections: Vec<String>,
    /// The sections they are logged in to now.
    pub serving: Vec<String>,
    pub reachable: bool,
}

/// What a handle sends to the task that runs the distribution (the local [`start`]ed host, or
/// a cluster node's link to the node that runs it).
pub enum Msg<L> {
    Join {
        call: String,
        section: String,
        caller: String,
        arrived: Instant,
        placed: Placed,
        notices: mpsc::UnboundedSender<Notice<L>>,
    },
    /// The call task is gone (its record is written).
    Left {
        call: String,
    },
    Event(Event),
    Command {
        event: Event,
        reply: oneshot::Sender<Result<(), AcdError>>,
    },
    Answered {
        call: String,
        operator: String,
        leg: L,
        hang_up: Box<dyn FnOnce(L) + Send>,
    },
    Stats {
        reply: oneshot::Sender<(Vec<SectionStats>, Vec<OperatorView>)>,
    },
    /// End the task (the distribution moves to another node).
    Stop,
}

/// Where a joining call stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Placed {
    /// It arrives in the queue now.
    New,
    /// It was waiting, in this section since `entered`, before the distribution was taken over.
    Waiting { entered: Instant },
    /// It was talking with `operator` since `since` before the distribution was taken over.
    Connected { operator: String, since: Instant },
    /// The citizen of this callback request answered and pressed 1.
    CalledBack,
}

/// An operator's sign-in as the distribution keeps it across a takeover: the sections they
/// serve (none: logged out) and their pause, if any (a pending one included).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Presence {
    pub operator: String,
    pub serving: Vec<String>,
    pub paused: Option<String>,
}

impl Presence {
    fn of(id: &str, o: &super::Operator) -> Presence {
        let paused = match &o.state {
            super::OperatorState::Paused { reason, .. } => Some(reason.clone()),
            _ => o.pending_pause.clone(),
        };
        let serving = if o.logged_in() { o.serving.clone() } else { Vec::new() };
        Presence { operator: id.to_string(), serving, paused }
    }

    /// The events that bring a fresh distribution's operator to this presence.
    pub fn events(&self) -> Vec<Event> {
        if self.serving.is_empty() {
            return Vec::new();
        }
        let login = Event::Login { operator: self.operator.clone(), sections: Some(self.serving.clone()) };
        let pause = self.paused.clone().map(|reason| Event::Pause { operator: self.operator.clone(), reason });
        std::iter::once(login).chain(pause).collect()
    }
}

/// Told every operator's presence when it may have changed (to keep it for a takeover).
pub type PresenceSink = Box<dyn Fn(Presence) + Send>;

/// Whether this host may still decide (a cluster's lease); once false, the task ends before
/// deciding anything more.
pub type Fence = Box<dyn Fn() -> bool + Send>;

/// What a distribution task run for a cluster keeps and checks.
#[derive(Default)]
pub struct Keeping {
    pub presence: Option<PresenceSink>,
    pub fence: Option<Fence>,
    pub callbacks: Option<CallbackSink>,
}

/// A handle to the distribution task; cheap to clone.
pub struct AcdHandle<L> {
    tx: mpsc::UnboundedSender<Msg<L>>,
}

impl<L> Clone for AcdHandle<L> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<L: Send + 'static> AcdHandle<L> {
    /// Queue a call from `caller` to a section; what it must do arrives on `notices`.
    pub fn join(
        &self,
        call: &str,
        section: &str,
        caller: &str,
        arrived: Instant,
        notices: mpsc::UnboundedSender<Notice<L>>,
    ) {
        self.rejoin(call, section, caller, arrived, Placed::New, notices);
    }

    /// The citizen called back for request `call` answered and pressed 1: their call takes the
    /// request's place; the kept operator's phone rings.
    pub fn called_back(&self, call: &str, section: &str, number: &str, notices: mpsc::UnboundedSender<Notice<L>>) {
        self.rejoin(call, section, number, Instant::now(), Placed::CalledBack, notices);
    }

    /// Queue a call that may have been waiting or connected already (a takeover).
    pub fn rejoin(
        &self,
        call: &str,
        section: &str,
        caller: &str,
        arrived: Instant,
        placed: Placed,
        notices: mpsc::UnboundedSender<Notice<L>>,
    ) {
        let msg =
            Msg::Join { call: call.into(), section: section.into(), caller: caller.into(), arrived, placed, notices };
        let _ = self.tx.send(msg);
    }

    /// End the task behind this handle.
    pub fn stop(&self) {
        let _ = self.tx.send(Msg::Stop);
    }

    /// The call has ended (after its [`Event::CallerHangup`] if it was queued or connected).
    pub fn left(&self, call: &str) {
        let _ = self.tx.send(Msg::Left { call: call.into() });
    }

    /// Report an event; a refusal is logged (a hang-up racing an answer, for instance).
    pub fn event(&self, event: Event) {
        let _ = self.tx.send(Msg::Event(event));
    }

    /// A command whose refusal the caller wants to know (the API, feature codes).
    pub async fn command(&self, event: Event) -> Result<(), AcdError> {
        let (reply, rx) = oneshot::channel();
        if self.tx.send(Msg::Command { event, reply }).is_err() {
            return Err(AcdError::Unavailable("stopped".into()));
        }
        rx.await.unwrap_or(Err(AcdError::Unavailable("stopped".into())))
    }

    /// The operator's phone answered `call`: the leg goes to the call if it is still there,
    /// otherwise `hang_up` ends it.
    pub fn answered(&self, call: &str, operator: &str, leg: L, hang_up: impl FnOnce(L) + Send + 'static) {
        let msg = Msg::Answered { call: call.into(), operator: operator.into(), leg, hang_up: Box::new(hang_up) };
        let _ = self.tx.send(msg);
    }

    /// Per-section figures and operators' states now.
    pub async fn stats(&self) -> (Vec<SectionStats>, Vec<OperatorView>) {
        let (reply, rx) = oneshot::channel();
        let _ = self.tx.send(Msg::Stats { reply });
        rx.await.unwrap_or_default()
    }
}

/// A handle and the messages sent through it, for a task that stands in for the distribution.
pub fn channel<L>() -> (AcdHandle<L>, mpsc::UnboundedReceiver<Msg<L>>) {
    let (tx, rx) = mpsc::unbounded_channel();
    (AcdHandle { tx }, rx)
}

/// Start the distribution task.
pub fn start<L: Send + 'static>(acd: Acd, dialer: Box<dyn Dialer<L>>, journal: Option<Journal>) -> AcdHandle<L> {
    start_keeping(acd, dialer, journal, Keeping::default())
}

/// Start the distribution task, telling `keeping.presence` of every operator's presence as it
/// changes, and ending as soon as `keeping.fence` says no.
pub fn start_keeping<L: Send + 'static>(
    acd: Acd,
    dialer: Box<dyn Dialer<L>>,
    journal: Option<Journal>,
    keeping: Keeping,
) -> AcdHandle<L> {
    let (handle, rx) = channel();
    let host = Host {
        acd,
        dialer,
        journal,
        presence: keeping.presence,
        fence: keeping.fence,
        callbacks: keeping.callbacks,
        calls: HashMap::new(),
        callers: HashMap::new(),
        ringing: HashMap::new(),
        handle: handle.clone(),
    };
    tokio::spawn(host.run(rx));
    handle
}

struct Host<L> {
    acd: Acd,
    dialer: Box<dyn Dialer<L>>,
    journal: Option<Journal>,
    presence: Option<PresenceSink>,
    fence: Option<Fence>,
    callbacks: Option<CallbackSink>,
    /// Queued and connected calls: where to send their notices.
    calls: HashMap<String, mpsc::UnboundedSender<Notice<L>>>,
    /// Who is calling, for the operators' phones.
    callers: HashMap<String, String>,
    /// Offers in progress: how to stop them.
    ringing: HashMap<String, CancellationToken>,
    handle: AcdHandle<L>,
}

impl<L: Send + 'static> Host<L> {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Msg<L>>) {
        // The host holds a handle itself (dialers report through it), so the channel never
        // closes: the task lives as long as the runtime.
        loop {
            let deadline = self.acd.next_deadline().map(tokio::time::Instant::from_std);
            // None: a deadline is due; Some(None): the channel closed.
            let msg = tokio::select! {
                m = rx.recv() => Some(m),
                () = async { tokio::time::sleep_until(deadline.expect("guarded")).await }, if deadline.is_some() => None,
            };
            if self.fence.as_ref().is_some_and(|holds| !holds()) {
                warn!("the distribution is no longer this node's to run: stopped before deciding more");
                return;
            }
            let Some(msg) = msg else {
                self.apply(Event::Tick);
                continue;
            };
            let Some(msg) = msg else { return };
            match msg {
                Msg::Join { call, section, caller, arrived, placed, notices } => {
                    // A refused join puts back what was there (the same call id already queued).
                    let before = (self.calls.insert(call.clone(), notices), self.callers.insert(call.clone(), caller));
                    let c = call.clone();
                    let talking = matches!(placed, Placed::Connected { .. });
                    let event = match placed {
                        Placed::New => Event::Enqueue { call: c, section, arrived },
                        Placed::Waiting { entered } => Event::Restore { call: c, section, arrived, entered },
                        Placed::Connected { operator, since } => {
                            Event::Resume { call: c, section, operator, arrived, since }
                        }
                        Placed::CalledBack => Event::CallbackAnswered { call: c },
                    };
                    if let Err(e) = self.try_apply(event) {
                        if talking {
                            // The conversation goes on; only the operator's state is unknown here.
                            warn!(%call, "a conversation carried over is not known to the distribution: {e}");
                            continue;
                        }
                        warn!(%call, "cannot queue: {e}");
                        let refused = match before {
                            (Some(notices), caller) => {
                                self.callers.extend(caller.map(|c| (call.clone(), c)));
                                self.calls.insert(call.clone(), notices)
                            }
                            (None, _) => {
                                self.callers.remove(&call);
                                self.calls.remove(&call)
                            }
                        };
                        if let Some(n) = refused {
                            let _ = n.send(Notice::Route(Route::Message("queue_timeout".into())));
                        }
                    }
                }
                Msg::Left { call } => {
                    self.calls.remove(&call);
                    self.callers.remove(&call);
                }
                Msg::Event(e) => self.apply(e),
                Msg::Command { event, reply } => {
                    let _ = reply.send(self.try_apply(event));
                }
                Msg::Answered { call, operator, leg, hang_up } => {
                    let notices = self.calls.get(&call).cloned();
                    let answered = self.try_apply(Event::OfferAnswered { call: call.clone(), operator });
                    if answered.is_ok() {
                        self.ringing.remove(&call);
                    }
                    if let Err(e) = answered {
                        info!(%call, "answered too late ({e}): releasing the operator");
                        hang_up(leg);
                        continue;
                    }
                    // Hand the leg to the call task; if it ended in between, release the operator.
                    let undelivered = match notices {
                        Some(n) => match n.send(Notice::Connect(leg)) {
                            Ok(()) => None,
                            Err(mpsc::error::SendError(Notice::Connect(leg))) => Some(leg),
                            Err(_) => unreachable!("the notice sent is a Connect"),
                        },
                        None => Some(leg),
                    };
                    if let Some(leg) = undelivered {
                        hang_up(leg);
                        self.apply(Event::CallerHangup { call });
                    }
                }
                Msg::Stats { reply } => {
                    let now = Instant::now();
                    let _ = reply.send((self.acd.stats(now), self.operator_views()));
                }
                Msg::Stop => return,
            }
        }
    }

    fn operator_views(&self) -> Vec<OperatorView> {
        self.acd
            .operators()
            .map(|(id, o)| {
                let (reason, call) = o.state.detail();
                OperatorView {
                    operator: id.clone(),
                    state: o.state.name().into(),
                    reason: reason.map(String::from),
                    call: call.map(String::from),
                    sections: o.skills.clone(),
                    serving: o.serving.clone(),
                    reachable: o.reachable(),
                }
            })
            .collect()
    }

    fn apply(&mut self, event: Event) {
        if let Err(e) = self.try_apply(event) {
            debug!("distribution: {e}");
        }
    }

    fn try_apply(&mut self, event: Event) -> Result<(), AcdError> {
        let signing = match &event {
            Event::Login { operator, .. }
            | Event::Logout { operator }
            | Event::Pause { operator, .. }
            | Event::Ready { operator } => Some(operator.clone()),
            _ => None,
        };
        let actions = self.acd.handle(event, Instant::now())?;
        for action in actions {
            if let Action::OperatorChanged { operator, .. } = &action {
                self.tell_presence(operator);
            }
            self.act(action);
        }
        if let Some(operator) = signing {
            self.tell_presence(&operator);
        }
        Ok(())
    }

    fn tell_presence(&self, operator: &str) {
        if let (Some(sink), Some(o)) = (&self.presence, self.acd.operator(operator)) {
            sink(Presence::of(operator, o));
        }
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Offer { call, operator } => {
                info!(%call, %operator, "offering the call");
                let cancel = CancellationToken::new();
                self.ringing.insert(call.clone(), cancel.clone());
                let caller = self.callers.get(&call).cloned().unwrap_or_default();
                let section = self.acd.section_of(&call).unwrap_or_default().to_string();
                self.dialer.ring(Offer { call, operator, caller, section }, self.handle.clone(), cancel);
            }
            Action::CancelOffer { call, operator } => {
                debug!(%call, %operator, "offer withdrawn");
                if let Some(c) = self.ringing.remove(&call) {
                    c.cancel();
                }
            }
            Action::Announce { call, ahead, wait, callback } => {
                self.notify(&call, Notice::Announce { ahead, wait, callback })
            }
            Action::AskCallbackNumber { call } => self.notify(&call, Notice::AskCallbackNumber),
            Action::CallbackAccepted { call, ahead, wait } => {
                self.notify(&call, Notice::CallbackAccepted { ahead, wait })
            }
            Action::CallbackRefused { call, reason } => self.notify(&call, Notice::CallbackRefused(reason)),
            Action::CallBack(attempt) => {
                info!(call = %attempt.call, operator = %attempt.operator, attempt = attempt.attempt, "calling back");
                let cancel = CancellationToken::new();
                self.ringing.insert(attempt.call.clone(), cancel.clone());
                self.dialer.call_back(attempt, self.handle.clone(), cancel);
            }
            Action::CancelCallBack { call } => {
                debug!(%call, "callback attempt stopped");
                if let Some(c) = self.ringing.remove(&call) {
                    c.cancel();
                }
            }
            Action::KeepCallback(pending) => self.keep(CallbackChange::Keep(pending)),
            Action::DropCallback { call, gave_up } => self.keep(CallbackChange::Drop { call, gave_up }),
            Action::StopAnnouncement { call } => self.notify(&call, Notice::StopAnnouncement),
            Action::Queued { call, section } => self.notify(&call, Notice::Queued { section }),
            Action::Route { call, route } => {
                self.notify(&call, Notice::Route(route));
                self.calls.remove(&call);
            }
            Action::Record(event) => {
                if let Some(j) = &self.journal {
                    j.queue_event(event);
                }
            }
            Action::OperatorChanged { operator, state } => {
                info!(%operator, state = state.name(), "operator state");
                if let Some(j) = &self.journal {
                    j.operator_state(&operator, &state);
                }
            }
        }
    }

    fn keep(&self, change: CallbackChange) {
        if let Some(sink) = &self.callbacks {
            sink(change);
        }
    }

    fn notify(&self, call: &str, notice: Notice<L>) {
        if let Some(n) = self.calls.get(call) {
            let _ = n.send(notice);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acd::rules::SectionRules;
    use std::collections::BTreeMap;

    struct NoPhones;
    impl Dialer<()> for NoPhones {
        fn ring(&self, _: Offer, _: AcdHandle<()>, _: CancellationToken) {}
    }

    /// A second join under a call id already queued (a proxy's second try of the same INVITE
    /// through another node) is sent away, and the call already queued keeps its notices.
    #[tokio::test]
    async fn a_second_join_of_a_queued_call_id_is_sent_away_and_the_first_keeps_its_place() {
        let sections = BTreeMap::from([("pensions".to_string(), SectionRules::default())]);
        let acd = start::<()>(Acd::new(sections, BTreeMap::new()), Box::new(NoPhones), None);
        let (first, mut first_told) = mpsc::unbounded_channel();
        let (second, mut second_told) = mpsc::unbounded_channel();
        let now = Instant::now();
        acd.join("c1", "pensions", "+39333", now, first);
        acd.join("c1", "pensions", "+39334", now, second);
        let (sections, _) = acd.stats().await;
        assert_eq!(sections.iter().find(|s| s.section == "pensions").map(|s| s.waiting), Some(1));
        assert!(matches!(second_told.try_recv(), Ok(Notice::Route(Route::Message(m))) if m == "queue_timeout"));
        while let Ok(notice) = first_told.try_recv() {
            assert!(!matches!(notice, Notice::Route(_)), "the first copy was sent away: {notice:?}");
        }
        assert!(!first_told.is_closed(), "the queued call lost its notices");
    }
}
