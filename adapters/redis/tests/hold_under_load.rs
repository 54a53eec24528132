//! Never early, whatever the load: the hold test of `fleet.rs` run again and again while
//! both cores are kept busy. A worker must not send before another worker's `Retry-After` has
//! passed — the conversions between a worker's clock and Redis's err late, never early —
//! however late the worker's steps are scheduled. A binary of its own, so the load it makes
//! does not slow the other tests.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::{sends_during_a_hold, Redis};

const RUNS: usize = 3;

#[test]
fn a_429_holds_every_worker_to_its_end_with_both_cores_busy() {
    let stop = Arc::new(AtomicBool::new(false));
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let burners: Vec<_> = (0..cores)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut x = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
                }
            })
        })
        .collect();
    let redis = Redis::start(common::free_port());
    let mut early = Vec::new();
    for run in 0..RUNS {
        let (sent, received) = sends_during_a_hold(&redis.url(), &format!("fub:load:{run}"));
        println!("run {run}: {sent} sends during the hold");
        if sent > 0 {
            early.push(received);
        }
    }
    stop.store(true, Ordering::Relaxed);
    for burner in burners {
        let _ = burner.join();
    }
    assert!(early.is_empty(), "sent during another worker's hold (each run's log): {early:?}");
}
