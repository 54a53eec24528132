//! backoff-core for C: the same decisions through a C ABI, with no allocation.
//!
//! Every object lives in storage the caller allocates, of the size the header exports
//! (`BACKOFF_REQUEST_SIZE`, `BACKOFF_SHARED_SIZE`; any alignment); every function returns a
//! [`backoff_status`]; time is a `uint64_t` of milliseconds passed in; randomness comes from a
//! callback with a context pointer ([`backoff_rng`]), because the unbiased draw asks for a
//! number of words that depends on the words (a rejection loop), which values passed in could
//! not serve, and firmware can plug its hardware RNG in directly.
//!
//! Misuse is answered with a status, never undefined behaviour in this library and never a
//! panic across the boundary: a NULL pointer, storage too small, storage that was never set
//! up, a request used after it ended, a call out of order, a message buffer too small, an
//! argument out of range (every `bool` and enum crosses as an integer and is checked). A call
//! that returns anything but `BACKOFF_OK` has written nothing: not its outputs, not the storage.
//!
//! The storage is the caller's, and anything may happen to it between calls. Each call reads
//! it into a local value, checking every byte, and writes it back at its end (the layout and
//! its checks are in `storage.rs`). Both kinds of storage hold plain data only: the shared
//! state is the core's canonical byte encoding, and a request's storage holds its policy and
//! context as checked integers and the core's canonical encoding of its request (or reply)
//! state, the body parser's whole state included. Every tag, flag, length and range is checked
//! when read, so any byte pattern — forged on purpose too — is a valid state or
//! `BACKOFF_ERR_CORRUPT`, never undefined behaviour. A 64-bit check word over a request's
//! bytes also catches the accidents that would leave a valid but other state (any single
//! corrupted byte is always caught). What C cannot be protected from is C's own undefined
//! behaviour: a pointer to less memory than the size it claims, or storage freed while in use.
//!
//! The door decides nothing itself: a request is the core's [`Request`] and
//! [`Reply`](backoff_core::Reply), and the shared state is the core's [`Shared`], changed only
//! by [`Shared::apply`] with the same [`Step`]s the async driver takes (a retry is paid for with
//! [`Action::settle`], which is what the driver's `Step::Pay` does).

#![cfg_attr(not(feature = "std"), no_std)]
#![allow(non_camel_case_types)]
// The C functions take raw pointers by design: each is checked (NULL, the storage's header and
// check word) before use, and what C cannot be checked for is the header's documented contract.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
#![deny(missing_docs)]

use core::ffi::{c_char, c_int, c_void};
use core::mem::align_of;

use backoff_core::shared::{Outcome, Shared, Step};
use backoff_core::{
    Action, Body, BodyKind, Breaker, BreakerPolicy, BreakerState, ErrorKind, Idempotency, JitterSource,
    Pacing, Permit, Policy, RateLimitHeaders, Request, RetryBudget, RetryOn, Stop, TransportFailure, Wait,
};

mod storage;

use storage::{Core, Phase, RequestImage, Sent};
const CONTEXT_MAX: usize = BACKOFF_CONTEXT_MAX;

#[cfg(all(not(feature = "std"), not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    // No panic is reachable from the C functions (the core's hard property); firmware needs a
    // handler to link all the same.
    loop {
        core::hint::spin_loop();
    }
}

/// What every function returns.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum backoff_status {
    /// Done.
    BACKOFF_OK = 0,
    /// A pointer that must not be NULL was NULL (a NULL with a non-zero length, too).
    BACKOFF_ERR_NULL = 1,
    /// The storage's size is below `BACKOFF_REQUEST_SIZE` / `BACKOFF_SHARED_SIZE`.
    BACKOFF_ERR_STORAGE_TOO_SMALL = 2,
    /// Not returned since layout 2: storage needs no alignment. Kept so the codes keep their
    /// numbers.
    BACKOFF_ERR_STORAGE_MISALIGNED = 3,
    /// The storage was never set up by `backoff_request_begin` / `backoff_shared_init` (its
    /// magic number is not there).
    BACKOFF_ERR_NOT_INITIALISED = 4,
    /// The request already ended (it succeeded or failed): begin a new one.
    BACKOFF_ERR_ENDED = 5,
    /// The call does not fit the request's phase: a body fed before the response began, a
    /// response begun twice, a transport failure while a body is being read, a second
    /// `backoff_shared_acquire` before the first send was answered.
    BACKOFF_ERR_WRONG_PHASE = 6,
    /// The message buffer is smaller than `BACKOFF_MESSAGE_CAPACITY + 1` bytes.
    BACKOFF_ERR_BUFFER_TOO_SMALL = 7,
    /// An argument is out of its documented range: a jitter, pacing, idempotency or failure
    /// code, a `has_deadline` other than 0 or 1, a `BACKOFF_RETRY_*` or `BACKOFF_SHARED_*`
    /// bit that does not exist, a context longer than `BACKOFF_CONTEXT_MAX`.
    BACKOFF_ERR_INVALID_ARGUMENT = 8,
    /// The storage holds bytes this library did not write there: a field out of range (an enum
    /// tag, a flag, a length, a byte that must be zero), or a check word that does not match (a
    /// stray write, a brown-out, RAM kept across a firmware update). Nothing was read from it;
    /// set it up again (`backoff_request_begin`, `backoff_shared_init`).
    BACKOFF_ERR_CORRUPT = 9,
    /// The storage was set up by a version of this library with another layout (see
    /// `BACKOFF_LAYOUT_VERSION`): set it up again.
    BACKOFF_ERR_OTHER_LAYOUT = 10,
}

use backoff_status::*;

/// The bytes of the longest message (`errorMessage`, or the printable prefix of a body that
/// is not JSON) an action carries; a message buffer must hold this many plus a NUL.
pub const BACKOFF_MESSAGE_CAPACITY: usize = 255;
const CAP: usize = BACKOFF_MESSAGE_CAPACITY;

/// The bytes a request's storage must have, on every target. Any alignment will do (C99:
/// `static uint8_t request[BACKOFF_REQUEST_SIZE];`); `backoff_request_storage` is a type of
/// this size.
pub const BACKOFF_REQUEST_SIZE: usize = 640;
/// The alignment a request's storage must have: none (it is read and written byte-wise).
pub const BACKOFF_REQUEST_ALIGN: usize = 1;
/// The bytes the shared storage (rate limits, retry budget, circuit breaker) must have.
pub const BACKOFF_SHARED_SIZE: usize = 768;
/// The alignment the shared storage must have: none.
pub const BACKOFF_SHARED_ALIGN: usize = 1;
/// The layout of the storage this library writes; storage written by a library with another
/// layout is refused with `BACKOFF_ERR_OTHER_LAYOUT`.
pub const BACKOFF_LAYOUT_VERSION: u32 = 3;
/// The longest rate-limit context name a request remembers (`backoff_shared_acquire`).
pub const BACKOFF_CONTEXT_MAX: usize = 64;
/// The rate-limit contexts a shared state keeps at once (the least recently used one makes
/// room for a new one; its hold moves to every context, so nothing goes early).
pub const BACKOFF_SHARED_CONTEXTS: usize = 4;
const CONTEXTS: usize = BACKOFF_SHARED_CONTEXTS;

/// Storage for a request, declared in C99 with the right size: `backoff_request_storage r;`
/// then pass `r.bytes` (or `&r`) and `sizeof r`.
#[repr(C)]
pub struct backoff_request_storage {
    /// The bytes.
    pub bytes: [u8; BACKOFF_REQUEST_SIZE],
}

