//! The policy: which outcomes are retried, how long to wait, and when to give up.

/// How the random part of each backoff delay is drawn.
///
/// `d = 2^n · base_ms` is the deterministic part of the n-th delay (n = 0 for the first retry);
/// every shape draws afresh on each retry and is truncated at [`Policy::max_backoff_ms`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Jitter {
    /// No randomness: `min(d, cap)`. Only for tests and single clients; a fleet with no jitter
    /// retries in lockstep.
    None,
    /// `min(d + r, cap)` with `r` uniform over `0..=max_ms`: the formula of Google Cloud's and
    /// Follow Up Boss's "truncated exponential backoff", and the preset (`max_ms = 1000`).
    Additive {
        /// Largest value of `r`, inclusive.
        max_ms: u32,
    },
    /// `r` uniform over `0..=min(d, cap)` ("full jitter").
    Full,
    /// `min(d, cap) / 2 + r` with `r` uniform over `0..=min(d, cap) / 2` ("equal jitter").
    Equal,
    /// Uniform over `base_ms..=min(3 · previous, cap)`, where `previous` is the request's
    /// previous backoff delay (`base_ms` before the first): AWS's "decorrelated jitter". It
    /// does not use `2^n`; it grows by up to three times per retry and is truncated at the
    /// cap. The only shape that depends on the request's history.
    Decorrelated,
}

/// The outcome classes that can be retried, as a small set.
///
/// Classes that are not in the set fail at once with [`Stop::Permanent`](crate::Stop::Permanent).
/// 2xx always succeeds and 400/401/403/404, other 4xx, 1xx/3xx and invalid statuses always
/// fail: retrying them cannot change the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RetryOn(u8);

impl RetryOn {
    /// Nothing is retried.
    pub const NOTHING: Self = Self(0);
    /// 408 Request Timeout.
    pub const REQUEST_TIMEOUT: Self = Self(1);
    /// 429 Too Many Requests.
    pub const RATE_LIMITED: Self = Self(1 << 1);
    /// Any 5xx.
    pub const SERVER_ERROR: Self = Self(1 << 2);
    /// No response: the connection failed or was cut.
    pub const TRANSPORT: Self = Self(1 << 3);
    /// Every retryable class: the preset.
    pub const ALL: Self = Self(0b1111);

    /// The classes of both sets (`self | other`, usable in `const` items): retry on 5xx and on
    /// 429 is `RetryOn::SERVER_ERROR.union(RetryOn::RATE_LIMITED)`.
    #[must_use]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every class of `other` is in `self`.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }
}

/// The classes of both sets, as [`RetryOn::union`].
impl core::ops::BitOr for RetryOn {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        self.union(other)
    }
}

/// The retry policy: plain data, built in `const` context and shared by reference.
///
/// Fields are public so a policy can be written out in full; the `const fn` setters read
/// better when starting from [`Policy::FOLLOW_UP_BOSS`].
///
/// ```
/// use backoff_core::{Jitter, Policy};
///
/// // The preset with the other documented cap, and a two-minute budget per request.
/// const POLICY: Policy = Policy::FOLLOW_UP_BOSS
///     .with_max_backoff_ms(64_000)
///     .with_deadline_ms(120_000);
/// assert_eq!(POLICY.base_ms, 1000);
/// assert_eq!(POLICY.jitter, Jitter::Additive { max_ms: 1000 });
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Policy {
    /// The first delay before jitter, in milliseconds; doubled on each further retry.
    pub base_ms: u32,
    /// The cap ("truncation") of every computed delay, in milliseconds.
    pub max_backoff_ms: u32,
    /// How the random part of each delay is drawn.
    pub jitter: Jitter,
    /// How many retries (not attempts) a request may make; the request is sent at most
    /// `max_retries + 1` times.
    pub max_retries: u32,
    /// The total time a request may take, from [`Request::new`](crate::Request::new) to the
    /// instant of its last retry, in milliseconds; `None` for no deadline.
    pub deadline_ms: Option<u32>,
    /// The longest `Retry-After` the client will wait, in milliseconds; a server asking for
    /// more gets a failure now ([`Stop::RetryAfterTooLong`](crate::Stop::RetryAfterTooLong)).
    pub retry_after_ceiling_ms: u32,
    /// The shortest wait after a `Retry-After`, in milliseconds: `Retry-After: 0` (or a date
    /// already past) from a proxy must not make a client retry at once, every time.
    pub retry_after_floor_ms: u32,
    /// The most added at random to a wait told by `Retry-After` (uniform over `0..=` this), so
    /// a fleet told the same instant does not arrive at once. The told wait itself is never
    /// shortened, and the shared rate-limit hold stays exact.
    pub retry_after_jitter_ms: u32,
    /// Which outcome classes are retried.
    pub retry_on: RetryOn,
    /// The most bytes of a failing response's body that are read: past them the body is
    /// [`BodyKind::Truncated`](crate::BodyKind::Truncated) (or whatever its first bytes already
    /// showed) and the decision is taken, so a body that never ends (a broken proxy, a hostile
    /// server) cannot hold a request, or grow a client's memory, for as long as it is sent.
    pub max_error_body_bytes: u32,
}

