//! Whole request lifecycles through the public API, on the preset and on small policies.

mod common;

use backoff_core::{
    Action, BodyKind, ErrorKind, Idempotency, Jitter, JitterSource, Policy, Request, Stop, TransportFailure,
    Wait,
};
use common::{broken, SplitMix};

const PRESET: Policy = Policy::FOLLOW_UP_BOSS;
type Act = Action<128>;

fn respond(policy: &Policy, req: Request, now: u64, status: u16, body: &[u8], rng: &mut SplitMix) -> Act {
    req.complete(policy, now, status, &(), body, rng)
}

#[test]
fn preset_schedule_doubles_from_one_second_then_holds_the_cap() {
    let expected = [
        (1000, 2000),
        (2000, 3000),
        (4000, 5000),
        (8000, 9000),
        (16_000, 17_000),
        (32_000, 32_000),
        (32_000, 32_000),
        (32_000, 32_000),
    ];
    for seed in 0..200 {
        let mut rng = SplitMix(seed);
        let mut now = 5;
        let mut req = Request::new(now, Idempotency::Idempotent);
        for (n, &(lo, hi)) in expected.iter().enumerate() {
            let Action::Retry(retry) = respond(&PRESET, req, now, 503, b"", &mut rng) else {
                panic!("retry {n} was not a retry");
            };
            assert!((lo..=hi).contains(&retry.delay_ms), "retry {n}: {} not in {lo}..={hi}", retry.delay_ms);
            assert_eq!(retry.at_ms, now + u64::from(retry.delay_ms));
            assert_eq!(retry.request.retries(), n as u32 + 1);
            now = retry.at_ms;
            req = retry.request;
        }
        let Action::Fail(error) = respond(&PRESET, req, now, 503, b"", &mut rng) else {
            panic!("the ninth failure must end the request");
        };
        assert_eq!(error.stop, Stop::RetriesExhausted);
        assert_eq!(error.attempts, 9);
        assert_eq!(error.kind(), ErrorKind::ServerError);
    }
}

#[test]
fn jitter_is_drawn_afresh_for_each_retry() {
    let mut rng = SplitMix(42);
    let mut req = Request::new(0, Idempotency::Idempotent);
    let mut jitters = Vec::new();
    for n in 0..4 {
        let Action::Retry(retry) = respond(&PRESET, req, 0, 500, b"", &mut rng) else { panic!() };
        jitters.push(retry.delay_ms - (1000 << n));
        req = retry.request;
    }
    jitters.dedup();
    assert!(jitters.len() > 1, "the same jitter on every retry: {jitters:?}");
}

#[test]
fn bad_request_fails_at_once_with_its_error_message() {
    let body = br#"{"errorMessage":"Invalid fields in the request body: emails."}"#;
    let Action::Fail(error) =
        respond(&PRESET, Request::new(0, Idempotency::Idempotent), 3, 400, body, &mut SplitMix(1))
    else {
        panic!("400 must fail")
    };
    assert_eq!(error.kind(), ErrorKind::BadRequest);
    assert_eq!(error.status(), Some(400));
    assert_eq!(error.message(), Some("Invalid fields in the request body: emails."));
    assert_eq!(error.stop, Stop::Permanent);
    assert_eq!(error.attempts, 1);
    assert_eq!(
        error.to_string(),
        "bad request (400): Invalid fields in the request body: emails. [not retryable after 1 attempt(s)]"
    );
}

#[test]
fn unauthorized_forbidden_and_not_found_are_never_retried() {
    for (status, kind) in [
        (401, ErrorKind::Unauthorized),
        (403, ErrorKind::Forbidden),
        (404, ErrorKind::NotFound),
        (422, ErrorKind::ClientError),
    ] {
        let Action::Fail(error) =
            respond(&PRESET, Request::new(0, Idempotency::Idempotent), 0, status, b"{}", &mut SplitMix(1))
        else {
            panic!("{status} must fail")
        };
        assert_eq!(error.kind(), kind);
        assert_eq!(error.stop, Stop::Permanent);
        assert_eq!(error.cause.body.kind(), BodyKind::NoMessage);
    }
}

