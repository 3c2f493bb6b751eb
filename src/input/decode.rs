//! Readers that turn the input into UTF-8 as it streams.
//!
//! [`Gb18030Reader`] decodes GB18030 (and so GBK), and fails, naming the
//! line, on bytes that are not GB18030: nothing is silently replaced.
//! [`AutoReader`] decides between UTF-8 and GB18030 for a stream that cannot
//! be read twice (standard input, a pipe): ASCII is the same in both, so it
//! passes ASCII through and decides at the first byte that is not.

use encoding_rs::{DecoderResult, GB18030};
use std::io::{self, Cursor, Read};

/// Decodes GB18030 from `inner` into UTF-8.
pub struct Gb18030Reader<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    input: Vec<u8>,
    input_start: usize,
    input_end: usize,
    output: Vec<u8>,
    output_start: usize,
    output_end: usize,
    input_done: bool,
    finished: bool,
    /// Newlines emitted so far, to name the line of a bad byte.
    lines: u64,
}

impl<R: Read> Gb18030Reader<R> {
    pub fn new(inner: R) -> Self {
        Self::after_lines(inner, 0)
    }

    /// A decoder for what follows `lines` lines already read, so that an
    /// error names the line in the whole input.
    fn after_lines(inner: R, lines: u64) -> Self {
        Gb18030Reader {
            inner,
            decoder: GB18030.new_decoder_with_bom_removal(),
            input: vec![0; 1 << 16],
            input_start: 0,
            input_end: 0,
            // GB18030 to UTF-8 at most doubles, with room for a pending char.
            output: vec![0; (1 << 17) + 16],
            output_start: 0,
            output_end: 0,
            input_done: false,
            finished: false,
            lines,
        }
    }
}

impl<R: Read> Read for Gb18030Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.output_start < self.output_end {
                let n = buf.len().min(self.output_end - self.output_start);
                buf[..n].copy_from_slice(&self.output[self.output_start..self.output_start + n]);
                self.output_start += n;
                return Ok(n);
            }
            if self.finished {
                return Ok(0);
            }
            if self.input_start == self.input_end && !self.input_done {
                let read = self.inner.read(&mut self.input)?;
                self.input_start = 0;
                self.input_end = read;
                self.input_done = read == 0;
            }
            let (result, read, written) = self.decoder.decode_to_utf8_without_replacement(
                &self.input[self.input_start..self.input_end],
                &mut self.output,
                self.input_done,
            );
            self.input_start += read;
            self.output_start = 0;
            self.output_end = written;
            self.lines += bytecount(&self.output[..written]);
            match result {
                DecoderResult::Malformed(..) => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "line {}: bytes that are neither UTF-8 nor GBK/GB18030; \
                             pass --encoding with the file's real encoding",
                            self.lines + 1
                        ),
                    ));
                }
                DecoderResult::InputEmpty if self.input_done => self.finished = true,
                DecoderResult::InputEmpty | DecoderResult::OutputFull => {}
            }
        }
    }
}

/// Decides a stream's encoding at its first non-ASCII byte: UTF-8 when what
/// follows is valid UTF-8, GB18030 otherwise. `on_gbk` runs once if the
/// choice is GB18030 (to tell the user).
pub struct AutoReader<R> {
    state: Auto<R>,
    on_gbk: Option<Box<dyn FnOnce() + Send>>,
    /// Newlines passed through before the decision.
    lines: u64,
}

enum Auto<R> {
    Undecided(R),
    Utf8(io::Chain<Cursor<Vec<u8>>, R>),
    Gbk(Gb18030Reader<io::Chain<Cursor<Vec<u8>>, R>>),
    /// Only while switching state.
    Switching,
}

impl<R: Read> AutoReader<R> {
    pub fn new(inner: R, on_gbk: Box<dyn FnOnce() + Send>) -> Self {
        AutoReader {
            state: Auto::Undecided(inner),
            on_gbk: Some(on_gbk),
            lines: 0,
        }
    }
}

impl<R: Read> Read for AutoReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match &mut self.state {
                Auto::Utf8(inner) => return inner.read(buf),
                Auto::Gbk(inner) => return inner.read(buf),
                Auto::Switching => unreachable!("the state is restored before returning"),
                Auto::Undecided(inner) => {
                    let read = inner.read(buf)?;
                    let Some(first) = buf[..read].iter().position(|b| !b.is_ascii()) else {
                        self.lines += bytecount(&buf[..read]);
                        return Ok(read);
                    };
                    self.lines += bytecount(&buf[..first]);
                    // Judge by the bytes from the first non-ASCII one; a
                    // character cut in two at the end of this read does not
                    // count against UTF-8.
                    let rest = buf[first..read].to_vec();
                    let utf8 = match std::str::from_utf8(&rest) {
                        Ok(_) => true,
                        Err(err) => err.error_len().is_none(),
                    };
                    let Auto::Undecided(inner) =
                        std::mem::replace(&mut self.state, Auto::Switching)
                    else {
                        unreachable!("matched Undecided above");
                    };
                    let rest = Cursor::new(rest).chain(inner);
                    self.state = if utf8 {
                        Auto::Utf8(rest)
                    } else {
                        if let Some(tell) = self.on_gbk.take() {
                            tell();
                        }
                        Auto::Gbk(Gb18030Reader::after_lines(rest, self.lines))
                    };
                    if first > 0 {
                        return Ok(first);
                    }
                }
            }
        }
    }
}

fn bytecount(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(bytes: &[u8]) -> io::Result<String> {
        let mut out = String::new();
        Gb18030Reader::new(bytes).read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn decodes_gbk_text() {
        let (gbk, _, _) = GB18030.encode("手机号,姓名\n13800138000,张三\n");
        assert_eq!(
            decode(&gbk).expect("valid GBK"),
            "手机号,姓名\n13800138000,张三\n"
        );
    }

    fn auto(bytes: &[u8]) -> (Result<String, String>, bool) {
        let told = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = std::sync::Arc::clone(&told);
        let mut reader = AutoReader::new(
            bytes,
            Box::new(move || flag.store(true, std::sync::atomic::Ordering::SeqCst)),
        );
        let mut out = String::new();
        let read = reader
            .read_to_string(&mut out)
            .map(|_| out)
            .map_err(|err| err.to_string());
        (read, told.load(std::sync::atomic::Ordering::SeqCst))
    }

    #[test]
    fn auto_passes_ascii_and_decides_at_the_first_other_byte() {
        let mut gbk = b"mobile,name\n13800138000,".to_vec();
        gbk.extend_from_slice(&GB18030.encode("张三\n").0);
        assert_eq!(
            auto(&gbk),
            (Ok("mobile,name\n13800138000,张三\n".to_owned()), true)
        );
        let utf8 = "mobile,name\n13800138000,张三\n".as_bytes();
        assert_eq!(
            auto(utf8),
            (Ok("mobile,name\n13800138000,张三\n".to_owned()), false)
        );
        assert_eq!(
            auto(b"only,ascii\n"),
            (Ok("only,ascii\n".to_owned()), false)
        );
    }

    #[test]
    fn names_the_line_of_a_bad_byte() {
        let err = decode(b"a\nb\n\x81\x20\n").expect_err("0x81 0x20 is not GB18030");
        assert!(err.to_string().contains("line 3"), "{err}");
        let (auto, told) = auto(b"a\nb\nc\x81\x20\n");
        let err = auto.expect_err("0x81 0x20 is not GB18030");
        assert!(
            err.contains("line 3"),
            "lines before the decision count: {err}"
        );
        assert!(told);
    }
}
