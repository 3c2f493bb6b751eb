//! The result store (DESIGN §4): final answers, asked before a number is
//! sent and told every final answer that arrives; the history of each
//! number's answers; the ledger of requests; and the runs that share it,
//! with their leases, claims and budget reservations.
//!
//! One mechanism gives three things: duplicates in a run cost one query, a
//! rerun after a crash or a fatal stop bills nothing twice, and nightly runs
//! reuse answers younger than `--max-age`. Answers are keyed by number and
//! *source* (`sandbox` or the endpoint's base URL), so simulated answers
//! never leak into a real run.
//!
//! ```text
//! Store ── open / open_read_only / temporary ──▶ Backend (sqlite | postgres)
//!   │  get_many ─▶ pending map, then one batch query
//!   │  stats, export, import, purge, changes, usage (`tend`)
//!   └─ join ─▶ Run ── claim, put, record, reserve, finish (`run`)
//!                 └── heartbeat thread: lease, share (`crate::share`), Pace
//! ```
//!
//! It owns the database: its format (`backend`), its permissions (0600
//! files, no symlinks), and when writes reach it (`writer`). It must not
//! decide what is final (the caller puts only final answers), and it never
//! sees the API key or the openid: they never enter this API. Its errors
//! never quote a number.

mod backend;
mod error;
mod location;
mod run;
mod temporary;
mod tend;
#[cfg(test)]
mod tests;
mod writer;

pub use error::StoreError;
pub use location::{Location, PgUrl, SslMode};
pub use run::{Claim, Outcome, Pace, Request, Run, RunSpec};
pub use temporary::clean_leftovers;
pub use tend::{
    ChangeRow, ExportFormat, ExportRow, ImportCounts, Purge, Removed, Stats, UsageBy, UsageRow,
};

pub(crate) use backend::SCHEMA_VERSION;

use crate::api::Answer;
use crate::change::Change;
use crate::number::Number;
use backend::postgres::Postgres;
use backend::sqlite::{self, Sqlite};
use backend::{Backend, Connection, Fresh, Purpose};
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use writer::Writer;

/// A stored answer, as a look-up finds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub answer: Answer,
    /// The change recorded with the answer's latest arrival; `None` for a
    /// row answer.
    pub change: Option<Change>,
    /// When it arrived (unix ms, the clock of the host that received it).
    pub answered_at_ms: i64,
    /// It arrived since this store was opened (by this run, or by another
    /// run sharing the store since then).
    pub this_run: bool,
}

/// The protocol's durations. [`Timing::default`] is DESIGN §4's; tests
/// shorten them rather than sleep for 30 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// How often a run renews its lease.
    pub heartbeat: Duration,
    /// A run sends only while its lease is younger than this.
    pub lease: Duration,
    /// The claims of a run whose lease is older than this are taken over,
    /// and the run, if it comes back, has lost its lease.
    pub takeover: Duration,
    /// How long a finished run's grant still counts at its old value.
    pub hold: Duration,
}

impl Default for Timing {
    fn default() -> Timing {
        Timing {
            heartbeat: crate::share::HEARTBEAT,
            lease: crate::share::LEASE,
            takeover: crate::share::TAKEOVER,
            hold: Duration::from_millis(crate::share::HOLD_MS.unsigned_abs()),
        }
    }
}

/// The result store. `Send + Sync`: one thread reads, many put (through a
/// [`Run`]).
///
/// Reads go through one connection behind a mutex (the pipeline reads from
/// one thread, so it is never contended); writes go to a background thread
/// that owns its own connection. Dropping the store commits what was put;
/// [`Store::close`] does the same and reports a failure.
pub struct Store {
    // Fields drop in this order: the reader closes, then the writer commits
    // and closes its connection (with SQLite, the last one, which
    // checkpoints the WAL into the file); then a temporary folder goes.
    reader: Mutex<Box<dyn Connection>>,
    /// `None` for a read-only store.
    writer: Option<Writer>,
    backend: Arc<dyn Backend>,
    source: String,
    location: Location,
    /// The location as errors name it (no password).
    name: String,
    timing: Timing,
    /// When this store was opened (unix ms): answers that arrived since are
    /// fresh whatever `max_age` says, so a run longer than `--max-age` never
    /// asks a duplicate twice.
    opened_ms: i64,
    /// Set for a temporary store: its private folder, removed on drop.
    temporary: Option<tempfile::TempDir>,
}

