//! Retry-After in every form, X-RateLimit headers, the shared rate-limit state, and the
//! retry budget.

mod common;

#[path = "common/sim.rs"]
mod sim;

use backoff_core::{
    retry_after_ms, Action, ErrorKind, Idempotency, Pacing, Permit, Policy, RateLimitHeaders, RateLimits,
    Request, RetryBudget, Stop,
};
use common::SplitMix;
use proptest::prelude::*;

const DATE: (&str, &str) = ("Date", "Sun, 06 Nov 1994 08:49:37 GMT");

#[test]
fn retry_after_delay_seconds() {
    assert_eq!(retry_after_ms(&[("Retry-After", "0")]), Some(0));
    assert_eq!(retry_after_ms(&[("retry-after", "120")]), Some(120_000));
    assert_eq!(retry_after_ms(&[("RETRY-AFTER", "\t7 ")]), Some(7_000));
    assert_eq!(retry_after_ms(&[("Retry-After", "18446744073709551615")]), Some(u64::MAX));
    // Any number of digits: past 64 bits it saturates, it does not vanish.
    assert_eq!(retry_after_ms(&[("Retry-After", "18446744073709551616")]), Some(u64::MAX));
    assert_eq!(retry_after_ms(&[("Retry-After", "1000000000000000000000000000000")]), Some(u64::MAX));
    // A fraction is read to the millisecond, rounded up.
    assert_eq!(retry_after_ms(&[("Retry-After", "2.0")]), Some(2_000));
    assert_eq!(retry_after_ms(&[("Retry-After", "1.5")]), Some(1_500));
    assert_eq!(retry_after_ms(&[("Retry-After", "0.0001")]), Some(1));
    assert_eq!(retry_after_ms(&[("Retry-After", "0.0000")]), Some(0));
    assert_eq!(retry_after_ms(&[("Retry-After", "3.14159")]), Some(3_142));
    assert_eq!(retry_after_ms(&[("Retry-After", "0.25")]), Some(250));
}

#[test]
fn retry_after_http_dates_in_all_three_forms_are_measured_from_date() {
    for value in
        ["Sun, 06 Nov 1994 08:50:07 GMT", "Sunday, 06-Nov-94 08:50:07 GMT", "Sun Nov  6 08:50:07 1994"]
    {
        assert_eq!(retry_after_ms(&[DATE, ("Retry-After", value)]), Some(30_000), "{value}");
        // `Date` may come after `Retry-After`.
        assert_eq!(retry_after_ms(&[("Retry-After", value), DATE]), Some(30_000), "{value}");
    }
    // The same instant as `Date`: no wait.
    assert_eq!(retry_after_ms(&[DATE, ("Retry-After", "Sun, 06 Nov 1994 08:49:37 GMT")]), Some(0));
}

