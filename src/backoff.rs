//! Truncated exponential backoff: the delay of the n-th retry, and the unbiased draw behind it.

use rand_core::TryRng;

use crate::policy::{Jitter, Policy};

/// Where the random part of a delay came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum JitterSource {
    /// The caller's RNG, as intended.
    Rng,
    /// The RNG returned an error, so the jitter was derived from the caller's clock and the
    /// retry number instead (a SplitMix64 hash of both). Still inside the formula's bounds and
    /// different between devices whose clocks differ, but not random: log it.
    ClockFallback,
    /// The policy's jitter range was empty, so nothing was drawn.
    NotDrawn,
}

/// A delay in milliseconds and where its jitter came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Delay {
    pub ms: u32,
    pub source: JitterSource,
}

/// Lemire's multiply-and-reject method gives up after this many rejected draws and keeps the
/// last one. A uniform source is rejected with probability below `range / 2^32`, so for any
/// range below 2^28 giving up happens with probability below 2^-64: unbiased in practice,
/// while a stuck RNG (always 0) still gets an answer in bounded time.
const MAX_DRAWS: u32 = 16;

/// `2^n · base_ms` in 64 bits: `base_ms << 32` still fits, so this never overflows.
#[inline]
fn exponential(base_ms: u32, n: u32) -> u64 {
    u64::from(base_ms) << n.min(32)
}

/// The delay before retry number `n` (0 for the first retry), after a previous backoff delay
/// of `previous_ms` (only [`Jitter::Decorrelated`] reads it; `None` before the first).
///
/// `now_ms` only feeds the fallback when the RNG fails.
#[inline]
pub(crate) fn delay<R: TryRng + ?Sized>(
    policy: &Policy,
    n: u32,
    previous_ms: Option<u32>,
    now_ms: u64,
    rng: &mut R,
) -> Delay {
    let cap = u64::from(policy.max_backoff_ms);
    let d = exponential(policy.base_ms, n);
    // One comparison decides the truncation and whether there is room for jitter (below the
    // cap, `d` fits in a `u32`, as the cap does).
    let below_cap = d < cap;
    let capped = if below_cap { d as u32 } else { policy.max_backoff_ms };
    let (floor, spread) = match policy.jitter {
        Jitter::None => (capped, 0),
        Jitter::Additive { max_ms } => {
            if below_cap {
                (capped, max_ms)
            } else {
                // Already at the cap: adding r could only be truncated away again.
                (capped, 0)
            }
        }
        Jitter::Full => (0, capped),
        Jitter::Equal => (capped - capped / 2, capped / 2),
        Jitter::Decorrelated => {
            let low = policy.base_ms.min(policy.max_backoff_ms);
            let previous = u64::from(previous_ms.unwrap_or(policy.base_ms));
            let high = narrow(previous.saturating_mul(3).min(cap));
            (low, high.saturating_sub(low))
        }
    };
    if spread == 0 {
        return Delay { ms: floor, source: JitterSource::NotDrawn };
    }
    jittered(rng, floor, spread, policy.max_backoff_ms, n, now_ms)
}

/// A random value in `0..=max` for retry number `n`: from the RNG, or, if it fails, from a
/// hash of the clock and `n` (and the source says which). Nothing is drawn when `max` is 0.
#[inline]
pub(crate) fn draw<R: TryRng + ?Sized>(rng: &mut R, max: u32, n: u32, now_ms: u64) -> (u32, JitterSource) {
    if max == 0 {
        return (0, JitterSource::NotDrawn);
    }
    // `min(0 + r, max)` is `r`.
    let d = jittered(rng, 0, max, max, n, now_ms);
    (d.ms, d.source)
}

