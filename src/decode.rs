//! A reader that turns GB18030 (and so GBK) bytes into UTF-8 as they
//! stream, and fails, naming the line, on bytes that are not GB18030:
//! nothing is silently replaced.

use encoding_rs::{DecoderResult, GB18030};
use std::io::{self, Read};

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
            lines: 0,
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

    #[test]
    fn names_the_line_of_a_bad_byte() {
        let err = decode(b"a\nb\n\x81\x20\n").expect_err("0x81 0x20 is not GB18030");
        assert!(err.to_string().contains("line 3"), "{err}");
    }
}
