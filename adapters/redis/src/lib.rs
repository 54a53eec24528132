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
//! use backoff_core::shared::Shared;
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
//! # A step
//!
//! Redis keeps bytes (the core's canonical encoding of [`Shared`], see
//! [`backoff_core::encoding`]); it never decides. A step is decided by the core
//! ([`Shared::apply`]) on the value this worker saw last, and written back by a script that
//! compares the whole value (canonical, so equal states are equal bytes), sets it only if
//! unchanged, and answers with Redis's `TIME`: **one round trip** when nobody else changed the
//! value. If somebody did, the script's answer carries the current value, and the step is
//! decided again on it — one more round trip per conflict, as long as the step's time allows
//! (below): while Redis answers, every step is decided on the shared value. A worker killed
//! mid-step leaves the old value or the new one, never half of one: the script is atomic.
//!
//! # One clock, never early
//!
//! Every instant in the shared value is on Redis's clock (`TIME`), so workers with skewed
//! clocks agree. Each answer measures Redis's clock against the caller's as an interval: from
//! `TIME` rounded down less the caller's time after the answer, to `TIME` rounded up less the
//! caller's time before the question (widened by 1 ms per second since, for the clocks'
//! drift). A step is decided at the instant that errs late: a send is asked for at the
//! interval's earliest (a hold looks no shorter than it is) and the script refuses it if that
//! is past Redis's own `TIME`; what a response taught is learnt at the latest (a hold starts no
//! earlier than it did); a [`Permit::Wait`] is handed back on the caller's clock at its
//! latest. However long a step waited for its turn or its answer, no conversion comes out
//! early.
//!
//! # Faults
//!
//! Every call to Redis is bounded: [`Timeouts::connect`] to open a connection,
//! [`Timeouts::response`] for an answer; **a step waits on the store at most `connect +
//! response` (500 ms by default)**, conflicts included, and that only while Redis is believed
//! up. A step that gets no answer in time, or cannot use the key, is decided on the worker's
//! local copy at once; the worker says so once (on stderr, or through [`FleetState::with_log`]),
//! and every later step is local at once too — no request waits on a silent Redis — while a
//! background probe tries Redis again every [`Timeouts::rejoin_every`]. When it answers, the
//! probe rejoins: what the worker learnt alone (the steps it decided locally, kept in order,
//! the latest [`JOURNAL`]) is replayed onto the shared value at their instants on Redis's clock,
//! so a hold learnt while Redis was away — or before it was first reached — holds the fleet.
//!
//! | fault | what the worker does |
//! |---|---|
//! | Redis silent (stopped, packets dropped), before or after the first connection | the step waits at most `connect + response`, then local; rejoins when it answers |
//! | Redis down (refused) | local at once; rejoins when it answers |
//! | key absent (restart without persistence, `FLUSHALL`, `DEL`) | rebuilt from the last value seen with no request in flight (those counts belonged to a value that is gone), or from `initial`; then what was learnt alone |
//! | a value this crate did not write (another format version, garbage, truncated) or another type (a list…) | local, the message names the key; rejoins once the key is deleted (`DEL key`), or at once with [`ForeignValue::Replace`]; no reconnection either way |
//! | a wrong password, an unparsable URL | the message says which |
//!
//! In-flight counts: a send counted in the shared value is answered in it — its response, or
//! its failure, is applied to the shared value or, if Redis is away then, replayed onto it on
//! rejoining — and a rebuilt value counts nothing in flight. A worker killed between a send and
//! its answer leaves its count until the context has had no answer for a window (the core
//! forgets older sends then).
//!
//! Why a script and not `WATCH`/`MULTI`: `WATCH` belongs to a connection, and a multiplexed
//! async connection is shared by the process's concurrent requests; a script is atomic on any
//! connection, in one round trip.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use backoff_core::encoding;
use backoff_core::shared::{Outcome, Shared, SharedState, Step};
use backoff_core::{ErrorKind, Permit, RateLimitHeaders};
use redis::aio::MultiplexedConnection;

/// How many rate-limit contexts the shared state remembers.
pub const CONTEXTS: usize = 8;

/// How many steps decided on the local copy (while Redis was away) are kept to be replayed
/// onto the shared value on rejoining; past that, the oldest are dropped.
pub const JOURNAL: usize = 256;

