//! The SQLite file's format: the tables of schema version 2, the version
//! check, and the migration of a version-1 file in place.
//!
//! Knows SQL and nothing about threads.

use super::super::SCHEMA_VERSION;
use super::db;
use crate::store::error::DbError;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

const CREATE: &str = "
    CREATE TABLE tenure_meta (
        key TEXT PRIMARY KEY NOT NULL,
        value INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO tenure_meta (key, value) VALUES ('schema_version', 2);
    CREATE TABLE tenure_answers (
        number TEXT NOT NULL,
        source TEXT NOT NULL,
        kind INTEGER NOT NULL,          -- 0 tenure, 1 declined
        code TEXT NOT NULL,
        description TEXT NOT NULL,
        province TEXT NOT NULL,
        city TEXT NOT NULL,
        isp TEXT NOT NULL,
        reason TEXT NOT NULL,
        endpoint TEXT NOT NULL,         -- 'query' or 'queryEncry'
        answered_at INTEGER NOT NULL,   -- unix ms, local clock
        change TEXT,                    -- of the latest arrival; NULL for row answers
        orderid TEXT,
        PRIMARY KEY (number, source)
    ) WITHOUT ROWID;
    CREATE TABLE tenure_history (
        id INTEGER PRIMARY KEY,
        number TEXT NOT NULL,
        source TEXT NOT NULL,
        kind INTEGER NOT NULL,
        code TEXT NOT NULL,
        description TEXT NOT NULL,
        province TEXT NOT NULL,
        city TEXT NOT NULL,
        isp TEXT NOT NULL,
        reason TEXT NOT NULL,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        change TEXT                     -- at the first arrival
    );
    CREATE INDEX tenure_history_number ON tenure_history (number, source, first_seen);
    CREATE INDEX tenure_history_first_seen ON tenure_history (first_seen);
    CREATE TABLE tenure_ledger (
        id INTEGER PRIMARY KEY,
        at INTEGER NOT NULL,
        run TEXT NOT NULL,
        grp TEXT,
        source TEXT NOT NULL,
        endpoint TEXT NOT NULL,
        outcome TEXT NOT NULL,          -- billed, free, unanswered
        code TEXT,
        orderid TEXT
    );
    CREATE INDEX tenure_ledger_at ON tenure_ledger (at);
    CREATE INDEX tenure_ledger_grp ON tenure_ledger (grp, at);
    CREATE TABLE tenure_runs (
        id TEXT PRIMARY KEY NOT NULL,
        grp TEXT,
        qps INTEGER NOT NULL,
        demand REAL NOT NULL,
        granted INTEGER NOT NULL,
        held INTEGER NOT NULL,
        held_until INTEGER NOT NULL,
        heartbeat INTEGER NOT NULL,     -- store clock
        reserved INTEGER NOT NULL,
        ended INTEGER NOT NULL,
        sandbox INTEGER NOT NULL,
        started_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX tenure_runs_grp ON tenure_runs (grp, heartbeat);
    CREATE TABLE tenure_claims (
        number TEXT NOT NULL,
        source TEXT NOT NULL,
        run TEXT NOT NULL,
        claimed_at INTEGER NOT NULL,
        PRIMARY KEY (number, source)
    ) WITHOUT ROWID;
    CREATE INDEX tenure_claims_run ON tenure_claims (run);
";

/// Version 1 to 2: every answer kept, each a first arrival (`new` for a
/// success) with one history entry; the old tables dropped. A billed answer
/// without a code (version 1 kept it as a declined `bad_response`) takes
/// its own kind, as every other writer stores it.
const MIGRATE_V1: &str = "
    INSERT INTO tenure_answers
        (number, source, kind, code, description, province, city, isp, reason,
         endpoint, answered_at, change, orderid)
    SELECT number, source, CASE WHEN kind = 1 AND code = 'bad_response' THEN 2 ELSE kind END,
           code, coalesce(desc, ''), coalesce(province, ''),
           coalesce(city, ''), coalesce(isp, ''), coalesce(reason, ''),
           endpoint, answered_at, CASE kind WHEN 0 THEN 'new' END, NULL
    FROM answers;
    INSERT INTO tenure_history
        (number, source, kind, code, description, province, city, isp, reason,
         first_seen, last_seen, change)
    SELECT number, source, kind, code, description, province, city, isp, reason,
           answered_at, answered_at, change
    FROM tenure_answers;
    DROP TABLE answers;
    DROP TABLE meta;
";

/// What a file holds.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// No table at all: a new file.
    Empty,
    /// A version-1 store (`meta`, `answers`).
    V1,
    /// A store of this version.
    Current,
}

/// Makes a freshly opened read-write connection ready: WAL, the store's
/// tables on a new file, a version-1 file migrated, and the schema version
/// checked on an old one.
pub(crate) fn prepare(conn: &mut Connection) -> Result<(), DbError> {
    // The first statement reads the header: a file that is not SQLite fails
    // here. WAL lets readers run while the writer commits.
    set_wal(conn).map_err(db)?;
    // In WAL mode NORMAL loses at most the last commits on a power cut, never
    // the file, and spares an fsync per commit.
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(db)?;
    // IMMEDIATE: two runs creating or migrating one file at once take turns.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    match check(&tx)? {
        Found::Current => {}
        Found::Empty => tx.execute_batch(CREATE).map_err(db)?,
        Found::V1 => {
            tx.execute_batch(CREATE).map_err(db)?;
            tx.execute_batch(MIGRATE_V1).map_err(db)?;
        }
    }
    tx.commit().map_err(db)
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

/// What the file holds; an error for another program's database or an
/// unknown version.
pub(crate) fn check(conn: &Connection) -> Result<Found, DbError> {
    let table = |name: &str| -> Result<bool, DbError> {
        conn.query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
            [name],
            |_| Ok(()),
        )
        .optional()
        .map(|found| found.is_some())
        .map_err(db)
    };
    let version = |table: &str| -> Result<Option<i64>, DbError> {
        conn.query_row(
            &format!("SELECT value FROM {table} WHERE key = 'schema_version'"),
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(db)
    };
    if table("tenure_meta")? {
        return match version("tenure_meta")? {
            Some(SCHEMA_VERSION) => Ok(Found::Current),
            Some(found) => Err(DbError::UnknownSchema(found)),
            None => Err(foreign()),
        };
    }
    if table("meta")? {
        return match version("meta")? {
            Some(1) if table("answers")? => Ok(Found::V1),
            Some(found) if found != 1 => Err(DbError::UnknownSchema(found)),
            _ => Err(foreign()),
        };
    }
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master", [], |row| row.get(0))
        .map_err(db)?;
    if objects > 0 {
        return Err(foreign());
    }
    Ok(Found::Empty)
}

/// The error for an SQLite file that some other program made.
pub(crate) fn foreign() -> DbError {
    DbError::Corrupt("it is an SQLite database, but not one tenure made".to_owned())
}

/// The version-1 tables, for tests that make a real version-1 file.
#[cfg(test)]
pub(crate) const V1_SCHEMA: &str = "
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
