//! The shared state as plain bytes: a compact, versioned, fixed-size encoding of
//! [`RateLimits`], [`RetryBudget`], [`Breaker`] and all three together ([`Shared`]), so a fleet can keep them in a store it
//! already runs (Redis, a file, flash). A store only keeps bytes; every decision stays here.
//!
//! Every encoding starts with a 6-byte header: `b"BC"`, the format [`VERSION`], what the bytes
//! hold ([`Kind`]), and (for rate limits) the number of contexts as a little-endian `u16`.
//! Integers are little-endian; an `Option` is a tag byte (0 or 1) and the value (zeroes when
//! absent). The encoding is canonical — one state, one sequence of bytes, unused bytes zero —
//! so a store can compare values byte for byte. Decoding bytes this version did not write is a
//! typed [`DecodeError`], never a panic and never a guess.
//!
//! ```
//! use backoff_core::{Pacing, RateLimits};
//!
//! let mut limits = RateLimits::<4>::new(Pacing::Burst);
//! limits.observe(1_000, 429, &[("Retry-After", "8"), ("X-RateLimit-Context", "events")]);
//! let mut bytes = [0u8; RateLimits::<4>::ENCODED_LEN];
//! limits.encode(&mut bytes).unwrap();
//! let back = RateLimits::<4>::decode(&bytes).unwrap();
//! assert_eq!(back.hold_until(1_000, Some(b"events")), 9_000);
//! ```

use core::fmt;

use crate::breaker::{Breaker, BreakerPolicy, BreakerState, BUCKETS};
use crate::budget::RetryBudget;
use crate::pushback::{ContextName, CONTEXT_NAME_CAP};
use crate::rate_limit::{Entry, Hold, Pacing, RateLimits};
use crate::shared::Shared;

/// The format version this crate writes and reads.
pub const VERSION: u8 = 2;

const MAGIC: [u8; 2] = *b"BC";
const HEADER_LEN: usize = 6;

/// What an encoding holds (its fourth byte).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[doc(hidden)]
pub enum Kind {
    /// [`RateLimits`].
    RateLimits = 1,
    /// [`RetryBudget`].
    RetryBudget = 2,
    /// [`Breaker`].
    Breaker = 3,
    /// A client's whole [`Shared`] state: rate limits, and the budget and breaker if it has
    /// them.
    Shared = 4,
}

/// Why bytes could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
/// New reasons may come (`#[non_exhaustive]`): a match needs a `_` arm, which is what a caller
/// does with bytes it cannot use anyway (start afresh, say why).
#[non_exhaustive]
pub enum DecodeError {
    /// Not this crate's encoding at all (the first two bytes are not `BC`).
    NotOurs,
    /// Written by another version of the format (the byte it gave).
    OtherVersion(u8),
    /// An encoding of another kind of state.
    OtherKind,
    /// Rate limits for another number of contexts.
    OtherCapacity,
    /// Shorter or longer than this kind's fixed size.
    WrongLength,
    /// A field out of its range (a tag that is not 0 or 1, a context name that is not
    /// printable, more tokens than the capacity…).
    Invalid,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotOurs => f.write_str("not a backoff-core state encoding"),
            Self::OtherVersion(v) => write!(f, "state encoded by format version {v}, this is {VERSION}"),
            Self::OtherKind => f.write_str("an encoding of another kind of state"),
            Self::OtherCapacity => f.write_str("rate limits for another number of contexts"),
            Self::WrongLength => f.write_str("state encoding of the wrong length"),
            Self::Invalid => f.write_str("state encoding with a field out of range"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// The buffer given to `encode` is shorter than the encoding (its `ENCODED_LEN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferTooSmall;

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("buffer shorter than the state's encoding")
    }
}

impl core::error::Error for BufferTooSmall {}

struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.out.get_mut(self.at) {
                *slot = b;
            }
            self.at += 1;
        }
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn opt_u32(&mut self, v: Option<u32>) {
        self.u8(u8::from(v.is_some()));
        self.u32(v.unwrap_or(0));
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        self.u8(u8::from(v.is_some()));
        self.u64(v.unwrap_or(0));
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        let src = self.bytes.get(self.at..self.at + N).ok_or(DecodeError::WrongLength)?;
        for (d, s) in out.iter_mut().zip(src) {
            *d = *s;
        }
        self.at += N;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take::<1>()?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    fn flag(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid),
        }
    }
    /// An absent value must be written as zero: one state, one encoding.
    fn opt_u32(&mut self) -> Result<Option<u32>, DecodeError> {
        let present = self.flag()?;
        match (present, self.u32()?) {
            (true, v) => Ok(Some(v)),
            (false, 0) => Ok(None),
            (false, _) => Err(DecodeError::Invalid),
        }
    }
    fn opt_u64(&mut self) -> Result<Option<u64>, DecodeError> {
        let present = self.flag()?;
        match (present, self.u64()?) {
            (true, v) => Ok(Some(v)),
            (false, 0) => Ok(None),
            (false, _) => Err(DecodeError::Invalid),
        }
    }
    /// A hold: its far part is none, or believed for less than it says.
    fn hold(&mut self) -> Result<Hold, DecodeError> {
        let (until_ms, far, believed) = (self.u64()?, self.u64()?, self.u64()?);
        if believed >= far && (far, believed) != (0, 0) {
            return Err(DecodeError::Invalid);
        }
        Ok(Hold { until_ms, far: (far, believed) })
    }
}

/// A hold: the instant of those believed whole, then the far one's instant and the instant
/// it stops being believed.
fn hold(w: &mut Writer<'_>, hold: Hold) {
    w.u64(hold.until_ms);
    w.u64(hold.far.0);
    w.u64(hold.far.1);
}

fn header(w: &mut Writer<'_>, kind: Kind, capacity: u16) {
    w.bytes(&MAGIC);
    w.u8(VERSION);
    w.u8(kind as u8);
    w.u16(capacity);
}

fn check_header(bytes: &[u8], kind: Kind, capacity: u16, len: usize) -> Result<Reader<'_>, DecodeError> {
    if bytes.get(..2) != Some(&MAGIC[..]) {
        return Err(DecodeError::NotOurs);
    }
    let mut r = Reader { bytes, at: 2 };
    let version = r.u8()?;
    if version != VERSION {
        return Err(DecodeError::OtherVersion(version));
    }
    if r.u8()? != kind as u8 {
        return Err(DecodeError::OtherKind);
    }
    if r.u16()? != capacity {
        return Err(DecodeError::OtherCapacity);
    }
    if bytes.len() != len {
        return Err(DecodeError::WrongLength);
    }
    Ok(r)
}

fn finish(w: &Writer<'_>, len: usize) -> Result<usize, BufferTooSmall> {
    if w.out.len() < len {
        Err(BufferTooSmall)
    } else {
        Ok(len)
    }
}

// Tag, name bytes, name length, hash, hold (near, far, far believed), three optional u32s, paced,
// used, optional reset, sent, and the two u16 counts written as one 4. (`2 + 2` at the end would
// let a mutant turn it into `2 * 2` unnoticed: the same number.)
const ENTRY_LEN: usize = 1 + CONTEXT_NAME_CAP + 1 + 4 + 24 + 3 * 5 + 8 + 8 + 9 + 8 + 4;

impl<const C: usize> RateLimits<C> {
    /// The bytes [`encode`](Self::encode) writes: 35 plus 106 per context.
    pub const ENCODED_LEN: usize = HEADER_LEN + 24 + 1 + 4 + C * ENTRY_LEN;

