//! A deterministic fleet simulator: N clients, each with its own requests, retry budget and
//! circuit breaker, against one server with a capacity, through scripted phases (an outage, a
//! brown-out). Virtual time, seeded, no sleeping. Shared by `examples/fleet_sim.rs` and
//! `tests/fleet.rs`.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use backoff_core::{
    Action, Breaker, BreakerPolicy, Health, Idempotency, Jitter, NoHeaders, Permit, Policy, Request,
    RetryBudget,
};
use rand_core::{Rng, SeedableRng};
use rand_pcg::Pcg32;

/// How clients make requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Each client issues a request every `every_ms`, whatever happened to earlier ones (a
    /// gateway forwarding sensor events).
    Open,
    /// Each client has one request outstanding; the next is issued `every_ms` after it ends.
    Closed,
}

/// What the server does when.
#[derive(Clone, Copy, Debug)]
pub struct Phases {
    /// The outage starts here (every call fails with 503)…
    pub outage_from_ms: u64,
    /// …and ends here.
    pub outage_until_ms: u64,
    /// A brown-out after the outage: this share of calls (percent) fails…
    pub brownout_percent: u32,
    /// …until here.
    pub brownout_until_ms: u64,
}

/// One run's setup.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    pub clients: usize,
    pub workload: Workload,
    /// Each client's request interval.
    pub every_ms: u64,
    /// Calls per second the server serves; beyond that it answers 503.
    pub capacity_per_s: u32,
    pub phases: Phases,
    /// No request is issued after this instant; the run ends when all are done.
    pub issue_until_ms: u64,
    pub seed: u64,
}

impl Setup {
    /// The issue's default: open loop, one request per client every 2 s, the server at half
    /// its capacity when healthy, a 60-second outage starting at 60 s.
    pub fn default_for(clients: usize, workload: Workload, seed: u64) -> Self {
        Self {
            clients,
            workload,
            every_ms: 2_000,
            capacity_per_s: clients as u32,
            phases: Phases {
                outage_from_ms: 60_000,
                outage_until_ms: 120_000,
                brownout_percent: 0,
                brownout_until_ms: 0,
            },
            issue_until_ms: 360_000,
            seed,
        }
    }
}

/// A policy as the fleet runs it: the state machine's policy, and per client an optional
/// budget and an optional breaker.
#[derive(Clone, Copy, Debug)]
pub struct FleetPolicy {
    pub name: &'static str,
    pub policy: Policy,
    pub budget: Option<RetryBudget>,
    pub breaker: Option<BreakerPolicy>,
}

/// The jitter shapes compared, with the preset's other settings.
pub fn jitters() -> [(&'static str, Jitter); 5] {
    [
        ("no jitter", Jitter::None),
        ("preset (additive)", Jitter::Additive { max_ms: 1000 }),
        ("full", Jitter::Full),
        ("equal", Jitter::Equal),
        ("decorrelated", Jitter::Decorrelated),
    ]
}

/// The breaker compared: the preset `BreakerPolicy::API_CLIENT`, or another break cap and
/// release spread from `FLEET_MAX_BREAK_MS` / `FLEET_RELEASE_MS` (for tuning it).
pub fn breaker_policy() -> BreakerPolicy {
    let env = |name: &str| std::env::var(name).ok().and_then(|v| v.parse().ok());
    let mut policy = BreakerPolicy::API_CLIENT;
    if let Some(ms) = env("FLEET_MAX_BREAK_MS") {
        policy.max_break_ms = ms;
    }
    if let Some(ms) = env("FLEET_RELEASE_MS") {
        policy.release_spread_ms = ms;
    }
    policy
}

/// Every policy of the comparison: each jitter alone, with the retry budget, with the
/// breaker, with both.
pub fn policies() -> Vec<FleetPolicy> {
    let mut out = Vec::new();
    for (name, jitter) in jitters() {
        let policy = Policy::FOLLOW_UP_BOSS.with_jitter(jitter);
        for (suffix, budget, breaker) in [
            ("", None, None),
            (" + budget", Some(RetryBudget::AWS_STANDARD), None),
            (" + breaker", None, Some(breaker_policy())),
            (" + budget + breaker", Some(RetryBudget::AWS_STANDARD), Some(breaker_policy())),
        ] {
            let name: &'static str = Box::leak(format!("{name}{suffix}").into_boxed_str());
            out.push(FleetPolicy { name, policy, budget, breaker });
        }
    }
    out
}

/// What one run measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Calls the server received during the outage.
    pub calls_in_outage: u64,
    /// Calls the server received from the end of the outage until the backlog drained.
    pub calls_after: u64,
    /// From the end of the outage until every request issued before it had ended, in ms.
    pub drain_ms: u64,
    /// The most calls in one second.
    pub peak_per_s: u32,
    /// Requests that failed for good.
    pub failed: u64,
    /// Requests issued before the end of the outage that failed for good.
    pub failed_backlog: u64,
    /// Requests that succeeded.
    pub succeeded: u64,
    /// Calls per second, for the plots.
    pub per_second: Vec<u32>,
    /// 503s answered because the server was over capacity (not the outage).
    pub overloaded: u64,
}

