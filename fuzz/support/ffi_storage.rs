//! The C door over storage whose bytes change between calls: arbitrary sequences of the C
//! functions on two requests and a shared state, interleaved with bytes of the storage set,
//! flipped or overwritten at will, storage copied (moved) from one request to the other, and
//! clocks going both ways.
//!
//! Asserts, besides "no crash, no sanitizer report": every status is a documented one; a call
//! that fails writes nothing (its outputs and both storages are as they were); a decision's
//! fields that do not apply are `NONE`; a message is NUL-terminated UTF-8 of `message_len`
//! bytes; `backoff_shared_acquire` answers SEND, WAIT (later than now) or, for a request, FAIL.
//!
//! Any bytes anywhere, in both kinds of storage: shared storage is the core's checked encoding,
//! and request storage holds plain data and the core's checked encoding of its state, so safety
//! does not rest on the request's check word. `Seal` writes the check word that matches the
//! bytes as they are (the library's, computed here from its layout), so that bytes changed on
//! purpose reach the decoding behind it: the forgery the check word does not claim to catch.
//!
//! Shared by the fuzz target `ffi_storage` and the corpus replay of the C door's tests
//! (`ffi/tests/storage_corpus.rs`, run under Miri by `ffi/run`).
#![allow(dead_code)]

use core::ffi::{c_char, c_int, c_void};
use core::ptr::{null, null_mut};

use arbitrary::Arbitrary;
use backoff_core_ffi::backoff_status::*;
use backoff_core_ffi::*;

/// Where the check word sits in request storage (bytes 16..24, after the 16-byte header).
const CHECK_AT: usize = 16;
/// The bytes of request storage the library writes, and its check word covers.
const USED: usize = 536;

/// The library's check word (`ffi/src/storage.rs`), for bytes forged on purpose.
pub fn seal(storage: &mut [u8; BACKOFF_REQUEST_SIZE]) {
    const fn mix(state: u64, word: u64) -> u64 {
        let mut h = (state ^ word).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        h ^= h >> 29;
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^ (h >> 32)
    }
    let mut h = mix(0x6261_636B_6F66_6632, USED as u64);
    for at in (0..USED).step_by(8).filter(|&at| at != CHECK_AT) {
        h = mix(h, u64::from_le_bytes(storage[at..at + 8].try_into().unwrap()));
    }
    storage[CHECK_AT..CHECK_AT + 8].copy_from_slice(&h.to_le_bytes());
}

/// One step: a C call, or something done to the storage between calls.
#[derive(Arbitrary, Debug)]
pub enum Op {
    Begin {
        slot: bool,
        tweak: [u32; 3],
        field: u8,
        idempotency: u8,
    },
    SharedInit {
        pacing: u8,
        options: u8,
    },
    Acquire {
        slot: Option<bool>,
        context: u8,
        now: u16,
    },
    Response {
        slot: bool,
        status: u16,
        headers: Vec<(u8, u16)>,
        shared: bool,
        now: u16,
    },
    Feed {
        slot: bool,
        chunk: Vec<u8>,
    },
    Finish {
        slot: bool,
        shared: bool,
        now: u16,
        small_buffer: bool,
    },
    BodyFailed {
        slot: bool,
        shared: bool,
        now: u16,
    },
    TransportFailure {
        slot: bool,
        failure: u8,
        shared: bool,
        now: u16,
    },
    SetRequestByte {
        slot: bool,
        at: u16,
        value: u8,
    },
    FlipRequestByte {
        slot: bool,
        at: u16,
        mask: u8,
    },
    OverwriteRequest {
        slot: bool,
        at: u16,
        bytes: Vec<u8>,
    },
    SetSharedByte {
        at: u16,
        value: u8,
    },
    OverwriteShared {
        at: u16,
        bytes: Vec<u8>,
    },
    /// The check word rewritten to match the request's bytes as they are.
    Seal {
        slot: bool,
    },
    /// `memcpy` one request's storage over the other's (a request moved mid-body).
    Move {
        from: bool,
    },
    /// The clock jumps (backwards too).
    Clock {
        back: bool,
        by: u16,
    },
}

const NAMES: [&str; 6] = [
    "Retry-After",
    "X-RateLimit-Context",
    "X-RateLimit-Remaining",
    "X-RateLimit-Limit",
    "X-RateLimit-Window",
    "Date",
];
const CONTEXTS: [&str; 4] = ["events", "people", "", "a-context-name-longer-than-the-twenty-four-bytes-kept"];

