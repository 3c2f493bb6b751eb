//! Writing the output: the input's fields untouched, then the seven columns
//! tenure adds, to a temporary file renamed into place only when the run
//! ends with an answer for every row (exit 0 or 3).
//!
//! The temporary file is `.NAME.<pid>.XXXXXX.partial` beside the output. A
//! run killed with `kill -9` cannot remove it, so the next run for the same
//! output removes those whose process is gone (see [`remove_leftovers`]):
//! they hold personal data.

use csv::ByteRecord;
use std::borrow::Cow;
use std::io::{self, BufWriter, Write};
use std::path::Path;

mod staged;

pub(crate) use staged::Staged;

use crate::exit::Error;
use crate::row::{CHANGE_COLUMN, COLUMNS, RowResult};

/// How the output's bytes are laid out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Style {
    /// As programs expect: no BOM, `\n` line ends, codes as they are.
    #[default]
    Plain,
    /// A UTF-8 BOM, otherwise plain (the `--bom` of earlier versions).
    Bom,
    /// What Excel opens as the file says: a UTF-8 BOM, CRLF line ends, and
    /// the numeric codes kept as text (`="03"`), so that `03` (up to 3
    /// months) never shows as `3` (over 24 months).
    Excel,
}

/// Where the rows go.
pub struct Output {
    writer: csv::Writer<Sink>,
    style: Style,
    /// Reused for the fields built per row.
    scratch: String,
    /// The header's width (without a header, the first row's): shorter rows
    /// are padded to it, so that the seven columns line up under their
    /// names. (The input refuses longer rows.)
    width: Option<usize>,
    /// Append the `change` column after the seven (`--changes`).
    changes: bool,
    destination: Destination,
}

/// Standard output, or the temporary file.
enum Sink {
    Stdout(io::Stdout),
    File(BufWriter<std::fs::File>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stdout(out) => out.write(buf),
            Sink::File(file) => file.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Stdout(out) => out.flush(),
            Sink::File(file) => file.flush(),
        }
    }
}

enum Destination {
    Stdout,
    /// Written at a temporary path in the same folder, renamed on commit.
    File(Staged),
}

impl Output {
    /// Opens the output: `None` is standard output.
    pub fn create(path: Option<&Path>, delimiter: u8, style: Style) -> Result<Output, Error> {
        let (sink, destination) = match path {
            None => (Sink::Stdout(io::stdout()), Destination::Stdout),
            Some(path) => {
                let (staged, file) = Staged::create(path, "the output")?;
                crate::stop::set_partial_output(Some(staged.temp_path().to_owned()));
                let sink = Sink::File(BufWriter::with_capacity(1 << 16, file));
                (sink, Destination::File(staged))
            }
        };
        let mut sink = sink;
        if style != Style::Plain {
            sink.write_all("\u{feff}".as_bytes()).map_err(write_error)?;
        }
        let terminator = match style {
            Style::Excel => csv::Terminator::CRLF,
            Style::Plain | Style::Bom => csv::Terminator::Any(b'\n'),
        };
        let writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .terminator(terminator)
            .flexible(true)
            .from_writer(sink);
        Ok(Output {
            writer,
            style,
            scratch: String::new(),
            width: None,
            changes: false,
            destination,
        })
    }

    /// Appends the `change` column (DESIGN §7) after the seven.
    pub fn with_change_column(mut self, changes: bool) -> Output {
        self.changes = changes;
        self
    }

    /// The header row: the input's, then the seven columns.
    pub fn write_headers(&mut self, headers: &ByteRecord) -> Result<(), Error> {
        self.width = Some(headers.len());
        let mut row = headers.clone();
        for column in COLUMNS {
            row.push_field(column.as_bytes());
        }
        if self.changes {
            row.push_field(CHANGE_COLUMN.as_bytes());
        }
        self.write_record(&row)
    }

    /// One row: its own fields, then the seven (see [`neutralise`]).
    pub fn write_row(&mut self, record: &ByteRecord, result: &RowResult) -> Result<(), Error> {
        let width = *self.width.get_or_insert(record.len());
        let padding = width.saturating_sub(record.len());
        let mut appended = result.fields(&mut self.scratch).map(neutralise);
        if self.style == Style::Excel {
            for code in [TENURE_CODE, ERROR_CODE] {
                if let Some(text) = as_text(&appended[code]) {
                    appended[code] = Cow::Owned(text);
                }
            }
        }
        let padded = record.iter().chain(std::iter::repeat_n(&b""[..], padding));
        let change = self.changes.then(|| result.change().as_bytes());
        let added = appended.iter().map(|field| field.as_bytes()).chain(change);
        self.writer
            .write_record(padded.chain(added))
            .map_err(write_error)
    }

    /// Hands what was written so far to standard output; files wait for
    /// their commit.
    pub fn flush_stdout(&mut self) -> Result<(), Error> {
        if matches!(self.destination, Destination::Stdout) {
            self.writer.flush().map_err(write_error)?;
        }
        Ok(())
    }

    fn write_record(&mut self, row: &ByteRecord) -> Result<(), Error> {
        self.writer.write_byte_record(row).map_err(write_error)
    }

