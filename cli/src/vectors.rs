//! The conformance vectors' executor: a case's inputs, written as JSON, through the core's
//! public API, and the core's answers written back into the case as JSON.
//!
//! One function, [`run`], serves three callers: the generator (`cargo run --example vectors`)
//! fills the answers of the cases it builds; the replay test (`cargo test --test vectors`) runs
//! every committed case again and compares; `backoff-core replay FILE` prints them. The format
//! is described in `vectors/README.md`; this file is its reference reading.
//!
//! The answers are the core's, never this file's: it only translates JSON to calls and results
//! to JSON. Where the API offers two doors to the same decision (`complete` and
//! `response`/`feed`/`finish`; `Body::parse` and
//! a [`BodyParser`]; `RateLimitHeaders::read` and the preset dialect), it takes both and fails
//! the case if they disagree.

use core::fmt;

use backoff_core::dialect::{parse_lines, parse_list, QuotaUnit, Scope};
use backoff_core::http_date::{self, DateError};
use backoff_core::{
    retry_after_ms, Action, Body, BodyFields, BodyKind, BodyParser, Breaker, BreakerPolicy, BreakerState,
    Dialect, Error, ErrorKind, Idempotency, Jitter, JitterSource, Pacing, Permit, Policy, Progress,
    RateLimitHeaders, RateLimits, Request, ResetUnit, RetryBudget, RetryOn, Stop, TransportFailure, Wait,
};
use serde_json::{json, Map, Value};

/// The format's version, written in every file. A change to what a case means (not to which
/// cases there are) bumps it.
pub const VERSION: u64 = 1;

/// The sections, each one file `vectors/<section>.json`, in the order they are written.
pub const SECTIONS: [&str; 7] =
    ["request", "retry-after", "body", "rate-limits", "dialects", "budget", "breaker"];

/// The message capacities (`N` of `Error<N>`, `Body<N>`) the executor is built for.
pub const CAPACITIES: [usize; 10] = [0, 1, 2, 3, 4, 8, 16, 64, 128, 1024];

/// The rate-limit context capacities (`C` of `RateLimits<C>`) the executor is built for.
pub const CONTEXT_CAPACITIES: [usize; 6] = [0, 1, 2, 3, 4, 8];

/// What to do with random words a case gives but the core does not draw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Words {
    /// Replaying: every word given must be drawn, or the case fails.
    Exact,
    /// Generating: the words not drawn are removed from the case.
    Trim,
}

/// A case the executor cannot run: malformed input, or two doors of the API disagreeing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bad(pub String);

impl fmt::Display for Bad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

type R<T> = Result<T, Bad>;

fn bad<T>(message: impl Into<String>) -> R<T> {
    Err(Bad(message.into()))
}

// ---------------------------------------------------------------------------------------------
// Const-generic dispatch: the capacities are type parameters in the core.

macro_rules! with_capacity {
    ($n:expr, $f:ident ( $($arg:expr),* )) => {
        match $n {
            0 => $f::<0>($($arg),*),
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            8 => $f::<8>($($arg),*),
            16 => $f::<16>($($arg),*),
            64 => $f::<64>($($arg),*),
            128 => $f::<128>($($arg),*),
            1024 => $f::<1024>($($arg),*),
            other => bad(format!("capacity {other} is not one of {:?}", CAPACITIES)),
        }
    };
}

macro_rules! with_contexts {
    ($n:expr, $f:ident ( $($arg:expr),* )) => {
        match $n {
            0 => $f::<0>($($arg),*),
            1 => $f::<1>($($arg),*),
            2 => $f::<2>($($arg),*),
            3 => $f::<3>($($arg),*),
            4 => $f::<4>($($arg),*),
            8 => $f::<8>($($arg),*),
            other => bad(format!("context capacity {other} is not one of {:?}", CONTEXT_CAPACITIES)),
        }
    };
}

