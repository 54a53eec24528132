//! What one response says about when to send again — its `Retry-After`, its rate-limit
//! fields, the context they name — read once, in the API's dialect, into one value that the
//! request ([`Request::response_parsed`](crate::Request::response_parsed)) and the rate limits
//! ([`RateLimits::observe_parsed`](crate::RateLimits::observe_parsed)) both take.

use crate::body::{BodyFields, BodyWait};
use crate::encoding::{Error as EncodingError, Reader, Writer};
use crate::error::ErrorKind;
use crate::headers::{self, Headers};

/// The statuses whose `Retry-After` HTTP itself defines as pushback: 429 and 503.
pub(crate) const HTTP_PUSHBACK: &[u16] = &[429, 503];

const CONTEXT_NAME_CAP: usize = 24;

/// What a response's rate-limit answer holds back, besides the request that got it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Scope {
    /// The context the response names, or every request if it names none: the rule of every
    /// API that does not say otherwise.
    #[default]
    Named,
    /// Every request of the client, whatever context the response names: Discord's global
    /// limit (`X-RateLimit-Global: true`, `X-RateLimit-Scope: global`).
    Global,
    /// Only the resource the request was about, which no context names: nothing shared is held
    /// by its `Retry-After` (the request itself still waits it out). Discord's per-resource
    /// limit (`X-RateLimit-Scope: shared`), which other requests of the same bucket do not meet.
    Resource,
}

/// What one response said about its rate limit, read from its headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateLimitHeaders {
    /// `X-RateLimit-Limit`.
    pub limit: Option<u32>,
    /// `X-RateLimit-Remaining`.
    pub remaining: Option<u32>,
    /// `X-RateLimit-Window`, converted to milliseconds.
    pub window_ms: Option<u32>,
    /// `X-RateLimit-Context`, if present and printable.
    pub context: Option<ContextName>,
    /// `Retry-After`, in milliseconds (see [`retry_after_ms`](crate::retry_after_ms)).
    pub retry_after_ms: Option<u64>,
    /// When the quota resets, in milliseconds from now: a reset header or the IETF `t`, in
    /// dialects that send one (see [`Dialect`](crate::Dialect)); never in Follow Up Boss's.
    pub reset_ms: Option<u64>,
    /// The statuses whose `Retry-After` is pushback in the dialect read
    /// ([`Dialect::pushback`](crate::Dialect::pushback)): 429 and 503 unless it says otherwise.
    pub pushback: &'static [u16],
    /// What the response's pushback holds besides its own request (see [`Scope`]).
    pub scope: Scope,
    /// The body fields that carry pushback in the dialect read
    /// ([`Dialect::body`](crate::Dialect::body)): none unless it says otherwise.
    pub body: BodyFields,
}

impl Default for RateLimitHeaders {
    /// Nothing said, in HTTP's own terms: pushback on 429 and 503, held by context.
    fn default() -> Self {
        Self {
            limit: None,
            remaining: None,
            window_ms: None,
            context: None,
            retry_after_ms: None,
            reset_ms: None,
            pushback: HTTP_PUSHBACK,
            scope: Scope::Named,
            body: BodyFields::NONE,
        }
    }
}

impl RateLimitHeaders {
    /// The wait this response tells its own request, for a response of `status`: its
    /// `Retry-After`, or without one, when the quota it says is spent (`Remaining: 0`) comes
    /// back — only on the statuses that carry pushback in its dialect.
    #[must_use]
    pub fn told_wait_ms(&self, status: u16) -> Option<u64> {
        if !self.pushback.contains(&status) {
            return None;
        }
        self.retry_after_ms.or(self.reset_ms.filter(|_| self.remaining == Some(0)))
    }

    /// The body fields to read in a response of `status`: the dialect's, on the statuses that
    /// carry pushback in it; none on the others.
    #[must_use]
    pub fn body_fields(&self, status: u16) -> BodyFields {
        if self.pushback.contains(&status) {
            self.body
        } else {
            BodyFields::NONE
        }
    }

    /// Whether the body of a response of `status` may change what the rate limits learn from
    /// it ([`with_body`](Self::with_body)): the dialect reads body fields on this status, and
    /// either the headers tell no wait (the body may), or the body may say the limit is
    /// global where the headers do not (Discord's `"global": true`). A client that shares what
    /// it learns then learns it once the body is read, having missed nothing before.
    #[must_use]
    pub fn may_tell_in_body(&self, status: u16) -> bool {
        let fields = self.body_fields(status);
        fields != BodyFields::NONE
            && (self.told_wait_ms(status).is_none() || (fields.global && self.scope != Scope::Global))
    }

    /// This reading with what the body of the same response of `status` said
    /// ([`BodyParser::pushback`](crate::BodyParser::pushback)), for the rate limits to learn
    /// from it: the body's wait where the headers told none (it holds as a `Retry-After`
    /// would), and a global limit if the body says so. On a status that carries no pushback,
    /// unchanged.
    #[must_use]
    pub fn with_body(mut self, status: u16, body: BodyWait) -> Self {
        if !self.pushback.contains(&status) {
            return self;
        }
        if body.global {
            self.scope = Scope::Global;
        }
        if self.told_wait_ms(status).is_none() {
            self.retry_after_ms = body.wait_ms;
        }
        self
    }
}

