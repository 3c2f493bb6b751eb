//! From what the user typed to what a run needs: the typed flags of `cli`
//! combined into validated settings with their meaning, and the secrets
//! loaded. Nothing below this module sees clap; a combination of flags the
//! user got wrong is named here, in the message (a single bad value is
//! refused earlier, by clap).

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::{CheckArgs, EncryptArgs, EnrichArgs, InputArgs, SandboxArgs, SourceArgs};
use crate::client::{Backoff, RetryPolicy};
use crate::exit::Error;
use crate::input::{ColumnSpec, InputConfig};
use crate::output::Style;
use crate::pipeline::Settings;
use crate::sandbox::{self, SandboxConfig};
use crate::secret::Secret;
use crate::usage;

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
    pub settings: Settings,
    pub summary_json: Option<PathBuf>,
    /// No progress bar and no summary on stderr.
    pub quiet: bool,
}

impl EnrichConfig {
    pub fn from_args(args: EnrichArgs) -> Result<Self, Error> {
        let input = input_config(&args.input)?;
        let output = dash_is_none(&args.output);
        let api = api(&args.source);
        let (key, openid) = secrets(&api, &args)?;
        if args.backoff_base > args.backoff_cap {
            return Err(usage!("--backoff-base must not exceed --backoff-cap"));
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
            settings: Settings {
                concurrency: usize::from(args.concurrency),
                retry: RetryPolicy {
                    retries: args.retries,
                    backoff: Backoff {
                        base: args.backoff_base,
                        cap: args.backoff_cap,
                    },
                },
                max_age: args.source.max_age,
                window: WINDOW,
            },
            summary_json: args.summary_json,
            quiet: args.quiet,
        })
    }
}

/// The key and the openid for `api`: the sandbox's own, or the user's from
/// the environment or a file. The openid is there exactly with `--encrypt`.
fn secrets(api: &Api, args: &EnrichArgs) -> Result<(Secret, Option<Secret>), Error> {
    let encrypt = args.source.encrypt;
    if *api == Api::Sandbox {
        if args.key_file.is_some() || args.openid_file.is_some() {
            eprintln!(
                "tenure: warning: --sandbox uses the sandbox's own key and openid; \
                 --key-file and --openid-file are ignored"
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
    /// The store to count known answers in, if any.
    pub cache: Option<PathBuf>,
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
            api: api(&args.source),
            cache: args.source.cache,
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

/// `tenure sandbox`: the simulator's settings and where to listen.
pub fn sandbox_config(args: SandboxArgs) -> Result<(SandboxConfig, std::net::SocketAddr), Error> {
    let listen = args.listen.parse().map_err(|_| {
        usage!(
            "--listen {:?} is not an address like 127.0.0.1:8080",
            args.listen
        )
    })?;
    let mut scripts = std::collections::HashMap::new();
    for entry in &args.script {
        let (number, script) =
            sandbox::parse_script(entry).map_err(|why| usage!("--script {entry:?}: {why}"))?;
        scripts.insert(number, script);
    }
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
        scripts,
    };
    config
        .validate()
        .map_err(|why| usage!("{}", why.replace("p_retry", "--p-224805").replace('_', "-")))?;
    Ok((config, listen))
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

fn api(args: &SourceArgs) -> Api {
    if args.sandbox {
        return Api::Sandbox;
    }
    if args.endpoint.starts_with("http://") && !crate::client::is_loopback(&args.endpoint) {
        eprintln!(
            "tenure: warning: --endpoint uses plain http:// to a host that is not this machine; \
             the API key will cross the network unencrypted"
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
