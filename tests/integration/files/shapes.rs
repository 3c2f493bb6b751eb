//! The shapes a table comes in: tab- and semicolon-delimited files, no
//! header row, ragged rows, a header alone, empty, missing and folder
//! inputs, and standard input to standard output.

use std::path::Path;

use tenure::sandbox::SandboxConfig;

use crate::common::*;

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
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
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
    ran_with(
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
    ran_with(
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
    ran_with(
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
    ran_with(&mut enrich(&sandbox, &input, &out, &["--no-headers"]), 0);
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
    ran_with(
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
    ran_with(&mut enrich(&sandbox, &input, &out, &["--no-headers"]), 0);
    let rows = read_csv(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], "mobile");
    assert_invalid(&rows[0]);
    assert_answered(&rows[1], "13800138000");

    // With no names, a name is a usage error.
    let ran = ran_with(
        &mut enrich(&sandbox, &input, &out, &["--no-headers", "-c", "mobile"]),
        2,
    );
    assert!(
        ran.stderr
            .contains("--column \"mobile\": with --no-headers there are no names"),
        "{}",
        ran.stderr
    );
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
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
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
        ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
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
        let ran = ran_with(&mut enrich(&sandbox, input, &out, &[]), 2);
        let path = input.display().to_string();
        assert!(ran.stderr.contains(&path), "names {path}:\n{}", ran.stderr);
        assert!(!out.exists(), "no output for {path}");

        let ran = ran_with(tenure().arg("check").arg(input), 2);
        assert!(
            ran.stderr.contains(&path),
            "check names {path}:\n{}",
            ran.stderr
        );
    }
    // Empty standard input is the same.
    let ran = ran_with(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &[])
            .current_dir(dir.path())
            .write_stdin(""),
        2,
    );
    assert!(ran.stderr.contains("<stdin>"), "{}", ran.stderr);
    assert!(ran.stdout_bytes.is_empty());
    assert_eq!(sandbox.stats().requests, 0);
}

#[test]
fn stdin_to_stdout_keeps_stdout_for_the_csv_and_leaves_no_files() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let input = "id,mobile,note\n1,13800138000,\"a,\nb\"\n2,abc,\n3,+86 139-0013-9000,x\n4,13800138000,dup\n";
    let ran = ran_with(
        enrich(&sandbox, Path::new("-"), Path::new("-"), &[])
            .current_dir(dir.path())
            .write_stdin(input),
        0,
    );
    let rows = parse_csv(&ran.stdout_bytes);
    assert_eq!(rows.len(), 5, "{}", ran.stdout);
    assert_eq!(rows[0], enriched_header(&["id", "mobile", "note"]));
    assert_eq!(rows[1][..3], ["1", "13800138000", "a,\nb"]);
    assert_answered(&rows[1], "13800138000");
    assert_invalid(&rows[2]);
    assert_answered(&rows[3], "13900139000");
    assert_answered(&rows[4], "13800138000");
    assert!(
        !ran.stdout.contains("tenure:") && !ran.stdout.contains("summary"),
        "messages stay off stdout:\n{}",
        ran.stdout
    );
    assert!(
        ran.stderr.contains("summary"),
        "the summary is on stderr:\n{}",
        ran.stderr
    );
    assert_eq!(
        files_in(dir.path()),
        Vec::<String>::new(),
        "no cache or temporary file in the working folder"
    );
    // Duplicates still cost one query (a temporary store).
    assert_eq!(sandbox.stats().billed, 2);
}
