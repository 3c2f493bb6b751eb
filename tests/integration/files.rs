//! Real files and real operators (issue 5): encodings, delimiters, headers,
//! ragged rows, degenerate files, stdin to stdout, `tenure check` against the
//! sample's known make-up, and SIGINT/SIGTERM in the middle of a run.
//!
//! Every input is made by the test in a temporary folder (the GBK ones with
//! `encoding_rs`), except `fixtures/sample.csv`, whose make-up comes from
//! `fixtures/make_sample.py`.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tenure::COLUMNS;
use tenure::number;
use tenure::sandbox::{Sandbox, SandboxConfig, Stats, answer_for};
use tenure::store::{Location, Store};

use crate::common::*;

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample.csv")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs a command to its end and checks its exit code, showing its stderr
/// when the code is not the one expected.
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

/// The header row tenure writes for these input headers.
fn enriched_header(input: &[&str]) -> Vec<String> {
    input
        .iter()
        .copied()
        .chain(COLUMNS)
        .map(str::to_owned)
        .collect()
}

/// Checks that the seven appended fields of `row` are the sandbox's answer
/// for `number` (a valid, normalised number).
fn assert_answered(row: &[String], number: &str) {
    assert!(row.len() >= 7, "{row:?} has the seven appended fields");
    let appended = &row[row.len() - 7..];
    match answer_for(number) {
        Ok(answer) => {
            assert_eq!(appended[0], answer.code, "tenure_code of {row:?}");
            assert_eq!(appended[1], answer.desc, "tenure of {row:?}");
            assert_eq!(appended[2], answer.province, "province of {row:?}");
            assert_eq!(appended[3], answer.city, "city of {row:?}");
            assert_eq!(appended[4], answer.isp, "isp of {row:?}");
            assert_eq!(appended[5], "", "error_code of {row:?}");
            assert_eq!(appended[6], "", "error of {row:?}");
        }
        Err(code) => assert_eq!(appended[5], code.to_string(), "error_code of {row:?}"),
    }
}

/// Checks that `row` ends with an `invalid_number` answer, and returns its
/// reason.
fn assert_invalid(row: &[String]) -> &str {
    let appended = &row[row.len() - 7..];
    assert_eq!(&appended[..5], ["", "", "", "", ""], "{row:?}");
    assert_eq!(appended[5], "invalid_number", "{row:?}");
    &appended[6]
}

