//! The rate limit: never more than the run's rate (its `--qps`, or its
//! share of the rate group's quota) started in any one-second window, and
//! as close to it as the workers allow.
//!
//! Two rules, checked by one waiter at a time:
//!
//! - **Spacing** (governor, burst 1): permits are spread evenly instead of
//!   bunched at the start of each second. Its period is a little shorter
//!   than `1 s / qps`, so a thread that wakes a little late does not push
//!   every later permit back: with burst 1 such lateness would otherwise be
//!   lost for good, a slot nobody was awake for. Below `qps` (a smaller
//!   share, or a slow-down) the same spacing is kept by hand from the last
//!   start, at the lower rate.
//! - **The window** (a log of the last `qps` starts): a request may start
//!   only when the `rate`-th start before it is at least one second (plus
//!   20 ms of slack for jitter on the way to the API) in the past. This is the
//!   contract itself, exact whatever the wake-up latency, and it enforces a
//!   lowered rate at once.
//!
//! Workers do not each sleep on the limiter (CRATES.md measured half the
//! quota that way). They take turns: whoever holds the turn sleeps exactly
//! until its permit is due (a check, then one sleep: no polling), starts,
//! and hands the turn on. A change of share or lease wakes it to check
//! again. A stop is heard within 50 ms (`STOP_CHECK`, the pace at which
//! `Stop::sleep` itself looks for signals: `Stop` cannot wake our condvar);
//! the other threads wait for the turn without a timeout, and the turn
//! holder wakes them all when it sees the stop.
//!
//! The rate group (`share`) steers the limiter through [`Limiter::set_share`]
//! (the run's share; 0 holds every permit) and [`Limiter::renewed`] (no
//! permit after the lease runs out), and reads [`Limiter::demand`].
//!
//! On `10011` the API asks us to slow down: [`Limiter::slow_down`] doubles
//! the spacing (up to 16x), and it recovers gradually while the API is calm
//! (a step per 2 s without a 10011 and with a request started).
//! [`Limiter::throttled_for`] says how long 10011s have kept coming at the
//! slowest rate, for the pipeline to give up (DESIGN §8).

mod usage;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::stop::Stop;
use usage::Usage;

/// Added to the window: `qps + 1` starts must span at least this much more
/// than a second, so that jitter between our start and the API's arrival
/// (thread wake-ups, the network) cannot put `qps + 1` requests into one of
/// its windows. On a loaded 2-core machine, loopback alone showed 6–12 ms;
/// 20 ms costs 2% of the quota, which a 10011 would cost far more.
const SLACK: Duration = Duration::from_millis(20);
/// The spacing rule runs this much faster than the rate, leaving the window
/// rule as the one that binds at full rate.
const SPACING_HEADROOM: f64 = 1.1;
/// The most a run slows down after 10011s.
const MAX_SLOWDOWN: f64 = 16.0;
/// How long the API must stay calm before the rate climbs back a step.
const RECOVERY_STEP: Duration = Duration::from_secs(2);
/// How often a waiter with nothing else to wake it looks at the stop flag.
const STOP_CHECK: Duration = Duration::from_millis(50);
/// 10011s that keep coming this long at the slowest rate are not going to
/// stop: DESIGN §8 wants the run stopped within a minute.
pub const GIVE_UP_THROTTLED: Duration = Duration::from_secs(30);

// share::WINDOW_MS is this window; the group's arithmetic depends on it.
const _: () = assert!(1000 + SLACK.as_millis() as i64 == crate::share::WINDOW_MS);

/// The request rate limiter of one run, shared by all workers.
pub struct Limiter {
    spacing: DefaultDirectRateLimiter,
    clock: DefaultClock,
    qps: u32,
    state: Mutex<State>,
    /// Wakes the turn holder: the share, the lease or the slow-down changed.
    changed: Condvar,
    /// Wakes one thread waiting for the turn.
    turn_free: Condvar,
}

