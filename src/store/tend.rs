//! Reading and tending the store (DESIGN §4 `tenure cache`, §6 `tenure
//! usage`, §7 `changes`): plain data for the commands to format.
//!
//! `export` writes CSV or JSON Lines itself (it streams); the others return
//! values. Purging never touches the ledger, which `usage` and the 24-hour
//! budget read.

use super::backend::{
    Connection, ImportChunks, Imported, PurgeWhat, Purpose, UsageKey, UsageKeyValue, sqlite,
};
use super::error::DbError;
use super::{Store, StoreError, now_ms};
use crate::api::{Answer, Tenure};
use crate::change::Change;
use serde::Serialize;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Counts over the whole store (every source).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Latest answers, one per number and source.
    pub answers: u64,
    /// Of which successes.
    pub successes: u64,
    pub history: u64,
    pub ledger: u64,
    /// Ledger entries billed.
    pub billed: u64,
    pub runs: u64,
    pub claims: u64,
    /// The oldest and newest latest answer (unix ms).
    pub oldest_ms: Option<i64>,
    pub newest_ms: Option<i64>,
}

/// The format of [`Store::export`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

/// One exported answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportRow {
    pub number: String,
    pub source: String,
    pub answer: Answer,
    /// `query` or `queryEncry`.
    pub endpoint: String,
    pub answered_at_ms: i64,
    /// The change of the latest arrival (`None` for row answers).
    pub change: Option<String>,
    pub orderid: Option<String>,
}

/// What [`Store::import`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportCounts {
    /// Answers for numbers the store did not have.
    pub answers_added: u64,
    /// Answers newer than the store's, which they replaced.
    pub answers_updated: u64,
    /// Answers older than (or as old as) the store's, kept out.
    pub answers_kept: u64,
    pub history_added: u64,
}

/// What to purge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Purge {
    /// Answers and history entries with this code (`224801`, `03`…).
    Code(String),
    /// Answers that arrived, and history entries last given, longer ago.
    OlderThan(Duration),
}

/// What [`Store::purge`] removed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub answers: u64,
    pub history: u64,
}

/// A number whose answer changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeRow {
    pub number: String,
    pub source: String,
    /// When the changed answer first arrived (unix ms).
    pub at_ms: i64,
    pub change: Change,
    pub before: Tenure,
    pub after: Tenure,
}

/// How [`Store::usage`] groups.
#[derive(Clone, Debug, PartialEq)]
pub enum UsageBy {
    /// By local day (`YYYY-MM-DD`) in this time zone.
    Day(jiff::tz::TimeZone),
    /// By run id.
    Run,
}

/// Ledger counts of one day or run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    /// The day (`YYYY-MM-DD`) or the run id.
    pub key: String,
    pub billed: u64,
    pub requests: u64,
    pub unanswered: u64,
}

/// The width of the ledger buckets a day is made of: every time zone's
/// offset and transitions fall on quarter hours.
const BUCKET_MS: i64 = 15 * 60 * 1000;

impl Store {
    /// Counts over the whole store. Commits what is pending first.
    pub fn stats(&self) -> Result<Stats, StoreError> {
        self.flush()?;
        self.reader().stats().map_err(|e| self.error(e))
    }

    /// Writes every answer (all sources) to `out`: CSV with a header, or
    /// one JSON object a line; times in RFC 3339 (UTC).
    pub fn export(&self, format: ExportFormat, out: &mut dyn Write) -> Result<(), StoreError> {
        self.flush()?;
        let mut reader = self.reader();
        let written = match format {
            ExportFormat::Csv => {
                // The header is written by hand, so an empty store has one too.
                let mut csv = csv::WriterBuilder::new()
                    .has_headers(false)
                    .from_writer(&mut *out);
                let exported = csv
                    .write_record(Exported::HEADER)
                    .map_err(std::io::Error::other)
                    .map(|()| {
                        reader.export(&mut |row| {
                            csv.serialize(Exported::from(&row).neutralised())
                                .map_err(std::io::Error::other)
                        })
                    });
                match exported {
                    Ok(Ok(Ok(()))) => Ok(csv.flush()),
                    Ok(other) => other,
                    Err(error) => Ok(Err(error)),
                }
            }
            ExportFormat::Jsonl => reader.export(&mut |row| {
                serde_json::to_writer(&mut *out, &Exported::from(&row))?;
                out.write_all(b"\n")
            }),
        }
        .map_err(|e| self.error(e))?;
        drop(reader);
        written
            .and_then(|()| out.flush())
            .map_err(|error| StoreError::Database {
                store: self.name.clone(),
                detail: format!("writing the export failed: {error}"),
            })
    }

