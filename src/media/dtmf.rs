//! DTMF from the caller: RFC 4733 telephone-events in RTP, and SIP INFO bodies
//! (`application/dtmf-relay`, `application/dtmf`). Each key press becomes exactly one key,
//! however many packets, end-packet repetitions or retransmissions carry it.

use crate::ivr::Key;

/// An RFC 4733 telephone-event payload (section 2.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    pub duration: u16,
}

impl TelephoneEvent {
    /// Parse the 4-byte payload; `None` when it is too short.
    pub fn parse(payload: &[u8]) -> Option<Self> {
        let [event, flags, d0, d1, ..] = *payload else { return None };
        Some(Self { event, end: flags & 0x80 != 0, volume: flags & 0x3f, duration: u16::from_be_bytes([d0, d1]) })
    }

    /// Encode the payload (for tests and for sending events).
    pub fn to_bytes(self) -> [u8; 4] {
        let d = self.duration.to_be_bytes();
        [self.event, (u8::from(self.end) << 7) | (self.volume & 0x3f), d[0], d[1]]
    }
}

/// The key of a DTMF event code (RFC 4733 section 3.2: 0-9, 10 `*`, 11 `#`, 12-15 A-D).
pub fn event_key(event: u8) -> Option<Key> {
    match event {
        0..=9 => Some(Key((b'0' + event) as char)),
        10 => Some(Key('*')),
        11 => Some(Key('#')),
        12..=15 => Some(Key((b'A' + event - 12) as char)),
        _ => None,
    }
}

/// The event code of a key.
pub fn key_event(k: Key) -> Option<u8> {
    match k.0 {
        c @ '0'..='9' => Some(c as u8 - b'0'),
        '*' => Some(10),
        '#' => Some(11),
        c @ 'A'..='D' => Some(c as u8 - b'A' + 12),
        _ => None,
    }
}

/// Turns the telephone-event packets of one RTP stream into key presses.
///
/// All packets of one event share its RTP timestamp (RFC 4733 section 2.5.1.2), so the key is
/// reported on the first packet seen with a new timestamp (at once, for barge-in) and every
/// later packet of that event, including the three end packets, is ignored.
#[derive(Debug, Default)]
pub struct DtmfReceiver {
    last_timestamp: Option<u32>,
}

impl DtmfReceiver {
    /// Feed a telephone-event packet; returns the key when it starts a new event.
    pub fn on_packet(&mut self, rtp_timestamp: u32, payload: &[u8]) -> Option<Key> {
        let ev = TelephoneEvent::parse(payload)?;
        let key = event_key(ev.event)?;
        if self.last_timestamp == Some(rtp_timestamp) {
            return None;
        }
        self.last_timestamp = Some(rtp_timestamp);
        Some(key)
    }
}

/// The key of a SIP INFO DTMF body, by its content type.
///
/// `application/dtmf-relay` carries `Signal=5` and `Duration=160` lines; `application/dtmf`
/// carries the key alone. Names are case-insensitive; `Signal=10`/`11` mean `*`/`#`.
pub fn parse_info(content_type: &str, body: &str) -> Option<Key> {
    let ct = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let signal = match ct.as_str() {
        "application/dtmf-relay" => body.lines().find_map(|l| {
            let (name, value) = l.split_once('=')?;
            name.trim().eq_ignore_ascii_case("signal").then(|| value.trim().to_string())
        })?,
        "application/dtmf" => body.trim().to_string(),
        _ => return None,
    };
    match signal.as_str() {
        "10" => Some(Key('*')),
        "11" => Some(Key('#')),
        s => Key::parse(&s.to_ascii_uppercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(event: u8, end: bool, duration: u16) -> [u8; 4] {
        TelephoneEvent { event, end, volume: 10, duration }.to_bytes()
    }

    #[test]
    fn one_key_per_event_whatever_the_packets() {
        let mut rx = DtmfReceiver::default();
        let mut keys = Vec::new();
        // "1": three updates and three end packets, all at timestamp 1000.
        for (d, end) in [(160, false), (320, false), (480, false), (640, true), (640, true), (640, true)] {
            keys.extend(rx.on_packet(1000, &pkt(1, end, d)));
        }
        // "#", only its end packets arrive (the start was lost).
        for _ in 0..3 {
            keys.extend(rx.on_packet(5000, &pkt(11, true, 800)));
        }
        // The same digit again, a new event: a new timestamp.
        keys.extend(rx.on_packet(9000, &pkt(1, false, 160)));
        assert_eq!(keys, vec![Key('1'), Key('#'), Key('1')]);
        assert_eq!(rx.on_packet(9100, &[1, 2]), None, "short payload ignored");
        assert_eq!(rx.on_packet(9200, &pkt(99, false, 1)), None, "unknown event ignored");
    }

    #[test]
    fn payload_round_trip_and_codes() {
        let e = TelephoneEvent { event: 11, end: true, volume: 63, duration: 1234 };
        assert_eq!(TelephoneEvent::parse(&e.to_bytes()), Some(e));
        for c in "0123456789*#ABCD".chars() {
            assert_eq!(event_key(key_event(Key(c)).unwrap()), Some(Key(c)));
        }
    }

    #[test]
    fn info_bodies() {
        assert_eq!(parse_info("application/dtmf-relay", "Signal=5\r\nDuration=160\r\n"), Some(Key('5')));
        assert_eq!(parse_info("Application/DTMF-Relay", "signal= *\nDuration=100"), Some(Key('*')));
        assert_eq!(parse_info("application/dtmf-relay", "Signal=11\r\n"), Some(Key('#')));
        assert_eq!(parse_info("application/dtmf", "7"), Some(Key('7')));
        assert_eq!(parse_info("application/dtmf", "x"), None);
        assert_eq!(parse_info("text/plain", "Signal=5"), None);
        assert_eq!(parse_info("application/dtmf-relay", "Duration=160"), None);
    }
}
