//! The whole state machine driven by arbitrary event sequences: policies, statuses, headers,
//! bodies in chunks, transport failures, clocks that jump either way, and RNG streams that
//! may run dry.
//!
//! Invariants checked on every decision:
//! - a request retries at most `max_retries` times, and the attempt counts add up;
//! - a backoff delay lies within `delay_bounds`; a `Retry-After` wait is within the ceiling;
//! - `at_ms` is the decision instant plus the delay, and decision instants never go back;
//! - 2xx succeeds, 4xx other than 408/429 fails at once, invalid statuses fail;
//! - the deadline is never overrun by a scheduled retry;
//! - the shared rate-limit state, fed every response's headers, never lets a request of a
//!   context through before that context's `Retry-After` has passed;
//! - the retry budget never goes above its capacity, and a retry is only ever paid for.
#![no_main]

use arbitrary::Arbitrary;
use backoff_core::{
    Action, ErrorKind, Idempotency, Jitter, Pacing, Permit, Policy, RateLimitHeaders, RateLimits, Request,
    RetryBudget, RetryOn, Stop, TransportFailure, Wait,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    base_ms: u32,
    max_backoff_ms: u32,
    jitter: u8,
    jitter_ms: u32,
    max_retries: u8,
    deadline_ms: Option<u32>,
    ceiling_ms: u32,
    floor_ms: u32,
    spread_ms: u32,
    retry_on: u8,
    not_idempotent: bool,
    smooth: bool,
    budget: Option<(u16, u8, u8, u8)>,
    start: u64,
    rng: Vec<u32>,
    events: Vec<Event>,
}

#[derive(Arbitrary, Debug)]
enum Event {
    Response { clock: i64, status: u16, headers: Vec<(Vec<u8>, Vec<u8>)>, chunks: Vec<Vec<u8>>, cut: bool },
    Transport { clock: i64, after_send: bool },
}

#[path = "../support/words.rs"]
mod words;
use words::Words;

