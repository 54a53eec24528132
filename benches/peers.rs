//! backoff-core against the retry crates people use today, in one process, interleaved:
//!
//! (a) a 10-delay schedule, base 1 s, ×2, cap 32 s, with jitter, in this crate, `backon` 1.x,
//!     `backoff` 0.4, `exponential-backoff` 2.x and `retry-policies` 0.5, and an inline lower
//!     bound (`min((1000 << n) + rng % 1001, 32000)` with a tiny inline RNG);
//! (b) one whole decision of this crate's state machine: a 503 with a small body, a 400 with a
//!     62-byte `errorMessage` body, and a 201.
//!
//! ```text
//! cargo bench --bench peers
//! bash benches/instructions.sh      # instructions per decision, with valgrind's callgrind
//! ```
//! Every peer's delays are checked for range before anything is timed.

mod harness;

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use backoff_core::{Action, Idempotency, Policy, Request};
use harness::{keep, race, samples, Contender};

/// xorshift64: the tiny inline RNG of the lower bound, also handed to this crate so both pay
/// the same for randomness.
struct XorShift(u64);

impl XorShift {
    #[inline(always)]
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

impl rand_core::TryRng for XorShift {
    type Error = core::convert::Infallible;
    #[inline(always)]
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok((self.next() >> 32) as u32)
    }
    #[inline(always)]
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for b in dst {
            *b = self.next() as u8;
        }
        Ok(())
    }
}

const POLICY: Policy = Policy::FOLLOW_UP_BOSS;

fn ours(rng: &mut XorShift) -> [u64; 10] {
    let mut out = [0; 10];
    for (n, slot) in out.iter_mut().enumerate() {
        *slot = u64::from(POLICY.backoff(n as u32, 0, rng).0);
    }
    out
}

fn lower_bound(rng: &mut XorShift) -> [u64; 10] {
    let mut out = [0; 10];
    for (n, slot) in out.iter_mut().enumerate() {
        *slot = ((1000u64 << n) + rng.next() % 1001).min(32_000);
    }
    out
}

fn backon_schedule() -> [u64; 10] {
    use backon::BackoffBuilder;
    let mut it = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(32))
        .with_factor(2.0)
        .with_jitter()
        // Seeded, as every contender's RNG is here: the same work on every run (an unseeded
        // generator seeds itself from a thread-local, which moves callgrind's count).
        .with_jitter_seed(0x9E37_79B9_7F4A_7C15)
        .with_max_times(10)
        .build();
    std::array::from_fn(|_| it.next().map_or(0, |d| d.as_millis() as u64))
}

fn backoff_schedule() -> [u64; 10] {
    use backoff::backoff::Backoff;
    let mut b = backoff::ExponentialBackoff {
        initial_interval: Duration::from_secs(1),
        current_interval: Duration::from_secs(1),
        multiplier: 2.0,
        max_interval: Duration::from_secs(32),
        max_elapsed_time: None,
        ..backoff::ExponentialBackoff::default()
    };
    std::array::from_fn(|_| b.next_backoff().map_or(0, |d| d.as_millis() as u64))
}

fn exponential_backoff_schedule() -> [u64; 10] {
    let b = exponential_backoff::Backoff::new(11, Duration::from_secs(1), Duration::from_secs(32));
    let mut it = b.iter();
    std::array::from_fn(|_| it.next().flatten().map_or(0, |d| d.as_millis() as u64))
}

fn retry_policies_schedule() -> [u64; 10] {
    use retry_policies::{policies::ExponentialBackoff, Jitter, RetryDecision, RetryPolicy};
    let policy = ExponentialBackoff::builder()
        .retry_bounds(Duration::from_secs(1), Duration::from_secs(32))
        .jitter(Jitter::Bounded)
        .base(2)
        .build_with_max_retries(10);
    let start = SystemTime::now();
    std::array::from_fn(|n| match policy.should_retry(start, n as u32) {
        RetryDecision::Retry { execute_after } => {
            execute_after.duration_since(start).map_or(0, |d| d.as_millis() as u64)
        }
        RetryDecision::DoNotRetry => 0,
    })
}

/// Each delay within what its crate's jitter allows around `d = min(2^n s, 32 s)`: at most
/// `2d` (backon's jitter multiplies by up to 2), at least `d / 2` (backoff's randomization
/// factor 0.5, exponential-backoff's 0.3), or 500 ms for retry-policies, whose bounded jitter
/// goes down to half the minimum interval.
fn check(name: &str, delays: [u64; 10], floor: fn(u64) -> u64) {
    for (n, &delay) in delays.iter().enumerate() {
        let d = (1000u64 << n).min(32_000);
        assert!((floor(d)..=2 * d).contains(&delay), "{name}: retry {n} waits {delay} ms: {delays:?}");
    }
}

