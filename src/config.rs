//! From what the user typed to what a run needs: the typed flags of `cli`
//! combined into validated settings with their meaning, and the secrets
//! loaded. Nothing below this module sees clap; a combination of flags the
//! user got wrong is named here, in the message (a single bad value is
//! refused earlier, by clap).

mod clash;
mod tend;

pub use clash::{Named, first_clash};
pub use tend::{CacheAction, CacheConfig, CheckPace, UsageConfig};

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{CheckArgs, EncryptArgs, EnrichArgs, InputArgs, SandboxArgs, SourceArgs};
use crate::client::{Backoff, RetryPolicy};
use crate::exit::Error;
use crate::input::{ColumnSpec, InputConfig};
use crate::log::Log;
use crate::output::Style;
use crate::pipeline::Settings;
use crate::progress::Display;
use crate::sandbox::{self, SandboxConfig};
use crate::secret::Secret;
use crate::store::Location;
use crate::summary::Facts;
use crate::usage;
use sha2::Digest as _;

/// How many rows the reader may run ahead of the writer. At 8192 rows of
/// ~200 bytes that is under 2 MiB, and at 200 qps it covers a 40 s stall of
/// the oldest row (a whole backoff sequence) before the reader waits.
const WINDOW: usize = 8192;

/// Which API answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Api {
    /// The built-in simulator, started in-process.
    Sandbox,
    /// A real endpoint: its base URL.
    Remote(String),
}

impl Api {
    /// The name under which the store files answers: simulated answers are
    /// never served to a real run.
    pub fn source(&self) -> &str {
        match self {
            Api::Sandbox => "sandbox",
            Api::Remote(url) => url,
        }
    }
}

/// Where final answers are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cache {
    /// A store every run of the user (or the team) shares: `--cache`,
    /// `TENURE_CACHE`, or the user's default file.
    Store(Location),
    /// `--no-cache`: a private store removed at the end of the run.
    Temporary,
}

/// Budgets on what a run may be billed (DESIGN §6).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Budget {
    /// `--max-billed`: this run.
    pub run: Option<u64>,
    /// `--max-billed-24h`: the rate group, over 24 hours.
    pub day: Option<u64>,
}

/// How a run of `tenure enrich` reports, known from its flags before they
/// are validated, so that even a refused command line is reported as asked
/// (its summary JSON, its log format).
#[derive(Debug)]
pub struct Reporting {
    pub log: Log,
    /// `--summary-json`, unless that path is itself refused.
    pub summary_json: Option<PathBuf>,
    pub facts: Facts,
    /// How progress shows.
    pub progress: Display,
}

impl Reporting {
    pub fn of(args: &EnrichArgs) -> Reporting {
        let log = Log::new(args.log_format, args.quiet);
        let dash = |path: &Path| dash_is_none(path).map(|p| p.display().to_string());
        let facts = Facts {
            run: None,
            started: Some(std::time::SystemTime::now()),
            input: Some(dash(&args.input.input).unwrap_or_else(|| "-".to_owned())),
            output: Some(dash(&args.output).unwrap_or_else(|| "-".to_owned())),
            store: None,
            endpoint: (!args.source.sandbox).then(|| args.source.endpoint.clone()),
            sandbox: args.source.sandbox,
            qps: Some(args.source.qps),
            encrypted: args.source.encrypt,
        };
        let progress = if args.quiet {
            Display::Hidden
        } else if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            Display::Bar
        } else if args.progress_interval.is_zero() {
            Display::Hidden
        } else {
            Display::Lines(args.progress_interval)
        };
        Reporting {
            log,
            summary_json: args
                .summary_json
                .clone()
                .filter(|path| !summary_is_refused(args, path)),
            facts,
            progress,
        }
    }
}

/// Whether `--summary-json` cannot be written (its folder is missing or
/// unwritable, or it is a folder), tried before any request.
fn summary_unwritable(summary: &Path) -> Option<Error> {
    if summary.is_dir() {
        return Some(usage!(
            "--summary-json {} is a folder; give a file name",
            summary.display()
        ));
    }
    let folder = crate::output::folder_of(summary);
    tempfile::NamedTempFile::new_in(folder)
        .err()
        .map(|err| usage!("cannot write --summary-json {}: {err}", summary.display()))
}

/// Whether `--summary-json` names a file the run reads or writes, or one
/// that cannot be written: then it is refused, and no summary is written
/// there.
fn summary_is_refused(args: &EnrichArgs, summary: &Path) -> bool {
    if summary_unwritable(summary).is_some() {
        return true;
    }
    let mut others = vec![&args.output];
    others.push(&args.input.input);
    others.extend(&args.source.cache);
    others.iter().any(|other| {
        first_clash(&[
            Named {
                what: "",
                path: other,
            },
            Named {
                what: "",
                path: summary,
            },
        ])
        .is_some()
    })
}

