//! The C functions called from Rust as C would call them: the lifecycle, every misuse code,
//! and storage whose bytes changed between calls. Runs under Miri too (`cargo +nightly miri
//! test -p backoff-core-ffi`), which checks every pointer the library turns into a reference.

use core::ffi::{c_char, c_int, c_void};
use core::mem::MaybeUninit;
use core::ptr::{null, null_mut};

use backoff_core_ffi::backoff_status::*;
use backoff_core_ffi::*;

extern "C" fn counter(context: *mut c_void, out: *mut u32) -> c_int {
    // SAFETY: the tests pass a `*mut u32` as the context and the library a valid `out`.
    unsafe {
        let state = &mut *context.cast::<u32>();
        *state = state.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
        *out = *state;
    }
    0
}

fn header(name: &'static str, value: &'static str) -> backoff_header {
    backoff_header {
        name: name.as_ptr().cast(),
        name_len: name.len(),
        value: value.as_ptr().cast(),
        value_len: value.len(),
    }
}

fn preset() -> backoff_policy {
    let mut policy = std::mem::MaybeUninit::<backoff_policy>::uninit();
    assert_eq!(backoff_policy_follow_up_boss(policy.as_mut_ptr()), BACKOFF_OK);
    // SAFETY: just written whole.
    unsafe { policy.assume_init() }
}

fn ptr<const N: usize>(storage: &mut [u8; N]) -> *mut c_void {
    storage.as_mut_ptr().cast()
}

/// Request storage as Rust must see it when it copies it: bytes that may be uninitialised
/// (the padding of the core's state under Miri, which cannot run the `asm!` that makes them
/// plain bytes; C's `memcpy` copies them either way).
type Storage = [MaybeUninit<u8>; BACKOFF_REQUEST_SIZE];

fn blank() -> Storage {
    [MaybeUninit::new(0); BACKOFF_REQUEST_SIZE]
}

fn at(storage: &mut Storage) -> *mut c_void {
    storage.as_mut_ptr().cast()
}

