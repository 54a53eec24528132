//! Rate limits shared by every request of a client: learnt from each response's headers,
//! asked before each request is sent. The rules are on [`RateLimits`].

use crate::encoding::{
    check_header, finish, header, Error as EncodingError, Kind, Reader, Writer, HEADER_LEN,
};
use crate::headers::Headers;
use crate::pushback::{ContextName, RateLimitHeaders, Scope};

/// Whether to spread requests evenly over each window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Pacing {
    /// Send while `Remaining` allows, then hold the context for a window. Bursty, but never
    /// slower than the server allows. Requests in flight are counted: a `Remaining` that left
    /// the server before the client's latest sends arrived there can only lower what is
    /// allowed, never raise it, so several requests at once meet no 429 either.
    Burst,
    /// Space the requests of a context `Window / (Limit − 1)` apart once both are known, so a
    /// steady sender never exhausts the window and never meets a 429, however many requests
    /// it has in flight — as long as the time a request takes to reach the server varies by
    /// less than one spacing (526 ms for 20 per 10 s), since the one slot kept free is the
    /// margin for it.
    ///
    /// A `Retry-After` outranks the pacing of the same response: the context's next send goes
    /// when told. The sends queued behind it are then spaced from that one, so with several
    /// requests waiting, all but the first wait up to one spacing more than the `Retry-After`
    /// said: the price of never meeting the next 429.
    Smooth,
}

/// The answer to "may this request go now?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[must_use = "a request told to wait must not be sent yet"]
pub enum Permit {
    /// Send it now; the send has been counted.
    Go,
    /// Ask again at `until_ms` (the caller's clock); nothing was counted.
    Wait {
        /// The instant to ask again.
        until_ms: u64,
    },
}

/// What is known about one context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Entry {
    name: ContextName,
    /// No request of this context before this instant (a 429's `Retry-After`, or an
    /// exhausted window), while it is believed.
    hold: Hold,
    limit: Option<u32>,
    window_ms: Option<u32>,
    /// `Remaining` as last told, minus the requests let through since.
    remaining: Option<u32>,
    /// The earliest instant the next paced request may go.
    next_paced_ms: u64,
    /// Last instant this entry was used, for eviction.
    used_ms: u64,
    /// When the server said the quota resets (a dialect's reset header), if it did.
    reset_at_ms: Option<u64>,
    /// The last instant a request of this context was let through.
    sent_ms: u64,
    /// Requests let through and not yet answered.
    in_flight: u16,
    /// Requests let through since none was in flight: a response is fresh (its `Remaining`
    /// counts every send before it) only when it answers the one send of such a stretch.
    sends_since_idle: u16,
}

/// What responses said about when requests may go again: no request before an instant, as
/// long as that is believed. A hold is believed for at most the limits'
/// [`max_hold_ms`](RateLimits::with_max_hold_ms) after it was learnt, however far the server
/// put it: what a misconfigured proxy says must not brick a client until it restarts. Until
/// then, [`Permit::Wait`] gives the instant the server said, so a request that will not wait
/// that long can fail at once.
///
/// Holds within the max hold are believed whole, so the latest of them is all there is to
/// keep (`until_ms`). Holds told further (`far`) are believed for less than they say; of those
/// the one believed longest is kept: a request that meets it is told its far instant, and one
/// that waits for it goes after every other far hold has stopped being believed (each was
/// learnt no later, so believed no longer). Kept apart, a far hold that is no longer believed
/// never lends its instant to a nearer hold that still is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Hold {
    /// The latest instant of the holds believed whole (0: none).
    until_ms: u64,
    /// The far hold believed longest: the instant the server said, and the instant from which
    /// it is no longer believed (before it; both 0: none).
    far: (u64, u64),
}

impl Hold {
    /// No hold.
    const NONE: Self = Self { until_ms: 0, far: (0, 0) };

    /// The instant before which nothing may go, as seen at `now_ms`: 0 once every hold is over
    /// or no longer believed.
    pub(crate) const fn at(self, now_ms: u64) -> u64 {
        let near = if now_ms < self.until_ms { self.until_ms } else { 0 };
        let (far, believed) = self.far;
        if now_ms < believed && far > near {
            far
        } else {
            near
        }
    }

