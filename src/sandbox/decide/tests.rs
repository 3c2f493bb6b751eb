//! Tests of `decide`.
use super::*;
use crate::sandbox::cipher;
use crate::sandbox::script::parse_script;
use serde_json::Value;
use std::time::Instant;

/// Asks `query` with the right key, counting as the server does.
struct Harness {
    config: SandboxConfig,
    decryptor: Decryptor,
    ledger: Ledger,
}

impl Harness {
    fn new(config: SandboxConfig) -> Self {
        Harness {
            decryptor: Decryptor::for_openid(&config.openid),
            ledger: Ledger::new(Instant::now(), config.seed, 7),
            config,
        }
    }

    fn ask_with(&mut self, route: Route, key: Option<&str>, mobile: Option<&str>) -> Reply {
        let query = Query {
            route,
            key,
            mobile,
            raw: "key=...&mobile=...",
        };
        let (reply, counted) = decide(&self.config, &self.decryptor, &self.ledger, &query, false);
        self.ledger.record(&counted);
        reply
    }

    fn ask(&mut self, number: &str) -> Reply {
        let key = self.config.key.clone();
        self.ask_with(Route::Query, Some(&key), Some(number))
    }
}

fn api(code: i64) -> Reply {
    Reply::Json(envelope::error(code))
}

fn normal(number: &str) -> Reply {
    let answer = answer_at(number, 0).expect("the test number has a record");
    Reply::Json(envelope::success(Route::Query, number, &answer, ""))
}

fn json(reply: &Reply) -> Value {
    match reply {
        Reply::Json(body) => serde_json::from_str(body).expect("the envelope is JSON"),
        other => panic!("not an envelope: {other:?}"),
    }
}

#[test]
fn checks_key_then_number() {
    let mut sandbox = Harness::new(SandboxConfig::default());
    assert_eq!(
        sandbox.ask_with(Route::Query, None, Some("13800138000")),
        api(10001)
    );
    assert_eq!(
        sandbox.ask_with(Route::Query, Some("nope"), Some("x")),
        api(10001)
    );
    assert_eq!(sandbox.ask("1380013800"), api(224804));
    assert_eq!(
        sandbox.ask_with(Route::Query, Some("sandbox-key"), None),
        api(224804)
    );
    assert_eq!(sandbox.ask("13800138000"), normal("13800138000"));
    let stats = sandbox.ledger.stats();
    assert_eq!((stats.billed, stats.numbers.len()), (1, 1));
    assert!(
        stats.orderids.is_empty(),
        "the plain endpoint has no orderid"
    );
}

#[test]
fn decrypts_query_encry_and_gives_each_billed_answer_its_orderid() {
    let mut sandbox = Harness::new(SandboxConfig::default());
    let ciphertext = cipher::encrypt(&sandbox.config.openid, "13800138000");
    let answers: Vec<Value> = (0..2)
        .map(|_| json(&sandbox.ask_with(Route::QueryEncry, Some("sandbox-key"), Some(&ciphertext))))
        .collect();
    let answer = answer_at("13800138000", 0).expect("13800138000 has a record");
    for got in &answers {
        assert_eq!(got["error_code"], 0);
        assert_eq!(got["result"]["code"], answer.code);
        assert_eq!(got["result"]["city"], answer.city);
    }
    let issued = &sandbox.ledger.stats().orderids["13800138000"];
    assert_eq!(issued.len(), 2);
    assert_eq!(answers[0]["result"]["orderid"], issued[0].as_str());
    assert_eq!(answers[1]["result"]["orderid"], issued[1].as_str());
    assert_ne!(issued[0], issued[1], "each billed query has its own");

    let reply = sandbox.ask_with(Route::QueryEncry, Some("sandbox-key"), Some("13800138000"));
    assert_eq!(reply, api(224804));
    let other = cipher::encrypt("someone-else", "13800138000");
    let reply = sandbox.ask_with(Route::QueryEncry, Some("sandbox-key"), Some(&other));
    assert_eq!(reply, api(224804));
    let stats = sandbox.ledger.stats();
    assert_eq!((stats.billed, stats.plaintext_on_encrypted), (2, 1));
}