#[test]
fn rate_limited_waits_exactly_as_long_as_retry_after_says_when_the_policy_adds_no_spread() {
    let exact = PRESET.with_retry_after_jitter_ms(0);
    let headers = [("Retry-After", "8"), ("X-RateLimit-Context", "events")];
    let req = Request::new(100, Idempotency::Idempotent);
    let Action::Retry(retry) = req.complete::<128, _, _>(&exact, 100, 429, &headers, b"", &mut SplitMix(1))
    else {
        panic!("429 must retry")
    };
    assert_eq!(retry.delay_ms, 8000);
    assert_eq!(retry.at_ms, 8100);
    assert_eq!(retry.wait, Wait::RetryAfter(JitterSource::NotDrawn));
    assert_eq!(retry.cause.kind, ErrorKind::RateLimited);
}

#[test]
fn rate_limited_waits_retry_after_plus_the_presets_spread_of_up_to_a_second() {
    let headers = [("Retry-After", "8")];
    let mut seen = std::collections::BTreeSet::new();
    for seed in 0..200 {
        let req = Request::new(100, Idempotency::Idempotent);
        let Action::Retry(retry) =
            req.complete::<128, _, _>(&PRESET, 100, 429, &headers, b"", &mut SplitMix(seed))
        else {
            panic!("429 must retry")
        };
        assert!((8000..=9000).contains(&retry.delay_ms), "{}", retry.delay_ms);
        assert_eq!(retry.at_ms, 100 + u64::from(retry.delay_ms));
        assert_eq!(retry.wait, Wait::RetryAfter(JitterSource::Rng));
        seen.insert(retry.delay_ms);
    }
    assert!(seen.len() > 150, "the spread is drawn afresh: {} distinct waits", seen.len());
}

#[test]
fn retry_after_is_read_only_on_429_and_503() {
    let exact = PRESET.with_retry_after_jitter_ms(0);
    let headers = [("Retry-After", "8")];
    for status in [429, 503] {
        let req = Request::new(0, Idempotency::Idempotent);
        let Action::Retry(retry) =
            req.complete::<128, _, _>(&exact, 0, status, &headers, b"", &mut SplitMix(3))
        else {
            panic!("{status} must retry")
        };
        assert_eq!(
            (retry.delay_ms, retry.wait),
            (8000, Wait::RetryAfter(JitterSource::NotDrawn)),
            "{status}"
        );
    }
    // Other server errors back off as if the header were not there.
    for status in [500, 502, 504] {
        let with = Request::new(0, Idempotency::Idempotent);
        let Action::Retry(with) =
            with.complete::<128, _, _>(&exact, 0, status, &headers, b"", &mut SplitMix(3))
        else {
            panic!("{status} must retry")
        };
        let without = Request::new(0, Idempotency::Idempotent);
        let Action::Retry(without) =
            without.complete::<128, _, _>(&exact, 0, status, &(), b"", &mut SplitMix(3))
        else {
            panic!("{status} must retry")
        };
        assert_eq!(with.wait, Wait::Backoff(JitterSource::Rng), "{status}");
        assert_eq!(with.delay_ms, without.delay_ms, "{status}");
        assert!((1000..=2000).contains(&with.delay_ms), "{status}: {}", with.delay_ms);
    }
}

#[test]
fn rate_limited_without_retry_after_backs_off() {
    let Action::Retry(retry) =
        respond(&PRESET, Request::new(0, Idempotency::Idempotent), 0, 429, b"", &mut SplitMix(9))
    else {
        panic!()
    };
    assert!((1000..=2000).contains(&retry.delay_ms));
    assert_eq!(retry.wait, Wait::Backoff(JitterSource::Rng));
}

#[test]
fn retry_after_http_date_is_relative_to_date_header() {
    let headers =
        [("date", "Sun, 06 Nov 1994 08:49:37 GMT"), ("retry-after", "Sunday, 06-Nov-94 08:51:37 GMT")];
    let exact = PRESET.with_retry_after_jitter_ms(0);
    let req = Request::new(0, Idempotency::Idempotent);
    let Action::Retry(retry) = req.complete::<128, _, _>(&exact, 0, 503, &headers, b"", &mut SplitMix(1))
    else {
        panic!()
    };
    assert_eq!(retry.delay_ms, 120_000);
}

