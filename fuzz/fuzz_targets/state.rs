//! Decoding arbitrary bytes as shared state: a typed error or a state, never a panic; and a
//! state that decodes encodes back to the same bytes. The same for a request and a reply (the
//! C door's storage), and a reply that decodes can be fed the rest of the input and finished.
#![no_main]

use backoff_core::shared::Shared;
use backoff_core::{Breaker, Policy, RateLimits, Reply, Request, RetryBudget};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(limits) = RateLimits::<2>::decode(data) {
        let mut out = [0u8; RateLimits::<2>::ENCODED_LEN];
        assert_eq!(limits.encode(&mut out), Ok(out.len()));
        assert_eq!(&out[..], data);
    }
    if let Ok(budget) = RetryBudget::decode(data) {
        let mut out = [0u8; RetryBudget::ENCODED_LEN];
        assert_eq!(budget.encode(&mut out), Ok(out.len()));
        assert_eq!(&out[..], data);
    }
    if let Ok(breaker) = Breaker::decode(data) {
        let mut out = [0u8; Breaker::ENCODED_LEN];
        assert_eq!(breaker.encode(&mut out), Ok(out.len()));
        assert_eq!(&out[..], data);
    }
    if let Ok(shared) = Shared::<1>::decode(data) {
        let mut out = [0u8; Shared::<1>::ENCODED_LEN];
        assert_eq!(shared.encode(&mut out), Ok(out.len()));
        assert_eq!(&out[..], data);
    }
    if let Ok(request) = Request::decode(data) {
        let mut out = [0u8; Request::ENCODED_LEN];
        assert_eq!(request.encode(&mut out), Ok(out.len()));
        assert_eq!(&out[..], data);
    }
    // A reply's encoding, then body bytes to feed it.
    let (state, rest) = data.split_at(data.len().min(Reply::<8>::ENCODED_LEN));
    if let Ok(mut reply) = Reply::<8>::decode(state) {
        let mut out = [0u8; Reply::<8>::ENCODED_LEN];
        assert_eq!(reply.encode(&mut out), Ok(out.len()));
        assert_eq!(&out[..], state);
        let _ = reply.feed(rest);
        let _ = reply.finish(&Policy::FOLLOW_UP_BOSS, 1, &mut Zero);
    }
});

/// Words of zero: enough for a decision.
struct Zero;

impl rand_core::TryRng for Zero {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(0)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(0)
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        dst.fill(0);
        Ok(())
    }
}
