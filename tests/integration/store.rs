//! The result store as a user meets it (DESIGN §4, issue 4): never paying
//! twice. Every test drives the `tenure` binary against an in-process
//! sandbox on a loopback port and counts what the sandbox billed, so "paid
//! once" is measured where the money is, not inferred from the tool's own
//! summary.
//!
//! Answers are stored per source, and the source of `--endpoint URL` is the
//! URL, port included: a rerun must talk to the same sandbox, or to a new one
//! started on the same port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use tenure::sandbox::{self, NumberStats, Sandbox, SandboxConfig, Stats, answer_for};

use crate::common::*;

/// No test run should come near this; it only turns a hang into a failure.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// The header `tenure enrich` writes for a `numbers_csv` input.
const HEADER: [&str; 9] = [
    "id",
    "mobile",
    "tenure_code",
    "tenure",
    "province",
    "city",
    "isp",
    "error_code",
    "error",
];

/// The seven columns the tool appends for `number`, as the sandbox answers
/// it: the tenure for a number with a record, the API's code and reason for
/// one without.
fn expected_answer(number: &str) -> Vec<String> {
    match answer_for(number) {
        Ok(tenure) => [
            tenure.code,
            tenure.desc,
            tenure.province,
            tenure.city,
            tenure.isp,
            "",
            "",
        ]
        .map(str::to_owned)
        .to_vec(),
        Err(code) => {
            let mut fields = vec![String::new(); 5];
            fields.push(code.to_string());
            fields.push(
                sandbox::reason(code)
                    .expect("the sandbox's row answers have reasons")
                    .to_owned(),
            );
            fields
        }
    }
}

/// Asserts that `output` is the enrichment of `numbers_csv(numbers)`: the
/// header, then one row per input row, in input order, each carrying its own
/// number's answer.
fn assert_enriched(output: &Path, numbers: &[String]) {
    let rows = read_csv(output);
    assert_eq!(
        rows.len(),
        numbers.len() + 1,
        "a header and one row per input row"
    );
    assert_eq!(rows[0], HEADER);
    for (i, (row, number)) in rows[1..].iter().zip(numbers).enumerate() {
        let mut expected = vec![i.to_string(), number.clone()];
        expected.extend(expected_answer(number));
        assert_eq!(row, &expected, "row {i} carries its own number's answer");
    }
}

/// Per-number billed counts of one sandbox's stats.
fn billed_by_number(stats: &Stats) -> BTreeMap<String, u64> {
    stats
        .numbers
        .iter()
        .map(|(number, NumberStats { billed, .. })| (number.clone(), *billed))
        .collect()
}

/// Starts a sandbox on `addr` (the port of one just dropped), so that the
/// rerun's `--endpoint`, hence the store's source, is the same. Rebinding can
/// fail for a moment while the old socket closes: retry.
fn sandbox_on(addr: SocketAddr, config: SandboxConfig) -> Sandbox {
    let mut attempt = 0;
    loop {
        match Sandbox::start(config.clone(), addr) {
            Ok(sandbox) => return sandbox,
            Err(err) if attempt < 50 => {
                attempt += 1;
                eprintln!("rebinding {addr} failed ({err}); retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => panic!("cannot rebind the sandbox on {addr}: {err}"),
        }
    }
}

/// Waits for a spawned run, failing the test instead of hanging; returns its
/// exit code and stderr.
fn finish(child: Child) -> (Option<i32>, String) {
    let id = child.id();
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait_with_output());
    });
    let output = receiver
        .recv_timeout(RUN_TIMEOUT)
        .unwrap_or_else(|_| panic!("tenure (pid {id}) did not finish within {RUN_TIMEOUT:?}"))
        .expect("waiting for tenure works");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs a command built by `enrich()` to its end; returns its exit code and