#[test]
fn a_429_then_a_400_in_chunks_then_misuse() {
    let mut request = [0u8; BACKOFF_REQUEST_SIZE];
    let mut shared = [0u8; BACKOFF_SHARED_SIZE];
    let (req, sh) = (ptr(&mut request), ptr(&mut shared));
    let mut state = 7u32;
    let rng = backoff_rng { next_u32: Some(counter), context: (&mut state as *mut u32).cast() };
    let policy = preset();
    assert_eq!(
        backoff_shared_init(sh, BACKOFF_SHARED_SIZE, BACKOFF_PACING_BURST, BACKOFF_SHARED_BUDGET),
        BACKOFF_OK
    );
    assert_eq!(
        backoff_request_begin(req, BACKOFF_REQUEST_SIZE, &policy, 100, BACKOFF_NOT_IDEMPOTENT),
        BACKOFF_OK
    );
    let mut action = backoff_action::default();
    let events = b"events";
    assert_eq!(
        backoff_shared_acquire(sh, req, 100, events.as_ptr().cast(), 6, &rng, &mut action),
        BACKOFF_OK
    );
    assert_eq!(action.kind, BACKOFF_ACTION_SEND);

    let headers = [header("Retry-After", "2"), header("X-RateLimit-Context", "events")];
    assert_eq!(backoff_request_response(req, 429, headers.as_ptr(), 2, 100, &rng, sh), BACKOFF_OK);
    let mut message = [0 as c_char; BACKOFF_MESSAGE_CAPACITY + 1];
    let status = backoff_request_finish(req, 100, &rng, sh, &mut action, message.as_mut_ptr(), message.len());
    assert_eq!(status, BACKOFF_OK);
    assert_eq!((action.kind, action.wait), (BACKOFF_ACTION_RETRY, BACKOFF_WAIT_RETRY_AFTER));
    assert!((2000..=3000).contains(&action.delay_ms));
    let mut held = backoff_action::default();
    assert_eq!(backoff_shared_acquire(sh, req, 101, events.as_ptr().cast(), 6, &rng, &mut held), BACKOFF_OK);
    assert_eq!((held.kind, held.wait, held.at_ms), (BACKOFF_ACTION_WAIT, BACKOFF_WAIT_HELD, 2_100));
    assert_eq!(
        (held.error_kind, held.stop, held.body_kind),
        (BACKOFF_KIND_NONE, BACKOFF_STOP_NONE, BACKOFF_BODY_NONE)
    );
    assert_eq!(
        backoff_shared_acquire(sh, req, action.at_ms, events.as_ptr().cast(), 6, &rng, &mut held),
        BACKOFF_OK
    );
    assert_eq!(held.kind, BACKOFF_ACTION_SEND);

    let body = br#"{"errorMessage":"Invalid fields in the request body: emails."}"#;
    assert_eq!(backoff_request_response(req, 400, null(), 0, action.at_ms, null(), sh), BACKOFF_OK);
    for chunk in body.chunks(16) {
        let mut progress = 0;
        assert_eq!(backoff_request_feed(req, chunk.as_ptr().cast(), chunk.len(), &mut progress), BACKOFF_OK);
        assert_eq!(progress, BACKOFF_PROGRESS_READING);
    }
    let status =
        backoff_request_finish(req, action.at_ms, &rng, sh, &mut action, message.as_mut_ptr(), message.len());
    assert_eq!(status, BACKOFF_OK);
    assert_eq!((action.kind, action.stop, action.attempts), (BACKOFF_ACTION_FAIL, BACKOFF_STOP_PERMANENT, 2));
    // SAFETY: the library wrote a NUL-terminated string into `message`.
    let text = unsafe { core::ffi::CStr::from_ptr(message.as_ptr()) };
    assert_eq!(text.to_str(), Ok("Invalid fields in the request body: emails."));
    assert_eq!(action.message_len, 43);
    let mut tokens = 0;
    assert_eq!(backoff_shared_budget_tokens(sh, &mut tokens), BACKOFF_OK);
    assert_eq!(tokens, 495, "one retry after a 429 paid 5");

    // Misuse.
    assert_eq!(backoff_request_feed(req, body.as_ptr().cast(), 1, null_mut()), BACKOFF_ERR_ENDED);
    assert_eq!(
        backoff_request_begin(null_mut(), BACKOFF_REQUEST_SIZE, &policy, 0, BACKOFF_IDEMPOTENT),
        BACKOFF_ERR_NULL
    );
    assert_eq!(
        backoff_request_begin(req, BACKOFF_REQUEST_SIZE - 1, &policy, 0, BACKOFF_IDEMPOTENT),
        BACKOFF_ERR_STORAGE_TOO_SMALL
    );
    let mut big = [0u8; BACKOFF_REQUEST_SIZE + 8];
    let blank = ptr(&mut big);
    assert_eq!(backoff_request_feed(blank, body.as_ptr().cast(), 1, null_mut()), BACKOFF_ERR_NOT_INITIALISED);
    // Any alignment will do.
    let odd = big[1..].as_mut_ptr().cast::<c_void>();
    assert_eq!(backoff_request_begin(odd, BACKOFF_REQUEST_SIZE, &policy, 0, BACKOFF_IDEMPOTENT), BACKOFF_OK);
    assert_eq!(backoff_request_response(odd, 503, null(), 0, 0, null(), null_mut()), BACKOFF_OK);
    assert_eq!(backoff_request_finish(odd, 0, &rng, null_mut(), &mut action, null_mut(), 0), BACKOFF_OK);
    assert_eq!(action.kind, BACKOFF_ACTION_RETRY);

    assert_eq!(backoff_request_begin(req, BACKOFF_REQUEST_SIZE, &policy, 0, BACKOFF_IDEMPOTENT), BACKOFF_OK);
    assert_eq!(backoff_request_feed(req, body.as_ptr().cast(), 1, null_mut()), BACKOFF_ERR_WRONG_PHASE);
    assert_eq!(backoff_request_response(req, 503, null(), 0, 0, null(), null_mut()), BACKOFF_OK);
    let before = action;
    assert_eq!(
        backoff_request_finish(req, 0, &rng, null_mut(), &mut action, message.as_mut_ptr(), 8),
        BACKOFF_ERR_BUFFER_TOO_SMALL
    );
    assert_eq!(action, before, "nothing is written on failure");
    for bad in [
        backoff_policy { jitter: 42, ..policy },
        backoff_policy { retry_on: 1 << 9, ..policy },
        backoff_policy { has_deadline: 2, ..policy },
    ] {
        assert_eq!(
            backoff_request_begin(req, BACKOFF_REQUEST_SIZE, &bad, 0, BACKOFF_IDEMPOTENT),
            BACKOFF_ERR_INVALID_ARGUMENT
        );
    }
    assert_eq!(backoff_request_begin(req, BACKOFF_REQUEST_SIZE, &policy, 0, 0), BACKOFF_ERR_INVALID_ARGUMENT);
    assert_eq!(backoff_shared_init(sh, BACKOFF_SHARED_SIZE, 0, 4), BACKOFF_ERR_INVALID_ARGUMENT);
    assert_eq!(backoff_shared_init(sh, BACKOFF_SHARED_SIZE - 1, 0, 0), BACKOFF_ERR_STORAGE_TOO_SMALL);
}

