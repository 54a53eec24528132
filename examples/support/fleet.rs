//! A deterministic fleet simulator: N clients, each with its own requests, retry budget and
//! circuit breaker, against one server with a capacity, through scripted phases (an outage, a
//! brown-out). Virtual time, seeded, no sleeping. Shared by `examples/fleet_sim.rs` and
//! `tests/fleet.rs`.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use backoff_core::{
    Action, Breaker, BreakerPolicy, BreakerState, Idempotency, Jitter, Permit, Policy, Request, RetryBudget,
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

/// What the server does with a call it has no capacity for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Server {
    /// Answers 503 at once (capacity counted per one-second bin).
    Shed,
    /// Queues it, first in first out, serving `capacity_per_s` calls a second; a call that
    /// would wait longer than `timeout_ms` is answered 504 when that time is up, unserved. In
    /// an outage the server serves nothing: every call waits the timeout and gets a 504.
    Queue {
        /// The longest a call waits in the queue.
        timeout_ms: u64,
    },
}

/// When each client issues its requests (open loop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrivals {
    /// Every `every_ms` exactly, from a random phase.
    Fixed,
    /// A Poisson process of mean interval `every_ms`.
    Poisson,
}

/// One run's setup.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    pub clients: usize,
    pub workload: Workload,
    pub arrivals: Arrivals,
    /// Each client's (mean) request interval.
    pub every_ms: u64,
    /// Calls per second the server serves.
    pub capacity_per_s: u32,
    pub server: Server,
    pub phases: Phases,
    /// No request is issued after this instant; the run ends when all are done.
    pub issue_until_ms: u64,
    pub seed: u64,
}

impl Setup {
    /// The published scenario: open loop, one request per client every 2 s, the server at half
    /// its capacity when healthy and shedding overload with 503, a 60-second outage starting at
    /// 60 s, requests issued until 240 s after it.
    pub fn default_for(clients: usize, workload: Workload, seed: u64) -> Self {
        Cell { outage_s: 60, load_percent: 50, clients, server: Server::Shed, arrivals: Arrivals::Fixed }
            .setup(workload, seed)
    }
}

/// One cell of the scenario grid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cell {
    pub outage_s: u64,
    /// The fleet's steady load, in percent of the server's capacity.
    pub load_percent: u32,
    pub clients: usize,
    pub server: Server,
    pub arrivals: Arrivals,
}

/// How long a queueing server lets a call wait before answering 504.
pub const QUEUE_TIMEOUT_MS: u64 = 5_000;

/// The grid's dimensions.
pub const OUTAGES_S: [u64; 5] = [10, 30, 60, 120, 300];
pub const LOADS_PERCENT: [u32; 4] = [50, 67, 80, 90];
pub const SIZES: [usize; 3] = [100, 1_000, 5_000];
pub const SERVERS: [Server; 2] = [Server::Shed, Server::Queue { timeout_ms: QUEUE_TIMEOUT_MS }];
pub const ARRIVALS: [Arrivals; 2] = [Arrivals::Fixed, Arrivals::Poisson];

/// The seeds every tuning cell runs with…
pub const TUNING_SEEDS: std::ops::Range<u64> = 0..5;
/// …and the seeds every held-out cell runs with: none of them is used for tuning.
pub const HELD_OUT_SEEDS: std::ops::Range<u64> = 100..105;

impl Cell {
    /// Today's scenario: a 60-second outage, the fleet at half the server's capacity, a server
    /// that sheds, requests every 2 s exactly.
    pub const TODAY: Self = Self {
        outage_s: 60,
        load_percent: 50,
        clients: 1_000,
        server: Server::Shed,
        arrivals: Arrivals::Fixed,
    };

    /// The run: the outage from 60 s, requests issued until 240 s after it ends, capacity set so
    /// the fleet's steady load is `load_percent` of it.
    pub fn setup(&self, workload: Workload, seed: u64) -> Setup {
        let every_ms = 2_000;
        let outage_until_ms = 60_000 + self.outage_s * 1_000;
        let per_s = self.clients as u64 * 1_000 / every_ms;
        Setup {
            clients: self.clients,
            workload,
            arrivals: self.arrivals,
            every_ms,
            capacity_per_s: u32::try_from((per_s * 100).div_ceil(u64::from(self.load_percent)))
                .unwrap_or(u32::MAX),
            server: self.server,
            phases: Phases {
                outage_from_ms: 60_000,
                outage_until_ms,
                brownout_percent: 0,
                brownout_until_ms: 0,
            },
            issue_until_ms: outage_until_ms + 240_000,
            seed,
        }
    }

