//! SIGINT and SIGTERM in the middle of a run: exit 130, nothing at the
//! output path, every answer that arrived kept in the store, and a rerun
//! that pays for none of them again; a second signal exits at once.

use std::path::Path;
use std::process::Child;
use std::time::Duration;

use tenure::number;
use tenure::sandbox::{Sandbox, SandboxConfig, Stats};
use tenure::store::{Location, Store};

use crate::common::*;

/// `enrich` with its own store at `--qps 20 --concurrency 4`, spawned.
fn spawn_enrich(sandbox: &Sandbox, input: &Path, output: &Path, store: &Path) -> Child {
    let flags = [
        "--cache",
        path_str(store),
        "--qps",
        "20",
        "--concurrency",
        "4",
    ];
    enrich_process(&sandbox.url(), input, output, &flags)
        .spawn()
        .expect("the tenure binary starts")
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} worked");
}

/// A sandbox that takes `latency` to answer each request.
fn slow_sandbox(latency: Duration) -> Sandbox {
    sandbox(SandboxConfig {
        latency,
        ..SandboxConfig::default()
    })
}

/// The numbers the sandbox billed at least once.
fn billed_numbers(stats: &Stats) -> Vec<String> {
    billed_by_number(stats)
        .into_iter()
        .filter(|(_, billed)| *billed > 0)
        .map(|(number, _)| number)
        .collect()
}

/// Checks that the store at `store` holds a fresh answer for each of
/// `numbers` from the endpoint `url`.
fn assert_in_store<'a>(store: &Path, url: &str, numbers: impl IntoIterator<Item = &'a String>) {
    let kept =
        Store::open_read_only(&Location::Sqlite(store.to_owned()), url).expect("the store opens");
    for text in numbers {
        let number = number::parse(text).expect("the sandbox saw valid numbers");
        let answer = kept
            .get(&number, Duration::from_secs(3600))
            .expect("the store reads");
        assert!(
            answer.is_some(),
            "the answer for {} arrived but is not in the store",
            number.masked()
        );
    }
}

/// Checks that the rerun (`second`, the stats after it) billed and asked
/// none of what the interrupted run (`first`) had, and asked the rest.
fn assert_rerun_paid_none_again(first: &Stats, second: &Stats, numbers: &[String]) {
    for number in billed_numbers(first) {
        assert_eq!(
            second.numbers[&number].billed, 1,
            "billed again after the interrupt"
        );
    }
    for (number, counts) in &first.numbers {
        assert_eq!(
            second.numbers[number].requests, counts.requests,
            "asked again after the interrupt"
        );
    }
    assert_eq!(
        second.numbers.len(),
        numbers.len(),
        "the rerun asked the rest"
    );
}

#[test]
fn sigint_keeps_the_answers_that_arrived_and_the_rerun_bills_none_again() {
    let sandbox = slow_sandbox(Duration::from_millis(200));
    let dir = tempdir();
    let numbers = distinct_numbers(300);
    let input = numbers_csv(dir.path(), "numbers.csv", &numbers);
    let output = dir.path().join("out.csv");
    let store = dir.path().join("answers.sqlite");

    let child = spawn_enrich(&sandbox, &input, &output, &store);
    let started = wait_for(Duration::from_secs(30), || sandbox.stats().billed >= 10);
    signal(&child, "INT");
    let ran = finish(child, Duration::from_secs(20));
    assert!(started, "the sandbox billed 10 within 30 s");
    assert_eq!(
        ran.code, 130,
        "exit 130 after SIGINT; stderr:\n{}",
        ran.stderr
    );
    assert!(!output.exists(), "nothing at the output path");
    let named_like_output: Vec<String> = files_in(dir.path())
        .into_iter()
        .filter(|name| name.contains("out.csv"))
        .collect();
    assert!(
        named_like_output.is_empty(),
        "no temporary output left behind: {named_like_output:?}"
    );
    assert!(
        ran.stderr.contains("rerun") && ran.stderr.contains(&store.display().to_string()),
        "stderr says how to resume:\n{}",
        ran.stderr
    );

    // Every answer that arrived is in the store.
    let first = sandbox.stats();
    let billed = billed_numbers(&first);
    assert!(billed.len() >= 10, "{} billed", billed.len());
    assert!(
        first.numbers.len() < numbers.len(),
        "the run stopped before the end ({} of {} asked)",
        first.numbers.len(),
        numbers.len()
    );
    assert_in_store(&store, &sandbox.url(), first.numbers.keys());

    // The rerun finishes and pays for none of them again.
    let with_store = ["--cache", path_str(&store)];
    ran_with(&mut enrich(&sandbox, &input, &output, &with_store), 0);
    assert_rerun_paid_none_again(&first, &sandbox.stats(), &numbers);
    let rows = read_csv(&output);
    assert_eq!(rows.len(), numbers.len() + 1);
    for (row, number) in rows[1..].iter().zip(&numbers) {
        assert_eq!(&row[1], number);
        assert_answered(row, number);
    }
}

#[test]
fn sigterm_waits_for_requests_in_flight_and_a_second_signal_exits_at_once() {
    let sandbox = slow_sandbox(Duration::from_secs(3));
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "numbers.csv", &distinct_numbers(50));
    let output = dir.path().join("out.csv");
    let store = dir.path().join("answers.sqlite");

    let mut child = spawn_enrich(&sandbox, &input, &output, &store);
    let in_flight = wait_for(Duration::from_secs(30), || sandbox.stats().requests >= 4);
    signal(&child, "TERM");
    std::thread::sleep(Duration::from_millis(500));
    let early = child.try_wait().expect("the child can be waited on");
    if early.is_some() {
        let ran = Ran::from(child.wait_with_output().expect("the child's output"));
        panic!(
            "the first SIGTERM ended tenure at once (exit {}) instead of letting the requests \
             in flight end; stderr:\n{}",
            ran.code, ran.stderr
        );
    }
    signal(&child, "INT");
    let ran = finish(child, Duration::from_secs(10));
    assert!(in_flight, "requests were in flight");
    // The forced path, not the orderly one: no timing asserted, the
    // handler says which way it left.
    assert!(
        ran.stderr.contains("interrupted again, exiting now"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.code, 130, "{}", ran.stderr);
    assert!(!output.exists(), "nothing at the output path");
    // Review finding: the forced exit left the partial output behind.
    let leftovers = partials(dir.path());
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");
}

#[test]
fn one_sigterm_is_an_interrupt_too() {
    let sandbox = slow_sandbox(Duration::from_millis(200));
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "numbers.csv", &distinct_numbers(200));
    let output = dir.path().join("out.csv");
    let store = dir.path().join("answers.sqlite");
    let child = spawn_enrich(&sandbox, &input, &output, &store);
    let started = wait_for(Duration::from_secs(30), || sandbox.stats().billed >= 4);
    signal(&child, "TERM");
    let ran = finish(child, Duration::from_secs(20));
    assert!(started);
    assert_eq!(ran.code, 130, "{}", ran.stderr);
    assert!(!output.exists());
    let billed = billed_numbers(&sandbox.stats());
    assert_in_store(&store, &sandbox.url(), &billed);
}
