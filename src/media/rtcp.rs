//! RTCP for one leg (RFC 3550 section 6), pure: the reception statistics of the RTP a peer sends
//! us (loss and interarrival jitter, appendix A.1, A.3, A.8), the compound report we send it
//! (SR while we send, else RR, with our CNAME), what its own reports say about our stream (loss,
//! jitter, round-trip time from LSR and DLSR, section 6.4.1), and an estimated MOS (ITU-T G.107
//! E-model for G.711). Times come in as NTP timestamps; nothing here reads a clock.
//!
//! The packets are parsed and written by the `rtcp` crate (webrtc-rs); a packet it cannot parse
//! is ignored (RFC 3550 section 6.1: a receiver discards what it does not understand).

use bytes::Bytes;
use rtcp::packet::Packet;
use rtcp::receiver_report::ReceiverReport;
use rtcp::reception_report::ReceptionReport;
use rtcp::sender_report::SenderReport;
use rtcp::source_description::{SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem};
use std::time::Duration;

/// G.711's RTP clock.
const CLOCK_HZ: u32 = 8000;
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// RFC 3550 appendix A.1: how far a sequence number may jump and still belong to the stream.
const MAX_DROPOUT: u16 = 3000;
const MAX_MISORDER: u16 = 100;

/// An NTP timestamp (32.32 fixed-point seconds since 1900) of a time since the Unix epoch.
pub fn ntp(since_unix_epoch: Duration) -> u64 {
    let secs = since_unix_epoch.as_secs() + NTP_UNIX_OFFSET;
    let frac = (u64::from(since_unix_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// The middle 32 bits of an NTP timestamp (16.16 seconds), as LSR and DLSR carry it.
fn middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// What we have received from one RTP source.
#[derive(Clone, Debug, Default)]
pub struct Reception {
    ssrc: u32,
    started: bool,
    max_seq: u16,
    /// Sequence-number wrap-arounds, shifted (appendix A.1's `cycles`).
    cycles: u32,
    base_seq: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    /// Interarrival jitter in timestamp units, times 16 (appendix A.8's fixed point).
    jitter16: u32,
    /// The previous packet's relative transit time (arrival minus RTP timestamp).
    transit: Option<u32>,
    /// The middle of the last SR's NTP time, and when it arrived (NTP).
    last_sr: Option<(u32, u64)>,
}

impl Reception {
    /// An RTP packet from the source: its SSRC, sequence number and timestamp, and its arrival in
    /// RTP timestamp units (8 kHz) of any local clock. A new SSRC starts the statistics again.
    pub fn on_rtp(&mut self, ssrc: u32, seq: u16, timestamp: u32, arrival: u32) {
        if !self.started || ssrc != self.ssrc {
            *self = Reception { ssrc, started: true, max_seq: seq, base_seq: u32::from(seq), ..Default::default() };
        } else {
            let delta = seq.wrapping_sub(self.max_seq);
            if delta < MAX_DROPOUT {
                if seq < self.max_seq {
                    self.cycles = self.cycles.wrapping_add(1 << 16);
                }
                self.max_seq = seq;
            } else if delta <= u16::MAX - MAX_MISORDER {
                // A jump too large: the source restarted its numbering.
                *self = Reception { ssrc, started: true, max_seq: seq, base_seq: u32::from(seq), ..Default::default() };
            }
            // Otherwise a late or duplicated packet: counted, the highest number kept.
        }
        self.received = self.received.saturating_add(1);
        let transit = arrival.wrapping_sub(timestamp);
        if let Some(previous) = self.transit {
            let d = transit.wrapping_sub(previous) as i32;
            let d = d.unsigned_abs();
            // J += (|D| - J) / 16, in the ×16 fixed point.
            self.jitter16 = self.jitter16.wrapping_add(d).wrapping_sub((self.jitter16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// A sender report from the source, which arrived at `now` (NTP).
    pub fn on_sender_report(&mut self, report_ntp: u64, now: u64) {
        self.last_sr = Some((middle(report_ntp), now));
    }

    fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected so far, and of those lost (negative when duplicates outnumber losses).
    pub fn expected_and_lost(&self) -> (u32, i64) {
        if !self.started {
            return (0, 0);
        }
        let expected = self.extended_max().wrapping_sub(self.base_seq).wrapping_add(1);
        (expected, i64::from(expected) - i64::from(self.received))
    }

    /// The interarrival jitter, in milliseconds.
    pub fn jitter_ms(&self) -> f64 {
        f64::from(self.jitter16 >> 4) * 1000.0 / f64::from(CLOCK_HZ)
    }

    /// The report block about this source at `now` (NTP), which starts a new reporting interval
    /// for the fraction lost; none before its first packet.
    pub fn report(&mut self, now: u64) -> Option<ReceptionReport> {
        if !self.started {
            return None;
        }
        let (expected, lost) = self.expected_and_lost();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        // 24 bits, signed, clamped (appendix A.3).
        let total_lost = (lost.clamp(-0x80_0000, 0x7f_ffff) as i32 as u32) & 0xff_ffff;
        let (last_sender_report, delay) = match self.last_sr {
            Some((lsr, at)) => (lsr, middle(now.wrapping_sub(at))),
            None => (0, 0),
        };
        Some(ReceptionReport {
            ssrc: self.ssrc,
            fraction_lost,
            total_lost,
            last_sequence_number: self.extended_max(),
            jitter: self.jitter16 >> 4,
            last_sender_report,
            delay,
        })
    }
}

/// The quality of the RTP received on one leg, for the call record: packets, loss, jitter and
/// the estimated MOS.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LegQuality {
    /// Packets received.
    pub packets: u32,
    /// Packets lost (expected minus received; negative with duplicates).
    pub lost: i64,
    pub loss_pct: f64,
    pub jitter_ms: f64,
    /// ITU-T G.107 E-model estimate; the delay counts packetisation and a de-jitter buffer only
    /// until RTCP gives the round trip.
    pub mos: f64,
    /// The SRTP suite the leg's media was encrypted with; none: plain RTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub srtp: Option<super::srtp::Suite>,
    /// What the phone's last RTCP report said about our stream to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported: Option<Reported>,
}

/// A peer's RTCP report about the stream we send it, for the call record.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Reported {
    /// Of our packets, lost in its last interval.
    pub loss_pct: f64,
    /// Of our packets, lost in all.
    pub lost: i64,
    pub jitter_ms: f64,
    /// The round trip, from its report of our last sender report (LSR, DLSR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
}

impl LegQuality {
    /// With what the peer reported: its view of our stream, and the MOS with the round trip.
    pub fn with_report(self, view: &PeerView) -> LegQuality {
        let round = |x: f64| (x * 100.0).round() / 100.0;
        let rtt = view.rtt_ms.unwrap_or(0.0);
        LegQuality {
            mos: round(mos(self.loss_pct / 100.0, one_way_ms(rtt, self.jitter_ms))),
            reported: Some(Reported {
                loss_pct: round(view.fraction_lost * 100.0),
                lost: i64::from(view.cumulative_lost),
                jitter_ms: round(view.jitter_ms),
                rtt_ms: view.rtt_ms.map(round),
            }),
            ..self
        }
    }
}

/// What we have sent on a leg, counted by whoever sends (the media clock, a relay), for our
/// sender reports: packets, payload octets, and the RTP timestamp of the last packet with when
/// it left (milliseconds on the sender's clock).
#[derive(Debug, Default)]
pub struct SentCount {
    packets: std::sync::atomic::AtomicU32,
    octets: std::sync::atomic::AtomicU32,
    last: std::sync::atomic::AtomicU64,
}

impl SentCount {
    /// A packet of `payload` octets with RTP timestamp `timestamp` left at `millis`.
    pub fn add(&self, payload: usize, timestamp: u32, millis: u32) {
        use std::sync::atomic::Ordering::Relaxed;
        self.packets.fetch_add(1, Relaxed);
        self.octets.fetch_add(payload as u32, Relaxed);
        self.last.store(u64::from(timestamp) << 32 | u64::from(millis), Relaxed);
    }

    /// What was sent, and the RTP timestamp for `millis` (the last one, moved on at 8 kHz).
    pub fn at(&self, millis: u32) -> (Sent, u32) {
        use std::sync::atomic::Ordering::Relaxed;
        let sent = Sent { packets: self.packets.load(Relaxed), octets: self.octets.load(Relaxed) };
        let last = self.last.load(Relaxed);
        let elapsed = millis.wrapping_sub(last as u32);
        (sent, ((last >> 32) as u32).wrapping_add(elapsed.wrapping_mul(CLOCK_HZ / 1000)))
    }
}

impl Reception {
    /// An RTP packet as it arrived, if it is one (version 2, a 12-byte header at least).
    pub fn on_packet(&mut self, packet: &[u8], arrival: u32) {
        if packet.len() < 12 || packet[0] >> 6 != 2 {
            return;
        }
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let timestamp = u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]);
        let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
        self.on_rtp(ssrc, seq, timestamp, arrival);
    }

    /// The quality so far; none before the first packet.
    pub fn quality(&self) -> Option<LegQuality> {
        if !self.started {
            return None;
        }
        let (expected, lost) = self.expected_and_lost();
        let loss = if expected == 0 { 0.0 } else { (lost.max(0) as f64 / f64::from(expected)).min(1.0) };
        let round = |x: f64, places: i32| (x * 10f64.powi(places)).round() / 10f64.powi(places);
        Some(LegQuality {
            packets: self.received,
            lost,
            loss_pct: round(loss * 100.0, 3),
            jitter_ms: round(self.jitter_ms(), 2),
            mos: round(mos(loss, one_way_ms(0.0, self.jitter_ms())), 2),
            srtp: None,
            reported: None,
        })
    }
}

/// What we have sent on the leg (for a sender report).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sent {
    pub packets: u32,
    /// Payload octets.
    pub octets: u32,
}

/// Our compound report at `now` (NTP): an SR when we have sent (with `rtp_time`, our RTP
/// timestamp for `now`), else an RR; with the report block about what we receive, if anything,
/// and an SDES with our CNAME.
pub fn compose(
    our_ssrc: u32,
    cname: &str,
    sent: Sent,
    now: u64,
    rtp_time: u32,
    block: Option<ReceptionReport>,
) -> Vec<u8> {
    let reports: Vec<ReceptionReport> = block.into_iter().collect();
    let first: Box<dyn Packet + Send + Sync> = if sent.packets > 0 {
        Box::new(SenderReport {
            ssrc: our_ssrc,
            ntp_time: now,
            rtp_time,
            packet_count: sent.packets,
            octet_count: sent.octets,
            reports,
            profile_extensions: Bytes::new(),
        })
    } else {
        Box::new(ReceiverReport { ssrc: our_ssrc, reports, profile_extensions: Bytes::new() })
    };
    let sdes = SourceDescription {
        chunks: vec![SourceDescriptionChunk {
            source: our_ssrc,
            items: vec![SourceDescriptionItem {
                sdes_type: SdesType::SdesCname,
                text: Bytes::copy_from_slice(cname.as_bytes()),
            }],
        }],
    };
    let packets: Vec<Box<dyn Packet + Send + Sync>> = vec![first, Box::new(sdes)];
    rtcp::packet::marshal(&packets).map(|b| b.to_vec()).unwrap_or_default()
}

/// What a peer's report says about the stream we send it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeerView {
    /// Fraction of our packets lost in its last interval, 0 to 1.
    pub fraction_lost: f64,
    /// Our packets it has lost in all (negative with duplicates).
    pub cumulative_lost: i32,
    /// The interarrival jitter it sees, in milliseconds.
    pub jitter_ms: f64,
    /// The round-trip time, if its report refers to a sender report of ours.
    pub rtt_ms: Option<f64>,
}

/// What one RTCP packet from the peer tells.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Heard {
    /// Its sender report: its SSRC and NTP time.
    pub sender_report: Option<(u32, u64)>,
    /// Its report block about our SSRC.
    pub about_us: Option<PeerView>,
}

