//! Issue 13: risk signals. Two nights a "month" apart against the sandbox
//! (the second at a later epoch, where the simulator has reassigned, cut,
//! returned, ported and moved a known share of numbers) give exactly the
//! changes the simulator made; a rerun writes the same bytes; a fresh
//! store calls every answer `new`.

use std::collections::BTreeMap;
use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use tenure::sandbox::{self, SimChange};

use crate::common::*;

/// The `change` column the second night must write for `number`.
fn expected_change(number: &str, from: u64, to: u64) -> String {
    match sandbox::change_between(number, from, to) {
        Ok(kinds) if kinds.is_empty() => "same".to_owned(),
        Ok(kinds) => kinds
            .iter()
            .map(|kind| kind.as_str())
            .collect::<Vec<_>>()
            .join(";"),
        // No record: a row answer, with no change.
        Err(_) => String::new(),
    }
}

/// Numbers that show each kind of change between epochs 0 and 1, a few
/// that stay the same, and one without a record.
fn numbers_of_every_kind() -> Vec<String> {
    let mut wanted: BTreeMap<&str, usize> = [
        ("reassigned", 3),
        ("left", 3),
        ("returned", 2),
        ("isp", 3),
        ("region", 3),
        ("same", 4),
        ("", 1),
    ]
    .into_iter()
    .collect();
    let mut numbers = Vec::new();
    for i in 0..200_000u64 {
        let number = format!("139{i:08}");
        let change = expected_change(&number, 0, 1);
        if let Some(left) = wanted.get_mut(change.as_str())
            && *left > 0
        {
            *left -= 1;
            numbers.push(number);
        }
        if wanted.values().all(|&left| left == 0) {
            return numbers;
        }
    }
    panic!("the sandbox's epochs lack a kind: {wanted:?}");
}

/// The `change` column of an output, by number.
fn changes_by_number(output: &Path) -> BTreeMap<String, String> {
    let rows = read_csv(output);
    let header = &rows[0];
    let mobile = header
        .iter()
        .position(|h| h == "mobile")
        .expect("a mobile column");
    assert_eq!(
        header.last().map(String::as_str),
        Some("change"),
        "{header:?}"
    );
    rows[1..]
        .iter()
        .map(|row| (row[mobile].clone(), row.last().cloned().unwrap_or_default()))
        .collect()
}

fn night(input: &Path, output: &Path, epoch: u64, extra: &[&str]) -> Ran {
    let epoch = epoch.to_string();
    let mut command = tenure();
    command
        .arg("enrich")
        .arg(input)
        .arg("-o")
        .arg(output)
        .args([
            "--sandbox",
            "--qps",
            "1000",
            "--changes",
            "--sandbox-epoch",
            &epoch,
        ])
        .args(extra);
    ran_with(&mut command, 0)
}

#[test]
fn two_nights_a_month_apart_show_every_kind_of_change() {
    two_nights(&[]);
}

#[test]
fn two_nights_on_a_postgresql_store_show_every_kind_of_change() {
    if let Some(schema) =
        postgres_schema("two_nights_on_a_postgresql_store_show_every_kind_of_change")
    {
        two_nights(&["--cache", &schema.url]);
    }
}

