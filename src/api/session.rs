//! Sign-in sessions for the pages: `POST /api/session` with a user name and password sets an
//! HttpOnly cookie; the session ends after [`IDLE`] without requests, at [`MAX_AGE`] whatever
//! happens, or on `DELETE /api/session`. Sessions are kept in the store by the SHA-256 of their
//! token (the token itself is kept nowhere on the server), so a restart signs nobody out; the
//! last request is written at most every [`SAVE_EVERY`], so after a restart a session may live
//! that much longer than [`IDLE`].
//!
//! With a store shared by several nodes, each request's session is also looked up in the store:
//! a session started on one node works on every node, and a sign-out on any node ends it on all.

use super::ApiState;
use super::auth::{Principal, Source, check_password};
use super::body::JsonBody;
use super::error::ApiError;
use crate::cases::CaseStore;
use crate::cases::store::StoredSession;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// ... and after this long in any case.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
/// How often a session's last request is written to the store.
pub const SAVE_EVERY: Duration = Duration::from_secs(5 * 60);
const COOKIE: &str = "centralino_session";

struct Entry {
    user: String,
    started: DateTime<Utc>,
    last: DateTime<Utc>,
    /// The last request as the store has it.
    saved: DateTime<Utc>,
}

impl Entry {
    fn stored(&self) -> StoredSession {
        StoredSession { user: self.user.clone(), started: self.started, last_seen: self.last }
    }
}

/// A session to write to the store: its key and what to keep.
pub type ToSave = (String, StoredSession);

/// The open sessions, by the hash of their token.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Entry>>,
    /// The store is shared with other nodes: it, not this map, says which sessions exist.
    shared: bool,
}

/// The key a session is kept under: the SHA-256 of its token, in hex.
fn key(token: &str) -> String {
    crate::config::credentials::hex(&Sha256::digest(token.as_bytes()))
}

impl Sessions {
    /// The sessions of a node whose store is shared with others (`shared`), or of a lone node.
    pub fn new(shared: bool) -> Self {
        Self { open: Mutex::default(), shared }
    }

    /// Know the session `key` as the store has it (another node may have started it, or seen
    /// it later), or forget it when the store does not have it (signed out on another node).
    fn sync(&self, key: &str, stored: Option<StoredSession>) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        match stored {
            None => {
                open.remove(key);
            }
            Some(s) => {
                let e = open.entry(key.to_string()).or_insert_with(|| Entry {
                    user: s.user.clone(),
                    started: s.started,
                    last: s.last_seen,
                    saved: s.last_seen,
                });
                e.last = e.last.max(s.last_seen);
                e.saved = e.saved.max(s.last_seen);
            }
        }
    }

    /// A new session for `user`: its token, what to keep in the store, and the keys of the
    /// sessions that have ended meanwhile, to forget there.
    fn start(&self, user: &str) -> (String, ToSave, Vec<String>) {
        let token: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
        let now = Utc::now();
        let entry = Entry { user: user.to_string(), started: now, last: now, saved: now };
        let save = (key(&token), entry.stored());
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let ended: Vec<String> = open.iter().filter(|(_, e)| !alive(e, now)).map(|(k, _)| k.clone()).collect();
        for k in &ended {
            open.remove(k);
        }
        open.insert(save.0.clone(), entry);
        (token, save, ended)
    }

    /// The user of a live session (and the session is kept alive), with the session to write
    /// to the store when its last request is due to be saved.
    pub fn user(&self, token: &str) -> Option<(String, Option<ToSave>)> {
        let now = Utc::now();
        let key = key(token);
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let e = open.get_mut(&key)?;
        if !alive(e, now) {
            open.remove(&key);
            return None;
        }
        e.last = now;
        let due = (now - e.saved).to_std().is_ok_and(|d| d >= SAVE_EVERY);
        if due {
            e.saved = now;
        }
        Some((e.user.clone(), due.then(|| (key, e.stored()))))
    }

    /// End the session of `token`; its key, to forget in the store.
    fn end(&self, token: &str) -> String {
        let key = key(token);
        self.open.lock().unwrap_or_else(|e| e.into_inner()).remove(&key);
        key
    }

    /// Take back the sessions kept in the store (at start-up); returns the keys of those that
    /// have ended meanwhile, to forget.
    pub fn restore(&self, kept: Vec<ToSave>) -> Vec<String> {
        let now = Utc::now();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let mut ended = Vec::new();
        for (key, s) in kept {
            let e = Entry { user: s.user, started: s.started, last: s.last_seen, saved: s.last_seen };
            if alive(&e, now) {
                open.insert(key, e);
            } else {
                ended.push(key);
            }
        }
        ended
    }
}

fn alive(e: &Entry, now: DateTime<Utc>) -> bool {
    let within = |since: DateTime<Utc>, limit: Duration| (now - since).to_std().map_or(true, |d| d < limit);
    within(e.last, IDLE) && within(e.started, MAX_AGE)
}

/// The user of the live session of `token` (see [`Sessions::user`]); with a shared store, as
/// the store has it now. A store that cannot answer is a 503.
pub async fn user(state: &ApiState, token: &str) -> Result<Option<(String, Option<ToSave>)>, ApiError> {
    if state.sessions.shared {
        let k = key(token);
        let stored = state.store.session(&k).await?;
        state.sessions.sync(&k, stored);
    }
    Ok(state.sessions.user(token))
}

