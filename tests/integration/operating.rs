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

// ------------------------------------------------------------ input

fn check_json(command: &mut assert_cmd::Command) -> serde_json::Value {
    let ran = run(command, 0);
    serde_json::from_slice(&ran.stdout).expect("check --json prints JSON")
}

#[test]
fn landlines_get_a_reason_of_their_own() {
    // Issue 14, point 5: `0755-81814124` was "too long".
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = write(
        dir.path(),
        "in.csv",
        "mobile\n0755-81814124\n021-12345678\n010 1234 5678\n13800138000\n",
    );
    let out = dir.path().join("out.csv");
    run(&mut enrich(&sandbox, &input, &out, &[]), 0);
    let rows = read_csv(&out);
    for row in &rows[1..4] {
        assert_eq!(row[6], "invalid_number", "{row:?}");
        assert!(
            row[7].starts_with("a landline (fixed-line) number, not a mobile"),
            "{row:?}"
        );
    }
    assert_eq!(rows[4][6], "");
    let report = check_json(tenure().args(["check", "--json"]).arg(&input));
    assert_eq!(
        report["invalid_by_reason"]["landline"]["count"], 3,
        "{report}"
    );
}

#[test]
fn usual_header_names_for_the_number_are_found() {
    let dir = tempdir();
    for header in [
        "mobile_no",
        "Phone Number",
        "PHONE_NO",
        "mobile_number",
        "手机号码",
        "联系电话",
        "客户手机",
        "联系方式",
    ] {
        let input = write(
            dir.path(),
            "in.csv",
            format!("id,{header},note\n1,13800138000,x\n"),
        );
        let report = check_json(tenure().args(["check", "--json"]).arg(&input));
        assert_eq!(report["valid"], 1, "{header}: {report}");
    }
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

#[test]
fn gzip_input_is_read_as_it_streams_from_a_file_or_stdin() {
    // Issue 14, point 5: gzip was "neither UTF-8 nor GBK".
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let numbers = answered_numbers(50);
    let plain = numbers_csv(dir.path(), "numbers.csv", &numbers);
    let bytes = std::fs::read(&plain).expect("readable");
    let gz = write(dir.path(), "numbers.csv.gz", gzip(&bytes));
    let expected_out = dir.path().join("plain-out.csv");
    run(&mut enrich(&sandbox, &plain, &expected_out, &[]), 0);
    let expected = read_csv(&expected_out);

    let out = dir.path().join("gz-out.csv");
    run(&mut enrich(&sandbox, &gz, &out, &[]), 0);
    assert_eq!(read_csv(&out), expected, "a .gz file");
    run(
        enrich(&sandbox, Path::new("-"), &out, &[]).write_stdin(gzip(&bytes)),
        0,
    );
    assert_eq!(read_csv(&out), expected, "gzip on standard input");

    // A .tsv.gz is tab-separated, like a .tsv.
    let tsv = bytes
        .iter()
        .map(|&b| if b == b',' { b'\t' } else { b })
        .collect::<Vec<u8>>();
    let tsv_gz = write(dir.path(), "numbers.tsv.gz", gzip(&tsv));
    let report = check_json(tenure().args(["check", "--json"]).arg(&tsv_gz));
    assert_eq!(report["valid"], 50, "{report}");

    // A broken gzip stream is an input error.
    let mut broken = gzip(&bytes);
    broken.truncate(broken.len() / 2);
    let broken = write(dir.path(), "broken.csv.gz", broken);
    let ran = run(tenure().arg("check").arg(&broken), 2);
    assert!(stderr(&ran).contains("gzip"), "{}", stderr(&ran));
}

#[test]
fn a_tab_separated_header_read_as_csv_hints_at_the_delimiter() {
    let tsv = "id\tmobile\n1\t13800138000\n";
    let ran = run(tenure().args(["check", "-"]).write_stdin(tsv), 2);
    assert!(
        stderr(&ran).contains("--delimiter '\\t'"),
        "{}",
        stderr(&ran)
    );
    let ran = run(
        tenure()
            .args(["check", "-", "--delimiter", "\\t", "--json"])
            .write_stdin(tsv),
        0,
    );
    let report: serde_json::Value = serde_json::from_slice(&ran.stdout).expect("JSON");
    assert_eq!(report["valid"], 1);
}

#[test]
fn check_writes_the_invalid_rows_with_their_reason() {
    let dir = tempdir();
    let input = write(
        dir.path(),
        "in.csv",
        "id,mobile,note\n1,13800138000,ok\n2,0755-81814124,\"a, b\"\n3\n4,1.38001E+10,x\n5,13900139000,y\n",
    );
    let invalid = dir.path().join("invalid.csv");
    let report = check_json(
        tenure()
            .args(["check", "--json", "--invalid-out"])
            .arg(&invalid)
            .arg(&input),
    );
    assert_eq!(report["invalid"], 3);
    let rows = read_csv(&invalid);
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0], ["id", "mobile", "note", "reason"]);
    assert_eq!(rows[1][..3], ["2", "0755-81814124", "a, b"]);
    assert!(rows[1][3].starts_with("a landline"), "{:?}", rows[1]);
    assert_eq!(rows[2][..3], ["3", "", ""], "padded so the reason lines up");
    assert!(rows[2][3].contains("too short"), "{:?}", rows[2]);
    assert_eq!(rows[3][..3], ["4", "1.38001E+10", "x"]);
    assert!(rows[3][3].contains("scientific notation"), "{:?}", rows[3]);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("readable")
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "no temporary file is left");

    // Never over the input.
    let before = std::fs::read(&input).expect("readable");
    let same = dir.path().join(".").join("in.csv");
    let ran = run(
        tenure()
            .args(["check", "--invalid-out"])
            .arg(&same)
            .arg(&input),
        2,
    );
    assert!(stderr(&ran).contains("--invalid-out"), "{}", stderr(&ran));
    assert_eq!(std::fs::read(&input).expect("readable"), before);
}