fn read_delimited(path: &Path, delimiter: u8) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap_or_else(|err| panic!("{} is readable: {err}", path.display()));
    reader
        .records()
        .map(|record| {
            record
                .expect("every record is valid UTF-8")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(bytes)
        .records()
        .map(|record| {
            record
                .expect("every record is valid UTF-8 CSV")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// The names of the files in `dir`.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the temporary folder is readable")
        .map(|entry| {
            entry
                .expect("a folder entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "the test text is all GBK");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the GBK bytes are not also valid UTF-8"
    );
    bytes.into_owned()
}

// ---------------------------------------------------------------- encodings

const CHINESE: &str = "姓名,手机号,备注\n张三,13800138000,老客户\n李四,139 0013 9000,\"续费, 已联系\"\n王五,abc,说\"明天再打\"\n";

fn assert_chinese_output(rows: &[Vec<String>]) {
    assert_eq!(rows.len(), 4, "{rows:?}");
    assert_eq!(rows[0], enriched_header(&["姓名", "手机号", "备注"]));
    assert_eq!(rows[1][..3], ["张三", "13800138000", "老客户"]);
    assert_eq!(rows[2][..3], ["李四", "139 0013 9000", "续费, 已联系"]);
    assert_eq!(rows[3][..3], ["王五", "abc", "说\"明天再打\""]);
    assert_answered(&rows[1], "13800138000");
    assert_answered(&rows[2], "13900139000");
    assert_invalid(&rows[3]);
}

#[test]
fn a_gbk_file_is_detected_and_written_back_as_utf8() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = write(dir.path(), "gbk.csv", gbk(CHINESE));

    // auto (the default) finds GBK, and says so.
    let out = dir.path().join("auto.csv");
    let ran = run(&mut enrich(&sandbox, &input, &out, &[]), 0);
    let bytes = std::fs::read(&out).expect("the output exists");
    assert!(
        std::str::from_utf8(&bytes).is_ok(),
        "the output is UTF-8: {bytes:?}"
    );
    assert!(!bytes.starts_with(UTF8_BOM), "no BOM unless --bom");
    assert_chinese_output(&read_csv(&out));
    let said = stderr(&ran);
    assert!(said.contains("GBK"), "stderr says it read GBK:\n{said}");
    assert!(said.contains("gbk.csv"), "and names the file:\n{said}");

    // --encoding gbk, explicitly: the same output, and no guessing to report.
    let out = dir.path().join("explicit.csv");
    let ran = run(
        &mut enrich(&sandbox, &input, &out, &["--encoding", "gbk"]),
        0,
    );
    assert_chinese_output(&read_csv(&out));
    assert!(!stderr(&ran).contains("is not UTF-8"), "{}", stderr(&ran));

    // The same from standard input, judged by its first bytes.
    let ran = run(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &[])
            .current_dir(dir.path())
            .write_stdin(gbk(CHINESE)),
        0,
    );
    assert_chinese_output(&parse_csv(&ran.stdout));
    assert!(stderr(&ran).contains("GBK"), "{}", stderr(&ran));
}

#[test]
fn a_utf8_file_is_read_as_utf8() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = write(dir.path(), "utf8.csv", CHINESE);
    let out = dir.path().join("out.csv");
    let ran = run(&mut enrich(&sandbox, &input, &out, &[]), 0);
    assert_chinese_output(&read_csv(&out));
    assert!(!stderr(&ran).contains("GBK"), "{}", stderr(&ran));
}

#[test]
fn bytes_that_are_neither_utf8_nor_gb18030_are_an_input_error_naming_the_line() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let cases: [(&str, &[u8], &str); 3] = [
        // 0x81 starts a two-byte GBK character, but 0x20 cannot end one.
        (
            "lead.csv",
            b"name,mobile\na,13800138000\nb\x81\x20c,13900139000\n",
            "line 3",
        ),
        // 0xFF is in neither encoding.
        (
            "ff.csv",
            b"name,mobile\na,13800138000\nb,13900139000\n\xFF,13700137000\n",
            "line 4",
        ),
        // Valid GBK before the bad byte does not hide it.
        (
            "mixed.csv",
            b"name,mobile\n\xD5\xC5\xC8\xFD,13800138000\n\xC0\xEE\xCB\xC4,13900139000\nx,1\xFF3700137000\n",
            "line 4",
        ),
    ];
    for (name, bytes, line) in cases {
        let input = write(dir.path(), name, bytes);
        let out = dir.path().join(format!("{name}.out.csv"));
        for encoding in ["auto", "gbk"] {
            let ran = run(
                &mut enrich(&sandbox, &input, &out, &["--encoding", encoding]),
                2,
            );
            let said = stderr(&ran);
            assert!(
                said.contains(line),
                "{name} ({encoding}) names {line}:\n{said}"
            );
            assert!(
                said.contains(name),
                "{name} ({encoding}) names the file:\n{said}"
            );
            assert!(!out.exists(), "{name} ({encoding}): no output");
        }
    }
}

/// `--encoding utf-8` on bytes that are not UTF-8 must not pass them through:
/// the output is promised to be UTF-8.
#[test]
fn explicit_utf8_on_bytes_that_are_not_utf8_is_an_input_error_naming_the_line() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let mut bytes = b"name,mobile\n".to_vec();
    bytes.extend(gbk("张三,13800138000\n"));
    let input = write(dir.path(), "gbk-names.csv", &bytes);
    let out = dir.path().join("out.csv");
    let ran = enrich(&sandbox, &input, &out, &["--encoding", "utf-8"])
        .timeout(Duration::from_secs(60))
        .output()
        .expect("the binary runs");
    let written = std::fs::read(&out).unwrap_or_default();
    assert!(
        std::str::from_utf8(&written).is_ok(),
        "--encoding utf-8 wrote an output that is not UTF-8 (the input's GBK bytes copied \
         through); exit {:?}",
        ran.status.code()
    );
    assert_eq!(
        ran.status.code(),
        Some(2),
        "exit 2 for input that is not UTF-8; stderr:\n{}",
        stderr(&ran)
    );
    assert!(stderr(&ran).contains("line 2"), "{}", stderr(&ran));
}

/// UTF-8 text on stdin, longer than the part `auto` judges by, whose cut
/// falls inside a character: it is still UTF-8.
#[test]
fn stdin_auto_detection_does_not_mistake_long_utf8_for_gbk() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let note = "续费已联系明天再打".repeat(100);
    let mut text = String::new();
    for pad in 0..8 {
        text = format!("name,mobile,note{}\n", "x".repeat(pad));
        let mut i = 0;
        while text.len() < (1 << 20) + 10_000 {
            text.push_str(&format!("张三{i},13800138000,{note}\n"));
            i += 1;
        }
        // A continuation byte at 1 MiB: the first MiB ends mid-character.
        if text.as_bytes()[1 << 20] & 0xC0 == 0x80 {
            break;
        }
    }
    assert_eq!(
        text.as_bytes()[1 << 20] & 0xC0,
        0x80,
        "the test built its cut"
    );
    let rows_in = text.lines().count();
    let ran = run(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &[])
            .current_dir(dir.path())
            .write_stdin(text),
        0,
    );
    let said = stderr(&ran);
    assert!(
        !said.contains("GBK"),
        "valid UTF-8 on stdin was read as GBK (the 1 MiB sniff ends mid-character):\n{said}"
    );
    let rows = parse_csv(&ran.stdout);
    assert_eq!(rows.len(), rows_in);
    assert_eq!(rows[1][0], "张三0");
    assert_eq!(rows[1][2], note);
}

/// UTF-8 on stdin for its first MiB, then a byte that is not: the tool
/// cannot go back to read it as GB18030, and must not copy it through.
#[test]
fn stdin_that_stops_being_utf8_after_the_first_mib_is_an_input_error() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let mut bytes = b"name,mobile\n".to_vec();
    let mut line = 1;
    while bytes.len() < (1 << 20) + 1000 {
        bytes.extend_from_slice("张三李四王五赵六,13800138000\n".as_bytes());
        line += 1;
    }
    bytes.extend_from_slice(b"\xFF\xFE,13900139000\n");
    line += 1;
    let ran = enrich(&sandbox, Path::new("-"), Path::new("-"), &[])
        .current_dir(dir.path())
        .write_stdin(bytes)
        .timeout(Duration::from_secs(60))
        .output()
        .expect("the binary runs");
    assert!(
        std::str::from_utf8(&ran.stdout).is_ok(),
        "stdout carries bytes that are not UTF-8 (exit {:?})",
        ran.status.code()
    );
    assert_eq!(ran.status.code(), Some(2), "{}", stderr(&ran));
    assert!(
        stderr(&ran).contains(&format!("line {line}")),
        "names line {line}:\n{}",
        stderr(&ran)
    );
}

