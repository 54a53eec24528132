//! The per-request state machine: one attempt's outcome in, the next action out.

use rand_core::TryRng;

use crate::backoff::{self, JitterSource};
use crate::body::{Body, BodyParser, Progress};
use crate::budget::RetryBudget;
use crate::encoding::{
    check_header, finish, header, Error as EncodingError, Kind, Reader, Writer, HEADER_LEN,
};
use crate::error::{Cause, Error, ErrorKind, Stop};
use crate::headers::{self, Headers};
use crate::policy::{Policy, RetryOn};
use crate::pushback::{RateLimitHeaders, HTTP_PUSHBACK};

/// Whether sending the request twice is harmless: the caller says so when it creates the
/// [`Request`], because only the caller knows.
///
/// HTTP's own answer (RFC 9110 §9.2.2): GET, HEAD, OPTIONS, PUT and DELETE are idempotent; a
/// POST or PATCH is only with an `Idempotency-Key` the server honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Idempotency {
    /// Safe to repeat (GET, PUT, DELETE, or a POST with an idempotency key): retried as the
    /// policy says.
    Idempotent,
    /// Not safe to repeat (a POST that creates something): retried only when the request was
    /// provably not processed — a 429, a 408, or a transport failure before it was sent.
    NotIdempotent,
}

/// How far a failed transport got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TransportFailure {
    /// Nothing was sent: DNS, connect or TLS handshake failed.
    BeforeSend,
    /// The connection failed after the request (or part of it) was sent: the server may have
    /// processed it.
    AfterSend,
}

/// What the caller does next. Every variant must be handled: a `match` covers it completely.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "the action says whether to retry, fail or hand the response on"]
pub enum Action<const N: usize> {
    /// The response is a success (2xx): hand it to the application.
    Succeed {
        /// How many times the request was sent.
        attempts: u32,
    },
    /// Give up, with the typed error.
    Fail(Error<N>),
    /// Wait, then send the request again and report its outcome to `retry.request`.
    Retry(Retry<N>),
}

impl<const N: usize> Action<N> {
    /// Settles this action with the client's retry `budget` (none: unchanged): a retry is paid
    /// for, or, if the bucket cannot pay, becomes a failure with
    /// [`Stop::BudgetExhausted`]; a success puts the refund back; a failure costs nothing.
    ///
    /// The budget is kept apart from the request, so it can live wherever the client keeps
    /// it: beside the loop, in firmware's static memory, or in a shared store, where the
    /// driver's [`Step::Pay`](crate::shared::Step::Pay) settles it the same way.
    pub fn settle(self, budget: Option<&mut RetryBudget>) -> Self {
        let Some(budget) = budget else { return self };
        match self {
            Self::Succeed { .. } => {
                budget.deposit();
                self
            }
            Self::Retry(retry) if !budget.withdraw(retry.cause.kind) => Self::Fail(retry.refused()),
            Self::Retry(_) | Self::Fail(_) => self,
        }
    }
}

/// One line for a log: `succeed after 2 attempt(s)`, `retry in 1163 ms (backoff): server error
/// (503)…`, `retry in 2492 ms (Retry-After): rate limited (429): …`, or the error's own line
/// after `fail: `. A jitter that fell back to the clock says so (`clock jitter`).
impl<const N: usize> core::fmt::Display for Action<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Succeed { attempts } => write!(f, "succeed after {attempts} attempt(s)"),
            Self::Fail(error) => write!(f, "fail: {error}"),
            Self::Retry(retry) => {
                let (why, source) = match retry.wait {
                    Wait::Backoff(source) => ("backoff", source),
                    Wait::RetryAfter(source) => ("Retry-After", source),
                };
                let clock = if source == JitterSource::ClockFallback { ", clock jitter" } else { "" };
                write!(f, "retry in {} ms ({why}{clock}): {}", retry.delay_ms, retry.cause)
            }
        }
    }
}

