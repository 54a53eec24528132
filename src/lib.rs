//! The retry and error policy of an HTTP API client, and nothing else.
//!
//! `backoff-core` takes what happened to a request — a status code, a few headers, the body,
//! or a transport failure — together with the time and a random source, and answers with the
//! one thing to do next: **succeed**, **fail** with a parsed error, or **retry** after exactly
//! this long. It owns no socket, no timer and no buffer of yours (the sans-IO shape of
//! `quinn-proto`): `#![no_std]`, no allocation, no floating point, no `unsafe`, and no panic
//! reachable from any public function (shown at link time by the firmware in
//! `examples/firmware`, whose panic handler does not exist).
//!
//! # The policy
//!
//! The preset, [`Policy::FOLLOW_UP_BOSS`], follows the Follow Up Boss API's "Error
//! Responses" and "Rate Limiting" pages:
//!
//! | outcome | next action |
//! |---|---|
//! | 2xx | succeed |
//! | 400, 401, 403, 404, other 4xx | fail at once, with the body's `errorMessage` |
//! | 408, 5xx, 429 without `Retry-After`, transport failure, a body cut mid-way | retry with truncated exponential backoff |
//! | 429 (and 503) with `Retry-After` | retry after `max(Retry-After, 1 s)` plus up to 1 s of spread, never earlier; too long → fail now |
//! | 1xx, 3xx, < 100, > 599 | fail |
//!
//! The n-th retry (n = 0 for the first) waits
//!
//! ```text
//! wait_ms = min(2^n · base_ms + r, max_backoff_ms),   r uniform over 0..=jitter_ms
//! ```
//!
//! with `base_ms = 1000`, `jitter_ms = 1000` and `max_backoff_ms = 32 000` in the preset, so
//! the first retry waits 1–2 s, the second 2–3 s, the third 4–5 s, and from the sixth on
//! 32 s, until `max_retries` (8) or the deadline stops it. `r` is drawn afresh on each retry,
//! unbiased (Lemire's multiply-and-reject, not `x % 1001`). `2^n` saturates, so no attempt
//! count overflows. The other shapes — no jitter, full, equal and decorrelated — are
//! [`Jitter`] options.
//!
//! # A request's life
//!
//! ```
//! use backoff_core::{Action, Idempotency, Policy, Request};
//! # struct Rng(u64);
//! # impl rand_core::TryRng for Rng {
//! #     type Error = core::convert::Infallible;
//! #     fn try_next_u32(&mut self) -> Result<u32, Self::Error> { Ok((self.try_next_u64()? >> 32) as u32) }
//! #     fn try_next_u64(&mut self) -> Result<u64, Self::Error> { self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407); Ok(self.0) }
//! #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Self::Error> { d.fill(0); Ok(()) }
//! # }
//! let policy = Policy::FOLLOW_UP_BOSS;
//! let mut rng = Rng(7);
//! let mut now = 0; // the caller's monotonic clock, in ms
//! let mut request = Request::new(now, Idempotency::Idempotent);
//! let answers: [(u16, &[u8]); 2] = [(503, b"<html>busy</html>"), (400, br#"{"errorMessage":"Invalid email"}"#)];
//! for (status, body) in answers {
//!     match request.complete::<64, _, _>(&policy, now, status, &(), body, &mut rng) {
//!         Action::Succeed { .. } => unreachable!("no 2xx in this script"),
//!         Action::Fail(error) => {
//!             assert_eq!(error.message(), Some("Invalid email"));
//!             break;
//!         }
//!         Action::Retry(retry) => {
//!             now = retry.at_ms; // sleep until then, and send again
//!             request = retry.request;
//!         }
//!     }
//! }
//! ```
//!
//! Bodies can also be fed in chunks: [`Request::response`] reads the status and headers and
//! returns a [`Reply`] that takes the body piece by piece, so firmware never holds it whole.
//! The error it fails with carries the body's `errorMessage` in a `heapless::String<N>` of the
//! caller's size, or says what the body was instead ([`BodyKind`]); see [`BodyParser`] for the
//! exact rules.
//!
//! # Shared by a client's requests
//!
//! - [`RateLimits`]: learns `Retry-After` and `X-RateLimit-*` from every response and says,
//!   before each request, whether it may go now or must wait — so one 429 holds back every
//!   request of its rate-limit context, and a steady sender can be paced never to meet one.
//! - [`RetryBudget`]: an optional token bucket that stops retries when most requests fail.
//!
//! Every request says when it is created whether it is safe to send twice. One marked
//! [`Idempotency::NotIdempotent`] (a POST that creates something) is retried only when it was
//! provably not processed: a 429, a 408, or a [`TransportFailure::BeforeSend`].
//!
//! # Time and randomness
//!
//! Time is the caller's monotonic clock in milliseconds. A clock that goes backwards is read
//! as "no time passed"; every sum saturates. Randomness is a `rand_core` 0.10 [`TryRng`]
//! (every infallible `Rng` is one). If it fails, the jitter is derived from the clock and the
//! retry number instead and the retry says so ([`JitterSource::ClockFallback`]).
//!
//! # Features
//!
//! - `fast-body` (default): the body parser's fast path — whole tokens read with control flow
//!   that follows the grammar, strings a machine word at a time. The same answers in 2.8–11.9×
//!   fewer instructions (`docs/performance.md`), for about 5.5 KiB of flash on Cortex-M; firmware that counts bytes can build with
//!   `default-features = false` for the compact parser.
//! - `defmt`: derives `defmt::Format` for every public type.
//! - `std`: [`shared::SharedState`] for `std::sync::Mutex`. ([`Error`] implements
//!   `core::error::Error`, which is `std::error::Error`, without it.)
//! - `http`: [`Headers`] for `http::HeaderMap` and `http::Response<B>`, and
//!   `Request::http_response`, for std clients built on reqwest, hyper or ureq (implies `std`).
//!
//! [`TryRng`]: rand_core::TryRng

#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(any(feature = "std", test))]
extern crate std;

mod backoff;
mod body;
mod breaker;
mod budget;
pub mod dialect;
pub mod encoding;
mod error;
#[cfg(feature = "http")]
mod from_http;
mod headers;
// HTTP-dates (RFC 9110's three forms), public for the tests, the fuzz targets and the
// conformance vectors; not part of the API (`retry_after_ms` is how a client reads them).
#[doc(hidden)]
pub mod http_date;
mod policy;
mod pushback;
mod rate_limit;
mod request;
pub mod shared;
mod utf8;

pub use backoff::JitterSource;
pub use body::{Body, BodyFields, BodyKind, BodyParser, BodyWait, Progress};
pub use breaker::{Breaker, BreakerPolicy, BreakerState};
pub use budget::RetryBudget;
pub use dialect::{Dialect, ResetUnit};
pub use error::{Cause, Error, ErrorKind, Stop};
pub use headers::{retry_after_ms, Headers};
pub use policy::{Jitter, Policy, RetryOn};
pub use pushback::{ContextName, RateLimitHeaders};
pub use rate_limit::{Pacing, Permit, RateLimits};
pub use request::{Action, Idempotency, Reply, Request, Retry, TransportFailure, Wait};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/usage.md")]
struct UsageDoctests;

#[cfg(doctest)]
#[doc = include_str!("../docs/rate-limits.md")]
struct RateLimitsDoctests;
