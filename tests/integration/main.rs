//! The integration tests: everything a user can observe, driven through the
//! binary (assert_cmd) or the library, against the sandbox on port 0.

mod changes;
mod cli;
mod common;
mod default_store;
mod enrich;
mod files;
mod guards;
mod hostile;
mod limits;
mod operating;
mod props;
mod reporting;
mod runs;
mod sandbox;
mod security;
mod store;
mod tend;
