//! The reorder window: how far the reader may run ahead of the writer,
//! which bounds the memory of a run whatever the input's size.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

use crate::stop::Stop;

/// The reorder window: how far the reader may run ahead of the writer.
pub(super) struct Window {
    size: u64,
    state: Mutex<Written>,
    room: Condvar,
}

/// The writer's progress, as the window sees it.
#[derive(Default)]
struct Written {
    /// Rows written so far.
    rows: u64,
    /// The writer has ended.
    closed: bool,
}

impl Window {
    pub(super) fn new(size: u64) -> Self {
        Window {
            size,
            state: Mutex::new(Written::default()),
            room: Condvar::new(),
        }
    }

    /// Waits until row `seq` fits in the window, calling `tick` every 50 ms
    /// while it waits. Returns `false` when the writer has ended or the run
    /// stops.
    pub(super) fn wait_for_room(&self, seq: u64, stop: &Stop, tick: &mut dyn FnMut()) -> bool {
        let mut state = self.state.lock().expect("window lock is never poisoned");
        loop {
            if state.closed || stop.is_stopped() {
                return false;
            }
            if seq < state.rows + self.size {
                return true;
            }
            // A stop does not notify this condvar: look again now and then.
            let (again, waited) = self
                .room
                .wait_timeout(state, Duration::from_millis(50))
                .expect("window lock is never poisoned");
            state = again;
            if waited.timed_out() {
                drop(state);
                tick();
                state = self.state.lock().expect("window lock is never poisoned");
            }
        }
    }

    pub(super) fn advance(&self, written: u64) {
        let mut state = self.state.lock().expect("window lock is never poisoned");
        if state.rows != written {
            state.rows = written;
            self.room.notify_one();
        }
    }

    pub(super) fn close(&self) {
        self.state
            .lock()
            .expect("window lock is never poisoned")
            .closed = true;
        self.room.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_holds_the_reader_until_the_writer_advances() {
        let window = Window::new(2);
        let stop = Stop::new();
        assert!(window.wait_for_room(0, &stop, &mut || {}));
        assert!(window.wait_for_room(1, &stop, &mut || {}));
        std::thread::scope(|threads| {
            let reader = threads.spawn(|| window.wait_for_room(2, &stop, &mut || {}));
            window.advance(1);
            assert!(reader.join().expect("the reader does not panic"));
        });
        window.close();
        assert!(
            !window.wait_for_room(0, &stop, &mut || {}),
            "a closed window admits nothing"
        );
    }

    #[test]
    fn a_stop_releases_a_waiting_reader() {
        let window = Window::new(1);
        let stop = Stop::new();
        stop.stop();
        assert!(!window.wait_for_room(5, &stop, &mut || {}));
    }
}