#[test]
fn a_utf8_bom_is_read_past_and_written_only_with_bom() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let mut bytes = UTF8_BOM.to_vec();
    bytes.extend_from_slice("mobile,name\n13800138000,张三\n".as_bytes());
    let input = write(dir.path(), "bom.csv", &bytes);

    // Auto column detection sees `mobile`, not `\u{feff}mobile`.
    let out = dir.path().join("out.csv");
    run(&mut enrich(&sandbox, &input, &out, &[]), 0);
    let written = std::fs::read(&out).expect("the output exists");
    assert!(!written.starts_with(UTF8_BOM), "no BOM without --bom");
    let rows = read_csv(&out);
    assert_eq!(rows[0], enriched_header(&["mobile", "name"]));
    assert_eq!(rows[1][..2], ["13800138000", "张三"]);
    assert_answered(&rows[1], "13800138000");

    // --bom: exactly one, whether the input had one or not.
    let plain = write(dir.path(), "plain.csv", "mobile,name\n13800138000,张三\n");
    for (input, name) in [(&input, "with-bom.csv"), (&plain, "without-bom.csv")] {
        let out = dir.path().join(name);
        run(&mut enrich(&sandbox, input, &out, &["--bom"]), 0);
        let written = std::fs::read(&out).expect("the output exists");
        assert!(written.starts_with(UTF8_BOM), "{name} starts with a BOM");
        assert!(
            !written[3..].starts_with(UTF8_BOM),
            "{name} has exactly one BOM"
        );
        let rows = parse_csv(&written[3..]);
        assert_eq!(rows[0], enriched_header(&["mobile", "name"]), "{name}");
        assert_answered(&rows[1], "13800138000");
    }

    // --bom on standard output too.
    let ran = run(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &["--bom"])
            .current_dir(dir.path())
            .write_stdin(bytes),
        0,
    );
    assert!(ran.stdout.starts_with(UTF8_BOM));
    assert!(!ran.stdout[3..].starts_with(UTF8_BOM));
}

// ------------------------------------------------------------------- shapes

#[test]
fn a_tsv_file_is_tab_delimited_in_and_out() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = write(
        dir.path(),
        "numbers.tsv",
        "id\tmobile\tnote\n1\t13800138000\ta, b; c\n2\t139-0013-9000\t\n",
    );
    let out = dir.path().join("out.tsv");
    run(&mut enrich(&sandbox, &input, &out, &[]), 0);
    let text = std::fs::read_to_string(&out).expect("the output is UTF-8");
    let header = text.lines().next().expect("a header line");
    assert_eq!(
        header.split('\t').collect::<Vec<_>>(),
        enriched_header(&["id", "mobile", "note"]),
        "the header is tab-delimited"
    );
    let rows = read_delimited(&out, b'\t');
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][..3], ["1", "13800138000", "a, b; c"]);
    assert_eq!(rows[2][..3], ["2", "139-0013-9000", ""]);
    assert_answered(&rows[1], "13800138000");
    assert_answered(&rows[2], "13900139000");

    // Told otherwise, a .tsv file is read with the delimiter given.
    let commas = write(dir.path(), "commas.tsv", "id,mobile\n1,13800138000\n");
    let out = dir.path().join("commas-out.csv");
    run(
        &mut enrich(&sandbox, &commas, &out, &["--delimiter", ","]),
        0,
    );
    let rows = read_csv(&out);
    assert_eq!(rows[0], enriched_header(&["id", "mobile"]));
    assert_answered(&rows[1], "13800138000");
}

#[test]
fn delimiter_semicolon_and_tab_are_honoured() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = write(
        dir.path(),
        "semi.csv",
        "id;mobile;note\n1;13800138000;\"a;b\",c\n",
    );
    let out = dir.path().join("out.csv");
    run(
        &mut enrich(&sandbox, &input, &out, &["--delimiter", ";"]),
        0,
    );
    let rows = read_delimited(&out, b';');
    assert_eq!(rows[0], enriched_header(&["id", "mobile", "note"]));
    assert_eq!(rows[1][..3], ["1", "13800138000", "a;b,c"]);
    assert_eq!(rows[1].len(), 10);
    assert_answered(&rows[1], "13800138000");

    // `\t` spelled out, for a file that is not named .tsv.
    let tabs = write(dir.path(), "tabs.txt", "id\tmobile\n1\t13800138000\n");
    let out = dir.path().join("tabs-out.txt");
    run(
        &mut enrich(&sandbox, &tabs, &out, &["--delimiter", "\\t"]),
        0,
    );
    let rows = read_delimited(&out, b'\t');
    assert_eq!(rows[0], enriched_header(&["id", "mobile"]));
    assert_answered(&rows[1], "13800138000");
}

