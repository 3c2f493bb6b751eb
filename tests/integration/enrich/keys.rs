//! The key and the openid: a wrong key stops the run at once and is echoed
//! nowhere, a missing key names the variable, requests are POSTs with the
//! key in the body, and `--encrypt` sends no plaintext number.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tenure::sandbox::{DEFAULT_KEY, DEFAULT_OPENID, SandboxConfig};

use crate::common::*;

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

/// Checks that `key` is in neither output of the run nor any file under
/// `dir`.
fn assert_key_nowhere(key: &str, ran: &Ran, dir: &Path) {
    let key = key.as_bytes();
    assert!(
        !contains_bytes(&ran.stdout_bytes, key),
        "the key leaked to stdout"
    );
    assert!(
        !contains_bytes(ran.stderr.as_bytes(), key),
        "the key leaked to stderr: {}",
        ran.stderr
    );
    for file in files_under(dir) {
        let bytes = std::fs::read(&file).expect("a readable file");
        assert!(
            !contains_bytes(&bytes, key),
            "the key leaked into {}",
            file.display()
        );
    }
}

/// A wrong key is fatal: stop at once (no more than the requests already in
/// flight), exit 4, write nothing at the output path, and never echo the
/// key anywhere (DESIGN §1 fatal class, §2 exit 4).
#[test]
fn a_wrong_key_stops_at_once_with_exit_4_and_never_leaks_the_key() {
    const WRONG_KEY: &str = "wrong-key-DO-NOT-LEAK-123";
    const CONCURRENCY: u64 = 4;
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(300));
    let output = dir.path().join("out.csv");
    let summary = dir.path().join("summary.json");

    let started = Instant::now();
    let ran = ran_with(
        enrich(
            &sandbox,
            &input,
            &output,
            &[
                "--concurrency",
                &CONCURRENCY.to_string(),
                "--summary-json",
                path_str(&summary),
            ],
        )
        .env("JUHE_KEY", WRONG_KEY),
        4,
    );
    let elapsed = started.elapsed();

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
    assert!(
        ran.stderr.contains("10001"),
        "the message gives the API's code: {}",
        ran.stderr
    );
    assert!(!output.exists(), "nothing at the output path");
    assert!(
        summary.exists(),
        "--summary-json is written for a stopped run"
    );
    // The key in no output, message or file.
    assert_key_nowhere(WRONG_KEY, &ran, dir.path());
}

/// With no key and no --sandbox, say which variable to set and that
/// --sandbox needs none (issue 3, The client).
#[test]
fn a_missing_key_exits_2_naming_juhe_key_and_sandbox() {
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(3));
    let output = dir.path().join("out.csv");
    let sandbox = sandbox(SandboxConfig::default());

    let ran = ran_with(
        enrich(&sandbox, &input, &output, &[]).env_remove("JUHE_KEY"),
        2,
    );
    assert!(
        ran.stderr.contains("JUHE_KEY"),
        "names the variable: {}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("--sandbox"),
        "mentions --sandbox: {}",
        ran.stderr
    );
    assert!(!output.exists());
    assert_eq!(sandbox.stats().requests, 0);
}

/// Requests are POSTs with the key in the body, so no URL carries it; with
/// `--encrypt` the same answers come back and no plaintext number travels
/// (DESIGN §1).
#[test]
fn requests_are_posts_with_the_key_in_the_body_and_encrypt_sends_no_plain_number() {
    let dir = tempdir();
    let n = distinct_numbers(20);
    let input = numbers_csv(dir.path(), "in.csv", &n);

    let plain = sandbox(SandboxConfig::default());
    let plain_out = dir.path().join("plain.csv");
    ran_with(&mut enrich(&plain, &input, &plain_out, &[]), 0);
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
    ran_with(
        enrich(&encrypted, &input, &encrypted_out, &["--encrypt"])
            .env("JUHE_OPENID", DEFAULT_OPENID),
        0,
    );
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
