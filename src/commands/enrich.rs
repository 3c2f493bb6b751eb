//! `tenure enrich`: builds the runtime parts from the config, runs the
//! pipeline, decides the exit from what came back ([`outcome`], pure), and
//! reports: the output renamed into place (exit 0 or 3), or nothing at the
//! output path (exit 4, 5, 130, or an error); a summary on stderr and, on
//! every exit, the summary JSON.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use crate::client::Client;
use crate::config::{Api, Cache, EnrichConfig, Reporting};
use crate::crypto::Cipher;
use crate::exit::{Error, Exit};
use crate::input::Input;
use crate::limiter::Limiter;
use crate::log::Log;
use crate::output::{self, Output};
use crate::pipeline::{self, Halt, Ran, Runtime};
use crate::progress::{Display, Progress};
use crate::row::CHANGE_COLUMN;
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::stop::{self, Stop};
use crate::store::{Pace, Run, RunSpec, Store};
use crate::summary::{Counters, Facts, Rows, Summary};
use crate::usage;

/// Runs `tenure enrich` to its exit, reporting everything, errors included.
pub fn enrich(config: Result<EnrichConfig, Error>, reporting: Reporting) -> Exit {
    let Reporting {
        log,
        summary_json,
        mut facts,
        progress,
    } = reporting;
    let (exit, summary) = match config.and_then(|config| run(&config, &log, &mut facts, progress)) {
        Ok(ran) => ran,
        Err(err) => {
            log.error(&err.to_string());
            (
                err.exit(),
                Summary::of_error(&facts, err.exit(), err.to_string()),
            )
        }
    };
    if let Some(path) = summary_json {
        write_summary(&path, &summary, &log);
    }
    exit
}

/// One run, from opening the input to the output in place. An `Err` is an
/// error before the pipeline ran (exit 2 mostly); what ends the pipeline is
/// a halt, reported with the counts so far.
fn run(
    config: &EnrichConfig,
    log: &Log,
    facts: &mut Facts,
    display: Display,
) -> Result<(Exit, Summary), Error> {
    // The input first: a run that cannot read it starts nothing and leaves
    // no store behind.
    let input = Input::open(&config.input, *log)?;
    if config.changes
        && let Some(headers) = &input.headers
        && headers.iter().any(|name| name == CHANGE_COLUMN.as_bytes())
    {
        return Err(usage!(
            "{} already has a column named {CHANGE_COLUMN:?}, which --changes adds; rename it \
             or leave out --changes",
            input.name
        ));
    }
    let parts = Parts::build(config, log)?;
    facts.store = Some(parts.store_name.clone());
    let mut output = Output::create(
        config.output.as_deref(),
        config.input.delimiter,
        config.style,
    )?
    .with_change_column(config.changes);
    if let Some(headers) = &input.headers {
        output.write_headers(headers)?;
    }
    let progress = Progress::new(display, input.position(), *log);
    let run = parts.join(config)?;
    facts.run = Some(run.id().to_owned());
    let runtime = parts.runtime(&run, &progress, log);
    let Ran { rows, halt } = pipeline::run(input, &mut output, &runtime, &config.settings);
    progress.finish();
    // Whatever happened, keep the answers that arrived; then the output.
    let finished = run.finish();
    let Parts {
        store, counters, ..
    } = parts;
    let closed = finished.and(store.close());
    let halt = match (halt, closed) {
        (None, Err(err)) => Some(Halt::Failed(err.into())),
        (halt, _) => halt,
    };
    let halt = match halt {
        None => output.commit().err().map(Halt::Failed),
        Some(halt) => {
            output.discard();
            Some(halt)
        }
    };
    if let Some(halt) = &halt {
        log.error(&format!(
            "{}; {}",
            halt.advice(facts.encrypted),
            aftermath(config)
        ));
    }
    let exit = outcome(halt.as_ref(), &rows);
    let summary = Summary::of_run(facts, &rows, &counters, exit, halt.as_ref());
    report(log, &summary, &rows, exit);
    Ok((exit, summary))
}

