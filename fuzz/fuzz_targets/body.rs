//! The error-body parser on arbitrary bytes, split at arbitrary points.
//!
//! Invariants, not just "no crash":
//! - any split into chunks gives the same answer as the whole body;
//! - text fits the buffer, and a raw prefix has no control characters;
//! - when serde_json accepts the body, the parser does too and finds the same message;
//! - when serde_json rejects it, the parser finds no message, unless the body has one of the
//!   cases RFC 8259 leaves to the parser (lone surrogate, invalid UTF-8, BOM, numbers beyond
//!   f64's range, which serde_json refuses).
#![no_main]

use backoff_core::{Body, BodyKind, BodyParser};
use libfuzzer_sys::fuzz_target;

const N: usize = 64;

fuzz_target!(|input: &[u8]| {
    let (cuts, body) = match input.split_first() {
        Some((&k, rest)) => (usize::from(k % 8), rest),
        None => (0, input),
    };
    let whole = Body::<N>::parse(body);

    // Chunked equals whole: cut at positions derived from the body itself.
    let mut parser = BodyParser::<N>::new();
    let mut from = 0;
    for i in 0..cuts {
        let to = (from + 1 + body.get(i).copied().unwrap_or(0) as usize % 17).min(body.len());
        parser.feed(&body[from..to]);
        from = to;
    }
    parser.feed(&body[from..]);
    assert_eq!(parser.finish(), whole);

    if let Some(m) = whole.message() {
        assert!(m.len() <= N);
    }
    if let Some(raw) = whole.raw_text() {
        assert!(raw.len() <= N && !raw.chars().any(char::is_control));
    }

    // Differential against serde_json, with a buffer large enough for any message.
    let big = Body::<65536>::parse(body);
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(object)) => {
            let expected = match object.get("errorMessage").or_else(|| object.get("error")) {
                Some(v) => v.as_str(),
                None => None,
            };
            assert_eq!(big.message(), expected, "serde_json disagrees");
        }
        Ok(_) => assert_eq!(big.kind(), BodyKind::NotJson),
        // serde_json refuses numbers beyond f64's range, which the grammar allows.
        Err(e) if e.to_string().starts_with("number out of range") => {}
        Err(_) => {
            if big.message().is_some() {
                assert!(lenient(body), "message from a body serde_json rejects");
            }
        }
    }
});

fn lenient(body: &[u8]) -> bool {
    if std::str::from_utf8(body).is_err() || body.starts_with(b"\xEF\xBB\xBF") {
        return true;
    }
    let lower = String::from_utf8_lossy(body).to_ascii_lowercase();
    ["\\ud8", "\\ud9", "\\uda", "\\udb", "\\udc", "\\udd", "\\ude", "\\udf"].iter().any(|s| lower.contains(s))
}