/// Read a compound RTCP packet from the peer, which arrived at `now` (NTP); `None` when it is not
/// RTCP. Only the reports (SR, RR) are parsed, each by the crate on its own bytes as the common
/// header's length frames them; the rest (SDES, BYE, feedback) is skipped unread: the crate's
/// parser of the compound packet panics on some malformed feedback messages (found by the
/// `rtcp_packet` fuzz target), and a peer must never be able to stop a media thread.
pub fn read(packet: &[u8], our_ssrc: u32, now: u64) -> Option<Heard> {
    use webrtc_util::marshal::Unmarshal;
    let mut rest = packet;
    let mut heard = Heard::default();
    let mut framed = false;
    while rest.len() >= 4 {
        let words = usize::from(u16::from_be_bytes([rest[2], rest[3]]));
        let length = (words + 1) * 4;
        if rest[0] >> 6 != 2 || length > rest.len() {
            break;
        }
        let (one, next) = rest.split_at(length);
        rest = next;
        framed = true;
        let blocks = match one[1] {
            200 => match SenderReport::unmarshal(&mut &one[..]) {
                Ok(sr) => {
                    heard.sender_report = Some((sr.ssrc, sr.ntp_time));
                    sr.reports
                }
                Err(_) => continue,
            },
            201 => match ReceiverReport::unmarshal(&mut &one[..]) {
                Ok(rr) => rr.reports,
                Err(_) => continue,
            },
            _ => continue,
        };
        if let Some(b) = blocks.iter().find(|b| b.ssrc == our_ssrc) {
            heard.about_us = Some(view(b, now));
        }
    }
    framed.then_some(heard)
}

