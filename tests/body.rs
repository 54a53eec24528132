//! The error-body parser, byte by byte and split by split, and against `serde_json`.

use backoff_core::{Body, BodyFields, BodyKind, BodyParser, BodyWait, Progress};
use proptest::prelude::*;

fn parse<const N: usize>(body: &[u8]) -> Body<N> {
    Body::parse(body)
}

/// Parses `body` cut at every position into two chunks, and in one-byte chunks, and checks
/// that every cut gives the same answer as the whole.
fn parse_every_split<const N: usize>(body: &[u8]) -> Body<N> {
    let whole = parse::<N>(body);
    for cut in 0..=body.len() {
        let mut p = BodyParser::<N>::new();
        p.feed(&body[..cut]);
        p.feed(&body[cut..]);
        assert_eq!(p.finish(), whole, "split at {cut} of {:?}", String::from_utf8_lossy(body));
    }
    let mut p = BodyParser::<N>::new();
    for b in body {
        p.feed(core::slice::from_ref(b));
    }
    assert_eq!(p.finish(), whole, "one byte at a time");
    whole
}

fn message(body: &[u8]) -> Option<String> {
    parse_every_split::<256>(body).message().map(str::to_owned)
}

fn kind(body: &[u8]) -> BodyKind {
    parse_every_split::<256>(body).kind()
}

#[test]
fn every_escape_is_unescaped() {
    let body = br#"{"errorMessage":"q\" b\\ s\/ \b\f\n\r\t u\u0041\u00e9\u20AC"}"#;
    assert_eq!(message(body).as_deref(), Some("q\" b\\ s/ \u{8}\u{c}\n\r\t uAé€"));
}

