//! What can go wrong with the result store, said so that the user knows
//! which store is at fault and what to do about it.
//!
//! Messages name the store (a file's path, or a URL without its password),
//! never a phone number: neither SQLite's nor PostgreSQL's messages quote
//! bound values, and the store adds none.

use std::path::Path;

/// A failure of the result store. Every message names the store and ends
/// with what the user can do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `--cache` or `TENURE_CACHE` is not a usable location.
    #[error("{store} is not a usable store location ({detail}). Pass another --cache.")]
    BadLocation { store: String, detail: String },

    /// The file is not SQLite, is damaged, or is another program's database.
    #[error(
        "{store} is not a tenure result store, or it is damaged ({detail}). \
         Move it aside, or pass another --cache file."
    )]
    Corrupt { store: String, detail: String },

    /// A tenure store of a schema version this build does not know.
    #[error(
        "{store} is a tenure result store of schema version {found}, but this tenure \
         reads version {expected}. Upgrade tenure, or move the file aside, or \
         pass another --cache file."
    )]
    UnknownSchema {
        store: String,
        found: i64,
        expected: i64,
    },

    /// The file or its folder cannot be created, opened for writing, or
    /// written (permissions, a missing folder, a full disk, a symlink).
    #[error(
        "cannot create or write the result store {store} ({detail}). Fix the \
         permissions of the file and its folder or free disk space, or pass \
         another --cache file."
    )]
    NotWritable { store: String, detail: String },

    /// A store opened read-only cannot be read.
    #[error(
        "cannot read the result store {store} ({detail}). Fix its permissions, or \
         pass another --cache file."
    )]
    Unreadable { store: String, detail: String },

    /// A read-only open of a file that does not exist.
    #[error(
        "the result store {store} does not exist. Check the --cache path; \
         `tenure enrich` creates the store on its first run."
    )]
    Missing { store: String },

    /// The database server cannot be reached or refused the login.
    #[error(
        "cannot connect to the result store {store} ({detail}). Check that the \
         server is up, the URL, the password (PGPASSWORD) and sslmode."
    )]
    Unreachable { store: String, detail: String },

    /// A write on a store opened with
    /// [`Store::open_read_only`](super::Store::open_read_only): a bug in the
    /// caller, not something the user did.
    #[error("the result store {store} was opened read-only and cannot record answers.")]
    ReadOnly { store: String },

    /// Any other database failure.
    #[error(
        "the result store {store} failed ({detail}). If this persists, move the \
         file aside or pass another --cache file."
    )]
    Database { store: String, detail: String },

    /// The background writer stopped; answers it committed before are kept.
    #[error(
        "writing the result store {store} failed ({message}). Answers committed \
         before this are kept; free disk space or fix permissions, then rerun."
    )]
    WriterFailed { store: String, message: String },
}

impl StoreError {
    /// An I/O failure on the store file itself, before SQLite sees it.
    pub(super) fn io(path: &Path, error: &std::io::Error, writable: bool) -> StoreError {
        let store = path.display().to_string();
        let detail = error.to_string();
        if writable {
            StoreError::NotWritable { store, detail }
        } else {
            StoreError::Unreadable { store, detail }
        }
    }
}

/// A failure inside a backend, before it is told which store it concerns.
/// The backends sort their errors into these; [`DbError::named`] makes the
/// user-facing [`StoreError`].
#[derive(Debug)]
pub(crate) enum DbError {
    Corrupt(String),
    UnknownSchema(i64),
    NotWritable(String),
    Unreadable(String),
    Unreachable(String),
    Other(String),
}

impl DbError {
    pub(crate) fn named(self, store: &str) -> StoreError {
        let store = store.to_owned();
        match self {
            DbError::Corrupt(detail) => StoreError::Corrupt { store, detail },
            DbError::UnknownSchema(found) => StoreError::UnknownSchema {
                store,
                found,
                expected: super::SCHEMA_VERSION,
            },
            DbError::NotWritable(detail) => StoreError::NotWritable { store, detail },
            DbError::Unreadable(detail) => StoreError::Unreadable { store, detail },
            DbError::Unreachable(detail) => StoreError::Unreachable { store, detail },
            DbError::Other(detail) => StoreError::Database { store, detail },
        }
    }

    /// The text of any variant, for the writer's and heartbeat's records.
    pub(crate) fn detail(&self) -> String {
        match self {
            DbError::UnknownSchema(found) => format!("schema version {found}"),
            DbError::Corrupt(detail)
            | DbError::NotWritable(detail)
            | DbError::Unreadable(detail)
            | DbError::Unreachable(detail)
            | DbError::Other(detail) => detail.clone(),
        }
    }
}

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail())
    }
}
