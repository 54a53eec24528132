//! The retry schedule of a policy: per retry, the smallest and largest wait the formula allows,
//! one sampled wait, and the cumulative time; then a text histogram of 10 000 sampled waits
//! for one retry, to show the jitter's shape.
//!
//! ```text
//! cargo run --example schedule
//! cargo run --example schedule -- --base 500 --cap 64000 --jitter full --retries 10 --seed 7 --show 3
//! ```
//! `--jitter` takes a number of ms (additive, the preset's 1000), `none`, `full`, `equal` or
//! `decorrelated` (whose histogram is of the first retry, as it depends on the one before).

use backoff_core::{Jitter, Policy};
use rand_core::SeedableRng;

fn main() {
    let mut policy = Policy::FOLLOW_UP_BOSS;
    let (mut seed, mut show) = (1u64, 0u32);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().unwrap_or_default();
        let number = || value.parse::<u32>().unwrap_or_else(|_| usage(&flag, &value));
        match flag.as_str() {
            "--base" => policy.base_ms = number(),
            "--cap" => policy.max_backoff_ms = number(),
            "--retries" => policy.max_retries = number(),
            "--seed" => seed = u64::from(number()),
            "--show" => show = number(),
            "--jitter" => {
                policy.jitter = match value.as_str() {
                    "none" => Jitter::None,
                    "full" => Jitter::Full,
                    "equal" => Jitter::Equal,
                    "decorrelated" => Jitter::Decorrelated,
                    _ => Jitter::Additive { max_ms: number() },
                }
            }
            _ => usage(&flag, &value),
        }
    }
    let mut rng = rand_pcg::Pcg32::seed_from_u64(seed);
    println!(
        "base {} ms, cap {} ms, jitter {:?}, {} retries, seed {seed}",
        policy.base_ms, policy.max_backoff_ms, policy.jitter, policy.max_retries
    );
    println!(
        "{:>5} {:>10} {:>10} {:>10} {:>14} {:>14}",
        "retry", "min ms", "max ms", "sampled", "total sampled", "total max"
    );
    let (mut total, mut total_max) = (0u64, 0u64);
    let mut previous = None;
    for n in 0..policy.max_retries {
        let (lo, hi) = policy.delay_bounds(n);
        let (sampled, _) = policy.backoff_after(previous, n, total, &mut rng);
        previous = Some(sampled);
        total += u64::from(sampled);
        total_max += u64::from(hi);
        println!(
            "{:>5} {lo:>10} {hi:>10} {sampled:>10} {:>13.1}s {:>13.1}s",
            n + 1,
            total as f64 / 1e3,
            total_max as f64 / 1e3
        );
    }

    let (lo, hi) = policy.delay_bounds(show);
    let bins = 20usize;
    let width = u64::from(hi - lo) + 1;
    let mut counts = vec![0u32; bins];
    for _ in 0..10_000 {
        let (d, _) = policy.backoff(show, 0, &mut rng);
        let bin = (u64::from(d - lo) * bins as u64 / width) as usize;
        counts[bin.min(bins - 1)] += 1;
    }
    println!("\n10 000 sampled waits for retry {} ({lo}..={hi} ms):", show + 1);
    let most = counts.iter().copied().max().unwrap_or(1).max(1);
    for (i, &c) in counts.iter().enumerate() {
        let from = lo as u64 + width * i as u64 / bins as u64;
        let to = (lo as u64 + width * (i as u64 + 1) / bins as u64).saturating_sub(1).max(from);
        println!("{from:>7}..{to:<7} {c:>5} {}", "#".repeat((c as usize * 50).div_ceil(most as usize)));
        if width <= i as u64 + 1 {
            break;
        }
    }
}

fn usage(flag: &str, value: &str) -> ! {
    eprintln!("bad argument {flag} {value:?}");
    eprintln!("usage: schedule [--base MS] [--cap MS] [--jitter MS|none|full|equal|decorrelated] [--retries N] [--seed N] [--show RETRY]");
    std::process::exit(2);
}
