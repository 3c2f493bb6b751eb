//! When answers do not come: transient failures retried until an answer,
//! row answers final at once, a number that never succeeds (exit 3), and an
//! API that drops every connection (it looks down: exit 4).

use tenure::sandbox::{SandboxConfig, reason};

use super::appended_by_id;
use crate::common::*;

/// Retryable failures are retried until an answer comes; row answers are
/// final at once and land in the row (DESIGN §1, error codes table).
#[test]
fn retries_transient_failures_and_keeps_row_answers_final() {
    let dir = tempdir();
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

    ran_with(&mut enrich(&sandbox, &input, &output, &[]), 0);

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
    let dir = tempdir();
    let n = answered_numbers(3);
    let sandbox = sandbox(scripted(&[format!("{}=224805*", n[1])]));
    let input = numbers_csv(dir.path(), "in.csv", &n);
    let output = dir.path().join("out.csv");

    ran_with(
        &mut enrich(&sandbox, &input, &output, &["--retries", "2"]),
        3,
    );

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

/// When number after number runs out of retries on dropped connections,
/// stop with exit 4 rather than fail every row (DESIGN §1, last paragraph).
#[test]
fn an_api_that_drops_every_connection_looks_down_and_exits_4() {
    const CONCURRENCY: u64 = 8;
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig {
        p_drop: 1.0,
        ..SandboxConfig::default()
    });
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(100));
    let output = dir.path().join("out.csv");

    let ran = ran_with(
        &mut enrich(
            &sandbox,
            &input,
            &output,
            &["--retries", "1", "--concurrency", &CONCURRENCY.to_string()],
        ),
        4,
    );
    assert!(
        ran.stderr.to_lowercase().contains("looks down"),
        "says the API looks down: {}",
        ran.stderr
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
