//! Numbers another live run has claimed (DESIGN §4): this run waits for
//! that run's answer instead of paying for the number again. The rows hold
//! their places like any row in flight; the run goes on with the others.
//!
//! The reader looks at them between batches ([`Shared::tend`]): every
//! [`LOOK_EVERY`], one batched look-up in the store releases the rows of
//! the numbers answered meanwhile; every [`CLAIM_EVERY`] the others are
//! claimed again, which succeeds once the other run gave the number up or
//! died (its claims are taken over 30 s after its lease lapsed). The same
//! tick watches this run's own lease.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Halt;
use super::jobs::Shared;
use super::reading::Asks;
use crate::exit::Error;
use crate::number::Number;
use crate::row::{RowResult, Settled, Via};
use crate::share::TAKEOVER;

/// How often the store is asked for the answers of held numbers.
pub(super) const LOOK_EVERY: Duration = Duration::from_millis(250);
/// How often a held number is claimed again.
const CLAIM_EVERY: Duration = Duration::from_secs(2);

/// The numbers held by other runs, and when each is next claimed.
#[derive(Default)]
pub(super) struct Held {
    numbers: Vec<(Number, Instant)>,
    /// When the store was last looked at.
    looked: Option<Instant>,
    /// Since when the lease cannot be renewed.
    unrenewed_since: Option<Instant>,
}

impl<'a> Shared<'a> {
    /// Waits for another run's answer to `number`.
    pub(super) fn hold(&self, number: Number) {
        self.lock_held()
            .numbers
            .push((number, Instant::now() + CLAIM_EVERY));
    }

    /// The reader's tick: the held numbers, and this run's lease.
    pub(super) fn tend<'s>(&'s self, asks: &mut Asks<'_, 's>) {
        let now = Instant::now();
        let due = {
            let mut held = self.lock_held();
            if held.looked.is_some_and(|looked| now < looked + LOOK_EVERY) {
                return;
            }
            held.looked = Some(now);
            if let Some(halt) = self.watch_lease(&mut held, now) {
                drop(held);
                self.halt(halt);
                return;
            }
            std::mem::take(&mut held.numbers)
        };
        if due.is_empty() {
            return;
        }
        let numbers: Vec<Number> = due.iter().map(|(number, _)| *number).collect();
        let stored = match self.parts.store.get_many(&numbers, self.settings.max_age) {
            Ok(stored) => stored,
            Err(err) => return self.halt(Halt::Failed(err.into())),
        };
        let mut still = Vec::new();
        for ((number, claim_at), stored) in due.into_iter().zip(stored) {
            match stored {
                Some(stored) => {
                    let settled = Settled {
                        answer: stored.answer,
                        change: stored.change,
                    };
                    self.release(number, RowResult::Final(Arc::new(settled)), Via::Store);
                }
                None if now >= claim_at => asks.ask(self, number),
                None => still.push((number, claim_at)),
            }
        }
        self.lock_held().numbers.extend(still);
    }

    /// Whether this run still holds its lease: a lease taken over, or one
    /// that could not be renewed for as long as a takeover takes, ends the
    /// run (the store is unreachable: exit 5).
    fn watch_lease(&self, held: &mut Held, now: Instant) -> Option<Halt> {
        let run = self.parts.run;
        if run.lost() {
            return Some(Halt::Failed(Error::Environment(
                "this run lost its lease in the store (it could not renew it for 30 s), so \
                 another run may have taken over its numbers; the answers so far are kept"
                    .to_owned(),
            )));
        }
        match run.failure() {
            None => held.unrenewed_since = None,
            Some(failure) => {
                let since = *held.unrenewed_since.get_or_insert(now);
                if now.duration_since(since) >= TAKEOVER {
                    return Some(Halt::Failed(Error::Environment(format!(
                        "the store has been unreachable for {} s ({failure}); the answers so \
                         far are kept",
                        TAKEOVER.as_secs()
                    ))));
                }
            }
        }
        None
    }
}
