//! What the library keeps in the caller's storage, and how it is read back.
//!
//! The caller owns the bytes, and anything may happen to them between two calls: a stray
//! write, a brown-out, a firmware update that kept RAM. So a call never takes the storage as a
//! Rust value on trust; it reads it into a local value, checking it as it goes, works on the
//! local value, and writes it back at its end.
//!
//! **Shared storage** holds the core's canonical encoding of [`Shared`] ([`Shared::encode`]),
//! after a 16-byte header: every byte is checked when read ([`Shared::decode`]), so any byte
//! pattern is either a valid state or refused with a code.
//!
//! **Request storage** holds, after the same header, plain data only: the policy as twelve
//! integers, the context the request was sent for, and the core's canonical encoding of its
//! request state ([`Request::encode`], or while a body is read [`Reply::encode`], the body
//! parser's whole state included). Each is checked as it is read — every integer in range,
//! every tag and flag one of its values, every unused byte zero — so any byte pattern is
//! either a valid state or refused with a code, and nothing is ever read as a Rust value that
//! could be invalid: forged bytes are as safe as accidental ones.
//!
//! A 64-bit check word over every byte the library wrote is kept as well, for what the
//! checks above cannot see: a stray write that leaves a valid but *other* state (a changed
//! start time, a letter of the message, an attempt count). It is a chain of bijections over
//! 8-byte words, so a change confined to one aligned word (any single corrupted byte) is
//! always caught, and any other accidental change is missed with probability 2^-64. Safety
//! does not depend on it: bytes forged to match it are still decoded with every check.
//! Nothing in the storage needs alignment: it is read and written byte-wise.

use backoff_core::shared::Shared;
use backoff_core::{Reply, Request};

use crate::{backoff_policy, backoff_status, BACKOFF_REQUEST_SIZE, BACKOFF_SHARED_SIZE, CAP, CONTEXTS};
use backoff_status::*;

/// Which version of this layout the library writes and reads (`BACKOFF_LAYOUT_VERSION`);
/// storage of another is refused with `BACKOFF_ERR_OTHER_LAYOUT`.
const LAYOUT_VERSION: u16 = crate::BACKOFF_LAYOUT_VERSION as u16;

const MAGIC_REQUEST: u32 = 0xB0FF_0001;
const MAGIC_SHARED: u32 = 0xB0FF_0002;
const KIND_REQUEST: u8 = 1;
const KIND_SHARED: u8 = 2;

/// The header of both kinds of storage: magic (`u32`), layout (`u16`), kind (`u8`), phase
/// (`u8`, requests only), the length of what follows (`u32`), a reserved zero `u32`, and for
/// requests the check word (`u64`). Little-endian.
const HEADER_LEN: usize = 16;

/// Where a request is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Begun, or told to retry: waiting for a response or a failure.
    Ready = 1,
    /// A response began: its body is being fed.
    Reading = 2,
    /// It succeeded or failed.
    Ended = 3,
}

/// The longest context name a request remembers (the bytes given to `backoff_shared_acquire`).
const CONTEXT_MAX: usize = crate::BACKOFF_CONTEXT_MAX;

/// What a request acquired from the shared state and has not given back yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sent {
    /// Nothing: not counted as in flight.
    No,
    /// A send counted in this context.
    In { name: [u8; CONTEXT_MAX], len: u8 },
    /// A send whose context was not known, counted in every context.
    Unknown,
}

impl Sent {
    /// The context as the core's steps take it (`None` when none is in flight, too).
    pub fn context(&self) -> Option<&[u8]> {
        match self {
            Self::In { name, len } => name.get(..usize::from(*len)),
            Self::No | Self::Unknown => None,
        }
    }
}

/// The request's core state in each phase. (A local value for the length of a call, never
/// boxed: nothing allocates.)
#[allow(clippy::large_enum_variant)]
pub enum Core {
    /// Ready (or ended: the state is kept, never used).
    Request(Request),
    /// Reading a body.
    Reply(Reply<CAP>),
}

/// A request's storage, read into a local value.
pub struct RequestImage {
    pub phase: Phase,
    pub policy: backoff_policy,
    pub sent: Sent,
    pub core: Core,
}

