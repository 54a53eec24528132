//! Decisions that were wrong against real servers (nginx imitating the API, a reqwest client,
//! an independent model of the README): one regression test per finding.

mod common;

#[path = "common/sim.rs"]
mod sim;

use backoff_core::{
    http_date, retry_after_ms, Action, BodyKind, ErrorKind, Idempotency, JitterSource, Pacing, Permit,
    Policy, RateLimits, Request, Stop, Wait,
};
use common::SplitMix;

const PRESET: Policy = Policy::FOLLOW_UP_BOSS;

#[test]
fn a_retry_after_too_long_for_64_bits_fails_now_and_holds_the_context() {
    let huge = "99999999999999999999999999999999";
    let headers = [("Retry-After", huge), ("X-RateLimit-Context", "events")];
    let mut rng = SplitMix(1);
    let action = Request::new(0, Idempotency::Idempotent)
        .complete::<64, _, _>(&PRESET, 0, 429, &headers, b"", &mut rng);
    let Action::Fail(error) = action else { panic!("a wait past the ceiling must fail now: {action:?}") };
    assert_eq!(error.stop, Stop::RetryAfterTooLong);
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    limits.observe(0, 429, &headers);
    // The hold says what the server said; a request will not wait that long, so it fails at
    // once, unsent.
    assert_eq!(limits.acquire(1_000, Some(b"events")), Permit::Wait { until_ms: u64::MAX });
    let next = Request::new(1_000, Idempotency::Idempotent);
    let error =
        next.may_wait_until::<64>(&PRESET, 1_000, u64::MAX).expect_err("a wait past the ceiling fails now");
    assert_eq!(
        (error.stop, error.kind(), error.status(), error.attempts),
        (Stop::RetryAfterTooLong, ErrorKind::RateLimited, None, 0)
    );
    // It is believed for the ceiling (10 minutes) and no longer: then the client tries again.
    assert_eq!(limits.acquire(599_999, Some(b"events")), Permit::Wait { until_ms: u64::MAX });
    assert_eq!(limits.acquire(600_000, Some(b"events")), Permit::Go);
}

#[test]
fn an_rfc850_date_header_measures_an_http_date_retry_after() {
    // 2026: a year whose two digits RFC 850 readers pivoted on 1970 put in 1926.
    let headers =
        [("Date", "Saturday, 28-Nov-26 02:00:00 GMT"), ("Retry-After", "Sat, 28 Nov 2026 02:00:30 GMT")];
    assert_eq!(retry_after_ms(&headers), Some(30_000));
    let headers =
        [("Date", "Saturday, 28-Nov-26 02:00:00 GMT"), ("Retry-After", "Saturday, 28-Nov-26 02:00:09 GMT")];
    assert_eq!(retry_after_ms(&headers), Some(9_000));
}

#[test]
fn http_date_parse_answers_every_pivot_year_without_panicking() {
    for pivot in [0, 1, 99, 1969, 9999, 10_000, u32::MAX - 100, u32::MAX - 1, u32::MAX] {
        for value in [
            &b"Sunday, 06-Nov-94 08:49:37 GMT"[..],
            b"Monday, 06-Nov-00 08:49:37 GMT",
            b"Friday, 31-Dec-99 08:49:37 GMT",
        ] {
            match http_date::parse(value, pivot) {
                Ok(epoch) => assert!(http_date::YEARS.contains(&http_date::year_of(epoch))),
                Err(e) => assert_eq!(e, http_date::DateError::YearOutOfRange, "pivot {pivot}"),
            }
        }
    }
    // Far-future pivots are not clamped to one date: they are out of range.
    assert_eq!(
        http_date::parse(b"Sunday, 06-Nov-94 08:49:37 GMT", 20_000),
        Err(http_date::DateError::YearOutOfRange)
    );
}

#[test]
fn burst_pacing_with_requests_in_flight_meets_no_429() {
    for seed in 0..5 {
        let report = sim::run_overlapping(Pacing::Burst, 200, 4, 20, 10_000, seed);
        assert_eq!(report.succeeded, 200, "seed {seed}: {report:?}");
        assert_eq!(report.rate_limited, 0, "seed {seed}: {report:?}");
    }
}

