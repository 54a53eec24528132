//! The fleet simulator's claims at a size CI can afford (N = 200): the breaker cuts the calls a
//! fleet sends during an outage and fails nothing the plain preset completes, and AWS's
//! contention result holds (no jitter costs several times the calls of full jitter).

#[path = "../examples/support/fleet.rs"]
mod fleet;

use backoff_core::Jitter;
use fleet::{policies, run, Setup, Workload};

#[test]
fn the_breaker_sends_a_fraction_of_the_presets_calls_in_an_outage_and_fails_nothing_more() {
    let all = policies();
    let find = |name: &str| all.iter().find(|p| p.name == name).expect("a policy of the comparison");
    let setup = Setup::default_for(200, Workload::Open, 1);
    let plain = run(&setup, find("preset (additive)"));
    let breaker = run(&setup, find("preset (additive) + breaker"));
    assert!(plain.calls_in_outage > 20_000, "{plain:?}");
    assert!(
        breaker.calls_in_outage * 3 <= plain.calls_in_outage,
        "{} vs {}",
        breaker.calls_in_outage,
        plain.calls_in_outage
    );
    assert_eq!(plain.failed, 0);
    assert_eq!(breaker.failed, 0);
    assert_eq!(breaker.succeeded, plain.succeeded, "the same requests, all completed");
    // Every request issued before the end of the outage completed within a few minutes.
    assert!(breaker.drain_ms < 180_000, "{}", breaker.drain_ms);
}

#[test]
fn the_retry_budget_turns_an_outage_into_failures_instead_of_calls() {
    let all = policies();
    let find = |name: &str| all.iter().find(|p| p.name == name).expect("a policy of the comparison");
    let setup = Setup::default_for(200, Workload::Open, 2);
    let plain = run(&setup, find("preset (additive)"));
    let budget = run(&setup, find("preset (additive) + budget"));
    assert!(budget.calls_in_outage < plain.calls_in_outage);
    assert!(budget.failed > 0 && plain.failed == 0, "{} {}", budget.failed, plain.failed);
}

#[test]
fn without_jitter_contending_clients_need_several_times_the_calls() {
    let (none, _) = fleet::contention(50, Jitter::None, 3);
    let (full, _) = fleet::contention(50, Jitter::Full, 3);
    // 50 clients in lockstep: one wins per round, 50 + 49 + … + 1 calls.
    assert_eq!(none, 50 * 51 / 2);
    assert!(none > 2 * full, "{none} vs {full}");
}

/// Tuning and evaluation kept apart: no held-out cell is a tuning cell, and no seed is shared.
#[test]
fn the_held_out_cells_and_seeds_are_not_the_tuning_ones() {
    let tuning = fleet::tuning_cells();
    let held_out = fleet::held_out_cells();
    assert_eq!((tuning.len(), held_out.len()), (32, 141));
    assert!(held_out.iter().all(|c| !tuning.contains(c)));
    const { assert!(fleet::HELD_OUT_SEEDS.start >= fleet::TUNING_SEEDS.end) };
}

/// A slice of the grid CI affords (N = 100, held-out cells and seeds): `API_CLIENT` meets the bar
/// where docs/fleet.md says it does, and misses it where it says it does, for the reason it
/// gives.
#[test]
fn api_client_meets_the_bar_on_a_slice_of_the_held_out_grid_and_misses_it_where_documented() {
    use fleet::{Arrivals, Cell, Server, QUEUE_TIMEOUT_MS};
    let queue = Server::Queue { timeout_ms: QUEUE_TIMEOUT_MS };
    let at = |outage_s, load_percent, server, arrivals| Cell {
        outage_s,
        load_percent,
        clients: 100,
        server,
        arrivals,
    };
    let slice = [
        at(60, 50, Server::Shed, Arrivals::Poisson),
        at(60, 67, queue, Arrivals::Fixed),
        at(10, 90, queue, Arrivals::Poisson),
        // A short outage with a queueing server: the breaker trips on timeouts answered after
        // the recovery and holds the backlog for nothing.
        at(10, 50, queue, Arrivals::Fixed),
        // A long outage: the fastest policy drains by failing 10 000 requests.
        at(300, 50, Server::Shed, Arrivals::Fixed),
    ];
    let held_out = fleet::held_out_cells();
    assert!(slice.iter().all(|c| held_out.contains(c)), "the slice is held out");
    let field = fleet::grid_policies(&[]);
    let api_client = field.iter().position(|p| p.name == "preset + API_CLIENT").expect("in the field");
    let figures = fleet::run_cells(&slice, fleet::HELD_OUT_SEEDS, &field, 2);
    let verdicts: Vec<fleet::Bar> =
        slice.iter().zip(&figures).map(|(cell, row)| fleet::bar(cell, row, &row[api_client])).collect();
    for (cell, v) in slice.iter().zip(&verdicts).take(3) {
        assert!(v.met(), "{}: {v:?}", cell.name());
    }
    assert_eq!(verdicts[3].code(), "c", "{:?}", verdicts[3]);
    assert!(verdicts[3].drain_ratio > 2.0, "{:?}", verdicts[3]);
    assert_eq!(verdicts[4].code(), "c*", "{:?}", verdicts[4]);
}
