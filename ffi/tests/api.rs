//! The C functions called from Rust as C would call them: the lifecycle and every misuse
//! code. Runs under Miri too (`cargo +nightly miri test -p backoff-core-ffi`), which checks
//! every pointer the library turns into a reference.

use core::ffi::c_void;

use backoff_core_ffi::*;

#[repr(C, align(8))]
struct Storage<const N: usize>([u8; N]);

extern "C" fn counter(context: *mut c_void, out: *mut u32) -> bool {
    // SAFETY: the tests pass a `*mut u32` as the context and the library a valid `out`.
    unsafe {
        let state = &mut *context.cast::<u32>();
        *state = state.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
        *out = *state;
    }
    true
}

fn header(name: &'static str, value: &'static str) -> backoff_header {
    backoff_header {
        name: name.as_ptr(),
        name_len: name.len(),
        value: value.as_ptr(),
        value_len: value.len(),
    }
}

#[test]
fn a_429_then_a_400_in_chunks_then_misuse() {
    let mut request = Storage([0u8; BACKOFF_REQUEST_SIZE]);
    let mut shared = Storage([0u8; BACKOFF_SHARED_SIZE]);
    let req = request.0.as_mut_ptr().cast::<c_void>();
    let sh = shared.0.as_mut_ptr().cast::<c_void>();
    let mut state = 7u32;
    let rng = backoff_rng { next_u32: Some(counter), context: (&mut state as *mut u32).cast() };
    let mut policy = std::mem::MaybeUninit::<backoff_policy>::uninit();
    assert_eq!(backoff_policy_follow_up_boss(policy.as_mut_ptr()), backoff_status::BACKOFF_OK);
    // SAFETY: just written whole.
    let policy = unsafe { policy.assume_init() };
    assert_eq!(
        backoff_shared_init(sh, BACKOFF_SHARED_SIZE, BACKOFF_PACING_BURST, true),
        backoff_status::BACKOFF_OK
    );
    assert_eq!(
        backoff_request_begin(req, BACKOFF_REQUEST_SIZE, &policy, 100, false),
        backoff_status::BACKOFF_OK
    );

    let headers = [header("Retry-After", "2"), header("X-RateLimit-Context", "events")];
    assert_eq!(backoff_request_response(req, 429, headers.as_ptr(), 2, 100, sh), backoff_status::BACKOFF_OK);
    let mut action = backoff_action::default();
    let mut message = [0 as core::ffi::c_char; BACKOFF_MESSAGE_CAPACITY + 1];
    let status = backoff_request_finish(req, 100, &rng, sh, &mut action, message.as_mut_ptr(), message.len());
    assert_eq!(status, backoff_status::BACKOFF_OK);
    assert_eq!((action.kind, action.wait), (BACKOFF_ACTION_RETRY, BACKOFF_WAIT_RETRY_AFTER));
    assert!((2000..=3000).contains(&action.delay_ms));
    let mut until = 0u64;
    let events = b"events";
    assert_eq!(backoff_shared_acquire(sh, 101, events.as_ptr(), 6, &mut until), backoff_status::BACKOFF_OK);
    assert_eq!(until, 2_100);

    let body = br#"{"errorMessage":"Invalid fields in the request body: emails."}"#;
    assert_eq!(
        backoff_request_response(req, 400, core::ptr::null(), 0, action.at_ms, sh),
        backoff_status::BACKOFF_OK
    );
    for chunk in body.chunks(16) {
        let mut decided = true;
        assert_eq!(
            backoff_request_feed(req, chunk.as_ptr(), chunk.len(), &mut decided),
            backoff_status::BACKOFF_OK
        );
        assert!(!decided);
    }
    let status =
        backoff_request_finish(req, action.at_ms, &rng, sh, &mut action, message.as_mut_ptr(), message.len());
    assert_eq!(status, backoff_status::BACKOFF_OK);
    assert_eq!((action.kind, action.stop, action.attempts), (BACKOFF_ACTION_FAIL, BACKOFF_STOP_PERMANENT, 2));
    // SAFETY: the library wrote a NUL-terminated string into `message`.
    let text = unsafe { core::ffi::CStr::from_ptr(message.as_ptr()) };
    assert_eq!(text.to_str(), Ok("Invalid fields in the request body: emails."));
    assert_eq!(action.message_len, 43);

    // Misuse.
    assert_eq!(
        backoff_request_feed(req, body.as_ptr(), 1, core::ptr::null_mut()),
        backoff_status::BACKOFF_ERR_ENDED
    );
    assert_eq!(
        backoff_request_begin(core::ptr::null_mut(), BACKOFF_REQUEST_SIZE, &policy, 0, true),
        backoff_status::BACKOFF_ERR_NULL
    );
    assert_eq!(
        backoff_request_begin(req, 8, &policy, 0, true),
        backoff_status::BACKOFF_ERR_STORAGE_TOO_SMALL
    );
    let mut big = Storage([0u8; BACKOFF_REQUEST_SIZE + 8]);
    let odd = big.0[1..].as_mut_ptr().cast::<c_void>();
    assert_eq!(
        backoff_request_begin(odd, BACKOFF_REQUEST_SIZE, &policy, 0, true),
        backoff_status::BACKOFF_ERR_STORAGE_MISALIGNED
    );
    let blank = big.0.as_mut_ptr().cast::<c_void>();
    assert_eq!(
        backoff_request_feed(blank, body.as_ptr(), 1, core::ptr::null_mut()),
        backoff_status::BACKOFF_ERR_NOT_INITIALISED
    );
    assert_eq!(
        backoff_request_begin(req, BACKOFF_REQUEST_SIZE, &policy, 0, true),
        backoff_status::BACKOFF_OK
    );
    assert_eq!(
        backoff_request_feed(req, body.as_ptr(), 1, core::ptr::null_mut()),
        backoff_status::BACKOFF_ERR_WRONG_PHASE
    );
    assert_eq!(
        backoff_request_response(req, 503, core::ptr::null(), 0, 0, core::ptr::null_mut()),
        backoff_status::BACKOFF_OK
    );
    assert_eq!(
        backoff_request_finish(req, 0, &rng, core::ptr::null_mut(), &mut action, message.as_mut_ptr(), 8),
        backoff_status::BACKOFF_ERR_BUFFER_TOO_SMALL
    );
    let bad = backoff_policy { jitter: 42, ..policy };
    assert_eq!(
        backoff_request_begin(req, BACKOFF_REQUEST_SIZE, &bad, 0, true),
        backoff_status::BACKOFF_ERR_INVALID_ARGUMENT
    );
    let bad = backoff_policy { retry_on: 1 << 9, ..policy };
    assert_eq!(
        backoff_request_begin(req, BACKOFF_REQUEST_SIZE, &bad, 0, true),
        backoff_status::BACKOFF_ERR_INVALID_ARGUMENT
    );
}

#[test]
fn the_policy_round_trips_through_c_fields() {
    let mut policy = std::mem::MaybeUninit::<backoff_policy>::uninit();
    assert_eq!(backoff_policy_follow_up_boss(policy.as_mut_ptr()), backoff_status::BACKOFF_OK);
    // SAFETY: just written whole.
    let policy = unsafe { policy.assume_init() };
    assert_eq!(
        (policy.base_ms, policy.max_backoff_ms, policy.jitter, policy.jitter_max_ms, policy.max_retries),
        (1000, 32_000, BACKOFF_JITTER_ADDITIVE, 1000, 8)
    );
    assert_eq!(policy.retry_on, 0b1111);
    assert!(!policy.has_deadline);
    assert_eq!(backoff_policy_follow_up_boss(core::ptr::null_mut()), backoff_status::BACKOFF_ERR_NULL);
}