    /// Flushes and, for a file, renames it into place.
    pub fn commit(self) -> Result<(), Error> {
        let sink = self
            .writer
            .into_inner()
            .map_err(|err| write_error(err.error()))?;
        match (sink, self.destination) {
            (Sink::File(file), Destination::File(staged)) => {
                let file = file.into_inner().map_err(|err| write_error(err.error()))?;
                crate::stop::set_partial_output(None);
                staged.commit(file)
            }
            (Sink::Stdout(mut out), _) => out.flush().map_err(write_error),
            (Sink::File(_), Destination::Stdout) => {
                unreachable!("a file sink is made with a file destination")
            }
        }
    }

    /// Drops what was written: nothing appears at the output path. (An
    /// output dropped on an error goes the same way; the name it left with
    /// the signal handler is then of a file that no longer exists.)
    pub fn discard(self) {
        crate::stop::set_partial_output(None);
        drop(self);
    }
}

/// `tenure check --invalid-out FILE`: the rows that would get no answer,
/// as they were, with a `reason` column after them; a file that appears
/// only when complete, like the output.
pub struct Rejects {
    writer: csv::Writer<BufWriter<std::fs::File>>,
    staged: Staged,
    /// The header's width (or the first row's): shorter rows are padded to
    /// it so that `reason` lines up. (A row wider than it, which enrich
    /// refuses, keeps its fields, and its reason follows them.)
    width: Option<usize>,
}

impl Rejects {
    /// Creates FILE's temporary sibling, and writes the header (the input's
    /// and `reason`) when there is one.
    pub fn create(
        path: &Path,
        delimiter: u8,
        headers: Option<&ByteRecord>,
    ) -> Result<Rejects, Error> {
        let (staged, file) = Staged::create(path, "--invalid-out")?;
        let writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_writer(BufWriter::with_capacity(1 << 16, file));
        let mut rejects = Rejects {
            writer,
            staged,
            width: headers.map(ByteRecord::len),
        };
        if let Some(headers) = headers {
            let row = headers.iter().chain(std::iter::once(&b"reason"[..]));
            rejects.writer.write_record(row).map_err(rejects_error)?;
        }
        Ok(rejects)
    }

    /// One rejected row and why.
    pub fn write(&mut self, record: &ByteRecord, reason: &str) -> Result<(), Error> {
        let width = *self.width.get_or_insert(record.len());
        let padding = width.saturating_sub(record.len());
        let padded = record.iter().chain(std::iter::repeat_n(&b""[..], padding));
        self.writer
            .write_record(padded.chain(std::iter::once(reason.as_bytes())))
            .map_err(rejects_error)
    }

    /// Puts the file in place.
    pub fn commit(self) -> Result<(), Error> {
        let file = self
            .writer
            .into_inner()
            .map_err(|err| anyhow::anyhow!("writing --invalid-out: {}", err.error()))?
            .into_inner()
            .map_err(|err| anyhow::anyhow!("writing --invalid-out: {}", err.error()))?;
        self.staged.commit(file)
    }
}

fn rejects_error(err: csv::Error) -> Error {
    Error::Internal(anyhow::anyhow!("writing --invalid-out: {err}"))
}

/// The characters that make a spreadsheet read a cell as a formula (and
/// tab and carriage return, which some read past first), after OWASP's
/// "CSV injection" advice. All ASCII: a field's first byte tells.
const FORMULA_START: &[u8] = b"=+-@\t\r";

/// One of the seven added fields, made safe to open in a spreadsheet: text
/// from the API (or from whatever answered in its place) that starts like a
/// formula gets a leading `'`, which spreadsheets read as "this is text".
/// The input's own fields are never changed.
pub(crate) fn neutralise(field: &str) -> Cow<'_, str> {
    if field
        .as_bytes()
        .first()
        .is_some_and(|b| FORMULA_START.contains(b))
    {
        Cow::Owned(format!("'{field}"))
    } else {
        Cow::Borrowed(field)
    }
}

/// Where `tenure_code` and `error_code` are among the seven.
const TENURE_CODE: usize = 0;
const ERROR_CODE: usize = 5;

/// A code that looks like a number, as a formula Excel shows as that text:
/// `03` becomes `="03"`, where Excel would show `3`.
fn as_text(code: &str) -> Option<String> {
    (!code.is_empty() && code.bytes().all(|b| b.is_ascii_digit())).then(|| format!("=\"{code}\""))
}

/// The folder a file is in (`.` for a bare name): where its temporary
/// sibling goes, so that the rename into place stays on one filesystem.
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// A failure to write the output is the machine's (a full disk, a closed
/// pipe, a folder removed): exit 5, not a bug.
fn write_error(err: impl std::fmt::Display) -> Error {
    Error::Environment(format!("writing the output failed: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_starts_like_a_formula_is_kept_as_text() {
        for formula in ["=1+1", "+86", "-1", "@SUM(A1)", "\t=1", "\r=1"] {
            assert_eq!(neutralise(formula), format!("'{formula}"), "{formula:?}");
        }
        for text in ["03", "(24,+)", "", "江西", "a=b", " =1", "'quoted"] {
            assert_eq!(neutralise(text), text, "{text:?}");
        }
    }

    #[test]
    fn for_excel_only_codes_that_look_numeric_become_text_formulas() {
        assert_eq!(as_text("03").as_deref(), Some("=\"03\""));
        assert_eq!(as_text("224801").as_deref(), Some("=\"224801\""));
        for other in ["", "invalid_number", "http_503", "'-1"] {
            assert_eq!(as_text(other), None, "{other}");
        }
    }
}