#[test]
fn no_headers_makes_the_first_row_data() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();

    // Column 1 by default.
    let input = write(
        dir.path(),
        "first.csv",
        "13800138000,张三\n139 0013 9000,李四\n",
    );
    let out = dir.path().join("first-out.csv");
    run(&mut enrich(&sandbox, &input, &out, &["--no-headers"]), 0);
    let rows = read_csv(&out);
    assert_eq!(rows.len(), 2, "no header row is added: {rows:?}");
    assert_eq!(rows[0][..2], ["13800138000", "张三"]);
    assert_eq!(rows[1][..2], ["139 0013 9000", "李四"]);
    assert_eq!(rows[0].len(), 9);
    assert_answered(&rows[0], "13800138000");
    assert_answered(&rows[1], "13900139000");

    // -c 2 picks the second column.
    let input = write(
        dir.path(),
        "second.csv",
        "张三,13800138000\n李四,13900139000\n",
    );
    let out = dir.path().join("second-out.csv");
    run(
        &mut enrich(&sandbox, &input, &out, &["--no-headers", "-c", "2"]),
        0,
    );
    let rows = read_csv(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][..2], ["张三", "13800138000"]);
    assert_answered(&rows[0], "13800138000");
    assert_answered(&rows[1], "13900139000");

    // A header-like first row is data too: `mobile` is an invalid number.
    let input = write(dir.path(), "looks.csv", "mobile\n13800138000\n");
    let out = dir.path().join("looks-out.csv");
    run(&mut enrich(&sandbox, &input, &out, &["--no-headers"]), 0);
    let rows = read_csv(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], "mobile");
    assert_invalid(&rows[0]);
    assert_answered(&rows[1], "13800138000");

    // With no names, a name is a usage error.
    let ran = run(
        &mut enrich(&sandbox, &input, &out, &["--no-headers", "-c", "mobile"]),
        2,
    );
    assert!(stderr(&ran).contains("--column"), "{}", stderr(&ran));
}

#[test]
fn ragged_rows_are_kept_as_they_are_and_enriched() {
    // Rows shorter than the header; a longer one stops the run (issue 10:
    // see `limits::a_row_wider_than_the_header_stops_enrich_naming_the_line`).
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = write(
        dir.path(),
        "ragged.csv",
        "id,name,mobile,note\n\
         1,x,13800138000,full\n\
         2,y,13900139000\n\
         4,w\n\
         5\n",
    );
    let out = dir.path().join("out.csv");
    run(&mut enrich(&sandbox, &input, &out, &[]), 0);
    let rows = read_csv(&out);
    assert_eq!(rows.len(), 5, "{rows:?}");
    assert_eq!(rows[0], enriched_header(&["id", "name", "mobile", "note"]));
    let originals: [&[&str]; 4] = [
        &["1", "x", "13800138000", "full"],
        &["2", "y", "13900139000"],
        &["4", "w"],
        &["5"],
    ];
    for (row, original) in rows[1..].iter().zip(originals) {
        // Short rows are padded with empty fields to the header's width, so
        // that the seven columns line up under their names; nothing the
        // row had is changed or dropped.
        let width = original.len().max(4);
        assert_eq!(row.len(), width + 7, "{row:?}");
        assert_eq!(row[..original.len()], *original, "kept as it was");
        assert!(row[original.len()..width].iter().all(String::is_empty));
    }
    // Fewer fields, but the number column is there: answered.
    assert_answered(&rows[1], "13800138000");
    assert_answered(&rows[2], "13900139000");
    // Too short to have the number column (column 3).
    for (row, fields) in [(&rows[3], 2), (&rows[4], 1)] {
        let reason = assert_invalid(row);
        assert!(
            reason.contains(&format!("{fields} field")) && reason.contains("column 3"),
            "the reason says the row is too short for column 3: {reason:?}"
        );
    }
}

#[test]
fn a_header_only_file_gives_a_header_only_output() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    for (name, text) in [
        ("newline.csv", "id,mobile\n"),
        ("no-newline.csv", "id,mobile"),
        ("crlf.csv", "id,mobile\r\n"),
    ] {
        let input = write(dir.path(), name, text);
        let out = dir.path().join(format!("out-{name}"));
        run(&mut enrich(&sandbox, &input, &out, &[]), 0);
        assert_eq!(
            read_csv(&out),
            [enriched_header(&["id", "mobile"])],
            "{name}"
        );
    }
    assert_eq!(sandbox.stats().requests, 0);
}

#[test]
fn empty_missing_and_directory_inputs_are_input_errors_naming_the_path() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let empty = write(dir.path(), "empty.csv", "");
    let missing = dir.path().join("missing.csv");
    let folder = dir.path().join("folder.csv");
    std::fs::create_dir(&folder).expect("a folder");
    for input in [&empty, &missing, &folder] {
        let out = dir.path().join("out.csv");
        let ran = run(&mut enrich(&sandbox, input, &out, &[]), 2);
        let said = stderr(&ran);
        let path = input.display().to_string();
        assert!(said.contains(&path), "names {path}:\n{said}");
        assert!(!out.exists(), "no output for {path}");

        let ran = run(tenure().arg("check").arg(input), 2);
        let said = stderr(&ran);
        assert!(said.contains(&path), "check names {path}:\n{said}");
    }
    // Empty standard input is the same.
    let ran = run(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &[])
            .current_dir(dir.path())
            .write_stdin(""),
        2,
    );
    assert!(stderr(&ran).contains("<stdin>"), "{}", stderr(&ran));
    assert!(ran.stdout.is_empty());
    assert_eq!(sandbox.stats().requests, 0);
}

