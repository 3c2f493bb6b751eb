//! Answers that change over time, deterministically (`--epoch N`): the
//! risk signals of DESIGN §7 as a test or a demo needs them, without a clock.
//!
//! Pure: no I/O. Epoch 0 is [`answer_for`](super::answer_for). Each later
//! epoch starts from the previous epoch's answer, so changes are cumulative,
//! and draws for each number with a record `u = u32(0..4) % 100` and
//! `v = u32(4..8)` of `MD5("{number}@{epoch}")` (big-endian, as in `data`).
//! At most one thing changes per number per epoch:
//!
//! | `u` | a number at a bucket (`03`…`3`) | a number at `99` |
//! | --- | --- | --- |
//! | 0–4 | **reassigned**: to `03` (one at `03` stays) | **returned**: to a bucket |
//! | 5–9 | **left**: to `99` | **returned**: to a bucket |
//! | 10–14 | **ported**: another carrier | the same |
//! | 15–19 | **moved**: another region | the same |
//! | 20–99 | unchanged | unchanged |
//!
//! So per epoch about 5% of the numbers are reassigned (those above `03`),
//! 5% leave, 10% of those at `99` return, 5% are ported and 5% move.
//! A returning number gets the bucket `TENURE[tenure_index(v % 95)]` (the
//! epoch-0 shares without `99`). A ported number gets
//! `others[v % others.len()]`, `others` being 移动, 联通, 电信, 广电 less
//! its carrier (province and city stay); a moved one gets
//! `REGIONS[(r + 1 + v % 40) % 41]`, `r` its region (its carrier stays).
//! Numbers without a record (`224801`) and invalid ones (`224804`) never
//! change.
//!
//! [`change_between`] says what DESIGN §7 calls the difference between two
//! epochs, so a test finds numbers of each kind by asking it about epochs
//! `e` and `e + 1`. Computing epoch `N` replays its `N` epochs: one MD5
//! each, which is why `--epoch` stops at [`MAX_EPOCH`].

use std::fmt;

use md5::{Digest, Md5};

use super::data::{self, Facts, LEFT, REGIONS, SimTenure, TENURE};

/// The highest `--epoch`: answering at epoch `N` costs `N` MD5s.
pub const MAX_EPOCH: u64 = 1_000;

/// One kind of change between two answers of a number, as DESIGN §7 names
/// and orders them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SimChange {
    /// The tenure bucket is lower than before (`03` < `04` < `1` < `2` <
    /// `3`): the number was given to a new subscriber.
    Reassigned,
    /// Now `99`, before a bucket: the number left the network.
    Left,
    /// Before `99`, now a bucket (never also `Reassigned`).
    Returned,
    /// The carrier changed: the number was ported.
    Isp,
    /// The province or the city changed.
    Region,
}

impl SimChange {
    /// The name DESIGN §7 gives it: `reassigned`, `left`, `returned`,
    /// `isp`, `region`.
    pub fn as_str(self) -> &'static str {
        match self {
            SimChange::Reassigned => "reassigned",
            SimChange::Left => "left",
            SimChange::Returned => "returned",
            SimChange::Isp => "isp",
            SimChange::Region => "region",
        }
    }
}

impl fmt::Display for SimChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The simulator's answer for a plaintext number at `epoch` (see the module
/// doc for the rule), or the `error_code` it gets instead; `answer_at(n, 0)`
/// is `answer_for(n)`.
pub fn answer_at(number: &str, epoch: u64) -> Result<SimTenure, i64> {
    facts_at(number, epoch).map(Facts::answer)
}

/// What changed for `number` between its answer at epoch `from` and at
/// epoch `to`, in DESIGN §7's order: empty when nothing that counts did
/// (a higher bucket alone is ageing, not a change), one kind between
/// consecutive epochs, possibly several further apart. `Err` with the
/// number's `error_code` when it has no answer at any epoch.
pub fn change_between(number: &str, from: u64, to: u64) -> Result<Vec<SimChange>, i64> {
    let before = answer_at(number, from)?;
    let after = answer_at(number, to)?;
    let bucket = |code: &str| TENURE[..LEFT].iter().position(|&(c, _)| c == code);
    let (was, now) = (bucket(before.code), bucket(after.code));
    let kinds = [
        (
            SimChange::Reassigned,
            matches!((was, now), (Some(b), Some(a)) if a < b),
        ),
        (SimChange::Left, was.is_some() && now.is_none()),
        (SimChange::Returned, was.is_none() && now.is_some()),
        (SimChange::Isp, before.isp != after.isp),
        (
            SimChange::Region,
            (before.province, before.city) != (after.province, after.city),
        ),
    ];
    Ok(kinds
        .into_iter()
        .filter_map(|(kind, happened)| happened.then_some(kind))
        .collect())
}