    /// Merges another SQLite store (version 1 or 2) into this one, in one
    /// transaction: the newer answer wins, history entries are added (those
    /// already there are not), and every success of an imported number
    /// records its change against the success before it in the merged
    /// history, the store's later answers included; the first keeps the
    /// change it recorded (an imported one: against the store's successes
    /// first seen before it, `new` when there is none).
    pub fn import(&self, path: &Path) -> Result<ImportCounts, StoreError> {
        self.import_from(path, std::convert::identity)
    }

    /// [`Store::import`] reading `chunk` rows at a time.
    #[cfg(test)]
    pub(crate) fn import_in_chunks_of(
        &self,
        path: &Path,
        chunk: i64,
    ) -> Result<ImportCounts, StoreError> {
        self.import_from(path, |rows| rows.in_chunks_of(chunk))
    }

    fn import_from(
        &self,
        path: &Path,
        reader: impl FnOnce(sqlite::ImportReader) -> sqlite::ImportReader,
    ) -> Result<ImportCounts, StoreError> {
        self.writer()?;
        self.flush()?;
        let name = path.display().to_string();
        let rows = reader(sqlite::ImportReader::open(path).map_err(|e| e.named(&name))?);
        let mut file = FromFile {
            rows,
            name: &name,
            failed: None,
        };
        let imported = self.tending()?.import(&mut file);
        match (imported, file.failed) {
            (Err(_), Some(failed)) => Err(failed),
            (imported, _) => imported.map_err(|e| self.error(e)),
        }
    }

    /// Removes answers and history entries (never ledger entries).
    pub fn purge(&self, purge: &Purge) -> Result<Removed, StoreError> {
        self.writer()?;
        self.flush()?;
        let what = match purge {
            Purge::Code(code) => PurgeWhat::Code(code.clone()),
            Purge::OlderThan(age) => PurgeWhat::Before(now_ms().saturating_sub(millis(*age))),
        };
        self.tending()?.purge(&what).map_err(|e| self.error(e))
    }

    /// The successes that arrived within `since` and changed (not `new`
    /// nor `same`), each with the success before it, oldest first.
    pub fn changes(&self, since: Duration) -> Result<Vec<ChangeRow>, StoreError> {
        self.flush()?;
        let since_ms = now_ms().saturating_sub(millis(since));
        self.reader().changes(since_ms).map_err(|e| self.error(e))
    }

    /// Billed answers, requests and requests with no answer from the ledger
    /// within `since`, by local day or by run, in key order. Sandbox runs are
    /// left out unless `include_sandbox`.
    pub fn usage(
        &self,
        since: Duration,
        by: &UsageBy,
        include_sandbox: bool,
    ) -> Result<Vec<UsageRow>, StoreError> {
        self.flush()?;
        let since_ms = now_ms().saturating_sub(millis(since));
        let key = match by {
            UsageBy::Day(_) => UsageKey::Bucket(BUCKET_MS),
            UsageBy::Run => UsageKey::Run,
        };
        let counts = self
            .reader()
            .usage(since_ms, key, include_sandbox)
            .map_err(|e| self.error(e))?;
        let mut rows: BTreeMap<String, UsageRow> = BTreeMap::new();
        for count in counts {
            let key = match (&count.key, by) {
                (UsageKeyValue::Run(run), _) => run.clone(),
                (UsageKeyValue::Bucket(bucket), UsageBy::Day(zone)) => {
                    day(bucket.saturating_mul(BUCKET_MS), zone)
                }
                (UsageKeyValue::Bucket(bucket), UsageBy::Run) => bucket.to_string(),
            };
            let row = rows.entry(key.clone()).or_insert(UsageRow {
                key,
                billed: 0,
                requests: 0,
                unanswered: 0,
            });
            row.billed += count.billed;
            row.requests += count.requests;
            row.unanswered += count.unanswered;
        }
        Ok(rows.into_values().collect())
    }

