//! PostgreSQL: stats, export, import, purge, changes and usage.

use super::super::encoding::answer;
use super::super::{ImportChunks, PurgeWhat, Tending, UsageCount, UsageKey, UsageKeyValue};
use super::answers::tenure_at;
use super::import;
use super::{PgConnection, count, db};
use crate::change::Change;
use crate::store::error::DbError;
use crate::store::{ChangeRow, ExportRow, ImportCounts, Removed, Stats};

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
        let first_arrivals = rows.answers_only();
        while let Some(chunk) = rows.next_chunk()? {
            import::merge_answers(&mut tx, &chunk.answers, first_arrivals, &mut counts)?;
            counts.history_added += import::add_history(&mut tx, &chunk.history)?;
            import::relabel_chunk(&mut tx, &chunk.answers, &chunk.history)?;
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
                    "DELETE FROM tenure_answers WHERE answered_at <= $1",
                    &[before],
                ),
                tx.execute(
                    "DELETE FROM tenure_history WHERE last_seen <= $1",
                    &[before],
                ),
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
