//! From what the user typed to what a run needs: validated settings with
//! their meaning, and the secrets loaded. Nothing below this module sees
//! clap; a flag the user got wrong is named here, in the message.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{CheckArgs, EncryptArgs, EnrichArgs, InputArgs, SandboxArgs, SourceArgs};
use crate::client::Backoff;
use crate::exit::Error;
use crate::input::{ColumnSpec, Encoding, InputConfig};
use crate::pipeline::Settings;
use crate::sandbox::{self, SandboxConfig};
use crate::secret::Secret;
use crate::usage;

/// How many rows the reader may run ahead of the writer. At 8192 rows of
/// ~200 bytes that is under 2 MiB, and at 200 qps it covers a 40 s stall of
/// the oldest row (a whole backoff sequence) before the reader waits.
const WINDOW: usize = 8192;
/// More worker threads than this only wait on each other.
const MAX_CONCURRENCY: usize = 1024;
/// A longer single backoff would look like a hang.
const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// Which API answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// The built-in simulator, started in-process.
    Sandbox,
    /// A real endpoint: its base URL.
    Remote(String),
}

impl Target {
    /// The name under which the store files answers: simulated answers are
    /// never served to a real run.
    pub fn source(&self) -> &str {
        match self {
            Target::Sandbox => "sandbox",
            Target::Remote(url) => url,
        }
    }
}

/// Where final answers are kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cache {
    File(PathBuf),
    /// A store deleted at the end of the run (`--no-cache`, or output `-`).
    Temporary,
}

/// Everything `tenure enrich` needs, validated.
#[derive(Debug)]
pub struct EnrichConfig {
    pub input: InputConfig,
    /// `None` writes to standard output.
    pub output: Option<PathBuf>,
    /// Start the output with a UTF-8 BOM.
    pub bom: bool,
    pub target: Target,
    /// The API key (the sandbox's own with `--sandbox`).
    pub key: Secret,
    /// The openid, present exactly when `--encrypt` is on.
    pub openid: Option<Secret>,
    pub qps: NonZeroU32,
    /// Per request.
    pub timeout: Duration,
    pub cache: Cache,
    pub settings: Settings,
    pub summary_json: Option<PathBuf>,
    /// No progress bar and no summary on stderr.
    pub quiet: bool,
}

impl EnrichConfig {
    pub fn from_args(args: EnrichArgs) -> Result<Self, Error> {
        let input = input_config(&args.input)?;
        let output = dash_is_none(&args.output);
        let target = target(&args.source)?;
        let (key, openid) = match target {
            Target::Sandbox => {
                if args.key_file.is_some() || args.openid_file.is_some() {
                    eprintln!(
                        "tenure: warning: --sandbox uses the sandbox's own key and openid; \
                         --key-file and --openid-file are ignored"
                    );
                }
                (
                    Secret::new(sandbox::DEFAULT_KEY.to_owned()),
                    args.source
                        .encrypt
                        .then(|| Secret::new(sandbox::DEFAULT_OPENID.to_owned())),
                )
            }
            Target::Remote(_) => {
                let key = secret("JUHE_KEY", args.key_file.as_deref(), "--key-file")?.ok_or_else(
                    || {
                        usage!(
                            "no API key: set JUHE_KEY or pass --key-file FILE (or try \
                             --sandbox to run against the built-in simulator with no key)"
                        )
                    },
                )?;
                let openid = if args.source.encrypt {
                    Some(openid(args.openid_file.as_deref())?)
                } else {
                    None
                };
                (key, openid)
            }
        };
        if args.concurrency == 0 {
            return Err(usage!("--concurrency must be at least 1"));
        }
        if !(0.1..=3600.0).contains(&args.timeout) {
            return Err(usage!(
                "--timeout must be between 0.1 and 3600 seconds, not {}",
                args.timeout
            ));
        }
        if args.concurrency > MAX_CONCURRENCY {
            return Err(usage!(
                "--concurrency {} is more threads than any quota needs; at most {MAX_CONCURRENCY}",
                args.concurrency
            ));
        }
        let cache = match (&args.source.cache, args.no_cache, &output) {
            (_, true, _) => Cache::Temporary,
            (Some(path), false, _) => Cache::File(path.clone()),
            (None, false, Some(output)) => {
                let mut name = output.as_os_str().to_owned();
                name.push(".cache.sqlite");
                Cache::File(PathBuf::from(name))
            }
            (None, false, None) => Cache::Temporary,
        };
        let backoff = Backoff {
            base: duration("--backoff-base", &args.backoff_base)?,
            cap: duration("--backoff-cap", &args.backoff_cap)?,
        };
        if backoff.cap > MAX_BACKOFF || backoff.base > backoff.cap {
            return Err(usage!(
                "--backoff-base must not exceed --backoff-cap, and --backoff-cap must be at most {}",
                humantime::format_duration(MAX_BACKOFF)
            ));
        }
        Ok(EnrichConfig {
            input,
            output,
            bom: args.bom,
            target,
            key,
            openid,
            qps: qps(args.source.qps)?,
            timeout: Duration::from_secs_f64(args.timeout),
            cache,
            settings: Settings {
                concurrency: args.concurrency,
                retries: args.retries,
                backoff,
                max_age: duration("--max-age", &args.source.max_age)?,
                window: WINDOW,
            },
            summary_json: args.summary_json,
            quiet: args.quiet,
        })
    }
}

