//! PostgreSQL: stats, export, import, purge, changes and usage.

use super::super::encoding::{answer, columns, imported_change};
use super::super::{
    HistoryRow, ImportChunks, PurgeWhat, Tending, UsageCount, UsageKey, UsageKeyValue,
};
use super::answers::{latest_success, tenure_at};
use super::{PgConnection, count, db};
use crate::change::Change;
use crate::store::error::DbError;
use crate::store::{ChangeRow, ExportRow, ImportCounts, Removed, Stats};
use postgres::types::ToSql;

impl Tending for PgConnection {
    fn stats(&mut self) -> Result<Stats, DbError> {
        let row = self
            .client
            .query_one(
                "SELECT
                   (SELECT count(*) FROM tenure_answers),
                   (SELECT count(*) FROM tenure_answers WHERE kind = 0),
                   (SELECT count(*) FROM tenure_history),
                   (SELECT count(*) FROM tenure_ledger),
                   (SELECT count(*) FROM tenure_ledger WHERE outcome = 'billed'),
                   (SELECT count(*) FROM tenure_runs),
                   (SELECT count(*) FROM tenure_claims),
                   (SELECT min(answered_at) FROM tenure_answers),
                   (SELECT max(answered_at) FROM tenure_answers)",
                &[],
            )
            .map_err(db)?;
        Ok(Stats {
            answers: count(&row, 0)?,
            successes: count(&row, 1)?,
            history: count(&row, 2)?,
            ledger: count(&row, 3)?,
            billed: count(&row, 4)?,
            runs: count(&row, 5)?,
            claims: count(&row, 6)?,
            oldest_ms: row.try_get(7).map_err(db)?,
            newest_ms: row.try_get(8).map_err(db)?,
        })
    }

