//! The rate group's arithmetic (DESIGN §6): how runs that share a store and
//! a rate group split one quota `Q` among themselves, and why together they
//! never start more than `Q` requests in any one-second window.
//!
//! Pure: the store calls [`plan`] inside its heartbeat transaction with the
//! group's rows as they stand, publishes the result in the same
//! transaction, and applies it to the run's limiter. No I/O, no clock: times
//! are milliseconds of the store's clock, passed in.
//!
//! # The protocol
//!
//! Every run has one row: its `--qps`, its demand (requests per second it
//! could use now, infinite when saturated), its published grant, the grant
//! it held before its last lowering (`held`, counted until `held_until_ms`),
//! its last heartbeat, and whether it ended. Every [`HEARTBEAT`] each run
//! takes one serialised transaction: read every row of the group, call
//! [`plan`], write its own row (`granted`, `held`, `held_until_ms`,
//! `heartbeat_ms = now`, its `demand` and `qps`), commit.
//!
//! - **Q** is the smallest `--qps` among live runs (a live run has not
//!   ended and renewed its lease within [`LEASE`]).
//! - **Targets**: `Q` water-filled over the live runs' demands in whole
//!   requests per second: each gets up to its demand, what one cannot use
//!   goes to the others, and what nobody asked for is spread evenly;
//!   leftover units go to the lowest run ids.
//! - **Counted**: what the others must assume a run may still be sending:
//!   `max(granted, held)` while `now < held_until_ms`, else `granted`; only
//!   `held` (until `held_until_ms`) for a run that ended; and 0 for a run
//!   whose heartbeat is older than [`LEASE`] + [`HOLD_MS`].
//! - **Lowering** (target below the current grant) is always allowed: the
//!   run applies it to its limiter *before* it commits, and publishes its
//!   previous claim as `held` until `now + HOLD_MS`.
//! - **Raising** goes only into room: the new grant is at most
//!   `Q - Σ counted(others)`, and the run applies it only *after* the
//!   commit. A run that cannot raise keeps what it has.
//! - **Leaving**: a run that ends stops starting requests, then publishes
//!   `plan` of its row with `ended = true` (grant 0, its claim held for
//!   [`HOLD_MS`]). A run that dies simply stops renewing.
//! - **The lease**: a run starts requests only while its lease is younger
//!   than [`LEASE`], measured on its own clock from the *start* of its last
//!   successful heartbeat (which is no later than the store's `now` of that
//!   heartbeat). A run whose own heartbeat is older than `LEASE + HOLD_MS`
//!   when it renews has been counted as 0 by the others: it rejoins from a
//!   grant of 0.
//!
//! One heartbeat, with `limiter` the run's `limiter::Limiter`:
//!
//! ```text
//! started = Instant::now()                    // the lease counts from here
//! begin; read the group's rows; me.demand = limiter.demand()
//! plan = share::plan(&me, &others, now_ms)    // now_ms: the store's clock
//! if plan.granted < applied { limiter.set_share(plan.granted) }  // lower first
//! write my row (granted, held, held_until_ms, heartbeat_ms = now_ms, demand, qps)
//! commit                                      // on failure: no renewal
//! limiter.set_share(plan.granted)             // raise after
//! limiter.renewed(started + LEASE)
//! ```
//!
//! A new run's row starts with `granted = 0`, `held = 0`: it sends nothing
//! until the others have lowered and their held claims have expired, so a
//! run that joins never pushes the sum past `Q` (DESIGN §6: "starts sending
//! only once the others have made room").
//!
//! # Why the group never passes Q
//!
//! Each run's limiter admits a start at `t` only if fewer than its applied
//! grant `g(t)` of its own starts lie in the [`WINDOW_MS`] before `t`. So
//! a run's starts in any one-second window number at most the grant it had
//! applied at its last start in that window. Call a run's *claim* at store
//! time `T` what the others count for it then (`counted` above).
//!
//! 1. *A claim covers every start of the second before it.* A run's applied
//!    grant is never above its published `granted`: raises are applied only
//!    after the commit that publishes them, and the others read rows only
//!    after commits. After a lowering in a transaction that read `now = L`,
//!    the old grant is counted until `L + HOLD_MS`; every start under it
//!    came before the commit (the lowering is applied before), a moment
//!    after `L`. A one-second window that ends after `L + HOLD_MS` began
//!    after `L + 500 ms`: it holds no start under the old grant unless the
//!    transaction took longer than that. A run last renewed at `H` starts
//!    nothing after `H + LEASE` (its lease counts from before `H`), and is
//!    counted as 0 only from `H + LEASE + HOLD_MS`. An ended run started
//!    nothing after publishing its end, and is counted through `held` for
//!    `HOLD_MS` after it.
//! 2. *Claims never sum past Q.* Between transactions claims only shrink
//!    (holds expire, leases lapse). A transaction changes one row: lowering
//!    keeps that run's claim where it was (`held`); raising keeps
//!    `Σ counted(others) + granted ≤ Q`, and `Σ counted(others) + held ≤ Q`
//!    because the claim before the transaction fitted.
//!
//! So the starts of any one-second window ending at `t` number at most
//! `Σ claims(t) ≤ Q`. What the 500 ms of `HOLD_MS` beyond a second are for:
//! the length of a transaction (a lowering is applied within it, after
//! `now` was read), and the difference in network delay between two runs'
//! requests on their way to the API (each run's own jitter is the
//! limiter's 20 ms of slack).
//!
//! The arithmetic assumes the store's clock does not step backwards by more
//! than that margin, and that a run's clock measures durations at the same
//! pace as the store's (any two clocks do, to a few parts per million); it
//! never compares one machine's clock with another's.
//!
//! When a run with a lower `--qps` joins, `Q` falls at once: the others
//! lower to their new targets at their next heartbeat (within
//! [`HEARTBEAT`]), and the newcomer sends nothing until the sum of claims is
//! under the new `Q`. Until then the group stays under the old `Q`.
//!
//! # Hand-over times
//!
//! A run that ends (or whose lease lapses) is counted for [`HOLD_MS`] more;
//! the others raise at their next heartbeat after that: its share is back in
//! use within `HOLD_MS + HEARTBEAT` = 2 s (DESIGN §6 promises 3 s). A run
//! that joins gets its share once the others have lowered (one heartbeat)
//! and their holds have expired, at its next heartbeat: within about 2.5 s.

