//! The command line as the user types it: clap derive types that mirror
//! DESIGN §2, with a short and a long help for every flag. Each value is
//! typed here, by the parsers in `values` (durations, URLs, delimiters…),
//! so a bad value is refused by clap with the flag's name. No I/O:
//! `config` combines the values into a validated `Config`, and nothing
//! below `config` sees clap.

mod values;

use clap::builder::BoolishValueParser;
use clap::{Args as ClapArgs, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

use crate::concurrency::Concurrency;
use crate::input::{ColumnSpec, Encoding};
use crate::log::LogFormat;

/// The build, as `--version` names it: the version and, when built from a
/// git checkout, the commit and its date (see `build.rs`).
pub const VERSION: &str = env!("TENURE_VERSION");

/// Enrich CSV files of Chinese mobile numbers with their network tenure.
#[derive(Debug, Parser)]
#[command(
    name = "tenure",
    version = VERSION,
    // A flag given twice takes its last value, so a script can append
    // overrides to a base command line.
    args_override_self = true,
    about = "Enrich CSV files of Chinese mobile numbers with their network tenure (Juhe 手机在网时长)",
    long_about = "Enrich CSV files of Chinese mobile numbers with their network tenure, \
province, city and carrier from the Juhe \"手机在网时长\" API: at the rate limit, never \
paying twice for a number, with the key kept out of every URL and log.\n\n\
Try it now, with no key and no network, against the built-in simulator:\n\n    \
tenure enrich fixtures/sample.csv -o enriched.csv --sandbox\n\n\
Secrets come from the environment (JUHE_KEY, JUHE_OPENID) or from --key-file / \
--openid-file, never from an argument.",
    after_long_help = "Exit codes: 0 every row answered; 1 internal error; 2 usage or input \
error; 3 output written but some rows failed after their retries (rerun to retry only \
those); 4 stopped: the API refused the batch or looks down; 130 interrupted."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Enrich a CSV: append tenure_code, tenure, province, city, isp, error_code, error.
    #[command(long_about = ENRICH_LONG)]
    Enrich(EnrichArgs),
    /// Validate a CSV offline: counts, duplicates, cost and time estimate.
    #[command(long_about = CHECK_LONG)]
    Check(CheckArgs),
    /// Serve the built-in API simulator on loopback.
    #[command(long_about = SANDBOX_LONG)]
    Sandbox(SandboxArgs),
    /// Print the encrypted form of numbers, as `queryEncry` takes them.
    #[command(long_about = ENCRYPT_LONG)]
    Encrypt(EncryptArgs),
    /// Print the completion script for a shell (bash, zsh, fish…).
    #[command(long_about = COMPLETIONS_LONG)]
    Completions(CompletionsArgs),
    /// Print the man page, or write every page into a folder.
    #[command(long_about = MANPAGE_LONG)]
    Manpage(ManpageArgs),
    /// Read and tend the result store: stats, export, import, purge, changes.
    #[command(long_about = CACHE_LONG)]
    Cache(CacheArgs),
    /// Billed answers and requests by day or by run, from the store's ledger.
    #[command(long_about = USAGE_LONG)]
    Usage(UsageArgs),
}

const ENRICH_LONG: &str = "Enrich a CSV of mobile numbers.\n\n\
Reads INPUT as a stream, normalises and validates the number column, asks the API about \
each distinct number once (answers are kept in a local store, so duplicates, reruns after \
a crash and tonight's rerun of last night's file cost nothing), and writes OUTPUT: the \
input's columns unchanged, then tenure_code, tenure, province, city, isp, error_code, \
error, one row per input row, in input order. OUTPUT appears only when the run ends \
(exit 0 or 3), never half-written. In the seven added columns, text that starts with =, +, \
-, @, a tab or a carriage return (which spreadsheets take for a formula) is written with a \
leading ' so that it stays text; the input's own fields are never changed.\n\n\
Every flag also reads TENURE_<FLAG> from the environment (TENURE_QPS=50, \
TENURE_NO_HEADERS=true, TENURE_CACHE=/data/answers.sqlite); the command line wins. The \
key and the openid never do: they come from JUHE_KEY, JUHE_OPENID or --key-file / \
--openid-file.\n\n\
Examples:\n    \
tenure enrich fixtures/sample.csv -o enriched.csv --sandbox\n    \
JUHE_KEY=... tenure enrich numbers.csv -o enriched.csv --qps 50 --concurrency 16\n    \
JUHE_KEY=... JUHE_OPENID=... tenure enrich numbers.csv -o out.csv --encrypt -c 手机号";

