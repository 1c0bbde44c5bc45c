//! A call's media without SIP: the call's host plays the shipped prompts as paced RTP to a real
//! UDP peer, takes RFC 4733 keys and SIP INFO keys (through a channel standing for the
//! signalling), and leaves the record of the path.

use centralino::calls::host::{self, Parts, Signal, Signalling};
use centralino::calls::machine::{Call, Settings};
use centralino::calls::{CallRecord, Ending};
use centralino::ivr::{Key, Lang, Utterance};
use centralino::media::clock::{ClockPriority, MediaClock};
use centralino::media::dtmf::TelephoneEvent;
use centralino::media::prompt_store::PromptStore;
use centralino::media::receiver::MediaReceiver;
use centralino::media::rtp_port::PortPool;
use centralino::media::sdp;
use centralino::switchboard::{Paths, Switchboard};
use chrono::Utc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use webrtc_util::marshal::{Marshal, Unmarshal};

struct Peer {
    socket: UdpSocket,
    call: std::net::SocketAddr,
    seq: u16,
}

impl Peer {
    /// Receive RTP packets until `quiet` passes without one; returns (arrival, packet) pairs.
    async fn receive_until_quiet(&self, quiet: Duration) -> Vec<(Instant, rtp::packet::Packet)> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        while let Ok(Ok(n)) = tokio::time::timeout(quiet, self.socket.recv(&mut buf)).await {
            out.push((Instant::now(), rtp::packet::Packet::unmarshal(&mut &buf[..n]).unwrap()));
        }
        out
    }

    /// Press a key with RFC 4733: three updates and three end packets, one timestamp.
    async fn press(&mut self, k: char) {
        let event = centralino::media::dtmf::key_event(Key(k)).unwrap();
        let ts = u32::from(self.seq) * 1000;
        for (i, end) in [false, false, false, true, true, true].into_iter().enumerate() {
            let payload = TelephoneEvent { event, end, volume: 10, duration: 160 * (i as u16 + 1) }.to_bytes();
            let header = rtp::header::Header {
                version: 2,
                payload_type: 101,
                sequence_number: self.seq,
                timestamp: ts,
                ssrc: 7,
                marker: i == 0,
                ..Default::default()
            };
            let pkt = rtp::packet::Packet { header, payload: payload.to_vec().into() };
            self.socket.send_to(&pkt.marshal().unwrap(), self.call).await.unwrap();
            self.seq = self.seq.wrapping_add(1);
        }
    }
}

/// The signalling as a channel: what the test sends is what the caller's signalling reports.
struct Channel(mpsc::Receiver<Signal>);

impl Signalling for Channel {
    type Event = Signal;

    async fn next_event(&mut self) -> Option<Signal> {
        self.0.recv().await
    }

    async fn interpret(&mut self, signal: Signal) -> Option<Signal> {
        Some(signal)
    }

    fn answer(&mut self) -> Result<(), String> {
        Ok(())
    }

    fn hang_up(&mut self) {}
}

