//! PostgreSQL: `tenure cache import`, three statements per chunk of the
//! other store (10,000 rows), not three per answer: the latest successes
//! the chunk's answers are compared with, the answers merged, the history
//! entries added. Each statement takes the chunk as arrays (`unnest`), so a
//! chunk costs three round trips whatever its size.
//!
//! The same merge as row by row: the newer answer wins, an imported answer
//! records its change against the latest success before the import, and a
//! history entry already there (same number, source, first arrival, kind
//! and code) is not added twice. A chunk's answers have distinct keys (they
//! are the other store's primary key), so comparing them all with the
//! history before merging any is what doing it one by one would see.

use std::collections::HashSet;

use super::super::encoding::{columns, imported_change};
use super::super::{HistoryRow, ImportedAnswer};
use super::answers::tenure_at;
use super::db;
use crate::api::Tenure;
use crate::store::ImportCounts;
use crate::store::error::DbError;

/// By the answer's place in the chunk (1-based).
const LATEST_SUCCESSES: &str = "
    SELECT DISTINCT ON (u.i) u.i, h.code, h.description, h.province, h.city, h.isp
    FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(number, source, i)
    JOIN tenure_history h ON h.number = u.number AND h.source = u.source
    WHERE h.kind = 0
    ORDER BY u.i, h.first_seen DESC, h.id DESC";

/// `xmax = 0`: the row was inserted rather than updated; an answer older
/// than the one here returns no row.
const MERGE_ANSWERS: &str = "
    INSERT INTO tenure_answers AS a
        (number, source, kind, code, description, province, city, isp, reason,
         endpoint, answered_at, change, orderid)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::text[], $9::text[], $10::text[],
                         $11::bigint[], $12::text[], $13::text[])
    ON CONFLICT (number, source) DO UPDATE SET
        kind = EXCLUDED.kind, code = EXCLUDED.code,
        description = EXCLUDED.description, province = EXCLUDED.province,
        city = EXCLUDED.city, isp = EXCLUDED.isp, reason = EXCLUDED.reason,
        endpoint = EXCLUDED.endpoint, answered_at = EXCLUDED.answered_at,
        change = EXCLUDED.change, orderid = EXCLUDED.orderid
    WHERE a.answered_at < EXCLUDED.answered_at
    RETURNING (xmax = 0)";

/// In the chunk's order, so that ids follow it as they would one by one.
const ADD_HISTORY: &str = "
    INSERT INTO tenure_history
        (number, source, kind, code, description, province, city, isp, reason,
         first_seen, last_seen, change)
    SELECT u.number, u.source, u.kind, u.code, u.description, u.province, u.city, u.isp,
           u.reason, u.first_seen, u.last_seen, u.change
    FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::text[], $10::bigint[], $11::bigint[], $12::text[])
         WITH ORDINALITY
         AS u(number, source, kind, code, description, province, city, isp, reason,
              first_seen, last_seen, change, i)
    WHERE NOT EXISTS (
        SELECT 1 FROM tenure_history h
        WHERE h.number = u.number AND h.source = u.source
          AND h.first_seen = u.first_seen AND h.kind = u.kind AND h.code = u.code)
    ORDER BY u.i";

/// Merges a chunk of answers, and adds each one's first arrival to the
/// history when the other store keeps none (`first_arrivals`).
pub(super) fn merge_answers(
    tx: &mut postgres::Transaction<'_>,
    answers: &[ImportedAnswer],
    first_arrivals: bool,
    counts: &mut ImportCounts,
) -> Result<(), DbError> {
    if answers.is_empty() {
        return Ok(());
    }
    let previous = latest_successes(tx, answers)?;
    let changes: Vec<Option<&'static str>> = answers
        .iter()
        .zip(&previous)
        .map(|(row, previous)| {
            imported_change(previous.as_ref(), &row.answer).map(|change| change.as_str())
        })
        .collect();

    let mut c = Columns::default();
    for row in answers {
        c.push(&row.number, &row.source, &row.answer);
    }
    let endpoints: Vec<&str> = answers.iter().map(|row| row.endpoint.as_str()).collect();
    let at: Vec<i64> = answers.iter().map(|row| row.at_ms).collect();
    let orderids: Vec<Option<&str>> = answers.iter().map(|row| row.orderid.as_deref()).collect();
    let merged = tx
        .query(
            MERGE_ANSWERS,
            &c.params(&[&endpoints, &at, &changes, &orderids]),
        )
        .map_err(db)?;
    for row in &merged {
        if row.try_get::<_, bool>(0).map_err(db)? {
            counts.answers_added += 1;
        } else {
            counts.answers_updated += 1;
        }
    }
    counts.answers_kept += (answers.len() - merged.len()) as u64;

    if first_arrivals {
        let entries: Vec<HistoryRow> = answers
            .iter()
            .zip(&changes)
            .map(|(row, change)| row.first_arrival(*change))
            .collect();
        counts.history_added += add_history(tx, &entries)?;
    }
    Ok(())
}

