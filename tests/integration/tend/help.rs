//! What the tending commands' help and errors show: a worked example in
//! every long help (the help is the spec), and never the password of a
//! PostgreSQL store's URL.

use super::stdout_of;
use crate::common::*;

/// The help is the spec: every new command's long help has a worked
/// example.
#[test]
fn every_tending_command_long_help_has_an_example() {
    for command in [
        &["cache"][..],
        &["cache", "stats"],
        &["cache", "export"],
        &["cache", "import"],
        &["cache", "purge"],
        &["cache", "changes"],
        &["usage"],
        &["check"],
    ] {
        let help = stdout_of(&[command, &["--help"]].concat());
        assert!(help.contains("Example"), "{command:?} --help: {help}");
    }
}

/// A PostgreSQL URL's password shows nowhere: not in the tending commands'
/// --help (which shows TENURE_CACHE's value for flags that read it unless
/// told not to), not in their errors.
#[test]
fn the_tending_commands_never_show_a_store_password() {
    let url = "postgresql://tenure:hunter2@127.0.0.1:1/db?sslmode=disable&connect_timeout=2";
    for command in [
        &["cache", "stats"][..],
        &["cache", "export"],
        &["cache", "import"],
        &["cache", "purge"],
        &["cache", "changes"],
        &["usage"],
    ] {
        let help = ran_with(
            tenure()
                .env("TENURE_CACHE", url)
                .args(command)
                .arg("--help"),
            0,
        );
        assert!(
            !help.stdout.contains("hunter2"),
            "{command:?}: {}",
            help.stdout
        );
    }
    for args in [
        &["cache", "stats", "--cache", url][..],
        &["usage", "--cache", url],
        &["cache", "purge", "--code", "03", "--cache", url],
    ] {
        let ran = ran_with(tenure().args(args), 2);
        assert!(
            ran.stderr.contains("127.0.0.1:1"),
            "{args:?}: {}",
            ran.stderr
        );
        assert!(!ran.stderr.contains("hunter2"), "{args:?}: {}", ran.stderr);
    }
}
