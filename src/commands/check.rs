//! `tenure check`: what a run would do, offline and free: counts, invalid
//! numbers by reason with their first rows, duplicates, answers the store
//! already holds, and so the queries a run would bill and how long it would
//! take: at the rate `--qps` allows, unless `--concurrency` caps it lower at
//! the API's `--latency` (the model `--concurrency auto` runs by, in
//! `concurrency`). With `--invalid-out FILE`, the rows that would get no
//! answer, as they were, with their reason.

use csv::ByteRecord;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::concurrency::{self, Concurrency};
use crate::config::{CheckConfig, CheckPace};
use crate::exit::{Error, Exit};
use crate::input::Input;
use crate::number::Number;
use crate::output::Rejects;
use crate::row::parse_cell;
use crate::store::{Store, StoreError};
use crate::usage;

/// How many row numbers each invalid reason lists.
const EXAMPLES: usize = 5;

/// The reason code of a row with more fields than the header.
const TOO_MANY_FIELDS: &str = "too_many_fields";

/// Why a row would get no answer: a reason code and its sentence.
struct Invalid {
    code: &'static str,
    reason: String,
}

/// The report of `tenure check`.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub rows: u64,
    pub valid: u64,
    pub invalid: u64,
    /// By reason code (`too_short`, `scientific_notation`…, and
    /// `too_many_fields` for a row wider than the header, on which enrich
    /// stops): the count and the first data rows (1-based) that have it.
    pub invalid_by_reason: BTreeMap<String, InvalidRows>,
    pub distinct: u64,
    /// Valid rows whose number appeared on an earlier row.
    pub duplicates: u64,
    /// Distinct numbers the store already answers (with --cache).
    pub in_store: u64,
    /// Distinct numbers a run would ask the API about: at most this many
    /// billed queries.
    pub to_query: u64,
    /// `to_query / rate`: how long a run would take.
    pub estimated_secs: f64,
    /// The requests per second the estimate assumes: `--qps` (less the
    /// limiter's slack), or what `concurrency` sustains at `latency_ms` if
    /// that is lower.
    pub rate: f64,
    /// The `--concurrency` assumed: `auto` or a number.
    pub concurrency: String,
    /// The API latency assumed (`--latency`), in milliseconds.
    pub latency_ms: u64,
    /// Whether `concurrency` holds the rate well below `--qps`.
    pub capped: bool,
}

/// The rows that share one reason for being invalid.
#[derive(Debug, Default, Serialize)]
pub struct InvalidRows {
    pub count: u64,
    pub rows: Vec<u64>,
    /// The human reason of the first such row.
    pub example: String,
}

pub fn check(config: CheckConfig, pace: CheckPace) -> Result<Exit, Error> {
    refuse_replacing(&config)?;
    let mut input = Input::open(&config.input, crate::log::Log::default())?;
    let mut rejects = config
        .invalid_out
        .as_deref()
        .map(|path| Rejects::create(path, config.input.delimiter, input.headers.as_ref()))
        .transpose()?;
    let store = open_store(&config)?;
    let mut report = tally(&mut input, rejects.as_mut(), store.as_ref(), config.max_age)?;
    if let Some(rejects) = rejects {
        rejects.commit()?;
    }
    let qps = config.qps.get();
    report.estimate(qps, pace);
    if config.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("a report serialises")
        );
    } else {
        print!("{}", render(&report, &input.name, qps, pace));
    }
    Ok(Exit::Success)
}

/// Refuses an `--invalid-out` that is the input or the store: writing it
/// would replace what the run reads.
fn refuse_replacing(config: &CheckConfig) -> Result<(), Error> {
    if let Some(out) = &config.invalid_out {
        let taken = [config.input.path.as_deref(), config.cache.path()];
        if taken.into_iter().flatten().any(|path| same_file(out, path)) {
            return Err(usage!(
                "--invalid-out {} is the input or the store itself, which it would replace; \
                 name another file",
                out.display()
            ));
        }
    }
    Ok(())
}