/// Storage for a shared state, declared in C99 with the right size.
#[repr(C)]
pub struct backoff_shared_storage {
    /// The bytes.
    pub bytes: [u8; BACKOFF_SHARED_SIZE],
}

/// `backoff_policy.jitter`: no randomness (tests only; a fleet would retry in lockstep).
pub const BACKOFF_JITTER_NONE: u32 = 0;
/// `backoff_policy.jitter`: `min(2^n · base + r, cap)`, `r` uniform over `0..=jitter_max_ms` (the preset).
pub const BACKOFF_JITTER_ADDITIVE: u32 = 1;
/// `backoff_policy.jitter`: uniform over `0..=min(2^n · base, cap)`.
pub const BACKOFF_JITTER_FULL: u32 = 2;
/// `backoff_policy.jitter`: half of `min(2^n · base, cap)` plus a uniform half.
pub const BACKOFF_JITTER_EQUAL: u32 = 3;
/// `backoff_policy.jitter`: uniform over `base..=min(3 · previous, cap)`.
pub const BACKOFF_JITTER_DECORRELATED: u32 = 4;

/// `backoff_policy.retry_on` bit: 408.
pub const BACKOFF_RETRY_REQUEST_TIMEOUT: u32 = 1;
/// `backoff_policy.retry_on` bit: 429.
pub const BACKOFF_RETRY_RATE_LIMITED: u32 = 2;
/// `backoff_policy.retry_on` bit: any 5xx.
pub const BACKOFF_RETRY_SERVER_ERROR: u32 = 4;
/// `backoff_policy.retry_on` bit: no response (the connection failed or was cut).
pub const BACKOFF_RETRY_TRANSPORT: u32 = 8;

/// `backoff_request_begin`'s `idempotency`: sending it twice is harmless (GET, PUT, DELETE, a
/// POST with an `Idempotency-Key` the server honours): retried as the policy says.
pub const BACKOFF_IDEMPOTENT: u32 = 1;
/// `backoff_request_begin`'s `idempotency`: not safe to send twice (a POST that creates
/// something): retried only when provably not processed (429, 408, a failure before sending).
pub const BACKOFF_NOT_IDEMPOTENT: u32 = 2;

/// `backoff_request_transport_failure`'s `failure`: nothing was sent (DNS, connect, TLS).
pub const BACKOFF_FAILURE_BEFORE_SEND: u32 = 1;
/// `backoff_request_transport_failure`'s `failure`: the connection failed after (part of)
/// the request was sent: the server may have processed it.
pub const BACKOFF_FAILURE_AFTER_SEND: u32 = 2;

/// `backoff_shared_init` pacing: send while `Remaining` allows, then hold for a window.
pub const BACKOFF_PACING_BURST: u32 = 0;
/// `backoff_shared_init` pacing: space requests `Window / (Limit - 1)` apart.
pub const BACKOFF_PACING_SMOOTH: u32 = 1;

/// `backoff_shared_init` option bit: a retry budget, the AWS SDKs' standard one. The bucket
/// holds 500 tokens and starts full; a retry after an error response costs 5, a retry after a
/// transport failure, a cut body or a 408 costs 10; a success puts 1 back. A retry the bucket
/// cannot pay for is not made: the request fails with `BACKOFF_STOP_BUDGET_EXHAUSTED`.
pub const BACKOFF_SHARED_BUDGET: u32 = 1;
/// `backoff_shared_init` option bit: a circuit breaker (the core's `BreakerPolicy::API_CLIENT`):
/// it opens after 5 failures in a row (5xx, no response, a cut body), or when half of at least
/// 10 requests in 10 s failed; open 2 s at first, doubling to 8 s, then one probe; requests held
/// meanwhile are released over 20 s. `backoff_shared_acquire` answers WAIT while it is open.
pub const BACKOFF_SHARED_BREAKER: u32 = 2;

/// `backoff_shared_breaker_state`: the shared state has no breaker.
pub const BACKOFF_BREAKER_NONE: u32 = 0;
/// `backoff_shared_breaker_state`: requests go.
pub const BACKOFF_BREAKER_CLOSED: u32 = 1;
/// `backoff_shared_breaker_state`: no request goes until the break ends.
pub const BACKOFF_BREAKER_OPEN: u32 = 2;
/// `backoff_shared_breaker_state`: probes go; the rest wait for their outcome.
pub const BACKOFF_BREAKER_HALF_OPEN: u32 = 3;

/// `backoff_request_feed`'s `*progress`: keep feeding, more of the body can change the answer.
pub const BACKOFF_PROGRESS_READING: u32 = 1;
/// `backoff_request_feed`'s `*progress`: the answer is fixed (or `max_error_body_bytes` were
/// read): stop reading and call `backoff_request_finish`.
pub const BACKOFF_PROGRESS_DECIDED: u32 = 2;

/// The retry policy, field by field (`backoff_policy_follow_up_boss` fills the preset). Every
/// field is a `uint32_t`, flags included: a value out of range is refused, never misread.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct backoff_policy {
    /// The first delay before jitter, in ms; doubled on each retry.
    pub base_ms: u32,
    /// The cap of every computed delay, in ms.
    pub max_backoff_ms: u32,
    /// One of `BACKOFF_JITTER_*`.
    pub jitter: u32,
    /// For `BACKOFF_JITTER_ADDITIVE`: the largest random part, in ms (ignored otherwise).
    pub jitter_max_ms: u32,
    /// Retries (not attempts) a request may make.
    pub max_retries: u32,
    /// 1 if `deadline_ms` applies, 0 if not; anything else is `BACKOFF_ERR_INVALID_ARGUMENT`.
    pub has_deadline: u32,
    /// The total time a request may take, in ms, when `has_deadline` (ignored otherwise).
    pub deadline_ms: u32,
    /// The longest wait a request accepts, in ms: a longer `Retry-After`, or a longer hold at
    /// `backoff_shared_acquire`, fails it at once.
    pub retry_after_ceiling_ms: u32,
    /// The shortest wait after a `Retry-After`, in ms.
    pub retry_after_floor_ms: u32,
    /// The most added at random to a `Retry-After` wait, in ms.
    pub retry_after_jitter_ms: u32,
    /// Which classes are retried: `BACKOFF_RETRY_*` bits.
    pub retry_on: u32,
    /// The most bytes of an error body that are read (the preset: 65 536); `backoff_request_feed`
    /// says `BACKOFF_PROGRESS_DECIDED` once they were, and ignores the rest.
    pub max_error_body_bytes: u32,
}

/// Each `BACKOFF_RETRY_*` bit and the class it stands for.
const RETRY_CLASSES: [(u32, RetryOn); 4] = [
    (BACKOFF_RETRY_REQUEST_TIMEOUT, RetryOn::REQUEST_TIMEOUT),
    (BACKOFF_RETRY_RATE_LIMITED, RetryOn::RATE_LIMITED),
    (BACKOFF_RETRY_SERVER_ERROR, RetryOn::SERVER_ERROR),
    (BACKOFF_RETRY_TRANSPORT, RetryOn::TRANSPORT),
];