    /// Holds until `until_ms` as well, learnt at `now_ms`, believed for at most `max_ms`.
    fn extend(&mut self, now_ms: u64, until_ms: u64, max_ms: u32) {
        let believed = now_ms.saturating_add(u64::from(max_ms));
        if until_ms <= believed {
            self.until_ms = self.until_ms.max(until_ms);
        } else {
            self.merge(Self { until_ms: 0, far: (until_ms, believed) });
        }
    }

    /// Holds as long as `other` as well.
    fn merge(&mut self, other: Self) {
        self.until_ms = self.until_ms.max(other.until_ms);
        // The far hold believed longest; of two believed as long, the further.
        if (other.far.1, other.far.0) > (self.far.1, self.far.0) {
            self.far = other.far;
        }
    }
}

/// A request in flight for longer than this without a window known is no longer counted (its
/// response was lost, or the caller never reported it).
const FORGET_IN_FLIGHT_MS: u64 = 60_000;

/// Rate-limit state shared by all requests of a client, for up to `C` contexts.
///
/// The Follow Up Boss API (and many others) sends, on every response:
///
/// | header | meaning |
/// |---|---|
/// | `X-RateLimit-Limit` | requests allowed per window |
/// | `X-RateLimit-Remaining` | requests left in the current (sliding) window |
/// | `X-RateLimit-Window` | the window, in seconds |
/// | `X-RateLimit-Context` | which limit this is: `global`, `events`, `POST.events`, … |
///
/// and a 429 with `Retry-After`, which holds back every request of that context (every
/// request at all, if the 429 named no context) until it has passed. `Retry-After` takes
/// precedence over the window. [`observe`](Self::observe) learns from every response;
/// [`acquire`](Self::acquire) answers, before a request goes out, whether it may go now
/// ([`Permit::Go`]) or must wait until an instant ([`Permit::Wait`]). It never lets a request
/// through before a `Retry-After` it was told has passed, and never holds one back longer
/// than the longest wait it was told (both are property-tested and fuzzed).
///
/// Other APIs' headers (GitHub's, Discord's, the IETF `RateLimit` fields of draft-11) are
/// read by [`observe_dialect`](Self::observe_dialect) with a [`Dialect`](crate::Dialect).
///
/// Bounded: `C` entries, chosen by the caller; no allocation. When a new context arrives and
/// all entries are taken, the least recently used one is evicted — and if it was still
/// holding requests back, its hold moves to the all-contexts hold, so eviction can make the
/// client wait longer than needed but never send early.
///
/// ```
/// use backoff_core::{Pacing, Permit, RateLimits};
///
/// let mut limits = RateLimits::<4>::new(Pacing::Burst);
/// assert_eq!(limits.acquire(0, Some(b"events")), Permit::Go);
/// // The server says: rate limited in the `events` context, come back in 8 s.
/// limits.observe(10, 429, &[("Retry-After", "8"), ("X-RateLimit-Context", "events")]);
/// assert_eq!(limits.acquire(20, Some(b"events")), Permit::Wait { until_ms: 8_010 });
/// assert_eq!(limits.acquire(20, Some(b"people")), Permit::Go); // another context
/// assert_eq!(limits.acquire(8_010, Some(b"events")), Permit::Go);
/// ```
#[derive(Clone, Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RateLimits<const C: usize> {
    entries: [Option<Entry>; C],
    /// No request of any context before this instant (a 429 that named no context, or an
    /// evicted entry's hold), while it is believed.
    all: Hold,
    pacing: Pacing,
    /// The longest a hold is believed after it was learnt.
    max_hold_ms: u32,
}

impl<const C: usize> RateLimits<C> {
    /// Empty state: every request may go until a response says otherwise. A hold is believed
    /// for at most [`Policy::FOLLOW_UP_BOSS`](crate::Policy::FOLLOW_UP_BOSS)'s
    /// `retry_after_ceiling_ms` (10 minutes) after it was learnt.
    #[must_use]
    pub const fn new(pacing: Pacing) -> Self {
        Self {
            entries: [None; C],
            all: Hold::NONE,
            pacing,
            max_hold_ms: crate::Policy::FOLLOW_UP_BOSS.retry_after_ceiling_ms,
        }
    }

    /// Believes a hold (a `Retry-After`, a reset, a spent window) for at most `ms` after it was
    /// learnt, however far the server put it; after that the client tries again. Set it to
    /// the policy's [`retry_after_ceiling_ms`](crate::Policy::retry_after_ceiling_ms): a
    /// request that meets a hold longer than that fails at once
    /// ([`Request::may_wait_until`](crate::Request::may_wait_until)), and the hold stops
    /// holding when no request would wait for it any more.
    #[must_use]
    pub const fn with_max_hold_ms(mut self, ms: u32) -> Self {
        self.max_hold_ms = ms;
        self
    }

