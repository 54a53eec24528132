//! The fleet of `fleet.rs` with faults injected into its `redis-server`: stopped (`SIGSTOP`)
//! mid-run and before the first connection, killed and restarted empty, flushed, a foreign
//! value, a truncated value or a list put in the key, a password asked. Each test prints what
//! the fleet sent, the 429s it met, the requests that failed and the longest any request
//! waited on the store. Windows of seconds, so the suite stays short.

mod common;

use std::time::{Duration, Instant};

use common::{holding_server, limited_server, Fleet, Redis, Totals, WORKERS};

/// The longest a step may wait on the store with the default timeouts (250 ms to connect,
/// 250 ms for an answer), with room for a busy machine's scheduling.
const STORE_WAIT_BOUND_MS: f64 = 1_000.0;

fn sleep_ms(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// 8 workers × 25 POSTs, one every 100 ms, against a server allowing 40 a second.
fn steady_run(redis: &str, key: &str, during: impl FnOnce()) -> Totals {
    let server = limited_server(40, Duration::from_secs(1));
    let started = Instant::now();
    let totals = Fleet { redis, url: &server.url, key, each: 25, gap_ms: 100 }.run(during);
    let refused = server.received().iter().filter(|r| r.status == 429).count();
    assert_eq!(refused, totals.r429, "the server's count and the workers' agree");
    println!("{key}, {:?}: {totals}", started.elapsed());
    totals
}

#[test]
fn a_redis_stopped_mid_run_delays_no_request_past_the_timeouts_and_is_rejoined() {
    let redis = Redis::start(common::free_port());
    let totals = steady_run(&redis.url(), "fub:stopped", || {
        sleep_ms(1_000);
        redis.pause();
        sleep_ms(3_000);
        redis.resume();
    });
    assert_eq!(totals.ok, WORKERS * 25, "{totals:?}");
    assert!(totals.store_wait_max_ms < STORE_WAIT_BOUND_MS, "a request waited on a silent Redis: {totals}");
    assert!(totals.stderr.contains("carrying on with local state"), "{}", totals.stderr);
    assert!(totals.stderr.contains("rejoined"), "{}", totals.stderr);
}

#[test]
fn a_redis_stopped_before_the_first_connection_delays_no_request_and_is_joined() {
    let redis = Redis::start(common::free_port());
    redis.pause();
    let totals = steady_run(&redis.url(), "fub:stopped-first", || {
        sleep_ms(3_000);
        redis.resume();
    });
    assert_eq!(totals.ok, WORKERS * 25, "{totals:?}");
    assert!(totals.store_wait_max_ms < STORE_WAIT_BOUND_MS, "a request waited on a silent Redis: {totals}");
    assert!(totals.stderr.contains("carrying on with local state"), "{}", totals.stderr);
    assert!(totals.stderr.contains("rejoined"), "{}", totals.stderr);
}

#[test]
fn redis_killed_and_restarted_empty_mid_run_costs_no_request_and_leaves_nothing_in_flight() {
    let mut redis = Redis::start(common::free_port());
    let url = redis.url();
    let totals = steady_run(&url, "fub:restarted", || {
        sleep_ms(1_000);
        redis.kill();
        sleep_ms(1_000);
        redis.restart();
    });
    assert_eq!(totals.ok, WORKERS * 25, "no request lost to the outage: {totals:?}");
    assert!(totals.stderr.contains("carrying on with local state"), "{}", totals.stderr);
    assert!(totals.stderr.contains("rejoined"), "{}", totals.stderr);
    assert_nothing_in_flight(&redis, "fub:restarted");
}

#[test]
fn flushall_mid_run_leaves_no_send_counted_in_flight() {
    let redis = Redis::start(common::free_port());
    let totals = steady_run(&redis.url(), "fub:flushed", || {
        for _ in 0..8 {
            sleep_ms(250);
            let () = redis.cmd(&[b"FLUSHALL"]);
        }
    });
    assert_eq!(totals.ok, WORKERS * 25, "{totals:?}");
    assert_nothing_in_flight(&redis, "fub:flushed");
}

/// Every worker is done: the key counts no request in flight.
fn assert_nothing_in_flight(redis: &Redis, key: &str) {
    let bytes: Vec<u8> = redis.cmd(&[b"GET", key.as_bytes()]);
    let state = backoff_core::shared::Shared::<8>::decode(&bytes).expect("the fleet's state");
    let shown = format!("{state:?}");
    let counted: Vec<u32> = shown
        .split("in_flight: ")
        .skip(1)
        .map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit()).next().unwrap_or("").parse().unwrap_or(u32::MAX)
        })
        .filter(|&n| n != 0)
        .collect();
    assert!(counted.is_empty(), "requests counted in flight with none in flight: {counted:?} in {shown}");
}