impl backoff_policy {
    /// The C fields of a policy, in their one canonical form (fields that do not apply are 0).
    fn from_core(p: &Policy) -> Self {
        let (jitter, jitter_max_ms) = match p.jitter {
            backoff_core::Jitter::None => (BACKOFF_JITTER_NONE, 0),
            backoff_core::Jitter::Additive { max_ms } => (BACKOFF_JITTER_ADDITIVE, max_ms),
            backoff_core::Jitter::Full => (BACKOFF_JITTER_FULL, 0),
            backoff_core::Jitter::Equal => (BACKOFF_JITTER_EQUAL, 0),
            backoff_core::Jitter::Decorrelated => (BACKOFF_JITTER_DECORRELATED, 0),
        };
        let retry_on =
            RETRY_CLASSES.iter().filter(|(_, c)| p.retry_on.contains(*c)).fold(0, |bits, (b, _)| bits | b);
        Self {
            base_ms: p.base_ms,
            max_backoff_ms: p.max_backoff_ms,
            jitter,
            jitter_max_ms,
            max_retries: p.max_retries,
            has_deadline: u32::from(p.deadline_ms.is_some()),
            deadline_ms: p.deadline_ms.unwrap_or(0),
            retry_after_ceiling_ms: p.retry_after_ceiling_ms,
            retry_after_floor_ms: p.retry_after_floor_ms,
            retry_after_jitter_ms: p.retry_after_jitter_ms,
            retry_on,
            max_error_body_bytes: p.max_error_body_bytes,
        }
    }

    /// The core's policy, or `BACKOFF_ERR_INVALID_ARGUMENT` for a field out of range.
    fn to_core(self) -> Result<Policy, backoff_status> {
        let jitter = match self.jitter {
            BACKOFF_JITTER_NONE => backoff_core::Jitter::None,
            BACKOFF_JITTER_ADDITIVE => backoff_core::Jitter::Additive { max_ms: self.jitter_max_ms },
            BACKOFF_JITTER_FULL => backoff_core::Jitter::Full,
            BACKOFF_JITTER_EQUAL => backoff_core::Jitter::Equal,
            BACKOFF_JITTER_DECORRELATED => backoff_core::Jitter::Decorrelated,
            _ => return Err(BACKOFF_ERR_INVALID_ARGUMENT),
        };
        if self.retry_on & !0b1111 != 0 {
            return Err(BACKOFF_ERR_INVALID_ARGUMENT);
        }
        let deadline_ms = match self.has_deadline {
            0 => None,
            1 => Some(self.deadline_ms),
            _ => return Err(BACKOFF_ERR_INVALID_ARGUMENT),
        };
        let retry_on = RETRY_CLASSES
            .iter()
            .filter(|(b, _)| self.retry_on & b != 0)
            .fold(RetryOn::NOTHING, |set, (_, c)| set.union(*c));
        Ok(Policy {
            base_ms: self.base_ms,
            max_backoff_ms: self.max_backoff_ms,
            jitter,
            max_retries: self.max_retries,
            deadline_ms,
            retry_after_ceiling_ms: self.retry_after_ceiling_ms,
            retry_after_floor_ms: self.retry_after_floor_ms,
            retry_after_jitter_ms: self.retry_after_jitter_ms,
            retry_on,
            max_error_body_bytes: self.max_error_body_bytes,
        })
    }
}

/// One response header: name and value as bytes with their lengths (not NUL-terminated, so a
/// string literal or a slice of a receive buffer both do). A NULL with a non-zero length is
/// `BACKOFF_ERR_NULL` for the whole call.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct backoff_header {
    /// The name's bytes (any case).
    pub name: *const c_char,
    /// The name's length.
    pub name_len: usize,
    /// The value's bytes.
    pub value: *const c_char,
    /// The value's length.
    pub value_len: usize,
}

/// The random source: `next_u32(context, &word)` writes a uniformly random word and returns
/// 0, or returns anything else if it cannot (the HAL convention: `HAL_OK`, `ESP_OK` and
/// `0` from a Zephyr driver all mean success). A failed draw is not an error: the jitter then
/// comes from the clock, and the action says so in `jitter_source`. A NULL `next_u32` is a
/// source that always fails. An STM32 RNG plugs in as
/// `static int hw(void *h, uint32_t *w) { return HAL_RNG_GenerateRandomNumber(h, w); }` with
/// `{hw, &hrng}`. The callback may call this library on other storage, not on the storage of
/// the call that invoked it (what that inner call writes is overwritten when the outer call
/// returns; never undefined behaviour, as the library holds no reference into storage).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct backoff_rng {
    /// The callback.
    pub next_u32: Option<extern "C" fn(context: *mut c_void, out: *mut u32) -> c_int>,
    /// Passed to every call, untouched.
    pub context: *mut c_void,
}

/// `backoff_action.kind`: never written by a call that returned `BACKOFF_OK` (a zeroed struct).
pub const BACKOFF_ACTION_NONE: u32 = 0;
/// `backoff_action.kind`: hand the response to the application.
pub const BACKOFF_ACTION_SUCCEED: u32 = 1;
/// `backoff_action.kind`: give up; the error fields say why.
pub const BACKOFF_ACTION_FAIL: u32 = 2;
/// `backoff_action.kind`: wait `delay_ms` (until `at_ms`), then send the request again (ask
/// `backoff_shared_acquire` first, if the client has a shared state).
pub const BACKOFF_ACTION_RETRY: u32 = 3;
/// `backoff_action.kind` (`backoff_shared_acquire`): send now; the send is counted.
pub const BACKOFF_ACTION_SEND: u32 = 4;
/// `backoff_action.kind` (`backoff_shared_acquire`): held by the rate limits or the breaker:
/// ask again at `at_ms` (`delay_ms` from now).
pub const BACKOFF_ACTION_WAIT: u32 = 5;

/// `backoff_action.wait`: does not apply (not a retry or a wait).
pub const BACKOFF_WAIT_NONE: u32 = 0;
/// `backoff_action.wait`: truncated exponential backoff.
pub const BACKOFF_WAIT_BACKOFF: u32 = 1;
/// `backoff_action.wait`: the server's `Retry-After` (at least the floor, plus spread).
pub const BACKOFF_WAIT_RETRY_AFTER: u32 = 2;
/// `backoff_action.wait`: held by the shared rate limits or breaker (`BACKOFF_ACTION_WAIT`).
pub const BACKOFF_WAIT_HELD: u32 = 3;

/// `backoff_action.jitter_source`: does not apply (not a retry).
pub const BACKOFF_JITTER_SOURCE_NONE: u32 = 0;
/// `backoff_action.jitter_source`: the caller's RNG.
pub const BACKOFF_JITTER_SOURCE_RNG: u32 = 1;
/// `backoff_action.jitter_source`: the RNG failed; derived from the clock (log it).
pub const BACKOFF_JITTER_SOURCE_CLOCK_FALLBACK: u32 = 2;
/// `backoff_action.jitter_source`: nothing was drawn (the policy's jitter is none or empty).
pub const BACKOFF_JITTER_SOURCE_NOT_DRAWN: u32 = 3;

