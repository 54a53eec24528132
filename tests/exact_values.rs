//! Exact values wherever the behaviour is exact: the unbiased draw's rejection zone, the clock
//! fallback, `delay_bounds` against the formula at the edges, the budget's costs, the retry
//! classes, HTTP-date arithmetic, the shared rate-limit state's instants. These are the tests
//! that make a changed policy fail (`bash .ci/mutants`); a range check would let it slip.

mod common;

use backoff_core::{
    http_date, retry_after_ms, Action, ContextName, ErrorKind, Idempotency, Jitter, JitterSource, Pacing,
    Permit, Policy, RateLimitHeaders, RateLimits, Request, RetryBudget, RetryOn, Stop, TransportFailure,
};
use common::{broken, Scripted, SplitMix};

const PRESET: Policy = Policy::FOLLOW_UP_BOSS;

fn words(words: &[u32]) -> Scripted {
    Scripted { words: words.to_vec(), at: 0 }
}

/// The preset's first retry drawn from a script: 1000 ms plus `r` over `0..=1000`.
fn first_retry(script: &[u32]) -> (u32, JitterSource) {
    PRESET.backoff(0, 0, &mut words(script))
}

#[test]
fn the_draw_is_the_high_half_of_word_times_range() {
    // r = (w · 1001) >> 32.
    assert_eq!(first_retry(&[0x8000_0000]), (1500, JitterSource::Rng));
    assert_eq!(first_retry(&[u32::MAX]), (2000, JitterSource::Rng));
    assert_eq!(first_retry(&[0x4000_0000]), (1250, JitterSource::Rng));
}

#[test]
fn a_word_in_the_over_represented_zone_is_rejected_and_the_next_one_drawn() {
    // For a range of 1001, 2^32 mod 1001 = 620: a word whose low product is below 620 (0 is)
    // would make r = 0 over-represented; it is thrown away.
    assert_eq!(first_retry(&[0, 0x8000_0000]), (1500, JitterSource::Rng));
    // 4 290 676 620 · 1001 has a low half of exactly 620: not in the zone, kept (r = 1000).
    assert_eq!(first_retry(&[4_290_676_620, 0x8000_0000]), (2000, JitterSource::Rng));
}

#[test]
fn a_stuck_rng_is_given_up_after_sixteen_draws_keeping_the_last() {
    let mut script = vec![0u32; 16];
    script.push(0x8000_0000);
    assert_eq!(first_retry(&script), (1000, JitterSource::Rng), "the 17th word was drawn");
    // Fifteen zeros, then a good word: taken as the sixteenth draw.
    let mut script = vec![0u32; 15];
    script.push(0x8000_0000);
    assert_eq!(first_retry(&script), (1500, JitterSource::Rng));
}

#[test]
fn the_clock_fallback_is_splitmix64_of_the_clock_and_retry_number_scaled_onto_the_range() {
    // Computed independently: r = (mix(now ^ (n << 32)) · 1001) >> 64 with SplitMix64's
    // finaliser, on the preset (1000 << n ms plus r).
    for (now, retry, expected) in [
        (0, 0, 1884),
        (1, 0, 1567),
        (123_456_789, 0, 1133),
        (u64::MAX, 0, 1894),
        (5_000, 3, 8418),
        // Clock bits where the retry number goes: mixed in by xor, not or.
        (u64::MAX, 3, 8972),
        ((7 << 32) | 5, 2, 4040),
    ] {
        assert_eq!(
            PRESET.backoff(retry, now, &mut broken()),
            (expected, JitterSource::ClockFallback),
            "{now} {retry}"
        );
    }
}

#[test]
fn the_clock_fallback_over_the_widest_range_keeps_every_bit_of_the_hash() {
    // Over `0..=u32::MAX` the scaled value is the hash's high 32 bits, which the finaliser's
    // last xor-shift reaches (at bit 32).
    let wide = PRESET
        .with_jitter(Jitter::Additive { max_ms: u32::MAX })
        .with_base_ms(1)
        .with_max_backoff_ms(u32::MAX);
    assert_eq!(wide.backoff(0, 1, &mut broken()), (2_433_363_437, JitterSource::ClockFallback));
}

