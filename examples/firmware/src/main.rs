//! backoff-core in Cortex-M firmware, run under QEMU.
//!
//! Drives the state machine through a scripted lifecycle — a 503, a 429 whose `Retry-After` is
//! an HTTP-date, a 400 whose `errorMessage` arrives in 16-byte chunks, then a new request
//! answered 201 — with a deterministic RNG and a fake clock, prints each decision over
//! semihosting, and exits non-zero if any decision differs from the expected one. It also
//! measures its own stack high-water mark by painting the stack first.
//!
//! No `core::fmt` anywhere (numbers are printed by hand), so that the `panic-free` build, whose
//! panic handler calls a symbol that does not exist, links only if no panic path survives in
//! the code the firmware calls. See `examples/firmware/README.md`.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hio};

#[entry]
fn main() -> ! {
    let top = cortex_m::register::msp::read() as usize;
    paint_stack(top);
    #[cfg(feature = "panic-canary")]
    {
        let digits = core::hint::black_box(*b"0123456789");
        print(&[digits[core::hint::black_box(10usize)]]);
    }
    let ok = scenario::run();
    #[cfg(feature = "all-api")]
    all_api::run();
    let used = stack_used(top);
    print(b"stack high-water mark: ");
    print_u64(used as u64);
    print(b" bytes\n");
    if ok {
        print(b"all decisions as expected\n");
        debug::exit(debug::EXIT_SUCCESS);
    } else {
        print(b"FAILED: a decision differs from the expected one\n");
        debug::exit(debug::EXIT_FAILURE);
    }
    loop {
        cortex_m::asm::wfi();
    }
}

#[cfg(not(any(feature = "baseline", feature = "sjc", feature = "parser-only", feature = "core-only")))]
mod scenario {
    //! The crate's public API as a real client uses it: policy, state machine, chunked body
    //! parser, header parsing (delay-seconds and HTTP-date), shared rate limits, retry budget.
    use super::{print, print_u64, XorShift};
    use backoff_core::{
        Action, BodyKind, ErrorKind, Idempotency, Pacing, Permit, Policy, RateLimits, Request, RetryBudget,
        Stop, Wait,
    };
    use core::hint::black_box;

    static POLICY: Policy = Policy::FOLLOW_UP_BOSS;
    const CONTEXT: &[u8] = b"events";
    const BAD_REQUEST: &[u8] =
        br#"{"errorMessage":"Invalid fields in the request body: emails.","code":400}"#;
    const MESSAGE: &str = "Invalid fields in the request body: emails.";

    /// `size_of` the public state types on this target, for the size report.
    fn print_sizes() {
        use backoff_core::{Error, Reply};
        use core::mem::size_of;
        let sizes: [(&[u8], usize); 7] = [
            (b"Policy", size_of::<Policy>()),
            (b"Request", size_of::<Request>()),
            (b"Reply<128>", size_of::<Reply<128>>()),
            (b"Error<128>", size_of::<Error<128>>()),
            (b"Action<128>", size_of::<Action<128>>()),
            (b"RateLimits<4>", size_of::<RateLimits<4>>()),
            (b"RetryBudget", size_of::<RetryBudget>()),
        ];
        print(b"sizes:");
        for (name, size) in sizes {
            print(b" ");
            print(name);
            print(b"=");
            print_u64(size as u64);
        }
        print(b"\n");
    }

    fn check(ok: bool, what: &[u8]) -> bool {
        if !ok {
            print(b"  MISMATCH: ");
            print(what);
            print(b"\n");
        }
        ok
    }