/// `backoff_action.error_kind`: does not apply (a success, a send, a wait).
pub const BACKOFF_KIND_NONE: u32 = 0;
/// 400.
pub const BACKOFF_KIND_BAD_REQUEST: u32 = 1;
/// 401.
pub const BACKOFF_KIND_UNAUTHORIZED: u32 = 2;
/// 403.
pub const BACKOFF_KIND_FORBIDDEN: u32 = 3;
/// 404.
pub const BACKOFF_KIND_NOT_FOUND: u32 = 4;
/// 408.
pub const BACKOFF_KIND_REQUEST_TIMEOUT: u32 = 5;
/// 429, or a request held back by the shared state longer than it would wait.
pub const BACKOFF_KIND_RATE_LIMITED: u32 = 6;
/// Any other 4xx.
pub const BACKOFF_KIND_CLIENT_ERROR: u32 = 7;
/// Any 5xx.
pub const BACKOFF_KIND_SERVER_ERROR: u32 = 8;
/// 1xx or 3xx.
pub const BACKOFF_KIND_UNEXPECTED_STATUS: u32 = 9;
/// Below 100 or above 599.
pub const BACKOFF_KIND_INVALID_STATUS: u32 = 10;
/// No response, or a body that broke off.
pub const BACKOFF_KIND_TRANSPORT: u32 = 11;

/// `backoff_action.stop`: does not apply (not a failure).
pub const BACKOFF_STOP_NONE: u32 = 0;
/// `backoff_action.stop`: the class is not retried.
pub const BACKOFF_STOP_PERMANENT: u32 = 1;
/// `backoff_action.stop`: `max_retries` were made.
pub const BACKOFF_STOP_RETRIES_EXHAUSTED: u32 = 2;
/// `backoff_action.stop`: the next retry (or the wait at `backoff_shared_acquire`) would pass
/// the deadline.
pub const BACKOFF_STOP_DEADLINE: u32 = 3;
/// `backoff_action.stop`: `Retry-After` (or the hold at `backoff_shared_acquire`) is longer
/// than `retry_after_ceiling_ms`.
pub const BACKOFF_STOP_RETRY_AFTER_TOO_LONG: u32 = 4;
/// `backoff_action.stop`: not idempotent and may have been processed.
pub const BACKOFF_STOP_MAY_HAVE_BEEN_PROCESSED: u32 = 5;
/// `backoff_action.stop`: the shared retry budget is empty.
pub const BACKOFF_STOP_BUDGET_EXHAUSTED: u32 = 6;

/// `backoff_action.body_kind`: does not apply (a success, a send, a wait).
pub const BACKOFF_BODY_NONE: u32 = 0;
/// The message is the body's `errorMessage`.
pub const BACKOFF_BODY_ERROR_MESSAGE: u32 = 1;
/// The message is the body's top-level `error` string.
pub const BACKOFF_BODY_ERROR: u32 = 2;
/// A JSON object without a message.
pub const BACKOFF_BODY_NO_MESSAGE: u32 = 3;
/// Not JSON: the message is a printable prefix of the body, for logs only.
pub const BACKOFF_BODY_NOT_JSON: u32 = 4;
/// Empty or whitespace.
pub const BACKOFF_BODY_EMPTY: u32 = 5;
/// Began as JSON and ended early, or the body's reading failed.
pub const BACKOFF_BODY_TRUNCATED: u32 = 6;
/// Began as JSON and broke the grammar.
pub const BACKOFF_BODY_INVALID: u32 = 7;
/// No body was read (a transport failure, a request held back).
pub const BACKOFF_BODY_NOT_READ: u32 = 8;

/// What to do next. Fields that do not apply to `kind` are 0, which every `BACKOFF_*_NONE`
/// names.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct backoff_action {
    /// When to send again (retry) or ask again (wait), on the caller's clock.
    pub at_ms: u64,
    /// `BACKOFF_ACTION_*`.
    pub kind: u32,
    /// How many times the request was sent (succeed, fail, retry: the attempt just made).
    pub attempts: u32,
    /// How long to wait, in ms (retry, wait).
    pub delay_ms: u32,
    /// `BACKOFF_WAIT_*` (retry, wait).
    pub wait: u32,
    /// `BACKOFF_JITTER_SOURCE_*` (retry).
    pub jitter_source: u32,
    /// `BACKOFF_KIND_*` of the attempt that failed (fail, retry).
    pub error_kind: u32,
    /// Its status code; 0 if there was no response (fail, retry).
    pub status: u32,
    /// `BACKOFF_STOP_*` (fail).
    pub stop: u32,
    /// `BACKOFF_BODY_*` (fail, retry).
    pub body_kind: u32,
    /// Bytes of the message written to the caller's buffer, without the NUL.
    pub message_len: u32,
    /// 1 if the message was cut (at a character boundary) to `BACKOFF_MESSAGE_CAPACITY`, else 0.
    pub message_truncated: u32,
    /// Always 0: room for a later field without changing the struct's size.
    pub reserved: u32,
}

/// A caller's output location, or `None` for NULL. Nothing is written through it until the
/// call has succeeded.
fn out<'a, T>(ptr: *mut T) -> Option<&'a mut T> {
    // SAFETY: the caller passes NULL or a pointer to a writable, aligned `T` (the header's
    // contract for every out-parameter); `as_mut` checks for NULL.
    unsafe { ptr.as_mut() }
}

/// The bytes `ptr` points to; NULL is only allowed with a length of 0.
fn bytes<'a>(ptr: *const u8, len: usize) -> Result<&'a [u8], backoff_status> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(BACKOFF_ERR_NULL);
    }
    // SAFETY: non-NULL, `len` bytes readable by the caller's contract, and not written while
    // this call reads them; `u8` has no alignment or validity requirement.
    Ok(unsafe { core::slice::from_raw_parts(ptr, len) })
}

/// The caller's headers as pairs of byte slices, checked whole before any is used.
struct CHeaders<'a>(&'a [backoff_header]);

impl backoff_core::Headers for CHeaders<'_> {
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
        for h in self.0 {
            // Every pointer was checked in `headers`: none is NULL with a length.
            if let (Ok(name), Ok(value)) =
                (bytes(h.name.cast(), h.name_len), bytes(h.value.cast(), h.value_len))
            {
                visit(name, value);
            }
        }
    }
}

fn headers<'a>(ptr: *const backoff_header, count: usize) -> Result<CHeaders<'a>, backoff_status> {
    if count == 0 {
        return Ok(CHeaders(&[]));
    }
    if ptr.is_null() {
        return Err(BACKOFF_ERR_NULL);
    }
    if !(ptr as usize).is_multiple_of(align_of::<backoff_header>()) {
        return Err(BACKOFF_ERR_INVALID_ARGUMENT);
    }
    // SAFETY: non-NULL and aligned (checked), `count` initialised headers by the caller's
    // contract, not written during this call.
    let list = unsafe { core::slice::from_raw_parts(ptr, count) };
    for h in list {
        bytes(h.name.cast(), h.name_len)?;
        bytes(h.value.cast(), h.value_len)?;
    }
    Ok(CHeaders(list))
}

/// The C callback as a `rand_core` RNG.
struct CallbackRng(Option<backoff_rng>);

/// The callback said no.
#[derive(Debug)]
struct RngFailed;

impl core::fmt::Display for RngFailed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the RNG callback failed")
    }
}

impl core::error::Error for RngFailed {}

impl rand_core::TryRng for CallbackRng {
    type Error = RngFailed;
    fn try_next_u32(&mut self) -> Result<u32, RngFailed> {
        let Some(rng) = self.0 else { return Err(RngFailed) };
        let Some(next) = rng.next_u32 else { return Err(RngFailed) };
        let mut word = 0u32;
        if next(rng.context, &mut word) == 0 {
            Ok(word)
        } else {
            Err(RngFailed)
        }
    }
    fn try_next_u64(&mut self) -> Result<u64, RngFailed> {
        Ok((u64::from(self.try_next_u32()?) << 32) | u64::from(self.try_next_u32()?))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), RngFailed> {
        for chunk in dst.chunks_mut(4) {
            let word = self.try_next_u32()?.to_le_bytes();
            for (dst, src) in chunk.iter_mut().zip(word) {
                *dst = src;
            }
        }
        Ok(())
    }
}

