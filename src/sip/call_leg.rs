//! The signalling of one incoming call, as an adapter for its host ([`crate::calls::host`]):
//! the dialog, 180 and the 200 with our SDP, SIP INFO keys, re-INVITEs (hold, resume, a new
//! address), the answer in the ACK of a late offer, BYE both ways.

use super::sdp_session::SdpSession;
use super::server::Shared;
use crate::calls::CallRecord;
use crate::calls::host::{self, Parts, Signal, Signalling};
use crate::calls::machine::{Call, Input, Settings};
use crate::ivr::Session;
use crate::media::sdp::{Negotiated, Terms};
use rsipstack::dialog::dialog::{DialogState, TerminatedReason, TransactionHandle};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, StatusCode, Uri};
use rsipstack::transaction::Transaction;
use rsipstack::transaction::transaction::TransactionEvent;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, warn};

/// An INVITE that passed every check and is about to be answered.
pub struct Leg {
    pub shared: Arc<Shared>,
    pub session: Session,
    pub media: Negotiated,
    /// Our codecs, SRTP policy and key (the key already in `media` when the offer had crypto).
    pub terms: Terms,
    /// The INVITE had no offer: ours goes in the 200, the answer comes in the ACK.
    pub late_offer: bool,
    pub socket: UdpSocket,
    pub record: CallRecord,
    pub contact: Option<Uri>,
}

/// Counts the call in `active` for as long as it lives.
struct Active(Arc<Shared>);

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Create the dialog and run the call in its own task.
pub async fn start(leg: Leg, mut tx: Transaction) {
    let shared = Arc::clone(&leg.shared);
    let (state_tx, states) = shared.dialogs.new_dialog_state_channel();
    let dialog = match shared.dialogs.get_or_create_server_invite(&tx, state_tx, None, leg.contact.clone()) {
        Ok(d) => d,
        Err(e) => {
            warn!(error = %e, "cannot create the dialog: 400");
            let _ = tx
                .reply_with(
                    StatusCode::BadRequest,
                    vec![Header::Warning(format!("399 centralino \"{e}\"").into())],
                    None,
                )
                .await;
            tokio::spawn(async move { while tx.receive().await.is_some() {} });
            return;
        }
    };
    shared.active.fetch_add(1, Ordering::Relaxed);
    let active = Active(Arc::clone(&shared));
    // rsipstack: the 487 after CANCEL would carry a new To-tag unless the transaction's copy of
    // the INVITE has the dialog's.
    if let Ok(to) = tx.original.to_header_mut() {
        let _ = to.mut_tag(dialog.id().local_tag.into());
    }
    let invite_tu = tx.tu_sender.clone();
    let invite = tx.original.clone();
    let mut handler = dialog.clone();
    tokio::spawn(async move {
        if let Err(e) = handler.handle(&mut tx).await {
            debug!(error = %e, "INVITE transaction ended with an error");
        }
    });

    tokio::spawn(
        async move {
            let _active = active;
            let id = dialog.id();
            let record = run(leg, dialog, states).await;
            if record.answered.is_none() {
                // rsipstack: a call ended before the answer (BYE in the early dialog) leaves the
                // INVITE without a final response forever; give it one (no-op if answered).
                let resp = shared.endpoint.make_response(&invite, StatusCode::RequestTerminated, None);
                let _ = invite_tu.send(TransactionEvent::Respond(resp));
            }
            // rsipstack: dialogs are never forgotten by the layer itself.
            shared.dialogs.remove_dialog(&id);
            shared.log.append(record);
        }
        .in_current_span(),
    );
}

/// Ring (180), then hand the call to its host.
async fn run(leg: Leg, dialog: InviteDialog, states: mpsc::UnboundedReceiver<DialogState>) -> CallRecord {
    let Leg { shared, session, media, terms, late_offer, socket, record, .. } = leg;
    let s = &shared.settings;
    let settings = Settings {
        answer_delay: s.answer_delay,
        media_timeout: s.media_timeout,
        max_hold: s.max_hold,
        distribution: shared.acd.get().is_some(),
        late_offer,
        plan: shared.live.current().switchboard.config.callback.plan(),
    };
    if s.ringing {
        let _ = dialog.ringing(None, None);
    }
    let port = socket.local_addr().map(|a| a.port()).unwrap_or_default();
    let signalling = SipSignalling {
        dialog,
        states,
        sdp: SdpSession::new(SocketAddr::new(s.rtp_ip, port), rand::random::<u32>().into(), media.clone(), terms),
        late_offer,
        answered: false,
        awaiting_answer: late_offer,
        bye_sent: false,
    };
    let parts = Parts {
        clock: shared.clock.clone(),
        receiver: shared.receiver.clone(),
        prompts: Arc::clone(&shared.live.current().prompts),
        store: shared.store.clone(),
        updates: shared.updates.clone(),
        acd: shared.acd.get().cloned(),
    };
    let mut call = Call::new(session, record, settings, host::now());
    if !late_offer {
        // A caller who offers the call on hold (sendonly, inactive) is not expected to send.
        call.handle(Input::Media { receiving: media.direction.we_receive() }, host::now());
    }
    host::run(call, socket, media, parts, signalling).await
}