    pub fn run() -> bool {
        print_sizes();
        let mut rng = XorShift(black_box(0x2545_F491));
        let mut limits = RateLimits::<4>::new(Pacing::Smooth);
        let mut budget = RetryBudget::AWS_STANDARD;
        let mut now: u64 = black_box(1_000);
        let mut ok = true;

        // Headers are passed as one slice type throughout, as a real client's HTTP library
        // would hand them over: one copy of the header-reading code.
        // Request 1, attempt 1: 503 with an HTML body -> backoff 1000..=2000 ms.
        let request = Request::new(now, Idempotency::Idempotent);
        let headers: [(&[u8], &[u8]); 1] = [(b"Content-Type", b"text/html")];
        limits.observe(now, black_box(503), &headers[..]);
        let mut reply = request.response::<128, _>(&POLICY, black_box(503), &headers[..]);
        let _ = reply.feed(black_box(b"<html><body>503 Service Unavailable</body></html>"));
        let request = match reply.finish(&POLICY, now, &mut rng).settle(Some(&mut budget)) {
            Action::Retry(retry) => {
                print(b"attempt 1: 503 -> retry in ");
                print_u64(u64::from(retry.delay_ms));
                print(b" ms (backoff)\n");
                ok &= check((1000..=2000).contains(&retry.delay_ms), b"503 delay outside 1000..=2000");
                ok &= check(matches!(retry.wait, Wait::Backoff(_)), b"503 wait is not backoff");
                ok &= check(retry.cause.body.kind() == BodyKind::NotJson, b"503 body is not raw text");
                now = retry.at_ms;
                retry.request
            }
            _ => return check(false, b"503 was not retried"),
        };

        // Attempt 2: 429, Retry-After as an HTTP-date 3 s after Date -> 3000 ms plus up to 1 s of
        // spread, and the shared state holds the `events` context exactly until 3000 ms.
        let headers: [(&[u8], &[u8]); 3] = [
            (b"Date", b"Fri, 27 Nov 2026 10:00:00 GMT"),
            (b"Retry-After", b"Fri, 27 Nov 2026 10:00:03 GMT"),
            (b"X-RateLimit-Context", CONTEXT),
        ];
        limits.observe(now, black_box(429), &headers[..]);
        #[cfg(feature = "dialects")]
        {
            use backoff_core::Dialect;
            let ietf: [(&[u8], &[u8]); 2] =
                [(b"RateLimit-Policy", b"\"default\";q=100;w=10"), (b"RateLimit", b"\"default\";r=0;t=3")];
            let mut other = RateLimits::<4>::new(Pacing::Burst);
            other.observe_dialect(now, black_box(200), &ietf[..], black_box(&Dialect::IETF_DRAFT_11));
            other.observe_dialect(now, black_box(200), &headers[..], black_box(&Dialect::GITHUB));
            ok &= check(
                other.acquire(now + 1, Some(b"default")) == Permit::Wait { until_ms: now + 3000 },
                b"IETF reset not held",
            );
        }
        let mut reply = request.response::<128, _>(&POLICY, black_box(429), &headers[..]);
        let _ = reply.feed(black_box(br#"{"errorMessage":"Too many requests"}"#));
        let request = match reply.finish(&POLICY, now, &mut rng).settle(Some(&mut budget)) {
            Action::Retry(retry) => {
                print(b"attempt 2: 429 -> retry in ");
                print_u64(u64::from(retry.delay_ms));
                print(b" ms (Retry-After)\n");
                ok &= check(
                    (3000..=4000).contains(&retry.delay_ms) && matches!(retry.wait, Wait::RetryAfter(_)),
                    b"429 did not wait 3000..=4000 ms",
                );
                let held = limits.acquire(now + 1, Some(CONTEXT)) == Permit::Wait { until_ms: now + 3000 };
                ok &= check(held, b"rate-limit context not held until Retry-After");
                now = retry.at_ms;
                ok &= check(
                    limits.acquire(now, Some(CONTEXT)) == Permit::Go,
                    b"context still held after Retry-After",
                );
                retry.request
            }
            _ => return check(false, b"429 was not retried"),
        };

        // Attempt 3: 400, body in 16-byte chunks -> fail at once with the message.
        let headers: [(&[u8], &[u8]); 1] = [(b"Content-Type", b"application/json")];
        let mut reply = request.response::<128, _>(&POLICY, black_box(400), &headers[..]);
        for chunk in black_box(BAD_REQUEST).chunks(16) {
            let _ = reply.feed(chunk);
        }
        match reply.finish(&POLICY, now, &mut rng).settle(Some(&mut budget)) {
            Action::Fail(error) => {
                print(b"attempt 3: 400 -> fail: ");
                print(error.message().unwrap_or("(no message)").as_bytes());
                print(b"\n");
                ok &= check(error.kind() == ErrorKind::BadRequest, b"400 kind");
                ok &= check(error.stop == Stop::Permanent && error.attempts == 3, b"400 stop or attempts");
                ok &= check(error.message() == Some(MESSAGE), b"400 message");
            }
            _ => return check(false, b"400 did not fail"),
        }

        // Request 2: 201 -> succeed.
        let request = Request::new(now, Idempotency::Idempotent);
        let headers: [(&[u8], &[u8]); 1] = [(b"X-RateLimit-Remaining", b"249")];
        let reply = request.response::<128, _>(&POLICY, black_box(201), &headers[..]);
        match reply.finish(&POLICY, now, &mut rng).settle(Some(&mut budget)) {
            Action::Succeed { attempts } => {
                print(b"request 2: 201 -> succeed after ");
                print_u64(u64::from(attempts));
                print(b" attempt(s)\n");
                ok &= check(attempts == 1, b"201 attempts");
            }
            _ => return check(false, b"201 did not succeed"),
        }
        ok &= check(budget.tokens() == 500 - 5 - 5 + 1, b"retry budget");
        ok
    }
}

#[cfg(feature = "sjc")]
mod scenario {
    //! For comparison: only extracting `errorMessage` from the same 400 body, with
    //! serde-json-core 0.7 into a `heapless::String<128>` (its escaped mode).
    use super::print;
    use core::hint::black_box;

    #[derive(serde::Deserialize)]
    struct ErrorBody {
        #[serde(rename = "errorMessage")]
        error_message: Option<heapless::String<128>>,
    }

    pub fn run() -> bool {
        let body = black_box(br#"{"errorMessage":"Invalid fields in the request body: emails.","code":400}"#);
        let mut scratch = [0u8; 128];
        match serde_json_core::from_slice_escaped::<ErrorBody>(body, &mut scratch) {
            Ok((ErrorBody { error_message: Some(message) }, _)) => {
                print(b"serde-json-core: ");
                print(message.as_bytes());
                print(b"\n");
                message == "Invalid fields in the request body: emails."
            }
            _ => false,
        }
    }
}

#[cfg(feature = "parser-only")]
mod scenario {
    //! For comparison with `sjc`, the same job with this crate: only extracting `errorMessage`
    //! from the same 400 body with `Body::<128>::parse`.
    use super::print;
    use core::hint::black_box;

    pub fn run() -> bool {
        let body = black_box(br#"{"errorMessage":"Invalid fields in the request body: emails.","code":400}"#);
        match backoff_core::Body::<128>::parse(body).message() {
            Some(message) => {
                print(b"backoff-core parser: ");
                print(message.as_bytes());
                print(b"\n");
                message == "Invalid fields in the request body: emails."
            }
            None => false,
        }
    }
}

#[cfg(feature = "core-only")]
mod scenario {
    //! The whole core as a minimal client uses it, without the shared rate limits or the retry
    //! budget: policy, state machine, headers (`Retry-After` in either form) and the parser. A
    //! 503 with `Retry-After: 2` is retried in 2000 ms; the 400 that follows, read in 16-byte
    //! chunks, fails with its message.
    use super::{print, XorShift};
    use backoff_core::{Action, Idempotency, Policy, Request};
    use core::hint::black_box;

    static POLICY: Policy = Policy::FOLLOW_UP_BOSS;

    pub fn run() -> bool {
        let mut rng = XorShift(black_box(0x2545_F491));
        let now: u64 = black_box(1_000);
        let headers: [(&[u8], &[u8]); 2] =
            [(b"Date", black_box(b"Fri, 27 Nov 2026 10:00:00 GMT")), (b"Retry-After", black_box(b"2"))];
        let mut reply = Request::new(now, Idempotency::Idempotent).response::<128, _>(
            &POLICY,
            black_box(503),
            &headers[..],
        );
        let _ = reply.feed(black_box(b"<html><body>503 Service Unavailable</body></html>"));
        let request = match reply.finish(&POLICY, now, &mut rng) {
            Action::Retry(retry) if retry.delay_ms == 2000 => retry.request,
            _ => return false,
        };
        let body = black_box(br#"{"errorMessage":"Invalid fields in the request body: emails.","code":400}"#);
        let mut reply = request.response::<128, _>(&POLICY, black_box(400), &headers[..0]);
        for chunk in body.chunks(16) {
            let _ = reply.feed(chunk);
        }
        match reply.finish(&POLICY, now + 2000, &mut rng) {
            Action::Fail(error)
                if error.cause.body.message() == Some("Invalid fields in the request body: emails.") =>
            {
                print(b"core: 503 -> retry in 2000 ms; 400 -> fail with its message\n");
                true
            }
            _ => false,
        }
    }
}

#[cfg(all(feature = "baseline", not(feature = "sjc")))]
mod scenario {
    //! The baseline: the same firmware, printing, with nothing parsed or decided.
    use super::print;

    pub fn run() -> bool {
        print(core::hint::black_box(b"baseline: no crate code\n"));
        true
    }
}

#[cfg(feature = "all-api")]
mod all_api {
    //! Every public function the scenario does not call, on opaque inputs, so the panic-free
    //! link speaks for the whole public API. Results go to `black_box`, so nothing is dropped.
    use super::XorShift;
    use backoff_core::Reply;
    use backoff_core::{
        http_date, retry_after_ms, Action, Body, BodyParser, ContextName, ErrorKind, Idempotency, Jitter,
        Pacing, Policy, RateLimitHeaders, RateLimits, Request, RetryBudget, RetryOn, TransportFailure,
    };
    use core::hint::black_box;

    pub fn run() {
        let mut rng = XorShift(black_box(7));
        let jitters = [
            Jitter::None,
            Jitter::Additive { max_ms: black_box(1000) },
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
        ];
        let jitter = jitters.get(black_box(4usize)).copied().unwrap_or(Jitter::None);
        let policy = Policy::FOLLOW_UP_BOSS
            .with_base_ms(black_box(500))
            .with_max_backoff_ms(black_box(64_000))
            .with_jitter(jitter)
            .with_max_retries(black_box(u32::MAX))
            .with_deadline_ms(black_box(90_000))
            .with_retry_after_ceiling_ms(black_box(1_000))
            .with_retry_after_floor_ms(black_box(1_000))
            .with_retry_after_jitter_ms(black_box(u32::MAX))
            .with_retry_on(RetryOn::SERVER_ERROR.union(black_box(RetryOn::TRANSPORT)));
        black_box(RetryOn::ALL.contains(black_box(RetryOn::RATE_LIMITED)));
        black_box(policy.delay_bounds(black_box(u32::MAX)));
        black_box(policy.backoff(black_box(40), black_box(u64::MAX), &mut rng));
        black_box(policy.backoff_after(black_box(Some(u32::MAX)), black_box(3), 0, &mut rng));
        let _ =
            black_box(http_date::parse(black_box(b"Sunday, 06-Nov-94 08:49:37 GMT"), black_box(u32::MAX)));
        black_box(http_date::year_of(black_box(u64::MAX)));
        black_box(ErrorKind::from_status(black_box(65535)));

        let body = black_box(br#"{"error":"\ud83d\ude00","data":[1,{"a":null}]}"#);
        let parsed = Body::<16>::parse(body);
        black_box((parsed.kind(), parsed.message(), parsed.raw_text(), parsed.is_truncated()));
        let mut parser = BodyParser::<8>::default();
        for chunk in black_box(b"\xEF\xBB\xBF<html> \x01\xFF").chunks(3) {
            black_box(parser.feed(chunk));
        }
        black_box(parser.finish());
        black_box(Body::<4>::not_read());

        let headers: [(&[u8], &[u8]); 2] =
            [(b"Retry-After", black_box(b"120")), (b"x-ratelimit-context", b"a")];
        black_box(retry_after_ms(&headers[..]));
        black_box(retry_after_ms(&headers)); // the array impl of `Headers`, too
        black_box(Policy::default().max_retries);
        let seen = RateLimitHeaders::read(&headers[..]);
        black_box(seen);
        let mut limits = RateLimits::<2>::new(black_box(Pacing::Burst));
        limits.observe_parsed(black_box(5), black_box(429), &seen);
        black_box(limits.hold_until(black_box(5), None));
        let _ = black_box(limits.acquire(black_box(6), None));
        limits.abandon(black_box(None));
        if let Some(name) = ContextName::new(black_box(b"POST.events")) {
            black_box(name.as_str().len());
        }

        let mut budget = RetryBudget::new(black_box(10), 5, 10, 1);
        let request = Request::new(black_box(0), black_box(Idempotency::NotIdempotent));
        black_box((policy.base_ms, request.retries(), request.attempt(), request.idempotency()));
        let mut cut: Reply<16> = request.response(&policy, black_box(201), &headers[..]);
        black_box(cut.feed(black_box(b"{\"id\":")));
        let cut: Action<16> = cut.body_failed(&policy, black_box(1), &mut rng).settle(Some(&mut budget));
        black_box(matches!(cut, Action::Retry(_)));
        let cut: Action<16> = request
            .response::<16, _>(&policy, black_box(429), &headers[..])
            .body_failed(&policy, 1, &mut rng);
        black_box(matches!(cut, Action::Retry(_)));
        let action: Action<16> = request.complete(&policy, black_box(1), black_box(502), &(), body, &mut rng);
        if let Action::Retry(retry) = action {
            let next: Action<16> = retry
                .request
                .transport_failure(&policy, black_box(2), black_box(TransportFailure::BeforeSend), &mut rng)
                .settle(Some(&mut budget));
            if let Action::Fail(error) = &next {
                // `Display` too: formatting an error into a sink that only counts bytes.
                struct Count(usize);
                impl core::fmt::Write for Count {
                    fn write_str(&mut self, s: &str) -> core::fmt::Result {
                        self.0 += s.len();
                        Ok(())
                    }
                }
                let mut count = Count(0);
                let _ = core::fmt::write(&mut count, format_args!("{error}"));
                black_box(count.0);
            }
            black_box(matches!(next, Action::Fail(_)));
            let again: Action<16> =
                retry.request.transport_failure(&policy, 3, TransportFailure::AfterSend, &mut rng);
            black_box(matches!(again, Action::Succeed { .. }));
        }
        black_box(budget.tokens());
        breaker_dialects_and_states();
        #[cfg(feature = "driver")]
        driver();
    }

    /// The async driver (with a breaker in its shared state) polled to completion on a
    /// scripted transport. Built apart from the panic-free link: every `async fn` carries the
    /// compiler's "resumed after completion" panic (polling a finished future, which the
    /// `Future` contract leaves open); `run` checks it is the only panic path linked.
    #[cfg(feature = "driver")]
    fn driver() {
        use backoff_core::shared::Shared;
        use backoff_core::{Breaker, BreakerPolicy};
        use backoff_core_async::{self as driver, Options, Timer, Transport};
        use core::cell::{Cell, RefCell};
        use core::future::Future;
        use core::task::{Context, Poll, Waker};

        struct Reply(u16, u8);
        impl backoff_core::Headers for Reply {
            fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
                visit(b"Retry-After", b"1");
            }
        }
        struct Script(u8);
        impl Transport for Script {
            type Response = Reply;
            type Error = ();
            async fn send(&mut self) -> Result<Reply, (TransportFailure, ())> {
                self.0 = self.0.wrapping_add(1);
                match black_box(self.0) {
                    1 => Err((TransportFailure::BeforeSend, ())),
                    2 => Ok(Reply(503, 3)),
                    _ => Ok(Reply(black_box(201), 0)),
                }
            }
            fn status(r: &Reply) -> u16 {
                r.0
            }
            async fn read(&mut self, r: &mut Reply, buf: &mut [u8]) -> Result<usize, ()> {
                if r.1 == 0 {
                    return Ok(0);
                }
                r.1 -= 1;
                if let Some(b) = buf.first_mut() {
                    *b = b'x';
                }
                if black_box(r.1) == 7 {
                    Err(())
                } else {
                    Ok(1)
                }
            }
        }
        struct Clock(Cell<u64>);
        impl Timer for Clock {
            fn now_ms(&self) -> u64 {
                self.0.get()
            }
            async fn sleep_until(&self, at_ms: u64) {
                self.0.set(self.0.get().max(at_ms));
            }
        }
        let policy = Policy::FOLLOW_UP_BOSS;
        let shared = RefCell::new(
            Shared::<2>::new(Pacing::Smooth)
                .with_budget(RetryBudget::AWS_STANDARD)
                .with_breaker(Breaker::new(BreakerPolicy::API_CLIENT)),
        );
        let options = Options {
            policy: &policy,
            idempotency: black_box(Idempotency::NotIdempotent),
            context: Some(&b"events"[..]),
            shared: Some(&shared),
            dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
            on_event: None,
        };
        let (mut transport, clock, mut rng) = (Script(0), Clock(Cell::new(0)), XorShift(black_box(3)));
        let mut future =
            core::pin::pin!(driver::retry::<16, _, _, _, _>(options, &mut transport, &clock, &mut rng));
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..black_box(64) {
            if let Poll::Ready(result) = future.as_mut().poll(&mut cx) {
                black_box(result.is_ok());
                break;
            }
        }
    }

    /// The breaker, the dialects and the plain-data states: no `async` here, so these stay in
    /// the panic-free link.
    fn breaker_dialects_and_states() {
        use backoff_core::{Breaker, BreakerPolicy, Dialect};
        let policy = Policy::FOLLOW_UP_BOSS;
        let mut breaker = Breaker::new(black_box(BreakerPolicy::POLLY));
        let mut rng = XorShift(black_box(5));
        let _ = black_box(breaker.acquire(black_box(1), &mut rng));
        breaker.observe(black_box(2), Some(black_box(503)), &mut rng);
        black_box((breaker.state(), breaker.policy().break_ms));
        let headers: [(&[u8], &[u8]); 1] = [(b"RateLimit", black_box(b"a;r=1;t=2"))];
        let dialect = black_box(&Dialect::IETF_DRAFT_11);
        black_box(dialect.read(&headers[..]).reset_ms);
        let mut limits = backoff_core::RateLimits::<2>::new(Pacing::Burst);
        limits.observe_dialect(black_box(3), 200, &headers[..], black_box(&Dialect::GITHUB));
        black_box(backoff_core::dialect::parse_list(black_box(b"a;q=1"), &mut |item| {
            black_box(item.q);
        }));
        let request = black_box(Request::new(black_box(0), Idempotency::Idempotent));
        let reply = black_box(request.response::<16, _>(&policy, black_box(500), &()));
        black_box(reply.status());
        // A dialect that reads the body: the fields a 429 may carry its wait in.
        let discord = black_box(&Dialect::DISCORD);
        let told: [(&[u8], &[u8]); 1] = [(b"X-RateLimit-Bucket", black_box(b"abcd"))];
        let seen = discord.read(&told[..]);
        let status = black_box(429);
        black_box((seen.may_tell_in_body(status), seen.body_fields(status)));
        let mut reply = request.response_parsed::<16>(&policy, status, &seen);
        black_box(reply.feed(black_box(br#"{"retry_after": 6.4e1, "global": true}"#)));
        let wait = reply.body_wait();
        let mut limits = backoff_core::RateLimits::<2>::new(Pacing::Burst);
        limits.observe_parsed(black_box(4), status, &seen.clone().with_body(status, wait));
        let _ = black_box(reply.finish(&policy, black_box(5), &mut rng));
        let mut parser = BodyParser::<16>::reading(seen.body_fields(black_box(403)));
        black_box(parser.feed(black_box(br#"{"message":"You have exceeded a secondary rate limit"}"#)));
        black_box(parser.pushback().wait_ms);
    }
}

/// A xorshift32 generator: deterministic, tiny, good enough for jitter in a test.
#[cfg_attr(any(feature = "baseline", feature = "sjc", feature = "parser-only"), allow(dead_code))]
struct XorShift(u32);

impl rand_core::TryRng for XorShift {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        Ok(x)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok((u64::from(self.try_next_u32()?) << 32) | u64::from(self.try_next_u32()?))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for byte in dst {
            *byte = self.try_next_u32()? as u8;
        }
        Ok(())
    }
}

fn print(bytes: &[u8]) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = out.write_all(bytes);
    }
}

/// Prints a number without `core::fmt` (which is large and has panic paths of its own).
#[cfg_attr(feature = "sjc", allow(dead_code))]
fn print_u64(mut n: u64) {
    let mut digits = [0u8; 20];
    let mut len = 0;
    for slot in digits.iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
        len += 1;
        if n == 0 {
            break;
        }
    }
    print(digits.get(digits.len() - len..).unwrap_or_default());
}

const PAINT: u32 = 0xDEAD_BEEF;

extern "C" {
    /// The lowest address the stack may grow into (end of `.bss`), from cortex-m-rt's link.x.
    static mut __sheap: u32;
}

/// Fills the unused stack, from the end of `.bss` to just below the current frame, with a
/// pattern, so [`stack_used`] can find how deep the stack went.
fn paint_stack(top: usize) {
    let bottom = core::ptr::addr_of_mut!(__sheap) as usize;
    let mut at = bottom;
    // Stay 256 bytes clear of the live frame.
    while at + 4 < top.saturating_sub(256) {
        // SAFETY: `at` is word-aligned RAM between the end of `.bss` and the live stack frame;
        // nothing else uses it (there is no heap).
        unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}

/// Bytes of stack used since [`paint_stack`]: from the top to the lowest word overwritten.
fn stack_used(top: usize) -> usize {
    let bottom = core::ptr::addr_of_mut!(__sheap) as usize;
    let mut at = bottom;
    // SAFETY: reads of the same painted region, word-aligned.
    while at < top && unsafe { core::ptr::read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    let stack_start = cortex_m_rt_stack_start();
    stack_start.saturating_sub(at)
}

fn cortex_m_rt_stack_start() -> usize {
    extern "C" {
        static mut _stack_start: u32;
    }
    core::ptr::addr_of_mut!(_stack_start) as usize
}

#[cfg(not(feature = "panic-free"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    print(b"panic\n");
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}

#[cfg(feature = "panic-free")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    extern "C" {
        /// Deliberately defined nowhere: if any panic path survives optimisation, the link
        /// fails naming this symbol.
        fn backoff_core_firmware_has_a_reachable_panic_path() -> !;
    }
    // SAFETY: never runs; the link only succeeds if this call was optimised away.
    unsafe { backoff_core_firmware_has_a_reachable_panic_path() }
}
