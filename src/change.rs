//! Risk signals (DESIGN §7): what an arriving successful answer says
//! compared with the number's latest earlier successful answer from the same
//! source.
//!
//! Pure: no I/O. The store calls [`Change::compare`] when an answer arrives
//! and keeps the result with that arrival ([`Change::as_str`] and
//! [`Change::parse`] round-trip it through a text column); the summary
//! counts [`Change::kinds`]. Row answers (224801, 224804, 224808) are never
//! compared: callers pass only [`Tenure`]s.

use crate::api::Tenure;
use std::fmt;

/// What an arriving successful answer says compared with the number's latest
/// earlier successful answer from the same source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Change {
    /// No earlier successful answer (a first arrival; an answer migrated or
    /// imported from a version-1 store is one too).
    New,
    /// Nothing that matters changed (a higher bucket alone is natural
    /// ageing, so it is `Same`).
    Same,
    /// At least one kind of change.
    Changed(Kinds),
}

/// One kind of change, in display order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Tenure bucket lower than before: the number was given to a new
    /// subscriber (二次放号).
    Reassigned,
    /// Now 99, before not: it left the network.
    Left,
    /// Before 99, now a bucket (never also `Reassigned`).
    Returned,
    /// The carrier changed: ported.
    Isp,
    /// The province or the city changed.
    Region,
}

impl Kind {
    /// Every kind, in display order.
    pub const ALL: [Kind; 5] = [
        Kind::Reassigned,
        Kind::Left,
        Kind::Returned,
        Kind::Isp,
        Kind::Region,
    ];

    /// The kind's name, as displayed and stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Kind::Reassigned => "reassigned",
            Kind::Left => "left",
            Kind::Returned => "returned",
            Kind::Isp => "isp",
            Kind::Region => "region",
        }
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A non-empty set of kinds, displayed `;`-joined in the order of
/// [`Kind::ALL`]: `reassigned;left;returned;isp;region`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Kinds(u8);

impl Kinds {
    /// The set of `kinds`; `None` when empty.
    pub fn of(kinds: impl IntoIterator<Item = Kind>) -> Option<Kinds> {
        let bits = kinds.into_iter().fold(0, |bits, kind| bits | kind.bit());
        (bits != 0).then_some(Kinds(bits))
    }

    pub fn contains(self, kind: Kind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// The kinds in the set, in display order.
    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL
            .into_iter()
            .filter(move |kind| self.contains(*kind))
    }
}

/// The ordered tenure buckets; `99` and unknown codes are not buckets.
fn bucket(code: &str) -> Option<u8> {
    match code {
        "03" => Some(0),
        "04" => Some(1),
        "1" => Some(2),
        "2" => Some(3),
        "3" => Some(4),
        _ => None,
    }
}

const LEFT: &str = "99";

impl Change {
    /// The change of `now` against `previous`, the number's latest earlier
    /// successful answer from the same source (`None`: there is none).
    pub fn compare(previous: Option<&Tenure>, now: &Tenure) -> Change {
        let Some(before) = previous else {
            return Change::New;
        };
        let mut kinds = Vec::new();
        match (bucket(&before.code), bucket(&now.code)) {
            (Some(then), Some(current)) if current < then => kinds.push(Kind::Reassigned),
            _ => {}
        }
        if now.code == LEFT && before.code != LEFT {
            kinds.push(Kind::Left);
        }
        if before.code == LEFT && bucket(&now.code).is_some() {
            kinds.push(Kind::Returned);
        }
        if before.isp != now.isp {
            kinds.push(Kind::Isp);
        }
        if before.province != now.province || before.city != now.city {
            kinds.push(Kind::Region);
        }
        Kinds::of(kinds).map_or(Change::Same, Change::Changed)
    }

