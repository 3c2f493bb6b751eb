//! Budgets (DESIGN §6, issue 12 point 3): `--max-billed N` caps what one
//! run is billed, `--max-billed-24h N` what a rate group is billed over 24
//! hours, all its runs together. Rows left unasked get `error_code`
//! `budget`; the output is written; exit 3; a rerun goes on with those rows.

use std::path::Path;

use tenure::sandbox::SandboxConfig;

use super::*;

/// A run of 200 numbers with `--max-billed 50` bills at most 50, writes
/// every row (the unasked ones as `budget`), exits 3 saying `budget`; a
/// rerun with a larger budget asks only the rows it left.
fn a_run_stops_at_its_budget_and_a_rerun_asks_only_what_it_left(store: &TeamStore) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(200);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let api = Api::start(&[]);
    let (output, summary) = (dir.path().join("out.csv"), dir.path().join("run.json"));
    let flags = |budget: &'static str| -> Vec<String> {
        [
            "--cache",
            store.arg(),
            "--max-billed",
            budget,
            "--summary-json",
        ]
        .map(str::to_owned)
        .into_iter()
        .chain([summary.display().to_string()])
        .collect()
    };

    let first = flags("50");
    let first: Vec<&str> = first.iter().map(String::as_str).collect();
    let done = wait(spawn(&api, &input, &output, &first));
    assert_exit(&done, 3, "the run over its budget");
    let report = read_json(&summary);
    assert_eq!(report["stopped"], "budget", "{report}");
    assert_eq!(report["exit_code"], 3, "{report}");
    // Every number here is billed when asked, so the run stops exactly at
    // its budget: neither over it nor short of it.
    let billed = api.stats().billed;
    assert_eq!(billed, 50, "billed under --max-billed 50");
    assert_eq!(
        report["billed"], billed,
        "the summary counts what was billed"
    );
    let left = budget_rows(&output, &numbers);
    assert_eq!(
        left.len() as u64,
        200 - billed,
        "every row not billed is a budget row"
    );

    let rerun = flags("1000");
    let rerun: Vec<&str> = rerun.iter().map(String::as_str).collect();
    let done = wait(spawn(&api, &input, &output, &rerun));
    assert_exit(&done, 0, "the rerun with a larger budget");
    assert_complete(&output, &numbers);
    let stats = api.stats();
    assert_eq!(stats.billed, 200, "each number billed once over both runs");
    assert_eq!(stats.requests, 200, "each number asked once over both runs");
    assert_eq!(
        read_json(&summary)["billed"],
        left.len(),
        "the rerun billed only the rows the budget had left"
    );
    let asked_again: Vec<&String> = stats
        .numbers
        .iter()
        .filter(|(_, n)| n.requests > 1)
        .map(|(number, _)| number)
        .collect();
    assert!(asked_again.is_empty(), "asked twice: {asked_again:?}");
}
on_both_backends!(a_run_stops_at_its_budget_and_a_rerun_asks_only_what_it_left);

/// `--max-billed-24h 60` holds for the group, not for each run: two runs
/// started together on different numbers bill at most 60 together, and a
/// third run later finds the group's budget spent (the ledger remembers).
fn a_group_budget_holds_across_runs(store: &TeamStore) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(300);
    let api = Api::start(&["--latency-ms", "5"]);
    let run = |i: usize| {
        let mine = &numbers[i * 100..(i + 1) * 100];
        let input = numbers_csv(dir.path(), &format!("in-{i}.csv"), mine);
        let output = dir.path().join(format!("out-{i}.csv"));
        let extra = ["--cache", store.arg(), "--max-billed-24h", "60"];
        (spawn(&api, &input, &output, &extra), output)
    };
    let together = [run(0), run(1)];
    let mut asked = 0;
    for (i, (child, output)) in together.into_iter().enumerate() {
        // 100 numbers each and 60 for both: neither can finish.
        assert_exit(&wait(child), 3, &format!("run {i}"));
        let mine = &numbers[i * 100..(i + 1) * 100];
        asked += 100 - budget_rows(&output, mine).len() as u64;
    }
    let billed = api.stats().billed;
    assert_eq!(
        billed, 60,
        "billed by two runs under one --max-billed-24h 60"
    );
    assert_eq!(asked, billed, "every row not billed is a budget row");

    let (child, output) = run(2);
    assert_exit(&wait(child), 3, "a later run of the group");
    let later = api.stats().billed - billed;
    assert_eq!(later, 0, "the group's budget was spent before this run");
    assert_eq!(
        budget_rows(&output, &numbers[200..]).len() as u64,
        100 - later,
        "the later run asked only what the budget still allowed"
    );
}
on_both_backends!(a_group_budget_holds_across_runs);

/// A group's budget needs a store the group shares: with `--no-cache`
/// it is a usage error (exit 2), and nothing is sent. Backend-free.
#[test]
fn a_group_budget_without_a_store_is_refused() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(5));
    let output = dir.path().join("out.csv");
    let sandbox = sandbox(SandboxConfig::default());
    for flags in [["--max-billed-24h", "60"], ["--rate-group", "nightly"]] {
        let mut command = enrich(&sandbox, &input, &output, &flags);
        let ran = ran_with(command.arg("--no-cache"), 2);
        assert!(
            ran.stderr.contains(flags[0]) && ran.stderr.contains("--no-cache"),
            "names the flags: {}",
            ran.stderr
        );
    }
    assert_eq!(sandbox.stats().requests, 0, "nothing was sent");
    assert!(!output.exists(), "no output");
}

/// The numbers of `output`'s budget rows, after checking that every other
/// row has its number's answer.
fn budget_rows(output: &Path, numbers: &[String]) -> Vec<String> {
    let rows = read_csv(output);
    assert_eq!(rows.len(), numbers.len() + 1, "a header and one row each");
    let mut left = Vec::new();
    for (row, number) in rows[1..].iter().zip(numbers) {
        assert_eq!(&row[1], number, "rows in input order");
        if row[7] == "budget" {
            assert!(row[2..7].iter().all(String::is_empty), "{row:?}");
            left.push(number.clone());
        } else {
            assert_eq!(row[2..], seven_columns(number), "an answered row");
        }
    }
    left
}
