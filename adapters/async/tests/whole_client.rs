//! The whole client, every door open at once (issue 22): the async driver on a virtual clock
//! runs several concurrent requests of several contexts against a scripted server that answers
//! at random — every status class, `Retry-After` in seconds of any size (with and without
//! fractions) and in all three date forms against a `Date` header, `X-RateLimit-*`, 408s,
//! transport failures before and after sending, bodies cut mid-way, long bodies — with the
//! retry budget and the circuit breaker on and off, and checks for every request the three
//! promises about waiting of DESIGN.md, and that nothing panics.
//!
//! The server keeps its own log: every send (request, virtual time), every response (time,
//! status, headers, how much of its body the driver read, whether it met the cut), every
//! transport failure, every sleep the driver asks its timer for, and how each request ended.
//! An independent model of the rules reads that log — it never calls the crate's
//! `RateLimits` or `Request` (`delay_bounds` only cross-checks the model's backoff bounds):
//!
//! - **Holds.** A 429 or 503 whose `Retry-After` (seconds, a fraction rounded up to the
//!   millisecond, or an HTTP-date minus the response's `Date`; the longest if repeated;
//!   garbage, a date without `Date` or before it: absent) is `ra` holds every request of its
//!   `X-RateLimit-Context` (every request at all if it names none) until `at + ra`. Without
//!   `Retry-After` (which outranks them), `Remaining: 0` holds a named context one window
//!   (the last `Window` told for that context) from the response. A hold is believed until
//!   `min(until, learnt + max_hold)`. A request of context `None` waits for every hold.
//! - **Never early.** No send of a request while a hold that applies to it is believed; the
//!   retry after a `Retry-After` waits at least `max(ra, floor)`; a sleep on the shared state
//!   lasts at least until every told hold in force has ended.
//! - **Never longer.** The retry after an outcome waits within `max(ra, floor) + 0..=jitter`
//!   (cut at what is left of the deadline) where `Retry-After` was told, and within the
//!   backoff's `[min(2^n·base, cap), min(2^n·base + jitter, cap)]` where it was not. A sleep on
//!   the shared state ends no later than the longest hold in force that applies to the
//!   request — or the breaker's bound (below).
//! - **Never stuck.** At most `max_retries + 1` sends; with a deadline every send and every
//!   sleep's end at or before `started + deadline`; no sleep on the shared state longer than
//!   the ceiling; a `Retry-After` past the ceiling on the request's own response fails it with
//!   `RetryAfterTooLong`; a request that fails unsent (kind `RateLimited`, no status, no
//!   response, attempts = sends so far) does so only while a hold (of any kind below, or the
//!   breaker's bound) that ends past the ceiling, or past its deadline, is in force; every
//!   request ends.
//! - **Every decision.** After each outcome the model computes what may follow: success for a
//!   2xx (whose body is never read); `Permanent` for classes not retried; for a request that
//!   is not idempotent, `MayHaveBeenProcessed` after a 5xx, a failure after sending, or a body
//!   cut after any status but 408 and 429; `RetriesExhausted`; `Deadline`; a retry — paid
//!   from a budget the model keeps exactly (retry and timeout costs, refunds, capacity), or
//!   `BudgetExhausted` when it cannot pay. The driver's result must be one of those, with the
//!   outcome's kind, status and transport error, and the right number of attempts.
//! - **Bodies.** A success's body is not read; no more than `max_error_body_bytes + 64` bytes
//!   of an error body are read (the policy's limit is 300 bytes in a third of the cases, and
//!   bodies run to 300 KB).
//!
//! What the model approximates, rather than computes:
//!
//! - **`Pacing::Burst`'s own count.** The client counts its sends down from `Remaining`,
//!   counts requests in flight against a `Remaining` that may be stale and lets such a one
//!   only lower the count, and holds a context for a window when the count reaches 0 — at a
//!   send, or at a response whose `Remaining` was not 0. The model does not count: any send
//!   of a context, and any response of it with a `Remaining`, may start such a window (the
//!   context's last told `Window`, believed for `max_hold`). These only raise the bound of
//!   "never longer" (and may justify an unsent failure); "never early" is checked against
//!   the exact holds only. The totals say how many waits needed them.
//! - **The breaker.** Not modelled: a sleep on the shared state may also end within the
//!   breaker's longest break, plus that break's jitter (half of it), plus the release spread,
//!   from its start — once the breaker has seen a failure (a status of 500 or more or below
//!   100, no response, a cut body).
//!
//! `WHOLE_CLIENT_CASES=n` runs `n` cases (default 10 000); `WHOLE_CLIENT_CASE=i` runs case `i`
//! alone and prints its log; `WHOLE_CLIENT_SURVEY=1` lists every failing case instead of
//! stopping at the first.

#[path = "../../../tests/common/mod.rs"]
mod common;

#[path = "../../../tests/common/sim.rs"]
mod sim;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use backoff_core::shared::Shared;
use backoff_core::{
    Breaker, BreakerPolicy, ErrorKind, Idempotency, Jitter, Pacing, Policy, RateLimits, RetryBudget, Stop,
    TransportFailure,
};
use backoff_core_async::{self as driver, Options, Success, Timer, Transport};
use common::SplitMix;
use rand_core::TryRng;

// ---------------------------------------------------------------------------------------------
// The virtual clock and the executor
// ---------------------------------------------------------------------------------------------

/// A virtual clock: a sleep is pending until the executor moves the clock to the earliest
/// instant any task sleeps until.
#[derive(Default)]
struct Clock {
    now: Cell<u64>,
    wakes: RefCell<Vec<u64>>,
}

impl Clock {
    fn now(&self) -> u64 {
        self.now.get()
    }

    /// Moves the clock to the earliest pending sleep's instant; `false` if none is pending.
    fn advance(&self) -> bool {
        let mut wakes = self.wakes.borrow_mut();
        let Some(&next) = wakes.iter().min() else { return false };
        wakes.clear();
        self.now.set(self.now.get().max(next));
        true
    }

    fn until(&self, at: u64) -> Sleep<'_> {
        Sleep { clock: self, at }
    }
}

struct Sleep<'c> {
    clock: &'c Clock,
    at: u64,
}

impl Future for Sleep<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.clock.now.get() >= self.at {
            Poll::Ready(())
        } else {
            self.clock.wakes.borrow_mut().push(self.at);
            Poll::Pending
        }
    }
}

/// Pending for one poll: a round trip during which the other tasks run.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

/// Polls the futures in turn until all are done; when two whole rounds make no progress,
/// moves the virtual clock to the next instant a task sleeps until.
fn run_all<F: Future>(clock: &Clock, futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut cx = Context::from_waker(Waker::noop());
    let mut idle_rounds = 0;
    for _ in 0..2_000_000 {
        let mut progressed = false;
        for (future, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                    *out = Some(value);
                    progressed = true;
                }
            }
        }
        if outputs.iter().all(Option::is_some) {
            return outputs.into_iter().flatten().collect();
        }
        idle_rounds = if progressed { 0 } else { idle_rounds + 1 };
        if idle_rounds >= 2 && clock.advance() {
            idle_rounds = 0;
        }
    }
    panic!("stuck: the requests did not finish (virtual time {} ms)", clock.now());
}

// ---------------------------------------------------------------------------------------------
// The server's log
// ---------------------------------------------------------------------------------------------

