//! From what the user typed to what a run needs: the typed flags of `cli`
//! combined into validated settings with their meaning, and the secrets
//! loaded. Nothing below this module sees clap; a combination of flags the
//! user got wrong is named here, in the message (a single bad value is
//! refused earlier, by clap).
//!
//! Here: what enrich and check share (the input, the API). One file per
//! command beside it: `enrich`, `check`, `encrypt`, `sandbox`, `tend` (cache
//! and usage); `reporting` (how enrich reports, known before the rest is
//! validated), `secrets` (the key and the openid), `clash` (paths that must
//! not be one file).

mod check;
mod clash;
mod encrypt;
mod enrich;
mod reporting;
mod sandbox;
mod secrets;
mod tend;

pub use check::{CheckConfig, CheckPace};
pub use clash::{Named, first_clash};
pub use encrypt::EncryptConfig;
pub use enrich::{Budget, Cache, EnrichConfig};
pub use reporting::Reporting;
pub use sandbox::sandbox_config;
pub use tend::{CacheAction, CacheConfig, UsageConfig};

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use crate::cli::{InputArgs, SourceArgs};
use crate::exit::Error;
use crate::input::{ColumnSpec, InputConfig};
use crate::log::Log;
use crate::usage;

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
