//! Calls as the switchboard keeps track of them: the record each finished call leaves and
//! the log they are kept in.

pub mod call;
pub mod log;
pub mod record;

pub use log::CallLog;
pub use record::{CallRecord, Ending};