    /// The drain of a fleet that fails nothing and serves its backlog with the server's spare
    /// capacity, no faster, without starving new requests: the load's share of the outage, at
    /// (1 − load) of the capacity while requests are still issued, and at all of it after. No
    /// policy that completes the backlog drains much faster than this; one that drains faster
    /// fails requests.
    pub fn spare_capacity_drain_s(&self) -> f64 {
        let load = f64::from(self.load_percent) / 100.0;
        let (outage, issuing) = (self.outage_s as f64, 240.0);
        let at_spare = load * outage / (1.0 - load);
        if at_spare <= issuing {
            at_spare
        } else {
            load * (outage + issuing)
        }
    }

    /// A short name: `60s 50% N=1000 shed fixed`.
    pub fn name(&self) -> String {
        let server = match self.server {
            Server::Shed => "shed",
            Server::Queue { .. } => "queue",
        };
        let arrivals = match self.arrivals {
            Arrivals::Fixed => "fixed",
            Arrivals::Poisson => "poisson",
        };
        format!("{}s {}% N={} {server} {arrivals}", self.outage_s, self.load_percent, self.clients)
    }
}

/// Every combination of the given dimensions.
pub fn product(
    outages: &[u64],
    loads: &[u32],
    sizes: &[usize],
    servers: &[Server],
    arrivals: &[Arrivals],
) -> Vec<Cell> {
    let mut out = Vec::new();
    for &clients in sizes {
        for &server in servers {
            for &arrivals in arrivals {
                for &load_percent in loads {
                    for &outage_s in outages {
                        out.push(Cell { outage_s, load_percent, clients, server, arrivals });
                    }
                }
            }
        }
    }
    out
}

/// The cells policies are tuned on, fixed before any tuning: outages of 30 and 120 s, loads of
/// 50 and 80 %, N = 100 and 1 000, both servers, both arrivals (32 cells), run with
/// [`TUNING_SEEDS`].
pub fn tuning_cells() -> Vec<Cell> {
    product(&[30, 120], &[50, 80], &[100, 1_000], &SERVERS, &ARRIVALS)
}

/// The held-out cells, fixed before any tuning and never used for it, run with
/// [`HELD_OUT_SEEDS`]: every other cell of the full grid at N = 100 and 1 000 (outages of 10,
/// 60 and 300 s; loads of 67 and 90 %; 128 cells), and at N = 5 000 a one-factor-at-a-time
/// sweep around today's scenario plus the hard corners (13 cells).
pub fn held_out_cells() -> Vec<Cell> {
    let tuning = tuning_cells();
    let mut out: Vec<Cell> = product(&OUTAGES_S, &LOADS_PERCENT, &[100, 1_000], &SERVERS, &ARRIVALS)
        .into_iter()
        .filter(|c| !tuning.contains(c))
        .collect();
    let today = Cell { clients: 5_000, ..Cell::TODAY };
    out.push(today);
    for outage_s in [10, 30, 120, 300] {
        out.push(Cell { outage_s, ..today });
    }
    for load_percent in [67, 80, 90] {
        out.push(Cell { load_percent, ..today });
    }
    out.push(Cell { server: SERVERS[1], ..today });
    out.push(Cell { arrivals: Arrivals::Poisson, ..today });
    // The hard corners: a short outage at high load, a long one with a queueing server.
    out.push(Cell { outage_s: 10, load_percent: 90, ..today });
    out.push(Cell { outage_s: 300, server: SERVERS[1], ..today });
    out.push(Cell {
        outage_s: 300,
        load_percent: 90,
        server: SERVERS[1],
        arrivals: Arrivals::Poisson,
        ..today
    });
    out
}

/// A policy as the fleet runs it: the state machine's policy, and per client an optional
/// budget and an optional breaker.
#[derive(Clone, Copy, Debug)]
pub struct FleetPolicy {
    pub name: &'static str,
    pub policy: Policy,
    pub budget: Option<RetryBudget>,
    pub breaker: Option<BreakerPolicy>,
    /// How the breaker's held work is released.
    pub release: Release,
}