impl<const N: usize> Retry<N> {
    /// The failure this retry becomes when the budget cannot pay for it: the attempt just
    /// made was the last, and the error says [`Stop::BudgetExhausted`]. [`Action::settle`] does
    /// this for a budget at hand; a door whose budget is kept elsewhere calls it when the
    /// budget refuses (a shared state's [`Step::Pay`](crate::shared::Step::Pay) answered
    /// `Paid(false)`).
    #[must_use]
    pub fn refused(self) -> Error<N> {
        // `retries` counts this retry already, so it is the number of the attempt just made.
        Error { cause: self.cause, stop: Stop::BudgetExhausted, attempts: self.request.retries }
    }
}

/// Why the wait is as long as it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Wait {
    /// Truncated exponential backoff, with jitter from this source.
    Backoff(JitterSource),
    /// The server's `Retry-After` (at least the policy's
    /// [`retry_after_floor_ms`](Policy::retry_after_floor_ms)), plus jitter from this source
    /// (up to [`retry_after_jitter_ms`](Policy::retry_after_jitter_ms)).
    RetryAfter(JitterSource),
}

/// A decision to retry: how long to wait, until when, and the state to continue with.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "the request continues only through `retry.request`"]
pub struct Retry<const N: usize> {
    /// The request, one retry further on. The only way to continue it.
    pub request: Request,
    /// How long to wait, in milliseconds.
    pub delay_ms: u32,
    /// The instant to send the request again, on the caller's clock (`now + delay_ms`).
    pub at_ms: u64,
    /// Where the delay came from.
    pub wait: Wait,
    /// What went wrong with the attempt just made, for the log.
    pub cause: Cause<N>,
}

/// The state of one request across its attempts: plain data, 32 bytes, no buffers and no
/// references, so it can be kept anywhere — caller-allocated C storage, a shared store, a
/// `static` — and carried on from there.
///
/// The [`Policy`] is handed to each call that decides, as `httparse` hands its configuration
/// to each parse: the request holds only its own progress. Hand it the same policy every time
/// (a different one is obeyed from that call on).
///
/// Each outcome consumes the request; only [`Action::Retry`] gives it back, so a request that
/// succeeded or failed cannot be asked for another decision.
///
/// ```
/// use backoff_core::{Action, Idempotency, Policy, Request};
/// # use core::convert::Infallible;
/// # struct Dice(u32);
/// # impl rand_core::TryRng for Dice {
/// #     type Error = Infallible;
/// #     fn try_next_u32(&mut self) -> Result<u32, Infallible> { self.0 = self.0.wrapping_mul(747796405).wrapping_add(1); Ok(self.0) }
/// #     fn try_next_u64(&mut self) -> Result<u64, Infallible> { Ok(u64::from(self.try_next_u32()?)) }
/// #     fn try_fill_bytes(&mut self, d: &mut [u8]) -> Result<(), Infallible> { d.fill(7); Ok(()) }
/// # }
/// let policy = Policy::FOLLOW_UP_BOSS;
/// let mut rng = Dice(1);
/// let request = Request::new(0, Idempotency::Idempotent);
/// let action = request.complete::<64, _, _>(&policy, 10, 503, &(), b"", &mut rng);
/// let Action::Retry(retry) = action else { panic!("a 503 is retried") };
/// assert!((1000..=2000).contains(&retry.delay_ms));
/// let action = retry.request.complete::<64, _, _>(&policy, retry.at_ms + 40, 201, &(), b"", &mut rng);
/// assert!(matches!(action, Action::Succeed { attempts: 2 }));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Request {
    started_ms: u64,
    latest_ms: u64,
    retries: u32,
    /// The last backoff delay, for [`Jitter::Decorrelated`](crate::Jitter::Decorrelated); 0
    /// before the first (a decorrelated delay of 0 only happens when base or cap is 0, where
    /// "none" gives the same draw), which keeps the state at 32 bytes.
    last_backoff_ms: u32,
    idempotency: Idempotency,
}

impl Request {
    /// A request about to be sent for the first time at `now_ms` (the caller's monotonic
    /// clock, in milliseconds; the deadline counts from here), and whether it is safe to send
    /// twice. There is no default: a POST that creates something is
    /// [`Idempotency::NotIdempotent`], and is then retried only when it was provably not
    /// processed.
    #[must_use]
    pub const fn new(now_ms: u64, idempotency: Idempotency) -> Self {
        Self { started_ms: now_ms, latest_ms: now_ms, retries: 0, last_backoff_ms: 0, idempotency }
    }