impl Store {
    /// Opens the store at `location`, creating it if needed: an SQLite file
    /// (mode 0600 at creation; an existing file keeps its mode; a symlink
    /// is refused), or the tables in a PostgreSQL database. A version-1
    /// SQLite file is migrated in place. `source` names where answers come
    /// from (`"sandbox"` or the endpoint's base URL): look-ups return only
    /// answers from the same source.
    ///
    /// Fails with [`StoreError::Corrupt`] for a file that is not a tenure
    /// store, [`StoreError::UnknownSchema`] for another schema version,
    /// [`StoreError::NotWritable`] when it cannot be written, and
    /// [`StoreError::Unreachable`] when the server cannot be reached.
    pub fn open(location: &Location, source: &str) -> Result<Store, StoreError> {
        Store::open_with(location, source, Timing::default())
    }

    /// [`Store::open`] with the protocol's durations given (for tests).
    pub fn open_with(
        location: &Location,
        source: &str,
        timing: Timing,
    ) -> Result<Store, StoreError> {
        let name = location.to_string();
        let backend: Arc<dyn Backend> = match location {
            Location::Sqlite(path) => {
                refuse_symlink(path)?;
                create_private(path)?;
                let mut conn = sqlite::open(path, true).map_err(|e| e.named(&name))?;
                sqlite::schema::prepare(&mut conn).map_err(|e| e.named(&name))?;
                drop(conn);
                Arc::new(Sqlite { path: path.clone() })
            }
            Location::Postgres(url) => {
                let backend = Postgres::new(url)?;
                let mut client = backend.client().map_err(|e| e.named(&name))?;
                backend::postgres::prepare(&mut client).map_err(|e| e.named(&name))?;
                Arc::new(backend)
            }
        };
        Store::start(location, source, backend, timing, true)
    }

