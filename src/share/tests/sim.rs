//! A rate group in discrete time (1 ms ticks, no sleeping): each run has a
//! heartbeat that calls `plan` in an atomic "transaction", a lease, and a
//! limiter model that obeys the grant it has applied (the window rule over
//! `WINDOW_MS` and even spacing), lowering before the transaction commits,
//! raising after. Seeded: every run of the test sees the same scenarios.

use std::collections::VecDeque;

use super::super::*;

/// A run's demand as its limiter would report it: `None` when saturated
/// (always a request waiting), else requests per second.
type Need = Option<f64>;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Exit {
    /// Finishes its work, then publishes its end.
    End,
    /// Dies: stops sending and renewing, publishes nothing.
    Crash,
}

/// One run in a scenario.
#[derive(Clone, Debug)]
pub struct Script {
    pub qps: u32,
    pub need: Need,
    pub join_at: i64,
    pub exit: Option<(i64, Exit)>,
    /// Heartbeats that would begin in `[from, to)` are skipped.
    pub stall: Option<(i64, i64)>,
}

/// A transaction in progress: its store time has passed, its commit not.
struct Commit {
    at: i64,
    granted: u32,
    lease_until: i64,
}

struct Run {
    script: Script,
    name: String,
    gone: bool,
    /// When its next heartbeat is due, and when it begins (due + jitter).
    due: i64,
    next_beat: i64,
    /// The store time of the heartbeat begun, and when it began.
    transaction: Option<(i64, i64)>,
    commit: Option<Commit>,
    applied: u32,
    lease_until: i64,
    /// Own starts in the last WINDOW_MS.
    window: VecDeque<i64>,
    next_spaced: f64,
    pending: u32,
    next_arrival: f64,
    /// Starts and held-back ticks of the last two seconds, for the demand.
    recent_starts: VecDeque<i64>,
    recent_held: VecDeque<i64>,
}

/// What happened, for the assertions.
pub struct Record {
    /// Arrivals at the API of the whole group's starts, per ms.
    pub starts: Vec<u32>,
    /// Q by the spec's definition at every ms (the smallest qps among runs
    /// not ended whose store heartbeat is within LEASE); 0 when none.
    pub q: Vec<u32>,
    /// Every run's applied grant per ms (sampled every 100 ms).
    pub applied: Vec<Vec<u32>>,
    /// Times at which the group changed: joins, ends, crashes, lapses,
    /// resumptions.
    pub events: Vec<i64>,
    /// Per ms: every live run is saturated.
    pub all_saturated: Vec<bool>,
}

pub struct Sim {
    runs: Vec<Run>,
    rows: Vec<Option<Member>>,
    rng: fastrand::Rng,
}

const LEASE_MS: i64 = super::super::LEASE_MS;
const PERIOD_MS: i64 = HEARTBEAT.as_millis() as i64;
/// Heartbeats begin up to this late; the store stamps them up to
/// `STAMP_MS` after they begin; commits follow up to `COMMIT_MS` later.
pub const JITTER_MS: i64 = 25;
const STAMP_MS: i64 = 8;
const COMMIT_MS: i64 = 10;
/// A request reaches the API up to this long after its start: within the
/// limiter's 20 ms of slack (`WINDOW_MS` - 1000).
const ARRIVAL_MS: i64 = WINDOW_MS - 1000;