    /// Whether the request is safe to send twice, as given to [`new`](Self::new).
    #[must_use]
    pub const fn idempotency(&self) -> Idempotency {
        self.idempotency
    }

    /// How many retries were decided so far (0 before the first).
    #[must_use]
    pub const fn retries(&self) -> u32 {
        self.retries
    }

    /// The attempt about to be made or just made, counting from 1.
    #[must_use]
    pub const fn attempt(&self) -> u32 {
        self.retries.saturating_add(1)
    }

    /// Whether the request may wait until `until_ms` before its next send — a
    /// [`Permit::Wait`](crate::Permit::Wait) of the client's rate limits or breaker, at
    /// `now_ms` — or fails now instead, without being sent: a wait longer than the policy's
    /// [`retry_after_ceiling_ms`](Policy::retry_after_ceiling_ms) fails with
    /// [`Stop::RetryAfterTooLong`], one that ends past its deadline with [`Stop::Deadline`]
    /// (kind [`ErrorKind::RateLimited`], no status, no body: the request was held back, not
    /// answered). The same rule as a `Retry-After` on the request's own response: no request
    /// waits in vain.
    pub fn may_wait_until<const N: usize>(
        &self,
        policy: &Policy,
        now_ms: u64,
        until_ms: u64,
    ) -> Result<(), Error<N>> {
        let now = now_ms.max(self.latest_ms);
        let stop = if until_ms.saturating_sub(now) > u64::from(policy.retry_after_ceiling_ms) {
            Stop::RetryAfterTooLong
        } else if policy
            .deadline_ms
            .is_some_and(|deadline| until_ms > self.started_ms.saturating_add(u64::from(deadline)))
        {
            Stop::Deadline
        } else {
            return Ok(());
        };
        let cause = Cause { kind: ErrorKind::RateLimited, status: None, body: Body::not_read() };
        // Nothing is sent: the attempts are those made before.
        Err(Error { cause, stop, attempts: self.retries })
    }

    /// A response arrived: its status and headers are read now; feed its body to the returned
    /// [`Reply`] (or not, for a 2xx), then call [`Reply::finish`] — or
    /// [`Reply::body_failed`] if the body could not be read to its end. Of the `policy`, the
    /// reply keeps how much of an error body it reads
    /// ([`max_error_body_bytes`](Policy::max_error_body_bytes)).
    pub fn response<const N: usize, H: Headers + ?Sized>(
        self,
        policy: &Policy,
        status: u16,
        headers: &H,
    ) -> Reply<N> {
        Reply::new(
            self,
            policy,
            status,
            ErrorKind::from_status(status),
            told_wait_ms(status, headers),
            BodyParser::new(),
        )
    }

    /// [`response`](Self::response) for a response already read in an API's dialect
    /// ([`Dialect::read`](crate::Dialect::read)), the same value the rate limits take: the
    /// statuses that carry pushback in that dialect wait as it says
    /// ([`RateLimitHeaders::told_wait_ms`]: its `Retry-After`, or the reset of a spent quota).
    /// A client error that carries such a wait — GitHub's 403 with `x-ratelimit-remaining: 0`
    /// or a `retry-after` — is the API saying "rate limited": kind
    /// [`ErrorKind::RateLimited`], not processed, retried after the wait (or failed at once if
    /// the wait is past the ceiling or the deadline). One that carries none stays what its
    /// status says (a 403 without them is forbidden) — unless its body carries the wait, in
    /// the fields the dialect reads ([`RateLimitHeaders::body_fields`]: Discord's
    /// `retry_after`, GitHub's secondary-limit message), which [`Reply::finish`] reads.
    pub fn response_parsed<const N: usize>(
        self,
        policy: &Policy,
        status: u16,
        seen: &RateLimitHeaders,
    ) -> Reply<N> {
        let mut kind = ErrorKind::from_status(status);
        let retry_after_ms = kind.and(seen.told_wait_ms(status));
        if retry_after_ms.is_some() && matches!(kind, Some(ErrorKind::Forbidden | ErrorKind::ClientError)) {
            kind = Some(ErrorKind::RateLimited);
        }
        Reply::new(self, policy, status, kind, retry_after_ms, BodyParser::reading(seen.body_fields(status)))
    }

