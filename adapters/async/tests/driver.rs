//! The async driver against a scripted in-process transport and a virtual clock: every kind of
//! action, chunked and cut bodies, failures before and after sending, a rate-limit hold shared
//! by two concurrent requests, and an exhausted budget. Nothing sleeps for real.

#[path = "../../../tests/common/mod.rs"]
mod common;

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use backoff_core::shared::Shared;
use backoff_core::{
    BodyKind, ErrorKind, Idempotency, Pacing, Policy, RateLimits, RetryBudget, Stop, TransportFailure,
};
use backoff_core_async::{self as driver, Options, Success, Timer, Transport};
use common::SplitMix;

/// A virtual clock: a sleep is pending until the executor moves the clock to the earliest
/// instant any task sleeps until, so concurrent requests wake in the order of their instants.
#[derive(Default)]
struct Clock {
    now: Cell<u64>,
    /// Instants that pending sleeps wait for.
    wakes: RefCell<Vec<u64>>,
    /// How many times the clock moved: one per instant some task slept until.
    advances: Cell<u32>,
}

impl Clock {
    /// Moves the clock to the earliest pending sleep's instant; `false` if none is pending.
    fn advance(&self) -> bool {
        let mut wakes = self.wakes.borrow_mut();
        let Some(&next) = wakes.iter().min() else { return false };
        wakes.clear();
        self.now.set(self.now.get().max(next));
        self.advances.set(self.advances.get() + 1);
        true
    }
}

struct Sleep<'c> {
    clock: &'c Clock,
    at: u64,
}

impl Future for Sleep<'_> {
    type Output = ();
    fn poll(self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.clock.now.get() >= self.at {
            Poll::Ready(())
        } else {
            self.clock.wakes.borrow_mut().push(self.at);
            Poll::Pending
        }
    }
}

/// Pending for one poll: a network round trip, during which other tasks run.
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

impl Timer for Clock {
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
    fn sleep_until(&self, at_ms: u64) -> impl Future<Output = ()> {
        Sleep { clock: self, at: at_ms }
    }
}

/// One scripted attempt.
#[derive(Clone, Debug)]
enum Step {
    /// A response: status, headers, body chunks, and whether reading fails after them.
    Respond { status: u16, headers: Vec<(String, String)>, chunks: Vec<Vec<u8>>, cut: bool },
    /// No response.
    Fail(TransportFailure),
}

fn respond(status: u16, body: &[u8]) -> Step {
    Step::Respond { status, headers: Vec::new(), chunks: vec![body.to_vec()], cut: false }
}

struct Scripted<'c> {
    steps: VecDeque<Step>,
    clock: &'c Clock,
    sent_at: Vec<u64>,
    reads: usize,
    /// Body bytes handed to the driver.
    bytes_read: usize,
}

impl<'c> Scripted<'c> {
    fn new(clock: &'c Clock, steps: Vec<Step>) -> Self {
        Self { steps: steps.into(), clock, sent_at: Vec::new(), reads: 0, bytes_read: 0 }
    }
}

#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    chunks: VecDeque<Vec<u8>>,
    cut: bool,
}

impl backoff_core::Headers for Response {
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
        self.headers.as_slice().for_each(visit);
    }
}

impl Transport for Scripted<'_> {
    type Response = Response;
    type Error = &'static str;

    async fn send(&mut self) -> Result<Response, (TransportFailure, &'static str)> {
        self.sent_at.push(self.clock.now_ms());
        YieldOnce(false).await;
        match self.steps.pop_front().expect("the script has a step for every attempt") {
            Step::Respond { status, headers, chunks, cut } => {
                Ok(Response { status, headers, chunks: chunks.into(), cut })
            }
            Step::Fail(failure) => Err((failure, "connection reset")),
        }
    }

    fn status(response: &Response) -> u16 {
        response.status
    }

    async fn read(&mut self, response: &mut Response, buf: &mut [u8]) -> Result<usize, &'static str> {
        self.reads += 1;
        let Some(mut chunk) = response.chunks.pop_front() else {
            return if response.cut { Err("body cut") } else { Ok(0) };
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        if n < chunk.len() {
            response.chunks.push_front(chunk.split_off(n));
        }
        self.bytes_read += n;
        Ok(n)
    }
}

/// Polls the futures in turn until all are done; when a whole round makes no progress, moves
/// the virtual clock to the next instant a task sleeps until.
fn run_all<F: Future>(clock: &Clock, futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut cx = Context::from_waker(Waker::noop());
    let mut idle_rounds = 0;
    for _ in 0..100_000 {
        let mut progressed = false;
        for (future, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                    *out = Some(value);
                    progressed = true;
                }
            }
        }
        if outputs.iter().all(Option::is_some) {
            return outputs.into_iter().map(Option::unwrap).collect();
        }
        // A yield finishes on its second poll: advance time only after two idle rounds.
        idle_rounds = if progressed { 0 } else { idle_rounds + 1 };
        if idle_rounds >= 2 && clock.advance() {
            idle_rounds = 0;
        }
    }
    panic!("the futures did not finish");
}

fn block_on<F: Future>(clock: &Clock, future: F) -> F::Output {
    run_all(clock, vec![future]).pop().expect("one output")
}

const PRESET: Policy = Policy::FOLLOW_UP_BOSS;
type Alone = RefCell<Shared<4>>;

