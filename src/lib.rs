//! `tenure`: enrich CSV files of Chinese mobile numbers with their network
//! tenure from the Juhe "手机在网时长" API.
//!
//! ```text
//! read rows ─▶ normalise ─▶ store lookup ─▶ rate limit ─▶ (encrypt) ─▶ POST ─▶ classify ─▶ store ─▶ write in order
//!  (input)      (number)    (store, dedupe)  (limiter)     (crypto)  (client)    (api)     (store)   (output)
//! ```
//!
//! `pipeline` is the one module that knows the order of the stages; the
//! pure stages (`number`, `crypto`, `api`) do no I/O. `cli` is what the user
//! typed, `config` what it means; nothing below `config` sees clap.

// What main.rs, the integration tests and the benches use is public; the
// rest is private, so that the compiler flags what nothing uses.
pub mod api;
pub mod change;
pub mod cli;
mod client;
mod commands;
mod concurrency;
mod config;
pub mod crypto;
pub mod exit;
mod halt;
mod input;
pub mod limiter;
mod log;
pub mod number;
mod output;
mod pipeline;
mod progress;
mod redact;
mod row;
pub mod sandbox;
pub mod secret;
mod share;
pub mod stop;
pub mod store;
mod summary;

pub use input::{NUMBER_HEADERS, is_number_header};
pub use pipeline::LOOKS_DOWN_AFTER;
pub use row::COLUMNS;

use cli::{Args, Command};
use config::{CacheConfig, CheckConfig, CheckPace, EncryptConfig, EnrichConfig, UsageConfig};
use exit::{Error, Exit};

/// Runs one command line to its exit code, reporting errors on stderr.
pub fn run(args: Args) -> Exit {
    let ran = match args.command {
        Command::Enrich(args) => {
            // enrich reports its own errors: its summary JSON and log
            // format apply to them too.
            let reporting = config::Reporting::of(&args);
            let config = EnrichConfig::from_args(args, &reporting.log);
            return commands::enrich(config, reporting);
        }
        Command::Check(args) => {
            let pace = CheckPace::of(&args);
            CheckConfig::from_args(args).and_then(|config| commands::check(config, pace))
        }
        Command::Sandbox(args) => {
            let (config, listen) = config::sandbox_config(args);
            commands::serve(config, listen)
        }
        Command::Encrypt(args) => EncryptConfig::from_args(args).and_then(commands::encrypt),
        Command::Completions(args) => commands::completions(args.shell),
        Command::Manpage(args) => commands::manpage(args.folder.as_deref()),
        Command::Cache(args) => CacheConfig::from_args(args).and_then(commands::cache),
        Command::Usage(args) => UsageConfig::from_args(args).and_then(commands::usage),
    };
    ran.unwrap_or_else(|err: Error| {
        eprintln!("tenure: error: {err}");
        err.exit()
    })
}
