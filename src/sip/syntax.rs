//! The syntax of a request's head that the stack's parser lets through but RFC 3261 forbids
//! (the invalid messages of RFC 4475 section 3.1.2): header fields that must appear once, the
//! Request-URI, the name-addr / addr-spec of From, To and Contact, and the parameters of Via.
//! Pure: header fields in (already unfolded), the fault out; the guard answers it with 400.
//!
//! Written here because rsipstack's parser (rsip) is lenient where the RFC is strict (a second
//! Call-ID, an unterminated quoted display name, `<` around the Request-URI, empty parameters)
//! and silently drops what it cannot read; a UAS must answer 400 instead (RFC 3261 8.2.2 and
//! 21.4.1).

/// Header fields that appear at most once (RFC 3261 7.3.1 and 20: not comma-separated lists),
/// by long and compact name.
const SINGLE: &[(&str, &str)] = &[
    ("Call-ID", "i"),
    ("From", "f"),
    ("To", "t"),
    ("CSeq", ""),
    ("Max-Forwards", ""),
    ("Content-Length", "l"),
    ("Content-Type", "c"),
    ("Expires", ""),
];

/// Check a request's Request-URI and header fields (`name`, `value` with folding undone).
pub fn check_request(uri: &str, headers: &[(&str, &str)]) -> Result<(), String> {
    request_uri(uri)?;
    let is = |n: &str, long: &str, compact: &str| {
        n.eq_ignore_ascii_case(long) || (!compact.is_empty() && n.eq_ignore_ascii_case(compact))
    };
    for (long, compact) in SINGLE {
        if headers.iter().filter(|(n, _)| is(n, long, compact)).count() > 1 {
            return Err(format!("more than one {long} header"));
        }
    }
    for (name, value) in headers {
        if is(name, "From", "f") || is(name, "To", "t") {
            address(value).map_err(|e| format!("{name}: {e}"))?;
        } else if is(name, "Contact", "m") && value.trim() != "*" {
            for contact in split_list(value) {
                address(contact).map_err(|e| format!("{name}: {e}"))?;
            }
        } else if is(name, "Via", "v") {
            for via in split_list(value) {
                via_value(via).map_err(|e| format!("{name}: {e}"))?;
            }
        }
    }
    Ok(())
}

/// `scheme ":" rest`, with nothing of a name-addr (`<`, `>`, quotes) and no whitespace.
fn request_uri(uri: &str) -> Result<(), String> {
    let Some((scheme, rest)) = uri.split_once(':') else { return Err("Request-URI without a scheme".into()) };
    if !is_scheme(scheme) || rest.is_empty() {
        return Err("malformed Request-URI".into());
    }
    if uri.bytes().any(|b| b"<>\" \t".contains(&b) || b.is_ascii_control()) {
        return Err("malformed Request-URI".into());
    }
    Ok(())
}

fn is_scheme(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
}

fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
}

/// Where a header value's reader stands: inside a quoted string (with its `\\` escapes) or
/// `<...>`, or outside both, where separators mean something.
#[derive(Default)]
pub(super) struct Nesting {
    quoted: bool,
    escaped: bool,
    angle: bool,
}

impl Nesting {
    /// Whether the next character stands outside quotes and angle brackets.
    pub(super) fn outside(&self) -> bool {
        !self.quoted && !self.angle
    }

    /// Read past `c`.
    pub(super) fn take(&mut self, c: char) {
        match c {
            _ if self.escaped => self.escaped = false,
            '\\' if self.quoted => self.escaped = true,
            '"' => self.quoted = !self.quoted,
            '<' if !self.quoted => self.angle = true,
            '>' if !self.quoted => self.angle = false,
            _ => {}
        }
    }
}

/// Split a header value at the commas that separate list elements (not inside quotes or `<>`).
fn split_list(value: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut nesting, mut start) = (Nesting::default(), 0);
    for (i, c) in value.char_indices() {
        if c == ',' && nesting.outside() {
            parts.push(&value[start..i]);
            start = i + 1;
        }
        nesting.take(c);
    }
    parts.push(&value[start..]);
    parts.into_iter()
}

/// `( name-addr / addr-spec ) *( SEMI param )` (RFC 3261 20.10, 20.20, 20.39).
fn address(value: &str) -> Result<(), String> {
    let v = value.trim();
    let params = if let Some(rest) = v.strip_prefix('"') {
        let end = quoted_end(rest).ok_or("unterminated quoted display name")?;
        let rest = rest[end..].trim_start();
        let rest = rest.strip_prefix('<').ok_or("display name without <URI>")?;
        angle_uri(rest)?
    } else if let Some(lt) = v.find('<') {
        let display = v[..lt].trim();
        if !display.split([' ', '\t']).filter(|w| !w.is_empty()).all(is_token) {
            return Err("display name neither tokens nor quoted".into());
        }
        angle_uri(&v[lt + 1..])?
    } else {
        // addr-spec: the URI runs to the first ';' (what follows are the header's parameters);
        // a URI with ',' '?' or whitespace must be in angle brackets (RFC 3261 20).
        let (uri, params) = v.split_at(v.find(';').unwrap_or(v.len()));
        let uri = uri.trim_end();
        if uri.is_empty() || uri.bytes().any(|b| b",?\" \t<>".contains(&b)) {
            return Err("a URI that needs <> is not enclosed".into());
        }
        params
    };
    parameters(params)
}

