//! [backoff-core](https://docs.rs/backoff-core)'s retry loop for any async Rust client
//! (tokio, smol, embassy): the caller brings a [`Transport`] and a [`Timer`], [`retry`] does the
//! rest. Every decision is the core's — the per-request machine ([`Request`]) and the shared
//! state's steps ([`Shared::apply`]) — so the answers are those of a hand-written loop over
//! them. The rules are on [`retry`].
//!
//! `no_std`, no allocation, no runtime dependency, no `unsafe`.
//!
//! # Bringing your client
//!
//! A [`Transport`] is your HTTP client seen as three steps (send, status, read the body), and
//! a [`Timer`] your clock. Here a client that answers 503 and then 201, and a virtual clock
//! that a sleep moves on; with reqwest, hyper or embassy-net the same two impls wrap the real
//! thing (`backoff-core-reqwest` is one).
//!
//! ```
//! use core::cell::{Cell, RefCell};
//! use core::future::{ready, Future};
//! use backoff_core::shared::Shared;
//! use backoff_core::{Headers, Idempotency, Pacing, Policy, TransportFailure};
//! use backoff_core_async::{retry, Options, Timer, Transport};
//! # use rand_core::SeedableRng;
//!
//! #[derive(Debug)]
//! struct Response { status: u16, headers: Vec<(&'static str, &'static str)>, body: &'static [u8] }
//! impl Headers for Response {
//!     fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
//!         self.headers.as_slice().for_each(visit)
//!     }
//! }
//!
//! struct Client { answers: Vec<Response> }
//! impl Transport for Client {
//!     type Response = Response;
//!     type Error = &'static str;
//!     fn send(&mut self) -> impl Future<Output = Result<Response, (TransportFailure, &'static str)>> {
//!         ready(self.answers.pop().ok_or((TransportFailure::BeforeSend, "connection refused")))
//!     }
//!     fn status(response: &Response) -> u16 {
//!         response.status
//!     }
//!     fn read(&mut self, response: &mut Response, buf: &mut [u8]) -> impl Future<Output = Result<usize, &'static str>> {
//!         let n = response.body.len().min(buf.len());
//!         buf[..n].copy_from_slice(&response.body[..n]);
//!         response.body = &response.body[n..];
//!         ready(Ok(n))
//!     }
//! }
//!
//! struct Clock(Cell<u64>);
//! impl Timer for Clock {
//!     fn now_ms(&self) -> u64 {
//!         self.0.get()
//!     }
//!     fn sleep_until(&self, at_ms: u64) -> impl Future<Output = ()> {
//!         self.0.set(self.0.get().max(at_ms));
//!         ready(())
//!     }
//! }
//!
//! let mut client = Client {
//!     answers: vec![
//!         Response { status: 201, headers: vec![], body: b"{}" },
//!         Response { status: 503, headers: vec![("Retry-After", "3")], body: b"<html>busy</html>" },
//!     ], // sent from the end
//! };
//! let clock = Clock(Cell::new(0));
//! let mut rng = rand_pcg::Pcg32::seed_from_u64(7);
//! // The client's shared state: rate limits (and a budget and a breaker, if added).
//! let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
//! let options = Options::new(&Policy::FOLLOW_UP_BOSS, Idempotency::Idempotent).shared(&shared);
//!
//! let request = retry::<128, _, _, _, _>(options, &mut client, &clock, &mut rng);
//! # let result = {
//! #     use core::task::{Context, Poll, Waker};
//! #     let mut request = core::pin::pin!(request);
//! #     let mut cx = Context::from_waker(Waker::noop());
//! #     loop {
//! #         if let Poll::Ready(result) = request.as_mut().poll(&mut cx) { break result; }
//! #     }
//! # };
//! // `request.await` on your executor; here polled by hand.
//! let success = result.expect("the 503 is retried, the 201 succeeds");
//! assert_eq!(success.attempts, 2);
//! // Sent again no earlier than the 503's `Retry-After` told (plus up to 1 s of spread).
//! assert!((3_000..=4_000).contains(&clock.now_ms()));
//! ```

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::future::Future;

use backoff_core::shared::{Outcome, SharedState, Step};
use backoff_core::{
    Action, Dialect, Error, ErrorKind, Headers, Idempotency, Permit, Policy, Progress, Request,
    TransportFailure, Wait,
};
use rand_core::TryRng;

#[cfg(doc)]
use backoff_core::shared::Shared;

