//! What the simulator is told to do: [`SandboxConfig`] (key, openid,
//! latency, fault probabilities, quota, rate limit, seed, epoch, and the
//! per-number [`Script`]s), and [`parse_probability`] for its flags.
//!
//! Pure: no I/O. The flags of `tenure sandbox` are turned into a
//! `SandboxConfig` by the command line layer; nothing here knows about clap.

use std::collections::HashMap;
use std::time::Duration;

use super::epoch::MAX_EPOCH;
use super::script::Script;

/// The key the sandbox accepts when none is given.
pub const DEFAULT_KEY: &str = "sandbox-key";

/// The openid whose AES key the sandbox decrypts `queryEncry` numbers with
/// when none is given.
pub const DEFAULT_OPENID: &str = "sandbox-openid";

/// Everything the simulator is told: who it accepts, how slow and how flaky
/// it is, and what it answers for particular numbers.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// The one API key accepted; any other (or none) gets `10001`.
    pub key: String,
    /// The account openid: `queryEncry` numbers are decrypted with its key.
    pub openid: String,
    /// Fixed delay before every API answer.
    pub latency: Duration,
    /// Extra delay before every API answer, uniform in `[0, jitter)`.
    pub jitter: Duration,
    /// Probability of a transient `224805 网络异常,请重试`.
    pub p_retry: f64,
    /// Probability of an HTTP 500 with an HTML body.
    pub p_http_500: f64,
    /// Probability of an HTTP 503 with an HTML body.
    pub p_http_503: f64,
    /// Probability of closing the connection without any answer.
    pub p_drop: f64,
    /// Probability of an HTTP 200 whose body is not the JSON envelope (an
    /// HTML page, truncated JSON, or nothing).
    pub p_garbage: f64,
    /// After this many billed answers every request gets `10012 请求超过次数限制`.
    pub quota: Option<u64>,
    /// More than this many API requests arriving within the trailing second
    /// get `10011 当前IP请求超过限制` (every arrival counts, refused or not).
    pub rate_limit: Option<u32>,
    /// Seeds the random faults and the jitter: the same seed and the same
    /// requests per number give the same faults, whatever the interleaving.
    pub seed: u64,
    /// Scripted answers, keyed by the plaintext number; a script overrides
    /// the random faults for the attempts it covers.
    pub scripts: HashMap<String, Script>,
    /// How far answers have moved on from [`answer_for`](super::answer_for):
    /// every answer is [`answer_at`](super::answer_at)`(number, epoch)`. At
    /// most [`MAX_EPOCH`].
    pub epoch: u64,
}

impl Default for SandboxConfig {
    /// The default key and openid, no latency, no faults, no limits, seed 0,
    /// epoch 0.
    fn default() -> Self {
        SandboxConfig {
            key: DEFAULT_KEY.to_owned(),
            openid: DEFAULT_OPENID.to_owned(),
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            p_retry: 0.0,
            p_http_500: 0.0,
            p_http_503: 0.0,
            p_drop: 0.0,
            p_garbage: 0.0,
            quota: None,
            rate_limit: None,
            seed: 0,
            scripts: HashMap::new(),
            epoch: 0,
        }
    }
}

impl SandboxConfig {
    /// Checks what the types cannot: every probability is within `[0, 1]`,
    /// the epoch at most [`MAX_EPOCH`]. The message names the offending
    /// field.
    pub fn validate(&self) -> Result<(), String> {
        let probabilities = [
            ("p_retry", self.p_retry),
            ("p_http_500", self.p_http_500),
            ("p_http_503", self.p_http_503),
            ("p_drop", self.p_drop),
            ("p_garbage", self.p_garbage),
        ];
        for (name, p) in probabilities {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!(
                    "{name} must be a probability within [0, 1], not {p}"
                ));
            }
        }
        if self.epoch > MAX_EPOCH {
            return Err(format!(
                "epoch must be at most {MAX_EPOCH}, not {}",
                self.epoch
            ));
        }
        Ok(())
    }
}

/// Parses a probability: a number within `[0, 1]` (`0.05`, `1`, `5e-2`).
/// Usable directly as a clap `value_parser`, which names the flag in front
/// of the message.
pub fn parse_probability(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Ok(_) => Err(format!(
            "{s} is not a probability: give a number from 0 to 1 (0.05 for 5%)"
        )),
        Err(_) => Err(format!(
            "{s:?} is not a number: give a probability from 0 to 1 (0.05 for 5%)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_probabilities() {
        assert_eq!(SandboxConfig::default().validate(), Ok(()));
        let config = SandboxConfig {
            p_drop: 1.5,
            ..SandboxConfig::default()
        };
        let error = config.validate().expect_err("1.5 is no probability");
        assert!(error.contains("p_drop"), "{error}");
        let config = SandboxConfig {
            p_retry: f64::NAN,
            ..SandboxConfig::default()
        };
        assert!(config.validate().is_err(), "NaN is no probability");
        let config = SandboxConfig {
            epoch: MAX_EPOCH + 1,
            ..SandboxConfig::default()
        };
        let error = config.validate().expect_err("beyond the last epoch");
        assert!(error.contains("epoch"), "{error}");
    }

    #[test]
    fn parses_probabilities_within_0_and_1() {
        for (text, p) in [
            ("0", 0.0),
            ("1", 1.0),
            ("0.05", 0.05),
            (" 5e-2 ", 0.05),
            ("1.0", 1.0),
        ] {
            assert_eq!(parse_probability(text), Ok(p), "{text:?}");
        }
        for (text, why) in [
            ("1.01", "not a probability"),
            ("-0.1", "not a probability"),
            ("NaN", "not a probability"),
            ("inf", "not a probability"),
            ("5%", "not a number"),
            ("", "not a number"),
        ] {
            let error = parse_probability(text).expect_err(text);
            assert!(error.contains(why), "{text:?}: {error}");
        }
    }
}
