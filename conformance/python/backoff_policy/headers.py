"""Retry-After (delay-seconds, with a fraction, or an HTTP-date against Date) and HTTP-dates in
their three forms (RFC 9110 section 5.6.7)."""

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
PIVOT_YEAR = 2026

SHORT_DAYS = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"]
LONG_DAYS = [b"Monday", b"Tuesday", b"Wednesday", b"Thursday", b"Friday", b"Saturday", b"Sunday"]
MONTHS = [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"]
CUMULATIVE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
LENGTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
ASCII_WHITESPACE = b" \t\n\r\x0c"


class Malformed(Exception):
    """Not an HTTP-date."""


class YearOutOfRange(Exception):
    """A well-formed date whose year is outside 1970..=9999."""


def sat64(x):
    return min(x, U64_MAX)


def digits(s):
    """All ASCII digits, as a number; None otherwise (an empty field is 0, as nothing is wrong)."""
    value = 0
    for b in s:
        if not 0x30 <= b <= 0x39:
            return None
        value = value * 10 + (b - 0x30)
    return value


def whole_number(s):
    """1*DIGIT, saturating at 2^64 - 1."""
    if not s:
        return None
    value = digits(s)
    return None if value is None else sat64(value)


def delay_ms(value):
    """delay-seconds with an optional fraction, in ms, rounded up; None if it is not one."""
    value = value.strip(ASCII_WHITESPACE)
    dot = value.find(b".")
    if dot >= 0:
        whole, fraction = value[:dot], value[dot + 1:]
    else:
        whole, fraction = value, None
    seconds = whole_number(whole)
    if seconds is None:
        return None
    ms = 0
    round_up = 0
    if fraction is not None:
        if not fraction or digits(fraction) is None:
            return None
        for i, b in enumerate(fraction):
            if i < 3:
                ms = ms * 10 + (b - 0x30)
            elif b != 0x30:
                round_up = 1
        for _ in range(len(fraction), 3):
            ms *= 10
    return sat64(sat64(sat64(seconds * 1000) + ms) + round_up)


def is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_before_year(year):
    year = min(max(year, 1970), 10_000)

    def leaps(y):
        return y // 4 - y // 100 + y // 400

    return (year - 1970) * 365 + leaps(year - 1) - leaps(1969)


def epoch(year, month, day, seconds):
    if not 1 <= month <= 12:
        raise Malformed()
    leap = is_leap(year)
    if day == 0 or day > LENGTH[month - 1] + (1 if month == 2 and leap else 0):
        raise Malformed()
    if not 1970 <= year <= 9999:
        raise YearOutOfRange()
    before_month = CUMULATIVE[month - 1] + (1 if month > 2 and leap else 0)
    days = days_before_year(year) + before_month + day - 1
    return days * 86_400 + seconds


def month_of(s):
    return MONTHS.index(s) + 1 if s in MONTHS else None


def time_of(t):
    if len(t) != 8 or t[2:3] != b":" or t[5:6] != b":":
        return None
    h, m, s = digits(t[0:2]), digits(t[3:5]), digits(t[6:8])
    if h is None or m is None or s is None:
        return None
    if h < 24 and m < 60 and s <= 60:
        return h * 3600 + m * 60 + s
    return None


def date(year, month, day, seconds):
    if year is None or month is None or day is None or seconds is None:
        raise Malformed()
    return epoch(year, month, day, seconds)


def imf_fixdate(s):
    # " 06 Nov 1994 08:49:37 GMT"
    if len(s) < 17 or s[0:1] != b" " or s[3:4] != b" " or s[7:8] != b" " or s[12:13] != b" " or s[-4:] != b" GMT":
        raise Malformed()
    return date(digits(s[8:12]), month_of(s[4:7]), digits(s[1:3]), time_of(s[13:-4]))


def rfc850(s, pivot_year):
    # " 06-Nov-94 08:49:37 GMT"
    if len(s) < 15 or s[0:1] != b" " or s[3:4] != b"-" or s[7:8] != b"-" or s[10:11] != b" " or s[-4:] != b" GMT":
        raise Malformed()
    yy = digits(s[8:10])
    if yy is None:
        raise Malformed()
    year = pivot_year - pivot_year % 100 + yy
    if year > pivot_year + 50:
        year = max(year - 100, 0)
    elif year + 50 < pivot_year:
        year += 100
    year = min(year, U32_MAX)
    return date(year, month_of(s[4:7]), digits(s[1:3]), time_of(s[11:-4]))


def asctime(s):
    # "Sun Nov  6 08:49:37 1994"
    if len(s) < 16 or s[3:4] != b" " or s[7:8] != b" " or s[10:11] != b" " or s[-5:-4] != b" ":
        raise Malformed()
    if s[0:3] not in SHORT_DAYS:
        raise Malformed()
    day = digits(s[9:10]) if s[8:9] == b" " else digits(s[8:10])
    return date(digits(s[-4:]), month_of(s[4:7]), day, time_of(s[11:-5]))


def parse_http_date(value, pivot_year=PIVOT_YEAR):
    """Unix seconds of an HTTP-date; raises Malformed or YearOutOfRange."""
    value = value.strip(b" \t")
    comma = value.find(b",")
    if comma >= 0:
        name, rest = value[:comma], value[comma + 1:]
        if name in SHORT_DAYS:
            return imf_fixdate(rest)
        if name in LONG_DAYS:
            return rfc850(rest, pivot_year)
        raise Malformed()
    return asctime(value)


def try_date(value, pivot_year):
    try:
        return parse_http_date(value, pivot_year)
    except (Malformed, YearOutOfRange):
        return None


def year_of(epoch_s):
    """The year of an instant, at most 9999."""
    scaled = epoch_s >> 7
    if scaled > U32_MAX:
        return 9999
    days = scaled // 675
    if days >= days_before_year(10_000):
        return 9999
    year = 1970 + days * 400 // 146_097
    for _ in range(2):
        if days_before_year(year) > days:
            year -= 1
        elif days_before_year(year + 1) <= days:
            year += 1
    return year


def retry_after_ms(headers):
    """The wait Retry-After asks for, in ms, from (name, value) byte pairs; None if absent or
    garbage. The longest valid wait wins; a date is measured against the same response's Date
    (the last Date header, in any form)."""
    date_s = None
    for name, value in headers:
        if name.lower() == b"date":
            date_s = try_date(value, PIVOT_YEAR)
    pivot = year_of(date_s) if date_s is not None else PIVOT_YEAR
    millis = None
    until = None
    for name, value in headers:
        if name.lower() != b"retry-after":
            continue
        ms = delay_ms(value)
        if ms is not None:
            millis = ms if millis is None else max(millis, ms)
            continue
        at = try_date(value, pivot)
        if at is not None:
            until = at if until is None else max(until, at)
    from_date = None
    if until is not None and date_s is not None and until >= date_s:
        from_date = sat64((until - date_s) * 1000)
    if millis is not None and from_date is not None:
        return max(millis, from_date)
    return millis if millis is not None else from_date