impl CallbackRng {
    /// One word for a step on the shared state, drawn as every door draws it
    /// ([`Step::entropy`]: the clock, hashed, if the RNG fails).
    fn entropy(&mut self, now_ms: u64) -> u64 {
        Step::entropy(self, now_ms)
    }
}

fn rng(ptr: *const backoff_rng) -> CallbackRng {
    // SAFETY: NULL or a pointer to a readable `backoff_rng` (the header's contract).
    CallbackRng(unsafe { ptr.as_ref() }.copied())
}

/// A message buffer: NULL (no message wanted) or at least `BACKOFF_MESSAGE_CAPACITY + 1` bytes.
/// Checked at the start of a call, lent only at its end.
#[derive(Clone, Copy)]
struct MessageBuffer(*mut c_char, usize);

impl MessageBuffer {
    fn new(ptr: *mut c_char, cap: usize) -> Result<Self, backoff_status> {
        if !ptr.is_null() && cap < CAP + 1 {
            return Err(BACKOFF_ERR_BUFFER_TOO_SMALL);
        }
        Ok(Self(ptr, cap))
    }

    fn lend<'a>(self) -> Option<&'a mut [u8]> {
        if self.0.is_null() {
            return None;
        }
        // SAFETY: non-NULL, `cap` writable bytes by the caller's contract, not read or written
        // elsewhere during this call; `u8` and `c_char` have the same size and alignment.
        Some(unsafe { core::slice::from_raw_parts_mut(self.0.cast::<u8>(), self.1) })
    }
}

/// A storage pointer: not NULL.
fn storage_ptr(ptr: *mut c_void) -> Result<*mut u8, backoff_status> {
    if ptr.is_null() {
        return Err(BACKOFF_ERR_NULL);
    }
    Ok(ptr.cast())
}

/// A request's storage read and checked, with the policy it follows; `ENDED` and
/// `NOT_INITIALISED` as the phase says.
fn live_request(ptr: *mut c_void) -> Result<(*mut u8, RequestImage, Policy), backoff_status> {
    let base = storage_ptr(ptr)?;
    let image = storage::read_request(base)?;
    if image.phase == Phase::Ended {
        return Err(BACKOFF_ERR_ENDED);
    }
    // Checked when read: a stored policy is one `to_core` accepts.
    let policy = image.policy.to_core().map_err(|_| BACKOFF_ERR_CORRUPT)?;
    Ok((base, image, policy))
}

/// The shared storage read and decoded, or `None` for NULL.
fn shared_state(ptr: *mut c_void) -> Result<Option<(*mut u8, Shared<CONTEXTS>)>, backoff_status> {
    if ptr.is_null() {
        return Ok(None);
    }
    let base = storage_ptr(ptr)?;
    Ok(Some((base, storage::read_shared(base)?)))
}

/// Fills `out` (and the message buffer) from an action; `Some(state)` for a retry.
fn report(action: Action<CAP>, out: &mut backoff_action, message: Option<&mut [u8]>) -> Option<Request> {
    *out = backoff_action::default();
    let (cause, next) = match action {
        Action::Succeed { attempts } => {
            out.kind = BACKOFF_ACTION_SUCCEED;
            out.attempts = attempts;
            if let Some(first) = message.and_then(|m| m.first_mut()) {
                *first = 0;
            }
            return None;
        }
        Action::Fail(error) => {
            out.kind = BACKOFF_ACTION_FAIL;
            out.attempts = error.attempts;
            out.stop = stop_code(error.stop);
            (error.cause, None)
        }
        Action::Retry(retry) => {
            out.kind = BACKOFF_ACTION_RETRY;
            out.attempts = retry.request.retries();
            out.delay_ms = retry.delay_ms;
            out.at_ms = retry.at_ms;
            let (wait, source) = match retry.wait {
                Wait::Backoff(source) => (BACKOFF_WAIT_BACKOFF, source),
                Wait::RetryAfter(source) => (BACKOFF_WAIT_RETRY_AFTER, source),
            };
            out.wait = wait;
            out.jitter_source = match source {
                JitterSource::Rng => BACKOFF_JITTER_SOURCE_RNG,
                JitterSource::ClockFallback => BACKOFF_JITTER_SOURCE_CLOCK_FALLBACK,
                JitterSource::NotDrawn => BACKOFF_JITTER_SOURCE_NOT_DRAWN,
            };
            (retry.cause, Some(retry.request))
        }
    };
    out.error_kind = kind_code(cause.kind);
    out.status = u32::from(cause.status.unwrap_or(0));
    out.body_kind = body_code(&cause.body);
    out.message_truncated = u32::from(cause.body.is_truncated());
    let text = cause.body.message().or(cause.body.raw_text()).unwrap_or_default().as_bytes();
    if let Some(m) = message {
        // The buffer holds at least CAP + 1 bytes and the text at most CAP.
        let n = text.len().min(m.len().saturating_sub(1));
        // Byte by byte: `copy_from_slice` would link a length-mismatch panic path.
        for (dst, src) in m.iter_mut().zip(text.iter().take(n)) {
            *dst = *src;
        }
        if let Some(nul) = m.get_mut(n) {
            *nul = 0;
        }
        out.message_len = u32::try_from(n).unwrap_or(u32::MAX);
    }
    next
}

const fn kind_code(kind: ErrorKind) -> u32 {
    match kind {
        ErrorKind::BadRequest => BACKOFF_KIND_BAD_REQUEST,
        ErrorKind::Unauthorized => BACKOFF_KIND_UNAUTHORIZED,
        ErrorKind::Forbidden => BACKOFF_KIND_FORBIDDEN,
        ErrorKind::NotFound => BACKOFF_KIND_NOT_FOUND,
        ErrorKind::RequestTimeout => BACKOFF_KIND_REQUEST_TIMEOUT,
        ErrorKind::RateLimited => BACKOFF_KIND_RATE_LIMITED,
        ErrorKind::ClientError => BACKOFF_KIND_CLIENT_ERROR,
        ErrorKind::ServerError => BACKOFF_KIND_SERVER_ERROR,
        ErrorKind::UnexpectedStatus => BACKOFF_KIND_UNEXPECTED_STATUS,
        ErrorKind::InvalidStatus => BACKOFF_KIND_INVALID_STATUS,
        ErrorKind::Transport => BACKOFF_KIND_TRANSPORT,
    }
}

const fn stop_code(stop: Stop) -> u32 {
    match stop {
        Stop::Permanent => BACKOFF_STOP_PERMANENT,
        Stop::RetriesExhausted => BACKOFF_STOP_RETRIES_EXHAUSTED,
        Stop::Deadline => BACKOFF_STOP_DEADLINE,
        Stop::RetryAfterTooLong => BACKOFF_STOP_RETRY_AFTER_TOO_LONG,
        Stop::MayHaveBeenProcessed => BACKOFF_STOP_MAY_HAVE_BEEN_PROCESSED,
        Stop::BudgetExhausted => BACKOFF_STOP_BUDGET_EXHAUSTED,
    }
}

