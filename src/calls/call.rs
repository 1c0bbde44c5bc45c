//! One answered call: a task that owns the voice-portal [`Session`] and the RTP socket, turns the
//! interpreter's actions into media, waits in a section's queue (hold music, position
//! announcements) and bridges the caller to the operator who answers. Signalling reaches it as
//! [`Signal`]s; what it needs from signalling goes back as [`Request`]s; the distribution
//! reaches it as [`Notice`]s.

use super::bridge::OperatorLeg;
use super::lookup::lookup;
use super::record::{CallRecord, Ending};
use crate::acd::host::{AcdHandle, Notice};
use crate::acd::{Event as AcdEvent, Route};
use crate::cases::CaseStore;
use crate::ivr::{Action, Event, Key, Session, Utterance, speech};
use crate::media::clock::{MediaClock, Voice};
use crate::media::prompt_store::PromptStore;
use crate::media::receiver::{Inbound, MediaReceiver, OperatorSide};
use crate::media::relay::{LegCodec, Relay};
use crate::media::sdp::Negotiated;
use crate::updates::{Change, Updates};
use crate::vocabulary::CallPop;
use chrono::Utc;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tracing::{debug, info, warn};

/// From signalling to the call.
#[derive(Debug)]
pub enum Signal {
    /// A key from SIP INFO.
    Dtmf(Key),
    /// The caller hung up (BYE).
    Hangup,
    /// New media parameters (re-INVITE: hold, unhold, new address).
    Media(Negotiated),
}

/// From the call to signalling.
#[derive(Debug, PartialEq, Eq)]
pub enum Request {
    /// End the call: send BYE.
    Hangup,
}

/// What a call needs besides its session.
pub struct CallSetup {
    pub call_id: String,
    /// The call's RTP socket (non-blocking).
    pub socket: UdpSocket,
    /// Sends the call's RTP on the shared 20 ms schedule.
    pub clock: MediaClock,
    /// Reads the call's RTP (keys, liveness) and relays it once bridged.
    pub receiver: MediaReceiver,
    /// Answers the portal's ticket-status lookups (none: "unavailable").
    pub store: Option<Arc<dyn CaseStore>>,
    /// Where the operator's console learns who is calling (none: nobody is told).
    pub updates: Option<Arc<Updates>>,
    pub media: Negotiated,
    pub prompts: Arc<PromptStore>,
    /// End the call when no RTP arrives for this long (while the caller should be sending).
    pub media_timeout: Duration,
    /// Without a distribution (`acd: None`), a queued caller hears a holding message for at most
    /// this long.
    pub max_hold: Duration,
    /// The record so far (arrival, caller, number...); completed when the call ends.
    pub record: CallRecord,
    /// The media is not agreed yet (our offer went in the 200): the portal starts at the first
    /// [`Signal::Media`].
    pub await_media: bool,
    /// The distribution: queued callers wait there for an operator.
    pub acd: Option<AcdHandle<OperatorLeg>>,
}

/// Where the call is.
enum Phase {
    /// In the voice portal.
    Portal,
    /// Waiting in a section's queue; `announcing` while a position announcement plays.
    Queued { section: String, announcing: bool },
    /// Without a distribution: the holding message loops until `until`.
    Holding { until: Instant },
    /// A last message plays, then the call ends.
    Farewell,
    /// Talking with an operator (the bridge itself is kept beside the phase).
    Bridged,
}

/// The caller bridged to an operator's phone; the media receiver relays the packets.
struct Bridge {
    section: String,
    operator: String,
    /// Sending (or dropping) it ends the operator's leg.
    hang_up: Option<tokio::sync::oneshot::Sender<()>>,
    /// Told when the bridge ends, however it ends (the console closes the screen-pop).
    ended_to: Option<(Arc<Updates>, String)>,
}