fn alone(idempotency: Idempotency) -> Options<'static, Alone> {
    Options {
        policy: &PRESET,
        idempotency,
        context: None,
        shared: None,
        dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
        on_event: None,
    }
}

#[test]
fn a_503_is_retried_after_a_backoff_and_the_201_is_handed_over_unread() {
    let clock = Clock::default();
    let mut transport =
        Scripted::new(&clock, vec![respond(503, b"<html>busy</html>"), respond(201, b"{\"id\":1}")]);
    let result = block_on(
        &clock,
        driver::retry::<64, _, _, _, _>(
            alone(Idempotency::Idempotent),
            &mut transport,
            &clock,
            &mut SplitMix(1),
        ),
    );
    let Ok(Success { response, attempts }) = result else { panic!("{result:?}") };
    assert_eq!((response.status, attempts), (201, 2));
    // The success's body is the application's: not one chunk was read.
    assert_eq!(response.chunks.len(), 1);
    let waited = transport.sent_at[1] - transport.sent_at[0];
    assert!((1000..=2000).contains(&waited), "{waited}");
    // The same decision as the state machine with the same RNG stream.
    let mut rng = SplitMix(1);
    let by_hand = backoff_core::Request::new(0, Idempotency::Idempotent).complete::<64, _, _>(
        &PRESET,
        0,
        503,
        &(),
        b"<html>busy</html>",
        &mut rng,
    );
    let backoff_core::Action::Retry(retry) = by_hand else { panic!() };
    assert_eq!(u64::from(retry.delay_ms), waited);
}

#[test]
fn a_400_read_in_chunks_fails_with_its_message() {
    let clock = Clock::default();
    let body = br#"{"errorMessage":"Invalid fields in the request body: emails.","code":400}"#;
    let chunks: Vec<Vec<u8>> = body.chunks(7).map(<[u8]>::to_vec).collect();
    let step = Step::Respond { status: 400, headers: Vec::new(), chunks, cut: false };
    let mut transport = Scripted::new(&clock, vec![step]);
    let result = block_on(
        &clock,
        driver::retry::<64, _, _, _, _>(
            alone(Idempotency::NotIdempotent),
            &mut transport,
            &clock,
            &mut SplitMix(2),
        ),
    );
    let Err(failure) = result else { panic!("a 400 fails") };
    assert_eq!(failure.error.message(), Some("Invalid fields in the request body: emails."));
    assert_eq!((failure.error.stop, failure.error.attempts), (Stop::Permanent, 1));
    assert_eq!(failure.transport, None);
    assert_eq!(failure.response.map(|r| r.status), Some(400), "the last response is handed back");
    assert!(transport.reads >= body.len().div_ceil(64), "the body was read in pieces");
}

#[test]
fn a_body_cut_mid_way_is_a_transport_failure_with_the_transports_error() {
    let clock = Clock::default();
    let cut =
        Step::Respond { status: 500, headers: Vec::new(), chunks: vec![b"{\"errorMe".to_vec()], cut: true };
    let mut transport = Scripted::new(&clock, vec![cut.clone(), respond(201, b"")]);
    let result = block_on(
        &clock,
        driver::retry::<64, _, _, _, _>(
            alone(Idempotency::Idempotent),
            &mut transport,
            &clock,
            &mut SplitMix(3),
        ),
    );
    assert!(matches!(result, Ok(Success { attempts: 2, .. })), "{result:?}");
    // Not idempotent: a cut body may follow processing, so it stops, keeping both errors.
    let mut transport = Scripted::new(&clock, vec![cut]);
    let result = block_on(
        &clock,
        driver::retry::<64, _, _, _, _>(
            alone(Idempotency::NotIdempotent),
            &mut transport,
            &clock,
            &mut SplitMix(3),
        ),
    );
    let Err(failure) = result else { panic!() };
    assert_eq!(failure.error.kind(), ErrorKind::Transport);
    assert_eq!(failure.error.status(), Some(500));
    assert_eq!(failure.error.cause.body.kind(), BodyKind::Truncated);
    assert_eq!(failure.error.stop, Stop::MayHaveBeenProcessed);
    assert_eq!(failure.transport, Some("body cut"));
}

#[test]
fn failures_before_sending_are_retried_and_after_sending_a_post_stops_with_the_transports_error() {
    let clock = Clock::default();
    let mut transport = Scripted::new(
        &clock,
        vec![Step::Fail(TransportFailure::BeforeSend), Step::Fail(TransportFailure::AfterSend)],
    );
    let result = block_on(
        &clock,
        driver::retry::<64, _, _, _, _>(
            alone(Idempotency::NotIdempotent),
            &mut transport,
            &clock,
            &mut SplitMix(4),
        ),
    );
    let Err(failure) = result else { panic!() };
    assert_eq!((failure.error.stop, failure.error.attempts), (Stop::MayHaveBeenProcessed, 2));
    assert_eq!(failure.error.kind(), ErrorKind::Transport);
    assert_eq!(failure.transport, Some("connection reset"));
}

