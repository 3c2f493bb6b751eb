//! How the backends store values that are not plain text or numbers: an
//! answer as its kind and columns, an endpoint by name, a run's demand as a
//! finite number; and the change an imported answer records. The same on
//! both backends, so their tables match.

use crate::api::{Answer, Endpoint, Tenure};
use crate::change::Change;
use std::borrow::Cow;

/// `kind` of an [`Answer::Tenure`].
const KIND_TENURE: i64 = 0;
/// `kind` of an [`Answer::Declined`].
const KIND_DECLINED: i64 = 1;
/// `kind` of an [`Answer::BilledWithoutCode`] (a version-1 store kept these
/// as a declined `bad_response`, which reads back the same).
const KIND_BILLED_WITHOUT_CODE: i64 = 2;

/// The columns of an answer: kind, code, desc, province, city, isp, reason.
pub(super) fn columns(answer: &Answer) -> (i64, Cow<'_, str>, &str, &str, &str, &str, &str) {
    match answer {
        Answer::Tenure(Tenure {
            code,
            desc,
            province,
            city,
            isp,
        }) => (
            KIND_TENURE,
            Cow::Borrowed(code),
            desc,
            province,
            city,
            isp,
            "",
        ),
        Answer::Declined { code, reason } => (
            KIND_DECLINED,
            Cow::Owned(code.to_string()),
            "",
            "",
            "",
            "",
            reason,
        ),
        Answer::BilledWithoutCode { reason } => (
            KIND_BILLED_WITHOUT_CODE,
            Cow::Borrowed(crate::api::BILLED_WITHOUT_CODE),
            "",
            "",
            "",
            "",
            reason,
        ),
    }
}

/// The answer of stored columns; `None` for an unknown kind.
pub(super) fn answer(
    kind: i64,
    code: String,
    desc: String,
    province: String,
    city: String,
    isp: String,
    reason: String,
) -> Option<Answer> {
    match kind {
        KIND_TENURE => Some(Answer::Tenure(Tenure {
            code,
            desc,
            province,
            city,
            isp,
        })),
        // Version 1 kept a billed answer without a tenure code this way.
        KIND_DECLINED | KIND_BILLED_WITHOUT_CODE if code == crate::api::BILLED_WITHOUT_CODE => {
            Some(Answer::BilledWithoutCode { reason })
        }
        KIND_DECLINED => code
            .parse()
            .ok()
            .map(|code| Answer::Declined { code, reason }),
        _ => None,
    }
}

/// The stored text of an endpoint.
pub(super) fn endpoint_name(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Plain => "query",
        Endpoint::Encrypted => "queryEncry",
    }
}

/// The change an imported answer records: against the target's latest
/// success before it, `new` when there is none; none for a row answer.
pub(super) fn imported_change(previous: Option<&Tenure>, answer: &Answer) -> Option<Change> {
    answer
        .tenure()
        .map(|tenure| Change::compare(previous, tenure))
}

/// Demand as stored: a finite number (∞ is kept as this, and read back as ∞).
const SATURATED: f64 = 1e12;

pub(super) fn demand_to_db(demand: f64) -> f64 {
    if demand.is_nan() {
        0.0
    } else {
        demand.clamp(0.0, SATURATED)
    }
}

pub(super) fn demand_from_db(demand: f64) -> f64 {
    if demand >= SATURATED {
        f64::INFINITY
    } else {
        demand
    }
}
