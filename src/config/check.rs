//! What `tenure check` means: the input and source enrich would have, the
//! store whose answers it counts (`CheckConfig`), and the pace its time
//! estimate assumes (`CheckPace`, issue 12, point 2). Opens nothing.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use super::{Api, api, input_config, qps};
use crate::cli::CheckArgs;
use crate::concurrency::Concurrency;
use crate::exit::Error;
use crate::input::InputConfig;
use crate::log::Log;
use crate::store::Location;

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

/// What `tenure check`'s time estimate assumes about the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckPace {
    /// The run's `--concurrency`.
    pub concurrency: Concurrency,
    /// The API's latency, as the user measured or guessed it.
    pub latency: Duration,
}

impl CheckPace {
    pub fn of(args: &CheckArgs) -> CheckPace {
        CheckPace {
            concurrency: args.concurrency,
            latency: args.latency,
        }
    }
}
