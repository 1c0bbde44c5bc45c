//! The words the engine's parts share, at the bottom floor: they import nothing of the engine,
//! so that any part can use them without depending on another.

mod call_origin;
mod call_pop;
mod callback_number;

pub use call_origin::CallOrigin;
pub use call_pop::CallPop;
pub use callback_number::{CallbackNumber, NumberingPlan, Refusal};
