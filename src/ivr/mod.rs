//! The voice portal: the YAML tree model, its validation, and the pure interpreter that walks a
//! call through it (events and time in, actions out; no sockets, no clock of its own).

pub mod at;
pub mod graph;
pub mod load;
pub mod model;
pub mod pairs;
pub mod schema;
pub mod speech;
pub mod validate;

pub use at::At;
pub use load::{Tree, parse_tree, read_tree};
pub use model::*;
pub mod actions;
pub mod facts;
pub mod session;

pub use actions::{Action, FoundAppointment, LookupAnswer, Outcome, Utterance};
pub use facts::CallFacts;
pub use session::{Event, Session, Time, Trace};
