//! A phone that speaks just enough SIP over UDP, from any loopback address: REGISTERs sent and
//! answered, and digest answers computed here independently of the engine's code.

use sha2::{Digest, Sha256};
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

pub struct Phone {
    pub socket: UdpSocket,
    pub engine: SocketAddr,
    cseq: u32,
    call_id: String,
}

/// A final answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub text: String,
}

impl Answer {
    /// Every value of header `name`.
    pub fn headers(&self, name: &str) -> Vec<String> {
        let prefix = format!("{}:", name.to_ascii_lowercase());
        self.text
            .lines()
            .filter(|l| l.to_ascii_lowercase().starts_with(&prefix))
            .map(|l| l[prefix.len()..].trim().to_string())
            .collect()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers(name).into_iter().next()
    }

    fn cseq(&self) -> u32 {
        self.header("CSeq").and_then(|c| c.split_whitespace().next()?.parse().ok()).unwrap_or(0)
    }
}

impl Phone {
    /// A phone at `from` (e.g. "127.0.0.2") for the engine at `engine`.
    pub fn new(engine: SocketAddr, from: &str) -> Phone {
        let socket = UdpSocket::bind((from, 0)).unwrap();
        socket.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let call_id = format!("reg-{}-{}", std::process::id(), socket.local_addr().unwrap().port());
        Phone { socket, engine, cseq: 0, call_id }
    }

    /// A second handle on the same socket, to read answers on another thread.
    pub fn listener(&self) -> Phone {
        let socket = self.socket.try_clone().unwrap();
        Phone { socket, engine: self.engine, cseq: 0, call_id: String::new() }
    }

    /// Send a REGISTER for `user` without waiting; its CSeq.
    pub fn send(&mut self, user: &str, authorization: Option<&str>, expires: u32) -> u32 {
        self.cseq += 1;
        let local = self.socket.local_addr().unwrap();
        let auth = authorization.map(|a| format!("Authorization: {a}\r\n")).unwrap_or_default();
        let msg = format!(
            "REGISTER sip:{engine} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bK{cseq}x{call};rport\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{user}@{engine}>;tag=t{cseq}\r\nTo: <sip:{user}@{engine}>\r\n\
             Call-ID: {call}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{local}>;expires={expires}\r\n\
             {auth}Content-Length: 0\r\n\r\n",
            engine = self.engine,
            cseq = self.cseq,
            call = self.call_id,
        );
        self.socket.send_to(msg.as_bytes(), self.engine).unwrap();
        self.cseq
    }

    /// The next final answer, if one comes within the read timeout.
    pub fn receive(&self) -> Option<Answer> {
        let mut buf = [0u8; 4096];
        loop {
            let n = self.socket.recv(&mut buf).ok()?;
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let status: u16 = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
            if status >= 200 {
                return Some(Answer { status, text });
            }
        }
    }

    /// A REGISTER and its final answer (earlier answers still arriving are skipped).
    pub fn register(&mut self, user: &str, authorization: Option<&str>, expires: u32) -> Answer {
        let cseq = self.send(user, authorization, expires);
        loop {
            let a = self.receive().expect("an answer to REGISTER");
            if a.cseq() == cseq {
                return a;
            }
        }
    }

    /// A fresh challenge (the first, SHA-256 with the shipped configuration).
    pub fn challenge(&mut self, user: &str) -> String {
        let first = self.register(user, None, 600);
        assert_eq!(first.status, 401, "{}", first.text);
        first.header("WWW-Authenticate").unwrap()
    }

    /// The SHA-256 answer to `challenge` for a REGISTER to this phone's engine.
    pub fn answer(&self, challenge: &str, user: &str, password: &str, nc: u32) -> String {
        sha256_authorization(challenge, user, password, &format!("sip:{}", self.engine), nc)
    }
}

/// A quoted parameter of a challenge.
pub fn param<'a>(challenge: &'a str, name: &str) -> &'a str {
    let start = challenge.find(&format!("{name}=\"")).map(|i| i + name.len() + 2).expect(name);
    &challenge[start..start + challenge[start..].find('"').unwrap()]
}

pub fn sha256_hex(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 answer to `challenge` (RFC 7616 section 3.4.1), computed here independently of
/// the engine's code.
pub fn sha256_authorization(challenge: &str, user: &str, password: &str, uri: &str, nc: u32) -> String {
    let (realm, nonce) = (param(challenge, "realm"), param(challenge, "nonce"));
    let ha1 = sha256_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = sha256_hex(&format!("REGISTER:{uri}"));
    let cnonce = "9b1c4e";
    let response = sha256_hex(&format!("{ha1}:{nonce}:{nc:08x}:{cnonce}:auth:{ha2}"));
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         response=\"{response}\", algorithm=SHA-256, qop=auth, cnonce=\"{cnonce}\", nc={nc:08x}"
    )
}
