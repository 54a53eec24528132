//! A fleet's shared state on Redis: many processes behind one API key share what the server
//! said (`Retry-After`, `X-RateLimit-*`, requests in flight), their retry budget and their
//! circuit breaker, so eight workers do not each believe they have the whole quota, and one
//! worker's 429 holds back every worker.
//!
//! [`FleetState`] is a [`SharedState`]: give it to the core's async driver, or to the reqwest
//! middleware, in place of the in-process `Mutex`, and nothing else changes —
//!
//! ```no_run
//! # fn demo() -> Result<(), backoff_core_redis::StoreError> {
//! use backoff_core::driver::Shared;
//! use backoff_core::Pacing;
//! use backoff_core_redis::FleetState;
//! use backoff_core_reqwest::RetryMiddleware;
//!
//! let fleet = FleetState::new("redis://127.0.0.1/", "fub:my-api-key", Shared::new(Pacing::Burst))?;
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(RetryMiddleware::new().shared_state(fleet))
//!     .build();
//! # let _ = client; Ok(()) }
//! ```
//!
//! Redis keeps bytes (the core's canonical encoding of [`Shared`], see
//! [`backoff_core::encoding`]); it never decides. Every step reads the state and the Redis
//! server's clock (`TIME`, so workers with skewed clocks agree), lets the core decide
//! ([`Shared::apply`]), and writes the new bytes back only if nobody changed them meanwhile:
//! a compare-and-set script comparing the whole value (canonical, so equal states are equal
//! bytes), retried on conflict up to [`MAX_CONFLICTS`] times. A worker killed mid-step leaves
//! the old value or the new one, never half of one: the script's `SET` is atomic.
//!
//! When Redis is unreachable (or holds bytes of another format version), the worker carries on
//! with its local copy of the last shared state, says so once on stderr, and rejoins the
//! shared state when Redis answers again.
//!
//! Why a script and not `WATCH`/`MULTI`: `WATCH` belongs to a connection, and a multiplexed
//! async connection is shared by the process's concurrent requests; a script is atomic on any
//! connection, in one round trip.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use backoff_core::driver::{Outcome, Shared, SharedState, Step};
use backoff_core::encoding::DecodeError;
use backoff_core::Permit;
use redis::aio::MultiplexedConnection;

/// How many rate-limit contexts the shared state remembers.
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

/// A client's [`Shared`] state (rate limits, and the budget and breaker if it has them) kept
/// in Redis under one key by every process using that key.
pub struct FleetState {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    key: String,
    script: redis::Script,
    /// The last shared state this worker saw, plus what it learnt while Redis was away; also
    /// what a new key starts from.
    local: Mutex<Shared<CONTEXTS>>,
    /// Redis's clock minus the caller's, in ms, as last measured: local steps keep to the
    /// shared clock's timeline.
    offset_ms: AtomicI64,
    degraded: AtomicBool,
    conflicts: AtomicU64,
}

impl std::fmt::Debug for FleetState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetState")
            .field("key", &self.key)
            .field("degraded", &self.is_degraded())
            .field("conflicts", &self.conflicts())
            .finish_non_exhaustive()
    }
}

impl FleetState {
    /// State shared under `key` (one key per API key) on the Redis at `url`. `initial` is what
    /// the key starts from if no worker has written it yet (its pacing, budget and breaker);
    /// once it exists, the stored state is the fleet's and `initial` is not used again.
    /// Connects lazily: a Redis that is down now is not an error.
    pub fn new(url: &str, key: &str, initial: Shared<CONTEXTS>) -> Result<Self, StoreError> {
        Ok(Self {
            client: redis::Client::open(url).map_err(StoreError::Redis)?,
            conn: tokio::sync::Mutex::new(None),
            key: key.to_owned(),
            script: redis::Script::new(COMPARE_AND_SET),
            local: Mutex::new(initial),
            offset_ms: AtomicI64::new(0),
            degraded: AtomicBool::new(false),
            conflicts: AtomicU64::new(0),
        })
    }

