//! `tenure enrich`: builds the runtime parts from the config, runs the
//! pipeline, decides the exit from what came back ([`outcome`], pure), and
//! reports: the output renamed into place (exit 0 or 3), or nothing at the
//! output path (exit 4, 130, or an error).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Instant;
use tempfile::NamedTempFile;

use crate::client::Client;
use crate::config::{Api, Cache, EnrichConfig};
use crate::crypto::Cipher;
use crate::exit::{Error, Exit};
use crate::input::Input;
use crate::limiter::Limiter;
use crate::output::{self, Output};
use crate::pipeline::{self, Halt, Ran, Runtime};
use crate::progress::Progress;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::stop::{self, Stop};
use crate::store::Store;
use crate::summary::{Counters, Rows, Summary};
use crate::usage;

pub fn enrich(config: EnrichConfig) -> Result<Exit, Error> {
    let started = Instant::now();
    // The input first: a run that cannot read it starts nothing and leaves
    // no store behind.
    let input = Input::open(&config.input)?;
    let parts = Parts::build(&config)?;
    let summary_file = config
        .summary_json
        .as_deref()
        .map(summary_file)
        .transpose()?;
    let mut output = Output::create(config.output.as_deref(), config.input.delimiter, config.bom)?;
    if let Some(headers) = &input.headers {
        output.write_headers(headers)?;
    }
    let visible = !config.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let progress = Progress::new(visible, input.position());
    let runtime = parts.runtime(&progress);
    let Ran { rows, halt } = pipeline::run(input, &mut output, &runtime, &config.settings);
    progress.finish();
    let Parts {
        store,
        counters,
        sandbox,
        ..
    } = parts;
    // Whatever happened, keep the answers that arrived.
    let closed = store.close();
    let exit = outcome(halt.as_ref(), &rows);
    match &halt {
        None => output.commit()?,
        // The error itself is reported once, by the caller.
        Some(Halt::Failed(_)) => output.discard(),
        Some(halt) => {
            output.discard();
            eprintln!("tenure: {}; {}", describe(halt), aftermath(&config));
        }
    }
    if let Some(Halt::Failed(err)) = halt {
        return Err(err);
    }
    closed?;

    let mut summary = Summary::new(&rows, &counters, started.elapsed(), sandbox.is_some());
    summary.stopped = halt.as_ref().map(describe);
    summary.exit_code = exit.code();
    report(&config, &summary, &rows, exit);
    if let (Some(file), Some(path)) = (summary_file, &config.summary_json) {
        write_summary(file, path, &summary)?;
    }
    Ok(exit)
}

/// The exit a run ends with, from why it halted (if it did) and its rows.
pub fn outcome(halt: Option<&Halt>, rows: &Rows) -> Exit {
    match halt {
        None if rows.failed > 0 => Exit::Partial,
        None => Exit::Success,
        Some(Halt::Interrupted) => Exit::Interrupted,
        Some(Halt::Fatal(_) | Halt::LooksDown { .. } | Halt::Refused) => Exit::Stopped,
        Some(Halt::Failed(err)) => err.exit(),
    }
}

/// The runtime parts of one run, built from the config.
struct Parts {
    /// The in-process simulator with `--sandbox`; stopped when dropped.
    sandbox: Option<Sandbox>,
    client: Client,
    limiter: Limiter,
    store: Store,
    stop: Stop,
    counters: Counters,
}

