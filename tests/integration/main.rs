//! The integration tests: everything a user can observe, driven through the
//! binary (assert_cmd) or the library, against the sandbox on port 0.

mod changes;
mod cli;
mod common;
mod enrich;
mod files;
mod hostile;
mod limits;
mod operating;
mod props;
mod reporting;
mod runs;
mod sandbox;
mod security;
mod store;
