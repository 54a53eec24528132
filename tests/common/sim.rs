//! A simulated Follow-Up-Boss-like server with a sliding-window rate limit, and a client that
#![allow(dead_code)]
//! follows the crate's answers. Shared by `tests/rate_limits.rs`, `examples/rate_limit_sim.rs` and the async driver's
//! `adapters/async/tests/whole_client.rs`.

use std::collections::VecDeque;

use backoff_core::{Action, Idempotency, Pacing, Permit, Policy, RateLimits, Request};
use rand_core::SeedableRng;

/// A server allowing `limit` requests per sliding `window_ms`, in context `events`.
pub struct Server {
    pub limit: usize,
    pub window_ms: u64,
    accepted: VecDeque<u64>,
}

impl Server {
    pub fn new(limit: usize, window_ms: u64) -> Self {
        Self { limit, window_ms, accepted: VecDeque::new() }
    }

    /// The status and headers of a request received at `now`.
    pub fn handle(&mut self, now: u64) -> (u16, Vec<(String, String)>) {
        while self.accepted.front().is_some_and(|&t| t + self.window_ms <= now) {
            self.accepted.pop_front();
        }
        let mut headers = vec![
            ("X-RateLimit-Limit".to_owned(), self.limit.to_string()),
            ("X-RateLimit-Window".to_owned(), (self.window_ms / 1000).to_string()),
            ("X-RateLimit-Context".to_owned(), "events".to_owned()),
        ];
        if self.accepted.len() >= self.limit {
            let oldest = self.accepted[0];
            let wait_s = (oldest + self.window_ms - now).div_ceil(1000);
            headers.push(("X-RateLimit-Remaining".to_owned(), "0".to_owned()));
            headers.push(("Retry-After".to_owned(), wait_s.to_string()));
            return (429, headers);
        }
        self.accepted.push_back(now);
        headers.push(("X-RateLimit-Remaining".to_owned(), (self.limit - self.accepted.len()).to_string()));
        (201, headers)
    }
}

/// What a simulated run saw.
#[derive(Debug, Default)]
pub struct Report {
    pub succeeded: usize,
    pub failed: usize,
    pub sent: usize,
    pub rate_limited: usize,
    pub rate_limited_after_headers: usize,
    pub total_ms: u64,
}

/// Sends `requests` POSTs one after another, each through a `Request` and the shared
/// `RateLimits`, with `latency_ms` per round trip, and counts what happened.
pub fn run(pacing: Pacing, requests: usize, limit: usize, window_ms: u64, latency_ms: u64) -> Report {
    let policy = Policy::FOLLOW_UP_BOSS;
    let mut rng = rand_pcg::Pcg32::seed_from_u64(7);
    let mut server = Server::new(limit, window_ms);
    let mut limits = RateLimits::<4>::new(pacing);
    let mut report = Report::default();
    let mut seen_headers = false;
    let mut now = 0u64;
    for _ in 0..requests {
        let mut request = Request::new(now, Idempotency::Idempotent);
        loop {
            if let Permit::Wait { until_ms } = limits.acquire(now, Some(b"events")) {
                now = until_ms;
                continue;
            }
            let (status, headers) = server.handle(now);
            report.sent += 1;
            if status == 429 {
                report.rate_limited += 1;
                if seen_headers {
                    report.rate_limited_after_headers += 1;
                }
            }
            limits.observe(now, status, headers.as_slice());
            seen_headers = true;
            now += latency_ms;
            match request.complete::<64, _, _>(&policy, now, status, headers.as_slice(), b"", &mut rng) {
                Action::Succeed { .. } => {
                    report.succeeded += 1;
                    break;
                }
                Action::Fail(_) => {
                    report.failed += 1;
                    break;
                }
                Action::Retry(retry) => {
                    now = retry.at_ms;
                    request = retry.request;
                }
            }
        }
    }
    report.total_ms = now;
    report
}

/// What a run with overlapping requests saw.
#[derive(Debug, Default, Clone)]
pub struct OverlapReport {
    pub succeeded: usize,
    pub failed: usize,
    pub sent: usize,
    pub rate_limited: usize,
    /// 429s met by requests sent after the client saw its first response (before that it
    /// knows nothing of the limit).
    pub rate_limited_after_headers: usize,
    pub total_ms: u64,
}

