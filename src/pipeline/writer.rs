//! The writer: puts finished rows back in input order and writes them.

use csv::ByteRecord;
use std::collections::BTreeMap;
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::time::Duration;

use super::{Runtime, Window};
use crate::exit::Error;
use crate::input::{SMALL_ROW_BYTES, SMALL_ROW_FIELDS};
use crate::output::Output;
use crate::row::Finished;
use crate::summary::Rows;

/// The writer: puts rows back in input order and writes them.
pub(super) fn write_in_order(
    finished: Receiver<Vec<Finished>>,
    spent: SyncSender<Vec<ByteRecord>>,
    output: &mut Output,
    window: &Window,
    parts: &Runtime,
    rows: &mut Rows,
) -> Result<(), Error> {
    let mut early: BTreeMap<u64, Finished> = BTreeMap::new();
    let mut next = 0u64;
    let mut written = Vec::with_capacity(RECYCLE);
    let mut arrived = finished.recv().ok();
    while let Some(batch) = arrived.take() {
        for done in batch {
            if done.seq != next {
                early.insert(done.seq, done);
                continue;
            }
            // In order (the common case): no detour through the buffer.
            let mut done = done;
            loop {
                output.write_row(&done.record, &done.result)?;
                rows.count(&done);
                next += 1;
                if worth_recycling(&done.record) {
                    written.push(done.record);
                }
                if written.len() == RECYCLE {
                    // Back to the reader to fill again; dropped here when
                    // it has enough already.
                    let full = std::mem::replace(&mut written, Vec::with_capacity(RECYCLE));
                    let _ = spent.try_send(full);
                }
                match early.remove(&next) {
                    Some(following) => done = following,
                    None => break,
                }
            }
        }
        // The reader may go on at once, not only when this thread has
        // caught up: else the two take turns rather than run side by side.
        window.advance(next);
        arrived = match finished.try_recv() {
            Ok(batch) => Some(batch),
            Err(TryRecvError::Disconnected) => None,
            Err(TryRecvError::Empty) => {
                // A consumer on a pipe sees the rows so far now, not at the end.
                output.flush_stdout()?;
                parts.progress.update(rows, parts.counters.billed());
                // Caught up: let the jobs' rows gather for a moment rather
                // than wake for each job. The reader runs up to a window
                // ahead, so nothing waits on the pause.
                std::thread::sleep(GATHER);
                finished.recv().ok()
            }
        };
    }
    window.advance(next);
    Ok(())
}

/// Written records go back to the reader this many at a time.
const RECYCLE: usize = 256;

/// Whether a written record goes back to the reader. A record keeps the
/// room of the largest row it ever held, and the reader makes new ones no
/// larger than a small row: a record that holds a small row now has held
/// small rows only (see `input::SMALL_ROW_BYTES`).
fn worth_recycling(record: &ByteRecord) -> bool {
    record.as_slice().len() <= SMALL_ROW_BYTES && record.len() <= SMALL_ROW_FIELDS
}

/// How long the writer lets finished rows gather once it has caught up.
const GATHER: Duration = Duration::from_millis(2);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_records_of_small_rows_go_back_to_the_reader() {
        assert!(worth_recycling(&ByteRecord::from(vec!["1", "13800138000"])));
        let long = "x".repeat(2000);
        assert!(!worth_recycling(&ByteRecord::from(vec![
            "1",
            long.as_str()
        ])));
        let wide = vec![""; 100];
        assert!(!worth_recycling(&ByteRecord::from(wide)));
    }
}