/// `min(floor + r, cap)` with `r` drawn from `0..=max` (`max > 0`) as [`draw`] draws it.
///
/// Lemire's "nearly divisionless" method, unbiased: the product of a 32-bit word and the range
/// has the answer in its high half; its low half says whether the word fell in the
/// over-represented remainder, which needs a division to know exactly, but only when the low
/// half is smaller than the range (rarely, for small ranges). Only that common case is here,
/// inlined into every caller: one word, one multiply, one comparison and no loop, so that a
/// schedule of delays unrolls and folds like plain arithmetic. The exact test with its redraws
/// finishes the delay itself, out of line ([`jittered_exactly`]), and hands back the RNG's
/// error rather than falling back itself: with an infallible RNG (`Error = Infallible`, every
/// `Rng`) that error cannot exist, nothing is left to do after the call, and the common case
/// keeps its values in scratch registers instead of saving others around it.
#[inline]
fn jittered<R: TryRng + ?Sized>(rng: &mut R, floor: u32, max: u32, cap: u32, n: u32, now_ms: u64) -> Delay {
    let seed = now_ms ^ u64::from(n).rotate_left(32);
    let Ok(word) = rng.try_next_u32() else {
        return jittered_by_clock(floor, max, cap, seed);
    };
    if let Some(range) = max.checked_add(1) {
        let product = u64::from(word) * u64::from(range);
        if !may_be_over_represented(product as u32, range) {
            return Delay { ms: add_capped(floor, (product >> 32) as u32, cap), source: JitterSource::Rng };
        }
    }
    match jittered_exactly(rng, word, floor, max, cap) {
        Ok(delay) => delay,
        Err(_) => jittered_by_clock(floor, max, cap, seed),
    }
}

/// [`jittered`] from its first word on, when the exact test is needed (or `max` is
/// `u32::MAX`): it may reject the word and draw again, until the RNG fails.
///
/// `#[cold]` is enough to keep it out of line (the schedule table of docs/performance.md, which
/// CI checks, would show it inlined); `#[inline(never)]` as well measured no better (a schedule
/// two instructions shorter, the 503 and 400 decisions five and six longer).
#[cold]
fn jittered_exactly<R: TryRng + ?Sized>(
    rng: &mut R,
    first: u32,
    floor: u32,
    max: u32,
    cap: u32,
) -> Result<Delay, R::Error> {
    let r = uniform_from(rng, first, max)?;
    Ok(Delay { ms: add_capped(floor, r, cap), source: JitterSource::Rng })
}

/// [`jittered`] when the RNG failed: `r` is a hash of `seed` (the clock and the retry number)
/// scaled onto `0..=max`.
#[cold]
#[inline(never)]
fn jittered_by_clock(floor: u32, max: u32, cap: u32, seed: u64) -> Delay {
    Delay { ms: add_capped(floor, scale(mix(seed), max), cap), source: JitterSource::ClockFallback }
}

/// `min(floor + r, cap)`, summed in 64 bits.
#[inline]
fn add_capped(floor: u32, r: u32, cap: u32) -> u32 {
    // Truncated at the cap, a `u32`, so the cast is exact.
    (u64::from(floor) + u64::from(r)).min(u64::from(cap)) as u32
}

/// An unbiased draw from `0..=max` starting from the word `first`, drawing more while the exact
/// test rejects them, or the RNG's error if it fails.
fn uniform_from<R: TryRng + ?Sized>(rng: &mut R, first: u32, max: u32) -> Result<u32, R::Error> {
    let Some(range) = max.checked_add(1) else {
        return Ok(first);
    };
    let mut product = u64::from(first) * u64::from(range);
    // 2^32 mod range: the low products below it are the over-represented ones.
    let threshold = range.wrapping_neg().checked_rem(range).unwrap_or(0);
    let mut draws = 1;
    while (product as u32) < threshold && draws < MAX_DRAWS {
        product = u64::from(rng.try_next_u32()?) * u64::from(range);
        draws += 1;
    }
    Ok((product >> 32) as u32)
}

