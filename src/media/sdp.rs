//! SDP offer/answer for the audio leg (RFC 3264, RFC 4566): G.711 (PCMU, PCMA) and
//! telephone-events (RFC 4733) with whatever payload type the offer uses, and SRTP keyed by
//! SDES `a=crypto` lines (RFC 4568) as the leg's [`SrtpPolicy`] says.
//! Parsing and writing use the `sdp` crate; the choices are ours.

use super::g711::Law;
use super::srtp::{MasterKey, SrtpReceiver, SrtpSender, Suite};
pub use crate::config::SrtpPolicy;
use sdp::SessionDescription;
use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};

/// Media direction (RFC 3264 section 6.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn attribute(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }

    /// The direction to answer with: the mirror of the offer's.
    pub fn answer(self) -> Self {
        match self {
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            d => d,
        }
    }

    /// Whether the other side sends to us in this (our) direction.
    pub fn we_receive(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::RecvOnly)
    }

    /// Whether we may send media in this answer direction.
    pub fn we_send(self) -> bool {
        matches!(self, Direction::SendRecv | Direction::SendOnly)
    }
}

/// What we bring to one leg's offers and answers: our codecs in order of preference, whether
/// media is encrypted, and our SRTP master key (the same for the whole dialog).
#[derive(Clone, Debug)]
pub struct Terms {
    pub codecs: &'static [Law],
    pub srtp: SrtpPolicy,
    pub key: MasterKey,
}

/// The RTP profile of the audio stream (RFC 3551 AVP, RFC 3711 SAVP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    Avp,
    Savp,
}

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Profile::Avp => "RTP/AVP",
            Profile::Savp => "RTP/SAVP",
        }
    }
}

/// The SRTP a leg agreed on: the crypto line's tag and suite, the peer's key (for what it
/// sends) and ours (for what we send).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Srtp {
    pub tag: u32,
    pub suite: Suite,
    pub theirs: MasterKey,
    pub ours: MasterKey,
}

impl Srtp {
    /// What protects our stream on this leg.
    pub fn sender(&self) -> SrtpSender {
        SrtpSender::new(self.suite, &self.ours)
    }

    /// What checks the peer's.
    pub fn receiver(&self) -> SrtpReceiver {
        SrtpReceiver::new(self.suite, &self.theirs)
    }
}

/// What an offer and our preferences agree on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// Where to send RTP (`None` when the offer holds the call with address 0.0.0.0 or port 0).
    pub remote: Option<SocketAddr>,
    pub law: Law,
    /// The payload type of the chosen codec in the offer.
    pub payload_type: u8,
    /// The payload type of telephone-event/8000, if offered.
    pub dtmf_payload_type: Option<u8>,
    /// Our direction, mirrored from the offer's.
    pub direction: Direction,
    /// The profile the offer used (and our answer uses).
    pub profile: Profile,
    /// Encryption, when agreed.
    pub srtp: Option<Srtp>,
}

impl Negotiated {
    /// Plain G.711 in `law` to `remote`, sending and receiving, with telephone-events as 101.
    pub fn plain(law: Law, remote: Option<SocketAddr>) -> Negotiated {
        Negotiated {
            remote,
            law,
            payload_type: law.payload_type(),
            dtmf_payload_type: Some(101),
            direction: Direction::SendRecv,
            profile: Profile::Avp,
            srtp: None,
        }
    }
}

/// Why an offer cannot be accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    #[error("the SDP offer cannot be parsed: {0}")]
    Malformed(String),
    #[error("the SDP offer has no RTP/AVP or RTP/SAVP audio stream")]
    NoAudio,
    #[error("no common codec: the offer has {0}, we accept PCMU and PCMA")]
    NoCommonCodec(String),
    #[error(
        "encrypted media is required, and the SDP has no crypto line we accept (AES_CM_128_HMAC_SHA1_80 or _32 with an inline key)"
    )]
    SrtpRequired,
    #[error("the SDP asks for RTP/SAVP and has no crypto line we accept")]
    NoUsableCrypto,
    #[error("the SDP asks for RTP/SAVP and encrypted media is off here")]
    SrtpOff,
}

