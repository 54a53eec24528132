//! A retry budget shared by all requests of a client. The rules are on [`RetryBudget`].

use crate::encoding::{check_header, finish, header, Error as EncodingError, Kind, Writer, HEADER_LEN};
use crate::error::ErrorKind;

/// A token bucket for retries, so an outage does not become a retry storm. Plain data: keep
/// one per client (per host, per fleet member).
///
/// In the manner of the AWS SDKs' "standard" retry mode and gRPC's retry throttling: every
/// retry costs tokens, every success puts some back, and when the bucket cannot pay for a
/// retry the request fails at once with [`Stop::BudgetExhausted`] instead of adding load to a
/// server that is already failing. Healthy traffic keeps the bucket full, so the budget only
/// bites when most requests fail. Settle each decision with it: [`Action::settle`]; the
/// preset uses none.
///
/// [`Stop::BudgetExhausted`]: crate::Stop::BudgetExhausted
/// [`Action::settle`]: crate::Action::settle
///
/// ```
/// use backoff_core::RetryBudget;
///
/// let mut budget = RetryBudget::AWS_STANDARD;
/// assert_eq!(budget.tokens(), 500);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RetryBudget {
    tokens: u32,
    /// The most tokens the bucket holds; it starts full.
    pub capacity: u32,
    /// Tokens a retry after an error response costs.
    pub retry_cost: u32,
    /// Tokens a retry after a transport failure or a 408 costs (these are likelier to be a
    /// sign of an overloaded or unreachable server).
    pub timeout_cost: u32,
    /// Tokens a success puts back.
    pub success_refund: u32,
}

impl RetryBudget {
    /// The AWS SDKs' standard retry mode: 500 tokens, a retry costs 5 (10 after a timeout or
    /// connection failure), a success puts 1 back. From a full bucket, 100 retries in a row
    /// with no success empty it.
    pub const AWS_STANDARD: Self = Self::new(500, 5, 10, 1);

    /// A full bucket with these costs.
    #[must_use]
    pub const fn new(capacity: u32, retry_cost: u32, timeout_cost: u32, success_refund: u32) -> Self {
        Self { tokens: capacity, capacity, retry_cost, timeout_cost, success_refund }
    }

    /// Tokens left.
    #[must_use]
    pub const fn tokens(&self) -> u32 {
        self.tokens
    }

    /// Takes the cost of retrying after `kind`; `false` (and nothing taken) if the bucket
    /// cannot pay.
    pub(crate) fn withdraw(&mut self, kind: ErrorKind) -> bool {
        let cost = match kind {
            ErrorKind::Transport | ErrorKind::RequestTimeout => self.timeout_cost,
            _ => self.retry_cost,
        };
        match self.tokens.checked_sub(cost) {
            Some(left) => {
                self.tokens = left;
                true
            }
            None => false,
        }
    }

    /// Puts a success's refund back, up to the capacity.
    pub(crate) fn deposit(&mut self) {
        self.tokens = self.tokens.saturating_add(self.success_refund).min(self.capacity);
    }
}

// As bytes (the format: `crate::encoding`).

impl RetryBudget {
    /// The bytes [`encode`](Self::encode) writes.
    pub const ENCODED_LEN: usize = HEADER_LEN + 5 * 4;

    /// Writes the budget into `out[..ENCODED_LEN]`; the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodingError> {
        if out.len() < Self::ENCODED_LEN {
            return Err(EncodingError::BufferTooSmall);
        }
        let mut w = Writer { out, at: 0 };
        header(&mut w, Kind::RetryBudget, 0);
        for v in [self.tokens, self.capacity, self.retry_cost, self.timeout_cost, self.success_refund] {
            w.u32(v);
        }
        finish(&w, Self::ENCODED_LEN)
    }

    /// The budget `encode` wrote, or why these bytes are not one.
    pub fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        let mut r = check_header(bytes, Kind::RetryBudget, 0, Self::ENCODED_LEN)?;
        let tokens = r.u32()?;
        let mut budget = Self::new(r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        if tokens > budget.capacity {
            return Err(EncodingError::Invalid);
        }
        budget.tokens = tokens;
        Ok(budget)
    }
}