/// How one attempt goes over the wire: whatever HTTP client the caller has (reqwest, hyper,
/// embassy-net, a modem's AT commands), seen as three steps.
///
/// The driver never decides anything from these values: it hands them to the state machine.
pub trait Transport {
    /// A response whose status and headers have arrived and whose body has not been read.
    type Response: Headers;
    /// The transport's own error, given back to the caller with the core's [`Error`].
    type Error;

    /// Sends the request once. A failure says how far it got, beside the transport's own error:
    /// [`TransportFailure::BeforeSend`] only when nothing can have reached the server (DNS,
    /// connect, TLS handshake).
    fn send(&mut self) -> impl Future<Output = Result<Self::Response, (TransportFailure, Self::Error)>>;

    /// The response's status code.
    fn status(response: &Self::Response) -> u16;

    /// Reads the next piece of the response's body into `buf`: how many bytes, 0 at its end.
    /// Only called for responses that are not a success, whose body the core parses.
    fn read(
        &mut self,
        response: &mut Self::Response,
        buf: &mut [u8],
    ) -> impl Future<Output = Result<usize, Self::Error>>;
}

/// The caller's clock and sleep: `tokio::time`, `smol::Timer`, `embassy_time`, or a virtual
/// clock in tests.
pub trait Timer {
    /// The monotonic clock, in milliseconds.
    fn now_ms(&self) -> u64;
    /// Sleeps until `at_ms` on the same clock (at once if it has passed).
    ///
    /// A clock that reads whole milliseconds rounded down reads `k` up to 1 ms after the real
    /// instant `k`, so a wait decided at `k` and slept to the real instant `at_ms` may end up to
    /// 1 ms earlier than told; waking at the real instant `at_ms + 1` (as the reqwest door's
    /// timer does) keeps "never earlier than told" exact in real time.
    fn sleep_until(&self, at_ms: u64) -> impl Future<Output = ()>;
}

/// A request that succeeded: the response, its body unread, for the application.
#[derive(Debug)]
pub struct Success<Resp> {
    /// The 2xx response.
    pub response: Resp,
    /// How many times the request was sent.
    pub attempts: u32,
}

/// A request that failed for good: the core's typed error, the last response if there was
/// one (its body read as far as the parser needed), and the transport's own error if the last
/// attempt ended in one (a failed send, or a body that broke off).
#[derive(Debug)]
pub struct Failure<const N: usize, Resp, E> {
    /// Kind, status, the body's `errorMessage`, why it stopped, attempts.
    pub error: Error<N>,
    /// The last response, for an application that wants its status, headers or the rest of
    /// its body; `None` after a failed send.
    pub response: Option<Resp>,
    /// What the transport said about the last attempt, if it failed there.
    pub transport: Option<E>,
}

/// What [`retry`] needs besides the transport: the policy, the request's idempotency and
/// rate-limit context, the client's shared state, the API's dialect, and who hears of each
/// retry. [`Options::new`] gives the usual ones; the setters add the rest.
pub struct Options<'a, L: ?Sized> {
    /// The policy every decision follows.
    pub policy: &'a Policy,
    /// Whether the request may be sent twice (see [`Idempotency`]).
    pub idempotency: Idempotency,
    /// The rate-limit context the request belongs to (`X-RateLimit-Context`), if known.
    pub context: Option<&'a [u8]>,
    /// The client's shared state, or `None` for a request on its own.
    pub shared: Option<&'a L>,
    /// How the API says "slow down" ([`Dialect::FOLLOW_UP_BOSS`] by default): each response
    /// is read once in it, and what is read is what both the request and the shared state
    /// decide on (GitHub's 403 with its rate-limit headers waits, in GitHub's dialect).
    pub dialect: &'a Dialect,
    /// Told of every retry and every hold the request meets, for a log line or a metric
    /// (`None`: nobody). Called from the driver's own task, between two awaits. `Sync`, so
    /// that the request's future stays `Send` on a multi-threaded runtime.
    pub on_event: Option<&'a (dyn Fn(Event) + Sync)>,
}

impl<'a, L: ?Sized> Options<'a, L> {
    /// A request on its own (no shared state) under `policy`, in Follow Up Boss's dialect, with
    /// no context and nobody told of its retries.
    #[must_use]
    pub const fn new(policy: &'a Policy, idempotency: Idempotency) -> Self {
        Self {
            policy,
            idempotency,
            context: None,
            shared: None,
            dialect: &Dialect::FOLLOW_UP_BOSS,
            on_event: None,
        }
    }

    /// Shares the client's state (rate limits, budget, breaker) through `shared`.
    #[must_use]
    pub const fn shared(mut self, shared: &'a L) -> Self {
        self.shared = Some(shared);
        self
    }

