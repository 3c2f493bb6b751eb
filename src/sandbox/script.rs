//! Per-number [`Script`]s, parsed from `NUMBER=STEP,STEP,...`: the faults a
//! test wants exactly where it wants them, including the hostile ones no
//! random draw gives (`echo`, `huge`).
//!
//! Pure: no I/O, and nothing here knows about clap ([`parse_script`] is
//! only shaped so that it can be a `value_parser`).

use std::fmt;

use super::data;

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
    /// HTTP 200 with an error envelope, `error_code` 224808, whose `reason`
    /// is the raw request body (or, when there is none, the query string),
    /// key and mobile included, as a misconfigured proxy answers (`echo`).
    Echo,
    /// HTTP 200 with a body of [`HUGE_BODY_BYTES`] (1 GiB) of `a`, streamed
    /// as the client reads it and never held by the sandbox (`huge`).
    Huge,
}

/// The length of the `huge` step's body: 1 GiB.
pub const HUGE_BODY_BYTES: u64 = 1 << 30;

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Ok => f.write_str("ok"),
            Step::Api(code) => write!(f, "{code}"),
            Step::Http(status) => write!(f, "http_{status}"),
            Step::Drop => f.write_str("drop"),
            Step::Garbage => f.write_str("garbage"),
            Step::Echo => f.write_str("echo"),
            Step::Huge => f.write_str("huge"),
        }
    }
}

/// A scripted sequence of answers for one number, parsed by
/// [`parse_script`] from `NUMBER=STEP,STEP,...`.
///
/// Steps: `ok` (the normal deterministic answer; `0` means the same), an API
/// error code (`224805`, `224801`, `10001`, `10012`, any integer), an HTTP
/// status written `http_500` (400–599), `drop`, `garbage`, and two hostile
/// ones: `echo` (a 224808 whose `reason` is the raw request, key and number
/// included) and `huge` (1 GiB of `a`, streamed). A trailing `*` on
/// the last step repeats it forever (`224805*`); otherwise, once the steps
/// run out, the number gets its normal answer again (random faults
/// included). Step `i` answers the number's `i`-th request that reaches the
/// number stage (a request refused earlier, for its key, the rate limit or
/// the quota, uses no step).
///
/// Examples: `13800138000=224805,224805,ok`,
/// `13900139000=http_500,drop,garbage,ok`, `13700137000=224805*`,
/// `13600136000=echo,huge,ok`.
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
        "echo" => return Ok(Step::Echo),
        "huge" => return Ok(Step::Huge),
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
        format!("{word:?} is not a step: write ok, an API error code (224805), http_500, drop, garbage, echo or huge")
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
        assert_eq!(
            parse("13600136000=echo,HUGE,ok").1,
            vec![Step::Echo, Step::Huge, Step::Ok]
        );
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
        let (_, script) = parse_script("13800138000=Echo,huge*").expect("valid script");
        assert_eq!(script.to_string(), "echo,huge*");
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
}
