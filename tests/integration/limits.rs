//! Hostile and clumsy input (issue 10): records too long to hold, rows
//! wider than the header, leftovers of killed runs, formulas in the API's
//! text, a duplicated number column, a key file others can read.

use std::path::Path;
use std::time::Duration;

use tenure::sandbox::SandboxConfig;

use crate::common::*;

const MIB: usize = 1 << 20;

// ------------------------------------------------------------ record size

#[test]
fn a_header_longer_than_the_record_limit_stops_naming_the_file_and_line() {
    // Issue 10, point 1: 2 MiB and no line end; the parser would hold it all.
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = write(dir.path(), "wide.csv", vec![b'a'; 2 * MIB]);
    let out = dir.path().join("out.csv");
    let ran = ran_with(&mut enrich(&sandbox, &input, &out, &[]), 2);
    let message = &ran.stderr;
    assert!(
        message.contains("wide.csv, line 1") && message.contains("--max-record-bytes"),
        "{message}"
    );
    assert!(!out.exists(), "nothing at the output path");
}

#[test]
fn a_row_longer_than_the_record_limit_stops_naming_its_line() {
    // Issue 10, point 1, without a header: `/dev/zero` grew 500 MB/s.
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let mut bytes = b"13800138000\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'7', 2 * MIB));
    let input = write(dir.path(), "long.csv", &bytes);
    let out = dir.path().join("out.csv");
    let ran = ran_with(&mut enrich(&sandbox, &input, &out, &["--no-headers"]), 2);
    let message = &ran.stderr;
    assert!(
        message.contains("long.csv, line 2") && message.contains("1048576 bytes"),
        "{message}"
    );
    assert!(!out.exists(), "nothing at the output path");

    // The same on standard input, read on a thread of its own.
    let ran = ran_with(
        enrich(&sandbox, Path::new("-"), &out, &["--no-headers"]).write_stdin(bytes),
        2,
    );
    assert!(ran.stderr.contains("<stdin>, line 2"), "{}", ran.stderr);
}

#[test]
fn a_long_row_is_read_whole_under_a_raised_limit() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let note = "x".repeat(3 * MIB / 2);
    let input = write(
        dir.path(),
        "long.csv",
        format!("id,note,mobile\n1,{note},13800138000\n2,short,13900139000\n"),
    );
    let out = dir.path().join("out.csv");
    // Refused under the default limit, and for that reason.
    let ran = ran_with(&mut enrich(&sandbox, &input, &out, &[]), 2);
    assert!(
        ran.stderr.contains("long.csv, line 2") && ran.stderr.contains("--max-record-bytes"),
        "{}",
        ran.stderr
    );
    ran_with(
        &mut enrich(&sandbox, &input, &out, &["--max-record-bytes", "4194304"]),
        0,
    );
    let rows = read_csv(&out);
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][1], note, "the long field comes back whole");
    assert_eq!(rows[1].len(), 10);
    assert_eq!(rows[2][..3], ["2", "short", "13900139000"]);
}

// ------------------------------------------------------------ wide rows

#[test]
fn a_row_wider_than_the_header_stops_enrich_naming_the_line() {
    // Issue 10, point 3: `extra` and `more` became tenure_code and tenure.
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = write(
        dir.path(),
        "wide.csv",
        "id,mobile\n0,13900139000\n1,13800138000,extra,more\n",
    );
    let out = dir.path().join("out.csv");
    let ran = ran_with(&mut enrich(&sandbox, &input, &out, &[]), 2);
    let message = &ran.stderr;
    assert!(
        message.contains("wide.csv, line 3 has 4 fields, 2 more than the header (2)"),
        "{message}"
    );
    assert!(!out.exists(), "nothing at the output path");

    // Without a header the first row sets the width; shorter rows are
    // padded to it, so the seven columns line up.
    let input = write(
        dir.path(),
        "bare.csv",
        "13800138000,a,b\n13900139000\n13700137000,a,b,c\n",
    );
    let ran = ran_with(&mut enrich(&sandbox, &input, &out, &["--no-headers"]), 2);
    assert!(
        ran.stderr
            .contains("line 3 has 4 fields, 1 more than the first row (3)"),
        "{}",
        ran.stderr
    );
    let input = write(dir.path(), "short.csv", "13800138000,a,b\n13900139000\n");
    ran_with(&mut enrich(&sandbox, &input, &out, &["--no-headers"]), 0);
    let rows = read_csv(&out);
    assert_eq!(rows[0].len(), 10);
    assert_eq!(rows[1].len(), 10, "padded to the first row: {:?}", rows[1]);
    assert_eq!(rows[1][..3], ["13900139000", "", ""]);
}

