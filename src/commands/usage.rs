//! `tenure usage`: billing from the store's ledger (DESIGN §6), per day in
//! a time zone or per run, for reconciling the vendor's invoice: billed
//! answers, requests, and requests that got no answer.
//!
//! Owns the window (whole days from midnight in the zone) and the report's
//! two forms, a table with a total line and a JSON array. The store counts;
//! its billed total is the billed answers received.

use std::io::{BufWriter, Write};
use std::time::Duration;

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Serialize;

use super::cache::{EVERY_SOURCE, report};
use crate::config::UsageConfig;
use crate::exit::{Error, Exit};
use crate::store::{Store, UsageBy, UsageRow};

/// Further back than the first day's midnight the store is asked from, and
/// the rows before that day dropped, so that the first day is whole: the
/// store groups the ledger in quarter hours, and an hour covers several.
const MARGIN: Duration = Duration::from_secs(3600);

/// One line of `--json`.
#[derive(Serialize)]
struct Line<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    day: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<&'a str>,
    billed: u64,
    requests: u64,
    unanswered: u64,
}

pub fn usage(config: UsageConfig) -> Result<Exit, Error> {
    let store = Store::open_read_only(&config.location, EVERY_SOURCE)?;
    let now = Timestamp::now();
    let (rows, caption) = match &config.by {
        UsageBy::Day(zone) => {
            let first = first_midnight(now, config.since, zone);
            let since = Duration::from_millis(
                u64::try_from(now.as_millisecond() - first.as_millisecond()).unwrap_or(0),
            ) + MARGIN;
            let day = first.to_zoned(zone.clone()).date().to_string();
            let mut rows = store.usage(since, &config.by, config.include_sandbox)?;
            rows.retain(|row| row.key >= day);
            let caption = format!("by day in {}, since {day}", zone_name(zone, now));
            (rows, caption)
        }
        UsageBy::Run => {
            let rows = store.usage(config.since, &config.by, config.include_sandbox)?;
            let from = now
                .checked_sub(jiff::SignedDuration::try_from(config.since).unwrap_or_default())
                .unwrap_or(Timestamp::MIN);
            let from = from.strftime("%Y-%m-%dT%H:%M:%SZ");
            (rows, format!("by run, requests since {from}"))
        }
    };
    let by_day = matches!(config.by, UsageBy::Day(_));
    let sandbox = if config.include_sandbox {
        "sandbox runs included"
    } else {
        "sandbox runs left out (--sandbox counts them)"
    };
    report(BufWriter::new(std::io::stdout().lock()), |out| {
        if config.json {
            json(out, &rows, by_day)
        } else {
            writeln!(out, "billed answers {caption}; {sandbox}")?;
            table(out, &rows, if by_day { "day" } else { "run" })
        }
    })
}

/// Midnight in `zone` of the day `since` before `now`: where a report of
/// whole days starts (today's midnight for `0s`).
fn first_midnight(now: Timestamp, since: Duration, zone: &TimeZone) -> Timestamp {
    let back = jiff::SignedDuration::try_from(since).unwrap_or(jiff::SignedDuration::MAX);
    let then = now.checked_sub(back).unwrap_or(Timestamp::MIN);
    then.to_zoned(zone.clone())
        .start_of_day()
        .map_or(then, |midnight| midnight.timestamp())
}

/// The zone as the caption names it: its IANA name, else its offset now.
fn zone_name(zone: &TimeZone, now: Timestamp) -> String {
    zone.iana_name()
        .map_or_else(|| zone.to_offset(now).to_string(), str::to_owned)
}

fn json(out: &mut dyn Write, rows: &[UsageRow], by_day: bool) -> std::io::Result<()> {
    let lines: Vec<Line<'_>> = rows
        .iter()
        .map(|row| Line {
            day: by_day.then_some(row.key.as_str()),
            run: (!by_day).then_some(row.key.as_str()),
            billed: row.billed,
            requests: row.requests,
            unanswered: row.unanswered,
        })
        .collect();
    serde_json::to_writer_pretty(&mut *out, &lines)?;
    writeln!(out)
}

/// The rows under a header, then a total line.
fn table(out: &mut dyn Write, rows: &[UsageRow], key: &str) -> std::io::Result<()> {
    let total = UsageRow {
        key: "total".to_owned(),
        billed: rows.iter().map(|row| row.billed).sum(),
        requests: rows.iter().map(|row| row.requests).sum(),
        unanswered: rows.iter().map(|row| row.unanswered).sum(),
    };
    let width = rows
        .iter()
        .chain([&total])
        .map(|row| row.key.chars().count())
        .max()
        .unwrap_or(0)
        .max(key.len());
    let headers = ["billed", "requests", "unanswered"];
    let number = |n: u64, header: &str| format!("  {n:>w$}", w = header.len().max(8));
    writeln!(
        out,
        "{key:<width$}{}",
        headers
            .iter()
            .map(|h| format!("  {h:>w$}", w = h.len().max(8)))
            .collect::<String>()
    )?;
    for row in rows.iter().chain([&total]) {
        writeln!(
            out,
            "{:<width$}{}{}{}",
            row.key,
            number(row.billed, headers[0]),
            number(row.requests, headers[1]),
            number(row.unanswered, headers[2]),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_starts_at_midnight_in_the_zone() {
        let shanghai = TimeZone::fixed(jiff::tz::Offset::constant(8));
        // 2026-11-28 01:30 in Shanghai.
        let now: Timestamp = "2026-11-27T17:30:00Z".parse().expect("a timestamp");
        let day = Duration::from_secs(86_400);
        let today: Timestamp = "2026-11-27T16:00:00Z".parse().expect("a timestamp");
        assert_eq!(first_midnight(now, Duration::ZERO, &shanghai), today);
        let first: Timestamp = "2026-10-28T16:00:00Z".parse().expect("a timestamp");
        assert_eq!(first_midnight(now, day * 30, &shanghai), first);
        // In UTC the same instant is still the 27th.
        let utc_today: Timestamp = "2026-11-27T00:00:00Z".parse().expect("a timestamp");
        assert_eq!(
            first_midnight(now, Duration::ZERO, &TimeZone::UTC),
            utc_today
        );
        // Beyond the calendar: the earliest day, not a panic.
        let _ = first_midnight(now, Duration::MAX, &shanghai);
    }

    #[test]
    fn the_table_ends_with_a_total_line() {
        let rows = [
            UsageRow {
                key: "2026-11-27".to_owned(),
                billed: 98,
                requests: 104,
                unanswered: 1,
            },
            UsageRow {
                key: "2026-11-28".to_owned(),
                billed: 100,
                requests: 1_000_000_000,
                unanswered: 2,
            },
        ];
        let mut out = Vec::new();
        table(&mut out, &rows, "day").expect("a Vec takes every write");
        let text = String::from_utf8(out).expect("UTF-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert!(lines[0].starts_with("day "), "{text}");
        let total: Vec<&str> = lines[3].split_whitespace().collect();
        assert_eq!(total, ["total", "198", "1000000104", "3"]);
    }
}
