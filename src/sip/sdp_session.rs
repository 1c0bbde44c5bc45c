//! Our side of one leg's SDP session (RFC 3264): the address we receive on, the session's id and
//! version, and what is agreed now; re-INVITEs from either leg's phone are answered here.

use crate::media::sdp::{self, Negotiated, NegotiationError, Terms};
use rsipstack::dialog::dialog::TransactionHandle;
use rsipstack::sip::{Header, StatusCode};
use std::net::SocketAddr;

pub struct SdpSession {
    local: SocketAddr,
    id: u64,
    version: u64,
    /// Our codecs, SRTP policy and key, for every offer and answer of the dialog.
    terms: Terms,
    /// What is agreed now.
    pub current: Negotiated,
}

impl SdpSession {
    pub fn new(local: SocketAddr, id: u64, current: Negotiated, terms: Terms) -> SdpSession {
        SdpSession { local, id, version: 1, terms, current }
    }

    /// Negotiate the peer's offer or answer `body` under our terms.
    pub fn negotiate(&self, body: &[u8]) -> Result<Negotiated, NegotiationError> {
        sdp::negotiate(&String::from_utf8_lossy(body), &self.terms)
    }

    /// Our first description: the answer to `current`, or our offer (late offer).
    pub fn first(&self, offer: bool) -> String {
        if offer {
            sdp::offer(&self.terms, self.local, self.id, self.version)
        } else {
            sdp::describe(&self.current, self.local, self.id, self.version)
        }
    }

    /// Answer a re-INVITE: hold (sendonly, inactive), resume or a new address get 200 with our
    /// description, one version on; without an offer, ours is the session as it is; a codec
    /// change is refused (488) and the call goes on as it was. Returns the new media, if any.
    pub async fn reinvite(&mut self, body: &[u8], handle: TransactionHandle) -> Option<Negotiated> {
        let media = if String::from_utf8_lossy(body).trim().is_empty() {
            None
        } else {
            match self.negotiate(body) {
                Ok(m) if m.law == self.current.law => Some(m),
                _ => {
                    let _ = handle.reply(StatusCode::NotAcceptableHere).await;
                    return None;
                }
            }
        };
        if let Some(m) = &media {
            self.current = m.clone();
        }
        self.version += 1;
        let answer = sdp::describe(&self.current, self.local, self.id, self.version);
        let content_type = Header::ContentType("application/sdp".into());
        let _ = handle.respond(StatusCode::OK, Some(vec![content_type]), Some(answer.into_bytes())).await;
        media
    }
}
