//! PostgreSQL: `tenure cache import`, a chunk of the other store (10,000
//! rows) at a time, in a few statements rather than a few per answer: the
//! latest successes the chunk's answers are compared with, the answers
//! merged, the history entries added, then the changes recorded again where
//! the chunk put an arrival before others (two reads, at most two updates).
//! Each statement takes the chunk as arrays (`unnest`), so a chunk costs
//! the same few round trips whatever its size.
//!
//! The same merge as row by row: the newer answer wins, and a history entry
//! already there (same number, source, first arrival and answer) is not
//! added twice. A chunk's answers have distinct keys (they are the other
//! store's primary key), so comparing them all with the history before
//! merging any is what doing it one by one would see.

use std::collections::{HashMap, HashSet};

use super::super::encoding::{columns, imported_change};
use super::super::relabel::{self, Success};
use super::super::{HistoryRow, ImportedAnswer};
use super::answers::tenure_at;
use super::db;
use crate::api::Tenure;
use crate::store::ImportCounts;
use crate::store::error::DbError;

/// By the answer's place in the chunk (1-based): the latest success first
/// seen before the answer arrived.
const LATEST_SUCCESSES: &str = "
    SELECT DISTINCT ON (u.i) u.i, h.code, h.description, h.province, h.city, h.isp
    FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS u(number, source, at, i)
    JOIN tenure_history h ON h.number = u.number AND h.source = u.source
    WHERE h.kind = 0 AND h.first_seen < u.at
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
          AND h.first_seen = u.first_seen AND h.kind = u.kind AND h.code = u.code
          AND h.description = u.description AND h.province = u.province
          AND h.city = u.city AND h.isp = u.isp AND h.reason = u.reason)
    ORDER BY u.i";

/// The successes of the chunk's numbers, each number's in arrival order.
const SUCCESSES: &str = "
    SELECT h.number, h.source, h.id, h.first_seen,
           h.code, h.description, h.province, h.city, h.isp, h.change
    FROM tenure_history h
    JOIN (SELECT DISTINCT number, source FROM unnest($1::text[], $2::text[]) AS k(number, source))
         AS u ON h.number = u.number AND h.source = u.source
    WHERE h.kind = 0
    ORDER BY h.number, h.source, h.first_seen, h.id";

/// The chunk's numbers' latest answers that are successes.
const LATEST_ANSWERS: &str = "
    SELECT a.number, a.source, a.answered_at,
           a.code, a.description, a.province, a.city, a.isp, a.change
    FROM tenure_answers a
    JOIN (SELECT DISTINCT number, source FROM unnest($1::text[], $2::text[]) AS k(number, source))
         AS u ON a.number = u.number AND a.source = u.source
    WHERE a.kind = 0";

const SET_HISTORY_CHANGES: &str = "
    UPDATE tenure_history h SET change = u.change
    FROM unnest($1::bigint[], $2::text[]) AS u(id, change)
    WHERE h.id = u.id";

/// Only the answer the change was worked out for: another run may have
/// put a newer one meanwhile.
const SET_ANSWER_CHANGES: &str = "
    UPDATE tenure_answers a SET change = u.change
    FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])
         AS u(number, source, change, answered_at)
    WHERE a.number = u.number AND a.source = u.source
      AND a.answered_at = u.answered_at AND a.kind = 0";

/// Records again the changes of the successes of the chunk's numbers, and
/// of their latest answers, where the import put an arrival before others
/// (see `relabel`): two reads and at most two updates a chunk.
pub(super) fn relabel_chunk(
    tx: &mut postgres::Transaction<'_>,
    answers: &[ImportedAnswer],
    history: &[HistoryRow],
) -> Result<(), DbError> {
    let keys: Vec<(&str, &str)> = answers
        .iter()
        .map(|row| (row.number.as_str(), row.source.as_str()))
        .chain(
            history
                .iter()
                .map(|entry| (entry.number.as_str(), entry.source.as_str())),
        )
        .collect();
    if keys.is_empty() {
        return Ok(());
    }
    let key_numbers: Vec<&str> = keys.iter().map(|key| key.0).collect();
    let key_sources: Vec<&str> = keys.iter().map(|key| key.1).collect();
    let mut successes: HashMap<(String, String), Vec<Success>> = HashMap::new();
    for row in tx
        .query(SUCCESSES, &[&key_numbers, &key_sources])
        .map_err(db)?
    {
        let key = (row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?);
        successes.entry(key).or_default().push(Success {
            id: row.try_get(2).map_err(db)?,
            first_seen: row.try_get(3).map_err(db)?,
            tenure: tenure_at(&row, 4)?,
            change: row.try_get(9).map_err(db)?,
        });
    }
    let (ids, changes): (Vec<i64>, Vec<&str>) = successes
        .values()
        .flat_map(|list| relabel::history(list))
        .unzip();
    if !ids.is_empty() {
        tx.execute(SET_HISTORY_CHANGES, &[&ids, &changes])
            .map_err(db)?;
    }
    let (mut numbers, mut sources, mut changes, mut answered) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for row in tx
        .query(LATEST_ANSWERS, &[&key_numbers, &key_sources])
        .map_err(db)?
    {
        let key: (String, String) = (row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?);
        let at: i64 = row.try_get(2).map_err(db)?;
        let now = tenure_at(&row, 3)?;
        let recorded: Option<String> = row.try_get(8).map_err(db)?;
        let list = successes.get(&key).map_or(&[][..], Vec::as_slice);
        let change = relabel::latest(list, at, &now);
        if recorded.as_deref() != Some(change) {
            numbers.push(key.0);
            sources.push(key.1);
            changes.push(change);
            answered.push(at);
        }
    }
    if !numbers.is_empty() {
        tx.execute(
            SET_ANSWER_CHANGES,
            &[&numbers, &sources, &changes, &answered],
        )
        .map_err(db)?;
    }
    Ok(())
}

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
        let key = (
            entry.number.as_str(),
            entry.source.as_str(),
            entry.first_seen,
            columns(&entry.answer),
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
/// first seen before the answer arrived, in the answers' order.
fn latest_successes(
    tx: &mut postgres::Transaction<'_>,
    answers: &[ImportedAnswer],
) -> Result<Vec<Option<Tenure>>, DbError> {
    let numbers: Vec<&str> = answers.iter().map(|row| row.number.as_str()).collect();
    let sources: Vec<&str> = answers.iter().map(|row| row.source.as_str()).collect();
    let at: Vec<i64> = answers.iter().map(|row| row.at_ms).collect();
    let mut found = vec![None; answers.len()];
    for row in tx
        .query(LATEST_SUCCESSES, &[&numbers, &sources, &at])
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
