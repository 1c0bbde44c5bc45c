//! The phone in the browser: an operator signed in to the console answers there, over WebRTC.
//!
//! The page sends its SDP offer (audio and one data channel) with `POST /api/phone`; the engine
//! answers as an ICE-lite endpoint with one host candidate on its media address, DTLS-SRTP,
//! G.711 only (str0m, sans-IO: see [`host`]). The connection stays up while the page is open:
//! the distribution's offers ring the page through the data channel ([`page`]), the operator
//! answers and hangs up there, and the audio is bridged to the caller like a SIP phone's. A
//! console that is connected and awake is *reachable* for the distribution; one that lost its
//! connection, or did not acknowledge a ring, is not (see [`machine`]). Why str0m: docs/webrtc.md.

pub mod host;
pub mod machine;
pub mod page;

use crate::acd::host::{AcdHandle, Dialer, Offer};
use crate::calls::OperatorLeg;
use crate::live::Live;
use crate::media::rtp_port::PortPool;
use host::{Command, Connection};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use str0m::change::SdpOffer;
use str0m::config::DtlsCert;
use str0m::{Candidate, RtcConfig};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::info;

/// Why a console's phone could not be connected.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    #[error("the SDP offer cannot be read: {0}")]
    Offer(String),
    #[error("the offer has no audio or no data channel the engine can take: {0}")]
    Refused(String),
    #[error("no media port is free: {0}")]
    NoPort(std::io::Error),
    #[error("the engine is starting: try again")]
    NotReady,
}

struct Entry {
    id: u64,
    commands: mpsc::UnboundedSender<Command>,
    reachable: Arc<AtomicBool>,
}

/// The consoles' phones, one per operator (a newer connection replaces the older).
pub struct BrowserPhones {
    phones: Mutex<HashMap<String, Entry>>,
    next_id: AtomicU64,
    ports: Arc<PortPool>,
    /// The address the browsers send media to (the engine's media address).
    media_ip: IpAddr,
    /// One DTLS certificate for every connection (its fingerprint goes in each answer).
    cert: DtlsCert,
    acd: OnceLock<AcdHandle<OperatorLeg>>,
}

impl BrowserPhones {
    pub fn new(ports: Arc<PortPool>, media_ip: IpAddr) -> Result<Arc<BrowserPhones>, String> {
        let provider = str0m::crypto::from_feature_flags();
        let cert = provider.dtls_provider.generate_certificate().ok_or("cannot make a DTLS certificate")?;
        Ok(Arc::new(BrowserPhones {
            phones: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            ports,
            media_ip,
            cert,
            acd: OnceLock::new(),
        }))
    }

    /// The distribution the phones answer to (set once, when it has started).
    pub fn set_distribution(&self, acd: AcdHandle<OperatorLeg>) {
        let _ = self.acd.set(acd);
    }

    /// Connect `operator`'s console: the SDP answer to its offer. An earlier connection of the
    /// same operator is closed.
    pub fn connect(self: &Arc<Self>, operator: &str, offer: &str) -> Result<String, PhoneError> {
        let acd = self.acd.get().ok_or(PhoneError::NotReady)?.clone();
        let offer = SdpOffer::from_sdp_string(offer).map_err(|e| PhoneError::Offer(e.to_string()))?;
        let mut rtc = RtcConfig::new()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_pcma(true, false)
            .enable_pcmu(true, false)
            .set_dtls_cert(self.cert.clone())
            .build(Instant::now());
        let socket = self.ports.bind().map_err(PhoneError::NoPort)?;
        let port = socket.local_addr().map_err(PhoneError::NoPort)?.port();
        let candidate = Candidate::host((self.media_ip, port).into(), "udp")
            .map_err(|e| PhoneError::Refused(format!("host candidate: {e}")))?;
        rtc.add_local_candidate(candidate);
        let answer = rtc.sdp_api().accept_offer(offer).map_err(|e| PhoneError::Refused(e.to_string()))?;
        let web = tokio::net::UdpSocket::from_std(socket).map_err(PhoneError::NoPort)?;

        let (commands, rx) = mpsc::unbounded_channel();
        let reachable = Arc::new(AtomicBool::new(false));
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let entry = Entry { id, commands, reachable: Arc::clone(&reachable) };
        if let Some(old) = self.lock().insert(operator.to_string(), entry) {
            let _ = old.commands.send(Command::Close);
        }
        info!(%operator, port, "browser phone connecting");
        let weak = Arc::downgrade(self);
        let me = operator.to_string();
        let replaced =
            Box::new(move || weak.upgrade().is_some_and(|phones| phones.lock().get(&me).is_some_and(|e| e.id != id)));
        let connection = Connection {
            operator: operator.into(),
            rtc,
            web,
            commands: rx,
            acd,
            ports: Arc::clone(&self.ports),
            reachable,
            replaced,
        };
        let phones = Arc::clone(self);
        let operator = operator.to_string();
        tokio::spawn(async move {
            connection.run().await;
            let mut all = phones.lock();
            if all.get(&operator).is_some_and(|e| e.id == id) {
                all.remove(&operator);
            }
        });
        Ok(answer.to_sdp_string())
    }

    /// The operator left the console (signed out, closed the page).
    pub fn disconnect(&self, operator: &str) {
        if let Some(old) = self.lock().remove(operator) {
            let _ = old.commands.send(Command::Close);
        }
    }

    /// Whether `operator` has a console phone connected and awake.
    pub fn reachable(&self, operator: &str) -> bool {
        self.lock().get(operator).is_some_and(|e| e.reachable.load(Ordering::Relaxed))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.phones.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A dialer that rings the operator's console when it has a phone connected, and `sip`
    /// (their desk or soft phone) otherwise.
    pub fn dialer(self: &Arc<Self>, live: Arc<Live>, sip: Box<dyn Dialer<OperatorLeg>>) -> ConsoleFirst {
        ConsoleFirst { phones: Arc::clone(self), live, sip }
    }
}

/// Rings the console's phone when the operator has one connected, else their SIP phone.
pub struct ConsoleFirst {
    phones: Arc<BrowserPhones>,
    live: Arc<Live>,
    sip: Box<dyn Dialer<OperatorLeg>>,
}

impl Dialer<OperatorLeg> for ConsoleFirst {
    fn ring(&self, offer: Offer, acd: AcdHandle<OperatorLeg>, cancel: CancellationToken) {
        let commands = {
            let all = self.phones.lock();
            all.get(&offer.operator).filter(|e| e.reachable.load(Ordering::Relaxed)).map(|e| e.commands.clone())
        };
        match commands {
            Some(commands) => {
                let loaded = self.live.current();
                let section = loaded
                    .switchboard
                    .config
                    .sections
                    .get(offer.section.as_str())
                    .map_or_else(|| offer.section.clone(), |s| s.name.clone());
                let (call, operator) = (offer.call.clone(), offer.operator.clone());
                if commands.send(Command::Ring { offer, section, acd: acd.clone(), cancel }).is_err() {
                    acd.event(crate::acd::Event::OfferFailed {
                        call,
                        operator,
                        reason: "the browser phone is not connected".into(),
                    });
                }
            }
            None => self.sip.ring(offer, acd, cancel),
        }
    }

    /// Callbacks go out through the SIP trunk.
    fn call_back(&self, attempt: crate::acd::CallBack, acd: AcdHandle<OperatorLeg>, cancel: CancellationToken) {
        self.sip.call_back(attempt, acd, cancel);
    }
}