#[test]
fn stdin_to_stdout_keeps_stdout_for_the_csv_and_leaves_no_files() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = "id,mobile,note\n1,13800138000,\"a,\nb\"\n2,abc,\n3,+86 139-0013-9000,x\n4,13800138000,dup\n";
    let ran = run(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &[])
            .current_dir(dir.path())
            .write_stdin(input),
        0,
    );
    let rows = parse_csv(&ran.stdout);
    assert_eq!(rows.len(), 5, "{}", stdout(&ran));
    assert_eq!(rows[0], enriched_header(&["id", "mobile", "note"]));
    assert_eq!(rows[1][..3], ["1", "13800138000", "a,\nb"]);
    assert_answered(&rows[1], "13800138000");
    assert_invalid(&rows[2]);
    assert_answered(&rows[3], "13900139000");
    assert_answered(&rows[4], "13800138000");
    assert!(
        !stdout(&ran).contains("tenure:") && !stdout(&ran).contains("summary"),
        "messages stay off stdout:\n{}",
        stdout(&ran)
    );
    assert!(
        stderr(&ran).contains("summary"),
        "the summary is on stderr:\n{}",
        stderr(&ran)
    );
    assert_eq!(
        files_in(dir.path()),
        Vec::<String>::new(),
        "no cache or temporary file in the working folder"
    );
    // Duplicates still cost one query (a temporary store).
    assert_eq!(sandbox.stats().billed, 2);
}

// -------------------------------------------------------------------- check

/// The sample's make-up, computed here from the file with the tool's number
/// rules and a set.
#[derive(Debug, Default)]
struct MakeUp {
    rows: u64,
    valid: u64,
    invalid: u64,
    by_reason: BTreeMap<String, (u64, Vec<u64>)>,
    distinct: u64,
    duplicates: u64,
}

fn sample_make_up() -> MakeUp {
    let mut reader = csv::Reader::from_path(sample_path()).expect("the sample is readable");
    let column = reader
        .headers()
        .expect("the sample has headers")
        .iter()
        .position(|h| h == "mobile")
        .expect("the sample has a mobile column");
    let mut make_up = MakeUp::default();
    let mut seen = HashSet::new();
    for record in reader.records() {
        let record = record.expect("the sample is valid CSV");
        make_up.rows += 1;
        match number::parse(&record[column]) {
            Ok(number) => {
                make_up.valid += 1;
                if !seen.insert(number) {
                    make_up.duplicates += 1;
                }
            }
            Err(invalid) => {
                make_up.invalid += 1;
                let (count, rows) = make_up
                    .by_reason
                    .entry(invalid.code().to_owned())
                    .or_default();
                *count += 1;
                if rows.len() < 5 {
                    rows.push(make_up.rows);
                }
            }
        }
    }
    make_up.distinct = seen.len() as u64;
    make_up
}

fn check_json(command: &mut assert_cmd::Command) -> Value {
    let ran = run(command, 0);
    serde_json::from_slice(&ran.stdout)
        .unwrap_or_else(|err| panic!("--json prints JSON ({err}):\n{}", stdout(&ran)))
}

#[test]
fn check_reports_the_sample_make_up() {
    let make_up = sample_make_up();
    // What fixtures/make_sample.py builds: 300 rows; the invalid ones are
    // exactly those at i % 25 == 7, cycling through its list of ten.
    assert_eq!(make_up.rows, 300);
    assert_eq!(make_up.invalid, 12);
    assert_eq!(make_up.valid, 288);
    let invalid_rows: Vec<u64> = make_up
        .by_reason
        .values()
        .flat_map(|(_, rows)| rows.iter().copied())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let expected_rows: Vec<u64> = (0..300u64).filter(|i| i % 25 == 7).map(|i| i + 1).collect();
    assert_eq!(invalid_rows, expected_rows);
    let counts: BTreeMap<&str, u64> = make_up
        .by_reason
        .iter()
        .map(|(code, (count, _))| (code.as_str(), *count))
        .collect();
    assert_eq!(
        counts,
        BTreeMap::from([
            ("bad_prefix", 2),          // 12345678901, 23800138000
            ("empty", 2),               // "" twice
            ("letters", 2),             // abc, N/A
            ("scientific_notation", 3), // 1.38001E+10 twice, 1.39123E+10
            ("several_numbers", 1),     // 13800138000/13900139000
            ("too_long", 1),            // 138001380001
            ("too_short", 1),           // 1380013800
        ])
    );
    assert_eq!(make_up.distinct + make_up.duplicates, make_up.valid);
    assert!(make_up.duplicates > 0 && make_up.distinct <= 220);

    // --json, with no key in the environment.
    let report = check_json(tenure().arg("check").arg(sample_path()).arg("--json"));
    assert_eq!(report["rows"], 300);
    assert_eq!(report["rows"], make_up.rows);
    assert_eq!(report["valid"], make_up.valid);
    assert_eq!(report["invalid"], make_up.invalid);
    assert_eq!(report["distinct"], make_up.distinct);
    assert_eq!(report["duplicates"], make_up.duplicates);
    assert_eq!(report["in_store"], 0);
    assert_eq!(report["to_query"], make_up.distinct);
    let reasons = report["invalid_by_reason"]
        .as_object()
        .expect("invalid_by_reason is an object");
    assert_eq!(reasons.len(), make_up.by_reason.len(), "{reasons:?}");
    for (code, (count, rows)) in &make_up.by_reason {
        let reason = &reasons[code];
        assert_eq!(reason["count"], *count, "{code}");
        assert_eq!(reason["rows"], serde_json::json!(rows), "{code}");
        assert!(
            !reason["example"].as_str().unwrap_or("").is_empty(),
            "{code} has an example reason"
        );
    }
    // At the default 10 qps.
    let secs = report["estimated_secs"].as_f64().expect("a number");
    assert!(
        (secs - make_up.distinct as f64 / (10.0 * 1000.0 / 1020.0)).abs() < 1e-6,
        "{secs}"
    );
    let report = check_json(
        tenure()
            .arg("check")
            .arg(sample_path())
            .args(["--json", "--qps", "50"]),
    );
    let secs = report["estimated_secs"].as_f64().expect("a number");
    assert!(
        (secs - make_up.distinct as f64 / (50.0 * 1000.0 / 1020.0)).abs() < 1e-6,
        "{secs}"
    );

    // The human table says the same.
    let ran = run(tenure().arg("check").arg(sample_path()), 0);
    let table = stdout(&ran);
    let value_of = |label: &str| -> u64 {
        let line = table
            .lines()
            .find(|line| line.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("a {label:?} line in:\n{table}"));
        line[line.find(label).expect("found above") + label.len()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("a count on {line:?}"))
    };
    assert_eq!(value_of("rows"), make_up.rows);
    assert_eq!(value_of("valid numbers"), make_up.valid);
    assert_eq!(value_of("invalid numbers"), make_up.invalid);
    assert_eq!(value_of("distinct numbers"), make_up.distinct);
    assert_eq!(value_of("duplicate rows"), make_up.duplicates);
    for (code, (count, _)) in &make_up.by_reason {
        assert_eq!(value_of(code), *count, "{code}");
    }
    // No number is printed whole (they are personal data); row numbers are.
    for (_, (_, rows)) in make_up.by_reason.iter() {
        for row in rows {
            assert!(table.contains(&row.to_string()));
        }
    }
}

