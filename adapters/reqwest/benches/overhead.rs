//! Per-request overhead of the middleware, and of `reqwest-retry`'s, against plain reqwest: GETs
//! over loopback to the local server answering 201 to everything, in batches interleaved
//! between the three clients (one reqwest, one server, one run), median per request of each.
//! Timings are printed, never asserted.
//!
//! ```text
//! cargo bench -p backoff-core-reqwest --bench overhead
//! ```

#[path = "../../../examples/support/server.rs"]
mod server;

use std::collections::VecDeque;
use std::time::Instant;

use backoff_core_reqwest::RetryMiddleware;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::{policies::ExponentialBackoff, RetryTransientMiddleware};

enum Client {
    Plain(reqwest::Client),
    Middleware(ClientWithMiddleware),
}

impl Client {
    async fn get(&self, url: &str) -> u16 {
        match self {
            Self::Plain(c) => c.get(url).send().await.expect("plain reqwest").status().as_u16(),
            Self::Middleware(c) => c.get(url).send().await.expect("a middleware").status().as_u16(),
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and gets a quick check.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (samples, batch) = if quick { (3, 20) } else { (21, 200) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let server = server::Server::start(server::Behaviour::Script(VecDeque::new()));
    let retry_policy = ExponentialBackoff::builder().build_with_max_retries(8);
    let clients = [
        ("plain reqwest", Client::Plain(reqwest::Client::new())),
        (
            "with backoff-core's RetryMiddleware",
            Client::Middleware(
                ClientBuilder::new(reqwest::Client::new()).with(RetryMiddleware::new()).build(),
            ),
        ),
        (
            "with reqwest-retry 0.9",
            Client::Middleware(
                ClientBuilder::new(reqwest::Client::new())
                    .with(RetryTransientMiddleware::new_with_policy(retry_policy))
                    .build(),
            ),
        ),
    ];
    let mut times: Vec<Vec<f64>> = clients.iter().map(|_| Vec::new()).collect();
    runtime.block_on(async {
        for _ in 0..samples {
            for ((_, client), times) in clients.iter().zip(times.iter_mut()) {
                let t = Instant::now();
                for _ in 0..batch {
                    assert_eq!(client.get(&server.url).await, 201);
                }
                times.push(t.elapsed().as_nanos() as f64 / batch as f64);
            }
        }
    });
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let medians: Vec<f64> = times.iter_mut().map(median).collect();
    println!("per GET over loopback, median of {samples} interleaved batches of {batch}:");
    for ((name, _), m) in clients.iter().zip(&medians) {
        println!(
            "  {name:<36} {:>8.1} µs  ({:+.1} µs over plain, {:.2}×)",
            m / 1000.0,
            (m - medians[0]) / 1000.0,
            m / medians[0]
        );
    }
}
