//! A circuit breaker shared by a client's requests: stop sending to a server that is plainly
//! down, probe it now and then, and let the held work out spread over time when it is back.
//! The rules are on [`Breaker`].

use rand_core::TryRng;

use crate::backoff;
use crate::encoding::{check_header, finish, header, Error as EncodingError, Kind, Writer, HEADER_LEN};
use crate::rate_limit::Permit;

/// When a [`Breaker`] trips and how long it stays open. Plain `const` data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BreakerPolicy {
    /// Trip after this many failures in a row (0: never on a run alone).
    pub consecutive_failures: u16,
    /// Trip when at least this share of the requests in the window failed, in percent
    /// (0: never on a share alone)…
    pub failure_percent: u8,
    /// …over a sliding window of this many milliseconds…
    pub window_ms: u32,
    /// …holding at least this many requests.
    pub min_requests: u16,
    /// How long the first trip keeps the breaker open, in ms; each further trip without a
    /// close in between doubles it…
    pub break_ms: u32,
    /// …up to this cap, in ms.
    pub max_break_ms: u32,
    /// How many requests go through at once when half-open, as probes; the breaker closes
    /// when that many have succeeded.
    pub probes: u8,
    /// Held requests are released over this many ms after the break, each at a uniformly
    /// random instant, so a fleet's backlog does not arrive at once. (The break itself is
    /// jittered by up to half its length, so a fleet's probes do not arrive at once either.)
    pub release_spread_ms: u32,
}

impl BreakerPolicy {
    /// For an API client of one server (the crate's recommendation, from the fleet
    /// simulation in `docs/fleet.md`): trip on 5 failures in a row, or on half the requests of the
    /// last 10 s failing with at least 10 of them; open 2 s at first, doubling to 8 s (a
    /// quarter of the preset's longest backoff, so a recovery is seen sooner than a plain
    /// client sees it, for one probe per client every 8–12 s); the work held back released
    /// over 20 s, so a fleet's backlog does not knock the recovering server over again. In the
    /// fleet simulation (N = 1000, a 60 s outage) this sends 7.5 % of the plain preset's calls
    /// during the outage, fails nothing, and drains the backlog within 1.1× of the fastest. On
    /// the scenarios held out from its tuning it meets the bar (no more failed than the preset,
    /// a third of its calls, a drain within 1.25× of the fastest that fails no more) in 41 of
    /// 141; it always saves the calls and the requests, and misses on the drain: after 10 s
    /// outages (the break and the release outlast them), and where the fastest policies drain
    /// faster only by failing requests for good.
    pub const API_CLIENT: Self = Self {
        consecutive_failures: 5,
        failure_percent: 50,
        window_ms: 10_000,
        min_requests: 10,
        break_ms: 2_000,
        max_break_ms: 8_000,
        probes: 1,
        release_spread_ms: 20_000,
    };

    /// Polly's (v8) defaults: a failure ratio of 0.1 over 30 s with at least 100 requests,
    /// a fixed 5 s break; one probe. Tuned for a service with heavy traffic.
    pub const POLLY: Self = Self {
        consecutive_failures: 0,
        failure_percent: 10,
        window_ms: 30_000,
        min_requests: 100,
        break_ms: 5_000,
        max_break_ms: 5_000,
        probes: 1,
        release_spread_ms: 0,
    };

    /// resilience4j's defaults: a failure rate of 50 % over the last 100 calls (here: 60 s)
    /// with at least 100, 60 s open, 10 calls half-open.
    pub const RESILIENCE4J: Self = Self {
        consecutive_failures: 0,
        failure_percent: 50,
        window_ms: 60_000,
        min_requests: 100,
        break_ms: 60_000,
        max_break_ms: 60_000,
        probes: 10,
        release_spread_ms: 0,
    };

    /// Envoy's outlier detection: 5 consecutive 5xx eject for a base of 30 s, growing with
    /// each ejection (capped here at 300 s, Envoy's default `max_ejection_time`).
    pub const ENVOY: Self = Self {
        consecutive_failures: 5,
        failure_percent: 0,
        window_ms: 10_000,
        min_requests: 0,
        break_ms: 30_000,
        max_break_ms: 300_000,
        probes: 1,
        release_spread_ms: 0,
    };
}

