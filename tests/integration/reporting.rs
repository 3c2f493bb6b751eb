//! Issue 14: operating it at 3 a.m. The summary JSON is written on every
//! exit and says what happened; logs a scheduler can read; messages that
//! say what to do.

use std::path::Path;

use tenure::sandbox::SandboxConfig;

use crate::common::*;

/// The fields DESIGN §8 lists, all present in every summary.
const FIELDS: [&str; 33] = [
    "schema",
    "version",
    "run",
    "started_at",
    "finished_at",
    "input",
    "output",
    "store",
    "endpoint",
    "sandbox",
    "qps",
    "concurrency",
    "rows",
    "valid",
    "invalid",
    "distinct",
    "from_store",
    "duplicate_rows",
    "requests",
    "retries",
    "billed",
    "failed_rows",
    "errors",
    "tenure",
    "changes",
    "exit_code",
    "stopped",
    "stopped_code",
    "message",
    "asked",
    "elapsed_secs",
    "request_rate",
    "finished_at",
];

fn summary_of(path: &Path, code: i32) -> serde_json::Value {
    let json = read_json(path);
    for field in FIELDS {
        assert!(json.get(field).is_some(), "{field} is in {json}");
    }
    assert_eq!(json["schema"], 1);
    assert_eq!(json["exit_code"], code, "{json}");
    for time in ["started_at", "finished_at"] {
        let text = json[time].as_str().expect("a time is a string");
        assert!(
            humantime::parse_rfc3339(text).is_ok(),
            "{time} is RFC 3339: {text}"
        );
    }
    json
}

/// A summary left by an earlier, successful night.
fn stale_success(path: &Path) {
    std::fs::write(path, r#"{"schema":1,"exit_code":0,"stopped":null}"#).expect("writable");
}

#[test]
fn exit_0_summary_counts_the_run() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let mut numbers = answered_numbers(4);
    numbers.push(numbers[0].clone());
    numbers.push("12345".to_owned());
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    let path = dir.path().join("summary.json");
    stale_success(&path);
    ran_with(
        enrich(&sandbox, &input, &output, &["--summary-json"]).arg(&path),
        0,
    );
    let json = summary_of(&path, 0);
    assert_eq!(json["stopped"], serde_json::Value::Null);
    assert_eq!(json["message"], serde_json::Value::Null);
    assert_eq!(
        (&json["rows"], &json["valid"], &json["invalid"]),
        (&6.into(), &5.into(), &1.into())
    );
    assert_eq!(
        (&json["distinct"], &json["duplicate_rows"]),
        (&4.into(), &1.into())
    );
    assert_eq!(json["billed"], sandbox.stats().billed);
    assert_eq!(json["input"], input.display().to_string());
    assert_eq!(json["output"], output.display().to_string());
    assert_eq!(json["endpoint"], sandbox.url());
    assert!(json["concurrency"].as_u64().is_some_and(|most| most >= 1));
}

#[test]
fn exit_2_replaces_a_stale_success_and_says_why() {
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(2));
    let path = dir.path().join("summary.json");
    stale_success(&path);
    // No key: refused before anything starts.
    let ran = ran_with(
        tenure()
            .current_dir(dir.path())
            .arg("enrich")
            .arg(&input)
            .args(["-o", "out.csv", "--summary-json"])
            .arg(&path),
        2,
    );
    let json = summary_of(&path, 2);
    assert_eq!(json["stopped"], "usage");
    assert_eq!(json["rows"], 0);
    let message = json["message"].as_str().expect("a message");
    assert!(message.contains("JUHE_KEY"), "{message}");
    assert!(ran.stderr.contains("JUHE_KEY"), "{}", ran.stderr);
    // A missing input is exit 2 too, with its summary.
    ran_with(
        tenure()
            .current_dir(dir.path())
            .args([
                "enrich",
                "no-such.csv",
                "-o",
                "out.csv",
                "--sandbox",
                "--summary-json",
            ])
            .arg(&path),
        2,
    );
    assert!(
        summary_of(&path, 2)["message"]
            .as_str()
            .is_some_and(|m| m.contains("no-such.csv"))
    );
}

#[test]
fn a_refused_summary_path_gets_no_summary() {
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(2));
    let before = std::fs::read(&input).expect("readable");
    let ran = ran_with(
        tenure()
            .current_dir(dir.path())
            .arg("enrich")
            .arg(&input)
            .args(["-o", "out.csv", "--sandbox", "--summary-json"])
            .arg(&input),
        2,
    );
    // Refused because it is the input, not for any other usage error.
    assert!(
        ran.stderr.contains(&format!(
            "--summary-json {} is the same file as",
            input.display()
        )),
        "{}",
        ran.stderr
    );
    assert_eq!(
        std::fs::read(&input).expect("readable"),
        before,
        "the input is untouched"
    );
}

