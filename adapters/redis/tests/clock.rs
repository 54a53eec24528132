//! Never early, pinned: a step that waits for its turn or its answer hands back a hold's end
//! on the caller's clock no earlier than the hold ends. The conversion from Redis's clock
//! measures Redis against the caller's time *after* the answer (and `TIME` rounded toward
//! late), not the time the step was asked at.

mod common;

use std::time::{Duration, Instant};

use backoff_core::shared::{Outcome, Shared, SharedState, Step};
use backoff_core::{Pacing, Permit, RateLimitHeaders};
use backoff_core_redis::FleetState;
use common::Redis;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_handed_back_after_a_slow_answer_ends_no_earlier_than_told() {
    let redis = Redis::start(common::free_port());
    let fleet = FleetState::new(&redis.url(), "clock", Shared::new(Pacing::Burst)).unwrap();
    let epoch = Instant::now();
    let now = || epoch.elapsed().as_millis() as u64;
    // A 429 asking for 3 s arrived before `told`: nothing may go before `told + 3000`.
    let told = now();
    let seen = RateLimitHeaders::read(&[("Retry-After", "3"), ("X-RateLimit-Context", "events")][..]);
    assert_eq!(fleet.step(told, Step::Observe { status: 429, seen }, 1).await, Some(Outcome::Done));
    // Redis answers nothing for 150 ms (under the timeouts) while two sends are asked for:
    // the first waits for its answer, the second for its turn behind it.
    redis.pause();
    let resume = std::thread::spawn({
        let pid_resume = redis.resumer();
        move || {
            std::thread::sleep(Duration::from_millis(150));
            pid_resume();
        }
    });
    let context = Some(&b"events"[..]);
    let (first, second) = tokio::join!(
        fleet.step(now(), Step::Acquire { context }, 2),
        fleet.step(now(), Step::Acquire { context }, 3)
    );
    resume.join().unwrap();
    for (which, outcome) in [("first", first), ("second", second)] {
        let Some(Outcome::Permit(Permit::Wait { until_ms })) = outcome else {
            panic!("the {which} send was not held: {outcome:?}")
        };
        println!("{which}: held until {until_ms} ms, the hold ends at {} ms at the earliest", told + 3_000);
        assert!(
            until_ms >= told + 3_000,
            "the {which} send's hold ends {} ms early",
            told + 3_000 - until_ms
        );
    }
}
