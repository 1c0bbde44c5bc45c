//! Sign-in sessions for the pages: `POST /api/session` with a user name and password sets an
//! HttpOnly cookie; the session ends after [`IDLE`] without requests, at [`MAX_AGE`] whatever
//! happens, or on `DELETE /api/session`. Kept in memory: a restart signs everyone out.

use super::ApiState;
use super::auth::{Principal, check_password};
use super::body::JsonBody;
use super::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A session ends after this long without a request.
pub const IDLE: Duration = Duration::from_secs(30 * 60);
/// ... and after this long in any case.
pub const MAX_AGE: Duration = Duration::from_secs(12 * 3600);
const COOKIE: &str = "centralino_session";

struct Entry {
    user: String,
    started: Instant,
    last: Instant,
}

/// The open sessions.
#[derive(Default)]
pub struct Sessions {
    open: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    fn start(&self, user: &str) -> String {
        let token: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        open.retain(|_, e| alive(e, now));
        open.insert(token.clone(), Entry { user: user.to_string(), started: now, last: now });
        token
    }

    /// The user of a live session (and the session is kept alive).
    pub fn user(&self, token: &str) -> Option<String> {
        let now = Instant::now();
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let e = open.get_mut(token)?;
        if !alive(e, now) {
            open.remove(token);
            return None;
        }
        e.last = now;
        Some(e.user.clone())
    }

    fn end(&self, token: &str) {
        self.open.lock().unwrap_or_else(|e| e.into_inner()).remove(token);
    }
}

fn alive(e: &Entry, now: Instant) -> bool {
    now.duration_since(e.last) < IDLE && now.duration_since(e.started) < MAX_AGE
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
pub async fn sign_in(State(state): State<ApiState>, JsonBody(body): JsonBody<SignIn>) -> Result<Response, ApiError> {
    let principal = check_password(&state.live.current().switchboard.config, &body.username, &body.password)
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "wrong user name or password"))?;
    let token = state.sessions.start(&principal.user);
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}", MAX_AGE.as_secs());
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
        state.sessions.end(&t);
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("centralino_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    r
}
