//! `tenure enrich` end to end: the binary against the in-process sandbox on
//! port 0, proving the acceptance list of issue 3 (DESIGN §1–§3). Every
//! test asserts on exact values the sandbox counted or predicts
//! (`answer_for`), never on how fast a machine happens to be.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use serde_json::Value;
use tenure::sandbox::{
    DEFAULT_KEY, DEFAULT_OPENID, SandboxConfig, Script, answer_for, parse_script, reason,
};

use crate::common::*;

/// The seven columns tenure appends, in order (DESIGN §2, Output).
const COLUMNS: [&str; 7] = [
    "tenure_code",
    "tenure",
    "province",
    "city",
    "isp",
    "error_code",
    "error",
];

/// What the seven appended fields must be for a valid number the sandbox
/// answers normally: its deterministic tenure, or its row answer (a number
/// without a record gets 224801 and the API's reason).
fn expected_fields(number: &str) -> Vec<String> {
    match answer_for(number) {
        Ok(t) => [t.code, t.desc, t.province, t.city, t.isp, "", ""]
            .map(str::to_owned)
            .to_vec(),
        Err(code) => {
            let mut fields = vec![String::new(); 5];
            fields.push(code.to_string());
            fields.push(
                reason(code)
                    .expect("the sandbox's codes have reasons")
                    .to_owned(),
            );
            fields
        }
    }
}

/// The seven appended fields of a row that got an API row answer.
fn declined_fields(code: i64) -> Vec<String> {
    let mut fields = vec![String::new(); 5];
    fields.push(code.to_string());
    fields.push(reason(code).expect("a documented code").to_owned());
    fields
}

/// A sandbox configuration with these scripts (`NUMBER=STEP,...`).
fn scripted(scripts: &[String]) -> SandboxConfig {
    let scripts: HashMap<String, Script> = scripts
        .iter()
        .map(|s| parse_script(s).expect("the test script is valid"))
        .collect();
    SandboxConfig {
        scripts,
        ..SandboxConfig::default()
    }
}

/// Runs a command to its end and returns what it did.
fn run(command: &mut assert_cmd::Command) -> Output {
    command.output().expect("the tenure binary runs")
}