/// The script of every round trip. `KEYS`: the state, and its turn (who may write next).
/// `ARGV` (four, so that a client without its password meets `NOAUTH`, not the limit Redis
/// puts on an unauthenticated command's length): a mode (`r`: read; `w`: compare-and-set;
/// `wr`: compare-and-set, taking over a key of another type), the value expected (empty: the
/// key absent), the new value, and `latest,id`: the latest Redis instant in ms the step may
/// be for (empty: any) and the worker's id when it asks for a turn (it has met conflicts). It answers `{1, secs, micros}` when it set the value (or found it
/// already equal), `{0, secs, micros[, current]}` when it did not (the current value, absent
/// if none), `{2, secs, micros, type}` for a key of another type.
///
/// The turn: a worker that keeps meeting conflicts would otherwise lose to one that writes
/// step after step (it knows the current value without asking), for as long as that one
/// writes. A conflicting worker asking for a turn gets it if nobody holds it, for at most
/// 100 ms; while it holds it, others' writes are refused as conflicts, so its next write —
/// on the value this answer carries — goes through, and gives the turn back.
const STEP: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local kind = redis.call('TYPE', KEYS[1])['ok']
if kind ~= 'string' and kind ~= 'none' then
  if ARGV[1] == 'wr' then
    redis.call('DEL', KEYS[1])
  else
    return {2, t[1], t[2], kind}
  end
end
local current = redis.call('GET', KEYS[1])
local latest, id = string.match(ARGV[4], '^(%d*),(.*)$')
if ARGV[1] ~= 'r' then
  local turn = redis.call('GET', KEYS[2])
  local mine = turn == false or turn == id
  local same = (current == false and ARGV[2] == '') or current == ARGV[2]
  if mine and same and (latest == '' or tonumber(latest) <= now) then
    if current ~= ARGV[3] then
      redis.call('SET', KEYS[1], ARGV[3])
    end
    if turn ~= false then
      redis.call('DEL', KEYS[2])
    end
    return {1, t[1], t[2]}
  end
  if turn == false and id ~= '' then
    redis.call('SET', KEYS[2], id, 'PX', 100)
  end
end
if current == false then
  return {0, t[1], t[2]}
end
return {0, t[1], t[2], current}
"#;

/// How long a worker waits on Redis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// Opening a connection: TCP, and the client's handshake (`AUTH`, `SELECT`).
    pub connect: Duration,
    /// One answer. A step waits at most `connect + response` in all (conflicts included).
    pub response: Duration,
    /// While Redis is away, how often a background probe tries it again.
    pub rejoin_every: Duration,
}

impl Timeouts {
    /// 250 ms to connect, 250 ms for an answer, a probe every 500 ms: far above a round trip
    /// in one data centre (well under a millisecond), short enough that a request barely
    /// notices the store's failure.
    pub const DEFAULT: Self = Self {
        connect: Duration::from_millis(250),
        response: Duration::from_millis(250),
        rejoin_every: Duration::from_millis(500),
    };
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// What to do with a key holding something this crate did not write: bytes of another format
/// version, of another program, cut short, or a key of another type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForeignValue {
    /// Leave it; carry on locally and rejoin once it is deleted (`DEL key`). The safe choice
    /// when the key may belong to something else, or to workers of another version during a
    /// rolling upgrade.
    #[default]
    Keep,
    /// Write the fleet's state over it.
    Replace,
}

/// What went wrong talking to the store (the worker carries on locally either way).
#[derive(Debug)]
pub enum StoreError {
    /// The Redis URL cannot be used.
    Url {
        /// The URL, its password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Redis could not be reached, or failed the command.
    Redis(redis::RedisError),
    /// No answer, or no turn among contending workers, within this long.
    Timeout(Duration),
    /// The key holds bytes this version of the crate did not write.
    Foreign {
        /// The key.
        key: String,
        /// Why the bytes are not a state.
        error: encoding::Error,
    },
    /// The key holds another type than a string.
    WrongType {
        /// The key.
        key: String,
        /// Its type, as `TYPE` says.
        kind: String,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const WAY_BACK: &str = "the fleet rejoins once it is deleted (redis-cli DEL), or takes it over with ForeignValue::Replace";
        match self {
            Self::Url { url, reason } => write!(f, "Redis URL {url:?}: {reason}"),
            Self::Redis(e) if e.code() == Some("NOAUTH") || e.code() == Some("WRONGPASS") => write!(
                f,
                "redis: {e} (Redis asks for a password: put it in the URL, redis://[user]:PASSWORD@host/)"
            ),
            Self::Redis(e) => write!(f, "redis: {e}"),
            Self::Timeout(after) => write!(f, "Redis did not answer within {} ms", after.as_millis()),
            Self::Foreign { key, error } => {
                write!(f, "key {key:?} holds a value this crate did not write ({error}); {WAY_BACK}")
            }
            Self::WrongType { key, kind } => {
                write!(f, "key {key:?} holds a {kind}, not this crate's state; {WAY_BACK}")
            }
        }
    }
}

impl std::error::Error for StoreError {}

impl StoreError {
    /// Whether the connection is to be dropped: it failed, or it may have answers in flight
    /// that would now come late.
    fn breaks_connection(&self) -> bool {
        match self {
            Self::Redis(e) => e.is_io_error() || e.is_timeout() || e.is_connection_dropped(),
            Self::Timeout(_) => true,
            Self::Url { .. } | Self::Foreign { .. } | Self::WrongType { .. } => false,
        }
    }