    /// How many times a step found the state changed by another worker and was done again.
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }

    /// Whether the last step was decided locally because the store could not be used.
    pub fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// The state as this worker last saw it (after its last step, shared or local).
    pub fn local_copy(&self) -> Shared<CONTEXTS> {
        self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Applies `step` at `now_ms` on the caller's clock: on the shared state at Redis's clock
    /// if Redis answers, else on the local copy at the shared clock as last measured. A
    /// [`Permit::Wait`] instant is given back on the caller's clock.
    pub async fn apply(&self, now_ms: u64, step: Step<'_>, entropy: u64) -> Outcome {
        let (outcome, offset) = match self.shared_step(now_ms, step, entropy).await {
            Ok(done) => {
                if self.degraded.swap(false, Ordering::Relaxed) {
                    eprintln!("backoff-core-redis: the shared state is back, rejoined");
                }
                done
            }
            Err(error) => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    eprintln!("backoff-core-redis: {error}; carrying on with local state");
                }
                let offset = self.offset_ms.load(Ordering::Relaxed);
                let mut local = self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                (local.apply(shift(now_ms, offset), step, entropy), offset)
            }
        };
        match outcome {
            // From the shared clock back to the caller's.
            Outcome::Permit(Permit::Wait { until_ms }) => {
                Outcome::Permit(Permit::Wait { until_ms: shift(until_ms, offset.saturating_neg()) })
            }
            other => other,
        }
    }

    async fn shared_step(
        &self,
        now_ms: u64,
        step: Step<'_>,
        entropy: u64,
    ) -> Result<(Outcome, i64), StoreError> {
        let mut guard = self.conn.lock().await;
        if guard.is_none() {
            *guard = Some(self.client.get_multiplexed_async_connection().await.map_err(StoreError::Redis)?);
        }
        let Some(conn) = guard.as_mut() else { return Err(StoreError::Contended) };
        let result = self.try_steps(conn, now_ms, step, entropy).await;
        if let Err(StoreError::Redis(_)) = &result {
            *guard = None; // reconnect next time
        }
        result
    }

    async fn try_steps(
        &self,
        conn: &mut MultiplexedConnection,
        now_ms: u64,
        step: Step<'_>,
        entropy: u64,
    ) -> Result<(Outcome, i64), StoreError> {
        for conflict in 0..MAX_CONFLICTS {
            if conflict > 0 {
                // Another worker wrote between our read and our write: step aside for a random
                // while, growing with each conflict, so that workers contending in step do not
                // collide again in step.
                tokio::time::sleep(pause(conflict, entropy)).await;
            }
            let (bytes, (secs, micros)): (Option<Vec<u8>>, (u64, u64)) = redis::pipe()
                .get(&self.key)
                .cmd("TIME")
                .query_async(conn)
                .await
                .map_err(StoreError::Redis)?;
            let now = secs.saturating_mul(1000).saturating_add(micros / 1000);
            let offset = i64::try_from(now)
                .unwrap_or(i64::MAX)
                .saturating_sub(i64::try_from(now_ms).unwrap_or(i64::MAX));
            self.offset_ms.store(offset, Ordering::Relaxed);
            let mut state = match &bytes {
                Some(bytes) => Shared::<CONTEXTS>::decode(bytes).map_err(StoreError::Decode)?,
                None => self.local_copy(),
            };
            let outcome = state.apply(now, step, entropy);
            let mut new = vec![0u8; Shared::<CONTEXTS>::ENCODED_LEN];
            if state.encode(&mut new).is_err() {
                return Err(StoreError::Contended);
            }
            if bytes.as_deref() == Some(new.as_slice()) {
                // Nothing changed (an observe that taught nothing): no write, no conflict.
                *self.local.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = state;
                return Ok((outcome, offset));
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
                return Ok((outcome, offset));
            }
            self.conflicts.fetch_add(1, Ordering::Relaxed);
        }
        Err(StoreError::Contended)
    }
}

impl SharedState for FleetState {
    type Pending<'a> = Pin<Box<dyn Future<Output = Option<Outcome>> + Send + 'a>>;

    /// Never `None`: without Redis the step is taken on the local copy.
    fn step<'a>(&'a self, now_ms: u64, step: Step<'a>, entropy: u64) -> Self::Pending<'a> {
        Box::pin(async move { Some(self.apply(now_ms, step, entropy).await) })
    }
}

/// The pause before the `conflict`th retry of a step: random, up to 100 µs × 2^(conflict−1),
/// at most 12.8 ms.
fn pause(conflict: usize, entropy: u64) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    static KEYS: std::sync::OnceLock<std::collections::hash_map::RandomState> = std::sync::OnceLock::new();
    let mut hasher = KEYS.get_or_init(std::collections::hash_map::RandomState::new).build_hasher();
    hasher.write_u64(entropy);
    hasher.write_usize(conflict);
    hasher.write_u64(std::process::id().into());
    let ceiling_us = 100u64 << conflict.saturating_sub(1).min(7);
    Duration::from_micros(hasher.finish() % (ceiling_us + 1))
}

fn shift(at: u64, by: i64) -> u64 {
    if by >= 0 {
        at.saturating_add(by.unsigned_abs())
    } else {
        at.saturating_sub(by.unsigned_abs())
    }
}
