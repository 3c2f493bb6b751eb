//! Shared helpers: an in-process sandbox on port 0, the `tenure` binary with
//! a clean environment, and CSV files in and out of a temporary folder.

#![allow(dead_code)] // each test module uses its own subset

use std::ffi::OsString;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use assert_cmd::Command;
use tenure::sandbox::{DEFAULT_KEY, Sandbox, SandboxConfig};

/// Starts the simulator in this process on a free loopback port.
pub fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config, "127.0.0.1:0".parse().expect("a literal address"))
        .expect("the sandbox binds a free loopback port")
}

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
    let mut command = tenure();
    command
        .env("JUHE_KEY", DEFAULT_KEY)
        .args(enrich_args(&sandbox.url(), input, output, extra));
    command
}

/// The same run as [`enrich`], as a `std::process::Command` that can be
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

/// `count` distinct valid numbers that the sandbox answers with a tenure
/// (billed, never 224801), so that a success row and the bill are exact.
pub fn answered_numbers(count: usize) -> Vec<String> {
    let numbers: Vec<String> = distinct_numbers(count * 2)
        .into_iter()
        .filter(|n| tenure::sandbox::answer_for(n).is_ok())
        .take(count)
        .collect();
    assert_eq!(numbers.len(), count, "enough numbers with a tenure");
    numbers
}

/// Writes `content` to `name` in `dir`.
pub fn write(dir: &Path, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("the temporary folder is writable");
    path
}

/// Every record of a CSV file (header included), as strings.
pub fn read_csv(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .unwrap_or_else(|err| panic!("{} is readable CSV: {err}", path.display()));
    reader
        .records()
        .map(|record| {
            record
                .expect("every record is valid UTF-8 CSV")
                .iter()
                .map(str::to_owned)
                .collect()
        })
        .collect()
}

/// A CSV of `mobile` numbers under a `mobile` header.
pub fn numbers_csv(dir: &Path, name: &str, numbers: &[String]) -> PathBuf {
    let mut text = String::from("id,mobile\n");
    for (i, number) in numbers.iter().enumerate() {
        text.push_str(&format!("{i},{number}\n"));
    }
    write(dir, name, text)
}

/// `count` distinct valid numbers, the same ones every time.
pub fn distinct_numbers(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("1380{:07}", i * 7 + 11))
        .collect()
}

/// What a finished `tenure` process left: its exit code and its output.
#[derive(Debug)]
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs a command to its end (any exit).
pub fn ran(command: &mut Command) -> Ran {
    let output = command.output().expect("the tenure binary runs");
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs a command and checks its exit code, showing stderr when it differs.
pub fn ran_with(command: &mut Command, code: i32) -> Ran {
    let ran = ran(command);
    assert_eq!(ran.code, code, "exit code; stderr:\n{}", ran.stderr);
    ran
}

/// A JSON file, parsed.
pub fn read_json(path: &Path) -> serde_json::Value {
    let bytes =
        std::fs::read(path).unwrap_or_else(|err| panic!("{} is readable: {err}", path.display()));
    serde_json::from_slice(&bytes).unwrap_or_else(|err| panic!("{} is JSON: {err}", path.display()))
}

/// The PostgreSQL server of the tests (`TENURE_TEST_POSTGRES`), if set.
pub const PG_ENV: &str = "TENURE_TEST_POSTGRES";

/// A schema of its own on the test server, dropped when this is dropped.
pub struct PgSchema {
    server: String,
    schema: String,
    /// The store URL for `--cache` or `TENURE_CACHE`: the server, with the
    /// schema as its search path.
    pub url: String,
}

impl std::ops::Deref for PgSchema {
    type Target = String;
    fn deref(&self) -> &String {
        &self.url
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
        }
    }
}

/// A fresh schema for `test` on the test server; `None`, having said so on
/// stderr past the harness's capture, when `TENURE_TEST_POSTGRES` is unset.
/// Panics when it is set but the server cannot be reached.
pub fn postgres_schema(test: &str) -> Option<PgSchema> {
    let Some(server) = std::env::var(PG_ENV).ok().filter(|url| !url.is_empty()) else {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {test}, a PostgreSQL test; set {PG_ENV}=postgresql://postgres@127.0.0.1:5432/test to run it"
        );
        return None;
    };
    let schema = format!("tenure_it_{:016x}", fastrand::u64(..));
    let mut admin = postgres::Client::connect(&server, postgres::NoTls)
        .unwrap_or_else(|err| panic!("{PG_ENV} is set but unreachable: {err}"));
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("the test user can create a schema");
    let separator = if server.contains('?') { '&' } else { '?' };
    let url = format!("{server}{separator}options=-csearch_path%3D{schema}");
    Some(PgSchema {
        server,
        schema,
        url,
    })
}
