//! Other APIs' dialects of "slow down": which headers carry limit, remaining, window, reset and
//! context, in which unit, and whether the IETF `RateLimit` / `RateLimit-Policy` fields are
//! read. Plain `const` data: a preset per API is one `const`.

use crate::headers::{self, Headers};
use crate::http_date;
use crate::rate_limit::{ContextName, RateLimitHeaders};

/// How a reset header's value is counted. Both accept a fraction (`1.5`, `1470173023.123`),
/// rounded up to the millisecond, so a wait is never shorter than told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResetUnit {
    /// Seconds from now (Discord's `X-RateLimit-Reset-After`, many others' `-Reset`).
    SecondsFromNow,
    /// Unix seconds (GitHub's and X's `X-RateLimit-Reset`), turned into a wait by subtracting
    /// the same response's `Date`, so no wall clock is needed; without `Date` it is not read.
    UnixSeconds,
}

/// Which headers an API uses to say how much it allows, and how to read them.
///
/// Header names are matched case-insensitively. A name of `None` is not read. Every value that
/// is empty, negative or not a number is treated as absent; a reset further away than
/// [`max_reset_ms`](Self::max_reset_ms) is discarded (Envoy's rule: a bogus reset must not
/// stall a client for a day).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Dialect {
    /// Requests allowed per window.
    pub limit: Option<&'static str>,
    /// Requests left in the current window.
    pub remaining: Option<&'static str>,
    /// The window's length, in whole seconds.
    pub window: Option<&'static str>,
    /// When the quota resets, and in which unit.
    pub reset: Option<(&'static str, ResetUnit)>,
    /// Which limit this is (a context, bucket or resource name).
    pub context: Option<&'static str>,
    /// Whether the IETF `RateLimit` and `RateLimit-Policy` fields (draft-ietf-httpapi-
    /// ratelimit-headers-11, RFC 9651 structured fields) are read, after the headers above.
    pub ietf: bool,
    /// The longest reset that is believed, in milliseconds.
    pub max_reset_ms: u32,
}

impl Dialect {
    /// Follow Up Boss's `X-RateLimit-Limit`, `-Remaining`, `-Window` (seconds, sliding) and
    /// `-Context` (<https://docs.followupboss.com/reference/rate-limiting>): the preset, and
    /// what [`RateLimits::observe`](crate::RateLimits::observe) reads.
    pub const FOLLOW_UP_BOSS: Self = Self {
        limit: Some("x-ratelimit-limit"),
        remaining: Some("x-ratelimit-remaining"),
        window: Some("x-ratelimit-window"),
        reset: None,
        context: Some("x-ratelimit-context"),
        ietf: false,
        max_reset_ms: 3_600_000,
    };

    /// GitHub's REST API: `x-ratelimit-limit`, `-remaining`, `-reset` in Unix seconds,
    /// `-resource` naming the limit (`core`, `search`, …)
    /// (<https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>).
    /// Its primary window is an hour, so a reset up to an hour and a minute is believed.
    pub const GITHUB: Self = Self {
        limit: Some("x-ratelimit-limit"),
        remaining: Some("x-ratelimit-remaining"),
        window: None,
        reset: Some(("x-ratelimit-reset", ResetUnit::UnixSeconds)),
        context: Some("x-ratelimit-resource"),
        ietf: false,
        max_reset_ms: 3_660_000,
    };

    /// Discord's HTTP API: `X-RateLimit-Limit`, `-Remaining`, `-Reset-After` in seconds with a
    /// fraction, `-Bucket` naming the limit
    /// (<https://discord.com/developers/docs/topics/rate-limits>).
    pub const DISCORD: Self = Self {
        limit: Some("x-ratelimit-limit"),
        remaining: Some("x-ratelimit-remaining"),
        window: None,
        reset: Some(("x-ratelimit-reset-after", ResetUnit::SecondsFromNow)),
        context: Some("x-ratelimit-bucket"),
        ietf: false,
        max_reset_ms: 3_600_000,
    };

    /// The IETF httpapi working group's `RateLimit` and `RateLimit-Policy` fields, as in
    /// draft-ietf-httpapi-ratelimit-headers-11
    /// (<https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/11/>):
    /// `RateLimit: "default";r=50;t=30` (`r` remaining, `t` seconds until the quota resets),
    /// `RateLimit-Policy: "default";q=100;w=60` (`q` quota, `w` window in seconds).
    pub const IETF_DRAFT_11: Self = Self {
        limit: None,
        remaining: None,
        window: None,
        reset: None,
        context: None,
        ietf: true,
        max_reset_ms: 3_600_000,
    };