#[test]
fn retry_after_longer_than_the_ceiling_fails_now() {
    let req = Request::new(0, Idempotency::Idempotent);
    let action = req.complete::<128, _, _>(&PRESET, 0, 429, &[("Retry-After", "601")], b"", &mut SplitMix(1));
    let Action::Fail(error) = action else { panic!("must fail") };
    assert_eq!(error.stop, Stop::RetryAfterTooLong);
    let at_ceiling = Request::new(0, Idempotency::Idempotent).complete::<128, _, _>(
        &PRESET,
        0,
        429,
        &[("Retry-After", "600")],
        b"",
        &mut SplitMix(1),
    );
    assert!(matches!(at_ceiling, Action::Retry(r) if (600_000..=601_000).contains(&r.delay_ms)));
}

#[test]
fn garbage_retry_after_falls_back_to_backoff() {
    for value in ["", "-5", "soon", "1e3", "1.", ".5", "1.2.3", "8 s", "Sun, 06 Nov 1994 08:49:37 GMT"] {
        let req = Request::new(0, Idempotency::Idempotent);
        let action =
            req.complete::<128, _, _>(&PRESET, 0, 429, &[("Retry-After", value)], b"", &mut SplitMix(1));
        let Action::Retry(retry) = action else { panic!("{value:?}: must retry") };
        assert!(matches!(retry.wait, Wait::Backoff(_)), "{value:?} was not ignored");
    }
}

#[test]
fn success_succeeds_and_counts_attempts() {
    let mut rng = SplitMix(3);
    for status in [200, 201, 204, 299] {
        assert!(matches!(
            respond(&PRESET, Request::new(0, Idempotency::Idempotent), 0, status, b"{}", &mut rng),
            Action::Succeed { attempts: 1 }
        ));
    }
    let Action::Retry(retry) =
        respond(&PRESET, Request::new(0, Idempotency::Idempotent), 0, 502, b"", &mut rng)
    else {
        panic!()
    };
    assert!(matches!(
        respond(&PRESET, retry.request, retry.at_ms, 201, b"", &mut rng),
        Action::Succeed { attempts: 2 }
    ));
}

#[test]
fn transport_failures_are_retried_with_backoff() {
    let mut rng = SplitMix(5);
    let mut req = Request::new(0, Idempotency::Idempotent);
    for failure in [TransportFailure::BeforeSend, TransportFailure::AfterSend] {
        let action: Act = req.transport_failure(&PRESET, 0, failure, &mut rng);
        let Action::Retry(retry) = action else { panic!("transport must retry") };
        assert_eq!(retry.cause.kind, ErrorKind::Transport);
        assert_eq!(retry.cause.status, None);
        assert_eq!(retry.cause.body.kind(), BodyKind::NotRead);
        req = retry.request;
    }
    assert_eq!(req.retries(), 2);
}

#[test]
fn not_idempotent_requests_retry_only_what_was_not_processed() {
    let mut rng = SplitMix(5);
    let req = || Request::new(0, Idempotency::NotIdempotent);
    for status in [500, 502, 503, 504] {
        let Action::Fail(error) = respond(&PRESET, req(), 0, status, b"", &mut rng) else {
            panic!("{status}")
        };
        assert_eq!(error.stop, Stop::MayHaveBeenProcessed);
    }
    // 408: the server never received the whole request (RFC 9110 §15.5.9).
    assert!(matches!(respond(&PRESET, req(), 0, 408, b"", &mut rng), Action::Retry(_)));
    let after: Act = req().transport_failure(&PRESET, 0, TransportFailure::AfterSend, &mut rng);
    assert!(matches!(after, Action::Fail(e) if e.stop == Stop::MayHaveBeenProcessed));
    let before: Act = req().transport_failure(&PRESET, 0, TransportFailure::BeforeSend, &mut rng);
    assert!(matches!(before, Action::Retry(_)));
    assert!(matches!(respond(&PRESET, req(), 0, 429, b"", &mut rng), Action::Retry(_)));
}

