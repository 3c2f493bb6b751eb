//! `tenure enrich` end to end: the binary against the in-process sandbox on
//! port 0, proving the acceptance list of issue 3 (DESIGN §1–§3). Every
//! test asserts on exact values the sandbox counted or predicts
//! (`answer_for`), never on how fast a machine happens to be.

use std::collections::BTreeMap;

mod counts;
mod failures;
mod input;
mod keys;

/// The rows of an output file keyed by the `id` in their first column,
/// each with its seven appended fields.
fn appended_by_id(rows: &[Vec<String>]) -> BTreeMap<String, Vec<String>> {
    rows.iter()
        .skip(1)
        .map(|row| (row[0].clone(), row[row.len() - 7..].to_vec()))
        .collect()
}
