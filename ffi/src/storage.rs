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
//! **Request storage** holds plain data the library checks field by field (the header, the
//! policy as twelve integers, the context the request was sent for) and the core's own request
//! state ([`Request`] or, while a body is read, [`Reply`]), which the core keeps
//! private and has no byte encoding for: the body parser inside a reply is a state machine of
//! enums. Those bytes are covered by a 64-bit check word over every byte the library wrote
//! (header, plain data, core state), and read as Rust values only when the check matches. The
//! check is a chain of bijections over 8-byte words, so a change confined to one aligned word
//! (any single corrupted byte) is always caught, and any other accidental change is missed with
//! probability 2^-64. It is a guard against accidents, not against someone who forges the check
//! word on purpose: that would need a byte encoding of the core's reply state (see the crate
//! docs). Nothing in the storage needs alignment: it is read and written byte-wise.

use core::mem::size_of;

use backoff_core::driver::Shared;
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
/// The core's state, at a multiple of 8 (the check word reads 8-byte words).
const CORE_AT: usize = (SENT_AT + SENT_LEN).next_multiple_of(8);
const CORE_LEN: usize = {
    let (a, b) = (size_of::<Request>(), size_of::<Reply<CAP>>());
    (if a > b { a } else { b }).next_multiple_of(8)
};
/// The bytes of request storage the library writes (and checks); the rest is never touched.
pub(crate) const REQUEST_USED: usize = CORE_AT + CORE_LEN;
const _: () = assert!(REQUEST_USED <= BACKOFF_REQUEST_SIZE);

/// The bytes the check word covers. Under Miri, which cannot run the `asm!` that makes the
/// core state's padding plain bytes ([`settle`]), only the plain data is covered.
#[cfg(not(miri))]
const CHECKED_END: usize = REQUEST_USED;
#[cfg(miri)]
const CHECKED_END: usize = CORE_AT;

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

/// The check word of a request's storage: every 8-byte word up to [`CHECKED_END`] but the
/// check word itself.
///
/// # Safety
/// `base` points to at least [`REQUEST_USED`] readable bytes, the first [`CHECKED_END`] of
/// them initialised.
unsafe fn check_word(base: *const u8) -> u64 {
    let mut h = mix(0x6261_636B_6F66_6632, CHECKED_END as u64);
    let mut at = 0;
    while at + 8 <= CHECKED_END {
        if at != CHECK_AT {
            // SAFETY: `at + 8 <= CHECKED_END`, initialised by the caller's promise.
            h = mix(h, u64::from_le_bytes(unsafe { read_bytes::<8>(base, at) }));
        }
        at += 8;
    }
    h
}

/// Makes every byte of the `len` bytes at `ptr` a plain, initialised byte holding what it
/// holds now.
///
/// A Rust value's padding (and the unused part of the body parser's message buffer) is
/// uninitialised in Rust's model of memory even after it is written to the storage, and
/// reading it as a byte for the check word would be undefined behaviour. The `asm!` block
/// below is given the pointer without `nomem` or `readonly`, so the compiler must assume it
/// wrote those bytes with the values the machine holds there: after it, they are initialised,
/// as the hardware always had them. (On targets without stable `asm!`, a `black_box` of the
/// pointer does the same in practice, without the guarantee.) On x86-64 the block is also
/// Valgrind's client request `VALGRIND_MAKE_MEM_DEFINED` — four rotations of `rdi` by 128 bits
/// in all and `xchg rbx, rbx`, which do nothing outside Valgrind — so that memcheck, which
/// tracks the bytes the machine never wrote, agrees.
fn settle(ptr: *mut u8, len: usize) {
    #[cfg(all(not(miri), target_arch = "x86_64"))]
    {
        /// `VG_USERREQ__MAKE_MEM_DEFINED` (valgrind/memcheck.h): `('M' << 24 | 'C' << 16) + 2`.
        const MAKE_MEM_DEFINED: usize = 0x4D43_0002;
        let request: [usize; 6] = [MAKE_MEM_DEFINED, ptr as usize, len, 0, 0, 0];
        // SAFETY: outside Valgrind the instructions change nothing: `rdi` is rotated by 3 + 13
        // + 61 + 51 = 128 bits, back to its value, `xchg rbx, rbx` swaps a register with
        // itself, and `rdx` (declared as clobbered) keeps its input; only the flags change
        // (not declared preserved). Under Valgrind they ask memcheck to mark the `len` bytes
        // at `ptr` defined, reading the six words at `request` (alive, declared by passing
        // its address without `nomem`). `ptr` is passed in `rcx` so that the compiler, too,
        // must assume the bytes behind it were written. No stack is used.
        unsafe {
            core::arch::asm!(
                "rol rdi, 3",
                "rol rdi, 13",
                "rol rdi, 61",
                "rol rdi, 51",
                "xchg rbx, rbx",
                in("rax") request.as_ptr(),
                inout("rdx") 0usize => _,
                in("rcx") ptr,
                options(nostack),
            );
        }
    }
    #[cfg(all(
        not(miri),
        any(
            target_arch = "x86",
            target_arch = "arm",
            target_arch = "aarch64",
            target_arch = "riscv32",
            target_arch = "riscv64"
        )
    ))]
    // SAFETY: the block is empty: it reads and writes nothing, uses no stack and leaves the
    // flags alone (as its options say); `ptr` is only passed in a register.
    unsafe {
        let _ = len;
        core::arch::asm!("/* {0} */", in(reg) ptr, options(nostack, preserves_flags));
    }
    #[cfg(not(all(
        not(miri),
        any(
            target_arch = "x86",
            target_arch = "x86_64",
            target_arch = "arm",
            target_arch = "aarch64",
            target_arch = "riscv32",
            target_arch = "riscv64"
        )
    )))]
    let _ = (core::hint::black_box(ptr), len);
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

