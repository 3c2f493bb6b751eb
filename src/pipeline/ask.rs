//! A job on the pool: one number asked of the API, across runs as well as
//! within this one.
//!
//! ```text
//! slot ─▶ claim in the store ─▶ gate (permit, lease, budget) ─▶ POST ─▶ ledger ─▶ store ─▶ rows
//!          Mine: ask          another run holds it: wait (held.rs)      answered: its answer
//! ```
//!
//! A number is claimed only once a slot is free to send it (DESIGN §4), and
//! its claim is released whenever this run gives it up without an answer,
//! so another run can take it at once.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::budget::Allowance;
use super::jobs::Shared;
use super::{Halt, OnDrop, Runtime};
use crate::api::{FailureKind, Verdict};
use crate::client::{Admit, Asked, Attempt, Gate};
use crate::limiter::GIVE_UP_THROTTLED;
use crate::number::Number;
use crate::row::{RowResult, Settled, Unasked, Via};
use crate::stop::Stop;
use crate::store::{Claim, Outcome, Request};

impl<'a> Shared<'a> {
    /// Asks about `number`, whose rows wait in the in-flight table, and
    /// releases them with what came of it.
    pub(super) fn ask(&self, number: Number) {
        // A panicking job never releases its rows: the writer would wait
        // for them forever. Stop the run instead (the panic then surfaces
        // when the pool's scope ends).
        let _panic_stops = OnDrop(|| {
            if std::thread::panicking() {
                self.parts.stop.stop();
            }
        });
        let Runtime {
            client, run, stop, ..
        } = self.parts;
        let Some(_slot) = self.pacing.slot(stop) else {
            return self.abandon(&number);
        };
        if !self.claim(number) {
            return;
        }
        let mut to_commit = false;
        let asked = client.ask(&number, self, stop, self.settings.retry, &mut |attempt| {
            self.observe(attempt)
        });
        let result = match asked {
            Asked::Answered(reply) => {
                self.down_streak.store(0, Ordering::Relaxed);
                if self.refusals().observe(&reply.answer) {
                    self.halt(Halt::Refused);
                }
                // Stored before leaving the in-flight table: see `jobs`.
                let change = match run.put(number, &reply.answer, reply.orderid.as_deref()) {
                    Ok(change) => {
                        to_commit = true;
                        change
                    }
                    Err(err) => {
                        self.halt(Halt::Failed(err.into()));
                        None
                    }
                };
                RowResult::Final(Arc::new(Settled {
                    answer: reply.answer,
                    change,
                }))
            }
            Asked::Exhausted(failure) => {
                self.give_back(&number);
                self.note_exhausted(&failure);
                self.lock_exhausted().insert(number, failure.clone());
                RowResult::Failed(failure)
            }
            Asked::OverBudget => {
                self.give_back(&number);
                RowResult::Unasked(Unasked::Budget)
            }
            Asked::Fatal(failure) => {
                self.give_back(&number);
                self.halt(Halt::Fatal(failure));
                return self.abandon(&number);
            }
            Asked::Abandoned => {
                self.give_back(&number);
                return self.abandon(&number);
            }
        };
        self.release(number, result, Via::Api);
        // The slot stays taken until the answer, and the release of its
        // claim with it, is committed: a run never holds more claims than
        // slots (DESIGN §4), so a kill -9 loses at most its requests in
        // flight, however far the store lags behind the API.
        if to_commit {
            self.commit();
        }
    }

    /// Claims `number` for this run. `false` when its rows are dealt with
    /// otherwise: answered meanwhile, held by another run, or the store
    /// failed.
    fn claim(&self, number: Number) -> bool {
        match self.parts.run.claim(&number, self.settings.max_age) {
            Ok(Claim::Mine) => true,
            Ok(Claim::Answered(stored)) => {
                let settled = Settled {
                    answer: stored.answer,
                    change: stored.change,
                };
                self.release(number, RowResult::Final(Arc::new(settled)), Via::Store);
                false
            }
            Ok(Claim::Held) => {
                self.hold(number);
                false
            }
            Err(err) => {
                self.halt(Halt::Failed(err.into()));
                self.abandon(&number);
                false
            }
        }
    }