    /// A read-write connection for the tending commands.
    fn tending(&self) -> Result<Box<dyn Connection>, StoreError> {
        self.backend
            .connect(Purpose::Write)
            .map_err(|e| self.error(e))
    }
}

/// The local day of an instant, `YYYY-MM-DD`.
fn day(at_ms: i64, zone: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_millisecond(at_ms)
        .map(|at| at.to_zoned(zone.clone()).date().to_string())
        .unwrap_or_else(|_| "invalid".to_owned())
}

/// An instant in RFC 3339, UTC.
pub(super) fn rfc3339(at_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(at_ms)
        .map(|at| at.to_string())
        .unwrap_or_default()
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// One exported answer as written.
#[derive(Serialize)]
struct Exported<'a> {
    number: &'a str,
    source: &'a str,
    code: Cow<'a, str>,
    tenure: Cow<'a, str>,
    province: Cow<'a, str>,
    city: Cow<'a, str>,
    isp: Cow<'a, str>,
    reason: Cow<'a, str>,
    endpoint: &'a str,
    answered_at: String,
    change: Option<&'a str>,
    orderid: Option<Cow<'a, str>>,
}

impl Exported<'_> {
    const HEADER: [&'static str; 12] = [
        "number",
        "source",
        "code",
        "tenure",
        "province",
        "city",
        "isp",
        "reason",
        "endpoint",
        "answered_at",
        "change",
        "orderid",
    ];
}

impl<'a> From<&'a ExportRow> for Exported<'a> {
    fn from(row: &'a ExportRow) -> Exported<'a> {
        let (code, tenure, province, city, isp, reason) = match &row.answer {
            Answer::Tenure(t) => (
                Cow::Borrowed(&*t.code),
                &*t.desc,
                &*t.province,
                &*t.city,
                &*t.isp,
                "",
            ),
            Answer::Declined { code, reason } => {
                (Cow::Owned(code.to_string()), "", "", "", "", &**reason)
            }
            Answer::BilledWithoutCode { reason } => (
                Cow::Borrowed(crate::api::BILLED_WITHOUT_CODE),
                "",
                "",
                "",
                "",
                &**reason,
            ),
        };
        Exported {
            number: &row.number,
            source: &row.source,
            code,
            tenure: Cow::Borrowed(tenure),
            province: Cow::Borrowed(province),
            city: Cow::Borrowed(city),
            isp: Cow::Borrowed(isp),
            reason: Cow::Borrowed(reason),
            endpoint: &row.endpoint,
            answered_at: rfc3339(row.answered_at_ms),
            change: row.change.as_deref(),
            orderid: row.orderid.as_deref().map(Cow::Borrowed),
        }
    }
}

impl<'a> Exported<'a> {
    /// With the API's text that a spreadsheet would run as a formula
    /// (`=`, `+`, `-`, `@`…) prefixed with `'`, as `enrich` writes it: for
    /// CSV, which is opened in spreadsheets; JSON Lines keeps it as sent.
    fn neutralised(self) -> Exported<'a> {
        fn safe(text: Cow<'_, str>) -> Cow<'_, str> {
            match crate::output::neutralise(&text) {
                Cow::Borrowed(_) => text,
                Cow::Owned(prefixed) => Cow::Owned(prefixed),
            }
        }
        Exported {
            code: safe(self.code),
            tenure: safe(self.tenure),
            province: safe(self.province),
            city: safe(self.city),
            isp: safe(self.isp),
            reason: safe(self.reason),
            orderid: self.orderid.map(safe),
            ..self
        }
    }
}

/// The rows of the file being imported: a failure to read them names that
/// file rather than the store they go into, and aborts the import.
struct FromFile<'a> {
    rows: sqlite::ImportReader,
    name: &'a str,
    failed: Option<StoreError>,
}

impl ImportChunks for FromFile<'_> {
    fn answers_only(&self) -> bool {
        self.rows.answers_only()
    }

    fn next_chunk(&mut self) -> Result<Option<Imported>, DbError> {
        self.rows.next_chunk().map_err(|error| {
            let failed = error.named(self.name);
            let detail = failed.to_string();
            self.failed = Some(failed);
            DbError::Other(detail)
        })
    }
}
