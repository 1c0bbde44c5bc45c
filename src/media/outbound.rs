//! What one call sends, advanced by the media clock one 20 ms frame at a time: the prompt being
//! played, the RTP numbering, its protection (SRTP) and where packets go. Pure: the clock
//! ([`super::clock`]) owns the threads, the time and the sockets; this only says which packet
//! each frame produces.

use super::playback::Playback;
use super::rtp_stream::{FRAME_SAMPLES, RtpStream};
use super::sdp::Srtp;
use super::srtp::SrtpSender;
use std::net::SocketAddr;

/// How the stream's packets are protected.
#[derive(Debug)]
pub enum Protection {
    Plain,
    Srtp(SrtpSender),
    /// Encrypted, and a relay holds the sender while it continues the stream: nothing is sent
    /// from here until it comes back.
    Lent,
}

impl Protection {
    /// What a leg's negotiated SRTP asks for.
    pub fn of(srtp: Option<&Srtp>) -> Protection {
        srtp.map_or(Protection::Plain, |s| Protection::Srtp(s.sender()))
    }
}

/// A playback in progress, known to the call by its id.
#[derive(Debug)]
struct Play {
    id: u64,
    playback: Playback,
    /// Start again at the end instead of finishing (the holding message).
    looping: bool,
}

/// The outgoing side of one call.
#[derive(Debug)]
pub struct Outbound {
    rtp: RtpStream,
    /// Where RTP goes (the SDP's address, RFC 3264), `None` while the peer gave none.
    target: Option<SocketAddr>,
    /// False while the call is on hold (sendonly/inactive from the peer): prompts go on in time,
    /// unheard.
    sending: bool,
    play: Option<Play>,
    protection: Protection,
}

/// What one frame of the clock produced.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tick {
    /// A packet of this length was written into the buffer, for this address.
    pub packet: Option<(usize, SocketAddr)>,
    /// The playback with this id has ended (its last frame went in the previous tick).
    pub finished: Option<u64>,
}

impl Outbound {
    pub fn new(rtp: RtpStream, target: Option<SocketAddr>, sending: bool, protection: Protection) -> Self {
        Self { rtp, target, sending, play: None, protection }
    }

    /// Start playing from the next frame (a new talkspurt), replacing any playback.
    pub fn play(&mut self, id: u64, playback: Playback, looping: bool) {
        self.rtp.start_talkspurt();
        self.play = Some(Play { id, playback, looping });
    }

    /// Stop at once (barge-in): the next frames are silence, not sent.
    pub fn stop(&mut self) {
        self.play = None;
    }

    /// New media parameters from a re-INVITE or a late answer.
    pub fn set_route(&mut self, target: Option<SocketAddr>, sending: bool, payload_type: u8) {
        self.target = target;
        self.sending = sending;
        self.rtp.set_payload_type(payload_type);
    }

    /// Follow a renegotiated SRTP (a new suite or key; plain); a lent sender is the relay's to
    /// follow.
    pub fn set_srtp(&mut self, srtp: Option<&Srtp>) {
        let same = match (&self.protection, srtp) {
            (Protection::Lent, _) | (Protection::Plain, None) => true,
            (Protection::Srtp(s), Some(n)) => s.keyed_with(n.suite, &n.ours),
            _ => false,
        };
        if !same {
            self.protection = Protection::of(srtp);
        }
    }

    /// Lend the stream's SRTP sender to a relay that continues the stream (`None`: plain).
    pub fn lend_srtp(&mut self) -> Option<SrtpSender> {
        match std::mem::replace(&mut self.protection, Protection::Plain) {
            Protection::Srtp(s) => {
                self.protection = Protection::Lent;
                Some(s)
            }
            other => {
                self.protection = other;
                None
            }
        }
    }

    /// Continue the stream from `next` after a relay used it, with the SRTP sender it lent.
    pub fn take_back(&mut self, next: u16, srtp: Option<SrtpSender>) {
        self.rtp.set_sequence(next);
        if let Some(s) = srtp {
            self.protection = Protection::Srtp(s);
        }
    }

    /// The id of the playback in progress.
    pub fn playing(&self) -> Option<u64> {
        self.play.as_ref().map(|p| p.id)
    }

