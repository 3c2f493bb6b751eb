//! The SQLite variant: an embedded file, the default store.
//!
//! Every connection opens the file without following a symlink, in WAL
//! mode with a 5 s busy timeout, so that runs sharing the file take turns
//! rather than fail. Transactions that write begin IMMEDIATE: they take the
//! file's write lock first, which also serialises heartbeats, claims and
//! reservations across processes. The store's clock is this host's.

pub(crate) mod schema;

use super::{
    AnswerWrite, Backend, Budget, ClaimRow, Connection, DAY_MS, Fresh, HistoryRow, Imported,
    LedgerWrite, NewRun, PurgeWhat, Purpose, TickArgs, Ticked, UsageCount, UsageKey, UsageKeyValue,
    Write, answer, columns, demand_from_db, demand_to_db, endpoint_name, imported_change,
};
use crate::api::{Answer, Tenure};
use crate::change::Change;
use crate::number::Number;
use crate::share::Member;
use crate::store::error::DbError;
use crate::store::{ChangeRow, ExportRow, ImportCounts, Removed, Stats, Stored, now_ms};
use rusqlite::{OpenFlags, OptionalExtension, Row, TransactionBehavior, params};
use std::path::PathBuf;
use std::time::Duration;

/// How long a connection waits for another run's lock before failing.
pub(crate) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens connections to one SQLite file.
pub(crate) struct Sqlite {
    pub path: PathBuf,
}

impl Backend for Sqlite {
    fn connect(&self, purpose: Purpose) -> Result<Box<dyn Connection>, DbError> {
        Ok(Box::new(SqliteConnection {
            conn: open(&self.path, purpose != Purpose::Read)?,
        }))
    }
}

/// Opens the file with the busy timeout set, never through a symlink.
pub(crate) fn open(path: &std::path::Path, write: bool) -> Result<rusqlite::Connection, DbError> {
    let access = if write {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    } else {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    };
    // NO_MUTEX: each connection is used by one thread at a time (behind a
    // mutex, or owned by its thread), which Rust checks.
    let flags = access | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_NOFOLLOW;
    let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(db_access(write))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(db_access(write))?;
    // Every row of a rerun asks the store; with SQLite's default 2 MiB cache
    // most look-ups of a large store would read their page from the OS
    // again. 16 MiB holds about 200,000 answers.
    conn.pragma_update(None, "cache_size", -16 * 1024)
        .map_err(db_access(write))?;
    if write {
        // Per connection. In WAL mode NORMAL loses at most the last commits
        // on a power cut, never the file, and spares an fsync per commit
        // (group commits, claims, heartbeats).
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
    }
    Ok(conn)
}

/// Sorts an SQLite error into what tells the user what to do.
pub(crate) fn db(error: rusqlite::Error) -> DbError {
    db_access(true)(error)
}

fn db_access(write: bool) -> impl Fn(rusqlite::Error) -> DbError {
    move |error| {
        use rusqlite::ErrorCode as Code;
        let detail = error.to_string();
        match error.sqlite_error_code() {
            Some(Code::NotADatabase | Code::DatabaseCorrupt) => DbError::Corrupt(detail),
            Some(Code::CannotOpen | Code::ReadOnly | Code::PermissionDenied | Code::DiskFull) => {
                if write {
                    DbError::NotWritable(detail)
                } else {
                    DbError::Unreadable(detail)
                }
            }
            // A stored value that does not decode: the file was altered.
            _ if matches!(
                error,
                rusqlite::Error::FromSqlConversionFailure(..)
                    | rusqlite::Error::InvalidColumnType(..)
                    | rusqlite::Error::IntegralValueOutOfRange(..)
            ) =>
            {
                DbError::Corrupt(detail)
            }
            _ => DbError::Other(detail),
        }
    }
}

struct SqliteConnection {
    conn: rusqlite::Connection,
}

const ANSWER_COLUMNS: &str =
    "kind, code, description, province, city, isp, reason, change, answered_at";

const LATEST_SUCCESS: &str = "
    SELECT code, description, province, city, isp FROM tenure_history
    WHERE number = ?1 AND source = ?2 AND kind = 0
    ORDER BY first_seen DESC, id DESC LIMIT 1";

const UPSERT_ANSWER: &str = "
    INSERT OR REPLACE INTO tenure_answers
        (number, source, kind, code, description, province, city, isp, reason,
         endpoint, answered_at, change, orderid)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)";

const LATEST_ENTRY: &str = "
    SELECT id, kind, code, description, province, city, isp, reason FROM tenure_history
    WHERE number = ?1 AND source = ?2 ORDER BY first_seen DESC, id DESC LIMIT 1";

const INSERT_HISTORY: &str = "
    INSERT INTO tenure_history
        (number, source, kind, code, description, province, city, isp, reason,
         first_seen, last_seen, change)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

const INSERT_LEDGER: &str = "
    INSERT INTO tenure_ledger (at, run, grp, source, endpoint, outcome, code, orderid)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

const RUN_COLUMNS: &str = "id, qps, demand, granted, held, held_until, heartbeat, ended";

