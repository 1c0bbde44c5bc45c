//! What the nodes of a cluster say to each other over the distribution's link: one JSON object
//! per line over TCP, each way. A node ("member") sends its calls' arrivals and events up to the
//! node that runs the distribution ("leader"); the leader sends down what each call must do and
//! which operator's phone to ring. Instants do not cross processes: times travel as
//! milliseconds since the Unix epoch (wall clocks of a center's nodes are kept by NTP).

use crate::acd::host::{Offer, OperatorView};
use crate::acd::{AcdError, CallbackRefusal, Event, Route, SectionStats};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The longest line either side accepts (a member's hello with thousands of calls fits).
pub const MAX_LINE: usize = 4 << 20;

/// A call a member holds, as it tells a new leader.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldCall {
    pub call: String,
    pub section: String,
    pub caller: String,
    /// First arrival in any queue, ms since the epoch: the order of service.
    pub arrived: u64,
    #[serde(flatten)]
    pub state: Held,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Held {
    /// Waiting in `section` since `entered` (ms since the epoch).
    Waiting { entered: u64 },
    /// Talking with `operator` since `since`.
    Connected { operator: String, since: u64 },
}

/// Member to leader.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "up", rename_all = "snake_case")]
pub enum Up {
    /// First on a link: who we are, the lease's secret (proof that we read the shared store),
    /// the epoch we expect, and every call we hold in a queue or a conversation.
    Hello {
        node: String,
        secret: String,
        epoch: i64,
        calls: Vec<HeldCall>,
    },
    Join {
        call: String,
        section: String,
        caller: String,
        arrived: u64,
    },
    Left {
        call: String,
    },
    Event {
        event: Event,
    },
    Command {
        id: u64,
        event: Event,
    },
    /// The operator's phone answered the offer of `call` (the leg stays here).
    Answered {
        call: String,
        operator: String,
    },
    Stats {
        id: u64,
    },
    Ping,
}

/// What a queued call must do (the leg of a `Connect` stays on the member).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Told {
    Announce {
        ahead: usize,
        wait_ms: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        callback: Option<char>,
    },
    AskCallbackNumber,
    CallbackAccepted {
        ahead: usize,
        wait_ms: Option<u64>,
    },
    CallbackRefused {
        reason: CallbackRefusal,
    },
    StopAnnouncement,
    Queued {
        section: String,
    },
    Route {
        route: Route,
    },
    Connect,
}

/// Where an operator's phone is, as the holder last read the phone book: the member rings it
/// from this when it cannot read the phone book itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phone {
    pub contact: String,
    pub source: String,
    pub transport: String,
    /// ms since the epoch.
    pub expires: u64,
}

/// Leader to member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "down", rename_all = "snake_case")]
pub enum Down {
    /// The answer to a good hello.
    Welcome {
        node: String,
        epoch: i64,
    },
    /// The answer of a node that does not run the distribution to a hello for an epoch it knew:
    /// who runs it now (a member that cannot read the database learns it from its peers).
    Moved {
        node: String,
        address: String,
        secret: String,
        epoch: i64,
    },
    Notice {
        call: String,
        notice: Told,
    },
    /// Ring this operator's phone with this call (held by the member), on the leader's epoch.
    Ring {
        offer: Offer,
        epoch: i64,
        phone: Option<Phone>,
    },
    CancelRing {
        call: String,
    },
    /// The answered leg of `call` came too late: hang it up.
    Release {
        call: String,
    },
    Reply {
        id: u64,
        result: Result<(), AcdError>,
    },
    Stats {
        id: u64,
        sections: Vec<SectionStats>,
        operators: Vec<OperatorView>,
    },
    Pong,
}

/// `at` as milliseconds since the Unix epoch.
pub fn wall_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The local instant of a wall time in ms (now, if it is in the future).
pub fn instant_of(ms: u64) -> Instant {
    let ago = SystemTime::now().duration_since(UNIX_EPOCH + Duration::from_millis(ms)).unwrap_or_default();
    Instant::now().checked_sub(ago).unwrap_or_else(Instant::now)
}