    /// Writes the state into `out[..ENCODED_LEN]` (the rest untouched); the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        if out.len() < Self::ENCODED_LEN {
            return Err(BufferTooSmall);
        }
        let mut w = Writer { out, at: 0 };
        header(&mut w, Kind::RateLimits, u16::try_from(C).unwrap_or(u16::MAX));
        hold(&mut w, self.all);
        w.u8(match self.pacing {
            Pacing::Burst => 0,
            Pacing::Smooth => 1,
        });
        w.u32(self.max_hold_ms);
        for entry in &self.entries {
            match entry {
                None => w.bytes(&[0; ENTRY_LEN]),
                Some(e) => {
                    w.u8(1);
                    w.bytes(&e.name.bytes);
                    w.u8(e.name.len);
                    w.u32(e.name.hash);
                    hold(&mut w, e.hold);
                    w.opt_u32(e.limit);
                    w.opt_u32(e.window_ms);
                    w.opt_u32(e.remaining);
                    w.u64(e.next_paced_ms);
                    w.u64(e.used_ms);
                    w.opt_u64(e.reset_at_ms);
                    w.u64(e.sent_ms);
                    w.u16(e.in_flight);
                    w.u16(e.sends_since_idle);
                }
            }
        }
        finish(&w, Self::ENCODED_LEN)
    }

    /// The state `encode` wrote, or why these bytes are not one.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let capacity = u16::try_from(C).map_err(|_| DecodeError::OtherCapacity)?;
        let mut r = check_header(bytes, Kind::RateLimits, capacity, Self::ENCODED_LEN)?;
        let mut limits = Self::new(Pacing::Burst);
        limits.all = r.hold()?;
        limits.pacing = match r.u8()? {
            0 => Pacing::Burst,
            1 => Pacing::Smooth,
            _ => return Err(DecodeError::Invalid),
        };
        limits.max_hold_ms = r.u32()?;
        for slot in limits.entries.iter_mut() {
            if !r.flag()? {
                // An empty slot is all zeroes: one state, one encoding.
                if r.take::<{ ENTRY_LEN - 1 }>()?.iter().any(|&b| b != 0) {
                    return Err(DecodeError::Invalid);
                }
                continue;
            }
            let bytes: [u8; CONTEXT_NAME_CAP] = r.take()?;
            let len = r.u8()?;
            let hash = r.u32()?;
            let kept = bytes.get(..usize::from(len)).ok_or(DecodeError::Invalid)?;
            let valid =
                ContextName::new(kept).is_some() && bytes.iter().skip(usize::from(len)).all(|&b| b == 0);
            if !valid {
                return Err(DecodeError::Invalid);
            }
            let name = ContextName { bytes, len, hash };
            *slot = Some(Entry {
                name,
                hold: r.hold()?,
                limit: r.opt_u32()?,
                window_ms: r.opt_u32()?,
                remaining: r.opt_u32()?,
                next_paced_ms: r.u64()?,
                used_ms: r.u64()?,
                reset_at_ms: r.opt_u64()?,
                sent_ms: r.u64()?,
                in_flight: r.u16()?,
                sends_since_idle: r.u16()?,
            });
        }
        Ok(limits)
    }
}

impl RetryBudget {
    /// The bytes [`encode`](Self::encode) writes.
    pub const ENCODED_LEN: usize = HEADER_LEN + 5 * 4;

    /// Writes the budget into `out[..ENCODED_LEN]`; the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        if out.len() < Self::ENCODED_LEN {
            return Err(BufferTooSmall);
        }
        let mut w = Writer { out, at: 0 };
        header(&mut w, Kind::RetryBudget, 0);
        for v in [self.tokens, self.capacity, self.retry_cost, self.timeout_cost, self.success_refund] {
            w.u32(v);
        }
        finish(&w, Self::ENCODED_LEN)
    }

    /// The budget `encode` wrote, or why these bytes are not one.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = check_header(bytes, Kind::RetryBudget, 0, Self::ENCODED_LEN)?;
        let tokens = r.u32()?;
        let mut budget = Self::new(r.u32()?, r.u32()?, r.u32()?, r.u32()?);
        if tokens > budget.capacity {
            return Err(DecodeError::Invalid);
        }
        budget.tokens = tokens;
        Ok(budget)
    }
}

impl Breaker {
    /// The bytes [`encode`](Self::encode) writes.
    pub const ENCODED_LEN: usize = HEADER_LEN + 22 + 11 + 1 + 2 + BUCKETS * 4 + 8 + 1 + 8 + 8;

