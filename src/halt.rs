//! Why a run ends before its input does, and what the person on call
//! should do about it (DESIGN §8 "Say what to do"): each halt has a stable
//! code for the summary JSON (`stopped`), the API's code where there is one
//! (`stopped_code`), and a message that names the cause and the fix in
//! English, then the API's own reason.
//!
//! Pure: no I/O. The pipeline decides *that* a run halts; this module says
//! what it means.

use std::fmt;

use crate::api::{Failure, FailureKind};
use crate::exit::Error;

/// Why a run ended before its input did.
#[derive(Debug)]
pub enum Halt {
    /// A fatal answer: no request could succeed.
    Fatal(Failure),
    /// Many numbers in a row ran out of retries: the API looks down.
    LooksDown { numbers: u32, last: Failure },
    /// The first answers were all `224804 参数错误`: the request, not the
    /// numbers, is wrong (under `--encrypt`, the openid).
    Refused,
    /// 10011s went on after the slow-down reached its floor.
    Throttled { last: Failure },
    /// SIGINT or SIGTERM.
    Interrupted,
    /// An error ended the run: unreadable input, unwritable output, a
    /// failing store.
    Failed(Error),
}

/// The stop reasons of the summary JSON's `stopped` field for a halted API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stopped {
    BadKey,
    BadOpenid,
    BadRequests,
    Quota,
    Maintenance,
    Throttled,
    ApiDown,
}

impl Stopped {
    pub fn as_str(self) -> &'static str {
        match self {
            Stopped::BadKey => "bad_key",
            Stopped::BadOpenid => "bad_openid",
            Stopped::BadRequests => "bad_requests",
            Stopped::Quota => "quota",
            Stopped::Maintenance => "maintenance",
            Stopped::Throttled => "throttled",
            Stopped::ApiDown => "api_down",
        }
    }
}

impl fmt::Display for Stopped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Halt {
    /// What stopped the API's side of the run; `None` for an interrupt or
    /// an error. `encrypted`: the run used `--encrypt`.
    pub fn stopped(&self, encrypted: bool) -> Option<Stopped> {
        Some(match self {
            Halt::Fatal(failure) => match failure.kind {
                FailureKind::Api(10001 | 10002 | 10003 | 10005 | 10009) => Stopped::BadKey,
                FailureKind::Api(10004) => Stopped::BadOpenid,
                FailureKind::Api(10012 | 10013) => Stopped::Quota,
                FailureKind::Api(10020 | 10021) => Stopped::Maintenance,
                _ => Stopped::BadRequests,
            },
            Halt::Refused if encrypted => Stopped::BadOpenid,
            Halt::Refused => Stopped::BadRequests,
            Halt::Throttled { .. } => Stopped::Throttled,
            Halt::LooksDown { .. } => Stopped::ApiDown,
            Halt::Interrupted | Halt::Failed(_) => return None,
        })
    }

    /// The API's code behind the halt, if there is one.
    pub fn api_code(&self) -> Option<i64> {
        match self {
            Halt::Fatal(failure)
            | Halt::Throttled { last: failure }
            | Halt::LooksDown { last: failure, .. } => match failure.kind {
                FailureKind::Api(code) => Some(code),
                _ => None,
            },
            Halt::Refused => Some(crate::pipeline::BAD_PARAMETER),
            Halt::Interrupted | Halt::Failed(_) => None,
        }
    }

