//! The result store (DESIGN §4): an SQLite file of final answers, asked
//! before a number is sent and told every final answer that arrives. One
//! mechanism gives three things: duplicates in a run cost one query, a rerun
//! after a crash or a fatal stop bills nothing twice, and nightly runs reuse
//! answers younger than `--max-age`.
//!
//! It owns the file: its permissions (0600 at creation), its format
//! (`schema`), and when answers reach the disk (`writer`). Answers are keyed
//! by number and *source* (`sandbox` or the endpoint's base URL), so
//! simulated answers never leak into a real run.
//!
//! It must not decide what is final (the caller puts only final answers,
//! never retryable failures), and it never sees the API key or the openid:
//! it holds numbers and answers only. Its errors never quote a number.

mod error;
mod schema;
#[cfg(test)]
mod tests;
mod writer;

pub use error::StoreError;

use crate::api::{Answer, Endpoint};
use crate::number::Number;
use rusqlite::{Connection, OpenFlags};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use writer::Writer;

/// How long a connection waits for another run's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The result store. `Send + Sync`: one thread reads, many put.
///
/// Reads go through one connection behind a mutex (the pipeline reads from
/// one thread, so it is never contended); writes go to a background thread
/// that owns its own connection. Dropping the store commits what was put;
/// [`Store::close`] does the same and reports a failure.
pub struct Store {
    // Fields drop in this order: the reader closes, then the writer commits
    // and closes the last connection, which checkpoints the WAL into the
    // file and removes it; then a temporary folder goes.
    reader: Mutex<Connection>,
    /// `None` for a read-only store.
    writer: Option<Writer>,
    source: String,
    /// The database file, named in every error.
    file: PathBuf,
    /// Set for a temporary store: its private folder, removed on drop.
    temporary: Option<TempDir>,
    /// When this store was opened (unix ms): answers that arrived since
    /// belong to this run and are fresh whatever `max_age` says, so a run
    /// longer than `--max-age` never asks a duplicate twice.
    opened_ms: i64,
}