    /// `new`, `same`, or the kinds `;`-joined (`reassigned;isp`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Change::New => "new",
            Change::Same => "same",
            Change::Changed(kinds) => &joined()[usize::from(kinds.0)],
        }
    }

    /// The inverse of [`Change::as_str`]; `None` for anything else (kinds
    /// out of order or repeated included, so a value round-trips exactly).
    pub fn parse(text: &str) -> Option<Change> {
        match text {
            "new" => return Some(Change::New),
            "same" => return Some(Change::Same),
            _ => {}
        }
        let mut kinds = Vec::new();
        for name in text.split(';') {
            let kind = Kind::ALL.into_iter().find(|kind| kind.as_str() == name)?;
            kinds.push(kind);
        }
        let parsed = Change::Changed(Kinds::of(kinds)?);
        (parsed.to_string() == text).then_some(parsed)
    }

    /// The kinds of a `Changed`; none for `New` and `Same`.
    pub fn kinds(&self) -> impl Iterator<Item = Kind> {
        let kinds = match self {
            Change::Changed(kinds) => *kinds,
            Change::New | Change::Same => Kinds(0),
        };
        kinds.iter()
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `;`-joined names of every set of kinds, by its bits, made once.
fn joined() -> &'static [String; 32] {
    static JOINED: std::sync::OnceLock<[String; 32]> = std::sync::OnceLock::new();
    JOINED.get_or_init(|| {
        std::array::from_fn(|bits| {
            let names: Vec<&str> = Kind::ALL
                .into_iter()
                .filter(|kind| bits & usize::from(kind.bit()) != 0)
                .map(Kind::as_str)
                .collect();
            names.join(";")
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tenure(code: &str, isp: &str, province: &str, city: &str) -> Tenure {
        Tenure {
            code: code.to_owned(),
            desc: String::new(),
            province: province.to_owned(),
            city: city.to_owned(),
            isp: isp.to_owned(),
        }
    }

    fn at(code: &str) -> Tenure {
        tenure(code, "移动", "广东", "深圳")
    }

    /// Every rule of DESIGN §7, one row each: before, now, expected.
    #[test]
    fn every_rule() {
        let cases: &[(Option<Tenure>, Tenure, &str)] = &[
            (None, at("3"), "new"),
            (None, at("99"), "new"),
            (Some(at("3")), at("3"), "same"),
            (Some(at("03")), at("04"), "same"), // ageing
            (Some(at("1")), at("3"), "same"),
            (Some(at("3")), at("03"), "reassigned"),
            (Some(at("04")), at("03"), "reassigned"),
            (Some(at("2")), at("1"), "reassigned"),
            (Some(at("3")), at("99"), "left"),
            (Some(at("99")), at("99"), "same"),
            (Some(at("99")), at("03"), "returned"), // not also reassigned
            (Some(at("99")), at("3"), "returned"),
            (Some(at("77")), at("03"), "same"), // unknown codes are not buckets
            (Some(at("3")), at("77"), "same"),
            (Some(at("99")), at("77"), "same"),
            (Some(at("77")), at("99"), "left"),
            (Some(at("3")), tenure("3", "联通", "广东", "深圳"), "isp"),
            (Some(at("3")), tenure("3", "移动", "广东", "广州"), "region"),
            (Some(at("3")), tenure("3", "移动", "湖南", "深圳"), "region"),
            (
                Some(at("3")),
                tenure("03", "电信", "湖南", "长沙"),
                "reassigned;isp;region",
            ),
            (
                Some(at("2")),
                tenure("99", "联通", "广东", "深圳"),
                "left;isp",
            ),
            (
                Some(at("99")),
                tenure("1", "移动", "广东", "广州"),
                "returned;region",
            ),
            (
                Some(at("77")),
                tenure("77", "电信", "广东", "深圳"),
                "isp", // unknown codes still compare carrier and region
            ),
        ];
        for (before, now, expected) in cases {
            let change = Change::compare(before.as_ref(), now);
            assert_eq!(change.as_str(), *expected, "{before:?} -> {now:?}");
            assert_eq!(Change::parse(expected), Some(change), "{expected}");
        }
    }

    #[test]
    fn kinds_list_the_changed_kinds_in_order() {
        let change = Change::compare(Some(&at("3")), &tenure("03", "联通", "广东", "深圳"));
        assert_eq!(
            change.kinds().collect::<Vec<_>>(),
            [Kind::Reassigned, Kind::Isp]
        );
        assert_eq!(Change::New.kinds().count(), 0);
        assert_eq!(Change::Same.kinds().count(), 0);
    }

    #[test]
    fn parse_refuses_what_as_str_never_writes() {
        for text in [
            "",
            "New",
            "isp;reassigned",
            "isp;isp",
            "isp;",
            ";isp",
            "moved",
            "new;isp",
        ] {
            assert_eq!(Change::parse(text), None, "{text:?}");
        }
    }

    #[test]
    fn every_set_of_kinds_round_trips() {
        for bits in 1..32u8 {
            let kinds = Kinds::of(Kind::ALL.into_iter().filter(|k| bits & k.bit() != 0))
                .expect("a non-empty set");
            let change = Change::Changed(kinds);
            assert_eq!(Change::parse(change.as_str()), Some(change));
        }
    }

    fn any_tenure() -> impl Strategy<Value = Tenure> {
        (
            prop::sample::select(vec!["03", "04", "1", "2", "3", "99", "77", ""]),
            prop::sample::select(vec!["移动", "联通", "电信", ""]),
            ".{0,4}",
            ".{0,4}",
        )
            .prop_map(|(code, isp, province, city)| tenure(code, isp, &province, &city))
    }

    proptest! {
        #[test]
        fn compare_with_nothing_is_new(now in any_tenure()) {
            prop_assert_eq!(Change::compare(None, &now), Change::New);
        }

        #[test]
        fn compare_with_itself_is_same(now in any_tenure()) {
            prop_assert_eq!(Change::compare(Some(&now), &now), Change::Same);
        }
    }
}