fn code(output: &Output) -> Option<i32> {
    output.status.code()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Panics with the run's stderr unless it exited with `expected`.
fn assert_exit(output: &Output, expected: i32) {
    assert_eq!(
        code(output),
        Some(expected),
        "exit code; stderr:\n{}",
        stderr(output)
    );
}

/// The rows of an output file keyed by the `id` in their first column,
/// each with its seven appended fields.
fn appended_by_id(rows: &[Vec<String>]) -> BTreeMap<String, Vec<String>> {
    rows.iter()
        .skip(1)
        .map(|row| (row[0].clone(), row[row.len() - 7..].to_vec()))
        .collect()
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("the temporary folder is readable") {
            let path = entry.expect("a readable folder entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ---------------------------------------------------------------------------
// 1. Messy input
// ---------------------------------------------------------------------------

/// A spreadsheet export at its worst must come back row for row, field for
/// field, with the right answer on every row, and each distinct number
/// paid for once however many forms it appears in (DESIGN §2 Numbers,
/// Output; §3 single-flight).
#[test]
fn messy_input_keeps_every_row_and_field_and_bills_each_number_once() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    // Two valid numbers with a tenure, plus one that has a tenure too.
    let numbers = answered_numbers(3);
    let (a, b, c) = (&numbers[0], &numbers[1], &numbers[2]);
    let full_width: String = a
        .chars()
        .map(|d| char::from_u32(d as u32 - '0' as u32 + '０' as u32).expect("a full-width digit"))
        .collect();
    // `+86 138-0013-8000` style: country prefix, space and dashes.
    let dashed = format!("+86 {}-{}-{}", &b[..3], &b[3..7], &b[7..]);
    // `="…"`: Excel's keep-as-text wrapping, quoted for CSV.
    let excel_text = format!("\"=\"\"{c}\"\"\"");
    let lines = [
        "id,name,mobile,note".to_owned(),
        format!("1,\"Li, Na\",{a},\"she said \"\"call me\"\"\""),
        format!("2,\"多行\r\n备注, with comma\",{full_width},x"),
        format!("3,王芳,{dashed},"),
        "4,Excel,1.38001E+10,lost digits".to_owned(),
        "5,,,".to_owned(),
        format!("6,刘洋,{excel_text},\"\""),
        format!("7,dup,{b},\"line one\nline two\""),
        "8,short,12345,".to_owned(),
        format!("9,dup again,{a},"),
        format!("10,\"trailing \"\"quote\"\"\",{c},end"),
    ];
    let mut bytes = b"\xEF\xBB\xBF".to_vec(); // UTF-8 BOM
    bytes.extend_from_slice(lines.join("\r\n").as_bytes());
    bytes.extend_from_slice(b"\r\n");
    let input = write(dir.path(), "messy.csv", bytes);
    let output = dir.path().join("out.csv");
    let sandbox = sandbox(SandboxConfig::default());

    let ran = run(&mut enrich(&sandbox, &input, &output, &[]));
    assert_exit(&ran, 0);

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
    let mut header = vec!["id", "name", "mobile", "note"];
    header.extend(COLUMNS);
    assert_eq!(after[0], header);

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
    let stats = sandbox.stats();
    let expected: BTreeSet<&str> = [a, b, c].into_iter().map(String::as_str).collect();
    let asked: BTreeSet<&str> = stats.numbers.keys().map(String::as_str).collect();
    assert_eq!(asked, expected);
    for number in &expected {
        let counted = stats.numbers[*number];
        assert_eq!((counted.requests, counted.billed), (1, 1), "{number}");
    }
    assert_eq!((stats.requests, stats.billed), (3, 3));
}

// ---------------------------------------------------------------------------
// 2. Retries
// ---------------------------------------------------------------------------

/// Retryable failures are retried until an answer comes; row answers are
/// final at once and land in the row (DESIGN §1, error codes table).
#[test]
fn retries_transient_failures_and_keeps_row_answers_final() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let n = answered_numbers(6);
    let sandbox = sandbox(scripted(&[
        format!("{}=224805,224805,ok", n[0]),
        format!("{}=224801*", n[1]),
        format!("{}=224804*", n[2]),
        format!("{}=http_500,ok", n[3]),
        format!("{}=drop,ok", n[4]),
        format!("{}=garbage,ok", n[5]),
    ]));
    let input = numbers_csv(dir.path(), "in.csv", &n);
    let output = dir.path().join("out.csv");

    let ran = run(&mut enrich(&sandbox, &input, &output, &[]));
    assert_exit(&ran, 0);

    let stats = sandbox.stats();
    let requests: Vec<u64> = n.iter().map(|x| stats.numbers[x].requests).collect();
    // 224805 twice then ok: 3; 224801/224804: 1 (final, not retried);
    // HTTP 500, a dropped connection, a garbage body: retried once each.
    assert_eq!(requests, [3, 1, 1, 2, 2, 2]);
    assert_eq!(stats.billed, 4, "only the four successes are billed");

    let rows = appended_by_id(&read_csv(&output));
    assert_eq!(rows.len(), 6);
    assert_eq!(rows["0"], expected_fields(&n[0]));
    assert_eq!(rows["1"], declined_fields(224801));
    assert_eq!(rows["2"], declined_fields(224804));
    assert_eq!(rows["3"], expected_fields(&n[3]));
    assert_eq!(rows["4"], expected_fields(&n[4]));
    assert_eq!(rows["5"], expected_fields(&n[5]));
}

/// A number that never succeeds gets exactly `1 + --retries` requests, its
/// last error in the row, and the run exits 3 with the output written
/// (DESIGN §2 exit codes).
#[test]
fn a_number_that_never_succeeds_ends_after_one_plus_retries_and_exits_3() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let n = answered_numbers(3);
    let sandbox = sandbox(scripted(&[format!("{}=224805*", n[1])]));
    let input = numbers_csv(dir.path(), "in.csv", &n);
    let output = dir.path().join("out.csv");

    let ran = run(&mut enrich(&sandbox, &input, &output, &["--retries", "2"]));
    assert_exit(&ran, 3);

    let stats = sandbox.stats();
    assert_eq!(stats.numbers[&n[1]].requests, 3, "1 + --retries 2");
    assert_eq!(stats.numbers[&n[1]].billed, 0);

    assert!(output.exists(), "exit 3 writes the output");
    let rows = appended_by_id(&read_csv(&output));
    assert_eq!(rows.len(), 3);
    assert_eq!(rows["0"], expected_fields(&n[0]));
    assert_eq!(rows["2"], expected_fields(&n[2]));
    let failed = &rows["1"];
    assert_eq!(failed[..5], ["", "", "", "", ""]);
    assert_eq!(failed[5], "224805");
    let why = reason(224805).expect("a documented code");
    assert!(
        failed[6].contains(why),
        "the error is the API's reason: {failed:?}"
    );
}

// ---------------------------------------------------------------------------
// 3. Wrong key
// ---------------------------------------------------------------------------

/// A wrong key is fatal: stop at once (no more than the requests already in
/// flight), exit 4, write nothing at the output path, and never echo the
/// key anywhere (DESIGN §1 fatal class, §2 exit 4).
#[test]
fn a_wrong_key_stops_at_once_with_exit_4_and_never_leaks_the_key() {
    const WRONG_KEY: &str = "wrong-key-DO-NOT-LEAK-123";
    const CONCURRENCY: u64 = 4;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(300));
    let output = dir.path().join("out.csv");
    let summary = dir.path().join("summary.json");

    let started = Instant::now();
    let ran = run(enrich(
        &sandbox,
        &input,
        &output,
        &[
            "--concurrency",
            &CONCURRENCY.to_string(),
            "--summary-json",
            summary.to_str().expect("a UTF-8 temporary path"),
        ],
    )
    .env("JUHE_KEY", WRONG_KEY));
    let elapsed = started.elapsed();

    assert_exit(&ran, 4);
    // Generous: a stop is immediate; this only catches a run that went on
    // through all 300 numbers' retries.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    let stats = sandbox.stats();
    // The first 10001, plus at most one request per other worker already
    // in flight when it came.
    assert!(
        stats.requests <= 1 + CONCURRENCY,
        "{} requests after a fatal 10001: {:?}",
        stats.requests,
        stats.codes
    );
    assert_eq!(
        stats.codes.get("10001").copied(),
        Some(stats.requests),
        "every request was refused for the key"
    );
    let err = stderr(&ran);
    assert!(
        err.contains("10001"),
        "the message gives the API's code: {err}"
    );
    assert!(!output.exists(), "nothing at the output path");

    // The key in no output, message or file.
    let key = WRONG_KEY.as_bytes();
    assert!(!contains(&ran.stdout, key), "the key leaked to stdout");
    assert!(
        !contains(&ran.stderr, key),
        "the key leaked to stderr: {err}"
    );
    assert!(
        summary.exists(),
        "--summary-json is written for a stopped run"
    );
    let files = files_under(dir.path());
    for file in &files {
        let bytes = std::fs::read(file).expect("a readable file");
        assert!(
            !contains(&bytes, key),
            "the key leaked into {}",
            file.display()
        );
    }
}

