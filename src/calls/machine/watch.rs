//! A host's-eye view of one [`Call`] that checks, after every input, what every call must keep
//! whatever the order of its inputs: one answer, one BYE, one end; an operator leg handed to
//! the call is bridged or released at once; at the end no operator is left on the call, no
//! caller in the distribution, no timer running, and the record agrees with what happened. The
//! call machine's tests and its fuzz target drive calls through it.

use super::{Call, Input, Output};
use crate::acd::{Event as AcdEvent, Route};
use crate::calls::Ending;
use std::time::Instant;

/// What the host has been asked so far.
#[derive(Default, Debug)]
pub struct Watch {
    answers: usize,
    hangups: usize,
    ended: usize,
    joins: usize,
    leaves: usize,
    bridges: usize,
    pops: usize,
    bridges_ended: usize,
    /// An operator leg handed to the call and not yet bridged or released.
    leg_waiting: bool,
    bridged: bool,
    /// The distribution holds the call (queued, offered or connected).
    in_distribution: bool,
    /// A position announcement plays (its end is reported to the distribution).
    announcing: bool,
    announce_asked: bool,
    /// A callback request was told and not yet answered.
    requested: bool,
    /// Every output so far, for messages.
    log: Vec<Output>,
}

impl Watch {
    pub fn new() -> Watch {
        Watch::default()
    }

    /// Whether the distribution holds the call (it only sends notices for such calls).
    pub fn in_distribution(&self) -> bool {
        self.in_distribution
    }

    /// A callback request was told and not yet answered by the distribution.
    pub fn requested(&self) -> bool {
        self.requested
    }

    /// Note an input about to be fed to the call.
    pub fn before(&mut self, input: &Input) {
        match input {
            Input::OperatorAnswered { .. } => self.leg_waiting = true,
            // The distribution lets go of a call it routes out of the queue.
            Input::Route(Route::Node(_) | Route::Message(_)) => self.in_distribution = false,
            // The request takes the call's place: the distribution no longer holds the call.
            Input::CallbackAccepted { .. } if std::mem::take(&mut self.requested) => self.in_distribution = false,
            Input::CallbackRefused(_) => self.requested = false,
            _ => {}
        }
        self.announce_asked = matches!(input, Input::Announce { .. });
    }

    /// Check what the call asked after an input (or a timeout handled at `now`, for which
    /// `timeout` is true), and the call's state.
    pub fn after(&mut self, call: &Call, outputs: &[Output], now: Instant, timeout: bool) -> Result<(), String> {
        for o in outputs {
            self.output(o).map_err(|e| format!("{e} ({o:?}; outputs before: {:?})", self.log))?;
            self.log.push(o.clone());
        }
        if std::mem::take(&mut self.announce_asked) && matches!(outputs, [Output::Play { .. }]) {
            self.announcing = true;
        }
        if self.leg_waiting {
            return Err(format!("the operator leg was neither bridged nor released: {outputs:?}"));
        }
        if timeout && call.poll_timeout().is_some_and(|next| next <= now) {
            return Err("a handled timeout leaves one due at once".into());
        }
        self.state(call).map_err(|e| format!("{e}; outputs: {:?}", self.log))
    }

    fn output(&mut self, o: &Output) -> Result<(), String> {
        if self.ended > 0 && *o != Output::Release {
            return Err("only a late operator leg is released after the end".into());
        }
        match o {
            Output::Answer => self.answers += 1,
            Output::Hangup => self.hangups += 1,
            Output::Ended => self.ended += 1,
            Output::Join { .. } => {
                check(!self.in_distribution, "joined the distribution twice")?;
                self.joins += 1;
                self.in_distribution = true;
            }
            Output::Leave => self.leaves += 1,
            Output::CalledBack { .. } => return Err("an incoming call never takes a request's place".into()),
            Output::Tell(AcdEvent::CallerHangup { .. } | AcdEvent::OperatorHangup { .. }) => {
                check(self.in_distribution, "a hang-up told for a call the distribution does not hold")?;
                self.in_distribution = false;
            }
            Output::Tell(AcdEvent::AnnouncementDone { .. }) => {
                // Done at once when the call is busy with a callback request.
                let playing = std::mem::take(&mut self.announcing) || self.announce_asked;
                check(playing, "an announcement done that was not playing")?;
            }
            Output::Tell(AcdEvent::RequestCallback { .. }) => {
                check(self.in_distribution, "a callback asked for a call the distribution does not hold")?;
                self.requested = true;
            }
            Output::Tell(_) => {}
            Output::Bridge => {
                check(std::mem::take(&mut self.leg_waiting), "bridged without a leg")?;
                check(!self.bridged, "bridged twice")?;
                self.bridged = true;
                // A connected call's request is refused by the distribution.
                self.requested = false;
                self.bridges += 1;
            }
            Output::Release => check(std::mem::take(&mut self.leg_waiting), "released without a leg")?,
            Output::Unbridge => check(std::mem::take(&mut self.bridged), "unbridged without a bridge")?,
            Output::ScreenPop(_) => self.pops += 1,
            Output::BridgeEnded { .. } => self.bridges_ended += 1,
            Output::Play { .. } | Output::Loop { .. } | Output::HoldMusic | Output::StopPlayback => {
                self.announcing = false;
            }
            Output::Lookup { .. } => {}
        }
        Ok(())
    }

    fn state(&self, call: &Call) -> Result<(), String> {
        check(self.answers <= 1, "answered twice")?;
        check(self.hangups <= 1, "BYE asked twice")?;
        check(self.ended <= 1, "ended twice")?;
        check(self.pops == self.bridges, "one screen-pop per bridge")?;
        check(call.is_ended() == (self.ended == 1), "the end is announced when the call ends")?;
        if !call.is_ended() {
            return check(self.answers == 1 || call.poll_timeout().is_some(), "a ringing call has its answer due");
        }
        let r = call.record();
        check(call.poll_timeout().is_none(), "no timer left for an ended call")?;
        check(!self.bridged, "no operator left on an ended call")?;
        check(!self.in_distribution, "no ended call left in the distribution")?;
        check(self.leaves == usize::from(self.joins > 0), "the distribution forgets a call it knew, once")?;
        check(self.bridges_ended == self.bridges, "every bridge's screen-pop is closed")?;
        check(r.answered.is_some() == (self.answers == 1), "the record's answer time")?;
        check(r.ended >= r.arrived, "the record ends after it starts")?;
        match &r.ending {
            Ending::Cancelled => check(self.answers == 0, "a cancelled call was not answered"),
            Ending::Answered { .. } => check(self.bridges > 0, "an answered call was bridged"),
            Ending::Abandoned { .. } | Ending::QueueMessage { .. } | Ending::CallbackRequested { .. } => {
                check(self.joins > 0, "the call was queued")
            }
            _ => Ok(()),
        }
    }
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.to_string()) }
}
