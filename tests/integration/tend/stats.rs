//! `tenure cache stats`: what the store holds, over every source; and the
//! store every tending command reads, which is enrich's (`--cache`, else
//! `TENURE_CACHE`, else the user's default file).

use serde_json::Value;
use tenure::sandbox::SandboxConfig;

use super::{count, stats_json, stdout_of, totals};
use crate::common::*;

/// `stats` counts the whole store, every source: the answers of a run
/// against an endpoint and of a run of `--sandbox` for the same numbers
/// are two answers each.
#[test]
fn cache_stats_counts_every_source() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let answered = answered_numbers(8);
    let unknown = unknown_numbers(2);
    let numbers: Vec<String> = answered.iter().chain(&unknown).cloned().collect();
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let out = dir.path().join("out.csv");
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    ran_with(&mut enrich(&sandbox, &input, &out, &["--sandbox"]), 0);
    let stats = stats_json(&[]);
    assert_eq!(count(&stats["answers"]), 20, "{stats}");
    assert_eq!(count(&stats["successes"]), 16, "{stats}");
    assert_eq!(count(&stats["ledger"]), 20, "{stats}");
    assert_eq!(count(&stats["billed"]), 16, "{stats}");
    assert_eq!(count(&stats["runs"]), 2, "{stats}");
    assert_eq!(count(&stats["claims"]), 0, "{stats}");
    assert_eq!(stats["store"], path_str(&default_store()));
    for end in ["oldest", "newest"] {
        let at = stats[end].as_str().expect("a time");
        assert!(at.parse::<jiff::Timestamp>().is_ok(), "{at}");
    }
    let table = stdout_of(&["cache", "stats"]);
    let line = table
        .lines()
        .find(|line| line.starts_with("answers"))
        .unwrap_or_else(|| panic!("an answers line in:\n{table}"));
    assert_eq!(line.split_whitespace().nth(1), Some("20"), "{table}");
    assert!(table.contains("16 billed"), "{table}");
}

/// The store the tending commands read is enrich's: `--cache`, else
/// `TENURE_CACHE`, else the user's default file; one that is not there is
/// exit 2 naming it, never an empty report.
#[test]
fn the_tending_commands_read_the_store_enrich_uses() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let numbers = answered_numbers(7);
    let (mine, team) = numbers.split_at(3);
    let ran = ran_with(tenure().args(["cache", "stats"]), 2);
    assert!(
        ran.stderr.contains(path_str(&default_store())),
        "{}",
        ran.stderr
    );
    let ran = ran_with(tenure().args(["usage"]), 2);
    assert!(ran.stderr.contains("does not exist"), "{}", ran.stderr);

    let input = numbers_csv(dir.path(), "mine.csv", mine);
    ran_with(
        &mut enrich(&sandbox, &input, &dir.path().join("a.csv"), &[]),
        0,
    );
    let shared = dir.path().join("team.sqlite");
    let input = numbers_csv(dir.path(), "team.csv", team);
    ran_with(
        &mut enrich(
            &sandbox,
            &input,
            &dir.path().join("b.csv"),
            &["--cache", path_str(&shared)],
        ),
        0,
    );
    assert_eq!(count(&stats_json(&[])["answers"]), 3);
    let from_env = |args: &[&str]| -> Value {
        stdout_json(
            tenure()
                .env("TENURE_CACHE", &shared)
                .args(["cache", "stats", "--json"])
                .args(args),
        )
    };
    assert_eq!(count(&from_env(&[])["answers"]), 4);
    let flag = from_env(&["--cache", path_str(&default_store())]);
    assert_eq!(count(&flag["answers"]), 3, "--cache wins");
    let usage = stdout_json(
        tenure()
            .env("TENURE_CACHE", &shared)
            .args(["usage", "--json"]),
    );
    assert_eq!(totals(usage.as_array().expect("an array"))[0], 4);
}
