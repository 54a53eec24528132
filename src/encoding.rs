//! The shared state as plain bytes: a compact, versioned, fixed-size encoding of
//! [`RateLimits`], [`RetryBudget`], [`Breaker`] and all three together ([`Shared`]), so a fleet can keep them in a store it
//! already runs (Redis, a file, flash). A store only keeps bytes; every decision stays here.
//!
//! Every encoding starts with a 6-byte header: `b"BC"`, the format [`VERSION`], what the bytes
//! hold ([`Kind`]), and (for rate limits) the number of contexts as a little-endian `u16`.
//! Integers are little-endian; an `Option` is a tag byte (0 or 1) and the value (zeroes when
//! absent). The encoding is canonical — one state, one sequence of bytes, unused bytes zero —
//! so a store can compare values byte for byte. Decoding bytes this version did not write is a
//! typed [`Error`], never a panic and never a guess.
//!
//! A request between attempts and a reply being read have encodings of their own (kinds 5
//! and 6, the reply's body parser whole), for the C library, which keeps them in storage its
//! caller owns and must check on every call. They are hidden from the documented API: a reply's
//! bytes are the body parser's private state, which changes whenever the parser does.
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

// Written for these types, each next to its own type (their fields stay private): the format's
// pieces are here.
#[cfg(doc)]
use crate::{shared::Shared, Breaker, RateLimits, RetryBudget};

/// The format version this crate writes and reads (the third byte of every encoding). Hidden:
/// a caller never needs it, bytes of another version decode to [`Error::OtherVersion`].
#[doc(hidden)]
pub const VERSION: u8 = 2;

const MAGIC: [u8; 2] = *b"BC";
pub(crate) const HEADER_LEN: usize = 6;

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
    /// One request between attempts ([`Request`](crate::Request)).
    Request = 5,
    /// One response being read ([`Reply`](crate::Reply)), its body parser's whole state
    /// included.
    Reply = 6,
}

/// Why a state could not be encoded into a buffer, or bytes could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
/// New reasons may come (`#[non_exhaustive]`): a match needs a `_` arm, which is what a caller
/// does with bytes it cannot use anyway (start afresh, say why).
#[non_exhaustive]
pub enum Error {
    /// `encode`: the buffer is shorter than the encoding (its `ENCODED_LEN`); nothing useful
    /// was written.
    BufferTooSmall,
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

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall => f.write_str("buffer shorter than the state's encoding"),
            Self::NotOurs => f.write_str("not a backoff-core state encoding"),
            Self::OtherVersion(v) => write!(f, "state encoded by format version {v}, this is {VERSION}"),
            Self::OtherKind => f.write_str("an encoding of another kind of state"),
            Self::OtherCapacity => f.write_str("rate limits for another number of contexts"),
            Self::WrongLength => f.write_str("state encoding of the wrong length"),
            Self::Invalid => f.write_str("state encoding with a field out of range"),
        }
    }
}

impl core::error::Error for Error {}

pub(crate) struct Writer<'a> {
    pub(crate) out: &'a mut [u8],
    pub(crate) at: usize,
}

impl Writer<'_> {
    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        for &b in bytes {
            if let Some(slot) = self.out.get_mut(self.at) {
                *slot = b;
            }
            self.at += 1;
        }
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    pub(crate) fn opt_u32(&mut self, v: Option<u32>) {
        self.u8(u8::from(v.is_some()));
        self.u32(v.unwrap_or(0));
    }
    pub(crate) fn opt_u64(&mut self, v: Option<u64>) {
        self.u8(u8::from(v.is_some()));
        self.u64(v.unwrap_or(0));
    }
    pub(crate) fn flag(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    pub(crate) fn zeros(&mut self, len: usize) {
        for _ in 0..len {
            self.u8(0);
        }
    }
}

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        let src = self.bytes.get(self.at..self.at + N).ok_or(Error::WrongLength)?;
        for (d, s) in out.iter_mut().zip(src) {
            *d = *s;
        }
        self.at += N;
        Ok(out)
    }
    pub(crate) fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take::<1>()?[0])
    }
    pub(crate) fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.take()?))
    }
    pub(crate) fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.take()?))
    }
    pub(crate) fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.take()?))
    }
    /// The next `len` bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8], Error> {
        let src = slice(self.bytes, self.at, len)?;
        self.at += len;
        Ok(src)
    }
    pub(crate) fn flag(&mut self) -> Result<bool, Error> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Error::Invalid),
        }
    }
    /// An absent value must be written as zero: one state, one encoding.
    pub(crate) fn opt_u32(&mut self) -> Result<Option<u32>, Error> {
        let present = self.flag()?;
        match (present, self.u32()?) {
            (true, v) => Ok(Some(v)),
            (false, 0) => Ok(None),
            (false, _) => Err(Error::Invalid),
        }
    }
    pub(crate) fn opt_u64(&mut self) -> Result<Option<u64>, Error> {
        let present = self.flag()?;
        match (present, self.u64()?) {
            (true, v) => Ok(Some(v)),
            (false, 0) => Ok(None),
            (false, _) => Err(Error::Invalid),
        }
    }
}

pub(crate) fn header(w: &mut Writer<'_>, kind: Kind, capacity: u16) {
    w.bytes(&MAGIC);
    w.u8(VERSION);
    w.u8(kind as u8);
    w.u16(capacity);
}

pub(crate) fn check_header(bytes: &[u8], kind: Kind, capacity: u16, len: usize) -> Result<Reader<'_>, Error> {
    if bytes.get(..2) != Some(&MAGIC[..]) {
        return Err(Error::NotOurs);
    }
    let mut r = Reader { bytes, at: 2 };
    let version = r.u8()?;
    if version != VERSION {
        return Err(Error::OtherVersion(version));
    }
    if r.u8()? != kind as u8 {
        return Err(Error::OtherKind);
    }
    if r.u16()? != capacity {
        return Err(Error::OtherCapacity);
    }
    if bytes.len() != len {
        return Err(Error::WrongLength);
    }
    Ok(r)
}

pub(crate) fn finish(w: &Writer<'_>, len: usize) -> Result<usize, Error> {
    if w.out.len() < len {
        Err(Error::BufferTooSmall)
    } else {
        Ok(len)
    }
}

/// `len` bytes of `out` from `at`, or the buffer is too small.
pub(crate) fn part(out: &mut [u8], at: usize, len: usize) -> Result<&mut [u8], Error> {
    out.get_mut(at..at.saturating_add(len)).ok_or(Error::BufferTooSmall)
}

/// `len` bytes of `bytes` from `at`, or they are too short.
pub(crate) fn slice(bytes: &[u8], at: usize, len: usize) -> Result<&[u8], Error> {
    bytes.get(at..at.saturating_add(len)).ok_or(Error::WrongLength)
}

/// A tag byte at `at`, then `len` bytes: decoded if the tag is 1, all zero if it is 0.
pub(crate) fn optional<T>(
    bytes: &[u8],
    at: usize,
    len: usize,
    decode: impl Fn(&[u8]) -> Result<T, Error>,
) -> Result<Option<T>, Error> {
    let value = slice(bytes, at.saturating_add(1), len)?;
    match slice(bytes, at, 1)? {
        [1] => decode(value).map(Some),
        [0] if value.iter().all(|&b| b == 0) => Ok(None),
        _ => Err(Error::Invalid),
    }
}