/// Reads and checks a request's storage (`base` is not NULL: checked by the caller).
///
/// Every byte the library wrote is covered by the check word, and checked before any is taken
/// as a Rust value; the plain fields are checked one by one as well (a policy must be one
/// `backoff_request_begin` accepts, written as it writes it).
pub fn read_request(base: *const u8) -> Result<RequestImage, backoff_status> {
    // SAFETY: the header's contract: the storage holds `BACKOFF_REQUEST_SIZE` bytes (at least
    // `REQUEST_USED`), as C initialised them or this library wrote them.
    let head = unsafe { read_bytes::<HEADER_LEN>(base, 0) };
    let phase = match check_header(&head, MAGIC_REQUEST, KIND_REQUEST, REQUEST_USED - HEADER_LEN)? {
        1 => Phase::Ready,
        2 => Phase::Reading,
        3 => Phase::Ended,
        _ => return Err(BACKOFF_ERR_CORRUPT),
    };
    // SAFETY: as above; the bytes up to `CHECKED_END` were written by this library (and made
    // plain bytes by `settle`) if the magic is right, or are C's if not, and C's bytes are
    // initialised.
    let found = u64::from_le_bytes(unsafe { read_bytes::<8>(base, CHECK_AT) });
    // SAFETY: as above.
    if found != unsafe { check_word(base) } {
        return Err(BACKOFF_ERR_CORRUPT);
    }
    // SAFETY: as above.
    let policy = policy_from(&unsafe { read_bytes::<POLICY_LEN>(base, POLICY_AT) });
    let canonical = policy.to_core().map(|p| backoff_policy::from_core(&p));
    if canonical != Ok(policy) {
        return Err(BACKOFF_ERR_CORRUPT);
    }
    // SAFETY: as above.
    let sent = sent_from(&unsafe { read_bytes::<SENT_LEN>(base, SENT_AT) })?;
    let core_at = base.wrapping_add(CORE_AT);
    let core = match phase {
        // SAFETY: the check word matched, so these are the bytes of a `Request` (or a
        // `Reply<CAP>` while reading) this library wrote at `CORE_AT`; `read_unaligned`
        // asks no alignment of the storage.
        Phase::Ready | Phase::Ended => Core::Request(unsafe { core_at.cast::<Request>().read_unaligned() }),
        // SAFETY: as above.
        Phase::Reading => Core::Reply(unsafe { core_at.cast::<Reply<CAP>>().read_unaligned() }),
    };
    Ok(RequestImage { phase, policy, sent, core })
}

/// Writes a request's storage whole (`base` is not NULL and holds `BACKOFF_REQUEST_SIZE`
/// bytes: checked by the caller).
pub fn write_request(base: *mut u8, image: RequestImage) {
    let mut plain = [0u8; CORE_AT];
    put(&mut plain, 0, &header(MAGIC_REQUEST, KIND_REQUEST, image.phase as u8, REQUEST_USED - HEADER_LEN));
    put(&mut plain, POLICY_AT, &policy_bytes(&image.policy));
    put(&mut plain, SENT_AT, &sent_bytes(&image.sent));
    // SAFETY: `base` holds at least `REQUEST_USED` writable bytes (the header's contract);
    // nothing else refers to them during the call (the library holds no reference into
    // storage across calls, and reads it into locals); the core state is written unaligned.
    unsafe {
        base.cast::<[u8; CORE_AT]>().write(plain);
        let core_at = base.add(CORE_AT);
        core_at.write_bytes(0, CORE_LEN);
        match image.core {
            Core::Request(state) => core_at.cast::<Request>().write_unaligned(state),
            Core::Reply(state) => core_at.cast::<Reply<CAP>>().write_unaligned(state),
        }
    }
    settle(base, REQUEST_USED);
    // SAFETY: the bytes up to `CHECKED_END` are written above and plain bytes after `settle`.
    let check = unsafe { check_word(base) };
    // SAFETY: in bounds (above).
    unsafe { base.add(CHECK_AT).cast::<[u8; 8]>().write(check.to_le_bytes()) };
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
