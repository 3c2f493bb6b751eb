//! Reading the input: the file or stdin, its text encoding, its CSV shape,
//! and which column holds the numbers.
//!
//! Rows stream through one at a time; nothing here holds more than a
//! buffer and a record, and a record (the header too) is refused past
//! `--max-record-bytes`, before it is held (see `batches::Counted`). Fields are kept as bytes and handed on untouched, so the output
//! carries them back byte for byte (after decoding, for GBK input).
//!
//! The parts: `source` opens, decompresses (`gzip`) and decodes (`decode`
//! holds the decoders), `column` finds the number column, `batches` hands
//! rows to the pipeline. The input is read once, as it streams.

mod batches;
mod column;
mod decode;
mod gzip;
mod source;

use csv::ByteRecord;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::Receiver;

pub use batches::Batches;
pub use column::{ColumnSpec, NUMBER_HEADERS, is_number_header};

use crate::exit::Error;
use crate::log::Log;
use crate::usage;

/// A record that has held no row larger than this (bytes, fields) goes
/// back to the reader to be filled again; a larger one is dropped once
/// written, so that a few wide rows do not leave every record in the window
/// as large as the widest.
pub const SMALL_ROW_BYTES: usize = 1024;
pub const SMALL_ROW_FIELDS: usize = 64;

/// How to read the input; built by `config`.
#[derive(Clone, Debug)]
pub struct InputConfig {
    /// `None` reads standard input.
    pub path: Option<PathBuf>,
    pub column: ColumnSpec,
    pub delimiter: u8,
    pub has_headers: bool,
    pub encoding: Encoding,
    /// The most bytes a record (the header included) may take; a longer
    /// one stops the read, naming its line.
    pub max_record_bytes: u64,
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
            .buffer_capacity(BUFFER)
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
    /// Records the writer is done with, to be filled again (see
    /// [`Input::recycle`]).
    spare: Vec<ByteRecord>,
    spent: Option<Receiver<Vec<ByteRecord>>>,
    /// Where the last non-blank line handed to the parser ends (see
    /// `Input::drained`).
    lines_end: Arc<AtomicU64>,
    /// Where the record being read starts: what the reader below the parser
    /// measures a record against (see `batches::Counted`).
    record_start: Arc<AtomicU64>,
    max_record_bytes: u64,
    /// The header's width, or without a header the first row's: a longer
    /// row would shift the seven added columns.
    width: Option<usize>,
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
        let record_start = Arc::new(AtomicU64::new(0));
        let counted: Box<dyn Read + Send> = Box::new(batches::Counted {
            inner: opened.reader,
            delivered: 0,
            lines_end: Arc::clone(&lines_end),
            record_start: Arc::clone(&record_start),
            // The parser reads a buffer ahead of what it has parsed.
            limit: config.max_record_bytes + BUFFER as u64,
        });
        let mut reader = config.reader(counted);
        let headers = if config.has_headers {
            let start = reader.position().clone();
            let headers = match reader.byte_headers() {
                Ok(headers) => headers.clone(),
                Err(err) => {
                    return Err(record_error(&name, err, &start, config.max_record_bytes));
                }
            };
            check_record_size(&name, &start, reader.position(), config.max_record_bytes)?;
            record_start.store(reader.position().byte(), Ordering::Relaxed);
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
        if let Some(warning) = headers
            .as_ref()
            .and_then(|headers| column::duplicate_warning(&name, headers, column, &config.column))
        {
            eprintln!("tenure: warning: {warning}");
        }
        Ok(Input {
            reader,
            width: headers.as_ref().map(ByteRecord::len),
            headers,
            column,
            name,
            check_utf8: opened.check_utf8,
            row_bytes: 64,
            row_fields: 4,
            spare: Vec::new(),
            spent: None,
            lines_end,
            record_start,
            max_record_bytes: config.max_record_bytes,
            streamed: opened.streamed,
            size: opened.size,
            consumed: opened.consumed,
        })
    }

    /// The next data row, or `None` at the end. A row with more fields
    /// than the header (or, without one, than the first row) stops the
    /// read: written out, its extra fields would shift the seven columns.
    pub fn next_row(&mut self) -> Result<Option<ByteRecord>, Error> {
        let record = self.next_record()?;
        if let Some(record) = &record
            && let Some(wide) = self.too_wide(record)
        {
            return Err(usage!(
                "{}, {wide}: its extra fields would shift the seven columns tenure adds. \
                 Quote the fields that contain the delimiter, or fix the row",
                self.name
            ));
        }
        Ok(record)
    }

