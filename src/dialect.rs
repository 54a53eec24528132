//! Other APIs' dialects of "slow down": which headers carry limit, remaining, window, reset and
//! context, in which unit, and whether the IETF `RateLimit` / `RateLimit-Policy` fields are
//! read. Plain `const` data: a preset per API is one `const`.

use crate::body::BodyFields;
use crate::headers::{self, Headers};
use crate::http_date;
pub use crate::pushback::Scope;
use crate::pushback::{ContextName, RateLimitHeaders};
use crate::utf8::{Step, Utf8};

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

/// What an IETF policy's quota counts (its `qu` parameter), in a parsed item
/// ([`RateLimitItem`], hidden with it: for the tests, the fuzz targets and the vectors).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[doc(hidden)]
pub enum QuotaUnit {
    /// Requests: `qu` absent (the default), `"requests"` or `"request"` (the draft's registry).
    #[default]
    Requests,
    /// Anything else (`"content-bytes"`, `"concurrent-requests"`, a value that is not a
    /// string): the quota is not a number of requests, so it neither paces nor counts them;
    /// only "none left" (`r=0`) is read, as none of anything.
    Other,
}

/// Which headers an API uses to say how much it allows, and how to read them.
///
/// Header names are matched case-insensitively. A name of `None` is not read. Every value that
/// is empty, negative or not a number is treated as absent. A reset however far away is kept:
/// a hold is believed for at most [`RateLimits::max_hold_ms`](crate::RateLimits::max_hold_ms),
/// and a request that meets a hold longer than its ceiling fails at once
/// ([`Request::may_wait_until`](crate::Request::may_wait_until)) instead of going early.
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
    /// The statuses that carry the API's pushback: their `Retry-After` (or, without one, a
    /// spent quota's reset) holds the context and is the request's wait. HTTP's own are
    /// [`HTTP_PUSHBACK`](Self::HTTP_PUSHBACK) (429, 503); GitHub adds 403.
    pub pushback: &'static [u16],
    /// A header whose value `true` says the limit met is the global one (Discord's
    /// `X-RateLimit-Global`): see [`Scope::Global`].
    pub global: Option<&'static str>,
    /// A header naming the limit's scope (Discord's `X-RateLimit-Scope`): `global` is
    /// [`Scope::Global`], `shared` is [`Scope::Resource`], anything else (`user`) the context.
    pub scope: Option<&'static str>,
    /// The top-level fields of a pushback status's JSON error body that carry a wait where
    /// the headers carry none (Discord's `retry_after` and `global`, GitHub's secondary-limit
    /// `message`); [`BodyFields::NONE`] for an API whose bodies carry none.
    pub body: BodyFields,
}

