//! A real blocking HTTP client (ureq) that sends each request through backoff-core's state
//! machine and shared rate-limit state, sleeping as told. Shared by `examples/client.rs` and
//! `tests/http_client.rs`.
#![allow(dead_code)]

use std::io::Read;
use std::time::{Duration, Instant};

use backoff_core::{
    Action, Idempotency, Pacing, Permit, Policy, RateLimits, Request, RetryBudget, Stop, TransportFailure,
    Wait,
};
use rand_core::SeedableRng;

/// One attempt, as printed.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub request: usize,
    pub attempt: u32,
    /// The status, or `None` for a transport failure.
    pub status: Option<u16>,
    pub decision: Decision,
    /// How long the shared rate-limit state held the attempt back before it was sent.
    pub held_ms: u64,
    pub message: String,
    pub sent_at_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Succeed,
    Fail(Stop),
    Retry { delay_ms: u32, after_retry_after: bool },
}

pub struct Client<'p> {
    /// Whether each POST carries an `Idempotency-Key` the server honours, which makes it safe
    /// to send twice. Without one, a POST is `NotIdempotent`.
    pub idempotency_keys: bool,
    agent: ureq::Agent,
    url: String,
    api_key: Option<String>,
    policy: &'p Policy,
    limits: RateLimits<4>,
    budget: RetryBudget,
    rng: rand_pcg::Pcg32,
    start: Instant,
}

impl<'p> Client<'p> {
    pub fn new(url: &str, api_key: Option<String>, policy: &'p Policy, pacing: Pacing, seed: u64) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build();
        Self {
            idempotency_keys: true,
            agent: ureq::Agent::new_with_config(config),
            url: url.to_owned(),
            api_key,
            policy,
            limits: RateLimits::new(pacing),
            budget: RetryBudget::AWS_STANDARD,
            rng: rand_pcg::Pcg32::seed_from_u64(seed),
            start: Instant::now(),
        }
    }

    /// The caller's monotonic clock, in ms since the client started.
    pub fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Sleeps until the real instant `at_ms` has passed whole. The clock reads whole ms,
    /// rounded down, so a decision made at reading `k` was made up to 1 ms after `k`: waking at
    /// `at_ms + 1` keeps "never earlier than told" true in real time, not only on the clock.
    fn sleep_until(&self, at_ms: u64) {
        let wake = self.start + Duration::from_millis(at_ms.saturating_add(1));
        let now = std::time::Instant::now();
        if wake > now {
            std::thread::sleep(wake - now);
        }
    }

    /// Sends `POST` with `body` until the crate says stop; calls `report` after each attempt.
    pub fn post(
        &mut self,
        index: usize,
        body: &str,
        report: &mut dyn FnMut(&Attempt),
    ) -> Result<(), Box<backoff_core::Error<160>>> {
        let idempotency =
            if self.idempotency_keys { Idempotency::Idempotent } else { Idempotency::NotIdempotent };
        let mut request = Request::new(self.now_ms(), idempotency);
        loop {
            // Ask the shared state first: a 429 elsewhere may hold this context back.
            let asked = self.now_ms();
            while let Permit::Wait { until_ms } = self.limits.acquire(self.now_ms(), Some(b"events")) {
                self.sleep_until(until_ms);
            }
            let sent_at_ms = self.now_ms();
            let attempt = request.attempt();
            let mut call = self.agent.post(&self.url).header("Content-Type", "application/json");
            if let Some(key) = &self.api_key {
                call = call.header("Authorization", basic_auth(key));
            }
            if self.idempotency_keys {
                call = call.header("Idempotency-Key", format!("backoff-core-demo-{index}"));
            }
            let mut transport_error = None;
            let (status, action) = match call.send(body) {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let headers: Vec<(&str, &[u8])> =
                        response.headers().iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
                    self.limits.observe(self.now_ms(), status, headers.as_slice());
                    let mut reply = request.response::<160, _>(self.policy, status, headers.as_slice());
                    // Feed the body as it arrives, 64 bytes at a time, as firmware would.
                    let mut reader = response.body_mut().as_reader();
                    let mut chunk = [0u8; 64];
                    let read = loop {
                        match reader.read(&mut chunk) {
                            Ok(0) => break Ok(()),
                            Ok(n) => {
                                let _ = reply.feed(&chunk[..n]);
                            }
                            Err(error) => break Err(error),
                        }
                    };
                    let now = self.now_ms();
                    let budget = Some(&mut self.budget);
                    let action = match read {
                        Ok(()) => reply.finish(self.policy, now, &mut self.rng).settle(budget),
                        // The body broke off: a transport failure after sending, whatever the
                        // status said.
                        Err(error) => {
                            transport_error = Some(format!("body cut: {error}"));
                            reply.body_failed(self.policy, now, &mut self.rng).settle(budget)
                        }
                    };
                    (Some(status), action)
                }
                Err(error) => {
                    transport_error = Some(error.to_string());
                    let failure = match error {
                        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                            TransportFailure::BeforeSend
                        }
                        _ => TransportFailure::AfterSend,
                    };
                    let now = self.now_ms();
                    (
                        None,
                        request
                            .transport_failure(self.policy, now, failure, &mut self.rng)
                            .settle(Some(&mut self.budget)),
                    )
                }
            };
            let mut line = Attempt {
                request: index,
                attempt,
                status,
                decision: Decision::Succeed,
                held_ms: sent_at_ms - asked,
                message: String::new(),
                sent_at_ms,
            };
            match action {
                Action::Succeed { .. } => {
                    report(&line);
                    return Ok(());
                }
                Action::Fail(error) => {
                    line.decision = Decision::Fail(error.stop);
                    line.message = describe(&error.cause, transport_error.as_deref());
                    report(&line);
                    return Err(Box::new(error));
                }
                Action::Retry(retry) => {
                    line.decision = Decision::Retry {
                        delay_ms: retry.delay_ms,
                        after_retry_after: matches!(retry.wait, Wait::RetryAfter(_)),
                    };
                    line.message = describe(&retry.cause, transport_error.as_deref());
                    report(&line);
                    self.sleep_until(retry.at_ms);
                    request = retry.request;
                }
            }
        }
    }
}

/// The crate's account of the attempt, with the transport's own error text where there was one.
fn describe<const N: usize>(cause: &backoff_core::Cause<N>, transport: Option<&str>) -> String {
    match transport {
        Some(text) => format!("{cause}: {text}"),
        None => cause.to_string(),
    }
}

/// Follow Up Boss takes the API key as the user name of HTTP Basic auth.
fn basic_auth(key: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let input = format!("{key}:");
    let mut out = String::from("Basic ");
    for chunk in input.as_bytes().chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
