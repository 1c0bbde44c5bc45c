//! The operator's side of a bridged call, as the caller's call task holds it: the RTP socket
//! towards the operator's phone, what that phone negotiated, and the two signals between the
//! call's host and the operator's signalling (it ended / end it / the phone renegotiated).

use crate::media::sdp::Negotiated;
use std::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// An operator's phone that answered a queued call.
#[derive(Debug)]
pub struct OperatorLeg {
    pub operator: String,
    /// Our RTP socket towards the operator's phone (non-blocking).
    pub socket: UdpSocket,
    /// Our RTCP socket towards it (the RTP port + 1); none for the phone in the browser, whose
    /// RTCP is WebRTC's own (str0m's).
    pub rtcp: Option<UdpSocket>,
    /// What the operator's phone answered.
    pub media: Negotiated,
    /// Completes when the operator's side has ended (their BYE, or the dialog failed).
    pub ended: oneshot::Receiver<()>,
    /// Sending (or dropping) it asks the operator's signalling to end the leg with BYE.
    pub hang_up: oneshot::Sender<()>,
    /// What the operator's phone renegotiates (re-INVITE: hold, resume, a new address).
    pub media_changes: mpsc::UnboundedReceiver<Negotiated>,
}