/// Everything behind the one lock.
struct State {
    /// Some thread is waiting for its permit; the others wait for the turn.
    turn_taken: bool,
    /// How many threads wait for the turn.
    turn_waiters: usize,
    /// Start times of the last `qps` requests, oldest first.
    starts: VecDeque<Instant>,
    /// The share of the rate group (`qps` without a group).
    granted: u32,
    /// No permit at or after this instant (no gate without a group).
    valid_until: Option<Instant>,
    /// The spacing multiplier after 10011s: 1 at full rate, 2 at half rate.
    slowdown: f64,
    /// When the last 10011 arrived, or the last recovery step was taken.
    calm_since: Instant,
    /// Requests started since then: a step back up needs one, so that at a
    /// slow rate the time between two requests is not taken for calm.
    started_since_calm: u32,
    /// When the rate was last halved.
    last_halved: Option<Instant>,
    /// When the slow-down reached its maximum, while it stays there.
    floor_since: Option<Instant>,
    /// When the last 10011 arrived.
    last_throttled: Option<Instant>,
    usage: Usage,
}

/// When the turn holder may start.
enum Due {
    Now,
    In(Duration),
    /// Not until the share or the lease changes.
    Held,
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
        let now = Instant::now();
        Limiter {
            spacing: RateLimiter::direct(quota),
            clock: DefaultClock::default(),
            qps: qps.get(),
            state: Mutex::new(State {
                turn_taken: false,
                turn_waiters: 0,
                // The log never holds more than qps entries; beyond a
                // realistic quota, let it grow as needed.
                starts: VecDeque::with_capacity((qps.get() as usize).min(1 << 16)),
                granted: qps.get(),
                valid_until: None,
                slowdown: 1.0,
                calm_since: now,
                started_since_calm: 0,
                last_halved: None,
                floor_since: None,
                last_throttled: None,
                usage: Usage::new(now),
            }),
            changed: Condvar::new(),
            turn_free: Condvar::new(),
        }
    }

    /// Waits for a permit to start one request, and returns the instant it
    /// was granted: the start the window counts. `None`, without a permit,
    /// when the run stops meanwhile.
    pub fn acquire(&self, stop: &Stop) -> Option<Instant> {
        let mut state = self.lock();
        if state.turn_taken {
            // The turn holder wakes at least every STOP_CHECK and wakes us
            // all when it sees a stop: no timeout needed here.
            state.turn_waiters += 1;
            while state.turn_taken && !stop.is_stopped() {
                state = self
                    .turn_free
                    .wait(state)
                    .expect("limiter lock is never poisoned");
            }
            state.turn_waiters -= 1;
        }
        // Nobody holds the turn now; this thread takes it if it must wait.
        let mut holding = false;
        loop {
            let now = Instant::now();
            if stop.is_stopped() {
                if holding {
                    state.usage.stop_waiting(now);
                    state.turn_taken = false;
                }
                // Everyone waiting for the turn hears the stop at once.
                self.turn_free.notify_all();
                return None;
            }
            let wait = match state.due(now, self.qps) {
                Due::Now => match self.spacing.check() {
                    Ok(()) => {
                        state.record(now, self.qps);
                        state.turn_taken = false;
                        if state.turn_waiters > 0 {
                            self.turn_free.notify_one();
                        }
                        return Some(now);
                    }
                    Err(not_until) => Some(not_until.wait_time_from(self.clock.now())),
                },
                Due::In(wait) => Some(wait),
                Due::Held => None,
            };
            holding = true;
            state.turn_taken = true;
            state.usage.wait_from(now);
            let timeout = wait.map_or(STOP_CHECK, |wait| wait.min(STOP_CHECK));
            state = self
                .changed
                .wait_timeout(state, timeout)
                .expect("limiter lock is never poisoned")
                .0;
        }
    }

    /// The run's share of the group's quota, in requests per second: the
    /// rate is `min(qps, granted)`; 0 holds every permit until it rises.
    /// Lower it before publishing the lower share, raise it after: a lower
    /// share binds every permit granted after this returns.
    pub fn set_share(&self, granted: u32) {
        self.lock().granted = granted;
        self.changed.notify_all();
    }

    /// The run's lease is valid until then: no permit is granted at or
    /// after it until renewed. Without a call, there is no lease.
    pub fn renewed(&self, valid_until: Instant) {
        self.lock().valid_until = Some(valid_until);
        self.changed.notify_all();
    }

    /// Requests per second this run could use now: infinite when requests
    /// waited on the limiter most of the last ~2 s (or it is too new to
    /// tell), else the observed start rate × 1.25 + 1.
    pub fn demand(&self) -> f64 {
        self.lock().usage.demand(Instant::now())
    }

    /// The rate permits are granted at now, in requests per second: the
    /// share (at most `qps`), divided by the slow-down.
    pub fn rate(&self) -> f64 {
        let mut state = self.lock();
        state.recover(Instant::now());
        f64::from(state.granted.min(self.qps)) / state.slowdown
    }

    /// The API answered 10011: halve the rate for a while. The requests in
    /// flight when it says so all hear the same news: halve at most once a
    /// second, however many 10011s arrive together.
    pub fn slow_down(&self) {
        let mut state = self.lock();
        let now = Instant::now();
        let halved_long_ago = state
            .last_halved
            .is_none_or(|at| now.duration_since(at) >= Duration::from_secs(1));
        if halved_long_ago {
            state.slowdown = (state.slowdown * 2.0).min(MAX_SLOWDOWN);
            state.last_halved = Some(now);
        }
        if state.slowdown >= MAX_SLOWDOWN {
            state.floor_since.get_or_insert(now);
        }
        state.calm_since = now;
        state.started_since_calm = 0;
        state.last_throttled = Some(now);
        drop(state);
        self.changed.notify_all();
    }

    /// How long 10011s have kept arriving while the slow-down sits at its
    /// maximum (from reaching it to the latest 10011); `None` when it is not
    /// there. Past [`GIVE_UP_THROTTLED`] the run should stop.
    pub fn throttled_for(&self) -> Option<Duration> {
        let mut state = self.lock();
        state.recover(Instant::now());
        let since = state.floor_since?;
        let last = state.last_throttled?;
        Some(last.saturating_duration_since(since))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding it: its sections only do arithmetic.
        self.state.lock().expect("limiter lock is never poisoned")
    }
}

