//! The shared suite, runs: claims, leases, heartbeats, budgets, and all of
//! it at once.

use super::super::*;

/// Waits for `condition`, failing the test after 10 s instead of hanging.
pub(super) fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn claims_give_one_run_each_number(f: &Fixture) {
    let (one, two) = (f.open(JUHE), f.open(JUHE));
    let a = one.join(spec(Some("g")), pace()).unwrap();
    let b = two.join(spec(Some("g")), pace()).unwrap();
    assert_ne!(a.id(), b.id());
    let n = number("13800138000");
    assert_eq!(a.claim(&n, DAY).unwrap(), Claim::Mine);
    assert_eq!(a.claim(&n, DAY).unwrap(), Claim::Mine, "refreshed");
    assert_eq!(b.claim(&n, DAY).unwrap(), Claim::Held);
    a.put(n, &tenure(), None).unwrap();
    one.flush().unwrap();
    match b.claim(&n, DAY).unwrap() {
        Claim::Answered(stored) => {
            assert_eq!(stored.answer, tenure());
            assert!(stored.this_run, "it arrived while this store was open");
        }
        other => panic!("{other:?}"),
    }
    let m = number("13900139000");
    assert_eq!(b.claim(&m, DAY).unwrap(), Claim::Mine);
    assert_eq!(a.claim(&m, DAY).unwrap(), Claim::Held);
    b.release(&m).unwrap();
    assert_eq!(a.claim(&m, DAY).unwrap(), Claim::Mine);
    assert_eq!(b.claim(&m, DAY).unwrap(), Claim::Held);
}

pub fn a_claim_is_taken_over_when_the_lease_lapses(f: &Fixture) {
    // A heartbeat slower than the takeover: the lease of `a` lapses between
    // its beats, as it would for a run stalled for 30 s.
    let stalled = Timing {
        heartbeat: Duration::from_millis(600),
        takeover: Duration::from_millis(250),
        ..quick()
    };
    let (one, two) = (f.open_with(JUHE, stalled), f.open_with(JUHE, stalled));
    let b = two.join(spec(Some("g")), pace()).unwrap();
    // Nothing slow between a's renewal at join and b's first claim.
    let a = one.join(spec(Some("g")), pace()).unwrap();
    let n = number("13800138000");
    assert_eq!(a.claim(&n, DAY).unwrap(), Claim::Mine);
    assert_eq!(b.claim(&n, DAY).unwrap(), Claim::Held, "a's lease is fresh");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(b.claim(&n, DAY).unwrap(), Claim::Mine, "taken over");
    eventually("a finds its lease taken over", || a.lost());
    assert_eq!(a.failure(), None);
}