    /// The longest a hold is believed after it was learnt (see
    /// [`with_max_hold_ms`](Self::with_max_hold_ms)).
    #[must_use]
    pub const fn max_hold_ms(&self) -> u32 {
        self.max_hold_ms
    }

    /// Learns from a response received at `now_ms`. Call it for every response, success or
    /// not, before deciding what to do with it.
    ///
    /// A response without `X-RateLimit-Context` cannot be told apart from other contexts: its
    /// 429 `Retry-After` holds every request; its other `X-RateLimit-*` values are not kept.
    pub fn observe<H: Headers + ?Sized>(&mut self, now_ms: u64, status: u16, headers: &H) {
        self.observe_parsed(now_ms, status, &RateLimitHeaders::read(headers));
    }

    /// [`observe`](Self::observe) for an API speaking another [`Dialect`](crate::Dialect):
    /// its reset header (or the IETF fields) holds the context until the quota resets, and
    /// the policy field teaches the pacing the quota.
    pub fn observe_dialect<H: Headers + ?Sized>(
        &mut self,
        now_ms: u64,
        status: u16,
        headers: &H,
        dialect: &crate::Dialect,
    ) {
        self.observe_parsed(now_ms, status, &dialect.read(headers));
    }

    /// [`observe`](Self::observe) for headers already read.
    ///
    /// A `Retry-After` on a status that carries pushback in the dialect read
    /// ([`RateLimitHeaders::pushback`]) holds the context the response names — or every
    /// request, if it names none or says the limit is global ([`Scope::Global`]); one of a
    /// single resource ([`Scope::Resource`]) holds nothing shared. A spent quota
    /// (`Remaining: 0`) with a reset holds its context until then, and every request if the
    /// response names no context: it cannot be told apart from the others.
    pub fn observe_parsed(&mut self, now_ms: u64, status: u16, seen: &RateLimitHeaders) {
        let told = seen.retry_after_ms.filter(|_| seen.pushback.contains(&status));
        let (hold_all, retry_after) = match (seen.scope, seen.context) {
            (Scope::Resource, _) => (None, None),
            (Scope::Global, _) | (Scope::Named, None) => (told, None),
            (Scope::Named, Some(_)) => (None, told),
        };
        let max_hold = self.max_hold_ms;
        if let Some(wait) = hold_all {
            // A 429 that names no context (or a global one) holds back everything.
            self.all.extend(now_ms, now_ms.saturating_add(wait), max_hold);
        }
        let Some(name) = seen.context else {
            if let (Some(0), Some(reset)) = (seen.remaining, seen.reset_ms) {
                // So does a spent quota that names none, until its reset.
                self.all.extend(now_ms, now_ms.saturating_add(reset), max_hold);
            }
            return;
        };
        let pacing = self.pacing;
        let Some(entry) = self.entry(now_ms, name) else {
            // No room for contexts at all (`C == 0`): hold everything instead.
            if let Some(wait) = retry_after {
                self.all.extend(now_ms, now_ms.saturating_add(wait), max_hold);
            }
            return;
        };
        entry.used_ms = now_ms;
        let was_paced = entry.spacing_ms().is_some();
        if seen.limit.is_some() {
            entry.limit = seen.limit;
        }
        if seen.window_ms.is_some() {
            entry.window_ms = seen.window_ms;
        }
        if let (Pacing::Smooth, false, Some(spacing), Some(window)) =
            (pacing, was_paced, entry.spacing_ms(), entry.window_ms)
        {
            // The first time the pacing is known, the sends made before it (at once, perhaps)
            // are spaced after the fact: the next one waits as if they had been paced, and
            // never longer than a window, after which every one of them has left it.
            let unpaced = u64::from(entry.sends_since_idle);
            let catch_up = spacing.saturating_mul(unpaced).min(u64::from(window)).min(u64::from(max_hold));
            entry.next_paced_ms = entry.next_paced_ms.max(entry.sent_ms.saturating_add(catch_up));
        }
        if let Some(reset) = seen.reset_ms {
            entry.reset_at_ms = Some(now_ms.saturating_add(reset));
        }
        let fresh = entry.answered(now_ms);
        // Whether this response says the quota is spent (counting what is still in flight).
        let mut spent = false;
        if let Some(told) = seen.remaining {
            entry.remaining = Some(match (pacing, fresh) {
                // The only request in flight was this one: `Remaining` counts every send.
                (Pacing::Smooth, _) | (Pacing::Burst, true) => {
                    spent = told == 0;
                    told
                }
                // Other sends may have reached the server after this response left it, or
                // answered before it although they arrived later: count every request still
                // in flight against it, and let it only lower the count.
                (Pacing::Burst, false) => {
                    let after_in_flight = told.saturating_sub(u32::from(entry.in_flight));
                    spent = after_in_flight == 0;
                    entry.remaining.map_or(after_in_flight, |r| r.min(after_in_flight))
                }
            });
        }
        let until_quota = entry.quota_back_at(now_ms);
        // Only a response that says so holds for a window: a count lowered to 0 by an earlier
        // `Retry-After` stays 0 (the next send after its hold starts the window afresh), but a
        // stale response saying some remain does not turn that hold into a window.
        match (retry_after, entry.remaining.filter(|_| spent), until_quota) {
            // `Retry-After` takes precedence over the window: it is the server's own answer.
            // Nor does the pacing outlast it: the next send of the context goes when told.
            (Some(wait), _, _) => {
                let until = now_ms.saturating_add(wait);
                entry.hold.extend(now_ms, until, max_hold);
                entry.next_paced_ms = entry.next_paced_ms.min(until);
                entry.remaining = Some(0);
            }
            // Out of quota: held until the server said it resets, or (a sliding window) until
            // every request in it, and every one sent before now, has left it.
            (None, Some(0), Some(at)) => {
                entry.hold.extend(now_ms, at, max_hold);
            }
            _ => {}
        }
    }

