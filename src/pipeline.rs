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
//! - A fatal answer, a writer failure or an interrupt sets the run's
//!   [`Stop`]: the reader stops reading, jobs not yet started give up, those
//!   in flight end and keep their answers in the store.

use csv::ByteRecord;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use crate::api::{Failure, FailureKind};
use crate::client::{Asked, Backoff, Client};
use crate::exit::Error;
use crate::input::{BadCell, Input, parse_cell};
use crate::limiter::Limiter;
use crate::number::Number;
use crate::output::{Output, RowResult};
use crate::progress::Progress;
use crate::stop::{Reason, Stop};
use crate::store::{Run, Store};
use crate::summary::{Counters, Rows, Via};

/// After this many numbers in a row ran out of retries on transient
/// failures, the API looks down: stop rather than fail a million rows.
pub const LOOKS_DOWN_AFTER: u32 = 20;

/// The knobs of the pipeline, from `Config`.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Requests in flight at most: the size of the worker pool.
    pub concurrency: usize,
    pub retries: u32,
    pub backoff: Backoff,
    /// Stored answers younger than this are reused.
    pub max_age: Duration,
    /// How many rows the reader may run ahead of the writer.
    pub window: usize,
}

/// The runtime parts the pipeline drives, built by `config`.
pub struct Stages<'a> {
    pub client: &'a Client,
    pub limiter: &'a Limiter,
    pub store: &'a Store,
    pub run: &'a Run<'a>,
    pub stop: &'a Stop,
    pub progress: &'a Progress,
    pub counters: &'a Counters,
}

/// Runs the rows of `input` through the stages into `output`. Returns the
/// per-row tally; whether the run stopped early is in `stages.stop`.
pub fn run(
    input: Input,
    output: &mut Output,
    stages: &Stages,
    settings: &Settings,
) -> Result<Rows, Error> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.concurrency.max(1))
        .thread_name(|i| format!("tenure-worker-{i}"))
        .build()
        .map_err(|err| anyhow::anyhow!("cannot start the worker threads: {err}"))?;
    let window = Window::new(settings.window.max(1) as u64);
    let (done, finished) = channel();
    let shared = Shared {
        stages,
        settings,
        in_flight: Mutex::new(HashMap::new()),
        exhausted: Mutex::new(HashMap::new()),
        down_streak: AtomicU32::new(0),
        error: Mutex::new(None),
        done,
    };

    let (rows, error) = std::thread::scope(|threads| {
        let writer = threads.spawn(|| {
            // Whatever ends the writer, a panic included, the reader must
            // not wait for room, and a failure stops the run.
            let _closing = OnDrop(|| {
                if std::thread::panicking() {
                    stages.stop.stop(Reason::Failed);
                }
                window.close();
            });
            write_in_order(finished, output, &window, stages)
                .inspect_err(|_| stages.stop.stop(Reason::Failed))
        });
        let read = pool.in_place_scope(|scope| shared.read_all(input, &window, scope));
        if let Err(err) = read {
            stages.stop.stop(Reason::Failed);
            shared.fail(err);
        }
        // Every job has ended (the scope waits): hang up so that the writer
        // drains the channel and returns.
        let Shared { done, error, .. } = shared;
        drop(done);
        let rows = writer.join().expect("the writer thread does not panic");
        (rows, error)
    });
    if let Some(err) = error.into_inner().expect("error lock is never poisoned") {
        return Err(err);
    }
    rows
}

/// Rows read, looked up and sent to the writer together: one store
/// transaction and one channel message per batch instead of per row.
const BATCH: usize = 256;

/// A row waiting for its number's answer.
struct Waiting {
    seq: u64,
    record: ByteRecord,
}

/// A finished row on its way to the writer.
struct Done {
    seq: u64,
    record: ByteRecord,
    result: RowResult,
    via: Via,
}

struct Shared<'a> {
    stages: &'a Stages<'a>,
    settings: &'a Settings,
    /// Numbers asked and not yet answered, with the rows that wait for them.
    in_flight: Mutex<HashMap<Number, Vec<Waiting>>>,
    /// Numbers whose retries ran out in this run: their duplicates get the
    /// same failure rather than another round of retries.
    exhausted: Mutex<HashMap<Number, Failure>>,
    /// Numbers in a row that ran out of retries on transient failures.
    down_streak: AtomicU32,
    /// The first error that ended the run from a worker.
    error: Mutex<Option<Error>>,
    done: Sender<Vec<Done>>,
}

