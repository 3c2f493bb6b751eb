//! Reading and tending the store as a user does (DESIGN §4 `tenure cache`,
//! §6 `tenure usage`, §7 `cache changes`), and `tenure check`'s time
//! estimate (issue 12, point 2). Every test drives the binary against an
//! in-process sandbox and compares what the commands say with what the
//! sandbox counted and the runs' summaries reported.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tenure::sandbox::{
    DEFAULT_OPENID, Sandbox, SandboxConfig, answer_at, answer_for, change_between, parse_script,
};

use crate::common::*;

fn text(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// `tenure ARGS…` run to exit 0; its standard output.
fn stdout_of(args: &[&str]) -> String {
    ran_with(tenure().args(args), 0).stdout
}

/// `tenure usage --json ARGS…`, parsed.
fn usage_json(args: &[&str]) -> Vec<Value> {
    let out = stdout_of(&[&["usage", "--json"], args].concat());
    let parsed: Value = serde_json::from_str(&out).expect("usage --json is JSON");
    parsed.as_array().expect("an array").clone()
}

/// The billed, requests and unanswered of usage rows, summed.
fn totals(rows: &[Value]) -> [u64; 3] {
    let sum = |field: &str| {
        rows.iter()
            .map(|row| row[field].as_u64().expect("a count"))
            .sum()
    };
    [sum("billed"), sum("requests"), sum("unanswered")]
}

/// `tenure cache stats --json ARGS…`, parsed.
fn stats_json(args: &[&str]) -> Value {
    let out = stdout_of(&[&["cache", "stats", "--json"], args].concat());
    serde_json::from_str(&out).expect("cache stats --json is JSON")
}

fn count(value: &Value) -> u64 {
    value.as_u64().unwrap_or_else(|| panic!("a count: {value}"))
}

/// Asserts that no number of `numbers` shows in `stderr`.
fn no_number_in(stderr: &str, numbers: &[String]) {
    for number in numbers {
        assert!(!stderr.contains(number.as_str()), "{number} in:\n{stderr}");
    }
}

/// Numbers the sandbox answers 224801 (free, a row answer).
fn unknown_numbers(count: usize) -> Vec<String> {
    let numbers: Vec<String> = distinct_numbers(count * 200)
        .into_iter()
        .filter(|n| answer_for(n) == Err(224801))
        .take(count)
        .collect();
    assert_eq!(numbers.len(), count, "enough numbers without a record");
    numbers
}

/// Restarts a sandbox on `addr` (the port of one just dropped), so that the
/// next run's `--endpoint`, hence the store's source, is the same; the
/// port may stay taken for a moment.
fn sandbox_on(addr: SocketAddr, config: SandboxConfig) -> Sandbox {
    for _ in 0..50 {
        match Sandbox::start(config.clone(), addr) {
            Ok(sandbox) => return sandbox,
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    panic!("cannot rebind the sandbox on {addr}");
}

/// DESIGN §6: the billed total of `tenure usage` equals the billed answers
/// received, over two runs with a dropped connection, a retried 224805, a
/// free 224801 and rows answered from the store; runs of `enrich --sandbox`
/// count only with `--sandbox`, runs against a sandbox's `--endpoint` like
/// the real API's.
#[test]
fn usage_billed_total_equals_the_billed_answers_received() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let answered = answered_numbers(60);
    let unknown = unknown_numbers(2);
    let mut scripts = std::collections::HashMap::new();
    for script in [
        format!("{}=drop,ok", answered[0]),
        format!("{}=224805,ok", answered[40]),
    ] {
        let (number, script) = parse_script(&script).expect("a valid script");
        scripts.insert(number, script);
    }
    let sandbox = sandbox(SandboxConfig {
        scripts,
        ..SandboxConfig::default()
    });
    // Night 1: 30 numbers and a 224801; night 2: 30 more, 10 of night 1
    // (answered from the store) and another 224801.
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
        let input = numbers_csv(dir.path(), &format!("in{night}.csv"), numbers);
        let summary = dir.path().join(format!("summary{night}.json"));
        ran_with(
            &mut enrich(
                &sandbox,
                &input,
                &dir.path().join(format!("out{night}.csv")),
                &["--summary-json", text(&summary)],
            ),
            0,
        );
        summaries.push(read_json(&summary));
    }
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
    for row in &by_day {
        let day = row["day"].as_str().expect("a day");
        assert!(
            jiff::civil::Date::strptime("%Y-%m-%d", day).is_ok(),
            "{day}"
        );
        assert!(row.get("run").is_none());
    }
    assert_eq!(usage_json(&["--sandbox"]), by_day, "no sandbox run yet");
    let by_run = usage_json(&["--by", "run"]);
    assert_eq!(by_run.len(), 2, "{by_run:?}");
    for summary in &summaries {
        let row = by_run
            .iter()
            .find(|row| row["run"] == summary["run"])
            .unwrap_or_else(|| panic!("run {} in {by_run:?}", summary["run"]));
        assert_eq!(row["billed"], summary["billed"]);
        assert_eq!(row["requests"], summary["requests"]);
        assert!(row.get("day").is_none());
    }

    // A run of `enrich --sandbox` (the in-process simulator) is counted
    // only with --sandbox.
    let input = numbers_csv(dir.path(), "sandboxed.csv", &answered[..12]);
    let summary = dir.path().join("sandboxed.json");
    ran_with(
        &mut enrich(
            &sandbox,
            &input,
            &dir.path().join("sandboxed.out.csv"),
            &["--sandbox", "--summary-json", text(&summary)],
        ),
        0,
    );
    let sandboxed = read_json(&summary);
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
    let table = stdout_of(&["usage", "--sandbox"]);
    let total: Vec<&str> = table
        .lines()
        .find(|line| line.starts_with("total"))
        .unwrap_or_else(|| panic!("a total line in:\n{table}"))
        .split_whitespace()
        .collect();
    let want = totals(&with).map(|n| n.to_string());
    assert_eq!(total[1..], want, "{table}");
    assert!(table.contains("sandbox runs included"), "{table}");
    let table = stdout_of(&["usage"]);
    assert!(table.contains("sandbox runs left out"), "{table}");
}

/// DESIGN §6: days are the time zone's (Asia/Shanghai by default) and whole:
/// `--since 0s` is today, from midnight.
#[test]
fn usage_days_are_whole_days_in_the_time_zone() {
    let dir = tempfile::tempdir().expect("a temporary folder");
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
    let rows: Value = serde_json::from_str(
        &ran_with(
            tenure()
                .env("TENURE_TZ", "+14:00")
                .args(["usage", "--json", "--since", "0s"]),
            0,
        )
        .stdout,
    )
    .expect("JSON");
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

/// `stats` counts the whole store, every source: the answers of a run
/// against an endpoint and of a run of `--sandbox` for the same numbers
/// are two answers each.
#[test]
fn cache_stats_counts_every_source() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let answered = answered_numbers(8);
    let unknown = unknown_numbers(2);
    let numbers: Vec<String> = answered.iter().chain(&unknown).cloned().collect();
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let out = dir.path().join("out.csv");
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    ran_with(&mut enrich(&sandbox, &input, &out, &["--sandbox"]), 0);
    let stats = stats_json(&[]);
    assert_eq!(count(&stats["answers"]), 20, "{stats}");
    assert_eq!(count(&stats["successes"]), 16, "{stats}");
    assert_eq!(count(&stats["ledger"]), 20, "{stats}");
    assert_eq!(count(&stats["billed"]), 16, "{stats}");
    assert_eq!(count(&stats["runs"]), 2, "{stats}");
    assert_eq!(count(&stats["claims"]), 0, "{stats}");
    assert_eq!(stats["store"], text(&default_store()));
    for end in ["oldest", "newest"] {
        let at = stats[end].as_str().expect("a time");
        assert!(at.parse::<jiff::Timestamp>().is_ok(), "{at}");
    }
    let table = stdout_of(&["cache", "stats"]);
    let line = table
        .lines()
        .find(|line| line.starts_with("answers"))
        .unwrap_or_else(|| panic!("an answers line in:\n{table}"));
    assert_eq!(line.split_whitespace().nth(1), Some("20"), "{table}");
    assert!(table.contains("16 billed"), "{table}");
}

/// Issue 13, point 5: the export holds every answer, whole numbers and the
/// encrypted endpoint's `orderid`; `-o FILE` writes the same bytes.
#[test]
fn cache_export_writes_every_answer_with_its_orderid() {
    let dir = tempfile::tempdir().expect("a temporary folder");
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
    let mut reader = csv::Reader::from_reader(ran.stdout.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("a header")
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        header,
        [
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
            "orderid"
        ]
    );
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

    let file = dir.path().join("answers.csv");
    ran_with(tenure().args(["cache", "export", "-o", text(&file)]), 0);
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
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let numbers = answered_numbers(3);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    ran_with(
        &mut enrich(&sandbox, &input, &dir.path().join("o.csv"), &[]),
        0,
    );
    let before = std::fs::read(default_store()).expect("the store");
    let ran = ran_with(
        tenure().args(["cache", "export", "-o", text(&default_store())]),
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
    let dir = tempfile::tempdir().expect("a temporary folder");
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

/// The version-1 tables of an earlier tenure (its per-output
/// `OUTPUT.cache.sqlite`).
const V1_SCHEMA: &str = "
    CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('schema_version', 1);
    CREATE TABLE answers (
        number TEXT NOT NULL, source TEXT NOT NULL, kind INTEGER NOT NULL,
        code TEXT NOT NULL, desc TEXT, province TEXT, city TEXT, isp TEXT, reason TEXT,
        endpoint TEXT NOT NULL, answered_at INTEGER NOT NULL,
        PRIMARY KEY (number, source)
    ) WITHOUT ROWID;";

/// A version-1 store holding the sandbox's answers for `numbers` from
/// `source`, as an earlier tenure left them a minute ago.
fn version_1_store(path: &Path, source: &str, numbers: &[String]) {
    let conn = rusqlite::Connection::open(path).expect("a new SQLite file");
    conn.execute_batch(V1_SCHEMA).expect("the version-1 schema");
    let at = jiff::Timestamp::now().as_millisecond() - 60_000;
    for number in numbers {
        let answer = answer_for(number).expect("an answered number");
        conn.execute(
            "INSERT INTO answers VALUES (?1, ?2, 0, ?3, ?4, ?5, ?6, ?7, NULL, 'query', ?8)",
            rusqlite::params![
                number,
                source,
                answer.code,
                answer.desc,
                answer.province,
                answer.city,
                answer.isp,
                at
            ],
        )
        .expect("an answer");
    }
}

/// Issue 11, point 1: upgrading costs no night of re-billing. A version-1
/// store (and a version-2 one) merged into the user's store answers its
/// numbers for free; the file imported is only read, and importing it
/// again adds nothing.
#[test]
fn cache_import_merges_older_stores_so_nothing_is_paid_again() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let numbers = answered_numbers(20);
    let (old, other) = numbers.split_at(10);
    let v1 = dir.path().join("enriched.csv.cache.sqlite");
    version_1_store(&v1, &sandbox.url(), old);
    let bytes = std::fs::read(&v1).expect("the version-1 file");

    let ran = ran_with(tenure().args(["cache", "import", text(&v1)]), 0);
    assert!(ran.stdout.contains("10 answers added"), "{}", ran.stdout);
    assert!(ran.stdout.contains("0 kept"), "{}", ran.stdout);
    assert_eq!(std::fs::read(&v1).expect("still there"), bytes, "only read");
    let input = numbers_csv(dir.path(), "old.csv", old);
    let out = dir.path().join("old.out.csv");
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    assert_eq!(
        sandbox.stats().requests,
        0,
        "every answer came from the import"
    );
    for row in read_csv(&out).iter().skip(1) {
        assert_eq!(row[2], answer_for(&row[1]).expect("answered").code);
    }
    let again = stdout_of(&["cache", "import", text(&v1)]);
    assert!(again.contains("0 answers added"), "{again}");
    assert!(again.contains("10 kept"), "{again}");

    // A version-2 store of another run.
    let theirs = dir.path().join("theirs.sqlite");
    let input = numbers_csv(dir.path(), "other.csv", other);
    ran_with(
        &mut enrich(
            &sandbox,
            &input,
            &dir.path().join("theirs.csv"),
            &["--cache", text(&theirs)],
        ),
        0,
    );
    let billed = sandbox.stats().billed;
    assert_eq!(billed, 10);
    let ran = ran_with(tenure().args(["cache", "import", text(&theirs)]), 0);
    assert!(ran.stdout.contains("10 answers added"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("10 history entries added"),
        "{}",
        ran.stdout
    );
    no_number_in(&ran.stderr, &numbers);
    ran_with(
        &mut enrich(&sandbox, &input, &dir.path().join("o.csv"), &[]),
        0,
    );
    assert_eq!(sandbox.stats().billed, billed, "nothing paid twice");
    assert_eq!(count(&stats_json(&[])["answers"]), 20);
}

#[test]
fn cache_import_refuses_a_missing_file_and_the_store_itself() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let missing = dir.path().join("missing.sqlite");
    let ran = ran_with(tenure().args(["cache", "import", text(&missing)]), 2);
    assert!(ran.stderr.contains("missing.sqlite"), "{}", ran.stderr);
    assert!(!default_store().exists(), "no store made for nothing");

    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(2));
    ran_with(
        &mut enrich(&sandbox, &input, &dir.path().join("o.csv"), &[]),
        0,
    );
    let ran = ran_with(
        tenure().args(["cache", "import", text(&default_store())]),
        2,
    );
    assert!(ran.stderr.contains("the store itself"), "{}", ran.stderr);

    let csv = write(dir.path(), "not-a-store.sqlite", "id,mobile\n1,2\n");
    let ran = ran_with(tenure().args(["cache", "import", text(&csv)]), 2);
    assert!(ran.stderr.contains("not-a-store.sqlite"), "{}", ran.stderr);
}

/// DESIGN §4: purge removes answers (by code or by age, every source) and
/// their history, never the ledger: `usage` says the same after it, and
/// a rerun asks the purged numbers again.
#[test]
fn cache_purge_removes_answers_by_code_and_age_and_keeps_the_ledger() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let answered = answered_numbers(20);
    let unknown = unknown_numbers(3);
    let numbers: Vec<String> = answered.iter().chain(&unknown).cloned().collect();
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let out = dir.path().join("out.csv");
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    let usage = totals(&usage_json(&[]));
    assert_eq!(usage, [20, 23, 0]);

    let ran = ran_with(tenure().args(["cache", "purge", "--code", "224801"]), 0);
    assert!(
        ran.stdout
            .contains("removed 3 answers and 3 history entries with code 224801"),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("ledger"), "{}", ran.stdout);
    let stats = stats_json(&[]);
    assert_eq!(count(&stats["answers"]), 20);
    assert_eq!(count(&stats["history"]), 20);
    assert_eq!(count(&stats["ledger"]), 23, "the ledger is kept");
    assert_eq!(totals(&usage_json(&[])), usage);
    // The rerun asks only the purged numbers again.
    let requests = sandbox.stats().requests;
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    assert_eq!(sandbox.stats().requests, requests + 3);

    // By age, every source: a sandbox run's answers go too.
    ran_with(&mut enrich(&sandbox, &input, &out, &["--sandbox"]), 0);
    let stats = stats_json(&[]);
    assert_eq!(count(&stats["answers"]), 46);
    let ledger = count(&stats["ledger"]);
    let ran = ran_with(tenure().args(["cache", "purge", "--older-than", "0s"]), 0);
    assert!(ran.stdout.contains("removed 46 answers"), "{}", ran.stdout);
    no_number_in(&ran.stderr, &numbers);
    let stats = stats_json(&[]);
    assert_eq!(count(&stats["answers"]), 0);
    assert_eq!(count(&stats["history"]), 0);
    assert_eq!(count(&stats["ledger"]), ledger, "the ledger is kept");
    let billed = sandbox.stats().billed;
    assert_eq!(totals(&usage_json(&[]))[0], billed);

    // One of the two, never neither nor both, and never a store that is
    // not there.
    ran_with(tenure().args(["cache", "purge"]), 2);
    ran_with(
        tenure().args(["cache", "purge", "--code", "03", "--older-than", "1d"]),
        2,
    );
    let missing = dir.path().join("missing.sqlite");
    ran_with(
        tenure().args(["cache", "purge", "--code", "03", "--cache", text(&missing)]),
        2,
    );
    assert!(!missing.exists(), "no store made by a purge");
}

