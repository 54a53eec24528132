//! backoff-core for C: the same decisions through a C ABI, with no allocation.
//!
//! Every object lives in storage the caller allocates, of the size and alignment the header
//! exports (`BACKOFF_REQUEST_SIZE`, `BACKOFF_REQUEST_ALIGN`, …); every function returns a
//! [`backoff_status`]; time is a `uint64_t` of milliseconds passed in; randomness comes from a
//! callback with a context pointer ([`backoff_rng`]), because the unbiased draw asks for a
//! number of words that depends on the words (a rejection loop), which values passed in could
//! not serve, and firmware can plug its hardware RNG in directly.
//!
//! Misuse is answered with a status, never undefined behaviour in this library and never a
//! panic across the boundary: a NULL pointer, storage too small or misaligned, storage that was
//! never initialised by `*_init`/`*_begin`, a request used after it ended, a call out of order,
//! a message buffer too small, an argument out of range. What C cannot be protected from is
//! C's own undefined behaviour: a pointer to less memory than the size it claims, or storage
//! freed while in use.
//!
//! `unsafe` lives only here, in the few functions that turn C pointers into references
//! (`storage`, `bytes`, `out`, and the two that read a policy and an RNG), each with its reasoning.

#![cfg_attr(not(feature = "std"), no_std)]
#![allow(non_camel_case_types)]
// The C functions take raw pointers by design: each is checked (NULL, alignment, the storage's
// magic) before use, and what C cannot be checked for is the header's documented contract.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
#![deny(missing_docs)]

use core::ffi::{c_char, c_void};
use core::mem::{align_of, size_of};

use backoff_core::{
    Action, Body, BodyKind, ErrorKind, Idempotency, JitterSource, Pacing, Permit, Policy, RateLimits, Reply,
    ReplyState, Request, RequestState, RetryBudget, RetryOn, Stop, TransportFailure, Wait,
};

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
    /// A pointer that must not be NULL was NULL.
    BACKOFF_ERR_NULL = 1,
    /// The storage is smaller than the `*_SIZE` constant says it must be.
    BACKOFF_ERR_STORAGE_TOO_SMALL = 2,
    /// The storage is not aligned to the `*_ALIGN` constant.
    BACKOFF_ERR_STORAGE_MISALIGNED = 3,
    /// The storage was never set up by `backoff_request_begin` / `backoff_shared_init`.
    BACKOFF_ERR_NOT_INITIALISED = 4,
    /// The request already ended (it succeeded or failed): begin a new one.
    BACKOFF_ERR_ENDED = 5,
    /// The call does not fit the request's phase: a body fed before the response began, a
    /// response begun twice, a transport failure while a body is being read.
    BACKOFF_ERR_WRONG_PHASE = 6,
    /// The message buffer is smaller than `BACKOFF_MESSAGE_CAPACITY + 1` bytes; nothing was
    /// decided, the request is as it was.
    BACKOFF_ERR_BUFFER_TOO_SMALL = 7,
    /// An argument is out of its documented range (a jitter or pacing code, a RetryOn bit).
    BACKOFF_ERR_INVALID_ARGUMENT = 8,
}

use backoff_status::*;

/// The bytes of the longest message (`errorMessage`, or the printable prefix of a body that
/// is not JSON) an action carries; a message buffer must hold this many plus a NUL.
pub const BACKOFF_MESSAGE_CAPACITY: usize = 255;
const CAP: usize = BACKOFF_MESSAGE_CAPACITY;

/// The bytes a request's storage must have (on every target; checked at compile time).
pub const BACKOFF_REQUEST_SIZE: usize = 640;
/// The alignment a request's storage must have.
pub const BACKOFF_REQUEST_ALIGN: usize = 8;
/// The bytes the shared rate-limit and budget storage must have.
pub const BACKOFF_SHARED_SIZE: usize = 768;
/// The alignment the shared storage must have.
pub const BACKOFF_SHARED_ALIGN: usize = 8;

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

/// `backoff_shared_init` pacing: send while `Remaining` allows, then hold for a window.
pub const BACKOFF_PACING_BURST: u32 = 0;
/// `backoff_shared_init` pacing: space requests `Window / (Limit - 1)` apart.
pub const BACKOFF_PACING_SMOOTH: u32 = 1;