/// Adds the entries not already in the history (nor earlier in `entries`);
/// the number added.
pub(super) fn add_history(
    tx: &mut postgres::Transaction<'_>,
    entries: &[HistoryRow],
) -> Result<u64, DbError> {
    let mut seen = HashSet::new();
    let mut c = Columns::default();
    let mut first_seen = Vec::new();
    let mut last_seen = Vec::new();
    let mut changes = Vec::new();
    for entry in entries {
        let (kind, code, ..) = columns(&entry.answer);
        let key = (
            entry.number.as_str(),
            entry.source.as_str(),
            entry.first_seen,
            kind,
            code.into_owned(),
        );
        if !seen.insert(key) {
            continue;
        }
        c.push(&entry.number, &entry.source, &entry.answer);
        first_seen.push(entry.first_seen);
        last_seen.push(entry.last_seen);
        changes.push(entry.change.as_deref());
    }
    if c.numbers.is_empty() {
        return Ok(0);
    }
    tx.execute(ADD_HISTORY, &c.params(&[&first_seen, &last_seen, &changes]))
        .map_err(db)
}

/// The latest success already here of each answer's number and source,
/// in the answers' order.
fn latest_successes(
    tx: &mut postgres::Transaction<'_>,
    answers: &[ImportedAnswer],
) -> Result<Vec<Option<Tenure>>, DbError> {
    let numbers: Vec<&str> = answers.iter().map(|row| row.number.as_str()).collect();
    let sources: Vec<&str> = answers.iter().map(|row| row.source.as_str()).collect();
    let mut found = vec![None; answers.len()];
    for row in tx
        .query(LATEST_SUCCESSES, &[&numbers, &sources])
        .map_err(db)?
    {
        let place: i64 = row.try_get(0).map_err(db)?;
        let slot = usize::try_from(place - 1)
            .ok()
            .and_then(|i| found.get_mut(i))
            .ok_or_else(|| DbError::Corrupt(format!("no answer at place {place}")))?;
        *slot = Some(tenure_at(&row, 1)?);
    }
    Ok(found)
}

/// The columns an answer is stored in, one array each.
#[derive(Default)]
struct Columns<'a> {
    numbers: Vec<&'a str>,
    sources: Vec<&'a str>,
    kinds: Vec<i64>,
    codes: Vec<String>,
    descs: Vec<&'a str>,
    provinces: Vec<&'a str>,
    cities: Vec<&'a str>,
    isps: Vec<&'a str>,
    reasons: Vec<&'a str>,
}

impl<'a> Columns<'a> {
    fn push(&mut self, number: &'a str, source: &'a str, answer: &'a crate::api::Answer) {
        let (kind, code, desc, province, city, isp, reason) = columns(answer);
        self.numbers.push(number);
        self.sources.push(source);
        self.kinds.push(kind);
        self.codes.push(code.into_owned());
        self.descs.push(desc);
        self.provinces.push(province);
        self.cities.push(city);
        self.isps.push(isp);
        self.reasons.push(reason);
    }

    /// The statement's parameters: these nine arrays, then `rest`.
    fn params<'s>(&'s self, rest: &[&'s Param<'s>]) -> Vec<&'s Param<'s>> {
        let own: [&'s Param<'s>; 9] = [
            &self.numbers,
            &self.sources,
            &self.kinds,
            &self.codes,
            &self.descs,
            &self.provinces,
            &self.cities,
            &self.isps,
            &self.reasons,
        ];
        own.into_iter().chain(rest.iter().copied()).collect()
    }
}

/// A statement parameter.
type Param<'a> = dyn postgres::types::ToSql + Sync + 'a;
