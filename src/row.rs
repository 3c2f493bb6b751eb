//! One row's journey, as types both ends of the pipeline share: the number
//! read from its cell (or why there is none), what the row ended with, how
//! it got that, and the seven columns it gains.
//!
//! The reader ([`crate::input`]) produces [`parse_cell`]'s verdict, the
//! pipeline turns it into a [`Finished`] row, and the writer
//! ([`crate::output`]) and the summary read it. Pure: no I/O.

use csv::ByteRecord;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use crate::api::{Answer, Failure};
use crate::change::Change;
use crate::number::{self, Number};

/// The columns tenure appends, in order.
pub const COLUMNS: [&str; 7] = [
    "tenure_code",
    "tenure",
    "province",
    "city",
    "isp",
    "error_code",
    "error",
];

/// The `error_code` of a number that is not a valid mobile number.
pub const INVALID_NUMBER: &str = "invalid_number";

/// The `error_code` of a row the budget left unasked.
pub const BUDGET: &str = "budget";

/// The column `--changes` appends.
pub const CHANGE_COLUMN: &str = "change";

/// A final answer, with the change recorded at its latest arrival (DESIGN
/// §7); `None` for a row answer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Settled {
    pub answer: Answer,
    pub change: Option<Change>,
}

/// Why a valid row was not asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unasked {
    /// `--max-billed` or `--max-billed-24h` was reached.
    Budget,
}

/// Why a row's number column holds no number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadCell {
    /// The cell holds text that is not a valid number.
    Number(number::Invalid),
    /// The row ends before the number column (a ragged row).
    ShortRow { fields: usize, column: usize },
    /// The cell's bytes are not UTF-8.
    NotUtf8,
}

impl BadCell {
    /// A short, stable tag for counting reasons (`tenure check`).
    pub fn code(&self) -> &'static str {
        match self {
            BadCell::Number(invalid) => invalid.code(),
            BadCell::ShortRow { .. } => "short_row",
            BadCell::NotUtf8 => "not_utf8",
        }
    }
}

impl fmt::Display for BadCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadCell::Number(invalid) => invalid.fmt(f),
            BadCell::ShortRow { fields, column } => write!(
                f,
                "the row is too short: it has only {fields} field{}, so no number column (column {})",
                if *fields == 1 { "" } else { "s" },
                column + 1
            ),
            BadCell::NotUtf8 => f.write_str("the cell is not valid UTF-8 text"),
        }
    }
}

/// The number in a row's number column (0-based), or why there is none:
/// the one way every command reads a row's number.
pub fn parse_cell(record: &ByteRecord, column: usize) -> Result<Number, BadCell> {
    let Some(field) = record.get(column) else {
        return Err(BadCell::ShortRow {
            fields: record.len(),
            column,
        });
    };
    let text = std::str::from_utf8(field).map_err(|_| BadCell::NotUtf8)?;
    number::parse(text).map_err(BadCell::Number)
}

/// What a row ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowResult {
    /// A final answer: a tenure, or a row answer such as 224801. Shared by
    /// every row of the number.
    Final(Arc<Settled>),
    /// Transient failures until the retries ran out.
    Failed(Failure),
    /// Not asked (a budget); a rerun asks it.
    Unasked(Unasked),
    /// Not a valid number; never sent.
    Invalid(BadCell),
}

impl RowResult {
    /// The seven appended fields. `scratch` holds what is built on demand:
    /// the `error_code` of a failure or a row answer, or the reason of an
    /// invalid number.
    pub fn fields<'a>(&'a self, scratch: &'a mut String) -> [&'a str; 7] {
        scratch.clear();
        match self {
            RowResult::Final(settled) => match &settled.answer {
                Answer::Tenure(t) => [&t.code, &t.desc, &t.province, &t.city, &t.isp, "", ""],
                Answer::Declined { code, reason } => {
                    // Writing to a String cannot fail.
                    let _ = write!(scratch, "{code}");
                    ["", "", "", "", "", scratch, reason]
                }
                Answer::BilledWithoutCode { reason } => {
                    ["", "", "", "", "", crate::api::BILLED_WITHOUT_CODE, reason]
                }
            },
            RowResult::Failed(failure) => {
                let _ = write!(scratch, "{}", failure.kind);
                ["", "", "", "", "", scratch, &failure.message]
            }
            RowResult::Invalid(bad) => {
                let _ = write!(scratch, "{bad}");
                ["", "", "", "", "", INVALID_NUMBER, scratch]
            }
            RowResult::Unasked(Unasked::Budget) => [
                "",
                "",
                "",
                "",
                "",
                BUDGET,
                "not asked: the budget (--max-billed or --max-billed-24h) was reached; a \
                 rerun asks it",
            ],
        }
    }

    /// The `change` column: the change of a success, else empty.
    pub fn change(&self) -> &'static str {
        match self {
            RowResult::Final(settled) => settled.change.map_or("", |change| change.as_str()),
            _ => "",
        }
    }
}

/// How a row got its result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Not a valid number: never sent.
    Invalid,
    /// The first row of a number asked of the API in this run.
    Api,
    /// A stored answer from an earlier run or an earlier row.
    Store,
    /// A later row of a number asked in this run.
    Duplicate,
}

/// A row with its result, on its way to the writer.
#[derive(Debug)]
pub struct Finished {
    /// The row's place in the input (0-based data row).
    pub seq: u64,
    pub record: ByteRecord,
    /// The row's number, when it holds a valid one.
    pub number: Option<Number>,
    pub result: RowResult,
    pub via: Via,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_row_and_a_bad_cell_say_why() {
        let record = ByteRecord::from(vec!["only"]);
        let short = parse_cell(&record, 1).expect_err("column 2 is past the end");
        assert_eq!(short.code(), "short_row");
        assert!(short.to_string().contains("only 1 field,"), "{short}");
        let bytes = ByteRecord::from(vec![&b"\xff"[..]]);
        assert_eq!(parse_cell(&bytes, 0), Err(BadCell::NotUtf8));
        let empty = ByteRecord::from(vec![""]);
        assert_eq!(parse_cell(&empty, 0).expect_err("empty").code(), "empty");
    }
}