/// What a response told, as the generator meant it: the model's reading of the headers,
/// worked out when they were written (never by parsing them with the crate).
#[derive(Clone, Debug, Default)]
struct Told {
    /// `Retry-After` in ms as a recipient must read it (whatever the status; the model
    /// applies it only to 429 and 503).
    retry_after_ms: Option<u64>,
    /// The shape of its `Retry-After`, if it had one.
    form: Option<&'static str>,
    /// A valid `X-RateLimit-Context` (absent, empty or unprintable: `None`).
    context: Option<&'static str>,
    remaining: Option<u32>,
    window_ms: Option<u32>,
}

/// One response, as the server sent it and as far as the driver read it.
#[derive(Debug)]
struct Sent {
    id: usize,
    at: u64,
    status: u16,
    headers: Vec<(String, String)>,
    told: Told,
    body_len: usize,
    cut_at: Option<usize>,
    /// Body bytes handed to the driver.
    read: usize,
    /// Whether the driver met the cut (a read that failed).
    cut_seen: bool,
}

/// How a request ended, from the driver's result.
#[derive(Clone, Debug)]
struct End {
    ok: bool,
    attempts: u32,
    stop: Option<Stop>,
    kind: Option<ErrorKind>,
    status: Option<u16>,
    /// The status of the response handed back (a success's, or a failure's last).
    response: Option<u16>,
    transport_error: bool,
}

#[derive(Debug)]
enum Event {
    /// The request's future began (`Request::new` is made at this instant).
    Start { id: usize, at: u64 },
    /// The driver asked the timer to sleep.
    Sleep { id: usize, at: u64, until: u64 },
    /// The driver sent the request (the rate limits and breaker had let it go).
    Send { id: usize, at: u64 },
    /// A response arrived: `log.sent[index]`.
    Answer { id: usize, index: usize },
    /// The connection failed.
    Failed { id: usize, at: u64, failure: TransportFailure },
    /// The driver returned.
    End { id: usize, at: u64, end: End },
}

#[derive(Debug, Default)]
struct Log {
    events: Vec<Event>,
    sent: Vec<Sent>,
}

type SharedLog = Rc<RefCell<Log>>;

// ---------------------------------------------------------------------------------------------
// Random draws
// ---------------------------------------------------------------------------------------------

fn next(rng: &mut SplitMix) -> u64 {
    rng.try_next_u64().unwrap_or(0)
}

/// Uniform over `0..n` (`n > 0`); the modulo bias is irrelevant here.
fn below(rng: &mut SplitMix, n: u64) -> u64 {
    next(rng) % n.max(1)
}

fn between(rng: &mut SplitMix, lo: u64, hi: u64) -> u64 {
    lo + below(rng, hi - lo + 1)
}

fn chance(rng: &mut SplitMix, percent: u64) -> bool {
    below(rng, 100) < percent
}

fn pick<T: Copy>(rng: &mut SplitMix, items: &[T]) -> T {
    items[below(rng, items.len() as u64) as usize]
}

/// The SplitMix64 finaliser: the seed of case `i`.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

// ---------------------------------------------------------------------------------------------
// One case: a policy, a shared state, and a few concurrent requests
// ---------------------------------------------------------------------------------------------

const CONTEXTS: [&str; 3] = ["events", "people", "global"];

/// The server's clock (Unix seconds) at virtual instant 0: May 2026.
const EPOCH: u64 = 1_780_000_000;

#[derive(Clone, Debug)]
struct RequestPlan {
    start: u64,
    context: Option<&'static str>,
    idempotency: Idempotency,
    seed: u64,
}

/// The kinds of answer the server draws from, with a weight each per case.
const ANSWERS: [&str; 9] = ["before-send", "after-send", "2xx", "429", "503", "5xx", "408", "4xx", "odd"];

#[derive(Clone, Debug)]
struct Case {
    index: u64,
    policy: Policy,
    max_hold_ms: u32,
    budget: Option<RetryBudget>,
    breaker: Option<BreakerPolicy>,
    requests: Vec<RequestPlan>,
    weights: [u64; 9],
    max_latency_ms: u64,
}

impl Case {
    fn new(index: u64) -> Self {
        let mut rng = SplitMix(mix(index));
        let rng = &mut rng;
        let ceiling = pick(rng, &[10_000, 60_000, 600_000]);
        let mut policy = Policy::FOLLOW_UP_BOSS
            .with_base_ms(pick(rng, &[100, 500, 1_000]))
            .with_max_backoff_ms(pick(rng, &[2_000, 8_000, 32_000]))
            .with_jitter(Jitter::Additive { max_ms: pick(rng, &[0, 100, 1_000]) })
            .with_max_retries(below(rng, 9) as u32)
            .with_retry_after_ceiling_ms(ceiling)
            .with_retry_after_floor_ms(pick(rng, &[0, 1_000]))
            .with_retry_after_jitter_ms(pick(rng, &[0, 250, 1_000]))
            .with_max_error_body_bytes(pick(rng, &[300, 4_096, 65_536]));
        if chance(rng, 40) {
            policy = policy.with_deadline_ms(between(rng, 2_000, 120_000) as u32);
        }
        let budget = chance(rng, 35).then(|| RetryBudget::new(pick(rng, &[10, 30, 100]), 5, 10, 1));
        let breaker = chance(rng, 35).then(|| {
            let break_ms = pick(rng, &[200, 1_000, 2_000]);
            BreakerPolicy {
                consecutive_failures: between(rng, 1, 5) as u16,
                failure_percent: pick(rng, &[0, 50]),
                window_ms: 10_000,
                min_requests: pick(rng, &[3, 10]),
                break_ms,
                max_break_ms: break_ms * pick(rng, &[1, 2, 4]),
                probes: between(rng, 1, 2) as u8,
                release_spread_ms: pick(rng, &[0, 500, 2_000]),
            }
        });
        let requests = (0..between(rng, 2, 8))
            .map(|_| RequestPlan {
                start: if chance(rng, 30) { 0 } else { below(rng, 5_000) },
                context: if chance(rng, 25) { None } else { Some(pick(rng, &CONTEXTS)) },
                idempotency: if chance(rng, 50) {
                    Idempotency::Idempotent
                } else {
                    Idempotency::NotIdempotent
                },
                seed: next(rng),
            })
            .collect();
        let base = [4, 4, 30, 20, 10, 8, 6, 5, 3];
        let mut weights = base.map(|w| w * below(rng, 4));
        weights[2] = weights[2].max(10);
        let max_latency_ms = pick(rng, &[0, 0, 50, 300]);
        Self { index, policy, max_hold_ms: ceiling, budget, breaker, requests, weights, max_latency_ms }
    }

