//! How a run of `tenure enrich` reports (`Reporting`: its log, summary JSON,
//! facts and progress), known from its flags before they are validated, so
//! that even a refused command line is reported as asked; and the checks
//! that a `--summary-json` path can be written and is none of the run's
//! other files.

use std::path::{Path, PathBuf};

use super::{Named, dash_is_none, first_clash};
use crate::cli::EnrichArgs;
use crate::exit::Error;
use crate::log::Log;
use crate::progress::Display;
use crate::summary::Facts;
use crate::usage;

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
pub(super) fn summary_unwritable(summary: &Path) -> Option<Error> {
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