    /// A response arrived whole: [`response`](Self::response), one
    /// [`feed`](Reply::feed) and [`finish`](Reply::finish) in one call.
    #[inline]
    pub fn complete<const N: usize, H: Headers + ?Sized, R: TryRng + ?Sized>(
        self,
        policy: &Policy,
        now_ms: u64,
        status: u16,
        headers: &H,
        body: &[u8],
        rng: &mut R,
    ) -> Action<N> {
        if ErrorKind::from_status(status).is_none() {
            // A success: its body is the application's, and nothing is read. (This much is
            // inlined into the caller; the failing path, with its large frame, is not.)
            return Action::Succeed { attempts: self.attempt() };
        }
        self.complete_failure(now_ms, status, headers, body, rng, policy)
    }

    #[inline(never)]
    fn complete_failure<const N: usize, H: Headers + ?Sized, R: TryRng + ?Sized>(
        self,
        now_ms: u64,
        status: u16,
        headers: &H,
        body: &[u8],
        rng: &mut R,
        policy: &Policy,
    ) -> Action<N> {
        // Classified again rather than passed: the success path in the caller stays a range
        // check (20 instructions, not 31).
        let Some(kind) = ErrorKind::from_status(status) else {
            return Action::Succeed { attempts: self.attempt() };
        };
        // `response`, one `feed` and `finish`, without a `Reply` between them: the parser
        // is not moved into one and out again. As `Reply::feed` reads it, no more of the body
        // than the policy's `max_error_body_bytes`.
        let mut parser = BodyParser::new();
        let left = usize::try_from(policy.max_error_body_bytes).unwrap_or(usize::MAX);
        let _ = parser.feed(body.get(..left).unwrap_or(body));
        // The rest as `Reply::finish` (not shared: passing the parser to a common function
        // grew that one's stack frame on thumbv6m from 472 to 536 bytes).
        let (kind, told) =
            crate::pushback::with_body_wait(kind, told_wait_ms(status, headers), parser.pushback());
        let cause = Cause { kind, status: Some(status), body: parser.finish() };
        self.decide(policy, now_ms, cause, Processed::of(status, Some(kind)), told, rng)
    }

    /// No response: the connection failed at `now_ms`, before or after sending.
    pub fn transport_failure<const N: usize, R: TryRng + ?Sized>(
        self,
        policy: &Policy,
        now_ms: u64,
        failure: TransportFailure,
        rng: &mut R,
    ) -> Action<N> {
        let cause = Cause { kind: ErrorKind::Transport, status: None, body: Body::not_read() };
        let processed = match failure {
            TransportFailure::BeforeSend => Processed::No,
            TransportFailure::AfterSend => Processed::Maybe,
        };
        self.decide(policy, now_ms, cause, processed, None, rng)
    }

    fn decide<const N: usize, R: TryRng + ?Sized>(
        mut self,
        policy: &Policy,
        now_ms: u64,
        cause: Cause<N>,
        processed: Processed,
        retry_after_ms: Option<u64>,
        rng: &mut R,
    ) -> Action<N> {
        // A clock that went backwards is read as "no time passed".
        let now = now_ms.max(self.latest_ms);
        self.latest_ms = now;
        match self.next_wait(policy, now, cause.kind, processed, retry_after_ms, rng) {
            Err(stop) => Action::Fail(Error { cause, stop, attempts: self.attempt() }),
            Ok((delay_ms, wait)) => {
                self.retries = self.retries.saturating_add(1);
                if let Wait::Backoff(_) = wait {
                    self.last_backoff_ms = delay_ms;
                }
                let at_ms = now.saturating_add(u64::from(delay_ms));
                Action::Retry(Retry { request: self, delay_ms, at_ms, wait, cause })
            }
        }
    }