/// How a breaker's held work is released (a candidate for the core, simulated here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Release {
    /// As the breaker does: each held request at a uniform instant over `release_spread_ms`
    /// after the break.
    Breaker,
    /// Over a spread that grows with how long the breaker has been open (the sum of its breaks
    /// since it last closed, times `percent` / 100), up to the policy's `release_spread_ms`:
    /// the work held grows with the outage, so the time to release it does too.
    WithOpenTime { percent: u32 },
}

/// How long a breaker of `policy` has been open after `trips` trips without a close (its
/// breaks without their jitter), in ms.
pub fn open_time_ms(policy: &BreakerPolicy, trips: u32) -> u64 {
    (0..trips.min(64))
        .map(|i| {
            (u64::from(policy.break_ms) << i.min(32)).min(u64::from(policy.max_break_ms.max(policy.break_ms)))
        })
        .sum()
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

/// The breaker chosen on the tuning cells of the grid (and only there): `API_CLIENT` with its
/// break capped at 4 s instead of 8 s.
pub const FLEET: BreakerPolicy = BreakerPolicy { max_break_ms: 4_000, ..BreakerPolicy::API_CLIENT };

/// Every policy of the comparison: each jitter alone, with the retry budget, with the
/// breaker, with both; and the preset with the `FLEET` breaker.
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
            out.push(FleetPolicy { name, policy, budget, breaker, release: Release::Breaker });
        }
    }
    out.push(FleetPolicy {
        name: "preset (additive) + FLEET breaker",
        policy: Policy::FOLLOW_UP_BOSS,
        budget: None,
        breaker: Some(FLEET),
        release: Release::Breaker,
    });
    out
}

/// The plain preset, the one every policy is judged against.
pub const PRESET: &str = "preset (additive)";