/// The state a breaker is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum BreakerState {
    /// Requests go.
    Closed,
    /// No request goes before `until_ms`.
    Open {
        /// When the breaker turns half-open.
        until_ms: u64,
    },
    /// Up to `probes` requests go; the rest wait for their outcome.
    HalfOpen {
        /// Probes sent and not yet answered.
        in_flight: u8,
        /// Probes that succeeded.
        succeeded: u8,
    },
}

/// Whether an outcome counts against the server: no response at all (`None`), a 5xx, or a
/// status that is not HTTP. Every other answer — a success, or an error that is the client's
/// (4xx, 429) — shows a server that works. The one place this rule is written.
const fn server_failed(status: Option<u16>) -> bool {
    match status {
        None => true,
        Some(status) => status >= 500 || status < 100,
    }
}

const BUCKETS: usize = 8;

/// A circuit breaker: closed → open when failures that count (5xx, transport failures; not
/// 4xx) reach [`BreakerPolicy::consecutive_failures`] in a row, or
/// [`BreakerPolicy::failure_percent`] of at least [`BreakerPolicy::min_requests`] over the
/// sliding window (eight buckets); open for the break (doubling on each trip without a close,
/// to the cap, plus up to [`BreakerPolicy::release_spread_ms`] of jitter), during which every
/// request is told to wait; then half-open, letting [`BreakerPolicy::probes`] through, closing
/// when they all succeed and reopening (longer) when one fails.
///
/// A request told to wait while open gets its own instant, uniformly spread over
/// `release_spread_ms` after the break, so the work held back goes out spread over time rather
/// than in one instant that would knock the recovering server over again.
///
/// It plugs in where [`RateLimits`](crate::RateLimits) does: [`acquire`](Self::acquire)
/// before each send, [`observe`](Self::observe) each outcome. Never lets a request through
/// while open (property-tested); a clock that goes back is read as no time passed. 104 bytes
/// on a 64-bit host (fixed-width fields only: the same where `u64` is 8-aligned).
///
/// ```
/// use backoff_core::{Breaker, BreakerPolicy, Permit};
/// # let mut rng = rand_pcg::Pcg32::new(1, 1);
/// let mut breaker = Breaker::new(BreakerPolicy::API_CLIENT);
/// for t in 0..5 {
///     assert_eq!(breaker.acquire(t, &mut rng), Permit::Go);
///     breaker.observe(t, Some(503), &mut rng);
/// }
/// // Five failures in a row: open, for at least 2 s.
/// let Permit::Wait { until_ms } = breaker.acquire(10, &mut rng) else { panic!() };
/// assert!(until_ms >= 4 + 2_000);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Breaker {
    policy: BreakerPolicy,
    state: BreakerState,
    /// Trips since the last close: the break doubles with each.
    trips: u8,
    consecutive: u16,
    /// (requests, failures) per bucket of `window_ms / 8`.
    buckets: [(u16, u16); BUCKETS],
    /// The start of the newest bucket, and which one it is.
    bucket_start_ms: u64,
    newest: u8,
    /// The latest instant seen: a clock that goes back is read as standing still.
    latest_ms: u64,
    /// When the last half-open probe went: a probe never answered is given up after the
    /// longest break, so a lost response cannot keep the breaker half-open for ever.
    probe_ms: u64,
}

impl Breaker {
    /// A closed breaker.
    #[must_use]
    pub const fn new(policy: BreakerPolicy) -> Self {
        Self {
            policy,
            state: BreakerState::Closed,
            trips: 0,
            consecutive: 0,
            buckets: [(0, 0); BUCKETS],
            bucket_start_ms: 0,
            newest: 0,
            latest_ms: 0,
            probe_ms: 0,
        }
    }

    /// Where the breaker is.
    #[must_use]
    pub const fn state(&self) -> BreakerState {
        self.state
    }

    /// The policy it follows.
    #[must_use]
    pub const fn policy(&self) -> &BreakerPolicy {
        &self.policy
    }

    fn clock(&mut self, now_ms: u64) -> u64 {
        self.latest_ms = self.latest_ms.max(now_ms);
        self.latest_ms
    }

