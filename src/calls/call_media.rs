//! The media of one answered call, as its host carries out the call machine's outputs: the
//! prompts and hold music sent on the shared 20 ms clock, the caller's packets read by the shared
//! receiver (keys, liveness), and the relay to an operator's phone while bridged.

use super::bridge::OperatorLeg;
use crate::ivr::{Key, Lang, Utterance};
use crate::media::clock::{MediaClock, Voice};
use crate::media::prompt_store::PromptStore;
use crate::media::receiver::{Inbound, MediaReceiver, OperatorSide};
use crate::media::relay::{LegCodec, Relay};
use crate::media::rtcp::LegQuality;
use crate::media::rtp_port::rtcp_beside;
use crate::media::sdp::{Negotiated, Srtp};
use crate::media::srtp::Suite;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

/// What the media reports to the call.
pub enum MediaEvent {
    Key(Key),
    PlaybackDone,
}

pub struct CallMedia {
    params: Negotiated,
    voice: Voice,
    /// The caller's packets: keys, when last heard, the relay while bridged.
    inbound: Inbound,
    prompts: Arc<PromptStore>,
    /// The SRTP suite of the operator's leg (the last one bridged).
    operator_srtp: Option<Suite>,
}

/// The operator's side of a bridge, as the host keeps it.
pub struct Bridged {
    /// Sending (or dropping) it ends the operator's leg with BYE.
    hang_up: oneshot::Sender<()>,
    /// Completes when the operator's phone hangs up (taken when it has).
    ended: Option<oneshot::Receiver<()>>,
    /// What the operator's phone renegotiates.
    media_changes: mpsc::UnboundedReceiver<Negotiated>,
}

/// What the operator's side reports.
pub enum OperatorEvent {
    HungUp,
    /// The phone renegotiated (hold, resume, a new address).
    Media(Negotiated),
}

impl Bridged {
    /// The next thing the operator's side reports. Cancel-safe.
    pub async fn next(&mut self) -> OperatorEvent {
        tokio::select! {
            _ = async { self.ended.as_mut().expect("guarded").await }, if self.ended.is_some() => {
                self.ended = None;
                OperatorEvent::HungUp
            }
            Some(media) = self.media_changes.recv() => OperatorEvent::Media(media),
            else => std::future::pending().await,
        }
    }
}

impl CallMedia {
    pub fn attach(
        socket: UdpSocket,
        params: Negotiated,
        clock: &MediaClock,
        receiver: &MediaReceiver,
        prompts: Arc<PromptStore>,
    ) -> CallMedia {
        let rtcp = rtcp_beside(&socket);
        let socket = Arc::new(socket);
        let voice = clock.attach(Arc::clone(&socket), &params);
        let inbound = receiver.attach(socket, &params);
        if let Some(rtcp) = rtcp {
            inbound.rtcp(rtcp, voice.ssrc(), voice.sent());
        }
        CallMedia { voice, inbound, params, prompts, operator_srtp: None }
    }

    /// Play `items` once; false when none of them has audio (nothing will finish).
    pub fn play(&mut self, lang: Lang, items: &[Utterance], looping: bool) -> bool {
        let (clips, missing) = self.prompts.clips_for(lang, items, self.params.law);
        if !missing.is_empty() {
            warn!(?missing, "prompt audio missing; skipped");
        }
        if clips.is_empty() {
            self.voice.stop();
            return false;
        }
        self.voice.play(clips, self.params.law, looping);
        true
    }

    pub fn hold_music(&mut self) {
        match self.prompts.hold_music() {
            Some(music) => self.voice.play(vec![Arc::clone(music.get(self.params.law))], self.params.law, true),
            None => self.voice.stop(),
        }
    }

    pub fn stop(&mut self) {
        self.voice.stop();
    }

    /// The next thing the media reports: an RFC 4733 key from the caller (none while bridged:
    /// they go to the operator), or the end of a playback that does not loop.
    pub async fn next(&mut self) -> MediaEvent {
        let playing = self.voice.is_playing();
        tokio::select! {
            k = self.inbound.key() => MediaEvent::Key(k),
            () = self.voice.finished(), if playing => MediaEvent::PlaybackDone,
        }
    }

    pub fn last_heard(&self) -> Instant {
        self.inbound.last_heard()
    }

    /// The quality of the RTP received from the caller and from the operator's phone.
    pub async fn quality(&self) -> super::record::MediaQuality {
        let q = self.inbound.quality().await;
        let encrypted = |q: Option<LegQuality>, srtp| q.map(|q| LegQuality { srtp, ..q });
        super::record::MediaQuality {
            caller: encrypted(q.caller, self.params.srtp.as_ref().map(|s| s.suite)),
            operator: encrypted(q.operator, self.operator_srtp),
        }
    }

    /// New address, hold or resume: the stream, the receiver and a bridge follow.
    pub fn set_media(&mut self, params: Negotiated) {
        self.voice.set_media(&params);
        self.inbound.set_media(&params);
        self.params = params;
    }

    /// Relay the caller's packets to the operator's phone and back; the operator's stream
    /// continues the caller's (same SSRC, sequence and timestamps).
    pub fn bridge(&mut self, leg: OperatorLeg) -> Bridged {
        let OperatorLeg { socket, rtcp, media, ended, hang_up, media_changes, .. } = leg;
        let stream = self.voice.hand_over();
        self.operator_srtp = media.srtp.as_ref().map(|s| s.suite);
        let (caller_codec, op_codec) = (LegCodec::of(&self.params), LegCodec::of(&media));
        // The operator's phone sees a new stream: its identifiers are ours to choose.
        let to_operator = Relay::new(caller_codec, op_codec, rand::random(), rand::random(), rand::random());
        self.inbound.bridge(OperatorSide {
            socket,
            codec: op_codec,
            remote: media.remote,
            to_operator,
            to_caller: Relay::new(op_codec, caller_codec, stream.ssrc, stream.seq, stream.ts),
            srtp_to_operator: media.srtp.as_ref().map(Srtp::sender),
            srtp_from_operator: media.srtp.as_ref().map(Srtp::receiver),
            srtp_to_caller: stream.srtp,
            rtcp,
        });
        Bridged { hang_up, ended: Some(ended), media_changes }
    }

    /// The operator's phone moved its media (a new address, or none while it holds the call).
    pub fn operator_media(&self, media: &Negotiated) {
        self.inbound.set_operator_media(media.remote);
    }

    /// End the bridge: the caller's stream comes back where the relay left it, and the
    /// operator's phone is released.
    pub async fn unbridge(&mut self, bridged: Bridged) {
        if let Some((next, srtp)) = self.inbound.unbridge().await {
            self.voice.take_back(next, srtp);
        }
        let _ = bridged.hang_up.send(());
    }
}
