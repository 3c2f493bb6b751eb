//! `tenure check`'s time estimate (issue 12, point 2): the model
//! `--concurrency auto` runs by, and a warning when a fixed concurrency
//! holds the rate below `--qps`.

use serde_json::Value;

use super::stdout_of;
use crate::common::*;

/// Issue 12, point 2: `check` estimates with the model `--concurrency
/// auto` runs by, and says when a fixed concurrency caps the rate below
/// --qps.
#[test]
fn check_estimates_time_with_the_concurrency_model() {
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(100));
    let check = |args: &[&str]| -> Value {
        stdout_json(
            tenure()
                .args(["check", path_str(&input), "--json"])
                .args(args),
        )
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    // The limiter's window is a second plus 20 ms of slack.
    let slack = 1000.0 / 1020.0;

    let default = check(&[]);
    assert_eq!(default["concurrency"], "auto");
    assert_eq!(default["latency_ms"], 150);
    assert_eq!(default["capped"], false);
    let rate = default["rate"].as_f64().expect("a rate");
    assert!(close(rate, 10.0 * slack), "{rate}");
    let secs = default["estimated_secs"].as_f64().expect("seconds");
    assert!(close(secs, 100.0 / rate), "{secs}");

    // Issue 12: --qps 500 with 8 in flight at 100 ms reached 77.7/s.
    let capped = check(&["--qps", "500", "--concurrency", "8", "--latency", "100ms"]);
    assert_eq!(capped["concurrency"], "8");
    assert_eq!(capped["capped"], true);
    assert!(close(capped["rate"].as_f64().expect("a rate"), 80.0));
    let secs = capped["estimated_secs"].as_f64().expect("seconds");
    assert!(close(secs, 100.0 / 80.0), "{secs}");
    let auto = check(&["--qps", "500", "--latency", "100ms"]);
    assert_eq!(auto["capped"], false);
    assert!(close(auto["rate"].as_f64().expect("a rate"), 500.0 * slack));
    // auto's ceiling: 256 in flight at 400 ms is 640/s.
    let ceiling = check(&["--qps", "1000", "--latency", "400ms"]);
    assert_eq!(ceiling["capped"], true);
    assert!(close(ceiling["rate"].as_f64().expect("a rate"), 640.0));

    let table = stdout_of(&[
        "check",
        path_str(&input),
        "--qps",
        "500",
        "--concurrency",
        "8",
        "--latency",
        "100ms",
    ]);
    assert!(table.contains("80.0 requests/s"), "{table}");
    assert!(
        table.contains("warning: --concurrency 8 holds the run to about 80.0 requests/s"),
        "{table}"
    );
    assert!(table.contains("--latency 100ms"), "{table}");
    let table = stdout_of(&["check", path_str(&input), "--qps", "500"]);
    assert!(!table.contains("warning"), "{table}");

    // Set in the environment, as for enrich.
    let report = stdout_json(
        tenure()
            .env("TENURE_CONCURRENCY", "8")
            .env("TENURE_LATENCY", "100ms")
            .args(["check", "--json", "--qps", "500", path_str(&input)]),
    );
    assert_eq!(report["capped"], true);
    ran_with(
        tenure().args(["check", path_str(&input), "--latency", "soon"]),
        2,
    );
}
