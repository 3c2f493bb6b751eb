//! Numbers for tests, and the answer a row must carry for each: worked out
//! here from the sandbox's own data and DESIGN §2's column names, never
//! from the code under test.

use tenure::sandbox::{answer_for, reason};

/// `count` distinct valid numbers, the same ones every time.
pub fn distinct_numbers(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("1380{:07}", i * 7 + 11))
        .collect()
}

/// `count` distinct valid numbers that the sandbox answers with a tenure
/// (billed, never 224801), so that a success row and the bill are exact.
pub fn answered_numbers(count: usize) -> Vec<String> {
    let numbers: Vec<String> = distinct_numbers(count * 2)
        .into_iter()
        .filter(|n| answer_for(n).is_ok())
        .take(count)
        .collect();
    assert_eq!(numbers.len(), count, "enough numbers with a tenure");
    numbers
}

/// `count` distinct valid numbers that the sandbox answers 224801 (no
/// record: a row answer, free).
pub fn unknown_numbers(count: usize) -> Vec<String> {
    let numbers: Vec<String> = distinct_numbers(count * 200)
        .into_iter()
        .filter(|n| answer_for(n) == Err(224801))
        .take(count)
        .collect();
    assert_eq!(numbers.len(), count, "enough numbers without a record");
    numbers
}

/// `text` with its ASCII digits written full-width (`１３８…`).
pub fn full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + '０' as u32).expect("a digit"),
            other => other,
        })
        .collect()
}

/// The seven columns tenure appends, in order, as DESIGN §2 (Output) names
/// them: written out here, not taken from the code under test.
pub const COLUMNS: [&str; 7] = [
    "tenure_code",
    "tenure",
    "province",
    "city",
    "isp",
    "error_code",
    "error",
];

/// The header row tenure writes for these input headers.
pub fn enriched_header(input: &[&str]) -> Vec<String> {
    input
        .iter()
        .chain(&COLUMNS)
        .map(|name| (*name).to_owned())
        .collect()
}

/// The seven appended fields for a valid number the sandbox answers
/// normally: its deterministic tenure, or its row answer (a number without
/// a record gets 224801 and the API's reason).
pub fn expected_fields(number: &str) -> Vec<String> {
    match answer_for(number) {
        Ok(t) => [t.code, t.desc, t.province, t.city, t.isp, "", ""]
            .map(str::to_owned)
            .to_vec(),
        Err(code) => declined_fields(code),
    }
}

/// The seven appended fields of a row that got the API row answer `code`.
pub fn declined_fields(code: i64) -> Vec<String> {
    let mut fields = vec![String::new(); 5];
    fields.push(code.to_string());
    fields.push(reason(code).expect("a documented code").to_owned());
    fields
}

/// Checks that the last seven fields of `row` are the sandbox's answer for
/// `number` (a valid, normalised number).
pub fn assert_answered(row: &[String], number: &str) {
    assert!(row.len() >= 7, "{row:?} has the seven appended fields");
    assert_eq!(row[row.len() - 7..], expected_fields(number), "{row:?}");
}

/// Checks that `row` ends with an `invalid_number` answer, and returns its
/// reason.
pub fn assert_invalid(row: &[String]) -> &str {
    let appended = &row[row.len() - 7..];
    assert_eq!(&appended[..5], ["", "", "", "", ""], "{row:?}");
    assert_eq!(appended[5], "invalid_number", "{row:?}");
    &appended[6]
}
