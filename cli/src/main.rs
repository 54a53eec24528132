//! `backoff-core`: what the retry policy of `backoff-core` does with a response, said in words.
//!
//! ```text
//! curl -si https://api.example.com/v1/people | backoff-core decide
//! curl -si -X POST … | backoff-core decide --post --json
//! backoff-core schedule
//! backoff-core replay vectors/request.json
//! ```
//!
//! Every decision is the core's; this program only reads the input and says what the core
//! answered, and why. Exit codes are listed in `USAGE` (and the README).

/// `println!` that ends the program quietly when its reader has gone (`… | head`), instead of
/// panicking on the broken pipe.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if writeln!(std::io::stdout(), $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

mod http;
// The executor the generator (examples/vectors.rs) and the replay test share: some of it is theirs alone.
#[allow(dead_code)]
mod vectors;

use std::io::Read;
use std::process::ExitCode;

use backoff_core::dialect::Scope;
use backoff_core::{
    Action, Dialect, ErrorKind, Idempotency, Jitter, Policy, RateLimitHeaders, Request, Stop,
    TransportFailure, Wait,
};
use serde_json::{json, Value};

const USAGE: &str = "\
backoff-core — what backoff-core's retry policy does with a response, and why

USAGE
  backoff-core decide [OPTIONS]        read a raw HTTP response on stdin (curl -si …) and decide
  backoff-core decide --status N [-H 'Name: value']… [--body TEXT] [OPTIONS]
  backoff-core decide --transport before-send|after-send [OPTIONS]
  backoff-core schedule [POLICY OPTIONS] [--seed N] [--json]
  backoff-core replay FILE [--quiet]   run a conformance vector file, print each answer

