//! What the simulator counts ([`Stats`], served at `GET /__stats`) and the
//! [`Ledger`] that keeps it together with the little state a request's
//! answer depends on: the trailing-second arrival window (of the rate limit
//! and of `max_per_second`), the jitter generator, and the instance nonce
//! that makes `orderid`s unique.
//!
//! No I/O and no clock reads: the server passes the arrival time in, so the
//! bookkeeping is testable without sleeping. Memory: the window holds one
//! second of arrivals; `arrivals_us`, `numbers`, `targets` and `orderids`
//! grow with what was asked, as a test wants them to.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

use super::config::SandboxConfig;

/// What the simulator has seen and answered since it started.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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
    /// The most API requests that arrived within any one second of the run
    /// (a sliding window: arrivals less than 1 s apart), whether answered,
    /// refused or dropped: what the API's own rate limit would have seen.
    pub max_per_second: u64,
    /// API requests per second over the run: `requests - 1` over the
    /// seconds from the first arrival to the last (the rate of evenly
    /// spaced arrivals, exactly); 0 before two arrivals apart in time.
    pub arrival_rate: f64,
    /// Per plaintext number, the `orderid` of each billed `queryEncry`
    /// answer, in the order given: every billed query has its own.
    pub orderids: BTreeMap<String, Vec<String>>,
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
pub(crate) struct Counted {
    /// The `codes` key: `"0"`, `"224805"`, `"http_500"`, `"drop"`, …
    pub code: String,
    /// The plaintext number, when the request got as far as a valid one.
    pub number: Option<String>,
    /// Whether the answer was billed (`error_code` 0).
    pub billed: bool,
    /// A `queryEncry` request that sent the number in clear.
    pub plaintext_on_encrypted: bool,
    /// The `orderid` of a billed `queryEncry` answer.
    pub orderid: Option<String>,
}

/// What the server learns when a request arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Arrival {
    /// More requests than the rate limit arrived in the trailing second
    /// (less than 1 s before this one), this one included.
    pub rate_limited: bool,
    /// How long to wait before answering: latency plus jitter.
    pub delay: Duration,
}

/// The simulator's mutable state, behind one mutex in the server.
#[derive(Debug)]
pub(crate) struct Ledger {
    started: Instant,
    stats: Stats,
    /// The first API request's arrival.
    first: Option<Instant>,
    /// Arrival times less than a second before the latest, oldest first.
    window: VecDeque<Instant>,
    jitter: fastrand::Rng,
    /// Mixed into every `orderid`, so that two simulators (two runs, two
    /// processes) never issue the same one.
    nonce: u64,
}

