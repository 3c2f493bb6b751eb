//! The store's databases behind one interface: [`Backend`] opens
//! [`Connection`]s, and each connection does the store's operations, each
//! in one transaction.
//!
//! Two variants, one folder each: `sqlite` (an embedded file) and
//! `postgres` (a server, so runs on different hosts share one store), each
//! with one file per concern of the interface ([`Answers`], [`Runs`],
//! [`Tending`]) beside its `schema`. They hold the same tables (`tenure_`
//! prefix, schema version [`SCHEMA_VERSION`]), with the same values in
//! their columns (`encoding`), and pass the same test suite
//! (`store::tests`).
//!
//! Decisions live above this layer (`store`, `run`, `change`, `share`); a
//! backend only maps them to SQL. Times are unix milliseconds. Answers and
//! ledger entries carry the local wall-clock time of their arrival; leases,
//! claims and the 24-hour window are judged by the *store's* clock (SQLite:
//! this host's; PostgreSQL: the server's `clock_timestamp()`), so that runs
//! on hosts whose clocks differ still agree on whose lease is stale.

mod encoding;
pub(super) mod postgres;
mod relabel;
pub(super) mod sqlite;

use super::error::DbError;
use super::{ChangeRow, ExportRow, ImportCounts, Removed, Stats, Stored};
use crate::api::{Answer, Endpoint, Tenure};
use crate::change::Change;
use crate::number::Number;
use crate::share::{Member, Plan};

/// The version this build reads and writes; `tenure_meta.schema_version`
/// holds it.
pub(crate) const SCHEMA_VERSION: i64 = 2;

/// Opens connections to one database.
pub(crate) trait Backend: Send + Sync {
    /// A new connection for `purpose`.
    fn connect(&self, purpose: Purpose) -> Result<Box<dyn Connection>, DbError>;
}

/// What a connection is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// Look-ups only (SQLite opens the file read-only).
    Read,
    /// Answers and ledger entries, and the tending commands: every commit
    /// durable.
    Write,
    /// Leases, claims and reservations: state that a crash of the database
    /// server may lose without harm (the run is lost with it, and its
    /// claims expire), so PostgreSQL may acknowledge a commit before its
    /// WAL reaches the disk (`synchronous_commit = off`).
    Lease,
}

/// One connection. Each thread that talks to the store owns one (or holds
/// one behind a mutex); every method is one transaction. Its operations
/// come in three concerns, each a trait with one file per backend.
pub(crate) trait Connection: Answers + Runs + Tending + Send {}

impl<T: Answers + Runs + Tending + Send> Connection for T {}

/// Answers: look-ups and the group commit.
pub(crate) trait Answers {
    /// The fresh answers of `numbers` from `source`, in order.
    fn get_many(
        &mut self,
        source: &str,
        numbers: &[Number],
        fresh: Fresh,
    ) -> Result<Vec<Option<Stored>>, DbError>;

    /// The number's latest successful answer from `source`.
    fn latest_success(&mut self, source: &str, number: &Number) -> Result<Option<Tenure>, DbError>;

    /// Writes a group of answers (answers, history, claims released) and
    /// ledger entries (reservations released) in one transaction.
    fn commit(&mut self, source: &str, writes: &[Write]) -> Result<(), DbError>;
}

/// Runs: leases and shares, claims, budget reservations.
pub(crate) trait Runs {
    /// Registers a run; returns the store's clock at registration.
    fn join(&mut self, run: &NewRun) -> Result<i64, DbError>;

