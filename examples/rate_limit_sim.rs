//! A simulated run against a sliding-window rate limit (20 requests per 10 s, context
//! `events`), with the client following the crate's `RateLimits` answers in both pacing modes.
//! Simulated clock: runs in well under a second.
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
}
