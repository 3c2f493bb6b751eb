//! SQLite: stats, export, import, purge, changes and usage.

use super::super::encoding::{answer, columns, imported_change};
use super::super::relabel::{self, Success};
use super::super::{
    HistoryRow, ImportChunks, PurgeWhat, Tending, UsageCount, UsageKey, UsageKeyValue,
};
use super::answers::{INSERT_HISTORY, UPSERT_ANSWER, latest_success, tenure_at};
use super::{SqliteConnection, db};
use crate::change::Change;
use crate::store::error::DbError;
use crate::store::{ChangeRow, ExportRow, ImportCounts, Removed, Stats};
use rusqlite::{OptionalExtension, Row, params};

impl Tending for SqliteConnection {
    fn stats(&mut self) -> Result<Stats, DbError> {
        let count = |sql: &str| -> Result<u64, DbError> {
            self.conn
                .query_row(sql, [], |row| row.get::<_, i64>(0))
                .map(|n| u64::try_from(n).unwrap_or(0))
                .map_err(db)
        };
        let (oldest, newest) = self
            .conn
            .query_row(
                "SELECT min(answered_at), max(answered_at) FROM tenure_answers",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .map_err(db)?;
        Ok(Stats {
            answers: count("SELECT count(*) FROM tenure_answers")?,
            successes: count("SELECT count(*) FROM tenure_answers WHERE kind = 0")?,
            history: count("SELECT count(*) FROM tenure_history")?,
            ledger: count("SELECT count(*) FROM tenure_ledger")?,
            billed: count("SELECT count(*) FROM tenure_ledger WHERE outcome = 'billed'")?,
            runs: count("SELECT count(*) FROM tenure_runs")?,
            claims: count("SELECT count(*) FROM tenure_claims")?,
            oldest_ms: oldest,
            newest_ms: newest,
        })
    }

    fn export(
        &mut self,
        each: &mut dyn FnMut(ExportRow) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>, DbError> {
        let tx = self.conn.transaction().map_err(db)?;
        let mut select = tx
            .prepare(
                "SELECT number, source, kind, code, description, province, city, isp, reason,
                        endpoint, answered_at, change, orderid
                 FROM tenure_answers ORDER BY source, number",
            )
            .map_err(db)?;
        let mut rows = select.query([]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let export = export_row(row).map_err(db)?;
            if let Err(error) = each(export) {
                return Ok(Err(error));
            }
        }
        Ok(Ok(()))
    }

    fn import(&mut self, rows: &mut dyn ImportChunks) -> Result<ImportCounts, DbError> {
        let tx = self.immediate()?;
        let mut counts = ImportCounts::default();
        let answers_only = rows.answers_only();
        while let Some(chunk) = rows.next_chunk()? {
            for row in &chunk.answers {
                import_answer(&tx, row, &mut counts, answers_only).map_err(db)?;
            }
            for entry in &chunk.history {
                if insert_history_once(&tx, entry).map_err(db)? {
                    counts.history_added += 1;
                }
            }
            let keys: std::collections::BTreeSet<(&str, &str)> = chunk
                .answers
                .iter()
                .map(|row| (row.number.as_str(), row.source.as_str()))
                .chain(
                    chunk
                        .history
                        .iter()
                        .map(|entry| (entry.number.as_str(), entry.source.as_str())),
                )
                .collect();
            for (number, source) in keys {
                relabel_number(&tx, number, source).map_err(db)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(counts)
    }

    fn purge(&mut self, purge: &PurgeWhat) -> Result<Removed, DbError> {
        let tx = self.immediate()?;
        let (answers, history) = match purge {
            PurgeWhat::Code(code) => (
                tx.execute("DELETE FROM tenure_answers WHERE code = ?1", [code]),
                tx.execute("DELETE FROM tenure_history WHERE code = ?1", [code]),
            ),
            PurgeWhat::Before(before) => (
                tx.execute(
                    "DELETE FROM tenure_answers WHERE answered_at <= ?1",
                    [before],
                ),
                tx.execute("DELETE FROM tenure_history WHERE last_seen <= ?1", [before]),
            ),
        };
        let removed = Removed {
            answers: answers.map_err(db)? as u64,
            history: history.map_err(db)? as u64,
        };
        tx.commit().map_err(db)?;
        Ok(removed)
    }

    fn changes(&mut self, since_ms: i64) -> Result<Vec<ChangeRow>, DbError> {
        let mut select = self.conn.prepare(CHANGES).map_err(db)?;
        select
            .query_map([since_ms], change_row)
            .map_err(db)?
            .filter_map(|row| row.map_err(db).transpose())
            .collect()
    }

    fn usage(
        &mut self,
        since_ms: i64,
        key: UsageKey,
        include_sandbox: bool,
    ) -> Result<Vec<UsageCount>, DbError> {
        // The bucket width is this crate's constant, never user text.
        let column = match key {
            UsageKey::Bucket(ms) => format!("l.at / {ms}"),
            UsageKey::Run => "l.run".to_owned(),
        };
        let sql = format!(
            "SELECT {column} AS k,
                    sum(l.outcome = 'billed'), count(*), sum(l.outcome = 'unanswered')
             FROM tenure_ledger l LEFT JOIN tenure_runs r ON r.id = l.run
             WHERE l.at >= ?1 AND (?2 OR coalesce(r.sandbox, 0) = 0)
             GROUP BY k ORDER BY k"
        );
        let mut select = self.conn.prepare(&sql).map_err(db)?;
        select
            .query_map(params![since_ms, include_sandbox], |row| {
                let key = match key {
                    UsageKey::Bucket(_) => UsageKeyValue::Bucket(row.get(0)?),
                    UsageKey::Run => UsageKeyValue::Run(row.get(0)?),
                };
                let n = |i: usize| row.get::<_, i64>(i).map(|n| n.max(0) as u64);
                Ok(UsageCount {
                    key,
                    billed: n(1)?,
                    requests: n(2)?,
                    unanswered: n(3)?,
                })
            })
            .map_err(db)?
            .collect::<rusqlite::Result<_>>()
            .map_err(db)
    }
}

/// Successes with a change since ?1, each with the success before it.
const CHANGES: &str = "
    SELECT number, source, first_seen, change,
           code, description, province, city, isp,
           p_code, p_description, p_province, p_city, p_isp
    FROM (
        SELECT h.*,
               lag(code) OVER w AS p_code, lag(description) OVER w AS p_description,
               lag(province) OVER w AS p_province, lag(city) OVER w AS p_city,
               lag(isp) OVER w AS p_isp
        FROM tenure_history h
        WHERE kind = 0 AND (number, source) IN (
            SELECT number, source FROM tenure_history
            WHERE first_seen >= ?1 AND kind = 0 AND change NOT IN ('new', 'same'))
        WINDOW w AS (PARTITION BY number, source ORDER BY first_seen, id)
    )
    WHERE first_seen >= ?1 AND change NOT IN ('new', 'same') AND p_code IS NOT NULL
    ORDER BY first_seen, number, source";

fn change_row(row: &Row<'_>) -> rusqlite::Result<Option<ChangeRow>> {
    let tenure = |at: usize| tenure_at(row, at);
    let change: String = row.get(3)?;
    let Some(change) = Change::parse(&change) else {
        return Ok(None);
    };
    Ok(Some(ChangeRow {
        number: row.get(0)?,
        source: row.get(1)?,
        at_ms: row.get(2)?,
        change,
        after: tenure(4)?,
        before: tenure(9)?,
    }))
}

fn export_row(row: &Row<'_>) -> rusqlite::Result<ExportRow> {
    let kind: i64 = row.get(2)?;
    let answer = answer(
        kind,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
    )
    .ok_or(rusqlite::Error::IntegralValueOutOfRange(2, kind))?;
    Ok(ExportRow {
        number: row.get(0)?,
        source: row.get(1)?,
        answer,
        endpoint: row.get(9)?,
        answered_at_ms: row.get(10)?,
        change: row.get(11)?,
        orderid: row.get(12)?,
    })
}

/// Merges one imported answer: the newer answer wins; with `history`, the
/// arrival gets a history entry too (a version-1 store has none of its own).
fn import_answer(
    tx: &rusqlite::Connection,
    row: &super::super::ImportedAnswer,
    counts: &mut ImportCounts,
    history: bool,
) -> rusqlite::Result<()> {
    let previous = latest_success(tx, &row.source, &row.number, row.at_ms)?;
    let change = imported_change(previous.as_ref(), &row.answer).map(|change| change.as_str());
    let existing: Option<i64> = tx
        .query_row(
            "SELECT answered_at FROM tenure_answers WHERE number = ?1 AND source = ?2",
            params![row.number, row.source],
            |row| row.get(0),
        )
        .optional()?;
    match existing {
        Some(at) if at >= row.at_ms => counts.answers_kept += 1,
        existing => {
            let (kind, code, desc, province, city, isp, reason) = columns(&row.answer);
            tx.prepare_cached(UPSERT_ANSWER)?.execute(params![
                row.number,
                row.source,
                kind,
                code,
                desc,
                province,
                city,
                isp,
                reason,
                row.endpoint,
                row.at_ms,
                change,
                row.orderid,
            ])?;
            if existing.is_some() {
                counts.answers_updated += 1;
            } else {
                counts.answers_added += 1;
            }
        }
    }
    if history {
        let entry = row.first_arrival(change);
        if insert_history_once(tx, &entry)? {
            counts.history_added += 1;
        }
    }
    Ok(())
}

/// Records again the changes of the successes of `number` from `source`,
/// and of its latest answer, where an import put an arrival before others
/// (see `relabel`).
fn relabel_number(tx: &rusqlite::Connection, number: &str, source: &str) -> rusqlite::Result<()> {
    let successes: Vec<Success> = tx
        .prepare_cached(
            "SELECT id, first_seen, code, description, province, city, isp, change
             FROM tenure_history WHERE number = ?1 AND source = ?2 AND kind = 0
             ORDER BY first_seen, id",
        )?
        .query_map(params![number, source], |row| {
            Ok(Success {
                id: row.get(0)?,
                first_seen: row.get(1)?,
                tenure: tenure_at(row, 2)?,
                change: row.get(7)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (id, change) in relabel::history(&successes) {
        tx.prepare_cached("UPDATE tenure_history SET change = ?2 WHERE id = ?1")?
            .execute(params![id, change])?;
    }
    let answer = tx
        .prepare_cached(
            "SELECT answered_at, code, description, province, city, isp, change
             FROM tenure_answers WHERE number = ?1 AND source = ?2 AND kind = 0",
        )?
        .query_row(params![number, source], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                tenure_at(row, 1)?,
                row.get::<_, Option<String>>(6)?,
            ))
        })
        .optional()?;
    if let Some((at, now, recorded)) = answer {
        let change = relabel::latest(&successes, at, &now);
        if recorded.as_deref() != Some(change) {
            tx.prepare_cached(
                "UPDATE tenure_answers SET change = ?3 WHERE number = ?1 AND source = ?2",
            )?
            .execute(params![number, source, change])?;
        }
    }
    Ok(())
}

/// Inserts a history entry unless one of the same answer and first arrival
/// is there already. True if inserted.
fn insert_history_once(tx: &rusqlite::Connection, entry: &HistoryRow) -> rusqlite::Result<bool> {
    let (kind, code, desc, province, city, isp, reason) = columns(&entry.answer);
    let there = tx
        .query_row(
            "SELECT 1 FROM tenure_history WHERE number = ?1 AND source = ?2
             AND first_seen = ?3 AND kind = ?4 AND code = ?5 AND description = ?6
             AND province = ?7 AND city = ?8 AND isp = ?9 AND reason = ?10",
            params![
                entry.number,
                entry.source,
                entry.first_seen,
                kind,
                code,
                desc,
                province,
                city,
                isp,
                reason
            ],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if there {
        return Ok(false);
    }
    tx.prepare_cached(INSERT_HISTORY)?.execute(params![
        entry.number,
        entry.source,
        kind,
        code,
        desc,
        province,
        city,
        isp,
        reason,
        entry.first_seen,
        entry.last_seen,
        entry.change,
    ])?;
    Ok(true)
}