use std::time::Duration;

/// A run sends only while its lease is younger than this.
pub const LEASE: Duration = Duration::from_secs(2);
/// The claims of a run whose lease is older than this are taken over.
pub const TAKEOVER: Duration = Duration::from_secs(30);
/// How often a run renews its lease and recomputes its share.
pub const HEARTBEAT: Duration = Duration::from_millis(500);
/// The limiter's window, its slack included (`limiter::SLACK`).
pub const WINDOW_MS: i64 = 1020;
/// How long a lowered grant still counts at its old value.
pub const HOLD_MS: i64 = 1500;

const LEASE_MS: i64 = LEASE.as_millis() as i64;
/// After this long without a heartbeat a run has started nothing for
/// `HOLD_MS`: it counts as 0.
const GONE_MS: i64 = LEASE_MS + HOLD_MS;

// The proof above needs a hold longer than the window.
const _: () = assert!(HOLD_MS > WINDOW_MS);

/// One run of a rate group as the store's `runs` table holds it (ms = the
/// store's clock).
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The run id; the lowest ids get the remainder units.
    pub run: String,
    /// Its `--qps`.
    pub qps: u32,
    /// Requests per second it could use now (`f64::INFINITY` when saturated).
    pub demand: f64,
    /// Its published share.
    pub granted: u32,
    /// Its claim before its last lowering.
    pub held: u32,
    /// Until then the others count it at `max(granted, held)`.
    pub held_until_ms: i64,
    /// Its last lease renewal.
    pub heartbeat_ms: i64,
    /// Finished: counts only through `held` until `held_until_ms`.
    pub ended: bool,
}

/// What a run publishes, and applies, after one heartbeat.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The smallest `--qps` among live members, this run's included.
    pub q: u32,
    /// This run's new share: apply before the commit if it is lower than
    /// the current one, after the commit if it is higher.
    pub granted: u32,
    /// To publish (unchanged unless lowering).
    pub held: u32,
    /// To publish (unchanged unless lowering).
    pub held_until_ms: i64,
    /// This run's `--qps` is what sets `Q` below the others' (say so once).
    pub lowered_q: bool,
}

