//! What only the SQLite backend has: a file, its mode, its neighbours, the
//! migration of a version-1 file, temporary stores.

use super::*;
use crate::change::Change;
use crate::store::backend::sqlite::schema::V1_SCHEMA;
use rusqlite::Connection as Sqlite;
use std::fs;
use std::fs::OpenOptions;

fn path_of(f: &Fixture) -> PathBuf {
    f.location.path().expect("an SQLite fixture").to_owned()
}

use std::path::PathBuf;

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
fn store_and_run_are_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<Store>();
    shared::<Run<'static>>();
}

#[test]
fn a_new_file_is_private() {
    let f = Fixture::sqlite();
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    run.put(number("13800138000"), &tenure(), None).unwrap();
    store.flush().unwrap();
    assert_eq!(mode(&path_of(&f)), 0o600);
    let wal = f.dir().join("cache.sqlite-wal");
    assert_eq!(mode(&wal), 0o600, "SQLite gives the WAL the file's mode");
}

#[test]
fn an_existing_file_keeps_its_mode() {
    let f = Fixture::sqlite();
    f.open(JUHE).close().unwrap();
    set_mode(&path_of(&f), 0o640);
    f.open(JUHE).close().unwrap();
    assert_eq!(mode(&path_of(&f)), 0o640);
}

#[test]
fn a_symlinked_store_is_refused() {
    let f = Fixture::sqlite();
    let real = f.dir().join("real.sqlite");
    Store::open(&Location::Sqlite(real.clone()), JUHE)
        .unwrap()
        .close()
        .unwrap();
    set_mode(&real, 0o644);
    let link = f.dir().join("link.sqlite");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let location = Location::Sqlite(link.clone());
    let error = Store::open(&location, JUHE).expect_err("a symlink is refused");
    assert!(matches!(error, StoreError::NotWritable { .. }), "{error:?}");
    assert!(error.to_string().contains("symbolic link"), "{error}");
    assert!(Store::open_read_only(&location, JUHE).is_err());
    assert_eq!(mode(&real), 0o644, "the target is left as it was");
    // A dangling link is refused too, and nothing is created through it.
    let dangling = f.dir().join("dangling.sqlite");
    std::os::unix::fs::symlink(f.dir().join("nowhere.sqlite"), &dangling).unwrap();
    assert!(Store::open(&Location::Sqlite(dangling), JUHE).is_err());
    assert!(!f.dir().join("nowhere.sqlite").exists());
}

#[test]
fn a_file_that_is_not_sqlite_is_corrupt() {
    let f = Fixture::sqlite();
    let path = path_of(&f);
    fs::write(&path, "mobile\n13800138000\n".repeat(100)).unwrap();
    let error = Store::open(&f.location, JUHE).expect_err("garbage is refused");
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("--cache"), "{message}");
    assert!(!message.contains("13800138000"), "{message}");
    let error = Store::open_read_only(&f.location, JUHE).expect_err("refused read-only too");
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
}

#[test]
fn another_programs_database_is_refused() {
    let f = Fixture::sqlite();
    Sqlite::open(path_of(&f))
        .unwrap()
        .execute_batch("CREATE TABLE people (name TEXT)")
        .unwrap();
    let error = Store::open(&f.location, JUHE).expect_err("a foreign database is refused");
    assert!(matches!(error, StoreError::Corrupt { .. }), "{error:?}");
    assert!(error.to_string().contains("not one tenure made"), "{error}");
}

