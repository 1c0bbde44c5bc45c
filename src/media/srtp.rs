//! SRTP and SRTCP (RFC 3711) keyed by SDES (RFC 4568): AES_CM_128_HMAC_SHA1_80 and _32.
//!
//! Pure: packets in, packets out. A [`SrtpSender`] protects one direction of a leg (our
//! stream towards a phone), a [`SrtpReceiver`] checks and decrypts the other. A receiver keeps
//! the rollover counter and the 64-packet replay window of one stream, and takes a new stream
//! (another SSRC) only once one of its packets authenticates, so forged packets never grow
//! its state or move its window.
//!
//! Written by hand over aws-lc-rs's AES-CTR and HMAC-SHA1 (the cryptography is the crate's):
//! webrtc-srtp allocates a buffer for every packet and creates state for every SSRC any
//! packet names, authenticated or not; str0m's SRTP is private to it. Checked against
//! webrtc-srtp's output and RFC 3711's key-derivation vectors (the tests) and against
//! baresip (tests/sip_tls.rs).

use aws_lc_rs::cipher::{AES_128, EncryptingKey, EncryptionContext, UnboundCipherKey};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;
use aws_lc_rs::iv::FixedLength;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The SDES crypto suites we offer and accept, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Suite {
    #[serde(rename = "AES_CM_128_HMAC_SHA1_80")]
    AesCm128HmacSha1_80,
    #[serde(rename = "AES_CM_128_HMAC_SHA1_32")]
    AesCm128HmacSha1_32,
}

impl Suite {
    pub const ALL: [Suite; 2] = [Suite::AesCm128HmacSha1_80, Suite::AesCm128HmacSha1_32];

    /// The name in an SDP `a=crypto` line.
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    pub fn named(name: &str) -> Option<Suite> {
        Suite::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// The authentication tag of an SRTP packet (SRTCP's is 80 bits in both suites, RFC 4568
    /// section 6.2).
    pub fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 => 4,
        }
    }
}

const RTCP_TAG_LEN: usize = 10;
/// What protection adds to an SRTCP packet: the E flag and index, and the tag.
pub const RTCP_OVERHEAD: usize = 4 + RTCP_TAG_LEN;
/// The most protection adds to an RTP packet.
pub const RTP_OVERHEAD: usize = 10;
const REPLAY_WINDOW: u64 = 64;

/// A master key and salt (one direction of a leg). Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    key: [u8; 16],
    salt: [u8; 14],
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// From 30 random bytes (the host draws them).
    pub fn from_bytes(bytes: [u8; 30]) -> Self {
        let mut key = [0; 16];
        let mut salt = [0; 14];
        key.copy_from_slice(&bytes[..16]);
        salt.copy_from_slice(&bytes[16..]);
        Self { key, salt }
    }

    /// The `inline:` key parameter of an `a=crypto` line: base64 of key and salt (RFC 4568
    /// section 6.1); `None` unless it is exactly 30 bytes.
    pub fn from_inline(text: &str) -> Option<Self> {
        let bytes = STANDARD.decode(text).ok()?;
        Some(Self::from_bytes(bytes.try_into().ok()?))
    }

    pub fn inline(&self) -> String {
        let mut bytes = [0u8; 30];
        bytes[..16].copy_from_slice(&self.key);
        bytes[16..].copy_from_slice(&self.salt);
        STANDARD.encode(bytes)
    }
}

/// The session keys of one direction, for RTP or for RTCP (RFC 3711 section 4.3).
struct SessionKeys {
    cipher: EncryptingKey,
    salt: [u8; 14],
    auth: hmac::Key,
}