impl Sim {
    pub fn new(scripts: Vec<Script>, seed: u64) -> Sim {
        let runs = scripts
            .into_iter()
            .enumerate()
            .map(|(i, script)| Run {
                name: format!("run-{i:02}"),
                gone: false,
                due: script.join_at,
                next_beat: script.join_at,
                transaction: None,
                commit: None,
                applied: 0,
                lease_until: i64::MIN,
                window: VecDeque::new(),
                next_spaced: 0.0,
                pending: 0,
                next_arrival: script.join_at as f64,
                recent_starts: VecDeque::new(),
                recent_held: VecDeque::new(),
                script,
            })
            .collect::<Vec<_>>();
        let rows = vec![None; runs.len()];
        Sim {
            runs,
            rows,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    pub fn run(mut self, until: i64) -> Record {
        let n = self.runs.len();
        let mut record = Record {
            starts: vec![0; until as usize],
            q: vec![0; until as usize],
            applied: vec![Vec::new(); n],
            events: Vec::new(),
            all_saturated: vec![true; until as usize],
        };
        for t in 0..until {
            for i in 0..n {
                self.commit(i, t);
                self.exit(i, t, &mut record.events);
                self.begin_heartbeat(i, t);
                self.heartbeat(i, t, &mut record.events);
                // A Q that held between two transactions of the same ms
                // was one a run could plan with.
                record.q[t as usize] = record.q[t as usize].max(self.q(t));
            }
            for i in 0..n {
                if self.tick(i, t) {
                    // What the API counts is the arrival, up to the
                    // limiter's slack later.
                    let arrival = t + self.rng.i64(0..=ARRIVAL_MS);
                    if let Some(count) = record.starts.get_mut(arrival as usize) {
                        *count += 1;
                    }
                }
            }
            let live: Vec<usize> = (0..n).filter(|&i| self.is_live(i, t)).collect();
            record.q[t as usize] = record.q[t as usize].max(self.q(t));
            record.all_saturated[t as usize] =
                live.iter().all(|&i| self.runs[i].script.need.is_none());
            let lapsed = self
                .rows
                .iter()
                .flatten()
                .any(|row| !row.ended && t - row.heartbeat_ms == LEASE_MS + 1);
            if lapsed {
                record.events.push(t);
            }
            if t % 100 == 0 {
                for (i, applied) in record.applied.iter_mut().enumerate() {
                    applied.push(self.runs[i].applied);
                }
            }
        }
        record
    }

    /// Q by the spec: the smallest qps among live runs (0 when none).
    fn q(&self, t: i64) -> u32 {
        (0..self.runs.len())
            .filter(|&i| self.is_live(i, t))
            .map(|i| self.runs[i].script.qps)
            .min()
            .unwrap_or(0)
    }

    fn is_live(&self, i: usize, t: i64) -> bool {
        self.rows[i]
            .as_ref()
            .is_some_and(|row| !row.ended && t - row.heartbeat_ms <= LEASE_MS)
    }

    fn commit(&mut self, i: usize, t: i64) {
        let run = &mut self.runs[i];
        if run.commit.as_ref().is_some_and(|c| c.at == t) {
            let commit = run.commit.take().expect("checked just above");
            if !run.gone {
                // Raising is applied only now, after the commit.
                run.applied = run.applied.max(commit.granted);
                run.lease_until = commit.lease_until;
            }
        }
    }

    fn exit(&mut self, i: usize, t: i64, events: &mut Vec<i64>) {
        let Some((at, how)) = self.runs[i].script.exit else {
            return;
        };
        if at != t || self.runs[i].gone {
            return;
        }
        // The run stops starting requests first.
        self.runs[i].gone = true;
        events.push(t);
        if how == Exit::End
            && let Some(row) = self.rows[i].clone()
        {
            let me = Member { ended: true, ..row };
            let plan = self.plan_for(i, &me, t);
            self.rows[i] = Some(Member {
                granted: plan.granted,
                held: plan.held,
                held_until_ms: plan.held_until_ms,
                ..me
            });
        }
    }

    /// A heartbeat begins: its transaction will run a little later.
    fn begin_heartbeat(&mut self, i: usize, t: i64) {
        if self.runs[i].gone || self.runs[i].next_beat != t {
            return;
        }
        self.runs[i].due += PERIOD_MS;
        self.runs[i].next_beat = self.runs[i].due + self.rng.i64(0..=JITTER_MS);
        let stalled = self.runs[i]
            .script
            .stall
            .is_some_and(|(from, to)| (from..to).contains(&t));
        if !stalled {
            self.runs[i].transaction = Some((t + self.rng.i64(0..=STAMP_MS), t));
        }
    }

    /// The heartbeat's transaction, atomic at `now` (the store's clock).
    fn heartbeat(&mut self, i: usize, now: i64, events: &mut Vec<i64>) {
        let Some((at, begin)) = self.runs[i].transaction else {
            return;
        };
        if self.runs[i].gone || at != now {
            return;
        }
        self.runs[i].transaction = None;
        let previous = self.rows[i].as_ref().map(|row| row.heartbeat_ms);
        if previous.is_none_or(|last| now - last > LEASE_MS) {
            // A join, or a return after the lease lapsed.
            events.push(now);
        }
        let me = self.rows[i].clone().unwrap_or_else(|| Member {
            run: self.runs[i].name.clone(),
            qps: self.runs[i].script.qps,
            demand: f64::INFINITY,
            granted: 0,
            held: 0,
            held_until_ms: 0,
            heartbeat_ms: now,
            ended: false,
        });
        let me = Member {
            demand: self.demand(i, begin),
            ..me
        };
        // Lowering is applied at once, before the commit that publishes it.
        let plan = self.plan_for(i, &me, now);
        let run = &mut self.runs[i];
        run.applied = run.applied.min(plan.granted);
        run.commit = Some(Commit {
            at: now + 1 + self.rng.i64(0..COMMIT_MS),
            granted: plan.granted,
            lease_until: begin + LEASE_MS,
        });
        self.rows[i] = Some(Member {
            granted: plan.granted,
            held: plan.held,
            held_until_ms: plan.held_until_ms,
            heartbeat_ms: now,
            ..me
        });
    }

    fn plan_for(&self, i: usize, me: &Member, now: i64) -> Plan {
        let others: Vec<Member> = (0..self.rows.len())
            .filter(|&j| j != i)
            .filter_map(|j| self.rows[j].clone())
            .collect();
        plan(me, &others, now)
    }

    /// What the run's limiter would report: infinite when a request was
    /// held back most of the last two seconds (or the run is new), else
    /// its start rate × 1.25 + 1.
    fn demand(&mut self, i: usize, t: i64) -> f64 {
        let run = &mut self.runs[i];
        while run.recent_starts.front().is_some_and(|&s| s <= t - 2000) {
            run.recent_starts.pop_front();
        }
        while run.recent_held.front().is_some_and(|&s| s <= t - 2000) {
            run.recent_held.pop_front();
        }
        let age = t - run.script.join_at;
        if age < 500 || run.recent_held.len() as i64 * 2 > age.min(2000) {
            f64::INFINITY
        } else {
            run.recent_starts.len() as f64 * 1000.0 / age.min(2000) as f64 * 1.25 + 1.0
        }
    }

    /// One millisecond of the run's limiter; whether it started a request.
    fn tick(&mut self, i: usize, t: i64) -> bool {
        let run = &mut self.runs[i];
        if run.gone || t < run.script.join_at {
            return false;
        }
        match run.script.need {
            None => run.pending = 1,
            Some(rate) => {
                while run.next_arrival <= t as f64 {
                    run.pending = (run.pending + 1).min(3);
                    run.next_arrival += 1000.0 / rate;
                }
            }
        }
        if run.pending == 0 {
            return false;
        }
        while run.window.front().is_some_and(|&s| s <= t - WINDOW_MS) {
            run.window.pop_front();
        }
        let allowed = t < run.lease_until
            && run.applied > 0
            && run.window.len() < run.applied as usize
            && t as f64 >= run.next_spaced;
        if !allowed {
            run.recent_held.push_back(t);
            return false;
        }
        run.window.push_back(t);
        run.recent_starts.push_back(t);
        run.next_spaced = t as f64 + 1000.0 / (f64::from(run.applied) * 1.1);
        run.pending -= 1;
        true
    }
}
