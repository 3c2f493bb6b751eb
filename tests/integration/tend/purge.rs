//! `tenure cache purge` (DESIGN §4): answers removed by code or by age,
//! over every source, with their history; never the ledger, so `usage`
//! says the same after it; a rerun asks the purged numbers again.

use tenure::sandbox::SandboxConfig;

use super::{count, no_number_in, stats_json, totals, usage_json};
use crate::common::*;

/// DESIGN §4: purge removes answers (by code or by age, every source) and
/// their history, never the ledger: `usage` says the same after it, and
/// a rerun asks the purged numbers again.
#[test]
fn cache_purge_removes_answers_by_code_and_age_and_keeps_the_ledger() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let answered = answered_numbers(20);
    let unknown = unknown_numbers(3);
    let numbers: Vec<String> = answered.iter().chain(&unknown).cloned().collect();
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let out = dir.path().join("out.csv");
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    let usage = totals(&usage_json(&[]));
    assert_eq!(usage, [20, 23, 0]);

    let ran = ran_with(tenure().args(["cache", "purge", "--code", "224801"]), 0);
    assert!(
        ran.stdout
            .contains("removed 3 answers and 3 history entries with code 224801"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("ledger"), "{}", ran.stdout);
    let stats = stats_json(&[]);
    assert_eq!(count(&stats["answers"]), 20);
    assert_eq!(count(&stats["history"]), 20);
    assert_eq!(count(&stats["ledger"]), 23, "the ledger is kept");
    assert_eq!(totals(&usage_json(&[])), usage);
    // The rerun asks only the purged numbers again.
    let requests = sandbox.stats().requests;
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    assert_eq!(sandbox.stats().requests, requests + 3);

    // By age, every source: a sandbox run's answers go too.
    ran_with(&mut enrich(&sandbox, &input, &out, &["--sandbox"]), 0);
    let stats = stats_json(&[]);
    assert_eq!(count(&stats["answers"]), 46);
    let ledger = count(&stats["ledger"]);
    let ran = ran_with(tenure().args(["cache", "purge", "--older-than", "0s"]), 0);
    assert!(ran.stdout.contains("removed 46 answers"), "{}", ran.stdout);
    no_number_in(&ran.stderr, &numbers);
    let stats = stats_json(&[]);
    assert_eq!(count(&stats["answers"]), 0);
    assert_eq!(count(&stats["history"]), 0);
    assert_eq!(count(&stats["ledger"]), ledger, "the ledger is kept");
    let billed = sandbox.stats().billed;
    assert_eq!(totals(&usage_json(&[]))[0], billed);

    // One of the two, never neither nor both, and never a store that is
    // not there.
    ran_with(tenure().args(["cache", "purge"]), 2);
    ran_with(
        tenure().args(["cache", "purge", "--code", "03", "--older-than", "1d"]),
        2,
    );
    let missing = dir.path().join("missing.sqlite");
    ran_with(
        tenure().args([
            "cache",
            "purge",
            "--code",
            "03",
            "--cache",
            path_str(&missing),
        ]),
        2,
    );
    assert!(!missing.exists(), "no store made by a purge");
}
