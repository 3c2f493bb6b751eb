//! How much of its rate a run uses: the demand it publishes to its rate
//! group (`share`). Plain bookkeeping on instants it is given; no clock.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The demand looks this far back.
const SPAN: Duration = Duration::from_secs(2);
/// Less history than this says nothing yet: a new run wants everything.
const MIN_SPAN: Duration = Duration::from_millis(500);
/// Marks closer together than this are not kept.
const MARK_EVERY: Duration = Duration::from_millis(100);
/// A run that is not saturated asks for this much more than it used, so
/// that its share can grow with it.
const HEADROOM: f64 = 1.25;

/// Totals since the limiter was made, and marks of them to subtract.
#[derive(Debug)]
pub(super) struct Usage {
    /// Time the turn holder spent waiting for a permit, up to
    /// `waiting_since`.
    held: Duration,
    starts: u64,
    /// The turn holder has been waiting since then.
    waiting_since: Option<Instant>,
    /// The totals at past instants, oldest first; the first is the newest
    /// one at least `SPAN` old, if any.
    marks: VecDeque<Mark>,
}

#[derive(Clone, Copy, Debug)]
struct Mark {
    at: Instant,
    held: Duration,
    starts: u64,
}

impl Usage {
    pub(super) fn new(now: Instant) -> Self {
        Usage {
            held: Duration::ZERO,
            starts: 0,
            waiting_since: None,
            marks: VecDeque::from([Mark {
                at: now,
                held: Duration::ZERO,
                starts: 0,
            }]),
        }
    }

    /// The turn holder waits for its permit (a no-op if it already does).
    pub(super) fn wait_from(&mut self, now: Instant) {
        self.waiting_since.get_or_insert(now);
    }

    /// The turn holder stops waiting, with or without a permit.
    pub(super) fn stop_waiting(&mut self, now: Instant) {
        if let Some(since) = self.waiting_since.take() {
            self.held += now.saturating_duration_since(since);
        }
    }

    /// A permit was granted at `now`.
    pub(super) fn started(&mut self, now: Instant) {
        self.stop_waiting(now);
        self.starts += 1;
    }

    /// Requests per second the run could use: infinite when a request was
    /// waiting for a permit more than half of the last ~2 s, or with less
    /// than `MIN_SPAN` of history; else the start rate × 1.25 + 1.
    pub(super) fn demand(&mut self, now: Instant) -> f64 {
        let held = self.held
            + self
                .waiting_since
                .map_or(Duration::ZERO, |since| now.saturating_duration_since(since));
        while self.marks.len() >= 2 && now.saturating_duration_since(self.marks[1].at) >= SPAN {
            self.marks.pop_front();
        }
        let base = *self.marks.front().expect("marks keep at least one");
        let span = now.saturating_duration_since(base.at);
        let demand = if span < MIN_SPAN || (held - base.held) * 2 > span {
            f64::INFINITY
        } else {
            (self.starts - base.starts) as f64 / span.as_secs_f64() * HEADROOM + 1.0
        };
        let last = self.marks.back().expect("marks keep at least one").at;
        if now.saturating_duration_since(last) >= MARK_EVERY {
            self.marks.push_back(Mark {
                at: now,
                held,
                starts: self.starts,
            });
        }
        demand
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_new_run_wants_everything() {
        let t0 = Instant::now();
        let mut usage = Usage::new(t0);
        assert_eq!(usage.demand(t0 + ms(100)), f64::INFINITY);
    }

    #[test]
    fn an_idle_run_asks_for_one_request_per_second() {
        let t0 = Instant::now();
        let mut usage = Usage::new(t0);
        assert_eq!(usage.demand(t0 + ms(2_000)), 1.0);
    }

    #[test]
    fn a_run_below_its_rate_asks_a_quarter_more_than_it_used() {
        let t0 = Instant::now();
        let mut usage = Usage::new(t0);
        // 20 starts a second for 4 s, each after a 10 ms wait: held 20%.
        for i in 0..80 {
            let at = t0 + ms(50 * i);
            usage.wait_from(at);
            usage.started(at + ms(10));
            if i % 10 == 0 {
                usage.demand(at);
            }
        }
        let demand = usage.demand(t0 + ms(4_000));
        // Measured over the last 2 to 2.1 s: 20/s × 1.25 + 1, or close.
        assert!((24.0..=27.0).contains(&demand), "{demand}");
    }

    #[test]
    fn a_run_held_back_most_of_the_time_is_saturated() {
        let t0 = Instant::now();
        let mut usage = Usage::new(t0);
        // Always a waiter: each start is followed by the next wait.
        for i in 0..40 {
            let at = t0 + ms(100 * i);
            usage.wait_from(at);
            usage.started(at + ms(95));
            usage.demand(at + ms(95));
        }
        assert_eq!(usage.demand(t0 + ms(4_000)), f64::INFINITY);
    }

    #[test]
    fn a_wait_still_going_counts() {
        let t0 = Instant::now();
        let mut usage = Usage::new(t0);
        assert_eq!(usage.demand(t0 + ms(1_000)), 1.0);
        // Held (a share of 0) from 1.5 s on, no permit since.
        usage.wait_from(t0 + ms(1_500));
        assert_eq!(usage.demand(t0 + ms(2_500)), 1.0, "held 1 s of 2.5");
        assert_eq!(usage.demand(t0 + ms(4_000)), f64::INFINITY, "2.5 s of 3");
    }

    #[test]
    fn old_history_is_forgotten() {
        let t0 = Instant::now();
        let mut usage = Usage::new(t0);
        usage.wait_from(t0);
        usage.started(t0 + ms(3_000));
        assert_eq!(usage.demand(t0 + ms(3_000)), f64::INFINITY);
        // Calm for the next 3 s: the old wait no longer counts.
        for s in 4..=6 {
            usage.demand(t0 + ms(1_000 * s));
        }
        let demand = usage.demand(t0 + ms(6_500));
        assert!(demand < 2.0, "{demand}");
    }
}
