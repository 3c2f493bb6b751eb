//! PLACEHOLDER, replaced at merge by the rate helper's `share` (ROUND2.md):
//! the rate-group protocol math of DESIGN §6, called by the store's
//! heartbeat inside one serialised transaction per tick.
//!
//! Only the types and constants are the contract; this [`plan`] grants every
//! run its own `--qps` and does no sharing at all. Pure: no I/O.

use std::time::Duration;

/// A run sends only while its lease is younger than this.
pub const LEASE: Duration = Duration::from_secs(2);
/// Claims of a run whose lease is older than this are taken over.
pub const TAKEOVER: Duration = Duration::from_secs(30);
/// The lease renewal period.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// The limiter's window, slack included.
pub const WINDOW_MS: i64 = 1020;
/// How long a lowered grant still counts at its old value.
pub const HOLD_MS: i64 = 1500;

/// One run of a rate group as the store's runs table holds it (ms = store
/// clock).
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    pub run: String,
    /// Its `--qps`.
    pub qps: u32,
    /// Requests/s it could use now (`f64::INFINITY` when saturated).
    pub demand: f64,
    /// Its published share.
    pub granted: u32,
    /// Its grant before its last lowering.
    pub held: u32,
    /// Until then others count it at `max(granted, held)`.
    pub held_until_ms: i64,
    /// Last lease renewal.
    pub heartbeat_ms: i64,
    /// Finished: counts only through `held`/`held_until_ms`.
    pub ended: bool,
}

/// What a member publishes after a tick.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The smallest qps among live members (me included).
    pub q: u32,
    /// My new share, to publish.
    pub granted: u32,
    /// To publish (unchanged unless lowering).
    pub held: u32,
    pub held_until_ms: i64,
    /// My qps is the one that sets Q below others' (say so once).
    pub lowered_q: bool,
}

/// PLACEHOLDER: grants `me` its own qps, whoever else is in the group.
pub fn plan(me: &Member, _others: &[Member], _now_ms: i64) -> Plan {
    Plan {
        q: me.qps,
        granted: me.qps,
        held: me.held,
        held_until_ms: me.held_until_ms,
        lowered_q: false,
    }
}
