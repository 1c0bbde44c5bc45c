//! Feature codes dialled from an operator's phone: `*11` log in to all their sections, `*12`
//! log out, `*21` pause (reason "phone"), `*22` ready. The INVITE is challenged like a REGISTER
//! (digest, the operator's own credentials); the switchboard answers, says the result in a few
//! words and hangs up.

use super::registrar::Hashes;
use super::server::Shared;
use crate::acd::Event;
use crate::ivr::{Lang, Utterance};
use crate::media::sdp;
use rsipstack::dialog::dialog::DialogState;
use rsipstack::sip::{Header, StatusCode, Uri};
use rsipstack::transaction::Transaction;
use std::sync::Arc;
use std::time::Duration;
use tracing::{debug, info};

/// The codes and what they do.
pub fn command(code: &str, operator: &str) -> Option<Event> {
    let operator = operator.to_string();
    Some(match code {
        "*11" => Event::Login { operator, sections: None },
        "*12" => Event::Logout { operator },
        "*21" => Event::Pause { operator, reason: "phone".into() },
        "*22" => Event::Ready { operator },
        _ => return None,
    })
}

fn word(code: &str, ok: bool) -> &'static str {
    match (code, ok) {
        (_, false) => "op_refused",
        ("*11", _) => "op_logged_in",
        ("*12", _) => "op_logged_out",
        ("*21", _) => "op_paused",
        _ => "op_ready",
    }
}

/// Handle an INVITE to a feature code.
pub async fn on_feature_code(shared: Arc<Shared>, mut tx: Transaction, code: String, contact: Option<Uri>) {
    let authorization = super::register::authorization(&tx);
    let source = super::register::source_of(&tx).unwrap_or_else(|| ([0, 0, 0, 0], 0).into());
    let client = super::register::client_of(&tx, source, &shared.settings.trusted_proxies);
    let loaded = shared.live.current();
    let config = &loaded.switchboard.config;
    let hashes = |user: &str| Hashes::of(config, user);
    let auth = shared.check_credentials(|registrar, guard, now| {
        registrar.authenticate("INVITE", authorization.as_deref(), client, hashes, guard, now)
    });
    let operator = match auth {
        Ok(op) => op,
        Err(reply) => {
            debug!(%source, %code, status = reply.status, reason = reply.reason, "feature code refused");
            let headers = super::register::reply_headers(reply.headers);
            let _ = tx.reply_with(StatusCode::from(reply.status), headers, None).await;
            tokio::spawn(async move { while tx.receive().await.is_some() {} });
            return;
        }
    };
    let Some(event) = command(&code, &operator) else {
        let _ = tx.reply(StatusCode::NotFound).await;
        tokio::spawn(async move { while tx.receive().await.is_some() {} });
        return;
    };
    let result = match shared.acd.get() {
        Some(acd) => acd.command(event).await,
        None => Err(crate::acd::AcdError::UnknownOperator(operator.clone())),
    };
    info!(%operator, %code, ok = result.is_ok(), "feature code");
    let offer = String::from_utf8_lossy(&tx.original.body).into_owned();
    let terms = super::server::operator_terms(&shared);
    let (Ok(media), Ok(socket)) = (sdp::negotiate(&offer, &terms), shared.ports.bind()) else {
        let _ = tx.reply(StatusCode::NotAcceptableHere).await;
        tokio::spawn(async move { while tx.receive().await.is_some() {} });
        return;
    };
    let Ok(local) = socket.local_addr().map(|a| std::net::SocketAddr::new(shared.settings.rtp_ip, a.port())) else {
        return;
    };
    let (state_tx, mut states) = shared.dialogs.new_dialog_state_channel();
    let Ok(dialog) = shared.dialogs.get_or_create_server_invite(&tx, state_tx, None, contact) else {
        let _ = tx.reply(StatusCode::BadRequest).await;
        return;
    };
    let mut handler = dialog.clone();
    tokio::spawn(async move {
        let _ = handler.handle(&mut tx).await;
    });
    let answer = sdp::describe(&media, local, rand::random::<u32>().into(), 1);
    if dialog.accept(Some(vec![Header::ContentType("application/sdp".into())]), Some(answer.into_bytes())).is_err() {
        return;
    }
    // Wait for the ACK (bounded), say the result, hang up.
    let confirmed = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(st) = states.recv().await {
            match st {
                DialogState::Confirmed(..) => return true,
                DialogState::Terminated(..) => return false,
                _ => {}
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    if confirmed {
        let socket = Arc::new(socket);
        let mut voice = shared.clock.attach(Arc::clone(&socket), &media);
        let prompts = Arc::clone(&loaded.prompts);
        let lang = loaded
            .switchboard
            .trees
            .values()
            .next()
            .and_then(|t| t.def.languages.value.first().copied())
            .unwrap_or(Lang::It);
        let (clips, _) = prompts.clips_for(lang, &[Utterance::Word(word(&code, result.is_ok()).into())], media.law);
        voice.play(clips, media.law, false);
        let _ = tokio::time::timeout(Duration::from_secs(6), voice.finished()).await;
    }
    let id = dialog.id();
    let s = Arc::clone(&shared);
    tokio::spawn(async move {
        let _ = dialog.bye().await;
        s.dialogs.remove_dialog(&id);
    });
}
