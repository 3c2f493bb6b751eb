//! `tenure check` against the sample's known make-up, worked out here from
//! the file with the tool's number rules and a set; and what it counts as
//! already in the store.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde_json::Value;
use tenure::number;
use tenure::sandbox::SandboxConfig;

use crate::common::*;

/// The sample's make-up.
#[derive(Debug, Default)]
struct MakeUp {
    rows: u64,
    valid: u64,
    invalid: u64,
    /// By reason code: how many rows, and the first five of them.
    by_reason: BTreeMap<String, (u64, Vec<u64>)>,
    distinct: u64,
    duplicates: u64,
}

fn sample_make_up() -> MakeUp {
    let mut reader = csv::Reader::from_path(sample_path()).expect("the sample is readable");
    let column = reader
        .headers()
        .expect("the sample has headers")
        .iter()
        .position(|h| h == "mobile")
        .expect("the sample has a mobile column");
    let mut make_up = MakeUp::default();
    let mut seen = HashSet::new();
    for record in reader.records() {
        let record = record.expect("the sample is valid CSV");
        make_up.rows += 1;
        match number::parse(&record[column]) {
            Ok(number) => {
                make_up.valid += 1;
                if !seen.insert(number) {
                    make_up.duplicates += 1;
                }
            }
            Err(invalid) => {
                make_up.invalid += 1;
                let (count, rows) = make_up
                    .by_reason
                    .entry(invalid.code().to_owned())
                    .or_default();
                *count += 1;
                if rows.len() < 5 {
                    rows.push(make_up.rows);
                }
            }
        }
    }
    make_up.distinct = seen.len() as u64;
    make_up
}

/// What fixtures/make_sample.py builds: 300 rows; the invalid ones are
/// exactly those at i % 25 == 7, cycling through its list of ten.
fn assert_is_what_make_sample_builds(make_up: &MakeUp) {
    assert_eq!(make_up.rows, 300);
    assert_eq!(make_up.invalid, 12);
    assert_eq!(make_up.valid, 288);
    let invalid_rows: Vec<u64> = make_up
        .by_reason
        .values()
        .flat_map(|(_, rows)| rows.iter().copied())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let expected_rows: Vec<u64> = (0..300u64).filter(|i| i % 25 == 7).map(|i| i + 1).collect();
    assert_eq!(invalid_rows, expected_rows);
    let counts: BTreeMap<&str, u64> = make_up
        .by_reason
        .iter()
        .map(|(code, (count, _))| (code.as_str(), *count))
        .collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("bad_prefix", 2),          // 12345678901, 23800138000
            ("empty", 2),               // "" twice
            ("letters", 2),             // abc, N/A
            ("scientific_notation", 3), // 1.38001E+10 twice, 1.39123E+10
            ("several_numbers", 1),     // 13800138000/13900139000
            ("too_long", 1),            // 138001380001
            ("too_short", 1),           // 1380013800
        ])
    );
    assert_eq!(make_up.distinct + make_up.duplicates, make_up.valid);
    assert!(make_up.duplicates > 0 && make_up.distinct <= 220);
}

/// `check --json` on the sample says what `make_up` says, with nothing in
/// the store.
fn assert_json_report(report: &Value, make_up: &MakeUp) {
    assert_eq!(report["rows"], make_up.rows);
    assert_eq!(report["valid"], make_up.valid);
    assert_eq!(report["invalid"], make_up.invalid);
    assert_eq!(report["distinct"], make_up.distinct);
    assert_eq!(report["duplicates"], make_up.duplicates);
    assert_eq!(report["in_store"], 0);
    assert_eq!(report["to_query"], make_up.distinct);
    let reasons = report["invalid_by_reason"]
        .as_object()
        .expect("invalid_by_reason is an object");
    assert_eq!(reasons.len(), make_up.by_reason.len(), "{reasons:?}");
    for (code, (count, rows)) in &make_up.by_reason {
        let reason = &reasons[code];
        assert_eq!(reason["count"], *count, "{code}");
        assert_eq!(reason["rows"], serde_json::json!(rows), "{code}");
        assert!(
            !reason["example"].as_str().unwrap_or("").is_empty(),
            "{code} has an example reason"
        );
    }
}

