//! A fleet's rate-limit state on Redis: many processes behind one API key share what the
//! server said (`Retry-After`, `X-RateLimit-*`, requests in flight), so eight workers do not
//! each believe they have the whole quota.
//!
//! Redis keeps bytes (the core's canonical encoding, [`backoff_core::encoding`]); it never
//! decides. Every step — [`FleetLimits::acquire`], [`FleetLimits::observe`],
//! [`FleetLimits::abandon`] — reads the state and the Redis server's clock (`TIME`, so
//! workers with skewed clocks agree), lets the core decide, and writes the new bytes back only
//! if nobody changed them meanwhile: a compare-and-set script comparing the whole value
//! (canonical, so equal states are equal bytes), retried on conflict up to
//! [`MAX_CONFLICTS`] times. A worker killed mid-step leaves the old value or the new one,
//! never half of one: the script's `SET` is atomic.
//!
//! When Redis is unreachable (or holds bytes of another format version), the worker carries on
//! with its local copy of the last shared state, says so once on stderr, and rejoins the
//! shared state when Redis answers again.
//!
//! Why a script and not `WATCH`/`MULTI`: `WATCH` belongs to a connection, and a multiplexed
//! async connection is shared by the process's concurrent requests; a script is atomic on any
//! connection, in one round trip.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use backoff_core::encoding::DecodeError;
use backoff_core::{Headers, Pacing, Permit, RateLimitHeaders, RateLimits};
use redis::aio::MultiplexedConnection;

/// How many contexts the shared state remembers.
pub const CONTEXTS: usize = 8;

/// How many times a step is retried when another worker changed the state meanwhile; past
/// that, the step is decided on the local copy.
pub const MAX_CONFLICTS: usize = 16;

/// `SET key new` if `key` still holds `expected` (an empty `expected`: if it does not exist).
const COMPARE_AND_SET: &str = r#"
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[1] == '') or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return 1
end
return 0
"#;