/// A stored answer from `ANSWER_COLUMNS` at `offset`.
fn stored(row: &Row<'_>, offset: usize, fresh: Fresh) -> rusqlite::Result<Option<Stored>> {
    let kind: i64 = row.get(offset)?;
    let code: String = row.get(offset + 1)?;
    let at: i64 = row.get(offset + 8)?;
    if !fresh.accepts(&code, at) {
        return Ok(None);
    }
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
    Ok(Some(Stored {
        change: change.as_deref().and_then(Change::parse),
        answer,
        answered_at_ms: at,
        this_run: at >= fresh.opened_ms,
    }))
}

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

fn latest_success(
    conn: &rusqlite::Connection,
    source: &str,
    number: &str,
) -> rusqlite::Result<Option<Tenure>> {
    conn.prepare_cached(LATEST_SUCCESS)?
        .query_row(params![number, source], |row| {
            Ok(Tenure {
                code: row.get(0)?,
                desc: row.get(1)?,
                province: row.get(2)?,
                city: row.get(3)?,
                isp: row.get(4)?,
            })
        })
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

impl SqliteConnection {
    fn immediate(&mut self) -> Result<rusqlite::Transaction<'_>, DbError> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)
    }
}

impl Connection for SqliteConnection {
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
        latest_success(&self.conn, source, number.as_str()).map_err(db)
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

    fn import(&mut self, batch: &Imported) -> Result<ImportCounts, DbError> {
        let tx = self.immediate()?;
        let mut counts = ImportCounts::default();
        for row in &batch.answers {
            import_answer(&tx, row, &mut counts, batch.history.is_empty()).map_err(db)?;
        }
        for entry in &batch.history {
            if insert_history_once(&tx, entry).map_err(db)? {
                counts.history_added += 1;
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
                    "DELETE FROM tenure_answers WHERE answered_at < ?1",
                    [before],
                ),
                tx.execute("DELETE FROM tenure_history WHERE last_seen < ?1", [before]),
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
    let tenure = |at: usize| -> rusqlite::Result<Tenure> {
        Ok(Tenure {
            code: row.get(at)?,
            desc: row.get(at + 1)?,
            province: row.get(at + 2)?,
            city: row.get(at + 3)?,
            isp: row.get(at + 4)?,
        })
    };
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
    row: &super::ImportedAnswer,
    counts: &mut ImportCounts,
    history: bool,
) -> rusqlite::Result<()> {
    let previous = latest_success(tx, &row.source, &row.number)?;
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
        let entry = HistoryRow {
            number: row.number.clone(),
            source: row.source.clone(),
            answer: row.answer.clone(),
            first_seen: row.at_ms,
            last_seen: row.at_ms,
            change: change.map(str::to_owned),
        };
        if insert_history_once(tx, &entry)? {
            counts.history_added += 1;
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
             AND first_seen = ?3 AND kind = ?4 AND code = ?5",
            params![entry.number, entry.source, entry.first_seen, kind, code],
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

/// Reads another SQLite store (version 1 or 2) for an import.
pub(crate) fn read_for_import(path: &std::path::Path) -> Result<Imported, DbError> {
    let conn = open(path, false)?;
    let found = schema::check(&conn)?;
    let mut imported = Imported::default();
    let (table, desc) = match found {
        schema::Found::Empty => return Ok(imported),
        schema::Found::V1 => ("answers", "desc"),
        schema::Found::Current => ("tenure_answers", "description"),
    };
    let orderid = if found == schema::Found::V1 {
        "NULL"
    } else {
        "orderid"
    };
    let sql = format!(
        "SELECT number, source, kind, code, coalesce({desc}, ''), coalesce(province, ''),
                coalesce(city, ''), coalesce(isp, ''), coalesce(reason, ''), endpoint,
                answered_at, {orderid}
         FROM {table}"
    );
    let mut select = conn.prepare(&sql).map_err(db)?;
    let mut rows = select.query([]).map_err(db)?;
    while let Some(row) = rows.next().map_err(db)? {
        let kind: i64 = row.get(2).map_err(db)?;
        let get = |i: usize| row.get::<_, String>(i).map_err(db);
        let Some(answer) = answer(kind, get(3)?, get(4)?, get(5)?, get(6)?, get(7)?, get(8)?)
        else {
            return Err(DbError::Corrupt(format!(
                "an answer of unknown kind {kind}"
            )));
        };
        imported.answers.push(super::ImportedAnswer {
            number: get(0)?,
            source: get(1)?,
            answer,
            endpoint: get(9)?,
            at_ms: row.get(10).map_err(db)?,
            orderid: row.get(11).map_err(db)?,
        });
    }
    drop(rows);
    if found == schema::Found::Current {
        let mut select = conn
            .prepare(
                "SELECT number, source, kind, code, description, province, city, isp, reason,
                        first_seen, last_seen, change FROM tenure_history ORDER BY id",
            )
            .map_err(db)?;
        let mut rows = select.query([]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let kind: i64 = row.get(2).map_err(db)?;
            let get = |i: usize| row.get::<_, String>(i).map_err(db);
            let Some(answer) = answer(kind, get(3)?, get(4)?, get(5)?, get(6)?, get(7)?, get(8)?)
            else {
                return Err(DbError::Corrupt(format!(
                    "a history entry of unknown kind {kind}"
                )));
            };
            imported.history.push(HistoryRow {
                number: get(0)?,
                source: get(1)?,
                answer,
                first_seen: row.get(9).map_err(db)?,
                last_seen: row.get(10).map_err(db)?,
                change: row.get(11).map_err(db)?,
            });
        }
    }
    Ok(imported)
}