struct Flight<'p> {
    client: usize,
    issued_ms: u64,
    request: Request<'p>,
}

enum Event {
    Issue(usize),
    Attempt(usize),
    Arrive(usize),
    Respond(usize, u16),
}

/// Runs one setup under one policy.
pub fn run(setup: &Setup, fleet: &FleetPolicy) -> Report {
    let policy = fleet.policy;
    let mut sim_rng = Pcg32::seed_from_u64(setup.seed);
    let mut client_rngs: Vec<Pcg32> = (0..setup.clients)
        .map(|i| Pcg32::seed_from_u64(setup.seed ^ (i as u64).wrapping_mul(0x9E37_79B9)))
        .collect();
    let mut budgets: Vec<Option<RetryBudget>> = vec![fleet.budget; setup.clients];
    let mut breakers: Vec<Option<Breaker>> =
        (0..setup.clients).map(|_| fleet.breaker.map(Breaker::new)).collect();
    let mut flights: Vec<Option<Flight<'_>>> = Vec::new();
    let mut queue: BinaryHeap<Reverse<(u64, u64, usize)>> = BinaryHeap::new();
    let mut events: Vec<Option<Event>> = Vec::new();
    let mut seq = 0u64;
    let mut push =
        |queue: &mut BinaryHeap<Reverse<(u64, u64, usize)>>, events: &mut Vec<Option<Event>>, at: u64, e| {
            events.push(Some(e));
            seq += 1;
            queue.push(Reverse((at, seq, events.len() - 1)));
        };
    for client in 0..setup.clients {
        let phase = u64::from(sim_rng.next_u32()) % setup.every_ms;
        push(&mut queue, &mut events, phase, Event::Issue(client));
    }
    let mut report = Report::default();
    let (outage_from, recovery) = (setup.phases.outage_from_ms, setup.phases.outage_until_ms);
    let mut second_calls: Vec<u32> = Vec::new();
    let mut last_backlog_end = recovery;
    while let Some(Reverse((now, _, id))) = queue.pop() {
        let Some(event) = events[id].take() else { continue };
        match event {
            Event::Issue(client) => {
                if now > setup.issue_until_ms {
                    continue;
                }
                flights.push(Some(Flight {
                    client,
                    issued_ms: now,
                    request: Request::new(&policy, now, Idempotency::Idempotent),
                }));
                push(&mut queue, &mut events, now, Event::Attempt(flights.len() - 1));
                if setup.workload == Workload::Open {
                    push(&mut queue, &mut events, now + setup.every_ms, Event::Issue(client));
                }
            }
            Event::Attempt(f) => {
                let client = flights[f].as_ref().map_or(0, |fl| fl.client);
                if let Some(breaker) = breakers[client].as_mut() {
                    if let Permit::Wait { until_ms } = breaker.acquire(now, &mut client_rngs[client]) {
                        push(&mut queue, &mut events, until_ms.max(now + 1), Event::Attempt(f));
                        continue;
                    }
                }
                let up = 20 + u64::from(sim_rng.next_u32() % 30);
                push(&mut queue, &mut events, now + up, Event::Arrive(f));
            }
            Event::Arrive(f) => {
                let second = (now / 1000) as usize;
                if second_calls.len() <= second {
                    second_calls.resize(second + 1, 0);
                }
                second_calls[second] += 1;
                if (outage_from..recovery).contains(&now) {
                    report.calls_in_outage += 1;
                }
                let in_outage = (outage_from..recovery).contains(&now);
                let browned_out = now < setup.phases.brownout_until_ms
                    && sim_rng.next_u32() % 100 < setup.phases.brownout_percent;
                let status = if in_outage || browned_out {
                    503
                } else if second_calls[second] > setup.capacity_per_s {
                    report.overloaded += 1;
                    503
                } else {
                    201
                };
                let down = 20 + u64::from(sim_rng.next_u32() % 30);
                push(&mut queue, &mut events, now + down, Event::Respond(f, status));
            }
            Event::Respond(f, status) => {
                let Some(flight) = flights[f].take() else { continue };
                let client = flight.client;
                let rng = &mut client_rngs[client];
                if let Some(breaker) = breakers[client].as_mut() {
                    breaker.observe(now, Health::of_status(status), rng);
                }
                let action = {
                    let mut reply = flight.request.response::<16, _>(status, &NoHeaders);
                    let _ = reply.feed(b"");
                    reply.finish_with_budget(now, rng, budgets[client].as_mut())
                };
                let ended = match action {
                    Action::Succeed { .. } => {
                        report.succeeded += 1;
                        true
                    }
                    Action::Fail(_) => {
                        report.failed += 1;
                        if flight.issued_ms < recovery {
                            report.failed_backlog += 1;
                        }
                        true
                    }
                    Action::Retry(retry) => {
                        flights[f] = Some(Flight { request: retry.request, ..flight });
                        push(&mut queue, &mut events, retry.at_ms, Event::Attempt(f));
                        false
                    }
                };
                if ended {
                    if flight.issued_ms < recovery {
                        last_backlog_end = last_backlog_end.max(now);
                    }
                    if setup.workload == Workload::Closed {
                        push(&mut queue, &mut events, now + setup.every_ms, Event::Issue(client));
                    }
                }
            }
        }
    }
    report.drain_ms = last_backlog_end.saturating_sub(recovery);
    let drain_end_s = (last_backlog_end / 1000) as usize;
    report.calls_after = second_calls
        .iter()
        .enumerate()
        .filter(|(s, _)| (*s as u64) * 1000 >= recovery && *s <= drain_end_s)
        .map(|(_, &c)| u64::from(c))
        .sum();
    report.peak_per_s = second_calls.iter().copied().max().unwrap_or(0);
    report.per_second = second_calls;
    report
}

