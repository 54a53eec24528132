//! backoff-core's retry and error policy for [reqwest], as a [`reqwest_middleware`] middleware.
//!
//! ```no_run
//! # async fn demo() -> Result<(), reqwest_middleware::Error> {
//! use backoff_core_reqwest::RetryMiddleware;
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(RetryMiddleware::new())
//!     .build();
//! let response = client.post("https://api.followupboss.com/v1/events").body("{}").send().await?;
//! # let _ = response; Ok(()) }
//! ```
//!
//! Every request then goes through the crate's decisions (the core's
//! [`backoff_core_async::retry`] over the request): 5xx, 408 and connection
//! failures retried with truncated exponential backoff; 429 and 503 after their `Retry-After`
//! (at least a second, spread by up to a second), which also holds back every other request of
//! the client in the same `X-RateLimit-Context`; a wait longer than 10 minutes failed at once;
//! other 4xx failed at once with the body's `errorMessage`. The middleware decides nothing
//! itself.
//!
//! # What it decides from the request
//!
//! - **Idempotency**, from the method: GET, HEAD, PUT, DELETE, OPTIONS and TRACE may be sent
//!   twice; POST and PATCH only with an `Idempotency-Key` header, or when the request says so
//!   with the [`Idempotent`] extension (`.with_extension(Idempotent)`). Otherwise a POST is
//!   retried only where it provably was not processed: 429, 408, or a connection that failed
//!   before sending (reqwest's connect errors).
//! - **The rate-limit context**, from the [`Context`] extension, if given; without it a
//!   request waits for every context the client knows to be held.
//! - A request whose body cannot be cloned (a stream) **goes once, without retries**, and its
//!   response (or error) carries [`NotRetried::BodyNotCloneable`].
//!
//! # What it returns
//!
//! A 2xx response as reqwest gave it, body unread, with [`Attempts`] in its extensions. A
//! request that failed for good is `Err(reqwest_middleware::Error::Middleware(_))` holding a
//! [`RetryError`]: the crate's [`Error`](backoff_core::Error) (kind, status, `errorMessage`,
//! why it stopped, attempts), the transport's own error if the last attempt ended in one, and
//! the last response, still readable ([`RetryError::into_response`]).
//!
//! Clones of the client share one middleware, hence one rate-limit state and one budget. The
//! jitter comes from a generator seeded by the operating system, one stream per request.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backoff_core::shared::{Shared, SharedState};
use backoff_core::{RateLimits, TransportFailure};
use backoff_core_async::{self as driver, Failure, Options, Success, Timer, Transport};

/// What the middleware is configured with and answers in, re-exported so one dependency is
/// enough: the policy and its presets, the shared state's parts, and the error's vocabulary.
pub use backoff_core::{
    Breaker, BreakerPolicy, Dialect, ErrorKind, Idempotency, Jitter, Pacing, Policy, RetryBudget, RetryOn,
    Stop,
};

/// Where the driver's events go: `tracing` events with the `tracing` feature, nowhere without.
#[cfg(feature = "tracing")]
const EVENTS: Option<&(dyn Fn(driver::Event) + Sync)> = Some(&trace);
#[cfg(not(feature = "tracing"))]
const EVENTS: Option<&(dyn Fn(driver::Event) + Sync)> = None;

/// Each retry and each hold met as a `tracing` event (target `backoff_core`): a retry at
/// `INFO` (what failed, the wait and why), a hold at `DEBUG`.
#[cfg(feature = "tracing")]
fn trace(event: driver::Event) {
    match event {
        driver::Event::Retry { attempt, delay_ms, wait, kind, status, .. } => tracing::info!(
            target: "backoff_core",
            attempt,
            delay_ms,
            wait = ?wait,
            kind = ?kind,
            status,
            "retrying after attempt {attempt} failed ({kind:?}): waiting {delay_ms} ms"
        ),
        driver::Event::Held { attempt, until_ms } => tracing::debug!(
            target: "backoff_core",
            attempt,
            until_ms,
            "attempt {attempt} held by the client's rate limits or breaker"
        ),
        _ => {}
    }
}
use http::Extensions;
use reqwest::{Method, Request, Response};
use reqwest_middleware::{Middleware, Next};

