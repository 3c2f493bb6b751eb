//! One quota for every run (DESIGN §6, issue 12 point 1): runs that share a
//! store and a rate group together start at most Q requests in any
//! one-second window, as the API counts them.

use super::*;

/// Each run's `--qps`, and the group's.
const QPS: usize = 60;
/// Runs in the group.
const RUNS: usize = 3;
/// Numbers each run asks.
const EACH: usize = 180;

// The group bounds the *starts*: at most Q in any one second on the
// runs' clocks (share.rs proves it; each limiter adds 20 ms of slack).
// The sandbox counts *arrivals*, later by a loopback hop and the
// wake-ups of two processes: well under a millisecond at best, but on a
// loaded 2-core machine a process that is not scheduled for a while
// sends several requests late at once. The one-run test in enrich.rs
// (never_more_than_qps_requests_in_any_one_second_window) allows 20 ms
// for that. Three runs, the sandbox and the store's server on two cores
// bunch more: with the limiter instrumented, the starts were never more
// than 60 in any second, while the arrivals of the same runs bunched
// by up to ~110 ms at load averages of 60-240 (61 to 64 of them in
// some windows of 1 s less 20 ms), once by 175 ms at 234. So, two
// counts, each with 150 ms of arrival jitter:
// - windows of 1 s less 150 ms catch a burst, which is what a group
//   gets wrong at a hand-over (a run that sends before the others made
//   room adds up to Q in its first second: 76 and 142 arrivals in one
//   second were measured before join's initial share was fixed);
// - windows of 5 s less 150 ms catch a sustained excess of 3% or more,
//   which no stall can fake: a stall delays requests, it adds none.
const JITTER_US: u64 = 150_000;

/// Three runs started together with `--qps 60` each, in one group (one
/// store, one key), never have more than 60 requests arrive at the API in
/// any one-second window. Counts only; the rate they reach together is
/// printed for the benchmark, not asserted.
fn three_runs_in_one_group_stay_under_its_qps_together(store: &TeamStore) {
    // One backend at a time: six runs and two sandboxes at once on two
    // cores only add to the jitter this test must tolerate.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let api = Api::start(&["--latency-ms", "20"]);
    run_the_group(store, &api);
    let stats = api.stats();
    assert_eq!(
        stats.requests,
        (EACH * RUNS) as u64,
        "one request per number"
    );
    let mut arrivals = stats.arrivals_us.clone();
    arrivals.sort_unstable();
    assert_never_above_qps(&arrivals, &stats);
    // The runs shared the rate rather than took turns: each asked some of
    // its numbers while the others were asking theirs.
    let runs: std::collections::HashSet<String> =
        store.ledger().into_iter().map(|(run, _, _)| run).collect();
    assert_eq!(runs.len(), RUNS, "every run recorded its requests");
    let (_, overlap) = utilisation_while_all_run(store).expect("the runs sent at the same time");
    assert!(
        overlap >= 3.0,
        "all {RUNS} runs sent together for {overlap:.1} s of about {} s",
        EACH * RUNS / QPS
    );
    print_the_rates(store, &arrivals, &stats);
}
on_both_backends!(three_runs_in_one_group_stay_under_its_qps_together);

/// Runs the group to the end: `RUNS` runs at once on `EACH` numbers each.
fn run_the_group(store: &TeamStore, api: &Api) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    // Distinct numbers per run, so that none waits for another's answer and
    // each wants the whole rate the group lets it have.
    let numbers = answered_numbers(EACH * RUNS);
    let qps = QPS.to_string();
    let runs: Vec<Child> = numbers
        .chunks(EACH)
        .enumerate()
        .map(|(i, mine)| {
            let input = numbers_csv(dir.path(), &format!("in-{i}.csv"), mine);
            let output = dir.path().join(format!("out-{i}.csv"));
            spawn(
                api,
                &input,
                &output,
                &["--cache", store.arg(), "--qps", &qps],
            )
        })
        .collect();
    for (i, run) in runs.into_iter().enumerate() {
        assert_exit(&wait(run), 0, &format!("run {i}"));
    }
}

/// At most Q arrivals in any window of 1 s, and 5 Q in any window of 5 s,
/// each less `JITTER_US` (sorted `arrivals`).
fn assert_never_above_qps(arrivals: &[u64], stats: &Stats) {
    for seconds in [1, 5] {
        let window_us = seconds * 1_000_000 - JITTER_US;
        let most = seconds as usize * QPS;
        let (first, busiest) = busiest_window(arrivals, window_us);
        let tightest_ms = arrivals
            .windows(most + 1)
            .map(|w| w[most] - w[0])
            .min()
            .map_or(0.0, |us| us as f64 / 1_000.0);
        assert!(
            busiest <= most,
            "{busiest} requests arrived within {seconds} s (less {JITTER_US} µs of jitter) from \
             {RUNS} runs at --qps {QPS} in one group (from arrival #{first}; the tightest {} \
             consecutive arrivals span {tightest_ms} ms; the sandbox's own max_per_second: {})",
            most + 1,
            stats.max_per_second
        );
    }
}

/// For the lead's benchmark (issue 12 asks for 85% of Q while all three
/// run): a timing figure, so printed, never asserted.
fn print_the_rates(store: &TeamStore, arrivals: &[u64], stats: &Stats) {
    let utilisation = utilisation_while_all_run(store);
    eprintln!(
        "runs::rate ({}): {RUNS} runs at --qps {QPS} in one group: at most {} arrivals in 1 s \
         less 150 ms, {} in 1 s less 20 ms, {} in 1 s (the sandbox's max_per_second); {:.1} \
         requests/s over the whole test, {}",
        store.backend(),
        busiest_window(arrivals, 1_000_000 - JITTER_US).1,
        busiest_window(arrivals, 980_000).1,
        stats.max_per_second,
        stats.arrival_rate,
        utilisation.map_or(
            "too short an overlap to measure".to_owned(),
            |(rate, secs)| {
                format!(
                    "{rate:.1} requests/s = {:.0}% of {QPS} over the {secs:.1} s all {RUNS} ran",
                    100.0 * rate / QPS as f64
                )
            }
        ),
    );
}

/// The group's rate while every run was sending, from the store's ledger:
/// the requests recorded between the last run's first request and the
/// first run's last one, over that span. `None` when it is under a second.
fn utilisation_while_all_run(store: &TeamStore) -> Option<(f64, f64)> {
    let ledger = store.ledger();
    let mut spans: std::collections::BTreeMap<&str, (i64, i64)> = Default::default();
    for (run, at, _) in &ledger {
        let span = spans.entry(run).or_insert((*at, *at));
        span.0 = span.0.min(*at);
        span.1 = span.1.max(*at);
    }
    let from = spans.values().map(|span| span.0).max()?;
    let to = spans.values().map(|span| span.1).min()?;
    if to - from < 1000 {
        return None;
    }
    let inside = ledger
        .iter()
        .filter(|(_, at, _)| (from..=to).contains(at))
        .count();
    let secs = (to - from) as f64 / 1000.0;
    Some((inside as f64 / secs, secs))
}