/// What went wrong talking to the store (the worker carries on locally either way).
#[derive(Debug)]
pub enum StoreError {
    /// Redis could not be reached, or failed the command.
    Redis(redis::RedisError),
    /// The key holds bytes this version of the crate did not write.
    Decode(DecodeError),
    /// Other workers changed the state every time, [`MAX_CONFLICTS`] times in a row.
    Contended,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Redis(e) => write!(f, "redis: {e}"),
            Self::Decode(e) => write!(f, "shared state: {e}"),
            Self::Contended => write!(f, "shared state changed by others {MAX_CONFLICTS} times in a row"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Rate limits shared through Redis by every process using the same `key`.
pub struct FleetLimits {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    key: String,
    script: redis::Script,
    /// The last shared state this worker saw, plus what it learnt while Redis was away.
    local: Mutex<RateLimits<CONTEXTS>>,
    /// Redis's clock minus the local one, in ms, as last measured: local steps keep to the
    /// shared clock's timeline.
    offset_ms: AtomicI64,
    degraded: AtomicBool,
    epoch: Instant,
    conflicts: std::sync::atomic::AtomicU64,
}

impl FleetLimits {
    /// State shared under `key` (one key per API key) on the Redis at `url`, paced as `pacing`
    /// says while the key is new. Connects lazily: a Redis that is down now is not an error.
    pub fn new(url: &str, key: &str, pacing: Pacing) -> Result<Self, StoreError> {
        Ok(Self {
            client: redis::Client::open(url).map_err(StoreError::Redis)?,
            conn: tokio::sync::Mutex::new(None),
            key: key.to_owned(),
            script: redis::Script::new(COMPARE_AND_SET),
            local: Mutex::new(RateLimits::new(pacing)),
            offset_ms: AtomicI64::new(0),
            degraded: AtomicBool::new(false),
            epoch: Instant::now(),
            conflicts: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// This process's monotonic clock, in ms: what [`Permit::Wait`] instants are on.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// How many times a step found the state changed by another worker and was done again.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// Whether the last step was decided locally because the store could not be used.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// May a request of `context` go now? A [`Permit::Wait`] instant is on [`now_ms`](Self::now_ms)'s
    /// clock.
    pub async fn acquire(&self, context: Option<&[u8]>) -> Permit {
        let (permit, offset) = self.step(|limits, now| limits.acquire(now, context)).await;
        match permit {
            Permit::Go => Permit::Go,
            // From the shared clock back to this process's.
            Permit::Wait { until_ms } => Permit::Wait { until_ms: shift(until_ms, -offset) },
        }
    }

    /// Teaches the shared state a response's status and headers.
    pub async fn observe<H: Headers + ?Sized>(&self, status: u16, headers: &H) {
        let seen = RateLimitHeaders::read(headers);
        self.step(|limits, now| limits.observe_parsed(now, status, &seen)).await;
    }

    /// A request let through got no response: no longer in flight.
    pub async fn abandon(&self, context: Option<&[u8]>) {
        self.step(|limits, _| limits.abandon(context)).await;
    }

    /// Runs `decide` on the shared state (or the local copy) at the shared clock's now;
    /// returns its answer and the clock offset it used.
    async fn step<T>(&self, decide: impl Fn(&mut RateLimits<CONTEXTS>, u64) -> T) -> (T, i64) {
        match self.shared_step(&decide).await {
            Ok((answer, offset)) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    eprintln!("backoff-core-redis: the shared state is back, rejoined");
                }
                (answer, offset)
            }
            Err(error) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    eprintln!("backoff-core-redis: {error}; carrying on with local state");
                }
                let offset = self.offset_ms.load(Ordering::Relaxed);
                let now = shift(self.now_ms(), offset);
                let mut local = self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                (decide(&mut local, now), offset)
            }
        }
    }

    async fn shared_step<T>(
        &self,
        decide: &impl Fn(&mut RateLimits<CONTEXTS>, u64) -> T,
    ) -> Result<(T, i64), StoreError> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            *guard = Some(self.client.get_multiplexed_async_connection().await.map_err(StoreError::Redis)?);
        }
        let Some(conn) = guard.as_mut() else { return Err(StoreError::Contended) };
        let result = self.try_steps(conn, decide).await;
        if let Err(StoreError::Redis(_)) = &result {
            *guard = None; // reconnect next time
        }
        result
    }

    async fn try_steps<T>(
        &self,
        conn: &mut MultiplexedConnection,
        decide: &impl Fn(&mut RateLimits<CONTEXTS>, u64) -> T,
    ) -> Result<(T, i64), StoreError> {
        for _ in 0..MAX_CONFLICTS {
            let local_before = self.now_ms();
            let (bytes, (secs, micros)): (Option<Vec<u8>>, (u64, u64)) = redis::pipe()
                .get(&self.key)
                .cmd("TIME")
                .query_async(conn)
                .await
                .map_err(StoreError::Redis)?;
            let now = secs.saturating_mul(1000).saturating_add(micros / 1000);
            let offset = i64::try_from(now).unwrap_or(i64::MAX) - i64::try_from(local_before).unwrap_or(0);
            self.offset_ms.store(offset, Ordering::Relaxed);
            let mut state = match &bytes {
                Some(bytes) => RateLimits::<CONTEXTS>::decode(bytes).map_err(StoreError::Decode)?,
                None => self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone(),
            };
            let answer = decide(&mut state, now);
            let mut new = vec![0u8; RateLimits::<CONTEXTS>::ENCODED_LEN];
            if state.encode(&mut new).is_err() {
                return Err(StoreError::Contended);
            }
            let expected = bytes.unwrap_or_default();
            let stored: i64 = self
                .script
                .key(&self.key)
                .arg(expected)
                .arg(new)
                .invoke_async(conn)
                .await
                .map_err(StoreError::Redis)?;
            if stored == 1 {
                *self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = state;
                return Ok((answer, offset));
            }
            self.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        Err(StoreError::Contended)
    }
}

fn shift(at: u64, by: i64) -> u64 {
    if by >= 0 {
        at.saturating_add(by.unsigned_abs())
    } else {
        at.saturating_sub(by.unsigned_abs())
    }
}
