//! What `tenure enrich` means: its typed flags combined into an
//! `EnrichConfig`, with the store (`Cache`: `--cache`, `TENURE_CACHE`, the
//! user's default, or none with `--no-cache`), the rate group, the budgets,
//! and the files a run reads or writes refused when two are one. Opens
//! nothing; the secrets come from `secrets`.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::Digest as _;

use super::reporting::summary_unwritable;
use super::secrets::secrets;
use super::{Api, Named, api, dash_is_none, first_clash, input_config, qps};
use crate::cli::EnrichArgs;
use crate::client::{Backoff, RetryPolicy};
use crate::exit::Error;
use crate::input::InputConfig;
use crate::log::Log;
use crate::output::Style;
use crate::pipeline::Settings;
use crate::secret::Secret;
use crate::store::Location;
use crate::usage;

/// How many rows the reader may run ahead of the writer. At 8192 rows of
/// ~200 bytes that is under 2 MiB, and at 200 qps it covers a 40 s stall of
/// the oldest row (a whole backoff sequence) before the reader waits.
const WINDOW: usize = 8192;

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

/// Everything `tenure enrich` needs, validated.
#[derive(Debug)]
pub struct EnrichConfig {
    pub input: InputConfig,
    /// `None` writes to standard output.
    pub output: Option<PathBuf>,
    /// The output's byte layout: `--excel` (BOM, CRLF, codes as text), the
    /// older `--bom` (a BOM only), or plain.
    pub style: Style,
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
            style: match (args.excel, args.bom) {
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