#[test]
fn surrogate_pairs_join_and_lone_surrogates_become_replacement_characters() {
    assert_eq!(message(br#"{"errorMessage":"\ud83d\ude00"}"#).as_deref(), Some("😀"));
    assert_eq!(message(br#"{"errorMessage":"\uD83D\uDE00!"}"#).as_deref(), Some("😀!"));
    assert_eq!(message(br#"{"errorMessage":"a\ud800b"}"#).as_deref(), Some("a\u{FFFD}b"));
    assert_eq!(message(br#"{"errorMessage":"a\udc00b"}"#).as_deref(), Some("a\u{FFFD}b"));
    assert_eq!(message(br#"{"errorMessage":"\ud800"}"#).as_deref(), Some("\u{FFFD}"));
    assert_eq!(message(br#"{"errorMessage":"\ud800\ud800\udc00"}"#).as_deref(), Some("\u{FFFD}𐀀"));
    assert_eq!(message(br#"{"errorMessage":"\ud800\n"}"#).as_deref(), Some("\u{FFFD}\n"));
    assert_eq!(message(br#"{"errorMessage":"\ud800\u0041"}"#).as_deref(), Some("\u{FFFD}A"));
}

#[test]
fn bad_escapes_make_the_body_invalid() {
    for body in
        [&br#"{"errorMessage":"\x"}"#[..], br#"{"errorMessage":"\u12"}"#, br#"{"errorMessage":"\u12G4"}"#]
    {
        assert_eq!(kind(body), BodyKind::Invalid, "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn invalid_utf8_inside_the_message_becomes_replacement_characters() {
    assert_eq!(message(b"{\"errorMessage\":\"a\xFFb\xC3\"}").as_deref(), Some("a\u{FFFD}b\u{FFFD}"));
    assert_eq!(message(b"{\"errorMessage\":\"\xF0\x9F\x98\"}").as_deref(), Some("\u{FFFD}"));
    assert_eq!(message(b"{\"errorMessage\":\"\xED\xA0\x80\"}").as_deref(), Some("\u{FFFD}\u{FFFD}\u{FFFD}"));
}

#[test]
fn control_characters_inside_strings_make_the_body_invalid() {
    assert_eq!(kind(b"{\"errorMessage\":\"a\nb\"}"), BodyKind::Invalid);
    assert_eq!(kind(b"{\"other\":\"\x01\",\"errorMessage\":\"x\"}"), BodyKind::Invalid);
}

#[test]
fn truncation_cuts_at_a_char_boundary_and_says_so() {
    // "é" is two bytes: with room for 5 bytes, "abcdé" would need 6.
    let body = r#"{"errorMessage":"abcdéf"}"#.as_bytes();
    let b = parse_every_split::<5>(body);
    assert_eq!(b.message(), Some("abcd"));
    assert!(b.is_truncated());
    let b = parse_every_split::<6>(body);
    assert_eq!(b.message(), Some("abcdé"));
    assert!(b.is_truncated());
    let b = parse_every_split::<7>(body);
    assert_eq!(b.message(), Some("abcdéf"));
    assert!(!b.is_truncated());
    let emoji = r#"{"errorMessage":"\ud83d\ude00😀"}"#.as_bytes();
    assert_eq!(parse_every_split::<7>(emoji).message(), Some("😀"));
    assert_eq!(parse_every_split::<3>(emoji).message(), Some(""));
    assert!(parse_every_split::<3>(emoji).is_truncated());
    assert_eq!(parse_every_split::<0>(br#"{"errorMessage":"x"}"#).message(), Some(""));
}

#[test]
fn a_leading_bom_and_whitespace_are_skipped() {
    assert_eq!(message(b"\xEF\xBB\xBF {\"errorMessage\":\"x\"}").as_deref(), Some("x"));
    assert_eq!(message(b" \t\r\n{ \"errorMessage\" : \"x\" } \n").as_deref(), Some("x"));
    // A BOM is only a BOM at the very start.
    assert_eq!(kind(b" \xEF\xBB\xBF{\"errorMessage\":\"x\"}"), BodyKind::NotJson);
    assert_eq!(kind(b"\xEF\xBB\xBF"), BodyKind::Empty);
    assert_eq!(kind(b"\xEF\xBB"), BodyKind::NotJson);
}

#[test]
fn a_cut_bom_gives_back_exactly_the_bytes_it_took() {
    let raw = |body: &[u8]| parse_every_split::<64>(body).raw_text().map(str::to_owned);
    // EF BB then a continuation byte that is not BF: the three bytes are U+FEFE.
    assert_eq!(raw(b"\xEF\xBB\xBEok").as_deref(), Some("\u{FEFE}ok"));
    // EF then BF BD: not a BOM, and the three bytes are U+FFFD itself.
    assert_eq!(raw(b"\xEF\xBF\xBDok").as_deref(), Some("\u{FFFD}ok"));
    // EF then a byte that cannot continue it: one replacement character, then the byte.
    assert_eq!(raw(b"\xEFok").as_deref(), Some("\u{FFFD}ok"));
    // A BOM cut by the body's end: one replacement character for what came of it.
    assert_eq!(raw(b"\xEF").as_deref(), Some("\u{FFFD}"));
    assert_eq!(raw(b"\xEF\xBB").as_deref(), Some("\u{FFFD}"));
}

#[test]
fn numbers_that_start_with_zero_are_values() {
    for body in [
        &br#"{"a":0,"errorMessage":"m"}"#[..],
        br#"{"a":-0,"errorMessage":"m"}"#,
        br#"{"a":[0,-0,0.5,-0.5,0e1,-0E-1],"errorMessage":"m"}"#,
        br#"{"errorMessage":"m","a":0}"#,
    ] {
        assert_eq!(message(body).as_deref(), Some("m"), "{}", String::from_utf8_lossy(body));
    }
    for body in [&br#"{"a":01}"#[..], br#"{"a":-}"#, br#"{"a":-01}"#, br#"{"a":0.}"#] {
        assert_eq!(kind(body), BodyKind::Invalid, "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn sibling_containers_at_the_same_depth_each_know_what_they_are() {
    // The second object at depth 2 takes the place the first one had: once its array closes,
    // it must still be an object (a key follows), and the array after it an array.
    for body in [
        &br#"{"a":{"x":1},"b":{"c":[1],"d":2},"errorMessage":"m"}"#[..],
        br#"{"a":[1],"b":{"c":[1],"d":2},"errorMessage":"m"}"#,
        br#"{"a":{"x":{"y":1}},"b":[{"c":[1],"d":2},[3]],"errorMessage":"m"}"#,
    ] {
        assert_eq!(message(body).as_deref(), Some("m"), "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn a_container_closed_by_the_other_bracket_is_invalid() {
    for body in [
        &br#"{"a":[1}"#[..],
        br#"{"a":{"b":1]}"#,
        br#"{"a":[}"#,
        br#"{"a":{]}"#,
        br#"{"a":1]"#,
        br#"{"a":[[1],{"b":[2}]}"#,
        // Containers opened inside nested ones, closed by the other bracket or holding a
        // value where a key belongs.
        br#"{"a":[[}]}"#,
        br#"{"a":[{]}]}"#,
        br#"{"a":[{1}]}"#,
        br#"{"a":{"b":[{]}}}"#,
    ] {
        assert_eq!(kind(body), BodyKind::Invalid, "{}", String::from_utf8_lossy(body));
    }
}

#[test]
fn the_last_error_message_wins_and_error_is_only_a_fallback() {
    assert_eq!(message(br#"{"errorMessage":"a","errorMessage":"b"}"#).as_deref(), Some("b"));
    assert_eq!(kind(br#"{"errorMessage":"a","errorMessage":null}"#), BodyKind::NoMessage);
    assert_eq!(message(br#"{"errorMessage":null,"errorMessage":"b"}"#).as_deref(), Some("b"));
    assert_eq!(message(br#"{"error":"e"}"#).as_deref(), Some("e"));
    assert_eq!(kind(br#"{"error":"e"}"#), BodyKind::Error);
    assert_eq!(message(br#"{"error":"e","errorMessage":"m"}"#).as_deref(), Some("m"));
    assert_eq!(message(br#"{"errorMessage":"m","error":"e"}"#).as_deref(), Some("m"));
    assert_eq!(kind(br#"{"errorMessage":5,"error":"e"}"#), BodyKind::NoMessage);
    assert_eq!(message(br#"{"error":"a","error":"b"}"#).as_deref(), Some("b"));
}

#[test]
fn an_error_message_that_is_not_a_string_is_no_message() {
    for value in ["1", "-2.5e3", "null", "true", "false", "{}", "{\"errorMessage\":\"x\"}", "[]", "[\"x\"]"] {
        let body = format!(r#"{{"errorMessage":{value}}}"#);
        assert_eq!(kind(body.as_bytes()), BodyKind::NoMessage, "{body}");
    }
}

#[test]
fn nested_error_messages_are_not_the_message() {
    assert_eq!(kind(br#"{"data":{"errorMessage":"x"}}"#), BodyKind::NoMessage);
    assert_eq!(kind(br#"{"data":[{"errorMessage":"x"}]}"#), BodyKind::NoMessage);
    assert_eq!(kind(br#"[{"errorMessage":"x"}]"#), BodyKind::NotJson);
    assert_eq!(
        message(br#"{"data":{"errorMessage":"x","a":[1,{"b":"c"}]},"errorMessage":"top"}"#).as_deref(),
        Some("top")
    );
}

#[test]
fn keys_are_compared_after_unescaping() {
    assert_eq!(message(br#"{"error\u004dessage":"x"}"#).as_deref(), Some("x"));
    assert_eq!(message(br#"{"\u0065rrorMessage":"x"}"#).as_deref(), Some("x"));
    assert_eq!(kind(br#"{"errormessage":"x"}"#), BodyKind::NoMessage);
    assert_eq!(kind(br#"{"errorMessageX":"x"}"#), BodyKind::NoMessage);
    assert_eq!(kind(br#"{"errorMessage\u0000":"x"}"#), BodyKind::NoMessage);
}

#[test]
fn deep_nesting_is_accepted_up_to_the_limit_and_refused_beyond() {
    let nest = |levels: usize| {
        let inner = levels - 1;
        format!(r#"{{"errorMessage":"x","d":{}1{}}}"#, "[".repeat(inner), "]".repeat(inner))
    };
    assert_eq!(message(nest(usize::from(BodyParser::<0>::MAX_DEPTH)).as_bytes()).as_deref(), Some("x"));
    assert_eq!(kind(nest(usize::from(BodyParser::<0>::MAX_DEPTH) + 1).as_bytes()), BodyKind::Invalid);
    assert!(serde_json::from_str::<serde_json::Value>(&nest(usize::from(BodyParser::<0>::MAX_DEPTH))).is_ok());
    assert!(serde_json::from_str::<serde_json::Value>(&nest(usize::from(BodyParser::<0>::MAX_DEPTH) + 1))
        .is_err());
    let deep = format!("{{\"d\":{}", "[".repeat(100_000));
    assert_eq!(parse::<16>(deep.as_bytes()).kind(), BodyKind::Invalid);
    let mut p = BodyParser::<16>::new();
    assert_eq!(p.feed(deep.as_bytes()), Progress::Decided);
}

#[test]
fn ten_mebibytes_of_whitespace_is_an_empty_body() {
    let spaces = vec![b' '; 10 << 20];
    let mut p = BodyParser::<16>::new();
    for chunk in spaces.chunks(4096) {
        assert_eq!(p.feed(chunk), Progress::Reading);
    }
    assert_eq!(p.finish().kind(), BodyKind::Empty);
    let mut big = b"{\"errorMessage\":\"x\"".to_vec();
    big.extend_from_slice(&spaces);
    big.push(b'}');
    assert_eq!(parse::<16>(&big).message(), Some("x"));
}

#[test]
fn bodies_cut_off_anywhere_are_truncated_not_guessed() {
    let body = br#"{"errorMessage":"a\"b\u00e9\ud83d\ude00c","n":-1.5e+3,"t":[true,false,null]}"#;
    for cut in 1..body.len() {
        let b = parse::<64>(&body[..cut]);
        assert_eq!(b.kind(), BodyKind::Truncated, "cut at {cut}");
        assert_eq!(b.message(), None);
    }
    assert_eq!(parse::<64>(body).kind(), BodyKind::ErrorMessage);
}

#[test]
fn broken_json_yields_no_message() {
    for body in [
        &br#"{"errorMessage":"x",}"#[..],
        br#"{"errorMessage":"x"}}"#,
        br#"{"errorMessage":"x"} x"#,
        br#"{"errorMessage" "x"}"#,
        br#"{"errorMessage":"x","a":01}"#,
        br#"{"errorMessage":"x","a":1.}"#,
        br#"{"errorMessage":"x","a":-}"#,
        br#"{"errorMessage":"x","a":tru}"#,
        br#"{"errorMessage":"x","a":[1,]}"#,
        br#"{"errorMessage":"x","a":[}"#,
        br#"{"errorMessage":'x'}"#,
        br#"{errorMessage:"x"}"#,
        b"{\"errorMessage\":\"x\"}\x00",
    ] {
        let b = parse_every_split::<64>(body);
        assert_eq!(b.kind(), BodyKind::Invalid, "{}", String::from_utf8_lossy(body));
        assert_eq!(b.message(), None);
    }
}

#[test]
fn bodies_that_are_not_json_keep_a_printable_prefix() {
    let html = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\x01\xFF</body></html>";
    let b = parse_every_split::<128>(html);
    assert_eq!(b.kind(), BodyKind::NotJson);
    assert_eq!(
        b.raw_text(),
        Some("<html> <head><title>502 Bad Gateway</title></head> <body>\u{FFFD}\u{FFFD}</body></html>")
    );
    assert_eq!(b.message(), None);
    let short = parse_every_split::<16>(html);
    assert_eq!(short.raw_text(), Some("<html> <head><ti"));
    assert!(short.is_truncated());
    assert_eq!(kind(b"Service Unavailable"), BodyKind::NotJson);
    assert_eq!(kind(b"  \n"), BodyKind::Empty);
    assert_eq!(kind(b""), BodyKind::Empty);
    assert_eq!(kind(b"\"errorMessage\""), BodyKind::NotJson);
    // Once the prefix is full nothing more is read.
    let mut p = BodyParser::<4>::new();
    assert_eq!(p.feed(b"<html>"), Progress::Decided);
}

// ---- differential against serde_json ----

/// The message serde_json finds, under this crate's documented rule: the top-level object's
/// `errorMessage` if present (a string, or no message), else its `error` string.
///
/// `Err(true)` when serde_json refused the body for a limit of its own rather than the grammar:
/// a number beyond `f64`'s range, which RFC 8259 §9 lets a parser refuse and this one accepts.
fn reference(body: &[u8]) -> Result<Option<String>, bool> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| e.to_string().starts_with("number out of range"))?;
    let Some(object) = value.as_object() else { return Err(false) };
    let pick = match object.get("errorMessage") {
        Some(v) => v,
        None => match object.get("error") {
            Some(v) => v,
            None => return Ok(None),
        },
    };
    Ok(pick.as_str().map(str::to_owned))
}

fn json_leaf() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        (-1e6f64..1e6).prop_map(serde_json::Value::from),
        "[ -~]{0,12}".prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("You have exceeded a Secondary Rate Limit.")),
        (0u64..100_000, 0u32..4)
            .prop_map(|(n, scale)| serde_json::Value::from(n as f64 / 10f64.powi(scale as i32))),
    ]
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    json_leaf().prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::from),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| serde_json::Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("errorMessage".to_owned()),
        Just("error".to_owned()),
        Just("data".to_owned()),
        Just("retry_after".to_owned()),
        Just("global".to_owned()),
        Just("message".to_owned()),
        "[a-zA-Z]{0,6}"
    ]
}

/// A top-level object, written out with random whitespace and random escaping of ASCII.
fn json_object_text() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec((key(), json_value()), 0..6), any::<u64>()).prop_map(|(fields, seed)| {
        let mut out = String::from("{");
        let mut s = seed;
        let mut coin = move || {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 33) % 4
        };
        for (i, (k, v)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            if coin() == 0 {
                out.push_str(" \n");
            }
            out.push_str(&escape_randomly(k, &mut coin));
            out.push(':');
            match v {
                serde_json::Value::String(text) => out.push_str(&escape_randomly(text, &mut coin)),
                other => out.push_str(&other.to_string()),
            }
        }
        out.push('}');
        out.into_bytes()
    })
}

fn escape_randomly(s: &str, coin: &mut impl FnMut() -> u64) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if coin() == 0 => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{:04X}", u));
                }
            }
            '/' if coin() == 1 => out.push_str("\\/"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether the body has what RFC 8259 leaves to the parser (a lone surrogate escape, invalid
/// UTF-8, a BOM): there serde_json refuses and this parser is lenient on purpose.
fn has_lenient_case(body: &[u8]) -> bool {
    if std::str::from_utf8(body).is_err() || body.starts_with(b"\xEF\xBB\xBF") {
        return true;
    }
    let text = String::from_utf8_lossy(body).to_ascii_lowercase();
    text.contains("\\ud8")
        || text.contains("\\ud9")
        || text.contains("\\uda")
        || text.contains("\\udb")
        || text.contains("\\udc")
        || text.contains("\\udd")
        || text.contains("\\ude")
        || text.contains("\\udf")
}

fn check_against_serde(body: &[u8]) -> Result<(), TestCaseError> {
    let ours = parse::<4096>(body);
    match reference(body) {
        Ok(expected) => {
            prop_assert_eq!(
                ours.message().map(str::to_owned),
                expected,
                "{:?}",
                String::from_utf8_lossy(body)
            );
            prop_assert!(!ours.is_truncated());
        }
        Err(false) if !has_lenient_case(body) => {
            prop_assert_eq!(ours.message(), None, "serde_json rejects {:?}", String::from_utf8_lossy(body));
        }
        Err(_) => {}
    }
    Ok(())
}

const JSON_BYTES: &[u8] = b"{}[]\",:\\ 0123456789.eE+-tfnrulabd\n";

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Whenever serde_json finds a top-level string `errorMessage`, so does the parser, with
    /// the same text; when it finds none, neither does the parser.
    #[test]
    fn message_agrees_with_serde_json_on_generated_objects(body in json_object_text()) {
        check_against_serde(&body)?;
    }

    /// Cut, flipped or inserted bytes: no message whenever serde_json rejects the body.
    #[test]
    fn message_agrees_with_serde_json_on_mutated_objects(
        body in json_object_text(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, prop::sample::select(JSON_BYTES)), 1..4),
    ) {
        let mut body = body;
        for (at, op, byte) in edits {
            let i = at.index(body.len() + 1);
            match op {
                0 => body.truncate(i),
                1 if i < body.len() => body[i] = byte,
                _ => body.insert(i, byte),
            }
        }
        check_against_serde(&body)?;
    }

    /// Any body, cut into any chunks, gives the same answer as whole.
    #[test]
    fn chunked_equals_whole(
        body in prop_oneof![json_object_text(), prop::collection::vec(any::<u8>(), 0..200)],
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let whole = parse::<32>(&body);
        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        at.sort_unstable();
        let mut p = BodyParser::<32>::new();
        let mut from = 0;
        for to in at.into_iter().chain([body.len()]) {
            p.feed(&body[from..to]);
            from = to;
        }
        prop_assert_eq!(p.finish(), whole);
    }

    /// The raw prefix of a body that is not JSON is the body read as UTF-8 (each maximal
    /// ill-formed subpart one U+FFFD, as `String::from_utf8_lossy` does), control characters
    /// replaced, each run of ASCII whitespace one space, none at either end; bodies mostly
    /// printable ASCII, to exercise the word-at-a-time path, with some of everything else.
    #[test]
    fn the_raw_prefix_is_the_body_made_printable(
        first in 0x21u8..0x7F,
        rest in prop::collection::vec(
            prop_oneof![8 => 0x20u8..0x7F, 2 => Just(b' '), 2 => prop::sample::select(b"\t\r\n\x0C".to_vec()), 1 => any::<u8>()],
            0..300,
        ),
    ) {
        prop_assume!(first != b'{');
        let mut body = vec![first];
        body.extend(rest);
        let mut expected = String::new();
        let mut space = false;
        for c in String::from_utf8_lossy(&body).chars() {
            if c.is_ascii_whitespace() {
                space = !expected.is_empty();
                continue;
            }
            if std::mem::take(&mut space) {
                expected.push(' ');
            }
            expected.push(if c.is_control() { char::REPLACEMENT_CHARACTER } else { c });
        }
        let b = parse::<1024>(&body);
        prop_assert_eq!(b.kind(), BodyKind::NotJson);
        prop_assert_eq!(b.raw_text(), Some(expected.as_str()));
        prop_assert!(!b.is_truncated());
    }

    /// Arbitrary bytes never panic, and the text is always within capacity and valid UTF-8
    /// free of control characters when it is a raw prefix.
    #[test]
    fn arbitrary_bytes_get_a_bounded_answer(body in prop::collection::vec(any::<u8>(), 0..400)) {
        let b = parse::<24>(&body);
        if let Some(raw) = b.raw_text() {
            prop_assert!(raw.len() <= 24);
            prop_assert!(!raw.chars().any(char::is_control));
            // Whitespace runs become one space, and none leads.
            prop_assert!(!raw.contains("  ") && !raw.starts_with(' '), "{:?}", raw);
        }
        if let Some(m) = b.message() {
            prop_assert!(m.len() <= 24);
        }
    }
}

#[test]
fn characters_of_every_utf8_lead_byte_come_through_whole() {
    // First and last characters of each lead byte's range: C2-DF, E0, E1-EC, ED, EE-EF, F0,
    // F1-F3, F4.
    let text = "\u{80}\u{7FF}\u{800}\u{FFF}\u{1000}\u{CFFF}\u{D000}\u{D7FF}\u{E000}\u{FFFF}\
                \u{10000}\u{3FFFF}\u{40000}\u{FFFFF}\u{100000}\u{10FFFF}";
    let body = format!(r#"{{"errorMessage":"{text}"}}"#);
    assert_eq!(message(body.as_bytes()).as_deref(), Some(text));
    // In raw text a C1 control (U+0080) is not printable: it is kept as U+FFFD.
    let raw = format!("<p>{text}</p>");
    let printable = raw.replace('\u{80}', "\u{FFFD}");
    assert_eq!(parse_every_split::<256>(raw.as_bytes()).raw_text(), Some(printable.as_str()));
}

// ---- the pushback fields (a dialect's `BodyFields`) ----

const EVERY_FIELD: BodyFields = BodyFields { retry_after: true, global: true, secondary_limit: true };

/// What a parser reading every pushback field says of `body`, checked to be the same cut at
/// every position into two chunks and fed one byte at a time.
fn pushback_every_split(body: &[u8]) -> BodyWait {
    let read = |pieces: &[&[u8]]| {
        let mut p = BodyParser::<16>::reading(EVERY_FIELD);
        for piece in pieces {
            p.feed(piece);
        }
        p.pushback()
    };
    let whole = read(&[body]);
    for cut in 0..=body.len() {
        assert_eq!(
            read(&[&body[..cut], &body[cut..]]),
            whole,
            "split at {cut} of {:?}",
            String::from_utf8_lossy(body)
        );
    }
    let bytes: Vec<&[u8]> = body.iter().map(core::slice::from_ref).collect();
    assert_eq!(read(&bytes), whole, "one byte at a time");
    whole
}

/// Milliseconds of a JSON number's text, rounded up, saturating, `None` if negative (but 0),
/// by the documented rule (its first 16 significant digits, plus one unit of the 16th if a
/// later digit is not 0): from its digits in 128 bits, independently of the crate.
fn seconds_text_ms(text: &str) -> Option<u64> {
    let (negative, text) = text.strip_prefix('-').map_or((false, text), |t| (true, t));
    let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exponent: i64 = exponent.trim_start_matches('+').parse().ok()?;
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let all = format!("{int}{frac}");
    let significant = all.trim_start_matches('0');
    let (kept, rest) = significant.split_at(significant.len().min(16));
    let digits: u128 = kept.parse::<u128>().unwrap_or(0) + u128::from(rest.bytes().any(|d| d != b'0'));
    let power = exponent + 3 - frac.len() as i64 + rest.len() as i64;
    let ms = if digits == 0 {
        0
    } else if power >= 0 {
        u32::try_from(power)
            .ok()
            .and_then(|p| 10u128.checked_pow(p))
            .and_then(|p| digits.checked_mul(p))
            .unwrap_or(u128::MAX)
    } else {
        match u32::try_from(-power).ok().and_then(|p| 10u128.checked_pow(p)) {
            Some(scale) => digits / scale + u128::from(!digits.is_multiple_of(scale)),
            None => 1,
        }
    };
    (!negative || ms == 0).then(|| u64::try_from(ms).unwrap_or(u64::MAX))
}

/// The pushback serde_json's reading of the body gives, under the documented rules: the
/// top-level object's last `retry_after` if it is a number (in milliseconds, rounded up), its
/// last `global` if `true`, and a minute if its last `message` says `secondary rate limit`.
fn pushback_reference(body: &[u8]) -> Option<BodyWait> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    let retry_after =
        object.get("retry_after").and_then(|v| v.as_number()).and_then(|n| seconds_text_ms(&n.to_string()));
    let secondary = object
        .get("message")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|m| m.to_ascii_lowercase().contains("secondary rate limit"))
        .then_some(BodyFields::SECONDARY_LIMIT_WAIT_MS);
    let wait_ms = match (retry_after, secondary) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    Some(BodyWait { wait_ms, global: object.get("global") == Some(&serde_json::Value::Bool(true)) })
}

#[test]
fn the_pushback_fields_are_read_at_the_top_level_of_a_whole_valid_body() {
    let wait = |ms, global| BodyWait { wait_ms: Some(ms), global };
    for (body, want) in [
        (&b"{\n  \"message\": \"You are being rate limited.\",\n  \"retry_after\": 64.57,\n  \"global\": false\n}"[..], wait(64_570, false)),
        (br#"{"retry_after":64.57,"global":true}"#, wait(64_570, true)),
        (br#"{"retry_after":0.0001}"#, wait(1, false)),
        (br#"{"retry_after":1e400}"#, wait(u64::MAX, false)),
        (br#"{"retry_after":99999999999999999999999}"#, wait(u64::MAX, false)),
        (br#"{"retry_after":2,"message":"secondary rate limit"}"#, wait(60_000, false)),
        (br#"{"retry_after":61,"message":"secondary rate limit"}"#, wait(61_000, false)),
        (br#"{"message":"You have exceeded a secondary rate limit."}"#, wait(60_000, false)),
        (br#"{"m\u0065ssage":"secondary rate \u006cimit"}"#, wait(60_000, false)),
        (br#"{"retry_\u0061fter":3}"#, wait(3_000, false)),
        (br#"{"message":"secondary rate limit","message":"other"}"#, BodyWait::NONE),
        (br#"{"retry_after":3,"retry_after":null}"#, BodyWait::NONE),
        (br#"{"retry_after":-3}"#, BodyWait::NONE),
        (br#"{"retry_after":-0}"#, wait(0, false)),
        (br#"{"retry_after":"3"}"#, BodyWait::NONE),
        (br#"{"global":"true"}"#, BodyWait::NONE),
        (br#"{"d":{"retry_after":3,"global":true,"message":"secondary rate limit"}}"#, BodyWait::NONE),
        (br#"[{"retry_after":3}]"#, BodyWait::NONE),
        (br#"{"retry_after":3"#, BodyWait::NONE),
        (br#"{"retry_after":3}x"#, BodyWait::NONE),
        (br#"{"retry_after":03}"#, BodyWait::NONE),
        (br#"{"retry_after":3.}"#, BodyWait::NONE),
    ] {
        assert_eq!(pushback_every_split(body), want, "{}", String::from_utf8_lossy(body));
    }
    // Read only as asked: a parser for no field (Follow Up Boss's) sees none; each one alone.
    let body = br#"{"retry_after":3,"global":true,"message":"secondary rate limit","errorMessage":"m"}"#;
    let read = |fields| {
        let mut p = BodyParser::<16>::reading(fields);
        p.feed(body);
        let told = p.pushback();
        assert_eq!(p.finish().message(), Some("m"), "the message is read as ever");
        told
    };
    assert_eq!(read(BodyFields::NONE), BodyWait::NONE);
    let only = |f: fn(&mut BodyFields)| {
        let mut fields = BodyFields::NONE;
        f(&mut fields);
        read(fields)
    };
    assert_eq!(only(|f| f.retry_after = true), wait(3_000, false));
    assert_eq!(only(|f| f.global = true), BodyWait { wait_ms: None, global: true });
    assert_eq!(only(|f| f.secondary_limit = true), wait(60_000, false));
    // Not before the body has ended.
    let mut p = BodyParser::<16>::reading(EVERY_FIELD);
    p.feed(br#"{"retry_after":3,"global":true"#);
    assert_eq!(p.pushback(), BodyWait::NONE);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// The pushback fields of any object serde_json reads (numbers of every shape, strings with
    /// any escaping, the keys repeated, nested) are what its reading says, in every split.
    #[test]
    fn the_pushback_fields_agree_with_serde_json_in_every_split(body in json_object_text()) {
        let reference = pushback_reference(&body);
        prop_assert!(reference.is_some(), "serde_json refused {:?}", String::from_utf8_lossy(&body));
        prop_assert_eq!(Some(pushback_every_split(&body)), reference, "{}", String::from_utf8_lossy(&body));
    }

    /// A wait is read only from a body that is whole: any cut of a valid one says none (but
    /// at its end, or in whitespace after it).
    #[test]
    fn a_cut_body_tells_no_wait(body in json_object_text(), cut in any::<prop::sample::Index>()) {
        let at = cut.index(body.len());
        let mut p = BodyParser::<16>::reading(EVERY_FIELD);
        p.feed(&body[..at]);
        prop_assert_eq!(p.pushback(), BodyWait::NONE);
    }
}
