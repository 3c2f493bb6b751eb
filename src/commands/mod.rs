//! One module per subcommand: each turns its validated `Config` into a run
//! and an exit code.

mod cache;
mod check;
mod completions;
mod encrypt;
mod enrich;
mod sandbox;
mod usage;

pub use cache::cache;
pub use check::check;
pub use completions::{completions, manpage};
pub use encrypt::encrypt;
pub use enrich::enrich;
pub use sandbox::serve;
pub use usage::usage;