fn body_code(body: &Body<CAP>) -> u32 {
    match body.kind() {
        BodyKind::ErrorMessage => BACKOFF_BODY_ERROR_MESSAGE,
        BodyKind::Error => BACKOFF_BODY_ERROR,
        BodyKind::NoMessage => BACKOFF_BODY_NO_MESSAGE,
        BodyKind::NotJson => BACKOFF_BODY_NOT_JSON,
        BodyKind::Empty => BACKOFF_BODY_EMPTY,
        BodyKind::Truncated => BACKOFF_BODY_TRUNCATED,
        BodyKind::Invalid => BACKOFF_BODY_INVALID,
        BodyKind::NotRead => BACKOFF_BODY_NOT_READ,
    }
}

fn status_of(result: Result<(), backoff_status>) -> backoff_status {
    match result {
        Ok(()) => BACKOFF_OK,
        Err(status) => status,
    }
}

/// Writes the Follow Up Boss preset into `*out_policy`. Writes nothing on failure.
#[no_mangle]
pub extern "C" fn backoff_policy_follow_up_boss(out_policy: *mut backoff_policy) -> backoff_status {
    match out(out_policy) {
        Some(p) => {
            *p = backoff_policy::from_core(&Policy::FOLLOW_UP_BOSS);
            BACKOFF_OK
        }
        None => BACKOFF_ERR_NULL,
    }
}

/// Begins a request at `now_ms` in `storage` (`size` bytes, at least `BACKOFF_REQUEST_SIZE`,
/// any alignment), overwriting whatever the storage held. The policy is copied: it need not
/// outlive the call. `idempotency`: `BACKOFF_IDEMPOTENT` or `BACKOFF_NOT_IDEMPOTENT` (there is
/// no default: a POST that creates something is retried only when provably not processed).
/// Writes nothing on failure.
#[no_mangle]
pub extern "C" fn backoff_request_begin(
    storage: *mut c_void,
    size: usize,
    policy: *const backoff_policy,
    now_ms: u64,
    idempotency: u32,
) -> backoff_status {
    status_of((|| {
        let base = storage_ptr(storage)?;
        // SAFETY: NULL or a pointer to a readable `backoff_policy` (the header's contract);
        // every bit pattern of its `uint32_t` fields is a value.
        let given = unsafe { policy.as_ref() }.ok_or(BACKOFF_ERR_NULL)?;
        if size < BACKOFF_REQUEST_SIZE {
            return Err(BACKOFF_ERR_STORAGE_TOO_SMALL);
        }
        let policy = given.to_core()?;
        let idempotency = match idempotency {
            BACKOFF_IDEMPOTENT => Idempotency::Idempotent,
            BACKOFF_NOT_IDEMPOTENT => Idempotency::NotIdempotent,
            _ => return Err(BACKOFF_ERR_INVALID_ARGUMENT),
        };
        let state = Request::new(now_ms, idempotency);
        let image = RequestImage {
            phase: Phase::Ready,
            policy: backoff_policy::from_core(&policy),
            sent: Sent::No,
            core: Core::Request(state),
        };
        storage::write_request(base, image);
        Ok(())
    })())
}

/// Sets up the state a client's requests share, in `storage` (`size` bytes, at least
/// `BACKOFF_SHARED_SIZE`, any alignment): rate limits for `BACKOFF_SHARED_CONTEXTS` contexts,
/// paced as `pacing` (`BACKOFF_PACING_*`) says, and the `BACKOFF_SHARED_*` parts `options`
/// asks for (0: rate limits only). Writes nothing on failure.
#[no_mangle]
pub extern "C" fn backoff_shared_init(
    storage: *mut c_void,
    size: usize,
    pacing: u32,
    options: u32,
) -> backoff_status {
    status_of((|| {
        let base = storage_ptr(storage)?;
        if size < BACKOFF_SHARED_SIZE {
            return Err(BACKOFF_ERR_STORAGE_TOO_SMALL);
        }
        let pacing = match pacing {
            BACKOFF_PACING_BURST => Pacing::Burst,
            BACKOFF_PACING_SMOOTH => Pacing::Smooth,
            _ => return Err(BACKOFF_ERR_INVALID_ARGUMENT),
        };
        if options & !(BACKOFF_SHARED_BUDGET | BACKOFF_SHARED_BREAKER) != 0 {
            return Err(BACKOFF_ERR_INVALID_ARGUMENT);
        }
        let mut shared = Shared::<CONTEXTS>::new(pacing);
        if options & BACKOFF_SHARED_BUDGET != 0 {
            shared = shared.with_budget(RetryBudget::AWS_STANDARD);
        }
        if options & BACKOFF_SHARED_BREAKER != 0 {
            shared = shared.with_breaker(Breaker::new(BreakerPolicy::API_CLIENT));
        }
        storage::write_shared(base, &shared);
        Ok(())
    })())
}

/// May a request be sent now? Ask before every send (the first and each retry), with the
/// request's rate-limit `context` (`context_len` bytes, e.g. "events", at most
/// `BACKOFF_CONTEXT_MAX`; NULL and 0 if not known: it then waits for every context and counts
/// in all). `*out_action` says:
///
/// - `BACKOFF_ACTION_SEND`: send now. The send is counted in flight, and the request (if not
///   NULL) remembers its context, so that a transport failure releases only its own send.
/// - `BACKOFF_ACTION_WAIT`: held by a `Retry-After`, a spent window or the breaker: ask again
///   at `at_ms`.
/// - `BACKOFF_ACTION_FAIL` (only with a request): the hold is longer than the request's
///   `retry_after_ceiling_ms` (`BACKOFF_STOP_RETRY_AFTER_TOO_LONG`) or ends past its deadline
///   (`BACKOFF_STOP_DEADLINE`): the request ends now, unsent (`error_kind`
///   `BACKOFF_KIND_RATE_LIMITED`, status 0), as `Request::may_wait_until` decides for the
///   other doors.
///
/// `request` may be NULL (the shared state alone is asked); otherwise it must be waiting to
/// be sent (`BACKOFF_ERR_WRONG_PHASE` while a body is read or a send is already counted).
/// `rng` may be NULL (the breaker's jitter then comes from the clock). Writes nothing on failure.
#[no_mangle]
pub extern "C" fn backoff_shared_acquire(
    shared: *mut c_void,
    request: *mut c_void,
    now_ms: u64,
    context: *const c_char,
    context_len: usize,
    rng_ptr: *const backoff_rng,
    out_action: *mut backoff_action,
) -> backoff_status {
    status_of((|| {
        let (shared_base, mut state) = shared_state(shared)?.ok_or(BACKOFF_ERR_NULL)?;
        let live = if request.is_null() { None } else { Some(live_request(request)?) };
        let action_out = out(out_action).ok_or(BACKOFF_ERR_NULL)?;
        let name = if context.is_null() && context_len == 0 {
            None
        } else {
            Some(bytes(context.cast(), context_len)?)
        };
        if name.is_some_and(|n| n.len() > CONTEXT_MAX) {
            return Err(BACKOFF_ERR_INVALID_ARGUMENT);
        }
        if let Some((_, image, _)) = &live {
            if image.phase != Phase::Ready || image.sent != Sent::No {
                return Err(BACKOFF_ERR_WRONG_PHASE);
            }
        }
        let mut rng = rng(rng_ptr);
        let entropy = rng.entropy(now_ms);
        let permit = match state.apply(now_ms, Step::Acquire { context: name }, entropy) {
            Outcome::Permit(permit) => permit,
            // `Acquire` is answered with a permit; anything else would be a core change this
            // door does not know, and is not a licence to send.
            _ => Permit::Wait { until_ms: now_ms.saturating_add(1) },
        };
        let mut action = backoff_action::default();
        let mut next = live;
        match permit {
            Permit::Go => {
                action.kind = BACKOFF_ACTION_SEND;
                if let Some((_, image, _)) = &mut next {
                    image.sent = match name {
                        Some(n) => {
                            let mut kept = [0u8; CONTEXT_MAX];
                            for (d, s) in kept.iter_mut().zip(n) {
                                *d = *s;
                            }
                            Sent::In { name: kept, len: u8::try_from(n.len()).unwrap_or(0) }
                        }
                        None => Sent::Unknown,
                    };
                }
            }
            Permit::Wait { until_ms } => {
                action.kind = BACKOFF_ACTION_WAIT;
                action.wait = BACKOFF_WAIT_HELD;
                action.at_ms = until_ms;
                action.delay_ms = u32::try_from(until_ms.saturating_sub(now_ms)).unwrap_or(u32::MAX);
                if let Some((_, image, policy)) = &mut next {
                    if let Core::Request(request) = image.core {
                        if let Err(error) = request.may_wait_until::<CAP>(policy, now_ms, until_ms) {
                            report(Action::Fail(error), &mut action, None);
                            image.phase = Phase::Ended;
                        }
                    }
                }
            }
        }
        storage::write_shared(shared_base, &state);
        if let Some((base, image, _)) = next {
            storage::write_request(base, image);
        }
        *action_out = action;
        Ok(())
    })())
}

