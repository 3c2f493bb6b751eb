//! What goes in comes out: a spreadsheet export at its worst, row for row
//! and field for field; the shipped sample under `--sandbox`; the number
//! column chosen by name or index, or refused.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tenure::sandbox::{SandboxConfig, Stats};

use crate::common::*;

/// The messy export: a BOM, CRLF line ends, quotes, commas and line breaks
/// in fields, and `a`, `b`, `c` written in several forms, once more each,
/// around three rows that hold no valid number (4, 5, 8).
fn messy_input(dir: &Path, a: &str, b: &str, c: &str) -> PathBuf {
    // `+86 138-0013-8000` style: country prefix, space and dashes.
    let dashed = format!("+86 {}-{}-{}", &b[..3], &b[3..7], &b[7..]);
    // `="…"`: Excel's keep-as-text wrapping, quoted for CSV.
    let excel_text = format!("\"=\"\"{c}\"\"\"");
    let lines = [
        "id,name,mobile,note".to_owned(),
        format!("1,\"Li, Na\",{a},\"she said \"\"call me\"\"\""),
        format!("2,\"多行\r\n备注, with comma\",{},x", full_width(a)),
        format!("3,王芳,{dashed},"),
        "4,Excel,1.38001E+10,lost digits".to_owned(),
        "5,,,".to_owned(),
        format!("6,刘洋,{excel_text},\"\""),
        format!("7,dup,{b},\"line one\nline two\""),
        "8,short,12345,".to_owned(),
        format!("9,dup again,{a},"),
        format!("10,\"trailing \"\"quote\"\"\",{c},end"),
    ];
    let mut bytes = UTF8_BOM.to_vec();
    bytes.extend_from_slice(lines.join("\r\n").as_bytes());
    bytes.extend_from_slice(b"\r\n");
    write(dir, "messy.csv", bytes)
}

/// Each of `numbers` asked and billed exactly once, and nothing else.
fn assert_each_asked_once(stats: &Stats, numbers: &[&str]) {
    let expected: BTreeSet<&str> = numbers.iter().copied().collect();
    let asked: BTreeSet<&str> = stats.numbers.keys().map(String::as_str).collect();
    assert_eq!(asked, expected);
    for number in &expected {
        let counted = stats.numbers[*number];
        assert_eq!((counted.requests, counted.billed), (1, 1), "{number}");
    }
    let count = numbers.len() as u64;
    assert_eq!((stats.requests, stats.billed), (count, count));
}

/// A spreadsheet export at its worst must come back row for row, field for
/// field, with the right answer on every row, and each distinct number
/// paid for once however many forms it appears in (DESIGN §2 Numbers,
/// Output; §3 single-flight).
#[test]
fn messy_input_keeps_every_row_and_field_and_bills_each_number_once() {
    let dir = tempdir();
    let numbers = answered_numbers(3);
    let (a, b, c) = (&numbers[0], &numbers[1], &numbers[2]);
    let input = messy_input(dir.path(), a, b, c);
    let output = dir.path().join("out.csv");
    let sandbox = sandbox(SandboxConfig::default());

    ran_with(&mut enrich(&sandbox, &input, &output, &[]), 0);

    let before = read_csv(&input);
    let after = read_csv(&output);
    assert_eq!(
        before.len(),
        11,
        "the test input parses as 1 header + 10 rows"
    );
    assert_eq!(after.len(), before.len(), "one output row per input row");

    // The header: the BOM is not part of the first column's name, and the
    // seven columns follow the input's own.
    assert_eq!(after[0], enriched_header(&["id", "name", "mobile", "note"]));

    // Every original field, unchanged and in order (compared parsed, so
    // quoting style may differ but content may not).
    for (i, (in_row, out_row)) in before.iter().zip(&after).enumerate().skip(1) {
        assert_eq!(in_row.len(), 4, "input row {i} has 4 fields");
        assert_eq!(out_row.len(), 4 + 7, "output row {i} has 4 + 7 fields");
        assert_eq!(out_row[..4], in_row[..], "output row {i} keeps its fields");
    }

    let appended = |row: usize| after[row][4..].to_vec();
    for (row, number) in [(1, a), (2, a), (3, b), (6, c), (7, b), (9, a), (10, c)] {
        assert_eq!(appended(row), expected_fields(number), "row {row}");
    }
    for row in [4, 5, 8] {
        let fields = appended(row);
        assert_eq!(fields[..5], ["", "", "", "", ""], "row {row}: no answer");
        assert_eq!(fields[5], "invalid_number", "row {row}");
        assert!(!fields[6].trim().is_empty(), "row {row} says why");
    }
    let excel = appended(4)[6].to_lowercase();
    assert!(
        excel.contains("scientific notation") || excel.contains("excel"),
        "the Excel row says what happened to it: {excel}"
    );

    // Each distinct valid number asked and billed exactly once; the invalid
    // ones never sent.
    assert_each_asked_once(&sandbox.stats(), &[a, b, c]);
}