/// Two nights, a rerun of the second, with `store` flags on every run.
fn two_nights(store: &[&str]) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = numbers_of_every_kind();
    let input = numbers_csv(dir.path(), "numbers.csv", &numbers);
    let first = dir.path().join("night1.csv");
    night(&input, &first, 0, store);
    for (number, change) in changes_by_number(&first) {
        let expected = if expected_change(&number, 0, 0).is_empty() {
            ""
        } else {
            "new"
        };
        assert_eq!(change, expected, "{number} on the first night");
    }

    let second = dir.path().join("night2.csv");
    let summary = dir.path().join("summary.json");
    let summary_arg = summary.display().to_string();
    let mut flags = vec!["--max-age", "0s", "--summary-json", &summary_arg];
    flags.extend(store);
    night(&input, &second, 1, &flags);
    let changes = changes_by_number(&second);
    for number in &numbers {
        assert_eq!(changes[number], expected_change(number, 0, 1), "{number}");
    }
    // The summary counts each kind.
    let json = read_json(&summary);
    for kind in [
        SimChange::Reassigned,
        SimChange::Left,
        SimChange::Returned,
        SimChange::Isp,
        SimChange::Region,
    ] {
        let rows = changes
            .values()
            .filter(|c| c.split(';').any(|k| k == kind.as_str()));
        assert_eq!(json["changes"][kind.as_str()], rows.count(), "{json}");
    }

    // The second night again, from the store: the same bytes.
    let again = dir.path().join("night2-again.csv");
    night(&input, &again, 1, store);
    assert_eq!(
        std::fs::read(&again).expect("written"),
        std::fs::read(&second).expect("written"),
        "a rerun writes the same change values"
    );
}

/// `-o -`, `--encrypt` and a GBK input write the same changes.
#[test]
fn changes_come_through_stdout_encryption_and_gbk_input() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = numbers_of_every_kind();
    let mut text = String::from("姓名,mobile\n");
    for number in &numbers {
        text.push_str(&format!("张三,{number}\n"));
    }
    let (gbk, _, _) = encoding_rs::GB18030.encode(&text);
    let input = write(dir.path(), "gbk.csv", &gbk);
    night(&input, &dir.path().join("night1.csv"), 0, &["--encrypt"]);
    let ran = night(&input, Path::new("-"), 1, &["--encrypt", "--max-age", "0s"]);
    let second = write(dir.path(), "night2.csv", &ran.stdout);
    let changes = changes_by_number(&second);
    for number in &numbers {
        assert_eq!(changes[number], expected_change(number, 0, 1), "{number}");
    }
}

/// On a fresh store every answered row is `new`, whatever the numbers.
#[test]
fn every_answer_is_new_on_a_fresh_store() {
    let mut runner = TestRunner::new(Config {
        cases: 6,
        failure_persistence: None,
        ..Config::default()
    });
    let numbers = proptest::collection::vec(0u64..100_000_000, 1..40);
    runner
        .run(&numbers, |picks| {
            let dir = tempfile::tempdir().expect("a temporary folder");
            let numbers: Vec<String> = picks.iter().map(|n| format!("138{n:08}")).collect();
            let input = numbers_csv(dir.path(), "in.csv", &numbers);
            let output = dir.path().join("out.csv");
            let store = dir.path().join("fresh.sqlite");
            let store_arg = store.display().to_string();
            night(&input, &output, 0, &["--cache", &store_arg]);
            for (number, change) in changes_by_number(&output) {
                let answered = sandbox::answer_for(&number).is_ok();
                prop_assert_eq!(change, if answered { "new" } else { "" }, "{}", number);
            }
            Ok(())
        })
        .expect("every answered row is new on a fresh store");
}

/// Issue 12 point 5: a run that met 10011s says to lower --qps.
#[test]
fn a_run_that_met_10011_says_to_lower_qps() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(tenure::sandbox::SandboxConfig {
        rate_limit: Some(5),
        ..Default::default()
    });
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(30));
    let output = dir.path().join("out.csv");
    let summary = dir.path().join("summary.json");
    let ran = ran(enrich(
        &sandbox,
        &input,
        &output,
        &["--qps", "50", "--summary-json"],
    )
    .arg(&summary));
    assert!(
        sandbox.stats().codes.contains_key("10011"),
        "the sandbox throttled"
    );
    assert!(ran.stderr.contains("lower --qps"), "{}", ran.stderr);
    let json = read_json(&summary);
    assert!(json["throttled"].as_u64().is_some_and(|n| n > 0), "{json}");
    assert!(
        json["message"]
            .as_str()
            .is_some_and(|m| m.contains("lower --qps")),
        "{json}"
    );
}