    /// Opens an existing store read-only (for `tenure check` and the cache
    /// commands that only read). A missing store is [`StoreError::Missing`];
    /// writing through it is [`StoreError::ReadOnly`]. A version-1 file is
    /// refused: a read-write open migrates it.
    pub fn open_read_only(location: &Location, source: &str) -> Result<Store, StoreError> {
        let name = location.to_string();
        let backend: Arc<dyn Backend> = match location {
            Location::Sqlite(path) => {
                refuse_symlink(path)?;
                match std::fs::metadata(path) {
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                        return Err(StoreError::Missing { store: name });
                    }
                    Err(error) => return Err(StoreError::io(path, &error, false)),
                    Ok(_) => {}
                }
                let conn = sqlite::open(path, false).map_err(|e| e.named(&name))?;
                match sqlite::schema::check(&conn).map_err(|e| e.named(&name))? {
                    sqlite::schema::Found::Current => {}
                    sqlite::schema::Found::V1 => {
                        return Err(StoreError::Corrupt {
                            store: name,
                            detail: "a version-1 store: any `tenure enrich --cache` run on it \
                                     migrates it, or `tenure cache import` merges it"
                                .to_owned(),
                        });
                    }
                    sqlite::schema::Found::Empty => {
                        return Err(sqlite::schema::foreign().named(&name));
                    }
                }
                Arc::new(Sqlite { path: path.clone() })
            }
            Location::Postgres(url) => {
                let backend = Postgres::new(url)?;
                let mut client = backend.client().map_err(|e| e.named(&name))?;
                if !backend::postgres::exists(&mut client).map_err(|e| e.named(&name))? {
                    return Err(StoreError::Missing { store: name });
                }
                Arc::new(backend)
            }
        };
        Store::start(location, source, backend, Timing::default(), false)
    }

    /// A store in a private temporary folder, removed when the store is
    /// dropped. For `--no-cache`: duplicates within one run are still asked
    /// once, and memory does not grow with the input.
    pub fn temporary(source: &str) -> Result<Store, StoreError> {
        let folder = temporary::folder()?;
        let location = Location::Sqlite(folder.path().join("answers.sqlite"));
        let mut store = Store::open(&location, source)?;
        store.temporary = Some(folder);
        Ok(store)
    }

    fn start(
        location: &Location,
        source: &str,
        backend: Arc<dyn Backend>,
        timing: Timing,
        write: bool,
    ) -> Result<Store, StoreError> {
        let name = location.to_string();
        let writer = if write {
            let conn = backend
                .connect(Purpose::Write)
                .map_err(|e| e.named(&name))?;
            let writer = Writer::spawn(conn, source.to_owned()).map_err(|error| {
                StoreError::WriterFailed {
                    store: name.clone(),
                    message: error.to_string(),
                }
            })?;
            Some(writer)
        } else {
            None
        };
        let reader = backend.connect(Purpose::Read).map_err(|e| e.named(&name))?;
        Ok(Store {
            reader: Mutex::new(reader),
            writer,
            backend,
            source: source.to_owned(),
            location: location.clone(),
            name,
            timing,
            opened_ms: now_ms(),
            temporary: None,
        })
    }

    /// Where the store lives. A temporary store's is its private file.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Whether this is a temporary store (`--no-cache`).
    pub fn is_temporary(&self) -> bool {
        self.temporary.is_some()
    }

    /// The fresh answers of `numbers` from this store's source, in the same
    /// order. Fresh: arrived after `min(now - max_age, this store's open
    /// time)`, so answers of this run are always fresh, except a 224804
    /// that arrived before this store was opened, which is never returned
    /// (DESIGN §8: a whole batch refused is not an answer).
    ///
    /// Answers put but not yet committed are found too (the pending map);
    /// the rest in one batch query (one read transaction on SQLite, one
    /// round trip on PostgreSQL).
    pub fn get_many(
        &self,
        numbers: &[Number],
        max_age: Duration,
    ) -> Result<Vec<Option<Stored>>, StoreError> {
        let fresh = self.fresh(max_age);
        let mut found = match &self.writer {
            Some(writer) => writer.pending_many(numbers, fresh),
            None => vec![None; numbers.len()],
        };
        let missing: Vec<Number> = numbers
            .iter()
            .zip(&found)
            .filter(|(_, stored)| stored.is_none())
            .map(|(number, _)| *number)
            .collect();
        if missing.is_empty() {
            return Ok(found);
        }
        // The query runs after the pending check above: an answer leaves
        // the pending map only after its commit, so one that was not
        // pending then is in the query's snapshot.
        let mut stored = self
            .reader()
            .get_many(&self.source, &missing, fresh)
            .map_err(|e| self.error(e))?
            .into_iter();
        for slot in found.iter_mut().filter(|slot| slot.is_none()) {
            *slot = stored.next().flatten();
        }
        Ok(found)
    }

    /// [`Store::get_many`] for one number.
    pub fn get(&self, number: &Number, max_age: Duration) -> Result<Option<Stored>, StoreError> {
        self.get_many(std::slice::from_ref(number), max_age)
            .map(|mut found| found.pop().flatten())
    }

    /// Blocks until everything put or recorded so far is committed. A no-op
    /// on a read-only store.
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
            name,
            temporary,
            ..
        } = self;
        drop(reader);
        let outcome = match writer {
            Some(writer) => writer.finish().map_err(|message| StoreError::WriterFailed {
                store: name,
                message,
            }),
            None => Ok(()),
        };
        drop(temporary);
        outcome
    }

    /// Answers that arrived after the cutoff are fresh: younger than
    /// `max_age`, or from this run.
    fn fresh(&self, max_age: Duration) -> Fresh {
        let max_age = i64::try_from(max_age.as_millis()).unwrap_or(i64::MAX);
        Fresh {
            cutoff_ms: now_ms().saturating_sub(max_age).min(self.opened_ms - 1),
            opened_ms: self.opened_ms,
        }
    }

    fn reader(&self) -> MutexGuard<'_, Box<dyn Connection>> {
        lock(&self.reader)
    }

    fn writer(&self) -> Result<&Writer, StoreError> {
        self.writer.as_ref().ok_or_else(|| StoreError::ReadOnly {
            store: self.name.clone(),
        })
    }

    fn error(&self, error: error::DbError) -> StoreError {
        error.named(&self.name)
    }

    fn writer_failed(&self, message: String) -> StoreError {
        StoreError::WriterFailed {
            store: self.name.clone(),
            message,
        }
    }
}

/// Shows the location and the source; never an answer or a number.
impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.name)
            .field("source", &self.source)
            .field("read_only", &self.writer.is_none())
            .field("temporary", &self.temporary.is_some())
            .finish()
    }
}

/// Refuses a store path that is a symbolic link: following it could write
/// answers wherever the link points.
fn refuse_symlink(path: &Path) -> Result<(), StoreError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(StoreError::NotWritable {
            store: path.display().to_string(),
            detail: "it is a symbolic link, which tenure does not follow; pass the real path"
                .to_owned(),
        }),
        _ => Ok(()),
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
        .map_err(|error| StoreError::io(path, &error, true))?;
    // Checked again: a link made between the first check and the open.
    refuse_symlink(path)
}

/// Now, in unix milliseconds (0 on a clock set before 1970).
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
        })
}

/// Locks a mutex whether or not another thread panicked holding it: every
/// critical section in the store leaves its data whole (one insert, one
/// remove, one statement), so a poisoned lock still guards consistent data.
pub(crate) fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