/// The wall time in ms of a local instant.
pub fn ms_of(at: Instant) -> u64 {
    wall_ms(SystemTime::now() - Instant::now().saturating_duration_since(at))
}

/// Write one message as a line.
pub async fn send<T: Serialize>(w: &mut (impl AsyncWrite + Unpin), msg: &T) -> std::io::Result<()> {
    let mut line = serde_json::to_vec(msg).map_err(std::io::Error::other)?;
    line.push(b'\n');
    w.write_all(&line).await
}

/// A task writing what is sent on the returned channel, one message a line, until `stop` or a
/// write fails (which cancels `stop`: the link is over).
pub fn writer<T: Serialize + Send + Sync + 'static>(
    mut w: impl AsyncWrite + Unpin + Send + 'static,
    stop: tokio_util::sync::CancellationToken,
) -> tokio::sync::mpsc::UnboundedSender<T> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<T>();
    tokio::spawn(async move {
        loop {
            let msg = tokio::select! {
                m = rx.recv() => m,
                _ = stop.cancelled() => None,
            };
            let Some(msg) = msg else { return };
            if send(&mut w, &msg).await.is_err() {
                stop.cancel();
                return;
            }
        }
    });
    tx
}

/// Read one message; `None` at the end of the stream. A line longer than [`MAX_LINE`] or not
/// a message is an error (the link is closed).
pub async fn receive<T: for<'de> Deserialize<'de>>(
    r: &mut (impl AsyncBufRead + Unpin),
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<T>> {
    buf.clear();
    let mut limited = r.take(MAX_LINE as u64 + 1);
    let n = limited.read_until(b'\n', buf).await?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() != Some(&b'\n') {
        return Err(std::io::Error::other("a line too long, or cut"));
    }
    serde_json::from_slice(buf).map(Some).map_err(std::io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_back_as_written() {
        let up = Up::Event { event: Event::Pause { operator: "mrossi".into(), reason: "break".into() } };
        let text = serde_json::to_string(&up).unwrap();
        assert_eq!(serde_json::from_str::<Up>(&text).unwrap(), up, "{text}");
        let down = Down::Notice { call: "c1".into(), notice: Told::Route { route: Route::Node("menu".into()) } };
        let text = serde_json::to_string(&down).unwrap();
        assert_eq!(serde_json::from_str::<Down>(&text).unwrap(), down, "{text}");
        let refused = Down::Reply { id: 3, result: Err(AcdError::LoggedOut("mrossi".into())) };
        let text = serde_json::to_string(&refused).unwrap();
        assert_eq!(serde_json::from_str::<Down>(&text).unwrap(), refused, "{text}");
    }

    #[test]
    fn an_instant_survives_the_trip_through_wall_time_within_a_millisecond() {
        let then = Instant::now() - Duration::from_secs(42);
        let back = instant_of(ms_of(then));
        let diff = if back > then { back - then } else { then - back };
        assert!(diff <= Duration::from_millis(2), "{diff:?}");
    }

    #[tokio::test]
    async fn lines_beyond_the_limit_close_the_link() {
        let long = vec![b'x'; MAX_LINE + 10];
        let mut r = tokio::io::BufReader::new(&long[..]);
        let got: std::io::Result<Option<Up>> = receive(&mut r, &mut Vec::new()).await;
        assert!(got.is_err());
        let mut r = tokio::io::BufReader::new(&b"{\"up\":\"ping\"}\n"[..]);
        assert_eq!(receive::<Up>(&mut r, &mut Vec::new()).await.unwrap(), Some(Up::Ping));
        assert_eq!(receive::<Up>(&mut r, &mut Vec::new()).await.unwrap(), None);
    }
}