/// Whether a draw's low half is below the range, where the over-represented remainder lies:
/// only then is the exact (dividing) test needed. Its own function so that mutation testing
/// can name it: `<` and `<=` give the same draws here (at `low == range` the exact test
/// accepts), an equivalent mutant listed in `.cargo/mutants.toml`.
#[inline]
fn may_be_over_represented(low: u32, range: u32) -> bool {
    low < range
}

/// Maps a 64-bit hash onto `0..=max` by its high bits (a bias of at most `max / 2^64`).
fn scale(hash: u64, max: u32) -> u32 {
    let range = u128::from(max) + 1;
    ((u128::from(hash) * range) >> 64) as u32
}

/// SplitMix64's finaliser: a cheap, well-spread hash of one word.
pub(crate) const fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A value known to fit (it is at most a `u32` cap) as a `u32`; saturates if it ever did not.
#[inline]
fn narrow(x: u64) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

impl Policy {
    /// The backoff delay before retry number `retry` (0 for the first), drawn from `rng`.
    ///
    /// This is the formula alone, without `Retry-After`, deadlines or retry counts: what a
    /// [`Request`](crate::Request) uses when the server gave no `Retry-After`, public for
    /// schedules and tests. `now_ms` only feeds the fallback used when the RNG fails.
    ///
    /// [`Jitter::Decorrelated`] depends on the previous delay, which this does not know: it
    /// draws as for the first retry. Use [`backoff_after`](Self::backoff_after) to follow it.
    #[inline]
    pub fn backoff<R: TryRng + ?Sized>(&self, retry: u32, now_ms: u64, rng: &mut R) -> (u32, JitterSource) {
        self.backoff_after(None, retry, now_ms, rng)
    }

    /// [`backoff`](Self::backoff) after a previous backoff delay of `previous_ms` (`None`
    /// before the first retry), which [`Jitter::Decorrelated`] grows from.
    #[inline]
    pub fn backoff_after<R: TryRng + ?Sized>(
        &self,
        previous_ms: Option<u32>,
        retry: u32,
        now_ms: u64,
        rng: &mut R,
    ) -> (u32, JitterSource) {
        let d = delay(self, retry, previous_ms, now_ms, rng);
        (d.ms, d.source)
    }

