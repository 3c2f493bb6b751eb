//! Reading and tending the store as a user does (DESIGN §4 `tenure cache`,
//! §6 `tenure usage`, §7 `cache changes`), and `tenure check`'s time
//! estimate (issue 12, point 2). Every test drives the binary against an
//! in-process sandbox and compares what the commands say with what the
//! sandbox counted and the runs' summaries reported.
//!
//! One module per concept: `usage`, `stats` (and which store the commands
//! read), `export`, `import`, `purge`, `changes`, `check` (the estimate),
//! `help` (an example in each, never a store's password) and `postgres`
//! (the commands on a team's store). The helpers here are theirs alone.

use std::path::Path;

use serde_json::Value;
use tenure::sandbox::answer_for;

use crate::common::*;

mod changes;
mod check;
mod export;
mod help;
mod import;
mod postgres;
mod purge;
mod stats;
mod usage;

/// `tenure ARGS…` run to exit 0; its standard output.
fn stdout_of(args: &[&str]) -> String {
    ran_with(tenure().args(args), 0).stdout
}

/// `tenure usage --json ARGS…`, parsed.
fn usage_json(args: &[&str]) -> Vec<Value> {
    let parsed = stdout_json(tenure().args(["usage", "--json"]).args(args));
    parsed.as_array().expect("an array").clone()
}

/// The billed, requests and unanswered of usage rows, summed.
fn totals(rows: &[Value]) -> [u64; 3] {
    let sum = |field: &str| {
        rows.iter()
            .map(|row| row[field].as_u64().expect("a count"))
            .sum()
    };
    [sum("billed"), sum("requests"), sum("unanswered")]
}

/// `tenure cache stats --json ARGS…`, parsed.
fn stats_json(args: &[&str]) -> Value {
    stdout_json(tenure().args(["cache", "stats", "--json"]).args(args))
}

fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or_else(|| panic!("a count: {value}"))
}

/// Asserts that no number of `numbers` shows in `stderr`.
fn no_number_in(stderr: &str, numbers: &[String]) {
    for number in numbers {
        assert!(!stderr.contains(number.as_str()), "{number} in:\n{stderr}");
    }
}

/// The version-1 tables of an earlier tenure (its per-output
/// `OUTPUT.cache.sqlite`).
const V1_SCHEMA: &str = "
    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('schema_version', 1);
    CREATE TABLE answers (
        number TEXT NOT NULL, source TEXT NOT NULL, kind INTEGER NOT NULL,
        code TEXT NOT NULL, desc TEXT, province TEXT, city TEXT, isp TEXT, reason TEXT,
        endpoint TEXT NOT NULL, answered_at INTEGER NOT NULL,
        PRIMARY KEY (number, source)
    ) WITHOUT ROWID;";

/// A version-1 store holding the sandbox's answers for `numbers` from
/// `source`, as an earlier tenure left them a minute ago.
fn version_1_store(path: &Path, source: &str, numbers: &[String]) {
    let conn = rusqlite::Connection::open(path).expect("a new SQLite file");
    conn.execute_batch(V1_SCHEMA).expect("the version-1 schema");
    let at = jiff::Timestamp::now().as_millisecond() - 60_000;
    for number in numbers {
        let answer = answer_for(number).expect("an answered number");
        conn.execute(
            "INSERT INTO answers VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7, NULL, 'query', ?8)",
            rusqlite::params![
                number,
                source,
                answer.code,
                answer.desc,
                answer.province,
                answer.city,
                answer.isp,
                at
            ],
        )
        .expect("an answer");
    }
}