const CHECK_LONG: &str = "Validate a CSV offline, with no key and no request: rows, valid \
and invalid numbers by reason (with the first rows of each), distinct numbers, duplicates, \
how many answers the store already holds, and so how many billed queries and how long \
`enrich` would take at --qps.\n\n\
Examples:\n    tenure check numbers.csv --cache enriched.csv.cache.sqlite --qps 50\n    \
tenure check numbers.csv --invalid-out invalid.csv";

const SANDBOX_LONG: &str = "Serve the built-in simulator of the Juhe API on loopback. It \
answers deterministically from the number (carrier from the segment, a real province and \
city, every tenure code, 2% 224801), checks the key, decrypts queryEncry, and can inject \
latency and faults. GET /__stats shows what it received and billed.\n\n\
Example:\n    tenure sandbox --listen 127.0.0.1:8080 --latency-ms 50 --p-224805 0.05\n    \
JUHE_KEY=sandbox-key tenure enrich in.csv -o out.csv --endpoint http://127.0.0.1:8080";

const ENCRYPT_LONG: &str = "Print the encrypted form of each number, one per line, as the \
queryEncry endpoint takes it: AES-128-ECB keyed by the first 16 hex characters of \
MD5(openid), in Base64. The openid comes from JUHE_OPENID or --openid-file.\n\n\
Example:\n    JUHE_OPENID=JHtestopenid0000 tenure encrypt 13800138000";

const COMPLETIONS_LONG: &str = "Print the completion script for SHELL on standard output.\n\n\
Examples:\n    \
tenure completions bash > ~/.local/share/bash-completion/completions/tenure\n    \
tenure completions zsh > ~/.zfunc/_tenure     # with fpath+=(~/.zfunc) before compinit\n    \
tenure completions fish > ~/.config/fish/completions/tenure.fish";

const MANPAGE_LONG: &str = "Print the man page tenure(1) on standard output or, given a \
FOLDER, write tenure.1 and a page per command (tenure-enrich.1, tenure-check.1…) into it.\n\n\
Examples:\n    \
tenure manpage | man -l -\n    \
sudo tenure manpage /usr/local/share/man/man1";

/// Where the numbers are and how the file is shaped (shared by enrich and check).
#[derive(Debug, ClapArgs)]
pub struct InputArgs {
    /// The input CSV, or `-` for standard input.
    pub input: PathBuf,

    /// The number column, by header name or 1-based index.
    #[arg(
        short = 'c',
        long,
        env = "TENURE_COLUMN",
        value_name = "NAME|N",
        value_parser = values::column,
        long_help = "The number column, by header name or 1-based index. By default, the \
first header named like a phone number column: mobile, mobile_no, mobile_number, phone, \
phone_no, phone_number, tel, telephone, cellphone, 手机, 手机号, 手机号码, 电话, 电话号码, \
号码, 联系电话, 联系手机, 联系方式, 客户手机, 客户电话, 移动电话 and a few more, compared \
without case, spaces, underscores, hyphens or dots. When none matches, the error lists the \
headers (and, when the header is one column holding tabs, says to pass --delimiter '\\t')."
    )]
    pub column: Option<ColumnSpec>,

    /// The field delimiter (`,`; `\t` for .tsv files).
    #[arg(
        long,
        env = "TENURE_DELIMITER",
        value_name = "CHAR",
        value_parser = values::delimiter,
        long_help = "The field delimiter: one ASCII character, or `\\t` for a tab. Defaults \
to `,`, and to a tab for files ending in .tsv."
    )]
    pub delimiter: Option<u8>,

    /// The input has no header row; --column is then an index (default 1).
    #[arg(long, env = "TENURE_NO_HEADERS", value_parser = BoolishValueParser::new())]
    pub no_headers: bool,

    /// The input's text encoding: auto, utf-8 or gbk.
    #[arg(
        long,
        env = "TENURE_ENCODING",
        value_name = "ENC",
        default_value = "auto",
        value_parser = values::encoding,
        long_help = "The input's text encoding: `utf-8`, `gbk` (read as GB18030, which \
Excel on a Chinese Windows writes), or `auto`: UTF-8 when the file's bytes are valid \
UTF-8, GB18030 otherwise (standard input and pipes, which cannot be read twice, are \
judged at their first non-ASCII byte). The output is always UTF-8; bytes that are \
neither stop the run with the line they are on."
    )]
    pub encoding: Encoding,

    /// The most bytes a record may take (the header too); default 1MiB.
    #[arg(
        long,
        env = "TENURE_MAX_RECORD_BYTES",
        value_name = "SIZE",
        default_value = "1MiB",
        value_parser = values::size,
        long_help = "The most bytes one record (a row, or the header) may take, in bytes or \
with a unit: 4194304, 512KiB, 4MiB. A longer record stops the run with exit 2, naming the \
line it starts on: a file with no line ends (or a quote that never closes) would otherwise \
be read into memory whole. Raise it for rows that really are that long."
    )]
    pub max_record_bytes: u64,
}

