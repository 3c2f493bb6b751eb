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
//!   │  get_many ─▶ pending map, then one batch query (two at once, halves
//!   │              of a large batch, on two connections)
//!   │  stats, export, import, purge, changes, usage (`tend`)
//!   └─ join ─▶ Run ── claim, put, record, reserve, finish (`run`)
//!                 └── heartbeat thread: lease, share (`crate::share`), Pace
//! ```
//!
//! It owns the database: its format (`backend`), its permissions (0600
//! files, no symlinks: `open`), and when writes reach it (`writer`). It
//! must not decide what is final (the caller puts only final answers), and
//! it never sees the API key or the openid: they never enter this API. Its
//! errors never quote a number.

mod backend;
mod error;
mod location;
mod open;
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
use backend::{Backend, Connection, Fresh, Purpose};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use writer::Writer;

/// Batches of look-ups at least this large are split over two connections
/// (a smaller one costs less than the thread that would ask its half).
const SPLIT_FROM: usize = 64;

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
/// one thread, so it is never contended), and a second one for the other
/// half of a large batch; writes go to a background thread that owns its
/// own connection. Dropping the store commits what was put;
/// [`Store::close`] does the same and reports a failure.
pub struct Store {
    // Fields drop in this order: the readers close, then the writer commits
    // and closes its connection (with SQLite, the last one, which
    // checkpoints the WAL into the file); then a temporary folder goes.
    reader: Mutex<Box<dyn Connection>>,
    /// A second read connection, opened for the first batch worth
    /// splitting (see [`Store::query`]).
    helper: Mutex<Option<Box<dyn Connection>>>,
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
        let mut stored = self.query(&missing, fresh)?.into_iter();
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
            helper,
            writer,
            name,
            temporary,
            ..
        } = self;
        drop(reader);
        drop(helper);
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

    /// Looks `numbers` up in the database. A batch of [`SPLIT_FROM`] or
    /// more is split in two, and the halves asked at once on two
    /// connections: a database server then works on both (a batch's random
    /// reads take it longer than the round trip), and SQLite reads them on
    /// two cores. Both queries start after the caller's pending check, so
    /// each snapshot holds every answer that was not pending then.
    fn query(&self, numbers: &[Number], fresh: Fresh) -> Result<Vec<Option<Stored>>, StoreError> {
        let split = if numbers.len() >= SPLIT_FROM {
            numbers.len() / 2
        } else {
            numbers.len()
        };
        let (first, second) = numbers.split_at(split);
        let (found, rest) = std::thread::scope(|scope| {
            let rest = (!second.is_empty()).then(|| {
                scope.spawn(|| {
                    let mut helper = lock(&self.helper);
                    let conn = match &mut *helper {
                        Some(conn) => conn,
                        None => helper.insert(self.backend.connect(Purpose::Read)?),
                    };
                    conn.get_many(&self.source, second, fresh)
                })
            });
            let found = self.reader().get_many(&self.source, first, fresh);
            let rest = rest.map(|rest| rest.join().expect("a look-up does not panic"));
            (found, rest)
        });
        let mut found = found.map_err(|e| self.error(e))?;
        if let Some(rest) = rest {
            found.extend(rest.map_err(|e| self.error(e))?);
        }
        Ok(found)
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
