//! PostgreSQL: the answers, their history, the ledger, and the group
//! commit that writes them (one statement per answer).

use super::super::encoding::{answer, columns, endpoint_name};
use super::super::{AnswerWrite, Answers, Fresh, LedgerWrite, Write};
use super::{PgConnection, db, prepared};
use crate::api::Tenure;
use crate::change::Change;
use crate::number::Number;
use crate::store::Stored;
use crate::store::error::DbError;
use postgres::{GenericClient, Row, Statement};
use std::collections::HashMap;

const SELECT_MANY: &str = "
    SELECT number, kind, code, description, province, city, isp, reason, change, answered_at
    FROM tenure_answers WHERE source = $1 AND number = ANY($2) AND answered_at > $3";

pub(super) const SELECT_ONE: &str = "
    SELECT number, kind, code, description, province, city, isp, reason, change, answered_at
    FROM tenure_answers WHERE source = $1 AND number = $2 AND answered_at > $3";

const LATEST_SUCCESS: &str = "
    SELECT code, description, province, city, isp FROM tenure_history
    WHERE number = $1 AND source = $2 AND kind = 0
    ORDER BY first_seen DESC, id DESC LIMIT 1";

/// One answer in one statement: the latest answer replaced, the claim
/// released, and the history entry added or its `last_seen` moved.
const WRITE_ANSWER: &str = "
    WITH upsert AS (
        INSERT INTO tenure_answers
            (number, source, kind, code, description, province, city, isp, reason,
             endpoint, answered_at, change, orderid)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
        ON CONFLICT (number, source) DO UPDATE SET
            kind = EXCLUDED.kind, code = EXCLUDED.code, description = EXCLUDED.description,
            province = EXCLUDED.province, city = EXCLUDED.city, isp = EXCLUDED.isp,
            reason = EXCLUDED.reason, endpoint = EXCLUDED.endpoint,
            answered_at = EXCLUDED.answered_at, change = EXCLUDED.change,
            orderid = EXCLUDED.orderid
        RETURNING 1
    ), released AS (
        DELETE FROM tenure_claims WHERE number = $1 AND source = $2 AND run = $14
        RETURNING 1
    ), latest AS (
        SELECT id, kind, code, description, province, city, isp, reason FROM tenure_history
        WHERE number = $1 AND source = $2 ORDER BY first_seen DESC, id DESC LIMIT 1
    ), moved AS (
        UPDATE tenure_history h SET last_seen = GREATEST(h.last_seen, $11)
        FROM latest l
        WHERE h.id = l.id AND l.kind = $3 AND l.code = $4 AND l.description = $5
          AND l.province = $6 AND l.city = $7 AND l.isp = $8 AND l.reason = $9
        RETURNING 1
    )
    INSERT INTO tenure_history
        (number, source, kind, code, description, province, city, isp, reason,
         first_seen, last_seen, change)
    SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $11, $12
    WHERE NOT EXISTS (SELECT 1 FROM moved)";

const WRITE_LEDGER: &str = "
    WITH entry AS (
        INSERT INTO tenure_ledger (at, run, grp, source, endpoint, outcome, code, orderid)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        RETURNING 1
    )
    UPDATE tenure_runs SET reserved = GREATEST(reserved - 1, 0) WHERE id = $2 AND $9";

pub(super) fn stored(row: &Row, fresh: Fresh) -> Result<Option<(String, Stored)>, DbError> {
    let code: String = row.try_get(2).map_err(db)?;
    let at: i64 = row.try_get(9).map_err(db)?;
    let kind: i64 = row.try_get(1).map_err(db)?;
    let text = |i: usize| row.try_get::<_, String>(i).map_err(db);
    let answer = answer(kind, code, text(3)?, text(4)?, text(5)?, text(6)?, text(7)?)
        .ok_or_else(|| DbError::Corrupt(format!("an answer of unknown kind {kind}")))?;
    if !fresh.accepts(&answer, at) {
        return Ok(None);
    }
    let change: Option<String> = row.try_get(8).map_err(db)?;
    Ok(Some((
        text(0)?,
        Stored {
            answer,
            change: change.as_deref().and_then(Change::parse),
            answered_at_ms: at,
            this_run: at >= fresh.opened_ms,
        },
    )))
}

