//! The pure front of the engine for one datagram: the guard's verdict, the stack's parse, and
//! what the engine makes of the request (called number, SDP offer, INFO key). The server reads
//! INVITEs and INFOs with these same functions, and the fuzz target drives [`intake`], so that
//! no input on the engine's real path can panic or hang.

use super::guard::{self, Verdict};
use super::server::CODECS;
use crate::config::numbers::normalize_number;
use crate::ivr::Key;
use crate::media::sdp::{SrtpPolicy, Terms};
use crate::media::srtp::MasterKey;
use crate::media::{dtmf, sdp};
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, Method, Request, SipMessage, Uri};

/// What the engine makes of a datagram.
#[derive(Debug, PartialEq, Eq)]
pub enum Intake {
    /// Answered or dropped by the guard.
    Guarded(Verdict),
    /// Passed the guard but the stack cannot parse it (it drops it).
    Unparsable,
    /// A response, for the stack's client transactions.
    Response(u16),
    /// An INVITE: the number it calls and what its offer negotiates to.
    Invite { number: Option<String>, media: Result<sdp::Negotiated, sdp::NegotiationError> },
    /// An INFO and the key it carries, if any.
    Info(Option<Key>),
    /// Any other request, by method.
    Other(String),
}

/// Follow a datagram through the guard, the parser and the engine's first decisions, with the
/// functions the server itself runs ([`invite`], [`info_key`]).
pub fn intake(datagram: &[u8]) -> Intake {
    let rewritten;
    let datagram = match guard::inspect(&datagram[..datagram.len().min(guard::MAX_DATAGRAM)], datagram.len()) {
        Verdict::Pass => datagram,
        Verdict::Rewrite(message) => {
            rewritten = message;
            &rewritten[..]
        }
        v => return Intake::Guarded(v),
    };
    let Ok(msg) = SipMessage::try_from(datagram) else { return Intake::Unparsable };
    let req = match msg {
        SipMessage::Response(r) => return Intake::Response(r.status_code.code()),
        SipMessage::Request(r) => r,
    };
    match req.method {
        Method::Invite => {
            // Classification only: no media is set up with this key.
            let terms = Terms { codecs: CODECS, srtp: SrtpPolicy::Optional, key: MasterKey::from_bytes([0; 30]) };
            let invite = invite(&req, &terms);
            let media = match invite.offer {
                Offer::Late => Ok(late_offer_media()),
                Offer::Early(media) => media,
            };
            Intake::Invite { number: normalize_number(&invite.dialled), media }
        }
        Method::Info => Intake::Info(info_key(&req)),
        m => Intake::Other(m.to_string()),
    }
}

/// What a new INVITE asks for.
pub struct Invite {
    pub call_id: String,
    /// The called number as dialled (the Request-URI's user).
    pub dialled: String,
    /// The caller's user, from the From header.
    pub caller: String,
    pub offer: Offer,
}

/// The SDP of an INVITE.
pub enum Offer {
    /// No offer: ours goes in the 200, the answer comes in the ACK.
    Late,
    /// The offer, negotiated against our codecs.
    Early(Result<sdp::Negotiated, sdp::NegotiationError>),
}

/// Read a new INVITE.
pub fn invite(req: &Request, terms: &Terms) -> Invite {
    let body = String::from_utf8_lossy(&req.body);
    Invite {
        call_id: req.call_id_header().map(|c| c.value().to_string()).unwrap_or_default(),
        dialled: uri_user(&req.uri),
        caller: req.from_header().and_then(|f| f.uri()).map(|u| uri_user(&u)).unwrap_or_default(),
        offer: if body.trim().is_empty() { Offer::Late } else { Offer::Early(sdp::negotiate(&body, terms)) },
    }
}

/// What we assume of a late offer's media until the answer comes: our first codec, sending
/// and receiving.
pub fn late_offer_media() -> sdp::Negotiated {
    sdp::Negotiated::plain(CODECS[0], None)
}

/// The key a SIP INFO carries (`application/dtmf-relay` or `application/dtmf`), if any.
pub fn info_key(req: &Request) -> Option<Key> {
    let content_type = req
        .headers
        .iter()
        .find_map(|h| match h {
            Header::ContentType(c) => Some(c.value().to_string()),
            _ => None,
        })
        .unwrap_or_default();
    dtmf::parse_info(&content_type, &String::from_utf8_lossy(&req.body))
}

/// The user part of a URI (its host when it has none).
pub fn uri_user(uri: &Uri) -> String {
    uri.auth.as_ref().map(|a| a.user.clone()).unwrap_or_else(|| uri.host_with_port.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVITE: &str = "INVITE sip:0773691001@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:0773691001@127.0.0.1>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:5061>\r\nMax-Forwards: 70\r\nContent-Type: application/sdp\r\nContent-Length: 96\r\n\r\nv=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0 101\r\na=x\r\n";

    #[test]
    fn an_invite_is_followed_to_its_number_and_codec() {
        match intake(INVITE.as_bytes()) {
            Intake::Invite { number, media } => {
                assert_eq!(number.as_deref(), Some("+390773691001"));
                assert_eq!(media.unwrap().payload_type, 0);
            }
            other => panic!("{other:?}"),
        }
    }

    /// A bounded, deterministic stand-in for the fuzzer that runs with every `cargo test`:
    /// byte flips, truncations and splices of real messages must never panic.
    #[test]
    fn mutated_messages_never_panic() {
        let seeds: [&[u8]; 3] = [INVITE.as_bytes(), b"INFO sip:x@y SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK2\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:x@y>;tag=2\r\nCall-ID: c\r\nCSeq: 2 INFO\r\nContent-Type: application/dtmf-relay\r\nContent-Length: 10\r\n\r\nSignal=5\r\n", b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK3\r\nCSeq: 1 BYE\r\n\r\n"];
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for i in 0..20_000 {
            let mut m = seeds[i % seeds.len()].to_vec();
            for _ in 0..(next() % 8) {
                let pos = (next() as usize) % m.len().max(1);
                match next() % 4 {
                    0 => m[pos] = next() as u8,
                    1 => m.truncate(pos),
                    2 => {
                        let alphabet = b"\r\n:;=<>\0 0123456789";
                        m.insert(pos, alphabet[(next() as usize) % alphabet.len()]);
                    }
                    _ => {
                        let other = seeds[(next() as usize) % seeds.len()];
                        let at = (next() as usize) % other.len();
                        m.extend_from_slice(&other[at..]);
                    }
                }
                if m.is_empty() {
                    break;
                }
            }
            let _ = intake(&m);
        }
    }
}