#[test]
fn equal_jitter_draws_the_upper_half_over_half_the_delay() {
    let equal = PRESET.with_jitter(Jitter::Equal);
    assert_eq!(equal.backoff(0, 0, &mut words(&[u32::MAX])), (1000, JitterSource::Rng));
    assert_eq!(equal.backoff(0, 0, &mut words(&[0x8000_0000])), (750, JitterSource::Rng));
    assert_eq!(equal.backoff(1, 0, &mut words(&[0x8000_0000])), (1500, JitterSource::Rng));
    let full = PRESET.with_jitter(Jitter::Full);
    assert_eq!(full.backoff(0, 0, &mut words(&[0x8000_0000])), (500, JitterSource::Rng));
}

#[test]
fn at_the_cap_additive_jitter_draws_nothing() {
    assert_eq!(PRESET.backoff(5, 0, &mut SplitMix(1)), (32_000, JitterSource::NotDrawn));
    assert_eq!(PRESET.backoff(4, 0, &mut SplitMix(1)).1, JitterSource::Rng);
    let none = PRESET.with_jitter(Jitter::None);
    assert_eq!(none.backoff(0, 0, &mut SplitMix(1)), (1000, JitterSource::NotDrawn));
}

#[test]
fn delay_bounds_follow_the_formula_at_every_edge() {
    let p = |jitter, base, cap| PRESET.with_jitter(jitter).with_base_ms(base).with_max_backoff_ms(cap);
    let additive = Jitter::Additive { max_ms: 1000 };
    let cases = [
        // None: min(2^n · base, cap).
        (p(Jitter::None, 1000, 32_000), 0, (1000, 1000)),
        (p(Jitter::None, 1000, 32_000), 5, (32_000, 32_000)),
        (p(Jitter::None, 1000, 32_000), 4, (16_000, 16_000)),
        (p(Jitter::None, u32::MAX, u32::MAX), u32::MAX, (u32::MAX, u32::MAX)),
        (p(Jitter::None, 1, 0), 3, (0, 0)),
        // Additive: min(2^n · base + 0..=max, cap).
        (p(additive, 1000, 32_000), 0, (1000, 2000)),
        (p(additive, 1000, 32_000), 4, (16_000, 17_000)),
        (p(additive, 1000, 32_000), 5, (32_000, 32_000)),
        (p(additive, 1000, 16_500), 4, (16_000, 16_500)),
        (p(additive, 0, 32_000), 9, (0, 1000)),
        (p(additive, 1000, 32_000), u32::MAX, (32_000, 32_000)),
        (p(Jitter::Additive { max_ms: u32::MAX }, u32::MAX, u32::MAX), 0, (u32::MAX, u32::MAX)),
        // Full: 0..=min(2^n · base, cap).
        (p(Jitter::Full, 1000, 32_000), 0, (0, 1000)),
        (p(Jitter::Full, 1000, 32_000), 10, (0, 32_000)),
        (p(Jitter::Full, 1, 1), 1, (0, 1)),
        // Equal: half (rounded up), plus up to the other half.
        (p(Jitter::Equal, 1001, 32_000), 0, (501, 1001)),
        (p(Jitter::Equal, 1000, 32_000), 1, (1000, 2000)),
        (p(Jitter::Equal, 1, 32_000), 0, (1, 1)),
        (p(Jitter::Equal, 1000, 3001), 5, (1501, 3001)),
        // Decorrelated: base..=min(3^(n+1) · base, cap).
        (p(Jitter::Decorrelated, 100, 1_000_000), 0, (100, 300)),
        (p(Jitter::Decorrelated, 100, 1_000_000), 1, (100, 900)),
        (p(Jitter::Decorrelated, 100, 1_000_000), 2, (100, 2700)),
        (p(Jitter::Decorrelated, 100, 1_000_000), 20, (100, 1_000_000)),
        (p(Jitter::Decorrelated, 2000, 1000), 0, (1000, 1000)),
        (p(Jitter::Decorrelated, u32::MAX, u32::MAX), u32::MAX, (u32::MAX, u32::MAX)),
    ];
    for (policy, n, expected) in cases {
        assert_eq!(
            policy.delay_bounds(n),
            expected,
            "{:?} base {} cap {} n {n}",
            policy.jitter,
            policy.base_ms,
            policy.max_backoff_ms
        );
    }
}

