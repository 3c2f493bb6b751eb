//! What one API request gets, in the documented order: a missing or wrong
//! key (`10001`), the rate limit (`10011`), the quota (`10012`), the number
//! (decrypted for `queryEncry`; `224804` when it is not a valid one), the
//! number's script step, a seeded random fault, else the deterministic
//! answer of [`data`](super::data).
//!
//! Pure: a function of the configuration, the counts so far and the request.
//! Random faults are drawn from MD5(seed, number, attempt), so a run is
//! reproducible whatever order concurrent requests arrive in.

use md5::{Digest, Md5};

use super::config::{SandboxConfig, Step};
use super::data;
use super::envelope;
use super::stats::{Stats, Tally};
use crate::api::Endpoint;
use crate::crypto::Cipher;

/// The parameters of an API request that matter.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Query<'a> {
    pub endpoint: Endpoint,
    pub key: Option<&'a str>,
    pub mobile: Option<&'a str>,
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
    /// No answer: close the connection.
    Drop,
}

/// Decides the reply to a request and how to count it. `stats` are the
/// counts before this request; `rate_limited` comes from its arrival.
pub(crate) fn decide(
    config: &SandboxConfig,
    cipher: &Cipher,
    stats: &Stats,
    query: &Query<'_>,
    rate_limited: bool,
) -> (Reply, Tally) {
    let plaintext_on_encrypted = query.endpoint == Endpoint::Encrypted
        && query
            .mobile
            .is_some_and(|m| m.len() == 11 && m.bytes().all(|b| b.is_ascii_digit()));
    let refuse = |code: i64| {
        let tally = Tally {
            code: code.to_string(),
            number: None,
            billed: false,
            plaintext_on_encrypted,
        };
        (Reply::Json(envelope::error(code)), tally)
    };

    if query.key != Some(config.key.as_str()) {
        return refuse(10001);
    }
    if rate_limited {
        return refuse(10011);
    }
    if config.quota.is_some_and(|quota| stats.billed >= quota) {
        return refuse(10012);
    }
    let number = match (query.endpoint, query.mobile) {
        (_, None) => return refuse(224804),
        (Endpoint::Plain, Some(mobile)) => mobile.to_owned(),
        (Endpoint::Encrypted, Some(mobile)) => match cipher.decrypt(mobile) {
            Some(number) => number,
            None => return refuse(224804),
        },
    };
    if !data::is_valid_number(&number) {
        return refuse(224804);
    }

    let attempt = stats.numbers.get(&number).map_or(0, |n| n.requests);
    let draw = Draw::new(config.seed, &number, attempt);
    let step = config
        .scripts
        .get(&number)
        .and_then(|script| script.step(attempt))
        .or_else(|| draw.fault(config))
        .unwrap_or(Step::Ok);

    let (reply, code) = match step {
        Step::Ok | Step::Api(0) => {
            let (body, code) = envelope::normal(query.endpoint, &number);
            (Reply::Json(body), code.to_string())
        }
        Step::Api(code) => (Reply::Json(envelope::error(code)), code.to_string()),
        Step::Http(status) => (Reply::Http(status), format!("http_{status}")),
        Step::Drop => (Reply::Drop, "drop".to_owned()),
        Step::Garbage => {
            let (normal_body, _) = envelope::normal(query.endpoint, &number);
            let (content_type, body) = envelope::garbage(&normal_body, draw.pick);
            (Reply::Garbage { content_type, body }, "garbage".to_owned())
        }
    };
    let tally = Tally {
        billed: code == "0",
        code,
        number: Some(number),
        plaintext_on_encrypted,
    };
    (reply, tally)
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
mod tests {
    use super::*;
    use crate::sandbox::config::parse_script;
    use crate::sandbox::stats::Ledger;
    use crate::secret::Secret;
    use std::time::Instant;

    /// Asks `query` with the right key, counting as the server does.
    struct Harness {
        config: SandboxConfig,
        cipher: Cipher,
        ledger: Ledger,
    }

    impl Harness {
        fn new(config: SandboxConfig) -> Self {
            let cipher = Cipher::new(&Secret::new(config.openid.clone()));
            Harness {
                ledger: Ledger::new(Instant::now(), config.seed),
                config,
                cipher,
            }
        }

        fn ask_with(
            &mut self,
            endpoint: Endpoint,
            key: Option<&str>,
            mobile: Option<&str>,
        ) -> Reply {
            let query = Query {
                endpoint,
                key,
                mobile,
            };
            let (reply, tally) = decide(
                &self.config,
                &self.cipher,
                self.ledger.stats(),
                &query,
                false,
            );
            self.ledger.record(&tally);
            reply
        }

        fn ask(&mut self, number: &str) -> Reply {
            let key = self.config.key.clone();
            self.ask_with(Endpoint::Plain, Some(&key), Some(number))
        }
    }

    fn api(code: i64) -> Reply {
        Reply::Json(envelope::error(code))
    }

    fn normal(number: &str) -> Reply {
        Reply::Json(envelope::normal(Endpoint::Plain, number).0)
    }

    #[test]
    fn checks_key_then_number() {
        let mut sandbox = Harness::new(SandboxConfig::default());
        assert_eq!(
            sandbox.ask_with(Endpoint::Plain, None, Some("13800138000")),
            api(10001)
        );
        assert_eq!(
            sandbox.ask_with(Endpoint::Plain, Some("nope"), Some("x")),
            api(10001)
        );
        assert_eq!(sandbox.ask("1380013800"), api(224804));
        assert_eq!(
            sandbox.ask_with(Endpoint::Plain, Some("sandbox-key"), None),
            api(224804)
        );
        assert_eq!(sandbox.ask("13800138000"), normal("13800138000"));
        let stats = sandbox.ledger.stats();
        assert_eq!((stats.billed, stats.numbers.len()), (1, 1));
    }

    #[test]
    fn decrypts_query_encry() {
        let mut sandbox = Harness::new(SandboxConfig::default());
        let ciphertext = sandbox.cipher.encrypt("13800138000");
        let reply = sandbox.ask_with(Endpoint::Encrypted, Some("sandbox-key"), Some(&ciphertext));
        assert_eq!(
            reply,
            Reply::Json(envelope::normal(Endpoint::Encrypted, "13800138000").0)
        );
        let reply = sandbox.ask_with(
            Endpoint::Encrypted,
            Some("sandbox-key"),
            Some("13800138000"),
        );
        assert_eq!(reply, api(224804));
        let other = Cipher::new(&Secret::new("someone-else".to_owned())).encrypt("13800138000");
        let reply = sandbox.ask_with(Endpoint::Encrypted, Some("sandbox-key"), Some(&other));
        assert_eq!(reply, api(224804));
        let stats = sandbox.ledger.stats();
        assert_eq!((stats.billed, stats.plaintext_on_encrypted), (1, 1));
    }

    #[test]
    fn quota_runs_out_after_billed_answers_only() {
        let mut sandbox = Harness::new(SandboxConfig {
            quota: Some(2),
            scripts: [parse_script("13900139000=224805,ok").expect("valid script")].into(),
            ..SandboxConfig::default()
        });
        assert_eq!(sandbox.ask("13900139000"), api(224805));
        assert_eq!(sandbox.ask("13900139000"), normal("13900139000"));
        assert_eq!(sandbox.ask("13800138000"), normal("13800138000"));
        assert_eq!(sandbox.ask("13700137000"), api(10012));
        assert_eq!(sandbox.ledger.stats().billed, 2);
    }

    #[test]
    fn scripts_run_then_the_normal_answer_returns() {
        let script = "13900139000=http_500,drop,garbage,224801,ok";
        let mut sandbox = Harness::new(SandboxConfig {
            p_retry: 1.0,
            scripts: [parse_script(script).expect("valid script")].into(),
            ..SandboxConfig::default()
        });
        let replies: Vec<Reply> = (0..6).map(|_| sandbox.ask("13900139000")).collect();
        assert_eq!(replies[0], Reply::Http(500));
        assert_eq!(replies[1], Reply::Drop);
        assert!(matches!(replies[2], Reply::Garbage { .. }));
        assert_eq!(replies[3], api(224801));
        assert_eq!(
            replies[4],
            normal("13900139000"),
            "the script overrides p_retry"
        );
        assert_eq!(replies[5], api(224805), "then p_retry = 1 applies again");
        let codes = &sandbox.ledger.stats().codes;
        assert_eq!(
            codes.keys().collect::<Vec<_>>(),
            ["0", "224801", "224805", "drop", "garbage", "http_500"]
        );
    }

    #[test]
    fn faults_follow_their_probabilities_and_the_seed() {
        let faults = |seed| {
            let mut sandbox = Harness::new(SandboxConfig {
                p_retry: 0.1,
                p_http_500: 0.1,
                p_http_503: 0.1,
                p_drop: 0.1,
                p_garbage: 0.1,
                seed,
                ..SandboxConfig::default()
            });
            for i in 0..5_000u32 {
                sandbox.ask(&format!("138{:08}", i % 1_000));
            }
            sandbox.ledger.stats().codes.clone()
        };
        let codes = faults(1);
        for kind in ["224805", "http_500", "http_503", "drop", "garbage"] {
            let count = codes[kind];
            assert!(
                (400..=600).contains(&count),
                "{kind}: {count} of 5000 ({codes:?})"
            );
        }
        assert_eq!(codes, faults(1), "the same seed gives the same faults");
        assert_ne!(codes, faults(2));
    }
}