    /// Two errors of one kind are one episode: said once.
    fn same_kind(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// A client's [`Shared`] state (rate limits, and the budget and breaker if it has them) kept
/// in Redis under one key by every process using that key.
pub struct FleetState {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    key: String,
    timeouts: Timeouts,
    foreign: ForeignValue,
    initial: Shared<CONTEXTS>,
    script: redis::Script,
    /// This worker's name in the script's turn.
    id: u64,
    log: Box<dyn Fn(&str) + Send + Sync>,
    /// Serialises this process's round trips, so its own steps do not conflict.
    session: tokio::sync::Mutex<Session>,
    /// A step gave up waiting: its connection may still bring answers, so it is dropped.
    stale: AtomicBool,
    local: Mutex<Local>,
    link: Mutex<Link>,
    /// The caller's clock at an instant of ours (the latest step's start), for the probe.
    anchor: Mutex<(Instant, u64)>,
    conflicts: AtomicU64,
    longest_us: AtomicU64,
    local_steps: AtomicU64,
}

struct Session {
    conn: Option<MultiplexedConnection>,
    seen: Seen,
    /// The last shared value seen, decoded: what an absent key is rebuilt from.
    last_shared: Option<Shared<CONTEXTS>>,
}

/// The key as last seen.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Unknown,
    Absent,
    Value(Vec<u8>),
    WrongType(String),
}

struct Local {
    /// The shared state as last seen, plus the steps decided here since.
    state: Shared<CONTEXTS>,
    /// Redis's clock against the caller's; `None` before Redis was first reached, when the
    /// local copy runs on the caller's clock.
    clock: Option<Clock>,
    /// The steps decided here, to be replayed onto the shared value.
    journal: VecDeque<Entry>,
}

#[derive(Default)]
struct Link {
    /// Why the store is not used, since when it was said, whether a probe is out, and when
    /// the last one went.
    down: Option<Down>,
}

struct Down {
    error: StoreError,
    /// A probe is out (none without a tokio runtime: then a step probes, see `apply`).
    probing: bool,
}

/// Redis's clock minus the caller's, in ms, as an interval that holds the truth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Clock {
    lo: i64,
    hi: i64,
    /// The caller's instant it was measured at.
    at_ms: u64,
}

impl Clock {
    /// From one answer: `TIME` was read after `before_ms` and before `after_ms` (caller's
    /// clock, bounds that hold).
    fn measured(before_ms: u64, after_ms: u64, (secs, micros): (u64, u64)) -> Self {
        let floor = secs.saturating_mul(1000).saturating_add(micros / 1000);
        let ceil = secs.saturating_mul(1000).saturating_add(micros.div_ceil(1000));
        Self {
            lo: signed(floor).saturating_sub(signed(after_ms)),
            hi: signed(ceil).saturating_sub(signed(before_ms)),
            at_ms: after_ms,
        }
    }

    /// The interval at `caller_ms`: 1 ms per second since it was measured for the clocks'
    /// drift (twice NTP's largest slew).
    fn at(self, caller_ms: u64) -> (i64, i64) {
        let drift = signed(caller_ms.abs_diff(self.at_ms) / 1000);
        (self.lo.saturating_sub(drift), self.hi.saturating_add(drift))
    }

    /// The Redis instant a step taken at `caller_ms` is decided at: the earliest for a send
    /// (a hold looks no shorter), the latest for anything learnt (a hold starts no earlier).
    fn to_redis(self, caller_ms: u64, send: bool) -> u64 {
        let (lo, hi) = self.at(caller_ms);
        shift(caller_ms, if send { lo } else { hi })
    }

    /// A Redis instant on the caller's clock, at its latest.
    fn to_caller(self, redis_ms: u64, caller_ms: u64) -> u64 {
        shift(redis_ms, self.at(caller_ms).0.saturating_neg())
    }
}

/// A step decided on the local copy, kept to be replayed.
#[derive(Clone, Debug)]
struct Entry {
    at_ms: u64,
    step: OwnedStep,
    entropy: u64,
}

#[derive(Clone, Debug)]
enum OwnedStep {
    Acquire(Option<Vec<u8>>),
    Observe(u16, RateLimitHeaders),
    Failed(Option<Vec<u8>>),
    BodyFailed,
    Pay(ErrorKind),
    Refund,
}

impl OwnedStep {
    fn of(step: &Step<'_>) -> Self {
        match *step {
            Step::Acquire { context } => Self::Acquire(context.map(<[u8]>::to_vec)),
            Step::Observe { status, seen } => Self::Observe(status, seen),
            Step::Failed { context } => Self::Failed(context.map(<[u8]>::to_vec)),
            Step::BodyFailed => Self::BodyFailed,
            Step::Pay { kind } => Self::Pay(kind),
            Step::Refund => Self::Refund,
        }
    }

