//! Shared helpers, one of each, for every test module (`use
//! crate::common::*`): this file starts the in-process sandbox on port 0;
//! `binary` builds the isolated `tenure` command lines, `run` runs them to a
//! [`Ran`], `oracle` says what a row must carry (from the sandbox's own data,
//! never the tool's code), and `files` writes inputs and reads outputs.

use std::collections::BTreeMap;

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
