//! Property tests (issue 5): the number normaliser over arbitrary text, and
//! arbitrary CSV tables through the whole pipeline against the sandbox.
//!
//! Bounded for CI: the normaliser runs a few thousand cheap cases; the
//! pipeline runs 24 tables, each one run of the binary. No failure
//! persistence files are written.

use std::path::Path;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tenure::number::{self, Number};
use tenure::sandbox::{Sandbox, SandboxConfig, is_valid_number};

use crate::common::*;

/// What `parse` promises about anything it accepts: a mainland mobile
/// number, as the sandbox's own implementation of the rule judges it.
fn check_accepted(raw: &str) -> Result<(), TestCaseError> {
    if let Ok(number) = number::parse(raw) {
        let digits = number.as_str();
        prop_assert!(is_valid_number(digits), "{raw:?} gave {digits:?}");
        prop_assert_eq!(
            number::parse(digits),
            Ok(number),
            "{:?} is a fixed point",
            digits
        );
    }
    Ok(())
}

/// Text made of what numbers are written with, so that many cases get far
/// into the parser.
fn numberish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        6 => "[0-9]",
        2 => Just(" ".to_owned()),
        1 => Just("+".to_owned()),
        1 => Just("-".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just("E".to_owned()),
        1 => Just("e".to_owned()),
        1 => "[０-９]",
        1 => "[()（）＋－\u{3000}\u{A0}\u{200B}\u{FEFF}'=\"/]",
    ];
    vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

fn valid_number() -> impl Strategy<Value = String> {
    "1[3-9][0-9]{9}"
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parse_never_panics_on_arbitrary_text(raw in any::<String>()) {
        check_accepted(&raw)?;
    }

    #[test]
    fn parse_never_panics_on_number_like_text(raw in numberish()) {
        check_accepted(&raw)?;
    }

    #[test]
    fn parse_never_panics_on_long_digit_runs(raw in "[0-9 +.E-]{0,200}") {
        check_accepted(&raw)?;
    }

    /// Formatting that loses nothing gives back the same number.
    #[test]
    fn formatting_a_valid_number_keeps_it(
        digits in valid_number(),
        cuts in vec((1usize..11, prop::sample::select(vec![" ", "-", ".", "\u{3000}", "\u{A0}"])), 0..4),
        prefix in prop::sample::select(vec!["", "+86", "+86 ", "0086", "86", "(+86) "]),
        wide in any::<bool>(),
        wrap in prop::sample::select(vec!["plain", "formula", "quote", "float"]),
    ) {
        let expected = number::parse(&digits).expect("a valid number parses");
        prop_assert_eq!(expected.as_str(), digits.as_str());
        let mut cuts = cuts;
        cuts.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
        cuts.dedup_by_key(|(at, _)| *at);
        let mut text = digits.clone();
        for (at, separator) in cuts {
            text.insert_str(at, separator);
        }
        // One dot followed by zeros only is the `.0` pandas adds to a float
        // (`13.000000000` is 13): ambiguous, so not a lossless formatting.
        let float_like = text.matches('.').count() == 1
            && text.rsplit_once('.').is_some_and(|(_, tail)| tail.bytes().all(|b| b == b'0'));
        prop_assume!(!float_like);
        let mut text = format!("{prefix}{text}");
        if wide {
            text = full_width(&text);
        }
        let text = match wrap {
            "formula" => format!("=\"{text}\""),
            "quote" => format!("'{text}"),
            "float" if !text.contains('.') && !wide => format!("{text}.0"),
            _ => text,
        };
        prop_assert_eq!(number::parse(&text), Ok(expected), "{:?}", text);
    }
}

// --------------------------------------------------- CSV through the pipeline

/// Header names the tool would take for the number column; other headers
/// avoid them so that `mobile` is the one it picks.
use tenure::is_number_header;

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => any::<String>(),
        3 => "[a-z,;\"'\n\r \t中文𝄞é\u{FEFF}\u{0}]{0,12}",
        2 => valid_number(),
        1 => "(\\+86 )?1[3-9][0-9] ?[0-9]{4}-?[0-9]{4}",
        1 => "[0-9０-９ +.E-]{0,16}",
        1 => Just(String::new()),
    ]
}

fn header() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), "[a-z_ ,\"\n中文]{0,8}"].prop_filter(
        "not a column tenure adds, a number header, or a leading BOM",
        |h| {
            let trimmed = h.trim();
            !COLUMNS.contains(&trimmed) && !is_number_header(trimmed) && !h.starts_with('\u{FEFF}')
        },
    )
}

/// A table: its header (with `mobile` at `column`) and 1 to 30 rows, most
/// of them as wide as the header, some ragged; written with `delimiter`,
/// and without the header row when `no_headers`.
#[derive(Clone, Debug)]
struct Table {
    header: Vec<String>,
    column: usize,
    rows: Vec<Vec<String>>,
    delimiter: u8,
    no_headers: bool,
}

