//! One request's life on the preset policy, against a scripted server, printed decision by
//! decision. No network and no sleeping: the clock is simulated, so it runs in milliseconds.
//!
//! ```text
//! cargo run --example lifecycle
//! ```

use backoff_core::{Action, Idempotency, Policy, Request, TransportFailure};
use rand_core::SeedableRng;
use rand_pcg::Pcg32;

/// What the scripted server does on each attempt.
enum Outcome {
    Response { status: u16, headers: &'static [(&'static str, &'static str)], body: &'static [u8] },
    Transport(TransportFailure),
}

const SCRIPT: &[Outcome] = &[
    Outcome::Response {
        status: 503,
        headers: &[],
        body: b"<html><body><h1>503 Service Unavailable</h1></body></html>",
    },
    Outcome::Transport(TransportFailure::BeforeSend),
    Outcome::Response { status: 502, headers: &[], body: b"" },
    Outcome::Response {
        status: 429,
        headers: &[("Retry-After", "8"), ("X-RateLimit-Context", "events")],
        body: br#"{"errorMessage":"Too many requests."}"#,
    },
    Outcome::Response {
        status: 500,
        headers: &[],
        body: br#"{"errorMessage":"Internal error, id \u0022a1b2\u0022"}"#,
    },
    Outcome::Response { status: 201, headers: &[], body: br#"{"id":12345}"# },
];

fn main() {
    let policy = Policy::FOLLOW_UP_BOSS;
    let mut rng = Pcg32::seed_from_u64(2026);
    let mut now: u64 = 0; // the caller's monotonic clock, in ms
    let mut request = Request::new(now, Idempotency::Idempotent);
    println!(
        "policy: base {} ms, cap {} ms, jitter {:?}, max {} retries",
        policy.base_ms, policy.max_backoff_ms, policy.jitter, policy.max_retries
    );
    for outcome in SCRIPT {
        now += 120; // the attempt itself takes a little while
        let attempt = request.attempt();
        let (what, action) = match outcome {
            Outcome::Response { status, headers, body } => {
                let mut reply = request.response::<128, _>(&policy, *status, *headers);
                // Feed the body in 16-byte chunks, as firmware reading a socket would.
                for chunk in body.chunks(16) {
                    let _ = reply.feed(chunk);
                }
                (format!("HTTP {status}"), reply.finish(&policy, now, &mut rng))
            }
            Outcome::Transport(failure) => {
                (format!("{failure:?}"), request.transport_failure(&policy, now, *failure, &mut rng))
            }
        };
        match action {
            Action::Succeed { attempts } => {
                println!("t={now:>6} ms  attempt {attempt}: {what:<10} -> succeed after {attempts} attempts");
                return;
            }
            Action::Fail(error) => {
                println!("t={now:>6} ms  attempt {attempt}: {what:<10} -> fail: {error}");
                std::process::exit(1);
            }
            Action::Retry(retry) => {
                println!(
                    "t={now:>6} ms  attempt {attempt}: {what:<10} -> retry in {:>5} ms (at {} ms, {:?}): {}",
                    retry.delay_ms, retry.at_ms, retry.wait, retry.cause
                );
                now = retry.at_ms; // a real client sleeps until then
                request = retry.request;
            }
        }
    }
}
