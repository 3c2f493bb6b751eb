//! The report of one run (DESIGN §8): [`Summary`] from the counts, the
//! facts known before the run and how it ended; its JSON for a scheduler
//! and its human form for stderr.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use super::{Counters, Rows, rfc3339};
use crate::exit::Exit;
use crate::halt::Halt;

/// The version of the summary JSON's layout.
pub const SCHEMA: u32 = 1;

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

fn join(counts: &BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(key, count)| format!("{key}: {count}"))
        .collect::<Vec<_>>()
        .join("   ")
}