#[test]
fn the_policy_round_trips_through_c_fields() {
    let policy = preset();
    assert_eq!(
        (policy.base_ms, policy.max_backoff_ms, policy.jitter, policy.jitter_max_ms, policy.max_retries),
        (1000, 32_000, BACKOFF_JITTER_ADDITIVE, 1000, 8)
    );
    assert_eq!((policy.retry_on, policy.has_deadline, policy.max_error_body_bytes), (0b1111, 0, 65_536));
    assert_eq!(backoff_policy_follow_up_boss(null_mut()), BACKOFF_ERR_NULL);
}

/// A request in each phase, as the storage holds it: begun, and reading a body.
fn phases() -> Vec<Storage> {
    let policy = preset();
    let mut begun = blank();
    assert_eq!(
        backoff_request_begin(at(&mut begun), BACKOFF_REQUEST_SIZE, &policy, 5, BACKOFF_IDEMPOTENT),
        BACKOFF_OK
    );
    let mut reading = begun;
    let headers = [header("Retry-After", "3")];
    assert_eq!(
        backoff_request_response(at(&mut reading), 503, headers.as_ptr(), 1, 6, null(), null_mut()),
        BACKOFF_OK
    );
    let body = br#"{"errorMessage":"down"#;
    assert_eq!(
        backoff_request_feed(at(&mut reading), body.as_ptr().cast(), body.len(), null_mut()),
        BACKOFF_OK
    );
    vec![begun, reading]
}

/// One call on a request's storage.
type Call<'a> = dyn Fn(*mut c_void, &mut backoff_action) -> backoff_status + 'a;

/// Every call the storage may meet next, on a copy of it; the statuses.
fn every_call(storage: &Storage) -> Vec<backoff_status> {
    let mut action = backoff_action::default();
    let mut message = [0 as c_char; BACKOFF_MESSAGE_CAPACITY + 1];
    let m = (message.as_mut_ptr(), message.len());
    let calls: [&Call<'_>; 5] = [
        &|s, _| backoff_request_response(s, 500, null(), 0, 10, null(), null_mut()),
        &|s, _| backoff_request_feed(s, b"}".as_ptr().cast(), 1, null_mut()),
        &|s, a| backoff_request_finish(s, 10, null(), null_mut(), a, m.0, m.1),
        &|s, a| backoff_request_body_failed(s, 10, null(), null_mut(), a, m.0, m.1),
        &|s, a| {
            backoff_request_transport_failure(
                s,
                10,
                BACKOFF_FAILURE_AFTER_SEND,
                null(),
                null_mut(),
                a,
                m.0,
                m.1,
            )
        },
    ];
    calls
        .iter()
        .map(|call| {
            let mut copy = *storage;
            call(at(&mut copy), &mut action)
        })
        .collect()
}