/// The wait a request is told and what its failure is, once its body has been read: the wait
/// its headers told (`told_ms`) or else the one its body told; and a client error that carries
/// such a wait is the API saying "rate limited" (see
/// [`Request::response_parsed`](crate::Request::response_parsed)).
pub(crate) fn with_body_wait(
    kind: ErrorKind,
    told_ms: Option<u64>,
    body: BodyWait,
) -> (ErrorKind, Option<u64>) {
    let told = told_ms.or(body.wait_ms);
    let kind = match kind {
        ErrorKind::Forbidden | ErrorKind::ClientError if told.is_some() => ErrorKind::RateLimited,
        kind => kind,
    };
    (kind, told)
}

impl RateLimitHeaders {
    /// Reads the rate-limit headers of a response in Follow Up Boss's dialect (the same as
    /// [`Dialect::FOLLOW_UP_BOSS`](crate::Dialect::FOLLOW_UP_BOSS)`.read`, without the code of
    /// the other dialects). Values that are empty, negative or not whole numbers are treated as
    /// absent; values beyond 32 bits saturate at `u32::MAX`.
    #[must_use]
    pub fn read<H: Headers + ?Sized>(headers: &H) -> Self {
        let mut out = Self { retry_after_ms: headers::retry_after_ms(headers), ..Self::default() };
        headers.for_each(&mut |name, value| {
            let Some(suffix) = strip_prefix_ignore_case(name, b"x-ratelimit-") else { return };
            let number =
                || headers::whole_number(value.trim_ascii()).map(|v| u32::try_from(v).unwrap_or(u32::MAX));
            if suffix.eq_ignore_ascii_case(b"limit") {
                out.limit = number();
            } else if suffix.eq_ignore_ascii_case(b"remaining") {
                out.remaining = number();
            } else if suffix.eq_ignore_ascii_case(b"window") {
                out.window_ms = number().map(|s| s.saturating_mul(1000));
            } else if suffix.eq_ignore_ascii_case(b"context") {
                out.context = ContextName::new(value.trim_ascii());
            }
        });
        out
    }
}

fn strip_prefix_ignore_case<'a>(name: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    let head = name.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| name.get(prefix.len()..).unwrap_or_default())
}

/// A rate-limit context's name: up to [`CAP`](Self::CAP) bytes kept, and a hash of the
/// whole name so that longer names sharing a prefix stay apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ContextName {
    bytes: [u8; CONTEXT_NAME_CAP],
    len: u8,
    hash: u32,
}

impl ContextName {
    /// The longest name kept in full. Longer names are told apart by a hash of the whole.
    pub const CAP: usize = CONTEXT_NAME_CAP;

    /// A context name, or `None` if it is empty or not printable ASCII.
    #[must_use]
    pub fn new(name: &[u8]) -> Option<Self> {
        if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic()) {
            return None;
        }
        let mut bytes = [0; CONTEXT_NAME_CAP];
        let kept = name.len().min(CONTEXT_NAME_CAP);
        bytes.get_mut(..kept)?.copy_from_slice(name.get(..kept)?);
        // FNV-1a over the whole name.
        let hash = name.iter().fold(0x811C_9DC5u32, |h, &b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
        Some(Self { bytes, len: kept as u8, hash })
    }

    /// The name as kept (cut at [`CAP`](Self::CAP) bytes).
    #[must_use]
    pub fn as_str(&self) -> &str {
        let bytes = self.bytes.get(..usize::from(self.len)).unwrap_or_default();
        core::str::from_utf8(bytes).unwrap_or_default()
    }
}

// A context name as bytes, inside the rate limits' encoding (the format: `crate::encoding`).
impl ContextName {
    /// The bytes [`encode`](Self::encode) writes: the kept bytes (zeroes after them), their
    /// length, the hash.
    pub(crate) const ENCODED_LEN: usize = CONTEXT_NAME_CAP + 1 + 4;

    pub(crate) fn encode(&self, w: &mut Writer<'_>) {
        w.bytes(&self.bytes);
        w.u8(self.len);
        w.u32(self.hash);
    }

    /// A name `encode` wrote: its kept bytes a name [`new`](Self::new) accepts, zeroes after
    /// them.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, EncodingError> {
        let bytes: [u8; CONTEXT_NAME_CAP] = r.take()?;
        let len = r.u8()?;
        let hash = r.u32()?;
        let kept = bytes.get(..usize::from(len)).ok_or(EncodingError::Invalid)?;
        let valid = Self::new(kept).is_some() && bytes.iter().skip(usize::from(len)).all(|&b| b == 0);
        if !valid {
            return Err(EncodingError::Invalid);
        }
        Ok(Self { bytes, len, hash })
    }
}
