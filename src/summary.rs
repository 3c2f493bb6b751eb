//! What a run did, counted as it happens and reported at its end: on
//! stderr for people, as JSON (`--summary-json`, DESIGN §8) for a scheduler.
//!
//! Wire-level counts (requests, retries, billed, in flight) are atomics
//! bumped by the workers; row-level counts are kept by the writer, which
//! sees every row. Distinct numbers are counted exactly in a compressed
//! bitmap (about two bytes a number), so memory stays small on files of
//! millions of rows.

use roaring::RoaringTreemap;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use crate::api::{Answer, Verdict};
use crate::change::Change;
use crate::client::Attempt;
use crate::exit::Exit;
use crate::halt::Halt;
use crate::row::{BUDGET, Finished, INVALID_NUMBER, RowResult, Unasked, Via};

/// The version of the summary JSON's layout.
pub const SCHEMA: u32 = 1;

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
            // A valid number is 11 ASCII digits: it always parses.
            let key = number.as_str().parse().expect("a number is 11 digits");
            self.distinct.insert(key);
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

/// What a run was asked to do, known before it starts (so that even a run
/// refused at its command line has a summary).
#[derive(Clone, Debug, Default)]
pub struct Facts {
    /// The ledger's run id, once the run has joined its store.
    pub run: Option<String>,
    pub started: Option<SystemTime>,
    pub input: Option<String>,
    pub output: Option<String>,
    /// Where the store is, without a password.
    pub store: Option<String>,
    pub endpoint: Option<String>,
    pub sandbox: bool,
    pub qps: Option<u32>,
    /// Whether the encrypted endpoint was used (for the stop's advice).
    pub encrypted: bool,
}

/// The report of one run: the summary JSON of DESIGN §8.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub schema: u32,
    pub version: &'static str,
    pub run: Option<String>,
    pub started_at: String,
    pub finished_at: String,
    pub input: Option<String>,
    pub output: Option<String>,
    pub store: Option<String>,
    pub endpoint: Option<String>,
    pub sandbox: bool,
    pub qps: Option<u32>,
    /// The most requests that were in flight at once.
    pub concurrency: u64,
    pub rows: u64,
    pub valid: u64,
    pub invalid: u64,
    /// Distinct valid numbers in the input.
    pub distinct: u64,
    /// Rows answered from the store.
    pub from_store: u64,
    /// Valid rows repeating an earlier number of the file.
    pub duplicate_rows: u64,
    /// Distinct numbers asked of the API in this run, answered or not.
    pub asked: u64,
    pub requests: u64,
    pub retries: u64,
    /// Successful answers, which the API bills.
    pub billed: u64,
    /// Answers of 10011: requests beyond the API's limit for this address.
    pub throttled: u64,
    /// Rows without a final answer: a rerun retries only those.
    pub failed_rows: u64,
    pub errors: BTreeMap<String, u64>,
    pub tenure: BTreeMap<String, u64>,
    pub changes: BTreeMap<String, u64>,
    pub elapsed_secs: f64,
    /// Requests per second over the run.
    pub request_rate: f64,
    pub exit_code: u8,
    /// Why the run did not end with exit 0, as a stable code.
    pub stopped: Option<&'static str>,
    /// The API's code behind the stop, if any.
    pub stopped_code: Option<i64>,
    /// What happened and what to do, in a sentence or two.
    pub message: Option<String>,
}

/// The version and build, as `--version` says it.
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

impl Summary {
    /// The summary of a run that got as far as running the pipeline.
    pub fn of_run(
        facts: &Facts,
        rows: &Rows,
        counters: &Counters,
        exit: Exit,
        halt: Option<&Halt>,
    ) -> Summary {
        let mut summary = Summary::empty(facts, exit);
        let requests = counters.requests();
        summary.concurrency = counters.most_in_flight.load(Ordering::Relaxed);
        summary.rows = rows.rows;
        summary.valid = rows.rows - rows.invalid;
        summary.invalid = rows.invalid;
        summary.distinct = rows.distinct();
        summary.from_store = rows.from_store;
        summary.duplicate_rows = summary.valid.saturating_sub(summary.distinct);
        summary.asked = counters.asked.load(Ordering::Relaxed);
        summary.requests = requests;
        summary.retries = counters.retries.load(Ordering::Relaxed);
        summary.billed = counters.billed();
        summary.throttled = counters.throttled.load(Ordering::Relaxed);
        summary.failed_rows = rows.failed + rows.unasked;
        summary.errors = rows.errors.clone();
        summary.tenure = rows.tenure.clone();
        summary.changes = rows.changes.clone();
        summary.request_rate = if summary.elapsed_secs > 0.0 {
            requests as f64 / summary.elapsed_secs
        } else {
            0.0
        };
        summary.stopped = match (exit, halt) {
            (_, Some(halt)) => halt
                .stopped(facts.encrypted)
                .map(|stopped| stopped.as_str())
                .or(Some(exit_word(exit))),
            (Exit::Success, None) => None,
            (Exit::Partial, None) if rows.unasked > 0 => Some("budget"),
            (Exit::Partial, None) => Some("failed"),
            (exit, None) => Some(exit_word(exit)),
        };
        summary.stopped_code = halt.and_then(Halt::api_code);
        summary.message = halt.map(|halt| halt.advice(facts.encrypted));
        if summary.throttled > 0 && !matches!(halt, Some(Halt::Throttled { .. })) {
            let advice = throttle_advice(summary.throttled);
            summary.message = Some(match summary.message.take() {
                Some(message) => format!("{message}; {advice}"),
                None => advice,
            });
        }
        summary
    }