const CHECK_AT: usize = HEADER_LEN;
const POLICY_AT: usize = CHECK_AT + 8;
const POLICY_LEN: usize = 12 * 4;
const SENT_AT: usize = POLICY_AT + POLICY_LEN;
const SENT_LEN: usize = 2 + CONTEXT_MAX;
/// The core's state, at a multiple of 8 (the check word reads 8-byte words); the bytes between
/// are zero.
const CORE_AT: usize = (SENT_AT + SENT_LEN).next_multiple_of(8);
const REQUEST_LEN: usize = Request::ENCODED_LEN;
const REPLY_LEN: usize = Reply::<CAP>::ENCODED_LEN;
/// Room for either encoding; the bytes after the one written are zero.
const CORE_LEN: usize = (if REQUEST_LEN > REPLY_LEN { REQUEST_LEN } else { REPLY_LEN }).next_multiple_of(8);
/// The bytes of request storage the library writes (and checks); the rest is never touched.
pub(crate) const REQUEST_USED: usize = CORE_AT + CORE_LEN;
const _: () = assert!(REQUEST_USED <= BACKOFF_REQUEST_SIZE);
const _: () = assert!(REQUEST_USED.is_multiple_of(8));

const SHARED_LEN: usize = Shared::<CONTEXTS>::ENCODED_LEN;
/// The bytes of shared storage the library writes.
pub(crate) const SHARED_USED: usize = HEADER_LEN + SHARED_LEN;
const _: () = assert!(SHARED_USED <= BACKOFF_SHARED_SIZE);

/// Reads `N` bytes at `at`.
///
/// # Safety
/// `base` points to at least `at + N` readable bytes, none of them uninitialised.
unsafe fn read_bytes<const N: usize>(base: *const u8, at: usize) -> [u8; N] {
    // SAFETY: in bounds and initialised by the caller's promise; `[u8; N]` has alignment 1.
    unsafe { base.add(at).cast::<[u8; N]>().read() }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    if let Some(src) = bytes.get(at..at + 4) {
        for (d, s) in word.iter_mut().zip(src) {
            *d = *s;
        }
    }
    u32::from_le_bytes(word)
}