/// The report's time estimate is `to_query` numbers at `qps`, less the
/// limiter's 20 ms of slack a second (the concurrency model's rate).
fn assert_estimate(report: &Value, to_query: u64, qps: f64) {
    let secs = report["estimated_secs"].as_f64().expect("a number");
    let rate = qps * 1000.0 / 1020.0;
    assert!((secs - to_query as f64 / rate).abs() < 1e-6, "{secs}");
}

/// The count on the line of the human table that starts with `label`.
fn table_count(table: &str, label: &str) -> u64 {
    let line = table
        .lines()
        .find(|line| line.trim_start().starts_with(label))
        .unwrap_or_else(|| panic!("a {label:?} line in:\n{table}"));
    line[line.find(label).expect("found above") + label.len()..]
        .split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a count on {line:?}"))
}

/// The human table says what `make_up` says.
fn assert_table(table: &str, make_up: &MakeUp) {
    assert_eq!(table_count(table, "rows"), make_up.rows);
    assert_eq!(table_count(table, "valid numbers"), make_up.valid);
    assert_eq!(table_count(table, "invalid numbers"), make_up.invalid);
    assert_eq!(table_count(table, "distinct numbers"), make_up.distinct);
    assert_eq!(table_count(table, "duplicate rows"), make_up.duplicates);
    for (code, (count, _)) in &make_up.by_reason {
        assert_eq!(table_count(table, code), *count, "{code}");
    }
    // No number is printed whole (they are personal data); row numbers are.
    for (_, rows) in make_up.by_reason.values() {
        for row in rows {
            assert!(table.contains(&row.to_string()));
        }
    }
}

#[test]
fn check_reports_the_sample_make_up() {
    let make_up = sample_make_up();
    assert_is_what_make_sample_builds(&make_up);

    // --json, with no key in the environment.
    let report = stdout_json(tenure().arg("check").arg(sample_path()).arg("--json"));
    assert_eq!(report["rows"], 300);
    assert_json_report(&report, &make_up);
    // At the default 10 qps.
    assert_estimate(&report, make_up.distinct, 10.0);
    let report = stdout_json(
        tenure()
            .arg("check")
            .arg(sample_path())
            .args(["--json", "--qps", "50"]),
    );
    assert_estimate(&report, make_up.distinct, 50.0);

    // The human table says the same.
    let ran = ran_with(tenure().arg("check").arg(sample_path()), 0);
    assert_table(&ran.stdout, &make_up);
}

/// `check --json` on the sample with this store and endpoint, and `extra`.
fn check_with_store(store: &Path, endpoint: &str, extra: &[&str]) -> Value {
    stdout_json(
        tenure()
            .arg("check")
            .arg(sample_path())
            .arg("--cache")
            .arg(store)
            .args(["--endpoint", endpoint, "--json"])
            .args(extra),
    )
}

#[test]
fn check_counts_what_the_store_already_holds() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let store = dir.path().join("answers.sqlite");
    let out = dir.path().join("out.csv");
    let make_up = sample_make_up();
    let with_store = ["--cache", path_str(&store)];
    ran_with(&mut enrich(&sandbox, &sample_path(), &out, &with_store), 0);
    let answered = sandbox.stats().numbers.len() as u64;
    assert_eq!(answered, make_up.distinct, "the sandbox saw every number");
    let requests = sandbox.stats().requests;

    // No key in the environment: check is offline.
    let report = check_with_store(&store, &sandbox.url(), &[]);
    assert_eq!(report["in_store"], answered);
    assert_eq!(report["to_query"], 0);
    assert_eq!(report["estimated_secs"].as_f64(), Some(0.0));
    assert_eq!(report["distinct"], make_up.distinct);
    assert_eq!(sandbox.stats().requests, requests, "check sent nothing");

    // Answers are kept per source: another endpoint's run would pay again.
    let report = check_with_store(&store, "http://127.0.0.1:9", &[]);
    assert_eq!(report["in_store"], 0);
    assert_eq!(report["to_query"], make_up.distinct);

    // --max-age applies as in enrich.
    let report = check_with_store(&store, &sandbox.url(), &["--max-age", "0s"]);
    assert_eq!(report["in_store"], 0);

    // The rerun the report predicts bills nothing.
    let billed = sandbox.stats().billed;
    let out = dir.path().join("again.csv");
    ran_with(&mut enrich(&sandbox, &sample_path(), &out, &with_store), 0);
    assert_eq!(sandbox.stats().billed, billed);
}
