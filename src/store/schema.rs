//! The file format: the tables, the schema version, and how an [`Answer`]
//! maps to a row and back.
//!
//! Knows SQL and nothing about threads; the store and its writer call it.

use super::StoreError;
use crate::api::{Answer, Endpoint, Tenure};
use crate::number::Number;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The version this build reads and writes; `meta.schema_version` holds it.
pub(super) const SCHEMA_VERSION: i64 = 1;

/// `answers.kind` of a [`Answer::Tenure`].
const KIND_TENURE: i64 = 0;
/// `answers.kind` of a [`Answer::Declined`].
const KIND_DECLINED: i64 = 1;

const CREATE: &str = "
    CREATE TABLE meta (
        key TEXT PRIMARY KEY NOT NULL,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO meta (key, value) VALUES ('schema_version', 1);
    CREATE TABLE answers (
        number TEXT NOT NULL,
        source TEXT NOT NULL,
        kind INTEGER NOT NULL,          -- 0 tenure, 1 declined
        code TEXT NOT NULL,
        desc TEXT,
        province TEXT,
        city TEXT,
        isp TEXT,
        reason TEXT,
        endpoint TEXT NOT NULL,         -- 'query' or 'queryEncry'
        answered_at INTEGER NOT NULL,   -- unix milliseconds
        PRIMARY KEY (number, source)
    ) WITHOUT ROWID;
";

const SELECT_ONE: &str = "
    SELECT kind, code, desc, province, city, isp, reason FROM answers
    WHERE number = ?1 AND source = ?2 AND answered_at > ?3";

const UPSERT: &str = "
    INSERT OR REPLACE INTO answers
        (number, source, kind, code, desc, province, city, isp, reason, endpoint, answered_at)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

const COUNT_FRESH: &str = "SELECT count(*) FROM answers WHERE source = ?1 AND answered_at > ?2";

/// Makes a freshly opened read-write connection ready: WAL, the store's
/// tables on a new file, and the schema version checked on an old one.
pub(super) fn prepare(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let sqlite = |error: rusqlite::Error| StoreError::sqlite(path, &error, true);
    // The first statement reads the header: a file that is not SQLite fails
    // here. WAL lets the reader run while the writer commits; a filesystem
    // without shared memory keeps its old mode, which is slower but correct.
    set_wal(conn).map_err(sqlite)?;
    // In WAL mode NORMAL loses at most the last commits on a power cut, never
    // the file, and spares an fsync per commit.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(sqlite)?;
    // IMMEDIATE: two runs creating one file at once take turns.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    if !check_version(&tx, path)? {
        let objects: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
            .map_err(sqlite)?;
        if objects > 0 {
            return Err(foreign(path));
        }
        tx.execute_batch(CREATE).map_err(sqlite)?;
    }
    tx.commit().map_err(sqlite)
}

/// Switches a connection to WAL. Two runs opening one new file at once may
/// both hold a shared lock and both want the exclusive one the switch needs;
/// SQLite then answers BUSY at once, without waiting through the busy
/// timeout (it would deadlock). So wait here: briefly, at random, and again.
fn set_wal(conn: &Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + super::BUSY_TIMEOUT;
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |row| {
            row.get::<_, String>(0)
        }) {
            Err(rusqlite::Error::SqliteFailure(error, _))
                if error.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(fastrand::u64(2..20)));
            }
            other => return other.map(drop),
        }
    }
}

/// Checks the schema version of an existing store. `Ok(false)` when the file
/// has no `meta` table at all (a new, empty file, or not a store).
pub(super) fn check_version(conn: &Connection, path: &Path) -> Result<bool, StoreError> {
    let sqlite = |error: rusqlite::Error| StoreError::sqlite(path, &error, false);
    let has_meta = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
            [],
            |_| Ok(()),
        )
        .optional()
        .map_err(sqlite)?
        .is_some();
    if !has_meta {
        return Ok(false);
    }
    let found: Option<i64> = conn
        .query_row(
            "SELECT value FROM meta WHERE key = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(sqlite)?;
    match found {
        Some(SCHEMA_VERSION) => Ok(true),
        Some(found) => Err(StoreError::UnknownSchema {
            path: path.to_owned(),
            found,
            expected: SCHEMA_VERSION,
        }),
        None => Err(foreign(path)),
    }
}