impl SessionKeys {
    /// Derived with key derivation rate 0; `label` is 0 for SRTP's keys, 3 for SRTCP's.
    fn derive(master: &MasterKey, label: u8) -> SessionKeys {
        let mut cipher = [0u8; 16];
        let mut auth = [0u8; 20];
        let mut salt = [0u8; 14];
        prf(master, label, &mut cipher);
        prf(master, label + 1, &mut auth);
        prf(master, label + 2, &mut salt);
        SessionKeys { cipher: aes_ctr(&cipher), salt, auth: hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &auth) }
    }

    /// Encrypt or decrypt (AES counter mode is its own inverse) `data` of packet `index`.
    fn apply(&self, ssrc: u32, index: u64, data: &mut [u8]) {
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&self.salt);
        for (i, b) in ssrc.to_be_bytes().into_iter().enumerate() {
            iv[4 + i] ^= b;
        }
        for (i, b) in index.to_be_bytes()[2..].iter().enumerate() {
            iv[8 + i] ^= b;
        }
        counter_mode(&self.cipher, iv, data);
    }

    /// The full HMAC-SHA1 of `data` followed by `trailer`.
    fn tag(&self, data: &[u8], trailer: &[u8]) -> hmac::Tag {
        let mut mac = hmac::Context::with_key(&self.auth);
        mac.update(data);
        mac.update(trailer);
        mac.sign()
    }
}

fn aes_ctr(key: &[u8; 16]) -> EncryptingKey {
    let key = UnboundCipherKey::new(&AES_128, key).expect("a 16-byte AES-128 key");
    EncryptingKey::ctr(key).expect("AES-CTR")
}

fn counter_mode(cipher: &EncryptingKey, iv: [u8; 16], data: &mut [u8]) {
    cipher
        .less_safe_encrypt(data, EncryptionContext::Iv128(FixedLength::from(iv)))
        .expect("counter mode takes any length and a 16-byte IV");
}

/// The key derivation function (RFC 3711 section 4.3.3, AES-CM PRF) at rate 0.
fn prf(master: &MasterKey, label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(&master.salt);
    iv[7] ^= label;
    out.fill(0);
    counter_mode(&aes_ctr(&master.key), iv, out);
}

/// Where the payload of the RTP packet in `packet` starts (after CSRCs and any extension).
fn rtp_payload_offset(packet: &[u8]) -> Option<usize> {
    if packet.len() < 12 || packet[0] >> 6 != 2 {
        return None;
    }
    let mut offset = 12 + 4 * usize::from(packet[0] & 0x0f);
    if packet[0] & 0x10 != 0 {
        let words = packet.get(offset + 2..offset + 4)?;
        offset += 4 + 4 * usize::from(u16::from_be_bytes([words[0], words[1]]));
    }
    (offset <= packet.len()).then_some(offset)
}

fn ssrc_at(packet: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(packet[at..at + 4].try_into().expect("four bytes"))
}

/// The keys of one direction of a leg: the suite, the master key, and the session keys derived
/// from it for SRTP and SRTCP.
struct Keys {
    suite: Suite,
    master: MasterKey,
    rtp: SessionKeys,
    rtcp: SessionKeys,
}

impl Keys {
    /// Boxed: key schedules and HMAC states are a few kilobytes, and senders move.
    fn new(suite: Suite, master: &MasterKey) -> Box<Keys> {
        Box::new(Keys {
            suite,
            master: master.clone(),
            rtp: SessionKeys::derive(master, 0),
            rtcp: SessionKeys::derive(master, 3),
        })
    }

    fn are(&self, suite: Suite, master: &MasterKey) -> bool {
        self.suite == suite && self.master == *master
    }
}

/// Protects our stream on one leg.
pub struct SrtpSender {
    keys: Box<Keys>,
    /// The stream's SSRC, last sequence number and rollover counter.
    stream: Option<(u32, u16, u32)>,
    rtcp_index: u32,
}

impl SrtpSender {
    pub fn new(suite: Suite, master: &MasterKey) -> Self {
        Self { keys: Keys::new(suite, master), stream: None, rtcp_index: 0 }
    }

