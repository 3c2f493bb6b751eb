//! The shared suite: every behaviour of the store's contract, run on both
//! backends (see `on_both!` in the parent).

use super::*;
use crate::change::{Change, Kind, Kinds};
use crate::store::backend::sqlite::schema::V1_SCHEMA;

fn answers(stored: Vec<Option<Stored>>) -> Vec<Option<Answer>> {
    stored.into_iter().map(|s| s.map(|s| s.answer)).collect()
}

fn get(store: &Store, n: &Number, max_age: Duration) -> Option<Answer> {
    store
        .get_many(&[*n], max_age)
        .unwrap()
        .pop()
        .flatten()
        .map(|s| s.answer)
}

/// Waits for `condition`, failing the test after 10 s instead of hanging.
fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !condition() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn both_kinds_of_answer_round_trip(f: &Fixture) {
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    run.put(number("13800138000"), &tenure(), None).unwrap();
    run.put(number("13900139000"), &declined(), Some("JH123"))
        .unwrap();
    run.finish().unwrap();
    store.close().unwrap();

    let store = f.open(JUHE);
    assert_eq!(get(&store, &number("13800138000"), DAY), Some(tenure()));
    assert_eq!(get(&store, &number("13900139000"), DAY), Some(declined()));
    assert_eq!(get(&store, &number("13700137000"), DAY), None);
    let stored = store.get_many(&[number("13800138000")], DAY).unwrap();
    let stored = stored[0].as_ref().unwrap();
    assert_eq!(stored.change, Some(Change::New));
    assert!(!stored.this_run, "it arrived before this store was opened");
    assert_eq!(store.location(), &f.location);
}

pub fn a_second_put_replaces_the_first(f: &Fixture) {
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    run.put(number("13800138000"), &declined(), None).unwrap();
    run.put(number("13800138000"), &tenure(), None).unwrap();
    assert_eq!(get(&store, &number("13800138000"), DAY), Some(tenure()));
    run.finish().unwrap();
    store.close().unwrap();
    let store = Store::open_read_only(&f.location, JUHE).unwrap();
    assert_eq!(get(&store, &number("13800138000"), DAY), Some(tenure()));
    assert_eq!(store.stats().unwrap().answers, 1);
}

pub fn answers_older_than_max_age_are_not_returned(f: &Fixture) {
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    let n = number("13800138000");
    run.put(n, &tenure(), None).unwrap();
    // An answer of this run is fresh whatever the max age, pending or
    // committed: a run longer than --max-age must not ask a duplicate again.
    assert_eq!(get(&store, &n, Duration::ZERO), Some(tenure()));
    store.flush().unwrap();
    assert_eq!(get(&store, &n, Duration::ZERO), Some(tenure()));
    assert!(
        store.get_many(&[n], Duration::ZERO).unwrap()[0]
            .as_ref()
            .unwrap()
            .this_run
    );
    run.finish().unwrap();
    store.close().unwrap();
    // The next run judges it by its age.
    std::thread::sleep(Duration::from_millis(2));
    let store = f.open(JUHE);
    assert_eq!(get(&store, &n, Duration::ZERO), None);
    assert_eq!(get(&store, &n, DAY), Some(tenure()));
    assert_eq!(get(&store, &n, Duration::MAX), Some(tenure()));
    let run = store.join(spec(None), pace()).unwrap();
    assert_eq!(run.claim(&n, Duration::ZERO).unwrap(), Claim::Mine);
    assert!(matches!(run.claim(&n, DAY).unwrap(), Claim::Answered(_)));
}

