//! The arguments of the two commands that help install the binary:
//! `tenure completions SHELL` and `tenure manpage [FOLDER]`. Types only.

use clap::Args as ClapArgs;
use std::path::PathBuf;

#[derive(Debug, ClapArgs)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, ClapArgs)]
pub struct ManpageArgs {
    /// The folder to write the pages into (made if missing); none prints tenure(1).
    #[arg(value_name = "FOLDER")]
    pub folder: Option<PathBuf>,
}