/// AWS's "Exponential Backoff And Jitter" setup: `clients` contend for one resource at time 0
/// with optimistic concurrency: a call fails if another call arrived less than `slot_ms`
/// before it (the first of a clash wins); every client retries until it succeeds. Returns
/// (calls in all, time until the last client succeeded).
pub fn contention(clients: usize, jitter: Jitter, seed: u64) -> (u64, u64) {
    // The preset's proportions (additive jitter up to one base), at AWS's scale.
    let jitter = match jitter {
        Jitter::Additive { .. } => Jitter::Additive { max_ms: 10 },
        other => other,
    };
    let policy = Policy::FOLLOW_UP_BOSS
        .with_jitter(jitter)
        .with_base_ms(10)
        .with_max_backoff_ms(5_000)
        .with_max_retries(u32::MAX);
    let slot_ms = 5;
    let mut rngs: Vec<Pcg32> =
        (0..clients).map(|i| Pcg32::seed_from_u64(seed ^ ((i as u64 + 1) * 7919))).collect();
    let mut requests: Vec<Option<Request<'_>>> =
        (0..clients).map(|_| Some(Request::new(&policy, 0, Idempotency::Idempotent))).collect();
    // (time, client): the next call of each client still working, earliest first.
    let mut next: BinaryHeap<Reverse<(u64, usize)>> = (0..clients).map(|c| Reverse((0, c))).collect();
    let (mut calls, mut done_at) = (0u64, 0u64);
    let mut previous: Option<u64> = None;
    while let Some(Reverse((t, c))) = next.pop() {
        calls += 1;
        let conflict = previous.is_some_and(|p| t - p < slot_ms);
        previous = Some(t);
        let Some(request) = requests[c].take() else { continue };
        // A conflicting write fails and is retried (AWS's optimistic-concurrency writes).
        let status = if conflict { 503 } else { 200 };
        match request.complete::<8, _, _>(t, status, &NoHeaders, b"", &mut rngs[c]) {
            Action::Retry(retry) => {
                requests[c] = Some(retry.request);
                next.push(Reverse((retry.at_ms, c)));
            }
            _ => done_at = done_at.max(t),
        }
    }
    (calls, done_at)
}