/// A changed byte anywhere in what the library wrote is refused with a code (never read as a
/// Rust value); a changed byte past it changes nothing. Under Miri every 23rd byte.
#[test]
fn a_changed_byte_is_refused_with_a_code() {
    let used = BACKOFF_REQUEST_SIZE;
    let step = if cfg!(miri) { 23 } else { 1 };
    for storage in phases() {
        let clean = every_call(&storage);
        assert!(clean.contains(&BACKOFF_OK));
        let mut unnoticed = Vec::new();
        for at in (0..used).step_by(step) {
            for flip in [0x01u8, 0x80, 0xFF] {
                let mut bad = storage;
                // SAFETY: every byte of the storage is initialised: the library writes plain
                // bytes only, and the test set the rest.
                bad[at] = MaybeUninit::new(unsafe { bad[at].assume_init() } ^ flip);
                let statuses = every_call(&bad);
                if statuses == clean {
                    unnoticed.push(at);
                    continue;
                }
                for status in statuses {
                    assert!(
                        matches!(
                            status,
                            BACKOFF_ERR_CORRUPT | BACKOFF_ERR_NOT_INITIALISED | BACKOFF_ERR_OTHER_LAYOUT
                        ),
                        "byte {at} ^ {flip:#x}: {status:?}"
                    );
                }
            }
        }
        // Only the bytes past what the library writes may change nothing: a tail, past the
        // plain fields, each byte unnoticed whatever the change.
        unnoticed.dedup();
        if let Some(&first) = unnoticed.first() {
            // 536: the header and plain fields (144 bytes) and room for the reply (392).
            assert!(first >= 536, "byte {first} went unnoticed");
            assert_eq!(
                unnoticed,
                (first..used).step_by(step).collect::<Vec<_>>(),
                "only a tail goes unnoticed"
            );
        }
    }
}

/// A copy of the storage, moved anywhere (by `memcpy`, through flash), carries on.
#[test]
fn storage_moved_mid_body_carries_on() {
    let reading = phases().remove(1);
    let mut moved = [MaybeUninit::new(0u8); BACKOFF_REQUEST_SIZE + 3];
    moved[3..].copy_from_slice(&reading);
    let at = moved[3..].as_mut_ptr().cast::<c_void>();
    let rest = br#"","code":1}"#;
    assert_eq!(backoff_request_feed(at, rest.as_ptr().cast(), rest.len(), null_mut()), BACKOFF_OK);
    let mut action = backoff_action::default();
    let mut message = [0 as c_char; BACKOFF_MESSAGE_CAPACITY + 1];
    assert_eq!(
        backoff_request_finish(at, 7, null(), null_mut(), &mut action, message.as_mut_ptr(), message.len()),
        BACKOFF_OK
    );
    assert_eq!(
        (action.kind, action.wait, action.body_kind),
        (BACKOFF_ACTION_RETRY, BACKOFF_WAIT_RETRY_AFTER, BACKOFF_BODY_ERROR_MESSAGE)
    );
    // SAFETY: NUL-terminated by the library.
    assert_eq!(unsafe { core::ffi::CStr::from_ptr(message.as_ptr()) }.to_str(), Ok("down"));
}

/// Shared storage holds the core's canonical encoding: any byte changed is a valid state or
/// `BACKOFF_ERR_CORRUPT`/`NOT_INITIALISED`/`OTHER_LAYOUT`, never anything else.
#[test]
fn a_changed_shared_byte_is_a_valid_state_or_a_code() {
    let mut shared = [0u8; BACKOFF_SHARED_SIZE];
    let options = BACKOFF_SHARED_BUDGET | BACKOFF_SHARED_BREAKER;
    assert_eq!(
        backoff_shared_init(ptr(&mut shared), BACKOFF_SHARED_SIZE, BACKOFF_PACING_SMOOTH, options),
        BACKOFF_OK
    );
    let mut action = backoff_action::default();
    let headers = [header("X-RateLimit-Context", "people"), header("X-RateLimit-Remaining", "4")];
    let mut request = [0u8; BACKOFF_REQUEST_SIZE];
    assert_eq!(
        backoff_request_begin(ptr(&mut request), BACKOFF_REQUEST_SIZE, &preset(), 0, BACKOFF_IDEMPOTENT),
        BACKOFF_OK
    );
    assert_eq!(
        backoff_shared_acquire(
            ptr(&mut shared),
            null_mut(),
            0,
            b"people".as_ptr().cast(),
            6,
            null(),
            &mut action
        ),
        BACKOFF_OK
    );
    assert_eq!(
        backoff_request_response(ptr(&mut request), 200, headers.as_ptr(), 2, 1, null(), ptr(&mut shared)),
        BACKOFF_OK
    );
    let step = if cfg!(miri) { 29 } else { 1 };
    for at in (0..BACKOFF_SHARED_SIZE).step_by(step) {
        for flip in [0x01u8, 0xFF] {
            let mut bad = shared;
            bad[at] ^= flip;
            let status = backoff_shared_acquire(
                ptr(&mut bad),
                null_mut(),
                2,
                b"people".as_ptr().cast(),
                6,
                null(),
                &mut action,
            );
            assert!(
                matches!(
                    status,
                    BACKOFF_OK | BACKOFF_ERR_CORRUPT | BACKOFF_ERR_NOT_INITIALISED | BACKOFF_ERR_OTHER_LAYOUT
                ),
                "byte {at}: {status:?}"
            );
            if status == BACKOFF_OK {
                assert!(matches!(action.kind, BACKOFF_ACTION_SEND | BACKOFF_ACTION_WAIT));
            }
        }
    }
}