/// Puts `value` in the key (as `SET`, or as a list), and deletes it again a second later: the
/// fleet says which key and what to do, opens no new connections, and rejoins.
fn foreign(what: &str, put: &[&[u8]]) {
    let redis = Redis::start(common::free_port());
    let key = format!("fub:foreign:{what}");
    let before = redis.connections_received();
    let totals = steady_run(&redis.url(), &key, || {
        sleep_ms(700);
        let _: redis::Value = redis.cmd(&[b"DEL", key.as_bytes()]);
        let mut args: Vec<&[u8]> = put.to_vec();
        args.insert(1, key.as_bytes());
        let _: redis::Value = redis.cmd(&args);
        sleep_ms(1_000);
        let _: redis::Value = redis.cmd(&[b"DEL", key.as_bytes()]);
    });
    // The test's own connections: INFO before, four commands, INFO after.
    let connections = redis.connections_received() - before - 4;
    println!("{what}: {connections} connections from the fleet");
    assert_eq!(totals.ok, WORKERS * 25, "{totals:?}");
    assert!(totals.stderr.contains(&format!("\"{key}\"")), "the message names the key: {}", totals.stderr);
    assert!(totals.stderr.contains("DEL"), "the message says what to do: {}", totals.stderr);
    assert!(totals.stderr.contains("rejoined"), "rejoined once the key was deleted: {}", totals.stderr);
    assert!(connections <= 2 * WORKERS, "a reconnect storm: {connections} connections");
}

#[test]
fn garbage_in_the_key_names_it_and_the_fleet_rejoins_once_it_is_deleted() {
    foreign("garbage", &[b"SET", b"not a state"]);
}

#[test]
fn a_truncated_value_names_the_key_and_the_fleet_rejoins_once_it_is_deleted() {
    let mut bytes = vec![0u8; backoff_core::shared::Shared::<8>::ENCODED_LEN];
    backoff_core::shared::Shared::<8>::new(backoff_core::Pacing::Burst).encode(&mut bytes).unwrap();
    bytes.truncate(100);
    foreign("truncated", &[b"SET", &bytes]);
}

#[test]
fn a_list_in_the_key_names_it_opens_no_connections_and_the_fleet_rejoins_once_it_is_deleted() {
    foreign("list", &[b"RPUSH", b"a", b"b"]);
}

/// The first 429 asks for 4 s, before Redis is up; Redis comes up a second later. Once every
/// worker has joined, none sends before the 4 s are over.
#[test]
fn a_hold_learnt_before_redis_was_reached_holds_the_fleet_once_it_joins() {
    let port = common::free_port();
    let server = holding_server(4);
    let mut redis = None;
    let mut up = Duration::ZERO;
    let url = format!("redis://127.0.0.1:{port}/");
    let started = Instant::now();
    let totals = Fleet { redis: &url, url: &server.url, key: "fub:early", each: 18, gap_ms: 300 }.run(|| {
        sleep_ms(1_000);
        redis = Some(Redis::start(port));
        up = started.elapsed();
    });
    let received = server.received();
    println!("Redis up at {up:?}: {totals}");
    assert_eq!(totals.ok, WORKERS * 18, "{totals:?}");
    let told = received.iter().find(|r| r.status == 429).map(|r| r.at).expect("the 429");
    // Every worker rejoins within a second of Redis answering (and the 429's own worker's
    // sends already on their way are allowed a quarter of a second).
    let joined = (up + Duration::from_secs(1)).max(told + Duration::from_millis(250));
    let held = joined..told + Duration::from_secs(4);
    let during: Vec<_> = received.iter().filter(|r| held.contains(&r.at)).collect();
    println!("sends from {joined:?} to the hold's end: {}", during.len());
    assert!(during.is_empty(), "sent during a hold learnt before Redis was reached: {during:?}");
    drop(redis);
}

#[test]
fn a_password_in_the_url_shares_and_without_it_the_worker_says_why_and_carries_on() {
    let redis = Redis::start_with(common::free_port(), &["--requirepass", "s3cret"]);
    let server = limited_server(40, Duration::from_secs(1));
    let with = format!("redis://:s3cret@127.0.0.1:{}/", redis.port);
    let shared = Fleet { redis: &with, url: &server.url, key: "fub:auth", each: 10, gap_ms: 50 }.run(|| {});
    println!("with the password: {shared}");
    assert_eq!(shared.ok, WORKERS * 10);
    assert!(!shared.stderr.contains("carrying on"), "{}", shared.stderr);
    let without =
        Fleet { redis: &redis.url(), url: &server.url, key: "fub:auth", each: 10, gap_ms: 50 }.run(|| {});
    println!("without: {without}");
    assert_eq!(without.ok, WORKERS * 10);
    assert!(
        without.stderr.contains("NOAUTH") || without.stderr.contains("uthentication"),
        "{}",
        without.stderr
    );
    assert!(without.store_wait_max_ms < STORE_WAIT_BOUND_MS, "{without}");
}