#[test]
fn a_retry_that_would_end_after_the_deadline_fails_now() {
    let policy = PRESET.with_deadline_ms(10_000);
    let mut rng = SplitMix(11);
    let mut req = Request::new(1_000, Idempotency::Idempotent);
    let mut now = 1_000;
    loop {
        match respond(&policy, req, now, 503, b"", &mut rng) {
            Action::Retry(retry) => {
                assert!(retry.at_ms - 1_000 <= 10_000, "retry scheduled past the deadline");
                now = retry.at_ms;
                req = retry.request;
            }
            Action::Fail(error) => {
                assert_eq!(error.stop, Stop::Deadline);
                // 1-2 s, 2-3 s, then 4-5 s would end at 7-10 s; 8-9 s more cannot fit.
                assert!((3..=4).contains(&error.attempts), "{}", error.attempts);
                break;
            }
            Action::Succeed { .. } => panic!(),
        }
    }
}

#[test]
fn a_clock_going_backwards_reads_as_no_time_passed() {
    let mut rng = SplitMix(2);
    let Action::Retry(first) =
        respond(&PRESET, Request::new(50_000, Idempotency::Idempotent), 50_000, 503, b"", &mut rng)
    else {
        panic!()
    };
    // The clock jumps back to 0: the next retry is counted from the latest instant seen.
    let Action::Retry(second) = respond(&PRESET, first.request, 0, 503, b"", &mut rng) else { panic!() };
    assert_eq!(second.at_ms, 50_000 + u64::from(second.delay_ms));
    // And a clock near u64::MAX saturates instead of wrapping.
    let Action::Retry(last) = respond(&PRESET, second.request, u64::MAX - 5, 503, b"", &mut rng) else {
        panic!()
    };
    assert_eq!(last.at_ms, u64::MAX);
}

#[test]
fn a_failing_rng_falls_back_to_clock_jitter_inside_the_bounds() {
    let mut rng = broken();
    let mut req = Request::new(0, Idempotency::Idempotent);
    let mut now = 0;
    let mut delays = Vec::new();
    for n in 0..5 {
        let action: Act = req.complete(&PRESET, now, 503, &(), b"", &mut rng);
        let Action::Retry(retry) = action else { panic!() };
        assert_eq!(retry.wait, Wait::Backoff(JitterSource::ClockFallback));
        let (lo, hi) = PRESET.delay_bounds(n);
        assert!((lo..=hi).contains(&retry.delay_ms));
        delays.push(retry.delay_ms - lo);
        now = retry.at_ms;
        req = retry.request;
    }
    delays.dedup();
    assert!(delays.len() > 1, "the fallback gave the same jitter every time");
}

#[test]
fn statuses_outside_2xx_4xx_5xx_fail_with_a_kind() {
    for (status, kind) in [
        (0, ErrorKind::InvalidStatus),
        (99, ErrorKind::InvalidStatus),
        (600, ErrorKind::InvalidStatus),
        (65535, ErrorKind::InvalidStatus),
        (100, ErrorKind::UnexpectedStatus),
        (304, ErrorKind::UnexpectedStatus),
    ] {
        let Action::Fail(error) =
            respond(&PRESET, Request::new(0, Idempotency::Idempotent), 0, status, b"x", &mut SplitMix(0))
        else {
            panic!("{status}")
        };
        assert_eq!(error.kind(), kind);
        assert_eq!(error.stop, Stop::Permanent);
    }
}

#[test]
fn unlimited_retries_saturate_at_the_cap_without_overflow() {
    let policy = PRESET.with_max_retries(u32::MAX).with_base_ms(u32::MAX).with_max_backoff_ms(u32::MAX);
    let mut rng = SplitMix(0);
    for retry in [31, 32, 33, 1000, u32::MAX - 1, u32::MAX] {
        let (delay, _) = policy.backoff(retry, 0, &mut rng);
        assert_eq!(delay, u32::MAX);
    }
    let mut req = Request::new(0, Idempotency::Idempotent);
    for _ in 0..40 {
        let Action::Retry(retry) = respond(&policy, req, 0, 503, b"", &mut rng) else { panic!() };
        req = retry.request;
    }
    assert_eq!(req.retries(), 40);
}

