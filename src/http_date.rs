//! HTTP-date (RFC 9110 §5.6.7) in its three forms, as seconds since 1970-01-01 UTC.
//!
//! A recipient must accept all three:
//!
//! - IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
//! - RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT` (two-digit year)
//! - asctime: `Sun Nov  6 08:49:37 1994`
//!
//! Parsing is strict about the grammar (fixed widths, `GMT`, valid day of month and time;
//! a leap second `:60` is accepted) and never reads a wall clock. Every input gets an answer:
//! an instant, or a [`DateError`] saying why not; nothing panics, wraps or clamps.

use core::fmt;

/// The year that stands for "now" when an RFC 850 date's two-digit year must be resolved and
/// there is no better reference: the `Date` header itself is read against it. RFC 9110 wants
/// the recipient's current year; a device without a wall clock has none, so the crate uses the
/// year it was released. Two-digit years then read as 1977–2076, right for any `Date` a server
/// sends until 2076.
pub const PIVOT_YEAR: u32 = 2026;

/// The earliest and latest years an instant can have here: the Unix epoch, and the last
/// four-digit year.
pub const YEARS: core::ops::RangeInclusive<u32> = 1970..=9999;

/// Why a value is not an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DateError {
    /// Not an HTTP-date in any of the three forms (or not a valid day or time).
    Malformed,
    /// A well-formed date whose year is outside [`YEARS`] (before the Unix epoch, or an RFC 850
    /// year resolved past 9999 by an extreme `pivot_year`).
    YearOutOfRange,
}

impl fmt::Display for DateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "not an HTTP-date",
            Self::YearOutOfRange => "HTTP-date year outside 1970-9999",
        })
    }
}

/// Seconds since the Unix epoch of an HTTP-date.
///
/// `pivot_year` resolves RFC 850's two-digit years: the year is the one ending in those digits
/// that is at most 50 years after `pivot_year` (RFC 9110's rule, with `pivot_year` standing for
/// "now": the response's own `Date` for a `Retry-After`, [`PIVOT_YEAR`] for `Date` itself).
/// Any `pivot_year` is accepted; a year that resolves outside [`YEARS`] is
/// [`DateError::YearOutOfRange`].
///
/// ```
/// use backoff_core::http_date::{parse, DateError, PIVOT_YEAR};
///
/// assert_eq!(parse(b"Sun, 06 Nov 1994 08:49:37 GMT", PIVOT_YEAR), Ok(784_111_777));
/// assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT", PIVOT_YEAR), Ok(784_111_777));
/// assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT", u32::MAX), Err(DateError::YearOutOfRange));
/// assert_eq!(parse(b"tomorrow", PIVOT_YEAR), Err(DateError::Malformed));
/// ```
pub fn parse(value: &[u8], pivot_year: u32) -> Result<u64, DateError> {
    let value = trim(value);
    if let Some(comma) = value.iter().position(|&b| b == b',') {
        let (name, rest) = value.split_at(comma);
        let rest = rest.get(1..).ok_or(DateError::Malformed)?;
        if is_short_day(name) {
            imf_fixdate(rest)
        } else if is_long_day(name) {
            rfc850(rest, pivot_year)
        } else {
            Err(DateError::Malformed)
        }
    } else {
        asctime(value)
    }
}

