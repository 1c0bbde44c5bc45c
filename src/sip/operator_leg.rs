//! The signalling of a call to an operator's phone: INVITE with our SDP offer to the Contact the
//! phone registered (sent to the address the REGISTER came from, so a phone behind NAT or on a
//! TCP connection it opened is reached), CANCEL when the distribution withdraws the offer, and
//! after the answer a supervisor that sends BYE when the call task lets go of the leg and reports
//! the phone's own BYE.

use super::server::{CODECS, Shared};
use crate::acd::host::AcdHandle;
use crate::calls::OperatorLeg;
use crate::media::sdp;
use rsipstack::dialog::dialog::DialogState;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::sip::{Header, StatusCodeKind, Transport, Uri};
use rsipstack::transport::SipAddr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, warn};

/// After CANCEL, how long to wait for the phone's final response (64 x T1, RFC 3261 9.1).
const CANCEL_WAIT: Duration = Duration::from_secs(32);
/// Ringing is bounded by the distribution's ring timeout; this is the backstop if that never
/// comes (rsipstack: an INVITE answered only with 100 never times out by itself).
const RING_BACKSTOP: Duration = Duration::from_secs(300);

/// Ring `operator` for `call`; on answer the leg goes to `acd`. `Err(reason)` when the phone did
/// not answer (the distribution then pauses the operator with that reason).
pub async fn ring(
    shared: &Arc<Shared>,
    call: &str,
    operator: &str,
    acd: &AcdHandle<OperatorLeg>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let span = tracing::info_span!("operator_leg", %call, %operator);
    ring_inner(shared, call, operator, acd, cancel).instrument(span).await
}

async fn ring_inner(
    shared: &Arc<Shared>,
    call: &str,
    operator: &str,
    acd: &AcdHandle<OperatorLeg>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let binding = shared
        .registrar
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .binding(operator)
        .cloned()
        .ok_or("no phone registered")?;
    let socket = shared.ports.bind().map_err(|e| format!("no RTP port: {e}"))?;
    let rtp_port = socket.local_addr().map_err(|e| e.to_string())?.port();
    let local = SocketAddr::new(shared.settings.rtp_ip, rtp_port);
    let offer = sdp::offer(CODECS, local, rand::random::<u32>().into(), 1);
    let tcp = binding.transport == "tcp";
    let (transport, ours) = if tcp {
        (Transport::Tcp, super::server::shared_tcp(shared))
    } else {
        (Transport::Udp, super::server::shared_udp(shared))
    };
    let callee: Uri =
        binding.contact.as_str().try_into().map_err(|e| format!("bad Contact {}: {e}", binding.contact))?;
    let us: Uri = format!("sip:centralino@{ours}").as_str().try_into().map_err(|e| format!("{e}"))?;
    let opt = InviteOption {
        caller_display_name: Some("Centralino".into()),
        caller: us.clone(),
        callee,
        destination: Some(SipAddr::new(transport, binding.source.into())),
        content_type: Some("application/sdp".into()),
        offer: Some(offer.into_bytes()),
        contact: us,
        headers: Some(vec![
            Header::Allow(super::server::ALLOW.into()),
            // The console finds the caller's call by this id.
            Header::Other("X-Centralino-Call".into(), call.to_string()),
        ]),
        ..Default::default()
    };
    let (state_tx, mut states) = shared.dialogs.new_dialog_state_channel();
    let (dialog, mut invite) = shared.dialogs.do_invite_async(opt, state_tx).map_err(|e| format!("INVITE: {e}"))?;
    info!(contact = %binding.contact, "ringing the operator's phone");

    let outcome = tokio::select! {
        r = &mut invite => Some(r),
        _ = cancel.cancelled() => None,
        _ = tokio::time::sleep(RING_BACKSTOP) => None,
    };
    let withdrawn = outcome.is_none();
    let outcome = match outcome {
        Some(r) => r,
        None => {
            debug!("offer withdrawn: CANCEL");
            let _ = dialog.cancel().await;
            match tokio::time::timeout(CANCEL_WAIT, &mut invite).await {
                Ok(r) => r,
                Err(_) => {
                    // rsipstack: the phone never sent a final response; give up on the transaction.
                    invite.abort();
                    shared.dialogs.remove_dialog(&dialog.id());
                    return Err("cancelled".into());
                }
            }
        }
    };
    let response = match outcome {
        Ok(Ok((_, Some(resp)))) => resp,
        Ok(Ok((_, None))) => return Err("no response".into()),
        Ok(Err(e)) => return Err(format!("INVITE failed: {e}")),
        Err(e) => return Err(format!("INVITE task: {e}")),
    };
    let answered = response.status_code.kind() == StatusCodeKind::Successful;
    if !answered {
        let reason = match response.status_code.code() {
            487 if withdrawn => "cancelled".to_string(),
            408 => "no answer".to_string(),
            486 | 600 => "busy".to_string(),
            603 => "declined".to_string(),
            code => format!("{code} {}", response.status_code),
        };
        info!(%reason, "the operator's phone did not answer");
        return Err(reason);
    }
    if matches!(dialog.state(), DialogState::Terminated(..)) {
        // A CANCEL crossed the 200: the stack has already sent BYE.
        return Err("cancelled".into());
    }
    let id = dialog.id();
    let answer = String::from_utf8_lossy(&response.body).into_owned();
    let media = match sdp::negotiate(&answer, CODECS) {
        Ok(m) if !withdrawn => m,
        result => {
            if let Err(e) = &result {
                warn!("unusable SDP answer from the operator's phone: {e}");
            }
            spawn_bye(shared, dialog, id);
            return Err(if withdrawn { "cancelled".into() } else { "unusable SDP answer".into() });
        }
    };
    info!(codec = media.law.name(), "the operator answered");
    let (ended_tx, ended) = oneshot::channel();
    let (hang_up, hang_up_rx) = oneshot::channel::<()>();
    let leg = OperatorLeg { operator: operator.to_string(), socket, media, ended, hang_up };
    // The supervisor: BYE when the call task lets go (or never takes) the leg; report the
    // phone's BYE; forget the dialog either way.
    let s = Arc::clone(shared);
    tokio::spawn(
        async move {
            let phone_hung_up = async {
                while let Some(st) = states.recv().await {
                    if matches!(st, DialogState::Terminated(..)) {
                        return;
                    }
                }
            };
            tokio::select! {
                _ = hang_up_rx => {
                    debug!("ending the operator's leg: BYE");
                    let _ = dialog.bye().await;
                }
                () = phone_hung_up => {
                    debug!("the operator's phone hung up");
                    let _ = ended_tx.send(());
                }
            }
            s.dialogs.remove_dialog(&id);
        }
        .in_current_span(),
    );
    // If the caller left meanwhile, the distribution drops the leg: the supervisor sends BYE.
    acd.answered(call, operator, leg, drop);
    Ok(())
}

fn spawn_bye(
    shared: &Arc<Shared>,
    dialog: rsipstack::dialog::invite_dialog::InviteDialog,
    id: rsipstack::dialog::DialogId,
) {
    let s = Arc::clone(shared);
    tokio::spawn(async move {
        let _ = dialog.bye().await;
        s.dialogs.remove_dialog(&id);
    });
}
