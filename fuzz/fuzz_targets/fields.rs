//! The IETF `RateLimit` / `RateLimit-Policy` structured-field parser and every dialect's header
//! reader on arbitrary bytes. Invariants: no panic; a reset is never longer than the dialect's
//! maximum; what the parser accepts, it accepts again byte for byte (deterministic).
#![no_main]

use backoff_core::{dialect, Dialect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut first = Vec::new();
    let ok = dialect::parse_list(data, &mut |item| first.push(item));
    let mut again = Vec::new();
    assert_eq!(dialect::parse_list(data, &mut |item| again.push(item)), ok);
    assert_eq!(first, again);
    for d in [Dialect::IETF_DRAFT_11, Dialect::GITHUB, Dialect::DISCORD, Dialect::FOLLOW_UP_BOSS] {
        let headers = [
            (&b"RateLimit"[..], data),
            (b"RateLimit-Policy", data),
            (b"x-ratelimit-reset", data),
            (b"X-RateLimit-Reset-After", data),
            (b"Date", b"Wed, 09 Aug 2023 13:29:23 GMT"),
        ];
        let seen = d.read(&headers);
        assert!(seen.reset_ms.is_none_or(|ms| ms <= u64::from(d.max_reset_ms)));
    }
});
