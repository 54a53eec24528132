//! A simulated run against a sliding-window rate limit (20 requests per 10 s, context
//! `events`), with the client following the crate's `RateLimits` answers in both pacing modes:
//! one request at a time, then four at once with random latencies (5–200 ms each way, so
//! responses overtake one another), over five seeds. Simulated clock: runs in well under a
//! second.
//!
//! ```text
//! cargo run --example rate_limit_sim
//! ```

#[path = "../tests/common/sim.rs"]
mod sim;

use backoff_core::Pacing;

fn main() {
    let (requests, limit, window_ms, latency_ms) = (200, 20, 10_000, 40);
    println!(
        "{requests} POSTs, server limit {limit} per {} s sliding window, {latency_ms} ms round trip",
        window_ms / 1000
    );
    println!(
        "{:<8} {:>6} {:>9} {:>6} {:>16} {:>10}",
        "pacing", "sent", "succeeded", "429s", "429s after hdrs", "total s"
    );
    for pacing in [Pacing::Burst, Pacing::Smooth] {
        let r = sim::run(pacing, requests, limit, window_ms, latency_ms);
        println!(
            "{:<8} {:>6} {:>9} {:>6} {:>16} {:>10.1}",
            format!("{pacing:?}"),
            r.sent,
            r.succeeded,
            r.rate_limited,
            r.rate_limited_after_headers,
            r.total_ms as f64 / 1000.0
        );
    }
    println!("\n4 in flight at once, 5-200 ms each way, seeds 0-4 (worst seed's 429s, mean time)");
    println!("{:<8} {:>6} {:>9} {:>6} {:>10}", "pacing", "sent", "succeeded", "429s", "total s");
    for pacing in [Pacing::Burst, Pacing::Smooth] {
        let runs: Vec<_> =
            (0..5).map(|seed| sim::run_overlapping(pacing, requests, 4, limit, window_ms, seed)).collect();
        println!(
            "{:<8} {:>6} {:>9} {:>6} {:>10.1}",
            format!("{pacing:?}"),
            runs.iter().map(|r| r.sent).max().unwrap_or(0),
            runs.iter().map(|r| r.succeeded).min().unwrap_or(0),
            runs.iter().map(|r| r.rate_limited).max().unwrap_or(0),
            runs.iter().map(|r| r.total_ms).sum::<u64>() as f64 / 5_000.0
        );
    }
}