/// A response arrived at `now_ms`: its status and `count` headers are read now, and taught to
/// the shared state (its rate limits and breaker), if `shared` is not NULL. Feed its body with
/// `backoff_request_feed`, then call `backoff_request_finish` (or
/// `backoff_request_body_failed`). `rng` may be NULL. Writes nothing on failure.
#[no_mangle]
pub extern "C" fn backoff_request_response(
    storage: *mut c_void,
    status: u16,
    header_list: *const backoff_header,
    count: usize,
    now_ms: u64,
    rng_ptr: *const backoff_rng,
    shared: *mut c_void,
) -> backoff_status {
    status_of((|| {
        let (base, mut image, policy) = live_request(storage)?;
        if image.phase != Phase::Ready {
            return Err(BACKOFF_ERR_WRONG_PHASE);
        }
        let mut shared = shared_state(shared)?;
        let entropy = rng(rng_ptr).entropy(now_ms);
        let list = headers(header_list, count)?;
        let Core::Request(request) = image.core else { return Err(BACKOFF_ERR_CORRUPT) };
        // Read once, in the preset's dialect: the request and the shared state decide on the
        // same value, as through the driver.
        let seen = RateLimitHeaders::read(&list);
        image.core = Core::Reply(request.response_parsed::<CAP>(&policy, status, &seen));
        if let Some((_, state)) = &mut shared {
            state.apply(now_ms, Step::Observe { status, seen }, entropy);
        }
        image.phase = Phase::Reading;
        image.sent = Sent::No;
        if let Some((shared_base, state)) = shared {
            storage::write_shared(shared_base, &state);
        }
        storage::write_request(base, image);
        Ok(())
    })())
}

/// Feeds the next `len` bytes of the body (any size, down to one byte; NULL only with 0).
/// `*progress` (if not NULL) is `BACKOFF_PROGRESS_DECIDED` when more of the body cannot change
/// the answer (the caller may stop reading), else `BACKOFF_PROGRESS_READING`. Writes nothing
/// on failure.
#[no_mangle]
pub extern "C" fn backoff_request_feed(
    storage: *mut c_void,
    chunk: *const c_void,
    len: usize,
    progress: *mut u32,
) -> backoff_status {
    status_of((|| {
        let (base, mut image, _) = live_request(storage)?;
        let chunk = bytes(chunk.cast(), len)?;
        let Core::Reply(reply) = &mut image.core else { return Err(BACKOFF_ERR_WRONG_PHASE) };
        let decided = reply.feed(chunk) == backoff_core::Progress::Decided;
        storage::write_request(base, image);
        if let Some(progress) = out(progress) {
            *progress = if decided { BACKOFF_PROGRESS_DECIDED } else { BACKOFF_PROGRESS_READING };
        }
        Ok(())
    })())
}

/// How a response ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    Read,
    BodyFailed,
}

/// The outputs of a call that decides, and where they go.
struct Decided {
    out_action: *mut backoff_action,
    message: MessageBuffer,
}

impl Decided {
    fn new(
        out_action: *mut backoff_action,
        message: *mut c_char,
        cap: usize,
    ) -> Result<Self, backoff_status> {
        if out_action.is_null() {
            return Err(BACKOFF_ERR_NULL);
        }
        Ok(Self { out_action, message: MessageBuffer::new(message, cap)? })
    }

    /// Writes the action and the message, and the request's next state into `image`.
    fn write(self, action: Action<CAP>, image: &mut RequestImage) {
        let mut report_to = backoff_action::default();
        match report(action, &mut report_to, self.message.lend()) {
            Some(state) => {
                image.core = Core::Request(state);
                image.phase = Phase::Ready;
            }
            None => image.phase = Phase::Ended,
        }
        if let Some(out) = out(self.out_action) {
            *out = report_to;
        }
    }
}

fn end_response(
    storage: *mut c_void,
    now_ms: u64,
    rng_ptr: *const backoff_rng,
    shared: *mut c_void,
    decided: Result<Decided, backoff_status>,
    ending: Ending,
) -> backoff_status {
    status_of((|| {
        let (base, mut image, policy) = live_request(storage)?;
        let decided = decided?;
        let mut shared = shared_state(shared)?;
        if image.phase != Phase::Reading {
            return Err(BACKOFF_ERR_WRONG_PHASE);
        }
        // What an ended request keeps (never used again); a retry puts the next state here.
        let ended = Core::Request(Request::new(now_ms, Idempotency::Idempotent));
        let Core::Reply(reply) = core::mem::replace(&mut image.core, ended) else {
            return Err(BACKOFF_ERR_CORRUPT);
        };
        let mut rng = rng(rng_ptr);
        let action = match ending {
            Ending::Read => reply.finish(&policy, now_ms, &mut rng),
            Ending::BodyFailed => {
                if let Some((_, state)) = &mut shared {
                    let entropy = rng.entropy(now_ms);
                    state.apply(now_ms, Step::BodyFailed, entropy);
                }
                reply.body_failed(&policy, now_ms, &mut rng)
            }
        };
        // The driver's `Step::Pay` / `Step::Refund`, on the same budget.
        let action = action.settle(shared.as_mut().and_then(|(_, s)| s.budget.as_mut()));
        decided.write(action, &mut image);
        if let Some((shared_base, state)) = shared {
            storage::write_shared(shared_base, &state);
        }
        storage::write_request(base, image);
        Ok(())
    })())
}

/// The body ended (or the caller stopped reading it, having been told
/// `BACKOFF_PROGRESS_DECIDED`) at `now_ms`: writes the next action to `*out_action` and its
/// message (NUL-terminated) to `message`, which is NULL or holds at least
/// `BACKOFF_MESSAGE_CAPACITY + 1` bytes (`message_cap`). `rng` may be NULL (the jitter then
/// comes from the clock); `shared` may be NULL (no retry budget is paid). Writes nothing on
/// failure: not `*out_action`, not `message`, not the storage.
#[no_mangle]
pub extern "C" fn backoff_request_finish(
    storage: *mut c_void,
    now_ms: u64,
    rng: *const backoff_rng,
    shared: *mut c_void,
    out_action: *mut backoff_action,
    message: *mut c_char,
    message_cap: usize,
) -> backoff_status {
    end_response(storage, now_ms, rng, shared, Decided::new(out_action, message, message_cap), Ending::Read)
}

