//! What a run did, counted as it happens and reported at its end: on
//! stderr for people, as JSON (`--summary-json`, DESIGN §8) for a scheduler.
//!
//! Wire-level counts (requests, retries, billed, in flight) are atomics
//! bumped by the workers; row-level counts are kept by the writer, which
//! sees every row. Distinct numbers are counted exactly in a compressed
//! bitmap (about two bytes a number), so memory stays small on files of
//! millions of rows.
//!
//! The report built from the counts at the end is `report`'s.

mod report;

pub use report::{Facts, Summary};

use roaring::RoaringTreemap;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use crate::api::{Answer, Verdict};
use crate::change::Change;
use crate::client::Attempt;
use crate::row::{BUDGET, Finished, INVALID_NUMBER, RowResult, Unasked, Via};

/// Counts bumped by the workers.
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    billed: AtomicU64,
    /// Distinct numbers asked of the API, answered or not.
    asked: AtomicU64,
    in_flight: AtomicU64,
    most_in_flight: AtomicU64,
    /// Answers of 10011 (too many requests from this address).
    throttled: AtomicU64,
}

impl Counters {
    /// One request as it goes.
    pub fn attempt(&self, attempt: &Attempt) {
        match attempt {
            Attempt::Sending { retry } => {
                self.requests.fetch_add(1, Ordering::Relaxed);
                let counter = if *retry { &self.retries } else { &self.asked };
                counter.fetch_add(1, Ordering::Relaxed);
                let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
                self.most_in_flight.fetch_max(now, Ordering::Relaxed);
            }
            Attempt::Done { verdict, .. } => {
                self.in_flight.fetch_sub(1, Ordering::Relaxed);
                if let Verdict::SlowDown(_) = verdict {
                    self.throttled.fetch_add(1, Ordering::Relaxed);
                }
                if let Verdict::Final(reply) = verdict
                    && reply.answer.is_billed()
                {
                    self.billed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    pub fn billed(&self) -> u64 {
        self.billed.load(Ordering::Relaxed)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

/// Counts kept by the writer, one row at a time.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rows {
    pub rows: u64,
    pub invalid: u64,
    /// Rows answered from the store (an earlier run, or an earlier row
    /// whose answer had reached the store).
    pub from_store: u64,
    /// Rows with no final answer (retries ran out).
    pub failed: u64,
    /// Rows the budget left unasked.
    pub unasked: u64,
    pub errors: BTreeMap<String, u64>,
    pub tenure: BTreeMap<String, u64>,
    /// Successes by change: `new`, `same`, and each kind.
    pub changes: BTreeMap<String, u64>,
    /// The distinct valid numbers seen, as integers.
    distinct: RoaringTreemap,
}

impl Rows {
    pub fn count(&mut self, row: &Finished) {
        self.rows += 1;
        if let Some(number) = &row.number {
            self.distinct.insert(number.to_u64());
        }
        match row.via {
            Via::Invalid => self.invalid += 1,
            Via::Store => self.from_store += 1,
            Via::Duplicate | Via::Api => {}
        }
        match &row.result {
            RowResult::Final(settled) => match &settled.answer {
                Answer::Tenure(tenure) => {
                    bump(&mut self.tenure, &tenure.code);
                    if let Some(change) = settled.change {
                        self.count_change(change);
                    }
                }
                Answer::Declined { code, .. } => bump(&mut self.errors, &code.to_string()),
                Answer::BilledWithoutCode { .. } => {
                    bump(&mut self.errors, crate::api::BILLED_WITHOUT_CODE);
                }
            },
            RowResult::Failed(failure) => {
                self.failed += 1;
                bump(&mut self.errors, &failure.kind.to_string());
            }
            RowResult::Invalid(_) => bump(&mut self.errors, INVALID_NUMBER),
            RowResult::Unasked(Unasked::Budget) => {
                self.unasked += 1;
                bump(&mut self.errors, BUDGET);
            }
        }
    }

    /// Counts a success's change: `new`, `same`, or each of its kinds.
    fn count_change(&mut self, change: Change) {
        match change {
            Change::New | Change::Same => bump(&mut self.changes, change.as_str()),
            Change::Changed(_) => {
                for kind in change.kinds() {
                    bump(&mut self.changes, kind.as_str());
                }
            }
        }
    }

    /// Distinct valid numbers seen.
    pub fn distinct(&self) -> u64 {
        self.distinct.len()
    }

    /// Errors of every kind, for progress.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

fn bump(counts: &mut BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(count) => *count += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

/// A time as RFC 3339 in UTC, to the second.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests;
