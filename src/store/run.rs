//! A run in the store (DESIGN §4, §6): its lease, renewed by a heartbeat
//! thread that also computes the run's share of its rate group; its claims
//! on numbers; its answers and ledger entries; its 24-hour budget
//! reservations.
//!
//! The lease and the share are the heartbeat's (`heartbeat`); whether to
//! stop is the pipeline's decision.

mod heartbeat;

use super::backend::{AnswerWrite, Budget, ClaimRow, Connection, LedgerWrite, NewRun, Purpose};
use super::{Store, StoreError, Stored, lock, now_ms};
use crate::api::{Answer, Endpoint};
use crate::change::Change;
use crate::number::Number;
use heartbeat::{Heartbeat, Shared};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the heartbeat tells a run's rate limiter.
pub trait Pace: Send + Sync {
    /// The run's share of the group's rate, in requests per second. Called
    /// before the commit that publishes a lower share, after the one that
    /// publishes a higher share.
    fn set_share(&self, granted: u32);
    /// The lease was renewed: the run may send until `valid_until` (the
    /// local instant at which the renewal began, plus the lease).
    fn renewed(&self, valid_until: Instant);
    /// Requests per second the run could use now (`f64::INFINITY` when
    /// saturated).
    fn demand(&self) -> f64;
}

/// How a run joins the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSpec {
    /// The rate group (`None`: the run is a group of its own).
    pub group: Option<String>,
    /// Its `--qps`.
    pub qps: u32,
    /// The endpoint its requests go to, for its answers and ledger entries.
    pub endpoint: Endpoint,
    /// Against the sandbox: left out of `usage` unless asked for.
    pub sandbox: bool,
}

/// What [`Run::claim`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The number is this run's to ask.
    Mine,
    /// A fresh answer is in the store.
    Answered(Stored),
    /// Another live run is asking it: wait for its answer, or for its lease
    /// to lapse.
    Held,
}

/// How a request ended, for the ledger.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `error_code` 0: billed.
    Billed,
    /// An answer that is not billed (any other code).
    Free,
    /// No answer (timeout, network, HTTP, garbage).
    Unanswered,
}

impl Outcome {
    pub(super) const fn as_str(self) -> &'static str {
        match self {
            Outcome::Billed => "billed",
            Outcome::Free => "free",
            Outcome::Unanswered => "unanswered",
        }
    }
}

/// One request sent, for the ledger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub outcome: Outcome,
    /// The API's code, or the failure's (`timeout`…); `None` for a success.
    pub code: Option<String>,
    /// The encrypted endpoint's `orderid`.
    pub orderid: Option<String>,
    /// The request held one of the run's 24-hour budget reservations
    /// ([`Run::reserve`]), released with this entry.
    pub reserved: bool,
}

/// A run registered in the store. Dropping it stops the heartbeat (the
/// lease then lapses); [`Run::finish`] ends it properly.
pub struct Run<'s> {
    store: &'s Store,
    id: String,
    group: Option<String>,
    endpoint: Endpoint,
    /// Claims, releases and reservations.
    conn: Mutex<Box<dyn Connection>>,
    shared: Arc<Shared>,
    heartbeat: Option<JoinHandle<()>>,
}

impl Store {
    /// Registers a run (id `YYYYMMDDTHHMMSSZ-xxxxxx`), renews its lease once
    /// and starts its heartbeat thread. When this returns, `pace` has been
    /// told the run's lease and share. [`StoreError::ReadOnly`] on a
    /// read-only store.
    pub fn join(&self, spec: RunSpec, pace: Arc<dyn Pace>) -> Result<Run<'_>, StoreError> {
        self.writer()?;
        let id = run_id();
        let mut conn = self.connect()?;
        conn.join(&NewRun {
            id: id.clone(),
            group: spec.group.clone(),
            qps: spec.qps,
            sandbox: spec.sandbox,
            started_ms: now_ms(),
        })
        .map_err(|e| self.error(e))?;
        let shared = Arc::new(Shared {
            lost: AtomicBool::new(false),
            failure: Mutex::new(None),
            stop: Mutex::new(false),
            wake: Condvar::new(),
        });
        // The run's row was published with a grant of 0, and the first
        // beat tells the pace only a change from that: start the pace at 0
        // too, or a limiter made at its --qps would send at full rate
        // while the group counts it as sending nothing.
        pace.set_share(0);
        let mut beat = Heartbeat {
            conn: Some(self.connect()?),
            backend: Arc::clone(&self.backend),
            run: id.clone(),
            group: spec.group.clone(),
            timing: self.timing,
            pace,
            shared: Arc::clone(&shared),
        };
        if let Err(error) = beat.beat() {
            return Err(self.error(error));
        }
        let heartbeat = std::thread::Builder::new()
            .name("tenure-heartbeat".to_owned())
            .spawn(move || beat.run())
            .map_err(|error| StoreError::Database {
                store: self.name.clone(),
                detail: format!("cannot start the heartbeat thread: {error}"),
            })?;
        Ok(Run {
            store: self,
            id,
            group: spec.group,
            endpoint: spec.endpoint,
            conn: Mutex::new(conn),
            shared,
            heartbeat: Some(heartbeat),
        })
    }

    fn connect(&self) -> Result<Box<dyn Connection>, StoreError> {
        self.backend
            .connect(Purpose::Lease)
            .map_err(|e| self.error(e))
    }
}

