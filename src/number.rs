//! Mobile numbers: normalisation, validation and masking (DESIGN §2).
//!
//! Pure: no I/O. The normaliser repairs only what loses nothing (spacing,
//! punctuation, full-width digits, a country prefix, spreadsheet quoting);
//! anything that lost digits, such as Excel's `1.38001E+10`, is rejected with
//! a reason a person can act on.
//!
//! [`parse`] runs once per input row, so it does not allocate: a plain
//! 11-digit cell is checked in place, anything else is scanned once into a
//! fixed buffer.

use std::fmt;

/// A valid mainland mobile number: 11 ASCII digits matching `^1[3-9]\d{9}$`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Number([u8; 11]);

impl Number {
    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        // Invariant: built only from ASCII digits, so always valid UTF-8.
        std::str::from_utf8(&self.0).expect("a Number holds ASCII digits")
    }

    /// The number as it may appear in logs and messages: `138****8000`.
    pub fn masked(&self) -> String {
        mask(self.as_str())
    }
}

/// Numbers are personal data: `Debug` masks them so they cannot leak into
/// logs through a stray `{:?}`.
impl fmt::Debug for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Number({})", self.masked())
    }
}

/// Masks the middle of anything that may be a number: `138****8000`.
///
/// Keeps at most the first 3 and the last 4 characters and stars the rest,
/// so a string of 7 characters or fewer is starred entirely: a short cell
/// may be most of a number, and showing it would defeat the mask. Works on
/// characters, not bytes, so full-width digits mask like ASCII ones.
pub fn mask(s: &str) -> String {
    const HEAD: usize = 3;
    const TAIL: usize = 4;
    let len = s.chars().count();
    if len <= HEAD + TAIL {
        return "*".repeat(len);
    }
    s.chars()
        .enumerate()
        .map(|(i, c)| if i < HEAD || i >= len - TAIL { c } else { '*' })
        .collect()
}

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

/// Normalises and validates one cell.
///
/// Accepts what differs from `^1[3-9]\d{9}$` only in form: spaces of any
/// width (also non-breaking and zero-width), tabs, `-`, `(`, `)`, `.`,
/// full-width digits and punctuation, a `+86`, `0086` or `86` prefix, and
/// the spreadsheet wrappings `="…"`, `'…` and a pandas `.0` suffix.
/// Anything that may have lost or mixed up digits is an [`Invalid`].
pub fn parse(raw: &str) -> Result<Number, Invalid> {
    // Fast path for the common clean cell: no scan, no copy.
    let bytes = raw.as_bytes();
    if bytes.len() == 11 && bytes.iter().all(u8::is_ascii_digit) {
        return domestic(bytes);
    }
    let cell = unwrap_spreadsheet(raw);
    // Before the scan: the scan would only see the letter `E`, and this
    // reason is the one the person needs.
    if is_scientific(cell) {
        return Err(Invalid::ScientificNotation);
    }
    Scan::of(strip_float_suffix(cell)).verdict()
}

/// Digits kept while scanning a cell: room for several prefixed numbers, so
/// that a cell holding more than one is still recognised as such.
const CAP: usize = 64;

/// One pass over a cell: its digits and where something else came between.
struct Scan {
    digits: [u8; CAP],
    /// Every digit seen, also those past `CAP`, so `TooLong` reports the truth.
    len: usize,
    /// Bit `i` is set when a non-digit came right before digit `i`: the
    /// only places where one number may end and the next begin.
    breaks: u64,
    /// The cell starts with `+`, so the digits must start with a country code.
    plus: bool,
    /// The first character that is neither a digit nor a separator.
    stray: Option<char>,
}

impl Scan {
    fn of(cell: &str) -> Scan {
        let mut scan = Scan {
            digits: [0; CAP],
            len: 0,
            breaks: 0,
            plus: false,
            stray: None,
        };
        for c in cell.chars() {
            if let Some(d) = ascii_digit(c) {
                if scan.len < CAP {
                    scan.digits[scan.len] = d;
                }
                scan.len += 1;
                continue;
            }
            if scan.len < CAP {
                scan.breaks |= 1 << scan.len;
            }
            if is_separator(c) {
                continue;
            }
            // A `+` belongs only before the first digit, and only once.
            if matches!(c, '+' | '＋') && scan.len == 0 && !scan.plus {
                scan.plus = true;
            } else if scan.stray.is_none() {
                scan.stray = Some(c);
            }
        }
        scan
    }

    fn verdict(&self) -> Result<Number, Invalid> {
        if self.len == 0 {
            return Err(self.stray.map_or(Invalid::Empty, Invalid::Letters));
        }
        // Ahead of letters: in `13800138000/13900139000` the `/` is a symptom.
        if let Some(count) = self.several() {
            return Err(Invalid::SeveralNumbers(count));
        }
        if let Some(c) = self.stray {
            return Err(Invalid::Letters(c));
        }
        if self.len > CAP {
            return Err(Invalid::TooLong(self.len));
        }
        let digits = &self.digits[..self.len];
        if self.plus {
            // `+` announces a country code: only China's is ours, and the
            // rest is then judged on its own length.
            match digits.strip_prefix(b"86") {
                Some(rest) => national(rest).map_err(|invalid| {
                    if is_landline_after_country_code(rest) {
                        Invalid::Landline
                    } else {
                        invalid
                    }
                }),
                None => Err(Invalid::BadPrefix),
            }
        } else {
            domestic(strip_country(digits))
        }
    }

