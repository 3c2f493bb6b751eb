//! What one API request gets, in the documented order: a missing or wrong
//! key (`10001`), the rate limit (`10011`), the quota (`10012`), the number
//! (decrypted for `queryEncry`; `224804` when it is not a valid one), the
//! number's script step, a seeded random fault, else the deterministic
//! answer at the configured epoch ([`answer_at`]).
//!
//! Pure: a function of the configuration, the ledger so far and the request.
//! Random faults are drawn from MD5(seed, number, attempt), so a run is
//! reproducible whatever order concurrent requests arrive in. The one thing
//! that is not reproducible on purpose is the `orderid` of a billed
//! `queryEncry` answer: like the real API's, each billed query gets its own,
//! never seen before (see [`Ledger::orderid`]); the plain endpoint has none.

use md5::{Digest, Md5};

use super::cipher::Decryptor;
use super::config::SandboxConfig;
use super::envelope;
use super::epoch::answer_at;
use super::route::Route;
use super::script::Step;
use super::stats::{Counted, Ledger};

/// The parameters of an API request that matter.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Query<'a> {
    pub route: Route,
    pub key: Option<&'a str>,
    pub mobile: Option<&'a str>,
    /// The request as a proxy would echo it: the raw body, or the query
    /// string when the body is empty.
    pub raw: &'a str,
}

/// What the server sends back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// HTTP 200 with a JSON envelope.
    Json(String),
    /// This HTTP error status with an HTML page.
    Http(u16),
    /// HTTP 200 with a body that is not the envelope.
    Garbage {
        content_type: &'static str,
        body: String,
    },
    /// HTTP 200 with [`HUGE_BODY_BYTES`](super::script::HUGE_BODY_BYTES) of
    /// `a`, streamed.
    Huge,
    /// No answer: close the connection.
    Drop,
}

/// Decides the reply to a request and how to count it. `ledger` holds the
/// counts before this request; `rate_limited` comes from its arrival.
pub(crate) fn decide(
    config: &SandboxConfig,
    decryptor: &Decryptor,
    ledger: &Ledger,
    query: &Query<'_>,
    rate_limited: bool,
) -> (Reply, Counted) {
    let plaintext_on_encrypted = query.route == Route::QueryEncry
        && query
            .mobile
            .is_some_and(|m| m.len() == 11 && m.bytes().all(|b| b.is_ascii_digit()));
    let number = match admit(config, decryptor, ledger, query, rate_limited) {
        Ok(number) => number,
        Err(code) => {
            let counted = Counted {
                code: code.to_string(),
                number: None,
                billed: false,
                plaintext_on_encrypted,
                orderid: None,
            };
            return (Reply::Json(envelope::error(code)), counted);
        }
    };
    let attempt = ledger
        .stats()
        .numbers
        .get(&number)
        .map_or(0, |n| n.requests);
    let draw = Draw::new(config.seed, &number, attempt);
    let step = config
        .scripts
        .get(&number)
        .and_then(|script| script.step(attempt))
        .or_else(|| draw.fault(config))
        .unwrap_or(Step::Ok);
    let asked = Asked {
        config,
        ledger,
        query,
        number: &number,
        attempt,
    };
    let (reply, code, orderid) = asked.reply(step, &draw);
    let counted = Counted {
        billed: code == "0",
        code,
        number: Some(number),
        plaintext_on_encrypted,
        orderid,
    };
    (reply, counted)
}

/// The number a request asks about, or the code that refuses it: a wrong
/// key, the rate limit, the quota, a number that does not decrypt or is
/// not a valid one.
fn admit(
    config: &SandboxConfig,
    decryptor: &Decryptor,
    ledger: &Ledger,
    query: &Query<'_>,
    rate_limited: bool,
) -> Result<String, i64> {
    if query.key != Some(config.key.as_str()) {
        return Err(10001);
    }
    if rate_limited {
        return Err(10011);
    }
    if config
        .quota
        .is_some_and(|quota| ledger.stats().billed >= quota)
    {
        return Err(10012);
    }
    let number = match (query.route, query.mobile) {
        (_, None) => return Err(224804),
        (Route::Query, Some(mobile)) => mobile.to_owned(),
        (Route::QueryEncry, Some(mobile)) => decryptor.decrypt(mobile).ok_or(224804_i64)?,
    };
    if !super::is_valid_number(&number) {
        return Err(224804);
    }
    Ok(number)
}