    /// The step as replayed onto the shared value: a response's `Remaining` is stale by then
    /// (other workers' sends since are counted there) and would raise the shared count, so it
    /// is kept only when it says 0 (a spent window, which holds).
    fn replayed(&self) -> Step<'_> {
        match self {
            Self::Observe(status, seen) => {
                let seen = RateLimitHeaders { remaining: seen.remaining.filter(|&left| left == 0), ..*seen };
                Step::Observe { status: *status, seen }
            }
            other => other.step(),
        }
    }

    fn step(&self) -> Step<'_> {
        match self {
            Self::Acquire(context) => Step::Acquire { context: context.as_deref() },
            Self::Observe(status, seen) => Step::Observe { status: *status, seen: *seen },
            Self::Failed(context) => Step::Failed { context: context.as_deref() },
            Self::BodyFailed => Step::BodyFailed,
            Self::Pay(kind) => Step::Pay { kind: *kind },
            Self::Refund => Step::Refund,
        }
    }
}

impl std::fmt::Debug for FleetState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetState")
            .field("key", &self.inner.key)
            .field("degraded", &self.is_degraded())
            .field("conflicts", &self.conflicts())
            .finish_non_exhaustive()
    }
}

impl FleetState {
    /// State shared under `key` (one key per API key) on the Redis at `url`
    /// (`redis://[:password@]host[:port][/db]`, or `unix:///path`). `initial` is what the key
    /// starts from if no worker has written it yet (its pacing, budget and breaker); once it
    /// exists, the stored state is the fleet's and `initial` is not used again. Connects
    /// lazily: a Redis that is down now is not an error; a URL that cannot be used is.
    pub fn new(url: &str, key: &str, initial: Shared<CONTEXTS>) -> Result<Self, StoreError> {
        let shown = hide_password(url);
        check_url(url).map_err(|reason| StoreError::Url { url: shown.clone(), reason })?;
        let client = redis::Client::open(url).map_err(|e| StoreError::Url {
            url: shown,
            reason: format!("not accepted by the client: {e}"),
        })?;
        Ok(Self {
            inner: Arc::new(Inner {
                client,
                key: key.to_owned(),
                timeouts: Timeouts::DEFAULT,
                foreign: ForeignValue::Keep,
                initial: initial.clone(),
                script: redis::Script::new(STEP),
                id: worker_id(key),
                log: Box::new(|line| eprintln!("{line}")),
                session: tokio::sync::Mutex::new(Session {
                    conn: None,
                    seen: Seen::Unknown,
                    last_shared: None,
                }),
                stale: AtomicBool::new(false),
                local: Mutex::new(Local { state: initial, clock: None, journal: VecDeque::new() }),
                link: Mutex::new(Link::default()),
                anchor: Mutex::new((Instant::now(), 0)),
                conflicts: AtomicU64::new(0),
                longest_us: AtomicU64::new(0),
                local_steps: AtomicU64::new(0),
            }),
        })
    }

    /// With other timeouts (before the first step).
    #[must_use]
    pub fn with_timeouts(self, timeouts: Timeouts) -> Self {
        self.rebuilt(|inner| inner.timeouts = timeouts)
    }

    /// With another answer to a key holding something else than this crate's state.
    #[must_use]
    pub fn with_foreign_value(self, foreign: ForeignValue) -> Self {
        self.rebuilt(|inner| inner.foreign = foreign)
    }

    /// Says what happens to the store (Redis away, back, a key it cannot use) through `log`
    /// instead of stderr: one line when it happens, never one per step.
    #[must_use]
    pub fn with_log(self, log: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.rebuilt(|inner| inner.log = Box::new(log))
    }

    fn rebuilt(self, change: impl FnOnce(&mut Inner)) -> Self {
        match Arc::try_unwrap(self.inner) {
            Ok(mut inner) => {
                change(&mut inner);
                Self { inner: Arc::new(inner) }
            }
            // A probe holds it: only possible after a step, when the builders are done.
            Err(inner) => Self { inner },
        }
    }

    /// How many times a step found the state changed by another worker and was decided again.
    pub fn conflicts(&self) -> u64 {
        self.inner.conflicts.load(Ordering::Relaxed)
    }

    /// Whether the store is not used now: steps are decided on the local copy.
    pub fn is_degraded(&self) -> bool {
        lock(&self.inner.link).down.is_some()
    }

    /// How many steps were decided on the local copy.
    pub fn local_steps(&self) -> u64 {
        self.inner.local_steps.load(Ordering::Relaxed)
    }

    /// The longest a step took (what a request waited on the store, at most
    /// `connect + response`).
    pub fn longest_step(&self) -> Duration {
        Duration::from_micros(self.inner.longest_us.load(Ordering::Relaxed))
    }

