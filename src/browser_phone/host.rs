//! One console's connection, carried out: a task owning str0m's `Rtc` (ICE-lite, DTLS-SRTP,
//! the data channel), the UDP socket the browser talks to, and the phone's [`Phone`] machine.
//!
//! While the operator talks, the browser's audio is handed to the caller's call as if it came
//! from a SIP phone: the call bridges to an ordinary operator leg (an RTP socket of the range),
//! and this task exchanges plain RTP with that leg on loopback. The call's relay, transcoding,
//! hold and transfer stay exactly those of SIP phones.

use super::machine::{Input, Output, Phone, Ring};
use super::page::{FromPage, ToPage};
use crate::acd::Event;
use crate::acd::PhoneKind;
use crate::acd::host::{AcdHandle, Offer};
use crate::calls::OperatorLeg;
use crate::media::g711::Law;
use crate::media::rtp_port::PortPool;
use crate::media::sdp::Negotiated;
use rtp::header::Header;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;
use str0m::channel::ChannelId;
use str0m::format::Codec;
use str0m::media::{Frequency, MediaTime, Mid, Pt};
use str0m::net::{Protocol, Receive};
use str0m::{Event as RtcEvent, IceConnectionState, Output as RtcOutput, Rtc};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, warn};
use webrtc_util::marshal::{Marshal, MarshalSize, Unmarshal};

/// What the registry and the dialer ask of a connection.
pub enum Command {
    /// Ring `offer`; `section` is the section's name, as the page shows it.
    Ring { offer: Offer, section: String, acd: AcdHandle<OperatorLeg>, cancel: CancellationToken },
    /// A newer connection of the same operator took over, or the operator left the page.
    Close,
}

/// The offer being rung.
struct Ringing {
    offer: Offer,
    acd: AcdHandle<OperatorLeg>,
    cancel: CancellationToken,
}

/// The call being talked on: plain RTP with the call's operator leg.
struct Talk {
    call: String,
    rtp: UdpSocket,
    /// The operator leg's socket, where the browser's audio goes.
    leg: SocketAddr,
    /// Told when the operator's side ends (hung up on the page, or the page went away).
    ended: Option<oneshot::Sender<()>>,
    /// Completes when the call lets the operator go.
    released: oneshot::Receiver<()>,
    ssrc: u32,
    seq: u16,
}

pub struct Connection {
    pub operator: String,
    pub rtc: Rtc,
    pub web: UdpSocket,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub acd: AcdHandle<OperatorLeg>,
    pub ports: Arc<PortPool>,
    /// Set while the connection lives: the registry's view of whether it can take a call.
    pub reachable: Arc<std::sync::atomic::AtomicBool>,
    /// True once a newer connection of the same operator has replaced this one (which then
    /// says nothing more to the distribution: the newer one speaks for the phone).
    pub replaced: Box<dyn Fn() -> bool + Send>,
}

struct Run {
    c: Connection,
    phone: Phone,
    channel: Option<ChannelId>,
    /// The audio's media line and the G.711 law and payload type we send with.
    audio: Option<(Mid, Law, Pt)>,
    ringing: Option<Ringing>,
    talk: Option<Talk>,
    closed: bool,
}

impl Connection {
    pub async fn run(self) {
        let span = tracing::info_span!("browser_phone", operator = %self.operator);
        let mut run =
            Run { c: self, phone: Phone::new(), channel: None, audio: None, ringing: None, talk: None, closed: false };
        run.go().instrument(span).await;
    }
}