/// DESIGN §7 (issue 13, point 3): two nights an "epoch" apart; `changes`
/// lists exactly the numbers whose answer changed, with the change, before
/// and after, for the source asked: the endpoint's, not the real API's nor
/// the sandbox's.
#[test]
fn cache_changes_lists_the_numbers_whose_answer_changed() {
    let dir = tempfile::tempdir().expect("a temporary folder");
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
    let numbers: Vec<String> = changing.iter().chain(&steady).cloned().collect();
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let out = dir.path().join("out.csv");

    let night1 = sandbox(SandboxConfig::default());
    let addr = night1.addr();
    let url = night1.url();
    ran_with(&mut enrich(&night1, &input, &out, &[]), 0);
    drop(night1);
    let night2 = sandbox_on(
        addr,
        SandboxConfig {
            epoch: 1,
            ..SandboxConfig::default()
        },
    );
    ran_with(&mut enrich(&night2, &input, &out, &["--max-age", "0s"]), 0);

    let ran = ran_with(
        tenure().args(["cache", "changes", "--since", "30d", "--endpoint", &url]),
        0,
    );
    assert_eq!(ran.stderr, "");
    let mut reader = csv::Reader::from_reader(ran.stdout.as_bytes());
    assert_eq!(
        reader
            .headers()
            .expect("a header")
            .iter()
            .collect::<Vec<_>>(),
        [
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
            "after_isp"
        ]
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
    let want: BTreeSet<&String> = changing.iter().collect();
    assert_eq!(listed.keys().collect::<BTreeSet<_>>(), want);

    let jsonl = stdout_of(&["cache", "changes", "--json", "--endpoint", &url]);
    let mut from_json = BTreeMap::new();
    for line in jsonl.lines() {
        let line: Value = serde_json::from_str(line).expect("one JSON object a line");
        let number = line["number"].as_str().expect("a number").to_owned();
        let after = answer_at(&number, 1).expect("answered");
        assert_eq!(line["after"]["code"], after.code);
        assert_eq!(line["after"]["tenure"], after.desc);
        assert_eq!(line["source"], url.as_str());
        from_json.insert(
            number,
            line["change"].as_str().expect("a change").to_owned(),
        );
    }
    assert_eq!(from_json, listed);

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

/// The store the tending commands read is enrich's: `--cache`, else
/// `TENURE_CACHE`, else the user's default file; one that is not there is
/// exit 2 naming it, never an empty report.
#[test]
fn the_tending_commands_read_the_store_enrich_uses() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let numbers = answered_numbers(7);
    let (mine, team) = numbers.split_at(3);
    let ran = ran_with(tenure().args(["cache", "stats"]), 2);
    assert!(
        ran.stderr.contains(text(&default_store())),
        "{}",
        ran.stderr
    );
    let ran = ran_with(tenure().args(["usage"]), 2);
    assert!(ran.stderr.contains("does not exist"), "{}", ran.stderr);

    let input = numbers_csv(dir.path(), "mine.csv", mine);
    ran_with(
        &mut enrich(&sandbox, &input, &dir.path().join("a.csv"), &[]),
        0,
    );
    let shared = dir.path().join("team.sqlite");
    let input = numbers_csv(dir.path(), "team.csv", team);
    ran_with(
        &mut enrich(
            &sandbox,
            &input,
            &dir.path().join("b.csv"),
            &["--cache", text(&shared)],
        ),
        0,
    );
    assert_eq!(count(&stats_json(&[])["answers"]), 3);
    let from_env = |args: &[&str]| -> Value {
        let out = ran_with(
            tenure()
                .env("TENURE_CACHE", &shared)
                .args(["cache", "stats", "--json"])
                .args(args),
            0,
        )
        .stdout;
        serde_json::from_str(&out).expect("JSON")
    };
    assert_eq!(count(&from_env(&[])["answers"]), 4);
    let flag = from_env(&["--cache", text(&default_store())]);
    assert_eq!(count(&flag["answers"]), 3, "--cache wins");
    let usage: Value = serde_json::from_str(
        &ran_with(
            tenure()
                .env("TENURE_CACHE", &shared)
                .args(["usage", "--json"]),
            0,
        )
        .stdout,
    )
    .expect("JSON");
    assert_eq!(totals(usage.as_array().expect("an array"))[0], 4);
}

/// Issue 12, point 2: `check` estimates with the model `--concurrency
/// auto` runs by, and says when a fixed concurrency caps the rate below
/// --qps.
#[test]
fn check_estimates_time_with_the_concurrency_model() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(100));
    let check = |args: &[&str]| -> Value {
        let out = stdout_of(&[&["check", text(&input), "--json"], args].concat());
        serde_json::from_str(&out).expect("check --json is JSON")
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    // The limiter's window is a second plus 20 ms of slack.
    let slack = 1000.0 / 1020.0;

    let default = check(&[]);
    assert_eq!(default["concurrency"], "auto");
    assert_eq!(default["latency_ms"], 150);
    assert_eq!(default["capped"], false);
    let rate = default["rate"].as_f64().expect("a rate");
    assert!(close(rate, 10.0 * slack), "{rate}");
    let secs = default["estimated_secs"].as_f64().expect("seconds");
    assert!(close(secs, 100.0 / rate), "{secs}");

    // Issue 12: --qps 500 with 8 in flight at 100 ms reached 77.7/s.
    let capped = check(&["--qps", "500", "--concurrency", "8", "--latency", "100ms"]);
    assert_eq!(capped["concurrency"], "8");
    assert_eq!(capped["capped"], true);
    assert!(close(capped["rate"].as_f64().expect("a rate"), 80.0));
    let secs = capped["estimated_secs"].as_f64().expect("seconds");
    assert!(close(secs, 100.0 / 80.0), "{secs}");
    let auto = check(&["--qps", "500", "--latency", "100ms"]);
    assert_eq!(auto["capped"], false);
    assert!(close(auto["rate"].as_f64().expect("a rate"), 500.0 * slack));
    // auto's ceiling: 256 in flight at 400 ms is 640/s.
    let ceiling = check(&["--qps", "1000", "--latency", "400ms"]);
    assert_eq!(ceiling["capped"], true);
    assert!(close(ceiling["rate"].as_f64().expect("a rate"), 640.0));

    let table = stdout_of(&[
        "check",
        text(&input),
        "--qps",
        "500",
        "--concurrency",
        "8",
        "--latency",
        "100ms",
    ]);
    assert!(table.contains("80.0 requests/s"), "{table}");
    assert!(
        table.contains("warning: --concurrency 8 holds the run to about 80.0 requests/s"),
        "{table}"
    );
    assert!(table.contains("--latency 100ms"), "{table}");
    let table = stdout_of(&["check", text(&input), "--qps", "500"]);
    assert!(!table.contains("warning"), "{table}");

    // Set in the environment, as for enrich.
    let out = ran_with(
        tenure()
            .env("TENURE_CONCURRENCY", "8")
            .env("TENURE_LATENCY", "100ms")
            .args(["check", "--json", "--qps", "500", text(&input)]),
        0,
    )
    .stdout;
    let report: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["capped"], true);
    ran_with(
        tenure().args(["check", text(&input), "--latency", "soon"]),
        2,
    );
}

