//! The progress bar on stderr: how far through the input, rows done, rate,
//! ETA, billed queries and errors. Hidden when stderr is not a terminal or
//! with `--quiet`. The bar measures the input's bytes (a file's size is
//! known without reading it through), so the input is read only once.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

use crate::input::Position;
use crate::summary::Rows;

/// A progress display; cheap to update from the writer for every row.
pub struct Progress {
    bar: ProgressBar,
    /// Where the reading is in the input.
    position: Option<Position>,
}

impl Progress {
    /// Shows progress through the input at `position` (against its size
    /// when it is a file).
    pub fn new(visible: bool, position: Position) -> Self {
        if !visible {
            return Progress::hidden();
        }
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
        Progress {
            bar,
            position: Some(position),
        }
    }

    pub fn hidden() -> Self {
        Progress {
            bar: ProgressBar::hidden(),
            position: None,
        }
    }

    /// Called by the writer as rows are written.
    pub fn update(&self, rows: &Rows, billed: u64) {
        if self.bar.is_hidden() {
            return;
        }
        if let Some(position) = &self.position {
            self.bar.set_position(position.consumed());
        }
        // The writer calls this at most every couple of milliseconds, and
        // indicatif redraws a few times a second: the message is cheap.
        let rate = rows.rows as f64 / self.bar.elapsed().as_secs_f64().max(0.001);
        let errors = rows.by_error_code.values().sum::<u64>();
        self.bar.set_message(format!(
            "{} rows  {rate:.0} rows/s  billed {billed}  from store {}  failed {}  errors {errors}",
            rows.rows, rows.from_store, rows.failed
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