/// Runs `case` of `section` and returns it with every `expect` field set to the core's answer
/// (and, with [`Words::Trim`], with the words the core did not draw removed).
///
/// A replay compares the result with the case as written: equal means the core still answers
/// what it answered when the case was recorded.
pub fn run(section: &str, case: &Value, words: Words) -> R<Value> {
    let mut case = case.clone();
    match section {
        "request" | "budget" => match case.get("type").and_then(Value::as_str).unwrap_or("request") {
            "request" => requests(&mut case, words)?,
            "backoff" => backoff(&mut case, words)?,
            "bounds" => bounds(&mut case)?,
            "preset" => {
                case["expect"] = match string(&case, "preset")? {
                    "FOLLOW_UP_BOSS" => json!({ "policy": policy_json(&Policy::FOLLOW_UP_BOSS) }),
                    "AWS_STANDARD" => json!({ "budget": budget_json(&RetryBudget::AWS_STANDARD) }),
                    other => return bad(format!("unknown preset {other:?}")),
                };
            }
            other => return bad(format!("unknown case type {other:?}")),
        },
        "retry-after" => match string(&case, "type")? {
            "retry_after" => {
                let headers = headers(&case)?;
                let ms = retry_after_ms(headers.as_slice());
                // The other ways to hand headers over must read the same: a reference to
                // them, and an array.
                let by_reference = retry_after_ms(&headers.as_slice());
                let as_array = match headers.len() {
                    1 => <[_; 1]>::try_from(headers.clone()).ok().map(|a| retry_after_ms(&a)),
                    2 => <[_; 2]>::try_from(headers.clone()).ok().map(|a| retry_after_ms(&a)),
                    3 => <[_; 3]>::try_from(headers.clone()).ok().map(|a| retry_after_ms(&a)),
                    _ => None,
                };
                if by_reference != ms || as_array.is_some_and(|a| a != ms) {
                    return bad("retry_after_ms reads a slice, a reference and an array differently");
                }
                case["expect"] = json!({ "ms": ms });
            }
            "http_date" => {
                let value = string(&case, "value")?;
                let pivot = u32_of(&case, "pivot_year")?;
                case["expect"] = match http_date::parse(value.as_bytes(), pivot) {
                    Ok(seconds) => json!({ "seconds": seconds }),
                    Err(DateError::Malformed) => json!({ "error": "malformed" }),
                    Err(DateError::YearOutOfRange) => json!({ "error": "year_out_of_range" }),
                };
            }
            "year_of" => {
                let year = http_date::year_of(u64_of(&case, "epoch_s")?);
                case["expect"] = json!({ "year": year });
            }
            other => return bad(format!("unknown case type {other:?}")),
        },
        "body" => {
            let capacity = usize_of(&case, "capacity")?;
            case["expect"] = with_capacity!(capacity, body_case(&case))?;
        }
        "rate-limits" => {
            let capacity = usize_of(&case, "capacity")?;
            with_contexts!(capacity, rate_limits(&mut case))?;
        }
        "dialects" => match string(&case, "type")? {
            "read" => dialect_read(&mut case)?,
            "preset" => {
                let dialect = match string(&case, "preset")? {
                    "FOLLOW_UP_BOSS" => Dialect::FOLLOW_UP_BOSS,
                    "GITHUB" => Dialect::GITHUB,
                    "DISCORD" => Dialect::DISCORD,
                    "IETF_DRAFT_11" => Dialect::IETF_DRAFT_11,
                    other => return bad(format!("unknown preset {other:?}")),
                };
                case["expect"] = json!({ "dialect": dialect_json(&dialect) });
            }
            "list" => {
                let lines: Vec<String> =
                    array(&case, "lines")?.iter().map(|l| text(l).map(str::to_owned)).collect::<R<_>>()?;
                let lines: Vec<&[u8]> = lines.iter().map(|l| l.as_bytes()).collect();
                if let [line] = lines.as_slice() {
                    // One line: `parse_list` must say what `parse_lines` says.
                    let (mut one, mut all) = (Vec::new(), Vec::new());
                    let ok_one = parse_list(line, &mut |item| one.push(item));
                    let ok_all = parse_lines(&lines, &mut |item| all.push(item));
                    if (ok_one, &one) != (ok_all, &all) {
                        return bad("parse_list and parse_lines disagree on one line");
                    }
                }
                let mut items = Vec::new();
                let ok = parse_lines(&lines, &mut |item| {
                    items.push(json!({
                        "name": item.name.map(|n| n.as_str().to_owned()),
                        "r": item.r, "t": item.t, "q": item.q, "w": item.w,
                        "unit": match item.unit { QuotaUnit::Requests => "requests", QuotaUnit::Other => "other" },
                    }));
                });
                // What a malformed list gave on the way is to be forgotten: not part of the answer.
                case["expect"] =
                    if ok { json!({ "ok": true, "items": items }) } else { json!({ "ok": false }) };
            }
            other => return bad(format!("unknown case type {other:?}")),
        },
        "breaker" if case.get("type").and_then(Value::as_str) == Some("preset") => {
            let policy = match string(&case, "preset")? {
                "API_CLIENT" => BreakerPolicy::API_CLIENT,
                "POLLY" => BreakerPolicy::POLLY,
                "RESILIENCE4J" => BreakerPolicy::RESILIENCE4J,
                "ENVOY" => BreakerPolicy::ENVOY,
                other => return bad(format!("unknown preset {other:?}")),
            };
            case["expect"] = json!({ "policy": breaker_policy_json(&policy) });
        }
        "breaker" => breaker(&mut case, words)?,
        other => return bad(format!("unknown section {other:?}")),
    }
    Ok(case)
}

// ---------------------------------------------------------------------------------------------
// Randomness: the words a case gives, drawn in order.

/// The RNG of a case: its words, 32 bits each, handed out in order. When they run out, a draw
/// fails, which is how a case asks for the core's clock fallback.
#[derive(Clone, Debug)]
pub struct Script {
    words: Vec<u32>,
    used: usize,
}

/// The error of a [`Script`] that ran out of words.
#[derive(Clone, Copy, Debug)]
pub struct OutOfWords;

impl fmt::Display for OutOfWords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("out of words")
    }
}

impl core::error::Error for OutOfWords {}

impl rand_core::TryRng for Script {
    type Error = OutOfWords;

    fn try_next_u32(&mut self) -> Result<u32, OutOfWords> {
        let word = self.words.get(self.used).copied().ok_or(OutOfWords)?;
        self.used += 1;
        Ok(word)
    }

    fn try_next_u64(&mut self) -> Result<u64, OutOfWords> {
        // Not part of the contract: the decisions draw 32-bit words only. A core that starts
        // drawing 64 bits must change the contract (and vectors/README.md) first.
        panic!("the core drew a 64-bit word; the vectors' randomness contract has 32-bit words only")
    }

    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), OutOfWords> {
        panic!("the core asked for bytes; the vectors' randomness contract has 32-bit words only")
    }
}

impl Script {
    /// The words of `object["words"]` (none when absent).
    pub fn of(object: &Value) -> R<Self> {
        let words = match object.get("words") {
            None => Vec::new(),
            Some(list) => list
                .as_array()
                .ok_or_else(|| Bad("words: not an array".into()))?
                .iter()
                .map(|w| {
                    w.as_u64().and_then(|w| u32::try_from(w).ok()).ok_or_else(|| Bad(format!("word {w}")))
                })
                .collect::<R<_>>()?,
        };
        Ok(Self { words, used: 0 })
    }

