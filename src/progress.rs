//! Progress on stderr. On a terminal, indicatif's bar: how far through the
//! input, rows done, rate, ETA, billed queries and errors. Elsewhere (cron,
//! Airflow, Kubernetes), a timestamped line every `--progress-interval`
//! through the run's [`Log`], so a scheduler's log shows the run moving.
//! Nothing with `--quiet`.
//!
//! Progress is measured in the input's bytes (a file's size is known
//! without reading it through), so the input is read only once.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::input::Position;
use crate::log::Log;
use crate::summary::Rows;

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Display {
    /// Nothing.
    Hidden,
    /// A bar redrawn in place (stderr is a terminal).
    Bar,
    /// A line every so often (stderr is a file or a pipe).
    Lines(Duration),
}

/// A progress display; cheap to update from the writer for every row.
pub struct Progress {
    bar: ProgressBar,
    position: Position,
    latest: Arc<Latest>,
    ticker: Option<JoinHandle<()>>,
}

/// The latest counts, for the line printer.
#[derive(Default)]
struct Latest {
    snapshot: Mutex<Snapshot>,
    /// Wakes the line printer early when the run ends.
    done: Condvar,
}

#[derive(Clone, Copy, Default)]
struct Snapshot {
    rows: u64,
    billed: u64,
    errors: u64,
    finished: bool,
}

/// One progress line's fields, in JSON.
#[derive(Serialize)]
struct Line {
    rows: u64,
    /// Percent of the input read, for a file.
    percent: Option<f64>,
    billed: u64,
    errors: u64,
    rows_per_sec: f64,
    eta_secs: Option<u64>,
}

impl Progress {
    pub fn new(display: Display, position: Position, log: Log) -> Self {
        let latest = Arc::new(Latest::default());
        let (bar, ticker) = match display {
            Display::Hidden => (ProgressBar::hidden(), None),
            Display::Bar => (bar(&position), None),
            Display::Lines(every) => {
                let ticker = spawn_lines(every, position.clone(), Arc::clone(&latest), log);
                (ProgressBar::hidden(), ticker)
            }
        };
        Progress {
            bar,
            position,
            latest,
            ticker,
        }
    }

    /// Called by the writer as rows are written.
    pub fn update(&self, rows: &Rows, billed: u64) {
        let errors = rows.error_count();
        if self.ticker.is_some() {
            let mut latest = self
                .latest
                .snapshot
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            *latest = Snapshot {
                rows: rows.rows,
                billed,
                errors,
                finished: false,
            };
        }
        if self.bar.is_hidden() {
            return;
        }
        self.bar.set_position(self.position.consumed());
        // The writer calls this at most every couple of milliseconds, and
        // indicatif redraws a few times a second: the message is cheap.
        let rate = rows.rows as f64 / self.bar.elapsed().as_secs_f64().max(0.001);
        self.bar.set_message(format!(
            "{} rows  {rate:.0} rows/s  billed {billed}  from store {}  failed {}  errors {errors}",
            rows.rows, rows.from_store, rows.failed
        ));
    }

    pub fn finish(mut self) {
        self.bar.finish_and_clear();
        self.latest
            .snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .finished = true;
        self.latest.done.notify_all();
        if let Some(ticker) = self.ticker.take() {
            // The printer only formats and writes; a panic there is not the
            // run's concern.
            let _ = ticker.join();
        }
    }
}

fn bar(position: &Position) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(position.size, ProgressDrawTarget::stderr());
    let template = if position.size.is_some() {
        "{elapsed_precise} [{bar:30}] {percent}%, ETA {eta}  {msg}"
    } else {
        "{elapsed_precise} {spinner} {msg}"
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .expect("the progress template is valid")
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Starts the thread that logs a progress line every `every`.
fn spawn_lines(
    every: Duration,
    position: Position,
    latest: Arc<Latest>,
    log: Log,
) -> Option<JoinHandle<()>> {
    let started = Instant::now();
    let printer = move || {
        let mut snapshot = latest
            .snapshot
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        loop {
            snapshot = latest
                .done
                .wait_timeout(snapshot, every)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if snapshot.finished {
                return;
            }
            let now = *snapshot;
            drop(snapshot);
            print_line(&log, &position, now, started.elapsed());
            snapshot = latest
                .snapshot
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
        }
    };
    std::thread::Builder::new()
        .name("tenure-progress".to_owned())
        .spawn(printer)
        .ok()
}

fn print_line(log: &Log, position: &Position, now: Snapshot, elapsed: Duration) {
    let secs = elapsed.as_secs_f64().max(0.001);
    let fraction = position
        .size
        .filter(|&size| size > 0)
        .map(|size| (position.consumed() as f64 / size as f64).min(1.0));
    let eta = fraction
        .filter(|&f| f > 0.0)
        .map(|f| (secs / f - secs).max(0.0).round() as u64);
    let line = Line {
        rows: now.rows,
        percent: fraction.map(|f| (f * 1000.0).round() / 10.0),
        billed: now.billed,
        errors: now.errors,
        rows_per_sec: (now.rows as f64 / secs * 10.0).round() / 10.0,
        eta_secs: eta,
    };
    let mut text = format!("progress: {} rows", line.rows);
    if let Some(percent) = line.percent {
        text.push_str(&format!(" ({percent}% of the input)"));
    }
    text.push_str(&format!(
        ", billed {}, errors {}, {} rows/s",
        line.billed, line.errors, line.rows_per_sec
    ));
    if let Some(eta) = eta {
        let eta = humantime::format_duration(Duration::from_secs(eta));
        text.push_str(&format!(", ETA {eta}"));
    }
    let stamped = format!(
        "{} {text}",
        crate::summary::rfc3339(std::time::SystemTime::now())
    );
    log.event(
        "progress",
        if log.is_json() { &text } else { &stamped },
        &line,
    );
}
