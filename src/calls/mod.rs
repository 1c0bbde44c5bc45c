//! Calls as the switchboard keeps track of them: the record each finished call leaves and
//! the log they are kept in.

pub mod bridge;
pub mod call;
pub mod log;
pub mod record;

pub use bridge::OperatorLeg;
pub use log::CallLog;
pub use record::{CallRecord, Ending};
