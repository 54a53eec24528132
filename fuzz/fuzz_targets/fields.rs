//! The IETF `RateLimit` / `RateLimit-Policy` structured-field parser and every dialect's header
//! reader on arbitrary bytes. Invariants: no panic; what the parser accepts, it accepts again
//! byte for byte (deterministic); a field's two identical lines are one list of twice the items
//! (RFC 9110 §5.3), malformed only where the line is or is blank; every dialect reads the same
//! headers the same way twice.
#![no_main]

use backoff_core::{dialect, Dialect};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut first = Vec::new();
    let ok = dialect::parse_list(data, &mut |item| first.push(item));
    let mut again = Vec::new();
    assert_eq!(dialect::parse_list(data, &mut |item| again.push(item)), ok);
    assert_eq!(first, again);
    let mut twice = Vec::new();
    let ok_twice = dialect::parse_lines(&[data, data], &mut |item| twice.push(item));
    let blank = data.iter().all(|&b| b == b' ');
    assert_eq!(ok_twice, ok && !blank);
    if ok_twice {
        assert_eq!(twice, [first.as_slice(), first.as_slice()].concat());
    }
    for d in [Dialect::IETF_DRAFT_11, Dialect::GITHUB, Dialect::DISCORD, Dialect::FOLLOW_UP_BOSS] {
        let headers = [
            (&b"RateLimit"[..], data),
            (b"RateLimit-Policy", data),
            (b"x-ratelimit-reset", data),
            (b"X-RateLimit-Reset-After", data),
            (b"Date", b"Wed, 09 Aug 2023 13:29:23 GMT"),
        ];
        assert_eq!(d.read(&headers), d.read(&headers));
    }
});
