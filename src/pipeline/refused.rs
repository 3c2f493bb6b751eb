//! DESIGN §8 "A whole batch refused is not an answer": when the first
//! answers a run receives are all `224804 参数错误`, the fault is the
//! run's (a wrong openid under `--encrypt`, a request the API cannot read),
//! not the numbers'. The run stops rather than write, and store, a
//! refusal for every row.
//!
//! Pure: a count over the answers, in the order they arrive.

use crate::api::Answer;

/// How many first answers decide.
pub const FIRST_ANSWERS: u32 = 20;

/// The API's "参数错误" (bad parameter): the openid, the encryption, or the
/// request's form.
pub const BAD_PARAMETER: i64 = 224804;

/// Watches the first answers of a run.
#[derive(Debug, Default)]
pub struct RefusalWatch {
    /// Answers seen, up to `FIRST_ANSWERS`.
    seen: u32,
    /// An answer other than 224804 came among the first: never refused.
    cleared: bool,
}

impl RefusalWatch {
    /// Counts one answer from the API. True when this answer completes a
    /// batch of `FIRST_ANSWERS` refusals.
    pub fn observe(&mut self, answer: &Answer) -> bool {
        if self.cleared || self.seen >= FIRST_ANSWERS {
            return false;
        }
        if !matches!(
            answer,
            Answer::Declined {
                code: BAD_PARAMETER,
                ..
            }
        ) {
            self.cleared = true;
            return false;
        }
        self.seen += 1;
        self.seen == FIRST_ANSWERS
    }

    /// At the end of a run that received fewer answers: true when it
    /// received some and all were refusals.
    pub fn refused_at_end(&self) -> bool {
        !self.cleared && self.seen > 0 && self.seen < FIRST_ANSWERS
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Tenure;

    fn refusal() -> Answer {
        Answer::Declined {
            code: BAD_PARAMETER,
            reason: "参数错误".to_owned(),
        }
    }

    fn other(code: i64) -> Answer {
        Answer::Declined {
            code,
            reason: "查询无此记录".to_owned(),
        }
    }

    fn tenure() -> Answer {
        Answer::Tenure(Tenure {
            code: "3".into(),
            desc: "(24,+)".into(),
            province: "江苏".into(),
            city: "苏州".into(),
            isp: "移动".into(),
        })
    }

    /// (the answers in order, refused by the 20th, refused at the end)
    #[test]
    fn table() {
        let twenty = || vec![refusal(); FIRST_ANSWERS as usize];
        let mut late_success = twenty();
        late_success.push(tenure());
        let mut early_success = twenty();
        early_success.insert(3, tenure());
        let mut early_no_record = twenty();
        early_no_record.insert(0, other(224801));
        let cases: Vec<(&str, Vec<Answer>, bool, bool)> = vec![
            ("twenty refusals", twenty(), true, false),
            ("a success after the twentieth", late_success, true, false),
            ("a success among the first", early_success, false, false),
            (
                "another row answer among the first",
                early_no_record,
                false,
                false,
            ),
            (
                "three refusals, then the end",
                vec![refusal(); 3],
                false,
                true,
            ),
            ("no answer at all", vec![], false, false),
            ("one success", vec![tenure()], false, false),
        ];
        for (name, answers, by_twentieth, at_end) in cases {
            let mut watch = RefusalWatch::default();
            let fired = answers.iter().filter(|a| watch.observe(a)).count();
            assert_eq!(
                (fired == 1, watch.refused_at_end()),
                (by_twentieth, at_end),
                "{name}"
            );
            assert!(fired <= 1, "{name}: fires once");
        }
    }
}
