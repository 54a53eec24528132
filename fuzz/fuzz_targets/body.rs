//! The error-body parser on arbitrary bytes, split at arbitrary points.
//!
//! Invariants, not just "no crash":
//! - any split into chunks gives the same answer as the whole body;
//! - text fits the buffer, and a raw prefix has no control characters;
//! - when serde_json accepts the body, the parser does too and finds the same message;
//! - when serde_json rejects it, the parser finds no message, unless the body has one of the
//!   cases RFC 8259 leaves to the parser (lone surrogate, invalid UTF-8, BOM, numbers beyond
//!   f64's range, which serde_json refuses);
//! - the pushback fields (every `BodyFields`) read the same in chunks as whole; from a body
//!   serde_json reads as an object, they are its last `global`, its last `retry_after` within
//!   a millisecond of its `f64` (which rounds), a minute at least if its last `message` says
//!   `secondary rate limit`; from any other, nothing.
#![no_main]

use backoff_core::{Body, BodyFields, BodyKind, BodyParser, BodyWait};
use libfuzzer_sys::fuzz_target;

const N: usize = 64;

fuzz_target!(|input: &[u8]| {
    let (cuts, body) = match input.split_first() {
        Some((&k, rest)) => (usize::from(k % 8), rest),
        None => (0, input),
    };
    let whole = Body::<N>::parse(body);

    // Chunked equals whole: cut at positions derived from the body itself.
    let parser = fed_in_cuts(BodyParser::<N>::new(), body, cuts);
    assert_eq!(parser.finish(), whole);

    // The pushback fields, whole and in the same chunks.
    const EVERY: BodyFields = BodyFields { retry_after: true, global: true, secondary_limit: true };
    let mut told_whole = BodyParser::<N>::reading(EVERY);
    told_whole.feed(body);
    let told = told_whole.pushback();
    assert_eq!(told_whole.finish(), whole, "reading the pushback fields changed the answer");
    let parser = fed_in_cuts(BodyParser::<N>::reading(EVERY), body, cuts);
    assert_eq!(parser.pushback(), told, "chunks read the pushback fields otherwise");

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
            check_pushback(&object, told);
        }
        Ok(_) => {
            assert_eq!(big.kind(), BodyKind::NotJson);
            assert_eq!(told, BodyWait::NONE);
        }
        // serde_json refuses numbers beyond f64's range, which the grammar allows.
        Err(e) if e.to_string().starts_with("number out of range") => {}
        Err(_) => {
            if big.message().is_some() {
                assert!(lenient(body), "message from a body serde_json rejects");
            }
        }
    }
});

/// The pushback fields against serde_json's reading of the same object.
fn check_pushback(object: &serde_json::Map<String, serde_json::Value>, told: BodyWait) {
    assert_eq!(told.global, object.get("global") == Some(&serde_json::Value::Bool(true)), "global");
    let secondary = object
        .get("message")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|m| m.to_ascii_lowercase().contains("secondary rate limit"));
    // `f64` milliseconds, where they are exact enough to compare (below 2^50).
    let seconds = object.get("retry_after").and_then(serde_json::Value::as_f64);
    match (seconds, told.wait_ms) {
        (None, wait) => {
            assert_eq!(wait, secondary.then_some(BodyFields::SECONDARY_LIMIT_WAIT_MS), "no retry_after")
        }
        (Some(s), wait) if s < 0.0 && s * 1000.0 <= -1.0 => {
            assert_eq!(wait, secondary.then_some(BodyFields::SECONDARY_LIMIT_WAIT_MS), "negative retry_after")
        }
        (Some(s), Some(ms)) if s >= 0.0 && s * 1000.0 < 1e15 => {
            let want = (s * 1000.0).ceil();
            let floor = if secondary { BodyFields::SECONDARY_LIMIT_WAIT_MS as f64 } else { 0.0 };
            let ms = ms as f64;
            assert!((ms - want.max(floor)).abs() <= 1.0, "retry_after {s} read as {ms} ms");
        }
        (Some(s), Some(ms)) if s * 1000.0 >= 1e15 => assert!(ms as f64 >= 1e15 * 0.999, "{s} read as {ms}"),
        (Some(_), Some(_)) => {}
        (Some(s), None) => assert!(s < 0.0, "retry_after {s} not read"),
    }
}

fn lenient(body: &[u8]) -> bool {
    if std::str::from_utf8(body).is_err() || body.starts_with(b"\xEF\xBB\xBF") {
        return true;
    }
    let lower = String::from_utf8_lossy(body).to_ascii_lowercase();
    ["\\ud8", "\\ud9", "\\uda", "\\udb", "\\udc", "\\udd", "\\ude", "\\udf"].iter().any(|s| lower.contains(s))
}

/// `parser` fed `body` in `cuts` pieces cut at positions derived from the body itself, then the
/// rest.
fn fed_in_cuts<const N: usize>(mut parser: BodyParser<N>, body: &[u8], cuts: usize) -> BodyParser<N> {
    let mut from = 0;
    for i in 0..cuts {
        let to = (from + 1 + body.get(i).copied().unwrap_or(0) as usize % 17).min(body.len());
        parser.feed(&body[from..to]);
        from = to;
    }
    parser.feed(&body[from..]);
    parser
}