fn view(b: &ReceptionReport, now: u64) -> PeerView {
    // 24-bit signed.
    let cumulative_lost = ((b.total_lost << 8) as i32) >> 8;
    let rtt_ms = (b.last_sender_report != 0).then(|| {
        let rtt = middle(now).wrapping_sub(b.last_sender_report).wrapping_sub(b.delay);
        // A negative round trip (clock steps, a bogus report) wraps to a huge value: none.
        (rtt < 1 << 30).then(|| f64::from(rtt) * 1000.0 / 65536.0)
    });
    PeerView {
        fraction_lost: f64::from(b.fraction_lost) / 256.0,
        cumulative_lost,
        jitter_ms: f64::from(b.jitter) * 1000.0 / f64::from(CLOCK_HZ),
        rtt_ms: rtt_ms.flatten(),
    }
}

/// The estimated mean opinion score of a G.711 leg (ITU-T G.107 E-model, default parameters):
/// `loss` the fraction of packets lost (0 to 1), `one_way_ms` the mouth-to-ear delay. G.711 with
/// packet-loss concealment: Ie 0, Bpl 25.1 (G.113 appendix I), random loss.
pub fn mos(loss: f64, one_way_ms: f64) -> f64 {
    // Nonsense in (NaN) counts as no loss and no delay, never as a NaN score.
    let ppl = if loss.is_nan() { 0.0 } else { loss.clamp(0.0, 1.0) * 100.0 };
    let ta = one_way_ms.max(0.0);
    let id = 0.024 * ta + if ta > 177.3 { 0.11 * (ta - 177.3) } else { 0.0 };
    let ie_eff = 95.0 * ppl / (ppl + 25.1);
    let r = 93.2 - id - ie_eff;
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        // The G.107 polynomial dips just below 1 for R under ~6.5 (found by the rtcp_packet fuzz
        // target): a score is never below 1.
        (1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6).max(1.0)
    }
}

