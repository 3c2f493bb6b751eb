//! Opening the input: a file or standard input, decompressed when it is
//! gzip (see `gzip`) and decoded to UTF-8 as it streams, and read once (no pre-scan: the encoding is decided at the
//! first byte that is not ASCII, see `decode`). The raw bytes consumed are
//! counted, so progress can be shown against the file's size.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::decode::{AutoReader, Gb18030Reader};
use super::gzip::MaybeGzip;
use super::{Encoding, InputConfig};
use crate::exit::Error;
use crate::log::Log;
use crate::usage;

/// An input opened and decoding.
pub(super) struct Opened {
    /// UTF-8 text (or, for UTF-8 input, bytes still to be checked).
    pub reader: Box<dyn Read + Send>,
    /// Whether each row must still be checked for UTF-8: false when a
    /// decoder already guarantees it.
    pub check_utf8: bool,
    /// Standard input, a pipe or a FIFO: reads may block for ever, and it
    /// cannot be read twice.
    pub streamed: bool,
    /// The size of a regular file, for progress.
    pub size: Option<u64>,
    /// Raw bytes consumed from the file or stream so far.
    pub consumed: Arc<AtomicU64>,
}

/// Opens the input named `name` as configured; a GBK input detected as it
/// streams is told to `log`.
pub(super) fn open(config: &InputConfig, name: &str, log: Log) -> Result<Opened, Error> {
    let cannot_read = |err: io::Error| usage!("cannot read {name}: {err}");
    let file = match &config.path {
        None => None,
        Some(path) if path.is_dir() => {
            return Err(usage!("{name} is a directory, not a CSV file"));
        }
        Some(path) => Some(File::open(path).map_err(cannot_read)?),
    };
    let size = match &file {
        Some(file) => {
            let metadata = file.metadata().map_err(cannot_read)?;
            metadata.is_file().then_some(metadata.len())
        }
        None => None,
    };
    let consumed = Arc::new(AtomicU64::new(0));
    let raw: Box<dyn Read + Send> = match file {
        Some(file) => Box::new(BufReader::with_capacity(1 << 16, file)),
        None => Box::new(io::stdin()),
    };
    let raw = MaybeGzip::new(Tally {
        inner: raw,
        consumed: Arc::clone(&consumed),
    });
    let (reader, check_utf8): (Box<dyn Read + Send>, bool) = match config.encoding {
        Encoding::Auto => {
            let told =
                format!("{name} is not UTF-8: reading it as GBK/GB18030 (--encoding to choose)");
            let tell = Box::new(move || log.info(&told));
            (Box::new(AutoReader::new(raw, tell)), true)
        }
        Encoding::Utf8 => (Box::new(raw), true),
        // The decoder itself fails on bytes that are not GB18030.
        Encoding::Gbk => (Box::new(Gb18030Reader::new(raw)), false),
    };
    Ok(Opened {
        reader,
        check_utf8,
        streamed: size.is_none(),
        size,
        consumed,
    })
}

/// Counts the raw bytes read from the source.
struct Tally<R> {
    inner: R,
    consumed: Arc<AtomicU64>,
}

impl<R: Read> Read for Tally<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.consumed.fetch_add(read as u64, Ordering::Relaxed);
        Ok(read)
    }
}
