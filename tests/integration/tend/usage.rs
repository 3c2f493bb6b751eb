//! `tenure usage` (DESIGN §6): the bill from the store's ledger, by day in
//! a time zone or by run, its billed total the billed answers received;
//! runs of `enrich --sandbox` counted only when asked.

use std::path::Path;

use serde_json::Value;
use tenure::sandbox::{Sandbox, SandboxConfig};

use super::{count, stdout_of, totals, usage_json};
use crate::common::*;

/// Night 1: `answered[..30]` and an unknown number; night 2:
/// `answered[20..]` (10 of night 1's, answered from the store) and another.
/// Each night's run exits 0; their summaries.
fn two_nights(
    sandbox: &Sandbox,
    dir: &Path,
    answered: &[String],
    unknown: &[String],
) -> Vec<Value> {
    let first: Vec<String> = answered[..30]
        .iter()
        .chain(&unknown[..1])
        .cloned()
        .collect();
    let second: Vec<String> = answered[20..]
        .iter()
        .chain(&unknown[1..])
        .cloned()
        .collect();
    let mut summaries = Vec::new();
    for (night, numbers) in [&first, &second].into_iter().enumerate() {
        let input = numbers_csv(dir, &format!("in{night}.csv"), numbers);
        let summary = dir.join(format!("summary{night}.json"));
        ran_with(
            &mut enrich(
                sandbox,
                &input,
                &dir.join(format!("out{night}.csv")),
                &["--summary-json", path_str(&summary)],
            ),
            0,
        );
        summaries.push(read_json(&summary));
    }
    summaries
}

/// A run of `enrich --sandbox` (the in-process simulator, not `sandbox`) on
/// `numbers`, to exit 0; its summary.
fn sandboxed_run(sandbox: &Sandbox, dir: &Path, numbers: &[String]) -> Value {
    let input = numbers_csv(dir, "sandboxed.csv", numbers);
    let summary = dir.join("sandboxed.json");
    ran_with(
        &mut enrich(
            sandbox,
            &input,
            &dir.join("sandboxed.out.csv"),
            &["--sandbox", "--summary-json", path_str(&summary)],
        ),
        0,
    );
    read_json(&summary)
}

/// Asserts that each row of `by_day` names a day and no run.
fn assert_days(by_day: &[Value]) {
    for row in by_day {
        let day = row["day"].as_str().expect("a day");
        assert!(
            jiff::civil::Date::strptime("%Y-%m-%d", day).is_ok(),
            "{day}"
        );
        assert!(row.get("run").is_none());
    }
}

/// Asserts that `by_run` has one row per summary, with its billed and
/// requests, and no day.
fn assert_runs(by_run: &[Value], summaries: &[Value]) {
    assert_eq!(by_run.len(), 2, "{by_run:?}");
    for summary in summaries {
        let row = by_run
            .iter()
            .find(|row| row["run"] == summary["run"])
            .unwrap_or_else(|| panic!("run {} in {by_run:?}", summary["run"]));
        assert_eq!(row["billed"], summary["billed"]);
        assert_eq!(row["requests"], summary["requests"]);
        assert!(row.get("day").is_none());
    }
}

/// Asserts that the table of `usage --sandbox` ends with the totals of
/// `with` and says sandbox runs are in, and plain `usage` that they are out.
fn assert_tables(with: &[Value]) {
    let table = stdout_of(&["usage", "--sandbox"]);
    let total: Vec<&str> = table
        .lines()
        .find(|line| line.starts_with("total"))
        .unwrap_or_else(|| panic!("a total line in:\n{table}"))
        .split_whitespace()
        .collect();
    let want = totals(with).map(|n| n.to_string());
    assert_eq!(total[1..], want, "{table}");
    assert!(table.contains("sandbox runs included"), "{table}");
    let table = stdout_of(&["usage"]);
    assert!(table.contains("sandbox runs left out"), "{table}");
}

