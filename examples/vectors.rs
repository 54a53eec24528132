//! Generates the conformance vectors in `vectors/`: hand-picked edge cases and seeded random
//! ones, each answered by the core.
//!
//! ```text
//! cargo run --example vectors -- write   # (re)writes vectors/*.json
//! cargo run --example vectors -- check   # exits 1 if a file differs from what the core answers now
//! ```
//!
//! The cases are built here; what the core answers is filled in by the executor in
//! `cli/src/vectors.rs` (the same file `cargo test --test vectors` and `backoff-core replay`
//! run). Random cases come from fixed seeds, so a run writes the same bytes every time.

#[allow(dead_code)]
#[path = "../cli/src/vectors.rs"]
mod vectors;

use backoff_core::{BreakerPolicy, Dialect, Jitter, Policy, RetryBudget, RetryOn};
use serde_json::{json, Value};
use vectors::{breaker_policy_json, budget_json, dialect_json, policy_json, Words};

/// SplitMix64: the generator's own choices (which statuses, which words), from a fixed seed.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn word(&mut self) -> u32 {
        (self.next() >> 32) as u32
    }
    /// Enough words for any draw; the executor keeps only those the core draws.
    fn words(&mut self) -> Vec<u32> {
        (0..8).map(|_| self.word()).collect()
    }
    /// Random chunk lengths for a body of `len` bytes: whole, a few pieces, or byte by byte.
    fn split(&mut self, len: usize) -> Vec<usize> {
        if len > 0 && len <= 64 && self.chance(15) {
            return vec![1; len];
        }
        let parts = self.range(1, 4) as usize;
        let mut cuts: Vec<usize> = (1..parts).map(|_| self.below(len as u64 + 1) as usize).collect();
        cuts.sort_unstable();
        let mut out = Vec::new();
        let mut at = 0;
        for cut in cuts.into_iter().chain([len]) {
            out.push(cut - at);
            at = cut;
        }
        out
    }
}

const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
const NGINX_504: &str = "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx/1.25.3</center>\r\n</body>\r\n</html>\r\n";
const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

/// Bodies a failing response of the API (or a proxy in front of it) sends.
const BODIES: &[&str] = &[
    r#"{"errorMessage":"Invalid fields in the request body: emails."}"#,
    r#"{"errorMessage":"Too many requests. Please slow down."}"#,
    r#"{"errorMessage":"Service temporarily unavailable."}"#,
    r#"{"errorMessage":"This account is locked. Please update billing at https://app.followupboss.com."}"#,
    r#"{"error":"unauthorized","error_description":"The API key is invalid"}"#,
    r#"{ "errorMessage" : "Caf\u00e9 \"quoted\" \\ \/ \ud83d\ude00 tab\tend" }"#,
    r#"{"errors":[{"errorMessage":"nested, not the message"}],"code":409}"#,
    r#"{"errorMessage":null,"error":"fallback ignored: errorMessage present"}"#,
    r#"{"errorMessage":"Serv"#,
    r#"{"errorMessage":}"#,
    r#"{"status":500}"#,
    "[\"not an object\"]",
    "Service Unavailable",
    "",
    "   \r\n",
    NGINX_502,
    NGINX_504,
];

fn event(g: &mut Gen, now: u64, what: (&str, Value)) -> Value {
    let mut e = json!({ "now": now, "words": g.words() });
    e[what.0] = what.1;
    e
}

fn response(status: u16, headers: &[(&str, &str)], body: &str) -> (&'static str, Value) {
    let mut r = json!({ "status": status });
    if !headers.is_empty() {
        r["headers"] = json!(headers.iter().map(|(n, v)| [*n, *v]).collect::<Vec<_>>());
    }
    if !body.is_empty() {
        r["body"] = json!(body);
    }
    ("response", r)
}

fn transport(when: &str) -> (&'static str, Value) {
    ("transport", json!(when))
}

fn one_request(
    name: &str,
    policy: &Policy,
    capacity: usize,
    idempotency: &str,
    start: u64,
    events: Vec<Value>,
) -> Value {
    json!({
        "name": name,
        "policy": policy_json(policy),
        "capacity": capacity,
        "requests": [{ "idempotency": idempotency, "start_ms": start, "events": events }],
    })
}

const IDEMPOTENCY: [&str; 2] = ["idempotent", "not_idempotent"];
const PRESET: Policy = Policy::FOLLOW_UP_BOSS;

// ---------------------------------------------------------------------------------------------