    /// May a request go at `now_ms`? [`Permit::Go`] counts a half-open probe as sent.
    pub fn acquire<R: TryRng + ?Sized>(&mut self, now_ms: u64, rng: &mut R) -> Permit {
        let now = self.clock(now_ms);
        if let BreakerState::Open { until_ms } = self.state {
            if now < until_ms {
                let (r, _) = backoff::draw(rng, self.policy.release_spread_ms, u32::from(self.trips), now);
                return Permit::Wait { until_ms: until_ms.saturating_add(u64::from(r)) };
            }
            self.state = BreakerState::HalfOpen { in_flight: 0, succeeded: 0 };
        }
        match self.state {
            BreakerState::HalfOpen { in_flight, succeeded } => {
                let lost = now >= self.probe_ms.saturating_add(u64::from(self.policy.max_break_ms.max(1)));
                let in_flight = if lost { 0 } else { in_flight };
                if in_flight.saturating_add(succeeded) < self.policy.probes.max(1) {
                    self.state = BreakerState::HalfOpen { in_flight: in_flight.saturating_add(1), succeeded };
                    self.probe_ms = now;
                    Permit::Go
                } else {
                    // Ask again once a probe could have answered, spread like a release.
                    let wait = u64::from(self.policy.break_ms.max(1));
                    let (r, _) =
                        backoff::draw(rng, self.policy.release_spread_ms, u32::from(self.trips), now);
                    Permit::Wait { until_ms: now.saturating_add(wait).saturating_add(u64::from(r)) }
                }
            }
            _ => Permit::Go,
        }
    }

    /// What happened to a request at `now_ms`: the `status` of its response, or `None` when
    /// none came (a transport failure). No response, a 5xx or a status that is not HTTP counts
    /// against the server; every other answer (a success, a 4xx, a 429: the client's error)
    /// shows a server that works. `rng` jitters the break if this trips it.
    pub fn observe<R: TryRng + ?Sized>(&mut self, now_ms: u64, status: Option<u16>, rng: &mut R) {
        let now = self.clock(now_ms);
        let failed = server_failed(status);
        self.count(now, failed);
        match (self.state, failed) {
            (BreakerState::HalfOpen { in_flight, succeeded }, false) => {
                let succeeded = succeeded.saturating_add(1);
                if succeeded >= self.policy.probes.max(1) {
                    self.close();
                } else {
                    self.state = BreakerState::HalfOpen { in_flight: in_flight.saturating_sub(1), succeeded };
                }
            }
            (BreakerState::HalfOpen { .. }, true) => self.trip(now, rng),
            (BreakerState::Closed, true) if self.should_trip() => self.trip(now, rng),
            _ => {}
        }
    }

    fn close(&mut self) {
        self.state = BreakerState::Closed;
        self.trips = 0;
        self.consecutive = 0;
        self.buckets = [(0, 0); BUCKETS];
    }

    fn trip<R: TryRng + ?Sized>(&mut self, now: u64, rng: &mut R) {
        let doubled = u64::from(self.policy.break_ms) << u32::from(self.trips.min(32));
        let break_ms = doubled.min(u64::from(self.policy.max_break_ms.max(self.policy.break_ms)));
        let half = u32::try_from(break_ms / 2).unwrap_or(u32::MAX);
        let (r, _) = backoff::draw(rng, half, u32::from(self.trips), now);
        self.state =
            BreakerState::Open { until_ms: now.saturating_add(break_ms).saturating_add(u64::from(r)) };
        self.trips = self.trips.saturating_add(1);
        self.consecutive = 0;
    }

    fn should_trip(&self) -> bool {
        let p = &self.policy;
        if p.consecutive_failures > 0 && self.consecutive >= p.consecutive_failures {
            return true;
        }
        let (requests, failures) = self
            .buckets
            .iter()
            .fold((0u32, 0u32), |(r, f), &(br, bf)| (r + u32::from(br), f + u32::from(bf)));
        p.failure_percent > 0
            && requests >= u32::from(p.min_requests.max(1))
            && failures * 100 >= requests * u32::from(p.failure_percent)
    }

