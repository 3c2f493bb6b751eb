//! The tending commands' flags: `tenure cache stats|export|import|purge|
//! changes` and `tenure usage`, the store they share (`StoreArgs`), and the
//! long help of each `cache` subcommand. Types only: no I/O, no meaning
//! (that is `config::tend`).

use clap::builder::BoolishValueParser;
use clap::{Args as ClapArgs, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

use super::values;

const CACHE_STATS_LONG: &str = "Count what the store holds, over every source (the real \
API's answers, the sandbox's, another --endpoint's): latest answers (successes and row \
answers such as 224801), history entries, ledger entries (requests sent, and how many were \
billed), runs, live claims, and the oldest and newest answer. Opens the store read-only.\n\n\
Examples:\n    \
tenure cache stats\n    \
tenure cache stats --json --cache postgresql://tenure@db.internal/risk";

const CACHE_EXPORT_LONG: &str = "Write every stored answer, of every source, to standard \
output (or -o FILE, which appears only when complete): CSV with a header, or JSON Lines (one \
object a line), with the columns number, source, code, tenure, province, city, isp, reason \
(a row answer's), endpoint (query or queryEncry), answered_at (RFC 3339, UTC), change (as \
`enrich --changes` writes it) and orderid (the encrypted endpoint's order id, for billing \
disputes). In CSV, the API's text that would start a spreadsheet formula (=, +, -, @) gets \
a ' in front, as enrich writes it; JSON Lines keeps it as sent. Numbers are written whole: \
the file holds personal data; keep it as you keep the store.\n\n\
Examples:\n    \
tenure cache export > answers.csv\n    \
tenure cache export --format jsonl | jq -r 'select(.code == \"99\") | .number'";

const CACHE_IMPORT_LONG: &str = "Merge another SQLite store into this one, in one \
transaction, so that its answers are not paid for again: a version-1 store of an earlier \
tenure (the OUTPUT.cache.sqlite beside an output, which `tenure enrich` points out), or a \
version-2 store such as another user's answers.sqlite. Each answer keeps its source. Where \
both stores have an answer for a number, the newer one wins; history entries are added, \
those already there are not, and every success is compared again with the one before it in \
the merged history: an old answer from before the store's own can make a later one a change \
(`tenure cache changes` lists it). Prints how many answers were added, replaced by newer ones \
and kept. FILE is only read; importing it twice adds nothing.\n\n\
Example:\n    \
tenure cache import out/2026-11-27/enriched.csv.cache.sqlite\n    \
tenure cache import old.sqlite --cache postgresql://tenure@db.internal/risk";

const CACHE_PURGE_LONG: &str = "Remove answers and history entries from the store, of every \
source: those with a code (--code 224801 forgets the numbers the API had no record of, so \
that the next run asks them again; --code 03 forgets the answers of 0 to 3 months), or \
those older than a duration (--older-than 90d: answers that arrived, and history entries \
last given, longer ago). The ledger of requests is never touched: `tenure usage` and \
--max-billed-24h read it. Prints what it removed.\n\n\
Examples:\n    \
tenure cache purge --code 224801\n    \
tenure cache purge --older-than 180d";

const CACHE_CHANGES_LONG: &str = "List the numbers whose answer changed within --since \
(default 30d), oldest first, each with when the changed answer first arrived, the change \
(reassigned, left, returned, isp, region, joined with `;`, as `enrich --changes` writes it) \
and the answer before and after. One source: the real API's (https://v.juhe.cn, or \
--endpoint URL, or TENURE_ENDPOINT as for enrich), or the sandbox's with --sandbox; \
simulated answers are never mixed with real ones.\n\n\
CSV on standard output, with the header number, source, at, change, before_code, \
before_tenure, before_province, before_city, before_isp, after_code, after_tenure, \
after_province, after_city, after_isp (times in RFC 3339, UTC; text from the API that \
starts like a spreadsheet formula gets a leading '); or, with --json, one JSON object a \
line: number, source, at, change, before and after (each code, tenure, province, city, \
isp).\n\n\
Examples:\n    \
tenure cache changes --since 30d > changed.csv\n    \
tenure cache changes --since 7d --json | jq -r 'select(.change | test(\"reassigned\")) | .number'";

/// The store a tending command reads or changes.
#[derive(Debug, ClapArgs)]
pub struct StoreArgs {
    /// The result store: an SQLite file or a PostgreSQL URL (default: enrich's).
    #[arg(
        long,
        env = "TENURE_CACHE",
        // The URL may hold a password: --help never shows the variable's value.
        hide_env_values = true,
        value_name = "FILE|URL",
        long_help = "The result store: an SQLite file, or a PostgreSQL URL (the password \
from the URL or PGPASSWORD). Defaults to the store `tenure enrich` uses: TENURE_CACHE, else \
$XDG_DATA_HOME/tenure/answers.sqlite (or ~/.local/share/tenure/answers.sqlite)."
    )]
    pub cache: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