fn request_cases(g: &mut Gen) -> Vec<Value> {
    let mut cases = Vec::new();
    // Every class of status, once per idempotency, with a body that fits it.
    let statuses: &[(u16, &str)] = &[
        (200, "{}"),
        (201, r#"{"id":1}"#),
        (204, ""),
        (299, ""),
        (100, ""),
        (101, ""),
        (199, ""),
        (301, ""),
        (304, ""),
        (399, ""),
        (400, BODIES[0]),
        (401, BODIES[4]),
        (402, ""),
        (403, BODIES[3]),
        (404, r#"{"errorMessage":"Not found"}"#),
        (405, ""),
        (408, ""),
        (409, BODIES[6]),
        (422, r#"{"errorMessage":"Unprocessable"}"#),
        (429, BODIES[1]),
        (499, ""),
        (500, BODIES[10]),
        (501, ""),
        (502, NGINX_502),
        (503, BODIES[2]),
        (504, NGINX_504),
        (599, ""),
        (0, ""),
        (99, ""),
        (600, ""),
        (999, ""),
        (65535, ""),
    ];
    for &(status, body) in statuses {
        // Idempotency matters only where a retry may follow.
        let retried = matches!(status, 408 | 429 | 500..=599);
        for idem in if retried { &IDEMPOTENCY[..] } else { &IDEMPOTENCY[..1] } {
            let events = vec![event(g, 5, response(status, &[], body))];
            let idem = *idem;
            cases.push(one_request(&format!("status {status}, {idem}"), &PRESET, 64, idem, 0, events));
        }
    }
    for when in ["before_send", "after_send"] {
        for idem in IDEMPOTENCY {
            let events = vec![event(g, 7, transport(when))];
            cases.push(one_request(
                &format!("transport failure {when}, {idem}"),
                &PRESET,
                64,
                idem,
                0,
                events,
            ));
        }
    }
    // Retry-After in every form, on the statuses that carry it and on those that do not.
    let retry_after: &[(&str, &[(&str, &str)])] = &[
        ("delay-seconds", &[("Retry-After", "8")]),
        ("zero: the floor", &[("Retry-After", "0")]),
        ("a fraction rounded up", &[("Retry-After", "1.5")]),
        ("2.0", &[("Retry-After", "2.0")]),
        ("0.0001 rounds up to 1 ms", &[("Retry-After", "0.0001")]),
        ("spaces around", &[("retry-after", "  120 ")]),
        ("exactly the ceiling", &[("Retry-After", "600")]),
        ("past the ceiling", &[("Retry-After", "601")]),
        ("a huge number", &[("Retry-After", "99999999999999999999999999")]),
        ("negative: ignored", &[("Retry-After", "-1")]),
        ("not a number: ignored", &[("Retry-After", "soon")]),
        ("empty: ignored", &[("Retry-After", "")]),
        ("1.: ignored", &[("Retry-After", "1.")]),
        ("IMF-fixdate against Date", &[("Date", DATE), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")]),
        ("RFC 850 date against Date", &[("Date", DATE), ("Retry-After", "Sunday, 06-Nov-94 08:49:47 GMT")]),
        ("asctime date against Date", &[("Date", DATE), ("Retry-After", "Sun Nov  6 08:51:37 1994")]),
        ("Date after Retry-After", &[("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"), ("Date", DATE)]),
        ("a date before Date: ignored", &[("Date", DATE), ("Retry-After", "Sun, 06 Nov 1994 08:49:00 GMT")]),
        ("a date without Date: ignored", &[("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")]),
        ("a date past the ceiling", &[("Date", DATE), ("Retry-After", "Mon, 07 Nov 1994 08:49:37 GMT")]),
        ("repeated: the longest", &[("Retry-After", "3"), ("Retry-After", "9"), ("Retry-After", "x")]),
    ];
    for &(label, headers) in retry_after {
        for (status, idems) in [(429, &IDEMPOTENCY[..]), (503, &IDEMPOTENCY[..1]), (500, &IDEMPOTENCY[..1])] {
            for &idem in idems {
                let events = vec![event(g, 1_000, response(status, headers, ""))];
                let name = format!("{status} with Retry-After: {label}, {idem}");
                cases.push(one_request(&name, &PRESET, 64, idem, 0, events));
            }
        }
    }
    // Whole lifecycles under the preset: 503s until the retries run out, sent when told.
    for (label, status, headers) in [
        ("503 until retries are exhausted", 503, &[][..]),
        ("429 with Retry-After until retries are exhausted", 429, &[("Retry-After", "3")][..]),
        ("transport failures until retries are exhausted", 0, &[][..]),
    ] {
        let mut events = Vec::new();
        let mut now = 0;
        for i in 0..10u64 {
            now += 40_000 + i;
            if status == 0 {
                events.push(event(g, now, transport("before_send")));
            } else {
                events.push(event(g, now, response(status, headers, "")));
            }
        }
        cases.push(one_request(label, &PRESET, 64, "idempotent", 0, events));
    }
    // Every jitter shape, and policies at the edges of their numbers.
    let shapes: &[(&str, Policy)] = &[
        ("no jitter", PRESET.with_jitter(Jitter::None)),
        ("full jitter", PRESET.with_jitter(Jitter::Full)),
        ("equal jitter", PRESET.with_jitter(Jitter::Equal)),
        ("decorrelated jitter", PRESET.with_jitter(Jitter::Decorrelated)),
        (
            "decorrelated, cap below base",
            PRESET.with_jitter(Jitter::Decorrelated).with_base_ms(5_000).with_max_backoff_ms(3_000),
        ),
        ("decorrelated, base 0", PRESET.with_jitter(Jitter::Decorrelated).with_base_ms(0)),
        ("additive 0", PRESET.with_jitter(Jitter::Additive { max_ms: 0 })),
        ("additive 1", PRESET.with_jitter(Jitter::Additive { max_ms: 1 })),
        (
            "additive 2^31: many rejections",
            PRESET.with_jitter(Jitter::Additive { max_ms: 1 << 31 }).with_max_backoff_ms(u32::MAX),
        ),
        (
            "additive u32::MAX: a word as it is",
            PRESET.with_jitter(Jitter::Additive { max_ms: u32::MAX }).with_max_backoff_ms(u32::MAX),
        ),
        ("cap 64 s", PRESET.with_max_backoff_ms(64_000)),
        ("cap 0", PRESET.with_max_backoff_ms(0)),
        ("base 0", PRESET.with_base_ms(0)),
        ("base u32::MAX", PRESET.with_base_ms(u32::MAX).with_max_backoff_ms(u32::MAX)),
        ("base above cap", PRESET.with_base_ms(50_000)),
        ("40 retries, cap u32::MAX", PRESET.with_max_retries(40).with_max_backoff_ms(u32::MAX)),
        ("no retries", PRESET.with_max_retries(0)),
        ("one retry", PRESET.with_max_retries(1)),
    ];
    for (label, policy) in shapes {
        for (what, event_of) in [("503", 0), ("429 told 2 s", 2)] {
            let mut events = Vec::new();
            let mut now = 100;
            for _ in 0..(policy.max_retries.min(12) + 1) {
                now += 1_000;
                let e = match event_of {
                    0 => event(g, now, response(503, &[], "")),
                    1 => event(g, now, transport("before_send")),
                    _ => event(g, now, response(429, &[("Retry-After", "2")], "")),
                };
                events.push(e);
            }
            cases.push(one_request(
                &format!("{label}: {what} each time"),
                policy,
                64,
                "idempotent",
                100,
                events,
            ));
        }
    }
    // Which classes retry.
    for (label, on) in [
        ("retry nothing", RetryOn::NOTHING),
        ("retry only transport", RetryOn::TRANSPORT),
        ("retry only 429", RetryOn::RATE_LIMITED),
        ("retry only 408", RetryOn::REQUEST_TIMEOUT),
        ("retry only 5xx", RetryOn::SERVER_ERROR),
        ("retry 5xx and 429", RetryOn::SERVER_ERROR.union(RetryOn::RATE_LIMITED)),
    ] {
        let policy = PRESET.with_retry_on(on);
        for (status, what) in
            [(408, None), (429, None), (503, None), (0, Some("before_send")), (0, Some("after_send"))]
        {
            let e = match what {
                Some(when) => event(g, 10, transport(when)),
                None => event(g, 10, response(status, &[], "")),
            };
            let name = format!("{label}: {}", what.map_or(status.to_string(), |w| format!("transport {w}")));
            cases.push(one_request(&name, &policy, 64, "idempotent", 0, vec![e]));
        }
    }
    // Deadlines.
    let deadline = PRESET.with_deadline_ms(5_000);
    cases.push(one_request(
        "deadline 5 s: 503s until the next backoff would end past it",
        &deadline,
        64,
        "idempotent",
        1_000,
        (0..6).map(|i| event(g, 1_000 + i * 1_500, response(503, &[], ""))).collect(),
    ));
    cases.push(one_request(
        "deadline 5 s: already past",
        &deadline,
        64,
        "idempotent",
        0,
        vec![event(g, 5_001, response(503, &[], ""))],
    ));
    cases.push(one_request(
        "deadline 5 s: exactly at it",
        &deadline,
        64,
        "idempotent",
        0,
        vec![event(g, 5_000, response(503, &[], ""))],
    ));
    for (ra, now) in [("3", 1_000), ("3", 2_500), ("4", 1_000), ("5", 0), ("0", 4_200), ("1", 4_000)] {
        cases.push(one_request(
            &format!(
                "deadline 5 s: Retry-After {ra} at {now} ms (the told wait is kept, the spread clipped)"
            ),
            &deadline,
            64,
            "idempotent",
            0,
            vec![event(g, now, response(429, &[("Retry-After", ra)], ""))],
        ));
    }
    cases.push(one_request(
        "deadline 0: no retry at all",
        &PRESET.with_deadline_ms(0),
        64,
        "idempotent",
        0,
        vec![event(g, 0, response(503, &[], ""))],
    ));
    // Ceiling and floor.
    for (label, policy, ra) in [
        ("ceiling 5 s, told 5", PRESET.with_retry_after_ceiling_ms(5_000), "5"),
        ("ceiling 5 s, told 5.001", PRESET.with_retry_after_ceiling_ms(5_000), "5.001"),
        ("floor 0, told 0", PRESET.with_retry_after_floor_ms(0), "0"),
        (
            "floor 0 and no spread, told 0",
            PRESET.with_retry_after_floor_ms(0).with_retry_after_jitter_ms(0),
            "0",
        ),
        ("floor 3 s, told 2", PRESET.with_retry_after_floor_ms(3_000), "2"),
        ("spread u32::MAX", PRESET.with_retry_after_jitter_ms(u32::MAX), "1"),
        ("spread 2^31", PRESET.with_retry_after_jitter_ms(1 << 31), "1"),
        ("ceiling u32::MAX, told a huge number", PRESET.with_retry_after_ceiling_ms(u32::MAX), "99999999999"),
    ] {
        cases.push(one_request(
            label,
            &policy,
            64,
            "idempotent",
            0,
            vec![event(g, 10, response(429, &[("Retry-After", ra)], ""))],
        ));
    }
    // Cut bodies: a transport failure after sending, whatever the status; 408 and 429 were
    // not processed.
    for status in [200, 201, 400, 408, 429, 500, 503] {
        for idem in IDEMPOTENCY {
            let mut e = event(g, 50, response(status, &[("Retry-After", "2")], r#"{"errorMessage":"cut he"#));
            e["response"]["cut"] = json!(true);
            cases.push(one_request(
                &format!("{status} whose body is cut, {idem}"),
                &PRESET,
                64,
                idem,
                0,
                vec![e],
            ));
        }
    }
    // Bodies read in chunks, and the most of a body that is read.
    for (i, body) in BODIES.iter().enumerate() {
        for (status, policy, capacity) in [(400, PRESET, 64), (503, PRESET.with_max_error_body_bytes(16), 16)]
        {
            let mut e = event(g, 30, response(status, &[], body));
            e["response"]["chunks"] = json!(g.split(body.len()));
            let name = format!(
                "body {i} in chunks, {status}, at most {} bytes read, capacity {capacity}",
                policy.max_error_body_bytes
            );
            cases.push(one_request(&name, &policy, capacity, "idempotent", 0, vec![e]));
        }
    }
    for max in [0, 1, 17, 18, 19, 20, 21, 64] {
        let mut e = event(g, 30, response(400, &[], r#"{"errorMessage":"x"}  "#));
        e["response"]["chunks"] = json!([5, 5, 5, 5, 2]);
        cases.push(one_request(
            &format!("max_error_body_bytes {max}"),
            &PRESET.with_max_error_body_bytes(max),
            64,
            "idempotent",
            0,
            vec![e],
        ));
    }
    // The RNG: failing (no words), stuck at 0, at the top; rejections.
    type RngCase<'a> = (&'a str, u16, &'a [(&'a str, &'a str)], &'a [u32]);
    let cases_rng: &[RngCase] = &[
        ("RNG fails on a backoff: the clock fallback", 503, &[], &[]),
        ("RNG fails on a Retry-After spread: the clock fallback", 429, &[("Retry-After", "4")], &[]),
        ("RNG stuck at 0: 16 draws, then the last kept", 503, &[], &[0; 16]),
        ("RNG rejected once, then fails: the clock fallback", 503, &[], &[0]),
        ("RNG at u32::MAX", 503, &[], &[u32::MAX]),
        ("RNG rejected twice, then accepted", 503, &[], &[0, 0, 0x8000_0000]),
        ("RNG: the largest word rejected for 0..=1000, then 1", 503, &[], &[619, 1]),
        ("RNG: the smallest word accepted for 0..=1000", 503, &[], &[620]),
    ];
    for &(label, status, headers, words) in cases_rng {
        let mut e = event(g, 123_456, response(status, headers, ""));
        e["words"] = json!(words);
        cases.push(one_request(label, &PRESET, 64, "idempotent", 0, vec![e]));
    }
    let mut e = event(g, 9, response(503, &[], ""));
    e["words"] = json!([]);
    cases.push(one_request(
        "RNG fails, decorrelated",
        &PRESET.with_jitter(Jitter::Decorrelated),
        64,
        "idempotent",
        0,
        vec![e],
    ));
    // The clock: backwards, standing still, near the end of time.
    cases.push(one_request(
        "the clock goes backwards: read as no time passed",
        &PRESET.with_deadline_ms(10_000),
        64,
        "idempotent",
        50_000,
        vec![
            event(g, 52_000, response(503, &[], "")),
            event(g, 10, response(503, &[], "")),
            event(g, 49_000, transport("before_send")),
            event(g, 61_000, transport("before_send")),
        ],
    ));
    cases.push(one_request(
        "the clock near u64::MAX: at_ms saturates",
        &PRESET,
        64,
        "idempotent",
        u64::MAX - 5_000,
        vec![
            event(g, u64::MAX - 10, response(503, &[], "")),
            event(g, u64::MAX, response(429, &[("Retry-After", "5")], "")),
        ],
    ));
    // may_wait_until: a hold of the client's shared state, before a send.
    for (label, policy, start, now, until) in [
        ("a hold within the ceiling", PRESET, 0, 100, 60_000),
        ("a hold exactly at the ceiling", PRESET, 0, 100, 600_100),
        ("a hold past the ceiling", PRESET, 0, 100, 600_101),
        ("a hold in the past", PRESET, 0, 100, 50),
        ("a hold past the deadline", PRESET.with_deadline_ms(10_000), 0, 100, 10_001),
        ("a hold ending at the deadline", PRESET.with_deadline_ms(10_000), 0, 100, 10_000),
        ("a hold past the ceiling and the deadline", PRESET.with_deadline_ms(10_000), 0, 0, 700_000),
    ] {
        let e = json!({ "now": now, "may_wait_until": until });
        cases.push(one_request(
            &format!("may_wait_until: {label}"),
            &policy,
            64,
            "idempotent",
            start,
            vec![e],
        ));
    }
    let mut events =
        vec![event(g, 10, response(503, &[], "")), json!({ "now": 5, "may_wait_until": 600_010 })];
    events.push(json!({ "now": 2_500, "may_wait_until": 600_011 }));
    cases.push(one_request(
        "may_wait_until after a retry: the clock never goes back",
        &PRESET,
        64,
        "idempotent",
        0,
        events,
    ));
    // What a dialect read (`response_parsed`): GitHub's 403 is a rate limit when it says so.
    let github = &[403, 429, 503][..];
    let seen_cases: &[(&str, u16, Value)] = &[
        (
            "403 with remaining 0 and a reset",
            403,
            json!({ "remaining": 0, "reset_ms": 30_000, "pushback": github }),
        ),
        ("403 with a retry-after", 403, json!({ "retry_after_ms": 60_000, "pushback": github })),
        (
            "403 with remaining 5 and a reset: forbidden",
            403,
            json!({ "remaining": 5, "reset_ms": 30_000, "pushback": github }),
        ),
        ("403 with nothing: forbidden", 403, json!({ "pushback": github })),
        (
            "403 where 403 is not pushback: forbidden",
            403,
            json!({ "retry_after_ms": 1_000, "pushback": [429, 503] }),
        ),
        (
            "429 with remaining 0 and a reset",
            429,
            json!({ "remaining": 0, "reset_ms": 7_000, "pushback": github }),
        ),
        (
            "429 with a retry-after and a longer reset",
            429,
            json!({ "remaining": 0, "retry_after_ms": 2_000, "reset_ms": 9_000, "pushback": github }),
        ),
        ("429 with nothing: backoff", 429, json!({ "pushback": github })),
        (
            "400 that is pushback: still a bad request (only 403 and other 4xx become rate limited)",
            400,
            json!({ "retry_after_ms": 1_000, "pushback": [400, 429] }),
        ),
        ("404 that is pushback: still not found", 404, json!({ "retry_after_ms": 1_000, "pushback": [404] })),
        (
            "401 that is pushback: still unauthorized",
            401,
            json!({ "retry_after_ms": 1_000, "pushback": [401] }),
        ),
        (
            "503 with a reset past the ceiling",
            503,
            json!({ "remaining": 0, "reset_ms": 3_600_000, "pushback": github }),
        ),
        (
            "500 with a retry-after it does not carry",
            500,
            json!({ "retry_after_ms": 1_000, "pushback": github }),
        ),
        ("200 with a retry-after", 200, json!({ "retry_after_ms": 1_000, "pushback": [200] })),
        ("408 that is pushback", 408, json!({ "retry_after_ms": 3_000, "pushback": [408] })),
    ];
    for (i, (label, status, seen)) in seen_cases.iter().enumerate() {
        for idem in if i < 2 { &IDEMPOTENCY[..] } else { &IDEMPOTENCY[..1] } {
            let idem = *idem;
            let mut e = event(g, 20, response(*status, &[], r#"{"message":"API rate limit exceeded"}"#));
            e["response"]["seen"] = seen.clone();
            cases.push(one_request(
                &format!("read by a dialect: {label}, {idem}"),
                &PRESET,
                64,
                idem,
                0,
                vec![e],
            ));
        }
    }
    // Message capacities: cut at a character boundary.
    for capacity in [0, 1, 2, 3, 4, 8] {
        let e = event(g, 1, response(400, &[], r#"{"errorMessage":"a€😀b"}"#));
        cases.push(one_request(
            &format!("message capacity {capacity}"),
            &PRESET,
            capacity,
            "idempotent",
            0,
            vec![e],
        ));
    }
    // Random lifecycles.
    for i in 0..60 {
        cases.push(random_lifecycle(g, &format!("random lifecycle {i}"), None));
    }
    // Waits told in the body, in the fields a dialect reads (`seen.body`), where the headers
    // tell none: Discord's `retry_after` and GitHub's secondary-limit message.
    let discord = json!({ "retry_after": true, "global": true, "secondary_limit": false });
    let secondary = json!({ "retry_after": false, "global": false, "secondary_limit": true });
    let rate_limited = r#"{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}"#;
    let gh_body = r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest"}"#;
    let body_cases: &[(&str, u16, Value, &str)] = &[
        (
            "Discord's 429 body: 64.57 s",
            429,
            json!({ "pushback": [429, 503], "body": discord }),
            rate_limited,
        ),
        (
            "Discord's 429 body under a Retry-After: the header's",
            429,
            json!({ "retry_after_ms": 65_000, "pushback": [429, 503], "body": discord }),
            rate_limited,
        ),
        (
            "Discord's 429 body under a spent quota's reset: the reset's",
            429,
            json!({ "remaining": 0, "reset_ms": 3_000, "pushback": [429, 503], "body": discord }),
            rate_limited,
        ),
        (
            "a fraction rounded up",
            429,
            json!({ "pushback": [429], "body": discord }),
            r#"{"retry_after":0.0001}"#,
        ),
        ("an exponent", 429, json!({ "pushback": [429], "body": discord }), r#"{"retry_after":2.5E+1}"#),
        (
            "past the ceiling",
            429,
            json!({ "pushback": [429], "body": discord }),
            r#"{"retry_after":1336.57,"global":false}"#,
        ),
        ("past 64 bits", 429, json!({ "pushback": [429], "body": discord }), r#"{"retry_after":1e400}"#),
        ("negative: no wait", 429, json!({ "pushback": [429], "body": discord }), r#"{"retry_after":-5}"#),
        ("a string: no wait", 429, json!({ "pushback": [429], "body": discord }), r#"{"retry_after":"5"}"#),
        (
            "the last counts",
            429,
            json!({ "pushback": [429], "body": discord }),
            r#"{"retry_after":5,"retry_after":7}"#,
        ),
        ("nested: no wait", 429, json!({ "pushback": [429], "body": discord }), r#"{"d":{"retry_after":5}}"#),
        ("a cut body: no wait", 429, json!({ "pushback": [429], "body": discord }), r#"{"retry_after":5"#),
        (
            "not a pushback status: not read",
            400,
            json!({ "pushback": [429], "body": discord }),
            r#"{"retry_after":5}"#,
        ),
        ("not read where the dialect does not", 429, json!({ "pushback": [429] }), r#"{"retry_after":5}"#),
        (
            "GitHub's secondary-limit 403: a minute",
            403,
            json!({ "pushback": [403, 429, 503], "body": secondary }),
            gh_body,
        ),
        (
            "GitHub's secondary-limit 429: a minute",
            429,
            json!({ "pushback": [403, 429, 503], "body": secondary }),
            gh_body,
        ),
        (
            "GitHub's secondary-limit 403 with a retry-after: the header's",
            403,
            json!({ "retry_after_ms": 30_000, "pushback": [403, 429, 503], "body": secondary }),
            gh_body,
        ),
        (
            "GitHub's 403 that is not a secondary limit: forbidden",
            403,
            json!({ "pushback": [403, 429, 503], "body": secondary }),
            r#"{"message":"Must have admin rights to Repository."}"#,
        ),
        (
            "escaped, any case",
            403,
            json!({ "pushback": [403, 429, 503], "body": secondary }),
            r#"{"message":"SECONDARY rate LIMIT"}"#,
        ),
    ];
    // Their own generator: the cases after them in the section (the backoff formula's) draw
    // from `g` as they did before these were added, so their words and answers stay the same.
    let g = &mut Gen(0x0B0D_7A17);
    for (i, (label, status, seen, body)) in body_cases.iter().enumerate() {
        for idem in if i < 2 || label.contains("403") { &IDEMPOTENCY[..] } else { &IDEMPOTENCY[..1] } {
            let idem = *idem;
            let mut e = event(g, 20, response(*status, &[], body));
            e["response"]["seen"] = seen.clone();
            if i == 0 {
                let mut pieces = vec![7; body.len() / 7];
                pieces.push(body.len() % 7);
                e["response"]["chunks"] = json!(pieces);
            }
            cases.push(one_request(
                &format!("a wait in the body: {label}, {idem}"),
                &PRESET,
                64,
                idem,
                0,
                vec![e],
            ));
        }
    }
    cases
}

fn random_policy(g: &mut Gen) -> Policy {
    let mut policy = *g.pick(&[
        PRESET,
        PRESET,
        PRESET.with_deadline_ms(20_000),
        PRESET.with_jitter(Jitter::Decorrelated).with_max_retries(5),
        PRESET.with_jitter(Jitter::Full).with_base_ms(100).with_max_backoff_ms(5_000),
        PRESET.with_jitter(Jitter::Equal).with_max_backoff_ms(64_000),
        PRESET.with_max_retries(3).with_retry_after_ceiling_ms(5_000),
        PRESET.with_retry_on(RetryOn::RATE_LIMITED.union(RetryOn::TRANSPORT)),
        PRESET.with_max_error_body_bytes(24),
        PRESET.with_retry_after_floor_ms(0).with_retry_after_jitter_ms(250),
    ]);
    if g.chance(10) {
        policy.max_retries = g.range(0, 12) as u32;
    }
    policy
}

/// A request meeting random answers: statuses of every class, `Retry-After` in every form, cut
/// bodies, chunks, transport failures, a clock that sometimes steps back.
fn random_lifecycle(g: &mut Gen, name: &str, budget: Option<&RetryBudget>) -> Value {
    let policy = random_policy(g);
    let capacity = *g.pick(&[8usize, 64, 64, 128]);
    let idem = *g.pick(&IDEMPOTENCY);
    let start = if g.chance(20) { g.below(1 << 40) } else { 0 };
    let mut case = one_request(name, &policy, capacity, idem, start, random_events(g, start));
    if let Some(budget) = budget {
        case["budget"] = budget_json(budget);
    }
    case
}

fn random_events(g: &mut Gen, start: u64) -> Vec<Value> {
    let statuses =
        [200, 201, 204, 400, 401, 403, 404, 408, 409, 429, 429, 429, 500, 502, 503, 503, 504, 302, 99, 600];
    let retry_afters =
        ["0", "1", "3", "8", "1.5", "2.0", "120", "601", "-1", "abc", "", "Sun, 06 Nov 1994 08:50:07 GMT"];
    let mut now = start;
    let mut events = Vec::new();
    for _ in 0..g.range(1, 10) {
        now = if g.chance(5) { now.saturating_sub(g.below(10_000)) } else { now + g.below(40_000) };
        if g.chance(15) {
            let when = *g.pick(&["before_send", "after_send"]);
            events.push(event(g, now, transport(when)));
            continue;
        }
        let status = *g.pick(&statuses);
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if g.chance(50) {
            headers.push(("Retry-After", *g.pick(&retry_afters)));
            if g.chance(50) {
                headers.push(("Date", DATE));
            }
        }
        if g.chance(20) {
            headers.extend([
                ("X-RateLimit-Limit", "20"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Window", "10"),
            ]);
        }
        let body = *g.pick(BODIES);
        let mut e = event(g, now, response(status, &headers, body));
        if g.chance(30) {
            e["response"]["chunks"] = json!(g.split(body.len()));
        }
        if g.chance(10) {
            e["response"]["cut"] = json!(true);
        }
        events.push(e);
    }
    events
}

fn backoff_cases(g: &mut Gen) -> Vec<Value> {
    let mut cases = Vec::new();
    let policies: &[(&str, Policy)] = &[
        ("preset", PRESET),
        ("no jitter", PRESET.with_jitter(Jitter::None)),
        ("full", PRESET.with_jitter(Jitter::Full)),
        ("equal", PRESET.with_jitter(Jitter::Equal)),
        ("decorrelated", PRESET.with_jitter(Jitter::Decorrelated)),
        ("decorrelated, base 0", PRESET.with_jitter(Jitter::Decorrelated).with_base_ms(0)),
        (
            "additive u32::MAX",
            PRESET.with_jitter(Jitter::Additive { max_ms: u32::MAX }).with_max_backoff_ms(u32::MAX),
        ),
        ("base u32::MAX", PRESET.with_base_ms(u32::MAX).with_max_backoff_ms(u32::MAX)),
        ("equal, odd cap", PRESET.with_jitter(Jitter::Equal).with_max_backoff_ms(3)),
    ];
    for (label, policy) in policies {
        for retry in [0, 1, 6, 41, u32::MAX] {
            cases.push(json!({ "name": format!("bounds: {label}, retry {retry}"), "type": "bounds", "policy": policy_json(policy), "retry": retry }));
        }
        for (retry, previous) in [(0, None), (1, Some(1_500)), (u32::MAX, Some(u32::MAX))] {
            cases.push(json!({
                "name": format!("backoff: {label}, retry {retry}, previous {previous:?}"),
                "type": "backoff", "policy": policy_json(policy), "retry": retry, "previous_ms": previous,
                "now": g.below(1 << 50), "words": g.words(),
            }));
        }
        cases.push(json!({
            "name": format!("backoff: {label}, RNG fails"), "type": "backoff", "policy": policy_json(policy),
            "retry": 2, "previous_ms": null, "now": 987_654_321, "words": [],
        }));
    }
    cases
}

// ---------------------------------------------------------------------------------------------

fn retry_after_cases(g: &mut Gen) -> Vec<Value> {
    let mut cases = Vec::new();
    let headers_cases: &[(&str, &[(&str, &str)])] = &[
        ("none", &[]),
        ("8", &[("Retry-After", "8")]),
        ("0", &[("Retry-After", "0")]),
        ("leading zeros", &[("Retry-After", "007")]),
        ("1.5", &[("Retry-After", "1.5")]),
        ("1.05", &[("Retry-After", "1.05")]),
        ("1.0001", &[("Retry-After", "1.0001")]),
        ("1.0000", &[("Retry-After", "1.0000")]),
        ("0.9999", &[("Retry-After", "0.9999")]),
        ("1.", &[("Retry-After", "1.")]),
        (".5", &[("Retry-After", ".5")]),
        ("1.5.5", &[("Retry-After", "1.5.5")]),
        ("1.x", &[("Retry-After", "1.x")]),
        ("+5", &[("Retry-After", "+5")]),
        ("-1", &[("Retry-After", "-1")]),
        ("1e3", &[("Retry-After", "1e3")]),
        ("0x10", &[("Retry-After", "0x10")]),
        ("spaces and tabs around", &[("Retry-After", " \t 42 \t")]),
        ("a space inside", &[("Retry-After", "4 2")]),
        ("empty", &[("Retry-After", "")]),
        ("blank", &[("Retry-After", "   ")]),
        ("u64::MAX / 1000 seconds", &[("Retry-After", "18446744073709551")]),
        ("one more", &[("Retry-After", "18446744073709552")]),
        ("twenty-six digits", &[("Retry-After", "99999999999999999999999999")]),
        ("a huge number with a fraction", &[("Retry-After", "18446744073709551.616")]),
        ("name in any case", &[("rEtRy-AfTeR", "5")]),
        ("a similar name", &[("Retry-After-Ms", "5")]),
        ("repeated, the longest wins", &[("Retry-After", "5"), ("Retry-After", "50"), ("Retry-After", "7")]),
        ("repeated with garbage", &[("Retry-After", "x"), ("Retry-After", "7")]),
        ("IMF-fixdate, Date first", &[("Date", DATE), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")]),
        ("IMF-fixdate, Date after", &[("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"), ("Date", DATE)]),
        ("RFC 850 Retry-After", &[("Date", DATE), ("Retry-After", "Sunday, 06-Nov-94 08:50:07 GMT")]),
        ("asctime Retry-After", &[("Date", DATE), ("Retry-After", "Sun Nov  6 08:50:07 1994")]),
        (
            "RFC 850 Date",
            &[("Date", "Sunday, 06-Nov-94 08:49:37 GMT"), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")],
        ),
        (
            "asctime Date",
            &[("Date", "Sun Nov  6 08:49:37 1994"), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")],
        ),
        ("the same instant as Date", &[("Date", DATE), ("Retry-After", DATE)]),
        ("before Date", &[("Date", DATE), ("Retry-After", "Sun, 06 Nov 1994 08:49:36 GMT")]),
        ("a date without Date", &[("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")]),
        (
            "a date with a broken Date",
            &[("Date", "yesterday"), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")],
        ),
        (
            "a broken Date after a good one",
            &[("Date", DATE), ("Date", "yesterday"), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")],
        ),
        (
            "a good Date after a broken one",
            &[("Date", "yesterday"), ("Date", DATE), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")],
        ),
        (
            "a number and a date: the longer",
            &[("Date", DATE), ("Retry-After", "10"), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")],
        ),
        (
            "a number longer than the date",
            &[("Date", DATE), ("Retry-After", "100"), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT")],
        ),
        (
            "two dates: the later",
            &[
                ("Date", DATE),
                ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"),
                ("Retry-After", "Sun, 06 Nov 1994 08:51:07 GMT"),
            ],
        ),
        (
            "RFC 850 Retry-After read against a Date in 2070",
            &[("Date", "Wed, 01 Jan 2070 00:00:00 GMT"), ("Retry-After", "Thursday, 01-Jan-70 00:01:00 GMT")],
        ),
        (
            "RFC 850 Retry-After in the next century of Date",
            &[("Date", "Fri, 31 Dec 2099 23:59:00 GMT"), ("Retry-After", "Friday, 01-Jan-00 00:00:00 GMT")],
        ),
        (
            "a date at the last second of 9999",
            &[("Date", "Thu, 01 Jan 1970 00:00:00 GMT"), ("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT")],
        ),
        (
            "a date with trailing spaces",
            &[("Date", DATE), ("Retry-After", " Sun, 06 Nov 1994 08:50:07 GMT \t")],
        ),
        ("lowercase GMT", &[("Date", DATE), ("Retry-After", "Sun, 06 Nov 1994 08:50:07 gmt")]),
    ];
    for (label, headers) in headers_cases {
        let headers: Vec<[&str; 2]> = headers.iter().map(|(n, v)| [*n, *v]).collect();
        cases.push(
            json!({ "name": format!("Retry-After: {label}"), "type": "retry_after", "headers": headers }),
        );
    }
    let dates: &[&str] = &[
        DATE,
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Sun Nov 16 08:49:37 1994",
        "Sun Nov 6 08:49:37 1994",
        "Sun Nov 06 08:49:37 1994",
        "Xyz Nov  6 08:49:37 1994",
        "Sun Nov  0 08:49:37 1994",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Wed, 31 Dec 1969 23:59:59 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Thu, 29 Feb 2024 12:00:00 GMT",
        "Wed, 29 Feb 2023 12:00:00 GMT",
        "Tue, 29 Feb 2000 12:00:00 GMT",
        "Mon, 29 Feb 2100 12:00:00 GMT",
        "Tue, 31 Apr 2024 00:00:00 GMT",
        "Tue, 30 Apr 2024 00:00:00 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 32 Dec 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 23:59:60 GMT",
        "Sun, 06 Nov 1994 23:59:61 GMT",
        "Sun, 06 Nov 1994 24:00:00 GMT",
        "Sun, 06 Nov 1994 23:60:00 GMT",
        "Sun, 06 Nov 1994 8:49:37 GMT",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 06 Nox 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49:37 UTC",
        "Sun, 06 Nov 1994 08:49:37 GMT ",
        "  Sun, 06 Nov 1994 08:49:37 GMT",
        "Sun,  06 Nov 1994 08:49:37 GMT",
        "sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06 Nov 1994 08:49:37 GMT",
        "Sun, 06-Nov-94 08:49:37 GMT",
        "Xyz, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06-Nov-9x 08:49:37 GMT",
        "Sunday, 31-Apr-94 08:49:37 GMT",
        "Sunday, 00-Nov-94 08:49:37 GMT",
        "Sunday, 06-Nox-94 08:49:37 GMT",
        "Funday, 06-Nov-94 08:49:37 GMT",
        "Friday, 29-Feb-00 00:00:00 GMT",
        "Saturday, 01-Jan-00 00:00:00 GMT",
        "Friday, 31-Dec-99 23:59:59 GMT",
        "Thursday, 31-Dec-76 00:00:00 GMT",
        "Friday, 01-Jan-77 00:00:00 GMT",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 GMT,",
        "Sun,",
        ",",
        "",
        "120",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun Nov  6 08:49:37 10000",
        "Sun Nov  6 08:49:37 0001",
    ];
    for date in dates {
        cases.push(json!({ "name": format!("HTTP-date {date:?}"), "type": "http_date", "value": date, "pivot_year": 2026 }));
    }
    for pivot in [0u32, 1, 49, 50, 51, 100, 1944, 2026, 2044, 2045, 9949, 9950, 9999, u32::MAX] {
        for date in [
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Saturday, 01-Jan-00 00:00:00 GMT",
            "Friday, 31-Dec-99 23:59:59 GMT",
            "Sunday, 06-Nox-94 08:49:37 GMT",
        ] {
            cases.push(json!({ "name": format!("RFC 850 {date:?} against pivot {pivot}"), "type": "http_date", "value": date, "pivot_year": pivot }));
        }
    }
    // Random instants in every form, some of them broken by one character.
    for i in 0..60 {
        let epoch = g.below(253_402_300_800);
        let form = i % 3;
        let pivot = *g.pick(&[2026u32, 1970, 2100, 9999, year_of_epoch(epoch)]);
        let mut date = format_date(epoch, form);
        let mut name = format!("random {} date {i}", ["IMF-fixdate", "RFC 850", "asctime"][form]);
        if g.chance(30) {
            let mut bytes = date.into_bytes();
            let at = g.below(bytes.len() as u64) as usize;
            bytes[at] = *g.pick(b"0123456789 :,-AZaz");
            date = String::from_utf8(bytes).unwrap_or_default();
            name.push_str(", one character changed");
        }
        cases.push(json!({ "name": name, "type": "http_date", "value": date, "pivot_year": pivot }));
    }
    for epoch in [
        0u64,
        1,
        86_399,
        86_400,
        951_782_399,
        951_782_400,
        4_102_444_799,
        4_102_444_800,
        253_402_300_799,
        253_402_300_800,
        u64::from(u32::MAX) << 7,
        (u64::from(u32::MAX) << 7) + 127,
        (u64::from(u32::MAX) + 1) << 7,
        u64::MAX,
    ] {
        cases.push(json!({ "name": format!("year of {epoch}"), "type": "year_of", "epoch_s": epoch }));
    }
    for i in 0..20 {
        let epoch = g.below(1 << (20 + i * 2).min(63));
        cases.push(
            json!({ "name": format!("year of a random instant {i}"), "type": "year_of", "epoch_s": epoch }),
        );
    }
    // Random header sets: Date and Retry-After in random forms and orders.
    for i in 0..40 {
        let date_epoch = g.range(784_111_777, 4_102_444_800);
        let mut headers: Vec<[String; 2]> = Vec::new();
        if g.chance(80) {
            headers.push(["Date".into(), format_date(date_epoch, g.below(3) as usize)]);
        }
        for _ in 0..g.range(1, 2) {
            let value = if g.chance(50) {
                let ahead = g.below(4_000);
                format_date(date_epoch + ahead - 100, g.below(3) as usize)
            } else {
                g.pick(&["0", "5", "1.25", "-3", "x", "", "86400"]).to_string()
            };
            headers.push(["Retry-After".into(), value]);
        }
        if g.chance(30) {
            headers.reverse();
        }
        cases.push(json!({ "name": format!("random Retry-After headers {i}"), "type": "retry_after", "headers": headers }));
    }
    cases
}

/// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn civil(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

fn year_of_epoch(epoch: u64) -> u32 {
    civil(epoch / 86_400).0 as u32
}

/// An instant in one of the three forms: 0 IMF-fixdate, 1 RFC 850, 2 asctime.
fn format_date(epoch: u64, form: usize) -> String {
    const DAYS: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = epoch / 86_400;
    let (y, m, d) = civil(days);
    let day = DAYS[(days % 7) as usize];
    let month = MONTHS[(m - 1) as usize];
    let secs = epoch % 86_400;
    let time = format!("{:02}:{:02}:{:02}", secs / 3_600, secs / 60 % 60, secs % 60);
    match form {
        0 => format!("{}, {d:02} {month} {y} {time} GMT", &day[..3]),
        1 => format!("{day}, {d:02}-{month}-{:02} {time} GMT", y % 100),
        _ => format!("{} {month} {d:>2} {time} {y}", &day[..3]),
    }
}

// ---------------------------------------------------------------------------------------------

/// A body case: the bytes as a string when they are UTF-8, in hex otherwise.
fn body_case(name: &str, bytes: &[u8], capacity: usize, chunks: Option<Vec<usize>>) -> Value {
    let mut case = json!({ "name": name, "capacity": capacity });
    match std::str::from_utf8(bytes) {
        Ok(text) => case["body"] = json!(text),
        Err(_) => case["body_hex"] = json!(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()),
    }
    if let Some(chunks) = chunks {
        case["chunks"] = json!(chunks);
    }
    case
}

fn body_cases(g: &mut Gen) -> Vec<Value> {
    let nested = |depth: usize| {
        format!("{{\"errorMessage\":\"deep\",\"a\":{}1{}}}", "[".repeat(depth - 1), "]".repeat(depth - 1))
    };
    let deep_127 = nested(127);
    let deep_128 = nested(128);
    let long_message = format!("{{\"errorMessage\":\"{}\"}}", "x".repeat(2_000));
    let long_escapes = format!(
        "{{\"errorMessage\":\"{}\"}}",
        (0..40).map(|i| format!("{}\\n{}\\u00e9", "a".repeat(i % 9), "b".repeat(i % 7))).collect::<String>()
    );
    let long_unicode = format!(
        "{{\"errorMessage\":\"{}\"}}",
        (0..40).map(|i| format!("{}é€😀", "c".repeat(i % 11))).collect::<String>()
    );
    let long_skipped = format!(
        "{{\"detail\":\"{}\",\"errorMessage\":\"after a long skipped string\"}}",
        (0..30).map(|i| format!("{}\\\"{}\\\\", "d".repeat(i % 13), "é".repeat(i % 3))).collect::<String>()
    );
    let long_key = format!("{{\"{}\":1,\"errorMessageX\":2,\"errorMessage\":\"k\"}}", "key".repeat(30));
    let long_space = format!(
        "{{{s}\"a\"{s}:{s}[{s}1{s},{s}2{s}]{s},{s}\"errorMessage\"{s}:{s}\"spaced\"{s}}}{s}",
        s = " \t\r\n".repeat(9)
    );
    let long_number = format!(
        "{{\"n\":-{}.{}e+{},\"t\":[true,false,null,{}],\"errorMessage\":\"numbers\"}}",
        "9".repeat(40),
        "1".repeat(30),
        "2".repeat(20),
        "true,".repeat(20) + "null"
    );
    let mut long_control = format!("{{\"errorMessage\":\"{}", "e".repeat(37)).into_bytes();
    long_control.extend_from_slice(b"\x1f more\"}");
    let long_raw =
        format!("<!DOCTYPE html>\n<html>{}</html>", "<p>Service   Unavailable\t</p>\r\n".repeat(12));
    let mut long_raw_bytes = b"<html> ".repeat(5);
    long_raw_bytes.extend_from_slice(b"caf\xc3\xa9 \xff\xfe \x07 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f end");
    let many_values =
        format!("{{\"a\":[{}],\"errorMessage\":\"many\"}}", vec!["{\"b\":[1,\"s\",{}]}"; 25].join(","));
    let hand: Vec<(&str, Vec<u8>)> = vec![
        ("the documented message", BODIES[0].into()),
        ("error fallback", br#"{"error":"unauthorized"}"#.to_vec()),
        ("errorMessage after error", br#"{"error":"first","errorMessage":"second"}"#.to_vec()),
        ("error after errorMessage", br#"{"errorMessage":"first","error":"second"}"#.to_vec()),
        ("errorMessage repeated: the last", br#"{"errorMessage":"one","errorMessage":"two"}"#.to_vec()),
        ("errorMessage then a non-string errorMessage", br#"{"errorMessage":"one","errorMessage":2}"#.to_vec()),
        ("errorMessage null, error string", br#"{"errorMessage":null,"error":"e"}"#.to_vec()),
        ("error null", br#"{"error":null}"#.to_vec()),
        ("errorMessage an object", br#"{"errorMessage":{"errorMessage":"inner"}}"#.to_vec()),
        ("errorMessage an array", br#"{"errorMessage":["x"]}"#.to_vec()),
        ("nested errorMessage only", br#"{"data":{"errorMessage":"nested"}}"#.to_vec()),
        ("errorMessage in an array", br#"{"errors":[{"errorMessage":"nested"}]}"#.to_vec()),
        ("a key spelled with an escape", br#"{"error\u004dessage":"escaped key"}"#.to_vec()),
        ("a key with an escaped slash", br#"{"error\/Message":"no"}"#.to_vec()),
        ("a longer key", br#"{"errorMessages":"no"}"#.to_vec()),
        ("a shorter key", br#"{"errorMessag":"no"}"#.to_vec()),
        ("a key with a non-ASCII byte", "{\"errorMessagé\":\"no\",\"é\":1}".into()),
        ("a key with an escaped non-ASCII character", br#"{"\u00e9":"x","error":"kept"}"#.to_vec()),
        ("empty object", b"{}".to_vec()),
        ("empty key", br#"{"":"x"}"#.to_vec()),
        ("every escape", br#"{"errorMessage":"\" \\ \/ \b \f \n \r \t"}"#.to_vec()),
        ("unicode escapes", br#"{"errorMessage":"\u0041\u00e9\u20ac\uFFFF\u0000"}"#.to_vec()),
        ("a surrogate pair", br#"{"errorMessage":"\ud83d\ude00"}"#.to_vec()),
        ("a lone high surrogate", br#"{"errorMessage":"a\ud83db"}"#.to_vec()),
        ("a lone high surrogate at the end", br#"{"errorMessage":"a\ud83d"}"#.to_vec()),
        ("a lone low surrogate", br#"{"errorMessage":"\ude00"}"#.to_vec()),
        ("two high surrogates", br#"{"errorMessage":"\ud83d\ud83d\ude00"}"#.to_vec()),
        ("a high surrogate and another escape", br#"{"errorMessage":"\ud83d\n"}"#.to_vec()),
        ("a high surrogate and a BMP escape", br#"{"errorMessage":"\ud83d\u0041"}"#.to_vec()),
        ("a bad escape", br#"{"errorMessage":"\x"}"#.to_vec()),
        ("a short unicode escape", br#"{"errorMessage":"\u12"}"#.to_vec()),
        ("a bad hex digit", br#"{"errorMessage":"\u12G4"}"#.to_vec()),
        ("upper-case hex", br#"{"errorMessage":"\u00C9\u00e9"}"#.to_vec()),
        ("a raw control character", b"{\"errorMessage\":\"a\x01b\"}".to_vec()),
        ("a raw tab in a string", b"{\"errorMessage\":\"a\tb\"}".to_vec()),
        ("a raw DEL", b"{\"errorMessage\":\"a\x7fb\"}".to_vec()),
        ("UTF-8 in the message", "{\"errorMessage\":\"é € 😀\"}".into()),
        ("invalid UTF-8: a lone continuation byte", b"{\"errorMessage\":\"a\x80b\"}".to_vec()),
        ("invalid UTF-8: an overlong form", b"{\"errorMessage\":\"\xc0\xaf\"}".to_vec()),
        ("invalid UTF-8: an encoded surrogate", b"{\"errorMessage\":\"\xed\xa0\x80\"}".to_vec()),
        ("invalid UTF-8: past U+10FFFF", b"{\"errorMessage\":\"\xf4\x90\x80\x80\"}".to_vec()),
        ("invalid UTF-8: a sequence cut by the quote", b"{\"errorMessage\":\"\xe2\x82\"}".to_vec()),
        ("invalid UTF-8: a sequence cut by an escape", b"{\"errorMessage\":\"\xe2\\n\"}".to_vec()),
        ("invalid UTF-8: F5 and FF", b"{\"errorMessage\":\"\xf5\xff\"}".to_vec()),
        ("invalid UTF-8 in a skipped string", b"{\"other\":\"\xff\",\"errorMessage\":\"ok\"}".to_vec()),
        ("invalid UTF-8 in a nested key", b"{\"a\":{\"\xff\":1},\"errorMessage\":\"ok\"}".to_vec()),
        ("a BOM", b"\xef\xbb\xbf{\"errorMessage\":\"after a BOM\"}".to_vec()),
        ("a BOM then whitespace", b"\xef\xbb\xbf \n{\"errorMessage\":\"x\"}".to_vec()),
        ("half a BOM", b"\xef\xbb{\"errorMessage\":\"x\"}".to_vec()),
        ("a third of a BOM", b"\xef{}".to_vec()),
        ("only a BOM", b"\xef\xbb\xbf".to_vec()),
        ("two thirds of a BOM, then nothing", b"\xef\xbb".to_vec()),
        ("one third of a BOM, then nothing", b"\xef".to_vec()),
        ("a BOM-like start of a character", b"\xef\xbc\x81 text".to_vec()),
        ("whitespace then a BOM", b" \xef\xbb\xbf{}".to_vec()),
        ("two BOMs", b"\xef\xbb\xbf\xef\xbb\xbf{}".to_vec()),
        ("whitespace around", b" \t\r\n{\"errorMessage\":\"x\"} \t\r\n".to_vec()),
        ("form feed is not JSON whitespace", b"\x0c{}".to_vec()),
        ("trailing content", br#"{"errorMessage":"x"} x"#.to_vec()),
        ("a second object", br#"{"errorMessage":"x"}{}"#.to_vec()),
        ("empty", Vec::new()),
        ("whitespace only", b" \r\n\t ".to_vec()),
        ("cut after the key", br#"{"errorMessage""#.to_vec()),
        ("cut in the message", br#"{"errorMessage":"Too many"#.to_vec()),
        ("cut after the message", br#"{"errorMessage":"Too many requests""#.to_vec()),
        ("cut in an escape", br#"{"errorMessage":"a\"#.to_vec()),
        ("cut in a unicode escape", br#"{"errorMessage":"a\u00"#.to_vec()),
        ("cut in a literal", br#"{"a":tr"#.to_vec()),
        ("cut in a number", br#"{"a":12"#.to_vec()),
        ("only an opening brace", b"{".to_vec()),
        ("a missing colon", br#"{"errorMessage" "x"}"#.to_vec()),
        ("a missing value", br#"{"errorMessage":}"#.to_vec()),
        ("a trailing comma in the object", br#"{"errorMessage":"x",}"#.to_vec()),
        ("a trailing comma in an array", br#"{"a":[1,],"errorMessage":"x"}"#.to_vec()),
        ("a leading comma in an array", br#"{"a":[,1]}"#.to_vec()),
        ("an empty array", br#"{"a":[],"errorMessage":"x"}"#.to_vec()),
        ("a mismatched closer", br#"{"a":[1}"#.to_vec()),
        ("a mismatched closer 2", br#"{"a":{"b":1]}"#.to_vec()),
        ("an unquoted key", br#"{errorMessage:"x"}"#.to_vec()),
        ("a single-quoted string", br#"{'errorMessage':'x'}"#.to_vec()),
        ("numbers of every form", br#"{"a":0,"b":-0,"c":1.5,"d":-1.5e10,"e":1E+2,"f":1e-2,"g":123456789012345678901234567890,"errorMessage":"n"}"#.to_vec()),
        ("a leading zero", br#"{"a":01}"#.to_vec()),
        ("a bare minus", br#"{"a":-}"#.to_vec()),
        ("a minus then a letter", br#"{"a":-a}"#.to_vec()),
        ("a dot without digits", br#"{"a":1.}"#.to_vec()),
        ("a leading dot", br#"{"a":.5}"#.to_vec()),
        ("an exponent without digits", br#"{"a":1e}"#.to_vec()),
        ("an exponent sign without digits", br#"{"a":1e+}"#.to_vec()),
        ("a plus sign", br#"{"a":+1}"#.to_vec()),
        ("a number then a string", br#"{"a":1"b"}"#.to_vec()),
        ("a number ending the object", br#"{"a":1}"#.to_vec()),
        ("a number ending an array", br#"{"a":[1,2.5,3e3]}"#.to_vec()),
        ("literals", br#"{"a":true,"b":false,"c":null,"errorMessage":"l"}"#.to_vec()),
        ("a broken literal", br#"{"a":tru}"#.to_vec()),
        ("a long literal", br#"{"a":nulll}"#.to_vec()),
        ("a capital literal", br#"{"a":True}"#.to_vec()),
        ("nested 127 deep", deep_127.into_bytes()),
        ("nested 128 deep: refused", deep_128.into_bytes()),
        ("a top-level array", br#"[{"errorMessage":"x"}]"#.to_vec()),
        ("a top-level string", br#""errorMessage""#.to_vec()),
        ("a top-level number", b"503".to_vec()),
        ("plain text", b"Service Unavailable".to_vec()),
        ("an nginx page", NGINX_502.into()),
        ("text with runs of whitespace", b"  a \t\r\n b  \n".to_vec()),
        ("text with control characters", b"a\x00b\x1bc\x7fd".to_vec()),
        ("text with a C1 control", "a\u{85}b\u{9f}c".into()),
        ("text with invalid UTF-8", b"a\xffb\xc3".to_vec()),
        ("text ending in a cut character", b"abc\xe2\x82".to_vec()),
        ("text with a form feed and a vertical tab", b"a\x0cb\x0bc".to_vec()),
        ("a long message", long_message.into_bytes()),
        ("a long message with escapes at every offset", long_escapes.into_bytes()),
        ("a long message with non-ASCII at every offset", long_unicode.into_bytes()),
        ("a long skipped string with escapes, then the message", long_skipped.into_bytes()),
        ("a long key, then the message", long_key.into_bytes()),
        ("long runs of whitespace between tokens", long_space.into_bytes()),
        ("a long number and long literals", long_number.into_bytes()),
        ("a control character late in a long string", long_control),
        ("a long raw page", long_raw.into_bytes()),
        ("a long raw page with invalid UTF-8 and controls", long_raw_bytes),
        ("many small values", many_values.into_bytes()),
    ];
    let mut cases = Vec::new();
    for (name, bytes) in &hand {
        cases.push(body_case(name, bytes, 64, None));
        let chunks = g.split(bytes.len());
        // Long bodies in chunks keep their whole message: every byte of it goes through the
        // capture path.
        let capacity = if bytes.len() > 200 { 1024 } else { 64 };
        cases.push(body_case(&format!("{name}, in chunks"), bytes, capacity, Some(chunks)));
    }
    // Capacities: text cut at a character boundary.
    let message = "{\"errorMessage\":\"aé€😀z\"}";
    let raw = "<p>aé€😀 z</p>";
    for capacity in [0, 1, 2, 3, 4, 8, 16] {
        cases.push(body_case(&format!("message in capacity {capacity}"), message.as_bytes(), capacity, None));
        cases.push(body_case(&format!("raw text in capacity {capacity}"), raw.as_bytes(), capacity, None));
        let spaced = "ab   cd";
        cases.push(body_case(
            &format!("raw text with a space in capacity {capacity}"),
            spaced.as_bytes(),
            capacity,
            None,
        ));
    }
    cases.push(body_case(
        "an nginx page in capacity 16, byte by byte",
        NGINX_502.as_bytes(),
        16,
        Some(vec![1; NGINX_502.len()]),
    ));
    cases.push(body_case(
        "a long message in capacity 16, byte by byte",
        message.as_bytes(),
        16,
        Some(vec![1; message.len()]),
    ));
    cases.push(body_case("invalid then more chunks", br#"{"a":}   more"#, 64, Some(vec![6, 3, 4])));
    cases.push(body_case("empty chunks", br#"{"errorMessage":"x"}"#, 64, Some(vec![0, 5, 0, 0, 15, 0])));
    // Random bodies: JSON-like objects, some broken by a byte.
    for i in 0..150 {
        let mut bytes = random_object(g, 0).into_bytes();
        let mut name = format!("random body {i}");
        match g.below(10) {
            0 | 1 => {
                let at = g.below(bytes.len() as u64) as usize;
                bytes.remove(at);
                name.push_str(", a byte removed");
            }
            2 => {
                let at = g.below(bytes.len() as u64 + 1) as usize;
                bytes.insert(at, *g.pick(b"{}[]\",:\\ \x00\xff\xc3x1"));
                name.push_str(", a byte inserted");
            }
            3 => {
                let at = g.below(bytes.len() as u64) as usize;
                bytes.truncate(at);
                name.push_str(", cut");
            }
            _ => {}
        }
        let capacity = *g.pick(&[1usize, 4, 8, 16, 64, 64, 128]);
        let chunks = if g.chance(60) { Some(g.split(bytes.len())) } else { None };
        cases.push(body_case(&name, &bytes, capacity, chunks));
    }
    cases
}

/// A random JSON object of the kind an error body is, with the keys that matter.
fn random_object(g: &mut Gen, depth: u32) -> String {
    let keys = ["errorMessage", "error", "message", "code", "errors", "error\\u004dessage", "", "détail"];
    let mut out = String::from("{");
    for i in 0..g.range(0, 4) {
        if i > 0 {
            out.push(',');
        }
        if g.chance(20) {
            out.push(' ');
        }
        out.push_str(&format!("\"{}\":", g.pick(&keys)));
        out.push_str(&random_value(g, depth + 1));
    }
    out.push('}');
    out
}

fn random_value(g: &mut Gen, depth: u32) -> String {
    let pieces = [
        "a",
        "é",
        "€",
        "😀",
        "\\n",
        "\\\"",
        "\\\\",
        "\\u00e9",
        "\\ud83d\\ude00",
        "\\ud83d",
        "\\ude00",
        " ",
        "\\/",
        "\\t",
    ];
    match g.below(if depth > 3 { 5 } else { 7 }) {
        0 | 1 => {
            let mut s = String::from("\"");
            for _ in 0..g.range(0, 12) {
                let piece: &str = pieces[g.below(pieces.len() as u64) as usize];
                s.push_str(piece);
            }
            s.push('"');
            s
        }
        2 => g.pick(&["0", "-1", "1.5", "2e10", "-0.0E-3", "123456789"]).to_string(),
        3 => g.pick(&["true", "false", "null"]).to_string(),
        4 => "[]".into(),
        5 => random_object(g, depth),
        _ => {
            let items: Vec<String> = (0..g.range(1, 3)).map(|_| random_value(g, depth + 1)).collect();
            format!("[{}]", items.join(","))
        }
    }
}

// ---------------------------------------------------------------------------------------------

fn rl_observe(now: u64, status: u16, headers: &[(&str, &str)]) -> Value {
    json!({ "op": "observe", "now": now, "status": status, "headers": headers.iter().map(|(n, v)| [*n, *v]).collect::<Vec<_>>() })
}

fn rl_acquire(now: u64, context: Option<&str>) -> Value {
    json!({ "op": "acquire", "now": now, "context": context })
}

fn rl_hold(now: u64, context: Option<&str>) -> Value {
    json!({ "op": "hold_until", "now": now, "context": context })
}

fn rl_case(name: &str, capacity: usize, pacing: &str, max_hold: Option<u32>, steps: Vec<Value>) -> Value {
    let mut case = json!({ "name": name, "capacity": capacity, "pacing": pacing, "steps": steps });
    if let Some(ms) = max_hold {
        case["max_hold_ms"] = json!(ms);
    }
    case
}

fn rate_limit_cases(g: &mut Gen) -> Vec<Value> {
    let mut cases = Vec::new();
    let ev = "events";
    for pacing in ["burst", "smooth"] {
        cases.push(rl_case(
            &format!("{pacing}: the documented 429 holds its context"),
            4,
            pacing,
            None,
            vec![
                rl_acquire(0, Some(ev)),
                rl_observe(10, 429, &[("Retry-After", "8"), ("X-RateLimit-Context", ev)]),
                rl_acquire(20, Some(ev)),
                rl_acquire(20, Some("people")),
                rl_hold(20, Some(ev)),
                rl_hold(20, None),
                rl_acquire(8_009, Some(ev)),
                rl_acquire(8_010, Some(ev)),
            ],
        ));
        cases.push(rl_case(
            &format!("{pacing}: a 429 naming no context holds all"),
            4,
            pacing,
            None,
            vec![
                rl_acquire(0, Some(ev)),
                rl_observe(10, 429, &[("Retry-After", "3")]),
                rl_acquire(20, Some(ev)),
                rl_acquire(20, Some("people")),
                rl_acquire(20, None),
                rl_acquire(3_010, None),
            ],
        ));
        cases.push(rl_case(
            &format!("{pacing}: a 503's Retry-After holds; a 500's does not"),
            4,
            pacing,
            None,
            vec![
                rl_observe(0, 500, &[("Retry-After", "5"), ("X-RateLimit-Context", ev)]),
                rl_acquire(1, Some(ev)),
                rl_observe(2, 503, &[("Retry-After", "5"), ("X-RateLimit-Context", ev)]),
                rl_acquire(3, Some(ev)),
                rl_observe(4, 200, &[("Retry-After", "50"), ("X-RateLimit-Context", ev)]),
                rl_hold(5, Some(ev)),
            ],
        ));
        let mut steps = vec![
            rl_acquire(0, Some(ev)),
            rl_observe(
                100,
                200,
                &[
                    ("X-RateLimit-Limit", "5"),
                    ("X-RateLimit-Remaining", "4"),
                    ("X-RateLimit-Window", "10"),
                    ("X-RateLimit-Context", ev),
                ],
            ),
        ];
        let mut now = 100;
        for _ in 0..8 {
            now += 50;
            steps.push(rl_acquire(now, Some(ev)));
        }
        steps.push(rl_hold(now, Some(ev)));
        cases.push(rl_case(&format!("{pacing}: a window of 5 per 10 s, then sends"), 4, pacing, None, steps));
        cases.push(rl_case(
            &format!("{pacing}: four in flight, then a Remaining that left before them"),
            4,
            pacing,
            None,
            vec![
                rl_observe(
                    0,
                    200,
                    &[
                        ("X-RateLimit-Limit", "20"),
                        ("X-RateLimit-Remaining", "10"),
                        ("X-RateLimit-Window", "10"),
                        ("X-RateLimit-Context", ev),
                    ],
                ),
                rl_acquire(10, Some(ev)),
                rl_acquire(11, Some(ev)),
                rl_acquire(12, Some(ev)),
                rl_acquire(13, Some(ev)),
                rl_observe(
                    50,
                    200,
                    &[
                        ("X-RateLimit-Limit", "20"),
                        ("X-RateLimit-Remaining", "3"),
                        ("X-RateLimit-Window", "10"),
                        ("X-RateLimit-Context", ev),
                    ],
                ),
                rl_acquire(60, Some(ev)),
                rl_acquire(61, Some(ev)),
                rl_acquire(62, Some(ev)),
                rl_hold(63, Some(ev)),
                json!({ "op": "abandon", "context": ev }),
                json!({ "op": "abandon", "context": null }),
                rl_acquire(64, Some(ev)),
            ],
        ));
        cases.push(rl_case(
            &format!("{pacing}: a hold past max_hold_ms is believed only so long"),
            4,
            pacing,
            Some(5_000),
            vec![
                rl_observe(0, 429, &[("Retry-After", "60"), ("X-RateLimit-Context", ev)]),
                rl_acquire(1, Some(ev)),
                rl_hold(4_999, Some(ev)),
                rl_acquire(5_000, Some(ev)),
            ],
        ));
        cases.push(rl_case(
            &format!("{pacing}: Retry-After over a spent window"),
            4,
            pacing,
            None,
            vec![
                rl_observe(
                    0,
                    200,
                    &[
                        ("X-RateLimit-Limit", "2"),
                        ("X-RateLimit-Remaining", "0"),
                        ("X-RateLimit-Window", "60"),
                        ("X-RateLimit-Context", ev),
                    ],
                ),
                rl_acquire(1, Some(ev)),
                rl_observe(
                    2,
                    429,
                    &[
                        ("Retry-After", "2"),
                        ("X-RateLimit-Limit", "2"),
                        ("X-RateLimit-Remaining", "0"),
                        ("X-RateLimit-Window", "60"),
                        ("X-RateLimit-Context", ev),
                    ],
                ),
                rl_acquire(3, Some(ev)),
                rl_acquire(2_002, Some(ev)),
            ],
        ));
        for capacity in [0, 1, 2] {
            cases.push(rl_case(
                &format!("{pacing}: eviction with room for {capacity} contexts"),
                capacity,
                pacing,
                None,
                vec![
                    rl_observe(0, 429, &[("Retry-After", "5"), ("X-RateLimit-Context", "a")]),
                    rl_observe(10, 429, &[("Retry-After", "1"), ("X-RateLimit-Context", "b")]),
                    rl_observe(20, 200, &[("X-RateLimit-Context", "c")]),
                    rl_acquire(30, Some("a")),
                    rl_acquire(30, Some("b")),
                    rl_acquire(30, Some("c")),
                    rl_acquire(30, Some("d")),
                    rl_acquire(5_000, Some("d")),
                    rl_acquire(5_000, None),
                ],
            ));
        }
        let long_a = "context-name-longer-than-24-bytes-a";
        let long_b = "context-name-longer-than-24-bytes-b";
        cases.push(rl_case(
            &format!("{pacing}: long names sharing a prefix stay apart"),
            4,
            pacing,
            None,
            vec![
                rl_observe(0, 429, &[("Retry-After", "5"), ("X-RateLimit-Context", long_a)]),
                rl_acquire(1, Some(long_a)),
                rl_acquire(1, Some(long_b)),
                rl_acquire(1, Some("context-name-longer-than")),
            ],
        ));
        cases.push(rl_case(
            &format!("{pacing}: unprintable and empty contexts are no context"),
            4,
            pacing,
            None,
            vec![
                rl_observe(0, 429, &[("Retry-After", "5"), ("X-RateLimit-Context", "has space")]),
                rl_acquire(1, Some("x")),
                rl_observe(6_000, 429, &[("Retry-After", "5"), ("X-RateLimit-Context", "")]),
                rl_acquire(6_001, Some("y")),
            ],
        ));
        cases.push(rl_case(
            &format!("{pacing}: a clock that goes back"),
            4,
            pacing,
            None,
            vec![
                rl_observe(10_000, 429, &[("Retry-After", "5"), ("X-RateLimit-Context", ev)]),
                rl_acquire(1_000, Some(ev)),
                rl_acquire(15_000, Some(ev)),
                rl_observe(u64::MAX - 1, 429, &[("Retry-After", "5"), ("X-RateLimit-Context", ev)]),
                rl_acquire(u64::MAX, Some(ev)),
            ],
        ));
        // Dialects through observe_dialect.
        let github = dialect_json(&Dialect::GITHUB);
        let discord = dialect_json(&Dialect::DISCORD);
        let ietf = dialect_json(&Dialect::IETF_DRAFT_11);
        let with = |mut step: Value, d: &Value| {
            step["dialect"] = d.clone();
            step
        };
        cases.push(rl_case(
            &format!("{pacing}: GitHub's spent quota holds its resource until the reset"),
            4,
            pacing,
            None,
            vec![
                with(
                    rl_observe(
                        0,
                        403,
                        &[
                            ("Date", "Wed, 01 Jan 2025 00:00:00 GMT"),
                            ("x-ratelimit-limit", "60"),
                            ("x-ratelimit-remaining", "0"),
                            ("x-ratelimit-reset", "1735689630"),
                            ("x-ratelimit-resource", "core"),
                        ],
                    ),
                    &github,
                ),
                rl_acquire(1, Some("core")),
                rl_acquire(1, Some("search")),
                rl_acquire(30_000, Some("core")),
            ],
        ));
        cases.push(rl_case(
            &format!("{pacing}: Discord's global limit holds everything"),
            4,
            pacing,
            None,
            vec![
                with(
                    rl_observe(
                        0,
                        429,
                        &[
                            ("Retry-After", "2"),
                            ("X-RateLimit-Global", "true"),
                            ("X-RateLimit-Bucket", "abc"),
                        ],
                    ),
                    &discord,
                ),
                rl_acquire(1, Some("abc")),
                rl_acquire(1, Some("other")),
                with(
                    rl_observe(
                        3_000,
                        429,
                        &[
                            ("Retry-After", "2"),
                            ("X-RateLimit-Scope", "shared"),
                            ("X-RateLimit-Bucket", "abc"),
                        ],
                    ),
                    &discord,
                ),
                rl_acquire(3_001, Some("abc")),
                with(
                    rl_observe(
                        6_000,
                        200,
                        &[
                            ("X-RateLimit-Limit", "5"),
                            ("X-RateLimit-Remaining", "0"),
                            ("X-RateLimit-Reset-After", "1.25"),
                            ("X-RateLimit-Bucket", "abc"),
                        ],
                    ),
                    &discord,
                ),
                rl_acquire(6_001, Some("abc")),
                rl_acquire(7_250, Some("abc")),
            ],
        ));
        cases.push(rl_case(
            &format!("{pacing}: the IETF fields pace and hold"),
            4,
            pacing,
            None,
            vec![
                with(
                    rl_observe(
                        0,
                        200,
                        &[
                            ("RateLimit", "\"default\";r=0;t=3"),
                            ("RateLimit-Policy", "\"default\";q=10;w=10"),
                        ],
                    ),
                    &ietf,
                ),
                rl_acquire(1, Some("default")),
                rl_acquire(3_000, Some("default")),
                with(
                    rl_observe(
                        4_000,
                        200,
                        &[
                            ("RateLimit", "\"default\";r=5;t=3"),
                            ("RateLimit-Policy", "\"default\";q=10;w=10"),
                        ],
                    ),
                    &ietf,
                ),
                rl_acquire(4_001, Some("default")),
                rl_acquire(4_002, Some("default")),
                with(rl_observe(5_000, 200, &[("RateLimit", "r=0;t=2")]), &ietf),
                rl_acquire(5_001, Some("anything")),
            ],
        ));
    }
    // Random sequences.
    let contexts = [
        None,
        Some("global"),
        Some("events"),
        Some("people"),
        Some("POST.events"),
        Some("context-name-longer-than-24-bytes-a"),
        Some("context-name-longer-than-24-bytes-b"),
    ];
    for i in 0..60 {
        let capacity = *g.pick(&[0usize, 1, 2, 3, 4, 8]);
        let pacing = *g.pick(&["burst", "smooth"]);
        let max_hold = if g.chance(30) { Some(*g.pick(&[1_000u32, 5_000, 600_000])) } else { None };
        let mut now = 0;
        let mut steps = Vec::new();
        for _ in 0..g.range(4, 24) {
            now += g.below(3_000);
            let context = *g.pick(&contexts);
            match g.below(10) {
                0..=3 => {
                    let status = *g.pick(&[200u16, 201, 429, 429, 503, 500, 403]);
                    let limit = g.pick(&["1", "2", "5", "20"]).to_string();
                    let remaining = g.range(0, 5).to_string();
                    let window = g.pick(&["1", "2", "10"]).to_string();
                    let retry_after = g.pick(&["0", "1", "2", "5", "1.5", "700", "x"]).to_string();
                    let mut headers: Vec<(&str, &str)> = Vec::new();
                    if g.chance(70) {
                        headers.extend([
                            ("X-RateLimit-Limit", limit.as_str()),
                            ("X-RateLimit-Remaining", remaining.as_str()),
                            ("X-RateLimit-Window", window.as_str()),
                        ]);
                    }
                    if g.chance(40) {
                        headers.push(("Retry-After", retry_after.as_str()));
                    }
                    if let Some(c) = context {
                        headers.push(("X-RateLimit-Context", c));
                    }
                    steps.push(rl_observe(now, status, &headers));
                }
                4..=7 => steps.push(rl_acquire(now, context)),
                8 => steps.push(json!({ "op": "abandon", "context": context })),
                _ => steps.push(rl_hold(now, context)),
            }
        }
        cases.push(rl_case(&format!("random sequence {i}"), capacity, pacing, max_hold, steps));
    }
    cases
}

// ---------------------------------------------------------------------------------------------

fn dialect_case(name: &str, dialect: &Dialect, headers: &[(&str, &str)]) -> Value {
    json!({
        "name": name, "type": "read", "dialect": dialect_json(dialect),
        "headers": headers.iter().map(|(n, v)| [*n, *v]).collect::<Vec<_>>(),
        "told_for": [200, 403, 429, 503],
    })
}

fn dialect_cases(g: &mut Gen) -> Vec<Value> {
    let mut cases = Vec::new();
    let fub = Dialect::FOLLOW_UP_BOSS;
    let gh = Dialect::GITHUB;
    let dc = Dialect::DISCORD;
    let ietf = Dialect::IETF_DRAFT_11;
    const ACME: Dialect = Dialect {
        remaining: Some("ratelimit-remaining"),
        reset: Some(("ratelimit-reset", backoff_core::ResetUnit::SecondsFromNow)),
        ..Dialect::FOLLOW_UP_BOSS
    };
    const GITHUB_IETF: Dialect = Dialect { ietf: true, ..Dialect::GITHUB };
    type Hand<'a> = (&'a str, &'a Dialect, &'a [(&'a str, &'a str)]);
    let hand: &[Hand] = &[
        (
            "Follow Up Boss: every header",
            &fub,
            &[
                ("X-RateLimit-Limit", "20"),
                ("X-RateLimit-Remaining", "19"),
                ("X-RateLimit-Window", "10"),
                ("X-RateLimit-Context", "events"),
            ],
        ),
        (
            "Follow Up Boss: a 429's",
            &fub,
            &[
                ("Retry-After", "8"),
                ("X-RateLimit-Limit", "20"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Window", "10"),
                ("X-RateLimit-Context", "POST.events"),
            ],
        ),
        (
            "Follow Up Boss: garbage values",
            &fub,
            &[
                ("X-RateLimit-Limit", "-1"),
                ("X-RateLimit-Remaining", "x"),
                ("X-RateLimit-Window", ""),
                ("X-RateLimit-Context", "two words"),
            ],
        ),
        (
            "Follow Up Boss: values past 32 bits",
            &fub,
            &[("X-RateLimit-Limit", "99999999999"), ("X-RateLimit-Window", "4294968")],
        ),
        (
            "Follow Up Boss: names in any case, values padded",
            &fub,
            &[("x-ratelimit-LIMIT", " 5 "), ("X-RATELIMIT-context", " global ")],
        ),
        (
            "Follow Up Boss: a reset header is not read",
            &fub,
            &[("X-RateLimit-Reset", "5"), ("X-RateLimit-Remaining", "0")],
        ),
        (
            "Follow Up Boss: a long context",
            &fub,
            &[("X-RateLimit-Context", "a-context-name-longer-than-twenty-four-bytes")],
        ),
        (
            "Follow Up Boss: the last of a repeated header",
            &fub,
            &[("X-RateLimit-Remaining", "3"), ("X-RateLimit-Remaining", "1")],
        ),
        (
            "GitHub: the documented headers",
            &gh,
            &[
                ("Date", "Mon, 01 Jul 2013 17:27:06 GMT"),
                ("x-ratelimit-limit", "60"),
                ("x-ratelimit-remaining", "56"),
                ("x-ratelimit-used", "4"),
                ("x-ratelimit-reset", "1372700873"),
                ("x-ratelimit-resource", "core"),
            ],
        ),
        (
            "GitHub: spent, reset against Date",
            &gh,
            &[
                ("Date", "Mon, 01 Jul 2013 17:27:06 GMT"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1372700873"),
            ],
        ),
        (
            "GitHub: reset before Date",
            &gh,
            &[
                ("Date", "Mon, 01 Jul 2013 17:27:06 GMT"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1372700000"),
            ],
        ),
        (
            "GitHub: reset with a fraction",
            &gh,
            &[
                ("Date", "Mon, 01 Jul 2013 17:27:06 GMT"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1372697227.5"),
            ],
        ),
        (
            "GitHub: reset without Date",
            &gh,
            &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1372700873")],
        ),
        (
            "GitHub: Date after the reset",
            &gh,
            &[
                ("x-ratelimit-reset", "1372700873"),
                ("x-ratelimit-remaining", "0"),
                ("Date", "Mon, 01 Jul 2013 17:27:06 GMT"),
            ],
        ),
        (
            "GitHub: a secondary limit's retry-after",
            &gh,
            &[("retry-after", "60"), ("x-ratelimit-remaining", "12")],
        ),
        (
            "GitHub: garbage reset",
            &gh,
            &[
                ("Date", "Mon, 01 Jul 2013 17:27:06 GMT"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "soon"),
            ],
        ),
        (
            "GitHub with the IETF fields",
            &GITHUB_IETF,
            &[
                ("x-ratelimit-remaining", "7"),
                ("RateLimit", "\"core\";r=3;t=20"),
                ("RateLimit-Policy", "\"core\";q=60;w=3600"),
            ],
        ),
        (
            "Discord: the documented headers",
            &dc,
            &[
                ("X-RateLimit-Limit", "5"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", "1470173023"),
                ("X-RateLimit-Reset-After", "1"),
                ("X-RateLimit-Bucket", "abcd1234"),
            ],
        ),
        (
            "Discord: a fractional reset",
            &dc,
            &[
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset-After", "64.57"),
                ("X-RateLimit-Bucket", "abcd1234"),
            ],
        ),
        (
            "Discord: global",
            &dc,
            &[("Retry-After", "65"), ("X-RateLimit-Global", "true"), ("X-RateLimit-Scope", "global")],
        ),
        ("Discord: global in capitals", &dc, &[("X-RateLimit-Global", "TRUE")]),
        ("Discord: global false", &dc, &[("X-RateLimit-Global", "false")]),
        (
            "Discord: shared",
            &dc,
            &[("Retry-After", "5"), ("X-RateLimit-Scope", "shared"), ("X-RateLimit-Bucket", "b")],
        ),
        (
            "Discord: user",
            &dc,
            &[("Retry-After", "5"), ("X-RateLimit-Scope", "user"), ("X-RateLimit-Bucket", "b")],
        ),
        (
            "Discord: global beats shared",
            &dc,
            &[("X-RateLimit-Scope", "shared"), ("X-RateLimit-Global", "true")],
        ),
        ("Discord: garbage reset", &dc, &[("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset-After", "-1")]),
        (
            "IETF: the draft's example",
            &ietf,
            &[("RateLimit", "\"default\";r=50;t=30"), ("RateLimit-Policy", "\"default\";q=100;w=60")],
        ),
        (
            "IETF: spent",
            &ietf,
            &[("RateLimit", "\"default\";r=0;t=30"), ("RateLimit-Policy", "\"default\";q=100;w=60")],
        ),
        (
            "IETF: the most restrictive item",
            &ietf,
            &[
                ("RateLimit", "\"a\";r=5;t=10, \"b\";r=2;t=50, \"c\";r=9;t=1"),
                ("RateLimit-Policy", "\"a\";q=10;w=10, \"b\";q=5;w=60, \"c\";q=100;w=1"),
            ],
        ),
        (
            "IETF: of the spent, the longest reset",
            &ietf,
            &[("RateLimit", "\"a\";r=0;t=10, \"b\";r=0;t=50, \"c\";r=0;t=20")],
        ),
        (
            "IETF: lines of one field are one list",
            &ietf,
            &[("RateLimit", "\"a\";r=5;t=10"), ("RateLimit", "\"b\";r=1;t=20")],
        ),
        (
            "IETF: a malformed line voids the field",
            &ietf,
            &[("RateLimit", "\"a\";r=5;t=10"), ("RateLimit", "\"b\";r=1;t=")],
        ),
        ("IETF: an empty line among several", &ietf, &[("RateLimit", "\"a\";r=5;t=10"), ("RateLimit", "")]),
        (
            "IETF: no RateLimit: the slowest policy",
            &ietf,
            &[("RateLimit-Policy", "\"fast\";q=100;w=1, \"slow\";q=10;w=60")],
        ),
        (
            "IETF: a policy in other units",
            &ietf,
            &[
                ("RateLimit", "\"bytes\";r=0;t=5"),
                ("RateLimit-Policy", "\"bytes\";q=1000;w=60;qu=\"content-bytes\""),
            ],
        ),
        (
            "IETF: other units, some left",
            &ietf,
            &[
                ("RateLimit", "\"bytes\";r=10;t=5, \"req\";r=20;t=5"),
                ("RateLimit-Policy", "\"bytes\";q=1000;w=60;qu=\"content-bytes\", \"req\";q=100;w=60"),
            ],
        ),
        (
            "IETF: qu=\"requests\"",
            &ietf,
            &[("RateLimit", "\"x\";r=1;t=5"), ("RateLimit-Policy", "\"x\";q=10;w=60;qu=\"requests\"")],
        ),
        ("IETF: from a cache", &ietf, &[("Age", "5"), ("RateLimit", "\"default\";r=0;t=30")]),
        ("IETF: Age 0", &ietf, &[("Age", "0"), ("RateLimit", "\"default\";r=0;t=30")]),
        (
            "IETF: unknown parameters of every type",
            &ietf,
            &[("RateLimit", "\"d\";r=1;t=2;x=1.5;y=?1;z=:aGk=:;u=@1;v=%\"caf%c3%a9\";s=\"s\";k=tok")],
        ),
        ("IETF: a parameter that is not an integer", &ietf, &[("RateLimit", "\"d\";r=1.5;t=\"2\"")]),
        ("IETF: negative r", &ietf, &[("RateLimit", "\"d\";r=-1;t=2")]),
        ("IETF: -0", &ietf, &[("RateLimit", "\"d\";r=-0;t=2")]),
        ("IETF: a token name", &ietf, &[("RateLimit", "default;r=3;t=4")]),
        ("IETF: an item without a name", &ietf, &[("RateLimit", "r=3;t=4")]),
        ("IETF: an inner list", &ietf, &[("RateLimit", "(\"a\" \"b\");r=0, \"c\";r=1;t=1")]),
        ("IETF: sixteen digits", &ietf, &[("RateLimit", "\"d\";r=1234567890123456;t=1")]),
        (
            "IETF: huge values saturate",
            &ietf,
            &[
                ("RateLimit", "\"d\";r=999999999999999;t=999999999999999"),
                ("RateLimit-Policy", "\"d\";q=999999999999999;w=999999999999999"),
            ],
        ),
        ("a custom dialect", &ACME, &[("RateLimit-Remaining", "0"), ("RateLimit-Reset", "7")]),
    ];
    for (name, dialect, headers) in hand {
        cases.push(dialect_case(name, dialect, headers));
    }
    let lists: &[&[&str]] = &[
        &["\"a\";r=1;t=2;q=3;w=4"],
        &["a, b, c"],
        &["  \"a\";r=1"],
        &["\t\"a\";r=1"],
        &["\"a\";r=1  "],
        &["\"a\";r=1,\t\"b\";r=2"],
        &["\"a\";r=1,"],
        &[",\"a\""],
        &["\"a\";r=1", "\t\"b\";r=2"],
        &["\"a\"", ""],
        &["", "\"a\""],
        &[""],
        &[" "],
        &["\"a\";R=1"],
        &["\"a\";r"],
        &["\"a\";r=1;r=2"],
        &["\"a\";r=2;r=x"],
        &["\"a\";  r=1"],
        &["\"a\" ;r=1"],
        &["\"a\";qu=\"request\""],
        &["\"a\";qu=requests"],
        &["\"a\";qu"],
        &["\"esc\\\"aped\";r=1"],
        &["\"bad\\escape\""],
        &["\"unterminated"],
        &["\"tab\there\""],
        &["tok/en:x;r=1"],
        &["*star;r=1"],
        &["1;r=1"],
        &["-5;r=1"],
        &["1.5;r=1"],
        &["1.;r=1"],
        &["1.1234;r=1"],
        &["1234567890123.1;r=1"],
        &["123456789012345;r=1"],
        &["1234567890123456;r=1"],
        &["?1;r=1"],
        &["?2"],
        &[":aGVsbG8=:;r=1"],
        &[":not base64!:"],
        &["@1700000000;r=1"],
        &["@1.5"],
        &["%\"caf%c3%a9\";r=1"],
        &["%\"%C3%A9\""],
        &["%\"%c3\""],
        &["%\"%ff\""],
        &["%\"\\x\""],
        &["(a b);r=1, c;r=2"],
        &["(a  b )"],
        &["(a b"],
        &["()"],
        &["(a;x=1 b);y=2"],
        &["a;*k=1;r=2"],
        &["a;k_-.*9=1"],
        &["a;K=1"],
        &["a b"],
        &["a,,b"],
        &["\"a\";r=1;t=2, \"b\";r=3;t=4", "\"c\";q=5;w=6"],
        &["a;r=0;t=0"],
        &["a;r=-0"],
        &["a;r=0.0"],
        &["a;r=?0"],
    ];
    for lines in lists {
        cases.push(json!({ "name": format!("list {lines:?}"), "type": "list", "lines": lines }));
    }
    // Random header sets per dialect.
    let presets: [(&str, Dialect); 4] =
        [("Follow Up Boss", fub), ("GitHub", gh), ("Discord", dc), ("IETF", ietf)];
    for i in 0..60 {
        let (label, dialect) = g.pick(&presets);
        let mut headers: Vec<(String, String)> = Vec::new();
        let numbers = ["0", "1", "5", "60", "-1", "x", "", "1.5", "4294967296"];
        let names = [
            "x-ratelimit-limit",
            "x-ratelimit-remaining",
            "x-ratelimit-window",
            "x-ratelimit-reset",
            "x-ratelimit-reset-after",
            "x-ratelimit-context",
            "x-ratelimit-resource",
            "x-ratelimit-bucket",
            "retry-after",
            "x-ratelimit-global",
            "x-ratelimit-scope",
        ];
        for _ in 0..g.range(1, 6) {
            let name = g.pick(&names).to_string();
            let value = match name.as_str() {
                "x-ratelimit-context" | "x-ratelimit-resource" | "x-ratelimit-bucket" => {
                    g.pick(&["core", "events", "abc", ""]).to_string()
                }
                "x-ratelimit-global" => g.pick(&["true", "false"]).to_string(),
                "x-ratelimit-scope" => g.pick(&["global", "shared", "user"]).to_string(),
                "x-ratelimit-reset" if g.chance(50) => (1_735_689_600 + g.below(4_000)).to_string(),
                _ => g.pick(&numbers).to_string(),
            };
            headers.push((name, value));
        }
        if g.chance(50) {
            headers.push(("Date".into(), format_date(1_735_689_600 + g.below(100), g.below(3) as usize)));
        }
        if dialect.ietf {
            let items: Vec<String> = (0..g.range(1, 3))
                .map(|_| {
                    format!("\"{}\";r={};t={}", g.pick(&["a", "b", "default"]), g.range(0, 5), g.range(0, 90))
                })
                .collect();
            headers.push(("RateLimit".into(), items.join(", ")));
            if g.chance(60) {
                headers.push((
                    "RateLimit-Policy".into(),
                    format!(
                        "\"{}\";q={};w={}",
                        g.pick(&["a", "b", "default"]),
                        g.range(1, 100),
                        g.range(1, 60)
                    ),
                ));
            }
        }
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        cases.push(dialect_case(&format!("random {label} headers {i}"), dialect, &pairs));
    }
    cases
}

// ---------------------------------------------------------------------------------------------

fn budget_cases(g: &mut Gen) -> Vec<Value> {
    let mut cases = Vec::new();
    let small = RetryBudget::new(20, 5, 10, 1);
    let request = |g: &mut Gen, start: u64, statuses: &[u16]| {
        let events: Vec<Value> = statuses
            .iter()
            .enumerate()
            .map(|(i, &s)| {
                let now = start + i as u64 * 40_000;
                if s == 0 {
                    event(g, now, transport("before_send"))
                } else {
                    event(g, now, response(s, &[], ""))
                }
            })
            .collect();
        json!({ "idempotency": "idempotent", "start_ms": start, "events": events })
    };
    let scripts: &[(&str, RetryBudget, &[&[u16]])] = &[
        ("503s drain a small budget", small, &[&[503, 503, 503, 503, 503]]),
        ("transport failures cost the timeout cost", small, &[&[0, 0, 0]]),
        ("408s cost the timeout cost", small, &[&[408, 408, 408]]),
        ("429s cost the retry cost", small, &[&[429, 429, 429, 429, 429]]),
        ("a success refunds, up to the capacity", small, &[&[201], &[503, 201], &[503, 503, 201], &[201]]),
        (
            "an empty budget refuses every retry",
            RetryBudget::new(0, 5, 10, 1),
            &[&[503], &[0], &[201], &[503]],
        ),
        ("a free retry", RetryBudget::new(0, 0, 0, 0), &[&[503, 503, 201]]),
        ("failures that are not retried cost nothing", small, &[&[400], &[404], &[401]]),
        ("AWS standard: a long outage", RetryBudget::AWS_STANDARD, &[&[503; 9], &[503; 9], &[0; 9], &[201]]),
        ("refund larger than the capacity", RetryBudget::new(10, 10, 10, 100), &[&[503, 201], &[503, 503]]),
        (
            "costs near u32::MAX",
            RetryBudget::new(u32::MAX, u32::MAX, u32::MAX, u32::MAX),
            &[&[503, 503], &[201], &[503]],
        ),
    ];
    for (name, budget, requests) in scripts {
        let list: Vec<Value> = requests.iter().map(|statuses| request(g, 0, statuses)).collect();
        cases.push(json!({ "name": name, "policy": policy_json(&PRESET), "capacity": 64, "budget": budget_json(budget), "requests": list }));
    }
    // A cut body and a dialect's pushback, paid like any retry.
    let mut cut = event(g, 5, response(201, &[], "{\"id\":"));
    cut["response"]["cut"] = json!(true);
    let mut seen = event(g, 5, response(403, &[], ""));
    seen["response"]["seen"] = json!({ "retry_after_ms": 1_000, "pushback": [403] });
    cases.push(json!({
        "name": "a cut 201 and GitHub's 403 pay like retries",
        "policy": policy_json(&PRESET), "capacity": 64, "budget": budget_json(&small),
        "requests": [
            { "idempotency": "idempotent", "start_ms": 0, "events": [cut] },
            { "idempotency": "idempotent", "start_ms": 0, "events": [seen] },
        ],
    }));
    // Random: several requests meeting random answers, sharing one budget.
    for i in 0..30 {
        let budget = *g.pick(&[
            small,
            RetryBudget::new(30, 5, 10, 1),
            RetryBudget::new(12, 3, 4, 2),
            RetryBudget::AWS_STANDARD,
        ]);
        let policy = random_policy(g);
        let requests: Vec<Value> = (0..g.range(1, 4))
            .map(|_| {
                let idem = *g.pick(&IDEMPOTENCY);
                let start = g.below(100_000);
                json!({ "idempotency": idem, "start_ms": start, "events": random_events(g, start) })
            })
            .collect();
        cases.push(json!({
            "name": format!("random requests sharing a budget {i}"), "policy": policy_json(&policy),
            "capacity": 64, "budget": budget_json(&budget), "requests": requests,
        }));
    }
    cases
}

// ---------------------------------------------------------------------------------------------

fn breaker_cases(g: &mut Gen) -> Vec<Value> {
    let mut cases = Vec::new();
    let presets: [(&str, BreakerPolicy); 4] = [
        ("API_CLIENT", BreakerPolicy::API_CLIENT),
        ("POLLY", BreakerPolicy::POLLY),
        ("RESILIENCE4J", BreakerPolicy::RESILIENCE4J),
        ("ENVOY", BreakerPolicy::ENVOY),
    ];
    let acquire = |g: &mut Gen, now: u64| json!({ "op": "acquire", "now": now, "words": g.words() });
    let observe = |g: &mut Gen, now: u64, health: &str| json!({ "op": "observe", "now": now, "health": health, "words": g.words() });
    let status = |g: &mut Gen, now: u64, status: u16| json!({ "op": "observe", "now": now, "status": status, "words": g.words() });
    for (label, policy) in &presets {
        // Failures in a row until it trips, then the break, a probe, and what follows it.
        let mut steps = Vec::new();
        let mut now = 0;
        for _ in 0..6 {
            steps.push(acquire(g, now));
            steps.push(observe(g, now, "failed"));
            now += 10;
        }
        for wait in [0, 1_000, 3_000, 40_000, 400_000] {
            steps.push(acquire(g, now + wait));
        }
        now += 400_000;
        steps.push(observe(g, now, "failed"));
        steps.push(acquire(g, now + 1));
        now += 700_000;
        steps.push(acquire(g, now));
        steps.push(acquire(g, now + 1));
        steps.push(observe(g, now + 2, "healthy"));
        steps.push(acquire(g, now + 3));
        cases.push(json!({ "name": format!("{label}: failures in a row, a break, probes"), "policy": breaker_policy_json(policy), "steps": steps }));
        // A failure share over the window.
        let mut steps = Vec::new();
        for i in 0..60u64 {
            let t = i * 200;
            steps.push(acquire(g, t));
            steps.push(observe(g, t, if i % 2 == 0 { "failed" } else { "healthy" }));
        }
        cases.push(json!({ "name": format!("{label}: half the requests fail"), "policy": breaker_policy_json(policy), "steps": steps }));
    }
    // Statuses as the breaker counts them.
    let mut steps = Vec::new();
    for (i, s) in [200u16, 404, 429, 99, 0, 600, 500, 503, 499, 100].into_iter().enumerate() {
        steps.push(status(g, i as u64, s));
    }
    cases.push(json!({ "name": "statuses: 5xx and non-HTTP fail, the rest are healthy", "policy": breaker_policy_json(&BreakerPolicy::ENVOY.with_threshold(3)), "steps": steps }));
    // Edge policies.
    let edges: [(&str, BreakerPolicy); 5] = [
        (
            "no spread, two probes",
            BreakerPolicy { probes: 2, release_spread_ms: 0, ..BreakerPolicy::API_CLIENT },
        ),
        (
            "zero probes and a zero break",
            BreakerPolicy { probes: 0, break_ms: 0, max_break_ms: 0, ..BreakerPolicy::API_CLIENT },
        ),
        (
            "a cap below the break",
            BreakerPolicy { break_ms: 5_000, max_break_ms: 1_000, ..BreakerPolicy::API_CLIENT },
        ),
        (
            "a window of 7 ms",
            BreakerPolicy {
                window_ms: 7,
                min_requests: 2,
                consecutive_failures: 0,
                ..BreakerPolicy::API_CLIENT
            },
        ),
        (
            "u32::MAX break",
            BreakerPolicy {
                break_ms: u32::MAX,
                max_break_ms: u32::MAX,
                release_spread_ms: u32::MAX,
                ..BreakerPolicy::API_CLIENT
            },
        ),
    ];
    for (label, policy) in &edges {
        let mut steps = Vec::new();
        let mut now = 0;
        for i in 0..40u64 {
            now += g.below(800);
            if i % 3 == 0 {
                steps.push(acquire(g, now));
            } else {
                let h = if g.chance(75) { "failed" } else { "healthy" };
                steps.push(observe(g, now, h));
            }
        }
        cases.push(json!({ "name": format!("edge: {label}"), "policy": breaker_policy_json(policy), "steps": steps }));
    }
    // The RNG failing: the break and the release from the clock fallback.
    let mut steps = Vec::new();
    for t in 0..5 {
        steps.push(json!({ "op": "observe", "now": t, "health": "failed" }));
    }
    steps.push(json!({ "op": "acquire", "now": 100 }));
    steps.push(json!({ "op": "acquire", "now": 100, "words": [0] }));
    cases.push(json!({ "name": "RNG fails: the clock fallback", "policy": breaker_policy_json(&BreakerPolicy::API_CLIENT), "steps": steps }));
    // A clock that goes back; a probe never answered.
    let steps = vec![
        observe(g, 10_000, "failed"),
        observe(g, 10_001, "failed"),
        observe(g, 10_002, "failed"),
        observe(g, 10_003, "failed"),
        observe(g, 10_004, "failed"),
        acquire(g, 5),
        acquire(g, 30_000),
        acquire(g, 30_001),
        acquire(g, 37_999),
        acquire(g, 38_000),
        acquire(g, u64::MAX),
        observe(g, 0, "healthy"),
    ];
    cases.push(json!({ "name": "a clock that goes back and a lost probe", "policy": breaker_policy_json(&BreakerPolicy::API_CLIENT), "steps": steps }));
    // Random sequences.
    for i in 0..30 {
        let (_, base) = g.pick(&presets);
        let mut policy = *base;
        if g.chance(50) {
            policy.min_requests = g.range(0, 12) as u16;
            policy.consecutive_failures = g.range(0, 6) as u16;
            policy.probes = g.range(0, 3) as u8;
            policy.window_ms = g.range(0, 20_000) as u32;
        }
        let mut steps = Vec::new();
        let mut now = g.below(1 << 30);
        let fail_share = g.range(20, 95);
        for _ in 0..g.range(10, 60) {
            now = if g.chance(3) { now.saturating_sub(g.below(5_000)) } else { now + g.below(4_000) };
            if g.chance(45) {
                steps.push(acquire(g, now));
            } else if g.chance(20) {
                let s = *g.pick(&[200u16, 201, 404, 429, 500, 502, 503, 504]);
                steps.push(status(g, now, s));
            } else {
                let h = if g.chance(fail_share) { "failed" } else { "healthy" };
                steps.push(observe(g, now, h));
            }
        }
        cases.push(json!({ "name": format!("random sequence {i}"), "policy": breaker_policy_json(&policy), "steps": steps }));
    }
    cases
}

trait Threshold {
    fn with_threshold(self, n: u16) -> Self;
}

impl Threshold for BreakerPolicy {
    fn with_threshold(self, n: u16) -> Self {
        Self { consecutive_failures: n, ..self }
    }
}

// ---------------------------------------------------------------------------------------------

/// Cases added after the mutation run of the first vectors, each for a mutant they missed: kept
/// after every other case of their section, with their own random stream, so the cases before
/// them stay as they were (and the mutants those caught stay caught).
fn targeted_cases(name: &str, g: &mut Gen) -> Vec<Value> {
    let mut cases = Vec::new();
    if name == "request" {
        // The clock fallback mixes the retry number into the clock's high half: only a clock
        // past 2^32 ms with those bits set tells `^` from `|` there.
        let now = 0xFFFF_FFFF_0000_1234;
        let mut events: Vec<Value> = (0..3).map(|i| event(g, now + i, transport("before_send"))).collect();
        let mut last = event(g, now + 3, transport("before_send"));
        last["words"] = json!([]);
        events.push(last);
        let name = "the clock fallback at retry 3, the clock past 2^32 ms";
        cases.push(one_request(name, &PRESET, 64, "idempotent", now, events));
        // The fallback over a 32-bit range keeps the hash's bits down to bit 32, where the last
        // step of SplitMix64 (`z ^ (z >> 31)`) is seen; a small range keeps only the top bits.
        let wide = PRESET.with_jitter(Jitter::Additive { max_ms: u32::MAX }).with_max_backoff_ms(u32::MAX);
        for (label, policy, told) in [
            ("a backoff over 0..=u32::MAX", wide.with_max_retries(12), None),
            (
                "a Retry-After spread over 0..=u32::MAX - 1",
                PRESET.with_retry_after_jitter_ms(u32::MAX - 1).with_max_retries(12),
                Some("1"),
            ),
        ] {
            let events: Vec<Value> = (0..12u64)
                .map(|i| {
                    let now = 1_000 + i * 977_777;
                    let mut e = match told {
                        Some(ra) => event(g, now, response(429, &[("Retry-After", ra)], "")),
                        None => event(g, now, transport("before_send")),
                    };
                    e["words"] = json!([]);
                    e
                })
                .collect();
            cases.push(one_request(
                &format!("the clock fallback, {label}, twelve times"),
                &policy,
                64,
                "idempotent",
                0,
                events,
            ));
        }
    }
    if name == "request" {
        cases.push(json!({ "name": "the preset policy", "type": "preset", "preset": "FOLLOW_UP_BOSS" }));
        // retry_on is a set: a class named twice is in it once.
        let mut twice = one_request(
            "retry_on naming a class twice",
            &PRESET.with_retry_on(RetryOn::SERVER_ERROR),
            64,
            "idempotent",
            0,
            vec![event(g, 5, response(503, &[], "")), event(g, 3_000, transport("before_send"))],
        );
        twice["policy"]["retry_on"] = json!(["server_error", "server_error"]);
        cases.push(twice);
        // A backoff that ends exactly at the deadline is still taken.
        let exact = PRESET.with_jitter(Jitter::None).with_deadline_ms(1_000);
        let events = vec![event(g, 0, response(503, &[], ""))];
        cases.push(one_request(
            "a backoff ending exactly at the deadline",
            &exact,
            64,
            "idempotent",
            0,
            events,
        ));
        let events = vec![event(g, 1, response(503, &[], ""))];
        cases.push(one_request(
            "a backoff ending 1 ms past the deadline",
            &exact,
            64,
            "idempotent",
            0,
            events,
        ));
    }
    if name == "body" {
        // A character from each row of UTF-8's well-formed table (Unicode table 3-7) whose
        // first byte has its own second-byte range or its own payload bits: E0, E1..EC, ED,
        // EE..EF, F0, F1..F3, F4; in a message, and in a page that is not JSON.
        let chars = "\u{800}\u{FFF}\u{1000}\u{D000}\u{D7FF}\u{E000}\u{FFFD}\u{10000}\u{40000}\u{FFFFF}\u{100000}\u{10FFFF}";
        let message = format!("{{\"errorMessage\":\"{chars}\"}}");
        cases.push(body_case("every row of the UTF-8 table in a message", message.as_bytes(), 1024, None));
        let split = message.len();
        cases.push(body_case(
            "every row of the UTF-8 table, byte by byte",
            message.as_bytes(),
            1024,
            Some(vec![1; split]),
        ));
        let page = format!("<p>{chars}</p>");
        cases.push(body_case("every row of the UTF-8 table in a page", page.as_bytes(), 1024, None));
    }
    if name == "budget" {
        cases.push(json!({ "name": "the AWS standard budget", "type": "preset", "preset": "AWS_STANDARD" }));
    }
    if name == "rate-limits" {
        let ev = "events";
        let hold = json!({ "op": "max_hold_ms" });
        cases.push(rl_case(
            "the hold believed at most the preset's ceiling",
            2,
            "burst",
            None,
            vec![hold.clone()],
        ));
        cases.push(rl_case("the hold believed at most 5 s", 2, "burst", Some(5_000), vec![hold]));
        cases.push(rl_case(
            "a hold asked for at its last instant and after",
            4,
            "burst",
            None,
            vec![
                rl_observe(0, 429, &[("Retry-After", "2"), ("X-RateLimit-Context", ev)]),
                rl_hold(1_999, Some(ev)),
                rl_hold(2_000, Some(ev)),
                rl_hold(2_000, None),
                rl_observe(3_000, 429, &[("Retry-After", "2")]),
                rl_hold(4_999, Some("other")),
                rl_hold(5_000, Some("other")),
            ],
        ));
        let window = |remaining: &'static str| -> [(&'static str, &'static str); 4] {
            [
                ("X-RateLimit-Limit", "20"),
                ("X-RateLimit-Remaining", remaining),
                ("X-RateLimit-Window", "10"),
                ("X-RateLimit-Context", "a"),
            ]
        };
        let mut steps = vec![
            rl_acquire(0, Some("a")),
            rl_acquire(1, Some("a")),
            rl_acquire(2, Some("b")),
            rl_acquire(3, Some("b")),
        ];
        steps.push(json!({ "op": "abandon", "context": "a" }));
        steps.push(json!({ "op": "abandon", "context": null }));
        steps.push(rl_acquire(10, Some("a")));
        steps.push(rl_observe(20, 200, &window("5")));
        for t in 21..28 {
            steps.push(rl_acquire(t, Some("a")));
        }
        cases.push(rl_case(
            "abandoned sends no longer count: by name and all at once",
            4,
            "burst",
            None,
            steps,
        ));
        let mut steps = vec![rl_acquire(0, Some("a")), rl_acquire(1, Some("a")), rl_acquire(2, Some("a"))];
        steps.push(json!({ "op": "abandon", "context": "a" }));
        steps.push(rl_observe(20, 200, &window("5")));
        for t in 21..28 {
            steps.push(rl_acquire(t, Some("a")));
        }
        cases.push(rl_case("an abandoned send among three in flight", 4, "burst", None, steps));
        let mut steps = vec![rl_acquire(0, Some("a")), rl_acquire(1, Some("a"))];
        steps.push(rl_observe(10, 200, &window("2")));
        steps.push(rl_observe(11, 200, &window("2")));
        steps.push(rl_acquire(20, Some("a")));
        steps.push(rl_observe(30, 200, &window("8")));
        for t in 31..41 {
            steps.push(rl_acquire(t, Some("a")));
        }
        cases.push(rl_case(
            "once nothing is in flight, the next answer counts every send",
            4,
            "burst",
            None,
            steps,
        ));
        // A reset header in a dialect with a window too: a reset at now, or past, gives way to
        // the window; a reset ahead ends the count of paced sends.
        const RESETTING: Dialect = Dialect {
            reset: Some(("x-ratelimit-reset", backoff_core::ResetUnit::SecondsFromNow)),
            ..Dialect::FOLLOW_UP_BOSS
        };
        let d = dialect_json(&RESETTING);
        let with = |mut step: Value| {
            step["dialect"] = d.clone();
            step
        };
        let spent = [
            ("X-RateLimit-Limit", "5"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Window", "10"),
            ("X-RateLimit-Reset", "0"),
            ("X-RateLimit-Context", ev),
        ];
        cases.push(rl_case(
            "a spent quota whose reset is now: held for the window",
            4,
            "burst",
            None,
            vec![with(rl_observe(1_000, 200, &spent)), rl_acquire(1_001, Some(ev))],
        ));
        let one_left = [
            ("X-RateLimit-Limit", "5"),
            ("X-RateLimit-Remaining", "1"),
            ("X-RateLimit-Window", "10"),
            ("X-RateLimit-Reset", "1"),
            ("X-RateLimit-Context", ev),
        ];
        cases.push(rl_case(
            "the last send after a reset that has passed: held for the window",
            4,
            "burst",
            None,
            vec![
                with(rl_observe(0, 200, &one_left)),
                rl_acquire(5_000, Some(ev)),
                rl_acquire(5_001, Some(ev)),
            ],
        ));
        let paced = [
            ("X-RateLimit-Limit", "5"),
            ("X-RateLimit-Remaining", "1"),
            ("X-RateLimit-Window", "10"),
            ("X-RateLimit-Reset", "3"),
            ("X-RateLimit-Context", ev),
        ];
        cases.push(rl_case(
            "smooth: the last send before a reset holds until the reset",
            4,
            "smooth",
            None,
            vec![
                with(rl_observe(0, 200, &paced)),
                rl_acquire(0, Some(ev)),
                rl_acquire(2_500, Some(ev)),
                rl_acquire(3_000, Some(ev)),
            ],
        ));
    }
    if name == "retry-after" {
        // The instants where year_of's first estimate is a year off, either way, and the
        // seconds around them.
        for days in [365u64, 730, 1_826, 37_620, 39_081, 40_542] {
            for epoch in [days * 86_400 - 1, days * 86_400] {
                cases.push(json!({ "name": format!("year of {epoch} (day {days})"), "type": "year_of", "epoch_s": epoch }));
            }
        }
    }
    if name == "dialects" {
        // Ties and near-ties between IETF items: the first of equals is kept, and the policy
        // compared is the one allowing fewer requests per second, to the request.
        let ietf = Dialect::IETF_DRAFT_11;
        let fields: [(&str, &[(&str, &str)]); 6] = [
            (
                "IETF: two spent items with the same reset: the first",
                &[("RateLimit", "\"a\";r=0;t=10, \"b\";r=0;t=10")],
            ),
            (
                "IETF: two items with the same remaining: the first",
                &[("RateLimit", "\"a\";r=3;t=10, \"b\";r=3;t=20")],
            ),
            ("IETF: policies 1 per s and 2 per s", &[("RateLimit-Policy", "\"b\";q=2;w=1, \"a\";q=1;w=1")]),
            (
                "IETF: policies 5 per s and 10 per s",
                &[("RateLimit-Policy", "\"b\";q=10;w=2, \"a\";q=10;w=1")],
            ),
            (
                "IETF: policies of the same rate: the first",
                &[("RateLimit-Policy", "\"a\";q=10;w=10, \"b\";q=20;w=20")],
            ),
            (
                "IETF: a policy 2.5 per s after one of 5 per s",
                &[("RateLimit-Policy", "\"b\";q=5;w=1, \"a\";q=50;w=20")],
            ),
        ];
        for (label, headers) in fields {
            cases.push(dialect_case(label, &ietf, headers));
        }
        for preset in ["FOLLOW_UP_BOSS", "GITHUB", "DISCORD", "IETF_DRAFT_11"] {
            cases.push(json!({ "name": format!("the preset {preset}"), "type": "preset", "preset": preset }));
        }
    }
    if name == "breaker" {
        // Which statuses the breaker counts as failures, one status per breaker that trips on one.
        let one = BreakerPolicy { consecutive_failures: 1, ..BreakerPolicy::API_CLIENT };
        for status in [0u16, 99, 100, 101, 399, 499, 500, 599, 600, 65535] {
            let steps = vec![json!({ "op": "observe", "now": 10, "status": status, "words": g.words() })];
            cases.push(json!({ "name": format!("status {status} as the breaker counts it"), "policy": breaker_policy_json(&one), "steps": steps }));
        }
        // The break ends at an instant known to the millisecond (the word 1 draws 0 from
        // 0..=1000): still open one millisecond before it, half-open at it.
        let mut steps: Vec<Value> =
            (0..4).map(|t| json!({ "op": "observe", "now": t, "health": "failed" })).collect();
        steps.push(json!({ "op": "observe", "now": 4, "health": "failed", "words": [1] }));
        steps.push(json!({ "op": "acquire", "now": 2_003, "words": g.words() }));
        steps.push(json!({ "op": "acquire", "now": 2_004, "words": g.words() }));
        cases.push(json!({ "name": "the break ends exactly at its instant", "policy": breaker_policy_json(&BreakerPolicy::API_CLIENT), "steps": steps }));
        // The failure share: below it nothing trips, exactly at it the breaker trips.
        let share = BreakerPolicy { consecutive_failures: 0, ..BreakerPolicy::API_CLIENT };
        let pattern = "FHHHHFHHHHFFFFFF";
        let steps: Vec<Value> = pattern
            .chars()
            .enumerate()
            .map(|(i, c)| json!({ "op": "observe", "now": 100 + i as u64 * 10, "health": if c == 'F' { "failed" } else { "healthy" }, "words": g.words() }))
            .collect();
        cases.push(json!({ "name": "a failure share below 50 % does not trip; 50 % does", "policy": breaker_policy_json(&share), "steps": steps }));
        for preset in ["API_CLIENT", "POLLY", "RESILIENCE4J", "ENVOY"] {
            cases.push(json!({ "name": format!("the preset {preset}"), "type": "preset", "preset": preset }));
        }
    }
    cases
}

/// Cases added after the body parser's mutation run (the fast path's readers and scanners, the
/// compact parser's shortcut, and the body fields that carry a wait), each for a mutant the
/// vectors missed: after every other case of their section, with their own random stream.
fn parser_cases(name: &str, g: &mut Gen) -> Vec<Value> {
    let mut cases = Vec::new();
    if name == "body" {
        let bodies: [(&str, &[u8]); 15] = [
            // A key after a comma must open with a quote: `x"` is not one, at the top or nested.
            ("a key after a comma without its opening quote", br#"{"a":1,xerrorMessage":"hi"}"#),
            (
                "a nested key after a comma without its opening quote",
                br#"{"e":{"a":1,xerrorMessage":"hi"},"errorMessage":"m"}"#,
            ),
            // An object nested two deep whose first member is not a key.
            ("an object in an array opening with a number", br#"{"a":[{1}],"errorMessage":"m"}"#),
            // Keys the one-word key reader must read whole, or leave to the byte-by-byte path.
            ("a key that starts with a colon", br#"{":x":1,"errorMessage":"m"}"#),
            ("a key cut by an invalid escape before a colon", br#"{"a\:1,"errorMessage":"m"}"#),
            ("a key holding a colon and a comma, then no colon", br#"{"x:1,"errorMessage":"m"}"#),
            // Only `\u` takes four hex digits: after another escape they are plain text.
            ("an escape followed by four hex digits", br#"{"errorMessage":"tab\tface"}"#),
            ("an invalid escape followed by four hex digits", br#"{"a":"\x0041","errorMessage":"m"}"#),
            // The first supplementary character: a surrogate pair whose halves are both at their
            // lowest.
            ("the surrogate pair of U+10000", br#"{"errorMessage":"\ud800\udc00"}"#),
            // Literals read whole: neither four letters and an `e`, nor `fals` and another letter.
            ("four letters and an e that are not false", br#"{"a":fakee,"errorMessage":"m"}"#),
            ("fals and a letter that is not e", br#"{"a":falsy,"errorMessage":"m"}"#),
            // A number does not go on past a comma.
            ("a number, a comma and a digit where a key must be", br#"{"errorMessage":"m","a":1,2}"#),
            // Two spaces in a row in a page become one, wherever they fall in the words the raw
            // prefix is scanned in (8 bytes at a time on 64-bit hosts): the first ending a word
            // with the second in the last few bytes, both in the last few bytes, the first ending
            // a word with the second opening the next.
            ("a page with two spaces across the end of a word", b"abcdefg  xyz"),
            ("a page with two spaces after a whole word", b"abcdefgh  xyz"),
            ("a page with two spaces across two whole words", b"abcdefg  hijklmnop"),
        ];
        for (label, body) in bodies {
            cases.push(body_case(label, body, 64, None));
        }
        // A control byte is invalid in every string, kept or not (the compact parser's shortcut
        // skips the strings it does not keep up to the next byte that matters).
        cases.push(body_case(
            "a control byte in a skipped value",
            b"{\"a\":\"x\x01y\",\"errorMessage\":\"m\"}",
            64,
            None,
        ));
        cases.push(body_case(
            "a control byte in a nested key",
            b"{\"a\":{\"k\x1f\":1},\"errorMessage\":\"m\"}",
            64,
            None,
        ));
        // The pushback fields a dialect reads in the body (`fields`), and what they told
        // (`pushback`): the only place a vector records `global`.
        let discord = json!({ "retry_after": true, "global": true, "secondary_limit": false });
        let retry_after_only = json!({ "retry_after": true, "global": false, "secondary_limit": false });
        let secondary = json!({ "retry_after": false, "global": false, "secondary_limit": true });
        let global = r#"{"message": "You are being rate limited.", "retry_after": 64.57, "global": true}"#;
        let fielded: [(&str, &Value, &str, Option<Vec<usize>>); 8] = [
            ("fields: Discord's global 429", &discord, global, None),
            ("fields: Discord's global 429, byte by byte", &discord, global, Some(vec![1; global.len()])),
            ("fields: global where the dialect does not read it", &retry_after_only, global, None),
            (
                "fields: global as a string is not true",
                &discord,
                r#"{"global":"true","retry_after":1}"#,
                None,
            ),
            ("fields: the last global counts", &discord, r#"{"global":true,"global":false}"#, None),
            ("fields: a nested global is not read", &discord, r#"{"d":{"global":true}}"#, None),
            ("fields: a cut body tells nothing", &discord, r#"{"retry_after":5,"global":true"#, None),
            (
                "fields: GitHub's secondary limit",
                &secondary,
                r#"{"message":"You have exceeded a secondary rate limit."}"#,
                None,
            ),
        ];
        for (label, fields, body, chunks) in fielded {
            let mut case = body_case(label, body.as_bytes(), 64, chunks);
            case["fields"] = fields.clone();
            cases.push(case);
        }
        // A high surrogate whose low half is not introduced by `\u`: U+FFFD, then the text; and a
        // pair of a lowest high half with a low half that is not the lowest.
        cases.push(body_case(
            "a high surrogate, then hex digits without their escape",
            br#"{"errorMessage":"\ud800abdc00"}"#,
            64,
            None,
        ));
        cases.push(body_case(
            "the surrogate pair of U+10348",
            br#"{"errorMessage":"\ud800\udf48"}"#,
            64,
            None,
        ));
    }
    if name == "request" {
        // Discord's `retry_after` read to the millisecond: no floor, no spread, a ceiling far
        // away, so every millisecond of what the body told shows in the delay.
        let exact = PRESET
            .with_retry_after_floor_ms(0)
            .with_retry_after_jitter_ms(0)
            .with_retry_after_ceiling_ms(u32::MAX);
        let discord = json!({ "pushback": [429], "body": { "retry_after": true, "global": true, "secondary_limit": false } });
        for (label, seconds) in [
            ("a leading zero", "0.5"),
            ("a tenth of a millisecond, rounded up", "0.0001"),
            ("a zero inside the digits", "1.05"),
            ("17 significant digits, the last not 0: rounded up", "1.0000000000000001"),
            ("18 significant digits, the last two 0: exact", "1.00000000000000000"),
            ("a negative exponent", "5e-1"),
            ("an exponent digit other than 1", "1.5e2"),
            ("20 leading zeros, then an exponent", "0.000000000000000000012345e20"),
            ("zero with a large negative exponent", "0e-20"),
        ] {
            let mut e = event(g, 20, response(429, &[], &format!(r#"{{"retry_after":{seconds}}}"#)));
            e["response"]["seen"] = discord.clone();
            let name = format!("a wait in the body to the millisecond: {label} ({seconds})");
            cases.push(one_request(&name, &exact, 64, "idempotent", 0, vec![e]));
        }
        // GitHub's secondary-limit message with its space escaped: escapes are matched too.
        let secondary = json!({ "pushback": [403, 429, 503], "body": { "retry_after": false, "global": false, "secondary_limit": true } });
        let body = r#"{"message":"You have exceeded a secondary\u0020rate limit."}"#;
        let mut e = event(g, 20, response(403, &[], body));
        e["response"]["seen"] = secondary;
        let name = "a wait in the body: a secondary-limit message with an escaped space";
        cases.push(one_request(name, &exact, 64, "idempotent", 0, vec![e]));
        // A dialect that does not read the secondary-limit message (Discord's) is told nothing by
        // one.
        let body = r#"{"message":"You have exceeded a secondary rate limit."}"#;
        let mut e = event(g, 20, response(429, &[], body));
        e["response"]["seen"] = discord;
        let name = "a wait in the body: a secondary-limit message where the dialect reads none";
        cases.push(one_request(name, &exact, 64, "idempotent", 0, vec![e]));
    }
    cases
}

fn section(name: &str) -> (&'static str, Vec<Value>) {
    let (description, mut cases) = first_cases(name);
    let mut g = Gen(name.bytes().fold(0x7A26E7ED_u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
    cases.extend(targeted_cases(name, &mut g));
    let mut g = Gen(name.bytes().fold(0xB0D1E5_u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
    cases.extend(parser_cases(name, &mut g));
    (description, cases)
}

fn first_cases(name: &str) -> (&'static str, Vec<Value>) {
    // One seed per section, so adding cases to one section leaves the others as they were.
    let mut g = Gen(name.bytes().fold(0x5EED_u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b))));
    match name {
        "request" => {
            let mut cases = request_cases(&mut g);
            cases.extend(backoff_cases(&mut g));
            ("The preset policy and the request machine: each case is a policy, a message capacity and a request's events (responses, transport failures, holds), with the action after each; and the backoff formula alone (type backoff, bounds).", cases)
        }
        "retry-after" => ("Retry-After (delay-seconds, fractions, HTTP-dates against Date) as a wait in ms; HTTP-dates in their three forms as Unix seconds; the year of an instant (the two-digit-year pivot).", retry_after_cases(&mut g)),
        "body" => ("An error body, fed in chunks, to its kind, the text kept (message or raw prefix), whether the text was cut, and the progress after each chunk.", body_cases(&mut g)),
        "rate-limits" => ("RateLimits<capacity>: observe responses, acquire permits, abandon sends, ask for holds, in sequence.", rate_limit_cases(&mut g)),
        "dialects" => ("What each dialect reads from a response's headers (type read), and RFC 9651 lists as the IETF fields' items (type list).", dialect_cases(&mut g)),
        "budget" => ("Requests run one after another, sharing one retry budget: the action and the tokens left after each event.", budget_cases(&mut g)),
        "breaker" => ("A circuit breaker: acquire and observe in sequence, with the permit and the state after each step.", breaker_cases(&mut g)),
        _ => unreachable!("unknown section {name}"),
    }
}

fn main() {
    let mode = std::env::args().nth(1).unwrap_or_default();
    if mode != "write" && mode != "check" {
        eprintln!("usage: cargo run --example vectors -- write|check");
        std::process::exit(2);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("vectors");
    let mut stale = Vec::new();
    for name in vectors::SECTIONS {
        let (description, cases) = section(name);
        let answered: Vec<Value> = cases
            .iter()
            .map(|case| {
                vectors::run(name, case, Words::Trim)
                    .unwrap_or_else(|e| panic!("{name}: {}: {e}", case["name"]))
            })
            .collect();
        let mut names = std::collections::HashSet::new();
        for case in &answered {
            assert!(names.insert(case["name"].to_string()), "{name}: two cases named {}", case["name"]);
        }
        let text = vectors::write_file(name, description, &answered);
        let path = dir.join(format!("{name}.json"));
        println!("{name}.json: {} cases", answered.len());
        if mode == "write" {
            std::fs::create_dir_all(&dir).expect("create vectors/");
            std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    if !stale.is_empty() {
        eprintln!("vectors differ from what the core answers now: {}", stale.join(", "));
        eprintln!(
            "if the change in behaviour is intended, run `cargo run --example vectors -- write` and commit"
        );
        std::process::exit(1);
    }
}
