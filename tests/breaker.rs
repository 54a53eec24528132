//! The circuit breaker's state machine: every transition, the clock going back, bounded
//! probes, and properties over arbitrary policies, outcomes and clocks.

mod common;

use backoff_core::{Breaker, BreakerPolicy, BreakerState, Permit};
use common::{broken, SplitMix};
use proptest::prelude::*;

const QUIET: BreakerPolicy =
    BreakerPolicy { release_spread_ms: 0, max_break_ms: 30_000, ..BreakerPolicy::API_CLIENT };

/// An RNG whose every word is 0: every draw is 0, so breaks are exactly their length.
struct Zero;
impl rand_core::TryRng for Zero {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(0);
        Ok(())
    }
}

fn fail<R: rand_core::TryRng>(b: &mut Breaker, t: u64, rng: &mut R) {
    assert_eq!(b.acquire(t, rng), Permit::Go, "at {t}: {:?}", b.state());
    b.observe(t, None, rng);
}

#[test]
fn five_failures_in_a_row_trip_it_and_a_success_in_between_resets_the_run() {
    let mut rng = Zero;
    let mut b = Breaker::new(QUIET);
    for t in 0..4 {
        fail(&mut b, t, &mut rng);
    }
    b.observe(4, Some(200), &mut rng);
    for t in 5..9 {
        fail(&mut b, t, &mut rng);
    }
    assert_eq!(b.state(), BreakerState::Closed, "a success broke the run");
    fail(&mut b, 9, &mut rng);
    assert_eq!(b.state(), BreakerState::Open { until_ms: 9 + 2_000 });
}

#[test]
fn a_failure_share_over_the_window_trips_it_once_there_are_enough_requests() {
    let policy = BreakerPolicy { consecutive_failures: 0, ..QUIET };
    let mut rng = SplitMix(2);
    let mut b = Breaker::new(policy);
    // Alternating: 50 % failures, but the first 9 requests are too few to judge.
    for t in 0..9u64 {
        let h = if t % 2 == 0 { None } else { Some(200) };
        assert_eq!(b.acquire(t * 100, &mut rng), Permit::Go);
        b.observe(t * 100, h, &mut rng);
    }
    assert_eq!(b.state(), BreakerState::Closed);
    b.observe(900, None, &mut rng); // 10 requests, 5 failed
    assert!(matches!(b.state(), BreakerState::Open { .. }));
    // Old failures slide out of the window: the same share spread over 20 s does not trip.
    let mut b = Breaker::new(policy);
    for t in 0..10u64 {
        let h = if t % 2 == 0 { None } else { Some(200) };
        b.observe(t * 2_000, h, &mut rng);
    }
    assert_eq!(b.state(), BreakerState::Closed);
}

/// Whether the breaker counts this outcome against the server: a breaker that trips on the
/// first failure is given only this one.
fn counts_as_failure(status: Option<u16>) -> bool {
    let mut b = Breaker::new(BreakerPolicy { consecutive_failures: 1, ..QUIET });
    b.observe(0, status, &mut Zero);
    b.state() != BreakerState::Closed
}

#[test]
fn four_xx_and_429_are_not_failures() {
    for healthy in [400, 404, 429, 201] {
        assert!(!counts_as_failure(Some(healthy)), "{healthy}");
    }
    for failed in [Some(500), Some(503), Some(599), Some(42), Some(600), None] {
        assert!(counts_as_failure(failed), "{failed:?}");
    }
}

#[test]
fn open_half_open_then_closed_on_a_successful_probe_or_reopened_longer_on_a_failed_one() {
    let mut rng = Zero;
    let mut b = Breaker::new(QUIET);
    for t in 0..5 {
        fail(&mut b, t, &mut rng);
    }
    let opened = 4 + 2_000;
    assert_eq!(b.acquire(100, &mut rng), Permit::Wait { until_ms: opened });
    // Half-open: one probe goes, the next waits for it.
    assert_eq!(b.acquire(opened, &mut rng), Permit::Go);
    assert_eq!(b.state(), BreakerState::HalfOpen { in_flight: 1, succeeded: 0 });
    assert_eq!(b.acquire(opened + 1, &mut rng), Permit::Wait { until_ms: opened + 1 + 2_000 });
    // The probe fails: open again, for twice as long.
    b.observe(opened + 10, None, &mut rng);
    assert_eq!(b.state(), BreakerState::Open { until_ms: opened + 10 + 4_000 });
    // And again: 8 s, 16 s, then the 30 s cap.
    let mut now = opened + 10 + 4_000;
    for expected in [8_000, 16_000, 30_000, 30_000] {
        assert_eq!(b.acquire(now, &mut rng), Permit::Go);
        b.observe(now, None, &mut rng);
        assert_eq!(b.state(), BreakerState::Open { until_ms: now + expected });
        now += expected;
    }
    // A probe that succeeds closes it, and the next trip starts from 2 s again.
    assert_eq!(b.acquire(now, &mut rng), Permit::Go);
    b.observe(now, Some(200), &mut rng);
    assert_eq!(b.state(), BreakerState::Closed);
    for t in now..now + 5 {
        fail(&mut b, t, &mut rng);
    }
    assert_eq!(b.state(), BreakerState::Open { until_ms: now + 4 + 2_000 });
}