impl Run<'_> {
    /// The run's id, as the ledger and the summary name it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether a renewal found the lease taken over: the run must stop.
    pub fn lost(&self) -> bool {
        self.shared.lost.load(Ordering::Acquire)
    }

    /// Why the latest renewal failed, if it did (cleared by a success).
    pub fn failure(&self) -> Option<String> {
        lock(&self.shared.failure).clone()
    }

    /// Claims `number` before asking it: a claim by another run whose lease
    /// is younger than the takeover time is [`Claim::Held`]; else a fresh
    /// answer (the same rule as [`Store::get_many`], this run's pending
    /// answers first) is [`Claim::Answered`]; otherwise the claim is taken
    /// or refreshed: [`Claim::Mine`]. Atomic across processes: of runs
    /// racing for a number, one gets `Mine`; and a run that finds a claim
    /// gone finds the answer committed with its release.
    pub fn claim(&self, number: &Number, max_age: Duration) -> Result<Claim, StoreError> {
        let store = self.store;
        let fresh = store.fresh(max_age);
        if let Some(stored) = store
            .writer()?
            .pending_many(std::slice::from_ref(number), fresh)
            .pop()
            .flatten()
        {
            return Ok(Claim::Answered(stored));
        }
        let claimed = lock(&self.conn)
            .claim(
                &store.source,
                number,
                &self.id,
                fresh,
                millis(store.timing.takeover),
            )
            .map_err(|e| store.error(e))?;
        Ok(match claimed {
            ClaimRow::Answered(stored) => Claim::Answered(stored),
            ClaimRow::Held => Claim::Held,
            ClaimRow::Mine => Claim::Mine,
        })
    }

    /// Gives up this run's claim on `number` without an answer.
    pub fn release(&self, number: &Number) -> Result<(), StoreError> {
        lock(&self.conn)
            .release(&self.store.source, number, &self.id)
            .map_err(|e| self.store.error(e))
    }

    /// Records a final answer with the current time, replacing the number's
    /// latest answer from this source, and releases the run's claim on it.
    ///
    /// For a success, returns its change against the number's latest earlier
    /// successful answer from this source (the pending map first, then the
    /// database; row answers are never compared nor earlier); `None` for a
    /// row answer. Returns at once: the writer commits in small groups
    /// ([`Store::flush`] waits for the commit; the pipeline does, before it
    /// frees the request's slot).
    pub fn put(
        &self,
        number: Number,
        answer: &Answer,
        orderid: Option<&str>,
    ) -> Result<Option<Change>, StoreError> {
        let store = self.store;
        let writer = store.writer()?;
        let previous = match writer.pending_success(&number) {
            Some(previous) => previous,
            None => store
                .reader()
                .latest_success(&store.source, &number)
                .map_err(|e| store.error(e))?,
        };
        let change = answer
            .tenure()
            .map(|tenure| Change::compare(previous.as_ref(), tenure));
        let write = AnswerWrite {
            number,
            answer: answer.clone(),
            change,
            endpoint: self.endpoint,
            orderid: orderid.map(str::to_owned),
            at_ms: now_ms(),
            run: Some(self.id.clone()),
        };
        writer
            .put(write, previous)
            .map_err(|message| store.writer_failed(message))?;
        Ok(change)
    }

    /// Queues a ledger entry for one request sent, timed by this host's
    /// wall clock now. With `reserved`, one of the run's budget
    /// reservations is released in the transaction that commits the entry,
    /// so billed + reserved never under-counts.
    pub fn record(&self, request: Request) -> Result<(), StoreError> {
        let store = self.store;
        store
            .writer()?
            .record(LedgerWrite {
                at_ms: now_ms(),
                run: self.id.clone(),
                group: self.group.clone(),
                endpoint: self.endpoint,
                outcome: request.outcome.as_str(),
                code: request.code,
                orderid: request.orderid,
                reserved: request.reserved,
            })
            .map_err(|message| store.writer_failed(message))
    }

    /// The 24-hour budget (DESIGN §6): grants up to `n` more reservations
    /// while the group's billed answers in the ledger over the last 24 h,
    /// plus the reservations of the group's live runs, plus the grant stay
    /// within `cap`; atomically across processes. Returns the grant (0 when
    /// the budget is used up). A run without a group counts its own only.
    pub fn reserve(&self, cap: u64, n: u32) -> Result<u32, StoreError> {
        lock(&self.conn)
            .reserve(&Budget {
                run: &self.id,
                group: self.group.as_deref(),
                cap,
                n,
                takeover_ms: millis(self.store.timing.takeover),
            })
            .map_err(|e| self.store.error(e))
    }

    /// Ends the run: stops the heartbeat, commits what it put and recorded,
    /// marks it ended (its share counted only through its held grant for a
    /// moment), and releases its claims and reservations.
    pub fn finish(mut self) -> Result<(), StoreError> {
        self.stop_heartbeat();
        self.store.flush()?;
        let hold = millis(self.store.timing.hold);
        lock(&self.conn)
            .finish(&self.id, hold)
            .map_err(|e| self.store.error(e))
    }

    fn stop_heartbeat(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.heartbeat.take() {
            // A panicked heartbeat has nothing left to stop.
            let _ = thread.join();
        }
    }
}

impl Drop for Run<'_> {
    fn drop(&mut self) {
        self.stop_heartbeat();
    }
}

impl std::fmt::Debug for Run<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("id", &self.id)
            .field("group", &self.group)
            .field("lost", &self.lost())
            .finish()
    }
}

/// A new run id: the UTC start and 6 random hex digits.
fn run_id() -> String {
    let start = jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ");
    format!("{start}-{:06x}", fastrand::u32(..0x100_0000))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}