#[test]
fn garbage_retry_after_is_absent() {
    for value in ["", " ", "-1", "+5", "1.", ".5", "1.5.0", "1,5", "soon", "1e3", "0x10", "5,6", "1 .5"] {
        assert_eq!(retry_after_ms(&[("Retry-After", value)]), None, "{value:?}");
    }
    // A date with no `Date` to measure it from, or before `Date`.
    assert_eq!(retry_after_ms(&[("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")]), None);
    assert_eq!(retry_after_ms(&[DATE, ("Retry-After", "Sun, 06 Nov 1994 08:49:36 GMT")]), None);
    assert_eq!(
        retry_after_ms(&[("Date", "yesterday"), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")]),
        None
    );
}

#[test]
fn a_repeated_retry_after_keeps_the_longest_wait() {
    assert_eq!(
        retry_after_ms(&[("Retry-After", "5"), ("Retry-After", "9"), ("Retry-After", "x")]),
        Some(9_000)
    );
}

#[test]
fn rate_limit_headers_are_read_case_insensitively_and_garbage_is_absent() {
    let seen = RateLimitHeaders::read(&[
        ("x-ratelimit-limit", "250"),
        ("X-RATELIMIT-REMAINING", "17"),
        ("X-RateLimit-Window", "10"),
        ("X-RateLimit-Context", " POST.events "),
    ]);
    assert_eq!(seen.limit, Some(250));
    assert_eq!(seen.remaining, Some(17));
    assert_eq!(seen.window_ms, Some(10_000));
    assert_eq!(seen.context.map(|c| c.as_str().to_owned()).as_deref(), Some("POST.events"));
    let garbage = RateLimitHeaders::read(&[
        ("X-RateLimit-Limit", "-1"),
        ("X-RateLimit-Remaining", "many"),
        ("X-RateLimit-Window", "1.5"),
        ("X-RateLimit-Context", "two words"),
    ]);
    assert_eq!(garbage, RateLimitHeaders::default());
    // Huge values saturate rather than vanish.
    let huge =
        RateLimitHeaders::read(&[("X-RateLimit-Window", "99999999999"), ("X-RateLimit-Limit", "4294967296")]);
    assert_eq!((huge.window_ms, huge.limit), (Some(u32::MAX), Some(u32::MAX)));
}

#[test]
fn remaining_zero_holds_the_context_for_a_window() {
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    let headers =
        [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Window", "10"), ("X-RateLimit-Context", "events")];
    limits.observe(1_000, 201, &headers);
    assert_eq!(limits.acquire(1_001, Some(b"events")), Permit::Wait { until_ms: 11_000 });
    assert_eq!(limits.acquire(1_001, Some(b"global")), Permit::Go);
    assert_eq!(limits.acquire(11_000, Some(b"events")), Permit::Go);
}

#[test]
fn retry_after_takes_precedence_over_the_window() {
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    let headers = [
        ("Retry-After", "2"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Window", "10"),
        ("X-RateLimit-Context", "events"),
    ];
    limits.observe(0, 429, &headers);
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Wait { until_ms: 2_000 });
    assert_eq!(limits.acquire(2_000, Some(b"events")), Permit::Go);
}

#[test]
fn a_429_without_a_context_holds_every_request() {
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 429, &[("Retry-After", "3")]);
    assert_eq!(limits.acquire(5, Some(b"events")), Permit::Wait { until_ms: 3_000 });
    assert_eq!(limits.acquire(5, None), Permit::Wait { until_ms: 3_000 });
    assert_eq!(limits.acquire(3_000, Some(b"people")), Permit::Go);
}

#[test]
fn retry_after_on_a_success_is_not_a_hold() {
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 200, &[("Retry-After", "30"), ("X-RateLimit-Context", "events")]);
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
}

#[test]
fn an_evicted_context_still_holds_requests_until_its_retry_after() {
    let mut limits = RateLimits::<2>::new(Pacing::Burst);
    limits.observe(0, 429, &[("Retry-After", "60"), ("X-RateLimit-Context", "a")]);
    limits.observe(1, 200, &[("X-RateLimit-Context", "b")]);
    limits.observe(2, 200, &[("X-RateLimit-Context", "c")]); // evicts `a`, the least recently used
    assert_eq!(limits.acquire(3, Some(b"a")), Permit::Wait { until_ms: 60_000 });
    assert_eq!(limits.acquire(60_000, Some(b"a")), Permit::Go);
}

#[test]
fn zero_contexts_still_honour_retry_after() {
    let mut limits = RateLimits::<0>::new(Pacing::Smooth);
    limits.observe(0, 429, &[("Retry-After", "2"), ("X-RateLimit-Context", "events")]);
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Wait { until_ms: 2_000 });
}

#[test]
fn smooth_pacing_spaces_requests_one_under_the_limit() {
    let mut limits = RateLimits::<4>::new(Pacing::Smooth);
    let headers =
        [("X-RateLimit-Limit", "11"), ("X-RateLimit-Window", "10"), ("X-RateLimit-Context", "events")];
    limits.observe(0, 201, &headers);
    assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Wait { until_ms: 1_000 });
    assert_eq!(limits.acquire(1_000, Some(b"events")), Permit::Go);
}