    /// Whether this sender protects with `suite` and `master` (a re-INVITE may change them).
    pub fn keyed_with(&self, suite: Suite, master: &MasterKey) -> bool {
        self.keys.are(suite, master)
    }

    /// Protect the RTP packet in `buf[..len]` in place; the protected length (`buf` needs
    /// [`RTP_OVERHEAD`] more bytes), or `None` when it is not RTP or does not fit.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Option<usize> {
        let tag_len = self.keys.suite.rtp_tag_len();
        let offset = rtp_payload_offset(&buf[..len])?;
        if buf.len() < len + tag_len {
            return None;
        }
        let ssrc = ssrc_at(buf, 8);
        let seq = u16::from_be_bytes([buf[2], buf[3]]);
        // The sender's rollover counter goes up when the sequence number wraps (section 3.3.1).
        let roc = match self.stream {
            Some((s, last, roc)) if s == ssrc => {
                if seq < last && last - seq > 0x8000 {
                    roc.wrapping_add(1)
                } else {
                    roc
                }
            }
            _ => 0,
        };
        self.stream = Some((ssrc, seq, roc));
        self.keys.rtp.apply(ssrc, u64::from(roc) << 16 | u64::from(seq), &mut buf[offset..len]);
        let tag = self.keys.rtp.tag(&buf[..len], &roc.to_be_bytes());
        buf[len..len + tag_len].copy_from_slice(&tag.as_ref()[..tag_len]);
        Some(len + tag_len)
    }

    /// Protect the (compound) RTCP packet in `buf[..len]` in place; the protected length
    /// (`buf` needs [`RTCP_OVERHEAD`] more bytes).
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Option<usize> {
        if len < 8 || buf.len() < len + RTCP_OVERHEAD {
            return None;
        }
        self.rtcp_index = (self.rtcp_index + 1) & 0x7fff_ffff;
        let ssrc = ssrc_at(buf, 4);
        self.keys.rtcp.apply(ssrc, u64::from(self.rtcp_index), &mut buf[8..len]);
        buf[len..len + 4].copy_from_slice(&(self.rtcp_index | 0x8000_0000).to_be_bytes());
        let tag = self.keys.rtcp.tag(&buf[..len + 4], &[]);
        buf[len + 4..len + RTCP_OVERHEAD].copy_from_slice(&tag.as_ref()[..RTCP_TAG_LEN]);
        Some(len + RTCP_OVERHEAD)
    }
}

// The keys never print.
impl std::fmt::Debug for SrtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpSender").field("suite", &self.keys.suite).finish_non_exhaustive()
    }
}

impl std::fmt::Debug for SrtpReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrtpReceiver").field("suite", &self.keys.suite).finish_non_exhaustive()
    }
}

/// Why a packet was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Too short, or not RTP/RTCP.
    Malformed,
    /// The authentication tag is wrong: forged, corrupted or under another key.
    Authentication,
    /// Seen before, or older than the replay window.
    Replay,
}

/// One stream's receiving state: SSRC, highest index seen and the window behind it.
#[derive(Clone, Copy, Debug)]
struct Window {
    ssrc: u32,
    highest: u64,
    /// Bit i: the packet `highest - i` was received.
    seen: u64,
}

impl Window {
    /// Whether `index` is new; `Err` for a replay.
    fn check(&self, index: u64) -> Result<(), Refused> {
        if index > self.highest {
            return Ok(());
        }
        let behind = self.highest - index;
        if behind >= REPLAY_WINDOW || self.seen & (1 << behind) != 0 { Err(Refused::Replay) } else { Ok(()) }
    }

    fn accept(&mut self, index: u64) {
        if index > self.highest {
            let ahead = index - self.highest;
            self.seen = if ahead >= REPLAY_WINDOW { 0 } else { self.seen << ahead };
            self.seen |= 1;
            self.highest = index;
        } else {
            self.seen |= 1 << (self.highest - index);
        }
    }

