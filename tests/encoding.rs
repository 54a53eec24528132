//! The shared state as bytes: every state round-trips to the same decisions, and bytes this
//! version did not write get a typed error, never a panic.

mod common;

use backoff_core::encoding::{BufferTooSmall, DecodeError, VERSION};
use backoff_core::{Breaker, BreakerPolicy, Health, Pacing, Permit, RateLimits, RetryBudget};
use common::SplitMix;
use proptest::prelude::*;

#[test]
fn the_sizes_are_fixed_and_small() {
    assert_eq!(RateLimits::<4>::ENCODED_LEN, 459);
    assert_eq!(RateLimits::<8>::ENCODED_LEN, 883);
    assert_eq!(RetryBudget::ENCODED_LEN, 26);
    assert_eq!(Breaker::ENCODED_LEN, 99);
    // Nothing is written past the encoding.
    let mut buf = [0xAAu8; RateLimits::<4>::ENCODED_LEN + 1];
    RateLimits::<4>::new(Pacing::Burst).encode(&mut buf).unwrap();
    assert_eq!(buf[RateLimits::<4>::ENCODED_LEN], 0xAA);
    let mut buf = [0xAAu8; Breaker::ENCODED_LEN + 1];
    Breaker::new(BreakerPolicy::POLLY).encode(&mut buf).unwrap();
    assert_eq!(buf[Breaker::ENCODED_LEN], 0xAA);
}

#[test]
fn each_kind_of_wrong_bytes_gets_its_own_error() {
    let mut bytes = [0u8; RateLimits::<4>::ENCODED_LEN];
    let mut limits = RateLimits::<4>::new(Pacing::Smooth);
    limits.observe(5, 429, &[("Retry-After", "2"), ("X-RateLimit-Context", "events")]);
    assert_eq!(limits.encode(&mut bytes), Ok(RateLimits::<4>::ENCODED_LEN));
    assert_eq!(limits.encode(&mut bytes[..10]), Err(BufferTooSmall));
    let ok = bytes;
    let decode = |b: &[u8]| RateLimits::<4>::decode(b).map(|_| ());
    assert_eq!(decode(&ok), Ok(()));
    assert_eq!(decode(b""), Err(DecodeError::NotOurs));
    assert_eq!(decode(b"{\"json\":1}"), Err(DecodeError::NotOurs));
    let mut v = ok;
    v[2] = VERSION + 1;
    assert_eq!(decode(&v), Err(DecodeError::OtherVersion(VERSION + 1)));
    let mut v = ok;
    v[3] = 2;
    assert_eq!(decode(&v), Err(DecodeError::OtherKind));
    assert_eq!(RateLimits::<8>::decode(&ok).map(|_| ()), Err(DecodeError::OtherCapacity));
    assert_eq!(decode(&ok[..ok.len() - 1]), Err(DecodeError::WrongLength));
    let mut longer = ok.to_vec();
    longer.push(0);
    assert_eq!(decode(&longer), Err(DecodeError::WrongLength));
    let mut v = ok;
    v[30] = 7; // the pacing byte (after the header and the all-contexts hold's 24 bytes)
    assert_eq!(decode(&v), Err(DecodeError::Invalid));
    let mut v = ok;
    v[22] = 1; // the far hold believed, but past an instant of 0
    assert_eq!(decode(&v), Err(DecodeError::Invalid));
    let mut v = ok;
    v[35] = 2; // the first entry's presence tag (after the pacing byte and the u32 max hold)
    assert_eq!(decode(&v), Err(DecodeError::Invalid));
    let mut v = ok;
    v[36] = b' '; // a context name that is not printable
    assert_eq!(decode(&v), Err(DecodeError::Invalid));
    let mut budget = [0u8; RetryBudget::ENCODED_LEN];
    RetryBudget::AWS_STANDARD.encode(&mut budget).unwrap();
    assert_eq!(RetryBudget::decode(&budget), Ok(RetryBudget::AWS_STANDARD));
    assert_eq!(RateLimits::<4>::decode(&budget).map(|_| ()), Err(DecodeError::OtherKind));
    budget[6] = 0xFF; // more tokens than the capacity
    assert_eq!(RetryBudget::decode(&budget), Err(DecodeError::Invalid));
    assert_eq!(DecodeError::OtherVersion(9).to_string(), "state encoded by format version 9, this is 2");
}