/// The error for an SQLite file that some other program made.
pub(super) fn foreign(path: &Path) -> StoreError {
    StoreError::Corrupt {
        path: path.to_owned(),
        detail: "it is an SQLite database, but not one tenure made".to_owned(),
    }
}

/// The answer for one number from one source that arrived after `cutoff`.
pub(super) fn lookup(
    conn: &Connection,
    number: &Number,
    source: &str,
    cutoff: i64,
) -> rusqlite::Result<Option<Answer>> {
    conn.prepare_cached(SELECT_ONE)?
        .query_row(params![number.as_str(), source, cutoff], answer_from_row)
        .optional()
}

/// Fills each empty slot of `answers` with [`lookup`] of the number at the
/// same place, all in one read transaction.
pub(super) fn lookup_missing(
    conn: &mut Connection,
    numbers: &[Number],
    answers: &mut [Option<Answer>],
    source: &str,
    cutoff: i64,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    for (number, slot) in numbers.iter().zip(answers) {
        if slot.is_none() {
            *slot = lookup(&tx, number, source, cutoff)?;
        }
    }
    tx.commit()
}

/// How many answers from `source` arrived after `cutoff`.
pub(super) fn count_fresh(conn: &Connection, source: &str, cutoff: i64) -> rusqlite::Result<u64> {
    conn.prepare_cached(COUNT_FRESH)?
        .query_row(params![source, cutoff], |row| row.get(0))
}

/// Writes one answer, replacing any older one for the same number and source.
pub(super) fn upsert(
    conn: &Connection,
    source: &str,
    number: &Number,
    answer: &Answer,
    endpoint: Endpoint,
    answered_at: i64,
) -> rusqlite::Result<()> {
    let endpoint = match endpoint {
        Endpoint::Plain => "query",
        Endpoint::Encrypted => "queryEncry",
    };
    let mut insert = conn.prepare_cached(UPSERT)?;
    match answer {
        Answer::Tenure(Tenure {
            code,
            desc,
            province,
            city,
            isp,
        }) => insert.execute(params![
            number.as_str(),
            source,
            KIND_TENURE,
            code,
            desc,
            province,
            city,
            isp,
            None::<&str>,
            endpoint,
            answered_at
        ])?,
        Answer::Declined { code, reason } => insert.execute(params![
            number.as_str(),
            source,
            KIND_DECLINED,
            code.to_string(),
            None::<&str>,
            None::<&str>,
            None::<&str>,
            None::<&str>,
            reason,
            endpoint,
            answered_at
        ])?,
        // Version 1 stores these as a declined `bad_response`.
        Answer::BilledWithoutCode { reason } => insert.execute(params![
            number.as_str(),
            source,
            KIND_DECLINED,
            crate::api::BILLED_WITHOUT_CODE,
            None::<&str>,
            None::<&str>,
            None::<&str>,
            None::<&str>,
            reason,
            endpoint,
            answered_at
        ])?,
    };
    Ok(())
}

fn answer_from_row(row: &Row<'_>) -> rusqlite::Result<Answer> {
    let text = |index: usize| {
        row.get::<_, Option<String>>(index)
            .map(Option::unwrap_or_default)
    };
    let code: String = row.get(1)?;
    match row.get(0)? {
        KIND_TENURE => Ok(Answer::Tenure(Tenure {
            code,
            desc: text(2)?,
            province: text(3)?,
            city: text(4)?,
            isp: text(5)?,
        })),
        KIND_DECLINED if code == crate::api::BILLED_WITHOUT_CODE => {
            Ok(Answer::BilledWithoutCode { reason: text(6)? })
        }
        KIND_DECLINED => Ok(Answer::Declined {
            code: code.parse().map_err(|_| {
                rusqlite::Error::InvalidColumnType(1, code, rusqlite::types::Type::Text)
            })?,
            reason: text(6)?,
        }),
        other => Err(rusqlite::Error::IntegralValueOutOfRange(0, other)),
    }
}

/// Now, in unix milliseconds (0 on a clock set before 1970).
pub(super) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// The oldest `answered_at` that is still too old: answers strictly after
/// it arrived less than `max_age` ago. `Duration::ZERO` accepts nothing.
pub(super) fn cutoff(max_age: Duration) -> i64 {
    let max_age = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
    now_ms().saturating_sub(max_age)
}
