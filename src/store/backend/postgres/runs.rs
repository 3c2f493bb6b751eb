//! PostgreSQL: runs, their leases and shares, claims, budget reservations.
//! Heartbeats and reservations of a group take turns on an advisory lock;
//! a claim is one conditional upsert.

use super::super::encoding::{demand_from_db, demand_to_db};
use super::super::{Budget, ClaimRow, DAY_MS, Fresh, NewRun, Runs, TickArgs, Ticked};
use super::answers::{SELECT_ONE, stored};
use super::{NOW_MS, PgConnection, count, db, prepared};
use crate::number::Number;
use crate::share::Member;
use crate::store::error::DbError;
use postgres::Row;

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

const RELEASE_CLAIM: &str =
    "DELETE FROM tenure_claims WHERE number = $1 AND source = $2 AND run = $3";

const RUN_COLUMNS: &str = "id, qps, demand, granted, held, held_until, heartbeat, ended";

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

impl PgConnection {
    fn release_claim(&mut self, source: &str, number: &str, run: &str) -> Result<(), DbError> {
        let delete = prepared(&mut self.statements, &mut self.client, RELEASE_CLAIM)?;
        self.client
            .execute(&delete, &[&number, &source, &run])
            .map(drop)
            .map_err(db)
    }
}

impl Runs for PgConnection {
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
}
