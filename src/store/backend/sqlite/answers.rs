//! SQLite: the answers, their history, the ledger, and the group commit
//! that writes them.

use super::super::encoding::{answer, columns, endpoint_name};
use super::super::{AnswerWrite, Answers, Fresh, LedgerWrite, Write};
use super::{SqliteConnection, db};
use crate::api::{Answer, Tenure};
use crate::change::Change;
use crate::number::Number;
use crate::store::Stored;
use crate::store::error::DbError;
use rusqlite::{OptionalExtension, Row, params};

pub(super) const ANSWER_COLUMNS: &str =
    "kind, code, description, province, city, isp, reason, change, answered_at";

const LATEST_SUCCESS: &str = "
    SELECT code, description, province, city, isp FROM tenure_history
    WHERE number = ?1 AND source = ?2 AND kind = 0 AND first_seen < ?3
    ORDER BY first_seen DESC, id DESC LIMIT 1";

pub(super) const UPSERT_ANSWER: &str = "
    INSERT OR REPLACE INTO tenure_answers
        (number, source, kind, code, description, province, city, isp, reason,
         endpoint, answered_at, change, orderid)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

const LATEST_ENTRY: &str = "
    SELECT id, kind, code, description, province, city, isp, reason FROM tenure_history
    WHERE number = ?1 AND source = ?2 ORDER BY first_seen DESC, id DESC LIMIT 1";

pub(super) const INSERT_HISTORY: &str = "
    INSERT INTO tenure_history
        (number, source, kind, code, description, province, city, isp, reason,
         first_seen, last_seen, change)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

const INSERT_LEDGER: &str = "
    INSERT INTO tenure_ledger (at, run, grp, source, endpoint, outcome, code, orderid)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

/// A stored answer from `ANSWER_COLUMNS` at `offset`.
pub(super) fn stored(
    row: &Row<'_>,
    offset: usize,
    fresh: Fresh,
) -> rusqlite::Result<Option<Stored>> {
    let kind: i64 = row.get(offset)?;
    let code: String = row.get(offset + 1)?;
    let at: i64 = row.get(offset + 8)?;
    let change: Option<String> = row.get(offset + 7)?;
    let answer = answer(
        kind,
        code,
        row.get(offset + 2)?,
        row.get(offset + 3)?,
        row.get(offset + 4)?,
        row.get(offset + 5)?,
        row.get(offset + 6)?,
    )
    .ok_or(rusqlite::Error::IntegralValueOutOfRange(offset, kind))?;
    if !fresh.accepts(&answer, at) {
        return Ok(None);
    }
    Ok(Some(Stored {
        change: change.as_deref().and_then(Change::parse),
        answer,
        answered_at_ms: at,
        this_run: at >= fresh.opened_ms,
    }))
}

/// A tenure from the five columns code, description, province, city and
/// isp, from `at`.
pub(super) fn tenure_at(row: &Row<'_>, at: usize) -> rusqlite::Result<Tenure> {
    Ok(Tenure {
        code: row.get(at)?,
        desc: row.get(at + 1)?,
        province: row.get(at + 2)?,
        city: row.get(at + 3)?,
        isp: row.get(at + 4)?,
    })
}

/// The number's latest success first seen before `before` (unix ms;
/// `i64::MAX` for any).
pub(super) fn latest_success(
    conn: &rusqlite::Connection,
    source: &str,
    number: &str,
    before: i64,
) -> rusqlite::Result<Option<Tenure>> {
    conn.prepare_cached(LATEST_SUCCESS)?
        .query_row(params![number, source, before], |row| tenure_at(row, 0))
        .optional()
}