#[test]
fn answers_at_the_configured_epoch() {
    // A number whose answer moves between epochs 0 and 3.
    let number = (0..)
        .map(|i| format!("1380000{i:04}"))
        .find(|n| answer_at(n, 0).is_ok() && answer_at(n, 0) != answer_at(n, 3))
        .expect("some number changes within three epochs");
    let mut sandbox = Harness::new(SandboxConfig {
        epoch: 3,
        ..SandboxConfig::default()
    });
    let moved = answer_at(&number, 3).expect("a record stays a record");
    let expected = envelope::success(Route::Query, &number, &moved, "");
    assert_eq!(sandbox.ask(&number), Reply::Json(expected));
}

#[test]
fn quota_runs_out_after_billed_answers_only() {
    let mut sandbox = Harness::new(SandboxConfig {
        quota: Some(2),
        scripts: [parse_script("13900139000=224805,ok").expect("valid script")].into(),
        ..SandboxConfig::default()
    });
    assert_eq!(sandbox.ask("13900139000"), api(224805));
    assert_eq!(sandbox.ask("13900139000"), normal("13900139000"));
    assert_eq!(sandbox.ask("13800138000"), normal("13800138000"));
    assert_eq!(sandbox.ask("13700137000"), api(10012));
    assert_eq!(sandbox.ledger.stats().billed, 2);
}

#[test]
fn scripts_run_then_the_normal_answer_returns() {
    let script = "13900139000=http_500,drop,garbage,224801,echo,huge,ok";
    let mut sandbox = Harness::new(SandboxConfig {
        p_retry: 1.0,
        scripts: [parse_script(script).expect("valid script")].into(),
        ..SandboxConfig::default()
    });
    let replies: Vec<Reply> = (0..8).map(|_| sandbox.ask("13900139000")).collect();
    assert_eq!(replies[0], Reply::Http(500));
    assert_eq!(replies[1], Reply::Drop);
    assert!(matches!(replies[2], Reply::Garbage { .. }));
    assert_eq!(replies[3], api(224801));
    assert_eq!(
        json(&replies[4]),
        serde_json::json!({"reason": "key=...&mobile=...", "result": null, "error_code": 224808})
    );
    assert_eq!(replies[5], Reply::Huge);
    assert_eq!(
        replies[6],
        normal("13900139000"),
        "the script overrides p_retry"
    );
    assert_eq!(replies[7], api(224805), "then p_retry = 1 applies again");
    let stats = sandbox.ledger.stats();
    assert_eq!(
        stats.codes.keys().collect::<Vec<_>>(),
        [
            "0", "224801", "224805", "drop", "echo", "garbage", "http_500", "huge"
        ]
    );
    assert_eq!(stats.billed, 1, "echo and huge are not billed");
}

#[test]
fn faults_follow_their_probabilities_and_the_seed() {
    let faults = |seed| {
        let mut sandbox = Harness::new(SandboxConfig {
            p_retry: 0.1,
            p_http_500: 0.1,
            p_http_503: 0.1,
            p_drop: 0.1,
            p_garbage: 0.1,
            seed,
            ..SandboxConfig::default()
        });
        for i in 0..5_000u32 {
            sandbox.ask(&format!("138{:08}", i % 1_000));
        }
        sandbox.ledger.stats().codes.clone()
    };
    let codes = faults(1);
    for kind in ["224805", "http_500", "http_503", "drop", "garbage"] {
        let count = codes[kind];
        assert!(
            (400..=600).contains(&count),
            "{kind}: {count} of 5000 ({codes:?})"
        );
    }
    assert_eq!(codes, faults(1), "the same seed gives the same faults");
    assert_ne!(codes, faults(2));
}