#[test]
fn a_budget_encodes_into_any_buffer_long_enough_and_refuses_a_shorter_one() {
    let mut long = [0xAAu8; RetryBudget::ENCODED_LEN + 3];
    assert_eq!(RetryBudget::AWS_STANDARD.encode(&mut long), Ok(RetryBudget::ENCODED_LEN));
    assert_eq!(long[RetryBudget::ENCODED_LEN..], [0xAA; 3], "nothing written past the encoding");
    assert_eq!(RetryBudget::decode(&long[..RetryBudget::ENCODED_LEN]), Ok(RetryBudget::AWS_STANDARD));
    let mut short = [0u8; RetryBudget::ENCODED_LEN - 1];
    assert_eq!(RetryBudget::AWS_STANDARD.encode(&mut short), Err(BufferTooSmall));
    assert_eq!(short, [0; RetryBudget::ENCODED_LEN - 1], "nothing written into a short buffer");
    assert_eq!(BufferTooSmall.to_string(), "buffer shorter than the state's encoding");
}

#[derive(Clone, Debug)]
enum Op {
    Observe { dt: u64, status: u16, retry_after: Option<u8>, context: u8, remaining: Option<u8> },
    Acquire { dt: u64, context: u8 },
    Abandon { context: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            0u64..5000,
            prop::sample::select(vec![200u16, 429, 503]),
            prop::option::of(0u8..20),
            0u8..5,
            prop::option::of(0u8..4)
        )
            .prop_map(|(dt, status, retry_after, context, remaining)| Op::Observe {
                dt,
                status,
                retry_after,
                context,
                remaining
            }),
        (0u64..5000, 0u8..5).prop_map(|(dt, context)| Op::Acquire { dt, context }),
        (0u8..5).prop_map(|context| Op::Abandon { context }),
    ]
}

const NAMES: [&str; 5] = ["global", "events", "people", "POST.events", "a-context-name-longer-than-24-bytes"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// A state written and read back decides exactly as the original, from then on.
    #[test]
    fn rate_limits_round_trip_to_the_same_decisions(ops in prop::collection::vec(op(), 0..40), after in prop::collection::vec(op(), 1..20), smooth in any::<bool>()) {
        let pacing = if smooth { Pacing::Smooth } else { Pacing::Burst };
        let mut a = RateLimits::<3>::new(pacing);
        let mut now = 0;
        let apply = |limits: &mut RateLimits<3>, op: &Op, now: &mut u64| -> Option<Permit> {
            match op {
                Op::Observe { dt, status, retry_after, context, remaining } => {
                    *now += dt;
                    let mut headers = vec![("X-RateLimit-Context", NAMES[*context as usize].to_owned()),
                        ("X-RateLimit-Limit", "5".to_owned()), ("X-RateLimit-Window", "10".to_owned())];
                    if let Some(r) = retry_after { headers.push(("Retry-After", r.to_string())); }
                    if let Some(r) = remaining { headers.push(("X-RateLimit-Remaining", r.to_string())); }
                    limits.observe(*now, *status, headers.as_slice());
                    None
                }
                Op::Acquire { dt, context } => {
                    *now += dt;
                    Some(limits.acquire(*now, Some(NAMES[*context as usize].as_bytes())))
                }
                Op::Abandon { context } => {
                    limits.abandon(Some(NAMES[*context as usize].as_bytes()));
                    None
                }
            }
        };
        for op in &ops { apply(&mut a, op, &mut now); }
        let mut bytes = [0u8; RateLimits::<3>::ENCODED_LEN];
        a.encode(&mut bytes).unwrap();
        let mut b = RateLimits::<3>::decode(&bytes).unwrap();
        let mut again = [0u8; RateLimits::<3>::ENCODED_LEN];
        b.encode(&mut again).unwrap();
        prop_assert_eq!(bytes, again, "decode then encode gives the same bytes");
        let (mut na, mut nb) = (now, now);
        for op in &after {
            prop_assert_eq!(apply(&mut a, op, &mut na), apply(&mut b, op, &mut nb));
        }
    }

    /// A breaker written and read back decides as the original.
    #[test]
    fn breakers_round_trip_to_the_same_decisions(steps in prop::collection::vec((any::<bool>(), 0u64..3000, any::<bool>()), 0..60), seed in any::<u64>()) {
        let mut a = Breaker::new(BreakerPolicy::API_CLIENT);
        let mut rng = SplitMix(seed);
        let mut now = 0;
        for (ask, dt, failed) in &steps {
            now += dt;
            if *ask { let _ = a.acquire(now, &mut rng); } else { a.observe(now, if *failed { Health::Failed } else { Health::Healthy }, &mut rng); }
        }
        let mut bytes = [0u8; Breaker::ENCODED_LEN];
        a.encode(&mut bytes).unwrap();
        let b = Breaker::decode(&bytes).unwrap();
        prop_assert_eq!(&a, &b);
    }

    /// Any bytes at all: a state or a typed error, never a panic.
    #[test]
    fn any_bytes_decode_to_a_state_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..400), header in any::<bool>()) {
        let mut bytes = bytes;
        if header && bytes.len() >= 6 {
            bytes[..6].copy_from_slice(&[b'B', b'C', VERSION, 1, 3, 0]);
        }
        let _ = RateLimits::<3>::decode(&bytes);
        let _ = RetryBudget::decode(&bytes);
        let _ = Breaker::decode(&bytes);
    }
}

