//! Standard output (or a file) for the reports of `tenure cache` and
//! `tenure usage`, remembering how a write failed: a reader that went away
//! (`tenure cache export | head`) ends the command quietly, like any Unix
//! filter; a full disk is the environment's failure (exit 5), not the
//! store's.

use std::io::{self, Write};

use crate::exit::{Error, Exit};

/// A writer that remembers its first failure.
pub(crate) struct Written<W: Write> {
    inner: W,
    failed: Option<io::Error>,
}

impl<W: Write> Written<W> {
    pub(crate) fn new(inner: W) -> Self {
        Written {
            inner,
            failed: None,
        }
    }

    /// What a failed command ends with: the write's failure if a write
    /// failed (none when the reader went away), else `error`.
    pub(crate) fn outcome(&self, error: Error) -> Result<Exit, Error> {
        match &self.failed {
            Some(failure) if failure.kind() == io::ErrorKind::BrokenPipe => Ok(Exit::Success),
            Some(failure) => Err(Error::Environment(format!(
                "writing the report failed: {failure}"
            ))),
            None => Err(error),
        }
    }

    fn note<T>(&mut self, result: io::Result<T>) -> io::Result<T> {
        if let Err(error) = &result
            && self.failed.is_none()
        {
            self.failed = Some(io::Error::new(error.kind(), error.to_string()));
        }
        result
    }
}

impl<W: Write> Write for Written<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let result = self.inner.write(buf);
        self.note(result)
    }

    fn flush(&mut self) -> io::Result<()> {
        let result = self.inner.flush();
        self.note(result)
    }
}

/// Writes a whole report with `write`, then flushes: a failed write ends
/// the command as [`Written::outcome`] says.
pub(crate) fn report(
    out: impl Write,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<Exit, Error> {
    let mut out = Written::new(out);
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(Exit::Success),
        Err(error) => out.outcome(Error::Environment(format!(
            "writing the report failed: {error}"
        ))),
    }
}
