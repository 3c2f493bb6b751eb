//! Where the key and the numbers may go: only in the POST body, only to the
//! endpoint. (Review findings: redirects and proxies.)

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::Duration;

use crate::common::*;

/// A redirect would carry the form (key and number) to another host on a
/// 307, or turn the POST into a GET on a 302: the tool must not follow it.
#[test]
fn a_redirect_is_not_followed_and_stops_the_run() {
    let elsewhere = TcpListener::bind("127.0.0.1:0").expect("a free port");
    elsewhere.set_nonblocking(true).expect("nonblocking");
    let target = format!(
        "http://{}/mobileOnline/query",
        elsewhere.local_addr().expect("bound")
    );
    let endpoint = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let url = format!("http://{}", endpoint.local_addr().expect("bound"));
    let server = std::thread::spawn(move || {
        // Answer every connection with a 307 until the client gives up.
        endpoint.set_nonblocking(false).expect("blocking");
        for stream in endpoint.incoming().take(8) {
            let Ok(mut stream) = stream else { break };
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: {target}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(1));
    let output = dir.path().join("out.csv");
    let ran = ran_with(&mut enrich_at(&url, &input, &output, &[]), 4);
    assert!(ran.stderr.contains("http_307"), "{}", ran.stderr);
    assert!(!output.exists());
    assert!(
        elsewhere.accept().is_err(),
        "nothing reached the redirect's target"
    );
    drop(server);
}

/// An HTTP proxy from the environment must not see sandbox traffic: the
/// sandbox is on this machine, and a proxy would see numbers and the key.
#[test]
fn the_sandbox_is_reached_without_any_proxy() {
    let dir = tempdir();
    let input = numbers_csv(dir.path(), "in.csv", &distinct_numbers(3));
    let output = dir.path().join("out.csv");
    // Port 9 (discard) is closed here: through it, every request would fail.
    ran_with(
        tenure()
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("http_proxy", "http://127.0.0.1:9")
            .env("ALL_PROXY", "http://127.0.0.1:9")
            .arg("enrich")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .args(["--sandbox", "--qps", "100", "--retries", "0"]),
        0,
    );
}
