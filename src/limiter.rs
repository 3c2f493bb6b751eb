//! The rate limit: never more than `--qps` requests started in any
//! one-second window, and as close to it as the workers allow.
//!
//! Two rules, checked by one waiter at a time:
//!
//! - **Spacing** (governor, burst 1): permits are spread evenly instead of
//!   bunched at the start of each second. Its period is a little shorter
//!   than `1 s / qps`, so a thread that wakes a little late does not push
//!   every later permit back: with burst 1 such lateness would otherwise be
//!   lost for good, a slot nobody was awake for.
//! - **The window** (a log of the last `qps` starts): a request may start
//!   only when the `qps`-th start before it is at least one second (plus
//!   20 ms of slack for jitter on the way to the API) in the past. This is the
//!   contract itself, exact whatever the wake-up latency.
//!
//! Workers do not each sleep on the limiter (CRATES.md measured half the
//! quota that way). They take turns: whoever holds the turn sleeps exactly
//! until its permit is due (a check, then one sleep: no polling), starts,
//! and hands the turn on.
//!
//! On `10011` the API asks us to slow down: [`Limiter::slow_down`] doubles
//! the spacing (up to 16x), and it recovers gradually while the API is calm.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::stop::Stop;

/// Added to the window: `qps + 1` starts must span at least this much more
/// than a second, so that jitter between our start and the API's arrival
/// (thread wake-ups, the network) cannot put `qps + 1` requests into one of
/// its windows. On a loaded 2-core machine, loopback alone showed 6–12 ms;
/// 20 ms costs 2% of the quota, which a 10011 would cost far more.
const SLACK: Duration = Duration::from_millis(20);
/// The spacing rule runs this much faster than `qps`, leaving the window
/// rule as the one that binds at full rate.
const SPACING_HEADROOM: f64 = 1.1;
/// The most a run slows down after 10011s.
const MAX_SLOWDOWN: f64 = 16.0;
/// How long the API must stay calm before the rate climbs back a step.
const RECOVERY_STEP: Duration = Duration::from_secs(2);

/// The request rate limiter of one run, shared by all workers.
pub struct Limiter {
    spacing: DefaultDirectRateLimiter,
    clock: DefaultClock,
    /// `1 s / qps`: the mean spacing at full rate.
    period: Duration,
    /// The turn: whoever holds it is the one thread waiting for a permit.
    turn: Mutex<Turn>,
}

/// The state only the turn holder touches.
struct Turn {
    /// Start times of the last `qps` requests, oldest first.
    starts: VecDeque<Instant>,
    qps: usize,
    /// The spacing multiplier after 10011s: 1 at full rate, 2 at half rate.
    slowdown: f64,
    /// When the last 10011 arrived, or the last recovery step was taken.
    calm_since: Instant,
    /// When the rate was last halved.
    last_halved: Option<Instant>,
}

impl Limiter {
    pub fn new(qps: NonZeroU32) -> Self {
        let period = Duration::from_secs(1) / qps.get();
        // At absurd rates the division rounds to zero; governor needs a
        // positive period.
        let spacing = period
            .div_f64(SPACING_HEADROOM)
            .max(Duration::from_nanos(1));
        let quota = Quota::with_period(spacing).expect("a positive period is a valid quota");
        let qps = qps.get() as usize;
        Limiter {
            spacing: RateLimiter::direct(quota),
            clock: DefaultClock::default(),
            period,
            turn: Mutex::new(Turn {
                // The log never holds more than qps entries; beyond a
                // realistic quota, let it grow as needed.
                starts: VecDeque::with_capacity(qps.min(1 << 16)),
                qps,
                slowdown: 1.0,
                calm_since: Instant::now(),
                last_halved: None,
            }),
        }
    }

    /// Waits for a permit to start one request, and returns the instant it
    /// was granted: the start the window counts. `None`, without a permit,
    /// when the run stops meanwhile.
    pub fn acquire(&self, stop: &Stop) -> Option<Instant> {
        let mut turn = self.turn.lock().expect("limiter lock is never poisoned");
        loop {
            if stop.is_stopped() {
                return None;
            }
            let wait = match self.spacing.check() {
                Err(not_until) => not_until.wait_time_from(self.clock.now()),
                // The spacing permit is taken; the window and the slow-down
                // may still ask for a wait, after which the spacing has
                // long been satisfied again.
                Ok(()) => match turn.wait(self.period) {
                    None => break,
                    Some(wait) => wait,
                },
            };
            if !stop.sleep(wait) {
                return None;
            }
        }
        let start = Instant::now();
        turn.record(start);
        Some(start)
    }

