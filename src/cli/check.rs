//! `tenure check`'s flags: the input and source enrich would have, the
//! report's form, the invalid rows' file, and the pace its time estimate
//! assumes. Types only: no I/O, no meaning.

use clap::Args as ClapArgs;
use std::path::PathBuf;
use std::time::Duration;

use super::values;
use super::{InputArgs, SourceArgs};
use crate::concurrency::Concurrency;

#[derive(Debug, ClapArgs)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,

    #[command(flatten)]
    pub source: SourceArgs,

    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,

    /// Write the invalid rows, as they were, with a `reason` column, to FILE.
    #[arg(
        long,
        value_name = "FILE",
        long_help = "Write the rows that would get no answer (invalid numbers, rows too \
short to have the number column, rows wider than the header) to FILE: the header, then \
each such row as it was, with a `reason` column after it saying why, in the input's \
delimiter, as UTF-8. FILE appears only when complete."
    )]
    pub invalid_out: Option<PathBuf>,

    /// Requests in flight the estimate assumes: `auto` or a number, as for enrich.
    #[arg(
        long,
        env = "TENURE_CONCURRENCY",
        value_name = "N|auto",
        default_value = "auto",
        long_help = "The --concurrency the run would have, for the time estimate: `auto`, \
the default (as many in flight as --qps needs at --latency, between 4 and 256), or a \
number. A number that holds the rate below --qps at --latency is said in the report."
    )]
    pub concurrency: Concurrency,

    /// The API's typical latency the estimate assumes (default 150ms).
    #[arg(
        long,
        env = "TENURE_LATENCY",
        value_name = "DURATION",
        default_value = "150ms",
        value_parser = values::duration,
        long_help = "The API's typical latency, from sending a request to its answer, that \
the time estimate assumes: 150ms by default, an assumption, not a measurement. Measure \
yours with a small run: `tenure enrich` on a few hundred numbers with --concurrency N and a \
--qps it cannot reach makes about N / latency requests a second, so latency is about N / \
the request_rate of its --summary-json."
    )]
    pub latency: Duration,
}
