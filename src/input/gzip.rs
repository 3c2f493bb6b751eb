//! Gzip input, read transparently: told by its first two bytes (the gzip
//! magic, `1f 8b`), so a `.gz` file and gzip on standard input alike, and
//! decompressed as it streams (`flate2`), never held whole. Concatenated
//! members (`cat a.gz b.gz`) read as one stream, as `gunzip` reads them.

use flate2::read::MultiGzDecoder;
use std::io::{self, Chain, Cursor, Read};

/// The first two bytes of every gzip stream.
const MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads `R` as it is, or decompressed when it starts like gzip.
pub(super) struct MaybeGzip<R> {
    state: State<R>,
}

enum State<R> {
    /// Nothing read yet.
    Undecided(R),
    /// What was read while deciding (when it could not go to the caller),
    /// then the rest.
    Plain(Chain<Cursor<Vec<u8>>, R>),
    Gzip(Box<MultiGzDecoder<Chain<Cursor<Vec<u8>>, R>>>),
    /// Only while deciding.
    Deciding,
}

impl<R: Read> MaybeGzip<R> {
    pub(super) fn new(inner: R) -> Self {
        MaybeGzip {
            state: State::Undecided(inner),
        }
    }

    /// Decides at the first read, so that opening standard input does not
    /// block. The bytes read to decide go into the caller's `buf` (a plain
    /// file's first read comes back whole: the CSV parser strips a UTF-8
    /// BOM only when it sees all of it at once). `Some(n)`: `n` plain bytes
    /// are in `buf`; `None`: gzip, read from the decoder.
    fn decide(&mut self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        let State::Undecided(mut inner) = std::mem::replace(&mut self.state, State::Deciding)
        else {
            unreachable!("decide is called only while undecided");
        };
        // A caller's buffer too small to hold the magic: decide in our own.
        let mut small = [0u8; 2];
        let into_buf = buf.len() >= MAGIC.len();
        let head: &mut [u8] = if into_buf { buf } else { &mut small };
        let mut len = 0;
        let mut failed = None;
        while len < MAGIC.len() {
            match inner.read(&mut head[len..]) {
                Ok(0) => break,
                Ok(read) => len += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => {
                    failed = Some(err);
                    break;
                }
            }
        }
        let gzip = failed.is_none() && head[..len].starts_with(&MAGIC);
        let in_buf = !gzip && failed.is_none() && into_buf;
        let kept = if in_buf {
            Vec::new()
        } else {
            head[..len].to_vec()
        };
        let rest = Cursor::new(kept).chain(inner);
        self.state = if gzip {
            State::Gzip(Box::new(MultiGzDecoder::new(rest)))
        } else {
            State::Plain(rest)
        };
        match failed {
            Some(err) => Err(err),
            None if gzip => Ok(None),
            None if in_buf => Ok(Some(len)),
            // Held in the cursor: read from it.
            None => Ok(None),
        }
    }
}

impl<R: Read> Read for MaybeGzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match &mut self.state {
                State::Plain(inner) => return inner.read(buf),
                State::Gzip(inner) => {
                    return inner.read(buf).map_err(|err| {
                        io::Error::new(err.kind(), format!("it starts like gzip, but {err}"))
                    });
                }
                State::Undecided(_) if buf.is_empty() => return Ok(0),
                State::Undecided(_) => {
                    if let Some(read) = self.decide(buf)? {
                        return Ok(read);
                    }
                }
                State::Deciding => unreachable!("the state is set before deciding returns"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).expect("writing to memory");
        encoder.finish().expect("writing to memory")
    }

    fn read(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        MaybeGzip::new(bytes).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn gzip_is_decompressed_and_the_rest_passes_as_it_is() {
        let text = b"mobile\n13800138000\n";
        assert_eq!(read(&gzip(text)).expect("valid gzip"), text);
        let mut two = gzip(b"mobile\n");
        two.extend(gzip(b"13800138000\n"));
        assert_eq!(
            read(&two).expect("two members"),
            text,
            "members concatenate"
        );
        assert_eq!(read(text).expect("plain"), text);
        assert_eq!(read(b"").expect("empty"), b"");
        assert_eq!(read(b"\x1f").expect("one byte"), b"\x1f");
    }

    #[test]
    fn the_first_read_of_plain_input_comes_back_whole() {
        // The CSV parser strips a BOM only when its first read holds all of it.
        let text = "\u{feff}mobile\n13800138000\n".as_bytes();
        let mut reader = MaybeGzip::new(text);
        let mut buf = [0u8; 64];
        assert_eq!(reader.read(&mut buf).expect("read"), text.len());
        // One byte at a time still reads everything.
        let compressed = gzip(text);
        let mut reader = MaybeGzip::new(&compressed[..]);
        let mut out = Vec::new();
        let mut byte = [0u8; 1];
        while reader.read(&mut byte).expect("read") == 1 {
            out.push(byte[0]);
        }
        assert_eq!(out, text);
    }

    #[test]
    fn a_broken_gzip_stream_is_an_error() {
        let mut broken = gzip(&[b'7'; 10_000]);
        broken.truncate(broken.len() / 2);
        let err = read(&broken).expect_err("truncated");
        assert!(err.to_string().contains("gzip"), "{err}");
    }
}