    fn new(ssrc: u32, index: u64) -> Window {
        Window { ssrc, highest: index, seen: 1 }
    }
}

/// Checks and decrypts what a peer sends on one leg.
pub struct SrtpReceiver {
    keys: Box<Keys>,
    /// The streams (SSRCs) that authenticated, most recent first.
    rtp_streams: Vec<Window>,
    rtcp_streams: Vec<Window>,
}

/// Streams a receiver remembers per leg: a phone changes its SSRC rarely, and a stream
/// forgotten is a stream whose old packets could be replayed.
const STREAMS: usize = 4;

/// The stream of `ssrc` among `streams`, if one authenticated.
fn stream(streams: &[Window], ssrc: u32) -> Option<Window> {
    streams.iter().find(|w| w.ssrc == ssrc).copied()
}

/// Note that packet `index` of `ssrc` authenticated: its stream moves to the front.
fn accept(streams: &mut Vec<Window>, ssrc: u32, index: u64) {
    let mut window = match streams.iter().position(|w| w.ssrc == ssrc) {
        Some(i) => streams.remove(i),
        None => {
            streams.truncate(STREAMS - 1);
            Window::new(ssrc, index)
        }
    };
    window.accept(index);
    streams.insert(0, window);
}

impl SrtpReceiver {
    pub fn new(suite: Suite, master: &MasterKey) -> Self {
        Self {
            keys: Keys::new(suite, master),
            rtp_streams: Vec::with_capacity(STREAMS),
            rtcp_streams: Vec::with_capacity(STREAMS),
        }
    }

    /// Whether this receiver checks with `suite` and `master`.
    pub fn keyed_with(&self, suite: Suite, master: &MasterKey) -> bool {
        self.keys.are(suite, master)
    }

    /// Check and decrypt the SRTP `packet` into `out`; the length of the RTP packet there.
    pub fn unprotect_rtp(&mut self, packet: &[u8], out: &mut [u8]) -> Result<usize, Refused> {
        let tag_len = self.keys.suite.rtp_tag_len();
        let len = packet.len().checked_sub(tag_len).ok_or(Refused::Malformed)?;
        let offset = rtp_payload_offset(&packet[..len]).ok_or(Refused::Malformed)?;
        if out.len() < len {
            return Err(Refused::Malformed);
        }
        let ssrc = ssrc_at(packet, 8);
        let seq = u16::from_be_bytes([packet[2], packet[3]]);
        let window = stream(&self.rtp_streams, ssrc);
        let index = match window {
            Some(w) => estimate_index(w.highest, seq).ok_or(Refused::Replay)?,
            // A new stream starts with rollover counter 0 (section 3.3.1).
            None => u64::from(seq),
        };
        if let Some(w) = window {
            w.check(index)?;
        }
        let roc = (index >> 16) as u32;
        let tag = self.keys.rtp.tag(&packet[..len], &roc.to_be_bytes());
        verify_slices_are_equal(&tag.as_ref()[..tag_len], &packet[len..]).map_err(|_| Refused::Authentication)?;
        accept(&mut self.rtp_streams, ssrc, index);
        out[..len].copy_from_slice(&packet[..len]);
        self.keys.rtp.apply(ssrc, index, &mut out[offset..len]);
        Ok(len)
    }