impl Store {
    /// Opens the store file at `path`, creating it (mode 0600) if needed.
    ///
    /// The file is created with mode 0600 before SQLite opens it; an existing
    /// file keeps its mode (never loosened). WAL journal, `synchronous =
    /// NORMAL`, and a 5 s busy timeout, so two runs sharing one file take
    /// turns instead of failing. `source` names where answers come from
    /// (`"sandbox"` or the endpoint's base URL, e.g. `"https://v.juhe.cn"`):
    /// lookups return only answers from the same source.
    ///
    /// Fails with [`StoreError::Corrupt`] for a file that is not a tenure
    /// store, [`StoreError::UnknownSchema`] for another schema version, and
    /// [`StoreError::NotWritable`] when the file or its folder cannot be
    /// written.
    pub fn open(path: &Path, source: &str) -> Result<Store, StoreError> {
        create_private(path)?;
        let mut conn = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE, true)?;
        schema::prepare(&mut conn, path)?;
        Store::start(path, source, conn, None)
    }

    /// Opens an existing store read-only (for `tenure check`). A missing
    /// file is [`StoreError::Missing`]; [`Store::put`] on it is an error.
    pub fn open_read_only(path: &Path, source: &str) -> Result<Store, StoreError> {
        match std::fs::metadata(path) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::Missing {
                    path: path.to_owned(),
                });
            }
            Err(error) => return Err(StoreError::io(path, &error, false)),
            Ok(_) => {}
        }
        let reader = connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY, false)?;
        if !schema::check_version(&reader, path)? {
            return Err(schema::foreign(path));
        }
        Ok(Store {
            writer: None,
            reader: Mutex::new(reader),
            source: source.to_owned(),
            file: path.to_owned(),
            temporary: None,
            opened_ms: schema::now_ms(),
        })
    }

    /// A store in a private temporary folder, removed when the store is
    /// dropped. For `--no-cache`: duplicates within one run are still asked
    /// once, and memory does not grow with the input.
    pub fn temporary(source: &str) -> Result<Store, StoreError> {
        let folder = TempDir::create()?;
        let path = folder.0.join("answers.sqlite");
        create_private(&path)?;
        let mut conn = connect(&path, OpenFlags::SQLITE_OPEN_READ_WRITE, true)?;
        schema::prepare(&mut conn, &path)?;
        Store::start(&path, source, conn, Some(folder))
    }

    /// Starts the writer on `conn` and opens the reader.
    fn start(
        path: &Path,
        source: &str,
        conn: Connection,
        temporary: Option<TempDir>,
    ) -> Result<Store, StoreError> {
        let reader = connect(path, OpenFlags::SQLITE_OPEN_READ_ONLY, false)?;
        // Every row of a rerun asks the store; with SQLite's default 2 MiB
        // cache most look-ups of a large store would read their page from
        // the OS again. 16 MiB holds about 200,000 answers and bounds the
        // memory the cache may take.
        reader
            .pragma_update(None, "cache_size", -16 * 1024)
            .map_err(|e| StoreError::sqlite(path, &e, false))?;
        let writer =
            Writer::spawn(conn, source.to_owned()).map_err(|error| StoreError::WriterFailed {
                path: path.to_owned(),
                message: error.to_string(),
            })?;
        Ok(Store {
            writer: Some(writer),
            reader: Mutex::new(reader),
            source: source.to_owned(),
            file: path.to_owned(),
            temporary,
            opened_ms: schema::now_ms(),
        })
    }

    /// The final answer for `number` from this store's source, if it arrived
    /// less than `max_age` ago (`Duration::ZERO` finds nothing).
    ///
    /// Answers put but not yet committed are found too, so a duplicate never
    /// misses an answer that is on its way to disk. One hash lookup, then
    /// one cached prepared statement on the primary key.
    pub fn get(&self, number: &Number, max_age: Duration) -> Result<Option<Answer>, StoreError> {
        let cutoff = self.cutoff(max_age);
        // Pending first: an answer leaves the pending map only after its
        // commit, so one that is not there now is either committed, and the
        // query below sees it, or not put yet.
        if let Some(answer) = self.writer.as_ref().and_then(|w| w.pending(number, cutoff)) {
            return Ok(Some(answer));
        }
        schema::lookup(&self.reader(), number, &self.source, cutoff).map_err(|e| self.error(&e))
    }

    /// [`Store::get`] for a batch, in the same order, in one read
    /// transaction: the pipeline's fast path for reruns.
    pub fn get_many(
        &self,
        numbers: &[Number],
        max_age: Duration,
    ) -> Result<Vec<Option<Answer>>, StoreError> {
        let cutoff = self.cutoff(max_age);
        let mut answers = match &self.writer {
            Some(writer) => writer.pending_many(numbers, cutoff),
            None => vec![None; numbers.len()],
        };
        if answers.iter().all(Option::is_some) {
            return Ok(answers);
        }
        // The transaction's snapshot starts after the pending check above,
        // so an answer that was not pending then is in it (see `get`).
        schema::lookup_missing(
            &mut self.reader(),
            numbers,
            &mut answers,
            &self.source,
            cutoff,
        )
        .map_err(|e| self.error(&e))?;
        Ok(answers)
    }

    /// Records a final answer with the endpoint it came from and the current
    /// time, replacing any older answer for the number from this source.
    ///
    /// Returns at once: the writer commits in small groups (see `writer`),
    /// so a `kill -9` loses at most the last few milliseconds of answers.
    /// Fails with [`StoreError::WriterFailed`] once the writer has failed
    /// (a full disk, say), and [`StoreError::ReadOnly`] on a read-only store.
    pub fn put(
        &self,
        number: Number,
        answer: &Answer,
        endpoint: Endpoint,
    ) -> Result<(), StoreError> {
        self.writer()?
            .put(number, answer, endpoint, schema::now_ms())
            .map_err(|message| self.writer_failed(message))
    }

    /// Blocks until everything put so far is committed. A no-op on a
    /// read-only store.
    pub fn flush(&self) -> Result<(), StoreError> {
        match &self.writer {
            Some(writer) => writer
                .flush()
                .map_err(|message| self.writer_failed(message)),
            None => Ok(()),
        }
    }

    /// Commits everything put, stops the writer and reports its failure, if
    /// any. Dropping the store commits too, but stays silent.
    pub fn close(self) -> Result<(), StoreError> {
        let Store {
            reader,
            writer,
            file,
            temporary,
            ..
        } = self;
        // The writer's connection closes last: see the field order.
        drop(reader);
        let outcome = match writer {
            Some(writer) => writer.finish().map_err(|message| StoreError::WriterFailed {
                path: file,
                message,
            }),
            None => Ok(()),
        };
        drop(temporary);
        outcome
    }

    /// The store's file; `None` for a temporary store.
    pub fn path(&self) -> Option<&Path> {
        match self.temporary {
            Some(_) => None,
            None => Some(&self.file),
        }
    }

    /// How many committed answers from this store's source arrived less
    /// than `max_age` ago, over the whole file (for `tenure check`'s cost
    /// estimate; use [`Store::get_many`] for particular numbers). Scans the
    /// table once; answers still pending are not counted, so
    /// [`Store::flush`] first if they matter.
    pub fn count_fresh(&self, max_age: Duration) -> Result<u64, StoreError> {
        let cutoff = schema::cutoff(max_age);
        schema::count_fresh(&self.reader(), &self.source, cutoff).map_err(|e| self.error(&e))
    }

    /// Answers that arrived after this instant (unix ms) are fresh: younger
    /// than `max_age`, or from this run.
    fn cutoff(&self, max_age: Duration) -> i64 {
        schema::cutoff(max_age).min(self.opened_ms - 1)
    }

    fn reader(&self) -> MutexGuard<'_, Connection> {
        // A panic while reading leaves the connection usable: SQLite ends the
        // statement when rusqlite drops it.
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn writer(&self) -> Result<&Writer, StoreError> {
        self.writer.as_ref().ok_or_else(|| StoreError::ReadOnly {
            path: self.file.clone(),
        })
    }

    fn error(&self, error: &rusqlite::Error) -> StoreError {
        StoreError::sqlite(&self.file, error, false)
    }

    fn writer_failed(&self, message: String) -> StoreError {
        StoreError::WriterFailed {
            path: self.file.clone(),
            message,
        }
    }
}

