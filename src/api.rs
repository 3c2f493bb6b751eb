//! The API contract (DESIGN §1): endpoints, the JSON envelope, the tenure
//! code table, and the classification of every outcome of a request into
//! what the tool does next.
//!
//! Pure: no I/O. The client hands it an HTTP status and a body, or a
//! transport failure; the pipeline acts on the [`Verdict`] it returns.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// The two endpoints under one base URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Endpoint {
    /// `/mobileOnline/query`: the number in clear.
    Plain,
    /// `/mobileOnline/queryEncry`: the number AES-encrypted (see `crypto`).
    Encrypted,
}

impl Endpoint {
    pub const fn path(self) -> &'static str {
        match self {
            Endpoint::Plain => "/mobileOnline/query",
            Endpoint::Encrypted => "/mobileOnline/queryEncry",
        }
    }
}

/// The tenure codes and their meaning, as the API documents them.
pub const TENURE_CODES: [(&str, &str); 6] = [
    ("03", "(0,3]"),
    ("04", "(3,6]"),
    ("1", "(6,12]"),
    ("2", "(12,24]"),
    ("3", "(24,+)"),
    ("99", "T-1月前已离网/手机状态异常"),
];

/// The documented `desc` of a tenure code, if the code is known.
pub fn tenure_desc(code: &str) -> Option<&'static str> {
    TENURE_CODES
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, desc)| *desc)
}

/// A billed, successful answer: how long the number has been in service
/// and where.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tenure {
    /// The API's `code`, as sent (`03`, `04`, `1`, `2`, `3`, `99`, or unknown).
    pub code: String,
    /// The API's `desc`, or the table's when the API sent none.
    pub desc: String,
    pub province: String,
    pub city: String,
    pub isp: String,
}

/// A final answer for a number: the only kind of outcome the store keeps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Answer {
    /// A billed success: the tenure and where.
    Tenure(Tenure),
    /// A row answer (224801, 224804, 224808, any unknown service code): the
    /// API's code and reason, final for that number, free.
    Declined { code: i64, reason: String },
    /// `error_code` 0, so billed, but no tenure code in the result: final,
    /// since asking again would pay again. Written as `bad_response`.
    BilledWithoutCode { reason: String },
}

impl Answer {
    /// Whether the API billed this answer (its `error_code` was 0).
    pub fn is_billed(&self) -> bool {
        match self {
            Answer::Tenure(_) | Answer::BilledWithoutCode { .. } => true,
            Answer::Declined { .. } => false,
        }
    }

    /// The tenure, for a success.
    pub fn tenure(&self) -> Option<&Tenure> {
        match self {
            Answer::Tenure(tenure) => Some(tenure),
            _ => None,
        }
    }
}

/// A final answer as it arrived: the answer, and the encrypted endpoint's
/// `orderid` (the vendor's serial number of a billed query), which is not
/// part of the answer's identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub answer: Answer,
    pub orderid: Option<String>,
}

/// Why a request gave no final answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    /// A short human sentence (the API's `reason` where there is one).
    /// Never holds the key or a whole number.
    pub message: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// An `error_code` from the API.
    Api(i64),
    Timeout,
    /// Connection refused, reset, dropped, DNS, TLS.
    Network,
    /// An HTTP status other than 200.
    Http(u16),
    /// A body that is not the JSON envelope.
    BadResponse,
}

/// The `error_code` column: the API's code, or `timeout`, `network`,
/// `http_<status>`, `bad_response`.
impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::Api(code) => write!(f, "{code}"),
            FailureKind::Timeout => f.write_str("timeout"),
            FailureKind::Network => f.write_str("network"),
            FailureKind::Http(status) => write!(f, "http_{status}"),
            FailureKind::BadResponse => f.write_str(BILLED_WITHOUT_CODE),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind)
    }
}

/// What to do after one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Final for the number: write it, store it, never ask again.
    Final(Reply),
    /// Transient: ask again after a backoff.
    Retry(Failure),
    /// `10011`: ask again, and lower the request rate for a while.
    SlowDown(Failure),
    /// No request can succeed (bad key, quota, maintenance, wrong endpoint):
    /// stop the whole batch.
    Fatal(Failure),
}

/// The `error_code` column of a body that is not the API's envelope, and of
/// an answer the API billed (error_code 0) but sent without a tenure code.
pub const BILLED_WITHOUT_CODE: &str = "bad_response";

/// System-level error codes (the document: a leading 1 is system level, in
/// its five-digit table and its six-digit format). No number escapes them:
/// key, openid, IP, quota, maintenance.
const SYSTEM_LEVEL: [std::ops::RangeInclusive<i64>; 2] = [10_000..=19_999, 100_000..=199_999];