    pub fn rtp(&self) -> &RtpStream {
        &self.rtp
    }

    /// The frame due now: writes its packet into `buf` (at least 12 + 160 bytes) when there is
    /// something to send. Silence is not sent (RFC 3551 section 4.1); the timestamp keeps
    /// counting it, and the next prompt starts a talkspurt.
    pub fn tick(&mut self, buf: &mut [u8]) -> Tick {
        let mut frame = [0u8; FRAME_SAMPLES];
        let Some(play) = self.play.as_mut() else {
            self.rtp.skip_frames(1);
            return Tick::default();
        };
        if !play.playback.next_frame(&mut frame) {
            let restarted = play.looping && {
                play.playback.rewind();
                play.playback.next_frame(&mut frame)
            };
            if !restarted {
                let id = play.id;
                self.play = None;
                self.rtp.skip_frames(1);
                return Tick { packet: None, finished: Some(id) };
            }
        }
        let packet = match (self.target, &mut self.protection) {
            (Some(to), Protection::Plain) if self.sending => Some((self.rtp.write_packet(&frame, buf), to)),
            (Some(to), Protection::Srtp(srtp)) if self.sending => {
                let n = self.rtp.write_packet(&frame, buf);
                srtp.protect_rtp(buf, n).map(|n| (n, to))
            }
            _ => {
                self.rtp.skip_frames(1);
                None
            }
        };
        Tick { packet, finished: None }
    }

