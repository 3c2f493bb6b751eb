//! A run cut short resumes without paying twice: after `kill -9` only the
//! requests in flight may be paid again, and after an exhausted quota
//! nothing is.

use std::path::Path;
use std::time::Duration;

use tenure::sandbox::{Sandbox, SandboxConfig};

use super::assert_enriched;
use crate::common::*;

/// What an uninterrupted run on a fresh store and a sandbox without latency
/// writes for `input`.
fn uninterrupted_output(input: &Path) -> Vec<Vec<String>> {
    let dir = tempdir();
    let reference = dir.path().join("out.csv");
    let fresh = sandbox(SandboxConfig::default());
    ran_with(
        &mut enrich(&fresh, input, &reference, &["--concurrency", "8"]),
        0,
    );
    read_csv(&reference)
}

/// Checks that over both runs each of `numbers` was billed once or twice,
/// and no more than `concurrency` of them twice.
fn assert_paid_twice_at_most_in_flight(sandbox: &Sandbox, numbers: &[String], concurrency: usize) {
    let billed = billed_by_number(&sandbox.stats());
    for number in numbers {
        let times = billed.get(number).copied().unwrap_or(0);
        assert!(
            (1..=2).contains(&times),
            "{number} was billed {times} times across both runs"
        );
    }
    let twice: Vec<&String> = billed
        .iter()
        .filter(|(_, n)| **n >= 2)
        .map(|(n, _)| n)
        .collect();
    assert!(
        twice.len() <= concurrency,
        "at most --concurrency ({concurrency}) numbers may be paid twice, but {} were: {twice:?}",
        twice.len()
    );
}

/// `kill -9` part-way, then the same command again: the store kept what was
/// committed, so only the requests in flight at the kill (at most
/// `--concurrency` of them) are paid twice, and the final output is what an
/// uninterrupted run writes.
#[test]
fn a_run_killed_with_sigkill_resumes_without_paying_twice() {
    let dir = tempdir();
    let numbers = answered_numbers(400);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    // 20 ms per answer and 200 requests a second: about 2 s for the file, so
    // the kill lands well inside it.
    let sandbox = sandbox(SandboxConfig {
        latency: Duration::from_millis(20),
        ..Default::default()
    });
    let url = sandbox.url();
    let command = || {
        enrich_process(
            &url,
            &input,
            &output,
            &["--qps", "200", "--concurrency", "8"],
        )
    };

    let mut child = command().spawn().expect("tenure starts");
    assert!(
        wait_for(RUN_TIMEOUT, || sandbox.stats().billed >= 100),
        "the first run never reached 100 billed answers"
    );
    assert!(
        child.try_wait().expect("the child can be polled").is_none(),
        "the first run must still be running when it is killed"
    );
    child.kill().expect("SIGKILL is delivered");
    child.wait().expect("the killed child is reaped");
    // Let the sandbox finish answering (and billing) what was in flight.
    std::thread::sleep(Duration::from_millis(200));
    let killed = sandbox.stats();
    assert!(
        killed.billed < 400,
        "the kill landed part-way ({} billed)",
        killed.billed
    );
    // Atomic output: a killed run leaves nothing at the output path.
    assert!(!output.exists(), "a killed run wrote {}", output.display());

    let rerun = finish(command().spawn().expect("tenure starts again"), RUN_TIMEOUT);
    assert_eq!(rerun.code, 0, "the rerun completes: {}", rerun.stderr);
    assert_paid_twice_at_most_in_flight(&sandbox, &numbers, 8);
    assert_eq!(
        read_csv(&output),
        uninterrupted_output(&input),
        "the resumed output equals an uninterrupted run's, row for row"
    );
    assert_enriched(&output, &numbers);
}

/// A quota that runs out part-way stops the run with exit 4 and nothing at
/// the output path; the rerun, with the quota back, pays only for what the
/// first run did not get.
#[test]
fn a_run_stopped_by_the_quota_resumes_without_paying_twice() {
    let dir = tempdir();
    let numbers = answered_numbers(400);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    let limited = sandbox(SandboxConfig {
        quota: Some(150),
        ..Default::default()
    });
    let addr = limited.addr();

    // A quota that ran out stops the batch (10012, not another stop).
    let ran = ran_with(&mut enrich(&limited, &input, &output, &[]), 4);
    assert!(ran.stderr.contains("10012"), "{}", ran.stderr);
    assert!(!output.exists(), "exit 4 leaves nothing at the output path");
    let first = limited.stats();
    assert_eq!(first.billed, 150, "the sandbox bills exactly its quota");
    drop(limited);

    // The same port, so the same --endpoint URL, so the same store source.
    let unlimited = sandbox_on(addr, SandboxConfig::default());
    // The rerun with the quota back completes.
    ran_with(&mut enrich(&unlimited, &input, &output, &[]), 0);
    let second = unlimited.stats();

    let (first, second) = (billed_by_number(&first), billed_by_number(&second));
    let mut repaid = Vec::new();
    for number in &numbers {
        let (a, b) = (
            first.get(number).copied().unwrap_or(0),
            second.get(number).copied().unwrap_or(0),
        );
        // Every number is paid for once over the two runs: the 150 answers
        // billed before the quota ran out came from the store the second
        // time.
        if a + b != 1 {
            repaid.push(format!("{number}: {a} + {b}"));
        }
    }
    assert!(
        repaid.is_empty(),
        "numbers not billed exactly once across both runs: {repaid:?}"
    );
    assert_eq!(
        second.values().sum::<u64>(),
        250,
        "the rerun pays only for the 250 the first run did not get"
    );
    assert_enriched(&output, &numbers);
}
