//! One worker of a fleet: sends POSTs to a Follow-Up-Boss-like server through the reqwest
//! middleware, its shared state in Redis (or, with `--redis none`, in this process only: the
//! control). The two differ by one line. Prints one summary line, with the longest time one
//! step on the shared state took (`store_wait_max_ms`: how long a request waited on the store).
//!
//! ```text
//! cargo run -p backoff-core-redis --example worker -- --redis redis://127.0.0.1:6379 --url http://127.0.0.1:8080/v1/events --requests 25
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use backoff_core::shared::{Outcome, Shared, SharedState, Step};
use backoff_core::{Pacing, Policy};
use backoff_core_redis::FleetState;
use backoff_core_reqwest::{Context, RetryMiddleware};
use reqwest_middleware::{ClientBuilder, Middleware, Next};

/// Counts what each attempt met, seen from inside the retry middleware (it runs once per
/// attempt).
#[derive(Default)]
struct Attempts {
    sent: AtomicUsize,
    r429: AtomicUsize,
    /// 429s met after this worker had seen a response (and so the rate-limit headers).
    r429_after_headers: AtomicUsize,
}

#[async_trait::async_trait]
impl Middleware for Counter {
    async fn handle(
        &self,
        request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let seen_before = self.0.sent.fetch_add(1, Ordering::Relaxed) > 0;
        let result = next.run(request, extensions).await;
        if matches!(&result, Ok(r) if r.status() == 429) {
            self.0.r429.fetch_add(1, Ordering::Relaxed);
            if seen_before {
                self.0.r429_after_headers.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }
}

struct Counter(Arc<Attempts>);

/// The fleet's state, with the longest step it took measured from outside (what the driver
/// waited for).
struct Timed {
    fleet: FleetState,
    longest_us: Arc<AtomicU64>,
}

impl SharedState for Timed {
    type Pending<'a> = Pin<Box<dyn Future<Output = Option<Outcome>> + Send + 'a>>;

    fn step<'a>(&'a self, now_ms: u64, step: Step<'a>, entropy: u64) -> Self::Pending<'a> {
        Box::pin(async move {
            let started = Instant::now();
            let outcome = self.fleet.step(now_ms, step, entropy).await;
            let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            self.longest_us.fetch_max(took, Ordering::Relaxed);
            outcome
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut redis, mut url, mut requests, mut key, mut gap_ms) =
        (String::new(), String::new(), 25usize, "fub:demo".to_owned(), 0u64);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        match arg.as_str() {
            "--redis" => redis = value,
            "--url" => url = value,
            "--requests" => requests = value.parse().expect("a number of requests"),
            "--key" => key = value,
            "--gap-ms" => gap_ms = value.parse().expect("milliseconds between requests"),
            _ => panic!("usage: worker --redis URL|none --url URL [--requests N] [--key K] [--gap-ms MS]"),
        }
    }
    let policy = Policy::FOLLOW_UP_BOSS
        .with_base_ms(100)
        .with_max_backoff_ms(2_000)
        .with_retry_after_floor_ms(0)
        .with_retry_after_jitter_ms(50);
    let retry = RetryMiddleware::with_policy(policy).pacing(Pacing::Burst);
    let counts = Arc::new(Attempts::default());
    let longest_us = Arc::new(AtomicU64::new(0));
    let builder = ClientBuilder::new(reqwest::Client::new());
    // The one line between a process on its own and a fleet.
    let builder = if redis == "none" {
        builder.with(retry)
    } else {
        let fleet = FleetState::new(&redis, &key, Shared::new(Pacing::Burst)).expect("a Redis URL");
        builder.with(retry.shared_state(Timed { fleet, longest_us: Arc::clone(&longest_us) }))
    };
    let client = builder.with(Counter(Arc::clone(&counts))).build();

    let (mut ok, mut failed) = (0, 0);
    for n in 0..requests {
        if n > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(gap_ms)).await;
        }
        let sent = client.post(&url).body("{}").with_extension(Context("events")).send().await;
        match sent {
            Ok(_) => ok += 1,
            Err(error) => {
                eprintln!("worker: {error}");
                failed += 1;
            }
        }
    }
    println!(
        "worker sent={} ok={ok} failed={failed} r429={} r429_after_headers={} store_wait_max_ms={:.1}",
        counts.sent.load(Ordering::Relaxed),
        counts.r429.load(Ordering::Relaxed),
        counts.r429_after_headers.load(Ordering::Relaxed),
        longest_us.load(Ordering::Relaxed) as f64 / 1000.0,
    );
}