    /// May a request of `context` go at `now_ms`? `None` asks for a request whose context is
    /// not known yet: it waits for every known context, and a [`Permit::Go`] counts against
    /// all of them. A [`Permit::Go`] counts the request as sent.
    pub fn acquire(&mut self, now_ms: u64, context: Option<&[u8]>) -> Permit {
        let (pacing, max_hold) = (self.pacing, self.max_hold_ms);
        let until = self.hold_until(now_ms, context);
        let wanted = context.and_then(ContextName::new);
        if until > now_ms {
            return Permit::Wait { until_ms: until };
        }
        if let Some(name) = wanted {
            // Count the send even before the context's first response, so that response
            // knows what else is in flight.
            let _ = self.entry(now_ms, name);
        }
        for entry in self.entries.iter_mut().flatten() {
            if context.is_none() || Some(entry.name) == wanted {
                entry.count_send(now_ms, pacing, max_hold);
            }
        }
        Permit::Go
    }

    /// A request let through by [`acquire`](Self::acquire) got no response to
    /// [`observe`](Self::observe) (the connection failed, or the caller gave up on it): it no
    /// longer counts as in flight in `context` (`None`: in every context, as `acquire(None)`
    /// counted it).
    pub fn abandon(&mut self, context: Option<&[u8]>) {
        let wanted = context.and_then(ContextName::new);
        for entry in self.entries.iter_mut().flatten() {
            if context.is_none() || Some(entry.name) == wanted {
                entry.in_flight = entry.in_flight.saturating_sub(1);
                if entry.in_flight == 0 {
                    entry.sends_since_idle = 0;
                }
            }
        }
    }

    /// The instant before which no request of `context` may go, as seen at `now_ms` (0 if
    /// none): the instant the server said, for as long as its hold is believed.
    #[must_use]
    pub fn hold_until(&self, now_ms: u64, context: Option<&[u8]>) -> u64 {
        let wanted = context.and_then(ContextName::new);
        self.entries
            .iter()
            .flatten()
            .filter(|e| context.is_none() || Some(e.name) == wanted)
            .map(|e| e.ready_at(now_ms, self.pacing))
            .fold(self.all.at(now_ms), u64::max)
    }