/// The body could not be read to its end (the connection broke after the headers): a
/// transport failure after sending, never a success (and a failure for the breaker). A request
/// that is not idempotent is retried only if its status said it was not processed (408, 429);
/// after any other status it ends with `BACKOFF_STOP_MAY_HAVE_BEEN_PROCESSED`. Otherwise as
/// `backoff_request_finish`; writes nothing on failure.
#[no_mangle]
pub extern "C" fn backoff_request_body_failed(
    storage: *mut c_void,
    now_ms: u64,
    rng: *const backoff_rng,
    shared: *mut c_void,
    out_action: *mut backoff_action,
    message: *mut c_char,
    message_cap: usize,
) -> backoff_status {
    end_response(
        storage,
        now_ms,
        rng,
        shared,
        Decided::new(out_action, message, message_cap),
        Ending::BodyFailed,
    )
}

/// No response: the connection failed at `now_ms`, `BACKOFF_FAILURE_BEFORE_SEND` (DNS,
/// connect, TLS handshake) or `BACKOFF_FAILURE_AFTER_SEND`. If the request was counted in
/// flight by `backoff_shared_acquire`, that send — and only that one, in the request's own
/// context — is released, and the breaker counts a failure. Otherwise as
/// `backoff_request_finish`; writes nothing on failure.
#[no_mangle]
pub extern "C" fn backoff_request_transport_failure(
    storage: *mut c_void,
    now_ms: u64,
    failure: u32,
    rng_ptr: *const backoff_rng,
    shared: *mut c_void,
    out_action: *mut backoff_action,
    message: *mut c_char,
    message_cap: usize,
) -> backoff_status {
    status_of((|| {
        let (base, mut image, policy) = live_request(storage)?;
        if image.phase != Phase::Ready {
            return Err(BACKOFF_ERR_WRONG_PHASE);
        }
        let decided = Decided::new(out_action, message, message_cap)?;
        let failure = match failure {
            BACKOFF_FAILURE_BEFORE_SEND => TransportFailure::BeforeSend,
            BACKOFF_FAILURE_AFTER_SEND => TransportFailure::AfterSend,
            _ => return Err(BACKOFF_ERR_INVALID_ARGUMENT),
        };
        let mut shared = shared_state(shared)?;
        let Core::Request(state) = image.core else { return Err(BACKOFF_ERR_CORRUPT) };
        let mut rng = rng(rng_ptr);
        if let Some((_, shared)) = &mut shared {
            let entropy = rng.entropy(now_ms);
            let step = match image.sent {
                Sent::No => Step::BodyFailed,
                Sent::In { .. } | Sent::Unknown => Step::Failed { context: image.sent.context() },
            };
            shared.apply(now_ms, step, entropy);
        }
        image.sent = Sent::No;
        let action = state.transport_failure::<CAP, _>(&policy, now_ms, failure, &mut rng);
        let action = action.settle(shared.as_mut().and_then(|(_, s)| s.budget.as_mut()));
        decided.write(action, &mut image);
        if let Some((shared_base, state)) = shared {
            storage::write_shared(shared_base, &state);
        }
        storage::write_request(base, image);
        Ok(())
    })())
}

/// Sets how long the shared state believes a hold it learnt (a `Retry-After`, a spent quota's
/// reset): `max_hold_ms` after it was learnt at the most (`RateLimits::max_hold_ms`; 600 000,
/// the preset's `retry_after_ceiling_ms`, after `backoff_shared_init`). Set it to the
/// `retry_after_ceiling_ms` of the policy the requests follow: a request meeting a longer hold
/// fails at once (`BACKOFF_STOP_RETRY_AFTER_TOO_LONG`), so a far `Retry-After` never stalls
/// requests for longer than this. 0 believes no hold past the instant it was learnt. Writes
/// nothing on failure.
#[no_mangle]
pub extern "C" fn backoff_shared_set_max_hold(shared: *mut c_void, max_hold_ms: u32) -> backoff_status {
    status_of((|| {
        let (base, mut state) = shared_state(shared)?.ok_or(BACKOFF_ERR_NULL)?;
        state.limits = state.limits.with_max_hold_ms(max_hold_ms);
        storage::write_shared(base, &state);
        Ok(())
    })())
}

/// The retry budget's tokens left, in `*tokens` (`BACKOFF_ERR_INVALID_ARGUMENT` if the shared
/// state has no budget). Writes nothing on failure.
#[no_mangle]
pub extern "C" fn backoff_shared_budget_tokens(shared: *mut c_void, tokens: *mut u32) -> backoff_status {
    status_of((|| {
        let (_, state) = shared_state(shared)?.ok_or(BACKOFF_ERR_NULL)?;
        let tokens = out(tokens).ok_or(BACKOFF_ERR_NULL)?;
        *tokens = state.budget.ok_or(BACKOFF_ERR_INVALID_ARGUMENT)?.tokens();
        Ok(())
    })())
}

/// The breaker's state, in `*state` (`BACKOFF_BREAKER_*`; `BACKOFF_BREAKER_NONE` without a
/// breaker). Writes nothing on failure.
#[no_mangle]
pub extern "C" fn backoff_shared_breaker_state(shared: *mut c_void, state: *mut u32) -> backoff_status {
    status_of((|| {
        let (_, shared) = shared_state(shared)?.ok_or(BACKOFF_ERR_NULL)?;
        let state = out(state).ok_or(BACKOFF_ERR_NULL)?;
        *state = match shared.breaker.map(|b| b.state()) {
            None => BACKOFF_BREAKER_NONE,
            Some(BreakerState::Closed) => BACKOFF_BREAKER_CLOSED,
            Some(BreakerState::Open { .. }) => BACKOFF_BREAKER_OPEN,
            Some(BreakerState::HalfOpen { .. }) => BACKOFF_BREAKER_HALF_OPEN,
        };
        Ok(())
    })())
}

/// A status's name, as a static NUL-terminated string ("BACKOFF_OK", …), for logs;
/// "BACKOFF_UNKNOWN" for a value that is not a status.
#[no_mangle]
pub extern "C" fn backoff_status_name(status: u32) -> *const c_char {
    let name: &'static [u8] = match status {
        0 => b"BACKOFF_OK\0",
        1 => b"BACKOFF_ERR_NULL\0",
        2 => b"BACKOFF_ERR_STORAGE_TOO_SMALL\0",
        3 => b"BACKOFF_ERR_STORAGE_MISALIGNED\0",
        4 => b"BACKOFF_ERR_NOT_INITIALISED\0",
        5 => b"BACKOFF_ERR_ENDED\0",
        6 => b"BACKOFF_ERR_WRONG_PHASE\0",
        7 => b"BACKOFF_ERR_BUFFER_TOO_SMALL\0",
        8 => b"BACKOFF_ERR_INVALID_ARGUMENT\0",
        9 => b"BACKOFF_ERR_CORRUPT\0",
        10 => b"BACKOFF_ERR_OTHER_LAYOUT\0",
        _ => b"BACKOFF_UNKNOWN\0",
    };
    name.as_ptr().cast()
}