/// Everything `tenure enrich` needs, validated.
#[derive(Debug)]
pub struct EnrichConfig {
    pub input: InputConfig,
    /// `None` writes to standard output.
    pub output: Option<PathBuf>,
    /// The output's byte layout: `--excel` (BOM, CRLF, codes as text), the
    /// older `--bom` (a BOM only), or plain. (Named `bom` for the call in
    /// `commands::enrich`; `style` would say it better.)
    pub bom: Style,
    pub api: Api,
    /// The API key (the sandbox's own with `--sandbox`).
    pub key: Secret,
    /// The openid, present exactly when `--encrypt` is on.
    pub openid: Option<Secret>,
    pub qps: NonZeroU32,
    /// Per request.
    pub timeout: Duration,
    pub cache: Cache,
    /// The rate group; `None` with `--no-cache`, which joins none.
    pub group: Option<String>,
    /// Append the `change` column.
    pub changes: bool,
    /// With `--sandbox`: the simulator's epoch.
    pub sandbox_epoch: u64,
    /// An `OUTPUT.cache.sqlite` of an earlier version beside the output,
    /// whose answers could be imported.
    pub legacy_store: Option<PathBuf>,
    pub settings: Settings,
}

impl EnrichConfig {
    pub fn from_args(args: EnrichArgs, log: &Log) -> Result<Self, Error> {
        let input = input_config(&args.input)?;
        let output = dash_is_none(&args.output);
        let api = api(&args.source, log);
        let (key, openid) = secrets(&api, &args, log)?;
        if args.backoff_base > args.backoff_cap {
            return Err(usage!("--backoff-base must not exceed --backoff-cap"));
        }
        let cache = cache(args.source.cache.as_deref(), args.no_cache)?;
        let group = group(&args, &cache, &key)?;
        let legacy_store = output
            .as_deref()
            .map(legacy_store)
            .filter(|legacy| legacy.is_file() && Some(legacy.as_path()) != cache_path(&cache));
        refuse_clashes(
            &input,
            output.as_deref(),
            args.summary_json.as_deref(),
            &cache,
        )?;
        if let Some(err) = args.summary_json.as_deref().and_then(summary_unwritable) {
            return Err(err);
        }
        Ok(EnrichConfig {
            input,
            output,
            bom: match (args.excel, args.bom) {
                (true, _) => Style::Excel,
                (false, true) => Style::Bom,
                (false, false) => Style::Plain,
            },
            api,
            key,
            openid,
            qps: qps(args.source.qps),
            timeout: args.timeout,
            cache,
            group,
            changes: args.changes,
            sandbox_epoch: args.sandbox_epoch,
            legacy_store,
            settings: Settings {
                concurrency: args.concurrency,
                qps: args.source.qps,
                retry: RetryPolicy {
                    retries: args.retries,
                    backoff: Backoff {
                        base: args.backoff_base,
                        cap: args.backoff_cap,
                    },
                },
                max_age: args.source.max_age,
                budget: Budget {
                    run: args.max_billed,
                    day: args.max_billed_24h,
                },
                window: WINDOW,
            },
        })
    }
}

/// The store: none with `--no-cache` (which overrides `TENURE_CACHE`), else
/// `--cache`, else `TENURE_CACHE`, else the user's default file.
fn cache(flag: Option<&Path>, no_cache: bool) -> Result<Cache, Error> {
    if no_cache {
        return Ok(Cache::Temporary);
    }
    let location = match flag {
        Some(given) => Location::parse(given.as_os_str())?,
        None => Location::user_default(&|name| std::env::var(name).ok())?,
    };
    Ok(Cache::Store(location))
}

/// The SQLite file of a store, if it is one.
fn cache_path(cache: &Cache) -> Option<&Path> {
    match cache {
        Cache::Store(location) => location.path(),
        Cache::Temporary => None,
    }
}

/// Where earlier versions kept a run's store: beside its output.
fn legacy_store(output: &Path) -> PathBuf {
    let mut name = output.as_os_str().to_owned();
    name.push(".cache.sqlite");
    PathBuf::from(name)
}

