//! Input that arrives through a pipe the test holds: a fatal stop heard
//! while standard input stays open, a FIFO given as a path read once, GBK
//! chosen after an ASCII header, and a complete row answered while the next
//! is still arriving.

use std::io::Write as _;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::time::Duration;

use tenure::sandbox::{Sandbox, SandboxConfig};

use crate::common::*;

/// `enrich - -o OUTPUT` at `--qps QPS`, spawned, and its standard input for
/// the test to write (and hold open).
fn spawn_on_stdin(sandbox: &Sandbox, output: &Path, qps: &str) -> (Child, ChildStdin) {
    let mut child = enrich_process(&sandbox.url(), Path::new("-"), output, &["--qps", qps])
        .stdin(Stdio::piped())
        .spawn()
        .expect("the tenure binary starts");
    let stdin = child.stdin.take().expect("stdin is piped");
    (child, stdin)
}

/// Review finding: a fatal answer must end the run even while the input is
/// a pipe that stays open (the read blocks; the stop must not wait on it).
#[test]
fn a_fatal_stop_is_heard_while_stdin_stays_open() {
    let sandbox = sandbox(SandboxConfig {
        quota: Some(2),
        ..SandboxConfig::default()
    });
    let dir = tempdir();
    let output = dir.path().join("out.csv");
    let (child, mut stdin) = spawn_on_stdin(&sandbox, &output, "100");
    let mut text = String::from("mobile\n");
    for number in distinct_numbers(20) {
        text.push_str(&number);
        text.push('\n');
    }
    stdin
        .write_all(text.as_bytes())
        .expect("tenure reads stdin");
    // `stdin` stays open until the end of the test: tenure never sees EOF.
    let ran = finish(child, Duration::from_secs(30));
    assert_eq!(ran.code, 4, "{}", ran.stderr);
    assert!(ran.stderr.contains("10012"), "{}", ran.stderr);
    assert!(!output.exists());
    drop(stdin);
}

/// Review finding: a pipe given as a path (a FIFO, `<(…)`, `/dev/stdin`)
/// cannot be read twice: no pre-scan and no row count may eat its rows.
#[test]
fn a_fifo_given_as_a_path_loses_no_row() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let fifo = dir.path().join("numbers.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let numbers = distinct_numbers(3000);
    let writer = {
        let fifo = fifo.clone();
        let numbers = numbers.clone();
        std::thread::spawn(move || {
            let mut pipe = std::fs::OpenOptions::new()
                .write(true)
                .open(&fifo)
                .expect("the fifo opens for writing");
            let mut text = String::from("id,mobile\n");
            for (i, number) in numbers.iter().enumerate() {
                text.push_str(&format!("{i},{number}\n"));
            }
            pipe.write_all(text.as_bytes())
                .expect("tenure reads the fifo");
        })
    };
    let out = dir.path().join("out.csv");
    ran_with(&mut enrich(&sandbox, &fifo, &out, &[]), 0);
    writer.join().expect("the writer thread ends");
    let rows = read_csv(&out);
    assert_eq!(rows.len(), numbers.len() + 1, "every row came through");
    for (row, number) in rows[1..].iter().zip(&numbers) {
        assert_answered(row, number);
    }
}

/// Review finding: GBK on standard input whose first read is only the
/// ASCII header is still read as GBK (the choice waits for the first byte
/// that is not ASCII).
#[test]
fn gbk_on_stdin_after_an_ascii_header_is_read_as_gbk() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let out = dir.path().join("out.csv");
    let (child, mut stdin) = spawn_on_stdin(&sandbox, &out, "1000");
    stdin
        .write_all(b"mobile,name\n")
        .expect("tenure reads stdin");
    stdin.flush().expect("flushed");
    // Let the header arrive alone, most likely as a read of its own.
    std::thread::sleep(Duration::from_millis(200));
    let rows = gbk("13800138000,张三\n13900139000,李四\n");
    stdin.write_all(&rows).expect("tenure reads stdin");
    drop(stdin);
    let ran = finish(child, Duration::from_secs(30));
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stderr.contains("GBK"), "{}", ran.stderr);
    let rows = read_csv(&out);
    assert_eq!(rows[1][1], "张三");
    assert_eq!(rows[2][1], "李四");
}

/// Review finding: a complete row is answered while the pipe stays open,
/// even when the last read ended in the middle of the next line.
#[test]
fn a_complete_row_is_not_held_back_by_a_partial_one() {
    let sandbox = sandbox(SandboxConfig::default());
    let dir = tempdir();
    let out = dir.path().join("out.csv");
    let (child, mut stdin) = spawn_on_stdin(&sandbox, &out, "1000");
    stdin
        .write_all(b"mobile\r\n13800138000\r\n\r\n\r\n1390013")
        .expect("tenure reads stdin");
    stdin.flush().expect("flushed");
    let asked = wait_for(Duration::from_secs(20), || sandbox.stats().requests >= 1);
    stdin.write_all(b"9000\n").expect("tenure reads stdin");
    drop(stdin);
    let ran = finish(child, Duration::from_secs(30));
    assert!(asked, "the first row was asked while the pipe stayed open");
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(read_csv(&out).len(), 3);
}