/// The retry policy, field by field (`backoff_policy_follow_up_boss` fills the preset).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct backoff_policy {
    /// The first delay before jitter, in ms; doubled on each retry.
    pub base_ms: u32,
    /// The cap of every computed delay, in ms.
    pub max_backoff_ms: u32,
    /// One of `BACKOFF_JITTER_*`.
    pub jitter: u32,
    /// For `BACKOFF_JITTER_ADDITIVE`: the largest random part, in ms.
    pub jitter_max_ms: u32,
    /// Retries (not attempts) a request may make.
    pub max_retries: u32,
    /// Whether `deadline_ms` applies.
    pub has_deadline: bool,
    /// The total time a request may take, in ms, when `has_deadline`.
    pub deadline_ms: u32,
    /// The longest `Retry-After` waited for, in ms; longer fails at once.
    pub retry_after_ceiling_ms: u32,
    /// The shortest wait after a `Retry-After`, in ms.
    pub retry_after_floor_ms: u32,
    /// The most added at random to a `Retry-After` wait, in ms.
    pub retry_after_jitter_ms: u32,
    /// Which classes are retried: `BACKOFF_RETRY_*` bits.
    pub retry_on: u32,
}

/// Each `BACKOFF_RETRY_*` bit and the class it stands for.
const RETRY_CLASSES: [(u32, RetryOn); 4] = [
    (BACKOFF_RETRY_REQUEST_TIMEOUT, RetryOn::REQUEST_TIMEOUT),
    (BACKOFF_RETRY_RATE_LIMITED, RetryOn::RATE_LIMITED),
    (BACKOFF_RETRY_SERVER_ERROR, RetryOn::SERVER_ERROR),
    (BACKOFF_RETRY_TRANSPORT, RetryOn::TRANSPORT),
];

impl backoff_policy {
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
            has_deadline: p.deadline_ms.is_some(),
            deadline_ms: p.deadline_ms.unwrap_or(0),
            retry_after_ceiling_ms: p.retry_after_ceiling_ms,
            retry_after_floor_ms: p.retry_after_floor_ms,
            retry_after_jitter_ms: p.retry_after_jitter_ms,
            retry_on,
        }
    }

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
        let retry_on = RETRY_CLASSES
            .iter()
            .filter(|(b, _)| self.retry_on & b != 0)
            .fold(RetryOn::NOTHING, |set, (_, c)| set.and(*c));
        Ok(Policy {
            base_ms: self.base_ms,
            max_backoff_ms: self.max_backoff_ms,
            jitter,
            max_retries: self.max_retries,
            deadline_ms: self.has_deadline.then_some(self.deadline_ms),
            retry_after_ceiling_ms: self.retry_after_ceiling_ms,
            retry_after_floor_ms: self.retry_after_floor_ms,
            retry_after_jitter_ms: self.retry_after_jitter_ms,
            retry_on,
            // Not a field of the C struct yet: C callers get the preset's bound on how much of
            // an error body is read (their loop stops at `BACKOFF_PROGRESS_DECIDED`).
            max_error_body_bytes: Policy::FOLLOW_UP_BOSS.max_error_body_bytes,
        })
    }
}

/// One response header: name and value as bytes with their lengths (not NUL-terminated).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct backoff_header {
    /// The name's bytes (any case).
    pub name: *const u8,
    /// The name's length.
    pub name_len: usize,
    /// The value's bytes.
    pub value: *const u8,
    /// The value's length.
    pub value_len: usize,
}

/// The random source: `next_u32(context, &word)` writes a uniformly random word and returns
/// true, or returns false if it cannot (the jitter then comes from the clock, and the action
/// says so in `jitter_source`). A NULL `next_u32` is a source that always fails.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct backoff_rng {
    /// The callback.
    pub next_u32: Option<extern "C" fn(context: *mut c_void, out: *mut u32) -> bool>,
    /// Passed to every call, untouched.
    pub context: *mut c_void,
}