#[test]
fn a_file_that_cannot_be_written_is_refused_clearly() {
    let f = Fixture::sqlite();
    if permissions_ignored(f.dir()) {
        // Running as root: the kernel grants the write, so there is no
        // refusal to observe. The test proves nothing here and says so.
        eprintln!("skipped: this process ignores file permissions (root)");
        return;
    }
    let path = path_of(&f);
    f.open(JUHE).close().unwrap();
    set_mode(&path, 0o400);
    let error = Store::open(&f.location, JUHE).expect_err("a 0400 file is refused");
    assert!(matches!(error, StoreError::NotWritable { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("permissions"), "{message}");

    let locked = f.dir().join("locked");
    fs::create_dir(&locked).unwrap();
    set_mode(&locked, 0o500);
    let error = Store::open(&Location::Sqlite(locked.join("cache.sqlite")), JUHE)
        .expect_err("a read-only folder is refused");
    assert!(matches!(error, StoreError::NotWritable { .. }), "{error:?}");
    set_mode(&locked, 0o700);
}

#[test]
fn a_temporary_store_works_and_leaves_nothing_behind() {
    let store = Store::temporary(SANDBOX).unwrap();
    assert!(store.is_temporary());
    let folder = store
        .location()
        .path()
        .and_then(Path::parent)
        .expect("the file sits in its folder")
        .to_owned();
    let name = folder.file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.starts_with(&format!("tenure-store-{}-", std::process::id())),
        "{name}"
    );
    assert_eq!(mode(&folder), 0o700);
    let run = store.join(spec(None), pace()).unwrap();
    run.put(number("13800138000"), &tenure(), None).unwrap();
    store.flush().unwrap();
    assert_eq!(
        store.get_many(&[number("13800138000")], DAY).unwrap()[0]
            .as_ref()
            .map(|s| s.answer.clone()),
        Some(tenure())
    );
    run.finish().unwrap();
    drop(store);
    assert!(!folder.exists(), "{} is left behind", folder.display());

    let store = Store::temporary(SANDBOX).unwrap();
    let folder = store
        .location()
        .path()
        .unwrap()
        .parent()
        .unwrap()
        .to_owned();
    store.close().unwrap();
    assert!(!folder.exists(), "close removes it too");
}

#[test]
fn leftovers_of_dead_processes_are_removed() {
    let base = tempfile::tempdir().unwrap();
    for name in [
        "tenure-store-111-abc",
        "tenure-store-222-def",
        "tenure-store-x-1",
        "other-333-x",
    ] {
        fs::create_dir(base.path().join(name)).unwrap();
        fs::write(base.path().join(name).join("answers.sqlite"), b"").unwrap();
    }
    let removed = temporary::clean_in(base.path(), &|pid| pid == 222);
    assert_eq!(removed, 1);
    let mut left: Vec<String> = fs::read_dir(base.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["other-333-x", "tenure-store-222-def", "tenure-store-x-1"]
    );
    // This process is alive: its own temporary store survives the real call.
    let store = Store::temporary(SANDBOX).unwrap();
    clean_leftovers();
    assert!(store.location().path().unwrap().parent().unwrap().exists());
}

#[test]
fn the_file_holds_only_the_tenure_tables() {
    let f = Fixture::sqlite();
    let store = f.open(JUHE);
    let run = store.join(spec(None), pace()).unwrap();
    run.put(number("13800138000"), &tenure(), None).unwrap();
    run.finish().unwrap();
    // A batch large enough to open the second read connection: it closes
    // before the writer's, too.
    let batch = vec![number("13800138000"); 2 * SPLIT_FROM];
    assert!(
        store
            .get_many(&batch, DAY)
            .unwrap()
            .iter()
            .all(Option::is_some)
    );
    store.close().unwrap();

    // Closing the last connection checkpoints the WAL into the file.
    let files: Vec<_> = fs::read_dir(f.dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(files, ["cache.sqlite"], "close leaves no -wal or -shm");
    let conn = Sqlite::open(path_of(&f)).unwrap();
    let names = |sql: &str| -> Vec<String> {
        let mut stmt = conn.prepare(sql).unwrap();
        stmt.query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(
        names("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
        [
            "tenure_answers",
            "tenure_claims",
            "tenure_history",
            "tenure_ledger",
            "tenure_meta",
            "tenure_runs"
        ]
    );
    assert_eq!(
        names("SELECT name FROM pragma_table_info('tenure_ledger') ORDER BY cid"),
        [
            "id", "at", "run", "grp", "source", "endpoint", "outcome", "code", "orderid"
        ],
        "the ledger holds no number"
    );
    assert_eq!(names("SELECT key FROM tenure_meta"), ["schema_version"]);
}

/// A real version-1 file, made with the old schema's SQL, is migrated in
/// place: every answer kept, each a first arrival with one history entry.
#[test]
fn a_version_1_file_is_migrated_in_place() {
    let f = Fixture::sqlite();
    let path = path_of(&f);
    let conn = Sqlite::open(&path).unwrap();
    conn.execute_batch(V1_SCHEMA).unwrap();
    let at = now_ms() - 60_000;
    conn.execute(
        "INSERT INTO answers VALUES ('13800138000', ?1, 0, '3', '(24,+)', '广东', '深圳', '移动',
         NULL, 'query', ?2)",
        rusqlite::params![JUHE, at],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO answers VALUES ('13900139000', ?1, 1, '224801', NULL, NULL, NULL, NULL,
         '查询无此记录', 'queryEncry', ?2)",
        rusqlite::params![JUHE, at],
    )
    .unwrap();
    // Billed without a code: version 1 kept it as a declined bad_response.
    conn.execute(
        "INSERT INTO answers VALUES ('13700137000', ?1, 1, 'bad_response', NULL, NULL, NULL,
         NULL, 'HTTP 200 with no JSON', 'query', ?2)",
        rusqlite::params![JUHE, at],
    )
    .unwrap();
    drop(conn);
    set_mode(&path, 0o600);
    let backup = f.dir().join("backup.sqlite");
    fs::copy(&path, &backup).unwrap();

    let error = Store::open_read_only(&f.location, JUHE).expect_err("not migrated yet");
    assert!(error.to_string().contains("version-1"), "{error}");
    let store = f.open(JUHE);
    let found = store
        .get_many(&[number("13800138000"), number("13900139000")], DAY)
        .unwrap();
    let success = found[0].as_ref().unwrap();
    assert_eq!(
        success.answer,
        Answer::Tenure(tenure_of("3", "移动", "深圳"))
    );
    assert_eq!(success.change, Some(Change::New));
    assert_eq!(success.answered_at_ms, at);
    assert_eq!(found[1].as_ref().unwrap().answer, declined());
    assert_eq!(found[1].as_ref().unwrap().change, None);
    let stats = store.stats().unwrap();
    assert_eq!((stats.answers, stats.history), (3, 3));
    let billed = store.get(&number("13700137000"), DAY).unwrap().unwrap();
    assert!(
        matches!(billed.answer, Answer::BilledWithoutCode { .. }),
        "{billed:?}"
    );
    // Migrated as `tenure cache import` would have put it: importing the
    // file it came from adds nothing.
    let again = store.import(&backup).unwrap();
    assert_eq!(
        (again.answers_kept, again.history_added),
        (3, 0),
        "{again:?}"
    );
    // The next answer compares against the migrated one.
    let run = store.join(spec(None), pace()).unwrap();
    let change = run
        .put(
            number("13800138000"),
            &Answer::Tenure(tenure_of("03", "移动", "深圳")),
            None,
        )
        .unwrap();
    assert_eq!(change.map(|c| c.as_str()), Some("reassigned"));
    run.finish().unwrap();
    store.close().unwrap();
    let conn = Sqlite::open(&path).unwrap();
    let old: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name IN ('meta', 'answers')",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(old, 0, "the version-1 tables are gone");
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn a_version_1_file_of_another_version_is_refused() {
    let f = Fixture::sqlite();
    let conn = Sqlite::open(path_of(&f)).unwrap();
    conn.execute_batch(V1_SCHEMA).unwrap();
    conn.execute("UPDATE meta SET value = 7", []).unwrap();
    drop(conn);
    let error = Store::open(&f.location, JUHE).expect_err("version 7");
    assert!(
        matches!(error, StoreError::UnknownSchema { found: 7, .. }),
        "{error:?}"
    );
}
