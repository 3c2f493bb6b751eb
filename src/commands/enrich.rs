//! `tenure enrich`: builds the runtime parts from the config, runs the
//! pipeline, and decides what the run ends with: the output renamed into
//! place (exit 0 or 3), or nothing at the output path (exit 4, 130).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Instant;
use tempfile::NamedTempFile;

use crate::client::Client;
use crate::config::{Cache, EnrichConfig, Target};
use crate::crypto::Cipher;
use crate::exit::{Error, Exit};
use crate::input::{Encoding, Input, InputConfig};
use crate::limiter::Limiter;
use crate::output::{self, Output};
use crate::pipeline::{self, Stages};
use crate::progress::Progress;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::stop::{self, Reason, Stop};
use crate::store::{Location, Pace, RunSpec, Store};
use crate::summary::{Counters, Summary};
use crate::usage;

pub fn enrich(config: EnrichConfig) -> Result<Exit, Error> {
    let started = Instant::now();
    let say = |message: &str| {
        if !config.quiet {
            eprintln!("tenure: {message}");
        }
    };
    // The input first: a run that cannot read it starts nothing and leaves
    // no store behind.
    let input = Input::open(&config.input)?;
    let sandbox = match config.target {
        Target::Sandbox => Some(
            Sandbox::start(
                SandboxConfig::default(),
                SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            )
            .map_err(|err| anyhow::anyhow!("cannot start the sandbox: {err}"))?,
        ),
        Target::Remote(_) => None,
    };
    let base = match (&sandbox, &config.target) {
        (Some(sandbox), _) => sandbox.url(),
        (None, target) => target.source().to_owned(),
    };
    if sandbox.is_some() {
        say("running against the built-in sandbox: every answer is SIMULATED");
    }

    let store = match &config.cache {
        Cache::File(path) => Store::open(&Location::Sqlite(path.clone()), config.target.source())?,
        Cache::Temporary => {
            if config.output.is_some() {
                say("--no-cache: no answer is kept, so a rerun will pay again for every number");
            }
            Store::temporary(config.target.source())?
        }
    };
    if input.encoding == Encoding::Gbk && config.input.encoding == Encoding::Auto {
        say(&format!(
            "{} is not UTF-8: reading it as GBK/GB18030 (--encoding to choose)",
            input.name
        ));
    }
    let summary_file = config
        .summary_json
        .as_deref()
        .map(summary_file)
        .transpose()?;
    let mut output = Output::create(config.output.as_deref(), config.input.delimiter, config.bom)?;
    if let Some(headers) = &input.headers {
        output.write_headers(headers)?;
    }
    let client = Client::new(
        &base,
        config.key.clone(),
        config.openid.as_ref().map(Cipher::new),
        config.timeout,
    )
    .map_err(|err| anyhow::anyhow!("cannot build the HTTP client: {}", err.without_url()))?;
    let limiter = Limiter::new(config.qps);
    let run = store.join(
        RunSpec {
            group: None,
            qps: config.qps.get(),
            endpoint: client.endpoint(),
            sandbox: sandbox.is_some(),
        },
        std::sync::Arc::new(Unpaced),
    )?;
    let stop = Stop::new();
    stop::install_interrupt_handler();
    let visible = !config.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let total = if visible {
        count_rows(&config.input)
    } else {
        None
    };
    let progress = Progress::new(visible, total);
    let counters = Counters::default();
    let stages = Stages {
        client: &client,
        limiter: &limiter,
        store: &store,
        run: &run,
        stop: &stop,
        progress: &progress,
        counters: &counters,
    };

    let ran = pipeline::run(input, &mut output, &stages, &config.settings);
    progress.finish();
    // Whatever happened, keep the answers that arrived.
    let finished = run.finish();
    let closed = store.close();
    let rows = ran?;
    finished?;
    closed?;

    let reason = stop.reason();
    let exit = match &reason {
        None => {
            output.commit()?;
            if rows.failed > 0 {
                Exit::Partial
            } else {
                Exit::Success
            }
        }
        Some(reason) => {
            output.discard();
            eprintln!("tenure: {}; {}", describe(reason), aftermath(&config));
            match reason {
                Reason::Interrupted => Exit::Interrupted,
                Reason::Fatal(_) | Reason::LooksDown { .. } => Exit::Stopped,
                Reason::Failed => Exit::Internal,
            }
        }
    };

    let mut summary = Summary::new(&rows, &counters, started.elapsed(), sandbox.is_some());
    summary.stopped = reason.as_ref().map(describe);
    summary.exit_code = exit.code();
    if !config.quiet {
        eprint!("{}", summary.render());
        if exit == Exit::Partial {
            eprintln!(
                "tenure: {} rows still failed after their retries; rerun the same command to retry only those",
                rows.failed
            );
        }
    }
    if let (Some(file), Some(path)) = (summary_file, &config.summary_json) {
        write_summary(file, path, &summary)?;
    }
    Ok(exit)
}

