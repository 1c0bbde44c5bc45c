//! An outgoing RTP stream (RFC 3550): SSRC, sequence numbers, timestamps and the marker bit.
//! Packets are written with the `rtp` crate into a caller-owned buffer (no allocation per packet).

use rtp::header::Header;
use webrtc_util::marshal::{Marshal, MarshalSize};

/// Samples in one 20 ms G.711 frame at 8 kHz.
pub const FRAME_SAMPLES: usize = 160;

/// The state of one stream we send.
#[derive(Debug, Clone)]
pub struct RtpStream {
    header: Header,
    /// The next packet starts a talkspurt (RFC 3551 section 4.1: marker on the first packet
    /// after silence).
    talkspurt: bool,
}

impl RtpStream {
    /// A stream with random SSRC, initial sequence number and timestamp (RFC 3550 section 5.1).
    pub fn new(payload_type: u8, ssrc: u32, first_seq: u16, first_ts: u32) -> Self {
        Self {
            header: Header {
                version: 2,
                payload_type,
                sequence_number: first_seq,
                timestamp: first_ts,
                ssrc,
                ..Default::default()
            },
            talkspurt: true,
        }
    }

    /// The next packet will carry the marker bit (a new prompt after silence).
    pub fn start_talkspurt(&mut self) {
        self.talkspurt = true;
    }

    /// Let `frames` 20 ms frames of silence pass without sending: the timestamp keeps
    /// counting wall-clock time, the sequence number does not (RFC 3550 section 5.1).
    pub fn skip_frames(&mut self, frames: u32) {
        self.header.timestamp = self.header.timestamp.wrapping_add(frames * FRAME_SAMPLES as u32);
        self.talkspurt = true;
    }

    /// `frames` frames that were due but could not be sent in time (the sender fell behind): the
    /// timestamp moves on with the wall clock, the sequence number does not, and no talkspurt
    /// starts, so the receiver sees late audio rather than a new prompt.
    pub fn lose_frames(&mut self, frames: u32) {
        self.header.timestamp = self.header.timestamp.wrapping_add(frames * FRAME_SAMPLES as u32);
    }

    /// Continue from this sequence number (after another sender used the stream: a bridge).
    pub fn set_sequence(&mut self, next: u16) {
        self.header.sequence_number = next;
        self.talkspurt = true;
    }

    /// Change the payload type (a re-INVITE chose another codec).
    pub fn set_payload_type(&mut self, payload_type: u8) {
        self.header.payload_type = payload_type;
    }

    pub fn ssrc(&self) -> u32 {
        self.header.ssrc
    }

    /// The sequence number and timestamp the next packet would carry.
    pub fn position(&self) -> (u16, u32) {
        (self.header.sequence_number, self.header.timestamp)
    }

    pub fn payload_type(&self) -> u8 {
        self.header.payload_type
    }

    /// Write the next packet carrying `payload` (one 20 ms frame) into `buf`; returns its length.
    pub fn write_packet(&mut self, payload: &[u8], buf: &mut [u8]) -> usize {
        self.header.marker = std::mem::take(&mut self.talkspurt);
        let head = self.header.marshal_size();
        let n = self.header.marshal_to(buf).expect("buffer holds a 12-byte header");
        debug_assert_eq!(n, head);
        buf[n..n + payload.len()].copy_from_slice(payload);
        self.header.sequence_number = self.header.sequence_number.wrapping_add(1);
        self.header.timestamp = self.header.timestamp.wrapping_add(payload.len() as u32);
        n + payload.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use webrtc_util::marshal::Unmarshal;

    fn send(s: &mut RtpStream, frame: &[u8]) -> rtp::packet::Packet {
        let mut buf = [0u8; 200];
        let n = s.write_packet(frame, &mut buf);
        rtp::packet::Packet::unmarshal(&mut &buf[..n]).unwrap()
    }

    #[test]
    fn sequence_timestamp_marker_and_wraparound() {
        let mut s = RtpStream::new(0, 0xdead_beef, u16::MAX, u32::MAX - 100);
        let frame = [0xffu8; FRAME_SAMPLES];
        let p1 = send(&mut s, &frame);
        assert!(p1.header.marker);
        assert_eq!(
            (p1.header.sequence_number, p1.header.timestamp, p1.header.ssrc),
            (u16::MAX, u32::MAX - 100, 0xdead_beef)
        );
        assert_eq!(p1.payload.len(), 160);
        let p2 = send(&mut s, &frame);
        assert!(!p2.header.marker);
        assert_eq!(p2.header.sequence_number, 0);
        assert_eq!(p2.header.timestamp, 59);
        s.skip_frames(50);
        let p3 = send(&mut s, &frame);
        assert!(p3.header.marker, "a talkspurt after silence is marked");
        assert_eq!(p3.header.sequence_number, 1, "silence does not consume sequence numbers");
        assert_eq!(p3.header.timestamp, 59 + 160 + 50 * 160);
    }
}
