//! What the simulator counts ([`Stats`], served at `GET /__stats`) and the
//! [`Ledger`] that keeps it together with the little state a request's
//! answer depends on: the trailing-second arrival window of the rate limit
//! and the jitter generator.
//!
//! No I/O and no clock reads: the server passes the arrival time in, so the
//! bookkeeping is testable without sleeping.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::config::SandboxConfig;

/// What the simulator has seen and answered since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// Requests to the two API paths (not `/__stats`, not unknown paths).
    pub requests: u64,
    /// Answers with `error_code` 0: what a real account would have paid for.
    pub billed: u64,
    /// Per plaintext (decrypted) number, for requests that got as far as a
    /// valid number.
    pub numbers: BTreeMap<String, NumberStats>,
    /// Answers by outcome: `"0"`, `"224805"`, `"10001"`, `"http_500"`,
    /// `"drop"`, `"garbage"`, …
    pub codes: BTreeMap<String, u64>,
    /// The arrival time of every API request, in microseconds since the
    /// simulator started, in arrival order.
    pub arrivals_us: Vec<u64>,
    /// API requests by HTTP method (`"GET"`, `"POST"`).
    pub methods: BTreeMap<String, u64>,
    /// Every distinct request target (path and query string) seen, so tests
    /// can assert that the key travelled in none.
    pub targets: BTreeSet<String>,
    /// `queryEncry` requests whose `mobile` was 11 plain digits instead of a
    /// ciphertext.
    pub plaintext_on_encrypted: u64,
}

/// What one number was asked and billed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberStats {
    /// Requests that reached this number (its attempts).
    pub requests: u64,
    /// Of those, the answers with `error_code` 0.
    pub billed: u64,
}

/// The outcome of one API request, as counted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Tally {
    /// The `codes` key: `"0"`, `"224805"`, `"http_500"`, `"drop"`, …
    pub code: String,
    /// The plaintext number, when the request got as far as a valid one.
    pub number: Option<String>,
    /// Whether the answer was billed (`error_code` 0).
    pub billed: bool,
    /// A `queryEncry` request that sent the number in clear.
    pub plaintext_on_encrypted: bool,
}

/// What the server learns when a request arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Arrival {
    /// More requests than the rate limit arrived in the trailing second,
    /// this one included.
    pub rate_limited: bool,
    /// How long to wait before answering: latency plus jitter.
    pub delay: Duration,
}

/// The simulator's mutable state, behind one mutex in the server.
#[derive(Debug)]
pub(crate) struct Ledger {
    started: Instant,
    stats: Stats,
    /// Arrival times within the trailing second, oldest first.
    window: VecDeque<Instant>,
    jitter: fastrand::Rng,
}

