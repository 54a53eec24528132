//! Decoding arbitrary bytes as shared state: a typed error or a state, never a panic; and a
//! state that decodes encodes back to the same bytes.
#![no_main]

use backoff_core::driver::Shared;
use backoff_core::{Breaker, RateLimits, RetryBudget};
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
});
