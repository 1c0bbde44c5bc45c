//! Live updates for the pages: `GET /api/events` is a server-sent-events stream of what changes
//! (a ticket opened or worked, an appointment booked, cancelled or moved), each as an event
//! named `ticket` or `appointment` whose data is the whole JSON object. An officer receives only
//! their region's tickets. A client that falls behind by more than [`BACKLOG`] events is told
//! with an event named `lagged` and should reload its lists.

use super::ApiState;
use super::auth::{Principal, Role};
use crate::cases::Ticket;
use crate::cases::appointment::Appointment;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::broadcast;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

/// Events kept for slow clients.
pub const BACKLOG: usize = 1024;

/// Something the pages show changed.
#[derive(Debug, Clone)]
pub enum Change {
    Ticket(Box<Ticket>),
    Appointment(Box<Appointment>),
}

/// The hub every handler publishes to.
pub struct Events {
    tx: broadcast::Sender<Change>,
}

impl Default for Events {
    fn default() -> Self {
        Self { tx: broadcast::channel(BACKLOG).0 }
    }
}

impl Events {
    /// Tell every listening page (nobody listening is fine).
    pub fn publish(&self, c: Change) {
        let _ = self.tx.send(c);
    }
}

/// What `p` may see of `c`, as an SSE event.
fn event_for(p: &Principal, c: &Change) -> Option<Event> {
    match c {
        Change::Ticket(t) => {
            if let Role::Officer { region } = &p.role
                && *region != t.fields.region
            {
                return None;
            }
            Event::default().event("ticket").json_data(t).ok()
        }
        Change::Appointment(a) => match p.role {
            Role::Officer { .. } => None,
            _ => Event::default().event("appointment").json_data(a).ok(),
        },
    }
}

/// `GET /api/events`: the stream (text/event-stream), kept alive every 15 s.
pub async fn stream(
    State(state): State<ApiState>,
    p: Principal,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let rx = BroadcastStream::new(state.events.tx.subscribe());
    let s = rx.filter_map(move |item| match item {
        Ok(c) => event_for(&p, &c).map(Ok),
        Err(BroadcastStreamRecvError::Lagged(n)) => Some(Ok(Event::default().event("lagged").data(n.to_string()))),
    });
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
