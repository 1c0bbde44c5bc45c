//! The switchboard's only outgoing calls: callbacks, through the carrier's trunk (`[trunk]`).
//! Nothing else reaches this module: an attempt comes from the distribution's callback request
//! only, and its number is checked again against the numbering plan here, so that no request,
//! API call or configuration slip can turn the switchboard into free calls abroad. At most
//! `max_calls` at a time; the carrier's digest challenge (401/407) is answered with the trunk's
//! credentials; answered, the call runs as a [`CallBackCall`] in the same host as incoming calls.

use super::sdp_session::SdpSession;
use super::server::Shared;
use crate::acd::CallBack;
use crate::acd::host::AcdHandle;
use crate::calls::callback_call::CallBackCall;
use crate::calls::host::{self, Parts, Signal, Signalling};
use crate::calls::{CallRecord, Ending, OperatorLeg};
use crate::media::sdp;
use crate::vocabulary::CallOrigin;
use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::dialog::DialogState;
use rsipstack::dialog::invitation::InviteOption;
use rsipstack::dialog::invite_dialog::InviteDialog;
use rsipstack::sip::{Header, StatusCodeKind, Transport, Uri};
use rsipstack::transport::SipAddr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, warn};

/// After CANCEL, how long to wait for the carrier's final response (64 x T1).
const CANCEL_WAIT: Duration = Duration::from_secs(32);

/// Counts an outgoing call against `max_calls` for as long as it lives.
struct Outgoing(Arc<Shared>);