    /// The cause and the fix in English, then the API's own reason.
    pub fn advice(&self, encrypted: bool) -> String {
        let reason = |failure: &Failure| format!("(the API said: {failure})");
        match (self, self.stopped(encrypted)) {
            (Halt::Fatal(failure), Some(Stopped::BadKey)) => format!(
                "the API refused the key: check JUHE_KEY or --key-file (is the key for the \
                 手机在网时长 API, and still valid?) {}",
                reason(failure)
            ),
            (Halt::Fatal(failure), Some(Stopped::BadOpenid)) => format!(
                "the API refused the openid: check JUHE_OPENID or --openid-file (your openid \
                 is in the Juhe personal centre) {}",
                reason(failure)
            ),
            (Halt::Fatal(failure), Some(Stopped::Quota)) => format!(
                "the key's quota is used up: buy more requests or wait until the quota \
                 renews; a rerun before then cannot succeed {}",
                reason(failure)
            ),
            (Halt::Fatal(failure), Some(Stopped::Maintenance)) => format!(
                "the API is under maintenance or retired: try again later, and check Juhe's \
                 notices {}",
                reason(failure)
            ),
            (Halt::Fatal(failure), _) => format!(
                "the API refuses every request from here: check --endpoint, any proxy, and \
                 that this machine's IP address is allowed for the key {}",
                reason(failure)
            ),
            (Halt::Refused, Some(Stopped::BadOpenid)) => format!(
                "every answer was {} 参数错误, which under --encrypt means the numbers were \
                 encrypted with the wrong openid: check JUHE_OPENID or --openid-file",
                crate::pipeline::BAD_PARAMETER
            ),
            (Halt::Refused, _) => format!(
                "every answer was {} 参数错误: the API cannot read the requests; check \
                 --endpoint and any proxy between here and the API",
                crate::pipeline::BAD_PARAMETER
            ),
            (Halt::Throttled { last }, _) => format!(
                "the API kept answering 10011 (too many requests from this IP) even at a \
                 sixteenth of the rate: lower --qps, or check whether another job uses the \
                 same key {}",
                reason(last)
            ),
            (Halt::LooksDown { numbers, last }, _) => format!(
                "the API looks down: {numbers} numbers in a row ran out of retries; rerun \
                 later {}",
                reason(last)
            ),
            (Halt::Interrupted, _) => "interrupted".to_owned(),
            (Halt::Failed(err), _) => err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fatal(code: i64, reason: &str) -> Halt {
        Halt::Fatal(Failure {
            kind: FailureKind::Api(code),
            message: reason.to_owned(),
        })
    }

    #[test]
    fn every_stop_has_its_code_and_names_the_fix() {
        let cases: Vec<(Halt, bool, &str, &str)> = vec![
            (fatal(10001, "错误的请求KEY"), false, "bad_key", "JUHE_KEY"),
            (
                fatal(10004, "错误的OPENID"),
                true,
                "bad_openid",
                "JUHE_OPENID",
            ),
            (
                fatal(10012, "请求超过次数限制"),
                false,
                "quota",
                "quota is used up",
            ),
            (fatal(10013, "测试KEY超过请求限制"), false, "quota", "quota"),
            (
                fatal(10020, "接口维护"),
                false,
                "maintenance",
                "maintenance",
            ),
            (
                fatal(10008, "被禁止的IP"),
                false,
                "bad_requests",
                "IP address",
            ),
            (Halt::Refused, true, "bad_openid", "--openid-file"),
            (Halt::Refused, false, "bad_requests", "--endpoint"),
            (
                Halt::Throttled {
                    last: Failure {
                        kind: FailureKind::Api(10011),
                        message: "当前IP请求超过限制".into(),
                    },
                },
                false,
                "throttled",
                "lower --qps",
            ),
            (
                Halt::LooksDown {
                    numbers: 20,
                    last: Failure {
                        kind: FailureKind::Timeout,
                        message: "timed out".into(),
                    },
                },
                false,
                "api_down",
                "looks down",
            ),
        ];
        for (halt, encrypted, code, fix) in cases {
            let stopped = halt.stopped(encrypted).map(Stopped::as_str);
            assert_eq!(stopped, Some(code), "{halt:?}");
            let advice = halt.advice(encrypted);
            assert!(advice.contains(fix), "{halt:?}: {advice}");
            assert!(!advice.contains("rerun the same command"), "{advice}");
        }
        assert_eq!(fatal(10012, "x").api_code(), Some(10012));
        assert_eq!(Halt::Interrupted.stopped(false), None);
    }

    #[test]
    fn the_api_reason_follows_the_english() {
        let advice = fatal(10001, "错误的请求KEY").advice(false);
        let english = advice.find("JUHE_KEY").expect("names the variable");
        let reason = advice.find("错误的请求KEY").expect("quotes the API");
        assert!(english < reason, "{advice}");
    }
}