impl<'a> Shared<'a> {
    fn read_all<'s>(
        &'s self,
        input: Input,
        window: &Window,
        scope: &rayon::Scope<'s>,
    ) -> Result<(), Error> {
        let stop = self.stages.stop;
        let batch_size = BATCH.min(self.settings.window.max(1));
        let column = input.column;
        let mut batches = input.into_batches(batch_size)?;
        let mut seq = 0u64;
        let mut batch = Vec::with_capacity(batch_size);
        while !stop.is_stopped() && window.wait_for_room(seq + batch_size as u64 - 1, stop) {
            let Some(records) = batches.next(stop) else {
                break;
            };
            for record in records? {
                let number = parse_cell(&record, column);
                batch.push((seq, record, number));
                seq += 1;
            }
            self.resolve(scope, &mut batch)?;
        }
        Ok(())
    }

    /// Finds the answers for a batch of rows: from a request already in
    /// flight, an earlier failure, the store, or new requests. Drains the
    /// batch.
    fn resolve<'s>(
        &'s self,
        scope: &rayon::Scope<'s>,
        batch: &mut Vec<(u64, ByteRecord, Result<Number, BadCell>)>,
    ) -> Result<(), Error> {
        let mut done = Vec::with_capacity(batch.len());
        // Rows whose number needs the store, grouped by number.
        let mut wanted: HashMap<Number, Vec<Waiting>> = HashMap::new();
        {
            let mut in_flight = self.lock_in_flight();
            let exhausted = self.lock_exhausted();
            for (seq, record, number) in batch.drain(..) {
                let number = match number {
                    Ok(number) => number,
                    Err(reason) => {
                        done.push(Done {
                            seq,
                            record,
                            result: RowResult::Invalid(reason),
                            via: Via::Invalid,
                        });
                        continue;
                    }
                };
                if let Some(waiting) = in_flight.get_mut(&number) {
                    waiting.push(Waiting { seq, record });
                } else if let Some(failure) = exhausted.get(&number) {
                    done.push(Done {
                        seq,
                        record,
                        result: RowResult::Failed(failure.clone()),
                        via: Via::Duplicate,
                    });
                } else {
                    wanted
                        .entry(number)
                        .or_default()
                        .push(Waiting { seq, record });
                }
            }
        }
        // In key order, the look-ups walk the store's B-tree forward.
        let mut numbers: Vec<Number> = wanted.keys().copied().collect();
        numbers.sort_unstable();
        let stored = self
            .stages
            .store
            .get_many(&numbers, self.settings.max_age)?
            .into_iter()
            .map(|stored| stored.map(|stored| stored.answer));
        for (number, answer) in numbers.into_iter().zip(stored) {
            let rows = wanted
                .remove(&number)
                .expect("every wanted number has rows");
            match answer {
                Some(answer) => {
                    let answer = Arc::new(answer);
                    for (i, row) in rows.into_iter().enumerate() {
                        done.push(Done {
                            seq: row.seq,
                            record: row.record,
                            result: RowResult::Answer(Arc::clone(&answer)),
                            via: if i == 0 { Via::Store } else { Via::Duplicate },
                        });
                    }
                }
                None => {
                    // Only this thread inserts, so nobody asked for `number`
                    // between the look-ups above and here.
                    self.lock_in_flight().insert(number, rows);
                    scope.spawn(move |_| self.ask(number));
                }
            }
        }
        self.send(done);
        Ok(())
    }

    /// A job on the pool: asks the API, records the answer, releases the
    /// rows that wait for it.
    fn ask(&self, number: Number) {
        // A panicking job never releases its rows: the writer would wait
        // for them forever. Stop the run instead (the panic then surfaces
        // when the pool's scope ends).
        let _panic_stops = OnDrop(|| {
            if std::thread::panicking() {
                self.stages.stop.stop(Reason::Failed);
            }
        });
        let Stages {
            client,
            limiter,
            run,
            stop,
            counters,
            ..
        } = self.stages;
        let asked = if stop.is_stopped() {
            Asked::Abandoned
        } else {
            let settings = self.settings;
            client.ask(
                &number,
                limiter,
                stop,
                settings.retries,
                settings.backoff,
                *counters,
            )
        };
        let result = match asked {
            Asked::Answered(answer) => {
                counters.answered(&answer);
                self.down_streak.store(0, Ordering::Relaxed);
                // Stored before leaving the in-flight table: see the module doc.
                if let Err(err) = run.put(number, &answer, None) {
                    stop.stop(Reason::Failed);
                    self.fail(err.into());
                }
                RowResult::Answer(Arc::new(answer))
            }
            Asked::Exhausted(failure) => {
                self.note_exhausted(&failure);
                self.lock_exhausted().insert(number, failure.clone());
                RowResult::Failed(failure)
            }
            Asked::Abandoned => {
                // The run is stopping: these rows will not be written.
                self.lock_in_flight().remove(&number);
                return;
            }
        };
        let waiting = self
            .lock_in_flight()
            .remove(&number)
            .expect("the reader registers a number before spawning its job");
        let done = waiting
            .into_iter()
            .enumerate()
            .map(|(i, row)| Done {
                seq: row.seq,
                record: row.record,
                result: result.clone(),
                via: if i == 0 { Via::Api } else { Via::Duplicate },
            })
            .collect();
        self.send(done);
    }

    /// Counts numbers that ran out of retries on transient failures, and
    /// stops the run when too many in a row did.
    fn note_exhausted(&self, failure: &Failure) {
        let transient = matches!(
            failure.kind,
            FailureKind::Api(_)
                | FailureKind::Timeout
                | FailureKind::Network
                | FailureKind::Http(_)
                | FailureKind::BadResponse
        );
        if !transient {
            return;
        }
        let streak = self.down_streak.fetch_add(1, Ordering::Relaxed) + 1;
        if streak >= LOOKS_DOWN_AFTER {
            self.stages.stop.stop(Reason::LooksDown {
                numbers: streak,
                last: failure.clone(),
            });
        }
    }

    fn send(&self, done: Vec<Done>) {
        // The writer only hangs up when it failed, and then it has stopped
        // the run and kept its error: nothing to add here.
        let _ = self.done.send(done);
    }

    fn fail(&self, err: Error) {
        self.error
            .lock()
            .expect("error lock is never poisoned")
            .get_or_insert(err);
    }

    fn lock_in_flight(&self) -> std::sync::MutexGuard<'_, HashMap<Number, Vec<Waiting>>> {
        self.in_flight
            .lock()
            .expect("in-flight lock is never poisoned")
    }

    fn lock_exhausted(&self) -> std::sync::MutexGuard<'_, HashMap<Number, Failure>> {
        self.exhausted
            .lock()
            .expect("exhausted lock is never poisoned")
    }
}

