//! Input as operators have it (issue 14, point 5): landlines with a reason
//! of their own, the usual header names, gzip from a file or a pipe, a hint
//! at `--delimiter` for tab-separated text, and `check --invalid-out`.

use std::path::Path;

use tenure::sandbox::SandboxConfig;

use crate::common::*;

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
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    let rows = read_csv(&out);
    for row in &rows[1..4] {
        assert_eq!(row[6], "invalid_number", "{row:?}");
        assert!(
            row[7].starts_with("a landline (fixed-line) number, not a mobile"),
            "{row:?}"
        );
    }
    assert_eq!(rows[4][6], "");
    let report = stdout_json(tenure().args(["check", "--json"]).arg(&input));
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
        let report = stdout_json(tenure().args(["check", "--json"]).arg(&input));
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
    ran_with(&mut enrich(&sandbox, &plain, &expected_out, &[]), 0);
    let expected = read_csv(&expected_out);

    let out = dir.path().join("gz-out.csv");
    ran_with(&mut enrich(&sandbox, &gz, &out, &[]), 0);
    assert_eq!(read_csv(&out), expected, "a .gz file");
    ran_with(
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
    let report = stdout_json(tenure().args(["check", "--json"]).arg(&tsv_gz));
    assert_eq!(report["valid"], 50, "{report}");

    // A broken gzip stream is an input error.
    let mut broken = gzip(&bytes);
    broken.truncate(broken.len() / 2);
    let broken = write(dir.path(), "broken.csv.gz", broken);
    let ran = ran_with(tenure().arg("check").arg(&broken), 2);
    assert!(ran.stderr.contains("starts like gzip"), "{}", ran.stderr);
}

#[test]
fn a_tab_separated_header_read_as_csv_hints_at_the_delimiter() {
    let tsv = "id\tmobile\n1\t13800138000\n";
    let ran = ran_with(tenure().args(["check", "-"]).write_stdin(tsv), 2);
    assert!(ran.stderr.contains("--delimiter '\\t'"), "{}", ran.stderr);
    let report = stdout_json(
        tenure()
            .args(["check", "-", "--delimiter", "\\t", "--json"])
            .write_stdin(tsv),
    );
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
    let report = stdout_json(
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
    let leftovers = partials(dir.path());
    assert!(
        leftovers.is_empty(),
        "no temporary file is left: {leftovers:?}"
    );

    // Never over the input: refused for that reason, the input untouched.
    let before = std::fs::read(&input).expect("readable");
    let same = dir.path().join(".").join("in.csv");
    let ran = ran_with(
        tenure()
            .args(["check", "--invalid-out"])
            .arg(&same)
            .arg(&input),
        2,
    );
    assert!(
        ran.stderr.contains("--invalid-out") && ran.stderr.contains("is the input"),
        "{}",
        ran.stderr
    );
    assert_eq!(std::fs::read(&input).expect("readable"), before);
}