/// The store a run would use, read-only; none yet is a store with no
/// answers.
fn open_store(config: &CheckConfig) -> Result<Option<Store>, Error> {
    match Store::open_read_only(&config.cache, config.api.source()) {
        Ok(store) => Ok(Some(store)),
        Err(StoreError::Missing { .. }) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Reads every row into the report's counts (all but the estimate),
/// writing each row that would get no answer to `rejects`.
fn tally(
    input: &mut Input,
    mut rejects: Option<&mut Rejects>,
    store: Option<&Store>,
    max_age: Duration,
) -> Result<Report, Error> {
    let mut report = Report::default();
    // check is a one-off, offline pass: a set of every distinct number is
    // fine here (16 bytes a number), unlike in enrich.
    let mut seen: HashSet<Number> = HashSet::new();
    while let Some(record) = input.next_record()? {
        report.rows += 1;
        match verdict(input, &record) {
            Ok(number) => {
                report.valid += 1;
                if !seen.insert(number) {
                    report.duplicates += 1;
                } else if let Some(store) = store
                    && store.get(&number, max_age)?.is_some()
                {
                    report.in_store += 1;
                }
            }
            Err(invalid) => {
                if let Some(rejects) = rejects.as_deref_mut() {
                    rejects.write(&record, &invalid.reason)?;
                }
                report.count_invalid(invalid);
            }
        }
    }
    report.distinct = seen.len() as u64;
    Ok(report)
}

/// A row's number, or why it would get no answer.
fn verdict(input: &Input, record: &ByteRecord) -> Result<Number, Invalid> {
    // A row wider than the header stops `enrich`: listed here, with the
    // invalid numbers, so that all of them can be fixed in one go.
    match input.too_wide(record) {
        Some(wide) => Err(Invalid {
            code: TOO_MANY_FIELDS,
            reason: format!("{wide}: enrich stops on such a row"),
        }),
        None => parse_cell(record, input.column).map_err(|bad| Invalid {
            code: bad.code(),
            reason: bad.to_string(),
        }),
    }
}

impl Report {
    /// Counts an invalid row under its reason, keeping the first rows and
    /// the first reason as examples.
    fn count_invalid(&mut self, invalid: Invalid) {
        self.invalid += 1;
        let reason = self
            .invalid_by_reason
            .entry(invalid.code.to_owned())
            .or_default();
        reason.count += 1;
        if reason.rows.len() < EXAMPLES {
            reason.rows.push(self.rows);
        }
        if reason.example.is_empty() {
            reason.example = invalid.reason;
        }
    }

    /// What a run would query and how long it would take at `qps` and
    /// `pace`.
    fn estimate(&mut self, qps: u32, pace: CheckPace) {
        self.to_query = self.distinct - self.in_store;
        self.rate = concurrency::estimate(qps, pace.concurrency, pace.latency);
        self.estimated_secs = self.to_query as f64 / self.rate;
        self.concurrency = pace.concurrency.to_string();
        self.latency_ms = u64::try_from(pace.latency.as_millis()).unwrap_or(u64::MAX);
        self.capped = concurrency::capped(qps, pace.concurrency, pace.latency).is_some();
    }
}

/// Whether two paths name one existing file (whatever their spelling).
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

fn render(report: &Report, name: &str, qps: u32, pace: CheckPace) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{name}");
    let _ = writeln!(out, "  rows               {:>10}", report.rows);
    let _ = writeln!(out, "  valid numbers      {:>10}", report.valid);
    let _ = writeln!(out, "  invalid numbers    {:>10}", report.invalid);
    for (code, reason) in &report.invalid_by_reason {
        let rows: Vec<String> = reason.rows.iter().map(u64::to_string).collect();
        let _ = writeln!(
            out,
            "    {code:<20} {:>6}  rows {}{}  ({})",
            reason.count,
            rows.join(", "),
            if reason.count > reason.rows.len() as u64 {
                ", …"
            } else {
                ""
            },
            reason.example
        );
    }
    let _ = writeln!(out, "  distinct numbers   {:>10}", report.distinct);
    let _ = writeln!(out, "  duplicate rows     {:>10}", report.duplicates);
    let _ = writeln!(out, "  already in store   {:>10}", report.in_store);
    let _ = writeln!(
        out,
        "  to query (billed)  {:>10}   at most; at about {:.1} requests/s: {}",
        report.to_query,
        report.rate,
        humantime::format_duration(std::time::Duration::from_secs(
            report.estimated_secs.ceil() as u64
        ))
    );
    let _ = writeln!(
        out,
        "  rate assumed       --qps {qps}, --concurrency {}, --latency {}ms (the API's \
         latency: an assumption; measure it with a small run)",
        report.concurrency, report.latency_ms
    );
    if report.capped {
        let _ = writeln!(
            out,
            "  warning: --concurrency {} holds the run to about {:.1} requests/s at {}ms \
             latency, well below --qps {qps}; {}",
            report.concurrency,
            report.rate,
            report.latency_ms,
            match pace.concurrency {
                Concurrency::Auto => format!(
                    "auto keeps at most {} requests in flight",
                    concurrency::MAX_AUTO
                ),
                Concurrency::Fixed(_) => "raise it, or leave it to --concurrency auto".to_owned(),
            }
        );
    }
    out
}