#[test]
fn each_retry_costs_what_the_budget_says_and_a_success_refunds() {
    let mut budget = RetryBudget::new(100, 5, 10, 1);
    let mut rng = SplitMix(1);
    let retry = |status: Option<u16>, budget: &mut RetryBudget, rng: &mut SplitMix| {
        let request = Request::new(0, Idempotency::Idempotent);
        let action: Action<16> = match status {
            Some(status) => {
                let reply = request.response::<16, _>(&PRESET, status, &());
                reply.finish(&PRESET, 0, rng).settle(Some(budget))
            }
            None => {
                request.transport_failure(&PRESET, 0, TransportFailure::BeforeSend, rng).settle(Some(budget))
            }
        };
        action
    };
    assert!(matches!(retry(None, &mut budget, &mut rng), Action::Retry(_)));
    assert_eq!(budget.tokens(), 90, "a transport failure costs the timeout cost");
    assert!(matches!(retry(Some(408), &mut budget, &mut rng), Action::Retry(_)));
    assert_eq!(budget.tokens(), 80, "so does a 408");
    assert!(matches!(retry(Some(503), &mut budget, &mut rng), Action::Retry(_)));
    assert_eq!(budget.tokens(), 75, "an error response costs the retry cost");
    assert!(matches!(retry(Some(429), &mut budget, &mut rng), Action::Retry(_)));
    assert_eq!(budget.tokens(), 70);
    assert!(matches!(retry(Some(201), &mut budget, &mut rng), Action::Succeed { .. }));
    assert_eq!(budget.tokens(), 71, "a success refunds");
    assert!(matches!(retry(Some(400), &mut budget, &mut rng), Action::Fail(_)));
    assert_eq!(budget.tokens(), 71, "a failure that is not retried costs nothing");
    let mut full = RetryBudget::new(3, 5, 10, 1);
    assert!(matches!(retry(Some(201), &mut full, &mut rng), Action::Succeed { .. }));
    assert_eq!(full.tokens(), 3, "never above the capacity");
    let Action::Fail(error) = retry(Some(503), &mut full, &mut rng) else { panic!() };
    assert_eq!((error.stop, full.tokens()), (Stop::BudgetExhausted, 3), "nothing taken when it cannot pay");
}

#[test]
fn a_class_left_out_of_retry_on_fails_at_once() {
    let servers_only = PRESET.with_retry_on(RetryOn::SERVER_ERROR);
    let mut rng = SplitMix(2);
    for status in [408, 429] {
        let action: Action<16> =
            Request::new(0, Idempotency::Idempotent).complete(&servers_only, 0, status, &(), b"", &mut rng);
        assert!(matches!(action, Action::Fail(ref e) if e.stop == Stop::Permanent), "{status}: {action:?}");
    }
    let action: Action<16> = Request::new(0, Idempotency::Idempotent).transport_failure(
        &servers_only,
        0,
        TransportFailure::BeforeSend,
        &mut rng,
    );
    assert!(matches!(action, Action::Fail(ref e) if e.stop == Stop::Permanent));
    let action: Action<16> =
        Request::new(0, Idempotency::Idempotent).complete(&servers_only, 0, 503, &(), b"", &mut rng);
    assert!(matches!(action, Action::Retry(_)));
    let nothing = PRESET.with_retry_on(RetryOn::NOTHING);
    let action: Action<16> =
        Request::new(0, Idempotency::Idempotent).complete(&nothing, 0, 503, &(), b"", &mut rng);
    assert!(
        matches!(action, Action::Fail(ref e) if e.stop == Stop::Permanent && e.kind() == ErrorKind::ServerError)
    );
}