#[test]
fn smooth_pacing_with_requests_in_flight_meets_no_429() {
    for seed in 0..5 {
        let report = sim::run_overlapping(Pacing::Smooth, 200, 4, 20, 10_000, seed);
        assert_eq!(report.succeeded, 200, "seed {seed}: {report:?}");
        assert_eq!(report.rate_limited, 0, "seed {seed}: {report:?}");
    }
}

#[test]
fn retry_after_zero_waits_at_least_the_floor_and_is_spread() {
    let mut delays = Vec::new();
    for seed in 0..50 {
        let mut rng = SplitMix(seed);
        let action = Request::new(0, Idempotency::Idempotent).complete::<64, _, _>(
            &PRESET,
            0,
            429,
            &[("Retry-After", "0")],
            b"",
            &mut rng,
        );
        let Action::Retry(retry) = action else { panic!("{action:?}") };
        assert_eq!(retry.wait, Wait::RetryAfter(JitterSource::Rng));
        assert!((1000..=2000).contains(&retry.delay_ms), "{}", retry.delay_ms);
        delays.push(retry.delay_ms);
    }
    delays.sort_unstable();
    delays.dedup();
    assert!(delays.len() > 10, "a fleet told the same instant must not arrive at once: {delays:?}");
}

#[test]
fn a_408_on_a_request_that_is_not_idempotent_is_retried() {
    let mut rng = SplitMix(3);
    let request = Request::new(0, Idempotency::NotIdempotent);
    let action = request.complete::<64, _, _>(&PRESET, 0, 408, &(), b"", &mut rng);
    let Action::Retry(retry) = action else {
        panic!("408 means the request never arrived whole: {action:?}")
    };
    assert_eq!(retry.cause.kind, ErrorKind::RequestTimeout);
}

#[test]
fn a_201_whose_body_was_cut_is_a_transport_failure_after_sending_not_a_success() {
    let mut rng = SplitMix(4);
    let mut reply = Request::new(0, Idempotency::Idempotent).response::<64, _>(&PRESET, 201, &());
    let _ = reply.feed(br#"{"id":12"#);
    let Action::Retry(retry) = reply.body_failed(&PRESET, 10, &mut rng) else {
        panic!("a cut 201 is not a success")
    };
    assert_eq!(retry.cause.kind, ErrorKind::Transport);
    assert_eq!(retry.cause.status, Some(201));
    assert_eq!(retry.cause.body.kind(), BodyKind::Truncated);
    assert!(matches!(retry.wait, Wait::Backoff(_)));
    // Not idempotent: it may have been processed, so it is not sent again.
    let reply = Request::new(0, Idempotency::NotIdempotent).response::<64, _>(&PRESET, 201, &());
    let Action::Fail(error) = reply.body_failed(&PRESET, 10, &mut rng) else { panic!() };
    assert_eq!((error.stop, error.cause.kind), (Stop::MayHaveBeenProcessed, ErrorKind::Transport));
}

#[test]
fn a_cut_error_body_is_not_the_servers_last_word() {
    let mut rng = SplitMix(4);
    let mut reply = Request::new(0, Idempotency::Idempotent).response::<64, _>(&PRESET, 400, &());
    let _ = reply.feed(br#"{"errorMessage":"Invalid fie"#);
    let Action::Retry(retry) = reply.body_failed(&PRESET, 10, &mut rng) else {
        panic!("a cut 400 body is retried")
    };
    assert_eq!(retry.cause.body.kind(), BodyKind::Truncated);
    assert_eq!(retry.cause.body.message(), None);
    // A 429 whose body broke off was still not processed, and its Retry-After still holds.
    let exact = PRESET.with_retry_after_jitter_ms(0);
    let reply =
        Request::new(0, Idempotency::NotIdempotent).response::<64, _>(&exact, 429, &[("Retry-After", "3")]);
    let Action::Retry(retry) = reply.body_failed(&exact, 10, &mut rng) else { panic!() };
    assert_eq!((retry.delay_ms, retry.wait), (3000, Wait::RetryAfter(JitterSource::NotDrawn)));
}

#[test]
fn fractional_delay_seconds_are_read_to_the_millisecond_rounded_up() {
    assert_eq!(retry_after_ms(&[("Retry-After", "2.0")]), Some(2_000));
    assert_eq!(retry_after_ms(&[("Retry-After", "1.0005")]), Some(1_001));
}
