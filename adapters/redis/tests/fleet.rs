//! Eight worker processes behind one API key (each a reqwest client through the retry
//! middleware), against the local Follow-Up-Boss-like server enforcing 20 requests per 2 s
//! sliding window (the API's `events` limit is 20 per 10 s; the window is shortened so the
//! suite stays short), with a real `redis-server` on loopback: 160 POSTs with shared state meet
//! no 429 once the headers are seen; in-process state alone (the control) meets them; a 429
//! met by one worker holds every worker until its `Retry-After`.
//!
//! The faults (Redis stopped, killed, flushed, holding a foreign value, asking a password) are
//! in `faults.rs`; the hold with both cores busy in `hold_under_load.rs`.

mod common;

use std::time::{Duration, Instant};

use common::{limited_server, sends_during_a_hold, Fleet, Redis, WORKERS};

const TWO_SECONDS: Duration = Duration::from_secs(2);
const EACH: usize = 20;

#[test]
fn eight_processes_sharing_state_through_redis_send_160_posts_and_meet_no_429() {
    let redis = Redis::start(common::free_port());
    let server = limited_server(20, TWO_SECONDS);
    let started = Instant::now();
    let fleet = Fleet { redis: &redis.url(), url: &server.url, key: "fub:shared", each: EACH, gap_ms: 0 };
    let shared = fleet.run(|| {});
    println!("shared through Redis, {:?}: {shared}", started.elapsed());
    let received = server.received();
    assert_eq!(shared.ok, WORKERS * EACH, "{shared:?}");
    assert_eq!(shared.r429_after_headers, 0, "{shared:?}");
    let refused = received.iter().filter(|r| r.status == 429).count();
    assert_eq!(refused, shared.r429, "the server's count and the workers' agree");
    assert!(
        !shared.stderr.contains("carrying on with local state"),
        "Redis was up all along: {}",
        shared.stderr
    );
}

#[test]
fn the_control_with_in_process_state_only_meets_429s() {
    let server = limited_server(20, TWO_SECONDS);
    let started = Instant::now();
    let control = Fleet { redis: "none", url: &server.url, key: "", each: EACH, gap_ms: 0 }.run(|| {});
    println!("in-process state only (control), {:?}: {control}", started.elapsed());
    assert!(control.r429_after_headers > 0, "the control should meet 429s: {control:?}");
}

#[test]
fn a_429_met_by_one_worker_holds_every_worker_until_its_retry_after() {
    let redis = Redis::start(common::free_port());
    let (shared, received) = sends_during_a_hold(&redis.url(), "fub:hold");
    drop(redis);
    assert_eq!(shared, 0, "sent during another worker's hold: {received:?}");
    let (control, _) = sends_during_a_hold("none", "");
    println!("sends during the 3 s hold: shared {shared}, control {control}");
    assert!(control > 0, "without shared state the other workers do not know of the hold");
}
