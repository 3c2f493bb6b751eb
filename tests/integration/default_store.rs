//! Issue 11 point 1: one store for every run of a user by default —
//! whatever the output (dated files, stdout) — `TENURE_CACHE` to choose
//! another (a file or a PostgreSQL URL), `--no-cache` to keep none, and a
//! clear exit 2 when the default location cannot be written.

use std::io::Write as _;

use tenure::sandbox::SandboxConfig;

use crate::common::*;

#[test]
fn dated_outputs_and_stdout_share_the_users_store() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(20));
    for day in ["2026-11-27", "2026-11-28"] {
        std::fs::create_dir(dir.path().join(day)).expect("a folder");
        let output = dir.path().join(day).join("enriched.csv");
        ran_with(&mut enrich(&sandbox, &input, &output, &[]), 0);
    }
    let piped = ran_with(
        &mut enrich(&sandbox, &input, std::path::Path::new("-"), &[]),
        0,
    );
    assert_eq!(piped.stdout.lines().count(), 21, "the rows on stdout");
    assert_eq!(sandbox.stats().billed, 20, "paid once for three runs");
    assert!(
        default_store().is_file(),
        "the user's store is where DESIGN §4 says"
    );
}

#[test]
fn tenure_cache_chooses_the_store_and_no_cache_overrides_it() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(5));
    let output = dir.path().join("out.csv");
    let chosen = dir.path().join("team.sqlite");
    ran_with(
        enrich(&sandbox, &input, &output, &[]).env("TENURE_CACHE", &chosen),
        0,
    );
    assert!(chosen.is_file() && !default_store().exists());
    ran_with(
        enrich(&sandbox, &input, &output, &[]).env("TENURE_CACHE", &chosen),
        0,
    );
    assert_eq!(
        sandbox.stats().billed,
        5,
        "the rerun came from TENURE_CACHE's store"
    );
    let ran = ran_with(
        enrich(&sandbox, &input, &output, &["--no-cache"]).env("TENURE_CACHE", &chosen),
        0,
    );
    assert_eq!(sandbox.stats().billed, 10, "--no-cache asks again");
    assert!(
        ran.stderr.contains("a rerun will pay again"),
        "{}",
        ran.stderr
    );
}

#[test]
fn an_unwritable_default_location_is_exit_2_naming_it() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(2));
    // A file where the data folder should be: nothing can be made under it.
    let blocked = write(dir.path(), "not-a-folder", "x");
    let ran = ran_with(
        tenure()
            .env("XDG_DATA_HOME", &blocked)
            .arg("enrich")
            .arg(&input)
            .args(["-o", "out.csv", "--sandbox"]),
        2,
    );
    assert!(
        ran.stderr.contains(&blocked.display().to_string()),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_store_of_an_earlier_version_beside_the_output_is_pointed_out() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(2));
    let output = dir.path().join("out.csv");
    let legacy = dir.path().join("out.csv.cache.sqlite");
    std::fs::File::create(&legacy)
        .and_then(|mut file| file.write_all(b""))
        .expect("writable");
    let ran = ran_with(&mut enrich(&sandbox, &input, &output, &[]), 0);
    let hint = format!("tenure cache import {}", legacy.display());
    assert!(ran.stderr.contains(&hint), "{}", ran.stderr);
}

/// The team's store: a PostgreSQL URL in TENURE_CACHE, shared by runs.
#[test]
fn a_postgresql_url_in_tenure_cache_is_the_store() {
    let Some(url) = postgres_schema("a_postgresql_url_in_tenure_cache_is_the_store") else {
        return;
    };
    let dir = tempfile::tempdir().expect("a temporary folder");
    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(10));
    let summary = dir.path().join("summary.json");
    for day in ["a.csv", "b.csv"] {
        let output = dir.path().join(day);
        ran_with(
            enrich(&sandbox, &input, &output, &["--summary-json"])
                .arg(&summary)
                .env("TENURE_CACHE", url.as_str()),
            0,
        );
    }
    assert_eq!(
        sandbox.stats().billed,
        10,
        "the second run came from PostgreSQL"
    );
    let json = read_json(&summary);
    assert_eq!(json["from_store"], 10);
    let store = json["store"].as_str().expect("the store is named");
    assert!(store.starts_with("postgres"), "{store}");
    assert!(!default_store().exists());
}