    fn export(
        &mut self,
        each: &mut dyn FnMut(ExportRow) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>, DbError> {
        let mut tx = self.client.transaction().map_err(db)?;
        let portal = tx
            .bind(
                "SELECT number, source, kind, code, description, province, city, isp, reason,
                        endpoint, answered_at, change, orderid
                 FROM tenure_answers ORDER BY source, number",
                &[],
            )
            .map_err(db)?;
        loop {
            let rows = tx.query_portal(&portal, 10_000).map_err(db)?;
            if rows.is_empty() {
                return Ok(Ok(()));
            }
            for row in rows {
                let kind: i64 = row.try_get(2).map_err(db)?;
                let text = |i: usize| row.try_get::<_, String>(i).map_err(db);
                let answer = answer(
                    kind,
                    text(3)?,
                    text(4)?,
                    text(5)?,
                    text(6)?,
                    text(7)?,
                    text(8)?,
                )
                .ok_or_else(|| DbError::Corrupt(format!("an answer of unknown kind {kind}")))?;
                let export = ExportRow {
                    number: text(0)?,
                    source: text(1)?,
                    answer,
                    endpoint: text(9)?,
                    answered_at_ms: row.try_get(10).map_err(db)?,
                    change: row.try_get(11).map_err(db)?,
                    orderid: row.try_get(12).map_err(db)?,
                };
                if let Err(error) = each(export) {
                    return Ok(Err(error));
                }
            }
        }
    }

    fn import(&mut self, rows: &mut dyn ImportChunks) -> Result<ImportCounts, DbError> {
        let mut tx = self.client.transaction().map_err(db)?;
        let mut counts = ImportCounts::default();
        let from_answers = rows.answers_only();
        while let Some(batch) = rows.next_chunk()? {
            for row in &batch.answers {
                let previous =
                    latest_success(&mut self.statements, &mut tx, &row.source, &row.number)?;
                let change = imported_change(previous.as_ref(), &row.answer).map(|c| c.as_str());
                let (kind, code, desc, province, city, isp, reason) = columns(&row.answer);
                let params: [&(dyn ToSql + Sync); 13] = [
                    &row.number,
                    &row.source,
                    &kind,
                    &code,
                    &desc,
                    &province,
                    &city,
                    &isp,
                    &reason,
                    &row.endpoint,
                    &row.at_ms,
                    &change,
                    &row.orderid,
                ];
                // xmax = 0: the row was inserted rather than updated.
                let merged = tx
                    .query_opt(
                        "INSERT INTO tenure_answers AS a
                         (number, source, kind, code, description, province, city, isp, reason,
                          endpoint, answered_at, change, orderid)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                     ON CONFLICT (number, source) DO UPDATE SET
                         kind = EXCLUDED.kind, code = EXCLUDED.code,
                         description = EXCLUDED.description, province = EXCLUDED.province,
                         city = EXCLUDED.city, isp = EXCLUDED.isp, reason = EXCLUDED.reason,
                         endpoint = EXCLUDED.endpoint, answered_at = EXCLUDED.answered_at,
                         change = EXCLUDED.change, orderid = EXCLUDED.orderid
                     WHERE a.answered_at < EXCLUDED.answered_at
                     RETURNING (xmax = 0)",
                        &params,
                    )
                    .map_err(db)?;
                match merged
                    .map(|row| row.try_get::<_, bool>(0))
                    .transpose()
                    .map_err(db)?
                {
                    Some(true) => counts.answers_added += 1,
                    Some(false) => counts.answers_updated += 1,
                    None => counts.answers_kept += 1,
                }
                if from_answers {
                    let entry = row.first_arrival(change);
                    counts.history_added += insert_history_once(&mut tx, &entry)?;
                }
            }
            for entry in &batch.history {
                counts.history_added += insert_history_once(&mut tx, entry)?;
            }
        }
        tx.commit().map_err(db)?;
        Ok(counts)
    }

    fn purge(&mut self, purge: &PurgeWhat) -> Result<Removed, DbError> {
        let mut tx = self.client.transaction().map_err(db)?;
        let (answers, history) = match purge {
            PurgeWhat::Code(code) => (
                tx.execute("DELETE FROM tenure_answers WHERE code = $1", &[code]),
                tx.execute("DELETE FROM tenure_history WHERE code = $1", &[code]),
            ),
            PurgeWhat::Before(before) => (
                tx.execute(
                    "DELETE FROM tenure_answers WHERE answered_at < $1",
                    &[before],
                ),
                tx.execute("DELETE FROM tenure_history WHERE last_seen < $1", &[before]),
            ),
        };
        let removed = Removed {
            answers: answers.map_err(db)?,
            history: history.map_err(db)?,
        };
        tx.commit().map_err(db)?;
        Ok(removed)
    }

    fn changes(&mut self, since_ms: i64) -> Result<Vec<ChangeRow>, DbError> {
        let rows = self.client.query(CHANGES, &[&since_ms]).map_err(db)?;
        let mut changes = Vec::with_capacity(rows.len());
        for row in rows {
            let text: String = row.try_get(3).map_err(db)?;
            let Some(change) = Change::parse(&text) else {
                continue;
            };
            changes.push(ChangeRow {
                number: row.try_get(0).map_err(db)?,
                source: row.try_get(1).map_err(db)?,
                at_ms: row.try_get(2).map_err(db)?,
                change,
                after: tenure_at(&row, 4)?,
                before: tenure_at(&row, 9)?,
            });
        }
        Ok(changes)
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
                    count(*) FILTER (WHERE l.outcome = 'billed'), count(*),
                    count(*) FILTER (WHERE l.outcome = 'unanswered')
             FROM tenure_ledger l LEFT JOIN tenure_runs r ON r.id = l.run
             WHERE l.at >= $1 AND ($2 OR NOT coalesce(r.sandbox, false))
             GROUP BY k ORDER BY k"
        );
        let rows = self
            .client
            .query(&sql, &[&since_ms, &include_sandbox])
            .map_err(db)?;
        rows.iter()
            .map(|row| {
                let key = match key {
                    UsageKey::Bucket(_) => UsageKeyValue::Bucket(row.try_get(0).map_err(db)?),
                    UsageKey::Run => UsageKeyValue::Run(row.try_get(0).map_err(db)?),
                };
                Ok(UsageCount {
                    key,
                    billed: count(row, 1)?,
                    requests: count(row, 2)?,
                    unanswered: count(row, 3)?,
                })
            })
            .collect()
    }
}

/// Successes with a change since $1, each with the success before it.
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
            WHERE first_seen >= $1 AND kind = 0 AND change NOT IN ('new', 'same'))
        WINDOW w AS (PARTITION BY number, source ORDER BY first_seen, id)
    ) x
    WHERE first_seen >= $1 AND change NOT IN ('new', 'same') AND p_code IS NOT NULL
    ORDER BY first_seen, number, source";

/// Inserts a history entry unless one of the same answer and first arrival
/// is there already; 1 if inserted.
fn insert_history_once(
    tx: &mut postgres::Transaction<'_>,
    entry: &HistoryRow,
) -> Result<u64, DbError> {
    let (kind, code, desc, province, city, isp, reason) = columns(&entry.answer);
    tx.execute(
        "INSERT INTO tenure_history
             (number, source, kind, code, description, province, city, isp, reason,
              first_seen, last_seen, change)
         SELECT $1::text, $2::text, $3::bigint, $4::text, $5::text, $6::text, $7::text,
                $8::text, $9::text, $10::bigint, $11::bigint, $12::text
         WHERE NOT EXISTS (
             SELECT 1 FROM tenure_history WHERE number = $1 AND source = $2
             AND first_seen = $10 AND kind = $3 AND code = $4)",
        &[
            &entry.number,
            &entry.source,
            &kind,
            &code,
            &desc,
            &province,
            &city,
            &isp,
            &reason,
            &entry.first_seen,
            &entry.last_seen,
            &entry.change,
        ],
    )
    .map_err(db)
}
