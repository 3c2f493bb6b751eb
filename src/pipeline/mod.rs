//! The pipeline: the one module that knows the order of the stages.
//!
//! ```text
//! reader (this thread) ──▶ single-flight ──▶ store lookup ──▶ job on the pool ──▶ writer thread
//!   parse, normalise        one request        answers from     permit, POST,       reorder buffer,
//!   (window backpressure)   per number         earlier runs     retry, store        input order
//! ```
//!
//! - Streaming and bounded: the reader runs at most `window` rows ahead of
//!   the writer, so memory does not grow with the file; a row stuck in
//!   backoff holds only its own place, never a chunk of others.
//! - Never asked twice: a number in flight collects its duplicates as
//!   waiters; an answer is put in the store *before* the number leaves the
//!   in-flight table, so a later duplicate always finds one or the other.
//! - Why a run ends early is decided here, in one place ([`Shared::halt`]):
//!   a fatal answer, the API looking down, an error of the reader, the
//!   writer or the store. The first [`Halt`] is kept and the run's [`Stop`]
//!   signalled: the reader stops reading, jobs not yet started give up,
//!   those in flight end and keep their answers in the store. The halt is
//!   returned with the rows' counts, never left for the caller to find.

mod ask;
mod budget;
mod held;
mod jobs;
mod memo;
mod pacing;
mod reading;
mod refused;
mod window;
mod writer;

use std::sync::mpsc::{channel, sync_channel};
use std::time::Duration;

use jobs::Shared;
use pacing::Pacing;
use reading::{Asks, Read, Reading};
use window::Window;

use crate::client::{Client, RetryPolicy};
use crate::concurrency::Concurrency;
use crate::config::Budget;
use crate::exit::Error;
pub use crate::halt::Halt;
use crate::input::Input;
use crate::limiter::Limiter;
use crate::log::Log;
use crate::output::Output;
use crate::progress::Progress;
use crate::stop::{self, Stop};
use crate::store::{Run, Store};
use crate::summary::{Counters, Rows};
pub use refused::BAD_PARAMETER;

/// After this many numbers in a row ran out of retries on transient
/// failures, the API looks down: stop rather than fail a million rows.
pub const LOOKS_DOWN_AFTER: u32 = 20;

/// The knobs of the pipeline, from `Config`.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Requests in flight: fixed, or following the latency.
    pub concurrency: Concurrency,
    /// The run's own `--qps` (its share of a group may be less).
    pub qps: u32,
    pub retry: RetryPolicy,
    pub budget: Budget,
    /// Stored answers younger than this are reused.
    pub max_age: Duration,
    /// How many rows the reader may run ahead of the writer.
    pub window: usize,
}

/// The runtime parts the pipeline drives, built by the command.
pub struct Runtime<'a> {
    pub client: &'a Client,
    pub limiter: &'a Limiter,
    pub store: &'a Store,
    /// This run's membership of the store: claims, ledger, lease.
    pub run: &'a Run<'a>,
    pub stop: &'a Stop,
    pub progress: &'a Progress,
    pub counters: &'a Counters,
    pub log: &'a Log,
}

/// What a run did: the rows' counts, and why it ended early, if it did.
#[derive(Debug)]
pub struct Ran {
    pub rows: Rows,
    pub halt: Option<Halt>,
}

/// Runs the rows of `input` through the runtime's parts into `output`.
pub fn run(mut input: Input, output: &mut Output, parts: &Runtime, settings: &Settings) -> Ran {
    let pacing = Pacing::new(settings.concurrency, settings.qps);
    let window = Window::new(settings.window.max(1) as u64);
    let (done, finished) = channel();
    // A few batches of written records on their way back to the reader.
    let (spent, recycled) = sync_channel(4);
    input.recycle(recycled);
    let shared = Shared::new(parts, settings, &pacing, done);

    let mut rows = Rows::default();
    let halt = std::thread::scope(|threads| {
        let writer = threads.spawn(|| {
            // Whatever ends the writer, a panic included, the reader must
            // not wait for room, and the run stops.
            let _closing = OnDrop(|| {
                if std::thread::panicking() {
                    parts.stop.stop();
                }
                window.close();
            });
            writer::write_in_order(finished, spent, output, &window, parts, &mut rows)
        });
        let read = read_all(&shared, input, &window, &pacing);
        let read = read.unwrap_or_else(|err| {
            shared.halt(Halt::Failed(err));
            0
        });
        // Every job has ended (the scope waits): hang up so that the writer
        // drains the channel and returns.
        let mut halt = shared.finish();
        let written = writer.join().expect("the writer thread does not panic");
        if let Err(err) = written {
            halt.get_or_insert(Halt::Failed(err));
        }
        (halt, read)
    });
    let (halt, read) = halt;
    let mut halt = halt.or_else(|| stop::interrupted().then_some(Halt::Interrupted));
    // A run that ends normally has written every row it read: never commit
    // an output with rows missing.
    if halt.is_none() && rows.rows != read {
        let lost = anyhow::anyhow!("{read} rows were read but {} written", rows.rows);
        halt = Some(Halt::Failed(lost.into()));
    }
    Ran { rows, halt }
}

/// Reads every row, and starts the worker pool when the first number has
/// to be asked (see `reading`).
fn read_all(shared: &Shared, input: Input, window: &Window, pacing: &Pacing) -> Result<u64, Error> {
    let mut reading = Reading::new(input, shared.settings.window)?;
    let mut asks = Asks::Before(Vec::new());
    let first = match shared.read(&mut reading, window, &mut asks)? {
        Read::Done(read) => return Ok(read),
        Read::NeedsPool => match asks {
            Asks::Before(numbers) => numbers,
            Asks::Pool(_) => unreachable!("no pool before this one"),
        },
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(pacing.threads())
        .thread_name(|i| format!("tenure-worker-{i}"))
        .build()
        .map_err(|err| anyhow::anyhow!("cannot start the worker threads: {err}"))?;
    pool.in_place_scope(|scope| {
        let mut asks = Asks::Pool(scope);
        for number in first {
            asks.ask(shared, number);
        }
        match shared.read(&mut reading, window, &mut asks) {
            Ok(Read::Done(read)) => Ok(read),
            Ok(Read::NeedsPool) => unreachable!("the pool runs"),
            Err(err) => {
                // The jobs already spawned give up now rather than when the
                // scope ends; the caller records why.
                shared.parts.stop.stop();
                Err(err)
            }
        }
    })
}

/// Runs a closure when dropped, unwinding included.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}