    /// Writes the breaker (its policy included) into `out[..ENCODED_LEN]`; the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        if out.len() < Self::ENCODED_LEN {
            return Err(BufferTooSmall);
        }
        let mut w = Writer { out, at: 0 };
        header(&mut w, Kind::Breaker, 0);
        let p = &self.policy;
        w.u16(p.consecutive_failures);
        w.u8(p.failure_percent);
        w.u32(p.window_ms);
        w.u16(p.min_requests);
        w.u32(p.break_ms);
        w.u32(p.max_break_ms);
        w.u8(p.probes);
        w.u32(p.release_spread_ms);
        match self.state {
            BreakerState::Closed => {
                w.u8(0);
                w.bytes(&[0; 10]);
            }
            BreakerState::Open { until_ms } => {
                w.u8(1);
                w.u64(until_ms);
                w.bytes(&[0; 2]);
            }
            BreakerState::HalfOpen { in_flight, succeeded } => {
                w.u8(2);
                w.u64(0);
                w.u8(in_flight);
                w.u8(succeeded);
            }
        }
        w.u8(self.trips);
        w.u16(self.consecutive);
        for (requests, failures) in self.buckets {
            w.u16(requests);
            w.u16(failures);
        }
        w.u64(self.bucket_start_ms);
        w.u8(self.newest);
        w.u64(self.latest_ms);
        w.u64(self.probe_ms);
        finish(&w, Self::ENCODED_LEN)
    }

    /// The breaker `encode` wrote, or why these bytes are not one.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = check_header(bytes, Kind::Breaker, 0, Self::ENCODED_LEN)?;
        let policy = BreakerPolicy {
            consecutive_failures: r.u16()?,
            failure_percent: r.u8()?,
            window_ms: r.u32()?,
            min_requests: r.u16()?,
            break_ms: r.u32()?,
            max_break_ms: r.u32()?,
            probes: r.u8()?,
            release_spread_ms: r.u32()?,
        };
        let tag = r.u8()?;
        let until_ms = r.u64()?;
        let (in_flight, succeeded) = (r.u8()?, r.u8()?);
        // Fields a state does not use are zero: one state, one encoding.
        let state = match (tag, until_ms, in_flight, succeeded) {
            (0, 0, 0, 0) => BreakerState::Closed,
            (1, until_ms, 0, 0) => BreakerState::Open { until_ms },
            (2, 0, in_flight, succeeded) => BreakerState::HalfOpen { in_flight, succeeded },
            _ => return Err(DecodeError::Invalid),
        };
        let mut breaker = Self::new(policy);
        breaker.state = state;
        breaker.trips = r.u8()?;
        breaker.consecutive = r.u16()?;
        for bucket in breaker.buckets.iter_mut() {
            *bucket = (r.u16()?, r.u16()?);
        }
        breaker.bucket_start_ms = r.u64()?;
        breaker.newest = r.u8()?;
        if usize::from(breaker.newest) >= BUCKETS {
            return Err(DecodeError::Invalid);
        }
        breaker.latest_ms = r.u64()?;
        breaker.probe_ms = r.u64()?;
        Ok(breaker)
    }
}

impl<const C: usize> Shared<C> {
    /// The bytes [`encode`](Self::encode) writes: a header, the rate limits' encoding, then
    /// the budget's and the breaker's, each after a tag byte (zeroes when absent).
    pub const ENCODED_LEN: usize =
        HEADER_LEN + RateLimits::<C>::ENCODED_LEN + 1 + RetryBudget::ENCODED_LEN + 1 + Breaker::ENCODED_LEN;

    /// Writes the whole state into `out[..ENCODED_LEN]` (the rest untouched); the length
    /// written. One state, one sequence of bytes, like its parts'.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let out = out.get_mut(..Self::ENCODED_LEN).ok_or(BufferTooSmall)?;
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
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
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

/// `len` bytes of `out` from `at`, or the buffer is too small.
fn part(out: &mut [u8], at: usize, len: usize) -> Result<&mut [u8], BufferTooSmall> {
    out.get_mut(at..at.saturating_add(len)).ok_or(BufferTooSmall)
}

/// `len` bytes of `bytes` from `at`, or they are too short.
fn slice(bytes: &[u8], at: usize, len: usize) -> Result<&[u8], DecodeError> {
    bytes.get(at..at.saturating_add(len)).ok_or(DecodeError::WrongLength)
}

/// A tag byte at `at`, then `len` bytes: decoded if the tag is 1, all zero if it is 0.
fn optional<T>(
    bytes: &[u8],
    at: usize,
    len: usize,
    decode: impl Fn(&[u8]) -> Result<T, DecodeError>,
) -> Result<Option<T>, DecodeError> {
    let value = slice(bytes, at.saturating_add(1), len)?;
    match slice(bytes, at, 1)? {
        [1] => decode(value).map(Some),
        [0] if value.iter().all(|&b| b == 0) => Ok(None),
        _ => Err(DecodeError::Invalid),
    }
}