    /// Names the request's rate-limit context.
    #[must_use]
    pub const fn context(mut self, context: &'a [u8]) -> Self {
        self.context = Some(context);
        self
    }

    /// Reads responses in another API's dialect.
    #[must_use]
    pub const fn dialect(mut self, dialect: &'a Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// Tells `on_event` of every retry and hold.
    #[must_use]
    pub const fn on_event(mut self, on_event: &'a (dyn Fn(Event) + Sync)) -> Self {
        self.on_event = Some(on_event);
        self
    }
}

// By hand: the derive would ask `L: Debug`, and a `dyn Fn` is not.
impl<L: ?Sized> core::fmt::Debug for Options<'_, L> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Options")
            .field("policy", &self.policy)
            .field("idempotency", &self.idempotency)
            .field("context", &self.context)
            .field("shared", &self.shared.is_some())
            .field("dialect", &self.dialect)
            .field("on_event", &self.on_event.is_some())
            .finish()
    }
}

/// What the driver tells [`Options::on_event`]: the waits a request meets, as they happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Event {
    /// The shared state holds the request back (a `Retry-After`, a spent window, the
    /// breaker) until `until_ms`, and it waits.
    Held {
        /// The attempt about to be made, counting from 1.
        attempt: u32,
        /// When the request may go (the caller's clock).
        until_ms: u64,
    },
    /// The attempt just made failed and the request will be sent again.
    Retry {
        /// The attempt that failed, counting from 1.
        attempt: u32,
        /// How long it waits, and until when.
        delay_ms: u32,
        /// When it is sent again (the caller's clock).
        at_ms: u64,
        /// Why the wait is as long as it is.
        wait: Wait,
        /// What went wrong.
        kind: ErrorKind,
        /// The status, if there was a response.
        status: Option<u16>,
    },
}

// By hand: the derive would ask `L: Copy`, and only a reference to `L` is kept.
impl<L: ?Sized> Clone for Options<'_, L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L: ?Sized> Copy for Options<'_, L> {}

/// How many body bytes the driver reads at once: an error body is parsed as it streams.
const CHUNK: usize = 64;