    /// One heartbeat, in one transaction serialised with the group's other
    /// heartbeats: renews the lease (unless it was taken over: `Ok(None)`),
    /// reads the group, asks `plan` for this run's share, publishes it,
    /// calls `before_commit` with the old grant and the plan, and commits.
    fn tick(&mut self, tick: &mut TickArgs<'_>) -> Result<Option<Ticked>, DbError>;

    /// Claims `number` for `run` (see [`ClaimRow`] and `Run::claim`),
    /// atomically across processes.
    fn claim(
        &mut self,
        source: &str,
        number: &Number,
        run: &str,
        fresh: Fresh,
        takeover_ms: i64,
    ) -> Result<ClaimRow, DbError>;

    /// Gives up `run`'s claim on `number`.
    fn release(&mut self, source: &str, number: &Number, run: &str) -> Result<(), DbError>;

    /// Grants up to `n` more budget reservations to `run` while the group's
    /// billed answers of the last 24 h, plus its live runs' reservations,
    /// plus the grant stay within `cap`. Serialised with the group's other
    /// reservations.
    fn reserve(&mut self, budget: &Budget<'_>) -> Result<u32, DbError>;

    /// Ends `run`: counted only through held/held_until from now on, its
    /// reservations and claims released.
    fn finish(&mut self, run: &str, hold_ms: i64) -> Result<(), DbError>;
}

/// Tending: what the `cache` and `usage` commands read and change.
pub(crate) trait Tending {
    fn stats(&mut self) -> Result<Stats, DbError>;

    /// Calls `each` with every stored answer, by source then number; stops
    /// at the first error `each` returns.
    fn export(
        &mut self,
        each: &mut dyn FnMut(ExportRow) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>, DbError>;

    /// Merges answers and history entries from another store, in one
    /// transaction, a chunk at a time: see [`Store::import`](super::Store::import).
    fn import(&mut self, rows: &mut dyn ImportChunks) -> Result<ImportCounts, DbError>;

    /// Removes answers and history entries; never ledger entries.
    fn purge(&mut self, purge: &PurgeWhat) -> Result<Removed, DbError>;

    /// History entries with a change (not `new` nor `same`) that first
    /// arrived at or after `since_ms`, with the success before each.
    fn changes(&mut self, since_ms: i64) -> Result<Vec<ChangeRow>, DbError>;

    /// Ledger counts since `since_ms`, by `key`.
    fn usage(
        &mut self,
        since_ms: i64,
        key: UsageKey,
        include_sandbox: bool,
    ) -> Result<Vec<UsageCount>, DbError>;
}

/// Which stored answers are fresh: those that arrived after `cutoff_ms`,
/// except a 224804 that arrived before `opened_ms` (DESIGN §8: a batch of
/// 224804 is not an answer, so none is reused by a later run). An answer
/// that arrived at or after `opened_ms` is this run's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fresh {
    pub cutoff_ms: i64,
    pub opened_ms: i64,
}

/// The refusal that is never reused across runs (DESIGN §8: a batch of
/// them is the run's fault, not the numbers' answer).
pub(super) const REFUSED: i64 = 224804;

impl Fresh {
    /// Whether `answer`, which arrived at `at_ms`, is fresh.
    pub(super) fn accepts(self, answer: &Answer, at_ms: i64) -> bool {
        let refused = matches!(answer, Answer::Declined { code: REFUSED, .. });
        at_ms > self.cutoff_ms && (at_ms >= self.opened_ms || !refused)
    }
}

/// One answer on its way to the database.
#[derive(Clone, Debug)]
pub(crate) struct AnswerWrite {
    pub number: Number,
    pub answer: Answer,
    pub change: Option<Change>,
    pub endpoint: Endpoint,
    pub orderid: Option<String>,
    pub at_ms: i64,
    /// The run whose claim on the number the write releases.
    pub run: Option<String>,
}

/// One ledger entry on its way to the database.
#[derive(Clone, Debug)]
pub(crate) struct LedgerWrite {
    pub at_ms: i64,
    pub run: String,
    pub group: Option<String>,
    pub endpoint: Endpoint,
    pub outcome: &'static str,
    pub code: Option<String>,
    pub orderid: Option<String>,
    /// Releases one of the run's budget reservations.
    pub reserved: bool,
}

#[derive(Clone, Debug)]
pub(crate) enum Write {
    Answer(AnswerWrite),
    Ledger(LedgerWrite),
}

/// A run as it registers.
#[derive(Clone, Debug)]
pub(crate) struct NewRun {
    pub id: String,
    pub group: Option<String>,
    pub qps: u32,
    pub sandbox: bool,
    pub started_ms: i64,
}

/// What a heartbeat needs.
pub(crate) struct TickArgs<'a> {
    pub run: &'a str,
    pub group: Option<&'a str>,
    pub demand: f64,
    /// A lease older than this was taken over.
    pub takeover_ms: i64,
    pub plan: &'a mut dyn FnMut(&Member, &[Member], i64) -> Plan,
    /// Called with the grant before this tick and the plan, before commit.
    pub before_commit: &'a mut dyn FnMut(u32, &Plan),
}

/// A heartbeat that renewed the lease.
#[derive(Clone, Debug)]
pub(crate) struct Ticked {
    /// The grant before this tick.
    pub before: u32,
    pub plan: Plan,
}

/// What a claim found.
#[derive(Clone, Debug)]
pub(crate) enum ClaimRow {
    Answered(Stored),
    Held,
    Mine,
}

/// What a reservation needs.
pub(crate) struct Budget<'a> {
    pub run: &'a str,
    pub group: Option<&'a str>,
    pub cap: u64,
    pub n: u32,
    /// Runs whose lease is older than this no longer hold reservations.
    pub takeover_ms: i64,
}