/// The field of the grid: the plain preset, the other jitter shapes alone, the preset with the
/// retry budget, with today's `API_CLIENT` breaker, and with each breaker of `extra` (the
/// candidates). The fastest drain a policy is compared with is the fastest of this field.
pub fn grid_policies(extra: &[(&'static str, BreakerPolicy, Release)]) -> Vec<FleetPolicy> {
    let preset = Policy::FOLLOW_UP_BOSS;
    let mut out: Vec<FleetPolicy> = jitters()
        .into_iter()
        .map(|(name, jitter)| FleetPolicy {
            name,
            policy: preset.with_jitter(jitter),
            budget: None,
            breaker: None,
            release: Release::Breaker,
        })
        .collect();
    out.push(FleetPolicy {
        name: "preset + budget",
        policy: preset,
        budget: Some(RetryBudget::AWS_STANDARD),
        breaker: None,
        release: Release::Breaker,
    });
    out.push(FleetPolicy {
        name: "preset + API_CLIENT",
        policy: preset,
        budget: None,
        breaker: Some(BreakerPolicy::API_CLIENT),
        release: Release::Breaker,
    });
    for &(name, breaker, release) in extra {
        out.push(FleetPolicy { name, policy: preset, budget: None, breaker: Some(breaker), release });
    }
    out
}

/// A figure over a cell's seeds.
#[derive(Clone, Copy, Debug, Default)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    fn of(values: impl Iterator<Item = f64> + Clone) -> Self {
        let n = values.clone().count().max(1) as f64;
        Self {
            mean: values.clone().sum::<f64>() / n,
            min: values.clone().fold(f64::INFINITY, f64::min),
            max: values.fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// One policy's figures in one cell, over its seeds.
#[derive(Clone, Debug)]
pub struct Figures {
    pub name: &'static str,
    /// Calls the server received during the outage.
    pub outage: Spread,
    /// Seconds from the end of the outage until the backlog drained.
    pub drain_s: Spread,
    /// Requests failed for good.
    pub failed: Spread,
    /// Calls from the end of the outage until drained.
    pub after: Spread,
}

impl Figures {
    pub fn of(name: &'static str, reports: &[Report]) -> Self {
        let it = reports.iter();
        Self {
            name,
            outage: Spread::of(it.clone().map(|r| r.calls_in_outage as f64)),
            drain_s: Spread::of(it.clone().map(|r| r.drain_ms as f64 / 1000.0)),
            failed: Spread::of(it.clone().map(|r| r.failed as f64)),
            after: Spread::of(it.map(|r| r.calls_after as f64)),
        }
    }
}

/// Where a policy stands against the bar in one cell (means over the cell's seeds): (a) it
/// fails no more requests for good than the plain preset; (b) for outages of 30 s or more, it
/// sends at most a third of the preset's calls during the outage; (c) it drains within 1.25×
/// of the fastest policy of the field that fails no more than the preset.
#[derive(Clone, Copy, Debug)]
pub struct Bar {
    pub fails_no_more: bool,
    /// `None` where the outage is shorter than 30 s.
    pub a_third_of_the_calls: Option<bool>,
    pub drains_in_time: bool,
    /// The fastest drain of the field among the policies failing no more than the preset.
    pub fastest_s: f64,
    pub fastest: &'static str,
    /// This policy's calls in the outage over the preset's, and drain over the fastest.
    pub calls_ratio: f64,
    pub drain_ratio: f64,
    /// Its drain is within 1.25× of the cell's spare-capacity drain: where it misses (c), the
    /// fastest policy drains faster by failing requests this one completes.
    pub within_spare_capacity: bool,
}

/// How much slower than the fastest a drain may be.
pub const DRAIN_SLACK: f64 = 1.25;

impl Bar {
    pub fn met(&self) -> bool {
        self.fails_no_more && self.a_third_of_the_calls != Some(false) && self.drains_in_time
    }

    /// `ok`, or the letters of the parts missed (`a`, `b`, `c`).
    pub fn code(&self) -> String {
        let mut out = String::new();
        if !self.fails_no_more {
            out.push('a');
        }
        if self.a_third_of_the_calls == Some(false) {
            out.push('b');
        }
        if !self.drains_in_time {
            out.push('c');
            if self.within_spare_capacity {
                out.push('*');
            }
        }
        if out.is_empty() {
            out.push_str("ok");
        }
        out
    }
}

/// `who` against the bar in `cell`, with `field` the figures of every policy there (the
/// preset's among them).
pub fn bar(cell: &Cell, field: &[Figures], who: &Figures) -> Bar {
    let preset = field.iter().find(|f| f.name == PRESET).expect("the preset in the field");
    let allowed = |f: &Figures| f.failed.mean <= preset.failed.mean;
    let fastest = field
        .iter()
        .filter(|f| allowed(f))
        .min_by(|x, y| x.drain_s.mean.total_cmp(&y.drain_s.mean))
        .expect("the preset fails no more than itself");
    let calls_ratio = who.outage.mean / preset.outage.mean.max(1.0);
    let drain_ratio = who.drain_s.mean / fastest.drain_s.mean.max(0.001);
    Bar {
        fails_no_more: allowed(who),
        a_third_of_the_calls: (cell.outage_s >= 30).then_some(calls_ratio <= 1.0 / 3.0),
        drains_in_time: drain_ratio <= DRAIN_SLACK,
        fastest_s: fastest.drain_s.mean,
        fastest: fastest.name,
        calls_ratio,
        drain_ratio,
        within_spare_capacity: who.drain_s.mean <= DRAIN_SLACK * cell.spare_capacity_drain_s(),
    }
}

/// Runs every (cell, seed, policy) on `jobs` threads; the figures per cell, per policy, in the
/// order given. Deterministic whatever `jobs` is.
pub fn run_cells(
    cells: &[Cell],
    seeds: std::ops::Range<u64>,
    field: &[FleetPolicy],
    jobs: usize,
) -> Vec<Vec<Figures>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let seeds: Vec<u64> = seeds.collect();
    let per_seed = seeds.len();
    let work: Vec<(usize, usize, u64)> = (0..cells.len())
        .flat_map(|c| (0..field.len()).flat_map(move |p| (0..per_seed).map(move |s| (c, p, s as u64))))
        .collect();
    // Largest runs first, so the threads finish together.
    let mut order: Vec<usize> = (0..work.len()).collect();
    order.sort_by_key(|&i| Reverse(cells[work[i].0].clients as u64 * cells[work[i].0].outage_s));
    let results: Mutex<Vec<Option<Report>>> = Mutex::new(vec![None; work.len()]);
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                let Some(&i) = order.get(k) else { break };
                let (c, p, s) = work[i];
                let mut report = run(&cells[c].setup(Workload::Open, seeds[s as usize]), &field[p]);
                report.per_second = Vec::new();
                results.lock().expect("no thread panicked")[i] = Some(report);
            });
        }
    });
    let results = results.into_inner().expect("no thread panicked");
    cells
        .iter()
        .enumerate()
        .map(|(c, _)| {
            field
                .iter()
                .enumerate()
                .map(|(p, policy)| {
                    let first = (c * field.len() + p) * per_seed;
                    let reports: Vec<Report> = results[first..first + per_seed]
                        .iter()
                        .map(|r| r.clone().expect("every run done"))
                        .collect();
                    Figures::of(policy.name, &reports)
                })
                .collect()
        })
        .collect()
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
    /// Calls answered 503 (shedding) or 504 (queue timeout) because the server was over
    /// capacity, not down.
    pub overloaded: u64,
}