#[test]
fn a_body_fed_in_chunks_gives_the_same_error_as_whole() {
    let body =
        br#"{"data":{"errorMessage":"nested"},"errorMessage":"Lead \u00e9t\u00e9 locked \ud83d\ude00"}"#;
    let whole = respond(&PRESET, Request::new(0, Idempotency::Idempotent), 0, 403, body, &mut SplitMix(0));
    for size in 1..body.len() {
        let mut reply = Request::new(0, Idempotency::Idempotent).response::<128, _>(&PRESET, 403, &());
        for chunk in body.chunks(size) {
            let _ = reply.feed(chunk);
        }
        let Action::Fail(error) = reply.finish(&PRESET, 0, &mut SplitMix(0)) else { panic!() };
        assert_eq!(error.message(), Some("Lead été locked 😀"));
        assert!(matches!(&whole, Action::Fail(e) if *e == error));
    }
}

#[test]
fn a_retryable_attempt_still_reports_what_its_body_said() {
    let action = respond(
        &PRESET,
        Request::new(0, Idempotency::Idempotent),
        0,
        502,
        b"<html><head><title>502 Bad Gateway</title>",
        &mut SplitMix(0),
    );
    let Action::Retry(retry) = action else { panic!() };
    assert_eq!(retry.cause.body.kind(), BodyKind::NotJson);
    assert_eq!(retry.cause.body.raw_text(), Some("<html><head><title>502 Bad Gateway</title>"));
}

#[test]
fn decorrelated_jitter_grows_from_the_previous_delay_and_stays_under_the_cap() {
    let policy = PRESET.with_jitter(Jitter::Decorrelated).with_max_retries(30);
    let mut grew = false;
    for seed in 0..50 {
        let mut rng = SplitMix(seed);
        let mut req = Request::new(0, Idempotency::Idempotent);
        let mut previous = policy.base_ms;
        for _ in 0..30 {
            let Action::Retry(retry) = respond(&policy, req, 0, 503, b"", &mut rng) else { panic!() };
            let high = (previous * 3).min(policy.max_backoff_ms);
            assert!((policy.base_ms..=high).contains(&retry.delay_ms), "{} after {previous}", retry.delay_ms);
            grew |= retry.delay_ms > 3 * policy.base_ms;
            previous = retry.delay_ms;
            req = retry.request;
        }
    }
    assert!(grew, "decorrelated delays never grew past the first retry's range");
    // A Retry-After wait in between does not count as a backoff delay to grow from.
    let mut rng = SplitMix(1);
    let Action::Retry(first) =
        respond(&policy, Request::new(0, Idempotency::Idempotent), 0, 503, b"", &mut rng)
    else {
        panic!()
    };
    let action =
        first.request.complete::<128, _, _>(&policy, 0, 429, &[("Retry-After", "100")], b"", &mut rng);
    let Action::Retry(waited) = action else { panic!() };
    assert!((100_000..=101_000).contains(&waited.delay_ms), "{}", waited.delay_ms);
    let Action::Retry(next) = respond(&policy, waited.request, 0, 503, b"", &mut rng) else { panic!() };
    assert!(next.delay_ms <= 3 * first.delay_ms);
}

