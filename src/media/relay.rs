//! One direction of a bridge: RTP from one leg rewritten for the other. The media stays
//! anchored on the engine, so each leg sees one stream from us: our SSRC, our sequence numbers
//! and timestamps (continuing across a change of the sender's SSRC), the payload type that leg
//! negotiated, G.711 transcoded when the legs chose different laws (PCMU <-> PCMA, through
//! linear PCM), RFC 4733 events passed on with that leg's telephone-event type. Anything else
//! (comfort noise, unknown types, malformed packets) is dropped. Pure: packets in, packets out.

use super::g711::Law;
use super::sdp::Negotiated;
use rtp::header::Header;
use webrtc_util::marshal::{Marshal, MarshalSize, Unmarshal};

/// What one leg negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegCodec {
    pub law: Law,
    /// The audio payload type on this leg (0 or 8 with our SDP).
    pub payload_type: u8,
    pub dtmf_payload_type: Option<u8>,
}

impl LegCodec {
    /// What a leg's SDP negotiation chose.
    pub fn of(n: &Negotiated) -> Self {
        Self { law: n.law, payload_type: n.law.payload_type(), dtmf_payload_type: n.dtmf_payload_type }
    }
}

/// Forwards the packets of one direction.
#[derive(Debug)]
pub struct Relay {
    from: LegCodec,
    to: LegCodec,
    ssrc: u32,
    /// Our next sequence number and the timestamp matching the sender's base.
    seq: u16,
    ts_base: u32,
    /// The sender's SSRC, first sequence number and timestamp after a (re)sync.
    source: Option<(u32, u16, u32)>,
    /// Sequence number we gave the first packet after the last (re)sync.
    seq_base: u16,
    /// Highest output sequence sent (for the next resync) and its timestamp.
    last: Option<(u16, u32)>,
    pub forwarded: u64,
    pub dropped: u64,
}

impl Relay {
    /// `ssrc`, `first_seq` and `first_ts`: our stream towards the `to` leg (continuing the one
    /// that played prompts and music to it, so the phone sees no new stream).
    pub fn new(from: LegCodec, to: LegCodec, ssrc: u32, first_seq: u16, first_ts: u32) -> Self {
        Self {
            from,
            to,
            ssrc,
            seq: first_seq,
            ts_base: first_ts,
            source: None,
            seq_base: first_seq,
            last: None,
            forwarded: 0,
            dropped: 0,
        }
    }

    /// Follow new codecs on either leg (a re-INVITE), keeping our stream's numbering; the next
    /// packet is sent as a new talkspurt.
    pub fn retarget(&mut self, from: LegCodec, to: LegCodec) {
        self.from = from;
        self.to = to;
        self.source = None;
    }

    /// The SSRC of our stream towards the `to` leg.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number the next packet of our stream should carry (for whoever continues
    /// the stream after the bridge).
    pub fn next_seq(&self) -> u16 {
        self.last.map_or(self.seq, |(s, _)| s.wrapping_add(1))
    }

    /// Rewrite `packet` into `out` (at least as long as `packet`); the length to send, or `None`
    /// to drop it.
    pub fn forward(&mut self, packet: &[u8], out: &mut [u8]) -> Option<usize> {
        let result = self.rewrite(packet, out);
        match result {
            Some(_) => self.forwarded += 1,
            None => self.dropped += 1,
        }
        result
    }

