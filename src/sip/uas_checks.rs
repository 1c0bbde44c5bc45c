//! What a UAS refuses before acting on a request (RFC 3261 8.2.2 and 8.2.3), in the RFC's order:
//! a Request-URI scheme it does not serve (416), option tags in `Require` it does not support
//! (420, with `Unsupported`), a body of a type it does not read (415, with `Accept`), and an
//! `Accept` that leaves no room for the SDP it answers with (406). Pure: a parsed request in,
//! the refusal out; the server sends it.

use rsipstack::sip::uri::Scheme;
use rsipstack::sip::{Header, Method, Request};

/// The answer to a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub headers: Vec<Header>,
    pub why: String,
}

/// Option tags of `Require` that the engine supports: none (no reliable provisional responses,
/// no session timers).
const SUPPORTED: &[&str] = &[];

/// 416: the Request-URI is neither sip, sips nor tel (RFC 3261 8.2.2.1).
pub fn uri_scheme(req: &Request) -> Option<Refusal> {
    match &req.uri.scheme {
        Some(Scheme::Sip | Scheme::Sips) => None,
        // The stack reads a scheme it does not know, such as soap.beep://host, as a host.
        None => Some(Refusal { status: 416, headers: vec![], why: format!("Request-URI {}", req.uri) }),
        Some(Scheme::Other(s)) if s.eq_ignore_ascii_case("tel") => None,
        Some(Scheme::Other(s)) => {
            Some(Refusal { status: 416, headers: vec![], why: format!("Request-URI scheme {s}") })
        }
    }
}

/// 420 with `Unsupported`: option tags of `Require` we do not support (RFC 3261 8.2.2.3;
/// not for ACK and CANCEL, whose `Require` is the INVITE's).
pub fn required(req: &Request) -> Option<Refusal> {
    if matches!(req.method, Method::Ack | Method::Cancel) {
        return None;
    }
    let unsupported: Vec<String> = items(req, |h| match h {
        Header::Require(r) => Some(r.value()),
        _ => None,
    })
    .into_iter()
    .filter(|t| !SUPPORTED.iter().any(|s| s.eq_ignore_ascii_case(t)))
    .collect();
    (!unsupported.is_empty()).then(|| {
        let tags = unsupported.join(", ");
        Refusal { status: 420, headers: vec![Header::Unsupported(tags.clone().into())], why: format!("Require {tags}") }
    })
}

/// 415 and 406 for a request answered with SDP (INVITE): a body that is not
/// `application/sdp` (RFC 3261 8.2.3), an `Accept` that admits no SDP (RFC 3261 21.4.7).
pub fn sdp_exchange(req: &Request) -> Option<Refusal> {
    let accept_sdp = || vec![Header::Accept("application/sdp".into())];
    let content_type = req.headers.iter().find_map(|h| match h {
        Header::ContentType(c) => Some(c.value().to_string()),
        _ => None,
    });
    if !req.body.is_empty() {
        let media = content_type.as_deref().unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        if media != "application/sdp" {
            let why =
                if media.is_empty() { "a body without Content-Type".into() } else { format!("body of type {media}") };
            return Some(Refusal { status: 415, headers: accept_sdp(), why });
        }
    }
    // An empty Accept, or none at all, means application/sdp (RFC 3261 20.1).
    let ranges: Vec<String> = items(req, |h| match h {
        Header::Accept(a) => Some(a.value()),
        _ => None,
    })
    .into_iter()
    .filter_map(|r| r.split(';').next().map(|m| m.trim().to_ascii_lowercase()))
    .filter(|r| !r.is_empty())
    .collect();
    if ranges.is_empty() || ranges.iter().any(|r| matches!(r.as_str(), "application/sdp" | "application/*" | "*/*")) {
        return None;
    }
    let warning = Header::Warning("399 centralino \"the answer is application/sdp\"".into());
    Some(Refusal {
        status: 406,
        headers: [accept_sdp(), vec![warning]].concat(),
        why: format!("Accept {}", ranges.join(", ")),
    })
}

/// The items of a list header (every header `pick` takes, split at commas), trimmed, empty
/// ones left out.
fn items(req: &Request, pick: fn(&Header) -> Option<&str>) -> Vec<String> {
    let values = req.headers.iter().filter_map(pick).flat_map(|v| v.split(','));
    values.map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsipstack::sip::SipMessage;

    fn req(start: &str, extra: &str, body: &str) -> Request {
        let text = format!(
            "{start} SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\nCall-ID: x\r\nCSeq: 1 {}\r\n{extra}Content-Length: {}\r\n\r\n{body}",
            start.split(' ').next().unwrap(),
            body.len()
        );
        match SipMessage::try_from(text.as_str()).expect("parses") {
            SipMessage::Request(r) => r,
            _ => unreachable!(),
        }
    }

    #[test]
    fn refusals_in_the_rfc_order() {
        assert_eq!(uri_scheme(&req("OPTIONS sip:a@b", "", "")), None);
        assert_eq!(uri_scheme(&req("INVITE tel:+390612345678", "", "")), None);
        assert_eq!(uri_scheme(&req("OPTIONS nobodyKnowsThisScheme:totallyopaquecontent", "", "")).unwrap().status, 416);
        assert_eq!(uri_scheme(&req("OPTIONS soap.beep://192.0.2.103:3002", "", "")).unwrap().status, 416);
        let r = required(&req(
            "OPTIONS sip:a@b",
            "Require: nothingSupportsThis, nothingSupportsThisEither\r\nProxy-Require: x\r\n",
            "",
        ))
        .unwrap();
        assert_eq!(r.status, 420);
        assert_eq!(r.headers, vec![Header::Unsupported("nothingSupportsThis, nothingSupportsThisEither".into())]);
        assert_eq!(required(&req("OPTIONS sip:a@b", "Proxy-Require: x\r\n", "")), None, "Proxy-Require is for proxies");
        assert_eq!(required(&req("ACK sip:a@b", "Require: x\r\n", "")), None);
        let sdp = "v=0\r\n";
        assert_eq!(sdp_exchange(&req("INVITE sip:a@b", "Content-Type: application/SDP\r\n", sdp)), None);
        assert_eq!(sdp_exchange(&req("INVITE sip:a@b", "", "")), None, "no offer: late offer");
        let r =
            sdp_exchange(&req("INVITE sip:a@b", "Content-Type: application/unknownformat\r\n", "<audio>\r\n")).unwrap();
        assert_eq!((r.status, r.headers.clone()), (415, vec![Header::Accept("application/sdp".into())]));
        assert_eq!(sdp_exchange(&req("INVITE sip:a@b", "", sdp)).unwrap().status, 415, "a body needs a type");
        let r = sdp_exchange(&req(
            "INVITE sip:a@b",
            "Accept: text/nobodyKnowsThis\r\nContent-Type: application/sdp\r\n",
            sdp,
        ));
        assert_eq!(r.unwrap().status, 406);
        for accept in ["application/sdp;level=1, text/html", "*/*", "application/*", ""] {
            let extra = format!("Accept: {accept}\r\nContent-Type: application/sdp\r\n");
            assert_eq!(sdp_exchange(&req("INVITE sip:a@b", &extra, sdp)), None, "{accept}");
        }
    }
}
