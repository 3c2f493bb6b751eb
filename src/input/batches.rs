//! An input's rows in batches, read on the caller's thread for a file and
//! on a thread of its own for standard input or a pipe; and the byte
//! counting that tells when the parser has used up what it was given.

use csv::ByteRecord;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::Duration;

use super::Input;
use crate::exit::Error;
use crate::stop::Stop;

/// An input's rows in batches. A file is read on the caller's thread: its
/// reads end. Standard input is read on a thread of its own, so that the
/// pipeline hears a stop even while a read blocks on a pipe that stays
/// open; that thread reads at most a couple of batches ahead, and sends a
/// batch when it is full or when the parser has used up what it was given
/// (the next read may block), so rows trickling in are not held back.
pub enum Batches {
    Inline {
        input: Box<Input>,
        size: usize,
    },
    /// Batches, then `Ok(None)` at the end of the input.
    Threaded(Receiver<Result<Option<Vec<ByteRecord>>, Error>>),
}

/// Counts the bytes a reader delivers, and where the last line that holds
/// something ends: once the parser is past it, every complete row read so
/// far has been parsed. And bounds a record: the CSV parser holds a whole
/// record in memory, so a file with no line end (`/dev/zero`) would grow it
/// without end; this reader refuses to deliver more once the record being
/// parsed would pass its limit.
pub(super) struct Counted<R> {
    pub(super) inner: R,
    pub(super) delivered: u64,
    /// The offset just past the newline that ends the last non-blank line.
    pub(super) lines_end: Arc<AtomicU64>,
    /// Where the record being parsed starts (set by `Input` after each).
    pub(super) record_start: Arc<AtomicU64>,
    /// The most bytes delivered past `record_start`: the record size limit
    /// plus the parser's buffer, which it fills ahead of parsing.
    pub(super) limit: u64,
}

/// The error of a read refused by [`Counted`]: the record is too long.
#[derive(Debug)]
struct TooLong;

impl std::fmt::Display for TooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a record longer than --max-record-bytes")
    }
}

impl std::error::Error for TooLong {}

/// Whether `err` is [`Counted`]'s refusal of a record too long.
pub(super) fn is_too_long(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<TooLong>())
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let start = self.record_start.load(Ordering::Relaxed);
        if self.delivered.saturating_sub(start) > self.limit {
            return Err(io::Error::other(TooLong));
        }
        let read = self.inner.read(buf)?;
        if let Some(end) = last_line_end(&buf[..read]) {
            self.lines_end
                .store(self.delivered + end as u64, Ordering::Relaxed);
        }
        self.delivered += read as u64;
        Ok(read)
    }
}

/// Just past the last newline in `chunk` that ends a line with something on
/// it (blank lines, which the parser skips only later, do not count).
fn last_line_end(chunk: &[u8]) -> Option<usize> {
    let mut end = chunk.len();
    while let Some(newline) = chunk[..end].iter().rposition(|&b| b == b'\n') {
        let before = &chunk[..newline];
        let before = before.strip_suffix(b"\r").unwrap_or(before);
        match before.last() {
            // A blank line: look further back.
            Some(b'\n') => end = newline,
            // Content before it, or the line began in an earlier chunk.
            _ => return Some(newline + 1),
        }
    }
    None
}

impl Input {
    /// The rows, `size` a batch. For standard input, starts the
    /// `tenure-reader` thread, which is not joined: a read blocked on a pipe
    /// when the run stops ends with the process.
    pub fn into_batches(mut self, size: usize) -> Result<Batches, Error> {
        if !self.streamed {
            return Ok(Batches::Inline {
                input: Box::new(self),
                size,
            });
        }
        let (sender, receiver) = sync_channel(2);
        std::thread::Builder::new()
            .name("tenure-reader".to_owned())
            .spawn(move || {
                loop {
                    let mut batch = Vec::with_capacity(size);
                    let read = loop {
                        match self.next_row() {
                            Ok(Some(record)) => batch.push(record),
                            Ok(None) => break Ok(true),
                            Err(err) => break Err(err),
                        }
                        if batch.len() == size || self.drained() {
                            break Ok(false);
                        }
                    };
                    // A closed channel means the pipeline has stopped.
                    if !batch.is_empty() && sender.send(Ok(Some(batch))).is_err() {
                        return;
                    }
                    match read {
                        Ok(false) => {}
                        // The end is said, not implied by a hang-up: a
                        // thread that died must not read as a short input.
                        Ok(true) => {
                            let _ = sender.send(Ok(None));
                            return;
                        }
                        Err(err) => {
                            let _ = sender.send(Err(err));
                            return;
                        }
                    }
                }
            })
            .map_err(|err| anyhow::anyhow!("cannot start the reader thread: {err}"))?;
        Ok(Batches::Threaded(receiver))
    }

    /// Whether the parser has parsed every complete row read so far, so
    /// that the next row may need a read of the source, which may block.
    fn drained(&self) -> bool {
        // After a row ending in CRLF the parser has not yet taken its `\n`.
        self.reader.position().byte() + 1 >= self.lines_end.load(Ordering::Relaxed)
    }
}

impl Batches {
    /// The next batch of rows; `None` at the end of the input, or once the
    /// run stops.
    pub fn next(&mut self, stop: &Stop) -> Option<Result<Vec<ByteRecord>, Error>> {
        match self {
            Batches::Inline { input, size } => {
                let mut batch = Vec::with_capacity(*size);
                while batch.len() < *size {
                    match input.next_row() {
                        Ok(Some(record)) => batch.push(record),
                        Ok(None) => break,
                        Err(err) => return Some(Err(err)),
                    }
                }
                (!batch.is_empty()).then_some(Ok(batch))
            }
            Batches::Threaded(receiver) => loop {
                match receiver.recv_timeout(Duration::from_millis(50)) {
                    Ok(batch) => return batch.transpose(),
                    Err(RecvTimeoutError::Timeout) if !stop.is_stopped() => {}
                    Err(RecvTimeoutError::Timeout) => return None,
                    Err(RecvTimeoutError::Disconnected) => {
                        return Some(Err(Error::Internal(anyhow::anyhow!(
                            "the thread reading the input ended before the input did"
                        ))));
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_end_skips_blank_lines_and_partial_lines() {
        assert_eq!(last_line_end(b"a\nbc"), Some(2), "a partial line after");
        assert_eq!(last_line_end(b"a\r\n\r\n\r\n"), Some(3), "blank CRLF lines");
        assert_eq!(last_line_end(b"a\n\n\n\nb\n"), Some(7));
        assert_eq!(last_line_end(b"\n"), Some(1), "the line began earlier");
        assert_eq!(last_line_end(b"no newline"), None);
    }
}