#[test]
fn check_counts_what_the_store_already_holds() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let store = dir.path().join("answers.sqlite");
    let out = dir.path().join("out.csv");
    let make_up = sample_make_up();
    run(
        &mut enrich(
            &sandbox,
            &sample_path(),
            &out,
            &["--cache", store.to_str().expect("a UTF-8 path")],
        ),
        0,
    );
    let answered = sandbox.stats().numbers.len() as u64;
    assert_eq!(answered, make_up.distinct, "the sandbox saw every number");
    let requests = sandbox.stats().requests;

    // No key in the environment: check is offline.
    let report = check_json(
        tenure()
            .arg("check")
            .arg(sample_path())
            .arg("--cache")
            .arg(&store)
            .args(["--endpoint", &sandbox.url(), "--json"]),
    );
    assert_eq!(report["in_store"], answered);
    assert_eq!(report["to_query"], 0);
    assert_eq!(report["estimated_secs"].as_f64(), Some(0.0));
    assert_eq!(report["distinct"], make_up.distinct);
    assert_eq!(sandbox.stats().requests, requests, "check sent nothing");

    // Answers are kept per source: another endpoint's run would pay again.
    let report = check_json(
        tenure()
            .arg("check")
            .arg(sample_path())
            .arg("--cache")
            .arg(&store)
            .args(["--endpoint", "http://127.0.0.1:9", "--json"]),
    );
    assert_eq!(report["in_store"], 0);
    assert_eq!(report["to_query"], make_up.distinct);

    // --max-age applies as in enrich.
    let report = check_json(
        tenure()
            .arg("check")
            .arg(sample_path())
            .arg("--cache")
            .arg(&store)
            .args(["--endpoint", &sandbox.url(), "--max-age", "0s", "--json"]),
    );
    assert_eq!(report["in_store"], 0);

    // The rerun the report predicts bills nothing.
    let billed = sandbox.stats().billed;
    let out = dir.path().join("again.csv");
    run(
        &mut enrich(
            &sandbox,
            &sample_path(),
            &out,
            &["--cache", store.to_str().expect("a UTF-8 path")],
        ),
        0,
    );
    assert_eq!(sandbox.stats().billed, billed);
}

// ------------------------------------------------------------- interruption

fn spawn_enrich(sandbox: &Sandbox, input: &Path, output: &Path, store: &Path) -> Child {
    let store = store.to_str().expect("temporary paths are UTF-8");
    let flags = ["--cache", store, "--qps", "20", "--concurrency", "4"];
    enrich_process(&sandbox.url(), input, output, &flags)
        .spawn()
        .expect("the tenure binary starts")
}

/// `enrich - -o OUTPUT` at `--qps QPS` with standard input piped, for the
/// test to write (and hold open).
fn spawn_on_stdin(sandbox: &Sandbox, output: &Path, qps: &str) -> std::io::Result<Child> {
    enrich_process(&sandbox.url(), Path::new("-"), output, &["--qps", qps])
        .stdin(Stdio::piped())
        .spawn()
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} worked");
}

/// Polls `until` every 20 ms for at most `limit`.
fn wait_for(limit: Duration, mut until: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if until() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    until()
}

