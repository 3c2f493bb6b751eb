//! The PostgreSQL variant: a server, so that runs on different hosts and in
//! short-lived containers share one store.
//!
//! Through the synchronous `postgres` client, TLS over rustls (`tls`). The
//! tables live in the connection's schema (the URL's `options=-c
//! search_path=…` chooses another). The store's clock is the server's
//! `clock_timestamp()`. Heartbeats and reservations of a rate group are
//! serialised by a transaction-scoped advisory lock on the group; a claim by
//! one on the number. Statements are prepared once per connection, and a
//! batch look-up is one round trip (`number = ANY($2)`).

mod schema;
mod tls;

pub(crate) use schema::{exists, prepare};

use super::{
    AnswerWrite, Backend, Budget, ClaimRow, Connection, DAY_MS, Fresh, HistoryRow, Imported,
    LedgerWrite, NewRun, PurgeWhat, Purpose, TickArgs, Ticked, UsageCount, UsageKey, UsageKeyValue,
    Write, answer, columns, demand_from_db, demand_to_db, endpoint_name, imported_change,
};
use crate::api::Tenure;
use crate::change::Change;
use crate::number::Number;
use crate::share::Member;
use crate::store::error::DbError;
use crate::store::location::PgUrl;
use crate::store::{ChangeRow, ExportRow, ImportCounts, Removed, Stats, Stored};
use postgres::types::ToSql;
use postgres::{Client, GenericClient, Row, Statement};
use std::collections::HashMap;
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

/// The store's clock, in unix ms.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens connections to one PostgreSQL database.
pub(crate) struct Postgres {
    config: postgres::Config,
    tls: MakeRustlsConnect,
}

impl Postgres {
    pub(crate) fn new(url: &PgUrl) -> Result<Postgres, crate::store::StoreError> {
        let mut config = url.config()?;
        config.connect_timeout(CONNECT_TIMEOUT);
        let tls = tls::connector(url.ssl, url.root_cert.as_deref())
            .map_err(|error| error.named(&url.to_string()))?;
        Ok(Postgres { config, tls })
    }

    pub(crate) fn client(&self) -> Result<Client, DbError> {
        self.config
            .connect(self.tls.clone())
            .map_err(|error| DbError::Unreachable(describe(&error)))
    }
}

impl Backend for Postgres {
    fn connect(&self, purpose: Purpose) -> Result<Box<dyn Connection>, DbError> {
        let mut client = self.client()?;
        if purpose == Purpose::Lease {
            client
                .batch_execute("SET synchronous_commit TO off")
                .map_err(db)?;
        }
        Ok(Box::new(PgConnection {
            client,
            statements: HashMap::new(),
        }))
    }
}

/// The error's message with its cause: `postgres::Error`'s `Display` alone
/// often says only "db error". Never holds the password (the client does
/// not quote its config) nor a bound value.
fn describe(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(error);
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
    }
}

pub(crate) fn db(error: postgres::Error) -> DbError {
    if error.is_closed() || error.as_db_error().is_none() {
        DbError::Unreachable(describe(&error))
    } else {
        DbError::Other(describe(&error))
    }
}

/// Takes or refreshes a claim unless another live run holds it; returns a
/// row when taken.
const TAKE_CLAIM: &str = "
    INSERT INTO tenure_claims AS c (number, source, run, claimed_at)
    VALUES ($1, $2, $3, (extract(epoch from clock_timestamp()) * 1000)::bigint)
    ON CONFLICT (number, source) DO UPDATE
    SET run = EXCLUDED.run, claimed_at = EXCLUDED.claimed_at
    WHERE c.run = EXCLUDED.run OR NOT EXISTS (
        SELECT 1 FROM tenure_runs r
        WHERE r.id = c.run AND NOT r.ended AND r.heartbeat >= EXCLUDED.claimed_at - $4)
    RETURNING 1";

struct PgConnection {
    client: Client,
    /// Statements prepared on this connection, by their SQL.
    statements: HashMap<&'static str, Statement>,
}

/// Prepares `sql` once per connection.
fn prepared(
    statements: &mut HashMap<&'static str, Statement>,
    client: &mut impl GenericClient,
    sql: &'static str,
) -> Result<Statement, DbError> {
    if let Some(statement) = statements.get(sql) {
        return Ok(statement.clone());
    }
    let statement = client.prepare(sql).map_err(db)?;
    statements.insert(sql, statement.clone());
    Ok(statement)
}

const SELECT_MANY: &str = "
    SELECT number, kind, code, description, province, city, isp, reason, change, answered_at
    FROM tenure_answers WHERE source = $1 AND number = ANY($2) AND answered_at > $3";

const SELECT_ONE: &str = "
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

const RUN_COLUMNS: &str = "id, qps, demand, granted, held, held_until, heartbeat, ended";

