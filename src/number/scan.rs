//! One pass over a cell that is not a plain 11-digit number: its digits,
//! where something else came between them, and the verdict on them. No
//! allocation: the digits go into a fixed buffer.

use super::{
    Invalid, Number, domestic, is_landline_after_country_code, is_space, national, strip_country,
};

/// Digits kept while scanning a cell: room for several prefixed numbers, so
/// that a cell holding more than one is still recognised as such.
const CAP: usize = 64;

/// One pass over a cell: its digits and where something else came between.
pub(super) struct Scan {
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
    pub(super) fn of(cell: &str) -> Scan {
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

    pub(super) fn verdict(&self) -> Result<Number, Invalid> {
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