/// The figures of this run are printed by `cargo run --example rate_limit_sim`.
#[test]
fn a_client_following_the_crate_meets_no_429_once_it_has_seen_the_headers() {
    for pacing in [Pacing::Burst, Pacing::Smooth] {
        let report = sim::run(pacing, 200, 20, 10_000, 40);
        assert_eq!(report.succeeded, 200, "{pacing:?}: {report:?}");
        assert_eq!(report.rate_limited_after_headers, 0, "{pacing:?}: {report:?}");
        // And it is not needlessly slow: 200 requests at 20 per 10 s need at least 90 s.
        assert!(report.total_ms < 130_000, "{pacing:?}: {report:?}");
    }
}

#[test]
fn without_the_shared_state_the_same_client_meets_429s() {
    // The control for the test above: the server in it does rate limit.
    let mut server = sim::Server::new(20, 10_000);
    let rejected = (0..40).filter(|i| server.handle(i * 40).0 == 429).count();
    assert_eq!(rejected, 20);
}

#[test]
fn the_budget_stops_retries_during_an_outage_and_lets_them_resume_after() {
    let policy = Policy::FOLLOW_UP_BOSS;
    let mut budget = RetryBudget::new(50, 5, 10, 1);
    let mut rng = SplitMix(1);
    let mut first_refusal = None;
    // An outage: every request fails with 503 on its first attempt.
    for i in 0..30 {
        let mut reply = Request::new(0, Idempotency::Idempotent).response::<32, _>(&policy, 503, &());
        let _ = reply.feed(b"");
        match reply.finish(&policy, 0, &mut rng).settle(Some(&mut budget)) {
            Action::Retry(_) => {}
            Action::Fail(error) => {
                assert_eq!(error.stop, Stop::BudgetExhausted);
                assert_eq!(error.kind(), ErrorKind::ServerError);
                first_refusal.get_or_insert(i);
            }
            Action::Succeed { .. } => unreachable!(),
        }
    }
    assert_eq!(first_refusal, Some(10), "50 tokens pay for 10 retries at 5 each");
    assert_eq!(budget.tokens(), 0);
    // Recovery: successes refill the bucket, and retries are paid for again.
    for _ in 0..5 {
        let reply = Request::new(0, Idempotency::Idempotent).response::<32, _>(&policy, 201, &());
        assert!(matches!(
            reply.finish(&policy, 0, &mut rng).settle(Some(&mut budget)),
            Action::Succeed { .. }
        ));
    }
    assert_eq!(budget.tokens(), 5);
    let reply = Request::new(0, Idempotency::Idempotent).response::<32, _>(&policy, 503, &());
    assert!(matches!(reply.finish(&policy, 0, &mut rng).settle(Some(&mut budget)), Action::Retry(_)));
    // Permanent failures and successes never spend tokens.
    let reply = Request::new(0, Idempotency::Idempotent).response::<32, _>(&policy, 400, &());
    assert!(
        matches!(reply.finish(&policy, 0, &mut rng).settle(Some(&mut budget)), Action::Fail(e) if e.stop == Stop::Permanent)
    );
    assert_eq!(budget.tokens(), 0);
}