/// DESIGN §6: the billed total of `tenure usage` equals the billed answers
/// received, over two runs with a dropped connection, a retried 224805, a
/// free 224801 and rows answered from the store; runs of `enrich --sandbox`
/// count only with `--sandbox`, runs against a sandbox's `--endpoint` like
/// the real API's.
#[test]
fn usage_billed_total_equals_the_billed_answers_received() {
    let dir = tempdir();
    let answered = answered_numbers(60);
    let unknown = unknown_numbers(2);
    let sandbox = sandbox(scripted(&[
        format!("{}=drop,ok", answered[0]),
        format!("{}=224805,ok", answered[40]),
    ]));
    let summaries = two_nights(&sandbox, dir.path(), &answered, &unknown);
    let stats = sandbox.stats();
    assert_eq!(stats.billed, 60, "each answered number billed once");
    let billed: u64 = summaries.iter().map(|s| count(&s["billed"])).sum();
    let requests: u64 = summaries.iter().map(|s| count(&s["requests"])).sum();
    assert_eq!(billed, stats.billed);
    assert_eq!(requests, stats.requests);

    let by_day = usage_json(&[]);
    assert_eq!(
        totals(&by_day),
        [stats.billed, stats.requests, 1],
        "{by_day:?}"
    );
    assert_days(&by_day);
    assert_eq!(usage_json(&["--sandbox"]), by_day, "no sandbox run yet");
    assert_runs(&usage_json(&["--by", "run"]), &summaries);

    // A run of `enrich --sandbox` (the in-process simulator) is counted
    // only with --sandbox.
    let sandboxed = sandboxed_run(&sandbox, dir.path(), &answered[..12]);
    assert_eq!(sandboxed["sandbox"], true);
    assert_eq!(
        count(&sandboxed["billed"]),
        12,
        "another source: paid again"
    );
    assert_eq!(sandbox.stats().billed, stats.billed, "not this sandbox");
    assert_eq!(totals(&usage_json(&[])), totals(&by_day), "left out");
    let with = usage_json(&["--sandbox"]);
    assert_eq!(
        totals(&with),
        [
            stats.billed + 12,
            stats.requests + count(&sandboxed["requests"]),
            1
        ]
    );
    let runs = usage_json(&["--by", "run", "--sandbox"]);
    assert!(runs.iter().any(|row| row["run"] == sandboxed["run"]));
    assert_eq!(runs.len(), 3);

    // The table says the same, with a total line.
    assert_tables(&with);
}

/// DESIGN §6: days are the time zone's (Asia/Shanghai by default) and whole:
/// `--since 0s` is today, from midnight.
#[test]
fn usage_days_are_whole_days_in_the_time_zone() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let numbers = answered_numbers(5);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let today = |offset: i8| {
        let zone = jiff::tz::TimeZone::fixed(jiff::tz::Offset::constant(offset));
        jiff::Timestamp::now().to_zoned(zone).date().to_string()
    };
    let before = [today(8), today(14), today(-11)];
    ran_with(
        &mut enrich(&sandbox, &input, &dir.path().join("out.csv"), &[]),
        0,
    );
    let after = [today(8), today(14), today(-11)];
    let mut days = Vec::new();
    for (i, tz) in [None, Some("+14:00"), Some("-11:00")]
        .into_iter()
        .enumerate()
    {
        let mut args = vec!["--since", "0s"];
        args.extend(tz.map(|tz| ["--tz", tz]).into_iter().flatten());
        let rows = usage_json(&args);
        assert_eq!(rows.len(), 1, "{tz:?}: {rows:?}");
        assert_eq!(count(&rows[0]["billed"]), 5);
        let day = rows[0]["day"].as_str().expect("a day").to_owned();
        assert!(
            day == before[i] || day == after[i],
            "{tz:?}: {day}, not {} or {}",
            before[i],
            after[i]
        );
        days.push(day);
    }
    // UTC+14 and UTC-11 are 25 hours apart: never the same date.
    assert_ne!(days[1], days[2]);
    // The environment sets it too.
    let rows = stdout_json(
        tenure()
            .env("TENURE_TZ", "+14:00")
            .args(["usage", "--json", "--since", "0s"]),
    );
    assert_eq!(rows[0]["day"], days[1].as_str());
}

#[test]
fn usage_refuses_an_unknown_time_zone_naming_the_flag() {
    for (env, args) in [
        (None, vec!["usage", "--tz", "Mars/Olympus_Mons"]),
        (Some("Mars/Olympus_Mons"), vec!["usage"]),
    ] {
        let mut command = tenure();
        if let Some(zone) = env {
            command.env("TENURE_TZ", zone);
        }
        let ran = ran_with(command.args(&args), 2);
        assert!(ran.stderr.contains("--tz"), "{}", ran.stderr);
        assert!(ran.stderr.contains("Mars/Olympus_Mons"), "{}", ran.stderr);
    }
    let ran = ran_with(tenure().args(["usage", "--by", "week"]), 2);
    assert!(ran.stderr.contains("--by"), "{}", ran.stderr);
}
