//! The main job, end to end: a real HTTP client (ureq) sending `POST /v1/events` through
//! backoff-core's state machine and shared rate-limit state, against a local server (tiny_http
//! on 127.0.0.1) that behaves like the Follow Up Boss API under stress. Sleeps as told: the
//! default script takes about 10 seconds.
//!
//! ```text
//! cargo run --example client                        # the default script
//! cargo run --example client -- --script rate-limit # also: outage
//! cargo run --example client -- --seed 2026         # the same jitter every run (the README's)
//! FUB_API_KEY=... cargo run --example client -- --url https://api.followupboss.com/v1/events
//! ```
//!
//! The jitter is seeded from the operating system unless `--seed` is given: copies of a
//! program seeded with one constant wait the same delays and retry in lockstep.
//!
//! `--url` takes the whole endpoint URL (scheme, host and path); the client sends one POST
//! there, without an `Idempotency-Key` (so it is not retried where it may have been
//! processed), and exits non-zero if it fails. Against the local server each POST carries an
//! `Idempotency-Key`, which stands for an API that honours one.

#[path = "support/client.rs"]
mod client;
#[path = "support/server.rs"]
mod server;

use std::time::Instant;

use backoff_core::{Pacing, Policy};
use client::{Attempt, Client, Decision};

const POLICY: Policy = Policy::FOLLOW_UP_BOSS;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut script, mut url, mut seed) = ("default".to_owned(), None, None);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--script", Some(name)) => script = name,
            ("--url", Some(u)) => url = Some(u),
            ("--seed", Some(n)) if n.parse::<u64>().is_ok() => seed = n.parse().ok(),
            _ => {
                eprintln!(
                    "usage: client [--script default|rate-limit|outage] [--seed N] \
                     [--url WHOLE_ENDPOINT_URL (API key in FUB_API_KEY)]"
                );
                std::process::exit(2);
            }
        }
    }
    let seed = seed.unwrap_or_else(os_seed);
    let url_given = url.is_some();
    let (server, url, key, requests) = match url {
        Some(url) => (None, url, std::env::var("FUB_API_KEY").ok(), 1),
        None => {
            let Some(behaviour) = server::scenario(&script) else {
                eprintln!("unknown script {script:?}: default, rate-limit or outage");
                std::process::exit(2);
            };
            let server = server::Server::start(behaviour);
            let url = server.url.clone();
            let requests = match script.as_str() {
                "rate-limit" => 12,
                "outage" => 3,
                _ => 5,
            };
            (Some(server), url, None, requests)
        }
    };
    if server.is_none() {
        println!("sending {requests} POST to {url} (the whole endpoint URL), not retried where it may have been processed");
    } else {
        println!("POST {url}  (script {script:?}, policy: FOLLOW_UP_BOSS preset)");
    }
    println!("{:<4} {:<4} {:>7} {:<30} {:>8}  message", "req", "try", "status", "decision", "held ms");
    let started = Instant::now();
    let mut client = Client::new(&url, key, &POLICY, Pacing::Burst, seed);
    client.idempotency_keys = server.is_some();
    let (mut ok, mut failed, mut attempts) = (0, 0, 0);
    for index in 1..=requests {
        let body = format!(
            r#"{{"source":"backoff-core demo","type":"Registration","person":{{"firstName":"Lead","lastName":"{index}","emails":[{{"value":"lead{index}@example.com"}}]}}}}"#
        );
        let result = client.post(index, &body, &mut |a: &Attempt| {
            attempts += 1;
            print_attempt(a);
        });
        match result {
            Ok(()) => ok += 1,
            Err(_) => failed += 1,
        }
    }
    println!(
        "summary: {requests} requests, {attempts} attempts, {ok} succeeded, {failed} failed, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    drop(server);
    if url_given && failed > 0 {
        std::process::exit(1);
    }
}

/// A seed the operating system chose: std seeds `RandomState`'s keys from it.
fn os_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(0x5EED_u64)
}

fn print_attempt(a: &Attempt) {
    let status = a.status.map_or("-".to_owned(), |s| s.to_string());
    let decision = match &a.decision {
        Decision::Succeed => "succeed".to_owned(),
        Decision::Fail(stop) => format!("fail ({stop:?})"),
        Decision::Retry { delay_ms, after_retry_after: true } => {
            format!("retry in {delay_ms} ms (Retry-After)")
        }
        Decision::Retry { delay_ms, .. } => format!("retry in {delay_ms} ms"),
    };
    println!(
        "{:<4} {:<4} {:>7} {:<30} {:>8}  {}",
        a.request, a.attempt, status, decision, a.held_ms, a.message
    );
}