    /// Reads what a response says about its rate limit, in this dialect.
    #[must_use]
    pub fn read<H: Headers + ?Sized>(&self, headers: &H) -> RateLimitHeaders {
        let mut out = RateLimitHeaders {
            retry_after_ms: headers::retry_after_ms(headers),
            ..RateLimitHeaders::default()
        };
        let is = |wanted: Option<&str>, name: &[u8]| {
            wanted.is_some_and(|w| w.as_bytes().eq_ignore_ascii_case(name))
        };
        let mut date: Option<u64> = None;
        let mut reset_ms = None;
        headers.for_each(&mut |name, value| {
            let number = || headers::whole_number(value.trim_ascii()).map(saturate);
            if is(self.limit, name) {
                out.limit = number();
            } else if is(self.remaining, name) {
                out.remaining = number();
            } else if is(self.window, name) {
                out.window_ms = number().map(|s| s.saturating_mul(1000));
            } else if is(self.context, name) {
                out.context = ContextName::new(value.trim_ascii());
            } else if self.reset.is_some_and(|(r, _)| r.as_bytes().eq_ignore_ascii_case(name)) {
                reset_ms = match self.reset {
                    Some((_, ResetUnit::SecondsFromNow)) => headers::delay_ms(value),
                    _ => None,
                };
            } else if name.eq_ignore_ascii_case(b"date") {
                date = http_date::parse(value, http_date::PIVOT_YEAR).ok();
            }
        });
        if let Some((name, ResetUnit::UnixSeconds)) = self.reset {
            // Measured against `Date`, which may come before or after it.
            headers.for_each(&mut |n, value| {
                if name.as_bytes().eq_ignore_ascii_case(n) {
                    reset_ms = match (headers::delay_ms(value), date) {
                        (Some(at_ms), Some(now_s)) => at_ms.checked_sub(now_s.saturating_mul(1000)),
                        _ => None,
                    };
                }
            });
        }
        out.reset_ms = reset_ms;
        if self.ietf {
            headers.for_each(&mut |name, value| {
                if name.eq_ignore_ascii_case(b"ratelimit") {
                    if let Some(item) = most_restrictive(value, Field::Limit) {
                        out.context = out.context.or(item.name);
                        out.remaining = item.r.map(saturate).or(out.remaining);
                        out.reset_ms = item.t.map(|t| t.saturating_mul(1000)).or(out.reset_ms);
                    }
                } else if name.eq_ignore_ascii_case(b"ratelimit-policy") {
                    if let Some(item) = most_restrictive(value, Field::Policy) {
                        out.limit = item.q.map(saturate).or(out.limit);
                        out.window_ms = item.w.map(|w| saturate(w).saturating_mul(1000)).or(out.window_ms);
                    }
                }
            });
        }
        out.reset_ms = out.reset_ms.filter(|&ms| ms <= u64::from(self.max_reset_ms));
        out
    }
}

fn saturate(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// Which IETF field is being read.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    /// `RateLimit`: the most restrictive item is the one with the fewest requests left (the
    /// longest reset among those with none).
    Limit,
    /// `RateLimit-Policy`: the one allowing the fewest requests per second.
    Policy,
}

/// One item of an IETF field: its name (the policy's, a string or token) and the parameters
/// the draft defines, as integers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RateLimitItem {
    /// The item's name, as the rate-limit context (printable, not empty), if it has one.
    pub name: Option<ContextName>,
    /// `r`: requests remaining.
    pub r: Option<u64>,
    /// `t`: seconds until the quota resets.
    pub t: Option<u64>,
    /// `q`: the quota.
    pub q: Option<u64>,
    /// `w`: the window, in seconds.
    pub w: Option<u64>,
}

/// The most restrictive item of a `RateLimit` (or `RateLimit-Policy`) field, or `None` if the
/// field is not a valid RFC 9651 list (every malformed form is answered as absent).
fn most_restrictive(value: &[u8], field: Field) -> Option<RateLimitItem> {
    let mut best: Option<RateLimitItem> = None;
    let ok = parse_list(value, &mut |item| {
        let better = match (best, field) {
            (None, _) => true,
            (Some(b), Field::Limit) => match (item.r, b.r) {
                (Some(0), Some(0)) => item.t.unwrap_or(0) > b.t.unwrap_or(0),
                (Some(r), Some(br)) => r < br,
                (Some(_), None) => true,
                _ => false,
            },
            (Some(b), Field::Policy) => match (item.q, item.w, b.q, b.w) {
                // q/w < bq/bw, compared without division.
                (Some(q), Some(w), Some(bq), Some(bw)) => {
                    u128::from(q) * u128::from(bw) < u128::from(bq) * u128::from(w)
                }
                (Some(_), Some(_), _, _) => true,
                _ => false,
            },
        };
        if better {
            best = Some(item);
        }
    });
    if ok {
        best
    } else {
        None
    }
}