/// What a stopped run leaves behind, and how to go on.
fn aftermath(config: &EnrichConfig) -> String {
    let output = if config.output.is_some() {
        "nothing was written at the output path"
    } else {
        "the rows already on standard output are incomplete and cannot be withdrawn"
    };
    let store = match &config.cache {
        Cache::File(path) => format!(
            "the answers so far are kept in {}: rerun the same command to resume without paying for them again",
            path.display()
        ),
        Cache::Temporary if config.output.is_none() => {
            "no store was kept (output to stdout without --cache): a rerun pays again".to_owned()
        }
        Cache::Temporary => "no store was kept (--no-cache): a rerun pays again".to_owned(),
    };
    format!("{output}; {store}")
}

/// A temporary file beside `path`, made before the run: a path that cannot
/// be written fails before any request rather than after the output is in
/// place, and a run that fails leaves an earlier summary as it was.
fn summary_file(path: &Path) -> Result<NamedTempFile, Error> {
    NamedTempFile::new_in(output::folder_of(path))
        .map_err(|err| usage!("cannot write --summary-json {}: {err}", path.display()))
}

fn write_summary(mut file: NamedTempFile, path: &Path, summary: &Summary) -> Result<(), Error> {
    let failed = |err: &dyn std::fmt::Display| {
        anyhow::anyhow!("writing --summary-json {}: {err}", path.display())
    };
    serde_json::to_writer_pretty(&mut file, summary).map_err(|err| failed(&err))?;
    file.persist(path).map_err(|err| failed(&err))?;
    Ok(())
}

fn describe(reason: &Reason) -> String {
    match reason {
        Reason::Fatal(failure) => format!(
            "stopped: the API refused the batch with {} {}; no request can succeed until that is fixed",
            failure.kind.code(),
            failure.message
        ),
        Reason::LooksDown { numbers, last } => format!(
            "stopped: the API looks down ({numbers} numbers in a row ran out of retries; last: {last})"
        ),
        Reason::Interrupted => "interrupted".to_owned(),
        Reason::Failed => "stopped by an error".to_owned(),
    }
}

/// Counts the data rows of a file for the progress bar's ETA: a fast pass
/// over the raw bytes (the CSV structure is ASCII in GBK files too).
fn count_rows(input: &InputConfig) -> Option<u64> {
    let path = input.path.as_ref()?;
    // A pipe given as a path cannot be read twice: its rows would be eaten.
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(input.delimiter)
        .has_headers(input.has_headers)
        .flexible(true)
        .from_path(path)
        .ok()?;
    let mut record = csv::ByteRecord::new();
    let mut rows = 0;
    while reader.read_byte_record(&mut record).ok()? {
        rows += 1;
    }
    Some(rows)
}

/// Until the pipeline paces runs of a rate group (issue 12), a run keeps
/// its own limiter and ignores its share and lease.
struct Unpaced;

impl Pace for Unpaced {
    fn set_share(&self, _granted: u32) {}
    fn renewed(&self, _valid_until: std::time::Instant) {}
    fn demand(&self) -> f64 {
        f64::INFINITY
    }
}