    /// The API answered 10011: halve the rate for a while. The requests in
    /// flight when it says so all hear the same news: halve at most once a
    /// second, however many 10011s arrive together.
    pub fn slow_down(&self) {
        let mut turn = self.turn.lock().expect("limiter lock is never poisoned");
        let now = Instant::now();
        let halved_long_ago = turn
            .last_halved
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1));
        if halved_long_ago {
            turn.slowdown = (turn.slowdown * 2.0).min(MAX_SLOWDOWN);
            turn.last_halved = Some(now);
        }
        turn.calm_since = now;
    }

    /// The current spacing multiplier (1 at full rate).
    #[cfg(test)]
    fn slowdown(&self) -> f64 {
        self.turn
            .lock()
            .expect("limiter lock is never poisoned")
            .slowdown
    }
}

impl Turn {
    /// How long to wait before a start is allowed now, if at all.
    fn wait(&mut self, period: Duration) -> Option<Duration> {
        let now = Instant::now();
        while self.slowdown > 1.0 && now.duration_since(self.calm_since) >= RECOVERY_STEP {
            self.slowdown = (self.slowdown * 0.75).max(1.0);
            self.calm_since += RECOVERY_STEP;
        }
        let mut due = now;
        if self.starts.len() >= self.qps {
            // The qps-th start before this one must be a second (and the
            // slack) ago.
            let oldest = self.starts[self.starts.len() - self.qps];
            due = due.max(oldest + Duration::from_secs(1) + SLACK);
        }
        if self.slowdown > 1.0
            && let Some(&last) = self.starts.back()
        {
            due = due.max(last + period.mul_f64(self.slowdown));
        }
        due.checked_duration_since(now)
            .filter(|wait| !wait.is_zero())
    }

    fn record(&mut self, start: Instant) {
        if self.starts.len() == self.qps {
            self.starts.pop_front();
        }
        self.starts.push_back(start);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starts_in_any_window(starts: &[Instant], window: Duration) -> usize {
        let mut busiest = 0;
        let mut j = 0;
        for (i, &start) in starts.iter().enumerate() {
            while j < starts.len() && starts[j] < start + window {
                j += 1;
            }
            busiest = busiest.max(j - i);
        }
        busiest
    }

    #[test]
    fn never_more_than_qps_starts_in_any_second() {
        let qps = 40;
        let limiter = Limiter::new(NonZeroU32::new(qps).expect("40 is not zero"));
        let stop = Stop::new();
        let starts = Mutex::new(Vec::new());
        std::thread::scope(|threads| {
            for _ in 0..8 {
                threads.spawn(|| {
                    for _ in 0..12 {
                        let start = limiter.acquire(&stop).expect("the run is not stopped");
                        starts.lock().expect("not poisoned").push(start);
                    }
                });
            }
        });
        let mut starts = starts.into_inner().expect("not poisoned");
        starts.sort();
        assert_eq!(starts.len(), 96);
        // A count, not a timing: whatever the machine's speed, the window
        // rule admits at most qps starts in any second and its slack.
        assert!(starts_in_any_window(&starts, Duration::from_secs(1) + SLACK) <= qps as usize);
    }

    #[test]
    fn a_stopped_run_gets_no_permit() {
        let limiter = Limiter::new(NonZeroU32::new(1).expect("1 is not zero"));
        let stop = Stop::new();
        assert!(
            limiter.acquire(&stop).is_some(),
            "the first permit is immediate"
        );
        stop.stop();
        assert_eq!(limiter.acquire(&stop), None);
    }

    #[test]
    fn slowing_down_doubles_the_spacing_up_to_a_ceiling() {
        let limiter = Limiter::new(NonZeroU32::new(10).expect("10 is not zero"));
        limiter.slow_down();
        limiter.slow_down();
        assert_eq!(
            limiter.slowdown(),
            2.0,
            "a burst of 10011s halves the rate once"
        );
        // A steady stream of 10011s, each too soon to halve again by
        // itself, still halves once a second.
        for _ in 0..10 {
            let mut turn = limiter.turn.lock().expect("not poisoned");
            let halved = turn.last_halved.expect("halved above");
            turn.last_halved = Some(halved - Duration::from_secs(1));
            turn.calm_since = Instant::now();
            drop(turn);
            limiter.slow_down();
        }
        assert_eq!(limiter.slowdown(), MAX_SLOWDOWN);
        let mut turn = limiter.turn.lock().expect("not poisoned");
        turn.record(Instant::now());
        let wait = turn
            .wait(limiter.period)
            .expect("slowed down, a wait is due");
        assert!(wait > limiter.period * 8, "{wait:?}");
    }
}
