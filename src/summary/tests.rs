//! Tests of `summary`.
use super::*;
use crate::api::{Failure, FailureKind, Tenure};
use crate::exit::Exit;
use std::sync::Arc;

fn finished(number: Option<&str>, result: RowResult, via: Via) -> Finished {
    Finished {
        seq: 0,
        record: csv::ByteRecord::new(),
        number: number.map(|n| crate::number::parse(n).expect("valid")),
        result,
        via,
    }
}

#[test]
fn rows_are_counted_by_result_and_provenance() {
    let tenure = RowResult::Final(Arc::new(crate::row::Settled {
        answer: Answer::Tenure(Tenure {
            code: "3".into(),
            desc: "(24,+)".into(),
            province: "江苏".into(),
            city: "苏州".into(),
            isp: "移动".into(),
        }),
        change: Some(Change::New),
    }));
    let failed = RowResult::Failed(Failure {
        kind: FailureKind::Timeout,
        message: "timed out".into(),
    });
    let a = Some("13800138000");
    let b = Some("13900139000");
    let mut rows = Rows::default();
    rows.count(&finished(a, tenure.clone(), Via::Api));
    rows.count(&finished(a, tenure.clone(), Via::Duplicate));
    rows.count(&finished(a, tenure, Via::Store));
    rows.count(&finished(b, failed, Via::Api));
    let empty = crate::row::BadCell::Number(crate::number::Invalid::Empty);
    rows.count(&finished(None, RowResult::Invalid(empty), Via::Invalid));
    assert_eq!((rows.rows, rows.invalid, rows.failed), (5, 1, 1));
    assert_eq!((rows.from_store, rows.distinct()), (1, 2));
    assert_eq!(rows.tenure.get("3"), Some(&3));
    assert_eq!(rows.changes.get("new"), Some(&3));
    assert_eq!(rows.changes.get("new"), Some(&3));
    assert_eq!(rows.errors.get("timeout"), Some(&1));
    assert_eq!(rows.errors.get("invalid_number"), Some(&1));
    let facts = Facts {
        sandbox: true,
        ..Facts::default()
    };
    let summary = Summary::of_run(&facts, &rows, &Counters::default(), Exit::Partial, None);
    assert_eq!((summary.valid, summary.duplicate_rows), (4, 2));
    assert_eq!(summary.stopped, Some("failed"));
    assert!(summary.render().contains("SIMULATED"));
}

#[test]
fn an_error_summary_has_zero_counts_and_says_why() {
    let summary = Summary::of_error(&Facts::default(), Exit::Usage, "no key".into());
    let json = serde_json::to_value(&summary).expect("serialises");
    assert_eq!(json["schema"], 1);
    assert_eq!(json["exit_code"], 2);
    assert_eq!(json["stopped"], "usage");
    assert_eq!(json["rows"], 0);
    assert_eq!(json["message"], "no key");
    assert!(
        json["started_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
}
