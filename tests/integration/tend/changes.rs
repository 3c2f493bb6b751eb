//! `tenure cache changes` (DESIGN §7, issue 13, point 3): the numbers whose
//! answer changed between two nights an "epoch" apart, with the change,
//! before and after, as CSV or JSON Lines, for one source only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use tenure::sandbox::{SandboxConfig, answer_at, change_between};

use super::stdout_of;
use crate::common::*;

/// The CSV header of `cache changes`, as DESIGN §7 names the columns.
const HEADER: [&str; 14] = [
    "number",
    "source",
    "at",
    "change",
    "before_code",
    "before_tenure",
    "before_province",
    "before_city",
    "before_isp",
    "after_code",
    "after_tenure",
    "after_province",
    "after_city",
    "after_isp",
];

/// Answered numbers whose answer changes from epoch 0 to 1 (at least 20,
/// at most 40), and 20 whose answer does not.
fn changing_and_steady() -> (Vec<String>, Vec<String>) {
    let candidates = answered_numbers(600);
    let changing: Vec<String> = candidates
        .iter()
        .filter(|n| !change_between(n, 0, 1).expect("answered").is_empty())
        .take(40)
        .cloned()
        .collect();
    assert!(changing.len() >= 20, "{} numbers change", changing.len());
    let steady: Vec<String> = candidates
        .iter()
        .filter(|n| change_between(n, 0, 1).expect("answered").is_empty())
        .take(20)
        .cloned()
        .collect();
    (changing, steady)
}

/// Two nights on `input`: one against a sandbox at epoch 0, one against a
/// sandbox at epoch 1 on the same port (so the same source) with
/// `--max-age 0s`, each to exit 0. The sandboxes' URL.
fn two_epochs(input: &Path, out: &Path) -> String {
    let night1 = sandbox(SandboxConfig::default());
    let addr = night1.addr();
    let url = night1.url();
    ran_with(&mut enrich(&night1, input, out, &[]), 0);
    drop(night1);
    let night2 = sandbox_on(
        addr,
        SandboxConfig {
            epoch: 1,
            ..SandboxConfig::default()
        },
    );
    ran_with(&mut enrich(&night2, input, out, &["--max-age", "0s"]), 0);
    url
}

/// The numbers the CSV `csv` lists, with their change, each record checked
/// against the sandbox's answers at epochs 0 and 1 and the source `url`.
fn listed_in_csv(csv: &str, url: &str) -> BTreeMap<String, String> {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(
        reader
            .headers()
            .expect("a header")
            .iter()
            .collect::<Vec<_>>(),
        HEADER
    );
    let mut listed = BTreeMap::new();
    for record in reader.records() {
        let record = record.expect("a CSV record");
        let number = record[0].to_owned();
        let kinds: Vec<&str> = change_between(&number, 0, 1)
            .expect("answered")
            .iter()
            .map(|kind| kind.as_str())
            .collect();
        assert_eq!(&record[1], url);
        assert!(
            record[2].parse::<jiff::Timestamp>().is_ok(),
            "{}",
            &record[2]
        );
        assert_eq!(&record[3], kinds.join(";"), "{number}");
        let (before, after) = (answer_at(&number, 0), answer_at(&number, 1));
        let (before, after) = (before.expect("answered"), after.expect("answered"));
        assert_eq!(
            (&record[4], &record[8]),
            (before.code, before.isp),
            "{number}"
        );
        assert_eq!(
            (&record[9], &record[13]),
            (after.code, after.isp),
            "{number}"
        );
        assert_eq!((&record[7], &record[12]), (before.city, after.city));
        listed.insert(number, record[3].to_owned());
    }
    listed
}

/// The numbers the JSON Lines `jsonl` lists, with their change, each line
/// checked against the sandbox's answer at epoch 1 and the source `url`.
fn listed_in_json(jsonl: &str, url: &str) -> BTreeMap<String, String> {
    let mut from_json = BTreeMap::new();
    for line in jsonl.lines() {
        let line: Value = serde_json::from_str(line).expect("one JSON object a line");
        let number = line["number"].as_str().expect("a number").to_owned();
        let after = answer_at(&number, 1).expect("answered");
        assert_eq!(line["after"]["code"], after.code);
        assert_eq!(line["after"]["tenure"], after.desc);
        assert_eq!(line["source"], url);
        from_json.insert(
            number,
            line["change"].as_str().expect("a change").to_owned(),
        );
    }
    from_json
}

/// DESIGN §7 (issue 13, point 3): two nights an "epoch" apart; `changes`
/// lists exactly the numbers whose answer changed, with the change, before
/// and after, for the source asked: the endpoint's, not the real API's nor
/// the sandbox's.
#[test]
fn cache_changes_lists_the_numbers_whose_answer_changed() {
    let dir = tempdir();
    let (changing, steady) = changing_and_steady();
    let numbers: Vec<String> = changing.iter().chain(&steady).cloned().collect();
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let url = two_epochs(&input, &dir.path().join("out.csv"));

    let ran = ran_with(
        tenure().args(["cache", "changes", "--since", "30d", "--endpoint", &url]),
        0,
    );
    assert_eq!(ran.stderr, "");
    let listed = listed_in_csv(&ran.stdout, &url);
    let want: BTreeSet<&String> = changing.iter().collect();
    assert_eq!(listed.keys().collect::<BTreeSet<_>>(), want);

    let jsonl = stdout_of(&["cache", "changes", "--json", "--endpoint", &url]);
    assert_eq!(listed_in_json(&jsonl, &url), listed);

    // Other sources, and a window with nothing in it: the header alone.
    let header_only = |args: &[&str]| {
        let out = stdout_of(&[&["cache", "changes"], args].concat());
        assert_eq!(out.lines().count(), 1, "{args:?}: {out}");
    };
    header_only(&[]);
    header_only(&["--sandbox"]);
    header_only(&["--sandbox", "--endpoint", &url]);
    header_only(&["--since", "0s", "--endpoint", &url]);
    let out = ran_with(
        tenure()
            .env("TENURE_ENDPOINT", &url)
            .args(["cache", "changes"]),
        0,
    )
    .stdout;
    assert_eq!(out.lines().count(), changing.len() + 1, "TENURE_ENDPOINT");
}