    /// The state as this worker last saw it (after its last step, shared or local).
    pub fn local_copy(&self) -> Shared<CONTEXTS> {
        lock(&self.inner.local).state.clone()
    }

    /// Applies `step` at `now_ms` on the caller's clock: on the shared state at Redis's clock
    /// if Redis answers in time, else on the local copy. A [`Permit::Wait`] instant is given
    /// back on the caller's clock.
    pub async fn apply(&self, now_ms: u64, step: Step<'_>, entropy: u64) -> Outcome {
        let inner = &self.inner;
        let started = Instant::now();
        *lock(&inner.anchor) = (started, now_ms);
        let shared = if inner.is_up() {
            let budget = inner.timeouts.connect.saturating_add(inner.timeouts.response);
            let attempt = tokio::time::timeout(budget, inner.shared(now_ms, started, Some((step, entropy))));
            match attempt.await {
                Ok(Ok(done)) => {
                    inner.up();
                    done
                }
                Ok(Err(error)) => {
                    Inner::down(inner, error);
                    None
                }
                Err(_) => {
                    inner.stale.store(true, Ordering::Relaxed);
                    Inner::down(inner, StoreError::Timeout(budget));
                    None
                }
            }
        } else {
            None
        };
        let outcome = match shared {
            Some(outcome) => outcome,
            None => inner.local_step(now_ms, step, entropy),
        };
        let took = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        inner.longest_us.fetch_max(took, Ordering::Relaxed);
        outcome
    }
}

impl Inner {
    /// Whether a step is to try the store: it is up, or down with no probe out (no tokio
    /// runtime to run one), when every step tries it again.
    fn is_up(&self) -> bool {
        lock(&self.link).down.as_ref().is_none_or(|down| !down.probing)
    }

    fn up(&self) {
        if lock(&self.link).down.take().is_some() {
            (self.log)(&format!(
                "backoff-core-redis: Redis answers again; rejoined the shared state under key {:?}",
                self.key
            ));
        }
    }

    /// The store cannot be used: said once (again only if the reason changes), and a probe
    /// started if none is out.
    fn down(this: &Arc<Self>, error: StoreError) {
        let mut link = lock(&this.link);
        let said = link.down.as_ref().is_some_and(|down| down.error.same_kind(&error));
        if !said {
            (this.log)(&format!("backoff-core-redis: {error}; carrying on with local state"));
        }
        let probing = link.down.as_ref().is_some_and(|down| down.probing);
        let runtime = tokio::runtime::Handle::try_current().ok();
        link.down = Some(Down { error, probing: probing || runtime.is_some() });
        drop(link);
        if let (false, Some(runtime)) = (probing, runtime) {
            runtime.spawn(Self::probe(Arc::downgrade(this)));
        }
    }

    /// While the store is down: tries it every `rejoin_every` in the background, and rejoins
    /// (what was learnt alone replayed onto the shared value) when it answers — whether or
    /// not this worker is making steps, so a hold it learnt alone reaches the fleet while it
    /// waits that hold out. Ends with the rejoin, or when the state is dropped.
    async fn probe(this: std::sync::Weak<Self>) {
        loop {
            let Some(every) = this.upgrade().map(|inner| inner.timeouts.rejoin_every) else { return };
            tokio::time::sleep(every).await;
            let Some(inner) = this.upgrade() else { return };
            let started = Instant::now();
            let now_ms = {
                let (at, caller_ms) = *lock(&inner.anchor);
                caller_ms.saturating_add(millis_floor(started.saturating_duration_since(at)))
            };
            let budget = inner.timeouts.connect.saturating_add(inner.timeouts.response);
            let error = match tokio::time::timeout(budget, inner.shared(now_ms, started, None)).await {
                Ok(Ok(_)) => {
                    inner.up();
                    return;
                }
                Ok(Err(error)) => error,
                Err(_) => {
                    inner.stale.store(true, Ordering::Relaxed);
                    StoreError::Timeout(budget)
                }
            };
            let mut link = lock(&inner.link);
            if let Some(down) = link.down.as_mut() {
                if !down.error.same_kind(&error) {
                    (inner.log)(&format!("backoff-core-redis: {error}; carrying on with local state"));
                }
                down.error = error;
            }
        }
    }