/// `backoff_action.kind`: hand the response to the application.
pub const BACKOFF_ACTION_SUCCEED: u32 = 0;
/// `backoff_action.kind`: give up; the error fields say why.
pub const BACKOFF_ACTION_FAIL: u32 = 1;
/// `backoff_action.kind`: wait `delay_ms` (until `at_ms`), then send the request again.
pub const BACKOFF_ACTION_RETRY: u32 = 2;

/// `backoff_action.wait`: truncated exponential backoff.
pub const BACKOFF_WAIT_BACKOFF: u32 = 0;
/// `backoff_action.wait`: the server's `Retry-After` (at least the floor, plus spread).
pub const BACKOFF_WAIT_RETRY_AFTER: u32 = 1;

/// `backoff_action.jitter_source`: the caller's RNG.
pub const BACKOFF_JITTER_SOURCE_RNG: u32 = 0;
/// `backoff_action.jitter_source`: the RNG failed; derived from the clock (log it).
pub const BACKOFF_JITTER_SOURCE_CLOCK_FALLBACK: u32 = 1;
/// `backoff_action.jitter_source`: nothing was drawn.
pub const BACKOFF_JITTER_SOURCE_NOT_DRAWN: u32 = 2;

/// `backoff_action.error_kind` values, in the order of the policy table.
pub const BACKOFF_KIND_BAD_REQUEST: u32 = 0;
/// 401.
pub const BACKOFF_KIND_UNAUTHORIZED: u32 = 1;
/// 403.
pub const BACKOFF_KIND_FORBIDDEN: u32 = 2;
/// 404.
pub const BACKOFF_KIND_NOT_FOUND: u32 = 3;
/// 408.
pub const BACKOFF_KIND_REQUEST_TIMEOUT: u32 = 4;
/// 429.
pub const BACKOFF_KIND_RATE_LIMITED: u32 = 5;
/// Any other 4xx.
pub const BACKOFF_KIND_CLIENT_ERROR: u32 = 6;
/// Any 5xx.
pub const BACKOFF_KIND_SERVER_ERROR: u32 = 7;
/// 1xx or 3xx.
pub const BACKOFF_KIND_UNEXPECTED_STATUS: u32 = 8;
/// Below 100 or above 599.
pub const BACKOFF_KIND_INVALID_STATUS: u32 = 9;
/// No response, or a body that broke off.
pub const BACKOFF_KIND_TRANSPORT: u32 = 10;

/// `backoff_action.stop`: the class is not retried.
pub const BACKOFF_STOP_PERMANENT: u32 = 0;
/// `backoff_action.stop`: `max_retries` were made.
pub const BACKOFF_STOP_RETRIES_EXHAUSTED: u32 = 1;
/// `backoff_action.stop`: the next retry would pass the deadline.
pub const BACKOFF_STOP_DEADLINE: u32 = 2;
/// `backoff_action.stop`: `Retry-After` is longer than the ceiling.
pub const BACKOFF_STOP_RETRY_AFTER_TOO_LONG: u32 = 3;
/// `backoff_action.stop`: not idempotent and may have been processed.
pub const BACKOFF_STOP_MAY_HAVE_BEEN_PROCESSED: u32 = 4;
/// `backoff_action.stop`: the shared retry budget is empty.
pub const BACKOFF_STOP_BUDGET_EXHAUSTED: u32 = 5;

/// `backoff_action.body_kind`: the message is the body's `errorMessage`.
pub const BACKOFF_BODY_ERROR_MESSAGE: u32 = 0;
/// The message is the body's top-level `error` string.
pub const BACKOFF_BODY_ERROR: u32 = 1;
/// A JSON object without a message.
pub const BACKOFF_BODY_NO_MESSAGE: u32 = 2;
/// Not JSON: the message is a printable prefix of the body, for logs only.
pub const BACKOFF_BODY_NOT_JSON: u32 = 3;
/// Empty or whitespace.
pub const BACKOFF_BODY_EMPTY: u32 = 4;
/// Began as JSON and ended early, or the body's reading failed.
pub const BACKOFF_BODY_TRUNCATED: u32 = 5;
/// Began as JSON and broke the grammar.
pub const BACKOFF_BODY_INVALID: u32 = 6;
/// No body was read (a success, a transport failure).
pub const BACKOFF_BODY_NOT_READ: u32 = 7;

