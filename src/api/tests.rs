//! Tests of `api`.
use super::*;

fn envelope(code: i64, reason: &str) -> Vec<u8> {
    format!(r#"{{"reason":"{reason}","result":null,"error_code":{code}}}"#).into_bytes()
}

fn class(verdict: &Verdict) -> &'static str {
    match verdict {
        Verdict::Final(Reply {
            answer: Answer::Tenure(_),
            ..
        }) => "success",
        Verdict::Final(Reply {
            answer: Answer::Declined { .. } | Answer::BilledWithoutCode { .. },
            ..
        }) => "row",
        Verdict::Retry(_) => "retry",
        Verdict::SlowDown(_) => "slow",
        Verdict::Fatal(_) => "fatal",
    }
}

#[test]
fn the_vendor_examples_are_successes() {
    let query = r#"{"reason":"成功","result":{"idnum":"","name":"","mobile":"158568696583",
        "res":1,"code":"3","desc":"(24,+)","province":"江苏","city":"苏州","isp":"移动"},"error_code":0}"#;
    let expected = Tenure {
        code: "3".into(),
        desc: "(24,+)".into(),
        province: "江苏".into(),
        city: "苏州".into(),
        isp: "移动".into(),
    };
    assert_eq!(
        classify_response(200, query.as_bytes()),
        Verdict::Final(Reply {
            answer: Answer::Tenure(expected),
            orderid: None
        })
    );
    let encry = r#"{"reason":"成功 ","result":{"code":"3","desc":"(24,+)","province":"北京市",
        "city":"北京市","isp":"移动","orderid":"JH248118112011355227447293"},"error_code":0}"#;
    let Verdict::Final(reply) = classify_response(200, encry.as_bytes()) else {
        panic!("the encrypted example is a success");
    };
    assert!(reply.answer.is_billed());
    assert_eq!(reply.orderid.as_deref(), Some("JH248118112011355227447293"));
}

#[test]
fn tenure_codes_keep_leading_zeros_and_fill_a_missing_desc() {
    for (code, desc) in TENURE_CODES {
        let body = format!(
            r#"{{"reason":"成功","result":{{"code":"{code}","province":"","city":"","isp":""}},"error_code":0}}"#
        );
        let Verdict::Final(Reply {
            answer: Answer::Tenure(tenure),
            ..
        }) = classify_response(200, body.as_bytes())
        else {
            panic!("code {code} is a success");
        };
        assert_eq!((tenure.code.as_str(), tenure.desc.as_str()), (code, desc));
    }
    let unknown = r#"{"reason":"成功","result":{"code":"7","desc":"新编码"},"error_code":0}"#;
    let Verdict::Final(Reply {
        answer: Answer::Tenure(tenure),
        ..
    }) = classify_response(200, unknown.as_bytes())
    else {
        panic!("an unknown code is still a success");
    };
    assert_eq!(
        (tenure.code.as_str(), tenure.desc.as_str()),
        ("7", "新编码")
    );
}

#[test]
fn every_documented_code_has_its_class() {
    let table: &[(i64, &str)] = &[
        (224801, "row"),
        (224804, "row"),
        (224805, "retry"),
        (224808, "row"),
        (224899, "row"),
        (10001, "fatal"),
        (10002, "fatal"),
        (10003, "fatal"),
        (10004, "fatal"),
        (10005, "fatal"),
        (10007, "fatal"),
        (10008, "fatal"),
        (10009, "fatal"),
        (10011, "slow"),
        (10012, "fatal"),
        (10013, "fatal"),
        (10014, "retry"),
        (10020, "fatal"),
        (10021, "fatal"),
        (10099, "fatal"),
        (100201, "fatal"),
        (9999, "row"),
        (200201, "row"),
        (1, "row"),
        (-1, "row"),
    ];
    for &(code, expected) in table {
        let verdict = classify_response(200, &envelope(code, "原因"));
        assert_eq!(class(&verdict), expected, "error_code {code}");
    }
}

#[test]
fn row_answers_and_failures_carry_the_api_reason() {
    assert_eq!(
        classify_response(200, &envelope(224801, "查询无此记录")),
        Verdict::Final(Reply {
            answer: Answer::Declined {
                code: 224801,
                reason: "查询无此记录".into()
            },
            orderid: None
        })
    );
    let Verdict::Fatal(failure) = classify_response(200, &envelope(10001, "错误的请求KEY"))
    else {
        panic!("10001 is fatal");
    };
    assert_eq!(failure.kind.to_string(), "10001");
    assert_eq!(failure.message, "错误的请求KEY");
}

#[test]
fn the_envelope_is_read_leniently() {
    let bodies: &[(&str, &str)] = &[
        (r#"{"reason":"查询无此记录","error_code":224801}"#, "row"),
        (r#"{"reason":"x","result":"","error_code":224801}"#, "row"),
        (
            r#"{"reason":"x","result":"oops","error_code":10001,"resultcode":"101"}"#,
            "fatal",
        ),
        (
            r#"{"reason":"x","result":null,"error_code":"224805","extra":[1,2]}"#,
            "retry",
        ),
        (r#"{"error_code":10012}"#, "fatal"),
    ];
    for (body, expected) in bodies {
        assert_eq!(
            class(&classify_response(200, body.as_bytes())),
            *expected,
            "{body}"
        );
    }
}

#[test]
fn what_is_not_the_envelope_is_retried_as_bad_response() {
    let bodies: &[&[u8]] = &[
        b"",
        b"<html><body>502 Bad Gateway</body></html>",
        r#"{"reason":"成功","result":{"code":"3""#.as_bytes(),
        b"[1,2,3]",
        b"null",
        br#"{"reason":"no code"}"#,
        br#"{"reason":"x","error_code":true}"#,
        b"\xff\xfe garbage",
    ];
    for body in bodies {
        let verdict = classify_response(200, body);
        let Verdict::Retry(failure) = verdict else {
            panic!("{:?} is retried", String::from_utf8_lossy(body));
        };
        assert_eq!(failure.kind, FailureKind::BadResponse);
    }
}

#[test]
fn a_billed_success_without_a_code_is_final_not_retried() {
    let body = r#"{"reason":"成功","result":null,"error_code":0}"#;
    let Verdict::Final(reply) = classify_response(200, body.as_bytes()) else {
        panic!("a billed answer is final");
    };
    assert!(matches!(reply.answer, Answer::BilledWithoutCode { .. }));
    assert!(reply.answer.is_billed(), "error_code 0 is billed");
    let row = classify_response(200, &envelope(224801, "查询无此记录"));
    let Verdict::Final(row) = row else {
        panic!("224801 is final");
    };
    assert!(!row.answer.is_billed(), "a row answer is free");
}

#[test]
fn http_statuses_are_classified() {
    for status in [429, 500, 502, 503, 504] {
        let verdict = classify_response(status, b"busy");
        assert_eq!(class(&verdict), "retry", "HTTP {status}");
    }
    for status in [400, 401, 403, 404, 405] {
        let Verdict::Fatal(failure) = classify_response(status, b"no") else {
            panic!("HTTP {status} is fatal");
        };
        assert_eq!(failure.kind.to_string(), format!("http_{status}"));
    }
}

#[test]
fn transport_failures_are_retried() {
    let Verdict::Retry(timeout) = classify_transport(true, "timed out".into()) else {
        panic!("a timeout is retried");
    };
    assert_eq!(timeout.kind.to_string(), "timeout");
    let Verdict::Retry(reset) = classify_transport(false, "reset".into()) else {
        panic!("a reset is retried");
    };
    assert_eq!(reset.kind.to_string(), "network");
}