    /// The longest a breaker's wait can be: its longest break, the break's jitter (up to half
    /// of it) and the release spread (a half-open wait is a break plus the spread: shorter).
    fn breaker_bound_ms(&self) -> Option<u64> {
        self.breaker.map(|b| {
            let longest = u64::from(b.max_break_ms.max(b.break_ms));
            longest + longest / 2 + u64::from(b.release_spread_ms)
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The scripted server: one transport per request, drawing each answer when it is sent
// ---------------------------------------------------------------------------------------------

/// A body made on demand: `prefix`, `filler` bytes of `fill`, `suffix`; a read past `cut_at`
/// fails.
#[derive(Debug)]
struct Body {
    prefix: Vec<u8>,
    fill: u8,
    filler: usize,
    suffix: Vec<u8>,
    cut_at: Option<usize>,
}

impl Body {
    fn plain(bytes: &[u8]) -> Self {
        Self { prefix: bytes.to_vec(), fill: b' ', filler: 0, suffix: Vec::new(), cut_at: None }
    }

    fn len(&self) -> usize {
        self.prefix.len() + self.filler + self.suffix.len()
    }

    fn byte(&self, i: usize) -> u8 {
        if i < self.prefix.len() {
            self.prefix[i]
        } else if i < self.prefix.len() + self.filler {
            self.fill
        } else {
            self.suffix[i - self.prefix.len() - self.filler]
        }
    }
}

#[derive(Debug)]
struct Answer {
    index: usize,
    status: u16,
    headers: Vec<(String, String)>,
    body: Body,
    at: usize,
}

impl backoff_core::Headers for Answer {
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
        self.headers.as_slice().for_each(visit);
    }
}

struct Server<'a> {
    id: usize,
    context: Option<&'static str>,
    case: &'a Case,
    clock: &'a Clock,
    log: SharedLog,
    rng: SplitMix,
}

fn name(rng: &mut SplitMix, canonical: &str) -> String {
    if chance(rng, 30) {
        canonical.to_ascii_lowercase()
    } else {
        canonical.to_owned()
    }
}

/// Milliseconds of `1*DIGIT [ "." 1*DIGIT ]` seconds as DESIGN.md says a recipient reads them:
/// saturating, a fraction rounded up to the next millisecond. (Computed in 128 bits, from the
/// digits the generator chose.)
fn seconds_model(whole: &str, fraction: &str) -> u64 {
    let mut w: u128 = 0;
    for d in whole.bytes() {
        w = (w * 10 + u128::from(d - b'0')).min(u128::from(u64::MAX));
    }
    let mut ms: u128 = 0;
    for (i, d) in fraction.bytes().enumerate().take(3) {
        ms += u128::from(d - b'0') * [100, 10, 1][i];
    }
    let round_up = fraction.bytes().skip(3).any(|d| d != b'0');
    u64::try_from(w * 1000 + ms + u128::from(round_up)).unwrap_or(u64::MAX)
}

fn digits(rng: &mut SplitMix, count: u64) -> String {
    (0..count).map(|_| char::from(b'0' + below(rng, 10) as u8)).collect()
}

const DATE_FORMS: [&str; 3] = ["IMF-fixdate", "RFC 850", "asctime"];

/// `Retry-After` (and `Date`) headers in one of many shapes, what they tell, and the shape.
fn retry_after(
    rng: &mut SplitMix,
    ceiling: u32,
    at: u64,
) -> (Vec<(String, String)>, Option<u64>, &'static str) {
    let date = EPOCH + at / 1000;
    let date_header = |rng: &mut SplitMix| (name(rng, "Date"), sim::http_date(date, below(rng, 3) as u8));
    let ra = |rng: &mut SplitMix, value: String| (name(rng, "Retry-After"), value);
    let around_ceiling = u64::from(ceiling) / 1000 * 2 + 2;
    match below(rng, 20) {
        0..=5 => {
            let s = below(rng, 11);
            (vec![ra(rng, s.to_string())], Some(s * 1000), "seconds")
        }
        6 | 7 => {
            // Around the ceiling: half of them past it.
            let s = below(rng, around_ceiling);
            (vec![ra(rng, s.to_string())], Some(s * 1000), "seconds, near the ceiling")
        }
        8 | 9 => {
            let whole = below(rng, 6).to_string();
            let count = between(rng, 1, 5);
            let fraction = digits(rng, count);
            let ms = seconds_model(&whole, &fraction);
            (vec![ra(rng, format!("{whole}.{fraction}"))], Some(ms), "seconds with a fraction")
        }
        10..=12 => {
            // A date a few seconds after `Date` (or before it: absent), `Date` first or last.
            let k = between(rng, 0, 33) as i64 - 3;
            let form = below(rng, 3) as u8;
            let value = sim::http_date(date.saturating_add_signed(k), form);
            let mut headers = vec![date_header(rng), ra(rng, value)];
            if chance(rng, 50) {
                headers.reverse();
            }
            (headers, u64::try_from(k).ok().map(|k| k * 1000), DATE_FORMS[usize::from(form)])
        }
        13 => {
            // A date far ahead: around the ceiling, or years away.
            let k = if chance(rng, 50) { below(rng, around_ceiling) } else { below(rng, 10 * 365 * 86_400) };
            let value = sim::http_date(date + k, below(rng, 3) as u8);
            (vec![date_header(rng), ra(rng, value)], Some(k * 1000), "a date far ahead")
        }
        14 => {
            let value = sim::http_date(date + below(rng, 30), below(rng, 3) as u8);
            (vec![ra(rng, value)], None, "a date without Date")
        }
        15 => {
            let value = sim::http_date(date + below(rng, 30), below(rng, 3) as u8);
            (vec![(name(rng, "Date"), "yesterday".into()), ra(rng, value)], None, "a date with a broken Date")
        }
        16 => {
            // More digits than 64 bits hold: saturates, so past any ceiling.
            let count = between(rng, 20, 40);
            let value = format!("9{}", digits(rng, count));
            (vec![ra(rng, value)], Some(u64::MAX), "seconds past 64 bits")
        }
        17 => {
            let value = pick(rng, &["-1", "soon", "", "1.", ".5", "+5", "0x10", "1e3", "5 s"]);
            (vec![ra(rng, value.into())], None, "garbage")
        }
        18 => {
            // Twice, seconds and a date: the longest valid wait wins.
            let a = below(rng, 11);
            let k = below(rng, 11);
            let value = sim::http_date(date + k, below(rng, 3) as u8);
            let headers = vec![ra(rng, a.to_string()), date_header(rng), ra(rng, value)];
            (headers, Some(a.max(k) * 1000), "twice")
        }
        _ => {
            let s = below(rng, 11);
            (vec![ra(rng, format!("  {s} "))], Some(s * 1000), "seconds in spaces")
        }
    }
}

/// A whole number header value (or garbage), and the model's reading of it.
fn number(rng: &mut SplitMix, usual: (u64, u64)) -> (String, Option<u64>) {
    match below(rng, 20) {
        0 => (pick(rng, &["-1", "x", "", "2.5"]).to_owned(), None),
        1 => ("99999999999".to_owned(), Some(99_999_999_999)),
        _ => {
            let n = between(rng, usual.0, usual.1);
            (n.to_string(), Some(n))
        }
    }
}

/// The headers of a response of `status` to a request of `context`, and what they tell.
fn headers(
    rng: &mut SplitMix,
    case: &Case,
    context: Option<&'static str>,
    status: u16,
    at: u64,
) -> (Vec<(String, String)>, Told) {
    let mut headers = Vec::new();
    let mut told = Told::default();
    let wants = if status == 429 || status == 503 { 75 } else { 10 };
    if chance(rng, wants) {
        let (h, ms, form) = retry_after(rng, case.policy.retry_after_ceiling_ms, at);
        headers.extend(h);
        told.retry_after_ms = ms;
        told.form = Some(form);
    } else if chance(rng, 50) {
        headers.push((name(rng, "Date"), sim::http_date(EPOCH + at / 1000, below(rng, 3) as u8)));
    }
    let named = match below(rng, 20) {
        0..=11 => {
            context.or_else(|| chance(rng, 50).then(|| pick(rng, &CONTEXTS))).map(|c| (c.to_owned(), Some(c)))
        }
        12..=14 => {
            let c = pick(rng, &CONTEXTS);
            Some((c.to_owned(), Some(c)))
        }
        15..=17 => None,
        18 => Some((String::new(), None)),
        _ => Some(("a b".to_owned(), None)),
    };
    if let Some((value, model)) = named {
        headers.push((name(rng, "X-RateLimit-Context"), value));
        told.context = model;
    }
    if chance(rng, 45) {
        let (value, n) = if chance(rng, 50) { ("0".to_owned(), Some(0)) } else { number(rng, (1, 20)) };
        headers.push((name(rng, "X-RateLimit-Remaining"), value));
        told.remaining = n.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    }
    if chance(rng, 45) {
        let (value, n) = match below(rng, 20) {
            0..=1 => {
                let n = between(rng, 600, 7_200);
                (n.to_string(), Some(n))
            }
            2 => ("0".to_owned(), Some(0)),
            _ => number(rng, (1, 60)),
        };
        headers.push((name(rng, "X-RateLimit-Window"), value));
        told.window_ms = n.map(|n| u32::try_from(n).unwrap_or(u32::MAX).saturating_mul(1000));
    }
    if chance(rng, 30) {
        let (value, _) = number(rng, (0, 20));
        headers.push((name(rng, "X-RateLimit-Limit"), value));
    }
    // Any order.
    for i in (1..headers.len()).rev() {
        headers.swap(i, below(rng, i as u64 + 1) as usize);
    }
    (headers, told)
}

fn body(rng: &mut SplitMix, status: u16) -> Body {
    let mut body = if (200..=299).contains(&status) {
        Body::plain(br#"{"id":1}"#)
    } else {
        match below(rng, 20) {
            0..=3 => Body::plain(b""),
            4..=8 => Body::plain(br#"{"errorMessage":"Too many requests, slow down","code":429}"#),
            9..=10 => Body::plain(b"<html><body><h1>502 Bad Gateway</h1></body></html>"),
            11..=14 => Body {
                prefix: br#"{"errorMessage":""#.to_vec(),
                fill: b'x',
                filler: between(rng, 200, 20_000) as usize,
                suffix: br#""}"#.to_vec(),
                cut_at: None,
            },
            15..=16 => Body {
                prefix: Vec::new(),
                fill: b' ',
                filler: between(rng, 200, 5_000) as usize,
                suffix: br#"{"errorMessage":"late"}"#.to_vec(),
                cut_at: None,
            },
            17 => Body {
                prefix: br#"{"errorMessage":""#.to_vec(),
                fill: b'y',
                filler: between(rng, 100_000, 300_000) as usize,
                suffix: br#""}"#.to_vec(),
                cut_at: None,
            },
            _ => Body::plain(b"upstream connect error or disconnect/reset before headers"),
        }
    };
    if chance(rng, 12) {
        body.cut_at = Some(below(rng, body.len() as u64 + 1) as usize);
    }
    body
}

impl Server<'_> {
    fn draw(&mut self, at: u64) -> Result<Answer, TransportFailure> {
        let rng = &mut self.rng;
        let total: u64 = self.case.weights.iter().sum();
        let mut roll = below(rng, total);
        let mut kind = 0;
        while roll >= self.case.weights[kind] {
            roll -= self.case.weights[kind];
            kind += 1;
        }
        let status = match ANSWERS[kind] {
            "before-send" => return Err(TransportFailure::BeforeSend),
            "after-send" => return Err(TransportFailure::AfterSend),
            "2xx" => pick(rng, &[200, 201, 204]),
            "429" => 429,
            "503" => 503,
            "5xx" => pick(rng, &[500, 502, 504, 599]),
            "408" => 408,
            "4xx" => pick(rng, &[400, 401, 403, 404, 409, 422]),
            _ => pick(rng, &[100, 302, 0, 99, 600, 999]),
        };
        let (headers, told) = headers(rng, self.case, self.context, status, at);
        let body = body(rng, status);
        let mut log = self.log.borrow_mut();
        let index = log.sent.len();
        log.sent.push(Sent {
            id: self.id,
            at,
            status,
            headers: headers.clone(),
            told,
            body_len: body.len(),
            cut_at: body.cut_at,
            read: 0,
            cut_seen: false,
        });
        log.events.push(Event::Answer { id: self.id, index });
        Ok(Answer { index, status, headers, body, at: 0 })
    }
}

impl Transport for Server<'_> {
    type Response = Answer;
    type Error = &'static str;

    async fn send(&mut self) -> Result<Answer, (TransportFailure, &'static str)> {
        let sent = self.clock.now();
        self.log.borrow_mut().events.push(Event::Send { id: self.id, at: sent });
        let latency = below(&mut self.rng, self.case.max_latency_ms + 1);
        if latency > 0 {
            self.clock.until(sent + latency).await;
        } else {
            YieldOnce(false).await;
        }
        let at = self.clock.now();
        match self.draw(at) {
            Ok(answer) => Ok(answer),
            Err(failure) => {
                self.log.borrow_mut().events.push(Event::Failed { id: self.id, at, failure });
                Err((failure, "connection failed"))
            }
        }
    }

    fn status(response: &Answer) -> u16 {
        response.status
    }

    async fn read(&mut self, response: &mut Answer, buf: &mut [u8]) -> Result<usize, &'static str> {
        let len = response.body.len();
        let end = response.body.cut_at.unwrap_or(len).min(len);
        if response.at >= end {
            if response.body.cut_at.is_some() {
                self.log.borrow_mut().sent[response.index].cut_seen = true;
                return Err("body cut");
            }
            return Ok(0);
        }
        // Pieces of any size up to the buffer's.
        let n = (between(&mut self.rng, 1, buf.len() as u64) as usize).min(end - response.at);
        for (i, b) in buf[..n].iter_mut().enumerate() {
            *b = response.body.byte(response.at + i);
        }
        response.at += n;
        self.log.borrow_mut().sent[response.index].read += n;
        Ok(n)
    }
}

/// The request's timer: the case's clock, logging every sleep the driver asks for.
struct Logged<'a> {
    id: usize,
    clock: &'a Clock,
    log: SharedLog,
}