/// Which API answers, and where its answers are kept.
#[derive(Debug, ClapArgs)]
pub struct SourceArgs {
    /// The API base URL.
    #[arg(
        long,
        env = "TENURE_ENDPOINT",
        value_name = "URL",
        default_value = "https://v.juhe.cn",
        value_parser = values::endpoint,
        long_help = "The API base URL; requests go to URL/mobileOnline/query (or \
queryEncry). The key travels in the POST body, never in the URL."
    )]
    pub endpoint: String,

    /// Run against the built-in simulator, in-process: no key, no network.
    #[arg(
        long,
        env = "TENURE_SANDBOX",
        value_parser = BoolishValueParser::new(),
        long_help = "Run against the built-in simulator of the API, started in-process on \
loopback with its own key and openid. No key and no network needed; every answer is \
simulated, and the summary says so; --endpoint (and TENURE_ENDPOINT) is ignored. The \
simulator counts requests per number (that is how tests prove nothing was paid twice), so \
its memory grows with the numbers asked: it is for trying the tool; measure large files \
against `tenure sandbox` in its own process."
    )]
    pub sandbox: bool,

    /// Use the encrypted endpoint (queryEncry); needs JUHE_OPENID.
    #[arg(
        long,
        env = "TENURE_ENCRYPT",
        value_parser = BoolishValueParser::new(),
        long_help = "Use the encrypted endpoint /mobileOnline/queryEncry: each number \
travels AES-encrypted with a key derived from your openid (JUHE_OPENID or --openid-file), \
so no plaintext number leaves the machine."
    )]
    pub encrypt: bool,

    /// The result store: an SQLite file or a PostgreSQL URL.
    #[arg(
        long,
        env = "TENURE_CACHE",
        // The value may hold a PostgreSQL password: --help never shows it.
        hide_env_values = true,
        value_name = "FILE|URL",
        long_help = "The result store of final answers (never the key or the openid): an \
SQLite file, or a PostgreSQL URL (postgresql://user@host/db?sslmode=require; the password \
from the URL or PGPASSWORD) that every job of a team shares, on any host. Defaults to \
TENURE_CACHE, else the user's own store, $XDG_DATA_HOME/tenure/answers.sqlite (or \
~/.local/share/tenure/answers.sqlite), whatever the output: every run of the user pays \
once for a number."
    )]
    pub cache: Option<PathBuf>,

    /// Reuse stored answers younger than this (90s, 12h, 7d).
    #[arg(
        long,
        env = "TENURE_MAX_AGE",
        value_name = "DURATION",
        default_value = "24h",
        value_parser = values::duration,
        long_help = "Reuse stored answers younger than this, so that tonight's run does not \
pay again for what last night's asked: `90s`, `30m`, `12h`, `7d`."
    )]
    pub max_age: Duration,

    /// The most requests started in any one second.
    #[arg(
        long,
        env = "TENURE_QPS",
        value_name = "N",
        default_value_t = 10,
        value_parser = clap::value_parser!(u32).range(1..)
    )]
    pub qps: u32,
}

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