/// The help is the spec: every new command's long help has a worked
/// example.
#[test]
fn every_tending_command_long_help_has_an_example() {
    for command in [
        &["cache"][..],
        &["cache", "stats"],
        &["cache", "export"],
        &["cache", "import"],
        &["cache", "purge"],
        &["cache", "changes"],
        &["usage"],
        &["check"],
    ] {
        let help = stdout_of(&[command, &["--help"]].concat());
        assert!(help.contains("Example"), "{command:?} --help: {help}");
    }
}

/// A PostgreSQL schema of this test's own, dropped when it ends.
struct PgSchema {
    server: String,
    name: String,
}

impl PgSchema {
    /// `None`, having said so, when `TENURE_TEST_POSTGRES` is not set.
    fn create(test: &str) -> Option<PgSchema> {
        let Some(server) = std::env::var("TENURE_TEST_POSTGRES")
            .ok()
            .filter(|url| !url.is_empty())
        else {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "skipped: {test} needs PostgreSQL; set \
                 TENURE_TEST_POSTGRES=postgresql://postgres@127.0.0.1:5432/test to run it"
            );
            return None;
        };
        let name = format!("tenure_tend_{:016x}", fastrand::u64(..));
        let mut admin = postgres::Client::connect(&server, postgres::NoTls)
            .unwrap_or_else(|error| panic!("TENURE_TEST_POSTGRES is set but unreachable: {error}"));
        admin
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .expect("the test user can create a schema");
        Some(PgSchema { server, name })
    }

    /// The store's URL: the server's, with the search path set to the schema.
    fn url(&self) -> String {
        let options = format!("options=-c%20search_path%3D{}", self.name);
        let glue = if self.server.contains('?') { '&' } else { '?' };
        format!("{}{glue}{options}", self.server)
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// The tending commands on a team's PostgreSQL store: stats, usage (its
/// billed total the sandbox's), export and purge.
#[test]
fn cache_stats_and_usage_on_a_postgresql_store() {
    let Some(schema) = PgSchema::create("cache_stats_and_usage_on_a_postgresql_store") else {
        return;
    };
    let url = schema.url();
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let answered = answered_numbers(12);
    let unknown = unknown_numbers(2);
    let numbers: Vec<String> = answered.iter().chain(&unknown).cloned().collect();
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    ran_with(
        &mut enrich(
            &sandbox,
            &input,
            &dir.path().join("out.csv"),
            &["--cache", &url],
        ),
        0,
    );
    let stats = stats_json(&["--cache", &url]);
    assert_eq!(count(&stats["answers"]), 14, "{stats}");
    assert_eq!(count(&stats["billed"]), sandbox.stats().billed);
    assert_eq!(count(&stats["runs"]), 1);
    let usage = usage_json(&["--cache", &url]);
    assert_eq!(
        totals(&usage),
        [sandbox.stats().billed, sandbox.stats().requests, 0]
    );
    let by_run = usage_json(&["--cache", &url, "--by", "run"]);
    assert_eq!(by_run.len(), 1);
    let export = stdout_of(&["cache", "export", "--cache", &url]);
    assert_eq!(export.lines().count(), 15, "{export}");
    let purged = stdout_of(&["cache", "purge", "--code", "224801", "--cache", &url]);
    assert!(purged.contains("removed 2 answers"), "{purged}");
    assert_eq!(count(&stats_json(&["--cache", &url])["ledger"]), 14);
    // A version-1 file merged into the team's store.
    let v1 = dir.path().join("old.cache.sqlite");
    let old = answered_numbers(20)[12..].to_vec();
    version_1_store(&v1, &sandbox.url(), &old);
    let ran = ran_with(
        tenure().args(["cache", "import", text(&v1), "--cache", &url]),
        0,
    );
    assert!(ran.stdout.contains("8 answers added"), "{}", ran.stdout);
    assert_eq!(count(&stats_json(&["--cache", &url])["answers"]), 20);
    assert!(
        !default_store().exists(),
        "the user's store was not touched"
    );
}

/// A PostgreSQL URL's password shows nowhere: not in the tending commands'
/// --help (which shows TENURE_CACHE's value for flags that read it unless
/// told not to), not in their errors.
#[test]
fn the_tending_commands_never_show_a_store_password() {
    let url = "postgresql://tenure:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2";
    for command in [
        &["cache", "stats"][..],
        &["cache", "export"],
        &["cache", "import"],
        &["cache", "purge"],
        &["cache", "changes"],
        &["usage"],
    ] {
        let help = ran_with(
            tenure()
                .env("TENURE_CACHE", url)
                .args(command)
                .arg("--help"),
            0,
        );
        assert!(
            !help.stdout.contains("hunter2"),
            "{command:?}: {}",
            help.stdout
        );
    }
    for args in [
        &["cache", "stats", "--cache", url][..],
        &["usage", "--cache", url],
        &["cache", "purge", "--code", "03", "--cache", url],
    ] {
        let ran = ran_with(tenure().args(args), 2);
        assert!(
            ran.stderr.contains("127.0.0.1:1"),
            "{args:?}: {}",
            ran.stderr
        );
        assert!(!ran.stderr.contains("hunter2"), "{args:?}: {}", ran.stderr);
    }
}
