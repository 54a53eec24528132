//! A runtime-agnostic async retry loop over the state machine: the caller brings a transport
//! and a timer, [`retry`] does the rest. The rules are on [`retry`].

use core::cell::RefCell;
use core::future::Future;

use rand_core::TryRng;

use crate::breaker::{Breaker, Health};
use crate::budget::RetryBudget;
use crate::error::Error;
use crate::headers::Headers;
use crate::policy::Policy;
use crate::rate_limit::{Pacing, Permit, RateLimits};
use crate::request::{Action, Idempotency, Request, TransportFailure};
use crate::Progress;

/// How one attempt goes over the wire: whatever HTTP client the caller has (reqwest, hyper,
/// embassy-net, a modem's AT commands), seen as three steps.
///
/// The driver never decides anything from these values: it hands them to the state machine.
pub trait Transport {
    /// A response whose status and headers have arrived and whose body has not been read.
    type Response: Headers;
    /// The transport's own error, given back to the caller with the crate's [`Error`].
    type Error;

    /// Sends the request once. A failure says how far it got: [`TransportFailure::BeforeSend`]
    /// only when nothing can have reached the server (DNS, connect, TLS handshake).
    fn send(&mut self) -> impl Future<Output = Result<Self::Response, Failed<Self::Error>>>;

    /// The response's status code.
    fn status(response: &Self::Response) -> u16;

    /// Reads the next piece of the response's body into `buf`: how many bytes, 0 at its end.
    /// Only called for responses that are not a success, whose body the crate parses.
    fn read(
        &mut self,
        response: &mut Self::Response,
        buf: &mut [u8],
    ) -> impl Future<Output = Result<usize, Self::Error>>;
}

/// A transport failure: how far the attempt got, and the transport's own error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failed<E> {
    /// Whether the request may have reached the server.
    pub failure: TransportFailure,
    /// What the transport said.
    pub error: E,
}

/// The caller's clock and sleep: `tokio::time`, `smol::Timer`, `embassy_time`, or a virtual
/// clock in tests.
pub trait Timer {
    /// The monotonic clock, in milliseconds.
    fn now_ms(&self) -> u64;
    /// Sleeps until `at_ms` on the same clock (at once if it has passed).
    fn sleep_until(&self, at_ms: u64) -> impl Future<Output = ()>;
}

/// What a client's requests share: its rate-limit state and, if it uses them, its retry
/// budget and circuit breaker.
#[derive(Clone, Debug)]
pub struct Shared<const C: usize> {
    /// Rate limits learnt from every response, asked before every send.
    pub limits: RateLimits<C>,
    /// The retry budget, or `None` to retry on the policy alone.
    pub budget: Option<RetryBudget>,
    /// The circuit breaker, or `None` to send whatever the server's health.
    pub breaker: Option<Breaker>,
}

impl<const C: usize> Shared<C> {
    /// Rate limits paced as `pacing` says, no budget, no breaker.
    #[must_use]
    pub const fn new(pacing: Pacing) -> Self {
        Self { limits: RateLimits::new(pacing), budget: None, breaker: None }
    }

    /// With a retry budget.
    #[must_use]
    pub const fn with_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// With a circuit breaker.
    #[must_use]
    pub const fn with_breaker(mut self, breaker: Breaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// May a request of `context` go at `now_ms`? Asks the rate limits without counting,
    /// then the breaker, then counts the send in the rate limits.
    pub fn acquire<R: TryRng + ?Sized>(
        &mut self,
        now_ms: u64,
        context: Option<&[u8]>,
        rng: &mut R,
    ) -> Permit {
        let held = self.limits.hold_until(context);
        if held > now_ms {
            return Permit::Wait { until_ms: held };
        }
        if let Some(breaker) = &mut self.breaker {
            if let Permit::Wait { until_ms } = breaker.acquire(now_ms, rng) {
                return Permit::Wait { until_ms };
            }
        }
        self.limits.acquire(now_ms, context)
    }

    /// A response arrived at `now_ms`: the rate limits learn from its headers and the breaker
    /// from its status.
    pub fn observe<H: Headers + ?Sized, R: TryRng + ?Sized>(
        &mut self,
        now_ms: u64,
        status: u16,
        headers: &H,
        rng: &mut R,
    ) {
        self.limits.observe(now_ms, status, headers);
        if let Some(breaker) = &mut self.breaker {
            breaker.observe(now_ms, Health::of_status(status), rng);
        }
    }

    /// A request let through got no (whole) response at `now_ms`: no longer in flight, and a
    /// failure for the breaker.
    pub fn failed<R: TryRng + ?Sized>(&mut self, now_ms: u64, context: Option<&[u8]>, rng: &mut R) {
        self.limits.abandon(context);
        if let Some(breaker) = &mut self.breaker {
            breaker.observe(now_ms, Health::Failed, rng);
        }
    }
}

/// Exclusive access to the [`Shared`] state for the length of a closure that never awaits, so
/// concurrent requests of one client can share it without the caller writing a lock.
///
/// Implemented for `RefCell` (requests on one executor thread: embassy, a current-thread
/// runtime) and, with the `std` feature, for `std::sync::Mutex` (a multi-threaded runtime).
pub trait Lock<T> {
    /// Runs `f` with the value borrowed mutably, or with `None` if it cannot be had now (a
    /// `RefCell` the caller holds borrowed).
    fn with<R>(&self, f: impl FnOnce(Option<&mut T>) -> R) -> R;
}

impl<T> Lock<T> for RefCell<T> {
    /// The driver never holds the borrow across an `.await`; if the caller does, the driver
    /// cannot see the state at that moment and is told so with `None` (see [`retry`] for what
    /// it does then), never a panic.
    fn with<R>(&self, f: impl FnOnce(Option<&mut T>) -> R) -> R {
        match self.try_borrow_mut() {
            Ok(mut value) => f(Some(&mut value)),
            Err(_) => f(None),
        }
    }
}

#[cfg(feature = "std")]
impl<T> Lock<T> for std::sync::Mutex<T> {
    /// A poisoned mutex (a thread panicked while holding it) is used as it is: the state is
    /// plain data, valid after any step of the core.
    fn with<R>(&self, f: impl FnOnce(Option<&mut T>) -> R) -> R {
        let mut guard = self.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        f(Some(&mut guard))
    }
}

/// A request that succeeded: the response, its body unread, for the application.
#[derive(Debug)]
pub struct Success<Resp> {
    /// The 2xx response.
    pub response: Resp,
    /// How many times the request was sent.
    pub attempts: u32,
}

/// A request that failed for good: the crate's typed error, the last response if there was
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
/// rate-limit context, and the client's shared state.
#[derive(Debug)]
pub struct Options<'a, L> {
    /// The policy every decision follows.
    pub policy: &'a Policy,
    /// Whether the request may be sent twice (see [`Idempotency`]).
    pub idempotency: Idempotency,
    /// The rate-limit context the request belongs to (`X-RateLimit-Context`), if known.
    pub context: Option<&'a [u8]>,
    /// The client's shared state, or `None` for a request on its own.
    pub shared: Option<&'a L>,
}