    /// A step (or, with `None`, only the rejoin of a probe) on the shared value.
    async fn shared(
        &self,
        now_ms: u64,
        started: Instant,
        step: Option<(Step<'_>, u64)>,
    ) -> Result<Option<Outcome>, StoreError> {
        let mut session = self.session.lock().await;
        if self.stale.swap(false, Ordering::Relaxed) {
            session.conn = None;
        }
        let mut conn = match &session.conn {
            Some(conn) => conn.clone(),
            None => {
                let config = redis::AsyncConnectionConfig::new()
                    .set_connection_timeout(self.timeouts.connect)
                    .set_response_timeout(self.timeouts.response);
                let conn = self
                    .client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(StoreError::Redis)?;
                session.conn = Some(conn.clone());
                conn
            }
        };
        let result = self.attempts(&mut session, &mut conn, now_ms, started, step).await;
        if result.as_ref().is_err_and(StoreError::breaks_connection) {
            session.conn = None;
        }
        result
    }

    async fn attempts(
        &self,
        session: &mut Session,
        conn: &mut MultiplexedConnection,
        now_ms: u64,
        started: Instant,
        step: Option<(Step<'_>, u64)>,
    ) -> Result<Option<Outcome>, StoreError> {
        let send = matches!(step, Some((Step::Acquire { .. }, _)));
        let mut clock = lock(&self.local).clock;
        // Redis's `TIME` during this step, rounded down and up, once an answer brought it.
        let mut time: Option<(u64, u64)> = None;
        if session.seen == Seen::Unknown || clock.is_none() || step.is_none() {
            let answer = self.round_trip(conn, now_ms, started, Question::Read).await?;
            clock = Some(answer.clock);
            time = Some(answer.bounds());
            session.seen = answer.current;
        }
        let mut conflicts = 0u32;
        loop {
            let Some(measured) = clock else { return Err(StoreError::Timeout(Duration::ZERO)) };
            let mut state = self.base(session)?;
            let journal: Vec<Entry> = lock(&self.local).journal.iter().cloned().collect();
            for entry in &journal {
                // Replayed at the latest: what was sent and learnt then counts no earlier.
                state.apply(measured.to_redis(entry.at_ms, false), entry.step.replayed(), entry.entropy);
            }
            let decided = step.map(|(step, entropy)| {
                let at = match time {
                    Some((floor, ceil)) => {
                        if send {
                            floor
                        } else {
                            ceil
                        }
                    }
                    None => measured.to_redis(now_ms, send),
                };
                (state.apply(at, step, entropy), at)
            });
            let new = encoded(&state);
            let latest = decided.filter(|_| send).map(|(_, at)| at);
            let answer = self
                .round_trip(
                    conn,
                    now_ms,
                    started,
                    Question::Write {
                        seen: &session.seen,
                        new: &new,
                        latest,
                        turn: conflicts >= 1 || step.is_none(),
                    },
                )
                .await?;
            clock = Some(answer.clock);
            time = Some(answer.bounds());
            if answer.stored {
                session.seen = Seen::Value(new);
                session.last_shared = Some(state.clone());
                let mut local = lock(&self.local);
                let replayed = journal.len().min(local.journal.len());
                local.journal.drain(..replayed);
                let Some((outcome, _)) = decided else {
                    // A probe's rejoin: the local copy stays on its own clock until a step.
                    return Ok(None);
                };
                local.state = state;
                local.clock = Some(answer.clock);
                return Ok(Some(match outcome {
                    Outcome::Permit(Permit::Wait { until_ms }) => {
                        Outcome::Permit(Permit::Wait { until_ms: answer.clock.to_caller(until_ms, now_ms) })
                    }
                    other => other,
                }));
            }
            session.seen = answer.current;
            conflicts = conflicts.saturating_add(1);
            self.conflicts.fetch_add(1, Ordering::Relaxed);
            if conflicts > 2 {
                // Contending in step with others: step aside for a random while, growing
                // with each conflict, so as not to collide again in step.
                tokio::time::sleep(pause(conflicts as usize - 2, now_ms ^ u64::from(conflicts))).await;
            }
        }
    }

    /// What a step is decided on: the shared value, or what stands in for a key without one.
    fn base(&self, session: &Session) -> Result<Shared<CONTEXTS>, StoreError> {
        let rebuilt = || match &session.last_shared {
            Some(last) => without_in_flight(last.clone()),
            None => self.initial.clone(),
        };
        match &session.seen {
            Seen::Value(bytes) => match Shared::<CONTEXTS>::decode(bytes) {
                Ok(state) => Ok(state),
                Err(_) if self.foreign == ForeignValue::Replace => Ok(rebuilt()),
                Err(error) => Err(StoreError::Foreign { key: self.key.clone(), error }),
            },
            Seen::WrongType(_) if self.foreign == ForeignValue::Replace => Ok(rebuilt()),
            Seen::WrongType(kind) => Err(StoreError::WrongType { key: self.key.clone(), kind: kind.clone() }),
            Seen::Absent | Seen::Unknown => Ok(rebuilt()),
        }
    }

    async fn round_trip(
        &self,
        conn: &mut MultiplexedConnection,
        now_ms: u64,
        started: Instant,
        question: Question<'_>,
    ) -> Result<Answer, StoreError> {
        let before_ms = now_ms.saturating_add(millis_floor(started.elapsed()));
        let mut invocation = self.script.key(&self.key);
        invocation.key(format!("{}:turn", self.key));
        match question {
            Question::Read => invocation.arg("r").arg("").arg("").arg(","),
            Question::Write { seen, new, latest, turn } => {
                let expected: &[u8] = match seen {
                    Seen::Value(bytes) => bytes,
                    Seen::Absent | Seen::Unknown | Seen::WrongType(_) => b"",
                };
                let latest = latest.map(|at| at.to_string()).unwrap_or_default();
                let mode = if self.foreign == ForeignValue::Replace { "wr" } else { "w" };
                let id = if turn { self.id.to_string() } else { String::new() };
                invocation.arg(mode).arg(expected).arg(new).arg(format!("{latest},{id}"))
            }
        };
        let reply: redis::Value = invocation.invoke_async(conn).await.map_err(StoreError::Redis)?;
        // The caller's clock read before the step, plus what has passed since, rounded up,
        // plus the millisecond its reading may have been rounded down by.
        let after_ms = now_ms.saturating_add(millis_ceil(started.elapsed())).saturating_add(1);
        Answer::parse(&reply, before_ms, after_ms).ok_or_else(|| {
            StoreError::Redis(redis::RedisError::from((
                redis::ErrorKind::TypeError,
                "unexpected answer from the step script",
                format!("{reply:?}"),
            )))
        })
    }

    fn local_step(&self, now_ms: u64, step: Step<'_>, entropy: u64) -> Outcome {
        self.local_steps.fetch_add(1, Ordering::Relaxed);
        let mut local = lock(&self.local);
        let clock = local.clock;
        let send = matches!(step, Step::Acquire { .. });
        let at = clock.map_or(now_ms, |c| c.to_redis(now_ms, send));
        let outcome = local.state.apply(at, step, entropy);
        // A send held back counted nothing: nothing to replay.
        if !matches!(outcome, Outcome::Permit(Permit::Wait { .. })) {
            if local.journal.len() >= JOURNAL {
                local.journal.pop_front();
            }
            local.journal.push_back(Entry { at_ms: now_ms, step: OwnedStep::of(&step), entropy });
        }
        match (outcome, clock) {
            (Outcome::Permit(Permit::Wait { until_ms }), Some(clock)) => {
                Outcome::Permit(Permit::Wait { until_ms: clock.to_caller(until_ms, now_ms) })
            }
            (other, _) => other,
        }
    }
}

enum Question<'a> {
    Read,
    Write { seen: &'a Seen, new: &'a [u8], latest: Option<u64>, turn: bool },
}

struct Answer {
    stored: bool,
    current: Seen,
    time: (u64, u64),
    clock: Clock,
}

impl Answer {
    fn parse(reply: &redis::Value, before_ms: u64, after_ms: u64) -> Option<Self> {
        let redis::Value::Array(items) = reply else { return None };
        let code = match items.first()? {
            redis::Value::Int(code) => *code,
            _ => return None,
        };
        let number = |item: Option<&redis::Value>| -> Option<u64> {
            match item? {
                redis::Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
                redis::Value::Int(n) => u64::try_from(*n).ok(),
                _ => None,
            }
        };
        let time = (number(items.get(1))?, number(items.get(2))?);
        let current = match (code, items.get(3)) {
            (2, Some(redis::Value::BulkString(kind))) => {
                Seen::WrongType(String::from_utf8_lossy(kind).into_owned())
            }
            (2, Some(redis::Value::SimpleString(kind))) => Seen::WrongType(kind.clone()),
            (_, Some(redis::Value::BulkString(bytes))) => Seen::Value(bytes.clone()),
            (_, None | Some(redis::Value::Nil)) => Seen::Absent,
            _ => return None,
        };
        Some(Self { stored: code == 1, current, time, clock: Clock::measured(before_ms, after_ms, time) })
    }

