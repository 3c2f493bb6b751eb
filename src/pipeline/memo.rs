//! The run's memory of the answers it has read from the store: a number
//! that comes back in a later batch is answered here, without another
//! look-up (issue 11: a file of 1,000,000 rows holding 100,000 numbers
//! looked each number up about ten times).
//!
//! Bounded, so that memory stays flat on files of any size: at most
//! [`CAPACITY`] numbers (quick_cache's S3-FIFO keeps those that come back),
//! and the answers themselves are shared, since most numbers share one of a
//! few thousand (tenure, province, city, carrier) answers. An entry costs
//! the number, a pointer and the cache's own bookkeeping: about 40 bytes.
//!
//! Within a run a number keeps the answer its first row got: a later row is
//! not re-asked because the stored answer grew older than `--max-age` while
//! the run went on.

use std::collections::HashSet;
use std::sync::Arc;

use quick_cache::unsync::Cache;

use crate::number::Number;
use crate::row::Settled;

/// Numbers remembered: enough for the distinct numbers of a large nightly
/// file to come back without a look-up, about 10 MiB at most.
pub const CAPACITY: usize = 1 << 18;

/// Distinct answers shared before the table starts afresh: real answers
/// come from a few thousand (code, province, city, carrier) combinations.
const SHARED_ANSWERS: usize = 1 << 14;

pub(super) struct Memo {
    numbers: Cache<Number, Arc<Settled>>,
    answers: HashSet<Arc<Settled>>,
}

impl Memo {
    pub(super) fn new(capacity: usize) -> Memo {
        Memo {
            numbers: Cache::new(capacity.max(1)),
            answers: HashSet::new(),
        }
    }

    /// The answer a row of `number` got earlier in this run, if remembered.
    pub(super) fn get(&mut self, number: &Number) -> Option<Arc<Settled>> {
        self.numbers.get(number).cloned()
    }

    /// Remembers `settled` for `number`, sharing it with equal answers, and
    /// returns the shared answer.
    pub(super) fn remember(&mut self, number: Number, settled: Settled) -> Arc<Settled> {
        let shared = match self.answers.get(&settled) {
            Some(shared) => Arc::clone(shared),
            None => {
                if self.answers.len() >= SHARED_ANSWERS {
                    // Answers still remembered by a number stay alive
                    // through it; only the sharing of new ones restarts.
                    self.answers.clear();
                }
                let shared = Arc::new(settled);
                self.answers.insert(Arc::clone(&shared));
                shared
            }
        };
        self.numbers.insert(number, Arc::clone(&shared));
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Answer, Tenure};

    fn number(i: u64) -> Number {
        crate::number::parse(&format!("138{i:08}")).expect("a valid number")
    }

    fn settled(city: &str) -> Settled {
        Settled {
            answer: Answer::Tenure(Tenure {
                code: "3".into(),
                desc: "24 months or more".into(),
                province: "广东".into(),
                city: city.into(),
                isp: "移动".into(),
            }),
            change: None,
        }
    }

    #[test]
    fn a_remembered_number_gets_its_answer_back() {
        let mut memo = Memo::new(16);
        assert_eq!(memo.get(&number(1)), None);
        memo.remember(number(1), settled("深圳"));
        assert_eq!(memo.get(&number(1)).as_deref(), Some(&settled("深圳")));
        assert_eq!(memo.get(&number(2)), None);
    }

    #[test]
    fn equal_answers_are_shared() {
        let mut memo = Memo::new(16);
        let first = memo.remember(number(1), settled("深圳"));
        let second = memo.remember(number(2), settled("深圳"));
        let other = memo.remember(number(3), settled("广州"));
        assert!(Arc::ptr_eq(&first, &second));
        assert!(!Arc::ptr_eq(&first, &other));
    }

    #[test]
    fn it_holds_no_more_than_its_capacity() {
        let mut memo = Memo::new(100);
        for i in 0..10_000 {
            memo.remember(number(i), settled("深圳"));
        }
        let kept = (0..10_000)
            .filter(|&i| memo.get(&number(i)).is_some())
            .count();
        assert!(kept <= 110, "{kept} numbers kept in a memo of 100");
        assert!(kept > 0);
    }
}