/// The year of an epoch instant, for the two-digit-year pivot (at most 9999: an HTTP-date
/// has four digits of year).
#[must_use]
pub fn year_of(epoch_s: u64) -> u32 {
    // Years past 9999 are all 9999; below that, days fit in 32 bits and `x / 86 400` is
    // `(x >> 7) / 675`, which keeps 64-bit division (a library call on 32-bit targets) out.
    let Ok(scaled) = u32::try_from(epoch_s >> 7) else { return 9999 };
    let days = scaled / 675;
    if u64::from(days) >= days_before_year(10_000) {
        return 9999;
    }
    // 400 Gregorian years are 146 097 days; the estimate is off by at most one year.
    let mut year = 1970 + days.saturating_mul(400) / 146_097;
    for _ in 0..2 {
        if days_before_year(year) > u64::from(days) {
            year -= 1;
        } else if days_before_year(year + 1) <= u64::from(days) {
            year += 1;
        }
    }
    year
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

const SHORT_DAYS: [&[u8]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
const LONG_DAYS: [&[u8]; 7] =
    [b"Monday", b"Tuesday", b"Wednesday", b"Thursday", b"Friday", b"Saturday", b"Sunday"];
const MONTHS: [&[u8]; 12] =
    [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];

fn is_short_day(s: &[u8]) -> bool {
    SHORT_DAYS.contains(&s)
}

fn is_long_day(s: &[u8]) -> bool {
    LONG_DAYS.contains(&s)
}

fn month(s: &[u8]) -> Option<u32> {
    let i = MONTHS.iter().position(|&m| m == s)?;
    u32::try_from(i + 1).ok()
}

/// Up to four ASCII digits (every caller passes a fixed width of 1, 2 or 4), as a number.
fn digits(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0')))
}

/// `HH:MM:SS` as seconds into the day.
fn time(s: &[u8]) -> Option<u64> {
    let [h1, h2, b':', m1, m2, b':', s1, s2] = *s else {
        return None;
    };
    let (h, m, sec) = (digits(&[h1, h2])?, digits(&[m1, m2])?, digits(&[s1, s2])?);
    (h < 24 && m < 60 && sec <= 60).then(|| u64::from(h * 3600 + m * 60 + sec))
}

/// `, ` already consumed: `06 Nov 1994 08:49:37 GMT`.
fn imf_fixdate(s: &[u8]) -> Result<u64, DateError> {
    let [b' ', d1, d2, b' ', m1, m2, m3, b' ', y1, y2, y3, y4, b' ', ref t @ .., b' ', b'G', b'M', b'T'] = *s
    else {
        return Err(DateError::Malformed);
    };
    date(digits(&[y1, y2, y3, y4]), month(&[m1, m2, m3]), digits(&[d1, d2]), time(t))
}

/// `, ` already consumed: `06-Nov-94 08:49:37 GMT`.
fn rfc850(s: &[u8], pivot_year: u32) -> Result<u64, DateError> {
    let [b' ', d1, d2, b'-', m1, m2, m3, b'-', y1, y2, b' ', ref t @ .., b' ', b'G', b'M', b'T'] = *s else {
        return Err(DateError::Malformed);
    };
    let yy = digits(&[y1, y2]).ok_or(DateError::Malformed)?;
    // In 64 bits, so no pivot can overflow: the candidates are the years ending in `yy` in the
    // pivot's century and the ones on either side; the one within 50 years before or after
    // the pivot wins, the past one on a tie.
    let pivot = u64::from(pivot_year);
    let mut year = pivot - pivot % 100 + u64::from(yy);
    if year > pivot + 50 {
        // Before year 0 (a pivot of 0 or 1): out of range, but the other fields are checked
        // first, so a broken date is `Malformed` whatever the pivot.
        year = year.saturating_sub(100);
    } else if year + 50 < pivot {
        year += 100;
    }
    let year = u32::try_from(year).ok();
    date(year.or(Some(u32::MAX)), month(&[m1, m2, m3]), digits(&[d1, d2]), time(t))
}

/// `Sun Nov  6 08:49:37 1994`.
fn asctime(s: &[u8]) -> Result<u64, DateError> {
    let [n1, n2, n3, b' ', m1, m2, m3, b' ', d1, d2, b' ', ref t @ .., b' ', y1, y2, y3, y4] = *s else {
        return Err(DateError::Malformed);
    };
    if !is_short_day(&[n1, n2, n3]) {
        return Err(DateError::Malformed);
    }
    let day = if d1 == b' ' { digits(&[d2]) } else { digits(&[d1, d2]) };
    date(digits(&[y1, y2, y3, y4]), month(&[m1, m2, m3]), day, time(t))
}

/// The instant of a date whose fields were read (`None`: that field was malformed). A
/// malformed field is reported before a year out of range.
fn date(
    year: Option<u32>,
    month: Option<u32>,
    day: Option<u32>,
    seconds: Option<u64>,
) -> Result<u64, DateError> {
    let (Some(year), Some(month), Some(day), Some(seconds)) = (year, month, day, seconds) else {
        return Err(DateError::Malformed);
    };
    epoch(year, month, day, seconds)
}

const fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// Days from 1970-01-01 to January 1st of `year` (for `1970 <= year <= 10_000`, and clamped
/// to that range; callers check [`YEARS`] first. 32-bit arithmetic, so no 64-bit division on
/// 32-bit targets).
fn days_before_year(year: u32) -> u64 {
    let year = year.clamp(1970, 10_000);
    let leaps = |y: u32| y / 4 - y / 100 + y / 400;
    u64::from((year - 1970) * 365 + leaps(year - 1) - leaps(1969))
}

fn epoch(year: u32, month: u32, day: u32, seconds: u64) -> Result<u64, DateError> {
    const CUMULATIVE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    const LENGTH: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let index = month.checked_sub(1).and_then(|m| usize::try_from(m).ok()).ok_or(DateError::Malformed)?;
    let (Some(&length), Some(&before)) = (LENGTH.get(index), CUMULATIVE.get(index)) else {
        return Err(DateError::Malformed);
    };
    let leap = is_leap(year);
    if day == 0 || day > length + u32::from(month == 2 && leap) {
        return Err(DateError::Malformed);
    }
    if !YEARS.contains(&year) {
        return Err(DateError::YearOutOfRange);
    }
    let before_month = before + u32::from(month > 2 && leap);
    let days = days_before_year(year) + u64::from(before_month + day - 1);
    Ok(days * 86_400 + seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_6_1994: u64 = 784_111_777;

    #[test]
    fn all_three_forms_of_the_rfc_example_agree() {
        assert_eq!(parse(b"Sun, 06 Nov 1994 08:49:37 GMT", 1970), Ok(NOV_6_1994));
        assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT", 2000), Ok(NOV_6_1994));
        assert_eq!(parse(b"Sun Nov  6 08:49:37 1994", 1970), Ok(NOV_6_1994));
    }

    #[test]
    fn rfc850_years_more_than_50_years_ahead_are_in_the_past() {
        assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT", 2026), Ok(NOV_6_1994));
        let y2026 = parse(b"Friday, 27-Nov-26 00:00:00 GMT", 2026).unwrap();
        assert_eq!(year_of(y2026), 2026);
    }

    #[test]
    fn a_malformed_rfc850_date_is_malformed_whatever_the_pivot() {
        for pivot in [0, 1, 49, 50, 1970, 2026, 9999, u32::MAX] {
            for broken in [
                &b"Sunday, 06-Nox-94 08:49:37 GMT"[..],
                b"Sunday, 06-Nov-94 24:49:37 GMT",
                b"Sunday, 31-Apr-94 08:49:37 GMT",
                b"Sunday, 00-Nov-94 08:49:37 GMT",
                b"Sunday, 06-Nov-9x 08:49:37 GMT",
            ] {
                assert_eq!(parse(broken, pivot), Err(DateError::Malformed), "pivot {pivot}: {broken:?}");
            }
        }
        // A well-formed date that resolves before year 0 is out of range, not malformed.
        assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT", 0), Err(DateError::YearOutOfRange));
        assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT", 1), Err(DateError::YearOutOfRange));
    }

    #[test]
    fn leap_days_and_ends_of_months() {
        assert!(parse(b"Thu, 29 Feb 2024 00:00:00 GMT", 1970).is_ok());
        assert_eq!(parse(b"Wed, 29 Feb 2023 00:00:00 GMT", 1970), Err(DateError::Malformed));
        assert_eq!(parse(b"Tue, 31 Apr 2024 00:00:00 GMT", 1970), Err(DateError::Malformed));
        assert_eq!(parse(b"Fri, 01 Jan 2100 00:00:00 GMT", 1970), Ok(4_102_444_800));
    }

    #[test]
    fn year_of_matches_known_instants() {
        assert_eq!(year_of(0), 1970);
        assert_eq!(year_of(NOV_6_1994), 1994);
        assert_eq!(year_of(4_102_444_800), 2100);
        assert_eq!(year_of(4_102_444_799), 2099);
        assert!(year_of(u64::MAX) > 2100);
    }

    #[test]
    fn years_outside_the_epoch_and_four_digits_are_out_of_range() {
        assert_eq!(parse(b"Sun, 06 Nov 1969 08:49:37 GMT", 1970), Err(DateError::YearOutOfRange));
        assert_eq!(parse(b"Thu, 01 Jan 1970 00:00:00 GMT", 1970), Ok(0));
        assert_eq!(parse(b"Fri, 31 Dec 9999 23:59:59 GMT", 1970), Ok(253_402_300_799));
        // RFC 850 years resolved around extreme pivots: never a wrap, never a clamp.
        assert_eq!(parse(b"Friday, 31-Dec-99 23:59:59 GMT", 9999), Ok(253_402_300_799));
        assert_eq!(parse(b"Saturday, 01-Jan-00 00:00:00 GMT", 9999), Err(DateError::YearOutOfRange));
        assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT", u32::MAX), Err(DateError::YearOutOfRange));
        assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT", 0), Err(DateError::YearOutOfRange));
        assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT", 1944), Ok(NOV_6_1994));
        // A malformed field is reported as such whatever the year.
        assert_eq!(parse(b"Sunday, 06-Nox-94 08:49:37 GMT", u32::MAX), Err(DateError::Malformed));
    }

    #[test]
    fn rfc850_dates_read_against_the_crate_pivot_cover_1977_to_2076() {
        let year = |v: &[u8]| parse(v, PIVOT_YEAR).map(year_of);
        assert_eq!(year(b"Saturday, 28-Nov-26 02:00:00 GMT"), Ok(2026));
        assert_eq!(year(b"Friday, 01-Jan-77 00:00:00 GMT"), Ok(1977));
        assert_eq!(year(b"Thursday, 31-Dec-76 00:00:00 GMT"), Ok(2076));
        assert_eq!(year(b"Saturday, 01-Jan-00 00:00:00 GMT"), Ok(2000));
    }

    #[test]
    fn garbage_is_not_a_date() {
        for bad in [
            &b""[..],
            b"Sun, 06 Nov 1994 08:49:37 UTC",
            b"Sun, 6 Nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1994 24:00:00 GMT",
            b"Sun, 06 Nox 1994 08:49:37 GMT",
            b"Xyz, 06 Nov 1994 08:49:37 GMT",
            b"Sun Nov 6 08:49:37 1994",
            b"120",
        ] {
            assert_eq!(
                parse(bad, 1970),
                Err(DateError::Malformed),
                "{}",
                std::string::String::from_utf8_lossy(bad)
            );
        }
    }
}
