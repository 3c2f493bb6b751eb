//! Issue 10: hostile input, hostile servers, clashing paths. Nothing lost,
//! nothing leaked, bounded memory.

use tenure::sandbox::SandboxConfig;

use crate::common::*;

#[test]
fn paths_that_clash_are_refused_before_anything_is_written() {
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(3));
    let before = std::fs::read(&input).expect("readable");
    std::fs::create_dir(dir.path().join("sub")).expect("a folder");
    let dotted = dir.path().join("sub").join("..").join("in.csv");
    let output = dir.path().join("out.csv");
    let cases: Vec<(&std::path::Path, Vec<String>, &str)> = vec![
        // -o is the input, spelled another way.
        (&dotted, vec![], "-o"),
        // The summary over the output.
        (
            &output,
            vec!["--summary-json".into(), output.display().to_string()],
            "--summary-json",
        ),
        // The store over the output.
        (
            &output,
            vec!["--cache".into(), output.display().to_string()],
            "-o",
        ),
        // The store over the input.
        (
            &output,
            vec!["--cache".into(), input.display().to_string()],
            "--cache",
        ),
    ];
    for (out, extra, named) in cases {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let ran = ran_with(&mut enrich(&sandbox, &input, out, &extra), 2);
        assert!(ran.stderr.contains(named), "names {named}: {}", ran.stderr);
        assert!(ran.stderr.contains("same file"), "{}", ran.stderr);
        assert_eq!(
            std::fs::read(&input).expect("readable"),
            before,
            "the input is intact"
        );
        // Not the output, nor the store the first two cases would use.
        assert!(!output.exists(), "nothing written at -o");
        assert!(!default_store().exists(), "no store made");
    }
    assert_eq!(sandbox.stats().requests, 0, "nothing was asked");
}

#[test]
fn an_endpoint_with_a_fragment_is_refused() {
    let ran = ran_with(
        tenure().env("JUHE_KEY", "k").args([
            "enrich",
            "in.csv",
            "-o",
            "out.csv",
            "--endpoint",
            "https://v.juhe.cn/#x",
        ]),
        2,
    );
    assert!(
        ran.stderr.contains("--endpoint") && ran.stderr.contains("fragment"),
        "{}",
        ran.stderr
    );
}

/// Issue 10 point 8: a wrong openid gets 224804 for every number; that is
/// the run's fault, not an answer.
#[test]
fn a_wrong_openid_stops_with_exit_4_and_names_the_variable_not_the_value() {
    const WRONG: &str = "JHwrong-openid-DO-NOT-LEAK";
    let dir = tempdir();
    let sandbox = sandbox(SandboxConfig::default());
    let input = numbers_csv(dir.path(), "in.csv", &answered_numbers(30));
    let output = dir.path().join("out.csv");
    let summary = dir.path().join("summary.json");
    let ran = ran_with(
        enrich(&sandbox, &input, &output, &["--encrypt", "--summary-json"])
            .arg(&summary)
            .env("JUHE_OPENID", WRONG),
        4,
    );
    assert!(ran.stderr.contains("JUHE_OPENID"), "{}", ran.stderr);
    assert!(
        !ran.stderr.contains(WRONG),
        "the openid leaked: {}",
        ran.stderr
    );
    assert!(!output.exists());
    let json = read_json(&summary);
    assert_eq!(
        (&json["stopped"], &json["stopped_code"]),
        (&"bad_openid".into(), &224804.into())
    );
    // Fewer than twenty numbers, all refused: the same at the end.
    let few = numbers_csv(dir.path(), "few.csv", &answered_numbers(3));
    let few_output = dir.path().join("few-out.csv");
    let ran = ran_with(
        enrich(&sandbox, &few, &few_output, &["--encrypt"]).env("JUHE_OPENID", WRONG),
        4,
    );
    assert!(ran.stderr.contains("--openid-file"), "{}", ran.stderr);
}

/// Without --encrypt, a batch of 224804s means the requests are wrong.
#[test]
fn a_batch_of_refusals_without_encrypt_is_bad_requests() {
    let dir = tempdir();
    let numbers = answered_numbers(3);
    let scripts: Vec<String> = numbers.iter().map(|n| format!("{n}=224804*")).collect();
    let sandbox = sandbox(scripted(&scripts));
    let input = numbers_csv(dir.path(), "in.csv", &numbers);
    let output = dir.path().join("out.csv");
    let summary = dir.path().join("summary.json");
    ran_with(
        enrich(&sandbox, &input, &output, &["--summary-json"]).arg(&summary),
        4,
    );
    assert_eq!(read_json(&summary)["stopped"], "bad_requests");
}
