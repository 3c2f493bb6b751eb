//! A run to its end: its outcome as a [`Ran`], its exit code checked, a
//! spawned child waited for within a limit, a condition polled.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use assert_cmd::Command;

/// No run of a test comes near this; it only turns a hang into a failure.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(120);

/// What a finished `tenure` process left: its exit code and its output.
#[derive(Debug)]
pub struct Ran {
    /// The exit code, or -1 when a signal ended it.
    pub code: i32,
    /// Standard output as text (lossy): for messages, reports and JSON.
    pub stdout: String,
    /// Standard output as written, for what must hold byte for byte (a CSV
    /// written to `-`, a BOM, UTF-8 itself).
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
}

impl From<std::process::Output> for Ran {
    fn from(output: std::process::Output) -> Ran {
        Ran {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stdout_bytes: output.stdout,
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Runs a command to its end (any exit), killing it after [`RUN_TIMEOUT`].
pub fn ran(command: &mut Command) -> Ran {
    command
        .timeout(RUN_TIMEOUT)
        .output()
        .expect("the tenure binary runs")
        .into()
}

/// Runs a command and checks its exit code, showing stderr when it differs.
pub fn ran_with(command: &mut Command, code: i32) -> Ran {
    let ran = ran(command);
    assert_eq!(ran.code, code, "exit code; stderr:\n{}", ran.stderr);
    ran
}

/// Runs a command that must exit 0 and print JSON (`check --json`); the JSON.
pub fn stdout_json(command: &mut Command) -> serde_json::Value {
    let ran = ran_with(command, 0);
    serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|err| panic!("stdout is JSON ({err}):\n{}", ran.stdout))
}

/// Polls `until` every 10 ms for at most `limit`; whether it came true.
pub fn wait_for(limit: Duration, mut until: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if until() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    until()
}

/// Waits for a spawned child to exit within `limit`, killing it (and
/// failing the test) if it does not. Its piped output is read as it comes,
/// so that a full pipe never holds it up.
pub fn finish(mut child: Child, limit: Duration) -> Ran {
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let exited = wait_for(limit, || {
        child
            .try_wait()
            .expect("the child can be waited on")
            .is_some()
    });
    if !exited {
        // It may have exited since; either way it is reaped below.
        let _ = child.kill();
    }
    let status = child.wait().expect("the child is reaped");
    let drained = |pipe: Option<std::thread::JoinHandle<Vec<u8>>>| {
        pipe.map(|reader| reader.join().expect("a pipe reader does not panic"))
            .unwrap_or_default()
    };
    let ran = Ran::from(std::process::Output {
        status,
        stdout: drained(stdout),
        stderr: drained(stderr),
    });
    assert!(
        exited,
        "tenure did not exit within {limit:?}; stderr:\n{}",
        ran.stderr
    );
    ran
}

/// Reads a child's pipe to its end on a thread, so that the child never
/// blocks on a full pipe; the thread's result is what it wrote (cut short
/// by a read error, which only a failing test would show).
pub fn drain(mut pipe: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// `tenure sandbox --listen 127.0.0.1:0 ARGS` in a process of its own,
/// killed when dropped.
pub struct SandboxProcess {
    child: Child,
    url: String,
    /// Held open so that the child never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
}

impl SandboxProcess {
    /// Starts the sandbox and waits for its `tenure sandbox listening on
    /// http://…` line; a sandbox that does not say it fails the test with
    /// its stderr.
    pub fn start(args: &[&str]) -> SandboxProcess {
        let mut child = super::tenure_process()
            .args(["sandbox", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the tenure binary was built by cargo for this test");
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let stderr = drain(child.stderr.take().expect("stderr is piped"));
        let (sender, receiver) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut line = String::new();
            let read = stdout.read_line(&mut line).map(|_| line);
            // The receiver may have given up; then nobody needs the line.
            let _ = sender.send(read);
            stdout
        });
        let line = match receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(Ok(line)) if !line.is_empty() => line,
            outcome => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = stderr.join().expect("the stderr reader does not panic");
                panic!(
                    "tenure sandbox {args:?} did not say where it listens ({outcome:?}); stderr: {}",
                    String::from_utf8_lossy(&stderr)
                );
            }
        };
        let stdout = reader.join().expect("the line reader does not panic");
        let url = line
            .trim_end()
            .strip_prefix("tenure sandbox listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        SandboxProcess {
            child,
            url,
            _stdout: stdout,
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for SandboxProcess {
    fn drop(&mut self) {
        // It may have exited already; either way reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
