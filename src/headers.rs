//! Response headers: how the caller hands them over, and the ones the policy reads.

use crate::http_date;

/// Read access to a response's headers, implemented over whatever the caller's HTTP library
/// stores them in.
///
/// The crate calls [`for_each`](Self::for_each) once per response and picks out the headers it
/// reads, comparing names case-insensitively; nothing is copied or allocated. Slices and
/// arrays of `(name, value)` pairs implement it already:
///
/// ```
/// use backoff_core::Headers;
///
/// let headers = [("Retry-After", "8"), ("X-RateLimit-Context", "events")];
/// let mut seen = 0;
/// headers.for_each(&mut |_name, _value| seen += 1);
/// assert_eq!(seen, 2);
/// ```
pub trait Headers {
    /// Calls `visit(name, value)` for every header, in any order; repeated names once each.
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8]));
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>> Headers for [(K, V)] {
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
        for (name, value) in self {
            visit(name.as_ref(), value.as_ref());
        }
    }
}

impl<K: AsRef<[u8]>, V: AsRef<[u8]>, const M: usize> Headers for [(K, V); M] {
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
        self.as_slice().for_each(visit);
    }
}

impl<H: Headers + ?Sized> Headers for &H {
    fn for_each(&self, visit: &mut dyn FnMut(&[u8], &[u8])) {
        (**self).for_each(visit);
    }
}

/// No headers: `&()` is the headers of a response that has none worth reading (a transport
/// failure's stand-in, a test's bare status).
impl Headers for () {
    fn for_each(&self, _visit: &mut dyn FnMut(&[u8], &[u8])) {}
}

/// The server's request to wait, read from `Retry-After` (and `Date`, for the date form), in
/// milliseconds.
///
/// `Retry-After` is either delay-seconds (`120`; a fraction such as `1.5`, which some large
/// APIs send, is rounded up to the next millisecond) or an HTTP-date in any of the three forms
/// of RFC 9110; a date is turned into a delay by subtracting the same response's `Date` (itself
/// in any of the three forms), so no wall clock is needed.
///
/// - A number of any length is read: one too large for 64 bits saturates at `u64::MAX`, so
///   the caller's ceiling turns it into a failure now
///   ([`Stop::RetryAfterTooLong`](crate::Stop::RetryAfterTooLong)) and the rate-limit context
///   is held, as for any wait past the ceiling.
/// - A value that is empty, negative, not a number, a date with no `Date` header to measure it
///   from, or a date before `Date` is treated as absent (the request falls back to backoff).
/// - If the header is repeated, the longest valid wait wins: the client never retries earlier
///   than it was asked.
///
/// ```
/// use backoff_core::retry_after_ms;
///
/// assert_eq!(retry_after_ms(&[("retry-after", " 8 ")]), Some(8_000));
/// assert_eq!(retry_after_ms(&[("Retry-After", "1.5")]), Some(1_500));
/// assert_eq!(retry_after_ms(&[("Retry-After", "99999999999999999999999")]), Some(u64::MAX));
/// let dated = [
///     ("Date", "Sunday, 06-Nov-94 08:49:37 GMT"),
///     ("Retry-After", "Sun, 06 Nov 1994 08:50:07 GMT"),
/// ];
/// assert_eq!(retry_after_ms(&dated), Some(30_000));
/// assert_eq!(retry_after_ms(&[("Retry-After", "-1")]), None);
/// ```
#[must_use]
pub fn retry_after_ms<H: Headers + ?Sized>(headers: &H) -> Option<u64> {
    let mut millis: Option<u64> = None;
    let mut date: Option<u64> = None;
    let mut until_date = None::<u64>;
    // The date form is measured from `Date`, which may come after it: read `Date` first.
    headers.for_each(&mut |name, value| {
        if name.eq_ignore_ascii_case(b"date") {
            date = http_date::parse(value, http_date::PIVOT_YEAR).ok();
        }
    });
    let pivot = date.map_or(http_date::PIVOT_YEAR, http_date::year_of);
    headers.for_each(&mut |name, value| {
        if !name.eq_ignore_ascii_case(b"retry-after") {
            return;
        }
        if let Some(ms) = delay_ms(value) {
            millis = Some(millis.map_or(ms, |t| t.max(ms)));
        } else if let Ok(at) = http_date::parse(value, pivot) {
            until_date = Some(until_date.map_or(at, |t| t.max(at)));
        }
    });
    let from_date = match (until_date, date) {
        (Some(at), Some(now)) => at.checked_sub(now).map(|s| s.saturating_mul(1000)),
        _ => None,
    };
    match (millis, from_date) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// `1*DIGIT [ "." 1*DIGIT ]` surrounded by optional whitespace, as milliseconds: any number of
/// digits (saturating at `u64::MAX`), a fraction rounded up to the next millisecond.
pub(crate) fn delay_ms(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    let (whole, fraction) = match value.iter().position(|&b| b == b'.') {
        Some(dot) => (value.get(..dot)?, Some(value.get(dot + 1..)?)),
        None => (value, None),
    };
    let seconds = whole_number(whole)?;
    let mut ms = 0u64;
    let mut round_up = false;
    if let Some(fraction) = fraction {
        if fraction.is_empty() || !fraction.iter().all(u8::is_ascii_digit) {
            return None;
        }
        for (i, &b) in fraction.iter().enumerate() {
            let digit = u64::from(b - b'0');
            if i < 3 {
                ms = ms * 10 + digit;
            } else if digit != 0 {
                round_up = true;
            }
        }
        for _ in fraction.len()..3 {
            ms *= 10;
        }
    }
    Some(seconds.saturating_mul(1000).saturating_add(ms).saturating_add(u64::from(round_up)))
}

/// `1*DIGIT`, saturating at `u64::MAX` however many digits it has; `None` if it is empty or
/// has anything but digits.
pub(crate) fn whole_number(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc.saturating_mul(10).saturating_add(u64::from(b - b'0')))
    })
}