impl Policy {
    /// The Follow Up Boss API's published rules ("Error Responses" and "Rate Limiting"), the
    /// policy table of the README:
    ///
    /// | setting | value | why |
    /// |---|---|---|
    /// | `base_ms` | 1000 | "Error Responses": truncated exponential backoff from 1 s |
    /// | `jitter` | `Additive { max_ms: 1000 }` | same page: up to 1 s random per retry |
    /// | `max_backoff_ms` | 32 000 | same page (64 000 is the other documented choice) |
    /// | `max_retries` | 8 | delays 1, 2, 4, 8, 16, 32, 32, 32 s (+ jitter): the cap is reached on the sixth retry and kept for two more, and the worst total wait is 132 s (`cargo run --example schedule`), inside the 2–3 minute budget of a typical job or webhook handler |
    /// | `deadline_ms` | `None` | `max_retries` already bounds the total |
    /// | `retry_after_ceiling_ms` | 600 000 | a server asking for more than 10 minutes is answered with a failure now |
    /// | `retry_after_floor_ms` | 1000 | `Retry-After: 0` waits as long as the first backoff |
    /// | `retry_after_jitter_ms` | 1000 | the backoff's jitter, so a fleet told one instant spreads over a second |
    /// | `retry_on` | `ALL` | 408, 429, 5xx and transport failures |
    /// | `max_error_body_bytes` | 65 536 | an error body is a message of a few hundred bytes; 64 KiB keeps a whole proxy's HTML page and no endless stream |
    pub const FOLLOW_UP_BOSS: Self = Self {
        base_ms: 1000,
        max_backoff_ms: 32_000,
        jitter: Jitter::Additive { max_ms: 1000 },
        max_retries: 8,
        deadline_ms: None,
        retry_after_ceiling_ms: 600_000,
        retry_after_floor_ms: 1000,
        retry_after_jitter_ms: 1000,
        retry_on: RetryOn::ALL,
        max_error_body_bytes: 64 * 1024,
    };

    /// Sets [`base_ms`](Self::base_ms).
    #[must_use]
    pub const fn with_base_ms(mut self, ms: u32) -> Self {
        self.base_ms = ms;
        self
    }

    /// Sets [`max_backoff_ms`](Self::max_backoff_ms).
    #[must_use]
    pub const fn with_max_backoff_ms(mut self, ms: u32) -> Self {
        self.max_backoff_ms = ms;
        self
    }

    /// Sets [`jitter`](Self::jitter).
    #[must_use]
    pub const fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets [`max_retries`](Self::max_retries).
    #[must_use]
    pub const fn with_max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets a total [`deadline_ms`](Self::deadline_ms).
    #[must_use]
    pub const fn with_deadline_ms(mut self, ms: u32) -> Self {
        self.deadline_ms = Some(ms);
        self
    }

    /// Sets [`retry_after_ceiling_ms`](Self::retry_after_ceiling_ms).
    #[must_use]
    pub const fn with_retry_after_ceiling_ms(mut self, ms: u32) -> Self {
        self.retry_after_ceiling_ms = ms;
        self
    }

    /// Sets [`retry_after_floor_ms`](Self::retry_after_floor_ms).
    #[must_use]
    pub const fn with_retry_after_floor_ms(mut self, ms: u32) -> Self {
        self.retry_after_floor_ms = ms;
        self
    }

    /// Sets [`retry_after_jitter_ms`](Self::retry_after_jitter_ms).
    #[must_use]
    pub const fn with_retry_after_jitter_ms(mut self, ms: u32) -> Self {
        self.retry_after_jitter_ms = ms;
        self
    }

    /// Sets [`max_error_body_bytes`](Self::max_error_body_bytes).
    #[must_use]
    pub const fn with_max_error_body_bytes(mut self, bytes: u32) -> Self {
        self.max_error_body_bytes = bytes;
        self
    }

    /// Sets [`retry_on`](Self::retry_on).
    #[must_use]
    pub const fn with_retry_on(mut self, classes: RetryOn) -> Self {
        self.retry_on = classes;
        self
    }
}

impl Default for Policy {
    fn default() -> Self {
        Self::FOLLOW_UP_BOSS
    }
}
