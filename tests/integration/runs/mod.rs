//! Several `tenure enrich` processes at once, as teams run them (DESIGN §4
//! and §6; issue 11 points 3 and 6, issue 12 points 1 and 3): runs that
//! share a store pay once for a number, a `kill -9` of one loses at most
//! what it had in flight, a rate group stays under its `--qps`, budgets hold
//! across runs, and the key and openid never reach the store (a
//! PostgreSQL dump included).
//!
//! Every run here is a process of its own, and so is the API: `tenure
//! sandbox` in its own process ([`Api`]), so that what it counts (billed
//! answers, arrivals) is what a real API would have seen from several
//! clients. Each test runs on both backends ([`on_both_backends!`],
//! [`on_both_backends_at_once!`]): an SQLite file, and a schema of its own
//! on the PostgreSQL server named by `TENURE_TEST_POSTGRES` (skipped,
//! saying so, when that is unset).
//!
//! No assertion here is about how long anything took: a slow machine makes
//! these tests slower, never red. The clocks they read are the store's own
//! records (heartbeats, answer times), compared with each other, and the
//! sandbox's arrival times, counted in windows (with a tolerance for
//! arrival jitter that rate.rs explains).

mod budget;
mod rate;
mod secrets;
mod store;
mod together;

use std::path::Path;
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

use tenure::sandbox::{Stats, answer_for};

use crate::common::*;

pub use store::TeamStore;

/// No run here should come near this; it only turns a hang into a failure
/// (the takeover test waits out the 30 s expiry once).
const HANG: Duration = Duration::from_secs(180);

/// Declares `#[test] fn sqlite()` and `#[test] fn postgres()` in a module
/// named after `body`, each calling `body(&TeamStore)` on its backend.
macro_rules! on_both_backends {
    ($body:ident) => {
        mod $body {
            #[test]
            fn sqlite() {
                super::$body(&$crate::runs::TeamStore::sqlite());
            }

            #[test]
            fn postgres() {
                let test = concat!(module_path!(), "::postgres");
                if let Some(store) = $crate::runs::TeamStore::postgres(test) {
                    super::$body(&store);
                }
            }
        }
    };
}
pub(crate) use on_both_backends;

/// [`on_both_backends!`] for a test that spends most of its time waiting
/// (the takeover test waits out a 30 s expiry): one `#[test] fn
/// sqlite_and_postgres()` runs both backends at once, on two threads, so
/// that it holds one of the harness's threads (CI has two) rather than two.
macro_rules! on_both_backends_at_once {
    ($body:ident) => {
        mod $body {
            #[test]
            fn sqlite_and_postgres() {
                let test = concat!(module_path!(), "::sqlite_and_postgres");
                let postgres = $crate::runs::TeamStore::postgres(test);
                // A panic on either thread fails the test once both ended.
                std::thread::scope(|scope| {
                    if let Some(store) = &postgres {
                        std::thread::Builder::new()
                            .name("postgres".to_owned())
                            .spawn_scoped(scope, move || super::$body(store))
                            .expect("a thread starts");
                    }
                    super::$body(&$crate::runs::TeamStore::sqlite());
                });
            }
        }
    };
}
pub(crate) use on_both_backends_at_once;

/// `tenure sandbox --listen 127.0.0.1:0 ARGS` in a process of its own,
/// killed when dropped, and a client for its statistics.
pub struct Api {
    process: SandboxProcess,
    client: reqwest::blocking::Client,
}

impl Api {
    /// Starts the sandbox and waits for its `tenure sandbox listening on
    /// http://…` line.
    pub fn start(args: &[&str]) -> Api {
        let process = SandboxProcess::start(args);
        // reqwest is built with `rustls-no-provider`: a client needs a
        // process provider even for plain HTTP. Err: one is installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a plain-HTTP client builds");
        Api { process, client }
    }

    pub fn url(&self) -> &str {
        self.process.url()
    }

    /// What the sandbox has received and billed so far (`GET /__stats`).
    pub fn stats(&self) -> Stats {
        let response = self
            .client
            .get(format!("{}/__stats", self.process.url()))
            .send()
            .expect("the sandbox serves its stats");
        assert_eq!(response.status(), 200);
        serde_json::from_slice(&response.bytes().expect("the stats arrive whole"))
            .expect("the stats are JSON")
    }

    /// The numbers the sandbox billed more than once.
    pub fn billed_twice(&self) -> Vec<String> {
        self.stats()
            .numbers
            .into_iter()
            .filter(|(_, n)| n.billed > 1)
            .map(|(number, _)| number)
            .collect()
    }
}

/// A finished `tenure` process.
#[derive(Debug)]
pub struct Done {
    pub code: Option<i32>,
    pub stderr: String,
}

/// Starts `tenure enrich INPUT -o OUTPUT` against `api` (sandbox key,
/// `--qps 1000`, quick backoffs) with `extra` flags.
pub fn spawn(api: &Api, input: &Path, output: &Path, extra: &[&str]) -> Child {
    enrich_process(api.url(), input, output, extra)
        .spawn()
        .expect("tenure starts")
}

/// Waits for a spawned run, failing the test instead of hanging.
pub fn wait(mut child: Child) -> Done {
    let id = child.id();
    let stderr = child.stderr.take().map(drain);
    let stdout = child.stdout.take().map(drain);
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(child.wait());
    });
    let status = receiver
        .recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("tenure (pid {id}) did not finish within {HANG:?}"))
        .expect("waiting for tenure works");
    drop(stdout.map(|thread| thread.join()));
    Done {
        code: status.code(),
        stderr: stderr
            .map(|thread| thread.join().expect("the reader does not panic"))
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .unwrap_or_default(),
    }
}

/// Asserts that a run exited with `code`, showing its stderr if not.
pub fn assert_exit(done: &Done, code: i32, which: &str) {
    assert_eq!(done.code, Some(code), "{which}: stderr:\n{}", done.stderr);
}

/// The seven columns `tenure` appends for `number`, as the sandbox answers
/// it (these tests use numbers with a tenure: `answered_numbers`).
pub fn seven_columns(number: &str) -> Vec<String> {
    let tenure = answer_for(number).expect("the test numbers have a tenure");
    [
        tenure.code,
        tenure.desc,
        tenure.province,
        tenure.city,
        tenure.isp,
        "",
        "",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Asserts that `output` is the complete enrichment of
/// `numbers_csv(numbers)`: a header, then one row per number in input order,
/// each with its own number's answer.
pub fn assert_complete(output: &Path, numbers: &[String]) {
    let rows = read_csv(output);
    assert_eq!(rows.len(), numbers.len() + 1, "a header and one row each");
    for (i, (row, number)) in rows[1..].iter().zip(numbers).enumerate() {
        let mut expected = vec![i.to_string(), number.clone()];
        expected.extend(seven_columns(number));
        assert_eq!(row, &expected, "row {i} of {}", output.display());
    }
}

/// The `--summary-json` file's `run` id.
pub fn run_id(summary: &Path) -> String {
    read_json(summary)["run"]
        .as_str()
        .unwrap_or_else(|| panic!("{} names its run", summary.display()))
        .to_owned()
}