#[test]
fn retry_classes_are_distinct_bits_and_combine_as_a_set() {
    let classes =
        [RetryOn::REQUEST_TIMEOUT, RetryOn::RATE_LIMITED, RetryOn::SERVER_ERROR, RetryOn::TRANSPORT];
    for (i, a) in classes.iter().enumerate() {
        assert!(RetryOn::ALL.contains(*a));
        assert!(!RetryOn::NOTHING.contains(*a));
        assert_eq!(a.union(*a), *a);
        for (j, b) in classes.iter().enumerate() {
            assert_eq!(a.contains(*b), i == j, "{i} {j}");
            assert!(a.union(*b).contains(*a) && a.union(*b).contains(*b));
            assert_eq!(*a | *b, a.union(*b));
            // Only the two: no third class slips in.
            let others = classes.iter().filter(|c| *c != a && *c != b);
            assert!(others.clone().all(|c| !a.union(*b).contains(*c)), "{i} {j}");
        }
    }
    let union = classes.iter().fold(RetryOn::NOTHING, |set, c| set.union(*c));
    assert_eq!(union, RetryOn::ALL);
    assert!(RetryOn::NOTHING.contains(RetryOn::NOTHING));
}

#[test]
fn headers_behind_a_reference_are_read_the_same() {
    let headers = [("Retry-After", "3")];
    let borrowed = &headers;
    assert_eq!(retry_after_ms(&borrowed), Some(3_000));
    assert_eq!(retry_after_ms(&&borrowed), Some(3_000));
}

#[test]
fn http_date_errors_say_what_they_are() {
    assert_eq!(http_date::DateError::Malformed.to_string(), "not an HTTP-date");
    assert_eq!(http_date::DateError::YearOutOfRange.to_string(), "HTTP-date year outside 1970-9999");
    assert_eq!(
        http_date::parse(b"Funday, 06-Nov-94 08:49:37 GMT", 2026),
        Err(http_date::DateError::Malformed),
        "a day name that is not one"
    );
    assert_eq!(
        http_date::parse(b"Sun, 06 Nov 1994 08:60:00 GMT", 2026),
        Err(http_date::DateError::Malformed)
    );
    assert_eq!(http_date::parse(b"Sun, 06 Nov 1994 08:59:60 GMT", 2026), Ok(784_112_400), "a leap second");
}

#[test]
fn http_dates_land_on_the_exact_second() {
    for (date, epoch) in [
        (&b"Fri, 01 Mar 2024 00:00:00 GMT"[..], 1_709_251_200),
        (b"Thu, 29 Feb 2024 00:00:00 GMT", 1_709_164_800),
        (b"Wed, 01 Mar 2023 00:00:00 GMT", 1_677_628_800),
        (b"Tue, 31 Dec 2024 00:00:00 GMT", 1_735_603_200),
        (b"Tue Dec 31 00:00:00 2024", 1_735_603_200),
    ] {
        assert_eq!(http_date::parse(date, 2026), Ok(epoch), "{}", String::from_utf8_lossy(date));
    }
    assert_eq!(
        http_date::parse(b"Fri, 30 Feb 2024 00:00:00 GMT", 2026),
        Err(http_date::DateError::Malformed)
    );
}

#[test]
fn rfc850_years_resolve_to_within_fifty_years_of_the_pivot_at_both_edges() {
    let year = |value: &[u8], pivot| http_date::parse(value, pivot).map(http_date::year_of);
    // Exactly 50 years after the pivot: still ahead.
    assert_eq!(year(b"Friday, 01-Jan-94 00:00:00 GMT", 2044), Ok(2094));
    // Exactly 50 years before: still behind.
    assert_eq!(year(b"Friday, 01-Jan-44 00:00:00 GMT", 2094), Ok(2044));
    // More than 50 before: the next century.
    assert_eq!(year(b"Sunday, 01-Jan-30 00:00:00 GMT", 2090), Ok(2130));
    assert_eq!(http_date::parse(b"Sunday, 01-Jan-30 00:00:00 GMT", 2090), Ok(5_049_129_600));
}

#[test]
fn the_shared_state_gives_exact_instants() {
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    assert_eq!(limits.hold_until(0, None), 0);
    limits.observe(1_000, 429, &[("Retry-After", "7"), ("X-RateLimit-Context", "events")]);
    assert_eq!(limits.hold_until(1_000, Some(b"events")), 8_000);
    assert_eq!(limits.hold_until(1_000, None), 8_000, "a request of no known context waits for all");
    assert_eq!(limits.hold_until(1_000, Some(b"people")), 0);
    assert_eq!(limits.acquire(7_999, Some(b"events")), Permit::Wait { until_ms: 8_000 });
    assert_eq!(limits.acquire(8_000, Some(b"events")), Permit::Go, "at the instant itself");
}

