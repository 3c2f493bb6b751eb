//! What the simulator is told to do: [`SandboxConfig`] (key, openid,
//! latency, fault probabilities, quota, rate limit, seed) and the per-number
//! [`Script`]s parsed from `NUMBER=STEP,STEP,...`.
//!
//! Pure: no I/O. The flags of `tenure sandbox` are turned into a
//! `SandboxConfig` by the command line layer; nothing here knows about clap.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use super::data;

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
}

impl Default for SandboxConfig {
    /// The default key and openid, no latency, no faults, no limits, seed 0.
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
        }
    }
}

impl SandboxConfig {
    /// Checks what the types cannot: every probability is within `[0, 1]`.
    /// The message names the offending field.
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
        Ok(())
    }
}

/// One scripted answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The number's normal deterministic answer (`ok`, or `0`).
    Ok,
    /// An API error envelope with this `error_code` (`224805`, `10012`, any
    /// integer), with the document's reason when it has one.
    Api(i64),
    /// This HTTP status (400–599) with an HTML body (`http_500`).
    Http(u16),
    /// The connection closed without an answer (`drop`).
    Drop,
    /// HTTP 200 with a body that is not the JSON envelope (`garbage`).
    Garbage,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Ok => f.write_str("ok"),
            Step::Api(code) => write!(f, "{code}"),
            Step::Http(status) => write!(f, "http_{status}"),
            Step::Drop => f.write_str("drop"),
            Step::Garbage => f.write_str("garbage"),
        }
    }
}

/// A scripted sequence of answers for one number, parsed by
/// [`parse_script`] from `NUMBER=STEP,STEP,...`.
///
/// Steps: `ok` (the normal deterministic answer; `0` means the same), an API
/// error code (`224805`, `224801`, `10001`, `10012`, any integer), an HTTP
/// status written `http_500` (400–599), `drop`, `garbage`. A trailing `*` on
/// the last step repeats it forever (`224805*`); otherwise, once the steps
/// run out, the number gets its normal answer again (random faults
/// included). Step `i` answers the number's `i`-th request that reaches the
/// number stage (a request refused earlier, for its key, the rate limit or
/// the quota, uses no step).
///
/// Examples: `13800138000=224805,224805,ok`,
/// `13900139000=http_500,drop,garbage,ok`, `13700137000=224805*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    steps: Vec<Step>,
    repeat_last: bool,
}

impl Script {
    /// The steps, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Whether the last step repeats forever.
    pub fn repeats_last(&self) -> bool {
        self.repeat_last
    }

    /// The step for the number's `attempt`-th request (from 0), or `None`
    /// once the script has run out.
    pub fn step(&self, attempt: u64) -> Option<Step> {
        let index = usize::try_from(attempt).unwrap_or(usize::MAX);
        match self.steps.get(index) {
            Some(step) => Some(*step),
            None if self.repeat_last => self.steps.last().copied(),
            None => None,
        }
    }
}

impl fmt::Display for Script {
    /// The steps as written: `224805,ok` or `224805*`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, step) in self.steps.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{step}")?;
        }
        if self.repeat_last {
            f.write_str("*")?;
        }
        Ok(())
    }
}

/// Parses `NUMBER=STEP,STEP,...` (see [`Script`]) into the plaintext number
/// and its script. Usable directly as a clap `value_parser`.
pub fn parse_script(s: &str) -> Result<(String, Script), String> {
    let (number, steps) = s
        .split_once('=')
        .ok_or_else(|| format!("script {s:?} has no '=': write NUMBER=STEP,STEP,..."))?;
    let number = number.trim();
    if !data::is_valid_number(number) {
        return Err(format!(
            "script {s:?}: {number:?} is not an 11-digit mobile number (1[3-9] then 9 digits)"
        ));
    }
    let words: Vec<&str> = steps.split(',').map(str::trim).collect();
    let last = words.len() - 1; // split always yields at least one item
    let mut script = Script {
        steps: Vec::with_capacity(words.len()),
        repeat_last: false,
    };
    for (i, word) in words.iter().enumerate() {
        let word = match word.strip_suffix('*') {
            Some(repeated) if i == last => {
                script.repeat_last = true;
                repeated.trim_end()
            }
            Some(_) => {
                return Err(format!(
                    "script {s:?}: only the last step may repeat with '*', not step {} ({word:?})",
                    i + 1
                ));
            }
            None => word,
        };
        let step =
            parse_step(word).map_err(|why| format!("script {s:?}: step {}: {why}", i + 1))?;
        script.steps.push(step);
    }
    Ok((number.to_owned(), script))
}

