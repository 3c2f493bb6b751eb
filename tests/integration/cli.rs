//! The small commands and the command line itself: `tenure encrypt`, the
//! help text, and secrets that must come from the environment or a file.

use crate::common::*;

/// Issue 2: `tenure encrypt` prints what OpenSSL made for the vectors.
#[test]
fn encrypt_prints_the_openssl_vector() {
    let ran = ran_with(
        tenure()
            .env("JUHE_OPENID", "JHtestopenid0000")
            .args(["encrypt", "13800138000"]),
        0,
    );
    assert_eq!(ran.stdout, "f/rcC2hDjwbxwCH2ru7yIQ==\n");
}

#[test]
fn encrypt_takes_many_numbers_messy_forms_and_an_openid_file() {
    let dir = tempdir();
    let openid = write(dir.path(), "openid", "openid-risk-team\n");
    let ran = ran_with(
        tenure()
            .args(["encrypt", "--openid-file"])
            .arg(&openid)
            .args(["+86 158-5454-5455", "15854545455", "--urlencode"]),
        0,
    );
    assert_eq!(
        ran.stdout,
        "EqJZcT5mdqnFWj%2Ba2%2BbR4Q%3D%3D\nEqJZcT5mdqnFWj%2Ba2%2BbR4Q%3D%3D\n"
    );
}

#[test]
fn encrypt_without_an_openid_names_the_variable() {
    let ran = ran_with(tenure().args(["encrypt", "13800138000"]), 2);
    assert!(ran.stderr.contains("JUHE_OPENID"), "{}", ran.stderr);
}

#[test]
fn encrypt_rejects_an_invalid_number_without_echoing_it() {
    let ran = ran_with(
        tenure().env("JUHE_OPENID", "JHtestopenid0000").args([
            "encrypt",
            "1.38001E+10",
            "12800138000",
        ]),
        2,
    );
    let stderr = &ran.stderr;
    assert!(stderr.contains("scientific notation"), "{stderr}");
    // The second number is reported too (so its absence below is not
    // because it was never looked at), and only masked.
    assert!(stderr.contains("128****8000"), "{stderr}");
    assert!(
        !stderr.contains("12800138000"),
        "the number is masked: {stderr}"
    );
}

/// The help is the spec: every subcommand has a worked example.
#[test]
fn every_subcommand_long_help_has_an_example() {
    for command in ["enrich", "check", "sandbox", "encrypt"] {
        let help = ran_with(tenure().args([command, "--help"]), 0).stdout;
        assert!(help.contains("Example"), "{command} --help: {help}");
    }
}

/// A bad flag names the flag and exits 2.
#[test]
fn bad_flags_exit_2_naming_the_flag() {
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(1));
    let out = dir.path().join("out.csv");
    for (flag, value) in [
        ("--qps", "0"),
        ("--max-age", "soon"),
        ("--concurrency", "0"),
        ("--delimiter", "ab"),
        ("--encoding", "latin1"),
        ("--endpoint", "ftp://example.com"),
        // Review findings: values that panicked, hung or silently misread.
        ("--timeout", "1e20"),
        ("--timeout", "0.000001"),
        ("--delimiter", "\""),
        ("--concurrency", "100000"),
        ("--backoff-cap", "100y"),
    ] {
        let ran = ran_with(
            tenure()
                .env("JUHE_KEY", "k")
                .arg("enrich")
                .arg(&input)
                .arg("-o")
                .arg(&out)
                .args([flag, value]),
            2,
        );
        assert!(ran.stderr.contains(flag), "{flag} {value}: {}", ran.stderr);
        assert!(!out.exists(), "{flag} {value}: nothing written");
    }
}

/// The key is never an argument: there is no flag that takes it. (Issue 9:
/// clap itself must refuse the flag; a missing input would exit 2 anyway.)
#[test]
fn there_is_no_key_flag() {
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(1));
    for flag in ["--key", "--openid"] {
        let ran = ran_with(
            tenure()
                .current_dir(dir.path())
                .arg("enrich")
                .arg(&input)
                .args(["-o", "out.csv", "--sandbox", flag, "secret"]),
            2,
        );
        assert!(
            ran.stderr
                .contains(&format!("unexpected argument '{flag}'")),
            "{}",
            ran.stderr
        );
    }
}

/// Review finding: mistakes in where results go are caught before any
/// request is paid for, not after.
#[test]
fn unwritable_destinations_fail_before_any_request() {
    let dir = tempdir();
    let sandbox = sandbox(tenure::sandbox::SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(5));
    let folder = dir.path().join("a-folder");
    std::fs::create_dir(&folder).expect("a folder");
    let ran = ran_with(&mut enrich(&sandbox, &input, &folder, &[]), 2);
    assert!(ran.stderr.contains("is a directory"), "{}", ran.stderr);
    let output = dir.path().join("out.csv");
    let summary = dir.path().join("no-such-folder").join("summary.json");
    let ran = ran_with(
        enrich(&sandbox, &input, &output, &["--summary-json"]).arg(&summary),
        2,
    );
    assert!(
        ran.stderr.contains("cannot write --summary-json"),
        "{}",
        ran.stderr
    );
    assert_eq!(sandbox.stats().requests, 0, "nothing was paid for");
    assert!(!output.exists());
}