/// Negotiate an audio offer (or the answer to ours): the first of our codecs that the offer
/// lists, in the offer's order of preference, wins (RFC 3264 section 6.1 lets the answerer
/// follow the offerer's order); the first crypto line we accept, as the policy allows.
pub fn negotiate(offer: &str, terms: &Terms) -> Result<Negotiated, NegotiationError> {
    let prefs = terms.codecs;
    let sd = SessionDescription::unmarshal(&mut Cursor::new(offer.as_bytes()))
        .map_err(|e| NegotiationError::Malformed(e.to_string()))?;
    let (media, profile) = sd
        .media_descriptions
        .iter()
        .filter(|m| m.media_name.media == "audio")
        .find_map(|m| match m.media_name.protos.join("/").as_str() {
            "RTP/AVP" => Some((m, Profile::Avp)),
            "RTP/SAVP" => Some((m, Profile::Savp)),
            _ => None,
        })
        .ok_or(NegotiationError::NoAudio)?;

    let rtpmap = |pt: u8| -> Option<(String, u32)> {
        media.attributes.iter().filter(|a| a.key == "rtpmap").find_map(|a| {
            let v = a.value.as_deref()?;
            let (p, rest) = v.split_once(' ')?;
            if p.parse::<u8>().ok()? != pt {
                return None;
            }
            let mut parts = rest.split('/');
            let name = parts.next()?.to_ascii_uppercase();
            let rate = parts.next().and_then(|r| r.parse().ok()).unwrap_or(8000);
            Some((name, rate))
        })
    };
    let formats: Vec<(u8, String, u32)> = media
        .media_name
        .formats
        .iter()
        .filter_map(|f| f.parse::<u8>().ok())
        .filter_map(|pt| {
            let (name, rate) = rtpmap(pt).or(match pt {
                0 => Some(("PCMU".to_string(), 8000)),
                8 => Some(("PCMA".to_string(), 8000)),
                _ => None,
            })?;
            Some((pt, name, rate))
        })
        .collect();

    let chosen = formats.iter().find_map(|(pt, name, rate)| {
        let law = prefs.iter().find(|l| l.name() == name && *rate == 8000)?;
        Some((*law, *pt))
    });
    let Some((law, payload_type)) = chosen else {
        let offered: Vec<&str> = media.media_name.formats.iter().map(String::as_str).collect();
        return Err(NegotiationError::NoCommonCodec(format!("payload types {}", offered.join(" "))));
    };
    let dtmf_payload_type =
        formats.iter().find(|(_, name, rate)| name == "TELEPHONE-EVENT" && *rate == 8000).map(|(pt, _, _)| *pt);

    let direction = ["sendrecv", "sendonly", "recvonly", "inactive"]
        .iter()
        .zip([Direction::SendRecv, Direction::SendOnly, Direction::RecvOnly, Direction::Inactive])
        .find(|(k, _)| media.has_attribute(k) || sd.has_attribute(k))
        .map_or(Direction::SendRecv, |(_, d)| d);

    let address = media
        .connection_information
        .as_ref()
        .or(sd.connection_information.as_ref())
        .and_then(|c| c.address.as_ref())
        .and_then(|a| a.address.split('/').next()?.parse::<IpAddr>().ok());
    let port = u16::try_from(media.media_name.port.value).unwrap_or(0);
    let remote = match address {
        Some(ip) if !ip.is_unspecified() && port != 0 => Some(SocketAddr::new(ip, port)),
        _ => None,
    };
    let offered = media.attributes.iter().filter(|a| a.key == "crypto").find_map(|a| crypto(a.value.as_deref()?));
    let srtp = match (terms.srtp, profile, offered) {
        (SrtpPolicy::Off, Profile::Savp, _) => return Err(NegotiationError::SrtpOff),
        (SrtpPolicy::Off, Profile::Avp, _) => None,
        (_, _, Some((tag, suite, theirs))) => Some(Srtp { tag, suite, theirs, ours: terms.key.clone() }),
        (SrtpPolicy::Required, _, None) => return Err(NegotiationError::SrtpRequired),
        (SrtpPolicy::Optional, Profile::Savp, None) => return Err(NegotiationError::NoUsableCrypto),
        (SrtpPolicy::Optional, Profile::Avp, None) => None,
    };
    Ok(Negotiated { remote, law, payload_type, dtmf_payload_type, direction: direction.answer(), profile, srtp })
}