// ---------------------------------------------------------------------------
// 4. POST, the key in the body, and --encrypt
// ---------------------------------------------------------------------------

/// Requests are POSTs with the key in the body, so no URL carries it; with
/// `--encrypt` the same answers come back and no plaintext number travels
/// (DESIGN §1).
#[test]
fn requests_are_posts_with_the_key_in_the_body_and_encrypt_sends_no_plain_number() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let n = distinct_numbers(20);
    let input = numbers_csv(dir.path(), "in.csv", &n);

    let plain = sandbox(SandboxConfig::default());
    let plain_out = dir.path().join("plain.csv");
    assert_exit(&run(&mut enrich(&plain, &input, &plain_out, &[])), 0);
    let stats = plain.stats();
    assert_eq!(stats.requests, 20);
    assert_eq!(
        stats.methods.keys().collect::<Vec<_>>(),
        ["POST"],
        "only POSTs: {:?}",
        stats.methods
    );
    for target in &stats.targets {
        assert!(
            !target.contains(DEFAULT_KEY) && !target.contains("key="),
            "the key travelled in the URL {target}"
        );
    }
    assert_eq!(
        stats.targets.iter().collect::<Vec<_>>(),
        ["/mobileOnline/query"]
    );
    let plain_rows = read_csv(&plain_out);
    for row in plain_rows.iter().skip(1) {
        let number = &n[row[0].parse::<usize>().expect("an id")];
        assert_eq!(row[2..], expected_fields(number), "{number}");
    }

    let encrypted = sandbox(SandboxConfig::default());
    let encrypted_out = dir.path().join("encrypted.csv");
    let ran = run(enrich(&encrypted, &input, &encrypted_out, &["--encrypt"])
        .env("JUHE_OPENID", DEFAULT_OPENID));
    assert_exit(&ran, 0);
    assert_eq!(
        read_csv(&encrypted_out),
        plain_rows,
        "the encrypted endpoint gives the same answers"
    );
    let stats = encrypted.stats();
    assert_eq!(stats.requests, 20);
    assert_eq!(stats.plaintext_on_encrypted, 0);
    assert_eq!(
        stats.methods.keys().collect::<Vec<_>>(),
        ["POST"],
        "{:?}",
        stats.methods
    );
    assert_eq!(
        stats.targets.iter().collect::<Vec<_>>(),
        ["/mobileOnline/queryEncry"]
    );
    for target in &stats.targets {
        for number in &n {
            assert!(!target.contains(number.as_str()), "{target}");
        }
    }
    // The sandbox decrypted every number: what it saw is what was asked.
    let seen: BTreeSet<&String> = stats.numbers.keys().collect();
    assert_eq!(seen, n.iter().collect());
}

