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

/// Header names taken for the number column, compared by [`squash`]:
/// without case, spaces, underscores, hyphens or dots (so `Mobile No`,
/// `mobile_no` and `MOBILE-NO` are one name).
pub const NUMBER_HEADERS: [&str; 37] = [
    "mobile",
    "mobile_no",
    "mobile_num",
    "mobile_number",
    "mobile_phone",
    "mobile_phone_number",
    "phone",
    "phone_no",
    "phone_num",
    "phone_number",
    "tel",
    "tel_no",
    "telephone",
    "cellphone",
    "cell_phone_number",
    "cell",
    "msisdn",
    "contact_phone",
    "contact_number",
    "customer_mobile",
    "customer_phone",
    "手机",
    "手机号",
    "手机号码",
    "电话",
    "电话号码",
    "号码",
    "联系电话",
    "联系手机",
    "联系方式",
    "联系人电话",
    "联系人手机",
    "客户手机",
    "客户手机号",
    "客户电话",
    "移动电话",
    "用户手机号",
];

/// Whether a header names the number column (one of [`NUMBER_HEADERS`]).
pub fn is_number_header(header: &str) -> bool {
    let header = squash(header);
    NUMBER_HEADERS.iter().any(|known| squash(known) == header)
}

/// A header name without case, spaces, underscores, hyphens or dots.
fn squash(name: &str) -> String {
    name.chars()
        .filter(|c| !c.is_whitespace() && !matches!(c, '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The 0-based index of the number column of `name`.
pub(super) fn find_column(
    name: &str,
    spec: &ColumnSpec,
    headers: Option<&ByteRecord>,
) -> Result<usize, Error> {
    let names = || {
        headers
            .into_iter()
            .flatten()
            .map(|h| String::from_utf8_lossy(h))
    };
    match spec {
        ColumnSpec::Index(index) => match headers {
            Some(headers) if *index >= headers.len() => Err(usage!(
                "--column {} is past the last column of {name}, which has {} ({}){}",
                index + 1,
                headers.len(),
                listed(headers),
                delimiter_hint(headers)
            )),
            _ => Ok(*index),
        },
        ColumnSpec::Name(wanted) => names()
            .position(|h| h.trim().eq_ignore_ascii_case(wanted.trim()))
            .ok_or_else(|| {
                usage!(
                    "{name} has no column named {wanted:?}; its columns are: {}{}",
                    headers.map(listed).unwrap_or_default(),
                    headers.map(delimiter_hint).unwrap_or_default()
                )
            }),
        ColumnSpec::Auto => {
            let Some(headers) = headers else {
                return Ok(0);
            };
            names().position(|h| is_number_header(&h)).ok_or_else(|| {
                usage!(
                    "cannot tell which column of {name} holds the numbers; its columns \
                     are: {}. Name one with --column NAME or --column N.{}",
                    listed(headers),
                    delimiter_hint(headers)
                )
            })
        }
    }
}

/// The header's names for a message: the first few, and how many more.
fn listed(headers: &ByteRecord) -> String {
    const SHOWN: usize = 30;
    let mut list: Vec<String> = headers
        .iter()
        .take(SHOWN)
        .map(|h| String::from_utf8_lossy(h).trim().to_owned())
        .collect();
    if headers.len() > SHOWN {
        list.push(format!("… ({} more)", headers.len() - SHOWN));
    }
    list.join(", ")
}

/// When the header is a single column that holds another usual delimiter
/// (a TSV read as CSV: the default on standard input), a sentence saying
/// which `--delimiter` to pass; else nothing.
fn delimiter_hint(headers: &ByteRecord) -> String {
    let [header] = headers.iter().collect::<Vec<_>>()[..] else {
        return String::new();
    };
    let flag = if header.contains(&b'\t') {
        "'\\t'"
    } else if header.contains(&b';') {
        "';'"
    } else if header.contains(&b'|') {
        "'|'"
    } else {
        return String::new();
    };
    format!(
        " The header is a single column that holds {}: pass --delimiter {flag} to split it.",
        if flag == "'\\t'" { "tabs" } else { flag }
    )
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
    fn header_names_are_found_without_case_spaces_or_underscores() {
        for header in [
            "mobile",
            "Mobile No",
            "MOBILE_NUMBER",
            "mobile-no",
            "phone_no",
            "Phone Number",
            "PhoneNumber",
            "手机号码",
            "联系电话",
            "客户手机",
            "联系方式",
            " 手机 号 ",
        ] {
            assert!(is_number_header(header), "{header}");
        }
        for header in ["id", "name", "mobile2", "home_phone", "身份证号码", ""] {
            assert!(!is_number_header(header), "{header}");
        }
    }

    #[test]
    fn a_long_header_is_listed_in_part() {
        let many = ByteRecord::from(vec!["x"; 1000]);
        let err = find_column("in.csv", &ColumnSpec::Auto, Some(&many)).expect_err("no number");
        assert!(err.to_string().contains("x, x, … (970 more)"), "{err}");
        assert!(err.to_string().len() < 300, "{err}");
    }

    #[test]
    fn a_single_header_with_tabs_hints_at_the_delimiter() {
        let tsv = ByteRecord::from(vec!["id\tmobile"]);
        assert!(delimiter_hint(&tsv).contains("--delimiter '\\t'"));
        let semicolons = ByteRecord::from(vec!["id;mobile"]);
        assert!(delimiter_hint(&semicolons).contains("--delimiter ';'"));
        assert_eq!(delimiter_hint(&ByteRecord::from(vec!["id", "x\ty"])), "");
        assert_eq!(delimiter_hint(&ByteRecord::from(vec!["id"])), "");
    }

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
