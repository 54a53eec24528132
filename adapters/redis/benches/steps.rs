//! Shared steps against a local redis-server (started here, on a free loopback port), from
//! real processes: 1, 4 and 8 copies of this program, each with its own connection, all
//! starting at one agreed instant and making requests' worth of steps on one key (acquire,
//! observe, refund: the three steps a successful request takes through the driver). Printed:
//! steps per second for the fleet, conflicts per step, steps decided on a local copy (none
//! while Redis answers: every step waits its turn on the shared value), and the latency a
//! request pays for its three steps through Redis against the same three on in-process state
//! (median and p99, measured in the same run). Printed, not asserted.
//!
//! ```text
//! cargo bench -p backoff-core-redis --bench steps
//! ```

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backoff_core::shared::{Outcome, Shared, SharedState, Step};
use backoff_core::{Breaker, BreakerPolicy, Pacing, Permit, RateLimitHeaders, RetryBudget};
use backoff_core_redis::FleetState;

const HEADERS: [(&str, &str); 4] = [
    ("X-RateLimit-Limit", "1000000"),
    ("X-RateLimit-Remaining", "999999"),
    ("X-RateLimit-Window", "10"),
    ("X-RateLimit-Context", "events"),
];

fn state() -> Shared<8> {
    Shared::new(Pacing::Burst)
        .with_budget(RetryBudget::AWS_STANDARD)
        .with_breaker(Breaker::new(BreakerPolicy::API_CLIENT))
}

/// One request's steps: asked, answered, refunded. Its latency.
async fn request<S: SharedState>(shared: &S, now_ms: u64, entropy: u64) -> Duration {
    let seen = RateLimitHeaders::read(&HEADERS[..]);
    let t = Instant::now();
    let permit = shared.step(now_ms, Step::Acquire { context: Some(b"events") }, entropy).await;
    assert_eq!(permit, Some(Outcome::Permit(Permit::Go)));
    shared.step(now_ms, Step::Observe { status: 201, seen }, entropy).await;
    shared.step(now_ms, Step::Refund, 0).await;
    t.elapsed()
}

fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p) as usize]
}

/// A child process: waits for the start instant, makes `requests` requests' steps, prints
/// `elapsed_us conflicts latency_us...`.
fn child(url: &str, key: &str, requests: usize, start_at: u64) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let fleet = FleetState::new(url, key, state()).unwrap();
        // Connect before the start: the first step pays for the connection.
        let _ = fleet.step(0, Step::Refund, 0).await;
        std::thread::sleep(Duration::from_millis(start_at.saturating_sub(unix_ms())));
        let epoch = Instant::now();
        let mut latencies = Vec::with_capacity(requests);
        for i in 0..requests {
            latencies.push(request(&fleet, epoch.elapsed().as_millis() as u64, i as u64).await);
        }
        // A step that found no turn within its time was decided locally: counted, not hidden.
        let mut line =
            format!("{} {} {}", epoch.elapsed().as_micros(), fleet.conflicts(), fleet.local_steps());
        for l in latencies {
            line.push_str(&format!(" {}", l.as_micros()));
        }
        println!("{line}");
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--child") {
        let a = &args[at + 1..];
        child(&a[0], &a[1], a[2].parse().unwrap(), a[3].parse().unwrap());
        return;
    }
    let quick = !args.iter().any(|a| a == "--bench");
    let requests = if quick { 50 } else { 2_000 };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut redis = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server");
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let url = format!("redis://127.0.0.1:{port}/");
    println!(
        "{:<10} {:>12} {:>16} {:>12} {:>22} {:>18}",
        "processes", "steps/s", "conflicts/step", "local steps", "request median µs", "request p99 µs"
    );
    for processes in [1usize, 4, 8] {
        let key = format!("bench:{processes}");
        let start_at = unix_ms() + 1_000;
        let children: Vec<_> = (0..processes)
            .map(|_| {
                Command::new(std::env::current_exe().unwrap())
                    .args(["--child", &url, &key, &requests.to_string(), &start_at.to_string()])
                    .stdout(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let (mut longest_us, mut conflicts, mut local, mut latencies) = (0u64, 0u64, 0u64, Vec::new());
        let mut failed = 0;
        for child in children {
            let out = child.wait_with_output().unwrap();
            if !out.status.success() {
                // Said on its stderr; the redis-server is still stopped below.
                failed += 1;
                continue;
            }
            let line = String::from_utf8(out.stdout).unwrap();
            let mut fields = line.split_whitespace().map(|f| f.parse::<u64>().unwrap());
            longest_us = longest_us.max(fields.next().unwrap());
            conflicts += fields.next().unwrap();
            local += fields.next().unwrap();
            latencies.extend(fields.map(Duration::from_micros));
        }
        let steps = (3 * processes * requests) as f64;
        println!(
            "{processes:<10} {:>12.0} {:>16.3} {local:>12} {:>22.0} {:>18.0}",
            steps / (longest_us as f64 / 1e6),
            conflicts as f64 / steps,
            percentile(&mut latencies, 0.5).as_secs_f64() * 1e6,
            percentile(&mut latencies, 0.99).as_secs_f64() * 1e6
        );
        if failed > 0 {
            println!("({failed} of the {processes} processes failed; see their stderr)");
        }
    }
    // The baseline: the same steps on in-process state, through the same trait.
    let local = Mutex::new(state());
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut latencies: Vec<Duration> =
        (0..requests as u64).map(|i| runtime.block_on(request(&local, i, i))).collect();
    println!(
        "in-process state (Mutex), same three steps: median {:.2} µs, p99 {:.2} µs",
        percentile(&mut latencies, 0.5).as_secs_f64() * 1e6,
        percentile(&mut latencies, 0.99).as_secs_f64() * 1e6
    );
    let _ = redis.kill();
    let _ = redis.wait();
}
