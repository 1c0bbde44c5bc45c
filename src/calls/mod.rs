//! Calls as the switchboard keeps track of them: the record each finished call leaves, the
//! log they are kept in, and the portal's lookups answered for them.

pub mod bridge;
pub mod call_media;
pub mod callback_call;
pub mod host;
pub mod log;
pub mod lookup;
pub mod machine;
pub mod record;

pub use bridge::OperatorLeg;
pub use log::CallLog;
pub use record::{CallRecord, Ending};