pub(super) fn tenure_at(row: &Row, at: usize) -> Result<Tenure, DbError> {
    let text = |i: usize| row.try_get::<_, String>(at + i).map_err(db);
    Ok(Tenure {
        code: text(0)?,
        desc: text(1)?,
        province: text(2)?,
        city: text(3)?,
        isp: text(4)?,
    })
}

pub(super) fn latest_success(
    statements: &mut HashMap<&'static str, Statement>,
    client: &mut impl GenericClient,
    source: &str,
    number: &str,
) -> Result<Option<Tenure>, DbError> {
    let statement = prepared(statements, client, LATEST_SUCCESS)?;
    client
        .query_opt(&statement, &[&number, &source])
        .map_err(db)?
        .map(|row| tenure_at(&row, 0))
        .transpose()
}

fn write_answer(
    statements: &mut HashMap<&'static str, Statement>,
    tx: &mut postgres::Transaction<'_>,
    source: &str,
    write: &AnswerWrite,
) -> Result<(), DbError> {
    let (kind, code, desc, province, city, isp, reason) = columns(&write.answer);
    let change = write.change.map(|change| change.as_str());
    let statement = prepared(statements, tx, WRITE_ANSWER)?;
    tx.execute(
        &statement,
        &[
            &write.number.as_str(),
            &source,
            &kind,
            &code,
            &desc,
            &province,
            &city,
            &isp,
            &reason,
            &endpoint_name(write.endpoint),
            &write.at_ms,
            &change,
            &write.orderid,
            &write.run,
        ],
    )
    .map_err(db)
    .map(drop)
}

fn write_ledger(
    statements: &mut HashMap<&'static str, Statement>,
    tx: &mut postgres::Transaction<'_>,
    source: &str,
    entry: &LedgerWrite,
) -> Result<(), DbError> {
    let statement = prepared(statements, tx, WRITE_LEDGER)?;
    tx.execute(
        &statement,
        &[
            &entry.at_ms,
            &entry.run,
            &entry.group,
            &source,
            &endpoint_name(entry.endpoint),
            &entry.outcome,
            &entry.code,
            &entry.orderid,
            &entry.reserved,
        ],
    )
    .map_err(db)
    .map(drop)
}

impl Answers for PgConnection {
    fn get_many(
        &mut self,
        source: &str,
        numbers: &[Number],
        fresh: Fresh,
    ) -> Result<Vec<Option<Stored>>, DbError> {
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let texts: Vec<&str> = numbers.iter().map(Number::as_str).collect();
        let statement = prepared(&mut self.statements, &mut self.client, SELECT_MANY)?;
        let rows = self
            .client
            .query(&statement, &[&source, &texts, &fresh.cutoff_ms])
            .map_err(db)?;
        let mut found: HashMap<String, Stored> = HashMap::with_capacity(rows.len());
        for row in &rows {
            if let Some((number, stored)) = stored(row, fresh)? {
                found.insert(number, stored);
            }
        }
        Ok(texts.iter().map(|text| found.get(*text).cloned()).collect())
    }

    fn latest_success(&mut self, source: &str, number: &Number) -> Result<Option<Tenure>, DbError> {
        latest_success(
            &mut self.statements,
            &mut self.client,
            source,
            number.as_str(),
        )
    }

    fn commit(&mut self, source: &str, writes: &[Write]) -> Result<(), DbError> {
        if writes.is_empty() {
            return Ok(());
        }
        let mut tx = self.client.transaction().map_err(db)?;
        for write in writes {
            match write {
                Write::Answer(answer) => {
                    write_answer(&mut self.statements, &mut tx, source, answer)
                }
                Write::Ledger(entry) => write_ledger(&mut self.statements, &mut tx, source, entry),
            }?;
        }
        tx.commit().map_err(db)
    }
}
