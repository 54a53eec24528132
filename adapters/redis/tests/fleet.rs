//! Eight worker processes behind one API key (each a reqwest client through the retry
//! middleware), against the local Follow-Up-Boss-like server enforcing 20 requests per 10 s
//! sliding window, with a real `redis-server` on loopback: 400 POSTs with shared state meet no
//! 429 once the headers are seen; in-process state alone (the control) meets them; a 429 met by
//! one worker holds every worker until its `Retry-After`; Redis killed and restarted mid-run
//! costs no panic and no request.
//!
//! The two 400-POST runs take over three minutes each (20 per 10 s is the API's `events`
//! limit) and run side by side.

#[path = "../../../examples/support/server.rs"]
mod server;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKERS: usize = 8;

fn worker_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples").join("worker")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_redis(port: u16) -> Child {
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server (Debian's package; .ci/run installs it)");
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(10), "redis-server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[derive(Debug, Default)]
struct Totals {
    sent: usize,
    ok: usize,
    failed: usize,
    r429: usize,
    r429_after_headers: usize,
    stderr: String,
}

fn run_workers(redis: &str, url: &str, key: &str, each: usize, gap_ms: u64, during: impl FnOnce()) -> Totals {
    let children: Vec<Child> = (0..WORKERS)
        .map(|_| {
            Command::new(worker_binary())
                .args(["--redis", redis, "--url", url, "--requests", &each.to_string(), "--key", key])
                .args(["--gap-ms", &gap_ms.to_string()])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the worker example (built by cargo test)")
        })
        .collect();
    during();
    let mut totals = Totals::default();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(out.status.success(), "a worker failed: {stdout} {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let field = |name: &str| -> usize {
            stdout
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| panic!("{name} in {stdout:?}"))
        };
        totals.sent += field("sent");
        totals.ok += field("ok");
        totals.failed += field("failed");
        totals.r429 += field("r429");
        totals.r429_after_headers += field("r429_after_headers");
        totals.stderr.push_str(&stderr);
    }
    totals
}

fn limited_server(window: Duration) -> server::Server {
    server::Server::start(server::Behaviour::RateLimited { limit: 20, window })
}

fn stop(redis: Option<Child>) {
    if let Some(mut redis) = redis {
        let _ = redis.kill();
        let _ = redis.wait();
    }
}

/// The API's `events` limit: 20 per 10 s sliding window, 400 POSTs from 8 processes.
const TEN_SECONDS: Duration = Duration::from_secs(10);
const EACH: usize = 50;

#[test]
fn eight_processes_sharing_state_through_redis_send_400_posts_and_meet_no_429() {
    let port = free_port();
    let redis = start_redis(port);
    let server = limited_server(TEN_SECONDS);
    let started = Instant::now();
    let shared =
        run_workers(&format!("redis://127.0.0.1:{port}/"), &server.url, "fub:shared", EACH, 0, || {});
    println!("shared through Redis, {:?}: {shared:?}", started.elapsed());
    let received = server.received();
    stop(Some(redis));
    assert_eq!(shared.ok, WORKERS * EACH, "{shared:?}");
    assert_eq!(shared.r429_after_headers, 0, "{shared:?}");
    let refused = received.iter().filter(|r| r.status == 429).count();
    assert_eq!(refused, shared.r429, "the server's count and the workers' agree");
    assert!(
        !shared.stderr.contains("carrying on with local state"),
        "Redis was up all along: {}",
        shared.stderr
    );
}

#[test]
fn the_control_with_in_process_state_only_meets_429s() {
    let server = limited_server(TEN_SECONDS);
    let started = Instant::now();
    let control = run_workers("none", &server.url, "", EACH, 0, || {});
    println!("in-process state only (control), {:?}: {control:?}", started.elapsed());
    assert!(control.r429_after_headers > 0, "the control should meet 429s: {control:?}");
}

/// The server's first answer is a 429 asking for 3 s; every other answer a 201. Each worker
/// sends a request every 0.4 s for about 5 s: how many did the fleet send during those 3 s?
fn sends_during_a_hold(redis: &str, key: &str) -> (usize, Vec<server::Received>) {
    const REQUESTS: usize = 12;
    let script = std::collections::VecDeque::from([server::Answer::new(
        429,
        r#"{"errorMessage":"Too many requests."}"#,
    )
    .header("Retry-After", "3")
    .header("X-RateLimit-Context", "events")]);
    let server = server::Server::start(server::Behaviour::Script(script));
    let totals = run_workers(redis, &server.url, key, REQUESTS, 400, || {});
    let received = server.received();
    assert_eq!(totals.ok, WORKERS * REQUESTS, "{totals:?}");
    let told = received.iter().find(|r| r.status == 429).map(|r| r.at).expect("the 429");
    // Sends already on their way when the 429 was observed get a quarter of a second.
    let held = told + Duration::from_millis(250)..told + Duration::from_secs(3);
    (received.iter().filter(|r| held.contains(&r.at)).count(), received)
}

#[test]
fn a_429_met_by_one_worker_holds_every_worker_until_its_retry_after() {
    let port = free_port();
    let redis = start_redis(port);
    let (shared, received) = sends_during_a_hold(&format!("redis://127.0.0.1:{port}/"), "fub:hold");
    stop(Some(redis));
    assert_eq!(shared, 0, "sent during another worker's hold: {received:?}");
    let (control, _) = sends_during_a_hold("none", "");
    println!("sends during the 3 s hold: shared {shared}, control {control}");
    assert!(control > 0, "without shared state the other workers do not know of the hold");
}

#[test]
fn redis_killed_and_restarted_mid_run_costs_no_panic_and_no_request() {
    const EACH: usize = 20;
    let port = free_port();
    let mut redis = Some(start_redis(port));
    let url = format!("redis://127.0.0.1:{port}/");
    let server = limited_server(Duration::from_secs(2));
    let totals = run_workers(&url, &server.url, "fub:outage", EACH, 0, || {
        std::thread::sleep(Duration::from_secs(2));
        stop(redis.take());
        std::thread::sleep(Duration::from_secs(3));
        redis = Some(start_redis(port));
    });
    drop(server);
    stop(redis);
    println!("Redis killed at 2 s, back at 5 s: {totals:?}");
    assert_eq!(totals.ok, WORKERS * EACH, "no request lost to the outage: {totals:?}");
    assert!(totals.stderr.contains("carrying on with local state"), "{}", totals.stderr);
    assert!(totals.stderr.contains("rejoined"), "{}", totals.stderr);
}
