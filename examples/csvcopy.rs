//! The floor for the end-to-end benchmark: a plain `csv` read-and-write of
//! a file, with the same reader and writer settings as `tenure enrich` and
//! seven empty fields appended to each row. Nothing `tenure` does per row
//! can be cheaper than this.
//!
//!     cargo run --release --example csvcopy -- INPUT OUTPUT

use std::io::{BufReader, BufWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [input, output] = args.as_slice() else {
        return Err("usage: csvcopy INPUT OUTPUT".into());
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .has_headers(false)
        .from_reader(BufReader::with_capacity(
            1 << 16,
            std::fs::File::open(input)?,
        ));
    let mut writer =
        csv::WriterBuilder::new()
            .flexible(true)
            .from_writer(BufWriter::with_capacity(
                1 << 16,
                std::fs::File::create(output)?,
            ));
    let mut record = csv::ByteRecord::new();
    let empty: [&[u8]; 7] = [b""; 7];
    while reader.read_byte_record(&mut record)? {
        writer.write_record(record.iter().chain(empty))?;
    }
    writer.flush()?;
    Ok(())
}