fn put(bytes: &mut [u8], at: usize, src: &[u8]) {
    if let Some(dst) = bytes.get_mut(at..at + src.len()) {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
}

/// The header's fields, checked against what a storage of `kind` must hold.
fn check_header(header: &[u8; HEADER_LEN], magic: u32, kind: u8, len: usize) -> Result<u8, backoff_status> {
    if u32_at(header, 0) != magic {
        return Err(BACKOFF_ERR_NOT_INITIALISED);
    }
    if u16::from_le_bytes([header[4], header[5]]) != LAYOUT_VERSION {
        return Err(BACKOFF_ERR_OTHER_LAYOUT);
    }
    if header[6] != kind || u32_at(header, 8) as usize != len || u32_at(header, 12) != 0 {
        return Err(BACKOFF_ERR_CORRUPT);
    }
    Ok(header[7])
}

fn header(magic: u32, kind: u8, phase: u8, len: usize) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    put(&mut out, 0, &magic.to_le_bytes());
    put(&mut out, 4, &LAYOUT_VERSION.to_le_bytes());
    out[6] = kind;
    out[7] = phase;
    put(&mut out, 8, &u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
    out
}

/// One step of the check word: a bijection of the state for every word, and injective in the
/// word for every state, so two sequences differing in exactly one word never meet.
const fn mix(state: u64, word: u64) -> u64 {
    let mut h = (state ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^ (h >> 32)
}

/// The check word of a request's storage: every 8-byte word the library writes but the check
/// word itself.
fn check_word(bytes: &[u8; REQUEST_USED]) -> u64 {
    let mut h = mix(0x6261_636B_6F66_6632, REQUEST_USED as u64);
    for (i, word) in bytes.chunks_exact(8).enumerate() {
        if i * 8 != CHECK_AT {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(word) {
                *d = *s;
            }
            h = mix(h, u64::from_le_bytes(w));
        }
    }
    h
}

fn policy_bytes(p: &backoff_policy) -> [u8; POLICY_LEN] {
    let fields = [
        p.base_ms,
        p.max_backoff_ms,
        p.jitter,
        p.jitter_max_ms,
        p.max_retries,
        p.has_deadline,
        p.deadline_ms,
        p.retry_after_ceiling_ms,
        p.retry_after_floor_ms,
        p.retry_after_jitter_ms,
        p.retry_on,
        p.max_error_body_bytes,
    ];
    let mut out = [0u8; POLICY_LEN];
    for (i, f) in fields.iter().enumerate() {
        put(&mut out, 4 * i, &f.to_le_bytes());
    }
    out
}

fn policy_from(bytes: &[u8; POLICY_LEN]) -> backoff_policy {
    let f = |i: usize| u32_at(bytes, 4 * i);
    backoff_policy {
        base_ms: f(0),
        max_backoff_ms: f(1),
        jitter: f(2),
        jitter_max_ms: f(3),
        max_retries: f(4),
        has_deadline: f(5),
        deadline_ms: f(6),
        retry_after_ceiling_ms: f(7),
        retry_after_floor_ms: f(8),
        retry_after_jitter_ms: f(9),
        retry_on: f(10),
        max_error_body_bytes: f(11),
    }
}

fn sent_bytes(sent: &Sent) -> [u8; SENT_LEN] {
    let mut out = [0u8; SENT_LEN];
    match sent {
        Sent::No => {}
        Sent::Unknown => out[0] = 2,
        Sent::In { name, len } => {
            out[0] = 1;
            out[1] = *len;
            put(&mut out, 2, name);
        }
    }
    out
}

fn sent_from(bytes: &[u8; SENT_LEN]) -> Result<Sent, backoff_status> {
    let len = usize::from(bytes[1]);
    let name = bytes.get(2..).unwrap_or_default();
    let rest_zero = name.get(len..).is_some_and(|rest| rest.iter().all(|&b| b == 0));
    match bytes[0] {
        0 if len == 0 && rest_zero => Ok(Sent::No),
        2 if len == 0 && rest_zero => Ok(Sent::Unknown),
        1 if (1..=CONTEXT_MAX).contains(&len) && rest_zero => {
            let mut kept = [0u8; CONTEXT_MAX];
            put(&mut kept, 0, name);
            Ok(Sent::In { name: kept, len: bytes[1] })
        }
        _ => Err(BACKOFF_ERR_CORRUPT),
    }
}

/// Whether every byte is zero.
fn zero(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == 0)
}

/// Reads and checks a request's storage (`base` is not NULL: checked by the caller).
///
/// The storage is copied into a local array of plain bytes first; every field is then decoded
/// from it with checks (the core's for its state), so no byte pattern is undefined behaviour,
/// whatever the check word says.
pub fn read_request(base: *const u8) -> Result<RequestImage, backoff_status> {
    // SAFETY: the header's contract: the storage holds `BACKOFF_REQUEST_SIZE` initialised
    // bytes (at least `REQUEST_USED`), as C set them or this library wrote them; they are read
    // as bytes, which every bit pattern is.
    let bytes = unsafe { read_bytes::<REQUEST_USED>(base, 0) };
    let head = part::<HEADER_LEN>(&bytes, 0);
    let phase = match check_header(&head, MAGIC_REQUEST, KIND_REQUEST, REQUEST_USED - HEADER_LEN)? {
        1 => Phase::Ready,
        2 => Phase::Reading,
        3 => Phase::Ended,
        _ => return Err(BACKOFF_ERR_CORRUPT),
    };
    if u64::from_le_bytes(part::<8>(&bytes, CHECK_AT)) != check_word(&bytes) {
        return Err(BACKOFF_ERR_CORRUPT);
    }
    let policy = policy_from(&part::<POLICY_LEN>(&bytes, POLICY_AT));
    let canonical = policy.to_core().map(|p| backoff_policy::from_core(&p));
    if canonical != Ok(policy) {
        return Err(BACKOFF_ERR_CORRUPT);
    }
    let sent = sent_from(&part::<SENT_LEN>(&bytes, SENT_AT))?;
    let gap = bytes.get(SENT_AT + SENT_LEN..CORE_AT).unwrap_or_default();
    let core_bytes = bytes.get(CORE_AT..).unwrap_or_default();
    let len = match phase {
        Phase::Ready | Phase::Ended => REQUEST_LEN,
        Phase::Reading => REPLY_LEN,
    };
    let (state, rest) = core_bytes.split_at(len.min(core_bytes.len()));
    if !zero(gap) || !zero(rest) {
        return Err(BACKOFF_ERR_CORRUPT);
    }
    let core = match phase {
        Phase::Ready | Phase::Ended => {
            Core::Request(Request::decode(state).map_err(|_| BACKOFF_ERR_CORRUPT)?)
        }
        Phase::Reading => Core::Reply(Reply::decode(state).map_err(|_| BACKOFF_ERR_CORRUPT)?),
    };
    Ok(RequestImage { phase, policy, sent, core })
}

/// `N` bytes of `bytes` at `at` (zeroes past its end, which the constants above rule out).
fn part<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0u8; N];
    if let Some(src) = bytes.get(at..at + N) {
        for (d, s) in out.iter_mut().zip(src) {
            *d = *s;
        }
    }
    out
}