/// Parses an RFC 9651 List of Items with Parameters (the subset the IETF fields use: bare
/// items that are strings, tokens, integers, decimals or booleans; parameters with integer,
/// string, token, decimal or boolean values), calling `each` with the draft's parameters of
/// every item. `false` if the field is malformed anywhere. One pass, no allocation.
pub fn parse_list(value: &[u8], each: &mut dyn FnMut(RateLimitItem)) -> bool {
    let mut p = Parser { s: value, i: 0 };
    p.skip_sp();
    if p.at_end() {
        return true; // an empty list
    }
    loop {
        let Some(item) = p.item() else { return false };
        each(item);
        p.skip_ows();
        if p.at_end() {
            return true;
        }
        if p.next() != Some(b',') {
            return false;
        }
        p.skip_ows();
        if p.at_end() {
            return false; // a trailing comma
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// A bare item's value, as far as the draft needs it.
enum Bare<'a> {
    Integer(u64),
    /// A string's content (escapes left as they are) or a token.
    Text(&'a [u8]),
    Other,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.i += 1;
        Some(b)
    }
    fn at_end(&self) -> bool {
        self.i >= self.s.len()
    }
    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }
    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    fn item(&mut self) -> Option<RateLimitItem> {
        let name = match self.bare()? {
            Bare::Text(text) => ContextName::new(text),
            _ => None,
        };
        let mut item = RateLimitItem { name, ..RateLimitItem::default() };
        while self.peek() == Some(b';') {
            self.i += 1;
            self.skip_sp();
            let key = self.key()?;
            let value = if self.peek() == Some(b'=') {
                self.i += 1;
                self.bare()?
            } else {
                Bare::Other // boolean true
            };
            let slot = match key {
                b"r" => &mut item.r,
                b"t" => &mut item.t,
                b"q" => &mut item.q,
                b"w" => &mut item.w,
                _ => continue,
            };
            // A draft parameter that is not a non-negative integer is absent.
            *slot = match value {
                Bare::Integer(n) => Some(n),
                Bare::Text(_) | Bare::Other => None,
            };
        }
        Some(item)
    }

    /// `key = ( lcalpha / "*" ) *( lcalpha / DIGIT / "_" / "-" / "." / "*" )`
    fn key(&mut self) -> Option<&'a [u8]> {
        let start = self.i;
        // The first character's set is part of the rest's, so the loop takes it too.
        if !matches!(self.peek()?, b'a'..=b'z' | b'*') {
            return None;
        }
        while matches!(self.peek(), Some(b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-' | b'.' | b'*')) {
            self.i += 1;
        }
        self.s.get(start..self.i)
    }

    fn bare(&mut self) -> Option<Bare<'a>> {
        let start = self.i;
        match self.peek()? {
            b'-' | b'0'..=b'9' => self.number(),
            b'"' => {
                self.i += 1;
                loop {
                    match self.next()? {
                        b'"' => {
                            return Some(Bare::Text(self.s.get(start + 1..self.i - 1).unwrap_or_default()))
                        }
                        b'\\' => {
                            if !matches!(self.next()?, b'"' | b'\\') {
                                return None;
                            }
                        }
                        0x20..=0x7E => {}
                        _ => return None,
                    }
                }
            }
            // A token; its first character's set is part of the rest's, so the loop takes it.
            b'A'..=b'Z' | b'a'..=b'z' | b'*' => {
                while matches!(
                    self.peek(),
                    Some(b'!' | b'#'..=b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~' | b':' | b'/')
                        | Some(b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z')
                ) {
                    self.i += 1;
                }
                Some(Bare::Text(self.s.get(start..self.i).unwrap_or_default()))
            }
            b'?' => {
                self.i += 1;
                matches!(self.next()?, b'0' | b'1').then_some(Bare::Other)
            }
            _ => None,
        }
    }

    /// `sf-integer = ["-"] 1*15DIGIT`, `sf-decimal = ["-"] 1*12DIGIT "." 1*3DIGIT`. A negative
    /// number or a decimal is valid syntax but not a draft parameter's value.
    fn number(&mut self) -> Option<Bare<'a>> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.i += 1;
        }
        let start = self.i;
        let mut n: u64 = 0;
        while let Some(d @ b'0'..=b'9') = self.peek() {
            n = n * 10 + u64::from(d - b'0');
            self.i += 1;
            if self.i - start > 15 {
                return None;
            }
        }
        let digits = self.i - start;
        if digits == 0 {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            let frac = self.i;
            while matches!(self.peek(), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            let f = self.i - frac;
            return (digits <= 12 && (1..=3).contains(&f)).then_some(Bare::Other);
        }
        Some(if negative { Bare::Other } else { Bare::Integer(n) })
    }
}
