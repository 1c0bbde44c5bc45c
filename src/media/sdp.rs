//! SDP offer/answer for the audio leg (RFC 3264, RFC 4566): G.711 (PCMU, PCMA) and
//! telephone-events (RFC 4733) with whatever payload type the offer uses.
//! Parsing and writing use the `sdp` crate; the choice of codec is ours.

use super::g711::Law;
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
}

/// Why an offer cannot be accepted.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    #[error("the SDP offer cannot be parsed: {0}")]
    Malformed(String),
    #[error("the SDP offer has no RTP/AVP audio stream")]
    NoAudio,
    #[error("no common codec: the offer has {0}, we accept PCMU and PCMA")]
    NoCommonCodec(String),
}

/// Negotiate an audio offer: the first of `prefs` that the offer lists, in the offer's order
/// of preference, wins (RFC 3264 section 6.1 lets the answerer follow the offerer's order).
pub fn negotiate(offer: &str, prefs: &[Law]) -> Result<Negotiated, NegotiationError> {
    let sd = SessionDescription::unmarshal(&mut Cursor::new(offer.as_bytes()))
        .map_err(|e| NegotiationError::Malformed(e.to_string()))?;
    let media = sd
        .media_descriptions
        .iter()
        .find(|m| m.media_name.media == "audio" && m.media_name.protos.join("/") == "RTP/AVP")
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
    Ok(Negotiated { remote, law, payload_type, dtmf_payload_type, direction: direction.answer() })
}

/// Our offer, for an INVITE that came without one (RFC 3261 section 13.2.1: the answer comes in
/// the ACK): every codec we take, and telephone-events as payload type 101.
pub fn offer(prefs: &[Law], local: SocketAddr, session_id: u64, version: u64) -> String {
    let first = prefs.first().copied().unwrap_or(Law::Pcmu);
    let n = Negotiated {
        remote: None,
        law: first,
        payload_type: first.payload_type(),
        dtmf_payload_type: Some(101),
        direction: Direction::SendRecv,
    };
    let mut sdp = describe(&n, local, session_id, version);
    let others: Vec<&Law> = prefs.iter().skip(1).collect();
    let extra_pts: String = others.iter().map(|l| format!(" {}", l.payload_type())).collect();
    let extra_maps: String =
        others.iter().map(|l| format!("a=rtpmap:{} {}/8000\r\n", l.payload_type(), l.name())).collect();
    sdp = sdp.replacen(
        &format!("RTP/AVP {}", first.payload_type()),
        &format!("RTP/AVP {}{extra_pts}", first.payload_type()),
        1,
    );
    sdp.replacen("a=rtpmap:101", &format!("{extra_maps}a=rtpmap:101"), 1)
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
    attrs.push("a=ptime:20".into());
    attrs.push(format!("a={}", n.direction.attribute()));
    format!(
        "v=0\r\no=centralino {session_id} {version} IN {family} {ip}\r\ns=centralino\r\nc=IN {family} {ip}\r\nt=0 0\r\n\
         m=audio {} RTP/AVP {}\r\n{}\r\n",
        local.port(),
        formats.join(" "),
        attrs.join("\r\n")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFS: &[Law] = &[Law::Pcmu, Law::Pcma];

    fn offer(m: &str, extra: &str) -> String {
        format!("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n{m}\r\n{extra}")
    }

    #[test]
    fn picks_the_offers_first_common_codec_and_its_dtmf_type() {
        let o = offer("m=audio 6000 RTP/AVP 8 0 101", "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n");
        let n = negotiate(&o, PREFS).unwrap();
        assert_eq!(n.law, Law::Pcma);
        assert_eq!(n.payload_type, 8);
        assert_eq!(n.dtmf_payload_type, Some(101));
        assert_eq!(n.remote, Some("127.0.0.1:6000".parse().unwrap()));
        assert_eq!(n.direction, Direction::SendRecv);
    }

    #[test]
    fn telephone_event_with_any_payload_type() {
        let o = offer("m=audio 6000 RTP/AVP 0 96", "a=rtpmap:96 telephone-event/8000\r\n");
        assert_eq!(negotiate(&o, PREFS).unwrap().dtmf_payload_type, Some(96));
        let o = offer("m=audio 6000 RTP/AVP 0", "");
        assert_eq!(negotiate(&o, PREFS).unwrap().dtmf_payload_type, None);
    }

    #[test]
    fn no_common_codec_and_no_audio() {
        let o = offer("m=audio 6000 RTP/AVP 18 9", "a=rtpmap:18 G729/8000\r\na=rtpmap:9 G722/8000\r\n");
        assert!(matches!(negotiate(&o, PREFS), Err(NegotiationError::NoCommonCodec(_))));
        let o = offer("m=video 6000 RTP/AVP 96", "a=rtpmap:96 H264/90000\r\n");
        assert_eq!(negotiate(&o, PREFS), Err(NegotiationError::NoAudio));
        assert!(matches!(negotiate("garbage", PREFS), Err(NegotiationError::Malformed(_))));
    }

    #[test]
    fn hold_offers() {
        let o = offer("m=audio 6000 RTP/AVP 0", "a=sendonly\r\n");
        let n = negotiate(&o, PREFS).unwrap();
        assert_eq!(n.direction, Direction::RecvOnly);
        assert!(!n.direction.we_send());
        let o = offer("m=audio 6000 RTP/AVP 0", "").replace("c=IN IP4 127.0.0.1", "c=IN IP4 0.0.0.0");
        assert_eq!(negotiate(&o, PREFS).unwrap().remote, None);
    }

    #[test]
    fn our_offer_lists_every_codec_and_an_answer_to_it_negotiates() {
        let o = super::offer(PREFS, "127.0.0.1:20000".parse().unwrap(), 7, 1);
        assert!(o.contains("m=audio 20000 RTP/AVP 0 8 101\r\n"), "{o}");
        assert!(o.contains("a=rtpmap:8 PCMA/8000\r\n"), "{o}");
        // The caller answers with PCMA only: that is what we use.
        let answer = super::offer(&[Law::Pcma], "127.0.0.1:6000".parse().unwrap(), 1, 1);
        let n = negotiate(&answer, PREFS).unwrap();
        assert_eq!((n.law, n.remote), (Law::Pcma, Some("127.0.0.1:6000".parse().unwrap())));
    }

    #[test]
    fn the_answer_parses_back() {
        let o = offer("m=audio 6000 RTP/AVP 0 8 101", "a=rtpmap:101 telephone-event/8000\r\n");
        let n = negotiate(&o, PREFS).unwrap();
        let a = describe(&n, "127.0.0.1:20000".parse().unwrap(), 42, 1);
        let back = negotiate(&a, PREFS).unwrap();
        assert_eq!((back.law, back.payload_type, back.dtmf_payload_type), (Law::Pcmu, 0, Some(101)));
        assert_eq!(back.remote, Some("127.0.0.1:20000".parse().unwrap()));
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
            let Ok(n) = negotiate(&text, PREFS) else { continue };
            accepted += 1;
            let back = negotiate(&describe(&n, "192.0.2.7:40000".parse().unwrap(), 1, 2), PREFS).expect("reads back");
            assert_eq!(
                (back.law, back.payload_type, back.dtmf_payload_type),
                (n.law, n.payload_type, n.dtmf_payload_type)
            );
            assert_eq!(back.direction, n.direction.answer(), "{text:?}");
        }
        assert!(accepted > 1000, "the mutations still leave many offers to accept: {accepted}");
    }
}
