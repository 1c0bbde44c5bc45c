//! The signalling side of one incoming call: ring, answer with SDP, turn INFO keys,
//! re-INVITEs and BYE into [`Signal`]s for the call task, and send BYE when the portal
//! hangs up. One task per call; the media side is [`crate::calls::call`].

use super::server::Shared;
use crate::calls::call::{self, CallSetup, Request, Signal};
use crate::calls::{CallRecord, Ending};
use crate::ivr::Session;
use crate::media::dtmf;
use crate::media::sdp::{self, Negotiated};
use chrono::Utc;
use rsipstack::dialog::dialog::{DialogState, TerminatedReason};
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, StatusCode, Uri};
use rsipstack::transaction::Transaction;
use rsipstack::transaction::transaction::TransactionEvent;
use std::net::SocketAddr;
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, warn};

/// An INVITE that passed every check and is about to be answered.
pub struct Leg {
    pub shared: Arc<Shared>,
    pub session: Session,
    pub media: Negotiated,
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

fn content_type(req: &rsipstack::sip::Request) -> String {
    req.headers
        .iter()
        .find_map(|h| match h {
            Header::ContentType(c) => Some(c.value().to_string()),
            _ => None,
        })
        .unwrap_or_default()
}

/// Create the dialog and run the call in its own task.
pub async fn start(leg: Leg, mut tx: Transaction) {
    let shared = Arc::clone(&leg.shared);
    let (state_tx, mut states) = shared.dialogs.new_dialog_state_channel();
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
            let Leg { shared, session, media, late_offer, socket, mut record, .. } = leg;
            let answered = run(&shared, &dialog, &mut states, session, (media, late_offer), socket, &mut record).await;
            if !answered {
                // rsipstack: a call ended before the answer (BYE in the early dialog) leaves the
                // INVITE without a final response forever; give it one (no-op if answered).
                let resp = shared.endpoint.make_response(&invite, StatusCode::RequestTerminated, None);
                let _ = invite_tu.send(TransactionEvent::Respond(resp));
            }
            // rsipstack: dialogs are never forgotten by the layer itself.
            shared.dialogs.remove_dialog(&dialog.id());
            shared.log.append(record);
        }
        .in_current_span(),
    );
}