/// Sends `requests` POSTs from `concurrency` workers at once, each through its own `Request`
/// and one shared `RateLimits`. Every trip to the server and back takes a random 5–200 ms each
/// way (seeded), so responses overtake one another and some are stale when they arrive: the
/// case a sequential run cannot show.
pub fn run_overlapping(
    pacing: Pacing,
    requests: usize,
    concurrency: usize,
    limit: usize,
    window_ms: u64,
    seed: u64,
) -> OverlapReport {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    use rand_core::Rng;

    enum Event {
        /// A worker wants to send (its next request, or its current one again).
        Ready(usize),
        /// A worker's request reaches the server.
        Arrive(usize),
        /// A worker's response reaches the client.
        Respond(usize, u16, Vec<(String, String)>),
    }
    let policy = Policy::FOLLOW_UP_BOSS;
    let mut rng = rand_pcg::Pcg32::seed_from_u64(seed);
    let mut latency = rand_pcg::Pcg32::seed_from_u64(seed ^ 0x5EED);
    let mut server = Server::new(limit, window_ms);
    let mut limits = RateLimits::<4>::new(pacing);
    let mut report = OverlapReport::default();
    let mut waiting = requests;
    let mut current: Vec<Option<Request>> = vec![None; concurrency];
    let mut sent_at = vec![0u64; concurrency];
    let mut first_seen: Option<u64> = None;
    let mut queue = BinaryHeap::new();
    let mut events: Vec<Option<Event>> = Vec::new();
    let push = |queue: &mut BinaryHeap<Reverse<(u64, usize)>>, events: &mut Vec<Option<Event>>, at, e| {
        events.push(Some(e));
        queue.push(Reverse((at, events.len() - 1)));
    };
    for worker in 0..concurrency {
        push(&mut queue, &mut events, 0, Event::Ready(worker));
    }
    let mut now = 0;
    while let Some(Reverse((at, id))) = queue.pop() {
        now = at;
        match events[id].take().expect("each event runs once") {
            Event::Ready(w) => {
                if current[w].is_none() {
                    if waiting == 0 {
                        continue;
                    }
                    waiting -= 1;
                    current[w] = Some(Request::new(now, Idempotency::Idempotent));
                }
                match limits.acquire(now, Some(b"events")) {
                    Permit::Wait { until_ms } => push(&mut queue, &mut events, until_ms, Event::Ready(w)),
                    Permit::Go => {
                        report.sent += 1;
                        sent_at[w] = now;
                        let up = 5 + u64::from(latency.next_u32() % 196);
                        push(&mut queue, &mut events, now + up, Event::Arrive(w));
                    }
                }
            }
            Event::Arrive(w) => {
                let (status, headers) = server.handle(now);
                let down = 5 + u64::from(latency.next_u32() % 196);
                push(&mut queue, &mut events, now + down, Event::Respond(w, status, headers));
            }
            Event::Respond(w, status, headers) => {
                if status == 429 {
                    report.rate_limited += 1;
                    if first_seen.is_some_and(|seen| sent_at[w] >= seen) {
                        report.rate_limited_after_headers += 1;
                    }
                }
                first_seen.get_or_insert(now);
                limits.observe(now, status, headers.as_slice());
                let request = current[w].take().expect("a response belongs to a request");
                match request.complete::<64, _, _>(&policy, now, status, headers.as_slice(), b"", &mut rng) {
                    Action::Succeed { .. } => {
                        report.succeeded += 1;
                        push(&mut queue, &mut events, now, Event::Ready(w));
                    }
                    Action::Fail(_) => {
                        report.failed += 1;
                        push(&mut queue, &mut events, now, Event::Ready(w));
                    }
                    Action::Retry(retry) => {
                        current[w] = Some(retry.request);
                        push(&mut queue, &mut events, retry.at_ms, Event::Ready(w));
                    }
                }
            }
        }
    }
    report.total_ms = now;
    report
}

/// Which dialect a simulated fixed-window server speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Speaks {
    /// `x-ratelimit-reset` in Unix seconds, with `Date`; over the limit, a 403 as GitHub's
    /// documentation shows it: `x-ratelimit-remaining: 0`, no `retry-after`, no resource.
    GitHub,
    /// `X-RateLimit-Reset-After` in seconds with a fraction.
    Discord,
    /// `RateLimit` / `RateLimit-Policy`, draft-11.
    Ietf,
}