const STATUSES: [backoff_status; 10] = [
    BACKOFF_OK,
    BACKOFF_ERR_NULL,
    BACKOFF_ERR_STORAGE_TOO_SMALL,
    BACKOFF_ERR_NOT_INITIALISED,
    BACKOFF_ERR_ENDED,
    BACKOFF_ERR_WRONG_PHASE,
    BACKOFF_ERR_BUFFER_TOO_SMALL,
    BACKOFF_ERR_INVALID_ARGUMENT,
    BACKOFF_ERR_CORRUPT,
    BACKOFF_ERR_OTHER_LAYOUT,
];

extern "C" fn words(context: *mut c_void, out: *mut u32) -> c_int {
    // SAFETY: the target passes a `*mut u32` as the context; the library a valid `out`.
    unsafe {
        let state = &mut *context.cast::<u32>();
        *state = state.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
        *out = *state;
        // Every eighth draw fails: the clock fallback is exercised too.
        c_int::from(*state % 8 == 0)
    }
}

struct World {
    requests: [[u8; BACKOFF_REQUEST_SIZE]; 2],
    shared: [u8; BACKOFF_SHARED_SIZE],
    now: u64,
    seed: u32,
}

impl World {
    /// The storage of a request and the shared storage (NULL unless `shared`), both taken from
    /// one borrow of the world: a pointer taken by one `&mut self` call would be invalidated by
    /// the next (Stacked Borrows, which Miri checks).
    fn storages(&mut self, slot: Option<bool>, shared: bool) -> (*mut c_void, *mut c_void) {
        let request = match slot {
            Some(slot) => self.requests[usize::from(slot)].as_mut_ptr().cast(),
            None => null_mut(),
        };
        let shared = if shared { self.shared.as_mut_ptr().cast() } else { null_mut() };
        (request, shared)
    }

    fn request(&mut self, slot: bool) -> *mut c_void {
        self.storages(Some(slot), false).0
    }

    fn shared(&mut self, on: bool) -> *mut c_void {
        self.storages(None, on).1
    }

    /// Runs one call; checks its status, and that a failed call wrote nothing.
    fn call(
        &mut self,
        f: impl FnOnce(&mut Self, &mut backoff_action, &mut [c_char]) -> backoff_status,
    ) -> Option<backoff_action> {
        let sentinel =
            backoff_action { at_ms: 0xAAAA_AAAA_AAAA_AAAA, kind: 0xAAAA_AAAA, ..Default::default() };
        let mut action = sentinel;
        let mut message = [0x55 as c_char; BACKOFF_MESSAGE_CAPACITY + 1];
        let (requests, shared) = (self.requests, self.shared);
        let status = f(self, &mut action, &mut message);
        assert!(STATUSES.contains(&status), "{status:?}");
        if status != BACKOFF_OK {
            assert_eq!(action, sentinel, "{status:?}: the action was written");
            assert!(message.iter().all(|&c| c == 0x55), "{status:?}: the message was written");
            assert!(
                requests == self.requests && shared == self.shared,
                "{status:?}: the storage was written"
            );
            return None;
        }
        if action != sentinel {
            check_action(&action, &message);
        }
        Some(action)
    }
}

fn check_action(action: &backoff_action, message: &[c_char]) {
    assert_eq!(action.reserved, 0);
    assert!(action.message_truncated <= 1);
    match action.kind {
        BACKOFF_ACTION_SUCCEED | BACKOFF_ACTION_SEND => {
            assert_eq!(
                (
                    action.error_kind,
                    action.stop,
                    action.body_kind,
                    action.wait,
                    action.jitter_source,
                    action.at_ms
                ),
                (
                    BACKOFF_KIND_NONE,
                    BACKOFF_STOP_NONE,
                    BACKOFF_BODY_NONE,
                    BACKOFF_WAIT_NONE,
                    BACKOFF_JITTER_SOURCE_NONE,
                    0
                )
            );
        }
        BACKOFF_ACTION_WAIT => {
            assert_eq!(
                (action.wait, action.stop, action.error_kind),
                (BACKOFF_WAIT_HELD, BACKOFF_STOP_NONE, BACKOFF_KIND_NONE)
            );
        }
        BACKOFF_ACTION_FAIL => {
            assert!((BACKOFF_STOP_PERMANENT..=BACKOFF_STOP_BUDGET_EXHAUSTED).contains(&action.stop));
            assert!((BACKOFF_KIND_BAD_REQUEST..=BACKOFF_KIND_TRANSPORT).contains(&action.error_kind));
            assert_eq!((action.wait, action.jitter_source), (BACKOFF_WAIT_NONE, BACKOFF_JITTER_SOURCE_NONE));
        }
        BACKOFF_ACTION_RETRY => {
            assert_eq!(action.stop, BACKOFF_STOP_NONE);
            assert!(matches!(action.wait, BACKOFF_WAIT_BACKOFF | BACKOFF_WAIT_RETRY_AFTER));
            assert!(
                (BACKOFF_JITTER_SOURCE_RNG..=BACKOFF_JITTER_SOURCE_NOT_DRAWN).contains(&action.jitter_source)
            );
            assert!((BACKOFF_KIND_BAD_REQUEST..=BACKOFF_KIND_TRANSPORT).contains(&action.error_kind));
        }
        other => panic!("action kind {other}"),
    }
    if matches!(action.kind, BACKOFF_ACTION_FAIL | BACKOFF_ACTION_RETRY) {
        assert!((BACKOFF_BODY_ERROR_MESSAGE..=BACKOFF_BODY_NOT_READ).contains(&action.body_kind));
    }
    if message.first() != Some(&0x55) {
        let len = message.iter().position(|&c| c == 0).expect("NUL-terminated");
        assert!(len <= BACKOFF_MESSAGE_CAPACITY);
        assert_eq!(len, action.message_len as usize);
        let bytes: Vec<u8> = message[..len].iter().map(|&c| c as u8).collect();
        assert!(core::str::from_utf8(&bytes).is_ok());
    }
}