    /// `TIME` in ms, rounded down and up.
    fn bounds(&self) -> (u64, u64) {
        let (secs, micros) = self.time;
        let ms = secs.saturating_mul(1000);
        (ms.saturating_add(micros / 1000), ms.saturating_add(micros.div_ceil(1000)))
    }
}

impl SharedState for FleetState {
    type Pending<'a> = Pin<Box<dyn Future<Output = Option<Outcome>> + Send + 'a>>;

    /// Never `None`: without Redis the step is taken on the local copy.
    fn step<'a>(&'a self, now_ms: u64, step: Step<'a>, entropy: u64) -> Self::Pending<'a> {
        Box::pin(async move { Some(self.apply(now_ms, step, entropy).await) })
    }
}

/// The state with no request counted in flight: every count in it belonged to a value that is
/// gone, and the answers to those sends were (or will be) applied elsewhere.
fn without_in_flight(mut state: Shared<CONTEXTS>) -> Shared<CONTEXTS> {
    let mut before = encoded(&state);
    for _ in 0..=u16::MAX {
        state.limits.abandon(None);
        let after = encoded(&state);
        if after == before {
            break;
        }
        before = after;
    }
    state
}

/// A name for this worker, different from every other's in practice: the process, the
/// instant, and the process's hash keys.
fn worker_id(key: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write(key.as_bytes());
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
    );
    hasher.finish()
}