/// The writer: puts rows back in input order and writes them.
fn write_in_order(
    finished: Receiver<Vec<Done>>,
    output: &mut Output,
    window: &Window,
    stages: &Stages,
) -> Result<Rows, Error> {
    let mut rows = Rows::default();
    let mut early: BTreeMap<u64, Done> = BTreeMap::new();
    let mut next = 0u64;
    let mut arrived = finished.recv().ok();
    while let Some(batch) = arrived.take() {
        for done in batch {
            if done.seq != next {
                early.insert(done.seq, done);
                continue;
            }
            // In order (the common case): no detour through the buffer.
            let mut done = done;
            loop {
                output.write_row(&done.record, &done.result)?;
                rows.count(&done.result, done.via);
                next += 1;
                match early.remove(&next) {
                    Some(following) => done = following,
                    None => break,
                }
            }
        }
        arrived = match finished.try_recv() {
            Ok(batch) => Some(batch),
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => {
                // A consumer on a pipe sees the rows so far now, not at the end.
                output.flush_stdout()?;
                window.advance(next);
                stages.progress.update(&rows, stages.counters.billed());
                // Caught up: let the jobs' rows gather for a moment rather
                // than wake for each job. The reader runs up to a window
                // ahead, so nothing waits on the pause.
                std::thread::sleep(GATHER);
                finished.recv().ok()
            }
        };
    }
    window.advance(next);
    Ok(rows)
}

/// How long the writer lets finished rows gather once it has caught up.
const GATHER: Duration = Duration::from_millis(2);

/// Runs a closure when dropped, unwinding included.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// The reorder window: how far the reader may run ahead of the writer.
struct Window {
    size: u64,
    /// Rows written so far, and whether the writer has ended.
    state: Mutex<(u64, bool)>,
    room: Condvar,
}

impl Window {
    fn new(size: u64) -> Self {
        Window {
            size,
            state: Mutex::new((0, false)),
            room: Condvar::new(),
        }
    }

    /// Waits until row `seq` fits in the window. Returns `false` when the
    /// writer has ended or the run stops.
    fn wait_for_room(&self, seq: u64, stop: &Stop) -> bool {
        let mut state = self.state.lock().expect("window lock is never poisoned");
        loop {
            let (written, closed) = *state;
            if closed || stop.is_stopped() {
                return false;
            }
            if seq < written + self.size {
                return true;
            }
            // A stop does not notify this condvar: look again now and then.
            state = self
                .room
                .wait_timeout(state, Duration::from_millis(50))
                .expect("window lock is never poisoned")
                .0;
        }
    }

    fn advance(&self, written: u64) {
        let mut state = self.state.lock().expect("window lock is never poisoned");
        if state.0 != written {
            state.0 = written;
            self.room.notify_one();
        }
    }

    fn close(&self) {
        self.state.lock().expect("window lock is never poisoned").1 = true;
        self.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_the_reader_until_the_writer_advances() {
        let window = Window::new(2);
        let stop = Stop::new();
        assert!(window.wait_for_room(0, &stop));
        assert!(window.wait_for_room(1, &stop));
        std::thread::scope(|threads| {
            let reader = threads.spawn(|| window.wait_for_room(2, &stop));
            window.advance(1);
            assert!(reader.join().expect("the reader does not panic"));
        });
        window.close();
        assert!(
            !window.wait_for_room(0, &stop),
            "a closed window admits nothing"
        );
    }

    #[test]
    fn a_stop_releases_a_waiting_reader() {
        let window = Window::new(1);
        let stop = Stop::new();
        stop.stop(Reason::Interrupted);
        assert!(!window.wait_for_room(5, &stop));
    }
}
