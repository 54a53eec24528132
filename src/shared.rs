//! What a client's requests share — rate limits, and a retry budget and a circuit breaker if it
//! uses them — and the protocol that changes it: each change is a [`Step`] as plain data, which
//! [`Shared::apply`] decides and nothing else does. Every door and every store speaks it: the
//! async driver (`backoff-core-async`), the reqwest middleware, the C door, a fleet's state in Redis.

use core::cell::RefCell;
use core::future::Future;

use rand_core::TryRng;

use crate::breaker::Breaker;
use crate::budget::RetryBudget;
use crate::encoding::{
    check_header, header, optional, part, slice, Error as EncodingError, Kind, Writer, HEADER_LEN,
};
use crate::error::ErrorKind;
use crate::headers::Headers;
use crate::pushback::RateLimitHeaders;
use crate::rate_limit::{Pacing, Permit, RateLimits};

/// What a client's requests share: its rate-limit state and, if it uses them, its retry
/// budget and circuit breaker.
///
/// Plain data. Keep it in a `RefCell` or a `Mutex` (both are [`SharedState`]s), or in a store
/// shared by a fleet (its bytes: [`Shared::encode`]); every change to it is
/// a [`Step`] that [`apply`](Self::apply) decides.
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
        let held = self.limits.hold_until(now_ms, context);
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
        self.observe_parsed(now_ms, status, &RateLimitHeaders::read(headers), rng);
    }

    /// [`observe`](Self::observe) with the headers already read.
    pub fn observe_parsed<R: TryRng + ?Sized>(
        &mut self,
        now_ms: u64,
        status: u16,
        seen: &RateLimitHeaders,
        rng: &mut R,
    ) {
        self.limits.observe_parsed(now_ms, status, seen);
        if let Some(breaker) = &mut self.breaker {
            breaker.observe(now_ms, Some(status), rng);
        }
    }

    /// A request let through got no (whole) response at `now_ms`: no longer in flight, and a
    /// failure for the breaker.
    pub fn failed<R: TryRng + ?Sized>(&mut self, now_ms: u64, context: Option<&[u8]>, rng: &mut R) {
        self.limits.abandon(context);
        if let Some(breaker) = &mut self.breaker {
            breaker.observe(now_ms, None, rng);
        }
    }

    /// Decides one [`Step`] at `now_ms`, drawing whatever randomness it needs (the breaker's
    /// jitter) from `entropy`, a word the caller drew from its RNG. Every [`SharedState`]
    /// changes the state through this and nothing else, so in-process and fleet-wide state
    /// decide alike.
    pub fn apply(&mut self, now_ms: u64, step: Step<'_>, entropy: u64) -> Outcome {
        let rng = &mut Entropy(entropy);
        match step {
            Step::Acquire { context } => Outcome::Permit(self.acquire(now_ms, context, rng)),
            Step::Observe { status, seen } => {
                self.observe_parsed(now_ms, status, &seen, rng);
                Outcome::Done
            }
            Step::Failed { context } => {
                self.failed(now_ms, context, rng);
                Outcome::Done
            }
            Step::BodyFailed => {
                if let Some(breaker) = &mut self.breaker {
                    breaker.observe(now_ms, None, rng);
                }
                Outcome::Done
            }
            Step::Pay { kind } => Outcome::Paid(self.budget.as_mut().is_none_or(|b| b.withdraw(kind))),
            Step::Refund => {
                if let Some(budget) = &mut self.budget {
                    budget.deposit();
                }
                Outcome::Done
            }
        }
    }
}