impl Dialect {
    /// The statuses whose `Retry-After` HTTP itself defines as pushback: 429 and 503.
    pub const HTTP_PUSHBACK: &'static [u16] = crate::pushback::HTTP_PUSHBACK;

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
        pushback: Self::HTTP_PUSHBACK,
        global: None,
        scope: None,
        body: BodyFields::NONE,
    };

    /// GitHub's REST API: `x-ratelimit-limit`, `-remaining`, `-reset` in Unix seconds,
    /// `-resource` naming the limit (`core`, `search`, …)
    /// (<https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api>).
    /// "If you exceed your primary rate limit, you will receive a `403` or `429` response":
    /// both carry pushback, as does 503. A secondary limit's 403 or 429 says so in its body's
    /// `message` ("You have exceeded a secondary rate limit"); where its headers carry no
    /// wait ("Otherwise, wait for at least one minute before retrying") it waits
    /// [`BodyFields::SECONDARY_LIMIT_WAIT_MS`](crate::BodyFields::SECONDARY_LIMIT_WAIT_MS).
    pub const GITHUB: Self = Self {
        limit: Some("x-ratelimit-limit"),
        remaining: Some("x-ratelimit-remaining"),
        window: None,
        reset: Some(("x-ratelimit-reset", ResetUnit::UnixSeconds)),
        context: Some("x-ratelimit-resource"),
        ietf: false,
        pushback: &[403, 429, 503],
        global: None,
        scope: None,
        body: BodyFields { retry_after: false, global: false, secondary_limit: true },
    };

    /// Discord's HTTP API: `X-RateLimit-Limit`, `-Remaining`, `-Reset-After` in seconds with a
    /// fraction, `-Bucket` naming the limit, `-Global` and `-Scope` saying what a 429 holds
    /// (<https://discord.com/developers/docs/topics/rate-limits>). A 429's JSON body carries
    /// `retry_after` ("the number of seconds to wait before submitting another request", a
    /// float) and `global` ("if you are being globally rate limited"): the wait where the
    /// headers carry none, and a global limit whatever they say.
    pub const DISCORD: Self = Self {
        limit: Some("x-ratelimit-limit"),
        remaining: Some("x-ratelimit-remaining"),
        window: None,
        reset: Some(("x-ratelimit-reset-after", ResetUnit::SecondsFromNow)),
        context: Some("x-ratelimit-bucket"),
        ietf: false,
        pushback: Self::HTTP_PUSHBACK,
        global: Some("x-ratelimit-global"),
        scope: Some("x-ratelimit-scope"),
        body: BodyFields { retry_after: true, global: true, secondary_limit: false },
    };

    /// The IETF httpapi working group's `RateLimit` and `RateLimit-Policy` fields, as in
    /// draft-ietf-httpapi-ratelimit-headers-11
    /// (<https://datatracker.ietf.org/doc/draft-ietf-httpapi-ratelimit-headers/11/>):
    /// `RateLimit: "default";r=50;t=30` (`r` remaining, `t` seconds until the quota resets),
    /// `RateLimit-Policy: "default";q=100;w=60` (`q` quota, `w` window in seconds).
    ///
    /// To the draft's letter: the lines of a field are one list (RFC 9110 §5.3); the most
    /// restrictive `RateLimit` item counts (fewest left; of those with none, the longest
    /// reset); the policy that paces is the one that item names (without a `RateLimit`
    /// field, the one allowing the fewest requests per second); a quota in other units than
    /// requests (`qu`) neither paces nor counts requests; parameters the draft does not
    /// define, of any valid type, are ignored; a malformed field is ignored whole; and a
    /// response from a cache (`Age` above 0) is not read for them at all (§7.3).
    pub const IETF_DRAFT_11: Self = Self {
        limit: None,
        remaining: None,
        window: None,
        reset: None,
        context: None,
        ietf: true,
        pushback: Self::HTTP_PUSHBACK,
        global: None,
        scope: None,
        body: BodyFields::NONE,
    };

    /// Reads what a response says about its rate limit, in this dialect.
    #[must_use]
    pub fn read<H: Headers + ?Sized>(&self, headers: &H) -> RateLimitHeaders {
        let mut out = RateLimitHeaders {
            retry_after_ms: headers::retry_after_ms(headers),
            pushback: self.pushback,
            body: self.body,
            ..RateLimitHeaders::default()
        };
        let is = |wanted: Option<&str>, name: &[u8]| {
            wanted.is_some_and(|w| w.as_bytes().eq_ignore_ascii_case(name))
        };
        let mut date: Option<u64> = None;
        let mut reset_ms = None;
        let (mut global, mut shared, mut cached) = (false, false, false);
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
            } else if is(self.global, name) {
                global |= value.trim_ascii().eq_ignore_ascii_case(b"true");
            } else if is(self.scope, name) {
                let value = value.trim_ascii();
                global |= value.eq_ignore_ascii_case(b"global");
                shared |= value.eq_ignore_ascii_case(b"shared");
            } else if name.eq_ignore_ascii_case(b"date") {
                date = http_date::parse(value, http_date::PIVOT_YEAR).ok();
            } else if name.eq_ignore_ascii_case(b"age") {
                cached |= headers::whole_number(value.trim_ascii()).is_some_and(|age| age > 0);
            }
        });
        out.scope = match (global, shared) {
            (true, _) => Scope::Global,
            (false, true) => Scope::Resource,
            (false, false) => Scope::Named,
        };
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
        // The draft: fields on a response from a cache "SHOULD be ignored".
        if self.ietf && !cached {
            read_ietf(headers, &mut out);
        }
        out
    }
}

