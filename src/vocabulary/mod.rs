//! The words the engine's parts share, at the bottom floor: they import nothing of the engine,
//! so that any part can use them without depending on another.

mod call_origin;
mod call_pop;

pub use call_origin::CallOrigin;
pub use call_pop::CallPop;