/// One change to the [`Shared`] state, as plain data: what the driver asks of a
/// [`SharedState`] at each point of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Step<'a> {
    /// May a request of this context be sent now? Answered with [`Outcome::Permit`]; a `Go`
    /// counts the send as in flight.
    Acquire {
        /// The rate-limit context (`X-RateLimit-Context`), if known.
        context: Option<&'a [u8]>,
    },
    /// A response arrived: its status and rate-limit headers. Answered with [`Outcome::Done`].
    Observe {
        /// The status code.
        status: u16,
        /// Its rate-limit headers, read with [`RateLimitHeaders::read`].
        seen: RateLimitHeaders,
    },
    /// A send got no response: no longer in flight, and a failure for the breaker.
    Failed {
        /// The context it was acquired for.
        context: Option<&'a [u8]>,
    },
    /// A response's body broke off: a failure for the breaker (the status was observed).
    BodyFailed,
    /// A retry after this kind of error asks the budget to pay for it: [`Outcome::Paid`]
    /// (`true` with no budget).
    Pay {
        /// What went wrong (transport failures and 408s cost more).
        kind: ErrorKind,
    },
    /// A success puts the budget's refund back.
    Refund,
}

impl Step<'_> {
    /// The word of randomness a step takes ([`Shared::apply`]'s `entropy`), drawn from `rng`;
    /// if the RNG fails, the caller's clock hashed (SplitMix64's finaliser), as a backoff's
    /// jitter falls back: still different between devices whose clocks differ, never a
    /// constant.
    pub fn entropy<R: TryRng + ?Sized>(rng: &mut R, now_ms: u64) -> u64 {
        rng.try_next_u64().unwrap_or_else(|_| crate::backoff::mix(now_ms))
    }
}

/// What [`Shared::apply`] answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome {
    /// The answer to [`Step::Acquire`].
    Permit(Permit),
    /// The answer to [`Step::Pay`]: whether the retry is paid for.
    Paid(bool),
    /// The step is taken.
    Done,
}

/// Where a client keeps its [`Shared`] state: in this process (`RefCell`, `Mutex`) or in a
/// store a fleet shares (`backoff-core-redis`). The driver asks it for every [`Step`]; it
/// applies the step with [`Shared::apply`] and nothing else, so it stores but never decides.
///
/// The step's future is a named type so that a caller on a multi-threaded runtime can require
/// it to be `Send` (`for<'a> S::Pending<'a>: Send`), which the reqwest middleware does.
pub trait SharedState {
    /// The future of one step.
    type Pending<'a>: Future<Output = Option<Outcome>>
    where
        Self: 'a;

    /// Applies `step` at `now_ms` on the caller's clock (the driver's `Timer::now_ms`), with `entropy`
    /// drawn from the caller's RNG. `None` when the state cannot be had now (a `RefCell` the
    /// caller holds borrowed); a [`Permit::Wait`] instant is on the caller's clock.
    fn step<'a>(&'a self, now_ms: u64, step: Step<'a>, entropy: u64) -> Self::Pending<'a>;
}

impl<const C: usize> SharedState for RefCell<Shared<C>> {
    type Pending<'a> = Immediate;

    /// Requests on one executor thread (embassy, a current-thread runtime). The driver never
    /// holds the borrow across an `.await`; if the caller does, the step is answered `None`
    /// (`backoff_core_async::retry` says what the driver does then), never a panic.
    fn step<'a>(&'a self, now_ms: u64, step: Step<'a>, entropy: u64) -> Self::Pending<'a> {
        Immediate(self.try_borrow_mut().ok().map(|mut s| s.apply(now_ms, step, entropy)))
    }
}

#[cfg(feature = "std")]
impl<const C: usize> SharedState for std::sync::Mutex<Shared<C>> {
    type Pending<'a> = Immediate;

    /// Requests on a multi-threaded runtime. A poisoned mutex (a thread panicked while holding
    /// it) is used as it is: the state is plain data, valid after any step of the core.
    fn step<'a>(&'a self, now_ms: u64, step: Step<'a>, entropy: u64) -> Self::Pending<'a> {
        let mut guard = self.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        Immediate(Some(guard.apply(now_ms, step, entropy)))
    }
}

/// The future of a step on in-process state: decided when it was made, ready when first
/// polled. Polled again, it answers `None` (nothing to give twice), never a panic.
#[derive(Debug)]
#[must_use = "a future does nothing unless polled"]
#[doc(hidden)]
pub struct Immediate(Option<Outcome>);