#[test]
fn exit_3_and_exit_4_summaries_name_the_stop() {
    let dir = tempdir();
    let numbers = answered_numbers(3);
    let sandbox = sandbox(scripted(&[format!("{}=224805*", numbers[0])]));
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    let path = dir.path().join("summary.json");
    ran_with(
        enrich(
            &sandbox,
            &input,
            &output,
            &["--retries", "1", "--summary-json"],
        )
        .arg(&path),
        3,
    );
    let json = summary_of(&path, 3);
    assert_eq!(
        (&json["stopped"], &json["failed_rows"]),
        (&"failed".into(), &1.into())
    );

    let ran = ran_with(
        enrich(&sandbox, &input, &output, &["--summary-json"])
            .arg(&path)
            .env("JUHE_KEY", "a-wrong-key"),
        4,
    );
    let json = summary_of(&path, 4);
    assert_eq!(
        (&json["stopped"], &json["stopped_code"]),
        (&"bad_key".into(), &10001.into())
    );
    let message = json["message"].as_str().expect("a message");
    assert!(
        message.contains("JUHE_KEY") && message.contains("10001"),
        "{message}"
    );
    assert!(
        !ran.stderr.contains("rerun the same command"),
        "{}",
        ran.stderr
    );
}

#[test]
fn exit_5_when_the_output_cannot_be_written() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: this machine has no /dev/full");
        return;
    }
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(3));
    let path = dir.path().join("summary.json");
    let full = std::fs::File::create("/dev/full").expect("/dev/full opens");
    let ran = Ran::from(
        enrich_process(
            &sandbox.url(),
            &input,
            Path::new("-"),
            &["--summary-json", path_str(&path)],
        )
        .stdout(full)
        .output()
        .expect("tenure runs"),
    );
    assert_eq!(ran.code, 5, "{}", ran.stderr);
    let json = summary_of(&path, 5);
    assert_eq!(json["stopped"], "environment");
    assert!(
        ran.stderr.contains("writing the output failed"),
        "{}",
        ran.stderr
    );
}

#[test]
fn progress_lines_when_stderr_is_not_a_terminal() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig {
        latency: std::time::Duration::from_millis(20),
        ..SandboxConfig::default()
    });
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(30));
    let output = dir.path().join("out.csv");
    let ran = ran_with(
        &mut enrich(
            &sandbox,
            &input,
            &output,
            &["--qps", "20", "--progress-interval", "200ms"],
        ),
        0,
    );
    let lines: Vec<&str> = ran
        .stderr
        .lines()
        .filter(|l| l.contains("progress:"))
        .collect();
    assert!(
        lines.len() >= 2,
        "a line every 200 ms of a 1.5 s run:\n{}",
        ran.stderr
    );
    for line in lines {
        let stamp = line
            .trim_start_matches("tenure: ")
            .split(' ')
            .next()
            .expect("a first word");
        assert!(
            humantime::parse_rfc3339(stamp).is_ok(),
            "timestamped: {line}"
        );
        assert!(line.contains("rows") && line.contains("billed"), "{line}");
    }
}

#[test]
fn json_logs_make_every_stderr_line_an_object() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(5));
    let output = dir.path().join("out.csv");
    let ran = ran_with(
        &mut enrich(
            &sandbox,
            &input,
            &output,
            &["--log-format", "json", "--progress-interval", "1ms"],
        ),
        0,
    );
    let mut events = Vec::new();
    for line in ran.stderr.lines() {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|err| panic!("{line}: {err}"));
        assert!(
            object["time"].is_string() && object["level"].is_string(),
            "{line}"
        );
        events.extend(object["event"].as_str().map(str::to_owned));
    }
    assert!(events.iter().any(|e| e == "summary"), "{}", ran.stderr);
    // A usage error too.
    let ran = ran_with(
        tenure().current_dir(dir.path()).args([
            "enrich",
            "no-such.csv",
            "-o",
            "o.csv",
            "--sandbox",
            "--log-format",
            "json",
        ]),
        2,
    );
    let object: serde_json::Value = serde_json::from_str(ran.stderr.trim()).expect("one JSON line");
    assert_eq!(object["level"], "error");
}
