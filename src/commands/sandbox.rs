//! `tenure sandbox`: serve the simulator until stopped. The first stdout
//! line, `tenure sandbox listening on http://ADDR`, is a contract: scripts
//! and multi-process tests read the real address (port 0) from it.

use std::io::Write;
use std::net::SocketAddr;

use crate::exit::{Error, Exit};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::usage;

pub fn serve(config: SandboxConfig, listen: SocketAddr) -> Result<Exit, Error> {
    let key_is_default = config.key == crate::sandbox::DEFAULT_KEY;
    let epoch = config.epoch;
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
    if epoch > 0 {
        eprintln!(
            "tenure sandbox: answering as at epoch {epoch} (numbers reassigned, left, returned, ported, moved since epoch 0)"
        );
    }
    sandbox.wait();
    Ok(Exit::Success)
}