/// Waits for the child to exit within `limit`, killing it if it does not.
fn finish(mut child: Child, limit: Duration) -> Output {
    let exited = wait_for(limit, || {
        child
            .try_wait()
            .expect("the child can be waited on")
            .is_some()
    });
    if !exited {
        let _ = child.kill();
    }
    let output = child.wait_with_output().expect("the child's output");
    assert!(
        exited,
        "tenure did not exit within {limit:?}; stderr:\n{}",
        stderr(&output)
    );
    output
}

fn billed_numbers(stats: &Stats) -> Vec<String> {
    stats
        .numbers
        .iter()
        .filter(|(_, n)| n.billed > 0)
        .map(|(number, _)| number.clone())
        .collect()
}

#[test]
fn sigint_keeps_the_answers_that_arrived_and_the_rerun_bills_none_again() {
    let sandbox = sandbox(SandboxConfig {
        latency: Duration::from_millis(200),
        ..SandboxConfig::default()
    });
    let dir = tempdir();
    let numbers = distinct_numbers(300);
    let input = numbers_csv(dir.path(), "numbers.csv", &numbers);
    let output = dir.path().join("out.csv");
    let store = dir.path().join("answers.sqlite");

    let child = spawn_enrich(&sandbox, &input, &output, &store);
    let started = wait_for(Duration::from_secs(30), || sandbox.stats().billed >= 10);
    signal(&child, "INT");
    let ran = finish(child, Duration::from_secs(20));
    assert!(started, "the sandbox billed 10 within 30 s");
    let said = stderr(&ran);
    assert_eq!(
        ran.status.code(),
        Some(130),
        "exit 130 after SIGINT ({:?}); stderr:\n{said}",
        ran.status
    );
    assert!(!output.exists(), "nothing at the output path");
    assert_eq!(
        files_in(dir.path())
            .iter()
            .filter(|name| name.contains("out.csv"))
            .count(),
        0,
        "no temporary output left behind: {:?}",
        files_in(dir.path())
    );
    assert!(
        said.contains("rerun") && said.contains(&store.display().to_string()),
        "stderr says how to resume:\n{said}"
    );

    // Every answer that arrived is in the store.
    let first = sandbox.stats();
    let billed = billed_numbers(&first);
    assert!(billed.len() >= 10, "{} billed", billed.len());
    assert!(
        first.numbers.len() < numbers.len(),
        "the run stopped before the end ({} of {} asked)",
        first.numbers.len(),
        numbers.len()
    );
    {
        let kept = Store::open_read_only(&Location::Sqlite(store.clone()), &sandbox.url())
            .expect("the store opens");
        for text in first.numbers.keys() {
            let number = number::parse(text).expect("the sandbox saw valid numbers");
            let answer = kept
                .get(&number, Duration::from_secs(3600))
                .expect("the store reads");
            assert!(
                answer.is_some(),
                "the answer for {} arrived but is not in the store",
                number.masked()
            );
        }
    }

    // The rerun finishes and pays for none of them again.
    run(
        &mut enrich(
            &sandbox,
            &input,
            &output,
            &["--cache", store.to_str().expect("a UTF-8 path")],
        ),
        0,
    );
    let second = sandbox.stats();
    for number in &billed {
        assert_eq!(
            second.numbers[number].billed, 1,
            "billed again after the interrupt"
        );
    }
    for (number, counts) in &first.numbers {
        assert_eq!(
            second.numbers[number].requests, counts.requests,
            "asked again after the interrupt"
        );
    }
    assert_eq!(
        second.numbers.len(),
        numbers.len(),
        "the rerun asked the rest"
    );
    let rows = read_csv(&output);
    assert_eq!(rows.len(), numbers.len() + 1);
    for (row, number) in rows[1..].iter().zip(&numbers) {
        assert_eq!(&row[1], number);
        assert_answered(row, number);
    }
}

#[test]
fn sigterm_waits_for_requests_in_flight_and_a_second_signal_exits_at_once() {
    let sandbox = sandbox(SandboxConfig {
        latency: Duration::from_secs(3),
        ..SandboxConfig::default()
    });
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "numbers.csv", &distinct_numbers(50));
    let output = dir.path().join("out.csv");
    let store = dir.path().join("answers.sqlite");

    let mut child = spawn_enrich(&sandbox, &input, &output, &store);
    let in_flight = wait_for(Duration::from_secs(30), || sandbox.stats().requests >= 4);
    signal(&child, "TERM");
    std::thread::sleep(Duration::from_millis(500));
    let early = child.try_wait().expect("the child can be waited on");
    if early.is_some() {
        let ran = child.wait_with_output().expect("the child's output");
        panic!(
            "the first SIGTERM ended tenure at once ({:?}) instead of letting the requests in \
             flight end; stderr:\n{}",
            ran.status,
            stderr(&ran)
        );
    }
    signal(&child, "INT");
    let ran = finish(child, Duration::from_secs(10));
    assert!(in_flight, "requests were in flight");
    // The forced path, not the orderly one: no timing asserted, the
    // handler says which way it left.
    assert!(
        stderr(&ran).contains("interrupted again, exiting now"),
        "{}",
        stderr(&ran)
    );
    assert_eq!(ran.status.code(), Some(130), "{}", stderr(&ran));
    assert!(!output.exists(), "nothing at the output path");
    // Review finding: the forced exit left the partial output behind.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .expect("the folder is readable")
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(leftovers.is_empty(), "partial files left: {leftovers:?}");
}