pub fn answers_from_another_source_are_not_returned(f: &Fixture) {
    let sandbox = f.open(SANDBOX);
    let sandbox_run = sandbox.join(spec(None), pace()).unwrap();
    sandbox_run
        .put(number("13800138000"), &tenure(), None)
        .unwrap();
    sandbox.flush().unwrap();

    let real = f.open(JUHE);
    assert_eq!(get(&real, &number("13800138000"), DAY), None);
    let real_run = real.join(spec(None), pace()).unwrap();
    assert_eq!(
        real_run.claim(&number("13800138000"), DAY).unwrap(),
        Claim::Mine
    );
    real_run
        .put(number("13800138000"), &declined(), None)
        .unwrap();
    real_run.finish().unwrap();
    real.close().unwrap();

    assert_eq!(get(&sandbox, &number("13800138000"), DAY), Some(tenure()));
    let again = f.open(JUHE);
    assert_eq!(get(&again, &number("13800138000"), DAY), Some(declined()));
}

/// Holds the store's write lock from outside, so that the writer cannot
/// commit until the guard is dropped.
fn block_writes(f: &Fixture) -> Box<dyn std::any::Any> {
    match &f.pg {
        Some((server, schema)) => {
            let mut client = f.pg_client(server, schema);
            client
                .batch_execute("BEGIN; LOCK TABLE tenure_answers IN EXCLUSIVE MODE")
                .unwrap();
            struct Unlock(::postgres::Client);
            impl Drop for Unlock {
                fn drop(&mut self) {
                    let _ = self.0.batch_execute("ROLLBACK");
                }
            }
            Box::new(Unlock(client))
        }
        None => {
            let conn = rusqlite::Connection::open(f.location.path().unwrap()).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            Box::new(conn)
        }
    }
}

pub fn a_pending_answer_is_visible_before_its_commit(f: &Fixture) {
    let store = f.open(JUHE);
    let other = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    let n = number("13800138000");
    let blocker = block_writes(f);
    run.put(n, &tenure(), None).unwrap();
    assert_eq!(get(&store, &n, DAY), Some(tenure()));
    assert!(matches!(run.claim(&n, DAY).unwrap(), Claim::Answered(_)));
    assert_eq!(get(&other, &n, DAY), None, "not committed yet");
    drop(blocker);
    store.flush().unwrap();
    assert_eq!(get(&other, &n, DAY), Some(tenure()));
    assert_eq!(get(&store, &n, DAY), Some(tenure()));
}

pub fn get_many_answers_in_order_from_pending_disk_and_nothing(f: &Fixture) {
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    let (on_disk, pending, absent) = (
        number("13800138000"),
        number("13900139000"),
        number("13700137000"),
    );
    run.put(on_disk, &tenure(), None).unwrap();
    store.flush().unwrap();
    let blocker = block_writes(f);
    run.put(pending, &declined(), None).unwrap();
    let found = store
        .get_many(&[absent, on_disk, pending, on_disk], DAY)
        .unwrap();
    drop(blocker);
    assert_eq!(
        answers(found),
        vec![None, Some(tenure()), Some(declined()), Some(tenure())]
    );
    assert_eq!(store.get_many(&[], DAY).unwrap(), vec![]);
    // A batch of a thousand in one call.
    let many: Vec<Number> = (0..1000).map(|i| number(&format!("136{i:08}"))).collect();
    for n in &many[..500] {
        run.put(*n, &tenure(), None).unwrap();
    }
    store.flush().unwrap();
    let found = store.get_many(&many, DAY).unwrap();
    assert_eq!(found.iter().filter(|s| s.is_some()).count(), 500);
    assert!(found[..500].iter().all(Option::is_some));
}

/// DESIGN §8: a 224804 is never reused by a later run; within its own run
/// it is the number's answer.
pub fn a_refused_batch_is_never_reused_by_a_later_run(f: &Fixture) {
    let n = number("13800138000");
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    run.put(n, &refused(), None).unwrap();
    assert_eq!(get(&store, &n, DAY), Some(refused()));
    store.flush().unwrap();
    assert_eq!(get(&store, &n, DAY), Some(refused()));
    run.finish().unwrap();
    store.close().unwrap();
    std::thread::sleep(Duration::from_millis(2));
    let store = f.open(JUHE);
    assert_eq!(get(&store, &n, DAY), None);
    let run = store.join(spec(None), pace()).unwrap();
    assert_eq!(run.claim(&n, DAY).unwrap(), Claim::Mine);
}

