//! Serving: the library `Sandbox` until dropped, the binary's first stdout
//! line, paths that are not API requests, and flags refused as usage
//! errors.

use std::net::{SocketAddr, TcpStream};
use tenure::sandbox::{DEFAULT_KEY, Sandbox, SandboxConfig, Stats};

use super::{QUERY, Served, client, expected_plain, json, stats_at};
use crate::common::{ran_with, tenure};

#[test]
fn stats_and_unknown_paths_are_not_api_requests() {
    let served = Served::start(&[]);
    let missing = served.get("/nope", &[]).expect("a 404 is an answer");
    assert_eq!(missing.status(), 404);
    let wrong_case = served
        .post("/mobileonline/query", &[])
        .expect("a 404 is an answer");
    assert_eq!(wrong_case.status(), 404);
    served.stats();
    assert_eq!(served.stats(), Stats::default());
    let put = served
        .client
        .put(format!("{}{QUERY}", served.url()))
        .send()
        .expect("a 405 is an answer");
    assert_eq!(put.status(), 405);
    assert_eq!(served.stats().codes["http_405"], 1);
}

#[test]
fn the_library_sandbox_serves_until_dropped() {
    let loopback: SocketAddr = "127.0.0.1:0".parse().expect("a literal address");
    let bad = SandboxConfig {
        p_drop: 2.0,
        ..SandboxConfig::default()
    };
    let error = Sandbox::start(bad, loopback).expect_err("2 is no probability");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("p_drop"), "{error}");

    let running = Sandbox::start(SandboxConfig::default(), loopback).expect("port 0 binds");
    let addr = running.addr();
    assert_eq!(running.url(), format!("http://127.0.0.1:{}", addr.port()));
    let url = running.url();
    // The blocking client must not live on a tokio thread: use a plain one.
    let answer = std::thread::spawn(move || {
        let client = client();
        let answer = json(
            client
                .post(format!("{url}{QUERY}"))
                .form(&[("key", DEFAULT_KEY), ("mobile", "13800138000")])
                .send(),
        );
        (answer, stats_at(&client, &url))
    })
    .join()
    .expect("the client thread does not panic");
    assert_eq!(answer.0, expected_plain("13800138000"));
    assert_eq!(answer.1, running.stats());
    assert_eq!(running.stats().billed, 1);

    drop(running);
    assert!(
        TcpStream::connect(addr).is_err(),
        "the port is closed once dropped"
    );
}

#[test]
fn bad_flags_are_usage_errors() {
    let cases: [(&[&str], &str); 8] = [
        (
            &["--script", "13800138000=retry"],
            "\"retry\" is not a step",
        ),
        (&["--script", "13800138000"], "no '='"),
        (&["--p-drop", "2"], "p-drop"),
        (&["--p-500", "1.5"], "--p-500"),
        (&["--p-224805=-0.1"], "--p-224805"),
        (&["--p-garbage", "half"], "not a number"),
        (&["--listen", "localhost"], "--listen"),
        (&["--epoch", "1001"], "--epoch"),
    ];
    for (args, expected) in cases {
        let ran = ran_with(
            tenure()
                .args(["sandbox", "--listen", "127.0.0.1:0"])
                .args(args),
            2,
        );
        assert!(ran.stderr.contains(expected), "{args:?}: {}", ran.stderr);
        assert!(ran.stdout.is_empty(), "{args:?} never listened");
    }
}

/// Task for the lead's multi-process tests: `tenure sandbox --listen
/// 127.0.0.1:0` says its real address on its first stdout line, and that
/// address answers.
#[test]
fn the_first_stdout_line_is_the_real_address() {
    let served = Served::start(&[]);
    let addr: SocketAddr = served
        .url()
        .strip_prefix("http://")
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("{:?} is http:// and an address", served.url()));
    assert!(addr.ip().is_loopback(), "{addr}");
    assert_ne!(addr.port(), 0, "the real port, not the one asked for");
    assert!(
        TcpStream::connect(addr).is_ok(),
        "{addr} accepts connections"
    );
    assert_eq!(served.ask("13800138000"), expected_plain("13800138000"));
}