#[derive(Debug, ClapArgs)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub source: SourceArgs,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// Write the invalid rows, as they were, with a `reason` column, to FILE.
    #[arg(
        long,
        value_name = "FILE",
        long_help = "Write the rows that would get no answer (invalid numbers, rows too \
short to have the number column, rows wider than the header) to FILE: the header, then \
each such row as it was, with a `reason` column after it saying why, in the input's \
delimiter, as UTF-8. FILE appears only when complete."
    )]
    pub invalid_out: Option<PathBuf>,

    /// Requests in flight the estimate assumes: `auto` or a number, as for enrich.
    #[arg(
        long,
        env = "TENURE_CONCURRENCY",
        value_name = "N|auto",
        default_value = "auto",
        long_help = "The --concurrency the run would have, for the time estimate: `auto`, \
the default (as many in flight as --qps needs at --latency, between 4 and 256), or a \
number. A number that holds the rate below --qps at --latency is said in the report."
    )]
    pub concurrency: Concurrency,

    /// The API's typical latency the estimate assumes (default 150ms).
    #[arg(
        long,
        env = "TENURE_LATENCY",
        value_name = "DURATION",
        default_value = "150ms",
        value_parser = values::duration,
        long_help = "The API's typical latency, from sending a request to its answer, that \
the time estimate assumes: 150ms by default, an assumption, not a measurement. Measure \
yours with a small run: `tenure enrich` on a few hundred numbers with --concurrency N and a \
--qps it cannot reach makes about N / latency requests a second, so latency is about N / \
the request_rate of its --summary-json."
    )]
    pub latency: Duration,
}

#[derive(Debug, ClapArgs)]
pub struct SandboxArgs {
    /// The address to serve on; port 0 picks a free one.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        long_help = "The address to serve on, like 127.0.0.1:8080; port 0 picks a free \
one. The first line on standard output is always `tenure sandbox listening on \
http://ADDR` with the real address, for scripts and tests to read."
    )]
    pub listen: std::net::SocketAddr,

    /// The key the simulator accepts.
    #[arg(long, default_value = crate::sandbox::DEFAULT_KEY)]
    pub key: String,

    /// The openid whose key decrypts queryEncry numbers.
    #[arg(long, default_value = crate::sandbox::DEFAULT_OPENID)]
    pub openid: String,

    /// Milliseconds every answer waits.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,

    /// Up to this many more milliseconds, at random.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub jitter_ms: u64,

    /// Probability (0 to 1) of a transient 224805 (网络异常,请重试).
    #[arg(long = "p-224805", value_name = "P", default_value_t = 0.0,
        value_parser = crate::sandbox::parse_probability)]
    pub p_retry: f64,

    /// Probability (0 to 1) of an HTTP 500.
    #[arg(long = "p-500", value_name = "P", default_value_t = 0.0,
        value_parser = crate::sandbox::parse_probability)]
    pub p_http_500: f64,

    /// Probability (0 to 1) of an HTTP 503.
    #[arg(long = "p-503", value_name = "P", default_value_t = 0.0,
        value_parser = crate::sandbox::parse_probability)]
    pub p_http_503: f64,

    /// Probability (0 to 1) of dropping the connection without an answer.
    #[arg(long, value_name = "P", default_value_t = 0.0,
        value_parser = crate::sandbox::parse_probability)]
    pub p_drop: f64,

    /// Probability (0 to 1) of a body that is not the API's JSON.
    #[arg(long, value_name = "P", default_value_t = 0.0,
        value_parser = crate::sandbox::parse_probability)]
    pub p_garbage: f64,

    /// After N billed answers, answer 10012 (quota exhausted).
    #[arg(long, value_name = "N")]
    pub quota: Option<u64>,

    /// Answer 10011 to requests beyond N in the trailing second.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,

    /// The seed of the injected faults, so that a run is reproducible.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Answer as at epoch N: later epochs reassign, retire, port and move numbers.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=crate::sandbox::MAX_EPOCH),
        long_help = "Answer as the API would N epochs (say, months) later, deterministically, \
so that runs a \"month\" apart show what changed. Epoch 0 gives the usual answers; each \
later epoch starts from the previous one's and, of the numbers with a record, reassigns \
about 5% (their tenure drops to 03), retires 5% (to 99), brings back 10% of those at 99 (to \
a bucket), ports 5% to another carrier and moves 5% to another city, at most one change \
per number per epoch, decided by hashing the number with the epoch. At most 1000.\n\n\
Example: tenure sandbox --listen 127.0.0.1:0 --epoch 1"
    )]
    pub epoch: u64,

    /// Scripted answers for one number: NUMBER=STEP,STEP,… (repeatable).
    #[arg(
        long,
        value_name = "NUMBER=STEPS",
        value_parser = crate::sandbox::parse_script,
        long_help = "Scripted answers for one number, in order: NUMBER=STEP,STEP,… where a \
step is `ok`, an API error code (224805, 224801, 10001…), `http_500` (any 400–599), \
`drop` (close the connection), `garbage` (a body that is not the JSON), or one of two \
hostile answers: `echo` (HTTP 200 with error_code 224808 whose reason repeats the raw \
request body, key and number included, as a misconfigured proxy does) and `huge` (HTTP \
200 with a 1 GiB body of `a`s, streamed, never held in memory). A trailing `*` repeats \
the last step forever. After the steps, the number answers normally. Example: --script \
13800138000=224805,224805,ok --script 13900139000=echo,huge*"
    )]
    pub script: Vec<(String, crate::sandbox::Script)>,
}