pub fn changes_are_computed_and_recorded_with_each_arrival(f: &Fixture) {
    let n = number("13800138000");
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    let old = Answer::Tenure(tenure_of("3", "移动", "深圳"));
    assert_eq!(run.put(n, &old, None).unwrap(), Some(Change::New));
    assert_eq!(run.put(n, &old, None).unwrap(), Some(Change::Same));
    // Row answers are never compared nor "earlier": pending chain.
    assert_eq!(run.put(n, &declined(), None).unwrap(), None);
    let reassigned = Answer::Tenure(tenure_of("03", "联通", "深圳"));
    let expected = Change::Changed(Kinds::of([Kind::Reassigned, Kind::Isp]).unwrap());
    assert_eq!(run.put(n, &reassigned, None).unwrap(), Some(expected));
    run.finish().unwrap();
    store.close().unwrap();

    // From the database, with a row answer latest.
    let store = f.open(JUHE);
    let stored = store.get_many(&[n], DAY).unwrap().pop().flatten().unwrap();
    assert_eq!(stored.change, Some(expected), "the latest arrival's change");
    let run = store.join(spec(None), pace()).unwrap();
    run.put(n, &declined(), None).unwrap();
    store.flush().unwrap();
    let stored = store.get_many(&[n], DAY).unwrap().pop().flatten().unwrap();
    assert_eq!(stored.change, None, "row answers have none");
    let left = Answer::Tenure(tenure_of("99", "联通", "深圳"));
    assert_eq!(
        run.put(n, &left, None).unwrap(),
        Some(Change::Changed(Kinds::of([Kind::Left]).unwrap()))
    );
    // Another source has its own history.
    let sandbox = f.open(SANDBOX);
    let other = sandbox.join(spec(None), pace()).unwrap();
    assert_eq!(other.put(n, &left, None).unwrap(), Some(Change::New));
}