/// The max hold, set from C: a `Retry-After` of an hour is believed for ten minutes by default
/// (a request asking then fails at once, `RETRY_AFTER_TOO_LONG` for the preset's ceiling), and
/// for one minute once `backoff_shared_set_max_hold` says so (the shared state alone, asked
/// after that minute, lets the next send go).
#[test]
fn the_max_hold_is_set_from_c() {
    let mut shared = [0u8; BACKOFF_SHARED_SIZE];
    let sh = ptr(&mut shared);
    assert_eq!(backoff_shared_init(sh, BACKOFF_SHARED_SIZE, BACKOFF_PACING_BURST, 0), BACKOFF_OK);
    assert_eq!(backoff_shared_set_max_hold(null_mut(), 60_000), BACKOFF_ERR_NULL);
    let mut request = [0u8; BACKOFF_REQUEST_SIZE];
    let req = ptr(&mut request);
    let policy = preset();
    let mut action = backoff_action::default();
    let told = |sh: *mut c_void, req: *mut c_void| {
        let mut action = backoff_action::default();
        assert_eq!(
            backoff_request_begin(req, BACKOFF_REQUEST_SIZE, &policy, 0, BACKOFF_IDEMPOTENT),
            BACKOFF_OK
        );
        assert_eq!(backoff_shared_acquire(sh, req, 0, null(), 0, null(), &mut action), BACKOFF_OK);
        let headers = [header("Retry-After", "3600")];
        assert_eq!(backoff_request_response(req, 429, headers.as_ptr(), 1, 0, null(), sh), BACKOFF_OK);
        assert_eq!(backoff_request_finish(req, 0, null(), sh, &mut action, null_mut(), 0), BACKOFF_OK);
        assert_eq!((action.kind, action.stop), (BACKOFF_ACTION_FAIL, BACKOFF_STOP_RETRY_AFTER_TOO_LONG));
    };
    told(sh, req);
    // Default: believed for 600 000 ms.
    assert_eq!(backoff_shared_acquire(sh, null_mut(), 60_001, null(), 0, null(), &mut action), BACKOFF_OK);
    assert_eq!((action.kind, action.at_ms), (BACKOFF_ACTION_WAIT, 3_600_000));
    assert_eq!(backoff_shared_acquire(sh, null_mut(), 600_001, null(), 0, null(), &mut action), BACKOFF_OK);
    assert_eq!(action.kind, BACKOFF_ACTION_SEND);

    assert_eq!(backoff_shared_init(sh, BACKOFF_SHARED_SIZE, BACKOFF_PACING_BURST, 0), BACKOFF_OK);
    assert_eq!(backoff_shared_set_max_hold(sh, 60_000), BACKOFF_OK);
    told(sh, req);
    assert_eq!(backoff_shared_acquire(sh, null_mut(), 59_999, null(), 0, null(), &mut action), BACKOFF_OK);
    assert_eq!(action.kind, BACKOFF_ACTION_WAIT);
    assert_eq!(backoff_shared_acquire(sh, null_mut(), 60_001, null(), 0, null(), &mut action), BACKOFF_OK);
    assert_eq!(action.kind, BACKOFF_ACTION_SEND);
}
