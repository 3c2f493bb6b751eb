//! What a run did, counted as it happens and reported at its end: on
//! stderr for people, as JSON (`--summary-json`) for monitoring.
//!
//! Wire-level counts (requests, retries, billed) are atomics bumped by the
//! workers; row-level counts are kept by the writer, which sees every row.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::api::{Answer, Verdict};
use crate::client::Attempt;
use crate::row::{INVALID_NUMBER, RowResult, Via};

/// Counts bumped by the workers.
#[derive(Debug, Default)]
pub struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    billed: AtomicU64,
    numbers: AtomicU64,
}

impl Counters {
    /// One request went out and came back as `attempt` says.
    pub fn attempt(&self, attempt: &Attempt) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let counter = if attempt.retry {
            &self.retries
        } else {
            // A number's first request: it is asked, whatever comes back.
            &self.numbers
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Verdict::Final(reply) = attempt.verdict
            && reply.answer.is_billed()
        {
            self.billed.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn billed(&self) -> u64 {
        self.billed.load(Ordering::Relaxed)
    }
}

/// Counts kept by the writer, one row at a time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rows {
    pub rows: u64,
    pub invalid: u64,
    pub from_store: u64,
    pub duplicates: u64,
    /// Rows with no final answer (retries ran out).
    pub failed: u64,
    pub by_error_code: BTreeMap<String, u64>,
    pub tenure: BTreeMap<String, u64>,
}

impl Rows {
    pub fn count(&mut self, result: &RowResult, via: Via) {
        self.rows += 1;
        match via {
            Via::Invalid => self.invalid += 1,
            Via::Store => self.from_store += 1,
            Via::Duplicate => self.duplicates += 1,
            Via::Api => {}
        }
        match result {
            RowResult::Final(answer) => match answer.as_ref() {
                Answer::Tenure(tenure) => bump(&mut self.tenure, &tenure.code),
                Answer::Declined { code, .. } => bump(&mut self.by_error_code, &code.to_string()),
                Answer::BilledWithoutCode { .. } => {
                    bump(&mut self.by_error_code, crate::api::BILLED_WITHOUT_CODE);
                }
            },
            RowResult::Failed(failure) => {
                self.failed += 1;
                bump(&mut self.by_error_code, &failure.kind.to_string());
            }
            RowResult::Invalid(_) => bump(&mut self.by_error_code, INVALID_NUMBER),
        }
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

/// The report of one run.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Answers came from the built-in simulator, not the real API.
    pub simulated: bool,
    pub rows: u64,
    pub valid: u64,
    pub invalid: u64,
    /// Distinct numbers asked of the API in this run, answered or not.
    pub numbers_asked: u64,
    /// Rows answered from the store (earlier runs, or earlier rows).
    pub from_store: u64,
    /// Rows that shared a request with an earlier row of the same number.
    pub duplicates: u64,
    pub requests: u64,
    pub retries: u64,
    /// Successful answers, which the API bills.
    pub billed: u64,
    /// Rows without a final answer: a rerun retries only those.
    pub failed: u64,
    pub by_error_code: BTreeMap<String, u64>,
    pub tenure: BTreeMap<String, u64>,
    pub elapsed_secs: f64,
    /// Requests per second over the run.
    pub request_rate: f64,
    /// Why the run stopped early, if it did.
    pub stopped: Option<String>,
    pub exit_code: u8,
}

impl Summary {
    pub fn new(rows: &Rows, counters: &Counters, elapsed: Duration, simulated: bool) -> Self {
        let requests = counters.requests.load(Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        Summary {
            simulated,
            rows: rows.rows,
            valid: rows.rows - rows.invalid,
            invalid: rows.invalid,
            numbers_asked: counters.numbers.load(Ordering::Relaxed),
            from_store: rows.from_store,
            duplicates: rows.duplicates,
            requests,
            retries: counters.retries.load(Ordering::Relaxed),
            billed: counters.billed.load(Ordering::Relaxed),
            failed: rows.failed,
            by_error_code: rows.by_error_code.clone(),
            tenure: rows.tenure.clone(),
            elapsed_secs: secs,
            request_rate: if secs > 0.0 {
                requests as f64 / secs
            } else {
                0.0
            },
            stopped: None,
            exit_code: 0,
        }
    }

    /// The human form, for stderr.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let simulated = if self.simulated {
            "  (SIMULATED answers from the built-in sandbox, not the real API)"
        } else {
            ""
        };
        // Writing to a String cannot fail.
        let _ = writeln!(out, "tenure: summary{simulated}");
        let _ = writeln!(
            out,
            "  rows {}   valid {}   invalid {}",
            self.rows, self.valid, self.invalid
        );
        let _ = writeln!(
            out,
            "  numbers asked {}   rows from the store {}   duplicate rows {}",
            self.numbers_asked, self.from_store, self.duplicates
        );
        let _ = writeln!(
            out,
            "  requests {}   retries {}   billed {}   failed rows {}",
            self.requests, self.retries, self.billed, self.failed
        );
        if !self.tenure.is_empty() {
            let _ = writeln!(out, "  tenure  {}", join(&self.tenure));
        }
        if !self.by_error_code.is_empty() {
            let _ = writeln!(out, "  errors  {}", join(&self.by_error_code));
        }
        let _ = writeln!(
            out,
            "  elapsed {:.1}s   {:.1} requests/s",
            self.elapsed_secs, self.request_rate
        );
        if let Some(stopped) = &self.stopped {
            let _ = writeln!(out, "  {stopped}");
        }
        out
    }
}

fn join(counts: &BTreeMap<String, u64>) -> String {
    counts
        .iter()
        .map(|(key, count)| format!("{key}: {count}"))
        .collect::<Vec<_>>()
        .join("   ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Failure, FailureKind, Tenure};

    #[test]
    fn rows_are_counted_by_result_and_provenance() {
        let tenure = RowResult::Final(std::sync::Arc::new(Answer::Tenure(Tenure {
            code: "3".into(),
            desc: "(24,+)".into(),
            province: "江苏".into(),
            city: "苏州".into(),
            isp: "移动".into(),
        })));
        let failed = RowResult::Failed(Failure {
            kind: FailureKind::Timeout,
            message: "timed out".into(),
        });
        let mut rows = Rows::default();
        rows.count(&tenure, Via::Api);
        rows.count(&tenure, Via::Duplicate);
        rows.count(&tenure, Via::Store);
        rows.count(&failed, Via::Api);
        let empty = crate::row::BadCell::Number(crate::number::Invalid::Empty);
        rows.count(&RowResult::Invalid(empty), Via::Invalid);
        assert_eq!((rows.rows, rows.invalid, rows.failed), (5, 1, 1));
        assert_eq!((rows.from_store, rows.duplicates), (1, 1));
        assert_eq!(rows.tenure.get("3"), Some(&3));
        assert_eq!(rows.by_error_code.get("timeout"), Some(&1));
        assert_eq!(rows.by_error_code.get("invalid_number"), Some(&1));
        let summary = Summary::new(&rows, &Counters::default(), Duration::from_secs(1), true);
        assert_eq!(summary.valid, 4);
        assert!(summary.render().contains("SIMULATED"));
    }
}
