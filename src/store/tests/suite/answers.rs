//! The shared suite, answers: look-ups, freshness, the pending map, changes
//! and history, failures.

use super::super::*;
use crate::change::{Change, Kind, Kinds};

pub(super) fn answers(stored: Vec<Option<Stored>>) -> Vec<Option<Answer>> {
    stored.into_iter().map(|s| s.map(|s| s.answer)).collect()
}

pub(super) fn get(store: &Store, n: &Number, max_age: Duration) -> Option<Answer> {
    store
        .get_many(&[*n], max_age)
        .unwrap()
        .pop()
        .flatten()
        .map(|s| s.answer)
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

pub fn a_large_batch_comes_back_whole_and_in_order(f: &Fixture) {
    // Large enough to be split over two connections.
    let numbers: Vec<Number> = (0..3 * SPLIT_FROM)
        .map(|i| number(&format!("138{:08}", (i * 7919) % 1000)))
        .collect();
    let answer_of = |n: &Number| {
        let value: u64 = n.as_str()[3..].parse().unwrap();
        (!value.is_multiple_of(3)).then(|| Answer::Declined {
            code: 224801,
            reason: format!("reason {value}"),
        })
    };
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    for n in &numbers {
        if let Some(answer) = answer_of(n) {
            run.put(*n, &answer, None).unwrap();
        }
    }
    run.finish().unwrap();
    store.close().unwrap();

    let store = f.open(JUHE);
    let expected: Vec<Option<Answer>> = numbers.iter().map(answer_of).collect();
    assert!(expected.iter().any(Option::is_none) && expected.iter().any(Option::is_some));
    for _ in 0..2 {
        let found = answers(store.get_many(&numbers, DAY).unwrap());
        assert_eq!(found, expected);
    }
    store.close().unwrap();
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
