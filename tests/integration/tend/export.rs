//! `tenure cache export`: every answer, as CSV or JSON Lines, with whole
//! numbers and the encrypted endpoint's `orderid`; never over the store
//! itself, and quiet when its reader goes away.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;

use serde_json::Value;
use tenure::sandbox::{DEFAULT_OPENID, Sandbox, SandboxConfig, answer_for};

use super::{count, stats_json, stdout_of};
use crate::common::*;

/// The export's CSV header, as DESIGN §4 names the columns.
const HEADER: [&str; 12] = [
    "number",
    "source",
    "code",
    "tenure",
    "province",
    "city",
    "isp",
    "reason",
    "endpoint",
    "answered_at",
    "change",
    "orderid",
];

/// Asserts that the CSV export `csv` holds `sandbox`'s answer for each of
/// `numbers`, once, with an `orderid` exactly for those in `encrypted`.
fn assert_exported(csv: &str, sandbox: &Sandbox, numbers: &[String], encrypted: &[String]) {
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header, HEADER);
    let mut seen = BTreeSet::new();
    for record in reader.records() {
        let record = record.expect("a CSV record");
        let number = record[0].to_owned();
        let expected = answer_for(&number).expect("an answered number");
        assert_eq!(&record[1], sandbox.url());
        assert_eq!(&record[2], expected.code);
        assert_eq!(&record[6], expected.isp);
        assert_eq!(&record[10], "new");
        if encrypted.contains(&number) {
            assert_eq!(&record[8], "queryEncry");
            assert!(!record[11].is_empty(), "an orderid for {number}");
        } else {
            assert_eq!(&record[8], "query");
            assert_eq!(&record[11], "");
        }
        seen.insert(number);
    }
    assert_eq!(seen, numbers.iter().cloned().collect::<BTreeSet<_>>());
}

/// Issue 13, point 5: the export holds every answer, whole numbers and the
/// encrypted endpoint's `orderid`; `-o FILE` writes the same bytes.
#[test]
fn cache_export_writes_every_answer_with_its_orderid() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let numbers = answered_numbers(10);
    let (encrypted, plain) = numbers.split_at(6);
    let out = dir.path().join("out.csv");
    let input = numbers_csv(dir.path(), "encrypted.csv", encrypted);
    ran_with(
        enrich(&sandbox, &input, &out, &["--encrypt"]).env("JUHE_OPENID", DEFAULT_OPENID),
        0,
    );
    let input = numbers_csv(dir.path(), "plain.csv", plain);
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);

    let ran = ran_with(tenure().args(["cache", "export"]), 0);
    assert_eq!(ran.stderr, "");
    assert_exported(&ran.stdout, &sandbox, &numbers, encrypted);

    let file = dir.path().join("answers.csv");
    ran_with(tenure().args(["cache", "export", "-o", path_str(&file)]), 0);
    assert_eq!(std::fs::read_to_string(&file).expect("written"), ran.stdout);

    let jsonl = stdout_of(&["cache", "export", "--format", "jsonl"]);
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object a line"))
        .collect();
    assert_eq!(lines.len(), 10);
    for line in &lines {
        let number = line["number"].as_str().expect("a number");
        assert_eq!(
            line["orderid"].is_string(),
            encrypted.iter().any(|n| n == number),
            "{line}"
        );
        assert!(line["answered_at"].as_str().expect("a time").ends_with('Z'));
    }
}

/// An export over the store itself would replace it: refused before
/// anything is written.
#[test]
fn cache_export_refuses_to_replace_the_store() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let numbers = answered_numbers(3);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    ran_with(
        &mut enrich(&sandbox, &input, &dir.path().join("o.csv"), &[]),
        0,
    );
    let before = std::fs::read(default_store()).expect("the store");
    let ran = ran_with(
        tenure().args(["cache", "export", "-o", path_str(&default_store())]),
        2,
    );
    assert!(ran.stderr.contains("the store itself"), "{}", ran.stderr);
    assert_eq!(std::fs::read(default_store()).expect("kept"), before);
    assert_eq!(count(&stats_json(&[])["answers"]), 3);
}

/// A reader that goes away (`tenure cache export | head -1`) ends the
/// export quietly, like any Unix filter.
#[test]
fn cache_export_into_a_closed_pipe_ends_quietly() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    // About 90 bytes a line: well beyond a pipe's 64 KiB buffer.
    let numbers = answered_numbers(1500);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    ran_with(
        &mut enrich(&sandbox, &input, &dir.path().join("o.csv"), &[]),
        0,
    );
    let mut child = tenure_process()
        .args(["cache", "export"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tenure starts");
    let mut first = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut first)
        .expect("a line");
    assert!(first.starts_with("number,source"), "{first}");
    // The reader is dropped here: the pipe closes.
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)
        .expect("stderr");
    let status = child.wait().expect("tenure ends");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}