/// Adds a history entry for an arrival, or moves the latest entry's
/// `last_seen` when the arrival is identical to it.
fn record_history(
    conn: &rusqlite::Connection,
    number: &str,
    source: &str,
    answer: &Answer,
    at_ms: i64,
    change: Option<&str>,
) -> rusqlite::Result<()> {
    let (kind, code, desc, province, city, isp, reason) = columns(answer);
    let latest = conn
        .prepare_cached(LATEST_ENTRY)?
        .query_row(params![number, source], |row| {
            let same = row.get::<_, i64>(1)? == kind
                && row.get::<_, String>(2)? == code
                && row.get::<_, String>(3)? == desc
                && row.get::<_, String>(4)? == province
                && row.get::<_, String>(5)? == city
                && row.get::<_, String>(6)? == isp
                && row.get::<_, String>(7)? == reason;
            Ok((row.get::<_, i64>(0)?, same))
        })
        .optional()?;
    match latest {
        Some((id, true)) => {
            conn.prepare_cached(
                "UPDATE tenure_history SET last_seen = max(last_seen, ?2) WHERE id = ?1",
            )?
            .execute(params![id, at_ms])?;
        }
        _ => {
            conn.prepare_cached(INSERT_HISTORY)?.execute(params![
                number, source, kind, code, desc, province, city, isp, reason, at_ms, at_ms, change
            ])?;
        }
    }
    Ok(())
}

fn write_answer(
    conn: &rusqlite::Connection,
    source: &str,
    write: &AnswerWrite,
) -> rusqlite::Result<()> {
    let number = write.number.as_str();
    let (kind, code, desc, province, city, isp, reason) = columns(&write.answer);
    let change = write.change.map(|change| change.as_str());
    conn.prepare_cached(UPSERT_ANSWER)?.execute(params![
        number,
        source,
        kind,
        code,
        desc,
        province,
        city,
        isp,
        reason,
        endpoint_name(write.endpoint),
        write.at_ms,
        change,
        write.orderid,
    ])?;
    record_history(conn, number, source, &write.answer, write.at_ms, change)?;
    if let Some(run) = &write.run {
        conn.prepare_cached(
            "DELETE FROM tenure_claims WHERE number = ?1 AND source = ?2 AND run = ?3",
        )?
        .execute(params![number, source, run])?;
    }
    Ok(())
}

fn write_ledger(
    conn: &rusqlite::Connection,
    source: &str,
    entry: &LedgerWrite,
) -> rusqlite::Result<()> {
    conn.prepare_cached(INSERT_LEDGER)?.execute(params![
        entry.at_ms,
        entry.run,
        entry.group,
        source,
        endpoint_name(entry.endpoint),
        entry.outcome,
        entry.code,
        entry.orderid,
    ])?;
    if entry.reserved {
        conn.prepare_cached(
            "UPDATE tenure_runs SET reserved = max(reserved - 1, 0) WHERE id = ?1",
        )?
        .execute([&entry.run])?;
    }
    Ok(())
}

impl Answers for SqliteConnection {
    fn get_many(
        &mut self,
        source: &str,
        numbers: &[Number],
        fresh: Fresh,
    ) -> Result<Vec<Option<Stored>>, DbError> {
        let tx = self.conn.transaction().map_err(db)?;
        let mut found = Vec::with_capacity(numbers.len());
        {
            let sql = format!(
                "SELECT {ANSWER_COLUMNS} FROM tenure_answers
                 WHERE number = ?1 AND source = ?2 AND answered_at > ?3"
            );
            let mut select = tx.prepare_cached(&sql).map_err(db)?;
            for number in numbers {
                let row = select
                    .query_row(params![number.as_str(), source, fresh.cutoff_ms], |row| {
                        stored(row, 0, fresh)
                    })
                    .optional()
                    .map_err(db)?;
                found.push(row.flatten());
            }
        }
        tx.commit().map_err(db)?;
        Ok(found)
    }

    fn latest_success(&mut self, source: &str, number: &Number) -> Result<Option<Tenure>, DbError> {
        latest_success(&self.conn, source, number.as_str(), i64::MAX).map_err(db)
    }

    fn commit(&mut self, source: &str, writes: &[Write]) -> Result<(), DbError> {
        if writes.is_empty() {
            return Ok(());
        }
        let tx = self.immediate()?;
        for write in writes {
            match write {
                Write::Answer(answer) => write_answer(&tx, source, answer),
                Write::Ledger(entry) => write_ledger(&tx, source, entry),
            }
            .map_err(db)?;
        }
        tx.commit().map_err(db)
    }
}
