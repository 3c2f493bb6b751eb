//! Budgets (DESIGN §6): a request is sent only while the answers billed
//! plus the requests in flight stay under the cap. `--max-billed` is this
//! run's, counted here; `--max-billed-24h` is the rate group's over 24
//! hours, counted by the store from its ledger and every run's
//! reservations.

use std::sync::Mutex;
use std::sync::PoisonError;

use crate::config::Budget;
use crate::exit::Error;
use crate::store::Run;

/// The budgets of one run.
pub(super) struct Budgets {
    caps: Budget,
    spent: Mutex<Spent>,
}

#[derive(Default)]
struct Spent {
    billed: u64,
    in_flight: u64,
}

/// What a request may do.
pub(super) enum Allowance {
    /// Send; `reserved` when the group's 24-hour budget holds a reservation
    /// for it, which its ledger entry releases.
    Send {
        reserved: bool,
    },
    OverBudget,
}

impl Budgets {
    pub(super) fn new(caps: Budget) -> Budgets {
        Budgets {
            caps,
            spent: Mutex::new(Spent::default()),
        }
    }

    /// Takes room for one request, or says there is none.
    pub(super) fn reserve(&self, run: &Run) -> Result<Allowance, Error> {
        let mut spent = self.lock();
        if let Some(cap) = self.caps.run
            && spent.billed + spent.in_flight >= cap
        {
            return Ok(Allowance::OverBudget);
        }
        let reserved = match self.caps.day {
            Some(cap) => {
                if run.reserve(cap, 1)? == 0 {
                    return Ok(Allowance::OverBudget);
                }
                true
            }
            None => false,
        };
        spent.in_flight += 1;
        Ok(Allowance::Send { reserved })
    }

    /// A request reserved by [`Budgets::reserve`] came back.
    pub(super) fn settle(&self, billed: bool) {
        let mut spent = self.lock();
        spent.in_flight = spent.in_flight.saturating_sub(1);
        spent.billed += u64::from(billed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Spent> {
        // Every critical section leaves the counts whole.
        self.spent.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
