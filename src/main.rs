use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = tenure::cli::Args::parse();
    // A bug is exit 1 like any internal error (the panic message is printed
    // by the default hook), not Rust's 101.
    std::panic::catch_unwind(|| tenure::run(args))
        .unwrap_or(tenure::exit::Exit::Internal)
        .into()
}