/// An `a=crypto` value we can use (RFC 4568 section 9.1): `tag suite inline:key`, with an
/// optional lifetime, no MKI and no session parameters (which we would have to honour).
fn crypto(value: &str) -> Option<(u32, Suite, MasterKey)> {
    let mut fields = value.split_ascii_whitespace();
    let tag = fields.next()?.parse::<u32>().ok().filter(|t| *t < 1_000_000_000)?;
    let suite = Suite::named(fields.next()?)?;
    let key_params = fields.next()?;
    if fields.next().is_some() || key_params.contains(';') {
        return None;
    }
    let mut parts = key_params.strip_prefix("inline:")?.split('|');
    let key = MasterKey::from_inline(parts.next()?)?;
    match (parts.next(), parts.next()) {
        (None, _) => {}
        (Some(lifetime), None) if !lifetime.contains(':') => {}
        _ => return None,
    }
    Some((tag, suite, key))
}

/// Our offer, for an INVITE that came without one (RFC 3261 section 13.2.1: the answer comes in
/// the ACK) and for calls we place: every codec we take, telephone-events as payload type 101,
/// and unless SRTP is off a crypto line per suite (RTP/SAVP when required, else RTP/AVP with
/// crypto, which a phone without SRTP ignores).
pub fn offer(terms: &Terms, local: SocketAddr, session_id: u64, version: u64) -> String {
    let prefs = terms.codecs;
    let first = prefs.first().copied().unwrap_or(Law::Pcmu);
    let mut n = Negotiated::plain(first, None);
    if terms.srtp == SrtpPolicy::Required {
        n.profile = Profile::Savp;
    }
    let mut sdp = describe(&n, local, session_id, version);
    let others: Vec<&Law> = prefs.iter().skip(1).collect();
    let extra_pts: String = others.iter().map(|l| format!(" {}", l.payload_type())).collect();
    let extra_maps: String =
        others.iter().map(|l| format!("a=rtpmap:{} {}/8000\r\n", l.payload_type(), l.name())).collect();
    let profile = n.profile.name();
    sdp = sdp.replacen(
        &format!("{profile} {}", first.payload_type()),
        &format!("{profile} {}{extra_pts}", first.payload_type()),
        1,
    );
    let crypto: String = match terms.srtp {
        SrtpPolicy::Off => String::new(),
        _ => Suite::ALL
            .iter()
            .zip(1..)
            .map(|(suite, tag)| format!("a=crypto:{tag} {} inline:{}\r\n", suite.name(), terms.key.inline()))
            .collect(),
    };
    sdp.replacen("a=rtpmap:101", &format!("{extra_maps}a=rtpmap:101"), 1).replacen(
        "a=ptime:20",
        &format!("{crypto}a=ptime:20"),
        1,
    )
}