/// How many bytes of a failing response's body are kept so the application can still read
/// it; a longer body is cut there, and [`RetryError::body_cut`] says so.
pub const MAX_ERROR_BODY: usize = 64 * 1024;

/// How many rate-limit contexts the shared state remembers (Follow Up Boss has a handful:
/// `global`, `events`, `POST.events`, …).
pub const CONTEXTS: usize = 8;

/// The capacity of the `errorMessage` kept in a [`RetryError`], in bytes.
pub const MESSAGE_CAP: usize = 256;

/// A request extension saying that this POST or PATCH may be sent twice (the server
/// deduplicates it some other way than `Idempotency-Key`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Idempotent;

/// A request extension naming the rate-limit context (`X-RateLimit-Context`) the request
/// belongs to, so it waits only for that context's holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context(pub &'static str);

/// A response extension: how many times the request was sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempts(pub u32);

/// A response or error extension: why the request was sent only once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotRetried {
    /// Its body is a stream that cannot be sent twice.
    BodyNotCloneable,
}

/// The middleware: one per client, shared by its clones.
///
/// **Timeouts.** The middleware bounds the whole request (the policy's `deadline_ms`, and no
/// wait past `retry_after_ceiling_ms`); each attempt is bounded by reqwest's own timeouts, set
/// on the client: `reqwest::ClientBuilder::connect_timeout` (a connect that times out is a
/// failure before sending: retried, even for a POST) and `timeout` (an attempt that times out
/// after sending is a transport failure after sending: retried if the request is idempotent).
/// Without them an attempt can wait as long as the server keeps the connection open.
///
/// The client's shared state (rate limits, and the budget and breaker if set) lives in `S`:
/// by default a `Mutex` in this process; [`shared_state`](Self::shared_state) puts it
/// elsewhere, e.g. in Redis for a fleet (`backoff-core-redis`), with the same decisions.
pub struct RetryMiddleware<S = Mutex<Shared<CONTEXTS>>> {
    policy: Policy,
    dialect: Dialect,
    shared: Arc<S>,
    epoch: tokio::time::Instant,
    seed: u64,
    requests: Arc<AtomicU64>,
}

// By hand: the derives would ask `S: Clone` / `S: Debug`, and only an `Arc<S>` is kept.
impl<S> Clone for RetryMiddleware<S> {
    fn clone(&self) -> Self {
        Self {
            policy: self.policy,
            dialect: self.dialect,
            shared: Arc::clone(&self.shared),
            epoch: self.epoch,
            seed: self.seed,
            requests: Arc::clone(&self.requests),
        }
    }
}

impl<S> std::fmt::Debug for RetryMiddleware<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryMiddleware")
            .field("policy", &self.policy)
            .field("shared", &std::any::type_name::<S>())
            .finish_non_exhaustive()
    }
}

impl Default for RetryMiddleware {
    fn default() -> Self {
        Self::new()
    }
}

impl RetryMiddleware {
    /// The Follow Up Boss preset ([`Policy::FOLLOW_UP_BOSS`]), `Burst` pacing, no retry budget.
    #[must_use]
    pub fn new() -> Self {
        Self::with_policy(Policy::FOLLOW_UP_BOSS)
    }

    /// Another policy (a `const`, e.g. the preset with another cap). The rate limits believe a
    /// hold for at most its `retry_after_ceiling_ms`.
    #[must_use]
    pub fn with_policy(policy: Policy) -> Self {
        Self {
            policy,
            dialect: Dialect::FOLLOW_UP_BOSS,
            shared: Arc::new(Mutex::new(Shared::new(Pacing::Burst))),
            epoch: tokio::time::Instant::now(),
            seed: os_seed(),
            requests: Arc::new(AtomicU64::new(0)),
        }
        .pacing(Pacing::Burst)
    }