#[test]
fn one_sigterm_is_an_interrupt_too() {
    let sandbox = sandbox(SandboxConfig {
        latency: Duration::from_millis(200),
        ..SandboxConfig::default()
    });
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "numbers.csv", &distinct_numbers(200));
    let output = dir.path().join("out.csv");
    let store = dir.path().join("answers.sqlite");
    let child = spawn_enrich(&sandbox, &input, &output, &store);
    let started = wait_for(Duration::from_secs(30), || sandbox.stats().billed >= 4);
    signal(&child, "TERM");
    let ran = finish(child, Duration::from_secs(20));
    assert!(started);
    assert_eq!(ran.status.code(), Some(130), "{}", stderr(&ran));
    assert!(!output.exists());
    let first = sandbox.stats();
    let kept = Store::open_read_only(&Location::Sqlite(store.clone()), &sandbox.url())
        .expect("the store opens");
    for number in billed_numbers(&first) {
        let number = number::parse(&number).expect("valid");
        assert!(
            kept.get(&number, Duration::from_secs(3600))
                .expect("the store reads")
                .is_some()
        );
    }
}

/// Review finding: a fatal answer must end the run even while the input is
/// a pipe that stays open (the read blocks; the stop must not wait on it).
#[test]
fn a_fatal_stop_is_heard_while_stdin_stays_open() {
    use std::io::Write as _;
    let sandbox = sandbox(SandboxConfig {
        quota: Some(2),
        ..SandboxConfig::default()
    });
    let dir = tempdir();
    let output = dir.path().join("out.csv");
    let mut child = spawn_on_stdin(&sandbox, &output, "100").expect("the tenure binary starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let mut text = String::from("mobile\n");
    for number in distinct_numbers(20) {
        text.push_str(&number);
        text.push('\n');
    }
    stdin
        .write_all(text.as_bytes())
        .expect("tenure reads stdin");
    // `stdin` stays open until the end of the test: tenure never sees EOF.
    let ran = finish(child, Duration::from_secs(30));
    assert_eq!(ran.status.code(), Some(4), "{}", stderr(&ran));
    assert!(stderr(&ran).contains("10012"), "{}", stderr(&ran));
    assert!(!output.exists());
    drop(stdin);
}

/// Review finding: a pipe given as a path (a FIFO, `<(…)`, `/dev/stdin`)
/// cannot be read twice: no pre-scan and no row count may eat its rows.
#[test]
fn a_fifo_given_as_a_path_loses_no_row() {
    use std::io::Write as _;
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let fifo = dir.path().join("numbers.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let numbers = distinct_numbers(3000);
    let writer = {
        let fifo = fifo.clone();
        let numbers = numbers.clone();
        std::thread::spawn(move || {
            let mut pipe = std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .expect("the fifo opens for writing");
            let mut text = String::from("id,mobile\n");
            for (i, number) in numbers.iter().enumerate() {
                text.push_str(&format!("{i},{number}\n"));
            }
            pipe.write_all(text.as_bytes())
                .expect("tenure reads the fifo");
        })
    };
    let out = dir.path().join("out.csv");
    run(&mut enrich(&sandbox, &fifo, &out, &[]), 0);
    writer.join().expect("the writer thread ends");
    let rows = read_csv(&out);
    assert_eq!(rows.len(), numbers.len() + 1, "every row came through");
    for (row, number) in rows[1..].iter().zip(&numbers) {
        assert_answered(row, number);
    }
}

/// Review finding: GBK on standard input whose first read is only the
/// ASCII header is still read as GBK (the choice waits for the first byte
/// that is not ASCII).
#[test]
fn gbk_on_stdin_after_an_ascii_header_is_read_as_gbk() {
    use std::io::Write as _;
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let out = dir.path().join("out.csv");
    let mut child = spawn_on_stdin(&sandbox, &out, "1000").expect("the tenure binary starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(b"mobile,name\n")
        .expect("tenure reads stdin");
    stdin.flush().expect("flushed");
    // Let the header arrive alone, most likely as a read of its own.
    std::thread::sleep(Duration::from_millis(200));
    let (rows, _, _) = encoding_rs::GBK.encode("13800138000,张三\n13900139000,李四\n");
    stdin.write_all(&rows).expect("tenure reads stdin");
    drop(stdin);
    let ran = finish(child, Duration::from_secs(30));
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    assert!(stderr(&ran).contains("GBK"), "{}", stderr(&ran));
    let rows = read_csv(&out);
    assert_eq!(rows[1][1], "张三");
    assert_eq!(rows[2][1], "李四");
}

/// Review finding: a complete row is answered while the pipe stays open,
/// even when the last read ended in the middle of the next line.
#[test]
fn a_complete_row_is_not_held_back_by_a_partial_one() {
    use std::io::Write as _;
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let out = dir.path().join("out.csv");
    let mut child = spawn_on_stdin(&sandbox, &out, "1000").expect("the tenure binary starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    stdin
        .write_all(b"mobile\r\n13800138000\r\n\r\n\r\n1390013")
        .expect("tenure reads stdin");
    stdin.flush().expect("flushed");
    let asked = wait_for(Duration::from_secs(20), || sandbox.stats().requests >= 1);
    stdin.write_all(b"9000\n").expect("tenure reads stdin");
    drop(stdin);
    let ran = finish(child, Duration::from_secs(30));
    assert!(asked, "the first row was asked while the pipe stayed open");
    assert_eq!(ran.status.code(), Some(0), "{}", stderr(&ran));
    assert_eq!(read_csv(&out).len(), 3);
}