    /// The next data row, however wide (`tenure check` lists the wide ones
    /// with [`Input::too_wide`] rather than stopping).
    pub fn next_record(&mut self) -> Result<Option<ByteRecord>, Error> {
        let mut record = self.blank_record();
        let start = self.reader.position().clone();
        match self.reader.read_byte_record(&mut record) {
            Ok(true) => {
                let end = self.reader.position();
                check_record_size(&self.name, &start, end, self.max_record_bytes)?;
                self.record_start.store(end.byte(), Ordering::Relaxed);
                if self.check_utf8 {
                    check_record_utf8(&self.name, &record)?;
                }
                self.row_bytes = record.as_slice().len();
                self.row_fields = record.len();
                self.width.get_or_insert(record.len());
                Ok(Some(record))
            }
            Ok(false) => Ok(None),
            Err(err) => Err(record_error(&self.name, err, &start, self.max_record_bytes)),
        }
    }

    /// Fills the records that come back through `spent` with later rows: a
    /// row then costs no allocation of its own, and none is freed on the
    /// writer's thread.
    pub fn recycle(&mut self, spent: Receiver<Vec<ByteRecord>>) {
        self.spent = Some(spent);
    }

    /// A record to read the next row into: one that came back, else a new
    /// one sized like the row before, so reading grows nothing in the
    /// common case.
    fn blank_record(&mut self) -> ByteRecord {
        if self.spare.is_empty()
            && let Some(spent) = &self.spent
            && let Ok(records) = spent.try_recv()
        {
            self.spare = records;
        }
        // Never sized past a small row: a wide row grows a record of its own,
        // which is not recycled (see `SMALL_ROW_BYTES`).
        self.spare.pop().unwrap_or_else(|| {
            ByteRecord::with_capacity(
                self.row_bytes.min(SMALL_ROW_BYTES),
                self.row_fields.min(SMALL_ROW_FIELDS),
            )
        })
    }

    /// Whether `record` has more fields than the header (or, without one,
    /// than the first row).
    pub fn too_wide(&self, record: &ByteRecord) -> Option<TooWide> {
        let width = self.width?;
        (record.len() > width).then(|| TooWide {
            line: record.position().map_or(0, csv::Position::line),
            fields: record.len(),
            width,
            header: self.headers.is_some(),
        })
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

/// A row with more fields than the header (or the first row).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TooWide {
    /// Where the row starts (1-based).
    pub line: u64,
    pub fields: usize,
    /// The header's width, or the first row's.
    pub width: usize,
    /// Whether `width` is the header's.
    pub header: bool,
}

impl std::fmt::Display for TooWide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} has {} fields, {} more than the {} ({})",
            self.line,
            self.fields,
            self.fields - self.width,
            if self.header { "header" } else { "first row" },
            self.width
        )
    }
}

/// The CSV parser's buffer: it reads this far ahead of what it has parsed.
const BUFFER: usize = 1 << 16;

/// Fails on a record longer than `max` bytes, naming the line it starts on.
fn check_record_size(
    name: &str,
    start: &csv::Position,
    end: &csv::Position,
    max: u64,
) -> Result<(), Error> {
    if end.byte() - start.byte() > max {
        return Err(too_long(name, start, max));
    }
    Ok(())
}

fn too_long(name: &str, start: &csv::Position, max: u64) -> Error {
    usage!(
        "{name}, line {}: a record longer than {max} bytes, the limit of --max-record-bytes \
         (the line has no end, or a quote that opens a field never closes); if the file \
         really has records that long, pass a larger --max-record-bytes",
        start.line()
    )
}

/// A failed read of the record starting at `start`: too long (the reader
/// below the parser refused to read further), or an I/O or CSV error.
fn record_error(name: &str, err: csv::Error, start: &csv::Position, max: u64) -> Error {
    if let csv::ErrorKind::Io(io) = err.kind()
        && batches::is_too_long(io)
    {
        return too_long(name, start, max);
    }
    read_error(name, err)
}

/// Fails, naming the line, on a row that is not UTF-8: the output is
/// promised to be UTF-8, so such bytes must not pass through.
fn check_record_utf8(name: &str, record: &ByteRecord) -> Result<(), Error> {
    // Most rows are ASCII: one pass over the whole row settles them.
    if record.as_slice().is_ascii()
        || record
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::sync_channel;

    #[test]
    fn a_recycled_record_holds_only_the_row_read_into_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        std::fs::write(
            &path,
            "id,mobile,note\n1,13800138000,a long note\n2,13900139000\n",
        )
        .unwrap();
        let config = InputConfig {
            path: Some(path),
            column: ColumnSpec::Auto,
            delimiter: b',',
            has_headers: true,
            encoding: Encoding::Auto,
            max_record_bytes: 1 << 20,
        };
        let mut input = Input::open(&config, Log::default()).unwrap();
        let (spent, recycled) = sync_channel(1);
        input.recycle(recycled);
        let first = input.next_record().unwrap().expect("the first row");
        assert_eq!(first.len(), 3);
        spent.send(vec![first]).unwrap();
        let second = input.next_record().unwrap().expect("the second row");
        assert_eq!(second, ByteRecord::from(vec!["2", "13900139000"]));
        assert_eq!(second.position().map(csv::Position::line), Some(3));
        assert!(input.next_record().unwrap().is_none());
    }
}