/// A client's whole shared state, with every part present or absent.
fn shared_states() -> Vec<backoff_core::driver::Shared<4>> {
    use backoff_core::driver::Shared;
    let mut limits = Shared::<4>::new(Pacing::Smooth);
    limits.limits.observe(5, 429, &[("Retry-After", "2"), ("X-RateLimit-Context", "events")]);
    let budget = RetryBudget::new(50, 5, 10, 1);
    let mut breaker = Breaker::new(BreakerPolicy::API_CLIENT);
    breaker.observe(7, Health::Failed, &mut SplitMix(1));
    vec![
        limits.clone(),
        limits.clone().with_budget(budget),
        limits.clone().with_breaker(breaker.clone()),
        limits.with_budget(budget).with_breaker(breaker),
    ]
}

#[test]
fn a_clients_whole_shared_state_round_trips_part_by_part() {
    use backoff_core::driver::Shared;
    assert_eq!(Shared::<4>::ENCODED_LEN, 6 + 459 + 1 + 26 + 1 + 99);
    assert_eq!(Shared::<8>::ENCODED_LEN, 1016);
    for state in shared_states() {
        let mut bytes = [0xAAu8; Shared::<4>::ENCODED_LEN + 1];
        assert_eq!(state.encode(&mut bytes), Ok(Shared::<4>::ENCODED_LEN));
        assert_eq!(bytes[Shared::<4>::ENCODED_LEN], 0xAA, "nothing written past the encoding");
        let bytes = &bytes[..Shared::<4>::ENCODED_LEN];
        let back = Shared::<4>::decode(bytes).unwrap();
        assert_eq!(back.budget, state.budget);
        assert_eq!(back.breaker.as_ref().map(Breaker::state), state.breaker.as_ref().map(Breaker::state));
        assert_eq!(back.limits.hold_until(5, Some(b"events")), 5 + 2_000);
        // Canonical: the state decoded encodes to the same bytes.
        let mut again = [0u8; Shared::<4>::ENCODED_LEN];
        back.encode(&mut again).unwrap();
        assert_eq!(&again[..], bytes);
        // Each part has a tag byte; an absent part's bytes must be zero.
        let budget_tag = 6 + RateLimits::<4>::ENCODED_LEN;
        let breaker_tag = budget_tag + 1 + RetryBudget::ENCODED_LEN;
        for tag in [budget_tag, breaker_tag] {
            let mut v = bytes.to_vec();
            v[tag] = 2;
            assert_eq!(Shared::<4>::decode(&v).map(|_| ()), Err(DecodeError::Invalid), "a tag of 2");
            if bytes[tag] == 0 {
                let mut v = bytes.to_vec();
                v[tag + 1] = 1;
                assert_eq!(
                    Shared::<4>::decode(&v).map(|_| ()),
                    Err(DecodeError::Invalid),
                    "junk in an absent part"
                );
            }
        }
    }
    let mut ok = [0u8; Shared::<4>::ENCODED_LEN];
    Shared::<4>::new(Pacing::Burst).encode(&mut ok).unwrap();
    assert_eq!(Shared::<4>::new(Pacing::Burst).encode(&mut ok[..100]), Err(BufferTooSmall));
    assert_eq!(Shared::<8>::decode(&ok).map(|_| ()), Err(DecodeError::OtherCapacity));
    assert_eq!(RateLimits::<4>::decode(&ok).map(|_| ()), Err(DecodeError::OtherKind));
    assert_eq!(Shared::<4>::decode(&ok[..ok.len() - 1]).map(|_| ()), Err(DecodeError::WrongLength));
    // A part that is not a valid encoding of its own kind.
    let mut v = ok;
    v[6 + 3] = 9;
    assert_eq!(Shared::<4>::decode(&v).map(|_| ()), Err(DecodeError::OtherKind));
}

proptest! {
    #[test]
    fn any_bytes_decode_to_a_shared_state_or_an_error(flips in prop::collection::vec((0usize..508, any::<u8>()), 0..6), pick in 0usize..4) {
        use backoff_core::driver::Shared;
        let mut bytes = [0u8; Shared::<4>::ENCODED_LEN];
        shared_states()[pick].encode(&mut bytes).unwrap();
        for (at, value) in flips {
            bytes[at % Shared::<4>::ENCODED_LEN] = value;
        }
        // Whatever was flipped: a state that encodes back to these very bytes, or an error.
        if let Ok(state) = Shared::<4>::decode(&bytes) {
            let mut again = [0u8; Shared::<4>::ENCODED_LEN];
            state.encode(&mut again).unwrap();
            prop_assert_eq!(&again[..], &bytes[..]);
        }
    }
}