impl Timer for Logged<'_> {
    fn now_ms(&self) -> u64 {
        self.clock.now()
    }
    fn sleep_until(&self, at_ms: u64) -> impl Future<Output = ()> {
        self.log.borrow_mut().events.push(Event::Sleep { id: self.id, at: self.clock.now(), until: at_ms });
        self.clock.until(at_ms)
    }
}

type Outcome = Result<Success<Answer>, driver::Failure<64, Answer, &'static str>>;

fn end_of(result: &Outcome) -> End {
    match result {
        Ok(success) => End {
            ok: true,
            attempts: success.attempts,
            stop: None,
            kind: None,
            status: None,
            response: Some(success.response.status),
            transport_error: false,
        },
        Err(failure) => End {
            ok: false,
            attempts: failure.error.attempts,
            stop: Some(failure.error.stop),
            kind: Some(failure.error.kind()),
            status: failure.error.status(),
            response: failure.response.as_ref().map(|r| r.status),
            transport_error: failure.transport.is_some(),
        },
    }
}

async fn one_request(
    id: usize,
    plan: RequestPlan,
    case: &Case,
    shared: &RefCell<Shared<8>>,
    clock: &Clock,
    log: SharedLog,
) {
    clock.until(plan.start).await;
    log.borrow_mut().events.push(Event::Start { id, at: clock.now() });
    let options = Options {
        policy: &case.policy,
        idempotency: plan.idempotency,
        context: plan.context.map(str::as_bytes),
        shared: Some(shared),
        dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
        on_event: None,
    };
    let mut server = Server {
        id,
        context: plan.context,
        case,
        clock,
        log: log.clone(),
        rng: SplitMix(plan.seed ^ 0x5EED),
    };
    let timer = Logged { id, clock, log: log.clone() };
    let mut rng = SplitMix(plan.seed);
    let result = driver::retry::<64, _, _, _, _>(options, &mut server, &timer, &mut rng).await;
    let end = end_of(&result);
    log.borrow_mut().events.push(Event::End { id, at: clock.now(), end });
}

