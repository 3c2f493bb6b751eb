//! One request per number across runs (DESIGN §4, issue 11 point 3): two
//! runs started together on the same numbers and sharing a store pay once
//! for each; when one is killed with `kill -9`, the other takes over its
//! claims once they expire and finishes, and only what the killed run had
//! in flight is paid twice.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

/// The sandbox's latency: long enough that the runs overlap and the killed
/// one has requests in flight, short enough to keep the suite quick.
const LATENCY_MS: &str = "20";

/// Two runs started together on the same 2,000 numbers, sharing one store,
/// bill each number exactly once between them, and both write the complete
/// output.
fn two_runs_started_together_bill_each_number_once(store: &TeamStore) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(2000);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let api = Api::start(&["--latency-ms", LATENCY_MS]);
    let outputs = [dir.path().join("a.csv"), dir.path().join("b.csv")];
    let summaries = [dir.path().join("a.json"), dir.path().join("b.json")];
    let runs: Vec<Child> = outputs
        .iter()
        .zip(&summaries)
        .map(|(output, summary)| {
            let summary = summary.to_str().expect("temporary paths are UTF-8");
            spawn(
                &api,
                &input,
                output,
                &["--cache", store.arg(), "--summary-json", summary],
            )
        })
        .collect();
    for (run, which) in runs.into_iter().zip(["the first run", "the second run"]) {
        assert_exit(&wait(run), 0, which);
    }

    let stats = api.stats();
    assert_eq!(stats.billed, 2000, "each number billed once, by one run");
    assert_eq!(stats.requests, 2000, "each number asked once");
    assert!(
        stats.numbers.values().all(|n| n.billed == 1),
        "no number billed twice: {:?}",
        api.billed_twice()
    );
    let billed: Vec<u64> = summaries
        .iter()
        .map(|summary| read_json(summary)["billed"].as_u64().expect("billed"))
        .collect();
    assert_eq!(
        billed.iter().sum::<u64>(),
        2000,
        "the runs' own counts agree"
    );
    // Otherwise one run started after the other had finished, and this
    // test proved nothing about runs at the same time.
    assert!(
        billed.iter().all(|&b| b > 0),
        "both runs asked numbers: {billed:?}"
    );
    for output in &outputs {
        assert_complete(output, &numbers);
    }
    assert_eq!(
        read_csv(&outputs[0]),
        read_csv(&outputs[1]),
        "both outputs are the same, whichever run asked a number"
    );
}
on_both_backends!(two_runs_started_together_bill_each_number_once);

/// The killed run's fixed concurrency: the most requests it can have had in
/// flight. Small, so that it is still mid-way through the file (100
/// requests a second at the sandbox's latency) when the survivor, which has
/// to start, join the group and catch up, is asking too.
const CONCURRENCY: u64 = 2;

/// The claims expire this long after the run's last heartbeat (DESIGN §4).
const TAKEOVER_MS: i64 = 30_000;

/// `kill -9` of one of two runs sharing a store, mid-way: the other
/// finishes with the complete output, waiting only for the numbers the
/// killed run had claimed and not answered, and only until its claims
/// expired (30 s after its last heartbeat); at most the killed run's
/// in-flight requests (its concurrency) are paid twice.
///
/// Nothing here reads a clock of its own: "waited only for those numbers,
/// only until then" is read in the store, from when each answer arrived
/// and from the killed run's last heartbeat. (The PostgreSQL server runs on
/// this host, as TENURE_TEST_POSTGRES's documented value says: one clock.)
fn a_run_killed_mid_way_costs_at_most_its_requests_in_flight(store: &TeamStore) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(2000);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let api = Api::start(&["--latency-ms", LATENCY_MS]);
    let summary = dir.path().join("survivor.json");

    let (survivor, killed) = start_two_and_kill_one(store, &api, &input, dir.path(), &summary);
    let done = wait(survivor);
    let stats = api.stats();
    let twice = api.billed_twice();
    eprintln!(
        "runs::together ({}): killed with {} of 2,000 billed, holding {} claims \
         at --concurrency {CONCURRENCY}; {} numbers paid twice; the survivor exited {:?}",
        store.backend(),
        killed.billed_at_kill,
        killed.orphaned.len(),
        twice.len(),
        done.code
    );
    assert_exit(&done, 0, "the surviving run");
    assert_complete(&dir.path().join("survivor.csv"), &numbers);
    assert_ne!(run_id(&summary), killed.id);
    assert_paid_twice_only_what_was_in_flight(&stats, &twice, &killed.orphaned);
    assert_waited_only_for_the_orphaned_claims(store, &killed);
}
on_both_backends_at_once!(a_run_killed_mid_way_costs_at_most_its_requests_in_flight);

/// What the killed run left behind.
struct Killed {
    /// Its run id, as the store names it.
    id: String,
    /// Numbers it had claimed and not answered when it was killed.
    orphaned: BTreeSet<String>,
    /// The sandbox's billed count right after the kill.
    billed_at_kill: u64,
}

