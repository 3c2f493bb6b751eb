//! Tests of the result store on real files in temporary folders.

use super::*;
use crate::api::Tenure;
use rusqlite::TransactionBehavior;
use std::fs;
use std::sync::Arc;

const SANDBOX: &str = "sandbox";
const JUHE: &str = "https://v.juhe.cn";
const DAY: Duration = Duration::from_secs(86_400);

fn number(digits: &str) -> Number {
    crate::number::parse(digits).expect("test numbers are valid mainland mobiles")
}

fn tenure() -> Answer {
    Answer::Tenure(Tenure {
        code: "03".to_owned(),
        desc: "(0,3]".to_owned(),
        province: "广东".to_owned(),
        city: "深圳".to_owned(),
        isp: "移动".to_owned(),
    })
}

fn declined() -> Answer {
    Answer::Declined {
        code: 224801,
        reason: "查询无此记录".to_owned(),
    }
}

fn folder() -> tempfile::TempDir {
    tempfile::tempdir().expect("the system temporary folder is writable")
}

/// Whether this process ignores file permissions (root): the permission
/// tests cannot observe a refusal then.
fn permissions_ignored(dir: &Path) -> bool {
    let probe = dir.join("probe");
    fs::write(&probe, b"").expect("the test folder is writable");
    set_mode(&probe, 0o400);
    let ignored = OpenOptions::new().write(true).open(&probe).is_ok();
    fs::remove_file(&probe).expect("the probe was just made");
    ignored
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("the test owns the file");
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .expect("the file exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn store_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<Store>();
}

#[test]
fn both_kinds_of_answer_round_trip_through_the_file() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    let store = Store::open(&path, JUHE).unwrap();
    store
        .put(number("13800138000"), &tenure(), Endpoint::Plain)
        .unwrap();
    store
        .put(number("13900139000"), &declined(), Endpoint::Encrypted)
        .unwrap();
    store.close().unwrap();

    let store = Store::open(&path, JUHE).unwrap();
    assert_eq!(
        store.get(&number("13800138000"), DAY).unwrap(),
        Some(tenure())
    );
    assert_eq!(
        store.get(&number("13900139000"), DAY).unwrap(),
        Some(declined())
    );
    assert_eq!(store.get(&number("13700137000"), DAY).unwrap(), None);
    assert_eq!(store.path(), Some(path.as_path()));
}

#[test]
fn a_second_put_replaces_the_first() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    let store = Store::open(&path, JUHE).unwrap();
    store
        .put(number("13800138000"), &declined(), Endpoint::Plain)
        .unwrap();
    store
        .put(number("13800138000"), &tenure(), Endpoint::Plain)
        .unwrap();
    assert_eq!(
        store.get(&number("13800138000"), DAY).unwrap(),
        Some(tenure())
    );
    store.close().unwrap();
    let store = Store::open_read_only(&path, JUHE).unwrap();
    assert_eq!(
        store.get(&number("13800138000"), DAY).unwrap(),
        Some(tenure())
    );
    assert_eq!(store.count_fresh(DAY).unwrap(), 1);
}

#[test]
fn answers_older_than_max_age_are_not_returned() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    let store = Store::open(&path, JUHE).unwrap();
    let n = number("13800138000");
    store.put(n, &tenure(), Endpoint::Plain).unwrap();
    // An answer of this run is fresh whatever the max age, pending or
    // committed: a run longer than --max-age must not ask a duplicate again.
    assert_eq!(store.get(&n, Duration::ZERO).unwrap(), Some(tenure()));
    store.flush().unwrap();
    assert_eq!(store.get(&n, Duration::ZERO).unwrap(), Some(tenure()));
    store.close().unwrap();
    // The next run judges it by its age.
    std::thread::sleep(Duration::from_millis(2));
    let store = Store::open(&path, JUHE).unwrap();
    assert_eq!(store.get(&n, Duration::ZERO).unwrap(), None);
    assert_eq!(store.get(&n, DAY).unwrap(), Some(tenure()));
    assert_eq!(store.get(&n, Duration::MAX).unwrap(), Some(tenure()));
    assert_eq!(store.get_many(&[n], Duration::ZERO).unwrap(), vec![None]);
    assert_eq!(store.count_fresh(Duration::ZERO).unwrap(), 0);
    assert_eq!(store.count_fresh(DAY).unwrap(), 1);
}

