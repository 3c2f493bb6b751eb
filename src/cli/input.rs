//! What enrich and check share on the command line: where the numbers are
//! and how the file is shaped (`InputArgs`), and which API answers and where
//! its answers are kept (`SourceArgs`). Types only: no I/O, no meaning.

use clap::Args as ClapArgs;
use clap::builder::BoolishValueParser;
use std::path::PathBuf;
use std::time::Duration;

use super::values;
use crate::input::{ColumnSpec, Encoding};

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