impl Ledger {
    pub fn new(started: Instant, seed: u64) -> Self {
        Ledger {
            started,
            stats: Stats::default(),
            window: VecDeque::new(),
            jitter: fastrand::Rng::with_seed(seed),
        }
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Records an API request arriving `at`, and says whether it is over the
    /// rate limit and how long it must wait.
    pub fn arrive(
        &mut self,
        config: &SandboxConfig,
        at: Instant,
        method: &str,
        target: &str,
    ) -> Arrival {
        let stats = &mut self.stats;
        stats.requests += 1;
        let since_start = at.saturating_duration_since(self.started);
        stats
            .arrivals_us
            .push(u64::try_from(since_start.as_micros()).unwrap_or(u64::MAX));
        *stats.methods.entry(method.to_owned()).or_default() += 1;
        if !stats.targets.contains(target) {
            stats.targets.insert(target.to_owned());
        }

        let rate_limited = config.rate_limit.is_some_and(|limit| {
            while self
                .window
                .front()
                .is_some_and(|&old| at.saturating_duration_since(old) >= Duration::from_secs(1))
            {
                self.window.pop_front();
            }
            self.window.push_back(at);
            self.window.len() > limit as usize
        });

        let jitter_us = u64::try_from(config.jitter.as_micros()).unwrap_or(u64::MAX);
        let jitter = match jitter_us {
            0 => Duration::ZERO,
            _ => Duration::from_micros(self.jitter.u64(0..jitter_us)),
        };
        Arrival {
            rate_limited,
            delay: config.latency + jitter,
        }
    }

    /// Counts the answer a request got.
    pub fn record(&mut self, tally: &Tally) {
        let stats = &mut self.stats;
        *stats.codes.entry(tally.code.clone()).or_default() += 1;
        if tally.billed {
            stats.billed += 1;
        }
        if let Some(number) = &tally.number {
            let entry = stats.numbers.entry(number.clone()).or_default();
            entry.requests += 1;
            if tally.billed {
                entry.billed += 1;
            }
        }
        if tally.plaintext_on_encrypted {
            stats.plaintext_on_encrypted += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(code: &str, number: Option<&str>, billed: bool) -> Tally {
        Tally {
            code: code.to_owned(),
            number: number.map(str::to_owned),
            billed,
            plaintext_on_encrypted: false,
        }
    }

    #[test]
    fn counts_arrivals_and_answers() {
        let start = Instant::now();
        let config = SandboxConfig::default();
        let mut ledger = Ledger::new(start, 0);
        ledger.arrive(
            &config,
            start + Duration::from_millis(5),
            "POST",
            "/mobileOnline/query",
        );
        ledger.arrive(
            &config,
            start + Duration::from_millis(7),
            "GET",
            "/mobileOnline/query?mobile=1",
        );
        ledger.arrive(
            &config,
            start + Duration::from_millis(9),
            "POST",
            "/mobileOnline/query",
        );
        ledger.record(&tally("0", Some("13800138000"), true));
        ledger.record(&tally("224805", Some("13800138000"), false));
        ledger.record(&tally("10001", None, false));
        let stats = ledger.stats();
        assert_eq!(stats.requests, 3);
        assert_eq!(stats.arrivals_us, [5_000, 7_000, 9_000]);
        assert_eq!(stats.methods["POST"], 2);
        assert_eq!(stats.targets.len(), 2);
        assert_eq!(stats.billed, 1);
        assert_eq!(
            stats.numbers["13800138000"],
            NumberStats {
                requests: 2,
                billed: 1
            }
        );
        assert_eq!(stats.codes.len(), 3);
    }

    #[test]
    fn limits_arrivals_in_the_trailing_second() {
        let start = Instant::now();
        let config = SandboxConfig {
            rate_limit: Some(2),
            ..SandboxConfig::default()
        };
        let mut ledger = Ledger::new(start, 0);
        let at = |ms| start + Duration::from_millis(ms);
        let limited: Vec<bool> = [0, 100, 200, 999, 1_000, 1_150, 2_500]
            .into_iter()
            .map(|ms| ledger.arrive(&config, at(ms), "POST", "/").rate_limited)
            .collect();
        // At 1000 ms the arrival at 0 ms has left the window, but 100, 200
        // and 999 are in it (refused arrivals count too).
        assert_eq!(limited, [false, false, true, true, true, true, false]);
    }

    #[test]
    fn jitter_stays_within_its_bounds_and_follows_the_seed() {
        let start = Instant::now();
        let config = SandboxConfig {
            latency: Duration::from_millis(10),
            jitter: Duration::from_millis(5),
            ..SandboxConfig::default()
        };
        let delays = |seed| {
            let mut ledger = Ledger::new(start, seed);
            (0..100)
                .map(|_| ledger.arrive(&config, start, "POST", "/").delay)
                .collect::<Vec<_>>()
        };
        let first = delays(7);
        assert!(
            first
                .iter()
                .all(|d| (Duration::from_millis(10)..Duration::from_millis(15)).contains(d))
        );
        assert_eq!(first, delays(7));
        assert_ne!(first, delays(8));
    }
}