    /// The summary of a run that ended before its pipeline ran (a usage or
    /// input error, exit 2) or with an error: every count 0.
    pub fn of_error(facts: &Facts, exit: Exit, message: String) -> Summary {
        let mut summary = Summary::empty(facts, exit);
        summary.stopped = Some(exit_word(exit));
        summary.message = Some(message);
        summary
    }

    fn empty(facts: &Facts, exit: Exit) -> Summary {
        let finished = SystemTime::now();
        let started = facts.started.unwrap_or(finished);
        Summary {
            schema: SCHEMA,
            version: version(),
            run: facts.run.clone(),
            started_at: rfc3339(started),
            finished_at: rfc3339(finished),
            input: facts.input.clone(),
            output: facts.output.clone(),
            store: facts.store.clone(),
            endpoint: facts.endpoint.clone(),
            sandbox: facts.sandbox,
            qps: facts.qps,
            concurrency: 0,
            rows: 0,
            valid: 0,
            invalid: 0,
            distinct: 0,
            from_store: 0,
            duplicate_rows: 0,
            asked: 0,
            requests: 0,
            retries: 0,
            billed: 0,
            throttled: 0,
            failed_rows: 0,
            errors: BTreeMap::new(),
            tenure: BTreeMap::new(),
            changes: BTreeMap::new(),
            elapsed_secs: finished
                .duration_since(started)
                .unwrap_or(Duration::ZERO)
                .as_secs_f64(),
            request_rate: 0.0,
            exit_code: exit.code(),
            stopped: None,
            stopped_code: None,
            message: None,
        }
    }

    /// The human form, for stderr.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let simulated = if self.sandbox {
            "  (SIMULATED answers from the built-in sandbox, not the real API)"
        } else {
            ""
        };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "summary{simulated}");
        let _ = writeln!(
            out,
            "  rows {}   valid {}   invalid {}   distinct numbers {}",
            self.rows, self.valid, self.invalid, self.distinct
        );
        let _ = writeln!(
            out,
            "  rows from the store {}   duplicate rows {}   numbers asked {}",
            self.from_store, self.duplicate_rows, self.asked
        );
        let _ = writeln!(
            out,
            "  requests {}   retries {}   billed {}   failed rows {}",
            self.requests, self.retries, self.billed, self.failed_rows
        );
        if !self.tenure.is_empty() {
            let _ = writeln!(out, "  tenure  {}", join(&self.tenure));
        }
        if !self.changes.is_empty() {
            let _ = writeln!(out, "  changes  {}", join(&self.changes));
        }
        if !self.errors.is_empty() {
            let _ = writeln!(out, "  errors  {}", join(&self.errors));
        }
        let _ = writeln!(
            out,
            "  elapsed {:.1}s   {:.1} requests/s   at most {} in flight",
            self.elapsed_secs, self.request_rate, self.concurrency
        );
        if self.throttled > 0 {
            let _ = writeln!(out, "  {}", throttle_advice(self.throttled));
        }
        out
    }
}

/// What to do about 10011s (DESIGN §8).
fn throttle_advice(times: u64) -> String {
    format!(
        "the API answered 10011 (too many requests from this address) {times} time{}: lower \
         --qps, or check whether another job uses the same key",
        if times == 1 { "" } else { "s" }
    )
}

/// The `stopped` word of an exit without a halt of the API's.
fn exit_word(exit: Exit) -> &'static str {
    match exit {
        Exit::Success => "none",
        Exit::Partial => "failed",
        Exit::Usage => "usage",
        Exit::Stopped => "stopped",
        Exit::Environment => "environment",
        Exit::Internal => "internal",
        Exit::Interrupted => "interrupted",
    }
}

/// A time as RFC 3339 in UTC, to the second.
pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

fn join(counts: &BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(key, count)| format!("{key}: {count}"))
        .collect::<Vec<_>>()
        .join("   ")
}

#[cfg(test)]
mod tests;