fn parse_step(word: &str) -> Result<Step, String> {
    let lower = word.to_ascii_lowercase();
    match lower.as_str() {
        "" => return Err("empty step".to_owned()),
        "ok" | "0" => return Ok(Step::Ok),
        "drop" => return Ok(Step::Drop),
        "garbage" => return Ok(Step::Garbage),
        _ => {}
    }
    if let Some(status) = lower
        .strip_prefix("http_")
        .or_else(|| lower.strip_prefix("http"))
    {
        return match status.parse::<u16>() {
            Ok(status @ 400..=599) => Ok(Step::Http(status)),
            _ => Err(format!(
                "{word:?} is not an HTTP error status: write http_400 to http_599"
            )),
        };
    }
    word.parse::<i64>().map(Step::Api).map_err(|_| {
        format!("{word:?} is not a step: write ok, an API error code (224805), http_500, drop or garbage")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> (String, Vec<Step>, bool) {
        let (number, script) = parse_script(s).expect("the test script is valid");
        (number, script.steps().to_vec(), script.repeats_last())
    }

    #[test]
    fn parses_the_documented_examples() {
        assert_eq!(
            parse("13800138000=224805,224805,ok"),
            (
                "13800138000".to_owned(),
                vec![Step::Api(224805), Step::Api(224805), Step::Ok],
                false
            )
        );
        assert_eq!(
            parse("13900139000=http_500,drop,garbage,ok").1,
            vec![Step::Http(500), Step::Drop, Step::Garbage, Step::Ok]
        );
        assert_eq!(parse("13700137000=224805*").1, vec![Step::Api(224805)]);
        assert!(parse("13700137000=224805*").2);
    }

    #[test]
    fn accepts_spacing_case_and_aliases() {
        assert_eq!(
            parse(" 13800138000 = OK , HTTP503 ,0, -1 , 10012 *").1,
            vec![
                Step::Ok,
                Step::Http(503),
                Step::Ok,
                Step::Api(-1),
                Step::Api(10012)
            ]
        );
    }

    #[test]
    fn steps_run_out_or_repeat() {
        let (_, once) = parse_script("13800138000=224805,ok").expect("valid script");
        assert_eq!(once.step(0), Some(Step::Api(224805)));
        assert_eq!(once.step(1), Some(Step::Ok));
        assert_eq!(once.step(2), None);
        let (_, forever) = parse_script("13800138000=drop,224805*").expect("valid script");
        assert_eq!(forever.step(0), Some(Step::Drop));
        assert_eq!(forever.step(1_000_000), Some(Step::Api(224805)));
        assert_eq!(forever.step(u64::MAX), Some(Step::Api(224805)));
    }

    #[test]
    fn displays_as_written() {
        let (_, script) = parse_script("13800138000=HTTP500,Drop,224805*").expect("valid script");
        assert_eq!(script.to_string(), "http_500,drop,224805*");
    }

    #[test]
    fn rejects_with_a_reason() {
        let cases = [
            ("13800138000", "no '='"),
            ("1380013800=ok", "not an 11-digit mobile number"),
            ("12800138000=ok", "not an 11-digit mobile number"),
            ("=ok", "not an 11-digit mobile number"),
            ("13800138000=", "step 1: empty step"),
            ("13800138000=ok,,ok", "step 2: empty step"),
            ("13800138000=ok,", "step 2: empty step"),
            ("13800138000=224805*,ok", "only the last step may repeat"),
            ("13800138000=*", "step 1: empty step"),
            ("13800138000=http_200", "not an HTTP error status"),
            ("13800138000=http_abc", "not an HTTP error status"),
            ("13800138000=retry", "\"retry\" is not a step"),
            ("13800138000=2.5", "is not a step"),
        ];
        for (input, expected) in cases {
            let error = parse_script(input).expect_err(input);
            assert!(error.contains(expected), "{input:?}: {error}");
        }
    }

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
    }
}