    /// Counts an outcome in the sliding window, first retiring the buckets it slid past.
    fn count(&mut self, now: u64, failed: bool) {
        let width = u64::from((self.policy.window_ms / BUCKETS as u32).max(1));
        let passed = now.saturating_sub(self.bucket_start_ms) / width;
        // Nothing slid past (`passed == 0`): no bucket retired, the start stays.
        for _ in 0..passed.min(BUCKETS as u64) {
            self.newest = (self.newest + 1) % BUCKETS as u8;
            if let Some(bucket) = self.buckets.get_mut(usize::from(self.newest)) {
                *bucket = (0, 0);
            }
        }
        self.bucket_start_ms = self.bucket_start_ms.saturating_add(passed.saturating_mul(width));
        if let Some(bucket) = self.buckets.get_mut(usize::from(self.newest)) {
            bucket.0 = bucket.0.saturating_add(1);
            bucket.1 = bucket.1.saturating_add(u16::from(failed));
        }
        self.consecutive = if failed { self.consecutive.saturating_add(1) } else { 0 };
    }
}

// As bytes (the format: `crate::encoding`).

impl Breaker {
    /// The bytes [`encode`](Self::encode) writes.
    pub const ENCODED_LEN: usize = HEADER_LEN + 22 + 11 + 1 + 2 + BUCKETS * 4 + 8 + 1 + 8 + 8;

    /// Writes the breaker (its policy included) into `out[..ENCODED_LEN]`; the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodingError> {
        if out.len() < Self::ENCODED_LEN {
            return Err(EncodingError::BufferTooSmall);
        }
        let mut w = Writer { out, at: 0 };
        header(&mut w, Kind::Breaker, 0);
        let p = &self.policy;
        w.u16(p.consecutive_failures);
        w.u8(p.failure_percent);
        w.u32(p.window_ms);
        w.u16(p.min_requests);
        w.u32(p.break_ms);
        w.u32(p.max_break_ms);
        w.u8(p.probes);
        w.u32(p.release_spread_ms);
        match self.state {
            BreakerState::Closed => {
                w.u8(0);
                w.bytes(&[0; 10]);
            }
            BreakerState::Open { until_ms } => {
                w.u8(1);
                w.u64(until_ms);
                w.bytes(&[0; 2]);
            }
            BreakerState::HalfOpen { in_flight, succeeded } => {
                w.u8(2);
                w.u64(0);
                w.u8(in_flight);
                w.u8(succeeded);
            }
        }
        w.u8(self.trips);
        w.u16(self.consecutive);
        for (requests, failures) in self.buckets {
            w.u16(requests);
            w.u16(failures);
        }
        w.u64(self.bucket_start_ms);
        w.u8(self.newest);
        w.u64(self.latest_ms);
        w.u64(self.probe_ms);
        finish(&w, Self::ENCODED_LEN)
    }

    /// The breaker `encode` wrote, or why these bytes are not one.
    pub fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        let mut r = check_header(bytes, Kind::Breaker, 0, Self::ENCODED_LEN)?;
        let policy = BreakerPolicy {
            consecutive_failures: r.u16()?,
            failure_percent: r.u8()?,
            window_ms: r.u32()?,
            min_requests: r.u16()?,
            break_ms: r.u32()?,
            max_break_ms: r.u32()?,
            probes: r.u8()?,
            release_spread_ms: r.u32()?,
        };
        let tag = r.u8()?;
        let until_ms = r.u64()?;
        let (in_flight, succeeded) = (r.u8()?, r.u8()?);
        // Fields a state does not use are zero: one state, one encoding.
        let state = match (tag, until_ms, in_flight, succeeded) {
            (0, 0, 0, 0) => BreakerState::Closed,
            (1, until_ms, 0, 0) => BreakerState::Open { until_ms },
            (2, 0, in_flight, succeeded) => BreakerState::HalfOpen { in_flight, succeeded },
            _ => return Err(EncodingError::Invalid),
        };
        let mut breaker = Self::new(policy);
        breaker.state = state;
        breaker.trips = r.u8()?;
        breaker.consecutive = r.u16()?;
        for bucket in breaker.buckets.iter_mut() {
            *bucket = (r.u16()?, r.u16()?);
        }
        breaker.bucket_start_ms = r.u64()?;
        breaker.newest = r.u8()?;
        if usize::from(breaker.newest) >= BUCKETS {
            return Err(EncodingError::Invalid);
        }
        breaker.latest_ms = r.u64()?;
        breaker.probe_ms = r.u64()?;
        Ok(breaker)
    }
}
