//! JSON request bodies whose mistakes are answered in JSON like every other error: 400 for
//! malformed JSON, 422 for a well-formed body with wrong or missing fields or with control
//! characters in its text, 413 beyond [`MAX_BODY`], 415 without `Content-Type:
//! application/json`, 408 for a body slower than [`BODY_TIMEOUT`].

use super::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// Largest request body accepted (a ticket's question is a few hundred characters).
pub const MAX_BODY: usize = 64 * 1024;
/// A body must arrive within this (a client trickling one would hold its connection busy).
pub const BODY_TIMEOUT: Duration = Duration::from_secs(30);

/// A JSON body of type `T`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "send the body as JSON (Content-Type: application/json)",
            ));
        }
        let BodyBytes(bytes) = BodyBytes::from_request(req, state).await?;
        from_json(&bytes).map(JsonBody)
    }
}

/// The raw body, within [`MAX_BODY`] and [`BODY_TIMEOUT`].
pub struct BodyBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for BodyBytes {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        tokio::time::timeout(BODY_TIMEOUT, Bytes::from_request(req, state))
            .await
            .map_err(|_| ApiError::new(StatusCode::REQUEST_TIMEOUT, "the body took too long to arrive"))?
            .map(BodyBytes)
            .map_err(|e| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => {
                    ApiError::new(e.status(), format!("the body is larger than {} KiB", MAX_BODY / 1024))
                }
                status => ApiError::new(status, e.body_text()),
            })
    }
}

/// `application/json` or `application/<something>+json`, with any parameters.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence == "application/json" || essence.strip_prefix("application/").is_some_and(|s| s.ends_with("+json"))
}

/// Parse a JSON body: 400 if it is not JSON, 422 if its text holds a control character (see
/// [`forbidden_char`]) or it does not fit `T`.
pub fn from_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed JSON: {e}")))?;
    if let Some((field, c)) = find_forbidden(&value, "") {
        return Err(ApiError::unprocessable(format!(
            "{field}: contains the control character U+{:04X}: write the text without it",
            u32::from(c)
        )));
    }
    serde_json::from_value(value).map_err(|e| ApiError::unprocessable(format!("the JSON does not fit: {e}")))
}

/// Characters refused in stored text: control characters other than tab and line breaks (NUL,
/// escape, DEL, C1 controls), and the bidirectional embeddings, overrides and isolates that make
/// text display in another order than it is stored (a right-to-left override can disguise a
/// codice fiscale or a number on an officer's screen).
pub fn forbidden_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The first string (or key) in `value` with a forbidden character: its path and the character.
fn find_forbidden(value: &Value, path: &str) -> Option<(String, char)> {
    let here = |p: &str| if p.is_empty() { "the body".to_string() } else { p.to_string() };
    match value {
        Value::String(s) => s.chars().find(|c| forbidden_char(*c)).map(|c| (here(path), c)),
        Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| find_forbidden(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
            k.chars().find(|c| forbidden_char(*c)).map(|c| (here(&p), c)).or_else(|| find_forbidden(v, &p))
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Question {
        #[allow(dead_code)]
        text: String,
    }

    #[test]
    fn control_characters_are_refused_with_the_field_that_holds_them() {
        let ok: Result<Question, _> = from_json(b"{\"text\": \"Pensione di\\tvecchiaia:\\r\\nquando?\"}");
        assert!(ok.is_ok(), "tabs and line breaks are text");
        for (body, field, code) in [
            (r#"{"text": "a\u0000b"}"#, "text", "U+0000"),
            ("{\"text\": \"RSSMRA\u{202E}85T10A562S\"}", "text", "U+202E"),
            (r#"{"contact": {"email": "x\u001b[31m"}}"#, "contact.email", "U+001B"),
            (r#"{"list": ["ok", "\u0085"]}"#, "list[1]", "U+0085"),
        ] {
            let e = from_json::<Value>(body.as_bytes()).unwrap_err();
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
            assert!(e.message.starts_with(&format!("{field}: contains the control character {code}")), "{}", e.message);
        }
        assert_eq!(from_json::<Value>(b"{").unwrap_err().status, StatusCode::BAD_REQUEST);
        assert_eq!(from_json::<Question>(b"{\"text\": 1}").unwrap_err().status, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn json_media_types() {
        let with = |v: &str| HeaderMap::from_iter([(header::CONTENT_TYPE, v.parse().unwrap())]);
        assert!(is_json(&with("application/json")));
        assert!(is_json(&with("Application/JSON; charset=utf-8")));
        assert!(is_json(&with("application/merge-patch+json")));
        assert!(!is_json(&with("text/plain")));
        assert!(!is_json(&HeaderMap::new()));
    }
}
