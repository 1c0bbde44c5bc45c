//! Our side of one leg's SDP session (RFC 3264): the address we receive on, the session's id and
//! version, and what is agreed now; re-INVITEs from either leg's phone are answered here.

use super::server::CODECS;
use crate::media::sdp::{self, Negotiated};
use rsipstack::dialog::dialog::TransactionHandle;
use rsipstack::sip::{Header, StatusCode};
use std::net::SocketAddr;

pub struct SdpSession {
    local: SocketAddr,
    id: u64,
    version: u64,
    /// What is agreed now.
    pub current: Negotiated,
}

impl SdpSession {
    pub fn new(local: SocketAddr, id: u64, current: Negotiated) -> SdpSession {
        SdpSession { local, id, version: 1, current }
    }

    /// Our first description: the answer to `current`, or our offer (late offer).
    pub fn first(&self, offer: bool) -> String {
        if offer {
            sdp::offer(CODECS, self.local, self.id, self.version)
        } else {
            sdp::describe(&self.current, self.local, self.id, self.version)
        }
    }

    /// Answer a re-INVITE: hold (sendonly, inactive), resume or a new address get 200 with our
    /// description, one version on; without an offer, ours is the session as it is; a codec
    /// change is refused (488) and the call goes on as it was. Returns the new media, if any.
    pub async fn reinvite(&mut self, body: &[u8], handle: TransactionHandle) -> Option<Negotiated> {
        let offer = String::from_utf8_lossy(body);
        let media = if offer.trim().is_empty() {
            None
        } else {
            match sdp::negotiate(&offer, CODECS) {
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