/// This run's share for the next heartbeat. `me` is its row before this
/// transaction (its heartbeat being renewed now); `others` are the other
/// rows of the group, in any order, ended and lapsed ones included.
pub fn plan(me: &Member, others: &[Member], now_ms: i64) -> Plan {
    let live: Vec<&Member> = others.iter().filter(|o| is_live(o, now_ms)).collect();
    let others_q = live.iter().map(|o| o.qps).min();
    let q = others_q.map_or(me.qps, |theirs| theirs.min(me.qps));
    let lowered_q = !me.ended && others_q.is_some_and(|theirs| me.qps < theirs);

    // Counted as 0 by the others already: start again from nothing.
    let lapsed = now_ms - me.heartbeat_ms > GONE_MS;
    let current = if lapsed { 0 } else { me.granted };
    let granted = if me.ended {
        0
    } else {
        let target = target(me, &live, q);
        if target <= current {
            target
        } else {
            let taken: i64 = others.iter().map(|o| i64::from(counted(o, now_ms))).sum();
            let room = u32::try_from(i64::from(q) - taken).unwrap_or(0);
            target.min(room.max(current))
        }
    };

    let (held, held_until_ms) = if lapsed {
        // Nothing was started for HOLD_MS: there is no old claim to keep.
        (0, me.held_until_ms.min(now_ms))
    } else if granted < me.granted {
        (claim(me, now_ms), now_ms + HOLD_MS)
    } else {
        (me.held, me.held_until_ms)
    };
    Plan {
        q,
        granted,
        held,
        held_until_ms,
        lowered_q,
    }
}

/// Not ended, and its lease renewed within [`LEASE`]: it may be sending,
/// it sets `Q` and gets a target.
fn is_live(member: &Member, now_ms: i64) -> bool {
    !member.ended && now_ms - member.heartbeat_ms <= LEASE_MS
}

/// What the others must assume `member` may still start in a window.
fn counted(member: &Member, now_ms: i64) -> u32 {
    if now_ms - member.heartbeat_ms > GONE_MS {
        0
    } else if member.ended {
        held(member, now_ms)
    } else {
        claim(member, now_ms)
    }
}

fn claim(member: &Member, now_ms: i64) -> u32 {
    member.granted.max(held(member, now_ms))
}

fn held(member: &Member, now_ms: i64) -> u32 {
    if now_ms < member.held_until_ms {
        member.held
    } else {
        0
    }
}

/// `me`'s part of `Q` water-filled over the live members' demands.
fn target(me: &Member, live: &[&Member], q: u32) -> u32 {
    let mut members: Vec<&Member> = live.to_vec();
    members.push(me);
    members.sort_by(|a, b| a.run.cmp(&b.run));
    let caps: Vec<u32> = members.iter().map(|m| cap(m.demand, q)).collect();
    let mut shares = water_fill(q, &caps);
    // What nobody asked for is spread evenly: a run whose demand grows can
    // use it at once, without waiting for a heartbeat.
    let spare = q - shares.iter().sum::<u32>();
    let unlimited = vec![q; members.len()];
    for (share, extra) in shares.iter_mut().zip(water_fill(spare, &unlimited)) {
        *share += extra;
    }
    let mine = members
        .iter()
        .position(|m| std::ptr::eq(*m, me))
        .expect("me was pushed onto members");
    shares[mine]
}

/// A demand in whole requests per second, at most `q`. Not a number reads
/// as saturated: the grant is safe whatever the demand says.
fn cap(demand: f64, q: u32) -> u32 {
    if demand.is_nan() || demand >= f64::from(q) {
        q
    } else if demand <= 0.0 {
        0
    } else {
        // In (0, q): the ceiling fits in a u32.
        demand.ceil() as u32
    }
}

/// Integer water-filling: `total` units over members with these caps (in
/// run-id order), each level filled evenly, the remainder one unit each to
/// the first members that can still take one. Never gives more than
/// `total`, nor anyone more than its cap.
fn water_fill(total: u32, caps: &[u32]) -> Vec<u32> {
    let mut shares = vec![0u32; caps.len()];
    let mut left = total;
    let mut open: Vec<usize> = (0..caps.len()).filter(|&i| caps[i] > 0).collect();
    while left > 0 && !open.is_empty() {
        let each = left / open.len() as u32;
        if each == 0 {
            for &i in open.iter().take(left as usize) {
                shares[i] += 1;
            }
            break;
        }
        for &i in &open {
            let give = each.min(caps[i] - shares[i]);
            shares[i] += give;
            left -= give;
        }
        open.retain(|&i| shares[i] < caps[i]);
    }
    shares
}

#[cfg(test)]
mod tests;