/// A row as wide as the header, or shorter: a wider one stops the run
/// (issue 10), which `limits` tests on its own.
fn row(columns: usize) -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        4 => vec(field(), columns),
        1 => vec(field(), 1..=columns),
    ]
}

fn table() -> impl Strategy<Value = Table> {
    (1usize..=5)
        .prop_flat_map(|columns| {
            (
                vec(header(), columns - 1),
                0..columns,
                vec(row(columns), 1..=30),
                prop::sample::select(vec![b',', b',', b';', b'\t']),
                prop::bool::weighted(0.2),
            )
        })
        .prop_map(|(others, column, mut rows, delimiter, no_headers)| {
            let mut header = others;
            header.insert(column, "mobile".to_owned());
            if no_headers {
                // A BOM at the very start of a file is an encoding mark,
                // not text: the first field cannot keep one.
                let first = &mut rows[0][0];
                *first = first.trim_start_matches('\u{FEFF}').to_owned();
                // Without a header the first row sets the width; a wider
                // row would stop the run (issue 10).
                rows[0].resize(header.len(), String::new());
            }
            Table {
                header,
                column,
                rows,
                delimiter,
                no_headers,
            }
        })
}

fn to_csv(table: &Table) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new()
        .delimiter(table.delimiter)
        .flexible(true)
        .from_writer(Vec::new());
    if !table.no_headers {
        writer
            .write_record(&table.header)
            .expect("writing to memory");
    }
    for row in &table.rows {
        writer.write_record(row).expect("writing to memory");
    }
    writer.into_inner().expect("flushing to memory")
}

/// Runs `enrich` on `table` (a third of the cases through standard input,
/// which is read on a thread of its own and decoded as it comes); the
/// output's records.
fn enrich_table(sandbox: &Sandbox, table: &Table) -> Result<Vec<Vec<String>>, TestCaseError> {
    let dir = tempdir();
    let input = write(dir.path(), "in.csv", to_csv(table));
    let output = dir.path().join("out.csv");
    let delimiter = match table.delimiter {
        b'\t' => "\\t".to_owned(),
        other => char::from(other).to_string(),
    };
    let index = (table.column + 1).to_string();
    let mut flags = vec!["-q", "--delimiter", &delimiter];
    if table.no_headers {
        flags.extend(["--no-headers", "-c", &index]);
    }
    let mut command = if table.rows.len().is_multiple_of(3) {
        let mut command = enrich(sandbox, Path::new("-"), &output, &flags);
        command.write_stdin(to_csv(table));
        command
    } else {
        enrich(sandbox, &input, &output, &flags)
    };
    let ran = ran(&mut command);
    prop_assert_eq!(ran.code, 0, "stderr: {}", ran.stderr);
    Ok(read_delimited(&output, table.delimiter))
}

/// The output `rows` are `table`'s, field for field, each with the seven
/// columns for its number.
fn check_output(table: &Table, mut rows: Vec<Vec<String>>) -> Result<(), TestCaseError> {
    if !table.no_headers {
        let header: Vec<&str> = table.header.iter().map(String::as_str).collect();
        prop_assert_eq!(&rows.remove(0), &enriched_header(&header));
    }
    prop_assert_eq!(rows.len(), table.rows.len(), "one row per input row");
    // Short rows are padded with empty fields to the header's width (the
    // first row's without one), so that the seven columns line up under
    // their names.
    let header_width = if table.no_headers {
        table.rows[0].len()
    } else {
        table.header.len()
    };
    for (out, row) in rows.iter().zip(&table.rows) {
        let width = row.len().max(header_width);
        prop_assert_eq!(out.len(), width + 7);
        prop_assert_eq!(
            &out[..row.len()],
            row.as_slice(),
            "fields come back as they were"
        );
        prop_assert!(out[row.len()..width].iter().all(String::is_empty));
        let appended = &out[width..];
        match row.get(table.column).map(|cell| number::parse(cell)) {
            Some(Ok(number)) => check_answer(appended, &number)?,
            _ => prop_assert_eq!(appended[5].as_str(), "invalid_number"),
        }
    }
    Ok(())
}

#[test]
fn arbitrary_csv_comes_back_byte_for_byte_with_seven_columns() {
    let sandbox = sandbox(SandboxConfig::default());
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        max_shrink_iters: 64,
        ..Config::default()
    });
    let result = runner.run(&table(), |table| {
        let rows = enrich_table(&sandbox, &table)?;
        check_output(&table, rows)
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}

/// The seven appended fields carry the sandbox's answer for `number`.
fn check_answer(appended: &[String], number: &Number) -> Result<(), TestCaseError> {
    let expected = expected_fields(number.as_str());
    prop_assert_eq!(appended, expected.as_slice());
    Ok(())
}