    /// The wait before the next attempt, or why there is none.
    fn next_wait<R: TryRng + ?Sized>(
        &self,
        policy: &Policy,
        now: u64,
        kind: ErrorKind,
        processed: Processed,
        retry_after_ms: Option<u64>,
        rng: &mut R,
    ) -> Result<(u32, Wait), Stop> {
        let class = match kind {
            ErrorKind::RequestTimeout => RetryOn::REQUEST_TIMEOUT,
            ErrorKind::RateLimited => RetryOn::RATE_LIMITED,
            ErrorKind::ServerError => RetryOn::SERVER_ERROR,
            ErrorKind::Transport => RetryOn::TRANSPORT,
            _ => return Err(Stop::Permanent),
        };
        if !policy.retry_on.contains(class) {
            return Err(Stop::Permanent);
        }
        if self.idempotency == Idempotency::NotIdempotent && processed == Processed::Maybe {
            return Err(Stop::MayHaveBeenProcessed);
        }
        if self.retries >= policy.max_retries {
            return Err(Stop::RetriesExhausted);
        }
        // What is left of the deadline, if there is one; none at all once it has passed.
        let left = match policy.deadline_ms {
            Some(deadline) => {
                let elapsed = now.saturating_sub(self.started_ms);
                Some(u64::from(deadline).checked_sub(elapsed).ok_or(Stop::Deadline)?)
            }
            None => None,
        };
        let Some(told) = retry_after_ms else {
            let previous = if self.last_backoff_ms == 0 { None } else { Some(self.last_backoff_ms) };
            let delay = backoff::delay(policy, self.retries, previous, now, rng);
            if left.is_some_and(|left| u64::from(delay.ms) > left) {
                return Err(Stop::Deadline);
            }
            return Ok((delay.ms, Wait::Backoff(delay.source)));
        };
        if told > u64::from(policy.retry_after_ceiling_ms) {
            return Err(Stop::RetryAfterTooLong);
        }
        // Never earlier than told, never sooner than the floor; then spread like a backoff,
        // but only as far as the deadline allows: the jitter is ours, the told wait is not.
        let at_least = told.max(u64::from(policy.retry_after_floor_ms));
        if left.is_some_and(|left| at_least > left) {
            return Err(Stop::Deadline);
        }
        let (r, source) = backoff::draw(rng, policy.retry_after_jitter_ms, self.retries, now);
        let mut delay = at_least.saturating_add(u64::from(r));
        if let Some(left) = left {
            delay = delay.min(left);
        }
        Ok((u32::try_from(delay).unwrap_or(u32::MAX), Wait::RetryAfter(source)))
    }
}

/// The wait a response's own `Retry-After` tells, on the statuses HTTP defines it as pushback
/// for (429 and 503; RFC 9110 §10.2.3 also allows it on 3xx, which are not retried).
fn told_wait_ms<H: Headers + ?Sized>(status: u16, headers: &H) -> Option<u64> {
    if HTTP_PUSHBACK.contains(&status) {
        headers::retry_after_ms(headers)
    } else {
        None
    }
}

/// Whether the failed attempt may have reached the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Processed {
    No,
    Maybe,
}

impl Processed {
    /// 429 says the request was not processed, as does any status an API uses to say "rate
    /// limited" (GitHub's 403 with its rate-limit headers, read as [`ErrorKind::RateLimited`]);
    /// 408 that it never arrived whole (RFC 9110 §15.5.9). Every other failing status may
    /// follow processing.
    fn of(status: u16, kind: Option<ErrorKind>) -> Self {
        match (status, kind) {
            (408 | 429, _) | (_, Some(ErrorKind::RateLimited)) => Self::No,
            _ => Self::Maybe,
        }
    }
}

/// A response being read: status and headers are in, the body is fed in chunks.
///
/// `N` is the capacity of the error message buffer. For a 2xx the body is the application's
/// and feeding it is a no-op. Plain data like the [`Request`] it continues: it can be kept
/// between two chunks wherever the request could.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "call `finish` to get the action"]
pub struct Reply<const N: usize> {
    request: Request,
    status: u16,
    kind: Option<ErrorKind>,
    retry_after_ms: Option<u64>,
    /// Body bytes that may still be read: the policy's `max_error_body_bytes`, less those fed.
    left: u32,
    parser: BodyParser<N>,
}

impl<const N: usize> Reply<N> {
    fn new(
        request: Request,
        policy: &Policy,
        status: u16,
        kind: Option<ErrorKind>,
        retry_after_ms: Option<u64>,
        parser: BodyParser<N>,
    ) -> Self {
        let left = policy.max_error_body_bytes;
        Self { request, status, kind, retry_after_ms, left, parser }
    }

