//! Properties of the state machine over arbitrary policies, outcomes, clocks and RNG streams.

mod common;

#[path = "common/sim.rs"]
mod sim;

use backoff_core::{
    retry_after_ms, Action, Idempotency, Jitter, JitterSource, Policy, Request, RetryOn, Stop,
    TransportFailure, Wait,
};
use common::{Scripted, SplitMix};
use proptest::prelude::*;

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        Just(Jitter::Decorrelated),
        any::<u32>().prop_map(|max_ms| Jitter::Additive { max_ms }),
        (0u32..5000).prop_map(|max_ms| Jitter::Additive { max_ms }),
    ]
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop_oneof![0u32..5000, any::<u32>()],
        prop_oneof![0u32..100_000, any::<u32>()],
        jitter(),
        0u32..12,
        prop::option::of(any::<u32>()),
        any::<u32>(),
        0u8..16,
        (prop_oneof![0u32..3000, any::<u32>()], prop_oneof![0u32..3000, any::<u32>()]),
    )
        .prop_map(
            |(
                base_ms,
                max_backoff_ms,
                jitter,
                max_retries,
                deadline_ms,
                ceiling,
                classes,
                (floor, spread),
            )| {
                Policy {
                    retry_after_floor_ms: floor,
                    retry_after_jitter_ms: spread,
                    base_ms,
                    max_backoff_ms,
                    jitter,
                    max_retries,
                    deadline_ms,
                    retry_after_ceiling_ms: ceiling,
                    retry_on: [
                        RetryOn::REQUEST_TIMEOUT,
                        RetryOn::RATE_LIMITED,
                        RetryOn::SERVER_ERROR,
                        RetryOn::TRANSPORT,
                    ]
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| classes & (1 << i) != 0)
                    .fold(RetryOn::NOTHING, |set, (_, c)| set.union(c)),
                    max_error_body_bytes: Policy::FOLLOW_UP_BOSS.max_error_body_bytes,
                }
            },
        )
}

/// One attempt's outcome.
#[derive(Clone, Debug)]
enum Outcome {
    Response { status: u16, headers: Vec<(String, String)>, body: Vec<u8> },
    Transport(TransportFailure),
}

fn outcome() -> impl Strategy<Value = Outcome> {
    prop_oneof![
        (
            prop_oneof![
                any::<u16>(),
                100u16..600,
                prop::sample::select(vec![200u16, 400, 403, 408, 429, 500, 503])
            ],
            retry_after_headers(),
            prop_oneof![
                Just(Vec::new()),
                Just(br#"{"errorMessage":"nope"}"#.to_vec()),
                prop::collection::vec(any::<u8>(), 0..40)
            ],
        )
            .prop_map(|(status, headers, body)| Outcome::Response { status, headers, body }),
        prop_oneof![Just(TransportFailure::BeforeSend), Just(TransportFailure::AfterSend)]
            .prop_map(Outcome::Transport),
    ]
}

/// A clock: each step moves by an arbitrary amount, sometimes backwards.
fn clock_steps() -> impl Strategy<Value = Vec<i64>> {
    prop::collection::vec(prop_oneof![0i64..100_000, -100_000i64..0, any::<i64>()], 20)
}

fn apply(now: u64, step: i64) -> u64 {
    now.saturating_add_signed(step)
}

/// The decisions of a whole request, as plain values, for comparing runs.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Succeed(u32),
    Fail(Stop, u32),
    Retry(u32, u64, Wait),
}

/// `Retry-After` in every form a server sends, and garbage: delay-seconds of any length
/// (past 64 bits too), with a fraction, or an HTTP-date in any form measured against a `Date`
/// in any form (up to 700 s later, or any other instant).
fn retry_after_headers() -> impl Strategy<Value = Vec<(String, String)>> {
    // 1977–2069: the years an RFC 850 `Date` reads unambiguously.
    let instant = 220_000_000u64..3_155_760_000;
    prop_oneof![
        Just(Vec::new()),
        prop_oneof!["[0-9]{1,4}", "[0-9]{1,40}", "[0-9]{1,3}\\.[0-9]{1,5}", ".{0,8}"]
            .prop_map(|v| vec![("Retry-After".to_owned(), v)]),
        (instant.clone(), 0u64..700, 0u8..3, 0u8..3).prop_map(|(epoch, ahead, f1, f2)| {
            vec![
                ("Date".to_owned(), sim::http_date(epoch, f1)),
                ("Retry-After".to_owned(), sim::http_date(epoch + ahead, f2)),
            ]
        }),
        (instant.clone(), instant, 0u8..3, 0u8..3).prop_map(|(now, at, f1, f2)| {
            vec![
                ("Date".to_owned(), sim::http_date(now, f1)),
                ("Retry-After".to_owned(), sim::http_date(at, f2)),
            ]
        }),
    ]
}

