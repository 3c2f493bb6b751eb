//! Which column holds the numbers: by name, by index, or found among the
//! header names people use for phone numbers; and a check that the input
//! is not already an output of tenure.

use csv::ByteRecord;

use crate::exit::Error;
use crate::row::COLUMNS;
use crate::usage;

/// Which column holds the numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnSpec {
    /// The first header named like a phone number column.
    Auto,
    Name(String),
    /// 0-based.
    Index(usize),
}

/// Header names taken for the number column, compared without case.
pub const NUMBER_HEADERS: [&str; 12] = [
    "mobile",
    "phone",
    "tel",
    "手机号",
    "手机号码",
    "手机",
    "电话",
    "号码",
    "mobile_phone",
    "phone_number",
    "cellphone",
    "电话号码",
];

/// The 0-based index of the number column of `name`.
pub(super) fn find_column(
    name: &str,
    spec: &ColumnSpec,
    headers: Option<&ByteRecord>,
) -> Result<usize, Error> {
    let header_names = || -> Vec<String> {
        headers
            .into_iter()
            .flatten()
            .map(|h| String::from_utf8_lossy(h).trim().to_owned())
            .collect()
    };
    match spec {
        ColumnSpec::Index(index) => match headers {
            Some(headers) if *index >= headers.len() => Err(usage!(
                "--column {} is past the last column of {name}, which has {} ({})",
                index + 1,
                headers.len(),
                header_names().join(", ")
            )),
            _ => Ok(*index),
        },
        ColumnSpec::Name(wanted) => header_names()
            .iter()
            .position(|h| h.eq_ignore_ascii_case(wanted.trim()))
            .ok_or_else(|| {
                usage!(
                    "{name} has no column named {wanted:?}; its columns are: {}",
                    header_names().join(", ")
                )
            }),
        ColumnSpec::Auto => {
            if headers.is_none() {
                return Ok(0);
            }
            let names = header_names();
            names
                .iter()
                .position(|h| {
                    NUMBER_HEADERS
                        .iter()
                        .any(|known| h.eq_ignore_ascii_case(known))
                })
                .ok_or_else(|| {
                    usage!(
                        "cannot tell which column of {name} holds the numbers; its columns \
                         are: {}. Name one with --column NAME or --column N.",
                        names.join(", ")
                    )
                })
        }
    }
}

/// A warning when the number column's name appears more than once in the
/// header: which columns (1-based) share it, and which one is used.
pub(super) fn duplicate_warning(
    name: &str,
    headers: &ByteRecord,
    index: usize,
    spec: &ColumnSpec,
) -> Option<String> {
    if matches!(spec, ColumnSpec::Index(_)) {
        // Chosen by position: the name does not matter.
        return None;
    }
    let chosen = String::from_utf8_lossy(headers.get(index)?);
    let chosen = chosen.trim();
    let same: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            String::from_utf8_lossy(h)
                .trim()
                .eq_ignore_ascii_case(chosen)
        })
        .map(|(i, _)| i + 1)
        .collect();
    let [first, .., last] = same.as_slice() else {
        return None;
    };
    let listed: Vec<String> = same.iter().map(usize::to_string).collect();
    let (init, _) = listed.split_at(listed.len() - 1);
    Some(format!(
        "{name} has {} columns named {chosen:?} (columns {} and {last}); using column {first}, \
         the first; pass --column N to use another",
        same.len(),
        init.join(", "),
    ))
}

/// Refuses an input that already has one of the columns tenure adds.
pub(super) fn check_no_output_columns(name: &str, headers: &ByteRecord) -> Result<(), Error> {
    for field in headers {
        let field = String::from_utf8_lossy(field);
        if COLUMNS.contains(&field.trim()) {
            return Err(usage!(
                "{name} already has a column named {field:?}, one of the columns tenure adds \
                 ({}). Is it an output of tenure? Rename or drop that column first.",
                COLUMNS.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duplicated_number_column_is_named_with_both_positions() {
        let headers = ByteRecord::from(vec!["id", "mobile", "name", "Mobile "]);
        let warning = duplicate_warning("in.csv", &headers, 1, &ColumnSpec::Auto)
            .expect("two columns named mobile");
        assert!(
            warning.contains("2 columns named \"mobile\" (columns 2 and 4); using column 2"),
            "{warning}"
        );
        let named = ColumnSpec::Name("mobile".into());
        assert!(duplicate_warning("in.csv", &headers, 1, &named).is_some());
        let three = ByteRecord::from(vec!["tel", "tel", "tel"]);
        let warning = duplicate_warning("in.csv", &three, 0, &ColumnSpec::Auto).expect("three");
        assert!(warning.contains("(columns 1, 2 and 3)"), "{warning}");
        // By position, or with a single such column: nothing to say.
        assert_eq!(
            duplicate_warning("in.csv", &headers, 1, &ColumnSpec::Index(1)),
            None
        );
        let once = ByteRecord::from(vec!["id", "mobile"]);
        assert_eq!(
            duplicate_warning("in.csv", &once, 1, &ColumnSpec::Auto),
            None
        );
    }
}
