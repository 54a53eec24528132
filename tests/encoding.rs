//! The shared state as bytes: every state round-trips to the same decisions, and bytes this
//! version did not write get a typed error, never a panic.

mod common;

use backoff_core::encoding::{Error as DecodeError, VERSION};
use backoff_core::{Breaker, BreakerPolicy, Pacing, Permit, RateLimits, RetryBudget};
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
    assert_eq!(limits.encode(&mut bytes[..10]), Err(DecodeError::BufferTooSmall));
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
    assert_eq!(RetryBudget::AWS_STANDARD.encode(&mut short), Err(DecodeError::BufferTooSmall));
    assert_eq!(short, [0; RetryBudget::ENCODED_LEN - 1], "nothing written into a short buffer");
    assert_eq!(DecodeError::BufferTooSmall.to_string(), "buffer shorter than the state's encoding");
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
            if *ask { let _ = a.acquire(now, &mut rng); } else { a.observe(now, if *failed { None } else { Some(200) }, &mut rng); }
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
fn shared_states() -> Vec<backoff_core::shared::Shared<4>> {
    use backoff_core::shared::Shared;
    let mut limits = Shared::<4>::new(Pacing::Smooth);
    limits.limits.observe(5, 429, &[("Retry-After", "2"), ("X-RateLimit-Context", "events")]);
    let budget = RetryBudget::new(50, 5, 10, 1);
    let mut breaker = Breaker::new(BreakerPolicy::API_CLIENT);
    breaker.observe(7, None, &mut SplitMix(1));
    vec![
        limits.clone(),
        limits.clone().with_budget(budget),
        limits.clone().with_breaker(breaker.clone()),
        limits.with_budget(budget).with_breaker(breaker),
    ]
}

