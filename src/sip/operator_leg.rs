//! The signalling of a call to an operator's phone: INVITE with our SDP offer to the Contact the
//! phone registered (sent to the address the REGISTER came from, so a phone behind NAT or on a
//! TCP connection it opened is reached), CANCEL when the distribution withdraws the offer, and
//! after the answer a supervisor that sends BYE when the call task lets go of the leg and reports
//! the phone's own BYE.

use super::sdp_session::SdpSession;
use super::server::Shared;
use crate::acd::host::{AcdHandle, Offer};
use crate::calls::OperatorLeg;
use crate::media::sdp;
use rsipstack::dialog::dialog::DialogState;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::sip::{Header, StatusCodeKind, Transport, Uri};
use rsipstack::transport::SipAddr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, warn};

/// After CANCEL, how long to wait for the phone's final response (64 x T1, RFC 3261 9.1).
const CANCEL_WAIT: Duration = Duration::from_secs(32);
/// Ringing is bounded by the distribution's ring timeout; this is the backstop if that never
/// comes (rsipstack: an INVITE answered only with 100 never times out by itself).
const RING_BACKSTOP: Duration = Duration::from_secs(300);

/// Ring the offer's operator; on answer the leg goes to `acd`. `Err(reason)` when the phone did
/// not answer (the distribution then pauses the operator with that reason).
pub async fn ring(
    shared: &Arc<Shared>,
    offer: &Offer,
    acd: &AcdHandle<OperatorLeg>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let span = tracing::info_span!("operator_leg", call = %offer.call, operator = %offer.operator);
    ring_inner(shared, offer, acd, cancel).instrument(span).await
}

async fn ring_inner(
    shared: &Arc<Shared>,
    offer: &Offer,
    acd: &AcdHandle<OperatorLeg>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let Offer { call, operator, .. } = offer;
    let binding = match &shared.phone_book {
        Some(book) => book.find(operator).await.map_err(|e| format!("the phone book is unavailable: {e}"))?,
        None => shared.registrar.lock().unwrap_or_else(|e| e.into_inner()).binding(operator).cloned(),
    }
    .ok_or("no phone registered")?;
    let socket = shared.ports.bind().map_err(|e| format!("no RTP port: {e}"))?;
    let rtp_port = socket.local_addr().map_err(|e| e.to_string())?.port();
    let local = SocketAddr::new(shared.settings.rtp_ip, rtp_port);
    let session_id: u64 = rand::random::<u32>().into();
    let terms = super::server::operator_terms(shared);
    let our_offer = sdp::offer(&terms, local, session_id, 1);
    let transport = super::server::transport_named(&binding.transport);
    if transport != Transport::Tls && super::server::operators_require_tls(shared) {
        return Err("the phone is not registered over TLS (sip.operators_require_tls)".into());
    }
    let ours = super::server::our_address(shared, transport);
    let callee: Uri =
        binding.contact.as_str().try_into().map_err(|e| format!("bad Contact {}: {e}", binding.contact))?;
    let us: Uri =
        super::server::contact_uri("centralino", shared, transport).as_str().try_into().map_err(|e| format!("{e}"))?;
    let section_name =
        shared.live.current().switchboard.config.sections.get(offer.section.as_str()).map(|s| s.name.clone());
    let shown = Presented::new(&offer.caller, section_name.as_deref().unwrap_or(&offer.section));
    let caller: Uri = format!("sip:{}@{ours}", shown.user).as_str().try_into().map_err(|e| format!("{e}"))?;
    let opt = InviteOption {
        caller_display_name: Some(shown.display_name.clone()),
        caller,
        callee,
        destination: Some(SipAddr::new(transport, binding.source.into())),
        content_type: Some("application/sdp".into()),
        offer: Some(our_offer.into_bytes()),
        contact: us,
        headers: Some(vec![
            Header::Allow(super::server::ALLOW.into()),
            // The console finds the caller's call by this id.
            Header::Other("X-Centralino-Call".into(), call.to_string()),
            // RFC 3325: the operators' phones are ours, inside the trust domain.
            Header::Other(
                "P-Asserted-Identity".into(),
                format!("\"{}\" <sip:{}@{ours}>", shown.display_name, shown.user),
            ),
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
    let media = match sdp::negotiate(&answer, &terms) {
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
    let (changes_tx, media_changes) = mpsc::unbounded_channel();
    let leg = OperatorLeg {
        operator: operator.to_string(),
        rtcp: crate::media::rtp_port::rtcp_beside(&socket),
        socket,
        media: media.clone(),
        ended,
        hang_up,
        media_changes,
    };
    // The supervisor: BYE when the call's host lets go of (or never takes) the leg; report the
    // phone's BYE; answer its re-INVITEs (hold, resume, a new address); forget the dialog.
    let s = Arc::clone(shared);
    let mut ours = SdpSession::new(local, session_id, media, terms);
    tokio::spawn(
        async move {
            let mut hang_up_rx = hang_up_rx;
            loop {
                tokio::select! {
                    _ = &mut hang_up_rx => {
                        debug!("ending the operator's leg: BYE");
                        let _ = dialog.bye().await;
                        break;
                    }
                    st = states.recv() => match st {
                        None | Some(DialogState::Terminated(..)) => {
                            debug!("the operator's phone hung up");
                            let _ = ended_tx.send(());
                            break;
                        }
                        Some(DialogState::Updated(_, req, handle)) => {
                            if let Some(media) = ours.reinvite(&req.body, handle).await {
                                info!(direction = ?media.direction, "the operator's phone renegotiated the call");
                                let _ = changes_tx.send(media);
                            }
                        }
                        Some(other) => super::call_leg::reply_unexpected(other).await,
                    },
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

/// BYE on an answered dialog that is not used, then forget it.
pub(super) fn spawn_bye(
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

/// Who the operator's phone shows as calling: the section and the caller's number.
struct Presented {
    /// `Pensioni +393331234567`: what the operator says hello as, and to whom.
    display_name: String,
    /// The caller's number, kept to what a SIP URI's user may hold (`anonymous` without one).
    user: String,
}

impl Presented {
    fn new(caller: &str, section: &str) -> Presented {
        let user: String =
            caller.chars().filter(|c| c.is_ascii_alphanumeric() || "+-_.!~*'()".contains(*c)).take(32).collect();
        let user = if user.is_empty() { "anonymous".to_string() } else { user };
        // A quoted string (RFC 3261 25.1): no quotes, backslashes or control characters inside.
        let section: String = section.chars().filter(|c| !c.is_control() && *c != '"' && *c != '\\').take(40).collect();
        Presented { display_name: format!("{section} {user}"), user }
    }
}

#[cfg(test)]
mod tests {
    use super::Presented;

    #[test]
    fn the_phone_shows_the_section_and_the_number() {
        let p = Presented::new("+393331234567", "Pensioni");
        assert_eq!((p.display_name.as_str(), p.user.as_str()), ("Pensioni +393331234567", "+393331234567"));
        let p = Presented::new("a\"b@c;d", "Sez\"ione\\");
        assert_eq!((p.display_name.as_str(), p.user.as_str()), ("Sezione abcd", "abcd"));
        assert_eq!(Presented::new("", "Pensioni").user, "anonymous");
    }
}
