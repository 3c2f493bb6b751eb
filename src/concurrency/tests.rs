//! The flag, the arithmetic, `Slots` by counts, and `auto` in a run
//! simulated in virtual time (no sleeping): a limiter model with the real
//! rules (one-second window plus slack, spacing with headroom), slots held
//! from before the permit to the answer, latencies drawn from a seeded
//! generator.

use super::*;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};

const MS: u64 = 1_000_000;
const SECOND: u64 = 1_000 * MS;

#[test]
fn the_flag_takes_auto_or_1_to_1024() {
    assert_eq!("auto".parse(), Ok(Concurrency::Auto));
    assert_eq!("AUTO".parse(), Ok(Concurrency::Auto));
    let fixed = |n| Ok(Concurrency::Fixed(NonZeroUsize::new(n).expect("not zero")));
    assert_eq!("1".parse(), fixed(1));
    assert_eq!("1024".parse(), fixed(1024));
    for bad in ["0", "1025", "-3", "eight", ""] {
        let err = bad.parse::<Concurrency>().expect_err(bad);
        assert!(err.starts_with("--concurrency"), "{bad}: {err}");
    }
    assert_eq!(Concurrency::Auto.to_string(), "auto");
    assert_eq!(
        "16".parse::<Concurrency>().expect("valid").to_string(),
        "16"
    );
    assert_eq!(Concurrency::default(), Concurrency::Auto);
}

#[test]
fn littles_law() {
    let ms = Duration::from_millis;
    assert_eq!(rate_for(8, ms(100)), 80.0);
    assert_eq!(rate_for(8, Duration::ZERO), f64::INFINITY);
    // 100/s × 0.4 s × 1.25 = 50, and 2 spare.
    assert_eq!(target(100.0, ms(400)), 52);
    assert_eq!(target(10.0, ms(50)), MIN_AUTO);
    assert_eq!(target(1000.0, ms(400)), MAX_AUTO);
    assert_eq!(target(f64::INFINITY, ms(400)), MAX_AUTO);
    assert_eq!(target(100.0, Duration::ZERO), MIN_AUTO);
}

#[test]
fn the_estimate_is_qps_unless_concurrency_caps_it() {
    let ms = Duration::from_millis;
    let eight = Concurrency::Fixed(NonZeroUsize::new(8).expect("not zero"));
    // The limiter's slack: 100 per 1.02 s.
    let full = 100.0 * 1000.0 / 1020.0;
    assert_eq!(estimate(100, Concurrency::Auto, ms(400)), full);
    assert_eq!(estimate(100, eight, ms(50)), full);
    // Issue 12: --qps 500 with 8 in flight at 100 ms reached 77.7/s.
    assert_eq!(estimate(500, eight, ms(100)), 80.0);
    assert_eq!(capped(500, eight, ms(100)), Some(80.0));
    assert_eq!(capped(100, eight, ms(50)), None);
    assert_eq!(capped(100, Concurrency::Auto, ms(400)), None);
    // auto's own ceiling: 256 in flight at 400 ms is 640/s.
    assert_eq!(capped(1000, Concurrency::Auto, ms(400)), Some(640.0));
}

#[test]
fn auto_rises_fast_and_falls_slowly() {
    let auto = Auto::new();
    assert_eq!(auto.latency(), INITIAL_LATENCY);
    assert_eq!(auto.target(10.0), 15);
    auto.observe(Duration::from_millis(100));
    assert_eq!(auto.latency(), Duration::from_millis(100));
    auto.observe(Duration::from_millis(600));
    let risen = auto.latency();
    auto.observe(Duration::ZERO);
    let fallen = auto.latency();
    assert!(risen - Duration::from_millis(100) > (risen - fallen) * 3);
}

#[test]
fn the_wait_for_the_commit_counts_as_time_a_slot_is_taken() {
    let auto = Auto::new();
    auto.observe(Duration::from_millis(2));
    let before = auto.target(2000.0);
    auto.observe_commit(Duration::from_millis(20));
    assert_eq!(
        auto.latency(),
        Duration::from_millis(2),
        "the API's latency alone"
    );
    assert_eq!(
        auto.held(),
        Duration::from_millis(6),
        "the commit rises by a fifth of the gap"
    );
    assert!(
        auto.target(2000.0) > before,
        "{} slots, {before} before",
        auto.target(2000.0)
    );
}

/// A latency in ns drawn for one request.
type Draw<'a> = &'a mut dyn FnMut(&mut fastrand::Rng) -> u64;