    /// How many numbers the cell holds, when it is two or more whole ones
    /// split at places where something other than a digit stood.
    fn several(&self) -> Option<usize> {
        let len = self.len;
        if !(22..=CAP).contains(&len) {
            return None;
        }
        let cut = |i: usize| i == 0 || i == len || self.breaks & (1 << i) != 0;
        // `count[i]`: how many numbers the digits from `i` on split into.
        // Filled from the end, so each step looks only at later entries.
        let mut count = [None::<usize>; CAP + 1];
        count[len] = Some(0);
        for start in (0..len).rev().filter(|&i| cut(i)) {
            count[start] = [11, 13, 15].into_iter().find_map(|width| {
                let end = start + width;
                if end > len || !cut(end) {
                    return None;
                }
                national(strip_country(&self.digits[start..end])).ok()?;
                count[end].map(|n| n + 1)
            });
        }
        count[0].filter(|&n| n >= 2)
    }
}

/// Checks the 11 national digits; other lengths say how far off they are.
fn national(digits: &[u8]) -> Result<Number, Invalid> {
    match <[u8; 11]>::try_from(digits) {
        Ok(d) if d[0] == b'1' && (b'3'..=b'9').contains(&d[1]) => Ok(Number(d)),
        Ok(_) => Err(Invalid::BadPrefix),
        Err(_) if digits.len() < 11 => Err(Invalid::TooShort(digits.len())),
        Err(_) => Err(Invalid::TooLong(digits.len())),
    }
}

/// Checks digits written as in China (no `+`): a mobile number, or else
/// whether they are a landline, which gets a reason of its own.
fn domestic(digits: &[u8]) -> Result<Number, Invalid> {
    national(digits).map_err(|invalid| {
        if is_landline(digits) {
            Invalid::Landline
        } else {
            invalid
        }
    })
}

/// Whether `digits` are a fixed-line number as dialled in China: a 3-digit
/// area code (`010` Beijing, `02X`) or a 4-digit one (`0[3-9]XX`), then a
/// local number of 7 or 8 digits. A `0` before a mobile number (dialled
/// from another city) is no area code: `013…` matches neither form.
fn is_landline(digits: &[u8]) -> bool {
    let area = match digits {
        [b'0', b'1', b'0', ..] | [b'0', b'2', _, ..] => 3,
        [b'0', b'3'..=b'9', _, _, ..] => 4,
        _ => return false,
    };
    (7..=8).contains(&(digits.len() - area))
}

/// Whether the digits after `+86` are a landline: the area code then
/// drops its leading 0 (`+86 755 8181 4124`, `+86 10 1234 5678`).
fn is_landline_after_country_code(rest: &[u8]) -> bool {
    let mut dialled = [b'0'; 13];
    match rest.first() {
        Some(b'1'..=b'9') if rest.len() < dialled.len() => {
            dialled[1..=rest.len()].copy_from_slice(rest);
            is_landline(&dialled[..=rest.len()])
        }
        _ => false,
    }
}

/// Drops `86` or `0086` only when exactly 11 digits remain, so that a
/// number that merely starts with those digits keeps them.
fn strip_country(digits: &[u8]) -> &[u8] {
    match digits {
        [b'8', b'6', rest @ ..] if rest.len() == 11 => rest,
        [b'0', b'0', b'8', b'6', rest @ ..] if rest.len() == 11 => rest,
        _ => digits,
    }
}

/// Trims, then unwraps `="…"` (Excel's text formula) and a leading `'`
/// (Excel's text marker).
fn unwrap_spreadsheet(raw: &str) -> &str {
    let cell = trim(raw);
    if let Some(inner) = cell.strip_prefix("=\"").and_then(|s| s.strip_suffix('"')) {
        trim(inner)
    } else if let Some(inner) = cell.strip_prefix('\'') {
        trim(inner)
    } else {
        cell
    }
}

fn trim(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Drops the `.0` (or `.00…`) that pandas adds when it read the column as
/// floats. Only when that is the cell's one dot: in `139.1234.0000` the
/// dots are grouping and the zeros are digits.
fn strip_float_suffix(cell: &str) -> &str {
    match cell.rsplit_once('.') {
        Some((head, zeros))
            if !zeros.is_empty()
                && zeros.bytes().all(|b| b == b'0')
                && !head.contains('.')
                && head.ends_with(|c: char| c.is_ascii_digit()) =>
        {
            head
        }
        _ => cell,
    }
}

/// Whether the cell is `digits[.digits](e|E)[+|-]digits`, the form Excel
/// writes for a large number in a General cell, after rounding it.
fn is_scientific(cell: &str) -> bool {
    let b = cell.as_bytes();
    let digits_from = |mut i: usize| {
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i
    };
    let mut i = digits_from(0);
    if i == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i = digits_from(i + 1);
    }
    if !matches!(b.get(i), Some(b'e' | b'E')) {
        return false;
    }
    i += 1;
    if matches!(b.get(i), Some(b'+' | b'-')) {
        i += 1;
    }
    let end = digits_from(i);
    end > i && end == b.len()
}

/// An ASCII or full-width digit, as its ASCII byte.
fn ascii_digit(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8),
        // Full-width digits are contiguous, like ASCII ones; the offset is
        // below 10, so the cast cannot truncate.
        '０'..='９' => Some(b'0' + (c as u32 - '０' as u32) as u8),
        _ => None,
    }
}

/// Characters that only format a number and carry no digit.
fn is_separator(c: char) -> bool {
    is_space(c) || matches!(c, '-' | '(' | ')' | '.' | '－' | '（' | '）')
}

/// Any Unicode space (full-width U+3000, non-breaking U+00A0, tab, …) plus
/// the zero-width ones that `char::is_whitespace` does not count.
fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200B}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests;
