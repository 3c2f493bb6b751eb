//! Asking the API about one number: the HTTP request, and the retries.
//!
//! One `reqwest::blocking::Client` is shared by all workers; it pools
//! connections. Every request is a form-encoded POST of `key` and `mobile`:
//! the key never enters a URL, where logs, proxies and error messages would
//! keep it. Each attempt, retries included, waits for the run's [`Gate`]
//! (the rate limit, the lease, the budget).

use std::io::Read;
use std::time::{Duration, Instant};

use crate::api::{self, Endpoint, Failure, Reply, Verdict};
use crate::crypto::Cipher;
use crate::number::Number;
use crate::redact::Redactor;
use crate::secret::Secret;
use crate::stop::Stop;

/// Exponential backoff with full jitter: before retry `n` (from 0), wait a
/// uniformly random time up to `min(cap, base * 2^n)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    pub fn ceiling(&self, retry: u32) -> Duration {
        self.base
            .saturating_mul(2u32.saturating_pow(retry.min(31)))
            .min(self.cap)
    }

    /// A uniformly random wait in `[0, ceiling(retry)]`: full jitter, so
    /// that workers that failed together do not retry together.
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(retry).as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(fastrand::u64(0..=ceiling))
    }
}

/// How many times to ask, and how long to wait between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first request, for transient failures.
    pub retries: u32,
    pub backoff: Backoff,
}

/// How a number's requests ended: a value the caller acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Asked {
    /// A final answer (success or row answer).
    Answered(Reply),
    /// Every attempt failed transiently; the last failure.
    Exhausted(Failure),
    /// A fatal answer: no request can succeed, the run must stop.
    Fatal(Failure),
    /// The budget allowed no (further) request.
    OverBudget,
    /// The run stopped before an answer came.
    Abandoned,
}

/// What the run decides before each request (the rate, the lease, the
/// budget): a permit to send it now, or why not.
pub trait Gate {
    fn admit(&self, stop: &Stop) -> Admit;
}

/// A gate's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Send now. `reserved`: a budget reservation that the request's ledger
    /// entry releases.
    Go { started: Instant, reserved: bool },
    /// The budget allows no request.
    OverBudget,
    /// The run stops.
    Stopped,
}

/// One request as it goes, told to the caller as it happens (for the
/// counts, the ledger, the latency and the API's slow-down).
#[derive(Debug)]
pub enum Attempt<'a> {
    /// A request is about to go out, with its permit.
    Sending {
        /// Not the number's first request.
        retry: bool,
    },
    /// It came back (or failed) after `elapsed`.
    Done {
        verdict: &'a Verdict,
        elapsed: Duration,
        /// It held a budget reservation (see [`Admit::Go`]).
        reserved: bool,
    },
}

/// The API client of one run.
pub struct Client {
    http: reqwest::blocking::Client,
    url: String,
    key: Secret,
    cipher: Option<Cipher>,
    endpoint: Endpoint,
}