struct Flight {
    client: usize,
    issued_ms: u64,
    request: Request,
}

/// What happens next; ordered only so the heap can hold it (the sequence number decides ties).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Issue(u32),
    Attempt(u32),
    Arrive(u32),
    Respond(u32, u16),
}

struct Agenda {
    heap: BinaryHeap<Reverse<(u64, u64, Event)>>,
    seq: u64,
}

impl Agenda {
    fn push(&mut self, at: u64, event: Event) {
        self.seq += 1;
        self.heap.push(Reverse((at, self.seq, event)));
    }
}

/// The server: what a call arriving at `now` is answered, and when.
struct Backend {
    server: Server,
    capacity_per_s: u32,
    /// Calls per one-second bin (a shedding server's capacity, and the plots).
    per_second: Vec<u32>,
    /// When a queueing server is next free, in µs.
    free_us: u64,
}

impl Backend {
    /// (status, the instant the server answers), for a call arriving at `now`.
    fn call(&mut self, now: u64, in_outage: bool, report: &mut Report) -> (u16, u64) {
        let second = (now / 1000) as usize;
        if self.per_second.len() <= second {
            self.per_second.resize(second + 1, 0);
        }
        self.per_second[second] += 1;
        match self.server {
            Server::Shed if in_outage => (503, now),
            Server::Shed if self.per_second[second] > self.capacity_per_s => {
                report.overloaded += 1;
                (503, now)
            }
            Server::Shed => (201, now),
            Server::Queue { timeout_ms } if in_outage => (504, now + timeout_ms),
            Server::Queue { timeout_ms } => {
                let now_us = now * 1000;
                let start = self.free_us.max(now_us);
                if start - now_us > timeout_ms * 1000 {
                    report.overloaded += 1;
                    return (504, now + timeout_ms);
                }
                self.free_us = start + 1_000_000 / u64::from(self.capacity_per_s.max(1));
                (201, self.free_us.div_ceil(1000))
            }
        }
    }
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
    let mut trips: Vec<u32> = vec![0; setup.clients];
    let mut flights: Vec<Option<Flight>> = Vec::new();
    let mut free: Vec<u32> = Vec::new();
    let mut agenda = Agenda { heap: BinaryHeap::new(), seq: 0 };
    let next_interval = |rng: &mut Pcg32| match setup.arrivals {
        Arrivals::Fixed => setup.every_ms,
        Arrivals::Poisson => {
            // Exponential, by inversion; (0, 1] so the logarithm is finite.
            let u = (f64::from(rng.next_u32()) + 1.0) / 4_294_967_296.0;
            (-u.ln() * setup.every_ms as f64).round() as u64
        }
    };
    for client in 0..setup.clients {
        let phase = match setup.arrivals {
            Arrivals::Fixed => u64::from(sim_rng.next_u32()) % setup.every_ms,
            Arrivals::Poisson => next_interval(&mut sim_rng),
        };
        agenda.push(phase, Event::Issue(client as u32));
    }
    let mut report = Report::default();
    let (outage_from, recovery) = (setup.phases.outage_from_ms, setup.phases.outage_until_ms);
    let mut backend = Backend {
        server: setup.server,
        capacity_per_s: setup.capacity_per_s,
        per_second: Vec::new(),
        free_us: 0,
    };
    let mut last_backlog_end = recovery;
    while let Some(Reverse((now, _, event))) = agenda.heap.pop() {
        match event {
            Event::Issue(client) => {
                if now > setup.issue_until_ms {
                    continue;
                }
                let flight = Flight {
                    client: client as usize,
                    issued_ms: now,
                    request: Request::new(now, Idempotency::Idempotent),
                };
                let f = match free.pop() {
                    Some(f) => {
                        flights[f as usize] = Some(flight);
                        f
                    }
                    None => {
                        flights.push(Some(flight));
                        (flights.len() - 1) as u32
                    }
                };
                agenda.push(now, Event::Attempt(f));
                if setup.workload == Workload::Open {
                    let next = now + next_interval(&mut sim_rng);
                    agenda.push(next, Event::Issue(client));
                }
            }
            Event::Attempt(f) => {
                let client = flights[f as usize].as_ref().map_or(0, |fl| fl.client);
                if let Some(breaker) = breakers[client].as_mut() {
                    let rng = &mut client_rngs[client];
                    if let Permit::Wait { mut until_ms } = breaker.acquire(now, rng) {
                        if let Release::WithOpenTime { percent } = fleet.release {
                            let p = breaker.policy();
                            let spread = (open_time_ms(p, trips[client]) * u64::from(percent) / 100)
                                .min(u64::from(p.release_spread_ms));
                            let r = u64::from(rng.next_u32()) % (spread + 1);
                            until_ms = match breaker.state() {
                                BreakerState::Open { until_ms } => until_ms + r,
                                _ => now + u64::from(p.break_ms.max(1)) + r,
                            };
                        }
                        agenda.push(until_ms.max(now + 1), Event::Attempt(f));
                        continue;
                    }
                }
                let up = 20 + u64::from(sim_rng.next_u32() % 30);
                agenda.push(now + up, Event::Arrive(f));
            }
            Event::Arrive(f) => {
                let in_outage = (outage_from..recovery).contains(&now);
                if in_outage {
                    report.calls_in_outage += 1;
                }
                let browned_out = now < setup.phases.brownout_until_ms
                    && sim_rng.next_u32() % 100 < setup.phases.brownout_percent;
                let (status, at) = backend.call(now, in_outage || browned_out, &mut report);
                let down = 20 + u64::from(sim_rng.next_u32() % 30);
                agenda.push(at + down, Event::Respond(f, status));
            }
            Event::Respond(f, status) => {
                let Some(flight) = flights[f as usize].take() else { continue };
                let client = flight.client;
                let rng = &mut client_rngs[client];
                if let Some(breaker) = breakers[client].as_mut() {
                    let was_open = matches!(breaker.state(), BreakerState::Open { .. });
                    breaker.observe(now, Some(status), rng);
                    match breaker.state() {
                        BreakerState::Open { .. } if !was_open => trips[client] += 1,
                        BreakerState::Closed => trips[client] = 0,
                        _ => {}
                    }
                }
                let action = {
                    let mut reply = flight.request.response::<16, _>(&policy, status, &());
                    let _ = reply.feed(b"");
                    reply.finish(&policy, now, rng).settle(budgets[client].as_mut())
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
                        flights[f as usize] = Some(Flight { request: retry.request, ..flight });
                        agenda.push(retry.at_ms, Event::Attempt(f));
                        false
                    }
                };
                if ended {
                    free.push(f);
                    if flight.issued_ms < recovery {
                        last_backlog_end = last_backlog_end.max(now);
                    }
                    if setup.workload == Workload::Closed {
                        agenda.push(now + setup.every_ms, Event::Issue(client as u32));
                    }
                }
            }
        }
    }
    let second_calls = backend.per_second;
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
    let mut requests: Vec<Option<Request>> =
        (0..clients).map(|_| Some(Request::new(0, Idempotency::Idempotent))).collect();
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
        match request.complete::<8, _, _>(&policy, t, status, &(), b"", &mut rngs[c]) {
            Action::Retry(retry) => {
                requests[c] = Some(retry.request);
                next.push(Reverse((retry.at_ms, c)));
            }
            _ => done_at = done_at.max(t),
        }
    }
    (calls, done_at)
}