async fn start(number: &str) -> (Peer, mpsc::Sender<Signal>, tokio::task::JoinHandle<CallRecord>, Arc<PromptStore>) {
    let (sb, _) = Switchboard::load(&Paths::default()).expect("shipped switchboard loads");
    let (store, errors) = PromptStore::load(&sb.paths.sounds);
    assert!(errors.is_empty());
    let prompts = Arc::new(store);
    let peer_socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr = peer_socket.local_addr().unwrap();
    let offer = format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio {} RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\n",
        peer_addr.port()
    );
    let media = sdp::negotiate(&offer, &centralino::sip::server::terms(sdp::SrtpPolicy::Optional)).unwrap();
    let socket = PortPool::new("127.0.0.1".parse().unwrap(), 42000, 42998).bind().unwrap();
    let call_addr = socket.local_addr().unwrap();
    let session = sb.session("+393331234567", number).unwrap();
    let record = CallRecord {
        call_id: "test-call".into(),
        origin: session.facts().origin.clone(),
        tree: Some(session.tree().name.clone()),
        arrived: Utc::now(),
        answered: Some(Utc::now()),
        ended: Utc::now(),
        language: None,
        path: vec![],
        keys: String::new(),
        answers: vec![],
        ending: Ending::Cancelled,
        callback_of: None,
        media: None,
    };
    let parts = Parts {
        clock: MediaClock::start(1, ClockPriority::Normal).unwrap(),
        receiver: MediaReceiver::start(1, ClockPriority::Normal, centralino::config::MediaIo::Auto).unwrap(),
        prompts: Arc::clone(&prompts),
        store: None,
        updates: None,
        acd: None,
    };
    let settings = Settings {
        answer_delay: Duration::ZERO,
        media_timeout: Duration::from_secs(30),
        max_hold: Duration::from_secs(30),
        distribution: false,
        late_offer: false,
        plan: Default::default(),
    };
    let call = Call::new(session, record, settings, host::now());
    let (sig_tx, sig_rx) = mpsc::channel(8);
    let task = tokio::spawn(host::run(call, socket, media, parts, Channel(sig_rx)));
    (Peer { socket: peer_socket, call: call_addr, seq: 1 }, sig_tx, task, prompts)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_are_paced_rtp_and_keys_drive_the_portal() {
    let (mut peer, signals, task, prompts) = start("0773 691001").await;
    // The language prompt, whole: its packet count and pacing match the clip.
    let packets = peer.receive_until_quiet(Duration::from_millis(1000)).await;
    let clip = prompts.clip(Lang::It, &Utterance::Prompt("language_choice".into())).unwrap();
    let expected = clip.pcmu.len().div_ceil(160);
    assert_eq!(packets.len(), expected, "one packet per 20 ms of the prompt");
    let first = &packets[0].1.header;
    assert!(first.marker, "a prompt starts a talkspurt");
    assert_eq!(first.payload_type, 0);
    for w in packets.windows(2) {
        assert_eq!(w[1].1.header.sequence_number, w[0].1.header.sequence_number.wrapping_add(1));
        assert_eq!(w[1].1.header.timestamp, w[0].1.header.timestamp.wrapping_add(160));
        assert_eq!(w[1].1.header.ssrc, first.ssrc);
        assert!(!w[1].1.header.marker);
    }
    let span = packets.last().unwrap().0 - packets[0].0;
    let ideal = Duration::from_millis(20 * (expected as u64 - 1));
    assert!(span.abs_diff(ideal) < Duration::from_millis(40), "paced to the wall clock: {span:?} vs {ideal:?}");
    let payload: Vec<u8> = packets.iter().flat_map(|(_, p)| p.payload.to_vec()).collect();
    assert_eq!(&payload[..clip.pcmu.len()], &clip.pcmu[..], "the prompt's own audio, encoded once");

    // Italian, then 6 (office information) as SIP INFO during the welcome: barge-in, and the
    // key is kept for the main menu (type-ahead), which takes it without playing its prompt.
    peer.press('1').await;
    let mut buf = [0u8; 2048];
    for _ in 0..10 {
        tokio::time::timeout(Duration::from_secs(1), peer.socket.recv(&mut buf))
            .await
            .expect("the welcome plays")
            .unwrap();
    }
    signals.send(Signal::Key(Key('6'))).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    signals.send(Signal::Hangup).await.unwrap();
    let record = task.await.unwrap();
    assert_eq!(record.keys, "16");
    assert_eq!(record.language, Some(Lang::It));
    assert_eq!(record.answers, ["office_info"]);
    assert!(
        record.path.starts_with(&["language_entry".to_string(), "language_choice".into(), "opening_check".into()]),
        "{:?}",
        record.path
    );
    assert!(record.path.contains(&"office_info".to_string()), "{:?}", record.path);
    assert!(matches!(record.ending, Ending::CallerHangup { .. }), "{:?}", record.ending);
}
