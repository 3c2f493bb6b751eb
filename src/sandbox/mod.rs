//! The built-in API simulator (DESIGN §5): a faithful stand-in for the Juhe
//! "手机在网时长" API on loopback, for `tenure sandbox`, `tenure enrich
//! --sandbox` and the tests.
//!
//! It serves both endpoints (GET or POST, parameters from the query string
//! or a form body), checks the key, decrypts `queryEncry`, answers
//! deterministically from the number ([`answer_for`]) and, with an epoch,
//! from the number and the epoch ([`answer_at`]: answers that change over
//! time, as DESIGN §7's risk signals need), and on request adds latency,
//! transient `224805`s, HTTP 500/503, dropped connections, garbage bodies,
//! a quota that runs out, a rate limit and per-number [`Script`]s (among
//! them the hostile `echo` and `huge`). It counts what it billed and how
//! fast requests came ([`Stats`], also at `GET /__stats`), so tests can
//! assert that nothing was paid twice and no second saw too many requests.
//!
//! It shares no code path with the client it referees: its own decryption
//! (`cipher`), its own paths (`route`), its own tenure table (`data`). A
//! mistake made twice would otherwise pass every test.
//!
//! The files: `config` (what it is told), `script` (per-number scripts),
//! `data` (the epoch-0 answers), `epoch` (how answers move on), `cipher`,
//! `route`, `envelope` (the bodies), `decide` (what one request gets),
//! `stats` (the counts), `server` (hyper). This file owns the lifecycle: a
//! background thread with its own single-threaded tokio runtime, stopped
//! when the [`Sandbox`] is dropped.

#![warn(missing_docs)]

mod cipher;
mod config;
mod data;
mod decide;
mod envelope;
mod epoch;
mod route;
mod script;
mod server;
mod stats;

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use tokio::sync::oneshot;

pub use config::{DEFAULT_KEY, DEFAULT_OPENID, SandboxConfig, parse_probability};
pub use data::{SimTenure, answer_for, is_valid_number};
pub use envelope::reason;
pub use epoch::{MAX_EPOCH, SimChange, answer_at, change_between};
pub use route::{QUERY, QUERY_ENCRY};
pub use script::{HUGE_BODY_BYTES, Script, Step, parse_script};
pub use stats::{NumberStats, Stats};

use cipher::Decryptor;
use server::Shared;

/// A running simulator. Dropping it stops the server and joins its thread.
pub struct Sandbox {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Sandbox {
    /// Binds `listen` (port 0 picks a free port) and serves on a background
    /// thread running its own tokio runtime. Returns once the socket is
    /// bound, so requests may be sent at once. Fails on a bind error, or
    /// with `InvalidInput` when a probability is outside `[0, 1]` or the
    /// epoch beyond [`MAX_EPOCH`].
    pub fn start(config: SandboxConfig, listen: SocketAddr) -> io::Result<Sandbox> {
        config
            .validate()
            .map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why))?;
        let listener = std::net::TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = {
            // `from_std` registers the socket with this runtime's reactor.
            let _context = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };

        // A fresh nonce per simulator: no two issue the same orderid.
        let nonce = fastrand::u64(..);
        let shared = Arc::new(Shared {
            decryptor: Decryptor::for_openid(&config.openid),
            ledger: Mutex::new(stats::Ledger::new(Instant::now(), config.seed, nonce)),
            config,
        });
        let (shutdown, stopped) = oneshot::channel::<()>();
        let serving = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("tenure-sandbox".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    tokio::spawn(server::serve(listener, serving));
                    // A send or a dropped sender both mean stop.
                    let _ = stopped.await;
                });
                // Dropping the runtime here cancels the accept loop and every
                // connection task, and closes the socket.
                drop(runtime);
            })?;
        Ok(Sandbox {
            addr,
            shared,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address it listens on (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL to point a client at: `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A snapshot of the counts so far.
    pub fn stats(&self) -> Stats {
        self.shared.ledger().stats().clone()
    }

    /// Blocks until the server stops, which it does not on its own: for
    /// `tenure sandbox`, which serves until it is killed.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            // The shutdown sender stays alive in `self`, so this returns
            // only if the server thread panicked.
            let _ = thread.join();
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // Fails only when the server thread is already gone.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // A panic on the server thread has already been reported there.
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}