impl Parts {
    fn build(config: &EnrichConfig) -> Result<Parts, Error> {
        let say = |message: &str| {
            if !config.quiet {
                eprintln!("tenure: {message}");
            }
        };
        let sandbox = match config.api {
            Api::Sandbox => Some(
                Sandbox::start(
                    SandboxConfig::default(),
                    SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                )
                .map_err(|err| anyhow::anyhow!("cannot start the sandbox: {err}"))?,
            ),
            Api::Remote(_) => None,
        };
        let base = match (&sandbox, &config.api) {
            (Some(sandbox), _) => sandbox.url(),
            (None, api) => api.source().to_owned(),
        };
        if sandbox.is_some() {
            say("running against the built-in sandbox: every answer is SIMULATED");
        }
        let store = match &config.cache {
            Cache::File(path) => Store::open(path, config.api.source())?,
            Cache::Temporary => {
                if config.output.is_some() {
                    say(
                        "--no-cache: no answer is kept, so a rerun will pay again for every number",
                    );
                }
                Store::temporary(config.api.source())?
            }
        };
        let client = Client::new(
            &base,
            config.key.clone(),
            config.openid.as_ref().map(Cipher::new),
            config.timeout,
        )
        .map_err(|err| anyhow::anyhow!("cannot build the HTTP client: {}", err.without_url()))?;
        stop::install_interrupt_handler();
        Ok(Parts {
            sandbox,
            client,
            limiter: Limiter::new(config.qps),
            store,
            stop: Stop::new(),
            counters: Counters::default(),
        })
    }

    fn runtime<'a>(&'a self, progress: &'a Progress) -> Runtime<'a> {
        Runtime {
            client: &self.client,
            limiter: &self.limiter,
            store: &self.store,
            stop: &self.stop,
            progress,
            counters: &self.counters,
        }
    }
}

/// The summary on stderr, unless `--quiet`.
fn report(config: &EnrichConfig, summary: &Summary, rows: &Rows, exit: Exit) {
    if config.quiet {
        return;
    }
    eprint!("{}", summary.render());
    if exit == Exit::Partial {
        eprintln!(
            "tenure: {} rows still failed after their retries; rerun the same command to retry only those",
            rows.failed
        );
    }
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

fn describe(halt: &Halt) -> String {
    match halt {
        Halt::Fatal(failure) => format!(
            "stopped: the API refused the batch with {} {}; no request can succeed until that is fixed",
            failure.kind, failure.message
        ),
        Halt::LooksDown { numbers, last } => format!(
            "stopped: the API looks down ({numbers} numbers in a row ran out of retries; last: {last})"
        ),
        Halt::Refused => "stopped: the API refused every request (224804 参数错误)".to_owned(),
        Halt::Interrupted => "interrupted".to_owned(),
        Halt::Failed(err) => format!("stopped by an error: {err}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Failure, FailureKind};

    fn failure() -> Failure {
        Failure {
            kind: FailureKind::Api(10001),
            message: "错误的请求KEY".to_owned(),
        }
    }

    #[test]
    fn every_row_answered_is_success() {
        assert_eq!(outcome(None, &Rows::default()), Exit::Success);
    }

    #[test]
    fn rows_that_failed_make_a_partial_run() {
        let rows = Rows {
            failed: 1,
            ..Rows::default()
        };
        assert_eq!(outcome(None, &rows), Exit::Partial);
    }

    #[test]
    fn a_fatal_answer_or_an_api_that_looks_down_stops() {
        let rows = Rows::default();
        assert_eq!(outcome(Some(&Halt::Fatal(failure())), &rows), Exit::Stopped);
        let down = Halt::LooksDown {
            numbers: 20,
            last: failure(),
        };
        assert_eq!(outcome(Some(&down), &rows), Exit::Stopped);
    }

    #[test]
    fn an_interrupt_is_130_even_with_failed_rows() {
        let rows = Rows {
            failed: 3,
            ..Rows::default()
        };
        assert_eq!(outcome(Some(&Halt::Interrupted), &rows), Exit::Interrupted);
    }

    #[test]
    fn an_error_exits_with_its_own_code() {
        let rows = Rows::default();
        let input = Halt::Failed(usage!("x.csv, line 3 is not valid CSV"));
        assert_eq!(outcome(Some(&input), &rows), Exit::Usage);
        let bug = Halt::Failed(Error::Internal(anyhow::anyhow!("boom")));
        assert_eq!(outcome(Some(&bug), &rows), Exit::Internal);
    }
}
