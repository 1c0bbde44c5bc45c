//! str0m vs rtc (webrtc-rs, sans-IO): the browser phone's workload, both peers in one thread,
//! connected through memory (no sockets) on a simulated clock.
//!
//! The "server" is configured as centralino's browser phone (ICE-lite, G.711 only, one host
//! candidate, one DTLS certificate for every connection); the "client" stands in for the
//! browser (full ICE, offers one sendrecv audio transceiver with PCMU/PCMA and a data channel).
//!
//! Measured on one thread with the thread CPU clock (CLOCK_THREAD_CPUTIME_ID); process CPU
//! (getrusage RUSAGE_SELF) is printed beside it as a check. See README.md.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const SERVER: &str = "192.0.2.1:40000";
const CLIENT: &str = "198.51.100.2:50000";
const FRAME: Duration = Duration::from_millis(20);
const PAYLOAD: [u8; 160] = [0xd5; 160]; // G.711 frame: 20 ms at 8 kHz
/// Simulated time a handshake may take before it counts as failed.
const HANDSHAKE_LIMIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------------
// CPU clocks

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn process_cpu() -> Duration {
    // SAFETY: getrusage fills the zeroed struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn max_rss_kib() -> i64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru.ru_maxrss
}

// ---------------------------------------------------------------------------------------------
// What the harness needs from one peer, whatever the crate.

trait Peer {
    /// A datagram the peer wants sent (kept as the crate hands it over: no copy).
    type Out: AsRef<[u8]>;
    /// A datagram from `from`, received "now".
    fn input(&mut self, now: Instant, from: SocketAddr, data: &[u8]);
    /// The peer's timer fired.
    fn timeout(&mut self, now: Instant);
    /// Everything the peer has to send or tell; returns when it next wants `timeout`.
    fn poll(&mut self, now: Instant, out: &mut Vec<Self::Out>) -> Instant;
    fn channel_open(&self) -> bool;
    /// Audio frames received so far.
    fn received(&self) -> u64;
    /// Write one 20 ms G.711 frame.
    fn send_frame(&mut self, now: Instant, n: u32, payload: &[u8]);
}

/// A connection's two ends and what is in flight between them.
struct Net<C: Peer, S: Peer> {
    c: C,
    s: S,
    now: Instant,
    c_next: Instant,
    s_next: Instant,
    to_c: VecDeque<(Instant, S::Out)>,
    to_s: VecDeque<(Instant, C::Out)>,
    scratch_c: Vec<C::Out>,
    scratch_s: Vec<S::Out>,
    /// CPU spent inside each side's calls (when `split`).
    cpu_c: Duration,
    cpu_s: Duration,
    split: bool,
}

/// WEBRTC_BENCH_TRACE=1: print the handshakes' timer jumps (for explaining their simulated time).
fn trace() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("WEBRTC_BENCH_TRACE").is_some())
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

impl<C: Peer, S: Peer> Net<C, S> {
    fn new(c: C, s: S, now: Instant) -> Self {
        Net {
            c,
            s,
            now,
            c_next: now,
            s_next: now,
            to_c: VecDeque::new(),
            to_s: VecDeque::new(),
            scratch_c: Vec::new(),
            scratch_s: Vec::new(),
            cpu_c: Duration::ZERO,
            cpu_s: Duration::ZERO,
            split: true,
        }
    }

    fn timed<R>(split: bool, acc: &mut Duration, f: impl FnOnce() -> R) -> R {
        if !split {
            return f();
        }
        let t = thread_cpu();
        let r = f();
        *acc += thread_cpu() - t;
        r
    }

    fn poll_c(&mut self) {
        let (now, c, out) = (self.now, &mut self.c, &mut self.scratch_c);
        self.c_next = Self::timed(self.split, &mut self.cpu_c, || c.poll(now, out));
        self.to_s.extend(self.scratch_c.drain(..).map(|d| (now, d)));
    }

    fn poll_s(&mut self) {
        let (now, s, out) = (self.now, &mut self.s, &mut self.scratch_s);
        self.s_next = Self::timed(self.split, &mut self.cpu_s, || s.poll(now, out));
        self.to_c.extend(self.scratch_s.drain(..).map(|d| (now, d)));
    }

    /// Deliver everything in flight, both ways, until both peers are quiet.
    fn pump(&mut self) {
        self.poll_c();
        self.poll_s();
        while !self.to_c.is_empty() || !self.to_s.is_empty() {
            while let Some((_, d)) = self.to_s.pop_front() {
                let (now, s) = (self.now, &mut self.s);
                Self::timed(self.split, &mut self.cpu_s, || s.input(now, addr(CLIENT), d.as_ref()));
            }
            self.poll_s();
            while let Some((_, d)) = self.to_c.pop_front() {
                let (now, c) = (self.now, &mut self.c);
                Self::timed(self.split, &mut self.cpu_c, || c.input(now, addr(SERVER), d.as_ref()));
            }
            self.poll_c();
        }
    }