/// Starts per second from `from` to `until` of a run at `qps` with these
/// latencies, `auto` choosing the slots unless `fixed` is given.
fn simulate(qps: u32, fixed: Option<usize>, draw: Draw, from: u64, until: u64) -> f64 {
    let mut rng = fastrand::Rng::with_seed(u64::from(qps) ^ until);
    let auto = Auto::new();
    let rate = f64::from(qps);
    let mut limit = fixed.unwrap_or_else(|| auto.target(rate));
    let (mut in_use, mut waiting) = (0, 0);
    let mut answers: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    let mut window: VecDeque<u64> = VecDeque::new();
    let spacing = (SECOND as f64 / (rate * 1.1)) as u64;
    let mut next_spaced = 0;
    let mut counted = 0;
    let mut now = 0;
    loop {
        while in_use < limit {
            in_use += 1;
            waiting += 1;
        }
        let permit = (waiting > 0).then(|| {
            let mut due = now.max(next_spaced);
            if window.len() == qps as usize {
                due = due.max(window[0] + SECOND + 20 * MS);
            }
            due
        });
        let answer = answers.peek().map(|Reverse((at, _))| *at);
        let next = match (permit, answer) {
            (Some(p), Some(a)) => p.min(a),
            (Some(p), None) => p,
            (None, Some(a)) => a,
            (None, None) => unreachable!("slots are always taken"),
        };
        if next >= until {
            break;
        }
        now = next;
        if permit == Some(now) {
            waiting -= 1;
            if window.len() == qps as usize {
                window.pop_front();
            }
            window.push_back(now);
            next_spaced = now + spacing;
            counted += u32::from(now >= from);
            let latency = draw(&mut rng);
            answers.push(Reverse((now + latency, latency)));
        } else {
            let Reverse((_, latency)) = answers.pop().expect("peeked");
            auto.observe(Duration::from_nanos(latency));
            in_use -= 1;
            if fixed.is_none() {
                limit = auto.target(rate);
            }
        }
    }
    f64::from(counted) / ((until - from) as f64 / SECOND as f64)
}

#[test]
fn auto_reaches_95_percent_of_qps_100_at_50_150_and_400_ms() {
    for latency in [50, 150, 400] {
        let reached = simulate(100, None, &mut |_| latency * MS, 2 * SECOND, 30 * SECOND);
        assert!(reached >= 95.0, "{latency} ms: {reached}/s");
    }
}

#[test]
fn auto_reaches_95_percent_under_jitter_and_a_slow_tail() {
    for latency in [50, 150, 400] {
        // Anywhere from half to one and a half times the latency.
        let mut jitter = |rng: &mut fastrand::Rng| latency * MS / 2 + rng.u64(0..latency * MS);
        let reached = simulate(100, None, &mut jitter, 2 * SECOND, 30 * SECOND);
        assert!(reached >= 95.0, "{latency} ms ± 50%: {reached}/s");
        // One request in ten takes five times as long.
        let mut tail = |rng: &mut fastrand::Rng| {
            let slow = if rng.u8(0..10) == 0 { 5 } else { 1 };
            slow * latency * MS
        };
        let reached = simulate(100, None, &mut tail, 2 * SECOND, 30 * SECOND);
        assert!(reached >= 95.0, "{latency} ms, a tenth ×5: {reached}/s");
    }
}

#[test]
fn the_estimate_matches_a_simulated_fixed_concurrency() {
    let reached = simulate(500, Some(8), &mut |_| 100 * MS, SECOND, 20 * SECOND);
    let eight = Concurrency::Fixed(NonZeroUsize::new(8).expect("not zero"));
    let estimated = estimate(500, eight, Duration::from_millis(100));
    assert!(
        (reached - estimated).abs() <= 0.02 * estimated,
        "{reached} vs {estimated}"
    );
}

/// Waits (test side) until `slots` has `n` in use.
fn until_in_use(slots: &Slots, n: usize) {
    while slots.in_use() != n {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn raising_the_limit_wakes_a_waiter() {
    let slots = Slots::new(1);
    let stop = Stop::new();
    let first = slots.acquire(&stop).expect("a free slot");
    let done = AtomicBool::new(false);
    std::thread::scope(|threads| {
        let waiter = threads.spawn(|| {
            let second = slots.acquire(&stop).map(|_| ());
            done.store(true, Ordering::SeqCst);
            second
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(!done.load(Ordering::SeqCst), "the one slot is taken");
        slots.set_limit(2);
        assert_eq!(waiter.join().expect("no panic"), Some(()));
    });
    drop(first);
    assert_eq!(slots.in_use(), 0);
    assert_eq!(slots.peak(), 2);
}

#[test]
fn lowering_the_limit_lets_the_requests_in_flight_finish() {
    let slots = Slots::new(3);
    let stop = Stop::new();
    let mut held: Vec<_> = (0..3)
        .map(|_| slots.acquire(&stop).expect("three free slots"))
        .collect();
    slots.set_limit(1);
    assert_eq!(slots.in_use(), 3, "nothing in flight is cut off");
    let done = AtomicBool::new(false);
    std::thread::scope(|threads| {
        let waiter = threads.spawn(|| {
            let slot = slots.acquire(&stop).map(|_| ());
            done.store(true, Ordering::SeqCst);
            slot
        });
        for in_use in [2, 1] {
            drop(held.pop());
            std::thread::sleep(Duration::from_millis(20));
            assert!(!done.load(Ordering::SeqCst), "{in_use} in use, limit 1");
        }
        drop(held.pop());
        assert_eq!(waiter.join().expect("no panic"), Some(()));
    });
    assert_eq!(slots.peak(), 3);
}

#[test]
fn a_stopped_run_gets_no_slot() {
    let slots = Slots::new(1);
    let stop = Stop::new();
    let first = slots.acquire(&stop).expect("a free slot");
    std::thread::scope(|threads| {
        let waiters: Vec<_> = (0..3)
            .map(|_| threads.spawn(|| slots.acquire(&stop).map(|_| ())))
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        stop.stop();
        // The holder hears the stop and gives its slot back.
        drop(first);
        for waiter in waiters {
            assert_eq!(waiter.join().expect("no panic"), None);
        }
    });
    assert!(slots.acquire(&stop).is_none());
    until_in_use(&slots, 0);
}