fn stored(row: &Row, fresh: Fresh) -> Result<Option<(String, Stored)>, DbError> {
    let code: String = row.try_get(2).map_err(db)?;
    let at: i64 = row.try_get(9).map_err(db)?;
    if !fresh.accepts(&code, at) {
        return Ok(None);
    }
    let kind: i64 = row.try_get(1).map_err(db)?;
    let text = |i: usize| row.try_get::<_, String>(i).map_err(db);
    let answer = answer(kind, code, text(3)?, text(4)?, text(5)?, text(6)?, text(7)?)
        .ok_or_else(|| DbError::Corrupt(format!("an answer of unknown kind {kind}")))?;
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

fn member(row: &Row) -> Result<Member, DbError> {
    let count = |i: usize| -> Result<u32, DbError> {
        row.try_get::<_, i64>(i)
            .map_err(db)
            .map(|n| u32::try_from(n.max(0)).unwrap_or(u32::MAX))
    };
    Ok(Member {
        run: row.try_get(0).map_err(db)?,
        qps: count(1)?,
        demand: demand_from_db(row.try_get(2).map_err(db)?),
        granted: count(3)?,
        held: count(4)?,
        held_until_ms: row.try_get(5).map_err(db)?,
        heartbeat_ms: row.try_get(6).map_err(db)?,
        ended: row.try_get(7).map_err(db)?,
    })
}

fn tenure_at(row: &Row, at: usize) -> Result<Tenure, DbError> {
    let text = |i: usize| row.try_get::<_, String>(at + i).map_err(db);
    Ok(Tenure {
        code: text(0)?,
        desc: text(1)?,
        province: text(2)?,
        city: text(3)?,
        isp: text(4)?,
    })
}

fn latest_success(
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

/// Takes the transaction-scoped advisory lock named `key`; returns the
/// store's clock once it is held.
fn lock(tx: &mut postgres::Transaction<'_>, key: &str) -> Result<i64, DbError> {
    tx.query_one(
        &format!("SELECT {NOW_MS} FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) l"),
        &[&key],
    )
    .and_then(|row| row.try_get(0))
    .map_err(db)
}

fn group_key(group: Option<&str>, run: &str) -> String {
    match group {
        Some(group) => format!("tenure-group:{group}"),
        None => format!("tenure-run:{run}"),
    }
}

fn count(row: &Row, i: usize) -> Result<u64, DbError> {
    row.try_get::<_, i64>(i)
        .map_err(db)
        .map(|n| u64::try_from(n).unwrap_or(0))
}

impl PgConnection {
    fn release_claim(&mut self, source: &str, number: &str, run: &str) -> Result<(), DbError> {
        let delete = prepared(&mut self.statements, &mut self.client, RELEASE_CLAIM)?;
        self.client
            .execute(&delete, &[&number, &source, &run])
            .map(drop)
            .map_err(db)
    }
}

const RELEASE_CLAIM: &str =
    "DELETE FROM tenure_claims WHERE number = $1 AND source = $2 AND run = $3";

impl Connection for PgConnection {
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

    fn join(&mut self, run: &NewRun) -> Result<i64, DbError> {
        let sql = format!(
            "INSERT INTO tenure_runs (id, grp, qps, demand, granted, held, held_until,
                 heartbeat, reserved, ended, sandbox, started_at)
             VALUES ($1, $2, $3, 0, 0, 0, 0, {NOW_MS}, 0, false, $4, $5)
             RETURNING heartbeat"
        );
        self.client
            .query_one(
                &sql,
                &[
                    &run.id,
                    &run.group,
                    &i64::from(run.qps),
                    &run.sandbox,
                    &run.started_ms,
                ],
            )
            .and_then(|row| row.try_get(0))
            .map_err(db)
    }

    fn tick(&mut self, args: &mut TickArgs<'_>) -> Result<Option<Ticked>, DbError> {
        let mut tx = self.client.transaction().map_err(db)?;
        let now = lock(&mut tx, &group_key(args.group, args.run))?;
        let me = tx
            .query_opt(
                &format!("SELECT {RUN_COLUMNS} FROM tenure_runs WHERE id = $1"),
                &[&args.run],
            )
            .map_err(db)?
            .map(|row| member(&row))
            .transpose()?;
        let Some(mut me) = me.filter(|me| me.heartbeat_ms >= now - args.takeover_ms) else {
            return Ok(None);
        };
        me.heartbeat_ms = now;
        me.demand = args.demand;
        let others = match args.group {
            Some(group) => tx
                .query(
                    &format!(
                        "SELECT {RUN_COLUMNS} FROM tenure_runs
                         WHERE grp = $1 AND id <> $2 AND (heartbeat > $3 OR held_until > $4)"
                    ),
                    &[&group, &args.run, &(now - args.takeover_ms), &now],
                )
                .map_err(db)?
                .iter()
                .map(member)
                .collect::<Result<Vec<_>, _>>()?,
            None => Vec::new(),
        };
        let plan = (args.plan)(&me, &others, now);
        tx.execute(
            "UPDATE tenure_runs SET heartbeat = $2, demand = $3, granted = $4, held = $5,
                 held_until = $6 WHERE id = $1",
            &[
                &args.run,
                &now,
                &demand_to_db(args.demand),
                &i64::from(plan.granted),
                &i64::from(plan.held),
                &plan.held_until_ms,
            ],
        )
        .map_err(db)?;
        (args.before_commit)(me.granted, &plan);
        tx.commit().map_err(db)?;
        Ok(Some(Ticked {
            before: me.granted,
            plan,
        }))
    }

    fn claim(
        &mut self,
        source: &str,
        number: &Number,
        run: &str,
        fresh: Fresh,
        takeover_ms: i64,
    ) -> Result<ClaimRow, DbError> {
        let number = number.as_str();
        // The claim first, in one statement: ON CONFLICT locks a claim
        // another run holds and re-reads it, so two runs racing for a
        // number cannot both win. Then the answer, in a later snapshot: a
        // claim found gone was released by the commit that stored its
        // answer, which that snapshot sees.
        let take = prepared(&mut self.statements, &mut self.client, TAKE_CLAIM)?;
        let taken = self
            .client
            .query_opt(&take, &[&number, &source, &run, &takeover_ms])
            .map_err(db)?;
        if taken.is_none() {
            return Ok(ClaimRow::Held);
        }
        let select = prepared(&mut self.statements, &mut self.client, SELECT_ONE)?;
        if let Some(row) = self
            .client
            .query_opt(&select, &[&source, &number, &fresh.cutoff_ms])
            .map_err(db)?
            && let Some((_, stored)) = stored(&row, fresh)?
        {
            self.release_claim(source, number, run)?;
            return Ok(ClaimRow::Answered(stored));
        }
        Ok(ClaimRow::Mine)
    }

    fn release(&mut self, source: &str, number: &Number, run: &str) -> Result<(), DbError> {
        self.release_claim(source, number.as_str(), run)
    }

    fn reserve(&mut self, budget: &Budget<'_>) -> Result<u32, DbError> {
        let mut tx = self.client.transaction().map_err(db)?;
        let now = lock(&mut tx, &group_key(budget.group, budget.run))?;
        let since = now - DAY_MS;
        // One statement, so one snapshot: a ledger entry that commits with
        // its reservation's release is counted once, never zero times.
        let row = match budget.group {
            Some(group) => tx.query_one(
                "SELECT
                   (SELECT count(*) FROM tenure_ledger
                    WHERE grp = $1 AND at > $2 AND outcome = 'billed'),
                   (SELECT coalesce(sum(reserved), 0)::bigint FROM tenure_runs
                    WHERE grp = $1 AND NOT ended AND heartbeat >= $3)",
                &[&group, &since, &(now - budget.takeover_ms)],
            ),
            None => tx.query_one(
                "SELECT
                   (SELECT count(*) FROM tenure_ledger
                    WHERE run = $1 AND at > $2 AND outcome = 'billed'),
                   (SELECT coalesce(sum(reserved), 0)::bigint FROM tenure_runs WHERE id = $1)",
                &[&budget.run, &since],
            ),
        }
        .map_err(db)?;
        let used = count(&row, 0)?.saturating_add(count(&row, 1)?);
        let grant: u32 = budget
            .cap
            .saturating_sub(used)
            .min(u64::from(budget.n))
            .try_into()
            .unwrap_or(budget.n);
        if grant > 0 {
            tx.execute(
                "UPDATE tenure_runs SET reserved = reserved + $2 WHERE id = $1",
                &[&budget.run, &i64::from(grant)],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(grant)
    }

    fn finish(&mut self, run: &str, hold_ms: i64) -> Result<(), DbError> {
        let mut tx = self.client.transaction().map_err(db)?;
        tx.execute(
            &format!(
                "UPDATE tenure_runs SET ended = true, reserved = 0,
                     held = GREATEST(granted, held), held_until = {NOW_MS} + $2, granted = 0
                 WHERE id = $1"
            ),
            &[&run, &hold_ms],
        )
        .map_err(db)?;
        tx.execute("DELETE FROM tenure_claims WHERE run = $1", &[&run])
            .map_err(db)?;
        tx.commit().map_err(db)
    }

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

    fn import(&mut self, batch: &Imported) -> Result<ImportCounts, DbError> {
        let mut tx = self.client.transaction().map_err(db)?;
        let mut counts = ImportCounts::default();
        let from_answers = batch.history.is_empty();
        for row in &batch.answers {
            let previous = latest_success(&mut self.statements, &mut tx, &row.source, &row.number)?;
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
                let entry = HistoryRow {
                    number: row.number.clone(),
                    source: row.source.clone(),
                    answer: row.answer.clone(),
                    first_seen: row.at_ms,
                    last_seen: row.at_ms,
                    change: change.map(str::to_owned),
                };
                counts.history_added += insert_history_once(&mut tx, &entry)?;
            }
        }
        for entry in &batch.history {
            counts.history_added += insert_history_once(&mut tx, entry)?;
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