// ---------------------------------------------------------------------------
// 5. Rate
// ---------------------------------------------------------------------------

/// Never more than `--qps` requests started in any one-second window, as
/// the sandbox recorded their arrivals (DESIGN §3 Rate). Counts only.
#[test]
fn never_more_than_qps_requests_in_any_one_second_window() {
    const QPS: usize = 50;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(300));
    let output = dir.path().join("out.csv");

    // Not the `enrich` helper: its `--qps 1000` cannot be overridden, as
    // clap refuses a repeated `--qps`.
    let ran = run(tenure()
        .env("JUHE_KEY", DEFAULT_KEY)
        .arg("enrich")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .args(["--endpoint", &sandbox.url()])
        .args(["--qps", &QPS.to_string(), "--concurrency", "16"]));
    assert_exit(&ran, 0);

    // The limiter spaces starts so that qps + 1 of them span at least
    // 1.02 s on our clock (its unit test checks that exactly). What the
    // sandbox records is later by a thread wake-up or two on each side, and
    // on a loaded 2-core machine one stall can bunch a few arrivals by tens
    // of milliseconds. So the windows counted here are 1 s less this
    // measurement tolerance: a limiter with no slack at all still fails.
    const TOLERANCE_US: u64 = 20_000;
    let arrivals = sandbox.stats().arrivals_us;
    assert_eq!(arrivals.len(), 300, "one request per number");
    let mut sorted = arrivals.clone();
    sorted.sort_unstable();
    // The busiest window [t_i, t_i + 1 s): its first arrival and its count.
    let (first, busiest) = sorted
        .iter()
        .enumerate()
        .map(|(i, &start)| {
            let count = sorted[i..]
                .iter()
                .take_while(|&&t| t < start + 1_000_000 - TOLERANCE_US)
                .count();
            (i, count)
        })
        .max_by_key(|&(_, count)| count)
        .expect("there were arrivals");
    // On failure, say how far below a second the tightest QPS + 1
    // consecutive arrivals were: how much the requests bunched up on their
    // way to the API.
    let tightest_ms = sorted
        .windows(QPS + 1)
        .map(|w| w[QPS] - w[0])
        .min()
        .map_or(0.0, |us| us as f64 / 1_000.0);
    assert!(
        busiest <= QPS,
        "{busiest} requests arrived within one second (less the tolerance) at --qps {QPS} \
         (from arrival #{first}; the tightest {} consecutive arrivals span {tightest_ms} ms)",
        QPS + 1
    );
}

