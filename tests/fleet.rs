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
