//! `tenure enrich`'s flags: the output, the pace and retries, the store and
//! the rate group, budgets, changes, secrets' files and how the run reports.
//! Every flag but the secrets' files reads `TENURE_<FLAG>`. Types only: no
//! I/O, no meaning (that is `config::enrich`).

use clap::Args as ClapArgs;
use clap::builder::BoolishValueParser;
use std::path::PathBuf;
use std::time::Duration;

use super::values;
use super::{InputArgs, SourceArgs};
use crate::concurrency::Concurrency;
use crate::log::LogFormat;

#[derive(Debug, ClapArgs)]
pub struct EnrichArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub source: SourceArgs,

    /// The output CSV, or `-` for standard output.
    #[arg(
        short,
        long,
        env = "TENURE_OUTPUT",
        value_name = "FILE",
        long_help = "The output CSV, or `-` for standard output. A file is written to a \
temporary name in the same folder and renamed into place only when the run ends with exit \
0 or 3, so a downstream job never reads half a file."
    )]
    pub output: PathBuf,

    /// Requests in flight: `auto` (as the latency needs) or a number.
    #[arg(
        long,
        env = "TENURE_CONCURRENCY",
        value_name = "N|auto",
        default_value = "auto",
        long_help = "How many requests may be in flight at once. `auto`, the default, keeps as \
many as the run's rate needs at the latency it measures (Little's law, with headroom), \
between 4 and 256, so that --qps is reached whatever the API's latency. A number (1 to \
1024) fixes it; a run that it holds well below --qps says so once."
    )]
    pub concurrency: Concurrency,

    /// Retries per number for transient failures (224805, 5xx, timeouts…).
    #[arg(
        long,
        env = "TENURE_RETRIES",
        value_name = "N",
        default_value_t = 5,
        long_help = "Retries per number for transient failures (224805, 10014, 10011, HTTP \
5xx or 429, timeouts, dropped connections, bodies that are not the API's JSON), with \
exponential backoff and full jitter. Each retry waits for the rate limit like any request."
    )]
    pub retries: u32,

    /// Seconds a request may take (0.1 to 3600).
    #[arg(
        long,
        env = "TENURE_TIMEOUT",
        value_name = "SECS",
        default_value = "10",
        value_parser = values::timeout
    )]
    pub timeout: Duration,

    /// The first retry's backoff ceiling; it doubles per retry.
    #[arg(
        long,
        env = "TENURE_BACKOFF_BASE",
        value_name = "DURATION",
        default_value = "200ms",
        value_parser = values::backoff
    )]
    pub backoff_base: Duration,

    /// The most a single backoff may wait (at most 10m).
    #[arg(
        long,
        env = "TENURE_BACKOFF_CAP",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = values::backoff
    )]
    pub backoff_cap: Duration,

    /// Keep no store (a rerun will pay again); overrides --cache and TENURE_CACHE.
    #[arg(long, env = "TENURE_NO_CACHE", value_parser = BoolishValueParser::new())]
    pub no_cache: bool,

    /// Share the rate and the 24-hour budget with the group's other runs.
    #[arg(
        long,
        env = "TENURE_RATE_GROUP",
        value_name = "NAME",
        long_help = "The rate group: runs that share a store and a group together start at \
most Q requests in any one second, Q the smallest --qps among them, sharing it as each \
needs. Defaults to a name derived from the key (the first 12 hex digits of its SHA-256, \
never the key), since the API limits each key and calling address. Give runs behind \
different addresses different groups."
    )]
    pub rate_group: Option<String>,

    /// Bill at most N answers in this run; the rest get error_code `budget`.
    #[arg(
        long,
        env = "TENURE_MAX_BILLED",
        value_name = "N",
        long_help = "Bill at most N answers in this run: a request is sent only while the \
answers billed plus the requests in flight stay under N. Rows left unasked get error_code \
`budget`; the output is written and the run exits 3; a rerun goes on with them."
    )]
    pub max_billed: Option<u64>,

    /// Bill at most N answers over 24 hours in the rate group, all runs together.
    #[arg(
        long = "max-billed-24h",
        env = "TENURE_MAX_BILLED_24H",
        value_name = "N",
        long_help = "Bill at most N answers over the last 24 hours in the rate group, all its \
runs together (counted from the store's ledger, requests in flight included). Rows left \
unasked get error_code `budget`, as with --max-billed."
    )]
    pub max_billed_24h: Option<u64>,

    /// With --sandbox: the simulator's epoch, when answers have changed.
    #[arg(
        long,
        env = "TENURE_SANDBOX_EPOCH",
        value_name = "N",
        requires = "sandbox",
        default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=1000),
        long_help = "With --sandbox: answer as the simulator does at epoch N (see `tenure sandbox \
--epoch`): at each epoch a known share of numbers is reassigned, leaves the network, returns, \
is ported or moves, so that --changes has something to show. Epoch 0 is today."
    )]
    pub sandbox_epoch: u64,

    /// Append a `change` column: what changed since the number's last answer.
    #[arg(
        long,
        env = "TENURE_CHANGES",
        value_parser = BoolishValueParser::new(),
        long_help = "Append a column `change` after the seven: how the number's answer \
compares with its previous successful answer in the store (recorded when it arrived, so a \
rerun writes the same value); empty for rows without a successful answer.\n\n\
  new         no earlier answer\n\
  same        nothing changed (a higher tenure alone is natural ageing)\n\
  reassigned  tenure lower than before: the operator gave the number to someone new\n\
  left        now 99: the number left the network\n\
  returned    before 99, now in service again\n\
  isp         another carrier: the number was ported\n\
  region      another province or city\n\n\
Several kinds join with `;` (reassigned;isp)."
    )]
    pub changes: bool,

    /// Write the run summary as JSON to FILE.
    #[arg(long, env = "TENURE_SUMMARY_JSON", value_name = "FILE")]
    pub summary_json: Option<PathBuf>,

    /// Read the API key from FILE instead of JUHE_KEY.
    #[arg(long, value_name = "FILE")]
    pub key_file: Option<PathBuf>,

    /// Read the openid from FILE instead of JUHE_OPENID.
    #[arg(long, value_name = "FILE")]
    pub openid_file: Option<PathBuf>,

    /// Write for Excel: a UTF-8 BOM, CRLF line ends, codes kept as text.
    #[arg(
        long,
        env = "TENURE_EXCEL",
        value_parser = BoolishValueParser::new(),
        long_help = "Write the output for Excel: a UTF-8 BOM (so that Chinese text opens \
right), CRLF line ends, and the codes in tenure_code and error_code kept as text (`=\"03\"`), \
so that Excel never shows `03` (up to 3 months) as `3` (over 24 months). Without it the \
bytes are what programs expect: no BOM, LF, codes as the API sent them."
    )]
    pub excel: bool,

    /// Start the output with a UTF-8 BOM only (older scripts; see --excel).
    #[arg(long, env = "TENURE_BOM", value_parser = BoolishValueParser::new(), hide = true)]
    pub bom: bool,

    /// No progress bar and no summary on stderr (errors still show).
    #[arg(short, long, env = "TENURE_QUIET", value_parser = BoolishValueParser::new())]
    pub quiet: bool,

    /// How often a progress line is logged when stderr is not a terminal.
    #[arg(
        long,
        env = "TENURE_PROGRESS_INTERVAL",
        value_name = "DURATION",
        default_value = "10s",
        value_parser = values::duration,
        long_help = "How often a timestamped progress line (rows done, percent of the \
input, billed, errors, rate, ETA) is written when stderr is not a terminal: cron, \
Airflow, Kubernetes. `0s` writes none. On a terminal the progress bar shows instead."
    )]
    pub progress_interval: Duration,

    /// `text` for people, or `json`: every stderr line a JSON object.
    #[arg(
        long,
        env = "TENURE_LOG_FORMAT",
        value_name = "FORMAT",
        default_value = "text",
        value_parser = values::log_format,
        long_help = "How lines on stderr are written: `text` for people, or `json`, one JSON \
object a line with `time`, `level` and `message` (and `event` with its fields for progress \
and the summary), for log collectors."
    )]
    pub log_format: LogFormat,
}
