//! backoff-core's async driver on an embassy executor, as Cortex-M4 firmware (QEMU
//! `mps2-an386`): two requests of one client run concurrently through `driver::retry` against a
//! scripted transport, sharing their rate limits in a `RefCell`, on embassy's clock (driven by
//! a small SysTick time driver of ours). The decisions are checked against the same rules the
//! blocking firmware in `examples/firmware` checks; the exit status says whether they held.
//!
//! ```text
//! bash examples/firmware-embassy/run
//! ```

#![no_std]
#![no_main]

use core::cell::{Cell, RefCell};
use core::task::Waker;

use backoff_core::shared::Shared;
use backoff_core::{BodyKind, ErrorKind, Idempotency, Pacing, Policy, Stop, TransportFailure};
use backoff_core_async::{self as driver, Options, Transport};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use cortex_m_semihosting::{debug, hprintln};
use critical_section::Mutex;
use embassy_executor::Spawner;
use embassy_time::{Instant, Timer};
use embassy_time_driver::Driver;
use embassy_time_queue_utils::Queue;

/// A 1 kHz SysTick as embassy's time driver: ticks are milliseconds.
struct SysTickDriver {
    ticks: Mutex<Cell<u64>>,
    queue: Mutex<RefCell<Queue>>,
}

impl Driver for SysTickDriver {
    fn now(&self) -> u64 {
        critical_section::with(|cs| self.ticks.borrow(cs).get())
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        // The SysTick handler looks at the queue every tick, so no alarm needs setting.
        critical_section::with(|cs| {
            let _ = self.queue.borrow(cs).borrow_mut().schedule_wake(at, waker);
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: SysTickDriver = SysTickDriver {
    ticks: Mutex::new(Cell::new(0)),
    queue: Mutex::new(RefCell::new(Queue::new())),
});

#[exception]
fn SysTick() {
    critical_section::with(|cs| {
        let ticks = DRIVER.ticks.borrow(cs);
        ticks.set(ticks.get() + 1);
        // Wakes every timer that has expired.
        let _ = DRIVER.queue.borrow(cs).borrow_mut().next_expiration(ticks.get());
    });
}

/// The driver's timer: embassy's clock and `Timer::at`.
struct Clock;

impl driver::Timer for Clock {
    fn now_ms(&self) -> u64 {
        Instant::now().as_millis()
    }
    async fn sleep_until(&self, at_ms: u64) {
        Timer::at(Instant::from_millis(at_ms)).await;
    }
}

/// One scripted answer: status, headers, body.
type Answer = (u16, &'static [(&'static [u8], &'static [u8])], &'static [u8]);

struct Response {
    status: u16,
    headers: &'static [(&'static [u8], &'static [u8])],
    body: &'static [u8],
    read: usize,
}

impl backoff_core::Headers for Response {
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
        for (name, value) in self.headers {
            visit(name, value);
        }
    }
}

/// A transport that answers from a script after 40 ms of "network", and notes when it sent.
struct Scripted {
    answers: &'static [Answer],
    next: usize,
    sent_at: [u64; 4],
}

impl Transport for Scripted {
    type Response = Response;
    type Error = ();

    async fn send(&mut self) -> Result<Response, (TransportFailure, ())> {
        if let Some(slot) = self.sent_at.get_mut(self.next) {
            *slot = Instant::now().as_millis();
        }
        Timer::after_millis(40).await;
        let Some(&(status, headers, body)) = self.answers.get(self.next) else {
            return Err((TransportFailure::BeforeSend, ()));
        };
        self.next += 1;
        Ok(Response { status, headers, body, read: 0 })
    }

    fn status(response: &Response) -> u16 {
        response.status
    }

    async fn read(&mut self, response: &mut Response, buf: &mut [u8]) -> Result<usize, ()> {
        // The body arrives 16 bytes at a time.
        let rest = response.body.get(response.read..).unwrap_or_default();
        let n = rest.len().min(buf.len()).min(16);
        for (d, s) in buf.iter_mut().zip(rest.iter().take(n)) {
            *d = *s;
        }
        response.read += n;
        Ok(n)
    }
}

/// xorshift32: deterministic jitter for the check.
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
        for b in dst {
            *b = self.try_next_u32()? as u8;
        }
        Ok(())
    }
}

static POLICY: Policy = Policy::FOLLOW_UP_BOSS;
const MESSAGE: &str = "Invalid fields in the request body: emails.";

