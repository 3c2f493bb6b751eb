//! Answers reused rather than bought again: duplicates however they
//! interleave, a rerun within `--max-age`, and answers from this very run
//! whatever the `--max-age`; `--no-cache` pays again and says so.

use std::time::Duration;

use tenure::sandbox::{NumberStats, SandboxConfig};

use super::assert_enriched;
use crate::common::*;

/// Duplicates cost one query however the rows interleave: 1,000 numbers,
/// each on 5 rows scattered through 5,000, with 32 workers racing. A little
/// latency keeps each number in flight while its duplicates are read, so
/// single-flight (not only the store) is exercised.
#[test]
fn duplicates_in_a_shuffled_file_are_billed_once() {
    let dir = tempdir();
    let distinct = answered_numbers(1_000);
    let mut numbers: Vec<String> = distinct
        .iter()
        .flat_map(|n| std::iter::repeat_n(n.clone(), 5))
        .collect();
    // A fixed seed: a failure reproduces with the same row order.
    fastrand::Rng::with_seed(0x5eed_2024).shuffle(&mut numbers);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    let sandbox = sandbox(SandboxConfig {
        latency: Duration::from_millis(2),
        ..Default::default()
    });

    ran_with(
        &mut enrich(&sandbox, &input, &output, &["--concurrency", "32"]),
        0,
    );

    let stats = sandbox.stats();
    // Exactly one billed query per distinct number, and no unbilled extra
    // requests either (no faults were injected, so nothing needed a retry).
    assert_eq!(stats.billed, 1_000, "one billed query per distinct number");
    assert_eq!(stats.requests, 1_000, "one request per distinct number");
    assert_eq!(stats.numbers.len(), 1_000);
    for number in &distinct {
        assert_eq!(
            stats.numbers.get(number),
            Some(&NumberStats {
                requests: 1,
                billed: 1
            }),
            "{number} was asked and billed exactly once"
        );
    }
    // Every one of the 5,000 rows, not only the first of each number, gets
    // the answer, in input order.
    assert_enriched(&output, &numbers);
}

/// Reuse: a rerun right after a success bills nothing; `--max-age 1s` after
/// a pause pays again; `--no-cache` pays again and says so.
#[test]
fn a_rerun_reuses_answers_until_they_are_too_old() {
    let dir = tempdir();
    let numbers = answered_numbers(50);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    let summary = dir.path().join("summary.json");
    let sandbox = sandbox(SandboxConfig::default());

    ran_with(&mut enrich(&sandbox, &input, &output, &[]), 0);
    assert_eq!(sandbox.stats().billed, 50);
    let first_output = std::fs::read(&output).expect("the output was written");
    assert_enriched(&output, &numbers);

    // Right after: every answer is fresh (default --max-age 24h).
    ran_with(
        &mut enrich(
            &sandbox,
            &input,
            &output,
            &["--summary-json", path_str(&summary)],
        ),
        0,
    );
    assert_eq!(sandbox.stats().billed, 50, "the rerun billed nothing");
    assert_eq!(sandbox.stats().requests, 50, "the rerun sent nothing");
    assert_eq!(
        std::fs::read(&output).expect("the output was rewritten"),
        first_output,
        "the rerun writes the same bytes"
    );
    // The summary counts stored answers apart from billed queries.
    let json = read_json(&summary);
    assert_eq!(json["from_store"], 50, "{json}");
    assert_eq!(json["billed"], 0, "{json}");

    // Older than --max-age: asked (and paid) again.
    std::thread::sleep(Duration::from_millis(1_500));
    ran_with(
        &mut enrich(&sandbox, &input, &output, &["--max-age", "1s"]),
        0,
    );
    assert_eq!(
        sandbox.stats().billed,
        100,
        "answers older than --max-age 1s are asked again"
    );
    assert_eq!(std::fs::read(&output).expect("output"), first_output);

    // No store: everything is paid again, and the user is told.
    let ran = ran_with(&mut enrich(&sandbox, &input, &output, &["--no-cache"]), 0);
    assert_eq!(
        sandbox.stats().billed,
        150,
        "--no-cache asks every number again"
    );
    assert!(
        ran.stderr.contains("a rerun will pay again"),
        "--no-cache warns that a rerun pays again: {}",
        ran.stderr
    );
    assert_eq!(std::fs::read(&output).expect("output"), first_output);
}

/// Review finding: a run longer than `--max-age` must still ask each
/// number once. With `--max-age 0s` every stored answer is "too old" at
/// once, so duplicates read after their number's answer would be billed
/// again if answers from this very run did not count as fresh.
#[test]
fn answers_from_this_run_are_fresh_whatever_the_max_age() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let numbers = distinct_numbers(300);
    // Each number twice, the repeats a whole window of rows later.
    let doubled: Vec<String> = numbers.iter().chain(numbers.iter()).cloned().collect();
    let input = numbers_csv(dir.path(), "in.csv", &doubled);
    let output = dir.path().join("out.csv");
    ran_with(
        &mut enrich(&sandbox, &input, &output, &["--max-age", "0s"]),
        0,
    );
    let stats = sandbox.stats();
    assert_eq!(stats.requests, 300, "one request per number");
    assert!(stats.numbers.values().all(|n| n.requests == 1));
}