    /// Reads responses in another API's dialect (GitHub's, Discord's, the IETF `RateLimit`
    /// fields: see [`Dialect`]) instead of Follow Up Boss's.
    #[must_use]
    pub fn dialect(mut self, dialect: Dialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// Paces requests as `pacing` says (see [`Pacing`]); forgets what was learnt so far.
    #[must_use]
    pub fn pacing(self, pacing: Pacing) -> Self {
        let ceiling = self.policy.retry_after_ceiling_ms;
        self.with_shared(|s| s.limits = RateLimits::new(pacing).with_max_hold_ms(ceiling))
    }

    /// Pays every retry from `budget`, shared by the client's requests (see [`RetryBudget`]).
    #[must_use]
    pub fn budget(self, budget: RetryBudget) -> Self {
        self.with_shared(|s| s.budget = Some(budget))
    }

    /// Asks `breaker` before every send and teaches it every outcome (see [`Breaker`]).
    #[must_use]
    pub fn breaker(self, breaker: Breaker) -> Self {
        self.with_shared(|s| s.breaker = Some(breaker))
    }

    /// The retry budget's tokens left, if there is one.
    #[must_use]
    pub fn budget_tokens(&self) -> Option<u32> {
        let shared = self.shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        shared.budget.map(|b| b.tokens())
    }

    fn with_shared(self, f: impl FnOnce(&mut Shared<CONTEXTS>)) -> Self {
        if let Ok(mut shared) = self.shared.lock() {
            f(&mut shared);
        }
        self
    }
}

impl<S> RetryMiddleware<S> {
    /// Keeps the client's shared state in `state` instead (the one line that moves a client
    /// from in-process state to a fleet's): anything that is a [`SharedState`], given as it is
    /// or in an `Arc` the application also holds. What was set with [`pacing`],
    /// [`budget`] or [`breaker`] before is replaced by `state`'s own.
    ///
    /// [`pacing`]: RetryMiddleware::pacing
    /// [`budget`]: RetryMiddleware::budget
    /// [`breaker`]: RetryMiddleware::breaker
    #[must_use]
    pub fn shared_state<T: SharedState>(self, state: impl Into<Arc<T>>) -> RetryMiddleware<T> {
        RetryMiddleware {
            policy: self.policy,
            dialect: self.dialect,
            shared: state.into(),
            epoch: self.epoch,
            seed: self.seed,
            requests: self.requests,
        }
    }

    /// A generator for one request: the OS seed and the request's number, mixed.
    fn rng(&self) -> SplitMix64 {
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        SplitMix64(self.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }
}

/// Whether a request may be sent twice, from its method, its `Idempotency-Key` header and
/// the [`Idempotent`] extension.
#[must_use]
pub fn idempotency(request: &Request, extensions: &Extensions) -> Idempotency {
    let safe_method = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS | Method::TRACE
    );
    if safe_method
        || request.headers().contains_key("idempotency-key")
        || extensions.get::<Idempotent>().is_some()
    {
        Idempotency::Idempotent
    } else {
        Idempotency::NotIdempotent
    }
}

/// A request that failed for good.
#[derive(Debug)]
pub struct RetryError {
    /// The crate's account: kind, status, `errorMessage`, why it stopped, attempts.
    pub error: backoff_core::Error<MESSAGE_CAP>,
    /// The transport's own error, if the last attempt ended in one.
    pub transport: Option<reqwest_middleware::Error>,
    /// Why the request was sent only once, if it was.
    pub not_retried: Option<NotRetried>,
    /// Whether the body kept in the response was cut at [`MAX_ERROR_BODY`] bytes.
    pub body_cut: bool,
    response: Mutex<Option<Response>>,
}

impl RetryError {
    /// The last response, its body readable from the start (up to [`MAX_ERROR_BODY`] bytes),
    /// if there was one.
    #[must_use]
    pub fn into_response(self) -> Option<Response> {
        self.response.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The body's `errorMessage` (or `error`), if it had one.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.error.message()
    }