fn policy(tweak: [u32; 3], field: u8) -> backoff_policy {
    let mut p = backoff_policy {
        base_ms: 0,
        max_backoff_ms: 0,
        jitter: 0,
        jitter_max_ms: 0,
        max_retries: 0,
        has_deadline: 0,
        deadline_ms: 0,
        retry_after_ceiling_ms: 0,
        retry_after_floor_ms: 0,
        retry_after_jitter_ms: 0,
        retry_on: 0,
        max_error_body_bytes: 0,
    };
    assert_eq!(backoff_policy_follow_up_boss(&mut p), BACKOFF_OK);
    // One field set to anything (out of range too), small retries and deadlines likelier.
    let [value, small, deadline] = tweak;
    match field % 8 {
        0 => p.jitter = value % 6,
        1 => p.has_deadline = value % 3,
        2 => p.retry_on = value % 32,
        3 => p.max_retries = small % 4,
        4 => p.max_error_body_bytes = small % 64,
        5 => p.retry_after_ceiling_ms = small % 5_000,
        _ => {}
    }
    if deadline % 3 == 0 {
        p.has_deadline = 1;
        p.deadline_ms = deadline % 10_000;
    }
    p
}

/// Runs one case: the calls of `ops` (at most 64), each checked as the module says.
pub fn run(ops: Vec<Op>) {
    let mut world = World {
        requests: [[0; BACKOFF_REQUEST_SIZE]; 2],
        shared: [0; BACKOFF_SHARED_SIZE],
        now: 1_000,
        seed: 7,
    };
    for op in ops.into_iter().take(64) {
        let mut seed = world.seed;
        let rng = backoff_rng { next_u32: Some(words), context: (&mut seed as *mut u32).cast() };
        match op {
            Op::Begin { slot, tweak, field, idempotency } => {
                let p = policy(tweak, field);
                world.call(|w, _, _| {
                    backoff_request_begin(
                        w.request(slot),
                        BACKOFF_REQUEST_SIZE,
                        &p,
                        w.now,
                        u32::from(idempotency % 3),
                    )
                });
            }
            Op::SharedInit { pacing, options } => {
                world.call(|w, _, _| {
                    backoff_shared_init(
                        w.shared(true),
                        BACKOFF_SHARED_SIZE,
                        u32::from(pacing % 3),
                        u32::from(options % 5),
                    )
                });
            }
            Op::Acquire { slot, context, now } => {
                let name = CONTEXTS[usize::from(context) % CONTEXTS.len()];
                let (ptr, len) =
                    if name.is_empty() { (null(), 0) } else { (name.as_ptr().cast(), name.len()) };
                let at = world.now + u64::from(now);
                let answer = world.call(|w, a, _| {
                    let (request, shared) = w.storages(slot, true);
                    backoff_shared_acquire(shared, request, at, ptr, len, &rng, a)
                });
                if let Some(a) = answer {
                    match a.kind {
                        BACKOFF_ACTION_SEND => {}
                        BACKOFF_ACTION_WAIT => assert!(a.at_ms > at),
                        BACKOFF_ACTION_FAIL => assert!(slot.is_some()),
                        other => panic!("acquire answered {other}"),
                    }
                }
            }
            Op::Response { slot, status, headers, shared, now } => {
                let values: Vec<String> = headers.iter().map(|(_, v)| v.to_string()).collect();
                let list: Vec<backoff_header> = headers
                    .iter()
                    .zip(&values)
                    .take(8)
                    .map(|((n, _), v)| {
                        let name = NAMES[usize::from(*n) % NAMES.len()];
                        let value: &str = if *n >= 200 { CONTEXTS[usize::from(*n) % 2] } else { v };
                        backoff_header {
                            name: name.as_ptr().cast(),
                            name_len: name.len(),
                            value: value.as_ptr().cast(),
                            value_len: value.len(),
                        }
                    })
                    .collect();
                let at = world.now + u64::from(now);
                world.call(|w, _, _| {
                    let (request, shared_storage) = w.storages(Some(slot), shared);
                    backoff_request_response(
                        request,
                        status,
                        list.as_ptr(),
                        list.len(),
                        at,
                        &rng,
                        shared_storage,
                    )
                });
            }
            Op::Feed { slot, chunk } => {
                let mut progress = 0u32;
                let fed = world.call(|w, _, _| {
                    backoff_request_feed(w.request(slot), chunk.as_ptr().cast(), chunk.len(), &mut progress)
                });
                if fed.is_some() {
                    assert!(matches!(progress, BACKOFF_PROGRESS_READING | BACKOFF_PROGRESS_DECIDED));
                }
            }
            Op::Finish { slot, shared, now, small_buffer } => {
                let at = world.now + u64::from(now);
                let answer = world.call(|w, a, m| {
                    let (request, shared_storage) = w.storages(Some(slot), shared);
                    let cap = if small_buffer { 8 } else { m.len() };
                    backoff_request_finish(request, at, &rng, shared_storage, a, m.as_mut_ptr(), cap)
                });
                if let Some(a) = answer {
                    assert!(matches!(
                        a.kind,
                        BACKOFF_ACTION_SUCCEED | BACKOFF_ACTION_FAIL | BACKOFF_ACTION_RETRY
                    ));
                    assert!(!small_buffer);
                }
            }
            Op::BodyFailed { slot, shared, now } => {
                let at = world.now + u64::from(now);
                let answer = world.call(|w, a, m| {
                    let (request, shared_storage) = w.storages(Some(slot), shared);
                    backoff_request_body_failed(request, at, &rng, shared_storage, a, m.as_mut_ptr(), m.len())
                });
                if let Some(a) = answer {
                    assert!(matches!(a.kind, BACKOFF_ACTION_FAIL | BACKOFF_ACTION_RETRY));
                    assert_eq!(a.error_kind, BACKOFF_KIND_TRANSPORT);
                }
            }
            Op::TransportFailure { slot, failure, shared, now } => {
                let at = world.now + u64::from(now);
                let answer = world.call(|w, a, _| {
                    let (request, shared_storage) = w.storages(Some(slot), shared);
                    backoff_request_transport_failure(
                        request,
                        at,
                        u32::from(failure % 3),
                        &rng,
                        shared_storage,
                        a,
                        null_mut(),
                        0,
                    )
                });
                if let Some(a) = answer {
                    assert!(matches!(a.kind, BACKOFF_ACTION_FAIL | BACKOFF_ACTION_RETRY));
                    assert_eq!(
                        (a.error_kind, a.status, a.body_kind),
                        (BACKOFF_KIND_TRANSPORT, 0, BACKOFF_BODY_NOT_READ)
                    );
                }
            }
            Op::SetRequestByte { slot, at, value } => {
                let storage = &mut world.requests[usize::from(slot)];
                let at = usize::from(at) % storage.len();
                storage[at] = value;
            }
            Op::FlipRequestByte { slot, at, mask } => {
                let storage = &mut world.requests[usize::from(slot)];
                let at = usize::from(at) % storage.len();
                storage[at] ^= mask;
            }
            Op::OverwriteRequest { slot, at, bytes } => {
                let storage = &mut world.requests[usize::from(slot)];
                let start = usize::from(at) % storage.len();
                for (dst, b) in storage.iter_mut().skip(start).zip(bytes) {
                    *dst = b;
                }
            }
            Op::Seal { slot } => seal(&mut world.requests[usize::from(slot)]),
            Op::SetSharedByte { at, value } => {
                let at = usize::from(at) % world.shared.len();
                world.shared[at] = value;
            }
            Op::OverwriteShared { at, bytes } => {
                let start = usize::from(at) % world.shared.len();
                for (dst, b) in world.shared.iter_mut().skip(start).zip(bytes) {
                    *dst = b;
                }
            }
            Op::Move { from } => {
                world.requests[usize::from(!from)] = world.requests[usize::from(from)];
            }
            Op::Clock { back, by } => {
                world.now = if back {
                    world.now.saturating_sub(u64::from(by))
                } else {
                    world.now + u64::from(by) * 16
                };
            }
        }
        world.seed = seed;
    }
}

/// Runs the case libFuzzer's input `data` is (as the fuzz target reads it): the replay of a
/// corpus file.
pub fn run_bytes(data: &[u8]) {
    if let Ok(ops) = Vec::<Op>::arbitrary_take_rest(arbitrary::Unstructured::new(data)) {
        run(ops);
    }
}