    /// Checks (replay) or trims (generation) the words of `object` after its step ran.
    fn settle(&self, object: &mut Value, mode: Words) -> R<()> {
        if self.used == self.words.len() {
            return Ok(());
        }
        match mode {
            Words::Exact => {
                bad(format!("the core drew {} of the {} words given", self.used, self.words.len()))
            }
            Words::Trim => {
                let kept = self.words.get(..self.used).unwrap_or_default();
                if let Some(map) = object.as_object_mut() {
                    if kept.is_empty() {
                        map.remove("words");
                    } else {
                        map.insert("words".into(), json!(kept));
                    }
                }
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Reading JSON.

fn field<'a>(object: &'a Value, key: &str) -> R<&'a Value> {
    object.get(key).ok_or_else(|| Bad(format!("missing {key:?}")))
}

fn u64_of(object: &Value, key: &str) -> R<u64> {
    field(object, key)?.as_u64().ok_or_else(|| Bad(format!("{key}: not an unsigned integer")))
}

fn u32_of(object: &Value, key: &str) -> R<u32> {
    u32::try_from(u64_of(object, key)?).map_err(|_| Bad(format!("{key}: above 2^32 - 1")))
}

fn u16_of(object: &Value, key: &str) -> R<u16> {
    u16::try_from(u64_of(object, key)?).map_err(|_| Bad(format!("{key}: above 65535")))
}

fn u8_of(object: &Value, key: &str) -> R<u8> {
    u8::try_from(u64_of(object, key)?).map_err(|_| Bad(format!("{key}: above 255")))
}

fn usize_of(object: &Value, key: &str) -> R<usize> {
    usize::try_from(u64_of(object, key)?).map_err(|_| Bad(format!("{key}: too large")))
}

/// An optional number: absent or `null` is `None`.
fn opt_u64(object: &Value, key: &str) -> R<Option<u64>> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| Bad(format!("{key}: not an unsigned integer"))),
    }
}

fn opt_u32(object: &Value, key: &str) -> R<Option<u32>> {
    opt_u64(object, key)?
        .map(|v| u32::try_from(v).map_err(|_| Bad(format!("{key}: above 2^32 - 1"))))
        .transpose()
}

fn text(v: &Value) -> R<&str> {
    v.as_str().ok_or_else(|| Bad(format!("{v}: not a string")))
}

fn string<'a>(object: &'a Value, key: &str) -> R<&'a str> {
    text(field(object, key)?)
}

fn opt_string<'a>(object: &'a Value, key: &str) -> R<Option<&'a str>> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => text(v).map(Some),
    }
}

fn array<'a>(object: &'a Value, key: &str) -> R<&'a Vec<Value>> {
    field(object, key)?.as_array().ok_or_else(|| Bad(format!("{key}: not an array")))
}

fn flag(object: &Value, key: &str) -> R<bool> {
    match object.get(key) {
        None => Ok(false),
        Some(v) => v.as_bool().ok_or_else(|| Bad(format!("{key}: not a boolean"))),
    }
}

/// `headers`: `[[name, value], …]` in the order they were sent (absent: none).
fn headers(object: &Value) -> R<Vec<(String, String)>> {
    let Some(list) = object.get("headers") else { return Ok(Vec::new()) };
    let list = list.as_array().ok_or_else(|| Bad("headers: not an array".into()))?;
    list.iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([name, value]) => Ok((text(name)?.to_owned(), text(value)?.to_owned())),
            _ => bad(format!("header {pair}: not [name, value]")),
        })
        .collect()
}

/// The body's bytes: `body` (a string, its UTF-8 bytes) or `body_hex`; absent: empty.
fn body_bytes(object: &Value) -> R<Vec<u8>> {
    if let Some(hex) = opt_string(object, "body_hex")? {
        return from_hex(hex);
    }
    Ok(opt_string(object, "body")?.unwrap_or_default().as_bytes().to_vec())
}