// ------------------------------------------------------------ conventions

#[test]
fn every_enrich_flag_can_come_from_the_environment() {
    // Issue 14, point 6.
    let dir = tempdir();
    write(dir.path(), "in.txt", "x;13800138000\nx;abc\n");
    let out = dir.path().join("env-out.csv");
    tenure()
        .current_dir(dir.path())
        .args(["enrich", "in.txt"])
        .env("TENURE_OUTPUT", "env-out.csv")
        .env("TENURE_SANDBOX", "true")
        .env("TENURE_NO_HEADERS", "1")
        .env("TENURE_DELIMITER", ";")
        .env("TENURE_COLUMN", "2")
        .env("TENURE_QPS", "500")
        .env("TENURE_NO_CACHE", "yes")
        .env("TENURE_EXCEL", "on")
        .env("TENURE_QUIET", "true")
        .assert()
        .success()
        .stderr("");
    let bytes = std::fs::read(&out).expect("TENURE_OUTPUT named the output");
    assert!(bytes.starts_with(UTF8_BOM), "TENURE_EXCEL");
    let text = String::from_utf8_lossy(&bytes[3..]).into_owned();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[0].starts_with("x;13800138000;"), "{text}");
    assert!(lines[1].contains(";invalid_number;"), "{text}");
    assert!(!default_store().exists(), "TENURE_NO_CACHE");

    // The command line wins, and a false value is false.
    let ran = run(
        tenure()
            .current_dir(dir.path())
            .args(["check", "in.txt", "--delimiter", ";", "-c", "2", "--json"])
            .env("TENURE_DELIMITER", "|")
            .env("TENURE_NO_HEADERS", "false")
            .env("TENURE_QPS", "0"),
        2,
    );
    assert!(
        stderr(&ran).contains("--qps"),
        "a bad value is named: {}",
        stderr(&ran)
    );
    let ran = run(
        tenure()
            .current_dir(dir.path())
            .args([
                "check",
                "in.txt",
                "--delimiter",
                ";",
                "-c",
                "2",
                "--json",
                "--qps",
                "5",
            ])
            .env("TENURE_DELIMITER", "|")
            .env("TENURE_NO_HEADERS", "false")
            .env("TENURE_QPS", "0"),
        0,
    );
    let report: serde_json::Value = serde_json::from_slice(&ran.stdout).expect("JSON");
    assert_eq!(report["rows"], 1, "the first line is the header: {report}");
    // --help shows them.
    let help = run(tenure().args(["enrich", "--help"]), 0);
    let help = String::from_utf8_lossy(&help.stdout).into_owned();
    assert!(help.contains("[env: TENURE_QPS=]"), "{help}");
    assert!(!help.contains("TENURE_KEY"), "no variable for a secret");
}

