//! What `tenure sandbox` means: the simulator's settings and where it
//! listens.

use std::time::Duration;

use crate::cli::SandboxArgs;
use crate::sandbox::SandboxConfig;

/// `tenure sandbox`: the simulator's settings and where to listen. Only
/// assembles: clap's value parsers have checked every value (addresses,
/// probabilities, the epoch, scripts), and `Sandbox::start` validates again.
pub fn sandbox_config(args: SandboxArgs) -> (SandboxConfig, std::net::SocketAddr) {
    let config = SandboxConfig {
        key: args.key,
        openid: args.openid,
        latency: Duration::from_millis(args.latency_ms),
        jitter: Duration::from_millis(args.jitter_ms),
        p_retry: args.p_retry,
        p_http_500: args.p_http_500,
        p_http_503: args.p_http_503,
        p_drop: args.p_drop,
        p_garbage: args.p_garbage,
        quota: args.quota,
        rate_limit: args.rate_limit,
        seed: args.seed,
        // A number scripted twice keeps its last script.
        scripts: args.script.into_iter().collect(),
        epoch: args.epoch,
    };
    (config, args.listen)
}