impl State {
    /// When a start is allowed, as seen at `now`.
    fn due(&mut self, now: Instant, qps: u32) -> Due {
        if self.valid_until.is_some_and(|until| now >= until) {
            return Due::Held;
        }
        let rate = self.granted.min(qps);
        if rate == 0 {
            return Due::Held;
        }
        self.recover(now);
        let rate = rate as usize;
        let mut due = now;
        if self.starts.len() >= rate {
            // The rate-th start before this one must be a second (and the
            // slack) ago.
            let oldest = self.starts[self.starts.len() - rate];
            due = due.max(oldest + Duration::from_secs(1) + SLACK);
        }
        if self.slowdown > 1.0 || rate < qps as usize {
            // Spacing below qps, which governor's fixed quota cannot do.
            let period = Duration::from_secs(1) / rate as u32;
            let spacing = if self.slowdown > 1.0 {
                period.mul_f64(self.slowdown)
            } else {
                period.div_f64(SPACING_HEADROOM)
            };
            if let Some(&last) = self.starts.back() {
                due = due.max(last + spacing);
            }
        }
        match due.checked_duration_since(now) {
            Some(wait) if !wait.is_zero() => Due::In(wait),
            _ => Due::Now,
        }
    }

    fn record(&mut self, start: Instant, qps: u32) {
        if self.starts.len() == qps as usize {
            self.starts.pop_front();
        }
        self.starts.push_back(start);
        self.started_since_calm = self.started_since_calm.saturating_add(1);
        self.usage.started(start);
    }

    /// The rate climbs back a step for every `RECOVERY_STEP` of calm with
    /// a request started in it. (At 16x a `--qps 5` run starts one request
    /// every 3.2 s: without that condition every gap would count as calm,
    /// and 10011s answered to every request would never keep the slow-down
    /// at its floor.)
    fn recover(&mut self, now: Instant) {
        while self.slowdown > 1.0
            && self.started_since_calm > 0
            && now.duration_since(self.calm_since) >= RECOVERY_STEP
        {
            self.slowdown = (self.slowdown * 0.75).max(1.0);
            self.calm_since += RECOVERY_STEP;
            self.started_since_calm = 0;
        }
        if self.slowdown < MAX_SLOWDOWN {
            self.floor_since = None;
        }
    }
}

#[cfg(test)]
mod tests;