fn encoded(state: &Shared<CONTEXTS>) -> Vec<u8> {
    let mut bytes = vec![0u8; Shared::<CONTEXTS>::ENCODED_LEN];
    // The buffer is exactly `ENCODED_LEN` long, the only way encoding can fail.
    let _ = state.encode(&mut bytes);
    bytes
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
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

fn millis_floor(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn millis_ceil(d: Duration) -> u64 {
    u64::try_from(d.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX)
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn shift(at: u64, by: i64) -> u64 {
    if by >= 0 {
        at.saturating_add(by.unsigned_abs())
    } else {
        at.saturating_sub(by.unsigned_abs())
    }
}

/// The URL with its password, if any, replaced by `***`.
fn hide_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
            let hidden = if userinfo.contains(':') { format!("{user}:***") } else { user.to_owned() };
            format!("{scheme}://{hidden}@{host}{path}")
        }
        None => url.to_owned(),
    }
}

/// What is wrong with a Redis URL, in words, before the client's one-word verdict.
fn check_url(url: &str) -> Result<(), String> {
    const FORM: &str = "expected redis://[[user]:password@]host[:port][/db] or unix:///path/to/socket";
    let Some((scheme, rest)) = url.split_once("://") else { return Err(format!("no scheme; {FORM}")) };
    match scheme {
        "redis" => {}
        "unix" | "redis+unix" => {
            return if rest.is_empty() { Err(format!("no socket path; {FORM}")) } else { Ok(()) };
        }
        "rediss" => {
            return Err(
                "rediss:// (TLS) is not built into this crate; use redis:// on a trusted network".into()
            )
        }
        other => return Err(format!("scheme {other:?} is not redis or unix; {FORM}")),
    }
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']').ok_or("an IPv6 host without its closing ]")?;
        (host, after.strip_prefix(':'))
    } else {
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(format!("no host; {FORM}"));
    }
    if let Some(port) = port {
        if port.parse::<u16>().is_err() {
            return Err(format!("port {port:?} is not a number from 0 to 65535"));
        }
    }
    let db = path.split(['?', '#']).next().unwrap_or("").trim_start_matches('/');
    if !db.is_empty() && db.parse::<u32>().is_err() {
        return Err(format!("database {db:?} is not a number (the path is the database: /0, /1…)"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(url: &str) -> String {
        match FleetState::new(url, "k", Shared::new(backoff_core::Pacing::Burst)) {
            Err(e) => e.to_string(),
            Ok(_) => String::from("accepted"),
        }
    }

    #[test]
    fn a_url_that_cannot_be_used_says_what_is_wrong_with_it() {
        assert!(error("127.0.0.1:6379").contains("no scheme"), "{}", error("127.0.0.1:6379"));
        assert!(error("http://127.0.0.1/").contains("scheme \"http\""), "{}", error("http://127.0.0.1/"));
        assert!(error("redis://127.0.0.1:99999/").contains("port \"99999\""));
        assert!(error("redis://127.0.0.1:port/").contains("port \"port\""));
        assert!(error("redis:///").contains("no host"));
        assert!(error("redis://127.0.0.1/cache").contains("database \"cache\""));
        assert!(error("rediss://127.0.0.1/").contains("TLS"));
        assert_eq!(error("redis://127.0.0.1/"), "accepted");
        assert_eq!(error("redis://:pw@127.0.0.1:6379/2"), "accepted");
        assert_eq!(error("redis://[::1]:6379/"), "accepted");
        assert_eq!(error("unix:///run/redis.sock"), "accepted");
    }

    #[test]
    fn a_url_error_never_shows_the_password() {
        let shown = error("redis://user:s3cret@127.0.0.1:x/");
        assert!(!shown.contains("s3cret") && shown.contains("user:***@"), "{shown}");
    }

    #[test]
    fn the_clock_errs_late_both_ways() {
        // TIME 1000.000500 s read between the caller's 10 and 12 ms.
        let clock = Clock::measured(10, 12, (1000, 500));
        assert_eq!((clock.lo, clock.hi), (1_000_000 - 12, 1_000_001 - 10));
        // A send at the caller's 12 is asked at Redis's earliest; what is learnt, at the latest.
        assert_eq!(clock.to_redis(12, true), 1_000_000);
        assert_eq!(clock.to_redis(12, false), 1_000_003);
        // A Redis instant back on the caller's clock comes out no earlier than it is.
        assert_eq!(clock.to_caller(1_003_000, 12), 3_012);
        // A second later, a millisecond wider each way.
        assert_eq!(clock.to_redis(1_012, true), 1_000_999);
        assert_eq!(clock.to_caller(1_003_000, 1_012), 3_013);
    }
}