#[test]
fn an_abandoned_send_no_longer_counts_as_in_flight() {
    let headers =
        [("X-RateLimit-Limit", "2"), ("X-RateLimit-Window", "10"), ("X-RateLimit-Context", "events")];
    let one_left = [
        ("X-RateLimit-Limit", "2"),
        ("X-RateLimit-Window", "10"),
        ("X-RateLimit-Remaining", "1"),
        ("X-RateLimit-Context", "events"),
    ];
    // A send that got no response, released: the next response is the only one in flight.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 201, &headers);
    assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
    limits.abandon(Some(b"events"));
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
    limits.observe(2, 201, &one_left);
    assert_eq!(limits.acquire(3, Some(b"events")), Permit::Go, "one left, and nothing else in flight");
    // Not released: it still counts, so the same response leaves none.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 201, &headers);
    assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
    limits.observe(2, 201, &one_left);
    assert_eq!(limits.acquire(3, Some(b"events")), Permit::Wait { until_ms: 10_002 });
    // Releasing another context's send leaves this one counted.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 201, &headers);
    assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
    limits.abandon(Some(b"people"));
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
    limits.observe(2, 201, &one_left);
    assert_eq!(limits.acquire(3, Some(b"events")), Permit::Wait { until_ms: 10_002 });
    // `None` releases it in every context.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 201, &headers);
    assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
    limits.abandon(None);
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
    limits.observe(2, 201, &one_left);
    assert_eq!(limits.acquire(3, Some(b"events")), Permit::Go);
}

#[test]
fn a_send_older_than_a_window_is_forgotten_when_the_next_response_arrives() {
    let headers =
        [("X-RateLimit-Limit", "3"), ("X-RateLimit-Window", "10"), ("X-RateLimit-Context", "events")];
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 201, &headers);
    // Two sends; the first never answered.
    assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
    assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
    // A window later, a response with one left: every send is older than the window, so it is
    // read as the only one, and one request may go.
    let one_left = [
        ("X-RateLimit-Limit", "3"),
        ("X-RateLimit-Window", "10"),
        ("X-RateLimit-Remaining", "1"),
        ("X-RateLimit-Context", "events"),
    ];
    limits.observe(10_000, 201, &one_left);
    assert_eq!(limits.acquire(10_001, Some(b"events")), Permit::Go);
    // A moment before the window, the unanswered send still counts.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 201, &headers);
    assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
    assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
    limits.observe(9_999, 201, &one_left);
    assert_eq!(limits.acquire(10_000, Some(b"events")), Permit::Wait { until_ms: 19_999 });
}

#[test]
fn a_deadline_already_passed_stops_even_a_retry_that_would_wait_nothing() {
    // A cap of 0 makes every backoff 0 ms; the clock has run 1 ms past the 10 s deadline.
    let policy = PRESET.with_max_backoff_ms(0).with_deadline_ms(10_000);
    let request = Request::new(5, Idempotency::Idempotent);
    let action: Action<16> =
        request.transport_failure(&policy, 10_006, TransportFailure::BeforeSend, &mut SplitMix(1));
    assert!(matches!(action, Action::Fail(ref e) if e.stop == Stop::Deadline), "{action:?}");
    // At the deadline exactly, a retry that waits nothing still fits.
    let request = Request::new(5, Idempotency::Idempotent);
    let action: Action<16> =
        request.transport_failure(&policy, 10_005, TransportFailure::BeforeSend, &mut SplitMix(1));
    assert!(matches!(action, Action::Retry(ref r) if r.delay_ms == 0 && r.at_ms == 10_005), "{action:?}");
}

/// Follow Up Boss's headers for the `events` context: a limit of 5 per 10 s and what is left.
fn events_left(remaining: &str) -> [(&str, &str); 4] {
    [
        ("X-RateLimit-Limit", "5"),
        ("X-RateLimit-Window", "10"),
        ("X-RateLimit-Remaining", remaining),
        ("X-RateLimit-Context", "events"),
    ]
}

/// Acquires `events` at `now_ms` until it is told to wait; how many went.
fn sends_until_held(limits: &mut RateLimits<4>, now_ms: u64) -> usize {
    (0..10).take_while(|_| limits.acquire(now_ms, Some(b"events")) == Permit::Go).count()
}