    /// `frames` frames the clock could not send in time: the prompt and the timestamp move on
    /// with the wall clock (a late sender drops audio rather than bursting it). Returns the id
    /// of a playback that ended meanwhile.
    pub fn lose(&mut self, frames: u32) -> Option<u64> {
        let mut scratch = [0u8; FRAME_SAMPLES];
        for _ in 0..frames {
            let Some(play) = self.play.as_mut() else {
                self.rtp.skip_frames(1);
                continue;
            };
            if play.playback.next_frame(&mut scratch) {
                self.rtp.lose_frames(1);
            } else if play.looping {
                play.playback.rewind();
                self.rtp.lose_frames(1);
            } else {
                let id = play.id;
                self.play = None;
                self.rtp.skip_frames(1);
                return Some(id);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::g711::Law;
    use std::sync::Arc;
    use webrtc_util::marshal::Unmarshal;

    fn clip(frames: usize, byte: u8) -> Arc<[u8]> {
        vec![byte; frames * FRAME_SAMPLES].into()
    }

    fn header(buf: &[u8], n: usize) -> rtp::header::Header {
        rtp::header::Header::unmarshal(&mut &buf[..n]).unwrap()
    }

    fn out() -> Outbound {
        Outbound::new(RtpStream::new(0, 7, 100, 1000), Some("127.0.0.1:4000".parse().unwrap()), true, Protection::Plain)
    }

    #[test]
    fn a_prompt_is_one_packet_per_tick_then_finished() {
        let mut o = out();
        let mut buf = [0u8; 256];
        assert_eq!(o.tick(&mut buf), Tick::default(), "nothing to play: nothing sent");
        o.play(1, Playback::new(vec![clip(3, 1)], Law::Pcmu), false);
        let mut seen = vec![];
        for _ in 0..3 {
            let t = o.tick(&mut buf);
            let (n, to) = t.packet.expect("a packet per frame");
            assert_eq!((n, to.port(), t.finished), (172, 4000, None));
            let h = header(&buf, n);
            seen.push((h.sequence_number, h.timestamp, h.marker));
        }
        // The idle tick before the prompt counted 160 samples of silence.
        assert_eq!(seen, [(100, 1160, true), (101, 1320, false), (102, 1480, false)]);
        assert_eq!(o.tick(&mut buf), Tick { packet: None, finished: Some(1) });
        assert_eq!(o.playing(), None);
        o.tick(&mut buf);
        o.play(2, Playback::new(vec![clip(1, 2)], Law::Pcmu), false);
        let (n, _) = o.tick(&mut buf).packet.unwrap();
        let h = header(&buf, n);
        assert_eq!((h.sequence_number, h.timestamp, h.marker), (103, 1480 + 3 * 160, true), "wall-clock timestamps");
    }

    #[test]
    fn hold_keeps_time_without_sending_and_resumes_with_a_talkspurt() {
        let mut o = out();
        let mut buf = [0u8; 256];
        o.play(1, Playback::new(vec![clip(4, 1)], Law::Pcmu), false);
        o.tick(&mut buf).packet.unwrap();
        o.set_route(Some("127.0.0.1:4000".parse().unwrap()), false, 0);
        assert_eq!(o.tick(&mut buf), Tick::default(), "on hold: the prompt goes on unheard");
        o.set_route(Some("127.0.0.1:5000".parse().unwrap()), true, 8);
        let (n, to) = o.tick(&mut buf).packet.unwrap();
        let h = header(&buf, n);
        assert_eq!((to.port(), h.payload_type, h.sequence_number, h.timestamp, h.marker), (5000, 8, 101, 1320, true));
    }

    #[test]
    fn barge_in_stops_at_once_and_a_loop_never_finishes() {
        let mut o = out();
        let mut buf = [0u8; 256];
        o.play(1, Playback::new(vec![clip(5, 1)], Law::Pcmu), false);
        o.tick(&mut buf);
        o.stop();
        assert_eq!(o.tick(&mut buf), Tick::default(), "stopped: no packet and no finish event");
        o.play(2, Playback::new(vec![clip(2, 1)], Law::Pcmu), true);
        for _ in 0..7 {
            let t = o.tick(&mut buf);
            assert!(t.packet.is_some() && t.finished.is_none(), "the holding message loops without a gap");
        }
    }

    #[test]
    fn an_encrypted_stream_is_protected_and_silent_while_a_relay_holds_its_sender() {
        use crate::media::srtp::{MasterKey, SrtpReceiver, Suite};
        let suite = Suite::AesCm128HmacSha1_32;
        let srtp = Srtp { tag: 1, suite, theirs: MasterKey::from_bytes([1; 30]), ours: MasterKey::from_bytes([2; 30]) };
        let to = Some("127.0.0.1:4000".parse().unwrap());
        let mut o = Outbound::new(RtpStream::new(0, 7, 100, 1000), to, true, Protection::of(Some(&srtp)));
        let mut peer = SrtpReceiver::new(suite, &MasterKey::from_bytes([2; 30]));
        let mut buf = [0u8; 256];
        let mut plain = [0u8; 256];
        o.play(1, Playback::new(vec![clip(10, 1)], Law::Pcmu), false);
        let (n, _) = o.tick(&mut buf).packet.unwrap();
        assert_eq!(n, 172 + 4, "a 32-bit tag");
        assert_ne!(buf[12..172], [1; 160], "encrypted");
        let n = peer.unprotect_rtp(&buf[..n], &mut plain).unwrap();
        assert_eq!(plain[12..n], [1; 160]);
        let lent = o.lend_srtp().expect("encrypted");
        assert_eq!(o.tick(&mut buf).packet, None, "nothing, and never plain, while lent");
        o.set_srtp(None);
        assert_eq!(o.tick(&mut buf).packet, None, "a relay holds the sender: it follows renegotiation");
        o.take_back(105, Some(lent));
        let (n, _) = o.tick(&mut buf).packet.unwrap();
        let n = peer.unprotect_rtp(&buf[..n], &mut plain).unwrap();
        assert_eq!((header(&plain, n).sequence_number, &plain[12..n]), (105, &[1u8; 160][..]));
    }

    #[test]
    fn frames_lost_to_a_late_clock_move_time_not_sequence() {
        let mut o = out();
        let mut buf = [0u8; 256];
        o.play(1, Playback::new(vec![clip(10, 1)], Law::Pcmu), false);
        let (n, _) = o.tick(&mut buf).packet.unwrap();
        let first = header(&buf, n);
        assert_eq!(o.lose(3), None);
        let (n, _) = o.tick(&mut buf).packet.unwrap();
        let h = header(&buf, n);
        assert_eq!(h.sequence_number, first.sequence_number + 1);
        assert_eq!(h.timestamp, first.timestamp + 4 * 160);
        assert!(!h.marker, "late audio, not a new talkspurt");
        assert_eq!(o.lose(10), Some(1), "the prompt ended while the clock was late");
    }
}
