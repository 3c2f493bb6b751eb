//! The simulator as a user meets it: the `tenure sandbox` binary on port 0,
//! asked over real HTTP with a plain client (reqwest blocking, from plain
//! test threads), its counts read back from `GET /__stats`. Two tests drive
//! the library's `Sandbox` in process: its lifecycle, and the OpenSSL
//! vectors through its own decryption.
//!
//! This file holds what those tests share: a served child and its client,
//! and the answers the document says the API gives.

use std::time::Duration;

use reqwest::blocking::{Client, Response};
use serde_json::Value;
use tenure::sandbox::{self, DEFAULT_KEY, Stats};

use crate::common::SandboxProcess;

const QUERY: &str = "/mobileOnline/query";
const QUERY_ENCRY: &str = "/mobileOnline/queryEncry";

mod answers;
mod faults;
mod hostile;
mod over_time;
mod serving;

/// A `tenure sandbox` child process and a client for it.
struct Served {
    process: SandboxProcess,
    client: Client,
}

impl Served {
    /// Starts `tenure sandbox --listen 127.0.0.1:0 ARGS` and waits for its
    /// `tenure sandbox listening on http://…` line.
    fn start(args: &[&str]) -> Served {
        Served {
            process: SandboxProcess::start(args),
            client: client(),
        }
    }

    fn url(&self) -> &str {
        self.process.url()
    }

    /// POSTs a form to `path`.
    fn post(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Result<Response> {
        self.client
            .post(format!("{}{path}", self.process.url()))
            .form(form)
            .send()
    }

    /// GETs `path` with `params` in the query string.
    fn get(&self, path: &str, params: &[(&str, &str)]) -> reqwest::Result<Response> {
        self.client
            .get(with_query(&format!("{}{path}", self.process.url()), params))
            .send()
    }

    /// POSTs the default key and `number` to `/mobileOnline/query`; the JSON.
    fn ask(&self, number: &str) -> Value {
        json(self.post(QUERY, &[("key", DEFAULT_KEY), ("mobile", number)]))
    }

    fn stats(&self) -> Stats {
        stats_at(&self.client, self.process.url())
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
