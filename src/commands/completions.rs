//! `tenure completions SHELL` and `tenure manpage [FOLDER]`: generated
//! from the command line's own definition (clap_complete, clap_mangen), so
//! they never drift from `--help`. The one command that reads the clap
//! `Command` itself: it is what it prints.

use clap::CommandFactory;
use std::io::Write;
use std::path::Path;

use crate::cli::Args;
use crate::exit::{Error, Exit};
use crate::usage;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> Result<Exit, Error> {
    let mut command = Args::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut command, "tenure", &mut out);
    print(&out)
}

/// Prints tenure(1), or writes every page into `folder`.
pub fn manpage(folder: Option<&Path>) -> Result<Exit, Error> {
    let command = Args::command();
    let Some(folder) = folder else {
        let mut out = Vec::new();
        clap_mangen::Man::new(command)
            .render(&mut out)
            .map_err(|err| anyhow::anyhow!("rendering the man page: {err}"))?;
        return print(&out);
    };
    std::fs::create_dir_all(folder)
        .and_then(|()| clap_mangen::generate_to(command, folder))
        .map_err(|err| {
            usage!(
                "cannot write the man pages into {}: {err}",
                folder.display()
            )
        })?;
    Ok(Exit::Success)
}

fn print(bytes: &[u8]) -> Result<Exit, Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        // A reader that stopped early (`| head`) is not an error.
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::anyhow!("writing to standard output: {err}").into())
        }
        _ => Ok(Exit::Success),
    }
}