/// Bytes from lower- or upper-case hex digits.
pub fn from_hex(hex: &str) -> R<Vec<u8>> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => bad(format!("body_hex: {:?} is not a hex digit", char::from(c))),
    };
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return bad("body_hex: odd number of digits");
    }
    bytes.chunks(2).map(|pair| Ok(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

/// The chunks the body arrived in: `chunks` holds their lengths, which add up to the body's;
/// absent, the body is one chunk.
fn chunks<'b>(object: &Value, body: &'b [u8]) -> R<Vec<&'b [u8]>> {
    let Some(lengths) = object.get("chunks") else { return Ok(vec![body]) };
    let lengths = lengths.as_array().ok_or_else(|| Bad("chunks: not an array".into()))?;
    let mut out = Vec::new();
    let mut at = 0usize;
    for length in lengths {
        let length = length
            .as_u64()
            .and_then(|l| usize::try_from(l).ok())
            .ok_or_else(|| Bad("chunk length".into()))?;
        let end = at.checked_add(length).filter(|&end| end <= body.len());
        let end = end.ok_or_else(|| Bad("chunks: longer than the body".into()))?;
        out.push(&body[at..end]);
        at = end;
    }
    if at != body.len() {
        return bad(format!("chunks: {at} bytes of a {}-byte body", body.len()));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Policy, budget, dialect and breaker policy: read from JSON, and written by the generator.

const RETRY_ON: [(&str, RetryOn); 4] = [
    ("request_timeout", RetryOn::REQUEST_TIMEOUT),
    ("rate_limited", RetryOn::RATE_LIMITED),
    ("server_error", RetryOn::SERVER_ERROR),
    ("transport", RetryOn::TRANSPORT),
];

/// A [`Policy`] as a case writes it: every field.
pub fn policy_json(p: &Policy) -> Value {
    let jitter = match p.jitter {
        Jitter::None => json!({ "kind": "none" }),
        Jitter::Additive { max_ms } => json!({ "kind": "additive", "max_ms": max_ms }),
        Jitter::Full => json!({ "kind": "full" }),
        Jitter::Equal => json!({ "kind": "equal" }),
        Jitter::Decorrelated => json!({ "kind": "decorrelated" }),
    };
    let retry_on: Vec<&str> =
        RETRY_ON.iter().filter(|(_, class)| p.retry_on.contains(*class)).map(|(name, _)| *name).collect();
    json!({
        "base_ms": p.base_ms,
        "max_backoff_ms": p.max_backoff_ms,
        "jitter": jitter,
        "max_retries": p.max_retries,
        "deadline_ms": p.deadline_ms,
        "retry_after_ceiling_ms": p.retry_after_ceiling_ms,
        "retry_after_floor_ms": p.retry_after_floor_ms,
        "retry_after_jitter_ms": p.retry_after_jitter_ms,
        "retry_on": retry_on,
        "max_error_body_bytes": p.max_error_body_bytes,
    })
}

/// The [`Policy`] a case writes.
pub fn policy_from(v: &Value) -> R<Policy> {
    let jitter = field(v, "jitter")?;
    let jitter = match string(jitter, "kind")? {
        "none" => Jitter::None,
        "additive" => Jitter::Additive { max_ms: u32_of(jitter, "max_ms")? },
        "full" => Jitter::Full,
        "equal" => Jitter::Equal,
        "decorrelated" => Jitter::Decorrelated,
        other => return bad(format!("jitter kind {other:?}")),
    };
    let mut retry_on = RetryOn::NOTHING;
    for name in array(v, "retry_on")? {
        let name = text(name)?;
        let class =
            RETRY_ON.iter().find(|(n, _)| *n == name).ok_or_else(|| Bad(format!("retry_on {name:?}")))?;
        retry_on = retry_on.union(class.1);
    }
    Ok(Policy {
        base_ms: u32_of(v, "base_ms")?,
        max_backoff_ms: u32_of(v, "max_backoff_ms")?,
        jitter,
        max_retries: u32_of(v, "max_retries")?,
        deadline_ms: opt_u32(v, "deadline_ms")?,
        retry_after_ceiling_ms: u32_of(v, "retry_after_ceiling_ms")?,
        retry_after_floor_ms: u32_of(v, "retry_after_floor_ms")?,
        retry_after_jitter_ms: u32_of(v, "retry_after_jitter_ms")?,
        retry_on,
        max_error_body_bytes: u32_of(v, "max_error_body_bytes")?,
    })
}

/// A [`RetryBudget`] as a case writes it (a full bucket with these costs).
pub fn budget_json(b: &RetryBudget) -> Value {
    json!({
        "capacity": b.capacity,
        "retry_cost": b.retry_cost,
        "timeout_cost": b.timeout_cost,
        "success_refund": b.success_refund,
    })
}

fn budget_from(v: &Value) -> R<RetryBudget> {
    Ok(RetryBudget::new(
        u32_of(v, "capacity")?,
        u32_of(v, "retry_cost")?,
        u32_of(v, "timeout_cost")?,
        u32_of(v, "success_refund")?,
    ))
}

/// A [`Dialect`] as a case writes it: every field.
pub fn dialect_json(d: &Dialect) -> Value {
    json!({
        "limit": d.limit,
        "remaining": d.remaining,
        "window": d.window,
        "reset": d.reset.map(|(header, unit)| json!({
            "header": header,
            "unit": match unit { ResetUnit::SecondsFromNow => "seconds_from_now", ResetUnit::UnixSeconds => "unix_seconds" },
        })),
        "context": d.context,
        "ietf": d.ietf,
        "pushback": d.pushback,
        "global": d.global,
        "scope": d.scope,
        "body": body_fields_json(d.body),
    })
}

/// [`BodyFields`] as a case writes them: every field.
pub fn body_fields_json(f: BodyFields) -> Value {
    json!({ "retry_after": f.retry_after, "global": f.global, "secondary_limit": f.secondary_limit })
}

/// The [`BodyFields`] a case writes (none when it writes none).
fn body_fields_from(v: &Value) -> R<BodyFields> {
    match v.get("body") {
        None | Some(Value::Null) => Ok(BodyFields::NONE),
        Some(body) => Ok(BodyFields {
            retry_after: flag(body, "retry_after")?,
            global: flag(body, "global")?,
            secondary_limit: flag(body, "secondary_limit")?,
        }),
    }
}

/// The [`Dialect`] a case writes. Its names must live as long as the program (the core's
/// dialects are `const` data): they are leaked, which a test and a command-line run can afford.
pub fn dialect_from(v: &Value) -> R<Dialect> {
    let name = |key: &str| -> R<Option<&'static str>> {
        Ok(opt_string(v, key)?.map(|s| &*Box::leak(s.to_owned().into_boxed_str())))
    };
    let reset = match v.get("reset") {
        None | Some(Value::Null) => None,
        Some(reset) => {
            let header: &'static str = Box::leak(string(reset, "header")?.to_owned().into_boxed_str());
            let unit = match string(reset, "unit")? {
                "seconds_from_now" => ResetUnit::SecondsFromNow,
                "unix_seconds" => ResetUnit::UnixSeconds,
                other => return bad(format!("reset unit {other:?}")),
            };
            Some((header, unit))
        }
    };
    let pushback: Vec<u16> = array(v, "pushback")?
        .iter()
        .map(|s| s.as_u64().and_then(|s| u16::try_from(s).ok()).ok_or_else(|| Bad(format!("pushback {s}"))))
        .collect::<R<_>>()?;
    Ok(Dialect {
        limit: name("limit")?,
        remaining: name("remaining")?,
        window: name("window")?,
        reset,
        context: name("context")?,
        ietf: flag(v, "ietf")?,
        pushback: Box::leak(pushback.into_boxed_slice()),
        global: name("global")?,
        scope: name("scope")?,
        body: body_fields_from(v)?,
    })
}

/// A [`BreakerPolicy`] as a case writes it: every field.
pub fn breaker_policy_json(p: &BreakerPolicy) -> Value {
    json!({
        "consecutive_failures": p.consecutive_failures,
        "failure_percent": p.failure_percent,
        "window_ms": p.window_ms,
        "min_requests": p.min_requests,
        "break_ms": p.break_ms,
        "max_break_ms": p.max_break_ms,
        "probes": p.probes,
        "release_spread_ms": p.release_spread_ms,
    })
}

fn breaker_policy_from(v: &Value) -> R<BreakerPolicy> {
    Ok(BreakerPolicy {
        consecutive_failures: u16_of(v, "consecutive_failures")?,
        failure_percent: u8_of(v, "failure_percent")?,
        window_ms: u32_of(v, "window_ms")?,
        min_requests: u16_of(v, "min_requests")?,
        break_ms: u32_of(v, "break_ms")?,
        max_break_ms: u32_of(v, "max_break_ms")?,
        probes: u8_of(v, "probes")?,
        release_spread_ms: u32_of(v, "release_spread_ms")?,
    })
}

// ---------------------------------------------------------------------------------------------
// Answers as JSON.

/// An [`ErrorKind`]'s name in the vectors.
pub fn kind_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadRequest => "bad_request",
        ErrorKind::Unauthorized => "unauthorized",
        ErrorKind::Forbidden => "forbidden",
        ErrorKind::NotFound => "not_found",
        ErrorKind::RequestTimeout => "request_timeout",
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::ClientError => "client_error",
        ErrorKind::ServerError => "server_error",
        ErrorKind::UnexpectedStatus => "unexpected_status",
        ErrorKind::InvalidStatus => "invalid_status",
        ErrorKind::Transport => "transport",
    }
}

