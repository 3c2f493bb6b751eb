//! Why a cell holds no usable number: the reasons a person reads in the
//! row's `error` column, and their stable tags for the summary.

use std::fmt;

/// Why a cell holds no usable number.
///
/// The `Display` text is the row's `error` column, so it tells the person
/// what to fix and never repeats the number (numbers are personal data).
/// [`Invalid::code`] is the stable tag used in summaries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Invalid {
    /// Nothing but spaces and punctuation.
    Empty,
    /// A character that is neither a digit nor a separator (the first one).
    Letters(char),
    /// Fewer than 11 digits (after any country prefix); holds the count.
    TooShort(usize),
    /// More than 11 digits that no country prefix explains; holds the count.
    TooLong(usize),
    /// 11 digits, but not `1[3-9]…`, or a country code other than +86.
    BadPrefix,
    /// Excel's `1.38001E+10`: the spreadsheet rounded the number away.
    ScientificNotation,
    /// Two or more whole numbers in one cell; holds how many.
    SeveralNumbers(usize),
    /// A fixed-line number: an area code starting with 0 (`010`, `021`,
    /// `0755`…), then a 7- or 8-digit local number, or the same after +86
    /// without the 0.
    Landline,
}

impl Invalid {
    /// A short, stable snake_case tag for counting reasons in summaries.
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::Empty => "empty",
            Invalid::Letters(_) => "letters",
            Invalid::TooShort(_) => "too_short",
            Invalid::TooLong(_) => "too_long",
            Invalid::BadPrefix => "bad_prefix",
            Invalid::ScientificNotation => "scientific_notation",
            Invalid::SeveralNumbers(_) => "several_numbers",
            Invalid::Landline => "landline",
        }
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Invalid::Empty => f.write_str("no number: the cell is empty"),
            Invalid::Letters(c) => write!(
                f,
                "contains {c:?}, which is not a digit; a mobile number may hold only \
                 digits, spaces, dashes, dots, brackets and a leading +86"
            ),
            Invalid::TooShort(1) => f.write_str("too short: 1 digit where a mobile number has 11"),
            Invalid::TooShort(n) => {
                write!(f, "too short: {n} digits where a mobile number has 11")
            }
            Invalid::TooLong(n) => write!(
                f,
                "too long: {n} digits where a mobile number has 11 \
                 (13 with the 86 country code)"
            ),
            Invalid::BadPrefix => f.write_str(
                "not a mainland China mobile number: it must start with 13 to 19 \
                 (after an optional +86)",
            ),
            Invalid::ScientificNotation => f.write_str(
                "written in scientific notation (like E+10) by Excel, which lost digits; \
                 format the column as text in the spreadsheet and export it again",
            ),
            Invalid::SeveralNumbers(n) => write!(
                f,
                "holds {n} numbers in one cell; put each number on its own row"
            ),
            Invalid::Landline => f.write_str(
                "a landline (fixed-line) number, not a mobile: the API knows only mobile \
                 numbers (11 digits starting with 13 to 19)",
            ),
        }
    }
}

impl std::error::Error for Invalid {}