    /// Check and decrypt the SRTCP `packet` into `out`; the length of the RTCP packet there.
    pub fn unprotect_rtcp(&mut self, packet: &[u8], out: &mut [u8]) -> Result<usize, Refused> {
        let len = packet.len().checked_sub(RTCP_OVERHEAD).filter(|l| *l >= 8).ok_or(Refused::Malformed)?;
        if out.len() < len {
            return Err(Refused::Malformed);
        }
        let ssrc = ssrc_at(packet, 4);
        let e_index = u32::from_be_bytes(packet[len..len + 4].try_into().expect("four bytes"));
        let index = u64::from(e_index & 0x7fff_ffff);
        let window = stream(&self.rtcp_streams, ssrc);
        if let Some(w) = window {
            w.check(index)?;
        }
        let tag = self.keys.rtcp.tag(&packet[..len + 4], &[]);
        verify_slices_are_equal(&tag.as_ref()[..RTCP_TAG_LEN], &packet[len + 4..])
            .map_err(|_| Refused::Authentication)?;
        accept(&mut self.rtcp_streams, ssrc, index);
        out[..len].copy_from_slice(&packet[..len]);
        if e_index & 0x8000_0000 != 0 {
            self.keys.rtcp.apply(ssrc, index, &mut out[8..len]);
        }
        Ok(len)
    }
}

