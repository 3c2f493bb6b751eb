//! Reading the input: the file or stdin, its text encoding, its CSV shape,
//! and which column holds the numbers.
//!
//! Rows stream through one at a time; nothing here holds more than a
//! buffer. Fields are kept as bytes and handed on untouched, so the output
//! carries them back byte for byte (after decoding, for GBK input).

use csv::ByteRecord;
use std::fmt;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::time::Duration;

use crate::decode::{AutoReader, Gb18030Reader};
use crate::exit::Error;
use crate::number::{self, Number};
use crate::output::COLUMNS;
use crate::stop::Stop;
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
}

/// Which column holds the numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ColumnSpec {
    /// The first header named like a phone number column.
    Auto,
    Name(String),
    /// 0-based.
    Index(usize),
}

/// The input's text encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 when the bytes are valid UTF-8, GB18030 otherwise.
    Auto,
    Utf8,
    /// GBK, read as its superset GB18030.
    Gbk,
}

/// Header names taken for the number column, compared without case.
pub const NUMBER_HEADERS: [&str; 12] = [
    "mobile",
    "phone",
    "tel",
    "手机号",
    "手机号码",
    "手机",
    "电话",
    "号码",
    "mobile_phone",
    "phone_number",
    "cellphone",
    "电话号码",
];

/// Why a row's number column holds no number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BadCell {
    /// The cell holds text that is not a valid number.
    Number(number::Invalid),
    /// The row ends before the number column (a ragged row).
    ShortRow { fields: usize, column: usize },
    /// The cell's bytes are not UTF-8.
    NotUtf8,
}

impl fmt::Display for BadCell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadCell::Number(invalid) => invalid.fmt(f),
            BadCell::ShortRow { fields, column } => write!(
                f,
                "the row is too short: it has only {fields} field{}, so no number column (column {})",
                if *fields == 1 { "" } else { "s" },
                column + 1
            ),
            BadCell::NotUtf8 => f.write_str("the cell is not valid UTF-8 text"),
        }
    }
}

/// The number in a row's number column (0-based), or why there is none.
pub fn parse_cell(record: &ByteRecord, column: usize) -> Result<Number, BadCell> {
    let Some(field) = record.get(column) else {
        return Err(BadCell::ShortRow {
            fields: record.len(),
            column,
        });
    };
    let text = std::str::from_utf8(field).map_err(|_| BadCell::NotUtf8)?;
    number::parse(text).map_err(BadCell::Number)
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
    /// The encoding actually used.
    pub encoding: Encoding,
    /// Whether rows must still be checked for UTF-8: true unless the whole
    /// file was checked before reading.
    check_utf8: bool,
    /// The size of the last row read, to size the next.
    row_bytes: usize,
    row_fields: usize,
    /// Where the last non-blank line handed to the parser ends (see
    /// [`Input::drained`]).
    lines_end: Arc<AtomicU64>,
    /// Standard input or a pipe, whose reads may block for ever.
    streamed: bool,
}

