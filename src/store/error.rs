//! What can go wrong with the result store, said so that the user knows
//! which file is at fault and what to do about it.
//!
//! Messages name the file, never a phone number: SQLite's own messages
//! quote no bound values, and the store adds none.

use std::path::{Path, PathBuf};

/// A failure of the result store. Every message names the file and ends
/// with what the user can do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file is not SQLite, is damaged, or is another program's database.
    #[error(
        "{} is not a tenure result store, or it is damaged ({detail}). \
         Move it aside, or pass another --cache file.",
        .path.display()
    )]
    Corrupt { path: PathBuf, detail: String },

    /// A tenure store of a schema version this build does not know.
    #[error(
        "{} is a tenure result store of schema version {found}, but this tenure \
         reads version {expected}. Upgrade tenure, or move the file aside, or \
         pass another --cache file.",
        .path.display()
    )]
    UnknownSchema {
        path: PathBuf,
        found: i64,
        expected: i64,
    },

    /// The file or its folder cannot be created, opened for writing, or
    /// written (permissions, a missing folder, a full disk).
    #[error(
        "cannot create or write the result store {} ({detail}). Fix the \
         permissions of the file and its folder or free disk space, or pass \
         another --cache file.",
        .path.display()
    )]
    NotWritable { path: PathBuf, detail: String },

    /// A store opened read-only cannot be read.
    #[error(
        "cannot read the result store {} ({detail}). Fix its permissions, or \
         pass another --cache file.",
        .path.display()
    )]
    Unreadable { path: PathBuf, detail: String },

    /// A read-only open of a file that does not exist.
    #[error(
        "the result store {} does not exist. Check the --cache path; \
         `tenure enrich` creates the store on its first run.",
        .path.display()
    )]
    Missing { path: PathBuf },

    /// `put` on a store opened with [`Store::open_read_only`](super::Store::open_read_only):
    /// a bug in the caller, not something the user did.
    #[error("the result store {} was opened read-only and cannot record answers.", .path.display())]
    ReadOnly { path: PathBuf },

    /// Any other SQLite failure.
    #[error(
        "the result store {} failed ({detail}). If this persists, move the \
         file aside or pass another --cache file.",
        .path.display()
    )]
    Sqlite { path: PathBuf, detail: String },

    /// The background writer stopped; answers it committed before are kept.
    #[error(
        "writing the result store {} failed ({message}). Answers committed \
         before this are kept; free disk space or fix permissions, then rerun.",
        .path.display()
    )]
    WriterFailed { path: PathBuf, message: String },
}

impl StoreError {
    /// Sorts an SQLite error into the variant that tells the user what to
    /// do. `writable` says whether the store was opened to write, which
    /// decides how an access failure reads.
    pub(super) fn sqlite(path: &Path, error: &rusqlite::Error, writable: bool) -> StoreError {
        use rusqlite::ErrorCode as Code;
        let path = path.to_owned();
        let detail = error.to_string();
        match error.sqlite_error_code() {
            Some(Code::NotADatabase | Code::DatabaseCorrupt) => {
                StoreError::Corrupt { path, detail }
            }
            Some(Code::CannotOpen | Code::ReadOnly | Code::PermissionDenied | Code::DiskFull) => {
                if writable {
                    StoreError::NotWritable { path, detail }
                } else {
                    StoreError::Unreadable { path, detail }
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
                StoreError::Corrupt { path, detail }
            }
            _ => StoreError::Sqlite { path, detail },
        }
    }

    /// An I/O failure on the store file itself, before SQLite sees it.
    pub(super) fn io(path: &Path, error: &std::io::Error, writable: bool) -> StoreError {
        let path = path.to_owned();
        let detail = error.to_string();
        if writable {
            StoreError::NotWritable { path, detail }
        } else {
            StoreError::Unreadable { path, detail }
        }
    }
}
