use clap::Parser;

fn main() -> std::process::ExitCode {
    tenure::run(tenure::cli::Args::parse()).into()
}
