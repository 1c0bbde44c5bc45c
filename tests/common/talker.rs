//! A phone's audio for the tests: a UDP socket that records the RTP the engine sends and
//! answers with a tone, and what it takes to tell one tone from another.

use centralino::media::g711::Law;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Packets received, with their arrival time.
pub type Heard = Vec<(Instant, Vec<u8>)>;

/// One side's phone audio: records what arrives; once it has heard from the engine, answers
/// every 20 ms with its own stream (a 400 Hz tone for the caller, 1 kHz for the operator).
pub struct Talker {
    pub port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<Heard>>,
}

pub fn rtp(pt: u8, ssrc: u32, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, pt, (seq >> 8) as u8, seq as u8];
    p.extend(ts.to_be_bytes());
    p.extend(ssrc.to_be_bytes());
    p.extend(payload);
    p
}

pub fn tone(hz: f32, frame: u32) -> Vec<i16> {
    (0..160)
        .map(|i| ((((frame * 160 + i) as f32) / 8000.0 * hz * std::f32::consts::TAU).sin() * 6000.0) as i16)
        .collect()
}

impl Talker {
    pub fn start(law: Law, hz: f32) -> Talker {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        socket.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
        let port = socket.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0u8; 2048];
            let mut peer: Option<SocketAddr> = None;
            let mut frame = 0u32;
            let mut next = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                if let Ok((n, from)) = socket.recv_from(&mut buf) {
                    got.push((Instant::now(), buf[..n].to_vec()));
                    // Symmetric RTP: answer where the engine's packets come from.
                    peer.get_or_insert(from);
                }
                if let Some(to) = peer
                    && Instant::now() >= next
                {
                    let payload = law.encode(&tone(hz, frame));
                    let _ = socket.send_to(&rtp(law.payload_type(), 0x5151, frame as u16, frame * 160, &payload), to);
                    frame += 1;
                    next += Duration::from_millis(20);
                }
            }
            got
        });
        Talker { port, stop, thread: Some(thread) }
    }

    pub fn finish(mut self) -> Heard {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// Strength of `hz` in a PCM block (Goertzel), relative to the block's energy.
pub fn share_of(pcm: &[i16], hz: f32) -> f32 {
    let w = std::f32::consts::TAU * hz / 8000.0;
    let (mut s1, mut s2) = (0f32, 0f32);
    for x in pcm {
        let s = *x as f32 + 2.0 * w.cos() * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = s1 * s1 + s2 * s2 - 2.0 * w.cos() * s1 * s2;
    let energy: f32 = pcm.iter().map(|x| (*x as f32).powi(2)).sum::<f32>() * pcm.len() as f32 / 2.0;
    if energy == 0.0 { 0.0 } else { power / energy }
}

pub struct Stream {
    pub pt: u8,
    pub ssrc: u32,
    pub seq: u16,
    pub payload: Vec<u8>,
}

pub fn parse(p: &[u8]) -> Option<Stream> {
    (p.len() >= 12 && p[0] >> 6 == 2).then(|| Stream {
        pt: p[1] & 0x7f,
        ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        seq: u16::from_be_bytes([p[2], p[3]]),
        payload: p[12..].to_vec(),
    })
}
