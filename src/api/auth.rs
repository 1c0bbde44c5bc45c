//! Who is asking: operators, back-office officers and administrators, by HTTP Basic or by a
//! session cookie (see [`super::session`]). A password is checked by computing
//! MD5(user:realm:password) and comparing it with the configured `ha1_md5`, only once the
//! [`PasswordGuard`](crate::password_guard::PasswordGuard) shared with SIP admits it (429
//! during a lock-out); the role comes from the configuration on every request, so a user
//! removed by a reload is out at once.

use super::ApiState;
use super::error::ApiError;
use crate::config::Config;
use crate::config::credentials::ha1_md5;
use crate::password_guard::Channel;
use crate::sip::digest::same;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use std::net::{IpAddr, SocketAddr};

/// An authenticated operator.
#[derive(Debug, Clone)]
pub struct OperatorId(pub String);

/// What a user may do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    Operator,
    /// A back-office officer of this region's centre.
    Officer {
        region: String,
    },
    Administrator,
    /// Staff of this local agency.
    AgencyStaff {
        agency: String,
    },
}

/// An authenticated user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Principal {
    pub user: String,
    pub display_name: String,
    #[serde(flatten)]
    pub role: Role,
}

/// The user's role and stored hash in the configuration.
pub fn lookup(config: &Config, user: &str) -> Option<(Principal, String)> {
    let p =
        |display_name: &str, role| Principal { user: user.to_string(), display_name: display_name.to_string(), role };
    if let Some(o) = config.operator(user) {
        return Some((p(&o.display_name, Role::Operator), o.ha1_md5.get_ref().clone()));
    }
    if let Some(o) = config.officers.iter().find(|o| o.username.get_ref() == user) {
        return Some((
            p(&o.display_name, Role::Officer { region: o.region.get_ref().clone() }),
            o.ha1_md5.get_ref().clone(),
        ));
    }
    if let Some(s) = config.agency_staff.iter().find(|s| s.username.get_ref() == user) {
        return Some((
            p(&s.display_name, Role::AgencyStaff { agency: s.agency.get_ref().clone() }),
            s.ha1_md5.get_ref().clone(),
        ));
    }
    config
        .administrators
        .iter()
        .find(|a| a.username.get_ref() == user)
        .map(|a| (p(&a.display_name, Role::Administrator), a.ha1_md5.get_ref().clone()))
}

/// Check a user name and password from `source` against the configuration, if the guard
/// admits it: the user, 401 for a wrong password or user name, 429 during a lock-out.
pub fn check_password(state: &ApiState, source: IpAddr, user: &str, password: &str) -> Result<Principal, ApiError> {
    let loaded = state.live.current();
    let config = &loaded.switchboard.config;
    let found = lookup(config, user);
    let account = found.as_ref().map(|_| user);
    state.guard.with(|guard, now| {
        guard.admit(account, source, now).map_err(|l| ApiError::locked(l.retry_after.as_secs()))?;
        match found {
            Some((principal, ha1)) if same(&ha1_md5(user, &config.sip.realm, password), &ha1) => {
                guard.succeeded(user, source, now);
                Ok(principal)
            }
            _ => {
                guard.failed(account, source, Channel::Http, now);
                Err(ApiError::new(StatusCode::UNAUTHORIZED, "wrong user name or password")
                    .it("nome utente o password errati"))
            }
        }
    })
}

/// The address a request came from (the connection's peer).
pub struct Source(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(a)| a.ip());
        Ok(Source(peer.unwrap_or(IpAddr::from([0, 0, 0, 0]))))
    }
}

/// `user:password` from an `Authorization: Basic ...` value.
fn basic(value: &str) -> Option<(String, String)> {
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = decode_base64(encoded.trim())?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// Standard base64 (RFC 4648), padding optional. Written here: a dozen lines instead of a
/// dependency for the one header that needs it.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    };
    let bytes: Vec<u8> = s.bytes().filter(|c| *c != b'=').collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let v: Vec<u8> = chunk.iter().map(|c| value(*c)).collect::<Option<_>>()?;
        let n = v.iter().enumerate().fold(0u32, |acc, (i, x)| acc | (u32::from(*x) << (18 - 6 * i)));
        let take = match v.len() {
            4 => 3,
            3 => 2,
            2 => 1,
            _ => return None,
        };
        out.extend(&n.to_be_bytes()[1..1 + take]);
    }
    Some(out)
}

impl FromRequestParts<ApiState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let token = super::session::cookie(&parts.headers);
        let signed_in = match &token {
            Some(t) => super::session::user(state, t).await?,
            None => None,
        };
        if let Some((user, due)) = signed_in {
            if let Some(keep) = due {
                // Not awaited: the request does not wait for the store.
                drop(super::session::save(state, keep));
            }
            // The configuration decides the role now (a reload may have removed the user).
            return lookup(&state.live.current().switchboard.config, &user)
                .map(|(p, _)| p)
                .ok_or_else(ApiError::unauthorized);
        }
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(ApiError::unauthorized)?;
        let (user, password) = basic(value).ok_or_else(ApiError::unauthorized)?;
        let Ok(Source(source)) = Source::from_request_parts(parts, state).await;
        check_password(state, source, &user, &password).map_err(|e| match e.status {
            StatusCode::UNAUTHORIZED => ApiError::unauthorized(),
            _ => e,
        })
    }
}

impl FromRequestParts<ApiState> for OperatorId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let p = Principal::from_request_parts(parts, state).await?;
        match p.role {
            Role::Operator => Ok(OperatorId(p.user)),
            _ => Err(ApiError::new(StatusCode::FORBIDDEN, "this is for contact-center operators")
                .it("riservato agli operatori del contact center")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_decoded() {
        // "mrossi:demo-mrossi"
        assert_eq!(basic("Basic bXJvc3NpOmRlbW8tbXJvc3Np"), Some(("mrossi".into(), "demo-mrossi".into())));
        // "a:b:c" keeps the colon in the password; "ab" without padding.
        assert_eq!(basic("Basic YTpiOmM="), Some(("a".into(), "b:c".into())));
        assert_eq!(decode_base64("YWI"), Some(b"ab".to_vec()));
        assert_eq!(basic("Bearer xyz"), None);
        assert_eq!(basic("Basic !!!"), None);
    }
}
