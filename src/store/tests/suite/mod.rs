//! The shared suite: every behaviour of the store's contract, run on both
//! backends (see `on_both!` in the parent), by concern.

mod answers;
mod runs;
mod tend;

pub use answers::*;
pub use runs::*;
pub use tend::*;