/// Runs a case; its log.
fn run(case: &Case) -> Log {
    let clock = Clock::default();
    let log: SharedLog = Rc::new(RefCell::new(Log::default()));
    let mut state = Shared::<8>::new(Pacing::Burst);
    state.limits = RateLimits::new(Pacing::Burst).with_max_hold_ms(case.max_hold_ms);
    if let Some(budget) = case.budget {
        state = state.with_budget(budget);
    }
    if let Some(breaker) = case.breaker {
        state = state.with_breaker(Breaker::new(breaker));
    }
    let shared = RefCell::new(state);
    let futures: Vec<_> = case
        .requests
        .iter()
        .enumerate()
        .map(|(id, plan)| one_request(id, plan.clone(), case, &shared, &clock, log.clone()))
        .collect();
    run_all(&clock, futures);
    Rc::try_unwrap(log).map(RefCell::into_inner).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The model: DESIGN.md's rules, applied to the log
// ---------------------------------------------------------------------------------------------

/// Where a hold in the model comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HoldKind {
    /// A 429 or 503 with `Retry-After`: the server's own answer, exact.
    RetryAfter,
    /// A response with `Remaining: 0` in a context whose window is known: a window from the
    /// response (without `Retry-After`, which outranks it).
    Window,
    /// A send, in a context whose window is known: with `Pacing::Burst` the client counts its
    /// own sends down from `Remaining` and holds the context a window from the send that spent
    /// it. The model does not count (in-flight bookkeeping, stale answers): it lets any send
    /// be the one, so this is only an upper bound for "never longer", never a "never early".
    SentWindow,
    /// A response with any `Remaining` in a context whose window is known: with
    /// `Pacing::Burst` the client counts the requests still in flight against a `Remaining`
    /// that may be stale, and lets it only lower its count, so a response whose `Remaining` is
    /// not 0 may still leave the count at 0 and hold the context a window from the response.
    /// Not modelled exactly either: an upper bound for "never longer" only.
    CountedWindow,
}

#[derive(Clone, Debug)]
struct Hold {
    /// `None`: every context.
    context: Option<&'static str>,
    learnt: u64,
    until: u64,
    /// From here on the hold is no longer believed: `min(until, learnt + max_hold)`.
    believed: u64,
    kind: HoldKind,
}

impl Hold {
    /// Told by a response, exactly: what "never early" is checked against.
    fn is_told(&self) -> bool {
        matches!(self.kind, HoldKind::RetryAfter | HoldKind::Window)
    }

    fn applies(&self, context: Option<&str>) -> bool {
        self.context.is_none() || context.is_none() || self.context == context
    }
}

/// What the model allows after one outcome.
#[derive(Clone, Debug)]
struct Expect {
    at: u64,
    succeed: bool,
    /// The stops a failure may give now (more than one where a random draw decides).
    stops: Vec<Stop>,
    /// The retry's delay, inclusive bounds, if it may be retried.
    retry: Option<(u64, u64)>,
    kind: Option<ErrorKind>,
    status: Option<u16>,
    response: Option<u16>,
    transport_error: bool,
    /// What the budget takes for a retry.
    cost: u32,
    /// The delay was told by `Retry-After`.
    told: bool,
}

enum Seen {
    Status { status: u16, retry_after: Option<u64>, cut: bool },
    Failure(TransportFailure),
}

#[derive(Clone, Debug)]
enum Phase {
    NotStarted,
    /// Between sends: waiting for the shared state, or about to send.
    Ready,
    InFlight,
    /// An outcome arrived; the driver decides at once.
    Decided(Expect),
    Done,
}

struct Model {
    context: Option<&'static str>,
    idempotency: Idempotency,
    started: u64,
    sends: u32,
    phase: Phase,
}

/// The class of a status, as DESIGN.md's table says.
fn kind_of(status: u16) -> ErrorKind {
    match status {
        400 => ErrorKind::BadRequest,
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        408 => ErrorKind::RequestTimeout,
        429 => ErrorKind::RateLimited,
        402..=499 => ErrorKind::ClientError,
        500..=599 => ErrorKind::ServerError,
        100..=199 | 300..=399 => ErrorKind::UnexpectedStatus,
        _ => ErrorKind::InvalidStatus,
    }
}

/// The n-th backoff (n from 0), Additive jitter: `min(2^n·base + r, cap)`, r in 0..=jitter.
fn backoff(policy: &Policy, n: u32) -> (u64, u64) {
    let cap = u64::from(policy.max_backoff_ms);
    let d = u64::from(policy.base_ms) << n.min(32);
    let Jitter::Additive { max_ms } = policy.jitter else { unreachable!("the cases use Additive") };
    (d.min(cap), (d + u64::from(max_ms)).min(cap))
}

