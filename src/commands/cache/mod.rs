//! `tenure cache`: read and tend the result store (DESIGN §4): `stats`,
//! `export`, `import`, `purge`, and `changes` (DESIGN §7, in `changes`).
//!
//! Owns opening the store for each command (read-only for those that only
//! read, so that they can run beside a live `enrich` and on a store they
//! may not write) and saying what was done. Numbers are the user's own data
//! on the user's own standard output here, so they are shown whole; a
//! message on stderr never holds one (the store's errors quote none). Must
//! not decide which store or source: that is `config::tend`.

mod changes;
mod written;

pub(crate) use written::{Written, report};

use std::io::BufWriter;
use std::path::Path;

use serde::Serialize;

use crate::config::{CacheAction, CacheConfig};
use crate::exit::{Error, Exit};
use crate::output::Staged;
use crate::store::{ExportFormat, Location, Purge, Stats, Store};
use crate::usage;

/// The source a store is opened with by the commands that read every
/// source: a store's source only scopes look-ups and the answers put, and
/// these commands make neither.
pub(crate) const EVERY_SOURCE: &str = "";

pub fn cache(config: CacheConfig) -> Result<Exit, Error> {
    let location = &config.location;
    match config.action {
        CacheAction::Stats { json } => stats(location, json),
        CacheAction::Export { format, output } => export(location, format, output.as_deref()),
        CacheAction::Import { file } => import(location, &file),
        CacheAction::Purge(purge) => self::purge(location, &purge),
        CacheAction::Changes {
            since,
            source,
            json,
        } => {
            let store = Store::open_read_only(location, &source)?;
            let rows = store.changes(since)?;
            changes::write(&rows, &source, json)
        }
    }
}

/// The counts as `--json` writes them: the store's, with the times in
/// RFC 3339 too.
#[derive(Serialize)]
struct StatsJson<'a> {
    store: String,
    #[serde(flatten)]
    stats: &'a Stats,
    oldest: Option<String>,
    newest: Option<String>,
}

fn stats(location: &Location, json: bool) -> Result<Exit, Error> {
    let store = Store::open_read_only(location, EVERY_SOURCE)?;
    let stats = store.stats()?;
    let name = location.to_string();
    report(std::io::stdout().lock(), |out| {
        if json {
            let counts = StatsJson {
                store: name,
                stats: &stats,
                oldest: stats.oldest_ms.map(rfc3339),
                newest: stats.newest_ms.map(rfc3339),
            };
            serde_json::to_writer_pretty(&mut *out, &counts)?;
            return writeln!(out);
        }
        let when = |ms: Option<i64>| ms.map_or_else(|| "-".to_owned(), rfc3339);
        writeln!(out, "store              {name}")?;
        writeln!(
            out,
            "answers            {:>10}   ({} successes, {} row answers such as 224801)",
            stats.answers,
            stats.successes,
            stats.answers - stats.successes.min(stats.answers)
        )?;
        writeln!(out, "history entries    {:>10}", stats.history)?;
        writeln!(
            out,
            "requests (ledger)  {:>10}   ({} billed)",
            stats.ledger, stats.billed
        )?;
        writeln!(out, "runs               {:>10}", stats.runs)?;
        writeln!(out, "live claims        {:>10}", stats.claims)?;
        writeln!(out, "oldest answer      {}", when(stats.oldest_ms))?;
        writeln!(out, "newest answer      {}", when(stats.newest_ms))
    })
}

fn export(location: &Location, format: ExportFormat, output: Option<&Path>) -> Result<Exit, Error> {
    let store = Store::open_read_only(location, EVERY_SOURCE)?;
    let Some(path) = output else {
        let mut out = Written::new(BufWriter::new(std::io::stdout().lock()));
        return match store.export(format, &mut out) {
            Ok(()) => Ok(Exit::Success),
            Err(error) => out.outcome(error.into()),
        };
    };
    let (staged, file) = Staged::create(path, "the export")?;
    let mut out = Written::new(BufWriter::new(&file));
    if let Err(error) = store.export(format, &mut out) {
        // The temporary file goes with `staged`: nothing at the path.
        return out.outcome(error.into());
    }
    drop(out);
    staged.commit(file)?;
    Ok(Exit::Success)
}

fn import(location: &Location, file: &Path) -> Result<Exit, Error> {
    // Checked before the store is opened, which creates it.
    if !file.is_file() {
        return Err(usage!(
            "{} is not a file: `tenure cache import` reads an SQLite store, such as the \
             OUTPUT.cache.sqlite an earlier tenure left beside its output",
            file.display()
        ));
    }
    let store = Store::open(location, EVERY_SOURCE)?;
    let counts = store.import(file)?;
    store.close()?;
    report(std::io::stdout().lock(), |out| {
        writeln!(
            out,
            "imported {} into {location}: {} answers added, {} replaced by newer ones, {} kept \
             (the store's were as new or newer), {} history entries added",
            file.display(),
            counts.answers_added,
            counts.answers_updated,
            counts.answers_kept,
            counts.history_added
        )
    })
}

fn purge(location: &Location, purge: &Purge) -> Result<Exit, Error> {
    // A store that is not there has nothing to purge: opened read-write, a
    // mistyped --cache would become a new, empty store.
    if let Some(path) = location.path()
        && !path.exists()
    {
        return Err(crate::store::StoreError::Missing {
            store: location.to_string(),
        }
        .into());
    }
    let store = Store::open(location, EVERY_SOURCE)?;
    let removed = store.purge(purge)?;
    store.close()?;
    let what = match purge {
        Purge::Code(code) => format!("with code {code}"),
        Purge::OlderThan(age) => format!("older than {}", humantime::format_duration(*age)),
    };
    report(std::io::stdout().lock(), |out| {
        writeln!(
            out,
            "removed {} answers and {} history entries {what} from {location}; the ledger of \
             requests is kept (tenure usage and --max-billed-24h read it)",
            removed.answers, removed.history
        )
    })
}

/// An instant in RFC 3339, UTC, as the export writes it.
pub(crate) fn rfc3339(at_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(at_ms)
        .map(|at| at.to_string())
        .unwrap_or_default()
}