/// Our answer (or offer, for calls we place) for one audio stream at `local`.
pub fn describe(n: &Negotiated, local: SocketAddr, session_id: u64, version: u64) -> String {
    let ip = local.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    let mut formats = vec![n.payload_type.to_string()];
    let mut attrs = vec![format!("a=rtpmap:{} {}/8000", n.payload_type, n.law.name())];
    if let Some(pt) = n.dtmf_payload_type {
        formats.push(pt.to_string());
        attrs.push(format!("a=rtpmap:{pt} telephone-event/8000"));
        // The sixteen DTMF events are what we act on (RFC 4733 section 3.2).
        attrs.push(format!("a=fmtp:{pt} 0-15"));
    }
    if let Some(srtp) = &n.srtp {
        attrs.push(format!("a=crypto:{} {} inline:{}", srtp.tag, srtp.suite.name(), srtp.ours.inline()));
    }
    attrs.push("a=ptime:20".into());
    attrs.push(format!("a={}", n.direction.attribute()));
    format!(
        "v=0\r\no=centralino {session_id} {version} IN {family} {ip}\r\ns=centralino\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {} {} {}\r\n{}\r\n",
        local.port(),
        n.profile.name(),
        formats.join(" "),
        attrs.join("\r\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFS: &[Law] = &[Law::Pcmu, Law::Pcma];

    fn terms() -> Terms {
        with(SrtpPolicy::Optional)
    }

    fn with(srtp: SrtpPolicy) -> Terms {
        Terms { codecs: PREFS, srtp, key: MasterKey::from_bytes([1; 30]) }
    }

    fn offer(m: &str, extra: &str) -> String {
        format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n{m}\r\n{extra}")
    }

    #[test]
    fn picks_the_offers_first_common_codec_and_its_dtmf_type() {
        let o = offer("m=audio 6000 RTP/AVP 8 0 101", "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n");
        let n = negotiate(&o, &terms()).unwrap();
        assert_eq!(n.law, Law::Pcma);
        assert_eq!(n.payload_type, 8);
        assert_eq!(n.dtmf_payload_type, Some(101));
        assert_eq!(n.remote, Some("127.0.0.1:6000".parse().unwrap()));
        assert_eq!(n.direction, Direction::SendRecv);
    }

    #[test]
    fn telephone_event_with_any_payload_type() {
        let o = offer("m=audio 6000 RTP/AVP 0 96", "a=rtpmap:96 telephone-event/8000\r\n");
        assert_eq!(negotiate(&o, &terms()).unwrap().dtmf_payload_type, Some(96));
        let o = offer("m=audio 6000 RTP/AVP 0", "");
        assert_eq!(negotiate(&o, &terms()).unwrap().dtmf_payload_type, None);
    }

    #[test]
    fn no_common_codec_and_no_audio() {
        let o = offer("m=audio 6000 RTP/AVP 18 9", "a=rtpmap:18 G729/8000\r\na=rtpmap:9 G722/8000\r\n");
        assert!(matches!(negotiate(&o, &terms()), Err(NegotiationError::NoCommonCodec(_))));
        let o = offer("m=video 6000 RTP/AVP 96", "a=rtpmap:96 H264/90000\r\n");
        assert_eq!(negotiate(&o, &terms()), Err(NegotiationError::NoAudio));
        assert!(matches!(negotiate("garbage", &terms()), Err(NegotiationError::Malformed(_))));
    }

    #[test]
    fn hold_offers() {
        let o = offer("m=audio 6000 RTP/AVP 0", "a=sendonly\r\n");
        let n = negotiate(&o, &terms()).unwrap();
        assert_eq!(n.direction, Direction::RecvOnly);
        assert!(!n.direction.we_send());
        let o = offer("m=audio 6000 RTP/AVP 0", "").replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        assert_eq!(negotiate(&o, &terms()).unwrap().remote, None);
    }

    #[test]
    fn our_offer_lists_every_codec_and_an_answer_to_it_negotiates() {
        let o = super::offer(&terms(), "127.0.0.1:20000".parse().unwrap(), 7, 1);
        assert!(o.contains("m=audio 20000 RTP/AVP 0 8 101\r\n"), "{o}");
        assert!(o.contains("a=rtpmap:8 PCMA/8000\r\n"), "{o}");
        // The caller answers with PCMA only: that is what we use.
        let answer = super::offer(&Terms { codecs: &[Law::Pcma], ..terms() }, "127.0.0.1:6000".parse().unwrap(), 1, 1);
        let n = negotiate(&answer, &terms()).unwrap();
        assert_eq!((n.law, n.remote), (Law::Pcma, Some("127.0.0.1:6000".parse().unwrap())));
    }

    #[test]
    fn the_answer_parses_back() {
        let o = offer("m=audio 6000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000\r\n");
        let n = negotiate(&o, &terms()).unwrap();
        let a = describe(&n, "127.0.0.1:20000".parse().unwrap(), 42, 1);
        let back = negotiate(&a, &terms()).unwrap();
        assert_eq!((back.law, back.payload_type, back.dtmf_payload_type), (Law::Pcmu, 0, Some(101)));
        assert_eq!(back.remote, Some("127.0.0.1:20000".parse().unwrap()));
    }

    const KEY: &str = "4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";

    #[test]
    fn an_offer_with_crypto_gets_srtp_and_our_key_in_the_answer() {
        let o = offer(
            "m=audio 6000 RTP/SAVP 0 101",
            &format!(
                "a=rtpmap:101 telephone-event/8000\r\na=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:{KEY}{KEY}\r\n\
                 a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20|1:4\r\na=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:{KEY} UNENCRYPTED_SRTP\r\n\
                 a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:{KEY}|2^31\r\n"
            ),
        );
        let n = negotiate(&o, &terms()).unwrap();
        let srtp = n.srtp.clone().expect("encrypted");
        assert_eq!((n.profile, srtp.tag, srtp.suite), (Profile::Savp, 4, Suite::AesCm128HmacSha1_32));
        assert_eq!(srtp.theirs, MasterKey::from_inline(KEY).unwrap());
        assert_eq!(srtp.ours, terms().key);
        let answer = describe(&n, "127.0.0.1:20000".parse().unwrap(), 1, 1);
        assert!(answer.contains("m=audio 20000 RTP/SAVP 0 101\r\n"), "{answer}");
        assert!(answer.contains(&format!("a=crypto:4 AES_CM_128_HMAC_SHA1_32 inline:{}\r\n", terms().key.inline())));
        // The offerer reads our answer: our key is theirs.
        let back = negotiate(&answer, &with(SrtpPolicy::Required)).unwrap();
        assert_eq!(back.srtp.unwrap().theirs, terms().key);
    }

    #[test]
    fn each_policy_accepts_and_refuses_what_it_says() {
        let plain = offer("m=audio 6000 RTP/AVP 0", "");
        let best_effort =
            offer("m=audio 6000 RTP/AVP 0", &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"));
        let savp = offer("m=audio 6000 RTP/SAVP 0", &format!("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}\r\n"));
        let savp_unusable = offer("m=audio 6000 RTP/SAVP 0", "a=crypto:1 F8_128_HMAC_SHA1_80 inline:abc\r\n");
        use SrtpPolicy::*;
        let srtp = |o: &str, p| negotiate(o, &with(p)).map(|n| n.srtp.is_some());
        assert_eq!(srtp(&plain, Optional), Ok(false));
        assert_eq!(srtp(&best_effort, Optional), Ok(true));
        assert_eq!(srtp(&savp, Optional), Ok(true));
        assert_eq!(srtp(&savp_unusable, Optional), Err(NegotiationError::NoUsableCrypto));
        assert_eq!(srtp(&plain, Required), Err(NegotiationError::SrtpRequired));
        assert_eq!(srtp(&savp_unusable, Required), Err(NegotiationError::SrtpRequired));
        assert_eq!(srtp(&best_effort, Required), Ok(true));
        assert_eq!(srtp(&best_effort, Off), Ok(false));
        assert_eq!(srtp(&savp, Off), Err(NegotiationError::SrtpOff));
        let answer = describe(&negotiate(&best_effort, &with(Off)).unwrap(), "127.0.0.1:1".parse().unwrap(), 1, 1);
        assert!(answer.contains("RTP/AVP") && !answer.contains("crypto"), "{answer}");
    }

    #[test]
    fn our_offer_carries_crypto_unless_off() {
        let local = "127.0.0.1:20000".parse().unwrap();
        let required = super::offer(&with(SrtpPolicy::Required), local, 1, 1);
        assert!(required.contains("m=audio 20000 RTP/SAVP 0 8 101\r\n"), "{required}");
        assert_eq!(required.matches("a=crypto:").count(), 2, "{required}");
        assert!(super::offer(&terms(), local, 1, 1).contains("RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8"));
        assert!(super::offer(&terms(), local, 1, 1).contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
        assert!(!super::offer(&with(SrtpPolicy::Off), local, 1, 1).contains("crypto"));
        // A phone's answer to it, read with our terms: its key is theirs, ours stays ours.
        let phone = Terms { key: MasterKey::from_bytes([9; 30]), ..with(SrtpPolicy::Optional) };
        let at_phone = negotiate(&required, &phone).unwrap();
        let answer = describe(&at_phone, "127.0.0.1:6000".parse().unwrap(), 5, 1);
        let n = negotiate(&answer, &with(SrtpPolicy::Required)).unwrap();
        let srtp = n.srtp.unwrap();
        assert_eq!((srtp.tag, srtp.theirs, srtp.ours), (1, phone.key, terms().key));
    }

    /// A bounded, deterministic stand-in for the `sdp_offer` fuzz target, run by every
    /// `cargo test`: mutated offers never panic, and an accepted one's answer reads back as
    /// what was negotiated.
    #[test]
    fn mutated_offers_never_panic_and_answers_read_back() {
        let seeds = [
            offer("m=audio 6000 RTP/AVP 8 0 101", "a=rtpmap:101 telephone-event/8000\r\na=sendonly\r\n"),
            offer("m=audio 0 RTP/AVP 96 0", "a=rtpmap:96 opus/48000/2\r\na=inactive\r\n"),
            offer("m=video 7000 RTP/AVP 31\r\nm=audio 7002 RTP/AVP 0", "a=recvonly\r\n"),
        ];
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut accepted = 0;
        for i in 0..20_000 {
            let mut m = seeds[i % seeds.len()].clone().into_bytes();
            for _ in 0..(next() % 6) {
                if m.is_empty() {
                    break;
                }
                let pos = (next() as usize) % m.len();
                match next() % 3 {
                    0 => {
                        let alphabet = b"\r\n =:/0123456789amcv";
                        m[pos] = alphabet[(next() as usize) % alphabet.len()];
                    }
                    1 => m.truncate(pos),
                    _ => {
                        let other = seeds[(next() as usize) % seeds.len()].as_bytes();
                        m.extend_from_slice(&other[(next() as usize) % other.len()..]);
                    }
                }
            }
            let Ok(text) = String::from_utf8(m) else { continue };
            let Ok(n) = negotiate(&text, &terms()) else { continue };
            accepted += 1;
            let back =
                negotiate(&describe(&n, "192.0.2.7:40000".parse().unwrap(), 1, 2), &terms()).expect("reads back");
            assert_eq!(
                (back.law, back.payload_type, back.dtmf_payload_type),
                (n.law, n.payload_type, n.dtmf_payload_type)
            );
            assert_eq!(back.direction, n.direction.answer(), "{text:?}");
            assert_eq!(back.srtp.map(|s| s.theirs), n.srtp.map(|s| s.ours));
        }
        assert!(accepted > 1000, "the mutations still leave many offers to accept: {accepted}");
    }
}