/// A [`Stop`]'s name in the vectors.
pub fn stop_name(stop: Stop) -> &'static str {
    match stop {
        Stop::Permanent => "permanent",
        Stop::RetriesExhausted => "retries_exhausted",
        Stop::Deadline => "deadline",
        Stop::RetryAfterTooLong => "retry_after_too_long",
        Stop::MayHaveBeenProcessed => "may_have_been_processed",
        Stop::BudgetExhausted => "budget_exhausted",
    }
}

/// A [`JitterSource`]'s name in the vectors.
pub fn jitter_name(source: JitterSource) -> &'static str {
    match source {
        JitterSource::Rng => "rng",
        JitterSource::ClockFallback => "clock_fallback",
        JitterSource::NotDrawn => "not_drawn",
    }
}

/// A [`BodyKind`]'s name in the vectors.
pub fn body_kind_name(kind: BodyKind) -> &'static str {
    match kind {
        BodyKind::ErrorMessage => "error_message",
        BodyKind::Error => "error",
        BodyKind::NoMessage => "no_message",
        BodyKind::NotJson => "not_json",
        BodyKind::Empty => "empty",
        BodyKind::Truncated => "truncated",
        BodyKind::Invalid => "invalid",
        BodyKind::NotRead => "not_read",
    }
}

fn progress_name(progress: Progress) -> &'static str {
    match progress {
        Progress::Reading => "reading",
        Progress::Decided => "decided",
    }
}

/// A [`Body`]: its kind, the text it kept (for the kinds that keep one) and whether the text
/// was cut to fit.
pub fn body_json<const N: usize>(body: &Body<N>) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!(body_kind_name(body.kind())));
    if let Some(text) = body.message().or(body.raw_text()) {
        out.insert("text".into(), json!(text));
    }
    out.insert("truncated".into(), json!(body.is_truncated()));
    Value::Object(out)
}

/// An [`Error`]: why it stopped, after how many attempts, and the last attempt's cause.
pub fn error_json<const N: usize>(e: &Error<N>) -> Value {
    // The accessors must say what the fields say.
    let agrees =
        e.kind() == e.cause.kind && e.status() == e.cause.status && e.message() == e.cause.body.message();
    assert!(agrees, "Error's accessors disagree with its fields: {e:?}");
    json!({
        "action": "fail",
        "stop": stop_name(e.stop),
        "attempts": e.attempts,
        "kind": kind_name(e.cause.kind),
        "status": e.cause.status,
        "body": body_json(&e.cause.body),
    })
}

/// An [`Action`] as JSON, and the request it continues with (a retry's).
pub fn action_json<const N: usize>(action: Action<N>) -> (Value, Option<Request>) {
    match action {
        Action::Succeed { attempts } => (json!({ "action": "succeed", "attempts": attempts }), None),
        Action::Fail(error) => (error_json(&error), None),
        Action::Retry(retry) => {
            let (wait, source) = match retry.wait {
                Wait::Backoff(source) => ("backoff", source),
                Wait::RetryAfter(source) => ("retry_after", source),
            };
            let answer = json!({
                "action": "retry",
                "delay_ms": retry.delay_ms,
                "at_ms": retry.at_ms,
                "wait": wait,
                "jitter": jitter_name(source),
                "kind": kind_name(retry.cause.kind),
                "status": retry.cause.status,
                "body": body_json(&retry.cause.body),
            });
            (answer, Some(retry.request))
        }
    }
}

fn permit_json(permit: Permit) -> Value {
    match permit {
        Permit::Go => json!({ "permit": "go" }),
        Permit::Wait { until_ms } => json!({ "permit": "wait", "until_ms": until_ms }),
    }
}