impl Bridge {
    /// Release the operator's phone (BYE).
    fn release(&mut self) {
        if let Some(h) = self.hang_up.take() {
            let _ = h.send(());
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some((updates, call_id)) = self.ended_to.take() {
            updates.publish(Change::CallEnded { operator: self.operator.clone(), call_id });
        }
    }
}

impl Bridge {
    fn new(section: String, leg: OperatorLeg, caller: &mut Media) -> (Box<Bridge>, tokio::sync::oneshot::Receiver<()>) {
        let OperatorLeg { operator, socket, media, ended, hang_up } = leg;
        let (ssrc, seq, ts) = caller.voice.hand_over();
        let (caller_codec, op_codec) = (LegCodec::of(&caller.params), LegCodec::of(&media));
        caller.inbound.bridge(OperatorSide {
            socket,
            codec: op_codec,
            remote: media.remote,
            to_operator: Relay::new(caller_codec, op_codec, rand::random(), rand::random(), rand::random()),
            to_caller: Relay::new(op_codec, caller_codec, ssrc, seq, ts),
        });
        (Box::new(Bridge { section, operator, hang_up: Some(hang_up), ended_to: None }), ended)
    }

    fn ending(&self) -> Ending {
        Ending::Answered { section: self.section.clone(), operator: self.operator.clone() }
    }
}

struct Media {
    params: Negotiated,
    voice: Voice,
    /// The caller's packets: keys, when last heard, the relay while bridged.
    inbound: Inbound,
}

/// Run a call until it ends; returns its record.
pub async fn run(
    mut session: Session,
    setup: CallSetup,
    mut signals: mpsc::Receiver<Signal>,
    requests: mpsc::Sender<Request>,
) -> CallRecord {
    let CallSetup {
        call_id,
        socket,
        clock,
        receiver,
        store,
        updates,
        media,
        prompts,
        media_timeout,
        max_hold,
        mut record,
        await_media,
        acd,
    } = setup;
    debug!(%call_id, "media task started");
    let socket = Arc::new(socket);
    let mut m = Media {
        voice: clock.attach(Arc::clone(&socket), &media),
        inbound: receiver.attach(socket, &media),
        params: media,
    };
    let mut phase = Phase::Portal;
    let (notices_tx, mut notices) = mpsc::unbounded_channel::<Notice<OperatorLeg>>();
    let mut started = !await_media;
    let mut pending: Vec<Event> = if started { vec![Event::Start] } else { Vec::new() };
    // Actions of the interpreter still to carry out (from `handle`, or `resume_at` after a queue).
    let mut actions: std::collections::VecDeque<Action> = std::collections::VecDeque::new();
    let mut ending: Option<Ending> = None;
    let mut bridge: Option<Box<Bridge>> = None;
    let mut leg_ended: Option<tokio::sync::oneshot::Receiver<()>> = None;
    // When the caller last joined a queue (the wait the operator's console shows).
    let mut queued_since = Instant::now();

    // One timer for everything the call waits for (the interpreter's deadline, the media
    // timeout, the end of holding), re-armed only when the earliest time changes. Frames are
    // the media clock's business: the call wakes only when something happens to it.
    let wake = tokio::time::sleep_until(Instant::now());
    tokio::pin!(wake);
    let mut armed: Option<Instant> = None;

    'call: loop {
        // Feed the interpreter, and carry out what it asks.
        while !(pending.is_empty() && actions.is_empty()) {
            if actions.is_empty() {
                let ev = pending.remove(0);
                actions.extend(session.handle(ev, Utc::now()));
            }
            while let Some(action) = actions.pop_front() {
                match action {
                    Action::Play { lang, items } => {
                        let (clips, missing) = prompts.clips_for(lang, &items, m.params.law);
                        if !missing.is_empty() {
                            warn!(?missing, "prompt audio missing; skipped");
                        }
                        if clips.is_empty() {
                            pending.push(Event::PlaybackDone);
                        } else {
                            m.voice.play(clips, m.params.law, false);
                        }
                    }
                    Action::StopPlayback => m.voice.stop(),
                    Action::Lookup { service, input } => {
                        let asked = input.clone().unwrap_or_default();
                        let answer = lookup(&store, service, input, &call_id).await;
                        info!(service = service.name(), input = %asked, result = %answer.result, "lookup");
                        pending.push(Event::LookupResult(answer));
                    }
                    Action::Enqueue { section } => {
                        phase = match &acd {
                            Some(acd) => {
                                info!(%section, "queued");
                                acd.join(&call_id, &section, Instant::now().into_std(), notices_tx.clone());
                                queued_since = Instant::now();
                                play_music(&mut m, &prompts);
                                Phase::Queued { section, announcing: false }
                            }
                            None => {
                                info!(%section, "queued (no distribution: holding message)");
                                let hold = [Utterance::Word("hold".into())];
                                let (clips, _) = prompts.clips_for(session.language(), &hold, m.params.law);
                                m.voice.play(clips, m.params.law, true);
                                Phase::Holding { until: Instant::now() + max_hold }
                            }
                        };
                    }
                    Action::Hangup => {
                        let _ = requests.send(Request::Hangup).await;
                    }
                }
            }
        }
        if matches!(phase, Phase::Portal) && session.is_done() {
            ending = session.outcome().cloned().map(Ending::from);
            // A goodbye prompt has already played: Hangup comes after its PlaybackDone.
            break 'call;
        }

        let deadline = matches!(phase, Phase::Portal).then(|| session.deadline()).flatten().map(|d| {
            let wait = (d - Utc::now()).to_std().unwrap_or_default();
            Instant::now() + wait
        });
        let hold_until = match phase {
            Phase::Holding { until } => Some(until),
            _ => None,
        };
        let heard = Instant::from_std(m.inbound.last_heard());
        let silence_limit = m.params.direction.we_receive().then_some(heard + media_timeout);
        let earliest = [deadline, silence_limit, hold_until].into_iter().flatten().min();
        if earliest != armed {
            if let Some(t) = earliest {
                wake.as_mut().reset(t);
            }
            armed = earliest;
        }
        tokio::select! {
            sig = signals.recv() => match sig {
                Some(Signal::Dtmf(k)) => match &phase {
                    Phase::Portal => pending.push(Event::Key(k)),
                    Phase::Queued { .. } => queue_key(&acd, &call_id, k),
                    _ => {}
                },
                Some(Signal::Media(p)) => {
                    debug!(?p, "media renegotiated");
                    if !started {
                        started = true;
                        pending.push(Event::Start);
                    }
                    // New address, hold or codec: the stream, the receiver and a bridge follow.
                    m.voice.set_media(&p);
                    m.inbound.set_media(&p);
                    m.params = p;
                }
                Some(Signal::Hangup) | None => {
                    ending = Some(match &bridge {
                        Some(b) => b.ending(),
                        None => caller_hung_up(&mut session, &phase),
                    });
                    if matches!(phase, Phase::Queued { .. } | Phase::Bridged)
                        && let Some(acd) = &acd
                    {
                        acd.event(AcdEvent::CallerHangup { call: call_id.clone() });
                    }
                    if let Some(mut b) = bridge.take() {
                        b.release();
                    }
                    break 'call;
                }
            },
            // RFC 4733 keys (while bridged they go to the operator's phone instead).
            k = m.inbound.key() => match &phase {
                Phase::Portal => pending.push(Event::Key(k)),
                Phase::Queued { .. } => queue_key(&acd, &call_id, k),
                _ => {}
            },
            _ = async {
                match leg_ended.as_mut() {
                    Some(e) => { let _ = e.await; }
                    None => std::future::pending().await,
                }
            }, if leg_ended.is_some() => {
                let b = bridge.take().expect("a bridge with its leg");
                info!(operator = %b.operator, "the operator hung up");
                if let Some(acd) = &acd {
                    acd.event(AcdEvent::OperatorHangup { call: call_id.clone() });
                }
                ending = Some(b.ending());
                let _ = requests.send(Request::Hangup).await;
                break 'call;
            },
            n = notices.recv() => if let Some(n) = n {
                let outcome = on_notice(n, &mut phase, &mut m, &prompts, session.language());
                if matches!(outcome, NoticeOutcome::Resume(_) | NoticeOutcome::Farewell(_) | NoticeOutcome::Requeue(_))
                    && let Some(mut b) = bridge.take()
                {
                    // A transfer: the operator's phone is released, the caller goes on, on the
                    // stream the relay was continuing.
                    if let Some(next) = m.inbound.unbridge().await {
                        m.voice.take_back(next);
                    }
                    b.release();
                    leg_ended = None;
                }
                match outcome {
                    NoticeOutcome::Continue => {}
                    NoticeOutcome::Requeue(section) => {
                        queued_since = Instant::now();
                        play_music(&mut m, &prompts);
                        phase = Phase::Queued { section, announcing: false };
                    }
                    NoticeOutcome::Resume(node) => {
                        phase = Phase::Portal;
                        pending.clear();
                        actions.extend(session.resume_at(&node, Utc::now()));
                    }
                    NoticeOutcome::Farewell(e) => {
                        phase = Phase::Farewell;
                        ending = Some(e);
                    }
                    NoticeOutcome::Connect(section, leg) => {
                        let (mut b, ended) = Bridge::new(section, leg, &mut m);
                        let pop = pop(&record, &session, &b, &call_id, queued_since);
                        if let Some(store) = &store {
                            keep_latest_call(Arc::clone(store), pop.clone());
                        }
                        if let Some(u) = &updates {
                            u.publish(Change::Call(Box::new(pop)));
                            b.ended_to = Some((Arc::clone(u), call_id.clone()));
                        }
                        bridge = Some(b);
                        leg_ended = Some(ended);
                        phase = Phase::Bridged;
                    }
                }
            },
            () = m.voice.finished(), if m.voice.is_playing() => match &mut phase {
                Phase::Portal => pending.push(Event::PlaybackDone),
                Phase::Queued { announcing, .. } if *announcing => {
                    *announcing = false;
                    if let Some(acd) = &acd {
                        acd.event(AcdEvent::AnnouncementDone { call: call_id.clone() });
                    }
                    play_music(&mut m, &prompts);
                }
                Phase::Farewell => {
                    let _ = requests.send(Request::Hangup).await;
                    break 'call;
                }
                _ => {}
            },
            _ = &mut wake, if armed.is_some() => {
                armed = None;
                let now = Instant::now();
                if deadline.is_some_and(|t| t <= now) {
                    pending.push(Event::Timeout);
                }
                // The receiver hears the caller without waking us: look again before ending.
                let heard = Instant::from_std(m.inbound.last_heard());
                if silence_limit.is_some() && heard + media_timeout <= now {
                    warn!("no RTP from the caller for {media_timeout:?}: ending the call");
                    ending = Some(Ending::MediaTimeout { node: session.current_node().unwrap_or_default().to_string() });
                    if let Some(acd) = acd.as_ref().filter(|_| matches!(phase, Phase::Queued { .. } | Phase::Bridged)) {
                        acd.event(AcdEvent::CallerHangup { call: call_id.clone() });
                    }
                    if let Some(mut b) = bridge.take() {
                        b.release();
                    }
                    let _ = requests.send(Request::Hangup).await;
                    break 'call;
                }
                if hold_until.is_some_and(|t| t <= now) {
                    info!("longest hold reached: ending the call");
                    let _ = requests.send(Request::Hangup).await;
                    break 'call;
                }
            },
        }
    }
    if let Some(acd) = &acd {
        acd.left(&call_id);
    }

