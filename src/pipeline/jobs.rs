//! The reader's side: rows read in batches, each number resolved from a
//! request in flight, an earlier failure, the store, or a new job on the
//! pool (`ask`) that releases the rows waiting for it; and the state the
//! jobs share.
//!
//! Never asked twice within a run: a number in flight collects its
//! duplicates as waiters, and its answer is put in the store *before* the
//! number leaves the in-flight table, so a later duplicate always finds
//! one or the other. Across runs, the store's claims do the same (`ask`,
//! `held`).

use csv::ByteRecord;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::budget::Budgets;
use super::held::Held;
use super::memo::Memo;
use super::pacing::Pacing;
use super::reading::Asks;
use super::refused::RefusalWatch;
use super::{Halt, LOOKS_DOWN_AFTER, Runtime, Settings};
use crate::api::Failure;
use crate::exit::Error;
use crate::number::Number;
use crate::row::{BadCell, Finished, RowResult, Settled, Via};

/// A row waiting for its number's answer.
pub(super) struct Waiting {
    seq: u64,
    record: ByteRecord,
}

pub(super) struct Shared<'a> {
    pub(super) parts: &'a Runtime<'a>,
    pub(super) settings: &'a Settings,
    pub(super) pacing: &'a Pacing,
    pub(super) budgets: Budgets,
    /// Numbers asked and not yet answered, with the rows that wait for them.
    in_flight: Mutex<HashMap<Number, Vec<Waiting>>>,
    /// Numbers another run is asking: this run waits for its answer.
    held: Mutex<Held>,
    /// Numbers whose retries ran out in this run: their duplicates get the
    /// same failure rather than another round of retries.
    exhausted: Mutex<HashMap<Number, Failure>>,
    /// Numbers in a row that ran out of retries on transient failures.
    pub(super) down_streak: AtomicU32,
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
            budgets: Budgets::new(settings.budget),
            in_flight: Mutex::new(HashMap::new()),
            held: Mutex::new(Held::default()),
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

    /// Finds the answers for a batch of rows: from a request already in
    /// flight, an earlier failure, the answers this run has already read,
    /// the store, or new requests. Drains the batch.
    pub(super) fn resolve<'s>(
        &'s self,
        asks: &mut Asks<'_, 's>,
        batch: &mut Vec<(u64, ByteRecord, Result<Number, BadCell>)>,
        memo: &mut Memo,
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
                } else if let Some(settled) = memo.get(&number) {
                    done.push(Finished {
                        seq,
                        record,
                        number: Some(number),
                        result: RowResult::Final(settled),
                        via: Via::Store,
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
        for (number, stored) in numbers.into_iter().zip(stored) {
            let rows = wanted
                .remove(&number)
                .expect("every wanted number has rows");
            match stored {
                Some(stored) => {
                    let settled = Settled {
                        answer: stored.answer,
                        change: stored.change,
                    };
                    let result = RowResult::Final(memo.remember(number, settled));
                    finish_rows(&mut done, number, rows, &result, Via::Store);
                }
                None => {
                    // Only this thread inserts, so nobody asked for `number`
                    // between the look-ups above and here.
                    self.lock_in_flight().insert(number, rows);
                    asks.ask(self, number);
                }
            }
        }
        self.send(done);
        Ok(())
    }

    /// Releases the rows waiting for `number` with `result`; the first row
    /// got it `via`, the others are its duplicates.
    pub(super) fn release(&self, number: Number, result: RowResult, via: Via) {
        let waiting = self
            .lock_in_flight()
            .remove(&number)
            .expect("the reader registers a number before spawning its job");
        let mut done = Vec::with_capacity(waiting.len());
        finish_rows(&mut done, number, waiting, &result, via);
        self.send(done);
    }

    /// Drops the rows of `number`: the run is stopping and will not write
    /// them.
    pub(super) fn abandon(&self, number: &Number) {
        self.lock_in_flight().remove(number);
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
    pub(super) fn note_exhausted(&self, failure: &Failure) {
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

    pub(super) fn refusals(&self) -> MutexGuard<'_, RefusalWatch> {
        // A count: whole after any panic.
        self.refusals.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn lock_held(&self) -> MutexGuard<'_, Held> {
        self.held.lock().expect("held lock is never poisoned")
    }

    pub(super) fn lock_in_flight(&self) -> MutexGuard<'_, HashMap<Number, Vec<Waiting>>> {
        self.in_flight
            .lock()
            .expect("in-flight lock is never poisoned")
    }

    pub(super) fn lock_exhausted(&self) -> MutexGuard<'_, HashMap<Number, Failure>> {
        self.exhausted
            .lock()
            .expect("exhausted lock is never poisoned")
    }
}

/// The finished rows of `number`: the first got `result` `via`, the others
/// are duplicates sharing it.
fn finish_rows(
    done: &mut Vec<Finished>,
    number: Number,
    rows: Vec<Waiting>,
    result: &RowResult,
    via: Via,
) {
    done.extend(rows.into_iter().enumerate().map(|(i, row)| Finished {
        seq: row.seq,
        record: row.record,
        number: Some(number),
        result: result.clone(),
        via: if i == 0 { via } else { Via::Duplicate },
    }));
}