/// What to do next. Fields that do not apply to `kind` are zero.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct backoff_action {
    /// `BACKOFF_ACTION_*`.
    pub kind: u32,
    /// How many times the request was sent (succeed, fail).
    pub attempts: u32,
    /// How long to wait, in ms (retry).
    pub delay_ms: u32,
    /// `BACKOFF_WAIT_*` (retry).
    pub wait: u32,
    /// `BACKOFF_JITTER_SOURCE_*` (retry).
    pub jitter_source: u32,
    /// When to send again, on the caller's clock (retry).
    pub at_ms: u64,
    /// `BACKOFF_KIND_*` of the attempt that failed (fail, retry).
    pub error_kind: u32,
    /// Its status code, 0 if there was no response (fail, retry).
    pub status: u16,
    /// `BACKOFF_STOP_*` (fail).
    pub stop: u32,
    /// `BACKOFF_BODY_*` (fail, retry).
    pub body_kind: u32,
    /// Bytes of the message written to the caller's buffer, without the NUL.
    pub message_len: usize,
    /// Whether the message was cut (at a character boundary) to `BACKOFF_MESSAGE_CAPACITY`.
    pub message_truncated: bool,
}

const MAGIC_REQUEST: u32 = 0xB0FF_0001;
const MAGIC_SHARED: u32 = 0xB0FF_0002;

/// Where a request is in its life.
const PHASE_READY: u8 = 1; // begun or told to retry: awaiting a response or a failure
const PHASE_READING: u8 = 2; // a response began: its body is being fed
const PHASE_ENDED: u8 = 3; // succeeded or failed

#[repr(C)]
struct RequestSlot {
    magic: u32,
    phase: u8,
    policy: Policy,
    request: RequestState,
    reply: Option<ReplyState<CAP>>,
}

#[repr(C)]
struct SharedSlot {
    magic: u32,
    limits: RateLimits<4>,
    budget: Option<RetryBudget>,
}

const _: () = assert!(size_of::<RequestSlot>() <= BACKOFF_REQUEST_SIZE);
const _: () = assert!(align_of::<RequestSlot>() <= BACKOFF_REQUEST_ALIGN);
const _: () = assert!(size_of::<SharedSlot>() <= BACKOFF_SHARED_SIZE);
const _: () = assert!(align_of::<SharedSlot>() <= BACKOFF_SHARED_ALIGN);

/// Checks a storage pointer and, unless it is being set up now, its magic; then lends it as
/// `&mut T`. `size` is only known (and checked) when the storage is set up.
fn storage<'a, T>(ptr: *mut c_void, size: Option<usize>, magic: u32) -> Result<&'a mut T, backoff_status> {
    if ptr.is_null() {
        return Err(BACKOFF_ERR_NULL);
    }
    if size.is_some_and(|size| size < size_of::<T>()) {
        return Err(BACKOFF_ERR_STORAGE_TOO_SMALL);
    }
    if !(ptr as usize).is_multiple_of(align_of::<T>()) {
        return Err(BACKOFF_ERR_STORAGE_MISALIGNED);
    }
    if size.is_none() {
        // SAFETY: `ptr` is non-NULL and aligned for `T` (checked above), hence for the `u32`
        // every slot starts with (`repr(C)`, first field); the caller's storage holds at least
        // `size_of::<T>()` bytes (the header's contract), and every bit pattern is a `u32`.
        let found = unsafe { ptr.cast::<u32>().read() };
        if found != magic {
            return Err(BACKOFF_ERR_NOT_INITIALISED);
        }
    }
    // SAFETY: non-NULL and aligned (checked above), at least `size_of::<T>()` bytes (checked
    // when the storage was set up, or now), and either about to be overwritten whole (set-up)
    // or written whole by this library before (the magic matched). No other reference to it
    // exists during this call: the C functions do not call each other.
    Ok(unsafe { &mut *ptr.cast::<T>() })
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

/// A caller's output location, or `None` for NULL.
fn out<'a, T>(ptr: *mut T) -> Option<&'a mut T> {
    // SAFETY: the caller passes NULL or a pointer to a writable, aligned `T` (the header's
    // contract for every out-parameter); `as_mut` checks for NULL.
    unsafe { ptr.as_mut() }
}

/// The caller's headers as pairs of byte slices, visited without copying.
struct CHeaders<'a>(&'a [backoff_header]);

