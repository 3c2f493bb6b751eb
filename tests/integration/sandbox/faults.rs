//! The faults it injects, each as a client meets it: 224805, HTTP 500 and
//! 503, dropped connections, garbage bodies, an exhausted quota, the rate
//! limit, scripts, latency, and the seed that makes them reproducible.

use std::time::{Duration, Instant};

use serde_json::Value;
use tenure::sandbox::DEFAULT_KEY;

use super::{QUERY, Served, body_json, error_body, error_code, expected_plain, json};
use crate::common::answered_numbers;

#[test]
fn injects_transient_224805() {
    let served = Served::start(&["--p-224805", "1.0"]);
    for number in answered_numbers(5) {
        assert_eq!(served.ask(&number), error_body(224805));
    }
    let stats = served.stats();
    assert_eq!((stats.billed, stats.codes["224805"]), (0, 5));
}

#[test]
fn injects_http_500_and_503() {
    for (flag, status) in [("--p-500", 500), ("--p-503", 503)] {
        let served = Served::start(&[flag, "1"]);
        let response = served
            .post(QUERY, &[("key", DEFAULT_KEY), ("mobile", "13800138000")])
            .expect("an HTTP error is still an answer");
        assert_eq!(response.status(), status);
        let body = response.text().expect("the error page is text");
        assert!(
            body.contains(&status.to_string()) && body.contains("<html>"),
            "{body}"
        );
        let stats = served.stats();
        assert_eq!(
            (stats.billed, stats.codes[&format!("http_{status}")]),
            (0, 1)
        );
    }
}

#[test]
fn a_dropped_connection_is_a_transport_error() {
    let served = Served::start(&["--p-drop", "1"]);
    for number in answered_numbers(3) {
        let error = served
            .post(QUERY, &[("key", DEFAULT_KEY), ("mobile", &number)])
            .expect_err("no answer at all");
        assert!(!error.is_status() && !error.is_timeout(), "{error:?}");
    }
    let stats = served.stats();
    assert_eq!((stats.billed, stats.codes["drop"]), (0, 3));
}

#[test]
fn garbage_bodies_are_not_the_json_envelope() {
    let served = Served::start(&["--p-garbage", "1"]);
    let mut kinds = std::collections::BTreeSet::new();
    for number in answered_numbers(30) {
        let response = served
            .post(QUERY, &[("key", DEFAULT_KEY), ("mobile", &number)])
            .expect("garbage is still an answer");
        assert_eq!(response.status(), 200);
        let body = response.text().expect("the body is text");
        assert!(serde_json::from_str::<Value>(&body).is_err(), "{body:?}");
        kinds.insert(match body.as_str() {
            "" => "empty",
            html if html.contains("<html>") => "html",
            _ => "truncated",
        });
    }
    assert_eq!(kinds.len(), 3, "all three kinds over 30 numbers: {kinds:?}");
    assert_eq!(served.stats().billed, 0);
}

#[test]
fn the_quota_runs_out_after_billed_answers() {
    let served = Served::start(&["--quota", "3", "--script", "13900139000=224805"]);
    // Free answers use no quota.
    assert_eq!(error_code(&served.ask("13900139000")), 224805);
    assert_eq!(error_code(&served.ask("13800000041")), 224801);
    for number in answered_numbers(3) {
        assert_eq!(served.ask(&number), expected_plain(&number));
    }
    let exhausted = served.ask("13800138000");
    assert_eq!(
        exhausted,
        serde_json::json!({"reason": "请求超过次数限制", "result": null, "error_code": 10012, "resultcode": "112"})
    );
    assert_eq!(
        error_code(&served.ask("13900139000")),
        10012,
        "every request now"
    );
    let stats = served.stats();
    assert_eq!((stats.billed, stats.codes["10012"]), (3, 2));
}

