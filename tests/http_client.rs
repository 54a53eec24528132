//! The example's client and server, end to end over real loopback sockets, with a scaled-down
//! policy so the whole test takes seconds.

#[path = "../examples/support/client.rs"]
mod client;
#[path = "../examples/support/server.rs"]
mod server;

use std::time::Duration;

use backoff_core::{Jitter, Pacing, Policy, Stop};
use client::{Attempt, Client, Decision};

/// The preset's shape, twenty times faster: 50 ms base, 50 ms jitter, 800 ms cap, and
/// `Retry-After` spread by up to 50 ms.
const FAST: Policy = Policy::FOLLOW_UP_BOSS
    .with_base_ms(50)
    .with_jitter(Jitter::Additive { max_ms: 50 })
    .with_max_backoff_ms(800)
    .with_retry_after_jitter_ms(50);

fn event(index: usize) -> String {
    format!(r#"{{"type":"Registration","person":{{"lastName":"{index}"}}}}"#)
}

fn run(behaviour: server::Behaviour, requests: usize) -> (Vec<Attempt>, Vec<server::Received>) {
    let server = server::Server::start(behaviour);
    let mut client = Client::new(&server.url, None, &FAST, Pacing::Burst, 7);
    let mut attempts = Vec::new();
    for index in 1..=requests {
        let _ = client.post(index, &event(index), &mut |a: &Attempt| attempts.push(a.clone()));
    }
    let received = server.received();
    (attempts, received)
}

#[test]
fn the_default_script_gets_the_expected_decisions_over_real_sockets() {
    let (attempts, received) = run(server::scenario("default").unwrap(), 5);
    let seen: Vec<(usize, u32, Option<u16>)> =
        attempts.iter().map(|a| (a.request, a.attempt, a.status)).collect();
    assert_eq!(
        seen,
        [
            (1, 1, Some(503)),
            (1, 2, Some(502)),
            (1, 3, Some(504)),
            (1, 4, Some(201)),
            (2, 1, Some(429)),
            (2, 2, Some(201)),
            (3, 1, Some(400)),
            (4, 1, Some(403)),
            (5, 1, Some(201))
        ]
    );
    let retry = |i: usize| match attempts[i].decision {
        Decision::Retry { delay_ms, after_retry_after } => (delay_ms, after_retry_after),
        ref other => panic!("attempt {i}: {other:?}"),
    };
    // The backoff delays lie within the scaled formula's bounds, and the 429 waits its
    // Retry-After plus at most the policy's 50 ms of spread.
    for (i, (lo, hi)) in [(0, (50, 100)), (1, (100, 150)), (2, (200, 250))] {
        let (delay, after_retry_after) = retry(i);
        assert!((lo..=hi).contains(&delay) && !after_retry_after, "attempt {i}: {delay} ms");
    }
    let (delay, after_retry_after) = retry(4);
    assert!((2000..=2050).contains(&delay) && after_retry_after, "{delay} ms after Retry-After: 2");
    for i in [3, 5, 8] {
        assert_eq!(attempts[i].decision, Decision::Succeed);
    }
    assert_eq!(attempts[6].decision, Decision::Fail(Stop::Permanent));
    assert!(
        attempts[6].message.ends_with("Invalid fields in the request body: emails."),
        "{}",
        attempts[6].message
    );
    assert_eq!(attempts[7].decision, Decision::Fail(Stop::Permanent));
    assert!(
        attempts[7].message.starts_with("forbidden (403): This account is locked."),
        "{}",
        attempts[7].message
    );
    assert!(
        attempts[1].message.contains("body not JSON: <html> <head><title>502 Bad Gateway"),
        "{}",
        attempts[1].message
    );

    // The server saw the same, and no attempt came earlier than it was told to.
    assert_eq!(received.len(), attempts.len());
    for (i, (delay, _)) in [(0, retry(0)), (1, retry(1)), (2, retry(2)), (4, retry(4))] {
        let gap = received[i + 1].at - received[i].at;
        assert!(
            gap >= Duration::from_millis(delay.into()),
            "attempt {} came {gap:?} after, told {delay} ms",
            i + 1
        );
        assert!(gap < Duration::from_millis(u64::from(delay) + 2_000), "attempt {} waited {gap:?}", i + 1);
    }

    // Each request that succeeded was sent exactly once from the moment the server accepted it.
    for index in [1, 2, 5] {
        let body = event(index);
        let tries: Vec<&server::Received> = received.iter().filter(|r| r.body == body).collect();
        let accepted = tries.iter().position(|r| (200..300).contains(&r.status)).expect("accepted");
        assert_eq!(accepted, tries.len() - 1, "request {index} was sent again after it was accepted");
        assert!(tries[..accepted].iter().all(|r| !(200..300).contains(&r.status)));
    }
}

#[test]
fn against_a_rate_limited_server_the_client_meets_no_429() {
    let limit = server::Behaviour::RateLimited { limit: 4, window: Duration::from_secs(1) };
    let (attempts, received) = run(limit, 10);
    assert_eq!(received.len(), 10, "one attempt per request");
    assert!(received.iter().all(|r| r.status == 201), "{received:?}");
    assert!(attempts.iter().all(|a| a.decision == Decision::Succeed));
    // It was held back, not rejected: the fifth request waited for the window.
    assert!(attempts[4].held_ms >= 500, "{:?}", attempts[4]);
}

/// The README's sample output is what `cargo run --example client -- --seed 2026` prints: the
/// same table, row for row, except the run's total time and the wall-clock "held ms" column.
#[test]
fn the_readme_sample_is_what_the_client_example_prints() {
    let readme = include_str!("../README.md");
    let start = readme.find("```text\nreq  try").expect("the README has the sample") + "```text\n".len();
    let sample = &readme[start..start + readme[start..].find("```").unwrap()];
    // The example binary cargo built beside this test (`cargo test` builds the examples).
    let exe = std::env::current_exe().unwrap();
    let example = exe.parent().unwrap().parent().unwrap().join("examples").join("client");
    let output =
        std::process::Command::new(&example).args(["--seed", "2026"]).output().expect("run the example");
    assert!(output.status.success(), "{output:?}");
    let printed = String::from_utf8(output.stdout).unwrap();
    let rows = |text: &str| -> Vec<String> {
        text.lines()
            .skip_while(|l| !l.starts_with("req "))
            .map(|l| match l.rfind(", ") {
                Some(at) if l.starts_with("summary:") => l[..at].to_owned(),
                // The "held ms" column (49..57) is wall-clock time on a shared machine.
                _ if !l.starts_with("req ") => {
                    let l = l.trim_end();
                    format!("{}|{}", l[..l.len().min(49)].trim_end(), l.get(57..).unwrap_or("").trim())
                }
                _ => l.trim_end().to_owned(),
            })
            .collect()
    };
    assert_eq!(rows(sample), rows(&printed));
}
