//! What the tending commands mean: `tenure cache …` and `tenure usage`
//! (DESIGN §4, §6, §7), from their typed flags to validated settings.
//!
//! Owns which store and which source each command reads. The store is
//! enrich's (`--cache`, else `TENURE_CACHE`, else the user's default file);
//! `stats`, `export`, `import`, `purge` and `usage` cover every source, and
//! `changes` one (the real API's, another `--endpoint`'s, or with
//! `--sandbox` the sandbox's), so that simulated and real answers are never
//! compared in one list. Opens nothing.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Named, first_clash};
use crate::cli::{
    CacheArgs, CacheChangesArgs, CacheCommand, ExportFormatArg, StoreArgs, UsageArgs, UsageByArg,
};
use crate::exit::Error;
use crate::store::{ExportFormat, Location, Purge, UsageBy};
use crate::usage;

/// The source name of the sandbox's answers in the store (as
/// `Api::Sandbox.source()` files them).
const SANDBOX_SOURCE: &str = "sandbox";

/// `tenure cache …`, validated.
#[derive(Debug)]
pub struct CacheConfig {
    /// The store to read or change.
    pub location: Location,
    pub action: CacheAction,
}

/// What `tenure cache` does.
#[derive(Debug)]
pub enum CacheAction {
    /// Print the counts, as a table or as JSON.
    Stats { json: bool },
    /// Write every answer; `output` `None` is standard output.
    Export {
        format: ExportFormat,
        output: Option<PathBuf>,
    },
    /// Merge the SQLite store at `file` into this one.
    Import { file: PathBuf },
    /// Remove answers and history entries.
    Purge(Purge),
    /// List the numbers of `source` whose answer changed within `since`.
    Changes {
        since: Duration,
        source: String,
        json: bool,
    },
}

impl CacheConfig {
    pub fn from_args(args: CacheArgs) -> Result<CacheConfig, Error> {
        let (store, action) = match args.command {
            CacheCommand::Stats(args) => (args.store, CacheAction::Stats { json: args.json }),
            CacheCommand::Export(args) => (
                args.store,
                CacheAction::Export {
                    format: match args.format {
                        ExportFormatArg::Csv => ExportFormat::Csv,
                        ExportFormatArg::Jsonl => ExportFormat::Jsonl,
                    },
                    output: args.output.filter(|path| path != Path::new("-")),
                },
            ),
            CacheCommand::Import(args) => (args.store, CacheAction::Import { file: args.file }),
            CacheCommand::Purge(args) => {
                let purge = match (args.code, args.older_than) {
                    (Some(code), None) => Purge::Code(code_to_purge(&code)?),
                    (None, Some(age)) => Purge::OlderThan(age),
                    // clap's group asks for exactly one.
                    _ => return Err(usage!("give one of --code CODE and --older-than DURATION")),
                };
                (args.store, CacheAction::Purge(purge))
            }
            CacheCommand::Changes(args) => changes(args),
        };
        let location = location(&store)?;
        refuse_clashes(&location, &action)?;
        Ok(CacheConfig { location, action })
    }
}

fn changes(args: CacheChangesArgs) -> (StoreArgs, CacheAction) {
    let source = if args.sandbox {
        SANDBOX_SOURCE.to_owned()
    } else {
        args.endpoint
    };
    let action = CacheAction::Changes {
        since: args.since,
        source,
        json: args.json,
    };
    (args.store, action)
}

/// A code as the store keeps it: the API's, as sent (`03`, `224801`).
fn code_to_purge(code: &str) -> Result<String, Error> {
    let code = code.trim();
    if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(usage!(
            "--code {code:?} is not a code: give one as the API sends it, like 224801, 99 or 03"
        ));
    }
    Ok(code.to_owned())
}

/// An export or an import whose file is the store itself would destroy it
/// (the export replaces it) or do nothing useful (the import).
fn refuse_clashes(location: &Location, action: &CacheAction) -> Result<(), Error> {
    let Some(store) = location.path() else {
        return Ok(());
    };
    let (what, path) = match action {
        CacheAction::Export {
            output: Some(path), ..
        } => ("-o", path),
        CacheAction::Import { file } => ("the file to import", file),
        _ => return Ok(()),
    };
    let named = [
        Named {
            what: "the store",
            path: store,
        },
        Named { what, path },
    ];
    match first_clash(&named) {
        None => Ok(()),
        Some(_) => Err(usage!(
            "{what} {} is the store itself ({}); name another file",
            path.display(),
            store.display()
        )),
    }
}

/// `tenure usage`, validated.
#[derive(Debug)]
pub struct UsageConfig {
    pub location: Location,
    pub since: Duration,
    /// By day (in its time zone) or by run.
    pub by: UsageBy,
    pub include_sandbox: bool,
    pub json: bool,
}

impl UsageConfig {
    pub fn from_args(args: UsageArgs) -> Result<UsageConfig, Error> {
        Ok(UsageConfig {
            location: location(&args.store)?,
            since: args.since,
            by: match args.by {
                UsageByArg::Day => UsageBy::Day(args.tz),
                UsageByArg::Run => UsageBy::Run,
            },
            include_sandbox: args.sandbox,
            json: args.json,
        })
    }
}

/// The store as `tenure enrich` resolves it: `--cache` (or `TENURE_CACHE`,
/// which clap reads into it), else the user's default file.
fn location(args: &StoreArgs) -> Result<Location, Error> {
    Ok(match &args.cache {
        Some(given) => Location::parse(given.as_os_str())?,
        None => Location::user_default(&|name| std::env::var(name).ok())?,
    })
}

#[cfg(test)]
mod tests {
    use crate::cli::Args;
    use clap::CommandFactory;

    /// Every setting of the tending commands reads `TENURE_<FLAG>`, as
    /// enrich's do, but not the flags that name what to do: a variable set
    /// once would delete answers (`--code`, `--older-than`) or replace
    /// enrich's output (`-o`: `TENURE_OUTPUT` is enrich's), and `--json`
    /// reads none, as for `check`.
    #[test]
    fn the_tending_flags_read_their_environment_variables() {
        let command = Args::command();
        let mut commands = vec![
            command.find_subcommand("usage").expect("usage").clone(),
            command.find_subcommand("check").expect("check").clone(),
        ];
        let cache = command.find_subcommand("cache").expect("cache");
        commands.extend(cache.get_subcommands().cloned());
        assert_eq!(commands.len(), 7);
        for sub in &commands {
            for arg in sub.get_arguments() {
                let Some(long) = arg.get_long() else {
                    continue;
                };
                let env = arg.get_env().and_then(|env| env.to_str());
                let exempt = [
                    "help",
                    "json",
                    "output",
                    "code",
                    "older-than",
                    "invalid-out",
                ];
                if exempt.contains(&long) {
                    assert_eq!(env, None, "{} --{long}", sub.get_name());
                    continue;
                }
                let want = format!("TENURE_{}", long.replace('-', "_").to_uppercase());
                assert_eq!(env, Some(want.as_str()), "{} --{long}", sub.get_name());
            }
        }
    }

    #[test]
    fn codes_to_purge_are_kept_as_sent() {
        assert_eq!(super::code_to_purge(" 03 ").ok(), Some("03".to_owned()));
        assert_eq!(
            super::code_to_purge("224801").ok(),
            Some("224801".to_owned())
        );
        for bad in ["", " ", "03;99", "'1'"] {
            assert!(super::code_to_purge(bad).is_err(), "{bad:?}");
        }
    }
}
