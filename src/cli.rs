//! The command line as the user types it: clap derive types that mirror
//! DESIGN §2, with a short and a long help for every flag. Each value is
//! typed here, by the parsers in `values` (durations, URLs, delimiters…),
//! so a bad value is refused by clap with the flag's name. No I/O:
//! `config` combines the values into a validated `Config`, and nothing
//! below `config` sees clap.
//!
//! Here: `Args`, `Command` and each command's long help. One file per
//! command's flags beside it: `input` (what enrich and check share),
//! `enrich`, `check`, `sandbox`, `encrypt`, `completions` (and manpage),
//! `tend` (cache and usage); `values` parses the values.

mod check;
mod completions;
mod encrypt;
mod enrich;
mod input;
mod sandbox;
mod tend;
mod values;

pub use check::CheckArgs;
pub use completions::{CompletionsArgs, ManpageArgs};
pub use encrypt::EncryptArgs;
pub use enrich::EnrichArgs;
pub use input::{InputArgs, SourceArgs};
pub use sandbox::SandboxArgs;
pub use tend::{
    CacheArgs, CacheChangesArgs, CacheCommand, CacheExportArgs, CacheImportArgs, CachePurgeArgs,
    CacheStatsArgs, ExportFormatArg, StoreArgs, UsageArgs, UsageByArg,
};

use clap::{Parser, Subcommand};

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
    after_long_help = "Exit codes: 0 every row answered; 1 internal error (a bug); 2 usage or \
input error; 3 output written but some rows have no answer, failed after their retries or \
over budget (a rerun goes on with only those); 4 stopped: the API refused the batch (key, \
openid, quota, endless 10011s) or looks down; 5 environment: disk full, output or store \
unwritable or unreachable mid-run; 130 interrupted. With --summary-json, the same in a file \
a scheduler can read, on every exit."
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
city, every tenure code, 2% 224801), checks the key, decrypts queryEncry with its own \
cipher (it shares no code with the client), and can inject latency and faults: transient \
224805s, HTTP 500/503, dropped connections, garbage bodies, a quota, a rate limit, and \
per-number scripts (`echo` a request like a misconfigured proxy, a `huge` body). \
--epoch N answers as a later \"month\": a known share of numbers reassigned, gone, \
returned, ported or moved. The first line on stdout is its address (the real port with \
--listen 127.0.0.1:0); GET /__stats shows what it received, billed, and its busiest \
second.\n\n\
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
