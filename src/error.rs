//! What went wrong with an attempt, and why the request stopped.

use core::fmt;

use crate::body::{Body, BodyKind};

/// The class of a failed attempt, from its status code or the lack of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ErrorKind {
    /// 400: the request is wrong; the body's `errorMessage` says how.
    BadRequest,
    /// 401: missing or invalid API key.
    Unauthorized,
    /// 403: not allowed — also what a locked-down expired account gets.
    Forbidden,
    /// 404.
    NotFound,
    /// 408: the server gave up waiting for the request.
    RequestTimeout,
    /// 429: rate limited; the request was not processed.
    RateLimited,
    /// Any other 4xx.
    ClientError,
    /// Any 5xx.
    ServerError,
    /// 1xx or 3xx, which the HTTP layer should have handled.
    UnexpectedStatus,
    /// Below 100 or above 599: not an HTTP status.
    InvalidStatus,
    /// No response: the connection failed or was cut.
    Transport,
}

impl ErrorKind {
    /// Classifies a status code; `None` for 2xx, which is success.
    #[must_use]
    pub const fn from_status(status: u16) -> Option<Self> {
        Some(match status {
            200..=299 => return None,
            400 => Self::BadRequest,
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            404 => Self::NotFound,
            408 => Self::RequestTimeout,
            429 => Self::RateLimited,
            402..=499 => Self::ClientError,
            500..=599 => Self::ServerError,
            100..=199 | 300..=399 => Self::UnexpectedStatus,
            _ => Self::InvalidStatus,
        })
    }

    const fn describe(self) -> &'static str {
        match self {
            Self::BadRequest => "bad request",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not found",
            Self::RequestTimeout => "request timeout",
            Self::RateLimited => "rate limited",
            Self::ClientError => "client error",
            Self::ServerError => "server error",
            Self::UnexpectedStatus => "unexpected status",
            Self::InvalidStatus => "invalid status",
            Self::Transport => "transport failure",
        }
    }
}

/// Why a request stopped retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Stop {
    /// The class is not retried (by the table, or by the policy's `retry_on`).
    Permanent,
    /// `max_retries` retries were made already.
    RetriesExhausted,
    /// The next retry — or, before a send, a hold of the client's shared state — would end
    /// after the policy's deadline.
    Deadline,
    /// The server's `Retry-After` is longer than the policy's ceiling — or, before a send, a
    /// hold of the client's shared state (another response's `Retry-After`, a reset, a spent
    /// window) is: the request fails now, unsent, instead of waiting in vain.
    RetryAfterTooLong,
    /// The request is marked not idempotent and may have been processed (a 5xx, a connection
    /// cut after sending, or a body cut after a status other than 408 and 429), so it is not
    /// sent again. A 408 or a 429 says the request was not processed, even when its body is
    /// then cut: that request is retried.
    MayHaveBeenProcessed,
    /// The client's shared [`RetryBudget`](crate::RetryBudget) cannot pay for another retry:
    /// too many requests are failing.
    BudgetExhausted,
}

impl Stop {
    const fn describe(self) -> &'static str {
        match self {
            Self::Permanent => "not retryable",
            Self::RetriesExhausted => "retries exhausted",
            Self::Deadline => "deadline reached",
            Self::RetryAfterTooLong => "server asked to wait longer than allowed",
            Self::MayHaveBeenProcessed => "may have been processed; not idempotent",
            Self::BudgetExhausted => "retry budget exhausted",
        }
    }
}

/// What went wrong with one attempt: its class, its status, and what its body said.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Cause<const N: usize> {
    /// The class of the failure.
    pub kind: ErrorKind,
    /// The status code, if there was a response.
    pub status: Option<u16>,
    /// What the error body said.
    pub body: Body<N>,
}

/// The typed error a request ends with: the last attempt's cause and why it stopped.
///
/// `N` is the capacity in bytes of the message buffer, chosen by the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Error<const N: usize> {
    /// The last attempt's failure.
    pub cause: Cause<N>,
    /// Why no further attempt is made.
    pub stop: Stop,
    /// How many times the request was sent.
    pub attempts: u32,
}

impl<const N: usize> Error<N> {
    /// The class of the last failure.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        self.cause.kind
    }

    /// The last status code, if there was a response.
    #[must_use]
    pub const fn status(&self) -> Option<u16> {
        self.cause.status
    }

    /// The body's `errorMessage` (or `error`), if it had one.
    #[must_use]
    pub fn message(&self) -> Option<&str> {
        self.cause.body.message()
    }
}

impl<const N: usize> fmt::Display for Cause<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.describe())?;
        if let Some(status) = self.status {
            write!(f, " ({status})")?;
        }
        let cut = if self.body.is_truncated() { "…" } else { "" };
        match self.body.kind() {
            BodyKind::ErrorMessage | BodyKind::Error => {
                write!(f, ": {}{cut}", self.body.message().unwrap_or_default())
            }
            BodyKind::NotJson => {
                write!(f, ", body not JSON: {}{cut}", self.body.raw_text().unwrap_or_default())
            }
            BodyKind::Truncated => f.write_str(", body cut off"),
            BodyKind::Invalid => f.write_str(", body not valid JSON"),
            BodyKind::NoMessage | BodyKind::Empty | BodyKind::NotRead => Ok(()),
        }
    }
}

impl<const N: usize> fmt::Display for Error<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} [{} after {} attempt(s)]", self.cause, self.stop.describe(), self.attempts)
    }
}

/// `core::error::Error` (the same trait as `std::error::Error`), with no feature needed.
impl<const N: usize> core::error::Error for Error<N> {}
