//! One module per subcommand: each turns its validated `Config` into a run
//! and an exit code.

mod check;
mod completions;
mod encrypt;
mod enrich;
mod sandbox;

pub use check::check;
pub use completions::{completions, manpage};
pub use encrypt::encrypt;
pub use enrich::enrich;
pub use sandbox::serve;
