//! The store keeps the user safe: it is private and holds no secret, and a
//! store tenure cannot use stops the run before anything is sent, left as
//! it was.

use std::path::{Path, PathBuf};

use tenure::sandbox::{Sandbox, SandboxConfig};

use super::assert_enriched;
use crate::common::*;

/// The AES key `--encrypt` derives from `openid`: the first 16 hex digits
/// of its MD5, a secret too.
fn aes_key_of(openid: &str) -> String {
    use md5::Digest;
    let digest: [u8; 16] = md5::Md5::digest(openid.as_bytes()).into();
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    hex[..16].to_owned()
}

/// The bytes of the store and of everything SQLite left beside it (-wal,
/// -shm, -journal).
fn store_bytes(store: &Path) -> Vec<u8> {
    let mut files: Vec<PathBuf> = vec![store.to_owned()];
    for suffix in ["-wal", "-shm", "-journal"] {
        let side = PathBuf::from(format!("{}{suffix}", store.display()));
        if side.exists() {
            files.push(side);
        }
    }
    let mut all = Vec::new();
    for file in &files {
        all.extend(std::fs::read(file).expect("the store's files are readable"));
    }
    all
}

/// The store holds numbers and answers, privately, and no secret: not the
/// key, not the openid, not the AES key derived from the openid.
#[test]
fn the_store_is_private_and_holds_no_secret() {
    const KEY: &str = "distinct-key-XYZ123";
    const OPENID: &str = "distinct-openid-QRS789";
    let dir = tempdir();
    let numbers = answered_numbers(20);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    let store = dir.path().join("answers.sqlite");
    let sandbox = sandbox(SandboxConfig {
        key: KEY.into(),
        openid: OPENID.into(),
        ..Default::default()
    });

    ran_with(
        enrich(
            &sandbox,
            &input,
            &output,
            &["--encrypt", "--cache", path_str(&store)],
        )
        .env("JUHE_KEY", KEY)
        .env("JUHE_OPENID", OPENID),
        0,
    );
    assert_eq!(sandbox.stats().billed, 20, "the encrypted run was answered");
    assert_enriched(&output, &numbers);

    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&store)
        .expect("the store exists at --cache")
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "the store is readable by its owner only"
    );

    let all = store_bytes(&store);
    let contains = |needle: &str| contains_bytes(&all, needle.as_bytes());
    // The check is meaningful only if the answers are in there.
    assert!(
        contains(&numbers[0]),
        "the store holds the answered numbers (sanity check of this test)"
    );
    assert!(!contains(KEY), "the store holds the API key");
    assert!(!contains(OPENID), "the store holds the openid");
    assert!(
        !contains(&aes_key_of(OPENID)),
        "the store holds the AES key of the openid"
    );
}

/// Checks that a run on the store `store` exits 2 naming it, and writes no
/// output.
fn assert_store_refused(sandbox: &Sandbox, input: &Path, store: &Path, output: &Path) {
    let ran = ran_with(
        &mut enrich(sandbox, input, output, &["--cache", path_str(store)]),
        2,
    );
    assert!(
        ran.stderr.contains(path_str(store)),
        "the message names the file: {}",
        ran.stderr
    );
    assert!(!output.exists(), "no output from a run that did not start");
}

/// A store tenure cannot use is an error naming the file (exit 2), never a
/// silent fallback to paying again, and the file is left as it was.
#[test]
fn a_bad_store_stops_before_sending_anything() {
    let dir = tempdir();
    let numbers = answered_numbers(20);
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let sandbox = sandbox(SandboxConfig::default());

    // Not a database at all: a corrupt store is an input error.
    let garbage = write(
        dir.path(),
        "garbage.sqlite",
        "this is not an SQLite database\n".repeat(200),
    );
    let before = std::fs::read(&garbage).expect("written above");
    let output = dir.path().join("out-garbage.csv");
    assert_store_refused(&sandbox, &input, &garbage, &output);
    assert_eq!(
        std::fs::read(&garbage).expect("the file is still there"),
        before,
        "the user's file is left untouched"
    );

    // A real store of another schema version: made by a run, then altered.
    let other = dir.path().join("other.sqlite");
    let made = dir.path().join("made.csv");
    ran_with(
        &mut enrich(&sandbox, &input, &made, &["--cache", path_str(&other)]),
        0,
    );
    let billed_before = sandbox.stats().billed;
    assert_eq!(billed_before, 20);
    {
        let conn = rusqlite::Connection::open(&other).expect("the store is SQLite");
        let changed = conn
            .execute(
                "UPDATE tenure_meta SET value = 99 WHERE key = 'schema_version'",
                [],
            )
            .expect("the store has a tenure_meta table");
        assert_eq!(changed, 1, "the store records its schema version");
    }
    // An unknown schema is an input error.
    let output = dir.path().join("out-other.csv");
    assert_store_refused(&sandbox, &input, &other, &output);

    // Neither bad store led to a single request, let alone a billed one.
    let stats = sandbox.stats();
    assert_eq!(stats.billed, billed_before, "nothing billed on a bad store");
    assert_eq!(stats.requests, 20, "nothing sent on a bad store");
}