#[test]
fn a_429_holds_a_concurrent_request_of_the_same_context_until_its_retry_after() {
    let clock = Clock::default();
    let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
    let limited = Step::Respond {
        status: 429,
        headers: vec![("Retry-After".into(), "5".into()), ("X-RateLimit-Context".into(), "events".into())],
        chunks: vec![br#"{"errorMessage":"slow down"}"#.to_vec()],
        cut: false,
    };
    let mut first = Scripted::new(&clock, vec![limited, respond(201, b"")]);
    let mut second = Scripted::new(&clock, vec![respond(201, b"")]);
    let options = Options {
        policy: &PRESET,
        idempotency: Idempotency::NotIdempotent,
        context: Some(&b"events"[..]),
        shared: Some(&shared),
        dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
        on_event: None,
    };
    let (mut rng1, mut rng2) = (SplitMix(5), SplitMix(6));
    let results = {
        let a = Box::pin(driver::retry::<64, _, _, _, _>(options, &mut first, &clock, &mut rng1));
        let b = Box::pin(async {
            // The second request starts a moment after the first one's 429 arrived.
            clock.sleep_until(10).await;
            driver::retry::<64, _, _, _, _>(options, &mut second, &clock, &mut rng2).await
        });
        let futures: Vec<std::pin::Pin<Box<dyn Future<Output = _>>>> = vec![a, b];
        run_all(&clock, futures)
    };
    assert!(results.iter().all(|r| matches!(r, Ok(Success { .. }))), "{results:?}");
    assert_eq!(first.sent_at.len(), 2);
    assert!(first.sent_at[1] >= 5_000, "the retry went early: {:?}", first.sent_at);
    assert_eq!(second.sent_at, [5_000], "the concurrent request was not held exactly until the hold");
    // Slept once until the hold's instant, not woken every millisecond to ask again.
    assert!(clock.advances.get() <= 4, "{} wake-ups", clock.advances.get());
}

/// Discord's 429 whose wait is in its body alone ("retry_after": 2.5, "global": true, the
/// headers that tell a wait taken off), read in pieces: the request retries no earlier, and a
/// concurrent request of another bucket, started just after, is held exactly until then if the
/// limit is global (and goes at once if not): the shared state learnt the body's wait once it
/// was read, as of the response.
#[test]
fn a_wait_told_in_the_body_holds_the_retry_and_a_concurrent_request() {
    // With a `Retry-After` in the headers too, its wait counts, and the body's `global` still
    // holds every request: what the body says about the scope is learnt whatever the headers
    // say about the wait.
    for (global, header) in [(true, false), (false, false), (true, true), (false, true)] {
        let clock = Clock::default();
        let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
        let body = format!(
            r#"{{"message": "You are being rate limited.", "retry_after": 2.5, "global": {global}}}"#
        );
        let limited = Step::Respond {
            status: 429,
            headers: if header {
                vec![("X-RateLimit-Bucket".into(), "abcd1234".into()), ("Retry-After".into(), "3".into())]
            } else {
                vec![("X-RateLimit-Bucket".into(), "abcd1234".into())]
            },
            chunks: body.as_bytes().chunks(7).map(<[u8]>::to_vec).collect(),
            cut: false,
        };
        let mut first = Scripted::new(&clock, vec![limited, respond(201, b"")]);
        let mut second = Scripted::new(&clock, vec![respond(201, b"")]);
        let options = |context: &'static [u8]| Options {
            policy: &PRESET,
            idempotency: Idempotency::NotIdempotent,
            context: Some(context),
            shared: Some(&shared),
            dialect: &backoff_core::Dialect::DISCORD,
            on_event: None,
        };
        let (mut rng1, mut rng2) = (SplitMix(5), SplitMix(6));
        let results = {
            let a = Box::pin(driver::retry::<64, _, _, _, _>(
                options(b"abcd1234"),
                &mut first,
                &clock,
                &mut rng1,
            ));
            let b = Box::pin(async {
                clock.sleep_until(10).await;
                driver::retry::<64, _, _, _, _>(options(b"other"), &mut second, &clock, &mut rng2).await
            });
            let futures: Vec<std::pin::Pin<Box<dyn Future<Output = _>>>> = vec![a, b];
            run_all(&clock, futures)
        };
        assert!(results.iter().all(|r| matches!(r, Ok(Success { .. }))), "{results:?}");
        assert_eq!(first.sent_at.len(), 2);
        let told = if header { 3_000 } else { 2_500 };
        let retry = first.sent_at[1];
        assert!((told..=told + 1_000).contains(&retry), "{global} {header}: the retry went at {retry}");
        let expected: &[u64] = if global { &[told] } else { &[10] };
        assert_eq!(second.sent_at, expected, "global: {global}, header: {header}");
    }
}

#[test]
fn an_empty_budget_stops_retries_with_budget_exhausted() {
    let clock = Clock::default();
    let shared = RefCell::new(Shared::<4>::new(Pacing::Burst).with_budget(RetryBudget::new(10, 5, 10, 1)));
    let mut transport = Scripted::new(&clock, vec![respond(503, b""), respond(503, b""), respond(503, b"")]);
    let options = Options {
        policy: &PRESET,
        idempotency: Idempotency::Idempotent,
        context: None,
        shared: Some(&shared),
        dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
        on_event: None,
    };
    let result =
        block_on(&clock, driver::retry::<64, _, _, _, _>(options, &mut transport, &clock, &mut SplitMix(7)));
    let Err(failure) = result else { panic!() };
    assert_eq!((failure.error.stop, failure.error.attempts), (Stop::BudgetExhausted, 3));
    assert_eq!(shared.borrow().budget.map(|b| b.tokens()), Some(0));
}