    /// The response's status code.
    #[must_use]
    pub const fn status(&self) -> u16 {
        self.status
    }

    /// What the body fed so far said about waiting, in the fields its dialect reads (see
    /// [`BodyParser::pushback`]): for the rate limits to learn
    /// ([`RateLimitHeaders::with_body`]) once the body has ended.
    #[must_use]
    pub fn body_wait(&self) -> crate::BodyWait {
        self.parser.pushback()
    }

    /// Feeds the next chunk of the body (any size, down to one byte).
    ///
    /// [`Progress::Decided`] says to stop reading: the parser knows all it will know, or the
    /// policy's [`max_error_body_bytes`](Policy::max_error_body_bytes) were read (the bytes
    /// past them are not looked at, and a JSON body still open there is
    /// [`Truncated`](crate::BodyKind::Truncated)).
    pub fn feed(&mut self, chunk: &[u8]) -> Progress {
        if self.kind.is_none() {
            return Progress::Decided;
        }
        let left = usize::try_from(self.left).unwrap_or(usize::MAX);
        let Some(within) = chunk.get(..left) else {
            // All of it fits: fewer bytes than `left`, a `u32`, so the cast and the
            // subtraction are exact.
            self.left -= chunk.len() as u32;
            return self.parser.feed(chunk);
        };
        self.left = 0;
        let _ = self.parser.feed(within);
        Progress::Decided
    }

    /// The body ended (or the caller stopped reading it) at `now_ms`: the next action under
    /// `policy`.
    pub fn finish<R: TryRng + ?Sized>(self, policy: &Policy, now_ms: u64, rng: &mut R) -> Action<N> {
        let Some(kind) = self.kind else {
            return Action::Succeed { attempts: self.request.attempt() };
        };
        let (kind, told) = crate::pushback::with_body_wait(kind, self.retry_after_ms, self.parser.pushback());
        let cause = Cause { kind, status: Some(self.status), body: self.parser.finish() };
        let processed = Processed::of(self.status, Some(kind));
        self.request.decide(policy, now_ms, cause, processed, told, rng)
    }

    /// The body could not be read to its end at `now_ms` (the connection was cut, a read timed
    /// out): whatever the status said, this is a [transport failure](ErrorKind::Transport)
    /// after sending, with the body kept as [`BodyKind::Truncated`](crate::BodyKind::Truncated).
    /// A 201 whose body was cut is not a success, and a cut error body is not the server's
    /// last word. Retried as a transport failure; a request that is not idempotent is
    /// retried only if the status proves it was not processed (429, 408).
    pub fn body_failed<R: TryRng + ?Sized>(self, policy: &Policy, now_ms: u64, rng: &mut R) -> Action<N> {
        let cause = Cause { kind: ErrorKind::Transport, status: Some(self.status), body: Body::cut() };
        let processed = Processed::of(self.status, self.kind);
        self.request.decide(policy, now_ms, cause, processed, self.retry_after_ms, rng)
    }
}

// As bytes (the format: `crate::encoding`). Not part of the documented API: the C door keeps
// requests in its caller's storage this way, and the reply's bytes are the body parser's
// private state, which changes whenever the parser does.

const IDEMPOTENCY: [Idempotency; 2] = [Idempotency::Idempotent, Idempotency::NotIdempotent];
const KINDS: [ErrorKind; 11] = [
    ErrorKind::BadRequest,
    ErrorKind::Unauthorized,
    ErrorKind::Forbidden,
    ErrorKind::NotFound,
    ErrorKind::RequestTimeout,
    ErrorKind::RateLimited,
    ErrorKind::ClientError,
    ErrorKind::ServerError,
    ErrorKind::UnexpectedStatus,
    ErrorKind::InvalidStatus,
    ErrorKind::Transport,
];

impl Request {
    /// The bytes of the fields alone, without a header.
    const FIELDS_LEN: usize = 8 + 8 + 4 + 4 + 1;

    /// The bytes [`encode`](Self::encode) writes.
    #[doc(hidden)]
    pub const ENCODED_LEN: usize = HEADER_LEN + Self::FIELDS_LEN;

