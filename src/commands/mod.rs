//! One module per subcommand: each turns its validated `Config` into a run
//! and an exit code.

mod check;
mod encrypt;
mod enrich;
mod sandbox;

pub use check::check;
pub use encrypt::encrypt;
pub use enrich::enrich;
pub use sandbox::serve;
