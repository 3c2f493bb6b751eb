//! The key and the openid never reach the store (DESIGN §4, issue 11 point
//! 6): after runs in the clear and encrypted, one of each meeting a proxy
//! that echoes the request (key included) as its reason, no value of any
//! column of any `tenure_` table holds the key, the openid, or the AES key
//! derived from the openid. On PostgreSQL this is "a dump of the database
//! holds neither"; on SQLite it complements store.rs's scan of the file's
//! bytes.

use md5::Digest as _;

use super::*;

/// Distinctive values, so that a match can only be a leak. URL-safe, so
/// that a leak through a form-encoded body is the same string.
const KEY: &str = "runsKEY-4f1c9e2b7d06";
const OPENID: &str = "runsOPENID-a83e55c0f1";

fn no_value_in_the_store_holds_the_key_or_the_openid(store: &TeamStore) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let numbers = answered_numbers(40);
    let (plain, encrypted) = numbers.split_at(20);
    // The first number of each run meets a proxy that echoes the raw
    // request (`key=…&mobile=…`) as a 224808's reason, a row answer the
    // store keeps.
    let echo = [
        format!("{}=echo", plain[0]),
        format!("{}=echo", encrypted[0]),
    ];
    let api = Api::start(&[
        "--key",
        KEY,
        "--openid",
        OPENID,
        "--latency-ms",
        "5",
        "--script",
        &echo[0],
        "--script",
        &echo[1],
    ]);
    for (name, numbers, extra) in [
        ("plain", plain, &[][..]),
        ("encrypted", encrypted, &["--encrypt"][..]),
    ] {
        let input = numbers_csv(dir.path(), &format!("{name}.csv"), numbers);
        let output = dir.path().join(format!("{name}-out.csv"));
        let mut command = enrich_process(
            api.url(),
            &input,
            &output,
            &[&["--cache", store.arg()][..], extra].concat(),
        );
        command.env("JUHE_KEY", KEY).env("JUHE_OPENID", OPENID);
        let done = wait(command.spawn().expect("tenure starts"));
        assert_exit(&done, 0, name);
        let rows = read_csv(&output);
        assert_eq!(rows[1][7], "224808", "{name}: the echo is a row answer");
        assert!(!done.stderr.contains(KEY), "{name}: stderr shows the key");
    }
    let stats = api.stats();
    assert_eq!(stats.billed, 38, "every other number was answered");
    assert_eq!(stats.codes.get("echo"), Some(&2), "both echoes were sent");

    assert_no_value_holds_a_secret(&store.dump(), &numbers);
}
on_both_backends!(no_value_in_the_store_holds_the_key_or_the_openid);

/// The dump is what it should be (the answers, the echoed reasons, the
/// ledger of both runs), and no value in it holds the key, the openid or
/// the AES key derived from the openid.
fn assert_no_value_holds_a_secret(dump: &[(String, String)], numbers: &[String]) {
    let digest: [u8; 16] = md5::Md5::digest(OPENID.as_bytes()).into();
    let aes_key: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let aes_key = &aes_key[..16];
    assert!(
        dump.iter().any(|(_, value)| value == &numbers[1]),
        "the dump holds the answered numbers"
    );
    assert!(
        dump.iter()
            .any(|(at, value)| at == "tenure_answers.reason" && value.contains("key=")),
        "the echoed reasons reached the store: {:?}",
        dump.iter()
            .filter(|(at, _)| at == "tenure_answers.reason")
            .collect::<Vec<_>>()
    );
    assert!(
        dump.iter()
            .filter(|(at, _)| at == "tenure_ledger.run")
            .count()
            >= 40,
        "the ledger of both runs is in the dump"
    );
    for (secret, what) in [
        (KEY, "the key"),
        (OPENID, "the openid"),
        (aes_key, "the AES key"),
    ] {
        let leaks: Vec<&String> = dump
            .iter()
            .filter(|(_, value)| value.contains(secret))
            .map(|(at, _)| at)
            .collect();
        assert!(leaks.is_empty(), "{what} is stored in {leaks:?}");
    }
}