    fn write(&self, w: &mut Writer<'_>) {
        w.u64(self.started_ms);
        w.u64(self.latest_ms);
        w.u32(self.retries);
        w.u32(self.last_backoff_ms);
        w.u8(u8::from(self.idempotency == Idempotency::NotIdempotent));
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, EncodingError> {
        Ok(Self {
            started_ms: r.u64()?,
            latest_ms: r.u64()?,
            retries: r.u32()?,
            last_backoff_ms: r.u32()?,
            idempotency: *IDEMPOTENCY.get(usize::from(r.u8()?)).ok_or(EncodingError::Invalid)?,
        })
    }

    /// Writes the request into `out[..ENCODED_LEN]` (the canonical encoding of
    /// [`encoding`](crate::encoding), kind 5); the length written. For a door that keeps
    /// requests in storage it does not own (the C library); not part of the documented API.
    #[doc(hidden)]
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodingError> {
        if out.len() < Self::ENCODED_LEN {
            return Err(EncodingError::BufferTooSmall);
        }
        let mut w = Writer { out, at: 0 };
        header(&mut w, Kind::Request, 0);
        self.write(&mut w);
        finish(&w, Self::ENCODED_LEN)
    }

    /// The request [`encode`](Self::encode) wrote, or why these bytes are not one.
    #[doc(hidden)]
    pub fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        let mut r = check_header(bytes, Kind::Request, 0, Self::ENCODED_LEN)?;
        Self::read(&mut r)
    }
}

impl<const N: usize> Reply<N> {
    /// The bytes [`encode`](Self::encode) writes: 137 bytes and the message's `N`.
    #[doc(hidden)]
    pub const ENCODED_LEN: usize =
        HEADER_LEN + Request::FIELDS_LEN + 2 + 1 + 9 + 4 + BodyParser::<N>::ENCODED_LEN;

    /// The capacity as the header gives it (an `N` past `u16::MAX` is told apart by the
    /// length).
    const CAPACITY: u16 = if N > u16::MAX as usize { u16::MAX } else { N as u16 };

    /// Writes the reply — the request it continues, the status and what its headers said, and
    /// the body parser's whole state — into `out[..ENCODED_LEN]` (kind 6); the length
    /// written. For a door that keeps a reply between two chunks in storage it does not own
    /// (the C library); not part of the documented API.
    #[doc(hidden)]
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodingError> {
        if out.len() < Self::ENCODED_LEN {
            return Err(EncodingError::BufferTooSmall);
        }
        let mut w = Writer { out, at: 0 };
        header(&mut w, Kind::Reply, Self::CAPACITY);
        self.request.write(&mut w);
        w.u16(self.status);
        w.u8(self
            .kind
            .map_or(0, |kind| KINDS.iter().position(|k| *k == kind).map_or(u8::MAX, |i| i as u8 + 1)));
        w.opt_u64(self.retry_after_ms);
        w.u32(self.left);
        self.parser.write(&mut w);
        finish(&w, Self::ENCODED_LEN)
    }

    /// The reply [`encode`](Self::encode) wrote, or why these bytes are not one: besides every
    /// field's range, its kind is the one its status gives (or rate limited, for a client
    /// error that carried a wait), and a success carries no wait.
    #[doc(hidden)]
    pub fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        let mut r = check_header(bytes, Kind::Reply, Self::CAPACITY, Self::ENCODED_LEN)?;
        let request = Request::read(&mut r)?;
        let status = r.u16()?;
        let kind = match r.u8()? {
            0 => None,
            tag => Some(*KINDS.get(usize::from(tag - 1)).ok_or(EncodingError::Invalid)?),
        };
        let retry_after_ms = r.opt_u64()?;
        let left = r.u32()?;
        let parser = BodyParser::read(&mut r)?;
        let kind_fits = match (ErrorKind::from_status(status), kind) {
            (None, None) => retry_after_ms.is_none(),
            (Some(ErrorKind::Forbidden | ErrorKind::ClientError), Some(ErrorKind::RateLimited)) => {
                retry_after_ms.is_some()
            }
            (of_status, kind) => of_status == kind,
        };
        if !kind_fits {
            return Err(EncodingError::Invalid);
        }
        Ok(Self { request, status, kind, retry_after_ms, left, parser })
    }
}
