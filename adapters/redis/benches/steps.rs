//! Shared steps against a local redis-server (started here, on a free loopback port): steps
//! per second with 1, 4 and 8 workers (each its own connection, as separate processes have),
//! conflicts per step, and the latency a request pays for `acquire` + `observe` through Redis
//! against the same two calls on in-process state (median and p99). Printed, not asserted.
//!
//! ```text
//! cargo bench -p backoff-core-redis --bench steps
//! ```

use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use backoff_core::{Pacing, Permit, RateLimits};
use backoff_core_redis::FleetLimits;

fn percentile(v: &mut [Duration], p: f64) -> Duration {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p) as usize]
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let steps_each = if quick { 100 } else { 2_000 };
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
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let headers = [
        ("X-RateLimit-Limit", "1000000"),
        ("X-RateLimit-Remaining", "999999"),
        ("X-RateLimit-Window", "10"),
        ("X-RateLimit-Context", "events"),
    ];
    println!(
        "{:<8} {:>14} {:>18} {:>14} {:>14}",
        "workers", "steps/s", "conflicts/step", "median µs", "p99 µs"
    );
    for workers in [1usize, 4, 8] {
        let key = format!("bench:{workers}");
        let (total, conflicts, mut latencies) = runtime.block_on(async {
            let tasks: Vec<_> = (0..workers)
                .map(|_| {
                    let (url, key) = (url.clone(), key.clone());
                    tokio::spawn(async move {
                        let limits = FleetLimits::new(&url, &key, Pacing::Burst).unwrap();
                        let mut lat = Vec::with_capacity(steps_each);
                        for _ in 0..steps_each {
                            let t = Instant::now();
                            let permit = limits.acquire(Some(b"events")).await;
                            assert_eq!(permit, Permit::Go);
                            limits.observe(201, &headers).await;
                            lat.push(t.elapsed());
                        }
                        (limits.conflicts(), lat)
                    })
                })
                .collect();
            let start = Instant::now();
            let mut conflicts = 0;
            let mut lat = Vec::new();
            for t in tasks {
                let (c, l) = t.await.unwrap();
                conflicts += c;
                lat.extend(l);
            }
            (start.elapsed(), conflicts, lat)
        });
        let steps = (2 * workers * steps_each) as f64;
        println!(
            "{workers:<8} {:>14.0} {:>18.3} {:>14.0} {:>14.0}",
            steps / total.as_secs_f64(),
            conflicts as f64 / steps,
            percentile(&mut latencies, 0.5).as_secs_f64() * 1e6,
            percentile(&mut latencies, 0.99).as_secs_f64() * 1e6
        );
    }
    let mut local = RateLimits::<8>::new(Pacing::Burst);
    let mut lat = Vec::new();
    for i in 0..steps_each as u64 {
        let t = Instant::now();
        assert_eq!(local.acquire(i, Some(b"events")), Permit::Go);
        local.observe(i, 201, &headers);
        lat.push(t.elapsed());
    }
    println!(
        "in-process state: acquire + observe median {:.2} µs, p99 {:.2} µs",
        percentile(&mut lat, 0.5).as_secs_f64() * 1e6,
        percentile(&mut lat, 0.99).as_secs_f64() * 1e6
    );
    let _ = redis.kill();
    let _ = redis.wait();
}
