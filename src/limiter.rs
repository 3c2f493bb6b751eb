//! The rate limit: never more than `--qps` requests started in any
//! one-second window, and as close to it as the workers allow.
//!
//! A governor quota with a burst of 1 spaces permits evenly. Workers do not
//! each sleep on it: a slot that no thread is awake for would be lost
//! (CRATES.md measured half the quota with 64 sleepers). Instead they take
//! turns: one waiter at a time holds the turn, sleeps exactly until its
//! permit (`check()`, then sleep for the returned wait, so about one check
//! per permit), and hands the turn on. A request starts as soon as its
//! permit is granted, so the spacing of permits is the spacing of starts.
//!
//! On `10011` the API asks us to slow down: [`Limiter::slow_down`] doubles
//! the spacing (up to 16x), and it recovers gradually while the API is calm.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::stop::Stop;

/// Slack added to every second of permits: `qps` permits span at least
/// 1.005 s, so a few milliseconds of jitter between our start and the
/// API's clock cannot put `qps + 1` requests into one of its windows.
const SLACK: Duration = Duration::from_millis(5);
/// The most a run slows down after 10011s.
const MAX_SLOWDOWN: f64 = 16.0;
/// How long the API must stay calm before the rate climbs back a step.
const RECOVERY_STEP: Duration = Duration::from_secs(2);

/// The request rate limiter of one run, shared by all workers.
pub struct Limiter {
    quota: DefaultDirectRateLimiter,
    clock: DefaultClock,
    period: Duration,
    /// The turn: whoever holds it is the one thread waiting for a permit.
    turn: Mutex<Pace>,
}

/// The slow-down state, guarded by the turn.
struct Pace {
    /// The spacing multiplier: 1 at full rate, 2 at half rate.
    factor: f64,
    /// When the last 10011 arrived, or the last recovery step was taken.
    calm_since: Instant,
    last_grant: Option<Instant>,
}

impl Limiter {
    pub fn new(qps: NonZeroU32) -> Self {
        let period = (Duration::from_secs(1) + SLACK) / qps.get();
        // At absurd rates the division rounds to zero, and governor needs a
        // positive period.
        let quota = Quota::with_period(period.max(Duration::from_nanos(1)))
            .expect("a period of at least 1 ns is a valid quota");
        Limiter {
            quota: RateLimiter::direct(quota),
            clock: DefaultClock::default(),
            period,
            turn: Mutex::new(Pace {
                factor: 1.0,
                calm_since: Instant::now(),
                last_grant: None,
            }),
        }
    }

    /// Waits for a permit to start one request. Returns `false`, without a
    /// permit, when the run stops meanwhile.
    pub fn acquire(&self, stop: &Stop) -> bool {
        let mut pace = self.turn.lock().expect("limiter lock is never poisoned");
        if stop.is_stopped() {
            return false;
        }
        // The slow-down waits first, so that the governor's permit is the
        // start: its even spacing then holds for starts too.
        if let Some(wait) = pace.extra_wait(self.period)
            && !stop.sleep(wait)
        {
            return false;
        }
        loop {
            match self.quota.check() {
                Ok(()) => break,
                Err(not_until) => {
                    if !stop.sleep(not_until.wait_time_from(self.clock.now())) {
                        return false;
                    }
                }
            }
        }
        pace.last_grant = Some(Instant::now());
        true
    }

    /// The API answered 10011: halve the rate for a while.
    pub fn slow_down(&self) {
        let mut pace = self.turn.lock().expect("limiter lock is never poisoned");
        pace.factor = (pace.factor * 2.0).min(MAX_SLOWDOWN);
        pace.calm_since = Instant::now();
    }

    /// The current spacing multiplier (1 at full rate); for the summary.
    pub fn slowdown(&self) -> f64 {
        self.turn
            .lock()
            .expect("limiter lock is never poisoned")
            .factor
    }
}

impl Pace {
    /// How much longer than the quota's spacing to wait now, if slowed down.
    fn extra_wait(&mut self, period: Duration) -> Option<Duration> {
        while self.factor > 1.0 && self.calm_since.elapsed() >= RECOVERY_STEP {
            self.factor = (self.factor * 0.75).max(1.0);
            self.calm_since += RECOVERY_STEP;
        }
        if self.factor <= 1.0 {
            return None;
        }
        let next = self.last_grant? + period.mul_f64(self.factor);
        next.checked_duration_since(Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permits_are_spaced_by_the_quota() {
        let limiter = Limiter::new(NonZeroU32::new(200).expect("200 is not zero"));
        let stop = Stop::new();
        let mut grants = Vec::new();
        for _ in 0..5 {
            assert!(limiter.acquire(&stop));
            grants.push(Instant::now());
        }
        // Spacing is a lower bound, which holds however slow the machine.
        for pair in grants.windows(2) {
            assert!(pair[1] - pair[0] >= limiter.period - Duration::from_micros(200));
        }
    }

    #[test]
    fn a_stopped_run_gets_no_permit() {
        let limiter = Limiter::new(NonZeroU32::new(1).expect("1 is not zero"));
        let stop = Stop::new();
        assert!(limiter.acquire(&stop), "the first permit is immediate");
        stop.stop(crate::stop::Reason::Interrupted);
        assert!(!limiter.acquire(&stop));
    }

    #[test]
    fn slowing_down_doubles_the_spacing_up_to_a_ceiling() {
        let limiter = Limiter::new(NonZeroU32::new(10).expect("10 is not zero"));
        for _ in 0..10 {
            limiter.slow_down();
        }
        assert_eq!(limiter.slowdown(), MAX_SLOWDOWN);
    }
}