/// What may follow an outcome at `at` of a request that was sent `model.sends` times.
fn decide(case: &Case, model: &Model, at: u64, seen: &Seen) -> Expect {
    let policy = &case.policy;
    let mut e = Expect {
        at,
        succeed: false,
        stops: Vec::new(),
        retry: None,
        kind: None,
        status: None,
        response: None,
        transport_error: false,
        cost: 0,
        told: false,
    };
    // (kind, whether it may have been processed, the Retry-After that counts)
    let (kind, maybe_processed, retry_after) = match *seen {
        Seen::Status { status, .. } if (200..=299).contains(&status) => {
            // A success's body is the application's: never read, so never cut for the driver.
            e.succeed = true;
            e.response = Some(status);
            return e;
        }
        Seen::Status { status, retry_after, cut } => {
            e.status = Some(status);
            e.response = Some(status);
            e.transport_error = cut;
            // A body cut mid-way is a transport failure after sending, whatever the status;
            // 408 and 429 still say "not processed". Retry-After is read on 429 and 503 only.
            let kind = if cut { ErrorKind::Transport } else { kind_of(status) };
            let told = if status == 429 || status == 503 { retry_after } else { None };
            (kind, !(status == 408 || status == 429), told)
        }
        Seen::Failure(failure) => {
            e.transport_error = true;
            (ErrorKind::Transport, failure == TransportFailure::AfterSend, None)
        }
    };
    e.kind = Some(kind);
    let budget = case.budget.unwrap_or(RetryBudget::new(0, 0, 0, 0));
    e.cost = match kind {
        ErrorKind::Transport | ErrorKind::RequestTimeout => budget.timeout_cost,
        _ => budget.retry_cost,
    };
    let retryable = matches!(
        kind,
        ErrorKind::RequestTimeout | ErrorKind::RateLimited | ErrorKind::ServerError | ErrorKind::Transport
    );
    if !retryable {
        e.stops.push(Stop::Permanent);
        return e;
    }
    if model.idempotency == Idempotency::NotIdempotent && maybe_processed {
        e.stops.push(Stop::MayHaveBeenProcessed);
        return e;
    }
    let retries = model.sends - 1;
    if retries >= policy.max_retries {
        e.stops.push(Stop::RetriesExhausted);
        return e;
    }
    let left = match policy.deadline_ms {
        Some(deadline) => match u64::from(deadline).checked_sub(at - model.started) {
            Some(left) => left,
            None => {
                e.stops.push(Stop::Deadline);
                return e;
            }
        },
        None => u64::MAX,
    };
    match retry_after {
        Some(told) => {
            e.told = true;
            if told > u64::from(policy.retry_after_ceiling_ms) {
                e.stops.push(Stop::RetryAfterTooLong);
                return e;
            }
            let at_least = told.max(u64::from(policy.retry_after_floor_ms));
            if at_least > left {
                e.stops.push(Stop::Deadline);
                return e;
            }
            e.retry = Some((at_least, (at_least + u64::from(policy.retry_after_jitter_ms)).min(left)));
        }
        None => {
            let (lo, hi) = backoff(policy, retries);
            // The crate's own bounds, as a cross-check of the model (not as the model).
            let (clo, chi) = policy.delay_bounds(retries);
            assert_eq!((lo, hi), (u64::from(clo), u64::from(chi)), "backoff bounds of retry {retries}");
            if lo > left {
                e.stops.push(Stop::Deadline);
            } else {
                if hi > left {
                    // The draw decides: past what is left of the deadline, it stops.
                    e.stops.push(Stop::Deadline);
                }
                e.retry = Some((lo, hi.min(left)));
            }
        }
    }
    e
}

#[derive(Debug, Default)]
struct Totals {
    cases: u64,
    requests: u64,
    sends: u64,
    responses: u64,
    transport_failures: u64,
    waits: u64,
    retry_waits: u64,
    told_retry_waits: u64,
    hold_waits: u64,
    /// Hold waits within a hold a response told (Retry-After, or a window after Remaining 0).
    hold_waits_told: u64,
    /// Hold waits that needed a window from a response whose Remaining was not 0.
    hold_waits_counted: u64,
    /// Hold waits that needed a window from a send.
    hold_waits_sent: u64,
    /// Hold waits that needed the breaker's bound.
    hold_waits_breaker: u64,
    /// 429 and 503 responses by the shape of their Retry-After.
    forms: BTreeMap<&'static str, u64>,
    unsent_failures: u64,
    budget_refusals: u64,
    holds_learnt: u64,
    holds_past_ceiling: u64,
    cuts_seen: u64,
    long_bodies_capped: u64,
    early_checks: u64,
    succeeded: u64,
    failed: u64,
    breaker_cases: u64,
    budget_cases: u64,
    deadline_cases: u64,
}