    let trace = session.trace();
    record.ended = Utc::now();
    record.language = Some(session.language());
    record.path = trace.path.clone();
    record.keys = trace.keys.clone();
    record.answers = trace.answers.clone();
    record.ending = ending
        .or_else(|| session.outcome().cloned().map(Ending::from))
        .unwrap_or(Ending::CallerHangup { node: String::new() });
    info!(ending = %record.ending, "call ended");
    record
}

/// How the record ends when the caller hangs up in `phase`.
fn caller_hung_up(session: &mut Session, phase: &Phase) -> Ending {
    match phase {
        Phase::Queued { section, .. } => Ending::Abandoned { section: section.clone() },
        _ => {
            for _ in session.handle(Event::CallerHangup, Utc::now()) {}
            match session.outcome().cloned() {
                Some(o) => Ending::from(o),
                None => Ending::CallerHangup { node: session.current_node().unwrap_or_default().to_string() },
            }
        }
    }
}

fn queue_key(acd: &Option<AcdHandle<OperatorLeg>>, call: &str, key: Key) {
    if let Some(acd) = acd {
        acd.event(AcdEvent::Key { call: call.to_string(), key: key.0 });
    }
}

fn play_music(m: &mut Media, prompts: &PromptStore) {
    match prompts.hold_music() {
        Some(music) => m.voice.play(vec![Arc::clone(music.get(m.params.law))], m.params.law, true),
        None => m.voice.stop(),
    }
}