    /// Waits until the answers put so far are committed, the slot taken all
    /// along, and tells the pacing how long that took: at a low latency
    /// the commit is most of a slot's time.
    fn commit(&self) {
        let committing = Instant::now();
        if let Err(err) = self.parts.store.flush() {
            self.halt(Halt::Failed(err.into()));
        }
        self.pacing
            .observe_commit(committing.elapsed(), self.parts.limiter);
    }

    /// Gives up the claim on a number this run will not answer now, so
    /// that another run may ask it.
    fn give_back(&self, number: &Number) {
        if let Err(err) = self.parts.run.release(number) {
            self.halt(Halt::Failed(err.into()));
        }
    }

    /// One request as it goes: counted, its latency measured, its ledger
    /// entry and budget settled; a 10011 slows the run down, and 10011s
    /// that go on at the slowest rate end it (DESIGN §8).
    fn observe(&self, attempt: &Attempt) {
        let Runtime {
            limiter,
            counters,
            log,
            run,
            ..
        } = self.parts;
        counters.attempt(attempt);
        let Attempt::Done {
            verdict,
            elapsed,
            reserved,
        } = attempt
        else {
            return;
        };
        self.pacing.observe(*elapsed, limiter, log);
        let billed = matches!(verdict, Verdict::Final(reply) if reply.answer.is_billed());
        self.budgets.settle(billed);
        if let Err(err) = run.record(ledger_entry(verdict, *reserved)) {
            self.halt(Halt::Failed(err.into()));
        }
        if let Verdict::SlowDown(failure) = verdict {
            limiter.slow_down();
            if limiter
                .throttled_for()
                .is_some_and(|throttled| throttled >= GIVE_UP_THROTTLED)
            {
                self.halt(Halt::Throttled {
                    last: failure.clone(),
                });
            }
        }
    }
}

/// Before each request: a permit from the limiter (which also waits out a
/// stale lease), then room in the budget.
impl Gate for Shared<'_> {
    fn admit(&self, stop: &Stop) -> Admit {
        let Some(started) = self.parts.limiter.acquire(stop) else {
            return Admit::Stopped;
        };
        match self.budgets.reserve(self.parts.run) {
            Ok(Allowance::Send { reserved }) => Admit::Go { started, reserved },
            Ok(Allowance::OverBudget) => Admit::OverBudget,
            Err(err) => {
                self.halt(Halt::Failed(err));
                Admit::Stopped
            }
        }
    }
}

/// The ledger's entry for one request: billed, free (an answer of the
/// API's), or unanswered (no answer came: a timeout, a dropped
/// connection, a body that is not the API's).
fn ledger_entry(verdict: &Verdict, reserved: bool) -> Request {
    let (outcome, code, orderid) = match verdict {
        Verdict::Final(reply) => {
            let outcome = if reply.answer.is_billed() {
                Outcome::Billed
            } else {
                Outcome::Free
            };
            let code = match &reply.answer {
                crate::api::Answer::Declined { code, .. } => Some(code.to_string()),
                _ => None,
            };
            (outcome, code, reply.orderid.clone())
        }
        Verdict::Retry(failure) | Verdict::SlowDown(failure) | Verdict::Fatal(failure) => {
            let outcome = match failure.kind {
                FailureKind::Api(_) | FailureKind::Http(_) => Outcome::Free,
                FailureKind::Timeout | FailureKind::Network | FailureKind::BadResponse => {
                    Outcome::Unanswered
                }
            };
            (outcome, Some(failure.kind.to_string()), None)
        }
    };
    Request {
        outcome,
        code,
        orderid,
        reserved,
    }
}