/// One admitted request: what it asks, and how often the number was asked.
struct Asked<'a> {
    config: &'a SandboxConfig,
    ledger: &'a Ledger,
    query: &'a Query<'a>,
    number: &'a str,
    attempt: u64,
}

impl Asked<'_> {
    /// The reply for `step`, its `codes` key, and for a billed queryEncry
    /// answer its orderid.
    fn reply(&self, step: Step, draw: &Draw) -> (Reply, String, Option<String>) {
        match step {
            Step::Ok | Step::Api(0) => {
                let (body, code, orderid) = self.normal();
                (Reply::Json(body), code, orderid)
            }
            Step::Api(code) => (Reply::Json(envelope::error(code)), code.to_string(), None),
            Step::Http(status) => (Reply::Http(status), format!("http_{status}"), None),
            Step::Drop => (Reply::Drop, "drop".to_owned(), None),
            Step::Garbage => {
                let (normal_body, _, _) = self.normal();
                let (content_type, body) = envelope::garbage(&normal_body, draw.pick);
                let reply = Reply::Garbage { content_type, body };
                (reply, "garbage".to_owned(), None)
            }
            Step::Echo => (
                Reply::Json(envelope::echo(self.query.raw)),
                "echo".to_owned(),
                None,
            ),
            Step::Huge => (Reply::Huge, "huge".to_owned(), None),
        }
    }

    /// The number's own answer: its body, its `codes` key and, for a billed
    /// queryEncry answer, its orderid.
    fn normal(&self) -> (String, String, Option<String>) {
        match answer_at(self.number, self.config.epoch) {
            Ok(answer) => {
                let orderid = (self.query.route == Route::QueryEncry).then(|| {
                    self.ledger
                        .orderid(self.number, self.config.epoch, self.attempt)
                });
                let body = envelope::success(
                    self.query.route,
                    self.number,
                    &answer,
                    orderid.as_deref().unwrap_or_default(),
                );
                (body, "0".to_owned(), orderid)
            }
            Err(code) => (envelope::error(code), code.to_string(), None),
        }
    }
}

/// The random numbers of one attempt at one number.
struct Draw {
    /// Uniform in `[0, 1)`: which fault, if any.
    uniform: f64,
    /// Which kind of garbage body.
    pick: u8,
}

impl Draw {
    fn new(seed: u64, number: &str, attempt: u64) -> Self {
        let digest: [u8; 16] = Md5::digest(format!("{seed}:{number}:{attempt}")).into();
        let (high, rest) = digest.split_at(8);
        let high = u64::from_be_bytes(high.try_into().expect("8 of the digest's 16 bytes"));
        // The top 53 bits make an evenly spread f64 in [0, 1).
        let uniform = (high >> 11) as f64 / (1u64 << 53) as f64;
        Draw {
            uniform,
            pick: rest[0],
        }
    }

    /// The fault this draw lands on: each probability takes its share of
    /// `[0, 1)` in the order 224805, HTTP 500, HTTP 503, drop, garbage
    /// (shares beyond 1 are cut off).
    fn fault(&self, config: &SandboxConfig) -> Option<Step> {
        let faults = [
            (config.p_retry, Step::Api(224805)),
            (config.p_http_500, Step::Http(500)),
            (config.p_http_503, Step::Http(503)),
            (config.p_drop, Step::Drop),
            (config.p_garbage, Step::Garbage),
        ];
        let mut edge = 0.0;
        for (p, step) in faults {
            edge += p;
            if self.uniform < edge {
                return Some(step);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests;
