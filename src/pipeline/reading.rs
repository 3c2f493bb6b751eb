//! The reader's loop: rows read in batches and resolved, until the input
//! ends and every number is answered.
//!
//! The worker pool starts only when the first number has to be asked. A
//! rerun answered from the store never starts it: a pool of up to
//! [`MAX_AUTO`](crate::concurrency::MAX_AUTO) threads costs a tenth of a
//! second of CPU to start (its idle workers look for work before they
//! sleep), which a small or fully cached run would otherwise spend on
//! nothing. So the loop runs twice at most: without the pool, until it
//! has numbers to ask ([`Read::NeedsPool`]); then, from where it stopped,
//! with them.

use csv::ByteRecord;
use std::time::Duration;

use super::Window;
use super::held::LOOK_EVERY;
use super::jobs::Shared;
use super::memo::{self, Memo};
use crate::exit::Error;
use crate::input::{Batches, Input};
use crate::number::Number;
use crate::row::{BadCell, parse_cell};

/// Rows read, looked up and sent to the writer together: one store
/// transaction and one channel message per batch instead of per row. A
/// streamed input hands on what it has when it runs dry
/// (`Batches::Threaded`), so a slow pipe's rows never wait for a full
/// batch. 1,024 rather than 256 halves the thread wake-ups of a cached
/// rerun (about 10% of its CPU, BENCHMARKS.md "Round 2, third pass").
const BATCH: usize = 1024;

/// Where the numbers to ask go: the pool once it runs, else a list that
/// starts it.
pub(super) enum Asks<'r, 's> {
    Before(Vec<Number>),
    Pool(&'r rayon::Scope<'s>),
}

impl<'s> Asks<'_, 's> {
    /// Asks `number`, whose rows wait in the in-flight table.
    pub(super) fn ask(&mut self, shared: &'s Shared<'_>, number: Number) {
        match self {
            Asks::Before(numbers) => numbers.push(number),
            Asks::Pool(scope) => scope.spawn(move |_| shared.ask(number)),
        }
    }

    fn need_pool(&self) -> bool {
        matches!(self, Asks::Before(numbers) if !numbers.is_empty())
    }
}

/// How far [`Shared::read`] went.
pub(super) enum Read {
    /// Every row read and answered: this many.
    Done(u64),
    /// Numbers to ask (in [`Asks::Before`]): start the pool and read on.
    NeedsPool,
}

/// The reader's place in the input, kept while the pool starts.
pub(super) struct Reading {
    batches: Batches,
    column: usize,
    batch_size: usize,
    /// The next row's place in the input.
    seq: u64,
    batch: Vec<(u64, ByteRecord, Result<Number, BadCell>)>,
    memo: Memo,
    ended: bool,
}

impl Reading {
    pub(super) fn new(input: Input, window: usize) -> Result<Reading, Error> {
        let batch_size = BATCH.min(window.max(1));
        let column = input.column;
        Ok(Reading {
            batches: input.into_batches(batch_size)?,
            column,
            batch_size,
            seq: 0,
            batch: Vec::with_capacity(batch_size),
            memo: Memo::new(memo::CAPACITY),
            ended: false,
        })
    }
}

impl<'a> Shared<'a> {
    /// Reads every row and resolves it; then waits until every number is
    /// answered, those other runs are asking included. Stops early, with
    /// [`Read::NeedsPool`], when it has numbers to ask and no pool yet.
    pub(super) fn read<'s>(
        &'s self,
        reading: &mut Reading,
        window: &Window,
        asks: &mut Asks<'_, 's>,
    ) -> Result<Read, Error>
    where
        'a: 's,
    {
        let stop = self.parts.stop;
        while !reading.ended && !stop.is_stopped() {
            if asks.need_pool() {
                return Ok(Read::NeedsPool);
            }
            let last = reading.seq + reading.batch_size as u64 - 1;
            if !window.wait_for_room(last, stop, &mut || self.tend(asks)) {
                break;
            }
            let Some(records) = reading.batches.next(stop) else {
                reading.ended = true;
                break;
            };
            for record in records? {
                let number = parse_cell(&record, reading.column);
                reading.batch.push((reading.seq, record, number));
                reading.seq += 1;
            }
            self.resolve(asks, &mut reading.batch, &mut reading.memo)?;
            self.tend(asks);
        }
        // The numbers still unanswered: asked by jobs, or held by other
        // runs (whose jobs may put them there at any moment).
        while !stop.is_stopped() && !self.lock_in_flight().is_empty() {
            if asks.need_pool() {
                return Ok(Read::NeedsPool);
            }
            std::thread::sleep(LOOK_EVERY.min(Duration::from_millis(50)));
            self.tend(asks);
        }
        Ok(Read::Done(reading.seq))
    }
}