fn breaker_state_json(state: BreakerState) -> Value {
    match state {
        BreakerState::Closed => json!({ "state": "closed" }),
        BreakerState::Open { until_ms } => json!({ "state": "open", "open_until_ms": until_ms }),
        BreakerState::HalfOpen { in_flight, succeeded } => {
            json!({ "state": "half_open", "in_flight": in_flight, "succeeded": succeeded })
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The request machine (sections `request` and `budget`).

fn requests(case: &mut Value, words: Words) -> R<()> {
    let policy = policy_from(field(case, "policy")?)?;
    let capacity = usize_of(case, "capacity")?;
    let mut budget = match case.get("budget") {
        None | Some(Value::Null) => None,
        Some(b) => Some(budget_from(b)?),
    };
    let list =
        case.get_mut("requests").and_then(Value::as_array_mut).ok_or_else(|| Bad("requests".into()))?;
    for request in list {
        with_capacity!(capacity, one_request(request, &policy, &mut budget, words))?;
    }
    Ok(())
}

fn one_request<const N: usize>(
    request: &mut Value,
    policy: &Policy,
    budget: &mut Option<RetryBudget>,
    words: Words,
) -> R<()> {
    let idempotency = match string(request, "idempotency")? {
        "idempotent" => Idempotency::Idempotent,
        "not_idempotent" => Idempotency::NotIdempotent,
        other => return bad(format!("idempotency {other:?}")),
    };
    let start = u64_of(request, "start_ms")?;
    let mut current = Some(Request::new(start, idempotency));
    let mut retries = 0u32;
    let events =
        request.get_mut("events").and_then(Value::as_array_mut).ok_or_else(|| Bad("events".into()))?;
    let mut ended = None;
    for (i, event) in events.iter_mut().enumerate() {
        let Some(request) = current.take() else {
            ended = Some(i);
            break;
        };
        // The request's own account of itself must agree with the actions so far.
        let account = (request.retries(), request.attempt(), request.idempotency());
        if account != (retries, retries + 1, idempotency) {
            return bad(format!("the request says {account:?} after {retries} retries"));
        }
        let mut rng = Script::of(event)?;
        let now = u64_of(event, "now")?;
        let (mut answer, next) = if let Some(until) = opt_u64(event, "may_wait_until")? {
            match request.may_wait_until::<N>(policy, now, until) {
                Ok(()) => (json!({ "may_wait": true }), Some(request)),
                Err(error) => (json!({ "may_wait": false, "error": error_json(&error) }), None),
            }
        } else if let Some(failure) = opt_string(event, "transport")? {
            let failure = match failure {
                "before_send" => TransportFailure::BeforeSend,
                "after_send" => TransportFailure::AfterSend,
                other => return bad(format!("transport {other:?}")),
            };
            transport::<N>(request, policy, now, failure, &mut rng, budget)?
        } else {
            let response = field(event, "response")?;
            respond::<N>(request, policy, now, response, &mut rng, budget)?
        };
        if let (Some(budget), Some(map)) = (budget.as_ref(), answer.as_object_mut()) {
            map.insert("tokens".into(), json!(budget.tokens()));
        }
        rng.settle(event, words)?;
        if answer.get("action").and_then(Value::as_str) == Some("retry") {
            retries += 1;
        }
        event["expect"] = answer;
        current = next;
    }
    if let Some(i) = ended {
        match words {
            Words::Exact => return bad("an event after the request ended"),
            // Generating: a random script may go on past the end; the rest is not part of it.
            Words::Trim => events.truncate(i),
        }
    }
    Ok(())
}

/// A transport failure, settled with the budget if there is one ([`Action::settle`]).
fn transport<const N: usize>(
    request: Request,
    policy: &Policy,
    now: u64,
    failure: TransportFailure,
    rng: &mut Script,
    budget: &mut Option<RetryBudget>,
) -> R<(Value, Option<Request>)> {
    Ok(action_json(request.transport_failure::<N, _>(policy, now, failure, rng).settle(budget.as_mut())))
}

fn same(a: &Value, b: &Value, budgets: (RetryBudget, RetryBudget), one: &str, other: &str) -> R<()> {
    if a != b || budgets.0 != budgets.1 {
        return bad(format!("{one} and {other} disagree: {a} vs {b} ({:?} vs {:?})", budgets.0, budgets.1));
    }
    Ok(())
}

/// A response: read whole with `complete` when it arrived whole (no chunks given, not cut, no
/// budget, no dialect), also through `response`/`feed`/`finish`, which must agree; otherwise
/// fed chunk by chunk, with the progress after each when chunks are given.
fn respond<const N: usize>(
    request: Request,
    policy: &Policy,
    now: u64,
    response: &Value,
    rng: &mut Script,
    budget: &mut Option<RetryBudget>,
) -> R<(Value, Option<Request>)> {
    let status = u16_of(response, "status")?;
    let headers = headers(response)?;
    let body = body_bytes(response)?;
    let cut = flag(response, "cut")?;
    let seen = match response.get("seen") {
        None => None,
        Some(seen) => Some(seen_from(seen)?),
    };
    let chunked = response.get("chunks").is_some();
    let pieces = chunks(response, &body)?;
    let reply = |request: Request| match &seen {
        Some(seen) => request.response_parsed::<N>(policy, status, seen),
        None => request.response::<N, _>(policy, status, headers.as_slice()),
    };
    let read = |request: Request, rng: &mut Script, budget: Option<&mut RetryBudget>| {
        let mut reply = reply(request);
        assert_eq!(reply.status(), status, "a reply says another status than it was given");
        let progress: Vec<&str> = pieces.iter().map(|chunk| progress_name(reply.feed(chunk))).collect();
        let action = if cut { reply.body_failed(policy, now, rng) } else { reply.finish(policy, now, rng) };
        let action = action.settle(budget);
        (action, progress)
    };
    if !chunked && !cut && budget.is_none() && seen.is_none() {
        let mut other_rng = rng.clone();
        let (fed, _) = read(request, &mut other_rng, None);
        let whole =
            action_json(request.complete::<N, _, _>(policy, now, status, headers.as_slice(), &body, rng));
        let none = RetryBudget::new(0, 0, 0, 0);
        same(&whole.0, &action_json(fed).0, (none, none), "complete", "response/feed/finish")?;
        if other_rng.used != rng.used {
            return bad("complete and response/feed/finish drew different words");
        }
        return Ok(whole);
    }
    let (action, progress) = read(request, rng, budget.as_mut());
    let answer = (action_json(action), progress);
    let ((mut value, next), progress) = answer;
    if chunked {
        value["progress"] = json!(progress);
    }
    Ok((value, next))
}

/// `seen`: what a dialect read from the response, as [`Request::response_parsed`] takes it —
/// the fields it uses (`retry_after_ms`, `reset_ms`, `remaining`, `pushback`, and `body`: the
/// body fields that carry pushback, none when absent).
fn seen_from(v: &Value) -> R<RateLimitHeaders> {
    let pushback: Vec<u16> = array(v, "pushback")?
        .iter()
        .map(|s| s.as_u64().and_then(|s| u16::try_from(s).ok()).ok_or_else(|| Bad(format!("pushback {s}"))))
        .collect::<R<_>>()?;
    Ok(RateLimitHeaders {
        retry_after_ms: opt_u64(v, "retry_after_ms")?,
        reset_ms: opt_u64(v, "reset_ms")?,
        remaining: opt_u32(v, "remaining")?,
        pushback: Box::leak(pushback.into_boxed_slice()),
        body: body_fields_from(v)?,
        ..RateLimitHeaders::default()
    })
}

fn backoff(case: &mut Value, words: Words) -> R<()> {
    let policy = policy_from(field(case, "policy")?)?;
    let retry = u32_of(case, "retry")?;
    let now = u64_of(case, "now")?;
    let previous = opt_u32(case, "previous_ms")?;
    let mut rng = Script::of(case)?;
    let (delay, source) = match previous {
        None => policy.backoff(retry, now, &mut rng),
        Some(previous) => policy.backoff_after(Some(previous), retry, now, &mut rng),
    };
    rng.settle(case, words)?;
    case["expect"] = json!({ "delay_ms": delay, "jitter": jitter_name(source) });
    Ok(())
}

fn bounds(case: &mut Value) -> R<()> {
    let policy = policy_from(field(case, "policy")?)?;
    let (min, max) = policy.delay_bounds(u32_of(case, "retry")?);
    case["expect"] = json!({ "min_ms": min, "max_ms": max });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The body parser.

fn body_case<const N: usize>(case: &Value) -> R<Value> {
    let body = body_bytes(case)?;
    // The pushback fields a case reads (`fields`, as a dialect's `body`): what they told is part
    // of the answer only where the case names them.
    let fields = match case.get("fields") {
        None => None,
        Some(f) => Some(BodyFields {
            retry_after: flag(f, "retry_after")?,
            global: flag(f, "global")?,
            secondary_limit: flag(f, "secondary_limit")?,
        }),
    };
    let mut parser = BodyParser::<N>::reading(fields.unwrap_or(BodyFields::NONE));
    let progress: Vec<&str> =
        chunks(case, &body)?.iter().map(|chunk| progress_name(parser.feed(chunk))).collect();
    let told = parser.pushback();
    let parsed = parser.finish();
    if Body::<N>::parse(&body) != parsed {
        return bad("Body::parse and BodyParser disagree");
    }
    let mut answer = body_json(&parsed);
    answer["progress"] = json!(progress);
    if fields.is_some() {
        answer["pushback"] = json!({ "wait_ms": told.wait_ms, "global": told.global });
    }
    Ok(answer)
}

// ---------------------------------------------------------------------------------------------
// Rate limits and dialects.

fn pacing_from(v: &Value) -> R<Pacing> {
    match string(v, "pacing")? {
        "burst" => Ok(Pacing::Burst),
        "smooth" => Ok(Pacing::Smooth),
        other => bad(format!("pacing {other:?}")),
    }
}

fn rate_limits<const C: usize>(case: &mut Value) -> R<()> {
    let mut limits = RateLimits::<C>::new(pacing_from(case)?);
    if let Some(ms) = opt_u32(case, "max_hold_ms")? {
        limits = limits.with_max_hold_ms(ms);
    }
    let steps = case.get_mut("steps").and_then(Value::as_array_mut).ok_or_else(|| Bad("steps".into()))?;
    for step in steps {
        let context = opt_string(step, "context")?.map(|c| c.as_bytes().to_vec());
        let context = context.as_deref();
        match string(step, "op")? {
            "observe" => {
                let (now, status, headers) = (u64_of(step, "now")?, u16_of(step, "status")?, headers(step)?);
                match step.get("dialect") {
                    None => limits.observe(now, status, headers.as_slice()),
                    Some(d) => limits.observe_dialect(now, status, headers.as_slice(), &dialect_from(d)?),
                }
            }
            "acquire" => {
                let permit = limits.acquire(u64_of(step, "now")?, context);
                step["expect"] = permit_json(permit);
            }
            "abandon" => limits.abandon(context),
            "max_hold_ms" => step["expect"] = json!({ "max_hold_ms": limits.max_hold_ms() }),
            "hold_until" => {
                let until = limits.hold_until(u64_of(step, "now")?, context);
                step["expect"] = json!({ "until_ms": until });
            }
            other => return bad(format!("rate-limit op {other:?}")),
        }
    }
    Ok(())
}

fn dialect_read(case: &mut Value) -> R<()> {
    let dialect = dialect_from(field(case, "dialect")?)?;
    let headers = headers(case)?;
    let seen = dialect.read(headers.as_slice());
    if dialect == Dialect::FOLLOW_UP_BOSS && RateLimitHeaders::read(headers.as_slice()) != seen {
        return bad("RateLimitHeaders::read and Dialect::FOLLOW_UP_BOSS.read disagree");
    }
    let told: Vec<Value> = array(case, "told_for")?
        .iter()
        .map(|s| {
            let status =
                s.as_u64().and_then(|s| u16::try_from(s).ok()).ok_or_else(|| Bad(format!("status {s}")))?;
            Ok(json!(seen.told_wait_ms(status)))
        })
        .collect::<R<_>>()?;
    case["expect"] = json!({
        "limit": seen.limit,
        "remaining": seen.remaining,
        "window_ms": seen.window_ms,
        "context": seen.context.map(|c| c.as_str().to_owned()),
        "retry_after_ms": seen.retry_after_ms,
        "reset_ms": seen.reset_ms,
        "pushback": seen.pushback,
        "scope": match seen.scope { Scope::Named => "named", Scope::Global => "global", Scope::Resource => "resource" },
        "told_wait_ms": told,
    });
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The breaker.

fn breaker(case: &mut Value, words: Words) -> R<()> {
    let mut breaker = Breaker::new(breaker_policy_from(field(case, "policy")?)?);
    let steps = case.get_mut("steps").and_then(Value::as_array_mut).ok_or_else(|| Bad("steps".into()))?;
    for step in steps {
        let mut rng = Script::of(step)?;
        let now = u64_of(step, "now")?;
        let mut answer = match string(step, "op")? {
            "acquire" => permit_json(breaker.acquire(now, &mut rng)),
            "observe" => {
                // `healthy` stands for any answer that shows a working server (a 2xx), `failed`
                // for no answer at all (a transport failure, counted as a 5xx is).
                let status = match (opt_string(step, "health")?, opt_u64(step, "status")?) {
                    (Some("healthy"), None) => Some(200),
                    (Some("failed"), None) => None,
                    (None, Some(status)) => Some(u16::try_from(status).map_err(|_| Bad("status".into()))?),
                    _ => return bad("observe: one of health (healthy, failed) or status"),
                };
                breaker.observe(now, status, &mut rng);
                json!({})
            }
            other => return bad(format!("breaker op {other:?}")),
        };
        if let (Some(map), Value::Object(state)) =
            (answer.as_object_mut(), breaker_state_json(breaker.state()))
        {
            map.extend(state);
        }
        rng.settle(step, words)?;
        step["expect"] = answer;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Writing: one case per line, keys in a fixed order, so files diff case by case.

/// The order the keys of a case's inputs are written in; keys not listed follow,
/// alphabetically.
const INPUT_ORDER: &[&str] = &[
    "name",
    "type",
    "op",
    "dialect",
    "policy",
    "capacity",
    "pacing",
    "max_hold_ms",
    "budget",
    "idempotency",
    "start_ms",
    "now",
    "may_wait_until",
    "transport",
    "status",
    "health",
    "context",
    "response",
    "seen",
    "headers",
    "body",
    "body_hex",
    "chunks",
    "fields",
    "cut",
    "value",
    "pivot_year",
    "epoch_s",
    "lines",
    "told_for",
    "retry",
    "previous_ms",
    "words",
    "requests",
    "events",
    "steps",
    "expect",
    // policy
    "base_ms",
    "max_backoff_ms",
    "jitter",
    "kind",
    "max_ms",
    "max_retries",
    "deadline_ms",
    "retry_after_ceiling_ms",
    "retry_after_floor_ms",
    "retry_after_jitter_ms",
    "retry_on",
    "max_error_body_bytes",
    // budget
    "retry_cost",
    "timeout_cost",
    "success_refund",
    // breaker policy
    "consecutive_failures",
    "failure_percent",
    "window_ms",
    "min_requests",
    "break_ms",
    "max_break_ms",
    "probes",
    "release_spread_ms",
    // dialect
    "limit",
    "remaining",
    "window",
    "reset",
    "header",
    "unit",
    "ietf",
    "pushback",
    "global",
    "scope",
];

/// The order the keys of an answer (an `expect`) are written in.
const ANSWER_ORDER: &[&str] = &[
    // the command line's reports (backoff-core decide --json, schedule --json)
    "decision",
    "in_words",
    "max_hold_ms",
    "why",
    "version",
    "retry",
    "min_ms",
    "max_ms",
    "sampled_ms",
    "total_ms",
    "total_max_ms",
    "action",
    "may_wait",
    "permit",
    "state",
    "until_ms",
    "in_flight",
    "succeeded",
    "delay_ms",
    "at_ms",
    "wait",
    "jitter",
    "stop",
    "attempts",
    "kind",
    "status",
    "body",
    "text",
    "truncated",
    "progress",
    "tokens",
    "error",
    "ms",
    "seconds",
    "year",
    "max_ms",
    "ok",
    "items",
    "name",
    "r",
    "t",
    "q",
    "w",
    "unit",
    "limit",
    "remaining",
    "window_ms",
    "context",
    "retry_after_ms",
    "reset_ms",
    "pushback",
    "wait_ms",
    "scope",
    "told_wait_ms",
];

/// `value` as compact JSON with keys in a fixed order ([`INPUT_ORDER`], and [`ANSWER_ORDER`]
/// inside an `expect`), appended to `out`.
pub fn write_json(value: &Value, out: &mut String) {
    write_ordered(value, INPUT_ORDER, out);
}

/// `value`, an answer, as compact JSON with keys in [`ANSWER_ORDER`], appended to `out`.
pub fn write_answer(value: &Value, out: &mut String) {
    write_ordered(value, ANSWER_ORDER, out);
}

fn write_ordered(value: &Value, order: &[&str], out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_ordered(item, order, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let rank = |k: &str| order.iter().position(|&o| o == k).unwrap_or(order.len());
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| (rank(a), a.as_str()).cmp(&(rank(b), b.as_str())));
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push_str(": ");
                let inner = if key == "expect" { ANSWER_ORDER } else { order };
                write_ordered(&map[key], inner, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// A section's file: a header, then its cases one per line.
pub fn write_file(section: &str, description: &str, cases: &[Value]) -> String {
    let mut out = String::new();
    out.push_str("{\"format\": \"backoff-core conformance vectors\", \"version\": ");
    out.push_str(&VERSION.to_string());
    out.push_str(", \"section\": ");
    out.push_str(&Value::String(section.into()).to_string());
    out.push_str(", \"description\": ");
    out.push_str(&Value::String(description.into()).to_string());
    out.push_str(", \"generated_by\": \"cargo run --example vectors -- write\", \"cases\": [\n");
    for (i, case) in cases.iter().enumerate() {
        write_json(case, &mut out);
        out.push_str(if i + 1 < cases.len() { ",\n" } else { "\n" });
    }
    out.push_str("]}\n");
    out
}