/// The exit a run ends with, from why it halted (if it did) and its rows.
pub fn outcome(halt: Option<&Halt>, rows: &Rows) -> Exit {
    match halt {
        None if rows.failed > 0 || rows.unasked > 0 => Exit::Partial,
        None => Exit::Success,
        Some(Halt::Interrupted) => Exit::Interrupted,
        Some(Halt::Fatal(_) | Halt::LooksDown { .. } | Halt::Refused | Halt::Throttled { .. }) => {
            Exit::Stopped
        }
        Some(Halt::Failed(err)) => err.exit(),
    }
}

/// The runtime parts of one run, built from the config.
struct Parts {
    /// The in-process simulator with `--sandbox`; stopped when dropped.
    _sandbox: Option<Sandbox>,
    client: Client,
    limiter: Arc<Limiter>,
    store: Store,
    /// Where the store is, for messages and the summary.
    store_name: String,
    stop: Stop,
    counters: Counters,
}

impl Parts {
    fn build(config: &EnrichConfig, log: &Log) -> Result<Parts, Error> {
        let sandbox = match config.api {
            Api::Sandbox => Some(
                Sandbox::start(
                    SandboxConfig {
                        epoch: config.sandbox_epoch,
                        ..SandboxConfig::default()
                    },
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
            log.info("running against the built-in sandbox: every answer is SIMULATED");
        }
        let store = open_store(config, log)?;
        let store_name = match &config.cache {
            Cache::Store(location) => location.to_string(),
            Cache::Temporary => "none".to_owned(),
        };
        let client = Client::new(
            &base,
            config.key.clone(),
            config.openid.as_ref().map(Cipher::new),
            config.timeout,
        )
        .map_err(|err| anyhow::anyhow!("cannot build the HTTP client: {}", err.without_url()))?;
        stop::install_interrupt_handler(*log);
        Ok(Parts {
            _sandbox: sandbox,
            client,
            limiter: Arc::new(Limiter::new(config.qps)),
            store,
            store_name,
            stop: Stop::new(),
            counters: Counters::default(),
        })
    }

    /// Joins the store as a run of the config's rate group.
    fn join(&self, config: &EnrichConfig) -> Result<Run<'_>, Error> {
        let spec = RunSpec {
            group: config.group.clone(),
            qps: config.qps.get(),
            endpoint: self.client.endpoint(),
            sandbox: self._sandbox.is_some(),
        };
        let pace: Arc<dyn Pace> = Arc::new(LimiterPace(Arc::clone(&self.limiter)));
        Ok(self.store.join(spec, pace)?)
    }

    fn runtime<'a>(
        &'a self,
        run: &'a Run<'a>,
        progress: &'a Progress,
        log: &'a Log,
    ) -> Runtime<'a> {
        Runtime {
            client: &self.client,
            limiter: &self.limiter,
            store: &self.store,
            run,
            stop: &self.stop,
            progress,
            counters: &self.counters,
            log,
        }
    }
}

/// Opens the run's store; says what a user upgrading or going without one
/// should know.
fn open_store(config: &EnrichConfig, log: &Log) -> Result<Store, Error> {
    let source = config.api.source();
    match &config.cache {
        Cache::Store(location) => {
            if let Some(legacy) = &config.legacy_store {
                log.info(&format!(
                    "{} is the store of an earlier version of tenure; to reuse its answers \
                     instead of paying for them again, run once: tenure cache import {} \
                     --cache {location}",
                    legacy.display(),
                    legacy.display()
                ));
            }
            Ok(Store::open(location, source)?)
        }
        Cache::Temporary => {
            let removed = crate::store::clean_leftovers();
            if removed > 0 {
                log.info(&format!(
                    "removed {removed} temporary store(s) left by runs that were killed"
                ));
            }
            log.info(
                "--no-cache: no answer is kept and no rate group is joined, so a rerun will pay \
                 again for every number",
            );
            Ok(Store::temporary(source)?)
        }
    }
}

