//! `tenure encrypt`'s arguments: the numbers, the openid's file, the form
//! to print. Types only: no I/O.

use clap::Args as ClapArgs;
use std::path::PathBuf;

#[derive(Debug, ClapArgs)]
pub struct EncryptArgs {
    /// The numbers to encrypt (normalised first, like the enrich input).
    #[arg(required = true, value_name = "NUMBER")]
    pub numbers: Vec<String>,

    /// Read the openid from FILE instead of JUHE_OPENID.
    #[arg(long, value_name = "FILE")]
    pub openid_file: Option<PathBuf>,

    /// Print the form-urlencoded form (`+` as `%2B`) instead of Base64.
    #[arg(long)]
    pub urlencode: bool,
}