    fn rewrite(&mut self, packet: &[u8], out: &mut [u8]) -> Option<usize> {
        let mut h = Header::unmarshal(&mut &packet[..]).ok()?;
        if h.version != 2 {
            return None;
        }
        let payload = packet.get(h.marshal_size()..)?;
        // Padding (RFC 3550 5.1): the last byte counts the padding bytes.
        let payload = if h.padding {
            let pad = *payload.last()? as usize;
            payload.get(..payload.len().checked_sub(pad)?)?
        } else {
            payload
        };
        let audio = h.payload_type == self.from.payload_type;
        let dtmf = Some(h.payload_type) == self.from.dtmf_payload_type;
        let out_pt = match (audio, dtmf) {
            (true, _) => self.to.payload_type,
            (false, true) => self.to.dtmf_payload_type?,
            _ => return None,
        };
        match self.source {
            Some((ssrc, _, _)) if ssrc == h.ssrc => {}
            _ => {
                // A new sender stream: continue ours after the last packet sent, one frame on.
                let (seq, ts) = match self.last {
                    Some((seq, ts)) => (seq.wrapping_add(1), ts.wrapping_add(160)),
                    None => (self.seq, self.ts_base),
                };
                self.source = Some((h.ssrc, h.sequence_number, h.timestamp));
                self.seq_base = seq;
                self.ts_base = ts;
                h.marker = true;
            }
        }
        let (_, seq0, ts0) = self.source.expect("set above");
        let seq = self.seq_base.wrapping_add(h.sequence_number.wrapping_sub(seq0));
        let ts = self.ts_base.wrapping_add(h.timestamp.wrapping_sub(ts0));
        h.sequence_number = seq;
        h.timestamp = ts;
        h.ssrc = self.ssrc;
        h.payload_type = out_pt;
        h.padding = false;
        h.csrc.clear();
        h.extension = false;
        h.extensions.clear();
        let n = h.marshal_to(out).ok()?;
        let body = &mut out[n..];
        let len = if audio && self.from.law != self.to.law {
            let pcm = self.from.law.decode(payload);
            let coded = self.to.law.encode(&pcm);
            body.get_mut(..coded.len())?.copy_from_slice(&coded);
            coded.len()
        } else {
            body.get_mut(..payload.len())?.copy_from_slice(payload);
            payload.len()
        };
        if self.last.is_none_or(|(s, _)| seq.wrapping_sub(s) < 0x8000) {
            self.last = Some((seq, ts));
        }
        Some(n + len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PCMU: LegCodec = LegCodec { law: Law::Pcmu, payload_type: 0, dtmf_payload_type: Some(101) };
    const PCMA: LegCodec = LegCodec { law: Law::Pcma, payload_type: 8, dtmf_payload_type: Some(96) };

    fn packet(pt: u8, ssrc: u32, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let h =
            Header { version: 2, payload_type: pt, ssrc, sequence_number: seq, timestamp: ts, ..Default::default() };
        let mut buf = vec![0u8; 12 + payload.len()];
        let n = h.marshal_to(&mut buf).unwrap();
        buf[n..].copy_from_slice(payload);
        buf
    }

    fn parse(buf: &[u8]) -> (Header, Vec<u8>) {
        let h = Header::unmarshal(&mut &buf[..]).unwrap();
        let n = h.marshal_size();
        (h, buf[n..].to_vec())
    }

    #[test]
    fn same_law_is_renumbered_not_reencoded() {
        let mut r = Relay::new(PCMU, PCMU, 0xabc, 1000, 50_000);
        let mut out = [0u8; 400];
        let audio: Vec<u8> = (0..160).map(|i| i as u8).collect();
        let n = r.forward(&packet(0, 7, 30_000, 9_000, &audio), &mut out).unwrap();
        let (h, body) = parse(&out[..n]);
        assert_eq!((h.ssrc, h.sequence_number, h.timestamp, h.marker, h.payload_type), (0xabc, 1000, 50_000, true, 0));
        assert_eq!(body, audio);
        let n = r.forward(&packet(0, 7, 30_002, 9_320, &audio), &mut out).unwrap();
        let (h, _) = parse(&out[..n]);
        assert_eq!((h.sequence_number, h.timestamp, h.marker), (1002, 50_320, false), "gaps kept");
    }

    #[test]
    fn pcmu_to_pcma_is_transcoded_and_events_remapped() {
        let mut r = Relay::new(PCMU, PCMA, 1, 0, 0);
        let mut out = [0u8; 400];
        let pcm: Vec<i16> = (0..160).map(|i| ((i as f32 / 10.0).sin() * 8000.0) as i16).collect();
        let n = r.forward(&packet(0, 5, 1, 0, &Law::Pcmu.encode(&pcm)), &mut out).unwrap();
        let (h, body) = parse(&out[..n]);
        assert_eq!(h.payload_type, 8);
        let back = Law::Pcma.decode(&body);
        let err = pcm.iter().zip(&back).map(|(a, b)| (*a as i32 - *b as i32).abs()).max().unwrap();
        assert!(err < 600, "G.711 both ways keeps the audio: max error {err}");
        let event = [5u8, 0x0a, 0x00, 0xa0];
        let n = r.forward(&packet(101, 5, 2, 160, &event), &mut out).unwrap();
        let (h, body) = parse(&out[..n]);
        assert_eq!((h.payload_type, body.as_slice()), (96, &event[..]));
    }

    #[test]
    fn a_new_sender_stream_continues_ours_and_junk_is_dropped() {
        let mut r = Relay::new(PCMA, PCMA, 9, 500, 8000);
        let mut out = [0u8; 400];
        let a = [0xd5u8; 160];
        r.forward(&packet(8, 1, 10, 100, &a), &mut out).unwrap();
        r.forward(&packet(8, 1, 11, 260, &a), &mut out).unwrap();
        let n = r.forward(&packet(8, 2, 7000, 123_456, &a), &mut out).unwrap();
        let (h, _) = parse(&out[..n]);
        assert_eq!((h.ssrc, h.sequence_number, h.timestamp, h.marker), (9, 502, 8320, true));
        assert_eq!(r.forward(&packet(13, 2, 7001, 0, &[0]), &mut out), None, "comfort noise");
        assert_eq!(r.forward(b"not rtp", &mut out), None);
        assert_eq!(r.forward(&packet(0, 2, 7002, 0, &a), &mut out), None, "PCMU was not negotiated on this leg");
        assert_eq!((r.forwarded, r.dropped), (3, 3));
        let no_dtmf = LegCodec { dtmf_payload_type: None, ..PCMA };
        let mut r = Relay::new(PCMA, no_dtmf, 9, 0, 0);
        assert_eq!(r.forward(&packet(96, 1, 1, 0, &[1, 2, 3, 4]), &mut out), None, "no events on that leg");
    }
}
