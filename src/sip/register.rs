//! The signalling side of the registrar: a REGISTER transaction in, the pure [`Registrar`]'s
//! reply out, and the sweep that expires bindings.

use super::registrar::{Hashes, Register, parse_contact};
use super::server::Shared;
use rsipstack::sip::prelude::HeadersExt;
use rsipstack::sip::{Header, StatusCode, ToTypedHeader};
use rsipstack::transaction::Transaction;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tracing::{debug, info, warn};

/// Where a request came from: the connection's peer (TCP), else the top Via's `received` and
/// `rport` that the transport layer wrote (UDP).
pub(super) fn source_of(tx: &Transaction) -> Option<SocketAddr> {
    if let Some(a) = tx.connection.as_ref().and_then(|c| c.get_remote_addr()).and_then(|a| a.get_socketaddr().ok()) {
        return Some(a);
    }
    let via = tx.original.via_header().ok()?.typed().ok()?;
    let ip = via.received()?.ok()?;
    let port = via.rport().flatten().or(via.sent_by().port.map(|p| p.into())).unwrap_or(5060);
    Some(SocketAddr::new(ip, port))
}

/// Who sent the request: its `source`, unless that is one of the `trusted` proxies (Kamailio in
/// front of a cluster); then the client the proxy took it from, as the Via below the proxy's
/// says: the `received` address the proxy added, else the Via's sent-by. Wrong passwords count
/// against the client, so that one guesser does not lock the proxy's address for everyone.
pub(super) fn client_of(tx: &Transaction, source: SocketAddr, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&source.ip()) {
        return source.ip();
    }
    let mut vias = tx.original.headers.iter().filter_map(|h| match h {
        Header::Via(v) => v.typed().ok(),
        _ => None,
    });
    let client = vias.nth(1).and_then(|via| match via.received() {
        Some(Ok(ip)) => Some(ip),
        _ => match via.sent_by().host {
            rsipstack::sip::Host::IpAddr(ip) => Some(ip),
            rsipstack::sip::Host::Domain(_) => None,
        },
    });
    client.unwrap_or(source.ip())
}

/// The value of the request's Authorization header.
pub(super) fn authorization(tx: &Transaction) -> Option<String> {
    tx.original.headers.iter().find_map(|h| match h {
        Header::Authorization(a) => Some(a.value().to_string()),
        _ => None,
    })
}

