//! The `http` feature: `http::HeaderMap` and `http::Response` as the crate's inputs.
#![cfg(feature = "http")]

mod common;

use backoff_core::{
    Action, Headers, Idempotency, JitterSource, Pacing, Permit, Policy, RateLimits, Request, Stop, Wait,
};
use common::SplitMix;

fn response(status: u16, headers: &[(&str, &str)], _body: &str) -> http::Response<()> {
    let mut builder = http::Response::builder().status(status);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder.body(()).unwrap()
}

#[test]
fn header_maps_are_visited_with_their_names_and_values() {
    let r = response(200, &[("Retry-After", "5"), ("X-RateLimit-Context", "events")], "");
    let mut seen = Vec::new();
    r.headers().for_each(&mut |n, v| seen.push((n.to_vec(), v.to_vec())));
    // http lowercases names; the crate compares them case-insensitively anyway.
    assert!(seen.contains(&(b"retry-after".to_vec(), b"5".to_vec())));
    assert_eq!(seen.len(), 2);
}

#[test]
fn an_http_response_drives_the_state_machine_and_the_rate_limits() {
    let policy = Policy::FOLLOW_UP_BOSS.with_retry_after_jitter_ms(0); // exactly as told
    let r = response(429, &[("Retry-After", "7"), ("X-RateLimit-Context", "events")], "");
    let mut limits = RateLimits::<2>::new(Pacing::Burst);
    limits.observe(100, r.status().as_u16(), &r);
    assert_eq!(limits.acquire(101, Some(b"events")), Permit::Wait { until_ms: 7_100 });
    let mut reply = Request::new(100, Idempotency::Idempotent).http_response::<64, _>(&policy, &r);
    let _ = reply.feed(br#"{"errorMessage":"slow down"}"#);
    let Action::Retry(retry) = reply.finish(&policy, 100, &mut SplitMix(1)) else { panic!() };
    assert_eq!((retry.delay_ms, retry.wait), (7_000, Wait::RetryAfter(JitterSource::NotDrawn)));
    let r = response(404, &[], "");
    let Action::Fail(error) =
        retry.request.http_response::<64, _>(&policy, &r).finish(&policy, 7_100, &mut SplitMix(1))
    else {
        panic!()
    };
    assert_eq!(error.stop, Stop::Permanent);
}