impl Future for Immediate {
    type Output = Option<Outcome>;
    fn poll(
        mut self: core::pin::Pin<&mut Self>,
        _: &mut core::task::Context<'_>,
    ) -> core::task::Poll<Self::Output> {
        core::task::Poll::Ready(self.0.take())
    }
}

/// The randomness of one step: a SplitMix64 stream from the word the caller drew.
struct Entropy(u64);

impl TryRng for Entropy {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        Ok(crate::backoff::mix(self.0))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            for (d, s) in chunk.iter_mut().zip(word) {
                *d = s;
            }
        }
        Ok(())
    }
}

// As bytes (the format: `crate::encoding`).

impl<const C: usize> Shared<C> {
    /// The bytes [`encode`](Self::encode) writes: a header, the rate limits' encoding, then
    /// the budget's and the breaker's, each after a tag byte (zeroes when absent).
    pub const ENCODED_LEN: usize =
        HEADER_LEN + RateLimits::<C>::ENCODED_LEN + 1 + RetryBudget::ENCODED_LEN + 1 + Breaker::ENCODED_LEN;

    /// Writes the whole state into `out[..ENCODED_LEN]` (the rest untouched); the length
    /// written. One state, one sequence of bytes, like its parts'.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodingError> {
        let out = out.get_mut(..Self::ENCODED_LEN).ok_or(EncodingError::BufferTooSmall)?;
        out.fill(0);
        let mut w = Writer { out, at: 0 };
        header(&mut w, Kind::Shared, u16::try_from(C).unwrap_or(u16::MAX));
        let mut at = HEADER_LEN;
        self.limits.encode(part(w.out, at, RateLimits::<C>::ENCODED_LEN)?)?;
        at += RateLimits::<C>::ENCODED_LEN;
        if let Some(budget) = &self.budget {
            part(w.out, at, 1)?.fill(1);
            budget.encode(part(w.out, at + 1, RetryBudget::ENCODED_LEN)?)?;
        }
        at += 1 + RetryBudget::ENCODED_LEN;
        if let Some(breaker) = &self.breaker {
            part(w.out, at, 1)?.fill(1);
            breaker.encode(part(w.out, at + 1, Breaker::ENCODED_LEN)?)?;
        }
        Ok(Self::ENCODED_LEN)
    }

    /// The state `encode` wrote, or why these bytes are not one (an absent part's bytes must
    /// be zero).
    pub fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        check_header(bytes, Kind::Shared, u16::try_from(C).unwrap_or(u16::MAX), Self::ENCODED_LEN)?;
        let mut at = HEADER_LEN;
        let limits = RateLimits::<C>::decode(slice(bytes, at, RateLimits::<C>::ENCODED_LEN)?)?;
        at += RateLimits::<C>::ENCODED_LEN;
        let budget = optional(bytes, at, RetryBudget::ENCODED_LEN, RetryBudget::decode)?;
        at += 1 + RetryBudget::ENCODED_LEN;
        let breaker = optional(bytes, at, Breaker::ENCODED_LEN, Breaker::decode)?;
        Ok(Self { limits, budget, breaker })
    }
}

#[cfg(test)]
mod tests {
    use super::Entropy;
    use rand_core::TryRng;

    #[test]
    fn a_steps_entropy_fills_bytes_from_its_words_in_order() {
        let mut words = Entropy(42);
        let (a, b) = (words.try_next_u64().unwrap_or(0), words.try_next_u64().unwrap_or(0));
        let mut bytes = [0u8; 12];
        Entropy(42).try_fill_bytes(&mut bytes).unwrap_or(());
        assert_eq!(bytes[..8], a.to_le_bytes());
        assert_eq!(bytes[8..], b.to_le_bytes()[..4]);
        assert_eq!(Entropy(42).try_next_u32().unwrap_or(0), (a >> 32) as u32);
        assert_ne!(a, b);
    }
}