/// The byte offset just past the closing quote of a quoted string whose opening quote is gone.
fn quoted_end(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// `URI ">"` then the rest: the URI without whitespace, the rest returned.
fn angle_uri(s: &str) -> Result<&str, String> {
    let end = s.find('>').ok_or("< without >")?;
    let uri = &s[..end];
    if uri.is_empty() || uri.bytes().any(|b| b" \t<\"".contains(&b)) {
        return Err("whitespace or quotes inside <URI>".into());
    }
    Ok(&s[end + 1..])
}

/// `*( SEMI name [ EQUAL value ] )`: no empty names.
fn parameters(s: &str) -> Result<(), String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(());
    }
    let s = s.strip_prefix(';').ok_or("text after the address")?;
    for p in s.split(';') {
        let name = p.split('=').next().unwrap_or_default().trim();
        if !is_token(name) {
            return Err("empty or malformed parameter".into());
        }
    }
    Ok(())
}

/// `SIP / 2.0 / transport sent-by *( SEMI via-params )`, whitespace allowed around the
/// separators (RFC 3261 20.42, 25.1 LWS).
fn via_value(via: &str) -> Result<(), String> {
    let mut fields = via.splitn(3, '/');
    let (name, version, rest) = (fields.next(), fields.next(), fields.next());
    let (Some(name), Some(version), Some(rest)) = (name, version, rest) else {
        return Err("malformed sent-protocol".into());
    };
    if !is_token(name.trim()) || !is_token(version.trim()) {
        return Err("malformed sent-protocol".into());
    }
    let rest = rest.trim_start();
    let transport_end = rest.find([' ', '\t']).ok_or("no sent-by")?;
    if !is_token(&rest[..transport_end]) {
        return Err("malformed transport".into());
    }
    let rest = rest[transport_end..].trim_start();
    let (sent_by, params) = rest.split_at(rest.find(';').unwrap_or(rest.len()));
    if sent_by.trim().is_empty() || sent_by.trim().contains([' ', '\t']) {
        return Err("malformed sent-by".into());
    }
    parameters(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(uri: &str, headers: &[(&str, &str)]) -> Result<(), String> {
        check_request(uri, headers)
    }

    #[test]
    fn valid_forms_pass() {
        let ok: &[(&str, &str)] = &[
            ("To", "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n"),
            ("from", "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com> ; tag = 98asjd8"),
            ("Via", "SIP  /   2.0 /UDP 192.0.2.2;branch=390skdjuw"),
            (
                "v",
                "SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8  , SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239",
            ),
            (
                "Contact",
                "\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam = newvalue ; secondparam ; q = 0.33",
            ),
            ("Contact", "*"),
            ("m", "<sip:a@b>, sip:c@d;expires=3"),
            ("Contact", "caller<sip:caller@example.com>;expires=323"),
            ("CSeq", "0009 INVITE"),
        ];
        assert_eq!(check("sip:vivekg@chair-dnrc.example.com;unknownparam", ok), Ok(()));
        assert_eq!(
            check("nobodyKnowsThisScheme:totallyopaquecontent", &[]),
            Ok(()),
            "a scheme is syntax; 416 is semantics"
        );
    }

    #[test]
    fn the_rfc_4475_faults_are_found() {
        let bad: &[(&str, &[(&str, &str)])] = &[
            ("<sip:user@example.com>", &[]),
            ("sip:user@example.com", &[("Call-ID", "a"), ("i", "b")]),
            ("sip:user@example.com", &[("Content-Length", "13"), ("l", "5")]),
            ("sip:user@example.com", &[("To", "\"Mr. J. User <sip:j.user@example.com>")]),
            ("sip:user@example.com", &[("To", "\"Watson, Thomas\" < sip:t.watson@example.org >")]),
            ("sip:user@example.com", &[("From", "Bell, Alexander <sip:a.g.bell@example.com>;tag=43")]),
            ("sip:user@example.com", &[("Contact", "sip:user@example.com?Route=%3Csip:sip.example.com%3E")]),
            ("sip:user@example.com", &[("Via", "SIP/2.0/UDP 192.0.2.15;;,;,,")]),
            ("sip:user@example.com", &[("Contact", "\"Joe\" <sip:joe@example.org>;;;;")]),
        ];
        for (uri, headers) in bad {
            assert!(check(uri, headers).is_err(), "{uri} {headers:?}");
        }
    }
}
