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

/// The change each success records, in order. The first keeps the one it
/// recorded: an import only adds entries, so a success that is first now
/// was first before or was added with its change against the store's
/// earlier successes, and a purge may have removed the success it was
/// compared with when it arrived. Each later one is compared with the one
/// before it.
fn labels(successes: &[Success]) -> Vec<&'static str> {
    let mut previous: Option<&Tenure> = None;
    successes
        .iter()
        .map(|success| {
            let recorded = success.change.as_deref().and_then(Change::parse);
            let change = match (previous, recorded) {
                (None, Some(recorded)) => recorded,
                (previous, _) => Change::compare(previous, &success.tenure),
            };
            previous = Some(&success.tenure);
            change.as_str()
        })
        .collect()
}

/// The history entries whose recorded change is not the one their place
/// gives: `(id, change)`. `successes` are one number's, from one source, in
/// arrival order (first seen, then id).
pub(super) fn history(successes: &[Success]) -> Vec<(i64, &'static str)> {
    successes
        .iter()
        .zip(labels(successes))
        .filter(|(success, change)| success.change.as_deref() != Some(*change))
        .map(|(success, change)| (success.id, change))
        .collect()
}

/// The change the latest answer, a success that arrived at `at`, records:
/// its entry's when it is the first arrival of an entry (first seen then,
/// with this answer), else its change from the last success first seen
/// before it (`same` for a repeat of that success).
pub(super) fn latest(successes: &[Success], at: i64, now: &Tenure) -> &'static str {
    let upto = successes.partition_point(|success| success.first_seen <= at);
    let own = successes[..upto]
        .iter()
        .rposition(|success| success.first_seen == at && success.tenure == *now);
    match own {
        Some(entry) => labels(successes)[entry],
        None => Change::compare(successes[..upto].last().map(|s| &s.tenure), now).as_str(),
    }
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
        // first now (added as new), so last night's answer is a
        // reassignment.
        let successes = [success(2, 100, "3", "new"), success(1, 300, "03", "new")];
        assert_eq!(history(&successes), [(1, "reassigned")]);
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
    fn the_first_success_keeps_what_it_recorded() {
        // The 3 this 03 was compared with was purged: it stays reassigned.
        let successes = [success(1, 300, "03", "reassigned")];
        assert_eq!(history(&successes), []);
        assert_eq!(latest(&successes, 300, &tenure("03")), "reassigned");
        assert_eq!(latest(&successes, 400, &tenure("03")), "same");
    }

    #[test]
    fn the_answer_is_its_own_entrys_arrival_among_entries_of_one_millisecond() {
        // The store's 03 (new) and an imported 3 first seen in the same
        // millisecond; the answer is the 03.
        let successes = [success(1, 100, "03", "new"), success(2, 100, "3", "same")];
        assert_eq!(latest(&successes, 100, &tenure("03")), "new");
        assert_eq!(latest(&successes, 100, &tenure("3")), "same");
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