/// Shows the file and the source; never an answer or a number.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("file", &self.file)
            .field("source", &self.source)
            .field("read_only", &self.writer.is_none())
            .field("temporary", &self.temporary.is_some())
            .finish()
    }
}

/// Creates the file with mode 0600 if it does not exist, so SQLite (which
/// would create it with 0644) finds it private; SQLite gives its `-wal` and
/// `-shm` files the same mode. An existing file keeps its mode. Opening for
/// writing also checks early that the file can be written.
fn create_private(path: &Path) -> Result<(), StoreError> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .map(drop)
        .map_err(|error| StoreError::io(path, &error, true))
}

/// Opens a connection with the busy timeout set.
fn connect(path: &Path, flags: OpenFlags, writable: bool) -> Result<Connection, StoreError> {
    let sqlite = |error: rusqlite::Error| StoreError::sqlite(path, &error, writable);
    // NO_MUTEX: each connection is used by one thread at a time (the reader
    // behind its mutex, the writer by its thread), which Rust checks.
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(sqlite)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(sqlite)?;
    Ok(conn)
}

/// A private folder (mode 0700) under the system's temporary folder,
/// removed with everything in it on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Result<TempDir, StoreError> {
        let base = std::env::temp_dir();
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        let mut attempts = 0;
        loop {
            let name = format!(
                "tenure-store-{}-{:016x}",
                std::process::id(),
                fastrand::u64(..)
            );
            let path = base.join(name);
            match builder.create(&path) {
                Ok(()) => return Ok(TempDir(path)),
                // A clash of 64 random bits is a stale folder at worst.
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists && attempts < 8 => {
                    attempts += 1;
                }
                Err(error) => return Err(StoreError::io(&base, &error, true)),
            }
        }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: a temporary folder left behind is harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