#[test]
fn answers_from_another_source_are_not_returned() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    let sandbox = Store::open(&path, SANDBOX).unwrap();
    sandbox
        .put(number("13800138000"), &tenure(), Endpoint::Plain)
        .unwrap();
    sandbox.flush().unwrap();

    let real = Store::open(&path, JUHE).unwrap();
    assert_eq!(real.get(&number("13800138000"), DAY).unwrap(), None);
    assert_eq!(real.count_fresh(DAY).unwrap(), 0);
    real.put(number("13800138000"), &declined(), Endpoint::Plain)
        .unwrap();
    real.close().unwrap();

    assert_eq!(
        sandbox.get(&number("13800138000"), DAY).unwrap(),
        Some(tenure())
    );
    let again = Store::open(&path, JUHE).unwrap();
    assert_eq!(
        again.get(&number("13800138000"), DAY).unwrap(),
        Some(declined())
    );
}

#[test]
fn a_pending_answer_is_visible_before_its_commit() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    let store = Store::open(&path, JUHE).unwrap();
    let other = Store::open(&path, JUHE).unwrap();
    let n = number("13800138000");

    // Hold the write lock, so the writer cannot commit until it is let go.
    let mut blocker = Connection::open(&path).unwrap();
    let lock = blocker
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .unwrap();
    store.put(n, &tenure(), Endpoint::Plain).unwrap();
    assert_eq!(store.get(&n, DAY).unwrap(), Some(tenure()));
    assert_eq!(store.get_many(&[n], DAY).unwrap(), vec![Some(tenure())]);
    assert_eq!(other.get(&n, DAY).unwrap(), None, "not on disk yet");
    lock.rollback().unwrap();

    store.flush().unwrap();
    assert_eq!(other.get(&n, DAY).unwrap(), Some(tenure()));
    assert_eq!(store.get(&n, DAY).unwrap(), Some(tenure()));
}

#[test]
fn after_flush_another_store_on_the_file_sees_the_answer() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    let store = Store::open(&path, JUHE).unwrap();
    store
        .put(number("13800138000"), &tenure(), Endpoint::Plain)
        .unwrap();
    store.flush().unwrap();
    let reader = Store::open_read_only(&path, JUHE).unwrap();
    assert_eq!(
        reader.get(&number("13800138000"), DAY).unwrap(),
        Some(tenure())
    );
    // Still open for writing: the store keeps working after a flush.
    store
        .put(number("13900139000"), &declined(), Endpoint::Plain)
        .unwrap();
    store.close().unwrap();
    assert_eq!(
        reader.get(&number("13900139000"), DAY).unwrap(),
        Some(declined())
    );
}

#[test]
fn get_many_answers_in_order_from_pending_disk_and_nothing() {
    let dir = folder();
    let store = Store::open(&dir.path().join("cache.sqlite"), JUHE).unwrap();
    let (on_disk, pending, absent) = (
        number("13800138000"),
        number("13900139000"),
        number("13700137000"),
    );
    store.put(on_disk, &tenure(), Endpoint::Plain).unwrap();
    store.flush().unwrap();
    store.put(pending, &declined(), Endpoint::Plain).unwrap();
    let answers = store
        .get_many(&[absent, on_disk, pending, on_disk], DAY)
        .unwrap();
    assert_eq!(
        answers,
        vec![None, Some(tenure()), Some(declined()), Some(tenure())]
    );
    assert_eq!(store.get_many(&[], DAY).unwrap(), vec![]);
}

