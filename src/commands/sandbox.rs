//! `tenure sandbox`: serve the simulator until stopped.

use std::io::Write;
use std::net::SocketAddr;

use crate::exit::{Error, Exit};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::usage;

pub fn serve(config: SandboxConfig, listen: SocketAddr) -> Result<Exit, Error> {
    let key_is_default = config.key == crate::sandbox::DEFAULT_KEY;
    let sandbox =
        Sandbox::start(config, listen).map_err(|err| usage!("cannot listen on {listen}: {err}"))?;
    // The first line is the contract with scripts and tests: the address.
    let mut stdout = std::io::stdout();
    writeln!(stdout, "tenure sandbox listening on {}", sandbox.url())
        .and_then(|()| stdout.flush())
        .map_err(|err| anyhow::anyhow!("writing to stdout: {err}"))?;
    if key_is_default {
        eprintln!(
            "tenure sandbox: key {:?}, openid {:?}; try: JUHE_KEY={} tenure enrich IN.csv -o OUT.csv --endpoint {}",
            crate::sandbox::DEFAULT_KEY,
            crate::sandbox::DEFAULT_OPENID,
            crate::sandbox::DEFAULT_KEY,
            sandbox.url()
        );
    }
    sandbox.wait();
    Ok(Exit::Success)
}
