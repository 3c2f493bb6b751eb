//! Shared helpers, one of each, for every test module (`use
//! crate::common::*`): this file starts the in-process sandbox on port 0
//! (or again on the port of one just dropped); `binary` builds the isolated
//! `tenure` command lines, `run` runs them to a [`Ran`], `oracle` says what
//! a row must carry (from the sandbox's own data, never the tool's code),
//! `files` writes inputs and reads outputs, and `postgres` makes a test's
//! own PostgreSQL schema.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use tenure::sandbox::{Sandbox, SandboxConfig, Script, Stats};

mod binary;
mod files;
mod oracle;
mod postgres;
mod run;

pub use binary::*;
pub use files::*;
pub use oracle::*;
pub use postgres::*;
pub use run::*;

/// Starts the simulator in this process on a free loopback port.
pub fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config, "127.0.0.1:0".parse().expect("a literal address"))
        .expect("the sandbox binds a free loopback port")
}

/// Starts a sandbox on `addr` (the port of one just dropped), so that the
/// rerun's `--endpoint`, hence the store's source, is the same. Rebinding can
/// fail for a moment while the old socket closes: retry.
pub fn sandbox_on(addr: SocketAddr, config: SandboxConfig) -> Sandbox {
    let mut attempt = 0;
    loop {
        match Sandbox::start(config.clone(), addr) {
            Ok(sandbox) => return sandbox,
            Err(err) if attempt < 50 => {
                attempt += 1;
                eprintln!("rebinding {addr} failed ({err}); retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => panic!("cannot rebind the sandbox on {addr}: {err}"),
        }
    }
}

/// A sandbox configuration with these scripts (`NUMBER=STEP,...`).
pub fn scripted(scripts: &[String]) -> SandboxConfig {
    let scripts: std::collections::HashMap<String, Script> = scripts
        .iter()
        .map(|s| tenure::sandbox::parse_script(s).expect("the test script is valid"))
        .collect();
    SandboxConfig {
        scripts,
        ..SandboxConfig::default()
    }
}

/// Per-number billed counts of one sandbox's stats.
pub fn billed_by_number(stats: &Stats) -> BTreeMap<String, u64> {
    stats
        .numbers
        .iter()
        .map(|(number, counted)| (number.clone(), counted.billed))
        .collect()
}

/// The busiest window `[t, t + window_us)` of the sorted `arrivals`: the
/// index of its first arrival, and how many it holds.
pub fn busiest_window(sorted: &[u64], window_us: u64) -> (usize, usize) {
    sorted
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let count = sorted[i..]
                .iter()
                .take_while(|&&t| t < start + window_us)
                .count();
            (i, count)
        })
        .max_by_key(|&(_, count)| count)
        .expect("there were arrivals")
}