#[test]
fn a_new_file_is_private() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    let store = Store::open(&path, JUHE).unwrap();
    store
        .put(number("13800138000"), &tenure(), Endpoint::Plain)
        .unwrap();
    store.flush().unwrap();
    assert_eq!(mode(&path), 0o600);
    let wal = dir.path().join("cache.sqlite-wal");
    assert_eq!(mode(&wal), 0o600, "SQLite gives the WAL the file's mode");
}

#[test]
fn an_existing_file_keeps_its_mode() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    Store::open(&path, JUHE).unwrap().close().unwrap();
    set_mode(&path, 0o640);
    Store::open(&path, JUHE).unwrap().close().unwrap();
    assert_eq!(mode(&path), 0o640);
}

#[test]
fn a_file_that_is_not_sqlite_is_corrupt() {
    let dir = folder();
    let path = dir.path().join("notes.csv");
    fs::write(&path, "mobile\n13800138000\n".repeat(100)).unwrap();
    let error = Store::open(&path, JUHE).expect_err("garbage is refused");
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("--cache"), "{message}");
    assert!(!message.contains("13800138000"), "{message}");
    let error = Store::open_read_only(&path, JUHE).expect_err("refused read-only too");
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
}

#[test]
fn another_programs_database_is_refused() {
    let dir = folder();
    let path = dir.path().join("other.sqlite");
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE people (name TEXT)")
        .unwrap();
    drop(conn);
    let error = Store::open(&path, JUHE).expect_err("a foreign database is refused");
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains("not one tenure made"), "{error}");
}