    /// The entry for `name`, made (evicting the least recently used) if it is new; `None`
    /// only when `C == 0`.
    fn entry(&mut self, now_ms: u64, name: ContextName) -> Option<&mut Entry> {
        let found = self.entries.iter().position(|e| e.is_some_and(|e| e.name == name));
        let index = match found {
            Some(index) => index,
            None => {
                let free = self.entries.iter().position(Option::is_none);
                let slot = match free {
                    Some(free) => free,
                    None => {
                        let lru = (0..C).min_by_key(|&i| {
                            self.entries.get(i).copied().flatten().map_or(0, |e| e.used_ms)
                        })?;
                        if let Some(Some(evicted)) = self.entries.get(lru) {
                            // Its hold must outlive it: move it to the all-contexts hold.
                            self.all.merge(evicted.hold);
                        }
                        lru
                    }
                };
                *self.entries.get_mut(slot)? = Some(Entry::new(name, now_ms));
                slot
            }
        };
        self.entries.get_mut(index)?.as_mut()
    }
}

impl Entry {
    const fn new(name: ContextName, now_ms: u64) -> Self {
        Self {
            name,
            hold: Hold::NONE,
            limit: None,
            window_ms: None,
            remaining: None,
            next_paced_ms: 0,
            used_ms: now_ms,
            reset_at_ms: None,
            sent_ms: now_ms,
            in_flight: 0,
            sends_since_idle: 0,
        }
    }

    /// A response of this context arrived at `now_ms`: one request fewer in flight. Whether
    /// it is fresh: it answers the only request sent since none was in flight, so its
    /// `Remaining` counts every send of the client.
    fn answered(&mut self, now_ms: u64) -> bool {
        let forget_after = self.window_ms.map_or(FORGET_IN_FLIGHT_MS, u64::from);
        if now_ms >= self.sent_ms.saturating_add(forget_after) {
            // Every send is older than a window: count this response as the only one. (With
            // none in flight this changes nothing: the count was already idle.)
            self.in_flight = 1;
            self.sends_since_idle = 1;
        }
        self.in_flight = self.in_flight.saturating_sub(1);
        // Sends since idle include every one still in flight (both count a send; only idling
        // clears the first), so "the only send since idle" also means none is left in flight.
        let fresh = self.sends_since_idle <= 1;
        if self.in_flight == 0 {
            self.sends_since_idle = 0;
        }
        fresh
    }

    /// When a spent quota is back: the server's reset instant if it gave one that is still
    /// ahead, else one window from `now_ms`.
    fn quota_back_at(&self, now_ms: u64) -> Option<u64> {
        match self.reset_at_ms {
            Some(at) if at > now_ms => Some(at),
            _ => self.window_ms.map(|w| now_ms.saturating_add(u64::from(w))),
        }
    }

    /// The instant from which a request of this context may go, as seen at `now_ms`.
    fn ready_at(&self, now_ms: u64, pacing: Pacing) -> u64 {
        let held = self.hold.at(now_ms);
        match pacing {
            Pacing::Burst => held,
            Pacing::Smooth => held.max(self.next_paced_ms),
        }
    }

    /// Paced requests go `window / (limit - 1)` apart: one under the limit in any window,
    /// which leaves room for the server's clock and the network's delay.
    fn spacing_ms(&self) -> Option<u64> {
        let (limit, window) = (self.limit?, self.window_ms?);
        let slots = limit.saturating_sub(1).max(1);
        Some(u64::from(window.div_ceil(slots)))
    }

    fn count_send(&mut self, now_ms: u64, pacing: Pacing, max_hold_ms: u32) {
        self.used_ms = now_ms;
        self.sent_ms = now_ms;
        self.in_flight = self.in_flight.saturating_add(1);
        self.sends_since_idle = self.sends_since_idle.saturating_add(1);
        if self.remaining == Some(0) && now_ms >= self.hold.at(now_ms) {
            // A whole window has passed since the window was spent: it is free again.
            self.remaining = self.limit;
        }
        self.remaining = self.remaining.map(|r| r.saturating_sub(1));
        let spacing = match pacing {
            Pacing::Smooth => self.spacing_ms(),
            Pacing::Burst => None,
        };
        let back_at = match spacing {
            // Believed, like a hold, for at most `max_hold_ms`.
            Some(spacing) => {
                self.next_paced_ms = now_ms.saturating_add(spacing.min(u64::from(max_hold_ms)));
                // Paced sends stay under the limit in any window, while old sends leave a
                // sliding window unseen by this count: only a reset the server gave ends the
                // count. Until it, no more than `Remaining` go, however they are paced.
                self.reset_at_ms.filter(|&at| at > now_ms)
            }
            None => self.quota_back_at(now_ms),
        };
        if let (Some(0), Some(at)) = (self.remaining, back_at) {
            self.hold.extend(now_ms, at, max_hold_ms);
        }
    }
}

