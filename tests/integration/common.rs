//! Shared helpers: an in-process sandbox on port 0, the `tenure` binary with
//! a clean environment, and CSV files in and out of a temporary folder.

#![allow(dead_code)] // each test module uses its own subset

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use tenure::sandbox::{DEFAULT_KEY, Sandbox, SandboxConfig};

/// Starts the simulator in this process on a free loopback port.
pub fn sandbox(config: SandboxConfig) -> Sandbox {
    Sandbox::start(config, "127.0.0.1:0".parse().expect("a literal address"))
        .expect("the sandbox binds a free loopback port")
}

/// The `tenure` binary with no secrets from the developer's environment.
pub fn tenure() -> Command {
    let mut command = Command::cargo_bin("tenure").expect("cargo built the tenure binary");
    command.env_remove("JUHE_KEY").env_remove("JUHE_OPENID");
    command
}

/// `tenure enrich INPUT -o OUTPUT --endpoint SANDBOX` with the sandbox key,
/// quick backoffs, and `extra` flags.
pub fn enrich(sandbox: &Sandbox, input: &Path, output: &Path, extra: &[&str]) -> Command {
    let mut command = tenure();
    command
        .env("JUHE_KEY", DEFAULT_KEY)
        .arg("enrich")
        .arg(input)
        .arg("-o")
        .arg(output)
        .args(["--endpoint", &sandbox.url()])
        .args([
            "--backoff-base",
            "1ms",
            "--backoff-cap",
            "5ms",
            "--qps",
            "1000",
        ])
        .args(extra);
    command
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
