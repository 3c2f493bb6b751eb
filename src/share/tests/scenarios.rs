//! The protocol in a discrete-time simulation of a group (`sim`): runs
//! that join, leave, die, stall, with different `--qps` and demands; never
//! above Q, and Q filled while every run is saturated.

use super::sim::{self, Exit, Record, Script, Sim};
use std::collections::VecDeque;

/// How long a simulated scenario lasts.
const DURATION: i64 = 40_000;
/// When a run with a lower `--qps` joins, the others hear of it at their
/// next heartbeat: until then the group may run at the Q before.
const Q_LAG_MS: i64 = 500 + sim::JITTER_MS + 50;

fn saturated(qps: u32, join_at: i64) -> Script {
    Script {
        qps,
        need: None,
        join_at,
        exit: None,
        stall: None,
    }
}

fn random_scripts(rng: &mut fastrand::Rng) -> Vec<Script> {
    let n = rng.usize(2..=5);
    (0..n)
        .map(|i| {
            let join_at = if i == 0 || rng.bool() {
                rng.i64(0..500)
            } else {
                rng.i64(0..20_000)
            };
            let exit = (rng.u8(0..10) < 4).then(|| {
                let how = if rng.u8(0..10) < 7 {
                    Exit::End
                } else {
                    Exit::Crash
                };
                (join_at + rng.i64(5_000..30_000), how)
            });
            let stall = (rng.u8(0..10) < 3).then(|| {
                let from = rng.i64(0..DURATION);
                (from, from + rng.i64(300..5_000))
            });
            Script {
                qps: [20, 30, 45, 60][rng.usize(0..4)],
                need: (rng.u8(0..4) == 0).then(|| 3.0 + 12.0 * rng.f64()),
                join_at,
                exit,
                stall,
            }
        })
        .collect()
}

/// Every one-second window holds at most Q starts, Q being the largest
/// the spec allowed from `Q_LAG_MS` before the window to its end.
fn assert_never_above_q(record: &Record, what: &str) {
    let mut prefix = vec![0u32];
    for &starts in &record.starts {
        prefix.push(prefix.last().expect("starts at one element") + starts);
    }
    let len = record.starts.len() as i64;
    // The largest Q in [a - Q_LAG_MS, a + 1000), for every a, by a
    // monotonic queue of (time, Q) with Q decreasing.
    let mut largest: VecDeque<(i64, u32)> = VecDeque::new();
    let mut pushed = 0;
    for a in 0..len - 1000 {
        while pushed < a + 1000 {
            let q = record.q[pushed as usize];
            while largest.back().is_some_and(|&(_, back)| back <= q) {
                largest.pop_back();
            }
            largest.push_back((pushed, q));
            pushed += 1;
        }
        while largest.front().is_some_and(|&(at, _)| at < a - Q_LAG_MS) {
            largest.pop_front();
        }
        let q = largest.front().expect("the window's last ms was pushed").1;
        let in_window = prefix[(a + 1000) as usize] - prefix[a as usize];
        assert!(
            in_window <= q,
            "{what}: {in_window} starts in the second from {a} ms, Q {q}"
        );
    }
}

/// While nothing joins or leaves and every live run is saturated, every
/// one-second window from 3 s after the last change holds ≥ 85% of Q.
/// Returns how many windows it checked.
fn assert_fills_q(record: &Record, what: &str) -> usize {
    let len = record.starts.len() as i64;
    let mut events = record.events.clone();
    events.push(len);
    events.sort_unstable();
    events.dedup();
    let mut checked = 0;
    for pair in events.windows(2) {
        let (from, to) = (pair[0] + 3_000, pair[1]);
        for a in (from..to - 1000).step_by(10) {
            let span = a as usize..(a + 1000) as usize;
            let q = record.q[a as usize];
            if q == 0 || !record.all_saturated[span.clone()].iter().all(|&s| s) {
                continue;
            }
            let in_window: u32 = record.starts[span].iter().sum();
            assert!(
                f64::from(in_window) >= 0.85 * f64::from(q),
                "{what}: only {in_window} starts in the second from {a} ms, Q {q}"
            );
            checked += 1;
        }
    }
    checked
}

/// A run's applied grant at `t` ms (sampled every 100 ms).
fn applied(record: &Record, run: usize, t: i64) -> u32 {
    record.applied[run][(t / 100) as usize]
}

#[test]
fn random_groups_never_pass_q_and_fill_it_when_saturated() {
    let mut checked = 0;
    for seed in 0..24 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let scripts = random_scripts(&mut rng);
        let record = Sim::new(scripts.clone(), seed).run(DURATION);
        let what = format!("seed {seed}, {scripts:?}");
        assert_never_above_q(&record, &what);
        checked += assert_fills_q(&record, &what);
    }
    // The scenarios must leave room for the throughput check to bite.
    assert!(checked > 10_000, "only {checked} saturated windows checked");
}

#[test]
fn a_run_that_ends_gives_its_share_back_within_3_s() {
    let mut scripts = vec![saturated(60, 0), saturated(60, 130), saturated(60, 270)];
    scripts[1].exit = Some((10_000, Exit::End));
    let record = Sim::new(scripts, 7).run(15_000);
    assert_never_above_q(&record, "one of three ends");
    for run in 0..3 {
        assert_eq!(applied(&record, run, 9_900), 20, "run {run} before");
    }
    for run in [0, 2] {
        assert_eq!(applied(&record, run, 13_000), 30, "run {run} after");
    }
    assert_fills_q(&record, "one of three ends");
}

#[test]
fn a_run_that_dies_gives_its_share_back_within_3_s_of_its_lease() {
    let mut scripts = vec![saturated(60, 0), saturated(60, 130), saturated(60, 270)];
    scripts[1].exit = Some((10_000, Exit::Crash));
    let record = Sim::new(scripts, 8).run(16_000);
    assert_never_above_q(&record, "one of three dies");
    // Its last heartbeat was at most one period before it died; its lease
    // lapsed 2 s after that.
    for run in [0, 2] {
        assert_eq!(applied(&record, run, 12_000 + 3_000), 30, "run {run}");
    }
}

#[test]
fn a_joining_run_gets_its_share_within_3_s_and_never_above_q() {
    let scripts = vec![saturated(60, 0), saturated(60, 210), saturated(60, 10_000)];
    let record = Sim::new(scripts, 9).run(15_000);
    assert_never_above_q(&record, "a third joins");
    assert_eq!(applied(&record, 2, 9_900), 0);
    for run in 0..3 {
        assert_eq!(applied(&record, run, 13_000), 20, "run {run}");
    }
    assert!(assert_fills_q(&record, "a third joins") > 100);
}

#[test]
fn a_run_with_a_lower_qps_brings_q_down() {
    let scripts = vec![saturated(60, 0), saturated(60, 210), saturated(30, 10_000)];
    let record = Sim::new(scripts, 10).run(15_000);
    assert_never_above_q(&record, "a run with --qps 30 joins");
    for run in 0..3 {
        assert_eq!(applied(&record, run, 13_000), 10, "run {run}");
    }
}