/// Starts the run to kill, alone, then the survivor (writing `survivor.csv`
/// and `summary` in `dir`) once the first is asking; kills the first while
/// both ask and it holds a claim. Returns the survivor, still running.
fn start_two_and_kill_one(
    store: &TeamStore,
    api: &Api,
    input: &Path,
    dir: &Path,
    summary: &Path,
) -> (Child, Killed) {
    let concurrency = CONCURRENCY.to_string();
    // The run to kill starts first, alone, so that the store says which
    // run it is; the survivor joins once it is asking.
    let killed_cache = store.arg_named("tenure_killed");
    let mut killed = spawn(
        api,
        input,
        &dir.join("killed.csv"),
        &["--cache", &killed_cache, "--concurrency", &concurrency],
    );
    let killed_id = poll("the first run to ask 100 numbers", &mut killed, || {
        let runs = if store.ready() {
            store.heartbeats()
        } else {
            BTreeMap::new()
        };
        (api.stats().billed >= 100 && runs.len() == 1).then(|| runs.into_keys().next())?
    });
    let survivor = spawn(
        api,
        input,
        &dir.join("survivor.csv"),
        &[
            "--cache",
            store.arg(),
            "--summary-json",
            summary.to_str().expect("UTF-8"),
        ],
    );
    // Killed while both ask, and while it holds a claim (it does but for
    // the moments between committing an answer and claiming the next
    // number), so that the survivor has something to take over.
    poll("the second run to ask 50 numbers", &mut killed, || {
        let theirs = store
            .ledger()
            .iter()
            .filter(|(run, ..)| *run != killed_id)
            .count();
        let claiming = || store.open_claims().iter().any(|(_, run)| *run == killed_id);
        (theirs >= 50 && claiming()).then_some(())
    });
    killed.kill().expect("SIGKILL is delivered");
    killed.wait().expect("the killed run is reaped");
    store.wait_until_gone("tenure_killed");
    let billed_at_kill = api.stats().billed;
    // Its claims of numbers it had not answered are final now: the ones
    // the survivor must wait for.
    let orphaned: BTreeSet<String> = store
        .open_claims()
        .into_iter()
        .filter(|(_, run)| *run == killed_id)
        .map(|(number, _)| number)
        .collect();
    let killed = Killed {
        id: killed_id,
        orphaned,
        billed_at_kill,
    };
    (survivor, killed)
}

/// What was paid twice: only numbers the killed run had claimed and not
/// answered, and no more than it could have had in flight.
fn assert_paid_twice_only_what_was_in_flight(
    stats: &Stats,
    twice: &[String],
    orphaned: &BTreeSet<String>,
) {
    assert!(
        stats.numbers.values().all(|n| n.billed <= 2),
        "no number billed three times"
    );
    assert!(
        twice.iter().all(|number| orphaned.contains(number)),
        "only numbers the killed run had claimed were paid twice: {twice:?} (claims {orphaned:?})"
    );
    assert!(
        orphaned.len() as u64 <= CONCURRENCY,
        "the killed run held {} claims of unanswered numbers at --concurrency {CONCURRENCY}: \
         each is a request in flight or an answer not yet in the store, and each may be paid \
         twice ({} were)",
        orphaned.len(),
        twice.len()
    );
    assert!(
        stats.billed <= 2000 + CONCURRENCY,
        "{} billed: more than the killed run's {CONCURRENCY} in-flight requests paid twice",
        stats.billed
    );
    // The kill landed mid-way, with requests in flight: otherwise this test
    // proved nothing about a takeover.
    assert!(!orphaned.is_empty(), "the killed run held claims");
}

/// The survivor waited for the killed run's orphaned claims only, and only
/// until they expired: every other number was answered before then (by
/// either run), and each of those after it (never earlier: a live run's
/// claims are not taken over).
fn assert_waited_only_for_the_orphaned_claims(store: &TeamStore, killed: &Killed) {
    let expiry = store.heartbeats()[&killed.id] + TAKEOVER_MS;
    let answered_at = store.answered_at();
    assert_eq!(answered_at.len(), 2000, "every answer is in the store");
    let late: BTreeSet<String> = answered_at
        .iter()
        .filter(|&(_, &at)| at >= expiry)
        .map(|(number, _)| number.clone())
        .collect();
    let early: Vec<&String> = killed.orphaned.difference(&late).collect();
    assert!(
        early.is_empty(),
        "claims of the killed run were taken over before they expired: {early:?}"
    );
    assert_eq!(
        late, killed.orphaned,
        "the survivor waited for the killed run's claims, and for nothing else"
    );
}

/// Polls `ready` every 20 ms until it gives a value, while `run` (the run
/// to be killed) is still going: a run that ended first would leave this
/// test nothing to kill mid-way.
fn poll<T>(what: &str, run: &mut Child, mut ready: impl FnMut() -> Option<T>) -> T {
    let started = std::time::Instant::now();
    loop {
        assert!(started.elapsed() < HANG, "waited {HANG:?} for {what}");
        if let Some(value) = ready() {
            return value;
        }
        assert!(
            run.try_wait().expect("the run can be polled").is_none(),
            "the run to kill ended while waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