pub fn history_has_an_entry_per_distinct_answer(f: &Fixture) {
    let n = number("13800138000");
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    let a = Answer::Tenure(tenure_of("3", "移动", "深圳"));
    let b = Answer::Tenure(tenure_of("03", "移动", "深圳"));
    for answer in [&a, &a, &a, &b, &b, &a] {
        run.put(n, answer, None).unwrap();
        // Separate commits, so that last_seen moves.
        store.flush().unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    run.put(n, &declined(), Some("order-1")).unwrap();
    run.put(n, &declined(), Some("order-2")).unwrap();
    run.finish().unwrap();
    let stats = store.stats().unwrap();
    assert_eq!(stats.answers, 1);
    assert_eq!(stats.history, 4, "a, b, a, declined");
    let changes = store.changes(DAY).unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0].change.as_str(), "reassigned");
    assert_eq!(changes[0].before.code, "3");
    assert_eq!(changes[0].after.code, "03");
    assert_eq!(changes[0].number, "13800138000");
    // The orderid is the latest arrival's.
    let mut out = Vec::new();
    store.export(ExportFormat::Jsonl, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.contains("order-2") && !text.contains("order-1"),
        "{text}"
    );
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
    let mine: Vec<Vec<Number>> = std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|run| {
                let numbers = &numbers;
                scope.spawn(move || {
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
    let n = number("13800138000");
    assert_eq!(a.claim(&n, DAY).unwrap(), Claim::Mine);
    assert_eq!(b.claim(&n, DAY).unwrap(), Claim::Held);
    a.finish().unwrap();
    assert_eq!(b.claim(&n, DAY).unwrap(), Claim::Mine);
    let stats = one.stats().unwrap();
    assert_eq!((stats.runs, stats.claims), (2, 1));
}

pub fn the_heartbeat_renews_the_lease_and_tells_the_pace(f: &Fixture) {
    let store = f.open(JUHE);
    let recorder = pace();
    let before = Instant::now();
    let run = store.join(spec(Some("g")), recorder.clone()).unwrap();
    // Join renews once before it returns, and grants the run its share.
    assert_eq!(
        *lock(&recorder.shares),
        [10],
        "the placeholder plan grants qps"
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
        [10],
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

pub fn the_ledger_counts_usage_by_day_and_run(f: &Fixture) {
    let store = f.open(JUHE);
    let a = store.join(spec(Some("g")), pace()).unwrap();
    let sandboxed = store
        .join(
            RunSpec {
                sandbox: true,
                ..spec(Some("g"))
            },
            pace(),
        )
        .unwrap();
    let request = |outcome, code: Option<&str>| Request {
        outcome,
        code: code.map(str::to_owned),
        orderid: None,
        reserved: false,
    };
    for _ in 0..3 {
        a.record(request(Outcome::Billed, None)).unwrap();
    }
    a.record(request(Outcome::Free, Some("224801"))).unwrap();
    a.record(request(Outcome::Unanswered, Some("timeout")))
        .unwrap();
    sandboxed.record(request(Outcome::Billed, None)).unwrap();
    let zone = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap();
    let today = jiff::Timestamp::now()
        .to_zoned(zone.clone())
        .date()
        .to_string();
    let by_day = store
        .usage(DAY, &UsageBy::Day(zone.clone()), false)
        .unwrap();
    assert_eq!(
        by_day,
        [UsageRow {
            key: today.clone(),
            billed: 3,
            requests: 5,
            unanswered: 1
        }]
    );
    let with_sandbox = store.usage(DAY, &UsageBy::Day(zone), true).unwrap();
    assert_eq!((with_sandbox[0].billed, with_sandbox[0].requests), (4, 6));
    let by_run = store.usage(DAY, &UsageBy::Run, true).unwrap();
    let mut expected = vec![(a.id().to_owned(), 3, 5), (sandboxed.id().to_owned(), 1, 1)];
    expected.sort();
    assert_eq!(
        by_run
            .iter()
            .map(|r| (r.key.clone(), r.billed, r.requests))
            .collect::<Vec<_>>(),
        expected
    );
    assert_eq!(store.stats().unwrap().ledger, 6);
    // The ledger survives purges.
    store.purge(&Purge::OlderThan(Duration::ZERO)).unwrap();
    assert_eq!(store.stats().unwrap().billed, 4);
}

pub fn stats_export_purge_and_changes(f: &Fixture) {
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    run.put(number("13800138000"), &tenure(), Some("JH1"))
        .unwrap();
    run.put(number("13900139000"), &declined(), None).unwrap();
    run.put(number("13700137000"), &refused(), None).unwrap();
    let stats = store.stats().unwrap();
    assert_eq!((stats.answers, stats.successes, stats.history), (3, 1, 3));
    assert!(stats.oldest_ms.is_some() && stats.oldest_ms <= stats.newest_ms);

    let mut csv = Vec::new();
    store.export(ExportFormat::Csv, &mut csv).unwrap();
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "number,source,code,tenure,province,city,isp,reason,endpoint,answered_at,change,orderid"
    );
    assert_eq!(lines.len(), 4);
    let first = lines.iter().find(|l| l.starts_with("13800138000")).unwrap();
    assert!(
        first.contains(",03,\"(0,3]\",广东,深圳,移动,,query,"),
        "{first}"
    );
    assert!(first.ends_with("Z,new,JH1"), "RFC 3339 UTC: {first}");
    let mut jsonl = Vec::new();
    store.export(ExportFormat::Jsonl, &mut jsonl).unwrap();
    let objects: Vec<serde_json::Value> = String::from_utf8(jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), 3);
    let declined_row = objects
        .iter()
        .find(|o| o["number"] == "13900139000")
        .unwrap();
    assert_eq!(declined_row["code"], "224801");
    assert_eq!(declined_row["change"], serde_json::Value::Null);

    let removed = store.purge(&Purge::Code("224804".to_owned())).unwrap();
    assert_eq!(
        removed,
        Removed {
            answers: 1,
            history: 1
        }
    );
    let removed = store.purge(&Purge::OlderThan(DAY)).unwrap();
    assert_eq!(removed, Removed::default());
    let removed = store.purge(&Purge::OlderThan(Duration::ZERO)).unwrap();
    assert_eq!(
        removed,
        Removed {
            answers: 2,
            history: 2
        }
    );
    assert_eq!(store.stats().unwrap().answers, 0);
    assert_eq!(store.changes(DAY).unwrap(), vec![]);
}

pub fn import_merges_a_version_1_and_a_version_2_store(f: &Fixture) {
    let dir = tempfile::tempdir().unwrap();
    let now = now_ms();
    // A real version-1 file, made with the old schema's SQL.
    let v1 = dir.path().join("v1.sqlite");
    let conn = rusqlite::Connection::open(&v1).unwrap();
    conn.execute_batch(V1_SCHEMA).unwrap();
    let insert = "INSERT INTO answers VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'query', ?10)";
    conn.execute(
        insert,
        rusqlite::params![
            "13800138000",
            JUHE,
            0,
            "3",
            "(24,+)",
            "广东",
            "深圳",
            "移动",
            None::<&str>,
            now - 5000
        ],
    )
    .unwrap();
    conn.execute(
        insert,
        rusqlite::params![
            "13900139000",
            JUHE,
            1,
            "224801",
            None::<&str>,
            None::<&str>,
            None::<&str>,
            None::<&str>,
            "查询无此记录",
            now - 5000
        ],
    )
    .unwrap();
    drop(conn);

    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    // The store already knows one number, newer and changed.
    let newer = Answer::Tenure(tenure_of("03", "联通", "深圳"));
    run.put(number("13900139000"), &newer, None).unwrap();
    let counts = store.import(&v1).unwrap();
    assert_eq!(
        counts,
        ImportCounts {
            answers_added: 1,
            answers_updated: 0,
            answers_kept: 1,
            history_added: 2
        }
    );
    let stored = store
        .get_many(&[number("13800138000"), number("13900139000")], DAY)
        .unwrap();
    assert_eq!(stored[0].as_ref().unwrap().change, Some(Change::New));
    assert_eq!(stored[1].as_ref().unwrap().answer, newer, "the newer wins");
    let again = store.import(&v1).unwrap();
    assert_eq!((again.answers_added, again.history_added), (0, 0));

    // A version-2 store with its own history.
    let v2 = Fixture::sqlite();
    {
        let other = v2.open(JUHE);
        let other_run = other.join(spec(None), pace()).unwrap();
        other_run
            .put(number("13700137000"), &tenure(), Some("JH9"))
            .unwrap();
        other_run
            .put(
                number("13700137000"),
                &Answer::Tenure(tenure_of("3", "移动", "深圳")),
                None,
            )
            .unwrap();
        other_run.finish().unwrap();
        other.close().unwrap();
    }
    let counts = store.import(v2.location.path().unwrap()).unwrap();
    assert_eq!((counts.answers_added, counts.history_added), (1, 2));
    assert_eq!(
        store.get_many(&[number("13700137000")], DAY).unwrap()[0]
            .as_ref()
            .unwrap()
            .change,
        Some(Change::New),
        "a first arrival here"
    );
    let read_only = Store::open_read_only(&f.location, JUHE).unwrap();
    assert!(matches!(
        read_only.import(&v1),
        Err(StoreError::ReadOnly { .. })
    ));
}

pub fn the_key_never_reaches_the_store(f: &Fixture) {
    // The key and openid never enter the store's API; this checks that
    // nothing of a run-like sequence smuggles a secret into any column.
    const KEY: &str = "distinct-key-XYZ123";
    const OPENID: &str = "distinct-openid-QRS789";
    let store = f.open(JUHE);
    let run = store.join(spec(Some("a1b2c3d4e5f6")), pace()).unwrap();
    let n = number("13800138000");
    assert_eq!(run.reserve(100, 2).unwrap(), 2);
    assert_eq!(run.claim(&n, DAY).unwrap(), Claim::Mine);
    run.put(n, &tenure(), Some("JH20261129")).unwrap();
    run.record(Request {
        outcome: Outcome::Billed,
        code: None,
        orderid: Some("JH20261129".to_owned()),
        reserved: true,
    })
    .unwrap();
    run.put(number("13900139000"), &declined(), None).unwrap();
    run.finish().unwrap();
    store.close().unwrap();
    let values = f.dump_text();
    assert!(
        values.iter().any(|v| v == "13800138000"),
        "sanity: {values:?}"
    );
    assert!(values.iter().any(|v| v == "JH20261129"));
    for value in &values {
        assert!(!value.contains(KEY) && !value.contains(OPENID), "{value}");
    }
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

pub fn an_unknown_schema_version_is_refused(f: &Fixture) {
    f.open(JUHE).close().unwrap();
    f.execute("UPDATE tenure_meta SET value = 99 WHERE key = 'schema_version'");
    let error = Store::open(&f.location, JUHE).expect_err("version 99 is refused");
    assert!(
        matches!(error, StoreError::UnknownSchema { found: 99, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&f.location.to_string()), "{message}");
    assert!(message.contains("Upgrade tenure"), "{message}");
    let error = Store::open_read_only(&f.location, JUHE).expect_err("refused read-only too");
    assert!(matches!(error, StoreError::UnknownSchema { found: 99, .. }));
}

pub fn a_read_only_store_refuses_writes(f: &Fixture) {
    let error = Store::open_read_only(&f.location, JUHE).expect_err("nothing there yet");
    assert!(matches!(error, StoreError::Missing { .. }), "{error:?}");
    assert!(error.to_string().contains(&f.location.to_string()));
    f.open(JUHE).close().unwrap();
    let store = Store::open_read_only(&f.location, JUHE).unwrap();
    let error = store.join(spec(None), pace()).expect_err("read-only");
    assert!(matches!(error, StoreError::ReadOnly { .. }), "{error:?}");
    assert!(matches!(
        store.purge(&Purge::Code("03".to_owned())),
        Err(StoreError::ReadOnly { .. })
    ));
    store.flush().unwrap();
    assert_eq!(store.stats().unwrap(), Stats::default());
    store.close().unwrap();
}

pub fn a_writer_failure_reaches_put_flush_and_close(f: &Fixture) {
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    // Sabotage from outside, so the writer's next commit fails at once.
    f.execute("DROP TABLE tenure_answers");
    run.put(number("13800138000"), &tenure(), None).unwrap();
    let error = store.flush().expect_err("the commit failed");
    assert!(
        matches!(error, StoreError::WriterFailed { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&f.location.to_string()), "{message}");
    assert!(message.contains("tenure_answers"), "{message}");
    assert!(!message.contains("13800138000"), "{message}");
    let error = run
        .put(number("13900139000"), &tenure(), None)
        .expect_err("the writer has stopped");
    assert!(error.to_string().contains("tenure_answers"), "{error}");
    drop(run);
    let error = store.close().expect_err("close reports the failure");
    assert!(
        matches!(error, StoreError::WriterFailed { .. }),
        "{error:?}"
    );
}

pub fn a_failing_heartbeat_is_recorded_and_retried(f: &Fixture) {
    let store = f.open(JUHE);
    let recorder = pace();
    let run = store.join(spec(Some("g")), recorder.clone()).unwrap();
    assert_eq!(run.failure(), None);
    // Sabotage from outside: every renewal fails from now on.
    f.execute("DROP TABLE tenure_runs");
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
    assert!(run.failure().is_some(), "still failing, still retrying");
    assert!(!run.lost(), "a failure is not a takeover");
}