/// The run's limiter, paced by the store's heartbeat: its share of the
/// group's rate, and its lease.
struct LimiterPace(Arc<Limiter>);

impl Pace for LimiterPace {
    fn set_share(&self, granted: u32) {
        self.0.set_share(granted);
    }

    fn renewed(&self, valid_until: Instant) {
        self.0.renewed(valid_until);
    }

    fn demand(&self) -> f64 {
        self.0.demand()
    }
}

/// The summary on stderr, unless `--quiet`.
fn report(log: &Log, summary: &Summary, rows: &Rows, exit: Exit) {
    log.event("summary", &summary.render(), summary);
    if exit == Exit::Partial {
        log.info(&format!(
            "{} rows still failed after their retries; rerun the same command to retry only those",
            rows.failed
        ));
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
        Cache::Store(location) => format!(
            "the answers so far are kept in {location}, so a rerun does not pay for them again"
        ),
        Cache::Temporary if config.output.is_none() => {
            "no store was kept (output to stdout without --cache): a rerun pays again".to_owned()
        }
        Cache::Temporary => "no store was kept (--no-cache): a rerun pays again".to_owned(),
    };
    format!("{output}; {store}")
}

/// Writes the summary JSON atomically (a temporary file beside it, renamed),
/// so that a reader never sees half of one and a stale one never says
/// success after a failed run. A failure to write it is said on stderr.
fn write_summary(path: &Path, summary: &Summary, log: &Log) {
    let written = tempfile::NamedTempFile::new_in(output::folder_of(path))
        .map_err(|err| err.to_string())
        .and_then(|mut file| {
            serde_json::to_writer_pretty(&mut file, summary).map_err(|err| err.to_string())?;
            std::io::Write::write_all(&mut file, b"\n").map_err(|err| err.to_string())?;
            file.persist(path).map_err(|err| err.to_string())?;
            Ok(())
        });
    if let Err(err) = written {
        log.error(&format!(
            "cannot write --summary-json {}: {err}",
            path.display()
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Failure, FailureKind};
    use crate::usage;

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
        let mut rows = Rows::default();
        rows.failed = 1;
        assert_eq!(outcome(None, &rows), Exit::Partial);
    }

    #[test]
    fn the_api_refusing_the_batch_stops() {
        let rows = Rows::default();
        assert_eq!(outcome(Some(&Halt::Fatal(failure())), &rows), Exit::Stopped);
        let down = Halt::LooksDown {
            numbers: 20,
            last: failure(),
        };
        assert_eq!(outcome(Some(&down), &rows), Exit::Stopped);
        assert_eq!(outcome(Some(&Halt::Refused), &rows), Exit::Stopped);
        let throttled = Halt::Throttled { last: failure() };
        assert_eq!(outcome(Some(&throttled), &rows), Exit::Stopped);
    }

    #[test]
    fn an_interrupt_is_130_even_with_failed_rows() {
        let mut rows = Rows::default();
        rows.failed = 3;
        assert_eq!(outcome(Some(&Halt::Interrupted), &rows), Exit::Interrupted);
    }

    #[test]
    fn an_error_exits_with_its_own_code() {
        let rows = Rows::default();
        let input = Halt::Failed(usage!("x.csv, line 3 is not valid CSV"));
        assert_eq!(outcome(Some(&input), &rows), Exit::Usage);
        let disk = Halt::Failed(Error::Environment("disk full".into()));
        assert_eq!(outcome(Some(&disk), &rows), Exit::Environment);
        let bug = Halt::Failed(Error::Internal(anyhow::anyhow!("boom")));
        assert_eq!(outcome(Some(&bug), &rows), Exit::Internal);
    }
}
