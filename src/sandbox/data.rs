//! The simulator's deterministic answers at epoch 0: what the API "knows"
//! about a number, derived from the MD5 of its 11 ASCII digits and nothing
//! else (not the seed, not the key, not the endpoint), so any test can
//! predict it with [`answer_for`]. The tenure codes and their `desc` are the
//! sandbox's own copy of DESIGN §1's table ([`TENURE`]), not the client's.
//!
//! Pure: no I/O. The rules, with `d` the 16-byte MD5 digest of the number and
//! `u32(a..b)` the big-endian integer of bytes `a..b`:
//!
//! - **Validity**: a number must match `^1[3-9]\d{9}$` exactly (the API does
//!   not normalise); anything else is `224804 参数错误`.
//! - **Carrier** from the first three digits: 移动 134–139, 147, 150–152,
//!   157–159, 172, 178, 182–184, 187, 188, 195, 197, 198; 联通 130–132, 145,
//!   155, 156, 166, 167, 171, 175, 176, 185, 186, 196; 电信 133, 149, 153,
//!   173, 174, 177, 180, 181, 189, 190, 191, 193, 199; 广电 192;
//!   虚拟运营商 170. Any other segment (140–144, 146, 148, 154, 16x, 179,
//!   194, …) is unallocated: `224801 查询无此记录`.
//! - **No record**: `u32(0..4) % 100 < 2`, that is 2% of allocated numbers,
//!   answer `224801 查询无此记录`.
//! - **Tenure** from `u32(4..8) % 100`: `03` for 0–4 (5%), `04` for 5–9
//!   (5%), `1` for 10–19 (10%), `2` for 20–34 (15%), `3` for 35–94 (60%),
//!   `99` for 95–99 (5%); `desc` is the document's for the code.
//! - **Province and city**: `REGIONS[u32(8..12) % REGIONS.len()]`, a table
//!   of 41 real pairs covering every province-level region but 港澳台.
//! - **Over time**: [`answer_at`](super::answer_at) moves answers on from
//!   these, epoch by epoch (see the `epoch` module); epoch 0 is this.
//!
//! The `queryEncry` `orderid` is not part of the answer: each billed query
//! gets its own (see `decide`).

use md5::{Digest, Md5};

/// A successful answer as the simulator gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimTenure {
    /// The tenure code: `03`, `04`, `1`, `2`, `3` or `99`.
    pub code: &'static str,
    /// The document's `desc` for the code.
    pub desc: &'static str,
    /// The province, without 省/市 (`江苏`, `北京`).
    pub province: &'static str,
    /// The city, without 市 (`苏州`, `北京`).
    pub city: &'static str,
    /// The carrier: `移动`, `联通`, `电信`, `广电` or `虚拟运营商`.
    pub isp: &'static str,
}

/// The simulator's answer for a plaintext number at epoch 0: its tenure, or
/// the `error_code` it gets instead (`224804` for what is not a valid
/// number, `224801` for one without a record). The same as
/// [`answer_at`](super::answer_at)`(number, 0)`. Faults, scripts, key, quota
/// and rate limit come on top of this; see the module doc for the rules.
pub fn answer_for(number: &str) -> Result<SimTenure, i64> {
    facts(number).map(Facts::answer)
}

/// What the simulator knows of a number with a record, in the form the
/// epochs change it: indexes into this module's tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Facts {
    /// Index into [`TENURE`].
    pub tenure: usize,
    /// Index into [`REGIONS`].
    pub region: usize,
    /// The carrier's name.
    pub isp: &'static str,
}

impl Facts {
    /// The answer these facts give.
    pub fn answer(self) -> SimTenure {
        let (code, desc) = TENURE[self.tenure];
        let (province, city) = REGIONS[self.region];
        SimTenure {
            code,
            desc,
            province,
            city,
            isp: self.isp,
        }
    }
}

/// The epoch-0 facts of a number, or the `error_code` it gets instead.
pub(crate) fn facts(number: &str) -> Result<Facts, i64> {
    if !is_valid_number(number) {
        return Err(224804);
    }
    let isp = carrier(&number[..3]).ok_or(224801_i64)?;
    let digest: [u8; 16] = Md5::digest(number.as_bytes()).into();
    if word(&digest, 0) % 100 < NO_RECORD_PERCENT {
        return Err(224801);
    }
    Ok(Facts {
        tenure: tenure_index(word(&digest, 4) % 100),
        // Lossless: usize is at least 32 bits on every target Rust std supports here.
        region: word(&digest, 8) as usize % REGIONS.len(),
        isp,
    })
}