#[derive(Debug, ClapArgs)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, ClapArgs)]
pub struct ManpageArgs {
    /// The folder to write the pages into (made if missing); none prints tenure(1).
    #[arg(value_name = "FOLDER")]
    pub folder: Option<PathBuf>,
}

#[derive(Debug, ClapArgs)]
pub struct EncryptArgs {
    /// The numbers to encrypt (normalised first, like the enrich input).
    #[arg(required = true, value_name = "NUMBER")]
    pub numbers: Vec<String>,

    /// Read the openid from FILE instead of JUHE_OPENID.
    #[arg(long, value_name = "FILE")]
    pub openid_file: Option<PathBuf>,

    /// Print the form-urlencoded form (`+` as `%2B`) instead of Base64.
    #[arg(long)]
    pub urlencode: bool,
}

const CACHE_LONG: &str = "Read and tend the result store (DESIGN §4): what it holds \
(stats), every answer as CSV or JSON Lines (export), the answers of another store merged in \
(import: a version-1 store of an earlier tenure, such as an OUTPUT.cache.sqlite, or another \
version-2 file), answers removed (purge; never the ledger of requests, which `tenure usage` \
and --max-billed-24h read), and the numbers whose answer changed (changes).\n\n\
Each command works on the store `tenure enrich` uses: --cache FILE|URL, else TENURE_CACHE, \
else $XDG_DATA_HOME/tenure/answers.sqlite (or ~/.local/share/tenure/answers.sqlite). \
Numbers are your own data written to your own standard output here, so they are shown \
whole; messages on stderr never show one.\n\n\
Examples:\n    \
tenure cache stats\n    \
tenure cache export --format jsonl -o answers.jsonl\n    \
tenure cache import out/2026-11-27/enriched.csv.cache.sqlite\n    \
tenure cache purge --code 224801\n    \
tenure cache changes --since 30d > changed.csv";

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
disputes). Numbers are written whole: the file holds personal data; keep it as you keep \
the store.\n\n\
Examples:\n    \
tenure cache export > answers.csv\n    \
tenure cache export --format jsonl | jq -r 'select(.code == \"99\") | .number'";

const CACHE_IMPORT_LONG: &str = "Merge another SQLite store into this one, in one \
transaction, so that its answers are not paid for again: a version-1 store of an earlier \
tenure (the OUTPUT.cache.sqlite beside an output, which `tenure enrich` points out), or a \
version-2 store such as another user's answers.sqlite. Each answer keeps its source. Where \
both stores have an answer for a number, the newer one wins; history entries are added, \
those already there are not. Prints how many answers were added, replaced by newer ones \
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