/// A request and a reply are plain data: written to bytes between two chunks (as the C door
/// keeps them in caller storage) and read back, they decide as if never put away.
#[test]
fn a_request_and_a_reply_kept_as_bytes_decide_as_if_never_put_away() {
    use backoff_core::Reply;
    let body = br#"{"errorMessage":"Invalid fields in the request body: emails."}"#;
    for seed in 0..20 {
        let (mut a, mut b) = (SplitMix(seed), SplitMix(seed));
        let direct = Request::new(5, Idempotency::NotIdempotent);
        let Action::Retry(first) = respond(&PRESET, direct, 5, 429, b"", &mut a) else { panic!() };
        let mut bytes = [0u8; Request::ENCODED_LEN];
        Request::new(5, Idempotency::NotIdempotent).encode(&mut bytes).unwrap();
        let kept = Request::decode(&bytes).unwrap();
        let Action::Retry(again) = respond(&PRESET, kept, 5, 429, b"", &mut b) else { panic!() };
        assert_eq!((first.delay_ms, first.request), (again.delay_ms, again.request));
        // A reply put away between two chunks, and one fed straight.
        let mut straight = first.request.response::<128, _>(&PRESET, 429, &());
        let _ = straight.feed(body);
        let mut reply = again.request.response::<128, _>(&PRESET, 429, &());
        let _ = reply.feed(&body[..20]);
        let mut bytes = [0u8; Reply::<128>::ENCODED_LEN];
        reply.encode(&mut bytes).unwrap();
        let mut reply = Reply::<128>::decode(&bytes).unwrap();
        assert_eq!(reply.status(), 429);
        let _ = reply.feed(&body[20..]);
        let Action::Retry(third) = reply.finish(&PRESET, first.at_ms, &mut b) else { panic!() };
        let Action::Retry(expected) = straight.finish(&PRESET, first.at_ms, &mut a) else { panic!() };
        assert_eq!(format!("{third:?}"), format!("{expected:?}"));
        assert_eq!(third.cause.body.message(), Some("Invalid fields in the request body: emails."));
        assert_eq!(third.request.retries(), 2);
        assert_eq!(third.request.idempotency(), Idempotency::NotIdempotent);
    }
}

/// Each action prints in one line: what to do, how long and why, and what went wrong.
#[test]
fn an_action_prints_in_one_line_what_to_do_and_why() {
    let mut rng = common::SplitMix(3);
    let request = Request::new(0, Idempotency::Idempotent);
    let action =
        request.complete::<64, _, _>(&Policy::FOLLOW_UP_BOSS, 0, 503, &(), b"<html>busy</html>", &mut rng);
    let Action::Retry(retry) = &action else { panic!("{action:?}") };
    assert_eq!(
        action.to_string(),
        format!(
            "retry in {} ms (backoff): server error (503), body not JSON: <html>busy</html>",
            retry.delay_ms
        )
    );
    let Action::Retry(retry) = action else { unreachable!() };
    let told = [("Retry-After", "3")];
    let action = retry.request.complete::<64, _, _>(
        &Policy::FOLLOW_UP_BOSS,
        5,
        429,
        &told[..],
        br#"{"errorMessage":"slow"}"#,
        &mut rng,
    );
    let Action::Retry(retry) = &action else { panic!("{action:?}") };
    assert_eq!(
        action.to_string(),
        format!("retry in {} ms (Retry-After): rate limited (429): slow", retry.delay_ms)
    );
    let Action::Retry(retry) = action else { unreachable!() };
    let action = retry.request.complete::<64, _, _>(
        &Policy::FOLLOW_UP_BOSS,
        9,
        400,
        &(),
        br#"{"errorMessage":"bad"}"#,
        &mut rng,
    );
    assert_eq!(action.to_string(), "fail: bad request (400): bad [not retryable after 3 attempt(s)]");
    let action = Request::new(0, Idempotency::Idempotent).complete::<64, _, _>(
        &Policy::FOLLOW_UP_BOSS,
        0,
        201,
        &(),
        b"",
        &mut rng,
    );
    assert_eq!(action.to_string(), "succeed after 1 attempt(s)");
    // An RNG that fails: the jitter came from the clock, and the line says so.
    let action = Request::new(0, Idempotency::Idempotent).complete::<64, _, _>(
        &Policy::FOLLOW_UP_BOSS,
        0,
        502,
        &(),
        b"",
        &mut broken(),
    );
    let Action::Retry(retry) = &action else { panic!("{action:?}") };
    assert_eq!(
        action.to_string(),
        format!("retry in {} ms (backoff, clock jitter): server error (502)", retry.delay_ms)
    );
}