/// The rate group (DESIGN §6): `--rate-group`, else the first 12 hex
/// digits of the SHA-256 of the key, never the key. A run without a store
/// joins none, and a group or a group's budget without one is refused.
fn group(args: &EnrichArgs, cache: &Cache, key: &Secret) -> Result<Option<String>, Error> {
    if *cache == Cache::Temporary {
        if args.rate_group.is_some() || args.max_billed_24h.is_some() {
            return Err(usage!(
                "--rate-group and --max-billed-24h need a store shared by the group's runs; \
                 drop --no-cache"
            ));
        }
        return Ok(None);
    }
    if let Some(name) = &args.rate_group {
        if name.trim().is_empty() {
            return Err(usage!("--rate-group must not be empty"));
        }
        return Ok(Some(name.trim().to_owned()));
    }
    let digest = sha2::Sha256::digest(key.expose().as_bytes());
    Ok(Some(
        digest[..6].iter().map(|b| format!("{b:02x}")).collect(),
    ))
}

/// Refuses a command line where two of the files a run reads or writes are
/// one file: before anything is written, nothing is lost.
fn refuse_clashes(
    input: &InputConfig,
    output: Option<&Path>,
    summary: Option<&Path>,
    cache: &Cache,
) -> Result<(), Error> {
    let mut files = Vec::with_capacity(4);
    if let Some(path) = &input.path {
        files.push(Named {
            what: "the input",
            path,
        });
    }
    if let Some(path) = output {
        files.push(Named { what: "-o", path });
    }
    if let Some(path) = cache_path(cache) {
        files.push(Named {
            what: "the store (--cache)",
            path,
        });
    }
    if let Some(path) = summary {
        files.push(Named {
            what: "--summary-json",
            path,
        });
    }
    match first_clash(&files) {
        None => Ok(()),
        Some((a, b)) => Err(usage!(
            "{} {} is the same file as {} {}: writing one would destroy the other; give \
             {} another path",
            b.what,
            b.path.display(),
            a.what,
            a.path.display(),
            b.what
        )),
    }
}

/// The key and the openid for `api`: the sandbox's own, or the user's from
/// the environment or a file. The openid is there exactly with `--encrypt`.
fn secrets(api: &Api, args: &EnrichArgs, log: &Log) -> Result<(Secret, Option<Secret>), Error> {
    let encrypt = args.source.encrypt;
    if *api == Api::Sandbox {
        if args.key_file.is_some() || args.openid_file.is_some() {
            log.warn(
                "--sandbox uses the sandbox's own key and openid; --key-file and \
                 --openid-file are ignored",
            );
        }
        let key = Secret::new(sandbox::DEFAULT_KEY.to_owned());
        let openid = encrypt.then(|| Secret::new(sandbox::DEFAULT_OPENID.to_owned()));
        return Ok((key, openid));
    }
    let key = secret("JUHE_KEY", args.key_file.as_deref(), "--key-file")?.ok_or_else(|| {
        usage!(
            "no API key: set JUHE_KEY or pass --key-file FILE (or try --sandbox to run \
             against the built-in simulator with no key)"
        )
    })?;
    let openid = if encrypt {
        Some(openid(args.openid_file.as_deref())?)
    } else {
        None
    };
    Ok((key, openid))
}

/// Everything `tenure check` needs.
#[derive(Debug)]
pub struct CheckConfig {
    pub input: InputConfig,
    pub api: Api,
    /// The store to count known answers in.
    pub cache: Location,
    pub max_age: Duration,
    pub qps: NonZeroU32,
    pub json: bool,
    /// Where to write the invalid rows, with their reason.
    pub invalid_out: Option<PathBuf>,
}

impl CheckConfig {
    pub fn from_args(args: CheckArgs) -> Result<Self, Error> {
        Ok(CheckConfig {
            input: input_config(&args.input)?,
            api: api(&args.source, &Log::default()),
            cache: match args.source.cache {
                Some(given) => Location::parse(given.as_os_str())?,
                None => Location::user_default(&|name| std::env::var(name).ok())?,
            },
            max_age: args.source.max_age,
            qps: qps(args.source.qps),
            json: args.json,
            invalid_out: args.invalid_out,
        })
    }
}

/// `tenure encrypt`.
#[derive(Debug)]
pub struct EncryptConfig {
    pub openid: Secret,
    pub numbers: Vec<String>,
    pub urlencode: bool,
}

impl EncryptConfig {
    pub fn from_args(args: EncryptArgs) -> Result<Self, Error> {
        Ok(EncryptConfig {
            openid: openid(args.openid_file.as_deref())?,
            numbers: args.numbers,
            urlencode: args.urlencode,
        })
    }
}

