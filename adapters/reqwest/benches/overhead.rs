//! Per-request overhead of the middleware against plain reqwest, over loopback to the local
//! server answering 201 to everything: batches of requests interleaved between the two
//! clients, median per request of each. Timings are printed, never asserted.
//!
//! ```text
//! cargo bench -p backoff-core-reqwest --bench overhead
//! ```

#[path = "../../../examples/support/server.rs"]
mod server;

use std::collections::VecDeque;
use std::time::Instant;

use backoff_core_reqwest::RetryMiddleware;
use reqwest_middleware::ClientBuilder;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and gets a quick check.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (samples, batch) = if quick { (3, 20) } else { (21, 200) };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let server = server::Server::start(server::Behaviour::Script(VecDeque::new()));
    let plain = reqwest::Client::new();
    let wrapped = ClientBuilder::new(reqwest::Client::new()).with(RetryMiddleware::new()).build();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    runtime.block_on(async {
        for _ in 0..samples {
            let t = Instant::now();
            for _ in 0..batch {
                let r = plain.get(&server.url).send().await.expect("plain reqwest");
                assert_eq!(r.status(), 201);
            }
            a.push(t.elapsed().as_nanos() as f64 / batch as f64);
            let t = Instant::now();
            for _ in 0..batch {
                let r = wrapped.get(&server.url).send().await.expect("with the middleware");
                assert_eq!(r.status(), 201);
            }
            b.push(t.elapsed().as_nanos() as f64 / batch as f64);
        }
    });
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (pa, pb) = (median(&mut a), median(&mut b));
    println!("per GET over loopback, median of {samples} batches of {batch}:");
    println!("  plain reqwest            {:>9.1} µs", pa / 1000.0);
    println!(
        "  with RetryMiddleware     {:>9.1} µs  ({:+.1} µs, {:.2}×)",
        pb / 1000.0,
        (pb - pa) / 1000.0,
        pb / pa
    );
}
