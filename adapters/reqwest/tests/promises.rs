//! Issue 22, through the reqwest middleware over real loopback sockets: the three promises
//! about waiting (DESIGN.md, "Retry-After and rate-limit headers") and a bounded error body.
//!
//! - never stuck: a hold longer than the ceiling fails a request at once, it does not stall the
//!   whole client (until 2099);
//! - never longer than told: `Retry-After: 2` with `X-RateLimit-Window: 60` from the same 429
//!   waits about 2 s, not a window;
//! - an endless error body is read only so far, and the request ends with its error.
//!
//! Every `tokio::time::timeout` here is a hang guard, generous on purpose, not a speed test.

use std::collections::VecDeque;
use std::io::{ErrorKind as IoErrorKind, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use backoff_core::{BodyKind, Pacing, Policy, Stop};
use backoff_core_reqwest::{Context, RetryError, RetryMiddleware, MAX_ERROR_BODY};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

// ---------------------------------------------------------------------------------------------
// A scripted tiny_http server that logs method, path, body and arrival instant.

#[derive(Clone, Debug)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
}

impl Answer {
    fn new(status: u16, body: &str) -> Self {
        Self { status, headers: Vec::new(), body: body.to_owned() }
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

#[derive(Clone, Debug)]
struct Received {
    /// When the request arrived (it is answered at once).
    at: Instant,
    method: String,
    path: String,
    body: String,
    status: u16,
}

struct Server {
    base: String,
    log: Arc<Mutex<Vec<Received>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The next answer of `script` for each request, whatever its path; `201` once it is empty.
    fn start(script: Vec<Answer>) -> Self {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind 127.0.0.1"));
        let base = format!("http://{}", server.server_addr().to_ip().expect("an IP address"));
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let (server, log) = (Arc::clone(&server), Arc::clone(&log));
            std::thread::spawn(move || {
                let mut script = VecDeque::from(script);
                for mut request in server.incoming_requests() {
                    let mut body = String::new();
                    let _ = request.as_reader().read_to_string(&mut body);
                    let at = Instant::now();
                    let answer = script.pop_front().unwrap_or_else(|| Answer::new(201, r#"{"id":1}"#));
                    log.lock().unwrap().push(Received {
                        at,
                        method: request.method().to_string(),
                        path: request.url().to_owned(),
                        body,
                        status: answer.status,
                    });
                    let mut response =
                        tiny_http::Response::from_string(answer.body).with_status_code(answer.status);
                    for (name, value) in answer.headers {
                        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                            response.add_header(header);
                        }
                    }
                    let _ = request.respond(response);
                }
            })
        };
        Self { base, log, server, thread: Some(thread) }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn received(&self) -> Vec<Received> {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A client that keeps no idle connection: tiny_http serves each connection on a thread of
/// its pool, which then blocks on the idle keep-alive connection; ten requests at once would
/// starve the pool and leave later requests unread.
fn client(middleware: RetryMiddleware) -> ClientWithMiddleware {
    let reqwest = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("a client");
    ClientBuilder::new(reqwest).with(middleware).build()
}

fn retry_error(error: reqwest_middleware::Error) -> RetryError {
    match error {
        reqwest_middleware::Error::Middleware(e) => e.downcast::<RetryError>().expect("a RetryError"),
        other => panic!("not the middleware's error: {other}"),
    }
}

const JSON: &str = "application/json; charset=utf-8";

// ---------------------------------------------------------------------------------------------
// 1. Never stuck: a far Retry-After on a 503 that names no context must not stall the client.

/// The `Date` the 503s carry: a `Retry-After` date is measured from it.
const DATE: &str = "Wed, 01 Jan 2025 00:00:00 GMT";

/// A 503 naming no `X-RateLimit-Context`, with this `Retry-After`.
fn unavailable(retry_after: &str) -> Answer {
    Answer::new(503, r#"{"errorMessage":"Service temporarily unavailable."}"#)
        .header("Content-Type", JSON)
        .header("Date", DATE)
        .header("Retry-After", retry_after)
}

/// `POST /v1/events` meets the 503 and fails at once with `RetryAfterTooLong` (it carries an
/// `Idempotency-Key`: a plain POST would stop at the 503 with `MayHaveBeenProcessed` before the
/// `Retry-After` is looked at). Then `GET /created` is sent on the same client: what it gave,
/// how long it took, and whether the server saw it.
async fn after_a_far_hold(
    policy: Policy,
    retry_after: &str,
) -> (Result<reqwest::Response, RetryError>, Duration, bool) {
    let server = Server::start(vec![unavailable(retry_after)]);
    let client = client(RetryMiddleware::with_policy(policy));
    let first = client.post(server.url("/v1/events")).header("Idempotency-Key", "lead-1").body("{}").send();
    let first = tokio::time::timeout(Duration::from_secs(10), first)
        .await
        .expect("hang guard: the first request ended within 10 s");
    let first = retry_error(first.expect_err("a Retry-After past the ceiling fails the request"));
    assert_eq!(first.error.stop, Stop::RetryAfterTooLong, "{}", first.error);
    assert_eq!((first.error.status(), first.error.attempts), (Some(503), 1), "{}", first.error);

    let started = Instant::now();
    let second =
        tokio::time::timeout(Duration::from_secs(10), client.get(server.url("/created")).send()).await;
    let took = started.elapsed();
    let received = server.received();
    let sent = received.iter().any(|r| r.path == "/created");
    let Ok(second) = second else {
        panic!(
            "hang guard: GET /created still waiting after {took:?}: the 503's `Retry-After: {retry_after}` \
             (no context) holds the whole client; the server saw {received:?}"
        );
    };
    (second.map_err(retry_error), took, sent)
}

/// Whatever the rule chosen for a hold past the ceiling: the second request ends promptly,
/// either failed at once with `RetryAfterTooLong` without being sent, or sent (and 201).
fn assert_not_stuck(outcome: (Result<reqwest::Response, RetryError>, Duration, bool)) {
    let (second, took, sent) = outcome;
    let said = second.as_ref().map(reqwest::Response::status).map_err(|e| e.error.to_string());
    println!("GET /created: {said:?} after {took:?}, sent: {sent}");
    match second {
        Ok(response) => {
            assert_eq!(response.status(), 201, "took {took:?}");
            assert!(sent, "a 201 the server never saw");
        }
        Err(error) => {
            assert_eq!(error.error.stop, Stop::RetryAfterTooLong, "{} (took {took:?})", error.error);
            assert!(!sent, "failed with RetryAfterTooLong, yet sent: {}", error.error);
        }
    }
}

#[tokio::test]
async fn a_503_retry_after_date_in_2099_does_not_stall_the_next_request() {
    assert_not_stuck(after_a_far_hold(Policy::FOLLOW_UP_BOSS, "Thu, 01 Jan 2099 00:00:00 GMT").await);
}

#[tokio::test]
async fn a_503_retry_after_seconds_past_the_ceiling_does_not_stall_the_next_request() {
    assert_not_stuck(after_a_far_hold(Policy::FOLLOW_UP_BOSS, "100000").await);
}

#[tokio::test]
async fn a_hold_past_a_small_ceiling_fails_the_next_request_at_once_without_sending_it() {
    // Ceiling 2 s, hold 3 s: the wait the second request would be told (3 s) is longer than
    // the ceiling, so it fails at once with RetryAfterTooLong, unsent — not after 3 s.
    let policy = Policy::FOLLOW_UP_BOSS.with_retry_after_ceiling_ms(2_000);
    let (second, took, sent) = after_a_far_hold(policy, "3").await;
    let status = second.as_ref().map(reqwest::Response::status).map_err(|e| e.error.clone());
    let Err(error) = second else {
        panic!(
            "GET /created: expected RetryAfterTooLong at once, got {status:?} after {took:?} (sent: {sent})"
        );
    };
    assert_eq!(error.error.stop, Stop::RetryAfterTooLong, "{} (took {took:?})", error.error);
    assert!(!sent, "failed, yet sent: {}", error.error);
    assert!(took < Duration::from_secs(2), "failed only after {took:?}: it waited for the hold");
}

// ---------------------------------------------------------------------------------------------
// 2. Never longer than told: `Retry-After: 2` on a 429 that also says the 60 s window is spent.

#[derive(Clone, Copy, Debug)]
struct Variant {
    /// `X-RateLimit-Limit` on the 429, if any.
    limit: Option<u32>,
    /// `X-RateLimit-Context: events` on the 429.
    context: bool,
    pacing: Pacing,
    /// How many more requests of the context are sent together with the first, all counted
    /// before the 429 comes back (spawned together, they all pass the rate limits in the
    /// runtime's first round, before any response is read); they get 201s, the 429 goes to
    /// whichever arrives first.
    alongside: usize,
    /// Whether another request of the context is sent just after the 429.
    concurrent: bool,
}

/// The 429's window, in seconds.
const WINDOW_S: u64 = 60;

impl Variant {
    const fn new(limit: Option<u32>, context: bool, pacing: Pacing) -> Self {
        Self { limit, context, pacing, alongside: 0, concurrent: true }
    }

    /// The spacing `Pacing::Smooth` keeps between two sends of the context once it knows the
    /// limit and the window (`Window / (Limit − 1)`); zero where nothing is paced.
    fn paced_spacing(&self) -> Duration {
        match (self.pacing, self.context, self.limit) {
            (Pacing::Smooth, true, Some(limit)) => {
                Duration::from_millis((WINDOW_S * 1000).div_ceil(u64::from(limit.saturating_sub(1).max(1))))
            }
            _ => Duration::ZERO,
        }
    }
}

/// When each request reached the server, counted from the 429's arrival.
#[derive(Debug)]
struct Arrivals {
    /// The retry of the request that met the 429.
    retried: Option<Duration>,
    /// The request sent just after the 429 (body `b`).
    concurrent: Option<Duration>,
    /// Whether the hang guard fired.
    hung: bool,
    /// (method, path, body, status, arrival after the 429), for the failure messages.
    #[allow(dead_code)] // read through `Debug` only
    log: Vec<(String, String, String, u16, Duration)>,
}

async fn spent_window(variant: Variant, guard: Duration) -> Arrivals {
    let mut limited = Answer::new(429, r#"{"errorMessage":"Too many requests. Please slow down."}"#)
        .header("Content-Type", JSON)
        .header("Retry-After", "2")
        .header("X-RateLimit-Remaining", "0")
        .header("X-RateLimit-Window", WINDOW_S.to_string());
    if let Some(limit) = variant.limit {
        limited = limited.header("X-RateLimit-Limit", limit.to_string());
    }
    if variant.context {
        limited = limited.header("X-RateLimit-Context", "events");
    }
    let server = Server::start(vec![limited]);
    let client = client(RetryMiddleware::new().pacing(variant.pacing));
    let url = server.url("/v1/events");
    let send = |body: String| client.post(&url).with_extension(Context("events")).body(body).send();
    let together: Vec<_> = std::iter::once("a".to_owned())
        .chain((0..variant.alongside).map(|i| format!("c{i}")))
        .map(|body| tokio::spawn(send(body)))
        .collect();
    let first = async {
        let mut outcomes = Vec::new();
        for handle in together {
            outcomes.push(handle.await.expect("no panic"));
        }
        outcomes
    };
    let second = async {
        if !variant.concurrent {
            return None;
        }
        // Sent right after the 429 reached the client (seen in the server's log, then 200 ms
        // for the client to read it).
        while server.received().is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        Some(send("b".to_owned()).await)
    };
    let outcome = tokio::time::timeout(guard, async { tokio::join!(first, second) }).await;
    if let Ok((first, second)) = &outcome {
        for r in first.iter().chain(second) {
            match r {
                Ok(response) => assert_eq!(response.status(), 201),
                Err(e) => panic!("{e}"),
            }
        }
    }
    let received = server.received();
    let met = received.first().expect("the first request arrived");
    let arrival = |body: &str| {
        received.iter().skip(1).find(|r| r.body == body).map(|r| r.at.saturating_duration_since(met.at))
    };
    Arrivals {
        retried: arrival(&met.body),
        concurrent: arrival("b"),
        hung: outcome.is_err(),
        log: received
            .iter()
            .map(|r| {
                (
                    r.method.clone(),
                    r.path.clone(),
                    r.body.clone(),
                    r.status,
                    r.at.saturating_duration_since(met.at),
                )
            })
            .collect(),
    }
}

/// The told wait: 2 s, spread by up to 1 s of jitter (the preset's), 2 s of slack on top.
const TOLD: Duration = Duration::from_secs(2);
const TOLD_LATEST: Duration = Duration::from_secs(2 + 1 + 2);
/// "Well before the 60 s window": the concurrent request's bound.
const WELL_BEFORE_WINDOW: Duration = Duration::from_secs(12);
/// The hang guard, from the first send.
const GUARD: Duration = Duration::from_secs(15);

/// The request that met the 429 is sent again 2 s (+ jitter) after it, and the request sent
/// meanwhile goes no earlier than the hold and well before the window is over.
///
/// With `Pacing::Smooth` and a known limit, the two compete for one pacing slot after the
/// hold: the retry may come one spacing (`Window / (Limit − 1)`) after the other request.
/// That allowance keeps the test neutral on whether a told retry may skip the pacing.
async fn assert_told_wait_kept(variant: Variant) {
    let arrivals = spent_window(variant, GUARD).await;
    println!("{variant:?}: {arrivals:?}");
    let Arrivals { retried, concurrent, hung, .. } = &arrivals;
    assert!(!hung, "hang guard: not all done {GUARD:?} after the first send (Retry-After: 2): {arrivals:?}");
    let retried = retried.expect("the request that met the 429 was retried");
    let latest = if variant.concurrent { TOLD_LATEST + variant.paced_spacing() } else { TOLD_LATEST };
    assert!(
        (TOLD..=latest).contains(&retried),
        "the 429's retry reached the server {retried:?} after it; told 2 s (+ up to 1 s jitter), \
         so at the latest {latest:?}: {arrivals:?}"
    );
    if variant.concurrent {
        let concurrent = concurrent.expect("the concurrent request was sent");
        assert!(
            concurrent >= TOLD,
            "the concurrent request went {concurrent:?} after the 429, before its hold"
        );
        assert!(
            concurrent < WELL_BEFORE_WINDOW,
            "the concurrent request went {concurrent:?} after the 429: held for (part of) the window, \
             not the Retry-After: {arrivals:?}"
        );
    }
}

#[tokio::test]
async fn retry_after_2_is_not_stretched_by_the_window_burst_limit_context() {
    assert_told_wait_kept(Variant::new(Some(10), true, Pacing::Burst)).await;
}

#[tokio::test]
async fn retry_after_2_is_not_stretched_by_the_window_burst_context() {
    assert_told_wait_kept(Variant::new(None, true, Pacing::Burst)).await;
}

#[tokio::test]
async fn retry_after_2_is_not_stretched_by_the_window_burst_limit() {
    assert_told_wait_kept(Variant::new(Some(10), false, Pacing::Burst)).await;
}

#[tokio::test]
async fn retry_after_2_is_not_stretched_by_the_window_burst() {
    assert_told_wait_kept(Variant::new(None, false, Pacing::Burst)).await;
}

#[tokio::test]
async fn retry_after_2_is_not_stretched_by_the_window_smooth_limit_context() {
    assert_told_wait_kept(Variant::new(Some(10), true, Pacing::Smooth)).await;
}

#[tokio::test]
async fn retry_after_2_is_not_stretched_by_the_window_smooth_context() {
    assert_told_wait_kept(Variant::new(None, true, Pacing::Smooth)).await;
}

#[tokio::test]
async fn retry_after_2_is_not_stretched_by_the_window_smooth_limit() {
    assert_told_wait_kept(Variant::new(Some(10), false, Pacing::Smooth)).await;
}

#[tokio::test]
async fn retry_after_2_is_not_stretched_by_the_window_smooth() {
    assert_told_wait_kept(Variant::new(None, false, Pacing::Smooth)).await;
}

/// The ~60 s wait: ten requests of the context in flight when the 429 (the first response to
/// teach the pacing) comes back.
#[tokio::test]
async fn retry_after_2_is_not_stretched_to_the_window_smooth_with_ten_in_flight() {
    assert_told_wait_kept(Variant { alongside: 9, ..Variant::new(Some(10), true, Pacing::Smooth) }).await;
}

/// The ~60 s wait with a single request: a limit of 2 makes the pacing one per window.
#[tokio::test]
async fn retry_after_2_is_not_stretched_to_the_window_smooth_limit_2_alone() {
    assert_told_wait_kept(Variant { concurrent: false, ..Variant::new(Some(2), true, Pacing::Smooth) }).await;
}

// ---------------------------------------------------------------------------------------------
// 3. An endless error body is read only so far.

/// A raw HTTP/1.1 server answering every request with a chunked 503 whose JSON body never
/// ends: `{"errorMessage":"` and then `a`s, until a write fails (the client closed). It stops
/// writing at `SAFETY_CAP` bytes on a connection, so that a client that reads forever does not
/// take the machine's memory, and then waits for the client to close.
struct Endless {
    url: String,
    /// Bytes written on each connection so far (live).
    connections: Arc<Mutex<Vec<Arc<AtomicU64>>>>,
    /// Per connection, when it ended: bytes written, and whether the safety cap was reached.
    ended: Arc<Mutex<Vec<(u64, bool)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

const SAFETY_CAP: u64 = 64 << 20;

impl Endless {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let url = format!("http://{}/v1/people", listener.local_addr().unwrap());
        listener.set_nonblocking(true).unwrap();
        let connections = Arc::new(Mutex::new(Vec::new()));
        let ended = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (connections, ended, stop) =
                (Arc::clone(&connections), Arc::clone(&ended), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let written = Arc::new(AtomicU64::new(0));
                            connections.lock().unwrap().push(Arc::clone(&written));
                            let (ended, stop) = (Arc::clone(&ended), Arc::clone(&stop));
                            std::thread::spawn(move || {
                                let capped = serve_endless(stream, &written, &stop);
                                ended.lock().unwrap().push((written.load(Ordering::Relaxed), capped));
                            });
                        }
                        Err(e) if e.kind() == IoErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        Err(_) => break,
                    }
                }
            })
        };
        Self { url, connections, ended, stop, thread: Some(thread) }
    }

    fn written(&self) -> Vec<u64> {
        self.connections.lock().unwrap().iter().map(|w| w.load(Ordering::Relaxed)).collect()
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One connection: reads the request head, writes the endless answer. Whether it stopped at
/// the safety cap (rather than on a failed write).
fn serve_endless(mut stream: std::net::TcpStream, written: &AtomicU64, stop: &AtomicBool) -> bool {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let _ = stream.set_write_timeout(Some(Duration::from_millis(100)));
    // The request head (a GET: no body).
    let mut head = Vec::new();
    let mut byte = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(0) => return false,
            Ok(n) => head.extend_from_slice(&byte[..n]),
            Err(e) if matches!(e.kind(), IoErrorKind::WouldBlock | IoErrorKind::TimedOut) => {
                if stop.load(Ordering::Relaxed) {
                    return false;
                }
            }
            Err(_) => return false,
        }
    }
    let opening = br#"{"errorMessage":""#;
    let mut start = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
        .to_vec();
    start.extend_from_slice(format!("{:x}\r\n", opening.len()).as_bytes());
    start.extend_from_slice(opening);
    start.extend_from_slice(b"\r\n");
    let mut chunk = format!("{:x}\r\n", 16 * 1024).into_bytes();
    chunk.extend_from_slice(&[b'a'; 16 * 1024]);
    chunk.extend_from_slice(b"\r\n");
    // Writes all of `bytes`, counting what went; false once a write fails (the client closed).
    let mut write = |bytes: &[u8]| -> bool {
        let mut at = 0;
        while at < bytes.len() {
            match stream.write(&bytes[at..]) {
                Ok(0) => return false,
                Ok(n) => {
                    at += n;
                    written.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) if matches!(e.kind(), IoErrorKind::WouldBlock | IoErrorKind::TimedOut) => {
                    if stop.load(Ordering::Relaxed) {
                        return false;
                    }
                }
                Err(e) if e.kind() == IoErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        true
    };
    if !write(&start) {
        return false;
    }
    while written.load(Ordering::Relaxed) < SAFETY_CAP {
        if !write(&chunk) {
            return false;
        }
    }
    // The cap: no more writing, but the connection stays open until the client closes it.
    loop {
        match stream.read(&mut byte) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), IoErrorKind::WouldBlock | IoErrorKind::TimedOut) => {
                if stop.load(Ordering::Relaxed) {
                    return true;
                }
            }
            Err(_) => return true,
        }
    }
}

/// What the server may write before the client's close reaches it: the 64 KiB the client
/// keeps, plus what the loopback socket buffers hold (a few MB at most).
const BOUND_PER_CONNECTION: u64 = 8 << 20;

#[tokio::test]
async fn an_endless_error_body_is_read_only_so_far_and_the_request_ends() {
    let server = Endless::start();
    let client = client(RetryMiddleware::with_policy(Policy::FOLLOW_UP_BOSS.with_max_retries(0)));
    let started = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(20), client.get(&server.url).send()).await;
    let took = started.elapsed();
    let Ok(outcome) = outcome else {
        let ended = server.ended.lock().unwrap().clone();
        panic!(
            "hang guard: the request had not ended after {took:?}; the server wrote {:?} bytes per connection \
             (safety cap {SAFETY_CAP}; connections ended: {ended:?})",
            server.written()
        );
    };
    let error = retry_error(outcome.expect_err("a 503, never a success"));
    println!("ended after {took:?} with: {error}");
    assert_eq!(error.error.status(), Some(503), "{}", error.error);
    assert_eq!(error.error.attempts, 1, "{}", error.error);
    assert_eq!(error.error.cause.body.kind(), BodyKind::Truncated, "{}", error.error);
    assert!(error.body_cut, "the kept body says it was cut");
    let response = error.into_response().expect("the last response is kept");
    assert_eq!(response.status(), 503);
    let kept = response.bytes().await.expect("the kept body is readable");
    assert!(kept.len() <= MAX_ERROR_BODY, "kept {} bytes, more than MAX_ERROR_BODY", kept.len());
    assert!(kept.starts_with(br#"{"errorMessage":"aaa"#), "kept {:?}…", &kept[..kept.len().min(40)]);
    drop(client);
    // The client's close reaches the server: give it a moment to see the failed write.
    let deadline = Instant::now() + Duration::from_secs(5);
    while server.ended.lock().unwrap().len() < server.written().len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let written = server.written();
    let ended = server.ended.lock().unwrap().clone();
    println!("bytes written per connection: {written:?}; ended (bytes, at safety cap): {ended:?}");
    assert_eq!(written.len(), 1, "one attempt, one connection: {written:?}");
    for bytes in written {
        assert!(bytes < BOUND_PER_CONNECTION, "{bytes} bytes written on one connection");
    }
}