fuzz_target!(|input: Input| {
    let jitter = match input.jitter % 5 {
        0 => Jitter::None,
        1 => Jitter::Full,
        2 => Jitter::Equal,
        3 => Jitter::Decorrelated,
        _ => Jitter::Additive { max_ms: input.jitter_ms },
    };
    let classes =
        [RetryOn::REQUEST_TIMEOUT, RetryOn::RATE_LIMITED, RetryOn::SERVER_ERROR, RetryOn::TRANSPORT];
    let retry_on = classes
        .iter()
        .enumerate()
        .filter(|(i, _)| input.retry_on & (1 << i) != 0)
        .fold(RetryOn::NOTHING, |set, (_, &c)| set.union(c));
    let policy = Policy {
        base_ms: input.base_ms,
        max_backoff_ms: input.max_backoff_ms,
        jitter,
        max_retries: u32::from(input.max_retries % 16),
        deadline_ms: input.deadline_ms,
        retry_after_ceiling_ms: input.ceiling_ms,
        retry_after_floor_ms: input.floor_ms,
        retry_after_jitter_ms: input.spread_ms,
        retry_on,
        max_error_body_bytes: Policy::FOLLOW_UP_BOSS.max_error_body_bytes,
    };
    let idempotency = if input.not_idempotent { Idempotency::NotIdempotent } else { Idempotency::Idempotent };
    let mut rng = Words(input.rng, 0);
    let mut request = Request::new(input.start, idempotency);
    let mut now = input.start;
    let mut decided_at = input.start;
    let mut retries = 0u32;
    let mut limits = RateLimits::<2>::new(if input.smooth { Pacing::Smooth } else { Pacing::Burst });
    let mut budget =
        input.budget.map(|(c, r, t, s)| RetryBudget::new(c.into(), r.into(), t.into(), s.into()));
    // Every Retry-After the shared state was told: (context, until).
    let mut told: Vec<(Option<Vec<u8>>, u64)> = Vec::new();
    for event in &input.events {
        let (clock, status) = match event {
            Event::Response { clock, status, .. } => (*clock, Some(*status)),
            Event::Transport { clock, .. } => (*clock, None),
        };
        now = now.saturating_add_signed(clock);
        let action: Action<32> = match event {
            Event::Response { status, headers, chunks, cut, .. } => {
                let seen = RateLimitHeaders::read(headers.as_slice());
                let context = seen.context.map(|c| c.as_str().as_bytes().to_vec());
                // Contexts longer than the kept prefix are hashed apart; skip checking them.
                let checkable = context.as_ref().is_none_or(|c| c.len() <= backoff_core::ContextName::CAP);
                limits.observe(now, *status, headers.as_slice());
                if let (Some(wait), 429 | 503, true) = (seen.retry_after_ms, *status, checkable) {
                    // A hold is believed for at most the limits' max hold after it was learnt.
                    let believed = wait.min(u64::from(limits.max_hold_ms()));
                    told.push((context.clone(), now.saturating_add(believed)));
                }
                if let Permit::Go = limits.acquire(now, context.as_deref()) {
                    for (ctx, until) in &told {
                        let applies = ctx.is_none() || context.is_none() || *ctx == context;
                        assert!(!applies || now >= *until, "rate limit let a request through early");
                    }
                }
                let mut reply = request.response::<32, _>(&policy, *status, headers.as_slice());
                for chunk in chunks {
                    let _ = reply.feed(chunk);
                }
                if *cut {
                    // The body broke off: a transport failure after sending, never a success.
                    let action = reply.body_failed(&policy, now, &mut rng).settle(budget.as_mut());
                    assert!(!matches!(action, Action::Succeed { .. }));
                    action
                } else {
                    reply.finish(&policy, now, &mut rng).settle(budget.as_mut())
                }
            }
            Event::Transport { after_send, .. } => {
                let failure =
                    if *after_send { TransportFailure::AfterSend } else { TransportFailure::BeforeSend };
                request.transport_failure(&policy, now, failure, &mut rng).settle(budget.as_mut())
            }
        };
        if let Some(b) = &budget {
            assert!(b.tokens() <= b.capacity);
        }
        let told_wait = match event {
            Event::Response { headers, .. } => backoff_core::retry_after_ms(headers.as_slice()),
            Event::Transport { .. } => None,
        };
        let kind = status.map(ErrorKind::from_status);
        let was_cut = matches!(event, Event::Response { cut: true, .. });
        match action {
            Action::Succeed { attempts } => {
                assert!(matches!(status, Some(200..=299)) && !was_cut);
                assert_eq!(attempts, retries + 1);
                return;
            }
            Action::Fail(error) => {
                assert_eq!(error.attempts, retries + 1);
                assert_eq!(error.status(), status);
                if was_cut {
                    assert_eq!(error.kind(), ErrorKind::Transport);
                } else if matches!(kind, Some(Some(k)) if !matches!(k, ErrorKind::RequestTimeout | ErrorKind::RateLimited | ErrorKind::ServerError))
                {
                    assert_eq!(error.stop, Stop::Permanent);
                }
                if error.stop == Stop::RetriesExhausted {
                    assert_eq!(retries, policy.max_retries);
                }
                if error.stop == Stop::BudgetExhausted {
                    assert!(budget.is_some());
                }
                return;
            }
            Action::Retry(retry) => {
                assert!(retries < policy.max_retries);
                assert!(was_cut || !matches!(status, Some(200..=299)));
                match retry.wait {
                    Wait::Backoff(_) => {
                        let (lo, hi) = policy.delay_bounds(retries);
                        assert!((lo..=hi).contains(&retry.delay_ms));
                    }
                    Wait::RetryAfter(_) => {
                        assert!(matches!(status, Some(429 | 503)));
                        // Never earlier than told, never more than the floor and spread add.
                        let told = told_wait.expect("a Retry-After wait was told one");
                        assert!(told <= u64::from(policy.retry_after_ceiling_ms));
                        assert!(u64::from(retry.delay_ms) >= told);
                        let most = told.max(u64::from(policy.retry_after_floor_ms))
                            + u64::from(policy.retry_after_jitter_ms);
                        assert!(u64::from(retry.delay_ms) <= most);
                    }
                }
                let decided = now.max(decided_at);
                assert_eq!(retry.at_ms, decided.saturating_add(u64::from(retry.delay_ms)));
                if let Some(deadline) = policy.deadline_ms {
                    assert!(retry.at_ms.saturating_sub(input.start) <= u64::from(deadline));
                }
                decided_at = decided;
                retries += 1;
                assert_eq!(retry.request.retries(), retries);
                request = retry.request;
            }
        }
    }
});