/// The README's first command: `--sandbox` on the shipped sample works
/// with no key, and says its answers are simulated (issue 3, --sandbox).
#[test]
fn sandbox_flag_enriches_the_sample_with_no_key_and_says_simulated() {
    let dir = tempdir();
    let sample = sample_path();
    let output = dir.path().join("enriched.csv");

    let ran = ran_with(
        tenure()
            .arg("enrich")
            .arg(&sample)
            .arg("-o")
            .arg(&output)
            // Quick: the default 10 qps would take half a minute on the sample.
            .args(["--sandbox", "--qps", "1000", "--backoff-base", "1ms"]),
        0,
    );
    assert!(
        ran.stderr.to_lowercase().contains("simulated"),
        "says the answers are simulated: {}",
        ran.stderr
    );
    let before = read_csv(&sample);
    let after = read_csv(&output);
    assert_eq!(after.len(), before.len());
    for (in_row, out_row) in before.iter().zip(&after) {
        assert_eq!(out_row.len(), in_row.len() + 7);
        assert_eq!(out_row[..in_row.len()], in_row[..]);
    }
}

/// An input that already has one of the appended column names (an output
/// of tenure fed back in) stops with a clear error (DESIGN §2 Output).
#[test]
fn an_input_with_an_output_column_name_exits_2_naming_it() {
    let dir = tempdir();
    let n = distinct_numbers(2);
    let input = write(
        dir.path(),
        "in.csv",
        format!("id,mobile,tenure_code\n1,{},3\n2,{},2\n", n[0], n[1]),
    );
    let output = dir.path().join("out.csv");
    let sandbox = sandbox(SandboxConfig::default());

    let ran = ran_with(&mut enrich(&sandbox, &input, &output, &[]), 2);
    // Not only the name: a message listing the headers would have it too.
    assert!(
        ran.stderr
            .contains("already has a column named \"tenure_code\""),
        "names the column: {}",
        ran.stderr
    );
    assert!(!output.exists(), "no output");
    assert_eq!(sandbox.stats().requests, 0, "nothing sent");
}

/// `-c N` and `-c NAME` choose the number column over the auto-detected
/// one (DESIGN §2 options).
#[test]
fn column_flag_picks_the_column_by_index_or_name() {
    let dir = tempdir();
    let n = answered_numbers(9);
    let (phone, backup, main) = (&n[0..3], &n[3..6], &n[6..9]);
    let mut text = String::from("phone,backup,手机号\n");
    for i in 0..3 {
        text.push_str(&format!("{},{},{}\n", phone[i], backup[i], main[i]));
    }
    let input = write(dir.path(), "in.csv", text);

    for (flag, expected) in [("2", backup), ("手机号", main)] {
        let sandbox = sandbox(SandboxConfig::default());
        let output = dir.path().join(format!("out-{flag}.csv"));
        ran_with(&mut enrich(&sandbox, &input, &output, &["-c", flag]), 0);
        let stats = sandbox.stats();
        let asked: BTreeSet<&String> = stats.numbers.keys().collect();
        assert_eq!(asked, expected.iter().collect(), "-c {flag}");
        let rows = read_csv(&output);
        assert_eq!(rows.len(), 4);
        for (row, number) in rows.iter().skip(1).zip(expected) {
            assert_eq!(row[3..], expected_fields(number), "-c {flag}");
        }
    }
}

/// With no header named like a number column, say so and list the
/// headers, so the user can pick one with -c (DESIGN §2 options).
#[test]
fn no_recognisable_number_column_exits_2_listing_the_headers() {
    let dir = tempdir();
    let n = distinct_numbers(2);
    let input = write(
        dir.path(),
        "in.csv",
        format!("customer,contact_xyz,remark\na,{},x\nb,{},y\n", n[0], n[1]),
    );
    let output = dir.path().join("out.csv");
    let sandbox = sandbox(SandboxConfig::default());

    let ran = ran_with(&mut enrich(&sandbox, &input, &output, &[]), 2);
    for header in ["customer", "contact_xyz", "remark"] {
        assert!(
            ran.stderr.contains(header),
            "lists {header}: {}",
            ran.stderr
        );
    }
    assert!(!output.exists());
    assert_eq!(sandbox.stats().requests, 0);
}