/// The model's verdict on a case's log: `Err` with the first broken promise.
fn check(case: &Case, log: &Log, totals: &mut Totals) -> Result<(), String> {
    let policy = &case.policy;
    let ceiling = u64::from(policy.retry_after_ceiling_ms);
    let max_hold = u64::from(case.max_hold_ms);
    let mut holds: Vec<Hold> = Vec::new();
    let mut windows: BTreeMap<&'static str, u32> = BTreeMap::new();
    // Whether the breaker has seen a failure (5xx, no status, no response, a cut body): until
    // then it cannot hold anything.
    let mut failures_seen = false;
    let mut tokens = case.budget.map(|b| b.tokens());
    let mut models: Vec<Model> = case
        .requests
        .iter()
        .map(|p| Model {
            context: p.context,
            idempotency: p.idempotency,
            started: 0,
            sends: 0,
            phase: Phase::NotStarted,
        })
        .collect();
    totals.cases += 1;
    totals.requests += models.len() as u64;
    totals.breaker_cases += u64::from(case.breaker.is_some());
    totals.budget_cases += u64::from(case.budget.is_some());
    totals.deadline_cases += u64::from(policy.deadline_ms.is_some());
    let deadline_of = |m: &Model| policy.deadline_ms.map(|d| m.started + u64::from(d));

    for (pos, event) in log.events.iter().enumerate() {
        let fail = |why: String| Err(format!("event #{pos} {event:?}: {why}"));
        match *event {
            Event::Start { id, at } => {
                let m = &mut models[id];
                m.started = at;
                m.phase = Phase::Ready;
            }
            Event::Sleep { id, at, until } => {
                totals.waits += 1;
                let m = &mut models[id];
                match m.phase.clone() {
                    Phase::Decided(e) => {
                        totals.retry_waits += 1;
                        totals.told_retry_waits += u64::from(e.told);
                        let Some((lo, hi)) = e.retry else {
                            return fail(format!("retried, but the model ends it here: {e:?}"));
                        };
                        if at != e.at {
                            return fail(format!(
                                "the retry was decided at {at}, not at the outcome ({})",
                                e.at
                            ));
                        }
                        let Some(delay) = until.checked_sub(at) else {
                            return fail("a retry scheduled in the past".into());
                        };
                        if delay < lo {
                            return fail(format!(
                                "never early: waits {delay} ms, told at least {lo} ms ({e:?})"
                            ));
                        }
                        if delay > hi {
                            return fail(format!("never longer: waits {delay} ms, bound {hi} ms ({e:?})"));
                        }
                        if let Some(t) = tokens.as_mut() {
                            if *t < e.cost {
                                return fail(format!("retried with {t} tokens for a cost of {}", e.cost));
                            }
                            *t -= e.cost;
                        }
                        m.phase = Phase::Ready;
                    }
                    Phase::Ready => {
                        totals.hold_waits += 1;
                        let in_force: Vec<&Hold> =
                            holds.iter().filter(|h| h.applies(m.context) && at < h.believed).collect();
                        let longest = |kinds: &[HoldKind]| {
                            in_force.iter().filter(|h| kinds.contains(&h.kind)).map(|h| h.until).max()
                        };
                        let told = longest(&[HoldKind::RetryAfter, HoldKind::Window]);
                        let counted = longest(&[HoldKind::CountedWindow]);
                        let sent = longest(&[HoldKind::SentWindow]);
                        let breaker = case.breaker_bound_ms().filter(|_| failures_seen).map(|b| at + b);
                        if until <= at {
                            return fail("a hold that ended before it began".into());
                        }
                        if until - at > ceiling {
                            return fail(format!("never stuck: waits {} ms, past the ceiling", until - at));
                        }
                        if let Some(deadline) = deadline_of(m) {
                            if until > deadline {
                                return fail(format!(
                                    "never stuck: waits until {until}, past the deadline {deadline}"
                                ));
                            }
                        }
                        // Never early: the sleep lasts at least as long as every told hold in
                        // force is believed (a hold told past the max hold stops being believed
                        // at `believed`, and a sleep that ends then or later sends nothing early).
                        let must_last =
                            in_force.iter().filter(|h| h.is_told()).map(|h| h.until.min(h.believed)).max();
                        if let Some(must_last) = must_last {
                            if until < must_last {
                                return fail(format!(
                                    "never early: waits until {until}, a hold in force is believed until {must_last}"
                                ));
                            }
                        }
                        // Never longer: within the longest hold in force, each kind counted
                        // apart to show how often the model's looser bounds were needed.
                        let within = |bound: Option<u64>| bound.is_some_and(|b| until <= b);
                        if within(told) {
                            totals.hold_waits_told += 1;
                        } else if within(counted) {
                            totals.hold_waits_counted += 1;
                        } else if within(sent) {
                            totals.hold_waits_sent += 1;
                        } else if within(breaker) {
                            totals.hold_waits_breaker += 1;
                        } else {
                            return fail(format!(
                                "never longer: waits until {until}; longest hold told {told:?}, counted from a \
                                 response {counted:?}, from a send {sent:?}, breaker {breaker:?}; holds in force \
                                 {in_force:?}"
                            ));
                        }
                    }
                    other => return fail(format!("a sleep in phase {other:?}")),
                }
            }
            Event::Send { id, at } => {
                totals.sends += 1;
                let m = &mut models[id];
                if !matches!(m.phase, Phase::Ready) {
                    return fail(format!("a send in phase {:?}", m.phase));
                }
                m.sends += 1;
                if m.sends > policy.max_retries + 1 {
                    return fail(format!(
                        "never stuck: attempt {} of at most {}",
                        m.sends,
                        policy.max_retries + 1
                    ));
                }
                if let Some(deadline) = deadline_of(m) {
                    if at > deadline {
                        return fail(format!("never stuck: sent at {at}, past the deadline {deadline}"));
                    }
                }
                for h in holds.iter().filter(|h| h.is_told() && h.applies(m.context)) {
                    totals.early_checks += 1;
                    if at < h.believed {
                        return fail(format!(
                            "never early: sent at {at}, before the end of a hold learnt at {} ({h:?})",
                            h.learnt
                        ));
                    }
                }
                let counted: Vec<&'static str> = match m.context {
                    Some(c) => vec![c],
                    None => windows.keys().copied().collect(),
                };
                for c in counted {
                    if let Some(&w) = windows.get(c) {
                        let until = at.saturating_add(u64::from(w));
                        holds.push(Hold {
                            context: Some(c),
                            learnt: at,
                            until,
                            believed: until.min(at + max_hold),
                            kind: HoldKind::SentWindow,
                        });
                    }
                }
                m.phase = Phase::InFlight;
            }
            Event::Answer { id, index } => {
                totals.responses += 1;
                let sent = &log.sent[index];
                let at = sent.at;
                let m = &mut models[id];
                if !matches!(m.phase, Phase::InFlight) {
                    return fail(format!("a response in phase {:?}", m.phase));
                }
                // What the shared state learns: Retry-After (on 429 and 503) holds the
                // response's context, or everything if it names none; else Remaining 0 holds
                // a named context for its window. The window is kept per named context.
                let status = sent.status;
                let told = &sent.told;
                let retry_after = if status == 429 || status == 503 { told.retry_after_ms } else { None };
                let mut learn = |context: Option<&'static str>, wait: u64, kind: HoldKind| {
                    let until = at.saturating_add(wait);
                    if kind != HoldKind::CountedWindow {
                        totals.holds_learnt += 1;
                        totals.holds_past_ceiling += u64::from(wait > ceiling);
                    }
                    holds.push(Hold { context, learnt: at, until, believed: until.min(at + max_hold), kind });
                };
                match told.context {
                    None => {
                        if let Some(wait) = retry_after {
                            learn(None, wait, HoldKind::RetryAfter);
                        }
                    }
                    Some(c) => {
                        if let Some(w) = told.window_ms {
                            windows.insert(c, w);
                        }
                        match (retry_after, told.remaining, windows.get(c)) {
                            (Some(wait), _, _) => learn(Some(c), wait, HoldKind::RetryAfter),
                            (None, Some(0), Some(&w)) => learn(Some(c), u64::from(w), HoldKind::Window),
                            (None, Some(_), Some(&w)) => {
                                learn(Some(c), u64::from(w), HoldKind::CountedWindow)
                            }
                            _ => {}
                        }
                    }
                }
                failures_seen |= !(100..500).contains(&status) || sent.cut_seen;
                totals.cuts_seen += u64::from(sent.cut_seen);
                let limit = policy.max_error_body_bytes as usize;
                if (200..=299).contains(&status) && sent.read != 0 {
                    return fail(format!("read {} bytes of a success's body", sent.read));
                }
                if sent.read > limit + 64 {
                    return fail(format!("read {} bytes of an error body, limit {limit}", sent.read));
                }
                totals.long_bodies_capped += u64::from(sent.body_len > limit && sent.read >= limit);
                if status == 429 || status == 503 {
                    *totals.forms.entry(told.form.unwrap_or("none")).or_default() += 1;
                }
                let seen = Seen::Status { status, retry_after: told.retry_after_ms, cut: sent.cut_seen };
                let e = decide(case, m, at, &seen);
                m.phase = Phase::Decided(e);
                if !log.events.get(pos + 1).is_some_and(|next| match *next {
                    Event::Sleep { id: i, .. } | Event::End { id: i, .. } => i == id,
                    _ => false,
                }) {
                    return fail("the decision was not taken at once".into());
                }
            }
            Event::Failed { id, at, failure } => {
                totals.transport_failures += 1;
                failures_seen = true;
                let m = &mut models[id];
                if !matches!(m.phase, Phase::InFlight) {
                    return fail(format!("a failure in phase {:?}", m.phase));
                }
                let e = decide(case, m, at, &Seen::Failure(failure));
                m.phase = Phase::Decided(e);
            }
            Event::End { id, at, ref end } => {
                let m = &mut models[id];
                match m.phase.clone() {
                    Phase::Decided(e) => {
                        if end.ok {
                            totals.succeeded += 1;
                            if !e.succeed {
                                return fail(format!("succeeded, the model says {e:?}"));
                            }
                            if let (Some(t), Some(b)) = (tokens.as_mut(), case.budget) {
                                *t = (*t + b.success_refund).min(b.capacity);
                            }
                        } else {
                            totals.failed += 1;
                            let stop = end.stop.unwrap_or(Stop::Permanent);
                            if stop == Stop::BudgetExhausted {
                                totals.budget_refusals += 1;
                                let unpaid = tokens.is_some_and(|t| t < e.cost);
                                if e.retry.is_none() || !unpaid {
                                    return fail(format!("budget exhausted with {tokens:?} tokens: {e:?}"));
                                }
                            } else if !e.stops.contains(&stop) {
                                return fail(format!("stopped with {stop:?}, the model says {e:?}"));
                            }
                            if (end.kind, end.status, end.transport_error)
                                != (e.kind, e.status, e.transport_error)
                            {
                                return fail(format!("the error is not the outcome's: {e:?}"));
                            }
                        }
                        if end.response != e.response {
                            return fail(format!("handed back {:?}, the model says {e:?}", end.response));
                        }
                    }
                    Phase::Ready => {
                        // Failed at once, unsent: a hold longer than the ceiling, or past the
                        // deadline, must have been in force.
                        totals.unsent_failures += 1;
                        totals.failed += 1;
                        let shape = (end.ok, end.kind, end.status, end.response, end.transport_error);
                        if shape != (false, Some(ErrorKind::RateLimited), None, None, false) {
                            return fail(
                                "an unsent failure is RateLimited, with no status or response".into(),
                            );
                        }
                        let longest = holds
                            .iter()
                            .filter(|h| h.applies(m.context) && at < h.believed)
                            .map(|h| h.until)
                            .max();
                        let breaker = case.breaker_bound_ms().filter(|_| failures_seen).map(|b| at + b);
                        let reason = longest.max(breaker);
                        let justified = match end.stop {
                            Some(Stop::RetryAfterTooLong) => reason.is_some_and(|u| u - at > ceiling),
                            Some(Stop::Deadline) => {
                                deadline_of(m).is_some_and(|d| reason.is_some_and(|u| u > d))
                            }
                            _ => false,
                        };
                        if !justified {
                            return fail(format!(
                                "never stuck: failed unsent with {:?}, but no such hold was in force \
                                 (longest {longest:?}, breaker {breaker:?})",
                                end.stop
                            ));
                        }
                    }
                    other => return fail(format!("ended in phase {other:?}")),
                }
                if end.attempts != m.sends {
                    return fail(format!("{} attempts reported, {} sent", end.attempts, m.sends));
                }
                if let Some(deadline) = deadline_of(m) {
                    // The last send was within the deadline; its answer may take the latency.
                    if at > deadline + case.max_latency_ms {
                        return fail(format!("never stuck: ended at {at}, past the deadline {deadline}"));
                    }
                }
                m.phase = Phase::Done;
            }
        }
    }
    if let Some(m) = models.iter().position(|m| !matches!(m.phase, Phase::Done)) {
        return Err(format!("request {m} never ended"));
    }
    Ok(())
}