/// The mouth-to-ear delay the E-model is fed: half the round trip, one 20 ms frame of
/// packetisation and a de-jitter buffer of twice the jitter.
pub fn one_way_ms(rtt_ms: f64, jitter_ms: f64) -> f64 {
    rtt_ms / 2.0 + 20.0 + 2.0 * jitter_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    const PEER: u32 = 0x1111_2222;
    const US: u32 = 0x3333_4444;

    /// `n` packets every 20 ms from `first`, skipping the sequence numbers in `lost`, with each
    /// arrival `wobble(i)` samples late.
    fn stream(r: &mut Reception, first: u16, n: u16, lost: &[u16], wobble: impl Fn(u16) -> u32) {
        for i in 0..n {
            let seq = first.wrapping_add(i);
            if lost.contains(&seq) {
                continue;
            }
            let ts = u32::from(i) * 160;
            r.on_rtp(PEER, seq, ts, 1_000_000 + ts + wobble(i));
        }
    }

    #[test]
    fn loss_counts_the_missing_sequence_numbers_across_a_wrap() {
        let mut r = Reception::default();
        stream(&mut r, 65_500, 100, &[65_530, 3, 4], |_| 0);
        assert_eq!(r.expected_and_lost(), (100, 3));
        let block = r.report(ntp(Duration::from_secs(10))).unwrap();
        assert_eq!(block.total_lost, 3);
        assert_eq!(block.fraction_lost, (3 * 256 / 100) as u8);
        assert_eq!(block.last_sequence_number, (1 << 16) + 63, "the extended highest number");
        // A new interval without loss reports a zero fraction, the same total.
        stream(&mut r, 64, 50, &[], |_| 0);
        let block = r.report(ntp(Duration::from_secs(15))).unwrap();
        assert_eq!((block.fraction_lost, block.total_lost), (0, 3));
    }

    #[test]
    fn jitter_follows_the_arrival_wobble() {
        let mut steady = Reception::default();
        stream(&mut steady, 1, 500, &[], |_| 0);
        assert_eq!(steady.jitter_ms(), 0.0);
        // Every other packet 40 samples (5 ms) late: |D| = 5 ms each time, J converges to 5 ms.
        let mut wobbly = Reception::default();
        stream(&mut wobbly, 1, 500, &[], |i| if i % 2 == 0 { 40 } else { 0 });
        assert!((wobbly.jitter_ms() - 5.0).abs() < 0.2, "{}", wobbly.jitter_ms());
    }

    #[test]
    fn a_new_ssrc_or_a_huge_jump_starts_again() {
        let mut r = Reception::default();
        stream(&mut r, 100, 10, &[105], |_| 0);
        assert_eq!(r.expected_and_lost(), (10, 1));
        r.on_rtp(PEER + 1, 7, 0, 0);
        assert_eq!(r.expected_and_lost(), (1, 0));
        r.on_rtp(PEER + 1, 30_000, 0, 0);
        assert_eq!(r.expected_and_lost(), (1, 0));
    }

    #[test]
    fn our_report_read_back_by_the_peer_gives_the_round_trip() {
        // The peer sent an SR at t = 100 s; we report at t = 101.5 s (DLSR 1.5 s); the peer reads
        // our report at t = 101.58 s: the round trip is 80 ms.
        let t = |ms: u64| ntp(Duration::from_millis(ms));
        let mut r = Reception::default();
        stream(&mut r, 1, 50, &[10], |_| 0);
        r.on_sender_report(t(100_000), t(100_000));
        let ours =
            compose(US, "centralino@test", Sent { packets: 40, octets: 6400 }, t(101_500), 8000, r.report(t(101_500)));
        let heard = read(&ours, PEER, t(101_580)).expect("our compound packet parses");
        assert_eq!(heard.sender_report, Some((US, t(101_500))));
        let view = heard.about_us.expect("a block about the peer's stream");
        assert!((view.rtt_ms.unwrap() - 80.0).abs() < 0.1, "{view:?}");
        assert_eq!(view.cumulative_lost, 1);
        assert!((view.fraction_lost - 5.0 / 256.0).abs() < 1e-9, "1 of 50 is 5/256");
        // Without our sending anything it is an RR, and a block for another SSRC is not about us.
        let rr = compose(US, "c", Sent::default(), t(1), 0, r.report(t(1)));
        assert_eq!(read(&rr, PEER, t(2)).unwrap().sender_report, None);
        assert_eq!(read(&rr, 42, t(2)).unwrap().about_us, None);
    }

    #[test]
    fn malformed_rtcp_is_ignored() {
        assert_eq!(read(&[], US, 0), None);
        assert_eq!(read(&[0x80, 200, 0, 99, 1, 2], US, 0), None);
        assert_eq!(read(b"not rtcp at all", US, 0), None);
        // Found by the rtcp_packet fuzz target: a full intra request the rtcp crate's compound
        // parser panics on. Skipped, never parsed.
        let fir = [0xa4, 0x01, 0x00, 0x01, 0xff, 0x00, 0x01, 0x82, 0xa4, 0xce, 0x00, 0x01, 0x00, 0xa7, 0x00, 0x82];
        assert_eq!(read(&fir, US, 0).and_then(|h| h.about_us), None);
    }

    #[test]
    fn mos_is_high_for_a_clean_leg_and_falls_with_loss_and_delay() {
        let clean = mos(0.0, one_way_ms(20.0, 1.0));
        assert!((4.3..4.5).contains(&clean), "{clean}");
        assert!(mos(0.01, 40.0) < clean && mos(0.05, 40.0) < mos(0.01, 40.0));
        assert!(mos(0.0, 400.0) < mos(0.0, 150.0));
        assert_eq!(mos(1.0, 1000.0), 1.0);
        for (loss, delay) in [(0.0, 0.0), (0.3, 50.0), (f64::NAN, 10.0), (2.0, -5.0), (0.8789, 273.0)] {
            let m = mos(loss, delay);
            assert!((1.0..=4.5).contains(&m), "{loss} {delay}: {m}");
        }
    }

    #[test]
    fn the_quality_of_a_received_leg() {
        let mut r = Reception::default();
        assert_eq!(r.quality(), None);
        let packet = |seq: u16| {
            let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x11, 0x22, 0x22];
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
            p
        };
        for seq in (1..=200).filter(|s| s % 50 != 0) {
            r.on_packet(&packet(seq), u32::from(seq) * 160);
        }
        r.on_packet(b"short", 0);
        let q = r.quality().unwrap();
        assert_eq!((q.packets, q.lost, q.loss_pct, q.jitter_ms), (196, 3, 1.508, 0.0), "{q:?}");
        assert!(q.mos > 3.5 && q.mos < mos(0.0, 20.0), "{q:?}");
    }
}