impl Client {
    /// `base` is the API base URL (`https://v.juhe.cn`); with a cipher the
    /// encrypted endpoint is used.
    pub fn new(
        base: &str,
        key: Secret,
        cipher: Option<Cipher>,
        timeout: Duration,
    ) -> Result<Client, reqwest::Error> {
        install_crypto_provider();
        let endpoint = if cipher.is_some() {
            Endpoint::Encrypted
        } else {
            Endpoint::Plain
        };
        let mut builder = reqwest::blocking::Client::builder()
            // A redirect would carry the form, key and number included, to
            // another host (307/308), or drop it (301/302) and earn a
            // misleading 10001. A 3xx is fatal instead (see `api`).
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("tenure/", env!("CARGO_PKG_VERSION")));
        if is_loopback(base) {
            // This machine (the sandbox): never through an HTTP_PROXY, which
            // would see the numbers and the key in clear.
            builder = builder.no_proxy();
        }
        let http = builder.build()?;
        Ok(Client {
            http,
            url: format!("{}{}", base.trim_end_matches('/'), endpoint.path()),
            key,
            cipher,
            endpoint,
        })
    }

    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    /// One request, classified, its texts redacted (see `redact`). Never
    /// retries.
    pub fn query(&self, number: &Number) -> Verdict {
        let mobile = match &self.cipher {
            Some(cipher) => cipher.encrypt(number.as_str()),
            None => number.as_str().to_owned(),
        };
        let secrets = [self.key.expose(), number.as_str(), mobile.as_str()];
        let redactor = Redactor::new(&secrets);
        self.send(&mobile).clean_texts(|text| redactor.clean(text))
    }

    /// Sends one request and classifies what comes back. At most
    /// `api::MAX_BODY` bytes (and one more, to tell) of the body are read.
    fn send(&self, mobile: &str) -> Verdict {
        // `.form()` percent-encodes once: the Base64 `+` travels as `%2B`.
        let sent = self
            .http
            .post(&self.url)
            .form(&[("key", self.key.expose()), ("mobile", mobile)])
            .send();
        let response = match sent {
            Ok(response) => response,
            Err(err) => return api::classify_transport(err.is_timeout(), describe(err)),
        };
        let status = response.status().as_u16();
        let mut body = Vec::with_capacity(1024);
        let limit = api::MAX_BODY as u64 + 1;
        match response.take(limit).read_to_end(&mut body) {
            Ok(_) => api::classify_response(status, &body),
            Err(err) => {
                let timed_out = err.kind() == std::io::ErrorKind::TimedOut
                    || err
                        .get_ref()
                        .and_then(|inner| inner.downcast_ref::<reqwest::Error>())
                        .is_some_and(reqwest::Error::is_timeout);
                api::classify_transport(timed_out, describe_io(&err))
            }
        }
    }

    /// Asks until a final answer, at most `1 + retries` requests, each
    /// after the gate admits it, telling `observe` about each (the caller
    /// slows the limiter down on a 10011). Returns a fatal answer
    /// to the caller, who decides to stop the run.
    pub fn ask(
        &self,
        number: &Number,
        gate: &dyn Gate,
        stop: &Stop,
        policy: RetryPolicy,
        observe: &mut dyn FnMut(&Attempt),
    ) -> Asked {
        let mut last = None;
        for attempt in 0..=policy.retries {
            if attempt > 0 && !stop.sleep(policy.backoff.delay(attempt - 1)) {
                return Asked::Abandoned;
            }
            let (started, reserved) = match gate.admit(stop) {
                Admit::Go { started, reserved } => (started, reserved),
                Admit::OverBudget => return Asked::OverBudget,
                Admit::Stopped => return Asked::Abandoned,
            };
            observe(&Attempt::Sending { retry: attempt > 0 });
            let verdict = self.query(number);
            observe(&Attempt::Done {
                verdict: &verdict,
                elapsed: started.elapsed(),
                reserved,
            });
            match verdict {
                Verdict::Final(reply) => return Asked::Answered(reply),
                Verdict::Fatal(failure) => return Asked::Fatal(failure),
                Verdict::SlowDown(failure) | Verdict::Retry(failure) => last = Some(failure),
            }
        }
        Asked::Exhausted(last.expect("at least one attempt ran and failed"))
    }
}

/// Whether a base URL names this machine: `localhost` or a loopback
/// address. An unparsable URL is not loopback.
pub fn is_loopback(base: &str) -> bool {
    match url::Url::parse(base).ok().as_ref().and_then(url::Url::host) {
        Some(url::Host::Domain(host)) => host.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// A transport error as one line, without the URL (reqwest's `Display`
/// includes it) and with the cause chain (which its `Display` omits).
fn describe(err: reqwest::Error) -> String {
    let err = err.without_url();
    let mut message = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// A failure while reading the body, as one line with its causes.
fn describe_io(err: &std::io::Error) -> String {
    let mut message = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    message
}

/// reqwest is built with rustls and no provider of its own, to avoid the
/// large aws-lc C build: install ring's, once per process.
fn install_crypto_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // An error means another provider is installed already: fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let backoff = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        let ceilings: Vec<u128> = (0..6).map(|n| backoff.ceiling(n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.ceiling(u32::MAX), backoff.cap);
        for n in 0..6 {
            assert!(backoff.delay(n) <= backoff.ceiling(n));
        }
    }

    #[test]
    fn loopback_is_recognised() {
        assert!(is_loopback("http://127.0.0.1:8080"));
        assert!(is_loopback("http://localhost:1"));
        assert!(is_loopback("http://[::1]:1"));
        assert!(!is_loopback("https://v.juhe.cn"));
        assert!(!is_loopback("http://10.0.0.1"));
        assert!(!is_loopback("not a url"));
    }

    #[test]
    fn an_https_client_builds_without_openssl() {
        let client = Client::new(
            "https://v.juhe.cn/",
            Secret::new("k".to_owned()),
            None,
            Duration::from_secs(1),
        )
        .expect("rustls with ring builds a client");
        assert_eq!(client.url, "https://v.juhe.cn/mobileOnline/query");
    }
}
