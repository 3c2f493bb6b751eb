//! The result store as a user meets it (DESIGN §4, issue 4): never paying
//! twice. Every test drives the `tenure` binary against an in-process
//! sandbox on a loopback port and counts what the sandbox billed, so "paid
//! once" is measured where the money is, not inferred from the tool's own
//! summary.
//!
//! Answers are stored per source, and the source of `--endpoint URL` is the
//! URL, port included: a rerun must talk to the same sandbox, or to a new one
//! started on the same port.

use std::path::Path;

use crate::common::*;

mod resume;
mod reuse;
mod safety;
mod sharing;

/// Asserts that `output` is the enrichment of `numbers_csv(numbers)`: the
/// header, then one row per input row, in input order, each carrying its own
/// number's answer.
fn assert_enriched(output: &Path, numbers: &[String]) {
    let rows = read_csv(output);
    assert_eq!(
        rows.len(),
        numbers.len() + 1,
        "a header and one row per input row"
    );
    assert_eq!(rows[0], enriched_header(&["id", "mobile"]));
    for (i, (row, number)) in rows[1..].iter().zip(numbers).enumerate() {
        let mut expected = vec![i.to_string(), number.clone()];
        expected.extend(expected_fields(number));
        assert_eq!(row, &expected, "row {i} carries its own number's answer");
    }
}