pub struct CacheArgs {
    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(Debug, Subcommand)]
pub enum CacheCommand {
    /// Count answers, history, ledger entries, runs and claims.
    #[command(long_about = CACHE_STATS_LONG)]
    Stats(CacheStatsArgs),
    /// Write every answer, as CSV or JSON Lines.
    #[command(long_about = CACHE_EXPORT_LONG)]
    Export(CacheExportArgs),
    /// Merge a version-1 or version-2 SQLite store into this one.
    #[command(long_about = CACHE_IMPORT_LONG)]
    Import(CacheImportArgs),
    /// Remove answers by code or by age; never the ledger.
    #[command(long_about = CACHE_PURGE_LONG)]
    Purge(CachePurgeArgs),
    /// List the numbers whose answer changed, with before and after.
    #[command(long_about = CACHE_CHANGES_LONG)]
    Changes(CacheChangesArgs),
}

#[derive(Debug, ClapArgs)]
pub struct CacheStatsArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// Print the counts as a JSON object.
    #[arg(long)]
    pub json: bool,
}

/// `--format` of `tenure cache export`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormatArg {
    /// CSV with a header.
    Csv,
    /// One JSON object a line.
    Jsonl,
}

#[derive(Debug, ClapArgs)]
pub struct CacheExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// csv (with a header) or jsonl (one JSON object a line).
    #[arg(long, env = "TENURE_FORMAT", value_enum, default_value = "csv")]
    pub format: ExportFormatArg,

    /// Write to FILE (complete or not at all) instead of standard output.
    // No TENURE_OUTPUT: that is enrich's output, which an export must not
    // replace.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
pub struct CacheImportArgs {
    /// The SQLite store to merge in (version 1 or 2); only read.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, ClapArgs)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["code", "older_than"])))]
pub struct CachePurgeArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// Remove the answers with this code (224801, 99, 03…).
    // Neither of these reads the environment: a variable set once would
    // delete answers on every run.
    #[arg(long, value_name = "CODE")]
    pub code: Option<String>,

    /// Remove the answers that arrived longer ago than this (90d, 12h).
    #[arg(long, value_name = "DURATION", value_parser = values::duration)]
    pub older_than: Option<Duration>,
}

#[derive(Debug, ClapArgs)]
pub struct CacheChangesArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// The window: changes that arrived within this long (30d, 12h).
    #[arg(
        long,
        env = "TENURE_SINCE",
        value_name = "DURATION",
        default_value = "30d",
        value_parser = values::duration
    )]
    pub since: Duration,

    /// One JSON object a line instead of CSV.
    #[arg(long)]
    pub json: bool,

    /// The API whose answers to compare (its base URL, as enrich's --endpoint).
    #[arg(
        long,
        env = "TENURE_ENDPOINT",
        value_name = "URL",
        default_value = "https://v.juhe.cn",
        value_parser = values::endpoint
    )]
    pub endpoint: String,

    /// The sandbox's answers instead (`enrich --sandbox`); --endpoint is ignored.
    #[arg(long, env = "TENURE_SANDBOX", value_parser = BoolishValueParser::new())]
    pub sandbox: bool,
}

/// `--by` of `tenure usage`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum UsageByArg {
    /// One line per day (YYYY-MM-DD in --tz).
    Day,
    /// One line per run (the run id of the summary JSON).
    Run,
}

#[derive(Debug, ClapArgs)]
pub struct UsageArgs {
    #[command(flatten)]
    pub store: StoreArgs,

    /// The window: from midnight of the day this long ago (30d, 7d, 0s: today).
    #[arg(
        long,
        env = "TENURE_SINCE",
        value_name = "DURATION",
        default_value = "30d",
        value_parser = values::duration
    )]
    pub since: Duration,

    /// day (in --tz) or run.
    #[arg(long, env = "TENURE_BY", value_enum, default_value = "day")]
    pub by: UsageByArg,

    /// The time zone of the days: an IANA name (Asia/Shanghai), UTC, or +08:00.
    #[arg(
        long,
        env = "TENURE_TZ",
        value_name = "ZONE",
        default_value = "Asia/Shanghai",
        value_parser = values::time_zone,
        // `--tz -05:00` is an offset, not a flag.
        allow_hyphen_values = true,
        long_help = "The time zone whose days the report counts: an IANA name \
(Asia/Shanghai, the default and the vendor's clock; Europe/London), UTC, or a fixed offset \
(+08:00). Asia/Shanghai is UTC+08:00 all year, which is used when the system has no time \
zone database (a slim container)."
    )]
    pub tz: jiff::tz::TimeZone,

    /// An array of JSON objects instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Count the runs of `enrich --sandbox` too.
    #[arg(long, env = "TENURE_SANDBOX", value_parser = BoolishValueParser::new())]
    pub sandbox: bool,
}