/// The IETF fields, over what the dialect's other headers said.
fn read_ietf<H: Headers + ?Sized>(headers: &H, out: &mut RateLimitHeaders) {
    let policy = match most_restrictive_limit(headers) {
        Some(item) => {
            out.context = out.context.or(item.name);
            out.remaining = item.r.map(saturate).or(out.remaining);
            out.reset_ms = item.t.map(|t| t.saturating_mul(1000)).or(out.reset_ms);
            // The policy that item reports on, and no other.
            item.name.and_then(|name| policy_named(headers, name))
        }
        None => most_restrictive_policy(headers),
    };
    if let Some(policy) = policy.filter(|p| p.unit == QuotaUnit::Requests) {
        out.limit = policy.q.map(saturate).or(out.limit);
        out.window_ms = policy.w.map(|w| saturate(w).saturating_mul(1000)).or(out.window_ms);
    }
}

fn saturate(v: u64) -> u32 {
    u32::try_from(v).unwrap_or(u32::MAX)
}

/// One item of an IETF field: its name (the policy's, a string or token) and the parameters
/// the draft defines, as integers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[doc(hidden)]
pub struct RateLimitItem {
    /// The item's name, as the rate-limit context (printable, not empty, no space), if it has
    /// one. An item whose name no context can hold still counts: it holds every request.
    pub name: Option<ContextName>,
    /// `r`: quota units remaining (a non-negative integer; absent otherwise).
    pub r: Option<u64>,
    /// `t`: seconds until the quota resets.
    pub t: Option<u64>,
    /// `q`: the quota.
    pub q: Option<u64>,
    /// `w`: the window, in seconds.
    pub w: Option<u64>,
    /// `qu`: what the quota counts.
    pub unit: QuotaUnit,
}

/// The most restrictive item of the `RateLimit` field: the one with the fewest requests left,
/// and of those with none, the one with the longest reset (every one of them must have reset
/// before a request can go). An item whose policy counts something else than requests says
/// only whether none is left. `None` if the field is absent, empty or malformed.
fn most_restrictive_limit<H: Headers + ?Sized>(headers: &H) -> Option<RateLimitItem> {
    let mut best: Option<RateLimitItem> = None;
    let ok = parse_field(headers, b"ratelimit", &mut |mut item| {
        let unit =
            item.name.and_then(|name| policy_named(headers, name)).map_or(QuotaUnit::Requests, |p| p.unit);
        if unit == QuotaUnit::Other {
            item.r = item.r.filter(|&r| r == 0);
        }
        let better = match best {
            None => true,
            Some(b) => match (item.r, b.r) {
                (Some(0), Some(0)) => item.t.unwrap_or(0) > b.t.unwrap_or(0),
                (Some(r), Some(br)) => r < br,
                (Some(_), None) => true,
                _ => false,
            },
        };
        if better {
            best = Some(item);
        }
    });
    best.filter(|_| ok)
}

/// The `RateLimit-Policy` item that allows the fewest requests per second (of those with a
/// quota and a window, in requests), or `None` if the field is absent or malformed.
fn most_restrictive_policy<H: Headers + ?Sized>(headers: &H) -> Option<RateLimitItem> {
    let mut best: Option<RateLimitItem> = None;
    let ok = parse_field(headers, b"ratelimit-policy", &mut |item| {
        let (Some(q), Some(w), QuotaUnit::Requests) = (item.q, item.w, item.unit) else { return };
        let better = match best.and_then(|b| Some((b.q?, b.w?))) {
            // q/w < bq/bw, compared without division.
            Some((bq, bw)) => u128::from(q) * u128::from(bw) < u128::from(bq) * u128::from(w),
            None => true,
        };
        if better {
            best = Some(item);
        }
    });
    best.filter(|_| ok)
}

/// The `RateLimit-Policy` item named `name` (the last, if several are), or `None` if there is
/// none or the field is malformed.
fn policy_named<H: Headers + ?Sized>(headers: &H, name: ContextName) -> Option<RateLimitItem> {
    let mut found = None;
    let ok = parse_field(headers, b"ratelimit-policy", &mut |item| {
        if item.name == Some(name) {
            found = Some(item);
        }
    });
    found.filter(|_| ok)
}