/// stderr.
fn run(mut command: assert_cmd::Command) -> (Option<i32>, String) {
    let output = command
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("tenure can be run");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn cache_arg(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Duplicates cost one query however the rows interleave: 1,000 numbers,
/// each on 5 rows scattered through 5,000, with 32 workers racing. A little
/// latency keeps each number in flight while its duplicates are read, so
/// single-flight (not only the store) is exercised.
#[test]
fn duplicates_in_a_shuffled_file_are_billed_once() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let distinct = answered_numbers(1_000);
    let mut numbers: Vec<String> = distinct
        .iter()
        .flat_map(|n| std::iter::repeat_n(n.clone(), 5))
        .collect();
    // A fixed seed: a failure reproduces with the same row order.
    fastrand::Rng::with_seed(0x5eed_2024).shuffle(&mut numbers);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    let sandbox = sandbox(SandboxConfig {
        latency: Duration::from_millis(2),
        ..Default::default()
    });

    let (code, stderr) = run(enrich(&sandbox, &input, &output, &["--concurrency", "32"]));
    assert_eq!(code, Some(0), "{stderr}");

    let stats = sandbox.stats();
    // Exactly one billed query per distinct number, and no unbilled extra
    // requests either (no faults were injected, so nothing needed a retry).
    assert_eq!(stats.billed, 1_000, "one billed query per distinct number");
    assert_eq!(stats.requests, 1_000, "one request per distinct number");
    assert_eq!(stats.numbers.len(), 1_000);
    for number in &distinct {
        assert_eq!(
            stats.numbers.get(number),
            Some(&NumberStats {
                requests: 1,
                billed: 1
            }),
            "{number} was asked and billed exactly once"
        );
    }
    // Every one of the 5,000 rows, not only the first of each number, gets
    // the answer, in input order.
    assert_enriched(&output, &numbers);
}

/// `kill -9` part-way, then the same command again: the store kept what was
/// committed, so only the requests in flight at the kill (at most
/// `--concurrency` of them) are paid twice, and the final output is what an
/// uninterrupted run writes.
#[test]
fn a_run_killed_with_sigkill_resumes_without_paying_twice() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(400);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    // 20 ms per answer and 200 requests a second: about 2 s for the file, so
    // the kill lands well inside it.
    let sandbox = sandbox(SandboxConfig {
        latency: Duration::from_millis(20),
        ..Default::default()
    });
    let url = sandbox.url();
    let command = || {
        enrich_process(
            &url,
            &input,
            &output,
            &["--qps", "200", "--concurrency", "8"],
        )
    };

    let mut child = command().spawn().expect("tenure starts");
    let started = Instant::now();
    while sandbox.stats().billed < 100 {
        assert!(
            started.elapsed() < RUN_TIMEOUT,
            "the first run never reached 100 billed answers"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    assert!(
        child.try_wait().expect("the child can be polled").is_none(),
        "the first run must still be running when it is killed"
    );
    child.kill().expect("SIGKILL is delivered");
    child.wait().expect("the killed child is reaped");
    // Let the sandbox finish answering (and billing) what was in flight.
    std::thread::sleep(Duration::from_millis(200));
    let killed = sandbox.stats();
    assert!(
        killed.billed < 400,
        "the kill landed part-way ({} billed)",
        killed.billed
    );
    // Atomic output: a killed run leaves nothing at the output path.
    assert!(!output.exists(), "a killed run wrote {}", output.display());

    let (code, stderr) = finish(command().spawn().expect("tenure starts again"));
    assert_eq!(code, Some(0), "the rerun completes: {stderr}");

    let billed = billed_by_number(&sandbox.stats());
    for number in &numbers {
        let times = billed.get(number).copied().unwrap_or(0);
        assert!(
            (1..=2).contains(&times),
            "{number} was billed {times} times across both runs"
        );
    }
    let twice: Vec<&String> = billed
        .iter()
        .filter(|(_, n)| **n >= 2)
        .map(|(n, _)| n)
        .collect();
    assert!(
        twice.len() <= 8,
        "at most --concurrency (8) numbers may be paid twice, but {} were: {twice:?}",
        twice.len()
    );

    // The same input through an uninterrupted run on a fresh store.
    let reference_dir = tempfile::tempdir().expect("a temporary folder");
    let reference = reference_dir.path().join("out.csv");
    let fresh = sandbox_for_reference();
    let (code, stderr) = run(enrich(&fresh, &input, &reference, &["--concurrency", "8"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        read_csv(&output),
        read_csv(&reference),
        "the resumed output equals an uninterrupted run's, row for row"
    );
    assert_enriched(&output, &numbers);
}

/// A sandbox without latency, for reference runs that only need the output.
fn sandbox_for_reference() -> Sandbox {
    sandbox(SandboxConfig::default())
}

/// A quota that runs out part-way stops the run with exit 4 and nothing at
/// the output path; the rerun, with the quota back, pays only for what the
/// first run did not get.
#[test]
fn a_run_stopped_by_the_quota_resumes_without_paying_twice() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(400);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    let limited = sandbox(SandboxConfig {
        quota: Some(150),
        ..Default::default()
    });
    let addr = limited.addr();

    let (code, stderr) = run(enrich(&limited, &input, &output, &[]));
    assert_eq!(
        code,
        Some(4),
        "a quota that ran out stops the batch: {stderr}"
    );
    assert!(!output.exists(), "exit 4 leaves nothing at the output path");
    let first = limited.stats();
    assert_eq!(first.billed, 150, "the sandbox bills exactly its quota");
    drop(limited);

    // The same port, so the same --endpoint URL, so the same store source.
    let unlimited = sandbox_on(addr, SandboxConfig::default());
    let (code, stderr) = run(enrich(&unlimited, &input, &output, &[]));
    assert_eq!(
        code,
        Some(0),
        "the rerun with the quota back completes: {stderr}"
    );
    let second = unlimited.stats();

    let (first, second) = (billed_by_number(&first), billed_by_number(&second));
    let mut repaid = Vec::new();
    for number in &numbers {
        let (a, b) = (
            first.get(number).copied().unwrap_or(0),
            second.get(number).copied().unwrap_or(0),
        );
        // Every number is paid for once over the two runs: the 150 answers
        // billed before the quota ran out came from the store the second
        // time.
        if a + b != 1 {
            repaid.push(format!("{number}: {a} + {b}"));
        }
    }
    assert!(
        repaid.is_empty(),
        "numbers not billed exactly once across both runs: {repaid:?}"
    );
    assert_eq!(
        second.values().sum::<u64>(),
        250,
        "the rerun pays only for the 250 the first run did not get"
    );
    assert_enriched(&output, &numbers);
}

/// Reuse: a rerun right after a success bills nothing; `--max-age 1s` after
/// a pause pays again; `--no-cache` pays again and says so.
#[test]
fn a_rerun_reuses_answers_until_they_are_too_old() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(50);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    let summary = dir.path().join("summary.json");
    let summary_arg = summary.to_str().expect("temporary paths are UTF-8");
    let sandbox = sandbox(SandboxConfig::default());

    let (code, stderr) = run(enrich(&sandbox, &input, &output, &[]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(sandbox.stats().billed, 50);
    let first_output = std::fs::read(&output).expect("the output was written");
    assert_enriched(&output, &numbers);

    // Right after: every answer is fresh (default --max-age 24h).
    let (code, stderr) = run(enrich(
        &sandbox,
        &input,
        &output,
        &["--summary-json", summary_arg],
    ));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(sandbox.stats().billed, 50, "the rerun billed nothing");
    assert_eq!(sandbox.stats().requests, 50, "the rerun sent nothing");
    assert_eq!(
        std::fs::read(&output).expect("the output was rewritten"),
        first_output,
        "the rerun writes the same bytes"
    );
    // The summary counts stored answers apart from billed queries.
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).expect("--summary-json was written"))
            .expect("the summary is JSON");
    assert_eq!(json["from_store"], 50, "{json}");
    assert_eq!(json["billed"], 0, "{json}");

    // Older than --max-age: asked (and paid) again.
    std::thread::sleep(Duration::from_millis(1_500));
    let (code, stderr) = run(enrich(&sandbox, &input, &output, &["--max-age", "1s"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        sandbox.stats().billed,
        100,
        "answers older than --max-age 1s are asked again"
    );
    assert_eq!(std::fs::read(&output).expect("output"), first_output);

    // No store: everything is paid again, and the user is told.
    let (code, stderr) = run(enrich(&sandbox, &input, &output, &["--no-cache"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        sandbox.stats().billed,
        150,
        "--no-cache asks every number again"
    );
    assert!(
        stderr.contains("a rerun will pay again"),
        "--no-cache warns that a rerun pays again: {stderr}"
    );
    assert_eq!(std::fs::read(&output).expect("output"), first_output);
}

/// The store holds numbers and answers, privately, and no secret: not the
/// key, not the openid, not the AES key derived from the openid.
#[test]
fn the_store_is_private_and_holds_no_secret() {
    const KEY: &str = "distinct-key-XYZ123";
    const OPENID: &str = "distinct-openid-QRS789";
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(20);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    let store = dir.path().join("answers.sqlite");
    let sandbox = sandbox(SandboxConfig {
        key: KEY.into(),
        openid: OPENID.into(),
        ..Default::default()
    });

    let mut command = enrich(
        &sandbox,
        &input,
        &output,
        &["--encrypt", "--cache", cache_arg(&store)],
    );
    command.env("JUHE_KEY", KEY).env("JUHE_OPENID", OPENID);
    let (code, stderr) = run(command);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(sandbox.stats().billed, 20, "the encrypted run was answered");
    assert_enriched(&output, &numbers);

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&store)
        .expect("the store exists at --cache")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the store is readable by its owner only"
    );

    // The AES key is the first 16 hex digits of MD5(openid): a secret too.
    use md5::Digest;
    let digest: [u8; 16] = md5::Md5::digest(OPENID.as_bytes()).into();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let aes_key = &hex[..16];

    // Everything SQLite left beside the store counts too (-wal, -shm).
    let mut files: Vec<PathBuf> = vec![store.clone()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let side = PathBuf::from(format!("{}{suffix}", store.display()));
        if side.exists() {
            files.push(side);
        }
    }
    let mut all = Vec::new();
    for file in &files {
        all.extend(std::fs::read(file).expect("the store's files are readable"));
    }
    let contains = |needle: &str| all.windows(needle.len()).any(|w| w == needle.as_bytes());
    // The check is meaningful only if the answers are in there.
    assert!(
        contains(&numbers[0]),
        "the store holds the answered numbers (sanity check of this test)"
    );
    assert!(!contains(KEY), "the store holds the API key");
    assert!(!contains(OPENID), "the store holds the openid");
    assert!(
        !contains(aes_key),
        "the store holds the AES key of the openid"
    );
}

/// A store tenure cannot use is an error naming the file (exit 2), never a
/// silent fallback to paying again, and the file is left as it was.
#[test]
fn a_bad_store_stops_before_sending_anything() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(20);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let sandbox = sandbox(SandboxConfig::default());

    // Not a database at all.
    let garbage = write(
        dir.path(),
        "garbage.sqlite",
        "this is not an SQLite database\n".repeat(200),
    );
    let before = std::fs::read(&garbage).expect("written above");
    let output = dir.path().join("out-garbage.csv");
    let (code, stderr) = run(enrich(
        &sandbox,
        &input,
        &output,
        &["--cache", cache_arg(&garbage)],
    ));
    assert_eq!(code, Some(2), "a corrupt store is an input error: {stderr}");
    assert!(
        stderr.contains(cache_arg(&garbage)),
        "the message names the file: {stderr}"
    );
    assert!(!output.exists(), "no output from a run that did not start");
    assert_eq!(
        std::fs::read(&garbage).expect("the file is still there"),
        before,
        "the user's file is left untouched"
    );

    // A real store of another schema version: made by a run, then altered.
    let other = dir.path().join("other.sqlite");
    let made = dir.path().join("made.csv");
    let (code, stderr) = run(enrich(
        &sandbox,
        &input,
        &made,
        &["--cache", cache_arg(&other)],
    ));
    assert_eq!(code, Some(0), "{stderr}");
    let billed_before = sandbox.stats().billed;
    assert_eq!(billed_before, 20);
    {
        let conn = rusqlite::Connection::open(&other).expect("the store is SQLite");
        let changed = conn
            .execute(
                "UPDATE tenure_meta SET value = 99 WHERE key = 'schema_version'",
                [],
            )
            .expect("the store has a tenure_meta table");
        assert_eq!(changed, 1, "the store records its schema version");
    }
    let output = dir.path().join("out-other.csv");
    let (code, stderr) = run(enrich(
        &sandbox,
        &input,
        &output,
        &["--cache", cache_arg(&other)],
    ));
    assert_eq!(
        code,
        Some(2),
        "an unknown schema is an input error: {stderr}"
    );
    assert!(
        stderr.contains(cache_arg(&other)),
        "the message names the file: {stderr}"
    );
    assert!(!output.exists(), "no output from a run that did not start");

    // Neither bad store led to a single request, let alone a billed one.
    let stats = sandbox.stats();
    assert_eq!(stats.billed, billed_before, "nothing billed on a bad store");
    assert_eq!(stats.requests, 20, "nothing sent on a bad store");
}

/// Two runs sharing one store at the same time both finish, and the store is
/// intact afterwards: a third run finds every answer in it.
///
/// The store exists before the two start (made by a run over another
/// number), so this test is about two runs writing answers into one file at
/// once; two runs *creating* a store at once is the next test.
#[test]
fn two_runs_can_share_one_store_at_once() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(301);
    let (seed, numbers) = numbers.split_first().expect("301 numbers");
    let input = numbers_csv(dir.path(), "in.csv", numbers);
    let store = dir.path().join("shared.sqlite");
    // Latency makes the two runs overlap for a few hundred milliseconds.
    let sandbox = sandbox(SandboxConfig {
        latency: Duration::from_millis(5),
        ..Default::default()
    });
    let seed_input = numbers_csv(dir.path(), "seed.csv", std::slice::from_ref(seed));
    let (code, stderr) = run(enrich(
        &sandbox,
        &seed_input,
        &dir.path().join("seed-out.csv"),
        &["--cache", cache_arg(&store)],
    ));
    assert_eq!(code, Some(0), "the store is made: {stderr}");
    assert_eq!(sandbox.stats().billed, 1);

    let url = sandbox.url();
    let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
    let extra = ["--concurrency", "4", "--cache", cache_arg(&store)];
    let first = enrich_process(&url, &input, &a, &extra)
        .spawn()
        .expect("tenure starts");
    let second = enrich_process(&url, &input, &b, &extra)
        .spawn()
        .expect("tenure starts");
    let (code_a, stderr_a) = finish(first);
    let (code_b, stderr_b) = finish(second);
    assert_eq!(code_a, Some(0), "the first run: {stderr_a}");
    assert_eq!(code_b, Some(0), "the second run: {stderr_b}");
    assert_enriched(&a, numbers);
    assert_enriched(&b, numbers);

    // Neither run sees the other's answers before it asks (single-flight is
    // per process), so each number is paid by one run or both.
    let billed = sandbox.stats().billed;
    assert!(
        (1 + 300..=1 + 600).contains(&billed),
        "each number is paid by one or both runs ({billed} billed)"
    );
    let c = dir.path().join("c.csv");
    let (code, stderr) = run(enrich(
        &sandbox,
        &input,
        &c,
        &["--cache", cache_arg(&store)],
    ));
    assert_eq!(
        code,
        Some(0),
        "the shared store is still readable: {stderr}"
    );
    assert_eq!(
        sandbox.stats().billed,
        billed,
        "the third run found every answer in the shared store"
    );
    assert_enriched(&c, numbers);
}

/// Runs started together on a `--cache` file that does not exist yet all
/// create-or-open it and finish: the busy timeout covers the store's
/// creation too, not only its later writes. The race is in the first
/// milliseconds of a run, so several fresh stores are tried, three runs at a
/// time; small inputs keep this quick.
#[test]
fn two_runs_creating_one_store_at_once_both_finish() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(5);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let sandbox = sandbox(SandboxConfig::default());
    let url = sandbox.url();
    for round in 0..20 {
        let store = dir.path().join(format!("new-{round}.sqlite"));
        let extra = ["--cache", cache_arg(&store)];
        let runs: Vec<(PathBuf, Child)> = (0..3)
            .map(|run| {
                let output = dir.path().join(format!("out-{round}-{run}.csv"));
                let child = enrich_process(&url, &input, &output, &extra)
                    .spawn()
                    .expect("tenure starts");
                (output, child)
            })
            .collect();
        for (run, (output, child)) in runs.into_iter().enumerate() {
            let (code, stderr) = finish(child);
            assert_eq!(code, Some(0), "round {round}, run {run}: {stderr}");
            assert_enriched(&output, &numbers);
        }
    }
}

/// Review finding: a run longer than `--max-age` must still ask each
/// number once. With `--max-age 0s` every stored answer is "too old" at
/// once, so duplicates read after their number's answer would be billed
/// again if answers from this very run did not count as fresh.
#[test]
fn answers_from_this_run_are_fresh_whatever_the_max_age() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let numbers = distinct_numbers(300);
    // Each number twice, the repeats a whole window of rows later.
    let doubled: Vec<String> = numbers.iter().chain(numbers.iter()).cloned().collect();
    let input = numbers_csv(dir.path(), "in.csv", &doubled);
    let output = dir.path().join("out.csv");
    enrich(&sandbox, &input, &output, &["--max-age", "0s"])
        .assert()
        .success();
    let stats = sandbox.stats();
    assert_eq!(stats.requests, 300, "one request per number");
    assert!(stats.numbers.values().all(|n| n.requests == 1));
}