// By hand: the derive would ask `L: Copy`, and only a reference to `L` is kept.
impl<L> Clone for Options<'_, L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L> Copy for Options<'_, L> {}

/// How many body bytes the driver reads at once: an error body is parsed as it streams.
const CHUNK: usize = 64;

/// Sends a request until the crate says stop, sleeping as told.
///
/// Before every send it asks the shared [`RateLimits`] (when given) and sleeps until they
/// allow it; every response teaches them; a failing response's body is read in pieces and
/// parsed (a success's is not touched); a body that breaks off is a transport failure after
/// sending; retries are paid from the shared [`RetryBudget`] (when given); a send that got no
/// response is released from the in-flight count. Every decision is the state machine's, so
/// the answers are those of a hand-written loop over [`Request`].
///
/// If the shared state is borrowed elsewhere when the driver needs it (a `RefCell` held across
/// an `.await` by the caller), the driver does not send: it asks again a millisecond later.
/// A response it cannot teach the state is decided without the budget.
///
/// No allocation, no runtime: the future holds one `Request`, one body parser of `N` bytes
/// and a 64-byte read buffer.
pub async fn retry<const N: usize, const C: usize, T, Tm, R, L>(
    options: Options<'_, L>,
    transport: &mut T,
    timer: &Tm,
    rng: &mut R,
) -> Result<Success<T::Response>, Failure<N, T::Response, T::Error>>
where
    T: Transport,
    Tm: Timer,
    R: TryRng + ?Sized,
    L: Lock<Shared<C>>,
{
    let Options { policy, idempotency, context, shared } = options;
    let mut request = Request::new(policy, timer.now_ms(), idempotency);
    loop {
        if let Some(shared) = shared {
            loop {
                let now = timer.now_ms();
                match shared.with(|s| s.map(|s| s.acquire(now, context, rng))) {
                    Some(Permit::Go) => break,
                    Some(Permit::Wait { until_ms }) => timer.sleep_until(until_ms).await,
                    None => timer.sleep_until(now.saturating_add(1)).await,
                }
            }
        }
        let next = match transport.send().await {
            Err(Failed { failure, error }) => {
                let now = timer.now_ms();
                if let Some(s) = shared {
                    s.with(|s| s.map(|s| s.failed(now, context, rng)));
                }
                let action = step(shared, |budget| {
                    request.transport_failure_with_budget::<N, R>(now, failure, rng, budget)
                });
                match action {
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
                if let Some(s) = shared {
                    s.with(|s| s.map(|s| s.observe(now, status, &response, rng)));
                }
                let mut reply = request.response::<N, _>(status, &response);
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
                let now = timer.now_ms();
                let cut = transport_error.is_some();
                if cut {
                    // The breaker learnt the status already; a body that broke off is the
                    // transport failing.
                    if let Some(s) = shared {
                        s.with(|s| {
                            s.map(|s| s.breaker.as_mut().map(|b| b.observe(now, Health::Failed, rng)))
                        });
                    }
                }
                let action = step(shared, |budget| {
                    if cut {
                        reply.body_failed_with_budget(now, rng, budget)
                    } else {
                        reply.finish_with_budget(now, rng, budget)
                    }
                });
                match action {
                    Action::Succeed { attempts } => return Ok(Success { response, attempts }),
                    Action::Fail(error) => {
                        return Err(Failure { error, response: Some(response), transport: transport_error })
                    }
                    Action::Retry(next) => next,
                }
            }
        };
        timer.sleep_until(next.at_ms).await;
        request = next.request;
    }
}

/// Runs one decision with the shared budget, when there is one and it can be had now.
fn step<const C: usize, L: Lock<Shared<C>>, A>(
    shared: Option<&L>,
    decide: impl FnOnce(Option<&mut RetryBudget>) -> A,
) -> A {
    match shared {
        Some(shared) => shared.with(|s| decide(s.and_then(|s| s.budget.as_mut()))),
        None => decide(None),
    }
}
