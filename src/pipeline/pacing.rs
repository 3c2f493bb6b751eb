//! How many requests a run keeps in flight: the slots, sized by
//! `--concurrency N` or, with `auto`, by the latency measured and the rate
//! the limiter allows now (its `--qps` or its share of the group); and the
//! once-only warning when a fixed concurrency holds the run well below its
//! `--qps`.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use crate::concurrency::{self, Auto, Concurrency, SlotGuard, Slots};
use crate::limiter::Limiter;
use crate::log::Log;
use crate::stop::Stop;

/// Answers measured before a fixed concurrency is judged.
const JUDGE_AFTER: u32 = 20;

pub(super) struct Pacing {
    concurrency: Concurrency,
    qps: u32,
    slots: Slots,
    auto: Auto,
    measured: AtomicU32,
    warned: AtomicBool,
}

impl Pacing {
    pub(super) fn new(concurrency: Concurrency, qps: u32) -> Pacing {
        let auto = Auto::new();
        let limit = match concurrency {
            Concurrency::Auto => auto.target(f64::from(qps)),
            Concurrency::Fixed(n) => n.get(),
        };
        Pacing {
            concurrency,
            qps,
            slots: Slots::new(limit),
            auto,
            measured: AtomicU32::new(0),
            warned: AtomicBool::new(false),
        }
    }

    /// Worker threads to start: as many as the slots may ever be.
    pub(super) fn threads(&self) -> usize {
        match self.concurrency {
            Concurrency::Auto => concurrency::MAX_AUTO,
            Concurrency::Fixed(n) => n.get(),
        }
    }

    /// A request's answer took `waited` to be committed after its answer,
    /// its slot taken all along.
    pub(super) fn observe_commit(&self, waited: Duration, limiter: &Limiter) {
        self.auto.observe_commit(waited);
        if self.concurrency == Concurrency::Auto {
            self.slots.set_limit(self.auto.target(limiter.rate()));
        }
    }

    /// Waits for a slot to send in; `None` once the run stops.
    pub(super) fn slot(&self, stop: &Stop) -> Option<SlotGuard<'_>> {
        self.slots.acquire(stop)
    }

    /// One request took `latency` from its permit to its answer.
    pub(super) fn observe(&self, latency: Duration, limiter: &Limiter, log: &Log) {
        self.auto.observe(latency);
        match self.concurrency {
            Concurrency::Auto => self.slots.set_limit(self.auto.target(limiter.rate())),
            Concurrency::Fixed(n) => {
                let measured = self.measured.fetch_add(1, Ordering::Relaxed) + 1;
                if measured < JUDGE_AFTER {
                    return;
                }
                let held = self.auto.held();
                if let Some(rate) = concurrency::capped(self.qps, self.concurrency, held)
                    && !self.warned.swap(true, Ordering::Relaxed)
                {
                    log.warn(&format!(
                        "--concurrency {n} holds this run to about {rate:.0} requests/s at the \
                         API's {} ms latency ({} ms a request with the store's commit), well \
                         below --qps {}; raise it, or leave it to --concurrency auto",
                        self.auto.latency().as_millis(),
                        held.as_millis(),
                        self.qps
                    ));
                }
            }
        }
    }
}
