//! The reader's side and the jobs: rows read in batches, each number
//! resolved from a request in flight, an earlier failure, the store, or a
//! new job on the pool that asks the API and releases the rows waiting.

use csv::ByteRecord;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, PoisonError};

use super::pacing::Pacing;
use super::refused::RefusalWatch;
use super::{Halt, LOOKS_DOWN_AFTER, OnDrop, Runtime, Settings, Window};
use crate::api::Failure;
use crate::api::Verdict;
use crate::client::{Asked, Attempt};
use crate::exit::Error;
use crate::input::Input;
use crate::limiter::GIVE_UP_THROTTLED;
use crate::number::Number;
use crate::row::{BadCell, Finished, RowResult, Via, parse_cell};

/// Rows read, looked up and sent to the writer together: one store
/// transaction and one channel message per batch instead of per row.
const BATCH: usize = 256;

/// A row waiting for its number's answer.
struct Waiting {
    seq: u64,
    record: ByteRecord,
}

pub(super) struct Shared<'a> {
    parts: &'a Runtime<'a>,
    settings: &'a Settings,
    pacing: &'a Pacing,
    /// Numbers asked and not yet answered, with the rows that wait for them.
    in_flight: Mutex<HashMap<Number, Vec<Waiting>>>,
    /// Numbers whose retries ran out in this run: their duplicates get the
    /// same failure rather than another round of retries.
    exhausted: Mutex<HashMap<Number, Failure>>,
    /// Numbers in a row that ran out of retries on transient failures.
    down_streak: AtomicU32,
    /// Whether the first answers are all refusals (DESIGN §8).
    refusals: Mutex<RefusalWatch>,
    /// Why the run ends early: the first halt wins.
    halt: Mutex<Option<Halt>>,
    done: Sender<Vec<Finished>>,
}

impl<'a> Shared<'a> {
    pub(super) fn new(
        parts: &'a Runtime<'a>,
        settings: &'a Settings,
        pacing: &'a Pacing,
        done: Sender<Vec<Finished>>,
    ) -> Self {
        Shared {
            parts,
            settings,
            pacing,
            in_flight: Mutex::new(HashMap::new()),
            exhausted: Mutex::new(HashMap::new()),
            down_streak: AtomicU32::new(0),
            refusals: Mutex::new(RefusalWatch::default()),
            halt: Mutex::new(None),
            done,
        }
    }

    /// Once every job has ended: hangs up on the writer, so that it drains
    /// its channel and returns, and says why the run halted, if it did.
    pub(super) fn finish(self) -> Option<Halt> {
        drop(self.done);
        let halt = self
            .halt
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        let refusals = self
            .refusals
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        halt.or_else(|| refusals.refused_at_end().then_some(Halt::Refused))
    }

    pub(super) fn read_all<'s>(
        &'s self,
        input: Input,
        window: &Window,
        scope: &rayon::Scope<'s>,
    ) -> Result<(), Error> {
        let stop = self.parts.stop;
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
                        done.push(Finished {
                            seq,
                            record,
                            number: None,
                            result: RowResult::Invalid(reason),
                            via: Via::Invalid,
                        });
                        continue;
                    }
                };
                if let Some(waiting) = in_flight.get_mut(&number) {
                    waiting.push(Waiting { seq, record });
                } else if let Some(failure) = exhausted.get(&number) {
                    done.push(Finished {
                        seq,
                        record,
                        number: Some(number),
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
        let stored = self.parts.store.get_many(&numbers, self.settings.max_age)?;
        for (number, answer) in numbers.into_iter().zip(stored) {
            let rows = wanted
                .remove(&number)
                .expect("every wanted number has rows");
            match answer {
                Some(answer) => {
                    let answer = Arc::new(answer);
                    for (i, row) in rows.into_iter().enumerate() {
                        done.push(Finished {
                            seq: row.seq,
                            record: row.record,
                            number: Some(number),
                            result: RowResult::Final(Arc::clone(&answer)),
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
                self.parts.stop.stop();
            }
        });
        let Runtime {
            client,
            limiter,
            store,
            stop,
            counters: _,
            ..
        } = self.parts;
        let asked = match self.pacing.slot(stop) {
            None => Asked::Abandoned,
            Some(_slot) => client.ask(
                &number,
                limiter,
                stop,
                self.settings.retry,
                &mut |attempt| self.observe(attempt),
            ),
        };
        let result = match asked {
            Asked::Answered(reply) => {
                self.down_streak.store(0, Ordering::Relaxed);
                let refused = self
                    .refusals
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .observe(&reply.answer);
                if refused {
                    self.halt(Halt::Refused);
                }
                // Stored before leaving the in-flight table: see the module doc.
                if let Err(err) = store.put(number, &reply.answer, client.endpoint()) {
                    self.halt(Halt::Failed(err.into()));
                }
                RowResult::Final(Arc::new(reply.answer))
            }
            Asked::Exhausted(failure) => {
                self.note_exhausted(&failure);
                self.lock_exhausted().insert(number, failure.clone());
                RowResult::Failed(failure)
            }
            Asked::Fatal(failure) => {
                self.halt(Halt::Fatal(failure));
                self.lock_in_flight().remove(&number);
                return;
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
            .map(|(i, row)| Finished {
                seq: row.seq,
                record: row.record,
                number: Some(number),
                result: result.clone(),
                via: if i == 0 { Via::Api } else { Via::Duplicate },
            })
            .collect();
        self.send(done);
    }

    /// One request as it goes: counted, its latency measured, and a 10011
    /// that goes on at the slowest rate ends the run (DESIGN §8).
    fn observe(&self, attempt: &Attempt) {
        let Runtime {
            limiter,
            counters,
            log,
            ..
        } = self.parts;
        counters.attempt(attempt);
        let Attempt::Done { verdict, elapsed } = attempt else {
            return;
        };
        self.pacing.observe(*elapsed, limiter, log);
        if let Verdict::SlowDown(failure) = verdict
            && limiter
                .throttled_for()
                .is_some_and(|throttled| throttled >= GIVE_UP_THROTTLED)
        {
            self.halt(Halt::Throttled {
                last: failure.clone(),
            });
        }
    }

    /// Ends the run early for `halt`, unless it already ends for another
    /// reason: the one place that decides to stop.
    pub(super) fn halt(&self, halt: Halt) {
        self.halt
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert(halt);
        self.parts.stop.stop();
    }

    /// Counts numbers that ran out of retries on transient failures, and
    /// stops the run when too many in a row did.
    fn note_exhausted(&self, failure: &Failure) {
        let streak = self.down_streak.fetch_add(1, Ordering::Relaxed) + 1;
        if streak >= LOOKS_DOWN_AFTER {
            self.halt(Halt::LooksDown {
                numbers: streak,
                last: failure.clone(),
            });
        }
    }

    fn send(&self, done: Vec<Finished>) {
        // The writer only hangs up when it failed, and then its error ends
        // the run: nothing to add here.
        let _ = self.done.send(done);
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