// The rate limits as bytes (the format: `crate::encoding`).

impl Hold {
    /// A hold: the instant of those believed whole, then the far one's instant and the instant
    /// it stops being believed.
    fn encode(self, w: &mut Writer<'_>) {
        w.u64(self.until_ms);
        w.u64(self.far.0);
        w.u64(self.far.1);
    }

    /// A hold: its far part is none, or believed for less than it says.
    fn decode(r: &mut Reader<'_>) -> Result<Self, EncodingError> {
        let (until_ms, far, believed) = (r.u64()?, r.u64()?, r.u64()?);
        if believed >= far && (far, believed) != (0, 0) {
            return Err(EncodingError::Invalid);
        }
        Ok(Self { until_ms, far: (far, believed) })
    }
}

// Tag, name (bytes, length, hash), hold (near, far, far believed), three optional u32s, paced,
// used, optional reset, sent, and the two u16 counts written as one 4. (`2 + 2` at the end would
// let a mutant turn it into `2 * 2` unnoticed: the same number.)
const ENTRY_LEN: usize = 1 + ContextName::ENCODED_LEN + 24 + 3 * 5 + 8 + 8 + 9 + 8 + 4;

impl<const C: usize> RateLimits<C> {
    /// The bytes [`encode`](Self::encode) writes: 35 plus 106 per context.
    pub const ENCODED_LEN: usize = HEADER_LEN + 24 + 1 + 4 + C * ENTRY_LEN;

    /// Writes the state into `out[..ENCODED_LEN]` (the rest untouched); the length written.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, EncodingError> {
        if out.len() < Self::ENCODED_LEN {
            return Err(EncodingError::BufferTooSmall);
        }
        let mut w = Writer { out, at: 0 };
        header(&mut w, Kind::RateLimits, u16::try_from(C).unwrap_or(u16::MAX));
        self.all.encode(&mut w);
        w.u8(match self.pacing {
            Pacing::Burst => 0,
            Pacing::Smooth => 1,
        });
        w.u32(self.max_hold_ms);
        for entry in &self.entries {
            match entry {
                None => w.bytes(&[0; ENTRY_LEN]),
                Some(e) => {
                    w.u8(1);
                    e.name.encode(&mut w);
                    e.hold.encode(&mut w);
                    w.opt_u32(e.limit);
                    w.opt_u32(e.window_ms);
                    w.opt_u32(e.remaining);
                    w.u64(e.next_paced_ms);
                    w.u64(e.used_ms);
                    w.opt_u64(e.reset_at_ms);
                    w.u64(e.sent_ms);
                    w.u16(e.in_flight);
                    w.u16(e.sends_since_idle);
                }
            }
        }
        finish(&w, Self::ENCODED_LEN)
    }

    /// The state `encode` wrote, or why these bytes are not one.
    pub fn decode(bytes: &[u8]) -> Result<Self, EncodingError> {
        let capacity = u16::try_from(C).map_err(|_| EncodingError::OtherCapacity)?;
        let mut r = check_header(bytes, Kind::RateLimits, capacity, Self::ENCODED_LEN)?;
        let mut limits = Self::new(Pacing::Burst);
        limits.all = Hold::decode(&mut r)?;
        limits.pacing = match r.u8()? {
            0 => Pacing::Burst,
            1 => Pacing::Smooth,
            _ => return Err(EncodingError::Invalid),
        };
        limits.max_hold_ms = r.u32()?;
        for slot in limits.entries.iter_mut() {
            if !r.flag()? {
                // An empty slot is all zeroes: one state, one encoding.
                if r.take::<{ ENTRY_LEN - 1 }>()?.iter().any(|&b| b != 0) {
                    return Err(EncodingError::Invalid);
                }
                continue;
            }
            *slot = Some(Entry {
                name: ContextName::decode(&mut r)?,
                hold: Hold::decode(&mut r)?,
                limit: r.opt_u32()?,
                window_ms: r.opt_u32()?,
                remaining: r.opt_u32()?,
                next_paced_ms: r.u64()?,
                used_ms: r.u64()?,
                reset_at_ms: r.opt_u64()?,
                sent_ms: r.u64()?,
                in_flight: r.u16()?,
                sends_since_idle: r.u16()?,
            });
        }
        Ok(limits)
    }
}