    /// Move the clock to `t` (if later), fire due timers, deliver everything.
    fn advance(&mut self, t: Instant) {
        if t > self.now {
            self.now = t;
        }
        let now = self.now;
        if self.c_next <= now {
            let c = &mut self.c;
            Self::timed(self.split, &mut self.cpu_c, || c.timeout(now));
        }
        if self.s_next <= now {
            let s = &mut self.s;
            Self::timed(self.split, &mut self.cpu_s, || s.timeout(now));
        }
        self.pump();
    }

    /// Zero network latency: jump from timer to timer until `done`.
    fn run_until(&mut self, done: impl Fn(&C, &S) -> bool, limit: Duration) -> Result<(), String> {
        let start = self.now;
        self.pump();
        let mut spins = 0u32;
        while !done(&self.c, &self.s) {
            let next = self.c_next.min(self.s_next);
            if next > start + limit {
                return Err(format!("not done after {limit:?} of simulated time"));
            }
            if next <= self.now {
                spins += 1;
                if spins > 10_000 {
                    return Err("timers do not advance".into());
                }
            } else {
                spins = 0;
            }
            if trace() {
                eprintln!(
                    "  t+{:>5} ms: timer of {}",
                    (next - start).as_millis(),
                    if self.c_next <= self.s_next { "client" } else { "server" }
                );
            }
            self.advance(next);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// str0m

mod s0 {
    use super::*;
    use str0m::change::{SdpAnswer, SdpOffer, SdpPendingOffer};
    use str0m::channel::ChannelId;
    use str0m::config::DtlsCert;
    use str0m::format::Codec;
    use str0m::media::{Direction, Frequency, MediaKind, MediaTime, Mid, Pt};
    use str0m::net::{Protocol, Receive};
    use str0m::{Candidate, Event, Input, Output, Rtc, RtcConfig};

    pub struct Certs {
        pub server: DtlsCert,
        pub client: DtlsCert,
    }

    pub fn certs() -> Certs {
        let provider = str0m::crypto::from_feature_flags();
        let server = provider.dtls_provider.generate_certificate().expect("server cert");
        let client = provider.dtls_provider.generate_certificate().expect("client cert");
        Certs { server, client }
    }

    pub struct End {
        rtc: Rtc,
        local: SocketAddr,
        open: bool,
        channel: Option<ChannelId>,
        audio: Option<(Mid, Option<Pt>)>,
        received: u64,
        failed: Option<String>,
    }

    impl End {
        fn new(rtc: Rtc, local: SocketAddr) -> Self {
            End { rtc, local, open: false, channel: None, audio: None, received: 0, failed: None }
        }
        fn fail(&mut self, e: impl std::fmt::Display) {
            if self.failed.is_none() {
                self.failed = Some(e.to_string());
                eprintln!("str0m error: {e}");
            }
        }
    }

    /// The browser's side: full ICE, one audio transceiver, one data channel; the offer as text.
    pub fn client(certs: &Certs, now: Instant, signal_candidate: bool) -> (End, String, SdpPendingOffer) {
        let mut rtc = RtcConfig::new()
            .clear_codecs()
            .enable_pcmu(true, false)
            .enable_pcma(true, false)
            .set_dtls_cert(certs.client.clone())
            .build(now);
        let host = Candidate::host(addr(CLIENT), "udp").unwrap();
        if signal_candidate {
            rtc.add_local_candidate(host.clone());
        }
        let mut api = rtc.sdp_api();
        let mid = api.add_media(MediaKind::Audio, Direction::SendRecv, None, None, None);
        api.add_channel("phone".into());
        let (offer, pending) = api.apply().expect("an offer");
        if !signal_candidate {
            // Gathered but never signalled (as a browser's mDNS host candidate): the server
            // only learns the address from the binding requests (peer-reflexive).
            rtc.add_local_candidate(host);
        }
        let mut end = End::new(rtc, addr(CLIENT));
        end.audio = Some((mid, None));
        (end, offer.to_sdp_string(), pending)
    }

    /// The engine's side, configured as src/browser_phone/mod.rs does.
    pub fn server(certs: &Certs, now: Instant, offer: &str) -> (End, String) {
        let offer = SdpOffer::from_sdp_string(offer).expect("offer parses");
        let mut rtc = RtcConfig::new()
            .set_ice_lite(true)
            .clear_codecs()
            .enable_pcma(true, false)
            .enable_pcmu(true, false)
            .set_dtls_cert(certs.server.clone())
            .build(now);
        rtc.add_local_candidate(Candidate::host(addr(SERVER), "udp").unwrap());
        let answer = rtc.sdp_api().accept_offer(offer).expect("answer");
        (End::new(rtc, addr(SERVER)), answer.to_sdp_string())
    }

    pub fn accept(client: &mut End, pending: SdpPendingOffer, answer: &str) {
        let answer = SdpAnswer::from_sdp_string(answer).expect("answer parses");
        client.rtc.sdp_api().accept_answer(pending, answer).expect("answer accepted");
    }

    fn g711(rtc: &mut Rtc, mid: Mid) -> Option<Pt> {
        rtc.writer(mid)?.payload_params().find_map(|p| match p.spec().codec {
            Codec::PCMA | Codec::PCMU => Some(p.pt()),
            _ => None,
        })
    }

    impl Peer for End {
        type Out = Vec<u8>;

        fn input(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
            let Ok(contents) = data.try_into() else { return };
            let input =
                Input::Receive(now, Receive { proto: Protocol::Udp, source: from, destination: self.local, contents });
            if let Err(e) = self.rtc.handle_input(input) {
                self.fail(e);
            }
        }

        fn timeout(&mut self, now: Instant) {
            if let Err(e) = self.rtc.handle_input(Input::Timeout(now)) {
                self.fail(e);
            }
        }

        fn poll(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) -> Instant {
            loop {
                match self.rtc.poll_output() {
                    Ok(Output::Timeout(t)) => return t,
                    Ok(Output::Transmit(t)) => out.push(t.contents.into()),
                    Ok(Output::Event(e)) => match e {
                        Event::ChannelOpen(id, _) => {
                            self.open = true;
                            self.channel = Some(id);
                        }
                        Event::MediaAdded(m) => self.audio = Some((m.mid, None)),
                        Event::MediaData(_) => self.received += 1,
                        _ => {}
                    },
                    Err(e) => {
                        self.fail(e);
                        return now + Duration::from_secs(1);
                    }
                }
            }
        }

        fn channel_open(&self) -> bool {
            self.open
        }

        fn received(&self) -> u64 {
            self.received
        }

        fn send_frame(&mut self, now: Instant, n: u32, payload: &[u8]) {
            let Some((mid, pt)) = self.audio else { return };
            let pt = match pt {
                Some(pt) => pt,
                None => {
                    let pt = g711(&mut self.rtc, mid).expect("G.711 negotiated");
                    self.audio = Some((mid, Some(pt)));
                    pt
                }
            };
            let time = MediaTime::new(u64::from(n) * 160, Frequency::EIGHT_KHZ);
            let Some(w) = self.rtc.writer(mid) else { return };
            if let Err(e) = w.write(pt, now, time, payload.to_vec()) {
                self.fail(e);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// rtc (webrtc-rs sans-IO)

mod wr {
    use super::*;
    use bytes::{Bytes, BytesMut};
    use rtc::crypto::{RTCCryptoProvider, SignatureScheme};
    use rtc::interceptor::Registry;
    use rtc::media_stream::MediaStreamTrack;
    use rtc::peer_connection::certificate::{CertificateParams, RTCCertificate};
    use rtc::peer_connection::configuration::RTCConfigurationBuilder;
    use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
    use rtc::peer_connection::configuration::media_engine::{MIME_TYPE_PCMA, MIME_TYPE_PCMU, MediaEngine};
    use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
    use rtc::peer_connection::event::{RTCDataChannelEvent, RTCPeerConnectionEvent};
    use rtc::peer_connection::message::RTCMessage;
    use rtc::peer_connection::sdp::RTCSessionDescription;
    use rtc::peer_connection::transport::{CandidateConfig, CandidateHostConfig, RTCDtlsRole, RTCIceCandidate};
    use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
    use rtc::rtp_transceiver::RTCRtpSenderId;
    use rtc::rtp_transceiver::rtp_sender::{
        RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters, RTCRtpEncodingParameters, RtpCodecKind,
    };
    use rtc::sansio::Protocol;
    use rtc::shared::{TaggedBytesMut, TransportContext, TransportProtocol};
    use std::sync::Arc;

    pub struct Setup {
        pub provider: Arc<dyn RTCCryptoProvider>,
        pub server: RTCCertificate,
        pub client: RTCCertificate,
        /// Whether to install rtc's default interceptors (NACK, TWCC receiver, RTCP reports),
        /// as its examples do. Without them rtc sends no RTCP reports at all.
        pub interceptors: bool,
    }

    pub fn setup(interceptors: bool) -> Setup {
        let provider = rtc::crypto::default_provider().expect("crypto provider");
        let cert = || {
            RTCCertificate::generate(
                provider.crypto(),
                SignatureScheme::EcdsaP256Sha256,
                CertificateParams::new(vec!["centralino".to_owned()]).unwrap(),
            )
            .expect("certificate")
        };
        let (server, client) = (cert(), cert());
        Setup { provider: provider.clone(), server, client, interceptors }
    }

    fn g711(pt: u8, mime: &str) -> RTCRtpCodecParameters {
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                mime_type: mime.to_owned(),
                clock_rate: 8000,
                channels: 0,
                sdp_fmtp_line: String::new(),
                rtcp_feedback: vec![],
            },
            payload_type: pt,
            ..Default::default()
        }
    }

    fn pc(setup: &Setup, now: Instant, lite: bool, cert: &RTCCertificate) -> RTCPeerConnection {
        let mut media = MediaEngine::default();
        media.register_codec(g711(0, MIME_TYPE_PCMU), RtpCodecKind::Audio).unwrap();
        media.register_codec(g711(8, MIME_TYPE_PCMA), RtpCodecKind::Audio).unwrap();
        let registry = if setup.interceptors {
            register_default_interceptors(Registry::new(), &mut media).unwrap()
        } else {
            Registry::new()
        };
        // The answering server takes the DTLS server role (a=setup:passive), as str0m's answer
        // does; rtc's own default for an answerer is the client role (a=setup:active).
        let settings = SettingEngineBuilder::new()
            .with_lite(lite)
            .with_answering_dtls_role(if std::env::var_os("RTC_DTLS_ACTIVE").is_some() {
                RTCDtlsRole::Client // rtc's default for an answerer
            } else {
                RTCDtlsRole::Server
            })
            .with_crypto_provider(setup.provider.clone())
            .build();
        let config = RTCConfigurationBuilder::new().with_certificates(vec![cert.clone()]).build();
        RTCPeerConnectionBuilder::new()
            .with_configuration(config)
            .with_setting_engine(settings)
            .with_media_engine(media)
            .with_interceptor_registry(registry)
            .build(now)
            .expect("peer connection")
    }

    fn host(a: SocketAddr) -> rtc::peer_connection::transport::RTCIceCandidateInit {
        let c = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "udp".to_owned(),
                address: a.ip().to_string(),
                port: a.port(),
                component: 1,
                ..Default::default()
            },
            ..Default::default()
        }
        .new_candidate_host()
        .unwrap();
        RTCIceCandidate::from(&c).to_json().unwrap()
    }

    /// One sendrecv audio track (PCMU) with a fixed SSRC.
    fn add_audio(pc: &mut RTCPeerConnection, ssrc: u32) -> RTCRtpSenderId {
        let track = MediaStreamTrack::new(
            "centralino".into(),
            format!("audio-{ssrc}"),
            "audio".into(),
            RtpCodecKind::Audio,
            vec![RTCRtpEncodingParameters {
                rtp_coding_parameters: RTCRtpCodingParameters { ssrc: Some(ssrc), ..Default::default() },
                codec: g711(0, MIME_TYPE_PCMU).rtp_codec,
                ..Default::default()
            }],
        );
        pc.add_track(track).unwrap()
    }

    pub struct End {
        pc: RTCPeerConnection,
        local: SocketAddr,
        open: bool,
        sender: RTCRtpSenderId,
        ssrc: u32,
        pt: Option<u8>,
        received: u64,
        failed: Option<String>,
    }

    impl End {
        fn fail(&mut self, e: impl std::fmt::Display) {
            if self.failed.is_none() {
                self.failed = Some(e.to_string());
                eprintln!("rtc error: {e}");
            }
        }
    }

    pub fn client(setup: &Setup, now: Instant, signal_candidate: bool) -> (End, String) {
        let mut pc = pc(setup, now, false, &setup.client);
        let ssrc = 0x1111_1111;
        let sender = add_audio(&mut pc, ssrc);
        pc.create_data_channel("phone", None).unwrap();
        if signal_candidate {
            pc.add_local_candidate(host(addr(CLIENT))).unwrap();
        }
        let offer = pc.create_offer(None).unwrap();
        pc.set_local_description(now, offer.clone()).unwrap();
        // What is signalled: the local description as it stands now (with the candidates
        // added so far), not later (rtc adds later candidates to it, as trickle would).
        let sdp = pc.local_description().map(|d| d.sdp).unwrap_or(offer.sdp);
        if !signal_candidate {
            pc.add_local_candidate(host(addr(CLIENT))).unwrap();
        }
        (End { pc, local: addr(CLIENT), open: false, sender, ssrc, pt: None, received: 0, failed: None }, sdp)
    }

    /// The engine's side as rtc would do it: ICE-lite, G.711 only, one host candidate, the
    /// shared certificate; it must add its own sendrecv track before answering.
    pub fn server(setup: &Setup, now: Instant, offer: &str) -> (End, String) {
        let mut pc = pc(setup, now, true, &setup.server);
        let ssrc = 0x2222_2222;
        let sender = add_audio(&mut pc, ssrc);
        let offer = RTCSessionDescription::offer(offer.to_owned()).expect("offer parses");
        pc.set_remote_description(now, offer).expect("offer accepted");
        pc.add_local_candidate(host(addr(SERVER))).unwrap();
        let answer = pc.create_answer(None).expect("answer");
        pc.set_local_description(now, answer.clone()).expect("answer set");
        let sdp = pc.local_description().map(|d| d.sdp).unwrap_or(answer.sdp);
        (End { pc, local: addr(SERVER), open: false, sender, ssrc, pt: None, received: 0, failed: None }, sdp)
    }

    pub fn accept(client: &mut End, now: Instant, answer: &str) {
        let answer = RTCSessionDescription::answer(answer.to_owned()).expect("answer parses");
        client.pc.set_remote_description(now, answer).expect("answer accepted");
    }

    impl Peer for End {
        type Out = BytesMut;

        fn input(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
            // As a socket loop would: the received bytes copied into a BytesMut.
            let msg = TaggedBytesMut {
                now,
                transport: TransportContext {
                    local_addr: self.local,
                    peer_addr: from,
                    ecn: None,
                    transport_protocol: TransportProtocol::UDP,
                },
                message: BytesMut::from(data),
            };
            if let Err(e) = self.pc.handle_read(msg) {
                self.fail(e);
            }
        }

        fn timeout(&mut self, now: Instant) {
            if let Err(e) = self.pc.handle_timeout(now) {
                self.fail(e);
            }
        }

        fn poll(&mut self, now: Instant, out: &mut Vec<BytesMut>) -> Instant {
            loop {
                let mut any = false;
                while let Some(w) = self.pc.poll_write() {
                    any = true;
                    out.push(w.message);
                }
                while let Some(e) = self.pc.poll_event() {
                    any = true;
                    if let RTCPeerConnectionEvent::OnDataChannel(RTCDataChannelEvent::OnOpen(_)) = e {
                        self.open = true;
                    }
                }
                while let Some(m) = self.pc.poll_read() {
                    any = true;
                    if let RTCMessage::RtpPacket(_, _) = m.message {
                        self.received += 1;
                    }
                }
                if !any {
                    break;
                }
            }
            self.pc.poll_timeout().unwrap_or(now + Duration::from_secs(86400))
        }

        fn channel_open(&self) -> bool {
            self.open
        }

        fn received(&self) -> u64 {
            self.received
        }

        fn send_frame(&mut self, now: Instant, n: u32, payload: &[u8]) {
            let Some(mut sender) = self.pc.rtp_sender(self.sender) else { return };
            let pt = match self.pt {
                Some(pt) => pt,
                None => {
                    let params = sender.get_parameters();
                    let pt = params
                        .rtp_parameters
                        .codecs
                        .iter()
                        .find(|c| c.rtp_codec.clock_rate == 8000)
                        .map(|c| c.payload_type)
                        .expect("G.711 negotiated");
                    self.pt = Some(pt);
                    pt
                }
            };
            let packet = rtc::rtp::Packet {
                header: rtc::rtp::header::Header {
                    version: 2,
                    payload_type: pt,
                    sequence_number: n as u16,
                    timestamp: n.wrapping_mul(160),
                    ssrc: self.ssrc,
                    ..Default::default()
                },
                payload: Bytes::copy_from_slice(payload),
            };
            if let Err(e) = sender.write_rtp(now, packet) {
                self.fail(e);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The two measurements, whatever the crate.

struct Handshakes {
    n: u32,
    cpu: Duration,
    process_cpu: Duration,
    wall: Duration,
    cpu_server: Duration,
    cpu_client: Duration,
    sim: Duration,
}

impl Handshakes {
    /// `self`: the run without per-call timers (its CPU is the figure); `split`: a second run
    /// with a timer around every call into either side (its split is indicative only: each
    /// timed call also carries part of the clock's own cost).
    fn print(&self, split: &Handshakes, name: &str, mode: &str) {
        let n = f64::from(self.n);
        let us = |d: Duration| d.as_secs_f64() / n * 1e6;
        println!(
            "{name:<9} handshake[{mode}]: {} in {:.3} s thread CPU ({:.3} s process CPU, {:.3} s wall) = {:.1} handshakes/s CPU, \
             {:.0} us CPU each; split run ({:.0} us each): server {:.0} us, client {:.0} us, rest {:.0} us; simulated time to open {:.1} ms",
            self.n,
            self.cpu.as_secs_f64(),
            self.process_cpu.as_secs_f64(),
            self.wall.as_secs_f64(),
            n / self.cpu.as_secs_f64(),
            us(self.cpu),
            us(split.cpu),
            us(split.cpu_server),
            us(split.cpu_client),
            us(split.cpu - split.cpu_server - split.cpu_client),
            self.sim.as_secs_f64() / n * 1e3,
        );
    }
}

/// Build a connection (offer, answer) and drive it until the channel is open on both sides.
/// `make` returns the client, the server, and how to finish the client (accept the answer).
fn handshake<C: Peer, S: Peer>(
    make: impl FnOnce(Instant, &mut Duration, &mut Duration) -> (C, S),
    now: Instant,
    split: bool,
) -> Result<Net<C, S>, String> {
    let (mut cpu_c, mut cpu_s) = (Duration::ZERO, Duration::ZERO);
    let (c, s) = make(now, &mut cpu_c, &mut cpu_s);
    let mut net = Net::new(c, s, now);
    net.split = split;
    net.cpu_c = cpu_c;
    net.cpu_s = cpu_s;
    net.run_until(|c, s| c.channel_open() && s.channel_open(), HANDSHAKE_LIMIT)?;
    Ok(net)
}

fn run_handshakes<C: Peer, S: Peer>(
    n: u32,
    make: &dyn Fn(Instant, &mut Duration, &mut Duration) -> (C, S),
    split: bool,
) -> Result<Handshakes, String> {
    let mut sim_base = Instant::now();
    let (mut cpu_c, mut cpu_s, mut sim) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let (t0, p0, w0) = (thread_cpu(), process_cpu(), Instant::now());
    for _ in 0..n {
        let net = handshake(make, sim_base, split)?;
        cpu_c += net.cpu_c;
        cpu_s += net.cpu_s;
        sim += net.now - sim_base;
        sim_base = net.now + Duration::from_secs(1);
        drop(net);
    }
    let (t1, p1, w1) = (thread_cpu(), process_cpu(), Instant::now());
    Ok(Handshakes { n, cpu: t1 - t0, process_cpu: p1 - p0, wall: w1 - w0, cpu_server: cpu_s, cpu_client: cpu_c, sim })
}

/// CPU of one direction of audio, split by side.
struct Direction {
    sent: u64,
    delivered: u64,
    cpu_sender: Duration,
    cpu_receiver: Duration,
    process_cpu: Duration,
}

/// `frames` frames from one side to the other, 20 ms apart in simulated time. Time is handled
/// in batches of `batch` frames (one simulated second): the sender writes them (at their own
/// times), then the receiver takes them (at the times they were sent); what the receiver sends
/// back (RTCP, STUN) reaches the sender at the start of its next batch. Each side's CPU is read
/// once per batch, so the clock's own cost does not matter.
fn one_way<A: Peer, B: Peer>(
    tx: &mut A,
    rx: &mut B,
    tx_addr: SocketAddr,
    rx_addr: SocketAddr,
    clock: &mut (Instant, Instant, Instant),
    frames: u32,
) -> Direction {
    let batch = 50u32;
    let (now, tx_next, rx_next) = clock;
    let mut to_rx: Vec<(Instant, A::Out)> = Vec::new();
    let mut to_tx: Vec<(Instant, B::Out)> = Vec::new();
    let (mut out_a, mut out_b) = (Vec::new(), Vec::new());
    let (mut cpu_tx, mut cpu_rx) = (Duration::ZERO, Duration::ZERO);
    let before = rx.received();
    let p0 = process_cpu();
    let mut n = 0;
    while n < frames {
        // The sender's batch.
        let t0 = thread_cpu();
        for (_, d) in to_tx.drain(..) {
            tx.input(*now, rx_addr, d.as_ref());
        }
        for _ in 0..batch.min(frames - n) {
            *now += FRAME;
            if *tx_next <= *now {
                tx.timeout(*now);
            }
            tx.send_frame(*now, n, &PAYLOAD);
            n += 1;
            *tx_next = tx.poll(*now, &mut out_a);
            to_rx.extend(out_a.drain(..).map(|d| (*now, d)));
        }
        let t1 = thread_cpu();
        // The receiver's.
        for (t, d) in to_rx.drain(..) {
            if *rx_next <= t {
                rx.timeout(t);
            }
            rx.input(t, tx_addr, d.as_ref());
            *rx_next = rx.poll(t, &mut out_b);
            to_tx.extend(out_b.drain(..).map(|d| (t, d)));
        }
        if *rx_next <= *now {
            rx.timeout(*now);
            *rx_next = rx.poll(*now, &mut out_b);
            to_tx.extend(out_b.drain(..).map(|d| (*now, d)));
        }
        let t2 = thread_cpu();
        cpu_tx += t1 - t0;
        cpu_rx += t2 - t1;
    }
    // What the receiver said last reaches the sender (not counted).
    for (_, d) in to_tx.drain(..) {
        tx.input(*now, rx_addr, d.as_ref());
    }
    *tx_next = tx.poll(*now, &mut out_a);
    for d in out_a.drain(..) {
        rx.input(*now, tx_addr, d.as_ref());
    }
    *rx_next = rx.poll(*now, &mut out_b);
    let p1 = process_cpu();
    Direction {
        sent: u64::from(frames),
        delivered: rx.received() - before,
        cpu_sender: cpu_tx,
        cpu_receiver: cpu_rx,
        process_cpu: p1 - p0,
    }
}

fn run_media<C: Peer, S: Peer>(mut net: Net<C, S>, frames: u32) -> (Direction, Direction) {
    net.pump();
    // (now, sender's next timer, receiver's next timer)
    let mut clock = (net.now, net.s_next, net.c_next);
    let down = one_way(&mut net.s, &mut net.c, addr(SERVER), addr(CLIENT), &mut clock, frames);
    let mut clock = (clock.0, clock.2, clock.1);
    let up = one_way(&mut net.c, &mut net.s, addr(CLIENT), addr(SERVER), &mut clock, frames);
    (down, up)
}

fn print_media(name: &str, down: &Direction, up: &Direction) {
    let ns = |d: Duration, n: u64| d.as_nanos() as f64 / n as f64;
    for (what, d, tx, rx) in
        [("server->client", down, "server send", "client recv"), ("client->server", up, "client send", "server recv")]
    {
        println!(
            "{name:<9} media {what}: delivered {}/{}; {:.0} ns CPU per packet ({tx} {:.0} ns + {rx} {:.0} ns); process CPU {:.0} ns/packet",
            d.delivered,
            d.sent,
            ns(d.cpu_sender + d.cpu_receiver, d.sent),
            ns(d.cpu_sender, d.sent),
            ns(d.cpu_receiver, d.sent),
            ns(d.process_cpu, d.sent),
        );
    }
    println!(
        "{name:<9} media server side: {:.0} ns CPU per packet sent + {:.0} ns per packet received = {:.0} ns per 20 ms both ways",
        ns(down.cpu_sender, down.sent),
        ns(up.cpu_receiver, up.sent),
        ns(down.cpu_sender, down.sent) + ns(up.cpu_receiver, up.sent),
    );
}

// ---------------------------------------------------------------------------------------------

fn arg(name: &str, default: u32) -> u32 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| v.parse().expect("a number"))
        .unwrap_or(default)
}

fn flag(name: &str) -> bool {
    std::env::args().any(|a| a == name)
}

fn str0m_maker(
    certs: &s0::Certs,
    signal: bool,
) -> impl Fn(Instant, &mut Duration, &mut Duration) -> (s0::End, s0::End) + '_ {
    move |now, cpu_c, cpu_s| {
        let t0 = thread_cpu();
        let (mut c, offer, pending) = s0::client(certs, now, signal);
        let t1 = thread_cpu();
        let (s, answer) = s0::server(certs, now, &offer);
        let t2 = thread_cpu();
        s0::accept(&mut c, pending, &answer);
        let t3 = thread_cpu();
        *cpu_c += (t1 - t0) + (t3 - t2);
        *cpu_s += t2 - t1;
        (c, s)
    }
}

fn rtc_maker(
    setup: &wr::Setup,
    signal: bool,
) -> impl Fn(Instant, &mut Duration, &mut Duration) -> (wr::End, wr::End) + '_ {
    move |now, cpu_c, cpu_s| {
        let t0 = thread_cpu();
        let (mut c, offer) = wr::client(setup, now, signal);
        let t1 = thread_cpu();
        let (s, answer) = wr::server(setup, now, &offer);
        let t2 = thread_cpu();
        wr::accept(&mut c, now, &answer);
        let t3 = thread_cpu();
        *cpu_c += (t1 - t0) + (t3 - t2);
        *cpu_s += t2 - t1;
        (c, s)
    }
}

/// str0m's client (browser stand-in) against rtc's server, and the other way round: the same
/// client for both servers, and a check that the two crates talk to each other.
fn cross_s0_wr<'a>(
    certs: &'a s0::Certs,
    setup: &'a wr::Setup,
) -> impl Fn(Instant, &mut Duration, &mut Duration) -> (s0::End, wr::End) + 'a {
    move |now, cpu_c, cpu_s| {
        let t0 = thread_cpu();
        let (mut c, offer, pending) = s0::client(certs, now, false);
        let t1 = thread_cpu();
        let (s, answer) = wr::server(setup, now, &offer);
        let t2 = thread_cpu();
        s0::accept(&mut c, pending, &answer);
        let t3 = thread_cpu();
        *cpu_c += (t1 - t0) + (t3 - t2);
        *cpu_s += t2 - t1;
        (c, s)
    }
}

fn cross_wr_s0<'a>(
    certs: &'a s0::Certs,
    setup: &'a wr::Setup,
) -> impl Fn(Instant, &mut Duration, &mut Duration) -> (wr::End, s0::End) + 'a {
    move |now, cpu_c, cpu_s| {
        let t0 = thread_cpu();
        let (mut c, offer) = wr::client(setup, now, false);
        let t1 = thread_cpu();
        let (s, answer) = s0::server(certs, now, &offer);
        let t2 = thread_cpu();
        wr::accept(&mut c, now, &answer);
        let t3 = thread_cpu();
        *cpu_c += (t1 - t0) + (t3 - t2);
        *cpu_s += t2 - t1;
        (c, s)
    }
}

