//! How many requests a run keeps in flight (DESIGN §6): `--concurrency N`
//! fixes it; `--concurrency auto`, the default, keeps as many as the run's
//! rate needs at the latency it measures.
//!
//! Little's law: a run that starts `rate` requests a second, each taking
//! `latency`, has `rate × latency` in flight. A worker holds its slot while
//! it waits for a rate permit too, so the limiter always has a waiter when
//! the slots exceed that number; [`target`] adds a quarter and two more for
//! jitter. Too many slots cost only idle threads waiting at the limiter
//! (the limiter, not the slots, decides what reaches the API); too few cost
//! rate. So the latency estimate rises fast and falls slowly, and before
//! any answer it assumes a slow API ([`INITIAL_LATENCY`]).
//!
//! Owns: [`Slots`] (a resizable counting semaphore), [`Auto`] (the latency
//! estimate), and the pure arithmetic `tenure check` uses for its time
//! estimate. Must not: decide the rate (that is `limiter`), or poll.

use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use crate::share::WINDOW_MS;
use crate::stop::Stop;

/// The most `--concurrency N` accepts.
pub const MAX_FIXED: usize = 1024;
/// `auto` keeps at least this many in flight...
pub const MIN_AUTO: usize = 4;
/// ...and at most this many.
pub const MAX_AUTO: usize = 256;
/// What `auto` assumes before the first answer: a slow API, so that the
/// first second is not starved while the estimate settles.
pub const INITIAL_LATENCY: Duration = Duration::from_secs(1);
/// Slots beyond Little's law, in proportion...
const HEADROOM: f64 = 1.25;
/// ...and in number.
const SPARE: usize = 2;
/// How far one sample moves the estimate up, and down. Up fast (a slower
/// API starves the limiter at once), down slowly (a few quick answers
/// among slow ones say little).
const RISE: f64 = 0.2;
const FALL: f64 = 0.05;
/// Below this share of `--qps`, a concurrency is said to cap the run.
const CAPPED: f64 = 0.9;

/// `--concurrency`: `auto` or a fixed number of requests in flight.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Concurrency {
    #[default]
    Auto,
    Fixed(NonZeroUsize),
}

impl FromStr for Concurrency {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.eq_ignore_ascii_case("auto") {
            return Ok(Concurrency::Auto);
        }
        let n: usize = text.trim().parse().map_err(|_| {
            format!("--concurrency must be `auto` or a number from 1 to {MAX_FIXED}, not {text:?}")
        })?;
        if n > MAX_FIXED {
            return Err(format!(
                "--concurrency {n} is more threads than any quota needs; at most {MAX_FIXED}, \
                 or `auto`, which follows the latency"
            ));
        }
        NonZeroUsize::new(n)
            .map(Concurrency::Fixed)
            .ok_or_else(|| "--concurrency must be at least 1, or `auto`".to_owned())
    }
}

impl fmt::Display for Concurrency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Concurrency::Auto => f.write_str("auto"),
            Concurrency::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// The requests per second `concurrency` requests in flight sustain at
/// `latency` (Little's law); infinite at no latency.
pub fn rate_for(concurrency: usize, latency: Duration) -> f64 {
    concurrency as f64 / latency.as_secs_f64()
}

/// The slots `auto` keeps for `rate` requests per second at `latency`.
pub fn target(rate: f64, latency: Duration) -> usize {
    let needed = (rate * latency.as_secs_f64() * HEADROOM).ceil();
    // Saturating float-to-int: a huge or infinite need is clamped below.
    (needed as usize)
        .saturating_add(SPARE)
        .clamp(MIN_AUTO, MAX_AUTO)
}

/// The requests per second a run reaches at `latency`: its `--qps` less
/// the limiter's slack, unless `concurrency` caps it lower.
pub fn estimate(qps: u32, concurrency: Concurrency, latency: Duration) -> f64 {
    let limit = f64::from(qps) * 1000.0 / WINDOW_MS as f64;
    let slots = match concurrency {
        Concurrency::Auto => target(f64::from(qps), latency),
        Concurrency::Fixed(n) => n.get(),
    };
    limit.min(rate_for(slots, latency))
}

/// The rate `concurrency` holds the run to at `latency`, when that is well
/// below `--qps` (under 90%): worth one warning. `auto` caps only at its
/// ceiling of [`MAX_AUTO`].
pub fn capped(qps: u32, concurrency: Concurrency, latency: Duration) -> Option<f64> {
    let reached = estimate(qps, concurrency, latency);
    (reached < CAPPED * f64::from(qps)).then_some(reached)
}

/// `auto`'s latency estimate, fed by every request's latency and by how
/// long its answer then took to be committed.
#[derive(Debug)]
pub struct Auto {
    estimate: Mutex<Estimate>,
}

#[derive(Debug, Default)]
struct Estimate {
    /// Seconds from a permit to the answer; `None` before the first sample.
    latency: Option<f64>,
    /// Seconds a slot stays taken after its answer, until the answer is
    /// committed to the store.
    commit: f64,
}

