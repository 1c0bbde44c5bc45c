//! One console's phone as a pure machine: what the distribution offers, what the page says,
//! whether the connection is up, in; what to tell the page and the distribution, out. No
//! socket, clock or WebRTC inside (the host carries the connection; see `host.rs`).
//!
//! Whatever the order of inputs, every offer ends exactly once (answered, or failed with a
//! reason the distribution pauses the operator with), an answered call ends exactly once, and
//! a phone that lost its connection is unreachable until it is back.

use super::page::{FromPage, ToPage};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// How long the page has to say it rings after an offer; a console that is asleep or cut off
/// fails the offer at once rather than at the end of the ring timeout.
pub const RING_ACK_WITHIN: Duration = Duration::from_secs(2);

/// An offer of a call to the operator, as the page shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ring {
    pub call: String,
    /// The caller's number (empty when withheld).
    pub caller: String,
    /// The section's name.
    pub section: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The connection to the page is up (ICE, DTLS and the data channel).
    Connected,
    /// The connection is gone (ICE consent lost, DTLS failed, the channel or the page closed).
    Lost,
    /// The distribution offers a call.
    Ring(Ring),
    /// The distribution withdrew its offer (ring timeout, the caller left).
    Withdrawn { call: String },
    /// The page said something.
    Page(FromPage),
    /// The call's side let the operator go (the caller hung up, the call was transferred).
    Released { call: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Tell the distribution whether this phone can take calls.
    Reachable(bool),
    ToPage(ToPage),
    /// The operator answered `call`: hand the leg to the distribution.
    Answered {
        call: String,
    },
    /// The offer of `call` failed (the distribution pauses the operator with `reason`).
    Failed {
        call: String,
        reason: String,
    },
    /// The operator's side of `call` has ended (hung up on the page, or the page went away).
    HungUp {
        call: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Before the connection is up, or after it was lost.
    Offline,
    /// Connected, but the page did not acknowledge a ring: asleep or cut off. Unreachable
    /// until the page speaks again.
    Silent,
    Idle,
    /// Offered; `acked` once the page said it rings.
    Ringing {
        call: String,
        since: Instant,
        acked: bool,
    },
    Talking {
        call: String,
    },
}

#[derive(Debug)]
pub struct Phone {
    state: State,
    out: VecDeque<Output>,
}

impl Default for Phone {
    fn default() -> Self {
        Self::new()
    }
}

impl Phone {
    pub fn new() -> Phone {
        Phone { state: State::Offline, out: VecDeque::new() }
    }

    /// Connected and answering (a ring would reach the page).
    pub fn is_reachable(&self) -> bool {
        !matches!(self.state, State::Offline | State::Silent)
    }

    /// The call being offered or talked on.
    pub fn call(&self) -> Option<&str> {
        match &self.state {
            State::Ringing { call, .. } | State::Talking { call } => Some(call),
            State::Offline | State::Silent | State::Idle => None,
        }
    }

    pub fn handle(&mut self, input: Input, now: Instant) {
        match input {
            Input::Connected => {
                if self.state == State::Offline {
                    self.back();
                }
            }
            Input::Lost => self.lost(),
            Input::Ring(ring) => match &self.state {
                State::Idle => {
                    self.state = State::Ringing { call: ring.call.clone(), since: now, acked: false };
                    self.out.push_back(Output::ToPage(ToPage::Ring {
                        call: ring.call,
                        caller: ring.caller,
                        section: ring.section,
                    }));
                }
                State::Offline | State::Silent => self.fail(ring.call, "the browser phone is not connected"),
                State::Ringing { .. } | State::Talking { .. } => self.fail(ring.call, "busy"),
            },
            Input::Withdrawn { call } => {
                if self.is_ringing(&call) {
                    self.state = State::Idle;
                    self.out.push_back(Output::ToPage(ToPage::Cancelled { call }));
                }
            }
            Input::Page(said) => self.page(said),
            Input::Released { call } => {
                if matches!(&self.state, State::Talking { call: c } if *c == call) {
                    self.state = State::Idle;
                    self.out.push_back(Output::ToPage(ToPage::Ended { call, by_caller: true }));
                }
            }
        }
    }

    /// Connected and answering: reachable.
    fn back(&mut self) {
        self.state = State::Idle;
        self.out.push_back(Output::Reachable(true));
    }

    fn page(&mut self, said: FromPage) {
        if self.state == State::Silent {
            self.back();
        }
        match said {
            FromPage::Alive => {}
            FromPage::Ringing { call } => {
                if let State::Ringing { call: c, acked, .. } = &mut self.state
                    && *c == call
                {
                    *acked = true;
                }
            }
            FromPage::Answer { call } => {
                if self.is_ringing(&call) {
                    self.state = State::Talking { call: call.clone() };
                    self.out.push_back(Output::Answered { call: call.clone() });
                    self.out.push_back(Output::ToPage(ToPage::Talking { call }));
                }
            }
            FromPage::Decline { call } => {
                if self.is_ringing(&call) {
                    self.state = State::Idle;
                    self.out.push_back(Output::Failed { call, reason: "declined".into() });
                }
            }
            FromPage::HangUp { call } => match &self.state {
                State::Talking { call: c } if *c == call => {
                    self.state = State::Idle;
                    self.out.push_back(Output::HungUp { call: call.clone() });
                    self.out.push_back(Output::ToPage(ToPage::Ended { call, by_caller: false }));
                }
                State::Ringing { call: c, .. } if *c == call => {
                    self.state = State::Idle;
                    self.out.push_back(Output::Failed { call, reason: "declined".into() });
                }
                _ => {}
            },
        }
    }

    fn lost(&mut self) {
        match std::mem::replace(&mut self.state, State::Offline) {
            State::Offline | State::Silent => return,
            State::Idle => {}
            State::Ringing { call, .. } => {
                self.out.push_back(Output::Failed { call, reason: "the browser phone disconnected".into() })
            }
            State::Talking { call } => self.out.push_back(Output::HungUp { call }),
        }
        self.out.push_back(Output::Reachable(false));
    }

    fn is_ringing(&self, call: &str) -> bool {
        matches!(&self.state, State::Ringing { call: c, .. } if c == call)
    }

    fn fail(&mut self, call: String, reason: &str) {
        self.out.push_back(Output::Failed { call, reason: reason.into() });
    }

    /// When [`Phone::handle_timeout`] is due: the page's acknowledgement of a ring.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Ringing { since, acked: false, .. } => Some(*since + RING_ACK_WITHIN),
            _ => None,
        }
    }

    /// A ring the page never acknowledged fails: the console is asleep or cut off, and it is
    /// not rung again until the page speaks.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.poll_timeout().is_some_and(|t| t <= now) {
            let State::Ringing { call, .. } = std::mem::replace(&mut self.state, State::Silent) else {
                unreachable!("poll_timeout is only set while ringing")
            };
            self.out.push_back(Output::Failed { call, reason: "the browser phone did not respond".into() });
            self.out.push_back(Output::ToPage(ToPage::Unanswered));
            self.out.push_back(Output::Reachable(false));
        }
    }

    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }
}

#[cfg(test)]
mod tests;
