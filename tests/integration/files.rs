//! Real files and real operators (issue 5): encodings, delimiters, headers,
//! ragged rows, degenerate files, stdin to stdout, `tenure check` against the
//! sample's known make-up, pipes that stay open, and SIGINT/SIGTERM in the
//! middle of a run.
//!
//! Every input is made by the test in a temporary folder (the GBK ones with
//! `encoding_rs`), except `fixtures/sample.csv`, whose make-up comes from
//! `fixtures/make_sample.py`.

mod check;
mod encodings;
mod pipes;
mod shapes;
mod signals;