impl Ledger {
    /// A fresh ledger: `seed` seeds the jitter, `nonce` the `orderid`s.
    pub fn new(started: Instant, seed: u64, nonce: u64) -> Self {
        Ledger {
            started,
            stats: Stats::default(),
            first: None,
            window: VecDeque::new(),
            jitter: fastrand::Rng::with_seed(seed),
            nonce,
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

        let first = *self.first.get_or_insert(at);
        let span = at.saturating_duration_since(first).as_secs_f64();
        if span > 0.0 {
            // Lossless below 2^53 requests.
            stats.arrival_rate = (stats.requests - 1) as f64 / span;
        }

        // Arrivals come in order (the server stamps them on its one
        // thread), so the old ones are at the front. The busiest window
        // ends at some arrival: measuring at each arrival finds it.
        while self
            .window
            .front()
            .is_some_and(|&old| at.saturating_duration_since(old) >= Duration::from_secs(1))
        {
            self.window.pop_front();
        }
        self.window.push_back(at);
        let in_window = self.window.len();
        stats.max_per_second = stats.max_per_second.max(in_window as u64);
        let rate_limited = config
            .rate_limit
            .is_some_and(|limit| in_window > limit as usize);

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
    pub fn record(&mut self, counted: &Counted) {
        let stats = &mut self.stats;
        *stats.codes.entry(counted.code.clone()).or_default() += 1;
        if counted.billed {
            stats.billed += 1;
        }
        if let Some(number) = &counted.number {
            let entry = stats.numbers.entry(number.clone()).or_default();
            entry.requests += 1;
            if counted.billed {
                entry.billed += 1;
            }
            if let Some(orderid) = &counted.orderid {
                let issued = stats.orderids.entry(number.clone()).or_default();
                issued.push(orderid.clone());
            }
        }
        if counted.plaintext_on_encrypted {
            stats.plaintext_on_encrypted += 1;
        }
    }

    /// The `orderid` of the number's `attempt`-th request at `epoch`: `JH`
    /// and 24 digits, from MD5 of the nonce, the number, the epoch and the
    /// attempt. So it differs for every request of this simulator and, the
    /// nonce being random, from every other simulator's.
    pub fn orderid(&self, number: &str, epoch: u64, attempt: u64) -> String {
        let text = format!("{}:{number}:{epoch}:{attempt}", self.nonce);
        let digest: [u8; 16] = Md5::digest(text).into();
        format!("JH{:024}", u128::from_be_bytes(digest) % 10u128.pow(24))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counted(code: &str, number: Option<&str>, billed: bool) -> Counted {
        Counted {
            code: code.to_owned(),
            number: number.map(str::to_owned),
            billed,
            plaintext_on_encrypted: false,
            orderid: None,
        }
    }

    #[test]
    fn counts_arrivals_and_answers() {
        let start = Instant::now();
        let config = SandboxConfig::default();
        let mut ledger = Ledger::new(start, 0, 0);
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
        ledger.record(&counted("0", Some("13800138000"), true));
        ledger.record(&counted("224805", Some("13800138000"), false));
        ledger.record(&counted("10001", None, false));
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
        let mut ledger = Ledger::new(start, 0, 0);
        let at = |ms| start + Duration::from_millis(ms);
        let limited: Vec<bool> = [0, 100, 200, 999, 1_000, 1_150, 2_500]
            .into_iter()
            .map(|ms| ledger.arrive(&config, at(ms), "POST", "/").rate_limited)
            .collect();
        // At 1000 ms the arrival at 0 ms has left the window, but 100, 200
        // and 999 are in it (refused arrivals count too).
        assert_eq!(limited, [false, false, true, true, true, true, false]);
    }

    /// Issue 12: the busiest one-second window and the rate over the run,
    /// kept with one second of arrivals in memory, rate limit or not.
    #[test]
    fn measures_the_busiest_second_and_the_rate() {
        let start = Instant::now();
        let config = SandboxConfig::default();
        let mut ledger = Ledger::new(start, 0, 0);
        assert_eq!(ledger.stats().arrival_rate, 0.0);
        for ms in [0, 100, 200, 999, 1_000, 1_150, 2_500, 2_600] {
            ledger.arrive(&config, start + Duration::from_millis(ms), "POST", "/");
        }
        // 100, 200, 999 and 1000 ms are within a second of each other; 0
        // and 1000 are not.
        assert_eq!(ledger.stats().max_per_second, 4);
        let rate = ledger.stats().arrival_rate;
        assert!((rate - 7.0 / 2.6).abs() < 1e-9, "{rate}");

        // A burst of 1,500 arrivals 0.5 ms apart (749.5 ms in all), then
        // three seconds at one a millisecond.
        let mut ledger = Ledger::new(start, 0, 0);
        for i in 0..1_500u64 {
            ledger.arrive(&config, start + Duration::from_micros(i * 500), "POST", "/");
        }
        assert_eq!(ledger.stats().max_per_second, 1_500);
        for i in 0..3_000u64 {
            let at = Duration::from_secs(1) + Duration::from_micros(i * 1_000);
            ledger.arrive(&config, start + at, "POST", "/");
        }
        assert_eq!(ledger.stats().max_per_second, 1_500, "1000 a second since");
        assert!(ledger.window.len() <= 1_000, "one second of arrivals kept");
    }

    #[test]
    fn orderids_differ_per_request_and_per_simulator() {
        let start = Instant::now();
        let one = Ledger::new(start, 0, 1);
        let other = Ledger::new(start, 0, 2);
        let ids = [
            one.orderid("13800138000", 0, 0),
            one.orderid("13800138000", 0, 1),
            one.orderid("13800138000", 1, 0),
            one.orderid("13900139000", 0, 0),
            other.orderid("13800138000", 0, 0),
        ];
        for id in &ids {
            assert_eq!(id.len(), 26, "{id}");
            assert!(id.starts_with("JH") && id[2..].bytes().all(|b| b.is_ascii_digit()));
        }
        let distinct: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len(), "{ids:?}");
        assert_eq!(
            one.orderid("13800138000", 0, 0),
            ids[0],
            "a function of its inputs"
        );
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
            let mut ledger = Ledger::new(start, seed, 0);
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
