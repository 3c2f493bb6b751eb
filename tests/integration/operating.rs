//! Operating it (issue 14, DESIGN §8): output for Excel, landlines, header
//! aliases, gzip input, the TSV hint, `check --invalid-out`, environment
//! variables for flags, completions, the man page, the version, and the
//! output file's mode.

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use tenure::sandbox::{SandboxConfig, answer_for};

use crate::common::*;

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs a command to its end and checks its exit code.
fn run(command: &mut assert_cmd::Command, code: i32) -> Output {
    let output = command
        .timeout(Duration::from_secs(120))
        .output()
        .expect("the tenure binary runs");
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit status {:?}, expected {code}\nstderr:\n{}",
        output.status,
        stderr(&output)
    );
    output
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// A number the sandbox answers with tenure code `code`, and one it
/// answers 224801.
fn number_with_code(code: &str) -> String {
    distinct_numbers(2000)
        .into_iter()
        .find(|n| answer_for(n).is_ok_and(|answer| answer.code == code))
        .expect("the sandbox gives every code")
}

fn number_without_record() -> String {
    distinct_numbers(2000)
        .into_iter()
        .find(|n| answer_for(n) == Err(224801))
        .expect("the sandbox answers 224801 to 2% of numbers")
}

// ------------------------------------------------------------------ excel

#[test]
fn excel_output_has_a_bom_crlf_and_codes_kept_as_text() {
    // Issue 14, point 4: Excel showed `03` (0–3 months) as `3` (24+).
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let fresh = number_with_code("03");
    let missing = number_without_record();
    let input = write(
        dir.path(),
        "in.csv",
        format!("id,mobile\n007,{fresh}\n008,{missing}\n009,abc\n"),
    );
    let out = dir.path().join("out.csv");
    run(&mut enrich(&sandbox, &input, &out, &["--excel"]), 0);
    let bytes = std::fs::read(&out).expect("the output exists");
    assert!(bytes.starts_with(UTF8_BOM), "a BOM");
    let text = std::str::from_utf8(&bytes[3..]).expect("UTF-8");
    assert_eq!(text.matches("\r\n").count(), 4, "{text:?}");
    assert_eq!(text.matches('\n').count(), 4, "every line ends in CRLF");
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(
        lines[1].starts_with(&format!("007,{fresh},\"=\"\"03\"\"\",\"(0,3]\",")),
        "the user's `007` as it was, the code as a text formula: {}",
        lines[1]
    );
    assert!(
        lines[2].contains(",\"=\"\"224801\"\"\","),
        "a numeric error code as text: {}",
        lines[2]
    );
    assert!(lines[3].contains(",invalid_number,"), "{}", lines[3]);

    // Without --excel the bytes stay as programs expect them.
    run(&mut enrich(&sandbox, &input, &out, &[]), 0);
    let bytes = std::fs::read(&out).expect("the output exists");
    assert!(!bytes.starts_with(UTF8_BOM));
    let text = String::from_utf8(bytes).expect("UTF-8");
    assert!(!text.contains('\r'));
    assert!(
        text.contains(&format!("007,{fresh},03,\"(0,3]\",")),
        "{text}"
    );
    assert!(text.contains(",224801,"), "{text}");

    // On standard output too.
    let ran = run(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &["--excel"])
            .write_stdin(format!("mobile\n{fresh}\n")),
        0,
    );
    assert!(ran.stdout.starts_with(UTF8_BOM));
    let text = String::from_utf8_lossy(&ran.stdout[3..]).into_owned();
    assert!(
        text.contains("\"=\"\"03\"\"\"") && text.ends_with("\r\n"),
        "{text}"
    );
}