/// Ring, answer, and run the call; returns whether it was answered.
async fn run(
    shared: &Arc<Shared>,
    dialog: &InviteDialog,
    states: &mut mpsc::UnboundedReceiver<DialogState>,
    session: Session,
    (media, late_offer): (Negotiated, bool),
    socket: UdpSocket,
    record: &mut CallRecord,
) -> bool {
    let settings = &shared.settings;
    if settings.ringing {
        let _ = dialog.ringing(None, None);
    }
    // Ring for a moment; a CANCEL (or BYE) meanwhile ends the call unanswered.
    let ring = tokio::time::sleep(settings.answer_delay);
    tokio::pin!(ring);
    loop {
        tokio::select! {
            _ = &mut ring => break,
            st = states.recv() => match st {
                Some(DialogState::Terminated(_, reason)) => {
                    info!(?reason, "ended before the answer");
                    record.ended = Utc::now();
                    record.ending = Ending::Cancelled;
                    return false;
                }
                None => {
                    record.ended = Utc::now();
                    record.ending = Ending::Cancelled;
                    return false;
                }
                Some(other) => reply_unexpected(other).await,
            },
        }
    }

    let local: SocketAddr = match socket.local_addr() {
        Ok(a) => SocketAddr::new(settings.rtp_ip, a.port()),
        Err(_) => return false,
    };
    let session_id: u64 = rand::random::<u32>().into();
    let mut version = 1;
    let answer = if late_offer {
        sdp::offer(super::server::CODECS, local, session_id, version)
    } else {
        sdp::describe(&media, local, session_id, version)
    };
    if let Err(e) = dialog.accept(
        Some(vec![Header::ContentType("application/sdp".into()), Header::Allow(super::server::ALLOW.into())]),
        Some(answer.into_bytes()),
    ) {
        warn!(error = %e, "cannot answer");
        return false;
    }
    record.answered = Some(Utc::now());
    info!(number = %record.number, caller = %record.caller, codec = media.law.name(), "answered");

    let (sig_tx, sig_rx) = mpsc::channel(32);
    let (req_tx, mut req_rx) = mpsc::channel(4);
    let setup = CallSetup {
        call_id: record.call_id.clone(),
        socket,
        clock: shared.clock.clone(),
        receiver: shared.receiver.clone(),
        store: shared.store.clone(),
        updates: shared.updates.clone(),
        media: media.clone(),
        prompts: Arc::clone(&shared.live.current().prompts),
        media_timeout: settings.media_timeout,
        max_hold: settings.max_hold,
        record: record.clone(),
        await_media: late_offer,
        acd: shared.acd.get().cloned(),
    };
    let mut call = tokio::spawn(call::run(session, setup, sig_rx, req_tx).in_current_span());
    let mut bye_sent = false;
    let mut awaiting_answer = late_offer;
    let mut requests_closed = false;
    let mut current = media;
    loop {
        tokio::select! {
            biased;
            req = req_rx.recv(), if !requests_closed => match req {
                Some(Request::Hangup) if !bye_sent => {
                    bye_sent = true;
                    send_bye(dialog.clone());
                }
                Some(Request::Hangup) => {}
                None => requests_closed = true,
            },
            done = &mut call => {
                match done {
                    Ok(r) => *record = r,
                    Err(e) => {
                        warn!(error = %e, "call task failed");
                        record.ended = Utc::now();
                    }
                }
                while let Ok(Request::Hangup) = req_rx.try_recv() {
                    if !bye_sent {
                        bye_sent = true;
                        send_bye(dialog.clone());
                    }
                }
                return true;
            },
            st = states.recv() => match st {
                Some(DialogState::Info(_, req, handle)) => {
                    let body = String::from_utf8_lossy(&req.body).into_owned();
                    match dtmf::parse_info(&content_type(&req), &body) {
                        Some(k) => {
                            let _ = handle.reply(StatusCode::OK).await;
                            let _ = sig_tx.send(Signal::Dtmf(k)).await;
                        }
                        None => {
                            let _ = handle
                                .respond(StatusCode::UnsupportedMediaType, Some(vec![Header::Accept("application/dtmf-relay, application/dtmf".into())]), None)
                                .await;
                        }
                    }
                }
                Some(DialogState::Updated(_, req, handle)) if req.body.iter().all(u8::is_ascii_whitespace) => {
                    // A re-INVITE without an offer: offer the session as it is.
                    version += 1;
                    let offer = sdp::describe(&current, local, session_id, version);
                    let _ = handle.respond(StatusCode::OK, Some(vec![Header::ContentType("application/sdp".into())]), Some(offer.into_bytes())).await;
                }
                Some(DialogState::Updated(_, req, handle)) => {
                    match sdp::negotiate(&String::from_utf8_lossy(&req.body), super::server::CODECS) {
                        Ok(m) if m.law == current.law => {
                            version += 1;
                            let answer = sdp::describe(&m, local, session_id, version);
                            let _ = handle.respond(StatusCode::OK, Some(vec![Header::ContentType("application/sdp".into())]), Some(answer.into_bytes())).await;
                            current = m.clone();
                            let _ = sig_tx.send(Signal::Media(m)).await;
                        }
                        Ok(_) | Err(_) => {
                            // A codec change mid-call is refused; the call goes on as it was.
                            let _ = handle.reply(StatusCode::NotAcceptableHere).await;
                        }
                    }
                }
                Some(DialogState::Confirmed(..)) if awaiting_answer => {
                    awaiting_answer = false;
                    let ack = dialog.last_remote_ack().map(|a| String::from_utf8_lossy(&a.body).into_owned()).unwrap_or_default();
                    match sdp::negotiate(&ack, super::server::CODECS) {
                        Ok(m) => {
                            current = m.clone();
                            let _ = sig_tx.send(Signal::Media(m)).await;
                        }
                        Err(e) => {
                            // RFC 3261 section 13.3.1.4: an unacceptable answer in the ACK ends the call.
                            warn!("answer in the ACK refused ({e}): BYE");
                            if !bye_sent {
                                bye_sent = true;
                                send_bye(dialog.clone());
                            }
                            let _ = sig_tx.send(Signal::Hangup).await;
                        }
                    }
                }
                Some(DialogState::Options(_, _, handle)) => {
                    let _ = handle.respond(StatusCode::OK, Some(vec![Header::Allow(super::server::ALLOW.into())]), None).await;
                }
                Some(DialogState::Terminated(_, reason)) => {
                    debug!(?reason, "dialog terminated");
                    if !matches!(reason, TerminatedReason::UasBye) {
                        let _ = sig_tx.send(Signal::Hangup).await;
                    }
                }
                Some(other) => reply_unexpected(other).await,
                None => {
                    let _ = sig_tx.send(Signal::Hangup).await;
                }
            },
        }
    }
}

fn send_bye(dialog: InviteDialog) {
    // rsipstack: bye() waits for the answer (up to 32 s for a vanished peer): never inline.
    tokio::spawn(async move {
        if let Err(e) = dialog.bye().await {
            debug!(error = %e, "BYE failed");
        }
    });
}

/// Requests we do not take mid-call (REFER, MESSAGE, ...): 501; states: nothing to do.
async fn reply_unexpected(state: DialogState) {
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
            let _ = h.reply(StatusCode::OK).await;
        }
        _ => {}
    }
}