/// Every form of a `Date` and an HTTP-date `Retry-After` is read as the instants they name.
#[test]
fn retry_after_dates_in_every_form_measure_the_wait() {
    // From 1977: an RFC 850 `Date` of '76 is 2076 (within 50 years of the pivot year 2026).
    proptest!(|(epoch in 220_924_800u64..3_155_760_000, ahead in 0u64..100_000, f1 in 0u8..3, f2 in 0u8..3)| {
        let headers = [("Date", sim::http_date(epoch, f1)), ("Retry-After", sim::http_date(epoch + ahead, f2))];
        prop_assert_eq!(retry_after_ms(&headers), Some(ahead * 1000), "{:?}", headers);
    });
}

fn run<R: rand_core::TryRng>(
    policy: &Policy,
    start: u64,
    outcomes: &[Outcome],
    steps: &[i64],
    rng: &mut R,
) -> Vec<Decision> {
    let mut req = Request::new(start, Idempotency::Idempotent);
    let mut now = start;
    let mut out = Vec::new();
    for (o, &step) in outcomes.iter().zip(steps.iter().cycle()) {
        now = apply(now, step);
        let action: Action<16> = match o {
            Outcome::Response { status, headers, body } => {
                req.complete(policy, now, *status, headers.as_slice(), body, rng)
            }
            Outcome::Transport(f) => req.transport_failure(policy, now, *f, rng),
        };
        match action {
            Action::Succeed { attempts } => {
                out.push(Decision::Succeed(attempts));
                break;
            }
            Action::Fail(e) => {
                out.push(Decision::Fail(e.stop, e.attempts));
                break;
            }
            Action::Retry(r) => {
                out.push(Decision::Retry(r.delay_ms, r.at_ms, r.wait));
                req = r.request;
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// Every backoff delay lies within the formula's bounds, and never above the cap.
    #[test]
    fn delay_is_within_the_formula_bounds_and_never_above_the_cap(
        policy in policy(), retry in prop_oneof![0u32..40, any::<u32>()], seed in any::<u64>(), now in any::<u64>(),
    ) {
        let (lo, hi) = policy.delay_bounds(retry);
        prop_assert!(lo <= hi);
        prop_assert!(hi <= policy.max_backoff_ms);
        let (d, source) = policy.backoff(retry, now, &mut SplitMix(seed));
        prop_assert!(source != JitterSource::ClockFallback);
        prop_assert!((lo..=hi).contains(&d), "{} not in {}..={}", d, lo, hi);
        // The formula, written out in 128 bits with no saturation to hide behind.
        let exp = u128::from(policy.base_ms) << retry.min(64);
        let cap = u128::from(policy.max_backoff_ms);
        if let Jitter::Additive { max_ms } = policy.jitter {
            prop_assert_eq!(u128::from(lo), exp.min(cap));
            prop_assert_eq!(u128::from(hi), (exp + u128::from(max_ms)).min(cap));
        }
        // A failing RNG stays inside the same bounds.
        let (d, _) = policy.backoff(retry, now, &mut common::broken());
        prop_assert!((lo..=hi).contains(&d));
    }

    /// A request is sent at most `max_retries + 1` times, and every retry waits as the policy
    /// allows: within the backoff bounds, or after a `Retry-After` (in any form, of any length)
    /// never earlier than told, never longer than the floor and the jitter add, and never for
    /// a told wait above the ceiling.
    #[test]
    fn attempts_never_exceed_max_retries(
        policy in policy(), outcomes in prop::collection::vec(outcome(), 1..16), steps in clock_steps(), seed in any::<u64>(),
    ) {
        let decisions = run(&policy, 1000, &outcomes, &steps, &mut SplitMix(seed));
        let retries = decisions.iter().filter(|d| matches!(d, Decision::Retry(..))).count() as u32;
        prop_assert!(retries <= policy.max_retries);
        for (n, d) in decisions.iter().enumerate() {
            if let Decision::Retry(delay, _, wait) = d {
                match wait {
                    Wait::Backoff(_) => {
                        let (lo, hi) = policy.delay_bounds(n as u32);
                        prop_assert!((lo..=hi).contains(delay));
                    }
                    Wait::RetryAfter(_) => {
                        let Outcome::Response { headers, .. } = &outcomes[n] else {
                            return Err(TestCaseError::fail("a Retry-After wait after a transport failure"));
                        };
                        let told = retry_after_ms(headers.as_slice()).expect("a Retry-After wait was told one");
                        prop_assert!(told <= u64::from(policy.retry_after_ceiling_ms));
                        prop_assert!(u64::from(*delay) >= told, "early: {} < {}", delay, told);
                        let most = told.max(u64::from(policy.retry_after_floor_ms))
                            + u64::from(policy.retry_after_jitter_ms);
                        prop_assert!(u64::from(*delay) <= most, "{} > {}", delay, most);
                    }
                }
            }
            if let Decision::Fail(_, attempts) | Decision::Succeed(attempts) = d {
                prop_assert_eq!(*attempts as usize, n + 1);
            }
        }
    }

    /// 4xx other than 408 and 429 end the request at once, whatever the policy.
    #[test]
    fn client_errors_other_than_408_and_429_never_retry(
        policy in policy(), status in 400u16..500, body in prop::collection::vec(any::<u8>(), 0..64), seed in any::<u64>(),
    ) {
        prop_assume!(status != 408 && status != 429);
        let action: Action<32> =
            Request::new(0, Idempotency::Idempotent).complete(&policy, 0, status, &[("Retry-After", "1")], &body, &mut SplitMix(seed));
        prop_assert!(matches!(action, Action::Fail(ref e) if e.stop == Stop::Permanent && e.attempts == 1));
    }

    /// The same inputs and RNG stream give the same decisions; so does the same script of RNG
    /// words, and a stream that runs dry gives a defined answer, not a panic.
    #[test]
    fn the_same_inputs_give_the_same_actions(
        policy in policy(), outcomes in prop::collection::vec(outcome(), 1..12), steps in clock_steps(),
        seed in any::<u64>(), words in prop::collection::vec(any::<u32>(), 0..30),
    ) {
        let a = run(&policy, 7, &outcomes, &steps, &mut SplitMix(seed));
        let b = run(&policy, 7, &outcomes, &steps, &mut SplitMix(seed));
        prop_assert_eq!(a, b);
        let a = run(&policy, 7, &outcomes, &steps, &mut Scripted { words: words.clone(), at: 0 });
        let b = run(&policy, 7, &outcomes, &steps, &mut Scripted { words, at: 0 });
        prop_assert_eq!(a, b);
    }

    /// Retry decisions are dated on a clock that never goes backwards, and each retry instant
    /// is its decision instant plus its delay, whatever the caller's clock does.
    #[test]
    fn retry_instants_never_go_backwards(
        policy in policy(), outcomes in prop::collection::vec(outcome(), 1..16), steps in clock_steps(), start in any::<u64>(),
    ) {
        let decisions = run(&policy, start, &outcomes, &steps, &mut SplitMix(1));
        let mut last_decided = start;
        for d in decisions {
            if let Decision::Retry(delay, at, _) = d {
                if at == u64::MAX {
                    break; // saturated: the clock is at its end
                }
                let decided = at - u64::from(delay);
                prop_assert!(decided >= last_decided);
                last_decided = decided;
            }
        }
    }
}

/// Pearson's chi-square of `samples` draws from the preset's first retry against the uniform
/// distribution over its 1001 possible jitters, with a fixed seed (so the test is
/// deterministic). The 99.9th percentile of chi-square with 1000 degrees of freedom is 1143.9;
/// a modulo-biased or off-by-one draw over a small range lands far above it (checked below).
#[test]
fn jitter_is_uniform_over_zero_to_jitter_ms() {
    let policy = Policy::FOLLOW_UP_BOSS;
    let mut rng = SplitMix(0x5EED);
    let bins = 1001;
    let samples = 1_001_000;
    let mut counts = vec![0u64; bins];
    for _ in 0..samples {
        let (d, _) = policy.backoff(0, 0, &mut rng);
        counts[(d - 1000) as usize] += 1;
    }
    let expected = samples as f64 / bins as f64;
    let chi2: f64 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
    assert!(chi2 < 1143.9, "chi-square {chi2:.1} with 1000 degrees of freedom");
    assert!(counts[0] > 0 && counts[1000] > 0, "both ends of 0..=1000 must be reachable");
}

/// The same test on a tiny range, where a biased draw would show: three values from an RNG
/// that only yields 2^32 words, where `x % 3` favours 0 by one word in 2^32 (too small to see),
/// but an off-by-one range or `x % 2` would fail at once.
#[test]
fn jitter_over_a_tiny_range_is_uniform() {
    let policy = Policy::FOLLOW_UP_BOSS.with_jitter(Jitter::Additive { max_ms: 2 }).with_base_ms(10);
    let mut rng = SplitMix(99);
    let mut counts = [0u64; 3];
    let samples = 300_000;
    for _ in 0..samples {
        counts[(policy.backoff(0, 0, &mut rng).0 - 10) as usize] += 1;
    }
    let expected = samples as f64 / 3.0;
    let chi2: f64 = counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum();
    // 99.9th percentile with 2 degrees of freedom.
    assert!(chi2 < 13.82, "chi-square {chi2:.2}: {counts:?}");
}