impl Verdict {
    /// The same verdict with every text that came from the server passed
    /// through `clean` (see `redact`): reasons, messages and the tenure's
    /// fields.
    pub fn clean_texts(self, clean: impl Fn(&str) -> String) -> Verdict {
        let failure = |f: Failure| Failure {
            kind: f.kind,
            message: clean(&f.message),
        };
        match self {
            Verdict::Final(Reply { answer, orderid }) => Verdict::Final(Reply {
                answer: match answer {
                    Answer::Tenure(t) => Answer::Tenure(Tenure {
                        code: clean(&t.code),
                        desc: clean(&t.desc),
                        province: clean(&t.province),
                        city: clean(&t.city),
                        isp: clean(&t.isp),
                    }),
                    Answer::Declined { code, reason } => Answer::Declined {
                        code,
                        reason: clean(&reason),
                    },
                    Answer::BilledWithoutCode { reason } => Answer::BilledWithoutCode {
                        reason: clean(&reason),
                    },
                },
                orderid: orderid.map(|id| clean(&id)),
            }),
            Verdict::Retry(f) => Verdict::Retry(failure(f)),
            Verdict::SlowDown(f) => Verdict::SlowDown(failure(f)),
            Verdict::Fatal(f) => Verdict::Fatal(failure(f)),
        }
    }
}

/// The most of a body read: the real answer is under 1 KiB. A longer body
/// is not the API's (an error page, a hostile server) and is not buffered.
pub const MAX_BODY: usize = 64 * 1024;

/// Classifies an HTTP answer: its status and its body.
pub fn classify_response(status: u16, body: &[u8]) -> Verdict {
    match status {
        200..=299 => classify_body(body),
        429 | 500..=599 => Verdict::Retry(Failure {
            kind: FailureKind::Http(status),
            message: format!("the API answered HTTP {status}"),
        }),
        _ => Verdict::Fatal(Failure {
            kind: FailureKind::Http(status),
            message: format!(
                "the API answered HTTP {status}, which every request would get: \
                 check --endpoint and any proxy"
            ),
        }),
    }
}

/// Classifies a transport failure: no HTTP answer at all.
pub fn classify_transport(timed_out: bool, message: String) -> Verdict {
    let kind = if timed_out {
        FailureKind::Timeout
    } else {
        FailureKind::Network
    };
    Verdict::Retry(Failure { kind, message })
}

fn classify_body(body: &[u8]) -> Verdict {
    if body.len() > MAX_BODY {
        return Verdict::Retry(Failure {
            kind: FailureKind::BadResponse,
            message: format!(
                "the API sent a body of more than {} KiB, which is not its JSON envelope",
                MAX_BODY / 1024
            ),
        });
    }
    let Some(envelope) = Envelope::parse(body) else {
        return Verdict::Retry(Failure {
            kind: FailureKind::BadResponse,
            message: "the API sent a body that is not its JSON envelope".to_owned(),
        });
    };
    let code = envelope.error_code;
    let failure = || Failure {
        kind: FailureKind::Api(code),
        message: envelope.reason.clone(),
    };
    let reply = |answer| Reply {
        answer,
        orderid: envelope.text("orderid").filter(|id| !id.is_empty()),
    };
    match code {
        0 => Verdict::Final(reply(envelope.tenure().map_or_else(
            || Answer::BilledWithoutCode {
                reason: "the API reported success without a tenure code".to_owned(),
            },
            Answer::Tenure,
        ))),
        224805 | 10014 => Verdict::Retry(failure()),
        10011 => Verdict::SlowDown(failure()),
        _ if SYSTEM_LEVEL.iter().any(|range| range.contains(&code)) => Verdict::Fatal(failure()),
        _ => Verdict::Final(reply(Answer::Declined {
            code,
            reason: envelope.reason.clone(),
        })),
    }
}

/// The envelope every answer shares, read leniently: `result` may be null,
/// absent, a string or an object; `resultcode` and unknown fields are
/// ignored; `error_code` may arrive as a number or a numeric string.
struct Envelope {
    reason: String,
    error_code: i64,
    result: Value,
}

impl Envelope {
    fn parse(body: &[u8]) -> Option<Envelope> {
        let Value::Object(mut fields) = serde_json::from_slice(body).ok()? else {
            return None;
        };
        let error_code = match fields.get("error_code")? {
            Value::Number(n) => n.as_i64()?,
            Value::String(s) => s.trim().parse().ok()?,
            _ => return None,
        };
        let reason = match fields.get("reason") {
            Some(Value::String(s)) => s.trim().to_owned(),
            _ => String::new(),
        };
        let result = fields.remove("result").unwrap_or(Value::Null);
        Some(Envelope {
            reason,
            error_code,
            result,
        })
    }

    /// A text field of `result`, if `result` is an object that has it.
    fn text(&self, name: &str) -> Option<String> {
        match self.result.as_object()?.get(name) {
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    fn tenure(&self) -> Option<Tenure> {
        let code = self.text("code").filter(|c| !c.is_empty())?;
        let desc = self
            .text("desc")
            .filter(|d| !d.is_empty())
            .or_else(|| tenure_desc(&code).map(str::to_owned))
            .unwrap_or_default();
        Some(Tenure {
            code,
            desc,
            province: self.text("province").unwrap_or_default(),
            city: self.text("city").unwrap_or_default(),
            isp: self.text("isp").unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests;