#[test]
fn a_fresh_response_sets_the_count_even_upward_and_an_overlapped_one_only_lowers_it() {
    // Fresh (the only send since idle): the server's higher count replaces ours.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 201, &events_left("2"));
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
    limits.observe(2, 201, &events_left("4"));
    assert_eq!(sends_until_held(&mut limits, 3), 4);
    // Overlapped (two sends, two responses): neither response may raise it.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 201, &events_left("5"));
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
    limits.observe(2, 201, &events_left("3")); // 3 less the other in flight: 2
    limits.observe(3, 201, &events_left("4")); // not fresh either: stays 2
    assert_eq!(sends_until_held(&mut limits, 4), 2);
    // Idle again after both: the next single send's response is fresh.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 201, &events_left("5"));
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
    limits.observe(2, 201, &events_left("3"));
    limits.observe(3, 201, &events_left("3"));
    assert_eq!(limits.acquire(4, Some(b"events")), Permit::Go);
    limits.observe(5, 201, &events_left("4"));
    assert_eq!(sends_until_held(&mut limits, 6), 4);
}

#[test]
fn abandoning_one_of_two_sends_keeps_the_other_response_overlapped() {
    // Two sends, one abandoned: the other's response still overlapped a send, so it can only
    // lower the count (1 left of ours), not raise it to its 4.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 201, &events_left("3"));
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Go);
    limits.abandon(Some(b"events"));
    limits.observe(2, 201, &events_left("4"));
    assert_eq!(sends_until_held(&mut limits, 3), 1);
}

#[test]
fn a_reset_instant_already_past_falls_back_to_a_window_from_now() {
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    let with_reset = RateLimitHeaders {
        limit: Some(5),
        window_ms: Some(10_000),
        remaining: Some(3),
        context: ContextName::new(b"events"),
        reset_ms: Some(5_000),
        ..RateLimitHeaders::default()
    };
    limits.observe_parsed(0, 201, &with_reset);
    // At 6 s the reset at 5 s is past: out of quota now holds a window from now.
    let spent = RateLimitHeaders { remaining: Some(0), reset_ms: None, ..with_reset };
    limits.observe_parsed(6_000, 201, &spent);
    assert_eq!(limits.acquire(6_001, Some(b"events")), Permit::Wait { until_ms: 16_000 });
    // At the reset instant itself it is no longer ahead either.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_parsed(0, 201, &with_reset);
    limits.observe_parsed(5_000, 201, &spent);
    assert_eq!(limits.acquire(5_001, Some(b"events")), Permit::Wait { until_ms: 15_000 });
    // A reset instant still ahead is used as it is.
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe_parsed(0, 201, &RateLimitHeaders { remaining: Some(0), ..with_reset });
    assert_eq!(limits.acquire(1, Some(b"events")), Permit::Wait { until_ms: 5_000 });
}

#[test]
fn a_told_wait_that_just_fits_the_deadline_is_kept_and_one_that_does_not_stops() {
    // Deadline 10 s from 0; `Retry-After: 2` at 8 s leaves exactly the 2 s it asks for: the
    // retry goes at 10 s, the jitter cut to the deadline.
    let policy = PRESET.with_deadline_ms(10_000);
    let told = [("Retry-After", "2")];
    let finish = |now: u64| -> Action<16> {
        Request::new(0, Idempotency::Idempotent).response(&policy, 429, &told).finish(
            &policy,
            now,
            &mut SplitMix(3),
        )
    };
    let action = finish(8_000);
    assert!(matches!(action, Action::Retry(ref r) if r.delay_ms == 2_000 && r.at_ms == 10_000), "{action:?}");
    // One millisecond later it no longer fits: stopped, never retried early.
    let action = finish(8_001);
    assert!(matches!(action, Action::Fail(ref e) if e.stop == Stop::Deadline), "{action:?}");
    // Far from fitting (5 s asked, 2 s left): stopped too.
    let action = Request::new(0, Idempotency::Idempotent)
        .response::<16, _>(&policy, 429, &[("Retry-After", "5")])
        .finish(&policy, 8_000, &mut SplitMix(3));
    assert!(matches!(action, Action::Fail(ref e) if e.stop == Stop::Deadline), "{action:?}");
}
