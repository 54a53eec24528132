//! The circuit breaker driven by arbitrary policies, outcomes and clocks that jump either way,
//! with RNG streams that may run dry. Invariants: an open breaker never lets a request through
//! before its instant, nor holds one past that instant plus the release spread; half-open lets
//! at most `probes` out at once; nothing panics or wraps.
#![no_main]

use arbitrary::Arbitrary;
use backoff_core::{Breaker, BreakerPolicy, BreakerState, Permit};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    consecutive_failures: u16,
    failure_percent: u8,
    window_ms: u32,
    min_requests: u16,
    break_ms: u32,
    max_break_ms: u32,
    probes: u8,
    release_spread_ms: u32,
    rng: Vec<u32>,
    steps: Vec<(bool, i64, bool)>,
}

#[path = "../support/words.rs"]
mod words;
use words::Words;

fuzz_target!(|input: Input| {
    let policy = BreakerPolicy {
        consecutive_failures: input.consecutive_failures,
        failure_percent: input.failure_percent,
        window_ms: input.window_ms,
        min_requests: input.min_requests,
        break_ms: input.break_ms,
        max_break_ms: input.max_break_ms,
        probes: input.probes,
        release_spread_ms: input.release_spread_ms,
    };
    let mut rng = Words(input.rng, 0);
    let mut breaker = Breaker::new(policy);
    let (mut now, mut latest) = (0u64, 0u64);
    for (ask, dt, failed) in input.steps {
        now = now.saturating_add_signed(dt);
        latest = latest.max(now);
        let before = breaker.state();
        if ask {
            let permit = breaker.acquire(now, &mut rng);
            if let BreakerState::Open { until_ms } = before {
                if latest < until_ms {
                    let Permit::Wait { until_ms: at } = permit else { panic!("let through while open") };
                    assert!(
                        at >= until_ms && at <= until_ms.saturating_add(u64::from(policy.release_spread_ms))
                    );
                }
            }
            if let BreakerState::HalfOpen { in_flight, .. } = breaker.state() {
                assert!(in_flight <= policy.probes.max(1));
            }
        } else {
            let health = if failed { None } else { Some(200) };
            breaker.observe(now, health, &mut rng);
        }
    }
});