    /// The bounds `(min, max)` of the n-th delay under this policy, whatever the RNG says.
    ///
    /// What the property tests check every delay against, and what the `schedule` of a policy
    /// prints; public so callers can show their users the same table.
    #[must_use]
    pub fn delay_bounds(&self, n: u32) -> (u32, u32) {
        let policy = self;
        let cap = u64::from(policy.max_backoff_ms);
        let d = exponential(policy.base_ms, n);
        let capped = narrow(d.min(cap));
        let (lo, hi) = match policy.jitter {
            Jitter::None => (capped, u64::from(capped)),
            // Truncated at the cap below, so at the cap `r` adds nothing.
            Jitter::Additive { max_ms } => (capped, u64::from(capped) + u64::from(max_ms)),
            Jitter::Full => (0, u64::from(capped)),
            Jitter::Equal => (capped - capped / 2, u64::from(capped)),
            // Each delay is at most three times the one before, starting from three times base:
            // `3^(n+1) · base`, saturating (3^41 is past 2^64, so 40 steps are all that matter).
            Jitter::Decorrelated => {
                let mut hi = u64::from(policy.base_ms).saturating_mul(3);
                for _ in 0..n.min(40) {
                    hi = hi.saturating_mul(3);
                }
                (policy.base_ms.min(policy.max_backoff_ms), hi)
            }
        };
        (lo, narrow(hi.min(cap)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::convert::Infallible;

    struct Constant(u32);
    impl TryRng for Constant {
        type Error = Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Infallible> {
            Ok(self.0)
        }
        fn try_next_u64(&mut self) -> Result<u64, Infallible> {
            Ok(u64::from(self.0))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
            dst.fill(0);
            Ok(())
        }
    }

    #[test]
    fn stuck_rng_still_answers_within_range() {
        for max in [1, 2, 1000, 1 << 20, u32::MAX - 1, u32::MAX] {
            for word in [0, u32::MAX] {
                let (r, source) = draw(&mut Constant(word), max, 0, 0);
                assert!(r <= max);
                assert_eq!(source, JitterSource::Rng);
            }
        }
    }

    #[derive(Debug)]
    struct RanOut;
    impl core::fmt::Display for RanOut {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.write_str("no words left")
        }
    }
    impl core::error::Error for RanOut {}

    /// Hands out the given words, then fails.
    struct Words<'a>(&'a [u32]);
    impl TryRng for Words<'_> {
        type Error = RanOut;
        fn try_next_u32(&mut self) -> Result<u32, RanOut> {
            let (&first, rest) = self.0.split_first().ok_or(RanOut)?;
            self.0 = rest;
            Ok(first)
        }
        fn try_next_u64(&mut self) -> Result<u64, RanOut> {
            Err(RanOut)
        }
        fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), RanOut> {
            Err(RanOut)
        }
    }

    /// The draw as vectors/README.md states it ("A draw in `0..=n`", "When the words run out"),
    /// written as plainly as possible: the value, where it came from, and the words left.
    fn contract(words: &[u32], n: u32, k: u32, now: u64) -> (u32, JitterSource, usize) {
        let fallback = |left| {
            let hash = u128::from(mix(now ^ u64::from(k).rotate_left(32)));
            (((hash * (u128::from(n) + 1)) >> 64) as u32, JitterSource::ClockFallback, left)
        };
        if n == 0 {
            return (0, JitterSource::NotDrawn, words.len());
        }
        let Some((&w, mut rest)) = words.split_first() else { return fallback(0) };
        if n == u32::MAX {
            return (w, JitterSource::Rng, rest.len());
        }
        let range = u64::from(n) + 1;
        let mut m = u64::from(w) * range;
        if m % (1 << 32) < range {
            let threshold = ((1 << 32) - range) % range;
            let mut taken = 1;
            while m % (1 << 32) < threshold && taken < 16 {
                let Some((&w, after)) = rest.split_first() else { return fallback(0) };
                rest = after;
                m = u64::from(w) * range;
                taken += 1;
            }
        }
        ((m >> 32) as u32, JitterSource::Rng, rest.len())
    }

    #[test]
    fn draw_takes_the_words_the_contract_takes_and_answers_the_same() {
        // Ranges where most words are taken at once, and ranges just past 2^31 where about half
        // are rejected, so the redraws, the 16-word limit and running out part way all happen.
        let maxes = [1, 2, 1000, 1001, 65_535, 1 << 31, (1 << 31) + 1, u32::MAX - 1, u32::MAX];
        let mut state = 7u64;
        let mut words = [0u32; 20];
        for case in 0..4000u32 {
            for word in &mut words {
                state = mix(state);
                // Small even words often (all of them in one case in five): for `max = 2^31`
                // each is rejected, so a case of them reaches the 16-word limit.
                let small = (state >> 40) as u32 & !1;
                *word = if state.is_multiple_of(3) || case.is_multiple_of(5) {
                    small
                } else {
                    (state >> 32) as u32
                };
            }
            let given = &words[..(case % 21) as usize];
            let max = maxes[(case % maxes.len() as u32) as usize];
            let (n, now) = (case % 7, u64::from(case) * 977);
            let mut rng = Words(given);
            let (r, source) = draw(&mut rng, max, n, now);
            assert_eq!((r, source, rng.0.len()), contract(given, max, n, now), "max {max}, words {given:?}");
        }
    }

    #[test]
    fn exponential_saturates_instead_of_overflowing() {
        assert_eq!(exponential(1000, 0), 1000);
        assert_eq!(exponential(1000, 5), 32_000);
        assert_eq!(exponential(u32::MAX, u32::MAX), u64::from(u32::MAX) << 32);
    }
}