fn dump(case: &Case, log: &Log) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "case {}: {:?}\n  max_hold_ms {}, budget {:?}, breaker {:?}, latency up to {} ms, weights {:?}",
        case.index,
        case.policy,
        case.max_hold_ms,
        case.budget,
        case.breaker,
        case.max_latency_ms,
        case.weights
    );
    for (id, plan) in case.requests.iter().enumerate() {
        let _ = writeln!(out, "  req {id}: {plan:?}");
    }
    for event in &log.events {
        match *event {
            Event::Answer { index, .. } => {
                let s = &log.sent[index];
                let _ = writeln!(
                    out,
                    "  {:>9} req {} <- {} {:?} body {}{} read {}{}  told {:?}",
                    s.at,
                    s.id,
                    s.status,
                    s.headers,
                    s.body_len,
                    s.cut_at.map(|c| format!(" cut at {c}")).unwrap_or_default(),
                    s.read,
                    if s.cut_seen { " (cut met)" } else { "" },
                    s.told,
                );
            }
            Event::Start { id, at } => {
                let _ = writeln!(out, "  {at:>9} req {id} starts");
            }
            Event::Sleep { id, at, until } => {
                let _ =
                    writeln!(out, "  {at:>9} req {id} sleeps until {until} (+{})", until.saturating_sub(at));
            }
            Event::Send { id, at } => {
                let _ = writeln!(out, "  {at:>9} req {id} -> sent");
            }
            Event::Failed { id, at, failure } => {
                let _ = writeln!(out, "  {at:>9} req {id} <- no response: {failure:?}");
            }
            Event::End { id, at, ref end } => {
                let _ = writeln!(out, "  {at:>9} req {id} ends {end:?}");
            }
        }
    }
    out
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Every request of every case keeps the three promises about waiting — never earlier than
/// told, never longer than told (or than the backoff's bound), never stuck — whatever the
/// server answers, with the budget and the breaker on or off; and nothing panics.
#[test]
fn every_request_of_the_whole_client_keeps_the_three_promises_about_waiting() {
    let clock = std::time::Instant::now();
    let only = env_number("WHOLE_CLIENT_CASE");
    let cases = env_number("WHOLE_CLIENT_CASES").unwrap_or(10_000);
    let range = match only {
        Some(i) => i..i + 1,
        None => 0..cases,
    };
    let mut totals = Totals::default();
    // Every failing case listed, rather than the first in full.
    let survey = std::env::var_os("WHOLE_CLIENT_SURVEY").is_some();
    let mut failing = Vec::new();
    for index in range {
        let case = Case::new(index);
        let log = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&case))) {
            Ok(log) => log,
            Err(panic) => {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                panic!("case {index} panicked: {message}\n{}", dump(&case, &Log::default()));
            }
        };
        if only.is_some() {
            println!("{}", dump(&case, &log));
        }
        if let Err(why) = check(&case, &log, &mut totals) {
            if survey {
                println!("case {index}: {why}");
                failing.push(index);
                continue;
            }
            panic!("case {index} (rerun with WHOLE_CLIENT_CASE={index}): {why}\n{}", dump(&case, &log));
        }
    }
    let t = &totals;
    println!(
        "whole client: {} cases ({} with the breaker, {} with the budget, {} with a deadline), {} requests, \
         {} sends, {} responses, {} transport failures; {} waits checked: {} retry waits ({} told by \
         Retry-After), {} hold waits ({} within a hold a response told, {} needed a window counted from a \
         response, {} a window from a send, {} the breaker's bound); {} send-against-hold checks; {} holds \
         learnt ({} past the ceiling); {} unsent failures; {} budget refusals; {} cut bodies met; {} long \
         bodies capped; {} succeeded, {} failed; in {:.1} s",
        t.cases,
        t.breaker_cases,
        t.budget_cases,
        t.deadline_cases,
        t.requests,
        t.sends,
        t.responses,
        t.transport_failures,
        t.waits,
        t.retry_waits,
        t.told_retry_waits,
        t.hold_waits,
        t.hold_waits_told,
        t.hold_waits_counted,
        t.hold_waits_sent,
        t.hold_waits_breaker,
        t.early_checks,
        t.holds_learnt,
        t.holds_past_ceiling,
        t.unsent_failures,
        t.budget_refusals,
        t.cuts_seen,
        t.long_bodies_capped,
        t.succeeded,
        t.failed,
        clock.elapsed().as_secs_f64(),
    );
    println!("429 and 503 responses by Retry-After: {:?}", t.forms);
    assert!(failing.is_empty(), "{} failing cases: {failing:?}", failing.len());
    if only.is_none() && cases >= 1_000 {
        // The run covered what it claims to.
        let form = |f: &str| t.forms.get(f).copied().unwrap_or(0);
        for (what, n) in [
            ("retry waits told by Retry-After", totals.told_retry_waits),
            ("hold waits within a told hold", totals.hold_waits_told),
            ("hold waits within the breaker's bound", totals.hold_waits_breaker),
            ("IMF-fixdate Retry-After", form("IMF-fixdate")),
            ("RFC 850 Retry-After", form("RFC 850")),
            ("asctime Retry-After", form("asctime")),
            ("Retry-After with a fraction", form("seconds with a fraction")),
            ("Retry-After past 64 bits", form("seconds past 64 bits")),
            ("unsent failures", totals.unsent_failures),
            ("budget refusals", totals.budget_refusals),
            ("holds past the ceiling", totals.holds_past_ceiling),
            ("cut bodies", totals.cuts_seen),
            ("long bodies capped", totals.long_bodies_capped),
            ("transport failures", totals.transport_failures),
        ] {
            assert!(n > 0, "no {what} in {} cases: {totals:?}", totals.cases);
        }
    }
}