/// The packet index a sequence number stands for, given the highest index received
/// (RFC 3711 section 3.3.1 and appendix A): the candidate nearest to it; `None` for one
/// before the stream's first rollover counter, which no packet can have.
fn estimate_index(highest: u64, seq: u16) -> Option<u64> {
    let roc = highest >> 16;
    let s_l = highest & 0xffff;
    let seq = u64::from(seq);
    let v = if s_l < 0x8000 {
        if seq > s_l && seq - s_l > 0x8000 { roc.checked_sub(1)? } else { roc }
    } else if s_l - 0x8000 > seq {
        roc + 1
    } else {
        roc
    };
    (v <= 0xffff_ffff).then_some(v << 16 | seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// The key of RFC 3711 appendix B.3 and libsrtp's test packet.
    fn master() -> MasterKey {
        let mut bytes = [0u8; 30];
        bytes.copy_from_slice(&unhex("e1f97a0d3e018be0d64fa32c06de41390ec675ad498afeebb6960b3aabe6"));
        MasterKey::from_bytes(bytes)
    }

    fn plain(seq: u16) -> Vec<u8> {
        let mut p = unhex("800f1234decafbadcafebabe");
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p.extend([0xab; 16]);
        p
    }

    fn protect(sender: &mut SrtpSender, packet: &[u8]) -> Vec<u8> {
        let mut buf = packet.to_vec();
        buf.resize(packet.len() + RTP_OVERHEAD, 0);
        let n = sender.protect_rtp(&mut buf, packet.len()).unwrap();
        buf.truncate(n);
        buf
    }

    fn unprotect(receiver: &mut SrtpReceiver, packet: &[u8]) -> Result<Vec<u8>, Refused> {
        let mut out = [0u8; 256];
        receiver.unprotect_rtp(packet, &mut out).map(|n| out[..n].to_vec())
    }

    #[test]
    fn key_derivation_gives_rfc_3711_b3_session_keys() {
        let mut out = [0u8; 16];
        prf(&master(), 0, &mut out);
        assert_eq!(out.to_vec(), unhex("c61e7a93744f39ee10734afe3ff7a087"));
        let mut out = [0u8; 14];
        prf(&master(), 2, &mut out);
        assert_eq!(out.to_vec(), unhex("30cbbc08863d8c85d49db34a9ae1"));
        let mut out = [0u8; 20];
        prf(&master(), 1, &mut out);
        assert_eq!(out.to_vec(), unhex("cebe321f6ff7716b6fd4ab49af256a156d38baa4"));
    }

    /// The expected packets were produced by webrtc-srtp 0.17 (the first is also libsrtp's
    /// test vector).
    #[test]
    fn protected_packets_match_an_independent_implementation_and_read_back() {
        for (suite, first, after_wrap) in [
            (
                Suite::AesCm128HmacSha1_80,
                "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb",
                "800f0001decafbadcafebabeb6f1f0a458a238ac3d2f55ac6566b25c051f89495037505c44c7",
            ),
            (
                Suite::AesCm128HmacSha1_32,
                "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc",
                "800f0001decafbadcafebabeb6f1f0a458a238ac3d2f55ac6566b25c051f8949",
            ),
        ] {
            let mut sender = SrtpSender::new(suite, &master());
            let mut receiver = SrtpReceiver::new(suite, &master());
            let p = protect(&mut sender, &plain(0x1234));
            assert_eq!(p, unhex(first), "{suite:?}");
            assert_eq!(unprotect(&mut receiver, &p), Ok(plain(0x1234)));
            // The sequence number wraps: rollover counter 1 in the keystream and the tag.
            let mut receiver = SrtpReceiver::new(suite, &master());
            assert!(unprotect(&mut receiver, &protect(&mut sender, &plain(0xffff))).is_ok());
            let p = protect(&mut sender, &plain(0x0001));
            assert_eq!(p, unhex(after_wrap), "{suite:?}");
            assert_eq!(unprotect(&mut receiver, &p), Ok(plain(0x0001)));
        }
    }

    #[test]
    fn srtcp_matches_an_independent_implementation_and_reads_back() {
        let rr = unhex("81c90007cafebabedecafbad0000000100001234000000050000000000000000");
        let expected = [
            "81c90007cafebabe0449535d4f2c1217155329de52dc0e067e44132ac1142d278000000195d94f78ce2aebe8ab66",
            "81c90007cafebabe177864ec34d32770793e0a3ab97317f194f096b7142e999b800000029a18230ccd04d63c5b8e",
        ];
        for suite in Suite::ALL {
            let mut sender = SrtpSender::new(suite, &master());
            let mut receiver = SrtpReceiver::new(suite, &master());
            let mut got = Vec::new();
            for want in expected {
                let mut buf = rr.clone();
                buf.resize(rr.len() + RTCP_OVERHEAD, 0);
                let n = sender.protect_rtcp(&mut buf, rr.len()).unwrap();
                assert_eq!(buf[..n].to_vec(), unhex(want), "{suite:?}");
                let mut out = [0u8; 128];
                let n = receiver.unprotect_rtcp(&buf[..n], &mut out).unwrap();
                assert_eq!(out[..n].to_vec(), rr);
                got.push(buf);
            }
            let mut out = [0u8; 128];
            assert_eq!(receiver.unprotect_rtcp(&got[0], &mut out), Err(Refused::Replay));
            let mut buf = rr.clone();
            buf.resize(rr.len() + RTCP_OVERHEAD, 0);
            let n = sender.protect_rtcp(&mut buf, rr.len()).unwrap();
            buf[9] ^= 1;
            assert_eq!(receiver.unprotect_rtcp(&buf[..n], &mut out), Err(Refused::Authentication));
            buf[9] ^= 1;
            assert!(receiver.unprotect_rtcp(&buf[..n], &mut out).is_ok());
        }
    }

    #[test]
    fn forged_and_replayed_packets_are_refused_and_leave_the_stream_as_it_was() {
        let mut sender = SrtpSender::new(Suite::AesCm128HmacSha1_80, &master());
        let mut receiver = SrtpReceiver::new(Suite::AesCm128HmacSha1_80, &master());
        let first = protect(&mut sender, &plain(100));
        assert!(unprotect(&mut receiver, &first).is_ok());
        assert_eq!(unprotect(&mut receiver, &first), Err(Refused::Replay));
        // Forged: another SSRC under a guessed tag, then a flipped payload bit.
        let mut forged = protect(&mut sender, &plain(101));
        forged[8] ^= 0x55;
        assert_eq!(unprotect(&mut receiver, &forged), Err(Refused::Authentication));
        let mut flipped = protect(&mut sender, &plain(102));
        flipped[20] ^= 1;
        assert_eq!(unprotect(&mut receiver, &flipped), Err(Refused::Authentication));
        // Under another key.
        let other = MasterKey::from_bytes([7; 30]);
        let foreign = protect(&mut SrtpSender::new(Suite::AesCm128HmacSha1_80, &other), &plain(103));
        assert_eq!(unprotect(&mut receiver, &foreign), Err(Refused::Authentication));
        assert_eq!(receiver.rtp_streams.len(), 1, "no forged packet made a stream");
        assert_eq!(unprotect(&mut receiver, &[0x80, 0, 0]), Err(Refused::Malformed));
        // Out of order within the window is fine, once.
        let late = protect(&mut sender, &plain(104));
        let later = protect(&mut sender, &plain(105));
        assert!(unprotect(&mut receiver, &later).is_ok());
        assert!(unprotect(&mut receiver, &late).is_ok());
        assert_eq!(unprotect(&mut receiver, &late), Err(Refused::Replay));
        // Older than the window.
        let mut last = Vec::new();
        for seq in 106..300 {
            last = protect(&mut sender, &plain(seq));
            assert!(unprotect(&mut receiver, &last).is_ok());
        }
        assert_eq!(unprotect(&mut receiver, &protect(&mut sender, &plain(200))), Err(Refused::Replay));
        assert_eq!(unprotect(&mut receiver, &last), Err(Refused::Replay));
    }

    /// Random streams (reordered, duplicated, lost, wrapping, with new SSRCs) with forged packets
    /// among them: every genuine packet is read back exactly once, every forged one refused.
    #[test]
    fn random_streams_read_back_once_and_forgeries_never_pass() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..40 {
            let suite = Suite::ALL[round % 2];
            let mut sender = SrtpSender::new(suite, &master());
            let mut receiver = SrtpReceiver::new(suite, &master());
            let mut seq = next() as u16;
            let mut ssrc = 0xcafebabe_u32;
            let mut in_flight: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            let mut read = std::collections::HashSet::new();
            for _ in 0..3000 {
                if next() % 500 == 0 {
                    ssrc = next() as u32;
                }
                let mut p = plain(seq);
                p[8..12].copy_from_slice(&ssrc.to_be_bytes());
                p[12] = (next() % 256) as u8;
                in_flight.push((p.clone(), protect(&mut sender, &p)));
                seq = seq.wrapping_add(1);
                // Deliver a few in random order, sometimes twice, sometimes forged.
                while in_flight.len() > (next() % 4) as usize {
                    let i = (next() as usize) % in_flight.len();
                    let (p, s) = if next() % 10 == 0 { in_flight[i].clone() } else { in_flight.swap_remove(i) };
                    let mut forged = s.clone();
                    let at = (next() as usize) % forged.len();
                    forged[at] ^= 1 << (next() % 8);
                    assert!(unprotect(&mut receiver, &forged).is_err(), "a flipped bit never passes");
                    match unprotect(&mut receiver, &s) {
                        Ok(back) => {
                            assert_eq!(back, p);
                            assert!(read.insert(s), "read back once only");
                        }
                        Err(e) => assert_eq!(e, Refused::Replay, "a genuine packet is refused only as a replay"),
                    }
                }
            }
            assert!(read.len() > 2000, "most packets arrive: {}", read.len());
        }
    }

    #[test]
    fn inline_keys_read_back_and_never_print() {
        let key = master();
        assert_eq!(key.inline(), "4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm");
        assert_eq!(MasterKey::from_inline(&key.inline()), Some(key.clone()));
        assert_eq!(MasterKey::from_inline("c2hvcnQ="), None);
        assert_eq!(format!("{key:?}"), "MasterKey(..)");
    }

    #[test]
    fn the_index_estimate_picks_the_nearest_candidate() {
        assert_eq!(estimate_index(0x1_0005, 3), Some(0x1_0003));
        assert_eq!(estimate_index(0x1_0005, 0xfffe), Some(0x0_fffe));
        assert_eq!(estimate_index(0x1_fff0, 2), Some(0x2_0002));
        assert_eq!(estimate_index(0x0_0005, 0xfffe), None, "no rollover before the first");
    }
}
