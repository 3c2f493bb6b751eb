//! Encodings in and out: GBK found and written back as UTF-8, bytes that
//! are neither refused naming their line, the choice made on standard input
//! from its first MiB, and the UTF-8 BOM read past and written only with
//! `--bom`.

use std::path::Path;

use tenure::sandbox::SandboxConfig;

use crate::common::*;

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
    let ran = ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    let bytes = std::fs::read(&out).expect("the output exists");
    assert!(
        std::str::from_utf8(&bytes).is_ok(),
        "the output is UTF-8: {bytes:?}"
    );
    assert!(!bytes.starts_with(UTF8_BOM), "no BOM unless --bom");
    assert_chinese_output(&read_csv(&out));
    assert!(
        ran.stderr.contains("GBK"),
        "stderr says it read GBK:\n{}",
        ran.stderr
    );
    assert!(
        ran.stderr.contains("gbk.csv"),
        "and names the file:\n{}",
        ran.stderr
    );

    // --encoding gbk, explicitly: the same output, and no guessing to report.
    let out = dir.path().join("explicit.csv");
    let ran = ran_with(
        &mut enrich(&sandbox, &input, &out, &["--encoding", "gbk"]),
        0,
    );
    assert_chinese_output(&read_csv(&out));
    assert!(!ran.stderr.contains("is not UTF-8"), "{}", ran.stderr);

    // The same from standard input, judged by its first bytes.
    let ran = ran_with(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &[])
            .current_dir(dir.path())
            .write_stdin(gbk(CHINESE)),
        0,
    );
    assert_chinese_output(&parse_csv(&ran.stdout_bytes));
    assert!(ran.stderr.contains("GBK"), "{}", ran.stderr);
}

#[test]
fn a_utf8_file_is_read_as_utf8() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = write(dir.path(), "utf8.csv", CHINESE);
    let out = dir.path().join("out.csv");
    let ran = ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    assert_chinese_output(&read_csv(&out));
    assert!(!ran.stderr.contains("GBK"), "{}", ran.stderr);
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
            let ran = ran_with(
                &mut enrich(&sandbox, &input, &out, &["--encoding", encoding]),
                2,
            );
            let said = &ran.stderr;
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
    let ran = ran(&mut enrich(
        &sandbox,
        &input,
        &out,
        &["--encoding", "utf-8"],
    ));
    let written = std::fs::read(&out).unwrap_or_default();
    assert!(
        std::str::from_utf8(&written).is_ok(),
        "--encoding utf-8 wrote an output that is not UTF-8 (the input's GBK bytes copied \
         through); exit {}",
        ran.code
    );
    assert_eq!(
        ran.code, 2,
        "exit 2 for input that is not UTF-8; stderr:\n{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("line 2"), "{}", ran.stderr);
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
    let ran = ran_with(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &[])
            .current_dir(dir.path())
            .write_stdin(text),
        0,
    );
    assert!(
        !ran.stderr.contains("GBK"),
        "valid UTF-8 on stdin was read as GBK (the 1 MiB sniff ends mid-character):\n{}",
        ran.stderr
    );
    let rows = parse_csv(&ran.stdout_bytes);
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
    let ran = ran(enrich(&sandbox, Path::new("-"), Path::new("-"), &[])
        .current_dir(dir.path())
        .write_stdin(bytes));
    assert!(
        std::str::from_utf8(&ran.stdout_bytes).is_ok(),
        "stdout carries bytes that are not UTF-8 (exit {})",
        ran.code
    );
    assert_eq!(ran.code, 2, "{}", ran.stderr);
    assert!(
        ran.stderr.contains(&format!("line {line}")),
        "names line {line}:\n{}",
        ran.stderr
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
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
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
        ran_with(&mut enrich(&sandbox, input, &out, &["--bom"]), 0);
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
    let ran = ran_with(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &["--bom"])
            .current_dir(dir.path())
            .write_stdin(bytes),
        0,
    );
    assert!(ran.stdout_bytes.starts_with(UTF8_BOM));
    assert!(!ran.stdout_bytes[3..].starts_with(UTF8_BOM));
}