/// The 24-hour budget window.
pub(super) const DAY_MS: i64 = 86_400_000;

/// Another store's rows for an import, read a chunk at a time so that an
/// import's memory does not grow with the file: its answers, then its
/// history entries.
pub(crate) trait ImportChunks {
    /// Whether the answers come without history of their own (a version-1
    /// store): each then becomes its number's first arrival.
    fn answers_only(&self) -> bool;

    /// The next chunk, or `None` when every row has been read.
    fn next_chunk(&mut self) -> Result<Option<Imported>, DbError>;
}

/// A chunk of answers and history entries from another store.
#[derive(Clone, Debug, Default)]
pub(crate) struct Imported {
    pub answers: Vec<ImportedAnswer>,
    pub history: Vec<HistoryRow>,
}

#[derive(Clone, Debug)]
pub(crate) struct ImportedAnswer {
    pub number: String,
    pub source: String,
    pub answer: Answer,
    pub endpoint: String,
    pub at_ms: i64,
    pub orderid: Option<String>,
}

impl ImportedAnswer {
    /// The history entry of this answer as its number's only arrival (a
    /// version-1 store keeps no history of its own).
    pub(crate) fn first_arrival(&self, change: Option<&str>) -> HistoryRow {
        HistoryRow {
            number: self.number.clone(),
            source: self.source.clone(),
            answer: self.answer.clone(),
            first_seen: self.at_ms,
            last_seen: self.at_ms,
            change: change.map(str::to_owned),
        }
    }
}

/// One history entry as stored.
#[derive(Clone, Debug)]
pub(crate) struct HistoryRow {
    pub number: String,
    pub source: String,
    pub answer: Answer,
    pub first_seen: i64,
    pub last_seen: i64,
    pub change: Option<String>,
}

/// What to purge.
#[derive(Clone, Debug)]
pub(crate) enum PurgeWhat {
    Code(String),
    /// Answers and history last given at or before this instant (unix
    /// ms): `--older-than 0s` removes every one, even an answer that
    /// arrived in the same millisecond.
    Before(i64),
}

/// How ledger counts are grouped.
#[derive(Clone, Copy, Debug)]
pub(crate) enum UsageKey {
    /// By `at / ms` (buckets small enough to fall in one local day in
    /// every time zone).
    Bucket(i64),
    Run,
}

/// Ledger counts of one bucket or run.
#[derive(Clone, Debug)]
pub(crate) struct UsageCount {
    /// The bucket's index or the run id.
    pub key: UsageKeyValue,
    pub billed: u64,
    pub requests: u64,
    pub unanswered: u64,
}

#[derive(Clone, Debug)]
pub(crate) enum UsageKeyValue {
    Bucket(i64),
    Run(String),
}