static FIRST: [Answer; 3] = [
    (503, &[(b"Content-Type", b"text/html")], b"<html><body>503 Service Unavailable</body></html>"),
    (
        429,
        &[(b"Retry-After", b"1"), (b"X-RateLimit-Context", b"events")],
        br#"{"errorMessage":"Too many requests"}"#,
    ),
    (400, &[], br#"{"errorMessage":"Invalid fields in the request body: emails.","code":400}"#),
];
static SECOND: [Answer; 1] = [(201, &[(b"X-RateLimit-Context", b"events")], b"{}")];

fn check(ok: bool, what: &str) -> bool {
    if !ok {
        hprintln!("WRONG: {}", what);
    }
    ok
}

#[embassy_executor::main]
async fn main(_spawner: Spawner) {
    if let Some(mut p) = cortex_m::Peripherals::take() {
        // mps2-an386 runs its core at 25 MHz: 25 000 cycles per millisecond.
        p.SYST.set_clock_source(SystClkSource::Core);
        p.SYST.set_reload(25_000 - 1);
        p.SYST.clear_current();
        p.SYST.enable_counter();
        p.SYST.enable_interrupt();
    }
    hprintln!("backoff-core's async driver on embassy (Cortex-M4)");
    let shared = RefCell::new(Shared::<4>::new(Pacing::Burst));
    let options = Options {
        policy: &POLICY,
        idempotency: Idempotency::Idempotent,
        context: Some(&b"events"[..]),
        shared: Some(&shared),
        dialect: &backoff_core::Dialect::FOLLOW_UP_BOSS,
        on_event: None,
    };
    let (mut first, mut second) = (
        Scripted { answers: &FIRST, next: 0, sent_at: [0; 4] },
        Scripted { answers: &SECOND, next: 0, sent_at: [0; 4] },
    );
    let (mut rng1, mut rng2) = (XorShift(0x2545_F491), XorShift(0x1234_5678));
    let clock = Clock;
    let a = driver::retry::<128, _, _, _, _>(options, &mut first, &clock, &mut rng1);
    let b = async {
        // The second request starts once the first has had its 429 (at about 1.1–2.1 s).
        Timer::after_millis(2_300).await;
        driver::retry::<128, _, _, _, _>(options, &mut second, &clock, &mut rng2).await
    };
    let (a, b) = embassy_futures::join::join(a, b).await;

    let mut ok = true;
    match a {
        Err(failure) => {
            hprintln!(
                "request 1: {} after {} attempts: {}",
                failure.error.status().unwrap_or(0),
                failure.error.attempts,
                failure.error.message().unwrap_or("(no message)")
            );
            ok &= check(failure.error.kind() == ErrorKind::BadRequest, "the 400 is a bad request");
            ok &= check(
                failure.error.stop == Stop::Permanent && failure.error.attempts == 3,
                "fails at once on the third attempt",
            );
            ok &=
                check(failure.error.message() == Some(MESSAGE), "the 400's message, read in 16-byte chunks");
            ok &= check(failure.error.cause.body.kind() == BodyKind::ErrorMessage, "an errorMessage body");
        }
        Ok(_) => ok &= check(false, "request 1 should fail with the 400"),
    }
    let [s0, s1, s2, _] = first.sent_at;
    let backoff = s1.saturating_sub(s0 + 40);
    hprintln!("request 1 sent at {} ms, {} ms, {} ms", s0, s1, s2);
    ok &= check((1000..=2000 + 5).contains(&backoff), "the 503 waits a backoff of 1000..=2000 ms");
    let told = s2.saturating_sub(s1 + 40);
    ok &= check((1000..=2000 + 5).contains(&told), "the 429 waits its Retry-After of 1 s plus up to 1 s");
    match b {
        Ok(success) => {
            hprintln!(
                "request 2: {} after {} attempt(s), sent at {} ms",
                success.response.status,
                success.attempts,
                second.sent_at[0]
            );
            ok &= check(success.attempts == 1, "request 2 succeeds at once");
        }
        Err(_) => ok &= check(false, "request 2 should succeed"),
    }
    // The 429 (answered at s1 + 40) held the `events` context for exactly 1 s: request 2, which
    // asked at 2.3 s, went no earlier than that.
    ok &= check(second.sent_at[0] >= 2_300, "request 2 was not sent before it asked");
    ok &= check(second.sent_at[0] + 1 >= s1 + 40 + 1000, "request 2 was held until the 429's Retry-After");
    if ok {
        hprintln!("all decisions as expected");
        debug::exit(debug::EXIT_SUCCESS);
    } else {
        debug::exit(debug::EXIT_FAILURE);
    }
    loop {
        cortex_m::asm::wfi();
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    loop {
        cortex_m::asm::wfi();
    }
}