impl Run {
    async fn go(&mut self) {
        let local = self.c.web.local_addr().expect("a bound socket");
        let mut buf = vec![0u8; 2048];
        let mut rtp_buf = vec![0u8; 2048];
        loop {
            // What str0m has to send may make the phone decide, and what the phone decides may
            // give str0m more to send: until both are quiet.
            let rtc_due = loop {
                let due = self.poll_rtc();
                if !self.carry_out() {
                    break due;
                }
            };
            if self.closed {
                break;
            }
            let due = self.phone.poll_timeout().map_or(rtc_due, |t| t.min(rtc_due));
            let cancelled = async {
                match &self.ringing {
                    Some(r) => r.cancel.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            let (talking, released) = match &mut self.talk {
                Some(t) => (Some(&t.rtp), Some(&mut t.released)),
                None => (None, None),
            };
            let from_leg = async {
                match talking {
                    Some(s) => s.recv_from(&mut rtp_buf).await,
                    None => std::future::pending().await,
                }
            };
            let released = async {
                match released {
                    Some(r) => {
                        let _ = r.await;
                    }
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                r = self.c.web.recv_from(&mut buf) => match r {
                    Ok((n, source)) => self.receive(&buf[..n], source, local),
                    Err(e) => debug!("receive: {e}"),
                },
                r = from_leg => {
                    if let Ok((n, _)) = r {
                        let packet = rtp_buf[..n].to_vec();
                        self.send_to_browser(&packet);
                    }
                }
                () = released => {
                    let call = self.talk.take().map(|t| t.call).unwrap_or_default();
                    self.phone.handle(Input::Released { call }, Instant::now());
                }
                () = cancelled => {
                    if let Some(r) = self.ringing.take() {
                        self.phone.handle(Input::Withdrawn { call: r.offer.call }, Instant::now());
                    }
                }
                cmd = self.c.commands.recv() => match cmd {
                    Some(Command::Ring { offer, section, acd, cancel }) => {
                        info!(call = %offer.call, "ringing the console");
                        let ring = Ring { call: offer.call.clone(), caller: offer.caller.clone(), section };
                        self.ringing = Some(Ringing { offer, acd, cancel });
                        self.phone.handle(Input::Ring(ring), Instant::now());
                    }
                    Some(Command::Close) | None => {
                        self.c.rtc.disconnect();
                        self.phone.handle(Input::Lost, Instant::now());
                        self.closed = true;
                    }
                },
                () = tokio::time::sleep_until(due.into()) => {
                    let now = Instant::now();
                    if let Err(e) = self.c.rtc.handle_input(str0m::Input::Timeout(now)) {
                        warn!("WebRTC: {e}");
                        self.lose();
                    }
                    self.phone.handle_timeout(now);
                }
            }
        }
        // Nothing may be left ringing or talking.
        self.phone.handle(Input::Lost, Instant::now());
        self.carry_out();
        self.c.reachable.store(false, std::sync::atomic::Ordering::Relaxed);
        info!("browser phone closed");
    }

    fn receive(&mut self, data: &[u8], source: SocketAddr, destination: SocketAddr) {
        let Ok(contents) = data.try_into() else { return };
        let input =
            str0m::Input::Receive(Instant::now(), Receive { proto: Protocol::Udp, source, destination, contents });
        if self.c.rtc.accepts(&input)
            && let Err(e) = self.c.rtc.handle_input(input)
        {
            warn!("WebRTC: {e}");
            self.lose();
        }
    }

    fn lose(&mut self) {
        self.phone.handle(Input::Lost, Instant::now());
        self.closed = true;
    }

    /// Everything str0m has to send or tell; when it next needs the time.
    fn poll_rtc(&mut self) -> Instant {
        loop {
            match self.c.rtc.poll_output() {
                Ok(RtcOutput::Timeout(t)) => return t,
                Ok(RtcOutput::Transmit(t)) => {
                    if let Err(e) = self.c.web.try_send_to(&t.contents, t.destination) {
                        debug!("send to the browser: {e}");
                    }
                }
                Ok(RtcOutput::Event(e)) => self.rtc_event(e),
                Err(e) => {
                    warn!("WebRTC: {e}");
                    self.lose();
                    return Instant::now() + std::time::Duration::from_secs(1);
                }
            }
        }
    }

    fn rtc_event(&mut self, e: RtcEvent) {
        let now = Instant::now();
        match e {
            RtcEvent::IceConnectionStateChange(IceConnectionState::Disconnected) => {
                info!("the browser phone's connection was lost");
                self.lose();
            }
            RtcEvent::MediaAdded(m) => {
                let chosen = self.c.rtc.writer(m.mid).and_then(|w| {
                    w.payload_params().find_map(|p| match p.spec().codec {
                        Codec::PCMA => Some((Law::Pcma, p.pt())),
                        Codec::PCMU => Some((Law::Pcmu, p.pt())),
                        _ => None,
                    })
                });
                match chosen {
                    Some((law, pt)) => self.audio = Some((m.mid, law, pt)),
                    None => warn!("the browser offered no G.711 audio"),
                }
            }
            RtcEvent::ChannelOpen(id, label) => {
                debug!(%label, "data channel open");
                self.channel = Some(id);
                if self.audio.is_some() {
                    self.phone.handle(Input::Connected, now);
                }
            }
            RtcEvent::ChannelClose(id) if Some(id) == self.channel => {
                info!("the browser phone's channel closed");
                self.lose();
            }
            RtcEvent::ChannelData(d) if Some(d.id) == self.channel => match serde_json::from_slice::<FromPage>(&d.data)
            {
                Ok(said) => {
                    debug!(?said, "the page said");
                    self.phone.handle(Input::Page(said), now)
                }
                Err(e) => debug!("unreadable message from the page: {e}"),
            },
            RtcEvent::MediaData(d) => self.send_to_leg(&d),
            _ => {}
        }
    }

    /// The browser's audio, as RTP to the call's operator leg.
    fn send_to_leg(&mut self, d: &str0m::media::MediaData) {
        let (Some(t), Some((_, law, _))) = (&mut self.talk, self.audio) else { return };
        let sent_as = match d.params.spec().codec {
            Codec::PCMA => Law::Pcma,
            Codec::PCMU => Law::Pcmu,
            _ => return,
        };
        let payload: Vec<u8> = if sent_as == law { d.data.to_vec() } else { law.encode(&sent_as.decode(&d.data)) };
        let header = Header {
            version: 2,
            payload_type: law.payload_type(),
            sequence_number: t.seq,
            timestamp: d.time.numer() as u32,
            ssrc: t.ssrc,
            ..Default::default()
        };
        t.seq = t.seq.wrapping_add(1);
        let mut packet = vec![0u8; header.marshal_size() + payload.len()];
        if header.marshal_to(&mut packet).is_ok() {
            let n = header.marshal_size();
            packet[n..].copy_from_slice(&payload);
            let _ = t.rtp.try_send_to(&packet, t.leg);
        }
    }

    /// The caller's audio (RTP from the operator leg, in our law) to the browser.
    fn send_to_browser(&mut self, packet: &[u8]) {
        let Some((mid, law, pt)) = self.audio else { return };
        let mut reader = packet;
        let Ok(header) = Header::unmarshal(&mut reader) else { return };
        if header.payload_type != law.payload_type() {
            return; // telephone-events and anything else: not for the browser
        }
        let Some(w) = self.c.rtc.writer(mid) else { return };
        let time = MediaTime::new(u64::from(header.timestamp), Frequency::EIGHT_KHZ);
        if let Err(e) = w.write(pt, Instant::now(), time, reader.to_vec()) {
            debug!("audio to the browser: {e}");
        }
    }

    /// Carry out what the phone decided; whether it had decided anything.
    fn carry_out(&mut self) -> bool {
        let mut any = false;
        while let Some(out) = self.phone.poll_output() {
            any = true;
            match out {
                Output::Reachable(reachable) => {
                    self.c.reachable.store(reachable, std::sync::atomic::Ordering::Relaxed);
                    info!(reachable, "browser phone");
                    if (self.c.replaced)() {
                        continue;
                    }
                    self.c.acd.event(Event::Reachable {
                        operator: self.c.operator.clone(),
                        reachable,
                        phone: PhoneKind::Browser,
                    });
                }
                Output::ToPage(said) => self.tell_page(&said),
                Output::Answered { call } => self.answered(&call),
                Output::Failed { call, reason } => {
                    if let Some(r) = self.ringing.take_if(|r| r.offer.call == call) {
                        info!(%call, %reason, "the browser phone did not answer");
                        r.acd.event(Event::OfferFailed { call, operator: r.offer.operator, reason });
                    } else {
                        // Refused before it was taken (a ring while busy).
                        self.c.acd.event(Event::OfferFailed { call, operator: self.c.operator.clone(), reason });
                    }
                }
                Output::HungUp { call } => {
                    if let Some(mut t) = self.talk.take_if(|t| t.call == call) {
                        info!(%call, "the operator hung up in the browser");
                        if let Some(ended) = t.ended.take() {
                            let _ = ended.send(());
                        }
                    }
                }
            }
        }
        any
    }

    fn tell_page(&mut self, said: &ToPage) {
        let Some(id) = self.channel else { return };
        let Some(mut ch) = self.c.rtc.channel(id) else { return };
        let text = serde_json::to_vec(said).expect("page messages serialise");
        if !matches!(ch.write(false, &text), Ok(true)) {
            debug!("the page's channel is full: message dropped");
        }
        // str0m wants every mutation drained before the next one.
        self.poll_rtc();
    }

    /// The operator answered: an operator leg for the call, bridged by the call's host.
    fn answered(&mut self, call: &str) {
        let Some(r) = self.ringing.take_if(|r| r.offer.call == call) else { return };
        let Some((_, law, _)) = self.audio else { return };
        match self.leg(law) {
            Ok((leg, mut talk)) => {
                talk.call = call.into();
                info!(%call, codec = law.name(), "the operator answered in the browser");
                self.talk = Some(talk);
                r.acd.answered(call, &r.offer.operator, leg, drop);
            }
            Err(e) => {
                warn!(%call, "no RTP port for the browser phone's call: {e}");
                self.phone.handle(Input::Page(FromPage::HangUp { call: call.into() }), Instant::now());
                r.acd.event(Event::OfferFailed {
                    call: call.into(),
                    operator: r.offer.operator,
                    reason: format!("no RTP port: {e}"),
                });
            }
        }
    }

    fn leg(&self, law: Law) -> std::io::Result<(OperatorLeg, Talk)> {
        let socket = self.c.ports.bind()?;
        let bound = socket.local_addr()?;
        let ip = if bound.ip().is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { bound.ip() };
        let rtp = std::net::UdpSocket::bind((ip, 0))?;
        rtp.set_nonblocking(true)?;
        let rtp = UdpSocket::from_std(rtp)?;
        let media = Negotiated { dtmf_payload_type: None, ..Negotiated::plain(law, Some(rtp.local_addr()?)) };
        let (ended_tx, ended) = oneshot::channel();
        let (hang_up, released) = oneshot::channel();
        let (_, media_changes) = mpsc::unbounded_channel();
        let leg =
            OperatorLeg { operator: self.c.operator.clone(), socket, rtcp: None, media, ended, hang_up, media_changes };
        let talk = Talk {
            call: String::new(),
            rtp,
            leg: SocketAddr::new(ip, bound.port()),
            ended: Some(ended_tx),
            released,
            ssrc: rand::random(),
            seq: rand::random(),
        };
        Ok((leg, talk))
    }
}