#[test]
fn an_unknown_schema_version_is_refused() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    Store::open(&path, JUHE).unwrap().close().unwrap();
    let conn = Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE meta SET value = 99 WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    drop(conn);
    let error = Store::open(&path, JUHE).expect_err("version 99 is refused");
    assert!(
        matches!(error, StoreError::UnknownSchema { found: 99, .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("Upgrade tenure"), "{message}");
    let error = Store::open_read_only(&path, JUHE).expect_err("refused read-only too");
    assert!(matches!(error, StoreError::UnknownSchema { found: 99, .. }));
}

#[test]
fn a_file_that_cannot_be_written_is_refused_clearly() {
    let dir = folder();
    if permissions_ignored(dir.path()) {
        // Running as root: the kernel grants the write, so there is no
        // refusal to observe. The test proves nothing here and says so.
        eprintln!("skipped: this process ignores file permissions (root)");
        return;
    }
    let path = dir.path().join("cache.sqlite");
    Store::open(&path, JUHE).unwrap().close().unwrap();
    set_mode(&path, 0o400);
    let error = Store::open(&path, JUHE).expect_err("a 0400 file is refused");
    assert!(matches!(error, StoreError::NotWritable { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("permissions"), "{message}");

    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    set_mode(&locked, 0o500);
    let error =
        Store::open(&locked.join("cache.sqlite"), JUHE).expect_err("a read-only folder is refused");
    assert!(matches!(error, StoreError::NotWritable { .. }), "{error:?}");
    set_mode(&locked, 0o700);
}

#[test]
fn a_missing_file_opened_read_only_is_named() {
    let dir = folder();
    let path = dir.path().join("absent.sqlite");
    let error = Store::open_read_only(&path, JUHE).expect_err("missing");
    assert!(matches!(error, StoreError::Missing { .. }), "{error:?}");
    assert!(error.to_string().contains(&path.display().to_string()));
    assert!(!path.exists(), "a read-only open creates nothing");
}

#[test]
fn a_read_only_store_refuses_puts() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    Store::open(&path, JUHE).unwrap().close().unwrap();
    let store = Store::open_read_only(&path, JUHE).unwrap();
    let error = store
        .put(number("13800138000"), &tenure(), Endpoint::Plain)
        .expect_err("read-only");
    assert!(matches!(error, StoreError::ReadOnly { .. }), "{error:?}");
    store.flush().unwrap();
    store.close().unwrap();
}

#[test]
fn two_stores_on_one_file_put_concurrently() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    let stores = [
        Arc::new(Store::open(&path, JUHE).unwrap()),
        Arc::new(Store::open(&path, JUHE).unwrap()),
    ];
    let numbers: Vec<Number> = (0..2_000).map(|i| number(&format!("138{i:08}"))).collect();
    std::thread::scope(|scope| {
        for (t, chunk) in numbers.chunks(250).enumerate() {
            let store = Arc::clone(&stores[t % 2]);
            scope.spawn(move || {
                for n in chunk {
                    store.put(*n, &tenure(), Endpoint::Plain).unwrap();
                }
            });
        }
    });
    for store in stores {
        Arc::into_inner(store)
            .expect("the threads are done")
            .close()
            .unwrap();
    }
    let store = Store::open_read_only(&path, JUHE).unwrap();
    assert_eq!(store.count_fresh(DAY).unwrap(), 2_000);
    let answers = store.get_many(&numbers, DAY).unwrap();
    assert!(answers.iter().all(|a| a.as_ref() == Some(&tenure())));
}

#[test]
fn a_temporary_store_works_and_leaves_nothing_behind() {
    let store = Store::temporary(SANDBOX).unwrap();
    assert_eq!(store.path(), None);
    let folder = store
        .file
        .parent()
        .expect("the file sits in its folder")
        .to_owned();
    assert!(folder.exists());
    assert_eq!(mode(&folder), 0o700);
    store
        .put(number("13800138000"), &tenure(), Endpoint::Plain)
        .unwrap();
    store.flush().unwrap();
    assert_eq!(
        store.get(&number("13800138000"), DAY).unwrap(),
        Some(tenure())
    );
    drop(store);
    assert!(!folder.exists(), "{} is left behind", folder.display());

    let store = Store::temporary(SANDBOX).unwrap();
    let folder = store
        .file
        .parent()
        .expect("the file sits in its folder")
        .to_owned();
    store.close().unwrap();
    assert!(!folder.exists(), "close removes it too");
}

#[test]
fn the_file_holds_the_number_and_only_the_listed_fields() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    let store = Store::open(&path, JUHE).unwrap();
    store
        .put(number("13800138000"), &tenure(), Endpoint::Encrypted)
        .unwrap();
    store.close().unwrap();

    // Closing the last connection checkpoints the WAL into the file.
    let files: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(files, ["cache.sqlite"], "close leaves no -wal or -shm");
    let bytes = fs::read(&path).unwrap();
    let holds = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(holds(b"13800138000"));
    assert!(holds(b"queryEncry"));

    let conn = Connection::open(&path).unwrap();
    let names = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(
        names("SELECT name FROM sqlite_master ORDER BY name"),
        ["answers", "meta"]
    );
    assert_eq!(
        names("SELECT name FROM pragma_table_info('answers') ORDER BY cid"),
        [
            "number",
            "source",
            "kind",
            "code",
            "desc",
            "province",
            "city",
            "isp",
            "reason",
            "endpoint",
            "answered_at"
        ]
    );
    assert_eq!(
        names("SELECT key FROM meta"),
        ["schema_version"],
        "meta holds the version and nothing else"
    );
}

#[test]
fn a_writer_failure_reaches_put_flush_and_close() {
    let dir = folder();
    let path = dir.path().join("cache.sqlite");
    let store = Store::open(&path, JUHE).unwrap();
    // Sabotage from outside, so the writer's next commit fails at once.
    Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE answers")
        .unwrap();
    store
        .put(number("13800138000"), &tenure(), Endpoint::Plain)
        .unwrap();
    let error = store.flush().expect_err("the commit failed");
    assert!(
        matches!(error, StoreError::WriterFailed { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("no such table"), "{message}");
    assert!(!message.contains("13800138000"), "{message}");
    let error = store
        .put(number("13900139000"), &tenure(), Endpoint::Plain)
        .expect_err("the writer has stopped");
    assert!(error.to_string().contains("no such table"), "{error}");
    let error = store.close().expect_err("close reports the failure");
    assert!(
        matches!(error, StoreError::WriterFailed { .. }),
        "{error:?}"
    );
}