impl Default for Auto {
    fn default() -> Self {
        Self::new()
    }
}

impl Auto {
    pub fn new() -> Self {
        Auto {
            estimate: Mutex::new(Estimate::default()),
        }
    }

    /// One request's latency: how long it held its slot after its permit
    /// (sending, waiting for the answer, classifying).
    pub fn observe(&self, latency: Duration) {
        let mut estimate = self.lock();
        let sample = latency.as_secs_f64();
        estimate.latency = Some(estimate.latency.map_or(sample, |old| follow(old, sample)));
    }

    /// How long a slot stayed taken after its answer, until the answer was
    /// committed: Little's law counts everything a slot is busy with but
    /// the wait for the permit. At a low latency the commit is most of it.
    pub fn observe_commit(&self, waited: Duration) {
        let mut estimate = self.lock();
        estimate.commit = follow(estimate.commit, waited.as_secs_f64());
    }

    /// The API's latency estimate ([`INITIAL_LATENCY`] before any sample).
    pub fn latency(&self) -> Duration {
        self.lock()
            .latency
            .map_or(INITIAL_LATENCY, Duration::from_secs_f64)
    }

    /// How long a request holds its slot: the latency and the commit.
    pub fn held(&self) -> Duration {
        let commit = self.lock().commit;
        self.latency() + Duration::from_secs_f64(commit)
    }

    /// The slots to keep for `rate` requests per second (the run's rate:
    /// its `--qps`, or its share) at the latency measured so far.
    pub fn target(&self, rate: f64) -> usize {
        target(rate, self.held())
    }

    fn lock(&self) -> MutexGuard<'_, Estimate> {
        self.estimate.lock().expect("auto lock is never poisoned")
    }
}

/// An estimate moved towards `sample`: quickly up, slowly down.
fn follow(old: f64, sample: f64) -> f64 {
    if sample > old {
        old + RISE * (sample - old)
    } else {
        old + FALL * (sample - old)
    }
}

/// A counting semaphore whose limit can change while it is used: the
/// requests in flight.
#[derive(Debug)]
pub struct Slots {
    state: Mutex<SlotState>,
    /// Wakes waiters: a slot was freed, or the limit rose.
    freed: Condvar,
}

#[derive(Debug)]
struct SlotState {
    limit: usize,
    in_use: usize,
    /// The most in use at once.
    peak: usize,
}

/// One slot, given back when dropped.
#[derive(Debug)]
pub struct SlotGuard<'a> {
    slots: &'a Slots,
}

impl Slots {
    /// `limit` slots (at least one).
    pub fn new(limit: usize) -> Self {
        Slots {
            state: Mutex::new(SlotState {
                limit: limit.max(1),
                in_use: 0,
                peak: 0,
            }),
            freed: Condvar::new(),
        }
    }

    /// Waits for a free slot. `None`, without one, when the run stops.
    ///
    /// No timeout: a waiter waits only while every slot is taken, and the
    /// holders give theirs back (a stopped run's holders soon do: the
    /// limiter and the client's backoff hear the stop), each release
    /// waking a waiter, which passes a stop on to all.
    pub fn acquire(&self, stop: &Stop) -> Option<SlotGuard<'_>> {
        let mut state = self.lock();
        loop {
            if stop.is_stopped() {
                drop(state);
                self.freed.notify_all();
                return None;
            }
            if state.in_use < state.limit {
                state.in_use += 1;
                state.peak = state.peak.max(state.in_use);
                return Some(SlotGuard { slots: self });
            }
            state = self
                .freed
                .wait(state)
                .expect("slots lock is never poisoned");
        }
    }

    /// Changes the number of slots (at least one). Raising wakes as many
    /// waiters as it adds slots (never all: `auto` moves the limit by one
    /// or two on most answers, and hundreds of threads may wait); lowering
    /// lets the requests in flight finish, and lets no new one in until
    /// fewer than `limit` are.
    pub fn set_limit(&self, limit: usize) {
        let mut state = self.lock();
        let limit = limit.max(1);
        let added = limit.saturating_sub(state.limit);
        state.limit = limit;
        drop(state);
        for _ in 0..added {
            self.freed.notify_one();
        }
    }

    #[cfg(test)]
    pub fn in_use(&self) -> usize {
        self.lock().in_use
    }

    /// The most slots in use at once so far (the summary's `concurrency`).
    #[cfg(test)]
    pub fn peak(&self) -> usize {
        self.lock().peak
    }

    fn lock(&self) -> MutexGuard<'_, SlotState> {
        // Nothing panics while holding it: its sections only count.
        self.state.lock().expect("slots lock is never poisoned")
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.slots.lock();
        state.in_use -= 1;
        let free = state.in_use < state.limit;
        drop(state);
        if free {
            self.slots.freed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests;