fn decision(status: u16, body: &[u8], rng: &mut XorShift) -> bool {
    let action =
        Request::new(0, Idempotency::Idempotent).complete::<128, _, _>(&POLICY, 1, status, &(), body, rng);
    matches!(action, Action::Retry(_) | Action::Succeed { .. })
}

const SMALL_503: &[u8] = b"<html><body>503 Service Unavailable</body></html>";
const BODY_400: &[u8] = br#"{"errorMessage":"Invalid fields in the request body: emails."}"#;

fn main() {
    // `bash benches/instructions.sh` runs this binary under callgrind with these arguments.
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--schedules") {
        // `--schedules WHO N`: N 10-delay schedules of one contender, for callgrind.
        let count: u32 = args[i + 2].parse().unwrap();
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut kept = 0u64;
        for _ in 0..count {
            let delays = match args[i + 1].as_str() {
                "ours" => ours(black_box(&mut rng)),
                "lower-bound" => lower_bound(black_box(&mut rng)),
                "backon" => backon_schedule(),
                other => panic!("no contender {other}"),
            };
            kept = kept.wrapping_add(black_box(delays).iter().sum::<u64>());
        }
        println!("{kept}");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--decisions") {
        let status: u16 = args[i + 1].parse().unwrap();
        let count: u32 = args[i + 2].parse().unwrap();
        let body = match status {
            503 => SMALL_503,
            400 => BODY_400,
            _ => b"{}",
        };
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut kept = 0;
        for _ in 0..count {
            kept += u32::from(decision(black_box(status), black_box(body), &mut rng));
        }
        println!("{kept}");
        return;
    }
    let samples = if args.iter().any(|a| a == "--bench") { samples() } else { 3 };

    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let half = |d: u64| d / 2;
    check("backoff-core", ours(&mut rng), |d| d);
    check("lower bound", lower_bound(&mut rng), |d| d);
    check("backon", backon_schedule(), |d| d);
    check("backoff", backoff_schedule(), half);
    check("exponential-backoff", exponential_backoff_schedule(), half);
    check("retry-policies", retry_policies_schedule(), |_| 500);
    for (n, d) in ours(&mut rng).iter().enumerate() {
        let (lo, hi) = POLICY.delay_bounds(n as u32);
        assert!((u64::from(lo)..=u64::from(hi)).contains(d));
    }

    let (mut r1, mut r2) = (XorShift(1), XorShift(1));
    let mut contenders = [
        Contender { run: Box::new(|| keep(ours(&mut r1))) },
        Contender { run: Box::new(|| keep(lower_bound(&mut r2))) },
        Contender { run: Box::new(|| keep(backon_schedule())) },
        Contender { run: Box::new(|| keep(backoff_schedule())) },
        Contender { run: Box::new(|| keep(exponential_backoff_schedule())) },
        Contender { run: Box::new(|| keep(retry_policies_schedule())) },
    ];
    let t = race(&mut contenders, samples);
    println!(
        "(a) a 10-delay schedule (base 1 s, x2, cap 32 s, jitter): median ns per schedule and per delay"
    );
    println!("{:<28} {:>10} {:>10} {:>14}", "", "schedule", "per delay", "vs this crate");
    let names = [
        "backoff-core",
        "inline lower bound",
        "backon 1.6",
        "backoff 0.4",
        "exponential-backoff 2.1",
        "retry-policies 0.5",
    ];
    for (name, ns) in names.iter().zip(&t) {
        println!("{name:<28} {ns:>10.1} {:>10.2} {:>13.2}x", ns / 10.0, ns / t[0]);
    }
    println!("this crate / lower bound: {:.2}x", t[0] / t[1]);

    let (mut a, mut b, mut c) = (XorShift(3), XorShift(3), XorShift(3));
    let mut contenders = [
        Contender { run: Box::new(|| keep(decision(black_box(503), black_box(SMALL_503), &mut a))) },
        Contender { run: Box::new(|| keep(decision(black_box(400), black_box(BODY_400), &mut b))) },
        Contender { run: Box::new(|| keep(decision(black_box(201), black_box(b"{}"), &mut c))) },
    ];
    let t = race(&mut contenders, samples);
    println!("\n(b) one whole decision of the state machine: median ns");
    for (name, ns) in
        ["503, 49-byte HTML body -> retry", "400, 62-byte errorMessage -> fail", "201 -> succeed"]
            .iter()
            .zip(&t)
    {
        println!("{name:<36} {ns:>8.1}");
    }
}