// ---------------------------------------------------------------------------
// 6. Column collision
// ---------------------------------------------------------------------------

/// An input that already has one of the appended column names (an output
/// of tenure fed back in) stops with a clear error (DESIGN §2 Output).
#[test]
fn an_input_with_an_output_column_name_exits_2_naming_it() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let n = distinct_numbers(2);
    let input = write(
        dir.path(),
        "in.csv",
        format!("id,mobile,tenure_code\n1,{},3\n2,{},2\n", n[0], n[1]),
    );
    let output = dir.path().join("out.csv");
    let sandbox = sandbox(SandboxConfig::default());

    let ran = run(&mut enrich(&sandbox, &input, &output, &[]));
    assert_exit(&ran, 2);
    let err = stderr(&ran);
    assert!(err.contains("tenure_code"), "names the column: {err}");
    assert!(!output.exists(), "no output");
    assert_eq!(sandbox.stats().requests, 0, "nothing sent");
}

// ---------------------------------------------------------------------------
// 7. Missing key, and --sandbox
// ---------------------------------------------------------------------------

/// With no key and no --sandbox, say which variable to set and that
/// --sandbox needs none (issue 3, The client).
#[test]
fn a_missing_key_exits_2_naming_juhe_key_and_sandbox() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(3));
    let output = dir.path().join("out.csv");
    let sandbox = sandbox(SandboxConfig::default());

    // `tenure()` removes JUHE_KEY from the environment.
    let ran = run(tenure()
        .arg("enrich")
        .arg(&input)
        .arg("-o")
        .arg(&output)
        .args(["--endpoint", &sandbox.url()]));
    assert_exit(&ran, 2);
    let err = stderr(&ran);
    assert!(err.contains("JUHE_KEY"), "names the variable: {err}");
    assert!(err.contains("--sandbox"), "mentions --sandbox: {err}");
    assert!(!output.exists());
    assert_eq!(sandbox.stats().requests, 0);
}

/// The README's first command: `--sandbox` on the shipped sample works
/// with no key, and says its answers are simulated (issue 3, --sandbox).
#[test]
fn sandbox_flag_enriches_the_sample_with_no_key_and_says_simulated() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample.csv");
    let output = dir.path().join("enriched.csv");

    let ran = run(tenure()
        .arg("enrich")
        .arg(&sample)
        .arg("-o")
        .arg(&output)
        // Quick: the default 10 qps would take half a minute on the sample.
        .args(["--sandbox", "--qps", "1000", "--backoff-base", "1ms"]));
    assert_exit(&ran, 0);
    let err = stderr(&ran);
    assert!(
        err.to_lowercase().contains("simulated"),
        "says the answers are simulated: {err}"
    );
    let before = read_csv(&sample);
    let after = read_csv(&output);
    assert_eq!(after.len(), before.len());
    for (in_row, out_row) in before.iter().zip(&after) {
        assert_eq!(out_row.len(), in_row.len() + 7);
        assert_eq!(out_row[..in_row.len()], in_row[..]);
    }
}

// ---------------------------------------------------------------------------
// 8. Summary JSON
// ---------------------------------------------------------------------------