    /// Why no further attempt was made: not retryable, retries exhausted, a wait past the
    /// ceiling or the deadline, not idempotent and maybe processed, budget exhausted.
    #[must_use]
    pub fn stop(&self) -> Stop {
        self.error.stop
    }

    /// How many times the request was sent (0 if a hold failed it before its first send).
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.error.attempts
    }

    /// The class of the last failure (from its status, or `Transport`).
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        self.error.kind()
    }

    /// The last response's status code, if there was a response.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        self.error.status()
    }
}

impl std::fmt::Display for RetryError {
    /// One line: the crate's account, then the transport's error and each of its causes
    /// (reqwest's "error sending request" alone does not say that the connection was refused).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.error)?;
        if let Some(transport) = &self.transport {
            write!(f, ": {transport}")?;
            let mut cause = std::error::Error::source(transport);
            while let Some(error) = cause {
                write!(f, ": {error}")?;
                cause = error.source();
            }
        }
        Ok(())
    }
}

impl std::error::Error for RetryError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.transport.as_ref().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[async_trait::async_trait]
impl<S> Middleware for RetryMiddleware<S>
where
    S: SharedState + Send + Sync + 'static,
    for<'a> S::Pending<'a>: Send,
{
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let idempotency = idempotency(&request, extensions);
        let context = extensions.get::<Context>().map(|c| c.0.as_bytes());
        // What `try_clone` decides, without cloning: a body that is not a stream can be sent
        // again.
        let cloneable = request.body().is_none_or(|body| body.as_bytes().is_some());
        // A body that cannot be sent twice goes once: the same decisions, no retries.
        let policy = if cloneable { self.policy } else { self.policy.with_max_retries(0) };
        let not_retried = (!cloneable).then_some(NotRetried::BodyNotCloneable);
        let options = Options {
            policy: &policy,
            idempotency,
            context,
            shared: Some(&*self.shared),
            dialect: &self.dialect,
            on_event: EVENTS,
        };
        let mut transport =
            Attempting { next, extensions: &mut *extensions, request: Some(request), cloneable };
        let timer = Clock { epoch: self.epoch };
        let mut rng = self.rng();
        match driver::retry::<MESSAGE_CAP, _, _, _, _>(options, &mut transport, &timer, &mut rng).await {
            Ok(Success { response: attempt, attempts }) => {
                let mut response = attempt.response;
                response.extensions_mut().insert(Attempts(attempts));
                if let Some(reason) = not_retried {
                    response.extensions_mut().insert(reason);
                }
                Ok(response)
            }
            Err(Failure { error, response, transport }) => {
                let (response, body_cut) = match response {
                    Some(attempt) => {
                        let (response, cut) = attempt.into_readable().await;
                        (Some(response), cut)
                    }
                    None => (None, false),
                };
                Err(reqwest_middleware::Error::middleware(RetryError {
                    error,
                    transport,
                    not_retried,
                    body_cut,
                    response: Mutex::new(response),
                }))
            }
        }
    }
}

/// One attempt's response, and the part of its body read so far.
struct Attempt {
    response: Response,
    /// The body received so far, up to [`MAX_ERROR_BODY`] bytes: what is handed back.
    kept: Vec<u8>,
    /// Whether more was received than `kept` holds.
    cut: bool,
    /// The chunk being handed to the parser, and how much of it was given.
    chunk: bytes::Bytes,
    given: usize,
}

impl backoff_core::Headers for Attempt {
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
        self.response.headers().for_each(visit);
    }
}

