//! The SQLite variant: an embedded file, the default store.
//!
//! Every connection opens the file without following a symlink, in WAL
//! mode with a 5 s busy timeout, so that runs sharing the file take turns
//! rather than fail. Transactions that write begin IMMEDIATE: they take the
//! file's write lock first, which also serialises heartbeats, claims and
//! reservations across processes. The store's clock is this host's.

mod answers;
mod import;
mod runs;
pub(crate) mod schema;
mod tend;

pub(crate) use import::ImportReader;

use super::{Backend, Connection, Purpose};
use crate::store::error::DbError;
use rusqlite::{OpenFlags, TransactionBehavior};
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
    // again. A run has two read connections (`Store::query`): 8 MiB each
    // hold about 200,000 answers between them.
    let cache_kib = if write { 16 * 1024 } else { 8 * 1024 };
    conn.pragma_update(None, "cache_size", -cache_kib)
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

pub(super) struct SqliteConnection {
    pub(super) conn: rusqlite::Connection,
}

impl SqliteConnection {
    pub(super) fn immediate(&mut self) -> Result<rusqlite::Transaction<'_>, DbError> {
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)
    }
}
