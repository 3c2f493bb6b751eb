//! The conventions of a command-line tool (issue 14, point 6): every enrich
//! flag from a `TENURE_…` variable, shell completions, man pages, and a
//! version that names the build.

use crate::common::*;

#[test]
fn every_enrich_flag_can_come_from_the_environment() {
    // Issue 14, point 6.
    let dir = tempdir();
    write(dir.path(), "in.txt", "x;13800138000\nx;abc\n");
    let out = dir.path().join("env-out.csv");
    let ran = ran_with(
        tenure()
            .current_dir(dir.path())
            .args(["enrich", "in.txt"])
            .env("TENURE_OUTPUT", "env-out.csv")
            .env("TENURE_SANDBOX", "true")
            .env("TENURE_NO_HEADERS", "1")
            .env("TENURE_DELIMITER", ";")
            .env("TENURE_COLUMN", "2")
            .env("TENURE_QPS", "500")
            .env("TENURE_NO_CACHE", "yes")
            .env("TENURE_EXCEL", "on")
            .env("TENURE_QUIET", "true"),
        0,
    );
    assert_eq!(ran.stderr, "", "TENURE_QUIET");
    let bytes = std::fs::read(&out).expect("TENURE_OUTPUT named the output");
    assert!(bytes.starts_with(UTF8_BOM), "TENURE_EXCEL");
    let text = String::from_utf8_lossy(&bytes[3..]).into_owned();
    let lines: Vec<&str> = text.split("\r\n").collect();
    assert!(lines[0].starts_with("x;13800138000;"), "{text}");
    assert!(lines[1].contains(";invalid_number;"), "{text}");
    assert!(!default_store().exists(), "TENURE_NO_CACHE");

    // The command line wins, and a false value is false.
    let check = |extra: &[&str]| {
        let mut command = tenure();
        command
            .current_dir(dir.path())
            .args(["check", "in.txt", "--delimiter", ";", "-c", "2", "--json"])
            .args(extra)
            .env("TENURE_DELIMITER", "|")
            .env("TENURE_NO_HEADERS", "false")
            .env("TENURE_QPS", "0");
        command
    };
    let ran = ran_with(&mut check(&[]), 2);
    assert!(
        ran.stderr.contains("invalid value '0' for '--qps"),
        "a bad value is named: {}",
        ran.stderr
    );
    let report = stdout_json(&mut check(&["--qps", "5"]));
    assert_eq!(report["rows"], 1, "the first line is the header: {report}");
    // --help shows them.
    let help = ran_with(tenure().args(["enrich", "--help"]), 0).stdout;
    assert!(help.contains("[env: TENURE_QPS=]"), "{help}");
    assert!(!help.contains("TENURE_KEY"), "no variable for a secret");
}

#[test]
fn completions_and_man_pages_are_generated() {
    for (shell, mark) in [
        ("bash", "_tenure()"),
        ("zsh", "#compdef tenure"),
        ("fish", "complete -c tenure"),
    ] {
        let script = ran_with(tenure().args(["completions", shell]), 0).stdout;
        assert!(script.contains(mark), "{shell}: {script}");
        assert!(
            script.contains("max-age"),
            "{shell} completes enrich's flags"
        );
    }
    // Refused because clap knows no such shell, not for any other reason.
    let ran = ran_with(tenure().args(["completions", "tcsh"]), 2);
    assert!(
        ran.stderr.contains("invalid value 'tcsh'"),
        "{}",
        ran.stderr
    );

    let page = ran_with(tenure().arg("manpage"), 0).stdout;
    assert!(page.contains(".TH tenure 1"), "{page}");
    assert!(page.contains("enrich"), "{page}");
    let dir = tempdir();
    let folder = dir.path().join("man1");
    ran_with(tenure().arg("manpage").arg(&folder), 0);
    for name in ["tenure.1", "tenure-enrich.1", "tenure-check.1"] {
        let page = std::fs::read_to_string(folder.join(name)).expect("the page is written");
        assert!(page.starts_with(".ie"), "{name} is roff");
    }
    let enrich = std::fs::read_to_string(folder.join("tenure-enrich.1")).expect("written");
    assert!(enrich.contains("TENURE_QPS") && enrich.contains("max\\-record\\-bytes"));
}

#[test]
fn version_names_the_build() {
    let ran = ran_with(tenure().arg("--version"), 0);
    let version = ran.stdout.trim();
    assert!(
        version.starts_with(&format!("tenure {}", env!("CARGO_PKG_VERSION"))),
        "{version}"
    );
    // Built from this checkout (as CI and developers build it): the commit.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "--short=10", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    if let Ok(head) = head
        && head.status.success()
    {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
        assert!(
            version.contains(&format!("({head} ")),
            "{version} names {head}"
        );
    }
}
