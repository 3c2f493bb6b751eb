//! Counts, not timings: every assertion holds however slow the machine.

use super::*;
use std::sync::atomic::{AtomicBool, Ordering};

fn limiter(qps: u32) -> Limiter {
    Limiter::new(NonZeroU32::new(qps).expect("tests use a positive qps"))
}

/// The most starts in any `window` ending at a start at or after `from`.
fn busiest_window_from(starts: &[Instant], window: Duration, from: Instant) -> usize {
    starts
        .iter()
        .filter(|&&end| end >= from)
        .map(|&end| {
            starts
                .iter()
                .filter(|&&s| s <= end && end - s < window)
                .count()
        })
        .max()
        .unwrap_or(0)
}

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

/// Waits (test side) until some thread holds the limiter's turn.
fn until_a_waiter(limiter: &Limiter) {
    while !limiter.lock().turn_taken {
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn never_more_than_qps_starts_in_any_second() {
    let qps = 40;
    let limiter = limiter(qps);
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
    let limiter = limiter(1);
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
    let limiter = limiter(10);
    limiter.slow_down();
    limiter.slow_down();
    assert_eq!(
        limiter.lock().slowdown,
        2.0,
        "a burst of 10011s halves the rate once"
    );
    // A steady stream of 10011s, each too soon to halve again by
    // itself, still halves once a second.
    for _ in 0..10 {
        let mut state = limiter.lock();
        let halved = state.last_halved.expect("halved above");
        state.last_halved = Some(halved - Duration::from_secs(1));
        state.calm_since = Instant::now();
        drop(state);
        limiter.slow_down();
    }
    assert_eq!(limiter.lock().slowdown, MAX_SLOWDOWN);
    let mut state = limiter.lock();
    let now = Instant::now();
    state.record(now, 10);
    let period = Duration::from_millis(100);
    match state.due(now, 10) {
        Due::In(wait) => assert!(wait > period * 8, "{wait:?}"),
        _ => panic!("slowed down, a wait is due"),
    }
}

#[test]
fn a_lower_share_binds_the_window_at_once() {
    let limiter = limiter(10);
    let mut state = limiter.lock();
    let now = Instant::now();
    // Five starts in the last second, 200 ms apart.
    for ago in [900, 700, 500, 300, 100] {
        state.record(now - Duration::from_millis(ago), 10);
    }
    assert!(matches!(state.due(now, 10), Due::Now), "5 of 10 used");
    state.granted = 3;
    // The third start before this one (500 ms ago) is less than 1.02 s
    // old: wait the difference.
    match state.due(now, 10) {
        Due::In(wait) => assert_eq!(wait, Duration::from_millis(520)),
        _ => panic!("3 starts in the window: the share of 3 is used up"),
    }
    state.granted = 0;
    assert!(matches!(state.due(now, 10), Due::Held));
}

#[test]
fn lowering_the_share_mid_run_holds_every_later_window_to_it() {
    let limiter = limiter(20);
    let stop = Stop::new();
    let starts = Mutex::new(Vec::new());
    let lowered_at = Mutex::new(None);
    let taken = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|threads| {
        for _ in 0..4 {
            threads.spawn(|| {
                while taken.fetch_add(1, Ordering::SeqCst) < 26 {
                    let start = limiter.acquire(&stop).expect("the run is not stopped");
                    starts.lock().expect("not poisoned").push(start);
                }
            });
        }
        threads.spawn(|| {
            while starts.lock().expect("not poisoned").len() < 20 {
                std::thread::sleep(Duration::from_millis(1));
            }
            limiter.set_share(3);
            *lowered_at.lock().expect("not poisoned") = Some(Instant::now());
        });
    });
    let mut starts = starts.into_inner().expect("not poisoned");
    starts.sort();
    assert_eq!(starts.len(), 26);
    let lowered_at = lowered_at
        .into_inner()
        .expect("not poisoned")
        .expect("the share was lowered");
    let window = Duration::from_secs(1) + SLACK;
    assert!(starts.iter().filter(|&&s| s > lowered_at).count() >= 3);
    assert!(busiest_window_from(&starts, window, lowered_at) <= 3);
    assert!(starts_in_any_window(&starts, window) <= 20);
}

#[test]
fn a_share_of_0_holds_until_it_rises_and_still_hears_stop() {
    let limiter = limiter(100);
    limiter.set_share(0);
    let stop = Stop::new();
    let done = AtomicBool::new(false);
    std::thread::scope(|threads| {
        let waiter = threads.spawn(|| {
            let permit = limiter.acquire(&stop);
            done.store(true, Ordering::SeqCst);
            permit
        });
        until_a_waiter(&limiter);
        std::thread::sleep(Duration::from_millis(100));
        assert!(!done.load(Ordering::SeqCst), "no permit at a share of 0");
        // A held waiter is a saturated run, whatever its history.
        let later = Instant::now() + Duration::from_secs(3);
        assert_eq!(limiter.lock().usage.demand(later), f64::INFINITY);
        limiter.set_share(5);
        assert!(waiter.join().expect("no panic").is_some());
    });
    limiter.set_share(0);
    std::thread::scope(|threads| {
        let waiter = threads.spawn(|| limiter.acquire(&stop));
        let second = threads.spawn(|| limiter.acquire(&stop));
        until_a_waiter(&limiter);
        stop.stop();
        assert_eq!(waiter.join().expect("no panic"), None);
        assert_eq!(second.join().expect("no panic"), None);
    });
}

#[test]
fn no_permit_after_the_lease_until_it_is_renewed() {
    let limiter = limiter(200);
    let stop = Stop::new();
    let valid_until = Instant::now() + Duration::from_millis(200);
    limiter.renewed(valid_until);
    let starts = Mutex::new(Vec::new());
    let (before_renewal, after_renewal) = std::thread::scope(|threads| {
        threads.spawn(|| {
            while let Some(start) = limiter.acquire(&stop) {
                starts.lock().expect("not poisoned").push(start);
            }
        });
        std::thread::sleep(Duration::from_millis(400));
        until_a_waiter(&limiter);
        let before_renewal = starts.lock().expect("not poisoned").clone();
        limiter.renewed(Instant::now() + Duration::from_secs(60));
        // The renewal wakes the waiter; a bound keeps a broken limiter
        // from hanging the test.
        let mut after_renewal = 0;
        for _ in 0..10_000 {
            after_renewal = starts.lock().expect("not poisoned").len() - before_renewal.len();
            if after_renewal > 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        stop.stop();
        (before_renewal, after_renewal)
    });
    assert!(!before_renewal.is_empty());
    assert!(before_renewal.iter().all(|&s| s < valid_until));
    assert!(after_renewal > 0, "renewing lets permits through again");
}

#[test]
fn throttled_for_counts_10011s_at_the_slowest_rate_only() {
    let limiter = limiter(10);
    assert_eq!(limiter.throttled_for(), None);
    let halve_now = |limiter: &Limiter| {
        let mut state = limiter.lock();
        if let Some(at) = state.last_halved.as_mut() {
            *at -= Duration::from_secs(1);
        }
        drop(state);
        limiter.slow_down();
    };
    for _ in 0..3 {
        halve_now(&limiter);
    }
    assert_eq!(limiter.throttled_for(), None, "8x is not the floor yet");
    halve_now(&limiter);
    assert_eq!(limiter.throttled_for(), Some(Duration::ZERO));
    // 10011s keep coming for 40 s at the floor.
    limiter.lock().floor_since = Some(Instant::now() - Duration::from_secs(40));
    limiter.slow_down();
    let throttled = limiter.throttled_for().expect("still at the floor");
    assert!(throttled >= GIVE_UP_THROTTLED, "{throttled:?}");
    // Time alone, with no request in it, is no calm: at a slow rate the
    // next request is simply far away.
    limiter.lock().calm_since -= RECOVERY_STEP * 5;
    assert!(limiter.throttled_for().is_some());
    // A request started, and no 10011 for a step: the rate recovers, and
    // the count restarts.
    limiter.lock().record(Instant::now(), 10);
    assert_eq!(limiter.throttled_for(), None);
    assert_eq!(limiter.lock().slowdown, MAX_SLOWDOWN * 0.75, "one step");
}

#[test]
fn at_a_slow_rate_10011s_to_every_request_keep_the_floor() {
    // --qps 2 at 16x: one request every 8 s, each answered 10011.
    let limiter = limiter(2);
    for _ in 0..4 {
        let mut state = limiter.lock();
        if let Some(at) = state.last_halved.as_mut() {
            *at -= Duration::from_secs(1);
        }
        drop(state);
        limiter.slow_down();
    }
    limiter.lock().floor_since = Some(Instant::now() - Duration::from_secs(8));
    for _ in 0..5 {
        // 8 s pass; the next request starts, and gets a 10011.
        let mut state = limiter.lock();
        state.calm_since -= Duration::from_secs(8);
        state.last_halved = Some(Instant::now() - Duration::from_secs(8));
        state.recover(Instant::now());
        state.record(Instant::now(), 2);
        drop(state);
        limiter.slow_down();
    }
    let throttled = limiter.throttled_for().expect("at the floor throughout");
    assert!(throttled >= Duration::from_secs(8), "{throttled:?}");
}

#[test]
fn the_rate_is_the_share_under_qps_over_the_slowdown() {
    let limiter = limiter(10);
    assert_eq!(limiter.rate(), 10.0);
    limiter.set_share(4);
    assert_eq!(limiter.rate(), 4.0);
    limiter.set_share(50);
    assert_eq!(limiter.rate(), 10.0);
    limiter.slow_down();
    assert_eq!(limiter.rate(), 5.0);
}

#[test]
fn an_idle_run_asks_for_little() {
    let limiter = limiter(10);
    let later = Instant::now() + Duration::from_secs(3);
    let demand = limiter.lock().usage.demand(later);
    assert_eq!(demand, 1.0);
}
