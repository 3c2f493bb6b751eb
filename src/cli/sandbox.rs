//! `tenure sandbox`'s flags: where the simulator listens, its key and
//! openid, latency, faults, quota, epoch and scripts. Types only: the
//! simulator's own parsers (`crate::sandbox`) type the values.

use clap::Args as ClapArgs;

#[derive(Debug, ClapArgs)]
pub struct SandboxArgs {
    /// The address to serve on; port 0 picks a free one.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "127.0.0.1:8080",
        long_help = "The address to serve on, like 127.0.0.1:8080; port 0 picks a free \
one. The first line on standard output is always `tenure sandbox listening on \
http://ADDR` with the real address, for scripts and tests to read."
    )]
    pub listen: std::net::SocketAddr,

    /// The key the simulator accepts.
    #[arg(long, default_value = crate::sandbox::DEFAULT_KEY)]
    pub key: String,

    /// The openid whose key decrypts queryEncry numbers.
    #[arg(long, default_value = crate::sandbox::DEFAULT_OPENID)]
    pub openid: String,

    /// Milliseconds every answer waits.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,

    /// Up to this many more milliseconds, at random.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub jitter_ms: u64,

    /// Probability (0 to 1) of a transient 224805 (网络异常,请重试).
    #[arg(long = "p-224805", value_name = "P", default_value_t = 0.0,
        value_parser = crate::sandbox::parse_probability)]
    pub p_retry: f64,

    /// Probability (0 to 1) of an HTTP 500.
    #[arg(long = "p-500", value_name = "P", default_value_t = 0.0,
        value_parser = crate::sandbox::parse_probability)]
    pub p_http_500: f64,

    /// Probability (0 to 1) of an HTTP 503.
    #[arg(long = "p-503", value_name = "P", default_value_t = 0.0,
        value_parser = crate::sandbox::parse_probability)]
    pub p_http_503: f64,

    /// Probability (0 to 1) of dropping the connection without an answer.
    #[arg(long, value_name = "P", default_value_t = 0.0,
        value_parser = crate::sandbox::parse_probability)]
    pub p_drop: f64,

    /// Probability (0 to 1) of a body that is not the API's JSON.
    #[arg(long, value_name = "P", default_value_t = 0.0,
        value_parser = crate::sandbox::parse_probability)]
    pub p_garbage: f64,

    /// After N billed answers, answer 10012 (quota exhausted).
    #[arg(long, value_name = "N")]
    pub quota: Option<u64>,

    /// Answer 10011 to requests beyond N in the trailing second.
    #[arg(long, value_name = "N")]
    pub rate_limit: Option<u32>,

    /// The seed of the injected faults, so that a run is reproducible.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,

    /// Answer as at epoch N: later epochs reassign, retire, port and move numbers.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 0,
        value_parser = clap::value_parser!(u64).range(0..=crate::sandbox::MAX_EPOCH),
        long_help = "Answer as the API would N epochs (say, months) later, deterministically, \
so that runs a \"month\" apart show what changed. Epoch 0 gives the usual answers; each \
later epoch starts from the previous one's and, of the numbers with a record, reassigns \
about 5% (their tenure drops to 03), retires 5% (to 99), brings back 10% of those at 99 (to \
a bucket), ports 5% to another carrier and moves 5% to another city, at most one change \
per number per epoch, decided by hashing the number with the epoch. At most 1000.\n\n\
Example: tenure sandbox --listen 127.0.0.1:0 --epoch 1"
    )]
    pub epoch: u64,

    /// Scripted answers for one number: NUMBER=STEP,STEP,… (repeatable).
    #[arg(
        long,
        value_name = "NUMBER=STEPS",
        value_parser = crate::sandbox::parse_script,
        long_help = "Scripted answers for one number, in order: NUMBER=STEP,STEP,… where a \
step is `ok`, an API error code (224805, 224801, 10001…), `http_500` (any 400–599), \
`drop` (close the connection), `garbage` (a body that is not the JSON), or one of two \
hostile answers: `echo` (HTTP 200 with error_code 224808 whose reason repeats the raw \
request body, key and number included, as a misconfigured proxy does) and `huge` (HTTP \
200 with a 1 GiB body of `a`s, streamed, never held in memory). A trailing `*` repeats \
the last step forever. After the steps, the number answers normally. Example: --script \
13800138000=224805,224805,ok --script 13900139000=echo,huge*"
    )]
    pub script: Vec<(String, crate::sandbox::Script)>,
}
