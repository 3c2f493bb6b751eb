//! The run's heartbeat thread (DESIGN §4, §6). It renews the lease every
//! [`Timing::heartbeat`] in one serialised transaction, asks
//! `crate::share::plan` for the run's share and tells the run's [`Pace`]: a
//! lower grant before the commit, a higher one after it, and after each
//! renewal until when the run may send. A renewal that finds the lease taken
//! over marks the run lost; one that fails keeps retrying and records why.
//! Whether to stop is the pipeline's decision.

use super::super::backend::{Backend, Connection, Purpose, TickArgs};
use super::super::error::DbError;
use super::super::{Timing, lock};
use super::{Pace, millis};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

/// What the heartbeat thread and the run share.
pub(super) struct Shared {
    pub(super) lost: AtomicBool,
    pub(super) failure: Mutex<Option<String>>,
    pub(super) stop: Mutex<bool>,
    pub(super) wake: Condvar,
}

/// The heartbeat thread's state.
pub(super) struct Heartbeat {
    /// `None` after a failure that closed it: reconnect at the next beat.
    pub(super) conn: Option<Box<dyn Connection>>,
    pub(super) backend: Arc<dyn Backend>,
    pub(super) run: String,
    pub(super) group: Option<String>,
    pub(super) timing: Timing,
    pub(super) pace: Arc<dyn Pace>,
    pub(super) shared: Arc<Shared>,
}

impl Heartbeat {
    /// Beats every `timing.heartbeat` until stopped or lost.
    pub(super) fn run(mut self) {
        let mut next = Instant::now() + self.timing.heartbeat;
        loop {
            let stop = lock(&self.shared.stop);
            let wait = next.saturating_duration_since(Instant::now());
            let (stop, _) = self
                .shared
                .wake
                .wait_timeout_while(stop, wait, |stop| !*stop)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *stop {
                return;
            }
            drop(stop);
            next += self.timing.heartbeat;
            let now = Instant::now();
            if next < now {
                // A beat took longer than the period: do not catch up in a
                // burst.
                next = now + self.timing.heartbeat;
            }
            match self.beat() {
                Ok(()) => *lock(&self.shared.failure) = None,
                Err(error) => *lock(&self.shared.failure) = Some(error.detail()),
            }
            if self.shared.lost.load(Ordering::Acquire) {
                return;
            }
        }
    }

    /// One renewal. Marks the run lost if its lease was taken over.
    pub(super) fn beat(&mut self) -> Result<(), DbError> {
        let began = Instant::now();
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(self.backend.connect(Purpose::Lease)?),
        };
        let pace = &self.pace;
        let demand = pace.demand();
        let ticked = conn.tick(&mut TickArgs {
            run: &self.run,
            group: self.group.as_deref(),
            demand,
            takeover_ms: millis(self.timing.takeover),
            plan: &mut crate::share::plan,
            before_commit: &mut |before, plan| {
                if plan.granted < before {
                    pace.set_share(plan.granted);
                }
            },
        });
        match ticked {
            Ok(Some(ticked)) => {
                if ticked.plan.granted > ticked.before {
                    pace.set_share(ticked.plan.granted);
                }
                pace.renewed(began + self.timing.lease);
                Ok(())
            }
            Ok(None) => {
                self.shared.lost.store(true, Ordering::Release);
                Ok(())
            }
            Err(error) => {
                if matches!(error, DbError::Unreachable(_)) {
                    self.conn = None;
                }
                Err(error)
            }
        }
    }
}
