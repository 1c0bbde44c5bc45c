//! Live updates for the pages: `GET /api/events` is a server-sent-events stream of what changes
//! (see [`crate::updates`]): events `ticket` and `appointment` with the whole JSON object, `call`
//! (the screen-pop, to the operator who has the call) and `call_ended`. An officer receives only
//! their region's tickets. Every event has an id: a page that reconnects with `Last-Event-ID`
//! (as browsers do by themselves) first receives what it missed, from any node of a center
//! sharing a store. A client that falls behind by more than [`crate::updates::BACKLOG`] events,
//! or reconnects after more than can be given again, is told with an event `lagged` and should
//! reload.

use super::ApiState;
use super::auth::{Principal, Role};
use crate::cases::store::Cursor;
use crate::updates::{Change, TooOld};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use std::convert::Infallible;
use std::time::Duration;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

/// What `p` may see of `c`, as an SSE event.
fn event_for(p: &Principal, c: &Change) -> Option<Event> {
    match c {
        Change::Ticket(t) => match &p.role {
            Role::Officer { region } if *region != t.fields.region => None,
            Role::AgencyStaff { .. } => None,
            _ => Event::default().event("ticket").json_data(t).ok(),
        },
        Change::Appointment(a) => match &p.role {
            Role::Officer { .. } => None,
            Role::AgencyStaff { agency } if *agency != a.fields.agency => None,
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
    headers: HeaderMap,
) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    // Listening first, then reading what was missed: nothing falls between the two.
    let rx = BroadcastStream::new(state.events.subscribe());
    let last: Option<Cursor> = headers.get("last-event-id").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    let (missed, mut seen) = match last {
        None => (Ok(vec![]), None),
        Some(last) => match state.events.since(last).await {
            Ok(changes) => {
                let seen = changes.last().map_or(last, |(c, _)| *c);
                (Ok(changes), Some(seen))
            }
            Err(TooOld) => (Err(TooOld), Some(last)),
        },
    };
    let missed: Vec<Event> = match missed {
        Ok(changes) => {
            changes.iter().filter_map(|(cursor, c)| event_for(&p, c).map(|e| e.id(cursor.to_string()))).collect()
        }
        Err(TooOld) => vec![Event::default().event("lagged").data("reconnected too late: reload")],
    };
    let live = rx.filter_map(move |item| match item {
        // Given already from the backlog or the feed.
        Ok((cursor, _)) if seen.is_some_and(|s| cursor <= s) => None,
        Ok((cursor, c)) => {
            seen = None;
            event_for(&p, &c).map(|e| Ok(e.id(cursor.to_string())))
        }
        Err(BroadcastStreamRecvError::Lagged(n)) => Some(Ok(Event::default().event("lagged").data(n.to_string()))),
    });
    let s = tokio_stream::iter(missed.into_iter().map(Ok)).chain(live);
    Sse::new(s).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