pub fn racing_claims_give_exactly_one_mine_per_number(f: &Fixture) {
    let stores = [f.open(JUHE), f.open(JUHE), f.open(JUHE)];
    let runs: Vec<Run<'_>> = stores
        .iter()
        .map(|store| store.join(spec(Some("g")), pace()).unwrap())
        .collect();
    let numbers: Vec<Number> = (0..150).map(|i| number(&format!("135{i:08}"))).collect();
    // The three start claiming together, not one after another.
    let start = std::sync::Barrier::new(runs.len());
    let mine: Vec<Vec<Number>> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|run| {
                let (numbers, start) = (&numbers, &start);
                scope.spawn(move || {
                    start.wait();
                    numbers
                        .iter()
                        .filter(|n| run.claim(n, DAY).unwrap() == Claim::Mine)
                        .copied()
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<Number> = mine.concat();
    all.sort_unstable();
    assert_eq!(all, numbers, "each number is exactly one run's");
}

pub fn finish_releases_claims_and_marks_the_run_ended(f: &Fixture) {
    let (one, two) = (f.open(JUHE), f.open(JUHE));
    let a = one.join(spec(Some("g")), pace()).unwrap();
    let b = two.join(spec(Some("g")), pace()).unwrap();
    let (n, m) = (number("13800138000"), number("13900139000"));
    assert_eq!(a.claim(&n, DAY).unwrap(), Claim::Mine);
    assert_eq!(a.claim(&m, DAY).unwrap(), Claim::Mine);
    assert_eq!(b.claim(&n, DAY).unwrap(), Claim::Held);
    let id = a.id().to_owned();
    a.finish().unwrap();
    // Released: no claim is left, not even on the number b never asked.
    assert_eq!(one.stats().unwrap().claims, 0);
    // Ended: a claim of a's that finish did not release (here, one put
    // from outside) does not hold another run back, though a's last
    // heartbeat is fresh.
    f.execute(&format!(
        "INSERT INTO tenure_claims (number, source, run, claimed_at) \
         VALUES ('13700137000', '{JUHE}', '{id}', {})",
        now_ms()
    ));
    assert_eq!(b.claim(&number("13700137000"), DAY).unwrap(), Claim::Mine);
    assert_eq!(b.claim(&n, DAY).unwrap(), Claim::Mine);
    let stats = one.stats().unwrap();
    assert_eq!((stats.runs, stats.claims), (2, 2));
}

pub fn a_live_runs_claim_is_never_taken_over(f: &Fixture) {
    // The takeover is about the holder's lease, not the claim's age: a run
    // that keeps its heartbeat keeps its claims, however long it asks.
    let live = Timing {
        heartbeat: Duration::from_millis(50),
        takeover: Duration::from_millis(250),
        ..quick()
    };
    let (one, two) = (f.open_with(JUHE, live), f.open_with(JUHE, live));
    let a = one.join(spec(Some("g")), pace()).unwrap();
    let b = two.join(spec(Some("g")), pace()).unwrap();
    let n = number("13800138000");
    assert_eq!(a.claim(&n, DAY).unwrap(), Claim::Mine);
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(b.claim(&n, DAY).unwrap(), Claim::Held, "a's lease is fresh");
    assert!(!a.lost());
}

pub fn the_heartbeat_renews_the_lease_and_tells_the_pace(f: &Fixture) {
    let store = f.open(JUHE);
    let recorder = pace();
    let before = Instant::now();
    let run = store.join(spec(Some("g")), recorder.clone()).unwrap();
    // Join starts the pace at the row's grant, 0 (a limiter made at its
    // --qps would otherwise send at full rate while the group counts it as
    // sending nothing), renews once before it returns, and raises it to
    // the run's share after that commit.
    assert_eq!(
        *lock(&recorder.shares),
        [0, 10],
        "from 0, the placeholder plan grants qps"
    );
    let first = lock(&recorder.renewals)[0];
    assert!(first >= before + quick().lease && first <= Instant::now() + quick().lease);
    eventually("three more renewals", || {
        lock(&recorder.renewals).len() >= 4
    });
    let renewals = lock(&recorder.renewals).clone();
    assert!(renewals.windows(2).all(|w| w[0] < w[1]), "{renewals:?}");
    assert_eq!(
        *lock(&recorder.shares),
        [0, 10],
        "an unchanged share is not told again"
    );
    assert!(!run.lost());
    assert_eq!(run.failure(), None);
    let id = run.id().to_owned();
    assert_eq!(id.len(), "20261129T001245Z-0a1b2c".len(), "{id}");
    assert!(id.ends_with(|c: char| c.is_ascii_hexdigit()) && id.as_bytes()[15] == b'Z');
    run.finish().unwrap();
    let count = lock(&recorder.renewals).len();
    std::thread::sleep(quick().heartbeat * 3);
    assert_eq!(
        lock(&recorder.renewals).len(),
        count,
        "finish stops the heartbeat"
    );
}

pub fn a_failing_heartbeat_is_recorded_and_retried(f: &Fixture) {
    let store = f.open(JUHE);
    let recorder = pace();
    let run = store.join(spec(Some("g")), recorder.clone()).unwrap();
    assert_eq!(run.failure(), None);
    // Sabotage from outside: every renewal fails while the table is away.
    f.execute("ALTER TABLE tenure_runs RENAME TO tenure_runs_away");
    eventually("the failure is recorded", || run.failure().is_some());
    let failure = run.failure().unwrap();
    assert!(failure.contains("tenure_runs"), "{failure}");
    let renewals = lock(&recorder.renewals).len();
    std::thread::sleep(quick().heartbeat * 4);
    assert_eq!(
        lock(&recorder.renewals).len(),
        renewals,
        "no renewal without the store"
    );
    assert!(!run.lost(), "a failure is not a takeover");
    // The table back: the heartbeat, still retrying, renews again.
    f.execute("ALTER TABLE tenure_runs_away RENAME TO tenure_runs");
    eventually("the heartbeat recovers", || run.failure().is_none());
    eventually("renewals go on", || {
        lock(&recorder.renewals).len() > renewals
    });
    assert!(!run.lost());
}

pub fn the_budget_holds_across_runs_of_a_group(f: &Fixture) {
    let (one, two) = (f.open(JUHE), f.open(JUHE));
    let a = one.join(spec(Some("g")), pace()).unwrap();
    let b = two.join(spec(Some("g")), pace()).unwrap();
    assert_eq!(a.reserve(5, 3).unwrap(), 3);
    assert_eq!(
        b.reserve(5, 3).unwrap(),
        2,
        "the group's reservations count"
    );
    assert_eq!(b.reserve(5, 3).unwrap(), 0);
    let billed = |reserved| Request {
        outcome: Outcome::Billed,
        code: None,
        orderid: None,
        reserved,
    };
    for _ in 0..3 {
        a.record(billed(true)).unwrap();
    }
    one.flush().unwrap();
    assert_eq!(a.reserve(5, 3).unwrap(), 0, "3 billed + 2 reserved");
    b.finish().unwrap();
    assert_eq!(a.reserve(5, 3).unwrap(), 2, "b's reservations are released");
    // Free answers and no answers cost nothing.
    a.record(Request {
        outcome: Outcome::Free,
        code: Some("224801".to_owned()),
        orderid: None,
        reserved: true,
    })
    .unwrap();
    one.flush().unwrap();
    assert_eq!(a.reserve(5, 3).unwrap(), 1);
    // Another group, and a run without one, have their own budgets.
    let c = two.join(spec(Some("h")), pace()).unwrap();
    assert_eq!(c.reserve(5, 9).unwrap(), 5);
    let d = two.join(spec(None), pace()).unwrap();
    d.record(billed(false)).unwrap();
    two.flush().unwrap();
    assert_eq!(d.reserve(5, 9).unwrap(), 4);
}

pub fn group_commit_heartbeat_and_claims_run_together(f: &Fixture) {
    let (one, two) = (f.open(JUHE), f.open(JUHE));
    let numbers: Vec<Number> = (0..400).map(|i| number(&format!("134{i:08}"))).collect();
    let (a, b) = (
        one.join(spec(Some("g")), pace()).unwrap(),
        two.join(spec(Some("g")), pace()).unwrap(),
    );
    let runs = [&a, &b];
    std::thread::scope(|scope| {
        for (t, chunk) in numbers.chunks(50).enumerate() {
            let run = runs[t % 2];
            scope.spawn(move || {
                for n in chunk {
                    // Each number is claimed, recorded and put, as a worker
                    // would, while both heartbeats beat every 50 ms.
                    match run.claim(n, DAY).unwrap() {
                        Claim::Mine => {
                            run.record(Request {
                                outcome: Outcome::Billed,
                                code: None,
                                orderid: None,
                                reserved: false,
                            })
                            .unwrap();
                            run.put(*n, &tenure(), None).unwrap();
                        }
                        other => panic!("{other:?}: every number is asked once"),
                    }
                }
            });
        }
    });
    for run in runs {
        assert_eq!(run.failure(), None);
        assert!(!run.lost());
    }
    a.finish().unwrap();
    b.finish().unwrap();
    one.close().unwrap();
    two.close().unwrap();
    let store = Store::open_read_only(&f.location, JUHE).unwrap();
    let found = store.get_many(&numbers, DAY).unwrap();
    assert!(
        found
            .iter()
            .all(|s| s.as_ref().map(|s| &s.answer) == Some(&tenure()))
    );
    let stats = store.stats().unwrap();
    assert_eq!((stats.billed, stats.claims, stats.history), (400, 0, 400));
}