/// The facts of a number at `epoch`: epoch 0's, moved on epoch by epoch.
pub(crate) fn facts_at(number: &str, epoch: u64) -> Result<Facts, i64> {
    let mut facts = data::facts(number)?;
    for e in 1..=epoch {
        facts = step(number, e, facts);
    }
    Ok(facts)
}

/// The carriers a number can be ported to.
const CARRIERS: [&str; 4] = ["移动", "联通", "电信", "广电"];

/// The facts at `epoch` from those at `epoch - 1`: the table of the module
/// doc.
fn step(number: &str, epoch: u64, mut facts: Facts) -> Facts {
    let digest: [u8; 16] = Md5::digest(format!("{number}@{epoch}")).into();
    let u = data::word(&digest, 0) % 100;
    // Lossless: usize is at least 32 bits on every target Rust std supports here.
    let v = data::word(&digest, 4) as usize;
    let at_99 = facts.tenure == LEFT;
    match u {
        0..=9 if at_99 => facts.tenure = data::tenure_index((v % 95) as u32),
        0..=4 => facts.tenure = 0,
        5..=9 => facts.tenure = LEFT,
        10..=14 => {
            let others: Vec<&'static str> =
                CARRIERS.into_iter().filter(|&c| c != facts.isp).collect();
            facts.isp = others[v % others.len()];
        }
        15..=19 => facts.region = (facts.region + 1 + v % (REGIONS.len() - 1)) % REGIONS.len(),
        _ => {}
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::answer_for;
    use std::collections::BTreeMap;

    /// Some valid numbers over several segments, the same every time.
    fn numbers(count: usize) -> impl Iterator<Item = String> {
        let segments = ["138", "186", "189", "177", "159", "132", "170", "192"];
        (0..count).map(move |i| {
            format!(
                "{}{:08}",
                segments[i % segments.len()],
                (i * 7_919) % 100_000_000
            )
        })
    }

    #[test]
    fn epoch_0_is_answer_for() {
        for number in numbers(2_000).chain(["1380013800".to_owned(), "14000000000".to_owned()]) {
            assert_eq!(answer_at(&number, 0), answer_for(&number), "{number}");
            assert_eq!(
                change_between(&number, 0, 0).map(|c| c.is_empty()),
                answer_for(&number).map(|_| true)
            );
        }
    }

    /// Computed independently with Python's hashlib from the module doc:
    /// one number of each kind between epochs 0 and 1, and a few numbers
    /// over several epochs. Tests elsewhere may rely on these.
    #[test]
    fn known_numbers_change_as_pinned() {
        use SimChange::*;
        let kinds = [
            ("13900000000", Region, ("3", "浙江", "杭州", "移动")),
            ("13900000001", Left, ("99", "广东", "东莞", "移动")),
            ("13900000009", Isp, ("1", "四川", "成都", "广电")),
            ("13900000023", Reassigned, ("03", "江西", "南昌", "移动")),
            ("13900000129", Returned, ("3", "陕西", "西安", "移动")),
        ];
        for (number, kind, (code, province, city, isp)) in kinds {
            let answer = answer_at(number, 1).expect("a pinned number has a record");
            assert_eq!(
                (answer.code, answer.province, answer.city, answer.isp),
                (code, province, city, isp),
                "{number} at 1"
            );
            assert_eq!(change_between(number, 0, 1), Ok(vec![kind]), "{number}");
        }
        let over_time = [
            ("13800138000", 2, ("99", "广东", "深圳", "移动")),
            ("13800138000", 12, ("03", "广东", "深圳", "广电")),
            ("18912345678", 3, ("2", "浙江", "杭州", "电信")),
            ("18912345678", 12, ("3", "浙江", "杭州", "电信")),
            ("17000000001", 1, ("99", "贵州", "贵阳", "联通")),
            ("17000000001", 12, ("3", "贵州", "贵阳", "广电")),
        ];
        for (number, epoch, (code, province, city, isp)) in over_time {
            let answer = answer_at(number, epoch).expect("a pinned number has a record");
            assert_eq!(
                (answer.code, answer.province, answer.city, answer.isp),
                (code, province, city, isp),
                "{number} at {epoch}"
            );
        }
        // Left and came back higher: ageing, not a change (DESIGN §7).
        assert_eq!(change_between("18912345678", 0, 12), Ok(vec![]));
        assert_eq!(
            change_between("17000000001", 0, 12),
            Ok(vec![Returned, Isp]),
            "a virtual operator's number ported to 广电"
        );
    }

    /// Between consecutive epochs at most one kind happens, with the shares
    /// of the module doc (within about five standard deviations over
    /// 10,000 numbers), and every answer is the previous one changed only
    /// as that kind says.
    #[test]
    fn each_epoch_changes_the_documented_shares() {
        let total = 10_000;
        for epoch in [1, 2, 7] {
            let mut kinds: BTreeMap<&str, u32> = BTreeMap::new();
            // How many could take each kind: above 03, at a bucket, at 99.
            let (mut answered, mut above_03, mut at_99) = (0, 0, 0);
            for number in numbers(total) {
                let Ok(before) = answer_at(&number, epoch - 1) else {
                    assert_eq!(answer_at(&number, epoch), answer_for(&number));
                    continue;
                };
                answered += 1;
                match before.code {
                    "99" => at_99 += 1,
                    "03" => {}
                    _ => above_03 += 1,
                }
                let after = answer_at(&number, epoch).expect("a record stays a record");
                let changes = change_between(&number, epoch - 1, epoch).expect("answered");
                assert!(changes.len() <= 1, "{number} at {epoch}: {changes:?}");
                let kind = changes.first().map_or("same", |c| c.as_str());
                *kinds.entry(kind).or_default() += 1;
                let same_place = (before.province, before.city) == (after.province, after.city);
                match changes.first() {
                    None => assert!(before == after, "{number}: {before:?} {after:?}"),
                    Some(SimChange::Reassigned) => {
                        assert_eq!(after.code, "03");
                        assert!(before.isp == after.isp && same_place);
                    }
                    Some(SimChange::Left) => {
                        assert_eq!(after.code, "99");
                        assert!(before.isp == after.isp && same_place);
                    }
                    Some(SimChange::Returned) => {
                        assert_eq!(before.code, "99");
                        assert!(before.isp == after.isp && same_place);
                    }
                    Some(SimChange::Isp) => {
                        assert!(before.code == after.code && same_place);
                        assert_ne!(after.isp, "虚拟运营商");
                    }
                    Some(SimChange::Region) => {
                        assert!(before.code == after.code && before.isp == after.isp);
                    }
                }
            }
            let share = |kind: &str, of: u32| {
                f64::from(kinds.get(kind).copied().unwrap_or(0)) * 100.0 / f64::from(of)
            };
            let at_a_bucket = answered - at_99;
            let expected = [
                ("reassigned", above_03, 5.0),
                ("left", at_a_bucket, 5.0),
                ("returned", at_99, 10.0),
                ("isp", answered, 5.0),
                ("region", answered, 5.0),
            ];
            for (kind, of, percent) in expected {
                // Five standard deviations of a binomial share.
                let sd = (percent * (100.0 - percent) / f64::from(of)).sqrt();
                let got = share(kind, of);
                assert!(
                    (got - percent).abs() <= 5.0 * sd,
                    "epoch {epoch}: {kind} {got:.2}% of {of}, not about {percent}% ({kinds:?})"
                );
            }
        }
    }

    #[test]
    fn changes_accumulate_across_epochs() {
        // Some number changes twice over ten epochs, and what changed
        // between 0 and 10 is the union of what each step changed, save
        // that a return after a leave (or the reverse) cancels out.
        let twice = numbers(2_000)
            .filter(|n| answer_for(n).is_ok())
            .find(|n| {
                (1..=10)
                    .filter(|&e| !change_between(n, e - 1, e).expect("answered").is_empty())
                    .count()
                    >= 2
            })
            .expect("some number changes twice in ten epochs");
        let steps: Vec<SimChange> = (1..=10)
            .flat_map(|e| change_between(&twice, e - 1, e).expect("answered"))
            .collect();
        assert!(steps.len() >= 2, "{twice}: {steps:?}");
        let overall = change_between(&twice, 0, 10).expect("answered");
        for kind in &overall {
            assert!(
                steps.contains(kind) || *kind == SimChange::Reassigned,
                "{twice}: {overall:?} from {steps:?}"
            );
        }
    }

    #[test]
    fn numbers_without_an_answer_never_change() {
        for number in ["13800000041", "14000000000", "1380013800"] {
            let code = answer_for(number).expect_err("no answer at epoch 0");
            for epoch in [1, 5, 50] {
                assert_eq!(answer_at(number, epoch), Err(code), "{number}");
                assert_eq!(change_between(number, 0, epoch), Err(code), "{number}");
            }
        }
    }

    #[test]
    fn names_follow_design_7() {
        let names: Vec<String> = [
            SimChange::Reassigned,
            SimChange::Left,
            SimChange::Returned,
            SimChange::Isp,
            SimChange::Region,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(names, ["reassigned", "left", "returned", "isp", "region"]);
    }
}