#[test]
fn a_state_borrowed_by_the_caller_holds_the_send_back_instead_of_panicking() {
    let clock = Clock::default();
    let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
    let mut transport = Scripted::new(&clock, vec![respond(201, b"")]);
    let options = Options {
        policy: &PRESET,
        idempotency: Idempotency::Idempotent,
        context: None,
        shared: Some(&shared),
        dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
        on_event: None,
    };
    let mut rng = SplitMix(8);
    {
        let mut future = pin!(driver::retry::<64, _, _, _, _>(options, &mut transport, &clock, &mut rng));
        let mut cx = Context::from_waker(Waker::noop());
        {
            let _held = shared.borrow_mut();
            for _ in 0..5 {
                assert!(future.as_mut().poll(&mut cx).is_pending());
                assert!(clock.advance(), "it waits on the timer while the state is held");
            }
        }
        let mut done = None;
        for _ in 0..10 {
            if let Poll::Ready(r) = future.as_mut().poll(&mut cx) {
                done = Some(r);
                break;
            }
            clock.advance();
        }
        assert!(matches!(done, Some(Ok(Success { attempts: 1, .. }))));
    }
    assert_eq!(transport.sent_at, [5], "sent once the state was free, not before");
}

#[test]
fn an_open_breaker_holds_the_next_request_until_its_probe_instant() {
    use backoff_core::{Breaker, BreakerPolicy, BreakerState};
    let clock = Clock::default();
    let quiet = BreakerPolicy { consecutive_failures: 2, release_spread_ms: 0, ..BreakerPolicy::API_CLIENT };
    let shared = RefCell::new(Shared::<4>::new(Pacing::Burst).with_breaker(Breaker::new(quiet)));
    let policy = PRESET.with_max_retries(1);
    let options = Options {
        policy: &policy,
        idempotency: Idempotency::Idempotent,
        context: None,
        shared: Some(&shared),
        dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
        on_event: None,
    };
    // Two 503s in a row trip the breaker (the request gives up after its one retry).
    let mut transport = Scripted::new(&clock, vec![respond(503, b""), respond(503, b"")]);
    let result =
        block_on(&clock, driver::retry::<64, _, _, _, _>(options, &mut transport, &clock, &mut SplitMix(9)));
    assert!(matches!(result, Err(ref f) if f.error.stop == Stop::RetriesExhausted), "{result:?}");
    let tripped_at = transport.sent_at[1];
    let breaker_state = shared.borrow().breaker.as_ref().map(Breaker::state);
    let Some(BreakerState::Open { until_ms }) = breaker_state else { panic!("{breaker_state:?}") };
    assert!(
        (tripped_at + 2_000..=tripped_at + 3_000).contains(&until_ms),
        "a 2 s break, jittered by up to 1 s"
    );
    // The next request is held until the break is over, then goes as the probe, and closes it.
    let mut transport = Scripted::new(&clock, vec![respond(201, b"")]);
    let result =
        block_on(&clock, driver::retry::<64, _, _, _, _>(options, &mut transport, &clock, &mut SplitMix(10)));
    assert!(result.is_ok());
    assert_eq!(transport.sent_at, [until_ms]);
    assert_eq!(shared.borrow().breaker.as_ref().map(Breaker::state), Some(BreakerState::Closed));
}

#[test]
fn each_step_of_the_shared_state_does_what_it_says() {
    use backoff_core::shared::{Outcome, Step};
    use backoff_core::{Breaker, BreakerPolicy, BreakerState, Permit, RateLimitHeaders};
    let mut shared = Shared::<4>::new(Pacing::Burst);
    // No budget: every retry is paid for; a refund changes nothing.
    assert_eq!(shared.apply(0, Step::Pay { kind: ErrorKind::ServerError }, 1), Outcome::Paid(true));
    assert_eq!(shared.apply(0, Step::Refund, 1), Outcome::Done);
    assert_eq!(shared.budget, None);
    // A budget: a retry after a 5xx costs the retry cost, after a transport failure the
    // timeout cost; a success refunds; a bucket that cannot pay refuses and keeps its tokens.
    let mut shared = shared.with_budget(RetryBudget::new(16, 5, 10, 1));
    assert_eq!(shared.apply(0, Step::Pay { kind: ErrorKind::ServerError }, 1), Outcome::Paid(true));
    assert_eq!(shared.budget.map(|b| b.tokens()), Some(11));
    assert_eq!(shared.apply(0, Step::Pay { kind: ErrorKind::Transport }, 1), Outcome::Paid(true));
    assert_eq!(shared.budget.map(|b| b.tokens()), Some(1));
    assert_eq!(shared.apply(0, Step::Pay { kind: ErrorKind::RateLimited }, 1), Outcome::Paid(false));
    assert_eq!(shared.budget.map(|b| b.tokens()), Some(1));
    assert_eq!(shared.apply(0, Step::Refund, 1), Outcome::Done);
    assert_eq!(shared.budget.map(|b| b.tokens()), Some(2));
    // Acquire counts a send in flight; Failed releases it; Observe teaches a hold.
    assert_eq!(shared.apply(0, Step::Acquire { context: Some(b"events") }, 1), Outcome::Permit(Permit::Go));
    assert_eq!(shared.apply(0, Step::Failed { context: Some(b"events") }, 1), Outcome::Done);
    let seen = RateLimitHeaders::read(&[("Retry-After", "4"), ("X-RateLimit-Context", "events")][..]);
    assert_eq!(shared.apply(10, Step::Observe { status: 429, seen }, 1), Outcome::Done);
    assert_eq!(
        shared.apply(20, Step::Acquire { context: Some(b"events") }, 1),
        Outcome::Permit(Permit::Wait { until_ms: 4_010 })
    );
    // A body that broke off is a failure for the breaker: two of them trip a breaker of two.
    let two = BreakerPolicy { consecutive_failures: 2, ..BreakerPolicy::API_CLIENT };
    let mut shared = Shared::<4>::new(Pacing::Burst).with_breaker(Breaker::new(two));
    shared.apply(0, Step::BodyFailed, 7);
    assert_eq!(shared.breaker.as_ref().map(Breaker::state), Some(BreakerState::Closed));
    shared.apply(1, Step::BodyFailed, 7);
    assert!(matches!(shared.breaker.as_ref().map(Breaker::state), Some(BreakerState::Open { .. })));
    // The break's jitter comes from the step's entropy: the same word, the same break.
    let open = |entropy| {
        let mut s = Shared::<4>::new(Pacing::Burst).with_breaker(Breaker::new(two));
        s.apply(0, Step::Failed { context: None }, entropy);
        s.apply(0, Step::Failed { context: None }, entropy);
        s.breaker.as_ref().map(Breaker::state)
    };
    assert_eq!(open(3), open(3));
    let breaks: Vec<_> = (1..20).map(open).collect();
    assert!(breaks.iter().any(|b| *b != breaks[0]), "jittered: {breaks:?}");
}

