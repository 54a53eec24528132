//! The main job from async Rust: reqwest + tokio with the middleware, against the local
//! Follow-Up-Boss-like server (the default script of `cargo run --example client`).
//!
//! ```text
//! cargo run -p backoff-core-reqwest --example reqwest
//! ```

#[path = "../../../examples/support/server.rs"]
mod server;

use std::time::Instant;

use backoff_core_reqwest::{Attempts, Context, RetryError, RetryMiddleware};
use reqwest_middleware::ClientBuilder;

#[tokio::main]
async fn main() {
    let server = server::Server::start(server::scenario("default").expect("the default script"));
    println!("POST {}  (5 events, Follow Up Boss preset, jitter seeded by the OS)", server.url);

    // The three lines.
    let client = ClientBuilder::new(reqwest::Client::new()).with(RetryMiddleware::new()).build();

    let started = Instant::now();
    for index in 1..=5 {
        let event = format!(r#"{{"type":"Registration","person":{{"lastName":"{index}"}}}}"#);
        let result = client
            .post(&server.url)
            // The local server stands for an API that honours Idempotency-Key: retried safely.
            .header("Idempotency-Key", format!("demo-{index}"))
            .with_extension(Context("events"))
            .body(event)
            .send()
            .await;
        match result {
            Ok(response) => {
                let attempts = response.extensions().get::<Attempts>().map_or(1, |a| a.0);
                println!("event {index}: {} after {attempts} attempt(s)", response.status());
            }
            Err(reqwest_middleware::Error::Middleware(error)) => match error.downcast::<RetryError>() {
                // One line says it all; the parts are there for code that branches on them.
                Ok(error) => println!(
                    "event {index}: failed ({:?} after {} attempt(s), status {:?}): {error}",
                    error.stop(),
                    error.attempts(),
                    error.status()
                ),
                Err(other) => println!("event {index}: failed: {other}"),
            },
            Err(error) => println!("event {index}: failed: {error}"),
        }
    }
    println!(
        "{} requests reached the server in {:.1} s",
        server.received().len(),
        started.elapsed().as_secs_f64()
    );
}
