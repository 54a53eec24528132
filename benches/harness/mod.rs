//! A small, dependency-free benchmark harness: interleaved samples, medians, ratios.
//!
//! Each sample times a batch of calls of every contender in turn (round-robin), so a noisy
//! neighbour on a shared machine slows all contenders alike instead of whichever ran then.

use std::hint::black_box;
use std::time::Instant;

/// One contender: the operation to time.
pub struct Contender<'a> {
    pub run: Box<dyn FnMut() + 'a>,
}

/// Median nanoseconds per call of each contender, in order.
pub fn race(contenders: &mut [Contender<'_>], samples: usize) -> Vec<f64> {
    // Size each batch to take ~2 ms, so the timer's resolution does not matter.
    let batches: Vec<u64> = contenders
        .iter_mut()
        .map(|c| {
            let mut n = 1u64;
            loop {
                let t = Instant::now();
                for _ in 0..n {
                    (c.run)();
                }
                if t.elapsed().as_micros() > 2000 || n > 1 << 30 {
                    break n;
                }
                n *= 2;
            }
        })
        .collect();
    let mut times: Vec<Vec<f64>> = vec![Vec::with_capacity(samples); contenders.len()];
    for _ in 0..samples {
        for (i, c) in contenders.iter_mut().enumerate() {
            let t = Instant::now();
            for _ in 0..batches[i] {
                (c.run)();
            }
            times[i].push(t.elapsed().as_nanos() as f64 / batches[i] as f64);
        }
    }
    times
        .into_iter()
        .map(|mut t| {
            t.sort_by(|a, b| a.total_cmp(b));
            t[t.len() / 2]
        })
        .collect()
}

/// Keeps a value alive so the optimiser cannot drop the work that made it.
pub fn keep<T>(value: T) {
    black_box(value);
}

/// How many samples to take: `BENCH_SAMPLES`, or 31 (fewer under `cargo test --benches`).
pub fn samples() -> usize {
    std::env::var("BENCH_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(31)
}
