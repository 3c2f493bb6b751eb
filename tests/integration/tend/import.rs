//! `tenure cache import` (issue 11, point 1): a version-1 store of an
//! earlier tenure, or another version-2 one, merged into the user's store
//! so that its numbers are not paid for again; the file imported only read;
//! a missing file, one that is no store, and the store itself refused.

use tenure::sandbox::{SandboxConfig, answer_for};

use super::{count, no_number_in, stats_json, stdout_of, version_1_store};
use crate::common::*;

/// Issue 11, point 1: upgrading costs no night of re-billing. A version-1
/// store (and a version-2 one) merged into the user's store answers its
/// numbers for free; the file imported is only read, and importing it
/// again adds nothing.
#[test]
fn cache_import_merges_older_stores_so_nothing_is_paid_again() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let numbers = answered_numbers(20);
    let (old, other) = numbers.split_at(10);
    let v1 = dir.path().join("enriched.csv.cache.sqlite");
    version_1_store(&v1, &sandbox.url(), old);
    let bytes = std::fs::read(&v1).expect("the version-1 file");

    let ran = ran_with(tenure().args(["cache", "import", path_str(&v1)]), 0);
    assert!(ran.stdout.contains("10 answers added"), "{}", ran.stdout);
    assert!(ran.stdout.contains("0 kept"), "{}", ran.stdout);
    assert_eq!(std::fs::read(&v1).expect("still there"), bytes, "only read");
    let input = numbers_csv(dir.path(), "old.csv", old);
    let out = dir.path().join("old.out.csv");
    ran_with(&mut enrich(&sandbox, &input, &out, &[]), 0);
    assert_eq!(
        sandbox.stats().requests,
        0,
        "every answer came from the import"
    );
    for row in read_csv(&out).iter().skip(1) {
        assert_eq!(row[2], answer_for(&row[1]).expect("answered").code);
    }
    let again = stdout_of(&["cache", "import", path_str(&v1)]);
    assert!(again.contains("0 answers added"), "{again}");
    assert!(again.contains("10 kept"), "{again}");

    // A version-2 store of another run.
    let theirs = dir.path().join("theirs.sqlite");
    let input = numbers_csv(dir.path(), "other.csv", other);
    ran_with(
        &mut enrich(
            &sandbox,
            &input,
            &dir.path().join("theirs.csv"),
            &["--cache", path_str(&theirs)],
        ),
        0,
    );
    let billed = sandbox.stats().billed;
    assert_eq!(billed, 10);
    let ran = ran_with(tenure().args(["cache", "import", path_str(&theirs)]), 0);
    assert!(ran.stdout.contains("10 answers added"), "{}", ran.stdout);
    assert!(
        ran.stdout.contains("10 history entries added"),
        "{}",
        ran.stdout
    );
    no_number_in(&ran.stderr, &numbers);
    ran_with(
        &mut enrich(&sandbox, &input, &dir.path().join("o.csv"), &[]),
        0,
    );
    assert_eq!(sandbox.stats().billed, billed, "nothing paid twice");
    assert_eq!(count(&stats_json(&[])["answers"]), 20);
}

#[test]
fn cache_import_refuses_a_missing_file_and_the_store_itself() {
    let dir = tempdir();
    let missing = dir.path().join("missing.sqlite");
    let ran = ran_with(tenure().args(["cache", "import", path_str(&missing)]), 2);
    assert!(ran.stderr.contains("missing.sqlite"), "{}", ran.stderr);
    assert!(!default_store().exists(), "no store made for nothing");

    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(2));
    ran_with(
        &mut enrich(&sandbox, &input, &dir.path().join("o.csv"), &[]),
        0,
    );
    let ran = ran_with(
        tenure().args(["cache", "import", path_str(&default_store())]),
        2,
    );
    assert!(ran.stderr.contains("the store itself"), "{}", ran.stderr);

    let csv = write(dir.path(), "not-a-store.sqlite", "id,mobile\n1,2\n");
    let ran = ran_with(tenure().args(["cache", "import", path_str(&csv)]), 2);
    assert!(ran.stderr.contains("not-a-store.sqlite"), "{}", ran.stderr);
}
