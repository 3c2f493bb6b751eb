//! The tending commands on a team's PostgreSQL store (`TENURE_TEST_POSTGRES`;
//! skipped, saying so, without it): stats, usage, export, purge and import.

use tenure::sandbox::SandboxConfig;

use super::{count, stats_json, stdout_of, totals, usage_json, version_1_store};
use crate::common::*;

/// The tending commands on a team's PostgreSQL store: stats, usage (its
/// billed total the sandbox's), export and purge.
#[test]
fn cache_stats_and_usage_on_a_postgresql_store() {
    let Some(schema) = postgres_schema("cache_stats_and_usage_on_a_postgresql_store") else {
        return;
    };
    let url = schema.url.clone();
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let answered = answered_numbers(12);
    let unknown = unknown_numbers(2);
    let numbers: Vec<String> = answered.iter().chain(&unknown).cloned().collect();
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    ran_with(
        &mut enrich(
            &sandbox,
            &input,
            &dir.path().join("out.csv"),
            &["--cache", &url],
        ),
        0,
    );
    let stats = stats_json(&["--cache", &url]);
    assert_eq!(count(&stats["answers"]), 14, "{stats}");
    assert_eq!(count(&stats["billed"]), sandbox.stats().billed);
    assert_eq!(count(&stats["runs"]), 1);
    let usage = usage_json(&["--cache", &url]);
    assert_eq!(
        totals(&usage),
        [sandbox.stats().billed, sandbox.stats().requests, 0]
    );
    let by_run = usage_json(&["--cache", &url, "--by", "run"]);
    assert_eq!(by_run.len(), 1);
    let export = stdout_of(&["cache", "export", "--cache", &url]);
    assert_eq!(export.lines().count(), 15, "{export}");
    let purged = stdout_of(&["cache", "purge", "--code", "224801", "--cache", &url]);
    assert!(purged.contains("removed 2 answers"), "{purged}");
    assert_eq!(count(&stats_json(&["--cache", &url])["ledger"]), 14);
    // A version-1 file merged into the team's store.
    let v1 = dir.path().join("old.cache.sqlite");
    let old = answered_numbers(20)[12..].to_vec();
    version_1_store(&v1, &sandbox.url(), &old);
    let ran = ran_with(
        tenure().args(["cache", "import", path_str(&v1), "--cache", &url]),
        0,
    );
    assert!(ran.stdout.contains("8 answers added"), "{}", ran.stdout);
    assert_eq!(count(&stats_json(&["--cache", &url])["answers"]), 20);
    assert!(
        !default_store().exists(),
        "the user's store was not touched"
    );
}
