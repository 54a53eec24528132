//! One worker of a fleet: sends POSTs to a Follow-Up-Boss-like server through the crate's
//! decisions, with its rate-limit state shared through Redis (or, with `--redis none`, kept in
//! this process only: the control). Prints one summary line.
//!
//! ```text
//! cargo run -p backoff-core-redis --example worker -- --redis redis://127.0.0.1:6379 --url http://127.0.0.1:8080/v1/events --requests 25
//! ```

use std::time::{Duration, Instant};

use backoff_core::{Action, Idempotency, Pacing, Permit, Policy, RateLimits, Request, TransportFailure};
use backoff_core_redis::FleetLimits;
use rand_core::SeedableRng;

#[allow(clippy::large_enum_variant)] // one per process
enum Limits {
    Shared(FleetLimits),
    Local(RateLimits<8>, Instant),
}

impl Limits {
    fn now_ms(&self) -> u64 {
        match self {
            Self::Shared(s) => s.now_ms(),
            Self::Local(_, epoch) => epoch.elapsed().as_millis() as u64,
        }
    }
    async fn acquire(&mut self) -> Permit {
        let now = self.now_ms();
        match self {
            Self::Shared(s) => s.acquire(Some(b"events")).await,
            Self::Local(l, _) => l.acquire(now, Some(b"events")),
        }
    }
    async fn observe(&mut self, status: u16, headers: &[(String, String)]) {
        let now = self.now_ms();
        match self {
            Self::Shared(s) => s.observe(status, headers).await,
            Self::Local(l, _) => l.observe(now, status, headers),
        }
    }
    async fn abandon(&mut self) {
        match self {
            Self::Shared(s) => s.abandon(Some(b"events")).await,
            Self::Local(l, _) => l.abandon(Some(b"events")),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut redis, mut url, mut requests, mut key) =
        (String::new(), String::new(), 25usize, "fub:demo".to_owned());
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        match arg.as_str() {
            "--redis" => redis = value,
            "--url" => url = value,
            "--requests" => requests = value.parse().expect("a number of requests"),
            "--key" => key = value,
            _ => panic!("usage: worker --redis URL|none --url URL [--requests N] [--key K]"),
        }
    }
    let mut limits = if redis == "none" {
        Limits::Local(RateLimits::new(Pacing::Burst), Instant::now())
    } else {
        Limits::Shared(FleetLimits::new(&redis, &key, Pacing::Burst).expect("a Redis URL"))
    };
    let http = reqwest::Client::new();
    let policy = Policy::FOLLOW_UP_BOSS
        .with_base_ms(100)
        .with_max_backoff_ms(2_000)
        .with_retry_after_floor_ms(0)
        .with_retry_after_jitter_ms(50);
    let mut rng = rand_pcg::Pcg32::seed_from_u64(u64::from(std::process::id()));
    let (mut sent, mut ok, mut failed, mut limited, mut limited_after) = (0, 0, 0, 0, 0);
    let mut seen_headers = false;
    for _ in 0..requests {
        let mut request = Request::new(&policy, limits.now_ms(), Idempotency::NotIdempotent);
        loop {
            while let Permit::Wait { until_ms } = limits.acquire().await {
                let wait = until_ms.saturating_sub(limits.now_ms());
                tokio::time::sleep(Duration::from_millis(wait.max(1))).await;
            }
            sent += 1;
            let action = match http.post(&url).body("{}").send().await {
                Err(error) => {
                    limits.abandon().await;
                    let failure = if error.is_connect() {
                        TransportFailure::BeforeSend
                    } else {
                        TransportFailure::AfterSend
                    };
                    request.transport_failure::<64, _>(limits.now_ms(), failure, &mut rng)
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let headers: Vec<(String, String)> = response
                        .headers()
                        .iter()
                        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned()))
                        .collect();
                    let body = response.bytes().await.unwrap_or_default();
                    if status == 429 {
                        limited += 1;
                        if seen_headers {
                            limited_after += 1;
                        }
                    }
                    seen_headers = true;
                    limits.observe(status, headers.as_slice()).await;
                    request.complete::<64, _, _>(limits.now_ms(), status, headers.as_slice(), &body, &mut rng)
                }
            };
            match action {
                Action::Succeed { .. } => {
                    ok += 1;
                    break;
                }
                Action::Fail(_) => {
                    failed += 1;
                    break;
                }
                Action::Retry(retry) => {
                    let wait = retry.at_ms.saturating_sub(limits.now_ms());
                    tokio::time::sleep(Duration::from_millis(wait)).await;
                    request = retry.request;
                }
            }
        }
    }
    let degraded = matches!(&limits, Limits::Shared(s) if s.is_degraded());
    println!("worker sent={sent} ok={ok} failed={failed} r429={limited} r429_after_headers={limited_after} degraded_at_end={degraded}");
}