#[test]
fn the_rate_limit_refuses_requests_beyond_it_in_the_trailing_second() {
    let limit = 5;
    let served = Served::start(&["--rate-limit", &limit.to_string()]);
    let answers: Vec<i64> = (0..12)
        .map(|_| error_code(&served.ask("13800138000")))
        .collect();
    let stats = served.stats();
    // What the sandbox must have refused follows from when requests arrived.
    let arrivals = &stats.arrivals_us;
    let expected: Vec<i64> = (0..arrivals.len())
        .map(|i| {
            let in_window = arrivals[..=i]
                .iter()
                .filter(|&&t| arrivals[i] - t < 1_000_000)
                .count();
            if in_window > limit { 10011 } else { 0 }
        })
        .collect();
    assert_eq!(answers, expected, "arrivals {arrivals:?}");
    assert!(
        answers.contains(&10011),
        "12 requests on loopback take less than a second"
    );
    assert_eq!(&answers[..limit], [0; 5]);
    std::thread::sleep(Duration::from_millis(1_100));
    assert_eq!(error_code(&served.ask("13800138000")), 0, "a second later");
    let refused = served.stats().codes["10011"];
    assert!(refused >= 1 && refused == expected.iter().filter(|&&c| c == 10011).count() as u64);
}

#[test]
fn scripts_play_in_order_then_the_normal_answer_returns() {
    let served = Served::start(&[
        "--script",
        "13800138000=224805,224805,ok",
        "--script",
        "13900139000=http_500,drop,garbage,ok",
        "--script",
        "13700137000=224805*",
        "--script",
        "18600000000=224808,10014",
    ]);
    let codes: Vec<i64> = (0..4)
        .map(|_| error_code(&served.ask("13800138000")))
        .collect();
    assert_eq!(codes, [224805, 224805, 0, 0]);

    let form = [("key", DEFAULT_KEY), ("mobile", "13900139000")];
    let first = served.post(QUERY, &form).expect("an HTTP 500 is an answer");
    assert_eq!(first.status(), 500);
    assert!(served.post(QUERY, &form).is_err(), "dropped");
    let garbage = served.post(QUERY, &form).expect("garbage is an answer");
    assert!(serde_json::from_str::<Value>(&garbage.text().expect("text")).is_err());
    assert_eq!(
        json(served.post(QUERY, &form)),
        expected_plain("13900139000")
    );

    for _ in 0..5 {
        assert_eq!(served.ask("13700137000"), error_body(224805));
    }
    assert_eq!(served.ask("18600000000"), error_body(224808));
    assert_eq!(error_code(&served.ask("18600000000")), 10014);
    assert_eq!(served.ask("18600000000"), expected_plain("18600000000"));

    let stats = served.stats();
    let per_number = |n: &str| (stats.numbers[n].requests, stats.numbers[n].billed);
    assert_eq!(
        per_number("13800138000"),
        (4, 2),
        "asked twice after success: billed twice"
    );
    assert_eq!(per_number("13900139000"), (4, 1));
    assert_eq!(per_number("13700137000"), (5, 0));
    assert_eq!(per_number("18600000000"), (3, 1));
    assert_eq!(stats.billed, 4);
    assert_eq!(stats.requests, 16);
}

#[test]
fn faults_are_reproducible_from_the_seed() {
    let run = |seed: &str| {
        let served = Served::start(&[
            "--p-224805",
            "0.3",
            "--p-503",
            "0.2",
            "--p-drop",
            "0.1",
            "--seed",
            seed,
        ]);
        let numbers = answered_numbers(10);
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            for number in &numbers {
                let outcome = match served.post(QUERY, &[("key", DEFAULT_KEY), ("mobile", number)])
                {
                    Err(_) => "drop".to_owned(),
                    Ok(r) if r.status() != 200 => r.status().to_string(),
                    Ok(r) => error_code(&body_json(r)).to_string(),
                };
                outcomes.push(outcome);
            }
        }
        (outcomes, served.stats().codes)
    };
    let (first, codes) = run("42");
    assert_eq!(run("42").0, first);
    assert_ne!(run("43").0, first);
    for kind in ["0", "224805", "http_503", "drop"] {
        assert!(codes.contains_key(kind), "{kind} in 30 draws: {codes:?}");
    }
}

#[test]
fn latency_delays_every_answer() {
    let served = Served::start(&["--latency-ms", "150", "--jitter-ms", "50"]);
    for _ in 0..3 {
        let started = Instant::now();
        assert_eq!(error_code(&served.ask("13800138000")), 0);
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{:?}",
            started.elapsed()
        );
    }
}
