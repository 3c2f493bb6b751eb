//! The `tenure` binary as a test starts it: isolated from the developer's
//! environment and store, and `enrich` against a sandbox with quick
//! backoffs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::Command;
use tenure::sandbox::{DEFAULT_KEY, Sandbox};

thread_local! {
    /// Each test (libtest runs each on a thread of its own) gets a data
    /// folder of its own: the default store of its runs, shared by them and
    /// by no other test, and never the developer's own store.
    static DATA_HOME: tempfile::TempDir =
        tempfile::tempdir().expect("the system temporary folder is writable");
}

/// This test's `XDG_DATA_HOME`.
pub fn data_home() -> PathBuf {
    DATA_HOME.with(|dir| dir.path().to_owned())
}

/// The default store of this test's runs.
pub fn default_store() -> PathBuf {
    data_home().join("tenure").join("answers.sqlite")
}

/// The environment every `tenure` a test starts runs in: no secrets and no
/// store settings from the developer's environment, and this test's own
/// data folder.
pub fn isolate<C: AsEnv>(command: &mut C) {
    for name in ["JUHE_KEY", "JUHE_OPENID", "TENURE_CACHE", "PGPASSWORD"] {
        command.without(name);
    }
    command.with("XDG_DATA_HOME", data_home().as_os_str());
}

/// The two kinds of command a test builds, for [`isolate`].
pub trait AsEnv {
    fn without(&mut self, name: &str);
    fn with(&mut self, name: &str, value: &std::ffi::OsStr);
}

impl AsEnv for Command {
    fn without(&mut self, name: &str) {
        self.env_remove(name);
    }
    fn with(&mut self, name: &str, value: &std::ffi::OsStr) {
        self.env(name, value);
    }
}

impl AsEnv for std::process::Command {
    fn without(&mut self, name: &str) {
        self.env_remove(name);
    }
    fn with(&mut self, name: &str, value: &std::ffi::OsStr) {
        self.env(name, value);
    }
}

/// The `tenure` binary with no secrets from the developer's environment.
pub fn tenure() -> Command {
    let mut command = Command::cargo_bin("tenure").expect("cargo built the tenure binary");
    isolate(&mut command);
    command
}

/// The `tenure` binary as a `std::process::Command`, isolated the same way.
pub fn tenure_process() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tenure"));
    isolate(&mut command);
    command
}

/// `tenure enrich INPUT -o OUTPUT --endpoint SANDBOX` with the sandbox key,
/// quick backoffs, `--qps 1000`, and `extra` flags (a flag given again in
/// `extra` takes the later value).
pub fn enrich(sandbox: &Sandbox, input: &Path, output: &Path, extra: &[&str]) -> Command {
    enrich_at(&sandbox.url(), input, output, extra)
}

/// The same run as [`enrich`] against any endpoint (a test's own server).
pub fn enrich_at(url: &str, input: &Path, output: &Path, extra: &[&str]) -> Command {
    let mut command = tenure();
    command
        .env("JUHE_KEY", DEFAULT_KEY)
        .args(enrich_args(url, input, output, extra));
    command
}

/// The same run as [`enrich_at`], as a `std::process::Command` that can be
/// spawned, signalled and killed; standard output and error are piped.
pub fn enrich_process(
    url: &str,
    input: &Path,
    output: &Path,
    extra: &[&str],
) -> std::process::Command {
    let mut command = tenure_process();
    command
        .env("JUHE_KEY", DEFAULT_KEY)
        .args(enrich_args(url, input, output, extra))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn enrich_args(url: &str, input: &Path, output: &Path, extra: &[&str]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["enrich".into(), input.into(), "-o".into(), output.into()];
    let flags = [
        "--endpoint",
        url,
        "--backoff-base",
        "1ms",
        "--backoff-cap",
        "5ms",
    ];
    let qps = ["--qps", "1000"];
    args.extend(flags.iter().chain(&qps).chain(extra).map(OsString::from));
    args
}