/// Writes a request's storage whole (`base` is not NULL and holds `BACKOFF_REQUEST_SIZE`
/// bytes: checked by the caller).
pub fn write_request(base: *mut u8, image: RequestImage) {
    let mut bytes = [0u8; REQUEST_USED];
    put(&mut bytes, 0, &header(MAGIC_REQUEST, KIND_REQUEST, image.phase as u8, REQUEST_USED - HEADER_LEN));
    put(&mut bytes, POLICY_AT, &policy_bytes(&image.policy));
    put(&mut bytes, SENT_AT, &sent_bytes(&image.sent));
    if let Some(core) = bytes.get_mut(CORE_AT..) {
        // Cannot fail: the room is at least either encoding's length; and if it did, the
        // zeroes left would be refused when read, never misread.
        let _ = match &image.core {
            Core::Request(state) => state.encode(core),
            Core::Reply(state) => state.encode(core),
        };
    }
    let check = check_word(&bytes);
    put(&mut bytes, CHECK_AT, &check.to_le_bytes());
    // SAFETY: `base` holds at least `REQUEST_USED` writable bytes (the header's contract);
    // nothing else refers to them during the call (the library holds no reference into
    // storage across calls, and reads it into locals); `[u8; N]` has alignment 1.
    unsafe { base.cast::<[u8; REQUEST_USED]>().write(bytes) };
}

/// Reads and decodes a shared storage (`base` is not NULL: checked by the caller).
pub fn read_shared(base: *const u8) -> Result<Shared<CONTEXTS>, backoff_status> {
    // SAFETY: the header's contract: the storage holds `BACKOFF_SHARED_SIZE` initialised
    // bytes (at least `SHARED_USED`).
    let head = unsafe { read_bytes::<HEADER_LEN>(base, 0) };
    if check_header(&head, MAGIC_SHARED, KIND_SHARED, SHARED_LEN)? != 0 {
        return Err(BACKOFF_ERR_CORRUPT);
    }
    // SAFETY: as above; only plain bytes are read, and the core decodes them with checks.
    let bytes = unsafe { read_bytes::<SHARED_LEN>(base, HEADER_LEN) };
    Shared::decode(&bytes).map_err(|_| BACKOFF_ERR_CORRUPT)
}

/// Encodes a shared state into its storage (`base` is not NULL and holds
/// `BACKOFF_SHARED_SIZE` bytes: checked by the caller).
pub fn write_shared(base: *mut u8, shared: &Shared<CONTEXTS>) {
    let mut out = [0u8; SHARED_USED];
    put(&mut out, 0, &header(MAGIC_SHARED, KIND_SHARED, 0, SHARED_LEN));
    if let Some(body) = out.get_mut(HEADER_LEN..) {
        // Cannot fail: the buffer is `ENCODED_LEN` bytes; and if it did, the zeroes left
        // would be refused when read, never misread.
        let _ = shared.encode(body);
    }
    // SAFETY: `base` holds at least `SHARED_USED` writable bytes (the header's contract).
    unsafe { base.cast::<[u8; SHARED_USED]>().write(out) };
}
