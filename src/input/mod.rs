//! Reading the input: the file or stdin, its text encoding, its CSV shape,
//! and which column holds the numbers.
//!
//! Rows stream through one at a time; nothing here holds more than a
//! buffer. Fields are kept as bytes and handed on untouched, so the output
//! carries them back byte for byte (after decoding, for GBK input).
//!
//! The parts: `source` opens and decodes (`decode` holds the decoders),
//! `column` finds the number column, `batches` hands rows to the pipeline.
//! The input is read once, as it streams.

mod batches;
mod column;
mod decode;
mod source;

use csv::ByteRecord;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use column::{ColumnSpec, NUMBER_HEADERS};

use crate::exit::Error;
use crate::log::Log;
use crate::usage;

/// How to read the input; built by `config`.
#[derive(Clone, Debug)]
pub struct InputConfig {
    /// `None` reads standard input.
    pub path: Option<PathBuf>,
    pub column: ColumnSpec,
    pub delimiter: u8,
    pub has_headers: bool,
    pub encoding: Encoding,
}

impl InputConfig {
    /// The name of the input in messages.
    pub fn name(&self) -> String {
        match &self.path {
            Some(path) => path.display().to_string(),
            None => "<stdin>".to_owned(),
        }
    }

    /// The one CSV reader configuration of the input, for every command.
    fn reader<R: Read>(&self, source: R) -> csv::Reader<R> {
        csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(self.has_headers)
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(source)
    }
}

/// The input's text encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 unless the first bytes that are not ASCII are not UTF-8; then
    /// GB18030.
    Auto,
    Utf8,
    /// GBK, read as its superset GB18030.
    Gbk,
}

/// An open input, positioned at its first data row.
pub struct Input {
    reader: csv::Reader<Box<dyn Read + Send>>,
    /// The header row, when the file has one.
    pub headers: Option<ByteRecord>,
    /// 0-based index of the number column.
    pub column: usize,
    /// The file's name, for messages.
    pub name: String,
    /// Whether rows must still be checked for UTF-8 (no decoder vouches).
    check_utf8: bool,
    /// The size of the last row read, to size the next.
    row_bytes: usize,
    row_fields: usize,
    /// Where the last non-blank line handed to the parser ends (see
    /// `Input::drained`).
    lines_end: Arc<AtomicU64>,
    /// Standard input or a pipe, whose reads may block for ever.
    streamed: bool,
    /// The size of a regular file, and the raw bytes read of it so far.
    size: Option<u64>,
    consumed: Arc<AtomicU64>,
}

impl Input {
    /// Opens the input; what it finds worth saying (a GBK file) goes to
    /// `log`.
    pub fn open(config: &InputConfig, log: Log) -> Result<Input, Error> {
        let name = config.name();
        let opened = source::open(config, &name, log)?;
        let lines_end = Arc::new(AtomicU64::new(0));
        let counted: Box<dyn Read + Send> = Box::new(batches::Counted {
            inner: opened.reader,
            delivered: 0,
            lines_end: Arc::clone(&lines_end),
        });
        let mut reader = config.reader(counted);
        let headers = if config.has_headers {
            let headers = reader
                .byte_headers()
                .map_err(|err| read_error(&name, err))?
                .clone();
            if opened.check_utf8 {
                check_record_utf8(&name, &headers)?;
            }
            if headers.is_empty() {
                return Err(usage!("{name} is empty: there is not even a header row"));
            }
            column::check_no_output_columns(&name, &headers)?;
            Some(headers)
        } else {
            None
        };
        let column = column::find_column(&name, &config.column, headers.as_ref())?;
        Ok(Input {
            reader,
            headers,
            column,
            name,
            check_utf8: opened.check_utf8,
            row_bytes: 64,
            row_fields: 4,
            lines_end,
            streamed: opened.streamed,
            size: opened.size,
            consumed: opened.consumed,
        })
    }

    /// The next data row, or `None` at the end.
    pub fn next_row(&mut self) -> Result<Option<ByteRecord>, Error> {
        // Sized like the row before, so reading grows nothing in the
        // common case: one allocation per row, which the row then keeps.
        let mut record = ByteRecord::with_capacity(self.row_bytes, self.row_fields);
        match self.reader.read_byte_record(&mut record) {
            Ok(true) => {
                if self.check_utf8 {
                    check_record_utf8(&self.name, &record)?;
                }
                self.row_bytes = record.as_slice().len();
                self.row_fields = record.len();
                Ok(Some(record))
            }
            Ok(false) => Ok(None),
            Err(err) => Err(read_error(&self.name, err)),
        }
    }

    /// How far through the input the reading is: raw bytes consumed and,
    /// for a regular file, its size. Shared with the progress display.
    pub fn position(&self) -> Position {
        Position {
            size: self.size,
            consumed: Arc::clone(&self.consumed),
        }
    }
}

/// The reading's progress through the input, readable from any thread.
#[derive(Clone, Debug)]
pub struct Position {
    /// The file's size; `None` for a stream.
    pub size: Option<u64>,
    consumed: Arc<AtomicU64>,
}

impl Position {
    /// Raw bytes read so far.
    pub fn consumed(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }
}

/// Fails, naming the line, on a row that is not UTF-8: the output is
/// promised to be UTF-8, so such bytes must not pass through.
fn check_record_utf8(name: &str, record: &ByteRecord) -> Result<(), Error> {
    if record
        .iter()
        .all(|field| std::str::from_utf8(field).is_ok())
    {
        return Ok(());
    }
    let line = record
        .position()
        .map(|pos| format!(", line {}", pos.line()))
        .unwrap_or_default();
    Err(usage!(
        "{name}{line} holds bytes that are not UTF-8; if the file is GBK (Excel on a \
         Chinese Windows), pass --encoding gbk"
    ))
}

fn read_error(name: &str, err: csv::Error) -> Error {
    let line = err
        .position()
        .map(|pos| format!(", line {}", pos.line()))
        .unwrap_or_default();
    match err.into_kind() {
        csv::ErrorKind::Io(io) => usage!("cannot read {name}{line}: {io}"),
        other => usage!("{name}{line} is not valid CSV: {other:?}"),
    }
}