impl Drop for Outgoing {
    fn drop(&mut self) {
        self.0.outgoing.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Call the citizen of `attempt`; `Err(reason)` when the attempt failed before the citizen
/// answered (the distribution then frees the operator). Answered, the call runs to its end.
pub async fn call_back(
    shared: &Arc<Shared>,
    attempt: CallBack,
    acd: AcdHandle<OperatorLeg>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let span = tracing::info_span!("callback", call = %attempt.call, attempt = attempt.attempt);
    dial(shared, attempt, acd, cancel).instrument(span).await
}

async fn dial(
    shared: &Arc<Shared>,
    attempt: CallBack,
    acd: AcdHandle<OperatorLeg>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let live = shared.live.current();
    let config = &live.switchboard.config;
    let trunk = config.trunk.as_ref().ok_or("no trunk configured")?;
    // Checked when asked; checked again here, the only way out.
    let number = config.callback.plan().check(attempt.number.e164()).map_err(|why| {
        warn!(number = %attempt.number, refusal = why.name(), "a callback to a number the plan refuses: not called");
        format!("refused by the numbering plan ({})", why.name())
    })?;
    let max = *trunk.max_calls.get_ref() as usize;
    if shared.outgoing.fetch_add(1, Ordering::Relaxed) >= max {
        shared.outgoing.fetch_sub(1, Ordering::Relaxed);
        return Err(format!("the trunk's {max} calls are all in use"));
    }
    let outgoing = Outgoing(Arc::clone(shared));
    let target: SocketAddr = trunk_address(trunk.address.get_ref())?;
    let socket = shared.ports.bind().map_err(|e| format!("no RTP port: {e}"))?;
    let rtp_port = socket.local_addr().map_err(|e| e.to_string())?.port();
    let local = SocketAddr::new(shared.settings.rtp_ip, rtp_port);
    let session_id: u64 = rand::random::<u32>().into();
    let ours = super::server::our_address(shared, rsipstack::sip::Transport::Udp);
    let caller_id = trunk.caller_id.get_ref().clone();
    let uri = |s: String| -> Result<Uri, String> { s.as_str().try_into().map_err(|e| format!("{s}: {e}")) };
    let credential = trunk.username.clone().map(|username| Credential {
        username,
        password: trunk.password().unwrap_or_default(),
        realm: None,
        auth_username: None,
    });
    let terms = super::server::caller_terms(shared);
    let opt = InviteOption {
        caller: uri(format!("sip:{caller_id}@{ours}"))?,
        callee: uri(format!("sip:{}@{target}", number.e164()))?,
        destination: Some(SipAddr::new(Transport::Udp, target.into())),
        content_type: Some("application/sdp".into()),
        offer: Some(sdp::offer(&terms, local, session_id, 1).into_bytes()),
        contact: uri(format!("sip:centralino@{ours}"))?,
        credential,
        headers: Some(vec![
            Header::Allow(super::server::ALLOW.into()),
            Header::Other("P-Asserted-Identity".into(), format!("<sip:{caller_id}@{ours}>")),
        ]),
        ..Default::default()
    };
    let (state_tx, mut states) = shared.dialogs.new_dialog_state_channel();
    let (dialog, mut invite) = shared.dialogs.do_invite_async(opt, state_tx).map_err(|e| format!("INVITE: {e}"))?;
    info!(number = %number, trunk = %target, "calling the citizen back");
    let ring = Duration::from_secs((*trunk.ring_seconds.get_ref()).into());
    let outcome = tokio::select! {
        r = &mut invite => Some(r),
        _ = cancel.cancelled() => None,
        _ = tokio::time::sleep(ring) => None,
    };
    let outcome = match outcome {
        Some(r) => r,
        None => {
            debug!("no answer in time: CANCEL");
            let _ = dialog.cancel().await;
            match tokio::time::timeout(CANCEL_WAIT, &mut invite).await {
                Ok(Ok(Ok((_, Some(resp))))) if resp.status_code.kind() == StatusCodeKind::Successful => {
                    // Answered as the CANCEL left: too late, the attempt is over.
                    let id = dialog.id();
                    super::operator_leg::spawn_bye(shared, dialog, id);
                }
                Ok(_) => shared.dialogs.remove_dialog(&dialog.id()),
                Err(_) => {
                    invite.abort();
                    shared.dialogs.remove_dialog(&dialog.id());
                }
            }
            return Err("no answer".into());
        }
    };
    let response = match outcome {
        Ok(Ok((_, Some(resp)))) => resp,
        Ok(Ok((_, None))) => return Err("no response from the trunk".into()),
        Ok(Err(e)) => return Err(format!("the trunk refused the INVITE: {e}")),
        Err(e) => return Err(format!("INVITE task: {e}")),
    };
    if response.status_code.kind() != StatusCodeKind::Successful {
        shared.dialogs.remove_dialog(&dialog.id());
        let reason = match response.status_code.code() {
            486 | 600 => "busy".to_string(),
            408 | 480 => "no answer".to_string(),
            603 => "declined".to_string(),
            code => format!("{code} {}", response.status_code),
        };
        info!(%reason, "the callback was not answered");
        return Err(reason);
    }
    let media = match sdp::negotiate(&String::from_utf8_lossy(&response.body), &terms) {
        Ok(m) => m,
        Err(e) => {
            warn!("unusable SDP answer from the trunk: {e}");
            let id = dialog.id();
            super::operator_leg::spawn_bye(shared, dialog, id);
            return Err("unusable SDP answer".into());
        }
    };
    info!(codec = media.law.name(), "the citizen answered");
    let now = host::now();
    let facts = &attempt.facts;
    let record = CallRecord {
        call_id: dialog.id().call_id.clone(),
        origin: CallOrigin {
            caller: caller_id,
            number: number.e164().to_string(),
            province: facts.origin.province.clone(),
            region: facts.origin.region.clone(),
        },
        tree: Some(facts.tree.clone()),
        arrived: now.wall,
        answered: Some(now.wall),
        ended: now.wall,
        language: None,
        path: Vec::new(),
        keys: String::new(),
        answers: Vec::new(),
        ending: Ending::CallbackUnconfirmed { section: attempt.section.clone() },
        callback_of: Some(attempt.call.clone()),
        media: None,
    };
    let call = CallBackCall::new(attempt, record, shared.settings.media_timeout, now);
    let signalling = TrunkSignalling {
        dialog: dialog.clone(),
        states: std::mem::replace(&mut states, mpsc::unbounded_channel().1),
        sdp: SdpSession::new(local, session_id, media.clone(), terms),
        bye_sent: false,
    };
    let parts = Parts {
        clock: shared.clock.clone(),
        receiver: shared.receiver.clone(),
        prompts: Arc::clone(&live.prompts),
        store: shared.store.clone(),
        updates: shared.updates.clone(),
        acd: Some(acd),
    };
    let shared = Arc::clone(shared);
    tokio::spawn(
        async move {
            let _outgoing = outgoing;
            let record = host::run(call, socket, media, parts, signalling).await;
            shared.dialogs.remove_dialog(&dialog.id());
            shared.log.append(record);
        }
        .in_current_span(),
    );
    Ok(())
}

/// `sip:host:port` (or `host:port`) to a socket address; the port defaults to 5060.
fn trunk_address(address: &str) -> Result<SocketAddr, String> {
    let hostport = address.strip_prefix("sip:").unwrap_or(address);
    let with_port = if hostport.contains(':') { hostport.to_string() } else { format!("{hostport}:5060") };
    use std::net::ToSocketAddrs;
    with_port
        .to_socket_addrs()
        .map_err(|e| format!("trunk address {address}: {e}"))?
        .next()
        .ok_or_else(|| format!("trunk address {address} resolves to nothing"))
}

/// The citizen's dialog, answered: keys by SIP INFO, re-INVITEs, BYE both ways.
struct TrunkSignalling {
    dialog: InviteDialog,
    states: mpsc::UnboundedReceiver<DialogState>,
    sdp: SdpSession,
    bye_sent: bool,
}

impl Signalling for TrunkSignalling {
    type Event = DialogState;

    async fn next_event(&mut self) -> Option<DialogState> {
        self.states.recv().await
    }

    async fn interpret(&mut self, state: DialogState) -> Option<Signal> {
        match state {
            DialogState::Info(_, req, handle) => return super::call_leg::info_key(&req, handle).await,
            DialogState::Updated(_, req, handle) => {
                return self.sdp.reinvite(&req.body, handle).await.map(Signal::Media);
            }
            DialogState::Terminated(_, reason) => {
                debug!(?reason, "dialog terminated");
                return Some(Signal::Hangup);
            }
            other => super::call_leg::reply_unexpected(other).await,
        }
        None
    }

    /// The citizen answered already (their 200 is why this call exists).
    fn answer(&mut self) -> Result<(), String> {
        Ok(())
    }

    fn hang_up(&mut self) {
        super::call_leg::bye_once(&self.dialog, &mut self.bye_sent);
    }
}
