//! Conversions from the `http` crate (1.x), behind the `http` feature: the header map and
//! response types that reqwest, hyper and ureq hand to their callers.

use crate::headers::Headers;
use crate::policy::Policy;
use crate::request::{Reply, Request};

impl Headers for ::http::HeaderMap {
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
        for (name, value) in self {
            visit(name.as_str().as_bytes(), value.as_bytes());
        }
    }
}

impl<B> Headers for ::http::Response<B> {
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
        self.headers().for_each(visit);
    }
}

impl Request {
    /// [`response`](Self::response) for an `http::Response`: its status and headers are read
    /// now; feed its body to the returned [`Reply`].
    ///
    /// ```
    /// use backoff_core::{Action, Idempotency, Policy, Request};
    ///
    /// let policy = Policy::FOLLOW_UP_BOSS;
    /// let response = http::Response::builder()
    ///     .status(429)
    ///     .header("Retry-After", "3")
    ///     .body(())
    ///     .unwrap();
    /// let reply = Request::new(0, Idempotency::Idempotent).http_response::<64, _>(&policy, &response);
    /// let mut rng = rand_pcg::Pcg32::new(1, 1);
    /// let Action::Retry(retry) = reply.finish(&policy, 0, &mut rng) else { panic!() };
    /// assert!((3_000..=4_000).contains(&retry.delay_ms)); // as told, plus up to 1 s of spread
    /// ```
    pub fn http_response<const N: usize, B>(
        self,
        policy: &Policy,
        response: &::http::Response<B>,
    ) -> Reply<N> {
        self.response(policy, response.status().as_u16(), response.headers())
    }
}
