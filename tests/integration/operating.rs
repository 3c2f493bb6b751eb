//! Operating it (issue 14, DESIGN §8): output for Excel and the output
//! file's mode; landlines, header aliases, gzip input, the TSV hint and
//! `check --invalid-out`; environment variables for flags, completions, the
//! man page and the version.

mod conventions;
mod input;
mod output;
