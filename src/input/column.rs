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