/// `tenure sandbox`: the simulator's settings and where to listen. Only
/// assembles: clap's value parsers have checked every value (addresses,
/// probabilities, the epoch, scripts), and `Sandbox::start` validates again.
pub fn sandbox_config(args: SandboxArgs) -> (SandboxConfig, std::net::SocketAddr) {
    let config = SandboxConfig {
        key: args.key,
        openid: args.openid,
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        p_retry: args.p_retry,
        p_http_500: args.p_http_500,
        p_http_503: args.p_http_503,
        p_drop: args.p_drop,
        p_garbage: args.p_garbage,
        quota: args.quota,
        rate_limit: args.rate_limit,
        seed: args.seed,
        // A number scripted twice keeps its last script.
        scripts: args.script.into_iter().collect(),
        epoch: args.epoch,
    };
    (config, args.listen)
}

fn input_config(args: &InputArgs) -> Result<InputConfig, Error> {
    let path = dash_is_none(&args.input);
    let tsv = path.as_deref().is_some_and(is_tsv);
    let delimiter = args.delimiter.unwrap_or(if tsv { b'\t' } else { b',' });
    let column = match &args.column {
        None if args.no_headers => ColumnSpec::Index(0),
        None => ColumnSpec::Auto,
        Some(ColumnSpec::Name(name)) if args.no_headers => {
            return Err(usage!(
                "--column {name:?}: with --no-headers there are no names, give a 1-based index"
            ));
        }
        Some(spec) => spec.clone(),
    };
    Ok(InputConfig {
        path,
        column,
        delimiter,
        has_headers: !args.no_headers,
        encoding: args.encoding,
        max_record_bytes: args.max_record_bytes,
    })
}

fn api(args: &SourceArgs, log: &Log) -> Api {
    if args.sandbox {
        return Api::Sandbox;
    }
    if args.endpoint.starts_with("http://") && !crate::client::is_loopback(&args.endpoint) {
        log.warn(
            "--endpoint uses plain http:// to a host that is not this machine; the API key \
             will cross the network unencrypted",
        );
    }
    Api::Remote(args.endpoint.clone())
}

fn qps(qps: u32) -> NonZeroU32 {
    NonZeroU32::new(qps).expect("clap refuses --qps 0")
}

fn dash_is_none(path: &Path) -> Option<PathBuf> {
    (path != Path::new("-")).then(|| path.to_owned())
}

fn openid(file: Option<&Path>) -> Result<Secret, Error> {
    secret("JUHE_OPENID", file, "--openid-file")?.ok_or_else(|| {
        usage!(
            "no openid: --encrypt and `tenure encrypt` need JUHE_OPENID or --openid-file FILE \
             (your openid is in the Juhe personal centre)"
        )
    })
}

/// A secret from its file, else its environment variable; trimmed, and
/// never echoed in a message.
fn secret(var: &str, file: Option<&Path>, flag: &str) -> Result<Option<Secret>, Error> {
    let value = match file {
        Some(path) => {
            let value = std::fs::read_to_string(path)
                .map_err(|err| usage!("cannot read {flag} {}: {err}", path.display()))?;
            if let Some(warning) = open_to_others(path, flag) {
                eprintln!("tenure: warning: {warning}");
            }
            value
        }
        None => match std::env::var(var) {
            Ok(value) => value,
            Err(std::env::VarError::NotPresent) => return Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                return Err(usage!("{var} is not valid UTF-8"));
            }
        },
    };
    let value = value.trim();
    if value.is_empty() {
        let from = file.map_or_else(|| var.to_owned(), |p| format!("{flag} {}", p.display()));
        return Err(usage!("{from} is empty"));
    }
    Ok(Some(Secret::new(value.to_owned())))
}

/// A warning, like ssh's for a private key, when a secret's file may be
/// read or changed by others than its owner. Names the file and its mode,
/// never what it holds.
fn open_to_others(path: &Path, flag: &str) -> Option<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then(|| {
            format!(
                "{flag} {path} is open to others than its owner (mode {mode:04o}): whoever can \
                 read it can spend the account's quota; chmod 600 {path}",
                path = path.display()
            )
        })
    }
    #[cfg(not(unix))]
    {
        let _ = (path, flag);
        None
    }
}

/// Whether a file is named like tab-separated values: `.tsv`, or
/// `.tsv.gz` (gzip is read transparently).
fn is_tsv(path: &Path) -> bool {
    let is = |path: &Path, ext: &str| {
        path.extension()
            .is_some_and(|found| found.eq_ignore_ascii_case(ext))
    };
    is(path, "tsv")
        || (is(path, "gz") && is(Path::new(path.file_stem().unwrap_or_default()), "tsv"))
}