#[test]
fn a_clients_whole_shared_state_round_trips_part_by_part() {
    use backoff_core::shared::Shared;
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
    assert_eq!(Shared::<4>::new(Pacing::Burst).encode(&mut ok[..100]), Err(DecodeError::BufferTooSmall));
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
        use backoff_core::shared::Shared;
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

// Requests and replies as bytes: the C door keeps them so in its caller's storage.

mod requests {
    use backoff_core::encoding::Error as DecodeError;
    use backoff_core::{
        Action, Dialect, Idempotency, Policy, RateLimitHeaders, Reply, Request, TransportFailure,
    };
    use proptest::prelude::*;

    use super::common::SplitMix;

    #[test]
    fn a_request_is_31_bytes_and_a_reply_137_plus_its_message() {
        assert_eq!(Request::ENCODED_LEN, 31);
        assert_eq!(Reply::<255>::ENCODED_LEN, 392);
        assert_eq!(Reply::<0>::ENCODED_LEN, 137);
        let reply =
            Request::new(0, Idempotency::Idempotent).response::<16, _>(&Policy::FOLLOW_UP_BOSS, 400, &());
        let mut buf = [0xAAu8; Reply::<16>::ENCODED_LEN + 1];
        assert_eq!(reply.encode(&mut buf), Ok(Reply::<16>::ENCODED_LEN));
        assert_eq!(buf[Reply::<16>::ENCODED_LEN], 0xAA, "nothing written past the encoding");
        assert_eq!(reply.encode(&mut buf[..Reply::<16>::ENCODED_LEN - 1]), Err(DecodeError::BufferTooSmall));
        let request = Request::new(0, Idempotency::Idempotent);
        assert_eq!(request.encode(&mut buf[..30]), Err(DecodeError::BufferTooSmall));
        // One kind is not the other, and a reply of another capacity is refused.
        request.encode(&mut buf).unwrap();
        assert_eq!(
            Reply::<16>::decode(&buf[..Request::ENCODED_LEN]).map(|_| ()),
            Err(DecodeError::OtherKind)
        );
        reply.encode(&mut buf).unwrap();
        assert_eq!(Request::decode(&buf[..Reply::<16>::ENCODED_LEN]), Err(DecodeError::OtherKind));
        assert_eq!(
            Reply::<17>::decode(&buf[..Reply::<16>::ENCODED_LEN]).map(|_| ()),
            Err(DecodeError::OtherCapacity)
        );
    }

    #[test]
    fn a_request_between_retries_round_trips_whole() {
        let policy = Policy::FOLLOW_UP_BOSS;
        let mut rng = SplitMix(3);
        let mut request = Request::new(1_000, Idempotency::NotIdempotent);
        for now in [2_000, 9_000, 40_000] {
            let mut bytes = [0u8; Request::ENCODED_LEN];
            request.encode(&mut bytes).unwrap();
            let back = Request::decode(&bytes).unwrap();
            assert_eq!(back, request);
            let Action::Retry(retry) =
                back.transport_failure::<8, _>(&policy, now, TransportFailure::BeforeSend, &mut rng)
            else {
                panic!("a failure before sending is retried")
            };
            request = retry.request;
        }
        assert_eq!(request.retries(), 3);
        let mut bytes = [0u8; Request::ENCODED_LEN];
        request.encode(&mut bytes).unwrap();
        let mut v = bytes;
        v[Request::ENCODED_LEN - 1] = 2; // the idempotency: 0 or 1
        assert_eq!(Request::decode(&v), Err(DecodeError::Invalid));
    }

    /// Bodies that take the parser through every kind of state: messages plain, escaped and
    /// cut, surrogates whole and lone, invalid UTF-8, nesting, numbers, literals, the
    /// pushback fields of Discord and GitHub, a BOM, text that is not JSON, broken JSON.
    const BODIES: [&[u8]; 16] = [
        br#"{"errorMessage":"Invalid email","note":"plain","status":400,"ok":true,"n":null,"f":false,"x":-1.5e3,"meta":{"a":[1,"s",true,{"b":[]},{}],"c":{"d":-0,"e":"f"}},"arr":[[],[1,[2]],"y"],"error":"fallback"}"#,
        br#"{ "error" : { "errorMessage" : "nested, not the message" } , "errorMessage" : "caf\u00e9 \"ok\" \ud83d\ude00 \ud800 x" }"#,
        b"{\"errorMessage\":\"bad \xC3\x28 utf8 \xF0\x9F\x98 cut \xE2\x82\xAC ok\"}",
        br#"{"error\u004dessage":"escaped key, a long message that does not fit in a small buffer at all"}"#,
        br#"{"retry_after": 64.57, "global": true, "message": "You are being rate limited."}"#,
        br#"{"retry_after": 1.5e-2, "global": false, "code": 0}"#,
        br#"{"message": "You have exceeded a secondary rate limit. Please wait.", "documentation_url": "x"}"#,
        b"\xEF\xBB\xBF{\"errorMessage\":\"after a BOM\"}",
        b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\xC3\xA9 \x01 \xFF</body></html>",
        b"\xEF\xBBnot a BOM",
        br#"{"errorMessage":"x",}"#,
        br#"{"a":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{"b":1}]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}"#,
        br#"{"errorMessage":"\b\f\n\r\t\/\\\u0041\uD834\uDD1E"} "#,
        b"   \t\n ",
        br#"{"retry_after": -3, "retry_after": 12345678901234567890e-14, "errorMessage": "two"}"#,
        br#"{"errorMessage": "cut in the mid"#,
    ];

    /// The replies bodies are read into: each dialect's error statuses, so the pushback fields
    /// are read where they carry a wait.
    fn replies<const N: usize>(policy: &Policy) -> Vec<Reply<N>> {
        let request = Request::new(50, Idempotency::Idempotent);
        let mut out = Vec::new();
        for (dialect, status, headers) in [
            (Dialect::FOLLOW_UP_BOSS, 400, &[][..]),
            (Dialect::FOLLOW_UP_BOSS, 503, &[("Retry-After", "3")][..]),
            (Dialect::DISCORD, 429, &[][..]),
            (Dialect::GITHUB, 403, &[][..]),
            (Dialect::GITHUB, 403, &[("x-ratelimit-remaining", "0"), ("retry-after", "7")][..]),
            (Dialect::FOLLOW_UP_BOSS, 201, &[][..]),
        ] {
            let seen: RateLimitHeaders = dialect.read(headers);
            out.push(request.response_parsed::<N>(policy, status, &seen));
        }
        out
    }

    /// Encodes `reply`, checks the bytes decode to the very same reply (its `Debug`, every
    /// field of the parser included) and encode back to the same bytes, and returns the
    /// decoded one.
    fn through_bytes<const N: usize>(reply: &Reply<N>) -> Reply<N> {
        let mut bytes = vec![0u8; Reply::<N>::ENCODED_LEN];
        assert_eq!(reply.encode(&mut bytes), Ok(bytes.len()));
        let back = Reply::<N>::decode(&bytes).unwrap_or_else(|e| panic!("{e:?} for {reply:#?}"));
        assert_eq!(format!("{back:?}"), format!("{reply:?}"));
        let mut again = vec![0u8; Reply::<N>::ENCODED_LEN];
        back.encode(&mut again).unwrap();
        assert_eq!(again, bytes);
        back
    }

    /// Feeds `body` in chunks of the given sizes (the last repeated) to a reply and to its
    /// copy that goes through bytes at every chunk's end: the same progress at every step,
    /// the same state, and the same decision at the end.
    fn same_through_bytes<const N: usize>(original: Reply<N>, body: &[u8], sizes: &[usize], seed: u64) {
        let policy = Policy::FOLLOW_UP_BOSS;
        let mut kept = through_bytes(&original);
        let mut original = original;
        let mut at = 0;
        let mut sizes = sizes.iter().copied().chain(core::iter::repeat(*sizes.last().unwrap_or(&1)));
        while at < body.len() {
            let size = sizes.next().unwrap_or(1).max(1);
            let chunk = &body[at..body.len().min(at + size)];
            at += chunk.len();
            assert_eq!(kept.feed(chunk), original.feed(chunk));
            kept = through_bytes(&kept);
            assert_eq!(format!("{kept:?}"), format!("{original:?}"));
        }
        assert_eq!(kept.body_wait(), original.body_wait());
        let (a, b) = (kept.clone(), original.clone());
        assert_eq!(
            format!("{:?}", kept.finish(&policy, 9_000, &mut SplitMix(seed))),
            format!("{:?}", original.finish(&policy, 9_000, &mut SplitMix(seed)))
        );
        assert_eq!(
            format!("{:?}", a.body_failed(&policy, 9_000, &mut SplitMix(seed))),
            format!("{:?}", b.body_failed(&policy, 9_000, &mut SplitMix(seed)))
        );
    }

    #[test]
    fn every_state_of_real_bodies_round_trips_and_decides_as_the_original() {
        let policy = Policy::FOLLOW_UP_BOSS;
        for body in BODIES {
            for sizes in [&[1][..], &[2], &[3, 1], &[5], &[7, 2, 11], &[1000]] {
                for reply in replies::<8>(&policy) {
                    same_through_bytes(reply, body, sizes, 1);
                }
                for reply in replies::<64>(&policy) {
                    same_through_bytes(reply, body, sizes, 2);
                }
            }
        }
    }

    #[test]
    fn each_field_out_of_range_is_refused() {
        let policy = Policy::FOLLOW_UP_BOSS;
        let mut reply = Request::new(0, Idempotency::Idempotent).response::<8, _>(&policy, 400, &());
        let _ = reply.feed(br#"{"errorMessage":"ab"#);
        let mut ok = [0u8; Reply::<8>::ENCODED_LEN];
        reply.encode(&mut ok).unwrap();
        assert!(Reply::<8>::decode(&ok).is_ok());
        // Offsets: header 6, request 25, status 2, kind 1, Retry-After 9, left 4; then the parser.
        let parser = 47;
        let text_len = parser + 3 + 1 + 1 + 16 + 1 + 7 + 4 + 12 + 1 + 4 + 1;
        for (at, value, what) in [
            (6 + 24, 2, "idempotency 2"),
            (6 + 25, 0x91, "status 401 with the kind of 400"),
            (6 + 27, 12, "an error kind past the last"),
            (6 + 28, 2, "an option's tag of 2"),
            (6 + 29, 1, "an absent Retry-After with bytes"),
            (parser, 19, "a state tag past the last"),
            (parser + 1, 1, "a state that carries nothing, with a byte"),
            (parser + 3, 6, "a role past the last"),
            (parser + 4, 0, "inside an object at depth 0"),
            (parser + 4, 128, "deeper than the deepest"),
            (parser + 21, 2, "a flag of 2"),
            (parser + 21, 0, "the innermost container is an object, not what the stack says"),
            (parser + 26, 4, "a UTF-8 decoder needing 4 bytes"),
            (parser + 29, 0xD7, "a high surrogate that is not one"),
            (parser + 45, 13, "a key length past the key buffer"),
            (parser + 46, 6, "a target past the last"),
            (parser + 47, 3, "a slot past the last"),
            (text_len, 9, "a message longer than N"),
            (text_len + 4, 0xFF, "a message that is not UTF-8"),
            (text_len + 4 + 7, 1, "bytes after the message"),
            (text_len + 4 + 8 + 3 + 9 + 1 + 8, 17, "more digits kept than 16"),
            (text_len + 4 + 8 + 3 + 9 + 1 + 8 + 1 + 4 + 2 + 3, 0x10, "an exponent past its saturation"),
            (Reply::<8>::ENCODED_LEN - 2, 3, "a number part past the last"),
            (Reply::<8>::ENCODED_LEN - 1, 21, "more of the secondary limit matched than it has"),
        ] {
            let mut v = ok;
            v[at] = value;
            assert_eq!(Reply::<8>::decode(&v).map(|_| ()), Err(DecodeError::Invalid), "{what}");
        }
    }

    #[test]
    fn a_reply_of_a_capacity_past_16_bits_says_so_in_its_header() {
        // 70 000 bytes of message: a reply of that capacity is large, so it gets a stack of its own.
        let run = || {
            let reply = Request::new(0, Idempotency::Idempotent).response::<70_000, _>(
                &Policy::FOLLOW_UP_BOSS,
                400,
                &(),
            );
            let mut bytes = vec![0u8; Reply::<70_000>::ENCODED_LEN];
            reply.encode(&mut bytes).unwrap();
            // The header's capacity saturates (70 000 would wrap to 4 464 in 16 bits) …
            assert_eq!(bytes[4..6], u16::MAX.to_le_bytes());
            // … so a reply of capacity 4 464 is not fooled by the first bytes of this one.
            assert_eq!(
                Reply::<4_464>::decode(&bytes[..Reply::<4_464>::ENCODED_LEN]).map(|_| ()),
                Err(DecodeError::OtherCapacity)
            );
            assert!(Reply::<70_000>::decode(&bytes).is_ok());
        };
        std::thread::Builder::new().stack_size(16 << 20).spawn(run).unwrap().join().unwrap();
    }

    #[test]
    fn a_state_before_or_after_the_object_is_at_depth_zero() {
        let policy = Policy::FOLLOW_UP_BOSS;
        for (body, tag) in [(&br#"{"a":1}"#[..], 17), (b"  ", 3), (b"\xEF", 1)] {
            let mut reply = Request::new(0, Idempotency::Idempotent).response::<8, _>(&policy, 400, &());
            let _ = reply.feed(body);
            let mut ok = [0u8; Reply::<8>::ENCODED_LEN];
            reply.encode(&mut ok).unwrap();
            // The parser's state (offset 47), then its role and its depth.
            let (state, depth) = (47, 47 + 4);
            assert_eq!((ok[state], ok[depth]), (tag, 0), "{body:?}");
            for forged in [1, 2, 127] {
                let mut v = ok;
                v[depth] = forged;
                assert_eq!(
                    Reply::<8>::decode(&v).map(|_| ()),
                    Err(DecodeError::Invalid),
                    "{body:?} at depth {forged}"
                );
            }
        }
    }

    #[test]
    fn an_escape_half_read_holds_no_more_hex_digits_than_it_has_read() {
        let policy = Policy::FOLLOW_UP_BOSS;
        let mut reply = Request::new(0, Idempotency::Idempotent).response::<8, _>(&policy, 400, &());
        let _ = reply.feed(br#"{"errorMessage":"\u0F"#);
        let mut ok = [0u8; Reply::<8>::ENCODED_LEN];
        reply.encode(&mut ok).unwrap();
        // The parser's state (offset 47): inside `\u`, two digits read; its value at 47 + 31.
        let (state, hex) = (47, 47 + 31);
        assert_eq!(ok[state..state + 3], [14, 2, 0]);
        assert_eq!(ok[hex..hex + 2], 0x0Fu16.to_le_bytes());
        for (value, valid) in [(0x00FFu16, true), (0x0100, false), (0xF000, false)] {
            let mut v = ok;
            v[hex..hex + 2].copy_from_slice(&value.to_le_bytes());
            assert_eq!(Reply::<8>::decode(&v).is_ok(), valid, "two digits read, {value:#06x} kept");
        }
    }

    #[test]
    fn a_number_half_read_keeps_only_decimal_digits_below_its_count_and_no_leading_zero() {
        let policy = Policy::FOLLOW_UP_BOSS;
        let seen: RateLimitHeaders = Dialect::DISCORD.read(&[] as &[(&str, &str)]);
        let mut reply = Request::new(0, Idempotency::Idempotent).response_parsed::<8>(&policy, 429, &seen);
        let _ = reply.feed(br#"{"retry_after":12"#);
        let mut ok = [0u8; Reply::<8>::ENCODED_LEN];
        reply.encode(&mut ok).unwrap();
        // The number read so far (`retry_after`'s digits, four bits each, then how many): after
        // the message's length (47 + 51), the message (8), three flags, the wait told (9) and
        // `global` (1).
        let digits = 47 + 51 + 4 + 8 + 3 + 9 + 1;
        let kept = digits + 8;
        assert_eq!((&ok[digits..kept], ok[kept]), (&0x12u64.to_le_bytes()[..], 2));
        for (value, count, why) in [
            (0x12u64, 2, ""),
            (0xA2, 2, "a digit that is not decimal"),
            (0x1A, 2, "a last digit that is not decimal"),
            (0x112, 2, "a digit above the count"),
            (0x012, 3, "a leading zero kept"),
        ] {
            let mut v = ok;
            v[digits..kept].copy_from_slice(&value.to_le_bytes());
            v[kept] = count;
            assert_eq!(Reply::<8>::decode(&v).is_ok(), why.is_empty(), "{value:#x}, {count} kept: {why}");
        }
    }

    #[test]
    fn a_number_whose_exponent_saturated_round_trips() {
        let policy = Policy::FOLLOW_UP_BOSS;
        let seen: RateLimitHeaders = Dialect::DISCORD.read(&[] as &[(&str, &str)]);
        for body in [&br#"{"retry_after":1e99999999"#[..], br#"{"retry_after":1e-99999999"#] {
            let mut reply =
                Request::new(0, Idempotency::Idempotent).response_parsed::<8>(&policy, 429, &seen);
            let _ = reply.feed(body);
            let kept = through_bytes(&reply);
            let mut whole = kept.clone();
            let _ = whole.feed(b"}");
            let mut straight = reply;
            let _ = straight.feed(b"}");
            assert_eq!(whole.body_wait(), straight.body_wait());
        }
    }

    #[test]
    fn a_utf8_sequence_half_read_holds_no_more_bits_than_its_bytes_carry() {
        let policy = Policy::FOLLOW_UP_BOSS;
        let mut reply = Request::new(0, Idempotency::Idempotent).response::<8, _>(&policy, 400, &());
        // Two bytes of a four-byte sequence (U+1F600): 3 + 6 bits read, two bytes still needed.
        let _ = reply.feed(b"{\"errorMessage\":\"\xF0\x9F");
        let mut ok = [0u8; Reply::<8>::ENCODED_LEN];
        reply.encode(&mut ok).unwrap();
        // The UTF-8 decoder (offset 47 + 22): the code so far, then `need`, `lower`, `upper`.
        let code = 47 + 22;
        assert_eq!(&ok[code..code + 7], &[0x1F, 0, 0, 0, 2, 0x80, 0xBF]);
        for (value, valid) in [(0x1Fu32, true), (0x1FF, true), (0x200, false), (0x3FFF, false)] {
            let mut v = ok;
            v[code..code + 4].copy_from_slice(&value.to_le_bytes());
            assert_eq!(Reply::<8>::decode(&v).is_ok(), valid, "{value:#x} with two bytes needed");
        }
    }

    #[test]
    fn a_literal_is_read_from_its_second_letter_to_its_last() {
        let policy = Policy::FOLLOW_UP_BOSS;
        let mut reply = Request::new(0, Idempotency::Idempotent).response::<8, _>(&policy, 400, &());
        let _ = reply.feed(br#"{"a":tr"#);
        let mut ok = [0u8; Reply::<8>::ENCODED_LEN];
        reply.encode(&mut ok).unwrap();
        // The parser's state (offset 47): the literal's tag, which literal, letters read.
        let state = 47;
        assert_eq!(ok[state..state + 3], [16, 0, 2], "inside `true`, two letters read");
        for (at, valid) in [(0, false), (1, true), (2, true), (3, true), (4, false), (5, false)] {
            let mut v = ok;
            v[state + 2] = at;
            assert_eq!(Reply::<8>::decode(&v).is_ok(), valid, "`true` with {at} letters read");
        }
        let mut v = ok;
        v[state + 1] = 3; // true, false, null: no fourth
        assert_eq!(Reply::<8>::decode(&v).map(|_| ()), Err(DecodeError::Invalid));
    }

    /// A reachable reply of each kind, to start from.
    fn seeds() -> Vec<Reply<16>> {
        let policy = Policy::FOLLOW_UP_BOSS;
        let mut out = Vec::new();
        for body in BODIES {
            for (i, mut reply) in replies::<16>(&policy).into_iter().enumerate() {
                let _ = reply.feed(&body[..body.len() * (i + 1) / 7]);
                out.push(reply);
            }
        }
        out
    }

    proptest! {
        /// Replies read from any body cut into any chunks go through bytes at every chunk's
        /// end and decide as the original.
        #[test]
        fn any_body_in_any_chunks_round_trips_and_decides_as_the_original(
            body in prop::collection::vec(prop::sample::select(b"{}[]\":,\\u0189aeEfl.-+ \xC3\xA9\xED\xA0\xF0\x9Fr_tygbs".to_vec()), 0..80),
            prefix in prop::sample::select(vec![&b""[..], b"{", br#"{"errorMessage":""#, br#"{"retry_after":"#, br#"{"message":""#, br#"{"a":["#]),
            sizes in prop::collection::vec(1usize..9, 1..6),
            which in 0usize..6,
            seed in any::<u64>(),
        ) {
            let body = [prefix, &body[..]].concat();
            let reply = replies::<6>(&Policy::FOLLOW_UP_BOSS).swap_remove(which);
            same_through_bytes(reply, &body, &sizes, seed);
        }

        /// Any bytes, from a real encoding with a few changed or from nothing: a typed error,
        /// or a reply that encodes back to these very bytes and can be fed and finished.
        #[test]
        fn any_bytes_decode_to_a_reply_that_reencodes_the_same_or_an_error(
            flips in prop::collection::vec((0usize..Reply::<16>::ENCODED_LEN, any::<u8>()), 0..6),
            pick in 0usize..96,
            random in prop::collection::vec(any::<u8>(), Reply::<16>::ENCODED_LEN),
            from_random in any::<bool>(),
            rest in prop::collection::vec(any::<u8>(), 0..40),
        ) {
            let mut bytes = [0u8; Reply::<16>::ENCODED_LEN];
            let seeds = seeds();
            seeds[pick % seeds.len()].encode(&mut bytes).unwrap();
            if from_random {
                // Past the header: the rest of the bytes at random.
                bytes[6..].copy_from_slice(&random[6..]);
            }
            for (at, value) in flips {
                bytes[at] = value;
            }
            if let Ok(mut reply) = Reply::<16>::decode(&bytes) {
                let mut again = [0u8; Reply::<16>::ENCODED_LEN];
                reply.encode(&mut again).unwrap();
                prop_assert_eq!(&again[..], &bytes[..]);
                let _ = reply.feed(&rest);
                let _ = reply.finish(&Policy::FOLLOW_UP_BOSS, 1, &mut SplitMix(1));
            }
            if let Ok(request) = Request::decode(&bytes[..Request::ENCODED_LEN]) {
                let mut again = [0u8; Request::ENCODED_LEN];
                request.encode(&mut again).unwrap();
                prop_assert_eq!(&again[..], &bytes[..Request::ENCODED_LEN]);
            }
        }
    }
}