impl Attempt {
    /// The response with its body readable from the start: what was read, then the rest, up
    /// to [`MAX_ERROR_BODY`] bytes in all (`true` if cut there).
    async fn into_readable(mut self) -> (Response, bool) {
        while !self.cut {
            match self.response.chunk().await {
                Ok(Some(chunk)) => self.keep(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        let mut builder =
            http::Response::builder().status(self.response.status()).version(self.response.version());
        if let Some(headers) = builder.headers_mut() {
            *headers = self.response.headers().clone();
        }
        let extensions = std::mem::take(self.response.extensions_mut());
        let rebuilt = builder.body(self.kept).map(|mut r| {
            *r.extensions_mut() = extensions;
            Response::from(r)
        });
        match rebuilt {
            Ok(response) => (response, self.cut),
            // The parts came from a valid response, so this cannot fail; keep the original.
            Err(_) => (self.response, self.cut),
        }
    }

    /// Keeps what fits of a chunk received, up to [`MAX_ERROR_BODY`] bytes in all.
    fn keep(&mut self, chunk: &[u8]) {
        let room = MAX_ERROR_BODY - self.kept.len();
        self.cut |= chunk.len() > room;
        self.kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
    }
}

/// The rest of the middleware chain as the driver's transport.
struct Attempting<'a> {
    next: Next<'a>,
    extensions: &'a mut Extensions,
    request: Option<Request>,
    cloneable: bool,
}

impl Transport for Attempting<'_> {
    type Response = Attempt;
    type Error = reqwest_middleware::Error;

    async fn send(&mut self) -> Result<Attempt, (TransportFailure, reqwest_middleware::Error)> {
        let request = if self.cloneable {
            self.request.as_ref().and_then(Request::try_clone)
        } else {
            self.request.take()
        };
        let Some(request) = request else {
            // Only reachable if the driver sent twice under a policy of no retries.
            let error = reqwest_middleware::Error::middleware(std::io::Error::other(
                "request body cannot be sent twice",
            ));
            return Err((TransportFailure::BeforeSend, error));
        };
        match self.next.clone().run(request, self.extensions).await {
            Ok(response) => {
                Ok(Attempt { response, kept: Vec::new(), cut: false, chunk: bytes::Bytes::new(), given: 0 })
            }
            Err(error) => {
                // reqwest's connect errors (DNS, TCP connect, TLS handshake) happen before a
                // byte of the request is sent; every other error may come after.
                let before = matches!(&error, reqwest_middleware::Error::Reqwest(e) if e.is_connect());
                let failure = if before { TransportFailure::BeforeSend } else { TransportFailure::AfterSend };
                Err((failure, error))
            }
        }
    }

    fn status(attempt: &Attempt) -> u16 {
        attempt.response.status().as_u16()
    }

    async fn read(
        &mut self,
        attempt: &mut Attempt,
        buf: &mut [u8],
    ) -> Result<usize, reqwest_middleware::Error> {
        // What is received is kept up to MAX_ERROR_BODY (for the response handed back on
        // failure); the parser gets each chunk in pieces of `buf`'s size, and stops the reading
        // at the policy's `max_error_body_bytes`.
        if attempt.given == attempt.chunk.len() {
            match attempt.response.chunk().await {
                Ok(Some(chunk)) => {
                    attempt.keep(&chunk);
                    attempt.chunk = chunk;
                    attempt.given = 0;
                }
                Ok(None) => return Ok(0),
                Err(error) => return Err(reqwest_middleware::Error::Reqwest(error)),
            }
        }
        let pending = attempt.chunk.get(attempt.given..).unwrap_or_default();
        let n = pending.len().min(buf.len());
        buf[..n].copy_from_slice(&pending[..n]);
        attempt.given += n;
        Ok(n)
    }
}

/// tokio's clock, in milliseconds since the middleware was made.
struct Clock {
    epoch: tokio::time::Instant,
}

impl Timer for Clock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    async fn sleep_until(&self, at_ms: u64) {
        // The clock reads whole ms, rounded down: a decision made at reading `k` was made up to
        // 1 ms after `k`. Waking once `at_ms` has passed whole keeps "never earlier than told"
        // true in real time, not only on the clock.
        tokio::time::sleep_until(self.epoch + Duration::from_millis(at_ms.saturating_add(1))).await;
    }
}

/// SplitMix64: a small, fast generator with a 64-bit state, seeded per request.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl rand_core::TryRng for SplitMix64 {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

/// A seed from the operating system; if it cannot give one, std's per-process random keys
/// (themselves from the OS) stand in.
fn os_seed() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        use std::hash::{BuildHasher, RandomState};
        RandomState::new().hash_one(std::process::id())
    })
}