#[derive(Clone, Debug)]
enum Op {
    Observe {
        dt: u64,
        status: u16,
        retry_after: Option<String>,
        context: Option<u8>,
        remaining: Option<u8>,
        window: Option<u8>,
    },
    Acquire {
        dt: u64,
        context: Option<u8>,
    },
    Abandon {
        context: Option<u8>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let ctx = prop::option::of(0u8..4);
    prop_oneof![
        (
            0u64..5_000,
            prop::sample::select(vec![200u16, 201, 429, 503, 500]),
            prop::option::of(prop_oneof!["[0-9]{1,3}", ".{0,4}"]),
            ctx.clone(),
            prop::option::of(0u8..3),
            prop::option::of(0u8..30),
        )
            .prop_map(|(dt, status, retry_after, context, remaining, window)| Op::Observe {
                dt,
                status,
                retry_after,
                context,
                remaining,
                window
            }),
        (0u64..5_000, ctx.clone()).prop_map(|(dt, context)| Op::Acquire { dt, context }),
        ctx.prop_map(|context| Op::Abandon { context }),
    ]
}

const NAMES: [&[u8]; 4] = [b"global", b"events", b"people", b"POST.events"];

fn check_rate_limits<const C: usize>(pacing: Pacing, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut limits = RateLimits::<C>::new(pacing);
    let mut now = 0u64;
    // (context or all, until): every Retry-After the state was told.
    let mut told: Vec<(Option<u8>, u64)> = Vec::new();
    let mut longest = 0u64;
    for op in ops {
        match op {
            Op::Observe { dt, status, retry_after, context, remaining, window } => {
                now += dt;
                let mut headers: Vec<(&str, String)> = Vec::new();
                if let Some(v) = retry_after {
                    headers.push(("Retry-After", v.clone()));
                }
                if let Some(c) = context {
                    headers.push((
                        "X-RateLimit-Context",
                        String::from_utf8(NAMES[*c as usize].to_vec()).unwrap(),
                    ));
                }
                if let Some(r) = remaining {
                    headers.push(("X-RateLimit-Remaining", r.to_string()));
                }
                if let Some(w) = window {
                    headers.push(("X-RateLimit-Window", w.to_string()));
                    headers.push(("X-RateLimit-Limit", "3".to_owned()));
                    longest = longest.max(u64::from(*w) * 1000);
                }
                let wait = retry_after_ms(headers.as_slice());
                if matches!(status, 429 | 503) {
                    if let Some(wait) = wait {
                        told.push((*context, now + wait));
                        longest = longest.max(wait);
                    }
                }
                limits.observe(now, *status, headers.as_slice());
            }
            Op::Abandon { context } => limits.abandon(context.map(|c| NAMES[c as usize])),
            Op::Acquire { dt, context } => {
                now += dt;
                let name = context.map(|c| NAMES[c as usize]);
                match limits.acquire(now, name) {
                    Permit::Go => {
                        for (ctx, until) in &told {
                            let applies = ctx.is_none() || context.is_none() || ctx == context;
                            prop_assert!(
                                !applies || now >= *until,
                                "let through at {} before {} ({:?})",
                                now,
                                until,
                                ctx
                            );
                        }
                    }
                    Permit::Wait { until_ms } => {
                        prop_assert!(until_ms > now);
                        prop_assert!(
                            until_ms - now <= longest,
                            "held {} ms, longest told {}",
                            until_ms - now,
                            longest
                        );
                    }
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// The shared state never lets a request through before a `Retry-After` that applies to
    /// it has passed, and never holds one back longer than the longest wait it was told —
    /// with room for every context, and with too little room (eviction).
    #[test]
    fn never_early_never_longer_than_told(ops in prop::collection::vec(op(), 1..60), smooth in any::<bool>()) {
        let pacing = if smooth { Pacing::Smooth } else { Pacing::Burst };
        check_rate_limits::<4>(pacing, &ops)?;
        check_rate_limits::<2>(pacing, &ops)?;
        check_rate_limits::<0>(pacing, &ops)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Several requests in flight at once, answered out of order after random latencies (5 to
    /// 200 ms each way), by a server with any sliding-window limit: a client that asks the
    /// shared state before every send meets no 429 once it has seen the headers (none at all
    /// when no more are in flight at the start than the limit allows) — in `Burst` always, in `Smooth` when the
    /// latency varies by less than one spacing (`Window / (Limit − 1)`), as documented.
    #[test]
    fn with_requests_in_flight_a_client_following_the_state_meets_no_429(
        seed in any::<u64>(), concurrency in 1usize..9, limit in 1usize..40, window_s in 1u64..20, smooth in any::<bool>(),
    ) {
        let pacing = if smooth { Pacing::Smooth } else { Pacing::Burst };
        if smooth {
            prop_assume!(window_s * 1000 / (limit.max(2) as u64 - 1) > 200);
        }
        let report = sim::run_overlapping(pacing, 3 * limit + 5, concurrency, limit, window_s * 1000, seed);
        prop_assert_eq!(report.rate_limited_after_headers, 0, "{:?}", report);
        if concurrency <= limit {
            prop_assert_eq!(report.rate_limited, 0, "{:?}", report);
        }
        prop_assert_eq!(report.succeeded, 3 * limit + 5);
    }
}

/// Found by the whole-client property (case 33 598 of 50 000): a far hold that is no longer
/// believed must not lend its instant to a nearer hold learnt later that still is.
#[test]
fn a_far_hold_no_longer_believed_does_not_stretch_a_later_nearer_one() {
    let mut limits = RateLimits::<4>::new(Pacing::Burst).with_max_hold_ms(10_000);
    // A spent 60 s window: told until 60 000, believed until 10 000.
    limits.observe(
        0,
        200,
        &[("X-RateLimit-Context", "events"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Window", "60")],
    );
    assert_eq!(limits.acquire(9_000, Some(b"events")), Permit::Wait { until_ms: 60_000 });
    // A 429 at 9 s: 5 s more, believed whole.
    limits.observe(9_000, 429, &[("X-RateLimit-Context", "events"), ("Retry-After", "5")]);
    assert_eq!(limits.acquire(9_500, Some(b"events")), Permit::Wait { until_ms: 60_000 });
    for now in [10_000, 12_000, 13_999] {
        assert_eq!(limits.acquire(now, Some(b"events")), Permit::Wait { until_ms: 14_000 }, "at {now}");
    }
    assert_eq!(limits.acquire(14_000, Some(b"events")), Permit::Go);
}

/// Of two far holds, the one learnt later (believed longer) is kept: a request told its
/// instant and waiting for it goes after the other has stopped being believed.
#[test]
fn of_two_far_holds_the_later_is_kept_and_waiting_for_it_outlasts_the_earlier() {
    let mut limits = RateLimits::<4>::new(Pacing::Burst).with_max_hold_ms(10_000);
    limits.observe(0, 429, &[("Retry-After", "100")]); // believed until 10 000
    limits.observe(5_000, 429, &[("Retry-After", "12")]); // until 17 000, believed until 15 000
    let Permit::Wait { until_ms } = limits.acquire(6_000, None) else { panic!("held") };
    assert_eq!(until_ms, 17_000);
    assert!(until_ms >= 10_000, "waiting for it outlasts the first hold's belief");
    assert_eq!(limits.acquire(14_999, None), Permit::Wait { until_ms: 17_000 });
    assert_eq!(limits.acquire(15_000, None), Permit::Go);
}

/// Found by the whole-client property: after a `Retry-After`, the count restarts from what the
/// next response says, even one that is not fresh (another send was in flight): a stale 408
/// saying 12 remain must not turn the 2-second hold into its 24-second window.
#[test]
fn after_a_retry_after_the_count_restarts_from_the_next_response_fresh_or_not() {
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
    assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
    limits.observe(16, 503, &[("X-RateLimit-Context", "events"), ("Retry-After", "2")]);
    limits.observe(
        47,
        408,
        &[("X-RateLimit-Context", "events"), ("X-RateLimit-Remaining", "12"), ("X-RateLimit-Window", "24")],
    );
    assert_eq!(limits.acquire(2_015, Some(b"events")), Permit::Wait { until_ms: 2_016 });
    assert_eq!(limits.acquire(2_016, Some(b"events")), Permit::Go);
}