const USAGE_LONG: &str = "Report billing from the store's ledger (DESIGN §6): billed \
answers, requests sent and requests with no answer (timeouts, dropped connections…), per \
day in --tz (default Asia/Shanghai, the vendor's clock) or per run (the run id of the \
summary JSON), over every run that shared the store, so that the vendor's invoice can be \
reconciled. Its billed total equals the billed answers received.\n\n\
Days are whole: --since 30d starts at midnight (in --tz) of the day 30 days ago. With \
--by run, the requests within --since are counted. Runs of `enrich --sandbox` are left out \
unless --sandbox; runs against another --endpoint (a `tenure sandbox` in its own process, \
a proxy) are counted like the real API's, since the ledger cannot tell them apart.\n\n\
A table with a total line, or with --json an array of objects, each with `day` (or `run`), \
`billed`, `requests` and `unanswered`.\n\n\
Examples:\n    \
tenure usage\n    \
tenure usage --since 7d --by run --json\n    \
tenure usage --since 90d --tz UTC --cache postgresql://tenure@db.internal/risk";

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
        value_parser = time_zone,
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

/// `--tz`: an IANA name, `UTC`, or a fixed offset like `+08:00`. The
/// default, Asia/Shanghai, has been UTC+08:00 without daylight saving since
/// 1991, so a system without a time zone database gets that offset.
fn time_zone(text: &str) -> Result<jiff::tz::TimeZone, String> {
    use jiff::tz::{Offset, TimeZone};
    let text = text.trim();
    if let Ok(zone) = TimeZone::get(text) {
        return Ok(zone);
    }
    if text.eq_ignore_ascii_case("Asia/Shanghai") || text.eq_ignore_ascii_case("PRC") {
        return Ok(TimeZone::fixed(Offset::constant(8)));
    }
    if let Some(offset) = fixed_offset(text) {
        return Ok(TimeZone::fixed(offset));
    }
    Err(format!(
        "{text:?} is not a time zone this system knows; give an IANA name like \
         Asia/Shanghai, UTC, or an offset like +08:00"
    ))
}

/// `+08:00`, `-05:30`, `+0800` or `+8`.
fn fixed_offset(text: &str) -> Option<jiff::tz::Offset> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hours, minutes) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        _ => {
            let split = digits.len() - 2;
            (digits[..split].parse().ok()?, digits[split..].parse().ok()?)
        }
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    jiff::tz::Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Args::command().debug_assert();
    }

    #[test]
    fn every_enrich_flag_reads_its_environment_variable() {
        // Issue 14, point 6: TENURE_<FLAG>, never for secrets.
        let command = Args::command();
        let enrich = command
            .find_subcommand("enrich")
            .expect("enrich is a subcommand");
        let mut named = 0;
        for arg in enrich.get_arguments() {
            let Some(long) = arg.get_long() else {
                assert!(arg.is_positional(), "{:?}", arg.get_id());
                continue;
            };
            let env = arg.get_env().and_then(|env| env.to_str());
            if matches!(long, "help" | "key-file" | "openid-file") {
                assert_eq!(env, None, "--{long}");
                continue;
            }
            let want = format!("TENURE_{}", long.replace('-', "_").to_uppercase());
            assert_eq!(env, Some(want.as_str()), "--{long}");
            named += 1;
        }
        assert!(named >= 20, "{named} flags");
    }

    #[test]
    fn no_cache_wins_over_cache_and_sandbox_over_endpoint() {
        // Not refused as clashes: TENURE_CACHE and TENURE_ENDPOINT, set in
        // the environment for every run, count as given, and --no-cache or
        // --sandbox on the command line must still work.
        let args = Args::try_parse_from([
            "tenure",
            "enrich",
            "in.csv",
            "-o",
            "out.csv",
            "--no-cache",
            "--cache",
            "x.sqlite",
            "--sandbox",
            "--endpoint",
            "http://127.0.0.1:1",
        ])
        .expect("--no-cache overrides --cache; --sandbox ignores --endpoint");
        let Command::Enrich(enrich) = args.command else {
            panic!("enrich");
        };
        assert!(enrich.no_cache && enrich.source.sandbox);
    }
}
