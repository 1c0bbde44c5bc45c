//! Live updates for the pages: `GET /api/events` is a server-sent-events stream of what changes
//! (see [`crate::updates`]): events `ticket` and `appointment` with the whole JSON object, `call`
//! (the screen-pop, to the operator who has the call) and `call_ended`. An officer receives only
//! their region's tickets. A client that falls behind by more than
//! [`crate::updates::BACKLOG`] events is told with an event `lagged` and should reload.

use super::ApiState;
use super::auth::{Principal, Role};
use crate::updates::Change;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

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
        // The screen-pop goes to the operator who has the call (and administrators).
        Change::Call(pop) => match &p.role {
            Role::Operator if p.user == pop.operator => Event::default().event("call").json_data(pop).ok(),
            Role::Administrator => Event::default().event("call").json_data(pop).ok(),
            _ => None,
        },
        Change::CallEnded { operator, call_id } => match &p.role {
            Role::Operator if p.user == *operator => Some(Event::default().event("call_ended").data(call_id.clone())),
            Role::Administrator => Some(Event::default().event("call_ended").data(call_id.clone())),
            _ => None,
        },
    }
}

/// `GET /api/events`: the stream (text/event-stream), kept alive every 15 s.
pub async fn stream(
    State(state): State<ApiState>,
    p: Principal,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let rx = BroadcastStream::new(state.events.subscribe());
    let s = rx.filter_map(move |item| match item {
        Ok(c) => event_for(&p, &c).map(Ok),
        Err(BroadcastStreamRecvError::Lagged(n)) => Some(Ok(Event::default().event("lagged").data(n.to_string()))),
    });
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