/// A server allowing `limit` requests per fixed window of `window_ms` (the kind GitHub and
/// Discord run), answering in `speaks`; its Unix clock starts at 1 700 000 000.5 s.
pub fn dialect_headers(
    speaks: Speaks,
    now: u64,
    limit: usize,
    window_ms: u64,
    used: usize,
) -> Vec<(String, String)> {
    let unix_ms = 1_700_000_000_500 + now;
    let window_end = now - now % window_ms + window_ms;
    let remaining = limit.saturating_sub(used);
    match speaks {
        Speaks::GitHub => {
            // RFC 9110 IMF-fixdate of the server's second.
            let date = http_date(unix_ms / 1000, 0);
            vec![
                ("Date".into(), date),
                ("x-ratelimit-limit".into(), limit.to_string()),
                ("x-ratelimit-remaining".into(), remaining.to_string()),
                ("x-ratelimit-reset".into(), ((1_700_000_000_500 + window_end).div_ceil(1000)).to_string()),
                ("x-ratelimit-resource".into(), "core".into()),
            ]
        }
        Speaks::Discord => vec![
            ("X-RateLimit-Limit".into(), limit.to_string()),
            ("X-RateLimit-Remaining".into(), remaining.to_string()),
            ("X-RateLimit-Reset-After".into(), format!("{:.3}", (window_end - now) as f64 / 1000.0)),
            ("X-RateLimit-Bucket".into(), "abcd1234".into()),
        ],
        Speaks::Ietf => vec![
            ("RateLimit-Policy".into(), format!("\"default\";q={limit};w={}", window_ms / 1000)),
            (
                "RateLimit".into(),
                format!("\"default\";r={remaining};t={}", (window_end - now).div_ceil(1000)),
            ),
        ],
    }
}

/// `epoch` (1970–2099) as an HTTP-date in one of RFC 9110's three forms (0, 1, 2).
pub fn http_date(epoch: u64, form: u8) -> String {
    const DAYS: [&str; 7] = ["Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = epoch / 86_400;
    let secs = epoch % 86_400;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let weekday = DAYS[(days % 7) as usize];
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mon = MONTHS[(month - 1) as usize];
    match form {
        0 => format!("{}, {day:02} {mon} {year} {h:02}:{m:02}:{s:02} GMT", &weekday[..3]),
        1 => format!("{weekday}, {day:02}-{mon}-{:02} {h:02}:{m:02}:{s:02} GMT", year % 100),
        _ => format!("{} {mon} {day:>2} {h:02}:{m:02}:{s:02} {year}", &weekday[..3]),
    }
}

/// Sends `requests` POSTs one after another against a fixed-window server speaking `speaks`,
/// the client reading each response once with `dialect`, for the rate limits and the request
/// alike; counts rejections (429, or GitHub's 403) after the first response.
pub fn run_dialect(
    speaks: Speaks,
    dialect: &backoff_core::Dialect,
    requests: usize,
    limit: usize,
    window_ms: u64,
) -> Report {
    let policy = Policy::FOLLOW_UP_BOSS;
    let mut rng = rand_pcg::Pcg32::seed_from_u64(11);
    let mut limits = RateLimits::<4>::new(Pacing::Burst);
    let mut report = Report::default();
    let (mut now, mut window_start, mut used) = (0u64, 0u64, 0usize);
    let context: &[u8] = match speaks {
        Speaks::GitHub => b"core",
        Speaks::Discord => b"abcd1234",
        Speaks::Ietf => b"default",
    };
    let context = Some(context);
    let mut seen = false;
    for _ in 0..requests {
        let mut request = Request::new(now, Idempotency::NotIdempotent);
        loop {
            if let Permit::Wait { until_ms } = limits.acquire(now, context) {
                now = until_ms;
                continue;
            }
            if now >= window_start + window_ms {
                window_start = now - now % window_ms;
                used = 0;
            }
            report.sent += 1;
            let status = match (used >= limit, speaks) {
                (false, _) => 201,
                (true, Speaks::GitHub) => 403,
                (true, _) => 429,
            };
            if status == 201 {
                used += 1;
            }
            let mut headers = dialect_headers(speaks, now, limit, window_ms, used);
            if status != 201 {
                report.rate_limited += 1;
                if seen {
                    report.rate_limited_after_headers += 1;
                }
            }
            if status == 429 {
                headers.push((
                    "Retry-After".into(),
                    ((window_start + window_ms - now).div_ceil(1000)).to_string(),
                ));
            }
            if status == 403 {
                headers.retain(|(name, _)| name != "x-ratelimit-resource");
            }
            let read = dialect.read(headers.as_slice());
            limits.observe_parsed(now, status, &read);
            seen = true;
            now += 40;
            let reply = request.response_parsed::<64>(&policy, status, &read);
            match reply.finish(&policy, now, &mut rng) {
                Action::Succeed { .. } => {
                    report.succeeded += 1;
                    break;
                }
                Action::Fail(_) => {
                    report.failed += 1;
                    break;
                }
                Action::Retry(retry) => {
                    now = retry.at_ms;
                    request = retry.request;
                }
            }
        }
    }
    report.total_ms = now;
    report
}