#[test]
fn check_lists_rows_wider_than_the_header_instead_of_stopping() {
    let dir = tempdir();
    let input = write(
        dir.path(),
        "wide.csv",
        "id,mobile\n0,13900139000\n1,13800138000,extra\n2,13700137000\n3,1,2,3\n",
    );
    let report = stdout_json(tenure().args(["check", "--json"]).arg(&input));
    assert_eq!(report["rows"], 4);
    assert_eq!(report["valid"], 2);
    let wide = &report["invalid_by_reason"]["too_many_fields"];
    assert_eq!(wide["count"], 2, "{report}");
    assert_eq!(wide["rows"], serde_json::json!([2, 4]));
    assert!(
        wide["example"]
            .as_str()
            .is_some_and(|e| e.contains("line 3 has 3 fields")),
        "{wide}"
    );
    let text = ran_with(tenure().arg("check").arg(&input), 0).stdout;
    assert!(text.contains("too_many_fields"), "{text}");
}

// ------------------------------------------------------------ leftovers

/// The names in `dir` of the temporary outputs of `out.csv`.
fn out_partials(dir: &Path) -> Vec<String> {
    partials(dir)
        .into_iter()
        .filter(|name| name.starts_with(".out.csv."))
        .collect()
}

#[test]
fn the_partial_output_of_a_dead_run_is_removed_by_the_next_run() {
    // Issue 10, point 9: after `kill -9` the partial output, with its
    // numbers, stayed for ever.
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "numbers.csv", &distinct_numbers(3));
    let out = dir.path().join("out.csv");
    let own = std::process::id();
    // 4000000000 is above the kernel's largest pid_max: no such process.
    let dead = write(
        dir.path(),
        ".out.csv.4000000000.Xy12ab.partial",
        "13800138000\n",
    );
    let alive = write(dir.path(), &format!(".out.csv.{own}.Xy12ab.partial"), "x\n");
    let other = write(dir.path(), ".other.csv.4000000000.Xy12ab.partial", "x\n");
    let ran = ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    if cfg!(target_os = "linux") {
        assert!(!dead.exists(), "a dead run's leftover is removed");
        assert!(
            ran.stderr.contains(".out.csv.4000000000.Xy12ab.partial"),
            "the removal is told: {}",
            ran.stderr
        );
    }
    assert!(alive.exists(), "a live process's file stays");
    assert!(other.exists(), "another output's file stays");
    assert_eq!(read_csv(&out).len(), 4);
}

#[test]
fn a_run_killed_with_kill_9_leaves_a_partial_output_that_the_next_run_removes() {
    let slow = sandbox(SandboxConfig {
        latency: Duration::from_millis(300),
        ..SandboxConfig::default()
    });
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "numbers.csv", &distinct_numbers(20));
    let out = dir.path().join("out.csv");
    let mut child = enrich_process(&slow.url(), &input, &out, &["--qps", "5"])
        .spawn()
        .expect("tenure starts");
    let named = format!(".out.csv.{}.", child.id());
    wait_for(Duration::from_secs(30), || {
        !out_partials(dir.path()).is_empty()
    });
    let found = out_partials(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with(&named),
        "the name holds the pid: {found:?}"
    );
    child.kill().expect("kill -9");
    child.wait().expect("the child is reaped");
    assert_eq!(out_partials(dir.path()), found, "kill -9 leaves it behind");

    let quick = sandbox(SandboxConfig::default());
    ran_with(&mut enrich(&quick, &input, &out, &[]), 0);
    if cfg!(target_os = "linux") {
        assert_eq!(out_partials(dir.path()), Vec::<String>::new());
    }
    assert_eq!(read_csv(&out).len(), 21);
}

