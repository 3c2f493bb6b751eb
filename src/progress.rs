//! The progress bar on stderr: rows done, rate, ETA, billed queries and
//! errors. Hidden when stderr is not a terminal or with `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

use crate::summary::Rows;

/// A progress display; cheap to update from the writer for every row.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// `total` is the number of rows when known (a file counted first).
    pub fn new(visible: bool, total: Option<u64>) -> Self {
        if !visible {
            return Progress::hidden();
        }
        let bar = match total {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = if total.is_some() {
            "{elapsed_precise} [{bar:30}] {human_pos}/{human_len} rows, ETA {eta}  {msg}"
        } else {
            "{elapsed_precise} {spinner} {human_pos} rows  {msg}"
        };
        bar.set_style(
            ProgressStyle::with_template(template)
                .expect("the progress template is valid")
                .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    pub fn hidden() -> Self {
        Progress {
            bar: ProgressBar::hidden(),
        }
    }

    /// Called by the writer as rows are written.
    pub fn update(&self, rows: &Rows, billed: u64) {
        if self.bar.is_hidden() {
            return;
        }
        self.bar.set_position(rows.rows);
        // The writer calls this at most every couple of milliseconds, and
        // indicatif redraws a few times a second: the message is cheap.
        let rate = rows.rows as f64 / self.bar.elapsed().as_secs_f64().max(0.001);
        let errors = rows.by_error_code.values().sum::<u64>();
        self.bar.set_message(format!(
            "{rate:.0} rows/s  billed {billed}  from store {}  failed {}  errors {errors}",
            rows.from_store, rows.failed
        ));
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
