//! Exit codes (DESIGN §2) and the errors that end a run, mapped to a code in
//! one place. A row's failure is data (its columns, the summary); only what
//! ends the whole run is an [`Error`].

use crate::store::StoreError;

/// The process exit code: one enum, mapped in one place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Every row has a final answer (a success or a row answer).
    Success = 0,
    /// A bug.
    Internal = 1,
    /// Bad flag, unreadable input, no number column, no key, bad store.
    Usage = 2,
    /// Output written, but some rows still failed after their retries.
    Partial = 3,
    /// The API refused the whole batch (fatal code) or looks down.
    Stopped = 4,
    /// The machine failed the run: disk full, output or store unwritable
    /// mid-run, database unreachable mid-run. Answers so far are kept.
    Environment = 5,
    /// SIGINT or SIGTERM.
    Interrupted = 130,
}

impl Exit {
    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit.code())
    }
}

/// What ends a run early. The message is shown to the user as it is: it
/// names the file, the flag or the row, and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something impossible: exit 2.
    #[error("{0}")]
    Usage(String),
    /// The result store cannot be used: exit 2, never a silent fallback to
    /// paying again.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The machine failed the run (disk full, a file or the store that
    /// cannot be written any more): exit 5, so that a scheduler can tell it
    /// from a bug.
    #[error("{0}")]
    Environment(String),
    /// Anything else: a bug, exit 1.
    #[error("{0:#}")]
    Internal(#[from] anyhow::Error),
}

impl Error {
    pub fn exit(&self) -> Exit {
        match self {
            // A store that fails while it is written (a full disk) is not
            // the user's input: that is the environment.
            Error::Store(StoreError::WriterFailed { .. }) | Error::Environment(_) => {
                Exit::Environment
            }
            Error::Usage(_) | Error::Store(_) => Exit::Usage,
            Error::Internal(_) => Exit::Internal,
        }
    }
}

/// Shorthand for a usage error built with `format!`.
#[macro_export]
macro_rules! usage {
    ($($arg:tt)*) => {
        $crate::exit::Error::Usage(format!($($arg)*))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_documented_ones() {
        let codes: Vec<u8> = [
            Exit::Success,
            Exit::Internal,
            Exit::Usage,
            Exit::Partial,
            Exit::Stopped,
            Exit::Environment,
            Exit::Interrupted,
        ]
        .map(Exit::code)
        .to_vec();
        assert_eq!(codes, [0, 1, 2, 3, 4, 5, 130]);
        assert_eq!(
            Error::Environment("disk full".into()).exit(),
            Exit::Environment
        );
        assert_eq!(usage!("x {}", 1).exit(), Exit::Usage);
        assert_eq!(
            Error::Internal(anyhow::anyhow!("boom")).exit(),
            Exit::Internal
        );
    }
}