#[test]
fn an_in_process_steps_future_answers_once_and_then_none() {
    use backoff_core::shared::{Outcome, SharedState, Step};
    let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
    let mut future = pin!(shared.step(0, Step::Refund, 0));
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(Some(Outcome::Done)));
    assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(None), "polled again: nothing, no panic");
    // The core's `std` feature is on in this crate's tests: the `Mutex` is a `SharedState`.
    {
        let mutex = std::sync::Mutex::new(Shared::<4>::new(Pacing::Burst));
        let mut future = pin!(mutex.step(0, Step::Pay { kind: ErrorKind::ServerError }, 0));
        assert_eq!(future.as_mut().poll(&mut cx), Poll::Ready(Some(Outcome::Paid(true))));
    }
}

/// A store that answers each step only on its second poll, and logs the steps: what a remote
/// store (Redis) looks like to the driver.
struct Remote {
    state: RefCell<Shared<4>>,
    log: RefCell<Vec<String>>,
}

struct Later<'a> {
    remote: &'a Remote,
    now_ms: u64,
    step: Option<backoff_core::shared::Step<'a>>,
    entropy: u64,
    polled: bool,
}

impl Future for Later<'_> {
    type Output = Option<backoff_core::shared::Outcome>;
    fn poll(mut self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if !self.polled {
            self.polled = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let (now, entropy) = (self.now_ms, self.entropy);
        let Some(step) = self.step.take() else { return Poll::Ready(None) };
        self.remote
            .log
            .borrow_mut()
            .push(format!("{step:?}").split([' ', '{']).next().unwrap_or("").to_owned());
        Poll::Ready(Some(self.remote.state.borrow_mut().apply(now, step, entropy)))
    }
}

impl backoff_core::shared::SharedState for Remote {
    type Pending<'a> = Later<'a>;
    fn step<'a>(&'a self, now_ms: u64, step: backoff_core::shared::Step<'a>, entropy: u64) -> Later<'a> {
        Later { remote: self, now_ms, step: Some(step), entropy, polled: false }
    }
}

#[test]
fn a_store_that_answers_later_gets_the_same_steps_and_gives_the_same_answers() {
    let run = |remote: Option<&Remote>, local: Option<&RefCell<Shared<4>>>| {
        let clock = Clock::default();
        let script = || {
            vec![
                respond(503, b""),
                Step::Fail(TransportFailure::BeforeSend),
                respond(429, b""),
                respond(201, b""),
            ]
        };
        let mut transport = Scripted::new(&clock, script());
        let policy = PRESET.with_retry_after_floor_ms(0);
        let result = match (remote, local) {
            (Some(remote), _) => {
                let options = Options {
                    policy: &policy,
                    idempotency: Idempotency::Idempotent,
                    context: None,
                    shared: Some(remote),
                    dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
                    on_event: None,
                };
                block_on(
                    &clock,
                    driver::retry::<64, _, _, _, _>(options, &mut transport, &clock, &mut SplitMix(5)),
                )
            }
            (None, local) => {
                let options = Options {
                    policy: &policy,
                    idempotency: Idempotency::Idempotent,
                    context: None,
                    shared: local,
                    dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
                    on_event: None,
                };
                block_on(
                    &clock,
                    driver::retry::<64, _, _, _, _>(options, &mut transport, &clock, &mut SplitMix(5)),
                )
            }
        };
        (result.map(|s| s.attempts).map_err(|f| f.error.stop), transport.sent_at.clone())
    };
    let budget = RetryBudget::new(100, 5, 10, 1);
    let remote = Remote {
        state: RefCell::new(Shared::new(Pacing::Burst).with_budget(budget)),
        log: RefCell::new(Vec::new()),
    };
    let local = RefCell::new(Shared::<4>::new(Pacing::Burst).with_budget(budget));
    let far = run(Some(&remote), None);
    assert_eq!(far, run(None, Some(&local)), "a remote store and a RefCell decide alike");
    assert_eq!(far.0, Ok(4));
    assert_eq!(remote.state.borrow().budget.map(|b| b.tokens()), Some(100 - 5 - 10 - 5 + 1));
    assert_eq!(local.borrow().budget.map(|b| b.tokens()), Some(81));
    assert_eq!(
        *remote.log.borrow(),
        [
            "Acquire", "Observe", "Pay", // the 503, retried
            "Acquire", "Failed", "Pay", // the failed connect, retried
            "Acquire", "Observe", "Pay", // the 429, retried
            "Acquire", "Observe", "Refund", // the 201
        ]
    );
}