/// Write a session to the store in a task of its own; await the handle to know it is durable
/// (a failure only costs the session's survival across a restart).
pub fn save(state: &ApiState, (key, session): ToSave) -> tokio::task::JoinHandle<()> {
    let store = state.store.clone();
    tokio::spawn(async move {
        if let Err(e) = store.save_session(&key, session).await {
            tracing::warn!(error = %e, "a session is not kept across restarts");
        }
    })
}

/// Forget sessions in the store, in a task of their own.
pub fn forget(store: Arc<dyn CaseStore>, keys: Vec<String>) {
    tokio::spawn(async move {
        for k in keys {
            if let Err(e) = store.drop_session(&k).await {
                tracing::warn!(error = %e, "an ended session is still in the store");
            }
        }
    });
}

/// The session token of a request's cookie.
pub fn cookie(headers: &HeaderMap) -> Option<String> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(';')).find_map(|c| {
        let (name, value) = c.trim().split_once('=')?;
        (name == COOKIE).then(|| value.to_string())
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    username: String,
    password: String,
}

/// `POST /api/session` `{"username", "password"}`: who you are, and the session cookie.
pub async fn sign_in(
    State(state): State<ApiState>,
    Source(source): Source,
    JsonBody(body): JsonBody<SignIn>,
) -> Result<Response, ApiError> {
    let principal = check_password(&state, source, &body.username, &body.password)?;
    let (token, keep, ended) = state.sessions.start(&principal.user);
    // Durable before the cookie is handed out: a restart right after still knows it.
    let _ = save(&state, keep).await;
    forget(state.store.clone(), ended);
    let secure = if state.tls.is_some() { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}", MAX_AGE.as_secs());
    let mut r = Json(principal).into_response();
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ASCII"));
    Ok(r)
}

/// `GET /api/session`: who you are (401 when the session has ended).
pub async fn whoami(p: Principal) -> Json<Principal> {
    Json(p)
}

/// `DELETE /api/session`: sign out.
pub async fn sign_out(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let Some(t) = cookie(&headers) {
        let key = state.sessions.end(&t);
        if state.store.drop_session(&key).await.is_err() {
            tracing::warn!("a signed-out session could not be removed from the store");
        }
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    let secure = if state.tls.is_some() { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}");
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_str(&cookie).expect("ASCII"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(user: &str, started_ago: Duration, seen_ago: Duration) -> StoredSession {
        let now = Utc::now();
        StoredSession {
            user: user.into(),
            started: now - chrono::Duration::from_std(started_ago).unwrap(),
            last_seen: now - chrono::Duration::from_std(seen_ago).unwrap(),
        }
    }

    #[test]
    fn sessions_are_known_by_the_hash_of_their_token_and_saved_every_few_minutes() {
        let sessions = Sessions::default();
        let (token, (key, stored), ended) = sessions.start("lverdi");
        assert!(ended.is_empty());
        assert_eq!(token.len(), 64);
        assert_eq!(key, super::key(&token));
        assert_ne!(key, token, "the token itself is not what is kept");
        assert_eq!(stored.user, "lverdi");
        let (user, due) = sessions.user(&token).unwrap();
        assert_eq!((user.as_str(), due), ("lverdi", None), "just saved: nothing to write");
        assert!(sessions.user("forged").is_none());
        // Last saved longer ago than SAVE_EVERY: the request refreshes the stored session.
        sessions.open.lock().unwrap().get_mut(&key).unwrap().saved -= chrono::Duration::minutes(6);
        let (_, due) = sessions.user(&token).unwrap();
        let (due_key, due_session) = due.expect("due to be saved");
        assert_eq!(due_key, key);
        assert!(Utc::now() - due_session.last_seen < chrono::Duration::seconds(5));
        assert_eq!(sessions.user(&token).unwrap().1, None, "saved again only after SAVE_EVERY");
        assert_eq!(sessions.end(&token), key);
        assert!(sessions.user(&token).is_none(), "signed out");
        // A session idle too long is dropped at the next sign-in, to be forgotten in the store.
        let (idle, (idle_key, _), _) = sessions.start("pgallo");
        sessions.open.lock().unwrap().get_mut(&idle_key).unwrap().last -= chrono::Duration::minutes(31);
        let (_, _, ended) = sessions.start("mrossi");
        assert_eq!(ended, [idle_key]);
        assert!(sessions.user(&idle).is_none());
    }

    #[test]
    fn restored_sessions_keep_their_limits() {
        let sessions = Sessions::default();
        let minutes = |m: u64| Duration::from_secs(m * 60);
        let ended = sessions.restore(vec![
            ("fresh".into(), kept("mrossi", minutes(60), minutes(2))),
            ("idle".into(), kept("lverdi", minutes(90), minutes(31))),
            ("old".into(), kept("pgallo", minutes(12 * 60 + 1), minutes(1))),
        ]);
        assert_eq!(ended, ["idle", "old"], "ended meanwhile: to forget");
        let open = sessions.open.lock().unwrap();
        assert_eq!(open.keys().collect::<Vec<_>>(), ["fresh"]);
    }
}