impl Input {
    pub fn open(config: &InputConfig) -> Result<Input, Error> {
        let name = config.name();
        let (source, encoding, check_utf8, streamed) = open_decoded(config, &name)?;
        let lines_end = Arc::new(AtomicU64::new(0));
        let source: Box<dyn Read + Send> = Box::new(Counted {
            inner: source,
            delivered: 0,
            lines_end: Arc::clone(&lines_end),
        });
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(config.delimiter)
            .has_headers(config.has_headers)
            .flexible(true)
            .buffer_capacity(1 << 16)
            .from_reader(source);
        let headers = if config.has_headers {
            let headers = reader
                .byte_headers()
                .map_err(|err| read_error(&name, err))?
                .clone();
            if check_utf8 {
                check_record_utf8(&name, &headers)?;
            }
            if headers.is_empty() {
                return Err(usage!("{name} is empty: there is not even a header row"));
            }
            check_no_output_columns(&name, &headers)?;
            Some(headers)
        } else {
            None
        };
        let column = find_column(&name, &config.column, headers.as_ref())?;
        Ok(Input {
            reader,
            headers,
            column,
            name,
            encoding,
            check_utf8,
            row_bytes: 64,
            row_fields: 4,
            lines_end,
            streamed,
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
}

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
/// far has been parsed.
struct Counted<R> {
    inner: R,
    delivered: u64,
    /// The offset just past the newline that ends the last non-blank line.
    lines_end: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
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

/// Opens the input as UTF-8 bytes: the stream, the encoding it had
/// (`Auto` when a stream decides later), whether its rows must still be
/// checked for UTF-8 as they are read, and whether it is a stream (standard
/// input, a pipe or a FIFO given as a path) rather than a regular file.
fn open_decoded(
    config: &InputConfig,
    name: &str,
) -> Result<(Box<dyn Read + Send>, Encoding, bool, bool), Error> {
    let file = match &config.path {
        None => None,
        Some(path) if path.is_dir() => {
            return Err(usage!("{name} is a directory, not a CSV file"));
        }
        Some(path) => Some(File::open(path).map_err(|err| usage!("cannot read {name}: {err}"))?),
    };
    // Only a regular file can be read twice (a pre-scan, then the run).
    let regular = match &file {
        Some(file) => file
            .metadata()
            .map_err(|err| usage!("cannot read {name}: {err}"))?
            .is_file(),
        None => false,
    };
    let raw: Box<dyn Read + Send> = match file {
        Some(file) => Box::new(BufReader::with_capacity(1 << 16, file)),
        None => Box::new(io::stdin()),
    };
    let streamed = !regular;
    Ok(match config.encoding {
        Encoding::Auto if regular => {
            let path = config.path.as_deref().expect("a regular file has a path");
            let whole = File::open(path).map_err(|err| usage!("cannot read {name}: {err}"))?;
            // Judged as a whole, the file needs no second check row by row.
            if is_utf8(whole).map_err(|err| usage!("cannot read {name}: {err}"))? {
                (raw, Encoding::Utf8, false, streamed)
            } else {
                (
                    Box::new(Gb18030Reader::new(raw)),
                    Encoding::Gbk,
                    false,
                    streamed,
                )
            }
        }
        Encoding::Auto => {
            let told = format!(
                "tenure: {name} is not UTF-8: reading it as GBK/GB18030 (--encoding to choose)"
            );
            let tell = Box::new(move || eprintln!("{told}"));
            (
                Box::new(AutoReader::new(raw, tell)),
                Encoding::Auto,
                true,
                streamed,
            )
        }
        Encoding::Utf8 => (raw, Encoding::Utf8, true, streamed),
        // The decoder itself fails on bytes that are not GB18030.
        Encoding::Gbk => (
            Box::new(Gb18030Reader::new(raw)),
            Encoding::Gbk,
            false,
            streamed,
        ),
    })
}

/// Whether a stream is valid UTF-8, reading it through once.
fn is_utf8(mut source: impl Read) -> io::Result<bool> {
    let mut buf = vec![0u8; 1 << 16];
    let mut carried = 0;
    loop {
        let read = source.read(&mut buf[carried..])?;
        let filled = carried + read;
        if read == 0 {
            // A character cut off by the end of the stream is invalid.
            return Ok(carried == 0);
        }
        match std::str::from_utf8(&buf[..filled]) {
            Ok(_) => carried = 0,
            // A character split across reads: carry its start over.
            Err(err) if err.error_len().is_none() => {
                let valid = err.valid_up_to();
                buf.copy_within(valid..filled, 0);
                carried = filled - valid;
            }
            Err(_) => return Ok(false),
        }
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

fn check_no_output_columns(name: &str, headers: &ByteRecord) -> Result<(), Error> {
    for field in headers {
        let field = String::from_utf8_lossy(field);
        if COLUMNS.contains(&field.trim()) {
            return Err(usage!(
                "{name} already has a column named {field:?}, one of the columns tenure adds \
                 ({}). Is it an output of tenure? Rename or drop that column first.",
                COLUMNS.join(", ")
            ));
        }
    }
    Ok(())
}

fn find_column(
    name: &str,
    spec: &ColumnSpec,
    headers: Option<&ByteRecord>,
) -> Result<usize, Error> {
    let header_names = || -> Vec<String> {
        headers
            .into_iter()
            .flatten()
            .map(|h| String::from_utf8_lossy(h).trim().to_owned())
            .collect()
    };
    match spec {
        ColumnSpec::Index(index) => match headers {
            Some(headers) if *index >= headers.len() => Err(usage!(
                "--column {} is past the last column of {name}, which has {} ({})",
                index + 1,
                headers.len(),
                header_names().join(", ")
            )),
            _ => Ok(*index),
        },
        ColumnSpec::Name(wanted) => header_names()
            .iter()
            .position(|h| h.eq_ignore_ascii_case(wanted.trim()))
            .ok_or_else(|| {
                usage!(
                    "{name} has no column named {wanted:?}; its columns are: {}",
                    header_names().join(", ")
                )
            }),
        ColumnSpec::Auto => {
            if headers.is_none() {
                return Ok(0);
            }
            let names = header_names();
            names
                .iter()
                .position(|h| {
                    NUMBER_HEADERS
                        .iter()
                        .any(|known| h.eq_ignore_ascii_case(known))
                })
                .ok_or_else(|| {
                    usage!(
                        "cannot tell which column of {name} holds the numbers; its columns \
                         are: {}. Name one with --column NAME or --column N.",
                        names.join(", ")
                    )
                })
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
