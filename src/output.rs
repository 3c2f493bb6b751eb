//! Writing the output: the input's fields untouched, then the seven columns
//! tenure adds, to a temporary file renamed into place only when the run
//! ends with an answer for every row (exit 0 or 3).

use csv::ByteRecord;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::api::{Answer, Failure};
use crate::exit::Error;
use crate::input::BadCell;
use crate::usage;
use std::fmt::Write as _;
use std::sync::Arc;

/// The columns tenure appends, in order.
pub const COLUMNS: [&str; 7] = [
    "tenure_code",
    "tenure",
    "province",
    "city",
    "isp",
    "error_code",
    "error",
];

/// The `error_code` of a number that is not a valid mobile number.
pub const INVALID_NUMBER: &str = "invalid_number";

/// What a row ended with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowResult {
    /// A final answer: a tenure, or a row answer such as 224801. Shared by
    /// every row of the number.
    Answer(Arc<Answer>),
    /// Transient failures until the retries ran out.
    Failed(Failure),
    /// Not a valid number; never sent.
    Invalid(BadCell),
}

impl RowResult {
    /// The seven appended fields. `scratch` holds what is built on demand:
    /// the `error_code` of a failure, or the reason of an invalid number.
    pub fn fields<'a>(&'a self, scratch: &'a mut String) -> [&'a str; 7] {
        match self {
            RowResult::Answer(answer) => match answer.as_ref() {
                Answer::Tenure(t) => [&t.code, &t.desc, &t.province, &t.city, &t.isp, "", ""],
                Answer::Declined { code, reason } => ["", "", "", "", "", code, reason],
            },
            RowResult::Failed(failure) => {
                *scratch = failure.kind.code();
                ["", "", "", "", "", scratch, &failure.message]
            }
            RowResult::Invalid(bad) => {
                scratch.clear();
                // Writing to a String cannot fail.
                let _ = write!(scratch, "{bad}");
                ["", "", "", "", "", INVALID_NUMBER, scratch]
            }
        }
    }
}

/// Where the rows go.
pub struct Output {
    writer: csv::Writer<Box<dyn Write + Send>>,
    /// Reused for the fields built per row.
    scratch: String,
    target: Target,
}

enum Target {
    Stdout,
    /// Written at a temporary path in the same folder, renamed on commit.
    File {
        temp: tempfile::TempPath,
        path: PathBuf,
    },
}

impl Output {
    /// Opens the output: `None` is standard output.
    pub fn create(path: Option<&Path>, delimiter: u8, bom: bool) -> Result<Output, Error> {
        let (sink, target): (Box<dyn Write + Send>, Target) = match path {
            None => (Box::new(io::stdout()), Target::Stdout),
            Some(path) => {
                let folder = match path.parent() {
                    Some(parent) if !parent.as_os_str().is_empty() => parent,
                    _ => Path::new("."),
                };
                let name = path
                    .file_name()
                    .ok_or_else(|| usage!("the output {} is not a file name", path.display()))?;
                let temp = tempfile::Builder::new()
                    .prefix(&format!(".{}.", name.to_string_lossy()))
                    .suffix(".partial")
                    .tempfile_in(folder)
                    .map_err(|err| {
                        usage!("cannot write the output in {}: {err}", folder.display())
                    })?;
                let (file, temp) = temp.into_parts();
                let sink: Box<dyn Write + Send> = Box::new(BufWriter::with_capacity(1 << 16, file));
                (
                    sink,
                    Target::File {
                        temp,
                        path: path.to_owned(),
                    },
                )
            }
        };
        let mut sink = sink;
        if bom {
            sink.write_all("\u{feff}".as_bytes())
                .map_err(|err| anyhow::anyhow!("writing the output: {err}"))?;
        }
        let writer = csv::WriterBuilder::new()
            .delimiter(delimiter)
            .flexible(true)
            .from_writer(sink);
        Ok(Output {
            writer,
            scratch: String::new(),
            target,
        })
    }

    /// The header row: the input's, then the seven columns.
    pub fn write_headers(&mut self, headers: &ByteRecord) -> Result<(), Error> {
        let mut row = headers.clone();
        for column in COLUMNS {
            row.push_field(column.as_bytes());
        }
        self.write_record(&row)
    }

    /// One row: its own fields, then the seven.
    pub fn write_row(&mut self, record: &ByteRecord, result: &RowResult) -> Result<(), Error> {
        let appended = result.fields(&mut self.scratch).map(str::as_bytes);
        self.writer
            .write_record(record.iter().chain(appended))
            .map_err(write_error)
    }

    fn write_record(&mut self, row: &ByteRecord) -> Result<(), Error> {
        self.writer.write_byte_record(row).map_err(write_error)
    }

    /// Flushes and, for a file, renames it into place.
    pub fn commit(self) -> Result<(), Error> {
        let mut sink = self
            .writer
            .into_inner()
            .map_err(|err| anyhow::anyhow!("writing the output: {}", err.error()))?;
        sink.flush()
            .map_err(|err| anyhow::anyhow!("writing the output: {err}"))?;
        drop(sink);
        if let Target::File { temp, path } = self.target {
            temp.persist(&path).map_err(|err| {
                anyhow::anyhow!(
                    "cannot move the output into place at {}: {err}",
                    path.display()
                )
            })?;
        }
        Ok(())
    }

    /// Drops what was written: nothing appears at the output path.
    pub fn discard(self) {
        drop(self);
    }
}

fn write_error(err: csv::Error) -> Error {
    Error::Internal(anyhow::anyhow!("writing the output: {err}"))
}
