//! SQLite: runs, their leases and shares, claims, budget reservations. Every
//! transaction begins IMMEDIATE: the file's write lock serialises them
//! across processes.

use super::super::encoding::{demand_from_db, demand_to_db};
use super::super::{Budget, ClaimRow, DAY_MS, Fresh, NewRun, Runs, TickArgs, Ticked};
use super::answers::{ANSWER_COLUMNS, stored};
use super::{SqliteConnection, db};
use crate::number::Number;
use crate::share::Member;
use crate::store::error::DbError;
use crate::store::now_ms;
use rusqlite::{OptionalExtension, Row, params};

const RUN_COLUMNS: &str = "id, qps, demand, granted, held, held_until, heartbeat, ended";

fn member(row: &Row<'_>) -> rusqlite::Result<Member> {
    Ok(Member {
        run: row.get(0)?,
        qps: row.get(1)?,
        demand: demand_from_db(row.get(2)?),
        granted: row.get(3)?,
        held: row.get(4)?,
        held_until_ms: row.get(5)?,
        heartbeat_ms: row.get(6)?,
        ended: row.get(7)?,
    })
}

impl Runs for SqliteConnection {
    fn join(&mut self, run: &NewRun) -> Result<i64, DbError> {
        let now = now_ms();
        self.conn
            .execute(
                "INSERT INTO tenure_runs (id, grp, qps, demand, granted, held, held_until,
                     heartbeat, reserved, ended, sandbox, started_at)
                 VALUES (?1, ?2, ?3, 0, 0, 0, 0, ?4, 0, 0, ?5, ?6)",
                params![run.id, run.group, run.qps, now, run.sandbox, run.started_ms],
            )
            .map_err(db)?;
        Ok(now)
    }

    fn tick(&mut self, args: &mut TickArgs<'_>) -> Result<Option<Ticked>, DbError> {
        let tx = self.immediate()?;
        let now = now_ms();
        let me = tx
            .query_row(
                &format!("SELECT {RUN_COLUMNS} FROM tenure_runs WHERE id = ?1"),
                [args.run],
                member,
            )
            .optional()
            .map_err(db)?;
        let Some(mut me) = me.filter(|me| me.heartbeat_ms >= now - args.takeover_ms) else {
            return Ok(None);
        };
        me.heartbeat_ms = now;
        me.demand = args.demand;
        let others = match args.group {
            Some(group) => {
                let mut select = tx
                    .prepare_cached(&format!(
                        "SELECT {RUN_COLUMNS} FROM tenure_runs
                         WHERE grp = ?1 AND id != ?2 AND (heartbeat > ?3 OR held_until > ?4)"
                    ))
                    .map_err(db)?;
                select
                    .query_map(
                        params![group, args.run, now - args.takeover_ms, now],
                        member,
                    )
                    .map_err(db)?
                    .collect::<rusqlite::Result<Vec<_>>>()
                    .map_err(db)?
            }
            None => Vec::new(),
        };
        let plan = (args.plan)(&me, &others, now);
        tx.execute(
            "UPDATE tenure_runs SET heartbeat = ?2, demand = ?3, granted = ?4, held = ?5,
                 held_until = ?6 WHERE id = ?1",
            params![
                args.run,
                now,
                demand_to_db(args.demand),
                plan.granted,
                plan.held,
                plan.held_until_ms
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
        // The same order as on PostgreSQL: a live claim of another run
        // first, then a fresh answer, then the claim taken; all under the
        // file's write lock.
        let tx = self.immediate()?;
        let now = now_ms();
        let number = number.as_str();
        let holder: Option<(String, Option<i64>, Option<bool>)> = tx
            .prepare_cached(
                "SELECT c.run, r.heartbeat, r.ended FROM tenure_claims c
                 LEFT JOIN tenure_runs r ON r.id = c.run
                 WHERE c.number = ?1 AND c.source = ?2",
            )
            .and_then(|mut select| {
                select
                    .query_row(params![number, source], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .optional()
            })
            .map_err(db)?;
        if let Some((holder, Some(heartbeat), Some(false))) = holder
            && holder != run
            && heartbeat >= now - takeover_ms
        {
            return Ok(ClaimRow::Held);
        }
        let answered = tx
            .prepare_cached(&format!(
                "SELECT {ANSWER_COLUMNS} FROM tenure_answers
                 WHERE number = ?1 AND source = ?2 AND answered_at > ?3"
            ))
            .and_then(|mut select| {
                select
                    .query_row(params![number, source, fresh.cutoff_ms], |row| {
                        stored(row, 0, fresh)
                    })
                    .optional()
            })
            .map_err(db)?
            .flatten();
        if let Some(stored) = answered {
            return Ok(ClaimRow::Answered(stored));
        }
        tx.prepare_cached(
            "INSERT OR REPLACE INTO tenure_claims (number, source, run, claimed_at)
             VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut insert| insert.execute(params![number, source, run, now]))
        .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(ClaimRow::Mine)
    }

    fn release(&mut self, source: &str, number: &Number, run: &str) -> Result<(), DbError> {
        self.conn
            .prepare_cached(
                "DELETE FROM tenure_claims WHERE number = ?1 AND source = ?2 AND run = ?3",
            )
            .and_then(|mut delete| delete.execute(params![number.as_str(), source, run]))
            .map(drop)
            .map_err(db)
    }

    fn reserve(&mut self, budget: &Budget<'_>) -> Result<u32, DbError> {
        let tx = self.immediate()?;
        let now = now_ms();
        let since = now - DAY_MS;
        let (billed, reserved): (i64, i64) = match budget.group {
            Some(group) => tx.query_row(
                "SELECT
                   (SELECT count(*) FROM tenure_ledger
                    WHERE grp = ?1 AND at > ?2 AND outcome = 'billed'),
                   (SELECT coalesce(sum(reserved), 0) FROM tenure_runs
                    WHERE grp = ?1 AND ended = 0 AND heartbeat >= ?3)",
                params![group, since, now - budget.takeover_ms],
                |row| Ok((row.get(0)?, row.get(1)?)),
            ),
            None => tx.query_row(
                "SELECT
                   (SELECT count(*) FROM tenure_ledger
                    WHERE run = ?1 AND at > ?2 AND outcome = 'billed'),
                   (SELECT coalesce(sum(reserved), 0) FROM tenure_runs WHERE id = ?1)",
                params![budget.run, since],
                |row| Ok((row.get(0)?, row.get(1)?)),
            ),
        }
        .map_err(db)?;
        let used = u64::try_from(billed.max(0) + reserved.max(0)).unwrap_or(u64::MAX);
        let grant = budget
            .cap
            .saturating_sub(used)
            .min(u64::from(budget.n))
            .try_into()
            .unwrap_or(budget.n);
        if grant > 0 {
            tx.execute(
                "UPDATE tenure_runs SET reserved = reserved + ?2 WHERE id = ?1",
                params![budget.run, grant],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        Ok(grant)
    }

    fn finish(&mut self, run: &str, hold_ms: i64) -> Result<(), DbError> {
        let tx = self.immediate()?;
        tx.execute(
            "UPDATE tenure_runs SET ended = 1, reserved = 0, held = max(granted, held),
                 held_until = ?2, granted = 0 WHERE id = ?1",
            params![run, now_ms() + hold_ms],
        )
        .map_err(db)?;
        tx.execute("DELETE FROM tenure_claims WHERE run = ?1", [run])
            .map_err(db)?;
        tx.commit().map_err(db)
    }
}
