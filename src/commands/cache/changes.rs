//! `tenure cache changes`: the numbers of one source whose answer changed
//! (DESIGN §7), as CSV or JSON Lines on standard output, with before and
//! after. The store finds them; this module picks the source and writes.

use std::borrow::Cow;
use std::io::BufWriter;

use serde::Serialize;

use super::{report, rfc3339};
use crate::api::Tenure;
use crate::exit::{Error, Exit};
use crate::store::ChangeRow;

/// The CSV header.
const HEADER: [&str; 14] = [
    "number",
    "source",
    "at",
    "change",
    "before_code",
    "before_tenure",
    "before_province",
    "before_city",
    "before_isp",
    "after_code",
    "after_tenure",
    "after_province",
    "after_city",
    "after_isp",
];

/// One change as `--json` writes it.
#[derive(Serialize)]
struct Line<'a> {
    number: &'a str,
    source: &'a str,
    at: String,
    change: &'a str,
    before: Answer<'a>,
    after: Answer<'a>,
}

#[derive(Serialize)]
struct Answer<'a> {
    code: &'a str,
    tenure: &'a str,
    province: &'a str,
    city: &'a str,
    isp: &'a str,
}

impl<'a> From<&'a Tenure> for Answer<'a> {
    fn from(tenure: &'a Tenure) -> Self {
        Answer {
            code: &tenure.code,
            tenure: &tenure.desc,
            province: &tenure.province,
            city: &tenure.city,
            isp: &tenure.isp,
        }
    }
}

/// Writes the changes of `source` among `rows` to standard output.
pub(super) fn write(rows: &[ChangeRow], source: &str, json: bool) -> Result<Exit, Error> {
    let rows = rows.iter().filter(|row| row.source == source);
    report(BufWriter::new(std::io::stdout().lock()), |out| {
        if json {
            for row in rows {
                serde_json::to_writer(&mut *out, &line(row))?;
                writeln!(out)?;
            }
            return Ok(());
        }
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(HEADER)?;
        for row in rows {
            csv.write_record(record(row).iter().map(|field| field.as_bytes()))?;
        }
        csv.flush()
    })
}

fn line(row: &ChangeRow) -> Line<'_> {
    Line {
        number: &row.number,
        source: &row.source,
        at: rfc3339(row.at_ms),
        change: row.change.as_str(),
        before: Answer::from(&row.before),
        after: Answer::from(&row.after),
    }
}

/// One CSV record. The API's text is made safe to open in a spreadsheet,
/// as `enrich` does with its seven columns: this list is for people.
fn record(row: &ChangeRow) -> Vec<Cow<'_, str>> {
    let mut record = vec![
        Cow::Borrowed(row.number.as_str()),
        Cow::Borrowed(row.source.as_str()),
        Cow::Owned(rfc3339(row.at_ms)),
        Cow::Borrowed(row.change.as_str()),
    ];
    for tenure in [&row.before, &row.after] {
        for field in [
            &tenure.code,
            &tenure.desc,
            &tenure.province,
            &tenure.city,
            &tenure.isp,
        ] {
            record.push(crate::output::neutralise(field));
        }
    }
    record
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::change::Change;

    fn tenure(code: &str, city: &str) -> Tenure {
        Tenure {
            code: code.to_owned(),
            desc: crate::api::tenure_desc(code).unwrap_or("?").to_owned(),
            province: "广东".to_owned(),
            city: city.to_owned(),
            isp: "移动".to_owned(),
        }
    }

    #[test]
    fn a_record_has_the_header_s_columns_and_no_formula() {
        let row = ChangeRow {
            number: "13800138000".to_owned(),
            source: "https://v.juhe.cn".to_owned(),
            at_ms: 0,
            change: Change::parse("reassigned;region").expect("a change"),
            before: tenure("3", "深圳"),
            after: tenure("03", "=HYPERLINK(\"x\")"),
        };
        let record = record(&row);
        assert_eq!(record.len(), HEADER.len());
        assert_eq!(record[2], "1970-01-01T00:00:00Z");
        assert_eq!(record[3], "reassigned;region");
        assert_eq!((&*record[4], &*record[9]), ("3", "03"));
        assert_eq!(record[12], "'=HYPERLINK(\"x\")");
    }
}