DECIDE OPTIONS
  --post             the request is not safe to repeat (a POST without an Idempotency-Key)
  --json             print the decision as JSON (the vectors' format)
  --retry N          decide as if N retries were already made (default 0)
  --cut              the body broke off (the connection was cut after what was read)
  --dialect NAME     read rate-limit headers as fub (default), github, discord or ietf
  --seed N           draw the jitter from this seed (default: from the operating system)

POLICY OPTIONS (default: Policy::FOLLOW_UP_BOSS)
  --base MS  --cap MS  --jitter none|full|equal|decorrelated|MS  --retries N
  --deadline MS  --ceiling MS  --floor MS

EXIT CODES
  0   decide: succeed; schedule: printed; replay: every case gives its recorded answer
  1   replay: a case gives another answer than the one recorded
  2   usage error
  3   malformed input (not an HTTP response, an unreadable or invalid vector file)
  10  decide: retry
  11  decide: fail
";

/// How the program ends.
enum Exit {
    /// The code of a command that ran.
    Code(u8),
    /// Bad arguments: the message, then the usage.
    Usage(String),
    /// Input that cannot be read: the message.
    Input(String),
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exit = match args.first().map(String::as_str) {
        Some("decide") => decide(&args[1..]),
        Some("schedule") => schedule(&args[1..]),
        Some("replay") => replay(&args[1..]),
        Some("-h" | "--help" | "help") => {
            say!("{}", USAGE.trim_end());
            Exit::Code(0)
        }
        Some(other) => Exit::Usage(format!("unknown command {other:?}")),
        None => Exit::Usage("a command is needed".into()),
    };
    match exit {
        Exit::Code(code) => ExitCode::from(code),
        Exit::Usage(message) => {
            eprintln!("backoff-core: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Exit::Input(message) => {
            eprintln!("backoff-core: {message}");
            ExitCode::from(3)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Arguments.

/// The arguments of one command, taken as they are recognised.
struct Args {
    rest: Vec<String>,
}

impl Args {
    fn new(args: &[String]) -> Self {
        Self { rest: args.to_vec() }
    }

    /// Whether `--name` is present (and takes it).
    fn flag(&mut self, names: &[&str]) -> bool {
        let before = self.rest.len();
        self.rest.retain(|a| !names.contains(&a.as_str()));
        self.rest.len() != before
    }

    /// Every value of `--name VALUE` (or `--name=VALUE`), taken.
    fn values(&mut self, names: &[&str]) -> Result<Vec<String>, Exit> {
        let mut out = Vec::new();
        let mut i = 0;
        while i < self.rest.len() {
            let arg = &self.rest[i];
            if let Some((name, value)) = arg.split_once('=').filter(|(n, _)| names.contains(n)) {
                let _ = name;
                out.push(value.to_owned());
                self.rest.remove(i);
            } else if names.contains(&arg.as_str()) {
                let Some(value) = self.rest.get(i + 1).cloned() else {
                    return Err(Exit::Usage(format!("{arg} needs a value")));
                };
                out.push(value);
                self.rest.drain(i..i + 2);
            } else {
                i += 1;
            }
        }
        Ok(out)
    }

    /// The last value of `--name VALUE`, if given.
    fn value(&mut self, names: &[&str]) -> Result<Option<String>, Exit> {
        Ok(self.values(names)?.pop())
    }

    /// A number given as `--name N`.
    fn number<T: std::str::FromStr>(&mut self, names: &[&str]) -> Result<Option<T>, Exit> {
        match self.value(names)? {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| Exit::Usage(format!("{}: {v:?} is not a number here", names[0]))),
        }
    }

    /// Fails on anything not taken.
    fn done(self) -> Result<Vec<String>, Exit> {
        match self.rest.iter().find(|a| a.starts_with('-')) {
            Some(unknown) => Err(Exit::Usage(format!("unknown option {unknown:?}"))),
            None => Ok(self.rest),
        }
    }
}

/// The preset with the policy options applied.
fn policy_of(args: &mut Args) -> Result<Policy, Exit> {
    let mut p = Policy::FOLLOW_UP_BOSS;
    if let Some(v) = args.number(&["--base"])? {
        p.base_ms = v;
    }
    if let Some(v) = args.number(&["--cap"])? {
        p.max_backoff_ms = v;
    }
    if let Some(v) = args.number(&["--retries"])? {
        p.max_retries = v;
    }
    if let Some(v) = args.number(&["--deadline"])? {
        p.deadline_ms = Some(v);
    }
    if let Some(v) = args.number(&["--ceiling"])? {
        p.retry_after_ceiling_ms = v;
    }
    if let Some(v) = args.number(&["--floor"])? {
        p.retry_after_floor_ms = v;
    }
    if let Some(jitter) = args.value(&["--jitter"])? {
        p.jitter = match jitter.as_str() {
            "none" => Jitter::None,
            "full" => Jitter::Full,
            "equal" => Jitter::Equal,
            "decorrelated" => Jitter::Decorrelated,
            ms => Jitter::Additive {
                max_ms: ms.parse().map_err(|_| {
                    Exit::Usage(format!("--jitter {ms:?}: none, full, equal, decorrelated or a number of ms"))
                })?,
            },
        };
    }
    Ok(p)
}

// ---------------------------------------------------------------------------------------------
// Randomness: SplitMix64, seeded by the caller or by the operating system.

/// The jitter's random words: SplitMix64 from a seed.
struct Seeded(u64);

impl Seeded {
    fn new(seed: Option<u64>) -> Self {
        use std::hash::{BuildHasher, RandomState};
        // std seeds RandomState from the operating system: a different stream every run.
        Self(seed.unwrap_or_else(|| RandomState::new().hash_one(std::process::id())))
    }
}

impl rand_core::TryRng for Seeded {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.try_next_u64()? >> 32) as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let word = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// decide

/// The message capacity used to show a body: enough for a message, cut (and said so) beyond.
const CAPACITY: usize = 1024;

fn decide(args: &[String]) -> Exit {
    match try_decide(args) {
        Ok(code) => Exit::Code(code),
        Err(exit) => exit,
    }
}

fn try_decide(args: &[String]) -> Result<u8, Exit> {
    let mut args = Args::new(args);
    let post = args.flag(&["--post", "--not-idempotent"]);
    let as_json = args.flag(&["--json"]);
    let cut_flag = args.flag(&["--cut"]);
    let retries: u32 = args.number(&["--retry"])?.unwrap_or(0);
    let seed: Option<u64> = args.number(&["--seed"])?;
    let dialect = match args.value(&["--dialect"])?.as_deref() {
        None | Some("fub" | "follow-up-boss") => Dialect::FOLLOW_UP_BOSS,
        Some("github") => Dialect::GITHUB,
        Some("discord") => Dialect::DISCORD,
        Some("ietf") => Dialect::IETF_DRAFT_11,
        Some(other) => return Err(Exit::Usage(format!("--dialect {other:?}: fub, github, discord or ietf"))),
    };
    let status: Option<u16> = args.number(&["--status"])?;
    let header_flags = args.values(&["-H", "--header"])?;
    let body_flag = args.value(&["--body"])?;
    let transport = args.value(&["--transport"])?;
    let policy = policy_of(&mut args)?;
    let positional = args.done()?;
    if !positional.is_empty() {
        return Err(Exit::Usage(format!("decide takes no arguments, only options: {positional:?}")));
    }
    let idempotency = if post { Idempotency::NotIdempotent } else { Idempotency::Idempotent };
    let mut rng = Seeded::new(seed);

    // The request, `--retry` retries on: each made after a connection that failed before
    // sending (which any request may retry), so only the count differs from a fresh one.
    let mut request = Request::new(0, idempotency);
    for n in 0..retries {
        match request.transport_failure::<0, _>(&policy, 0, TransportFailure::BeforeSend, &mut rng) {
            Action::Retry(retry) => request = retry.request,
            _ => {
                return Err(Exit::Usage(format!(
                    "--retry {retries}: the policy allows {n} retries (--retries {})",
                    policy.max_retries
                )))
            }
        }
    }

    let response = if let Some(when) = transport {
        let failure = match when.as_str() {
            "before-send" | "before_send" => TransportFailure::BeforeSend,
            "after-send" | "after_send" => TransportFailure::AfterSend,
            other => return Err(Exit::Usage(format!("--transport {other:?}: before-send or after-send"))),
        };
        let action = request.transport_failure::<CAPACITY, _>(&policy, 0, failure, &mut rng);
        return Ok(report(&policy, None, None, action, post, retries, as_json));
    } else if let Some(status) = status {
        let mut headers = Vec::new();
        for h in header_flags {
            let Some((name, value)) = h.split_once(':') else {
                return Err(Exit::Usage(format!("-H {h:?}: expected 'Name: value'")));
            };
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
        let body = body_flag.unwrap_or_default().into_bytes();
        http::Response {
            version: "HTTP/1.1".into(),
            status,
            reason: String::new(),
            headers,
            body,
            cut: None,
            notes: Vec::new(),
        }
    } else {
        let mut input = Vec::new();
        std::io::stdin().read_to_end(&mut input).map_err(|e| Exit::Input(format!("stdin: {e}")))?;
        http::parse(&input).map_err(Exit::Input)?
    };
    let cut = cut_flag || response.cut.is_some();
    let seen = dialect.read(response.headers.as_slice());
    let mut reply = if dialect == Dialect::FOLLOW_UP_BOSS {
        request.response::<CAPACITY, _>(&policy, response.status, response.headers.as_slice())
    } else {
        request.response_parsed::<CAPACITY>(&policy, response.status, &seen)
    };
    let _ = reply.feed(&response.body);
    // What the rate limits learn: the headers, and what the body told where the dialect reads it.
    let seen = seen.with_body(response.status, reply.body_wait());
    let action =
        if cut { reply.body_failed(&policy, 0, &mut rng) } else { reply.finish(&policy, 0, &mut rng) };
    Ok(report(&policy, Some(&response), Some(&seen), action, post, retries, as_json))
}

/// Prints the decision (in words, or as JSON) and returns its exit code.
fn report(
    policy: &Policy,
    response: Option<&http::Response>,
    seen: Option<&RateLimitHeaders>,
    action: Action<CAPACITY>,
    post: bool,
    retries: u32,
    as_json: bool,
) -> u8 {
    let code = match &action {
        Action::Succeed { .. } => 0,
        Action::Retry(_) => 10,
        Action::Fail(_) => 11,
    };
    let why = why(policy, response, seen, &action, post, retries);
    let words = action.to_string();
    let (decision, _) = vectors::action_json(action);
    if as_json {
        let out = json!({
            "response": response.map(|r| json!({
                "version": r.version, "status": r.status, "reason": r.reason,
                "headers": r.headers.len(), "body_bytes": r.body.len(), "cut": r.cut, "notes": r.notes,
            })),
            "idempotency": if post { "not_idempotent" } else { "idempotent" },
            "retries_before": retries,
            "rate_limit": seen.map(seen_json),
            "decision": decision,
            "in_words": words,
            "why": why,
        });
        let mut text = String::new();
        vectors::write_answer(&out, &mut text);
        say!("{text}");
        return code;
    }
    match response {
        Some(r) => {
            let reason = if r.reason.is_empty() { String::new() } else { format!(" {}", r.reason) };
            say!(
                "response  {} {}{reason}: {} header(s), {} byte(s) of body{}",
                r.version,
                r.status,
                r.headers.len(),
                r.body.len(),
                r.cut.as_ref().map_or(String::new(), |c| format!(", cut: {c}"))
            );
            for note in &r.notes {
                say!("note      {note}");
            }
        }
        None => say!("response  none: the connection failed"),
    }
    if let Some(line) = seen.and_then(rate_limit_line) {
        say!("limits    {line}");
    }
    say!("decision  {words}");
    for line in why {
        say!("why       {line}");
    }
    code
}

fn seen_json(seen: &RateLimitHeaders) -> Value {
    json!({
        "limit": seen.limit, "remaining": seen.remaining, "window_ms": seen.window_ms,
        "context": seen.context.map(|c| c.as_str().to_owned()),
        "retry_after_ms": seen.retry_after_ms, "reset_ms": seen.reset_ms,
        "scope": match seen.scope { Scope::Named => "named", Scope::Global => "global", Scope::Resource => "resource" },
    })
}

/// What the response said about its rate limit, if anything.
fn rate_limit_line(seen: &RateLimitHeaders) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(c) = seen.context {
        parts.push(format!("context {}", c.as_str()));
    }
    if let Some(l) = seen.limit {
        parts.push(format!("limit {l}"));
    }
    if let Some(r) = seen.remaining {
        parts.push(format!("remaining {r}"));
    }
    if let Some(w) = seen.window_ms {
        parts.push(format!("window {}", seconds(u64::from(w))));
    }
    if let Some(r) = seen.reset_ms {
        parts.push(format!("reset in {}", seconds(r)));
    }
    if let Some(r) = seen.retry_after_ms {
        parts.push(format!("Retry-After {}", seconds(r)));
    }
    if seen.scope != Scope::Named {
        parts.push(format!("scope {:?}", seen.scope).to_lowercase());
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Milliseconds as seconds, without floating point: `1.5 s`, `8 s`, `600 s`.
fn seconds(ms: u64) -> String {
    match ms % 1000 {
        0 => format!("{} s", ms / 1000),
        frac => format!("{}.{} s", ms / 1000, format!("{frac:03}").trim_end_matches('0')),
    }
}

/// The reasons behind a decision, in words, from what the policy and the answer say.
fn why(
    policy: &Policy,
    response: Option<&http::Response>,
    seen: Option<&RateLimitHeaders>,
    action: &Action<CAPACITY>,
    post: bool,
    retries: u32,
) -> Vec<String> {
    let mut out = Vec::new();
    let cut = response.is_some_and(|r| r.cut.is_some());
    match action {
        Action::Succeed { .. } => out.push("a 2xx: hand the response to the application".into()),
        Action::Retry(retry) => {
            let class = match (retry.cause.kind, retry.cause.status) {
                (ErrorKind::Transport, Some(s)) => {
                    format!("the body of a {s} was cut: a transport failure after sending")
                }
                (ErrorKind::Transport, None) => "no response: a transport failure".into(),
                (ErrorKind::RateLimited, _) => "rate limited: the request was not processed".into(),
                (ErrorKind::RequestTimeout, _) => {
                    "408: the server did not receive the whole request, so did not process it".into()
                }
                (ErrorKind::ServerError, Some(s)) => format!("a {s} server error: retried"),
                (kind, _) => format!("{kind:?}"),
            };
            out.push(class);
            match retry.wait {
                Wait::Backoff(_) => {
                    // A Retry-After on a status that carries pushback in the dialect, not read.
                    let pushback = |r: &&http::Response| seen.is_some_and(|s| s.pushback.contains(&r.status));
                    let told = response.filter(pushback).and_then(|r| r.header("retry-after"));
                    if let Some(value) = told {
                        out.push(format!(
                            "Retry-After {value:?} ignored: not delay-seconds, nor an HTTP-date after this response's Date"
                        ));
                    }
                    let (lo, hi) = policy.delay_bounds(retries);
                    out.push(format!(
                        "backoff for retry {} of {}: {lo}..={hi} ms (min(2^{retries} · {} ms + jitter, {} ms))",
                        retries + 1,
                        policy.max_retries,
                        policy.base_ms,
                        policy.max_backoff_ms
                    ));
                }
                Wait::RetryAfter(_) => {
                    let header = response.and_then(|r| r.header("retry-after")).is_some()
                        && seen.is_some_and(|s| s.retry_after_ms.is_some());
                    let source = if header {
                        "Retry-After"
                    } else {
                        "a spent quota's reset, or a wait its body carries in the dialect's fields"
                    };
                    out.push(format!(
                        "the server said when ({source}): never earlier than told, at least {} ms, plus up to {} ms of spread so a fleet does not return at once",
                        policy.retry_after_floor_ms, policy.retry_after_jitter_ms
                    ));
                }
            }
            if post {
                out.push(
                    "not idempotent (--post), but retried: this failure proves it was not processed".into(),
                );
            }
        }
        Action::Fail(error) => {
            out.push(match error.stop {
                Stop::Permanent => match error.cause.kind {
                    ErrorKind::Unauthorized => "401: the API key is missing or invalid; retrying cannot change that".into(),
                    ErrorKind::Forbidden => "403: not allowed (or a locked account); never retried".into(),
                    ErrorKind::UnexpectedStatus => "1xx and 3xx are for the HTTP layer to handle, not a final answer".into(),
                    ErrorKind::InvalidStatus => "not an HTTP status (below 100 or above 599)".into(),
                    ErrorKind::RequestTimeout | ErrorKind::RateLimited | ErrorKind::ServerError | ErrorKind::Transport => {
                        "this class is not in the policy's retry_on".into()
                    }
                    _ => "a client error: sending the same request again gets the same answer".into(),
                },
                Stop::MayHaveBeenProcessed => format!(
                    "not idempotent (--post), and {} may have been processed: sending it again could do it twice",
                    match error.cause.status {
                        None => "a request whose connection broke after it was sent".to_owned(),
                        Some(s) if cut => format!("a request whose {s} response was cut"),
                        Some(s) => format!("a request answered {s}"),
                    }
                ),
                Stop::RetriesExhausted => format!("the policy's {} retries are used up", policy.max_retries),
                Stop::RetryAfterTooLong => format!(
                    "the server asks to wait longer than the ceiling ({} ms): failing now instead of waiting in vain",
                    policy.retry_after_ceiling_ms
                ),
                Stop::Deadline => "the next attempt would come after the policy's deadline".into(),
                Stop::BudgetExhausted => "the retry budget cannot pay for another retry".into(),
            });
            if let Some(message) = error.message() {
                out.push(format!("the API's own message: {message:?}"));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// schedule

fn schedule(args: &[String]) -> Exit {
    match try_schedule(args) {
        Ok(code) => Exit::Code(code),
        Err(exit) => exit,
    }
}

fn try_schedule(args: &[String]) -> Result<u8, Exit> {
    let mut args = Args::new(args);
    {
        let as_json = args.flag(&["--json"]);
        let seed: Option<u64> = args.number(&["--seed"])?;
        let policy = policy_of(&mut args)?;
        let positional = args.done()?;
        if !positional.is_empty() {
            return Err(Exit::Usage(format!("schedule takes no arguments, only options: {positional:?}")));
        }
        let mut rng = Seeded::new(seed);
        let (mut total, mut total_max) = (0u64, 0u64);
        let mut previous = None;
        let mut rows = Vec::new();
        for n in 0..policy.max_retries {
            let (lo, hi) = policy.delay_bounds(n);
            let (sampled, _) = policy.backoff_after(previous, n, total, &mut rng);
            previous = Some(sampled);
            total += u64::from(sampled);
            total_max += u64::from(hi);
            rows.push((n + 1, lo, hi, sampled, total, total_max));
        }
        if as_json {
            let rows: Vec<Value> = rows
                .iter()
                .map(|&(retry, min, max, sampled, total, total_max)| {
                    json!({ "retry": retry, "min_ms": min, "max_ms": max, "sampled_ms": sampled, "total_ms": total, "total_max_ms": total_max })
                })
                .collect();
            let mut text = String::new();
            // The policy in the vectors' order of inputs, each row in the order of answers.
            text.push_str("{\"policy\": ");
            vectors::write_json(&vectors::policy_json(&policy), &mut text);
            text.push_str(", \"retries\": [");
            for (i, row) in rows.iter().enumerate() {
                if i > 0 {
                    text.push_str(", ");
                }
                vectors::write_answer(row, &mut text);
            }
            text.push_str("]}");
            say!("{text}");
            return Ok(0);
        }
        say!(
            "base {} ms, cap {} ms, jitter {:?}, {} retries{}",
            policy.base_ms,
            policy.max_backoff_ms,
            policy.jitter,
            policy.max_retries,
            policy.deadline_ms.map_or(String::new(), |d| format!(", deadline {d} ms"))
        );
        say!(
            "{:>5} {:>10} {:>10} {:>10} {:>12} {:>12}",
            "retry",
            "min",
            "max",
            "sampled",
            "total",
            "worst total"
        );
        for (retry, lo, hi, sampled, total, total_max) in rows {
            say!(
                "{retry:>5} {:>10} {:>10} {:>10} {:>12} {:>12}",
                seconds(lo.into()),
                seconds(hi.into()),
                seconds(sampled.into()),
                seconds(total),
                seconds(total_max)
            );
        }
        Ok(0)
    }
}

// ---------------------------------------------------------------------------------------------
// replay

fn replay(args: &[String]) -> Exit {
    let mut args = Args::new(args);
    let quiet = args.flag(&["--quiet", "-q"]);
    let files = match args.done() {
        Ok(files) => files,
        Err(exit) => return exit,
    };
    let [file] = files.as_slice() else {
        return Exit::Usage("replay takes one vector file".into());
    };
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) => return Exit::Input(format!("{file}: {e}")),
    };
    let data: Value = match serde_json::from_str(&text) {
        Ok(data) => data,
        Err(e) => return Exit::Input(format!("{file}: not JSON: {e}")),
    };
    if data["version"] != vectors::VERSION {
        return Exit::Input(format!(
            "{file}: format version {} (this program reads {})",
            data["version"],
            vectors::VERSION
        ));
    }
    let Some(section) = data["section"].as_str().filter(|s| vectors::SECTIONS.contains(s)) else {
        return Exit::Input(format!("{file}: no known \"section\" (one of {:?})", vectors::SECTIONS));
    };
    let Some(cases) = data["cases"].as_array() else {
        return Exit::Input(format!("{file}: no \"cases\" array"));
    };
    let mut differ = 0;
    for case in cases {
        let name = case["name"].as_str().unwrap_or("(unnamed)");
        let now = match vectors::run(section, case, vectors::Words::Exact) {
            Ok(now) => now,
            Err(e) => {
                differ += 1;
                say!("{name}\n  CANNOT RUN: {e}");
                continue;
            }
        };
        let same = now == *case;
        if !same {
            differ += 1;
        }
        if quiet && same {
            continue;
        }
        say!("{name}{}", if same { "" } else { "   <-- DIFFERS from the recorded answer" });
        for (label, answer) in answers(&now) {
            say!("  {label}{}", describe(&answer));
        }
        if !same {
            for (label, answer) in answers(case) {
                say!("  recorded {label}{}", describe(&answer));
            }
        }
    }
    say!("{file}: {} of {} cases give their recorded answers", cases.len() - differ, cases.len());
    Exit::Code(if differ == 0 { 0 } else { 1 })
}

/// Every answer of a case, labelled by the input it answers.
fn answers(case: &Value) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    if let Some(expect) = case.get("expect") {
        out.push((String::new(), expect.clone()));
    }
    for (r, request) in case["requests"].as_array().into_iter().flatten().enumerate() {
        for event in request["events"].as_array().into_iter().flatten() {
            let what = if let Some(response) = event.get("response") {
                format!("{}{}", response["status"], if response.get("cut").is_some() { " cut" } else { "" })
            } else if let Some(t) = event.get("transport") {
                format!("transport {}", t.as_str().unwrap_or_default())
            } else {
                format!("may wait until {}", event["may_wait_until"])
            };
            let prefix = if case["requests"].as_array().map_or(0, Vec::len) > 1 {
                format!("#{} ", r + 1)
            } else {
                String::new()
            };
            out.push((format!("{prefix}@{} {what} -> ", event["now"]), event["expect"].clone()));
        }
    }
    for step in case["steps"].as_array().into_iter().flatten() {
        if let Some(expect) = step.get("expect") {
            let context =
                step.get("context").and_then(Value::as_str).map_or(String::new(), |c| format!(" {c}"));
            out.push((
                format!("@{} {}{context} -> ", step["now"], step["op"].as_str().unwrap_or_default()),
                expect.clone(),
            ));
        }
    }
    out
}

/// An answer in words, for the actions; as compact JSON for the rest.
fn describe(answer: &Value) -> String {
    let body = |a: &Value| {
        let b = &a["body"];
        let text = b.get("text").and_then(Value::as_str).map_or(String::new(), |t| format!(" {t:?}"));
        format!("body {}{text}", b["kind"].as_str().unwrap_or_default())
    };
    let tokens = answer.get("tokens").map_or(String::new(), |t| format!(" [budget {t}]"));
    match answer["action"].as_str() {
        Some("succeed") => format!("succeed after {} attempt(s){tokens}", answer["attempts"]),
        Some("retry") => format!(
            "retry in {} ms, at {} ({}, jitter {}): {} {}, {}{tokens}",
            answer["delay_ms"],
            answer["at_ms"],
            answer["wait"].as_str().unwrap_or_default(),
            answer["jitter"].as_str().unwrap_or_default(),
            answer["kind"].as_str().unwrap_or_default(),
            answer["status"],
            body(answer)
        ),
        Some("fail") => format!(
            "fail ({}) after {} attempt(s): {} {}, {}{tokens}",
            answer["stop"].as_str().unwrap_or_default(),
            answer["attempts"],
            answer["kind"].as_str().unwrap_or_default(),
            answer["status"],
            body(answer)
        ),
        _ => {
            let mut text = String::new();
            vectors::write_answer(answer, &mut text);
            text
        }
    }
}