#[test]
fn probes_are_bounded_and_all_must_succeed() {
    let policy = BreakerPolicy { probes: 3, ..QUIET };
    let mut rng = Zero;
    let mut b = Breaker::new(policy);
    for t in 0..5 {
        fail(&mut b, t, &mut rng);
    }
    let open = 4 + 2_000;
    for _ in 0..3 {
        assert_eq!(b.acquire(open, &mut rng), Permit::Go);
    }
    assert!(matches!(b.acquire(open, &mut rng), Permit::Wait { .. }), "a fourth probe");
    b.observe(open + 1, Some(200), &mut rng);
    b.observe(open + 1, Some(200), &mut rng);
    assert_eq!(b.state(), BreakerState::HalfOpen { in_flight: 1, succeeded: 2 });
    b.observe(open + 1, Some(200), &mut rng);
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn a_probe_never_answered_is_given_up_after_the_longest_break() {
    let mut rng = Zero;
    let mut b = Breaker::new(QUIET);
    for t in 0..5 {
        fail(&mut b, t, &mut rng);
    }
    let open = 4 + 2_000;
    assert_eq!(b.acquire(open, &mut rng), Permit::Go);
    assert!(matches!(b.acquire(open + 29_999, &mut rng), Permit::Wait { .. }));
    assert_eq!(b.acquire(open + 30_000, &mut rng), Permit::Go, "the lost probe is replaced");
}

#[test]
fn a_clock_that_goes_back_is_read_as_standing_still() {
    let mut rng = Zero;
    let mut b = Breaker::new(QUIET);
    for t in 0..5 {
        fail(&mut b, 1_000 + t, &mut rng);
    }
    assert_eq!(b.acquire(0, &mut rng), Permit::Wait { until_ms: 1_004 + 2_000 });
    assert_eq!(b.acquire(u64::MAX, &mut rng), Permit::Go);
    b.observe(0, None, &mut rng);
    assert_eq!(b.state(), BreakerState::Open { until_ms: u64::MAX }, "saturated, not wrapped");
}

#[test]
fn held_requests_are_released_spread_over_the_release_window() {
    let mut rng = SplitMix(7);
    let mut b = Breaker::new(BreakerPolicy::API_CLIENT);
    for t in 0..5 {
        fail(&mut b, t, &mut rng);
    }
    let BreakerState::Open { until_ms } = b.state() else { panic!() };
    assert!(
        (4 + 2_000..=4 + 2_000 + 5_000).contains(&until_ms),
        "the break is jittered by up to half the spread"
    );
    let mut releases: Vec<u64> = (0..200)
        .map(|_| match b.acquire(10, &mut rng) {
            Permit::Wait { until_ms: at } => at,
            Permit::Go => panic!("open"),
        })
        .collect();
    assert!(releases.iter().all(|&at| (until_ms..=until_ms + 20_000).contains(&at)));
    releases.sort_unstable();
    releases.dedup();
    assert!(releases.len() > 150, "a backlog released at {} instants only", releases.len());
    // A failing RNG still spreads them (from the clock) and never panics.
    assert!(matches!(b.acquire(11, &mut broken()), Permit::Wait { .. }));
}

fn policy() -> impl Strategy<Value = BreakerPolicy> {
    (
        any::<u16>(),
        any::<u8>(),
        any::<u32>(),
        any::<u16>(),
        any::<u32>(),
        any::<u32>(),
        any::<u8>(),
        any::<u32>(),
    )
        .prop_map(|(c, p, w, m, b, mb, pr, s)| BreakerPolicy {
            consecutive_failures: c % 20,
            failure_percent: p,
            window_ms: w,
            min_requests: m % 50,
            break_ms: b,
            max_break_ms: mb,
            probes: pr % 5,
            release_spread_ms: s,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Whatever the policy, outcomes and clock: an open breaker never lets a request through
    /// before its instant, never holds one past that instant plus the spread, half-open lets
    /// at most `probes` out at once, and nothing panics.
    #[test]
    fn an_open_breaker_never_lets_a_request_through_before_its_instant(
        policy in policy(),
        steps in prop::collection::vec((any::<bool>(), prop_oneof![0u64..5_000, any::<u64>()], any::<bool>(), any::<bool>()), 1..200),
        seed in any::<u64>(),
    ) {
        let mut rng = SplitMix(seed);
        let mut b = Breaker::new(policy);
        let mut now = 0u64;
        // The breaker reads a clock that went back as standing still: its own "now" is the
        // latest instant it was given.
        let mut latest = 0u64;
        for (ask, dt, failed, back) in steps {
            now = if back { now.saturating_sub(dt) } else { now.saturating_add(dt) };
            latest = latest.max(now);
            let before = b.state();
            if ask {
                let permit = b.acquire(now, &mut rng);
                if let BreakerState::Open { until_ms } = before {
                    if latest < until_ms {
                        let held = match permit {
                            Permit::Wait { until_ms: at } => {
                                at >= until_ms && at <= until_ms.saturating_add(u64::from(policy.release_spread_ms))
                            }
                            Permit::Go => false,
                        };
                        prop_assert!(held, "let through or held wrongly while open: {:?}", permit);
                    }
                }
                if let BreakerState::HalfOpen { in_flight, .. } = b.state() {
                    prop_assert!(in_flight <= policy.probes.max(1));
                }
            } else {
                let h = if failed { None } else { Some(200) };
                b.observe(now, h, &mut rng);
            }
        }
    }
}

#[test]
fn statuses_from_100_to_499_are_healthy_and_the_rest_failures() {
    assert!(!counts_as_failure(Some(100)));
    assert!(counts_as_failure(Some(99)));
    assert!(!counts_as_failure(Some(499)));
    assert!(counts_as_failure(Some(500)));
}

#[test]
fn the_break_is_jittered_by_up_to_half_its_length() {
    // Every draw at its maximum: the break is 2 s plus the full half, 1 s.
    let mut high = common::Scripted { words: vec![u32::MAX; 64], at: 0 };
    let mut b = Breaker::new(QUIET);
    for t in 0..5 {
        fail(&mut b, t, &mut high);
    }
    assert_eq!(b.state(), BreakerState::Open { until_ms: 4 + 2_000 + 1_000 });
}

#[test]
fn with_both_triggers_off_it_never_trips() {
    let never = BreakerPolicy { consecutive_failures: 0, failure_percent: 0, ..QUIET };
    let mut b = Breaker::new(never);
    for t in 0..200 {
        fail(&mut b, t, &mut Zero);
    }
    assert_eq!(b.state(), BreakerState::Closed);
}

#[test]
fn one_failure_in_ten_is_below_a_half_share() {
    let share = BreakerPolicy { consecutive_failures: 0, ..QUIET };
    let mut b = Breaker::new(share);
    for t in 0..9 {
        b.observe(t, Some(200), &mut Zero);
    }
    b.observe(9, None, &mut Zero);
    assert_eq!(b.state(), BreakerState::Closed, "10 % is not 50 %");
}

#[test]
fn failures_spread_over_the_window_add_up_and_older_ones_slide_out() {
    let share = BreakerPolicy { consecutive_failures: 0, ..QUIET };
    // One request a second, every other one failing, the last a failure: ten within the 10 s
    // window, half of them failed: it trips.
    let mut b = Breaker::new(share);
    for t in 0..10u64 {
        let h = if t % 2 == 1 { None } else { Some(200) };
        b.observe(t * 1_000, h, &mut Zero);
    }
    assert!(matches!(b.state(), BreakerState::Open { .. }), "{:?}", b.state());
    // The same pattern every 2 s: the window never holds ten, so it does not.
    let mut b = Breaker::new(share);
    for t in 0..10u64 {
        let h = if t % 2 == 1 { None } else { Some(200) };
        b.observe(t * 2_000, h, &mut Zero);
    }
    assert_eq!(b.state(), BreakerState::Closed);
}
