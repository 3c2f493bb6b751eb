//! The simulator over time: answers that move on with `--epoch` (issue 13)
//! and the arrival measurements of its stats (issue 12).

use std::time::Duration;

use super::{Served, expected_plain};
use tenure::sandbox;

/// Issue 13 point 4: with `--epoch`, answers move on as `answer_at` says,
/// and between two epochs every kind of change of DESIGN §7 occurs, found
/// with `change_between`.
#[test]
fn answers_change_over_epochs() {
    use sandbox::SimChange;
    let candidates: Vec<String> = (0..3_000).map(|i| format!("1390000{i:04}")).collect();
    for (from, to) in [(0, 1), (4, 5)] {
        let early = Served::start(&["--epoch", &from.to_string()]);
        let late = Served::start(&["--epoch", &to.to_string()]);
        let mut seen = std::collections::BTreeMap::new();
        for number in &candidates {
            let Ok(changes) = sandbox::change_between(number, from, to) else {
                continue;
            };
            let kind = match changes.as_slice() {
                [] => continue,
                [kind] => *kind,
                more => panic!("{number}: one change per epoch, not {more:?}"),
            };
            let found = seen.entry(kind).or_insert(0);
            *found += 1;
            if *found > 2 {
                continue; // two of each kind are asked
            }
            let before = early.ask(number);
            let after = late.ask(number);
            let at = |epoch| sandbox::answer_at(number, epoch).expect("has a record");
            let (was, now) = (at(from), at(to));
            assert_eq!(before["result"]["code"], was.code, "{number} at {from}");
            assert_eq!(after["result"]["code"], now.code, "{number} at {to}");
            for field in ["province", "city", "isp", "desc"] {
                let value = |answer: &sandbox::SimTenure| match field {
                    "province" => answer.province,
                    "city" => answer.city,
                    "isp" => answer.isp,
                    _ => answer.desc,
                };
                assert_eq!(before["result"][field], value(&was), "{number} {field}");
                assert_eq!(after["result"][field], value(&now), "{number} {field}");
            }
            let differs = |field: &str| before["result"][field] != after["result"][field];
            match kind {
                SimChange::Reassigned => assert_eq!(after["result"]["code"], "03"),
                SimChange::Left => assert_eq!(after["result"]["code"], "99"),
                SimChange::Returned => assert_eq!(before["result"]["code"], "99"),
                SimChange::Isp => assert!(differs("isp") && !differs("city")),
                SimChange::Region => assert!(differs("city") && !differs("isp")),
            }
        }
        assert_eq!(
            seen.keys().copied().collect::<Vec<_>>(),
            [
                SimChange::Reassigned,
                SimChange::Left,
                SimChange::Returned,
                SimChange::Isp,
                SimChange::Region
            ],
            "every kind between epochs {from} and {to}: {seen:?}"
        );
    }
    // Epoch 0 is today's answer.
    let today = Served::start(&["--epoch", "0"]);
    for number in &candidates[..20] {
        assert_eq!(today.ask(number), expected_plain(number), "{number}");
    }
}

/// Issue 12: the stats report the busiest one-second window of arrivals and
/// the rate over the run, as the arrival times say.
#[test]
fn stats_report_the_busiest_second_and_the_rate() {
    let served = Served::start(&[]);
    for _ in 0..4 {
        served.ask("13800138000");
    }
    std::thread::sleep(Duration::from_millis(1_100));
    for _ in 0..9 {
        served.ask("13800138000");
    }
    let stats = served.stats();
    let arrivals = &stats.arrivals_us;
    assert_eq!(arrivals.len(), 13);
    let busiest = (0..arrivals.len())
        .map(|i| {
            arrivals[..=i]
                .iter()
                .filter(|&&t| arrivals[i] - t < 1_000_000)
                .count() as u64
        })
        .max()
        .expect("there were arrivals");
    assert_eq!(stats.max_per_second, busiest, "{arrivals:?}");
    assert_eq!(busiest, 9, "the second burst, a second after the first");
    let span_s = (arrivals[12] - arrivals[0]) as f64 / 1e6;
    let rate = 12.0 / span_s;
    assert!(
        (stats.arrival_rate - rate).abs() < rate * 1e-3,
        "{} vs {rate} from {arrivals:?}",
        stats.arrival_rate
    );
}
