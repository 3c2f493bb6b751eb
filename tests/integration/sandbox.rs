//! The simulator as a user meets it: the `tenure sandbox` binary on port 0,
//! asked over real HTTP with a plain client (reqwest blocking, from plain
//! test threads), its counts read back from `GET /__stats`. Two tests drive
//! the library's `Sandbox` in process: its lifecycle, and the OpenSSL
//! vectors through its own decryption.
//!
//! This file holds what those tests share: a served child and its client,
//! and the answers the document says the API gives.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use serde_json::Value;
use tenure::sandbox::{self, DEFAULT_KEY, Stats};

use crate::common::{drain, tenure_process};

const QUERY: &str = "/mobileOnline/query";
const QUERY_ENCRY: &str = "/mobileOnline/queryEncry";

mod answers;
mod faults;
mod hostile;
mod over_time;
mod serving;

/// A `tenure sandbox` child process, killed when dropped.
struct Served {
    child: Child,
    url: String,
    /// Held open so that the child never writes into a closed pipe.
    _stdout: BufReader<ChildStdout>,
    client: Client,
}

impl Served {
    /// Starts `tenure sandbox --listen 127.0.0.1:0 ARGS` and waits for its
    /// `tenure sandbox listening on http://…` line.
    fn start(args: &[&str]) -> Served {
        let mut child = tenure_process()
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
        let line = match receiver.recv_timeout(Duration::from_secs(20)) {
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
        Served {
            child,
            url,
            _stdout: stdout,
            client: client(),
        }
    }

    /// POSTs a form to `path`.
    fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Result<Response> {
        self.client
            .post(format!("{}{path}", self.url))
            .form(form)
            .send()
    }

    /// GETs `path` with `params` in the query string.
    fn get(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Result<Response> {
        self.client
            .get(with_query(&format!("{}{path}", self.url), params))
            .send()
    }

    /// POSTs the default key and `number` to `/mobileOnline/query`; the JSON.
    fn ask(&self, number: &str) -> Value {
        json(self.post(QUERY, &[("key", DEFAULT_KEY), ("mobile", number)]))
    }

    fn stats(&self) -> Stats {
        stats_at(&self.client, &self.url)
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        // The child may have exited already; either way reap it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client() -> Client {
    // reqwest is built with `rustls-no-provider`: a client needs a process
    // provider even for plain HTTP. Err means one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .timeout(Duration::from_secs(10))
        .connect_timeout(Duration::from_secs(5))
        .build()
        .expect("a plain-HTTP client builds")
}

fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    format!("{url}?{query}")
}

/// An HTTP 200 answer's JSON body.
fn json(response: reqwest::Result<Response>) -> Value {
    let response = response.expect("the sandbox answers");
    assert_eq!(response.status(), 200);
    body_json(response)
}

fn body_json(response: Response) -> Value {
    let body = response.bytes().expect("the body arrives whole");
    serde_json::from_slice(&body).expect("the body is JSON")
}

fn stats_at(client: &Client, url: &str) -> Stats {
    let response = client
        .get(format!("{url}/__stats"))
        .send()
        .expect("the sandbox serves its stats");
    assert_eq!(response.status(), 200);
    let body = response.bytes().expect("the stats arrive whole");
    serde_json::from_slice(&body).expect("the stats are JSON")
}

/// What the sandbox must answer for `number` on `/mobileOnline/query`.
fn expected_plain(number: &str) -> Value {
    match sandbox::answer_for(number) {
        Ok(answer) => serde_json::json!({
            "reason": "成功",
            "result": {
                "idnum": "", "name": "", "mobile": number, "res": 1,
                "code": answer.code, "desc": answer.desc,
                "province": answer.province, "city": answer.city, "isp": answer.isp,
            },
            "error_code": 0,
        }),
        Err(code) => error_body(code),
    }
}

/// What the sandbox must answer for `number` on `/mobileOnline/queryEncry`
/// with this `orderid` (each billed query has its own: see [`orderid_of`]).
fn expected_encrypted(number: &str, orderid: &str) -> Value {
    let answer = sandbox::answer_for(number).expect("the test number has a record");
    serde_json::json!({
        "reason": "成功 ",
        "result": {
            "code": answer.code, "desc": answer.desc,
            "province": answer.province, "city": answer.city, "isp": answer.isp,
            "orderid": orderid,
        },
        "error_code": 0,
    })
}

/// The `orderid` of a `queryEncry` success, checked to be `JH` and 24
/// digits, like the document's example.
fn orderid_of(answer: &Value) -> String {
    let orderid = answer["result"]["orderid"]
        .as_str()
        .unwrap_or_else(|| panic!("a queryEncry success carries an orderid: {answer}"));
    assert_eq!(orderid.len(), 26, "{orderid}");
    assert!(orderid.starts_with("JH"), "{orderid}");
    assert!(
        orderid[2..].bytes().all(|b| b.is_ascii_digit()),
        "{orderid}"
    );
    orderid.to_owned()
}

fn error_body(code: i64) -> Value {
    serde_json::json!({
        "reason": sandbox::reason(code).expect("a documented code"),
        "result": null,
        "error_code": code,
    })
}

fn error_code(answer: &Value) -> i64 {
    answer["error_code"]
        .as_i64()
        .expect("error_code is an integer")
}
