//! HTTP-date (RFC 9110 §5.6.7) in its three forms, as seconds since 1970-01-01 UTC.
//!
//! A recipient must accept all three:
//!
//! - IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`
//! - RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT` (two-digit year)
//! - asctime: `Sun Nov  6 08:49:37 1994`
//!
//! Parsing is strict about the grammar (fixed widths, `GMT`, valid day of month and time;
//! a leap second `:60` is accepted) and never reads a wall clock.

/// Seconds since the Unix epoch of an HTTP-date, or `None` if it is not one.
///
/// `pivot_year` resolves RFC 850's two-digit years: the year is the one ending in those digits
/// that is at most 50 years after `pivot_year` (RFC 9110's rule, with the response's own `Date`
/// in place of "now"; pass 1970 when there is none).
#[must_use]
pub fn parse(value: &[u8], pivot_year: u32) -> Option<u64> {
    let value = trim(value);
    if let Some(comma) = value.iter().position(|&b| b == b',') {
        let (name, rest) = value.split_at(comma);
        let rest = rest.get(1..)?;
        if is_short_day(name) {
            imf_fixdate(rest)
        } else if is_long_day(name) {
            rfc850(rest, pivot_year)
        } else {
            None
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

fn digits(s: &[u8]) -> Option<u32> {
    if s.is_empty() || s.len() > 4 {
        return None;
    }
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
fn imf_fixdate(s: &[u8]) -> Option<u64> {
    let [b' ', d1, d2, b' ', m1, m2, m3, b' ', y1, y2, y3, y4, b' ', ref t @ .., b' ', b'G', b'M', b'T'] = *s
    else {
        return None;
    };
    epoch(digits(&[y1, y2, y3, y4])?, month(&[m1, m2, m3])?, digits(&[d1, d2])?, time(t)?)
}

/// `, ` already consumed: `06-Nov-94 08:49:37 GMT`.
fn rfc850(s: &[u8], pivot_year: u32) -> Option<u64> {
    let [b' ', d1, d2, b'-', m1, m2, m3, b'-', y1, y2, b' ', ref t @ .., b' ', b'G', b'M', b'T'] = *s else {
        return None;
    };
    let yy = digits(&[y1, y2])?;
    let mut year = pivot_year - pivot_year % 100 + yy;
    if year > pivot_year.saturating_add(50) {
        year = year.checked_sub(100)?;
    } else if year.saturating_add(50) < pivot_year {
        year += 100;
    }
    epoch(year, month(&[m1, m2, m3])?, digits(&[d1, d2])?, time(t)?)
}

/// `Sun Nov  6 08:49:37 1994`.
fn asctime(s: &[u8]) -> Option<u64> {
    let [n1, n2, n3, b' ', m1, m2, m3, b' ', d1, d2, b' ', ref t @ .., b' ', y1, y2, y3, y4] = *s else {
        return None;
    };
    if !is_short_day(&[n1, n2, n3]) {
        return None;
    }
    let day = if d1 == b' ' { digits(&[d2])? } else { digits(&[d1, d2])? };
    epoch(digits(&[y1, y2, y3, y4])?, month(&[m1, m2, m3])?, day, time(t)?)
}

const fn is_leap(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

/// Days from 1970-01-01 to January 1st of `year` (for `1970 <= year <= 10_000`; 32-bit
/// arithmetic, so no 64-bit division on 32-bit targets).
fn days_before_year(year: u32) -> u64 {
    let year = year.clamp(1970, 10_000);
    let leaps = |y: u32| y / 4 - y / 100 + y / 400;
    u64::from((year - 1970) * 365 + leaps(year - 1) - leaps(1969))
}

fn epoch(year: u32, month: u32, day: u32, seconds: u64) -> Option<u64> {
    const CUMULATIVE: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    const LENGTH: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if year < 1970 {
        return None;
    }
    let index = usize::try_from(month.checked_sub(1)?).ok()?;
    let leap_day = u32::from(month == 2 && is_leap(year));
    let length = LENGTH.get(index)? + leap_day;
    if day == 0 || day > length {
        return None;
    }
    let before_month = CUMULATIVE.get(index)? + u32::from(month > 2 && is_leap(year));
    let days = days_before_year(year) + u64::from(before_month + day - 1);
    Some(days * 86_400 + seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_6_1994: u64 = 784_111_777;

    #[test]
    fn all_three_forms_of_the_rfc_example_agree() {
        assert_eq!(parse(b"Sun, 06 Nov 1994 08:49:37 GMT", 1970), Some(NOV_6_1994));
        assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT", 2000), Some(NOV_6_1994));
        assert_eq!(parse(b"Sun Nov  6 08:49:37 1994", 1970), Some(NOV_6_1994));
    }

    #[test]
    fn rfc850_years_more_than_50_years_ahead_are_in_the_past() {
        assert_eq!(parse(b"Sunday, 06-Nov-94 08:49:37 GMT", 2026), Some(NOV_6_1994));
        let y2026 = parse(b"Friday, 27-Nov-26 00:00:00 GMT", 2026).unwrap();
        assert_eq!(year_of(y2026), 2026);
    }

    #[test]
    fn leap_days_and_ends_of_months() {
        assert!(parse(b"Thu, 29 Feb 2024 00:00:00 GMT", 1970).is_some());
        assert_eq!(parse(b"Wed, 29 Feb 2023 00:00:00 GMT", 1970), None);
        assert_eq!(parse(b"Tue, 31 Apr 2024 00:00:00 GMT", 1970), None);
        assert_eq!(parse(b"Fri, 01 Jan 2100 00:00:00 GMT", 1970), Some(4_102_444_800));
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
    fn garbage_is_not_a_date() {
        for bad in [
            &b""[..],
            b"Sun, 06 Nov 1994 08:49:37 UTC",
            b"Sun, 6 Nov 1994 08:49:37 GMT",
            b"Sun, 06 Nov 1994 24:00:00 GMT",
            b"Sun, 06 Nox 1994 08:49:37 GMT",
            b"Xyz, 06 Nov 1994 08:49:37 GMT",
            b"Sun Nov 6 08:49:37 1994",
            b"Sun, 06 Nov 1969 08:49:37 GMT",
            b"120",
        ] {
            assert_eq!(parse(bad, 1970), None, "{}", std::string::String::from_utf8_lossy(bad));
        }
    }
}
