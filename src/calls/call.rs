//! One answered call: a task that owns the voice-portal [`Session`], the RTP socket and the
//! playback, and turns the interpreter's actions into media. Signalling reaches it as
//! [`Signal`]s; what it needs from signalling goes back as [`Request`]s.

use super::record::{CallRecord, Ending};
use crate::ivr::{Action, Event, Key, Session, Utterance};
use crate::media::clock::{MediaClock, Voice};
use crate::media::dtmf::DtmfReceiver;
use crate::media::prompt_store::PromptStore;
use crate::media::sdp::Negotiated;
use chrono::Utc;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UdpSocket;
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
    pub socket: UdpSocket,
    /// Sends the call's RTP on the shared 20 ms schedule.
    pub clock: MediaClock,
    pub media: Negotiated,
    pub prompts: Arc<PromptStore>,
    /// End the call when no RTP arrives for this long (while the caller should be sending).
    pub media_timeout: Duration,
    /// Longest time a queued caller holds before the portal ends the call, until queues exist.
    pub max_hold: Duration,
    /// The record so far (arrival, caller, number...); completed when the call ends.
    pub record: CallRecord,
    /// The media is not agreed yet (our offer went in the 200): the portal starts at the first
    /// [`Signal::Media`].
    pub await_media: bool,
}

struct Media {
    socket: Arc<UdpSocket>,
    params: Negotiated,
    voice: Voice,
    dtmf: DtmfReceiver,
    last_heard: Instant,
    /// The caller's RTP source, fixed by their first packet from the SDP address; packets
    /// from anywhere else are ignored.
    source: Option<SocketAddr>,
    /// Holding after Enqueue: the hold message loops.
    holding: bool,
}

/// Run a call until it ends; returns its record.
pub async fn run(
    mut session: Session,
    setup: CallSetup,
    mut signals: mpsc::Receiver<Signal>,
    requests: mpsc::Sender<Request>,
) -> CallRecord {
    let CallSetup { call_id, socket, clock, media, prompts, media_timeout, max_hold, mut record, await_media } = setup;
    debug!(%call_id, "media task started");
    let socket = Arc::new(socket);
    let mut m = Media {
        voice: clock.attach(Arc::clone(&socket), &media),
        socket,
        params: media,
        dtmf: DtmfReceiver::default(),
        last_heard: Instant::now(),
        source: None,
        holding: false,
    };
    let mut rx = [0u8; 2048];
    let mut hold_until: Option<Instant> = None;
    let mut started = !await_media;
    let mut pending: Vec<Event> = if started { vec![Event::Start] } else { Vec::new() };
    let mut ending: Option<Ending> = None;

    // One timer for everything the call waits for (the interpreter's deadline, the media
    // timeout, the end of holding), re-armed only when the earliest time changes. Frames are
    // the media clock's business: the call wakes only when something happens to it.
    let wake = tokio::time::sleep_until(Instant::now());
    tokio::pin!(wake);
    let mut armed: Option<Instant> = None;

    'call: loop {
        // Feed the interpreter, and carry out what it asks.
        while let Some(ev) = (!pending.is_empty()).then(|| pending.remove(0)) {
            for action in session.handle(ev, Utc::now()) {
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
                    // The ticket store comes with the cases milestone: say so to the tree.
                    Action::Lookup { service, input } => {
                        info!(service = service.name(), %input, "lookup unavailable until the ticket store exists");
                        pending.push(Event::LookupResult("unavailable".into()));
                    }
                    Action::Enqueue { section } => {
                        info!(%section, "queued (holding until the sections milestone)");
                        let hold = vec![Utterance::Word("hold".into())];
                        let (clips, _) = prompts.clips_for(session.language(), &hold, m.params.law);
                        m.holding = true;
                        m.voice.play(clips, m.params.law, true);
                        hold_until = Some(Instant::now() + max_hold);
                    }
                    Action::Hangup => {
                        let _ = requests.send(Request::Hangup).await;
                    }
                }
            }
        }
        if session.is_done() && !m.holding {
            ending = session.outcome().cloned().map(Ending::from);
            // A goodbye prompt has already played: Hangup comes after its PlaybackDone.
            break 'call;
        }

        let deadline = session.deadline().map(|d| {
            let wait = (d - Utc::now()).to_std().unwrap_or_default();
            Instant::now() + wait
        });
        let silence_limit = m.params.direction.we_receive().then_some(m.last_heard + media_timeout);
        let earliest = [deadline, silence_limit, hold_until].into_iter().flatten().min();
        if earliest != armed {
            if let Some(t) = earliest {
                wake.as_mut().reset(t);
            }
            armed = earliest;
        }
        tokio::select! {
            sig = signals.recv() => match sig {
                Some(Signal::Dtmf(k)) => pending.push(Event::Key(k)),
                Some(Signal::Media(p)) => {
                    debug!(?p, "media renegotiated");
                    if !started {
                        started = true;
                        pending.push(Event::Start);
                    }
                    m.voice.set_media(&p);
                    m.params = p;
                    m.source = None;
                    m.last_heard = Instant::now();
                }
                Some(Signal::Hangup) | None => {
                    for _ in session.handle(Event::CallerHangup, Utc::now()) {}
                    ending = Some(match session.outcome().cloned() {
                        Some(o) => Ending::from(o),
                        None => Ending::CallerHangup { node: session.current_node().unwrap_or_default().to_string() },
                    });
                    break 'call;
                }
            },
            r = m.socket.recv_from(&mut rx) => if let Ok((n, from)) = r {
                on_rtp(&mut m, &rx[..n], from, &mut pending);
            },
            () = m.voice.finished(), if m.voice.is_playing() => pending.push(Event::PlaybackDone),
            _ = &mut wake, if armed.is_some() => {
                armed = None;
                let now = Instant::now();
                if deadline.is_some_and(|t| t <= now) {
                    pending.push(Event::Timeout);
                }
                if silence_limit.is_some_and(|t| t <= now) {
                    warn!("no RTP from the caller for {media_timeout:?}: ending the call");
                    ending = Some(Ending::MediaTimeout { node: session.current_node().unwrap_or_default().to_string() });
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

/// An RTP packet from the caller: telephone-events become keys; any packet proves the caller
/// is there. Packets from an address other than the caller's are ignored.
fn on_rtp(m: &mut Media, packet: &[u8], from: SocketAddr, pending: &mut Vec<Event>) {
    use webrtc_util::marshal::Unmarshal;
    let Ok(header) = rtp::header::Header::unmarshal(&mut &packet[..]) else { return };
    match (m.source, m.params.remote) {
        (Some(s), _) if s != from => return,
        (None, Some(r)) if r.ip() != from.ip() => return,
        (None, _) => m.source = Some(from),
        _ => {}
    }
    m.last_heard = Instant::now();
    if Some(header.payload_type) == m.params.dtmf_payload_type {
        use webrtc_util::marshal::MarshalSize;
        let payload = &packet[packet.len().min(header.marshal_size())..];
        if let Some(k) = m.dtmf.on_packet(header.timestamp, payload) {
            debug!(key = %k, "RFC 4733 key");
            pending.push(Event::Key(k));
        }
    }
}
