//! Runs at the same time on one store: two sharing an existing store both
//! finish and leave it whole, and several creating a new one at once all
//! open it.

use std::path::PathBuf;
use std::process::Child;
use std::time::Duration;

use tenure::sandbox::SandboxConfig;

use super::assert_enriched;
use crate::common::*;

/// Two runs sharing one store at the same time both finish, and the store is
/// intact afterwards: a third run finds every answer in it.
///
/// The store exists before the two start (made by a run over another
/// number), so this test is about two runs writing answers into one file at
/// once; two runs *creating* a store at once is the next test.
#[test]
fn two_runs_can_share_one_store_at_once() {
    let dir = tempdir();
    let numbers = answered_numbers(301);
    let (seed, numbers) = numbers.split_first().expect("301 numbers");
    let input = numbers_csv(dir.path(), "in.csv", numbers);
    let store = dir.path().join("shared.sqlite");
    let with_store = ["--cache", path_str(&store)];
    // Latency makes the two runs overlap for a few hundred milliseconds.
    let sandbox = sandbox(SandboxConfig {
        latency: Duration::from_millis(5),
        ..Default::default()
    });
    // The store is made.
    let seed_input = numbers_csv(dir.path(), "seed.csv", std::slice::from_ref(seed));
    let seed_output = dir.path().join("seed-out.csv");
    ran_with(
        &mut enrich(&sandbox, &seed_input, &seed_output, &with_store),
        0,
    );
    assert_eq!(sandbox.stats().billed, 1);

    let url = sandbox.url();
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let extra = ["--concurrency", "4", "--cache", path_str(&store)];
    let first = enrich_process(&url, &input, &a, &extra)
        .spawn()
        .expect("tenure starts");
    let second = enrich_process(&url, &input, &b, &extra)
        .spawn()
        .expect("tenure starts");
    let (first, second) = (finish(first, RUN_TIMEOUT), finish(second, RUN_TIMEOUT));
    assert_eq!(first.code, 0, "the first run: {}", first.stderr);
    assert_eq!(second.code, 0, "the second run: {}", second.stderr);
    assert_enriched(&a, numbers);
    assert_enriched(&b, numbers);

    // Neither run sees the other's answers before it asks (single-flight is
    // per process), so each number is paid by one run or both.
    let billed = sandbox.stats().billed;
    assert!(
        (1 + 300..=1 + 600).contains(&billed),
        "each number is paid by one or both runs ({billed} billed)"
    );
    // The shared store is still readable.
    let c = dir.path().join("c.csv");
    ran_with(&mut enrich(&sandbox, &input, &c, &with_store), 0);
    assert_eq!(
        sandbox.stats().billed,
        billed,
        "the third run found every answer in the shared store"
    );
    assert_enriched(&c, numbers);
}

/// Runs started together on a `--cache` file that does not exist yet all
/// create-or-open it and finish: the busy timeout covers the store's
/// creation too, not only its later writes. The race is in the first
/// milliseconds of a run, so several fresh stores are tried, three runs at a
/// time; small inputs keep this quick.
#[test]
fn two_runs_creating_one_store_at_once_both_finish() {
    let dir = tempdir();
    let numbers = answered_numbers(5);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let sandbox = sandbox(SandboxConfig::default());
    let url = sandbox.url();
    for round in 0..20 {
        let store = dir.path().join(format!("new-{round}.sqlite"));
        let extra = ["--cache", path_str(&store)];
        let runs: Vec<(PathBuf, Child)> = (0..3)
            .map(|run| {
                let output = dir.path().join(format!("out-{round}-{run}.csv"));
                let child = enrich_process(&url, &input, &output, &extra)
                    .spawn()
                    .expect("tenure starts");
                (output, child)
            })
            .collect();
        for (run, (output, child)) in runs.into_iter().enumerate() {
            let ran = finish(child, RUN_TIMEOUT);
            assert_eq!(ran.code, 0, "round {round}, run {run}: {}", ran.stderr);
            assert_enriched(&output, &numbers);
        }
    }
}
