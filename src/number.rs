//! Mobile numbers: normalisation, validation and masking (DESIGN §2).
//!
//! Pure: no I/O. The normaliser repairs only what loses nothing (spacing,
//! punctuation, full-width digits, a country prefix, spreadsheet quoting);
//! anything that lost digits, such as Excel's `1.38001E+10`, is rejected with
//! a reason a person can act on.
//!
//! [`parse`] runs once per input row, so it does not allocate: a plain
//! 11-digit cell is checked in place, anything else is scanned once into a
//! fixed buffer (`scan`). Why a cell is refused is an [`Invalid`].

mod invalid;
mod scan;

pub use invalid::Invalid;

use scan::Scan;
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

    /// The number as an integer: its 11 digits in base 10.
    pub fn to_u64(&self) -> u64 {
        self.0
            .iter()
            .fold(0, |value, digit| value * 10 + u64::from(digit - b'0'))
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

/// Any Unicode space (full-width U+3000, non-breaking U+00A0, tab, …) plus
/// the zero-width ones that `char::is_whitespace` does not count.
fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200B}' | '\u{FEFF}')
}

#[cfg(test)]
mod tests;