/// `--summary-json` reports what actually happened on the wire, as the
/// sandbox counted it (issue 3, Progress and summary).
#[test]
fn summary_json_matches_what_the_sandbox_counted() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let n = answered_numbers(5);
    // One number retried twice, one with no record (free), duplicates and
    // invalid rows: requests, billed, valid and invalid all differ.
    let sandbox = sandbox(scripted(&[
        format!("{}=224805,224805,ok", n[0]),
        format!("{}=224801*", n[1]),
    ]));
    let cells: Vec<String> = vec![
        n[0].clone(),
        n[1].clone(),
        n[2].clone(),
        n[0].clone(),
        "not a number".to_owned(),
        n[3].clone(),
        String::new(),
        n[4].clone(),
        n[2].clone(),
        "1.38001E+10".to_owned(),
    ];
    let input = numbers_csv(dir.path(), "in.csv", &cells);
    let output = dir.path().join("out.csv");
    let summary_path = dir.path().join("summary.json");

    let ran = run(&mut enrich(
        &sandbox,
        &input,
        &output,
        &[
            "--summary-json",
            summary_path.to_str().expect("a UTF-8 path"),
        ],
    ));
    assert_exit(&ran, 0);

    let stats = sandbox.stats();
    assert_eq!(
        (stats.requests, stats.billed),
        (7, 4),
        "the sandbox's count"
    );
    let summary: Value =
        serde_json::from_slice(&std::fs::read(&summary_path).expect("--summary-json was written"))
            .expect("the summary is JSON");
    let field = |name: &str| {
        summary[name]
            .as_u64()
            .unwrap_or_else(|| panic!("{name} is a count in {summary}"))
    };
    assert_eq!(field("rows"), 10);
    assert_eq!(field("valid"), 7);
    assert_eq!(field("invalid"), 3);
    assert_eq!(field("requests"), stats.requests);
    assert_eq!(field("billed"), stats.billed);
    assert_eq!(field("retries"), 2);
}

// ---------------------------------------------------------------------------
// 9. Column selection
// ---------------------------------------------------------------------------

/// `-c N` and `-c NAME` choose the number column over the auto-detected
/// one (DESIGN §2 options).
#[test]
fn column_flag_picks_the_column_by_index_or_name() {
    let dir = tempfile::tempdir().expect("a temporary folder");
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
        let ran = run(&mut enrich(&sandbox, &input, &output, &["-c", flag]));
        assert_exit(&ran, 0);
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
    let dir = tempfile::tempdir().expect("a temporary folder");
    let n = distinct_numbers(2);
    let input = write(
        dir.path(),
        "in.csv",
        format!("customer,contact_xyz,remark\na,{},x\nb,{},y\n", n[0], n[1]),
    );
    let output = dir.path().join("out.csv");
    let sandbox = sandbox(SandboxConfig::default());

    let ran = run(&mut enrich(&sandbox, &input, &output, &[]));
    assert_exit(&ran, 2);
    let err = stderr(&ran);
    for header in ["customer", "contact_xyz", "remark"] {
        assert!(err.contains(header), "lists {header}: {err}");
    }
    assert!(!output.exists());
    assert_eq!(sandbox.stats().requests, 0);
}

// ---------------------------------------------------------------------------
// 10. The API looks down
// ---------------------------------------------------------------------------

/// When number after number runs out of retries on dropped connections,
/// stop with exit 4 rather than fail every row (DESIGN §1, last paragraph).
#[test]
fn an_api_that_drops_every_connection_looks_down_and_exits_4() {
    const CONCURRENCY: u64 = 8;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig {
        p_drop: 1.0,
        ..SandboxConfig::default()
    });
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(100));
    let output = dir.path().join("out.csv");

    let ran = run(&mut enrich(
        &sandbox,
        &input,
        &output,
        &["--retries", "1", "--concurrency", &CONCURRENCY.to_string()],
    ));
    assert_exit(&ran, 4);
    let err = stderr(&ran);
    assert!(
        err.to_lowercase().contains("looks down"),
        "says the API looks down: {err}"
    );
    assert!(!output.exists(), "nothing at the output path");

    // It stopped after the streak, not after all 100 numbers: at most the
    // streak plus the numbers already in flight were tried.
    let stats = sandbox.stats();
    let limit = u64::from(tenure::LOOKS_DOWN_AFTER) + CONCURRENCY;
    assert!(
        stats.numbers.len() as u64 <= limit,
        "{} numbers tried before stopping",
        stats.numbers.len()
    );
    assert_eq!(stats.billed, 0);
}