enum NoticeOutcome {
    Continue,
    /// Back to the voice portal at this node.
    Resume(String),
    /// A last message plays; the call ends this way.
    Farewell(Ending),
    /// An operator answered: bridge to them.
    Connect(String, OperatorLeg),
    /// The operator transferred the call to this section's queue.
    Requeue(String),
}

/// Carry out what the distribution says to a queued (or bridged, when its operator transfers
/// it) call.
fn on_notice(
    notice: Notice<OperatorLeg>,
    phase: &mut Phase,
    m: &mut Media,
    prompts: &PromptStore,
    lang: crate::ivr::Lang,
) -> NoticeOutcome {
    let bridged = matches!(phase, Phase::Bridged);
    let section = match phase {
        Phase::Queued { section, .. } => section.clone(),
        _ => String::new(),
    };
    match (notice, &mut *phase) {
        (Notice::Queued { section }, Phase::Queued { section: current, .. }) => {
            if *current != section {
                info!(from = %current, to = %section, "moved to another queue");
                *current = section;
            }
        }
        (Notice::Queued { section }, Phase::Bridged) => {
            info!(%section, "transferred by the operator to a queue");
            return NoticeOutcome::Requeue(section);
        }
        (Notice::Announce { ahead, wait }, Phase::Queued { announcing, .. }) => {
            let words: Vec<Utterance> = speech::queue_position(ahead, wait).into_iter().map(Utterance::Word).collect();
            let (clips, missing) = prompts.clips_for(lang, &words, m.params.law);
            if !missing.is_empty() {
                warn!(?missing, "announcement audio missing");
            }
            debug!(ahead, ?wait, "announcing the position");
            m.voice.play(clips, m.params.law, false);
            *announcing = true;
        }
        (Notice::StopAnnouncement, Phase::Queued { announcing, .. }) => {
            if std::mem::take(announcing) {
                play_music(m, prompts);
            }
        }
        (Notice::Route(Route::Node(node)), Phase::Queued { .. } | Phase::Bridged) => {
            info!(%node, bridged, "leaving the queue for the voice portal");
            m.voice.stop();
            return NoticeOutcome::Resume(node);
        }
        (Notice::Route(Route::Message(prompt)), Phase::Queued { .. } | Phase::Bridged) => {
            info!(%prompt, "leaving the queue with a message");
            let (clips, _) = prompts.clips_for(lang, &[Utterance::Prompt(prompt.clone())], m.params.law);
            m.voice.play(clips, m.params.law, false);
            return NoticeOutcome::Farewell(Ending::QueueMessage { section, prompt });
        }
        (Notice::Connect(leg), Phase::Queued { .. }) => {
            info!(operator = %leg.operator, %section, "connected to the operator");
            return NoticeOutcome::Connect(section, leg);
        }
        (Notice::Connect(leg), _) => {
            // The call has moved on (it hung up, or left the queue): release the operator.
            let _ = leg.hang_up.send(());
        }
        (other, _) => debug!(?other, "notice for a call no longer waiting: ignored"),
    }
    NoticeOutcome::Continue
}

/// Keep the screen-pop as its operator's latest call in the store, off the call's task: after a
/// restart the operator can still set its outcome. (One operator's calls are connected seconds
/// apart, so these writes cannot overtake each other.)
fn keep_latest_call(store: Arc<dyn CaseStore>, pop: CallPop) {
    tokio::task::spawn_blocking(move || {
        if let Err(e) = store.set_latest_call(pop) {
            warn!(error = %e, "the operator's latest call is not kept");
        }
    });
}

/// The screen-pop of a call just connected to `b`'s operator.
fn pop(record: &CallRecord, session: &Session, b: &Bridge, call_id: &str, queued_since: Instant) -> CallPop {
    let trace = session.trace();
    CallPop {
        operator: b.operator.clone(),
        call_id: call_id.to_string(),
        caller: record.caller.clone(),
        number: record.number.clone(),
        province: record.province.clone(),
        region: record.region.clone(),
        section: b.section.clone(),
        path: trace.path.clone(),
        keys: trace.keys.clone(),
        language: session.language().to_string(),
        arrived: record.arrived,
        waited_s: queued_since.elapsed().as_secs(),
        tree: session.tree().name.clone(),
        readback_node: session.tree().appointment_readback().map(String::from),
    }
}