/// Parses every line of the field `field` as one RFC 9651 List (RFC 9110 §5.3: the lines of a
/// list field are one list, joined by commas), calling `each` with its items; `false` if the
/// joined list is malformed (then what `each` was given must be forgotten).
fn parse_field<H: Headers + ?Sized>(headers: &H, field: &[u8], each: &mut dyn FnMut(RateLimitItem)) -> bool {
    let mut lines = Lines::default();
    headers.for_each(&mut |name, value| {
        if name.eq_ignore_ascii_case(field) {
            lines.line(value, each);
        }
    });
    lines.ok()
}

/// Parses an RFC 9651 List of one field line, calling `each` with the draft's parameters of
/// every Item (Inner Lists are valid members but not the draft's items, so they are skipped).
/// Every bare item type of RFC 9651 is parsed (integers, decimals, strings, tokens, byte
/// sequences, booleans, dates, display strings); the draft's parameters keep their value when
/// it is a non-negative integer (`-0` included), and any other parameter is ignored, whatever
/// its type. `false` if the field is malformed anywhere. One pass, no allocation.
#[doc(hidden)]
pub fn parse_list(value: &[u8], each: &mut dyn FnMut(RateLimitItem)) -> bool {
    parse_lines(&[value], each)
}

/// [`parse_list`] over the several lines of one field, as if joined by `", "` (RFC 9110
/// §5.3): a line may start with tabs as well as spaces, and an empty line among several
/// makes the list malformed (it would leave an empty member).
#[doc(hidden)]
pub fn parse_lines(lines: &[&[u8]], each: &mut dyn FnMut(RateLimitItem)) -> bool {
    let mut joined = Lines::default();
    for line in lines {
        joined.line(line, each);
    }
    joined.ok()
}

/// The lines of one list field, parsed one at a time as their join would be.
#[derive(Default)]
struct Lines {
    count: u32,
    empty: bool,
    malformed: bool,
}

impl Lines {
    fn line(&mut self, value: &[u8], each: &mut dyn FnMut(RateLimitItem)) {
        self.count = self.count.saturating_add(1);
        let mut p = Parser { s: value, i: 0 };
        if self.count == 1 {
            p.skip_sp(); // the start of the field: RFC 9651 discards leading spaces
        } else {
            p.skip_ows(); // after the joining comma: optional whitespace
        }
        if p.at_end() {
            self.empty = true;
        } else if !p.members(each) {
            self.malformed = true;
        }
    }

