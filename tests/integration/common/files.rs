//! Files in and out of a temporary folder: inputs written, CSV and JSON
//! read back, what a run left in a folder.

use std::path::{Path, PathBuf};

/// A temporary folder, removed when dropped.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary folder")
}

/// Writes `content` to `name` in `dir`.
pub fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("the temporary folder is writable");
    path
}

/// A path as a flag's value (temporary paths are UTF-8).
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// The names of the files in `dir`, sorted.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the temporary folder is readable")
        .map(|entry| {
            entry
                .expect("a folder entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// The names of the temporary outputs (`*.partial`) in `dir`, sorted.
pub fn partials(dir: &Path) -> Vec<String> {
    files_in(dir)
        .into_iter()
        .filter(|name| name.ends_with(".partial"))
        .collect()
}

/// Whether `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `fixtures/sample.csv`, whose make-up comes from `fixtures/make_sample.py`.
pub fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample.csv")
}

pub const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// `text` in GBK, checked to be bytes that are not also UTF-8.
pub fn gbk(text: &str) -> Vec<u8> {
    let (bytes, _, unmappable) = encoding_rs::GBK.encode(text);
    assert!(!unmappable, "the test text is all GBK");
    assert!(
        std::str::from_utf8(&bytes).is_err(),
        "the GBK bytes are not also valid UTF-8"
    );
    bytes.into_owned()
}

/// A CSV of `mobile` numbers under a `mobile` header, with an `id` column
/// counting from 0.
pub fn numbers_csv(dir: &Path, name: &str, numbers: &[String]) -> PathBuf {
    let mut text = String::from("id,mobile\n");
    for (i, number) in numbers.iter().enumerate() {
        text.push_str(&format!("{i},{number}\n"));
    }
    write(dir, name, text)
}

/// Every record of a CSV file (header included), as strings.
pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    read_delimited(path, b',')
}

/// Every record of a file delimited by `delimiter`, as strings.
pub fn read_delimited(path: &Path, delimiter: u8) -> Vec<Vec<String>> {
    let reader = csv_reader(delimiter)
        .from_path(path)
        .unwrap_or_else(|err| panic!("{} is readable: {err}", path.display()));
    records(reader)
}

/// Every record of CSV `bytes` (a run's standard output).
pub fn parse_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    records(csv_reader(b',').from_reader(bytes))
}

fn csv_reader(delimiter: u8) -> csv::ReaderBuilder {
    let mut builder = csv::ReaderBuilder::new();
    builder
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true);
    builder
}

fn records<R: std::io::Read>(mut reader: csv::Reader<R>) -> Vec<Vec<String>> {
    reader
        .records()
        .map(|record| {
            record
                .expect("every record is valid UTF-8 CSV")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// A JSON file, parsed.
pub fn read_json(path: &Path) -> serde_json::Value {
    let bytes =
        std::fs::read(path).unwrap_or_else(|err| panic!("{} is readable: {err}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|err| panic!("{} is JSON: {err}", path.display()))
}