/// `u32(at..at + 4)` of a digest, big-endian.
pub(crate) fn word(digest: &[u8; 16], at: usize) -> u32 {
    let bytes: [u8; 4] = digest[at..at + 4]
        .try_into()
        .expect("callers take 4 bytes at 0, 4, 8 or 12 of a 16-byte digest");
    u32::from_be_bytes(bytes)
}

/// Whether `s` is exactly a mainland mobile number: `^1[3-9]\d{9}$`.
pub fn is_valid_number(s: &str) -> bool {
    let bytes = s.as_bytes();
    bytes.len() == 11
        && bytes[0] == b'1'
        && (b'3'..=b'9').contains(&bytes[1])
        && bytes.iter().all(u8::is_ascii_digit)
}

/// The share of allocated numbers, in percent, that have no record.
const NO_RECORD_PERCENT: u32 = 2;

/// The tenure codes and the document's `desc` for each, lowest bucket
/// first, `99` last: the sandbox's own copy of DESIGN §1's table.
pub(crate) const TENURE: [(&str, &str); 6] = [
    ("03", "(0,3]"),
    ("04", "(3,6]"),
    ("1", "(6,12]"),
    ("2", "(12,24]"),
    ("3", "(24,+)"),
    ("99", "T-1月前已离网/手机状态异常"),
];

/// The index in [`TENURE`] of `99`.
pub(crate) const LEFT: usize = 5;

/// The index in [`TENURE`] for a draw in `0..100`: `03` for 0–4, `04` for
/// 5–9, `1` for 10–19, `2` for 20–34, `3` for 35–94, `99` for 95–99.
pub(crate) fn tenure_index(percentile: u32) -> usize {
    match percentile {
        0..=4 => 0,
        5..=9 => 1,
        10..=19 => 2,
        20..=34 => 3,
        35..=94 => 4,
        _ => LEFT,
    }
}

/// The carrier of a three-digit segment, or `None` when it is unallocated.
fn carrier(segment: &str) -> Option<&'static str> {
    let segment: u16 = segment.parse().ok()?;
    let isp = match segment {
        134..=139
        | 147
        | 150..=152
        | 157..=159
        | 172
        | 178
        | 182..=184
        | 187
        | 188
        | 195
        | 197
        | 198 => "移动",
        130..=132 | 145 | 155 | 156 | 166 | 167 | 171 | 175 | 176 | 185 | 186 | 196 => "联通",
        133 | 149 | 153 | 173 | 174 | 177 | 180 | 181 | 189..=191 | 193 | 199 => "电信",
        192 => "广电",
        170 => "虚拟运营商",
        _ => return None,
    };
    Some(isp)
}

