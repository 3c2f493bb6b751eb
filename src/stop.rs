//! The one signal every stage obeys: stop starting requests.
//!
//! A run stops for a fatal answer (bad key, quota), because the API looks
//! down, an error, or because the user interrupted it. Why it stopped is
//! not kept here: the pipeline records that as a value ([`crate::pipeline::Halt`])
//! in one place; this is only the signal. Stages poll [`Stop::is_stopped`]
//! before starting work and sleep through [`Stop::sleep`], which wakes
//! early when a stop arrives.
//!
//! Process-wide state: SIGINT/SIGTERM can only be caught once per process,
//! so the signal handler counts interrupts in one static, which every
//! [`Stop`] also reads, and knows the partial output file to remove if a
//! second signal makes it exit at once. These two statics are the only
//! globals in the crate.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use crate::log::Log;

static INTERRUPTS: AtomicUsize = AtomicUsize::new(0);
static INSTALL: Once = Once::new();
/// The partial output file, removed if a second signal exits at once.
static PARTIAL: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Names the partial output file (or `None` once it is renamed or gone),
/// so that a forced exit leaves no half-written file with personal data.
pub fn set_partial_output(path: Option<PathBuf>) {
    *PARTIAL.lock().unwrap_or_else(PoisonError::into_inner) = path;
}

/// Installs the SIGINT/SIGTERM handler: the first signal asks every run to
/// stop and save what it has; the second exits at once with 130.
pub fn install_interrupt_handler(log: Log) {
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(move || {
            if INTERRUPTS.fetch_add(1, Ordering::SeqCst) >= 1 {
                log.warn("interrupted again, exiting now");
                let partial = PARTIAL.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(path) = partial.as_ref() {
                    // Best effort: the process is leaving either way.
                    let _ = std::fs::remove_file(path);
                }
                std::process::exit(130);
            }
            log.warn("interrupted; finishing the requests in flight (again to quit now)");
        });
        if let Err(err) = installed {
            log.warn(&format!(
                "cannot catch Ctrl-C ({err}); an interrupt will lose the answers in flight"
            ));
        }
    });
}

/// The shared stop signal of one run.
#[derive(Debug, Default)]
pub struct Stop {
    stopped: AtomicBool,
    /// Guards nothing but the condvar's wait.
    lock: Mutex<()>,
    wake: Condvar,
}

impl Stop {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every stage to stop starting work, and wakes the sleepers.
    pub fn stop(&self) {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        self.stopped.store(true, Ordering::SeqCst);
        self.wake.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed) || interrupted()
    }

    /// Sleeps for `duration`, or less if the run stops meanwhile. Returns
    /// whether the run may go on.
    pub fn sleep(&self, duration: Duration) -> bool {
        // Signals arrive through a static the condvar cannot see: wake up
        // at least this often to look at it.
        const POLL: Duration = Duration::from_millis(50);
        let deadline = Instant::now() + duration;
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if self.is_stopped() {
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                return true;
            }
            let wait = (deadline - now).min(POLL);
            guard = self
                .wake
                .wait_timeout(guard, wait)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

/// Whether SIGINT or SIGTERM has arrived.
pub fn interrupted() -> bool {
    INTERRUPTS.load(Ordering::Relaxed) > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_stop_wakes_sleepers() {
        let stop = Arc::new(Stop::new());
        let sleeper = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || stop.sleep(Duration::from_secs(30)))
        };
        stop.stop();
        assert!(!sleeper.join().expect("the sleeper does not panic"));
        assert!(stop.is_stopped());
        assert!(!stop.sleep(Duration::ZERO));
    }

    #[test]
    fn an_unstopped_sleep_runs_to_its_end() {
        let stop = Stop::new();
        assert!(stop.sleep(Duration::from_millis(1)));
        assert!(!stop.is_stopped());
    }
}
