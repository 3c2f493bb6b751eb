//! `plan` by table; the protocol in a discrete-time simulation of a group
//! (`scenarios`): runs that join, leave, die, stall, with different `--qps`
//! and demands, heartbeats at jittered offsets, and a limiter model per run
//! (`sim`).

mod scenarios;
mod sim;

use super::*;

const NOW: i64 = 1_000_000;

fn member(run: &str, qps: u32, demand: f64, granted: u32) -> Member {
    Member {
        run: run.to_owned(),
        qps,
        demand,
        granted,
        held: 0,
        held_until_ms: 0,
        heartbeat_ms: NOW - 400,
        ended: false,
    }
}

fn held(mut m: Member, held: u32, until: i64) -> Member {
    m.held = held;
    m.held_until_ms = until;
    m
}

fn beat(mut m: Member, heartbeat_ms: i64) -> Member {
    m.heartbeat_ms = heartbeat_ms;
    m
}

fn ended(mut m: Member) -> Member {
    m.ended = true;
    m
}

fn unchanged(me: &Member, q: u32, granted: u32) -> Plan {
    Plan {
        q,
        granted,
        held: me.held,
        held_until_ms: me.held_until_ms,
        lowered_q: false,
    }
}

const INF: f64 = f64::INFINITY;

#[test]
fn plan_by_table() {
    let a30 = member("a", 60, INF, 30);
    let b30 = member("b", 60, INF, 30);
    let b20_held = held(member("b", 60, INF, 20), 30, NOW + 700);
    let c20_held = held(member("c", 60, INF, 20), 30, NOW + 700);
    let cases: Vec<(&str, Member, Vec<Member>, Plan)> = vec![
        (
            "alone and saturated: all of Q",
            member("a", 60, INF, 0),
            vec![],
            unchanged(&member("a", 60, INF, 0), 60, 60),
        ),
        (
            "two saturated at their fair share keep it",
            a30.clone(),
            vec![b30.clone()],
            unchanged(&a30, 60, 30),
        ),
        (
            "a joiner gets nothing while the others hold the whole of Q",
            member("c", 60, INF, 0),
            vec![a30.clone(), b30.clone()],
            unchanged(&member("c", 60, INF, 0), 60, 0),
        ),
        (
            "a run above its target lowers at once and holds its old claim",
            a30.clone(),
            vec![b30.clone(), member("c", 60, INF, 0)],
            Plan {
                q: 60,
                granted: 20,
                held: 30,
                held_until_ms: NOW + HOLD_MS,
                lowered_q: false,
            },
        ),
        (
            "lowered grants still count at their old value while held",
            member("a", 60, INF, 0),
            vec![b20_held.clone(), c20_held.clone()],
            unchanged(&member("a", 60, INF, 0), 60, 0),
        ),
        (
            "once the holds expire, the joiner takes the room",
            member("a", 60, INF, 0),
            vec![
                held(b20_held.clone(), 30, NOW),
                held(c20_held.clone(), 30, NOW - 1),
            ],
            unchanged(&member("a", 60, INF, 0), 60, 20),
        ),
        (
            "a raise goes only as far as the room",
            member("a", 60, INF, 10),
            vec![member("b", 60, INF, 45)],
            unchanged(&member("a", 60, INF, 10), 60, 15),
        ),
        (
            "no room: keep what one has, even under target",
            member("a", 60, INF, 10),
            vec![member("b", 60, INF, 50)],
            unchanged(&member("a", 60, INF, 10), 60, 10),
        ),
        (
            "work-conserving: what one cannot use goes to the other",
            member("a", 60, INF, 40),
            vec![member("b", 60, 10.2, 11)],
            unchanged(&member("a", 60, INF, 40), 60, 49),
        ),
        (
            "what nobody asks for is spread evenly",
            member("a", 60, 5.0, 5),
            vec![member("b", 60, 5.0, 5)],
            unchanged(&member("a", 60, 5.0, 5), 60, 30),
        ),
        (
            "the remainder goes to the lowest run ids (first)",
            member("a", 10, INF, 0),
            vec![member("b", 10, INF, 0), member("c", 10, INF, 0)],
            unchanged(&member("a", 10, INF, 0), 10, 4),
        ),
        (
            "the remainder goes to the lowest run ids (last)",
            member("c", 10, INF, 0),
            vec![member("a", 10, INF, 0), member("b", 10, INF, 0)],
            unchanged(&member("c", 10, INF, 0), 10, 3),
        ),
        (
            "a lower --qps sets Q and says so; no room yet",
            member("b", 30, INF, 0),
            vec![member("a", 60, INF, 60)],
            Plan {
                lowered_q: true,
                ..unchanged(&member("b", 30, INF, 0), 30, 0)
            },
        ),
        (
            "Q fell under a run: it lowers to its new target",
            member("a", 60, INF, 60),
            vec![member("b", 30, INF, 0)],
            Plan {
                q: 30,
                granted: 15,
                held: 60,
                held_until_ms: NOW + HOLD_MS,
                lowered_q: false,
            },
        ),
        (
            "a lapsed lease (2 s) still counts, and gets no target",
            member("a", 60, INF, 30),
            vec![beat(member("b", 60, INF, 30), NOW - 2_001)],
            unchanged(&member("a", 60, INF, 30), 60, 30),
        ),
        (
            "after LEASE + HOLD a silent run counts as 0",
            member("a", 60, INF, 30),
            vec![beat(member("b", 60, INF, 30), NOW - 3_501)],
            unchanged(&member("a", 60, INF, 30), 60, 60),
        ),
        (
            "an ended run counts through its hold",
            member("a", 60, INF, 30),
            vec![ended(held(member("b", 60, INF, 0), 30, NOW + 1))],
            unchanged(&member("a", 60, INF, 30), 60, 30),
        ),
        (
            "an ended run whose hold expired counts as 0",
            member("a", 60, INF, 30),
            vec![ended(held(member("b", 60, INF, 0), 30, NOW))],
            unchanged(&member("a", 60, INF, 30), 60, 60),
        ),
        (
            "an ending run publishes 0 and holds its claim",
            ended(held(member("a", 60, INF, 20), 30, NOW + 100)),
            vec![member("b", 60, INF, 20)],
            Plan {
                q: 60,
                granted: 0,
                held: 30,
                held_until_ms: NOW + HOLD_MS,
                lowered_q: false,
            },
        ),
        (
            "a run counted as 0 by the others rejoins from 0",
            beat(member("a", 60, INF, 30), NOW - 3_501),
            vec![member("b", 60, INF, 60)],
            Plan {
                q: 60,
                granted: 0,
                held: 0,
                held_until_ms: 0,
                lowered_q: false,
            },
        ),
        (
            "a demand that is not a number reads as saturated",
            member("a", 60, f64::NAN, 0),
            vec![member("b", 60, 10.0, 10)],
            unchanged(&member("a", 60, f64::NAN, 0), 60, 50),
        ),
    ];
    for (name, me, others, expected) in cases {
        assert_eq!(plan(&me, &others, NOW), expected, "{name}");
    }
}

#[test]
fn water_filling_gives_all_and_no_more() {
    assert_eq!(water_fill(10, &[2, 10, 10]), vec![2, 4, 4]);
    assert_eq!(water_fill(10, &[2, 3, 1]), vec![2, 3, 1]);
    assert_eq!(water_fill(7, &[10, 10, 10]), vec![3, 2, 2]);
    assert_eq!(water_fill(0, &[10, 10]), vec![0, 0]);
    assert_eq!(water_fill(5, &[]), Vec::<u32>::new());
    assert_eq!(water_fill(5, &[0, 9]), vec![0, 5]);
}