impl backoff_core::Headers for CHeaders<'_> {
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
        for h in self.0 {
            // A header whose pointers are NULL with a length is skipped, not read.
            if let (Ok(name), Ok(value)) = (bytes(h.name, h.name_len), bytes(h.value, h.value_len)) {
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
    Ok(CHeaders(unsafe { core::slice::from_raw_parts(ptr, count) }))
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
        if next(rng.context, &mut word) {
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

fn rng(ptr: *const backoff_rng) -> CallbackRng {
    // SAFETY: NULL or a pointer to a readable `backoff_rng` (the header's contract).
    CallbackRng(unsafe { ptr.as_ref() }.copied())
}

fn shared<'a>(ptr: *mut c_void) -> Result<Option<&'a mut SharedSlot>, backoff_status> {
    if ptr.is_null() {
        return Ok(None);
    }
    storage::<SharedSlot>(ptr, None, MAGIC_SHARED).map(Some)
}

/// A message buffer: NULL (no message wanted) or at least `BACKOFF_MESSAGE_CAPACITY + 1` bytes.
fn message_buffer<'a>(ptr: *mut c_char, cap: usize) -> Result<Option<&'a mut [u8]>, backoff_status> {
    if ptr.is_null() {
        return Ok(None);
    }
    if cap < CAP + 1 {
        return Err(BACKOFF_ERR_BUFFER_TOO_SMALL);
    }
    // SAFETY: non-NULL, `cap` writable bytes by the caller's contract, not read or written
    // elsewhere during this call; `u8` and `c_char` have the same size and alignment.
    Ok(Some(unsafe { core::slice::from_raw_parts_mut(ptr.cast::<u8>(), cap) }))
}

/// Fills `out` (and the message buffer) from an action; `Some(state)` for a retry.
fn report(
    action: Action<'_, CAP>,
    out: &mut backoff_action,
    message: Option<&mut [u8]>,
) -> Option<RequestState> {
    *out = backoff_action::default();
    let (cause, next) = match action {
        Action::Succeed { attempts } => {
            out.kind = BACKOFF_ACTION_SUCCEED;
            out.attempts = attempts;
            if let Some(m) = message {
                if let Some(first) = m.first_mut() {
                    *first = 0;
                }
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
            (retry.cause, Some(retry.request.state()))
        }
    };
    out.error_kind = kind_code(cause.kind);
    out.status = cause.status.unwrap_or(0);
    out.body_kind = body_code(&cause.body);
    out.message_truncated = cause.body.is_truncated();
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
        out.message_len = n;
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

/// Writes the Follow Up Boss preset into `*out`.
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

/// Begins a request at `now_ms` in `storage` (`size` bytes, `BACKOFF_REQUEST_SIZE` at least,
/// aligned to `BACKOFF_REQUEST_ALIGN`). The policy is copied: it need not outlive the call.
/// `idempotent`: whether sending it twice is harmless (false for a POST that creates
/// something: it is then retried only when provably not processed).
#[no_mangle]
pub extern "C" fn backoff_request_begin(
    storage_ptr: *mut c_void,
    size: usize,
    policy: *const backoff_policy,
    now_ms: u64,
    idempotent: bool,
) -> backoff_status {
    status_of((|| {
        // SAFETY: NULL or a pointer to a readable `backoff_policy` (the header's contract).
        let policy = unsafe { policy.as_ref() }.ok_or(BACKOFF_ERR_NULL)?.to_core()?;
        let slot = storage::<core::mem::MaybeUninit<RequestSlot>>(storage_ptr, Some(size), 0)?;
        let idempotency = if idempotent { Idempotency::Idempotent } else { Idempotency::NotIdempotent };
        let request = Request::new(&policy, now_ms, idempotency).state();
        slot.write(RequestSlot { magic: MAGIC_REQUEST, phase: PHASE_READY, policy, request, reply: None });
        Ok(())
    })())
}

fn request_slot<'a>(ptr: *mut c_void) -> Result<&'a mut RequestSlot, backoff_status> {
    let slot = storage::<RequestSlot>(ptr, None, MAGIC_REQUEST)?;
    match slot.phase {
        PHASE_READY | PHASE_READING => Ok(slot),
        PHASE_ENDED => Err(BACKOFF_ERR_ENDED),
        _ => Err(BACKOFF_ERR_NOT_INITIALISED),
    }
}

/// A response arrived at `now_ms`: its status and `count` headers are read now (and taught to
/// the shared state, if `shared` is not NULL). Feed its body with `backoff_request_feed`, then
/// call `backoff_request_finish` (or `backoff_request_body_failed`).
#[no_mangle]
pub extern "C" fn backoff_request_response(
    storage_ptr: *mut c_void,
    status: u16,
    header_list: *const backoff_header,
    count: usize,
    now_ms: u64,
    shared_ptr: *mut c_void,
) -> backoff_status {
    status_of((|| {
        let slot = request_slot(storage_ptr)?;
        if slot.phase != PHASE_READY {
            return Err(BACKOFF_ERR_WRONG_PHASE);
        }
        let list = headers(header_list, count)?;
        let shared = shared(shared_ptr)?;
        if let Some(shared) = shared {
            shared.limits.observe(now_ms, status, &list);
        }
        let request = Request::resume(&slot.policy, slot.request);
        slot.reply = Some(request.response::<CAP, _>(status, &list).suspend());
        slot.phase = PHASE_READING;
        Ok(())
    })())
}

/// Feeds the next `len` bytes of the body (any size, down to one byte). `*decided` (if not
/// NULL) says whether more of it can still change the answer (false) or not (true: the
/// caller may stop reading).
#[no_mangle]
pub extern "C" fn backoff_request_feed(
    storage_ptr: *mut c_void,
    chunk: *const u8,
    len: usize,
    decided: *mut bool,
) -> backoff_status {
    status_of((|| {
        let slot = request_slot(storage_ptr)?;
        let chunk = bytes(chunk, len)?;
        let Some(state) = slot.reply.take() else { return Err(BACKOFF_ERR_WRONG_PHASE) };
        let mut reply = Reply::resume(&slot.policy, state);
        let progress = reply.feed(chunk);
        slot.reply = Some(reply.suspend());
        if let Some(decided) = out(decided) {
            *decided = progress == backoff_core::Progress::Decided;
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

#[allow(clippy::too_many_arguments)] // the C functions' own arguments, passed on
fn end_response(
    storage_ptr: *mut c_void,
    now_ms: u64,
    rng_ptr: *const backoff_rng,
    shared_ptr: *mut c_void,
    out_action: *mut backoff_action,
    message: *mut c_char,
    message_cap: usize,
    ending: Ending,
) -> backoff_status {
    status_of((|| {
        let slot = request_slot(storage_ptr)?;
        let action_out = out(out_action).ok_or(BACKOFF_ERR_NULL)?;
        let message = message_buffer(message, message_cap)?;
        let shared = shared(shared_ptr)?;
        let Some(state) = slot.reply.take() else { return Err(BACKOFF_ERR_WRONG_PHASE) };
        let reply = Reply::resume(&slot.policy, state);
        let mut rng = rng(rng_ptr);
        let budget = shared.and_then(|s| s.budget.as_mut());
        let action = match ending {
            Ending::Read => reply.finish_with_budget(now_ms, &mut rng, budget),
            Ending::BodyFailed => reply.body_failed_with_budget(now_ms, &mut rng, budget),
        };
        settle(slot, report(action, action_out, message));
        Ok(())
    })())
}

fn settle(slot: &mut RequestSlot, next: Option<RequestState>) {
    match next {
        Some(state) => {
            slot.request = state;
            slot.phase = PHASE_READY;
        }
        None => slot.phase = PHASE_ENDED,
    }
}

/// The body ended (or the caller stopped reading it, having been told `decided`) at `now_ms`:
/// writes the next action to `*out` and its message (NUL-terminated) to `message`, which is
/// NULL or holds at least `BACKOFF_MESSAGE_CAPACITY + 1` bytes. `rng` may be NULL (the jitter
/// then comes from the clock); `shared` may be NULL (no retry budget is paid).
#[no_mangle]
pub extern "C" fn backoff_request_finish(
    storage_ptr: *mut c_void,
    now_ms: u64,
    rng_ptr: *const backoff_rng,
    shared_ptr: *mut c_void,
    out_action: *mut backoff_action,
    message: *mut c_char,
    message_cap: usize,
) -> backoff_status {
    end_response(storage_ptr, now_ms, rng_ptr, shared_ptr, out_action, message, message_cap, Ending::Read)
}

/// The body could not be read to its end (the connection broke after the headers): a
/// transport failure after sending, never a success. A request that is not idempotent is
/// retried only if its status said it was not processed (408, 429); after any other status it
/// ends with `BACKOFF_STOP_MAY_HAVE_BEEN_PROCESSED`. Otherwise as `backoff_request_finish`.
#[no_mangle]
pub extern "C" fn backoff_request_body_failed(
    storage_ptr: *mut c_void,
    now_ms: u64,
    rng_ptr: *const backoff_rng,
    shared_ptr: *mut c_void,
    out_action: *mut backoff_action,
    message: *mut c_char,
    message_cap: usize,
) -> backoff_status {
    end_response(
        storage_ptr,
        now_ms,
        rng_ptr,
        shared_ptr,
        out_action,
        message,
        message_cap,
        Ending::BodyFailed,
    )
}

/// No response: the connection failed at `now_ms`, before anything was sent (`after_send`
/// false: DNS, connect, TLS handshake) or after. Releases the send from the shared state's
/// in-flight count. Otherwise as `backoff_request_finish`.
#[no_mangle]
pub extern "C" fn backoff_request_transport_failure(
    storage_ptr: *mut c_void,
    now_ms: u64,
    after_send: bool,
    rng_ptr: *const backoff_rng,
    shared_ptr: *mut c_void,
    out_action: *mut backoff_action,
    message: *mut c_char,
    message_cap: usize,
) -> backoff_status {
    status_of((|| {
        let slot = request_slot(storage_ptr)?;
        if slot.phase != PHASE_READY {
            return Err(BACKOFF_ERR_WRONG_PHASE);
        }
        let action_out = out(out_action).ok_or(BACKOFF_ERR_NULL)?;
        let message = message_buffer(message, message_cap)?;
        let shared = shared(shared_ptr)?;
        let failure = if after_send { TransportFailure::AfterSend } else { TransportFailure::BeforeSend };
        let request = Request::resume(&slot.policy, slot.request);
        let mut rng = rng(rng_ptr);
        let budget = match shared {
            Some(s) => {
                s.limits.abandon(None);
                s.budget.as_mut()
            }
            None => None,
        };
        let action = request.transport_failure_with_budget::<CAP, _>(now_ms, failure, &mut rng, budget);
        settle(slot, report(action, action_out, message));
        Ok(())
    })())
}

/// Sets up the state a client's requests share, in `storage` (`size` bytes, at least
/// `BACKOFF_SHARED_SIZE`, aligned to `BACKOFF_SHARED_ALIGN`): rate limits for 4 contexts,
/// paced as `pacing` (`BACKOFF_PACING_*`) says, and the AWS-standard retry budget if
/// `with_budget`.
#[no_mangle]
pub extern "C" fn backoff_shared_init(
    storage_ptr: *mut c_void,
    size: usize,
    pacing: u32,
    with_budget: bool,
) -> backoff_status {
    status_of((|| {
        let pacing = match pacing {
            BACKOFF_PACING_BURST => Pacing::Burst,
            BACKOFF_PACING_SMOOTH => Pacing::Smooth,
            _ => return Err(BACKOFF_ERR_INVALID_ARGUMENT),
        };
        let slot = storage::<core::mem::MaybeUninit<SharedSlot>>(storage_ptr, Some(size), 0)?;
        let budget = with_budget.then_some(RetryBudget::AWS_STANDARD);
        slot.write(SharedSlot { magic: MAGIC_SHARED, limits: RateLimits::new(pacing), budget });
        Ok(())
    })())
}

/// May a request of `context` (`len` bytes, e.g. "events"; NULL and 0 for one whose context is
/// not known) go at `now_ms`? `*wait_until_ms` is 0 if it may (and the send is counted), or
/// the instant to ask again.
#[no_mangle]
pub extern "C" fn backoff_shared_acquire(
    storage_ptr: *mut c_void,
    now_ms: u64,
    context: *const u8,
    len: usize,
    wait_until_ms: *mut u64,
) -> backoff_status {
    status_of((|| {
        let slot = storage::<SharedSlot>(storage_ptr, None, MAGIC_SHARED)?;
        let until = out(wait_until_ms).ok_or(BACKOFF_ERR_NULL)?;
        let name = if context.is_null() && len == 0 { None } else { Some(bytes(context, len)?) };
        *until = match slot.limits.acquire(now_ms, name) {
            Permit::Go => 0,
            Permit::Wait { until_ms } => until_ms,
        };
        Ok(())
    })())
}

/// The retry budget's tokens left, in `*tokens` (`BACKOFF_ERR_INVALID_ARGUMENT` if the shared
/// state has no budget).
#[no_mangle]
pub extern "C" fn backoff_shared_budget_tokens(storage_ptr: *mut c_void, tokens: *mut u32) -> backoff_status {
    status_of((|| {
        let slot = storage::<SharedSlot>(storage_ptr, None, MAGIC_SHARED)?;
        let tokens = out(tokens).ok_or(BACKOFF_ERR_NULL)?;
        *tokens = slot.budget.ok_or(BACKOFF_ERR_INVALID_ARGUMENT)?.tokens();
        Ok(())
    })())
}

/// A status's name, as a static NUL-terminated string ("BACKOFF_OK", …), for logs;
/// "BACKOFF_UNKNOWN" for a value that is not a status.
#[no_mangle]
pub extern "C" fn backoff_status_name(status: u32) -> *const c_char {
    let known = [
        BACKOFF_OK,
        BACKOFF_ERR_NULL,
        BACKOFF_ERR_STORAGE_TOO_SMALL,
        BACKOFF_ERR_STORAGE_MISALIGNED,
        BACKOFF_ERR_NOT_INITIALISED,
        BACKOFF_ERR_ENDED,
        BACKOFF_ERR_WRONG_PHASE,
        BACKOFF_ERR_BUFFER_TOO_SMALL,
        BACKOFF_ERR_INVALID_ARGUMENT,
    ];
    let name: &'static [u8] = match known.iter().find(|&&s| s as u32 == status) {
        Some(BACKOFF_OK) => b"BACKOFF_OK\0",
        Some(BACKOFF_ERR_NULL) => b"BACKOFF_ERR_NULL\0",
        Some(BACKOFF_ERR_STORAGE_TOO_SMALL) => b"BACKOFF_ERR_STORAGE_TOO_SMALL\0",
        Some(BACKOFF_ERR_STORAGE_MISALIGNED) => b"BACKOFF_ERR_STORAGE_MISALIGNED\0",
        Some(BACKOFF_ERR_NOT_INITIALISED) => b"BACKOFF_ERR_NOT_INITIALISED\0",
        Some(BACKOFF_ERR_ENDED) => b"BACKOFF_ERR_ENDED\0",
        Some(BACKOFF_ERR_WRONG_PHASE) => b"BACKOFF_ERR_WRONG_PHASE\0",
        Some(BACKOFF_ERR_BUFFER_TOO_SMALL) => b"BACKOFF_ERR_BUFFER_TOO_SMALL\0",
        Some(BACKOFF_ERR_INVALID_ARGUMENT) => b"BACKOFF_ERR_INVALID_ARGUMENT\0",
        None => b"BACKOFF_UNKNOWN\0",
    };
    name.as_ptr().cast()
}