/// Everything `tenure check` needs.
#[derive(Debug)]
pub struct CheckConfig {
    pub input: InputConfig,
    pub target: Target,
    /// The store to count known answers in, if any.
    pub cache: Option<PathBuf>,
    pub max_age: Duration,
    pub qps: NonZeroU32,
    pub json: bool,
}

impl CheckConfig {
    pub fn from_args(args: CheckArgs) -> Result<Self, Error> {
        Ok(CheckConfig {
            input: input_config(&args.input)?,
            target: target(&args.source)?,
            cache: args.source.cache,
            max_age: duration("--max-age", &args.source.max_age)?,
            qps: qps(args.source.qps)?,
            json: args.json,
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
pub fn sandbox_config(args: SandboxArgs) -> Result<(SandboxConfig, std::net::SocketAddr), Error> {
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
    Ok((config, args.listen))
}

fn input_config(args: &InputArgs) -> Result<InputConfig, Error> {
    let path = dash_is_none(&args.input);
    let delimiter = match args.delimiter.as_deref() {
        None => {
            let tsv = path
                .as_deref()
                .and_then(Path::extension)
                .is_some_and(|ext| ext.eq_ignore_ascii_case("tsv"));
            if tsv { b'\t' } else { b',' }
        }
        Some("\\t") | Some("\t") | Some("tab") => b'\t',
        Some("\"") => return Err(usage!("--delimiter cannot be the quote character")),
        Some(one) if one.len() == 1 && one.is_ascii() => one.as_bytes()[0],
        Some(other) => {
            return Err(usage!(
                "--delimiter {other:?} must be one ASCII character, or \\t for a tab"
            ));
        }
    };
    let column = match args.column.as_deref().map(str::trim) {
        None if args.no_headers => ColumnSpec::Index(0),
        None => ColumnSpec::Auto,
        Some(text) => match text.parse::<usize>() {
            Ok(0) => return Err(usage!("--column counts from 1, so 0 is no column")),
            Ok(n) => ColumnSpec::Index(n - 1),
            Err(_) if args.no_headers => {
                return Err(usage!(
                    "--column {text:?}: with --no-headers there are no names, give a 1-based index"
                ));
            }
            Err(_) => ColumnSpec::Name(text.to_owned()),
        },
    };
    let encoding = match args.encoding.to_ascii_lowercase().as_str() {
        "auto" => Encoding::Auto,
        "utf-8" | "utf8" => Encoding::Utf8,
        "gbk" | "gb18030" | "gb2312" => Encoding::Gbk,
        other => {
            return Err(usage!(
                "--encoding {other:?} is not one of auto, utf-8, gbk"
            ));
        }
    };
    Ok(InputConfig {
        path,
        column,
        delimiter,
        has_headers: !args.no_headers,
        encoding,
    })
}

fn target(args: &SourceArgs) -> Result<Target, Error> {
    if args.sandbox {
        return Ok(Target::Sandbox);
    }
    let url = url::Url::parse(&args.endpoint)
        .map_err(|err| usage!("--endpoint {:?} is not a URL: {err}", args.endpoint))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(usage!(
            "--endpoint {:?} must start with https:// (or http://)",
            args.endpoint
        ));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(usage!(
            "--endpoint must be a bare base URL like https://v.juhe.cn: no credentials and no \
             query string (the key comes from JUHE_KEY and travels in the POST body)"
        ));
    }
    if url.scheme() == "http" && !crate::client::is_loopback(&args.endpoint) {
        eprintln!(
            "tenure: warning: --endpoint uses plain http:// to a host that is not this machine; \
             the API key will cross the network unencrypted"
        );
    }
    Ok(Target::Remote(
        args.endpoint.trim_end_matches('/').to_owned(),
    ))
}

fn qps(qps: u32) -> Result<NonZeroU32, Error> {
    NonZeroU32::new(qps).ok_or_else(|| usage!("--qps must be at least 1"))
}

fn duration(flag: &str, text: &str) -> Result<Duration, Error> {
    humantime::parse_duration(text.trim())
        .map_err(|err| usage!("{flag} {text:?} is not a duration like 90s, 12h or 7d: {err}"))
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
        Some(path) => std::fs::read_to_string(path)
            .map_err(|err| usage!("cannot read {flag} {}: {err}", path.display()))?,
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