// ------------------------------------------------------------ formulas

/// A server that answers like the API, but with text that spreadsheets
/// take for formulas: a tenure for 13800138000, a 224801 for any other.
/// Serves `requests` requests, one per connection.
fn formula_server(requests: usize) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let Ok(stream) = stream else { break };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream);
            let mut length = 0;
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let answer = if String::from_utf8_lossy(&body).contains("13800138000") {
                r#"{"reason":"成功","result":{"code":"=1+1","desc":"@SUM(A1)","province":"+广东","city":"-深圳","isp":"=HYPERLINK(\"http://x\")"},"error_code":0}"#
            } else {
                r#"{"reason":"=cmd|' /C calc'!A0","result":null,"error_code":224801}"#
            };
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            let _ = reader.get_mut().write_all(response.as_bytes());
        }
    });
    url
}

#[test]
fn api_text_that_starts_like_a_formula_is_written_as_text() {
    // Issue 10, point 10: `=`, `+`, `-`, `@` reached Excel as formulas.
    let url = formula_server(2);
    let dir = tempdir();
    let input = write(
        dir.path(),
        "in.csv",
        "note,mobile\n=SUM(1),13800138000\n@me,13900139000\n",
    );
    let out = dir.path().join("out.csv");
    ran_with(
        &mut enrich_at(&url, &input, &out, &["--no-cache", "--retries", "0"]),
        0,
    );
    let rows = read_csv(&out);
    assert_eq!(
        rows[1],
        [
            "=SUM(1)",
            "13800138000",
            "'=1+1",
            "'@SUM(A1)",
            "'+广东",
            "'-深圳",
            "'=HYPERLINK(\"http://x\")",
            "",
            ""
        ],
        "the user's own fields are untouched"
    );
    assert_eq!(rows[2][0], "@me");
    assert_eq!(rows[2][7], "224801");
    assert_eq!(rows[2][8], "'=cmd|' /C calc'!A0");
}

// ------------------------------------------------------------ warnings

#[test]
fn a_duplicated_number_column_gets_a_warning_naming_both() {
    let dir = tempdir();
    let input = write(
        dir.path(),
        "dup.csv",
        "id,mobile,name,mobile\n1,13800138000,a,13900139000\n",
    );
    let ran = ran_with(tenure().args(["check", "--json"]).arg(&input), 0);
    let message = &ran.stderr;
    assert!(
        message.contains("warning")
            && message.contains("2 columns named \"mobile\" (columns 2 and 4); using column 2"),
        "{message}"
    );
    let ran = ran_with(tenure().args(["check", "-c", "4"]).arg(&input), 0);
    assert!(!ran.stderr.contains("warning"), "chosen by position");
}

#[cfg(unix)]
#[test]
fn a_key_file_others_can_read_gets_a_warning_without_its_content() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(1));
    let out = dir.path().join("out.csv");
    let key = write(
        dir.path(),
        "key",
        format!("{}\n", tenure::sandbox::DEFAULT_KEY),
    );
    let key_flag = key.to_str().expect("UTF-8 path");
    let set_mode = |mode| {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode))
            .expect("chmod the key file");
    };

    set_mode(0o644);
    let ran = ran_with(
        enrich(&sandbox, &input, &out, &["--key-file", key_flag]).env_remove("JUHE_KEY"),
        0,
    );
    let message = &ran.stderr;
    assert!(
        message.contains("warning: --key-file") && message.contains("mode 0644"),
        "{message}"
    );
    assert!(message.contains("chmod 600"), "{message}");
    assert!(!message.contains(tenure::sandbox::DEFAULT_KEY), "{message}");

    set_mode(0o600);
    let ran = ran_with(
        enrich(&sandbox, &input, &out, &["--key-file", key_flag]).env_remove("JUHE_KEY"),
        0,
    );
    assert!(!ran.stderr.contains("warning"), "{}", ran.stderr);
}
