//! Eight worker processes behind one API key, against the local Follow-Up-Boss-like server
//! enforcing 20 requests per sliding window (2 s here, so the run takes seconds, not minutes),
//! with a real `redis-server` on loopback: shared state meets no 429 once the headers are
//! seen; in-process state alone (the control) meets them; Redis killed and restarted mid-run
//! costs no panic and no request.

#[path = "../../../examples/support/server.rs"]
mod server;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WORKERS: usize = 8;
const EACH: usize = 20;

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

fn run_workers(redis: &str, url: &str, key: &str, during: impl FnOnce()) -> Totals {
    let children: Vec<Child> = (0..WORKERS)
        .map(|_| {
            Command::new(worker_binary())
                .args(["--redis", redis, "--url", url, "--requests", &EACH.to_string(), "--key", key])
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

fn limited_server() -> server::Server {
    server::Server::start(server::Behaviour::RateLimited { limit: 20, window: Duration::from_secs(2) })
}

#[test]
fn eight_processes_sharing_state_through_redis_meet_no_429_and_the_control_does() {
    let port = free_port();
    let mut redis = start_redis(port);
    let url = format!("redis://127.0.0.1:{port}/");

    let server = limited_server();
    let shared = run_workers(&url, &server.url, "fub:shared", || {});
    drop(server);
    println!("shared through Redis: {shared:?}");
    assert_eq!(shared.ok, WORKERS * EACH, "{shared:?}");
    assert_eq!(shared.r429_after_headers, 0, "{shared:?}");

    let server = limited_server();
    let control = run_workers("none", &server.url, "", || {});
    drop(server);
    println!("in-process state only (control): {control:?}");
    assert!(control.r429 > 0, "the control should meet 429s: {control:?}");

    let _ = redis.kill();
    let _ = redis.wait();
}

#[test]
fn redis_killed_and_restarted_mid_run_costs_no_panic_and_no_request() {
    let port = free_port();
    let mut redis = Some(start_redis(port));
    let url = format!("redis://127.0.0.1:{port}/");
    let server = limited_server();
    let totals = run_workers(&url, &server.url, "fub:outage", || {
        std::thread::sleep(Duration::from_secs(2));
        if let Some(mut r) = redis.take() {
            let _ = r.kill();
            let _ = r.wait();
        }
        std::thread::sleep(Duration::from_secs(3));
        redis = Some(start_redis(port));
    });
    drop(server);
    println!("Redis killed at 2 s, back at 5 s: {totals:?}");
    assert_eq!(totals.ok + totals.failed, WORKERS * EACH);
    assert_eq!(totals.ok, WORKERS * EACH, "no request lost to the outage: {totals:?}");
    assert!(totals.stderr.contains("carrying on with local state"), "{}", totals.stderr);
    assert!(totals.stderr.contains("rejoined"), "{}", totals.stderr);
    if let Some(mut r) = redis {
        let _ = r.kill();
        let _ = r.wait();
    }
}