/// A registrar reply's headers as SIP headers.
pub(super) fn reply_headers(headers: Vec<(&'static str, String)>) -> Vec<Header> {
    headers
        .into_iter()
        .map(|(name, v)| match name {
            "WWW-Authenticate" => Header::WwwAuthenticate(v.into()),
            "Contact" => Header::Contact(v.into()),
            "Min-Expires" => Header::MinExpires(v.into()),
            "Retry-After" => Header::RetryAfter(v.into()),
            "Warning" => Header::Warning(v.into()),
            other => Header::Other(other.to_string(), v),
        })
        .collect()
}

/// Answer one REGISTER.
pub async fn on_register(shared: Arc<Shared>, mut tx: Transaction) {
    let req = &tx.original;
    // The To of a REGISTER is the address of record: a SIP or SIPS URI (RFC 3261 10.2.2).
    let to_scheme = req.to_header().ok().and_then(|t| t.uri().ok()).map(|u| u.scheme);
    if !matches!(to_scheme, Some(None | Some(rsipstack::sip::uri::Scheme::Sip | rsipstack::sip::uri::Scheme::Sips))) {
        debug!("REGISTER whose To is not a SIP URI: 400");
        let warning = Header::Warning("399 centralino \"the To of a REGISTER must be a SIP URI\"".into());
        let _ = tx.reply_with(StatusCode::BadRequest, vec![warning], None).await;
        return;
    }
    let transport = super::server::transport_name(tx.connection.as_ref().map(|c| c.transport()));
    if transport != "tls" && super::server::operators_require_tls(&shared) {
        debug!(transport, "REGISTER not over TLS, which operators' phones must use: 403");
        let warning = Header::Warning("399 centralino \"operators' phones register over TLS here (sips:)\"".into());
        let _ = tx.reply_with(StatusCode::Forbidden, vec![warning], None).await;
        return;
    }
    let value = |pick: fn(&Header) -> Option<String>| req.headers.iter().find_map(pick);
    let to_user =
        req.to_header().ok().and_then(|t| t.uri().ok()).and_then(|u| u.auth.map(|a| a.user)).unwrap_or_default();
    let authorization = authorization(&tx);
    let contact = value(|h| match h {
        Header::Contact(c) => Some(c.value().to_string()),
        _ => None,
    });
    let expires = value(|h| match h {
        Header::Expires(e) => Some(e.value().trim().to_string()),
        _ => None,
    })
    .and_then(|e| e.parse().ok());
    let source = source_of(&tx).unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
    let client = client_of(&tx, source, &shared.settings.trusted_proxies);
    let register = Register {
        to_user: &to_user,
        authorization: authorization.as_deref(),
        contact: contact.as_deref().and_then(parse_contact),
        expires,
        source,
        client,
        transport,
    };
    let loaded = shared.live.current();
    let config = &loaded.switchboard.config;
    let hashes = |user: &str| Hashes::of(config, user);
    let reply = shared.check_credentials(|registrar, guard, now| registrar.register(&register, hashes, guard, now));
    // Wrong passwords and lock-outs are logged by the guard, once a minute per account; what
    // anyone can forge (nonces) only at debug level, so a flood cannot fill the log.
    match reply.status {
        200 | 401 | 403 => {
            debug!(%source, %client, user = %to_user, status = reply.status, reason = reply.reason, "REGISTER answered")
        }
        _ => warn!(%source, user = %to_user, status = reply.status, reason = reply.reason, "REGISTER refused"),
    }
    if let Some((user, up)) = &reply.change {
        let b = shared.registrar.lock().unwrap_or_else(|e| e.into_inner()).binding(user).cloned();
        match (up, b) {
            (true, Some(b)) => info!(operator = %user, contact = %b.contact, %source, "operator phone registered"),
            _ => info!(operator = %user, "operator phone unregistered"),
        }
        reachable(&shared, user, *up);
    }
    let mut status = reply.status;
    let mut headers = reply_headers(reply.headers);
    if status == 200
        && let Some(book) = &shared.phone_book
    {
        // The other nodes must find the phone before it is told it is registered; if the
        // phone book cannot keep it, the phone tries again (through another node, behind a
        // proxy that skips a node answering 503).
        let binding = shared.registrar.lock().unwrap_or_else(|e| e.into_inner()).binding(&to_user).cloned();
        let kept = match &binding {
            Some(b) => book.put(&to_user, b).await,
            None => book.remove(&to_user).await,
        };
        if let Err(e) = kept {
            warn!(operator = %to_user, "the registration cannot be shared with the other nodes: {e}");
            status = 503;
            headers = vec![Header::RetryAfter("5".into())];
        }
    }
    let _ = tx.reply_with(StatusCode::from(status), headers, None).await;
}

/// Expire bindings every few seconds: the operators whose phones went away are unreachable.
pub fn spawn_sweeper(shared: Arc<Shared>, cancel: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tick.tick() => {
                    let gone = shared.registrar.lock().unwrap_or_else(|e| e.into_inner()).expire(SystemTime::now());
                    for user in gone {
                        info!(operator = %user, "operator phone registration expired");
                        if let Some(book) = &shared.phone_book
                            && let Err(e) = book.remove(&user).await
                        {
                            warn!(operator = %user, "the expired registration stays in the phone book until its own expiry: {e}");
                        }
                        reachable(&shared, &user, false);
                    }
                }
            }
        }
    });
}

/// Tell the distribution whether an operator's phone can be called.
fn reachable(shared: &Shared, operator: &str, reachable: bool) {
    if let Some(acd) = shared.acd.get() {
        let phone = crate::acd::PhoneKind::Sip;
        acd.event(crate::acd::Event::Reachable { operator: operator.to_string(), reachable, phone });
    }
}