/// Sends a request until the core says stop, sleeping as told.
///
/// Before every send it asks the shared state (when given) — its rate limits, then its
/// breaker — and sleeps until they allow it, unless that wait is longer than the policy's
/// ceiling or ends past the request's deadline: then the request fails at once, unsent
/// ([`Request::may_wait_until`]). Every response teaches the shared state — at once, or, where
/// its body may tell the wait or a global limit in the dialect's body fields
/// ([`RateLimitHeaders::may_tell_in_body`](backoff_core::RateLimitHeaders::may_tell_in_body)), once
/// the body is read (a future dropped while it reads such a body leaves its send counted in
/// flight until the rate limits forget it); a failing
/// response's body is read in pieces and parsed, up to the policy's
/// [`max_error_body_bytes`](Policy::max_error_body_bytes) (a success's is not touched); a body
/// that breaks off is a
/// transport failure after sending; retries are paid from the shared [`RetryBudget`](backoff_core::RetryBudget) (when
/// there is one); a send that got no response is released from the in-flight count. Every
/// decision is the state machine's and [`Shared::apply`]'s, so the answers are those of a
/// hand-written loop over [`Request`] — whichever [`SharedState`] keeps the state.
///
/// Each step on the shared state that may need randomness (acquire, observe, failures) takes
/// one word from `rng`; a request on its own (`shared: None`) draws only for its backoff.
///
/// If the shared state cannot be had when the driver needs it (a `RefCell` held across an
/// `.await` by the caller), the driver does not send: it asks again a millisecond later. A
/// retry it cannot ask the budget about is decided without the budget.
///
/// No allocation, no runtime: the future holds one `Request`, one body parser of `N` bytes,
/// a 64-byte read buffer and the shared state's step future.
pub async fn retry<const N: usize, T, Tm, R, S>(
    options: Options<'_, S>,
    transport: &mut T,
    timer: &Tm,
    rng: &mut R,
) -> Result<Success<T::Response>, Failure<N, T::Response, T::Error>>
where
    T: Transport,
    Tm: Timer,
    R: TryRng + ?Sized,
    S: SharedState + ?Sized,
{
    let Options { policy, idempotency, context, shared, dialect, on_event } = options;
    let notify = |event| {
        if let Some(on_event) = on_event {
            on_event(event);
        }
    };
    let mut request = Request::new(timer.now_ms(), idempotency);
    loop {
        if let Some(shared) = shared {
            loop {
                let now = timer.now_ms();
                match shared.step(now, Step::Acquire { context }, Step::entropy(rng, now)).await {
                    Some(Outcome::Permit(Permit::Go)) => break,
                    Some(Outcome::Permit(Permit::Wait { until_ms })) => {
                        // A wait the request will not keep (past the ceiling or its deadline)
                        // fails it now, unsent, instead of waiting in vain.
                        if let Err(error) = request.may_wait_until::<N>(policy, now, until_ms) {
                            return Err(Failure { error, response: None, transport: None });
                        }
                        notify(Event::Held { attempt: request.attempt(), until_ms });
                        timer.sleep_until(until_ms).await;
                    }
                    _ => timer.sleep_until(now.saturating_add(1)).await,
                }
            }
        }
        let next = match transport.send().await {
            Err((failure, error)) => {
                let now = timer.now_ms();
                if let Some(shared) = shared {
                    shared.step(now, Step::Failed { context }, Step::entropy(rng, now)).await;
                }
                let action = request.transport_failure::<N, R>(policy, now, failure, rng);
                match pay_or_refund(shared, now, action).await {
                    Action::Retry(next) => next,
                    Action::Fail(last) => {
                        return Err(Failure { error: last, response: None, transport: Some(error) })
                    }
                    // A transport failure is never a success; this arm only completes the
                    // match, and sends again rather than invent an answer.
                    Action::Succeed { .. } => continue,
                }
            }
            Ok(mut response) => {
                let status = T::status(&response);
                let now = timer.now_ms();
                // Read once, in the API's dialect: the request and the shared state decide on
                // the same value.
                let seen = dialect.read(&response);
                // Where only the body may tell the wait (Discord's 429), the shared state
                // learns once it is read; otherwise at once.
                let in_body = seen.may_tell_in_body(status);
                if let (Some(shared), false) = (shared, in_body) {
                    shared.step(now, Step::Observe { status, seen }, Step::entropy(rng, now)).await;
                }
                let mut reply = request.response_parsed::<N>(policy, status, &seen);
                let mut transport_error = None;
                if !(200..=299).contains(&status) {
                    let mut buf = [0u8; CHUNK];
                    loop {
                        match transport.read(&mut response, &mut buf).await {
                            Ok(0) => break,
                            Ok(n) => {
                                if reply.feed(buf.get(..n).unwrap_or(&buf)) == Progress::Decided {
                                    break;
                                }
                            }
                            Err(error) => {
                                transport_error = Some(error);
                                break;
                            }
                        }
                    }
                }
                if let (Some(shared), true) = (shared, in_body) {
                    let seen = seen.with_body(status, reply.body_wait());
                    shared.step(now, Step::Observe { status, seen }, Step::entropy(rng, now)).await;
                }
                let now = timer.now_ms();
                let action = if transport_error.is_some() {
                    // The breaker learnt the status already; a body that broke off is the
                    // transport failing.
                    if let Some(shared) = shared {
                        shared.step(now, Step::BodyFailed, Step::entropy(rng, now)).await;
                    }
                    reply.body_failed(policy, now, rng)
                } else {
                    reply.finish(policy, now, rng)
                };
                match pay_or_refund(shared, now, action).await {
                    Action::Succeed { attempts } => return Ok(Success { response, attempts }),
                    Action::Fail(error) => {
                        return Err(Failure { error, response: Some(response), transport: transport_error })
                    }
                    Action::Retry(next) => next,
                }
            }
        };
        notify(Event::Retry {
            attempt: request.attempt(),
            delay_ms: next.delay_ms,
            at_ms: next.at_ms,
            wait: next.wait,
            kind: next.cause.kind,
            status: next.cause.status,
        });
        timer.sleep_until(next.at_ms).await;
        request = next.request;
    }
}

/// [`Action::settle`] with the budget of the shared state: a retry asks it to pay (and fails
/// with `BudgetExhausted` if it cannot), a success refunds. Without a shared state, or with
/// one that cannot be had now, the action stands as the policy decided it.
async fn pay_or_refund<const N: usize, S: SharedState + ?Sized>(
    shared: Option<&S>,
    now_ms: u64,
    action: Action<N>,
) -> Action<N> {
    let Some(shared) = shared else { return action };
    match action {
        Action::Retry(retry) => match shared.step(now_ms, Step::Pay { kind: retry.cause.kind }, 0).await {
            Some(Outcome::Paid(false)) => Action::Fail(retry.refused()),
            _ => Action::Retry(retry),
        },
        Action::Succeed { .. } => {
            shared.step(now_ms, Step::Refund, 0).await;
            action
        }
        Action::Fail(_) => action,
    }
}
