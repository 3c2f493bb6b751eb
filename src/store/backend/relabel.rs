//! The changes recorded again after `tenure cache import`.
//!
//! An arrival records its change against the number's latest *earlier*
//! success (DESIGN §7). An import can put an arrival before others, and
//! then the ones after it were compared with the wrong success: a store
//! that asked a number last night (`03`, recorded `new`) and an old cache
//! that had it at `3` a month ago make last night's answer a reassignment.
//! So after merging a chunk, each backend reads the successes of the
//! chunk's numbers in arrival order and records what this module works out,
//! where it differs from what is there.

use crate::api::Tenure;
use crate::change::Change;

/// One success in a number's history.
pub(super) struct Success {
    pub id: i64,
    pub first_seen: i64,
    pub tenure: Tenure,
    /// The change recorded now.
    pub change: Option<String>,
}

/// The history entries whose recorded change is not the one their place
/// gives: `(id, change)`. `successes` are one number's, from one source, in
/// arrival order (first seen, then id).
pub(super) fn history(successes: &[Success]) -> Vec<(i64, &'static str)> {
    let mut previous = None;
    let mut wrong = Vec::new();
    for success in successes {
        let change = Change::compare(previous, &success.tenure).as_str();
        if success.change.as_deref() != Some(change) {
            wrong.push((success.id, change));
        }
        previous = Some(&success.tenure);
    }
    wrong
}

/// The change the latest answer, a success that arrived at `at`, records.
/// It is the arrival of the last entry first seen at or before `at`: that
/// entry's own first arrival when it was first seen then with this answer
/// (so the change is that entry's), else a repeat (`same` against it, or
/// the change from it when the answer differs).
pub(super) fn latest(successes: &[Success], at: i64, now: &Tenure) -> &'static str {
    let upto = &successes[..successes.partition_point(|success| success.first_seen <= at)];
    let previous = match upto.split_last() {
        Some((last, earlier)) if last.first_seen == at && last.tenure == *now => earlier.last(),
        Some((last, _)) => Some(last),
        None => None,
    };
    Change::compare(previous.map(|success| &success.tenure), now).as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tenure(code: &str) -> Tenure {
        Tenure {
            code: code.to_owned(),
            desc: String::new(),
            province: "广东".to_owned(),
            city: "深圳".to_owned(),
            isp: "移动".to_owned(),
        }
    }

    fn success(id: i64, first_seen: i64, code: &str, change: &str) -> Success {
        Success {
            id,
            first_seen,
            tenure: tenure(code),
            change: Some(change.to_owned()),
        }
    }

    #[test]
    fn an_arrival_put_before_others_changes_what_they_record() {
        // Last night's 03 was new; an imported 3 from a month ago comes
        // first now, so last night's answer is a reassignment.
        let successes = [success(2, 100, "3", "same"), success(1, 300, "03", "new")];
        assert_eq!(history(&successes), [(2, "new"), (1, "reassigned")]);
        assert_eq!(latest(&successes, 300, &tenure("03")), "reassigned");
        // Two entries first seen in one millisecond: the answer is the
        // second's arrival, compared with the first.
        let tied = [success(1, 100, "03", "new"), success(2, 100, "3", "same")];
        assert_eq!(latest(&tied, 100, &tenure("3")), "same");
        // An identical later arrival of the last success is the same.
        assert_eq!(latest(&successes, 400, &tenure("03")), "same");
        assert_eq!(latest(&successes, 50, &tenure("3")), "new");
    }

    #[test]
    fn labels_in_their_place_are_left_alone() {
        let successes = [
            success(1, 100, "3", "new"),
            success(2, 300, "03", "reassigned"),
        ];
        assert_eq!(history(&successes), []);
    }
}