    /// Whether the joined list is well formed: no line malformed, and no empty line among
    /// several (it would leave an empty member between two commas).
    fn ok(&self) -> bool {
        let empty_member = self.empty && self.count > 1;
        !(self.malformed || empty_member)
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

/// A bare item's value, as far as the draft needs it.
enum Bare<'a> {
    /// A non-negative integer (or `-0`).
    Integer(u64),
    /// A string's content, escapes left as they are.
    String(&'a [u8]),
    /// A token.
    Token(&'a [u8]),
    /// Any other valid bare item: a negative integer, a decimal, a byte sequence, a boolean,
    /// a date or a display string.
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

    /// The members of a non-empty list, from here to the end (RFC 9651 §4.2.1).
    fn members(&mut self, each: &mut dyn FnMut(RateLimitItem)) -> bool {
        loop {
            if self.peek() == Some(b'(') {
                if self.inner_list().is_none() {
                    return false;
                }
            } else {
                let Some(item) = self.item() else { return false };
                each(item);
            }
            self.skip_ows();
            if self.at_end() {
                return true;
            }
            if self.next() != Some(b',') {
                return false;
            }
            self.skip_ows();
            if self.at_end() {
                return false; // a trailing comma
            }
        }
    }

    /// `inner-list = "(" *SP [ sf-item *( 1*SP sf-item ) *SP ] ")" parameters`, skipped.
    fn inner_list(&mut self) -> Option<()> {
        self.i += 1; // the "("
        loop {
            self.skip_sp();
            if self.peek()? == b')' {
                self.i += 1;
                return self.parameters(&mut RateLimitItem::default());
            }
            self.item()?;
            if !matches!(self.peek()?, b' ' | b')') {
                return None;
            }
        }
    }

    fn item(&mut self) -> Option<RateLimitItem> {
        let name = match self.bare()? {
            Bare::String(text) | Bare::Token(text) => ContextName::new(text),
            _ => None,
        };
        let mut item = RateLimitItem { name, ..RateLimitItem::default() };
        self.parameters(&mut item)?;
        Some(item)
    }

    /// `parameters = *( ";" *SP parameter )`; the draft's go into `item`, the rest are read
    /// and ignored. A key given twice keeps its last value (RFC 9651 §4.2.3.2).
    fn parameters(&mut self, item: &mut RateLimitItem) -> Option<()> {
        while self.peek() == Some(b';') {
            self.i += 1;
            self.skip_sp();
            let key = self.key()?;
            let value = if self.peek() == Some(b'=') {
                self.i += 1;
                Some(self.bare()?)
            } else {
                None // boolean true
            };
            if key == b"qu" {
                item.unit = match value {
                    Some(Bare::String(b"requests" | b"request")) => QuotaUnit::Requests,
                    _ => QuotaUnit::Other,
                };
                continue;
            }
            let slot = match key {
                b"r" => &mut item.r,
                b"t" => &mut item.t,
                b"q" => &mut item.q,
                b"w" => &mut item.w,
                _ => continue,
            };
            // A draft parameter that is not a non-negative integer is absent.
            *slot = match value {
                Some(Bare::Integer(n)) => Some(n),
                _ => None,
            };
        }
        Some(())
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
                            return Some(Bare::String(self.s.get(start + 1..self.i - 1).unwrap_or_default()))
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
                Some(Bare::Token(self.s.get(start..self.i).unwrap_or_default()))
            }
            // A byte sequence: base64 between colons (padding not required, RFC 9651 §4.2.7).
            b':' => {
                self.i += 1;
                loop {
                    match self.next()? {
                        b':' => return Some(Bare::Other),
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' | b'=' => {}
                        _ => return None,
                    }
                }
            }
            b'?' => {
                self.i += 1;
                matches!(self.next()?, b'0' | b'1').then_some(Bare::Other)
            }
            // A date: "@" and an integer (RFC 9651 §4.2.9).
            b'@' => {
                self.i += 1;
                let before = self.i;
                self.number()?;
                let decimal = self.s.get(before..self.i).is_some_and(|n| n.contains(&b'.'));
                (!decimal).then_some(Bare::Other)
            }
            b'%' => self.display_string(),
            _ => None,
        }
    }

    /// `sf-displaystring = "%" DQUOTE *( unescaped / "\" / pct-encoded ) DQUOTE`, whose
    /// percent-decoded bytes must be UTF-8 (RFC 9651 §4.2.10).
    fn display_string(&mut self) -> Option<Bare<'a>> {
        self.i += 1; // the "%"
        if self.next()? != b'"' {
            return None;
        }
        let mut utf8 = Utf8::new();
        loop {
            let byte = match self.next()? {
                b'"' => return (!utf8.is_pending()).then_some(Bare::Other),
                b'%' => (hex_lower(self.next()?)? << 4) | hex_lower(self.next()?)?,
                b @ 0x20..=0x7E => b,
                _ => return None,
            };
            let was_pending = utf8.is_pending();
            match utf8.push(byte) {
                Step::Replace => return None,
                // A byte that cannot start a character (the decoder's U+FFFD for it).
                Step::Char(_) if !was_pending && byte >= 0x80 => return None,
                Step::Char(_) | Step::Pending => {}
            }
        }
    }

    /// `sf-integer = ["-"] 1*15DIGIT`, `sf-decimal = ["-"] 1*12DIGIT "." 1*3DIGIT`. A negative
    /// number (but `-0`) or a decimal is valid syntax but not a draft parameter's value.
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
        Some(if negative && n != 0 { Bare::Other } else { Bare::Integer(n) })
    }
}

/// A lower-case hex digit's value (display strings allow no upper case).
const fn hex_lower(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}