fn main() {
    let handshakes = arg("--handshakes", 200);
    let frames = arg("--frames", 50_000);
    let only_str0m = flag("--str0m");
    let only_rtc = flag("--rtc");
    let show_sdp = flag("--sdp");
    let both = !only_str0m && !only_rtc;

    // Pin to the CPU we start on, so thread CPU is not disturbed by migrations.
    unsafe {
        let cpu = libc::sched_getcpu();
        if cpu >= 0 {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu as usize, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }

    // The timer's own cost, for reading the per-side split.
    let t0 = thread_cpu();
    for _ in 0..10_000 {
        std::hint::black_box(thread_cpu());
    }
    println!(
        "clock_gettime(CLOCK_THREAD_CPUTIME_ID) costs {:.0} ns; handshakes {handshakes}, frames {frames} each way",
        (thread_cpu() - t0).as_nanos() as f64 / 10_000.0
    );

    if both || only_str0m {
        // What str0m-aws-lc-rs 0.7 does for every Rtc's DTLS: build a new dimpl Config, which
        // validates the crypto provider each time (a key exchange round trip per group).
        let warm = dimpl::Config::builder().build(); // the first use initialises aws-lc
        std::hint::black_box(warm.is_ok());
        let t = thread_cpu();
        for _ in 0..100 {
            std::hint::black_box(dimpl::Config::builder().use_server_cookie(false).build().expect("dimpl config"));
        }
        println!(
            "str0m     (inside) dimpl::Config::build(), done once per Rtc by str0m-aws-lc-rs: {:.0} us CPU",
            (thread_cpu() - t).as_secs_f64() / 100.0 * 1e6
        );
        let t = thread_cpu();
        let certs = s0::certs();
        println!("str0m     certificates (2, once per side): {:.1} ms CPU", (thread_cpu() - t).as_secs_f64() * 1e3);
        if show_sdp {
            let (_, offer, _) = s0::client(&certs, Instant::now(), false);
            let (_, answer) = s0::server(&certs, Instant::now(), &offer);
            println!("--- str0m offer\n{offer}--- str0m answer\n{answer}");
        }
        for (signal, mode) in [(true, "host signalled"), (false, "peer-reflexive")] {
            let make = str0m_maker(&certs, signal);
            match run_handshakes(handshakes, &make, false)
                .and_then(|h| Ok((h, run_handshakes(handshakes, &make, true)?)))
            {
                Ok((h, split)) => h.print(&split, "str0m", mode),
                Err(e) => println!("str0m     handshake[{mode}] FAILED: {e}"),
            }
        }
        match handshake(str0m_maker(&certs, false), Instant::now(), false) {
            Ok(net) => {
                let (down, up) = run_media(net, frames);
                print_media("str0m", &down, &up);
            }
            Err(e) => println!("str0m     media: no connection: {e}"),
        }
    }

    if both || only_rtc {
        for (name, interceptors) in [("rtc", true), ("rtc-bare", false)] {
            let t = thread_cpu();
            let setup = wr::setup(interceptors);
            println!("{name:<9} certificates (2, once per side): {:.1} ms CPU", (thread_cpu() - t).as_secs_f64() * 1e3);
            if show_sdp && interceptors {
                let (_, offer) = wr::client(&setup, Instant::now(), false);
                let (_, answer) = wr::server(&setup, Instant::now(), &offer);
                println!("--- rtc offer\n{offer}--- rtc answer\n{answer}");
            }
            for (signal, mode) in [(true, "host signalled"), (false, "peer-reflexive")] {
                let make = rtc_maker(&setup, signal);
                match run_handshakes(handshakes, &make, false)
                    .and_then(|h| Ok((h, run_handshakes(handshakes, &make, true)?)))
                {
                    Ok((h, split)) => h.print(&split, name, mode),
                    Err(e) => println!("{name:<9} handshake[{mode}] FAILED: {e}"),
                }
            }
            match handshake(rtc_maker(&setup, false), Instant::now(), false) {
                Ok(net) => {
                    let (down, up) = run_media(net, frames);
                    print_media(name, &down, &up);
                }
                Err(e) => println!("{name:<9} media: no connection: {e}"),
            }
        }
    }
    if both && !flag("--no-cross") {
        let certs = s0::certs();
        let setup = wr::setup(true);
        let mode = "peer-reflexive";
        let make = cross_s0_wr(&certs, &setup);
        match run_handshakes(handshakes, &make, false).and_then(|h| Ok((h, run_handshakes(handshakes, &make, true)?))) {
            Ok((h, split)) => h.print(&split, "str0m->rtc", mode),
            Err(e) => println!("str0m client -> rtc server FAILED: {e}"),
        }
        let make = cross_wr_s0(&certs, &setup);
        match run_handshakes(handshakes, &make, false).and_then(|h| Ok((h, run_handshakes(handshakes, &make, true)?))) {
            Ok((h, split)) => h.print(&split, "rtc->str0m", mode),
            Err(e) => println!("rtc client -> str0m server FAILED: {e}"),
        }
    }
    println!("max RSS {} MiB", max_rss_kib() / 1024);
}

/// API fit, checked at compile time: the engine moves each connection into its own tokio task,
/// so the connection type must be `Send` (both are).
#[allow(dead_code)]
fn _send_check() {
    fn is_send<T: Send>() {}
    is_send::<str0m::Rtc>();
    is_send::<rtc::peer_connection::RTCPeerConnection>();
}