#[test]
fn completions_and_man_pages_are_generated() {
    for (shell, mark) in [
        ("bash", "_tenure()"),
        ("zsh", "#compdef tenure"),
        ("fish", "complete -c tenure"),
    ] {
        let ran = run(tenure().args(["completions", shell]), 0);
        let script = String::from_utf8_lossy(&ran.stdout).into_owned();
        assert!(script.contains(mark), "{shell}: {script}");
        assert!(
            script.contains("max-age"),
            "{shell} completes enrich's flags"
        );
    }
    run(tenure().args(["completions", "tcsh"]), 2);

    let ran = run(tenure().arg("manpage"), 0);
    let page = String::from_utf8_lossy(&ran.stdout).into_owned();
    assert!(page.contains(".TH tenure 1"), "{page}");
    assert!(page.contains("enrich"), "{page}");
    let dir = tempdir();
    let folder = dir.path().join("man1");
    run(tenure().arg("manpage").arg(&folder), 0);
    for name in ["tenure.1", "tenure-enrich.1", "tenure-check.1"] {
        let page = std::fs::read_to_string(folder.join(name)).expect("the page is written");
        assert!(page.starts_with(".ie"), "{name} is roff");
    }
    let enrich = std::fs::read_to_string(folder.join("tenure-enrich.1")).expect("written");
    assert!(enrich.contains("TENURE_QPS") && enrich.contains("max\\-record\\-bytes"));
}

#[test]
fn version_names_the_build() {
    let ran = run(tenure().arg("--version"), 0);
    let version = String::from_utf8_lossy(&ran.stdout).trim().to_owned();
    assert!(
        version.starts_with(&format!("tenure {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    // Built from this checkout (as CI and developers build it): the commit.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    if let Ok(head) = head
        && head.status.success()
    {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
        assert!(
            version.contains(&format!("({head} ")),
            "{version} names {head}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_new_output_follows_the_umask_and_a_replaced_one_keeps_its_mode() {
    // Issue 14, point 6: the output was always 0600.
    use std::os::unix::fs::PermissionsExt;
    let dir = tempdir();
    write(dir.path(), "in.csv", "mobile\n13800138000\n");
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .expect("the file exists")
            .permissions()
            .mode()
            & 0o777
    };
    let tenure_bin = env!("CARGO_BIN_EXE_tenure");
    let under_umask = |umask: &str, out: &str| {
        let status = std::process::Command::new("sh")
            .current_dir(dir.path())
            .args([
                "-c",
                &format!("umask {umask} && exec \"$0\" enrich in.csv -o {out} --sandbox -q"),
                tenure_bin,
            ])
            .env_remove("JUHE_KEY")
            .env_remove("TENURE_CACHE")
            .env("XDG_DATA_HOME", data_home())
            .status()
            .expect("sh runs");
        assert!(status.success(), "umask {umask}");
    };
    under_umask("027", "new.csv");
    assert_eq!(mode(&dir.path().join("new.csv")), 0o640);
    under_umask("022", "other.csv");
    assert_eq!(mode(&dir.path().join("other.csv")), 0o644);

    let old = dir.path().join("old.csv");
    std::fs::write(&old, "old").expect("writable");
    std::fs::set_permissions(&old, std::fs::Permissions::from_mode(0o664)).expect("chmod");
    under_umask("077", "old.csv");
    assert_eq!(mode(&old), 0o664, "an existing output keeps its mode");
    assert_eq!(read_csv(&old).len(), 2, "and is replaced");
    // The store stays private whatever the umask.
    assert_eq!(mode(&default_store()), 0o600);
}