#[test]
fn observing_a_response_teaches_the_rate_limits_and_the_breaker() {
    use backoff_core::{Breaker, BreakerPolicy, BreakerState, Permit};
    let one = BreakerPolicy { consecutive_failures: 1, ..BreakerPolicy::API_CLIENT };
    let mut shared = Shared::<4>::new(Pacing::Burst).with_breaker(Breaker::new(one));
    shared.observe(100, 503, &[("Retry-After", "7"), ("X-RateLimit-Context", "events")], &mut SplitMix(1));
    assert_eq!(shared.limits.hold_until(100, Some(b"events")), 7_100);
    assert!(matches!(shared.breaker.as_ref().map(Breaker::state), Some(BreakerState::Open { .. })));
    assert!(matches!(shared.acquire(200, Some(b"other"), &mut SplitMix(1)), Permit::Wait { .. }));
}

#[test]
fn the_breakers_jitter_in_the_driver_comes_from_the_callers_rng() {
    use backoff_core::{Breaker, BreakerPolicy, BreakerState};
    let two = BreakerPolicy { consecutive_failures: 2, release_spread_ms: 0, ..BreakerPolicy::API_CLIENT };
    let open_until = |seed: u64| {
        let clock = Clock::default();
        let shared = RefCell::new(Shared::<4>::new(Pacing::Burst).with_breaker(Breaker::new(two)));
        let policy = PRESET.with_max_retries(1);
        let options = Options {
            policy: &policy,
            idempotency: Idempotency::Idempotent,
            context: None,
            shared: Some(&shared),
            dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
            on_event: None,
        };
        let mut transport = Scripted::new(&clock, vec![respond(503, b""), respond(503, b"")]);
        let _ = block_on(
            &clock,
            driver::retry::<64, _, _, _, _>(options, &mut transport, &clock, &mut SplitMix(seed)),
        );
        let state = shared.borrow().breaker.as_ref().map(Breaker::state);
        match state {
            Some(BreakerState::Open { until_ms }) => until_ms - transport.sent_at[1],
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(open_until(3), open_until(3), "the same stream, the same break");
    let breaks: Vec<u64> = (0..8).map(open_until).collect();
    assert!(breaks.iter().any(|b| *b != breaks[0]), "every seed gave the same break: {breaks:?}");
}

/// Runs two requests of `context` on one shared state: the first meets `first_steps`, the
/// second starts at `second_at` and meets `second_steps`. Returns both results and the
/// instants each sent at.
#[allow(clippy::type_complexity)]
fn two_requests(
    policy: &Policy,
    shared: &RefCell<Shared<4>>,
    context: Option<&'static [u8]>,
    first_steps: Vec<Step>,
    second_at: u64,
    second_steps: Vec<Step>,
) -> (Vec<Result<Success<Response>, driver::Failure<64, Response, &'static str>>>, Vec<u64>, Vec<u64>) {
    let clock = Clock::default();
    let mut first = Scripted::new(&clock, first_steps);
    let mut second = Scripted::new(&clock, second_steps);
    let options = Options {
        policy,
        idempotency: Idempotency::Idempotent,
        context,
        shared: Some(shared),
        dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
        on_event: None,
    };
    let (mut rng1, mut rng2) = (SplitMix(5), SplitMix(6));
    let results = {
        let a = Box::pin(driver::retry::<64, _, _, _, _>(options, &mut first, &clock, &mut rng1));
        let b = Box::pin(async {
            clock.sleep_until(second_at).await;
            driver::retry::<64, _, _, _, _>(options, &mut second, &clock, &mut rng2).await
        });
        let futures: Vec<std::pin::Pin<Box<dyn Future<Output = _>>>> = vec![a, b];
        run_all(&clock, futures)
    };
    (results, first.sent_at, second.sent_at)
}

fn with_headers(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Step {
    Step::Respond {
        status,
        headers: headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
        chunks: vec![body.to_vec()],
        cut: false,
    }
}

#[test]
fn a_hold_past_the_ceiling_fails_the_next_request_at_once_without_sending_it() {
    // A 503 that names no context, asking for a date in 2099: the request fails at once, and
    // the client-wide hold it leaves makes the next request fail at once too, unsent — it does
    // not sleep until 2099.
    let far = [("Date", "Sun, 06 Dec 2026 12:00:00 GMT"), ("Retry-After", "Thu, 01 Jan 2099 00:00:00 GMT")];
    for headers in [&far[..], &[("Retry-After", "100000")][..]] {
        let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
        let (results, first, second) = two_requests(
            &PRESET,
            &shared,
            None,
            vec![with_headers(503, headers, b"")],
            10,
            vec![respond(201, b"")],
        );
        let [Err(a), Err(b)] = &results[..] else { panic!("both fail: {results:?}") };
        assert_eq!((a.error.stop, a.error.attempts), (Stop::RetryAfterTooLong, 1));
        assert_eq!(
            (b.error.stop, b.error.kind(), b.error.status(), b.error.attempts),
            (Stop::RetryAfterTooLong, ErrorKind::RateLimited, None, 0)
        );
        assert!(b.response.is_none() && b.transport.is_none());
        assert_eq!((first, second), (vec![0], vec![]), "the second request was sent");
    }
}

#[test]
fn a_hold_is_believed_for_the_ceiling_and_then_the_client_tries_again() {
    // Ceiling 2 s: a hold of 3 s fails the requests that meet it while it is believed, and
    // from 2 s after it was learnt the client sends again.
    let policy = PRESET.with_retry_after_ceiling_ms(2_000);
    let fresh = || {
        let mut state = Shared::<4>::new(Pacing::Burst);
        state.limits = RateLimits::new(Pacing::Burst).with_max_hold_ms(2_000);
        RefCell::new(state)
    };
    let (results, _, second) = two_requests(
        &policy,
        &fresh(),
        None,
        vec![with_headers(503, &[("Retry-After", "3")], b"")],
        500,
        vec![respond(201, b"")],
    );
    assert!(matches!(&results[1], Err(f) if f.error.stop == Stop::RetryAfterTooLong), "{results:?}");
    assert!(second.is_empty());
    let (results, _, second) = two_requests(
        &policy,
        &fresh(),
        None,
        vec![with_headers(503, &[("Retry-After", "3")], b"")],
        2_000,
        vec![respond(201, b"")],
    );
    assert!(results[1].is_ok(), "{results:?}");
    assert_eq!(second, [2_000]);
}

#[test]
fn a_hold_that_ends_past_the_deadline_fails_the_request_at_once_with_deadline() {
    let policy = PRESET.with_deadline_ms(4_000);
    let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
    let (results, _, second) = two_requests(
        &policy,
        &shared,
        Some(b"events"),
        vec![with_headers(429, &[("Retry-After", "30"), ("X-RateLimit-Context", "events")], b"")],
        10,
        vec![respond(201, b"")],
    );
    let Err(b) = &results[1] else { panic!("{results:?}") };
    assert_eq!((b.error.stop, b.error.attempts), (Stop::Deadline, 0));
    assert!(second.is_empty());
    // A hold that ends within the deadline is waited for.
    let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
    let (results, _, second) = two_requests(
        &policy,
        &shared,
        Some(b"events"),
        vec![
            with_headers(429, &[("Retry-After", "3"), ("X-RateLimit-Context", "events")], b""),
            respond(201, b""),
        ],
        10,
        vec![respond(201, b"")],
    );
    assert!(results[1].is_ok(), "{results:?}");
    assert_eq!(second, [3_000]);
}

#[test]
fn retry_after_outranks_the_window_of_the_same_response_for_every_request_of_the_context() {
    // nginx's limit_req with the API's headers: a 429 with Retry-After 5, Remaining 0 and a
    // 60 s window. The retried request goes at max(5 s, 1 s) + r, the context's other
    // requests at exactly 5 s, not 60 s later.
    for pacing in [Pacing::Burst, Pacing::Smooth] {
        for limit in [None, Some("10")] {
            let mut headers = vec![
                ("Retry-After", "5"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Window", "60"),
                ("X-RateLimit-Context", "events"),
            ];
            headers.extend(limit.map(|l| ("X-RateLimit-Limit", l)));
            let shared = RefCell::new(Shared::<4>::new(pacing));
            let (results, first, second) = two_requests(
                &PRESET,
                &shared,
                Some(b"events"),
                vec![with_headers(429, &headers, b""), respond(201, b"")],
                10,
                vec![respond(201, b"")],
            );
            assert!(results.iter().all(Result::is_ok), "{pacing:?} {limit:?}: {results:?}");
            assert_eq!(second, [5_000], "{pacing:?} {limit:?}: the context's other request");
            match (pacing, limit) {
                // Smooth pacing with a known quota spaces the sends after the hold from the
                // first one, which goes when told: 60 s / 9 apart.
                (Pacing::Smooth, Some(_)) => assert_eq!(first[1], 5_000 + 6_667, "retried at {first:?}"),
                _ => {
                    assert!((5_000..=6_000).contains(&first[1]), "{pacing:?} {limit:?}: retried at {first:?}")
                }
            }
        }
    }
}

#[test]
fn an_endless_error_body_is_read_only_up_to_the_policys_bound() {
    // A 503 whose JSON body never ends: the driver stops reading at max_error_body_bytes (plus
    // at most one read), calls it truncated, and decides as for a 503.
    let policy = PRESET.with_max_error_body_bytes(1_000).with_max_retries(0);
    let clock = Clock::default();
    let mut endless = vec![br#"{"errorMessage":""#.to_vec()];
    endless.extend(std::iter::repeat_n(vec![b'a'; 100], 10_000));
    let mut transport = Scripted::new(
        &clock,
        vec![Step::Respond { status: 503, headers: Vec::new(), chunks: endless, cut: false }],
    );
    let options = Options {
        policy: &policy,
        idempotency: Idempotency::Idempotent,
        context: None,
        shared: None::<&Alone>,
        dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
        on_event: None,
    };
    let result =
        block_on(&clock, driver::retry::<64, _, _, _, _>(options, &mut transport, &clock, &mut SplitMix(1)));
    let Err(failure) = result else { panic!("{result:?}") };
    assert_eq!((failure.error.stop, failure.error.kind()), (Stop::RetriesExhausted, ErrorKind::ServerError));
    assert_eq!(failure.error.cause.body.kind(), BodyKind::Truncated);
    let read = transport.bytes_read;
    assert!(read <= 1_000 + 64, "read {read} bytes of an endless body");
    assert!(read >= 1_000, "stopped before the bound: {read}");
}

#[test]
fn every_retry_and_hold_is_told_to_on_event() {
    use backoff_core_async::Event;
    let events = std::sync::Mutex::new(Vec::new());
    let record = |event: Event| events.lock().unwrap().push(event);
    let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
    let clock = Clock::default();
    let told = with_headers(429, &[("Retry-After", "3"), ("X-RateLimit-Context", "events")], b"");
    let mut first = Scripted::new(&clock, vec![respond(503, b""), told, respond(201, b"")]);
    let options =
        Options::new(&PRESET, Idempotency::Idempotent).shared(&shared).context(b"events").on_event(&record);
    let result =
        block_on(&clock, driver::retry::<64, _, _, _, _>(options, &mut first, &clock, &mut SplitMix(2)));
    assert!(matches!(result, Ok(Success { attempts: 3, .. })), "{result:?}");
    let events = events.into_inner().unwrap();
    let [Event::Retry {
        attempt: 1,
        delay_ms,
        at_ms,
        wait: backoff_core::Wait::Backoff(_),
        kind: ErrorKind::ServerError,
        status: Some(503),
    }, Event::Retry {
        attempt: 2,
        at_ms: told_at,
        wait: backoff_core::Wait::RetryAfter(_),
        kind: ErrorKind::RateLimited,
        status: Some(429),
        ..
    }] = events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!(at_ms, u64::from(delay_ms));
    assert_eq!(first.sent_at, [0, at_ms, told_at]);
    // A second request of the context, started during the hold, is told it is held.
    let events = std::sync::Mutex::new(Vec::new());
    let record = |event: Event| events.lock().unwrap().push(event);
    let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
    let limited = with_headers(429, &[("Retry-After", "3"), ("X-RateLimit-Context", "events")], b"");
    let (results, _, second) = {
        let clock = Clock::default();
        let mut a = Scripted::new(&clock, vec![limited, respond(201, b"")]);
        let mut b = Scripted::new(&clock, vec![respond(201, b"")]);
        let plain = Options::new(&PRESET, Idempotency::Idempotent).shared(&shared).context(b"events");
        let told = plain.on_event(&record);
        let (mut r1, mut r2) = (SplitMix(5), SplitMix(6));
        let results = {
            let x = Box::pin(driver::retry::<64, _, _, _, _>(plain, &mut a, &clock, &mut r1));
            let y = Box::pin(async {
                clock.sleep_until(10).await;
                driver::retry::<64, _, _, _, _>(told, &mut b, &clock, &mut r2).await
            });
            let futures: Vec<std::pin::Pin<Box<dyn Future<Output = _>>>> = vec![x, y];
            run_all(&clock, futures)
        };
        (results, a.sent_at, b.sent_at)
    };
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(second, [3_000]);
    assert_eq!(events.into_inner().unwrap(), [Event::Held { attempt: 1, until_ms: 3_000 }]);
}

#[test]
fn the_dialect_reads_each_response_once_for_the_request_and_the_shared_state() {
    // GitHub's documented 403: remaining 0 and a reset, no resource named. In GitHub's dialect
    // the request waits until the reset and so does every other; in Follow Up Boss's, a 403
    // is forbidden, failed at once.
    let headers = [
        ("Date", "Wed, 09 Aug 2023 13:29:23 GMT"),
        ("x-ratelimit-remaining", "0"),
        ("x-ratelimit-reset", "1691587770"),
    ];
    for (dialect, retried) in
        [(&backoff_core::Dialect::GITHUB, true), (&backoff_core::Dialect::FOLLOW_UP_BOSS, false)]
    {
        let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
        let clock = Clock::default();
        let mut transport = Scripted::new(&clock, vec![with_headers(403, &headers, b""), respond(200, b"")]);
        let options = Options::new(&PRESET, Idempotency::Idempotent).shared(&shared).dialect(dialect);
        let result = block_on(
            &clock,
            driver::retry::<64, _, _, _, _>(options, &mut transport, &clock, &mut SplitMix(3)),
        );
        if retried {
            assert!(matches!(result, Ok(Success { attempts: 2, .. })), "{result:?}");
            assert!(transport.sent_at[1] >= 7_000, "went before the reset: {:?}", transport.sent_at);
            assert_eq!(shared.borrow().limits.hold_until(10, None), 7_000, "the whole client is held");
        } else {
            let Err(failure) = result else { panic!("{result:?}") };
            assert_eq!((failure.error.kind(), failure.error.stop), (ErrorKind::Forbidden, Stop::Permanent));
        }
    }
}