/// The caller's dialog.
struct SipSignalling {
    dialog: InviteDialog,
    states: mpsc::UnboundedReceiver<DialogState>,
    sdp: SdpSession,
    late_offer: bool,
    answered: bool,
    /// The answer to our offer has not come yet (late offer).
    awaiting_answer: bool,
    bye_sent: bool,
}

impl Signalling for SipSignalling {
    type Event = DialogState;

    async fn next_event(&mut self) -> Option<DialogState> {
        self.states.recv().await
    }

    async fn interpret(&mut self, state: DialogState) -> Option<Signal> {
        let answered = self.answered;
        match state {
            DialogState::Info(_, req, handle) if answered => return info_key(&req, handle).await,
            DialogState::Updated(_, req, handle) if answered => {
                return self.sdp.reinvite(&req.body, handle).await.map(Signal::Media);
            }
            DialogState::Confirmed(..) if answered && self.awaiting_answer => {
                self.awaiting_answer = false;
                let ack = self.dialog.last_remote_ack().map(|a| a.body.clone()).unwrap_or_default();
                match self.sdp.negotiate(&ack) {
                    Ok(m) => {
                        self.sdp.current = m.clone();
                        return Some(Signal::Media(m));
                    }
                    Err(e) => {
                        // RFC 3261 section 13.3.1.4: an unacceptable answer in the ACK ends the call.
                        warn!("answer in the ACK refused ({e}): BYE");
                        self.hang_up();
                        return Some(Signal::Hangup);
                    }
                }
            }
            DialogState::Terminated(_, reason) => {
                debug!(?reason, "dialog terminated");
                if !matches!(reason, TerminatedReason::UasBye) {
                    return Some(Signal::Hangup);
                }
            }
            other => reply_unexpected(other).await,
        }
        None
    }

    /// The 200 with our SDP (our offer, for a late offer).
    fn answer(&mut self) -> Result<(), String> {
        let body = self.sdp.first(self.late_offer);
        let headers = vec![sdp_type(), Header::Allow(super::server::ALLOW.into())];
        self.dialog.accept(Some(headers), Some(body.into_bytes())).map_err(|e| e.to_string())?;
        self.answered = true;
        Ok(())
    }

    fn hang_up(&mut self) {
        bye_once(&self.dialog, &mut self.bye_sent);
    }
}

/// A key from a mid-call INFO (200), or 415 with the bodies taken.
pub(super) async fn info_key(req: &rsipstack::sip::Request, handle: TransactionHandle) -> Option<Signal> {
    match super::intake::info_key(req) {
        Some(k) => {
            let _ = handle.reply(StatusCode::OK).await;
            Some(Signal::Key(k))
        }
        None => {
            let accept = Header::Accept("application/dtmf-relay, application/dtmf".into());
            let _ = handle.respond(StatusCode::UnsupportedMediaType, Some(vec![accept]), None).await;
            None
        }
    }
}

/// BYE on `dialog`, once (`sent` remembers).
pub(super) fn bye_once(dialog: &InviteDialog, sent: &mut bool) {
    if std::mem::replace(sent, true) {
        return;
    }
    let dialog = dialog.clone();
    // rsipstack: bye() waits for the answer (up to 32 s for a vanished peer): never inline.
    tokio::spawn(async move {
        if let Err(e) = dialog.bye().await {
            debug!(error = %e, "BYE failed");
        }
    });
}

fn sdp_type() -> Header {
    Header::ContentType("application/sdp".into())
}

/// Requests either leg does not take mid-call (REFER, MESSAGE, ...): 501; OPTIONS: 200 with
/// Allow; states: nothing to do.
pub(super) async fn reply_unexpected(state: DialogState) {
    match state {
        DialogState::Refer(_, _, h)
        | DialogState::Message(_, _, h)
        | DialogState::Notify(_, _, h)
        | DialogState::Publish(_, _, h)
        | DialogState::Info(_, _, h)
        | DialogState::Updated(_, _, h) => {
            let _ = h.reply(StatusCode::NotImplemented).await;
        }
        DialogState::Options(_, _, h) => {
            let _ = h.respond(StatusCode::OK, Some(vec![Header::Allow(super::server::ALLOW.into())]), None).await;
        }
        _ => {}
    }
}
