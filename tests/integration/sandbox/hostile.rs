//! The hostile answers a client must survive (issue 10): a proxy that echoes
//! the request, secrets included, and a body of 1 GiB.

use std::io::Read;

use super::{DEFAULT_KEY, QUERY, Served, expected_plain, json};
use tenure::sandbox;

/// Issue 10: the `echo` step answers like a proxy that repeats the request,
/// key and number included; the client must redact it.
#[test]
fn echo_repeats_the_raw_request_in_the_reason() {
    let served = Served::start(&["--script", "13800138000=echo*"]);
    let answer = served.ask("13800138000");
    assert_eq!(
        answer,
        serde_json::json!({
            "reason": format!("key={DEFAULT_KEY}&mobile=13800138000"),
            "result": null,
            "error_code": 224808,
        })
    );
    let by_get = json(served.get(QUERY, &[("mobile", "13800138000"), ("key", DEFAULT_KEY)]));
    assert_eq!(
        by_get["reason"],
        format!("mobile=13800138000&key={DEFAULT_KEY}"),
        "a GET echoes its query string"
    );
    let stats = served.stats();
    assert_eq!((stats.billed, stats.codes["echo"]), (0, 2));
}

/// Issue 10: the `huge` step announces 1 GiB of `a` and streams it: after
/// 8 MiB have arrived the sandbox's peak memory is still far below what
/// holding the body would take, and a client that hangs up early leaves it
/// serving. (Only part is read, to spare the CPU that this suite's timing
/// tests share; the body's exact length is `server`'s unit test.)
#[test]
fn huge_streams_a_gibibyte_without_holding_it() {
    let served = Served::start(&["--script", "13800138000=huge,huge,ok"]);
    let form = [("key", DEFAULT_KEY), ("mobile", "13800138000")];
    let mut buffer = vec![0u8; 1 << 20];

    let mut response = served.post(QUERY, &form).expect("a huge answer starts");
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(sandbox::HUGE_BODY_BYTES));
    for _ in 0..8 {
        response
            .read_exact(&mut buffer)
            .expect("the body streams on");
        assert!(buffer.iter().all(|&b| b == b'a'), "only a's");
    }
    // Where /proc exists (Linux): about 11 MiB is seen; a body held whole
    // would be over 1 GiB.
    if let Some(peak) = peak_rss_kib(served.process.id()) {
        assert!(peak < 64 * 1024, "the sandbox peaked at {peak} KiB");
    }
    drop(response);

    let mut response = served.post(QUERY, &form).expect("a huge answer starts");
    response
        .read_exact(&mut buffer[..4096])
        .expect("the start arrives");
    drop(response);
    assert_eq!(served.ask("13800138000"), expected_plain("13800138000"));
    assert_eq!(served.stats().codes["huge"], 2);
}

/// A process's peak resident memory in KiB, where /proc says it.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