/// Real (province, city) pairs, as the API writes them: no 省/市 suffix.
pub(crate) const REGIONS: [(&str, &str); 41] = [
    ("北京", "北京"),
    ("上海", "上海"),
    ("天津", "天津"),
    ("重庆", "重庆"),
    ("江苏", "苏州"),
    ("江苏", "南京"),
    ("江苏", "无锡"),
    ("浙江", "杭州"),
    ("浙江", "宁波"),
    ("浙江", "温州"),
    ("广东", "深圳"),
    ("广东", "广州"),
    ("广东", "东莞"),
    ("广东", "佛山"),
    ("山东", "济南"),
    ("山东", "青岛"),
    ("河南", "郑州"),
    ("河北", "石家庄"),
    ("湖北", "武汉"),
    ("湖南", "长沙"),
    ("四川", "成都"),
    ("福建", "福州"),
    ("福建", "厦门"),
    ("安徽", "合肥"),
    ("江西", "南昌"),
    ("陕西", "西安"),
    ("辽宁", "沈阳"),
    ("辽宁", "大连"),
    ("吉林", "长春"),
    ("黑龙江", "哈尔滨"),
    ("山西", "太原"),
    ("云南", "昆明"),
    ("贵州", "贵阳"),
    ("广西", "南宁"),
    ("海南", "海口"),
    ("甘肃", "兰州"),
    ("内蒙古", "呼和浩特"),
    ("新疆", "乌鲁木齐"),
    ("宁夏", "银川"),
    ("青海", "西宁"),
    ("西藏", "拉萨"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Pinned (computed independently with Python's hashlib from the rules
    /// in the module doc): tests and fixtures elsewhere may rely on these
    /// answers, so a change of the rules must show up here first.
    #[test]
    fn known_numbers_answer_as_pinned() {
        let left = "T-1月前已离网/手机状态异常";
        let pinned = [
            ("13800138000", "99", left, "江西", "南昌", "移动"),
            ("18912345678", "2", "(12,24]", "浙江", "杭州", "电信"),
            ("15012345678", "3", "(24,+)", "云南", "昆明", "移动"),
            ("18600000000", "2", "(12,24]", "河南", "郑州", "联通"),
            ("17000000001", "99", left, "贵州", "贵阳", "虚拟运营商"),
        ];
        for (number, code, desc, province, city, isp) in pinned {
            let answer = answer_for(number).expect("a pinned number has a record");
            let expected = SimTenure {
                code,
                desc,
                province,
                city,
                isp,
            };
            assert_eq!(answer, expected, "{number}");
        }
        assert_eq!(
            answer_for("13800000041"),
            Err(224801),
            "in the 2% without a record"
        );
    }

    #[test]
    fn every_code_has_the_documented_desc() {
        let descs: Vec<(&str, &str)> = TENURE.to_vec();
        assert_eq!(
            descs,
            [
                ("03", "(0,3]"),
                ("04", "(3,6]"),
                ("1", "(6,12]"),
                ("2", "(12,24]"),
                ("3", "(24,+)"),
                ("99", "T-1月前已离网/手机状态异常"),
            ]
        );
        assert_eq!(TENURE[LEFT].0, "99");
    }

    #[test]
    fn is_deterministic() {
        for number in ["13800138000", "18912345678", "17000000001", "19212345678"] {
            assert_eq!(answer_for(number), answer_for(number), "{number}");
        }
    }

    #[test]
    fn carrier_follows_the_segment() {
        let isp = |number: &str| {
            generated(&number[..3])
                .find_map(|n| answer_for(&n).ok())
                .map(|a| a.isp)
        };
        assert_eq!(isp("138"), Some("移动"));
        assert_eq!(isp("198"), Some("移动"));
        assert_eq!(isp("186"), Some("联通"));
        assert_eq!(isp("167"), Some("联通"));
        assert_eq!(isp("189"), Some("电信"));
        assert_eq!(isp("149"), Some("电信"));
        assert_eq!(isp("192"), Some("广电"));
        assert_eq!(isp("170"), Some("虚拟运营商"));
        for unallocated in ["140", "146", "154", "160", "179", "194"] {
            assert!(
                generated(unallocated).all(|n| answer_for(&n) == Err(224801)),
                "{unallocated} is unallocated"
            );
        }
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        for bad in [
            "",
            "1380013800",
            "138001380000",
            "12800138000",
            "23800138000",
            "1380013800a",
            " 13800138000",
            "+8613800138000",
            "１３８００１３８０００",
        ] {
            assert_eq!(answer_for(bad), Err(224804), "{bad:?}");
        }
    }

    /// Over 10,000 numbers the shares match the documented distribution
    /// within about five standard deviations.
    #[test]
    fn distribution_matches_the_documented_shares() {
        let segments = ["138", "186", "189", "177", "159", "132"];
        let mut outcomes: BTreeMap<String, u32> = BTreeMap::new();
        let mut regions = BTreeSet::new();
        let total = 10_000;
        for i in 0..total {
            let number = format!(
                "{}{:08}",
                segments[i % segments.len()],
                (i * 7_919) % 100_000_000
            );
            let key = match answer_for(&number) {
                Ok(answer) => {
                    regions.insert((answer.province, answer.city));
                    answer.code.to_owned()
                }
                Err(code) => code.to_string(),
            };
            *outcomes.entry(key).or_default() += 1;
        }
        let share =
            |key: &str| f64::from(outcomes.get(key).copied().unwrap_or(0)) * 100.0 / total as f64;
        // The tenure shares are of the 98% that have a record.
        let expected = [
            ("224801", 2.0, 0.7),
            ("03", 4.9, 1.1),
            ("04", 4.9, 1.1),
            ("1", 9.8, 1.5),
            ("2", 14.7, 1.8),
            ("3", 58.8, 2.5),
            ("99", 4.9, 1.1),
        ];
        for (key, percent, tolerance) in expected {
            let got = share(key);
            assert!(
                (got - percent).abs() <= tolerance,
                "{key}: {got:.2}% instead of about {percent}% ({outcomes:?})"
            );
        }
        assert_eq!(
            outcomes.len(),
            expected.len(),
            "no other outcome: {outcomes:?}"
        );
        assert_eq!(regions.len(), REGIONS.len(), "every region is used");
    }

    #[test]
    fn regions_are_distinct() {
        let distinct: BTreeSet<_> = REGIONS.iter().collect();
        assert_eq!(distinct.len(), REGIONS.len());
        assert!(REGIONS.len() >= 30);
    }

    /// Some numbers of a segment.
    fn generated(segment: &str) -> impl Iterator<Item = String> + '_ {
        (0..100u32).map(move |i| format!("{segment}{:08}", i * 1_234_567 % 100_000_000))
    }
}
